//! Facts derived from an event: the one place that turns numbers and records into what
//! rules and outputs name.
//!
//! Rules (`crate::rule_event`, Falco's fields) and the JSON output (`crate::render`)
//! both read these functions and structs and nothing else, so a fact cannot read one
//! way in a condition and another in an alert. Neither of those two modules imports the
//! other. Facts about the host (users, init namespaces) come from [`crate::host`],
//! which a replay fills from the recording.

mod container;
mod dns;
mod evt;
mod fd;
mod names;
mod process;
mod syscall;
mod time;
mod user;

pub use container::ContainerFacts;
pub use dns::{domain_suffixes, label_stats};
pub use evt::{evt_category, evt_type, res};
pub use fd::{sock_name, End, FdFacts};
pub use names::{
    cap_names, dns_flag_names, dns_rcode_name, dns_type_name, exe_flag_args, exec_flag_names, family_name,
    file_flag_names, mode_string, net_direction, net_flag_names, sock_type_name,
};
pub use process::{args, argv0, cmdline, cwd_with_slash};
pub use syscall::named_args;
pub use time::rfc3339;
pub use user::user_call_args;

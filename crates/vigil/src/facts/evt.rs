//! Facts about the event as a whole: its type, result and category.

use vigil_event::abi::{dns_flag, exec_flag};
use vigil_event::model::NetOp;
use vigil_event::names::syscall_name;
use vigil_event::{Body, Event};

/// Falco's `evt.type` for an event.
pub fn evt_type(ev: &Event) -> &'static str {
    match &ev.body {
        Body::Snapshot(_) => "snapshot",
        Body::Tick => "tick",
        Body::Cgroup(c) if c.removed => "cgroup_rmdir",
        Body::Cgroup(_) => "cgroup_mkdir",
        Body::Exec(x) if x.flags & exec_flag::BY_FD != 0 => "execveat",
        Body::Exec(_) => "execve",
        Body::Fork(_) => "clone",
        Body::Exit(_) => "procexit",
        Body::Cwd(c) => syscall_name(c.syscall),
        Body::File(f) => syscall_name(f.syscall),
        Body::Net(n) => match n.op {
            NetOp::FlowStart => "flow_start",
            NetOp::FlowEnd => "flow_end",
            NetOp::FlowUpdate => "flow_update",
            _ => syscall_name(n.syscall),
        },
        Body::Dns(d) if d.has(dns_flag::RESPONSE) => "dns_response",
        Body::Dns(_) => "dns_query",
        Body::Syscall(x) => syscall_name(x.syscall),
        Body::Detection(d) => d.name(),
        Body::UserCall(u) => u.name(),
    }
}

/// The syscall's return value, for events that are syscalls (`evt.rawres`).
pub fn res(ev: &Event) -> Option<i64> {
    match &ev.body {
        Body::File(f) => Some(f.ret),
        Body::Net(n) if n.syscall != 0 => Some(n.ret),
        Body::Syscall(x) => Some(x.ret),
        Body::UserCall(u) if u.is_pam() => Some(i64::from(u.ret)),
        Body::Exec(_) | Body::Cwd(_) => Some(0),
        _ => None,
    }
}

/// Falco's `evt.category`.
pub fn evt_category(ev: &Event) -> &'static str {
    match &ev.body {
        Body::File(_) => "file",
        Body::Net(_) | Body::Dns(_) => "net",
        _ => "process",
    }
}

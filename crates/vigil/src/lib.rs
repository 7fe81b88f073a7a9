//! The Vigil agent: the userspace end of the pipeline
//! hooks -> ring buffers -> decoder -> process tree -> rules -> outputs.
//!
//! - [`agent`]: `vigil run`, the live loop around the sensor;
//! - [`cli`]: `vigil rules check|list`, `vigil fields`, the configuration file;
//! - [`pipeline`]: decoder, process tree, rules and outputs, shared by live runs and replay;
//! - [`render`]: the JSON schema of events and alerts;
//! - [`rule_event`]: an event as the rules see it (Falco's fields);
//! - [`host`]: user names, hostname, container ids;
//! - [`rules`]: built-in and user rule files, (re)loading;
//! - [`kernel_filter`]: the rules' interest as the filter the kernel applies;
//! - [`syscall_args`]: sensitive syscalls' arguments by Falco's names;
//! - [`replay`]: `vigil replay`, the pipeline over a recording;
//! - [`doctor`]: `vigil doctor`, what this kernel supports.

pub mod agent;
pub mod cli;
pub mod doctor;
pub mod host;
pub mod kernel_filter;
pub mod pipeline;
pub mod render;
pub mod replay;
pub mod rule_event;
pub mod rules;
pub mod syscall_args;

//! Vigil's kernel side, seen from userspace.
//!
//! - [`hooks`]: the hook table: each BPF program, where it attaches, what it produces;
//! - [`sensor`]: loads the object, attaches every hook the kernel allows, reports the rest;
//! - [`stream`]: drains the ring buffers into time-ordered batches of raw records;
//! - [`policy`]: enforcement policies and XDP, written into the kernel's maps;
//! - [`stats`]: the per-hook, per-CPU counters kept in the kernel;
//! - [`probe`]: what this kernel supports, for `vigil doctor`;
//! - [`mounts`]: tracefs, bpffs, securityfs, mounted when a hook needs them;
//! - [`bootstrap`]: processes that were running before we started, read from /proc.

#[cfg(test)]
mod abi_check;
pub mod bootstrap;
mod error;
pub mod filter;
pub mod hooks;
mod maps;
pub mod mounts;
pub mod policy;
pub mod probe;
pub mod sensor;
pub mod stats;
pub mod stream;
pub mod uprobes;

#[allow(
    clippy::all,
    dead_code,
    unused_imports,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case
)]
mod skel {
    include!(concat!(env!("OUT_DIR"), "/vigil.skel.rs"));
}

pub use error::SensorError;
pub use filter::{KernelFilter, OpFilter, PathPatterns as FilterPaths, Want};
pub use sensor::{AttachReport, HookReport, HookStatus, Sensor, SensorConfig, DNS_TEST_SERVER};
pub use stats::{HookCounts, KernelStats};
pub use stream::{Batch, EventStream};

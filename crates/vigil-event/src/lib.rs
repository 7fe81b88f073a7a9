//! Vigil's event model.
//!
//! The kernel side writes fixed-layout records ([`abi`], mirroring `bpf/vigil_abi.h`);
//! [`decode`] validates them and yields [`Event`]s ([`model`]); [`names`] turns their
//! numbers into words; [`recording`] stores raw records for offline replay.

pub mod abi;
pub mod decode;
pub mod model;
pub mod names;
pub mod recording;
mod wire;

pub use decode::{decode, encode, tick_record, DecodeError, DecodeStats, Decoder};
pub use model::{Body, Cwd, Event, Exec, Exit, File, FileOp, Fork, Text};

//! The Vigil agent: the userspace end of the pipeline
//! hooks -> ring buffers -> decoder -> process tree -> rules -> outputs.
//!
//! - [`agent`]: `vigil run`, the live loop around the sensor;
//! - [`pipeline`]: decoder, process tree, rules and outputs, shared by live runs and replay;
//! - [`render`]: the JSON schema of events and alerts;
//! - [`replay`]: `vigil replay`, the pipeline over a recording;
//! - [`doctor`]: `vigil doctor`, what this kernel supports.

pub mod agent;
pub mod doctor;
pub mod pipeline;
pub mod render;
pub mod replay;

//! Where alerts go: any number of outputs at once, each behind its own bounded queue and
//! thread, so a slow or dead destination never blocks detection.
//!
//! - [`alert`]: an alert in every shape an output needs ([`AlertRecord`]: Vigil's JSON,
//!   Falco's JSON, one human line);
//! - [`worker`]: the bounded queue, thread, retries and counters every output shares;
//! - [`file`]: a JSON-lines file with size-based rotation, reopened on SIGHUP;
//! - [`syslog`]: RFC 5424 over a unix socket, UDP or TCP;
//! - [`webhook`]: JSON batches over HTTP, retried, through an on-disk spool;
//! - [`otlp`]: OpenTelemetry logs over OTLP/HTTP (JSON encoding);
//! - [`metrics`]: a Prometheus `/metrics` endpoint.
//!
//! Every alert an output cannot take is counted ([`OutputStats::dropped`]); nothing is
//! dropped silently.

pub mod alert;
pub mod file;
pub mod metrics;
pub mod otlp;
pub mod syslog;
pub mod webhook;
pub mod worker;

pub use alert::{falco_priority, AlertRecord, FalcoAlert, Format};
pub use worker::{OutputStats, Outputs, Sink, Spec};

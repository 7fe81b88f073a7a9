//! Container identity for Vigil.
//!
//! - [`cgroup`]: which container a cgroup path names (docker, containerd/CRI, CRI-O,
//!   podman; cgroupfs and systemd drivers), and the Kubernetes pod UID in it;
//! - [`runtime`]: the runtimes' APIs over their unix sockets (docker's Engine API, which
//!   podman's service speaks too), through [`http`];
//! - [`meta`]: what a runtime says about a container (name, image, labels, privileged,
//!   mounts, pod);
//! - [`registry`]: [`Containers`], cgroup ids to containers to metadata, looked up off the
//!   event path and cached.

pub mod cgroup;
pub mod http;
pub mod meta;
pub mod registry;
pub mod runtime;

pub use cgroup::{container_of_cgroup, CgroupContainer, Runtime};
pub use meta::{ContainerMeta, Mount, PodMeta};
pub use registry::{cgroup_v2_root, ContainerStats, Containers};
pub use runtime::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: no complete answer in time")]
    Timeout(String),
    #[error("{0}: answer over {max} bytes", max = http::MAX_RESPONSE)]
    TooLarge(String),
    #[error("{0}: {1}")]
    Protocol(String, String),
}

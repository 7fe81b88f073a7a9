//! The container an event happened in: its id from the cgroup (always, even for a
//! container gone before anyone looked), and what its runtime says about it (name,
//! image, labels, pod) once the lookup answered.

use std::sync::Arc;

use vigil_container::{CgroupContainer, ContainerMeta};

use crate::host::HostFacts;

#[derive(Debug, Clone, Default)]
pub struct ContainerFacts {
    /// None: the host.
    pub cgroup: Option<CgroupContainer>,
    pub meta: Option<Arc<ContainerMeta>>,
}

impl ContainerFacts {
    pub fn of(cgroup_id: u64, host: &HostFacts) -> Self {
        let cgroup = host.containers.container_of(cgroup_id);
        let meta = cgroup.as_ref().and_then(|c| host.containers.meta(c));
        ContainerFacts { cgroup, meta }
    }

    pub fn is_host(&self) -> bool {
        self.cgroup.is_none()
    }

    /// Falco's `container.id`: 12 hex digits, or `host`.
    pub fn id(&self) -> &str {
        self.cgroup.as_ref().map_or("host", |c| &c.id[..12.min(c.id.len())])
    }

    pub fn full_id(&self) -> &str {
        self.cgroup.as_ref().map_or("host", |c| c.id.as_str())
    }

    /// `container.type`: the runtime, from its answer or else from the cgroup's layout.
    pub fn runtime(&self) -> Option<&'static str> {
        match (&self.meta, &self.cgroup) {
            (Some(m), _) => Some(m.runtime.name()),
            (None, Some(c)) => Some(c.runtime.name()),
            _ => None,
        }
    }

    pub fn pod_uid(&self) -> Option<&str> {
        match (&self.meta, &self.cgroup) {
            (Some(m), _) if m.pod.as_ref().is_some_and(|p| !p.uid.is_empty()) => m.pod.as_ref().map(|p| p.uid.as_str()),
            (_, Some(c)) => c.pod_uid.as_deref(),
            _ => None,
        }
    }

    pub fn pod_name(&self) -> Option<&str> {
        self.meta.as_ref()?.pod.as_ref().map(|p| p.name.as_str())
    }

    pub fn pod_namespace(&self) -> Option<&str> {
        self.meta.as_ref()?.pod.as_ref().map(|p| p.namespace.as_str())
    }

    /// `k:v, k:v`, as Falco prints `container.labels` and `k8s.pod.labels`.
    pub fn join_labels<'m>(labels: impl Iterator<Item = (&'m String, &'m String)>) -> String {
        labels.map(|(k, v)| format!("{k}:{v}")).collect::<Vec<_>>().join(", ")
    }
}

//! What a runtime says about a container, in the shape Falco's `container.*` and `k8s.*`
//! fields read it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::cgroup::Runtime;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Mount {
    pub source: String,
    pub destination: String,
    pub mode: String,
    pub rw: bool,
    pub propagation: String,
}

/// The Kubernetes pod a container belongs to, from the labels the kubelet sets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PodMeta {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    /// The pod's own labels (`app=web`), without the kubelet's `io.kubernetes.*` ones.
    pub labels: BTreeMap<String, String>,
    pub sandbox_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerMeta {
    /// 64 hex digits.
    pub id: String,
    pub runtime: Runtime,
    pub name: String,
    /// As the container was created from: `docker.io/library/nginx:1.25`.
    pub image: String,
    pub image_repository: String,
    pub image_tag: String,
    pub image_digest: String,
    pub image_id: String,
    pub labels: BTreeMap<String, String>,
    pub privileged: bool,
    pub host_network: bool,
    pub host_pid: bool,
    pub host_ipc: bool,
    pub user: String,
    pub ip: String,
    /// Nanoseconds since the epoch, 0 if unknown.
    pub start_ns: u64,
    pub mounts: Vec<Mount>,
    pub pod: Option<PodMeta>,
}

/// `repository`, `tag` and `digest` of an image reference
/// (`registry:5000/ns/app:1.2@sha256:...`); the tag is empty when none is named.
pub fn split_image(image: &str) -> (String, String, String) {
    let (name, digest) = match image.split_once('@') {
        Some((n, d)) => (n, d.to_string()),
        None => (image, String::new()),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (
            name[..last_slash + i].to_string(),
            name[last_slash + i + 1..].to_string(),
            digest,
        ),
        None => (name.to_string(), String::new(), digest),
    }
}

/// Labels the kubelet puts on every container of a pod.
pub const POD_NAME: &str = "io.kubernetes.pod.name";
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
pub const POD_UID: &str = "io.kubernetes.pod.uid";
pub const SANDBOX_ID: &str = "io.kubernetes.sandbox.id";

/// The pod of a container with the kubelet's labels, or None. `sandbox_labels`: the labels
/// of the pod's sandbox container where known (they carry the pod's labels); otherwise the
/// container's own labels stand in.
pub fn pod_of(labels: &BTreeMap<String, String>, sandbox_labels: Option<&BTreeMap<String, String>>) -> Option<PodMeta> {
    let name = labels.get(POD_NAME)?;
    let own = |l: &BTreeMap<String, String>| {
        l.iter()
            .filter(|(k, _)| !k.starts_with("io.kubernetes.") && !k.starts_with("annotation."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<BTreeMap<_, _>>()
    };
    Some(PodMeta {
        name: name.clone(),
        namespace: labels.get(POD_NAMESPACE).cloned().unwrap_or_default(),
        uid: labels.get(POD_UID).cloned().unwrap_or_default(),
        labels: own(sandbox_labels.unwrap_or(labels)),
        sandbox_id: labels.get(SANDBOX_ID).cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_split_into_repository_tag_and_digest() {
        let s = |i: &str| {
            let (r, t, d) = split_image(i);
            (r, t, d)
        };
        assert_eq!(s("nginx:1.25"), ("nginx".into(), "1.25".into(), String::new()));
        assert_eq!(s("nginx"), ("nginx".into(), String::new(), String::new()));
        assert_eq!(
            s("registry:5000/ns/app:1.2@sha256:abc"),
            ("registry:5000/ns/app".into(), "1.2".into(), "sha256:abc".into())
        );
        assert_eq!(
            s("registry:5000/ns/app"),
            ("registry:5000/ns/app".into(), String::new(), String::new())
        );
        assert_eq!(
            s("localhost/vigil-test:1"),
            ("localhost/vigil-test".into(), "1".into(), String::new())
        );
        assert_eq!(s("app@sha256:abc"), ("app".into(), String::new(), "sha256:abc".into()));
    }

    #[test]
    fn pods_from_kubelet_labels_with_the_pods_own_labels() {
        let l: BTreeMap<String, String> = [
            (POD_NAME, "web-0"),
            (POD_NAMESPACE, "shop"),
            (POD_UID, "4bd8c0a2-4d31-4c5c-9f1e-7a0d3f6a1b2c"),
            ("io.kubernetes.container.name", "web"),
            ("app", "web"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let p = pod_of(&l, None).unwrap();
        assert_eq!((p.name.as_str(), p.namespace.as_str()), ("web-0", "shop"));
        assert_eq!(
            p.labels.into_iter().collect::<Vec<_>>(),
            vec![("app".to_string(), "web".to_string())]
        );
        let sandbox: BTreeMap<String, String> = [("tier".to_string(), "front".to_string())].into();
        assert_eq!(pod_of(&l, Some(&sandbox)).unwrap().labels, sandbox);
        assert_eq!(pod_of(&BTreeMap::new(), None), None);
    }
}

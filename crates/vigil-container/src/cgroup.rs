//! Which container a cgroup belongs to, from its path alone.
//!
//! Every runtime names the cgroup of a container after its id, in its own layout:
//!
//! | runtime | cgroupfs driver | systemd driver |
//! |---|---|---|
//! | docker | `/docker/<id>` | `/system.slice/docker-<id>.scope` |
//! | containerd (CRI) | `/kubepods/<qos>/pod<uid>/<id>` | `.../kubepods-<qos>-pod<uid>.slice/cri-containerd-<id>.scope` |
//! | CRI-O | `/kubepods/<qos>/pod<uid>/crio-<id>` | `.../crio-<id>.scope` |
//! | podman | `/libpod_parent/libpod-<id>` | `/machine.slice/libpod-<id>.scope` |
//!
//! where `<id>` is 64 hex digits. A directory below the container's own (podman's
//! `/container`, a process's own sub-cgroup) belongs to the same container. The
//! runtimes' monitors (`libpod-conmon-<id>`, `crio-conmon-<id>`) run outside their
//! containers and are the host's, as are 64 hex digits anywhere else (a systemd unit
//! named after a hash, a hex-named directory somebody made): an id counts only in one of
//! the forms above.
//!
//! A container inside a container (docker in docker, kind) has a path with several ids;
//! the innermost, the container the process actually runs in, is reported.

use serde::Serialize;

/// The runtime that made a container's cgroup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Docker,
    /// containerd through its CRI plugin (Kubernetes).
    Containerd,
    #[serde(rename = "cri-o")]
    CriO,
    Podman,
    /// A Kubernetes pod's container whose runtime the path does not tell (cgroupfs driver).
    Cri,
}

impl Runtime {
    /// Falco's `container.type` value.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Docker => "docker",
            Runtime::Containerd => "containerd",
            Runtime::CriO => "cri-o",
            Runtime::Podman => "podman",
            Runtime::Cri => "cri",
        }
    }
}

/// A container as its cgroup path names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CgroupContainer {
    /// 64 lowercase hex digits.
    pub id: String,
    pub runtime: Runtime,
    /// The Kubernetes pod UID, when the path is under a pod's cgroup.
    pub pod_uid: Option<String>,
}

/// The container a cgroup path (relative to its hierarchy's root) belongs to, or None
/// for the host.
pub fn container_of_cgroup(path: &str) -> Option<CgroupContainer> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let mut found: Option<(usize, String, Runtime)> = None;
    for (i, part) in parts.iter().enumerate() {
        let parent = if i > 0 { parts[i - 1] } else { "" };
        if let Some((id, rt)) = id_in_component(part, parent) {
            found = Some((i, id, rt));
        }
    }
    let (at, id, runtime) = found?;
    let pod_uid = parts[..at].iter().rev().find_map(|p| pod_uid_in(p));
    let runtime = match runtime {
        // a bare id under a pod: the kubelet's cgroupfs driver, runtime unknown here
        Runtime::Docker if pod_uid.is_some() && parent_is_pod(&parts, at) => Runtime::Cri,
        rt => rt,
    };
    Some(CgroupContainer { id, runtime, pod_uid })
}

fn parent_is_pod(parts: &[&str], at: usize) -> bool {
    at > 0 && pod_uid_in(parts[at - 1]).is_some()
}

/// One path component naming a container: `prefix-<id>[.scope]`, or a bare id whose
/// parent is `docker` or a pod's cgroup.
fn id_in_component(part: &str, parent: &str) -> Option<(String, Runtime)> {
    let stem = part.strip_suffix(".scope").unwrap_or(part);
    for (prefix, rt) in [
        ("docker-", Runtime::Docker),
        ("cri-containerd-", Runtime::Containerd),
        ("crio-", Runtime::CriO),
        ("libpod-", Runtime::Podman),
    ] {
        if let Some(rest) = stem.strip_prefix(prefix) {
            // libpod-conmon-<id>, crio-conmon-<id>: the monitor, on the host
            return is_id(rest).then(|| (rest.to_ascii_lowercase(), rt));
        }
    }
    if part == stem && is_id(part) && (parent == "docker" || pod_uid_in(parent).is_some()) {
        return Some((part.to_ascii_lowercase(), Runtime::Docker));
    }
    None
}

fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// `pod<uid>` (cgroupfs) or `kubepods-<qos>-pod<uid with _>.slice` (systemd).
fn pod_uid_in(part: &str) -> Option<String> {
    let stem = part.strip_suffix(".slice").unwrap_or(part);
    let at = stem.rfind("pod")?;
    if at > 0 && !stem[..at].ends_with('-') {
        return None;
    }
    if at > 0 && !stem.starts_with("kubepods") {
        return None;
    }
    let uid = stem[at + 3..].replace('_', "-");
    let ok = uid.len() == 36
        && uid.bytes().enumerate().all(|(i, b)| {
            if [8, 13, 18, 23].contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        });
    ok.then(|| uid.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    const ID2: &str = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210";
    const UID: &str = "4bd8c0a2-4d31-4c5c-9f1e-7a0d3f6a1b2c";

    fn of(p: &str) -> Option<(String, Runtime, Option<String>)> {
        container_of_cgroup(p).map(|c| (c.id, c.runtime, c.pod_uid))
    }

    #[test]
    fn every_runtime_and_driver_layout() {
        let uid_ = UID.replace('-', "_");
        let cases: Vec<(String, Runtime, Option<&str>)> = vec![
            (format!("/docker/{ID}"), Runtime::Docker, None),
            (format!("/system.slice/docker-{ID}.scope"), Runtime::Docker, None),
            (format!("/libpod_parent/libpod-{ID}"), Runtime::Podman, None),
            (format!("/libpod_parent/libpod-{ID}/container"), Runtime::Podman, None),
            (format!("/machine.slice/libpod-{ID}.scope"), Runtime::Podman, None),
            (format!("/machine.slice/libpod-{ID}.scope/container"), Runtime::Podman, None),
            (
                format!("/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod{uid_}.slice/cri-containerd-{ID}.scope"),
                Runtime::Containerd,
                Some(UID),
            ),
            (format!("/kubepods/besteffort/pod{UID}/{ID}"), Runtime::Cri, Some(UID)),
            (format!("/kubepods/pod{UID}/{ID}"), Runtime::Cri, Some(UID)),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod{uid_}.slice/crio-{ID}.scope"),
                Runtime::CriO,
                Some(UID),
            ),
            (format!("/kubepods/burstable/pod{UID}/crio-{ID}"), Runtime::CriO, Some(UID)),
            (format!("/system.slice/docker-{}.scope", ID.to_uppercase()), Runtime::Docker, None),
        ];
        for (path, rt, uid) in cases {
            assert_eq!(of(&path), Some((ID.to_string(), rt, uid.map(String::from))), "{path}");
        }
    }

    #[test]
    fn nested_containers_report_the_innermost() {
        assert_eq!(
            of(&format!("/docker/{ID}/docker/{ID2}")),
            Some((ID2.to_string(), Runtime::Docker, None))
        );
        assert_eq!(
            of(&format!(
                "/system.slice/docker-{ID}.scope/kubepods/besteffort/pod{UID}/{ID2}"
            )),
            Some((ID2.to_string(), Runtime::Cri, Some(UID.to_string())))
        );
    }

    #[test]
    fn host_cgroups_stay_host_even_when_they_look_like_hex() {
        for p in [
            "/".to_string(),
            "/init.scope".to_string(),
            "/user.slice/user-0.slice/session-1.scope".to_string(),
            "/system.slice/docker.service".to_string(),
            "/system.slice/containerd.service".to_string(),
            format!("/system.slice/{ID}.service"),
            format!("/system.slice/run-r{}.scope", &ID[..32]),
            format!("/{ID}"),
            format!("/build/{ID}"),
            format!("/libpod_parent/libpod-conmon-{ID}"),
            format!("/machine.slice/libpod-conmon-{ID}.scope"),
            format!("/kubepods.slice/crio-conmon-{ID}.scope"),
            format!("/docker/{}", &ID[..63]),
            format!("/docker/{ID}0"),
            format!("/system.slice/docker-{}z.scope", &ID[..63]),
            "/kubepods/besteffort".to_string(),
            format!("/kubepods/besteffort/pod{UID}"),
            format!("/notkubepods/pod{UID}/{ID}x"),
        ] {
            assert_eq!(of(&p), None, "{p}");
        }
    }

    #[test]
    fn pod_uids_in_both_drivers_and_only_there() {
        assert_eq!(pod_uid_in(&format!("pod{UID}")).as_deref(), Some(UID));
        assert_eq!(
            pod_uid_in(&format!("kubepods-besteffort-pod{}.slice", UID.replace('-', "_"))).as_deref(),
            Some(UID)
        );
        assert_eq!(pod_uid_in("pod1234"), None);
        assert_eq!(pod_uid_in(&format!("ipod{UID}")), None);
        assert_eq!(pod_uid_in(&format!("my-pod{UID}")), None);
    }
}

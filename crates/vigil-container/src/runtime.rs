//! The runtimes' APIs: docker's Engine API, which podman's service also speaks
//! (`/containers/json`, `/containers/{id}/json`), over their unix sockets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::cgroup::Runtime;
use crate::http;
use crate::meta::{pod_of, split_image, ContainerMeta, Mount};
use crate::Error;

/// One runtime's API endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub runtime: Runtime,
    pub socket: PathBuf,
}

impl Endpoint {
    /// Where each runtime listens by default: docker's daemon, podman's API service
    /// (`podman system service`, socket-activated by `podman.socket` on systemd hosts).
    pub fn defaults() -> Vec<Endpoint> {
        vec![
            Endpoint {
                runtime: Runtime::Docker,
                socket: PathBuf::from("/var/run/docker.sock"),
            },
            Endpoint {
                runtime: Runtime::Podman,
                socket: PathBuf::from("/run/podman/podman.sock"),
            },
        ]
    }

    /// Does this endpoint answer for containers the cgroup path gave to `rt`?
    pub fn serves(&self, rt: Runtime) -> bool {
        self.runtime == rt || rt == Runtime::Cri
    }

    /// Ids of the running containers.
    pub fn list(&self, timeout: Duration) -> Result<Vec<String>, Error> {
        let v = self
            .get_json("/containers/json", timeout)?
            .ok_or_else(|| self.err("listing returned 404"))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c.get("Id")?.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The container with this id, or None if this runtime does not know it.
    pub fn inspect(&self, id: &str, timeout: Duration) -> Result<Option<ContainerMeta>, Error> {
        if !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let Some(v) = self.get_json(&format!("/containers/{id}/json"), timeout)? else {
            return Ok(None);
        };
        let mut meta = parse_inspect(&v, self.runtime).ok_or_else(|| self.err("inspect: no Id"))?;
        // The pod's labels are on its sandbox container (the kubelet's dockershim layout).
        if let Some(pod) = meta.pod.as_mut() {
            if !pod.sandbox_id.is_empty() && pod.sandbox_id != meta.id {
                if let Ok(Some(sb)) = self.get_json(&format!("/containers/{}/json", pod.sandbox_id), timeout) {
                    if let Some(p) = pod_of(&meta.labels, Some(&labels_of(&sb))) {
                        *pod = p;
                    }
                }
            }
        }
        Ok(Some(meta))
    }

    fn err(&self, m: &str) -> Error {
        Error::Protocol(self.socket.display().to_string(), m.to_string())
    }

    /// The JSON at `path`; None on 404.
    fn get_json(&self, path: &str, timeout: Duration) -> Result<Option<Value>, Error> {
        let r = http::get(&self.socket, path, timeout)?;
        match r.status {
            404 => Ok(None),
            200 => serde_json::from_slice(&r.body)
                .map(Some)
                .map_err(|e| self.err(&format!("{path}: {e}"))),
            s => Err(self.err(&format!("{path}: HTTP {s}"))),
        }
    }
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.pointer("/Config/Labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// `GET /containers/{id}/json` of docker or podman.
pub fn parse_inspect(v: &Value, runtime: Runtime) -> Option<ContainerMeta> {
    let s = |p: &str| v.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
    let b = |p: &str| v.pointer(p).and_then(Value::as_bool).unwrap_or(false);
    let id = v.get("Id")?.as_str()?.to_ascii_lowercase();
    let image = s("/Config/Image");
    let (image_repository, image_tag, digest) = split_image(&image);
    let labels = labels_of(v);
    let mounts = v
        .get("Mounts")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|m| Mount {
                    source: m.get("Source").and_then(Value::as_str).unwrap_or("").to_string(),
                    destination: m.get("Destination").and_then(Value::as_str).unwrap_or("").to_string(),
                    mode: m.get("Mode").and_then(Value::as_str).unwrap_or("").to_string(),
                    rw: m.get("RW").and_then(Value::as_bool).unwrap_or(false),
                    propagation: m.get("Propagation").and_then(Value::as_str).unwrap_or("").to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let start_ns = chrono::DateTime::parse_from_rfc3339(&s("/State/StartedAt"))
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .filter(|n| *n > 0)
        .map_or(0, |n| n as u64);
    let pod = pod_of(&labels, None);
    Some(ContainerMeta {
        name: s("/Name").trim_start_matches('/').to_string(),
        image_digest: if digest.is_empty() {
            v.pointer("/RepoDigests/0")
                .and_then(Value::as_str)
                .and_then(|d| d.split_once('@'))
                .map(|(_, d)| d.to_string())
                .unwrap_or_default()
        } else {
            digest
        },
        image_id: s("/Image"),
        image,
        image_repository,
        image_tag,
        privileged: b("/HostConfig/Privileged"),
        host_network: s("/HostConfig/NetworkMode") == "host",
        host_pid: s("/HostConfig/PidMode") == "host",
        host_ipc: s("/HostConfig/IpcMode") == "host",
        user: s("/Config/User"),
        ip: s("/NetworkSettings/IPAddress"),
        start_ns,
        mounts,
        pod,
        labels,
        runtime,
        id,
    })
}

/// Sockets that exist now, for `vigil doctor` and the startup line.
pub fn present(endpoints: &[Endpoint]) -> Vec<&Path> {
    endpoints
        .iter()
        .filter(|e| e.socket.exists())
        .map(|e| e.socket.as_path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_inspect_json_becomes_metadata() {
        let v: Value = serde_json::from_str(
            r#"{"Id":"ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
                "Name":"/web","Image":"sha256:77","RepoDigests":[],
                "State":{"StartedAt":"2026-12-03T10:00:00.5Z"},
                "Config":{"Image":"localhost/vigil-test:1","User":"","Labels":{
                   "io.kubernetes.pod.name":"web-0","io.kubernetes.pod.namespace":"shop",
                   "io.kubernetes.pod.uid":"u1","app":"web"}},
                "HostConfig":{"Privileged":true,"NetworkMode":"host","PidMode":"","IpcMode":"private"},
                "NetworkSettings":{"IPAddress":"10.0.0.2"},
                "Mounts":[{"Source":"/var/run/docker.sock","Destination":"/var/run/docker.sock","Mode":"","RW":true,"Propagation":"rprivate"}]}"#,
        )
        .unwrap();
        let m = parse_inspect(&v, Runtime::Docker).unwrap();
        assert_eq!(m.id, "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
        assert_eq!(
            (m.name.as_str(), m.image_repository.as_str(), m.image_tag.as_str()),
            ("web", "localhost/vigil-test", "1")
        );
        assert!(m.privileged && m.host_network && !m.host_pid && !m.host_ipc);
        assert_eq!(m.start_ns, 1_796_292_000_500_000_000);
        assert_eq!(m.mounts[0].destination, "/var/run/docker.sock");
        let pod = m.pod.unwrap();
        assert_eq!(
            (pod.name.as_str(), pod.namespace.as_str(), pod.uid.as_str()),
            ("web-0", "shop", "u1")
        );
        assert_eq!(pod.labels.get("app").map(String::as_str), Some("web"));
        // no Id: not a container
        assert_eq!(
            parse_inspect(&serde_json::json!({"message": "x"}), Runtime::Docker),
            None
        );
    }
}

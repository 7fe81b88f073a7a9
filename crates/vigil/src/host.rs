//! Facts about the host that rules and alerts name: its hostname, user and group names,
//! and its containers ([`Containers`]: which container a cgroup is, what its runtime
//! says about it). Read lazily and cached; a miss re-reads the source at most every few
//! seconds, so a new user is found without rereading files on every event.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vigil_container::{Containers, Endpoint};

const REFRESH: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: String,
    pub home: String,
    pub shell: String,
}

struct Cache<V> {
    map: HashMap<u64, V>,
    loaded: Option<Instant>,
}

impl<V: Clone> Cache<V> {
    fn new() -> Self {
        Cache {
            map: HashMap::new(),
            loaded: None,
        }
    }

    fn get(&mut self, key: u64, reload: impl FnOnce() -> HashMap<u64, V>) -> Option<V> {
        if let Some(v) = self.map.get(&key) {
            return Some(v.clone());
        }
        if self.loaded.is_none_or(|t| t.elapsed() >= REFRESH) {
            self.map = reload();
            self.loaded = Some(Instant::now());
        }
        self.map.get(&key).cloned()
    }
}

pub struct HostFacts {
    pub hostname: String,
    /// Inode numbers of pid 1's namespaces: a `setns` into one of them enters the host.
    pub init_namespaces: Vec<u64>,
    root: PathBuf,
    users: RefCell<Cache<User>>,
    groups: RefCell<Cache<String>>,
    pub containers: Containers,
}

impl Default for HostFacts {
    fn default() -> Self {
        Self::new(Path::new("/"))
    }
}

impl HostFacts {
    /// Facts read below `root` (`/` on a live host; a fixture directory in tests).
    pub fn new(root: &Path) -> Self {
        let hostname = std::fs::read_to_string(root.join("proc/sys/kernel/hostname"))
            .or_else(|_| std::fs::read_to_string(root.join("etc/hostname")))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        HostFacts {
            hostname,
            init_namespaces: read_init_namespaces(root),
            root: root.to_path_buf(),
            users: RefCell::new(Cache::new()),
            groups: RefCell::new(Cache::new()),
            containers: Containers::paths_only(vigil_container::cgroup_v2_root(root)),
        }
    }

    /// This host, live: containers are also looked up from the runtimes at `endpoints`.
    pub fn live(endpoints: Vec<Endpoint>) -> Self {
        HostFacts {
            containers: Containers::start(endpoints, vigil_container::cgroup_v2_root(Path::new("/"))),
            ..Self::default()
        }
    }

    /// The facts of the host a recording was made on, where the recording has them
    /// (users and groups are still read from this host's /etc).
    pub fn recorded(host: &vigil_event::recording::RecordedHost) -> Self {
        let mut facts = HostFacts {
            // the recording's cgroup records name its containers; this host's cgroups do not
            containers: Containers::paths_only(None),
            ..Self::default()
        };
        if !host.hostname.is_empty() {
            facts.hostname = host.hostname.clone();
        }
        facts.init_namespaces = host.init_namespaces.clone();
        facts
    }

    /// What a recording keeps of this host.
    pub fn to_recorded(&self) -> vigil_event::recording::RecordedHost {
        vigil_event::recording::RecordedHost {
            hostname: self.hostname.clone(),
            init_namespaces: self.init_namespaces.clone(),
        }
    }

    pub fn user(&self, uid: u32) -> Option<User> {
        self.users
            .borrow_mut()
            .get(uid as u64, || parse_passwd(&self.root.join("etc/passwd")))
    }

    pub fn user_name(&self, uid: u32) -> Option<String> {
        self.user(uid).map(|u| u.name)
    }

    pub fn group_name(&self, gid: u32) -> Option<String> {
        self.groups
            .borrow_mut()
            .get(gid as u64, || parse_group(&self.root.join("etc/group")))
    }
}

/// Namespace inode numbers of pid 1 (the host's, for an agent on the host).
fn read_init_namespaces(root: &Path) -> Vec<u64> {
    ["mnt", "pid", "net", "uts", "ipc", "user", "cgroup"]
        .iter()
        .filter_map(|n| std::fs::read_link(root.join("proc/1/ns").join(n)).ok())
        .filter_map(|t| {
            let s = t.to_string_lossy().into_owned();
            s.split('[').nth(1)?.trim_end_matches(']').parse().ok()
        })
        .collect()
}

fn parse_passwd(path: &Path) -> HashMap<u64, User> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            let uid = f.get(2)?.parse::<u64>().ok()?;
            Some((
                uid,
                User {
                    name: f.first()?.to_string(),
                    home: f.get(5).unwrap_or(&"").to_string(),
                    shell: f.get(6).unwrap_or(&"").to_string(),
                },
            ))
        })
        .collect()
}

fn parse_group(path: &Path) -> HashMap<u64, String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            Some((f.get(2)?.parse::<u64>().ok()?, f.first()?.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups_from_fixture_files() {
        let dir = std::env::temp_dir().join(format!("vigil-host-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc")).unwrap();
        std::fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\nbroken line\n",
        )
        .unwrap();
        std::fs::write(dir.join("etc/group"), "root:x:0:\nadm:x:4:syslog\n").unwrap();
        let h = HostFacts::new(&dir);
        assert_eq!(h.user_name(33).as_deref(), Some("www-data"));
        assert_eq!(h.user(0).unwrap().home, "/root");
        assert_eq!(h.user_name(4242), None);
        assert_eq!(h.group_name(4).as_deref(), Some("adm"));
        assert_eq!(h.containers.container_of(1), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

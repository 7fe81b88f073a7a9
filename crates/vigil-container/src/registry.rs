//! `Containers`: which container each cgroup is (kernel cgroup events and a scan of the
//! cgroup tree at start) and what the runtimes say about each container (looked up on a
//! thread of its own, cached, kept a while after the container ends). Nothing here
//! blocks the event path: a container whose metadata is not known yet reads as empty and
//! is looked up in the background.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cgroup::{container_of_cgroup, CgroupContainer};
use crate::meta::ContainerMeta;
use crate::runtime::Endpoint;

/// Metadata of an ended container is kept this long (late events, alerts on its exit).
pub const KEEP_AFTER_EXIT: Duration = Duration::from_secs(300);
/// A container no runtime knew is asked about again after this.
pub const RETRY_UNKNOWN: Duration = Duration::from_secs(2);
/// At most this many containers are cached; the oldest ended ones go first.
pub const MAX_CONTAINERS: usize = 16_384;
/// At most this many cgroups are remembered.
pub const MAX_CGROUPS: usize = 200_000;
/// One lookup (one request) may take this long.
pub const LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);
/// A cgroup id nobody told us about triggers a rescan of the cgroup tree at most this often.
const RESCAN_EVERY: Duration = Duration::from_secs(2);

/// Counters shown by `vigil stats` (the stats file's `containers`).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ContainerStats {
    /// Runtime sockets configured and present when the agent started.
    pub sockets: Vec<String>,
    pub cgroups_tracked: usize,
    pub containers_cached: usize,
    pub lookups: u64,
    pub found: u64,
    /// Looked up, but no runtime knew the id (yet).
    pub not_found: u64,
    /// Requests that failed (socket refused, timeout, bad answer), by socket.
    pub failed: BTreeMap<String, u64>,
    pub last_error: Option<String>,
    pub lookups_pending: usize,
}

#[derive(Debug, Clone)]
enum Entry {
    Pending,
    Known {
        meta: Arc<ContainerMeta>,
        ended: Option<Instant>,
    },
    Unknown {
        at: Instant,
    },
}

#[derive(Default)]
struct State {
    /// cgroup id -> its path (relative to the v2 hierarchy's root) and container.
    cgroups: HashMap<u64, (String, Option<CgroupContainer>)>,
    cgroup_order: VecDeque<u64>,
    containers: HashMap<String, Entry>,
    last_rescan: Option<Instant>,
    stats: ContainerStats,
}

struct Shared {
    state: Mutex<State>,
    endpoints: Vec<Endpoint>,
    /// The cgroup v2 tree, for the scan at start and for unknown ids.
    cgroup_root: Option<PathBuf>,
}

/// The agent's view of containers; cheap to share between threads.
#[derive(Clone)]
pub struct Containers {
    shared: Arc<Shared>,
    tx: Option<Sender<CgroupContainer>>,
}

impl Containers {
    /// Path-only: container ids from cgroup paths, no runtime lookups (replays, tests).
    pub fn paths_only(cgroup_root: Option<PathBuf>) -> Self {
        Containers {
            shared: Arc::new(Shared {
                state: Mutex::new(State::default()),
                endpoints: Vec::new(),
                cgroup_root,
            }),
            tx: None,
        }
    }

    /// Lists every running container of every endpoint, then serves lookups, on a thread
    /// named `vigil-containers`. The cgroups that exist at start come from the agent
    /// (`cgroup_created` for each, as records, so a recording has them too); an id never
    /// seen makes a rescan of the tree.
    pub fn start(endpoints: Vec<Endpoint>, cgroup_root: Option<PathBuf>) -> Self {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            endpoints,
            cgroup_root,
        });
        {
            let mut st = lock(&shared.state);
            st.stats.sockets = crate::runtime::present(&shared.endpoints)
                .iter()
                .map(|p| p.display().to_string())
                .collect();
        }
        let c = Containers { shared, tx: Some(tx) };
        let worker = c.shared.clone();
        let _ = std::thread::Builder::new()
            .name("vigil-containers".into())
            .spawn(move || lookup_loop(worker, rx));
        c
    }

    /// A cgroup was created (the kernel's `cgroup_mkdir`): remember its path, and if it is
    /// a container's, ask the runtime about it now, before its first process runs.
    pub fn cgroup_created(&self, id: u64, path: &str) {
        let c = container_of_cgroup(path);
        let mut st = lock(&self.shared.state);
        remember_cgroup(&mut st, id, path.to_string(), c.clone());
        if let Some(c) = c {
            self.request(&mut st, &c);
        }
    }

    /// A cgroup was removed: its container has ended (its metadata stays KEEP_AFTER_EXIT).
    pub fn cgroup_removed(&self, id: u64) {
        let mut st = lock(&self.shared.state);
        let Some((_, Some(c))) = st.cgroups.get(&id).cloned() else {
            return;
        };
        if let Some(Entry::Known { ended, .. }) = st.containers.get_mut(&c.id) {
            ended.get_or_insert_with(Instant::now);
        }
    }

    /// The container of a cgroup (from the kernel's `bpf_get_current_cgroup_id`), None
    /// for the host. An id never seen makes a rescan of the tree (at most every 2 s).
    pub fn container_of(&self, cgroup_id: u64) -> Option<CgroupContainer> {
        if cgroup_id <= 1 {
            return None;
        }
        if let Some((_, c)) = lock(&self.shared.state).cgroups.get(&cgroup_id) {
            return c.clone();
        }
        self.rescan();
        let st = lock(&self.shared.state);
        st.cgroups.get(&cgroup_id).and_then(|(_, c)| c.clone())
    }

    /// The cgroup path of an id, if known.
    pub fn cgroup_path(&self, cgroup_id: u64) -> Option<String> {
        lock(&self.shared.state).cgroups.get(&cgroup_id).map(|(p, _)| p.clone())
    }

    /// What the runtime said about this container; None while unknown (a lookup is then
    /// queued if none is).
    pub fn meta(&self, c: &CgroupContainer) -> Option<Arc<ContainerMeta>> {
        let mut st = lock(&self.shared.state);
        match st.containers.get(&c.id) {
            Some(Entry::Known { meta, .. }) => return Some(meta.clone()),
            Some(Entry::Pending) => return None,
            Some(Entry::Unknown { at }) if at.elapsed() < RETRY_UNKNOWN => return None,
            _ => {}
        }
        self.request(&mut st, c);
        None
    }

    /// Records what is known about a container without asking a runtime (replays of
    /// metadata, and tests of the fields that read it).
    pub fn remember(&self, meta: ContainerMeta) {
        let mut st = lock(&self.shared.state);
        let id = meta.id.clone();
        st.containers.insert(
            id,
            Entry::Known {
                meta: Arc::new(meta),
                ended: None,
            },
        );
    }

    /// Is a lookup of this container under way (its answer will come soon)?
    pub fn is_pending(&self, c: &CgroupContainer) -> bool {
        matches!(lock(&self.shared.state).containers.get(&c.id), Some(Entry::Pending))
    }

    /// Waits up to `timeout` for this container's lookup to finish (the agent's startup
    /// and tests; never the event path).
    pub fn wait_meta(&self, c: &CgroupContainer, timeout: Duration) -> Option<Arc<ContainerMeta>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(m) = self.meta(c) {
                return Some(m);
            }
            if Instant::now() >= deadline || self.tx.is_none() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn stats(&self) -> ContainerStats {
        let st = lock(&self.shared.state);
        let mut s = st.stats.clone();
        s.cgroups_tracked = st.cgroups.len();
        s.containers_cached = st.containers.len();
        s.lookups_pending = st.containers.values().filter(|e| matches!(e, Entry::Pending)).count();
        s
    }

    fn request(&self, st: &mut State, c: &CgroupContainer) {
        let Some(tx) = &self.tx else { return };
        if matches!(st.containers.get(&c.id), Some(Entry::Pending | Entry::Known { .. })) {
            return;
        }
        st.containers.insert(c.id.clone(), Entry::Pending);
        if tx.send(c.clone()).is_err() {
            st.containers.remove(&c.id);
        }
    }

    /// Reads every cgroup directory's inode number (the cgroup id) and path.
    fn rescan(&self) {
        let Some(root) = self.shared.cgroup_root.as_deref() else {
            return;
        };
        {
            let mut st = lock(&self.shared.state);
            if st.last_rescan.is_some_and(|t| t.elapsed() < RESCAN_EVERY) {
                return;
            }
            st.last_rescan = Some(Instant::now());
        }
        let found = scan_cgroup_tree(root);
        let mut st = lock(&self.shared.state);
        let mut wanted = Vec::new();
        for (id, path) in found {
            if st.cgroups.contains_key(&id) {
                continue;
            }
            let c = container_of_cgroup(&path);
            if let Some(c) = &c {
                wanted.push(c.clone());
            }
            remember_cgroup(&mut st, id, path, c);
        }
        for c in wanted {
            self.request(&mut st, &c);
        }
    }
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn remember_cgroup(st: &mut State, id: u64, path: String, c: Option<CgroupContainer>) {
    if st.cgroups.insert(id, (path, c)).is_none() {
        st.cgroup_order.push_back(id);
        while st.cgroup_order.len() > MAX_CGROUPS {
            if let Some(old) = st.cgroup_order.pop_front() {
                st.cgroups.remove(&old);
            }
        }
    }
}

fn lookup_loop(shared: Arc<Shared>, rx: Receiver<CgroupContainer>) {
    // Containers running before the agent: one listing per runtime.
    for ep in shared.endpoints.iter().filter(|e| e.socket.exists()) {
        match ep.list(LOOKUP_TIMEOUT) {
            Ok(ids) => {
                for id in ids {
                    let c = CgroupContainer {
                        id: id.to_ascii_lowercase(),
                        runtime: ep.runtime,
                        pod_uid: None,
                    };
                    resolve(&shared, &c, Some(ep));
                }
            }
            Err(e) => note_failure(&shared, ep, &e),
        }
    }
    while let Ok(c) = rx.recv() {
        resolve(&shared, &c, None);
        evict(&shared);
    }
}

/// Asks the endpoints that could know `c` (or only `only`), first answer wins.
fn resolve(shared: &Shared, c: &CgroupContainer, only: Option<&Endpoint>) {
    let mut found = None;
    for ep in shared
        .endpoints
        .iter()
        .filter(|e| only.is_none_or(|o| o == *e) && e.serves(c.runtime))
    {
        if !ep.socket.exists() {
            continue; // that runtime is not installed or not running: not a failure
        }
        lock(&shared.state).stats.lookups += 1;
        match ep.inspect(&c.id, LOOKUP_TIMEOUT) {
            Ok(Some(m)) => {
                found = Some(m);
                break;
            }
            Ok(None) => {}
            Err(e) => note_failure(shared, ep, &e),
        }
    }
    let mut st = lock(&shared.state);
    match found {
        Some(m) => {
            st.stats.found += 1;
            st.containers.insert(
                c.id.clone(),
                Entry::Known {
                    meta: Arc::new(m),
                    ended: None,
                },
            );
        }
        None => {
            st.stats.not_found += 1;
            st.containers
                .insert(c.id.clone(), Entry::Unknown { at: Instant::now() });
        }
    }
}

fn note_failure(shared: &Shared, ep: &Endpoint, e: &crate::Error) {
    let mut st = lock(&shared.state);
    *st.stats.failed.entry(ep.socket.display().to_string()).or_default() += 1;
    st.stats.last_error = Some(e.to_string());
}

/// Drops ended containers past KEEP_AFTER_EXIT, and the oldest ended ones over the cap.
fn evict(shared: &Shared) {
    let mut st = lock(&shared.state);
    st.containers.retain(|_, e| match e {
        Entry::Known { ended: Some(t), .. } => t.elapsed() < KEEP_AFTER_EXIT,
        Entry::Unknown { at } => at.elapsed() < KEEP_AFTER_EXIT,
        _ => true,
    });
    if st.containers.len() > MAX_CONTAINERS {
        let mut ended: Vec<(Instant, String)> = st
            .containers
            .iter()
            .filter_map(|(id, e)| match e {
                Entry::Known { ended: Some(t), .. } => Some((*t, id.clone())),
                Entry::Unknown { at } => Some((*at, id.clone())),
                _ => None,
            })
            .collect();
        ended.sort();
        let over = st.containers.len() - MAX_CONTAINERS;
        for (_, id) in ended.into_iter().take(over) {
            st.containers.remove(&id);
        }
    }
}

/// cgroup v2 ids are the inode numbers of the cgroup directories: id -> path below root.
pub fn scan_cgroup_tree(root: &Path) -> Vec<(u64, String)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let p = e.path();
            if let Ok(m) = e.metadata() {
                let rel = p
                    .strip_prefix(root)
                    .map(|r| format!("/{}", r.display()))
                    .unwrap_or_default();
                out.push((m.ino(), rel));
            }
            if out.len() < MAX_CGROUPS {
                stack.push(p);
            }
        }
    }
    out
}

/// Where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup on a v2 host, its
/// `unified` directory on a hybrid one; None if there is none (a v1-only host).
pub fn cgroup_v2_root(sysroot: &Path) -> Option<PathBuf> {
    ["sys/fs/cgroup/unified", "sys/fs/cgroup"]
        .iter()
        .map(|p| sysroot.join(p))
        .find(|p| p.join("cgroup.procs").exists() && p.join("cgroup.controllers").exists())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn kernel_cgroup_events_name_containers_and_unknown_ids_are_the_hosts() {
        let c = Containers::paths_only(None);
        c.cgroup_created(4242, &format!("/libpod_parent/libpod-{ID}"));
        c.cgroup_created(4243, "/system.slice/cron.service");
        assert_eq!(c.container_of(4242).map(|x| x.id), Some(ID.to_string()));
        assert_eq!(c.container_of(4243), None);
        assert_eq!(c.container_of(1), None);
        assert_eq!(c.container_of(99), None);
        assert_eq!(c.cgroup_path(4242), Some(format!("/libpod_parent/libpod-{ID}")));
        // without endpoints nothing is looked up, and nothing waits
        let cc = c.container_of(4242).unwrap();
        assert_eq!(c.meta(&cc), None);
        assert_eq!(c.stats().lookups_pending, 0);
    }

    #[test]
    fn a_cgroup_tree_scan_maps_inode_numbers_to_paths() {
        let dir = std::env::temp_dir().join(format!("vigil-cgscan-{}", std::process::id()));
        let leaf = dir.join(format!("libpod_parent/libpod-{ID}"));
        std::fs::create_dir_all(&leaf).unwrap();
        use std::os::unix::fs::MetadataExt;
        let ino = std::fs::metadata(&leaf).unwrap().ino();
        let c = Containers::paths_only(Some(dir.clone()));
        assert_eq!(c.container_of(ino).map(|x| x.id), Some(ID.to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

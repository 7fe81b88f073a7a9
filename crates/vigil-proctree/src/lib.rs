//! The userspace process tree.
//!
//! Built from the /proc snapshot at start and from fork, exec, exit and chdir events,
//! it gives any event its process and full ancestry. Exited processes are kept for a
//! grace period (events can arrive after the exit that ends their process, and a
//! child's ancestry should still name a parent that just died), then reaped; a hard
//! cap bounds memory even if exits are lost.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use serde::Serialize;
use vigil_event::abi::exec_flag;
use vigil_event::model::{Endpoint, NetOp, Writer};
use vigil_event::{Body, Event, Exec, Text};

/// One process as last seen.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Process {
    pub pid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub start_ktime: u64,
    pub name: Text,
    pub exe: Text,
    pub args: Vec<Text>,
    #[serde(skip)]
    pub env: Arc<[Text]>,
    pub cwd: Text,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub sid: u32,
    pub tty: u32,
    pub cgroup_id: u64,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    pub net_ns: u32,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub exe_flags: u32,
    pub exe_ino: u64,
    pub exe_dev: u32,
    pub exe_mode: u32,
    /// For scripts: the interpreter named by #!.
    pub interp: Option<Text>,
    /// exit(2) status once it exited.
    pub exit_status: Option<u32>,
    pub exit_ktime: Option<u64>,
    /// Known only from the /proc snapshot (no exec seen since start).
    pub from_snapshot: bool,
    /// Bit n set: fd n (0, 1, 2) is an IPv4/IPv6 socket (from exec, dup onto stdio, inheritance).
    pub stdio_sockets: u8,
    /// The peer of that socket.
    #[serde(skip)]
    pub stdio_peer: Option<Endpoint>,
    /// Who wrote the executable shortly before it ran (drop and execute).
    #[serde(skip)]
    pub exe_writer: Option<Writer>,
    /// Kernel time of the exec (or snapshot) that gave the current image.
    pub exec_ktime: u64,
}

impl Process {
    fn from_exec(ev: &Event, x: &Exec, from_snapshot: bool) -> Process {
        Process {
            pid: ev.pid,
            ppid: x.ppid,
            vpid: x.vpid,
            start_ktime: x.start_ktime,
            name: ev.comm.clone(),
            exe: x.exe.clone(),
            args: x.argv.clone(),
            env: x.env.clone().into(),
            cwd: x.cwd.clone(),
            uid: ev.uid,
            gid: ev.gid,
            euid: x.euid,
            egid: x.egid,
            loginuid: x.loginuid,
            sid: x.sid,
            tty: x.tty,
            cgroup_id: ev.cgroup_id,
            mnt_ns: x.mnt_ns,
            pid_ns: x.pid_ns,
            net_ns: x.net_ns,
            cap_effective: x.cap_effective,
            cap_permitted: x.cap_permitted,
            exe_flags: x.flags,
            exe_ino: x.exe_ino,
            exe_dev: x.exe_dev,
            exe_mode: x.exe_mode,
            interp: x.interp.clone(),
            exit_status: None,
            exit_ktime: None,
            from_snapshot,
            stdio_sockets: ((x.flags / exec_flag::STDIN_SOCKET) & 0b111) as u8,
            stdio_peer: x.stdio_peer,
            exe_writer: x.writer.clone(),
            exec_ktime: ev.ktime,
        }
    }

    /// The command line as one string, arguments joined by spaces.
    pub fn cmdline(&self) -> String {
        let mut s = String::new();
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                s.push(' ');
            }
            s.push_str(&a.as_str());
        }
        s
    }
}

#[derive(Debug, Clone)]
pub struct TreeConfig {
    /// How long an exited process stays, in nanoseconds of kernel time.
    pub grace_ns: u64,
    /// Upper bound on entries; beyond it the longest-exited go first, then the oldest.
    pub max_entries: usize,
    /// Ancestry walks stop after this many levels (pid loops and runaway depth).
    pub max_depth: usize,
}

impl Default for TreeConfig {
    fn default() -> Self {
        Self {
            grace_ns: 5_000_000_000,
            max_entries: 65_536,
            max_depth: 64,
        }
    }
}

#[derive(Debug, Default, Clone, Serialize)]
pub struct TreeStats {
    pub live: usize,
    pub exited_pending_reap: usize,
    pub reaped: u64,
    pub evicted_over_cap: u64,
    /// Events from a pid the tree did not know (a fork or exec was lost or predates us).
    pub unknown_pid: u64,
}

pub struct ProcessTree {
    procs: HashMap<u32, Arc<Process>>,
    exited: VecDeque<(u64, u32, u64)>, // (exit ktime, pid, start_ktime)
    cfg: TreeConfig,
    stats: TreeStats,
}

impl Default for ProcessTree {
    fn default() -> Self {
        Self::new(TreeConfig::default())
    }
}

impl ProcessTree {
    pub fn new(cfg: TreeConfig) -> Self {
        Self {
            procs: HashMap::new(),
            exited: VecDeque::new(),
            cfg,
            stats: TreeStats::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.procs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.procs.is_empty()
    }

    pub fn get(&self, pid: u32) -> Option<&Arc<Process>> {
        self.procs.get(&pid)
    }

    pub fn stats(&self) -> TreeStats {
        let mut s = self.stats.clone();
        s.exited_pending_reap = self.exited.len();
        s.live = self.procs.len() - self.exited.len().min(self.procs.len());
        s
    }

    /// Updates the tree with an event, and returns the acting process after it.
    pub fn apply(&mut self, ev: &Event) -> Option<Arc<Process>> {
        match &ev.body {
            Body::Snapshot(x) => {
                // A process already seen through an event is fresher than /proc.
                let keep = self.procs.get(&ev.pid).is_some_and(|p| !p.from_snapshot);
                if !keep {
                    self.insert(Process::from_exec(ev, x, true));
                }
            }
            Body::Exec(x) => {
                let mut p = Process::from_exec(ev, x, false);
                if let Some(old) = self.procs.get(&ev.pid) {
                    // exec keeps the process: its start time and, if the kernel missed it, the parent.
                    if p.start_ktime == 0 {
                        p.start_ktime = old.start_ktime;
                    }
                }
                self.insert(p);
            }
            Body::Fork(f) => {
                let child = match self.procs.get(&ev.pid) {
                    Some(parent) => Process {
                        pid: f.child_pid,
                        ppid: f.child_ppid,
                        vpid: 0,
                        start_ktime: f.child_start_ktime,
                        exit_status: None,
                        exit_ktime: None,
                        from_snapshot: false,
                        ..(**parent).clone()
                    },
                    None => {
                        self.stats.unknown_pid += 1;
                        Process {
                            pid: f.child_pid,
                            ppid: f.child_ppid,
                            start_ktime: f.child_start_ktime,
                            name: ev.comm.clone(),
                            uid: ev.uid,
                            gid: ev.gid,
                            cgroup_id: ev.cgroup_id,
                            ..Process::default()
                        }
                    }
                };
                self.insert(child);
            }
            Body::Exit(x) => {
                if let Some(p) = self.procs.get_mut(&ev.pid) {
                    let p = Arc::make_mut(p);
                    p.exit_status = Some(x.status);
                    p.exit_ktime = Some(ev.ktime);
                    self.exited.push_back((ev.ktime, ev.pid, p.start_ktime));
                } else {
                    self.stats.unknown_pid += 1;
                }
            }
            Body::Cwd(c) => {
                if let Some(p) = self.procs.get_mut(&ev.pid) {
                    Arc::make_mut(p).cwd = c.cwd.clone();
                }
            }
            Body::Net(n) if n.op == NetOp::DupStdio && n.newfd < 3 => {
                if let Some(p) = self.procs.get_mut(&ev.pid) {
                    let p = Arc::make_mut(p);
                    p.stdio_sockets |= 1 << n.newfd;
                    p.stdio_peer = n.raddr.map(|addr| Endpoint { addr, port: n.rport });
                }
            }
            Body::Tick => self.reap(ev.ktime),
            Body::File(_)
            | Body::Net(_)
            | Body::Dns(_)
            | Body::Syscall(_)
            | Body::Detection(_)
            | Body::Cgroup(_)
            | Body::UserCall(_) => {}
        }
        match self.procs.get(&ev.pid) {
            Some(p) => Some(Arc::clone(p)),
            None => {
                // DNS answers and flow ends can come from no known process (softirq, pid 0).
                if ev.pid != 0 && !matches!(ev.body, Body::Exit(_) | Body::Fork(_) | Body::Tick | Body::Cgroup(_)) {
                    self.stats.unknown_pid += 1;
                }
                None
            }
        }
    }

    fn insert(&mut self, p: Process) {
        self.procs.insert(p.pid, Arc::new(p));
        if self.procs.len() > self.cfg.max_entries {
            self.evict_over_cap();
        }
    }

    /// Removes processes that exited more than the grace period before `now_ktime`.
    pub fn reap(&mut self, now_ktime: u64) {
        while let Some(&(t, pid, start)) = self.exited.front() {
            if now_ktime.saturating_sub(t) < self.cfg.grace_ns {
                break;
            }
            self.exited.pop_front();
            // Only if the entry is still that exited process (the pid may have been reused).
            if self
                .procs
                .get(&pid)
                .is_some_and(|p| p.exit_ktime.is_some() && p.start_ktime == start)
            {
                self.procs.remove(&pid);
                self.stats.reaped += 1;
            }
        }
    }

    fn evict_over_cap(&mut self) {
        while self.procs.len() > self.cfg.max_entries {
            if let Some((_, pid, start)) = self.exited.pop_front() {
                if self
                    .procs
                    .get(&pid)
                    .is_some_and(|p| p.start_ktime == start && p.exit_ktime.is_some())
                {
                    self.procs.remove(&pid);
                    self.stats.evicted_over_cap += 1;
                }
                continue;
            }
            // No exited process left to drop: drop the oldest live one (its exit was lost).
            let Some(oldest) = self.procs.values().min_by_key(|p| p.start_ktime).map(|p| p.pid) else {
                break;
            };
            self.procs.remove(&oldest);
            self.stats.evicted_over_cap += 1;
        }
    }

    /// Ancestors of `pid`, parent first, up to init or the first unknown one.
    pub fn ancestors(&self, pid: u32) -> Vec<Arc<Process>> {
        let mut out = Vec::new();
        let mut cur = self.procs.get(&pid).map(|p| p.ppid);
        while let Some(ppid) = cur {
            if ppid == 0 || out.len() >= self.cfg.max_depth || ppid == pid {
                break;
            }
            let Some(p) = self.procs.get(&ppid) else {
                break;
            };
            if out.iter().any(|a: &Arc<Process>| a.pid == p.pid) {
                break;
            }
            cur = Some(p.ppid);
            out.push(Arc::clone(p));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::{Exit, Fork};

    fn ev(pid: u32, ktime: u64, body: Body) -> Event {
        Event {
            ktime,
            pid,
            tid: pid,
            uid: 0,
            gid: 0,
            cgroup_id: 0,
            comm: "x".into(),
            body,
        }
    }

    fn exec(pid: u32, ppid: u32, exe: &str, ktime: u64) -> Event {
        ev(
            pid,
            ktime,
            Body::Exec(Box::new(Exec {
                ppid,
                exe: exe.into(),
                argv: vec![exe.into()],
                start_ktime: ktime,
                ..Exec::default()
            })),
        )
    }

    fn fork(parent: u32, child: u32, ktime: u64) -> Event {
        ev(
            parent,
            ktime,
            Body::Fork(Fork {
                child_pid: child,
                child_ppid: parent,
                child_start_ktime: ktime,
            }),
        )
    }

    fn exit(pid: u32, ktime: u64) -> Event {
        ev(
            pid,
            ktime,
            Body::Exit(Exit {
                status: 0,
                start_ktime: 0,
            }),
        )
    }

    #[test]
    fn ancestry_through_fork_and_exec() {
        let mut t = ProcessTree::default();
        t.apply(&exec(1, 0, "/sbin/init", 1));
        t.apply(&fork(1, 10, 2));
        t.apply(&exec(10, 1, "/usr/sbin/nginx", 3));
        t.apply(&fork(10, 20, 4));
        t.apply(&exec(20, 10, "/bin/sh", 5));
        let chain: Vec<String> = t.ancestors(20).iter().map(|p| p.exe.to_string()).collect();
        assert_eq!(chain, ["/usr/sbin/nginx", "/sbin/init"]);
        // the forked child inherits the parent's image until it execs
        t.apply(&fork(20, 21, 6));
        assert_eq!(t.get(21).unwrap().exe.as_str(), "/bin/sh");
    }

    #[test]
    fn exited_parent_still_named_within_grace_then_reaped() {
        let mut t = ProcessTree::new(TreeConfig {
            grace_ns: 100,
            ..TreeConfig::default()
        });
        t.apply(&exec(1, 0, "/sbin/init", 1));
        t.apply(&fork(1, 10, 2));
        t.apply(&fork(10, 11, 3));
        t.apply(&exit(10, 4));
        assert_eq!(t.ancestors(11)[0].pid, 10);
        t.reap(50);
        assert!(t.get(10).is_some());
        t.reap(200);
        assert!(t.get(10).is_none());
        assert_eq!(t.stats().reaped, 1);
    }

    #[test]
    fn pid_reuse_is_not_reaped_by_the_old_exit() {
        let mut t = ProcessTree::new(TreeConfig {
            grace_ns: 10,
            ..TreeConfig::default()
        });
        t.apply(&fork(1, 10, 2));
        t.apply(&exit(10, 3));
        t.apply(&fork(1, 10, 4)); // pid 10 again, a new process
        t.reap(100);
        assert!(t.get(10).is_some(), "the new process with a reused pid must stay");
    }

    #[test]
    fn fork_storm_stays_bounded() {
        let mut t = ProcessTree::new(TreeConfig {
            grace_ns: 1_000,
            max_entries: 5_000,
            max_depth: 64,
        });
        t.apply(&exec(1, 0, "/sbin/init", 1));
        for i in 0..100_000u32 {
            let k = 10 + i as u64 * 10;
            t.apply(&fork(1, 1000 + i, k));
            t.apply(&exec(1000 + i, 1, "/bin/true", k + 1));
            t.apply(&exit(1000 + i, k + 2));
            t.reap(k + 3);
            assert!(t.len() <= 5_000);
        }
        // Everything but init and the last grace period's worth is gone.
        assert!(t.len() < 150, "tree holds {} entries after the storm", t.len());
    }

    #[test]
    fn hard_cap_without_exits() {
        let mut t = ProcessTree::new(TreeConfig {
            grace_ns: 1_000,
            max_entries: 100,
            max_depth: 64,
        });
        for i in 0..1_000u32 {
            t.apply(&fork(1, 10 + i, i as u64 + 1));
        }
        assert_eq!(t.len(), 100);
        assert_eq!(t.stats().evicted_over_cap, 900);
    }

    #[test]
    fn ancestry_survives_pid_loops() {
        let mut t = ProcessTree::default();
        t.apply(&exec(5, 6, "/a", 1));
        t.apply(&exec(6, 5, "/b", 2));
        assert_eq!(t.ancestors(5).len(), 1);
    }
}

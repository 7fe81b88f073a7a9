//! Kernel time per event, by hook: the run time and run count the kernel keeps for each of
//! the agent's eBPF programs (`bpf_stats`). Counting costs two clock reads per program run,
//! so it is on only while a dedicated run measures it (`StatsOn`), never during the runs
//! whose throughput makes the ratios.

use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::{FromRawFd, OwnedFd};

use anyhow::{bail, Context, Result};
use libbpf_rs::query::ProgInfoIter;
use serde::Serialize;

/// Run-time statistics are on while this lives (the kernel counts per program while any
/// `BPF_ENABLE_STATS` fd is open; closing it restores the previous state).
pub struct StatsOn(#[allow(dead_code)] OwnedFd);

impl StatsOn {
    pub fn enable() -> Result<Self> {
        // SAFETY: a plain syscall wrapper; the fd it returns is ours.
        let fd = unsafe { libbpf_rs::libbpf_sys::bpf_enable_stats(libbpf_rs::libbpf_sys::BPF_STATS_RUN_TIME) };
        if fd < 0 {
            bail!(
                "BPF_ENABLE_STATS failed: {} (the per-hook table needs kernel >= 5.8)",
                std::io::Error::from_raw_os_error(-fd)
            );
        }
        // SAFETY: fd is a fresh, valid descriptor owned by nobody else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }
}

/// One program's counters at one instant.
#[derive(Debug, Clone)]
struct Counters {
    name: String,
    run_cnt: u64,
    run_time_ns: u64,
}

/// The counters of every program `pid` holds a descriptor of.
#[derive(Debug, Clone, Default)]
pub struct Snapshot(BTreeMap<u32, Counters>);

impl Snapshot {
    pub fn take(pid: u32) -> Result<Self> {
        let ids = prog_ids_of(pid)?;
        let mut out = BTreeMap::new();
        for info in ProgInfoIter::default() {
            if ids.contains(&info.id) {
                out.insert(
                    info.id,
                    Counters {
                        name: info.name.to_string_lossy().into_owned(),
                        run_cnt: info.run_cnt,
                        run_time_ns: info.run_time_ns,
                    },
                );
            }
        }
        Ok(Self(out))
    }

    /// What ran between `self` and `later`, per program, most expensive first; `iterations`
    /// of the workload ran in between.
    pub fn delta(&self, later: &Snapshot, iterations: u64) -> Vec<HookCost> {
        let mut v: Vec<HookCost> = later
            .0
            .iter()
            .filter_map(|(id, b)| {
                let a = self.0.get(id);
                let runs = b.run_cnt - a.map_or(0, |a| a.run_cnt);
                let ns = b.run_time_ns - a.map_or(0, |a| a.run_time_ns);
                (runs > 0).then(|| HookCost {
                    program: b.name.clone(),
                    runs,
                    ns_per_run: ns as f64 / runs as f64,
                    runs_per_iteration: runs as f64 / iterations.max(1) as f64,
                    ns_per_iteration: ns as f64 / iterations.max(1) as f64,
                })
            })
            .collect();
        v.sort_by(|a, b| b.ns_per_iteration.total_cmp(&a.ns_per_iteration));
        v
    }
}

/// One program's cost over a workload run. Programs reached by a tail call are not counted
/// on their own: their time is in the caller's (the syscall handlers' in `sys_exit_dispatch`).
#[derive(Debug, Clone, Serialize)]
pub struct HookCost {
    /// The program's name as the kernel keeps it (15 characters at most).
    pub program: String,
    pub runs: u64,
    pub ns_per_run: f64,
    pub runs_per_iteration: f64,
    pub ns_per_iteration: f64,
}

/// Program ids among `pid`'s descriptors (`prog_id:` lines of /proc/PID/fdinfo/*).
fn prog_ids_of(pid: u32) -> Result<BTreeSet<u32>> {
    let dir = format!("/proc/{pid}/fdinfo");
    let mut ids = BTreeSet::new();
    for e in std::fs::read_dir(&dir).with_context(|| format!("reading {dir}"))? {
        let Ok(text) = std::fs::read_to_string(e?.path()) else {
            continue; // closed meanwhile
        };
        ids.extend(
            text.lines()
                .filter_map(|l| l.strip_prefix("prog_id:"))
                .filter_map(|v| v.trim().parse::<u32>().ok()),
        );
    }
    Ok(ids)
}

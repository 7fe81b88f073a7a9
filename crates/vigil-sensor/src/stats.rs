//! The kernel side's counters: per hook (seen, filtered, deduplicated, sent, lost) and
//! per CPU, read from the per-CPU `stats` map.

use libbpf_rs::{MapCore, MapFlags};
use serde::Serialize;
use vigil_event::abi::{counter, stat, Hook, COUNTER_NAMES};

use crate::error::SensorError;
use crate::sensor::Sensor;
use crate::skel::types::vigil_stats;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HookCounts {
    pub seen: u64,
    pub filtered: u64,
    pub deduped: u64,
    pub sent: u64,
    pub lost: u64,
}

impl HookCounts {
    fn add(&mut self, v: &[u64]) {
        self.seen += v[stat::SEEN];
        self.filtered += v[stat::FILTERED];
        self.deduped += v[stat::DEDUPED];
        self.sent += v[stat::SENT];
        self.lost += v[stat::LOST];
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct KernelStats {
    /// Invocations the kernel skipped because the program was already running on that
    /// CPU (BPF recursion protection, e.g. a softirq interrupting it): events never seen.
    pub recursion_misses: Vec<(&'static str, u64)>,
    /// Summed over CPUs, by hook name.
    pub hooks: Vec<(&'static str, HookCounts)>,
    /// Events lost (ring buffer full), per CPU.
    pub lost_per_cpu: Vec<u64>,
    pub counters: Vec<(&'static str, u64)>,
}

impl KernelStats {
    /// Events lost in the ring buffers, per CPU summed.
    pub fn lost(&self) -> u64 {
        self.lost_per_cpu.iter().sum()
    }

    /// Hook invocations the kernel skipped (never seen by our programs).
    pub fn missed(&self) -> u64 {
        self.recursion_misses.iter().map(|(_, n)| n).sum()
    }

    pub fn hook(&self, name: &str) -> Option<&HookCounts> {
        self.hooks.iter().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    pub fn total(&self) -> HookCounts {
        let mut t = HookCounts::default();
        for (_, c) in &self.hooks {
            t.add(&[c.seen, c.filtered, c.deduped, c.sent, c.lost]);
        }
        t
    }
}

impl Sensor {
    pub fn kernel_stats(&self) -> Result<KernelStats, SensorError> {
        let per_cpu = self
            .skel
            .maps
            .stats
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(|e| SensorError::Stats(e.to_string()))?
            .ok_or_else(|| SensorError::Stats("stats map has no entry".into()))?;
        let mut hooks: Vec<(&'static str, HookCounts)> =
            Hook::ALL.iter().map(|h| (h.name(), HookCounts::default())).collect();
        let mut counters = [0u64; counter::MAX];
        let mut lost_per_cpu = Vec::with_capacity(per_cpu.len());
        for raw in &per_cpu {
            let cpu: vigil_stats = crate::maps::from_bytes(raw).map_err(SensorError::Stats)?;
            let mut cpu_lost = 0;
            for (i, hook) in Hook::ALL.iter().enumerate() {
                let v = &cpu.hook[*hook as usize];
                hooks[i].1.add(v);
                cpu_lost += v[stat::LOST];
            }
            lost_per_cpu.push(cpu_lost);
            for (slot, n) in counters.iter_mut().zip(cpu.counter) {
                *slot += n;
            }
        }
        let counters = COUNTER_NAMES.iter().map(|&(i, n)| (n, counters[i])).collect();
        Ok(KernelStats {
            recursion_misses: self.recursion_misses(),
            hooks,
            lost_per_cpu,
            counters,
        })
    }

    /// Per attached program, the invocations the kernel's recursion guard skipped.
    fn recursion_misses(&self) -> Vec<(&'static str, u64)> {
        use libbpf_rs::libbpf_sys;
        use libbpf_rs::skel::Skel;
        use std::os::fd::{AsFd, AsRawFd};
        let mut out = Vec::new();
        for prog in self.skel.object().progs() {
            let Some(spec) = crate::hooks::spec(&prog.name().to_string_lossy()) else {
                continue;
            };
            if !self.report.is_attached(spec.program) {
                continue;
            }
            let mut info = libbpf_sys::bpf_prog_info::default();
            let mut len = std::mem::size_of::<libbpf_sys::bpf_prog_info>() as u32;
            // SAFETY: info is a valid, zeroed bpf_prog_info of the size we pass.
            let rc = unsafe { libbpf_sys::bpf_prog_get_info_by_fd(prog.as_fd().as_raw_fd(), &mut info, &mut len) };
            if rc == 0 {
                out.push((spec.program, info.recursion_misses));
            }
        }
        out
    }
}

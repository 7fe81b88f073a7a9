//! Enforcement in the kernel's maps (`bpf/include/policy.h`, `bpf/xdp.bpf.c`).
//!
//! [`PolicyTables`] is what the kernel evaluates: per policy bit, the masks of the
//! policy set, and per predicate value a map entry with the bits it satisfies (`pos`) and
//! rules out (`neg`). The agent builds it from the rules (crates/vigil/src/enforcement.rs);
//! [`Sensor::set_policies`] writes it into the inactive generation and flips, so a
//! decision never sees half of a reload. XDP: attached to the interfaces of
//! [`XdpConfig`], with a deny list written by [`Sensor::set_xdp_deny`].

use std::collections::BTreeMap;
use std::net::IpAddr;

use libbpf_rs::{Link, MapCore, MapFlags};
use vigil_event::abi::{policy_dim, policy_limits, xdp_stat};

use crate::maps::{as_bytes, from_bytes};
use crate::sensor::HookStatus;
use crate::skel::types;
use crate::{Sensor, SensorError};

/// Policies at once (one bit each).
pub const MAX_POLICIES: usize = policy_limits::MAX;

/// XDP settings (start-time; `--xdp IFACE`, `--xdp-scan-ports`, ...).
#[derive(Debug, Clone)]
pub struct XdpConfig {
    /// Interfaces to attach to; none: the program is not attached.
    pub interfaces: Vec<String>,
    /// Distinct destination ports from one source within the window that make a scan
    /// (0: detector off).
    pub scan_ports: u32,
    pub scan_window_ns: u64,
    /// How long a scanner's packets are dropped (with `scan_drop`).
    pub ban_ns: u64,
    /// Enforce: drop a detected scanner's packets for `ban_ns`.
    pub scan_drop: bool,
}

impl Default for XdpConfig {
    fn default() -> Self {
        XdpConfig {
            interfaces: Vec::new(),
            scan_ports: 50,
            scan_window_ns: 5_000_000_000,
            ban_ns: 60_000_000_000,
            scan_drop: false,
        }
    }
}

/// Flag bits policies can test (exec flags and the policy flags), in the order of the
/// kernel's 7-bit combination index (`bpf/include/policy.h`, policy_flags).
pub const FLAG_BITS: [u32; 7] = [3, 4, 5, 10, 14, 30, 31];
/// Combinations of [`FLAG_BITS`].
pub const FLAG_COMBOS: usize = 1 << FLAG_BITS.len();

/// The kernel's index of a combination of flag bits.
pub fn flag_index(flags: u32) -> usize {
    FLAG_BITS
        .iter()
        .enumerate()
        .map(|(i, b)| (((flags >> b) & 1) as usize) << i)
        .sum()
}

/// One predicate's entry: the policies it satisfies and those it rules out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bits {
    pub pos: u64,
    pub neg: u64,
}

/// The compiled policies, as the kernel reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyTables {
    pub on_exec: u64,
    pub on_connect: u64,
    pub enforce: u64,
    pub kill: u64,
    /// Per dimension (`policy_dim::DIM_*`): policies without a positive predicate on it.
    pub dont_care: [u64; policy_dim::DIMS as usize],
    /// Per combination of the testable flags ([`flag_index`]): the policies whose flag
    /// tests it passes.
    pub flag_masks: Vec<u64>,
    /// Names (comm, 15 bytes), uids, ports and DNS name hashes: (dimension, value) -> bits.
    pub keys: BTreeMap<(u8, [u8; 16]), Bits>,
    /// Executable paths: the LPM key's bytes (an exact path with its NUL) -> bits, allowlisted.
    pub exes: BTreeMap<Vec<u8>, (Bits, bool)>,
    /// Remote networks: (4 or 6, address, prefix length) -> bits.
    pub nets: BTreeMap<(u8, [u8; 16], u8), Bits>,
}

impl PolicyTables {
    /// Longest-prefix match returns one entry: each entry also carries the bits of every
    /// shorter prefix that contains it (and allowlisting).
    pub fn carry_prefixes(&mut self) {
        let exes = self.exes.clone();
        for (key, (bits, allow)) in self.exes.iter_mut() {
            for (other, (ob, oallow)) in &exes {
                // an exact key ends with NUL and contains nothing else
                if other.len() < key.len() && other.last() != Some(&0) && key.starts_with(other) {
                    bits.pos |= ob.pos;
                    bits.neg |= ob.neg;
                    *allow |= *oallow;
                }
            }
        }
        let nets = self.nets.clone();
        for ((fam, addr, prefix), bits) in self.nets.iter_mut() {
            for ((ofam, oaddr, oprefix), ob) in &nets {
                if ofam == fam && oprefix < prefix && prefix_eq(addr, oaddr, *oprefix) {
                    bits.pos |= ob.pos;
                    bits.neg |= ob.neg;
                }
            }
        }
    }
}

fn prefix_eq(a: &[u8; 16], b: &[u8; 16], bits: u8) -> bool {
    let full = (bits / 8) as usize;
    if a[..full] != b[..full] {
        return false;
    }
    let rest = bits % 8;
    rest == 0 || (a[full] >> (8 - rest)) == (b[full] >> (8 - rest))
}

/// An address as the kernel keys it: IPv4 in the first 4 bytes, family 4; or IPv6.
pub fn addr_key(addr: IpAddr) -> (u8, [u8; 16]) {
    let mut out = [0u8; 16];
    match addr {
        IpAddr::V4(v4) => {
            out[..4].copy_from_slice(&v4.octets());
            (4, out)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => addr_key(IpAddr::V4(v4)),
            None => (6, v6.octets()),
        },
    }
}

/// XDP counters.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct XdpStats {
    pub packets: u64,
    pub dropped_deny: u64,
    pub dropped_scanner: u64,
    pub syns: u64,
    pub scans: u64,
    pub lost: u64,
    /// Drops per deny-list entry, in the order given to `set_xdp_deny`.
    pub deny_hits: Vec<u64>,
}

fn sum_percpu(values: Option<Vec<Vec<u8>>>) -> u64 {
    values
        .unwrap_or_default()
        .iter()
        .filter_map(|v| from_bytes::<u64>(v).ok())
        .sum()
}

impl Sensor {
    /// Replaces the policies in force, atomically: the new set is written under the
    /// inactive generation, then the active one flips.
    pub fn set_policies(&self, t: &PolicyTables) -> Result<(), SensorError> {
        let err = |e: libbpf_rs::Error| SensorError::Filter(format!("policies: {e}"));
        let mut gen_lock = self.policy_gen.lock().unwrap_or_else(|p| p.into_inner());
        let next = (*gen_lock + 1) & 1;
        let gen = next as u8;
        let m = &self.skel.maps;

        // clear what a previous use of this generation left
        for k in m.policy_keys.keys().collect::<Vec<_>>() {
            if k.first() == Some(&gen) {
                m.policy_keys.delete(&k).map_err(err)?;
            }
        }
        for k in m.policy_exes.keys().collect::<Vec<_>>() {
            if k.get(4) == Some(&gen) {
                m.policy_exes.delete(&k).map_err(err)?;
            }
        }
        for k in m.policy_nets.keys().collect::<Vec<_>>() {
            if k.get(4) == Some(&gen) {
                m.policy_nets.delete(&k).map_err(err)?;
            }
        }

        for ((dim, val), bits) in &t.keys {
            let key = types::policy_key {
                gen,
                dim: *dim,
                val: *val,
                ..Default::default()
            };
            let v = types::policy_bits {
                pos: bits.pos,
                neg: bits.neg,
            };
            m.policy_keys
                .update(as_bytes(&key), as_bytes(&v), MapFlags::ANY)
                .map_err(err)?;
        }
        let exe_key_size = std::mem::size_of::<types::policy_exe_key>();
        for (path, (bits, allow)) in &t.exes {
            let mut key = vec![0u8; exe_key_size];
            let n = path.len().min(policy_limits::PATH_MAX);
            key[..4].copy_from_slice(&(8 * (1 + n as u32)).to_ne_bytes());
            key[4] = gen;
            key[5..5 + n].copy_from_slice(&path[..n]);
            let v = types::policy_exe_val {
                pos: bits.pos,
                neg: bits.neg,
                allow: u32::from(*allow),
                ..Default::default()
            };
            m.policy_exes.update(&key, as_bytes(&v), MapFlags::ANY).map_err(err)?;
        }
        let net_key_size = std::mem::size_of::<types::policy_net_key>();
        for ((fam, addr, prefix), bits) in &t.nets {
            let mut key = vec![0u8; net_key_size];
            key[..4].copy_from_slice(&(16 + *prefix as u32).to_ne_bytes());
            key[4] = gen;
            key[5] = *fam;
            key[6..22].copy_from_slice(addr);
            let v = types::policy_bits {
                pos: bits.pos,
                neg: bits.neg,
            };
            m.policy_nets.update(&key, as_bytes(&v), MapFlags::ANY).map_err(err)?;
        }
        let set = types::policy_set {
            on_exec: t.on_exec,
            on_connect: t.on_connect,
            enforce: t.enforce,
            kill: t.kill,
            dont_care: t.dont_care,
        };
        for (i, mask) in t.flag_masks.iter().enumerate().take(FLAG_COMBOS) {
            let k = next * FLAG_COMBOS as u32 + i as u32;
            m.policy_flag_masks
                .update(&k.to_ne_bytes(), &mask.to_ne_bytes(), MapFlags::ANY)
                .map_err(err)?;
        }
        m.policy_sets
            .update(&(next).to_ne_bytes(), as_bytes(&set), MapFlags::ANY)
            .map_err(err)?;
        // zero this generation's counters, then flip
        let zeros = vec![vec![0u8; 8]; libbpf_rs::num_possible_cpus().unwrap_or(1)];
        for slot in 0..MAX_POLICIES as u32 {
            let k = next * MAX_POLICIES as u32 + slot;
            m.policy_hits
                .update_percpu(&k.to_ne_bytes(), &zeros, MapFlags::ANY)
                .map_err(err)?;
        }
        m.policy_active
            .update(&0u32.to_ne_bytes(), &next.to_ne_bytes(), MapFlags::ANY)
            .map_err(err)?;
        *gen_lock = next;
        Ok(())
    }

    /// Matches per policy slot of the set in force (exempt and audit matches included).
    pub fn policy_hits(&self) -> Vec<u64> {
        let gen = *self.policy_gen.lock().unwrap_or_else(|p| p.into_inner());
        (0..MAX_POLICIES as u32)
            .map(|slot| {
                let k = gen * MAX_POLICIES as u32 + slot;
                sum_percpu(
                    self.skel
                        .maps
                        .policy_hits
                        .lookup_percpu(&k.to_ne_bytes(), MapFlags::ANY)
                        .ok()
                        .flatten(),
                )
            })
            .collect()
    }

    /// Replaces the XDP deny list (sources whose packets are dropped).
    pub fn set_xdp_deny(&self, nets: &[(IpAddr, u8)]) -> Result<(), SensorError> {
        let err = |e: libbpf_rs::Error| SensorError::Filter(format!("xdp deny list: {e}"));
        let m = &self.skel.maps;
        for k in m.xdp_deny.keys().collect::<Vec<_>>() {
            m.xdp_deny.delete(&k).map_err(err)?;
        }
        let size = std::mem::size_of::<types::xdp_deny_key>();
        for (i, (addr, prefix)) in nets.iter().enumerate() {
            let (fam, a) = addr_key(*addr);
            let max = if fam == 4 { 32 } else { 128 };
            let mut key = vec![0u8; size];
            key[..4].copy_from_slice(&(8 + u32::from((*prefix).min(max))).to_ne_bytes());
            key[4] = fam;
            key[5..21].copy_from_slice(&a);
            m.xdp_deny
                .update(&key, &(i as u32).to_ne_bytes(), MapFlags::ANY)
                .map_err(err)?;
        }
        Ok(())
    }

    /// XDP counters, summed over CPUs.
    pub fn xdp_stats(&self, deny_entries: usize) -> XdpStats {
        let m = &self.skel.maps;
        let get = |i: u32| {
            sum_percpu(
                m.xdp_stats
                    .lookup_percpu(&i.to_ne_bytes(), MapFlags::ANY)
                    .ok()
                    .flatten(),
            )
        };
        XdpStats {
            packets: get(xdp_stat::PACKETS),
            dropped_deny: get(xdp_stat::DROP_DENY),
            dropped_scanner: get(xdp_stat::DROP_SCANNER),
            syns: get(xdp_stat::SYN),
            scans: get(xdp_stat::SCANS),
            lost: get(xdp_stat::LOST),
            deny_hits: (0..deny_entries as u32)
                .map(|i| {
                    sum_percpu(
                        m.xdp_deny_hits
                            .lookup_percpu(&i.to_ne_bytes(), MapFlags::ANY)
                            .ok()
                            .flatten(),
                    )
                })
                .collect(),
        }
    }
}

/// Attaches XDP to each configured interface (their names go to `attached`); an
/// interface that is missing or refuses makes the hook fail (reported), never silently
/// absent.
pub(crate) fn attach_xdp(
    prog: &libbpf_rs::ProgramMut<'_>,
    cfg: &XdpConfig,
    links: &mut Vec<Link>,
    attached: &mut Vec<String>,
) -> HookStatus {
    {
        if cfg.interfaces.is_empty() {
            return HookStatus::Disabled;
        }
        let mut failed = Vec::new();
        for iface in &cfg.interfaces {
            let Ok(name) = std::ffi::CString::new(iface.as_str()) else {
                failed.push(format!("{iface}: bad interface name"));
                continue;
            };
            // SAFETY: name is a valid NUL-terminated string for the call's duration.
            let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
            if index == 0 {
                failed.push(format!("{iface}: no such interface"));
                continue;
            }
            match prog.attach_xdp(index as i32) {
                Ok(link) => {
                    links.push(link);
                    attached.push(iface.clone());
                }
                Err(e) => failed.push(format!("{iface}: {e}")),
            }
        }
        if failed.is_empty() {
            HookStatus::Attached
        } else {
            HookStatus::AttachFailed(failed.join("; "))
        }
    }
}

//! The kernel-side filter (`bpf/include/filter.h`): what the loaded rules want to see,
//! in the form the BPF programs consult.
//!
//! The agent asks the rule set, for every event type the sensor can produce, whether
//! no rule, some rules on certain paths, or some rule on any event of that type could
//! match ([`Want`]); [`KernelFilter::compile`] turns the answers into
//!
//! - the syscall handlers to run at all (a syscall no rule and no kernel detector needs
//!   costs one array lookup and nothing more);
//! - per file operation: not reported / reported for paths of interest / reported;
//! - the paths of interest as an LPM trie (exact paths, prefixes) and a hash set of
//!   suffixes and basenames;
//! - which network and DNS records are reported;
//! - the deduplication window.
//!
//! Every transformation here only widens what the kernel keeps (a long prefix becomes
//! a shorter one, a pattern the kernel cannot express makes the operation fully
//! reported): the filter never drops an event a rule could match.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;
use vigil_event::abi::{file_op, net_op};

use crate::hooks::{all_events, Filter, HOOKS};

/// Path patterns, with the semantics of `vigil_rules::PathPatterns`: a path is of
/// interest if it equals an exact path, starts with a prefix, ends with a suffix, or
/// its last component equals a basename.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathPatterns {
    pub exact: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
    pub basenames: BTreeSet<String>,
    pub suffixes: BTreeSet<String>,
}

impl PathPatterns {
    fn merge(&mut self, o: &PathPatterns) {
        self.exact.extend(o.exact.iter().cloned());
        self.prefixes.extend(o.prefixes.iter().cloned());
        self.basenames.extend(o.basenames.iter().cloned());
        self.suffixes.extend(o.suffixes.iter().cloned());
    }
}

/// What the rules want of the events of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    Nothing,
    Paths(PathPatterns),
    Everything,
}

/// What the kernel reports of one file operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpFilter {
    /// Every event.
    Everything,
    /// Events whose path (or second path) matches.
    Paths(PathPatterns),
}

/// Bits of the network mask beyond the vigil_net_op numbers.
pub use vigil_event::abi::emit::{DNS_QUERY as EMIT_DNS_QUERY, DNS_RESPONSE as EMIT_DNS_RESPONSE};

/// Event types of file operations, and the operations each produces (from the hook table).
pub fn file_event_types() -> BTreeMap<&'static str, Vec<u16>> {
    let mut out: BTreeMap<&'static str, Vec<u16>> = BTreeMap::new();
    for e in all_events() {
        if let Filter::FileOp(op) = e.filter {
            let ops = out.entry(e.evt_type).or_default();
            if !ops.contains(&op) {
                ops.push(op);
            }
        }
    }
    out
}

/// Event types of network and DNS records the rules switch, and their bit in the
/// network mask (from the hook table).
fn net_event_types() -> BTreeSet<(&'static str, u16)> {
    all_events()
        .filter_map(|e| match e.filter {
            Filter::Net(bit) => Some((e.evt_type, bit)),
            _ => None,
        })
        .collect()
}

/// Network records reported whatever the rules want.
fn always_net() -> impl Iterator<Item = u16> {
    all_events().filter_map(|e| match e.filter {
        Filter::AlwaysNet(bit) => Some(bit),
        _ => None,
    })
}

/// Op bits shifted by this mark paths a sequence rule follows (filter.h SEQ_SHIFT).
pub const SEQ_SHIFT: u16 = 16;

/// Op bits shifted by this mark paths a rule could match when the call failed
/// (filter.h FAIL_SHIFT): a failed call is judged by them alone.
pub const FAIL_SHIFT: u16 = 32;

/// The bit a successful open that created its file is judged by (filter.h
/// OPEN_CREATED_BIT; no vigil_file_op has this number): every path any open rule wants,
/// while the OPEN bit carries only what rules that also match other opens want.
pub const OPEN_CREATED_BIT: u16 = 15;

/// Longest prefix or exact path the LPM trie holds (INTEREST_KEY_LEN - 1).
const LPM_MAX: usize = 255;
/// Longest suffix the kernel's backward scan covers (SUFFIX_SCAN).
const SUFFIX_MAX: usize = 64;

/// The compiled filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelFilter {
    /// Reported file operations (by vigil_file_op number) and how they are filtered.
    pub file_ops: BTreeMap<u16, OpFilter>,
    /// Reported network records: vigil_net_op numbers and `VIGIL_EMIT_DNS_*`.
    pub net_records: BTreeSet<u16>,
    /// Syscalls whose handler runs.
    pub syscalls: BTreeSet<&'static str>,
    /// Syscalls with a handler that does not run because nothing needs it.
    pub syscalls_off: BTreeSet<&'static str>,
    /// The same fact from the same program within this window crosses once (0: off).
    pub dedup_window_ns: u64,
    /// File operations and network records that may be deduplicated: those no sequence
    /// rule follows, or only on the paths in `sequence_paths` (those are never deduplicated).
    pub dedup_file_ops: BTreeSet<u16>,
    pub dedup_net: BTreeSet<u16>,
    /// What the kernel reports of failed calls, per file operation: what the rules that
    /// could match a failure want (most rules ask for success). An operation not listed
    /// has its failures dropped before the kernel reads a path.
    pub failed_ops: BTreeMap<u16, OpFilter>,
    pub sequence_paths: BTreeMap<u16, PathPatterns>,
    /// When opens are filtered by path: the paths wanted of an open that created its
    /// file (all the open rules'); `file_ops[OPEN]` then holds what the rules that could
    /// match any other open want (see [`KernelFilter::split_created_opens`]).
    pub created_opens: Option<PathPatterns>,
}

/// The maps' contents, ready to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompiledMaps {
    pub file_op_mask: u32,
    pub file_path_mask: u32,
    pub net_emit_mask: u32,
    pub file_dedup_mask: u32,
    pub net_dedup_mask: u32,
    pub file_fail_mask: u32,
    pub file_fail_path_mask: u32,
    /// Bit b of the path masks (an op, or its failure bit) has suffix or basename patterns.
    pub suffix_bits: u64,
    pub suffix_lens: u64,
    /// Bit b: some suffix pattern starts with byte b (the kernel looks a suffix up only there).
    pub suffix_first: [u64; 4],
    /// LPM keys: (prefix length in bits, bytes), with their op masks.
    pub lpm: BTreeMap<(u32, Vec<u8>), u64>,
    /// Backward FNV-1a hashes of suffixes and "/basename", with their op masks.
    pub suffixes: BTreeMap<u64, u64>,
}

/// The name of a vigil_file_op.
pub fn op_name(op: u16) -> &'static str {
    match op {
        file_op::OPEN => "open",
        file_op::UNLINK => "unlink",
        file_op::RMDIR => "rmdir",
        file_op::RENAME => "rename",
        file_op::CHMOD => "chmod",
        file_op::CHOWN => "chown",
        file_op::LINK => "link",
        file_op::SYMLINK => "symlink",
        file_op::TRUNCATE => "truncate",
        file_op::MKDIR => "mkdir",
        file_op::MEMFD_CREATE => "memfd_create",
        _ => "?",
    }
}

fn net_name(bit: u16) -> &'static str {
    match bit {
        net_op::SOCKET => "socket",
        net_op::BIND => "bind",
        net_op::LISTEN => "listen",
        net_op::CONNECT => "connect",
        net_op::ACCEPT => "accept",
        net_op::SEND => "send",
        net_op::FLOW_START => "flow_start",
        net_op::FLOW_END => "flow_end",
        net_op::FLOW_UPDATE => "flow_update",
        net_op::DUP_STDIO => "dup_stdio",
        EMIT_DNS_QUERY => "dns_query",
        EMIT_DNS_RESPONSE => "dns_response",
        _ => "?",
    }
}

/// Writes one op's path patterns into the maps under `bit` (an op, or op + FAIL_SHIFT).
fn add_patterns(m: &mut CompiledMaps, p: &PathPatterns, bit: u16) {
    let mask = 1u64 << bit;
    for e in &p.exact {
        *m.lpm.entry(exact_key(e)).or_default() |= mask;
    }
    for pre in &p.prefixes {
        *m.lpm.entry(prefix_key(pre)).or_default() |= mask;
    }
    for s in &p.suffixes {
        let b = s.as_bytes();
        let b = &b[b.len().saturating_sub(SUFFIX_MAX)..];
        if b.is_empty() {
            continue;
        }
        m.suffix_lens |= 1u64 << (b.len() - 1);
        m.suffix_first[usize::from(b[0] >> 6)] |= 1u64 << (b[0] & 63);
        m.suffix_bits |= mask;
        *m.suffixes.entry(fnv1a_backward(b)).or_default() |= mask;
    }
    for base in &p.basenames {
        let mut b = Vec::with_capacity(base.len() + 1);
        b.push(b'/');
        b.extend_from_slice(base.as_bytes());
        if b.len() > SUFFIX_MAX {
            // the scan never reaches this '/': compare the tail as a suffix
            b.drain(..b.len() - SUFFIX_MAX);
            m.suffix_lens |= 1u64 << (SUFFIX_MAX - 1);
            m.suffix_first[usize::from(b[0] >> 6)] |= 1u64 << (b[0] & 63);
        }
        m.suffix_bits |= mask;
        *m.suffixes.entry(fnv1a_backward(&b)).or_default() |= mask;
    }
}

/// FNV-1a over the bytes from the last one backwards, as the kernel's suffix scan hashes.
pub fn fnv1a_backward(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for &b in bytes.iter().rev() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

/// LPM key of an exact path: its bytes and a NUL (an overlong one becomes a prefix).
fn exact_key(e: &str) -> (u32, Vec<u8>) {
    let b = e.as_bytes();
    if b.len() < LPM_MAX {
        let mut k = b.to_vec();
        k.push(0);
        ((k.len() * 8) as u32, k)
    } else {
        prefix_key(e)
    }
}

fn prefix_key(p: &str) -> (u32, Vec<u8>) {
    let b = &p.as_bytes()[..p.len().min(LPM_MAX)];
    ((b.len() * 8) as u32, b.to_vec())
}

fn all_file_ops() -> BTreeSet<u16> {
    file_event_types().into_values().flatten().collect()
}

/// Per file op, the union of what its event types want.
fn file_ops_of(want: &impl Fn(&str) -> Want) -> BTreeMap<u16, OpFilter> {
    let mut file_ops: BTreeMap<u16, OpFilter> = BTreeMap::new();
    for (ty, ops) in file_event_types() {
        let w = want(ty);
        for op in ops {
            let merged = match (file_ops.remove(&op), &w) {
                (prev, Want::Nothing) => prev,
                (_, Want::Everything) | (Some(OpFilter::Everything), _) => Some(OpFilter::Everything),
                (None, Want::Paths(p)) => Some(OpFilter::Paths(p.clone())),
                (Some(OpFilter::Paths(mut a)), Want::Paths(p)) => {
                    a.merge(p);
                    Some(OpFilter::Paths(a))
                }
            };
            if let Some(m) = merged {
                file_ops.insert(op, m);
            }
        }
    }
    file_ops
}

/// Does this syscall's handler run although no rule wants its events? Yes when the
/// handler keeps kernel state or feeds a detector, or the syscall is always reported.
fn handler_always_runs(h: &crate::hooks::HookSpec, syscall: &str) -> bool {
    h.always_runs
        || h.events
            .iter()
            .any(|e| e.evt_type == syscall && matches!(e.filter, Filter::Always | Filter::AlwaysNet(_)))
}

impl KernelFilter {
    /// Report everything, run every handler, no deduplication (`--no-kernel-filter`).
    pub fn everything() -> Self {
        let file_ops = all_file_ops()
            .into_iter()
            .map(|op| (op, OpFilter::Everything))
            .collect();
        let net_records = net_event_types()
            .into_iter()
            .map(|(_, b)| b)
            .chain(always_net())
            .collect();
        KernelFilter {
            file_ops,
            net_records,
            syscalls: HOOKS.iter().flat_map(|h| h.syscalls()).collect(),
            syscalls_off: BTreeSet::new(),
            dedup_window_ns: 0,
            dedup_file_ops: BTreeSet::new(),
            dedup_net: BTreeSet::new(),
            failed_ops: all_file_ops()
                .into_iter()
                .map(|op| (op, OpFilter::Everything))
                .collect(),
            sequence_paths: BTreeMap::new(),
            created_opens: None,
        }
    }

    /// Compiles the rules' answers: `want(evt_type)` for every event type the sensor
    /// produces, and `sequence_want(evt_type)` for what the sequence rules alone want
    /// (their events are never deduplicated: a sequence may need every repetition).
    ///
    /// `failure_want(evt_type)`: what the rules that could match a failed call of this
    /// type want of it.
    pub fn compile(
        want: impl Fn(&str) -> Want,
        sequence_want: impl Fn(&str) -> Want,
        failure_want: impl Fn(&str) -> Want,
        dedup_window_ns: u64,
    ) -> Self {
        let mut file_ops = file_ops_of(&want);
        let sequence_ops = file_ops_of(&sequence_want);
        let mut failed_ops = file_ops_of(&failure_want);
        // Patterns the kernel cannot compare make their operation fully reported.
        for f in file_ops.values_mut().chain(failed_ops.values_mut()) {
            if let OpFilter::Paths(p) = f {
                if p.exact.iter().chain(&p.prefixes).any(|s| !s.starts_with('/')) {
                    *f = OpFilter::Everything;
                }
            }
        }

        let net_records: BTreeSet<u16> = net_event_types()
            .into_iter()
            .filter(|(ty, _)| want(ty) != Want::Nothing)
            .map(|(_, b)| b)
            .chain(always_net())
            .collect();

        let mut syscalls = BTreeSet::new();
        let mut syscalls_off = BTreeSet::new();
        for h in HOOKS {
            for sc in h.syscalls() {
                if handler_always_runs(h, sc) || want(sc) != Want::Nothing {
                    syscalls.insert(sc);
                } else {
                    syscalls_off.insert(sc);
                }
            }
        }
        // Deduplicate an op no sequence rule follows; one a sequence rule follows on exact
        // paths and prefixes only, except on those paths (marked in the trie).
        let mut dedup_file_ops = BTreeSet::new();
        let mut sequence_paths = BTreeMap::new();
        for op in all_file_ops() {
            match (sequence_ops.get(&op), file_ops.get(&op)) {
                (None, _) => {
                    dedup_file_ops.insert(op);
                }
                (Some(OpFilter::Paths(p)), Some(OpFilter::Paths(_)))
                    if p.basenames.is_empty() && p.suffixes.is_empty() =>
                {
                    dedup_file_ops.insert(op);
                    sequence_paths.insert(op, p.clone());
                }
                _ => {}
            }
        }
        let dedup_net = [net_op::CONNECT, net_op::SOCKET]
            .into_iter()
            .filter(|b| {
                net_event_types()
                    .into_iter()
                    .filter(|(_, x)| x == b)
                    .all(|(ty, _)| sequence_want(ty) == Want::Nothing)
            })
            .collect();
        let created_opens = match file_ops.get(&file_op::OPEN) {
            Some(OpFilter::Paths(p)) => Some(p.clone()),
            _ => None,
        };
        KernelFilter {
            file_ops,
            net_records,
            syscalls,
            syscalls_off,
            dedup_window_ns,
            dedup_file_ops,
            dedup_net,
            sequence_paths,
            failed_ops,
            created_opens,
        }
    }

    /// Narrows the paths of opens that did not create their file to what the rules that
    /// could match such an open want (`plain_want`, per open event type): a rule on files
    /// created in /etc then leaves every read of /etc in the kernel. Created opens keep
    /// every open rule's paths.
    pub fn split_created_opens(mut self, plain_want: impl Fn(&str) -> Want) -> Self {
        if self.created_opens.is_none() {
            return self;
        }
        match file_ops_of(&plain_want).remove(&file_op::OPEN) {
            Some(OpFilter::Everything) => {}
            Some(OpFilter::Paths(p)) => {
                self.file_ops.insert(file_op::OPEN, OpFilter::Paths(p));
            }
            None => {
                self.file_ops
                    .insert(file_op::OPEN, OpFilter::Paths(PathPatterns::default()));
            }
        }
        self
    }

    /// The switches and map contents for this filter.
    pub fn maps(&self) -> CompiledMaps {
        let mut m = CompiledMaps::default();
        for (&op, f) in &self.file_ops {
            m.file_op_mask |= 1u32 << op;
            if let OpFilter::Paths(p) = f {
                m.file_path_mask |= 1u32 << op;
                add_patterns(&mut m, p, op);
            }
        }
        for (&op, f) in &self.failed_ops {
            m.file_fail_mask |= 1u32 << op;
            if let OpFilter::Paths(p) = f {
                m.file_fail_path_mask |= 1u32 << op;
                add_patterns(&mut m, p, op + FAIL_SHIFT);
            }
        }
        if let Some(p) = &self.created_opens {
            add_patterns(&mut m, p, OPEN_CREATED_BIT);
        }
        for (&op, p) in &self.sequence_paths {
            let mut bit = 1u64 << (op + SEQ_SHIFT);
            if op == file_op::OPEN {
                bit |= 1u64 << (OPEN_CREATED_BIT + SEQ_SHIFT);
            }
            for key in p
                .exact
                .iter()
                .map(|e| exact_key(e))
                .chain(p.prefixes.iter().map(|x| prefix_key(x)))
            {
                *m.lpm.entry(key).or_default() |= bit;
            }
        }
        // The trie answers with the longest match only: each entry also carries what the
        // shorter prefixes containing it ask for.
        let prefixes: Vec<((u32, Vec<u8>), u64)> = m
            .lpm
            .iter()
            .filter(|((_, k), _)| k.last() != Some(&0))
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        for ((bits, key), mask) in m.lpm.iter_mut() {
            for ((pbits, pkey), pmask) in &prefixes {
                if pbits < bits && key.starts_with(pkey) {
                    *mask |= pmask;
                }
            }
        }
        m.net_emit_mask = self.net_records.iter().fold(0, |acc, b| acc | (1u32 << b));
        m.file_dedup_mask = self.dedup_file_ops.iter().fold(0, |acc, b| acc | (1u32 << b));
        m.net_dedup_mask = self.dedup_net.iter().fold(0, |acc, b| acc | (1u32 << b));
        m
    }

    /// The filter as a person reads it (`vigil rules explain`).
    pub fn explain(&self) -> String {
        let mut s = String::new();
        let count = |p: &PathPatterns| p.exact.len() + p.prefixes.len() + p.basenames.len() + p.suffixes.len();
        let _ = writeln!(s, "File operations reported by the kernel:");
        let all_ops = all_file_ops();
        for op in all_ops {
            let line = match self.file_ops.get(&op) {
                None => "not reported (no rule uses it)".to_string(),
                Some(OpFilter::Everything) => "every event".to_string(),
                Some(OpFilter::Paths(p)) => format!("only paths of interest ({} patterns)", count(p)),
            };
            let _ = writeln!(s, "  {:<13} {line}", op_name(op));
        }
        for (&op, f) in &self.file_ops {
            let OpFilter::Paths(p) = f else { continue };
            let _ = writeln!(s, "\nPaths of interest for {}:", op_name(op));
            let list = |s: &mut String, what: &str, v: &BTreeSet<String>| {
                if !v.is_empty() {
                    let items: Vec<&str> = v.iter().map(String::as_str).collect();
                    let _ = writeln!(s, "  {what:<10} {}", items.join("  "));
                }
            };
            list(&mut s, "exact", &p.exact);
            list(&mut s, "prefixes", &p.prefixes);
            list(&mut s, "basenames", &p.basenames);
            list(&mut s, "suffixes", &p.suffixes);
        }
        if let (Some(created), Some(OpFilter::Paths(plain))) = (&self.created_opens, self.file_ops.get(&file_op::OPEN))
        {
            // what rules on new files add for opens that created their file
            let extra = |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>();
            let more: Vec<String> = [
                extra(&created.exact, &plain.exact),
                extra(&created.prefixes, &plain.prefixes),
                extra(&created.basenames, &plain.basenames),
                extra(&created.suffixes, &plain.suffixes),
            ]
            .concat();
            if !more.is_empty() {
                let _ = writeln!(s, "\nAlso for an open that created its file:\n  {}", more.join("  "));
            }
        }
        let _ = writeln!(
            s,
            "\nFailed file calls reported (for the rules that could match a failure):"
        );
        for op in all_file_ops() {
            let line = match self.failed_ops.get(&op) {
                None => "not reported".to_string(),
                Some(OpFilter::Everything) => "every failure".to_string(),
                Some(OpFilter::Paths(p)) => format!("only on paths of interest ({} patterns)", count(p)),
            };
            let _ = writeln!(s, "  {:<13} {line}", op_name(op));
        }
        let net: Vec<&str> = self.net_records.iter().map(|b| net_name(*b)).collect();
        let _ = writeln!(s, "\nNetwork and DNS records reported: {}", net.join(", "));
        let off: Vec<&str> = self.syscalls_off.iter().copied().collect();
        let _ = writeln!(
            s,
            "\nSyscall handlers not run (no rule and no kernel detector needs them): {}",
            if off.is_empty() {
                "none".to_string()
            } else {
                off.join(", ")
            }
        );
        let _ = writeln!(
            s,
            "\nAlways reported: process lifecycle (fork, exec, exit), working directory changes, sockets moved onto stdio, in-kernel detector findings."
        );
        let _ = writeln!(
            s,
            "Deduplication: {}",
            if self.dedup_window_ns == 0 {
                "off".to_string()
            } else {
                let ops: Vec<&str> = self.dedup_file_ops.iter().map(|o| op_name(*o)).collect();
                let net: Vec<&str> = self.dedup_net.iter().map(|b| net_name(*b)).collect();
                format!(
                    "the same event by the same program crosses once per {} s, for {} (not for event types a sequence rule follows)",
                    self.dedup_window_ns / 1_000_000_000,
                    ops.iter().chain(&net).copied().collect::<Vec<_>>().join(", ")
                )
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pats(exact: &[&str], prefixes: &[&str], basenames: &[&str], suffixes: &[&str]) -> PathPatterns {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        PathPatterns {
            exact: set(exact),
            prefixes: set(prefixes),
            basenames: set(basenames),
            suffixes: set(suffixes),
        }
    }

    #[test]
    fn everything_reports_every_op_and_runs_every_handler() {
        let f = KernelFilter::everything();
        let m = f.maps();
        assert_eq!(m.file_path_mask, 0);
        assert!(f.syscalls.contains("chmod") && f.syscalls.contains("ptrace"));
        assert!(f.syscalls_off.is_empty());
        assert_ne!(m.net_emit_mask & (1 << EMIT_DNS_RESPONSE), 0);
    }

    #[test]
    fn open_types_merge_into_one_op_and_unwanted_types_are_off() {
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&["/etc/shadow"], &["/root/.ssh/"], &[], &[])),
                "open" => Want::Paths(pats(&[], &[], &["authorized_keys"], &[".pem"])),
                "connect" => Want::Everything,
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Everything,
            0,
        );
        let OpFilter::Paths(p) = &f.file_ops[&file_op::OPEN] else {
            panic!("open not path-filtered")
        };
        assert_eq!(
            p.exact.len() + p.prefixes.len() + p.basenames.len() + p.suffixes.len(),
            4
        );
        assert!(!f.file_ops.contains_key(&file_op::CHMOD));
        // chmod has no detector: its handler does not run; open and unlink always run
        assert!(f.syscalls_off.contains("chmod") && f.syscalls_off.contains("ptrace"));
        assert!(f.syscalls.contains("openat") && f.syscalls.contains("unlinkat"));
        assert!(f.net_records.contains(&net_op::CONNECT) && !f.net_records.contains(&net_op::FLOW_END));
        assert!(f.net_records.contains(&net_op::DUP_STDIO));
    }

    #[test]
    fn everything_wins_over_paths_and_relative_patterns_disable_filtering() {
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&["/etc/shadow"], &[], &[], &[])),
                "open" => Want::Everything,
                "unlink" => Want::Paths(pats(&["shadow"], &[], &[], &[])),
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Everything,
            0,
        );
        assert_eq!(f.file_ops[&file_op::OPEN], OpFilter::Everything);
        assert_eq!(f.file_ops[&file_op::UNLINK], OpFilter::Everything);
    }

    #[test]
    fn maps_hold_exact_paths_with_nul_prefixes_without_and_backward_suffix_hashes() {
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&["/etc/shadow"], &["/etc/cron.d/"], &["id_rsa"], &[".pem"])),
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Everything,
            0,
        );
        let m = f.maps();
        // an open that created its file is judged by its own bit, with the same paths here
        let bit = 1u64 << file_op::OPEN | 1u64 << OPEN_CREATED_BIT;
        assert_eq!(m.lpm.get(&(12 * 8, b"/etc/shadow\0".to_vec())), Some(&bit));
        assert_eq!(m.lpm.get(&(12 * 8, b"/etc/cron.d/".to_vec())), Some(&bit));
        assert_eq!(m.suffixes.get(&fnv1a_backward(b"/id_rsa")), Some(&bit));
        assert_eq!(m.suffixes.get(&fnv1a_backward(b".pem")), Some(&bit));
        // suffixes are looked up at their lengths; basenames at the last '/'
        assert_eq!(m.suffix_lens, 1 << 3);
        assert_eq!(m.suffix_first, [1 << b'.', 0, 0, 0]);
        assert_eq!(u64::from(m.file_path_mask), 1u64 << file_op::OPEN);
        // failures: wanted for every open, on any path; suffixes only for successes
        assert_eq!(u64::from(m.file_fail_mask) & (1 << file_op::OPEN), 1 << file_op::OPEN);
        assert_eq!(m.file_fail_path_mask & (1 << file_op::OPEN), 0);
        assert_eq!(m.suffix_bits, bit);
    }

    #[test]
    fn rules_on_created_files_widen_only_created_opens() {
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&["/etc/shadow"], &["/etc/"], &[], &[])),
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Nothing,
            0,
        )
        .split_created_opens(|t| match t {
            "openat" => Want::Paths(pats(&["/etc/shadow"], &[], &[], &[])),
            _ => Want::Nothing,
        });
        let m = f.maps();
        let open = 1u64 << file_op::OPEN;
        let created = 1u64 << OPEN_CREATED_BIT;
        assert_eq!(m.lpm.get(&(12 * 8, b"/etc/shadow\0".to_vec())), Some(&(open | created)));
        assert_eq!(m.lpm.get(&(5 * 8, b"/etc/".to_vec())), Some(&created));
        // no rule wants plain opens: they are path-filtered against nothing, still reported
        let g = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&[], &["/etc/"], &[], &[])),
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Nothing,
            0,
        )
        .split_created_opens(|_| Want::Nothing);
        assert_eq!(g.file_ops[&file_op::OPEN], OpFilter::Paths(PathPatterns::default()));
        assert_eq!(g.maps().lpm.get(&(5 * 8, b"/etc/".to_vec())), Some(&created));
    }

    #[test]
    fn overlong_patterns_are_widened_not_dropped() {
        let long = format!("/{}", "d/".repeat(200));
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(pats(&[&long], &[], &[&"b".repeat(100)], &[&"s".repeat(80)])),
                _ => Want::Nothing,
            },
            |_| Want::Nothing,
            |_| Want::Everything,
            0,
        );
        let m = f.maps();
        assert!(m
            .lpm
            .keys()
            .all(|(bits, k)| *bits as usize == k.len() * 8 && k.len() <= 255));
        assert_eq!(m.suffix_lens, 1 << 63);
        assert_eq!(m.suffix_first, [0, 1 << (b'b' - 64) | 1 << (b's' - 64), 0, 0]);
        assert!(m.suffixes.contains_key(&fnv1a_backward("s".repeat(64).as_bytes())));
        assert!(m.suffixes.contains_key(&fnv1a_backward("b".repeat(64).as_bytes())));
    }

    #[test]
    fn backward_hash_is_forward_fnv_of_the_reversed_bytes() {
        let rev: Vec<u8> = b"/authorized_keys".iter().rev().copied().collect();
        assert_eq!(fnv1a_backward(b"/authorized_keys"), crate::sensor::fnv1a(&rev));
    }
}

#[cfg(test)]
mod dedup_tests {
    use super::*;

    #[test]
    fn longer_entries_inherit_what_shorter_prefixes_ask_for() {
        let p = |exact: &[&str], prefixes: &[&str]| PathPatterns {
            exact: exact.iter().map(|s| s.to_string()).collect(),
            prefixes: prefixes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        let f = KernelFilter::compile(
            |t| match t {
                "openat" => Want::Paths(p(&[], &["/tmp/"])),
                "renameat" => Want::Paths(p(&["/tmp/x"], &["/tmp/d/"])),
                _ => Want::Nothing,
            },
            |t| match t {
                "openat" => Want::Paths(p(&[], &["/tmp/"])),
                _ => Want::Nothing,
            },
            |_| Want::Everything,
            1,
        );
        let m = f.maps();
        let open = 1u64 << file_op::OPEN;
        let seq = 1u64 << (file_op::OPEN + SEQ_SHIFT);
        // an open of /tmp/x finds the exact entry first: it must still say "open, in a sequence"
        let exact = m.lpm[&(7 * 8, b"/tmp/x\0".to_vec())];
        assert_eq!(exact & (open | seq), open | seq);
        assert_ne!(exact & (1 << file_op::RENAME), 0);
        assert_eq!(m.lpm[&(7 * 8, b"/tmp/d/".to_vec())] & open, open);
        assert!(f.dedup_file_ops.contains(&file_op::OPEN));
    }

    #[test]
    fn types_a_sequence_follows_are_not_deduplicated() {
        let f = KernelFilter::compile(
            |_| Want::Everything,
            |t| {
                if t == "openat" || t == "connect" {
                    Want::Everything
                } else {
                    Want::Nothing
                }
            },
            |_| Want::Everything,
            30_000_000_000,
        );
        assert!(!f.dedup_file_ops.contains(&file_op::OPEN));
        assert!(f.dedup_file_ops.contains(&file_op::CHMOD));
        assert!(!f.dedup_net.contains(&net_op::CONNECT));
        assert!(f.dedup_net.contains(&net_op::SOCKET));
        let m = f.maps();
        assert_eq!(m.net_dedup_mask & (1 << net_op::CONNECT), 0);
        assert_eq!(m.file_dedup_mask & (1 << file_op::OPEN), 0);
        assert_ne!(m.file_dedup_mask & (1 << file_op::CHMOD), 0);
    }
}

//! The rules' interest, as the kernel filter the sensor applies (`bpf/include/filter.h`).
//!
//! `RuleSet::file_interest` says, per event type, which paths an enabled rule could
//! match; sequence rules say which event types must reach userspace every time.
//! `vigil rules explain` prints the result.

use vigil_rules::{PathInterest, RuleKind, RuleSet};
use vigil_sensor::filter::op_name;
use vigil_sensor::{FilterPaths, KernelFilter, Want};

/// Default deduplication window: the same fact from the same program crosses once per window.
pub const DEFAULT_DEDUP_WINDOW_SECS: u64 = 30;

/// The file calls whose result is an fd: `fd.num` of their failure is -1.
const RETURNS_FD: &[&str] = &["open", "openat", "openat2", "creat", "memfd_create"];

/// The kernel filter for the enabled rules of `set`.
pub fn for_rules(set: &RuleSet, dedup_window_ns: u64) -> KernelFilter {
    let all = set.file_interest();
    let sequences = RuleSet::interest_of(
        set.rules()
            .iter()
            .filter(|r| r.enabled && matches!(r.kind, RuleKind::Sequence(_))),
    );
    KernelFilter::compile(
        |ty| want(all.for_type(ty)),
        |ty| want(sequences.for_type(ty)),
        |ty| want(RuleSet::interest_of(set.rules_matching_failed(ty, RETURNS_FD.contains(&ty))).for_type(ty)),
        dedup_window_ns,
    )
    .split_created_opens(|ty| want(RuleSet::interest_of(set.rules_matching_open_not_created(ty)).for_type(ty)))
}

fn want(p: &PathInterest) -> Want {
    match p {
        PathInterest::Everything => Want::Everything,
        PathInterest::Paths(p) if p.is_empty() => Want::Nothing,
        PathInterest::Paths(p) => Want::Paths(FilterPaths {
            exact: p.exact.clone(),
            prefixes: p.prefixes.clone(),
            basenames: p.basenames.clone(),
            suffixes: p.suffixes.clone(),
        }),
    }
}

/// Per file call type whose failures are reported, the rules that could match a failure.
pub fn failure_interest(set: &RuleSet) -> Vec<(&'static str, Vec<String>)> {
    vigil_sensor::filter::file_event_types()
        .into_keys()
        .filter_map(|ty| {
            let rules: Vec<String> = set
                .rules_matching_failed(ty, RETURNS_FD.contains(&ty))
                .map(|r| r.name.clone())
                .collect();
            (!rules.is_empty()).then_some((ty, rules))
        })
        .collect()
}

/// Broad file interest and the rules asking for it: every file event of a type, or a
/// prefix naming a whole top-level directory ("/etc/"). These decide what filtering buys.
pub fn broad_interest(set: &RuleSet) -> Vec<(String, Vec<String>)> {
    let mut by_what: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for r in set.rules().iter().filter(|r| r.enabled) {
        let i = RuleSet::interest_of([r]);
        for (ty, ops) in vigil_sensor::filter::file_event_types() {
            if !r.evt_types.contains(ty) {
                continue;
            }
            let op = ops.iter().map(|o| op_name(*o)).collect::<Vec<_>>().join("/");
            let what: Vec<String> = match i.for_type(ty) {
                PathInterest::Everything => vec![format!("{op}: every event")],
                PathInterest::Paths(p) => p
                    .prefixes
                    .iter()
                    .filter(|x| x.matches('/').count() <= 2)
                    .map(|x| format!("{op}: {x}*"))
                    .collect(),
            };
            for w in what {
                let names = by_what.entry(w).or_default();
                if !names.contains(&r.name) {
                    names.push(r.name.clone());
                }
            }
        }
    }
    by_what.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::abi::file_op;
    use vigil_sensor::OpFilter;

    fn set(yaml: &str) -> RuleSet {
        vigil_rules::load_str("t.yaml", yaml).expect("rules load")
    }

    #[test]
    fn path_rules_narrow_opens_and_unused_types_are_off() {
        let f = for_rules(
            &set(r#"
- rule: shadow
  desc: d
  condition: evt.type in (open, openat) and fd.name = /etc/shadow
  output: o
  priority: ERROR
"#),
            1,
        );
        let OpFilter::Paths(p) = &f.file_ops[&file_op::OPEN] else {
            panic!("open should be path-filtered")
        };
        assert!(p.exact.contains("/etc/shadow"));
        assert!(!f.file_ops.contains_key(&file_op::CHMOD));
        assert!(f.syscalls_off.contains("chmod"));
        assert!(f.dedup_file_ops.contains(&file_op::OPEN));
    }

    #[test]
    fn a_rule_without_event_type_keeps_everything() {
        let f = for_rules(
            &set(r#"
- rule: any
  desc: d
  condition: proc.name = nmap
  output: o
  priority: ERROR
"#),
            1,
        );
        assert_eq!(f.file_ops[&file_op::OPEN], OpFilter::Everything);
        assert!(f.syscalls_off.is_empty());
    }

    #[test]
    fn sequence_steps_are_never_deduplicated() {
        let f = for_rules(
            &set(r#"
- rule: seq
  desc: d
  sequence:
    within: 2s
    by: process
    steps:
      - condition: evt.type = openat and fd.name startswith /tmp/
      - condition: evt.type = connect
  output: o
  priority: ERROR
"#),
            1,
        );
        // opens under /tmp/ are never deduplicated, other opens may be
        assert!(f.dedup_file_ops.contains(&file_op::OPEN));
        let m = f.maps();
        let seq_bit = 1u64 << (file_op::OPEN + vigil_sensor::filter::SEQ_SHIFT);
        assert!(m.lpm.iter().any(|((_, k), v)| k == b"/tmp/" && v & seq_bit != 0));
        // the sequence follows connect: connects all cross; sockets may still be deduplicated
        assert!(!f.dedup_net.contains(&vigil_event::abi::net_op::CONNECT));
        assert!(f.dedup_net.contains(&vigil_event::abi::net_op::SOCKET));
    }

    #[test]
    fn failed_calls_cross_only_for_the_rules_that_could_match_them() {
        // every open rule asks for success: no failed open crosses
        let f = for_rules(
            &set(r#"
- rule: shadow
  desc: d
  condition: evt.type in (open, openat) and fd.num >= 0 and fd.name = /etc/shadow
  output: o
  priority: ERROR
"#),
            1,
        );
        assert!(!f.failed_ops.contains_key(&file_op::OPEN));
        assert_eq!(f.maps().file_fail_mask & (1 << file_op::OPEN), 0);
        // a rule on attempts too: failures cross, only on its paths
        let f = for_rules(
            &set(r#"
- rule: attempt
  desc: d
  condition: evt.type in (open, openat) and fd.name pmatch (/proc/1/ns)
  output: o
  priority: ERROR
- rule: shadow
  desc: d
  condition: evt.type in (open, openat) and fd.num >= 0 and fd.name = /etc/shadow
  output: o
  priority: ERROR
"#),
            1,
        );
        let OpFilter::Paths(p) = &f.failed_ops[&file_op::OPEN] else {
            panic!("failed opens should be path-filtered")
        };
        assert!(
            p.prefixes.contains("/proc/1/ns/") && !p.exact.contains("/etc/shadow"),
            "{p:?}"
        );
        let m = f.maps();
        let fail_bit = 1u64 << (file_op::OPEN + vigil_sensor::filter::FAIL_SHIFT);
        assert!(m
            .lpm
            .iter()
            .any(|((_, k), v)| k.starts_with(b"/proc/1/ns") && v & fail_bit != 0));
        assert!(m
            .lpm
            .iter()
            .all(|((_, k), v)| !k.starts_with(b"/etc/shadow") || v & fail_bit == 0));
    }
}

//! Rules with an action, as the kernel's policy tables (`bpf/include/policy.h`).
//!
//! Every enabled rule with `action: kill` or `action: deny` contributes its policies
//! (one per alternative of its condition, `vigil_rules::policy`), in rule order; the
//! policy's position is its slot, the bit the kernel reports in a record's `policy`.
//! [`slots`] is deterministic, so the pipeline maps a verdict's slot back to its rule
//! with the same rules the kernel was given (also in a replay).

use serde::Serialize;
use vigil_event::abi::{exec_flag, policy_dim, policy_limits};
use vigil_rules::policy::{DnsMatch, Flag, PathMatch};
use vigil_rules::{Action, Policy, RuleSet};
use vigil_sensor::filter::fnv1a_backward;
use vigil_sensor::policy::{addr_key, flag_index, Bits, PolicyTables, FLAG_BITS, FLAG_COMBOS};

/// `--enforcement`: act, or only report what would have been done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Enforce,
    /// Every policy reports "would kill/deny" and acts on nothing.
    Audit,
}

/// One policy in force: its slot is its index in [`slots`].
#[derive(Debug, Clone, Serialize)]
pub struct PolicySlot {
    pub rule: String,
    pub action: Action,
    /// The rule's `enforce` (false: audit only).
    pub enforce: bool,
    pub policy: Policy,
}

/// The policies of the enabled rules with an action, in rule order (at most 64: the
/// loader refuses more).
pub fn slots(set: &RuleSet) -> Vec<PolicySlot> {
    set.rules()
        .iter()
        .filter(|r| r.enabled && r.action != Action::Alert)
        .flat_map(|r| {
            r.policies.iter().map(|p| PolicySlot {
                rule: r.name.clone(),
                action: r.action,
                enforce: r.enforce,
                policy: p.clone(),
            })
        })
        .take(policy_limits::MAX)
        .collect()
}

fn flag_bit(f: Flag) -> u32 {
    match f {
        Flag::ExeUpperLayer => exec_flag::EXE_UPPER.trailing_zeros(),
        Flag::ExeMemfd => exec_flag::EXE_MEMFD.trailing_zeros(),
        Flag::ExeDeleted => exec_flag::EXE_DELETED.trailing_zeros(),
        Flag::SecureExec => exec_flag::SECUREEXEC.trailing_zeros(),
        Flag::ExeRecentlyWritten => exec_flag::RECENTLY_WRITTEN.trailing_zeros(),
        Flag::StdioSocket => policy_limits::FLAG_STDIO_SOCKET as u32,
        Flag::InContainer => policy_limits::FLAG_CONTAINER as u32,
    }
}

/// LPM key bytes of an executable path predicate (an exact path ends with NUL; one too
/// long for the kernel's window can only be a prefix).
fn exe_key(m: &PathMatch) -> Vec<u8> {
    let room = policy_limits::PATH_MAX - 1;
    match m {
        PathMatch::Exact(p) if p.len() < room => {
            let mut k = p.as_bytes().to_vec();
            k.push(0);
            k
        }
        PathMatch::Exact(p) | PathMatch::Prefix(p) => p.as_bytes()[..p.len().min(room)].to_vec(),
    }
}

fn val16(bytes: &[u8]) -> [u8; 16] {
    let mut v = [0u8; 16];
    let n = bytes.len().min(16);
    v[..n].copy_from_slice(&bytes[..n]);
    v
}

/// Adds one dimension's predicates of the policy at `bit`.
fn dim<T>(
    t: &mut PolicyTables,
    d: u8,
    bit: u64,
    dim: &vigil_rules::policy::Dim<T>,
    mut key: impl FnMut(&T) -> (u8, [u8; 16]),
) {
    match &dim.any_of {
        None => t.dont_care[d as usize] |= bit,
        Some(v) => {
            for x in v {
                t.keys.entry(key(x)).or_default().pos |= bit;
            }
        }
    }
    for x in &dim.none_of {
        t.keys.entry(key(x)).or_default().neg |= bit;
    }
}

/// The kernel's tables for `slots`. `allow`: executables never acted on (a path ending
/// in `/` is a directory prefix).
pub fn tables(slots: &[PolicySlot], mode: Mode, allow: &[String]) -> PolicyTables {
    let mut t = PolicyTables::default();
    // per flag bit: the policies that need it set / clear
    let mut need = [0u64; 32];
    let mut need_not = [0u64; 32];
    for (i, s) in slots.iter().enumerate() {
        let bit = 1u64 << i;
        let p = &s.policy;
        match p.trigger {
            vigil_rules::policy::Trigger::Exec => t.on_exec |= bit,
            vigil_rules::policy::Trigger::Connect => t.on_connect |= bit,
        }
        if s.enforce && mode == Mode::Enforce {
            t.enforce |= bit;
        }
        if s.action == Action::Kill {
            t.kill |= bit;
        }
        match &p.exe.any_of {
            None => t.dont_care[policy_dim::DIM_EXE as usize] |= bit,
            Some(v) => {
                for m in v {
                    t.exes.entry(exe_key(m)).or_default().0.pos |= bit;
                }
            }
        }
        for m in &p.exe.none_of {
            t.exes.entry(exe_key(m)).or_default().0.neg |= bit;
        }
        let name = |d: u8| move |n: &String| (d, val16(n.as_bytes()));
        dim(&mut t, policy_dim::DIM_NAME, bit, &p.name, name(policy_dim::DIM_NAME));
        dim(
            &mut t,
            policy_dim::DIM_PNAME,
            bit,
            &p.pname,
            name(policy_dim::DIM_PNAME),
        );
        dim(&mut t, policy_dim::DIM_UID, bit, &p.uid, |u| {
            (policy_dim::DIM_UID, val16(&u.to_ne_bytes()))
        });
        dim(&mut t, policy_dim::DIM_PORT, bit, &p.port, |port| {
            (policy_dim::DIM_PORT, val16(&port.to_ne_bytes()))
        });
        dim(&mut t, policy_dim::DIM_DNS, bit, &p.dns, |m| match m {
            DnsMatch::Exact(n) => (policy_dim::DIM_DNS, val16(&fnv1a_backward(n.as_bytes()).to_ne_bytes())),
            DnsMatch::Suffix(n) => (
                policy_dim::KEY_DNS_SUFFIX,
                val16(&fnv1a_backward(n.as_bytes()).to_ne_bytes()),
            ),
        });
        let net_key = |c: &vigil_rules::policy::Cidr| {
            let (fam, addr) = addr_key(c.addr);
            // an IPv4-mapped IPv6 network is the IPv4 one
            let prefix = if fam == 4 && c.addr.is_ipv6() {
                c.prefix.saturating_sub(96)
            } else {
                c.prefix
            };
            (fam, addr, prefix)
        };
        match &p.net.any_of {
            None => t.dont_care[policy_dim::DIM_NET as usize] |= bit,
            Some(v) => {
                for c in v {
                    t.nets.entry(net_key(c)).or_default().pos |= bit;
                }
            }
        }
        for c in &p.net.none_of {
            t.nets.entry(net_key(c)).or_default().neg |= bit;
        }
        for (f, want) in &p.flags {
            let b = flag_bit(*f) as usize;
            if *want {
                need[b] |= bit;
            } else {
                need_not[b] |= bit;
            }
        }
    }
    t.flag_masks = (0..FLAG_COMBOS)
        .map(|i| {
            // the flags of combination i, and the policies no flag test rules out
            let flags: u32 = FLAG_BITS
                .iter()
                .enumerate()
                .filter(|(j, _)| i >> j & 1 == 1)
                .map(|(_, b)| 1u32 << b)
                .sum();
            debug_assert_eq!(flag_index(flags), i);
            FLAG_BITS.iter().fold(!0u64, |ok, &b| {
                let set = flags >> b & 1 == 1;
                ok & !if set { need_not[b as usize] } else { need[b as usize] }
            })
        })
        .collect();
    for a in allow {
        let m = if a.ends_with('/') {
            PathMatch::Prefix(a.clone())
        } else {
            PathMatch::Exact(a.clone())
        };
        t.exes.entry(exe_key(&m)).or_insert((Bits::default(), false)).1 = true;
    }
    t.carry_prefixes();
    t
}

/// `vigil rules explain`: the policies, one line each.
pub fn explain(slots: &[PolicySlot]) -> String {
    if slots.is_empty() {
        return "Enforcement: no rule has an action (alert only).\n".to_string();
    }
    let mut out = format!("Enforcement: {} policies, decided in the kernel:\n", slots.len());
    for (i, s) in slots.iter().enumerate() {
        out.push_str(&format!(
            "  [{i}] {} `{}`{}: {}\n",
            s.action.as_str(),
            s.rule,
            if s.enforce {
                ""
            } else {
                " (enforce: false, reports only)"
            },
            s.policy
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(yaml: &str) -> RuleSet {
        vigil_rules::load_str("t.yaml", yaml).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn policies_become_bits_with_dont_care_and_prefix_carry() {
        let s = set(r#"
- rule: tmp exec
  desc: d
  condition: evt.type = execve and proc.exepath startswith /tmp/
  output: o
  priority: WARNING
  action: kill
- rule: nc
  desc: d
  condition: evt.type = execve and proc.name = nc and not proc.exepath = /tmp/ok/nc
  output: o
  priority: WARNING
  action: kill
  enforce: false
"#);
        let sl = slots(&s);
        assert_eq!(sl.len(), 2);
        let t = tables(&sl, Mode::Enforce, &["/tmp/ok/".to_string()]);
        assert_eq!(t.on_exec, 0b11);
        assert_eq!(t.enforce, 0b01, "the second rule is audit-only");
        assert_eq!(t.kill, 0b11);
        assert_eq!(t.dont_care[policy_dim::DIM_EXE as usize], 0b10);
        assert_eq!(t.dont_care[policy_dim::DIM_NAME as usize], 0b01);
        // /tmp/ok/nc carries /tmp/'s bit and the allowlist of /tmp/ok/
        let (bits, allow) = t.exes[&b"/tmp/ok/nc\0".to_vec()];
        assert_eq!(bits.pos, 0b01);
        assert_eq!(bits.neg, 0b10);
        assert!(allow);
        assert_eq!(tables(&sl, Mode::Audit, &[]).enforce, 0);
        assert!(
            t.flag_masks.iter().all(|m| *m == !0),
            "no flag tests: every combination passes"
        );
    }

    #[test]
    fn flag_tests_pick_the_combinations_they_pass() {
        let s = set(r#"
- rule: dropped and run in a container
  desc: d
  condition: evt.type = execve and proc.exe_writer_pid exists and container.id != host
  output: o
  priority: WARNING
  action: kill
"#);
        let t = tables(&slots(&s), Mode::Enforce, &[]);
        let written = exec_flag::RECENTLY_WRITTEN;
        let container = 1u32 << policy_limits::FLAG_CONTAINER;
        assert_eq!(t.flag_masks[flag_index(written | container)] & 1, 1);
        assert_eq!(t.flag_masks[flag_index(written)] & 1, 0);
        assert_eq!(t.flag_masks[flag_index(container)] & 1, 0);
    }

    #[test]
    fn networks_carry_shorter_prefixes() {
        let s = set(r#"
- rule: deny nets
  desc: d
  condition: evt.type = connect and fd.rnet in ("10.0.0.0/8", "10.1.0.0/16")
  output: o
  priority: WARNING
  action: deny
"#);
        let t = tables(&slots(&s), Mode::Enforce, &[]);
        let (fam, addr) = addr_key("10.1.0.0".parse().unwrap());
        assert_eq!(t.nets[&(fam, addr, 16)].pos, 1);
        assert_eq!(t.on_connect, 1);
    }

    #[test]
    fn a_condition_the_kernel_cannot_decide_is_a_positioned_load_error() {
        let e = vigil_rules::load_str(
            "p.yaml",
            "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.cmdline contains x\n  output: o\n  priority: WARNING\n  action: kill\n",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("p.yaml:6:3"), "{msg}");
        assert!(msg.contains("proc.cmdline contains x"), "{msg}");
    }
}

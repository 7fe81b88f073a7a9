//! Enforcement policies: a rule's condition as predicates the kernel decides.
//!
//! A rule with `action: kill` or `action: deny` acts in the kernel, at the hook that
//! sees the event, before userspace hears of it; so its condition must be made only of
//! facts the kernel holds at that hook. [`compile`] turns the condition into disjunctive
//! normal form and each conjunction into a [`Policy`]: a trigger (exec or connect) and,
//! per dimension (executable, name, parent name, uid, remote network, port, DNS name),
//! the values it must be one of and the values it must not be. Anything else is refused
//! with the part of the condition the kernel cannot decide (the loader positions it).
//! `bpf/include/policy.h` evaluates the result; `docs/enforcement.md` lists what compiles.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::condition::{Check, CheckRhs, Condition, Op, Operand};
use crate::fields::Field;
use crate::matcher::IpNet;

/// What a rule does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Report only (every rule; the only action of Falco's rules).
    #[default]
    Alert,
    /// SIGKILL the process at the hook (at exec: before the new image runs).
    Kill,
    /// Fail the call (connect: EPERM). At exec, without BPF LSM, a kill.
    Deny,
}

impl Action {
    pub fn parse(s: &str) -> Option<Action> {
        Some(match s.trim() {
            "alert" => Action::Alert,
            "kill" => Action::Kill,
            "deny" => Action::Deny,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Alert => "alert",
            Action::Kill => "kill",
            Action::Deny => "deny",
        }
    }
}

/// The hook a policy is decided at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `sched_process_exec`: execve and execveat.
    Exec,
    /// `cgroup/connect4`, `cgroup/connect6`.
    Connect,
}

/// An executable path predicate.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
}

/// A DNS name predicate on the names the remote address was resolved from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DnsMatch {
    Exact(String),
    /// Any name ending in `.` + this (the name itself not included).
    Suffix(String),
}

/// A remote network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The predicates of one dimension: one of `any_of` (None: no positive predicate)
/// and none of `none_of`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dim<T> {
    pub any_of: Option<Vec<T>>,
    pub none_of: Vec<T>,
}

impl<T> Default for Dim<T> {
    fn default() -> Self {
        Dim {
            any_of: None,
            none_of: Vec::new(),
        }
    }
}

impl<T> Dim<T> {
    pub fn is_free(&self) -> bool {
        self.any_of.is_none() && self.none_of.is_empty()
    }
}

/// Process facts the kernel knows as flags at the hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// The executable lives in an overlayfs upper layer (written in the container).
    ExeUpperLayer,
    /// The executable is a memfd.
    ExeMemfd,
    /// The executable had no link left when it ran.
    ExeDeleted,
    /// setuid/setgid/file-capability exec.
    SecureExec,
    /// The executable was written moments before it ran (drop and execute).
    ExeRecentlyWritten,
    /// stdin, stdout or stderr is a network socket (a reverse shell's shape).
    StdioSocket,
    /// In a pid namespace of its own (a container).
    InContainer,
}

impl Flag {
    /// Flags known at connect too (the others only at exec).
    pub fn at_connect(self) -> bool {
        matches!(self, Flag::StdioSocket | Flag::InContainer)
    }
}

/// One conjunction of a rule's condition, as the kernel decides it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub trigger: Trigger,
    pub exe: Dim<PathMatch>,
    pub name: Dim<String>,
    pub pname: Dim<String>,
    pub uid: Dim<u32>,
    pub net: Dim<Cidr>,
    pub port: Dim<u16>,
    pub dns: Dim<DnsMatch>,
    /// Flags that must be set (true) or clear (false).
    pub flags: Vec<(Flag, bool)>,
}

impl Policy {
    fn new(trigger: Trigger) -> Policy {
        Policy {
            trigger,
            exe: Dim::default(),
            name: Dim::default(),
            pname: Dim::default(),
            uid: Dim::default(),
            net: Dim::default(),
            port: Dim::default(),
            dns: Dim::default(),
            flags: Vec::new(),
        }
    }
}

/// Policies in force at once (one bit each in the kernel).
pub const MAX_POLICIES: usize = 64;
/// Bytes of a process name the kernel holds (`comm`).
pub const COMM_MAX: usize = 15;
/// Conjunctions one rule may expand to.
const MAX_CONJUNCTIONS: usize = 64;

/// Why a condition cannot be enforced: the part, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotEnforceable {
    pub part: String,
    pub reason: String,
}

impl fmt::Display for NotEnforceable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.part.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "`{}`: {}", self.part, self.reason)
        }
    }
}

fn refuse(c: &Check, reason: impl Into<String>) -> NotEnforceable {
    NotEnforceable {
        part: Condition::Check(Box::new(c.clone())).to_string(),
        reason: reason.into(),
    }
}

/// One literal of the normal form: a check, possibly negated.
type Literal<'a> = (&'a Check, bool);

/// The condition in disjunctive normal form (None: a conjunction that is always false).
fn dnf(c: &Condition, negated: bool) -> Result<Vec<Vec<Literal<'_>>>, NotEnforceable> {
    let too_big = || NotEnforceable {
        part: String::new(),
        reason: format!("the condition expands to more than {MAX_CONJUNCTIONS} alternatives"),
    };
    Ok(match (c, negated) {
        (Condition::Bool(b), n) => {
            if *b != n {
                vec![vec![]]
            } else {
                vec![]
            }
        }
        (Condition::Not(inner), n) => dnf(inner, !n)?,
        (Condition::Check(ch), n) => vec![vec![(ch.as_ref(), n)]],
        // and, or not(or): every combination of the parts' alternatives
        (Condition::And(v), false) | (Condition::Or(v), true) => {
            let mut acc: Vec<Vec<Literal<'_>>> = vec![vec![]];
            for part in v {
                let alts = dnf(part, negated)?;
                let mut next = Vec::new();
                for a in &acc {
                    for b in &alts {
                        next.push(a.iter().chain(b.iter()).copied().collect());
                        if next.len() > MAX_CONJUNCTIONS {
                            return Err(too_big());
                        }
                    }
                }
                acc = next;
            }
            acc
        }
        (Condition::Or(v), false) | (Condition::And(v), true) => {
            let mut acc = Vec::new();
            for part in v {
                acc.extend(dnf(part, negated)?);
                if acc.len() > MAX_CONJUNCTIONS {
                    return Err(too_big());
                }
            }
            acc
        }
    })
}

fn values(c: &Check) -> Result<&[String], NotEnforceable> {
    match &c.rhs {
        CheckRhs::Values(v) => Ok(v),
        _ => Err(refuse(c, "compare with values, not another field")),
    }
}

fn plain_field(c: &Check) -> Result<Field, NotEnforceable> {
    match &c.lhs {
        Operand::Field(f) if f.arg == crate::fields::FieldArg::None => Ok(f.field),
        _ => Err(refuse(
            c,
            "transformers and field arguments are not decided in the kernel",
        )),
    }
}

/// `=`/`in` (positive, or negative when negated) and `!=` (negative) as a value list.
fn eq_values(c: &Check, negated: bool) -> Result<(bool, &[String]), NotEnforceable> {
    match c.op {
        Op::Eq | Op::In => Ok((!negated, values(c)?)),
        Op::Ne => Ok((negated, values(c)?)),
        _ => Err(refuse(
            c,
            format!("the kernel compares this field with `=`, `!=` or `in`, not `{}`", c.op),
        )),
    }
}

fn add<T: Clone + PartialEq>(dim: &mut Dim<T>, positive: bool, items: Vec<T>, c: &Check) -> Result<(), NotEnforceable> {
    if !positive {
        dim.none_of.extend(items);
        return Ok(());
    }
    match &dim.any_of {
        None => dim.any_of = Some(items),
        Some(prev) if *prev == items => {}
        Some(_) => {
            return Err(refuse(
                c,
                "a second positive test of the same fact in one alternative; use one",
            ))
        }
    }
    Ok(())
}

fn parse_bool(c: &Check, s: &str) -> Result<bool, NotEnforceable> {
    match s.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(refuse(c, "compare a flag with true or false")),
    }
}

fn literal(p: &mut Policy, c: &Check, negated: bool) -> Result<(), NotEnforceable> {
    let field = plain_field(c)?;
    match field {
        Field::ProcExepath => {
            let (pos, items) = match c.op {
                Op::Eq | Op::In | Op::Ne => {
                    let (pos, v) = eq_values(c, negated)?;
                    (pos, v.iter().map(|s| PathMatch::Exact(s.clone())).collect())
                }
                Op::StartsWith => (
                    !negated,
                    values(c)?.iter().map(|s| PathMatch::Prefix(s.clone())).collect(),
                ),
                Op::PMatch => (
                    !negated,
                    values(c)?
                        .iter()
                        .flat_map(|d| {
                            let d = d.trim_end_matches('/');
                            [PathMatch::Exact(d.to_string()), PathMatch::Prefix(format!("{d}/"))]
                        })
                        .collect(),
                ),
                _ => {
                    return Err(refuse(
                        c,
                        "the kernel matches an executable path with `=`, `in`, `startswith` or `pmatch`",
                    ))
                }
            };
            let items: Vec<PathMatch> = items;
            if items.iter().any(|m| match m {
                PathMatch::Exact(s) | PathMatch::Prefix(s) => !s.starts_with('/'),
            }) {
                return Err(refuse(c, "executable paths are absolute"));
            }
            add(&mut p.exe, pos, items, c)
        }
        Field::ProcName | Field::ProcPname => {
            let (pos, v) = eq_values(c, negated)?;
            let names = v.iter().map(|s| truncate(s, COMM_MAX)).collect();
            let dim = if field == Field::ProcName {
                &mut p.name
            } else {
                &mut p.pname
            };
            add(dim, pos, names, c)
        }
        Field::UserUid => {
            let (pos, v) = eq_values(c, negated)?;
            let uids = v
                .iter()
                .map(|s| s.trim().parse::<u32>().map_err(|_| refuse(c, "a uid is a number")))
                .collect::<Result<Vec<_>, _>>()?;
            add(&mut p.uid, pos, uids, c)
        }
        Field::FdRip | Field::FdSip | Field::FdRnet | Field::FdSnet => {
            let (pos, v) = match c.op {
                Op::Eq | Op::In | Op::Ne => eq_values(c, negated)?,
                _ => return Err(refuse(c, "the kernel matches an address with `=`, `!=` or `in`")),
            };
            let nets = v
                .iter()
                .map(|s| {
                    IpNet::parse(s)
                        .map(|n| Cidr {
                            addr: n.addr,
                            prefix: n.prefix,
                        })
                        .ok_or_else(|| refuse(c, format!("`{s}` is not an address or CIDR")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            add(&mut p.net, pos, nets, c)
        }
        Field::FdRport | Field::FdSport => {
            let (pos, v) = eq_values(c, negated)?;
            let ports = v
                .iter()
                .map(|s| s.trim().parse::<u16>().map_err(|_| refuse(c, "a port is a number")))
                .collect::<Result<Vec<_>, _>>()?;
            add(&mut p.port, pos, ports, c)
        }
        Field::FdRipName | Field::FdSipName => {
            let (pos, items) = match c.op {
                Op::EndsWith => {
                    let v = values(c)?;
                    let items = v
                        .iter()
                        .map(|s| match s.strip_prefix('.') {
                            Some(rest) if !rest.is_empty() => Ok(DnsMatch::Suffix(rest.to_ascii_lowercase())),
                            _ => Err(refuse(c, "a name suffix starts with a dot (`.example.com`)")),
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    (!negated, items)
                }
                _ => {
                    let (pos, v) = eq_values(c, negated)?;
                    (
                        pos,
                        v.iter()
                            .map(|s| DnsMatch::Exact(s.trim_end_matches('.').to_ascii_lowercase()))
                            .collect(),
                    )
                }
            };
            add(&mut p.dns, pos, items, c)
        }
        Field::ProcIsExeUpperLayer
        | Field::ProcIsExeFromMemfd
        | Field::ProcExeDeleted
        | Field::ProcIsSecureexec
        | Field::ProcStdioIsSocket => {
            let flag = match field {
                Field::ProcIsExeUpperLayer => Flag::ExeUpperLayer,
                Field::ProcIsExeFromMemfd => Flag::ExeMemfd,
                Field::ProcExeDeleted => Flag::ExeDeleted,
                Field::ProcIsSecureexec => Flag::SecureExec,
                _ => Flag::StdioSocket,
            };
            let want = match c.op {
                Op::Eq => parse_bool(c, single(c)?)?,
                Op::Ne => !parse_bool(c, single(c)?)?,
                _ => return Err(refuse(c, "compare a flag with `=` or `!=`")),
            };
            p.flags.push((flag, want != negated));
            Ok(())
        }
        Field::ProcExeWriterPid if c.op == Op::Exists => {
            p.flags.push((Flag::ExeRecentlyWritten, !negated));
            Ok(())
        }
        Field::ContainerId if matches!(c.op, Op::Eq | Op::Ne) && single(c)? == "host" => {
            let on_host = c.op == Op::Eq;
            p.flags.push((Flag::InContainer, on_host == negated));
            Ok(())
        }
        Field::ContainerId => Err(refuse(
            c,
            "the kernel knows whether a process is in a container (`container.id != host`), not which one",
        )),
        _ => Err(refuse(
            c,
            "not decided in the kernel (it decides on proc.exepath, proc.name, proc.pname, user.uid, \
             fd.rip/fd.rnet/fd.rport, fd.rip.name, a few proc.* flags and container.id = host)",
        )),
    }
}

fn single(c: &Check) -> Result<&str, NotEnforceable> {
    match values(c)? {
        [one] => Ok(one),
        _ => Err(refuse(c, "compare with one value")),
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

const EXEC_TYPES: &[&str] = &["execve", "execveat"];
const CONNECT_TYPES: &[&str] = &["connect"];

/// The triggers a conjunction's `evt.type` tests allow (None: no test of evt.type).
fn triggers(conj: &[Literal<'_>]) -> Result<Option<Vec<Trigger>>, NotEnforceable> {
    let mut allowed: Option<Vec<Trigger>> = None;
    for (c, negated) in conj {
        if plain_field(c).ok() != Some(Field::EvtType) {
            continue;
        }
        if *negated || !matches!(c.op, Op::Eq | Op::In) {
            return Err(refuse(c, "name the events with `evt.type in (...)`"));
        }
        let mut these = Vec::new();
        for t in values(c)? {
            let t = t.trim();
            let trig = if EXEC_TYPES.contains(&t) {
                Trigger::Exec
            } else if CONNECT_TYPES.contains(&t) {
                Trigger::Connect
            } else {
                return Err(refuse(
                    c,
                    format!("the kernel enforces at exec (execve, execveat) and connect, not at `{t}`"),
                ));
            };
            if !these.contains(&trig) {
                these.push(trig);
            }
        }
        allowed = Some(match allowed {
            None => these,
            Some(prev) => prev.into_iter().filter(|t| these.contains(t)).collect(),
        });
    }
    Ok(allowed)
}

/// The policies of a condition, one per conjunction and trigger.
pub fn compile(cond: &Condition) -> Result<Vec<Policy>, NotEnforceable> {
    let mut out = Vec::new();
    for conj in dnf(cond, false)? {
        let Some(trigs) = triggers(&conj)? else {
            return Err(NotEnforceable {
                part: String::new(),
                reason: "name the event the kernel acts at: `evt.type in (execve, execveat)` or `evt.type = connect`"
                    .into(),
            });
        };
        for trig in trigs {
            let mut p = Policy::new(trig);
            let mut never = false;
            for (c, negated) in &conj {
                match plain_field(c) {
                    Ok(Field::EvtType) => continue,
                    // the kernel sees calls as they return
                    Ok(Field::EvtDir) => {
                        let v = values(c)?;
                        let is_exit = v.iter().all(|d| d.trim() == "<");
                        if (c.op == Op::Eq) == (is_exit == *negated) {
                            never = true;
                        }
                        continue;
                    }
                    _ => {}
                }
                literal(&mut p, c, *negated)?;
                let net_facts = !(p.net.is_free() && p.port.is_free() && p.dns.is_free());
                if trig == Trigger::Exec && net_facts {
                    return Err(refuse(c, "an exec has no remote address"));
                }
                if trig == Trigger::Connect {
                    if let Some((f, _)) = p.flags.iter().find(|(f, _)| !f.at_connect()) {
                        return Err(refuse(c, format!("{f:?} is known at exec only")));
                    }
                }
            }
            if p.exe.any_of.as_ref().is_some_and(|v| v.is_empty())
                || p.name.any_of.as_ref().is_some_and(|v| v.is_empty())
            {
                never = true;
            }
            if !never && !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trig = match self.trigger {
            Trigger::Exec => "at exec",
            Trigger::Connect => "at connect",
        };
        write!(f, "{trig}")?;
        fn dim<T: fmt::Debug>(f: &mut fmt::Formatter<'_>, name: &str, d: &Dim<T>) -> fmt::Result {
            if let Some(v) = &d.any_of {
                write!(f, ", {name} in {v:?}")?;
            }
            if !d.none_of.is_empty() {
                write!(f, ", {name} not in {:?}", d.none_of)?;
            }
            Ok(())
        }
        dim(f, "exe", &self.exe)?;
        dim(f, "name", &self.name)?;
        dim(f, "parent", &self.pname)?;
        dim(f, "uid", &self.uid)?;
        if let Some(v) = &self.net.any_of {
            let v: Vec<String> = v.iter().map(|c| c.to_string()).collect();
            write!(f, ", remote in [{}]", v.join(", "))?;
        }
        if !self.net.none_of.is_empty() {
            let v: Vec<String> = self.net.none_of.iter().map(|c| c.to_string()).collect();
            write!(f, ", remote not in [{}]", v.join(", "))?;
        }
        dim(f, "port", &self.port)?;
        dim(f, "dns", &self.dns)?;
        for (flag, want) in &self.flags {
            write!(f, ", {flag:?}={want}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LoadOptions, Loader};

    fn cond(text: &str) -> Condition {
        let yaml = format!("- rule: r\n  desc: d\n  condition: {text}\n  output: o\n  priority: WARNING\n");
        let set = Loader::new(LoadOptions::default())
            .add_str("t.yaml", &yaml)
            .load()
            .unwrap_or_else(|e| panic!("{e}"));
        set.rules()[0].conditions()[0].clone()
    }

    #[test]
    fn an_exec_from_tmp_compiles_to_an_exe_prefix() {
        let p = compile(&cond(
            "evt.type in (execve, execveat) and proc.exepath startswith /tmp/",
        ))
        .unwrap();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].trigger, Trigger::Exec);
        assert_eq!(p[0].exe.any_of, Some(vec![PathMatch::Prefix("/tmp/".into())]));
    }

    #[test]
    fn or_makes_one_policy_per_alternative_and_not_becomes_none_of() {
        let p = compile(&cond(
            "evt.type = execve and (proc.name in (nc, ncat) or proc.pname = bash) and not user.uid = 0",
        ))
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].name.any_of, Some(vec!["nc".to_string(), "ncat".to_string()]));
        assert_eq!(p[1].pname.any_of, Some(vec!["bash".to_string()]));
        assert!(p.iter().all(|p| p.uid.none_of == vec![0]));
    }

    #[test]
    fn connect_policies_take_networks_ports_and_dns_names() {
        let p = compile(&cond(
            "evt.type = connect and (fd.rnet in (\"203.0.113.0/24\") or fd.rip.name endswith .miner.test) and fd.rport != 22",
        ))
        .unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].trigger, Trigger::Connect);
        assert_eq!(
            p[0].net.any_of.as_ref().map(|v| v[0].to_string()),
            Some("203.0.113.0/24".into())
        );
        assert_eq!(p[1].dns.any_of, Some(vec![DnsMatch::Suffix("miner.test".into())]));
        assert_eq!(p[0].port.none_of, vec![22]);
    }

    #[test]
    fn what_the_kernel_cannot_decide_is_named() {
        let e = compile(&cond("evt.type = execve and proc.cmdline contains miner")).unwrap_err();
        assert!(e.part.contains("proc.cmdline"), "{e}");
        let e = compile(&cond("evt.type = open and fd.name = /etc/shadow")).unwrap_err();
        assert!(e.reason.contains("exec"), "{e}");
        let e = compile(&cond("proc.name = nc")).unwrap_err();
        assert!(e.reason.contains("evt.type"), "{e}");
        let e = compile(&cond("evt.type = execve and fd.rport = 4444")).unwrap_err();
        assert!(e.reason.contains("remote address"), "{e}");
        let e = compile(&cond("evt.type = connect and proc.is_exe_from_memfd = true")).unwrap_err();
        assert!(e.reason.contains("exec only"), "{e}");
    }

    #[test]
    fn flags_and_container_scope_compile() {
        let p = compile(&cond(
            "evt.type = execve and proc.exe_writer_pid exists and container.id != host and proc.stdio_is_socket = false",
        ))
        .unwrap();
        assert_eq!(
            p[0].flags,
            vec![
                (Flag::ExeRecentlyWritten, true),
                (Flag::InContainer, true),
                (Flag::StdioSocket, false)
            ]
        );
    }

    #[test]
    fn names_are_cut_to_what_the_kernel_holds() {
        let p = compile(&cond("evt.type = execve and proc.name = averyveryverylongname")).unwrap();
        assert_eq!(p[0].name.any_of, Some(vec!["averyveryverylo".to_string()]));
    }
}

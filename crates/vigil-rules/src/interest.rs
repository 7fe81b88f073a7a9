//! Kernel interest: which file paths a rule set could ever match, per event
//! type, so the sensor can drop everything else in the kernel.
//!
//! # Semantics
//!
//! [`Interest::for_type`] returns, for an event type, either
//! [`PathInterest::Everything`] (keep every event of that type) or a set of
//! [`PathPatterns`]. With patterns, an event of that type can match an
//! enabled rule **only if at least one of its path values matches one of
//! the patterns**:
//!
//! * `exact`: the path equals the string;
//! * `prefixes`: the path starts with the string (plain string prefix, not
//!   component-wise; a directory `D` is given as `D/`);
//! * `basenames`: the last path component equals the string;
//! * `suffixes`: the path ends with the string.
//!
//! Empty patterns mean no enabled rule can match that event type at all.
//! Event types not listed in `by_type` use `other`.
//!
//! The "path values" of an event are those the rules test: the resolved
//! absolute path (`fd.name`, `fs.path.name`, `fs.path.source`,
//! `fs.path.target`, and `fd.directory`/`fd.filename` derived from it) and
//! the raw path arguments as passed to the call (`fd.nameraw`,
//! `fs.path.*raw`, `evt.arg.path|name|pathname|filename|oldpath|newpath|target|linkpath`,
//! `evt.abspath`). A kernel filter that keeps an event when any of them
//! matches is exact with respect to the rules; comparing only the resolved
//! path would be wrong for rules written on raw arguments.
//!
//! # Derivation
//!
//! Like event types (see `evttypes`), each condition gets two maps
//! "event type → paths": where it may be true (T) and where it may be false
//! (F). Checks on path fields with `=`, `in`, `startswith`, `endswith`,
//! `pmatch` and `glob` (literal prefix) constrain T; every other check gives
//! "everything". `and` intersects T (keeping the tighter side, a sound
//! over-approximation), `or` unites, `not` swaps T and F; F of a path check
//! is "everything". Anything that cannot be summarised becomes
//! `Everything`: correctness first. One sensor guarantee is used: events the
//! kernel flags itself (`fd.is_running_exe`) are always reported, so a check
//! that the flag is set needs no path.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ast::Op;
use crate::condition::{CheckRhs, Condition, Operand};
use crate::fields::{Field, FieldArg};
use crate::matcher::Glob;

/// Path patterns an event must match (see module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PathPatterns {
    pub exact: BTreeSet<String>,
    pub prefixes: BTreeSet<String>,
    pub basenames: BTreeSet<String>,
    pub suffixes: BTreeSet<String>,
}

impl PathPatterns {
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefixes.is_empty() && self.basenames.is_empty() && self.suffixes.is_empty()
    }

    /// A rough measure of how many paths the patterns admit: an exact path admits one,
    /// a basename or suffix a few, a prefix naming a top-level directory a great many.
    /// An `and` keeps the side that admits fewer.
    fn breadth(&self) -> u64 {
        let tail = |s: &String| if s.len() >= 4 { 10 } else { 100 };
        self.exact.len() as u64
            + self.basenames.iter().map(tail).sum::<u64>()
            + self.suffixes.iter().map(tail).sum::<u64>()
            + self
                .prefixes
                .iter()
                .map(|p| match p.matches('/').count() {
                    0 | 1 => 100_000,
                    2 => 1000,
                    3 => 100,
                    _ => 10,
                })
                .sum::<u64>()
    }

    /// Whether one path value matches.
    pub fn matches(&self, path: &str) -> bool {
        self.exact.contains(path)
            || self.prefixes.iter().any(|p| path.starts_with(p.as_str()))
            || self.suffixes.iter().any(|s| path.ends_with(s.as_str()))
            || self.basenames.contains(path.rsplit('/').next().unwrap_or(path))
    }

    fn merge(&mut self, o: &PathPatterns) {
        self.exact.extend(o.exact.iter().cloned());
        self.prefixes.extend(o.prefixes.iter().cloned());
        self.basenames.extend(o.basenames.iter().cloned());
        self.suffixes.extend(o.suffixes.iter().cloned());
    }
}

/// Interest for one event type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PathInterest {
    /// Some rule may match any path (or none at all): keep every event.
    Everything,
    Paths(PathPatterns),
}

impl PathInterest {
    /// Whether an event with these path values must be kept.
    pub fn wants(&self, paths: &[&str]) -> bool {
        match self {
            PathInterest::Everything => true,
            PathInterest::Paths(p) => paths.iter().any(|x| p.matches(x)),
        }
    }
}

/// The summary of a rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interest {
    pub by_type: BTreeMap<String, PathInterest>,
    /// For event types not in `by_type`.
    pub other: PathInterest,
}

impl Interest {
    pub fn for_type(&self, evt_type: &str) -> &PathInterest {
        self.by_type.get(evt_type).unwrap_or(&self.other)
    }

    /// Whether an event of this type with these path values must be kept.
    pub fn wants(&self, evt_type: &str, paths: &[&str]) -> bool {
        self.for_type(evt_type).wants(paths)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum PathSet {
    All,
    Set(PathPatterns),
}

impl PathSet {
    fn empty() -> Self {
        PathSet::Set(PathPatterns::default())
    }

    fn union(&self, o: &PathSet) -> PathSet {
        match (self, o) {
            (PathSet::All, _) | (_, PathSet::All) => PathSet::All,
            (PathSet::Set(a), PathSet::Set(b)) => {
                let mut m = a.clone();
                m.merge(b);
                PathSet::Set(m)
            }
        }
    }

    fn intersect(&self, o: &PathSet) -> PathSet {
        match (self, o) {
            (PathSet::All, x) | (x, PathSet::All) => x.clone(),
            (PathSet::Set(a), PathSet::Set(b)) => {
                if a.is_empty() || b.is_empty() {
                    PathSet::empty()
                } else if b.breadth() < a.breadth() {
                    PathSet::Set(b.clone())
                } else {
                    PathSet::Set(a.clone())
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
struct TypeMap {
    per: BTreeMap<String, PathSet>,
    other: PathSet,
}

impl TypeMap {
    fn uniform(p: PathSet) -> Self {
        TypeMap {
            per: BTreeMap::new(),
            other: p,
        }
    }

    fn get(&self, t: &str) -> &PathSet {
        self.per.get(t).unwrap_or(&self.other)
    }

    fn zip(&self, o: &TypeMap, f: impl Fn(&PathSet, &PathSet) -> PathSet) -> TypeMap {
        let keys: BTreeSet<&String> = self.per.keys().chain(o.per.keys()).collect();
        TypeMap {
            per: keys
                .into_iter()
                .map(|k| (k.clone(), f(self.get(k), o.get(k))))
                .collect(),
            other: f(&self.other, &o.other),
        }
    }
}

const RAW_ARGS: &[&str] = &[
    "path", "name", "pathname", "filename", "oldpath", "newpath", "target", "linkpath",
];

enum PathKind {
    Full,
    Directory,
    Basename,
}

fn path_kind(o: &Operand) -> Option<PathKind> {
    let Operand::Field(f) = o else { return None };
    match f.field {
        Field::FdName
        | Field::FdNameraw
        | Field::FsPathName
        | Field::FsPathNameraw
        | Field::FsPathSource
        | Field::FsPathSourceraw
        | Field::FsPathTarget
        | Field::FsPathTargetraw
        | Field::EvtAbspath => Some(PathKind::Full),
        Field::EvtArg => match &f.arg {
            FieldArg::Name(n) if RAW_ARGS.contains(&n.as_ref()) => Some(PathKind::Full),
            _ => None,
        },
        Field::FdDirectory => Some(PathKind::Directory),
        Field::FdFilename => Some(PathKind::Basename),
        _ => None,
    }
}

fn dir_prefix(d: &str) -> String {
    if d.ends_with('/') {
        d.to_string()
    } else {
        format!("{d}/")
    }
}

/// Paths for which a path check may be true.
fn path_check(kind: PathKind, op: Op, vals: &[String]) -> PathSet {
    let mut p = PathPatterns::default();
    for v in vals {
        match (&kind, op) {
            (PathKind::Full, Op::Eq | Op::In | Op::Intersects) => {
                p.exact.insert(v.clone());
            }
            (PathKind::Full | PathKind::Directory, Op::StartsWith) => {
                p.prefixes.insert(v.clone());
            }
            (PathKind::Full, Op::EndsWith) => {
                p.suffixes.insert(v.clone());
            }
            (PathKind::Full, Op::Glob) => {
                let (lit, whole) = Glob::literal_prefix(v);
                if whole {
                    p.exact.insert(lit);
                } else {
                    // every match starts with the literal head and ends with the literal
                    // tail: keep whichever admits fewer paths
                    let tail = Glob::literal_suffix(v);
                    let as_prefix = PathPatterns {
                        prefixes: [lit.clone()].into(),
                        ..Default::default()
                    };
                    let as_suffix = PathPatterns {
                        suffixes: [tail.clone()].into(),
                        ..Default::default()
                    };
                    if !tail.is_empty() && as_suffix.breadth() < as_prefix.breadth() {
                        p.suffixes.insert(tail);
                    } else {
                        p.prefixes.insert(lit);
                    }
                }
            }
            (PathKind::Full | PathKind::Directory, Op::PMatch) => {
                let (lit, whole) = Glob::literal_prefix(v);
                if whole {
                    if matches!(kind, PathKind::Full) {
                        p.exact.insert(lit.trim_end_matches('/').to_string());
                    }
                    p.prefixes.insert(dir_prefix(&lit));
                } else {
                    p.prefixes.insert(lit);
                }
            }
            (PathKind::Directory, Op::Eq | Op::In | Op::Intersects) => {
                p.prefixes.insert(dir_prefix(v));
            }
            (PathKind::Basename, Op::Eq | Op::In | Op::Intersects) => {
                p.basenames.insert(v.clone());
            }
            (PathKind::Basename, Op::EndsWith) if !v.contains('/') => {
                p.suffixes.insert(v.clone());
            }
            _ => return PathSet::All,
        }
    }
    if p.prefixes.iter().any(String::is_empty) || p.suffixes.iter().any(String::is_empty) {
        return PathSet::All;
    }
    PathSet::Set(p)
}

fn derive(c: &Condition) -> (TypeMap, TypeMap) {
    let all = || TypeMap::uniform(PathSet::All);
    let none = || TypeMap::uniform(PathSet::empty());
    match c {
        Condition::Bool(true) => (all(), none()),
        Condition::Bool(false) => (none(), all()),
        Condition::And(v) => v.iter().fold((all(), none()), |(t, f), c| {
            let (ct, cf) = derive(c);
            (t.zip(&ct, PathSet::intersect), f.zip(&cf, PathSet::union))
        }),
        Condition::Or(v) => v.iter().fold((none(), all()), |(t, f), c| {
            let (ct, cf) = derive(c);
            (t.zip(&ct, PathSet::union), f.zip(&cf, PathSet::intersect))
        }),
        Condition::Not(c) => {
            let (t, f) = derive(c);
            (f, t)
        }
        Condition::Check(ch) => {
            if !ch.available {
                return (none(), all());
            }
            let vals = match &ch.rhs {
                CheckRhs::Values(v) => Some(v),
                _ => None,
            };
            if matches!(&ch.lhs, Operand::Field(f) if f.field == Field::EvtType) {
                let Some(vals) = vals else { return (all(), all()) };
                let only = |p_in: PathSet, p_out: PathSet| TypeMap {
                    per: vals.iter().map(|v| (v.clone(), p_in.clone())).collect(),
                    other: p_out,
                };
                return match ch.op {
                    Op::Eq | Op::In | Op::Intersects => (
                        only(PathSet::All, PathSet::empty()),
                        only(PathSet::empty(), PathSet::All),
                    ),
                    Op::Ne => (
                        only(PathSet::empty(), PathSet::All),
                        only(PathSet::All, PathSet::empty()),
                    ),
                    _ => (all(), all()),
                };
            }
            // The sensor reports every event its own detectors flag, whatever the paths
            // (bpf/file.bpf.c): a rule that needs the flag needs no path of its own.
            if matches!(&ch.lhs, Operand::Field(f) if f.field == Field::FdIsRunningExe)
                && ch.op == Op::Eq
                && vals.is_some_and(|v| v.iter().all(|x| x == "true"))
            {
                return (none(), all());
            }
            match (path_kind(&ch.lhs), vals) {
                (Some(kind), Some(vals)) => (TypeMap::uniform(path_check(kind, ch.op, vals)), all()),
                _ => (all(), all()),
            }
        }
    }
}

fn to_interest(p: &PathSet) -> PathInterest {
    match p {
        PathSet::All => PathInterest::Everything,
        PathSet::Set(s) => PathInterest::Paths(s.clone()),
    }
}

/// Summarises conditions (already restricted to enabled rules).
pub(crate) fn summarise<'a>(conds: impl Iterator<Item = &'a Condition>) -> Interest {
    let mut acc = TypeMap::uniform(PathSet::empty());
    for c in conds {
        let (t, _) = derive(c);
        acc = acc.zip(&t, PathSet::union);
    }
    Interest {
        by_type: acc.per.iter().map(|(k, v)| (k.clone(), to_interest(v))).collect(),
        other: to_interest(&acc.other),
    }
}

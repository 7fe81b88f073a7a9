//! Which event types a condition can match, for indexing rules.
//!
//! For every condition we compute two over-approximations: `T`, the event
//! types for which it may be true, and `F`, those for which it may be false.
//! A check `evt.type = x` gives T = {x}, F = all but x; any other check gives
//! T = F = all (except checks on unavailable fields, which are never true).
//! `and` intersects T and unites F, `or` the reverse, `not` swaps them. The
//! result is exact for conditions built from `evt.type` tests and sound for
//! everything else: a rule is never skipped for an event it could match.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::ast::Op;
use crate::condition::{CheckRhs, Condition};
use crate::fields::Field;

/// A set of event type names, possibly infinite (everything except ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvtTypes {
    /// Only these types.
    Only(BTreeSet<String>),
    /// Every type except these (`AllExcept({})` is "any event type").
    AllExcept(BTreeSet<String>),
}

impl std::fmt::Display for EvtTypes {
    /// `execve,execveat`, `*` for any type, `* except clone` for everything but some.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let join = |s: &BTreeSet<String>| s.iter().map(String::as_str).collect::<Vec<_>>().join(",");
        match self {
            EvtTypes::Only(s) if s.is_empty() => f.write_str("(none)"),
            EvtTypes::Only(s) => f.write_str(&join(s)),
            EvtTypes::AllExcept(s) if s.is_empty() => f.write_str("*"),
            EvtTypes::AllExcept(s) => write!(f, "* except {}", join(s)),
        }
    }
}

impl EvtTypes {
    pub fn all() -> Self {
        EvtTypes::AllExcept(BTreeSet::new())
    }

    pub fn none() -> Self {
        EvtTypes::Only(BTreeSet::new())
    }

    pub fn is_all(&self) -> bool {
        matches!(self, EvtTypes::AllExcept(s) if s.is_empty())
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, EvtTypes::Only(s) if s.is_empty())
    }

    pub fn contains(&self, t: &str) -> bool {
        match self {
            EvtTypes::Only(s) => s.contains(t),
            EvtTypes::AllExcept(s) => !s.contains(t),
        }
    }

    pub fn complement(self) -> Self {
        match self {
            EvtTypes::Only(s) => EvtTypes::AllExcept(s),
            EvtTypes::AllExcept(s) => EvtTypes::Only(s),
        }
    }

    pub fn union(self, o: EvtTypes) -> Self {
        use EvtTypes::*;
        match (self, o) {
            (Only(a), Only(b)) => Only(a.union(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => AllExcept(b.difference(&a).cloned().collect()),
            (AllExcept(a), AllExcept(b)) => AllExcept(a.intersection(&b).cloned().collect()),
        }
    }

    pub fn intersect(self, o: EvtTypes) -> Self {
        use EvtTypes::*;
        match (self, o) {
            (Only(a), Only(b)) => Only(a.intersection(&b).cloned().collect()),
            (Only(a), AllExcept(b)) | (AllExcept(b), Only(a)) => Only(a.difference(&b).cloned().collect()),
            (AllExcept(a), AllExcept(b)) => AllExcept(a.union(&b).cloned().collect()),
        }
    }

    /// Type names mentioned (the set or its exceptions).
    pub fn names(&self) -> &BTreeSet<String> {
        match self {
            EvtTypes::Only(s) | EvtTypes::AllExcept(s) => s,
        }
    }
}

/// T and F sets of a condition.
pub(crate) fn derive(c: &Condition) -> (EvtTypes, EvtTypes) {
    match c {
        Condition::Bool(true) => (EvtTypes::all(), EvtTypes::none()),
        Condition::Bool(false) => (EvtTypes::none(), EvtTypes::all()),
        Condition::And(v) => v.iter().fold((EvtTypes::all(), EvtTypes::none()), |(t, f), c| {
            let (ct, cf) = derive(c);
            (t.intersect(ct), f.union(cf))
        }),
        Condition::Or(v) => v.iter().fold((EvtTypes::none(), EvtTypes::all()), |(t, f), c| {
            let (ct, cf) = derive(c);
            (t.union(ct), f.intersect(cf))
        }),
        Condition::Not(c) => {
            let (t, f) = derive(c);
            (f, t)
        }
        Condition::Check(ch) => {
            if !ch.available {
                return (EvtTypes::none(), EvtTypes::all());
            }
            let plain_evt_type = matches!(&ch.lhs, crate::condition::Operand::Field(f) if f.field == Field::EvtType);
            if !plain_evt_type {
                return (EvtTypes::all(), EvtTypes::all());
            }
            let vals: BTreeSet<String> = match &ch.rhs {
                CheckRhs::Values(v) => v.iter().cloned().collect(),
                _ => return (EvtTypes::all(), EvtTypes::all()),
            };
            match ch.op {
                Op::Eq | Op::In | Op::Intersects => (EvtTypes::Only(vals.clone()), EvtTypes::AllExcept(vals)),
                Op::Ne => (EvtTypes::AllExcept(vals.clone()), EvtTypes::Only(vals)),
                _ => (EvtTypes::all(), EvtTypes::all()),
            }
        }
    }
}

/// The event types a condition can match.
pub fn evt_types(c: &Condition) -> EvtTypes {
    derive(c).0
}

//! The compiled condition tree: public, documented, and directly evaluable.
//!
//! After loading, every rule condition is a [`Condition`]: macros are
//! expanded in place, list references are replaced by their items, exceptions
//! are appended as `and not (...)`, and fields are resolved to
//! [`FieldRef`]s. Each [`Check`] also carries its precompiled matcher (hash
//! set, glob, regex, path trie), which is private.
//!
//! Consumers (`vigil rules explain`, the kernel interest compiler) walk this
//! tree; `Display` prints it back in the condition language.

use std::fmt;

use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

pub use crate::ast::{Op, Transformer};
use crate::fields::{FieldRef, FieldType};
use crate::matcher::{FxHashSet, Glob, IpNet, PathTrie};

/// A compiled condition.
#[derive(Debug, Clone)]
pub enum Condition {
    /// A constant (an empty `and` is true, an empty `or` false).
    Bool(bool),
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Check(Box<Check>),
}

/// The left-hand side of a check (or a `val(...)` right-hand side).
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(FieldRef),
    Transform(Transformer, Box<Operand>),
}

impl Operand {
    /// The field at the bottom of the transformer chain.
    pub fn field(&self) -> &FieldRef {
        match self {
            Operand::Field(f) => f,
            Operand::Transform(_, inner) => inner.field(),
        }
    }

    /// Type of the operand after transformers.
    pub fn value_type(&self) -> FieldType {
        match self {
            Operand::Field(f) => f.def().ty,
            Operand::Transform(Transformer::Len, _) => FieldType::Uint,
            Operand::Transform(_, _) => FieldType::String,
        }
    }
}

/// The right-hand side of a check, as written (after list expansion).
#[derive(Debug, Clone, PartialEq)]
pub enum CheckRhs {
    /// `exists`.
    None,
    /// One value for scalar operators; all items for `in`, `intersects`, `pmatch`.
    Values(Vec<String>),
    /// `val(field)` or a transformer.
    Operand(Operand),
}

/// One comparison.
#[derive(Debug, Clone)]
pub struct Check {
    pub lhs: Operand,
    pub op: Op,
    pub rhs: CheckRhs,
    /// False when a field of this check is not populated by the host: the
    /// check is then always false.
    pub available: bool,
    pub(crate) matcher: Matcher,
}

/// Precompiled right-hand side.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// `exists`, or the right-hand side is an operand.
    None,
    One(Literal),
    Glob(Glob),
    Regex(regex::Regex),
    Set(ValueSet),
    Paths(PathTrie),
}

/// One literal, pre-parsed into every form a comparison may need.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    pub text: Box<str>,
    /// ASCII-lowercased text for `icontains`.
    pub lower: Box<str>,
    pub num: Option<i128>,
    pub boolean: Option<bool>,
    pub net: Option<IpNet>,
    pub bytes: Option<Box<[u8]>>,
}

/// The items of an `in`/`intersects` list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValueSet {
    pub strs: FxHashSet<Box<str>>,
    pub nums: FxHashSet<i128>,
    pub nets: Vec<IpNet>,
    pub bools: [bool; 2],
}

impl Condition {
    pub fn and(mut v: Vec<Condition>) -> Condition {
        if v.len() == 1 {
            v.pop().unwrap_or(Condition::Bool(true))
        } else {
            Condition::And(v)
        }
    }

    /// Visits every check in the tree.
    pub fn for_each_check<'a>(&'a self, f: &mut dyn FnMut(&'a Check)) {
        match self {
            Condition::Bool(_) => {}
            Condition::And(v) | Condition::Or(v) => v.iter().for_each(|c| c.for_each_check(f)),
            Condition::Not(c) => c.for_each_check(f),
            Condition::Check(c) => f(c),
        }
    }

    /// Every field reference used, in order of appearance, without duplicates.
    pub fn fields(&self) -> Vec<FieldRef> {
        let mut out: Vec<FieldRef> = Vec::new();
        self.for_each_check(&mut |c| {
            let mut push = |f: &FieldRef| {
                if !out.contains(f) {
                    out.push(f.clone());
                }
            };
            push(c.lhs.field());
            if let CheckRhs::Operand(o) = &c.rhs {
                push(o.field());
            }
        });
        out
    }
}

fn quote(s: &str) -> String {
    let bare = !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'' | '=' | ','));
    if bare {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field(r) => write!(f, "{r}"),
            Operand::Transform(t, inner) => write!(f, "{}({inner})", t.as_str()),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.lhs, self.op)?;
        match &self.rhs {
            CheckRhs::None => Ok(()),
            CheckRhs::Operand(o) => write!(f, " val({o})"),
            CheckRhs::Values(v) if self.op.takes_list() => {
                let items: Vec<String> = v.iter().map(|s| quote(s)).collect();
                write!(f, " ({})", items.join(", "))
            }
            CheckRhs::Values(v) => write!(f, " {}", quote(v.first().map_or("", String::as_str))),
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn group(f: &mut fmt::Formatter<'_>, v: &[Condition], sep: &str) -> fmt::Result {
            for (i, c) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, " {sep} ")?;
                }
                match c {
                    Condition::And(_) | Condition::Or(_) => write!(f, "({c})")?,
                    _ => write!(f, "{c}")?,
                }
            }
            Ok(())
        }
        match self {
            Condition::Bool(b) => write!(f, "{b}"),
            Condition::And(v) if v.is_empty() => write!(f, "true"),
            Condition::Or(v) if v.is_empty() => write!(f, "false"),
            Condition::And(v) => group(f, v, "and"),
            Condition::Or(v) => group(f, v, "or"),
            Condition::Not(c) => match **c {
                Condition::Check(_) | Condition::Bool(_) => write!(f, "not {c}"),
                _ => write!(f, "not ({c})"),
            },
            Condition::Check(c) => write!(f, "{c}"),
        }
    }
}

impl Serialize for Operand {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// JSON form: `{"and": [...]}`, `{"or": [...]}`, `{"not": ...}`, `true`,
/// `{"check": {"field": "proc.name", "op": "in", "values": [...], "available": true}}`.
impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Condition::Bool(b) => s.serialize_bool(*b),
            Condition::And(v) | Condition::Or(v) => {
                let key = if matches!(self, Condition::And(_)) { "and" } else { "or" };
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry(key, &Items(v))?;
                m.end()
            }
            Condition::Not(c) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("not", c)?;
                m.end()
            }
            Condition::Check(c) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("check", &CheckJson(c))?;
                m.end()
            }
        }
    }
}

struct Items<'a>(&'a [Condition]);

impl Serialize for Items<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for c in self.0 {
            seq.serialize_element(c)?;
        }
        seq.end()
    }
}

struct CheckJson<'a>(&'a Check);

impl Serialize for CheckJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("lhs", &c.lhs)?;
        m.serialize_entry("op", &c.op)?;
        match &c.rhs {
            CheckRhs::None => {}
            CheckRhs::Values(v) => m.serialize_entry("values", v)?,
            CheckRhs::Operand(o) => m.serialize_entry("rhs", o)?,
        }
        m.serialize_entry("available", &c.available)?;
        m.end()
    }
}

//! The event side: what the host implements so rules can look at an event.

use std::borrow::Cow;
use std::fmt;
use std::net::IpAddr;

use crate::fields::FieldRef;

/// An event as the rule engine sees it. Object safe; implementations should
/// answer from data they already hold (borrowed strings), because a rule set
/// asks for many fields per event.
pub trait EventSource {
    /// Falco event type name: `execve`, `openat`, `connect`, ...
    fn evt_type(&self) -> &str;
    /// Event time in nanoseconds. Drives sequence windows and rate limits;
    /// it must come from the event (never the wall clock) so replays are
    /// deterministic.
    fn ts_ns(&self) -> u64;
    /// The value of one field, or [`Value::None`] when it is not available
    /// for this event. Comparisons on `None` are false. `evt.type` is never
    /// asked for: the engine uses [`EventSource::evt_type`].
    fn field(&self, f: &FieldRef) -> Value<'_>;
    /// Pid of the acting process first, then its parent, grandparent, ...
    /// Used by sequences (`by: process` / `by: lineage`; an event with an
    /// empty lineage cannot take part in those) and rate-limit scopes
    /// (`process` uses the first pid, `parent` the second, falling back to
    /// `proc.pid`/`proc.ppid`).
    fn lineage(&self) -> &[u32];
}

/// A field value. Strings and lists are borrowed from the event when possible.
#[derive(Clone)]
pub enum Value<'a> {
    /// Not available for this event: every comparison is false, `exists` is false.
    None,
    Str(Cow<'a, str>),
    Bytes(&'a [u8]),
    Int(i64),
    Uint(u64),
    Bool(bool),
    Ip(IpAddr),
    /// Several values (ancestors, both ends of a socket, a list field); see
    /// [`crate::fields::Multi`] for how comparisons treat them.
    List(&'a dyn ListValue),
}

impl<'a> Value<'a> {
    pub fn str(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }

    pub fn is_none(&self) -> bool {
        matches!(self, Value::None)
    }
}

impl fmt::Debug for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Str(s) => write!(f, "Str({s:?})"),
            Value::Bytes(b) => write!(f, "Bytes({b:?})"),
            Value::Int(i) => write!(f, "Int({i})"),
            Value::Uint(u) => write!(f, "Uint({u})"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Ip(ip) => write!(f, "Ip({ip})"),
            Value::List(l) => {
                let mut d = f.debug_list();
                for i in 0..l.value_count() {
                    d.entry(&l.value_at(i));
                }
                d.finish()
            }
        }
    }
}

/// A list of values the host can expose without copying.
///
/// The method names avoid `len`/`get` so that implementing it for `Vec` or
/// slices does not shadow their inherent methods.
pub trait ListValue {
    fn value_count(&self) -> usize;
    fn value_at(&self, i: usize) -> Value<'_>;
}

impl ListValue for [String] {
    fn value_count(&self) -> usize {
        <[String]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |s| Value::str(s))
    }
}

impl ListValue for Vec<String> {
    fn value_count(&self) -> usize {
        Vec::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_slice().get(i).map_or(Value::None, |s| Value::str(s))
    }
}

impl ListValue for [&str] {
    fn value_count(&self) -> usize {
        <[&str]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |s| Value::str(s))
    }
}

impl ListValue for Vec<&str> {
    fn value_count(&self) -> usize {
        Vec::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_slice().get(i).map_or(Value::None, |s| Value::str(s))
    }
}

impl ListValue for [IpAddr] {
    fn value_count(&self) -> usize {
        <[IpAddr]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |ip| Value::Ip(*ip))
    }
}

impl ListValue for [u32] {
    fn value_count(&self) -> usize {
        <[u32]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |v| Value::Uint(u64::from(*v)))
    }
}

impl ListValue for [i64] {
    fn value_count(&self) -> usize {
        <[i64]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |v| Value::Int(*v))
    }
}

impl ListValue for [u16] {
    fn value_count(&self) -> usize {
        <[u16]>::len(self)
    }
    fn value_at(&self, i: usize) -> Value<'_> {
        self.as_ref().get(i).map_or(Value::None, |v| Value::Uint(u64::from(*v)))
    }
}

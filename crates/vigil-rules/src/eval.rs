//! Evaluation of compiled conditions against an event.
//!
//! The hot path allocates nothing: values are borrowed from the event,
//! numbers are formatted into a stack buffer when they must be compared as
//! text. Only transformers (`tolower(...)` etc.) build new strings.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::ast::{Op, Transformer};
use crate::condition::{Check, CheckRhs, Condition, Literal, Matcher, Operand, ValueSet};
use crate::event::{EventSource, Value};
use crate::fields::{Field, Multi};
use crate::matcher::{contains_bytes, contains_icase};

/// Evaluates a condition.
pub fn eval(c: &Condition, ev: &dyn EventSource) -> bool {
    match c {
        Condition::Bool(b) => *b,
        Condition::And(v) => v.iter().all(|c| eval(c, ev)),
        Condition::Or(v) => v.iter().any(|c| eval(c, ev)),
        Condition::Not(c) => !eval(c, ev),
        Condition::Check(ch) => eval_check(ch, ev),
    }
}

pub(crate) fn operand_value<'e>(o: &Operand, ev: &'e dyn EventSource) -> Value<'e> {
    match o {
        Operand::Field(f) if f.field == Field::EvtType => Value::str(ev.evt_type()),
        Operand::Field(f) => ev.field(f),
        Operand::Transform(t, inner) => transform(*t, operand_value(inner, ev)),
    }
}

fn transform(t: Transformer, v: Value<'_>) -> Value<'_> {
    if let Value::List(l) = &v {
        if t == Transformer::Len {
            return Value::Uint(l.value_count() as u64);
        }
        return Value::None;
    }
    if matches!(v, Value::None) {
        return Value::None;
    }
    let mut buf = StackStr::new();
    let text: Cow<'_, str> = match &v {
        Value::Str(s) => Cow::Borrowed(s.as_ref()),
        Value::Bytes(b) => String::from_utf8_lossy(b),
        other => match buf.format(other) {
            Some(s) => Cow::Owned(s.to_string()),
            None => return Value::None,
        },
    };
    match t {
        Transformer::ToLower => Value::Str(Cow::Owned(text.to_lowercase())),
        Transformer::ToUpper => Value::Str(Cow::Owned(text.to_uppercase())),
        Transformer::Len => Value::Uint(text.len() as u64),
        Transformer::Basename => {
            let base = text.rsplit('/').next().unwrap_or("").to_string();
            Value::Str(Cow::Owned(base))
        }
        Transformer::B64 => match b64_decode(&text) {
            Some(bytes) => Value::Str(Cow::Owned(String::from_utf8_lossy(&bytes).into_owned())),
            None => Value::None,
        },
    }
}

fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn eval_check(ch: &Check, ev: &dyn EventSource) -> bool {
    if !ch.available {
        return false;
    }
    let v = operand_value(&ch.lhs, ev);
    match v {
        Value::None => false,
        Value::List(l) => {
            if ch.op == Op::Exists {
                return l.value_count() != 0;
            }
            let multi = match ch.lhs {
                Operand::Field(ref f) => f.multi(),
                _ => Multi::Any,
            };
            let n = l.value_count();
            match (multi, ch.op) {
                (Multi::Either, Op::Ne) => (0..n).all(|i| cmp_one(ch, &l.value_at(i), ev)),
                (Multi::List, Op::In) => n > 0 && (0..n).all(|i| cmp_one(ch, &l.value_at(i), ev)),
                _ => (0..n).any(|i| cmp_one(ch, &l.value_at(i), ev)),
            }
        }
        ref single => cmp_one(ch, single, ev),
    }
}

fn cmp_one(ch: &Check, v: &Value<'_>, ev: &dyn EventSource) -> bool {
    if matches!(v, Value::None) {
        return false;
    }
    if let CheckRhs::Operand(o) = &ch.rhs {
        return cmp_operand(ch.op, v, &operand_value(o, ev));
    }
    match (&ch.matcher, ch.op) {
        (_, Op::Exists) => true,
        (Matcher::One(l), Op::Eq) => eq(v, l),
        (Matcher::One(l), Op::Ne) => !eq(v, l),
        (Matcher::One(l), Op::Lt) => num(v).zip(l.num).is_some_and(|(a, b)| a < b),
        (Matcher::One(l), Op::Le) => num(v).zip(l.num).is_some_and(|(a, b)| a <= b),
        (Matcher::One(l), Op::Gt) => num(v).zip(l.num).is_some_and(|(a, b)| a > b),
        (Matcher::One(l), Op::Ge) => num(v).zip(l.num).is_some_and(|(a, b)| a >= b),
        (Matcher::One(l), Op::Contains) => with_text(v, |s| s.contains(&*l.text)),
        (Matcher::One(l), Op::IContains) => with_text(v, |s| contains_icase(s, &l.lower)),
        (Matcher::One(l), Op::StartsWith) => with_text(v, |s| s.starts_with(&*l.text)),
        (Matcher::One(l), Op::EndsWith) => with_text(v, |s| s.ends_with(&*l.text)),
        (Matcher::One(l), Op::BContains) => with_bytes(v, |b| l.bytes.as_deref().is_some_and(|n| contains_bytes(b, n))),
        (Matcher::One(l), Op::BStartsWith) => with_bytes(v, |b| l.bytes.as_deref().is_some_and(|n| b.starts_with(n))),
        (Matcher::Glob(g), _) => with_text(v, |s| g.is_match(s)),
        (Matcher::Regex(r), _) => with_text(v, |s| r.is_match(s)),
        (Matcher::Paths(t), _) => with_text(v, |s| t.is_match(s)),
        (Matcher::Set(set), _) => in_set(v, set),
        _ => false,
    }
}

fn eq(v: &Value<'_>, l: &Literal) -> bool {
    match v {
        Value::Str(s) => {
            if **s == *l.text {
                return true;
            }
            // A host may hand an address field over as text.
            if let Some(net) = &l.net {
                if let Ok(ip) = s.parse::<IpAddr>() {
                    return net.contains(ip);
                }
            }
            false
        }
        Value::Bytes(b) => *b == l.text.as_bytes(),
        Value::Int(_) | Value::Uint(_) => match (num(v), l.num) {
            (Some(a), Some(b)) => a == b,
            _ => with_text(v, |s| s == &*l.text),
        },
        Value::Bool(b) => match l.boolean {
            Some(x) => x == *b,
            None => with_text(v, |s| s == &*l.text),
        },
        Value::Ip(ip) => match &l.net {
            Some(net) => net.contains(*ip),
            None => with_text(v, |s| s == &*l.text),
        },
        Value::None | Value::List(_) => false,
    }
}

fn in_set(v: &Value<'_>, set: &ValueSet) -> bool {
    match v {
        Value::Str(s) => {
            if set.strs.contains(s.as_ref()) {
                return true;
            }
            if !set.nets.is_empty() {
                if let Ok(ip) = s.parse::<IpAddr>() {
                    return set.nets.iter().any(|n| n.contains(ip));
                }
            }
            false
        }
        Value::Bytes(b) => std::str::from_utf8(b).is_ok_and(|s| set.strs.contains(s)),
        Value::Int(_) | Value::Uint(_) => {
            num(v).is_some_and(|n| set.nums.contains(&n)) || with_text(v, |s| set.strs.contains(s))
        }
        Value::Bool(b) => set.bools[usize::from(*b)],
        Value::Ip(ip) => set.nets.iter().any(|n| n.contains(*ip)) || with_text(v, |s| set.strs.contains(s)),
        Value::None | Value::List(_) => false,
    }
}

fn cmp_operand(op: Op, a: &Value<'_>, b: &Value<'_>) -> bool {
    if let Value::List(l) = b {
        return (0..l.value_count()).any(|i| cmp_operand(op, a, &l.value_at(i)));
    }
    if matches!(b, Value::None) {
        return false;
    }
    if let (Some(x), Some(y)) = (num(a), num(b)) {
        return match op {
            Op::Eq | Op::In | Op::Intersects => x == y,
            Op::Ne => x != y,
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
            _ => false,
        };
    }
    with_text(a, |x| {
        with_text(b, |y| match op {
            Op::Eq | Op::In | Op::Intersects => x == y,
            Op::Ne => x != y,
            Op::Contains => x.contains(y),
            Op::IContains => x.to_ascii_lowercase().contains(&y.to_ascii_lowercase()),
            Op::StartsWith => x.starts_with(y),
            Op::EndsWith => x.ends_with(y),
            Op::Lt => x < y,
            Op::Le => x <= y,
            Op::Gt => x > y,
            Op::Ge => x >= y,
            _ => false,
        })
    })
}

/// Numeric view of a value; text is parsed (dynamic fields).
fn num(v: &Value<'_>) -> Option<i128> {
    match v {
        Value::Int(i) => Some(i128::from(*i)),
        Value::Uint(u) => Some(i128::from(*u)),
        Value::Str(s) => parse_num(s),
        _ => None,
    }
}

pub(crate) fn parse_num(s: &str) -> Option<i128> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i128::from_str_radix(hex, 16).ok();
    }
    s.parse::<i128>().ok()
}

fn with_text(v: &Value<'_>, f: impl FnOnce(&str) -> bool) -> bool {
    match v {
        Value::Str(s) => f(s),
        Value::Bytes(b) => std::str::from_utf8(b).is_ok_and(f),
        other => {
            let mut buf = StackStr::new();
            buf.format(other).is_some_and(f)
        }
    }
}

fn with_bytes(v: &Value<'_>, f: impl FnOnce(&[u8]) -> bool) -> bool {
    match v {
        Value::Bytes(b) => f(b),
        Value::Str(s) => f(s.as_bytes()),
        _ => false,
    }
}

/// Formats scalars into a fixed buffer so comparisons never allocate.
pub(crate) struct StackStr {
    buf: [u8; 64],
    len: usize,
}

impl StackStr {
    pub fn new() -> Self {
        StackStr { buf: [0; 64], len: 0 }
    }

    pub fn format(&mut self, v: &Value<'_>) -> Option<&str> {
        self.len = 0;
        let ok = match v {
            Value::Int(i) => write!(self, "{i}").is_ok(),
            Value::Uint(u) => write!(self, "{u}").is_ok(),
            Value::Bool(b) => write!(self, "{b}").is_ok(),
            Value::Ip(ip) => write!(self, "{ip}").is_ok(),
            _ => false,
        };
        if ok {
            std::str::from_utf8(&self.buf[..self.len]).ok()
        } else {
            None
        }
    }
}

impl std::fmt::Write for StackStr {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(std::fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

//! Per-rule rate limiting with scopes.
//!
//! Each (rule, scope key) has a token bucket holding up to `burst` tokens and
//! refilled at `burst` tokens per `per`, on event time. A match that finds
//! no token is suppressed and counted; the next match emitted for that
//! rule/scope carries the number suppressed since the previous one, and
//! per-rule totals are kept. Nothing is dropped silently: if a bucket with
//! pending suppressions is evicted (too many distinct scope keys), its count
//! moves to the rule's `unreported` total.

use serde::Serialize;

use crate::event::{EventSource, Value};
use crate::fields::{Field, FieldRef};
use crate::matcher::{hash_str, FxHashMap};

/// Which events share a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One bucket per process (pid).
    Process,
    /// One bucket per executable path (`proc.exepath`).
    Executable,
    /// One bucket per parent process (ppid): a noisy parent's children share it.
    Parent,
    /// One bucket for the whole rule.
    Global,
}

impl Scope {
    pub fn parse(s: &str) -> Option<Scope> {
        Some(match s {
            "process" => Scope::Process,
            "executable" | "exe" => Scope::Executable,
            "parent" => Scope::Parent,
            "global" => Scope::Global,
            _ => return None,
        })
    }
}

/// `rate_limit: {scope: process, burst: 5, per: 60s}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RateLimit {
    pub scope: Scope,
    /// Matches allowed in a burst (bucket capacity).
    pub burst: u32,
    /// Period over which `burst` tokens are refilled, in nanoseconds.
    pub per_ns: u64,
}

/// A rule's setting: inherit the engine default, its own limit, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RateLimitSetting {
    Default,
    Unlimited,
    Limit(RateLimit),
}

impl RateLimitSetting {
    pub fn resolve(self, default: Option<RateLimit>) -> Option<RateLimit> {
        match self {
            RateLimitSetting::Default => default,
            RateLimitSetting::Unlimited => None,
            RateLimitSetting::Limit(l) => Some(l),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Credit in nanoseconds; one token costs `interval` ns.
    credit: u64,
    last_ns: u64,
    pending_suppressed: u64,
}

/// Rate-limit counters of one rule.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct RateStats {
    /// Matches suppressed in total.
    pub suppressed: u64,
    /// Of those, how many were never attached to a later match because their
    /// bucket was evicted.
    pub unreported: u64,
    pub evicted_buckets: u64,
}

#[derive(Debug, Default)]
pub(crate) struct RuleLimiter {
    buckets: FxHashMap<u64, Bucket>,
    pub stats: RateStats,
}

/// Outcome for one match.
pub(crate) enum Decision {
    /// Emit; carries how many were suppressed in this scope since the last emit.
    Emit(u64),
    Suppress,
}

pub(crate) fn scope_key(scope: Scope, ev: &dyn EventSource) -> u64 {
    let lineage = ev.lineage();
    match scope {
        Scope::Global => 0,
        Scope::Process => match lineage.first() {
            Some(p) => u64::from(*p),
            None => int_field(ev, Field::ProcPid),
        },
        Scope::Parent => match lineage.get(1) {
            Some(p) => u64::from(*p),
            None => int_field(ev, Field::ProcPpid),
        },
        Scope::Executable => match ev.field(&FieldRef::new(Field::ProcExepath)) {
            Value::Str(s) => hash_str(&s),
            _ => 1,
        },
    }
}

fn int_field(ev: &dyn EventSource, f: Field) -> u64 {
    match ev.field(&FieldRef::new(f)) {
        Value::Int(i) => i as u64,
        Value::Uint(u) => u,
        _ => u64::MAX,
    }
}

impl RuleLimiter {
    pub fn check(&mut self, limit: &RateLimit, key: u64, now_ns: u64, max_buckets: usize) -> Decision {
        let interval = (limit.per_ns / u64::from(limit.burst.max(1))).max(1);
        let cap = interval.saturating_mul(u64::from(limit.burst.max(1)));
        if !self.buckets.contains_key(&key) && self.buckets.len() >= max_buckets.max(1) {
            self.evict_oldest();
        }
        let b = self.buckets.entry(key).or_insert(Bucket {
            credit: cap,
            last_ns: now_ns,
            pending_suppressed: 0,
        });
        let elapsed = now_ns.saturating_sub(b.last_ns);
        b.credit = b.credit.saturating_add(elapsed).min(cap);
        b.last_ns = b.last_ns.max(now_ns);
        if b.credit >= interval {
            b.credit -= interval;
            let s = b.pending_suppressed;
            b.pending_suppressed = 0;
            Decision::Emit(s)
        } else {
            b.pending_suppressed += 1;
            self.stats.suppressed += 1;
            Decision::Suppress
        }
    }

    fn evict_oldest(&mut self) {
        let oldest = self.buckets.iter().min_by_key(|(_, b)| b.last_ns).map(|(k, _)| *k);
        if let Some(k) = oldest {
            if let Some(b) = self.buckets.remove(&k) {
                self.stats.unreported += b.pending_suppressed;
                self.stats.evicted_buckets += 1;
            }
        }
    }
}

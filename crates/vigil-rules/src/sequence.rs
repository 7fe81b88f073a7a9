//! Vigil's extension: ordered sequences of conditions within a time window,
//! correlated on a key and on the process tree.
//!
//! ```yaml
//! - rule: Dropped binary executed
//!   sequence:
//!     within: 60s
//!     by: lineage          # process | lineage | any
//!     steps:
//!       - condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write = true
//!         key: fd.name
//!       - condition: evt.type in (chmod, fchmod, fchmodat)
//!         key: fd.name
//!       - condition: evt.type in (execve, execveat)
//!         key: proc.exepath
//!   output: "%proc.exepath written then executed (%proc.cmdline)"
//!   priority: CRITICAL
//! ```
//!
//! Semantics: a partial match starts when an event matches step 1; its
//! window runs from that event's time. Each later event may advance every
//! pending partial by one step when it matches the next step's condition,
//! its key value equals the key recorded by the first keyed step, and its
//! process satisfies `by` (`process`: same pid as step 1; `lineage`: step
//! 1's pid is the process or one of its ancestors; `any`: no constraint).
//! A step whose key field has no value never matches. Partials are capped
//! per rule (`max_pending`, oldest evicted and counted) and expire.

use serde::Serialize;

use crate::condition::{Condition, Operand};
use crate::eval::{eval, operand_value};
use crate::event::EventSource;
use crate::evttypes::EvtTypes;
use crate::output::{write_value, OutputTemplate};

/// Most steps a sequence may have.
pub const MAX_STEPS: usize = 16;

/// How the steps of a sequence must be related in the process tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SequenceBy {
    /// Every step in the same process as step 1.
    Process,
    /// Every step in step 1's process or one of its descendants.
    Lineage,
    /// No process relation required (use a `key`).
    Any,
}

/// One step of a sequence rule.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub name: Option<String>,
    pub condition: Condition,
    /// Correlation key: its value must equal the value recorded at the first
    /// keyed step.
    pub key: Option<Operand>,
    /// Optional per-step output, rendered when the step matches.
    pub output: Option<OutputTemplate>,
    pub evt_types: EvtTypes,
}

/// A compiled sequence.
#[derive(Debug, Clone, Serialize)]
pub struct Sequence {
    pub within_ns: u64,
    pub by: SequenceBy,
    /// Cap on pending partial matches for this rule.
    pub max_pending: usize,
    pub steps: Vec<Step>,
}

/// What a step of a completed sequence matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepMatch {
    pub step: usize,
    pub name: Option<String>,
    pub ts_ns: u64,
    pub evt_type: String,
    pub pid: Option<u32>,
    /// The step's key value, if it has a key.
    pub key: Option<String>,
    /// The step's rendered output, if it has one.
    pub output: Option<String>,
}

/// Counters of one sequence rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SequenceStats {
    pub started: u64,
    pub completed: u64,
    pub expired: u64,
    /// Partials dropped because `max_pending` was reached.
    pub evicted: u64,
    pub pending: u64,
}

struct Partial {
    next: usize,
    start_ns: u64,
    anchor: Option<u32>,
    key: Option<String>,
    steps: Vec<StepMatch>,
}

#[derive(Default)]
pub(crate) struct SequenceState {
    partials: Vec<Partial>,
    pub stats: SequenceStats,
}

fn key_text(op: &Operand, ev: &dyn EventSource) -> Option<String> {
    let v = operand_value(op, ev);
    if v.is_none() {
        return None;
    }
    let mut s = String::new();
    write_value(&mut s, &v, op.field().multi());
    Some(s)
}

impl SequenceState {
    /// Feeds one event; returns the step lists of sequences it completed.
    pub fn on_event(&mut self, seq: &Sequence, ev: &dyn EventSource) -> Vec<Vec<StepMatch>> {
        let now = ev.ts_ns();
        let before = self.partials.len();
        self.partials
            .retain(|p| now.saturating_sub(p.start_ns) <= seq.within_ns);
        self.stats.expired += (before - self.partials.len()) as u64;

        let ty = ev.evt_type();
        // Each step condition is evaluated at most once per event.
        // Fixed arrays: no allocation per event (steps are capped at MAX_STEPS).
        let mut matched: [Option<bool>; MAX_STEPS] = [None; MAX_STEPS];
        let step_matches = |i: usize, matched: &mut [Option<bool>; MAX_STEPS]| -> bool {
            if let Some(m) = matched[i] {
                return m;
            }
            let s = &seq.steps[i];
            let m = s.evt_types.contains(ty) && eval(&s.condition, ev);
            matched[i] = Some(m);
            m
        };
        let lineage = ev.lineage();
        let pid = lineage.first().copied();
        let mut keys: [Option<Option<String>>; MAX_STEPS] = [const { None }; MAX_STEPS];
        let key_of = |i: usize, keys: &mut [Option<Option<String>>; MAX_STEPS]| -> Option<String> {
            if keys[i].is_none() {
                keys[i] = Some(seq.steps[i].key.as_ref().and_then(|k| key_text(k, ev)));
            }
            keys[i].clone().flatten()
        };
        let record = |i: usize, key: Option<String>| StepMatch {
            step: i,
            name: seq.steps[i].name.clone(),
            ts_ns: now,
            evt_type: ty.to_string(),
            pid,
            key,
            output: seq.steps[i].output.as_ref().map(|o| o.format(ev)),
        };

        let mut completed = Vec::new();
        let mut i = 0;
        while i < self.partials.len() {
            let next = self.partials[i].next;
            if next >= seq.steps.len() || !step_matches(next, &mut matched) {
                i += 1;
                continue;
            }
            let process_ok = match (seq.by, self.partials[i].anchor) {
                (SequenceBy::Any, _) => true,
                (SequenceBy::Process, Some(a)) => pid == Some(a),
                (SequenceBy::Lineage, Some(a)) => lineage.contains(&a),
                (_, None) => false,
            };
            if !process_ok {
                i += 1;
                continue;
            }
            let key = if seq.steps[next].key.is_some() {
                match key_of(next, &mut keys) {
                    Some(k) => {
                        if self.partials[i].key.as_ref().is_some_and(|pk| *pk != k) {
                            i += 1;
                            continue;
                        }
                        Some(k)
                    }
                    None => {
                        i += 1;
                        continue;
                    }
                }
            } else {
                None
            };
            let p = &mut self.partials[i];
            if p.key.is_none() {
                p.key = key.clone();
            }
            p.steps.push(record(next, key));
            p.next += 1;
            if p.next == seq.steps.len() {
                let done = self.partials.remove(i);
                self.stats.completed += 1;
                completed.push(done.steps);
                continue;
            }
            i += 1;
        }

        if step_matches(0, &mut matched) {
            let key = if seq.steps[0].key.is_some() {
                key_of(0, &mut keys)
            } else {
                None
            };
            let keyed_ok = seq.steps[0].key.is_none() || key.is_some();
            let anchored_ok = seq.by == SequenceBy::Any || pid.is_some();
            if keyed_ok && anchored_ok {
                // A newer identical partial dominates an older one: same state, longer window.
                self.partials
                    .retain(|p| !(p.next == 1 && p.anchor == pid && p.key == key));
                if self.partials.len() >= seq.max_pending.max(1) {
                    self.partials.remove(0);
                    self.stats.evicted += 1;
                }
                self.partials.push(Partial {
                    next: 1,
                    start_ns: now,
                    anchor: pid,
                    key: key.clone(),
                    steps: vec![record(0, key)],
                });
                self.stats.started += 1;
            }
        }
        self.stats.pending = self.partials.len() as u64;
        completed
    }
}

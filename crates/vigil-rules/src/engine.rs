//! The stateful evaluator: runs events through a [`RuleSet`], applies rate
//! limits and tracks sequences.

use std::sync::Arc;

use serde::Serialize;

use crate::eval::eval;
use crate::event::EventSource;
use crate::ratelimit::{scope_key, Decision, RateLimit, RateStats, RuleLimiter};
use crate::ruleset::{Priority, RuleKind, RuleSet};
use crate::sequence::{SequenceState, SequenceStats, StepMatch};

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Applied to every rule without its own `rate_limit` (`rate_limit: none`
    /// opts a rule out). `None`: no default limit.
    pub default_rate_limit: Option<RateLimit>,
    /// Cap on distinct scope keys tracked per rule (oldest evicted).
    pub max_rate_buckets: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            default_rate_limit: None,
            max_rate_buckets: 4096,
        }
    }
}

/// A rule match.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    pub rule: String,
    /// Index of the rule in [`RuleSet::rules`].
    pub rule_index: usize,
    pub priority: Priority,
    pub tags: Vec<String>,
    /// The rule's output with fields of the (last) event filled in.
    pub output: String,
    pub ts_ns: u64,
    /// Matches of this rule and rate-limit scope suppressed since the
    /// previous emitted one.
    pub suppressed: u64,
    /// For sequence rules: what each step matched, in order.
    pub steps: Vec<StepMatch>,
}

/// Per-rule counters.
#[derive(Debug, Clone, Serialize)]
pub struct RuleStats {
    pub rule: String,
    pub matches: u64,
    pub rate: RateStats,
    pub sequence: Option<SequenceStats>,
}

/// Evaluates events against a shared rule set.
pub struct Engine {
    rules: Arc<RuleSet>,
    config: EngineConfig,
    limiters: Vec<RuleLimiter>,
    sequences: Vec<Option<SequenceState>>,
    matches: Vec<u64>,
    events: u64,
}

impl Engine {
    pub fn new(rules: Arc<RuleSet>, config: EngineConfig) -> Engine {
        let n = rules.rules().len();
        let sequences = rules
            .rules()
            .iter()
            .map(|r| matches!(r.kind, RuleKind::Sequence(_)).then(SequenceState::default))
            .collect();
        Engine {
            rules,
            config,
            limiters: (0..n).map(|_| RuleLimiter::default()).collect(),
            sequences,
            matches: vec![0; n],
            events: 0,
        }
    }

    pub fn rules(&self) -> &Arc<RuleSet> {
        &self.rules
    }

    /// Runs one event through every enabled rule that can match its type;
    /// appends emitted matches to `out` in rule order and returns how many.
    pub fn process(&mut self, ev: &dyn EventSource, out: &mut Vec<Match>) -> usize {
        self.events += 1;
        let before = out.len();
        let rules: &RuleSet = &self.rules;
        for &id in rules.candidates(ev.evt_type()) {
            let rule = &rules.rules()[id];
            match &rule.kind {
                RuleKind::Condition(c) => {
                    if eval(c, ev) {
                        let limiter = &mut self.limiters[id];
                        emit(
                            rules,
                            &self.config,
                            limiter,
                            &mut self.matches[id],
                            id,
                            ev,
                            Vec::new(),
                            out,
                        );
                    }
                }
                RuleKind::Sequence(s) => {
                    let Some(state) = self.sequences[id].as_mut() else {
                        continue;
                    };
                    for steps in state.on_event(s, ev) {
                        let limiter = &mut self.limiters[id];
                        emit(rules, &self.config, limiter, &mut self.matches[id], id, ev, steps, out);
                    }
                }
            }
        }
        out.len() - before
    }

    /// Events processed so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Matches suppressed by rate limits, over all rules.
    pub fn suppressed_total(&self) -> u64 {
        self.limiters.iter().map(|l| l.stats.suppressed).sum()
    }

    /// Counters of one rule by name.
    pub fn rule_stats(&self, name: &str) -> Option<RuleStats> {
        let id = self.rules.rules().iter().position(|r| r.name == name)?;
        Some(self.stats_of(id))
    }

    fn stats_of(&self, id: usize) -> RuleStats {
        RuleStats {
            rule: self.rules.rules()[id].name.clone(),
            matches: self.matches[id],
            rate: self.limiters[id].stats,
            sequence: self.sequences[id].as_ref().map(|s| s.stats),
        }
    }

    /// Counters of every rule, in rule order.
    pub fn stats(&self) -> Vec<RuleStats> {
        (0..self.rules.rules().len()).map(|i| self.stats_of(i)).collect()
    }
}

/// Applies the rule's rate limit and, if allowed, renders and appends the match.
#[allow(clippy::too_many_arguments)]
fn emit(
    rules: &RuleSet,
    config: &EngineConfig,
    limiter: &mut RuleLimiter,
    matches: &mut u64,
    id: usize,
    ev: &dyn EventSource,
    steps: Vec<StepMatch>,
    out: &mut Vec<Match>,
) {
    let rule = &rules.rules()[id];
    let suppressed = match rule.rate_limit.resolve(config.default_rate_limit) {
        None => 0,
        Some(limit) => {
            let key = scope_key(limit.scope, ev);
            match limiter.check(&limit, key, ev.ts_ns(), config.max_rate_buckets) {
                Decision::Emit(s) => s,
                Decision::Suppress => return,
            }
        }
    };
    *matches += 1;
    out.push(Match {
        rule: rule.name.clone(),
        rule_index: id,
        priority: rule.priority,
        tags: rule.tags.clone(),
        output: rule.output.format(ev),
        ts_ns: ev.ts_ns(),
        suppressed,
        steps,
    });
}

//! Vigil's extensions to rule items: `sequence` and `rate_limit`.

use super::{Reader, SequenceDef, StepDef};
use crate::ratelimit::{RateLimit, RateLimitSetting, Scope};
use crate::sequence::SequenceBy;
use crate::yaml::Node;

impl Reader<'_> {
    pub(super) fn rate_limit(&mut self, n: &Node) -> Option<RateLimitSetting> {
        match n {
            Node::Scalar(s) => {
                if matches!(
                    s.value.to_ascii_lowercase().as_str(),
                    "none" | "off" | "false" | "unlimited"
                ) {
                    return Some(RateLimitSetting::Unlimited);
                }
                self.err(s.pos, format!("`rate_limit` must be a mapping like `{{scope: process, burst: 5, per: 60s}}` or `none`, found `{}`", s.value));
                None
            }
            Node::Map(_, p) => {
                self.unknown_keys(n, &["scope", "burst", "per"], "`rate_limit`");
                let scope = match n.get("scope") {
                    None => Scope::Global,
                    Some(Node::Scalar(s)) => match Scope::parse(&s.value) {
                        Some(sc) => sc,
                        None => {
                            self.err(
                                s.pos,
                                format!(
                                    "invalid rate limit scope `{}`: expected process, executable, parent or global",
                                    s.value
                                ),
                            );
                            return None;
                        }
                    },
                    Some(o) => {
                        self.err(o.pos(), "rate limit `scope` must be a string");
                        return None;
                    }
                };
                let burst = match n.get("burst") {
                    Some(Node::Scalar(s)) => match s.value.parse::<u32>() {
                        Ok(b) if b > 0 => b,
                        _ => {
                            self.err(
                                s.pos,
                                format!("rate limit `burst` must be a positive integer, found `{}`", s.value),
                            );
                            return None;
                        }
                    },
                    Some(o) => {
                        self.err(o.pos(), "rate limit `burst` must be a positive integer");
                        return None;
                    }
                    None => {
                        self.err(*p, "rate limit needs `burst` (how many alerts per period)");
                        return None;
                    }
                };
                let per_ns = match n.get("per") {
                    Some(Node::Scalar(s)) => match parse_duration(&s.value) {
                        Some(d) if d > 0 => d,
                        _ => {
                            self.err(s.pos, bad_duration(&s.value));
                            return None;
                        }
                    },
                    Some(o) => {
                        self.err(o.pos(), "rate limit `per` must be a duration like `60s`");
                        return None;
                    }
                    None => {
                        self.err(*p, "rate limit needs `per` (a duration like `60s`)");
                        return None;
                    }
                };
                Some(RateLimitSetting::Limit(RateLimit { scope, burst, per_ns }))
            }
            other => {
                self.err(other.pos(), "`rate_limit` must be a mapping");
                None
            }
        }
    }

    pub(super) fn sequence(&mut self, n: &Node) -> Option<SequenceDef> {
        let Node::Map(_, pos) = n else {
            self.err(
                n.pos(),
                format!(
                    "`sequence` must be a mapping with `within`, `by` and `steps`, found {}",
                    n.kind()
                ),
            );
            return None;
        };
        let pos = *pos;
        self.unknown_keys(n, &["within", "by", "steps", "max_pending"], "a sequence");
        let within_ns = match n.get("within") {
            Some(Node::Scalar(s)) => match parse_duration(&s.value) {
                Some(d) if d > 0 => d,
                _ => {
                    self.err(s.pos, bad_duration(&s.value));
                    return None;
                }
            },
            Some(o) => {
                self.err(o.pos(), "`within` must be a duration like `60s`");
                return None;
            }
            None => {
                self.err(pos, "sequence has no `within` (the time window, e.g. `60s`)");
                return None;
            }
        };
        let by = match n.get("by") {
            None => SequenceBy::Lineage,
            Some(Node::Scalar(s)) => match s.value.as_str() {
                "process" => SequenceBy::Process,
                "lineage" => SequenceBy::Lineage,
                "any" => SequenceBy::Any,
                other => {
                    self.err(
                        s.pos,
                        format!("invalid sequence `by: {other}`: expected process, lineage or any"),
                    );
                    return None;
                }
            },
            Some(o) => {
                self.err(o.pos(), "`by` must be process, lineage or any");
                return None;
            }
        };
        let max_pending = match n.get("max_pending") {
            None => None,
            Some(Node::Scalar(s)) => match s.value.parse::<usize>() {
                Ok(v) if v > 0 => Some(v),
                _ => {
                    self.err(
                        s.pos,
                        format!("`max_pending` must be a positive integer, found `{}`", s.value),
                    );
                    return None;
                }
            },
            Some(o) => {
                self.err(o.pos(), "`max_pending` must be a positive integer");
                return None;
            }
        };
        let steps_node = match n.get("steps") {
            Some(Node::Seq(v, p)) => (v, *p),
            Some(o) => {
                self.err(o.pos(), format!("`steps` must be a sequence, found {}", o.kind()));
                return None;
            }
            None => {
                self.err(pos, "sequence has no `steps`");
                return None;
            }
        };
        if steps_node.0.len() < 2 || steps_node.0.len() > crate::sequence::MAX_STEPS {
            self.err(
                steps_node.1,
                format!(
                    "a sequence needs 2 to {} steps, found {}",
                    crate::sequence::MAX_STEPS,
                    steps_node.0.len()
                ),
            );
            return None;
        }
        let mut steps = Vec::new();
        let mut ok = true;
        for st in steps_node.0 {
            if !matches!(st, Node::Map(..)) {
                self.err(
                    st.pos(),
                    format!(
                        "a sequence step must be a mapping with `condition`, found {}",
                        st.kind()
                    ),
                );
                ok = false;
                continue;
            }
            self.unknown_keys(st, &["condition", "key", "output", "name"], "a sequence step");
            let Some(c) = self.scalar(st, "condition", "a sequence step") else {
                self.err(st.pos(), "sequence step has no `condition`");
                ok = false;
                continue;
            };
            let cond = self.text(c);
            let key = self.scalar(st, "key", "a sequence step").map(|s| self.text(s));
            let output = self.scalar(st, "output", "a sequence step").map(|s| self.text(s));
            let name = self.string(st, "name", "a sequence step");
            steps.push(StepDef {
                name,
                cond,
                key,
                output,
            });
        }
        ok.then_some(SequenceDef {
            within_ns,
            by,
            max_pending,
            steps,
        })
    }
}
fn bad_duration(s: &str) -> String {
    format!(
        "invalid duration `{s}`: expected a positive number followed by a unit (ns, us, ms, s, m, h, d), e.g. `60s`"
    )
}

/// Parses `60s`, `500ms`, `5m`, `1h`, `2d`, `10us`, `100ns`; a bare number is seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "s" => 1_000_000_000,
        "ns" => 1,
        "us" => 1_000,
        "ms" => 1_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        _ => return None,
    };
    n.checked_mul(mult)
}

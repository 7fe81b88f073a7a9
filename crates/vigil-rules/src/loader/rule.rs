//! Rule items: definitions, appends, overrides, `enabled` toggles,
//! priorities, tags and exceptions.

use super::{ExEntry, ExceptionDef, Mode, Reader, RuleDef, APPENDABLE, REPLACEABLE, RULE_KEYS, SYSCALL_SOURCE};
use crate::error::Position;
use crate::policy::Action;
use crate::ratelimit::RateLimitSetting;
use crate::ruleset::Priority;
use crate::yaml::Node;

impl Reader<'_> {
    pub(super) fn rule(&mut self, item: &Node, pos: Position) {
        let Some(name) = self.string(item, "rule", "a rule") else {
            self.err(pos, "`rule` must name the rule");
            return;
        };
        self.unknown_keys(item, RULE_KEYS, &format!("rule `{name}`"));
        let source = self.string(item, "source", "a rule");
        if let (Some(src), Some(i)) = (&source, self.col.rule_idx.get(&name)) {
            if self.col.rules[*i].source != *src {
                self.err(
                    pos,
                    format!("rule `{name}` is redefined with a different source (`{src}`)"),
                );
                return;
            }
        }
        let append_flag = self.boolean(item, "append").unwrap_or(false);
        let ov = self.overrides(item, APPENDABLE, REPLACEABLE);
        if append_flag && ov.is_some() {
            self.err(pos, "`append` and `override` cannot be used together");
            return;
        }
        if let Some(ov) = ov {
            // Every overridable key present must be covered by `override`.
            for key in REPLACEABLE {
                if let Some(k) = item.key(key) {
                    if !ov.iter().any(|(o, _, _)| o == key) {
                        self.err(
                            k.pos,
                            format!(
                                "key `{key}` has no entry under `override` (add `{key}: append` or `{key}: replace`)"
                            ),
                        );
                    }
                }
            }
            self.rule_override(item, pos, &name, &ov);
            return;
        }
        if append_flag {
            let ov: Vec<(String, Mode, Position)> = ["condition", "exceptions"]
                .iter()
                .filter(|k| item.get(k).is_some())
                .map(|k| (k.to_string(), Mode::Append, pos))
                .collect();
            if ov.is_empty() {
                self.err(
                    pos,
                    format!("appending to rule `{name}` needs a `condition` or `exceptions`"),
                );
                return;
            }
            self.rule_override(item, pos, &name, &ov);
            return;
        }
        let defines = ["condition", "output", "desc", "priority", "sequence"]
            .iter()
            .any(|k| item.get(k).is_some());
        if !defines {
            // `- rule: x` + `enabled: false`: toggles an existing rule.
            match self.boolean(item, "enabled") {
                Some(en) => match self.col.rule_idx.get(&name) {
                    Some(i) => self.col.rules[*i].enabled = en,
                    None => self.err(
                        pos,
                        format!(
                            "rule `{name}` is not defined (an item with only `enabled` changes a rule defined earlier)"
                        ),
                    ),
                },
                None => self.err(pos, format!("rule `{name}` has no `condition`")),
            }
            return;
        }
        self.rule_define(item, pos, name, source);
    }

    fn rule_define(&mut self, item: &Node, pos: Position, name: String, source: Option<String>) {
        let mut ok = true;
        let cond = self.scalar(item, "condition", "a rule").map(|s| self.text(s));
        let sequence = item.get("sequence").and_then(|n| self.sequence(n));
        match (&cond, item.get("sequence")) {
            (None, None) => {
                self.err(pos, format!("rule `{name}` has no `condition`"));
                ok = false;
            }
            (Some(_), Some(n)) => {
                self.err(
                    n.pos(),
                    format!("rule `{name}` has both `condition` and `sequence`; use one"),
                );
                ok = false;
            }
            (None, Some(_)) if sequence.is_none() => ok = false,
            _ => {}
        }
        let output = self.scalar(item, "output", "a rule").map(|s| self.text(s));
        if output.is_none() && item.get("output").is_none() {
            self.err(pos, format!("rule `{name}` has no `output`"));
            ok = false;
        }
        let priority = match item.get("priority") {
            Some(n) => self.priority(n),
            None => {
                self.err(pos, format!("rule `{name}` has no `priority`"));
                None
            }
        };
        let desc = match self.string(item, "desc", "a rule") {
            Some(d) => d,
            None => {
                if item.get("desc").is_none() {
                    self.warn(pos, format!("rule `{name}` has no `desc`"));
                }
                String::new()
            }
        };
        let tags = self.tags(item);
        let exceptions = self.exceptions(item, false);
        let rate_limit = match item.get("rate_limit") {
            Some(n) => match self.rate_limit(n) {
                Some(r) => r,
                None => {
                    ok = false;
                    RateLimitSetting::Default
                }
            },
            None => RateLimitSetting::Default,
        };
        let enabled = self.boolean(item, "enabled").unwrap_or(true);
        let action_origin = self.origin(item.key("action").map_or(pos, |k| k.pos));
        let action = match self.string(item, "action", "a rule") {
            None => Action::Alert,
            Some(a) => match Action::parse(&a) {
                Some(a) => a,
                None => {
                    self.err(
                        action_origin.pos,
                        format!("rule `{name}`: unknown action `{a}` (alert, kill or deny)"),
                    );
                    ok = false;
                    Action::Alert
                }
            },
        };
        let enforce = self.boolean(item, "enforce").unwrap_or(true);
        let warn_evttypes = self.boolean(item, "warn_evttypes").unwrap_or(true);
        let skip = self.boolean(item, "skip-if-unknown-filter").unwrap_or(false);
        let (Some(priority), true) = (priority, ok) else {
            return;
        };
        let id = self.col.next();
        let def = RuleDef {
            name: name.clone(),
            desc,
            cond,
            sequence,
            output,
            priority,
            tags,
            enabled,
            exceptions,
            source: source.unwrap_or_else(|| SYSCALL_SOURCE.to_string()),
            warn_evttypes,
            skip_if_unknown_filter: skip,
            rate_limit,
            action,
            action_origin,
            enforce,
            index: id,
            origin: self.origin(pos),
        };
        match self.col.rule_idx.get(&name) {
            Some(i) => {
                let idx = self.col.rules[*i].index;
                self.col.rules[*i] = RuleDef { index: idx, ..def };
            }
            None => {
                self.col.rule_idx.insert(name, self.col.rules.len());
                self.col.rules.push(def);
            }
        }
    }

    fn rule_override(&mut self, item: &Node, pos: Position, name: &str, ov: &[(String, Mode, Position)]) {
        let Some(&i) = self.col.rule_idx.get(name) else {
            let verb = if ov.iter().all(|(_, m, _)| *m == Mode::Append) {
                "append to"
            } else {
                "override"
            };
            self.err(pos, format!("cannot {verb} rule `{name}`: it is not defined earlier"));
            return;
        };
        for (key, mode, kpos) in ov {
            let mode = *mode;
            match key.as_str() {
                "condition" => {
                    let Some(s) = self.scalar(item, "condition", "a rule") else {
                        continue;
                    };
                    let t = self.text(s);
                    let r = &mut self.col.rules[i];
                    if r.sequence.is_some() {
                        self.err(
                            *kpos,
                            format!("rule `{name}` is a sequence; override its `sequence` instead"),
                        );
                        continue;
                    }
                    match (mode, &mut r.cond) {
                        (Mode::Append, Some(c)) => c.append(&t),
                        (_, c) => *c = Some(t),
                    }
                }
                "output" => {
                    let Some(s) = self.scalar(item, "output", "a rule") else {
                        continue;
                    };
                    let t = self.text(s);
                    match (mode, &mut self.col.rules[i].output) {
                        (Mode::Append, Some(o)) => o.append(&t),
                        (_, o) => *o = Some(t),
                    }
                }
                "desc" => {
                    let Some(d) = self.string(item, "desc", "a rule") else {
                        continue;
                    };
                    let r = &mut self.col.rules[i];
                    if mode == Mode::Append && !r.desc.is_empty() {
                        r.desc.push(' ');
                        r.desc.push_str(&d);
                    } else {
                        r.desc = d;
                    }
                }
                "tags" => {
                    let tags = self.tags(item);
                    let r = &mut self.col.rules[i];
                    if mode == Mode::Append {
                        for t in tags {
                            if !r.tags.contains(&t) {
                                r.tags.push(t);
                            }
                        }
                    } else {
                        r.tags = tags;
                    }
                }
                "exceptions" => {
                    let exs = self.exceptions(item, mode == Mode::Append);
                    let r = &mut self.col.rules[i];
                    if mode == Mode::Replace {
                        r.exceptions = exs;
                        continue;
                    }
                    for ex in exs {
                        match r.exceptions.iter_mut().find(|e| e.name == ex.name) {
                            Some(prev) => {
                                if ex.fields.is_some() || ex.comps.is_some() {
                                    let o = ex.origin.clone();
                                    self.diag.error(&o.file, o.pos, format!("exception `{}` already exists in rule `{name}`: only `values` can be appended", ex.name));
                                    continue;
                                }
                                prev.values.extend(ex.values);
                            }
                            None => {
                                if ex.fields.is_none() {
                                    let o = ex.origin.clone();
                                    self.diag.error(
                                        &o.file,
                                        o.pos,
                                        format!("new exception `{}` needs `fields`", ex.name),
                                    );
                                    continue;
                                }
                                r.exceptions.push(ex);
                            }
                        }
                    }
                }
                "priority" => {
                    if let Some(n) = item.get("priority") {
                        if let Some(p) = self.priority(n) {
                            self.col.rules[i].priority = p;
                        }
                    }
                }
                "enabled" => {
                    if let Some(b) = self.boolean(item, "enabled") {
                        self.col.rules[i].enabled = b;
                    }
                }
                "warn_evttypes" => {
                    if let Some(b) = self.boolean(item, "warn_evttypes") {
                        self.col.rules[i].warn_evttypes = b;
                    }
                }
                "skip-if-unknown-filter" => {
                    if let Some(b) = self.boolean(item, "skip-if-unknown-filter") {
                        self.col.rules[i].skip_if_unknown_filter = b;
                    }
                }
                "sequence" => {
                    if let Some(s) = item.get("sequence").and_then(|n| self.sequence(n)) {
                        let r = &mut self.col.rules[i];
                        r.sequence = Some(s);
                        r.cond = None;
                    }
                }
                "rate_limit" => {
                    if let Some(rl) = item.get("rate_limit").and_then(|n| self.rate_limit(n)) {
                        self.col.rules[i].rate_limit = rl;
                    }
                }
                _ => {}
            }
        }
        let id = self.col.next();
        let _ = id;
    }

    fn priority(&mut self, n: &Node) -> Option<Priority> {
        match n {
            Node::Scalar(s) => match Priority::parse(&s.value) {
                Some(p) => Some(p),
                None => {
                    self.err(
                        s.pos,
                        format!(
                            "invalid priority `{}`: expected one of EMERGENCY, ALERT, CRITICAL, ERROR, WARNING, NOTICE, INFORMATIONAL (or INFO), DEBUG",
                            s.value
                        ),
                    );
                    None
                }
            },
            other => {
                let p = other.pos();
                self.err(p, format!("`priority` must be a string, found {}", other.kind()));
                None
            }
        }
    }

    fn tags(&mut self, item: &Node) -> Vec<String> {
        match item.get("tags") {
            None => Vec::new(),
            Some(n) if n.is_null() => Vec::new(),
            Some(Node::Seq(v, _)) => {
                let mut out: Vec<String> = Vec::new();
                for t in v {
                    match t {
                        Node::Scalar(s) if !s.is_null() => {
                            if !out.contains(&s.value) {
                                out.push(s.value.clone());
                            }
                        }
                        other => {
                            let p = other.pos();
                            self.err(p, format!("tags must be strings, found {}", other.kind()));
                        }
                    }
                }
                out
            }
            Some(n) => {
                let p = n.pos();
                self.err(p, format!("`tags` must be a sequence, found {}", n.kind()));
                Vec::new()
            }
        }
    }

    fn ex_entry(&mut self, n: &Node) -> Option<ExEntry> {
        match n {
            Node::Scalar(s) => Some(ExEntry::Scalar(self.text(s), self.origin(s.pos))),
            Node::Seq(v, p) => {
                let items = v.iter().filter_map(|x| self.ex_entry(x)).collect();
                Some(ExEntry::Seq(items, self.origin(*p)))
            }
            Node::Map(_, p) => {
                self.err(
                    *p,
                    "exception fields, comps and values must be strings or sequences, found a mapping",
                );
                None
            }
        }
    }

    fn exceptions(&mut self, item: &Node, appending: bool) -> Vec<ExceptionDef> {
        let node = match item.get("exceptions") {
            None => return Vec::new(),
            Some(n) if n.is_null() => return Vec::new(),
            Some(n) => n,
        };
        let Node::Seq(exs, _) = node else {
            self.err(
                node.pos(),
                format!("`exceptions` must be a sequence, found {}", node.kind()),
            );
            return Vec::new();
        };
        let mut out: Vec<ExceptionDef> = Vec::new();
        for ex in exs {
            if !matches!(ex, Node::Map(..)) {
                self.err(
                    ex.pos(),
                    format!("an exception must be a mapping with `name`, found {}", ex.kind()),
                );
                continue;
            }
            self.unknown_keys(ex, &["name", "fields", "comps", "values"], "an exception");
            let Some(name) = self.string(ex, "name", "an exception") else {
                self.err(ex.pos(), "exception has no `name`");
                continue;
            };
            if out.iter().any(|e| e.name == name) {
                self.warn(
                    ex.pos(),
                    format!("exception `{name}` is defined twice in the same rule"),
                );
            }
            let fields = ex.get("fields").and_then(|n| self.ex_entry(n));
            if fields.is_none() && !appending {
                self.err(ex.pos(), format!("exception `{name}` has no `fields`"));
                continue;
            }
            let comps = ex.get("comps").and_then(|n| self.ex_entry(n));
            let values = match ex.get("values") {
                None => Vec::new(),
                Some(n) if n.is_null() => Vec::new(),
                Some(Node::Seq(v, _)) => v.iter().filter_map(|x| self.ex_entry(x)).collect(),
                Some(n) => {
                    let p = n.pos();
                    self.err(
                        p,
                        format!("`values` of exception `{name}` must be a sequence, found {}", n.kind()),
                    );
                    continue;
                }
            };
            out.push(ExceptionDef {
                name,
                fields,
                comps,
                values,
                origin: self.origin(ex.pos()),
            });
        }
        out
    }
}

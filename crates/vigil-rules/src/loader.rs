//! Reading rule files: YAML items into definitions of lists, macros and
//! rules, applying appends, overrides and `enabled` toggles in file order.
//!
//! Nothing is compiled here; conditions stay text (with a map back to file
//! positions) because a later file may still change a macro or list that an
//! earlier rule uses. Falco resolves names against the final definitions
//! too.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Diagnostics, Position};
use crate::ratelimit::{RateLimit, RateLimitSetting, Scope};
use crate::ruleset::Priority;
use crate::sequence::SequenceBy;
use crate::yaml::{self, Node, Scalar, ScalarMap, SourceFile};

/// Text from one or more YAML scalars (appends concatenate), with a map from
/// byte offsets back to file positions.
#[derive(Clone)]
pub(crate) struct Text {
    pub text: String,
    segments: Vec<Segment>,
}

#[derive(Clone)]
struct Segment {
    start: usize,
    file: Arc<str>,
    map: Arc<ScalarMap>,
}

impl Text {
    pub fn from_scalar(file: &Arc<str>, src: &SourceFile, sc: &Scalar) -> Text {
        Text {
            text: sc.value.clone(),
            segments: vec![Segment {
                start: 0,
                file: file.clone(),
                map: Arc::new(src.scalar_map(sc)),
            }],
        }
    }

    /// Falco appends with a single space between the parts.
    pub fn append(&mut self, other: &Text) {
        self.text.push(' ');
        let base = self.text.len();
        self.text.push_str(&other.text);
        for s in &other.segments {
            self.segments.push(Segment {
                start: base + s.start,
                file: s.file.clone(),
                map: s.map.clone(),
            });
        }
    }

    /// File and position of a byte offset.
    pub fn locate(&self, offset: usize) -> (&str, Position) {
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|s| s.start <= offset)
            .or(self.segments.first());
        match seg {
            Some(s) => (&s.file, s.map.at(offset - s.start.min(offset))),
            None => ("", Position::default()),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Origin {
    pub file: Arc<str>,
    pub pos: Position,
}

#[derive(Clone)]
pub(crate) struct ListItem {
    pub text: String,
    pub origin: Origin,
}

pub(crate) struct ListDef {
    pub name: String,
    pub items: Vec<ListItem>,
    /// Definition order of the first definition.
    pub index: usize,
    /// Order of the latest definition or append: only lists defined before
    /// this point may be referenced by name inside the items.
    pub visibility: usize,
    pub origin: Origin,
}

pub(crate) struct MacroDef {
    pub name: String,
    pub cond: Text,
    pub index: usize,
    pub visibility: usize,
    pub origin: Origin,
}

#[derive(Clone)]
pub(crate) enum ExEntry {
    Scalar(Text, Origin),
    Seq(Vec<ExEntry>, Origin),
}

impl ExEntry {
    pub fn origin(&self) -> &Origin {
        match self {
            ExEntry::Scalar(_, o) | ExEntry::Seq(_, o) => o,
        }
    }
}

#[derive(Clone)]
pub(crate) struct ExceptionDef {
    pub name: String,
    pub fields: Option<ExEntry>,
    pub comps: Option<ExEntry>,
    pub values: Vec<ExEntry>,
    pub origin: Origin,
}

#[derive(Clone)]
pub(crate) struct StepDef {
    pub name: Option<String>,
    pub cond: Text,
    pub key: Option<Text>,
    pub output: Option<Text>,
}

#[derive(Clone)]
pub(crate) struct SequenceDef {
    pub within_ns: u64,
    pub by: SequenceBy,
    pub max_pending: Option<usize>,
    pub steps: Vec<StepDef>,
}

#[derive(Clone)]
pub(crate) struct RuleDef {
    pub name: String,
    pub desc: String,
    pub cond: Option<Text>,
    pub sequence: Option<SequenceDef>,
    pub output: Option<Text>,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub enabled: bool,
    pub exceptions: Vec<ExceptionDef>,
    pub source: String,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub rate_limit: RateLimitSetting,
    pub index: usize,
    pub origin: Origin,
}

/// Everything read from the rule files, in definition order.
#[derive(Default)]
pub(crate) struct Collection {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    list_idx: HashMap<String, usize>,
    macro_idx: HashMap<String, usize>,
    rule_idx: HashMap<String, usize>,
    counter: usize,
    pub required_engine_version: Option<String>,
    pub required_plugins: Vec<(String, String)>,
}

impl Collection {
    pub fn list(&self, name: &str) -> Option<&ListDef> {
        self.list_idx.get(name).map(|i| &self.lists[*i])
    }
    pub fn macro_def(&self, name: &str) -> Option<&MacroDef> {
        self.macro_idx.get(name).map(|i| &self.macros[*i])
    }
    fn next(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }
}

pub(crate) const SYSCALL_SOURCE: &str = "syscall";

/// Reads one file into the collection.
pub(crate) fn read_file(col: &mut Collection, diag: &mut Diagnostics, name: &str, text: &str) {
    let file: Arc<str> = Arc::from(name);
    let mut src = SourceFile::new(name, text);
    let docs = match yaml::parse(&src, text) {
        Ok(d) => d,
        Err(e) => {
            // saphyr (like yaml-rust) rejects a closing `]` at the parent's
            // indentation after a quoted item, which yaml-cpp (Falco) accepts
            // and upstream files use. Retry with such lines indented; only
            // lines holding nothing but closing brackets change, so every
            // scalar keeps its position.
            let fixed = yaml::indent_closing_brackets(text);
            let retry = match &fixed {
                Some(f) if e.message.contains("indentation") => {
                    let s2 = SourceFile::new(name, f);
                    yaml::parse(&s2, f).ok().map(|d| (s2, d))
                }
                _ => None,
            };
            match retry {
                Some((s2, d)) => {
                    src = s2;
                    d
                }
                None => {
                    diag.error(name, e.pos, e.message);
                    return;
                }
            }
        }
    };
    let mut r = Reader {
        col,
        diag,
        src: &src,
        file,
    };
    for doc in &docs {
        match doc {
            Node::Seq(items, _) => {
                for item in items {
                    if !item.is_null() {
                        r.item(item);
                    }
                }
            }
            n if n.is_null() => {}
            other => r.err(
                other.pos(),
                format!(
                    "a rules file must be a sequence of items (`- rule: ...`), found {}",
                    other.kind()
                ),
            ),
        }
    }
}

struct Reader<'a> {
    col: &'a mut Collection,
    diag: &'a mut Diagnostics,
    src: &'a SourceFile,
    file: Arc<str>,
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "desc",
    "condition",
    "output",
    "priority",
    "tags",
    "enabled",
    "exceptions",
    "source",
    "append",
    "override",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "sequence",
    "rate_limit",
];
const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "sequence",
    "rate_limit",
];

#[derive(PartialEq, Clone, Copy)]
enum Mode {
    Append,
    Replace,
}

impl<'a> Reader<'a> {
    fn err(&mut self, pos: Position, msg: impl Into<String>) {
        self.diag.error(&self.file, pos, msg);
    }
    fn warn(&mut self, pos: Position, msg: impl Into<String>) {
        self.diag.warn(&self.file, pos, msg);
    }
    fn origin(&self, pos: Position) -> Origin {
        Origin {
            file: self.file.clone(),
            pos,
        }
    }
    fn text(&self, sc: &Scalar) -> Text {
        Text::from_scalar(&self.file, self.src, sc)
    }

    /// A required non-empty string value.
    fn string(&mut self, item: &Node, key: &str, what: &str) -> Option<String> {
        match item.get(key) {
            Some(Node::Scalar(s)) if !s.is_null() && !s.value.trim().is_empty() => Some(s.value.clone()),
            Some(n) => {
                let p = n.pos();
                let found = n.kind();
                self.err(
                    p,
                    format!("`{key}` of {what} must be a non-empty string, found {found}"),
                );
                None
            }
            None => None,
        }
    }

    fn scalar<'n>(&mut self, item: &'n Node, key: &str, what: &str) -> Option<&'n Scalar> {
        match item.get(key) {
            Some(Node::Scalar(s)) if !s.is_null() => Some(s),
            Some(n) => {
                let p = n.pos();
                let found = n.kind();
                self.err(p, format!("`{key}` of {what} must be a string, found {found}"));
                None
            }
            None => None,
        }
    }

    fn boolean(&mut self, item: &Node, key: &str) -> Option<bool> {
        match item.get(key) {
            Some(Node::Scalar(s)) => match s.as_bool() {
                Some(b) => Some(b),
                None => {
                    self.err(s.pos, format!("`{key}` must be true or false, found `{}`", s.value));
                    None
                }
            },
            Some(n) => {
                let p = n.pos();
                self.err(p, format!("`{key}` must be true or false, found {}", n.kind()));
                None
            }
            None => None,
        }
    }

    fn item(&mut self, item: &Node) {
        let Node::Map(entries, pos) = item else {
            self.err(
                item.pos(),
                format!("each item must be a mapping (`- rule: ...`), found {}", item.kind()),
            );
            return;
        };
        let pos = *pos;
        // Duplicate keys are almost always a copy-paste mistake.
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in entries {
            if seen.contains(&k.value.as_str()) {
                self.err(k.pos, format!("duplicate key `{}`", k.value));
            }
            seen.push(&k.value);
        }
        if item.get("required_engine_version").is_some() {
            if let Some(Node::Scalar(s)) = item.get("required_engine_version") {
                self.col.required_engine_version = Some(s.value.clone());
            }
        } else if let Some(req) = item.get("required_plugin_versions") {
            self.plugin_versions(req);
        } else if item.get("list").is_some() {
            self.list(item, pos);
        } else if item.get("macro").is_some() {
            self.macro_item(item, pos);
        } else if item.get("rule").is_some() {
            self.rule(item, pos);
        } else {
            let keys: Vec<String> = entries.iter().map(|(k, _)| format!("`{}`", k.value)).collect();
            self.err(
                pos,
                format!(
                    "item is neither a `list`, a `macro` nor a `rule` (it has {})",
                    if keys.is_empty() {
                        "no keys".to_string()
                    } else {
                        keys.join(", ")
                    }
                ),
            );
        }
    }

    fn plugin_versions(&mut self, req: &Node) {
        let Node::Seq(items, _) = req else {
            self.err(
                req.pos(),
                "`required_plugin_versions` must be a sequence of {name, version}",
            );
            return;
        };
        for p in items {
            match (p.get("name"), p.get("version")) {
                (Some(Node::Scalar(n)), Some(Node::Scalar(v))) => {
                    self.col.required_plugins.push((n.value.clone(), v.value.clone()))
                }
                _ => self.err(p.pos(), "a plugin requirement needs `name` and `version`"),
            }
        }
    }

    fn unknown_keys(&mut self, item: &Node, allowed: &[&str], what: &str) {
        if let Node::Map(entries, _) = item {
            for (k, _) in entries {
                if !allowed.contains(&k.value.as_str()) {
                    let hint = crate::error::suggest(&k.value, allowed.iter().copied())
                        .map(|s| format!(" (did you mean `{s}`?)"))
                        .unwrap_or_default();
                    self.warn(k.pos, format!("unknown key `{}` in {what} is ignored{hint}", k.value));
                }
            }
        }
    }

    /// Parses `override:`; returns the operation per key.
    fn overrides(
        &mut self,
        item: &Node,
        appendable: &[&str],
        replaceable: &[&str],
    ) -> Option<Vec<(String, Mode, Position)>> {
        let node = item.get("override")?;
        let Node::Map(entries, _) = node else {
            self.err(node.pos(), "`override` must be a mapping like `{condition: append}`");
            return Some(Vec::new());
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let op = match v {
                Node::Scalar(s) => s.value.as_str(),
                _ => "",
            };
            let mode = match op {
                "append" if appendable.contains(&k.value.as_str()) => Mode::Append,
                "replace" if replaceable.contains(&k.value.as_str()) => Mode::Replace,
                "append" if replaceable.contains(&k.value.as_str()) => {
                    self.err(v.pos(), format!("`{}` cannot be appended to, use `replace`", k.value));
                    continue;
                }
                "append" | "replace" => {
                    self.err(k.pos, format!("`{}` cannot be overridden", k.value));
                    continue;
                }
                _ => {
                    self.err(
                        v.pos(),
                        format!("override of `{}` must be `append` or `replace`, found `{op}`", k.value),
                    );
                    continue;
                }
            };
            if item.get(&k.value).is_none() {
                self.err(
                    k.pos,
                    format!("override of `{}` given, but the item has no `{}`", k.value, k.value),
                );
                continue;
            }
            out.push((k.value.clone(), mode, k.pos));
        }
        Some(out)
    }

    fn list(&mut self, item: &Node, pos: Position) {
        let Some(name) = self.string(item, "list", "a list") else {
            self.err(pos, "`list` must name the list");
            return;
        };
        self.unknown_keys(item, &["list", "items", "append", "override"], "a list");
        let items = match item.get("items") {
            Some(Node::Seq(v, _)) => {
                let mut out = Vec::new();
                for n in v {
                    match n {
                        Node::Scalar(s) if !s.is_null() => out.push(ListItem {
                            text: s.value.clone(),
                            origin: self.origin(s.pos),
                        }),
                        other => {
                            let p = other.pos();
                            self.err(p, format!("list items must be strings, found {}", other.kind()));
                        }
                    }
                }
                out
            }
            Some(n) if n.is_null() => Vec::new(),
            Some(n) => {
                let p = n.pos();
                self.err(
                    p,
                    format!("`items` of list `{name}` must be a sequence, found {}", n.kind()),
                );
                return;
            }
            None => {
                self.err(pos, format!("list `{name}` has no `items`"));
                return;
            }
        };
        let append_flag = self.boolean(item, "append").unwrap_or(false);
        let ov = self.overrides(item, &["items"], &["items"]);
        if append_flag && ov.is_some() {
            self.err(pos, "`append` and `override` cannot be used together");
        }
        let append = append_flag || ov.iter().flatten().any(|(_, m, _)| *m == Mode::Append);
        let id = self.col.next();
        if append {
            match self.col.list_idx.get(&name) {
                Some(i) => {
                    let l = &mut self.col.lists[*i];
                    l.items.extend(items);
                    l.visibility = id;
                }
                None => self.err(
                    pos,
                    format!("cannot append to list `{name}`: it is not defined earlier"),
                ),
            }
            return;
        }
        let origin = self.origin(pos);
        match self.col.list_idx.get(&name) {
            Some(i) => {
                let l = &mut self.col.lists[*i];
                l.items = items;
                l.visibility = id;
                l.origin = origin;
            }
            None => {
                self.col.list_idx.insert(name.clone(), self.col.lists.len());
                self.col.lists.push(ListDef {
                    name,
                    items,
                    index: id,
                    visibility: id,
                    origin,
                });
            }
        }
    }

    fn macro_item(&mut self, item: &Node, pos: Position) {
        let Some(name) = self.string(item, "macro", "a macro") else {
            self.err(pos, "`macro` must name the macro");
            return;
        };
        self.unknown_keys(item, &["macro", "condition", "append", "override"], "a macro");
        if !is_identifier(&name) {
            self.err(
                item.key("macro").map_or(pos, |k| k.pos),
                format!("macro name `{name}` is not an identifier (letters, then letters, digits or `_`): conditions could not refer to it"),
            );
        }
        let Some(cond) = self.scalar(item, "condition", "a macro") else {
            self.err(pos, format!("macro `{name}` has no `condition`"));
            return;
        };
        let cond = self.text(cond);
        let append_flag = self.boolean(item, "append").unwrap_or(false);
        let ov = self.overrides(item, &["condition"], &["condition"]);
        if append_flag && ov.is_some() {
            self.err(pos, "`append` and `override` cannot be used together");
        }
        let append = append_flag || ov.iter().flatten().any(|(_, m, _)| *m == Mode::Append);
        let id = self.col.next();
        if append {
            match self.col.macro_idx.get(&name) {
                Some(i) => {
                    let m = &mut self.col.macros[*i];
                    m.cond.append(&cond);
                    m.visibility = id;
                }
                None => self.err(
                    pos,
                    format!("cannot append to macro `{name}`: it is not defined earlier"),
                ),
            }
            return;
        }
        let origin = self.origin(pos);
        match self.col.macro_idx.get(&name) {
            Some(i) => {
                let m = &mut self.col.macros[*i];
                m.cond = cond;
                m.visibility = id;
                m.origin = origin;
            }
            None => {
                self.col.macro_idx.insert(name.clone(), self.col.macros.len());
                self.col.macros.push(MacroDef {
                    name,
                    cond,
                    index: id,
                    visibility: id,
                    origin,
                });
            }
        }
    }

    fn rule(&mut self, item: &Node, pos: Position) {
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

    fn rate_limit(&mut self, n: &Node) -> Option<RateLimitSetting> {
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

    fn sequence(&mut self, n: &Node) -> Option<SequenceDef> {
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

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic()) && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
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

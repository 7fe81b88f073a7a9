//! Reading rule files: YAML items into definitions of lists, macros and
//! rules, applying appends, overrides and `enabled` toggles in file order.
//!
//! Nothing is compiled here; conditions stay text (with a map back to file
//! positions) because a later file may still change a macro or list that an
//! earlier rule uses. Falco resolves names against the final definitions
//! too. Rule items are read in `rule`, the Vigil extensions (`sequence`,
//! `rate_limit`) in `extensions`.

mod defs;
mod extensions;
mod rule;

use std::sync::Arc;

pub(crate) use defs::*;
pub use extensions::parse_duration;

use crate::error::{Diagnostics, Position};
use crate::yaml::{self, Node, Scalar, SourceFile};

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
    "action",
    "enforce",
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
}

fn is_identifier(s: &str) -> bool {
    let mut c = s.chars();
    c.next().is_some_and(|f| f.is_ascii_alphabetic()) && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

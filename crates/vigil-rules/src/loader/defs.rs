//! What the loader produces: definitions of lists, macros and rules, with
//! their source text and positions, in definition order.

use crate::policy::Action;
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Position;
use crate::ratelimit::RateLimitSetting;
use crate::ruleset::Priority;
use crate::sequence::SequenceBy;
use crate::yaml::{Scalar, ScalarMap, SourceFile};

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
    /// `action:` and where it was written (policies are refused there).
    pub action: Action,
    pub action_origin: Origin,
    /// `enforce: false`: the policy reports what it would do and acts on nothing.
    pub enforce: bool,
    pub index: usize,
    pub origin: Origin,
}

/// Everything read from the rule files, in definition order.
#[derive(Default)]
pub(crate) struct Collection {
    pub lists: Vec<ListDef>,
    pub macros: Vec<MacroDef>,
    pub rules: Vec<RuleDef>,
    pub(super) list_idx: HashMap<String, usize>,
    pub(super) macro_idx: HashMap<String, usize>,
    pub(super) rule_idx: HashMap<String, usize>,
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
    pub(super) fn next(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }
}

pub(crate) const SYSCALL_SOURCE: &str = "syscall";

//! Loading rule files into a compiled, indexed [`RuleSet`].

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::compile::{Compiler, Failed};
use crate::condition::Condition;
use crate::error::{Diagnostics, LoadError, Position, RuleError, Warning};
use crate::eval::eval;
use crate::event::EventSource;
use crate::evttypes::{evt_types, EvtTypes};
use crate::fields::{Field, FieldRef};
use crate::interest::{self, Interest};
use crate::loader::{self, Collection, RuleDef, Text, SYSCALL_SOURCE};
use crate::matcher::FxHashMap;
use crate::output::OutputTemplate;
use crate::policy::{self, Action, Policy};
use crate::ratelimit::RateLimitSetting;
use crate::sequence::{Sequence, Step};
use crate::source;

/// Rule priority, ordered by severity (`Debug < ... < Emergency`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    Debug,
    Informational,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl Priority {
    /// Case-insensitive; `INFO` is accepted for `INFORMATIONAL`.
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.trim().to_ascii_uppercase().as_str() {
            "EMERGENCY" => Priority::Emergency,
            "ALERT" => Priority::Alert,
            "CRITICAL" => Priority::Critical,
            "ERROR" => Priority::Error,
            "WARNING" => Priority::Warning,
            "NOTICE" => Priority::Notice,
            "INFORMATIONAL" | "INFO" => Priority::Informational,
            "DEBUG" => Priority::Debug,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "EMERGENCY",
            Priority::Alert => "ALERT",
            Priority::Critical => "CRITICAL",
            Priority::Error => "ERROR",
            Priority::Warning => "WARNING",
            Priority::Notice => "NOTICE",
            Priority::Informational => "INFORMATIONAL",
            Priority::Debug => "DEBUG",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Priority {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// What a rule evaluates.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// A Falco-style condition, tested on each event.
    Condition(Condition),
    /// A Vigil sequence (stateful).
    Sequence(Sequence),
}

/// A compiled rule.
#[derive(Debug, Clone, Serialize)]
pub struct Rule {
    pub name: String,
    pub desc: String,
    pub priority: Priority,
    pub tags: Vec<String>,
    pub source: String,
    pub enabled: bool,
    pub kind: RuleKind,
    /// Event types the rule can match (the index key).
    pub evt_types: EvtTypes,
    pub output: OutputTemplate,
    pub rate_limit: RateLimitSetting,
    /// Where the rule was (first) defined.
    pub file: String,
    pub position: Position,
    /// Fields the rule uses (condition, exceptions, output, sequence keys)
    /// that the host does not populate.
    pub unavailable_fields: Vec<String>,
    /// `alert`, or the action the kernel takes (`kill`, `deny`) through `policies`.
    pub action: Action,
    /// False (`enforce: false`): the policies report what they would do, and act on nothing.
    pub enforce: bool,
    /// The condition as kernel policies (one per alternative), for rules with an action.
    pub policies: Vec<Policy>,
}

impl Rule {
    /// Stateless test of a condition rule against an event (sequence rules
    /// need an [`crate::Engine`]; this returns false for them).
    pub fn matches(&self, ev: &dyn EventSource) -> bool {
        match &self.kind {
            RuleKind::Condition(c) => self.evt_types.contains(ev.evt_type()) && eval(c, ev),
            RuleKind::Sequence(_) => false,
        }
    }

    /// Conditions the rule evaluates (one, or one per sequence step).
    pub fn conditions(&self) -> Vec<&Condition> {
        match &self.kind {
            RuleKind::Condition(c) => vec![c],
            RuleKind::Sequence(s) => s.steps.iter().map(|s| &s.condition).collect(),
        }
    }
}

/// A rule that was read but is not evaluated.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRule {
    pub name: String,
    pub reason: String,
}

/// Summary of a load, for `vigil rules` and logs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LoadReport {
    pub files: Vec<String>,
    pub lists: usize,
    pub macros: usize,
    /// Rules compiled and evaluable (enabled or not).
    pub rules_loaded: usize,
    pub rules_enabled: usize,
    pub rules_disabled: usize,
    /// Rules read but never evaluated: non-`syscall` sources, or
    /// `skip-if-unknown-filter` rules using unknown fields.
    pub rules_skipped: Vec<SkippedRule>,
    /// Unavailable field → enabled rules using it (their checks on it are always false).
    pub unavailable_fields: BTreeMap<String, Vec<String>>,
    pub required_engine_version: Option<String>,
    pub required_plugins: Vec<(String, String)>,
    pub warnings: Vec<Warning>,
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "files: {}", self.files.join(", "))?;
        writeln!(
            f,
            "rules: {} loaded ({} enabled, {} disabled), {} skipped; {} macros, {} lists",
            self.rules_loaded,
            self.rules_enabled,
            self.rules_disabled,
            self.rules_skipped.len(),
            self.macros,
            self.lists
        )?;
        for s in &self.rules_skipped {
            writeln!(f, "  skipped `{}`: {}", s.name, s.reason)?;
        }
        if !self.unavailable_fields.is_empty() {
            writeln!(f, "fields not populated by Vigil (comparisons on them are false):")?;
            for (field, rules) in &self.unavailable_fields {
                writeln!(f, "  {field}: {} rule(s)", rules.len())?;
            }
        }
        if !self.warnings.is_empty() {
            writeln!(f, "{} warning(s)", self.warnings.len())?;
        }
        Ok(())
    }
}

/// Options for [`Loader`].
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Fields this host cannot populate, beyond those the catalogue marks unavailable.
    pub unavailable: Vec<Field>,
    /// Fields this host does populate although the catalogue marks them unavailable.
    pub available: Vec<Field>,
    /// Default cap on pending partial matches per sequence rule.
    pub max_pending: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            unavailable: Vec::new(),
            available: Vec::new(),
            max_pending: 10_000,
        }
    }
}

impl LoadOptions {
    pub fn is_available(&self, f: Field) -> bool {
        if self.unavailable.contains(&f) {
            return false;
        }
        self.available.contains(&f) || f.def().available
    }
}

/// Loads rule files in order; later files may append to or override earlier ones.
#[derive(Default)]
pub struct Loader {
    options: LoadOptions,
    sources: Vec<(String, Result<String, String>)>,
}

impl Loader {
    pub fn new(options: LoadOptions) -> Self {
        Loader {
            options,
            sources: Vec::new(),
        }
    }

    /// Adds a file; a read error is reported by [`Loader::load`]. Only regular files
    /// are read, bounded in size (see [`crate::source`]).
    pub fn add_file(&mut self, path: impl AsRef<Path>) -> &mut Self {
        let p = path.as_ref();
        let read: u64 = self
            .sources
            .iter()
            .filter_map(|(_, t)| t.as_ref().ok())
            .map(|t| t.len() as u64)
            .sum();
        let text = if self.sources.len() >= source::MAX_FILES {
            Err(format!(
                "cannot read rules file: more than {} rule files in one load",
                source::MAX_FILES
            ))
        } else {
            source::read_text_file(p, source::MAX_FILE_BYTES)
                .map_err(|e| format!("cannot read rules file: {e}"))
                .and_then(|t| {
                    if read + t.len() as u64 > source::MAX_TOTAL_BYTES {
                        Err(format!(
                            "cannot read rules file: the rule files together exceed {} bytes",
                            source::MAX_TOTAL_BYTES
                        ))
                    } else {
                        Ok(t)
                    }
                })
        };
        self.sources.push((p.display().to_string(), text));
        self
    }

    /// Adds rules text under a name used in messages.
    pub fn add_str(&mut self, name: &str, text: &str) -> &mut Self {
        self.sources.push((name.to_string(), Ok(text.to_string())));
        self
    }

    /// Reads, compiles and indexes everything added so far.
    pub fn load(&self) -> Result<RuleSet, LoadError> {
        let mut diag = Diagnostics::default();
        let mut col = Collection::default();
        for (name, text) in &self.sources {
            match text {
                Ok(t) => loader::read_file(&mut col, &mut diag, name, t),
                Err(e) => diag
                    .errors
                    .push(RuleError::new(name.clone(), Position::new(0, 0), e.clone())),
            }
        }
        let opts = self.options.clone();
        let avail = move |f: Field| opts.is_available(f);
        let mut report = LoadReport {
            files: self.sources.iter().map(|(n, _)| n.clone()).collect(),
            lists: col.lists.len(),
            macros: col.macros.len(),
            required_engine_version: col.required_engine_version.clone(),
            required_plugins: col.required_plugins.clone(),
            ..LoadReport::default()
        };
        let mut rules = Vec::new();
        let lists;
        {
            let mut comp = Compiler::new(&col, &mut diag, &avail);
            lists = comp.expanded_lists();
            comp.check_macro_syntax();
            for def in &col.rules {
                if def.source != SYSCALL_SOURCE {
                    report.rules_skipped.push(SkippedRule {
                        name: def.name.clone(),
                        reason: format!("source `{}` is not evaluated by Vigil (only `syscall`)", def.source),
                    });
                    continue;
                }
                match compile_rule(&mut comp, def, &avail, self.options.max_pending) {
                    Ok(Some(r)) => rules.push(r),
                    Ok(None) => report.rules_skipped.push(SkippedRule {
                        name: def.name.clone(),
                        reason: "uses fields unknown to Vigil (skip-if-unknown-filter)".into(),
                    }),
                    Err(Failed) => {}
                }
            }
            comp.check_unused_macros();
        }
        // Every enabled policy is one bit in the kernel.
        let mut bits = 0;
        for r in rules.iter().filter(|r| r.enabled) {
            bits += r.policies.len();
            if bits > policy::MAX_POLICIES {
                diag.error(
                    &r.file,
                    r.position,
                    format!(
                        "rule `{}`: more than {} enforcement policies in force (each alternative of an acting rule's condition is one)",
                        r.name,
                        policy::MAX_POLICIES
                    ),
                );
                break;
            }
        }
        // A macro shared by a skip-if-unknown-filter rule and another rule may
        // report the same problem twice.
        let mut seen = std::collections::HashSet::new();
        diag.errors.retain(|e| seen.insert(e.to_string()));
        if !diag.errors.is_empty() {
            return Err(LoadError {
                errors: diag.errors,
                warnings: diag.warnings,
            });
        }
        for r in &rules {
            if r.enabled {
                for f in &r.unavailable_fields {
                    report
                        .unavailable_fields
                        .entry(f.clone())
                        .or_default()
                        .push(r.name.clone());
                }
            }
        }
        report.warnings = diag.warnings;
        let mut set = RuleSet {
            rules,
            lists,
            index: Index::default(),
            report,
        };
        set.reindex();
        Ok(set)
    }
}

/// Loads files in order.
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<RuleSet, LoadError> {
    let mut l = Loader::default();
    for p in paths {
        l.add_file(p);
    }
    l.load()
}

/// Loads one rules text.
pub fn load_str(name: &str, text: &str) -> Result<RuleSet, LoadError> {
    Loader::default().add_str(name, text).load()
}

fn compile_output(comp: &mut Compiler<'_>, t: &Text, avail: &dyn Fn(Field) -> bool) -> Result<OutputTemplate, Failed> {
    OutputTemplate::compile(t.text.trim(), avail).map_err(|e| {
        // Offsets refer to the trimmed text.
        let lead = t.text.len() - t.text.trim_start().len();
        let (file, pos) = t.locate(e.offset + lead);
        let file = file.to_string();
        comp.diag.error(&file, pos, e.message);
        Failed
    })
}

fn compile_rule(
    comp: &mut Compiler<'_>,
    def: &RuleDef,
    avail: &dyn Fn(Field) -> bool,
    max_pending: usize,
) -> Result<Option<Rule>, Failed> {
    if def.skip_if_unknown_filter {
        comp.unknown_fields = Some(Vec::new());
    }
    let res = compile_rule_inner(comp, def, avail, max_pending);
    if let Some(unknown) = comp.unknown_fields.take() {
        if !unknown.is_empty() {
            comp.warn(
                &def.origin,
                format!("rule `{}` skipped: unknown field(s) {}", def.name, unknown.join(", ")),
            );
            return Ok(None);
        }
    }
    res.map(Some)
}

fn compile_rule_inner(
    comp: &mut Compiler<'_>,
    def: &RuleDef,
    avail: &dyn Fn(Field) -> bool,
    max_pending: usize,
) -> Result<Rule, Failed> {
    let exceptions = comp.exceptions(&def.exceptions);
    let output = match &def.output {
        Some(t) => compile_output(comp, t, avail),
        None => Ok(OutputTemplate::compile("", avail).map_err(|_| Failed)?),
    };
    let mut fields_used: Vec<FieldRef> = Vec::new();
    let (kind, types) = if let Some(seq) = &def.sequence {
        let mut steps = Vec::new();
        let mut failed = false;
        for st in &seq.steps {
            let cond = comp.condition(&st.cond);
            let key = st.key.as_ref().map(|k| comp.field_operand(k)).transpose();
            let out = st.output.as_ref().map(|o| compile_output(comp, o, avail)).transpose();
            match (cond, key, out, &exceptions) {
                (Ok(c), Ok(key), Ok(output), Ok(ex)) => {
                    let mut parts = vec![c];
                    parts.extend(ex.iter().cloned());
                    let condition = Condition::and(parts);
                    let evt_types = evt_types(&condition);
                    if let Some(k) = &key {
                        fields_used.push(k.field().clone());
                    }
                    if let Some(o) = &output {
                        fields_used.extend(o.fields().cloned());
                    }
                    steps.push(Step {
                        name: st.name.clone(),
                        condition,
                        key,
                        output,
                        evt_types,
                    });
                }
                _ => failed = true,
            }
        }
        if failed {
            return Err(Failed);
        }
        let types = steps
            .iter()
            .fold(EvtTypes::none(), |acc, s| acc.union(s.evt_types.clone()));
        let s = Sequence {
            within_ns: seq.within_ns,
            by: seq.by,
            max_pending: seq.max_pending.unwrap_or(max_pending),
            steps,
        };
        (RuleKind::Sequence(s), types)
    } else {
        let Some(text) = &def.cond else { return Err(Failed) };
        let cond = comp.condition(text)?;
        let mut parts = vec![cond];
        parts.extend(exceptions.clone()?);
        let cond = Condition::and(parts);
        let types = evt_types(&cond);
        (RuleKind::Condition(cond), types)
    };
    let output = output?;
    exceptions?;
    let policies = match (&kind, def.action) {
        (_, Action::Alert) => Vec::new(),
        (RuleKind::Sequence(_), a) => {
            comp.diag.error(
                &def.action_origin.file,
                def.action_origin.pos,
                format!(
                    "rule `{}`: `action: {}` needs a condition rule (a sequence is decided in userspace)",
                    def.name,
                    a.as_str()
                ),
            );
            return Err(Failed);
        }
        (RuleKind::Condition(c), a) => match policy::compile(c) {
            Ok(p) => p,
            Err(e) => {
                comp.diag.error(
                    &def.action_origin.file,
                    def.action_origin.pos,
                    format!(
                        "rule `{}`: `action: {}` is decided in the kernel, which cannot decide {e}",
                        def.name,
                        a.as_str()
                    ),
                );
                return Err(Failed);
            }
        },
    };
    if def.warn_evttypes && def.enabled && matches!(types, EvtTypes::AllExcept(_)) {
        comp.warn(
            &def.origin,
            format!(
                "rule `{}` does not restrict `evt.type` to a set of types: it is evaluated for (almost) every event",
                def.name
            ),
        );
    }
    let rule_conds: Vec<&Condition> = match &kind {
        RuleKind::Condition(c) => vec![c],
        RuleKind::Sequence(s) => s.steps.iter().map(|s| &s.condition).collect(),
    };
    for c in rule_conds {
        fields_used.extend(c.fields());
    }
    fields_used.extend(output.fields().cloned());
    let mut unavailable: Vec<String> = Vec::new();
    for f in &fields_used {
        if !avail(f.field) {
            let n = f.field.name().to_string();
            if !unavailable.contains(&n) {
                unavailable.push(n);
            }
        }
    }
    Ok(Rule {
        name: def.name.clone(),
        desc: def.desc.clone(),
        priority: def.priority,
        tags: def.tags.clone(),
        source: def.source.clone(),
        enabled: def.enabled,
        kind,
        evt_types: types,
        output,
        rate_limit: def.rate_limit,
        file: def.origin.file.to_string(),
        position: def.origin.pos,
        unavailable_fields: unavailable,
        action: def.action,
        enforce: def.enforce,
        policies,
    })
}

#[derive(Debug, Default, Clone)]
struct Index {
    by_type: FxHashMap<Box<str>, Vec<usize>>,
    other: Vec<usize>,
}

/// Compiled rules, indexed by event type. Immutable while an
/// [`crate::Engine`] uses it (share it with `Arc`).
#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
    /// Every list after appends, expanded: the host may feed some to the kernel.
    lists: std::collections::BTreeMap<String, Vec<String>>,
    index: Index,
    report: LoadReport,
}

impl RuleSet {
    /// All compiled rules in definition order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// A list's items after appends and expansion, if the rules define it.
    pub fn list(&self, name: &str) -> Option<&[String]> {
        self.lists.get(name).map(Vec::as_slice)
    }

    pub fn report(&self) -> &LoadReport {
        &self.report
    }

    /// Enables or disables a rule by name; false if there is no such rule.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> bool {
        let Some(r) = self.rules.iter_mut().find(|r| r.name == name) else {
            return false;
        };
        r.enabled = enabled;
        self.reindex();
        true
    }

    /// Enables or disables every rule carrying `tag`; returns how many changed.
    pub fn set_enabled_by_tag(&mut self, tag: &str, enabled: bool) -> usize {
        let mut n = 0;
        for r in &mut self.rules {
            if r.tags.iter().any(|t| t == tag) && r.enabled != enabled {
                r.enabled = enabled;
                n += 1;
            }
        }
        self.reindex();
        n
    }

    fn reindex(&mut self) {
        let mut idx = Index::default();
        let mut mentioned: Vec<&str> = Vec::new();
        for r in self.rules.iter().filter(|r| r.enabled) {
            for t in r.evt_types.names() {
                if !mentioned.contains(&t.as_str()) {
                    mentioned.push(t);
                }
            }
        }
        for t in &mentioned {
            let ids: Vec<usize> = self
                .rules
                .iter()
                .enumerate()
                .filter(|(_, r)| r.enabled && r.evt_types.contains(t))
                .map(|(i, _)| i)
                .collect();
            idx.by_type.insert((*t).into(), ids);
        }
        idx.other = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled && matches!(r.evt_types, EvtTypes::AllExcept(_)))
            .map(|(i, _)| i)
            .collect();
        self.index = idx;
        self.report.rules_loaded = self.rules.len();
        self.report.rules_enabled = self.rules.iter().filter(|r| r.enabled).count();
        self.report.rules_disabled = self.report.rules_loaded - self.report.rules_enabled;
    }

    /// Indexes (into [`RuleSet::rules`]) of the enabled rules that can match
    /// an event of this type, in definition order.
    pub fn candidates(&self, evt_type: &str) -> &[usize] {
        match self.index.by_type.get(evt_type) {
            Some(v) => v,
            None => &self.index.other,
        }
    }

    /// Summary of the file paths the enabled rules could match, per event
    /// type; see [`crate::interest`] for the exact semantics.
    pub fn file_interest(&self) -> Interest {
        let conds: Vec<&Condition> = self
            .rules
            .iter()
            .filter(|r| r.enabled)
            .flat_map(|r| r.conditions())
            .collect();
        interest::summarise(conds.into_iter())
    }

    /// The same summary for some rules alone: one rule (to explain where broad interest
    /// comes from), or the sequence rules (whose events must not be deduplicated).
    pub fn interest_of<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> Interest {
        let conds: Vec<&Condition> = rules.into_iter().flat_map(|r| r.conditions()).collect();
        interest::summarise(conds.into_iter())
    }

    /// Could an enabled rule match a failed call of `evt_type`? `returns_fd`: the call
    /// returns an fd (then `fd.num` of a failure is -1). See the `outcome` module.
    pub fn may_match_failed(&self, evt_type: &str, returns_fd: bool) -> bool {
        self.rules_matching_failed(evt_type, returns_fd).next().is_some()
    }

    /// Could an enabled rule match a successful open of `evt_type` that did not create
    /// its file?
    pub fn may_match_open_not_created(&self, evt_type: &str) -> bool {
        self.rules_matching_open_not_created(evt_type).next().is_some()
    }

    /// The enabled rules that could match a failed call of `evt_type` (for `vigil rules
    /// explain`: why failures of a call are reported).
    pub fn rules_matching_failed<'a>(&'a self, evt_type: &'a str, returns_fd: bool) -> impl Iterator<Item = &'a Rule> {
        self.rules.iter().filter(move |r| {
            r.enabled
                && r.conditions()
                    .into_iter()
                    .any(|c| crate::outcome::may_match_failed(c, evt_type, returns_fd))
        })
    }

    /// The enabled rules that could match a successful open of `evt_type` that did not
    /// create its file (the others only want created files: see the `outcome` module).
    pub fn rules_matching_open_not_created<'a>(&'a self, evt_type: &'a str) -> impl Iterator<Item = &'a Rule> {
        self.rules.iter().filter(move |r| {
            r.enabled
                && r.conditions()
                    .into_iter()
                    .any(|c| crate::outcome::may_match_open_not_created(c, evt_type))
        })
    }

    /// Shares the rule set with an engine.
    pub fn into_shared(self) -> Arc<RuleSet> {
        Arc::new(self)
    }
}

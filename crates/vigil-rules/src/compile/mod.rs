//! Compilation: parse trees and YAML definitions into [`Condition`]s.
//!
//! Resolves field names against the catalogue, expands macros (each macro is
//! compiled once and inlined) and lists, type-checks operators and values,
//! and precompiles matchers. Errors point at the offending token in the file.
//! Rule exceptions are compiled in `exceptions`.

mod exceptions;

use std::collections::{HashMap, HashSet};

use crate::ast::{Expr, FieldExpr, Lit, Op, Rhs, Span};
use crate::condition::{Check, CheckRhs, Condition, Literal, Matcher, Operand, ValueSet};
use crate::error::{suggest, Diagnostics};
use crate::eval::parse_num;
use crate::fields::{self, Field, FieldType, Multi, ResolveError};
use crate::lexer::Cursor;
use crate::loader::{Collection, Origin, Text};
use crate::matcher::{parse_hex, Glob, IpNet, PathTrie};
use crate::parser::{parse_condition, parse_field_only, ParseError};

/// Decides whether the host populates a field.
pub(crate) type Availability<'a> = &'a dyn Fn(Field) -> bool;

/// Marker for "an error was reported (or the failure was already reported
/// elsewhere)"; the caller just stops.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failed;

type CResult<T> = Result<T, Failed>;

/// Most nodes one compiled condition may hold: and/or/not, checks, and each value of a
/// check, with every macro inlined where it is used. A macro used twice by the next one,
/// sixty times over, would otherwise expand to 2^60 nodes. The largest condition among
/// Falco's upstream rules and ours holds about 1,300.
pub(crate) const MAX_CONDITION_NODES: usize = 200_000;

/// Deepest nesting of a compiled condition, macros inlined (upstream: about 15).
pub(crate) const MAX_CONDITION_DEPTH: usize = 200;

/// Most items all lists together may expand to (lists of lists count what they repeat).
pub(crate) const MAX_LIST_ITEMS: usize = 2_000_000;

enum MacroState {
    InProgress,
    /// Compiled, with its node count and depth (what each use of it adds).
    Done(Condition, usize, usize),
    Failed,
}

/// A value after list expansion, with where it came from.
struct Val {
    text: String,
    at: ValAt,
}

enum ValAt {
    Span(Span),
    Origin(Origin),
}

pub(crate) struct Compiler<'a> {
    col: &'a Collection,
    pub diag: &'a mut Diagnostics,
    avail: Availability<'a>,
    /// Fully expanded list items: (text, came from a quoted item).
    lists: HashMap<String, Vec<(String, Origin)>>,
    macros: HashMap<String, MacroState>,
    stack: Vec<String>,
    /// Nodes and nesting of the condition being compiled, macros inlined.
    size: usize,
    depth: usize,
    /// When set, unknown fields are collected here instead of reported
    /// (`skip-if-unknown-filter`).
    pub unknown_fields: Option<Vec<String>>,
}

/// Falco list items may carry their own quotes (`'"(systemd)"'`).
pub(crate) fn unquote_item(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        let mut c = Cursor::new(s);
        if let Ok(Some((text, span))) = c.lex_quoted() {
            if span.end == s.len() {
                return text;
            }
        }
    }
    s.to_string()
}

impl<'a> Compiler<'a> {
    pub fn new(col: &'a Collection, diag: &'a mut Diagnostics, avail: Availability<'a>) -> Self {
        let mut c = Compiler {
            col,
            diag,
            avail,
            lists: HashMap::new(),
            macros: HashMap::new(),
            stack: Vec::new(),
            size: 0,
            depth: 0,
            unknown_fields: None,
        };
        c.expand_lists();
        c
    }

    /// Every list, fully expanded (list references resolved, items unquoted).
    pub fn expanded_lists(&self) -> std::collections::BTreeMap<String, Vec<String>> {
        self.lists
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|(t, _)| t.clone()).collect()))
            .collect()
    }

    /// Expands every list; past [`MAX_LIST_ITEMS`] in all, the list that crosses it is
    /// an error (lists of lists that each repeat the previous grow exponentially).
    fn expand_lists(&mut self) {
        let mut budget = MAX_LIST_ITEMS;
        for l in &self.col.lists {
            let mut out = Vec::new();
            let mut seen = HashSet::new();
            seen.insert(l.name.clone());
            if self
                .expand_list_items(&l.items, l.visibility, &mut seen, &mut out, &mut budget)
                .is_err()
            {
                self.diag.error(
                    &l.origin.file,
                    l.origin.pos,
                    format!(
                        "list `{}` takes the lists past {MAX_LIST_ITEMS} items in all (lists that include lists count \
                         every item they repeat); refused so loading stays bounded",
                        l.name
                    ),
                );
                return;
            }
            self.lists.insert(l.name.clone(), out);
        }
    }

    fn expand_list_items(
        &self,
        items: &[crate::loader::ListItem],
        visibility: usize,
        seen: &mut HashSet<String>,
        out: &mut Vec<(String, Origin)>,
        budget: &mut usize,
    ) -> CResult<()> {
        for it in items {
            // Only lists defined before this one may be referenced, as in Falco.
            match self.col.list(&it.text) {
                Some(r) if r.index < visibility && !seen.contains(&r.name) => {
                    seen.insert(r.name.clone());
                    self.expand_list_items(&r.items, r.visibility, seen, out, budget)?;
                    seen.remove(&r.name);
                }
                _ => {
                    *budget = budget.checked_sub(1).ok_or(Failed)?;
                    out.push((unquote_item(&it.text), it.origin.clone()));
                }
            }
        }
        Ok(())
    }

    fn error_at(&mut self, text: &Text, span: &Span, msg: impl Into<String>) -> Failed {
        let (file, pos) = text.locate(span.start);
        let file = file.to_string();
        self.diag.error(&file, pos, msg);
        Failed
    }

    fn error_origin(&mut self, o: &Origin, msg: impl Into<String>) -> Failed {
        self.diag.error(&o.file, o.pos, msg);
        Failed
    }

    fn parse(&mut self, text: &Text) -> CResult<Expr> {
        parse_condition(&text.text).map_err(|ParseError { span, message }| self.error_at(text, &span, message))
    }

    /// Compiles a rule (or sequence step) condition.
    pub fn condition(&mut self, text: &Text) -> CResult<Condition> {
        let e = self.parse(text)?;
        (self.size, self.depth) = (0, 0);
        self.expr(&e, text, None)
    }

    /// Counts `n` more nodes into the condition being compiled; past the limit, an
    /// error at `span`.
    fn grow(&mut self, n: usize, text: &Text, span: &Span) -> CResult<()> {
        self.size = self.size.saturating_add(n);
        if self.size > MAX_CONDITION_NODES {
            return Err(self.error_at(
                text,
                span,
                format!(
                    "the condition expands to more than {MAX_CONDITION_NODES} nodes here (macros inlined, \
                     list values counted); refused so loading and matching stay bounded"
                ),
            ));
        }
        Ok(())
    }

    /// Parses every macro so that syntax errors are reported once, at the
    /// macro, even if no rule uses it. Field and name resolution happens
    /// when a rule uses the macro: a macro written for another event source
    /// (`ka.*` fields) is not an error unless a syscall rule uses it, as in
    /// Falco.
    pub fn check_macro_syntax(&mut self) {
        for m in &self.col.macros {
            if self.parse(&m.cond).is_err() {
                self.macros.insert(m.name.clone(), MacroState::Failed);
            }
        }
    }

    /// Compiles macros no rule used; their problems become warnings.
    pub fn check_unused_macros(&mut self) {
        for m in &self.col.macros {
            if self.macros.contains_key(&m.name) {
                continue;
            }
            let before = self.diag.errors.len();
            (self.size, self.depth) = (0, 0);
            let _ = self.macro_cond(&m.name);
            let new: Vec<_> = self.diag.errors.drain(before..).collect();
            for e in new {
                let pos = crate::error::Position::new(e.line, e.column);
                self.diag.warn(
                    &e.file,
                    pos,
                    format!("in macro `{}` (not used by any rule): {}", m.name, e.message),
                );
            }
        }
    }

    fn macro_cond(&mut self, name: &str) -> CResult<Condition> {
        match self.macros.get(name) {
            Some(MacroState::Done(c, _, _)) => return Ok(c.clone()),
            Some(MacroState::Failed) | Some(MacroState::InProgress) => return Err(Failed),
            None => {}
        }
        let Some(def) = self.col.macro_def(name) else {
            return Err(Failed);
        };
        self.macros.insert(name.to_string(), MacroState::InProgress);
        self.stack.push(name.to_string());
        // A macro is counted on its own, then as a whole wherever it is used.
        let outer = (self.size, self.depth);
        (self.size, self.depth) = (0, 0);
        let res = self
            .parse(&def.cond)
            .and_then(|e| self.expr(&e, &def.cond, Some(def.visibility)));
        let size = self.size;
        (self.size, self.depth) = outer;
        self.stack.pop();
        match res {
            Ok(c) => {
                let depth = condition_depth(&c);
                self.macros
                    .insert(name.to_string(), MacroState::Done(c.clone(), size, depth));
                Ok(c)
            }
            Err(f) => {
                if self.unknown_fields.is_some() {
                    // Compiled for a skip-if-unknown-filter rule, where unknown
                    // fields are not reported: let the next user report them.
                    self.macros.remove(name);
                } else {
                    self.macros.insert(name.to_string(), MacroState::Failed);
                }
                Err(f)
            }
        }
    }

    fn expr(&mut self, e: &Expr, text: &Text, visibility: Option<usize>) -> CResult<Condition> {
        self.depth += 1;
        let res = if self.depth > MAX_CONDITION_DEPTH {
            Err(self.error_at(
                text,
                &first_span(e),
                format!("the condition nests more than {MAX_CONDITION_DEPTH} levels deep here (macros inlined)"),
            ))
        } else {
            self.expr_node(e, text, visibility)
        };
        self.depth -= 1;
        res
    }

    fn expr_node(&mut self, e: &Expr, text: &Text, visibility: Option<usize>) -> CResult<Condition> {
        if !matches!(e, Expr::Ident(..)) {
            self.grow(1, text, &first_span(e))?;
        }
        match e {
            Expr::And(v) | Expr::Or(v) => {
                let mut out = Vec::with_capacity(v.len());
                let mut failed = false;
                for c in v {
                    match self.expr(c, text, visibility) {
                        Ok(c) => out.push(c),
                        Err(_) => failed = true,
                    }
                }
                if failed {
                    return Err(Failed);
                }
                Ok(if matches!(e, Expr::And(_)) {
                    Condition::And(out)
                } else {
                    Condition::Or(out)
                })
            }
            Expr::Not(c) => Ok(Condition::Not(Box::new(self.expr(c, text, visibility)?))),
            Expr::Ident(name, span) => self.macro_ref(name, span, text, visibility),
            Expr::Check { lhs, op, op_span, rhs } => self.check(lhs, *op, op_span, rhs, text),
        }
    }

    fn macro_ref(&mut self, name: &str, span: &Span, text: &Text, visibility: Option<usize>) -> CResult<Condition> {
        let Some(def) = self.col.macro_def(name) else {
            if self.col.list(name).is_some() {
                return Err(self.error_at(
                    text,
                    span,
                    format!("`{name}` is a list, not a macro: use it as a value, e.g. `proc.name in ({name})`"),
                ));
            }
            let hint = suggest(name, self.col.macros.iter().map(|m| m.name.as_str()))
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default();
            return Err(self.error_at(text, span, format!("macro `{name}` is not defined{hint}")));
        };
        if let Some(vis) = visibility {
            if def.index >= vis {
                return Err(self.error_at(
                    text,
                    span,
                    format!(
                        "macro `{name}` is used before it is defined (a macro may only use macros defined above it)"
                    ),
                ));
            }
        }
        if let Some(MacroState::InProgress) = self.macros.get(name) {
            let start = self.stack.iter().position(|m| m == name).unwrap_or(0);
            let cycle: Vec<String> = self.stack[start..].iter().map(|m| format!("`{m}`")).collect();
            let msg = match cycle.len() {
                0 | 1 => format!("macro `{name}` refers to itself"),
                2 => format!("macros {} and {} form a cycle", cycle[0], cycle[1]),
                n => format!("macros {} and {} form a cycle", cycle[..n - 1].join(", "), cycle[n - 1]),
            };
            return Err(self.error_at(text, span, msg));
        }
        let c = self.macro_cond(name)?;
        // The macro is inlined here: it adds its whole size and depth.
        if let Some(MacroState::Done(_, size, depth)) = self.macros.get(name) {
            let (size, depth) = (*size, *depth);
            self.grow(size, text, span)?;
            if self.depth + depth > MAX_CONDITION_DEPTH {
                return Err(self.error_at(
                    text,
                    span,
                    format!("the condition nests more than {MAX_CONDITION_DEPTH} levels deep here (macros inlined)"),
                ));
            }
        }
        Ok(c)
    }

    /// Resolves a field expression to an operand.
    fn operand(&mut self, fe: &FieldExpr, text: &Text) -> CResult<Operand> {
        match fe {
            FieldExpr::Transform {
                transformer,
                inner,
                span,
            } => {
                let inner = self.operand(inner, text)?;
                let ty = inner.value_type();
                if *transformer != crate::ast::Transformer::Len && !ty.is_textual() {
                    return Err(self.error_at(
                        text,
                        span,
                        format!(
                            "transformer `{}` needs a string field, `{inner}` is {}",
                            transformer.as_str(),
                            ty.kind_phrase()
                        ),
                    ));
                }
                Ok(Operand::Transform(*transformer, Box::new(inner)))
            }
            FieldExpr::Field(f) => match fields::resolve(&f.name, f.arg.as_deref()) {
                Ok(r) => Ok(Operand::Field(r)),
                Err(e) => {
                    let msg = match e {
                        ResolveError::Unknown { suggestion } => {
                            if let Some(list) = &mut self.unknown_fields {
                                list.push(f.name.clone());
                                return Err(Failed);
                            }
                            match suggestion {
                                Some(s) => format!("unknown field `{}` (did you mean `{s}`?)", f.name),
                                None => format!("unknown field `{}`", f.name),
                            }
                        }
                        ResolveError::NoArgAllowed(fl) => format!("field `{fl}` does not take an argument"),
                        ResolveError::ArgRequired(fl) => {
                            format!(
                                "field `{fl}` needs an argument, e.g. `{fl}[...]`{}",
                                if fl == Field::EvtArg { " or `evt.arg.NAME`" } else { "" }
                            )
                        }
                        ResolveError::BadIndex(fl) => {
                            format!("the argument of `{fl}` must be a number, e.g. `{fl}[1]`")
                        }
                    };
                    Err(self.error_at(text, &f.span, msg))
                }
            },
        }
    }

    fn expand_values(&mut self, items: &[Lit], text: &Text) -> CResult<Vec<Val>> {
        let mut out = Vec::new();
        for it in items {
            if !it.quoted {
                if let Some(vals) = self.lists.get(&it.text) {
                    out.extend(vals.iter().map(|(t, o)| Val {
                        text: t.clone(),
                        at: ValAt::Origin(o.clone()),
                    }));
                    continue;
                }
            }
            out.push(Val {
                text: it.text.clone(),
                at: ValAt::Span(it.span.clone()),
            });
        }
        let _ = text;
        Ok(out)
    }

    fn check(&mut self, lhs: &FieldExpr, op: Op, op_span: &Span, rhs: &Rhs, text: &Text) -> CResult<Condition> {
        let lhs = self.operand(lhs, text)?;
        let values = match rhs {
            Rhs::None => None,
            Rhs::Value(l) => Some(vec![Val {
                text: l.text.clone(),
                at: ValAt::Span(l.span.clone()),
            }]),
            Rhs::List(items) => Some(self.expand_values(items, text)?),
            Rhs::ListName(l) => match self.lists.get(&l.text) {
                Some(vals) => Some(
                    vals.iter()
                        .map(|(t, o)| Val {
                            text: t.clone(),
                            at: ValAt::Origin(o.clone()),
                        })
                        .collect(),
                ),
                None => {
                    return Err(self.error_at(
                        text,
                        &l.span,
                        format!(
                            "list `{}` is not defined (write `({})` for a one-item list)",
                            l.text, l.text
                        ),
                    ))
                }
            },
            Rhs::Field(fe) => {
                let o = self.operand(fe, text)?;
                return self.build_check(lhs, op, op_span, CheckRhsIn::Operand(o), text);
            }
        };
        if let Some(v) = &values {
            self.grow(v.len(), text, op_span)?;
        }
        match values {
            None => self.build_check(lhs, op, op_span, CheckRhsIn::None, text),
            Some(v) => self.build_check(lhs, op, op_span, CheckRhsIn::Values(v), text),
        }
    }

    fn value_error(&mut self, text: &Text, v: &Val, msg: String) -> Failed {
        match &v.at {
            ValAt::Span(s) => self.error_at(text, s, msg),
            ValAt::Origin(o) => {
                let o = o.clone();
                self.error_origin(&o, msg)
            }
        }
    }

    fn build_check(
        &mut self,
        lhs: Operand,
        op: Op,
        op_span: &Span,
        rhs: CheckRhsIn,
        text: &Text,
    ) -> CResult<Condition> {
        let ty = lhs.value_type();
        let multi = match &lhs {
            Operand::Field(f) => f.multi(),
            _ => Multi::One,
        };
        // Operator / type compatibility.
        let type_err = match op {
            Op::Lt | Op::Le | Op::Gt | Op::Ge if !(ty.is_numeric() || ty == FieldType::Dynamic) => Some(format!(
                "operator `{op}` needs a numeric field, `{lhs}` is {}",
                ty.kind_phrase()
            )),
            Op::Contains
            | Op::IContains
            | Op::StartsWith
            | Op::EndsWith
            | Op::Glob
            | Op::IGlob
            | Op::Regex
            | Op::PMatch
            | Op::BContains
            | Op::BStartsWith
                if !ty.is_textual() =>
            {
                Some(format!(
                    "operator `{op}` needs a string field, `{lhs}` is {}",
                    ty.kind_phrase()
                ))
            }
            _ => None,
        };
        if let Some(msg) = type_err {
            return Err(self.error_at(text, op_span, msg));
        }
        if multi == Multi::List && !matches!(op, Op::Exists | Op::In | Op::Intersects) {
            return Err(self.error_at(
                text,
                op_span,
                format!("`{lhs}` is a list: only `exists`, `in` and `intersects` apply to it (or use an index, e.g. `{lhs}[0]`)"),
            ));
        }
        let mut available = (self.avail)(lhs.field().field);
        let (pub_rhs, matcher) = match rhs {
            CheckRhsIn::None => (CheckRhs::None, Matcher::None),
            CheckRhsIn::Operand(o) => {
                available &= (self.avail)(o.field().field);
                (CheckRhs::Operand(o), Matcher::None)
            }
            CheckRhsIn::Values(vals) => {
                let matcher = self.matcher(&lhs, op, ty, &vals, text)?;
                (CheckRhs::Values(vals.into_iter().map(|v| v.text).collect()), matcher)
            }
        };
        if lhs.field().field == Field::EvtType {
            available = true;
        }
        Ok(Condition::Check(Box::new(Check {
            lhs,
            op,
            rhs: pub_rhs,
            available,
            matcher,
        })))
    }

    fn literal(&mut self, lhs: &Operand, ty: FieldType, v: &Val, text: &Text) -> CResult<Literal> {
        let t = v.text.as_str();
        let num = parse_num(t);
        let boolean = match t.to_ascii_lowercase().as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        };
        let net = IpNet::parse(t);
        let bad = match ty {
            FieldType::Int | FieldType::Uint | FieldType::Duration | FieldType::Timestamp if num.is_none() => {
                Some(format!("`{t}` is not a number, but `{lhs}` is {}", ty.kind_phrase()))
            }
            FieldType::Port if !num.is_some_and(|n| (0..=65535).contains(&n)) => {
                Some(format!("`{t}` is not a port number (0-65535), but `{lhs}` is a port"))
            }
            FieldType::Bool if boolean.is_none() => {
                Some(format!("`{t}` is not `true` or `false`, but `{lhs}` is a boolean"))
            }
            FieldType::IpAddr | FieldType::IpNet if net.is_none() => Some(format!(
                "`{t}` is not an IP address or network (e.g. `10.0.0.1` or `10.0.0.0/8`), but `{lhs}` is {}",
                ty.kind_phrase()
            )),
            _ => None,
        };
        if let Some(msg) = bad {
            return Err(self.value_error(text, v, msg));
        }
        Ok(Literal {
            lower: t.to_ascii_lowercase().into(),
            text: t.into(),
            num,
            boolean,
            net,
            bytes: parse_hex(t).map(Vec::into_boxed_slice),
        })
    }

    fn matcher(&mut self, lhs: &Operand, op: Op, ty: FieldType, vals: &[Val], text: &Text) -> CResult<Matcher> {
        match op {
            Op::In | Op::Intersects => {
                let mut set = ValueSet::default();
                let mut failed = false;
                for v in vals {
                    match self.literal(lhs, ty, v, text) {
                        Ok(l) => {
                            if let Some(n) = l.num {
                                set.nums.insert(n);
                            }
                            if let Some(b) = l.boolean {
                                set.bools[usize::from(b)] = true;
                            }
                            if matches!(ty, FieldType::IpAddr | FieldType::IpNet | FieldType::Dynamic) {
                                if let Some(n) = l.net {
                                    set.nets.push(n);
                                }
                            }
                            set.strs.insert(l.text);
                        }
                        Err(_) => failed = true,
                    }
                }
                if failed {
                    return Err(Failed);
                }
                Ok(Matcher::Set(set))
            }
            Op::PMatch => {
                let mut t = PathTrie::default();
                for v in vals {
                    t.insert(&v.text);
                }
                Ok(Matcher::Paths(t))
            }
            _ => {
                let Some(v) = vals.first() else {
                    return Ok(Matcher::None);
                };
                match op {
                    Op::Glob | Op::IGlob => Ok(Matcher::Glob(Glob::new(&v.text, op == Op::IGlob))),
                    Op::Regex => match regex::Regex::new(&format!("^(?:{})$", v.text)) {
                        Ok(r) => Ok(Matcher::Regex(r)),
                        Err(e) => {
                            let first = e.to_string().lines().last().unwrap_or("").trim().to_string();
                            Err(self.value_error(text, v, format!("invalid regular expression `{}`: {first}", v.text)))
                        }
                    },
                    Op::BContains | Op::BStartsWith => {
                        if parse_hex(&v.text).is_none() {
                            return Err(self.value_error(
                                text,
                                v,
                                format!("operator `{op}` needs hex bytes (e.g. `cafebabe`), found `{}`", v.text),
                            ));
                        }
                        Ok(Matcher::One(self.literal(lhs, FieldType::String, v, text)?))
                    }
                    Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith => {
                        Ok(Matcher::One(self.literal(lhs, FieldType::String, v, text)?))
                    }
                    _ => Ok(Matcher::One(self.literal(lhs, ty, v, text)?)),
                }
            }
        }
    }

    /// Parses and resolves a lone field (sequence `key`).
    pub fn field_operand(&mut self, text: &Text) -> CResult<Operand> {
        let fe =
            parse_field_only(&text.text).map_err(|ParseError { span, message }| self.error_at(text, &span, message))?;
        self.operand(&fe, text)
    }

    pub fn warn(&mut self, o: &Origin, msg: impl Into<String>) {
        self.diag.warn(&o.file, o.pos, msg);
    }
}

enum CheckRhsIn {
    None,
    Operand(Operand),
    Values(Vec<Val>),
}

/// Where an expression starts, for errors about the whole of it.
fn first_span(e: &Expr) -> Span {
    match e {
        Expr::And(v) | Expr::Or(v) => v.first().map(first_span).unwrap_or(0..0),
        Expr::Not(c) => first_span(c),
        Expr::Ident(_, span) => span.clone(),
        Expr::Check { lhs, .. } => field_span(lhs),
    }
}

fn field_span(f: &FieldExpr) -> Span {
    match f {
        FieldExpr::Field(f) => f.span.clone(),
        FieldExpr::Transform { span, .. } => span.clone(),
    }
}

/// Levels of and/or/not above the deepest check.
fn condition_depth(c: &Condition) -> usize {
    match c {
        Condition::And(v) | Condition::Or(v) => 1 + v.iter().map(condition_depth).max().unwrap_or(0),
        Condition::Not(c) => 1 + condition_depth(c),
        _ => 1,
    }
}

//! Falco rule `exceptions`: `fields`/`comps`/`values` compiled to
//! `and not (...)` clauses, with values expanded from lists.

use super::{unquote_item, CResult, CheckRhsIn, Compiler, Failed, Val, ValAt};
use crate::ast::Op;
use crate::condition::Condition;
use crate::loader::{ExEntry, ExceptionDef};

impl Compiler<'_> {
    /// Builds `not (...)` clauses for a rule's exceptions.
    pub fn exceptions(&mut self, exs: &[ExceptionDef]) -> CResult<Vec<Condition>> {
        let mut out = Vec::new();
        let mut failed = false;
        for ex in exs {
            match self.exception(ex) {
                Ok(Some(c)) => out.push(Condition::Not(Box::new(c))),
                Ok(None) => {}
                Err(_) => failed = true,
            }
        }
        if failed {
            Err(Failed)
        } else {
            Ok(out)
        }
    }

    fn comp(&mut self, e: &ExEntry) -> CResult<Op> {
        match e {
            ExEntry::Scalar(t, o) => match Op::parse(t.text.trim()) {
                Some(op) => Ok(op),
                None => Err(self.error_origin(o, format!("`{}` is not a comparison operator", t.text))),
            },
            ExEntry::Seq(_, o) => Err(self.error_origin(o, "expected one operator, found a sequence")),
        }
    }

    fn ex_values(&mut self, e: &ExEntry) -> CResult<Vec<Val>> {
        match e {
            ExEntry::Scalar(t, o) => {
                let raw = t.text.as_str();
                if let Some(vals) = self.lists.get(raw) {
                    return Ok(vals
                        .iter()
                        .map(|(t, o)| Val {
                            text: t.clone(),
                            at: ValAt::Origin(o.clone()),
                        })
                        .collect());
                }
                Ok(vec![Val {
                    text: unquote_item(raw),
                    at: ValAt::Origin(o.clone()),
                }])
            }
            ExEntry::Seq(items, _) => {
                let mut out = Vec::new();
                for i in items {
                    out.extend(self.ex_values(i)?);
                }
                Ok(out)
            }
        }
    }

    fn ex_check(&mut self, field: &ExEntry, op: Op, vals: Vec<Val>) -> CResult<Condition> {
        let ExEntry::Scalar(ft, fo) = field else {
            return Err(self.error_origin(field.origin(), "expected a field name, found a sequence"));
        };
        let lhs = self.field_operand(ft)?;
        let _ = fo;
        // Values are reported at their own YAML positions.
        let text = ft.clone();
        self.build_check(lhs, op, &(0..0), CheckRhsIn::Values(vals), &text)
    }

    fn exception(&mut self, ex: &ExceptionDef) -> CResult<Option<Condition>> {
        let Some(fields) = &ex.fields else {
            return Err(self.error_origin(&ex.origin, format!("exception `{}` has no `fields`", ex.name)));
        };
        if ex.values.is_empty() {
            return Ok(None);
        }
        match fields {
            ExEntry::Scalar(..) => {
                let op = match &ex.comps {
                    Some(c) => self.comp(c)?,
                    None => Op::In,
                };
                if !op.takes_list() {
                    let o = ex.comps.as_ref().map_or(&ex.origin, |c| c.origin()).clone();
                    return Err(self.error_origin(
                        &o,
                        format!("exception `{}` has a single field, so `comps` must be `in`, `pmatch` or `intersects`, not `{op}`", ex.name),
                    ));
                }
                let mut vals = Vec::new();
                for v in &ex.values {
                    if let ExEntry::Seq(_, o) = v {
                        return Err(self.error_origin(
                            o,
                            format!(
                                "exception `{}` has a single field, so each value must be a string",
                                ex.name
                            ),
                        ));
                    }
                    vals.extend(self.ex_values(v)?);
                }
                Ok(Some(self.ex_check(fields, op, vals)?))
            }
            ExEntry::Seq(fs, fo) => {
                let comps: Vec<Op> = match &ex.comps {
                    None => vec![Op::Eq; fs.len()],
                    Some(ExEntry::Seq(cs, co)) => {
                        if cs.len() != fs.len() {
                            return Err(self.error_origin(
                                co,
                                format!(
                                    "exception `{}` has {} fields but {} comps: they must have equal length",
                                    ex.name,
                                    fs.len(),
                                    cs.len()
                                ),
                            ));
                        }
                        let mut out = Vec::new();
                        for c in cs {
                            out.push(self.comp(c)?);
                        }
                        out
                    }
                    Some(ExEntry::Scalar(_, co)) => {
                        return Err(self.error_origin(
                            co,
                            format!(
                                "exception `{}` has a list of fields, so `comps` must be a list too",
                                ex.name
                            ),
                        ))
                    }
                };
                let mut tuples = Vec::new();
                for tuple in &ex.values {
                    let ExEntry::Seq(items, to) = tuple else {
                        return Err(self.error_origin(
                            tuple.origin(),
                            format!(
                                "each value of exception `{}` must be a list with one entry per field",
                                ex.name
                            ),
                        ));
                    };
                    if items.len() != fs.len() {
                        return Err(self.error_origin(
                            to,
                            format!(
                                "exception `{}` has {} fields but this value has {} entries",
                                ex.name,
                                fs.len(),
                                items.len()
                            ),
                        ));
                    }
                    let mut checks = Vec::new();
                    for ((f, op), v) in fs.iter().zip(&comps).zip(items) {
                        if matches!(v, ExEntry::Seq(..)) && !op.takes_list() {
                            return Err(self.error_origin(
                                v.origin(),
                                format!("a list of values needs a list operator (in, pmatch, intersects), not `{op}`"),
                            ));
                        }
                        let vals = self.ex_values(v)?;
                        checks.push(self.ex_check(f, *op, vals)?);
                    }
                    tuples.push(Condition::and(checks));
                }
                let _ = fo;
                Ok(Some(if tuples.len() == 1 {
                    tuples.pop().unwrap_or(Condition::Bool(false))
                } else {
                    Condition::Or(tuples)
                }))
            }
        }
    }
}

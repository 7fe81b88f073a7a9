//! Recursive-descent parser for conditions, following libsinsp's grammar:
//!
//! ```text
//! Or    := And ('or' And)*
//! And   := Not ('and' Not)*
//! Not   := 'not'* ( '(' Or ')' | Check )
//! Check := '(' Or ')' | FieldExpr 'exists' | FieldExpr Op Value | Identifier
//! ```
//!
//! so `not` binds tighter than `and`, which binds tighter than `or`.

use crate::ast::{Expr, FieldAst, FieldExpr, Lit, Op, Rhs, Span, Transformer};
use crate::lexer::Cursor;

/// A syntax error at a byte range of the condition.
#[derive(Debug)]
pub(crate) struct ParseError {
    pub span: Span,
    pub message: String,
}

const MAX_DEPTH: usize = 500;

pub(crate) fn parse_condition(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        c: Cursor::new(text),
        depth: 0,
    };
    p.c.blank();
    if p.c.at_end() {
        return Err(ParseError {
            span: 0..0,
            message: "the condition is empty".into(),
        });
    }
    let e = p.or()?;
    p.c.blank();
    if !p.c.at_end() {
        let here = p.c.pos;
        let message = if p.c.peek() == Some(b')') {
            "unbalanced parenthesis: `)` has no matching `(`".to_string()
        } else {
            format!(
                "expected `and`, `or` or the end of the condition, found {}",
                p.c.describe_here()
            )
        };
        return Err(ParseError {
            span: here..here + 1,
            message,
        });
    }
    Ok(e)
}

/// Parses a lone field reference (exception `fields`, sequence `key`).
pub(crate) fn parse_field_only(text: &str) -> Result<FieldExpr, ParseError> {
    let mut p = Parser {
        c: Cursor::new(text),
        depth: 0,
    };
    p.c.blank();
    let start = p.c.pos;
    let fe = if let Some(t) = p.transformer_start() {
        p.transformer_rest(t, start)?
    } else if let Some((name, span)) = p.c.lex_field_name() {
        p.field_rest(name, span)?
    } else {
        return p.err(
            p.here(),
            format!("expected a field name, found {}", p.c.describe_here()),
        );
    };
    p.c.blank();
    if !p.c.at_end() {
        return p.err(
            p.here(),
            format!("unexpected {} after the field name", p.c.describe_here()),
        );
    }
    Ok(fe)
}

struct Parser<'a> {
    c: Cursor<'a>,
    depth: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn err<T>(&self, span: Span, message: impl Into<String>) -> PResult<T> {
        Err(ParseError {
            span,
            message: message.into(),
        })
    }

    fn here(&self) -> Span {
        self.c.pos..self.c.pos + 1
    }

    fn enter(&mut self) -> PResult<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err(self.here(), "the condition is nested too deeply");
        }
        Ok(())
    }

    fn or(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut children = vec![self.and()?];
        loop {
            self.c.blank();
            if !self.c.eat_keyword("or") {
                break;
            }
            children.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if children.len() == 1 {
            children.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::Or(children)
        })
    }

    fn and(&mut self) -> PResult<Expr> {
        self.enter()?;
        let mut children = vec![self.not()?];
        loop {
            self.c.blank();
            if !self.c.eat_keyword("and") {
                break;
            }
            children.push(self.not()?);
        }
        self.depth -= 1;
        Ok(if children.len() == 1 {
            children.pop().unwrap_or(Expr::And(Vec::new()))
        } else {
            Expr::And(children)
        })
    }

    fn not(&mut self) -> PResult<Expr> {
        self.enter()?;
        self.c.blank();
        let mut negate = false;
        while self.c.eat_keyword("not") {
            negate = !negate;
            self.c.blank();
        }
        let e = self.check()?;
        self.depth -= 1;
        Ok(if negate { Expr::Not(Box::new(e)) } else { e })
    }

    /// After an opening parenthesis at `open`.
    fn parenthesised(&mut self, open: usize) -> PResult<Expr> {
        self.c.blank();
        if self.c.peek() == Some(b')') {
            return self.err(self.here(), "expected a condition inside the parentheses");
        }
        let e = self.or()?;
        self.c.blank();
        if !self.c.eat(")") {
            if self.c.at_end() {
                return self.err(open..open + 1, "unbalanced parenthesis: this `(` is never closed");
            }
            return self.err(
                self.here(),
                format!("expected `)`, `and` or `or`, found {}", self.c.describe_here()),
            );
        }
        Ok(e)
    }

    fn check(&mut self) -> PResult<Expr> {
        self.c.blank();
        let start = self.c.pos;
        if self.c.eat("(") {
            return self.parenthesised(start);
        }
        if let Some(t) = self.transformer_start() {
            let lhs = self.transformer_rest(t, start)?;
            return self.operator_and_value(lhs);
        }
        if let Some((name, span)) = self.c.lex_field_name() {
            let lhs = self.field_rest(name, span)?;
            return self.operator_and_value(lhs);
        }
        if let Some((name, span)) = self.c.lex_identifier() {
            return Ok(Expr::Ident(name, span));
        }
        if self.c.at_end() {
            return self.err(self.here(), "expected a condition, found the end of the condition");
        }
        if self.c.peek() == Some(b')') {
            return self.err(self.here(), "unbalanced parenthesis: `)` has no matching `(`");
        }
        self.err(
            self.here(),
            format!(
                "expected a field check, a macro name or `(`, found {}",
                self.c.describe_here()
            ),
        )
    }

    /// `tolower(` etc.; returns the transformer with the cursor after `(`.
    fn transformer_start(&mut self) -> Option<Transformer> {
        let save = self.c.pos;
        if let Some((name, _)) = self.c.lex_identifier() {
            if self.c.peek() == Some(b'(') {
                if let Some(t) = Transformer::parse(&name) {
                    self.c.pos += 1;
                    return Some(t);
                }
            }
        }
        self.c.pos = save;
        None
    }

    fn transformer_rest(&mut self, t: Transformer, start: usize) -> PResult<FieldExpr> {
        self.enter()?;
        self.c.blank();
        let inner_start = self.c.pos;
        let inner = if let Some(t2) = self.transformer_start() {
            self.transformer_rest(t2, inner_start)?
        } else if let Some((name, span)) = self.c.lex_field_name() {
            self.field_rest(name, span)?
        } else {
            return self.err(self.here(), format!("expected a field inside `{}(...)`", t.as_str()));
        };
        self.c.blank();
        if !self.c.eat(")") {
            return self.err(self.here(), format!("expected `)` closing `{}(`", t.as_str()));
        }
        self.depth -= 1;
        Ok(FieldExpr::Transform {
            transformer: t,
            inner: Box::new(inner),
            span: start..self.c.pos,
        })
    }

    fn field_rest(&mut self, name: String, span: Span) -> PResult<FieldExpr> {
        let mut end = span.end;
        let mut arg = None;
        if self.c.eat("[") {
            let q = self.c.lex_quoted().map_err(|e| ParseError {
                span: e.span,
                message: e.message,
            })?;
            let a = match q {
                Some((s, _)) => s,
                None => match self.c.lex_field_arg_bare() {
                    Some((s, _)) => s,
                    None => return self.err(self.here(), format!("expected an argument inside `{name}[...]`")),
                },
            };
            if !self.c.eat("]") {
                return self.err(self.here(), format!("expected `]` closing the argument of `{name}`"));
            }
            end = self.c.pos;
            arg = Some(a);
        }
        Ok(FieldExpr::Field(FieldAst {
            name,
            arg,
            span: span.start..end,
        }))
    }

    fn lex_operator(&mut self) -> Option<(Op, Span)> {
        let start = self.c.pos;
        let op = if self.c.eat("exists") {
            Op::Exists
        } else if self.c.eat("<=") {
            Op::Le
        } else if self.c.eat("<") {
            Op::Lt
        } else if self.c.eat(">=") {
            Op::Ge
        } else if self.c.eat(">") {
            Op::Gt
        } else if self.c.eat("==") || self.c.eat("=") {
            Op::Eq
        } else if self.c.eat("!=") {
            Op::Ne
        } else {
            const WORDS: [(&str, Op); 10] = [
                ("glob", Op::Glob),
                ("iglob", Op::IGlob),
                ("contains", Op::Contains),
                ("icontains", Op::IContains),
                ("bcontains", Op::BContains),
                ("startswith", Op::StartsWith),
                ("bstartswith", Op::BStartsWith),
                ("endswith", Op::EndsWith),
                ("regex", Op::Regex),
                ("intersects", Op::Intersects),
            ];
            let mut found = None;
            for (w, op) in WORDS {
                let save = self.c.pos;
                if op == Op::Intersects {
                    if self.c.eat(w) {
                        found = Some(op);
                        break;
                    }
                } else if self.c.eat_word_op(w) {
                    // eat_word_op consumed the trailing blank; keep the span on the word.
                    self.c.pos = save + w.len();
                    found = Some(op);
                    break;
                }
            }
            match found {
                Some(op) => op,
                None if self.c.eat("in") => Op::In,
                None if self.c.eat("pmatch") => Op::PMatch,
                None => return None,
            }
        };
        Some((op, start..self.c.pos))
    }

    fn operator_and_value(&mut self, lhs: FieldExpr) -> PResult<Expr> {
        self.c.blank();
        let Some((op, op_span)) = self.lex_operator() else {
            let shown = match &lhs {
                FieldExpr::Field(f) => &self.c.src[f.span.clone()],
                FieldExpr::Transform { span, .. } => &self.c.src[span.clone()],
            };
            return self.err(
                self.here(),
                format!(
                    "expected an operator after `{shown}` (one of =, !=, <, <=, >, >=, contains, icontains, bcontains, startswith, bstartswith, endswith, glob, iglob, regex, in, intersects, pmatch, exists), found {}",
                    self.c.describe_here()
                ),
            );
        };
        if op == Op::Exists {
            return Ok(Expr::Check {
                lhs,
                op,
                op_span,
                rhs: Rhs::None,
            });
        }
        let had_blank = self.c.blank();
        let rhs = if op.takes_list() {
            self.list_value(op)?
        } else if op.is_numeric() {
            self.number_value(op)?
        } else {
            // Word operators need a blank before the value; symbol operators don't.
            let is_word = op.as_str().chars().all(|c| c.is_ascii_alphabetic());
            if is_word && !had_blank && !self.c.at_end() {
                return self.err(self.here(), format!("expected a blank after `{op}`"));
            }
            self.string_value(op)?
        };
        Ok(Expr::Check { lhs, op, op_span, rhs })
    }

    fn value_field(&mut self) -> PResult<Option<FieldExpr>> {
        let start = self.c.pos;
        if self.c.eat("val(") {
            self.c.blank();
            let Some((name, span)) = self.c.lex_field_name() else {
                return self.err(self.here(), "expected a field inside `val(...)`");
            };
            let f = self.field_rest(name, span)?;
            self.c.blank();
            if !self.c.eat(")") {
                return self.err(self.here(), "expected `)` closing `val(`");
            }
            let _ = start;
            return Ok(Some(f));
        }
        if let Some(t) = self.transformer_start() {
            return Ok(Some(self.transformer_rest(t, start)?));
        }
        Ok(None)
    }

    fn quoted(&mut self) -> PResult<Option<Lit>> {
        match self.c.lex_quoted() {
            Ok(Some((text, span))) => Ok(Some(Lit {
                text,
                quoted: true,
                span,
            })),
            Ok(None) => Ok(None),
            Err(e) => Err(ParseError {
                span: e.span,
                message: e.message,
            }),
        }
    }

    fn string_value(&mut self, op: Op) -> PResult<Rhs> {
        if let Some(f) = self.value_field()? {
            return Ok(Rhs::Field(f));
        }
        if let Some(l) = self.quoted()? {
            return Ok(Rhs::Value(l));
        }
        if let Some((text, span)) = self.c.lex_bare_str() {
            return Ok(Rhs::Value(Lit {
                text,
                quoted: false,
                span,
            }));
        }
        self.err(
            self.here(),
            format!("expected a value after `{op}`, found {}", self.c.describe_here()),
        )
    }

    fn number_value(&mut self, op: Op) -> PResult<Rhs> {
        if let Some(f) = self.value_field()? {
            return Ok(Rhs::Field(f));
        }
        if let Some((text, span)) = self.c.lex_number() {
            return Ok(Rhs::Value(Lit {
                text,
                quoted: false,
                span,
            }));
        }
        self.err(
            self.here(),
            format!("expected a number after `{op}`, found {}", self.c.describe_here()),
        )
    }

    fn list_value(&mut self, op: Op) -> PResult<Rhs> {
        let open = self.c.pos;
        if self.c.eat("(") {
            let mut items = Vec::new();
            self.c.blank();
            if self.c.eat(")") {
                return Ok(Rhs::List(items));
            }
            loop {
                self.c.blank();
                if let Some(l) = self.quoted()? {
                    items.push(l);
                } else if let Some((text, span)) = self.c.lex_bare_str() {
                    items.push(Lit {
                        text,
                        quoted: false,
                        span,
                    });
                } else if self.c.at_end() {
                    return self.err(open..open + 1, "unbalanced parenthesis: this `(` is never closed");
                } else {
                    return self.err(
                        self.here(),
                        format!("expected a list item, found {}", self.c.describe_here()),
                    );
                }
                self.c.blank();
                if self.c.eat(",") {
                    continue;
                }
                if self.c.eat(")") {
                    return Ok(Rhs::List(items));
                }
                if self.c.at_end() {
                    return self.err(open..open + 1, "unbalanced parenthesis: this `(` is never closed");
                }
                return self.err(
                    self.here(),
                    format!(
                        "expected `,` or `)` in the value list, found {}",
                        self.c.describe_here()
                    ),
                );
            }
        }
        if let Some(f) = self.value_field()? {
            return Ok(Rhs::Field(f));
        }
        if self.c.identifier_follows() {
            if let Some((text, span)) = self.c.lex_identifier() {
                return Ok(Rhs::ListName(Lit {
                    text,
                    quoted: false,
                    span,
                }));
            }
        }
        self.err(
            self.here(),
            format!(
                "expected a parenthesised list or a list name after `{op}`, found {}",
                self.c.describe_here()
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match e {
            Expr::And(v) => format!("and({})", v.iter().map(show).collect::<Vec<_>>().join(",")),
            Expr::Or(v) => format!("or({})", v.iter().map(show).collect::<Vec<_>>().join(",")),
            Expr::Not(e) => format!("not({})", show(e)),
            Expr::Ident(n, _) => n.clone(),
            Expr::Check { lhs, op, rhs, .. } => {
                let l = match lhs {
                    FieldExpr::Field(f) => match &f.arg {
                        Some(a) => format!("{}[{a}]", f.name),
                        None => f.name.clone(),
                    },
                    FieldExpr::Transform { transformer, .. } => format!("{}(..)", transformer.as_str()),
                };
                let r = match rhs {
                    Rhs::None => String::new(),
                    Rhs::Value(l) => l.text.clone(),
                    Rhs::List(v) => format!("({})", v.iter().map(|l| l.text.clone()).collect::<Vec<_>>().join("|")),
                    Rhs::ListName(l) => format!("@{}", l.text),
                    Rhs::Field(_) => "val".into(),
                };
                format!("{l}{op}{r}")
            }
        }
    }

    fn p(s: &str) -> String {
        match parse_condition(s) {
            Ok(e) => show(&e),
            Err(e) => format!("ERR {}..{} {}", e.span.start, e.span.end, e.message),
        }
    }

    #[test]
    fn precedence() {
        assert_eq!(p("a or b and not c"), "or(a,and(b,not(c)))");
        assert_eq!(p("not a and b"), "and(not(a),b)");
        assert_eq!(p("(a or b) and c"), "and(or(a,b),c)");
        assert_eq!(p("not not a"), "a");
        assert_eq!(p("not(a)"), "not(a)");
    }

    #[test]
    fn checks() {
        assert_eq!(p("proc.name=bash"), "proc.name=bash");
        assert_eq!(p("proc.aname[2] startswith runc:[0"), "proc.aname[2]startswithrunc:[0");
        assert_eq!(p("fd.num>=-1"), "fd.num>=-1");
        assert_eq!(
            p("proc.pname in (runc:[0:PARENT], \"a b\", 'c')"),
            "proc.pnamein(runc:[0:PARENT]|a b|c)"
        );
        assert_eq!(p("proc.name exists"), "proc.nameexists");
        assert_eq!(p("proc.args = ''"), "proc.args=");
        assert_eq!(p("proc.args contains \"\\ \""), "proc.argscontains\\");
        assert_eq!(p("(a or proc.args endswith \\)"), "or(a,proc.argsendswith\\)");
        assert_eq!(p("proc.name in shells"), "proc.namein@shells");
        assert_eq!(p("proc.name in ()"), "proc.namein()");
        assert_eq!(p("tolower(proc.name) = bash"), "tolower(..)=bash");
        assert_eq!(p("proc.name = val(proc.pname)"), "proc.name=val");
        assert_eq!(
            p("container.mount.dest[/var/run/docker.sock] in (\"<NA>\")"),
            "container.mount.dest[/var/run/docker.sock]in(<NA>)"
        );
    }

    #[test]
    fn errors() {
        assert_eq!(
            p("proc.name ="),
            "ERR 11..12 expected a value after `=`, found the end of the condition"
        );
        assert!(p("(proc.name = a").starts_with("ERR 0..1 unbalanced parenthesis"));
        assert!(p("proc.name = a)").starts_with("ERR 13..14 unbalanced parenthesis"));
        assert!(p("proc.name bash").starts_with("ERR 10..11 expected an operator after `proc.name`"));
        assert!(p("a b").starts_with("ERR 2..3 expected `and`, `or`"));
        assert!(p("fd.num > x").starts_with("ERR 9..10 expected a number after `>`"));
        assert!(p("proc.name = \"abc").starts_with("ERR 12..13 unterminated string"));
        assert!(p("").starts_with("ERR 0..0 the condition is empty"));
    }
}

//! Parse tree of a condition, before names are resolved.
//!
//! Spans are byte ranges into the condition text; the loader maps them back
//! to file positions. Field names, macro names and list names are still plain
//! strings here: resolution happens in `compile`.

use std::fmt;
use std::ops::Range;

use serde::Serialize;

pub(crate) type Span = Range<usize>;

/// Comparison operators of the condition language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// `=` or `==`
    Eq,
    /// `!=`
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    /// Byte sequence given as hex.
    BContains,
    StartsWith,
    /// Byte prefix given as hex.
    BStartsWith,
    EndsWith,
    /// fnmatch(3)-style pattern; `*` also matches `/`.
    Glob,
    IGlob,
    /// Regular expression that must match the whole value.
    Regex,
    In,
    Intersects,
    /// Path prefix match: the value is one of the paths or below one of them.
    PMatch,
    Exists,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::PMatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Parses an operator as written in rule files (also used for exception `comps`).
    pub fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::PMatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    pub fn takes_list(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::PMatch)
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Field transformers: `tolower(proc.name)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transformer {
    ToLower,
    ToUpper,
    /// Base64-decodes the value.
    B64,
    /// Last path component.
    Basename,
    /// Length of the value (string bytes or list elements).
    Len,
}

impl Transformer {
    pub fn parse(s: &str) -> Option<Transformer> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FieldAst {
    pub name: String,
    pub arg: Option<String>,
    /// Span of the whole reference including `[arg]`.
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldExpr {
    Field(FieldAst),
    Transform {
        transformer: Transformer,
        inner: Box<FieldExpr>,
        span: Span,
    },
}

/// A literal value. `quoted` values are never list or macro references.
#[derive(Debug, Clone)]
pub(crate) struct Lit {
    pub text: String,
    pub quoted: bool,
    pub span: Span,
}

#[derive(Debug, Clone)]
pub(crate) enum Rhs {
    /// `exists` has no right-hand side.
    None,
    Value(Lit),
    /// `(a, b, c)`; bare items may name lists.
    List(Vec<Lit>),
    /// `in name` without parentheses: must name a list.
    ListName(Lit),
    /// `val(field)` or a transformer.
    Field(FieldExpr),
}

#[derive(Debug, Clone)]
pub(crate) enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    Not(Box<Expr>),
    /// A macro reference.
    Ident(String, Span),
    Check {
        lhs: FieldExpr,
        op: Op,
        op_span: Span,
        rhs: Rhs,
    },
}

//! Output templates: `"%proc.name wrote %fd.name"`.
//!
//! A `%` followed by a field name (`%proc.name`, `%proc.aname[2]`,
//! `%evt.arg.flags`) is replaced by the field's value; the name extends over
//! `[a-zA-Z0-9_.]` and then the longest catalogue field is taken, so
//! `%fd.name.` prints the name followed by a dot, as in Falco. `%%` is a
//! literal `%`. Unavailable values print `<NA>`.

use std::fmt::Write as _;

use serde::Serialize;

use crate::event::{EventSource, Value};
use crate::fields::{self, ArgSpec, FieldArg, FieldRef, Multi};

#[derive(Debug, Clone)]
enum Part {
    Text(String),
    Field { field: FieldRef, available: bool },
}

/// A compiled output template.
#[derive(Debug, Clone, Serialize)]
pub struct OutputTemplate {
    /// The template as written.
    pub text: String,
    #[serde(skip)]
    parts: Vec<Part>,
}

/// Why a template did not compile: byte offset in the template and message.
pub(crate) struct OutputError {
    pub offset: usize,
    pub message: String,
}

impl OutputTemplate {
    pub(crate) fn compile(text: &str, avail: &dyn Fn(fields::Field) -> bool) -> Result<Self, OutputError> {
        let b = text.as_bytes();
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'%' {
                let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                lit.push_str(&text[i..i + ch_len]);
                i += ch_len;
                continue;
            }
            if b.get(i + 1) == Some(&b'%') {
                lit.push('%');
                i += 2;
                continue;
            }
            let start = i + 1;
            let mut end = start;
            if !b.get(end).is_some_and(u8::is_ascii_alphabetic) {
                lit.push('%');
                i += 1;
                continue;
            }
            while b
                .get(end)
                .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.')
            {
                end += 1;
            }
            let name = &text[start..end];
            // Falco's deprecated `%container.info` expands to nothing.
            if name.trim_end_matches('.') == "container.info" {
                i = start + "container.info".len();
                continue;
            }
            let Some((field, used)) = fields::longest_prefix(name) else {
                let shown = name.trim_end_matches('.');
                return Err(OutputError {
                    offset: i,
                    message: match crate::error::suggest(shown, fields::catalogue().iter().map(|d| d.name)) {
                        Some(s) => format!("unknown field `%{shown}` in output (did you mean `%{s}`?)"),
                        None => format!("unknown field `%{shown}` in output"),
                    },
                });
            };
            let mut consumed = start + used;
            let spec = field.def().arg;
            let mut arg = FieldArg::None;
            // `%evt.arg.flags`: the rest of the dotted name is the argument.
            if spec == ArgSpec::NameOrIndex && b.get(consumed) == Some(&b'.') {
                let a_start = consumed + 1;
                let mut a_end = a_start;
                while b.get(a_end).is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_') {
                    a_end += 1;
                }
                if a_end > a_start {
                    arg = FieldArg::Name(text[a_start..a_end].into());
                    consumed = a_end;
                }
            }
            if arg == FieldArg::None && spec != ArgSpec::None && b.get(consumed) == Some(&b'[') {
                if let Some(close) = text[consumed..].find(']') {
                    let raw = &text[consumed + 1..consumed + close];
                    match fields::resolve(field.name(), Some(raw)) {
                        Ok(r) => arg = r.arg,
                        Err(_) => {
                            return Err(OutputError {
                                offset: consumed,
                                message: format!("invalid argument `[{raw}]` for `%{}`", field.name()),
                            })
                        }
                    }
                    consumed += close + 1;
                }
            }
            if arg == FieldArg::None && matches!(spec, ArgSpec::Name | ArgSpec::NameOrIndex) {
                return Err(OutputError {
                    offset: i,
                    message: format!("field `%{}` in output needs an argument", field.name()),
                });
            }
            if !lit.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut lit)));
            }
            parts.push(Part::Field {
                field: FieldRef { field, arg },
                available: avail(field),
            });
            i = consumed;
        }
        if !lit.is_empty() {
            parts.push(Part::Text(lit));
        }
        Ok(OutputTemplate {
            text: text.to_string(),
            parts,
        })
    }

    /// Fields the template prints.
    pub fn fields(&self) -> impl Iterator<Item = &FieldRef> {
        self.parts.iter().filter_map(|p| match p {
            Part::Field { field, .. } => Some(field),
            Part::Text(_) => None,
        })
    }

    /// Renders the template for an event.
    pub fn format(&self, ev: &dyn EventSource) -> String {
        let mut out = String::with_capacity(self.text.len() + 64);
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { field, available } => {
                    if *available {
                        let v = if field.field == fields::Field::EvtType {
                            Value::str(ev.evt_type())
                        } else {
                            ev.field(field)
                        };
                        write_value(&mut out, &v, field.multi());
                    } else {
                        out.push_str("<NA>");
                    }
                }
            }
        }
        out
    }
}

/// Renders a value as Falco prints it: lists as `(a,b)` for list fields and
/// space-separated for ancestor fields, missing values as `<NA>`.
pub(crate) fn write_value(out: &mut String, v: &Value<'_>, multi: Multi) {
    match v {
        Value::None => out.push_str("<NA>"),
        Value::Str(s) => out.push_str(s),
        Value::Bytes(b) => out.push_str(&String::from_utf8_lossy(b)),
        Value::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Value::Uint(u) => {
            let _ = write!(out, "{u}");
        }
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Ip(ip) => {
            let _ = write!(out, "{ip}");
        }
        Value::List(l) => {
            let (open, sep, close) = if multi == Multi::List {
                ("(", ",", ")")
            } else {
                ("", " ", "")
            };
            out.push_str(open);
            for i in 0..l.value_count() {
                if i > 0 {
                    out.push_str(sep);
                }
                write_value(out, &l.value_at(i), Multi::One);
            }
            out.push_str(close);
            if (l.value_count() == 0) && multi != Multi::List {
                out.push_str("<NA>");
            }
        }
    }
}

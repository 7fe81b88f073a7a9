//! Character-level scanning for the condition language.
//!
//! Falco's grammar is context sensitive (whether `a-b` is a bare string or
//! an error depends on where it appears), so instead of a token stream this
//! is a cursor with one `lex_*` method per token class, called by the parser
//! where that class is allowed. Token classes follow libsinsp's parser:
//!
//! * field name: `[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+`
//! * identifier: `[a-zA-Z]+[a-zA-Z0-9_]*`
//! * bare string: one or more characters other than `()"'=,` and blanks
//! * field argument (inside `[...]`): characters other than `[]"'` and blanks
//! * number: `[+-]?[0-9]+(\.[0-9]*)?([eE][+-][0-9]+)?` or `0x...`
//! * quoted string: `"..."` or `'...'` with backslash escapes

use crate::ast::Span;

pub(crate) struct Cursor<'a> {
    pub src: &'a str,
    pub pos: usize,
}

/// A lexing failure inside a quoted string.
pub(crate) struct LexError {
    pub span: Span,
    pub message: String,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x08 | 0x0c)
}

fn is_alpha(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_ident_rest(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl<'a> Cursor<'a> {
    pub fn new(src: &'a str) -> Self {
        Cursor { src, pos: 0 }
    }

    fn bytes(&self) -> &'a [u8] {
        self.src.as_bytes()
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    pub fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    pub fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Skips blanks; true if any were skipped.
    pub fn blank(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(is_blank) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Consumes `s` if the input continues with it.
    pub fn eat(&mut self, s: &str) -> bool {
        if self.rest().starts_with(s) {
            self.pos += s.len();
            true
        } else {
            false
        }
    }

    /// Consumes the keyword `kw` if it is followed by a blank or `(` (not
    /// consumed), as `and`/`or` must be.
    pub fn eat_keyword(&mut self, kw: &str) -> bool {
        let rest = self.rest().as_bytes();
        if rest.starts_with(kw.as_bytes()) {
            match rest.get(kw.len()) {
                Some(b) if is_blank(*b) || *b == b'(' => {
                    self.pos += kw.len();
                    true
                }
                _ => false,
            }
        } else {
            false
        }
    }

    /// A word operator (`contains`) must be followed by a blank, which is consumed.
    pub fn eat_word_op(&mut self, word: &str) -> bool {
        let save = self.pos;
        if self.eat(word) && self.blank() {
            return true;
        }
        self.pos = save;
        false
    }

    fn identifier_len(&self, from: usize) -> usize {
        let b = self.bytes();
        let mut i = from;
        if !b.get(i).copied().is_some_and(is_alpha) {
            return 0;
        }
        while b.get(i).copied().is_some_and(is_alpha) {
            i += 1;
        }
        while b.get(i).copied().is_some_and(is_ident_rest) {
            i += 1;
        }
        i - from
    }

    /// Length of a field name starting here (0 if none): identifier segments
    /// joined by dots, at least two segments.
    fn field_name_len(&self) -> usize {
        let b = self.bytes();
        let first = self.identifier_len(self.pos);
        if first == 0 {
            return 0;
        }
        let mut end = self.pos + first;
        let mut segments = 1;
        while b.get(end) == Some(&b'.') {
            let seg = self.identifier_len(end + 1);
            if seg == 0 {
                break;
            }
            end += 1 + seg;
            segments += 1;
        }
        if segments >= 2 {
            end - self.pos
        } else {
            0
        }
    }

    pub fn lex_field_name(&mut self) -> Option<(String, Span)> {
        let n = self.field_name_len();
        if n == 0 {
            return None;
        }
        let start = self.pos;
        self.pos += n;
        Some((self.src[start..self.pos].to_string(), start..self.pos))
    }

    pub fn lex_identifier(&mut self) -> Option<(String, Span)> {
        let n = self.identifier_len(self.pos);
        if n == 0 {
            return None;
        }
        let start = self.pos;
        self.pos += n;
        Some((self.src[start..self.pos].to_string(), start..self.pos))
    }

    /// True if an identifier (not a field name) starts here.
    pub fn identifier_follows(&self) -> bool {
        self.identifier_len(self.pos) > 0
    }

    pub fn lex_bare_str(&mut self) -> Option<(String, Span)> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_blank(b) || matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') {
                break;
            }
            // Step over whole UTF-8 characters.
            self.pos += utf8_len(b);
        }
        if self.pos == start {
            return None;
        }
        self.pos = self.pos.min(self.src.len());
        Some((self.src[start..self.pos].to_string(), start..self.pos))
    }

    pub fn lex_field_arg_bare(&mut self) -> Option<(String, Span)> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_blank(b) || matches!(b, b'[' | b']' | b'"' | b'\'') {
                break;
            }
            self.pos += utf8_len(b);
        }
        self.pos = self.pos.min(self.src.len());
        if self.pos == start {
            return None;
        }
        Some((self.src[start..self.pos].to_string(), start..self.pos))
    }

    pub fn lex_number(&mut self) -> Option<(String, Span)> {
        let b = self.bytes();
        let start = self.pos;
        let mut i = start;
        if b.get(i) == Some(&b'0') && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            let mut j = i + 2;
            while b.get(j).is_some_and(|c| c.is_ascii_hexdigit()) {
                j += 1;
            }
            if j > i + 2 {
                self.pos = j;
                return Some((self.src[start..j].to_string(), start..j));
            }
        }
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits = i;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == digits {
            return None;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        }
        if matches!(b.get(i), Some(b'e' | b'E')) && matches!(b.get(i + 1), Some(b'+' | b'-')) {
            let mut j = i + 2;
            while b.get(j).is_some_and(u8::is_ascii_digit) {
                j += 1;
            }
            if j > i + 2 {
                i = j;
            }
        }
        self.pos = i;
        Some((self.src[start..i].to_string(), start..i))
    }

    /// A quoted string with Falco's escapes. `Ok(None)` if no quote starts
    /// here; `Err` for an unterminated string or a bad escape.
    pub fn lex_quoted(&mut self) -> Result<Option<(String, Span)>, LexError> {
        let Some(q) = self.peek().filter(|b| *b == b'"' || *b == b'\'') else {
            return Ok(None);
        };
        let start = self.pos;
        let mut out = String::new();
        let mut chars = self.src[start + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            let at = start + 1 + i;
            if c as u32 == q as u32 {
                self.pos = at + 1;
                return Ok(Some((out, start..self.pos)));
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let Some((_, e)) = chars.next() else { break };
            let produced = match e {
                'b' => '\u{8}',
                'f' => '\u{c}',
                'n' => '\n',
                'r' => '\r',
                't' => '\t',
                // Falco keeps a lone backslash for `\ ` (upstream rules rely on it).
                ' ' | '\\' => '\\',
                '/' => '/',
                '"' if q == b'"' => '"',
                '\'' if q == b'\'' => '\'',
                'x' => {
                    let h: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                    match u8::from_str_radix(&h, 16) {
                        Ok(v) if h.len() == 2 => char::from(v),
                        _ => {
                            return Err(LexError {
                                span: at..at + 2 + h.len(),
                                message: format!("invalid hex escape `\\x{h}`: expected two hex digits"),
                            })
                        }
                    }
                }
                other => {
                    return Err(LexError {
                        span: at..at + 1 + other.len_utf8(),
                        message: format!(
                            "unsupported escape `\\{other}` in a {}-quoted string",
                            if q == b'"' { "double" } else { "single" }
                        ),
                    })
                }
            };
            out.push(produced);
        }
        Err(LexError {
            span: start..start + 1,
            message: format!("unterminated string: missing closing {}", q as char),
        })
    }

    /// The token at the cursor, for "found `...`" in error messages.
    pub fn describe_here(&self) -> String {
        let rest = self.rest();
        if rest.is_empty() {
            return "the end of the condition".to_string();
        }
        let tok: String = rest.chars().take_while(|c| !c.is_whitespace()).take(24).collect();
        let tok = if tok.is_empty() {
            rest.chars().take(1).collect()
        } else {
            tok
        };
        format!("`{tok}`")
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

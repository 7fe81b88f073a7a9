//! YAML reading with positions.
//!
//! The rule loader needs to point at the exact place of a mistake, including
//! inside a condition string, so we build our own small node tree from the
//! `saphyr-parser` event stream (which carries a span for each node) and keep,
//! for each scalar, where it starts in the file. [`SourceFile::scalar_map`]
//! maps every byte of a scalar's *value* back to a file position, undoing YAML
//! folding, indentation and quoting.

use std::borrow::Cow;
use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::error::Position;

/// A rule file's text, kept as characters so that parser markers (character
/// indices) can be turned into lines and columns.
pub(crate) struct SourceFile {
    chars: Vec<char>,
    /// Character index where each line starts.
    line_starts: Vec<usize>,
}

impl SourceFile {
    pub fn new(name: &str, text: &str) -> Self {
        let chars: Vec<char> = text.chars().collect();
        let mut line_starts = vec![0];
        for (i, c) in chars.iter().enumerate() {
            if *c == '\n' {
                line_starts.push(i + 1);
            }
        }
        let _ = name;
        SourceFile { chars, line_starts }
    }

    /// Position of a character index.
    pub fn position(&self, idx: usize) -> Position {
        let line = match self.line_starts.binary_search(&idx) {
            Ok(l) => l,
            Err(l) => l.saturating_sub(1),
        };
        let col = idx.saturating_sub(self.line_starts[line]);
        Position::new(line as u32 + 1, col as u32 + 1)
    }

    /// Maps each byte of `sc.value` to the character index in the file it came
    /// from. Falls back to `None` when the value cannot be aligned with the
    /// source (then callers report the scalar's start).
    fn align(&self, sc: &Scalar) -> Option<Vec<usize>> {
        let src = &self.chars;
        let mut p = sc.start;
        match sc.style {
            Style::Literal | Style::Folded => {
                // If the span starts at the `|`/`>` header, content starts on the next line.
                if matches!(src.get(p), Some('|' | '>')) {
                    while p < src.len() && src[p] != '\n' {
                        p += 1;
                    }
                    p += 1;
                }
            }
            Style::SingleQuoted | Style::DoubleQuoted => p += 1,
            Style::Plain => {}
        }
        let mut out = Vec::with_capacity(sc.value.len());
        for v in sc.value.chars() {
            loop {
                let s = *src.get(p)?;
                if sc.style == Style::DoubleQuoted && s == '\\' {
                    let (produced, len) = decode_escape(&src[p..]);
                    if produced == Some(v) {
                        push_char(&mut out, v, p);
                        p += len;
                        break;
                    }
                    p += len;
                    continue;
                }
                if s == v || (v == ' ' && s == '\n') {
                    push_char(&mut out, v, p);
                    p += 1;
                    break;
                }
                p += 1;
            }
        }
        Some(out)
    }

    /// A mapping from byte offsets in a scalar value to file positions.
    pub fn scalar_map(&self, sc: &Scalar) -> ScalarMap {
        let aligned = self.align(sc);
        match aligned {
            Some(idx) => ScalarMap {
                positions: idx.iter().map(|i| self.position(*i)).collect(),
                fallback: sc.pos,
            },
            None => ScalarMap {
                positions: Vec::new(),
                fallback: sc.pos,
            },
        }
    }
}

fn push_char(out: &mut Vec<usize>, c: char, p: usize) {
    for _ in 0..c.len_utf8() {
        out.push(p);
    }
}

/// Decodes one YAML double-quoted escape starting at `\`. Returns the produced
/// character (None for an escaped line break) and how many source characters
/// it spans.
fn decode_escape(s: &[char]) -> (Option<char>, usize) {
    let Some(&c) = s.get(1) else {
        return (None, 1);
    };
    let simple = match c {
        '0' => Some('\0'),
        'a' => Some('\u{7}'),
        'b' => Some('\u{8}'),
        't' | '\t' => Some('\t'),
        'n' => Some('\n'),
        'v' => Some('\u{b}'),
        'f' => Some('\u{c}'),
        'r' => Some('\r'),
        'e' => Some('\u{1b}'),
        ' ' => Some(' '),
        '"' => Some('"'),
        '/' => Some('/'),
        '\\' => Some('\\'),
        'N' => Some('\u{85}'),
        '_' => Some('\u{a0}'),
        'L' => Some('\u{2028}'),
        'P' => Some('\u{2029}'),
        '\n' => return (None, 2),
        _ => None,
    };
    if simple.is_some() {
        return (simple, 2);
    }
    let digits = match c {
        'x' => 2,
        'u' => 4,
        'U' => 8,
        _ => return (None, 2),
    };
    let hex: String = s.iter().skip(2).take(digits).collect();
    let produced = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
    (produced, 2 + digits)
}

/// Byte offset → file position for one scalar value.
pub(crate) struct ScalarMap {
    positions: Vec<Position>,
    fallback: Position,
}

impl ScalarMap {
    /// Position of the byte at `offset`; offsets at or past the end point just
    /// after the last character.
    pub fn at(&self, offset: usize) -> Position {
        if let Some(p) = self.positions.get(offset) {
            return *p;
        }
        match self.positions.last() {
            Some(last) => Position::new(last.line, last.column + 1),
            None => self.fallback,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    Plain,
    SingleQuoted,
    DoubleQuoted,
    Literal,
    Folded,
}

#[derive(Debug, Clone)]
pub(crate) struct Scalar {
    pub value: String,
    pub style: Style,
    /// Character index of the scalar's first character (quote or block indicator included).
    pub start: usize,
    pub pos: Position,
}

impl Scalar {
    pub fn is_null(&self) -> bool {
        self.style == Style::Plain && matches!(self.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
    }

    /// YAML 1.1 style booleans, as yaml-cpp (used by Falco) accepts them.
    pub fn as_bool(&self) -> Option<bool> {
        if self.style != Style::Plain {
            return None;
        }
        match self.value.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "y" => Some(true),
            "false" | "no" | "off" | "n" => Some(false),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Node {
    Scalar(Scalar),
    Seq(Vec<Node>, Position),
    Map(Vec<(Scalar, Node)>, Position),
}

impl Node {
    pub fn pos(&self) -> Position {
        match self {
            Node::Scalar(s) => s.pos,
            Node::Seq(_, p) | Node::Map(_, p) => *p,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn key(&self, key: &str) -> Option<&Scalar> {
        match self {
            Node::Map(entries, _) => entries.iter().find(|(k, _)| k.value == key).map(|(k, _)| k),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Scalar(s) if s.is_null())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Node::Scalar(s) if s.is_null() => "an empty value",
            Node::Scalar(_) => "a scalar",
            Node::Seq(..) => "a sequence",
            Node::Map(..) => "a mapping",
        }
    }
}

/// A YAML syntax error with its position.
pub(crate) struct YamlError {
    pub pos: Position,
    pub message: String,
}

/// Most nodes one file may produce, counting every node an alias repeats: a few aliases
/// of aliases otherwise expand to billions of nodes ("billion laughs"). Falco's upstream
/// rule files produce about 20,000 each.
pub(crate) const MAX_NODES: usize = 1_000_000;

/// Deepest nesting of sequences and mappings (rule files nest about 5 deep); also keeps
/// the recursive walks over the tree, and its drop, far from the end of the stack.
pub(crate) const MAX_DEPTH: usize = 64;

/// A sequence or mapping being built, with how many nodes it holds so far.
enum Frame {
    Seq(Vec<Node>, Position, usize, usize),
    Map(Vec<(Scalar, Node)>, Option<Scalar>, Position, usize, usize),
}

/// Parses all documents of a file into node trees.
///
/// Bounded: at most [`MAX_NODES`] nodes (aliases count as the nodes they repeat) and
/// [`MAX_DEPTH`] levels, each refused with the position where the limit was crossed.
pub(crate) fn parse(file: &SourceFile, text: &str) -> Result<Vec<Node>, YamlError> {
    let mut docs = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    // Anchored nodes and how many nodes each holds.
    let mut anchors: HashMap<usize, (Node, usize)> = HashMap::new();
    let mut total = 0usize;
    for ev in Parser::new_from_str(text) {
        let (event, span): (Event<'_>, Span) = ev.map_err(|e| YamlError {
            pos: Position::new(e.marker().line() as u32, e.marker().col() as u32 + 1),
            message: format!("invalid YAML: {}", e.info()),
        })?;
        let pos = file.position(span.start.index());
        let (node, size) = match event {
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(YamlError {
                        pos,
                        message: format!("YAML nested deeper than {MAX_DEPTH} levels"),
                    });
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq(Vec::new(), pos, anchor, 1)
                } else {
                    Frame::Map(Vec::new(), None, pos, anchor, 1)
                });
                total += 1;
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Frame::Seq(items, p, anchor, size)) => {
                    let n = Node::Seq(items, p);
                    if anchor != 0 {
                        anchors.insert(anchor, (n.clone(), size));
                    }
                    (n, size)
                }
                _ => continue,
            },
            Event::MappingEnd => match stack.pop() {
                Some(Frame::Map(entries, _, p, anchor, size)) => {
                    let n = Node::Map(entries, p);
                    if anchor != 0 {
                        anchors.insert(anchor, (n.clone(), size));
                    }
                    (n, size)
                }
                _ => continue,
            },
            Event::Scalar(value, style, anchor, _) => {
                let n = Node::Scalar(Scalar {
                    value: Cow::into_owned(value),
                    style: match style {
                        ScalarStyle::Plain => Style::Plain,
                        ScalarStyle::SingleQuoted => Style::SingleQuoted,
                        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
                        ScalarStyle::Literal => Style::Literal,
                        ScalarStyle::Folded => Style::Folded,
                    },
                    start: span.start.index(),
                    pos,
                });
                if anchor != 0 {
                    anchors.insert(anchor, (n.clone(), 1));
                }
                total += 1;
                (n, 1)
            }
            Event::Alias(id) => match anchors.get(&id) {
                // Counted before it is copied, so the copy itself stays bounded.
                Some((n, size)) => {
                    total = total.saturating_add(*size);
                    if total > MAX_NODES {
                        return Err(too_many_nodes(pos));
                    }
                    if stack.len() + depth(n) > MAX_DEPTH {
                        return Err(YamlError {
                            pos,
                            message: format!("this alias nests the YAML deeper than {MAX_DEPTH} levels"),
                        });
                    }
                    (n.clone(), *size)
                }
                None => {
                    return Err(YamlError {
                        pos,
                        message: "unknown YAML alias".into(),
                    })
                }
            },
            _ => continue,
        };
        if total > MAX_NODES {
            return Err(too_many_nodes(pos));
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq(items, _, _, held)) => {
                *held += size;
                items.push(node)
            }
            Some(Frame::Map(entries, key, _, _, held)) => {
                *held += size;
                match key.take() {
                    None => match node {
                        Node::Scalar(s) => *key = Some(s),
                        other => {
                            return Err(YamlError {
                                pos: other.pos(),
                                message: "mapping keys must be plain strings".into(),
                            })
                        }
                    },
                    Some(k) => entries.push((k, node)),
                }
            }
        }
    }
    Ok(docs)
}

fn too_many_nodes(pos: Position) -> YamlError {
    YamlError {
        pos,
        message: format!(
            "the file expands to more than {MAX_NODES} YAML nodes (aliases count as what they repeat); \
             refused so loading stays bounded"
        ),
    }
}

/// Levels of sequences and mappings in a node (a scalar has none).
fn depth(n: &Node) -> usize {
    match n {
        Node::Scalar(_) => 0,
        Node::Seq(v, _) => 1 + v.iter().map(depth).max().unwrap_or(0),
        Node::Map(v, _) => 1 + v.iter().map(|(_, x)| depth(x)).max().unwrap_or(0),
    }
}

/// Indents lines that contain only closing flow brackets (and maybe a comma
/// or comment) to the indentation of the previous non-blank line. Returns
/// None if nothing would change.
pub(crate) fn indent_closing_brackets(text: &str) -> Option<String> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut prev_indent = 0usize;
    let mut changed = false;
    for line in text.split_inclusive('\n') {
        let body = line.trim_end_matches(['\n', '\r']);
        let trimmed = body.trim_start();
        let indent = body.len() - trimmed.len();
        let code = trimmed.split('#').next().unwrap_or("").trim_end();
        let closing = !code.is_empty() && code.chars().all(|c| matches!(c, ']' | '}' | ','));
        if closing && indent < prev_indent {
            out.push_str(&" ".repeat(prev_indent - indent));
            changed = true;
        }
        out.push_str(line);
        if !trimmed.is_empty() && !trimmed.starts_with('#') && !closing {
            prev_indent = indent;
        }
    }
    changed.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_of(text: &str, key: &str) -> (String, ScalarMap) {
        let f = SourceFile::new("t.yaml", text);
        let docs = parse(&f, text).ok().unwrap();
        let Node::Seq(items, _) = &docs[0] else { panic!() };
        let Some(Node::Scalar(s)) = items[0].get(key) else {
            panic!()
        };
        (s.value.clone(), f.scalar_map(s))
    }

    #[test]
    fn plain_multiline_positions() {
        let (v, m) = map_of(
            "- macro: a\n  condition: (proc.name = x\n    and fd.name = y)\n",
            "condition",
        );
        assert_eq!(v, "(proc.name = x and fd.name = y)");
        let and = v.find("and").unwrap();
        assert_eq!(m.at(and), Position::new(3, 5));
        assert_eq!(m.at(0), Position::new(2, 14));
    }

    #[test]
    fn folded_positions() {
        let (v, m) = map_of("- rule: a\n  condition: >\n    spawned\n    and  x = 1\n", "condition");
        assert_eq!(v, "spawned and  x = 1\n");
        assert_eq!(m.at(v.find('x').unwrap()), Position::new(4, 10));
    }

    #[test]
    fn literal_positions() {
        let (v, m) = map_of("- rule: a\n  condition: |\n    a\n      b = 1\n", "condition");
        assert_eq!(v, "a\n  b = 1\n");
        assert_eq!(m.at(v.find('b').unwrap()), Position::new(4, 7));
    }

    #[test]
    fn quoted_positions() {
        let (v, m) = map_of("- rule: a\n  condition: \"x = \\\"q\\\" and\n    y\"\n", "condition");
        assert_eq!(v, "x = \"q\" and y");
        assert_eq!(m.at(v.find('y').unwrap()), Position::new(3, 5));
        assert_eq!(m.at(v.find('q').unwrap()), Position::new(2, 21));
        let (v, m) = map_of("- rule: a\n  condition: 'it''s z'\n", "condition");
        assert_eq!(v, "it's z");
        assert_eq!(m.at(v.find('z').unwrap()), Position::new(2, 21));
    }

    /// Every scalar of Falco's upstream files aligns with its source, so
    /// error positions inside their conditions are exact.
    #[test]
    fn upstream_scalars_align() {
        fn walk(f: &SourceFile, n: &Node, count: &mut usize) {
            match n {
                Node::Scalar(s) => {
                    assert!(f.align(s).is_some(), "cannot align {:?} at {}", s.value, s.pos);
                    *count += 1;
                }
                Node::Seq(v, _) => v.iter().for_each(|x| walk(f, x, count)),
                Node::Map(v, _) => v.iter().for_each(|(_, x)| walk(f, x, count)),
            }
        }
        for name in [
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ] {
            let path = format!("{}/../../../shared/falco-rules/{name}", env!("CARGO_MANIFEST_DIR"));
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let text = indent_closing_brackets(&text).unwrap_or(text);
            let f = SourceFile::new(name, &text);
            let docs = parse(&f, &text).ok().unwrap();
            let mut count = 0;
            docs.iter().for_each(|d| walk(&f, d, &mut count));
            assert!(count > 300, "{name}: {count} scalars");
        }
    }
}

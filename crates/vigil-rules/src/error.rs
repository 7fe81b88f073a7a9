//! Load errors and source positions.
//!
//! Every problem found while loading rules is a [`RuleError`] that names the
//! file, the 1-based line and column, and says what was expected. Loading keeps
//! going after most errors so that one run reports everything wrong with a file.

use std::fmt;

use serde::Serialize;

/// A position in a rule file. Lines and columns are 1-based; columns count
/// characters, not bytes. `line == 0` means "the file as a whole" (I/O errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
pub struct Position {
    pub line: u32,
    pub column: u32,
}

impl Position {
    pub const fn new(line: u32, column: u32) -> Self {
        Position { line, column }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One load error, displayed as `file:line:col: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{file}:{line}:{column}: {message}")]
pub struct RuleError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl RuleError {
    pub fn new(file: impl Into<String>, pos: Position, message: impl Into<String>) -> Self {
        RuleError {
            file: file.into(),
            line: pos.line,
            column: pos.column,
            message: message.into(),
        }
    }

    pub fn position(&self) -> Position {
        Position::new(self.line, self.column)
    }
}

/// All errors found while loading a rule set, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoadError {
    pub errors: Vec<RuleError>,
    /// Warnings gathered before the load failed.
    pub warnings: Vec<Warning>,
}

impl LoadError {
    pub fn single(e: RuleError) -> Self {
        LoadError {
            errors: vec![e],
            warnings: Vec::new(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

/// A non-fatal observation made while loading (unknown key, rule without an
/// event type restriction, skipped rule, ...). Same shape as an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: warning: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Collects errors and warnings during a load.
#[derive(Debug, Default)]
pub(crate) struct Diagnostics {
    pub errors: Vec<RuleError>,
    pub warnings: Vec<Warning>,
}

impl Diagnostics {
    pub fn error(&mut self, file: &str, pos: Position, msg: impl Into<String>) {
        self.errors.push(RuleError::new(file, pos, msg));
    }
    pub fn warn(&mut self, file: &str, pos: Position, msg: impl Into<String>) {
        self.warnings.push(Warning {
            file: file.to_string(),
            line: pos.line,
            column: pos.column,
            message: msg.into(),
        });
    }
}

/// Small edit distance used for "did you mean" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate to `name`, if it is close enough to be a plausible typo.
pub(crate) fn suggest<'a>(name: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let len = name.chars().count();
    let limit = (len / 3).clamp(1, 3);
    candidates
        // the distance is at least the difference in length: a name far longer than any
        // candidate (a fuzzer's 30 kB identifier) costs no quadratic comparison
        .filter(|c| c.chars().count().abs_diff(len) <= limit)
        .map(|c| (edit_distance(name, c), c))
        .filter(|(d, _)| *d <= limit)
        // On ties prefer a completion of what was typed, then the shorter name.
        .min_by_key(|(d, c)| (*d, !c.starts_with(name), c.len()))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_names_and_long_names_get_none() {
        let fields = ["proc.name", "proc.pname", "fd.name"];
        assert_eq!(suggest("proc.nam", fields.iter().copied()), Some("proc.name"));
        assert_eq!(suggest("fd.nme", fields.iter().copied()), Some("fd.name"));
        assert_eq!(suggest("evt.time", fields.iter().copied()), None);
        // a fuzzer's 30 kB identifier: no candidate within reach, none compared
        let long = format!("evt.r{}", "e".repeat(30_000));
        assert_eq!(suggest(&long, fields.iter().copied()), None);
    }
}

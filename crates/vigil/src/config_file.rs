//! `/etc/vigil/vigil.yaml`: every `vigil run` flag has a key of the same name (dashes or
//! underscores). The file's keys become flags placed before the command line's, so the
//! command line wins; `VIGIL_<KEY>` environment variables sit in between. Errors name
//! the file, line and column of the key.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Result};

/// Largest configuration file read.
const MAX_BYTES: u64 = 1 << 20;

/// What a flag takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--events`: a key with `true` sets it, `false` leaves it off.
    Switch,
    /// `--output FILE`.
    Value,
    /// `--rules PATH` (repeatable): a list or one value.
    List,
}

/// Where a key is written: the first line that starts with it (1-based line, column).
fn position(text: &str, key: &str) -> (usize, usize) {
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(rest) = t.strip_prefix(key) {
            if rest.trim_start().starts_with(':') {
                return (i + 1, line.len() - t.len() + 1);
            }
        }
    }
    (1, 1)
}

fn scalar(v: &serde_yaml::Value) -> Option<String> {
    match v {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The flags a configuration file stands for. `flags`: every long flag of `vigil run`
/// and what it takes.
pub fn flags_of_file(path: &Path, flags: &BTreeMap<String, FlagKind>) -> Result<Vec<String>> {
    let text = vigil_rules::source::read_text_file(path, MAX_BYTES)
        .map_err(|e| anyhow::anyhow!("{}:0:0: {e}", path.display()))?;
    flags_of_text(path, &text, flags)
}

/// [`flags_of_file`] of text already read (`path` names it in errors).
pub fn flags_of_text(path: &Path, text: &str, flags: &BTreeMap<String, FlagKind>) -> Result<Vec<String>> {
    let doc: serde_yaml::Value = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => anyhow::anyhow!("{}:{}:{}: {e}", path.display(), l.line(), l.column()),
        None => anyhow::anyhow!("{}: {e}", path.display()),
    })?;
    let map = match doc {
        serde_yaml::Value::Mapping(m) => m,
        serde_yaml::Value::Null => return Ok(Vec::new()),
        _ => bail!("{}:1:1: expected a mapping of settings (key: value)", path.display()),
    };
    let mut out = Vec::new();
    for (k, v) in map {
        let Some(raw) = k.as_str() else {
            bail!("{}:1:1: keys are setting names", path.display());
        };
        let (line, col) = position(text, raw);
        let at = format!("{}:{line}:{col}", path.display());
        let mut key = raw.replace('_', "-");
        let mut v = v;
        // `builtin-rules: false` reads better than `no-builtin-rules: true`
        if let Some(rest) = key.strip_prefix("builtin-") {
            if let serde_yaml::Value::Bool(b) = v {
                key = format!("no-builtin-{rest}");
                v = serde_yaml::Value::Bool(!b);
            }
        }
        let Some(kind) = flags.get(&key) else {
            let near = flags
                .keys()
                .find(|f| strsim(f, &key))
                .map(|f| format!(" (did you mean `{f}`?)"))
                .unwrap_or_default();
            bail!("{at}: unknown setting `{raw}`{near}; every `vigil run --FLAG` is a key");
        };
        match (kind, &v) {
            (FlagKind::Switch, serde_yaml::Value::Bool(true)) => out.push(format!("--{key}")),
            (FlagKind::Switch, serde_yaml::Value::Bool(false)) => {}
            (FlagKind::Switch, _) => bail!("{at}: `{raw}` is true or false"),
            (FlagKind::List, serde_yaml::Value::Sequence(items)) => {
                for item in items {
                    let Some(s) = scalar(item) else {
                        bail!("{at}: `{raw}` lists plain values");
                    };
                    out.push(format!("--{key}={s}"));
                }
            }
            (_, serde_yaml::Value::Null) => {}
            (_, other) => match scalar(other) {
                Some(s) => out.push(format!("--{key}={s}")),
                None => bail!("{at}: `{raw}` takes one value"),
            },
        }
    }
    Ok(out)
}

/// The flags `VIGIL_<FLAG>` environment variables stand for (`VIGIL_FORMAT=falco`,
/// `VIGIL_EVENTS=true`, lists separated by commas).
pub fn flags_of_env(flags: &BTreeMap<String, FlagKind>, skip: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (flag, kind) in flags {
        if skip.contains(&flag.as_str()) {
            continue;
        }
        let var = format!("VIGIL_{}", flag.to_ascii_uppercase().replace('-', "_"));
        let Ok(v) = std::env::var(&var) else { continue };
        match kind {
            FlagKind::Switch if v == "true" || v == "1" => out.push(format!("--{flag}")),
            FlagKind::Switch => {}
            FlagKind::List => out.extend(v.split(',').filter(|s| !s.is_empty()).map(|s| format!("--{flag}={s}"))),
            FlagKind::Value => out.push(format!("--{flag}={v}")),
        }
    }
    out
}

/// Close enough to be a typo: at most two edits (insert, delete, substitute, swap).
fn strsim(a: &str, b: &str) -> bool {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 2 {
        return false;
    }
    // optimal string alignment distance
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()] <= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> BTreeMap<String, FlagKind> {
        [
            ("events", FlagKind::Switch),
            ("output", FlagKind::Value),
            ("rules", FlagKind::List),
            ("no-builtin-rules", FlagKind::Switch),
            ("webhook", FlagKind::List),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn write(text: &str) -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("vigil-cfg-{}-{}.yaml", std::process::id(), text.len()));
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn keys_become_flags() {
        let p = write("events: true\noutput: /tmp/x\nrules: [/a, /b]\nbuiltin_rules: false\nwebhook: http://h/\n");
        assert_eq!(
            flags_of_file(&p, &flags()).unwrap(),
            [
                "--events",
                "--output=/tmp/x",
                "--rules=/a",
                "--rules=/b",
                "--no-builtin-rules",
                "--webhook=http://h/"
            ]
        );
    }

    #[test]
    fn mistakes_are_positioned() {
        let p = write("events: true\n\noutptu: /tmp/x\n");
        let e = flags_of_file(&p, &flags()).unwrap_err().to_string();
        assert!(
            e.contains(":3:1: unknown setting `outptu` (did you mean `output`?)"),
            "{e}"
        );
        let p = write("events: yes please\n");
        let e = flags_of_file(&p, &flags()).unwrap_err().to_string();
        assert!(e.contains(":1:1: `events` is true or false"), "{e}");
        let p = write("output: [a: 1\n");
        let e = flags_of_file(&p, &flags()).unwrap_err().to_string();
        assert!(e.contains(":1:"), "{e}");
    }
}

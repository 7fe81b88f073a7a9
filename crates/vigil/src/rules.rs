//! Where rules come from and how they are (re)loaded.
//!
//! The built-in rules (`rules/*.yaml` in the repository) are embedded in the binary;
//! `--rules` adds files and directories (every `*.yaml`/`*.yml` in a directory, in name
//! order), loaded after the built-ins so they can append to or override them. A reload
//! that fails keeps the rules that were running.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::SystemTime;

use vigil_rules::{LoadError, LoadOptions, Loader, RuleError, RuleSet};

/// The built-in rule files, in load order: (name shown in errors, contents).
pub const BUILTIN: &[(&str, &str)] = &[(
    "builtin:vigil_rules.yaml",
    include_str!("../../../rules/vigil_rules.yaml"),
)];

#[derive(Debug, Clone, Default)]
pub struct RuleSources {
    pub builtin: bool,
    /// Files and directories, as given.
    pub paths: Vec<PathBuf>,
}

impl RuleSources {
    /// The rule files to read, directories expanded, in load order.
    pub fn files(&self) -> Result<Vec<PathBuf>, String> {
        let mut out = Vec::new();
        for p in &self.paths {
            if p.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| format!("{}: {e}", p.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
                    .collect();
                entries.sort();
                out.extend(entries);
            } else if p.exists() {
                out.push(p.clone());
            } else {
                return Err(format!("{}: no such file or directory", p.display()));
            }
        }
        Ok(out)
    }

    pub fn load(&self) -> Result<RuleSet, LoadError> {
        let mut loader = Loader::new(LoadOptions::default());
        if self.builtin {
            for (name, text) in BUILTIN {
                loader.add_str(name, text);
            }
        }
        match self.files() {
            Ok(files) => {
                for f in files {
                    loader.add_file(f);
                }
            }
            Err(e) => {
                return Err(LoadError::single(RuleError {
                    file: e,
                    line: 1,
                    column: 1,
                    message: "cannot read".into(),
                }));
            }
        }
        loader.load()
    }

    /// A fingerprint of the rule files on disk (paths and modification times), to notice edits.
    pub fn fingerprint(&self) -> Vec<(PathBuf, Option<SystemTime>)> {
        let mut out: Vec<(PathBuf, Option<SystemTime>)> = self
            .paths
            .iter()
            .map(|p| (p.clone(), p.metadata().and_then(|m| m.modified()).ok()))
            .collect();
        if let Ok(files) = self.files() {
            out.extend(
                files
                    .iter()
                    .map(|f| (f.clone(), f.metadata().and_then(|m| m.modified()).ok())),
            );
        }
        out
    }
}

/// The running rules, and what happened at the last (re)load.
pub struct LoadedRules {
    pub set: Arc<RuleSet>,
    pub sources: RuleSources,
    fingerprint: Vec<(PathBuf, Option<SystemTime>)>,
}

pub enum Reload {
    Unchanged,
    Reloaded(usize),
    /// The new rules did not load; the previous ones keep running.
    Failed(LoadError),
}

impl LoadedRules {
    pub fn load(sources: RuleSources) -> Result<Self, LoadError> {
        let fingerprint = sources.fingerprint();
        let set = sources.load()?.into_shared();
        Ok(LoadedRules {
            set,
            sources,
            fingerprint,
        })
    }

    /// Reloads if `force` or a rule file changed since the last load.
    pub fn reload(&mut self, force: bool) -> Reload {
        let now = self.sources.fingerprint();
        if !force && now == self.fingerprint {
            return Reload::Unchanged;
        }
        self.fingerprint = now;
        match self.sources.load() {
            Ok(set) => {
                let n = set.rules().len();
                self.set = set.into_shared();
                Reload::Reloaded(n)
            }
            Err(e) => Reload::Failed(e),
        }
    }
}

/// Every error of a failed load, one `file:line:col: message` per line.
pub fn error_lines(e: &LoadError) -> Vec<String> {
    e.errors.iter().map(|r| r.to_string()).collect()
}

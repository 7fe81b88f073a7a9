//! Where rules come from and how they are (re)loaded.
//!
//! The built-in rules (`rules/*.yaml` in the repository) are embedded in the binary;
//! `--rules` adds files and directories (every `*.yaml`/`*.yml` in a directory, in name
//! order), loaded after the built-ins so they can append to or override them. A reload
//! that fails keeps the rules that were running.

use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::{Duration, SystemTime};

use vigil_rules::{LoadError, LoadOptions, Loader, RuleError, RuleSet};

/// The built-in rule files, in load order: (name shown in errors, contents). The
/// curated lists and macros first, then one file per ATT&CK family.
pub const BUILTIN: &[(&str, &str)] = &[
    ("builtin:base.yaml", include_str!("../../../rules/base.yaml")),
    ("builtin:execution.yaml", include_str!("../../../rules/execution.yaml")),
    (
        "builtin:credential_access.yaml",
        include_str!("../../../rules/credential_access.yaml"),
    ),
    (
        "builtin:persistence.yaml",
        include_str!("../../../rules/persistence.yaml"),
    ),
    (
        "builtin:privilege_escalation.yaml",
        include_str!("../../../rules/privilege_escalation.yaml"),
    ),
    ("builtin:discovery.yaml", include_str!("../../../rules/discovery.yaml")),
    ("builtin:network.yaml", include_str!("../../../rules/network.yaml")),
    ("builtin:tampering.yaml", include_str!("../../../rules/tampering.yaml")),
    ("builtin:impact.yaml", include_str!("../../../rules/impact.yaml")),
];

/// Domain lists shipped as data (`rules/data/*.txt`, one domain per line): each becomes
/// the list `vigil_<name>` before the rule files load, so rules and user files can use
/// and append to it.
pub const BUILTIN_DATA: &[(&str, &str)] = &[
    ("dynamic_dns", include_str!("../../../rules/data/dynamic_dns.txt")),
    ("paste_sites", include_str!("../../../rules/data/paste_sites.txt")),
    (
        "tunneling_services",
        include_str!("../../../rules/data/tunneling_services.txt"),
    ),
    ("mining_pools", include_str!("../../../rules/data/mining_pools.txt")),
];

/// A data file as a rule-language list: `- list: vigil_NAME` with one item per line.
pub fn data_list_yaml(name: &str, text: &str) -> String {
    let items: Vec<String> = text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_ascii_lowercase())
        .filter(|l| !l.is_empty())
        .map(|l| format!("\"{}\"", l.replace('"', "")))
        .collect();
    format!("- list: vigil_{name}\n  items: [{}]\n", items.join(", "))
}

/// Facts about the running agent that its own rules need (tampering with the agent).
#[derive(Debug, Clone, Default)]
pub struct AgentIdentity {
    pub pid: u32,
    /// The agent's executable and the rule files it reads.
    pub files: Vec<String>,
}

impl AgentIdentity {
    pub fn of_this_process(sources: &RuleSources) -> AgentIdentity {
        let mut files: Vec<String> = std::env::current_exe()
            .ok()
            .map(|p| p.display().to_string())
            .into_iter()
            .collect();
        files.extend(
            sources
                .files()
                .unwrap_or_default()
                .iter()
                .map(|p| p.display().to_string()),
        );
        AgentIdentity {
            pid: std::process::id(),
            files,
        }
    }

    fn yaml(&self) -> String {
        let quote = |s: &String| format!("\"{}\"", s.replace('"', ""));
        format!(
            "- list: vigil_agent_pids\n  items: [{}]\n- list: vigil_agent_files\n  items: [{}]\n",
            if self.pid == 0 {
                String::new()
            } else {
                self.pid.to_string()
            },
            self.files.iter().map(quote).collect::<Vec<_>>().join(", ")
        )
    }
}

#[derive(Debug, Clone, Default)]
pub struct RuleSources {
    pub builtin: bool,
    /// Files and directories, as given.
    pub paths: Vec<PathBuf>,
    /// Who the agent is, for the tamper rules (empty lists when unset).
    pub agent: AgentIdentity,
    /// Refuse rule files and directories a user other than root could change (`vigil
    /// run` as root sets it: such a user could otherwise decide what the agent detects).
    pub trusted_only: bool,
}

/// Why a user other than root could change `path` (owned by another user, or writable by
/// its group or by others), or None when only root can.
pub fn untrusted_reason(path: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    if meta.uid() != 0 {
        Some(format!("it is owned by uid {}", meta.uid()))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "it is writable by its group or by others (mode {:o})",
            meta.mode() & 0o7777
        ))
    } else {
        None
    }
}

impl RuleSources {
    /// The rule files to read, directories expanded, in load order.
    pub fn files(&self) -> Result<Vec<PathBuf>, RuleError> {
        let err = |p: &std::path::Path, message: String| RuleError {
            file: p.display().to_string(),
            line: 0,
            column: 0,
            message,
        };
        let mut out = Vec::new();
        for p in &self.paths {
            // metadata() follows symlinks: a loop is reported as such, not as missing.
            let meta = std::fs::metadata(p).map_err(|e| err(p, format!("cannot read the rules path: {e}")))?;
            if meta.is_dir() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
                    .map_err(|e| err(p, format!("cannot list the rules directory: {e}")))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| matches!(f.extension().and_then(|x| x.to_str()), Some("yaml" | "yml")))
                    .take(vigil_rules::source::MAX_FILES + 1)
                    .collect();
                entries.sort();
                out.extend(entries);
            } else {
                out.push(p.clone());
            }
            if self.trusted_only {
                for f in std::iter::once(p).chain(out.iter().filter(|f| f.starts_with(p))) {
                    if let Some(why) = untrusted_reason(f) {
                        return Err(err(
                            f,
                            format!(
                                "refused: {why}, so a user other than root could change what the agent detects (chown root and chmod go-w it)"
                            ),
                        ));
                    }
                }
            }
            if out.len() > vigil_rules::source::MAX_FILES {
                return Err(err(
                    p,
                    format!(
                        "more than {} rule files; refused so loading stays bounded",
                        vigil_rules::source::MAX_FILES
                    ),
                ));
            }
        }
        Ok(out)
    }

    pub fn load(&self) -> Result<RuleSet, LoadError> {
        let mut loader = Loader::new(LoadOptions::default());
        // The data lists and the agent's identity come first, so every file can use them.
        let mut generated = self.agent.yaml();
        for (name, text) in BUILTIN_DATA {
            generated.push_str(&data_list_yaml(name, text));
        }
        loader.add_str("builtin:generated_lists.yaml", &generated);
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
            Err(e) => return Err(LoadError::single(e)),
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

/// The running rules, and a watcher that reloads them off the event path.
pub struct LoadedRules {
    pub set: Arc<RuleSet>,
    pub sources: RuleSources,
    watcher: Option<Watcher>,
}

/// A thread that notices edited rule files (or a SIGHUP) and loads them, so a slow or
/// hostile rule file never holds up the loop that reads the kernel's ring buffers.
struct Watcher {
    force: mpsc::Sender<()>,
    results: mpsc::Receiver<Reload>,
}

pub enum Reload {
    Unchanged,
    Reloaded(Arc<RuleSet>),
    /// The new rules did not load; the previous ones keep running.
    Failed(LoadError),
}

/// How often the watcher looks at the rule files' modification times.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

impl LoadedRules {
    pub fn load(sources: RuleSources) -> Result<Self, LoadError> {
        let set = sources.load()?.into_shared();
        Ok(LoadedRules {
            set,
            sources,
            watcher: None,
        })
    }

    /// Starts watching the rule files: from now on [`LoadedRules::poll`] hands over
    /// new rule sets as they load.
    pub fn watch(&mut self) -> std::io::Result<()> {
        let (force_tx, force_rx) = mpsc::channel::<()>();
        let (result_tx, result_rx) = mpsc::sync_channel::<Reload>(1);
        let sources = self.sources.clone();
        let mut fingerprint = sources.fingerprint();
        std::thread::Builder::new()
            .name("vigil-rules".into())
            // Compiling recurses over conditions (bounded in depth); give it room.
            .stack_size(16 << 20)
            .spawn(move || loop {
                let force = match force_rx.recv_timeout(WATCH_INTERVAL) {
                    Ok(()) => true,
                    Err(mpsc::RecvTimeoutError::Timeout) => false,
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
                let now = sources.fingerprint();
                if !force && now == fingerprint {
                    continue;
                }
                fingerprint = now;
                let result = match sources.load() {
                    Ok(set) => Reload::Reloaded(set.into_shared()),
                    Err(e) => Reload::Failed(e),
                };
                // Waits while the agent has not taken the previous result: reloads never pile up.
                if result_tx.send(result).is_err() {
                    return;
                }
            })?;
        self.watcher = Some(Watcher {
            force: force_tx,
            results: result_rx,
        });
        Ok(())
    }

    /// Asks the watcher to reload now, changed or not (SIGHUP).
    pub fn request_reload(&self) {
        if let Some(w) = &self.watcher {
            let _ = w.force.send(());
        }
    }

    /// A reload that finished since the last call, if any; never waits.
    pub fn poll(&mut self) -> Reload {
        let Some(w) = &self.watcher else {
            return Reload::Unchanged;
        };
        match w.results.try_recv() {
            Ok(Reload::Reloaded(set)) => {
                self.set = Arc::clone(&set);
                Reload::Reloaded(set)
            }
            Ok(other) => other,
            Err(_) => Reload::Unchanged,
        }
    }
}

/// Every error of a failed load, one `file:line:col: message` per line.
pub fn error_lines(e: &LoadError) -> Vec<String> {
    e.errors.iter().map(|r| r.to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_files_become_lists() {
        let y = data_list_yaml("paste_sites", "# paste services\nPastebin.com\n\n  paste.ee  # short\n");
        assert_eq!(
            y,
            "- list: vigil_paste_sites\n  items: [\"pastebin.com\", \"paste.ee\"]\n"
        );
    }

    #[test]
    fn builtin_rules_load() {
        let set = RuleSources {
            trusted_only: false,
            builtin: true,
            ..Default::default()
        }
        .load();
        assert!(set.is_ok(), "{}", set.err().map(|e| e.to_string()).unwrap_or_default());
    }
}

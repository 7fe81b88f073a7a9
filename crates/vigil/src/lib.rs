//! The Vigil agent: the userspace end of the pipeline
//! hooks -> ring buffers -> decoder -> process tree -> rules -> outputs.
//!
//! - `agent`: `vigil run`, the live loop around the sensor ([`run`]);
//! - [`cli`]: `vigil rules check|list|explain`, `vigil stats`, `vigil fields`, the
//!   configuration file's rule settings;
//! - [`config_file`]: the configuration file as `vigil run` flags;
//! - `pipeline`: decoder, process tree, rules and outputs, shared by live runs and replay
//!   ([`Pipeline`]);
//! - `facts`: what an event means (names of flags, fd ends, syscall arguments), read
//!   by both of the next two;
//! - `render`: the JSON schema of events and alerts ([`event_json`]);
//! - `alert_record`: an alert for the outputs (Falco's `output_fields`, `vigil-output`);
//! - `rule_event`: an event as the rules see it, Falco's fields ([`RuleEvent`]);
//! - `host`: user names, hostname, init namespaces, container ids ([`HostFacts`]);
//! - `rules`: built-in and user rule files, (re)loading ([`RuleSources`]);
//! - `kernel_filter`: the rules' interest as the filter the kernel applies;
//! - [`enforcement`]: rules with an action as the kernel's policy tables;
//! - `replay`: `vigil replay`, the pipeline over a recording ([`replay()`]);
//! - `doctor`: `vigil doctor`, what this kernel supports ([`doctor()`]).

mod agent;
mod alert_record;
pub mod cli;
pub mod config_file;
mod doctor;
pub mod enforcement;
mod facts;
mod host;
mod kernel_filter;
mod main_stream;
mod metrics_page;
mod notify;
mod pipeline;
mod privileges;
mod render;
mod replay;
mod rule_event;
mod rules;

pub use agent::{run, RunOptions, DEFAULT_STATS_FILE};
pub use doctor::{doctor, EXIT_CANNOT_RUN, EXIT_DEGRADED, EXIT_READY};
pub use host::HostFacts;
pub use kernel_filter::DEFAULT_DEDUP_WINDOW_SECS;
pub use pipeline::{AlertFormat, Pipeline, PipelineConfig, PipelineStats};
pub use render::{event_json, EventJson};
pub use replay::{replay, ReplayOptions};
pub use rule_event::RuleEvent;
pub use rules::{untrusted_reason, AgentIdentity, RuleSources};

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    /// The modules this module's code (comments and tests aside) imports from the crate.
    fn imports(text: &str) -> BTreeSet<String> {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        code.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .flat_map(|l| l.match_indices("crate::").map(move |(i, _)| &l[i + 7..]))
            .map(|rest| {
                rest.chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect()
            })
            .collect()
    }

    /// The pipeline reads one way (facts -> render / rule_event -> pipeline -> agent):
    /// no module imports one that imports it back, directly or not.
    #[test]
    fn module_imports_form_no_cycle() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for entry in std::fs::read_dir(&src).expect("src") {
            let path = entry.expect("entry").path();
            let (module, files) = if path.is_dir() {
                let files: Vec<_> = std::fs::read_dir(&path)
                    .expect("dir")
                    .map(|e| e.expect("e").path())
                    .collect();
                (path.file_name().expect("name").to_string_lossy().into_owned(), files)
            } else {
                (
                    path.file_stem().expect("stem").to_string_lossy().into_owned(),
                    vec![path],
                )
            };
            if module == "lib" || module == "main" {
                continue;
            }
            let deps = graph.entry(module.clone()).or_default();
            for f in files {
                let text = std::fs::read_to_string(&f).expect("read");
                deps.extend(imports(&text).into_iter().filter(|d| *d != module));
            }
        }
        fn reaches(
            graph: &BTreeMap<String, BTreeSet<String>>,
            from: &str,
            to: &str,
            seen: &mut BTreeSet<String>,
        ) -> bool {
            graph.get(from).is_some_and(|ds| {
                ds.iter()
                    .any(|d| d == to || (seen.insert(d.clone()) && reaches(graph, d, to, seen)))
            })
        }
        for m in graph.keys() {
            assert!(
                !reaches(&graph, m, m, &mut BTreeSet::new()),
                "module `{m}` imports itself through others: {graph:#?}"
            );
        }
        assert!(graph["render"].contains("facts") && !graph["render"].contains("rule_event"));
    }
}

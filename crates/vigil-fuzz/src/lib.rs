//! Fuzz targets: each parser Vigil runs on input it does not control, as one function of
//! bytes that must return (no panic, no hang, bounded memory) whatever the bytes are.
//!
//! - [`rules_file`]: a rules file (YAML, lists, macros, rules, exceptions, outputs);
//! - [`condition`]: a condition alone, inside a rule beside a list and a macro;
//! - [`record`]: one ring-buffer record, as the kernel hands it over;
//! - [`recording`]: a recording file, header and framed records;
//! - [`pipeline`]: framed records through decoder, process tree, every built-in rule's
//!   condition and the JSON renderer;
//! - [`config`]: the configuration file, as `vigil run` flags;
//! - [`dns`](fn@dns): a DNS answer through the Rust mirror of the in-kernel DNS parser
//!   ([`mod@dns`], which also runs the BPF parser itself and compares the two).
//!
//! AFL++ runs them from `fuzz/` (`fuzz/run.sh MINUTES`); the test suite runs them on the
//! seed corpora, on every crash ever found (`fuzz/regressions/`) and on proptest inputs.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};

pub mod dns;

use vigil::config_file::FlagKind;
use vigil_event::recording::{RecordedHost, RecordingReader};

/// A target: runs one input; returning is passing.
pub type Target = fn(&[u8]);

/// Every target by name, as `fuzz/` and the tests call them.
pub const TARGETS: &[(&str, Target)] = &[
    ("rules_file", rules_file),
    ("condition", condition),
    ("record", record),
    ("recording", recording),
    ("pipeline", pipeline),
    ("config", config),
    ("dns", dns),
];

/// Records read from one input at most: the reader is bounded by the input's length
/// anyway; this keeps one execution short.
const MAX_RECORDS: usize = 10_000;

pub fn rules_file(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil_rules::load_str("fuzz.yaml", text);
    }
}

pub fn condition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let body: String = text.lines().map(|l| format!("    {l}\n")).collect();
    let yaml = format!(
        "- list: fuzz_list\n  items: [cat, /etc/shadow, 4444]\n\
         - macro: fuzz_macro\n  condition: proc.name in (fuzz_list)\n\
         - rule: fuzz\n  desc: fuzz\n  condition: |-\n{body}  output: \"%proc.name %fd.name %evt.arg.line\"\n  priority: INFO\n"
    );
    let _ = vigil_rules::load_str("fuzz.yaml", &yaml);
}

pub fn record(data: &[u8]) {
    let _ = vigil_event::decode(data);
}

pub fn recording(data: &[u8]) {
    let Ok(mut reader) = RecordingReader::new(Cursor::new(data)) else {
        return;
    };
    for _ in 0..MAX_RECORDS {
        match reader.next_record() {
            Ok(Some(rec)) => {
                let _ = vigil_event::decode(&rec);
            }
            Ok(None) | Err(_) => break,
        }
    }
}

/// The built-in rules, loaded once per process (AFL's persistent mode runs many inputs).
fn builtin_rules() -> Arc<vigil_rules::RuleSet> {
    static RULES: OnceLock<Arc<vigil_rules::RuleSet>> = OnceLock::new();
    RULES
        .get_or_init(|| {
            let sources = vigil::RuleSources {
                builtin: true,
                ..Default::default()
            };
            Arc::new(sources.load().expect("the built-in rules load"))
        })
        .clone()
}

/// Framed records (u16 little-endian length, then the record) through the pipeline a
/// replay runs, events rendered too, host facts from a fixed recorded host.
pub fn pipeline(data: &[u8]) {
    let mut p = vigil::Pipeline::new(
        vigil::PipelineConfig {
            emit_events: true,
            rules: Some(builtin_rules()),
            engine: Default::default(),
            boot_to_realtime_ns: 0,
            tree: vigil_proctree::TreeConfig::default(),
            host: Some(RecordedHost::default()),
            container_endpoints: Vec::new(),
            format: vigil::AlertFormat::Json,
            outputs: None,
        },
        Box::new(std::io::sink()),
        None,
    );
    let mut rest = data;
    for _ in 0..MAX_RECORDS {
        let [a, b, tail @ ..] = rest else { break };
        let len = u16::from_le_bytes([*a, *b]) as usize;
        let take = len.min(tail.len());
        let _ = p.process_record(&tail[..take]);
        rest = &tail[take..];
    }
    let _ = p.finish();
}

pub fn config(data: &[u8]) {
    static FLAGS: OnceLock<BTreeMap<String, FlagKind>> = OnceLock::new();
    let flags = FLAGS.get_or_init(|| {
        [
            ("events", FlagKind::Switch),
            ("no-builtin-rules", FlagKind::Switch),
            ("output", FlagKind::Value),
            ("format", FlagKind::Value),
            ("rules", FlagKind::List),
            ("dns-port", FlagKind::List),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    });
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = vigil::config_file::flags_of_text(Path::new("fuzz.yaml"), text, flags);
    }
}

/// The mirror of the kernel's DNS parser, with the bounds the kernel's record has.
pub fn dns(data: &[u8]) {
    let p = dns::parse(data);
    assert!(p.qname.len() <= vigil_event::abi::limits::DNS_NAME_MAX);
    assert!(p.answers.len() <= vigil_event::abi::limits::DNS_MAX_ADDRS);
    assert!(p.cnames.iter().map(|c| c.len() + 1).sum::<usize>() <= 512);
}

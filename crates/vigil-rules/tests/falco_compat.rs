//! Loads Falco's upstream rule files, unmodified, from `shared/falco-rules`
//! next to the repository. The files are not part of this repository; if they
//! are missing this test fails (it must not silently pass).

use std::path::PathBuf;

use vigil_rules::{LoadOptions, LoadReport, Loader, RuleKind, RuleSet};

fn upstream(name: &str) -> PathBuf {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/falco-rules")).join(name);
    assert!(
        p.is_file(),
        "Falco upstream rules file {} is missing: the compatibility test needs ../shared/falco-rules/ next to the repository",
        p.display()
    );
    p
}

fn load(names: &[&str]) -> (RuleSet, LoadReport) {
    let mut l = Loader::new(LoadOptions::default());
    for n in names {
        l.add_file(upstream(n));
    }
    match l.load() {
        Ok(rs) => {
            let report = rs.report().clone();
            println!("== {}\n{report}", names.join(" + "));
            (rs, report)
        }
        Err(e) => panic!("failed to load {names:?}:\n{e}"),
    }
}

const MAIN: &str = "falco_rules.yaml";
const INCUBATING: &str = "falco-incubating_rules.yaml";
const SANDBOX: &str = "falco-sandbox_rules.yaml";

fn check_all_compiled(rs: &RuleSet, report: &LoadReport, rules: usize, disabled: usize) {
    assert_eq!(rs.rules().len(), rules, "rules loaded");
    assert_eq!(report.rules_loaded, rules);
    assert_eq!(report.rules_disabled, disabled, "disabled rules");
    assert!(report.rules_skipped.is_empty(), "skipped: {:?}", report.rules_skipped);
    for r in rs.rules() {
        assert!(matches!(r.kind, RuleKind::Condition(_)));
        // Every upstream rule restricts the event type.
        assert!(!r.evt_types.is_all(), "rule `{}` matches any event type", r.name);
    }
}

#[test]
fn falco_rules_alone() {
    let (rs, report) = load(&[MAIN]);
    check_all_compiled(&rs, &report, 25, 0);
    assert_eq!(report.macros, 87);
    assert_eq!(report.lists, 49);
}

#[test]
fn incubating_rules_alone() {
    let (rs, report) = load(&[INCUBATING]);
    check_all_compiled(&rs, &report, 31, 0);
}

#[test]
fn sandbox_rules_alone() {
    let (rs, report) = load(&[SANDBOX]);
    check_all_compiled(&rs, &report, 37, 12);
}

#[test]
fn all_three_in_order() {
    let (rs, report) = load(&[MAIN, INCUBATING, SANDBOX]);
    check_all_compiled(&rs, &report, 93, 12);
    assert_eq!(report.macros, 315);
    assert_eq!(report.lists, 118);
    assert_eq!(report.required_engine_version.as_deref(), Some("0.57.0"));
    // container and pod fields come from the runtimes (crates/vigil-container)
    assert!(!report.unavailable_fields.contains_key("container.image.repository"));
    assert!(!report.unavailable_fields.contains_key("k8s.ns.name"));
    assert!(!report.unavailable_fields.contains_key("proc.name"));
    let json = serde_json::to_string(&report).unwrap_or_default();
    assert!(json.contains("rules_loaded"));
    // Rules serialise for `vigil rules list/explain --json`.
    let rules_json = serde_json::to_string(rs.rules()).unwrap_or_default();
    assert!(rules_json.contains("\"name\":\"Terminal shell in container\""));
    assert!(rules_json.contains("\"evt_types\":{\"only\":[\"execve\",\"execveat\"]}"));
}

mod common;
use common::Ev;

fn fires(rs: &RuleSet, rule: &str, ev: &Ev) -> bool {
    rs.rule(rule).unwrap_or_else(|| panic!("no rule `{rule}`")).matches(ev)
}

/// Upstream rules behave as written on synthetic events.
#[test]
fn upstream_rules_evaluate() {
    let (rs, _) = load(&[MAIN]);
    let shell = Ev::new("execve")
        .s("container.id", "0123456789ab")
        .s("proc.name", "bash")
        .u("proc.tty", 34816)
        .s("proc.pname", "runc:[1:CHILD]");
    assert!(fires(&rs, "Terminal shell in container", &shell));
    assert!(!fires(
        &rs,
        "Terminal shell in container",
        &shell.clone().u("proc.tty", 0)
    ));
    assert!(!fires(
        &rs,
        "Terminal shell in container",
        &shell.clone().s("container.id", "host")
    ));
    assert!(!fires(
        &rs,
        "Terminal shell in container",
        &shell.clone().s("proc.pname", "nginx")
    ));

    let read = Ev::new("openat")
        .b("evt.is_open_read", true)
        .s("fd.typechar", "f")
        .i("fd.num", 3)
        .s("fd.name", "/etc/shadow")
        .s("fd.directory", "/etc")
        .s("proc.name", "evil")
        .s("proc.cmdline", "evil --steal");
    assert!(fires(&rs, "Read sensitive file untrusted", &read));
    assert!(!fires(
        &rs,
        "Read sensitive file untrusted",
        &read.clone().s("proc.name", "sshd")
    ));
    assert!(!fires(
        &rs,
        "Read sensitive file untrusted",
        &read.clone().s("fd.name", "/etc/hosts")
    ));
    assert!(!fires(
        &rs,
        "Read sensitive file untrusted",
        &read.clone().s("proc.name", "<NA>")
    ));
    assert!(fires(
        &rs,
        "Read sensitive file untrusted",
        &read.clone().s("fd.name", "/etc/x").s("fd.directory", "/etc/pam.d")
    ));

    let grep = Ev::new("execve")
        .s("proc.name", "grep")
        .s("proc.args", "-r \"begin rsa private\" /");
    assert!(fires(&rs, "Search Private Keys or Passwords", &grep));
    assert!(!fires(
        &rs,
        "Search Private Keys or Passwords",
        &grep.clone().s("proc.args", "-r foo")
    ));

    let clear = Ev::new("openat")
        .b("evt.is_open_write", true)
        .s("fd.typechar", "f")
        .i("fd.num", 4)
        .s("fd.name", "/var/log/auth.log")
        .s("fd.directory", "/var/log")
        .s("fd.filename", "auth.log")
        .s("evt.arg.flags", "O_WRONLY|O_TRUNC")
        .s("proc.name", "sh");
    assert!(fires(&rs, "Clear Log Activities", &clear));
    assert!(!fires(
        &rs,
        "Clear Log Activities",
        &clear.clone().s("evt.arg.flags", "O_WRONLY|O_APPEND")
    ));

    let trav = Ev::new("openat")
        .b("evt.is_open_read", true)
        .s("fd.typechar", "f")
        .i("fd.num", 3)
        .s("fd.name", "/etc/passwd")
        .s("fd.nameraw", "/var/www/../../etc/passwd")
        .s("proc.pname", "php-fpm");
    assert!(fires(&rs, "Directory traversal monitored file read", &trav));
    assert!(!fires(
        &rs,
        "Directory traversal monitored file read",
        &trav.clone().s("fd.nameraw", "/etc/passwd")
    ));

    let r = rs.rule("Terminal shell in container").unwrap();
    let out = r.output.format(&shell);
    assert!(
        out.starts_with("A shell was spawned in a container with an attached terminal | evt_type=execve user=<NA>"),
        "{out}"
    );
    assert!(
        out.contains("process=bash") && out.contains("terminal=34816") && out.contains("parent=runc:[1:CHILD]"),
        "{out}"
    );
}

/// The printed form of every compiled upstream condition parses back to the
/// same tree (checks `Display` quoting on real-world values).
#[test]
fn printed_conditions_round_trip() {
    let (rs, _) = load(&[MAIN, INCUBATING, SANDBOX]);
    let mut yaml = String::new();
    let mut printed = Vec::new();
    for (i, r) in rs.rules().iter().enumerate() {
        let RuleKind::Condition(c) = &r.kind else { continue };
        let text = c.to_string();
        yaml.push_str(&format!(
            "- rule: r{i}\n  desc: d\n  condition: {}\n  output: o\n  priority: INFO\n  warn_evttypes: false\n",
            serde_json::to_string(&text).unwrap()
        ));
        printed.push(text);
    }
    let again = vigil_rules::load_str("printed.yaml", &yaml).unwrap_or_else(|e| panic!("{e}"));
    for (r, want) in again.rules().iter().zip(&printed) {
        let RuleKind::Condition(c) = &r.kind else { panic!() };
        assert_eq!(&c.to_string(), want);
    }
    assert_eq!(again.rules().len(), 93);
}

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
    assert!(report.unavailable_fields.contains_key("container.image.repository"));
    assert!(!report.unavailable_fields.contains_key("proc.name"));
    let json = serde_json::to_string(&report).unwrap_or_default();
    assert!(json.contains("rules_loaded"));
}

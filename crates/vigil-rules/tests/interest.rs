//! Kernel interest: per event type, the paths a rule set can match.

mod common;

use common::*;
use vigil_rules::PathInterest;

fn paths(pi: &PathInterest) -> (Vec<String>, Vec<String>, Vec<String>, Vec<String>) {
    match pi {
        PathInterest::Everything => panic!("expected patterns, got Everything"),
        PathInterest::Paths(p) => (
            p.exact.iter().cloned().collect(),
            p.prefixes.iter().cloned().collect(),
            p.basenames.iter().cloned().collect(),
            p.suffixes.iter().cloned().collect(),
        ),
    }
}

fn r(name: &str, cond: &str) -> String {
    format!(
        "- rule: {name}\n  desc: d\n  condition: {}\n  output: o\n  priority: INFO\n",
        serde_json::to_string(cond).unwrap()
    )
}

#[test]
fn summarises_file_rules_per_type() {
    let y = "- list: sens\n  items: [/etc/shadow, /etc/sudoers]\n".to_string()
        + &r(
            "a",
            "evt.type in (open, openat) and (fd.name in (sens) or fd.directory = /etc/pam.d)",
        )
        + &r(
            "b",
            "evt.type = openat and fd.name startswith /root/.ssh and not proc.name = ssh",
        )
        + &r(
            "c",
            "evt.type = unlink and (fd.filename in (.bash_history) or fd.name endswith .log)",
        )
        + &r("d", "evt.type = execve and proc.name = bash")
        + &r("e", "evt.type = mkdir and evt.arg.path glob '/usr/*/bin'");
    let rs = rules(&y);
    let i = rs.file_interest();
    let (exact, prefixes, base, suf) = paths(i.for_type("open"));
    assert_eq!(exact, vec!["/etc/shadow", "/etc/sudoers"]);
    assert_eq!(prefixes, vec!["/etc/pam.d/"]);
    assert!(base.is_empty() && suf.is_empty());
    let (exact, prefixes, _, _) = paths(i.for_type("openat"));
    assert_eq!(exact, vec!["/etc/shadow", "/etc/sudoers"]);
    assert_eq!(prefixes, vec!["/etc/pam.d/", "/root/.ssh"]);
    let (_, _, base, suf) = paths(i.for_type("unlink"));
    assert_eq!(base, vec![".bash_history"]);
    assert_eq!(suf, vec![".log"]);
    assert_eq!(i.for_type("execve"), &PathInterest::Everything);
    // a glob keeps its narrower literal end: the tail "/bin" admits fewer paths than "/usr/"
    let (_, prefixes, _, suf) = paths(i.for_type("mkdir"));
    assert!(prefixes.is_empty());
    assert_eq!(suf, vec!["/bin"]);
    assert!(i.wants("mkdir", &["/usr/local/bin"]));
    // No rule for this type: nothing can match.
    let (e, p, b, s) = paths(i.for_type("rename"));
    assert!(e.is_empty() && p.is_empty() && b.is_empty() && s.is_empty());
    assert!(i.wants("openat", &["/root/.ssh/id_rsa"]));
    assert!(!i.wants("openat", &["/tmp/x"]));
    assert!(i.wants("unlink", &["/home/u/.bash_history"]));
    assert!(i.wants("execve", &["/anything"]));
}

#[test]
fn too_complex_becomes_everything() {
    let rs =
        rules(&(r("a", "evt.type = open and fd.name = /x") + &r("b", "evt.type = open and fd.name contains secret")));
    assert_eq!(rs.file_interest().for_type("open"), &PathInterest::Everything);
    // A negated path check says nothing about which paths match.
    let rs = rules(&r("a", "evt.type = open and not fd.name = /x"));
    assert_eq!(rs.file_interest().for_type("open"), &PathInterest::Everything);
    // A rule without an evt.type restriction makes every type Everything.
    let y = r("a", "evt.type = open and fd.name = /x")
        + "- rule: any\n  desc: d\n  condition: proc.name = x\n  output: o\n  priority: INFO\n";
    let i = rules(&y).file_interest();
    assert_eq!(i.for_type("open"), &PathInterest::Everything);
    assert_eq!(i.other, PathInterest::Everything);
}

#[test]
fn disabled_rules_do_not_count_and_or_is_per_type() {
    let y = r(
        "a",
        "(evt.type = open and fd.name = /a) or (evt.type = unlink and fd.name = /b)",
    ) + &r("off", "evt.type = open and fd.name contains x")
        + "- rule: off\n  enabled: false\n";
    let i = rules(&y).file_interest();
    assert_eq!(paths(i.for_type("open")).0, vec!["/a"]);
    assert_eq!(paths(i.for_type("unlink")).0, vec!["/b"]);
}

/// Soundness: for every upstream rule and a handful of paths, an event that
/// matches a rule is always wanted by the interest summary.
#[test]
fn summary_never_drops_a_matching_event() {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/falco-rules/");
    let rs = vigil_rules::load_files(&[
        format!("{base}falco_rules.yaml"),
        format!("{base}falco-sandbox_rules.yaml"),
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let i = rs.file_interest();
    let paths = [
        "/etc/shadow",
        "/etc/pam.d/su",
        "/root/.ssh/id_rsa",
        "/usr/bin/ls",
        "/var/lib/rpm/x",
        "/tmp/a",
        "/etc/apt/sources.list.d/x",
    ];
    let mut hits = 0;
    for t in ["open", "openat", "openat2", "rename", "unlink", "mkdir"] {
        for p in paths {
            let ev = Ev::new(t)
                .b("evt.is_open_write", true)
                .b("evt.is_open_read", true)
                .s("fd.typechar", "f")
                .i("fd.num", 3)
                .s("fd.name", p)
                .s("fd.directory", p.rsplit_once('/').map_or("/", |x| x.0))
                .s("fd.filename", p.rsplit('/').next().unwrap_or(p))
                .s("proc.name", "evil")
                .s("evt.arg.path", p)
                .s("evt.arg.newpath", p);
            let hit = rs.rules().iter().any(|r| r.enabled && r.matches(&ev));
            if hit {
                hits += 1;
                assert!(i.wants(t, &[p]), "{t} {p} matches a rule but the interest drops it");
            }
        }
    }
    assert!(hits >= 10, "the sample events should hit upstream rules ({hits})");
}

#[test]
fn an_and_keeps_the_side_admitting_fewer_paths() {
    // one basename against one top-level prefix: the basename is far narrower
    let y = r(
        "a",
        "evt.type = openat and fd.name startswith /proc/ and fd.filename = environ",
    ) + &r("b", "evt.type = open and fd.name glob '/proc/[0-9]*/environ'");
    let i = rules(&y).file_interest();
    let (e, p, b, s) = paths(i.for_type("openat"));
    assert!(e.is_empty() && p.is_empty() && s.is_empty());
    assert_eq!(b, vec!["environ"]);
    let (_, p, _, s) = paths(i.for_type("open"));
    assert!(p.is_empty());
    assert_eq!(s, vec!["/environ"]);
    assert!(i.wants("open", &["/proc/42/environ"]));
    assert!(!i.wants("open", &["/proc/42/status"]));
}

#[test]
fn kernel_flagged_events_need_no_path() {
    let y = r("a", "evt.type in (unlink, unlinkat) and fd.is_running_exe = true");
    let i = rules(&y).file_interest();
    let (e, p, b, s) = paths(i.for_type("unlinkat"));
    assert!(e.is_empty() && p.is_empty() && b.is_empty() && s.is_empty());
}

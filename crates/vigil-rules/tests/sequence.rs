//! Sequence rules: ordered steps within a window, keyed, tied to a process or lineage.

mod common;

use std::sync::Arc;

use common::*;
use vigil_rules::{Engine, EngineConfig, Match, RuleKind, SequenceBy};

const S: u64 = 1_000_000_000;

fn dropper(by: &str, extra: &str) -> String {
    format!(
        r#"
- macro: open_write
  condition: evt.type in (open, openat, openat2, creat) and evt.is_open_write = true
- list: exec_types
  items: [execve, execveat]
- rule: Dropped binary executed
  desc: a file is written, made executable, then executed within 60 s
  sequence:
    within: 60s
    by: {by}
    {extra}
    steps:
      - name: write
        condition: open_write
        key: fd.name
        output: "%proc.name wrote %fd.name"
      - name: chmod
        condition: evt.type in (chmod, fchmod, fchmodat)
        key: fd.name
      - name: exec
        condition: evt.type in (exec_types)
        key: proc.exepath
  output: "%proc.exepath written then executed (%proc.cmdline)"
  priority: CRITICAL
  tags: [drop]
"#
    )
}

fn engine(yaml: &str) -> Engine {
    Engine::new(Arc::new(rules(yaml)), EngineConfig::default())
}

fn write(path: &str, t: u64, lineage: &[u32]) -> Ev {
    Ev::new("openat")
        .at(t)
        .pid(lineage)
        .b("evt.is_open_write", true)
        .s("fd.name", path)
        .s("proc.name", "curl")
}
fn chmod(path: &str, t: u64, lineage: &[u32]) -> Ev {
    Ev::new("fchmodat").at(t).pid(lineage).s("fd.name", path)
}
fn exec(path: &str, t: u64, lineage: &[u32]) -> Ev {
    Ev::new("execve")
        .at(t)
        .pid(lineage)
        .s("proc.exepath", path)
        .s("proc.cmdline", "x --run")
}

fn run(e: &mut Engine, evs: &[Ev]) -> Vec<Match> {
    let mut out = Vec::new();
    for ev in evs {
        e.process(ev, &mut out);
    }
    out
}

#[test]
fn in_order_matches_with_steps() {
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/x", 2 * S, &[10, 1]),
            exec("/tmp/x", 3 * S, &[11, 10, 1]),
        ],
    );
    assert_eq!(out.len(), 1);
    let m = &out[0];
    assert_eq!(m.rule, "Dropped binary executed");
    assert_eq!(m.output, "/tmp/x written then executed (x --run)");
    assert_eq!(m.tags, vec!["drop"]);
    let steps: Vec<(usize, u64, &str)> = m.steps.iter().map(|s| (s.step, s.ts_ns, s.evt_type.as_str())).collect();
    assert_eq!(
        steps,
        vec![(0, S, "openat"), (1, 2 * S, "fchmodat"), (2, 3 * S, "execve")]
    );
    assert_eq!(m.steps[0].output.as_deref(), Some("curl wrote /tmp/x"));
    assert_eq!(m.steps[0].name.as_deref(), Some("write"));
    assert_eq!(m.steps[2].key.as_deref(), Some("/tmp/x"));
    assert_eq!(m.steps[2].pid, Some(11));
    let st = e.rule_stats("Dropped binary executed").unwrap().sequence.unwrap();
    assert_eq!((st.started, st.completed, st.pending), (1, 1, 0));
}

#[test]
fn out_of_order_does_not_match() {
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            chmod("/tmp/x", S, &[10, 1]),
            write("/tmp/x", 2 * S, &[10, 1]),
            exec("/tmp/x", 3 * S, &[10, 1]),
        ],
    );
    assert!(out.is_empty());
    // The chmod that comes later completes it.
    let out = run(
        &mut e,
        &[chmod("/tmp/x", 4 * S, &[10, 1]), exec("/tmp/x", 5 * S, &[10, 1])],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].steps[0].ts_ns, 2 * S);
}

#[test]
fn window_expiry() {
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/x", 30 * S, &[10, 1]),
            exec("/tmp/x", 62 * S, &[10, 1]),
        ],
    );
    assert!(out.is_empty(), "the window runs from step 1");
    let st = e.rule_stats("Dropped binary executed").unwrap().sequence.unwrap();
    assert_eq!(st.expired, 1);
    // Exactly at the window edge still matches.
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/a", S, &[10]),
            chmod("/a", 2 * S, &[10]),
            exec("/a", 61 * S, &[10]),
        ],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn key_mismatch() {
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/y", 2 * S, &[10, 1]),
            exec("/tmp/x", 3 * S, &[10, 1]),
        ],
    );
    assert!(out.is_empty());
    let out = run(
        &mut e,
        &[chmod("/tmp/x", 4 * S, &[10, 1]), exec("/tmp/y", 5 * S, &[10, 1])],
    );
    assert!(out.is_empty(), "exec key differs");
    let out = run(&mut e, &[exec("/tmp/x", 6 * S, &[10, 1])]);
    assert_eq!(out.len(), 1);
}

#[test]
fn lineage_and_process_constraints() {
    // lineage: a descendant may do later steps, an unrelated process may not.
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/x", 2 * S, &[20, 1]),
            exec("/tmp/x", 3 * S, &[12, 11, 10, 1]),
        ],
    );
    assert!(out.is_empty(), "chmod by an unrelated process");
    let out = run(
        &mut e,
        &[
            chmod("/tmp/x", 4 * S, &[11, 10, 1]),
            exec("/tmp/x", 5 * S, &[12, 11, 10, 1]),
        ],
    );
    assert_eq!(out.len(), 1);

    // process: a child does not count.
    let mut e = engine(&dropper("process", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/x", 2 * S, &[10, 1]),
            exec("/tmp/x", 3 * S, &[11, 10, 1]),
        ],
    );
    assert!(out.is_empty());
    let out = run(&mut e, &[exec("/tmp/x", 4 * S, &[10, 1])]);
    assert_eq!(out.len(), 1);

    // any: only the key matters.
    let mut e = engine(&dropper("any", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            chmod("/tmp/x", 2 * S, &[20, 1]),
            exec("/tmp/x", 3 * S, &[30, 1]),
        ],
    );
    assert_eq!(out.len(), 1);
}

#[test]
fn pending_partials_are_capped() {
    let mut e = engine(&dropper("any", "max_pending: 3"));
    let evs: Vec<Ev> = (0..5).map(|i| write(&format!("/tmp/{i}"), S + i, &[10])).collect();
    run(&mut e, &evs);
    let st = e.rule_stats("Dropped binary executed").unwrap().sequence.unwrap();
    assert_eq!((st.started, st.evicted, st.pending), (5, 2, 3));
    // The oldest (/tmp/0, /tmp/1) were evicted.
    let out = run(&mut e, &[chmod("/tmp/0", 2 * S, &[10]), exec("/tmp/0", 3 * S, &[10])]);
    assert!(out.is_empty());
    let out = run(&mut e, &[chmod("/tmp/4", 2 * S, &[10]), exec("/tmp/4", 3 * S, &[10])]);
    assert_eq!(out.len(), 1);
}

#[test]
fn repeated_first_step_does_not_duplicate() {
    let mut e = engine(&dropper("lineage", ""));
    let out = run(
        &mut e,
        &[
            write("/tmp/x", S, &[10, 1]),
            write("/tmp/x", 2 * S, &[10, 1]),
            chmod("/tmp/x", 3 * S, &[10, 1]),
            exec("/tmp/x", 4 * S, &[10, 1]),
        ],
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].steps[0].ts_ns, 2 * S);
}

#[test]
fn sequence_is_public_and_indexed() {
    let rs = rules(&dropper("lineage", ""));
    let r = rs.rule("Dropped binary executed").unwrap();
    let RuleKind::Sequence(s) = &r.kind else {
        panic!("not a sequence")
    };
    assert_eq!(s.within_ns, 60 * S);
    assert_eq!(s.by, SequenceBy::Lineage);
    assert_eq!(s.steps.len(), 3);
    for t in ["open", "openat2", "creat", "chmod", "execveat"] {
        assert_eq!(rs.candidates(t), &[0], "{t}");
    }
    assert!(rs.candidates("connect").is_empty());
}

//! Rate limiting: scopes, burst/refill on event time, suppression counts.

mod common;

use std::sync::Arc;

use common::*;
use vigil_rules::{Engine, EngineConfig, Match, RateLimit, Scope};

const S: u64 = 1_000_000_000;

fn rule_with(limit: &str) -> String {
    format!("- rule: r\n  desc: d\n  condition: evt.type = execve\n  output: \"%proc.name\"\n  priority: INFO\n{limit}")
}

fn ev(t: u64, pid: u32, ppid: u32, exe: &str) -> Ev {
    Ev::new("execve")
        .at(t)
        .pid(&[pid, ppid, 1])
        .s("proc.exepath", exe)
        .s("proc.name", "x")
}

fn feed(e: &mut Engine, evs: &[Ev]) -> Vec<Match> {
    let mut out = Vec::new();
    for x in evs {
        e.process(x, &mut out);
    }
    out
}

#[test]
fn process_scope_burst_and_refill() {
    let rs = rules(&rule_with("  rate_limit: {scope: process, burst: 2, per: 10s}\n"));
    let mut e = Engine::new(Arc::new(rs), EngineConfig::default());
    let out = feed(
        &mut e,
        &[
            ev(S, 10, 1, "/a"),
            ev(S, 10, 1, "/a"),
            ev(S, 10, 1, "/a"),
            ev(S, 10, 1, "/a"),
        ],
    );
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(|m| m.suppressed == 0));
    // Another process has its own bucket.
    let out = feed(&mut e, &[ev(S, 11, 1, "/a")]);
    assert_eq!(out.len(), 1);
    // 5 s later one token (10 s / 2) is back; it reports the 2 suppressed.
    let out = feed(&mut e, &[ev(6 * S, 10, 1, "/a"), ev(6 * S, 10, 1, "/a")]);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].suppressed, 2);
    let st = e.rule_stats("r").unwrap();
    assert_eq!(st.rate.suppressed, 3);
    assert_eq!(st.matches, 4);
    assert_eq!(e.suppressed_total(), 3);
}

#[test]
fn executable_parent_and_global_scopes() {
    let rs = rules(&rule_with("  rate_limit: {scope: executable, burst: 1, per: 60s}\n"));
    let mut e = Engine::new(Arc::new(rs), EngineConfig::default());
    let out = feed(&mut e, &[ev(S, 10, 1, "/a"), ev(S, 11, 1, "/a"), ev(S, 12, 1, "/b")]);
    assert_eq!(out.len(), 2, "same executable shares a bucket across pids");

    let rs = rules(&rule_with("  rate_limit: {scope: parent, burst: 1, per: 60s}\n"));
    let mut e = Engine::new(Arc::new(rs), EngineConfig::default());
    let out = feed(&mut e, &[ev(S, 10, 5, "/a"), ev(S, 11, 5, "/b"), ev(S, 12, 6, "/a")]);
    assert_eq!(out.len(), 2, "children of one parent share a bucket");

    let rs = rules(&rule_with("  rate_limit: {scope: global, burst: 1, per: 60s}\n"));
    let mut e = Engine::new(Arc::new(rs), EngineConfig::default());
    let out = feed(
        &mut e,
        &[ev(S, 10, 5, "/a"), ev(S, 11, 6, "/b"), ev(61 * S, 12, 7, "/c")],
    );
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].suppressed, 1);
}

#[test]
fn default_limit_and_opt_out() {
    let y = rule_with("") + "- rule: free\n  desc: d\n  condition: evt.type = execve\n  output: o\n  priority: INFO\n  rate_limit: none\n";
    let cfg = EngineConfig {
        default_rate_limit: Some(RateLimit {
            scope: Scope::Global,
            burst: 1,
            per_ns: 60 * S,
        }),
        ..EngineConfig::default()
    };
    let mut e = Engine::new(Arc::new(rules(&y)), cfg);
    let out = feed(&mut e, &[ev(S, 10, 1, "/a"), ev(S, 10, 1, "/a"), ev(S, 10, 1, "/a")]);
    let r: Vec<&str> = out.iter().map(|m| m.rule.as_str()).collect();
    assert_eq!(r, vec!["r", "free", "free", "free"]);
    assert_eq!(e.rule_stats("r").unwrap().rate.suppressed, 2);
}

#[test]
fn evicted_buckets_keep_their_counts() {
    let rs = rules(&rule_with("  rate_limit: {scope: process, burst: 1, per: 60s}\n"));
    let mut e = Engine::new(
        Arc::new(rs),
        EngineConfig {
            max_rate_buckets: 2,
            ..EngineConfig::default()
        },
    );
    // pid 10 gets one suppression, then two other pids push its bucket out.
    feed(
        &mut e,
        &[
            ev(S, 10, 1, "/a"),
            ev(S, 10, 1, "/a"),
            ev(2 * S, 11, 1, "/a"),
            ev(3 * S, 12, 1, "/a"),
        ],
    );
    let st = e.rule_stats("r").unwrap().rate;
    assert_eq!(st.suppressed, 1);
    assert_eq!(st.unreported, 1);
    assert_eq!(st.evicted_buckets, 1);
}

#[test]
fn replay_is_deterministic() {
    let rs = Arc::new(rules(&rule_with("  rate_limit: {scope: process, burst: 3, per: 1s}\n")));
    let evs: Vec<Ev> = (0..200u64)
        .map(|i| ev(i * 50_000_000, (i % 3) as u32 + 10, 1, "/a"))
        .collect();
    let a: Vec<(u64, u64)> = feed(&mut Engine::new(rs.clone(), EngineConfig::default()), &evs)
        .iter()
        .map(|m| (m.ts_ns, m.suppressed))
        .collect();
    let b: Vec<(u64, u64)> = feed(&mut Engine::new(rs, EngineConfig::default()), &evs)
        .iter()
        .map(|m| (m.ts_ns, m.suppressed))
        .collect();
    assert_eq!(a, b);
    assert!(!a.is_empty() && a.len() < 200);
}

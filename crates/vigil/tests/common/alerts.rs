//! Alert matchers: waiting for an alert, checking its priority, ATT&CK technique and
//! output, and asserting that a near miss stayed quiet.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::{str_of, Agent};

/// How long a scenario's alert may take: generous, the agent is a debug build and
/// another suite may be storming the host.
pub const ALERT_WAIT: Duration = Duration::from_secs(60);

/// The alert lines (those with an `alert` object).
pub fn alerts(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v.get("alert").is_some()).collect()
}

/// Alerts of one rule.
pub fn alerts_of<'a>(lines: &'a [Value], rule: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["alert"]["rule"] == rule).collect()
}

/// An alert in one line, for failure messages: `rule [PRIORITY]: output`.
pub fn alert_line(v: &Value) -> String {
    format!(
        "{} [{}]: {}",
        str_of(&v["alert"]["rule"]),
        str_of(&v["alert"]["priority"]),
        output(v)
    )
}

/// The alert's output text.
pub fn output(v: &Value) -> &str {
    str_of(&v["alert"]["output"])
}

/// Every alert, one per line, for failure messages.
pub fn summary_of_alerts(lines: &[Value]) -> String {
    alerts(lines)
        .into_iter()
        .map(|a| format!("  {}", alert_line(a)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The event's process is `pid` or descends from it.
pub fn in_tree(v: &Value, pid: u32) -> bool {
    v["proc"]["pid"] == pid
        || v["ancestors"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["pid"] == pid))
}

pub fn pid_is(pid: u32) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["proc"]["pid"] == pid
}

pub fn output_has(s: impl Into<String>) -> impl Fn(&Value) -> bool {
    let s = s.into();
    move |v: &Value| output(v).contains(&s)
}

pub fn name_is(name: &'static str) -> impl Fn(&Value) -> bool {
    move |v: &Value| v["proc"]["name"] == name
}

/// Waits (up to [`ALERT_WAIT`]) for an alert of `rule` accepted by `pred` among the lines
/// `lines_of` returns; panics listing every alert seen otherwise.
pub fn wait_alert_in(lines_of: impl Fn() -> Vec<Value>, rule: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + ALERT_WAIT;
    loop {
        let lines = lines_of();
        if let Some(a) = alerts_of(&lines, rule).into_iter().find(|a| pred(a)) {
            return a.clone();
        }
        if Instant::now() > deadline {
            panic!(
                "no alert `{rule}` matching the scenario; alerts seen:\n{}",
                summary_of_alerts(&lines)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits for an alert of `rule` accepted by `pred` from the agent.
pub fn wait_alert(agent: &Agent, rule: &str, pred: impl Fn(&Value) -> bool) -> Value {
    wait_alert_in(|| agent.lines(), rule, pred)
}

/// The alert has this priority, carries this ATT&CK technique and the `vigil` tag, and its
/// output contains every one of `parts`.
pub fn check(alert: &Value, priority: &str, technique: &str, parts: &[&str]) {
    let rule = str_of(&alert["alert"]["rule"]);
    assert_eq!(alert["alert"]["priority"], priority, "priority of `{rule}`: {alert}");
    let techniques: Vec<&str> = alert["alert"]["mitre_techniques"]
        .as_array()
        .map(|a| a.iter().map(str_of).collect())
        .unwrap_or_default();
    assert!(
        techniques.contains(&technique),
        "`{rule}` should carry {technique}, has {techniques:?}"
    );
    assert!(
        alert["alert"]["tags"]
            .as_array()
            .is_some_and(|t| t.iter().any(|x| x == "vigil")),
        "`{rule}` should be tagged vigil: {}",
        alert["alert"]["tags"]
    );
    for part in parts {
        assert!(
            output(alert).contains(part),
            "output of `{rule}` should contain `{part}`: {}",
            output(alert)
        );
    }
}

/// Waits for an alert of `rule` whose output contains every one of `needles`, checks it
/// ([`check`]); returns it and every line seen so far.
pub fn expect_alert(
    agent: &Agent,
    rule: &str,
    priority: &str,
    technique: &str,
    needles: &[&str],
) -> (Value, Vec<Value>) {
    let a = wait_alert(agent, rule, |a| needles.iter().all(|n| output(a).contains(n)));
    check(&a, priority, technique, needles);
    (a, agent.lines())
}

/// Fails if any alert of `rule` matches `pred` (call after the agent has seen the events).
pub fn assert_no_alert(lines: &[Value], rule: &str, pred: impl Fn(&Value) -> bool) {
    let bad: Vec<String> = alerts_of(lines, rule)
        .into_iter()
        .filter(|a| pred(a))
        .map(alert_line)
        .collect();
    assert!(bad.is_empty(), "`{rule}` fired on a near miss:\n{}", bad.join("\n"));
}

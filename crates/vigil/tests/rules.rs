//! The rule engine on real events: Falco-style rules fire, a recording replays to the
//! same alerts (without root), and rules reload while the agent runs. Needs root and
//! eBPF; fails (never skips) when the agent cannot load.

mod common;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// A python child that spawns a marked shell, reads /etc/shadow, and connects to 127.0.0.42.
fn act(port: u16) -> u32 {
    let code = format!(
        r#"
import subprocess, socket
subprocess.run(['sh', '-c', 'true vigil-rule-test'])
open('/etc/shadow').read()
s = socket.create_connection(('127.0.0.42', {port}))
s.close()
"#
    );
    let child = Command::new(python()).args(["-c", &code]).spawn().expect("python");
    let pid = child.id();
    assert!(child.wait_with_output().expect("wait").status.success());
    pid
}

#[test]
fn falco_style_rules_fire_on_real_events() {
    let listener = TcpListener::bind("127.0.0.42:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let agent = Agent::start(&["--no-builtin-rules", "-r", &fixture("falco_style.yaml")]);
    let me = std::process::id();
    let py = act(port);
    let lines = agent.wait_for("three alerts", WAIT, |l| {
        [
            "Test shell spawned by python",
            "Test sensitive file read",
            "Test outbound connect",
        ]
        .iter()
        .all(|r| !alerts_of(l, r).is_empty())
    });

    let shell = alerts_of(&lines, "Test shell spawned by python")[0];
    assert_eq!(shell["alert"]["priority"], "WARNING");
    assert_eq!(shell["alert"]["mitre_techniques"], serde_json::json!(["T1059"]));
    assert_eq!(shell["alert"]["mitre_tactics"], serde_json::json!(["execution"]));
    let out = str_of(&shell["alert"]["output"]);
    assert!(
        out.starts_with("shell sh spawned by python3 (cmdline=sh -c true vigil-rule-test gparent="),
        "{out}"
    );
    assert!(out.contains("exe=/usr/bin/dash"), "{out}");
    // the alert carries the event and the ancestry up to the test process
    assert_eq!(shell["evt"]["type"], "execve");
    assert_eq!(shell["ancestors"][0]["pid"], py);
    assert!(shell["ancestors"].as_array().unwrap().iter().any(|a| a["pid"] == me));

    let read = alerts_of(&lines, "Test sensitive file read")[0];
    assert_eq!(
        str_of(&read["alert"]["output"]),
        "/etc/shadow read by python3 (uid=0 user=root dir=/etc)"
    );
    assert_eq!(read["proc"]["pid"], py);
    assert_eq!(read["fd"]["name"], "/etc/shadow");

    let conn = alerts_of(&lines, "Test outbound connect")[0];
    let out = str_of(&conn["alert"]["output"]);
    assert!(
        out.starts_with(&format!("connect to 127.0.0.42:{port} from python3 (127.0.0.1:")),
        "{out}"
    );
    assert_eq!(conn["alert"]["priority"], "NOTICE");
    // latency from the syscall to the decision, in the kernel's clock
    for a in alerts(&lines) {
        let lat = a["alert"]["detected_ktime"].as_u64().unwrap() - a["evt"]["ktime"].as_u64().unwrap();
        assert!(lat > 0, "alert decided before its event");
    }
    agent.stop();
}

fn alert_key(v: &Value) -> (String, String, u64, u64) {
    (
        str_of(&v["alert"]["rule"]).to_string(),
        str_of(&v["alert"]["output"]).to_string(),
        v["evt"]["ktime"].as_u64().unwrap_or(0),
        v["proc"]["pid"].as_u64().unwrap_or(0),
    )
}

#[test]
fn replay_of_a_recording_gives_the_same_alerts_without_root() {
    let listener = TcpListener::bind("127.0.0.42:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let dir = TempDir::new("replay");
    let rec = dir.path().join("session.vrec");
    let agent = Agent::start(&[
        "--no-builtin-rules",
        "-r",
        &fixture("falco_style.yaml"),
        "--record",
        rec.to_str().unwrap(),
    ]);
    act(port);
    act(port);
    agent.wait_for("alerts", WAIT, |l| alerts_of(l, "Test outbound connect").len() >= 2);
    let (live, summary) = agent.stop();
    let mut live: Vec<_> = alerts(&live).into_iter().map(alert_key).collect();
    assert!(live.len() >= 6, "expected at least six live alerts, got {live:?}");

    // replay as an unprivileged user (nobody): no root, no eBPF
    let out = dir.path().join("replayed.jsonl");
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::fs::set_permissions(&rec, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let status = Command::new(vigil_bin())
        .args([
            "replay",
            rec.to_str().unwrap(),
            "--no-builtin-rules",
            "-r",
            &fixture("falco_style.yaml"),
            "-o",
        ])
        .arg(&out)
        .uid(65534)
        .gid(65534)
        .stderr(Stdio::piped())
        .output()
        .expect("replay");
    assert!(
        status.status.success(),
        "replay failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let replayed: Vec<Value> = std::fs::read_to_string(&out)
        .expect("replay output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let mut replayed: Vec<_> = alerts(&replayed).into_iter().map(alert_key).collect();
    live.sort();
    replayed.sort();
    assert_eq!(live, replayed, "replay must give exactly the live alerts");
    // and it decoded exactly what the live run saw
    let replay_summary: Value = String::from_utf8_lossy(&status.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .map(|s| serde_json::from_str(s).expect("summary"))
        .expect("replay summary");
    assert_eq!(
        replay_summary["decode"]["decoded"],
        summary["userspace"]["decode"]["decoded"]
    );

    // Cut short, as by a crash while recording: every complete record replays, with a
    // warning and success
    let total = |s: &Value| -> u64 {
        s["decode"]["decoded"]
            .as_object()
            .map_or(0, |m| m.values().filter_map(Value::as_u64).sum())
    };
    let bytes = std::fs::read(&rec).expect("recording");
    let cut = dir.path().join("cut.vrec");
    std::fs::write(&cut, &bytes[..bytes.len() - 3]).expect("cut recording");
    let replay = |file: &std::path::Path| {
        Command::new(vigil_bin())
            .args([
                "replay",
                file.to_str().unwrap(),
                "--no-builtin-rules",
                "-r",
                &fixture("falco_style.yaml"),
            ])
            .args(["-o", "/dev/null"])
            .output()
            .expect("replay")
    };
    // the framing: header (v2: namespaces, hostname), then (u32 length, bytes) per record
    let header = 24 + 2 + 8 * u16::from_le_bytes([bytes[24], bytes[25]]) as usize;
    let name_len = u16::from_le_bytes([bytes[header], bytes[header + 1]]) as usize;
    let first = header + 2 + name_len;
    let mut starts = vec![first];
    while let Some(&at) = starts.last().filter(|&&at| at < bytes.len()) {
        starts.push(at + 4 + u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize);
    }
    let records = starts.len() - 1;
    let r = replay(&cut);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(r.status.success(), "a truncated recording replays: {err}");
    assert!(
        err.contains("warning")
            && err.contains("cut short")
            && err.contains(&format!("the {} complete records", records - 1)),
        "{err}"
    );
    let cut_summary: Value = err
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .map(|s| serde_json::from_str(s).expect("summary"))
        .expect("summary of the truncated replay");
    assert!(total(&cut_summary) + 1 >= total(&replay_summary) && total(&cut_summary) > 0);

    // A corrupted length: the records before it replay, the damage is reported with its
    // record index and byte offset, and the exit status says it
    let mut bad = bytes.clone();
    let second = starts[1];
    bad[second..second + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    let corrupt = dir.path().join("corrupt.vrec");
    std::fs::write(&corrupt, &bad).expect("corrupt recording");
    let r = replay(&corrupt);
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success(), "{err}");
    assert!(
        err.contains(&format!("record 1 (at byte {second})")) && err.contains("corrupted"),
        "{err}"
    );
}

#[test]
fn rules_reload_on_change_and_a_broken_file_keeps_the_last_good_rules() {
    let dir = TempDir::new("reload");
    let file = dir.path().join("local.yaml");
    let rule = |name: &str, marker: &str| {
        format!(
            "- rule: {name}\n  desc: reload test\n  condition: evt.type = execve and proc.cmdline contains {marker}\n  output: \"{name} fired for %proc.cmdline\"\n  priority: NOTICE\n"
        )
    };
    std::fs::write(&file, rule("First rule", "marker-one")).unwrap();
    let agent = Agent::start(&["--no-builtin-rules", "-r", file.to_str().unwrap()]);
    let run = |marker: &str| {
        Command::new("/bin/sh")
            .args(["-c", &format!("true {marker}")])
            .status()
            .expect("sh");
    };
    run("marker-one");
    agent.wait_for("the first rule", WAIT, |l| !alerts_of(l, "First rule").is_empty());

    // A new version of the file: picked up without a signal (the agent watches its rule files).
    std::thread::sleep(Duration::from_millis(1100)); // a different mtime
    let before = count_stderr(&agent, "rules reloaded");
    std::fs::write(&file, rule("Second rule", "marker-two")).unwrap();
    wait_stderr(&agent, "rules reloaded", before);
    run("marker-two");
    agent.wait_for("the second rule", WAIT, |l| !alerts_of(l, "Second rule").is_empty());

    // A broken version: reported with its position, and the second rule keeps running.
    std::thread::sleep(Duration::from_millis(1100));
    // (the error names file, line and column)
    let at = format!("{}:2:36: unbalanced parenthesis", file.display());
    let before = count_stderr(&agent, &at);
    std::fs::write(
        &file,
        "- rule: Broken\n  condition: evt.type = execve and (proc.name = x\n  output: x\n  priority: NOTICE\n",
    )
    .unwrap();
    wait_stderr(&agent, &at, before);
    run("marker-two");
    agent.wait_for("the second rule again", WAIT, |l| {
        alerts_of(l, "Second rule").len() >= 2
    });

    // A YAML alias bomb (10^11 nodes if expanded): refused at its position, bounded,
    // while events keep flowing, and the second rule keeps running.
    std::thread::sleep(Duration::from_millis(1100));
    let at = format!(
        "{}:12:43: the file expands to more than 1000000 YAML nodes",
        file.display()
    );
    let before = count_stderr(&agent, &at);
    let mut bomb = String::from("- list: l0\n  items: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..=11 {
        let items = vec![format!("*a{}", i - 1); 10].join(",");
        bomb.push_str(&format!("- list: l{i}\n  items: &a{i} [{items}]\n"));
    }
    std::fs::write(&file, bomb).unwrap();
    wait_stderr(&agent, &at, before);
    run("marker-two");
    agent.wait_for("the second rule after the bomb", WAIT, |l| {
        alerts_of(l, "Second rule").len() >= 3
    });

    // SIGHUP reloads too (the broken file is fixed, then a HUP forces the reload).
    let before = count_stderr(&agent, "rules reloaded");
    std::fs::write(&file, rule("Third rule", "marker-three")).unwrap();
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(agent.pid(), libc::SIGHUP) };
    wait_stderr(&agent, "rules reloaded", before);
    run("marker-three");
    let lines = agent.wait_for("the third rule", WAIT, |l| !alerts_of(l, "Third rule").is_empty());
    assert!(
        alerts_of(&lines, "First rule").len() == 1,
        "the first rule stopped firing after the reload"
    );
    agent.stop();
}

fn count_stderr(agent: &Agent, what: &str) -> usize {
    agent.stderr().iter().filter(|l| l.contains(what)).count()
}

/// Waits for one more stderr line containing `what` than there were (`before`).
fn wait_stderr(agent: &Agent, what: &str, before: usize) {
    let deadline = std::time::Instant::now() + WAIT;
    while count_stderr(agent, what) <= before {
        assert!(
            std::time::Instant::now() < deadline,
            "agent never said `{what}`:\n{}",
            agent.stderr().join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn rules_check_reports_errors_with_positions_and_loads_falco_files() {
    let dir = TempDir::new("check");
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.nmae = bash\n  output: o\n  priority: NOTICE\n",
    )
    .unwrap();
    let out = Command::new(vigil_bin())
        .args(["rules", "check", "--no-builtin-rules"])
        .arg(&bad)
        .output()
        .expect("check");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("{}:3:", bad.display())), "{text}");
    assert!(
        text.contains("proc.nmae") && text.contains("proc.name"),
        "names the field and a suggestion: {text}"
    );

    // Falco's upstream files, unmodified, on top of our built-in rules
    let shared = format!("{}/../../../shared/falco-rules", env!("CARGO_MANIFEST_DIR"));
    let files: Vec<String> = [
        "falco_rules.yaml",
        "falco-incubating_rules.yaml",
        "falco-sandbox_rules.yaml",
    ]
    .iter()
    .map(|f| format!("{shared}/{f}"))
    .collect();
    for f in &files {
        assert!(
            std::path::Path::new(f).exists(),
            "Falco's rule file {f} is missing (../shared/falco-rules)"
        );
    }
    let out = Command::new(vigil_bin())
        .args(["rules", "check"])
        .args(&files)
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let builtin: usize = Command::new(vigil_bin())
        .args(["rules", "list", "--json"])
        .output()
        .ok()
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v.as_array().map(|a| a.len()))
        .expect("rules list");
    assert!(text.contains(&format!("rules: {} loaded", 93 + builtin)), "{text}");
    assert!(
        text.contains("fields not populated by Vigil"),
        "the load report lists unavailable fields: {text}"
    );
}

/// `vigil run` as root refuses rule and config files a user other than root could change:
/// such a user could otherwise decide what the agent detects (issue 16).
#[test]
fn rule_and_config_files_other_users_could_change_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("untrusted");
    let file = dir.path().join("local.yaml");
    std::fs::write(
        &file,
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.name = vigil-never\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let out = Command::new(vigil_bin())
            .arg("run")
            .args(args)
            .output()
            .expect("vigil run");
        assert!(!out.status.success(), "vigil run {args:?} should refuse");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let path = file.to_str().unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o664)).unwrap();
    let err = run(&["--no-builtin-rules", "-r", path]);
    assert!(
        err.contains(&format!("{path}:0:0: refused")) && err.contains("mode 664") && err.contains("chmod go-w"),
        "{err}"
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::chown(&file, Some(65534), Some(65534)).unwrap();
    let err = run(&["--no-builtin-rules", "-r", path]);
    assert!(err.contains("owned by uid 65534"), "{err}");
    // a directory of rules others may write into is refused too
    std::os::unix::fs::chown(&file, Some(0), Some(0)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = run(&["--no-builtin-rules", "-r", dir.path().to_str().unwrap()]);
    assert!(err.contains("refused") && err.contains("mode 777"), "{err}");
    // and a config file
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = dir.path().join("vigil.yaml");
    std::fs::write(&config, "events: false\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o666)).unwrap();
    let err = run(&["--config", config.to_str().unwrap()]);
    assert!(err.contains("refused") && err.contains("how the agent runs"), "{err}");
    // (files only root can change load as before: every other test's rule files do)
}

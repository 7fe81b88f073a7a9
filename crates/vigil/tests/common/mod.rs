//! Running the real agent from tests.
//!
//! Tests that need eBPF start `vigil run` as a child, wait for its `ready` line and read
//! what it writes. If the agent cannot load (not root, no BTF, verifier refusal) the
//! test fails with the agent's own error: these tests never skip.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::Value;

pub mod dns;

/// One agent at a time per test binary: each sees the whole host, and storms from one
/// test would flood another's output.
static AGENT_LOCK: Mutex<()> = Mutex::new(());

pub struct Agent {
    child: Child,
    pub output: PathBuf,
    stderr_lines: std::sync::Arc<Mutex<Vec<String>>>,
    pub ready_line: String,
    _dir: TempDir,
    _guard: Option<MutexGuard<'static, ()>>,
}

pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        Self::new_in(&std::env::temp_dir(), tag)
    }

    /// Under `parent` instead of /tmp (which some rules watch as a whole).
    pub fn new_in(parent: &Path, tag: &str) -> TempDir {
        let base = parent.join(format!(
            "vigil-test-{tag}-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        std::fs::create_dir_all(&base).expect("create temp dir");
        TempDir(base)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn vigil_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vigil")
}

impl Agent {
    /// Starts `vigil run` with extra arguments and waits until it is ready.
    pub fn start(extra: &[&str]) -> Agent {
        let guard = AGENT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        Agent::launch(extra, Some(guard))
    }

    /// Two agents watching the host at the same time (to compare how they report the same actions).
    pub fn start_pair(a: &[&str], b: &[&str]) -> (Agent, Agent) {
        let guard = AGENT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        let first = Agent::launch(a, Some(guard));
        (first, Agent::launch(b, None))
    }

    fn launch(extra: &[&str], guard: Option<MutexGuard<'static, ()>>) -> Agent {
        let dir = TempDir::new("agent");
        let output = dir.path().join("events.jsonl");
        let mut child = Command::new(vigil_bin())
            .arg("run")
            .arg("--output")
            .arg(&output)
            .args(["--stats-interval", "0"])
            .arg("--stats-file")
            .arg(dir.path().join("stats.json"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn vigil");
        let stderr = child.stderr.take().expect("stderr");
        let lines = std::sync::Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.starts_with("ready") {
                        let _ = tx.send(line.clone());
                    }
                    lines.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                }
            });
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let ready_line = loop {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                break line;
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(200));
                let err = lines.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
                panic!(
                    "vigil could not start ({status}); these tests need root and a kernel with BTF and eBPF \
                     (run `vigil doctor`). Agent said:\n{err}"
                );
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("vigil did not print `ready` within 60 s");
            }
        };
        Agent {
            child,
            output,
            stderr_lines: lines,
            ready_line,
            _dir: dir,
            _guard: guard,
        }
    }

    /// All complete JSON lines written so far (a line still being written is left for later).
    pub fn lines(&self) -> Vec<Value> {
        let mut text = std::fs::read_to_string(&self.output).unwrap_or_default();
        text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("agent wrote invalid JSON ({e}): {l}")))
            .collect()
    }

    /// Waits until `pred` holds for the lines written so far; returns them.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let lines = self.lines();
            if pred(&lines) {
                return lines;
            }
            if Instant::now() > deadline {
                panic!("timed out waiting for {what}; the agent wrote {} lines", lines.len());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The statistics file `vigil stats` reads.
    pub fn stats_file(&self) -> PathBuf {
        self._dir.path().join("stats.json")
    }

    /// Polls the agent's stats file (rewritten every second) until `pred` holds or
    /// `timeout` passes; returns the last stats read either way, so the caller asserts.
    pub fn wait_for_stats(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = std::fs::read(self.stats_file())
                .ok()
                .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
                .unwrap_or(Value::Null);
            if pred(&stats) || Instant::now() > deadline {
                return stats;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr_lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Stops the agent with SIGINT and returns its `summary:` JSON.
    pub fn stop(mut self) -> (Vec<Value>, Value) {
        // SAFETY: kill with a pid we own.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait().expect("wait for vigil");
        std::thread::sleep(Duration::from_millis(100));
        let err = self.stderr();
        assert!(status.success(), "vigil exited with {status}:\n{}", err.join("\n"));
        let summary = err
            .iter()
            .find_map(|l| l.strip_prefix("summary: "))
            .unwrap_or_else(|| panic!("no summary line on stderr:\n{}", err.join("\n")));
        let summary: Value = serde_json::from_str(summary).expect("summary is JSON");
        (self.lines(), summary)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Events of one kind (`evt.kind`) from a process.
pub fn of_pid(lines: &[Value], pid: u32) -> impl Iterator<Item = &Value> {
    lines.iter().filter(move |v| v["proc"]["pid"] == pid)
}

pub fn kind<'a>(lines: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> {
    lines.iter().filter(move |v| v["evt"]["kind"] == kind)
}

/// The file events on exactly this path.
pub fn file_events<'a>(lines: &'a [Value], path: &'a str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|v| v["evt"]["kind"] == "file" && v["fd"]["name"] == path)
        .collect()
}

pub fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// Counts from the summary: kernel per-hook counters.
pub fn hook_counts<'a>(summary: &'a Value, hook: &str) -> &'a Value {
    summary["kernel"]["hooks"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h[0] == hook))
        .map(|h| &h[1])
        .unwrap_or_else(|| panic!("no hook {hook} in summary"))
}

/// Every kernel hook accounts for every event it saw: sent, filtered, deduplicated or lost;
/// and the invocations the kernel skipped are reported, per program.
pub fn assert_kernel_accounting(summary: &Value) {
    let misses = summary["kernel"]["recursion_misses"]
        .as_array()
        .expect("recursion_misses per program");
    let sum: u64 = misses.iter().map(|m| m[1].as_u64().unwrap_or(0)).sum();
    assert_eq!(sum, summary["missed_total"].as_u64().expect("missed_total"));
    for h in summary["kernel"]["hooks"].as_array().expect("hooks") {
        let c = &h[1];
        let n = |k: &str| c[k].as_u64().unwrap_or(0);
        assert_eq!(
            n("seen"),
            n("sent") + n("lost") + n("filtered") + n("deduped"),
            "hook {} does not account for what it saw: {c}",
            h[0]
        );
    }
}

pub fn python() -> &'static str {
    "python3"
}

/// Runs a python3 snippet, returning its pid and stdout; panics if it fails.
pub fn run_python(code: &str) -> (u32, String) {
    let child = Command::new(python())
        .arg("-c")
        .arg(code)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed by the tests (scripts/setup.sh installs it)");
    let pid = child.id();
    let out = child.wait_with_output().expect("python3");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The alert lines (those with an `alert` object).
pub fn alerts(lines: &[Value]) -> Vec<&Value> {
    lines.iter().filter(|v| v.get("alert").is_some()).collect()
}

/// Alerts of one rule.
/// An alert in one line, for failure messages: `rule [PRIORITY]: output`.
pub fn alert_line(v: &Value) -> String {
    format!(
        "{} [{}]: {}",
        str_of(&v["alert"]["rule"]),
        str_of(&v["alert"]["priority"]),
        str_of(&v["alert"]["output"])
    )
}

pub fn alerts_of<'a>(lines: &'a [Value], rule: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["alert"]["rule"] == rule).collect()
}

pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

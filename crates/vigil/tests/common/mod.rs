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

pub mod alerts;
pub mod containers;
pub mod dns;
pub mod runner;

// Every test file uses a part of these: re-exported whole.
#[allow(unused_imports)]
pub use alerts::*;
#[allow(unused_imports)]
pub use runner::*;

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

/// Polls `f` until it returns a value (60 s at most, then the test fails naming `what`).
pub fn wait_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A name no other test (or engineer) uses: `vigil-test-<tag>-<pid>-<n>`.
pub fn unique(tag: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "vigil-test-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
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

    /// The agent's pid, from its ready line.
    pub fn pid(&self) -> i32 {
        self.ready_line
            .rsplit("agent pid ")
            .next()
            .and_then(|p| p.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("agent pid in the ready line: {}", self.ready_line))
    }

    /// How many processes the agent knew when it became ready.
    pub fn processes_known(&self) -> u64 {
        self.ready_line
            .split(", ")
            .find_map(|p| p.strip_suffix(" processes known"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("processes known in the ready line: {}", self.ready_line))
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

/// Userspace decoded exactly the records of one kind (`vigil_event::abi::kind`) that the
/// kernel's hooks feeding that kind sent.
pub fn assert_decoded_what_was_sent(summary: &Value, kind: u16, decoded_as: &str) {
    let sent: u64 = vigil_event::abi::Hook::ALL
        .iter()
        .filter(|h| h.kind() == kind)
        .map(|h| hook_counts(summary, h.name())["sent"].as_u64().unwrap_or(0))
        .sum();
    let decoded = summary["userspace"]["decode"]["decoded"][decoded_as]
        .as_u64()
        .unwrap_or(0);
    assert_eq!(
        decoded, sent,
        "userspace decoded exactly the {decoded_as} records the kernel sent"
    );
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

pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

//! The configurations under test: Vigil (floor, default, streaming everything), auditd with
//! rules equivalent to Vigil's default coverage, and a bpftrace script printing every
//! exec/open/connect. Each is started before a workload run and stopped after it, and
//! reports what it cost and what it lost.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use clap::ValueEnum;
use serde::Serialize;

mod auditd;
mod bpftrace;
mod vigil;

pub use auditd::{recover_audit_state, sentinel, spawn_sentinel, AuditdSession};
pub use bpftrace::BpftraceSession;
pub use vigil::{measure_idle, IdleCost, VigilSession};

use crate::probe::{self, ProbeActions, ProbeOutcome};
use crate::sys::{self, Exit, Managed};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Config {
    /// No agent.
    Baseline,
    /// `vigil run --floor`: the same hooks attached, every program returns at once.
    Floor,
    /// Vigil as shipped: `vigil run` (default rules, kernel-side filtering).
    Vigil,
    /// `vigil run --events`: filters off, every event written as JSON to the bench.
    VigilStream,
    /// auditd with rules equivalent to Vigil's default coverage (bench/peers/vigil-coverage.rules).
    Auditd,
    /// bpftrace printing every exec, open and connect (bench/peers/trace.bt).
    Bpftrace,
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::sys::value_name(self))
    }
}

impl Config {
    pub fn is_vigil(self) -> bool {
        matches!(self, Config::Floor | Config::Vigil | Config::VigilStream)
    }
    /// Configurations that alert on the probe.
    pub fn alerts(self) -> bool {
        matches!(self, Config::Vigil | Config::VigilStream)
    }
}

pub const TRACE_BT: &str = include_str!("../../peers/trace.bt");
pub const AUDIT_RULES: &str = include_str!("../../peers/vigil-coverage.rules");

const SETUP_HINT: &str = "run `scripts/setup.sh --bench` (as root) to install the benchmark's tools";

/// What the bench needs for every run: binaries and files shared by the sessions.
pub struct Ctx {
    pub vigil: PathBuf,
    pub dir: PathBuf,
    pub auditd: Option<(PathBuf, PathBuf)>,
    pub bpftrace: Option<PathBuf>,
    /// `--in-container`: podman's API socket, which vigil is told to ask about containers.
    pub container_socket: Option<PathBuf>,
    /// `--agent-arg`: more `vigil run` arguments (outputs, say).
    pub agent_args: Vec<String>,
}

impl Ctx {
    /// Checks that every configuration's tool is there, before anything runs.
    pub fn new(vigil: PathBuf, dir: PathBuf, configs: &[Config]) -> Result<Self> {
        let mut ctx = Ctx {
            vigil,
            dir,
            auditd: None,
            bpftrace: None,
            container_socket: None,
            agent_args: Vec::new(),
        };
        if configs.iter().any(|c| c.is_vigil()) && !ctx.vigil.exists() {
            bail!(
                "{} not found: build it with `cargo build --release -p vigil`",
                ctx.vigil.display()
            );
        }
        if configs.contains(&Config::Auditd) {
            match (sys::find_program("auditd"), sys::find_program("auditctl")) {
                (Some(d), Some(c)) => ctx.auditd = Some((d, c)),
                _ => bail!("configuration auditd: auditd/auditctl not found (Debian package auditd): {SETUP_HINT}"),
            }
        }
        if configs.contains(&Config::Bpftrace) {
            match sys::find_program("bpftrace") {
                Some(b) => ctx.bpftrace = Some(b),
                None => bail!("configuration bpftrace: bpftrace not found (Debian package bpftrace): {SETUP_HINT}"),
            }
            if !Path::new("/sys/kernel/tracing/events").exists() {
                let _ = Command::new("mount")
                    .args(["-t", "tracefs", "tracefs", "/sys/kernel/tracing"])
                    .status();
            }
            std::fs::write(ctx.dir.join("trace.bt"), TRACE_BT)?;
        }
        Ok(ctx)
    }
}

/// What a configuration cost and lost during one workload run.
#[derive(Debug, Default, Clone, Serialize)]
pub struct AgentCost {
    /// The process measured (vigil, auditd, bpftrace).
    pub process: String,
    /// CPU seconds from ready to exit (startup excluded; the drain after the workload included).
    pub cpu_secs: f64,
    /// CPU seconds of startup (loading programs, compiling the script, ...).
    pub startup_cpu_secs: f64,
    /// Kernel threads working for it (auditd: kauditd), CPU seconds during the run.
    pub kernel_thread_cpu_secs: f64,
    /// Peak resident memory over the process's life (VmHWM, from wait4).
    pub peak_rss_mib: f64,
    /// Events its hooks saw (vigil only).
    pub events_seen: Option<u64>,
    /// Events that reached userspace: vigil: records sent by the kernel; auditd: records
    /// logged; bpftrace: lines printed.
    pub events_delivered: u64,
    /// Events lost: vigil: ring buffer full + hook invocations skipped; auditd: the kernel's
    /// lost counter; bpftrace: its "Lost N events".
    pub events_lost: u64,
    /// vigil: kernel ring buffer drops; hook invocations skipped (recursion).
    pub ringbuf_lost: Option<u64>,
    pub missed: Option<u64>,
    /// vigil: alerts written, and held back by rate limits.
    pub alerts_written: Option<u64>,
    pub alerts_suppressed: Option<u64>,
    /// auditd: time syscalls waited for room in the audit backlog, ms.
    pub backlog_wait_ms: Option<u64>,
    /// Lines and bytes the bench read from its output.
    pub output_lines: u64,
    pub output_bytes: u64,
}

/// One configuration running for one workload run.
pub enum Session {
    None,
    Vigil(VigilSession),
    Auditd(Box<AuditdSession>),
    Bpftrace(BpftraceSession),
}

impl Session {
    pub fn start(ctx: &Ctx, config: Config) -> Result<Self> {
        let s = match config {
            Config::Baseline => Session::None,
            Config::Floor | Config::Vigil | Config::VigilStream => Session::Vigil(VigilSession::start(ctx, config)?),
            Config::Auditd => Session::Auditd(Box::new(AuditdSession::start(ctx)?)),
            Config::Bpftrace => Session::Bpftrace(BpftraceSession::start(ctx)?),
        };
        Ok(s)
    }

    /// The vigil process of a vigil configuration.
    pub fn agent_pid(&self) -> Option<u32> {
        match self {
            Session::Vigil(v) => Some(v.child.pid()),
            _ => None,
        }
    }

    /// An error if the agent or peer is gone.
    pub fn check_alive(&mut self) -> Result<()> {
        let (m, tail) = match self {
            Session::None => return Ok(()),
            Session::Vigil(v) => (&mut v.child, v.stderr.drain()),
            Session::Auditd(a) => match a.daemon.as_mut() {
                Some(d) => (d, Vec::new()),
                None => return Ok(()),
            },
            Session::Bpftrace(b) => (&mut b.child, b.stderr.drain()),
        };
        if let Some(e) = m.exited() {
            bail!(
                "{} (pid {}) died: {}{}",
                m.what,
                m.pid(),
                e.describe(),
                stderr_tail(&tail)
            );
        }
        Ok(())
    }

    /// Stops it and returns its cost, and what became of the probe's actions (for the
    /// configurations that alert).
    pub fn finish(self, actions: &ProbeActions) -> Result<(Option<AgentCost>, Option<ProbeOutcome>)> {
        match self {
            Session::None => Ok((None, None)),
            Session::Vigil(v) => {
                let alerts = v.config.alerts();
                let (cost, stream) = v.finish()?;
                let outcome = alerts.then(|| probe::match_alerts(actions, &stream.probe_alerts));
                Ok((Some(cost), outcome))
            }
            Session::Auditd(a) => Ok((Some(a.finish()?), None)),
            Session::Bpftrace(b) => Ok((Some(b.finish()?), None)),
        }
    }
}

/// Stops a peer after a workload: an error if it died during the workload or did not stop
/// within `grace` of SIGINT; returns how it exited and every line of its stderr.
pub(crate) fn stop_after_workload(
    what: &str,
    child: &mut Managed,
    stderr: &mut Lines,
    grace: Duration,
) -> Result<(Exit, Vec<String>)> {
    if let Some(e) = child.exited() {
        bail!(
            "{what} died during the workload: {}{}",
            e.describe(),
            stderr_tail(&stderr.drain())
        );
    }
    let exit = child.stop(libc::SIGINT, grace);
    if exit.forced {
        bail!(
            "{what} did not stop within {} s of SIGINT and was killed",
            grace.as_secs()
        );
    }
    Ok((exit, stderr.until_closed(Duration::from_secs(5))))
}

pub(crate) fn stderr_tail(lines: &[String]) -> String {
    let tail: Vec<&str> = lines.iter().rev().take(8).rev().map(String::as_str).collect();
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its last stderr lines:\n  {}", tail.join("\n  "))
    }
}

/// A child's stderr, line by line, from a thread (so it never blocks on a full pipe).
pub(crate) struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    pub(crate) fn spawn(r: impl Read + Send + 'static) -> Self {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(r).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Self { rx, seen: Vec::new() }
    }

    /// Lines that arrived since the last call (all of them are kept in `seen`).
    pub(crate) fn poll(&mut self) -> Vec<String> {
        let mut new = Vec::new();
        while let Ok(l) = self.rx.try_recv() {
            new.push(l);
        }
        self.seen.extend(new.iter().cloned());
        new
    }

    /// Everything so far.
    pub(crate) fn drain(&mut self) -> Vec<String> {
        self.poll();
        self.seen.clone()
    }

    /// Everything until the writer closes its end (or `timeout`).
    pub(crate) fn until_closed(&mut self, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.rx.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => break,
            }
        }
        self.seen.clone()
    }
}

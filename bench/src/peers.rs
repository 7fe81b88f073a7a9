//! The configurations under test: Vigil (floor, default, streaming everything), auditd with
//! rules equivalent to Vigil's default coverage, and a bpftrace script printing every
//! exec/open/connect. Each is started before a workload run and stopped after it, and
//! reports what it cost and what it lost.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::Receiver;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};

use crate::probe::{self, ProbeActions, ProbeOutcome, StreamStats};
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

pub const TRACE_BT: &str = include_str!("../peers/trace.bt");
pub const AUDIT_RULES: &str = include_str!("../peers/vigil-coverage.rules");

const SETUP_HINT: &str = "run `scripts/setup.sh --bench` (as root) to install the benchmark's tools";

/// What the bench needs for every run: binaries and files shared by the sessions.
pub struct Ctx {
    pub vigil: PathBuf,
    pub dir: PathBuf,
    pub auditd: Option<(PathBuf, PathBuf)>,
    pub bpftrace: Option<PathBuf>,
}

impl Ctx {
    /// Checks that every configuration's tool is there, before anything runs.
    pub fn new(vigil: PathBuf, dir: PathBuf, configs: &[Config]) -> Result<Self> {
        let mut ctx = Ctx {
            vigil,
            dir,
            auditd: None,
            bpftrace: None,
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

fn stderr_tail(lines: &[String]) -> String {
    let tail: Vec<&str> = lines.iter().rev().take(8).rev().map(String::as_str).collect();
    if tail.is_empty() {
        String::new()
    } else {
        format!("; its last stderr lines:\n  {}", tail.join("\n  "))
    }
}

/// A child's stderr, line by line, from a thread (so it never blocks on a full pipe).
struct Lines {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Lines {
    fn spawn(r: impl Read + Send + 'static) -> Self {
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
    fn poll(&mut self) -> Vec<String> {
        let mut new = Vec::new();
        while let Ok(l) = self.rx.try_recv() {
            new.push(l);
        }
        self.seen.extend(new.iter().cloned());
        new
    }

    /// Everything so far.
    fn drain(&mut self) -> Vec<String> {
        self.poll();
        self.seen.clone()
    }

    /// Everything until the writer closes its end (or `timeout`).
    fn until_closed(&mut self, timeout: Duration) -> Vec<String> {
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

// ------------------------------------------------------------------------------------
// Vigil

pub struct VigilSession {
    config: Config,
    child: Managed,
    stderr: Lines,
    reader: JoinHandle<StreamStats>,
    startup_cpu_secs: f64,
}

impl VigilSession {
    pub fn start(ctx: &Ctx, config: Config) -> Result<Self> {
        let mut cmd = Command::new(&ctx.vigil);
        cmd.args(["run", "--stats-interval", "0", "--stats-file", "none"]);
        match config {
            Config::Floor => {
                cmd.arg("--floor");
            }
            Config::VigilStream => {
                cmd.arg("--events");
            }
            _ => {}
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = Managed::spawn(cmd, &format!("vigil ({config})"), libc::SIGKILL)?;
        let out = child.child.stdout.take().context("agent stdout")?;
        let err = child.child.stderr.take().context("agent stderr")?;
        let reader = probe::spawn_reader(out);
        let mut stderr = Lines::spawn(err);
        let deadline = Instant::now() + Duration::from_secs(120);
        'ready: loop {
            for l in stderr.poll() {
                if l.starts_with("ready") {
                    // "ready: 28/28 hooks attached, ...": a hook missing makes the comparison unfair.
                    let n = l.split_whitespace().nth(1).and_then(|x| x.split_once('/'));
                    if let Some((a, b)) = n.filter(|(a, b)| a != b) {
                        eprintln!("vigil-bench: WARNING: vigil ({config}): only {a} of {b} hooks attached: {l}");
                    }
                    break 'ready;
                }
            }
            if let Some(e) = child.exited() {
                let tail = stderr.until_closed(Duration::from_secs(1));
                bail!(
                    "vigil exited ({}) before it was ready{}",
                    e.describe(),
                    stderr_tail(&tail)
                );
            }
            if Instant::now() > deadline {
                bail!("vigil not ready after 120 s{}", stderr_tail(&stderr.drain()));
            }
            sys::sleep(Duration::from_millis(20))?;
        }
        let startup_cpu_secs = sys::proc_cpu_secs(child.pid());
        Ok(Self {
            config,
            child,
            stderr,
            reader,
            startup_cpu_secs,
        })
    }

    fn finish(mut self) -> Result<(AgentCost, StreamStats)> {
        if let Some(e) = self.child.exited() {
            bail!(
                "vigil died during the workload: {}{}",
                e.describe(),
                stderr_tail(&self.stderr.drain())
            );
        }
        let exit = self.child.stop(libc::SIGINT, Duration::from_secs(60));
        if exit.forced {
            bail!("vigil did not stop within 60 s of SIGINT and was killed");
        }
        let lines = self.stderr.until_closed(Duration::from_secs(5));
        let stream = self
            .reader
            .join()
            .map_err(|_| anyhow::anyhow!("the output reader panicked"))?;
        let Some(summary) = lines.iter().find_map(|l| l.strip_prefix("summary: ")) else {
            bail!(
                "vigil exited ({}) without a summary line{}",
                exit.describe(),
                stderr_tail(&lines)
            );
        };
        let v: serde_json::Value = serde_json::from_str(summary).context("parsing vigil's summary")?;
        let hooks = v["kernel"]["hooks"].as_array().cloned().unwrap_or_default();
        let sum = |k: &str| hooks.iter().map(|h| h[1][k].as_u64().unwrap_or(0)).sum::<u64>();
        let lost = v["lost_total"].as_u64().unwrap_or(0);
        let missed = v["missed_total"].as_u64().unwrap_or(0);
        let cost = AgentCost {
            process: "vigil".into(),
            cpu_secs: exit.cpu_secs - self.startup_cpu_secs,
            startup_cpu_secs: self.startup_cpu_secs,
            peak_rss_mib: exit.maxrss_mib,
            events_seen: Some(sum("seen")),
            events_delivered: sum("sent"),
            events_lost: lost + missed,
            ringbuf_lost: Some(lost),
            missed: Some(missed),
            alerts_written: v["userspace"]["written"]["alerts"].as_u64().or(Some(0)),
            alerts_suppressed: v["userspace"]["alerts_suppressed"].as_u64(),
            output_lines: stream.lines,
            output_bytes: stream.bytes,
            ..Default::default()
        };
        Ok((cost, stream))
    }
}

/// Idle cost: `vigil run` with the default rules on an idle machine.
#[derive(Debug, Clone, Serialize)]
pub struct IdleCost {
    pub secs: f64,
    pub cpu_secs: f64,
    pub cpu_pct: f64,
    pub rss_mib: f64,
    pub peak_rss_mib: f64,
    pub events_delivered: u64,
}

pub fn measure_idle(ctx: &Ctx, settle: Duration, window: Duration) -> Result<IdleCost> {
    let mut v = VigilSession::start(ctx, Config::Vigil)?;
    sys::sleep(settle)?;
    let pid = v.child.pid();
    let c0 = sys::proc_cpu_secs(pid);
    let t0 = Instant::now();
    sys::sleep(window)?;
    let cpu = sys::proc_cpu_secs(pid) - c0;
    let secs = t0.elapsed().as_secs_f64();
    let rss = sys::proc_status_mib(pid, "VmRSS");
    let hwm = sys::proc_status_mib(pid, "VmHWM");
    if let Some(e) = v.child.exited() {
        bail!(
            "vigil died while idle: {}{}",
            e.describe(),
            stderr_tail(&v.stderr.drain())
        );
    }
    let (cost, _) = v.finish()?;
    Ok(IdleCost {
        secs,
        cpu_secs: cpu,
        cpu_pct: cpu / secs * 100.0,
        rss_mib: rss,
        peak_rss_mib: hwm,
        events_delivered: cost.events_delivered,
    })
}

// ------------------------------------------------------------------------------------
// bpftrace

pub struct BpftraceSession {
    child: Managed,
    stderr: Lines,
    reader: JoinHandle<TraceStats>,
    startup_cpu_secs: f64,
}

#[derive(Default)]
struct TraceStats {
    /// Lines after it was seen attached.
    lines: u64,
    bytes: u64,
    lost: u64,
}

fn lost_events(line: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(line).ok()?;
    s.trim()
        .strip_prefix("Lost ")?
        .strip_suffix(" events")?
        .trim()
        .parse()
        .ok()
}

impl BpftraceSession {
    pub fn start(ctx: &Ctx) -> Result<Self> {
        let bin = ctx.bpftrace.as_ref().context("bpftrace")?;
        let mut cmd = Command::new(bin);
        // Line-buffered output: a consumer that needs the events as they happen.
        cmd.args(["-B", "line"]).arg(ctx.dir.join("trace.bt"));
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = Managed::spawn(cmd, "bpftrace", libc::SIGKILL)?;
        let out = child.child.stdout.take().context("bpftrace stdout")?;
        let err = child.child.stderr.take().context("bpftrace stderr")?;
        let mut stderr = Lines::spawn(err);
        // Ready once an exec and an open of marker paths come out: every probe is attached.
        let marker = format!("/vigil-bench-attached-{}", std::process::id());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let m = marker.clone();
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::with_capacity(1 << 20, out);
            let mut st = TraceStats::default();
            let mut line = Vec::with_capacity(4096);
            let (exec_m, open_m) = (format!("exec {m}"), format!("{m}-open"));
            let (mut exec_seen, mut open_seen, mut ready) = (false, false, false);
            loop {
                line.clear();
                match r.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if ready {
                            st.lines += 1;
                            st.bytes += n as u64;
                        }
                    }
                }
                if line.starts_with(b"Lost ") {
                    st.lost += lost_events(&line).unwrap_or(0);
                    continue;
                }
                if !ready {
                    let s = String::from_utf8_lossy(&line);
                    exec_seen |= s.starts_with("exec ") && s.contains(&m) && s.contains(&exec_m[5..]);
                    open_seen |= s.starts_with("open ") && s.contains(&open_m);
                    if exec_seen && open_seen {
                        ready = true;
                        let _ = ready_tx.send(());
                    }
                }
            }
            st
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        let open_path = std::ffi::CString::new(format!("{marker}-open"))?;
        loop {
            // SAFETY: a valid C string; the open fails (no such file), which is the point.
            let fd = unsafe { libc::open(open_path.as_ptr(), libc::O_RDONLY) };
            if fd >= 0 {
                // SAFETY: we own it.
                unsafe { libc::close(fd) };
            }
            let _ = Command::new(&marker)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            if ready_rx.recv_timeout(Duration::from_millis(100)).is_ok() {
                break;
            }
            if let Some(e) = child.exited() {
                let tail = stderr.until_closed(Duration::from_secs(1));
                bail!(
                    "bpftrace exited ({}) before its probes were attached{}",
                    e.describe(),
                    stderr_tail(&tail)
                );
            }
            if Instant::now() > deadline {
                bail!("bpftrace not attached after 120 s{}", stderr_tail(&stderr.drain()));
            }
            sys::check_interrupted()?;
        }
        let startup_cpu_secs = sys::proc_cpu_secs(child.pid());
        Ok(Self {
            child,
            stderr,
            reader,
            startup_cpu_secs,
        })
    }

    fn finish(mut self) -> Result<AgentCost> {
        if let Some(e) = self.child.exited() {
            bail!(
                "bpftrace died during the workload: {}{}",
                e.describe(),
                stderr_tail(&self.stderr.drain())
            );
        }
        let exit = self.child.stop(libc::SIGINT, Duration::from_secs(30));
        if exit.forced {
            bail!("bpftrace did not stop within 30 s of SIGINT and was killed");
        }
        let lines = self.stderr.until_closed(Duration::from_secs(5));
        let st = self
            .reader
            .join()
            .map_err(|_| anyhow::anyhow!("the bpftrace reader panicked"))?;
        let lost_err: u64 = lines.iter().filter_map(|l| lost_events(l.as_bytes())).sum();
        Ok(AgentCost {
            process: "bpftrace".into(),
            cpu_secs: exit.cpu_secs - self.startup_cpu_secs,
            startup_cpu_secs: self.startup_cpu_secs,
            peak_rss_mib: exit.maxrss_mib,
            events_delivered: st.lines,
            events_lost: st.lost + lost_err,
            output_lines: st.lines,
            output_bytes: st.bytes,
            ..Default::default()
        })
    }
}

// ------------------------------------------------------------------------------------
// auditd

/// Where the bench records the audit state it must restore, for as long as it has changed
/// it: read by the sentinel process (and by the next bench run) if this one dies.
pub const AUDIT_STATE_FILE: &str = "/run/vigil-bench-auditd.json";

/// The audit subsystem's settings before the bench touched them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditState {
    pub auditctl: PathBuf,
    pub enabled: i64,
    pub failure: i64,
    pub backlog_limit: i64,
    pub backlog_wait_time: i64,
    pub rate_limit: i64,
    /// `auditctl -l` lines (empty: no rules).
    pub rules: Vec<String>,
    /// The audit daemon the bench started, and its directory.
    pub daemon_pid: Option<u32>,
    pub dir: PathBuf,
}

fn auditctl(bin: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running auditctl {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "auditctl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `auditctl -s` as key → number.
fn audit_status(bin: &Path) -> Result<std::collections::HashMap<String, i64>> {
    let s = auditctl(bin, &["-s"])?;
    Ok(s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect())
}

fn audit_rules(bin: &Path) -> Result<Vec<String>> {
    let s = auditctl(bin, &["-l"])?;
    Ok(s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "No rules")
        .map(str::to_string)
        .collect())
}

impl AuditState {
    fn read(bin: &Path, dir: &Path) -> Result<Self> {
        let st = audit_status(bin)?;
        let get = |k: &str| st.get(k).copied().with_context(|| format!("`auditctl -s` has no {k}"));
        if get("enabled")? == 2 {
            bail!("the audit configuration is locked (enabled 2): the auditd configuration cannot run");
        }
        let pid = get("pid")?;
        if pid != 0 {
            bail!(
                "an audit daemon is already running (pid {pid}); the auditd configuration starts its own: \
                 stop it first (or leave auditd out of --configs)"
            );
        }
        Ok(Self {
            auditctl: bin.to_path_buf(),
            enabled: get("enabled")?,
            failure: get("failure")?,
            backlog_limit: get("backlog_limit")?,
            backlog_wait_time: get("backlog_wait_time")?,
            rate_limit: get("rate_limit")?,
            rules: audit_rules(bin)?,
            daemon_pid: None,
            dir: dir.to_path_buf(),
        })
    }

    fn save(&self) -> Result<()> {
        std::fs::write(AUDIT_STATE_FILE, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {AUDIT_STATE_FILE}"))
    }

    /// Puts everything back: no rules of ours, the old rules and settings, our daemon
    /// stopped (`daemon`, or the recorded pid if it is still that daemon), auditing
    /// enabled only if it was. Returns how the daemon ended if it was ours to reap.
    pub fn restore(&self, daemon: Option<&mut Managed>) -> Result<Option<Exit>> {
        let bin = &self.auditctl;
        let mut errors = Vec::new();
        let mut note = |r: Result<String>| {
            if let Err(e) = r {
                errors.push(format!("{e:#}"));
            }
        };
        note(auditctl(bin, &["-D"]));
        let exit = match daemon {
            Some(d) => Some(d.stop(libc::SIGTERM, Duration::from_secs(15))),
            None => {
                if let Some(pid) = self.daemon_pid {
                    stop_foreign_daemon(pid, &self.dir);
                }
                None
            }
        };
        if !self.rules.is_empty() {
            let f = std::env::temp_dir().join(format!("vigil-bench-restore-{}.rules", std::process::id()));
            let r = std::fs::write(&f, self.rules.join("\n") + "\n")
                .map_err(anyhow::Error::from)
                .and_then(|_| auditctl(bin, &["-R", &f.to_string_lossy()]));
            note(r);
            let _ = std::fs::remove_file(&f);
        }
        note(auditctl(bin, &["-b", &self.backlog_limit.to_string()]));
        note(auditctl(bin, &["-f", &self.failure.to_string()]));
        note(auditctl(bin, &["-r", &self.rate_limit.to_string()]));
        note(auditctl(
            bin,
            &["--backlog_wait_time", &self.backlog_wait_time.to_string()],
        ));
        note(auditctl(bin, &["-e", &self.enabled.to_string()]));
        match audit_status(bin) {
            Ok(st) if st.get("enabled") != Some(&self.enabled) => errors.push(format!(
                "auditing is {:?} after restore, was {}",
                st.get("enabled"),
                self.enabled
            )),
            Err(e) => errors.push(format!("{e:#}")),
            _ => {}
        }
        if errors.is_empty() {
            let _ = std::fs::remove_file(AUDIT_STATE_FILE);
            let _ = std::fs::remove_dir_all(&self.dir);
            Ok(exit)
        } else {
            bail!("restoring the audit state: {}", errors.join("; "))
        }
    }
}

/// Stops an audit daemon the bench started but no longer holds as a child (after a crash):
/// only if the pid still is `auditd` running with our directory.
fn stop_foreign_daemon(pid: u32, dir: &Path) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    if !cmdline.contains("auditd") || !cmdline.contains(&*dir.to_string_lossy()) {
        return;
    }
    // SAFETY: signalling a pid we checked is our daemon.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if Path::new(&format!("/proc/{pid}")).exists() {
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// Restores what a previous bench run left behind if it died while auditd ran.
pub fn recover_audit_state(why: &str) -> Result<()> {
    let Ok(text) = std::fs::read(AUDIT_STATE_FILE) else {
        return Ok(());
    };
    let st: AuditState = serde_json::from_slice(&text).with_context(|| format!("parsing {AUDIT_STATE_FILE}"))?;
    eprintln!("vigil-bench: {why}: restoring the audit state saved in {AUDIT_STATE_FILE}");
    st.restore(None).map(|_| ())
}

/// The sentinel (`vigil-bench audit-sentinel`): a separate process that waits for the
/// bench to end (its stdin, a pipe from the bench, closes however the bench ends, even on
/// SIGKILL) and then restores the audit state if the bench left it changed.
pub fn sentinel() -> Result<()> {
    // SAFETY: ignoring signals is always allowed; Ctrl-C is for the bench, not for us.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut buf = [0u8; 64];
    while std::io::stdin().read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    recover_audit_state("the bench ended without restoring the audit state")
}

pub fn spawn_sentinel() -> Result<std::process::Child> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("audit-sentinel").stdin(Stdio::piped()).stdout(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().context("starting the audit sentinel")
}

pub struct AuditdSession {
    state: AuditState,
    daemon: Option<Managed>,
    restored: bool,
    startup_cpu_secs: f64,
    lost0: i64,
    wait0: i64,
    kauditd: Option<u32>,
    kauditd_cpu0: f64,
}

const AUDITD_CONF_DEFAULT: &str = "local_events = yes\nwrite_logs = yes\nlog_format = ENRICHED\n\
flush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 8\npriority_boost = 4\nname_format = NONE\n\
space_left = 75\nspace_left_action = SYSLOG\nadmin_space_left = 50\nadmin_space_left_action = SUSPEND\n\
disk_full_action = SUSPEND\ndisk_error_action = SUSPEND\nq_depth = 2000\noverflow_action = SYSLOG\n\
max_restarts = 10\nplugin_dir = /etc/audit/plugins.d\nend_of_event_timeout = 2\n";

impl AuditdSession {
    pub fn start(ctx: &Ctx) -> Result<Self> {
        let (auditd, bin) = ctx.auditd.clone().context("auditd")?;
        let dir = ctx.dir.join(format!("auditd-{}", sys::boottime_ns()));
        let state = AuditState::read(&bin, &dir)?;
        state.save()?;
        let mut s = Self {
            state,
            daemon: None,
            restored: false,
            startup_cpu_secs: 0.0,
            lost0: 0,
            wait0: 0,
            kauditd: sys::kernel_thread("kauditd"),
            kauditd_cpu0: 0.0,
        };
        // From here on, dropping `s` restores the audit state.
        std::fs::create_dir_all(&dir)?;
        // The machine's auditd.conf (Debian's defaults), logging into our directory and
        // keeping every log file, so that the records can be counted.
        let base = std::fs::read_to_string("/etc/audit/auditd.conf").unwrap_or_else(|_| AUDITD_CONF_DEFAULT.into());
        let mut conf: String = base
            .lines()
            .filter(|l| {
                let k = l.split('=').next().unwrap_or("").trim();
                !matches!(k, "log_file" | "num_logs" | "max_log_file_action")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        conf.push_str(&format!(
            "log_file = {}\nnum_logs = 99\nmax_log_file_action = ROTATE\n",
            dir.join("audit.log").display()
        ));
        let conf_path = dir.join("auditd.conf");
        std::fs::write(&conf_path, conf)?;
        std::fs::set_permissions(&conf_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let rules = dir.join("vigil-coverage.rules");
        std::fs::write(&rules, AUDIT_RULES)?;

        let mut cmd = Command::new(&auditd);
        cmd.arg("-n").arg("-c").arg(&dir);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut d = Managed::spawn(cmd, "auditd", libc::SIGTERM)?;
        let mut stderr = Lines::spawn(d.child.stderr.take().context("auditd stderr")?);
        s.state.daemon_pid = Some(d.pid());
        let pid = d.pid() as i64;
        s.daemon = Some(d);
        s.state.save()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = audit_status(&bin)?;
            if st.get("pid") == Some(&pid) {
                break;
            }
            if let Some(e) = s.daemon.as_mut().and_then(Managed::exited) {
                let tail = stderr.until_closed(Duration::from_secs(1));
                bail!(
                    "auditd exited ({}) before registering with the kernel{}",
                    e.describe(),
                    stderr_tail(&tail)
                );
            }
            if Instant::now() > deadline {
                bail!("auditd did not register with the kernel within 20 s");
            }
            sys::sleep(Duration::from_millis(20))?;
        }
        auditctl(&bin, &["-R", &rules.to_string_lossy()]).context("loading the audit rules")?;
        let loaded = audit_rules(&bin)?;
        if loaded.len() < 8 {
            bail!("only {} audit rules are loaded after auditctl -R", loaded.len());
        }
        let st = audit_status(&bin)?;
        s.lost0 = st.get("lost").copied().unwrap_or(0);
        s.wait0 = st.get("backlog_wait_time_actual").copied().unwrap_or(0);
        s.startup_cpu_secs = sys::proc_cpu_secs(pid as u32);
        s.kauditd_cpu0 = s.kauditd.map(sys::proc_cpu_secs).unwrap_or(0.0);
        Ok(s)
    }

    fn finish(mut self) -> Result<AgentCost> {
        let bin = self.state.auditctl.clone();
        if let Some(e) = self.daemon.as_mut().and_then(Managed::exited) {
            bail!("auditd died during the workload: {}", e.describe());
        }
        // Let the daemon take what is still queued in the kernel.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut st = audit_status(&bin)?;
        while st.get("backlog").copied().unwrap_or(0) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            st = audit_status(&bin)?;
        }
        let lost = st.get("lost").copied().unwrap_or(0) - self.lost0;
        let waited = st.get("backlog_wait_time_actual").copied().unwrap_or(0) - self.wait0;
        let kcpu = self.kauditd.map(sys::proc_cpu_secs).unwrap_or(0.0) - self.kauditd_cpu0;
        let exit = self
            .daemon
            .as_mut()
            .map(|d| d.stop(libc::SIGTERM, Duration::from_secs(15)));
        let records = count_records(&self.state.dir);
        self.restored = true;
        self.state.restore(None)?;
        let exit = exit.context("auditd")?;
        if exit.forced {
            bail!("auditd did not stop within 15 s of SIGTERM and was killed");
        }
        Ok(AgentCost {
            process: "auditd".into(),
            cpu_secs: exit.cpu_secs - self.startup_cpu_secs,
            startup_cpu_secs: self.startup_cpu_secs,
            kernel_thread_cpu_secs: kcpu,
            peak_rss_mib: exit.maxrss_mib,
            events_delivered: records,
            events_lost: lost.max(0) as u64,
            backlog_wait_ms: Some(waited.max(0) as u64),
            output_lines: records,
            ..Default::default()
        })
    }
}

impl Drop for AuditdSession {
    fn drop(&mut self) {
        if !self.restored {
            if let Err(e) = self.state.restore(self.daemon.as_mut()) {
                eprintln!("vigil-bench: WARNING: {e:#}; state saved in {AUDIT_STATE_FILE}");
            }
        }
    }
}

/// Audit records (lines) in the log files of `dir`.
fn count_records(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit.log"))
        .map(|e| {
            std::fs::read(e.path())
                .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
                .unwrap_or(0)
        })
        .sum()
}

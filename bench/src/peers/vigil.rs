//! Vigil as the configuration under test: floor, default rules, or streaming every event.

use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use super::{stderr_tail, stop_after_workload, AgentCost, Config, Ctx, Lines};
use crate::probe::{self, StreamStats};
use crate::sys::{self, Managed};

pub struct VigilSession {
    pub(super) config: Config,
    pub(super) child: Managed,
    pub(super) stderr: Lines,
    pub(super) reader: JoinHandle<StreamStats>,
    pub(super) startup_cpu_secs: f64,
}

impl VigilSession {
    pub fn start(ctx: &Ctx, config: Config) -> Result<Self> {
        let mut cmd = Command::new(&ctx.vigil);
        cmd.args(["run", "--stats-interval", "0", "--stats-file", "none"]);
        if let Some(sock) = &ctx.container_socket {
            cmd.arg("--container-socket").arg(format!("podman={}", sock.display()));
        }
        cmd.args(&ctx.agent_args);
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

    pub(super) fn finish(mut self) -> Result<(AgentCost, StreamStats)> {
        let (exit, lines) = stop_after_workload("vigil", &mut self.child, &mut self.stderr, Duration::from_secs(60))?;
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

//! bpftrace printing every exec, open and connect: the streaming peer.

use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::{stderr_tail, stop_after_workload, AgentCost, Ctx, Lines};
use crate::sys::{self, Managed};
use std::io::{BufRead, BufReader};

pub struct BpftraceSession {
    pub(super) child: Managed,
    pub(super) stderr: Lines,
    pub(super) reader: JoinHandle<TraceStats>,
    pub(super) startup_cpu_secs: f64,
}

#[derive(Default)]
pub(super) struct TraceStats {
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

    pub(super) fn finish(mut self) -> Result<AgentCost> {
        let (exit, lines) =
            stop_after_workload("bpftrace", &mut self.child, &mut self.stderr, Duration::from_secs(30))?;
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

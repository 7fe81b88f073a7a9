//! Alert latency and alert loss under load: while a workload runs, a probe thread does an
//! attack-shaped action every 200 ms in a new process; a reader thread takes the agent's
//! output and keeps, for each alert of the probe's rule, when the agent decided it and when
//! the bench received it, both against the kernel timestamp of the triggering syscall.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The probe: a shell reading the password hashes, in a new process each time.
pub const PROBE_SCRIPT: &str = "cat /etc/shadow > /dev/null";
/// The built-in rule it triggers (rules/credential_access.yaml).
pub const PROBE_RULE: &str = "Password hash database read";

pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<ProbeActions>,
}

/// What the probe did: the pids of the shells it ran successfully, and how many failed.
#[derive(Debug, Default, Clone)]
pub struct ProbeActions {
    pub pids: Vec<u32>,
    pub failed: u64,
}

impl Probe {
    /// Starts probing every `interval` (the first action right away).
    pub fn start(interval: Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut done = ProbeActions::default();
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let now = Instant::now();
                if now < next {
                    std::thread::sleep((next - now).min(Duration::from_millis(20)));
                    continue;
                }
                next += interval;
                let child = Command::new("sh")
                    .args(["-c", PROBE_SCRIPT])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn();
                match child {
                    Ok(mut c) => {
                        let pid = c.id();
                        match c.wait() {
                            Ok(st) if st.success() => done.pids.push(pid),
                            _ => done.failed += 1,
                        }
                    }
                    Err(_) => done.failed += 1,
                }
            }
            done
        });
        Self { stop, handle }
    }

    pub fn stop(self) -> ProbeActions {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// One alert of the probe's rule, as the reader saw it.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeAlert {
    pub pid: u32,
    pub ppid: u32,
    /// `alert.detected_ktime - evt.ktime`: syscall to decision, in the agent.
    pub detect_ns: u64,
    /// Bench's CLOCK_BOOTTIME when the line arrived `- evt.ktime`: syscall to delivery.
    pub deliver_ns: u64,
}

/// What went through the agent's stdout.
#[derive(Debug, Default, Clone, Serialize)]
pub struct StreamStats {
    pub lines: u64,
    pub bytes: u64,
    pub alerts: u64,
    #[serde(skip)]
    pub probe_alerts: Vec<ProbeAlert>,
}

#[derive(Deserialize)]
struct AlertLine {
    alert: AlertPart,
    evt: EvtPart,
    #[serde(rename = "proc")]
    process: Option<ProcPart>,
}

#[derive(Deserialize)]
struct AlertPart {
    rule: String,
    detected_ktime: u64,
}

#[derive(Deserialize)]
struct EvtPart {
    ktime: u64,
}

#[derive(Deserialize)]
struct ProcPart {
    pid: u32,
    ppid: u32,
}

/// Reads the agent's JSON lines until EOF. Event lines (the `--events` stream) are only
/// counted: a line is parsed only if it starts with the `"alert"` key.
pub fn spawn_reader(out: impl Read + Send + 'static) -> JoinHandle<StreamStats> {
    std::thread::spawn(move || {
        let mut r = BufReader::with_capacity(1 << 20, out);
        let mut st = StreamStats::default();
        let mut line = Vec::with_capacity(1 << 16);
        loop {
            line.clear();
            match r.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    st.lines += 1;
                    st.bytes += n as u64;
                }
            }
            if !line.starts_with(br#"{"alert":"#) {
                continue;
            }
            let now = crate::sys::boottime_ns();
            st.alerts += 1;
            let Ok(a) = serde_json::from_slice::<AlertLine>(&line) else {
                continue;
            };
            if a.alert.rule == PROBE_RULE {
                let p = a.process.unwrap_or(ProcPart { pid: 0, ppid: 0 });
                st.probe_alerts.push(ProbeAlert {
                    pid: p.pid,
                    ppid: p.ppid,
                    detect_ns: a.alert.detected_ktime.saturating_sub(a.evt.ktime),
                    deliver_ns: now.saturating_sub(a.evt.ktime),
                });
            }
        }
        st
    })
}

/// Probe actions that the agent reported, and their latencies (one alert per action: an
/// alert belongs to an action if its process is the probe's shell or a child of it).
#[derive(Debug, Default, Clone, Serialize)]
pub struct ProbeOutcome {
    pub actions: u64,
    pub failed_actions: u64,
    /// Actions with an alert.
    pub alerted: u64,
    /// Actions without one.
    pub lost: u64,
    pub detect_ns: Vec<u64>,
    pub deliver_ns: Vec<u64>,
}

pub fn match_alerts(actions: &ProbeActions, alerts: &[ProbeAlert]) -> ProbeOutcome {
    let mut out = ProbeOutcome {
        actions: actions.pids.len() as u64,
        failed_actions: actions.failed,
        ..Default::default()
    };
    for &pid in &actions.pids {
        if let Some(a) = alerts.iter().find(|a| a.pid == pid || a.ppid == pid) {
            out.alerted += 1;
            out.detect_ns.push(a.detect_ns);
            out.deliver_ns.push(a.deliver_ns);
        }
    }
    out.lost = out.actions - out.alerted;
    out
}

pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    Some(sorted[i.min(sorted.len() - 1)])
}

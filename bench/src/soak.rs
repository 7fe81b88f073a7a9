//! `vigil-bench soak`: the agent under a mixed storm for a long time (1 h for the README
//! figure). Fork/exec, opens, loopback connects, DNS queries to a local responder, a marker
//! alert every round and a rule reload (SIGHUP) every few seconds; every `--sample-secs`
//! the agent's RSS, CPU, output queue, tree size and losses are sampled. The report says
//! whether RSS stayed flat after warm-up, whether every event the kernel saw is accounted
//! for (sent, filtered, deduplicated or counted lost) and whether every alert fired was
//! delivered, to the main stream and to the alerts file.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::sys::{self, Managed};
use crate::workloads::{self, TempDir, Workload};

pub struct Opts {
    pub vigil: PathBuf,
    pub minutes: f64,
    pub sample_secs: u64,
    pub reload_secs: u64,
    pub report: PathBuf,
}

/// The marker rule: a copy of /bin/true named `vigil-soakmark` ran.
const MARKER_RULE: &str = "- rule: Soak marker\n  desc: the soak's marker binary ran\n  \
    condition: evt.type = execve and proc.name = vigil-soakmark\n  output: \"marker %proc.pid\"\n  \
    priority: WARNING\n  rate_limit: none\n";

const DNS_PORT: u16 = 5399;

struct Sample {
    secs: f64,
    rss_mib: f64,
    cpu_pct: f64,
    sent: u64,
    lost: u64,
    tree: u64,
    queue: u64,
    dropped: u64,
}

pub fn run(o: Opts) -> Result<()> {
    let dir = TempDir::new("vigil-soak")?;
    let rules = dir.0.join("marker.yaml");
    std::fs::write(&rules, MARKER_RULE)?;
    let marker = dir.0.join("vigil-soakmark");
    std::fs::copy("/bin/true", &marker)?;
    let output = dir.0.join("stream.jsonl");
    let alerts_file = dir.0.join("alerts.jsonl");
    let stats = dir.0.join("stats.json");
    let stderr = dir.0.join("stderr.log");

    let mut cmd = Command::new(&o.vigil);
    cmd.arg("run")
        .args(["--stats-interval", "0", "--rules"])
        .arg(&rules)
        .arg("--output")
        .arg(&output)
        .arg("--alerts-file")
        .arg(&alerts_file)
        .arg("--stats-file")
        .arg(&stats)
        .args(["--dns-port", "53", "--dns-port", &DNS_PORT.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr)?);
    let mut agent = Managed::spawn(cmd, "vigil (soak)", libc::SIGKILL)?;
    let pid = agent.pid();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(&stderr)?
        .lines()
        .any(|l| l.starts_with("ready"))
    {
        if let Some(e) = agent.exited() {
            bail!("vigil exited ({}): {}", e.describe(), std::fs::read_to_string(&stderr)?);
        }
        if Instant::now() > deadline {
            bail!("vigil not ready after 120 s");
        }
        sys::sleep(Duration::from_millis(50))?;
    }

    let stop = Arc::new(AtomicBool::new(false));
    let markers = Arc::new(AtomicU64::new(0));
    let dns = start_dns_responder(Arc::clone(&stop))?;
    let storm = {
        let (stop, markers, marker) = (Arc::clone(&stop), Arc::clone(&markers), marker.clone());
        std::thread::spawn(move || -> Result<u64> {
            let client = UdpSocket::bind("127.0.0.1:0")?;
            client.set_read_timeout(Some(Duration::from_millis(200)))?;
            // one listener for the whole soak (the bench's connect workload makes one per
            // run, and its accept thread outlives the run)
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let addr = listener.local_addr()?;
            std::thread::spawn(move || {
                for s in listener.incoming() {
                    drop(s);
                }
            });
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                workloads::run(Workload::Open, 20_000, None)?;
                workloads::run(Workload::ForkExec, 100, None)?;
                for _ in 0..300 {
                    let mut s = TcpStream::connect(addr).context("connecting to the soak's listener")?;
                    let _ = s.read(&mut [0u8; 1]);
                }
                for i in 0..50u16 {
                    client.send_to(
                        &dns_query(i, &format!("soak{}.vigil.test", i % 7)),
                        ("127.0.0.1", DNS_PORT),
                    )?;
                    let mut buf = [0u8; 512];
                    let _ = client.recv_from(&mut buf);
                }
                if Command::new(&marker).status()?.success() {
                    markers.fetch_add(1, Ordering::Relaxed);
                }
                rounds += 1;
            }
            Ok(rounds)
        })
    };

    let started = Instant::now();
    let total = Duration::from_secs_f64(o.minutes * 60.0);
    let mut samples = Vec::new();
    let (mut last_cpu, mut last_t) = (sys::proc_cpu_secs(pid), Instant::now());
    let mut last_reload = Instant::now();
    let mut reloads = 0u64;
    let mut next_sample = Instant::now() + Duration::from_secs(o.sample_secs);
    while started.elapsed() < total && !storm.is_finished() {
        if let Some(e) = agent.exited() {
            stop.store(true, Ordering::Relaxed);
            bail!("vigil died during the soak ({}): {}", e.describe(), tail(&stderr));
        }
        if last_reload.elapsed() >= Duration::from_secs(o.reload_secs) {
            agent.signal(libc::SIGHUP);
            reloads += 1;
            last_reload = Instant::now();
        }
        if Instant::now() >= next_sample {
            let s: Value = std::fs::read(&stats)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let cpu = sys::proc_cpu_secs(pid);
            let sample = Sample {
                secs: started.elapsed().as_secs_f64(),
                rss_mib: sys::proc_status_mib(pid, "VmRSS"),
                cpu_pct: 100.0 * (cpu - last_cpu) / last_t.elapsed().as_secs_f64(),
                sent: hook_sum(&s, "sent"),
                lost: s["lost_total"].as_u64().unwrap_or(0),
                tree: s["userspace"]["tree_size"].as_u64().unwrap_or(0),
                queue: s["outputs"][0]["queue_depth"].as_u64().unwrap_or(0),
                dropped: s["outputs"][0]["dropped"].as_u64().unwrap_or(0)
                    + s["userspace"]["main_output"]["dropped"].as_u64().unwrap_or(0),
            };
            eprintln!(
                "soak: {:6.0} s  rss {:6.1} MiB  cpu {:5.1} %  sent {:>10}  lost {:>6}  tree {:>5}  queue {:>3}",
                sample.secs, sample.rss_mib, sample.cpu_pct, sample.sent, sample.lost, sample.tree, sample.queue
            );
            samples.push(sample);
            (last_cpu, last_t) = (cpu, Instant::now());
            next_sample += Duration::from_secs(o.sample_secs);
        }
        sys::sleep(Duration::from_millis(100))?;
    }
    stop.store(true, Ordering::Relaxed);
    let rounds = storm.join().map_err(|_| anyhow::anyhow!("the storm thread panicked"))?;
    let _ = dns.join();
    // let the agent drain what the last round produced
    sys::sleep(Duration::from_secs(2))?;
    let exit = agent.stop(libc::SIGINT, Duration::from_secs(60));
    let rounds = rounds.with_context(|| format!("the storm failed after {:.0} s", started.elapsed().as_secs_f64()))?;
    let err = std::fs::read_to_string(&stderr)?;
    let summary: Value = err
        .lines()
        .find_map(|l| l.strip_prefix("summary: "))
        .context("no summary line from vigil")
        .and_then(|s| serde_json::from_str(s).context("summary JSON"))?;

    let fired = markers.load(Ordering::Relaxed);
    let in_stream = count_marker_alerts(&output)?;
    let in_file = count_marker_alerts(&alerts_file)?;
    let unaccounted: i128 = summary["kernel"]["hooks"]
        .as_array()
        .map(|hs| {
            hs.iter()
                .map(|h| {
                    let n = |k: &str| i128::from(h[1][k].as_u64().unwrap_or(0));
                    n("seen") - n("sent") - n("filtered") - n("deduped") - n("lost")
                })
                .sum()
        })
        .unwrap_or(-1);
    let decoded = summary["userspace"]["decode"]["decoded"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
        .unwrap_or(0);
    let malformed = summary["userspace"]["decode"]["malformed"]
        .as_object()
        .map(|m| m.values().filter_map(Value::as_u64).sum::<u64>())
        .unwrap_or(0);
    let report = render(
        &o,
        &samples,
        rounds,
        reloads,
        fired,
        in_stream,
        in_file,
        unaccounted,
        &summary,
        decoded,
        malformed,
        exit.success(),
    );
    if let Some(parent) = o.report.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::File::create(&o.report)?.write_all(report.as_bytes())?;
    println!("{report}");
    eprintln!("soak: report written to {}", o.report.display());
    Ok(())
}

fn tail(p: &Path) -> String {
    let s = std::fs::read_to_string(p).unwrap_or_default();
    s.lines().rev().take(5).collect::<Vec<_>>().join("\n")
}

fn hook_sum(s: &Value, key: &str) -> u64 {
    s["kernel"]["hooks"]
        .as_array()
        .map(|hs| hs.iter().map(|h| h[1][key].as_u64().unwrap_or(0)).sum())
        .unwrap_or(0)
}

fn count_marker_alerts(p: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["alert"]["rule"] == "Soak marker")
        .count() as u64)
}

#[allow(clippy::too_many_arguments)]
fn render(
    o: &Opts,
    samples: &[Sample],
    rounds: u64,
    reloads: u64,
    fired: u64,
    in_stream: u64,
    in_file: u64,
    unaccounted: i128,
    summary: &Value,
    decoded: u64,
    malformed: u64,
    clean_exit: bool,
) -> String {
    let mut r = format!(
        "# Soak: {:.0} min, {} storm rounds, {} reloads\n\n",
        o.minutes, rounds, reloads
    );
    // warm-up: the first tenth of the run (at least one sample) is not judged
    let warm = (samples.len() / 10).max(1).min(samples.len());
    let judged = &samples[warm.min(samples.len())..];
    let first = judged.first().map_or(0.0, |s| s.rss_mib);
    let last = judged.last().map_or(0.0, |s| s.rss_mib);
    let max = judged.iter().map(|s| s.rss_mib).fold(0.0, f64::max);
    let cpu: Vec<f64> = samples.iter().map(|s| s.cpu_pct).collect();
    let cpu_mean = cpu.iter().sum::<f64>() / cpu.len().max(1) as f64;
    let sent = hook_sum(summary, "sent");
    let seen = hook_sum(summary, "seen");
    let lost = summary["lost_total"].as_u64().unwrap_or(0);
    r += "| figure | value |\n|---|---|\n";
    r += &format!("| RSS after warm-up, first / last / max | {first:.1} / {last:.1} / {max:.1} MiB |\n");
    r += &format!("| RSS growth after warm-up | {:+.1} MiB |\n", last - first);
    r += &format!("| agent CPU, mean of samples | {cpu_mean:.1} % of one core |\n");
    r += &format!("| events seen by the hooks / sent / lost | {seen} / {sent} / {lost} |\n");
    r += &format!("| events not accounted for (seen - sent - filtered - deduplicated - lost) | {unaccounted} |\n");
    r += &format!("| records decoded / malformed | {decoded} / {malformed} |\n");
    r += &format!("| marker alerts fired / in the stream / in the alerts file | {fired} / {in_stream} / {in_file} |\n");
    r += &format!(
        "| output drops (alerts file + main stream) | {} |\n",
        summary["outputs"][0]["dropped"].as_u64().unwrap_or(0)
            + summary["userspace"]["main_output"]["dropped"].as_u64().unwrap_or(0)
    );
    r += &format!("| clean exit | {clean_exit} |\n\n");
    r += &format!("Samples every {} s:\n\n", o.sample_secs);
    r += "| s | RSS MiB | CPU % | sent | lost | tree | queue | dropped |\n|---|---|---|---|---|---|---|---|\n";
    for s in samples {
        r += &format!(
            "| {:.0} | {:.1} | {:.1} | {} | {} | {} | {} | {} |\n",
            s.secs, s.rss_mib, s.cpu_pct, s.sent, s.lost, s.tree, s.queue, s.dropped
        );
    }
    r
}

/// A DNS query for `name`, type A (RFC 1035 framing).
fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    q
}

/// Answers every query with the question and one A record, 127.0.0.9, TTL 60.
fn start_dns_responder(stop: Arc<AtomicBool>) -> Result<std::thread::JoinHandle<()>> {
    let sock = UdpSocket::bind(("127.0.0.1", DNS_PORT)).with_context(|| format!("binding 127.0.0.1:{DNS_PORT}"))?;
    sock.set_read_timeout(Some(Duration::from_millis(200)))?;
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while !stop.load(Ordering::Relaxed) {
            let Ok((n, peer)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            let mut a = buf[..n].to_vec();
            a[2] = 0x81;
            a[3] = 0x80;
            a[6] = 0;
            a[7] = 1;
            a.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 9]);
            let _ = sock.send_to(&a, peer);
        }
    }))
}

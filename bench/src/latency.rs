//! Detection latency: from the kernel timestamp of the triggering syscall (`evt.ktime`)
//! to the moment the agent decided the alert (`alert.detected_ktime`, the same clock),
//! over repeated runs of attack-shaped actions under the built-in rules.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Actions that the built-in rules alert on, each run as a shell snippet.
const SCENARIOS: &[(&str, &str)] = &[
    (
        "reverse shell (bash /dev/tcp)",
        "python3 -c \"import socket,subprocess;l=socket.socket();l.bind(('127.0.0.1',0));l.listen();p=l.getsockname()[1];subprocess.Popen(['bash','-c','exec 3<>/dev/tcp/127.0.0.1/%d; exec 0<&3 1>&3; exec sh -c true' % p]).wait();\"",
    ),
    ("read /etc/shadow", "sh -c 'cat /etc/shadow > /dev/null'"),
    ("drop and execute in /tmp", "cp /bin/true /tmp/vigil-bench-dropped && /tmp/vigil-bench-dropped; rm -f /tmp/vigil-bench-dropped"),
    (
        "append to authorized_keys",
        "d=$(mktemp -d) && mkdir $d/.ssh && echo 'ssh-ed25519 AAAAC3Nza bench' >> $d/.ssh/authorized_keys; rm -rf $d",
    ),
];

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `agent_args`: more `vigil run` arguments (e.g. `--poll-ms 1`).
pub fn run(vigil: &Path, rounds: usize, agent_args: &[String]) -> Result<()> {
    let out = std::env::temp_dir().join(format!("vigil-latency-{}.jsonl", std::process::id()));
    let _ = std::fs::remove_file(&out);
    let mut child = Command::new(vigil)
        .args(["run", "--stats-interval", "0"])
        .args(agent_args)
        .arg("-o")
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", vigil.display()))?;
    let err = child.stderr.take().context("stderr")?;
    let mut lines = BufReader::new(err).lines();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match lines.next() {
            Some(Ok(l)) if l.starts_with("ready") => break,
            Some(Ok(_)) => {}
            _ => bail!("vigil did not become ready (run as root)"),
        }
        if Instant::now() > deadline {
            bail!("vigil not ready after 60 s");
        }
    }
    std::thread::spawn(move || for _ in lines {});
    for _ in 0..rounds {
        for (_, script) in SCENARIOS {
            Command::new("sh")
                .args(["-c", script])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill with a pid we own.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    child.wait()?;

    let text = std::fs::read_to_string(&out).context("reading alerts")?;
    let mut by_rule: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    let mut all = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let (Some(det), Some(evt)) = (v["alert"]["detected_ktime"].as_u64(), v["evt"]["ktime"].as_u64()) else {
            continue;
        };
        let lat = det.saturating_sub(evt);
        all.push(lat);
        by_rule
            .entry(v["alert"]["rule"].as_str().unwrap_or("?").to_string())
            .or_default()
            .push(lat);
    }
    let _ = std::fs::remove_file(&out);
    if all.is_empty() {
        bail!("no alerts: the built-in rules did not fire on the scenarios");
    }
    all.sort_unstable();
    println!("## Detection latency (syscall to alert decision), {rounds} rounds of each scenario\n");
    println!("| rule | alerts | p50 | p99 | max |");
    println!("|---|---|---|---|---|");
    let ms = |ns: u64| format!("{:.2} ms", ns as f64 / 1e6);
    for (rule, mut v) in by_rule {
        v.sort_unstable();
        println!(
            "| {rule} | {} | {} | {} | {} |",
            v.len(),
            ms(percentile(&v, 0.5)),
            ms(percentile(&v, 0.99)),
            ms(*v.last().unwrap_or(&0))
        );
    }
    println!(
        "| **all** | {} | {} | {} | {} |",
        all.len(),
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        ms(*all.last().unwrap_or(&0))
    );
    Ok(())
}

//! Overhead benchmark.
//!
//! Runs each workload under each configuration (no agent, Vigil as shipped, Vigil
//! streaming every event, ...), several times, interleaved so that drift of the machine
//! hits every configuration alike, and reports throughput ratios against the no-agent
//! baseline measured in the same run, plus what the agent cost and lost.
//!
//!     cargo run --release -p vigil-bench -- run            (as root)

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

mod latency;
mod rules_bench;
use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

#[derive(Parser)]
#[command(about = "Vigil overhead benchmark")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the benchmark and print a markdown table.
    Run {
        /// Repetitions of every (configuration, workload) pair; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, value_delimiter = ',', default_values_t = [Config::Baseline, Config::Vigil, Config::VigilStream])]
        configs: Vec<Config>,
        #[arg(long, value_delimiter = ',', default_values_t = [Workload::Open, Workload::ForkExec])]
        workloads: Vec<Workload>,
        /// The vigil binary (default: target/release/vigil next to this one).
        #[arg(long)]
        vigil: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long, default_value = "bench/results/latest.json")]
        json: PathBuf,
        /// Scale the workloads' iteration counts (1.0 = default).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
    },
    /// Rule evaluation throughput on one core (no root needed).
    Rules {
        /// Synthetic events to push through.
        #[arg(long, default_value_t = 300_000)]
        events: usize,
        /// Also measure Falco's upstream rule files from this directory.
        #[arg(long, default_value = "../shared/falco-rules")]
        falco_rules: String,
    },
    /// Detection latency over attack-shaped scenarios, with the built-in rules (as root).
    Latency {
        /// Repetitions of each scenario.
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        /// The vigil binary (default: target/release/vigil next to this one).
        #[arg(long)]
        vigil: Option<PathBuf>,
    },
    /// (internal) Run one workload and print its throughput.
    Workload { workload: Workload, iterations: u64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Config {
    /// No agent.
    Baseline,
    /// Vigil as shipped: `vigil run`.
    Vigil,
    /// Vigil writing every event as JSON (to /dev/null): what shipping everything costs.
    VigilStream,
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            self.to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
                .as_str(),
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Workload {
    /// open/read/close of a file in a loop.
    Open,
    /// fork + exec of /bin/true in a loop.
    ForkExec,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            self.to_possible_value()
                .map(|v| v.get_name().to_string())
                .unwrap_or_default()
                .as_str(),
        )
    }
}

impl Workload {
    fn iterations(self) -> u64 {
        match self {
            Workload::Open => 400_000,
            Workload::ForkExec => 4_000,
        }
    }
    fn unit(self) -> &'static str {
        match self {
            Workload::Open => "opens/s",
            Workload::ForkExec => "execs/s",
        }
    }
}

/// The workloads themselves, run in a child process of the benchmark.
fn run_workload(w: Workload, n: u64) -> Result<f64> {
    let start = Instant::now();
    match w {
        Workload::Open => {
            let path = c"/etc/hostname";
            let mut buf = [0u8; 64];
            for _ in 0..n {
                // SAFETY: a valid path and buffer; the fd is closed at once.
                unsafe {
                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                    if fd < 0 {
                        bail!("open failed");
                    }
                    libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
                    libc::close(fd);
                }
            }
        }
        Workload::ForkExec => {
            for _ in 0..n {
                let st = Command::new("/bin/true").status()?;
                if !st.success() {
                    bail!("/bin/true failed");
                }
            }
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

struct AgentRun {
    child: Child,
    stderr: std::sync::mpsc::Receiver<String>,
    /// CPU the agent had used when it became ready (loading and verifying the programs).
    startup_cpu_secs: f64,
}

fn start_agent(vigil: &Path, config: Config) -> Result<Option<AgentRun>> {
    let mut cmd = Command::new(vigil);
    cmd.args(["run", "--stats-interval", "0", "--output", "/dev/null"]);
    match config {
        Config::Baseline => return Ok(None),
        Config::Vigil => {}
        Config::VigilStream => {
            cmd.arg("--events");
        }
    }
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", vigil.display()))?;
    let err = child.stderr.take().context("stderr")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(l) if l.starts_with("ready") => break,
            Ok(_) => {}
            Err(_) => {
                if let Some(st) = child.try_wait()? {
                    bail!("vigil exited ({st}) before ready; run as root");
                }
                if Instant::now() > deadline {
                    bail!("vigil not ready after 60 s");
                }
            }
        }
    }
    let startup_cpu_secs = proc_cpu_secs(child.id());
    Ok(Some(AgentRun {
        child,
        stderr: rx,
        startup_cpu_secs,
    }))
}

#[derive(Debug, Default, Clone, Serialize)]
struct AgentCost {
    cpu_secs: f64,
    peak_rss_mib: f64,
    events_sent: u64,
    events_lost: u64,
}

fn proc_cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

fn proc_peak_rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn stop_agent(run: AgentRun) -> Result<AgentCost> {
    let pid = run.child.id();
    let mut cost = AgentCost {
        cpu_secs: proc_cpu_secs(pid) - run.startup_cpu_secs,
        peak_rss_mib: proc_peak_rss_mib(pid),
        ..Default::default()
    };
    // SAFETY: kill with a pid we own.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
    let mut child = run.child;
    child.wait()?;
    while let Ok(l) = run.stderr.recv_timeout(Duration::from_secs(2)) {
        if let Some(s) = l.strip_prefix("summary: ") {
            let v: serde_json::Value = serde_json::from_str(s)?;
            let hooks = v["kernel"]["hooks"].as_array().cloned().unwrap_or_default();
            cost.events_sent = hooks.iter().map(|h| h[1]["sent"].as_u64().unwrap_or(0)).sum();
            cost.events_lost = v["lost_total"].as_u64().unwrap_or(0);
            break;
        }
    }
    Ok(cost)
}

#[derive(Debug, Clone, Serialize)]
struct Sample {
    config: Config,
    workload: Workload,
    throughput: f64,
    agent: Option<AgentCost>,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn run_bench(
    runs: usize,
    configs: &[Config],
    workloads: &[Workload],
    vigil: &Path,
    json: &Path,
    scale: f64,
) -> Result<()> {
    let me = std::env::current_exe()?;
    let mut samples = Vec::new();
    for run in 0..runs {
        for &config in configs {
            for &w in workloads {
                let agent = start_agent(vigil, config)?;
                let n = ((w.iterations() as f64) * scale).max(1.0) as u64;
                let out = Command::new(&me)
                    .args(["workload", &w.to_string(), &n.to_string()])
                    .output()?;
                if !out.status.success() {
                    bail!("workload {w} failed: {}", String::from_utf8_lossy(&out.stderr));
                }
                let throughput: f64 = String::from_utf8_lossy(&out.stdout)
                    .trim()
                    .parse()
                    .context("workload output")?;
                let agent = match agent {
                    Some(a) => Some(stop_agent(a)?),
                    None => None,
                };
                eprintln!(
                    "run {}/{runs} {config:>13} {w:>9}: {throughput:>10.0} {}",
                    run + 1,
                    w.unit()
                );
                samples.push(Sample {
                    config,
                    workload: w,
                    throughput,
                    agent,
                });
            }
        }
    }

    let med = |c: Config, w: Workload| {
        median(
            samples
                .iter()
                .filter(|s| s.config == c && s.workload == w)
                .map(|s| s.throughput)
                .collect(),
        )
    };
    let cost = |c: Config, w: Workload, f: &dyn Fn(&AgentCost) -> f64| {
        median(
            samples
                .iter()
                .filter(|s| s.config == c && s.workload == w)
                .filter_map(|s| s.agent.as_ref().map(f))
                .collect(),
        )
    };
    println!("## Throughput with the agent / without (median of {runs} runs, same session)\n");
    print!("| workload | baseline |");
    for c in configs.iter().filter(|c| **c != Config::Baseline) {
        print!(" {c} |");
    }
    println!();
    print!("|---|---|");
    for _ in configs.iter().filter(|c| **c != Config::Baseline) {
        print!("---|");
    }
    println!();
    let mut table = Vec::new();
    for &w in workloads {
        let base = med(Config::Baseline, w);
        print!("| {w} | {base:.0} {} |", w.unit());
        for &c in configs.iter().filter(|c| **c != Config::Baseline) {
            let r = med(c, w) / base;
            print!(" {r:.3} |");
            table.push(
                serde_json::json!({"workload": w, "config": c, "ratio": r, "throughput": med(c, w), "baseline": base}),
            );
        }
        println!();
    }
    println!("\n## What the agent cost (median per workload run)\n");
    println!("| config | workload | events sent | events lost | agent CPU s (after ready) | peak RSS MiB |");
    println!("|---|---|---|---|---|---|");
    for &c in configs.iter().filter(|c| **c != Config::Baseline) {
        for &w in workloads {
            println!(
                "| {c} | {w} | {:.0} | {:.0} | {:.2} | {:.1} |",
                cost(c, w, &|a| a.events_sent as f64),
                cost(c, w, &|a| a.events_lost as f64),
                cost(c, w, &|a| a.cpu_secs),
                cost(c, w, &|a| a.peak_rss_mib)
            );
        }
    }
    if let Some(dir) = json.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(
        json,
        serde_json::to_string_pretty(&serde_json::json!({"summary": table, "samples": samples}))?,
    )?;
    eprintln!("\nresults written to {}", json.display());
    Ok(())
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Rules { events, falco_rules } => rules_bench::run(events, Some(&falco_rules)),
        Cmd::Latency { rounds, vigil } => {
            let vigil = match vigil {
                Some(v) => v,
                None => std::env::current_exe()?.with_file_name("vigil"),
            };
            latency::run(&vigil, rounds)
        }
        Cmd::Workload { workload, iterations } => {
            println!("{}", run_workload(workload, iterations)?);
            Ok(())
        }
        Cmd::Run {
            runs,
            configs,
            workloads,
            vigil,
            json,
            scale,
        } => {
            let vigil = match vigil {
                Some(v) => v,
                None => std::env::current_exe()?.with_file_name("vigil"),
            };
            if !vigil.exists() {
                bail!(
                    "{} not found: build it with `cargo build --release -p vigil`",
                    vigil.display()
                );
            }
            if !configs.contains(&Config::Baseline) {
                bail!("the baseline configuration is needed for ratios");
            }
            run_bench(runs, &configs, &workloads, &vigil, &json, scale)
        }
    }
}

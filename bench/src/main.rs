//! Overhead benchmark.
//!
//! Runs each workload under each configuration (no agent, the floor of empty eBPF programs,
//! Vigil as shipped, Vigil streaming every event, auditd, bpftrace), several times,
//! interleaved so that drift of the machine hits every configuration alike, and reports
//! throughput ratios against the no-agent baseline measured in the same run, plus what each
//! agent cost and lost, and the alert latency under load.
//!
//!     bench/run.sh            (as root: installs the peers, builds, runs `vigil-bench run`)

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::{Parser, Subcommand};

mod hookstats;
mod latency;
mod outputs_bench;
mod overhead;
mod peers;
mod probe;
mod rules_bench;
mod soak;
mod sys;
mod workloads;

use peers::Config;
use workloads::Workload;

#[derive(Parser)]
#[command(about = "Vigil overhead benchmark")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the overhead benchmark (as root): markdown tables on stdout, JSON and a PNG chart.
    Run {
        /// Repetitions of every (configuration, workload) pair; the median is reported.
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, value_delimiter = ',', default_values_t = [Config::Baseline, Config::Floor, Config::Vigil,
            Config::VigilStream, Config::Auditd, Config::Bpftrace])]
        configs: Vec<Config>,
        #[arg(long, value_delimiter = ',', default_values_t = [Workload::Open, Workload::OpenMany,
            Workload::OpenMissing, Workload::ReadWrite, Workload::ForkExec, Workload::Connect, Workload::Make])]
        workloads: Vec<Workload>,
        /// The vigil binary (default: target/release/vigil next to this one).
        #[arg(long)]
        vigil: Option<PathBuf>,
        /// Write the results as JSON here (and the chart next to it, as .png).
        #[arg(long, default_value = "bench/results/latest.json")]
        json: PathBuf,
        /// Scale the workloads' iteration counts (1.0 = default, about 4 s per run at baseline).
        #[arg(long, default_value_t = 1.0)]
        scale: f64,
        /// Seconds of idle measurement of `vigil run` (0: skip).
        #[arg(long, default_value_t = 10.0)]
        idle_secs: f64,
        /// Milliseconds between two probe actions (attack-shaped, for alert latency and loss).
        #[arg(long, default_value_t = 200)]
        probe_ms: u64,
        /// Do not render the PNG chart.
        #[arg(long)]
        no_chart: bool,
        /// Skip the per-hook kernel time table (one more vigil run per workload, bpf_stats on).
        #[arg(long)]
        no_hook_stats: bool,
        /// Run the workloads inside a podman container (the host's root under an overlay),
        /// vigil asking podman's API about it.
        #[arg(long)]
        in_container: bool,
        /// One more `vigil run` argument for the vigil configurations (repeatable), e.g.
        /// `--agent-arg=--syslog=udp://127.0.0.1:514` to measure outputs.
        #[arg(long = "agent-arg", allow_hyphen_values = true)]
        agent_args: Vec<String>,
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
    /// Alert throughput of each output, and of all at once, against local receivers.
    Outputs {
        /// Alerts pushed through each output.
        #[arg(long, default_value_t = 20_000)]
        alerts: usize,
    },
    /// Detection latency over attack-shaped scenarios, with the built-in rules (as root).
    Latency {
        /// Repetitions of each scenario.
        #[arg(long, default_value_t = 30)]
        rounds: usize,
        /// The vigil binary (default: target/release/vigil next to this one).
        #[arg(long)]
        vigil: Option<PathBuf>,
        /// One more `vigil run` argument (repeatable), e.g. `--agent-arg=--poll-ms --agent-arg=1`.
        #[arg(long = "agent-arg", allow_hyphen_values = true)]
        agent_args: Vec<String>,
    },
    /// Soak (as root): a mixed storm with rule reloads for a long time, RSS, CPU, queues and
    /// loss sampled; a markdown report of whether memory stayed flat and nothing went missing.
    Soak {
        /// Length of the soak, minutes (the README figure: 60).
        #[arg(long, default_value_t = 60.0)]
        minutes: f64,
        /// Seconds between samples.
        #[arg(long, default_value_t = 10)]
        sample_secs: u64,
        /// Seconds between rule reloads (SIGHUP).
        #[arg(long, default_value_t = 5)]
        reload_secs: u64,
        /// The vigil binary (default: target/release/vigil next to this one).
        #[arg(long)]
        vigil: Option<PathBuf>,
        /// Where the markdown report goes.
        #[arg(long, default_value = "bench/results/soak.md")]
        report: PathBuf,
    },
    /// (internal) Run one workload and print its throughput.
    Workload {
        workload: Workload,
        iterations: u64,
        /// The generated C project (make) or file tree (open-many, open-missing).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// (internal) Restore the audit state when the bench that started it ends.
    #[command(hide = true)]
    AuditSentinel,
}

fn main() -> Result<()> {
    let r = real_main();
    if let Err(e) = &r {
        if sys::interrupted() && e.chain().any(|c| c.to_string() == "interrupted") {
            eprintln!("vigil-bench: interrupted ({e:#}); agents stopped, audit state restored");
            std::process::exit(130);
        }
    }
    r
}

fn real_main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Rules { events, falco_rules } => rules_bench::run(events, Some(&falco_rules)),
        Cmd::Outputs { alerts } => outputs_bench::run(alerts),
        Cmd::Soak {
            minutes,
            sample_secs,
            reload_secs,
            vigil,
            report,
        } => soak::run(soak::Opts {
            vigil: match vigil {
                Some(v) => v,
                None => std::env::current_exe()?.with_file_name("vigil"),
            },
            minutes,
            sample_secs: sample_secs.max(1),
            reload_secs: reload_secs.max(1),
            report,
        }),
        Cmd::Latency {
            rounds,
            vigil,
            agent_args,
        } => {
            let vigil = match vigil {
                Some(v) => v,
                None => std::env::current_exe()?.with_file_name("vigil"),
            };
            latency::run(&vigil, rounds, &agent_args)
        }
        Cmd::Workload {
            workload,
            iterations,
            dir,
        } => {
            println!("{}", workloads::run(workload, iterations, dir.as_deref())?);
            Ok(())
        }
        Cmd::AuditSentinel => peers::sentinel(),
        Cmd::Run {
            runs,
            configs,
            workloads,
            vigil,
            json,
            scale,
            idle_secs,
            probe_ms,
            no_chart,
            no_hook_stats,
            in_container,
            agent_args,
        } => {
            let vigil = match vigil {
                Some(v) => v,
                None => std::env::current_exe()?.with_file_name("vigil"),
            };
            if !configs.contains(&Config::Baseline) {
                bail!("the baseline configuration is needed for ratios");
            }
            if runs == 0 || workloads.is_empty() {
                bail!("nothing to run");
            }
            let mut configs_dedup = Vec::new();
            for c in configs {
                if !configs_dedup.contains(&c) {
                    configs_dedup.push(c);
                }
            }
            overhead::run(overhead::Opts {
                runs,
                configs: configs_dedup,
                workloads,
                vigil,
                json,
                scale,
                idle_secs,
                probe_interval: std::time::Duration::from_millis(probe_ms.max(10)),
                chart: !no_chart,
                hook_stats: !no_hook_stats,
                in_container,
                agent_args,
            })
        }
    }
}

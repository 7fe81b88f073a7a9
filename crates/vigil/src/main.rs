use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::{Parser, Subcommand};
use vigil::agent::{self, RunOptions};
use vigil_proctree::TreeConfig;
use vigil_sensor::SensorConfig;

/// Vigil watches what processes on this host do, from eBPF hooks in the kernel,
/// and reports intrusions as JSON alerts within milliseconds.
#[derive(Parser)]
#[command(name = "vigil", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level for diagnostics on stderr (error, warn, info, debug, trace).
    #[arg(long, global = true, default_value = "warn", env = "VIGIL_LOG")]
    log: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the agent: attach the hooks and write JSON lines (needs root).
    Run(RunArgs),
    /// Check what this kernel supports and which hooks attach (needs root for the last part).
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the pipeline over a recording made with `vigil run --record` (no root needed).
    Replay {
        /// The recording.
        file: PathBuf,
        /// Write every event, not only alerts.
        #[arg(long)]
        events: bool,
        /// Write JSON lines to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Write JSON lines to this file (appending) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write every event, not only alerts.
    #[arg(long)]
    events: bool,
    /// Also record the raw event stream to this file, for `vigil replay`.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Seconds between statistics lines on stderr (0: none).
    #[arg(long, default_value_t = 10)]
    stats_interval: u64,
    /// Milliseconds the reader waits for records before looking anyway (bounds latency).
    #[arg(long, default_value_t = 4)]
    poll_ms: u64,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Size of the ring buffer for file and network events, MiB (power of two).
    #[arg(long, default_value_t = 16)]
    ringbuf_mb: u32,
    /// Size of the ring buffer for process lifecycle events, MiB (power of two).
    #[arg(long, default_value_t = 4)]
    proc_ringbuf_mb: u32,
    /// Entries of the in-kernel process table.
    #[arg(long, default_value_t = 16384)]
    proc_table_size: u32,
    /// Seconds an exited process stays in the process tree (for late events and ancestry).
    #[arg(long, default_value_t = 5.0)]
    exit_grace: f64,
    /// UDP port carrying DNS, parsed in the kernel (repeatable, up to 4; default 53).
    #[arg(long = "dns-port", value_name = "PORT")]
    dns_ports: Vec<u16>,
    /// Seconds between updates of a long-lived flow's byte counts.
    #[arg(long, default_value_t = 30)]
    flow_update_secs: u64,
    /// Seconds of silence after which a UDP flow is reported ended.
    #[arg(long, default_value_t = 60)]
    udp_idle_secs: u64,
    /// Do not load this BPF program (repeatable; see `vigil doctor` for names).
    #[arg(long = "disable-program", value_name = "PROGRAM")]
    disable_programs: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match dispatch(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("vigil: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn one_line(e: &anyhow::Error) -> String {
    e.chain()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(": ")
        .replace('\n', " ")
}

fn dispatch(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Run(a) => {
            let opts = RunOptions {
                output: a.output,
                emit_events: a.events,
                record: a.record,
                stats_interval: Duration::from_secs(a.stats_interval),
                poll_interval: Duration::from_millis(a.poll_ms.max(1)),
                duration: a.duration.map(Duration::from_secs_f64),
                sensor: SensorConfig {
                    ringbuf_proc_bytes: a.proc_ringbuf_mb.saturating_mul(1 << 20),
                    ringbuf_events_bytes: a.ringbuf_mb.saturating_mul(1 << 20),
                    proc_table_entries: a.proc_table_size,
                    agent_tgid: std::process::id(),
                    disabled_programs: a.disable_programs.into_iter().collect::<BTreeSet<_>>(),
                    dns_ports: if a.dns_ports.is_empty() {
                        vec![53]
                    } else {
                        a.dns_ports.into_iter().take(4).collect()
                    },
                    flow_update_ns: a.flow_update_secs.max(1) * 1_000_000_000,
                    udp_idle_ns: a.udp_idle_secs.max(1) * 1_000_000_000,
                    ..SensorConfig::default()
                },
                tree: TreeConfig {
                    grace_ns: (a.exit_grace * 1e9) as u64,
                    ..TreeConfig::default()
                },
            };
            agent::run(opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { json } => Ok(ExitCode::from(vigil::doctor::doctor(json) as u8)),
        Command::Replay { file, events, output } => {
            let stats = vigil::replay::replay(&file, events, output.as_deref(), TreeConfig::default())?;
            eprintln!("summary: {}", serde_json::to_string(&stats)?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

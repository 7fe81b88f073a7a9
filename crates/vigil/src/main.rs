use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use vigil::cli;
use vigil::RunOptions;
use vigil::{ReplayOptions, RuleSources};
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
    /// Run the agent: attach the hooks, evaluate the rules, write alerts as JSON lines (needs root).
    Run(Box<RunArgs>),
    /// Check what this kernel supports and which hooks attach (needs root for the last part).
    ///
    /// Exit status: 0 ready (every required hook attaches; optional hooks this kernel
    /// refuses are listed with what is lost), 2 degraded (an optional hook this kernel
    /// offers failed), 1 cannot run.
    Doctor {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Leave this BPF program out, as `vigil run --disable-program` does (repeatable).
        #[arg(long = "disable-program", value_name = "PROGRAM")]
        disable_programs: Vec<String>,
    },
    /// Run the rules over a recording made with `vigil run --record` (no root needed).
    Replay {
        /// The recording.
        file: PathBuf,
        #[command(flatten)]
        rules: RuleArgs,
        /// Write every event, not only alerts.
        #[arg(long)]
        events: bool,
        /// Write JSON lines to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Check, list or explain rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
    /// Show what a running agent has seen, filtered, deduplicated, sent and lost, per hook.
    Stats {
        /// The statistics file the agent writes (`vigil run --stats-file`).
        #[arg(long, value_name = "FILE", default_value = vigil::DEFAULT_STATS_FILE)]
        file: PathBuf,
        /// Print the raw JSON.
        #[arg(long)]
        json: bool,
    },
    /// List the fields rules can use, with their types and descriptions.
    Fields {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Validate rule files; errors are printed as file:line:col: message (exit code 1).
    Check {
        /// Rule files or directories.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Check the files alone, not on top of the built-in rules.
        #[arg(long)]
        no_builtin_rules: bool,
    },
    /// List the rules that would run.
    List {
        #[command(flatten)]
        rules: RuleArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the filter the kernel would apply for these rules: which events are reported,
    /// for which paths, which syscall handlers do not run, what is deduplicated.
    Explain {
        #[command(flatten)]
        rules: RuleArgs,
        /// Deduplication window in seconds, as `vigil run --dedup-window`.
        #[arg(long, value_name = "SECS", default_value_t = vigil::DEFAULT_DEDUP_WINDOW_SECS)]
        dedup_window: u64,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Clone)]
struct RuleArgs {
    /// Rule file or directory, loaded after the built-in rules (repeatable).
    #[arg(long = "rules", short = 'r', value_name = "PATH")]
    rules: Vec<PathBuf>,
    /// Do not load the built-in rules.
    #[arg(long)]
    no_builtin_rules: bool,
    /// Default rate limit of rules without their own: `none`, or SCOPE:BURST/PERIOD with
    /// SCOPE one of process, executable, parent, global (e.g. `process:20/60s`).
    #[arg(long, value_name = "LIMIT", default_value = "process:20/60s")]
    rate_limit: String,
    /// A YAML configuration file (see docs/rules.md): `rules`, `builtin_rules`, `rate_limit`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RunArgs {
    #[command(flatten)]
    rules: RuleArgs,
    /// Write JSON lines to this file (appending) instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Write every event, not only alerts (turns the kernel-side filter off).
    #[arg(long)]
    events: bool,
    /// Send every event the hooks see to userspace: no rule-driven filtering or
    /// deduplication in the kernel (alerts are the same; costs more).
    #[arg(long)]
    no_kernel_filter: bool,
    /// Seconds during which the same file access or connection by the same program is
    /// sent to userspace once (counted as deduplicated in the kernel); 0: off.
    #[arg(long, value_name = "SECS", default_value_t = vigil::DEFAULT_DEDUP_WINDOW_SECS)]
    dedup_window: u64,
    /// Where the agent keeps its current statistics for `vigil stats` ("none": nowhere).
    #[arg(long, value_name = "FILE", default_value = vigil::DEFAULT_STATS_FILE)]
    stats_file: String,
    /// A container runtime's API socket, as RUNTIME=PATH with RUNTIME docker or podman
    /// (repeatable; replaces the defaults /var/run/docker.sock and /run/podman/podman.sock).
    #[arg(long = "container-socket", value_name = "RUNTIME=PATH")]
    container_sockets: Vec<String>,
    /// Ask no runtime about containers: ids (from cgroups) only, no names, images or pods.
    #[arg(long)]
    no_container_metadata: bool,
    /// Benchmark floor: attach every program but make each return at once (no events).
    #[arg(long, hide = true)]
    floor: bool,
    /// Also record the raw event stream to this file, for `vigil replay`.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Seconds between statistics lines on stderr (0: none).
    #[arg(long, default_value_t = 10)]
    stats_interval: u64,
    /// Milliseconds the reader waits for records before looking anyway while records flow
    /// (bounds alert latency; the kernel does not wake a busy reader). An idle reader backs
    /// off to 32 ms and is woken by the next record.
    #[arg(long, default_value_t = 1)]
    poll_ms: u64,
    /// Stop after this many seconds (default: run until SIGINT/SIGTERM).
    #[arg(long)]
    duration: Option<f64>,
    /// Size of the ring buffer for file and network events, MiB (power of two). The kernel
    /// filter keeps the flow low; raise it with --events or --no-kernel-filter on busy hosts.
    #[arg(long, default_value_t = 8)]
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
    /// Rules with an action (kill, deny): `enforce` acts, `audit` only reports what each
    /// would have done (docs/enforcement.md).
    #[arg(long, value_enum, default_value = "enforce")]
    enforcement: EnforcementMode,
    /// An executable never killed or denied (repeatable; a path ending in `/` is a directory).
    #[arg(long = "allow-exe", value_name = "PATH")]
    allow_exe: Vec<String>,
    /// Attach XDP to this interface (repeatable): deny lists and the SYN-scan detector.
    #[arg(long = "xdp", value_name = "IFACE")]
    xdp: Vec<String>,
    /// Drop packets from this source in XDP (an address or CIDR; repeatable).
    #[arg(long = "xdp-deny", value_name = "CIDR")]
    xdp_deny: Vec<String>,
    /// Distinct TCP ports from one source within --xdp-scan-window that make a SYN scan (0: off).
    #[arg(long, default_value_t = 50)]
    xdp_scan_ports: u32,
    /// Seconds over which a SYN scan's ports are counted.
    #[arg(long, default_value_t = 5.0)]
    xdp_scan_window: f64,
    /// Drop a detected scanner's packets for this many seconds (with --enforcement enforce).
    #[arg(long, default_value_t = 60.0)]
    xdp_ban: f64,
    /// Only report SYN scans; never drop the scanner's packets.
    #[arg(long)]
    xdp_scan_alert_only: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EnforcementMode {
    Enforce,
    Audit,
}

/// `ADDR` or `ADDR/PREFIX`.
fn parse_cidr(s: &str) -> anyhow::Result<(std::net::IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr: std::net::IpAddr = a
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--xdp-deny {s}: not an address"))?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let prefix = match p {
        Some(p) => p
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| anyhow::anyhow!("--xdp-deny {s}: prefix length 0..={max}"))?,
        None => max,
    };
    Ok((addr, prefix))
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
            for (i, line) in format!("{e:#}").lines().enumerate() {
                if i == 0 {
                    eprintln!("vigil: error: {line}");
                } else {
                    eprintln!("  {line}");
                }
            }
            ExitCode::FAILURE
        }
    }
}

/// Rule sources and engine settings from the flags and the optional config file.
fn rule_setup(a: &RuleArgs) -> Result<(RuleSources, vigil_rules::EngineConfig)> {
    let config = match &a.config {
        Some(path) => cli::Config::read(path)?,
        None => cli::Config::default(),
    };
    let mut paths = config.rules.clone();
    paths.extend(a.rules.iter().cloned());
    let builtin = !a.no_builtin_rules && config.builtin_rules.unwrap_or(true);
    let limit = config.rate_limit.as_deref().unwrap_or(&a.rate_limit);
    let engine = vigil_rules::EngineConfig {
        default_rate_limit: cli::parse_rate_limit(limit).with_context(|| format!("--rate-limit {limit}"))?,
        ..vigil_rules::EngineConfig::default()
    };
    Ok((
        RuleSources {
            builtin,
            paths,
            agent: Default::default(),
        },
        engine,
    ))
}

/// `--container-socket docker=/path` values, or the defaults.
fn container_endpoints(specs: &[String], none: bool) -> Result<Vec<vigil_container::Endpoint>> {
    if none {
        return Ok(Vec::new());
    }
    if specs.is_empty() {
        return Ok(vigil_container::Endpoint::defaults());
    }
    specs
        .iter()
        .map(|s| {
            let (rt, path) = s
                .split_once('=')
                .ok_or_else(|| anyhow::anyhow!("--container-socket {s:?}: expected RUNTIME=PATH"))?;
            let runtime = match rt {
                "docker" => vigil_container::Runtime::Docker,
                "podman" => vigil_container::Runtime::Podman,
                other => anyhow::bail!("--container-socket {s:?}: unknown runtime {other:?} (docker or podman)"),
            };
            Ok(vigil_container::Endpoint {
                runtime,
                socket: PathBuf::from(path),
            })
        })
        .collect()
}

fn dispatch(cmd: Command) -> Result<ExitCode> {
    if !matches!(cmd, Command::Run(_)) {
        // Listing commands piped into `head` should end quietly. (`run` keeps SIGPIPE
        // ignored: a closed output must be an error it reports, not a silent death.)
        // SAFETY: restoring a default signal disposition before any thread starts.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    match cmd {
        Command::Run(a) => {
            let (mut rules, engine) = rule_setup(&a.rules)?;
            rules.agent = vigil::AgentIdentity::of_this_process(&rules);
            let opts = RunOptions {
                output: a.output,
                emit_events: a.events,
                kernel_filter: !(a.events || a.no_kernel_filter || a.floor),
                dedup_window_ns: a.dedup_window.saturating_mul(1_000_000_000),
                stats_file: (a.stats_file != "none").then(|| PathBuf::from(&a.stats_file)),
                record: a.record,
                stats_interval: Duration::from_secs(a.stats_interval),
                poll_interval: Duration::from_millis(a.poll_ms.max(1)),
                duration: a.duration.map(Duration::from_secs_f64),
                sensor: SensorConfig {
                    ringbuf_proc_bytes: a.proc_ringbuf_mb.saturating_mul(1 << 20),
                    ringbuf_events_bytes: a.ringbuf_mb.saturating_mul(1 << 20),
                    proc_table_entries: a.proc_table_size,
                    agent_tgid: std::process::id(),
                    disabled_programs: program_names(a.disable_programs)?,
                    dns_ports: if a.dns_ports.is_empty() {
                        vec![53]
                    } else {
                        a.dns_ports.into_iter().take(4).collect()
                    },
                    flow_update_ns: a.flow_update_secs.max(1) * 1_000_000_000,
                    udp_idle_ns: a.udp_idle_secs.max(1) * 1_000_000_000,
                    floor: a.floor,
                    xdp: vigil_sensor::policy::XdpConfig {
                        interfaces: a.xdp,
                        scan_ports: a.xdp_scan_ports,
                        scan_window_ns: (a.xdp_scan_window.max(0.001) * 1e9) as u64,
                        ban_ns: (a.xdp_ban.max(0.0) * 1e9) as u64,
                        scan_drop: !a.xdp_scan_alert_only && matches!(a.enforcement, EnforcementMode::Enforce),
                    },
                },
                enforcement: match a.enforcement {
                    EnforcementMode::Enforce => vigil::enforcement::Mode::Enforce,
                    EnforcementMode::Audit => vigil::enforcement::Mode::Audit,
                },
                allow_exe: a.allow_exe,
                xdp_deny: a
                    .xdp_deny
                    .iter()
                    .map(|c| parse_cidr(c))
                    .collect::<anyhow::Result<_>>()?,
                tree: TreeConfig {
                    grace_ns: (a.exit_grace * 1e9) as u64,
                    ..TreeConfig::default()
                },
                rules,
                engine,
                container_endpoints: container_endpoints(&a.container_sockets, a.no_container_metadata)?,
            };
            vigil::run(opts)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Doctor { json, disable_programs } => {
            let disabled = program_names(disable_programs)?;
            Ok(ExitCode::from(vigil::doctor(json, &disabled) as u8))
        }
        Command::Replay {
            file,
            rules,
            events,
            output,
        } => {
            let (rules, engine) = rule_setup(&rules)?;
            let stats = vigil::replay(
                &file,
                ReplayOptions {
                    emit_events: events,
                    output: output.as_deref(),
                    rules,
                    engine,
                    tree: TreeConfig::default(),
                },
            )?;
            eprintln!("summary: {}", serde_json::to_string(&stats)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::Check {
                files,
                no_builtin_rules,
            },
        } => {
            if files.is_empty() {
                bail!("no rule files given");
            }
            Ok(cli::rules_check(RuleSources {
                agent: Default::default(),
                builtin: !no_builtin_rules,
                paths: files,
            }))
        }
        Command::Rules {
            command: RulesCommand::List { rules, json },
        } => {
            let (sources, _) = rule_setup(&rules)?;
            cli::rules_list(sources, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command:
                RulesCommand::Explain {
                    rules,
                    dedup_window,
                    json,
                },
        } => {
            let (sources, _) = rule_setup(&rules)?;
            cli::rules_explain(sources, dedup_window.saturating_mul(1_000_000_000), json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats { file, json } => {
            cli::stats(&file, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Fields { json } => {
            cli::fields(json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `--disable-program` names, each checked against the program table.
fn program_names(names: Vec<String>) -> Result<BTreeSet<String>> {
    for n in &names {
        if vigil_sensor::hooks::spec(n).is_none() {
            let known: Vec<&str> = vigil_sensor::hooks::HOOKS.iter().map(|p| p.program).collect();
            bail!("--disable-program {n}: no such program (one of: {})", known.join(", "));
        }
    }
    Ok(names.into_iter().collect())
}

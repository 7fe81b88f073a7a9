use std::collections::BTreeSet;
use std::io::IsTerminal;
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
#[command(name = "vigil", version, about, long_about = None, propagate_version = true, args_override_self = true)]
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
    /// Check a configuration file (`vigil run --config FILE`): every mistake as file:line:col.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// List the fields rules can use, with their types and descriptions.
    Fields {
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Read the file as `vigil run --config` would and check every setting.
    Check {
        /// The configuration file (e.g. /etc/vigil/vigil.yaml).
        file: PathBuf,
    },
}

/// Every long flag of `vigil run`, and what it takes.
fn run_flags() -> std::collections::BTreeMap<String, vigil::config_file::FlagKind> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    let Some(run) = cmd.find_subcommand("run") else {
        return Default::default();
    };
    run.get_arguments()
        .filter_map(|a| {
            let long = a.get_long()?.to_string();
            let kind = match a.get_action() {
                clap::ArgAction::SetTrue | clap::ArgAction::SetFalse => vigil::config_file::FlagKind::Switch,
                clap::ArgAction::Append => vigil::config_file::FlagKind::List,
                _ => vigil::config_file::FlagKind::Value,
            };
            Some((long, kind))
        })
        .filter(|(long, _)| long != "config" && long != "help" && long != "version")
        .collect()
}

/// `vigil run --config FILE ...`: the file's settings and the `VIGIL_*` environment
/// become flags ahead of the command line's (which win).
fn expand_run_config(args: Vec<std::ffi::OsString>) -> Result<Vec<std::ffi::OsString>> {
    let Some(run_at) = args.iter().position(|a| a == "run") else {
        return Ok(args);
    };
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    let mut config: Option<PathBuf> = None;
    let mut it = args[run_at + 1..].iter();
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            config = it.next().map(PathBuf::from);
        } else if let Some(v) = s.strip_prefix("--config=") {
            config = Some(PathBuf::from(v));
        } else {
            rest.push(a.clone());
        }
    }
    let flags = run_flags();
    let mut out: Vec<std::ffi::OsString> = args[..=run_at].to_vec();
    if let Some(path) = &config {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            if let Some(why) = vigil::untrusted_reason(path) {
                bail!(
                    "{}:0:0: refused: {why}, so a user other than root could change how the agent runs (chown root and chmod go-w it)",
                    path.display()
                );
            }
        }
        out.extend(
            vigil::config_file::flags_of_file(path, &flags)?
                .into_iter()
                .map(Into::into),
        );
    }
    out.extend(
        vigil::config_file::flags_of_env(&flags, &["log"])
            .into_iter()
            .map(Into::into),
    );
    out.extend(rest);
    Ok(out)
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
    /// Keep every capability after the programs are attached (by default the agent keeps
    /// only CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH, and CAP_SYS_ADMIN
    /// while uprobes are in use: docs/privileges.md).
    #[arg(long)]
    keep_capabilities: bool,
    /// How alerts are written to stdout or --output: `text` (one line per alert, the
    /// default on a terminal), `json` (Vigil's JSON, the default otherwise) or `falco`
    /// (Falco's alert JSON, for falcosidekick and SIEM parsers).
    #[arg(long, value_enum)]
    format: Option<FormatArg>,
    /// Also write alerts to this file (JSON lines, rotated by size, reopened on SIGHUP).
    #[arg(long, value_name = "FILE")]
    alerts_file: Option<PathBuf>,
    /// Rotate --alerts-file at this size, MiB (0: never).
    #[arg(long, default_value_t = 100)]
    alerts_file_max_mb: u64,
    /// Rotated --alerts-file files kept.
    #[arg(long, default_value_t = 5)]
    alerts_file_keep: usize,
    /// Send alerts to syslog (RFC 5424): unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT.
    #[arg(long, value_name = "TARGET")]
    syslog: Option<String>,
    /// Syslog facility number (4 auth, 10 authpriv, 16-23 local0-7).
    #[arg(long, default_value_t = 10)]
    syslog_facility: u8,
    /// POST alerts as JSON to this URL (repeatable), through an on-disk spool.
    #[arg(long, value_name = "URL")]
    webhook: Vec<String>,
    /// Alerts per webhook POST (a JSON array; 1 posts single objects, as falcosidekick takes).
    #[arg(long, default_value_t = 100)]
    webhook_batch: usize,
    /// Where webhook spools live.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/vigil/spool")]
    webhook_spool: PathBuf,
    /// Largest webhook spool, MiB.
    #[arg(long, default_value_t = 256)]
    webhook_spool_mb: u64,
    /// Send alerts as OpenTelemetry logs to this OTLP/HTTP endpoint (http://HOST:4318/v1/logs).
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464).
    #[arg(long, value_name = "ADDR")]
    metrics: Option<String>,
    /// Alerts each output may hold while it is slow or down (beyond: counted as dropped).
    #[arg(long, default_value_t = 10_000)]
    output_queue: usize,
    /// JSON format of --alerts-file and the webhooks: vigil or falco.
    #[arg(long, value_enum, default_value = "vigil")]
    outputs_format: OutputsFormatArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FormatArg {
    Text,
    Json,
    Falco,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OutputsFormatArg {
    Vigil,
    Falco,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum EnforcementMode {
    Enforce,
    Audit,
}

/// The alert outputs the flags name.
fn output_specs(a: &RunArgs) -> anyhow::Result<Vec<vigil_output::Spec>> {
    use vigil_output::{file, otlp, syslog, webhook, Format, Spec};
    let format = match a.outputs_format {
        OutputsFormatArg::Vigil => Format::Vigil,
        OutputsFormatArg::Falco => Format::Falco,
    };
    let mut specs = Vec::new();
    if let Some(path) = &a.alerts_file {
        specs.push(Spec::File(file::FileConfig {
            path: path.clone(),
            max_bytes: a.alerts_file_max_mb.saturating_mul(1 << 20),
            keep: a.alerts_file_keep,
            format,
        }));
    }
    if let Some(t) = &a.syslog {
        specs.push(Spec::Syslog(syslog::SyslogConfig {
            target: syslog::Target::parse(t).map_err(|e| anyhow::anyhow!("--syslog: {e}"))?,
            facility: a.syslog_facility.min(23),
            app_name: "vigil".into(),
        }));
    }
    for url in &a.webhook {
        if !url.starts_with("http://") {
            anyhow::bail!("--webhook {url}: only http:// URLs (TLS is not built in yet; put a local relay in front)");
        }
        specs.push(Spec::Webhook(webhook::WebhookConfig {
            url: url.clone(),
            spool_dir: a.webhook_spool.clone(),
            max_spool_bytes: a.webhook_spool_mb.saturating_mul(1 << 20),
            batch: a.webhook_batch.max(1),
            format,
        }));
    }
    if let Some(url) = &a.otlp {
        specs.push(Spec::Otlp(otlp::OtlpConfig { url: url.clone() }));
    }
    Ok(specs)
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
    let args = match expand_run_config(std::env::args_os().collect()) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("vigil: error: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(args);
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
            trusted_only: false,
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
            // SAFETY: geteuid has no preconditions.
            rules.trusted_only = unsafe { libc::geteuid() } == 0;
            let outputs = output_specs(&a)?;
            let format = match a.format {
                Some(FormatArg::Json) => vigil::AlertFormat::Json,
                Some(FormatArg::Falco) => vigil::AlertFormat::Falco,
                Some(FormatArg::Text) => vigil::AlertFormat::Text,
                // a person at a terminal reads lines; a pipe or a file gets JSON
                None if a.output.is_none() && !a.events && std::io::stdout().is_terminal() => vigil::AlertFormat::Text,
                None => vigil::AlertFormat::Json,
            };
            let opts = RunOptions {
                output: a.output,
                emit_events: a.events,
                kernel_filter: !(a.events || a.no_kernel_filter || a.floor),
                dedup_window_ns: a.dedup_window.saturating_mul(1_000_000_000),
                stats_file: (a.stats_file != "none").then(|| PathBuf::from(&a.stats_file)),
                record: a.record,
                stats_interval: Duration::from_secs(a.stats_interval),
                poll_interval: Duration::from_millis(a.poll_ms.max(1)),
                keep_capabilities: a.keep_capabilities,
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
                format,
                outputs,
                output_queue: a.output_queue.max(1),
                metrics: a.metrics.clone(),
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
                trusted_only: false,
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
        Command::Config {
            command: ConfigCommand::Check { file },
        } => {
            let flags = vigil::config_file::flags_of_file(&file, &run_flags())?;
            let argv = ["vigil", "run"]
                .into_iter()
                .map(String::from)
                .chain(flags.iter().cloned());
            match Cli::try_parse_from(argv) {
                Ok(Cli {
                    command: Command::Run(a),
                    ..
                }) => {
                    // values clap cannot check: the output targets, the CIDRs
                    output_specs(&a)?;
                    for c in &a.xdp_deny {
                        parse_cidr(c)?;
                    }
                    println!("{}: ok ({} settings)", file.display(), flags.len());
                    Ok(ExitCode::SUCCESS)
                }
                Ok(_) => Ok(ExitCode::FAILURE),
                Err(e) => {
                    // name the key of the flag clap refused
                    let text = std::fs::read_to_string(&file).unwrap_or_default();
                    let msg = e.to_string();
                    let (line, col) = text
                        .lines()
                        .enumerate()
                        .find_map(|(i, l)| {
                            let t = l.trim_start();
                            let key = t.split(':').next()?.trim().replace('_', "-");
                            (!key.is_empty() && msg.contains(&format!("--{key}")))
                                .then(|| (i + 1, l.len() - t.len() + 1))
                        })
                        .unwrap_or((1, 1));
                    let first = msg.lines().next().unwrap_or("").trim_start_matches("error: ");
                    println!("{}:{line}:{col}: {first}", file.display());
                    Ok(ExitCode::FAILURE)
                }
            }
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

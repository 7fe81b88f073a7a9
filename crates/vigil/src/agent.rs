//! `vigil run`: the live agent loop.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;
use vigil_event::recording::RecordingWriter;
use vigil_sensor::bootstrap::{boot_time_ns, boot_to_realtime_ns, snapshot};
use vigil_sensor::{Batch, EventStream, KernelStats, Sensor, SensorConfig};

use crate::main_stream::output_dropped_notice;
use crate::pipeline::{Pipeline, PipelineConfig, PipelineStats};
use crate::rules::{error_lines, LoadedRules, Reload, RuleSources};

/// Where `vigil run` keeps its statistics and `vigil stats` reads them.
pub const DEFAULT_STATS_FILE: &str = "/run/vigil/stats.json";

pub struct RunOptions {
    pub output: Option<PathBuf>,
    pub emit_events: bool,
    /// Push the rules' interest into the kernel (filters and dedup); off streams everything.
    pub kernel_filter: bool,
    /// The same fact from the same program crosses once per window (0: no deduplication).
    pub dedup_window_ns: u64,
    /// Current statistics, rewritten every second, for `vigil stats`.
    pub stats_file: Option<PathBuf>,
    pub record: Option<PathBuf>,
    pub stats_interval: Duration,
    /// Longest wait for records; bounds the delivery latency of a record whose CPU did not wake us.
    pub poll_interval: Duration,
    /// Keep every capability after attaching (no least-privilege drop).
    pub keep_capabilities: bool,
    pub duration: Option<Duration>,
    pub sensor: SensorConfig,
    pub tree: vigil_proctree::TreeConfig,
    pub rules: RuleSources,
    pub engine: vigil_rules::EngineConfig,
    /// Container runtimes asked about containers (empty: ids from cgroups only).
    pub container_endpoints: Vec<vigil_container::Endpoint>,
    /// Rules with an action act, or only report (audit).
    pub enforcement: crate::enforcement::Mode,
    /// Executables never acted on.
    pub allow_exe: Vec<String>,
    /// Sources XDP drops.
    pub xdp_deny: Vec<(std::net::IpAddr, u8)>,
    /// How alerts are written to the main output.
    pub format: crate::pipeline::AlertFormat,
    /// Further alert destinations, each with `output_queue` alerts of room.
    pub outputs: Vec<vigil_output::Spec>,
    pub output_queue: usize,
    /// Serve Prometheus metrics here (`127.0.0.1:9464`).
    pub metrics: Option<String>,
}

/// Signals turned into flags the loop checks (a signal also interrupts its wait).
struct Signals {
    stop: Arc<AtomicBool>,
    reload: Arc<AtomicBool>,
}

impl Signals {
    fn install() -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing signal handlers")?;
        }
        let reload = Arc::new(AtomicBool::new(false));
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&reload)).context("installing SIGHUP")?;
        Ok(Self { stop, reload })
    }
}

/// The shutdown summary line, and the statistics file `vigil stats` reads.
#[derive(Serialize)]
struct Summary<'a> {
    pid: u32,
    uptime_secs: f64,
    /// Whether the rules' interest filters and deduplicates in the kernel.
    kernel_filter: bool,
    kernel: &'a KernelStats,
    lost_total: u64,
    /// Hook invocations the kernel skipped (recursion protection): events never seen.
    missed_total: u64,
    /// Flows the kernel still tracks at shutdown.
    flows_tracked: usize,
    /// Optional hooks the agent runs without, with why and what is not seen.
    hooks_missing: Vec<&'a vigil_sensor::HookReport>,
    userspace: &'a PipelineStats,
    /// Enforcement: matches per policy (rule), exempt and audit matches included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    policies: Vec<PolicyHits>,
    /// XDP counters, when it guards interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    xdp: Option<vigil_sensor::policy::XdpStats>,
    /// Alert outputs: sent, dropped, failures, queue depth.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    outputs: Vec<vigil_output::OutputStats>,
}

#[derive(Serialize)]
struct PolicyHits {
    slot: usize,
    rule: String,
    matches: u64,
}

/// One cgroup record per cgroup that exists at start (the kernel reports the ones made
/// from now on), so that containers already running are named, in a recording too, and
/// no event's cgroup id sends the agent rescanning the tree.
fn cgroup_snapshot() -> Vec<Vec<u8>> {
    let Some(root) = vigil_container::cgroup_v2_root(Path::new("/")) else {
        return Vec::new();
    };
    let now = boot_time_ns();
    vigil_container::registry::scan_cgroup_tree(&root)
        .into_iter()
        .map(|(id, path)| {
            vigil_event::encode(&vigil_event::Event {
                ktime: now,
                pid: 0,
                tid: 0,
                uid: 0,
                gid: 0,
                cgroup_id: 0,
                comm: vigil_event::Text::new(b"cgroup-snapshot".to_vec()),
                body: vigil_event::Body::Cgroup(Box::new(vigil_event::model::Cgroup {
                    id,
                    removed: false,
                    level: path.matches('/').count() as u32,
                    path: vigil_event::Text::new(path.into_bytes()),
                })),
            })
        })
        .collect()
}

/// How often the agent looks for probed binaries replaced on disk (uprobes).
const UPROBE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// The longest wait for records when none came in the last polls: an idle agent wakes
/// about 30 times a second rather than every `--poll-ms`.
const IDLE_POLL: Duration = Duration::from_millis(32);

/// The rule name of the alert raised when the kernel lost events (filter on it in a SIEM).
const LOSS_RULE: &str = "Vigil events lost";

/// Ring-buffer losses already reported in the stream, per hook: each tick reports only
/// what is new, so one burst gives one notice and one alert per second, not one per event.
#[derive(Default)]
struct LossReported {
    total: u64,
    by_hook: std::collections::HashMap<&'static str, u64>,
}

impl LossReported {
    /// Losses new since the last report, in the stream and on every output.
    fn report(&mut self, kernel: &KernelStats, pipeline: &mut Pipeline) -> io::Result<()> {
        let Some(notice) = self.news(kernel) else {
            return Ok(());
        };
        let output = format!(
            "Vigil lost {} events in the kernel (ring buffer full) since its last report, {} in all",
            notice["lost_new"], notice["lost_total"]
        );
        pipeline.write_internal_alert(LOSS_RULE, "CRITICAL", output, notice)
    }

    /// The notice for losses new since the last call, if any.
    fn news(&mut self, kernel: &KernelStats) -> Option<serde_json::Map<String, serde_json::Value>> {
        let total = kernel.lost();
        if total <= self.total {
            return None;
        }
        let mut per_hook = serde_json::Map::new();
        for (name, c) in &kernel.hooks {
            let before = self.by_hook.insert(name, c.lost).unwrap_or(0);
            if c.lost > before {
                per_hook.insert(name.to_string(), (c.lost - before).into());
            }
        }
        let new = total - self.total;
        self.total = total;
        let mut notice = serde_json::Map::new();
        notice.insert("notice".into(), "events_lost".into());
        notice.insert("lost_new".into(), new.into());
        notice.insert("lost_total".into(), total.into());
        notice.insert("lost_new_by_hook".into(), per_hook.into());
        notice.insert("lost_per_cpu".into(), kernel.lost_per_cpu.clone().into());
        Some(notice)
    }
}

fn open_output(path: &Option<PathBuf>) -> Result<Box<dyn Write>> {
    Ok(match path {
        Some(p) => Box::new(BufWriter::new(
            crate::privileges::private_file(p, true).with_context(|| format!("opening {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout())),
    })
}

pub fn run(opts: RunOptions) -> Result<()> {
    let signals = Signals::install()?;
    // Rules first: a bad rule file stops us before anything is attached.
    let mut rules = LoadedRules::load(opts.rules.clone())
        .map_err(|e| anyhow::anyhow!("rules did not load:\n{}", error_lines(&e).join("\n")))?;
    let report = rules.set.report();
    eprintln!(
        "rules: {} loaded ({} enabled) from {}",
        report.rules_loaded,
        report.rules_enabled,
        report.files.join(", ")
    );
    let started = Instant::now();
    let out = open_output(&opts.output)?;
    let offset = boot_to_realtime_ns();
    let recorder = match &opts.record {
        Some(p) => {
            let f: Box<dyn Write> = Box::new(BufWriter::new(
                crate::privileges::private_file(p, false)
                    .with_context(|| format!("creating recording {}", p.display()))?,
            ));
            let host = crate::host::HostFacts::default().to_recorded();
            Some(RecordingWriter::new(f, offset, std::process::id(), &host).context("writing recording header")?)
        }
        None => None,
    };

    let sensor = Sensor::start(&opts.sensor)?;
    let required: Vec<String> = sensor
        .report
        .missing_required()
        .map(|h| format!("{} ({}): {}", h.program, h.what, h.status.reason()))
        .collect();
    if !required.is_empty() {
        anyhow::bail!(
            "cannot run without these hooks (see `vigil doctor`):\n  {}",
            required.join("\n  ")
        );
    }
    for h in sensor.report.missing() {
        eprintln!(
            "vigil: warning: optional hook {} ({}) is {}, so the agent runs without seeing {}: {}",
            h.program,
            h.attach,
            h.status.word(),
            h.what,
            h.status.reason()
        );
    }
    feed_detectors(&sensor, &rules.set);
    apply_kernel_filter(&sensor, &rules.set, &opts);
    apply_policies(&sensor, &rules.set, &opts, true);
    if !sensor.xdp_interfaces.is_empty() {
        sensor.set_xdp_deny(&opts.xdp_deny)?;
        eprintln!(
            "vigil: xdp on {}: {} deny entries, SYN-scan detector {}",
            sensor.xdp_interfaces.join(", "),
            opts.xdp_deny.len(),
            if opts.sensor.xdp.scan_ports == 0 {
                "off".to_string()
            } else {
                format!(
                    "at {} ports in {:.1}s{}",
                    opts.sensor.xdp.scan_ports,
                    opts.sensor.xdp.scan_window_ns as f64 / 1e9,
                    if opts.sensor.xdp.scan_drop {
                        ", scanners dropped"
                    } else {
                        ", report only"
                    }
                )
            }
        );
    } else if !opts.xdp_deny.is_empty() {
        anyhow::bail!("--xdp-deny needs an interface to guard (--xdp IFACE), and XDP attached to it");
    }
    // Everything that needs CAP_SYS_ADMIN or CAP_NET_ADMIN is done; before the first
    // thread starts (capabilities are per thread), keep only what the running agent needs.
    if opts.keep_capabilities {
        eprintln!("vigil: keeping every capability (--keep-capabilities)");
    } else {
        // a uprobe the refresh may attach later needs CAP_SYS_ADMIN (privileges.rs)
        let uprobes = sensor
            .report
            .hooks
            .iter()
            .any(|h| h.group == "uprobes" && h.status != vigil_sensor::HookStatus::Disabled);
        let kept = crate::privileges::drop_unneeded(uprobes).context("least privilege")?;
        eprintln!(
            "vigil: capabilities after attach: {} ({} dropped, no_new_privs set)",
            kept.names(),
            kept.dropped
        );
    }
    // Outputs: a destination that is down now is retried, never fatal.
    let outputs = Arc::new(
        vigil_output::Outputs::start(&opts.outputs, opts.output_queue).map_err(|e| anyhow::anyhow!("output: {e}"))?,
    );
    for spec in &opts.outputs {
        eprintln!("vigil: output {}", spec.name());
    }
    let metrics = match &opts.metrics {
        Some(addr) => {
            let m = vigil_output::metrics::MetricsServer::start(addr).map_err(|e| anyhow::anyhow!("{e}"))?;
            eprintln!("vigil: metrics on http://{}/metrics", m.addr);
            Some(m)
        }
        None => None,
    };
    let mut stream = EventStream::new(&sensor)?;
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            emit_events: opts.emit_events,
            rules: Some(Arc::clone(&rules.set)),
            engine: opts.engine.clone(),
            boot_to_realtime_ns: offset,
            tree: opts.tree.clone(),
            host: None,
            container_endpoints: opts.container_endpoints.clone(),
            format: opts.format,
            outputs: (!outputs.is_empty()).then(|| Arc::clone(&outputs)),
        },
        out,
        recorder,
    );

    // Hooks are attached: what /proc says now plus the events from here on leave no gap.
    let snap = snapshot(std::path::Path::new("/proc"));
    for rec in cgroup_snapshot().iter().chain(&snap) {
        pipeline.process_record(rec)?;
    }
    rules.watch().context("starting the rule watcher")?;
    eprintln!(
        "ready: {}, {} processes known, agent pid {}",
        ready_hooks(&sensor.report),
        pipeline.tree().len(),
        std::process::id()
    );
    // systemd (Type=notify): every required hook is attached
    crate::notify::send(&format!("READY=1\nSTATUS={}", ready_hooks(&sensor.report)));
    let mut output_drops_reported: Vec<u64> = vec![0; opts.outputs.len()];
    let mut loss_reported = LossReported::default();

    let mut batch = Batch::default();
    let mut timeout = opts.poll_interval;
    let mut last_stats = Instant::now();
    let mut last_tick = Instant::now();
    // A sweep walks the whole flow table (about 1 ms empty, 3 ms with 20,000 flows): a
    // tenth of the idle time is precise enough (60 s idle: ended within 66 s).
    let sweep_every =
        Duration::from_nanos(opts.sensor.udp_idle_ns / 10).clamp(Duration::from_secs(1), Duration::from_secs(10));
    let mut last_sweep = Instant::now();
    let mut last_uprobe_check = Instant::now();
    let mut stats_file_warned = false;
    while !signals.stop.load(Ordering::Relaxed) {
        if opts.duration.is_some_and(|d| started.elapsed() >= d) {
            break;
        }
        // While records flow the reader polls every --poll-ms and the kernel never wakes it
        // (a wake-up costs the producer an IPI). Once nothing came for a poll it backs off
        // and, for those longer waits, asks the kernel to wake it at the next record, so
        // that record is read at once.
        stream.poll(timeout, timeout > opts.poll_interval, &mut batch)?;
        timeout = if batch.is_empty() && !pipeline.holding() {
            (timeout * 2).min(IDLE_POLL.max(opts.poll_interval))
        } else {
            opts.poll_interval
        };
        if !batch.is_empty() {
            for rec in batch.iter() {
                pipeline.process_record(rec)?;
            }
            pipeline.flush()?;
        } else if pipeline.holding() {
            // events waiting for a container runtime's answer: release them when it came
            pipeline.flush()?;
        }
        if signals.reload.swap(false, Ordering::Relaxed) {
            crate::notify::send("RELOADING=1");
            rules.request_reload();
            outputs.reopen();
            crate::notify::send("READY=1");
        }
        // SIGHUP, or a rule file that changed on disk: the watcher thread loads it while
        // this loop keeps reading; a failed load keeps the rules that were running.
        match rules.poll() {
            Reload::Unchanged => {}
            Reload::Reloaded(set) => {
                pipeline.set_rules(Arc::clone(&set));
                feed_detectors(&sensor, &set);
                apply_kernel_filter(&sensor, &set, &opts);
                apply_policies(&sensor, &set, &opts, false);
                eprintln!("vigil: rules reloaded: {} rules", set.rules().len());
            }
            // One write, so a reader never sees the header without its errors.
            Reload::Failed(e) => eprintln!(
                "vigil: rules reload failed, keeping the rules that were running:\n  {}",
                error_lines(&e).join("\n  ")
            ),
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            pipeline.tick(boot_time_ns())?;
            crate::notify::watchdog();
            // an output that dropped alerts says so in the main stream too
            let output_stats = outputs.stats();
            for (i, o) in output_stats.iter().enumerate() {
                if o.dropped > output_drops_reported[i] {
                    pipeline.write_notice(&output_dropped_notice(&o.name, o.dropped, &o.last_error))?;
                    output_drops_reported[i] = o.dropped;
                }
            }
            let kernel = sensor.kernel_stats()?;
            loss_reported.report(&kernel, &mut pipeline)?;
            let user = pipeline.stats();
            if let Some(m) = &metrics {
                m.publish(crate::metrics_page::render(
                    &sensor,
                    &kernel,
                    &user,
                    &output_stats,
                    pipeline.rules(),
                ));
            }
            if last_sweep.elapsed() >= sweep_every {
                sensor.sweep_flows()?;
                last_sweep = Instant::now();
            }
            if last_uprobe_check.elapsed() >= UPROBE_CHECK_EVERY {
                for note in sensor.refresh_uprobes() {
                    eprintln!("vigil: {note}");
                }
                last_uprobe_check = Instant::now();
            }
            last_tick = Instant::now();
            if let Some(path) = &opts.stats_file {
                let s = summary(
                    &sensor,
                    &kernel,
                    &user,
                    started,
                    &opts,
                    pipeline.policy_slots(),
                    output_stats,
                );
                if let Err(e) = write_stats_file(path, &s) {
                    if !stats_file_warned {
                        eprintln!("vigil: warning: cannot write {}: {e:#}", path.display());
                        stats_file_warned = true;
                    }
                }
            }
        }
        if !opts.stats_interval.is_zero() && last_stats.elapsed() >= opts.stats_interval {
            eprintln!(
                "{}",
                stats_line(&sensor.kernel_stats()?, &pipeline.stats(), started.elapsed())
            );
            last_stats = Instant::now();
        }
    }

    // Hooks off first: then the rings hold everything that will ever be sent and the
    // counters stop moving, so the summary accounts for every event exactly.
    sensor.detach();
    // Whatever the kernel wrote before we stopped is still delivered.
    stream.drain(&mut batch)?;
    for rec in batch.iter() {
        pipeline.process_record(rec)?;
    }
    // losses since the last tick are said in the stream too, not only in the summary
    loss_reported.report(&sensor.kernel_stats()?, &mut pipeline)?;
    pipeline.finish()?;
    crate::notify::send("STOPPING=1");
    outputs.shutdown(Duration::from_secs(5));
    let kernel = sensor.kernel_stats()?;
    let user = pipeline.stats();
    let summary = summary(
        &sensor,
        &kernel,
        &user,
        started,
        &opts,
        pipeline.policy_slots(),
        outputs.stats(),
    );
    eprintln!("summary: {}", serde_json::to_string(&summary)?);
    if let Some(path) = &opts.stats_file {
        let _ = std::fs::remove_file(path);
    }
    drop(stream);
    drop(sensor);
    Ok(())
}

/// "28/28 hooks attached", or "27/28 hooks attached, without exit_open (disabled)":
/// the optional hooks the agent runs without, named (the warnings above say what each loses).
fn ready_hooks(report: &vigil_sensor::AttachReport) -> String {
    let missing: Vec<String> = report
        .missing()
        .map(|h| format!("{} ({})", h.program, h.status.word()))
        .collect();
    let counts = format!("{}/{} hooks attached", report.attached(), report.hooks.len());
    if missing.is_empty() {
        counts
    } else {
        format!("{counts}, without {}", missing.join("; "))
    }
}

fn summary<'a>(
    sensor: &'a Sensor,
    kernel: &'a KernelStats,
    user: &'a PipelineStats,
    started: Instant,
    opts: &RunOptions,
    slots: &[crate::enforcement::PolicySlot],
    outputs: Vec<vigil_output::OutputStats>,
) -> Summary<'a> {
    let kernel_filter = opts.kernel_filter;
    let xdp_deny_entries = opts.xdp_deny.len();
    Summary {
        pid: std::process::id(),
        uptime_secs: started.elapsed().as_secs_f64(),
        kernel_filter,
        kernel,
        lost_total: kernel.lost(),
        missed_total: kernel.missed(),
        flows_tracked: sensor.flows_tracked(),
        hooks_missing: sensor.report.missing().collect(),
        userspace: user,
        policies: {
            let hits = sensor.policy_hits();
            slots
                .iter()
                .enumerate()
                .map(|(slot, s)| PolicyHits {
                    slot,
                    rule: s.rule.clone(),
                    matches: hits.get(slot).copied().unwrap_or(0),
                })
                .collect()
        },
        xdp: (!sensor.xdp_interfaces.is_empty()).then(|| sensor.xdp_stats(xdp_deny_entries)),
        outputs,
    }
}

/// Replaced whole (write, then rename) so a reader never sees half a file.
fn write_stats_file(path: &Path, s: &Summary) -> Result<()> {
    if let Some(dir) = path.parent() {
        crate::privileges::private_dir(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("tmp");
    crate::privileges::private_file(&tmp, false)?.write_all(&serde_json::to_vec(s)?)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

/// Pushes the rules' interest into the kernel. On failure the kernel keeps reporting
/// everything (the filter widens before it narrows), so nothing a rule needs is lost.
fn apply_kernel_filter(sensor: &Sensor, set: &vigil_rules::RuleSet, opts: &RunOptions) {
    if !opts.kernel_filter {
        return;
    }
    let filter = crate::kernel_filter::for_rules(set, opts.dedup_window_ns);
    if let Err(e) = sensor.set_filter(&filter) {
        eprintln!(
            "vigil: warning: the new kernel filter is not applied (the kernel keeps sending more, never less): {e}"
        );
    }
}

/// Writes the rules' enforcement policies into the kernel (atomically replacing the
/// previous ones) and says what they can do on this kernel.
fn apply_policies(sensor: &Sensor, set: &vigil_rules::RuleSet, opts: &RunOptions, at_start: bool) {
    use crate::enforcement;
    let slots = enforcement::slots(set);
    let tables = enforcement::tables(&slots, opts.enforcement, &opts.allow_exe);
    if let Err(e) = sensor.set_policies(&tables) {
        eprintln!("vigil: error: enforcement policies not applied (the previous ones stay in force): {e}");
        return;
    }
    if slots.is_empty() {
        return;
    }
    let rules: std::collections::BTreeSet<&str> = slots.iter().map(|s| s.rule.as_str()).collect();
    let lsm = vigil_sensor::probe::lsm_programs_load();
    eprintln!(
        "vigil: enforcement{}: {} policies from {} rules, mode {}; exec: SIGKILL at sched_process_exec (BPF LSM is {}{})",
        if at_start { "" } else { " reloaded" },
        slots.len(),
        rules.len(),
        match opts.enforcement {
            enforcement::Mode::Enforce => "enforce",
            enforcement::Mode::Audit => "audit (reports only)",
        },
        if lsm { "available but not used yet" } else { "refused by this kernel" },
        if lsm { "" } else { ": `deny` at exec is a kill" },
    );
    let connect = slots
        .iter()
        .any(|s| s.policy.trigger == vigil_rules::policy::Trigger::Connect);
    let attached = sensor.report.is_attached("policy_connect4") && sensor.report.is_attached("policy_connect6");
    if connect && !attached {
        eprintln!(
            "vigil: error: network policies are loaded but policy_connect4/6 are not attached (see `vigil doctor`): connects are NOT denied"
        );
    }
}

/// The kernel's burst detectors count what the rules' lists name.
fn feed_detectors(sensor: &Sensor, rules: &vigil_rules::RuleSet) {
    let list = |n: &str| rules.list(n).map(<[String]>::to_vec).unwrap_or_default();
    if let Err(e) = sensor.set_detector_lists(
        &list("vigil_discovery_commands"),
        &list("vigil_fingerprint_files"),
        &list("vigil_dns_resolvers"),
    ) {
        eprintln!("vigil: warning: could not set the detector lists: {e}");
    }
}

/// One line for stderr: what crossed, what was lost, how big the tree is.
pub fn stats_line(k: &KernelStats, u: &PipelineStats, up: Duration) -> String {
    let t = k.total();
    let kinds: Vec<String> = u.decode.decoded.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!(
        "stats: up={}s kernel seen={} filtered={} deduped={} sent={} lost={} lost_per_cpu={:?} missed={} | decoded {} malformed={} unknown_values={} | tree={} unknown_pid={}",
        up.as_secs(),
        t.seen,
        t.filtered,
        t.deduped,
        t.sent,
        t.lost,
        k.lost_per_cpu,
        k.missed(),
        kinds.join(" "),
        u.decode.malformed_total(),
        u.decode.unknown_values,
        u.tree_size,
        u.tree.unknown_pid,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_sensor::HookCounts;

    fn stats(lost: &[(&'static str, u64)]) -> KernelStats {
        KernelStats {
            hooks: lost
                .iter()
                .map(|&(n, lost)| {
                    (
                        n,
                        HookCounts {
                            lost,
                            ..HookCounts::default()
                        },
                    )
                })
                .collect(),
            lost_per_cpu: vec![lost.iter().map(|(_, n)| n).sum()],
            ..KernelStats::default()
        }
    }

    #[test]
    fn losses_are_reported_once_with_what_is_new_per_hook() {
        let mut r = LossReported::default();
        assert!(r.news(&stats(&[("exec", 0), ("openat", 0)])).is_none());
        let n = r.news(&stats(&[("exec", 2), ("openat", 5)])).expect("new losses");
        assert_eq!((n["lost_new"].as_u64(), n["lost_total"].as_u64()), (Some(7), Some(7)));
        assert_eq!(n["lost_new_by_hook"]["openat"], 5);
        assert!(
            r.news(&stats(&[("exec", 2), ("openat", 5)])).is_none(),
            "nothing new, nothing said"
        );
        let n = r.news(&stats(&[("exec", 2), ("openat", 9)])).expect("more losses");
        assert_eq!((n["lost_new"].as_u64(), n["lost_total"].as_u64()), (Some(4), Some(11)));
        assert!(
            n["lost_new_by_hook"].get("exec").is_none(),
            "only hooks that lost more are named"
        );
    }
}

//! `vigil-bench run`: configurations × workloads × runs, interleaved; medians, ratios
//! against the baseline of the same session; markdown tables, JSON and a chart.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::hookstats::{HookCost, Snapshot, StatsOn};
use crate::peers::{self, AgentCost, Config, Ctx, IdleCost, Session};
use crate::probe::{percentile, Probe, ProbeOutcome};
use crate::sys;
use crate::workloads::{self, TempDir, Workload};

pub struct Opts {
    pub runs: usize,
    pub configs: Vec<Config>,
    pub workloads: Vec<Workload>,
    pub vigil: PathBuf,
    pub json: PathBuf,
    pub scale: f64,
    pub idle_secs: f64,
    pub probe_interval: Duration,
    pub chart: bool,
    /// One more vigil run per workload with `bpf_stats` on, for the per-hook table.
    pub hook_stats: bool,
    /// Run every workload inside a podman container (the host's root as an overlay), with
    /// vigil asking podman's API about it.
    pub in_container: bool,
    /// Extra `vigil run` arguments.
    pub agent_args: Vec<String>,
}

/// podman options our machines need (runc: crun refuses hybrid cgroups; cgroupfs: no
/// systemd; rlimits settable without CAP_SYS_RESOURCE), and the host's root as the
/// container's, under an overlay so that nothing it writes lands on the host.
const PODMAN_WORKLOAD: &[&str] = &[
    "run",
    "--rm",
    "--runtime",
    "runc",
    "--cgroup-manager=cgroupfs",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=4096:4096",
    "--network",
    "host",
    "--rootfs",
    "/:O",
];

/// podman's API service for the run, stopped with it.
struct PodmanService(std::process::Child);

impl Drop for PodmanService {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_podman_service(sock: &Path) -> Result<PodmanService> {
    let podman = sys::find_program("podman")
        .context("--in-container needs podman (apt install podman runc: scripts/setup.sh)")?;
    let child = Command::new(podman)
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", sock.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting podman system service")?;
    let svc = PodmanService(child);
    for _ in 0..600 {
        if std::os::unix::net::UnixStream::connect(sock).is_ok() {
            return Ok(svc);
        }
        sys::sleep(Duration::from_millis(50))?;
    }
    bail!("podman system service: no socket at {} after 30 s", sock.display())
}

/// The generated directories the workloads run in.
struct Fixtures {
    make: Option<TempDir>,
    tree: Option<TempDir>,
}

impl Fixtures {
    fn dir_for(&self, w: Workload) -> Option<&Path> {
        match w {
            Workload::Make => self.make.as_ref().map(|d| d.0.as_path()),
            w if w.needs_tree() => self.tree.as_ref().map(|d| d.0.as_path()),
            _ => None,
        }
    }
}

/// One workload run under one configuration.
#[derive(Debug, Clone, Serialize)]
struct Sample {
    run: usize,
    config: Config,
    workload: Workload,
    iterations: u64,
    /// In the workload's unit (higher is better).
    throughput: f64,
    wall_secs: f64,
    agent: Option<AgentCost>,
    /// Probe actions done during the run (every configuration is probed alike).
    probe_actions: u64,
    /// What the agent made of them (configurations that alert).
    probe: Option<ProbeOutcome>,
    /// Kernel time by program (the per-hook runs only, with `bpf_stats` on).
    #[serde(skip_serializing_if = "Option::is_none")]
    hooks: Option<Vec<HookCost>>,
}

/// Medians (and totals) for one (configuration, workload).
#[derive(Debug, Clone, Serialize)]
struct Row {
    config: Config,
    workload: Workload,
    unit: &'static str,
    runs: usize,
    throughput: f64,
    baseline: f64,
    /// throughput / baseline, medians of the same session.
    ratio: f64,
    slowdown_pct: f64,
    cpu_secs: Option<f64>,
    cpu_pct_of_core: Option<f64>,
    kernel_thread_cpu_secs: Option<f64>,
    /// Agent CPU per 1,000 events delivered to it, ms.
    cpu_ms_per_1k_events: Option<f64>,
    peak_rss_mib: Option<f64>,
    events_seen: Option<f64>,
    events_delivered: Option<f64>,
    events_lost_total: Option<u64>,
    events_lost_max: Option<u64>,
    alerts_written: Option<f64>,
    alerts_suppressed_total: Option<u64>,
    probe_actions: Option<u64>,
    probe_alerts: Option<u64>,
    alerts_lost: Option<u64>,
    detect_p50_ms: Option<f64>,
    detect_p99_ms: Option<f64>,
    detect_max_ms: Option<f64>,
    deliver_p50_ms: Option<f64>,
    deliver_p99_ms: Option<f64>,
    deliver_max_ms: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
struct Target {
    target: String,
    pass: bool,
    detail: String,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

pub fn run(o: Opts) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("vigil-bench run needs root (eBPF, auditd): run it with sudo");
    }
    sys::install_signal_handlers();
    let tmp = TempDir::new("vigil-bench")?;
    let mut ctx = Ctx::new(o.vigil.clone(), tmp.0.clone(), &o.configs)?;
    ctx.agent_args = o.agent_args.clone();
    let _podman = if o.in_container {
        let sock = tmp.0.join("podman.sock");
        let svc = start_podman_service(&sock)?;
        ctx.container_socket = Some(sock);
        Some(svc)
    } else {
        None
    };
    // If auditd runs: a sentinel restores the audit state however this process ends.
    let _sentinel = if o.configs.contains(&Config::Auditd) {
        peers::recover_audit_state("a previous run did not restore the audit state")?;
        Some(SentinelGuard(peers::spawn_sentinel()?))
    } else {
        None
    };
    let fixtures = Fixtures {
        make: if o.workloads.contains(&Workload::Make) {
            eprintln!("generating and building the C project of the make workload once...");
            Some(workloads::generate_make_project()?)
        } else {
            None
        },
        tree: if o.workloads.iter().any(|w| w.needs_tree()) {
            eprintln!("generating the file tree of the open-many and open-missing workloads...");
            Some(workloads::generate_tree()?)
        } else {
            None
        },
    };
    let meta = meta(&o, &ctx);

    let idle = if o.idle_secs > 0.0 && o.configs.iter().any(|c| c.is_vigil()) {
        eprintln!(
            "idle: vigil run (default rules), 2 s to settle, then {} s...",
            o.idle_secs
        );
        let i = peers::measure_idle(&ctx, Duration::from_secs(2), Duration::from_secs_f64(o.idle_secs))
            .context("idle measurement of vigil (default rules)")?;
        eprintln!("idle: {:.2} % CPU, RSS {:.1} MiB", i.cpu_pct, i.rss_mib);
        Some(i)
    } else {
        None
    };

    let me = std::env::current_exe()?;
    let started = Instant::now();
    let mut samples: Vec<Sample> = Vec::new();
    for run in 0..o.runs {
        for &config in &o.configs {
            for &w in &o.workloads {
                sys::check_interrupted()?;
                let s = one_run(&ctx, &me, &o, &fixtures, run, config, w, false)
                    .with_context(|| format!("configuration {config}, workload {w}, run {}", run + 1))?;
                progress(&s, o.runs);
                samples.push(s);
            }
        }
    }
    let mut hook_samples = Vec::new();
    if o.hook_stats && o.configs.contains(&Config::Vigil) {
        eprintln!("per-hook kernel time: one more vigil run per workload, bpf_stats on...");
        for &w in &o.workloads {
            sys::check_interrupted()?;
            let s = one_run(&ctx, &me, &o, &fixtures, o.runs, Config::Vigil, w, true)
                .with_context(|| format!("per-hook run of workload {w}"))?;
            progress(&s, o.runs);
            hook_samples.push(s);
        }
    }
    eprintln!("all runs done in {:.0} s", started.elapsed().as_secs_f64());

    let rows = summarize(&o, &samples);
    let targets = targets(&o, &rows, idle.as_ref());
    print_tables(&o, &rows, idle.as_ref(), &targets);
    print_hook_table(&hook_samples);

    if let Some(dir) = o.json.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let doc = serde_json::json!({
        "meta": meta,
        "idle": idle,
        "summary": rows,
        "targets": targets,
        "samples": samples,
        "hook_stats": hook_samples,
    });
    std::fs::write(&o.json, serde_json::to_string_pretty(&doc)?)
        .with_context(|| format!("writing {}", o.json.display()))?;
    eprintln!("\nresults written to {}", o.json.display());
    if o.chart {
        render_chart(&o.json, &o.json.with_extension("png"));
    }
    Ok(())
}

/// Closing the sentinel's stdin tells it we are done (it then restores anything left).
struct SentinelGuard(std::process::Child);

impl Drop for SentinelGuard {
    fn drop(&mut self) {
        drop(self.0.stdin.take());
        let _ = self.0.wait();
    }
}

/// One workload run under `config`; with `hook_stats`, `bpf_stats` is on during it and the
/// kernel time of each of the agent's programs is taken.
#[allow(clippy::too_many_arguments)]
fn one_run(
    ctx: &Ctx,
    me: &Path,
    o: &Opts,
    fixtures: &Fixtures,
    run: usize,
    config: Config,
    w: Workload,
    hook_stats: bool,
) -> Result<Sample> {
    let n = ((w.iterations() as f64) * o.scale).round().max(1.0) as u64;
    let mut session = Session::start(ctx, config)?;
    session.check_alive()?;
    let stats = match (hook_stats, session.agent_pid()) {
        (true, Some(pid)) => {
            let on = StatsOn::enable()?;
            Some((on, pid, Snapshot::take(pid)?))
        }
        _ => None,
    };
    let probe = Probe::start(o.probe_interval);
    let mut cmd = if o.in_container {
        let mut c = Command::new(sys::find_program("podman").context("podman")?);
        c.args(PODMAN_WORKLOAD).arg(me);
        c
    } else {
        Command::new(me)
    };
    cmd.args(["workload", &w.to_string(), &n.to_string()]);
    if let Some(d) = fixtures.dir_for(w) {
        cmd.arg("--dir").arg(d);
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let t0 = Instant::now();
    let result = run_workload(cmd);
    let wall_secs = t0.elapsed().as_secs_f64();
    let actions = probe.stop();
    let (exit, stdout, stderr) = result?;
    if !exit.success() {
        bail!("the workload failed ({}): {}", exit.describe(), stderr.trim());
    }
    let throughput: f64 = stdout.trim().parse().context("workload output")?;
    let hooks = match stats {
        Some((on, pid, before)) => {
            let after = Snapshot::take(pid)?;
            drop(on);
            Some(before.delta(&after, n))
        }
        None => None,
    };
    session.check_alive().context("during the workload")?;
    let (agent, probe) = session.finish(&actions)?;
    Ok(Sample {
        run,
        config,
        workload: w,
        iterations: n,
        throughput,
        wall_secs,
        agent,
        probe_actions: actions.pids.len() as u64,
        probe,
        hooks,
    })
}

/// Runs the workload child (in its own process group, killed with it on Ctrl-C) and returns
/// how it ended with its stdout and stderr.
fn run_workload(cmd: Command) -> Result<(sys::Exit, String, String)> {
    let mut child = sys::Managed::spawn(cmd, "workload", libc::SIGKILL)?;
    let out = read_all(child.child.stdout.take());
    let err = read_all(child.child.stderr.take());
    let exit = loop {
        if let Some(e) = child.exited() {
            break e;
        }
        if sys::interrupted() {
            child.signal_group(libc::SIGKILL);
            child.stop(libc::SIGKILL, Duration::from_secs(5));
            bail!("interrupted");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // Anything the workload left in its group (make's children) goes with it.
    child.signal_group(libc::SIGKILL);
    Ok((exit, out.join().unwrap_or_default(), err.join().unwrap_or_default()))
}

fn read_all<R: std::io::Read + Send + 'static>(r: Option<R>) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(mut r) = r {
            let _ = r.read_to_string(&mut s);
        }
        s
    })
}

fn progress(s: &Sample, runs: usize) {
    let mut line = format!(
        "run {}/{runs} {:>12} {:>9}: {:>10.1} {:<10} ({:.1} s)",
        s.run + 1,
        s.config.to_string(),
        s.workload.to_string(),
        s.throughput,
        s.workload.unit(),
        s.wall_secs
    );
    if let Some(a) = &s.agent {
        line += &format!(
            " | {} cpu {:.2} s rss {:.1} MiB delivered {} lost {}",
            a.process, a.cpu_secs, a.peak_rss_mib, a.events_delivered, a.events_lost
        );
    }
    if let Some(p) = &s.probe {
        line += &format!(" | probe alerts {}/{}", p.alerted, p.actions);
    }
    eprintln!("{line}");
}

fn summarize(o: &Opts, samples: &[Sample]) -> Vec<Row> {
    let mut rows = Vec::new();
    for &w in &o.workloads {
        let of = |c: Config| samples.iter().filter(move |s| s.config == c && s.workload == w);
        let base = median(of(Config::Baseline).map(|s| s.throughput).collect()).unwrap_or(f64::NAN);
        for &c in &o.configs {
            let tp = median(of(c).map(|s| s.throughput).collect()).unwrap_or(f64::NAN);
            let agents: Vec<(&AgentCost, f64)> = of(c)
                .filter_map(|s| s.agent.as_ref().map(|a| (a, s.wall_secs)))
                .collect();
            let am = |f: &dyn Fn(&AgentCost) -> f64| median(agents.iter().map(|(a, _)| f(a)).collect());
            let has_agent = !agents.is_empty();
            let probes: Vec<&ProbeOutcome> = of(c).filter_map(|s| s.probe.as_ref()).collect();
            let mut det: Vec<u64> = probes.iter().flat_map(|p| p.detect_ns.iter().copied()).collect();
            let mut del: Vec<u64> = probes.iter().flat_map(|p| p.deliver_ns.iter().copied()).collect();
            det.sort_unstable();
            del.sort_unstable();
            let ms = |v: Option<u64>| v.map(|x| x as f64 / 1e6);
            let has_probe = !probes.is_empty();
            rows.push(Row {
                config: c,
                workload: w,
                unit: w.unit(),
                runs: of(c).count(),
                throughput: tp,
                baseline: base,
                ratio: tp / base,
                slowdown_pct: (1.0 - tp / base) * 100.0,
                cpu_secs: am(&|a| a.cpu_secs + a.kernel_thread_cpu_secs),
                cpu_pct_of_core: median(
                    agents
                        .iter()
                        .map(|(a, wall)| (a.cpu_secs + a.kernel_thread_cpu_secs) / wall * 100.0)
                        .collect(),
                ),
                cpu_ms_per_1k_events: median(
                    agents
                        .iter()
                        .filter(|(a, _)| a.events_delivered > 0)
                        .map(|(a, _)| (a.cpu_secs + a.kernel_thread_cpu_secs) * 1e6 / a.events_delivered as f64)
                        .collect(),
                ),
                kernel_thread_cpu_secs: if c == Config::Auditd {
                    am(&|a| a.kernel_thread_cpu_secs)
                } else {
                    None
                },
                peak_rss_mib: agents.iter().map(|(a, _)| a.peak_rss_mib).reduce(f64::max),
                events_seen: if agents.iter().all(|(a, _)| a.events_seen.is_some()) {
                    am(&|a| a.events_seen.unwrap_or(0) as f64)
                } else {
                    None
                },
                events_delivered: am(&|a| a.events_delivered as f64),
                events_lost_total: has_agent.then(|| agents.iter().map(|(a, _)| a.events_lost).sum()),
                events_lost_max: agents.iter().map(|(a, _)| a.events_lost).max(),
                alerts_written: if c.alerts() {
                    am(&|a| a.alerts_written.unwrap_or(0) as f64)
                } else {
                    None
                },
                alerts_suppressed_total: c
                    .alerts()
                    .then(|| agents.iter().map(|(a, _)| a.alerts_suppressed.unwrap_or(0)).sum()),
                probe_actions: has_probe.then(|| probes.iter().map(|p| p.actions).sum()),
                probe_alerts: has_probe.then(|| probes.iter().map(|p| p.alerted).sum()),
                alerts_lost: has_probe.then(|| probes.iter().map(|p| p.lost).sum()),
                detect_p50_ms: ms(percentile(&det, 0.5)),
                detect_p99_ms: ms(percentile(&det, 0.99)),
                detect_max_ms: ms(det.last().copied()),
                deliver_p50_ms: ms(percentile(&del, 0.5)),
                deliver_p99_ms: ms(percentile(&del, 0.99)),
                deliver_max_ms: ms(del.last().copied()),
            });
        }
    }
    rows
}

fn row(rows: &[Row], c: Config, w: Workload) -> Option<&Row> {
    rows.iter().find(|r| r.config == c && r.workload == w)
}

const MAX_SLOWDOWN_PCT: f64 = 5.0;
const MAX_RSS_MIB: f64 = 64.0;
const MAX_IDLE_CPU_PCT: f64 = 1.0;

/// vigil's slowdown vs the floor's: (pass, detail).
fn floor_check(rows: &[Row], w: Workload) -> Option<(bool, String)> {
    let v = row(rows, Config::Vigil, w)?;
    let f = row(rows, Config::Floor, w)?;
    let pass = v.slowdown_pct <= 2.0 * f.slowdown_pct.max(0.0);
    let mut d = format!("{:.1}% vs floor {:.1}%", v.slowdown_pct, f.slowdown_pct);
    if f.slowdown_pct.abs() < 1.0 {
        d += ", floor within noise";
    }
    Some((pass, d))
}

fn targets(o: &Opts, rows: &[Row], idle: Option<&IdleCost>) -> Vec<Target> {
    let mut t = Vec::new();
    let has = |c: Config| o.configs.contains(&c);
    if has(Config::Vigil) {
        let parts: Vec<(bool, String)> = o
            .workloads
            .iter()
            .filter_map(|&w| row(rows, Config::Vigil, w))
            .map(|r| {
                (
                    r.slowdown_pct <= MAX_SLOWDOWN_PCT,
                    format!("{} {:.1}%", r.workload, r.slowdown_pct),
                )
            })
            .collect();
        t.push(Target {
            target: format!("vigil slowdown <= {MAX_SLOWDOWN_PCT}% on every workload"),
            pass: parts.iter().all(|p| p.0),
            detail: parts.iter().map(|p| p.1.clone()).collect::<Vec<_>>().join(", "),
        });
        if has(Config::Floor) {
            let parts: Vec<(bool, String)> = o
                .workloads
                .iter()
                .filter_map(|&w| floor_check(rows, w).map(|(p, d)| (p, format!("{w} {d}"))))
                .collect();
            t.push(Target {
                target: "vigil slowdown <= 2x the floor's on every workload".into(),
                pass: parts.iter().all(|p| p.0),
                detail: parts.iter().map(|p| p.1.clone()).collect::<Vec<_>>().join("; "),
            });
        }
        for c in [Config::Vigil, Config::VigilStream].into_iter().filter(|c| has(*c)) {
            let (actions, lost): (u64, u64) = o
                .workloads
                .iter()
                .filter_map(|&w| row(rows, c, w))
                .map(|r| (r.probe_actions.unwrap_or(0), r.alerts_lost.unwrap_or(0)))
                .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
            let ev: Vec<String> = o
                .workloads
                .iter()
                .filter_map(|&w| row(rows, c, w))
                .map(|r| format!("{} {}", r.workload, r.events_lost_total.unwrap_or(0)))
                .collect();
            t.push(Target {
                target: format!("{c}: zero alerts lost on every workload"),
                pass: lost == 0 && actions > 0,
                detail: format!(
                    "{lost} of {actions} probe alerts lost; events lost (all runs): {}",
                    ev.join(", ")
                ),
            });
        }
        let rss = o
            .workloads
            .iter()
            .filter_map(|&w| row(rows, Config::Vigil, w)?.peak_rss_mib)
            .reduce(f64::max);
        if let Some(rss) = rss {
            t.push(Target {
                target: format!("vigil peak RSS < {MAX_RSS_MIB} MiB (default rules)"),
                pass: rss < MAX_RSS_MIB,
                detail: format!("max over all runs {rss:.1} MiB"),
            });
        }
    }
    if let Some(i) = idle {
        t.push(Target {
            target: format!("vigil idle CPU < {MAX_IDLE_CPU_PCT}%"),
            pass: i.cpu_pct < MAX_IDLE_CPU_PCT,
            detail: format!("{:.2}% over {:.0} s (RSS {:.1} MiB)", i.cpu_pct, i.secs, i.rss_mib),
        });
    }
    t
}

fn thousands(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    if x < 0.0 && out != "0" {
        out.insert(0, '-');
    }
    out
}

fn opt<T>(v: Option<T>, f: impl Fn(T) -> String) -> String {
    v.map(f).unwrap_or_else(|| "-".into())
}

fn print_tables(o: &Opts, rows: &[Row], idle: Option<&IdleCost>, targets: &[Target]) {
    let others: Vec<Config> = o.configs.iter().copied().filter(|c| *c != Config::Baseline).collect();
    let has_vigil = others.contains(&Config::Vigil);
    let has_floor = others.contains(&Config::Floor);
    println!(
        "## Throughput with each agent / without (median of {} runs, same session; higher is better, 1.000 = no slowdown)\n",
        o.runs
    );
    let mut head = String::from("| workload | baseline |");
    let mut sep = String::from("|---|---|");
    for c in &others {
        head += &format!(" {c} |");
        sep += "---|";
    }
    if has_vigil {
        head += &format!(" vigil <= {MAX_SLOWDOWN_PCT}% slowdown |");
        sep += "---|";
        if has_floor {
            head += " vigil <= 2x floor slowdown |";
            sep += "---|";
        }
    }
    println!("{head}\n{sep}");
    for &w in &o.workloads {
        let Some(b) = row(rows, Config::Baseline, w) else {
            continue;
        };
        let base = if b.throughput < 100.0 {
            format!("{:.2}", b.throughput)
        } else {
            thousands(b.throughput)
        };
        let mut line = format!("| {w} | {base} {} |", w.unit());
        for &c in &others {
            line += &format!(" {} |", opt(row(rows, c, w), |r| format!("{:.3}", r.ratio)));
        }
        if has_vigil {
            if let Some(v) = row(rows, Config::Vigil, w) {
                let ok = v.slowdown_pct <= MAX_SLOWDOWN_PCT;
                line += &format!(" {} ({:.1}%) |", if ok { "pass" } else { "**miss**" }, v.slowdown_pct);
            }
            if let Some((ok, d)) = floor_check(rows, w) {
                line += &format!(" {} ({d}) |", if ok { "pass" } else { "**miss**" });
            }
        }
        println!("{line}");
    }

    println!(
        "\nEvery configuration, baseline included, runs the workload alongside the same probe (`sh -c '{}'` \
         every {} ms). Workloads: open = open/read/close of /etc/hostname (one hot file); open-many = open/read/close \
         cycling over 3,000 generated headers; open-missing = module lookups along an 8-directory search path, 7 \
         of 8 opens fail with ENOENT; read-write = `dd bs=512` from /dev/zero to /dev/null (syscalls no rule \
         watches); fork-exec = spawn /bin/true; connect = loopback TCP connect, the listener accepts and closes; \
         make = `make clean && make -j2` of a generated C project (150 files, -O0 -g, in /tmp).",
        crate::probe::PROBE_SCRIPT,
        o.probe_interval.as_millis()
    );
    println!("\n## What each agent cost and lost (median per workload run; lost: sum over all runs)\n");
    println!("| config | workload | CPU s | CPU % of a core | CPU ms / 1,000 events | peak RSS MiB | events seen in kernel | events delivered | events lost |");
    println!("|---|---|---|---|---|---|---|---|---|");
    for &c in &others {
        for &w in &o.workloads {
            let Some(r) = row(rows, c, w) else { continue };
            println!(
                "| {c} | {w} | {} | {} | {} | {} | {} | {} | {} |",
                opt(r.cpu_secs, |x| format!("{x:.2}")),
                opt(r.cpu_pct_of_core, |x| format!("{x:.1}")),
                opt(r.cpu_ms_per_1k_events, |x| format!("{x:.2}")),
                opt(r.peak_rss_mib, |x| format!("{x:.1}")),
                opt(r.events_seen, thousands),
                opt(r.events_delivered, thousands),
                opt(r.events_lost_total, |x| thousands(x as f64)),
            );
        }
    }
    println!(
        "\nCPU: from ready to exit (startup excluded, draining after the workload included); auditd's includes the \
         kauditd kernel thread. CPU per 1,000 events: the agent's CPU over the events delivered to it. Delivered: vigil, records the kernel sent to userspace; auditd, records logged; \
         bpftrace, lines printed. Lost: vigil, ring buffer drops + skipped hook runs; auditd, the kernel's lost \
         counter; bpftrace, its \"Lost N events\"."
    );

    let alerting: Vec<Config> = others.iter().copied().filter(|c| c.alerts()).collect();
    if !alerting.is_empty() {
        println!(
            "\n## Alert latency and alert loss under load (probe: `sh -c '{}'` every {} ms in a new process, rule \"{}\")\n",
            crate::probe::PROBE_SCRIPT,
            o.probe_interval.as_millis(),
            crate::probe::PROBE_RULE
        );
        println!("| config | workload | probe actions | alerts | alerts lost | syscall→decision p50 | p99 | syscall→bench p50 | p99 | max |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let ms = |x: f64| format!("{x:.2} ms");
        for &c in &alerting {
            for &w in &o.workloads {
                let Some(r) = row(rows, c, w) else { continue };
                println!(
                    "| {c} | {w} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    opt(r.probe_actions, |x| x.to_string()),
                    opt(r.probe_alerts, |x| x.to_string()),
                    opt(r.alerts_lost, |x| if x == 0 { "0".into() } else { format!("**{x}**") }),
                    opt(r.detect_p50_ms, ms),
                    opt(r.detect_p99_ms, ms),
                    opt(r.deliver_p50_ms, ms),
                    opt(r.deliver_p99_ms, ms),
                    opt(r.deliver_max_ms, ms),
                );
            }
        }
        println!(
            "\nDecision: `alert.detected_ktime - evt.ktime` (in the agent). Bench: when the alert line reached the \
             bench through the agent's stdout pipe, minus `evt.ktime` (same clock)."
        );
    }

    if let Some(i) = idle {
        println!(
            "\n## Idle\n\n`vigil run` (default rules) on the idle machine, {:.0} s after 2 s to settle: {:.2} % of a core \
             ({:.3} CPU s), RSS {:.1} MiB (peak {:.1} MiB), {} events sent by the kernel over its life.",
            i.secs, i.cpu_pct, i.cpu_secs, i.rss_mib, i.peak_rss_mib, i.events_delivered
        );
    }
    if !targets.is_empty() {
        println!("\n## Targets\n");
        println!("| target | result | detail |");
        println!("|---|---|---|");
        for t in targets {
            println!(
                "| {} | {} | {} |",
                t.target,
                if t.pass { "pass" } else { "**miss**" },
                t.detail
            );
        }
    }
}

/// Kernel time per workload iteration, by program, from the runs with `bpf_stats` on.
fn print_hook_table(samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    println!("\n## Kernel time by hook (vigil, one more run per workload with bpf_stats on; not in the ratios)\n");
    println!("| workload | program | runs per iteration | ns per run | ns per iteration |");
    println!("|---|---|---|---|---|");
    for s in samples {
        let Some(hooks) = &s.hooks else { continue };
        let total: f64 = hooks.iter().map(|h| h.ns_per_iteration).sum();
        for h in hooks.iter().filter(|h| h.ns_per_iteration >= total * 0.01) {
            println!(
                "| {} | {} | {:.2} | {:.0} | {:.0} |",
                s.workload, h.program, h.runs_per_iteration, h.ns_per_run, h.ns_per_iteration
            );
        }
        println!("| {} | **all programs** | | | **{total:.0}** |", s.workload);
    }
    println!(
        "\nIteration: one open/read/close, one lookup attempt, one read+write pair, one spawn, one connect, one \
         build. Programs under 1 % of a workload's total are left out. Syscall handlers reached by a tail call \
         count in `sys_exit_dispatch`. bpf_stats adds two clock reads to every program run, so these times are \
         a little higher than in the throughput runs."
    );
}

fn meta(o: &Opts, ctx: &Ctx) -> serde_json::Value {
    let cmd_out = |prog: &Path, args: &[&str]| {
        Command::new(prog).args(args).output().ok().map(|o| {
            String::from_utf8_lossy(if o.stdout.is_empty() { &o.stderr } else { &o.stdout })
                .trim()
                .to_string()
        })
    };
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut versions = BTreeMap::new();
    versions.insert("vigil", cmd_out(&ctx.vigil, &["--version"]));
    if let Some(b) = &ctx.bpftrace {
        versions.insert("bpftrace", cmd_out(b, &["--version"]));
    }
    if let Some((_, c)) = &ctx.auditd {
        versions.insert("auditctl", cmd_out(c, &["-v"]));
    }
    serde_json::json!({
        "unix_time": now,
        "kernel": cmd_out(Path::new("uname"), &["-r"]),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "loadavg_at_start": load.trim(),
        "runs": o.runs,
        "scale": o.scale,
        "configs": o.configs,
        "workloads": o.workloads,
        "iterations": o.workloads.iter().map(|w| (w.to_string(), ((w.iterations() as f64) * o.scale).round().max(1.0) as u64)).collect::<BTreeMap<_, _>>(),
        "probe_interval_ms": o.probe_interval.as_millis() as u64,
        "versions": versions,
        "in_container": o.in_container,
        "audit_rules": peers::AUDIT_RULES,
        "bpftrace_script": peers::TRACE_BT,
    })
}

const CHART_PY: &str = include_str!("../chart.py");

/// bench/chart.py (embedded) with the first python3 that has matplotlib; a warning if none.
fn render_chart(json: &Path, png: &Path) {
    let mut last = String::new();
    for py in ["/usr/bin/python3", "python3"] {
        let child = Command::new(py)
            .arg("-")
            .arg(json)
            .arg(png)
            .stdin(Stdio::piped())
            .stdout(Stdio::inherit())
            .stderr(Stdio::piped())
            .spawn();
        let Ok(mut child) = child else { continue };
        if let Some(mut stdin) = child.stdin.take() {
            use std::io::Write;
            let _ = stdin.write_all(CHART_PY.as_bytes());
        }
        match child.wait_with_output() {
            Ok(out) if out.status.success() => {
                eprintln!("chart written to {}", png.display());
                return;
            }
            Ok(out) => last = String::from_utf8_lossy(&out.stderr).trim().to_string(),
            Err(e) => last = e.to_string(),
        }
    }
    if last.contains("matplotlib") || last.is_empty() {
        eprintln!(
            "vigil-bench: WARNING: no chart: python3 with matplotlib not found (Debian package python3-matplotlib): \
             run scripts/setup.sh --bench"
        );
    } else {
        eprintln!("vigil-bench: WARNING: no chart: bench/chart.py failed: {last}");
    }
}

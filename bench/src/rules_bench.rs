//! Rule evaluation throughput: events/s through a rule set on one core.
//!
//! A synthetic but realistic stream (processes in a tree, execs, opens of system and
//! user files, renames, connects, flows, DNS) is encoded into kernel records once; the
//! timed part runs the agent's own pipeline over it (decode, process tree, rules,
//! alert output to a sink), and separately the rule engine alone.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Result;
use vigil::{HostFacts, Pipeline, PipelineConfig, RuleEvent, RuleSources};
use vigil_event::model::{Net, NetOp};
use vigil_event::{decode, encode, Body, Event, Exec, File, FileOp, Fork, Text};
use vigil_proctree::{ProcessTree, TreeConfig};
use vigil_rules::{Engine, EngineConfig, RuleSet};

const OPEN_PATHS: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/etc/ld.so.cache",
    "/usr/share/locale/locale.alias",
    "/home/dev/project/src/main.c",
    "/home/dev/project/include/util.h",
    "/tmp/ccA1b2C3.s",
    "/proc/self/status",
    "/etc/passwd",
    "/var/log/syslog",
    "/etc/shadow",
];

/// A deterministic stream of `n` events from 200 processes.
fn synthetic(n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::with_capacity(n + 256);
    let mut t = 1_000_000_000u64;
    let mut next_t = || {
        t += 1_000;
        t
    };
    let ev = |pid: u32, ktime: u64, comm: &str, body: Body| Event {
        ktime,
        pid,
        tid: pid,
        uid: 1000,
        gid: 1000,
        cgroup_id: 1,
        comm: comm.into(),
        body,
    };
    let exec = |pid: u32, ppid: u32, exe: &str, argv: &[&str]| Exec {
        ppid,
        euid: 1000,
        loginuid: 1000,
        exe: exe.into(),
        filename: exe.into(),
        argv: argv.iter().map(|a| Text::from(*a)).collect(),
        env: vec!["PATH=/usr/bin:/bin".into(), "HOME=/home/dev".into()],
        cwd: "/home/dev/project".into(),
        start_ktime: pid as u64,
        ..Exec::default()
    };
    out.push(encode(&ev(
        1,
        next_t(),
        "systemd",
        Body::Snapshot(Box::new(exec(1, 0, "/usr/lib/systemd/systemd", &["/sbin/init"]))),
    )));
    out.push(encode(&ev(
        100,
        next_t(),
        "bash",
        Body::Snapshot(Box::new(exec(100, 1, "/usr/bin/bash", &["-bash"]))),
    )));
    let programs = [
        ("make", "/usr/bin/make"),
        ("cc1", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1"),
        ("git", "/usr/bin/git"),
        ("python3", "/usr/bin/python3.11"),
        ("curl", "/usr/bin/curl"),
    ];
    let mut i = 0usize;
    while out.len() < n {
        let pid = 1000 + (i % 200) as u32;
        let (comm, exe) = programs[i % programs.len()];
        let body = match i % 20 {
            0 => {
                let at = next_t();
                out.push(encode(&ev(
                    100,
                    at,
                    "bash",
                    Body::Fork(Fork {
                        child_pid: pid,
                        child_ppid: 100,
                        child_start_ktime: at,
                    }),
                )));
                Body::Exec(Box::new(exec(pid, 100, exe, &[comm, "-c", "x"])))
            }
            1..=11 => {
                let path = OPEN_PATHS[i % OPEN_PATHS.len()];
                Body::File(Box::new(File {
                    op: FileOp::Open,
                    syscall: 257,
                    fd: 3,
                    ret: 3,
                    flags: if i.is_multiple_of(3) { 0o101 } else { 0 },
                    mode: 0o644,
                    uid: u32::MAX,
                    gid: u32::MAX,
                    vflags: 0x44,
                    dev: 1,
                    ino: i as u64,
                    aux: 0,
                    i_mode: 0o100644,
                    path: path.into(),
                    path2: None,
                }))
            }
            12..=14 => Body::File(Box::new(File {
                op: if i.is_multiple_of(2) {
                    FileOp::Rename
                } else {
                    FileOp::Unlink
                },
                syscall: if i.is_multiple_of(2) { 316 } else { 263 },
                fd: -1,
                ret: 0,
                flags: 0,
                mode: 0,
                uid: u32::MAX,
                gid: u32::MAX,
                vflags: 0x8,
                dev: 0,
                ino: 0,
                aux: 0,
                i_mode: 0,
                path: "/home/dev/project/build/obj.o.tmp".into(),
                path2: Some("/home/dev/project/build/obj.o".into()),
            })),
            15..=18 => Body::Net(Box::new(Net {
                op: if i.is_multiple_of(2) {
                    NetOp::Connect
                } else {
                    NetOp::FlowEnd
                },
                syscall: if i.is_multiple_of(2) { 42 } else { 0 },
                fd: 4,
                ret: 0,
                family: 2,
                sock_type: 1,
                protocol: 6,
                direction: 1,
                lport: 40000 + (i % 1000) as u16,
                rport: 443,
                flags: 0,
                laddr: Some("10.0.0.5".parse().expect("ip")),
                raddr: Some("140.82.112.3".parse().expect("ip")),
                cookie: i as u64,
                start_ktime: 0,
                bytes_out: 1000,
                bytes_in: 50_000,
                pkts_out: 10,
                pkts_in: 40,
                closer_pid: pid,
                newfd: 0,
                unix_path: None,
                names: vec!["github.com".into()],
                policy: None,
            })),
            _ => Body::Exit(vigil_event::Exit {
                status: 0,
                start_ktime: 0,
            }),
        };
        out.push(encode(&ev(pid, next_t(), comm, body)));
        i += 1;
    }
    out
}

fn load(sources: &RuleSources) -> Result<Arc<RuleSet>> {
    Ok(sources.load().map_err(|e| anyhow::anyhow!("{e}"))?.into_shared())
}

struct Row {
    name: String,
    rules: usize,
    pipeline_eps: f64,
    engine_eps: f64,
    alerts: u64,
}

fn measure(name: &str, rules: Arc<RuleSet>, records: &[Vec<u8>]) -> Result<Row> {
    // the whole userspace path, as `vigil run` does it
    let mut p = Pipeline::new(
        PipelineConfig {
            emit_events: false,
            rules: Some(Arc::clone(&rules)),
            engine: EngineConfig::default(),
            boot_to_realtime_ns: 0,
            tree: TreeConfig::default(),
            host: None,
            container_endpoints: Vec::new(),
            format: vigil::AlertFormat::Json,
            outputs: None,
        },
        Box::new(std::io::sink()),
        None,
    );
    let start = Instant::now();
    for r in records {
        p.process_record(r)?;
    }
    let pipeline_eps = records.len() as f64 / start.elapsed().as_secs_f64();
    let alerts = p.stats().written.get("alerts").copied().unwrap_or(0);

    // the rule engine alone, on events already decoded and placed in the tree
    let events: Vec<Event> = records.iter().filter_map(|r| decode(r).ok()).collect();
    let mut tree = ProcessTree::new(TreeConfig::default());
    let host = HostFacts::default();
    let placed: Vec<_> = events
        .iter()
        .map(|e| {
            let proc = tree.apply(e).unwrap_or_default();
            (e, proc, tree.ancestors(e.pid))
        })
        .collect();
    let mut engine = Engine::new(Arc::clone(&rules), EngineConfig::default());
    let mut out = Vec::new();
    let start = Instant::now();
    for (n, (e, proc, anc)) in placed.iter().enumerate() {
        if matches!(e.body, Body::Snapshot(_)) {
            continue;
        }
        let view = RuleEvent::new(e, n as u64, proc, anc, &host, 0);
        engine.process(&view, &mut out);
        out.clear();
    }
    let engine_eps = placed.len() as f64 / start.elapsed().as_secs_f64();
    Ok(Row {
        name: name.into(),
        rules: rules.rules().iter().filter(|r| r.enabled).count(),
        pipeline_eps,
        engine_eps,
        alerts,
    })
}

pub fn run(events: usize, falco_dir: Option<&str>) -> Result<()> {
    let records = synthetic(events);
    let mut rows = vec![measure(
        "vigil built-in rules",
        load(&RuleSources {
            builtin: true,
            agent: Default::default(),
            paths: vec![],
            trusted_only: false,
        })?,
        &records,
    )?];
    if let Some(dir) = falco_dir {
        let paths = [
            "falco_rules.yaml",
            "falco-incubating_rules.yaml",
            "falco-sandbox_rules.yaml",
        ]
        .iter()
        .map(|f| std::path::Path::new(dir).join(f))
        .filter(|p| p.exists())
        .collect::<Vec<_>>();
        if !paths.is_empty() {
            rows.push(measure(
                "Falco's 3 upstream files",
                load(&RuleSources {
                    builtin: false,
                    paths,
                    agent: Default::default(),
                    trusted_only: false,
                })?,
                &records,
            )?);
        }
    }
    println!("## Rule evaluation, one core, {} synthetic events\n", records.len());
    println!("| rule set | enabled rules | full pipeline (decode, tree, rules, output) | rule engine alone | alerts |");
    println!("|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {:.0} events/s | {:.0} events/s | {} |",
            r.name, r.rules, r.pipeline_eps, r.engine_eps, r.alerts
        );
    }
    Ok(())
}

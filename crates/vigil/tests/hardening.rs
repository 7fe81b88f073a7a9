//! Hardening (issue 16): least privilege, faults the agent must survive with exact counts
//! (a full ring buffer, the agent stopped under load, a full disk, rule reloads in a
//! storm), and the agent's own files kept from other users.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// The capabilities the running agent keeps (docs/privileges.md): CAP_DAC_READ_SEARCH (2),
/// CAP_SYS_PTRACE (19), CAP_PERFMON (38), CAP_BPF (39); and CAP_SYS_ADMIN (21) while
/// uprobes are in use.
const KEPT_MASK: u64 = (1 << 2) | (1 << 19) | (1 << 38) | (1 << 39);
const CAP_SYS_ADMIN: u64 = 1 << 21;
const UPROBE_PROGRAMS: [&str; 5] = [
    "uprobe_readline",
    "uprobe_pam_enter",
    "uprobe_pam_return",
    "uprobe_getaddrinfo",
    "uretprobe_getaddrinfo",
];

/// `--disable-program` for every uprobe.
fn without_uprobes() -> Vec<&'static str> {
    UPROBE_PROGRAMS.iter().flat_map(|p| ["--disable-program", p]).collect()
}

/// A rule of the test's own that fires when a copy of /bin/true named `vigil-hard-<n>` runs.
struct Marker {
    dir: TempDir,
}

impl Marker {
    fn new() -> Marker {
        let dir = TempDir::new("hardening");
        std::fs::write(dir.path().join("rules.yaml"), marker_rule("Hardening test marker")).expect("rules");
        Marker { dir }
    }

    fn rules(&self) -> String {
        self.dir.path().join("rules.yaml").display().to_string()
    }

    fn fire(&self, n: u32) {
        let exe = self.dir.path().join(format!("vigil-hard-{n}"));
        if !exe.exists() {
            std::fs::copy("/bin/true", &exe).expect("copy true");
        }
        assert!(Command::new(&exe).status().expect("run marker").success());
    }
}

fn marker_rule(name: &str) -> String {
    format!(
        "- rule: {name}\n  desc: a binary named vigil-hard-* ran\n  condition: evt.type = execve and proc.name startswith vigil-hard-\n  \
         output: \"marker %proc.name ran\"\n  priority: WARNING\n  rate_limit: none\n"
    )
}

fn marker_alert(lines: &[Value], rule: &str, n: u32) -> bool {
    lines
        .iter()
        .any(|v| v["alert"]["rule"] == rule && v["proc"]["name"] == format!("vigil-hard-{n}"))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o777
}

/// A `Name:\tvalue` line of /proc/<pid>/task/<tid>/status, parsed as hex.
fn status_hex(status: &str, key: &str) -> u64 {
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| u64::from_str_radix(v.trim_start_matches(':').trim(), 16).ok())
        .unwrap_or_else(|| panic!("no {key} in\n{status}"))
}

fn rss_kib(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("agent status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

fn open_fds(pid: i32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).expect("agent fds").count()
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill(2) with the agent's pid.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0, "signal {sig} to the agent");
}

#[test]
fn after_attach_the_agent_keeps_four_capabilities_and_its_files_are_root_s_alone() {
    let m = Marker::new();
    let dir = TempDir::new("private");
    let recording = dir.path().join("run.rec");
    let spool = dir.path().join("spool").join("webhook");
    let rules = m.rules();
    let mut args = vec![
        "--rules",
        &rules,
        "--record",
        recording.to_str().expect("utf8"),
        // nothing listens on port 9: alerts wait in the spool
        "--webhook",
        "http://127.0.0.1:9/alerts",
        "--webhook-spool",
        spool.to_str().expect("utf8"),
    ];
    // without uprobes, nothing the running agent does needs CAP_SYS_ADMIN
    args.extend(without_uprobes());
    let agent = Agent::start(&args);
    let pid = agent.pid();
    // every thread of the agent: capabilities are per thread
    let tasks: Vec<PathBuf> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("agent tasks")
        .map(|e| e.expect("task").path())
        .collect();
    assert!(
        tasks.len() >= 3,
        "the agent runs its rule, container and output threads: {tasks:?}"
    );
    for task in &tasks {
        let status = std::fs::read_to_string(task.join("status")).expect("task status");
        for set in ["CapEff", "CapPrm", "CapBnd"] {
            assert_eq!(
                status_hex(&status, set),
                KEPT_MASK,
                "{set} of {}: {:x}",
                task.display(),
                status_hex(&status, set)
            );
        }
        assert_eq!(status_hex(&status, "CapInh"), 0);
        assert_eq!(status_hex(&status, "CapAmb"), 0);
        assert_eq!(status_hex(&status, "NoNewPrivs"), 1);
    }
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("capabilities after attach: cap_dac_read_search,cap_sys_ptrace,cap_perfmon,cap_bpf")),
        "{:?}",
        agent.stderr()
    );
    // what the running agent does still works: alerts, a reload that rewrites kernel maps
    m.fire(1);
    agent.wait_for("the first marker alert", WAIT, |l| {
        marker_alert(l, "Hardening test marker", 1)
    });
    signal(pid, libc::SIGHUP);
    wait_until("the reload", || {
        agent
            .stderr()
            .iter()
            .any(|l| l.starts_with("vigil: rules reloaded"))
            .then_some(())
    });
    m.fire(2);
    agent.wait_for("a marker alert after the reload", WAIT, |l| {
        marker_alert(l, "Hardening test marker", 2)
    });
    // the agent's files: alerts, statistics, recording, spool
    wait_until("the spool", || std::fs::read_dir(&spool).ok()?.next().map(|_| ()));
    assert!(
        agent.wait_for_stats(WAIT, Value::is_object).is_object(),
        "the statistics file"
    );
    for (what, path, want) in [
        ("output", agent.output.clone(), 0o600),
        ("statistics", agent.stats_file(), 0o600),
        ("recording", recording.clone(), 0o600),
        ("spool directory", spool.clone(), 0o700),
    ] {
        assert_eq!(mode(&path), want, "{what} {}", path.display());
    }
    for f in std::fs::read_dir(&spool).expect("spool") {
        let f = f.expect("spool file").path();
        assert_eq!(mode(&f), 0o600, "{}", f.display());
    }
    // and another user cannot read them
    let nobody = Command::new(need("setpriv"))
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "cat"])
        .arg(&recording)
        .output()
        .expect("setpriv");
    assert!(!nobody.status.success(), "nobody read the recording");
    agent.stop();

    // with uprobes (the default), CAP_SYS_ADMIN stays for attaching them to new binaries
    let agent = Agent::start(&[]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).expect("status");
    assert_eq!(status_hex(&status, "CapEff"), KEPT_MASK | CAP_SYS_ADMIN);
    assert_eq!(status_hex(&status, "CapBnd"), KEPT_MASK | CAP_SYS_ADMIN);
    agent.stop();

    // --keep-capabilities opts out
    let agent = Agent::start(&["--keep-capabilities"]);
    let status = std::fs::read_to_string(format!("/proc/{}/status", agent.pid())).expect("status");
    assert_ne!(
        status_hex(&status, "CapEff") & !(KEPT_MASK | CAP_SYS_ADMIN),
        0,
        "more than the kept five"
    );
    assert!(agent.stderr().iter().any(|l| l.contains("keeping every capability")));
    agent.stop();
}

#[test]
fn an_agent_stopped_10_s_under_load_catches_up_and_counts_every_loss_in_stream_and_outputs() {
    let m = Marker::new();
    let dir = TempDir::new("loss");
    let alerts_file = dir.path().join("alerts.jsonl");
    let target = dir.path().join("target");
    std::fs::write(&target, b"x").expect("target");
    // every open crosses (no kernel filter) into a 1 MiB ring the stopped agent never drains
    let agent = Agent::start(&[
        "--rules",
        &m.rules(),
        "--no-builtin-rules",
        "--no-kernel-filter",
        "--ringbuf-mb",
        "1",
        "--alerts-file",
        alerts_file.to_str().expect("utf8"),
    ]);
    let pid = agent.pid();
    signal(pid, libc::SIGSTOP);
    let c = std::ffi::CString::new(target.to_str().expect("utf8")).expect("cstring");
    let stopped = Instant::now();
    let mut opens = 0u64;
    while stopped.elapsed() < Duration::from_secs(10) {
        for _ in 0..1000 {
            // SAFETY: a valid path; the fd is closed at once.
            unsafe {
                let fd = libc::open(c.as_ptr(), libc::O_RDONLY);
                assert!(fd >= 0);
                libc::close(fd);
            }
        }
        opens += 1000;
    }
    signal(pid, libc::SIGCONT);
    agent.wait_for("the loss notice", WAIT, |l| {
        l.iter().any(|v| v["notice"] == "events_lost")
    });
    // it catches up: what happens after the stop is seen (a marker whose exec arrives while
    // the rings are still full is lost and counted like any other event: fire until one is
    // seen)
    let caught_up = (1..=30).find(|&n| {
        m.fire(n);
        std::thread::sleep(Duration::from_millis(300));
        let lines = agent.lines();
        (1..=n).any(|k| marker_alert(&lines, "Hardening test marker", k))
    });
    assert!(caught_up.is_some(), "no marker alert after the stop");
    let lines = agent.lines();
    let notices: Vec<&Value> = lines.iter().filter(|v| v["notice"] == "events_lost").collect();
    let first = notices[0];
    assert_eq!(first["alert"]["rule"], "Vigil events lost", "{first}");
    assert_eq!(first["alert"]["priority"], "CRITICAL", "{first}");
    assert!(
        first["lost_new_by_hook"]["open"].as_u64().unwrap_or(0) > 0,
        "the open hook lost events: {first}"
    );
    let reported: u64 = notices.iter().map(|n| n["lost_new"].as_u64().expect("lost_new")).sum();
    assert_eq!(
        reported,
        notices.last().expect("notice")["lost_total"]
            .as_u64()
            .expect("lost_total"),
        "each notice says what is new, together what is lost"
    );
    // the same alert on the other outputs
    wait_until("the loss alert in the alerts file", || {
        std::fs::read_to_string(&alerts_file)
            .ok()?
            .contains("\"rule\":\"Vigil events lost\"")
            .then_some(())
    });
    let (_, summary) = agent.stop();
    assert_kernel_accounting(&summary);
    let open = hook_counts(&summary, "open");
    let n = |k: &str| open[k].as_u64().unwrap_or(0);
    assert!(n("seen") >= opens, "the kernel saw {} opens of {opens}", n("seen"));
    assert_eq!(
        n("sent") + n("lost") + n("filtered") + n("deduped"),
        n("seen"),
        "{open}"
    );
    assert!(n("lost") > 0, "a 1 MiB ring cannot hold 10 s of opens: {open}");
    eprintln!(
        "stopped 10 s: {opens} opens, the open hook saw {} sent {} lost {}; {} loss notices",
        n("seen"),
        n("sent"),
        n("lost"),
        notices.len()
    );
    assert!(
        summary["lost_total"].as_u64().expect("lost_total") >= reported,
        "the summary counts at least what the stream said"
    );
    assert_decoded_what_was_sent(&summary, vigil_event::abi::kind::FILE, "file");
}

#[test]
fn a_full_disk_costs_counted_lines_never_the_agent_and_the_outputs_resume() {
    let m = Marker::new();
    let mnt = TempDir::new("tmpfs");
    let ok = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "vigil-full",
            mnt.path().to_str().expect("utf8"),
        ])
        .status()
        .expect("mount");
    assert!(ok.success(), "mounting a small tmpfs (root needed)");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(mnt.path());
    let alerts_file = mnt.path().join("alerts.jsonl");
    let recording = mnt.path().join("run.rec");
    let agent = Agent::start(&[
        "--rules",
        &m.rules(),
        "--no-builtin-rules",
        "--alerts-file",
        alerts_file.to_str().expect("utf8"),
        "--record",
        recording.to_str().expect("utf8"),
        "--output-queue",
        "4",
    ]);
    m.fire(1);
    wait_until("the first alert in the file", || {
        std::fs::read_to_string(&alerts_file)
            .ok()?
            .contains("vigil-hard-1")
            .then_some(())
    });
    // fill the disk
    let filler = mnt.path().join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=4k"])
        .arg(format!("of={}", filler.display()))
        .output()
        .expect("dd");
    for n in 2..=20 {
        m.fire(n);
    }
    let lines = agent.wait_for("the file output's loss in the stream", WAIT, |l| {
        (2..=20).all(|n| marker_alert(l, "Hardening test marker", n))
            && l.iter().any(|v| v["notice"] == "output_dropped")
    });
    let notice = lines.iter().find(|v| v["notice"] == "output_dropped").expect("notice");
    assert!(str_of(&notice["output"]).starts_with("file:"), "{notice}");
    let stats = agent.wait_for_stats(WAIT, |s| s["userspace"]["recording"]["stopped_by"].is_string());
    assert!(
        str_of(&stats["userspace"]["recording"]["stopped_by"]).contains("No space left"),
        "the recording stopped at the full disk: {}",
        stats["userspace"]["recording"]
    );
    // room again: new alerts reach the file
    std::fs::remove_file(&filler).expect("free the disk");
    m.fire(21);
    wait_until("an alert in the file after the disk had room", || {
        std::fs::read_to_string(&alerts_file)
            .ok()?
            .contains("vigil-hard-21")
            .then_some(())
    });
    let (lines, summary) = agent.stop();
    let produced = lines
        .iter()
        .filter(|v| v["alert"]["rule"] == "Hardening test marker")
        .count() as u64;
    assert_eq!(produced, 21, "the main stream has every alert");
    let o = &summary["outputs"][0];
    let in_file = std::fs::read_to_string(&alerts_file)
        .expect("alerts file")
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("whole JSON lines only"))
        .filter(|v| v["alert"]["rule"] == "Hardening test marker")
        .count() as u64;
    assert_eq!(o["sent"].as_u64(), Some(in_file), "{o}");
    assert_eq!(
        in_file + o["dropped"].as_u64().unwrap_or(0),
        produced,
        "every alert is in the file or counted dropped: {o}"
    );
    assert!(o["dropped"].as_u64().unwrap_or(0) > 0, "{o}");
    // the recording ends at the disk's end and replays what it holds
    let replay = Command::new(vigil_bin())
        .args(["replay", "--no-builtin-rules", "--rules", &m.rules()])
        .arg(&recording)
        .output()
        .expect("replay");
    let err = String::from_utf8_lossy(&replay.stderr);
    assert!(replay.status.success() || err.contains("cannot be framed"), "{err}");
    assert!(
        String::from_utf8_lossy(&replay.stdout).contains("vigil-hard-1"),
        "the recording holds the first alert's exec"
    );
}

#[test]
fn rules_reloaded_100_times_a_second_leak_nothing_and_the_last_good_rules_stay() {
    let m = Marker::new();
    let rules = m.rules();
    let agent = Agent::start(&["--rules", &rules, "--no-builtin-rules"]);
    let pid = agent.pid();
    let reloads = |agent: &Agent| {
        agent
            .stderr()
            .iter()
            .filter(|l| l.starts_with("vigil: rules reloaded"))
            .count()
    };
    let failures = |agent: &Agent| {
        agent
            .stderr()
            .iter()
            .filter(|l| l.starts_with("vigil: rules reload failed"))
            .count()
    };
    // warm up: a few reloads before the baseline
    for _ in 0..20 {
        signal(pid, libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_until("warm-up reloads", || (reloads(&agent) > 0).then_some(()));
    std::thread::sleep(Duration::from_secs(1));
    let (rss_before, fds_before) = (rss_kib(pid), open_fds(pid));
    // 1,000 SIGHUPs at 100 a second, the file alternating between good and broken
    for i in 0..1000u32 {
        let text = if i % 2 == 0 {
            marker_rule(&format!("Reload storm rule {i}"))
        } else {
            "- rule: broken\n  condition: evt.type = (\n".to_string()
        };
        std::fs::write(&rules, text).expect("rewrite rules");
        signal(pid, libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(10));
    }
    // the last good version, then a broken one: the good one must stay in force
    let before = reloads(&agent);
    std::fs::write(&rules, marker_rule("Last good rule")).expect("rules");
    signal(pid, libc::SIGHUP);
    wait_until("the last good rules loaded", || {
        (reloads(&agent) > before).then_some(())
    });
    let failed_before = failures(&agent);
    std::fs::write(&rules, "- rule: broken\n  condition: evt.type = (\n").expect("rules");
    signal(pid, libc::SIGHUP);
    wait_until("the broken rules refused", || {
        (failures(&agent) > failed_before).then_some(())
    });
    m.fire(1);
    agent.wait_for("the last good rule's alert", WAIT, |l| {
        marker_alert(l, "Last good rule", 1)
    });
    let (rss_after, fds_after) = (rss_kib(pid), open_fds(pid));
    eprintln!(
        "reload storm: {} reloads, {} refused, RSS {rss_before} -> {rss_after} KiB, fds {fds_before} -> {fds_after}",
        reloads(&agent),
        failures(&agent)
    );
    assert!(reloads(&agent) >= 20, "reloads happened: {}", reloads(&agent));
    assert!(failures(&agent) >= 2, "refusals happened: {}", failures(&agent));
    assert!(
        fds_after <= fds_before + 2,
        "file descriptors {fds_before} -> {fds_after}"
    );
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} KiB to {rss_after} KiB over a thousand reloads"
    );
    let (lines, _) = agent.stop();
    assert!(
        !lines
            .iter()
            .any(|v| str_of(&v["alert"]["rule"]).starts_with("Reload storm rule")),
        "only the rules in force fire"
    );
}

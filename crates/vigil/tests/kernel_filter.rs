//! The kernel-side filter never changes which alerts fire.
//!
//! Two agents watch the host at the same time: one as shipped (the rules' interest
//! filters and deduplicates in the kernel), one with `--no-kernel-filter` (every event
//! crosses). A detached runner then does attack-shaped things from every rule family,
//! plus repetitions the filter deduplicates and near misses it drops. Both agents must
//! raise the same alerts (rule, process, file) for the runner's processes, and the
//! first must really have filtered and deduplicated.
//!
//! Needs root and eBPF, like every agent test: it fails, never skips, without them.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{assert_kernel_accounting, hook_counts, in_tree, wait_until, Agent, Runner, TempDir, PY};
use serde_json::Value;

/// Files outside the temp dir that scenarios create; removed whatever happens.
struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
            let _ = std::fs::remove_file(p);
        }
    }
}

/// (rule, pid, file) of every alert for the runner's processes.
fn alert_keys(lines: &[Value], runner: u32) -> BTreeSet<(String, u64, String)> {
    lines
        .iter()
        .filter(|v| v["alert"].is_object())
        .filter(|v| in_tree(v, runner))
        .map(|v| {
            (
                v["alert"]["rule"].as_str().unwrap_or("").to_string(),
                v["proc"]["pid"].as_u64().unwrap_or(0),
                v["fd"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn kernel_filtering_and_dedup_do_not_change_alerts() {
    let runner = Runner::start("filter-eq");
    let nonce = format!("vigil-eq-{}", std::process::id());
    let home = PathBuf::from(format!("/home/{nonce}"));
    let cron = format!("/etc/cron.d/{nonce}");
    let sudoers = format!("/etc/sudoers.d/{nonce}");
    let _cleanup = Cleanup(vec![home.clone(), cron.clone().into(), sudoers.clone().into()]);
    let t = runner.path().display().to_string();
    let h = home.display().to_string();

    let setpriv = format!("{} --reuid=65534 --regid=65534 --clear-groups", common::need("setpriv"));
    let vigil = std::fs::canonicalize(common::vigil_bin())
        .expect("vigil binary")
        .display()
        .to_string();
    let (filtered, unfiltered) = Agent::start_pair(&[], &["--no-kernel-filter"]);

    let scenarios = [
        // credential access: an exact path, read once and then fifty times (deduplicated)
        "cat /etc/shadow > /dev/null".to_string(),
        format!("{PY} -c 'for i in range(50): open(\"/etc/shadow\").read()'"),
        // another process's environment: a glob the filter keeps by its tail
        format!("{PY} -c 'open(\"/proc/1/environ\").read()'"),
        // drop and execute, then the setuid bit on the dropped file (chmod: every event)
        format!("cp /bin/true {t}/dropped && {t}/dropped && chmod u+s {t}/dropped"),
        // a reverse shell on loopback
        format!(
            "{PY} -c \"import socket,subprocess;l=socket.socket();l.bind(('127.0.0.1',0));l.listen();\
             p=l.getsockname()[1];subprocess.Popen(['bash','-c','exec 3<>/dev/tcp/127.0.0.1/%d; exec 0<&3 1>&3; \
             exec sh -c true' % p]).wait()\""
        ),
        // persistence: a home's authorized_keys written, then another renamed into place
        format!("mkdir -p {h}/.ssh && echo key >> {h}/.ssh/authorized_keys"),
        format!("echo key > {t}/k && mv {t}/k {h}/.ssh/authorized_keys2"),
        format!("echo '# {nonce}' > {cron} && rm -f {cron}"),
        format!("echo '# {nonce}' > {sudoers} && rm -f {sudoers}"),
        format!("{PY} -c 'open(\"/etc/passwd\", \"a\").close()'"),
        // defense evasion: history truncated, removed, linked to /dev/null (basenames)
        format!("echo x > {h}/.bash_history && : > {h}/.bash_history && rm {h}/.bash_history"),
        format!("ln -sf /dev/null {h}/.bash_history"),
        // a binary deleting itself while it runs (a kernel finding)
        format!("cp /bin/sleep {t}/selfdel && ({t}/selfdel 1 & sleep 0.3; rm {t}/selfdel; wait)"),
        // a sequence: a FIFO in /tmp opened, then a relay exec'd by the same process
        format!("mkfifo {t}/f && sh -c 'exec 3<>{t}/f; exec nc -z 127.0.0.1 9'"),
        // failed calls some rules want (the kernel keeps failures only on their paths): an
        // attempt, refused, to write the agent's executable and to open pid 1's namespaces
        format!("{setpriv} /bin/sh -c ': >> {vigil}' 2>/dev/null; true"),
        format!("{setpriv} cat /proc/1/ns/mnt 2>/dev/null; true"),
        // near misses the filter drops: ordinary reads and writes in ordinary places, and
        // opens that fail along a search path
        format!("cat /etc/hostname > /dev/null && echo x > {t}/plain && cat {t}/plain > /dev/null"),
        format!(
            "{PY} -c 'import os\nfor i in range(200):\n  try: open(\"{t}/nope/m%d.py\" % i)\n  except OSError: pass'"
        ),
    ];
    for s in &scenarios {
        runner.run(&["/bin/sh", "-c", s]);
    }
    // every record is delivered within a few milliseconds; the stop drains the rest
    std::thread::sleep(Duration::from_millis(1500));
    let (with_filter, summary_on) = filtered.stop();
    let (without_filter, summary_off) = unfiltered.stop();

    let on = alert_keys(&with_filter, runner.pid);
    let off = alert_keys(&without_filter, runner.pid);
    let only_on: Vec<_> = on.difference(&off).collect();
    let only_off: Vec<_> = off.difference(&on).collect();
    assert!(
        only_on.is_empty() && only_off.is_empty(),
        "the kernel filter changed the alerts.\nonly with the filter: {only_on:#?}\nonly without: {only_off:#?}"
    );
    let rules: BTreeSet<&str> = on.iter().map(|(r, _, _)| r.as_str()).collect();
    for failed in ["Vigil agent executable modified", "Namespaces of pid 1 entered"] {
        assert!(
            rules.contains(failed),
            "the refused attempt raised `{failed}`: {rules:#?}"
        );
    }
    assert!(
        rules.len() >= 8,
        "the scenarios should raise alerts from many rules for the comparison to mean something; got {rules:#?}"
    );

    // the first agent really filtered and deduplicated; the second did neither
    let open_on = hook_counts(&summary_on, "open");
    assert!(
        open_on["filtered"].as_u64().unwrap_or(0) > 0,
        "nothing filtered: {open_on}"
    );
    assert!(
        open_on["deduped"].as_u64().unwrap_or(0) >= 40,
        "fifty reads of /etc/shadow should be deduplicated: {open_on}"
    );
    let open_off = hook_counts(&summary_off, "open");
    assert_eq!(open_off["filtered"], 0, "{open_off}");
    assert_eq!(open_off["deduped"], 0, "{open_off}");
    assert!(
        open_off["sent"].as_u64().unwrap_or(0) > open_on["sent"].as_u64().unwrap_or(0),
        "the unfiltered agent should receive more: {open_off} vs {open_on}"
    );
    assert_eq!(summary_on["kernel_filter"], true);
    assert_eq!(summary_off["kernel_filter"], false);
    assert_kernel_accounting(&summary_on);
    assert_kernel_accounting(&summary_off);
}

#[test]
fn vigil_stats_shows_what_the_kernel_filtered_and_rules_explain_shows_the_filter() {
    let agent = Agent::start(&[]);
    // a file no rule cares about, opened many times: filtered in the kernel
    for _ in 0..200 {
        let _ = std::fs::read("/etc/hostname");
    }
    let stats = agent.stats_file();
    let out = wait_until("vigil stats to show filtered opens", || {
        let out = Command::new(common::vigil_bin())
            .args(["stats", "--file"])
            .arg(&stats)
            .output()
            .expect("run vigil stats");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let open = text.lines().find(|l| l.starts_with("open "))?;
        let filtered: u64 = open.split_whitespace().nth(2)?.parse().ok()?;
        (out.status.success() && filtered >= 200).then_some(text)
    });
    assert!(out.contains("kernel filter on"), "{out}");
    assert!(out.contains("lost per CPU"), "{out}");
    let (_, _) = agent.stop();
    // the agent removes its stats file when it stops; `vigil stats` then says so
    let out = Command::new(common::vigil_bin())
        .args(["stats", "--file"])
        .arg(&stats)
        .output()
        .expect("run vigil stats");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `vigil run` running"));

    let out = Command::new(common::vigil_bin())
        .args(["rules", "explain"])
        .output()
        .expect("run vigil rules explain");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("open          only paths of interest"), "{text}");
    assert!(text.contains("/etc/shadow"), "{text}");
    assert!(!text.contains("/etc/hostname"), "{text}");
    assert!(text.contains("Deduplication: the same event"), "{text}");
}

/// The kernel remembers "no rule wants this path" per opened file (bpf/include/filter.h)
/// so that the next open of it skips the path walk. Renaming a directory above the file
/// changes its path without touching the file: the kernel must forget, or a read under
/// the new, interesting name would be dropped.
#[test]
fn a_renamed_directory_makes_the_kernel_forget_what_it_cached() {
    // not under /tmp: the built-in rules watch all of /tmp for named pipes
    let home = TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), "verdict-cache");
    let stuff = home.path().join("stuff");
    std::fs::create_dir_all(&stuff).expect("mkdir");
    std::fs::write(stuff.join("config"), "apiVersion: v1\nkind: Config\n").expect("write");
    let agent = Agent::start(&[]);
    let cat = |p: &Path| {
        let ok = Command::new("cat")
            .arg(p)
            .stdout(Stdio::null())
            .status()
            .expect("cat")
            .success();
        assert!(ok, "cat {}", p.display());
    };
    // read under an uninteresting name: filtered in the kernel, and remembered
    for _ in 0..5 {
        cat(&stuff.join("config"));
    }
    let kube = home.path().join(".kube");
    std::fs::rename(&stuff, &kube).expect("rename");
    let config = kube.join("config");
    cat(&config);
    let name = config.to_str().expect("utf-8").to_string();
    agent.wait_for("the kubeconfig read under its new name", Duration::from_secs(20), |l| {
        l.iter().any(|v| {
            v["alert"]["rule"] == "Kubernetes credentials read by unexpected program"
                && v["fd"]["name"] == name.as_str()
        })
    });
    let (lines, summary) = agent.stop();
    assert_kernel_accounting(&summary);
    assert!(
        hook_counts(&summary, "open")["filtered"].as_u64().unwrap_or(0) >= 5,
        "the reads under the old name were filtered in the kernel"
    );
    let old = stuff.join("config");
    assert!(
        !lines.iter().any(|v| v["fd"]["name"] == old.to_str().unwrap_or("")),
        "nothing crossed for the old name"
    );
}

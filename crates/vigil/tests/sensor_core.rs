//! The sensor core, for real: processes do things, the agent must report them.
//! Needs root and eBPF; fails (never skips) when the agent cannot load.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

fn args_of(v: &Value) -> Vec<String> {
    v["proc"]["args"]
        .as_array()
        .map(|a| a.iter().map(|x| str_of(x).to_string()).collect())
        .unwrap_or_default()
}

fn ancestor_pids(v: &Value) -> Vec<u64> {
    v["ancestors"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["pid"].as_u64()).collect())
        .unwrap_or_default()
}

#[test]
fn shell_running_cat_is_reported_with_pids_and_ancestry() {
    let agent = Agent::start(&["--events"]);
    let me = std::process::id();
    let status = Command::new("/bin/sh")
        .args(["-c", "cat /etc/hostname"])
        .stdout(Stdio::null())
        .spawn()
        .expect("sh");
    let sh_pid = status.id();
    let out = status.wait_with_output().expect("wait sh");
    assert!(out.status.success());

    let lines = agent.wait_for("exit of sh", WAIT, |l| {
        kind(l, "exit").any(|v| v["proc"]["pid"] == sh_pid)
    });
    // fork by the test process
    assert!(
        kind(&lines, "fork").any(|v| v["proc"]["pid"] == me && v["fork"]["child_pid"] == sh_pid),
        "no fork of {sh_pid} by the test process {me}"
    );
    // exec of sh with argv
    let sh_exec = kind(&lines, "exec")
        .find(|v| v["proc"]["pid"] == sh_pid)
        .expect("exec of sh");
    assert_eq!(args_of(sh_exec), ["/bin/sh", "-c", "cat /etc/hostname"]);
    assert_eq!(sh_exec["exec"]["filename"], "/bin/sh");
    assert_eq!(sh_exec["proc"]["ppid"], me);
    assert_eq!(sh_exec["proc"]["exe"], "/bin/sh", "proc.exe is argv[0], as in Falco");
    assert!(
        str_of(&sh_exec["proc"]["exepath"]).ends_with("sh"),
        "{}",
        sh_exec["proc"]["exepath"]
    );
    // exec of cat, child of sh
    let cat_exec = kind(&lines, "exec")
        .find(|v| v["proc"]["ppid"] == sh_pid && v["proc"]["exepath"] == "/usr/bin/cat")
        .expect("exec of cat by sh");
    let cat_pid = cat_exec["proc"]["pid"].as_u64().expect("pid");
    assert_eq!(args_of(cat_exec), ["cat", "/etc/hostname"]);
    assert_eq!(cat_exec["exec"]["prev_name"], "sh");
    assert!(kind(&lines, "fork").any(|v| v["proc"]["pid"] == sh_pid && v["fork"]["child_pid"] == cat_pid));
    // open of /etc/hostname, absolute, by cat, successful
    let open = file_events(&lines, "/etc/hostname")
        .into_iter()
        .find(|v| v["proc"]["pid"] == cat_pid)
        .expect("open of /etc/hostname by cat");
    assert_eq!(open["file"]["op"], "open");
    assert!(open["evt"]["res"].as_i64().unwrap_or(-1) >= 0);
    assert_eq!(open["fd"]["directory"], "/etc");
    assert_eq!(open["fd"]["filename"], "hostname");
    // ancestry up to the test process
    let anc = ancestor_pids(open);
    assert_eq!(anc[0], sh_pid as u64);
    assert!(anc.contains(&(me as u64)), "test process {me} not in ancestry {anc:?}");
    // both exits, successful
    for pid in [sh_pid as u64, cat_pid] {
        let x = kind(&lines, "exit")
            .find(|v| v["proc"]["pid"] == pid)
            .unwrap_or_else(|| panic!("exit of {pid}"));
        assert_eq!(x["exit"]["code"], 0);
    }
    let (_, summary) = agent.stop();
    assert_eq!(
        summary["userspace"]["decode"]["malformed"].as_object().map(|m| m.len()),
        Some(0)
    );
}

#[test]
fn file_paths_are_absolute_and_exact_in_hard_cases() {
    let dir = TempDir::new("paths");
    let d = dir.path().to_str().expect("utf8 temp dir").to_string();
    let agent = Agent::start(&["--events"]);

    // 1. relative open after chdir, 2. open through a dirfd, 3. a path longer than 1 KiB,
    // 4. a non-UTF-8 name, 5. unlink of a still-open file then ftruncate through its fd.
    let long_dir = format!(
        "{d}/{}",
        (0..6)
            .map(|i| format!("{}{i}", "d".repeat(200)))
            .collect::<Vec<_>>()
            .join("/")
    );
    let code = format!(
        r#"
import os
d = {d:?}
os.makedirs(d + "/sub", exist_ok=True)
open(d + "/sub/rel.txt", "w").close()
open(d + "/sub/viadirfd.txt", "w").close()
os.chdir(d + "/sub")
os.close(os.open("rel.txt", os.O_RDONLY))
dfd = os.open(d + "/sub", os.O_RDONLY | os.O_DIRECTORY)
os.close(os.open("viadirfd.txt", os.O_RDONLY, dir_fd=dfd))
os.close(os.open("../sub/./rel.txt", os.O_RDONLY, dir_fd=dfd))
os.unlink("missing.txt") if os.path.exists("missing.txt") else None
try:
    os.open("missing.txt", os.O_RDONLY)
except FileNotFoundError:
    pass
long_dir = {long_dir:?}
os.makedirs(long_dir, exist_ok=True)
os.close(os.open(long_dir + "/long.txt", os.O_WRONLY | os.O_CREAT, 0o600))
os.close(os.open(os.fsencode(d) + b"/caf\xe9\xff.txt", os.O_WRONLY | os.O_CREAT, 0o644))
fd = os.open(d + "/doomed.txt", os.O_RDWR | os.O_CREAT, 0o600)
os.unlink(d + "/doomed.txt")
os.ftruncate(fd, 0)
os.close(fd)
"#
    );
    let (py, _) = run_python(&code);
    let lines = agent.wait_for("python's ftruncate", WAIT, |l| {
        of_pid(l, py).any(|v| v["file"]["op"] == "truncate")
    });
    let mine: Vec<&Value> = of_pid(&lines, py).filter(|v| v["evt"]["kind"] == "file").collect();
    let find = |op: &str, path: &str| -> &Value {
        mine.iter()
            .find(|v| v["file"]["op"] == op && v["fd"]["name"] == path)
            .unwrap_or_else(|| {
                let seen: Vec<String> = mine
                    .iter()
                    .map(|v| format!("{} {}", v["file"]["op"], v["fd"]["name"]))
                    .collect();
                panic!("no {op} of {path}; saw:\n{}", seen.join("\n"))
            })
    };
    // relative to the cwd (and later "../sub/./rel.txt" via a dirfd): both resolved from
    // the opened file itself, after the chdir
    let rel_reads: Vec<&&Value> = mine
        .iter()
        .filter(|v| v["fd"]["name"] == format!("{d}/sub/rel.txt") && v["file"]["flags"][0] == "O_RDONLY")
        .collect();
    assert_eq!(rel_reads.len(), 2, "{rel_reads:?}");
    for rel in rel_reads {
        assert_eq!(rel["file"]["path_source"], "inode");
        assert_eq!(rel["proc"]["cwd"], format!("{d}/sub/"), "cwd follows chdir");
    }
    // through a dirfd, and with ./.. in the string
    find("open", &format!("{d}/sub/viadirfd.txt"));
    // a failed relative open: joined from the cwd in the kernel, errno reported
    let missing = find("open", &format!("{d}/sub/missing.txt"));
    assert_eq!(missing["evt"]["errno"], "ENOENT");
    assert_eq!(missing["file"]["path_source"], "joined");
    // more than 1 KiB
    let long = find("open", &format!("{long_dir}/long.txt"));
    assert!(str_of(&long["fd"]["name"]).len() > 1024);
    let flags = long["file"]["flags"].as_array().expect("flags");
    assert!(
        flags.contains(&"O_WRONLY".into()) && flags.contains(&"O_CREAT".into()),
        "{flags:?}"
    );
    assert_eq!(long["file"]["mode"], "600");
    // non-UTF-8 bytes survive as \x escapes
    find("open", &format!("{d}/caf\\xe9\\xff.txt"));
    // unlink of an open file, then the file is still reachable through its fd, flagged deleted
    find("unlink", &format!("{d}/doomed.txt"));
    let trunc = find("truncate", &format!("{d}/doomed.txt"));
    assert_eq!(trunc["file"]["path_source"], "inode");
    assert!(
        trunc["file"]["path_flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "deleted")),
        "{trunc}"
    );
    agent.stop();
}

#[test]
fn exec_of_deleted_binary_symlink_and_script() {
    let dir = TempDir::new("exec");
    let d = dir.path();
    let copy = d.join("mytrue");
    std::fs::copy("/bin/true", &copy).expect("copy true");
    let link = d.join("link-to-true");
    std::os::unix::fs::symlink("/bin/true", &link).expect("symlink");
    let script = d.join("script.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 3\n").expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let agent = Agent::start(&["--events"]);
    // A binary unlinked before it runs: opened, unlinked, executed through /proc/self/fd.
    let code = format!(
        "import os\nfd = os.open({:?}, os.O_RDONLY)\nos.unlink({:?})\nos.execv('/proc/self/fd/%d' % fd, ['ghost'])\n",
        copy.to_str().expect("utf8"),
        copy.to_str().expect("utf8")
    );
    let (ghost_pid, _) = run_python(&code);
    let link_pid = {
        let c = Command::new(&link).spawn().expect("run symlink");
        let pid = c.id();
        c.wait_with_output().expect("wait");
        pid
    };
    let script_pid = {
        let c = Command::new(&script).spawn().expect("run script");
        let pid = c.id();
        let out = c.wait_with_output().expect("wait");
        assert_eq!(out.status.code(), Some(3));
        pid
    };
    let lines = agent.wait_for("the three execs", WAIT, |l| {
        [ghost_pid, link_pid, script_pid]
            .iter()
            .all(|p| kind(l, "exit").any(|v| v["proc"]["pid"] == *p))
    });
    let exec_of = |pid: u32| -> &Value {
        kind(&lines, "exec")
            .filter(|v| v["proc"]["pid"] == pid)
            .last()
            .unwrap_or_else(|| panic!("no exec by {pid}"))
    };

    let ghost = exec_of(ghost_pid);
    assert_eq!(ghost["proc"]["exepath"], copy.to_str().expect("utf8"), "{ghost}");
    assert!(
        ghost["exec"]["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "exe_deleted")),
        "{ghost}"
    );
    assert_eq!(ghost["exec"]["prev_name"], "python3");

    let l = exec_of(link_pid);
    assert_eq!(l["exec"]["filename"], link.to_str().expect("utf8"));
    assert_eq!(
        l["proc"]["exepath"], "/usr/bin/true",
        "the symlink is resolved to the file that runs"
    );

    let s = exec_of(script_pid);
    assert_eq!(s["exec"]["filename"], script.to_str().expect("utf8"));
    assert_eq!(s["exec"]["interp"], "/bin/sh");
    assert!(s["exec"]["flags"]
        .as_array()
        .is_some_and(|f| f.iter().any(|x| x == "script")));
    assert!(str_of(&s["proc"]["exepath"]).ends_with("dash") || str_of(&s["proc"]["exepath"]).ends_with("sh"));
    let exit = kind(&lines, "exit")
        .find(|v| v["proc"]["pid"] == script_pid)
        .expect("script exit");
    assert_eq!(exit["exit"]["code"], 3);
    agent.stop();
}

#[test]
fn processes_started_before_the_agent_have_ancestry() {
    // sh waits on stdin, started before the agent; once the agent runs, it spawns cat.
    let mut sh = Command::new("/bin/sh")
        .args(["-c", "read line; cat /etc/hostname"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("sh");
    let sh_pid = sh.id();
    let agent = Agent::start(&["--events"]);
    sh.stdin.take().expect("stdin").write_all(b"go\n").expect("write");
    sh.wait().expect("wait sh");
    let lines = agent.wait_for("cat spawned by the pre-existing sh", WAIT, |l| {
        kind(l, "exec").any(|v| v["proc"]["ppid"] == sh_pid && v["proc"]["exepath"] == "/usr/bin/cat")
    });
    let cat = kind(&lines, "exec")
        .find(|v| v["proc"]["ppid"] == sh_pid)
        .expect("cat exec");
    let anc = cat["ancestors"].as_array().expect("ancestors");
    assert_eq!(anc[0]["pid"], sh_pid, "parent is the pre-existing sh");
    assert_eq!(
        anc[0]["args"],
        serde_json::json!(["/bin/sh", "-c", "read line; cat /etc/hostname"])
    );
    assert_eq!(anc[1]["pid"], std::process::id(), "then the test process");
    assert!(
        anc.len() >= 3,
        "ancestry goes further up than the test process: {anc:?}"
    );
    agent.stop();
}

#[test]
fn fork_exec_storm_is_reported_or_loss_counted_and_memory_stays_bounded() {
    const N: usize = 20_000;
    let agent = Agent::start(&["--exit-grace", "1"]);
    let baseline = agent.processes_known();
    for _ in 0..N {
        Command::new("/bin/true").status().expect("true");
    }
    // Exited processes are reaped once the grace period has passed and the agent has
    // caught up with the storm; a loaded machine may need a while for the latter.
    agent.wait_for_stats(Duration::from_secs(60), |s| {
        s["userspace"]["tree"]["reaped"].as_u64().unwrap_or(0) + s["lost_total"].as_u64().unwrap_or(0) >= N as u64
    });
    let (_, summary) = agent.stop();
    assert_kernel_accounting(&summary);
    let exec = hook_counts(&summary, "exec");
    let (seen, sent, lost) = (
        exec["seen"].as_u64().unwrap(),
        exec["sent"].as_u64().unwrap(),
        exec["lost"].as_u64().unwrap(),
    );
    assert!(seen >= N as u64, "kernel saw {seen} execs for {N} processes");
    assert_eq!(sent + lost, seen, "every exec is either sent or counted lost");
    let decoded = summary["userspace"]["decode"]["decoded"]["exec"].as_u64().unwrap_or(0);
    assert_eq!(decoded, sent, "userspace decoded exactly what the kernel sent");
    // Memory: the tree is back near where it started, not N entries bigger.
    let tree = summary["userspace"]["tree_size"].as_u64().expect("tree size");
    assert!(
        tree < baseline + 200,
        "process tree holds {tree} entries after the storm (baseline {baseline})"
    );
    // every storm process was reaped, unless its fork or exit was lost (and counted)
    let reaped = summary["userspace"]["tree"]["reaped"].as_u64().unwrap_or(0);
    let lost_total = summary["lost_total"].as_u64().unwrap_or(0);
    assert!(
        reaped + lost_total >= N as u64,
        "{reaped} processes reaped and {lost_total} events lost for {N} processes: {}",
        summary["userspace"]["tree"]
    );
}

#[test]
fn open_storm_is_reported_or_loss_counted_exactly() {
    const N: usize = 200_000;
    let dir = TempDir::new("storm");
    let path = dir.path().join("target.txt");
    std::fs::write(&path, b"x").expect("write");
    // a small ring so that the storm can overflow it: loss must then be counted, not hidden
    let agent = Agent::start(&["--ringbuf-mb", "1"]);
    let c = std::ffi::CString::new(path.to_str().expect("utf8")).expect("cstring");
    for _ in 0..N {
        // SAFETY: valid path; the fd is closed at once.
        unsafe {
            let fd = libc::open(c.as_ptr(), libc::O_RDONLY);
            assert!(fd >= 0);
            libc::close(fd);
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    let (_, summary) = agent.stop();
    assert_kernel_accounting(&summary);
    let open = hook_counts(&summary, "open");
    let (seen, sent, lost, filtered) = (
        open["seen"].as_u64().unwrap(),
        open["sent"].as_u64().unwrap(),
        open["lost"].as_u64().unwrap(),
        open["filtered"].as_u64().unwrap(),
    );
    assert!(seen >= N as u64, "kernel saw {seen} opens for {N}");
    assert_eq!(
        sent + lost + filtered,
        seen,
        "every open is sent, filtered or counted lost"
    );
    assert_decoded_what_was_sent(&summary, vigil_event::abi::kind::FILE, "file");
    let per_cpu: u64 = summary["kernel"]["lost_per_cpu"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_cpu, summary["lost_total"].as_u64().unwrap());
}

/// Runs `vigil doctor --json` with extra arguments: (exit code, report).
fn doctor(extra: &[&str]) -> (Option<i32>, Value) {
    let out = Command::new(vigil_bin())
        .args(["doctor", "--json"])
        .args(extra)
        .output()
        .expect("doctor");
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), report)
}

fn hook<'a>(report: &'a Value, program: &str) -> &'a Value {
    report["hooks"]
        .as_array()
        .and_then(|hs| hs.iter().find(|h| h["program"] == program))
        .unwrap_or_else(|| panic!("no hook {program}: {report:#}"))
}

#[test]
fn doctor_reports_hooks_and_kernel_features() {
    let _lock = Agent::start(&[]); // serialize with the other agents
    let (code, report) = doctor(&[]);
    let hooks = report["hooks"].as_array().expect("hooks");
    let exec = hook(&report, "handle_exec");
    assert_eq!(exec["status"], "attached", "{report:#}");
    assert_eq!(exec["required"], true);
    assert_eq!(hook(&report, "exit_open")["required"], false);
    let types = report["program_types"].as_array().expect("types");
    let tp_btf = types
        .iter()
        .find(|t| t["name"] == "tp_btf (BTF tracepoints)")
        .expect("tp_btf row");
    assert_eq!(tp_btf["ok"], true);
    // 0: every required hook attached and no optional one failed (refused by the
    // kernel is fine); 2: an optional hook this kernel offers failed. Whatever this
    // kernel refuses, the code follows from the statuses.
    let failed = hooks
        .iter()
        .any(|h| h["status"] == "load_failed" || h["status"] == "attach_failed");
    assert_eq!(code, Some(if failed { 2 } else { 0 }), "{report:#}");
    // On our machines every hook attaches, the idle-flow sweeper included (it used to be
    // a map iterator, which this kernel refuses).
    assert_eq!(hook(&report, "sweep_flows")["status"], "attached", "{report:#}");
    // io_uring operations bypass the syscall hooks: their own optional hooks; and the
    // uprobes on bash, libpam and libc (installed on our machines)
    for program in [
        "uring_open",
        "uring_connect",
        "uprobe_readline",
        "uprobe_pam_enter",
        "uprobe_pam_return",
        "uprobe_getaddrinfo",
        "uretprobe_getaddrinfo",
    ] {
        assert_eq!(hook(&report, program)["status"], "attached", "{report:#}");
        assert_eq!(hook(&report, program)["required"], false);
    }
}

#[test]
fn doctor_exit_codes_follow_required_and_optional_hooks() {
    let _lock = Agent::start(&[]); // serialize with the other agents
                                   // An optional hook left out: still ready (0), and the report says what is lost.
    let (code, report) = doctor(&["--disable-program", "exit_open"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(hook(&report, "exit_open")["status"], "disabled");
    let text = Command::new(vigil_bin())
        .args(["doctor", "--disable-program", "exit_open"])
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("without it the agent does not see: file opens with flags and result"),
        "{text}"
    );
    assert!(text.contains("Vigil runs without exit_open"), "{text}");
    // A required hook left out: Vigil cannot run (1).
    let (code, report) = doctor(&["--disable-program", "handle_exec"]);
    assert_eq!(code, Some(1), "{report:#}");
    // A name that is no program is a usage error, not a silent no-op.
    let out = Command::new(vigil_bin())
        .args(["doctor", "--disable-program", "exit_opne"])
        .output()
        .expect("doctor");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such program"));
}

#[test]
fn a_missing_hook_is_reported_and_the_agent_runs_on() {
    let agent = Agent::start(&["--events", "--disable-program", "exit_open"]);
    // The ready line names the optional hook the agent runs without, the warning what it loses.
    assert!(
        agent.ready_line.contains("without exit_open (disabled)"),
        "{}",
        agent.ready_line
    );
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("optional hook exit_open") && l.contains("without seeing file opens")),
        "{:#?}",
        agent.stderr()
    );
    let stats = agent.wait_for_stats(WAIT, |s| s["hooks_missing"].is_array());
    let missing = stats["hooks_missing"]
        .as_array()
        .expect("hooks_missing in the stats file");
    assert!(
        missing
            .iter()
            .any(|h| h["program"] == "exit_open" && h["status"] == "disabled"),
        "{stats:#}"
    );
    // What it still sees: processes; what it does not: opens.
    let pid = Command::new("/bin/cat")
        .arg("/etc/hostname")
        .stdout(Stdio::null())
        .spawn()
        .expect("cat")
        .id();
    agent.wait_for("exec still reported", WAIT, |l| {
        kind(l, "exec").any(|v| v["proc"]["pid"] == pid)
    });
    let (lines, _) = agent.stop();
    assert!(kind(&lines, "file").all(|v| v["file"]["op"] != "open"));
}

#[test]
fn without_a_required_hook_the_agent_does_not_start() {
    let out = Command::new(vigil_bin())
        .args(["run", "--disable-program", "handle_fork", "--duration", "5"])
        .output()
        .expect("vigil run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot run without these hooks") && err.contains("handle_fork"),
        "{err}"
    );
}

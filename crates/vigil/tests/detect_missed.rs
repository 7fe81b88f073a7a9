//! Behaviours the unseen-attack evaluation found missed (issue 15), each done for real
//! from a detached runner (not under cargo, whose build lineage rules except), with its
//! near misses asserted quiet.

mod common;

use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn a_decoded_payload_piped_into_a_shell_is_critical_and_decoding_to_a_file_is_not() {
    let runner = Runner::start("missed-b64");
    let agent = Agent::start(&["--events"]);
    let out = runner.path().join("decoded");
    // Log4Shell's second stage: brace expansion, no spaces ("echo vigil-b64-ran")
    let r = runner.run(&[
        "/bin/bash",
        "-c",
        "{echo,ZWNobyB2aWdpbC1iNjQtcmFu}|{base64,-d}|{bash,-i}",
    ]);
    assert!(r.out.contains("vigil-b64-ran"), "{} {}", r.out, r.err);
    // near miss: decoded into a file
    let near = format!("echo aGVsbG8= | base64 -d > {}", out.display());
    runner.run(&["/bin/bash", "-c", &near]);
    let (a, _) = expect_alert(
        &agent,
        "Decoded payload piped into a shell",
        "CRITICAL",
        "T1059.004",
        &["{base64,-d}|{bash,-i}"],
    );
    assert_eq!(a["proc"]["name"], "bash");
    let lines = agent.wait_for("the near miss's exec", WAIT, |l| {
        l.iter().any(|v| {
            v["evt"]["kind"] == "exec"
                && v["proc"]["cmdline"]
                    .as_str()
                    .is_some_and(|c| c.contains("aGVsbG8= | base64 -d >"))
        })
    });
    assert_no_alert(&lines, "Decoded payload piped into a shell", output_has("aGVsbG8="));
    agent.stop();
}

#[test]
fn a_setuid_search_is_a_warning_and_an_ordinary_find_is_not() {
    let runner = Runner::start("missed-suid");
    let agent = Agent::start(&["--events"]);
    runner.run(&["/usr/bin/find", "/usr/bin", "-perm", "-4000", "-type", "f"]);
    runner.run(&["/usr/bin/find", "/usr/bin", "-name", "vigil-missed-near"]);
    let (a, _) = expect_alert(
        &agent,
        "Search for setuid binaries",
        "WARNING",
        "T1083",
        &["-perm -4000"],
    );
    assert_eq!(a["proc"]["name"], "find");
    let lines = agent.wait_for("the near miss's exec", WAIT, |l| {
        l.iter().any(|v| {
            v["evt"]["kind"] == "exec"
                && v["proc"]["cmdline"]
                    .as_str()
                    .is_some_and(|c| c.contains("vigil-missed-near"))
        })
    });
    assert_no_alert(&lines, "Search for setuid binaries", output_has("vigil-missed-near"));
    agent.stop();
}

#[test]
fn timestomping_a_dropped_file_is_a_warning_and_touching_names_with_dashes_is_not() {
    let runner = Runner::start("missed-touch");
    let dir = runner.path().join("drop");
    std::fs::create_dir_all(&dir).expect("dir");
    let implant = dir.join("implant");
    std::fs::write(&implant, b"x").expect("implant");
    let implant = implant.display().to_string();
    let agent = Agent::start(&["--events"]);
    runner.run(&["/usr/bin/touch", "-r", "/bin/ls", &implant]);
    runner.run(&["/usr/bin/touch", "-t", "201901010000", &implant]);
    // near misses: a plain touch, and names that contain -t, -d, -r
    let near1 = dir.join("my-thing-r-d").display().to_string();
    runner.run(&["/usr/bin/touch", "-c", &near1]);
    runner.run(&["/usr/bin/touch", &near1]);
    expect_alert(
        &agent,
        "File times set to another file's or a past date",
        "WARNING",
        "T1070.006",
        &["touch -r /bin/ls"],
    );
    expect_alert(
        &agent,
        "File times set to another file's or a past date",
        "WARNING",
        "T1070.006",
        &["touch -t 201901010000"],
    );
    let lines = agent.wait_for("the near misses' execs", WAIT, |l| {
        l.iter()
            .filter(|v| {
                v["evt"]["kind"] == "exec"
                    && v["proc"]["cmdline"]
                        .as_str()
                        .is_some_and(|c| c.contains("my-thing-r-d"))
            })
            .count()
            >= 2
    });
    assert_no_alert(
        &lines,
        "File times set to another file's or a past date",
        output_has("my-thing-r-d"),
    );
    agent.stop();
}

/// A loopback TCP listener that accepts one connection and holds it a few seconds: its port.
fn loopback_listener() -> u16 {
    let server = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = server.local_addr().expect("port").port();
    std::thread::spawn(move || {
        let _held = server.accept();
        std::thread::sleep(Duration::from_secs(5));
    });
    port
}

fn has_flag(flags: &serde_json::Value, name: &str) -> bool {
    flags.as_array().is_some_and(|a| a.iter().any(|f| f == name))
}

/// Paths a test made (below /etc, /var/log), removed however the test ends.
struct MadeEntries(Vec<std::path::PathBuf>);

impl Drop for MadeEntries {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p).or_else(|_| std::fs::remove_file(p));
        }
    }
}

#[test]
fn new_entries_directly_below_etc_are_a_warning_and_edits_and_subdirectories_are_not() {
    let tag = std::process::id();
    let script = format!("/etc/vigil-drop-{tag}.sh");
    let hidden = format!("/etc/.vigil-hidden-{tag}");
    let existing = format!("/etc/vigil-existing-{tag}.conf");
    let sub = format!("/etc/vigil-sub-{tag}");
    let _cleanup = MadeEntries(
        [&script, &hidden, &existing, &sub]
            .iter()
            .map(std::path::PathBuf::from)
            .collect(),
    );
    // made before the agent starts: what the near misses edit
    std::fs::write(&existing, b"a=1\n").expect("existing file");
    std::fs::create_dir(&sub).expect("subdirectory");
    let runner = Runner::start("missed-etc");
    let agent = Agent::start(&["--events"]);

    // near misses: an append and a `sed -i` to an existing file (O_CREAT on a file that
    // exists; sed's temporary renamed over it), a new file in a subdirectory
    runner.run(&["/bin/sh", "-c", &format!("echo b=2 >> {existing}")]);
    runner.run(&["/usr/bin/sed", "-i", "s/a=1/a=3/", &existing]);
    runner.run(&["/bin/sh", "-c", &format!("echo x > {sub}/new.conf")]);
    assert_eq!(std::fs::read_to_string(&existing).expect("edited"), "a=3\nb=2\n");
    // the behaviour: an executable script and a hidden directory made directly in /etc
    runner.run(&[
        "/bin/sh",
        "-c",
        &format!("printf '#!/bin/sh\\nid\\n' > {script} && chmod 755 {script} && mkdir {hidden}"),
    ]);

    let (a, _) = expect_alert(
        &agent,
        "New file or directory directly below /etc",
        "WARNING",
        "T1037",
        &[&script],
    );
    assert_eq!(a["proc"]["name"], "sh");
    let (_, lines) = expect_alert(
        &agent,
        "New file or directory directly below /etc",
        "WARNING",
        "T1037",
        &[&hidden, "mkdir"],
    );
    let created = lines
        .iter()
        .find(|v| v["evt"]["kind"] == "file" && v["fd"]["name"] == script.as_str() && v["evt"]["type"] == "openat");
    let created = created.unwrap_or_else(|| panic!("the script's open event: {lines:?}"));
    assert!(
        has_flag(&created["file"]["path_flags"], "created"),
        "the open says it created the file: {created}"
    );
    for near in [existing.as_str(), &format!("{sub}/new.conf")] {
        assert_no_alert(&lines, "New file or directory directly below /etc", output_has(near));
    }
    agent.stop();
}

#[test]
fn opens_and_connects_through_io_uring_are_seen_as_the_syscalls_they_stand_for() {
    need("cc");
    let runner = Runner::start("missed-uring");
    let uring = runner.path().join("uring");
    let src = fixture("uring.c");
    let cc = std::process::Command::new("cc")
        .args(["-O2", "-o"])
        .arg(&uring)
        .arg(src)
        .output()
        .expect("cc");
    assert!(cc.status.success(), "cc: {}", String::from_utf8_lossy(&cc.stderr));
    let port = loopback_listener();
    let agent = Agent::start(&["--events"]);

    let exe = uring.to_string_lossy().into_owned();
    let r = runner.run(&[&exe, "/etc/shadow", "127.0.0.1", &port.to_string()]);
    assert!(r.out.contains("connect 0"), "the ring's connect: {} {}", r.out, r.err);
    let fd: i64 = r
        .out
        .lines()
        .find_map(|l| l.strip_prefix("open "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("the ring's open: {}", r.out));
    assert!(fd >= 0, "the ring opened /etc/shadow: {}", r.out);

    // the existing rule fires on an open no syscall made
    let (a, _) = expect_alert(
        &agent,
        "Password hash database read",
        "ERROR",
        "T1003.008",
        &["/etc/shadow"],
    );
    assert_eq!(a["proc"]["name"], "uring");
    let lines = agent.wait_for("the ring's connect", WAIT, |l| {
        l.iter().any(|v| {
            v["evt"]["type"] == "connect" && v["fd"]["rport"] == port && has_flag(&v["net"]["flags"], "io_uring")
        })
    });
    let open = lines
        .iter()
        .find(|v| v["evt"]["kind"] == "file" && v["fd"]["name"] == "/etc/shadow" && v["proc"]["name"] == "uring")
        .unwrap_or_else(|| panic!("the ring's open event: {lines:?}"));
    assert_eq!(open["evt"]["type"], "openat", "{open}");
    assert_eq!(open["fd"]["num"], fd, "{open}");
    assert!(has_flag(&open["file"]["path_flags"], "io_uring"), "{open}");
    agent.stop();
}

/// Writes `n` files of user data under `dir/docs{0,1}/`: what the ransomware tests encrypt.
fn user_files(dir: &std::path::Path, n: usize) -> Vec<std::path::PathBuf> {
    (0..n)
        .map(|i| {
            let sub = dir.join(format!("docs{}", i % 2));
            std::fs::create_dir_all(&sub).expect("docs dir");
            let p = sub.join(format!("report-{i}.docx"));
            std::fs::write(&p, format!("quarterly figures {i}\n").repeat(50)).expect("user file");
            p
        })
        .collect()
}

const ENCRYPT_COPY_DELETE: &str = r#"
import os, sys
for root in sys.argv[1:]:
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            data = open(p, "rb").read()
            with open(p + ".vlock", "wb") as f:
                f.write(bytes(b ^ 0x5a for b in data))
            os.unlink(p)
        with open(os.path.join(d, "HOW_TO_RECOVER.txt"), "w") as f:
            f.write("pay\n")
"#;

#[test]
fn ransomware_writing_encrypted_copies_and_deleting_originals_is_critical_and_gzip_is_not() {
    let runner = Runner::start("missed-copydel");
    let victim = runner.path().join("victim");
    let originals = user_files(&victim, 30);
    let zipped = runner.path().join("logs");
    user_files(&zipped, 30);
    let agent = Agent::start(&[]);

    // near misses: gzip replacing each file with file.gz (a compressor doing its job), and
    // a shell loop where cp writes the copy and rm removes the original (two processes)
    let logs = zipped.to_string_lossy().into_owned();
    runner.ok(&["/usr/bin/gzip", "-r", &logs]);
    runner.ok(&[
        "/bin/sh",
        "-c",
        &format!("for f in {logs}/docs0/*.gz; do cp \"$f\" \"$f.bak\" && rm \"$f\"; done"),
    ]);
    // the behaviour: read, write <file>.vlock, unlink <file>, a note per directory
    runner.python(ENCRYPT_COPY_DELETE, &[&victim.to_string_lossy()]);
    assert!(originals.iter().all(|p| !p.exists()), "the originals are gone");

    let (a, lines) = expect_alert(
        &agent,
        "Files replaced by copies with a new extension",
        "CRITICAL",
        "T1486",
        &["report-", "files within the window"],
    );
    assert!(str_of(&a["proc"]["name"]).starts_with("python"), "{a}");
    assert!(
        a["detection"]["count"].as_u64().unwrap_or(0) >= 20,
        "threshold 20: {}",
        a["detection"]
    );
    assert_no_alert(&lines, "Files replaced by copies with a new extension", |a| {
        !str_of(&a["proc"]["name"]).starts_with("python")
    });
    agent.stop();
}

#[test]
fn mass_renames_are_an_error() {
    let runner = Runner::start("missed-renames");
    let victim = runner.path().join("victim");
    user_files(&victim, 60);
    let agent = Agent::start(&[]);
    runner.python(
        "import os, sys\nfor d, _, ns in os.walk(sys.argv[1]):\n    for n in ns:\n        os.rename(os.path.join(d, n), os.path.join(d, n + '.crypt'))\n",
        &[&victim.to_string_lossy()],
    );
    let (a, _) = expect_alert(&agent, "Mass file renames", "ERROR", "T1486", &["renamed", ".docx"]);
    assert!(str_of(&a["proc"]["name"]).starts_with("python"), "{a}");
    agent.stop();
}

/// Types `lines` into an interactive bash on a pseudo-terminal (readline reads them).
const TYPE_AT_BASH: &str = r#"
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv("/bin/bash", ["bash", "--norc", "--noprofile", "-i"])
time.sleep(0.5)
for line in sys.argv[1:] + ["exit"]:
    os.write(fd, line.encode() + b"\n")
    time.sleep(0.3)
try:
    while os.read(fd, 4096):
        pass
except OSError:
    pass
os.waitpid(pid, 0)
"#;

#[test]
fn a_network_redirection_typed_at_bash_is_critical_and_other_lines_are_not() {
    let runner = Runner::start("missed-readline");
    let port = loopback_listener();
    let agent = Agent::start(&["--events"]);
    let near = "ls /dev/tcp-vigil-notes 2>/dev/null; echo vigil-readline-near";
    let exfil = format!("echo vigil-exfil > /dev/tcp/127.0.0.1/{port}");
    runner.python(TYPE_AT_BASH, &[near, &exfil]);

    let (a, _) = expect_alert(
        &agent,
        "Network redirection typed at an interactive shell",
        "CRITICAL",
        "T1059.004",
        &[&exfil],
    );
    assert_eq!(a["proc"]["name"], "bash");
    assert_eq!(a["user_call"]["func"], "readline", "{a}");
    // the near miss was read too (the same uprobe), and is quiet
    let lines = agent.wait_for("the near miss's line", WAIT, |l| {
        l.iter().any(|v| v["user_call"]["args"]["line"] == near)
    });
    assert_no_alert(
        &lines,
        "Network redirection typed at an interactive shell",
        output_has("vigil-readline-near"),
    );
    agent.stop();
}

#[test]
fn pam_failures_are_reported_with_user_and_service_and_five_in_a_row_are_a_warning() {
    let runner = Runner::start("missed-pam");
    let script = fixture("pam_try.py");
    let script = script.as_str();
    let agent = Agent::start(&[]);
    // one failure for one user: a NOTICE only
    let r = runner.run(&[PY, script, "vigil-test", "vigil-once", "wrong"]);
    assert!(
        r.out.contains("pam_authenticate 7") || r.out.contains("pam_authenticate 10"),
        "{} {}",
        r.out,
        r.err
    );
    // five at once for another (PAM waits ~2 s after each failure)
    let five = format!("for i in 1 2 3 4 5; do {PY} {script} vigil-test nobody wrong-$i & done; wait");
    runner.ok(&["/bin/sh", "-c", &five]);

    let (a, _) = expect_alert(
        &agent,
        "Authentication failed",
        "NOTICE",
        "T1110",
        &["user=vigil-once", "service=vigil-test"],
    );
    assert!(str_of(&a["proc"]["name"]).starts_with("python"), "{a}");
    let (_, lines) = expect_alert(
        &agent,
        "Repeated authentication failures",
        "WARNING",
        "T1110.001",
        &["user=nobody", "service=vigil-test"],
    );
    assert_no_alert(&lines, "Repeated authentication failures", output_has("vigil-once"));
    agent.stop();
}

#[test]
fn names_from_getaddrinfo_reach_connects_without_a_dns_packet() {
    let runner = Runner::start("missed-gai");
    let port = loopback_listener();
    let agent = Agent::start(&["--events"]);
    // "localhost" comes from /etc/hosts: no DNS packet for the kernel's parser to read
    let code = "import socket, sys\nfamily, kind, proto, _, addr = socket.getaddrinfo('localhost', int(sys.argv[1]), socket.AF_INET, socket.SOCK_STREAM)[0]\ns = socket.socket(family, kind, proto)\ns.connect(addr)\nprint(addr)\n";
    let r = runner.python(code, &[&port.to_string()]);
    assert!(r.out.contains("127.0.0.1"), "{}", r.out);
    let lines = agent.wait_for("the connect", WAIT, |l| {
        l.iter()
            .any(|v| v["evt"]["type"] == "connect" && v["fd"]["rport"] == port)
    });
    let c = lines
        .iter()
        .find(|v| v["evt"]["type"] == "connect" && v["fd"]["rport"] == port)
        .expect("connect");
    let names = c["fd"]["rip_names"].as_array().cloned().unwrap_or_default();
    assert!(
        names.iter().any(|n| n == "localhost"),
        "the connect carries the name asked: {c}"
    );
    agent.stop();
}

#[test]
fn a_replaced_bash_is_probed_again() {
    let runner = Runner::start("missed-rebash");
    let agent = Agent::start(&[]);
    // what a package upgrade does: a new file renamed over the old one (here: the same
    // bytes, so the host's shell stays what it was)
    let bash = std::fs::canonicalize("/bin/bash").expect("bash");
    let fresh = bash.with_file_name(".bash.vigil-upgrade");
    std::fs::copy(&bash, &fresh).expect("copy bash");
    std::fs::rename(&fresh, &bash).expect("replace bash");
    wait_until("the agent probes the new bash", || {
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("readline replaced") && l.contains("probed again"))
            .then_some(())
    });
    // a shell started from the new file is seen
    let line = "echo vigil-after-upgrade > /dev/udp/127.0.0.1/9";
    runner.python(TYPE_AT_BASH, &[line]);
    expect_alert(
        &agent,
        "Network redirection typed at an interactive shell",
        "CRITICAL",
        "T1059.004",
        &[line],
    );
    agent.stop();
}

/// Regression: only an open is a creation. A log file made and then emptied through the
/// same fd (`ftruncate`) is judged as a truncate, not by the created-open filter bit.
#[test]
fn a_log_created_then_truncated_through_its_fd_is_still_a_truncation() {
    let runner = Runner::start("missed-ftrunc");
    let log = format!("/var/log/vigil-test-{}.log", std::process::id());
    let _cleanup = MadeEntries(vec![std::path::PathBuf::from(&log)]);
    let agent = Agent::start(&[]);
    runner.python(
        "import os, sys\nfd = os.open(sys.argv[1], os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o640)\nos.write(fd, b'auth failure\\n')\nos.ftruncate(fd, 0)\nos.close(fd)\n",
        &[&log],
    );
    let (a, _) = expect_alert(&agent, "Log file truncated", "ERROR", "T1070.002", &[&log, "ftruncate"]);
    assert!(str_of(&a["proc"]["name"]).starts_with("python"), "{a}");
    agent.stop();
}

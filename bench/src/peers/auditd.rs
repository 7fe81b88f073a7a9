//! auditd with rules equivalent to Vigil's default coverage.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use super::AUDIT_RULES;
use super::{stderr_tail, AgentCost, Ctx, Lines};
use crate::sys::Exit;
use crate::sys::{self, Managed};
use std::io::Read;

/// Where the bench records the audit state it must restore, for as long as it has changed
/// it: read by the sentinel process (and by the next bench run) if this one dies.
pub const AUDIT_STATE_FILE: &str = "/run/vigil-bench-auditd.json";

/// The audit subsystem's settings before the bench touched them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditState {
    pub auditctl: PathBuf,
    pub enabled: i64,
    pub failure: i64,
    pub backlog_limit: i64,
    pub backlog_wait_time: i64,
    pub rate_limit: i64,
    /// `auditctl -l` lines (empty: no rules).
    pub rules: Vec<String>,
    /// The audit daemon the bench started, and its directory.
    pub daemon_pid: Option<u32>,
    pub dir: PathBuf,
}

fn auditctl(bin: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running auditctl {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "auditctl {} failed: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `auditctl -s` as key → number.
fn audit_status(bin: &Path) -> Result<std::collections::HashMap<String, i64>> {
    let s = auditctl(bin, &["-s"])?;
    Ok(s.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect())
}

fn audit_rules(bin: &Path) -> Result<Vec<String>> {
    let s = auditctl(bin, &["-l"])?;
    Ok(s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "No rules")
        .map(str::to_string)
        .collect())
}

impl AuditState {
    fn read(bin: &Path, dir: &Path) -> Result<Self> {
        let st = audit_status(bin)?;
        let get = |k: &str| st.get(k).copied().with_context(|| format!("`auditctl -s` has no {k}"));
        if get("enabled")? == 2 {
            bail!("the audit configuration is locked (enabled 2): the auditd configuration cannot run");
        }
        let pid = get("pid")?;
        if pid != 0 {
            bail!(
                "an audit daemon is already running (pid {pid}); the auditd configuration starts its own: \
                 stop it first (or leave auditd out of --configs)"
            );
        }
        Ok(Self {
            auditctl: bin.to_path_buf(),
            enabled: get("enabled")?,
            failure: get("failure")?,
            backlog_limit: get("backlog_limit")?,
            backlog_wait_time: get("backlog_wait_time")?,
            rate_limit: get("rate_limit")?,
            rules: audit_rules(bin)?,
            daemon_pid: None,
            dir: dir.to_path_buf(),
        })
    }

    fn save(&self) -> Result<()> {
        std::fs::write(AUDIT_STATE_FILE, serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {AUDIT_STATE_FILE}"))
    }

    /// Puts everything back: no rules of ours, the old rules and settings, our daemon
    /// stopped (`daemon`, or the recorded pid if it is still that daemon), auditing
    /// enabled only if it was. Returns how the daemon ended if it was ours to reap.
    pub fn restore(&self, daemon: Option<&mut Managed>) -> Result<Option<Exit>> {
        let bin = &self.auditctl;
        let mut errors = Vec::new();
        let mut note = |r: Result<String>| {
            if let Err(e) = r {
                errors.push(format!("{e:#}"));
            }
        };
        note(auditctl(bin, &["-D"]));
        let exit = match daemon {
            Some(d) => Some(d.stop(libc::SIGTERM, Duration::from_secs(15))),
            None => {
                if let Some(pid) = self.daemon_pid {
                    stop_foreign_daemon(pid, &self.dir);
                }
                None
            }
        };
        if !self.rules.is_empty() {
            let f = std::env::temp_dir().join(format!("vigil-bench-restore-{}.rules", std::process::id()));
            let r = std::fs::write(&f, self.rules.join("\n") + "\n")
                .map_err(anyhow::Error::from)
                .and_then(|_| auditctl(bin, &["-R", &f.to_string_lossy()]));
            note(r);
            let _ = std::fs::remove_file(&f);
        }
        note(auditctl(bin, &["-b", &self.backlog_limit.to_string()]));
        note(auditctl(bin, &["-f", &self.failure.to_string()]));
        note(auditctl(bin, &["-r", &self.rate_limit.to_string()]));
        note(auditctl(
            bin,
            &["--backlog_wait_time", &self.backlog_wait_time.to_string()],
        ));
        note(auditctl(bin, &["-e", &self.enabled.to_string()]));
        match audit_status(bin) {
            Ok(st) if st.get("enabled") != Some(&self.enabled) => errors.push(format!(
                "auditing is {:?} after restore, was {}",
                st.get("enabled"),
                self.enabled
            )),
            Err(e) => errors.push(format!("{e:#}")),
            _ => {}
        }
        if errors.is_empty() {
            let _ = std::fs::remove_file(AUDIT_STATE_FILE);
            let _ = std::fs::remove_dir_all(&self.dir);
            Ok(exit)
        } else {
            bail!("restoring the audit state: {}", errors.join("; "))
        }
    }
}

/// Stops an audit daemon the bench started but no longer holds as a child (after a crash):
/// only if the pid still is `auditd` running with our directory.
fn stop_foreign_daemon(pid: u32, dir: &Path) {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    if !cmdline.contains("auditd") || !cmdline.contains(&*dir.to_string_lossy()) {
        return;
    }
    // SAFETY: signalling a pid we checked is our daemon.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(15);
    while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    if Path::new(&format!("/proc/{pid}")).exists() {
        // SAFETY: as above.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    }
}

/// Restores what a previous bench run left behind if it died while auditd ran.
pub fn recover_audit_state(why: &str) -> Result<()> {
    let Ok(text) = std::fs::read(AUDIT_STATE_FILE) else {
        return Ok(());
    };
    let st: AuditState = serde_json::from_slice(&text).with_context(|| format!("parsing {AUDIT_STATE_FILE}"))?;
    eprintln!("vigil-bench: {why}: restoring the audit state saved in {AUDIT_STATE_FILE}");
    st.restore(None).map(|_| ())
}

/// The sentinel (`vigil-bench audit-sentinel`): a separate process that waits for the
/// bench to end (its stdin, a pipe from the bench, closes however the bench ends, even on
/// SIGKILL) and then restores the audit state if the bench left it changed.
pub fn sentinel() -> Result<()> {
    // SAFETY: ignoring signals is always allowed; Ctrl-C is for the bench, not for us.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
    }
    let mut buf = [0u8; 64];
    while std::io::stdin().read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
    recover_audit_state("the bench ended without restoring the audit state")
}

pub fn spawn_sentinel() -> Result<std::process::Child> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("audit-sentinel").stdin(Stdio::piped()).stdout(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().context("starting the audit sentinel")
}

pub struct AuditdSession {
    pub(super) state: AuditState,
    pub(super) daemon: Option<Managed>,
    pub(super) restored: bool,
    pub(super) startup_cpu_secs: f64,
    pub(super) lost0: i64,
    pub(super) wait0: i64,
    pub(super) kauditd: Option<u32>,
    pub(super) kauditd_cpu0: f64,
}

const AUDITD_CONF_DEFAULT: &str = "local_events = yes\nwrite_logs = yes\nlog_format = ENRICHED\n\
flush = INCREMENTAL_ASYNC\nfreq = 50\nmax_log_file = 8\npriority_boost = 4\nname_format = NONE\n\
space_left = 75\nspace_left_action = SYSLOG\nadmin_space_left = 50\nadmin_space_left_action = SUSPEND\n\
disk_full_action = SUSPEND\ndisk_error_action = SUSPEND\nq_depth = 2000\noverflow_action = SYSLOG\n\
max_restarts = 10\nplugin_dir = /etc/audit/plugins.d\nend_of_event_timeout = 2\n";

impl AuditdSession {
    pub fn start(ctx: &Ctx) -> Result<Self> {
        let (auditd, bin) = ctx.auditd.clone().context("auditd")?;
        let dir = ctx.dir.join(format!("auditd-{}", sys::boottime_ns()));
        let state = AuditState::read(&bin, &dir)?;
        state.save()?;
        let mut s = Self {
            state,
            daemon: None,
            restored: false,
            startup_cpu_secs: 0.0,
            lost0: 0,
            wait0: 0,
            kauditd: sys::kernel_thread("kauditd"),
            kauditd_cpu0: 0.0,
        };
        // From here on, dropping `s` restores the audit state.
        std::fs::create_dir_all(&dir)?;
        // The machine's auditd.conf (Debian's defaults), logging into our directory and
        // keeping every log file, so that the records can be counted.
        let base = std::fs::read_to_string("/etc/audit/auditd.conf").unwrap_or_else(|_| AUDITD_CONF_DEFAULT.into());
        let mut conf: String = base
            .lines()
            .filter(|l| {
                let k = l.split('=').next().unwrap_or("").trim();
                !matches!(k, "log_file" | "num_logs" | "max_log_file_action")
            })
            .map(|l| format!("{l}\n"))
            .collect();
        conf.push_str(&format!(
            "log_file = {}\nnum_logs = 99\nmax_log_file_action = ROTATE\n",
            dir.join("audit.log").display()
        ));
        let conf_path = dir.join("auditd.conf");
        std::fs::write(&conf_path, conf)?;
        std::fs::set_permissions(&conf_path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
        let rules = dir.join("vigil-coverage.rules");
        std::fs::write(&rules, AUDIT_RULES)?;

        let mut cmd = Command::new(&auditd);
        cmd.arg("-n").arg("-c").arg(&dir);
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
        let mut d = Managed::spawn(cmd, "auditd", libc::SIGTERM)?;
        let mut stderr = Lines::spawn(d.child.stderr.take().context("auditd stderr")?);
        s.state.daemon_pid = Some(d.pid());
        let pid = d.pid() as i64;
        s.daemon = Some(d);
        s.state.save()?;
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let st = audit_status(&bin)?;
            if st.get("pid") == Some(&pid) {
                break;
            }
            if let Some(e) = s.daemon.as_mut().and_then(Managed::exited) {
                let tail = stderr.until_closed(Duration::from_secs(1));
                bail!(
                    "auditd exited ({}) before registering with the kernel{}",
                    e.describe(),
                    stderr_tail(&tail)
                );
            }
            if Instant::now() > deadline {
                bail!("auditd did not register with the kernel within 20 s");
            }
            sys::sleep(Duration::from_millis(20))?;
        }
        auditctl(&bin, &["-R", &rules.to_string_lossy()]).context("loading the audit rules")?;
        let loaded = audit_rules(&bin)?;
        if loaded.len() < 8 {
            bail!("only {} audit rules are loaded after auditctl -R", loaded.len());
        }
        let st = audit_status(&bin)?;
        s.lost0 = st.get("lost").copied().unwrap_or(0);
        s.wait0 = st.get("backlog_wait_time_actual").copied().unwrap_or(0);
        s.startup_cpu_secs = sys::proc_cpu_secs(pid as u32);
        s.kauditd_cpu0 = s.kauditd.map(sys::proc_cpu_secs).unwrap_or(0.0);
        Ok(s)
    }

    pub(super) fn finish(mut self) -> Result<AgentCost> {
        let bin = self.state.auditctl.clone();
        if let Some(e) = self.daemon.as_mut().and_then(Managed::exited) {
            bail!("auditd died during the workload: {}", e.describe());
        }
        // Let the daemon take what is still queued in the kernel.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut st = audit_status(&bin)?;
        while st.get("backlog").copied().unwrap_or(0) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            st = audit_status(&bin)?;
        }
        let lost = st.get("lost").copied().unwrap_or(0) - self.lost0;
        let waited = st.get("backlog_wait_time_actual").copied().unwrap_or(0) - self.wait0;
        let kcpu = self.kauditd.map(sys::proc_cpu_secs).unwrap_or(0.0) - self.kauditd_cpu0;
        let exit = self
            .daemon
            .as_mut()
            .map(|d| d.stop(libc::SIGTERM, Duration::from_secs(15)));
        let records = count_records(&self.state.dir);
        self.restored = true;
        self.state.restore(None)?;
        let exit = exit.context("auditd")?;
        if exit.forced {
            bail!("auditd did not stop within 15 s of SIGTERM and was killed");
        }
        Ok(AgentCost {
            process: "auditd".into(),
            cpu_secs: exit.cpu_secs - self.startup_cpu_secs,
            startup_cpu_secs: self.startup_cpu_secs,
            kernel_thread_cpu_secs: kcpu,
            peak_rss_mib: exit.maxrss_mib,
            events_delivered: records,
            events_lost: lost.max(0) as u64,
            backlog_wait_ms: Some(waited.max(0) as u64),
            output_lines: records,
            ..Default::default()
        })
    }
}

impl Drop for AuditdSession {
    fn drop(&mut self) {
        if !self.restored {
            if let Err(e) = self.state.restore(self.daemon.as_mut()) {
                eprintln!("vigil-bench: WARNING: {e:#}; state saved in {AUDIT_STATE_FILE}");
            }
        }
    }
}

/// Audit records (lines) in the log files of `dir`.
fn count_records(dir: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else { return 0 };
    rd.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("audit.log"))
        .map(|e| {
            std::fs::read(e.path())
                .map(|b| b.iter().filter(|&&c| c == b'\n').count() as u64)
                .unwrap_or(0)
        })
        .sum()
}

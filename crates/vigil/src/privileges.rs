//! Least privilege: once every program is loaded and attached (which needs CAP_SYS_ADMIN,
//! CAP_NET_ADMIN for XDP, CAP_SYS_RESOURCE on old kernels), the agent keeps only the
//! capabilities its running work needs, in every set, the bounding set included, so an
//! attacker who takes over the running agent cannot load a module, change a file it does
//! not own, reconfigure the network or regain what was dropped by executing something.
//! CAP_SYS_ADMIN goes too unless uprobes are in use ([`KEPT_FOR_UPROBES`]).
//! docs/privileges.md lists them; `--keep-capabilities` turns this off.

use caps::{CapSet, Capability, CapsHashSet};

/// What the running agent still needs, and why.
pub const KEPT: &[(Capability, &str)] = &[
    (
        Capability::CAP_BPF,
        "update its maps on a rule reload (kernel filter, policies, detectors) and run the flow sweep program",
    ),
    (
        Capability::CAP_PERFMON,
        "attach uprobes to libraries and shells that appear after start (libpam, libc, bash)",
    ),
    (
        Capability::CAP_SYS_PTRACE,
        "read /proc/<pid> (exe, cwd, cmdline, maps, namespaces) of every process, non-dumpable ones included",
    ),
    (
        Capability::CAP_DAC_READ_SEARCH,
        "read /proc and the binaries uprobes attach to, whoever owns their directories",
    ),
];

/// Kept only while uprobes are in use (`uprobes` group not disabled): attaching a uprobe
/// to a binary that appears or is replaced later (a package upgrade of bash or libpam)
/// opens a perf event of the uprobe PMU, which kernel 6.18 refuses with EACCES without
/// CAP_SYS_ADMIN, CAP_PERFMON or not (measured).
pub const KEPT_FOR_UPROBES: (Capability, &str) = (
    Capability::CAP_SYS_ADMIN,
    "attach uprobes to binaries that appear or are replaced after start (the uprobe perf event needs it)",
);

/// What is left after [`drop_unneeded`].
#[derive(Debug)]
pub struct Kept {
    pub effective: Vec<Capability>,
    /// Capabilities the process had and gave up (every set).
    pub dropped: usize,
}

impl Kept {
    pub fn names(&self) -> String {
        let names: Vec<String> = self.effective.iter().map(|c| c.to_string().to_lowercase()).collect();
        if names.is_empty() {
            "none".into()
        } else {
            names.join(",")
        }
    }
}

/// Drops every capability but [`KEPT`] (those the process has) from the effective,
/// permitted, inheritable, ambient and bounding sets, and sets no_new_privs. Kernels
/// without CAP_BPF (before 5.8) keep CAP_SYS_ADMIN in its place, as bpf() needs it there.
/// With `uprobes`, CAP_SYS_ADMIN is kept too ([`KEPT_FOR_UPROBES`]).
/// Must run before the agent starts any thread: capabilities are per thread.
pub fn drop_unneeded(uprobes: bool) -> anyhow::Result<Kept> {
    let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(1);
    if threads > 1 {
        anyhow::bail!(
            "{threads} threads are running; capabilities are per thread, so they must be dropped before any starts"
        );
    }
    let permitted = caps::read(None, CapSet::Permitted)?;
    let supported = caps::runtime::thread_all_supported();
    let mut keep: CapsHashSet = KEPT.iter().map(|(c, _)| *c).filter(|c| permitted.contains(c)).collect();
    if uprobes && permitted.contains(&KEPT_FOR_UPROBES.0) {
        keep.insert(KEPT_FOR_UPROBES.0);
    }
    if !supported.contains(&Capability::CAP_BPF) && permitted.contains(&Capability::CAP_SYS_ADMIN) {
        keep.insert(Capability::CAP_SYS_ADMIN);
    }
    let before = permitted.len();
    // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
    if caps::has_cap(None, CapSet::Effective, Capability::CAP_SETPCAP)? {
        for cap in supported.iter().filter(|c| !keep.contains(c)) {
            caps::drop(None, CapSet::Bounding, *cap)?;
        }
    }
    caps::clear(None, CapSet::Ambient)?;
    caps::clear(None, CapSet::Inheritable)?;
    caps::set(None, CapSet::Effective, &keep)?;
    caps::set(None, CapSet::Permitted, &keep)?;
    // SAFETY: prctl with PR_SET_NO_NEW_PRIVS and constant arguments touches no memory.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
        anyhow::bail!("prctl(PR_SET_NO_NEW_PRIVS): {}", std::io::Error::last_os_error());
    }
    let mut effective: Vec<Capability> = caps::read(None, CapSet::Effective)?.into_iter().collect();
    effective.sort_by_key(|c| c.index());
    Ok(Kept {
        dropped: before.saturating_sub(keep.len()),
        effective,
    })
}

/// Opens a file of the agent's own state (output, recording, statistics) readable by root
/// alone: alerts and recordings carry command lines, paths and addresses of every user.
/// An existing file gets its mode narrowed too.
pub fn private_file(path: &std::path::Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .mode(0o600)
        .open(path)?;
    // a regular file created earlier with a wider mode; /dev/stdout and pipes are left alone
    if f.metadata()?.is_file() {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(f)
}

/// Creates a directory of the agent's own state (and its parents) searchable by root alone.
pub fn private_dir(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

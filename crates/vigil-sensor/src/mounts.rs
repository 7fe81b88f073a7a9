//! Pseudo-filesystems some hooks need: mounted by us when missing, and said so.

use std::ffi::CString;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// It was already there.
    Present(PathBuf),
    /// We mounted it just now.
    Mounted(PathBuf),
}

impl Mount {
    pub fn path(&self) -> &Path {
        match self {
            Mount::Present(p) | Mount::Mounted(p) => p,
        }
    }
}

/// Where a filesystem of this type is mounted, if anywhere.
pub fn find(fstype: &str) -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&fstype)).then(|| PathBuf::from(f.get(1).copied().unwrap_or_default()))
    })
}

/// Makes sure a filesystem of `fstype` is mounted, mounting it at `target` if not.
pub fn ensure(fstype: &str, target: &str) -> Result<Mount, String> {
    if let Some(p) = find(fstype) {
        return Ok(Mount::Present(p));
    }
    std::fs::create_dir_all(target).map_err(|e| format!("create {target}: {e}"))?;
    let c_type = CString::new(fstype).map_err(|e| e.to_string())?;
    let c_target = CString::new(target).map_err(|e| e.to_string())?;
    // SAFETY: all strings are valid and NUL-terminated; data may be NULL.
    let rc = unsafe { libc::mount(c_type.as_ptr(), c_target.as_ptr(), c_type.as_ptr(), 0, std::ptr::null()) };
    if rc != 0 {
        return Err(format!(
            "mount -t {fstype} {fstype} {target}: {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(Mount::Mounted(PathBuf::from(target)))
}

pub fn ensure_tracefs() -> Result<Mount, String> {
    ensure("tracefs", "/sys/kernel/tracing")
}

pub fn ensure_bpffs() -> Result<Mount, String> {
    ensure("bpf", "/sys/fs/bpf")
}

pub fn ensure_securityfs() -> Result<Mount, String> {
    ensure("securityfs", "/sys/kernel/security")
}

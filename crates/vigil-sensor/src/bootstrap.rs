//! Processes that were running before the agent started, read from /proc.
//!
//! They become `snapshot` records in the same binary format the kernel writes, so the
//! process tree, the recorder and replay treat them like any other event. Fields /proc
//! cannot give (the previous image, some exec flags) are left empty.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use vigil_event::abi::exec_flag;
use vigil_event::model::Endpoint;
use vigil_event::{encode, Body, Event, Exec, Text};

/// Nanoseconds of CLOCK_BOOTTIME now: the clock of every kernel timestamp.
pub fn boot_time_ns() -> u64 {
    clock_ns(libc::CLOCK_BOOTTIME)
}

/// Offset that turns a boot-time timestamp into Unix-epoch nanoseconds.
pub fn boot_to_realtime_ns() -> i64 {
    clock_ns(libc::CLOCK_REALTIME) as i64 - clock_ns(libc::CLOCK_BOOTTIME) as i64
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Snapshot records for every process in /proc, parents before children.
pub fn snapshot(proc_root: &Path) -> Vec<Vec<u8>> {
    let now = boot_time_ns();
    let peers = socket_peers(proc_root);
    let mut events: Vec<Event> = match fs::read_dir(proc_root) {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
            .filter_map(|pid| read_process(&proc_root.join(pid.to_string()), pid, now, &peers))
            .collect(),
        Err(_) => Vec::new(),
    };
    // Start time orders parents before their children.
    events.sort_by_key(|e| match &e.body {
        Body::Snapshot(x) => (x.start_ktime, e.pid),
        _ => (0, e.pid),
    });
    events.iter().map(encode).collect()
}

/// Remote ends of IPv4/IPv6 sockets by inode, from /proc/net/{tcp,tcp6,udp,udp6}.
fn socket_peers(proc_root: &Path) -> HashMap<u64, Endpoint> {
    let mut out = HashMap::new();
    for table in ["tcp", "tcp6", "udp", "udp6"] {
        let Ok(text) = fs::read_to_string(proc_root.join("net").join(table)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(inode)) = (f.get(2), f.get(9).and_then(|i| i.parse::<u64>().ok())) else {
                continue;
            };
            if let Some(ep) = parse_proc_net_addr(remote) {
                out.insert(inode, ep);
            }
        }
    }
    out
}

/// "0100007F:1F90" (IPv4, host-order words) or 32 hex digits (IPv6) and a port.
fn parse_proc_net_addr(s: &str) -> Option<Endpoint> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let addr = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(u32::from_str_radix(addr, 16).ok()?.to_le_bytes())),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in b.chunks_mut(4).enumerate() {
                let w = u32::from_str_radix(addr.get(i * 8..i * 8 + 8)?, 16).ok()?;
                chunk.copy_from_slice(&w.to_le_bytes());
            }
            let v6 = Ipv6Addr::from(b);
            v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(IpAddr::V6(v6))
        }
        _ => return None,
    };
    Some(Endpoint { addr, port })
}

fn read_process(dir: &Path, pid: u32, now: u64, peers: &HashMap<u64, Endpoint>) -> Option<Event> {
    let stat = fs::read(dir.join("stat")).ok()?;
    let stat = ProcStat::parse(&stat)?;
    let status = fs::read_to_string(dir.join("status")).unwrap_or_default();
    let field = |name: &str| -> Option<&str> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')).map(str::trim))
    };
    let ids = |name: &str| -> Vec<u32> {
        field(name)
            .map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect())
            .unwrap_or_default()
    };
    let caps = |name: &str| field(name).and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0);
    // Threads of another process show up only under /proc/PID/task; Tgid equals pid here.
    let uid = ids("Uid");
    let gid = ids("Gid");
    let vpid = ids("NSpid").last().copied().unwrap_or(pid);
    let link = |name: &str| {
        fs::read_link(dir.join(name))
            .ok()
            .map(|p| Text::new(p.as_os_str().as_bytes()))
    };
    let ns = |name: &str| -> u32 {
        fs::read_link(dir.join("ns").join(name))
            .ok()
            .and_then(|p| {
                let s = p.to_string_lossy().into_owned();
                s.split('[').nth(1).and_then(|x| x.trim_end_matches(']').parse().ok())
            })
            .unwrap_or(0)
    };
    let mut flags = exec_flag::PREV_UNKNOWN;
    let mut exe = link("exe").unwrap_or_default();
    if exe.as_bytes().ends_with(b" (deleted)") {
        flags |= exec_flag::EXE_DELETED;
        let b = exe.as_bytes();
        exe = Text::new(&b[..b.len() - b" (deleted)".len()]);
    }
    if exe.as_bytes().starts_with(b"/memfd:") {
        flags |= exec_flag::EXE_MEMFD;
    }
    let argv = fs::read(dir.join("cmdline"))
        .map(|b| Text::split_nul(&b))
        .unwrap_or_default();
    let env = fs::read(dir.join("environ"))
        .map(|b| Text::split_nul(&b))
        .unwrap_or_default();
    let loginuid = fs::read_to_string(dir.join("loginuid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(u32::MAX);
    let comm = fs::read(dir.join("comm"))
        .map(|b| Text::new(b.strip_suffix(b"\n").unwrap_or(&b)))
        .unwrap_or_default();
    let (exe_ino, exe_dev, exe_mode) = fs::metadata(dir.join("exe"))
        .map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.ino(), encode_dev(m.dev()), m.mode())
        })
        .unwrap_or_default();
    let cgroup_id = cgroup_id(dir);
    // stdio on a network socket: a reverse shell that was already running
    let mut stdio_peer = None;
    for fd in 0..3u32 {
        let target = fs::read_link(dir.join("fd").join(fd.to_string())).ok();
        let inode = target.as_ref().and_then(|t| {
            let s = t.to_string_lossy();
            s.strip_prefix("socket:[")
                .and_then(|r| r.strip_suffix(']'))
                .and_then(|i| i.parse::<u64>().ok())
        });
        if let Some(ep) = inode.and_then(|i| peers.get(&i)) {
            flags |= exec_flag::STDIN_SOCKET << fd;
            stdio_peer = Some(*ep);
        }
    }

    Some(Event {
        ktime: now,
        pid,
        tid: pid,
        uid: uid.first().copied().unwrap_or(0),
        gid: gid.first().copied().unwrap_or(0),
        cgroup_id,
        comm,
        body: Body::Snapshot(Box::new(Exec {
            ppid: stat.ppid,
            sid: stat.session,
            euid: uid.get(1).copied().unwrap_or(0),
            egid: gid.get(1).copied().unwrap_or(0),
            loginuid,
            tty: stat.tty_nr,
            flags,
            argc: argv.len() as u32,
            start_ktime: stat.start_ticks * (1_000_000_000 / clock_ticks()),
            cap_effective: caps("CapEff"),
            cap_permitted: caps("CapPrm"),
            exe_ino,
            exe_dev,
            exe_mode,
            mnt_ns: ns("mnt"),
            pid_ns: ns("pid"),
            net_ns: ns("net"),
            vpid,
            prev_comm: Text::default(),
            filename: exe.clone(),
            exe,
            interp: None,
            argv,
            env,
            cwd: link("cwd").unwrap_or_default(),
            prev_exe: None,
            stdio_peer,
            writer: None,
            policy: None,
        })),
    })
}

/// The kernel's internal dev_t (major << 20 | minor) from the userspace encoding.
fn encode_dev(dev: u64) -> u32 {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    ((major << 20) | (minor & 0xfffff)) as u32
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as u64
    } else {
        100
    }
}

/// cgroup v2 id = inode number of the process's cgroup directory.
fn cgroup_id(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(text) = fs::read_to_string(dir.join("cgroup")) else {
        return 0;
    };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else {
        return 0;
    };
    for root in ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"] {
        if let Ok(m) = fs::metadata(format!("{root}{path}")) {
            if fs::metadata(format!("{root}/cgroup.controllers")).is_ok() || root.ends_with("unified") {
                return m.ino();
            }
        }
    }
    0
}

/// The fields of /proc/PID/stat we need. comm may contain spaces and parentheses,
/// so parsing starts after the last ')'.
#[derive(Debug, PartialEq)]
struct ProcStat {
    ppid: u32,
    session: u32,
    tty_nr: u32,
    start_ticks: u64,
}

impl ProcStat {
    fn parse(raw: &[u8]) -> Option<ProcStat> {
        let close = raw.iter().rposition(|&b| b == b')')?;
        let rest = std::str::from_utf8(raw.get(close + 2..)?).ok()?;
        let f: Vec<&str> = rest.split_whitespace().collect();
        // f[0] is field 3 (state)
        Some(ProcStat {
            ppid: f.get(1)?.parse().ok()?,
            session: f.get(3)?.parse().ok()?,
            tty_nr: f.get(4)?.parse::<i64>().ok()? as u32,
            start_ticks: f.get(19)?.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_hostile_comm() {
        let raw = b"42 (a) b (c)) S 7 42 42 34816 42 4194560 1 2 3 4 5 6 7 8 20 0 1 0 12345 1000 10";
        assert_eq!(
            ProcStat::parse(raw),
            Some(ProcStat {
                ppid: 7,
                session: 42,
                tty_nr: 34816,
                start_ticks: 12345
            })
        );
        assert_eq!(ProcStat::parse(b"garbage"), None);
        assert_eq!(ProcStat::parse(b"1 (x)"), None);
    }

    #[test]
    fn snapshot_of_this_machine_includes_us_and_decodes() {
        let recs = snapshot(Path::new("/proc"));
        let me = std::process::id();
        let mut found = false;
        for r in &recs {
            let ev = vigil_event::decode(r).expect("snapshot record decodes");
            if ev.pid == me {
                found = true;
                let Body::Snapshot(x) = ev.body else {
                    panic!("not a snapshot")
                };
                assert!(!x.exe.is_empty());
                assert!(x.start_ktime > 0 && x.start_ktime <= boot_time_ns());
            }
        }
        assert!(found, "our own process is missing from the snapshot");
    }

    #[test]
    fn proc_net_addresses() {
        let v4 = parse_proc_net_addr("0100007F:1F90").unwrap();
        assert_eq!(v4.to_string(), "127.0.0.1:8080");
        let v6 = parse_proc_net_addr("00000000000000000000000001000000:0035").unwrap();
        assert_eq!(v6.to_string(), "[::1]:53");
        let mapped = parse_proc_net_addr("0000000000000000FFFF00000100007F:0050").unwrap();
        assert_eq!(mapped.to_string(), "127.0.0.1:80");
        assert!(parse_proc_net_addr("zz:1").is_none());
    }

    #[test]
    fn dev_encoding() {
        // makedev(8, 1) in glibc's encoding -> kernel's MKDEV(8, 1)
        assert_eq!(encode_dev((8 << 8) | 1), (8 << 20) | 1);
    }
}

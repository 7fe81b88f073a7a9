//! Turning ring-buffer records into [`Event`]s, and back.
//!
//! The decoder trusts nothing: a record that is short, has a foreign ABI version, an
//! unknown kind, or string lengths that do not add up to its size is rejected with a
//! [`DecodeError`] naming the reason, and [`DecodeStats`] counts it. Values it does not
//! know inside a valid record (a new file op, say) are kept and counted, not rejected.

use std::collections::BTreeMap;

use serde::Serialize;
use thiserror::Error;

use crate::abi::{
    self, kind, DnsAddrs, RawCgroup, RawCwd, RawDetection, RawDns, RawDnsAddr, RawExec, RawExit, RawFile, RawFork,
    RawHdr, RawNet, RawSyscall, RawUserCall, SyscallArgs,
};
use crate::model::{
    ip_from_raw, ip_to_raw, Body, Cgroup, Cwd, Detection, Dns, DnsAnswer, Endpoint, Event, Exec, Exit, File, FileOp,
    Fork, Net, NetOp, PolicyVerdict, Syscall, Text, UserCall, Writer as ExeWriter, AF_INET, AF_INET6,
};
use crate::wire::{Reader, Wire, Writer};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("record of {len} bytes is shorter than its {need}-byte fixed part")]
    TooShort { len: usize, need: usize },
    #[error("record declares ABI version {0}, this build reads {ver}", ver = abi::ABI_VERSION)]
    BadAbi(u16),
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
    #[error("record declares {declared} bytes but has {actual}")]
    SizeMismatch { declared: u32, actual: usize },
    #[error("string lengths add up to {tail} bytes but the record has {available} after its fixed part")]
    TailMismatch { tail: usize, available: usize },
    #[error("record of {0} bytes exceeds the maximum record size")]
    TooLarge(usize),
}

impl DecodeError {
    pub fn reason(&self) -> &'static str {
        match self {
            DecodeError::TooShort { .. } => "too_short",
            DecodeError::BadAbi(_) => "bad_abi",
            DecodeError::UnknownKind(_) => "unknown_kind",
            DecodeError::SizeMismatch { .. } => "size_mismatch",
            DecodeError::TailMismatch { .. } => "tail_mismatch",
            DecodeError::TooLarge(_) => "too_large",
        }
    }
}

/// What the decoder has seen: decoded records by kind, rejected ones by reason.
#[derive(Debug, Default, Clone, Serialize)]
pub struct DecodeStats {
    pub decoded: BTreeMap<&'static str, u64>,
    pub malformed: BTreeMap<&'static str, u64>,
    /// Valid records carrying a value this build does not know (counted, still delivered).
    pub unknown_values: u64,
}

impl DecodeStats {
    pub fn malformed_total(&self) -> u64 {
        self.malformed.values().sum()
    }

    pub fn decoded_total(&self) -> u64 {
        self.decoded.values().sum()
    }
}

#[derive(Debug, Default)]
pub struct Decoder {
    pub stats: DecodeStats,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decodes one record, counting the outcome.
    pub fn decode(&mut self, record: &[u8]) -> Result<Event, DecodeError> {
        match decode(record) {
            Ok(ev) => {
                *self.stats.decoded.entry(ev.body.kind_name()).or_default() += 1;
                let unknown = match &ev.body {
                    Body::File(f) => matches!(f.op, FileOp::Unknown(_)),
                    Body::Net(n) => matches!(n.op, NetOp::Unknown(_)),
                    _ => false,
                };
                if unknown {
                    self.stats.unknown_values += 1;
                }
                Ok(ev)
            }
            Err(e) => {
                *self.stats.malformed.entry(e.reason()).or_default() += 1;
                Err(e)
            }
        }
    }
}

/// Decodes one record without keeping statistics.
pub fn decode(record: &[u8]) -> Result<Event, DecodeError> {
    if record.len() > abi::RECORD_MAX {
        return Err(DecodeError::TooLarge(record.len()));
    }
    let mut r = Reader::new(record);
    let hdr = RawHdr::read(&mut r).ok_or(DecodeError::TooShort {
        len: record.len(),
        need: RawHdr::SIZE,
    })?;
    if hdr.abi != abi::ABI_VERSION {
        return Err(DecodeError::BadAbi(hdr.abi));
    }
    if hdr.size as usize != record.len() {
        return Err(DecodeError::SizeMismatch {
            declared: hdr.size,
            actual: record.len(),
        });
    }
    let mut r = Reader::new(record);
    let body = match hdr.kind {
        kind::EXEC | kind::SNAPSHOT => {
            let raw: RawExec = fixed(&mut r)?;
            let [exe, filename, interp, argv, env, cwd, prev_exe] = tail(&mut r, raw.tail_lens())?;
            let exec = Box::new(Exec {
                ppid: raw.ppid,
                sid: raw.sid,
                euid: raw.euid,
                egid: raw.egid,
                loginuid: raw.loginuid,
                tty: raw.tty,
                flags: raw.flags,
                argc: raw.argc,
                start_ktime: raw.start_ktime,
                cap_effective: raw.cap_effective,
                cap_permitted: raw.cap_permitted,
                exe_ino: raw.exe_ino,
                exe_dev: raw.exe_dev,
                exe_mode: raw.exe_mode,
                mnt_ns: raw.mnt_ns,
                pid_ns: raw.pid_ns,
                net_ns: raw.net_ns,
                vpid: raw.vpid,
                prev_comm: Text::from_c(&raw.prev_comm),
                exe: Text::new(exe),
                filename: Text::new(filename),
                interp: (!interp.is_empty()).then(|| Text::new(interp)),
                argv: Text::split_nul(argv),
                env: Text::split_nul(env),
                cwd: Text::new(cwd),
                prev_exe: (!prev_exe.is_empty()).then(|| Text::new(prev_exe)),
                stdio_peer: ip_from_raw(raw.stdio_family, &raw.stdio_addr).map(|addr| Endpoint {
                    addr,
                    port: raw.stdio_port,
                }),
                writer: (raw.flags & abi::exec_flag::RECENTLY_WRITTEN != 0).then(|| ExeWriter {
                    pid: raw.writer_pid,
                    uid: raw.writer_uid,
                    comm: Text::from_c(&raw.writer_comm),
                    ktime: raw.written_ktime,
                }),
                policy: PolicyVerdict::from_raw(raw.policy, raw.verdict),
            });
            if hdr.kind == kind::EXEC {
                Body::Exec(exec)
            } else {
                Body::Snapshot(exec)
            }
        }
        kind::FORK => {
            let raw: RawFork = fixed(&mut r)?;
            tail(&mut r, [])?;
            Body::Fork(Fork {
                child_pid: raw.child_pid,
                child_ppid: raw.child_ppid,
                child_start_ktime: raw.child_start_ktime,
            })
        }
        kind::EXIT => {
            let raw: RawExit = fixed(&mut r)?;
            tail(&mut r, [])?;
            Body::Exit(Exit {
                status: raw.exit_code,
                start_ktime: raw.start_ktime,
            })
        }
        kind::CWD => {
            let raw: RawCwd = fixed(&mut r)?;
            let [cwd] = tail(&mut r, [raw.cwd_len])?;
            Body::Cwd(Cwd {
                syscall: raw.syscall,
                truncated: raw.flags as u32 & abi::file_flag::PATH_TRUNC != 0,
                cwd: Text::new(cwd),
            })
        }
        kind::FILE => {
            let raw: RawFile = fixed(&mut r)?;
            let [path, path2] = tail(&mut r, [raw.path_len, raw.path2_len])?;
            let path = if raw.vflags & abi::file_flag::JOINED != 0 {
                clean_path(path)
            } else {
                Text::new(path)
            };
            let path2 = (!path2.is_empty()).then(|| {
                if raw.vflags & abi::file_flag::PATH2_JOINED != 0 || path2.starts_with(b"/") {
                    clean_path(path2)
                } else {
                    Text::new(path2) // a symlink target, kept as given
                }
            });
            Body::File(Box::new(File {
                op: FileOp::from_raw(raw.op),
                syscall: raw.syscall,
                fd: raw.fd,
                ret: raw.ret,
                flags: raw.flags,
                mode: raw.mode,
                uid: raw.uid,
                gid: raw.gid,
                vflags: raw.vflags,
                dev: raw.dev,
                ino: raw.ino,
                aux: raw.aux,
                i_mode: raw.i_mode,
                path,
                path2,
            }))
        }
        kind::NET => {
            let raw: RawNet = fixed(&mut r)?;
            let [path, names] = tail(&mut r, [raw.path_len, raw.names_len])?;
            Body::Net(Box::new(Net {
                op: NetOp::from_raw(raw.op),
                syscall: raw.syscall,
                fd: raw.fd,
                ret: raw.ret,
                family: raw.family,
                sock_type: raw.sock_type,
                protocol: raw.protocol,
                direction: raw.direction,
                lport: raw.lport,
                rport: raw.rport,
                flags: raw.flags,
                laddr: ip_from_raw(raw.family, &raw.laddr),
                raddr: ip_from_raw(raw.family, &raw.raddr),
                cookie: raw.cookie,
                start_ktime: raw.start_ktime,
                bytes_out: raw.bytes_out,
                bytes_in: raw.bytes_in,
                pkts_out: raw.pkts_out,
                pkts_in: raw.pkts_in,
                closer_pid: raw.closer_pid,
                newfd: raw.newfd,
                unix_path: (!path.is_empty()).then(|| Text::new(path)),
                names: Text::split_nul(names),
                policy: PolicyVerdict::from_raw(raw.policy, raw.verdict),
            }))
        }
        kind::DNS => {
            let raw: RawDns = fixed(&mut r)?;
            let [qname, cnames] = tail(&mut r, [raw.qname_len, raw.cnames_len])?;
            let n = (raw.naddrs as usize).min(abi::limits::DNS_MAX_ADDRS);
            Body::Dns(Box::new(Dns {
                id: raw.id,
                dns_flags: raw.dns_flags,
                qtype: raw.qtype,
                rcode: raw.rcode,
                qdcount: raw.qdcount,
                ancount: raw.ancount,
                server: ip_from_raw(raw.family, &raw.server),
                server_port: raw.server_port,
                client_port: raw.client_port,
                vflags: raw.vflags,
                cookie: raw.cookie,
                answers: raw.addrs.0[..n]
                    .iter()
                    .filter_map(|a| ip_from_raw(a.family, &a.addr).map(|addr| DnsAnswer { addr, ttl: a.ttl }))
                    .collect(),
                qname: Text::new(qname),
                cnames: Text::split_nul(cnames),
            }))
        }
        kind::SYSCALL => {
            let raw: RawSyscall = fixed(&mut r)?;
            let [s1, s2] = tail(&mut r, [raw.str_len, raw.str2_len])?;
            Body::Syscall(Box::new(Syscall {
                syscall: raw.syscall,
                flags: raw.flags,
                ret: raw.ret,
                args: raw.args.0,
                target_pid: raw.target_pid,
                target_comm: (raw.flags & abi::sys_flag::TARGET_KNOWN != 0).then(|| Text::from_c(&raw.target_comm)),
                str1: (!s1.is_empty()).then(|| Text::new(s1)),
                str2: (!s2.is_empty()).then(|| Text::new(s2)),
            }))
        }
        kind::DETECTION => {
            let raw: RawDetection = fixed(&mut r)?;
            let [sample] = tail(&mut r, [raw.sample_len])?;
            Body::Detection(Box::new(Detection {
                detector: raw.detector,
                count: raw.count,
                threshold: raw.threshold,
                window_start_ktime: raw.window_start_ktime,
                window_ns: raw.window_ns,
                sample: Text::new(sample),
            }))
        }
        kind::CGROUP => {
            let raw: RawCgroup = fixed(&mut r)?;
            let [path] = tail(&mut r, [raw.path_len])?;
            Body::Cgroup(Box::new(Cgroup {
                id: raw.id,
                removed: raw.op == abi::cgroup_op::RMDIR,
                level: raw.level,
                path: Text::new(path),
            }))
        }
        kind::USER_CALL => {
            let raw: RawUserCall = fixed(&mut r)?;
            let [s1, s2] = tail(&mut r, [raw.str_len, raw.str2_len])?;
            Body::UserCall(Box::new(UserCall {
                func: raw.func,
                flags: raw.flags,
                ret: raw.ret,
                str1: Text::new(s1),
                str2: Text::new(s2),
            }))
        }
        kind::TICK => {
            let _: RawHdr = fixed(&mut r)?;
            tail(&mut r, [])?;
            Body::Tick
        }
        other => return Err(DecodeError::UnknownKind(other)),
    };
    Ok(Event {
        ktime: hdr.ktime,
        pid: hdr.pid,
        tid: hdr.tid,
        uid: hdr.uid,
        gid: hdr.gid,
        cgroup_id: hdr.cgroup_id,
        comm: Text::from_c(&hdr.comm),
        body,
    })
}

fn fixed<T: Wire>(r: &mut Reader<'_>) -> Result<T, DecodeError> {
    let len = r.pos();
    T::read(r).ok_or(DecodeError::TooShort { len, need: T::SIZE })
}

/// Splits the string tail by its declared lengths; they must cover it exactly.
fn tail<'a, const N: usize>(r: &mut Reader<'a>, lens: [u16; N]) -> Result<[&'a [u8]; N], DecodeError> {
    let total: usize = lens.iter().map(|&l| l as usize).sum();
    let rest = r.rest();
    if total != rest.len() {
        return Err(DecodeError::TailMismatch {
            tail: total,
            available: rest.len(),
        });
    }
    let mut out = [&rest[..0]; N];
    let mut at = 0;
    for (slot, len) in out.iter_mut().zip(lens) {
        *slot = &rest[at..at + len as usize];
        at += len as usize;
    }
    Ok(out)
}

/// Folds "." and ".." lexically and collapses repeated slashes ("/a//b/../c" -> "/a/c").
/// Applied to paths the kernel joined from a directory and a relative string.
pub fn clean_path(path: &[u8]) -> Text {
    let mut parts: Vec<&[u8]> = Vec::new();
    for comp in path.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    for p in &parts {
        out.push(b'/');
        out.extend_from_slice(p);
    }
    if out.is_empty() {
        out.push(b'/');
    }
    Text::new(out)
}

/// A text in a NUL-padded 16-byte field (comm), truncated to 15 bytes.
fn comm16(t: Option<&Text>) -> [u8; abi::COMM_LEN] {
    let mut out = [0u8; abi::COMM_LEN];
    if let Some(t) = t {
        let b = t.as_bytes();
        let n = b.len().min(abi::COMM_LEN - 1);
        out[..n].copy_from_slice(&b[..n]);
    }
    out
}

/// Strings separated by NULs, none after the last (the kernel's names lists).
fn join_nul(v: &[Text]) -> Vec<u8> {
    let mut b = Vec::new();
    for (i, t) in v.iter().enumerate() {
        if i > 0 {
            b.push(0);
        }
        b.extend_from_slice(t.as_bytes());
    }
    b
}

/// A tick record: the agent's clock at a housekeeping point.
pub fn tick_record(ktime: u64) -> Vec<u8> {
    encode(&Event {
        ktime,
        pid: 0,
        tid: 0,
        uid: 0,
        gid: 0,
        cgroup_id: 0,
        comm: Text::default(),
        body: Body::Tick,
    })
}

/// Encodes an event into the record the kernel would have written. Used for the
/// /proc snapshot at start and by tests.
pub fn encode(ev: &Event) -> Vec<u8> {
    let comm = comm16(Some(&ev.comm));
    let mut hdr = RawHdr {
        kind: 0,
        abi: abi::ABI_VERSION,
        size: 0,
        ktime: ev.ktime,
        pid: ev.pid,
        tid: ev.tid,
        uid: ev.uid,
        gid: ev.gid,
        cgroup_id: ev.cgroup_id,
        comm,
    };
    let mut w = Writer::default();
    let mut tails: Vec<Vec<u8>> = Vec::new();
    let len16 = |v: &[u8]| v.len().min(u16::MAX as usize) as u16;
    match &ev.body {
        Body::Exec(x) | Body::Snapshot(x) => {
            hdr.kind = if matches!(ev.body, Body::Exec(_)) {
                kind::EXEC
            } else {
                kind::SNAPSHOT
            };
            let join = |v: &[Text], max: usize| {
                let mut b = Vec::new();
                for t in v {
                    b.extend_from_slice(t.as_bytes());
                    b.push(0);
                }
                b.truncate(max);
                b
            };
            let cap = |t: &Text| t.as_bytes()[..t.len().min(abi::PATH_MAX)].to_vec();
            tails = vec![
                cap(&x.exe),
                cap(&x.filename),
                x.interp.as_ref().map(cap).unwrap_or_default(),
                join(&x.argv, abi::ARGV_MAX),
                join(&x.env, abi::ENV_MAX),
                cap(&x.cwd),
                x.prev_exe.as_ref().map(cap).unwrap_or_default(),
            ];
            let prev_comm = comm16(Some(&x.prev_comm));
            RawExec {
                hdr,
                ppid: x.ppid,
                sid: x.sid,
                euid: x.euid,
                egid: x.egid,
                loginuid: x.loginuid,
                tty: x.tty,
                flags: x.flags,
                argc: x.argc,
                start_ktime: x.start_ktime,
                cap_effective: x.cap_effective,
                cap_permitted: x.cap_permitted,
                exe_ino: x.exe_ino,
                exe_dev: x.exe_dev,
                exe_mode: x.exe_mode,
                mnt_ns: x.mnt_ns,
                pid_ns: x.pid_ns,
                net_ns: x.net_ns,
                vpid: x.vpid,
                prev_comm,
                stdio_family: match x.stdio_peer.map(|p| p.addr) {
                    Some(std::net::IpAddr::V4(_)) => AF_INET,
                    Some(std::net::IpAddr::V6(_)) => AF_INET6,
                    None => 0,
                },
                stdio_port: x.stdio_peer.map_or(0, |p| p.port),
                written_ktime: x.writer.as_ref().map_or(0, |w| w.ktime),
                writer_pid: x.writer.as_ref().map_or(0, |w| w.pid),
                writer_uid: x.writer.as_ref().map_or(0, |w| w.uid),
                writer_comm: comm16(x.writer.as_ref().map(|w| &w.comm)),
                stdio_addr: ip_to_raw(x.stdio_peer.map(|p| p.addr)),
                exe_len: len16(&tails[0]),
                filename_len: len16(&tails[1]),
                interp_len: len16(&tails[2]),
                argv_len: len16(&tails[3]),
                env_len: len16(&tails[4]),
                cwd_len: len16(&tails[5]),
                prev_exe_len: len16(&tails[6]),
                verdict: PolicyVerdict::to_raw(x.policy).1,
                policy: PolicyVerdict::to_raw(x.policy).0,
                pad: 0,
            }
            .write(&mut w);
        }
        Body::Fork(f) => {
            hdr.kind = kind::FORK;
            RawFork {
                hdr,
                child_pid: f.child_pid,
                child_ppid: f.child_ppid,
                child_start_ktime: f.child_start_ktime,
            }
            .write(&mut w);
        }
        Body::Exit(x) => {
            hdr.kind = kind::EXIT;
            RawExit {
                hdr,
                exit_code: x.status,
                pad: 0,
                start_ktime: x.start_ktime,
            }
            .write(&mut w);
        }
        Body::Cwd(c) => {
            hdr.kind = kind::CWD;
            tails = vec![c.cwd.as_bytes().to_vec()];
            RawCwd {
                hdr,
                syscall: c.syscall,
                flags: if c.truncated {
                    abi::file_flag::PATH_TRUNC as u16
                } else {
                    0
                },
                cwd_len: len16(&tails[0]),
                pad: 0,
            }
            .write(&mut w);
        }
        Body::File(f) => {
            hdr.kind = kind::FILE;
            tails = vec![
                f.path.as_bytes().to_vec(),
                f.path2.as_ref().map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
            ];
            RawFile {
                hdr,
                op: f.op.to_raw(),
                syscall: f.syscall,
                fd: f.fd,
                ret: f.ret,
                flags: f.flags,
                mode: f.mode,
                uid: f.uid,
                gid: f.gid,
                vflags: f.vflags,
                dev: f.dev,
                ino: f.ino,
                aux: f.aux,
                i_mode: f.i_mode,
                path_len: len16(&tails[0]),
                path2_len: len16(&tails[1]),
            }
            .write(&mut w);
        }
        Body::Net(n) => {
            hdr.kind = kind::NET;
            tails = vec![
                n.unix_path.as_ref().map(|p| p.as_bytes().to_vec()).unwrap_or_default(),
                join_nul(&n.names),
            ];
            RawNet {
                hdr,
                op: n.op.to_raw(),
                syscall: n.syscall,
                fd: n.fd,
                ret: n.ret,
                family: n.family,
                sock_type: n.sock_type,
                protocol: n.protocol,
                direction: n.direction,
                lport: n.lport,
                rport: n.rport,
                flags: n.flags,
                laddr: ip_to_raw(n.laddr),
                raddr: ip_to_raw(n.raddr),
                cookie: n.cookie,
                start_ktime: n.start_ktime,
                bytes_out: n.bytes_out,
                bytes_in: n.bytes_in,
                pkts_out: n.pkts_out,
                pkts_in: n.pkts_in,
                closer_pid: n.closer_pid,
                newfd: n.newfd,
                path_len: len16(&tails[0]),
                names_len: len16(&tails[1]),
                verdict: PolicyVerdict::to_raw(n.policy).1,
                policy: PolicyVerdict::to_raw(n.policy).0,
            }
            .write(&mut w);
        }
        Body::Tick => {
            hdr.kind = kind::TICK;
            hdr.write(&mut w);
        }
        Body::Syscall(x) => {
            hdr.kind = kind::SYSCALL;
            let t = |o: &Option<Text>| o.as_ref().map(|t| t.as_bytes().to_vec()).unwrap_or_default();
            tails = vec![t(&x.str1), t(&x.str2)];
            RawSyscall {
                hdr,
                syscall: x.syscall,
                flags: x.flags,
                target_pid: x.target_pid,
                ret: x.ret,
                args: SyscallArgs(x.args),
                target_comm: comm16(x.target_comm.as_ref()),
                str_len: len16(&tails[0]),
                str2_len: len16(&tails[1]),
                pad: 0,
            }
            .write(&mut w);
        }
        Body::Detection(d) => {
            hdr.kind = kind::DETECTION;
            tails = vec![d.sample.as_bytes().to_vec()];
            RawDetection {
                hdr,
                detector: d.detector,
                pad: 0,
                count: d.count,
                threshold: d.threshold,
                pad2: 0,
                window_start_ktime: d.window_start_ktime,
                window_ns: d.window_ns,
                sample_len: len16(&tails[0]),
                pad3: 0,
                pad4: 0,
            }
            .write(&mut w);
        }
        Body::Cgroup(c) => {
            hdr.kind = kind::CGROUP;
            tails = vec![c.path.as_bytes().to_vec()];
            RawCgroup {
                hdr,
                id: c.id,
                op: if c.removed {
                    abi::cgroup_op::RMDIR
                } else {
                    abi::cgroup_op::MKDIR
                },
                level: c.level,
                path_len: len16(&tails[0]),
                pad: 0,
                pad2: 0,
            }
            .write(&mut w);
        }
        Body::UserCall(u) => {
            hdr.kind = kind::USER_CALL;
            tails = vec![u.str1.as_bytes().to_vec(), u.str2.as_bytes().to_vec()];
            RawUserCall {
                hdr,
                func: u.func,
                flags: u.flags,
                ret: u.ret,
                str_len: len16(&tails[0]),
                str2_len: len16(&tails[1]),
                pad: 0,
            }
            .write(&mut w);
        }
        Body::Dns(d) => {
            hdr.kind = kind::DNS;
            tails = vec![d.qname.as_bytes().to_vec(), join_nul(&d.cnames)];
            let mut addrs = DnsAddrs::default();
            for (slot, a) in addrs.0.iter_mut().zip(&d.answers) {
                *slot = RawDnsAddr {
                    family: if a.addr.is_ipv4() { AF_INET } else { AF_INET6 },
                    pad: 0,
                    ttl: a.ttl,
                    addr: ip_to_raw(Some(a.addr)),
                };
            }
            RawDns {
                hdr,
                id: d.id,
                dns_flags: d.dns_flags,
                qtype: d.qtype,
                rcode: d.rcode,
                qdcount: d.qdcount,
                ancount: d.ancount,
                family: match d.server {
                    Some(std::net::IpAddr::V4(_)) => AF_INET,
                    Some(std::net::IpAddr::V6(_)) => AF_INET6,
                    None => 0,
                },
                server_port: d.server_port,
                server: ip_to_raw(d.server),
                client_port: d.client_port,
                naddrs: d.answers.len().min(abi::limits::DNS_MAX_ADDRS) as u16,
                vflags: d.vflags,
                cookie: d.cookie,
                addrs,
                qname_len: len16(&tails[0]),
                cnames_len: len16(&tails[1]),
                pad: 0,
            }
            .write(&mut w);
        }
    }
    for t in &tails {
        w.put(t);
    }
    let size = (w.buf.len() as u32).to_le_bytes();
    w.buf[4..8].copy_from_slice(&size);
    w.buf
}

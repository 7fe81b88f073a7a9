//! An event as the rule engine sees it: the decoded event, its process from the
//! tree, the ancestry, and host facts (user names, hostname, container ids), answering
//! Falco's field names (`vigil_rules::Field`) with Falco's meanings.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use vigil_event::abi::{dns_flag, exec_flag, file_flag, net_flag};
use vigil_event::model::{NetOp, AF_INET, AF_INET6, AF_UNIX};
use vigil_event::names::{errno_name, file_type, open_flag_names, O_ACCMODE, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use vigil_event::{Body, Event, FileOp, Text};
use vigil_proctree::Process;
use vigil_rules::{EventSource, Field, FieldArg, FieldRef, ListValue, Value};

use crate::host::HostFacts;
use crate::render::{self, dns_rcode_name, dns_type_name, evt_type, l4proto, rfc3339};

/// Several values of one field, held by the event so rules can borrow them.
enum Many<'a> {
    /// One attribute of each ancestor (parent first).
    Ancestors(&'a [Arc<Process>], fn(&Process) -> Value<'_>),
    Texts(&'a [Text]),
    Strings(Vec<String>),
    Ips([Option<IpAddr>; 2]),
    Ports([u16; 2]),
}

impl ListValue for Many<'_> {
    fn value_count(&self) -> usize {
        match self {
            Many::Ancestors(a, _) => a.len(),
            Many::Texts(t) => t.len(),
            Many::Strings(s) => s.len(),
            Many::Ips(ips) => ips.iter().flatten().count(),
            Many::Ports(_) => 2,
        }
    }

    fn value_at(&self, i: usize) -> Value<'_> {
        match self {
            Many::Ancestors(a, f) => a.get(i).map_or(Value::None, |p| f(p)),
            Many::Texts(t) => t.get(i).map_or(Value::None, |x| Value::Str(x.as_str())),
            Many::Strings(s) => s.get(i).map_or(Value::None, |x| Value::str(x)),
            Many::Ips(ips) => ips.iter().flatten().nth(i).map_or(Value::None, |ip| Value::Ip(*ip)),
            Many::Ports(p) => p.get(i).map_or(Value::None, |p| Value::Uint(*p as u64)),
        }
    }
}

fn p_name(p: &Process) -> Value<'_> {
    Value::Str(p.name.as_str())
}
fn p_pid(p: &Process) -> Value<'_> {
    Value::Int(p.pid as i64)
}
fn p_exe(p: &Process) -> Value<'_> {
    argv0(p)
}
fn p_exepath(p: &Process) -> Value<'_> {
    Value::Str(p.exe.as_str())
}
fn p_cmdline(p: &Process) -> Value<'_> {
    Value::Str(Cow::Owned(cmdline(p)))
}

fn argv0(p: &Process) -> Value<'_> {
    match p.args.first() {
        Some(a) => Value::Str(a.as_str()),
        None => Value::Str(p.exe.as_str()),
    }
}

/// Falco's `proc.cmdline`: the command name, then the arguments after argv[0].
pub fn cmdline(p: &Process) -> String {
    let mut s = p.name.to_string();
    for a in p.args.iter().skip(1) {
        s.push(' ');
        s.push_str(&a.as_str());
    }
    s
}

fn args(p: &Process) -> String {
    p.args
        .iter()
        .skip(1)
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Falco's `proc.cwd` ends with a slash.
pub fn cwd_with_slash(cwd: &Text) -> String {
    let s = cwd.as_str();
    if s.ends_with('/') {
        s.into_owned()
    } else {
        format!("{s}/")
    }
}

const CAPS: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Capabilities as Falco renders them: names separated by spaces.
pub fn cap_names(caps: u64) -> String {
    CAPS.iter()
        .enumerate()
        .filter(|(i, _)| caps & (1u64 << i) != 0)
        .map(|(_, n)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

/// File mode as Falco renders syscall mode arguments: octal, then the bits by name.
pub fn mode_string(mode: u32) -> String {
    const BITS: [(u32, &str); 12] = [
        (0o4000, "S_ISUID"),
        (0o2000, "S_ISGID"),
        (0o1000, "S_ISVTX"),
        (0o400, "S_IRUSR"),
        (0o200, "S_IWUSR"),
        (0o100, "S_IXUSR"),
        (0o040, "S_IRGRP"),
        (0o020, "S_IWGRP"),
        (0o010, "S_IXGRP"),
        (0o004, "S_IROTH"),
        (0o002, "S_IWOTH"),
        (0o001, "S_IXOTH"),
    ];
    let names: Vec<&str> = BITS.iter().filter(|(b, _)| mode & b != 0).map(|(_, n)| *n).collect();
    format!("0{:o}({})", mode & 0o7777, names.join("|"))
}

/// Exec flags as Falco's `evt.arg.flags` of execve names them.
fn exe_flags(flags: u32) -> String {
    let mut out = Vec::new();
    for (bit, name) in [
        (exec_flag::EXE_UPPER, "EXE_UPPER_LAYER"),
        (exec_flag::EXE_MEMFD, "EXE_FROM_MEMFD"),
        (exec_flag::EXE_DELETED, "EXE_DELETED"),
        (exec_flag::SECUREEXEC, "EXE_SECUREEXEC"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    out.join("|")
}

/// Everything a rule may ask about one event.
pub struct RuleEvent<'a> {
    ev: &'a Event,
    evt_type: &'static str,
    num: u64,
    proc: &'a Process,
    ancestors: &'a [Arc<Process>],
    lineage: Vec<u32>,
    host: &'a HostFacts,
    boot_to_realtime_ns: i64,
    aname: Many<'a>,
    apid: Many<'a>,
    aexe: Many<'a>,
    aexepath: Many<'a>,
    acmdline: Many<'a>,
    env: Many<'a>,
    dns_names: Many<'a>,
    ips: Many<'a>,
    ports: Many<'a>,
    nets: Many<'a>,
    /// `dns.qname_suffixes` / `fd.dns_suffixes`: every parent domain of the names.
    suffixes: Many<'a>,
    /// TXT queries of this process in the last 60 s (set by the pipeline).
    pub dns_txt_60s: u64,
}

/// `a.b.example.com` -> `a.b.example.com`, `b.example.com`, `example.com`, `com`.
pub fn domain_suffixes(name: &str) -> impl Iterator<Item = &str> {
    let name = name.trim_end_matches('.');
    std::iter::once(name)
        .chain(name.match_indices('.').map(move |(i, _)| &name[i + 1..]))
        .filter(|s| !s.is_empty())
}

/// Length of the longest label, and its Shannon entropy in thousandths of a bit per character.
pub fn label_stats(name: &str) -> (u64, u64) {
    let longest = name.split('.').max_by_key(|l| l.len()).unwrap_or("");
    let mut counts = [0u32; 256];
    for b in longest.bytes() {
        counts[b as usize] += 1;
    }
    let n = longest.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    (longest.len() as u64, (entropy * 1000.0).round() as u64)
}

static EMPTY_TEXTS: [Text; 0] = [];

impl<'a> RuleEvent<'a> {
    pub fn new(
        ev: &'a Event,
        num: u64,
        proc: &'a Process,
        ancestors: &'a [Arc<Process>],
        host: &'a HostFacts,
        boot_to_realtime_ns: i64,
    ) -> Self {
        let mut lineage = Vec::with_capacity(ancestors.len() + 1);
        lineage.push(ev.pid);
        lineage.extend(ancestors.iter().map(|a| a.pid));
        let (names, ends): (&'a [Text], [Option<IpAddr>; 2]) = match &ev.body {
            Body::Net(n) => (&n.names, [n.laddr, n.raddr]),
            _ => (&EMPTY_TEXTS, [None, None]),
        };
        let ports = match &ev.body {
            Body::Net(n) => [n.lport, n.rport],
            _ => [0, 0],
        };
        let suffixes: Vec<String> = match &ev.body {
            Body::Net(n) => n
                .names
                .iter()
                .flat_map(|t| domain_suffixes(&t.as_str()).map(str::to_string).collect::<Vec<_>>())
                .collect(),
            Body::Dns(d) => domain_suffixes(&d.qname.as_str()).map(str::to_string).collect(),
            _ => Vec::new(),
        };
        RuleEvent {
            ev,
            evt_type: evt_type(ev),
            num,
            proc,
            ancestors,
            lineage,
            host,
            boot_to_realtime_ns,
            aname: Many::Ancestors(ancestors, p_name),
            apid: Many::Ancestors(ancestors, p_pid),
            aexe: Many::Ancestors(ancestors, p_exe),
            aexepath: Many::Ancestors(ancestors, p_exepath),
            acmdline: Many::Ancestors(ancestors, p_cmdline),
            env: Many::Texts(&proc.env),
            dns_names: Many::Texts(names),
            ips: Many::Ips(ends),
            ports: Many::Ports(ports),
            nets: Many::Ips(ends),
            suffixes: Many::Strings(suffixes),
            dns_txt_60s: 0,
        }
    }

    fn parent(&self) -> Option<&Process> {
        self.ancestors.first().map(|p| p.as_ref())
    }

    /// `proc.aname[N]` and friends: N = 0 is the process itself, 1 its parent, ...
    fn ancestor_at(&self, n: u32) -> Option<&Process> {
        match n {
            0 => Some(self.proc),
            n => self.ancestors.get(n as usize - 1).map(|p| p.as_ref()),
        }
    }

    fn ancestral(&self, arg: &FieldArg, list: &'a Many<'a>, one: fn(&Process) -> Value<'_>) -> Value<'_> {
        match arg {
            FieldArg::Index(n) => self.ancestor_at(*n).map_or(Value::None, one),
            _ => Value::List(list),
        }
    }

    fn res(&self) -> Option<i64> {
        match &self.ev.body {
            Body::File(f) => Some(f.ret),
            Body::Net(n) if n.syscall != 0 => Some(n.ret),
            Body::Syscall(x) => Some(x.ret),
            Body::Exec(_) | Body::Cwd(_) => Some(0),
            _ => None,
        }
    }

    fn file_path(&self) -> Option<&'a Text> {
        match &self.ev.body {
            Body::File(f) => Some(&f.path),
            _ => None,
        }
    }

    fn open_flags(&self) -> Option<u32> {
        match &self.ev.body {
            Body::File(f) if f.op == FileOp::Open => Some(f.flags),
            _ => None,
        }
    }

    fn fd_num(&self) -> Option<i64> {
        match &self.ev.body {
            Body::File(f) => match f.op {
                FileOp::Open | FileOp::MemfdCreate => Some(if f.ret >= 0 { f.ret } else { -1 }),
                _ if f.fd >= 0 => Some(f.fd as i64),
                _ => None,
            },
            Body::Net(n) if n.fd >= 0 => Some(n.fd as i64),
            _ => None,
        }
    }

    /// (client, server) ends of an IPv4/IPv6 connection.
    fn roles(&self) -> Option<(render::End, render::End)> {
        match &self.ev.body {
            Body::Net(n) if matches!(n.family, AF_INET | AF_INET6) => Some(render::client_server(n)),
            _ => None,
        }
    }

    fn ip_value(ip: Option<IpAddr>) -> Value<'static> {
        ip.map_or(Value::None, Value::Ip)
    }

    /// `evt.arg.NAME` / `evt.arg[N]` with Falco's argument names per event type.
    fn arg(&self, arg: &FieldArg) -> Value<'_> {
        let name: Cow<'_, str> = match arg {
            FieldArg::Name(n) => Cow::Borrowed(n),
            FieldArg::Index(i) => Cow::Owned(self.arg_name_at(*i as usize).to_string()),
            FieldArg::None => return Value::None,
        };
        let s = |t: &'a Text| Value::Str(t.as_str());
        let owned = |t: String| Value::Str(Cow::Owned(t));
        match (&self.ev.body, name.as_ref()) {
            (_, "res") | (_, "res_or_fd") => self.res().map_or(Value::None, Value::Int),
            (Body::Exec(x), "flags") => owned(exe_flags(x.flags)),
            (Body::Exec(x), "filename" | "exe") => s(&x.filename),
            (Body::Exec(_), "args") => owned(args(self.proc)),
            (Body::Exec(_), "cwd") => owned(cwd_with_slash(&self.proc.cwd)),
            (Body::File(f), "flags") if f.op == FileOp::Open => owned(open_flag_names(f.flags).join("|")),
            (Body::File(f), "flags") => Value::Uint(f.flags as u64),
            (Body::File(f), "mode") => owned(mode_string(f.mode)),
            (Body::File(f), "fd") if f.fd >= 0 => Value::Int(f.fd as i64),
            (Body::File(_), "fd") => self.fd_num().map_or(Value::None, Value::Int),
            (Body::File(f), "uid") => Value::Uint(f.uid as u64),
            (Body::File(f), "gid") => Value::Uint(f.gid as u64),
            (Body::File(f), "length") => Value::Uint(f.aux),
            (Body::File(f), "dev") => Value::Uint(f.dev as u64),
            (Body::File(f), "ino") => Value::Uint(f.ino),
            (Body::File(f), "name" | "path" | "pathname" | "filename" | "oldpath" | "linkpath") => {
                // symlink: the link created is path 1; the target string is path 2
                s(&f.path)
            }
            (Body::File(f), "newpath") => f.path2.as_ref().map_or(Value::None, s),
            (Body::File(f), "target") if f.op == FileOp::Symlink => f.path2.as_ref().map_or(Value::None, s),
            (Body::Net(n), "fd") => Value::Int(n.fd as i64),
            (Body::Net(n), "newfd") => Value::Int(n.newfd as i64),
            (Body::Net(n), "domain") => owned(
                match n.family {
                    AF_INET => "AF_INET",
                    AF_INET6 => "AF_INET6",
                    AF_UNIX => "AF_UNIX",
                    17 => "AF_PACKET",
                    _ => "AF_UNKNOWN",
                }
                .to_string(),
            ),
            (Body::Net(n), "type") => Value::Uint(n.sock_type as u64),
            (Body::Net(n), "proto") => Value::Uint(n.protocol as u64),
            (Body::Net(n), "addr" | "tuple") => owned(render::sock_name(n)),
            (Body::Dns(d), "name" | "qname") => s(&d.qname),
            (Body::Syscall(x), n) => crate::syscall_args::named_args(x)
                .into_iter()
                .find(|(k, _)| *k == n)
                .map_or(Value::None, |(_, v)| owned(v)),
            _ => Value::None,
        }
    }

    fn arg_name_at(&self, i: usize) -> &'static str {
        let names: &[&str] = match &self.ev.body {
            Body::Exec(_) => &[
                "res", "exe", "args", "tid", "pid", "ptid", "cwd", "fdlimit", "pgft_maj", "pgft_min", "vm_size",
                "vm_rss", "vm_swap", "comm", "cgroups", "env", "tty", "pgid", "loginuid", "flags",
            ],
            Body::File(f) => match f.op {
                FileOp::Open => &["fd", "dirfd", "name", "flags", "mode", "dev", "ino"],
                FileOp::Rename | FileOp::Link => &["res", "oldpath", "newpath"],
                FileOp::Symlink => &["res", "target", "linkpath"],
                FileOp::Chmod | FileOp::Mkdir => &["res", "path", "mode"],
                _ => &["res", "path"],
            },
            Body::Net(_) => &["fd", "addr"],
            _ => &[],
        };
        names.get(i).copied().unwrap_or("")
    }

    fn user_name(&self, uid: u32) -> Value<'_> {
        self.host
            .user_name(uid)
            .map_or(Value::None, |n| Value::Str(Cow::Owned(n)))
    }
}

impl EventSource for RuleEvent<'_> {
    fn evt_type(&self) -> &str {
        self.evt_type
    }

    fn ts_ns(&self) -> u64 {
        self.ev.ktime
    }

    fn lineage(&self) -> &[u32] {
        &self.lineage
    }

    fn field(&self, f: &FieldRef) -> Value<'_> {
        let ev = self.ev;
        let p = self.proc;
        let owned = |s: String| Value::Str(Cow::Owned(s));
        fn text(t: &Text) -> Value<'_> {
            Value::Str(t.as_str())
        }
        let epoch = (ev.ktime as i128 + self.boot_to_realtime_ns as i128).max(0) as u64;
        match f.field {
            // ---------------------------------------------------------------- evt
            Field::EvtType | Field::SyscallType => Value::str(self.evt_type),
            Field::EvtDir => Value::str("<"),
            Field::EvtNum => Value::Uint(self.num),
            Field::EvtTime => owned(rfc3339(ev.ktime, self.boot_to_realtime_ns)[11..29].to_string()),
            Field::EvtTimeS => owned(rfc3339(ev.ktime, self.boot_to_realtime_ns)[11..19].to_string()),
            Field::EvtTimeIso8601 => owned(rfc3339(ev.ktime, self.boot_to_realtime_ns)),
            Field::EvtDatetime => owned(rfc3339(ev.ktime, self.boot_to_realtime_ns)[..29].replace('T', " ")),
            Field::EvtDatetimeS => owned(rfc3339(ev.ktime, self.boot_to_realtime_ns)[..19].replace('T', " ")),
            Field::EvtRawtime | Field::EvtRawtimeNs => Value::Uint(epoch),
            Field::EvtRawtimeS => Value::Uint(epoch / 1_000_000_000),
            Field::EvtReltime => Value::Uint(ev.ktime),
            Field::EvtRes => match self.res() {
                Some(r) if r < 0 => Value::str(errno_name(-r)),
                Some(_) => Value::str("SUCCESS"),
                None => Value::None,
            },
            Field::EvtRawres => self.res().map_or(Value::None, Value::Int),
            Field::EvtFailed => self.res().map_or(Value::None, |r| Value::Bool(r < 0)),
            Field::EvtIsOpenRead => self.open_flags().map_or(Value::None, |fl| {
                Value::Bool(matches!(fl & O_ACCMODE, O_RDONLY | O_RDWR))
            }),
            Field::EvtIsOpenWrite => self.open_flags().map_or(Value::None, |fl| {
                Value::Bool(matches!(fl & O_ACCMODE, O_WRONLY | O_RDWR))
            }),
            Field::EvtIsOpenCreate => self
                .open_flags()
                .map_or(Value::None, |fl| Value::Bool(fl & O_CREAT != 0)),
            Field::EvtIsOpenExec => self.open_flags().map_or(Value::None, |fl| Value::Bool(fl & 0o40 != 0)), // FMODE_EXEC via __FMODE_EXEC
            Field::EvtArg | Field::EvtRawarg => self.arg(&f.arg),
            Field::EvtArgs | Field::EvtInfo => owned(match &ev.body {
                Body::File(x) => format!("res={} name={}", x.ret, x.path),
                Body::Net(n) => format!("res={} tuple={}", n.ret, render::sock_name(n)),
                Body::Exec(x) => format!("filename={}", x.filename),
                _ => String::new(),
            }),
            Field::EvtCategory => Value::str(match &ev.body {
                Body::File(_) => "file",
                Body::Net(_) | Body::Dns(_) => "net",
                _ => "process",
            }),
            Field::EvtHostname => Value::Str(Cow::Borrowed(&self.host.hostname)),
            Field::EvtSource => Value::str("syscall"),
            Field::EvtIsAsync => Value::Bool(matches!(ev.body, Body::Dns(_)) || self.evt_type.starts_with("flow_")),
            Field::EvtAbspath => self.file_path().map_or(Value::None, text),
            Field::FsPathName | Field::FsPathNameraw => self.file_path().map_or(Value::None, text),
            Field::FsPathSource | Field::FsPathSourceraw => match &ev.body {
                Body::File(x) if matches!(x.op, FileOp::Rename | FileOp::Link) => text(&x.path),
                Body::File(x) if x.op == FileOp::Symlink => x.path2.as_ref().map_or(Value::None, text),
                _ => Value::None,
            },
            Field::FsPathTarget | Field::FsPathTargetraw => match &ev.body {
                Body::File(x) if matches!(x.op, FileOp::Rename | FileOp::Link) => {
                    x.path2.as_ref().map_or(Value::None, text)
                }
                Body::File(x) if x.op == FileOp::Symlink => text(&x.path),
                _ => Value::None,
            },

            // ---------------------------------------------------------------- proc
            Field::ProcPid => Value::Int(ev.pid as i64),
            Field::ProcPpid => Value::Int(p.ppid as i64),
            Field::ProcVpid => Value::Int(p.vpid as i64),
            Field::ProcPvpid => self.parent().map_or(Value::None, |pp| Value::Int(pp.vpid as i64)),
            Field::ProcApid => self.ancestral(&f.arg, &self.apid, p_pid),
            Field::ProcSid => Value::Int(p.sid as i64),
            Field::ProcIsSidLeader => Value::Bool(p.sid == ev.pid),
            Field::ProcSname | Field::ProcSidExe | Field::ProcSidExepath => {
                let leader = if p.sid == ev.pid {
                    Some(p)
                } else {
                    self.ancestors.iter().map(|a| a.as_ref()).find(|a| a.pid == p.sid)
                };
                match (leader, f.field) {
                    (Some(l), Field::ProcSname) => text(&l.name),
                    (Some(l), Field::ProcSidExe) => argv0(l),
                    (Some(l), _) => text(&l.exe),
                    (None, _) => Value::None,
                }
            }
            Field::ProcName => text(&p.name),
            Field::ProcPname => self.parent().map_or(Value::None, p_name),
            Field::ProcAname => self.ancestral(&f.arg, &self.aname, p_name),
            Field::ProcExe => argv0(p),
            Field::ProcPexe => self.parent().map_or(Value::None, argv0),
            Field::ProcAexe => self.ancestral(&f.arg, &self.aexe, p_exe),
            Field::ProcExepath => text(&p.exe),
            Field::ProcPexepath => self.parent().map_or(Value::None, p_exepath),
            Field::ProcAexepath => self.ancestral(&f.arg, &self.aexepath, p_exepath),
            Field::ProcCmdline => owned(cmdline(p)),
            Field::ProcPcmdline => self.parent().map_or(Value::None, |pp| owned(cmdline(pp))),
            Field::ProcAcmdline => self.ancestral(&f.arg, &self.acmdline, p_cmdline),
            Field::ProcArgs => match f.arg {
                FieldArg::Index(n) => p.args.get(n as usize).map_or(Value::None, text),
                _ => owned(args(p)),
            },
            Field::ProcCmdnargs => Value::Uint(p.args.len().saturating_sub(1) as u64),
            Field::ProcCmdlenargs => Value::Uint(args(p).len() as u64),
            Field::ProcExeline => owned(p.args.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(" ")),
            Field::ProcEnv => match &f.arg {
                FieldArg::Name(name) => p
                    .env
                    .iter()
                    .find_map(|e| {
                        let b = e.as_bytes();
                        (b.len() > name.len() && b.starts_with(name.as_bytes()) && b[name.len()] == b'=')
                            .then(|| Value::Str(String::from_utf8_lossy(&b[name.len() + 1..])))
                    })
                    .unwrap_or(Value::None),
                _ => Value::List(&self.env),
            },
            Field::ProcCwd => owned(cwd_with_slash(&p.cwd)),
            Field::ProcTty => Value::Uint(p.tty as u64),
            Field::ProcDuration => Value::Uint(ev.ktime.saturating_sub(p.start_ktime)),
            Field::ProcPpidDuration => self
                .parent()
                .map_or(Value::None, |pp| Value::Uint(ev.ktime.saturating_sub(pp.start_ktime))),
            Field::ProcPidTs => Value::Uint((p.start_ktime as i128 + self.boot_to_realtime_ns as i128).max(0) as u64),
            Field::ProcPpidTs => self.parent().map_or(Value::None, |pp| {
                Value::Uint((pp.start_ktime as i128 + self.boot_to_realtime_ns as i128).max(0) as u64)
            }),
            Field::ProcIsExeUpperLayer => Value::Bool(p.exe_flags & exec_flag::EXE_UPPER != 0),
            Field::ProcIsExeFromMemfd => Value::Bool(p.exe_flags & exec_flag::EXE_MEMFD != 0),
            Field::ProcExeDeleted => Value::Bool(p.exe_flags & exec_flag::EXE_DELETED != 0),
            Field::ProcIsSecureexec => Value::Bool(p.exe_flags & exec_flag::SECUREEXEC != 0),
            Field::ProcExeIno => Value::Uint(p.exe_ino),
            Field::ProcInterpreter => p.interp.as_ref().map_or(Value::None, text),
            Field::ProcStdioIsSocket => Value::Bool(p.stdio_sockets != 0),
            Field::ProcExeWrittenBy => p.exe_writer.as_ref().map_or(Value::None, |w| text(&w.comm)),
            Field::ProcExeWriterPid => p.exe_writer.as_ref().map_or(Value::None, |w| Value::Int(w.pid as i64)),
            Field::ProcExeWriterUid => p.exe_writer.as_ref().map_or(Value::None, |w| Value::Uint(w.uid as u64)),
            Field::ProcExeWrittenAgo => p
                .exe_writer
                .as_ref()
                .map_or(Value::None, |w| Value::Uint(p.exec_ktime.saturating_sub(w.ktime))),
            Field::ThreadTid => Value::Int(ev.tid as i64),
            Field::ThreadIsmain => Value::Bool(ev.tid == ev.pid),
            Field::ThreadCapPermitted => owned(cap_names(p.cap_permitted)),
            Field::ThreadCapEffective => owned(cap_names(p.cap_effective)),

            // ---------------------------------------------------------------- user, group
            Field::UserUid => Value::Uint(p.euid as u64),
            Field::UserName => self.user_name(p.euid),
            Field::UserHomedir => self.host.user(p.euid).map_or(Value::None, |u| owned(u.home)),
            Field::UserShell => self.host.user(p.euid).map_or(Value::None, |u| owned(u.shell)),
            Field::UserLoginuid => Value::Int(if p.loginuid == u32::MAX { -1 } else { p.loginuid as i64 }),
            Field::UserLoginname => {
                if p.loginuid == u32::MAX {
                    Value::None
                } else {
                    self.user_name(p.loginuid)
                }
            }
            Field::GroupGid => Value::Uint(p.egid as u64),
            Field::GroupName => self.host.group_name(p.egid).map_or(Value::None, owned),

            // ---------------------------------------------------------------- fd
            Field::FdNum => self.fd_num().map_or(Value::None, Value::Int),
            Field::FdType | Field::FdTypechar => {
                let (ty, c) = match &ev.body {
                    Body::File(x) if x.has(file_flag::INODE_VALID) => file_type(x.i_mode),
                    // an open that failed is still an attempt on a file, as Falco types it
                    Body::File(_) => ("file", 'f'),
                    Body::Net(n) => match n.family {
                        AF_INET => ("ipv4", '4'),
                        AF_INET6 => ("ipv6", '6'),
                        AF_UNIX => ("unix", 'u'),
                        _ => return Value::None,
                    },
                    _ => return Value::None,
                };
                if f.field == Field::FdType {
                    Value::str(ty)
                } else {
                    owned(c.to_string())
                }
            }
            Field::FdName => match &ev.body {
                Body::File(x) => text(&x.path),
                Body::Net(n) => owned(render::sock_name(n)),
                Body::Syscall(x) => crate::syscall_args::path_of(x).map_or(Value::None, owned),
                _ => Value::None,
            },
            Field::FdIsRunningExe => match &ev.body {
                Body::File(x) => Value::Bool(x.has(file_flag::RUNNING_EXE)),
                _ => Value::None,
            },
            Field::FdDnsSuffixes => match &ev.body {
                Body::Net(_) => Value::List(&self.suffixes),
                _ => Value::None,
            },
            Field::FdNameraw => self.file_path().map_or(Value::None, text),
            Field::FdDirectory | Field::FdFilename => match self.file_path() {
                Some(path) => {
                    let b = path.as_bytes();
                    let (dir, file) = match b.iter().rposition(|&c| c == b'/') {
                        Some(0) => (&b[..1], &b[1..]),
                        Some(i) => (&b[..i], &b[i + 1..]),
                        None => (&b[..0], b),
                    };
                    let part = if f.field == Field::FdDirectory { dir } else { file };
                    Value::Str(String::from_utf8_lossy(part))
                }
                None => Value::None,
            },
            Field::FdIno => match &ev.body {
                Body::File(x) if x.has(file_flag::INODE_VALID) => Value::Uint(x.ino),
                _ => Value::None,
            },
            Field::FdDev => match &ev.body {
                Body::File(x) if x.has(file_flag::INODE_VALID) => Value::Uint(x.dev as u64),
                _ => Value::None,
            },
            Field::FdIp | Field::FdNet => match self.roles() {
                Some(_) => Value::List(if f.field == Field::FdIp { &self.ips } else { &self.nets }),
                None => Value::None,
            },
            Field::FdPort => match self.roles() {
                Some(_) => Value::List(&self.ports),
                None => Value::None,
            },
            Field::FdCip | Field::FdCnet => self.roles().map_or(Value::None, |(c, _)| Self::ip_value(c.0)),
            Field::FdSip | Field::FdSnet => self.roles().map_or(Value::None, |(_, s)| Self::ip_value(s.0)),
            Field::FdCport => self.roles().map_or(Value::None, |(c, _)| Value::Uint(c.1 as u64)),
            Field::FdSport => self.roles().map_or(Value::None, |(_, s)| Value::Uint(s.1 as u64)),
            Field::FdLip | Field::FdLnet => match &ev.body {
                Body::Net(n) => Self::ip_value(n.laddr),
                _ => Value::None,
            },
            Field::FdRip | Field::FdRnet => match &ev.body {
                Body::Net(n) => Self::ip_value(n.raddr),
                _ => Value::None,
            },
            Field::FdLport => match &ev.body {
                Body::Net(n) if n.family != AF_UNIX => Value::Uint(n.lport as u64),
                _ => Value::None,
            },
            Field::FdRport => match &ev.body {
                Body::Net(n) if n.family != AF_UNIX => Value::Uint(n.rport as u64),
                _ => Value::None,
            },
            Field::FdL4proto => match &ev.body {
                Body::Net(n) => l4proto(n.protocol)
                    .or(match (n.family, n.sock_type) {
                        (AF_INET | AF_INET6, 1) => Some("tcp"),
                        (AF_INET | AF_INET6, 2) => Some("udp"),
                        _ => None,
                    })
                    .map_or(Value::None, Value::str),
                _ => Value::None,
            },
            Field::FdSockfamily => match &ev.body {
                Body::Net(n) => Value::str(match n.family {
                    AF_INET | AF_INET6 => "ip",
                    AF_UNIX => "unix",
                    _ => "other",
                }),
                _ => Value::None,
            },
            Field::FdIsServer => match &ev.body {
                Body::Net(n) => Value::Bool(matches!(n.direction, net_flag::DIR_IN | net_flag::DIR_LISTEN)),
                _ => Value::None,
            },
            Field::FdConnected => match &ev.body {
                Body::Net(n) => Value::Bool(match n.op {
                    NetOp::Connect => n.ret == 0,
                    NetOp::Accept | NetOp::FlowStart | NetOp::FlowUpdate => true,
                    // a datagram sent with an explicit destination: not a connected socket
                    NetOp::Send => false,
                    _ => false,
                }),
                _ => Value::None,
            },
            Field::FdNameChanged => match &ev.body {
                // SEND is reported once per new (process, peer): the peer changed
                Body::Net(n) => Value::Bool(n.op == NetOp::Send),
                _ => Value::None,
            },
            Field::FdRipName | Field::FdSipName => match &ev.body {
                Body::Net(n) if !n.names.is_empty() => {
                    let remote_is_server = !matches!(n.direction, net_flag::DIR_IN | net_flag::DIR_LISTEN);
                    if (f.field == Field::FdRipName) || remote_is_server {
                        text(&n.names[0])
                    } else {
                        Value::None
                    }
                }
                _ => Value::None,
            },
            Field::FdDnsNames => match &ev.body {
                Body::Net(_) => Value::List(&self.dns_names),
                Body::Dns(d) => text(&d.qname),
                _ => Value::None,
            },

            // ---------------------------------------------------------------- container, DNS
            Field::ContainerId => Value::Str(Cow::Owned(self.host.container_id(ev.cgroup_id))),
            Field::ContainerFullId => Value::Str(Cow::Owned(self.host.container_full_id(ev.cgroup_id))),
            Field::DnsQname => match &ev.body {
                Body::Dns(d) => text(&d.qname),
                _ => Value::None,
            },
            Field::DnsQtype => match &ev.body {
                Body::Dns(d) => owned(dns_type_name(d.qtype)),
                _ => Value::None,
            },
            Field::DnsRcode => match &ev.body {
                Body::Dns(d) if d.has(dns_flag::RESPONSE) => Value::str(dns_rcode_name(d.rcode)),
                _ => Value::None,
            },
            Field::DnsMalformed => match &ev.body {
                Body::Dns(d) => Value::Bool(d.has(dns_flag::MALFORMED)),
                _ => Value::None,
            },
            Field::DnsQnameSuffixes => match &ev.body {
                Body::Dns(_) => Value::List(&self.suffixes),
                _ => Value::None,
            },
            Field::DnsLongestLabelLen | Field::DnsEntropy => match &ev.body {
                Body::Dns(d) => {
                    let (len, entropy) = label_stats(&d.qname.as_str());
                    Value::Uint(if f.field == Field::DnsEntropy { entropy } else { len })
                }
                _ => Value::None,
            },
            Field::DnsProcTxtQueries => match &ev.body {
                Body::Dns(_) => Value::Uint(self.dns_txt_60s),
                _ => Value::None,
            },
            Field::TargetPid | Field::TargetName | Field::TargetIsVigil => match &ev.body {
                Body::Syscall(x) if x.target_pid != 0 => match f.field {
                    Field::TargetPid => Value::Int(x.target_pid as i64),
                    Field::TargetName => x.target_comm.as_ref().map_or(Value::None, text),
                    _ => Value::Bool(x.has(vigil_event::abi::sys_flag::TARGET_AGENT)),
                },
                _ => Value::None,
            },
            Field::DetectionKind => match &ev.body {
                Body::Detection(d) => Value::str(d.name()),
                _ => Value::None,
            },
            Field::DetectionCount => match &ev.body {
                Body::Detection(d) => Value::Uint(d.count as u64),
                _ => Value::None,
            },
            Field::DetectionThreshold => match &ev.body {
                Body::Detection(d) => Value::Uint(d.threshold as u64),
                _ => Value::None,
            },
            Field::DetectionWindow => match &ev.body {
                Body::Detection(d) => Value::Uint(d.window_ns),
                _ => Value::None,
            },
            Field::DetectionSample => match &ev.body {
                Body::Detection(d) => owned(d.sample_text()),
                _ => Value::None,
            },
            _ => Value::None,
        }
    }
}

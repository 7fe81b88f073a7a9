//! An event as the rule engine sees it: the decoded event, its process from the
//! tree, the ancestry, and host facts (user names, hostname, container ids), answering
//! Falco's field names (`vigil_rules::Field`) with Falco's meanings.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::net::IpAddr;
use std::sync::Arc;

use vigil_event::abi::{dns_flag, exec_flag, file_flag, net_dir, net_flag};
use vigil_event::model::{NetOp, AF_INET, AF_INET6, AF_UNIX};
use vigil_event::names::{errno_name, open_flag_names, O_ACCMODE, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY};
use vigil_event::{Body, Event, FileOp, Text};
use vigil_proctree::Process;
use vigil_rules::{EventSource, Field, FieldArg, FieldRef, ListValue, Value};

use crate::facts::ContainerFacts;
use crate::facts::{
    self, cap_names, cmdline, cwd_with_slash, dns_rcode_name, dns_type_name, domain_suffixes, evt_type, label_stats,
    mode_string, rfc3339, FdFacts,
};
use crate::host::HostFacts;
use vigil_container::ContainerMeta;

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
fn argv0(p: &Process) -> Value<'_> {
    Value::Str(facts::argv0(p).as_str())
}
fn p_exepath(p: &Process) -> Value<'_> {
    Value::Str(p.exe.as_str())
}
fn p_cmdline(p: &Process) -> Value<'_> {
    Value::Str(Cow::Owned(cmdline(p)))
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
    /// The `fd.*` facts, computed when a rule first asks for one.
    fd: OnceCell<Option<FdFacts<'a>>>,
    /// The `container.*` and `k8s.*` facts, likewise.
    container: OnceCell<ContainerView>,
}

struct ContainerView {
    facts: ContainerFacts,
    /// `container.mounts`: `source:dest:mode:rdwr:propagation` each.
    mounts: Many<'static>,
}

static EMPTY_TEXTS: [Text; 0] = [];

/// A `container.*` or `k8s.*` field the runtime's answer gives.
fn container_meta_field<'m>(m: &'m ContainerMeta, f: &FieldRef, ktime: u64, boot_to_realtime_ns: i64) -> Value<'m> {
    let name_arg = match &f.arg {
        FieldArg::Name(n) => Some(&**n),
        _ => None,
    };
    let glob = |pattern: &str, s: &str| match pattern.strip_suffix('*') {
        Some(prefix) => s.starts_with(prefix),
        None => s == pattern,
    };
    let pod = m.pod.as_ref();
    let nonempty = |s: &'m str| if s.is_empty() { Value::None } else { Value::str(s) };
    match f.field {
        Field::ContainerName => Value::str(&m.name),
        Field::ContainerImage => nonempty(&m.image),
        Field::ContainerImageId => nonempty(&m.image_id),
        Field::ContainerImageRepository => nonempty(&m.image_repository),
        Field::ContainerImageTag => Value::str(&m.image_tag),
        Field::ContainerImageDigest => nonempty(&m.image_digest),
        Field::ContainerPrivileged => Value::Bool(m.privileged),
        Field::ContainerHostPid => Value::Bool(m.host_pid),
        Field::ContainerHostNetwork => Value::Bool(m.host_network),
        Field::ContainerHostIpc => Value::Bool(m.host_ipc),
        Field::ContainerUser => Value::str(&m.user),
        Field::ContainerIp => m.ip.parse().map_or(Value::None, Value::Ip),
        Field::ContainerStartTs if m.start_ns > 0 => Value::Uint(m.start_ns),
        Field::ContainerDuration if m.start_ns > 0 => {
            let now = (ktime as i64).saturating_add(boot_to_realtime_ns).max(0) as u64;
            Value::Uint(now.saturating_sub(m.start_ns))
        }
        Field::ContainerMountSource => name_arg
            .and_then(|a| m.mounts.iter().find(|x| glob(a, &x.destination)))
            .map_or(Value::None, |x| Value::str(&x.source)),
        Field::ContainerMountDest => name_arg
            .and_then(|a| m.mounts.iter().find(|x| glob(a, &x.source)))
            .map_or(Value::None, |x| Value::str(&x.destination)),
        Field::ContainerLabel => name_arg
            .and_then(|a| m.labels.get(a))
            .map_or(Value::None, |v| Value::str(v)),
        Field::ContainerLabels => Value::Str(Cow::Owned(ContainerFacts::join_labels(m.labels.iter()))),
        Field::K8sNsName => pod.map_or(Value::None, |p| Value::str(&p.namespace)),
        Field::K8sPodName => pod.map_or(Value::None, |p| Value::str(&p.name)),
        Field::K8sPodLabel => pod
            .zip(name_arg)
            .and_then(|(p, a)| p.labels.get(a))
            .map_or(Value::None, |v| Value::str(v)),
        Field::K8sPodLabels => pod.map_or(Value::None, |p| {
            Value::Str(Cow::Owned(ContainerFacts::join_labels(p.labels.iter())))
        }),
        Field::K8sPodFullSandboxId => pod.map_or(Value::None, |p| nonempty(&p.sandbox_id)),
        Field::K8sPodSandboxId => pod.map_or(Value::None, |p| nonempty(&p.sandbox_id[..12.min(p.sandbox_id.len())])),
        _ => Value::None,
    }
}

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
        // Names another process resolved (kernel flag NAMES_OTHER) say little about this
        // connection (shared addresses: CDNs, NAT, loopback): rules do not see them; the
        // JSON still shows them, flagged `names_from_another_process`.
        let own_names = |n: &vigil_event::model::Net| !n.has(vigil_event::abi::net_flag::NAMES_OTHER);
        let (names, ends): (&'a [Text], [Option<IpAddr>; 2]) = match &ev.body {
            Body::Net(n) if own_names(n) => (&n.names, [n.laddr, n.raddr]),
            Body::Net(n) => (&EMPTY_TEXTS, [n.laddr, n.raddr]),
            _ => (&EMPTY_TEXTS, [None, None]),
        };
        let ports = match &ev.body {
            Body::Net(n) => [n.lport, n.rport],
            _ => [0, 0],
        };
        let suffixes: Vec<String> = match &ev.body {
            Body::Net(n) if own_names(n) => n
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
            fd: OnceCell::new(),
            container: OnceCell::new(),
        }
    }

    fn fd(&self) -> Option<&FdFacts<'a>> {
        self.fd.get_or_init(|| FdFacts::of(self.ev)).as_ref()
    }

    fn container(&self) -> &ContainerView {
        self.container.get_or_init(|| {
            let facts = ContainerFacts::of(self.ev.cgroup_id, self.host);
            let mounts = facts
                .meta
                .as_ref()
                .map(|m| {
                    m.mounts
                        .iter()
                        .map(|x| format!("{}:{}:{}:{}:{}", x.source, x.destination, x.mode, x.rw, x.propagation))
                        .collect()
                })
                .unwrap_or_default();
            ContainerView {
                facts,
                mounts: Many::Strings(mounts),
            }
        })
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

    fn ancestral<'s>(&'s self, arg: &FieldArg, list: &'s Many<'s>, one: fn(&Process) -> Value<'_>) -> Value<'s> {
        match arg {
            FieldArg::Index(n) => self.ancestor_at(*n).map_or(Value::None, one),
            _ => Value::List(list),
        }
    }

    fn res(&self) -> Option<i64> {
        facts::res(self.ev)
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
        self.fd().and_then(|f| f.num)
    }

    /// The address of one end of the socket (`fd.sip`, `fd.rip`, ...).
    fn end_ip(&self, end: impl Fn(&FdFacts<'a>) -> Option<facts::End>) -> Value<'_> {
        self.fd().and_then(end).and_then(|e| e.0).map_or(Value::None, Value::Ip)
    }

    /// The port of one end of the socket (`fd.sport`, `fd.rport`, ...).
    fn end_port(&self, end: impl Fn(&FdFacts<'a>) -> Option<facts::End>) -> Value<'_> {
        self.fd().and_then(end).map_or(Value::None, |e| Value::Uint(e.1 as u64))
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
            (Body::Exec(x), "flags") => owned(facts::exe_flag_args(x.flags)),
            (Body::Exec(x), "filename" | "exe") => s(&x.filename),
            (Body::Exec(_), "args") => owned(facts::args(self.proc)),
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
            (Body::Net(n), "addr" | "tuple") => owned(facts::sock_name(n)),
            (Body::Dns(d), "name" | "qname") => s(&d.qname),
            (Body::UserCall(u), n) => facts::user_call_args(u)
                .into_iter()
                .find(|(k, _)| *k == n)
                .map_or(Value::None, |(_, v)| owned(v)),
            (Body::Syscall(x), n) => facts::named_args(x, &self.host.init_namespaces)
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
                Some(r) if r < 0 => Value::str(errno_name(r)),
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
            // the kernel's FMODE_CREATED when it read the opened file (as Falco's drivers
            // do); O_CREAT alone also matches opening a file that already existed
            Field::EvtIsOpenCreate => match &ev.body {
                Body::File(x) if x.op == FileOp::Open && x.has(file_flag::INODE_VALID) => {
                    Value::Bool(x.has(file_flag::CREATED))
                }
                Body::File(x) if x.op == FileOp::Open => Value::Bool(x.flags & O_CREAT != 0 && x.ret >= 0),
                _ => Value::None,
            },
            Field::EvtIsIoUring => match &ev.body {
                Body::File(x) => Value::Bool(x.has(file_flag::IO_URING)),
                Body::Net(n) => Value::Bool(n.has(net_flag::IO_URING)),
                _ => Value::Bool(false),
            },
            Field::EvtIsOpenExec => self.open_flags().map_or(Value::None, |fl| Value::Bool(fl & 0o40 != 0)), // FMODE_EXEC via __FMODE_EXEC
            Field::EvtArg | Field::EvtRawarg => self.arg(&f.arg),
            Field::EvtArgs | Field::EvtInfo => owned(match &ev.body {
                Body::File(x) => format!("res={} name={}", x.ret, x.path),
                Body::Net(n) => format!("res={} tuple={}", n.ret, facts::sock_name(n)),
                Body::Exec(x) => format!("filename={}", x.filename),
                _ => String::new(),
            }),
            Field::EvtCategory => Value::str(facts::evt_category(ev)),
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
                _ => owned(facts::args(p)),
            },
            Field::ProcCmdnargs => Value::Uint(p.args.len().saturating_sub(1) as u64),
            Field::ProcCmdlenargs => Value::Uint(facts::args(p).len() as u64),
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
            Field::ProcExeSameAsParent => match self.ancestors.first() {
                Some(parent) => {
                    Value::Bool(p.exe_ino != 0 && p.exe_ino == parent.exe_ino && p.exe_dev == parent.exe_dev)
                }
                None => Value::None,
            },
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
            Field::FdType => self.fd().and_then(|f| f.kind).map_or(Value::None, |k| Value::str(k.0)),
            Field::FdTypechar => self
                .fd()
                .and_then(|f| f.kind)
                .map_or(Value::None, |k| owned(k.1.to_string())),
            Field::FdName => self.fd().map_or(Value::None, |f| text(&f.name)),
            Field::FdIsRunningExe => match &ev.body {
                Body::File(x) => Value::Bool(x.has(file_flag::RUNNING_EXE)),
                _ => Value::None,
            },
            Field::FdDnsSuffixes => match &ev.body {
                Body::Net(_) => Value::List(&self.suffixes),
                _ => Value::None,
            },
            Field::FdNameraw => self.file_path().map_or(Value::None, text),
            Field::FdDirectory => self.fd().and_then(|f| f.directory.as_ref()).map_or(Value::None, text),
            Field::FdFilename => self.fd().and_then(|f| f.filename.as_ref()).map_or(Value::None, text),
            Field::FdIno => self.fd().and_then(|f| f.ino).map_or(Value::None, Value::Uint),
            Field::FdDev => self
                .fd()
                .and_then(|f| f.dev)
                .map_or(Value::None, |d| Value::Uint(d as u64)),
            Field::FdIp | Field::FdNet => match self.fd().and_then(|f| f.server) {
                Some(_) => Value::List(if f.field == Field::FdIp { &self.ips } else { &self.nets }),
                None => Value::None,
            },
            Field::FdPort => match self.fd().and_then(|f| f.server) {
                Some(_) => Value::List(&self.ports),
                None => Value::None,
            },
            Field::FdCip | Field::FdCnet => self.end_ip(|f| f.client),
            Field::FdSip | Field::FdSnet => self.end_ip(|f| f.server),
            Field::FdCport => self.end_port(|f| f.client),
            Field::FdSport => self.end_port(|f| f.server),
            Field::FdLip | Field::FdLnet => self.end_ip(|f| f.local),
            Field::FdRip | Field::FdRnet => self.end_ip(|f| f.remote),
            Field::FdLport => self.end_port(|f| f.local),
            Field::FdRport => self.end_port(|f| f.remote),
            Field::FdL4proto => self.fd().and_then(|f| f.l4proto).map_or(Value::None, Value::str),
            Field::FdSockfamily => match &ev.body {
                Body::Net(n) => Value::str(match n.family {
                    AF_INET | AF_INET6 => "ip",
                    AF_UNIX => "unix",
                    _ => "other",
                }),
                _ => Value::None,
            },
            Field::FdIsServer => match &ev.body {
                Body::Net(n) => Value::Bool(matches!(n.direction, net_dir::IN | net_dir::LISTEN)),
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
                Body::Net(n) if !n.names.is_empty() && !n.has(vigil_event::abi::net_flag::NAMES_OTHER) => {
                    let remote_is_server = !matches!(n.direction, net_dir::IN | net_dir::LISTEN);
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
            Field::ContainerId => Value::str(self.container().facts.id()),
            Field::ContainerFullId => Value::str(self.container().facts.full_id()),
            Field::ContainerType => self.container().facts.runtime().map_or(Value::None, Value::str),
            Field::ContainerMounts => match &self.container().facts.meta {
                Some(_) => Value::List(&self.container().mounts),
                None => Value::None,
            },
            Field::K8sPodUid | Field::K8sPodId => self.container().facts.pod_uid().map_or(Value::None, Value::str),
            Field::ContainerName
            | Field::ContainerImage
            | Field::ContainerImageId
            | Field::ContainerImageRepository
            | Field::ContainerImageTag
            | Field::ContainerImageDigest
            | Field::ContainerPrivileged
            | Field::ContainerMountSource
            | Field::ContainerMountDest
            | Field::ContainerStartTs
            | Field::ContainerDuration
            | Field::ContainerIp
            | Field::ContainerHostPid
            | Field::ContainerHostNetwork
            | Field::ContainerHostIpc
            | Field::ContainerUser
            | Field::ContainerLabel
            | Field::ContainerLabels
            | Field::K8sNsName
            | Field::K8sPodName
            | Field::K8sPodLabel
            | Field::K8sPodLabels
            | Field::K8sPodSandboxId
            | Field::K8sPodFullSandboxId => match &self.container().facts.meta {
                Some(m) => container_meta_field(m, f, ev.ktime, self.boot_to_realtime_ns),
                None => Value::None,
            },
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
            // Fields the catalogue declares unavailable (container image, Kubernetes, ...).
            // A test checks that every field declared available has its arm above.
            _ => Value::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use vigil_event::abi::{detector, dns_flag, exec_flag, file_flag, net_dir, sys_flag};
    use vigil_event::model::{Detection, Dns, DnsAnswer, Exec, File, Net, Syscall, Writer};
    use vigil_event::names::nr;
    use vigil_rules::fields::{catalogue, ArgSpec};

    use super::*;

    fn event(body: Body) -> Event {
        Event {
            ktime: 2_000_000_000,
            pid: 100,
            tid: 101,
            uid: 0,
            gid: 0,
            cgroup_id: 1,
            comm: "bash".into(),
            body,
        }
    }

    /// One event of each kind, each carrying every fact its kind can carry.
    fn samples() -> Vec<Event> {
        let ip = |a, b, c, d| Some(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
        vec![
            event(Body::Exec(Box::new(Exec {
                filename: "/usr/bin/bash".into(),
                flags: exec_flag::EXE_UPPER | exec_flag::SECUREEXEC,
                ..Exec::default()
            }))),
            event(Body::File(Box::new(File {
                ret: 3,
                flags: O_WRONLY | O_CREAT,
                mode: 0o644,
                vflags: file_flag::INODE_VALID | file_flag::RUNNING_EXE,
                dev: 8,
                ino: 42,
                i_mode: 0o100644,
                ..open_of("/etc/shadow")
            }))),
            event(Body::File(Box::new(File {
                op: FileOp::Rename,
                syscall: nr::RENAME,
                fd: -1,
                ret: 0,
                path2: Some("/tmp/b".into()),
                ..open_of("/tmp/a")
            }))),
            event(Body::Net(Box::new(Net {
                op: NetOp::Connect,
                syscall: nr::CONNECT,
                fd: 3,
                ret: 0,
                family: AF_INET,
                sock_type: 1,
                protocol: 6,
                direction: net_dir::OUT,
                lport: 40000,
                rport: 443,
                flags: 0,
                laddr: ip(10, 0, 0, 1),
                raddr: ip(203, 0, 113, 7),
                cookie: 9,
                start_ktime: 0,
                bytes_out: 0,
                bytes_in: 0,
                pkts_out: 0,
                pkts_in: 0,
                closer_pid: 0,
                newfd: 0,
                unix_path: None,
                names: vec!["pool.example.net".into()],
                policy: None,
            }))),
            event(Body::Dns(Box::new(Dns {
                id: 1,
                dns_flags: 0x8180,
                qtype: 1,
                rcode: 0,
                qdcount: 1,
                ancount: 1,
                server: ip(127, 0, 0, 53),
                server_port: 53,
                client_port: 40001,
                vflags: dns_flag::RESPONSE,
                cookie: 9,
                answers: vec![DnsAnswer {
                    addr: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
                    ttl: 60,
                }],
                qname: "pool.example.net".into(),
                cnames: Vec::new(),
            }))),
            event(Body::Syscall(Box::new(Syscall {
                syscall: nr::PTRACE,
                flags: sys_flag::TARGET_KNOWN,
                ret: 0,
                args: [16, 200, 0, 0, 0, 0],
                target_pid: 200,
                target_comm: Some("sshd".into()),
                str1: None,
                str2: None,
            }))),
            event(Body::Detection(Box::new(Detection {
                detector: detector::DISCOVERY,
                count: 30,
                threshold: 20,
                window_start_ktime: 1,
                window_ns: 1_000_000_000,
                sample: "id".into(),
            }))),
        ]
    }

    /// An openat of `path` relative to the cwd, with nothing else known yet.
    fn open_of(path: &str) -> File {
        File {
            op: FileOp::Open,
            syscall: nr::OPENAT,
            fd: -100,
            ret: 0,
            flags: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            vflags: 0,
            dev: 0,
            ino: 0,
            aux: 0,
            i_mode: 0,
            path: path.into(),
            path2: None,
        }
    }

    /// The acting process and its parent, with every fact a process can have.
    fn processes() -> (Process, Vec<Arc<Process>>) {
        let proc = Process {
            pid: 100,
            ppid: 50,
            vpid: 100,
            start_ktime: 1_000_000_000,
            name: "bash".into(),
            exe: "/usr/bin/bash".into(),
            args: vec!["bash".into(), "-c".into(), "id".into()],
            env: vec![Text::from("HOME=/root")].into(),
            cwd: "/root".into(),
            loginuid: 1000,
            sid: 100,
            tty: 34816,
            interp: Some("/usr/bin/bash".into()),
            exe_writer: Some(Writer {
                pid: 7,
                uid: 0,
                comm: "curl".into(),
                ktime: 500,
            }),
            exec_ktime: 1_500_000_000,
            ..Process::default()
        };
        let parent = Process {
            pid: 50,
            name: "sshd".into(),
            exe: "/usr/sbin/sshd".into(),
            args: vec!["sshd".into()],
            ..Process::default()
        };
        (proc, vec![Arc::new(parent)])
    }

    fn reference(def: &FieldDef) -> FieldRef {
        match def.arg {
            ArgSpec::Name => FieldRef::with_name(def.field, "HOME"),
            ArgSpec::NameOrIndex => FieldRef::with_name(def.field, "res"),
            _ => FieldRef::new(def.field),
        }
    }

    use vigil_rules::FieldDef;

    const CONTAINER_CGROUP: u64 = 777;

    /// A docker container of a pod, every fact known, in the cgroup CONTAINER_CGROUP.
    fn remember_a_pod_container(host: &HostFacts) {
        use std::collections::BTreeMap;
        use vigil_container::{ContainerMeta, Mount, PodMeta, Runtime};
        let id = "ab".repeat(32);
        host.containers
            .cgroup_created(CONTAINER_CGROUP, &format!("/system.slice/docker-{id}.scope"));
        // `reference` names every keyed field's argument "HOME".
        let labels = BTreeMap::from([("HOME".to_string(), "v".to_string())]);
        host.containers.remember(ContainerMeta {
            id,
            runtime: Runtime::Docker,
            name: "web".into(),
            image: "docker.io/library/nginx:1.25".into(),
            image_repository: "docker.io/library/nginx".into(),
            image_tag: "1.25".into(),
            image_digest: "sha256:00".into(),
            image_id: "sha256:11".into(),
            labels: labels.clone(),
            privileged: true,
            host_network: true,
            host_pid: true,
            host_ipc: true,
            user: "0".into(),
            ip: "10.0.0.2".into(),
            start_ns: 1,
            mounts: vec![Mount {
                source: "HOME".into(),
                destination: "HOME".into(),
                mode: "rw".into(),
                rw: true,
                propagation: "rprivate".into(),
            }],
            pod: Some(PodMeta {
                name: "web-0".into(),
                namespace: "default".into(),
                uid: "u".into(),
                labels,
                sandbox_id: "cd".repeat(32),
            }),
        });
    }

    /// Every field the catalogue declares available yields a value on some event that
    /// carries it: a field without its arm in `RuleEvent::field` would read as absent
    /// everywhere and make rules silently never match.
    #[test]
    fn every_available_field_yields_a_value() {
        let host = HostFacts::default();
        remember_a_pod_container(&host);
        let (proc, ancestors) = processes();
        let mut events = samples();
        // The same events again, from inside a container of a pod.
        let in_container: Vec<Event> = events
            .iter()
            .cloned()
            .map(|mut e| {
                e.cgroup_id = CONTAINER_CGROUP;
                e
            })
            .collect();
        events.extend(in_container);
        let views: Vec<RuleEvent<'_>> = events
            .iter()
            .map(|ev| RuleEvent::new(ev, 1, &proc, &ancestors, &host, 0))
            .collect();
        let mut silent = Vec::new();
        for def in catalogue().iter().filter(|d| d.available) {
            let r = reference(def);
            if views.iter().all(|v| matches!(v.field(&r), Value::None)) {
                silent.push(def.name);
            }
        }
        assert!(
            silent.is_empty(),
            "fields declared available that no event yields: {silent:?}"
        );
    }

    /// A failed open reads the same to rules as in the JSON: fd -1, a file.
    #[test]
    fn a_failed_open_has_fd_minus_one_and_is_a_file() {
        let host = HostFacts::default();
        let (proc, ancestors) = processes();
        let ev = event(Body::File(Box::new(File {
            ret: -2,
            ..open_of("/nonexistent")
        })));
        let v = RuleEvent::new(&ev, 1, &proc, &ancestors, &host, 0);
        assert!(matches!(v.field(&FieldRef::new(Field::FdNum)), Value::Int(-1)));
        assert!(matches!(v.field(&FieldRef::new(Field::FdType)), Value::Str(s) if s == "file"));
        let json = crate::render::event_json(&ev, None, &ancestors, 0, &proc, &host);
        let fd = json.fd.expect("fd");
        assert_eq!((fd.num, fd.ty), (Some(-1), Some("file")));
    }
}

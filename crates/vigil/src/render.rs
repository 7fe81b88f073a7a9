//! The JSON form of events (and, with a rule match, of alerts).
//!
//! Names follow Falco's field classes (`evt.*`, `proc.*`, `fd.*`) so that what a rule
//! author reads in the output is what they write in a condition: `.proc.exe` in the
//! JSON is `proc.exe` in a rule. The schema is documented in docs/events.md; a test
//! keeps the two in step.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;
use vigil_event::abi::{dns_flag, exec_flag, file_flag, net_flag};
use vigil_event::model::{Dns, NetOp};
use vigil_event::names::{errno_name, open_flag_names};
use vigil_event::{Body, Event, FileOp, Text};
use vigil_proctree::Process;

use crate::facts::{self, FdFacts};
use crate::host::HostFacts;

#[derive(Serialize)]
pub struct EventJson<'a> {
    /// Present when a rule matched this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertJson>,
    pub evt: Evt,
    pub proc: ProcJson<'a>,
    pub ancestors: Vec<AncestorJson<'a>>,
    pub container: ContainerJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<FdJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<ForkJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub net: Option<NetJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub syscall: Option<SyscallJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detection: Option<DetectionJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_call: Option<UserCallJson>,
}

/// A library call seen by a uprobe: the function, its arguments by name, its result.
#[derive(Serialize)]
pub struct UserCallJson {
    pub func: &'static str,
    pub args: serde_json::Map<String, serde_json::Value>,
    pub ret: i32,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

/// A sensitive syscall: its arguments by name, and the process it acts on.
#[derive(Serialize)]
pub struct SyscallJson {
    pub args: serde_json::Map<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_name: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub target_is_vigil: bool,
}

/// What an in-kernel burst detector found.
#[derive(Serialize)]
pub struct DetectionJson {
    pub kind: &'static str,
    pub count: u32,
    pub threshold: u32,
    pub window_ns: u64,
    pub window_start_ktime: u64,
    pub sample: String,
}

/// Who wrote an executable shortly before it ran.
#[derive(Serialize)]
pub struct WriterJson {
    pub pid: u32,
    pub name: String,
    pub uid: u32,
    /// Nanoseconds between the write and the exec.
    pub ago_ns: u64,
}

/// What a rule said about the event.
#[derive(Serialize)]
pub struct AlertJson {
    pub rule: String,
    pub priority: &'static str,
    pub output: String,
    /// ATT&CK technique ids from the rule's tags (`T1059.004`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mitre_techniques: Vec<String>,
    /// ATT&CK tactics from the rule's `mitre_*` tags (`execution`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mitre_tactics: Vec<String>,
    pub tags: Vec<String>,
    /// Earlier matches of this rule (same rate-limit scope) not written since the last alert.
    #[serde(skip_serializing_if = "is_zero")]
    pub suppressed: u64,
    /// For sequence rules: each step, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepJson>,
    /// Kernel boot-time ns when the alert was decided: minus `evt.ktime`, the detection latency.
    pub detected_ktime: u64,
    /// For rules with an action: what the kernel did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<ActionJson>,
}

/// What an enforcement policy did (`docs/enforcement.md`).
#[derive(Serialize, Clone, Debug, PartialEq, Eq)]
pub struct ActionJson {
    /// `kill` or `deny`.
    pub action: &'static str,
    /// `killed`, `denied`, `would kill`, `would deny`, `exempt`, `failed`, or
    /// `not acted` (the rule matched in userspace but no kernel policy acted on this event).
    pub result: &'static str,
    /// The rule's `enforce` (false: audit only).
    pub enforce: bool,
    /// The policy's slot (`vigil rules explain`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<u16>,
    /// Where the kernel decided.
    pub hook: &'static str,
}

#[derive(Serialize)]
pub struct StepJson {
    pub step: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub ktime: u64,
    pub evt_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `T1059` or `T1059.004`.
fn is_technique(tag: &str) -> bool {
    let b = tag.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    b.first() == Some(&b'T')
        && match tag[1..].split_once('.') {
            Some((t, sub)) => t.len() == 4 && digits(t.as_bytes()) && sub.len() == 3 && digits(sub.as_bytes()),
            None => b.len() == 5 && digits(&b[1..]),
        }
}

impl AlertJson {
    pub fn from_match(m: &vigil_rules::Match) -> AlertJson {
        AlertJson {
            rule: m.rule.clone(),
            priority: m.priority.as_str(),
            output: m.output.clone(),
            mitre_techniques: m.tags.iter().filter(|t| is_technique(t)).cloned().collect(),
            mitre_tactics: m
                .tags
                .iter()
                .filter_map(|t| t.strip_prefix("mitre_"))
                .map(str::to_string)
                .collect(),
            tags: m.tags.clone(),
            suppressed: m.suppressed,
            steps: m
                .steps
                .iter()
                .map(|s| StepJson {
                    step: s.step,
                    name: s.name.clone(),
                    ktime: s.ts_ns,
                    evt_type: s.evt_type.clone(),
                    pid: s.pid,
                    key: s.key.clone(),
                    output: s.output.clone(),
                })
                .collect(),
            detected_ktime: vigil_sensor_clock(),
            action: None,
        }
    }
}

/// CLOCK_BOOTTIME now, the clock of `evt.ktime`.
fn vigil_sensor_clock() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a valid timespec for clock_gettime to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Serialize)]
pub struct Evt {
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub time: String,
    pub ktime: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub res: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ProcJson<'a> {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub name: &'a Text,
    /// argv[0], as Falco's `proc.exe`.
    pub exe: &'a Text,
    /// The executable's absolute path, resolved in the kernel.
    pub exepath: &'a Text,
    pub args: &'a [Text],
    pub cmdline: String,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub sid: u32,
    pub tty: u32,
    pub start_ktime: u64,
    pub cgroup_id: u64,
    pub mntns: u32,
    pub pidns: u32,
    pub netns: u32,
    pub cap_effective: String,
    pub cap_permitted: String,
    pub exe_flags: Vec<&'static str>,
    /// Which of stdin, stdout, stderr are network sockets.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stdio_sockets: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stdio_peer: Option<String>,
}

/// Which container: `{"id": "host"}` outside any; the runtime's facts once it answered.
#[derive(Serialize, Default)]
pub struct ContainerJson {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub runtime: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_repository: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_digest: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub privileged: Option<bool>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<PodJson>,
}

#[derive(Serialize, Default)]
pub struct PodJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub uid: String,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl ContainerJson {
    pub fn of(c: &facts::ContainerFacts) -> Self {
        if c.is_host() {
            return ContainerJson {
                id: "host".into(),
                ..Default::default()
            };
        }
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        let m = c.meta.as_deref();
        let pod = match (m.and_then(|m| m.pod.as_ref()), c.pod_uid()) {
            (Some(p), _) => Some(PodJson {
                name: p.name.clone(),
                namespace: p.namespace.clone(),
                uid: p.uid.clone(),
                labels: p.labels.clone(),
            }),
            (None, Some(uid)) => Some(PodJson {
                uid: uid.to_string(),
                ..Default::default()
            }),
            (None, None) => None,
        };
        ContainerJson {
            id: c.id().to_string(),
            full_id: Some(c.full_id().to_string()),
            runtime: c.runtime(),
            name: m.and_then(|m| some(&m.name)),
            image: m.and_then(|m| some(&m.image)),
            image_repository: m.and_then(|m| some(&m.image_repository)),
            image_tag: m.and_then(|m| some(&m.image_tag)),
            image_digest: m.and_then(|m| some(&m.image_digest)),
            privileged: m.map(|m| m.privileged),
            labels: m.map(|m| m.labels.clone()).unwrap_or_default(),
            pod,
        }
    }
}

#[derive(Serialize)]
pub struct AncestorJson<'a> {
    pub pid: u32,
    pub name: &'a Text,
    pub exe: &'a Text,
    pub exepath: &'a Text,
    pub args: std::borrow::Cow<'a, [Text]>,
    /// Events (not alerts) carry a compact ancestry: at most ANCESTOR_ARGS arguments of
    /// ANCESTOR_ARG_BYTES each; this says something was cut.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub args_truncated: bool,
}

/// Compact ancestry of events: a JVM's classpath or an orchestrator's flags repeated in
/// every event made events of 8-11 KB; alerts keep the full argv.
const ANCESTOR_ARGS: usize = 4;
const ANCESTOR_ARG_BYTES: usize = 128;

impl EventJson<'_> {
    /// Cuts the ancestors' arguments to the compact form (events that are not alerts).
    pub fn compact_ancestry(&mut self) {
        for a in &mut self.ancestors {
            let long = a.args.len() > ANCESTOR_ARGS || a.args.iter().any(|x| x.as_bytes().len() > ANCESTOR_ARG_BYTES);
            if long {
                let cut: Vec<Text> = a
                    .args
                    .iter()
                    .take(ANCESTOR_ARGS)
                    .map(|x| Text::new(&x.as_bytes()[..x.as_bytes().len().min(ANCESTOR_ARG_BYTES)]))
                    .collect();
                a.args = std::borrow::Cow::Owned(cut);
                a.args_truncated = true;
            }
        }
    }
}

/// `fd` for files (name, directory, filename, inode) and sockets (ends, protocol).
#[derive(Serialize, Default)]
pub struct FdJson<'a> {
    pub name: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub directory: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num: Option<i64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typechar: Option<char>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l4proto: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rport: Option<u16>,
    /// DNS names the remote address was resolved from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rip_names: Option<&'a [Text]>,
}

#[derive(Serialize)]
pub struct NetJson<'a> {
    pub op: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'static str>,
    pub family: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sock_type: Option<&'static str>,
    pub cookie: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_path: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newfd: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkts_out: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkts_in: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ns: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct DnsAnswerJson {
    pub addr: IpAddr,
    pub ttl: u32,
}

#[derive(Serialize)]
pub struct DnsJson<'a> {
    pub id: u16,
    pub response: bool,
    pub qname: &'a Text,
    pub qtype: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rcode: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server: Option<IpAddr>,
    pub server_port: u16,
    pub client_port: u16,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub answers: Vec<DnsAnswerJson>,
    #[serde(skip_serializing_if = "<[Text]>::is_empty")]
    pub cnames: &'a [Text],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct FileJson<'a> {
    pub op: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    pub path_source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct ExecJson<'a> {
    pub filename: &'a Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interp: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_exe: Option<&'a Text>,
    pub prev_name: &'a Text,
    pub argc: u32,
    pub exe_mode: String,
    pub flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_by: Option<WriterJson>,
}

#[derive(Serialize)]
pub struct ForkJson {
    pub child_pid: u32,
}

#[derive(Serialize)]
pub struct ExitJson {
    pub status: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<u32>,
    pub core_dumped: bool,
}

impl<'a> From<FdFacts<'a>> for FdJson<'a> {
    fn from(f: FdFacts<'a>) -> Self {
        let addr = |e: Option<facts::End>| e.and_then(|e| e.0);
        let port = |e: Option<facts::End>| e.map(|e| e.1);
        FdJson {
            ty: f.kind.map(|k| k.0),
            typechar: f.kind.map(|k| k.1),
            sip: addr(f.server),
            sport: port(f.server),
            cip: addr(f.client),
            cport: port(f.client),
            lip: addr(f.local),
            lport: port(f.local),
            rip: addr(f.remote),
            rport: port(f.remote),
            rip_names: (!f.names.is_empty()).then_some(f.names),
            name: f.name,
            directory: f.directory,
            filename: f.filename,
            num: f.num,
            ino: f.ino,
            dev: f.dev,
            l4proto: f.l4proto,
        }
    }
}

/// Renders an event with the acting process (as the tree holds it after the event)
/// and its ancestors.
pub fn event_json<'a>(
    ev: &'a Event,
    proc: Option<&'a Arc<Process>>,
    ancestors: &'a [Arc<Process>],
    boot_to_realtime_ns: i64,
    fallback: &'a Process,
    host: &HostFacts,
) -> EventJson<'a> {
    let p: &Process = proc.map(|p| p.as_ref()).unwrap_or(fallback);
    let mut out = EventJson {
        alert: None,
        evt: Evt {
            kind: ev.body.kind_name(),
            ty: facts::evt_type(ev),
            time: facts::rfc3339(ev.ktime, boot_to_realtime_ns),
            ktime: ev.ktime,
            res: facts::res(ev),
            errno: facts::res(ev).filter(|r| *r < 0).map(errno_name),
        },
        proc: ProcJson {
            pid: ev.pid,
            tid: ev.tid,
            ppid: p.ppid,
            vpid: p.vpid,
            name: if proc.is_some() { &p.name } else { &ev.comm },
            exe: facts::argv0(p),
            exepath: &p.exe,
            args: &p.args,
            cmdline: facts::cmdline(p),
            cwd: facts::cwd_with_slash(&p.cwd),
            uid: ev.uid,
            gid: ev.gid,
            euid: p.euid,
            egid: p.egid,
            loginuid: p.loginuid,
            sid: p.sid,
            tty: p.tty,
            start_ktime: p.start_ktime,
            cgroup_id: ev.cgroup_id,
            mntns: p.mnt_ns,
            pidns: p.pid_ns,
            netns: p.net_ns,
            cap_effective: format!("{:#x}", p.cap_effective),
            cap_permitted: format!("{:#x}", p.cap_permitted),
            exe_flags: facts::exec_flag_names(p.exe_flags & !(exec_flag::PREV_UNKNOWN | STDIO_FLAGS)),
            stdio_sockets: ["stdin", "stdout", "stderr"]
                .iter()
                .enumerate()
                .filter(|(i, _)| p.stdio_sockets & (1 << i) != 0)
                .map(|(_, n)| *n)
                .collect(),
            stdio_peer: p.stdio_peer.map(|e| e.to_string()),
        },
        ancestors: ancestors
            .iter()
            .map(|a| AncestorJson {
                pid: a.pid,
                name: &a.name,
                exe: facts::argv0(a),
                exepath: &a.exe,
                args: std::borrow::Cow::Borrowed(&a.args),
                args_truncated: false,
            })
            .collect(),
        container: ContainerJson::of(&facts::ContainerFacts::of(ev.cgroup_id, host)),
        fd: FdFacts::of(ev).map(FdJson::from),
        file: None,
        exec: None,
        fork: None,
        exit: None,
        net: None,
        dns: None,
        syscall: None,
        detection: None,
        user_call: None,
    };
    match &ev.body {
        Body::Exec(x) | Body::Snapshot(x) => {
            out.exec = Some(ExecJson {
                filename: &x.filename,
                interp: x.interp.as_ref(),
                prev_exe: x.prev_exe.as_ref(),
                prev_name: &x.prev_comm,
                argc: x.argc,
                exe_mode: format!("{:o}", x.exe_mode & 0o7777),
                flags: facts::exec_flag_names(x.flags),
                written_by: x.writer.as_ref().map(|w| WriterJson {
                    pid: w.pid,
                    name: w.comm.to_string(),
                    uid: w.uid,
                    ago_ns: ev.ktime.saturating_sub(w.ktime),
                }),
            })
        }
        Body::Fork(f) => out.fork = Some(ForkJson { child_pid: f.child_pid }),
        Body::Exit(x) => {
            out.exit = Some(ExitJson {
                status: x.status,
                code: x.code(),
                signal: x.signal(),
                core_dumped: x.core_dumped(),
            })
        }
        Body::Cwd(_) => {}
        Body::File(f) => {
            let opens = matches!(f.op, FileOp::Open);
            let has_mode =
                matches!(f.op, FileOp::Chmod | FileOp::Mkdir) || (opens && f.flags & vigil_event::names::O_CREAT != 0);
            out.file = Some(FileJson {
                op: f.op.name().into_owned(),
                flags: if opens { open_flag_names(f.flags) } else { Vec::new() },
                raw_flags: (!opens && f.flags != 0).then_some(f.flags),
                mode: has_mode.then(|| format!("{:o}", f.mode & 0o7777)),
                uid: matches!(f.op, FileOp::Chown).then_some(f.uid),
                gid: matches!(f.op, FileOp::Chown).then_some(f.gid),
                target: f.path2.as_ref(),
                length: matches!(f.op, FileOp::Truncate).then_some(f.aux),
                path_source: if f.has(file_flag::FROM_INODE) {
                    "inode"
                } else if f.has(file_flag::JOINED) {
                    "joined"
                } else {
                    "argument"
                },
                path_flags: facts::file_flag_names(f.vflags),
            });
        }
        Body::Net(n) => {
            let flow = matches!(n.op, NetOp::FlowEnd | NetOp::FlowUpdate);
            out.net = Some(NetJson {
                op: n.op.name().into_owned(),
                direction: facts::net_direction(n.direction),
                family: facts::family_name(n.family),
                sock_type: facts::sock_type_name(n.sock_type),
                cookie: n.cookie,
                unix_path: n.unix_path.as_ref(),
                newfd: (n.op == NetOp::DupStdio).then_some(n.newfd),
                bytes_out: flow.then_some(n.bytes_out),
                bytes_in: flow.then_some(n.bytes_in),
                pkts_out: flow.then_some(n.pkts_out),
                pkts_in: flow.then_some(n.pkts_in),
                duration_ns: (flow && n.start_ktime > 0).then(|| ev.ktime.saturating_sub(n.start_ktime)),
                closed_by: (n.op == NetOp::FlowEnd).then(|| {
                    if n.has(net_flag::CLOSED_BY_REMOTE) {
                        "remote".to_string()
                    } else if n.closer_pid != 0 {
                        format!("pid {}", n.closer_pid)
                    } else {
                        "kernel".to_string()
                    }
                }),
                flags: facts::net_flag_names(n.flags),
            });
        }
        Body::Dns(d) => out.dns = Some(dns_json(d)),
        Body::Syscall(x) => {
            out.syscall = Some(SyscallJson {
                args: facts::named_args(x, &host.init_namespaces)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect(),
                target_pid: (x.target_pid != 0).then_some(x.target_pid),
                target_name: x.target_comm.as_ref().map(|t| t.to_string()),
                target_is_vigil: x.has(vigil_event::abi::sys_flag::TARGET_AGENT),
            });
        }
        Body::Detection(d) => {
            out.detection = Some(DetectionJson {
                kind: d.name(),
                count: d.count,
                threshold: d.threshold,
                window_ns: d.window_ns,
                window_start_ktime: d.window_start_ktime,
                sample: d.sample_text(),
            })
        }
        Body::UserCall(u) => {
            out.user_call = Some(UserCallJson {
                func: u.name(),
                args: facts::user_call_args(u)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::String(v)))
                    .collect(),
                ret: u.ret,
                truncated: u.flags & vigil_event::abi::user_flag::STR_TRUNC != 0,
            })
        }
        Body::Tick | Body::Cgroup(_) => {}
    }
    out
}

const STDIO_FLAGS: u32 = exec_flag::STDIN_SOCKET | exec_flag::STDOUT_SOCKET | exec_flag::STDERR_SOCKET;

fn dns_json(d: &Dns) -> DnsJson<'_> {
    let response = d.has(dns_flag::RESPONSE);
    DnsJson {
        id: d.id,
        response,
        qname: &d.qname,
        qtype: facts::dns_type_name(d.qtype),
        rcode: response.then(|| facts::dns_rcode_name(d.rcode)),
        server: d.server,
        server_port: d.server_port,
        client_port: d.client_port,
        answers: d
            .answers
            .iter()
            .map(|a| DnsAnswerJson {
                addr: a.addr,
                ttl: a.ttl,
            })
            .collect(),
        cnames: &d.cnames,
        flags: facts::dns_flag_names(d.vflags),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technique_tags() {
        for t in ["T1059", "T1059.004", "T1552.001"] {
            assert!(is_technique(t), "{t}");
        }
        for t in ["T105", "T1059.4", "mitre_execution", "TA0002", "Tabcd", "T1059."] {
            assert!(!is_technique(t), "{t}");
        }
    }
}

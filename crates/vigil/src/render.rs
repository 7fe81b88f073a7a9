//! The JSON form of events (and, with a rule match, of alerts).
//!
//! Names follow Falco's field classes (`evt.*`, `proc.*`, `fd.*`) so that what a rule
//! author reads in the output is what they write in a condition: `.proc.exe` in the
//! JSON is `proc.exe` in a rule. The schema is documented in docs/events.md; a test
//! keeps the two in step.

use std::sync::Arc;

use std::net::IpAddr;

use serde::Serialize;
use vigil_event::abi::{dns_flag, exec_flag, file_flag, net_flag};
use vigil_event::model::{Dns, Endpoint, Net, NetOp, AF_INET, AF_INET6, AF_PACKET, AF_UNIX};
use vigil_event::names::{errno_name, file_type, open_flag_names, syscall_name};
use vigil_event::{Body, Event, FileOp, Text};
use vigil_proctree::Process;

/// Falco's `evt.type` for an event.
pub fn evt_type(ev: &Event) -> &'static str {
    match &ev.body {
        Body::Snapshot(_) => "snapshot",
        Body::Tick => "tick",
        Body::Exec(x) if x.flags & exec_flag::BY_FD != 0 => "execveat",
        Body::Exec(_) => "execve",
        Body::Fork(_) => "clone",
        Body::Exit(_) => "procexit",
        Body::Cwd(c) => syscall_name(c.syscall),
        Body::File(f) => syscall_name(f.syscall),
        Body::Net(n) => match n.op {
            NetOp::FlowStart => "flow_start",
            NetOp::FlowEnd => "flow_end",
            NetOp::FlowUpdate => "flow_update",
            _ => syscall_name(n.syscall),
        },
        Body::Dns(d) if d.has(dns_flag::RESPONSE) => "dns_response",
        Body::Dns(_) => "dns_query",
        Body::Syscall(x) => syscall_name(x.syscall),
        Body::Detection(d) => d.name(),
    }
}

#[derive(Serialize)]
pub struct EventJson<'a> {
    /// Present when a rule matched this event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert: Option<AlertJson>,
    pub evt: Evt,
    pub proc: ProcJson<'a>,
    pub ancestors: Vec<AncestorJson<'a>>,
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

#[derive(Serialize)]
pub struct AncestorJson<'a> {
    pub pid: u32,
    pub name: &'a Text,
    pub exe: &'a Text,
    pub exepath: &'a Text,
    pub args: &'a [Text],
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
    pub num: Option<i32>,
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

const EXEC_FLAG_NAMES: &[(u32, &str)] = &[
    (exec_flag::ARGV_TRUNC, "argv_truncated"),
    (exec_flag::ENV_TRUNC, "env_truncated"),
    (exec_flag::EXE_TRUNC, "exe_truncated"),
    (exec_flag::EXE_DELETED, "exe_deleted"),
    (exec_flag::EXE_MEMFD, "exe_memfd"),
    (exec_flag::EXE_UPPER, "exe_upper_layer"),
    (exec_flag::SCRIPT, "script"),
    (exec_flag::BY_FD, "exec_by_fd"),
    (exec_flag::PREV_UNKNOWN, "prev_unknown"),
    (exec_flag::CWD_TRUNC, "cwd_truncated"),
    (exec_flag::SECUREEXEC, "secureexec"),
    (exec_flag::STDIN_SOCKET, "stdin_socket"),
    (exec_flag::STDOUT_SOCKET, "stdout_socket"),
    (exec_flag::STDERR_SOCKET, "stderr_socket"),
    (exec_flag::RECENTLY_WRITTEN, "recently_written"),
];

const FILE_FLAG_NAMES: &[(u32, &str)] = &[
    (file_flag::RUNNING_EXE, "running_exe"),
    (file_flag::PATH_TRUNC, "truncated"),
    (file_flag::PATH_DELETED, "deleted"),
    (file_flag::PATH2_TRUNC, "target_truncated"),
];

const NET_FLAG_NAMES: &[(u32, &str)] = &[
    (net_flag::NAMES_TRUNC, "names_truncated"),
    (net_flag::CLOSED_BY_REMOTE, "closed_by_remote"),
    (net_flag::NEVER_ESTABLISHED, "never_established"),
    (net_flag::ABSTRACT, "abstract"),
    (net_flag::IDLE_END, "idle_end"),
];

const DNS_FLAG_NAMES: &[(u32, &str)] = &[
    (dns_flag::MALFORMED, "malformed"),
    (dns_flag::TRUNCATED, "truncated"),
    (dns_flag::POINTER_LOOP, "pointer_loop"),
    (dns_flag::BAD_LABEL, "bad_label"),
    (dns_flag::NAME_TOO_LONG, "name_too_long"),
    (dns_flag::MORE_ANSWERS, "more_answers"),
];

/// DNS record type names for the common types; others as TYPEnnn (RFC 3597).
pub fn dns_type_name(t: u16) -> String {
    match t {
        1 => "A".into(),
        2 => "NS".into(),
        5 => "CNAME".into(),
        6 => "SOA".into(),
        12 => "PTR".into(),
        15 => "MX".into(),
        16 => "TXT".into(),
        28 => "AAAA".into(),
        33 => "SRV".into(),
        65 => "HTTPS".into(),
        255 => "ANY".into(),
        n => format!("TYPE{n}"),
    }
}

pub fn dns_rcode_name(r: u16) -> &'static str {
    match r {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        _ => "RCODE?",
    }
}

pub fn l4proto(protocol: u16) -> Option<&'static str> {
    match protocol {
        6 => Some("tcp"),
        17 => Some("udp"),
        1 | 58 => Some("icmp"),
        255 => Some("raw"),
        _ => None,
    }
}

fn family_name(f: u16) -> &'static str {
    match f {
        AF_INET => "ipv4",
        AF_INET6 => "ipv6",
        AF_UNIX => "unix",
        AF_PACKET => "packet",
        _ => "other",
    }
}

/// argv[0], or the path when argv is empty.
fn exe_of(p: &Process) -> &Text {
    p.args.first().unwrap_or(&p.exe)
}

fn endpoint(addr: Option<IpAddr>, port: u16) -> String {
    match addr {
        Some(a) => Endpoint { addr: a, port }.to_string(),
        None => String::new(),
    }
}

/// Falco's `fd.name` of a socket: `client->server`, `addr:port` when bound or
/// listening, or the unix path.
pub fn sock_name(n: &Net) -> String {
    let (client, server) = client_server(n);
    match (&n.unix_path, n.family) {
        (Some(p), _) => p.to_string(),
        (None, _) if n.op == NetOp::Socket => String::new(),
        (None, AF_INET | AF_INET6) if n.direction == net_flag::DIR_LISTEN || n.op == NetOp::Bind => {
            endpoint(n.laddr, n.lport)
        }
        (None, AF_INET | AF_INET6) => format!("{}->{}", endpoint(client.0, client.1), endpoint(server.0, server.1)),
        _ => String::new(),
    }
}

/// One end of a connection: address and port.
pub type End = (Option<IpAddr>, u16);

/// (client, server): whoever connected is the client, the peer when incoming.
pub fn client_server(n: &Net) -> (End, End) {
    let (l, r) = ((n.laddr, n.lport), (n.raddr, n.rport));
    match n.direction {
        net_flag::DIR_IN | net_flag::DIR_LISTEN => (r, l),
        _ => (l, r),
    }
}

/// Falco-style socket fd: ends, server/client roles, `fd.name` as client->server.
fn sock_fd(n: &Net) -> FdJson<'_> {
    let (l, r) = ((n.laddr, n.lport), (n.raddr, n.rport));
    let (client, server) = client_server(n);
    let name = Text::from(sock_name(n).as_str());
    let (ty, typechar) = match n.family {
        AF_INET => ("ipv4", '4'),
        AF_INET6 => ("ipv6", '6'),
        AF_UNIX => ("unix", 'u'),
        _ => ("other", '?'),
    };
    let inet = matches!(n.family, AF_INET | AF_INET6);
    let l4 = l4proto(n.protocol).or(match (inet, n.sock_type) {
        (true, 1) => Some("tcp"), // protocol 0 means the family's default
        (true, 2) => Some("udp"),
        _ => None,
    });
    match n.op {
        // a new socket has no ends yet
        NetOp::Socket => {
            return FdJson {
                name,
                num: (n.fd >= 0).then_some(n.fd),
                ty: Some(ty),
                typechar: Some(typechar),
                l4proto: l4,
                ..FdJson::default()
            }
        }
        // a bound or listening socket has only its local end, which is the server end
        NetOp::Bind | NetOp::Listen => {
            return FdJson {
                name,
                num: (n.fd >= 0).then_some(n.fd),
                ty: Some(ty),
                typechar: Some(typechar),
                l4proto: l4,
                sip: inet.then_some(l.0).flatten(),
                sport: inet.then_some(l.1),
                lip: inet.then_some(l.0).flatten(),
                lport: inet.then_some(l.1),
                ..FdJson::default()
            }
        }
        _ => {}
    }
    FdJson {
        name,
        num: (n.fd >= 0).then_some(n.fd),
        ty: Some(ty),
        typechar: Some(typechar),
        l4proto: l4,
        sip: inet.then_some(server.0).flatten(),
        sport: inet.then_some(server.1),
        cip: inet.then_some(client.0).flatten(),
        cport: inet.then_some(client.1),
        lip: inet.then_some(l.0).flatten(),
        lport: inet.then_some(l.1),
        rip: inet.then_some(r.0).flatten(),
        rport: inet.then_some(r.1),
        rip_names: (!n.names.is_empty()).then_some(&n.names[..]),
        ..FdJson::default()
    }
}

fn flag_names(bits: u32, table: &[(u32, &'static str)]) -> Vec<&'static str> {
    table.iter().filter(|(b, _)| bits & b != 0).map(|&(_, n)| n).collect()
}

pub fn exec_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, EXEC_FLAG_NAMES)
}

/// Converts boot-time nanoseconds to an RFC 3339 UTC timestamp with nanoseconds.
pub fn rfc3339(boot_ns: u64, boot_to_realtime_ns: i64) -> String {
    let epoch = (boot_ns as i128 + boot_to_realtime_ns as i128).max(0) as u128;
    let secs = (epoch / 1_000_000_000) as i64;
    let nanos = (epoch % 1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

fn split_path(path: &Text) -> (Text, Text) {
    let b = path.as_bytes();
    match b.iter().rposition(|&c| c == b'/') {
        Some(0) => (Text::from("/"), Text::new(&b[1..])),
        Some(i) => (Text::new(&b[..i]), Text::new(&b[i + 1..])),
        None => (Text::default(), path.clone()),
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
) -> EventJson<'a> {
    let p: &Process = proc.map(|p| p.as_ref()).unwrap_or(fallback);
    let mut out = EventJson {
        alert: None,
        evt: Evt {
            kind: ev.body.kind_name(),
            ty: evt_type(ev),
            time: rfc3339(ev.ktime, boot_to_realtime_ns),
            ktime: ev.ktime,
            res: None,
            errno: None,
        },
        proc: ProcJson {
            pid: ev.pid,
            tid: ev.tid,
            ppid: p.ppid,
            vpid: p.vpid,
            name: if proc.is_some() { &p.name } else { &ev.comm },
            exe: exe_of(p),
            exepath: &p.exe,
            args: &p.args,
            cmdline: crate::rule_event::cmdline(p),
            cwd: crate::rule_event::cwd_with_slash(&p.cwd),
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
            exe_flags: exec_flag_names(p.exe_flags & !(exec_flag::PREV_UNKNOWN | STDIO_FLAGS)),
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
                exe: exe_of(a),
                exepath: &a.exe,
                args: &a.args,
            })
            .collect(),
        fd: None,
        file: None,
        exec: None,
        fork: None,
        exit: None,
        net: None,
        dns: None,
        syscall: None,
        detection: None,
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
                flags: exec_flag_names(x.flags),
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
            out.evt.res = Some(f.ret);
            if f.ret < 0 {
                out.evt.errno = Some(errno_name(-f.ret));
            }
            let (directory, filename) = split_path(&f.path);
            let inode = f.has(file_flag::INODE_VALID);
            let (ty, typechar) = if inode { file_type(f.i_mode) } else { ("unknown", '?') };
            let fd_num = match f.op {
                FileOp::Open | FileOp::MemfdCreate if f.ret >= 0 => Some(f.ret as i32),
                _ if f.fd >= 0 => Some(f.fd),
                _ => None,
            };
            out.fd = Some(FdJson {
                name: f.path.clone(),
                directory: Some(directory),
                filename: Some(filename),
                num: fd_num,
                ty: inode.then_some(ty),
                typechar: inode.then_some(typechar),
                ino: inode.then_some(f.ino),
                dev: inode.then_some(f.dev),
                ..FdJson::default()
            });
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
                path_flags: flag_names(f.vflags, FILE_FLAG_NAMES),
            });
        }
        Body::Net(n) => {
            if n.syscall != 0 {
                out.evt.res = Some(n.ret);
                if n.ret < 0 {
                    out.evt.errno = Some(errno_name(-n.ret));
                }
            }
            out.fd = Some(sock_fd(n));
            let flow = matches!(n.op, NetOp::FlowEnd | NetOp::FlowUpdate);
            out.net = Some(NetJson {
                op: n.op.name().into_owned(),
                direction: match n.direction {
                    net_flag::DIR_OUT => Some("outgoing"),
                    net_flag::DIR_IN => Some("incoming"),
                    net_flag::DIR_LISTEN => Some("listen"),
                    _ => None,
                },
                family: family_name(n.family),
                sock_type: match n.sock_type {
                    1 => Some("stream"),
                    2 => Some("dgram"),
                    3 => Some("raw"),
                    5 => Some("seqpacket"),
                    _ => None,
                },
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
                flags: flag_names(n.flags, NET_FLAG_NAMES),
            });
        }
        Body::Dns(d) => out.dns = Some(dns_json(d)),
        Body::Syscall(x) => {
            out.evt.res = Some(x.ret);
            if x.ret < 0 {
                out.evt.errno = Some(errno_name(-x.ret));
            }
            if let Some(path) = crate::syscall_args::path_of(x) {
                out.fd = Some(FdJson {
                    name: Text::from(path.as_str()),
                    ..FdJson::default()
                });
            }
            out.syscall = Some(SyscallJson {
                args: crate::syscall_args::named_args(x)
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
        Body::Tick => {}
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
        qtype: dns_type_name(d.qtype),
        rcode: response.then(|| dns_rcode_name(d.rcode)),
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
        flags: flag_names(d.vflags, DNS_FLAG_NAMES),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1, 1_795_533_654_000_000_000), "2026-11-24T15:20:54.000000001Z");
        assert_eq!(rfc3339(0, 951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn technique_tags() {
        for t in ["T1059", "T1059.004", "T1552.001"] {
            assert!(is_technique(t), "{t}");
        }
        for t in ["T105", "T1059.4", "mitre_execution", "TA0002", "Tabcd", "T1059."] {
            assert!(!is_technique(t), "{t}");
        }
    }

    #[test]
    fn split_paths() {
        assert_eq!(split_path(&"/etc/hostname".into()), ("/etc".into(), "hostname".into()));
        assert_eq!(split_path(&"/x".into()), ("/".into(), "x".into()));
    }
}

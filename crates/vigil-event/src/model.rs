//! Decoded events: what the rest of the agent works with.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Serialize, Serializer};

/// Bytes from the kernel that are usually, but not always, UTF-8: paths, argv, comm.
///
/// Kept as bytes so rules match exactly what the kernel saw. Serialized as a string;
/// bytes that are not valid UTF-8 are written as `\xNN` escapes (and a literal
/// backslash as `\\` only in that case), so a non-UTF-8 file name stays visible and
/// distinguishable instead of turning into replacement characters.
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Text(Box<[u8]>);

impl Text {
    pub fn new(bytes: impl Into<Box<[u8]>>) -> Self {
        Text(bytes.into())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The text for display and matching: UTF-8 as is, otherwise escaped.
    pub fn as_str(&self) -> Cow<'_, str> {
        match std::str::from_utf8(&self.0) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => Cow::Owned(escape_bytes(&self.0)),
        }
    }

    /// A comm field: NUL-terminated within a fixed array.
    pub fn from_c(bytes: &[u8]) -> Self {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Text::new(&bytes[..end])
    }

    /// Splits a NUL-separated block (argv, environ) into its strings.
    pub fn split_nul(block: &[u8]) -> Vec<Text> {
        let block = block.strip_suffix(&[0]).unwrap_or(block);
        if block.is_empty() {
            return Vec::new();
        }
        block.split(|&b| b == 0).map(Text::new).collect()
    }

    /// The last path component.
    pub fn basename(&self) -> &[u8] {
        match self.0.iter().rposition(|&b| b == b'/') {
            Some(i) if i + 1 < self.0.len() => &self.0[i + 1..],
            Some(_) => &self.0,
            None => &self.0,
        }
    }
}

fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

impl From<&str> for Text {
    fn from(s: &str) -> Self {
        Text::new(s.as_bytes())
    }
}

impl From<&[u8]> for Text {
    fn from(s: &[u8]) -> Self {
        Text::new(s)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.as_str())
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

/// One event from the kernel (or from the /proc snapshot at start).
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Boot-time nanoseconds when it happened in the kernel.
    pub ktime: u64,
    pub pid: u32,
    pub tid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cgroup_id: u64,
    pub comm: Text,
    pub body: Body,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A process that was already running when the agent started.
    Snapshot(Box<Exec>),
    Exec(Box<Exec>),
    Fork(Fork),
    Exit(Exit),
    File(Box<File>),
    Cwd(Cwd),
    Net(Box<Net>),
    Dns(Box<Dns>),
    Syscall(Box<Syscall>),
    Detection(Box<Detection>),
    /// A cgroup made or removed (containers start and end with one).
    Cgroup(Box<Cgroup>),
    /// A library function watched by a uprobe returned (bash readline, PAM).
    UserCall(Box<UserCall>),
    /// The agent's housekeeping clock (`ktime` of the event); not something a process did.
    Tick,
}

impl Body {
    pub fn kind_name(&self) -> &'static str {
        match self {
            Body::Snapshot(_) => "snapshot",
            Body::Exec(_) => "exec",
            Body::Fork(_) => "fork",
            Body::Exit(_) => "exit",
            Body::File(_) => "file",
            Body::Cwd(_) => "chdir",
            Body::Net(_) => "net",
            Body::Dns(_) => "dns",
            Body::Syscall(_) => "syscall",
            Body::Detection(_) => "detection",
            Body::Cgroup(_) => "cgroup",
            Body::UserCall(_) => "user_call",
            Body::Tick => "tick",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Exec {
    pub ppid: u32,
    pub sid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub tty: u32,
    pub flags: u32,
    pub argc: u32,
    pub start_ktime: u64,
    pub cap_effective: u64,
    pub cap_permitted: u64,
    pub exe_ino: u64,
    pub exe_dev: u32,
    pub exe_mode: u32,
    pub mnt_ns: u32,
    pub pid_ns: u32,
    pub net_ns: u32,
    pub vpid: u32,
    pub prev_comm: Text,
    pub exe: Text,
    pub filename: Text,
    pub interp: Option<Text>,
    pub argv: Vec<Text>,
    pub env: Vec<Text>,
    pub cwd: Text,
    pub prev_exe: Option<Text>,
    /// When a stdio fd is an IPv4/IPv6 socket at exec (flags `STD*_SOCKET`): its peer.
    pub stdio_peer: Option<Endpoint>,
    /// The process that wrote the executable shortly before it ran (drop and execute).
    pub writer: Option<Writer>,
    /// What an enforcement policy did to this exec.
    pub policy: Option<PolicyVerdict>,
}

/// What an enforcement policy decided in the kernel (`bpf/include/policy.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyVerdict {
    /// The policy's slot in the set in force (the agent maps it to its rule).
    pub slot: u16,
    /// `abi::verdict::*`.
    pub verdict: u16,
}

impl PolicyVerdict {
    /// From a record's `policy` (slot + 1, 0 for none) and `verdict` fields.
    pub fn from_raw(policy: u16, verdict: u16) -> Option<PolicyVerdict> {
        (policy != 0).then(|| PolicyVerdict {
            slot: policy - 1,
            verdict,
        })
    }

    /// (policy, verdict) fields of a record.
    pub fn to_raw(v: Option<PolicyVerdict>) -> (u16, u16) {
        v.map_or((0, 0), |v| (v.slot + 1, v.verdict))
    }

    /// What happened, in words: `killed`, `denied`, `would kill`, ...
    pub fn result(&self) -> &'static str {
        use crate::abi::verdict as v;
        match self.verdict {
            v::KILLED => "killed",
            v::DENIED => "denied",
            v::WOULD_KILL => "would kill",
            v::WOULD_DENY => "would deny",
            v::EXEMPT => "exempt",
            v::FAILED => "failed",
            _ => "none",
        }
    }

    /// The policy acted (the process was killed or the call failed).
    pub fn acted(&self) -> bool {
        matches!(self.verdict, crate::abi::verdict::KILLED | crate::abi::verdict::DENIED)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Writer {
    pub pid: u32,
    pub uid: u32,
    pub comm: Text,
    /// Boot-time ns of the write.
    pub ktime: u64,
}

/// A rare, security-sensitive syscall (see docs/events.md for the strings per syscall).
#[derive(Debug, Clone, PartialEq)]
pub struct Syscall {
    pub syscall: u16,
    pub flags: u16,
    pub ret: i64,
    pub args: [u64; 6],
    /// The process the call acts on (ptrace, kill, process_vm_*), and its name if known.
    pub target_pid: u32,
    pub target_comm: Option<Text>,
    pub str1: Option<Text>,
    pub str2: Option<Text>,
}

impl Syscall {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }
}

/// A library function watched by a uprobe returned (`enum vigil_user_fn`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserCall {
    pub func: u16,
    pub flags: u16,
    /// The function's result (PAM: 0 is PAM_SUCCESS).
    pub ret: i32,
    /// readline: the line typed; PAM: the user.
    pub str1: Text,
    /// PAM: the service (`/etc/pam.d/<service>`).
    pub str2: Text,
}

impl UserCall {
    /// The function's name: the event type.
    pub fn name(&self) -> &'static str {
        use crate::abi::user_fn::*;
        match self.func {
            READLINE => "readline",
            PAM_AUTH => "pam_authenticate",
            PAM_ACCT => "pam_acct_mgmt",
            _ => "user_call",
        }
    }

    pub fn is_pam(&self) -> bool {
        matches!(self.func, crate::abi::user_fn::PAM_AUTH | crate::abi::user_fn::PAM_ACCT)
    }
}

/// A cgroup of the v2 hierarchy, made (`mkdir`) or removed (`rmdir`).
#[derive(Debug, Clone, PartialEq)]
pub struct Cgroup {
    /// The id every record's `cgroup_id` names.
    pub id: u64,
    pub removed: bool,
    pub level: u32,
    /// Below the hierarchy's root: `/libpod_parent/libpod-<id>`.
    pub path: Text,
}

/// What an in-kernel burst detector found.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub detector: u16,
    pub count: u32,
    pub threshold: u32,
    pub window_start_ktime: u64,
    pub window_ns: u64,
    /// The item that crossed the threshold (a path, a command, or a packed address for scans).
    pub sample: Text,
}

impl Detection {
    pub fn name(&self) -> &'static str {
        use crate::abi::detector::*;
        match self.detector {
            PORT_SCAN => "port_scan",
            FILE_STORM => "file_storm",
            DISCOVERY => "discovery_burst",
            FINGERPRINT => "fingerprint_burst",
            SYN_SCAN => "syn_scan",
            COPY_DELETE => "copy_delete_burst",
            _ => "unknown",
        }
    }

    /// The sample as text: scans carry (family, port, address) in binary (for an XDP SYN
    /// scan: the scanner's address and the port that crossed the threshold).
    pub fn sample_text(&self) -> String {
        let b = self.sample.as_bytes();
        let scan = matches!(
            self.detector,
            crate::abi::detector::PORT_SCAN | crate::abi::detector::SYN_SCAN
        );
        if scan && b.len() >= 20 {
            let family = u16::from_le_bytes([b[0], b[1]]);
            let port = u16::from_le_bytes([b[2], b[3]]);
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&b[4..20]);
            return match ip_from_raw(family, &addr) {
                Some(a) => Endpoint { addr: a, port }.to_string(),
                None => String::new(),
            };
        }
        Text::from_c(b).to_string()
    }
}

impl Exec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fork {
    pub child_pid: u32,
    pub child_ppid: u32,
    pub child_start_ktime: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Exit {
    /// wait(2) status.
    pub status: u32,
    pub start_ktime: u64,
}

impl Exit {
    /// Exit code when the process exited normally.
    pub fn code(&self) -> Option<u32> {
        (self.status & 0x7f == 0).then_some((self.status >> 8) & 0xff)
    }

    /// The signal that killed it, if one did.
    pub fn signal(&self) -> Option<u32> {
        let s = self.status & 0x7f;
        (s != 0).then_some(s)
    }

    pub fn core_dumped(&self) -> bool {
        self.status & 0x80 != 0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileOp {
    Open,
    Unlink,
    Rmdir,
    Rename,
    Chmod,
    Chown,
    Link,
    Symlink,
    Truncate,
    Mkdir,
    MemfdCreate,
    /// A number this build does not know (newer kernel side): kept, counted, reported.
    Unknown(u16),
}

impl FileOp {
    pub fn from_raw(op: u16) -> Self {
        use crate::abi::file_op::*;
        match op {
            OPEN => FileOp::Open,
            UNLINK => FileOp::Unlink,
            RMDIR => FileOp::Rmdir,
            RENAME => FileOp::Rename,
            CHMOD => FileOp::Chmod,
            CHOWN => FileOp::Chown,
            LINK => FileOp::Link,
            SYMLINK => FileOp::Symlink,
            TRUNCATE => FileOp::Truncate,
            MKDIR => FileOp::Mkdir,
            MEMFD_CREATE => FileOp::MemfdCreate,
            other => FileOp::Unknown(other),
        }
    }

    pub fn to_raw(self) -> u16 {
        use crate::abi::file_op::*;
        match self {
            FileOp::Open => OPEN,
            FileOp::Unlink => UNLINK,
            FileOp::Rmdir => RMDIR,
            FileOp::Rename => RENAME,
            FileOp::Chmod => CHMOD,
            FileOp::Chown => CHOWN,
            FileOp::Link => LINK,
            FileOp::Symlink => SYMLINK,
            FileOp::Truncate => TRUNCATE,
            FileOp::Mkdir => MKDIR,
            FileOp::MemfdCreate => MEMFD_CREATE,
            FileOp::Unknown(n) => n,
        }
    }

    pub fn name(self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            FileOp::Open => "open",
            FileOp::Unlink => "unlink",
            FileOp::Rmdir => "rmdir",
            FileOp::Rename => "rename",
            FileOp::Chmod => "chmod",
            FileOp::Chown => "chown",
            FileOp::Link => "link",
            FileOp::Symlink => "symlink",
            FileOp::Truncate => "truncate",
            FileOp::Mkdir => "mkdir",
            FileOp::MemfdCreate => "memfd_create",
            FileOp::Unknown(n) => return Cow::Owned(format!("unknown({n})")),
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub op: FileOp,
    pub syscall: u16,
    pub fd: i32,
    pub ret: i64,
    pub flags: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub vflags: u32,
    pub dev: u32,
    pub ino: u64,
    pub aux: u64,
    pub i_mode: u32,
    pub path: Text,
    pub path2: Option<Text>,
}

impl File {
    pub fn has(&self, flag: u32) -> bool {
        self.vflags & flag != 0
    }

    pub fn failed(&self) -> bool {
        self.ret < 0
    }
}

/// An address family number (AF_*) and 16 address bytes, as the kernel writes them.
pub fn ip_from_raw(family: u16, raw: &[u8; 16]) -> Option<IpAddr> {
    match family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(raw[0], raw[1], raw[2], raw[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(*raw))),
        _ => None,
    }
}

pub fn ip_to_raw(addr: Option<IpAddr>) -> [u8; 16] {
    let mut out = [0u8; 16];
    match addr {
        Some(IpAddr::V4(a)) => out[..4].copy_from_slice(&a.octets()),
        Some(IpAddr::V6(a)) => out = a.octets(),
        None => {}
    }
    out
}

pub const AF_UNIX: u16 = 1;
pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const AF_PACKET: u16 = 17;

/// An IP address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetOp {
    Socket,
    Bind,
    Listen,
    Connect,
    Accept,
    Send,
    FlowStart,
    FlowEnd,
    FlowUpdate,
    DupStdio,
    Unknown(u16),
}

impl NetOp {
    const TABLE: [(u16, NetOp, &'static str); 10] = [
        (crate::abi::net_op::SOCKET, NetOp::Socket, "socket"),
        (crate::abi::net_op::BIND, NetOp::Bind, "bind"),
        (crate::abi::net_op::LISTEN, NetOp::Listen, "listen"),
        (crate::abi::net_op::CONNECT, NetOp::Connect, "connect"),
        (crate::abi::net_op::ACCEPT, NetOp::Accept, "accept"),
        (crate::abi::net_op::SEND, NetOp::Send, "send"),
        (crate::abi::net_op::FLOW_START, NetOp::FlowStart, "flow_start"),
        (crate::abi::net_op::FLOW_END, NetOp::FlowEnd, "flow_end"),
        (crate::abi::net_op::FLOW_UPDATE, NetOp::FlowUpdate, "flow_update"),
        (crate::abi::net_op::DUP_STDIO, NetOp::DupStdio, "dup_stdio"),
    ];

    pub fn from_raw(op: u16) -> Self {
        Self::TABLE
            .iter()
            .find(|t| t.0 == op)
            .map(|t| t.1)
            .unwrap_or(NetOp::Unknown(op))
    }

    pub fn to_raw(self) -> u16 {
        match self {
            NetOp::Unknown(n) => n,
            op => Self::TABLE.iter().find(|t| t.1 == op).map(|t| t.0).unwrap_or(0),
        }
    }

    pub fn name(self) -> Cow<'static, str> {
        match self {
            NetOp::Unknown(n) => Cow::Owned(format!("unknown({n})")),
            op => Cow::Borrowed(Self::TABLE.iter().find(|t| t.1 == op).map(|t| t.2).unwrap_or("unknown")),
        }
    }
}

/// A socket or flow event.
#[derive(Debug, Clone, PartialEq)]
pub struct Net {
    pub op: NetOp,
    pub syscall: u16,
    pub fd: i32,
    pub ret: i64,
    pub family: u16,
    pub sock_type: u16,
    pub protocol: u16,
    /// 1 outgoing, 2 incoming, 3 listening, 0 unknown.
    pub direction: u16,
    pub lport: u16,
    pub rport: u16,
    pub flags: u32,
    pub laddr: Option<IpAddr>,
    pub raddr: Option<IpAddr>,
    pub cookie: u64,
    pub start_ktime: u64,
    pub bytes_out: u64,
    pub bytes_in: u64,
    pub pkts_out: u64,
    pub pkts_in: u64,
    pub closer_pid: u32,
    pub newfd: u32,
    pub unix_path: Option<Text>,
    /// DNS names the remote address was resolved from (the name asked first).
    pub names: Vec<Text>,
    /// What an enforcement policy did to this connect.
    pub policy: Option<PolicyVerdict>,
}

impl Net {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsAnswer {
    pub addr: IpAddr,
    pub ttl: u32,
}

/// A DNS query or response seen on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns {
    pub id: u16,
    pub dns_flags: u16,
    pub qtype: u16,
    pub rcode: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub server: Option<IpAddr>,
    pub server_port: u16,
    pub client_port: u16,
    pub vflags: u32,
    pub cookie: u64,
    pub answers: Vec<DnsAnswer>,
    pub qname: Text,
    pub cnames: Vec<Text>,
}

impl Dns {
    pub fn has(&self, flag: u32) -> bool {
        self.vflags & flag != 0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cwd {
    pub syscall: u16,
    pub truncated: bool,
    pub cwd: Text,
}

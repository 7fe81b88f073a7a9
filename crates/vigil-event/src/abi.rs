//! Mirror of `bpf/vigil_abi.h`: the records the kernel side writes, and its constants.
//!
//! Each record struct is declared once with [`wire_struct!`], which generates its reader,
//! its writer (in field order) and its layout ([`Layout`]); each family of constants once
//! with [`abi_enum!`], with the name of its C enum and of every member. A test of the
//! sensor (`crates/vigil-sensor/src/abi_check.rs`) compares both with the BTF of the
//! compiled BPF object, field by field and value by value: a field moved or a flag
//! renumbered on one side only fails the tests.

use crate::wire::{Reader, Wire, Writer};

/// The layout of a record or a family of constants, as the C header declares it.
pub trait Layout {
    /// The C type (`struct vigil_file`, `enum vigil_file_flag`) without its keyword.
    const C_NAME: &'static str;
}

/// A record's fields in order: (name, byte offset, size).
pub type Fields = &'static [(&'static str, usize, usize)];

/// Declares a family of constants of one C enum: `pub mod NAME` with a `const` per member
/// and `ALL`, every member with its C name (`PREFIX` + name) and value.
macro_rules! abi_enum {
    ($(#[$m:meta])* $module:ident : $ty:ty = $c_enum:literal, $prefix:literal {
        $($(#[$vm:meta])* $name:ident = $value:expr),* $(,)?
    }) => {
        $(#[$m])*
        pub mod $module {
            $($(#[$vm])* pub const $name: $ty = $value;)*
            /// The C enum these mirror.
            pub const C_ENUM: &str = $c_enum;
            /// Every member: (C name, value).
            pub const ALL: &[(&str, u64)] = &[$((concat!($prefix, stringify!($name)), $name as u64)),*];
        }
    };
}

abi_enum!(
    /// Sizes and limits (`enum vigil_limits`).
    limits: usize = "vigil_limits", "VIGIL_" {
        ABI_VERSION = 1,
        COMM_LEN = 16,
        PATH_MAX = 4096,
        ARGV_MAX = 4096,
        ENV_MAX = 2048,
        RECORD_MAX = 32768,
        DNS_MAX_ADDRS = 8,
        DNS_NAME_MAX = 255,
    }
);

pub const ABI_VERSION: u16 = limits::ABI_VERSION as u16;
pub const COMM_LEN: usize = limits::COMM_LEN;
pub const PATH_MAX: usize = limits::PATH_MAX;
pub const ARGV_MAX: usize = limits::ARGV_MAX;
pub const ENV_MAX: usize = limits::ENV_MAX;
pub const RECORD_MAX: usize = limits::RECORD_MAX;

abi_enum!(
    /// Event kinds (`enum vigil_kind`). Numbers are part of the recording format.
    kind: u16 = "vigil_kind", "VIGIL_KIND_" {
        SNAPSHOT = 1,
        FORK = 2,
        EXEC = 3,
        EXIT = 4,
        FILE = 5,
        CWD = 6,
        NET = 7,
        DNS = 8,
        SYSCALL = 9,
        DETECTION = 10,
        CGROUP = 11,
        USER_CALL = 12,
        /// Userspace only: the agent's clock at a housekeeping point, so replays reap as the live run did.
        TICK = 15,
        MAX = 16,
    }
);

/// Declares the hooks of the per-hook statistics (`enum vigil_hook`), each once: its
/// number, the name statistics show, and the kind of event it feeds.
macro_rules! hooks {
    ($($variant:ident = $value:literal, $c:literal, $name:literal, $kind:expr;)*) => {
        /// Kernel hooks, indexes of the per-hook statistics (`enum vigil_hook`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Hook {
            $($variant = $value,)*
        }

        impl Hook {
            /// Every hook, by number.
            pub const ALL: &'static [Hook] = &[$(Hook::$variant,)*];

            /// The name statistics show.
            pub fn name(self) -> &'static str {
                match self {
                    $(Hook::$variant => $name,)*
                }
            }

            /// The event kind this hook produces.
            pub fn kind(self) -> u16 {
                match self {
                    $(Hook::$variant => $kind,)*
                }
            }

            /// The member of `enum vigil_hook`.
            pub fn c_name(self) -> &'static str {
                match self {
                    $(Hook::$variant => $c,)*
                }
            }
        }
    };
}

hooks! {
    Fork = 0, "VIGIL_HOOK_FORK", "fork", kind::FORK;
    Exec = 1, "VIGIL_HOOK_EXEC", "exec", kind::EXEC;
    Exit = 2, "VIGIL_HOOK_EXIT", "exit", kind::EXIT;
    Cwd = 3, "VIGIL_HOOK_CWD", "chdir", kind::CWD;
    Open = 4, "VIGIL_HOOK_OPEN", "open", kind::FILE;
    Unlink = 5, "VIGIL_HOOK_UNLINK", "unlink", kind::FILE;
    Rename = 6, "VIGIL_HOOK_RENAME", "rename", kind::FILE;
    Chmod = 7, "VIGIL_HOOK_CHMOD", "chmod", kind::FILE;
    Chown = 8, "VIGIL_HOOK_CHOWN", "chown", kind::FILE;
    Link = 9, "VIGIL_HOOK_LINK", "link", kind::FILE;
    Symlink = 10, "VIGIL_HOOK_SYMLINK", "symlink", kind::FILE;
    Truncate = 11, "VIGIL_HOOK_TRUNCATE", "truncate", kind::FILE;
    Mkdir = 12, "VIGIL_HOOK_MKDIR", "mkdir", kind::FILE;
    Memfd = 13, "VIGIL_HOOK_MEMFD", "memfd_create", kind::FILE;
    Socket = 14, "VIGIL_HOOK_SOCKET", "socket", kind::NET;
    Bind = 15, "VIGIL_HOOK_BIND", "bind", kind::NET;
    Listen = 16, "VIGIL_HOOK_LISTEN", "listen", kind::NET;
    Connect = 17, "VIGIL_HOOK_CONNECT", "connect", kind::NET;
    Accept = 18, "VIGIL_HOOK_ACCEPT", "accept", kind::NET;
    Send = 19, "VIGIL_HOOK_SEND", "send", kind::NET;
    TcpState = 20, "VIGIL_HOOK_TCP_STATE", "tcp_state", kind::NET;
    Dup = 21, "VIGIL_HOOK_DUP", "dup_stdio", kind::NET;
    Skb = 22, "VIGIL_HOOK_SKB", "skb", kind::NET;
    Dns = 23, "VIGIL_HOOK_DNS", "dns", kind::DNS;
    Sensitive = 24, "VIGIL_HOOK_SENSITIVE", "sensitive_syscall", kind::SYSCALL;
    Detect = 25, "VIGIL_HOOK_DETECT", "detection", kind::DETECTION;
    Mount = 26, "VIGIL_HOOK_MOUNT", "mount", kind::SYSCALL;
    Cgroup = 27, "VIGIL_HOOK_CGROUP", "cgroup", kind::CGROUP;
    UringOpen = 28, "VIGIL_HOOK_URING_OPEN", "io_uring_open", kind::FILE;
    UringConnect = 29, "VIGIL_HOOK_URING_CONNECT", "io_uring_connect", kind::NET;
    Readline = 30, "VIGIL_HOOK_READLINE", "readline", kind::USER_CALL;
    Pam = 31, "VIGIL_HOOK_PAM", "pam", kind::USER_CALL;
    Getaddrinfo = 32, "VIGIL_HOOK_GETADDRINFO", "getaddrinfo", kind::NET;
}

/// Size of the per-hook statistics table (`VIGIL_HOOK_MAX`): room for new hooks.
pub const HOOK_MAX: usize = 48;

abi_enum!(
    /// Per-hook counters (`enum vigil_stat`).
    stat: usize = "vigil_stat", "VIGIL_STAT_" {
        SEEN = 0,
        FILTERED = 1,
        DEDUPED = 2,
        SENT = 3,
        LOST = 4,
        MAX = 5,
    }
);

abi_enum!(
    /// Kernel-side condition counters (`enum vigil_counter`).
    counter: usize = "vigil_counter", "VIGIL_CTR_" {
        PATH_TRUNCATED = 0,
        PROC_MISS = 1,
        COMPAT_SYSCALL = 2,
        SCRATCH_MISS = 3,
        FLOW_TABLE_FULL = 4,
        DNS_MALFORMED = 5,
        SEND_DEDUPED = 6,
        WRITTEN_TRACKED = 7,
        MAX = 16,
    }
);

/// The names statistics show for the counters.
pub const COUNTER_NAMES: [(usize, &str); 8] = [
    (counter::PATH_TRUNCATED, "path_truncated"),
    (counter::PROC_MISS, "proc_table_miss"),
    (counter::COMPAT_SYSCALL, "compat_syscall_ignored"),
    (counter::SCRATCH_MISS, "scratch_miss"),
    (counter::FLOW_TABLE_FULL, "flow_table_full"),
    (counter::DNS_MALFORMED, "dns_malformed"),
    (counter::SEND_DEDUPED, "send_deduped"),
    (counter::WRITTEN_TRACKED, "written_files_tracked"),
];

abi_enum!(
    /// `enum vigil_exec_flag`.
    exec_flag: u32 = "vigil_exec_flag", "VIGIL_EXEC_" {
        ARGV_TRUNC = 1 << 0,
        ENV_TRUNC = 1 << 1,
        EXE_TRUNC = 1 << 2,
        EXE_DELETED = 1 << 3,
        EXE_MEMFD = 1 << 4,
        EXE_UPPER = 1 << 5,
        SCRIPT = 1 << 6,
        BY_FD = 1 << 7,
        PREV_UNKNOWN = 1 << 8,
        CWD_TRUNC = 1 << 9,
        SECUREEXEC = 1 << 10,
        STDIN_SOCKET = 1 << 11,
        STDOUT_SOCKET = 1 << 12,
        STDERR_SOCKET = 1 << 13,
        RECENTLY_WRITTEN = 1 << 14,
    }
);

abi_enum!(
    /// `enum vigil_sys_flag`.
    sys_flag: u16 = "vigil_sys_flag", "VIGIL_SYS_" {
        TARGET_KNOWN = 1 << 0,
        TARGET_AGENT = 1 << 1,
        STR_TRUNC = 1 << 2,
    }
);

abi_enum!(
    /// `enum vigil_user_fn`: the library function a uprobe saw return.
    user_fn: u16 = "vigil_user_fn", "VIGIL_USER_" {
        READLINE = 1,
        PAM_AUTH = 2,
        PAM_ACCT = 3,
    }
);

abi_enum!(
    /// `enum vigil_user_flag`.
    user_flag: u16 = "vigil_user_flag", "VIGIL_USER_" {
        STR_TRUNC = 1 << 0,
    }
);

abi_enum!(
    /// `enum vigil_cgroup_op`.
    cgroup_op: u32 = "vigil_cgroup_op", "VIGIL_CGROUP_" {
        MKDIR = 1,
        RMDIR = 2,
    }
);

abi_enum!(
    /// `enum vigil_detector`.
    detector: u16 = "vigil_detector", "VIGIL_DETECT_" {
        PORT_SCAN = 1,
        FILE_STORM = 2,
        DISCOVERY = 3,
        FINGERPRINT = 4,
        SYN_SCAN = 5,
        COPY_DELETE = 6,
    }
);

abi_enum!(
    /// What an enforcement policy did (`enum vigil_verdict`).
    verdict: u16 = "vigil_verdict", "VIGIL_VERDICT_" {
        NONE = 0,
        KILLED = 1,
        DENIED = 2,
        WOULD_KILL = 3,
        WOULD_DENY = 4,
        EXEMPT = 5,
        FAILED = 6,
    }
);

abi_enum!(
    /// The dimension byte of the policy map keys (`enum vigil_policy_dim`).
    policy_dim: u8 = "vigil_policy_dim", "VIGIL_POLICY_" {
        DIM_EXE = 0,
        DIM_NAME = 1,
        DIM_PNAME = 2,
        DIM_UID = 3,
        DIM_NET = 4,
        DIM_PORT = 5,
        DIM_DNS = 6,
        DIMS = 7,
        KEY_DNS_SUFFIX = 7,
    }
);

abi_enum!(
    /// `enum vigil_policy_limits`.
    policy_limits: usize = "vigil_policy_limits", "VIGIL_POLICY_" {
        MAX = 64,
        PATH_MAX = 255,
        FLAG_CONTAINER = 31,
        FLAG_STDIO_SOCKET = 30,
    }
);

abi_enum!(
    /// XDP counters (`enum vigil_xdp_stat`).
    xdp_stat: u32 = "vigil_xdp_stat", "VIGIL_XDP_" {
        PACKETS = 0,
        DROP_DENY = 1,
        DROP_SCANNER = 2,
        SYN = 3,
        SCANS = 4,
        LOST = 5,
        STAT_MAX = 8,
    }
);

abi_enum!(
    /// `enum vigil_net_op`.
    net_op: u16 = "vigil_net_op", "VIGIL_NET_" {
        SOCKET = 1,
        BIND = 2,
        LISTEN = 3,
        CONNECT = 4,
        ACCEPT = 5,
        SEND = 6,
        FLOW_START = 7,
        FLOW_END = 8,
        FLOW_UPDATE = 9,
        DUP_STDIO = 10,
    }
);

abi_enum!(
    /// `enum vigil_net_dir`.
    net_dir: u16 = "vigil_net_dir", "VIGIL_NET_DIR_" {
        OUT = 1,
        IN = 2,
        LISTEN = 3,
    }
);

abi_enum!(
    /// `enum vigil_net_flag`.
    net_flag: u32 = "vigil_net_flag", "VIGIL_NET_" {
        NAMES_TRUNC = 1 << 0,
        CLOSED_BY_REMOTE = 1 << 1,
        NEVER_ESTABLISHED = 1 << 2,
        ABSTRACT = 1 << 3,
        IDLE_END = 1 << 4,
        NAMES_OTHER = 1 << 5,
        IO_URING = 1 << 6,
    }
);

abi_enum!(
    /// `enum vigil_dns_flag`.
    dns_flag: u32 = "vigil_dns_flag", "VIGIL_DNS_" {
        RESPONSE = 1 << 0,
        MALFORMED = 1 << 1,
        TRUNCATED = 1 << 2,
        POINTER_LOOP = 1 << 3,
        BAD_LABEL = 1 << 4,
        NAME_TOO_LONG = 1 << 5,
        MORE_ANSWERS = 1 << 6,
    }
);

abi_enum!(
    /// `enum vigil_file_flag`.
    file_flag: u32 = "vigil_file_flag", "VIGIL_FILE_" {
        PATH_TRUNC = 1 << 0,
        PATH_DELETED = 1 << 1,
        FROM_INODE = 1 << 2,
        JOINED = 1 << 3,
        PATH2_TRUNC = 1 << 4,
        PATH2_JOINED = 1 << 5,
        INODE_VALID = 1 << 6,
        RUNNING_EXE = 1 << 7,
        IO_URING = 1 << 8,
        CREATED = 1 << 9,
    }
);

abi_enum!(
    /// `enum vigil_file_op`.
    file_op: u16 = "vigil_file_op", "VIGIL_FILE_" {
        OPEN = 1,
        UNLINK = 2,
        RMDIR = 3,
        RENAME = 4,
        CHMOD = 5,
        CHOWN = 6,
        LINK = 7,
        SYMLINK = 8,
        TRUNCATE = 9,
        MKDIR = 10,
        MEMFD_CREATE = 11,
    }
);

abi_enum!(
    /// Bits of the kernel filter's network mask beyond the `net_op` numbers (`enum vigil_emit`).
    emit: u16 = "vigil_emit", "VIGIL_EMIT_" {
        DNS_QUERY = 14,
        DNS_RESPONSE = 15,
    }
);

/// Every family of constants, for the layout check: (C enum, members).
pub const ENUMS: &[(&str, &[(&str, u64)])] = &[
    (limits::C_ENUM, limits::ALL),
    (kind::C_ENUM, kind::ALL),
    (stat::C_ENUM, stat::ALL),
    (counter::C_ENUM, counter::ALL),
    (exec_flag::C_ENUM, exec_flag::ALL),
    (sys_flag::C_ENUM, sys_flag::ALL),
    (detector::C_ENUM, detector::ALL),
    (verdict::C_ENUM, verdict::ALL),
    (policy_dim::C_ENUM, policy_dim::ALL),
    (policy_limits::C_ENUM, policy_limits::ALL),
    (xdp_stat::C_ENUM, xdp_stat::ALL),
    (cgroup_op::C_ENUM, cgroup_op::ALL),
    (user_fn::C_ENUM, user_fn::ALL),
    (user_flag::C_ENUM, user_flag::ALL),
    (net_op::C_ENUM, net_op::ALL),
    (net_dir::C_ENUM, net_dir::ALL),
    (net_flag::C_ENUM, net_flag::ALL),
    (dns_flag::C_ENUM, dns_flag::ALL),
    (file_flag::C_ENUM, file_flag::ALL),
    (file_op::C_ENUM, file_op::ALL),
    (emit::C_ENUM, emit::ALL),
];

/// Declares a record once: the struct, its reader and writer in field order, its size,
/// and its fields' names, offsets and sizes (for the layout check against BTF).
macro_rules! wire_struct {
    ($(#[$m:meta])* $name:ident = $c_name:literal { $($field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name { $(pub $field: $ty),* }

        impl Wire for $name {
            const SIZE: usize = 0 $(+ <$ty as Wire>::SIZE)*;
            fn read(r: &mut Reader<'_>) -> Option<Self> {
                Some(Self { $($field: <$ty as Wire>::read(r)?),* })
            }
            fn write(&self, w: &mut Writer) {
                $(self.$field.write(w);)*
            }
        }

        impl Layout for $name {
            const C_NAME: &'static str = $c_name;
        }

        impl $name {
            /// The fields in order: (name, byte offset, size).
            pub const FIELDS: Fields = {
                const NAMES: &[&str] = &[$(stringify!($field)),*];
                const SIZES: &[usize] = &[$(<$ty as Wire>::SIZE),*];
                const N: usize = NAMES.len();
                const OUT: [(&str, usize, usize); N] = {
                    let mut out = [("", 0, 0); N];
                    let (mut i, mut off) = (0, 0);
                    while i < N {
                        out[i] = (NAMES[i], off, SIZES[i]);
                        off += SIZES[i];
                        i += 1;
                    }
                    out
                };
                &OUT
            };
        }
    };
}

wire_struct!(
    /// `struct vigil_hdr`
    RawHdr = "vigil_hdr" {
        kind: u16,
        abi: u16,
        size: u32,
        ktime: u64,
        pid: u32,
        tid: u32,
        uid: u32,
        gid: u32,
        cgroup_id: u64,
        comm: [u8; COMM_LEN],
    }
);

wire_struct!(
    /// `struct vigil_exec`, also used for snapshot records.
    RawExec = "vigil_exec" {
        hdr: RawHdr,
        ppid: u32,
        sid: u32,
        euid: u32,
        egid: u32,
        loginuid: u32,
        tty: u32,
        flags: u32,
        argc: u32,
        start_ktime: u64,
        cap_effective: u64,
        cap_permitted: u64,
        exe_ino: u64,
        exe_dev: u32,
        exe_mode: u32,
        mnt_ns: u32,
        pid_ns: u32,
        net_ns: u32,
        vpid: u32,
        prev_comm: [u8; COMM_LEN],
        written_ktime: u64,
        writer_pid: u32,
        writer_uid: u32,
        writer_comm: [u8; COMM_LEN],
        stdio_family: u16,
        stdio_port: u16,
        stdio_addr: [u8; 16],
        exe_len: u16,
        filename_len: u16,
        interp_len: u16,
        argv_len: u16,
        env_len: u16,
        cwd_len: u16,
        prev_exe_len: u16,
        verdict: u16,
        policy: u16,
        pad: u16,
    }
);

wire_struct!(
    /// `struct vigil_fork`
    RawFork = "vigil_fork" {
        hdr: RawHdr,
        child_pid: u32,
        child_ppid: u32,
        child_start_ktime: u64,
    }
);

wire_struct!(
    /// `struct vigil_exit`
    RawExit = "vigil_exit" {
        hdr: RawHdr,
        exit_code: u32,
        pad: u32,
        start_ktime: u64,
    }
);

wire_struct!(
    /// `struct vigil_cwd`
    RawCwd = "vigil_cwd" {
        hdr: RawHdr,
        syscall: u16,
        flags: u16,
        cwd_len: u16,
        pad: u16,
    }
);

wire_struct!(
    /// `struct vigil_file`
    RawFile = "vigil_file" {
        hdr: RawHdr,
        op: u16,
        syscall: u16,
        fd: i32,
        ret: i64,
        flags: u32,
        mode: u32,
        uid: u32,
        gid: u32,
        vflags: u32,
        dev: u32,
        ino: u64,
        aux: u64,
        i_mode: u32,
        path_len: u16,
        path2_len: u16,
    }
);

wire_struct!(
    /// `struct vigil_net`
    RawNet = "vigil_net" {
        hdr: RawHdr,
        op: u16,
        syscall: u16,
        fd: i32,
        ret: i64,
        family: u16,
        sock_type: u16,
        protocol: u16,
        direction: u16,
        lport: u16,
        rport: u16,
        flags: u32,
        laddr: [u8; 16],
        raddr: [u8; 16],
        cookie: u64,
        start_ktime: u64,
        bytes_out: u64,
        bytes_in: u64,
        pkts_out: u64,
        pkts_in: u64,
        closer_pid: u32,
        newfd: u32,
        path_len: u16,
        names_len: u16,
        verdict: u16,
        policy: u16,
    }
);

wire_struct!(
    /// `struct vigil_dns_addr`
    RawDnsAddr = "vigil_dns_addr" {
        family: u16,
        pad: u16,
        ttl: u32,
        addr: [u8; 16],
    }
);

wire_struct!(
    /// `struct vigil_dns`
    RawDns = "vigil_dns" {
        hdr: RawHdr,
        id: u16,
        dns_flags: u16,
        qtype: u16,
        rcode: u16,
        qdcount: u16,
        ancount: u16,
        family: u16,
        server_port: u16,
        server: [u8; 16],
        client_port: u16,
        naddrs: u16,
        vflags: u32,
        cookie: u64,
        addrs: DnsAddrs,
        qname_len: u16,
        cnames_len: u16,
        pad: u32,
    }
);

/// The fixed array of answers in `struct vigil_dns`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsAddrs(pub [RawDnsAddr; limits::DNS_MAX_ADDRS]);

impl Wire for DnsAddrs {
    const SIZE: usize = RawDnsAddr::SIZE * limits::DNS_MAX_ADDRS;
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let mut out = DnsAddrs::default();
        for slot in out.0.iter_mut() {
            *slot = RawDnsAddr::read(r)?;
        }
        Some(out)
    }
    fn write(&self, w: &mut Writer) {
        for a in &self.0 {
            a.write(w);
        }
    }
}

wire_struct!(
    /// `struct vigil_syscall`
    RawSyscall = "vigil_syscall" {
        hdr: RawHdr,
        syscall: u16,
        flags: u16,
        target_pid: u32,
        ret: i64,
        args: SyscallArgs,
        target_comm: [u8; COMM_LEN],
        str_len: u16,
        str2_len: u16,
        pad: u32,
    }
);

/// The six raw arguments of `struct vigil_syscall`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyscallArgs(pub [u64; 6]);

impl Wire for SyscallArgs {
    const SIZE: usize = 48;
    fn read(r: &mut Reader<'_>) -> Option<Self> {
        let mut out = [0u64; 6];
        for a in out.iter_mut() {
            *a = u64::read(r)?;
        }
        Some(SyscallArgs(out))
    }
    fn write(&self, w: &mut Writer) {
        for a in &self.0 {
            a.write(w);
        }
    }
}

wire_struct!(
    /// `struct vigil_detection`
    RawDetection = "vigil_detection" {
        hdr: RawHdr,
        detector: u16,
        pad: u16,
        count: u32,
        threshold: u32,
        pad2: u32,
        window_start_ktime: u64,
        window_ns: u64,
        sample_len: u16,
        pad3: u16,
        pad4: u32,
    }
);

wire_struct!(
    /// `struct vigil_cgroup`
    RawCgroup = "vigil_cgroup" {
        hdr: RawHdr,
        id: u64,
        op: u32,
        level: u32,
        path_len: u16,
        pad: u16,
        pad2: u32,
    }
);

wire_struct!(
    /// `struct vigil_user_call`
    RawUserCall = "vigil_user_call" {
        hdr: RawHdr,
        func: u16,
        flags: u16,
        ret: i32,
        str_len: u16,
        str2_len: u16,
        pad: u32,
    }
);

/// Every record, for the layout check: (C struct, fields, size).
pub const RECORDS: &[(&str, Fields, usize)] = &[
    (RawHdr::C_NAME, RawHdr::FIELDS, RawHdr::SIZE),
    (RawExec::C_NAME, RawExec::FIELDS, RawExec::SIZE),
    (RawFork::C_NAME, RawFork::FIELDS, RawFork::SIZE),
    (RawExit::C_NAME, RawExit::FIELDS, RawExit::SIZE),
    (RawCwd::C_NAME, RawCwd::FIELDS, RawCwd::SIZE),
    (RawFile::C_NAME, RawFile::FIELDS, RawFile::SIZE),
    (RawNet::C_NAME, RawNet::FIELDS, RawNet::SIZE),
    (RawDnsAddr::C_NAME, RawDnsAddr::FIELDS, RawDnsAddr::SIZE),
    (RawDns::C_NAME, RawDns::FIELDS, RawDns::SIZE),
    (RawSyscall::C_NAME, RawSyscall::FIELDS, RawSyscall::SIZE),
    (RawDetection::C_NAME, RawDetection::FIELDS, RawDetection::SIZE),
    (RawCgroup::C_NAME, RawCgroup::FIELDS, RawCgroup::SIZE),
    (RawUserCall::C_NAME, RawUserCall::FIELDS, RawUserCall::SIZE),
];

impl RawExec {
    pub fn tail_lens(&self) -> [u16; 7] {
        [
            self.exe_len,
            self.filename_len,
            self.interp_len,
            self.argv_len,
            self.env_len,
            self.cwd_len,
            self.prev_exe_len,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_offsets_follow_declaration_order() {
        let uid = RawFile::FIELDS.iter().find(|f| f.0 == "uid").expect("uid");
        assert_eq!(uid.1, 56 + 2 + 2 + 4 + 8 + 4 + 4);
        let (_, off, size) = RawFile::FIELDS[RawFile::FIELDS.len() - 1];
        assert_eq!(off + size, RawFile::SIZE);
        assert_eq!(exec_flag::ALL[1], ("VIGIL_EXEC_ENV_TRUNC", 2));
        assert_eq!(Hook::TcpState.c_name(), "VIGIL_HOOK_TCP_STATE");
        assert!(Hook::ALL.iter().enumerate().all(|(i, h)| *h as usize == i));
    }
}

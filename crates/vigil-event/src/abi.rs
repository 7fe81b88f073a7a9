//! Mirror of `bpf/vigil_abi.h`: the records the kernel side writes.
//!
//! Each record struct is declared once with [`wire_struct!`], which generates both
//! its reader and its writer in field order, and a `SIZE` that the tests compare with
//! the `_Static_assert` sizes pinned in the C header.

use crate::wire::{Reader, Wire, Writer};

pub const ABI_VERSION: u16 = 1;
pub const COMM_LEN: usize = 16;
pub const PATH_MAX: usize = 4096;
pub const ARGV_MAX: usize = 4096;
pub const ENV_MAX: usize = 2048;
pub const RECORD_MAX: usize = 32768;

/// Event kinds (`enum vigil_kind`). Numbers are part of the recording format.
pub mod kind {
    pub const SNAPSHOT: u16 = 1;
    pub const FORK: u16 = 2;
    pub const EXEC: u16 = 3;
    pub const EXIT: u16 = 4;
    pub const FILE: u16 = 5;
    pub const CWD: u16 = 6;
    pub const NET: u16 = 7;
    pub const DNS: u16 = 8;
    pub const SYSCALL: u16 = 9;
    pub const DETECTION: u16 = 10;
    /// Userspace only: the agent's clock at a housekeeping point, so replays reap as the live run did.
    pub const TICK: u16 = 15;
    pub const MAX: usize = 16;
}

/// Kernel hooks, indexes of the per-hook statistics (`enum vigil_hook`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hook {
    Fork = 0,
    Exec = 1,
    Exit = 2,
    Cwd = 3,
    Open = 4,
    Unlink = 5,
    Rename = 6,
    Chmod = 7,
    Chown = 8,
    Link = 9,
    Symlink = 10,
    Truncate = 11,
    Mkdir = 12,
    Memfd = 13,
    Socket = 14,
    Bind = 15,
    Listen = 16,
    Connect = 17,
    Accept = 18,
    Send = 19,
    TcpState = 20,
    Dup = 21,
    Skb = 22,
    Dns = 23,
    Sensitive = 24,
    Detect = 25,
}

pub const HOOK_MAX: usize = 48;

impl Hook {
    pub const ALL: [Hook; 26] = [
        Hook::Fork,
        Hook::Exec,
        Hook::Exit,
        Hook::Cwd,
        Hook::Open,
        Hook::Unlink,
        Hook::Rename,
        Hook::Chmod,
        Hook::Chown,
        Hook::Link,
        Hook::Symlink,
        Hook::Truncate,
        Hook::Mkdir,
        Hook::Memfd,
        Hook::Socket,
        Hook::Bind,
        Hook::Listen,
        Hook::Connect,
        Hook::Accept,
        Hook::Send,
        Hook::TcpState,
        Hook::Dup,
        Hook::Skb,
        Hook::Dns,
        Hook::Sensitive,
        Hook::Detect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Hook::Fork => "fork",
            Hook::Exec => "exec",
            Hook::Exit => "exit",
            Hook::Cwd => "chdir",
            Hook::Open => "open",
            Hook::Unlink => "unlink",
            Hook::Rename => "rename",
            Hook::Chmod => "chmod",
            Hook::Chown => "chown",
            Hook::Link => "link",
            Hook::Symlink => "symlink",
            Hook::Truncate => "truncate",
            Hook::Mkdir => "mkdir",
            Hook::Memfd => "memfd_create",
            Hook::Socket => "socket",
            Hook::Bind => "bind",
            Hook::Listen => "listen",
            Hook::Connect => "connect",
            Hook::Accept => "accept",
            Hook::Send => "send",
            Hook::TcpState => "tcp_state",
            Hook::Dup => "dup_stdio",
            Hook::Skb => "skb",
            Hook::Dns => "dns",
            Hook::Sensitive => "sensitive_syscall",
            Hook::Detect => "detection",
        }
    }

    /// The event kind this hook produces.
    pub fn kind(self) -> u16 {
        match self {
            Hook::Fork => kind::FORK,
            Hook::Exec => kind::EXEC,
            Hook::Exit => kind::EXIT,
            Hook::Cwd => kind::CWD,
            Hook::Dns => kind::DNS,
            Hook::Sensitive => kind::SYSCALL,
            Hook::Detect => kind::DETECTION,
            Hook::Socket
            | Hook::Bind
            | Hook::Listen
            | Hook::Connect
            | Hook::Accept
            | Hook::Send
            | Hook::TcpState
            | Hook::Dup
            | Hook::Skb => kind::NET,
            _ => kind::FILE,
        }
    }
}

/// Per-hook counters (`enum vigil_stat`).
pub mod stat {
    pub const SEEN: usize = 0;
    pub const FILTERED: usize = 1;
    pub const DEDUPED: usize = 2;
    pub const SENT: usize = 3;
    pub const LOST: usize = 4;
    pub const MAX: usize = 5;
}

/// Kernel-side condition counters (`enum vigil_counter`).
pub mod counter {
    pub const PATH_TRUNCATED: usize = 0;
    pub const PROC_MISS: usize = 1;
    pub const COMPAT_SYSCALL: usize = 2;
    pub const SCRATCH_MISS: usize = 3;
    pub const FLOW_TABLE_FULL: usize = 4;
    pub const DNS_MALFORMED: usize = 5;
    pub const SEND_DEDUPED: usize = 6;
    pub const WRITTEN_TRACKED: usize = 7;
    pub const MAX: usize = 16;
    pub const NAMES: [(usize, &str); 8] = [
        (PATH_TRUNCATED, "path_truncated"),
        (PROC_MISS, "proc_table_miss"),
        (COMPAT_SYSCALL, "compat_syscall_ignored"),
        (SCRATCH_MISS, "scratch_miss"),
        (FLOW_TABLE_FULL, "flow_table_full"),
        (DNS_MALFORMED, "dns_malformed"),
        (SEND_DEDUPED, "send_deduped"),
        (WRITTEN_TRACKED, "written_files_tracked"),
    ];
}

/// `VIGIL_EXEC_*` flags.
pub mod exec_flag {
    pub const ARGV_TRUNC: u32 = 1 << 0;
    pub const ENV_TRUNC: u32 = 1 << 1;
    pub const EXE_TRUNC: u32 = 1 << 2;
    pub const EXE_DELETED: u32 = 1 << 3;
    pub const EXE_MEMFD: u32 = 1 << 4;
    pub const EXE_UPPER: u32 = 1 << 5;
    pub const SCRIPT: u32 = 1 << 6;
    pub const BY_FD: u32 = 1 << 7;
    pub const PREV_UNKNOWN: u32 = 1 << 8;
    pub const CWD_TRUNC: u32 = 1 << 9;
    pub const SECUREEXEC: u32 = 1 << 10;
    pub const STDIN_SOCKET: u32 = 1 << 11;
    pub const STDOUT_SOCKET: u32 = 1 << 12;
    pub const STDERR_SOCKET: u32 = 1 << 13;
    pub const RECENTLY_WRITTEN: u32 = 1 << 14;
}

/// `VIGIL_SYS_*` flags.
pub mod sys_flag {
    pub const TARGET_KNOWN: u16 = 1 << 0;
    pub const TARGET_AGENT: u16 = 1 << 1;
    pub const STR_TRUNC: u16 = 1 << 2;
}

/// `enum vigil_detector`.
pub mod detector {
    pub const PORT_SCAN: u16 = 1;
    pub const FILE_STORM: u16 = 2;
    pub const DISCOVERY: u16 = 3;
    pub const FINGERPRINT: u16 = 4;
}

/// `enum vigil_net_op`.
pub mod net_op {
    pub const SOCKET: u16 = 1;
    pub const BIND: u16 = 2;
    pub const LISTEN: u16 = 3;
    pub const CONNECT: u16 = 4;
    pub const ACCEPT: u16 = 5;
    pub const SEND: u16 = 6;
    pub const FLOW_START: u16 = 7;
    pub const FLOW_END: u16 = 8;
    pub const FLOW_UPDATE: u16 = 9;
    pub const DUP_STDIO: u16 = 10;
}

/// `VIGIL_NET_*` flags and directions.
pub mod net_flag {
    pub const NAMES_TRUNC: u32 = 1 << 0;
    pub const CLOSED_BY_REMOTE: u32 = 1 << 1;
    pub const NEVER_ESTABLISHED: u32 = 1 << 2;
    pub const ABSTRACT: u32 = 1 << 3;
    pub const IDLE_END: u32 = 1 << 4;
    pub const DIR_OUT: u16 = 1;
    pub const DIR_IN: u16 = 2;
    pub const DIR_LISTEN: u16 = 3;
}

/// `VIGIL_DNS_*` flags.
pub mod dns_flag {
    pub const RESPONSE: u32 = 1 << 0;
    pub const MALFORMED: u32 = 1 << 1;
    pub const TRUNCATED: u32 = 1 << 2;
    pub const POINTER_LOOP: u32 = 1 << 3;
    pub const BAD_LABEL: u32 = 1 << 4;
    pub const NAME_TOO_LONG: u32 = 1 << 5;
    pub const MORE_ANSWERS: u32 = 1 << 6;
    pub const MAX_ADDRS: usize = 8;
}

/// `VIGIL_FILE_*` flags.
pub mod file_flag {
    pub const PATH_TRUNC: u32 = 1 << 0;
    pub const PATH_DELETED: u32 = 1 << 1;
    pub const FROM_INODE: u32 = 1 << 2;
    pub const JOINED: u32 = 1 << 3;
    pub const PATH2_TRUNC: u32 = 1 << 4;
    pub const PATH2_JOINED: u32 = 1 << 5;
    pub const INODE_VALID: u32 = 1 << 6;
    pub const RUNNING_EXE: u32 = 1 << 7;
}

/// `enum vigil_file_op`.
pub mod file_op {
    pub const OPEN: u16 = 1;
    pub const UNLINK: u16 = 2;
    pub const RMDIR: u16 = 3;
    pub const RENAME: u16 = 4;
    pub const CHMOD: u16 = 5;
    pub const CHOWN: u16 = 6;
    pub const LINK: u16 = 7;
    pub const SYMLINK: u16 = 8;
    pub const TRUNCATE: u16 = 9;
    pub const MKDIR: u16 = 10;
    pub const MEMFD_CREATE: u16 = 11;
}

macro_rules! wire_struct {
    ($(#[$m:meta])* $name:ident { $($field:ident : $ty:ty),* $(,)? }) => {
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
    };
}

wire_struct!(
    /// `struct vigil_hdr`
    RawHdr {
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
    RawExec {
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
        pad: u16,
        pad2: u32,
    }
);

wire_struct!(
    /// `struct vigil_fork`
    RawFork {
        hdr: RawHdr,
        child_pid: u32,
        child_ppid: u32,
        child_start_ktime: u64,
    }
);

wire_struct!(
    /// `struct vigil_exit`
    RawExit {
        hdr: RawHdr,
        exit_code: u32,
        pad: u32,
        start_ktime: u64,
    }
);

wire_struct!(
    /// `struct vigil_cwd`
    RawCwd {
        hdr: RawHdr,
        syscall: u16,
        flags: u16,
        cwd_len: u16,
        pad: u16,
    }
);

wire_struct!(
    /// `struct vigil_file`
    RawFile {
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
    RawNet {
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
        pad: u32,
    }
);

wire_struct!(
    /// `struct vigil_dns_addr`
    RawDnsAddr {
        family: u16,
        pad: u16,
        ttl: u32,
        addr: [u8; 16],
    }
);

wire_struct!(
    /// `struct vigil_dns`
    RawDns {
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
pub struct DnsAddrs(pub [RawDnsAddr; dns_flag::MAX_ADDRS]);

impl Wire for DnsAddrs {
    const SIZE: usize = RawDnsAddr::SIZE * dns_flag::MAX_ADDRS;
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
    RawSyscall {
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
    RawDetection {
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

    /// The sizes `_Static_assert`ed in bpf/vigil_abi.h.
    #[test]
    fn sizes_match_the_c_header() {
        let header = include_str!("../../../bpf/vigil_abi.h");
        for (c_name, rust_size) in [
            ("vigil_hdr", RawHdr::SIZE),
            ("vigil_exec", RawExec::SIZE),
            ("vigil_fork", RawFork::SIZE),
            ("vigil_exit", RawExit::SIZE),
            ("vigil_cwd", RawCwd::SIZE),
            ("vigil_file", RawFile::SIZE),
            ("vigil_net", RawNet::SIZE),
            ("vigil_dns", RawDns::SIZE),
            ("vigil_syscall", RawSyscall::SIZE),
            ("vigil_detection", RawDetection::SIZE),
        ] {
            let needle = format!("sizeof(struct {c_name}) == ");
            let at = header
                .find(&needle)
                .unwrap_or_else(|| panic!("no size assert for {c_name}"));
            let rest = &header[at + needle.len()..];
            let c_size: usize = rest[..rest.find(',').expect("assert syntax")]
                .trim()
                .parse()
                .expect("number");
            assert_eq!(
                rust_size, c_size,
                "struct {c_name}: Rust mirror is {rust_size} bytes, C is {c_size}"
            );
        }
    }

    #[test]
    fn constants_match_the_c_header() {
        let header = include_str!("../../../bpf/vigil_abi.h");
        let define = |name: &str| -> usize {
            let needle = format!("#define {name} ");
            let at = header.find(&needle).unwrap_or_else(|| panic!("no #define {name}"));
            let rest = header[at + needle.len()..].trim_start();
            rest.split_whitespace().next().expect("value").parse().expect("number")
        };
        assert_eq!(define("VIGIL_ABI_VERSION"), ABI_VERSION as usize);
        assert_eq!(define("VIGIL_PATH_MAX"), PATH_MAX);
        assert_eq!(define("VIGIL_ARGV_MAX"), ARGV_MAX);
        assert_eq!(define("VIGIL_ENV_MAX"), ENV_MAX);
        assert_eq!(define("VIGIL_RECORD_MAX"), RECORD_MAX);
        for hook in Hook::ALL {
            // TcpState -> TCP_STATE
            let mut snake = String::new();
            for (i, c) in format!("{hook:?}").chars().enumerate() {
                if c.is_uppercase() && i > 0 {
                    snake.push('_');
                }
                snake.push(c.to_ascii_uppercase());
            }
            let c_name = format!("VIGIL_HOOK_{snake} = {},", hook as usize);
            assert!(header.contains(&c_name), "C header lacks `{c_name}`");
        }
    }
}

//! Words for the numbers and bits in records: flags, capabilities, modes, protocols,
//! DNS codes.

use vigil_event::abi::{dns_flag, exec_flag, file_flag, net_dir, net_flag};
use vigil_event::model::{AF_INET, AF_INET6, AF_PACKET, AF_UNIX};

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
pub fn exe_flag_args(flags: u32) -> String {
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
    (file_flag::IO_URING, "io_uring"),
    (file_flag::CREATED, "created"),
];

const NET_FLAG_NAMES: &[(u32, &str)] = &[
    (net_flag::NAMES_TRUNC, "names_truncated"),
    (net_flag::CLOSED_BY_REMOTE, "closed_by_remote"),
    (net_flag::NEVER_ESTABLISHED, "never_established"),
    (net_flag::ABSTRACT, "abstract"),
    (net_flag::IDLE_END, "idle_end"),
    (net_flag::NAMES_OTHER, "names_from_another_process"),
    (net_flag::IO_URING, "io_uring"),
];

const DNS_FLAG_NAMES: &[(u32, &str)] = &[
    (dns_flag::MALFORMED, "malformed"),
    (dns_flag::TRUNCATED, "truncated"),
    (dns_flag::POINTER_LOOP, "pointer_loop"),
    (dns_flag::BAD_LABEL, "bad_label"),
    (dns_flag::NAME_TOO_LONG, "name_too_long"),
    (dns_flag::MORE_ANSWERS, "more_answers"),
];

fn flag_names(bits: u32, table: &[(u32, &'static str)]) -> Vec<&'static str> {
    table.iter().filter(|(b, _)| bits & b != 0).map(|&(_, n)| n).collect()
}

pub fn exec_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, EXEC_FLAG_NAMES)
}

pub fn file_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, FILE_FLAG_NAMES)
}

pub fn net_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, NET_FLAG_NAMES)
}

pub fn dns_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, DNS_FLAG_NAMES)
}

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

/// Falco's `fd.l4proto` from an IP protocol number.
pub fn l4proto(protocol: u16) -> Option<&'static str> {
    match protocol {
        6 => Some("tcp"),
        17 => Some("udp"),
        1 | 58 => Some("icmp"),
        255 => Some("raw"),
        _ => None,
    }
}

pub fn family_name(f: u16) -> &'static str {
    match f {
        AF_INET => "ipv4",
        AF_INET6 => "ipv6",
        AF_UNIX => "unix",
        AF_PACKET => "packet",
        _ => "other",
    }
}

pub fn sock_type_name(t: u16) -> Option<&'static str> {
    match t {
        1 => Some("stream"),
        2 => Some("dgram"),
        3 => Some("raw"),
        5 => Some("seqpacket"),
        _ => None,
    }
}

pub fn net_direction(d: u16) -> Option<&'static str> {
    match d {
        net_dir::OUT => Some("outgoing"),
        net_dir::IN => Some("incoming"),
        net_dir::LISTEN => Some("listen"),
        _ => None,
    }
}

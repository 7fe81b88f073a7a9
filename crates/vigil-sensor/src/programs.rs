//! What each BPF program in the object is for and how it attaches.
//!
//! This table is the one place that ties program names in `bpf/*.bpf.c` to hooks,
//! syscalls and attach points; the loader, `vigil doctor` and the docs read it.

use vigil_event::abi::Hook;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// A BTF tracepoint (`tp_btf/<name>`): needs BTF, no tracefs.
    TpBtf(&'static str),
    /// A handler tail-called by `sys_exit_dispatch` for these syscalls.
    SysExitTail(&'static [&'static str]),
    /// A BPF iterator run once at start.
    Iter(&'static str),
    /// A `syscall` program the agent runs itself (BPF_PROG_RUN) from time to time.
    Periodic,
    /// A cgroup skb program on the root cgroup v2 ("ingress" or "egress").
    CgroupSkb(&'static str),
}

/// A feature group: programs that only make sense together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Process,
    Files,
    Network,
    Seed,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Process => "process",
            Group::Files => "files",
            Group::Network => "network",
            Group::Seed => "seed",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct ProgramSpec {
    pub name: &'static str,
    pub group: Group,
    pub attach: Attach,
    pub hook: Option<Hook>,
    /// Without it the group does not work (the dispatcher for its tail calls).
    pub group_critical: bool,
    /// Without it the agent cannot run (`vigil run` stops, `vigil doctor` exits 1).
    /// Every other program only narrows what the agent sees, and it runs on without it.
    pub required: bool,
    pub what: &'static str,
}

/// Every program. The required core is the process lifecycle (fork, exec, exit): without
/// it there is no process tree to attribute anything to. Everything else is optional.
pub const PROGRAMS: &[ProgramSpec] = &[
    ProgramSpec {
        name: "handle_fork",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_fork"),
        hook: Some(Hook::Fork),
        group_critical: false,
        required: true,
        what: "new processes (fork, clone, vfork)",
    },
    ProgramSpec {
        name: "handle_exec",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_exec"),
        hook: Some(Hook::Exec),
        group_critical: false,
        required: true,
        what: "program execution (execve, execveat)",
    },
    ProgramSpec {
        name: "handle_exit",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_exit"),
        hook: Some(Hook::Exit),
        group_critical: false,
        required: true,
        what: "process exit with code or signal",
    },
    ProgramSpec {
        name: "sys_exit_dispatch",
        group: Group::Files,
        attach: Attach::TpBtf("sys_exit"),
        hook: None,
        group_critical: true,
        required: false,
        what: "syscall results, dispatched to the handlers below",
    },
    ProgramSpec {
        name: "exit_open",
        group: Group::Files,
        attach: Attach::SysExitTail(&["open", "openat", "openat2", "creat"]),
        hook: Some(Hook::Open),
        group_critical: false,
        required: false,
        what: "file opens with flags and result",
    },
    ProgramSpec {
        name: "exit_unlink",
        group: Group::Files,
        attach: Attach::SysExitTail(&["unlink", "unlinkat", "rmdir"]),
        hook: Some(Hook::Unlink),
        group_critical: false,
        required: false,
        what: "file and directory removal",
    },
    ProgramSpec {
        name: "exit_rename",
        group: Group::Files,
        attach: Attach::SysExitTail(&["rename", "renameat", "renameat2"]),
        hook: Some(Hook::Rename),
        group_critical: false,
        required: false,
        what: "renames",
    },
    ProgramSpec {
        name: "exit_chmod",
        group: Group::Files,
        attach: Attach::SysExitTail(&["chmod", "fchmod", "fchmodat", "fchmodat2"]),
        hook: Some(Hook::Chmod),
        group_critical: false,
        required: false,
        what: "permission changes",
    },
    ProgramSpec {
        name: "exit_chown",
        group: Group::Files,
        attach: Attach::SysExitTail(&["chown", "fchown", "lchown", "fchownat"]),
        hook: Some(Hook::Chown),
        group_critical: false,
        required: false,
        what: "ownership changes",
    },
    ProgramSpec {
        name: "exit_link",
        group: Group::Files,
        attach: Attach::SysExitTail(&["link", "linkat"]),
        hook: Some(Hook::Link),
        group_critical: false,
        required: false,
        what: "hard links",
    },
    ProgramSpec {
        name: "exit_symlink",
        group: Group::Files,
        attach: Attach::SysExitTail(&["symlink", "symlinkat"]),
        hook: Some(Hook::Symlink),
        group_critical: false,
        required: false,
        what: "symbolic links",
    },
    ProgramSpec {
        name: "exit_truncate",
        group: Group::Files,
        attach: Attach::SysExitTail(&["truncate", "ftruncate"]),
        hook: Some(Hook::Truncate),
        group_critical: false,
        required: false,
        what: "truncation",
    },
    ProgramSpec {
        name: "exit_mkdir",
        group: Group::Files,
        attach: Attach::SysExitTail(&["mkdir", "mkdirat"]),
        hook: Some(Hook::Mkdir),
        group_critical: false,
        required: false,
        what: "directory creation",
    },
    ProgramSpec {
        name: "exit_memfd",
        group: Group::Files,
        attach: Attach::SysExitTail(&["memfd_create"]),
        hook: Some(Hook::Memfd),
        group_critical: false,
        required: false,
        what: "anonymous memory files (fileless execution)",
    },
    ProgramSpec {
        name: "exit_chdir",
        group: Group::Files,
        attach: Attach::SysExitTail(&["chdir", "fchdir"]),
        hook: Some(Hook::Cwd),
        group_critical: false,
        required: false,
        what: "working directory changes",
    },
    ProgramSpec {
        name: "exit_socket",
        group: Group::Network,
        attach: Attach::SysExitTail(&["socket"]),
        hook: Some(Hook::Socket),
        group_critical: false,
        required: false,
        what: "socket creation",
    },
    ProgramSpec {
        name: "exit_bind",
        group: Group::Network,
        attach: Attach::SysExitTail(&["bind"]),
        hook: Some(Hook::Bind),
        group_critical: false,
        required: false,
        what: "bind (address, port, unix path)",
    },
    ProgramSpec {
        name: "exit_listen",
        group: Group::Network,
        attach: Attach::SysExitTail(&["listen"]),
        hook: Some(Hook::Listen),
        group_critical: false,
        required: false,
        what: "listening sockets",
    },
    ProgramSpec {
        name: "exit_connect",
        group: Group::Network,
        attach: Attach::SysExitTail(&["connect"]),
        hook: Some(Hook::Connect),
        group_critical: false,
        required: false,
        what: "outgoing connections with result and DNS names",
    },
    ProgramSpec {
        name: "exit_accept",
        group: Group::Network,
        attach: Attach::SysExitTail(&["accept", "accept4"]),
        hook: Some(Hook::Accept),
        group_critical: false,
        required: false,
        what: "incoming connections with the peer",
    },
    ProgramSpec {
        name: "exit_send",
        group: Group::Network,
        attach: Attach::SysExitTail(&["sendto", "sendmsg", "sendmmsg"]),
        hook: Some(Hook::Send),
        group_critical: false,
        required: false,
        what: "first datagram from a process to each peer",
    },
    ProgramSpec {
        name: "exit_dup",
        group: Group::Network,
        attach: Attach::SysExitTail(&["dup", "dup2", "dup3", "fcntl"]),
        hook: Some(Hook::Dup),
        group_critical: false,
        required: false,
        what: "sockets duplicated onto stdin/stdout/stderr",
    },
    ProgramSpec {
        name: "handle_tcp_state",
        group: Group::Network,
        attach: Attach::TpBtf("inet_sock_set_state"),
        hook: Some(Hook::TcpState),
        group_critical: false,
        required: false,
        what: "TCP connections established and closed, with byte counts",
    },
    ProgramSpec {
        name: "skb_egress",
        group: Group::Network,
        attach: Attach::CgroupSkb("egress"),
        hook: Some(Hook::Skb),
        group_critical: false,
        required: false,
        what: "outgoing packets: UDP flows, DNS queries",
    },
    ProgramSpec {
        name: "skb_ingress",
        group: Group::Network,
        attach: Attach::CgroupSkb("ingress"),
        hook: Some(Hook::Dns),
        group_critical: false,
        required: false,
        what: "incoming packets: DNS answers",
    },
    ProgramSpec {
        name: "sweep_flows",
        group: Group::Network,
        attach: Attach::Periodic,
        hook: None,
        group_critical: false,
        required: false,
        what: "ends idle datagram flows (FLOW_END with their counts)",
    },
    ProgramSpec {
        name: "exit_sensitive",
        group: Group::Files,
        attach: Attach::SysExitTail(&[
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "kill",
            "tkill",
            "tgkill",
            "pidfd_send_signal",
            "init_module",
            "finit_module",
            "delete_module",
            "kexec_load",
            "kexec_file_load",
            "bpf",
            "capset",
            "setns",
            "unshare",
            "mount",
            "umount2",
            "pivot_root",
            "chroot",
            "setuid",
            "setgid",
            "setreuid",
            "setregid",
            "setresuid",
            "setresgid",
            "utimensat",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
        ]),
        hook: Some(Hook::Sensitive),
        group_critical: false,
        required: false,
        what: "injection, signals, modules, bpf(), capabilities, namespaces, mounts, setuid, timestamps, xattrs",
    },
    ProgramSpec {
        name: "seed_proc_table",
        group: Group::Seed,
        attach: Attach::Iter("task"),
        hook: None,
        group_critical: false,
        required: false,
        what: "fills the kernel process table with processes running at start",
    },
];

pub fn spec(name: &str) -> Option<&'static ProgramSpec> {
    PROGRAMS.iter().find(|p| p.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tail_syscall_has_a_number() {
        for p in PROGRAMS {
            if let Attach::SysExitTail(names) = p.attach {
                for n in names {
                    assert!(
                        vigil_event::names::SYSCALLS.iter().any(|(s, _)| s == n),
                        "{}: syscall {n} has no x86_64 number in vigil_event::names",
                        p.name
                    );
                }
            }
        }
    }
}

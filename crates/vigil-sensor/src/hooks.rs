//! The hook table: one entry per BPF program, the only place that says what a hook is.
//!
//! Each [`HookSpec`] names the program in `bpf/*.bpf.c`, where it attaches (for a
//! syscall handler: the syscalls it serves), the statistics slot it counts in, whether
//! the agent can run without it, the event types (`evt.type`) it produces and how the
//! kernel filter treats each of them, and one line for humans. The loader, `vigil
//! doctor`, the kernel filter, the statistics and the hook table in docs/hooks.md all
//! read it; `docs/adding-a-hook.md` is the recipe for a new entry.

use vigil_event::abi::{file_op, net_op, user_fn, Hook};

use crate::filter::{EMIT_DNS_QUERY, EMIT_DNS_RESPONSE};

/// Where a program attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attach {
    /// A BTF tracepoint (`tp_btf/<name>`): needs BTF, no tracefs.
    TpBtf(&'static str),
    /// A handler tail-called by `sys_exit_dispatch`, for the syscalls named by its
    /// events (each event type of a syscall handler is a syscall name).
    SysExit,
    /// A BPF iterator run once at start.
    Iter(&'static str),
    /// A `syscall` program the agent runs itself (BPF_PROG_RUN) from time to time.
    Periodic,
    /// A cgroup skb program on the root cgroup v2 ("ingress" or "egress").
    CgroupSkb(&'static str),
    /// A cgroup sock_addr program on the root cgroup v2 ("connect4", "connect6"):
    /// network policies (a connect it denies fails with EPERM).
    CgroupSockAddr(&'static str),
    /// XDP on each interface the agent is told to guard (`--xdp IFACE`).
    Xdp,
    /// uprobes on functions of user-space binaries found on the host (each target whose
    /// binary exists), attached again when a binary is replaced.
    Uprobe(&'static [UprobeTarget]),
}

/// A function of a user-space binary, for a uprobe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UprobeTarget {
    /// Where the binary may be, in order: the first that exists is probed.
    pub binaries: &'static [&'static str],
    pub symbol: &'static str,
    /// On return (uretprobe) rather than on entry.
    pub ret: bool,
    /// What the program reads with bpf_get_attach_cookie (an `enum vigil_user_fn`).
    pub cookie: u64,
}

impl UprobeTarget {
    /// `uretprobe bash:readline`: the kind, the binary's file name and the function.
    pub fn describe(&self) -> String {
        let binary = self.binaries.first().and_then(|b| b.rsplit('/').next()).unwrap_or("?");
        let kind = if self.ret { "uretprobe" } else { "uprobe" };
        format!("{kind} {binary}:{}", self.symbol)
    }
}

/// Every target of a uprobe hook, for doctor and the docs.
pub fn describe_uprobes(targets: &[UprobeTarget]) -> String {
    targets
        .iter()
        .map(UprobeTarget::describe)
        .collect::<Vec<_>>()
        .join(", ")
}

const BASH: &[&str] = &["/usr/bin/bash", "/bin/bash"];
const LIBPAM: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libpam.so.0",
    "/lib/x86_64-linux-gnu/libpam.so.0",
    "/usr/lib64/libpam.so.0",
    "/lib64/libpam.so.0",
];
const LIBC: &[&str] = &[
    "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/lib64/libc.so.6",
];

const fn probe(binaries: &'static [&'static str], symbol: &'static str, ret: bool, cookie: u16) -> UprobeTarget {
    UprobeTarget {
        binaries,
        symbol,
        ret,
        cookie: cookie as u64,
    }
}

/// A feature group: programs that only make sense together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    Process,
    Files,
    Network,
    Containers,
    Enforcement,
    Uprobes,
    Seed,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Process => "process",
            Group::Files => "files",
            Group::Network => "network",
            Group::Containers => "containers",
            Group::Enforcement => "enforcement",
            Group::Uprobes => "uprobes",
            Group::Seed => "seed",
        }
    }
}

/// Whether the agent can run without a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Without it the agent cannot run (`vigil run` stops, `vigil doctor` exits 1).
    Required,
    /// It only narrows what the agent sees; the agent runs on without it.
    Optional,
    /// Optional, but the other programs of its group run through it (the syscall
    /// dispatcher): without it, the whole group is off.
    GroupGateway,
}

/// How the kernel filter treats an event type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Always produced: process lifecycle and state the process tree follows.
    Always,
    /// A file operation (`enum vigil_file_op`): reported if a rule wants the type,
    /// possibly only for paths of interest; deduplicated.
    FileOp(u16),
    /// A network record (`enum vigil_net_op` or `enum vigil_emit` bit): reported if a
    /// rule wants the type.
    Net(u16),
    /// A network record always reported (the process tree follows it).
    AlwaysNet(u16),
    /// A syscall whose handler runs only if a rule wants its type.
    Syscall,
}

/// An event type a program produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emits {
    /// Falco's `evt.type` (for a syscall handler, the syscall's name).
    pub evt_type: &'static str,
    pub filter: Filter,
}

const fn e(evt_type: &'static str, filter: Filter) -> Emits {
    Emits { evt_type, filter }
}

#[derive(Debug, Clone, Copy)]
pub struct HookSpec {
    /// The BPF program: its function name in `bpf/*.bpf.c`.
    pub program: &'static str,
    pub group: Group,
    pub attach: Attach,
    /// Its slot in the kernel's per-hook counters, when it counts events of its own.
    pub stats: Option<Hook>,
    pub need: Need,
    /// Its handler runs whatever the rules want: it keeps kernel state or feeds an
    /// in-kernel detector (what it reports is still filtered).
    pub always_runs: bool,
    /// The event types it produces.
    pub events: &'static [Emits],
    /// What it sees, in a few words (doctor, warnings, docs).
    pub what: &'static str,
}

impl HookSpec {
    pub fn required(&self) -> bool {
        self.need == Need::Required
    }

    /// The syscalls a [`Attach::SysExit`] handler serves (none for other programs).
    pub fn syscalls(&self) -> impl Iterator<Item = &'static str> + '_ {
        let mut seen: Vec<&'static str> = Vec::new();
        self.events
            .iter()
            .filter(move |_| self.attach == Attach::SysExit)
            .map(|e| e.evt_type)
            .filter(move |t| {
                let new = !seen.contains(t);
                seen.push(t);
                new
            })
    }
}

use Filter::{Always, AlwaysNet, FileOp, Net, Syscall};

const SENSITIVE: &[Emits] = &[
    e("ptrace", Syscall),
    e("process_vm_readv", Syscall),
    e("process_vm_writev", Syscall),
    e("kill", Syscall),
    e("tkill", Syscall),
    e("tgkill", Syscall),
    e("pidfd_send_signal", Syscall),
    e("init_module", Syscall),
    e("finit_module", Syscall),
    e("delete_module", Syscall),
    e("kexec_load", Syscall),
    e("kexec_file_load", Syscall),
    e("bpf", Syscall),
    e("capset", Syscall),
    e("setns", Syscall),
    e("unshare", Syscall),
    e("chroot", Syscall),
    e("setuid", Syscall),
    e("setgid", Syscall),
    e("setreuid", Syscall),
    e("setregid", Syscall),
    e("setresuid", Syscall),
    e("setresgid", Syscall),
    e("utimensat", Syscall),
    e("setxattr", Syscall),
    e("lsetxattr", Syscall),
    e("fsetxattr", Syscall),
];

/// Every program. The required core is the process lifecycle (fork, exec, exit): without
/// it there is no process tree to attribute anything to. Everything else is optional.
pub const HOOKS: &[HookSpec] = &[
    HookSpec {
        program: "handle_fork",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_fork"),
        stats: Some(Hook::Fork),
        need: Need::Required,
        always_runs: true,
        events: &[e("clone", Always)],
        what: "new processes (fork, clone, vfork)",
    },
    HookSpec {
        program: "handle_exec",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_exec"),
        stats: Some(Hook::Exec),
        need: Need::Required,
        always_runs: true,
        events: &[e("execve", Always), e("execveat", Always)],
        what: "program execution (execve, execveat)",
    },
    HookSpec {
        program: "handle_exit",
        group: Group::Process,
        attach: Attach::TpBtf("sched_process_exit"),
        stats: Some(Hook::Exit),
        need: Need::Required,
        always_runs: true,
        events: &[e("procexit", Always)],
        what: "process exit with code or signal",
    },
    HookSpec {
        program: "sys_exit_dispatch",
        group: Group::Files,
        attach: Attach::TpBtf("sys_exit"),
        stats: None,
        need: Need::GroupGateway,
        always_runs: true,
        events: &[],
        what: "syscall results, dispatched to the handlers below",
    },
    HookSpec {
        program: "exit_open",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Open),
        need: Need::Optional,
        always_runs: true, // drop-and-execute and fingerprint detectors
        events: &[
            e("open", FileOp(file_op::OPEN)),
            e("openat", FileOp(file_op::OPEN)),
            e("openat2", FileOp(file_op::OPEN)),
            e("creat", FileOp(file_op::OPEN)),
        ],
        what: "file opens with flags and result",
    },
    HookSpec {
        program: "exit_unlink",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Unlink),
        need: Need::Optional,
        always_runs: true, // self-deleting binaries
        events: &[
            e("unlink", FileOp(file_op::UNLINK)),
            e("unlinkat", FileOp(file_op::UNLINK)),
            e("unlinkat", FileOp(file_op::RMDIR)),
            e("rmdir", FileOp(file_op::RMDIR)),
        ],
        what: "file and directory removal",
    },
    HookSpec {
        program: "exit_rename",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Rename),
        need: Need::Optional,
        always_runs: true, // rename storms; stale open verdicts
        events: &[
            e("rename", FileOp(file_op::RENAME)),
            e("renameat", FileOp(file_op::RENAME)),
            e("renameat2", FileOp(file_op::RENAME)),
        ],
        what: "renames",
    },
    HookSpec {
        program: "exit_chmod",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Chmod),
        need: Need::Optional,
        always_runs: false,
        events: &[
            e("chmod", FileOp(file_op::CHMOD)),
            e("fchmod", FileOp(file_op::CHMOD)),
            e("fchmodat", FileOp(file_op::CHMOD)),
            e("fchmodat2", FileOp(file_op::CHMOD)),
        ],
        what: "permission changes",
    },
    HookSpec {
        program: "exit_chown",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Chown),
        need: Need::Optional,
        always_runs: false,
        events: &[
            e("chown", FileOp(file_op::CHOWN)),
            e("fchown", FileOp(file_op::CHOWN)),
            e("lchown", FileOp(file_op::CHOWN)),
            e("fchownat", FileOp(file_op::CHOWN)),
        ],
        what: "ownership changes",
    },
    HookSpec {
        program: "exit_link",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Link),
        need: Need::Optional,
        always_runs: false,
        events: &[e("link", FileOp(file_op::LINK)), e("linkat", FileOp(file_op::LINK))],
        what: "hard links",
    },
    HookSpec {
        program: "exit_symlink",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Symlink),
        need: Need::Optional,
        always_runs: false,
        events: &[
            e("symlink", FileOp(file_op::SYMLINK)),
            e("symlinkat", FileOp(file_op::SYMLINK)),
        ],
        what: "symbolic links",
    },
    HookSpec {
        program: "exit_truncate",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Truncate),
        need: Need::Optional,
        always_runs: true, // written files (drop-and-execute)
        events: &[
            e("truncate", FileOp(file_op::TRUNCATE)),
            e("ftruncate", FileOp(file_op::TRUNCATE)),
        ],
        what: "truncation",
    },
    HookSpec {
        program: "exit_mkdir",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Mkdir),
        need: Need::Optional,
        always_runs: false,
        events: &[e("mkdir", FileOp(file_op::MKDIR)), e("mkdirat", FileOp(file_op::MKDIR))],
        what: "directory creation",
    },
    HookSpec {
        program: "exit_memfd",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Memfd),
        need: Need::Optional,
        always_runs: false,
        events: &[e("memfd_create", FileOp(file_op::MEMFD_CREATE))],
        what: "anonymous memory files (fileless execution)",
    },
    HookSpec {
        program: "exit_chdir",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Cwd),
        need: Need::Optional,
        always_runs: true, // proc.cwd
        events: &[e("chdir", Always), e("fchdir", Always)],
        what: "working directory changes",
    },
    HookSpec {
        program: "exit_socket",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Socket),
        need: Need::Optional,
        always_runs: false,
        events: &[e("socket", Net(net_op::SOCKET))],
        what: "socket creation",
    },
    HookSpec {
        program: "exit_bind",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Bind),
        need: Need::Optional,
        always_runs: false,
        events: &[e("bind", Net(net_op::BIND))],
        what: "bind (address, port, unix path)",
    },
    HookSpec {
        program: "exit_listen",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Listen),
        need: Need::Optional,
        always_runs: false,
        events: &[e("listen", Net(net_op::LISTEN))],
        what: "listening sockets",
    },
    HookSpec {
        program: "exit_connect",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Connect),
        need: Need::Optional,
        always_runs: true, // port-scan detector
        events: &[e("connect", Net(net_op::CONNECT))],
        what: "outgoing connections with result and DNS names",
    },
    HookSpec {
        program: "exit_accept",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Accept),
        need: Need::Optional,
        always_runs: true, // owner of accepted flows
        events: &[e("accept", Net(net_op::ACCEPT)), e("accept4", Net(net_op::ACCEPT))],
        what: "incoming connections with the peer",
    },
    HookSpec {
        program: "exit_send",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Send),
        need: Need::Optional,
        always_runs: false,
        events: &[
            e("sendto", Net(net_op::SEND)),
            e("sendmsg", Net(net_op::SEND)),
            e("sendmmsg", Net(net_op::SEND)),
        ],
        what: "first datagram from a process to each peer",
    },
    HookSpec {
        program: "exit_dup",
        group: Group::Network,
        attach: Attach::SysExit,
        stats: Some(Hook::Dup),
        need: Need::Optional,
        always_runs: true, // the process tree follows sockets moved onto stdio
        events: &[
            e("dup", AlwaysNet(net_op::DUP_STDIO)),
            e("dup2", AlwaysNet(net_op::DUP_STDIO)),
            e("dup3", AlwaysNet(net_op::DUP_STDIO)),
            e("fcntl", AlwaysNet(net_op::DUP_STDIO)),
        ],
        what: "sockets duplicated onto stdin/stdout/stderr",
    },
    HookSpec {
        program: "handle_tcp_state",
        group: Group::Network,
        attach: Attach::TpBtf("inet_sock_set_state"),
        stats: Some(Hook::TcpState),
        need: Need::Optional,
        always_runs: true,
        events: &[
            e("flow_start", Net(net_op::FLOW_START)),
            e("flow_end", Net(net_op::FLOW_END)),
        ],
        what: "TCP connections established and closed, with byte counts",
    },
    HookSpec {
        program: "skb_egress",
        group: Group::Network,
        attach: Attach::CgroupSkb("egress"),
        stats: Some(Hook::Skb),
        need: Need::Optional,
        always_runs: true,
        events: &[
            e("flow_start", Net(net_op::FLOW_START)),
            e("flow_update", Net(net_op::FLOW_UPDATE)),
            e("dns_query", Net(EMIT_DNS_QUERY)),
        ],
        what: "outgoing packets: UDP flows, DNS queries",
    },
    HookSpec {
        program: "skb_ingress",
        group: Group::Network,
        attach: Attach::CgroupSkb("ingress"),
        stats: Some(Hook::Dns),
        need: Need::Optional,
        always_runs: true,
        events: &[
            e("flow_update", Net(net_op::FLOW_UPDATE)),
            e("dns_response", Net(EMIT_DNS_RESPONSE)),
        ],
        what: "incoming packets: DNS answers",
    },
    HookSpec {
        program: "policy_connect4",
        group: Group::Enforcement,
        attach: Attach::CgroupSockAddr("connect4"),
        stats: None,
        need: Need::Optional,
        always_runs: false,
        events: &[],
        what: "network policies: IPv4 connects a policy denies fail with EPERM",
    },
    HookSpec {
        program: "policy_connect6",
        group: Group::Enforcement,
        attach: Attach::CgroupSockAddr("connect6"),
        stats: None,
        need: Need::Optional,
        always_runs: false,
        events: &[],
        what: "network policies: IPv6 connects a policy denies fail with EPERM",
    },
    HookSpec {
        program: "xdp_guard",
        group: Group::Enforcement,
        attach: Attach::Xdp,
        stats: None,
        need: Need::Optional,
        always_runs: false,
        events: &[],
        what: "packets on guarded interfaces: deny lists, SYN-scan detection and drop",
    },
    HookSpec {
        program: "sweep_flows",
        group: Group::Network,
        attach: Attach::Periodic,
        stats: None,
        need: Need::Optional,
        always_runs: true,
        events: &[e("flow_end", Net(net_op::FLOW_END))],
        what: "ends idle datagram flows (FLOW_END with their counts)",
    },
    HookSpec {
        program: "exit_sensitive",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Sensitive),
        need: Need::Optional,
        always_runs: false,
        events: SENSITIVE,
        what: "injection, signals, modules, bpf(), capabilities, namespaces, setuid, timestamps, xattrs",
    },
    HookSpec {
        program: "exit_mount",
        group: Group::Files,
        attach: Attach::SysExit,
        stats: Some(Hook::Mount),
        need: Need::Optional,
        // Mounts change what paths mean: the kernel forgets its cached open verdicts.
        always_runs: true,
        events: &[
            e("mount", Syscall),
            e("umount2", Syscall),
            e("pivot_root", Syscall),
            e("fsopen", Syscall),
            e("fsconfig", Syscall),
            e("fsmount", Syscall),
            e("fspick", Syscall),
            e("open_tree", Syscall),
            e("move_mount", Syscall),
            e("mount_setattr", Syscall),
        ],
        what: "mounts, both mount(2) and the new mount API (fsopen, fsmount, open_tree, move_mount, ...)",
    },
    HookSpec {
        program: "uring_open",
        group: Group::Files,
        attach: Attach::TpBtf("io_uring_complete"),
        stats: Some(Hook::UringOpen),
        need: Need::Optional,
        always_runs: true, // the same detectors as exit_open
        events: &[e("openat", FileOp(file_op::OPEN)), e("openat2", FileOp(file_op::OPEN))],
        what: "file opens done through an io_uring (IORING_OP_OPENAT/OPENAT2), which no syscall hook sees",
    },
    HookSpec {
        program: "uring_connect",
        group: Group::Network,
        attach: Attach::TpBtf("io_uring_complete"),
        stats: Some(Hook::UringConnect),
        need: Need::Optional,
        always_runs: true, // port-scan detector
        events: &[e("connect", Net(net_op::CONNECT))],
        what: "outgoing connections done through an io_uring (IORING_OP_CONNECT), which no syscall hook sees",
    },
    HookSpec {
        program: "handle_cgroup_mkdir",
        group: Group::Containers,
        attach: Attach::TpBtf("cgroup_mkdir"),
        stats: Some(Hook::Cgroup),
        need: Need::Optional,
        always_runs: true,
        events: &[e("cgroup_mkdir", Always)],
        what: "cgroups made (a container's, before its first process runs; without it, containers are found by rescanning /sys/fs/cgroup and one that ends first stays unnamed)",
    },
    HookSpec {
        program: "handle_cgroup_rmdir",
        group: Group::Containers,
        attach: Attach::TpBtf("cgroup_rmdir"),
        // counts in handle_cgroup_mkdir's slot (one slot, one owner)
        stats: None,
        need: Need::Optional,
        always_runs: true,
        events: &[e("cgroup_rmdir", Always)],
        what: "cgroups removed (when a container ended)",
    },
    HookSpec {
        program: "uprobe_readline",
        group: Group::Uprobes,
        attach: Attach::Uprobe(&[probe(BASH, "readline", true, user_fn::READLINE)]),
        stats: Some(Hook::Readline),
        need: Need::Optional,
        always_runs: true,
        events: &[e("readline", Always)],
        what: "lines typed at interactive bash shells, builtins included (`echo > /dev/tcp/...` never execs)",
    },
    HookSpec {
        program: "uprobe_pam_enter",
        group: Group::Uprobes,
        attach: Attach::Uprobe(&[
            probe(LIBPAM, "pam_authenticate", false, 0),
            probe(LIBPAM, "pam_acct_mgmt", false, 0),
        ]),
        // counts in uprobe_pam_return's slot
        stats: None,
        need: Need::Optional,
        always_runs: true,
        events: &[],
        what: "PAM calls starting: keeps the handle for their return",
    },
    HookSpec {
        program: "uprobe_pam_return",
        group: Group::Uprobes,
        attach: Attach::Uprobe(&[
            probe(LIBPAM, "pam_authenticate", true, user_fn::PAM_AUTH),
            probe(LIBPAM, "pam_acct_mgmt", true, user_fn::PAM_ACCT),
        ]),
        stats: Some(Hook::Pam),
        need: Need::Optional,
        always_runs: true,
        events: &[e("pam_authenticate", Always), e("pam_acct_mgmt", Always)],
        what: "PAM authentication and account checks: result, user, service (su, sudo, sshd, login)",
    },
    HookSpec {
        program: "uprobe_getaddrinfo",
        group: Group::Uprobes,
        attach: Attach::Uprobe(&[probe(LIBC, "getaddrinfo", false, 0)]),
        // counts in uretprobe_getaddrinfo's slot
        stats: None,
        need: Need::Optional,
        always_runs: true,
        events: &[],
        what: "libc name lookups starting: keeps the name asked",
    },
    HookSpec {
        program: "uretprobe_getaddrinfo",
        group: Group::Uprobes,
        attach: Attach::Uprobe(&[probe(LIBC, "getaddrinfo", true, 0)]),
        stats: Some(Hook::Getaddrinfo),
        need: Need::Optional,
        always_runs: true,
        events: &[],
        what: "libc name lookups answered: connects to the addresses carry the name, whatever carried the DNS (TCP, DoT/DoH, a cache)",
    },
    HookSpec {
        program: "seed_proc_table",
        group: Group::Seed,
        attach: Attach::Iter("task"),
        stats: None,
        need: Need::Optional,
        always_runs: true,
        events: &[],
        what: "fills the kernel process table with processes running at start",
    },
];

pub fn spec(program: &str) -> Option<&'static HookSpec> {
    HOOKS.iter().find(|p| p.program == program)
}

/// Every event type the sensor can produce with its filter class, as many times as
/// programs produce it.
pub fn all_events() -> impl Iterator<Item = &'static Emits> {
    HOOKS.iter().flat_map(|h| h.events.iter())
}

/// The hook table as Markdown, as docs/hooks.md shows it (a test keeps the two equal).
pub fn markdown_table() -> String {
    let mut out = String::from(
        "| program | attaches to | need | counts as | event types (`evt.type`) and kernel filter | sees |\n\
         |---|---|---|---|---|---|\n",
    );
    for h in HOOKS {
        let attach = match h.attach {
            Attach::TpBtf(tp) => format!("`tp_btf/{tp}`"),
            Attach::SysExit => "`sys_exit` tail call".to_string(),
            Attach::Iter(i) => format!("`iter/{i}` (once)"),
            Attach::Periodic => "`syscall` (run by the agent)".to_string(),
            Attach::CgroupSkb(d) => format!("`cgroup_skb/{d}`"),
            Attach::CgroupSockAddr(d) => format!("`cgroup/{d}`"),
            Attach::Xdp => "`xdp` (each `--xdp` interface)".to_string(),
            Attach::Uprobe(targets) => format!("`{}`", describe_uprobes(targets)),
        };
        let need = match h.need {
            Need::Required => "required",
            Need::Optional => "optional",
            Need::GroupGateway => "optional (its group needs it)",
        };
        let events: Vec<String> = h
            .events
            .iter()
            .map(|e| {
                let class = match e.filter {
                    Filter::Always => "always",
                    Filter::AlwaysNet(_) => "always",
                    Filter::FileOp(_) => "paths",
                    Filter::Net(_) => "if wanted",
                    Filter::Syscall => "if wanted",
                };
                format!("{} ({class})", e.evt_type)
            })
            .collect();
        let mut seen = Vec::new();
        let events: Vec<String> = events
            .into_iter()
            .filter(|e| {
                let new = !seen.contains(e);
                seen.push(e.clone());
                new
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {attach} | {need}{} | {} | {} | {} |\n",
            h.program,
            if h.always_runs && h.attach == Attach::SysExit {
                ", always runs"
            } else {
                ""
            },
            h.stats.map_or("-".to_string(), |s| format!("`{}`", s.name())),
            if events.is_empty() {
                "-".to_string()
            } else {
                events.join(", ")
            },
            h.what
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docs_show_the_hook_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/hooks.md");
        let doc = std::fs::read_to_string(path).expect("docs/hooks.md");
        let table = markdown_table();
        assert!(
            doc.contains(&table),
            "docs/hooks.md does not show the current hook table; replace it with:\n\n{table}"
        );
    }

    #[test]
    fn every_syscall_a_handler_serves_has_a_number() {
        for h in HOOKS {
            for sc in h.syscalls() {
                assert!(
                    vigil_event::names::syscall_number(sc).is_some(),
                    "{}: `{sc}` is not an x86_64 syscall (bpf/syscalls_x86_64.tbl)",
                    h.program
                );
            }
        }
    }

    #[test]
    fn programs_are_named_once_and_syscalls_served_once() {
        let mut programs: Vec<&str> = HOOKS.iter().map(|h| h.program).collect();
        programs.sort();
        programs.dedup();
        assert_eq!(programs.len(), HOOKS.len(), "a program appears twice");
        let mut served: Vec<&str> = HOOKS.iter().flat_map(|h| h.syscalls()).collect();
        let n = served.len();
        served.sort();
        served.dedup();
        assert_eq!(served.len(), n, "a syscall has two handlers");
    }

    #[test]
    fn stats_slots_are_not_shared() {
        let mut slots: Vec<Hook> = HOOKS.iter().filter_map(|h| h.stats).collect();
        let n = slots.len();
        slots.sort();
        slots.dedup();
        assert_eq!(slots.len(), n);
    }
}

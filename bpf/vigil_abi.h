/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * The records the kernel side sends to userspace.
 *
 * This file is the contract between the bpf/ programs and crates/vigil-event/src/abi.rs.
 * Every constant is an enum member and every record is named in struct vigil_abi
 * (below), so all of them reach the compiled object's BTF; a test
 * (crates/vigil-sensor/src/abi_check.rs) compares every field's name, offset and size,
 * and every constant's value, with the Rust side. A change here that is not mirrored
 * there fails the tests instead of decoding garbage. Record sizes are also pinned
 * with _Static_assert.
 *
 * Layout of every record:  [fixed struct][string tail]
 * The fixed struct ends with one u16 length per string field; the tail holds the
 * strings back to back, in the order of those length fields, without terminators.
 * hdr.size is the length of the whole record; the decoder checks that
 * sizeof(fixed) + sum(lengths) == hdr.size.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

enum vigil_limits {
	VIGIL_ABI_VERSION = 1,
	VIGIL_COMM_LEN = 16,
	VIGIL_PATH_MAX = 4096,   /* longest path or string we copy; longer ones are truncated and flagged */
	VIGIL_ARGV_MAX = 4096,   /* bytes of argv kept per exec (NUL-separated) */
	VIGIL_ENV_MAX = 2048,    /* bytes of the environment kept per exec (NUL-separated) */
	VIGIL_RECORD_MAX = 32768,
	VIGIL_DNS_MAX_ADDRS = 8,
	VIGIL_DNS_NAME_MAX = 255,
};

/* Event kinds. Numbers are part of the on-disk record format: never reuse one. */
enum vigil_kind {
	VIGIL_KIND_SNAPSHOT = 1, /* a process that existed at start; built by userspace from /proc, exec layout */
	VIGIL_KIND_FORK = 2,
	VIGIL_KIND_EXEC = 3,
	VIGIL_KIND_EXIT = 4,
	VIGIL_KIND_FILE = 5,
	VIGIL_KIND_CWD = 6,
	VIGIL_KIND_NET = 7,
	VIGIL_KIND_DNS = 8,
	VIGIL_KIND_SYSCALL = 9,   /* a rare, security-sensitive syscall (ptrace, kill, bpf, mount, ...) */
	VIGIL_KIND_DETECTION = 10, /* a finding of an in-kernel detector (bursts) */
	VIGIL_KIND_CGROUP = 11,   /* a cgroup made or removed in the v2 hierarchy (containers) */
	VIGIL_KIND_USER_CALL = 12, /* a library function watched by a uprobe returned (bash readline, PAM) */
	VIGIL_KIND_TICK = 15,    /* userspace only: the agent's clock, recorded so replays reap as the live run did */
	VIGIL_KIND_MAX = 16,
};

/*
 * Hooks, for per-hook statistics. Each hook feeds one event kind; userspace knows
 * which (crates/vigil-event/src/abi.rs: Hook::kind). Numbers are stable.
 */
enum vigil_hook {
	VIGIL_HOOK_FORK = 0,
	VIGIL_HOOK_EXEC = 1,
	VIGIL_HOOK_EXIT = 2,
	VIGIL_HOOK_CWD = 3,
	VIGIL_HOOK_OPEN = 4,
	VIGIL_HOOK_UNLINK = 5,
	VIGIL_HOOK_RENAME = 6,
	VIGIL_HOOK_CHMOD = 7,
	VIGIL_HOOK_CHOWN = 8,
	VIGIL_HOOK_LINK = 9,
	VIGIL_HOOK_SYMLINK = 10,
	VIGIL_HOOK_TRUNCATE = 11,
	VIGIL_HOOK_MKDIR = 12,
	VIGIL_HOOK_MEMFD = 13,
	VIGIL_HOOK_SOCKET = 14,
	VIGIL_HOOK_BIND = 15,
	VIGIL_HOOK_LISTEN = 16,
	VIGIL_HOOK_CONNECT = 17,
	VIGIL_HOOK_ACCEPT = 18,
	VIGIL_HOOK_SEND = 19,
	VIGIL_HOOK_TCP_STATE = 20,
	VIGIL_HOOK_DUP = 21,
	VIGIL_HOOK_SKB = 22,
	VIGIL_HOOK_DNS = 23,
	VIGIL_HOOK_SENSITIVE = 24,
	VIGIL_HOOK_DETECT = 25,
	VIGIL_HOOK_MOUNT = 26,
	VIGIL_HOOK_CGROUP = 27,
	VIGIL_HOOK_URING_OPEN = 28,    /* opens completed through an io_uring */
	VIGIL_HOOK_URING_CONNECT = 29, /* connects completed through an io_uring */
	VIGIL_HOOK_READLINE = 30,      /* uprobe: lines typed at interactive bash shells */
	VIGIL_HOOK_PAM = 31,           /* uprobes: PAM authentication and account checks */
	VIGIL_HOOK_GETADDRINFO = 32,   /* uprobes: libc name lookups (names for connects) */
	VIGIL_HOOK_MAX = 48,
};

/* What each hook counts, per CPU. */
enum vigil_stat {
	VIGIL_STAT_SEEN = 0,     /* the hook ran for a relevant event */
	VIGIL_STAT_FILTERED = 1, /* dropped in kernel because no rule is interested */
	VIGIL_STAT_DEDUPED = 2,  /* dropped in kernel because the same fact was already sent */
	VIGIL_STAT_SENT = 3,     /* written to a ring buffer */
	VIGIL_STAT_LOST = 4,     /* ring buffer full: the event is lost, and counted here */
	VIGIL_STAT_MAX = 5,
};

/* Kernel-side conditions worth knowing about, not tied to one hook. */
enum vigil_counter {
	VIGIL_CTR_PATH_TRUNCATED = 0,  /* a path was longer than VIGIL_PATH_MAX or deeper than the walk bound */
	VIGIL_CTR_PROC_MISS = 1,       /* an event from a process the table did not know (evicted or pre-existing) */
	VIGIL_CTR_COMPAT_SYSCALL = 2,  /* a 32-bit (ia32) syscall, whose numbers we do not decode */
	VIGIL_CTR_SCRATCH_MISS = 3,    /* per-CPU scratch lookup failed (should never happen) */
	VIGIL_CTR_FLOW_TABLE_FULL = 4, /* a flow could not be tracked (table full even after LRU eviction) */
	VIGIL_CTR_DNS_MALFORMED = 5,   /* DNS messages that could not be parsed completely */
	VIGIL_CTR_SEND_DEDUPED = 6,    /* datagrams to a peer the process already sent to */
	VIGIL_CTR_WRITTEN_TRACKED = 7, /* files recorded as written (for drop-and-execute) */
	VIGIL_CTR_MAX = 16,
};

struct vigil_stats {
	__u64 hook[VIGIL_HOOK_MAX][VIGIL_STAT_MAX];
	__u64 counter[VIGIL_CTR_MAX];
};

/* Common header of every record: who did it and when. */
struct vigil_hdr {
	__u16 kind;   /* enum vigil_kind */
	__u16 abi;    /* VIGIL_ABI_VERSION */
	__u32 size;   /* bytes of the whole record, header and tail included */
	__u64 ktime;  /* bpf_ktime_get_boot_ns() when the event happened */
	__u32 pid;    /* thread group id of the acting process */
	__u32 tid;    /* the acting thread */
	__u32 uid;    /* real uid/gid of the acting thread at the time */
	__u32 gid;
	__u64 cgroup_id;
	char comm[VIGIL_COMM_LEN];
};
_Static_assert(sizeof(struct vigil_hdr) == 56, "vigil_hdr layout");

/* Exec (and snapshot) flags. */
enum vigil_exec_flag {
	VIGIL_EXEC_ARGV_TRUNC = (1u << 0),
	VIGIL_EXEC_ENV_TRUNC = (1u << 1),
	VIGIL_EXEC_EXE_TRUNC = (1u << 2),
	VIGIL_EXEC_EXE_DELETED = (1u << 3), /* the executable had no link left when it ran */
	VIGIL_EXEC_EXE_MEMFD = (1u << 4), /* the executable is a memfd */
	VIGIL_EXEC_EXE_UPPER = (1u << 5), /* the executable lives in an overlayfs upper layer (written in the container) */
	VIGIL_EXEC_SCRIPT = (1u << 6), /* run through an interpreter (#! or binfmt_misc); interp holds it */
	VIGIL_EXEC_BY_FD = (1u << 7), /* execveat(fd, "", AT_EMPTY_PATH) or fexecve: filename is /dev/fd/N */
	VIGIL_EXEC_PREV_UNKNOWN = (1u << 8), /* the process was not in the kernel table: prev_exe is empty */
	VIGIL_EXEC_CWD_TRUNC = (1u << 9),
	VIGIL_EXEC_SECUREEXEC = (1u << 10), /* setuid/setgid/file-capability exec (AT_SECURE) */
	VIGIL_EXEC_STDIN_SOCKET = (1u << 11), /* fd 0 is a network socket when the program starts */
	VIGIL_EXEC_STDOUT_SOCKET = (1u << 12),
	VIGIL_EXEC_STDERR_SOCKET = (1u << 13),
	VIGIL_EXEC_RECENTLY_WRITTEN = (1u << 14), /* the executable was written or created recently: writer_* say by whom */
};

struct vigil_exec {
	struct vigil_hdr hdr;
	__u32 ppid;
	__u32 sid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 tty;        /* controlling tty as (major << 20 | minor), 0 for none */
	__u32 flags;      /* VIGIL_EXEC_* */
	__u32 argc;
	__u64 start_ktime; /* when the process (thread group) was created, boot ns */
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 exe_mode;   /* i_mode of the executable: type, permissions, setuid bits */
	__u32 mnt_ns;
	__u32 pid_ns;
	__u32 net_ns;
	__u32 vpid;       /* pid as seen inside its pid namespace */
	char prev_comm[VIGIL_COMM_LEN];
	/* VIGIL_EXEC_RECENTLY_WRITTEN: the process that last wrote the executable, and when */
	__u64 written_ktime;
	__u32 writer_pid;
	__u32 writer_uid;
	char writer_comm[VIGIL_COMM_LEN];
	/* when a stdio fd is a socket (VIGIL_EXEC_*_SOCKET): its peer */
	__u16 stdio_family;
	__u16 stdio_port;
	__u8 stdio_addr[16];
	/* string tail, in this order */
	__u16 exe_len;      /* absolute path of the file that runs (for a script: the interpreter) */
	__u16 filename_len; /* the path given to execve (AT_EXECFN) */
	__u16 interp_len;   /* for scripts: the interpreter named by #! */
	__u16 argv_len;     /* NUL-separated arguments */
	__u16 env_len;      /* NUL-separated environment */
	__u16 cwd_len;
	__u16 prev_exe_len; /* what the process ran before this exec */
	__u16 verdict;      /* enum vigil_verdict: what an enforcement policy did to this exec */
	__u16 policy;       /* the policy's slot + 1 (0: none matched) */
	__u16 pad;
};
_Static_assert(sizeof(struct vigil_exec) == 232, "vigil_exec layout");

struct vigil_fork {
	struct vigil_hdr hdr; /* the parent */
	__u32 child_pid;
	__u32 child_ppid;     /* real parent of the child (differs from hdr.pid with CLONE_PARENT) */
	__u64 child_start_ktime;
};
_Static_assert(sizeof(struct vigil_fork) == 72, "vigil_fork layout");

struct vigil_exit {
	struct vigil_hdr hdr;
	__u32 exit_code;  /* wait(2) status: (code << 8) | signal */
	__u32 pad;
	__u64 start_ktime;
};
_Static_assert(sizeof(struct vigil_exit) == 72, "vigil_exit layout");

struct vigil_cwd {
	struct vigil_hdr hdr;
	__u16 syscall;
	__u16 flags;      /* VIGIL_FILE_PATH_TRUNC */
	__u16 cwd_len;
	__u16 pad;
};
_Static_assert(sizeof(struct vigil_cwd) == 64, "vigil_cwd layout");

/*
 * A cgroup of the v2 hierarchy (the one bpf_get_current_cgroup_id() and every record's
 * hdr.cgroup_id name) was made or removed. Containers get one at start: this record names
 * the id before the container's first process runs, however short its life.
 */
enum vigil_cgroup_op {
	VIGIL_CGROUP_MKDIR = 1,
	VIGIL_CGROUP_RMDIR = 2,
};

struct vigil_cgroup {
	struct vigil_hdr hdr;
	__u64 id;         /* the cgroup's id (its kernfs node id, the directory's inode number) */
	__u32 op;         /* enum vigil_cgroup_op */
	__u32 level;      /* depth below the root */
	__u16 path_len;   /* tail: the path below the hierarchy's root, e.g. /docker/<id> */
	__u16 pad;
	__u32 pad2;
};
_Static_assert(sizeof(struct vigil_cgroup) == 80, "vigil_cgroup layout");

enum vigil_file_op {
	VIGIL_FILE_OPEN = 1,
	VIGIL_FILE_UNLINK = 2,
	VIGIL_FILE_RMDIR = 3,
	VIGIL_FILE_RENAME = 4,
	VIGIL_FILE_CHMOD = 5,
	VIGIL_FILE_CHOWN = 6,
	VIGIL_FILE_LINK = 7,
	VIGIL_FILE_SYMLINK = 8,
	VIGIL_FILE_TRUNCATE = 9,
	VIGIL_FILE_MKDIR = 10,
	VIGIL_FILE_MEMFD_CREATE = 11,
};

/* How the path of a file event was obtained, and its quality. */
enum vigil_file_flag {
	VIGIL_FILE_PATH_TRUNC = (1u << 0), /* path longer than VIGIL_PATH_MAX: the tail is kept */
	VIGIL_FILE_PATH_DELETED = (1u << 1), /* the file had been unlinked (open of a deleted file) */
	VIGIL_FILE_FROM_INODE = (1u << 2), /* path walked from the opened file itself: symlinks and .. resolved */
	VIGIL_FILE_JOINED = (1u << 3), /* path = directory of dirfd/cwd + the string the process passed */
	VIGIL_FILE_PATH2_TRUNC = (1u << 4),
	VIGIL_FILE_PATH2_JOINED = (1u << 5),
	VIGIL_FILE_INODE_VALID = (1u << 6), /* dev/ino/i_mode describe the file */
	VIGIL_FILE_RUNNING_EXE = (1u << 7), /* path is the executable of the acting process or an ancestor */
	VIGIL_FILE_CREATED = (1u << 9), /* the open created the file (FMODE_CREATED): O_CREAT on an existing file does not */
	VIGIL_FILE_IO_URING = (1u << 8), /* done through an io_uring (IORING_OP_OPENAT...): no syscall of that name ran */
};

struct vigil_file {
	struct vigil_hdr hdr;
	__u16 op;       /* enum vigil_file_op */
	__u16 syscall;  /* x86_64 syscall number */
	__s32 fd;       /* fd returned (open, memfd_create) or operated on (fchmod...), -1 when none */
	__s64 ret;      /* syscall return value: >= 0 success, -errno failure */
	__u32 flags;    /* the syscall's flags argument (O_*, AT_*, RENAME_*, MFD_*) */
	__u32 mode;     /* mode argument (open with O_CREAT, chmod, mkdir) */
	__u32 uid;      /* chown target (-1: unchanged) */
	__u32 gid;
	__u32 vflags;   /* VIGIL_FILE_* */
	__u32 dev;
	__u64 ino;
	__u64 aux;      /* truncate: the new length */
	__u32 i_mode;
	/* string tail, in this order */
	__u16 path_len;  /* the file acted on (rename/link: the source; symlink: the link created) */
	__u16 path2_len; /* rename/link: the destination; symlink: the target string as given */
};
_Static_assert(sizeof(struct vigil_file) == 120, "vigil_file layout");

/*
 * A library function watched by a uprobe returned (bpf/uprobe.bpf.c): what was typed at
 * an interactive bash (readline, which also sees builtins such as `echo > /dev/tcp/...`
 * that never exec), or a PAM result with its user and service.
 */
enum vigil_user_fn {
	VIGIL_USER_READLINE = 1, /* str: the line */
	VIGIL_USER_PAM_AUTH = 2, /* pam_authenticate; ret: PAM_SUCCESS (0) or a PAM error; str: user, str2: service */
	VIGIL_USER_PAM_ACCT = 3, /* pam_acct_mgmt; the same */
};

enum vigil_user_flag {
	VIGIL_USER_STR_TRUNC = (1u << 0), /* the line or user was longer than VIGIL_USER_STR_MAX */
};

struct vigil_user_call {
	struct vigil_hdr hdr;
	__u16 func;      /* enum vigil_user_fn */
	__u16 flags;     /* VIGIL_USER_* */
	__s32 ret;       /* the function's return value (readline: 0) */
	/* string tail, in this order */
	__u16 str_len;
	__u16 str2_len;
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_user_call) == 72, "vigil_user_call layout");

/* Network events. Addresses are 16 bytes: IPv4 in the first 4 (network order), IPv6 in all 16. */
enum vigil_net_op {
	VIGIL_NET_SOCKET = 1,      /* socket() */
	VIGIL_NET_BIND = 2,
	VIGIL_NET_LISTEN = 3,
	VIGIL_NET_CONNECT = 4,     /* connect() returned (0, -EINPROGRESS, or an error) */
	VIGIL_NET_ACCEPT = 5,      /* accept()/accept4() returned a connection */
	VIGIL_NET_SEND = 6,        /* first datagram from this process to this peer (UDP sendto/sendmsg) */
	VIGIL_NET_FLOW_START = 7,  /* a TCP connection is established (outgoing), or accepted (incoming) */
	VIGIL_NET_FLOW_END = 8,    /* a tracked flow is closed: final byte and packet counts */
	VIGIL_NET_FLOW_UPDATE = 9, /* a long flow's counts so far */
	VIGIL_NET_DUP_STDIO = 10,  /* a socket was duplicated onto fd 0, 1 or 2 */
};

enum vigil_net_dir {
	VIGIL_NET_DIR_OUT = 1,
	VIGIL_NET_DIR_IN = 2,
	VIGIL_NET_DIR_LISTEN = 3,
};

enum vigil_net_flag {
	VIGIL_NET_NAMES_TRUNC = (1u << 0), /* more DNS names than fit */
	VIGIL_NET_CLOSED_BY_REMOTE = (1u << 1),
	VIGIL_NET_NEVER_ESTABLISHED = (1u << 2), /* FLOW_END of a connection attempt that failed */
	VIGIL_NET_ABSTRACT = (1u << 3), /* unix socket in the abstract namespace: path starts with @ */
	VIGIL_NET_IDLE_END = (1u << 4), /* FLOW_END because a datagram flow was idle (no close hook for UDP) */
	VIGIL_NET_NAMES_OTHER = (1u << 5), /* the names were resolved by another process (not this one, its cgroup, or a resolver) */
	VIGIL_NET_IO_URING = (1u << 6), /* done through an io_uring (IORING_OP_CONNECT): no syscall of that name ran */
};

struct vigil_net {
	struct vigil_hdr hdr; /* for flow events: the process that opened the flow */
	__u16 op;             /* enum vigil_net_op */
	__u16 syscall;
	__s32 fd;
	__s64 ret;
	__u16 family;         /* AF_INET, AF_INET6, AF_UNIX, AF_PACKET, ... */
	__u16 sock_type;      /* SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, ... */
	__u16 protocol;       /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 direction;      /* VIGIL_NET_DIR_* */
	__u16 lport;          /* host byte order */
	__u16 rport;
	__u32 flags;          /* VIGIL_NET_* */
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 cookie;         /* socket cookie: identifies the flow across events */
	__u64 start_ktime;    /* flow events: when the flow started */
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 pkts_out;
	__u64 pkts_in;
	__u32 closer_pid;     /* FLOW_END: the process that closed it (0: the peer or the kernel) */
	__u32 newfd;          /* DUP_STDIO: the stdio fd the socket now occupies */
	/* string tail, in this order */
	__u16 path_len;       /* unix socket path */
	__u16 names_len;      /* DNS names the remote address was resolved from, NUL-separated */
	__u16 verdict;        /* enum vigil_verdict: what an enforcement policy did to this call */
	__u16 policy;         /* the policy's slot + 1 (0: none matched) */
};
_Static_assert(sizeof(struct vigil_net) == 184, "vigil_net layout");

enum vigil_dns_flag {
	VIGIL_DNS_RESPONSE = (1u << 0),
	VIGIL_DNS_MALFORMED = (1u << 1), /* parsing stopped early; see the reason bits below */
	VIGIL_DNS_TRUNCATED = (1u << 2), /* the message ends before what its header announces */
	VIGIL_DNS_POINTER_LOOP = (1u << 3), /* compression pointers did not end within the hop bound */
	VIGIL_DNS_BAD_LABEL = (1u << 4), /* a label longer than 63 bytes or a reserved label type */
	VIGIL_DNS_NAME_TOO_LONG = (1u << 5), /* a name longer than 255 bytes */
	VIGIL_DNS_MORE_ANSWERS = (1u << 6), /* more answers than were parsed */
};

struct vigil_dns_addr {
	__u16 family;      /* AF_INET or AF_INET6 */
	__u16 pad;
	__u32 ttl;
	__u8 addr[16];
};

struct vigil_dns {
	struct vigil_hdr hdr;  /* the process owning the socket, when known (pid 0 otherwise) */
	__u16 id;
	__u16 dns_flags;       /* the header's flag word (QR, opcode, AA, TC, RD, RA, rcode) */
	__u16 qtype;
	__u16 rcode;
	__u16 qdcount;
	__u16 ancount;
	__u16 family;          /* of the server address */
	__u16 server_port;
	__u8 server[16];
	__u16 client_port;
	__u16 naddrs;          /* entries used in addrs */
	__u32 vflags;          /* VIGIL_DNS_* */
	__u64 cookie;          /* socket cookie of the client socket */
	struct vigil_dns_addr addrs[VIGIL_DNS_MAX_ADDRS];
	/* string tail, in this order */
	__u16 qname_len;       /* the name asked, dotted */
	__u16 cnames_len;      /* CNAME targets in answer order, NUL-separated */
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_dns) == 304, "vigil_dns layout");

/* A rare, security-sensitive syscall: the arguments as given, the target process when
 * the call names one (ptrace, kill, process_vm_*), and up to two strings. */
enum vigil_sys_flag {
	VIGIL_SYS_TARGET_KNOWN = (1u << 0), /* target_* describe a process in the kernel table */
	VIGIL_SYS_TARGET_AGENT = (1u << 1), /* the target is the agent itself */
	VIGIL_SYS_STR_TRUNC = (1u << 2),
};

struct vigil_syscall {
	struct vigil_hdr hdr;
	__u16 syscall;
	__u16 flags;        /* VIGIL_SYS_* */
	__u32 target_pid;
	__s64 ret;
	__u64 args[6];
	char target_comm[VIGIL_COMM_LEN];
	/* string tail, in this order (meaning depends on the syscall, see docs/events.md) */
	__u16 str_len;
	__u16 str2_len;
	__u32 pad;
};
_Static_assert(sizeof(struct vigil_syscall) == 144, "vigil_syscall layout");

enum vigil_detector {
	VIGIL_DETECT_PORT_SCAN = 1,       /* failed connects to many distinct (address, port) */
	VIGIL_DETECT_FILE_STORM = 2,      /* renames of many distinct files (ransomware-like) */
	VIGIL_DETECT_DISCOVERY = 3,       /* many distinct discovery commands run under one parent */
	VIGIL_DETECT_FINGERPRINT = 4,     /* many distinct host-fingerprint files read */
	VIGIL_DETECT_SYN_SCAN = 5,        /* XDP: TCP SYNs from one source to many distinct ports (no process: pid 0) */
	VIGIL_DETECT_COPY_DELETE = 6,     /* files unlinked after the same process wrote <name>.<ext> beside each (ransomware-like) */
};

/* XDP counters (xdp_stats, per CPU). */
enum vigil_xdp_stat {
	VIGIL_XDP_PACKETS = 0,       /* packets the XDP program saw */
	VIGIL_XDP_DROP_DENY = 1,     /* dropped: the source is in a deny list */
	VIGIL_XDP_DROP_SCANNER = 2,  /* dropped: the source was caught scanning (enforce mode) */
	VIGIL_XDP_SYN = 3,           /* TCP SYNs counted by the scan detector */
	VIGIL_XDP_SCANS = 4,         /* scans detected */
	VIGIL_XDP_LOST = 5,          /* detection records the ring buffer had no room for */
	VIGIL_XDP_STAT_MAX = 8,
};

struct vigil_detection {
	struct vigil_hdr hdr;   /* the process the burst is attributed to */
	__u16 detector;         /* enum vigil_detector */
	__u16 pad;
	__u32 count;            /* distinct items in the window when the threshold was crossed */
	__u32 threshold;
	__u32 pad2;
	__u64 window_start_ktime;
	__u64 window_ns;
	/* string tail */
	__u16 sample_len;       /* the item that crossed the threshold ("addr:port", a path, a command) */
	__u16 pad3;
	__u32 pad4;
};
_Static_assert(sizeof(struct vigil_detection) == 96, "vigil_detection layout");

/*
 * Enforcement (bpf/include/policy.h): what a policy did, carried by the record of the
 * event it acted on (exec, connect).
 */
enum vigil_verdict {
	VIGIL_VERDICT_NONE = 0,
	VIGIL_VERDICT_KILLED = 1,     /* SIGKILL queued with bpf_send_signal: the process dies before user code runs */
	VIGIL_VERDICT_DENIED = 2,     /* the call failed with EPERM */
	VIGIL_VERDICT_WOULD_KILL = 3, /* audit: a policy matched and would have killed */
	VIGIL_VERDICT_WOULD_DENY = 4, /* audit: a policy matched and would have denied */
	VIGIL_VERDICT_EXEMPT = 5,     /* matched, but never acted on: pid 1, the agent, a kernel thread, the allowlist */
	VIGIL_VERDICT_FAILED = 6,     /* the action failed (bpf_send_signal returned an error) */
};

/* What a policy predicate tests: the dimension byte of the policy map keys. */
enum vigil_policy_dim {
	VIGIL_POLICY_DIM_EXE = 0,    /* executable path: exact or prefix (policy_exes LPM) */
	VIGIL_POLICY_DIM_NAME = 1,   /* comm */
	VIGIL_POLICY_DIM_PNAME = 2,  /* parent's comm */
	VIGIL_POLICY_DIM_UID = 3,
	VIGIL_POLICY_DIM_NET = 4,    /* remote address: CIDR (policy_nets LPM) */
	VIGIL_POLICY_DIM_PORT = 5,   /* remote port */
	VIGIL_POLICY_DIM_DNS = 6,    /* a name the remote address was resolved from (exact) */
	VIGIL_POLICY_DIMS = 7,
	VIGIL_POLICY_KEY_DNS_SUFFIX = 7, /* key only: a name ending in ".suffix" (counts as DIM_DNS) */
};

enum vigil_policy_limits {
	VIGIL_POLICY_MAX = 64,        /* policies in force at once (one bit each) */
	VIGIL_POLICY_PATH_MAX = 255,  /* bytes of an executable path key, its NUL included (LPM data <= 256 bytes) */
	/* policy flag bit beyond the vigil_exec_flag bits: the process is in a pid namespace of its own */
	VIGIL_POLICY_FLAG_CONTAINER = 31,
	/* ... and: stdin, stdout or stderr is a network socket (any of the three exec flags) */
	VIGIL_POLICY_FLAG_STDIO_SOCKET = 30,
};

/*
 * The kernel filter the agent writes (crates/vigil-sensor/src/filter.rs compiles it
 * from the rules; bpf/include/filter.h applies it). One entry of the filter_cfg map.
 */
struct vigil_filter_cfg {
	__u32 file_op_mask;   /* bit (1 << vigil_file_op): the op is reported at all */
	__u32 file_path_mask; /* bit (1 << vigil_file_op): the op's path must be of interest */
	__u64 suffix_lens;    /* bit (n - 1): some suffix pattern is n bytes long (n <= 64) */
	__u32 net_emit_mask;  /* bit (1 << vigil_net_op), and VIGIL_EMIT_DNS_*: reported */
	__u32 generation;     /* bumped on every change: older dedup entries no longer count */
	__u64 dedup_window_ns; /* 0: no deduplication */
	__u32 file_dedup_mask; /* bit (1 << vigil_file_op): the op may be deduplicated */
	__u32 net_dedup_mask;  /* bit (1 << vigil_net_op): the record may be deduplicated */
	__u64 suffix_first[4]; /* bit b: some suffix pattern starts with byte b */
	__u32 file_fail_mask;  /* bit (1 << vigil_file_op): failed calls of the op are reported */
	__u32 file_fail_path_mask; /* ... only when their path is of interest to a rule that could match a failure */
	__u64 suffix_bits;     /* bit b of the path masks (an op, its sequence or failure bit): b has suffix patterns */
};

/* Bits of net_emit_mask beyond the vigil_net_op numbers. */
enum vigil_emit {
	VIGIL_EMIT_DNS_QUERY = 14,
	VIGIL_EMIT_DNS_RESPONSE = 15,
};

/*
 * Every record and every enum above, named once so that all of them are in the BTF of
 * the compiled object (a type the programs only cast to would not be). common.h
 * defines one (never used) instance; the layout test reads the types from BTF.
 */
struct vigil_abi {
	struct vigil_hdr hdr;
	struct vigil_exec exec;
	struct vigil_fork fork;
	struct vigil_exit exit;
	struct vigil_cwd cwd;
	struct vigil_file file;
	struct vigil_net net;
	struct vigil_dns dns;
	struct vigil_syscall syscall;
	struct vigil_detection detection;
	struct vigil_cgroup cgroup;
	struct vigil_user_call user_call;
	struct vigil_stats stats;
	struct vigil_filter_cfg filter_cfg;
	enum vigil_limits limits;
	enum vigil_kind kind;
	enum vigil_hook hook;
	enum vigil_stat stat;
	enum vigil_counter counter;
	enum vigil_exec_flag exec_flag;
	enum vigil_file_op file_op;
	enum vigil_file_flag file_flag;
	enum vigil_net_op net_op;
	enum vigil_net_dir net_dir;
	enum vigil_net_flag net_flag;
	enum vigil_dns_flag dns_flag;
	enum vigil_sys_flag sys_flag;
	enum vigil_cgroup_op cgroup_op;
	enum vigil_user_fn user_fn;
	enum vigil_user_flag user_flag;
	enum vigil_detector detector;
	enum vigil_emit emit;
	enum vigil_verdict verdict;
	enum vigil_policy_dim policy_dim;
	enum vigil_policy_limits policy_limits;
	enum vigil_xdp_stat xdp_stat;
};

#endif /* VIGIL_ABI_H */

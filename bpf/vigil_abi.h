/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * The records the kernel side sends to userspace.
 *
 * This file is the contract between the bpf/ programs and crates/vigil-event/src/abi.rs.
 * Every size and offset that matters is pinned with _Static_assert here and with
 * const assertions on the Rust side, so a change on one side that is not mirrored on
 * the other fails to compile instead of decoding garbage.
 *
 * Layout of every record:  [fixed struct][string tail]
 * The fixed struct ends with one u16 length per string field; the tail holds the
 * strings back to back, in the order of those length fields, without terminators.
 * hdr.size is the length of the whole record; the decoder checks that
 * sizeof(fixed) + sum(lengths) == hdr.size.
 */
#ifndef VIGIL_ABI_H
#define VIGIL_ABI_H

#define VIGIL_ABI_VERSION 1

#define VIGIL_COMM_LEN 16
#define VIGIL_PATH_MAX 4096   /* longest path or string we copy; longer ones are truncated and flagged */
#define VIGIL_ARGV_MAX 4096   /* bytes of argv kept per exec (NUL-separated) */
#define VIGIL_ENV_MAX 2048    /* bytes of the environment kept per exec (NUL-separated) */
#define VIGIL_RECORD_MAX 32768

/* Event kinds. Numbers are part of the on-disk record format: never reuse one. */
enum vigil_kind {
	VIGIL_KIND_SNAPSHOT = 1, /* a process that existed at start; built by userspace from /proc, exec layout */
	VIGIL_KIND_FORK = 2,
	VIGIL_KIND_EXEC = 3,
	VIGIL_KIND_EXIT = 4,
	VIGIL_KIND_FILE = 5,
	VIGIL_KIND_CWD = 6,
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
#define VIGIL_EXEC_ARGV_TRUNC (1u << 0)
#define VIGIL_EXEC_ENV_TRUNC (1u << 1)
#define VIGIL_EXEC_EXE_TRUNC (1u << 2)
#define VIGIL_EXEC_EXE_DELETED (1u << 3)  /* the executable had no link left when it ran */
#define VIGIL_EXEC_EXE_MEMFD (1u << 4)    /* the executable is a memfd */
#define VIGIL_EXEC_EXE_UPPER (1u << 5)    /* the executable lives in an overlayfs upper layer (written in the container) */
#define VIGIL_EXEC_SCRIPT (1u << 6)       /* run through an interpreter (#! or binfmt_misc); interp holds it */
#define VIGIL_EXEC_BY_FD (1u << 7)        /* execveat(fd, "", AT_EMPTY_PATH) or fexecve: filename is /dev/fd/N */
#define VIGIL_EXEC_PREV_UNKNOWN (1u << 8) /* the process was not in the kernel table: prev_exe is empty */
#define VIGIL_EXEC_CWD_TRUNC (1u << 9)
#define VIGIL_EXEC_SECUREEXEC (1u << 10)  /* setuid/setgid/file-capability exec (AT_SECURE) */

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
	/* string tail, in this order */
	__u16 exe_len;      /* absolute path of the file that runs (for a script: the interpreter) */
	__u16 filename_len; /* the path given to execve (AT_EXECFN) */
	__u16 interp_len;   /* for scripts: the interpreter named by #! */
	__u16 argv_len;     /* NUL-separated arguments */
	__u16 env_len;      /* NUL-separated environment */
	__u16 cwd_len;
	__u16 prev_exe_len; /* what the process ran before this exec */
	__u16 pad;
};
_Static_assert(sizeof(struct vigil_exec) == 176, "vigil_exec layout");

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
#define VIGIL_FILE_PATH_TRUNC (1u << 0)    /* path longer than VIGIL_PATH_MAX: the tail is kept */
#define VIGIL_FILE_PATH_DELETED (1u << 1)  /* the file had been unlinked (open of a deleted file) */
#define VIGIL_FILE_FROM_INODE (1u << 2)    /* path walked from the opened file itself: symlinks and .. resolved */
#define VIGIL_FILE_JOINED (1u << 3)        /* path = directory of dirfd/cwd + the string the process passed */
#define VIGIL_FILE_PATH2_TRUNC (1u << 4)
#define VIGIL_FILE_PATH2_JOINED (1u << 5)
#define VIGIL_FILE_INODE_VALID (1u << 6)   /* dev/ino/i_mode describe the file */

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

#endif /* VIGIL_ABI_H */

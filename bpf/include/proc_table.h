/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * The in-kernel process table: what the kernel side knows about every live process,
 * keyed by tgid. Detectors read and update it at the hook; userspace keeps its own,
 * richer ProcessTree from the events.
 *
 * LRU so that a host with more processes than max_entries evicts the least recently
 * active ones instead of failing inserts; an evicted process is re-learned at its next
 * exec, and events from it in between count VIGIL_CTR_PROC_MISS.
 */
#ifndef VIGIL_PROC_TABLE_H
#define VIGIL_PROC_TABLE_H

#include "common.h"
#include "task.h"

#define PROC_PATH_MAX 256 /* exe and cwd kept here are prefixes; events carry full paths */

/* proc_info.flags: fd 0/1/2 is an IPv4/IPv6 socket (bit = PROC_STDIN_SOCKET << fd) */
#define PROC_STDIN_SOCKET (1u << 0)
#define PROC_STDOUT_SOCKET (1u << 1)
#define PROC_STDERR_SOCKET (1u << 2)
#define PROC_STDIO_SOCKETS (PROC_STDIN_SOCKET | PROC_STDOUT_SOCKET | PROC_STDERR_SOCKET)

struct proc_info {
	__u32 pid;
	__u32 ppid;
	__u64 start_ktime;
	__u32 uid;
	__u32 gid;
	__u32 euid;
	__u32 egid;
	__u32 loginuid;
	__u32 sid;
	__u64 cap_effective;
	__u64 cap_permitted;
	__u64 cgroup_id;
	__u32 mnt_ns;
	__u32 pid_ns;
	__u32 net_ns;
	__u32 tty;
	__u64 exe_ino;
	__u32 exe_dev;
	__u32 flags;
	__u64 exe_hash; /* FNV-1a of the full exe path (detect.h), for "is this a running executable" */
	__u64 exec_ktime; /* when the current program was executed (0: running before the agent) */
	char comm[VIGIL_COMM_LEN];
	__u16 exe_len;
	__u16 cwd_len;
	__u16 stdio_family; /* the peer of the socket on stdio */
	__u16 stdio_port;
	__u8 stdio_addr[16];
	char exe[PROC_PATH_MAX];
	char cwd[PROC_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384); /* the agent sizes it with --proc-table-size */
	__type(key, __u32);
	__type(value, struct proc_info);
} proc_table SEC(".maps") __weak;

/* A zeroed proc_info to start new entries from (too large for the BPF stack). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct proc_info);
} proc_scratch SEC(".maps") __weak;

static __always_inline struct proc_info *proc_lookup(__u32 tgid)
{
	return bpf_map_lookup_elem(&proc_table, &tgid);
}

/* Identity and credentials of t, read fresh (exec, seeding). */
static __always_inline void proc_fill_identity(struct proc_info *p, struct task_struct *t)
{
	const struct cred *cred = BPF_CORE_READ(t, cred);
	__u32 vpid;

	p->pid = BPF_CORE_READ(t, tgid);
	p->ppid = task_ppid(t);
	p->start_ktime = task_start(t);
	p->uid = BPF_CORE_READ(cred, uid.val);
	p->gid = BPF_CORE_READ(cred, gid.val);
	p->euid = BPF_CORE_READ(cred, euid.val);
	p->egid = BPF_CORE_READ(cred, egid.val);
	p->loginuid = BPF_CORE_READ(t, loginuid.val);
	p->sid = task_sid(t);
	p->cap_effective = read_caps(&cred->cap_effective);
	p->cap_permitted = read_caps(&cred->cap_permitted);
	p->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	p->mnt_ns = task_mntns(t);
	task_pidns(t, &p->pid_ns, &vpid);
	p->net_ns = task_netns(t);
	p->tty = task_tty(t);
	BPF_CORE_READ_STR_INTO(&p->comm, t, comm);
}

/* Keep the last PROC_PATH_MAX - 1 bytes of a kernel string of len bytes (the tail names the file). */
static __always_inline __u16 proc_copy_path(char *dst, const char *src, __u32 len)
{
	if (len == 0) {
		dst[0] = 0;
		return 0;
	}
	if (len > PROC_PATH_MAX - 1) {
		src += len - (PROC_PATH_MAX - 1);
		len = PROC_PATH_MAX - 1;
	}
	bpf_probe_read_kernel(dst, len & (PROC_PATH_MAX - 1), src);
	dst[len & (PROC_PATH_MAX - 1)] = 0;
	return len;
}

#endif /* VIGIL_PROC_TABLE_H */

/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/* Reading facts about a task: identity, credentials, namespaces, terminal. */
#ifndef VIGIL_TASK_H
#define VIGIL_TASK_H

#include "common.h"

#define PIDTYPE_SID_IDX 3 /* enum pid_type: PID, TGID, PGID, SID */
#define MAX_PID_NS_LEVEL 32

static __always_inline void fill_hdr(struct vigil_hdr *h, __u16 kind)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();

	h->kind = kind;
	h->abi = VIGIL_ABI_VERSION;
	h->size = 0;
	h->ktime = bpf_ktime_get_boot_ns();
	h->pid = id >> 32;
	h->tid = (__u32)id;
	h->uid = (__u32)ug;
	h->gid = ug >> 32;
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* The same header, for a task that is not current (iterator, fork child). */
static __always_inline void fill_hdr_task(struct vigil_hdr *h, __u16 kind, struct task_struct *t)
{
	h->kind = kind;
	h->abi = VIGIL_ABI_VERSION;
	h->size = 0;
	h->ktime = bpf_ktime_get_boot_ns();
	h->pid = BPF_CORE_READ(t, tgid);
	h->tid = BPF_CORE_READ(t, pid);
	h->uid = BPF_CORE_READ(t, cred, uid.val);
	h->gid = BPF_CORE_READ(t, cred, gid.val);
	h->cgroup_id = BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	BPF_CORE_READ_STR_INTO(&h->comm, t, comm);
}

static __always_inline __u32 task_ppid(struct task_struct *t)
{
	return BPF_CORE_READ(t, real_parent, tgid);
}

static __always_inline __u32 task_sid(struct task_struct *t)
{
	struct pid *p = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID_IDX]);
	return p ? BPF_CORE_READ(p, numbers[0].nr) : 0;
}

/* Controlling terminal as (major << 20 | minor), the encoding of /proc/PID/stat's tty_nr in new_encode_dev form. */
static __always_inline __u32 task_tty(struct task_struct *t)
{
	struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
	if (!tty)
		return 0;
	__u32 major = BPF_CORE_READ(tty, driver, major);
	__u32 minor = BPF_CORE_READ(tty, driver, minor_start) + BPF_CORE_READ(tty, index);
	return (major << 20) | (minor & 0xfffff);
}

/* kernel_cap_t is a u64 since 6.3 and two u32 before: reading 8 bytes gives the same value on x86. */
static __always_inline __u64 read_caps(const kernel_cap_t *caps)
{
	__u64 v = 0;
	bpf_core_read(&v, sizeof(v), caps);
	return v;
}

/* pid namespace inode and the pid as seen inside it. */
static __always_inline void task_pidns(struct task_struct *t, __u32 *ns, __u32 *vpid)
{
	struct pid *p = BPF_CORE_READ(t, group_leader, thread_pid);
	__u32 level = BPF_CORE_READ(p, level);
	struct upid up = {};
	if (level >= MAX_PID_NS_LEVEL)
		level = 0;
	bpf_core_read(&up, sizeof(up), &p->numbers[level]);
	*vpid = up.nr;
	*ns = up.ns ? BPF_CORE_READ(up.ns, ns.inum) : 0;
}

static __always_inline __u32 task_mntns(struct task_struct *t)
{
	return BPF_CORE_READ(t, nsproxy, mnt_ns, ns.inum);
}

static __always_inline __u32 task_netns(struct task_struct *t)
{
	return BPF_CORE_READ(t, nsproxy, net_ns, ns.inum);
}

static __always_inline __u64 task_start(struct task_struct *t)
{
	return BPF_CORE_READ(t, group_leader, start_boottime);
}

#endif /* VIGIL_TASK_H */

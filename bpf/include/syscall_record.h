/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Building a VIGIL_KIND_SYSCALL record (struct vigil_syscall): the raw arguments, up to
 * two strings, and the target process when the call names one. Shared by the handlers
 * whose facts fit that record (sensitive.bpf.c, mount.bpf.c).
 */
#ifndef VIGIL_SYSCALL_RECORD_H
#define VIGIL_SYSCALL_RECORD_H

#include "common.h"
#include "path.h"
#include "proc_table.h"
#include "syscalls.h"

#define SYS_STR_MAX 256

/* Copies a user string into the record; returns its length (without NUL). */
static __always_inline __u16 put_user_str(struct record_buf *r, __u32 off, const char *s, __u16 *flags)
{
	if (!s || off >= VIGIL_RECORD_MAX)
		return 0;
	long n = bpf_probe_read_user_str(&r->data[off & (VIGIL_RECORD_MAX - 1)], SYS_STR_MAX, s);
	if (n == SYS_STR_MAX)
		*flags |= VIGIL_SYS_STR_TRUNC;
	return n > 1 ? n - 1 : 0;
}

/* The absolute path of (dirfd, user path), or of the file behind fd when path is NULL. */
static __always_inline __u16 put_path_arg(struct record_buf *r, __u32 off, int dirfd, const char *user)
{
	struct path_buf *pb = path_buf_get();
	struct path_ref ref;
	if (user) {
		ref = path_at(dirfd, user);
	} else {
		struct file *f = fd_file(dirfd);
		if (!f)
			return 0;
		ref = path_of_file(f);
	}
	return put_path(r, off, pb, ref);
}

/* Starts a syscall record in the scratch buffer: header, syscall, result, the six raw
 * arguments. Returns NULL (nothing to send) when there is no scratch. */
static __always_inline struct vigil_syscall *sys_record_begin(struct record_buf *r, struct pt_regs *regs, long ret)
{
	if (!r)
		return NULL;
	struct vigil_syscall *e = (void *)r->data;
	fill_hdr(&e->hdr, VIGIL_KIND_SYSCALL);
	e->syscall = SC_NR(regs);
	e->flags = 0;
	e->target_pid = 0;
	e->ret = ret;
	e->args[0] = SC_ARG0(regs);
	e->args[1] = SC_ARG1(regs);
	e->args[2] = SC_ARG2(regs);
	e->args[3] = SC_ARG3(regs);
	e->args[4] = SC_ARG4(regs);
	e->args[5] = regs->r9;
	__builtin_memset(e->target_comm, 0, VIGIL_COMM_LEN);
	e->pad = 0;
	return e;
}

/* Names the process the call acts on (0: none), with its comm when the table knows it. */
static __always_inline void sys_record_target(struct vigil_syscall *e, __u32 target)
{
	if (!target)
		return;
	e->target_pid = target;
	struct proc_info *tp = proc_lookup(target);
	if (tp) {
		e->flags |= VIGIL_SYS_TARGET_KNOWN;
		__builtin_memcpy(e->target_comm, tp->comm, VIGIL_COMM_LEN);
	}
	if (target == cfg_agent_tgid)
		e->flags |= VIGIL_SYS_TARGET_AGENT;
}

/* Sends the record with its two strings (already written after the struct). */
static __always_inline void sys_record_emit(struct record_buf *r, struct vigil_syscall *e, __u16 flags, __u16 s1,
					    __u16 s2, __u32 hook)
{
	e->flags |= flags;
	e->str_len = s1;
	e->str2_len = s2;
	emit_record(&rb_events, r, sizeof(*e) + s1 + s2, hook);
}

#endif /* VIGIL_SYSCALL_RECORD_H */

// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Process lifecycle: fork, exec, exit, and seeding the process table with the
 * processes that were running before the agent started.
 *
 * Hooks are BTF tracepoints (tp_btf): no tracefs needed, typed arguments, and the
 * cheapest way in. Lifecycle records go to rb_proc so a file storm cannot crowd them out.
 */
#include "common.h"
#include "task.h"
#include "path.h"
#include "proc_table.h"
#include "net.h"
#include "sock.h"
#include "detect.h"
#include "policy.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define OVERLAYFS_SUPER_MAGIC 0x794c7630

static __always_inline __u32 exe_flags(struct file *file)
{
	__u32 flags = 0;
	struct dentry *d = BPF_CORE_READ(file, f_path.dentry);
	char name[8] = {};

	if (dentry_unlinked(d))
		flags |= VIGIL_EXEC_EXE_DELETED;
	bpf_probe_read_kernel(name, 6, BPF_CORE_READ(d, d_name.name));
	if (name[0] == 'm' && name[1] == 'e' && name[2] == 'm' && name[3] == 'f' && name[4] == 'd' && name[5] == ':')
		flags |= VIGIL_EXEC_EXE_MEMFD;
	if (bpf_core_type_exists(struct ovl_inode) &&
	    BPF_CORE_READ(d, d_sb, s_magic) == OVERLAYFS_SUPER_MAGIC) {
		struct inode *inode = BPF_CORE_READ(d, d_inode);
		struct ovl_inode *oi = container_of(inode, struct ovl_inode, vfs_inode);
		if (BPF_CORE_READ(oi, __upperdentry))
			flags |= VIGIL_EXEC_EXE_UPPER;
	}
	return flags;
}

/* Read a NUL-separated block of user memory [start, end) into the record. */
static __always_inline __u32 put_user_block(struct record_buf *r, __u32 off, unsigned long start,
					    unsigned long end, __u32 max, __u32 *flags, __u32 trunc_flag)
{
	unsigned long len = end > start ? end - start : 0;
	if (len > max) {
		len = max;
		*flags |= trunc_flag;
	}
	__u32 n = put_user(r, off, (const void *)start, len);
	if (n != len)
		*flags |= trunc_flag; /* unreadable page: better an honest empty argv than a wrong one */
	return n;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm)
{
	if (cfg_floor)
		return 0;
	struct record_buf *r;
	struct path_buf *pb;
	struct vigil_exec *e;
	struct proc_info *p;
	struct path_ref ref;
	__u32 off, flags = 0;

	stat_hook(VIGIL_HOOK_EXEC, VIGIL_STAT_SEEN);
	r = record_buf_get();
	pb = path_buf_get();
	if (!r || !pb)
		return 0;
	e = (void *)r->data;
	fill_hdr(&e->hdr, VIGIL_KIND_EXEC);

	const struct cred *cred = BPF_CORE_READ(task, cred);
	struct file *file = BPF_CORE_READ(bprm, file);
	e->ppid = task_ppid(task);
	e->sid = task_sid(task);
	e->euid = BPF_CORE_READ(cred, euid.val);
	e->egid = BPF_CORE_READ(cred, egid.val);
	e->loginuid = BPF_CORE_READ(task, loginuid.val);
	e->tty = task_tty(task);
	e->argc = BPF_CORE_READ(bprm, argc);
	e->start_ktime = task_start(task);
	e->cap_effective = read_caps(&cred->cap_effective);
	e->cap_permitted = read_caps(&cred->cap_permitted);
	e->exe_ino = BPF_CORE_READ(file, f_inode, i_ino);
	e->exe_dev = BPF_CORE_READ(file, f_inode, i_sb, s_dev);
	e->exe_mode = BPF_CORE_READ(file, f_inode, i_mode);
	e->mnt_ns = task_mntns(task);
	task_pidns(task, &e->pid_ns, &e->vpid);
	e->net_ns = task_netns(task);
	flags |= exe_flags(file);
	if (BPF_CORE_READ_BITFIELD_PROBED(bprm, secureexec))
		flags |= VIGIL_EXEC_SECUREEXEC;

	/* A program starting with a network socket on stdin/stdout/stderr (a reverse or bind shell). */
	__builtin_memset(e->stdio_addr, 0, sizeof(e->stdio_addr));
	e->stdio_family = 0;
	e->stdio_port = 0;
	for (int fd = 2; fd >= 0; fd--) {
		struct sock_facts sf;
		if (inet_sock_on_fd(fd, &sf)) {
			flags |= VIGIL_EXEC_STDIN_SOCKET << fd;
			unmap_v4(&sf.family, sf.raddr);
			e->stdio_family = sf.family;
			e->stdio_port = sf.rport;
			__builtin_memcpy(e->stdio_addr, sf.raddr, 16);
		}
	}
	e->pad = 0;

	/* drop and execute: was this file written recently, and by whom? */
	struct writer_info *w = recent_writer(e->exe_dev, e->exe_ino);
	if (w) {
		flags |= VIGIL_EXEC_RECENTLY_WRITTEN;
		e->written_ktime = w->ktime;
		e->writer_pid = w->pid;
		e->writer_uid = w->uid;
		__builtin_memcpy(e->writer_comm, w->comm, VIGIL_COMM_LEN);
	} else {
		e->written_ktime = 0;
		e->writer_pid = 0;
		e->writer_uid = 0;
		__builtin_memset(e->writer_comm, 0, VIGIL_COMM_LEN);
	}

	/* The image this process ran before: from the table, before we overwrite it. */
	p = proc_lookup(e->hdr.pid);
	if (p) {
		__builtin_memcpy(e->prev_comm, p->comm, VIGIL_COMM_LEN);
	} else {
		__builtin_memset(e->prev_comm, 0, VIGIL_COMM_LEN);
		flags |= VIGIL_EXEC_PREV_UNKNOWN;
		stat_counter(VIGIL_CTR_PROC_MISS);
	}

	off = sizeof(*e);
	ref = path_of_file(file);
	if (ref.flags & VIGIL_FILE_PATH_TRUNC)
		flags |= VIGIL_EXEC_EXE_TRUNC;
	e->exe_len = put_path(r, off, pb, ref);
	__u32 exe_off = off;
	off += e->exe_len;

	const char *filename = BPF_CORE_READ(bprm, filename);
	const char *interp = BPF_CORE_READ(bprm, interp);
	long n = bpf_probe_read_kernel_str(&r->data[off & (VIGIL_RECORD_MAX - 1)], VIGIL_PATH_MAX, filename);
	e->filename_len = n > 1 ? n - 1 : 0;
	off += e->filename_len;
	char head[8] = {};
	bpf_probe_read_kernel(head, sizeof(head), filename);
	if (head[0] == '/' && head[1] == 'd' && head[2] == 'e' && head[3] == 'v' && head[4] == '/' &&
	    head[5] == 'f' && head[6] == 'd' && head[7] == '/')
		flags |= VIGIL_EXEC_BY_FD;

	e->interp_len = 0;
	if (interp != filename) {
		n = bpf_probe_read_kernel_str(&r->data[off & (VIGIL_RECORD_MAX - 1)], VIGIL_PATH_MAX, interp);
		e->interp_len = n > 1 ? n - 1 : 0;
		off += e->interp_len;
		flags |= VIGIL_EXEC_SCRIPT;
	}

	struct mm_struct *mm = BPF_CORE_READ(task, mm);
	e->argv_len = put_user_block(r, off, BPF_CORE_READ(mm, arg_start), BPF_CORE_READ(mm, arg_end),
				     VIGIL_ARGV_MAX, &flags, VIGIL_EXEC_ARGV_TRUNC);
	off += e->argv_len;
	e->env_len = put_user_block(r, off, BPF_CORE_READ(mm, env_start), BPF_CORE_READ(mm, env_end),
				    VIGIL_ENV_MAX, &flags, VIGIL_EXEC_ENV_TRUNC);
	off += e->env_len;

	ref = path_of_cwd();
	if (ref.flags & VIGIL_FILE_PATH_TRUNC)
		flags |= VIGIL_EXEC_CWD_TRUNC;
	e->cwd_len = put_path(r, off, pb, ref);
	__u32 cwd_off = off;
	off += e->cwd_len;

	e->prev_exe_len = 0;
	if (p && p->exe_len)
		e->prev_exe_len = put_kernel(r, off, p->exe, p->exe_len & (PROC_PATH_MAX - 1));
	off += e->prev_exe_len;
	e->flags = flags;
	/* enforcement: a matching kill policy queues SIGKILL before the image runs */
	policy_on_exec(e, task, (const char *)&r->data[exe_off & (VIGIL_RECORD_MAX - 1)], e->exe_len);

	/* Refresh the table entry: identity may have changed (setuid exec), the image did. */
	if (!p) {
		__u32 zero = 0;
		struct proc_info *tmpl = bpf_map_lookup_elem(&proc_scratch, &zero);
		if (!tmpl)
			goto out;
		__u32 tgid = e->hdr.pid;
		bpf_map_update_elem(&proc_table, &tgid, tmpl, BPF_ANY);
		p = proc_lookup(tgid);
		if (!p)
			goto out;
	}
	proc_fill_identity(p, task);
	p->exe_ino = e->exe_ino;
	p->exe_dev = e->exe_dev;
	p->exe_hash = hash_bytes(r->data, exe_off & (VIGIL_RECORD_MAX - 1), e->exe_len);
	p->exec_ktime = e->hdr.ktime;
	p->flags = (flags / VIGIL_EXEC_STDIN_SOCKET) & PROC_STDIO_SOCKETS;
	p->stdio_family = e->stdio_family;
	p->stdio_port = e->stdio_port;
	__builtin_memcpy(p->stdio_addr, e->stdio_addr, 16);
	p->exe_len = proc_copy_path(p->exe, (const char *)&r->data[exe_off & (VIGIL_RECORD_MAX - 1)], e->exe_len);
	p->cwd_len = proc_copy_path(p->cwd, (const char *)&r->data[cwd_off & (VIGIL_RECORD_MAX - 1)], e->cwd_len);
out:
	emit_record(&rb_proc, r, off, VIGIL_HOOK_EXEC);

	/* discovery bursts: distinct discovery commands run under one parent */
	if (bpf_map_lookup_elem(&discovery_cmds, e->hdr.comm)) {
		__u64 item = hash_bytes(e->hdr.comm, 0, VIGIL_COMM_LEN);
		__u64 ws = 0;
		__u32 n = burst_add(e->ppid, VIGIL_DETECT_DISCOVERY, item, &ws);
		if (n)
			emit_detection_task(r, e->ppid, VIGIL_DETECT_DISCOVERY, n, ws, e->hdr.comm, VIGIL_COMM_LEN);
	}
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(handle_fork, struct task_struct *parent, struct task_struct *child)
{
	if (cfg_floor)
		return 0;
	__u32 child_tgid = BPF_CORE_READ(child, tgid);
	__u32 parent_tgid = BPF_CORE_READ(parent, tgid);

	/* A new thread is not a new process. */
	if (BPF_CORE_READ(child, pid) != child_tgid)
		return 0;
	stat_hook(VIGIL_HOOK_FORK, VIGIL_STAT_SEEN);

	/* The child starts as a copy of its parent's entry. */
	struct proc_info *pp = proc_lookup(parent_tgid);
	if (pp) {
		bpf_map_update_elem(&proc_table, &child_tgid, pp, BPF_ANY);
	} else {
		__u32 zero = 0;
		struct proc_info *tmpl = bpf_map_lookup_elem(&proc_scratch, &zero);
		if (tmpl)
			bpf_map_update_elem(&proc_table, &child_tgid, tmpl, BPF_ANY);
		stat_counter(VIGIL_CTR_PROC_MISS);
	}
	struct proc_info *cp = proc_lookup(child_tgid);
	if (cp)
		proc_fill_identity(cp, child);

	struct vigil_fork *f = bpf_ringbuf_reserve(&rb_proc, sizeof(*f), 0);
	if (!f) {
		stat_hook(VIGIL_HOOK_FORK, VIGIL_STAT_LOST);
		return 0;
	}
	fill_hdr(&f->hdr, VIGIL_KIND_FORK);
	f->hdr.size = sizeof(*f);
	f->child_pid = child_tgid;
	f->child_ppid = task_ppid(child);
	f->child_start_ktime = BPF_CORE_READ(child, start_boottime);
	bpf_ringbuf_submit(f, wakeup_flag(&rb_proc));
	stat_hook(VIGIL_HOOK_FORK, VIGIL_STAT_SENT);
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(handle_exit, struct task_struct *task)
{
	if (cfg_floor)
		return 0;
	/* Only the last thread of a group ends the process (signal->live reached zero). */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	stat_hook(VIGIL_HOOK_EXIT, VIGIL_STAT_SEEN);
	bpf_map_delete_elem(&proc_table, &tgid);

	struct vigil_exit *x = bpf_ringbuf_reserve(&rb_proc, sizeof(*x), 0);
	if (!x) {
		stat_hook(VIGIL_HOOK_EXIT, VIGIL_STAT_LOST);
		return 0;
	}
	fill_hdr(&x->hdr, VIGIL_KIND_EXIT);
	x->hdr.size = sizeof(*x);
	x->hdr.pid = tgid;
	__u32 code = BPF_CORE_READ(task, exit_code);
	__u32 group_code = BPF_CORE_READ(task, signal, group_exit_code);
	/* a group exit (exit_group, fatal signal) records its status on the signal struct */
	x->exit_code = group_code ? group_code : code;
	x->pad = 0;
	x->start_ktime = task_start(task);
	bpf_ringbuf_submit(x, wakeup_flag(&rb_proc));
	stat_hook(VIGIL_HOOK_EXIT, VIGIL_STAT_SENT);
	return 0;
}

/*
 * Seeds proc_table with processes that existed before our hooks were attached.
 * Userspace runs it once at start (reading the iterator drives it); it prints the
 * tgid of each process it added, so the agent can report how many it learned.
 */
SEC("iter/task")
int seed_proc_table(struct bpf_iter__task *ctx)
{
	struct task_struct *task = ctx->task;
	struct seq_file *seq = ctx->meta->seq;
	__u32 zero = 0;

	if (!task)
		return 0;
	__u32 tgid = BPF_CORE_READ(task, tgid);
	if (BPF_CORE_READ(task, pid) != tgid || proc_lookup(tgid))
		return 0;
	struct proc_info *tmpl = bpf_map_lookup_elem(&proc_scratch, &zero);
	if (!tmpl)
		return 0;
	if (bpf_map_update_elem(&proc_table, &tgid, tmpl, BPF_NOEXIST))
		return 0;
	struct proc_info *p = proc_lookup(tgid);
	if (!p)
		return 0;
	proc_fill_identity(p, task);

	struct path_buf *pb = path_buf_get();
	struct file *exe = BPF_CORE_READ(task, mm, exe_file);
	if (pb && exe) {
		struct path_ref ref = path_walk_from(BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), task);
		p->exe_len = proc_copy_path(p->exe, &pb->data[ref.start & (2 * VIGIL_PATH_MAX - 1)], ref.len);
		p->exe_hash = hash_bytes(pb->data, ref.start & (2 * VIGIL_PATH_MAX - 1), ref.len);
		p->exe_ino = BPF_CORE_READ(exe, f_inode, i_ino);
		p->exe_dev = BPF_CORE_READ(exe, f_inode, i_sb, s_dev);
	}
	if (pb && BPF_CORE_READ(task, fs)) {
		struct path_ref ref = path_walk_from(BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt), task);
		p->cwd_len = proc_copy_path(p->cwd, &pb->data[ref.start & (2 * VIGIL_PATH_MAX - 1)], ref.len);
	}
	BPF_SEQ_PRINTF(seq, "%u\n", tgid);
	return 0;
}

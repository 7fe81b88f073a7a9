// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * File events: open, unlink, rename, chmod, chown, link, symlink, truncate, mkdir,
 * memfd_create, and cwd changes. Each handler is a tail call of sys_exit_dispatch
 * (include/syscalls.h); it decodes its syscall's arguments into a file_req, and
 * file_emit() resolves the paths, applies the interest filter and sends the record.
 */
#include "common.h"
#include "task.h"
#include "path.h"
#include "proc_table.h"
#include "syscalls.h"
#include "detect.h"
#include "filter.h"

#define O_CREAT_WRONLY_TRUNC 01101 /* what creat(2) means */
#define AT_REMOVEDIR 0x200
#define O_ACCMODE_VAL 3
#define O_CREAT_VAL 0100
#define O_TRUNC_VAL 01000
#define S_IFREG_VAL 0100000
#define AT_SYMLINK_NOFOLLOW 0x100
#define FMODE_CREATED_VAL (1u << 20) /* include/linux/fs.h, since 4.19 */

struct file_req {
	__u32 hook;
	__u16 op;
	__u16 nr;
	__s64 ret;
	__u32 flags;
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u64 aux;
	__s32 fd;          /* path 1 comes from this fd's struct file when from_fd */
	__s32 dirfd;       /* otherwise from (dirfd, name) */
	const char *name;
	__s32 dirfd2;      /* path 2 from (dirfd2, name2), or the raw user string raw2 */
	__u32 vflags;      /* VIGIL_FILE_* known before the paths: VIGIL_FILE_IO_URING */
	const char *name2;
	const char *raw2;
	bool from_fd;
};

/*
 * Could a rule match this event's paths? A PATH_* verdict (filter.h); joined paths
 * userspace will fold are kept. A global function: the verifier checks it once, not
 * once per handler and path. The record is this CPU's scratch record, which file_emit
 * is filling. bit: the op, OPEN_CREATED_BIT for an open that created its file, or the
 * op + FAIL_SHIFT for a failed call.
 */
__noinline int file_paths_verdict(__u32 path_off, __u32 path2_off, __u32 lens, __u32 bit, __u32 vflags)
{
	__u32 path_len = lens & 0xffff, path2_len = lens >> 16; /* five arguments at most */
	struct record_buf *r = record_buf_get();
	if (!r)
		return PATH_WANTED_NO_DEDUP;
	if (((vflags & VIGIL_FILE_JOINED) && path_unclean(r, path_off, path_len)) ||
	    (path2_len && path_unclean(r, path2_off, path2_len)))
		return PATH_WANTED_NO_DEDUP;
	__u32 v = path_interesting(r, path_off, path_len, bit);
	if (v != PATH_WANTED_NO_DEDUP && path2_len) {
		__u32 v2 = path_interesting(r, path2_off, path2_len, bit);
		if (v2 > v)
			v = v2;
	}
	return v;
}

/*
 * Copy-and-delete (detect.h fresh_copies): a file this process created, remembered by its
 * path without the last extension ("/srv/a.docx.locked" -> "/srv/a.docx"). A global
 * function, like file_paths_verdict: the verifier checks its loop once.
 */
__noinline int copy_note_created(__u32 path_off, __u32 path_len)
{
	struct record_buf *r = record_buf_get();
	if (!r || path_len < 3 || path_len > VIGIL_PATH_MAX || path_off >= VIGIL_RECORD_MAX)
		return 0;
	__u32 dot = 0;
	/* an extension of up to 31 bytes after the last '.', which must not start the name */
	for (__u32 i = 1; i < 32 && i + 1 < path_len; i++) {
		__u32 at = path_len - 1 - i;
		char c = r->data[(path_off + at) & (VIGIL_RECORD_MAX - 1)];
		if (c == '/')
			break;
		if (c == '.') {
			if (r->data[(path_off + at - 1) & (VIGIL_RECORD_MAX - 1)] != '/')
				dot = at;
			break;
		}
	}
	if (!dot)
		return 0;
	struct fresh_copy_key k = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.stem_hash = hash_bytes(r->data, path_off, dot),
	};
	__u64 now = bpf_ktime_get_boot_ns();
	bpf_map_update_elem(&fresh_copies, &k, &now, BPF_ANY);
	return 1;
}

/* Was this exact event sent recently? (filter.h) */
static __always_inline bool file_dedup_hit(struct vigil_file *e, struct file_req *q)
{
	struct file_dedup_key k = {
		.tgid = e->hdr.pid,
		.uid = e->hdr.uid,
		.nr = q->nr,
		.op = q->op,
		.flags = q->flags,
		.mode = q->mode,
		.dev = e->dev,
		.ino = e->ino,
		.ret_class = q->ret >= 0 ? 0 : q->ret,
	};
	return dedup_hit(&file_dedup, &k, k.tgid, true, q->op);
}

/* Where a rule's path interest said no before (filter.h): only the detectors run. */
static __always_inline bool open_verdict_cached(struct vigil_file *e, struct file_req *q,
						 struct open_verdict_key *vk, __u64 epoch, __u32 *fp_n, __u64 *fp_ws)
{
	struct vigil_filter_cfg *fc = filter_get();
	struct open_verdict *v = bpf_map_lookup_elem(&open_verdicts, vk);
	if (!fc || !v || v->epoch != epoch || v->generation != fc->generation)
		return false;
	stat_hook(q->hook, VIGIL_STAT_FILTERED);
	if (q->ret >= 0 && (e->i_mode & S_IFMT_VAL) == S_IFREG_VAL &&
	    ((q->flags & O_ACCMODE_VAL) || (q->flags & (O_CREAT_VAL | O_TRUNC_VAL))))
		note_written(e->dev, e->ino);
	/* a burst crossing its threshold here is reported by the slow path, with its sample path */
	if (v->fingerprint)
		*fp_n = burst_add(e->hdr.pid, VIGIL_DETECT_FINGERPRINT, v->fingerprint, fp_ws);
	return *fp_n == 0;
}

static __always_inline void open_verdict_store(struct open_verdict_key *vk, __u64 epoch, __u64 fingerprint)
{
	struct vigil_filter_cfg *fc = filter_get();
	if (!fc)
		return;
	struct open_verdict v = { .epoch = epoch, .generation = fc->generation, .fingerprint = fingerprint };
	bpf_map_update_elem(&open_verdicts, vk, &v, BPF_ANY);
}

/* The path's hash if it names a host-fingerprint file (detect.h), else 0. */
static __always_inline __u64 fingerprint_of(struct record_buf *r, __u32 path_off, __u32 path_len)
{
	if (path_len > 64)
		return 0;
	__u64 h = hash_bytes(r->data, path_off, path_len);
	return bpf_map_lookup_elem(&fingerprint_paths, &h) ? h : 0;
}

static __noinline int file_emit(struct file_req *q)
{
	struct record_buf *r = record_buf_get();
	struct path_buf *pb = path_buf_get();
	struct path_ref ref = {};
	__u32 off, vflags = 0;

	if (!r || !pb)
		return 0;
	vflags = q->vflags;
	struct vigil_file *e = (void *)r->data;
	e->hdr.pid = bpf_get_current_pid_tgid() >> 32; /* the rest once past the verdict cache */
	e->op = q->op;
	e->syscall = q->nr;
	e->fd = q->fd;
	e->ret = q->ret;
	e->flags = q->flags;
	e->mode = q->mode;
	e->uid = q->uid;
	e->gid = q->gid;
	e->aux = q->aux;
	e->dev = 0;
	e->ino = 0;
	e->i_mode = 0;
	e->path2_len = 0;

	off = sizeof(*e);
	struct open_verdict_key vk = {};
	bool cacheable = false;
	__u64 epoch = 0, fp_ws = 0;
	__u32 fp_n = 0;
	if (q->from_fd) {
		struct file *f = fd_file(q->fd);
		if (f) {
			/* typed loads through BTF pointers: no helper calls on the hot path */
			struct inode *inode = f->f_inode;
			e->dev = inode->i_sb->s_dev;
			e->ino = inode->i_ino;
			e->i_mode = inode->i_mode;
			vflags |= VIGIL_FILE_FROM_INODE | VIGIL_FILE_INODE_VALID;
			/* the open's own file only: fchmod or ftruncate of that fd later is no creation */
			if (q->op == VIGIL_FILE_OPEN && (f->f_mode & FMODE_CREATED_VAL))
				vflags |= VIGIL_FILE_CREATED;
			if (q->op == VIGIL_FILE_OPEN && file_op_path_filtered(q->op)) {
				/* read before the walk: a rename during it leaves a stale entry */
				epoch = path_epoch_now();
				struct task_struct *task = bpf_get_current_task_btf();
				vk.dentry = (__u64)f->f_path.dentry;
				vk.mnt = (__u64)f->f_path.mnt;
				vk.root = (__u64)task->fs->root.dentry;
				vk.ino = e->ino;
				vk.dev = e->dev;
				vk.igen = inode->i_generation;
				cacheable = true;
				if (open_verdict_cached(e, q, &vk, epoch, &fp_n, &fp_ws))
					return 0;
			}
			ref = path_of_file(f);
		}
	} else {
		ref = path_at(q->dirfd, q->name);
	}
	vflags |= ref.flags;
	e->path_len = put_path(r, off, pb, ref);
	__u32 path_off = off;
	off += e->path_len;

	if (q->raw2) {
		long n = bpf_probe_read_user_str(&r->data[off & (VIGIL_RECORD_MAX - 1)], VIGIL_PATH_MAX, q->raw2);
		e->path2_len = n > 1 ? n - 1 : 0;
		if (n == VIGIL_PATH_MAX)
			vflags |= VIGIL_FILE_PATH2_TRUNC;
	} else if (q->name2) {
		ref = path_at(q->dirfd2, q->name2);
		if (ref.flags & VIGIL_FILE_PATH_TRUNC)
			vflags |= VIGIL_FILE_PATH2_TRUNC;
		if (ref.flags & VIGIL_FILE_JOINED)
			vflags |= VIGIL_FILE_PATH2_JOINED;
		e->path2_len = put_path(r, off, pb, ref);
	}
	__u32 path2_off = off;
	off += e->path2_len;
	e->vflags = vflags;

	__u32 tgid = e->hdr.pid;
	bool ok = q->ret >= 0;

	/* drop and execute: remember regular files written or created, with their writer */
	if (ok && (vflags & VIGIL_FILE_INODE_VALID) && (e->i_mode & S_IFMT_VAL) == S_IFREG_VAL &&
	    ((q->op == VIGIL_FILE_OPEN && ((q->flags & O_ACCMODE_VAL) || (q->flags & (O_CREAT_VAL | O_TRUNC_VAL)))) ||
	     q->op == VIGIL_FILE_TRUNCATE))
		note_written(e->dev, e->ino);
	if (ok && q->op == VIGIL_FILE_OPEN && (vflags & VIGIL_FILE_CREATED) && (e->i_mode & S_IFMT_VAL) == S_IFREG_VAL)
		copy_note_created(path_off, e->path_len);

	/* self-deleting binary: the executable of this process or an ancestor removed or moved away */
	__u64 path_hash = 0;
	if (ok && q->op == VIGIL_FILE_RENAME)
		path_epoch_bump(); /* cached open verdicts may name old paths */
	if (ok && (q->op == VIGIL_FILE_UNLINK || q->op == VIGIL_FILE_RENAME)) {
		path_hash = hash_bytes(r->data, path_off, e->path_len);
		if (is_running_exe(tgid, path_hash))
			e->vflags |= VIGIL_FILE_RUNNING_EXE;
	}

	/* host fingerprinting: hashed once, for the burst below and the verdict cache */
	__u64 fingerprint = ok && q->op == VIGIL_FILE_OPEN ? fingerprint_of(r, path_off, e->path_len) : 0;

	/* Kernel findings always cross; otherwise the rules' interest decides (filter.h): for a
	 * failed call, the interest of the rules that could match a failure. */
	bool finding = e->vflags & VIGIL_FILE_RUNNING_EXE;
	bool reported = ok ? file_op_reported(q->op) : file_failure_reported(q->op);
	bool path_filtered = ok ? file_op_path_filtered(q->op) : file_failure_path_filtered(q->op);
	__u32 verdict = PATH_WANTED;
	__u32 bit = !ok ? q->op + FAIL_SHIFT : (vflags & VIGIL_FILE_CREATED) ? OPEN_CREATED_BIT : q->op;
	if (!finding && reported && path_filtered)
		verdict = file_paths_verdict(path_off, path2_off, e->path_len | ((__u32)e->path2_len << 16),
					     bit, e->vflags);
	if (!finding && (!reported || verdict == PATH_UNWANTED)) {
		stat_hook(q->hook, VIGIL_STAT_FILTERED);
		if (cacheable && verdict == PATH_UNWANTED)
			open_verdict_store(&vk, epoch, fingerprint);
	} else {
		/* the header only past the filter: five helper calls a dropped event does not need */
		fill_hdr(&e->hdr, VIGIL_KIND_FILE);
		if (!finding && verdict == PATH_WANTED && (vflags & VIGIL_FILE_INODE_VALID) && file_dedup_hit(e, q))
			stat_hook(q->hook, VIGIL_STAT_DEDUPED);
		else
			emit_record(&rb_events, r, off, q->hook);
	}

	/* bursts: renames of many files, originals unlinked after a copy was written beside
	 * them (both ransomware-like), reads of host-fingerprint files */
	__u64 ws = 0;
	__u32 n = 0;
	__u16 detector = 0;
	if (fp_n) {
		detector = VIGIL_DETECT_FINGERPRINT;
		n = fp_n;
		ws = fp_ws;
	} else if (ok && q->op == VIGIL_FILE_RENAME) {
		detector = VIGIL_DETECT_FILE_STORM;
		n = burst_add(tgid, detector, path_hash, &ws);
	} else if (fingerprint) {
		detector = VIGIL_DETECT_FINGERPRINT;
		n = burst_add(tgid, detector, fingerprint, &ws);
	} else if (ok && q->op == VIGIL_FILE_UNLINK && fresh_copy_of(tgid, path_hash)) {
		detector = VIGIL_DETECT_COPY_DELETE;
		n = burst_add(tgid, detector, path_hash, &ws);
	}
	if (n)
		emit_detection_task(r, tgid, detector, n, ws, &r->data[path_off & (VIGIL_RECORD_MAX - 1)], e->path_len);
	return 0;
}

/* Ops the kernel's own detectors follow, whether or not a rule wants their events. */
#define STATEFUL_OPS ((1u << VIGIL_FILE_OPEN) | (1u << VIGIL_FILE_TRUNCATE) | (1u << VIGIL_FILE_UNLINK) | \
		      (1u << VIGIL_FILE_RENAME))

/* The start of every handler: count, check the op is needed at all, set common fields. */
static __always_inline bool file_req_init(struct file_req *q, __u32 hook, __u16 op, struct pt_regs *regs, long ret)
{
	stat_hook(hook, VIGIL_STAT_SEEN);
	if (!(STATEFUL_OPS & (1u << op)) && !file_op_reported(op)) {
		stat_hook(hook, VIGIL_STAT_FILTERED);
		return false;
	}
	/* a failed call feeds no detector; dropped here unless a rule could match it */
	if (ret < 0 && !file_failure_reported(op)) {
		stat_hook(hook, VIGIL_STAT_FILTERED);
		return false;
	}
	__builtin_memset(q, 0, sizeof(*q));
	q->hook = hook;
	q->op = op;
	q->nr = SC_NR(regs);
	q->ret = ret;
	q->fd = -1;
	q->dirfd = AT_FDCWD_VAL;
	q->dirfd2 = AT_FDCWD_VAL;
	q->uid = (__u32)-1;
	q->gid = (__u32)-1;
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_open, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_OPEN, VIGIL_FILE_OPEN, regs, ret))
		return 0;
	switch (q.nr) {
	case NR_open:
		q.name = (const char *)SC_ARG0(regs);
		q.flags = SC_ARG1(regs);
		q.mode = SC_ARG2(regs);
		break;
	case NR_creat:
		q.name = (const char *)SC_ARG0(regs);
		q.mode = SC_ARG1(regs);
		q.flags = O_CREAT_WRONLY_TRUNC;
		break;
	case NR_openat:
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.flags = SC_ARG2(regs);
		q.mode = SC_ARG3(regs);
		break;
	case NR_openat2: {
		struct open_how how = {};
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		bpf_probe_read_user(&how, sizeof(how), (void *)SC_ARG2(regs));
		q.flags = how.flags;
		q.mode = how.mode;
		break;
	}
	default:
		return 0;
	}
	if (ret >= 0) {
		q.fd = ret;
		q.from_fd = true;
	}
	return file_emit(&q);
}

/*
 * IORING_OP_OPENAT/OPENAT2: no open syscall runs, so exit_open never sees it. At the
 * completion (in the submitting process, or an io-wq worker thread sharing its fd
 * table) the new fd names the file; the request still holds the flags. Opens into a
 * fixed-file slot have no fd and failed opens no file: neither is reported (the name
 * was released before completion).
 */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_open, struct io_ring_ctx *ring, void *req_ptr, struct io_uring_cqe *cqe)
{
	struct io_kiocb *req = req_ptr;
	if (!req)
		return 0;
	__u8 opcode = BPF_CORE_READ(req, opcode);
	if (opcode != IORING_OP_OPENAT && opcode != IORING_OP_OPENAT2)
		return 0;
	struct io_open *o = (void *)&req->cmd;
	__s32 res = BPF_CORE_READ(cqe, res);
	stat_hook(VIGIL_HOOK_URING_OPEN, VIGIL_STAT_SEEN);
	if (res < 0 || BPF_CORE_READ(o, file_slot)) {
		stat_hook(VIGIL_HOOK_URING_OPEN, VIGIL_STAT_FILTERED);
		return 0;
	}
	struct file_req q = {};
	q.hook = VIGIL_HOOK_URING_OPEN;
	q.op = VIGIL_FILE_OPEN;
	q.nr = opcode == IORING_OP_OPENAT ? NR_openat : NR_openat2;
	q.ret = res;
	q.fd = res;
	q.from_fd = true;
	q.dirfd = BPF_CORE_READ(o, dfd);
	q.flags = BPF_CORE_READ(o, how.flags);
	q.mode = BPF_CORE_READ(o, how.mode);
	q.uid = (__u32)-1;
	q.gid = (__u32)-1;
	q.vflags = VIGIL_FILE_IO_URING;
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_unlink, struct pt_regs *regs, long ret)
{
	struct file_req q;
	__u64 nr = SC_NR(regs);
	__u16 op = VIGIL_FILE_UNLINK;

	if (nr == NR_rmdir || (nr == NR_unlinkat && (SC_ARG2(regs) & AT_REMOVEDIR)))
		op = VIGIL_FILE_RMDIR;
	if (!file_req_init(&q, VIGIL_HOOK_UNLINK, op, regs, ret))
		return 0;
	if (nr == NR_unlinkat) {
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.flags = SC_ARG2(regs);
	} else {
		q.name = (const char *)SC_ARG0(regs);
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_rename, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_RENAME, VIGIL_FILE_RENAME, regs, ret))
		return 0;
	if (q.nr == NR_rename) {
		q.name = (const char *)SC_ARG0(regs);
		q.name2 = (const char *)SC_ARG1(regs);
	} else {
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.dirfd2 = SC_ARG2(regs);
		q.name2 = (const char *)SC_ARG3(regs);
		if (q.nr == NR_renameat2)
			q.flags = SC_ARG4(regs);
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_chmod, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_CHMOD, VIGIL_FILE_CHMOD, regs, ret))
		return 0;
	switch (q.nr) {
	case NR_chmod:
		q.name = (const char *)SC_ARG0(regs);
		q.mode = SC_ARG1(regs);
		break;
	case NR_fchmod:
		q.fd = SC_ARG0(regs);
		q.from_fd = true;
		q.mode = SC_ARG1(regs);
		break;
	case NR_fchmodat:
	case NR_fchmodat2:
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.mode = SC_ARG2(regs);
		if (q.nr == NR_fchmodat2)
			q.flags = SC_ARG3(regs);
		break;
	default:
		return 0;
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_chown, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_CHOWN, VIGIL_FILE_CHOWN, regs, ret))
		return 0;
	switch (q.nr) {
	case NR_chown:
	case NR_lchown:
		q.name = (const char *)SC_ARG0(regs);
		q.uid = SC_ARG1(regs);
		q.gid = SC_ARG2(regs);
		if (q.nr == NR_lchown)
			q.flags = AT_SYMLINK_NOFOLLOW;
		break;
	case NR_fchown:
		q.fd = SC_ARG0(regs);
		q.from_fd = true;
		q.uid = SC_ARG1(regs);
		q.gid = SC_ARG2(regs);
		break;
	case NR_fchownat:
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.uid = SC_ARG2(regs);
		q.gid = SC_ARG3(regs);
		q.flags = SC_ARG4(regs);
		break;
	default:
		return 0;
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_link, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_LINK, VIGIL_FILE_LINK, regs, ret))
		return 0;
	if (q.nr == NR_link) {
		q.name = (const char *)SC_ARG0(regs);
		q.name2 = (const char *)SC_ARG1(regs);
	} else {
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.dirfd2 = SC_ARG2(regs);
		q.name2 = (const char *)SC_ARG3(regs);
		q.flags = SC_ARG4(regs);
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_symlink, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_SYMLINK, VIGIL_FILE_SYMLINK, regs, ret))
		return 0;
	q.raw2 = (const char *)SC_ARG0(regs);
	if (q.nr == NR_symlink) {
		q.name = (const char *)SC_ARG1(regs);
	} else {
		q.dirfd = SC_ARG1(regs);
		q.name = (const char *)SC_ARG2(regs);
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_truncate, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_TRUNCATE, VIGIL_FILE_TRUNCATE, regs, ret))
		return 0;
	if (q.nr == NR_ftruncate) {
		q.fd = SC_ARG0(regs);
		q.from_fd = true;
	} else {
		q.name = (const char *)SC_ARG0(regs);
	}
	q.aux = SC_ARG1(regs);
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_mkdir, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_MKDIR, VIGIL_FILE_MKDIR, regs, ret))
		return 0;
	if (q.nr == NR_mkdirat) {
		q.dirfd = SC_ARG0(regs);
		q.name = (const char *)SC_ARG1(regs);
		q.mode = SC_ARG2(regs);
	} else {
		q.name = (const char *)SC_ARG0(regs);
		q.mode = SC_ARG1(regs);
	}
	return file_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_memfd, struct pt_regs *regs, long ret)
{
	struct file_req q;
	if (!file_req_init(&q, VIGIL_HOOK_MEMFD, VIGIL_FILE_MEMFD_CREATE, regs, ret))
		return 0;
	q.flags = SC_ARG1(regs);
	if (ret >= 0) {
		/* the new file's own path: "/memfd:<name>", flagged deleted */
		q.fd = ret;
		q.from_fd = true;
	} else {
		q.raw2 = (const char *)SC_ARG0(regs);
	}
	return file_emit(&q);
}

/* chdir/fchdir: keep the table's cwd current and tell userspace (proc.cwd). */
SEC("tp_btf/sys_exit")
int BPF_PROG(exit_chdir, struct pt_regs *regs, long ret)
{
	if (ret != 0)
		return 0;
	stat_hook(VIGIL_HOOK_CWD, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	struct path_buf *pb = path_buf_get();
	if (!r || !pb)
		return 0;
	struct vigil_cwd *c = (void *)r->data;
	fill_hdr(&c->hdr, VIGIL_KIND_CWD);
	struct path_ref ref = path_of_cwd();
	c->syscall = SC_NR(regs);
	c->flags = ref.flags & VIGIL_FILE_PATH_TRUNC;
	c->pad = 0;
	c->cwd_len = put_path(r, sizeof(*c), pb, ref);

	struct proc_info *p = proc_lookup(c->hdr.pid);
	if (p)
		p->cwd_len = proc_copy_path(p->cwd, (const char *)&r->data[sizeof(*c)], c->cwd_len);
	emit_record(&rb_proc, r, sizeof(*c) + c->cwd_len, VIGIL_HOOK_CWD);
	return 0;
}

/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Absolute paths, resolved in the kernel.
 *
 * bpf_d_path() is only allowed from fentry/LSM programs, which do not load on every
 * kernel we support, so paths are rebuilt by walking dentry->d_parent and crossing
 * mount points through mount->mnt_parent, the way the kernel's own prepend_path()
 * does. The walk stops at the task's root, so a process in a container or chroot
 * sees the path as it named it.
 *
 * The walk runs inside bpf_loop(), so the verifier checks its body once, whatever
 * the depth. Components are written backwards, ending at PATH_END of a per-CPU buffer;
 * a relative path given to a syscall can then be appended after PATH_END.
 */
#ifndef VIGIL_PATH_H
#define VIGIL_PATH_H

#include "common.h"

#define PATH_END VIGIL_PATH_MAX            /* walked paths end here in path_buf */
#define PATH_WALK_MAX_STEPS 2560           /* > VIGIL_PATH_MAX / 2 components, plus mount crossings */
#define NAME_MASK 255

struct path_buf {
	/* [0, PATH_END): walked directory, [PATH_END, 2*PATH_END): appended user string, rest: slack */
	char data[3 * VIGIL_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_buf);
} path_scratch SEC(".maps") __weak;

/* A path sitting in path_buf: data[start, start + len). */
struct path_ref {
	__u32 start;
	__u32 len;
	__u32 flags; /* VIGIL_FILE_PATH_TRUNC, VIGIL_FILE_PATH_DELETED */
};

struct path_walk_ctx {
	struct dentry *dentry;
	struct vfsmount *vfsmnt;
	struct dentry *mnt_root;
	struct dentry *root_dentry;
	struct vfsmount *root_mnt;
	__s32 pos;
	__u32 flags;
};

static __always_inline struct path_buf *path_buf_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&path_scratch, &zero);
}

/*
 * One component per call. Reads go through BPF_CORE_READ (helper calls), not typed BTF
 * loads: the walk keeps its dentries and mounts in the loop's context, and BTF pointers
 * there make the verifier explore far more states (exit_rename: 279k -> 611k verified
 * instructions, 3 s more at every start), for a walk only uncached opens and exec run.
 */
static long path_walk_step(__u32 i, void *data)
{
	struct path_walk_ctx *c = data;
	struct dentry *d = c->dentry;

	if (d == c->root_dentry && c->vfsmnt == c->root_mnt)
		return 1;

	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	if (d == c->mnt_root || d == parent) {
		struct mount *mnt = container_of(c->vfsmnt, struct mount, mnt);
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);
		/* d == parent without being a mount root: a detached tree; mnt == parent: the top. */
		if (d != c->mnt_root || up == mnt || !up)
			return 1;
		c->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		c->vfsmnt = &up->mnt;
		c->mnt_root = BPF_CORE_READ(up, mnt.mnt_root);
		return 0;
	}

	struct qstr name = BPF_CORE_READ(d, d_name);
	__u32 len = name.len & NAME_MASK;
	__s32 pos = c->pos - (__s32)len - 1;
	if (pos < 0) {
		c->flags |= VIGIL_FILE_PATH_TRUNC;
		return 1;
	}
	struct path_buf *b = path_buf_get();
	if (!b)
		return 1;
	bpf_probe_read_kernel(&b->data[(pos + 1) & (VIGIL_PATH_MAX - 1)], len, name.name);
	b->data[pos & (VIGIL_PATH_MAX - 1)] = '/';
	c->pos = pos;
	c->dentry = parent;
	return 0;
}

static __always_inline bool dentry_unlinked(struct dentry *d)
{
	return BPF_CORE_READ(d, d_hash.pprev) == NULL && BPF_CORE_READ(d, d_parent) != d;
}

/* Walk a struct path up to the root of task (the process whose view we report). */
static __always_inline struct path_ref path_walk_from(struct dentry *dentry, struct vfsmount *vfsmnt,
						      struct task_struct *task)
{
	struct path_ref out = { .start = PATH_END, .len = 0, .flags = 0 };
	struct path_walk_ctx c = {
		.dentry = dentry,
		.vfsmnt = vfsmnt,
		.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root),
		.root_dentry = BPF_CORE_READ(task, fs, root.dentry),
		.root_mnt = BPF_CORE_READ(task, fs, root.mnt),
		.pos = PATH_END,
		.flags = 0,
	};
	struct path_buf *b = path_buf_get();

	if (!b || !dentry)
		return out;
	if (dentry_unlinked(dentry))
		c.flags |= VIGIL_FILE_PATH_DELETED;
	bpf_loop(PATH_WALK_MAX_STEPS, path_walk_step, &c, 0);
	if (c.pos == PATH_END) {
		/* the root itself */
		c.pos = PATH_END - 1;
		b->data[PATH_END - 1] = '/';
	}
	if (c.pos < 0 || c.pos >= PATH_END)
		return out;
	out.start = c.pos;
	out.len = PATH_END - c.pos;
	out.flags = c.flags;
	if (c.flags & VIGIL_FILE_PATH_TRUNC)
		stat_counter(VIGIL_CTR_PATH_TRUNCATED);
	return out;
}

static __always_inline struct path_ref path_walk(struct dentry *dentry, struct vfsmount *vfsmnt)
{
	return path_walk_from(dentry, vfsmnt, (struct task_struct *)bpf_get_current_task());
}

static __always_inline struct path_ref path_of_file(struct file *f)
{
	return path_walk(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

/*
 * The struct file behind fd in the current task, or NULL. A BTF pointer: its fields (and
 * the inode's) are read with plain loads the JIT inlines, not helper calls; this runs on
 * every successful open. Only the fd array slot needs a helper (a variable index into an
 * array of pointers is not a typed access).
 */
static __always_inline struct file *fd_file(int fd)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct fdtable *fdt = task->files->fdt;
	if (fd < 0 || !fdt || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	struct file **fds = fdt->fd;
	struct file *f = NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f ? bpf_core_cast(f, struct file) : NULL;
}

static __always_inline struct path_ref path_of_cwd(void)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	return path_walk(BPF_CORE_READ(task, fs, pwd.dentry), BPF_CORE_READ(task, fs, pwd.mnt));
}

#define AT_FDCWD_VAL -100

/*
 * The absolute form of a path argument (dirfd, user string) as the syscall saw it:
 * absolute strings are taken as they are; relative ones are appended to the walked
 * path of dirfd, or of the cwd. "." and ".." are left for userspace to fold lexically;
 * symlinks in the middle are not followed (only an opened file's own path is exact).
 */
static __always_inline struct path_ref path_at(int dirfd, const char *user)
{
	struct path_ref out = { .start = PATH_END, .len = 0, .flags = 0 };
	struct path_buf *b = path_buf_get();
	char first = 0;

	if (!b || !user)
		return out;
	bpf_probe_read_user(&first, 1, user);
	if (first == '/') {
		long n = bpf_probe_read_user_str(&b->data[PATH_END], VIGIL_PATH_MAX, user);
		if (n <= 1)
			return out;
		out.len = n - 1;
		if (n == VIGIL_PATH_MAX)
			out.flags |= VIGIL_FILE_PATH_TRUNC;
		return out;
	}

	if (dirfd == AT_FDCWD_VAL) {
		out = path_of_cwd();
	} else {
		struct file *f = fd_file(dirfd);
		if (!f)
			return out;
		out = path_of_file(f);
	}
	out.flags |= VIGIL_FILE_JOINED;
	if (!first)
		return out; /* "" with AT_EMPTY_PATH: the dirfd itself */
	/* "./x" names the same file as "x": drop leading "./" so the joined path is canonical
	 * where it matters most (hashes of running executables); the rest is folded in userspace */
	for (int i = 0; i < 4; i++) {
		char two[2] = {};
		bpf_probe_read_user(two, 2, user);
		if (two[0] != '.' || two[1] != '/')
			break;
		user += 2;
	}

	/* path_walk leaves the directory at [start, PATH_END); append "/" + user string. */
	b->data[PATH_END] = '/';
	long n = bpf_probe_read_user_str(&b->data[PATH_END + 1], VIGIL_PATH_MAX, user);
	if (n <= 1)
		return out;
	/* a directory of "/" would give "//name": drop the separator we just wrote */
	if (out.len == 1) {
		out.start = PATH_END;
		out.len = n; /* "/" + (n - 1) bytes */
	} else {
		out.len += n;
	}
	if (out.len > VIGIL_PATH_MAX - 1) {
		out.len = VIGIL_PATH_MAX - 1;
		out.flags |= VIGIL_FILE_PATH_TRUNC;
	}
	return out;
}

/* Copy a path_ref into a record; returns bytes copied. */
static __always_inline __u32 put_path(struct record_buf *r, __u32 off, struct path_buf *b, struct path_ref p)
{
	if (!b || p.len == 0)
		return 0;
	return put_kernel(r, off, &b->data[p.start & (2 * VIGIL_PATH_MAX - 1)], p.len);
}

#endif /* VIGIL_PATH_H */

// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Mounts, through both APIs: mount(2), umount2, pivot_root, and the new mount API that
 * container runtimes and attackers alike use to build and attach mounts without
 * mount(2): fsopen, fsconfig, fsmount, fspick, open_tree, move_mount, mount_setattr.
 *
 * One tail-called handler (exit_mount) decodes each into a VIGIL_KIND_SYSCALL record
 * (syscall_record.h); docs/events.md says what str1/str2 hold per syscall. A call that
 * changes what paths mean (a mount attached, moved or removed, a new root) also makes
 * every cached open verdict stale (filter.h), whatever the rules want to see.
 */
#include "common.h"
#include "path.h"
#include "syscalls.h"
#include "syscall_record.h"
#include "filter.h"

#define FSCONFIG_SET_STRING_VAL 1

/* struct mount_attr: the attributes mount_setattr sets and clears. */
struct mount_attr_val {
	__u64 attr_set;
	__u64 attr_clr;
	__u64 propagation;
	__u64 userns_fd;
};

static __noinline int mount_emit(struct pt_regs *regs, long ret)
{
	__u64 nr = SC_NR(regs);
	__u64 a0 = SC_ARG0(regs), a1 = SC_ARG1(regs), a2 = SC_ARG2(regs), a3 = SC_ARG3(regs);

	stat_hook(VIGIL_HOOK_MOUNT, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	struct vigil_syscall *e = sys_record_begin(r, regs, ret);
	if (!e)
		return 0;
	__u32 off = sizeof(*e);
	__u16 flags = 0;
	__u16 s1 = 0, s2 = 0;

	switch (nr) {
	case NR_mount: {
		char fstype[8] = {};
		bpf_probe_read_user_str(fstype, sizeof(fstype), (const char *)a2);
		__builtin_memcpy(&e->args[2], fstype, 8); /* filesystem type, first 8 bytes */
		s1 = put_user_str(r, off, (const char *)a0, &flags);            /* source */
		s2 = put_path_arg(r, off + s1, AT_FDCWD_VAL, (const char *)a1); /* target */
		break;
	}
	case NR_umount2:
		s1 = put_path_arg(r, off, AT_FDCWD_VAL, (const char *)a0);
		break;
	case NR_pivot_root:
		s1 = put_path_arg(r, off, AT_FDCWD_VAL, (const char *)a0);
		s2 = put_path_arg(r, off + s1, AT_FDCWD_VAL, (const char *)a1);
		break;
	case NR_fsopen:
		s1 = put_user_str(r, off, (const char *)a0, &flags); /* filesystem type */
		break;
	case NR_fsconfig:
		/* the key ("source", "lowerdir", ...) and, for a string value, the value */
		s1 = put_user_str(r, off, (const char *)a2, &flags);
		if (a1 == FSCONFIG_SET_STRING_VAL)
			s2 = put_user_str(r, off + s1, (const char *)a3, &flags);
		break;
	case NR_open_tree:
	case NR_fspick:
		s1 = put_path_arg(r, off, a0, (const char *)a1); /* the tree cloned or picked */
		break;
	case NR_move_mount:
		/* from (an fd from fsmount/open_tree, or a path) and to: the mount point */
		s1 = put_path_arg(r, off, a0, (const char *)a1);
		s2 = put_path_arg(r, off + s1, a2, (const char *)a3);
		break;
	case NR_mount_setattr: {
		s1 = put_path_arg(r, off, a0, (const char *)a1);
		struct mount_attr_val attr = {};
		bpf_probe_read_user(&attr, sizeof(attr), (void *)a3);
		e->args[3] = attr.attr_set;
		e->args[4] = attr.attr_clr;
		break;
	}
	default: /* fsmount: a detached mount, no strings */
		break;
	}
	sys_record_emit(r, e, flags, s1, s2, VIGIL_HOOK_MOUNT);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_mount, struct pt_regs *regs, long ret)
{
	__u64 nr = SC_NR(regs);
	/* the mount tree changed: cached open verdicts may name old paths (filter.h) */
	if (ret == 0 && (nr == NR_mount || nr == NR_umount2 || nr == NR_pivot_root || nr == NR_move_mount))
		path_epoch_bump();
	return mount_emit(regs, ret);
}

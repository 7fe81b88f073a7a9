// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Rare, security-sensitive syscalls: process injection (ptrace, process_vm_writev),
 * signals, kernel modules, bpf(), capabilities, namespaces, identity changes,
 * timestamps and extended attributes (file capabilities), chroot, kexec. Mounts have
 * their own handler (mount.bpf.c).
 *
 * One tail-called handler (exit_sensitive) decodes each into a VIGIL_KIND_SYSCALL
 * record: the raw arguments, the target process when the call names one, and up to two
 * strings whose meaning per syscall is documented in docs/events.md.
 */
#include "common.h"
#include "task.h"
#include "path.h"
#include "proc_table.h"
#include "syscalls.h"
#include "syscall_record.h"
#include "filter.h"

#define BPF_MAP_CREATE_CMD 0
#define BPF_PROG_LOAD_CMD 5

/* bpf() commands worth reporting: creating, loading, attaching, reaching others' objects. */
static __always_inline bool bpf_cmd_reported(__u64 cmd)
{
	switch (cmd) {
	case 0:  /* MAP_CREATE */
	case 5:  /* PROG_LOAD */
	case 8:  /* PROG_ATTACH */
	case 13: /* PROG_GET_FD_BY_ID */
	case 14: /* MAP_GET_FD_BY_ID */
	case 17: /* RAW_TRACEPOINT_OPEN */
	case 28: /* LINK_CREATE */
	case 30: /* LINK_GET_FD_BY_ID */
		return true;
	}
	return false;
}

static __noinline int sensitive_emit(struct pt_regs *regs, long ret)
{
	__u64 nr = SC_NR(regs);
	__u64 a0 = SC_ARG0(regs), a1 = SC_ARG1(regs), a2 = SC_ARG2(regs);

	/* noise we do not send: probing signal 0, and bpf() map reads and writes */
	if ((nr == NR_kill || nr == NR_tkill) && a1 == 0)
		return 0;
	if (nr == NR_tgkill && a2 == 0)
		return 0;
	if (nr == NR_bpf && !bpf_cmd_reported(a0))
		return 0;

	stat_hook(VIGIL_HOOK_SENSITIVE, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	struct vigil_syscall *e = sys_record_begin(r, regs, ret);
	if (!e)
		return 0;
	__u32 off = sizeof(*e);
	__u16 flags = 0;
	__u16 s1 = 0, s2 = 0;
	__u32 target = 0;

	switch (nr) {
	case NR_ptrace:
		target = a1;
		break;
	case NR_kill:
	case NR_tkill:
	case NR_process_vm_readv:
	case NR_process_vm_writev:
		target = a0;
		break;
	case NR_tgkill:
		target = a0;
		break;
	case NR_init_module:
		s1 = put_user_str(r, off, (const char *)a2, &flags); /* module parameters */
		break;
	case NR_finit_module:
		s1 = put_path_arg(r, off, a0, NULL);                  /* the module file */
		s2 = put_user_str(r, off + s1, (const char *)a1, &flags);
		break;
	case NR_delete_module:
		s1 = put_user_str(r, off, (const char *)a0, &flags); /* module name */
		break;
	case NR_kexec_file_load:
		s1 = put_path_arg(r, off, a0, NULL);                  /* the kernel image */
		break;
	case NR_bpf: {
		/* the first word of the attributes: map or program type, or an object id */
		__u32 first = 0;
		bpf_probe_read_user(&first, sizeof(first), (void *)a1);
		e->args[3] = first;
		if (a0 == BPF_PROG_LOAD_CMD || a0 == BPF_MAP_CREATE_CMD) {
			/* the object's name: prog_name at offset 48, map_name at 28 */
			char name[16] = {};
			bpf_probe_read_user(name, sizeof(name), (char *)a1 + (a0 == BPF_PROG_LOAD_CMD ? 48 : 28));
			name[15] = 0;
			long n = bpf_probe_read_kernel_str(&r->data[off & (VIGIL_RECORD_MAX - 1)], sizeof(name), name);
			s1 = n > 1 ? n - 1 : 0;
		}
		break;
	}
	case NR_capset: {
		/* struct __user_cap_data_struct[2]: effective, permitted, inheritable (low, then high 32 bits) */
		__u32 d[6] = {};
		bpf_probe_read_user(d, sizeof(d), (void *)a1);
		e->args[2] = ((__u64)d[3] << 32) | d[0];
		e->args[3] = ((__u64)d[4] << 32) | d[1];
		break;
	}
	case NR_setns: {
		/* the namespace entered: its inode number, comparable with those of /proc/1/ns */
		struct file *f = fd_file(a0);
		if (f)
			e->args[2] = BPF_CORE_READ(f, f_inode, i_ino);
		s1 = put_path_arg(r, off, a0, NULL);
		break;
	}
	case NR_chroot:
		s1 = put_path_arg(r, off, AT_FDCWD_VAL, (const char *)a0);
		break;
	case NR_utimensat: {
		/* explicit times (not NULL, not UTIME_NOW/OMIT) are what timestomping sets */
		s1 = put_path_arg(r, off, a0, (const char *)a1);
		if (a2) {
			__s64 ts[4] = {};
			bpf_probe_read_user(ts, sizeof(ts), (void *)a2);
			e->args[4] = ts[2]; /* mtime seconds */
			e->args[5] = ts[3]; /* mtime nanoseconds, or UTIME_NOW / UTIME_OMIT */
		}
		break;
	}
	case NR_setxattr:
	case NR_lsetxattr:
		s1 = put_path_arg(r, off, AT_FDCWD_VAL, (const char *)a0);
		s2 = put_user_str(r, off + s1, (const char *)a1, &flags); /* attribute name */
		break;
	case NR_fsetxattr:
		s1 = put_path_arg(r, off, a0, NULL);
		s2 = put_user_str(r, off + s1, (const char *)a1, &flags);
		break;
	default:
		break;
	}

	sys_record_target(e, target);
	sys_record_emit(r, e, flags, s1, s2, VIGIL_HOOK_SENSITIVE);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_sensitive, struct pt_regs *regs, long ret)
{
	return sensitive_emit(regs, ret);
}

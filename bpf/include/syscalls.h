/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Syscall dispatch: one tp_btf/sys_exit program runs for every syscall and tail-calls
 * the handler registered for that syscall number, if any. Userspace fills
 * sys_exit_tails (crates/vigil-sensor/src/syscalls.rs maps numbers to handlers), so
 * an uninteresting syscall costs one array lookup and no event.
 *
 * Handlers read the arguments from the saved user registers at exit: they are still
 * there, and the return value tells success and the new fd. Paths of successful opens
 * are taken from the opened file itself, so a string swapped after the call cannot fool them.
 */
#ifndef VIGIL_SYSCALLS_H
#define VIGIL_SYSCALLS_H

#include "common.h"

#define SYSCALL_TABLE_SIZE 512

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} sys_exit_tails SEC(".maps") __weak;

/* x86_64 syscall ABI: arguments in di, si, dx, r10, r8, r9. */
#define SC_ARG0(regs) ((regs)->di)
#define SC_ARG1(regs) ((regs)->si)
#define SC_ARG2(regs) ((regs)->dx)
#define SC_ARG3(regs) ((regs)->r10)
#define SC_ARG4(regs) ((regs)->r8)
#define SC_NR(regs) ((regs)->orig_ax)

/* x86_64 numbers of the syscalls the handlers decode. */
#define NR_truncate 76
#define NR_ftruncate 77
#define NR_chdir 80
#define NR_fchdir 81
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_fchmod 91
#define NR_chown 92
#define NR_fchown 93
#define NR_lchown 94
#define NR_open 2
#define NR_openat 257
#define NR_mkdirat 258
#define NR_fchownat 260
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_renameat2 316
#define NR_memfd_create 319
#define NR_openat2 437
#define NR_fchmodat2 452

#endif /* VIGIL_SYSCALLS_H */

/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Syscall dispatch: one tp_btf/sys_exit program runs for every syscall and tail-calls
 * the handler registered for that syscall number, if any. Userspace fills
 * sys_exit_tails (crates/vigil-sensor/src/hooks.rs maps syscalls to handlers), so
 * an uninteresting syscall costs one array lookup and no event.
 *
 * Handlers read the arguments from the saved user registers at exit: they are still
 * there, and the return value tells success and the new fd. Paths of successful opens
 * are taken from the opened file itself, so a string swapped after the call cannot fool them.
 */
#ifndef VIGIL_SYSCALLS_H
#define VIGIL_SYSCALLS_H

#include "common.h"
#include "syscall_nr.h" /* NR_<name>, generated from bpf/syscalls_x86_64.tbl */

#define SYSCALL_TABLE_SIZE 512

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, SYSCALL_TABLE_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} sys_exit_tails SEC(".maps") __weak;

/*
 * The syscalls that have a handler in sys_exit_tails, one bit each, kept equal to the
 * table by the agent. The dispatcher tests it before anything else that costs: most
 * syscalls a host makes (read, write, poll, ...) have no handler and leave right there.
 */
struct watched_syscalls {
	__u64 bits[SYSCALL_TABLE_SIZE / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct watched_syscalls);
} watched_syscalls SEC(".maps") __weak;

/* x86_64 syscall ABI: arguments in di, si, dx, r10, r8, r9. */
#define SC_ARG0(regs) ((regs)->di)
#define SC_ARG1(regs) ((regs)->si)
#define SC_ARG2(regs) ((regs)->dx)
#define SC_ARG3(regs) ((regs)->r10)
#define SC_ARG4(regs) ((regs)->r8)
#define SC_NR(regs) ((regs)->orig_ax)

#endif /* VIGIL_SYSCALLS_H */

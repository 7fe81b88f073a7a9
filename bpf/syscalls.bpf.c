// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/* The one program attached to the sys_exit tracepoint; see include/syscalls.h. */
#include "common.h"
#include "syscalls.h"

#define TS_COMPAT 0x0002

SEC("tp_btf/sys_exit")
int BPF_PROG(sys_exit_dispatch, struct pt_regs *regs, long ret)
{
	if (cfg_floor)
		return 0;
	struct task_struct *task = bpf_get_current_task_btf();
	if (task->thread_info.status & TS_COMPAT) {
		/* int 0x80 / ia32 numbers differ from x86_64's: not decoded, but counted */
		stat_counter(VIGIL_CTR_COMPAT_SYSCALL);
		return 0;
	}
	/* x32 syscalls share the x86_64 numbers with bit 30 set */
	__u64 nr = SC_NR(regs) & ~0x40000000ULL;
	if (nr >= SYSCALL_TABLE_SIZE)
		return 0;
	__u32 zero = 0;
	struct watched_syscalls *w = bpf_map_lookup_elem(&watched_syscalls, &zero);
	if (!w || !(w->bits[(nr >> 6) & (SYSCALL_TABLE_SIZE / 64 - 1)] & (1ULL << (nr & 63))))
		return 0;
	if (is_self())
		return 0;
	bpf_tail_call(ctx, &sys_exit_tails, nr);
	return 0;
}

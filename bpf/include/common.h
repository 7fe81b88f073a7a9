/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Maps, configuration and small helpers shared by every vigil BPF object.
 *
 * Each .bpf.c file is compiled on its own and build.rs links them into one object,
 * as Falco's modern probe does. Maps and globals are therefore defined __weak here:
 * every object carries a definition and the BPF static linker merges them into one.
 */
#ifndef VIGIL_COMMON_H
#define VIGIL_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "vigil_abi.h"

#ifndef NULL
#define NULL ((void *)0)
#endif

#define S_IFMT_VAL 00170000

/* 64-bit FNV-1a, for path hashes that userspace computes alike (crates/vigil-sensor). */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

/* ------------------------------------------------------------------------ config */

/* Set by the agent before load (.rodata). */
const volatile __u32 cfg_agent_tgid __weak = 0;   /* our own events are never reported */
/*
 * The benchmark's floor (`vigil run --floor`): every program stays attached to its hook
 * but returns at once, which measures what the hooks alone cost.
 */
const volatile __u32 cfg_floor __weak = 0;
#define WAKEUP_BYTES (256 << 10)


/* ------------------------------------------------------------------------ maps */

/* Process lifecycle: small, rare, must not be crowded out by file storms. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 << 20);
} rb_proc SEC(".maps") __weak;

/* Everything else (file, network, ...). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 16 << 20);
} rb_events SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_stats);
} stats SEC(".maps") __weak;

/*
 * Never read or written: it puts every record and constant of vigil_abi.h into the
 * object's BTF, where the layout test compares them with the Rust side
 * (crates/vigil-sensor/src/abi_check.rs). One entry of about 3 KiB.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_abi);
} abi_types SEC(".maps") __weak;

/*
 * Records are assembled in a scratch buffer and copied out with bpf_ringbuf_output,
 * because their size is only known at the end. One slot per CPU (the agent sets
 * max_entries to the number of possible CPUs); an ARRAY rather than a PERCPU_ARRAY
 * because per-CPU values are limited to 32 KiB. The slack after VIGIL_RECORD_MAX lets
 * the verifier accept a write of up to VIGIL_PATH_MAX bytes at any masked offset.
 */
struct record_buf {
	__u8 data[VIGIL_RECORD_MAX + VIGIL_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct record_buf);
} record_scratch SEC(".maps") __weak;

/*
 * Waking the reader costs the producer an irq_work, which is a self-IPI and so a VM exit
 * on a virtual machine: measured here, forced wake-ups made exec, fork and exit cost 5-9
 * us more each. The reader says when it goes to sleep for longer than its busy poll
 * interval (sleeping = 1, written before the wait); only then does a record wake it, once.
 * While records flow it polls on its own every few milliseconds and nothing wakes it. A
 * ring filling past WAKEUP_BYTES wakes it whatever it said.
 */
struct reader_state {
	__u32 sleeping;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reader_state);
} reader_state SEC(".maps") __weak;

/* ------------------------------------------------------------------------ stats */

static __always_inline struct vigil_stats *stats_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&stats, &zero);
}

static __always_inline void stat_hook(__u32 hook, __u32 what)
{
	struct vigil_stats *s = stats_get();
	if (s && hook < VIGIL_HOOK_MAX && what < VIGIL_STAT_MAX)
		s->hook[hook][what]++;
}

static __always_inline void stat_counter(__u32 ctr)
{
	struct vigil_stats *s = stats_get();
	if (s && ctr < VIGIL_CTR_MAX)
		s->counter[ctr]++;
}

/* ------------------------------------------------------------------------ output */

static __always_inline struct record_buf *record_buf_get(void)
{
	__u32 cpu = bpf_get_smp_processor_id();
	struct record_buf *r = bpf_map_lookup_elem(&record_scratch, &cpu);
	if (!r)
		stat_counter(VIGIL_CTR_SCRATCH_MISS);
	return r;
}

/* BPF_RB_FORCE_WAKEUP or BPF_RB_NO_WAKEUP for a record committed now (see reader_state). */
static __always_inline __u64 wakeup_flag(void *rb)
{
	__u32 zero = 0;
	struct reader_state *st = bpf_map_lookup_elem(&reader_state, &zero);
	/* two CPUs may both see it set and both wake the reader: harmless */
	if (st && st->sleeping) {
		st->sleeping = 0;
		return BPF_RB_FORCE_WAKEUP;
	}
	if (bpf_ringbuf_query(rb, BPF_RB_AVAIL_DATA) >= WAKEUP_BYTES)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Send a record assembled in scratch; loss is counted per hook and per CPU. */
static __always_inline void emit_record(void *rb, struct record_buf *r, __u32 size, __u32 hook)
{
	if (size > VIGIL_RECORD_MAX)
		size = VIGIL_RECORD_MAX;
	((struct vigil_hdr *)r->data)->size = size;
	if (bpf_ringbuf_output(rb, r->data, size, wakeup_flag(rb)))
		stat_hook(hook, VIGIL_STAT_LOST);
	else
		stat_hook(hook, VIGIL_STAT_SENT);
}

/* Copy len bytes of kernel memory into the record at off; returns bytes copied. */
static __always_inline __u32 put_kernel(struct record_buf *r, __u32 off, const void *src, __u32 len)
{
	if (len > VIGIL_PATH_MAX)
		len = VIGIL_PATH_MAX;
	if (off >= VIGIL_RECORD_MAX)
		return 0;
	if (bpf_probe_read_kernel(&r->data[off & (VIGIL_RECORD_MAX - 1)], len, src))
		return 0;
	return len;
}

/* Copy len bytes of user memory into the record at off; returns bytes copied. */
static __always_inline __u32 put_user(struct record_buf *r, __u32 off, const void *src, __u32 len)
{
	if (len > VIGIL_PATH_MAX)
		len = VIGIL_PATH_MAX;
	if (off >= VIGIL_RECORD_MAX || len == 0)
		return 0;
	if (bpf_probe_read_user(&r->data[off & (VIGIL_RECORD_MAX - 1)], len, src))
		return 0;
	return len;
}

static __always_inline bool is_self(void)
{
	return (bpf_get_current_pid_tgid() >> 32) == cfg_agent_tgid;
}

#endif /* VIGIL_COMMON_H */

/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * In-kernel detectors: state kept in maps, decided at the hook.
 *
 *  - drop and execute: files written or created are remembered by inode with their
 *    writer; an exec of one of them carries the writer (VIGIL_EXEC_RECENTLY_WRITTEN);
 *  - self-deleting binary: an unlink or rename of the executable of the acting process
 *    or one of its ancestors is flagged (VIGIL_FILE_RUNNING_EXE);
 *  - bursts: distinct items per process in a time window (failed connects, renames,
 *    discovery commands, fingerprint files); crossing the threshold sends one
 *    VIGIL_KIND_DETECTION record per window.
 *
 * Paths are compared by a 64-bit FNV-1a hash; crates/vigil-sensor computes the same
 * hash to fill fingerprint_paths.
 */
#ifndef VIGIL_DETECT_H
#define VIGIL_DETECT_H

#include "common.h"
#include "task.h"
#include "proc_table.h"


/* ---------------------------------------------------------------- path hash */

struct hash_ctx {
	const __u8 *base; /* a map value: record_buf or net_work */
	__u32 off;
	__u32 len;
	__u64 h;
};

static long hash_step(__u32 i, void *data)
{
	struct hash_ctx *c = data;
	__u8 b[8] = {};
	__u32 at = i * 8;
	if (at >= c->len)
		return 1;
	__u32 n = c->len - at;
	if (n > 8)
		n = 8;
	/* the buffers have slack after any string, so reading a whole word is safe */
	if (bpf_probe_read_kernel(b, sizeof(b), c->base + c->off + at))
		return 1;
	for (int k = 0; k < 8; k++) {
		if (k >= n)
			break;
		c->h ^= b[k];
		c->h *= FNV_PRIME;
	}
	return 0;
}

/* FNV-1a of len bytes at base + off (a kernel buffer). */
static __always_inline __u64 hash_bytes(const void *base, __u32 off, __u32 len)
{
	struct hash_ctx c = { .base = base, .off = off, .len = len, .h = FNV_OFFSET };
	if (len > VIGIL_PATH_MAX)
		c.len = VIGIL_PATH_MAX;
	bpf_loop(VIGIL_PATH_MAX / 8, hash_step, &c, 0);
	return c.h;
}

/* ---------------------------------------------------------------- drop and execute */

struct inode_key {
	__u64 ino;
	__u32 dev;
	__u32 pad;
};

struct writer_info {
	__u64 ktime;
	__u32 pid;
	__u32 uid;
	char comm[VIGIL_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct inode_key);
	__type(value, struct writer_info);
} written_files SEC(".maps") __weak;

/* How long after a write an exec of the file is reported with its writer. */
const volatile __u64 cfg_drop_exec_window_ns __weak = 600000000000ULL;

/* Remembers that the current process wrote or created the file (dev, ino). */
static __always_inline void note_written(__u32 dev, __u64 ino)
{
	struct inode_key k = { .ino = ino, .dev = dev };
	struct writer_info w = {};
	__u64 ug = bpf_get_current_uid_gid();
	w.ktime = bpf_ktime_get_boot_ns();
	w.pid = bpf_get_current_pid_tgid() >> 32;
	w.uid = (__u32)ug;
	bpf_get_current_comm(w.comm, sizeof(w.comm));
	bpf_map_update_elem(&written_files, &k, &w, BPF_ANY);
	stat_counter(VIGIL_CTR_WRITTEN_TRACKED);
}

/* The recent writer of (dev, ino), if it was written within the window. */
static __always_inline struct writer_info *recent_writer(__u32 dev, __u64 ino)
{
	struct inode_key k = { .ino = ino, .dev = dev };
	struct writer_info *w = bpf_map_lookup_elem(&written_files, &k);
	if (!w || bpf_ktime_get_boot_ns() - w->ktime > cfg_drop_exec_window_ns)
		return NULL;
	return w;
}

/* ---------------------------------------------------------------- running executables */

#define LINEAGE_CHECK 4

/* Is path_hash the executable of tgid or one of its first ancestors? */
static __always_inline bool is_running_exe(__u32 tgid, __u64 path_hash)
{
	for (int i = 0; i < LINEAGE_CHECK; i++) {
		struct proc_info *p = proc_lookup(tgid);
		if (!p)
			return false;
		if (p->exe_hash == path_hash && p->exe_len)
			return true;
		if (p->ppid == tgid || p->ppid <= 1)
			return false;
		tgid = p->ppid;
	}
	return false;
}

/* ---------------------------------------------------------------- bursts */

#define DETECTOR_SLOTS 7 /* index = enum vigil_detector (5, the XDP SYN scan, counts elsewhere) */

/* Per detector: threshold of distinct items, and the window they must fall in. */
const volatile __u32 cfg_burst_threshold[DETECTOR_SLOTS] __weak = { 0, 15, 50, 5, 4, 0, 20 };
const volatile __u64 cfg_burst_window_ns[DETECTOR_SLOTS] __weak = {
	0, 10000000000ULL, 10000000000ULL, 60000000000ULL, 10000000000ULL, 0, 60000000000ULL,
};

struct burst_state {
	__u64 start[DETECTOR_SLOTS];
	__u32 count[DETECTOR_SLOTS];
	__u32 reported[DETECTOR_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32); /* tgid (discovery: the parent's) */
	__type(value, struct burst_state);
} bursts SEC(".maps") __weak;

struct burst_item {
	__u32 tgid;
	__u32 detector;
	__u64 window_start;
	__u64 item;
};

/* Distinct items seen per (process, detector, window). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct burst_item);
	__type(value, __u8);
} burst_seen SEC(".maps") __weak;

/*
 * The item this CPU counted last, and its window: a process reading the same file again
 * and again (a service polling /etc/hostname) is answered here, without the two LRU
 * lookups of burst_add. Only skips what burst_seen would also call "already counted".
 */
struct burst_last {
	__u64 item;
	__u64 window_start;
	__u32 tgid;
	__u32 detector;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct burst_last);
} burst_last_counted SEC(".maps") __weak;

/*
 * Copy-and-delete (ransomware that writes an encrypted copy beside each file, then
 * unlinks the original): files a process created whose name has an extension, keyed by
 * (process, hash of the path without that last extension). Unlinking a path found here
 * counts toward VIGIL_DETECT_COPY_DELETE.
 */
struct fresh_copy_key {
	__u32 tgid;
	__u32 pad;
	__u64 stem_hash;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct fresh_copy_key);
	__type(value, __u64); /* when created, boot ns */
} fresh_copies SEC(".maps") __weak;

/* Did this process create <path>.<ext> within the copy-and-delete window? */
static __always_inline bool fresh_copy_of(__u32 tgid, __u64 path_hash)
{
	struct fresh_copy_key k = { .tgid = tgid, .stem_hash = path_hash };
	__u64 *t = bpf_map_lookup_elem(&fresh_copies, &k);
	return t && bpf_ktime_get_boot_ns() - *t <= cfg_burst_window_ns[VIGIL_DETECT_COPY_DELETE];
}

/* Commands counted as discovery (comm of the new image), filled by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, char[VIGIL_COMM_LEN]);
	__type(value, __u8);
} discovery_cmds SEC(".maps") __weak;

/* FNV-1a hashes of host-fingerprint file paths, filled by the agent. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u64);
	__type(value, __u8);
} fingerprint_paths SEC(".maps") __weak;

/*
 * Counts a distinct item for (tgid, detector). Returns the count when this item makes
 * the burst cross its threshold for the first time in the window, else 0.
 * *window_start receives the window's start.
 */
static __always_inline __u32 burst_add(__u32 tgid, __u32 detector, __u64 item, __u64 *window_start)
{
	if (detector == 0 || detector >= DETECTOR_SLOTS || !cfg_burst_threshold[detector])
		return 0;
	__u32 d = detector & 7;
	if (d >= DETECTOR_SLOTS)
		return 0;
	__u64 now = bpf_ktime_get_boot_ns();
	__u32 zero = 0;
	struct burst_last *last = bpf_map_lookup_elem(&burst_last_counted, &zero);
	if (last && last->item == item && last->tgid == tgid && last->detector == d &&
	    now - last->window_start <= cfg_burst_window_ns[d])
		return 0; /* counted in this window already */
	struct burst_state *st = bpf_map_lookup_elem(&bursts, &tgid);
	if (!st) {
		struct burst_state fresh = {};
		bpf_map_update_elem(&bursts, &tgid, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&bursts, &tgid);
		if (!st)
			return 0;
	}
	if (now - st->start[d] > cfg_burst_window_ns[d]) {
		st->start[d] = now;
		st->count[d] = 0;
		st->reported[d] = 0;
	}
	struct burst_item k = { .tgid = tgid, .detector = d, .window_start = st->start[d], .item = item };
	__u8 one = 1;
	if (last) {
		last->item = item;
		last->window_start = st->start[d];
		last->tgid = tgid;
		last->detector = d;
	}
	/* look first: a failing NOEXIST update of an LRU map still takes and returns a free node */
	if (bpf_map_lookup_elem(&burst_seen, &k) || bpf_map_update_elem(&burst_seen, &k, &one, BPF_NOEXIST))
		return 0; /* already counted in this window */
	st->count[d]++;
	*window_start = st->start[d];
	if (st->count[d] >= cfg_burst_threshold[d] && !st->reported[d]) {
		st->reported[d] = 1;
		return st->count[d];
	}
	return 0;
}

/*
 * Writes a detection record into rec (a buffer of at least sizeof(struct vigil_detection)
 * + 256 bytes) with the header already filled; returns its size. sample is kernel memory.
 */
static __always_inline __u32 build_detection(__u8 *rec, __u16 detector, __u32 count, __u64 window_start,
					     const void *sample, __u32 sample_len)
{
	struct vigil_detection *d = (void *)rec;
	d->hdr.kind = VIGIL_KIND_DETECTION;
	d->hdr.abi = VIGIL_ABI_VERSION;
	d->detector = detector;
	d->pad = 0;
	__u32 di = detector < DETECTOR_SLOTS ? detector : 0;
	d->count = count;
	d->threshold = cfg_burst_threshold[di];
	d->pad2 = 0;
	d->window_start_ktime = window_start;
	d->window_ns = cfg_burst_window_ns[di];
	d->pad3 = 0;
	d->pad4 = 0;
	__u32 n = sample_len < 255 ? sample_len : 255;
	d->sample_len = 0;
	if (sample && n && !bpf_probe_read_kernel(rec + sizeof(*d), n & 255, sample))
		d->sample_len = n & 255;
	return sizeof(*d) + (d->sample_len & 255);
}

/*
 * Sends a detection from task context, attributed to tgid (the current process, or
 * its parent for discovery bursts). Built in the upper half of the record scratch so
 * that sample may point into the record just sent from the lower half.
 */
static __always_inline void emit_detection_task(struct record_buf *r, __u32 tgid, __u16 detector, __u32 count,
						__u64 window_start, const void *sample, __u32 sample_len)
{
	__u8 *rec = &r->data[VIGIL_RECORD_MAX / 2];
	struct vigil_hdr *h = (void *)rec;
	stat_hook(VIGIL_HOOK_DETECT, VIGIL_STAT_SEEN);
	fill_hdr(h, VIGIL_KIND_DETECTION);
	if (h->pid != tgid) {
		struct proc_info *p = proc_lookup(tgid);
		h->pid = tgid;
		h->tid = tgid;
		if (p) {
			h->uid = p->uid;
			h->gid = p->gid;
			h->cgroup_id = p->cgroup_id;
			__builtin_memcpy(h->comm, p->comm, VIGIL_COMM_LEN);
		}
	}
	__u32 size = build_detection(rec, detector, count, window_start, sample, sample_len);
	if (size > sizeof(struct vigil_detection) + 255)
		size = sizeof(struct vigil_detection) + 255;
	h->size = size;
	/* findings are rare and matter: the lifecycle ring, with a wake-up */
	if (bpf_ringbuf_output(&rb_proc, rec, size, BPF_RB_FORCE_WAKEUP))
		stat_hook(VIGIL_HOOK_DETECT, VIGIL_STAT_LOST);
	else
		stat_hook(VIGIL_HOOK_DETECT, VIGIL_STAT_SENT);
}

#endif /* VIGIL_DETECT_H */

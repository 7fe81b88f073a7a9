/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * What the rules want to see, decided in the kernel.
 *
 * The agent compiles the loaded rules into these switches and maps
 * (crates/vigil-sensor/src/filter.rs) and rewrites them on every reload:
 *   - which file operations and network/DNS records are reported at all;
 *   - for file operations whose rules only ever test certain paths, the exact paths,
 *     prefixes, basenames and suffixes they test (everything else is dropped here);
 *   - deduplication: the same fact from the same program within a window crosses once.
 * Records the kernel's own detectors produce, and the process lifecycle, always cross.
 * With `vigil run --no-kernel-filter` (or --events) every switch is open.
 */
#ifndef VIGIL_FILTER_H
#define VIGIL_FILTER_H

#include "common.h"
#include "proc_table.h"

/*
 * The switches, in one map so the agent rewrites them in one update. All-zero (no
 * entry written yet) would report nothing: the agent writes "report everything"
 * before attaching.
 */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vigil_filter_cfg);
} filter_cfg SEC(".maps") __weak;

static __always_inline struct vigil_filter_cfg *filter_get(void)
{
	__u32 zero = 0;
	return bpf_map_lookup_elem(&filter_cfg, &zero);
}


/*
 * Exact paths and prefixes: an LPM trie over path bytes, so one lookup answers both
 * "under this prefix" and "exactly this path" (an exact path is stored with its
 * terminating NUL). The value is a mask of vigil_file_op bits, plus the same
 * bits shifted by SEQ_SHIFT for paths a sequence rule follows (never deduplicated), and
 * shifted by FAIL_SHIFT for paths a rule could match when the call failed (failures are
 * judged by those bits alone); each entry carries the bits of the shorter prefixes that
 * contain it, since only the longest match is returned.
 */
#define SEQ_SHIFT 16
/* A successful open that created its file is judged by this bit (no op has this number):
 * every open rule's paths; the OPEN bit has only those of rules matching other opens. */
#define OPEN_CREATED_BIT 15
#define FAIL_SHIFT 32
#define INTEREST_KEY_LEN 256
struct interest_key {
	__u32 prefixlen; /* in bits */
	__u8 path[INTEREST_KEY_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 8192);
	__type(key, struct interest_key);
	__type(value, __u64);
	__uint(map_flags, BPF_F_NO_PREALLOC);
} file_interest SEC(".maps") __weak;

#define SUFFIX_SCAN 64
/* This CPU's copy of the path being judged: the trie key, and its last bytes for the suffix scan. */
struct interest_scratch {
	struct interest_key key;
	__u8 tail[SUFFIX_SCAN];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct interest_scratch);
} interest_scratch SEC(".maps") __weak;

/*
 * Suffixes and basenames: FNV-1a of the pattern's bytes taken from the last one
 * backwards. A basename b is stored as the suffix "/b" and looked up where the scan
 * meets the last '/'; other suffixes are looked up at their lengths (filter_cfg.suffix_lens).
 * Value: a mask of vigil_file_op bits (and SEQ_SHIFT bits, see above).
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, __u64);
	__type(value, __u64);
} file_suffixes SEC(".maps") __weak;

struct suffix_ctx {
	__u32 len;        /* bytes in interest_scratch.tail, the path's last ones */
	__u32 pad;
	__u64 op_bit;
	__u64 lens;
	__u64 first[4];
	__u64 h;
	bool slash;
	__u64 hit; /* the entry's mask */
};

static __always_inline __u64 suffix_hit(struct suffix_ctx *c)
{
	__u64 *mask = bpf_map_lookup_elem(&file_suffixes, &c->h);
	return mask && (*mask & c->op_bit) ? *mask : 0;
}

/*
 * One byte per step, read from the per-CPU copy (an inlined array lookup, not a helper
 * call per byte: this runs on every open of a path no prefix accounts for).
 */
static long suffix_step(__u32 i, void *data)
{
	struct suffix_ctx *c = data;
	__u32 zero = 0;
	struct interest_scratch *s = bpf_map_lookup_elem(&interest_scratch, &zero);
	if (!s || i >= c->len)
		return 1;
	__u8 b = s->tail[(c->len - 1 - i) & (SUFFIX_SCAN - 1)];
	c->h ^= b;
	c->h *= FNV_PRIME;
	bool look = false;
	if (b == '/' && !c->slash) {
		c->slash = true;
		look = true;
	} else if (i < 64 && ((c->lens >> i) & 1) && ((c->first[(b >> 6) & 3] >> (b & 63)) & 1)) {
		/* a suffix of i + 1 bytes starting with this byte exists: only then a lookup */
		look = true;
	}
	if (look && (c->hit = suffix_hit(c)))
		return 1;
	return 0;
}

/* Verdicts of path_interesting. */
#define PATH_UNWANTED 0
#define PATH_WANTED 1
#define PATH_WANTED_NO_DEDUP 2 /* a sequence rule may need every repetition */

/* bit: an op, or an op + FAIL_SHIFT for a failed call. */
static __always_inline __u32 path_verdict(__u64 mask, __u32 bit)
{
	if (!(mask & (1ULL << (bit & 63))))
		return PATH_UNWANTED;
	if (bit >= FAIL_SHIFT)
		return PATH_WANTED; /* never deduplicated: a failed call has no inode */
	return (mask & (1ULL << ((bit + SEQ_SHIFT) & 63))) ? PATH_WANTED_NO_DEDUP : PATH_WANTED;
}

/*
 * Does an enabled rule care about the path of len bytes at off in r, for this bit (an
 * op, or an op + FAIL_SHIFT for a failed call)?
 */
static __always_inline __u32 path_interesting(struct record_buf *r, __u32 off, __u32 len, __u32 bit)
{
	__u32 zero = 0;
	struct interest_scratch *s = bpf_map_lookup_elem(&interest_scratch, &zero);
	if (!s || !len || off >= VIGIL_RECORD_MAX || len > VIGIL_RECORD_MAX - off)
		return PATH_WANTED_NO_DEDUP;
	struct interest_key *k = &s->key;
	__u32 n = len < INTEREST_KEY_LEN - 1 ? len : INTEREST_KEY_LEN - 1;
	bpf_probe_read_kernel(k->path, n & (INTEREST_KEY_LEN - 1), &r->data[off & (VIGIL_RECORD_MAX - 1)]);
	k->path[n & (INTEREST_KEY_LEN - 1)] = 0;
	k->prefixlen = (n + 1) * 8;
	__u64 *mask = bpf_map_lookup_elem(&file_interest, k);
	if (mask && (*mask & (1ULL << (bit & 63))))
		return path_verdict(*mask, bit);
	/* no suffix or basename pattern for this bit: nothing left to compare */
	struct vigil_filter_cfg *fc = filter_get();
	if (!fc || !(fc->suffix_bits & (1ULL << (bit & 63))))
		return PATH_UNWANTED;

	/* the last SUFFIX_SCAN bytes, backwards, from one copy */
	__u32 t = len < SUFFIX_SCAN ? len : SUFFIX_SCAN;
	if (t == 0 || t > SUFFIX_SCAN)
		return PATH_WANTED_NO_DEDUP;
	if (bpf_probe_read_kernel(s->tail, t, &r->data[(off + len - t) & (VIGIL_RECORD_MAX - 1)]))
		return PATH_WANTED_NO_DEDUP;
	struct suffix_ctx c = {
		.len = t,
		.op_bit = 1ULL << (bit & 63),
		.lens = fc->suffix_lens,
		.first = { fc->suffix_first[0], fc->suffix_first[1], fc->suffix_first[2], fc->suffix_first[3] },
		.h = FNV_OFFSET,
	};
	bpf_loop(SUFFIX_SCAN, suffix_step, &c, 0);
	return path_verdict(c.hit, bit);
}

/*
 * A path built by joining a directory and the string the process passed may hold
 * "//", "/./" or "/../", which userspace folds before the rules see it; the patterns
 * would then be compared with the wrong string, so such a path is never dropped here.
 */
struct unclean_ctx {
	const __u8 *base;
	__u32 len;
	bool unclean;
};

static long unclean_step(__u32 i, void *data)
{
	struct unclean_ctx *c = data;
	if (i >= c->len)
		return 1;
	__u8 w[4] = {};
	/* the record buffer has slack after any string, so reading a word is safe */
	if (bpf_probe_read_kernel(w, sizeof(w), c->base + i))
		return 1;
	if (w[0] != '/')
		return 0;
	__u32 left = c->len - i - 1; /* bytes after this '/' */
	if ((left >= 1 && w[1] == '/') || (left >= 1 && w[1] == '.' && (left == 1 || w[2] == '/')) ||
	    (left >= 2 && w[1] == '.' && w[2] == '.' && (left == 2 || w[3] == '/'))) {
		c->unclean = true;
		return 1;
	}
	return 0;
}

static __always_inline bool path_unclean(struct record_buf *r, __u32 off, __u32 len)
{
	if (off >= VIGIL_RECORD_MAX)
		return true;
	struct unclean_ctx c = { .base = &r->data[off & (VIGIL_RECORD_MAX - 1)], .len = len, .unclean = false };
	bpf_loop(VIGIL_PATH_MAX, unclean_step, &c, 0);
	return c.unclean;
}

/* ---------------------------------------------------------------- open verdict cache */

/*
 * Most opens are of files opened before (headers, libraries, configuration): the
 * verdict "no rule wants this path" is remembered per opened object so that the next
 * open of it skips the path walk and the interest lookups. The key names the path
 * exactly: the dentry (name and parent), the mount it was reached through, the
 * process's root (paths stop there) and the inode with its generation (a reused
 * dentry address with a new file does not match). What can still change a path under
 * a cached key (a rename of the file or of any directory above it, a mount, an
 * unmount) bumps path_epoch; a new filter bumps filter_cfg.generation. Either makes
 * every cached verdict stale.
 */
struct open_verdict_key {
	__u64 dentry;
	__u64 mnt;
	__u64 root;
	__u64 ino;
	__u32 dev;
	__u32 igen;
};

struct open_verdict {
	__u64 epoch;
	__u32 generation;
	__u32 pad;
	__u64 fingerprint; /* path hash when the path is a fingerprint file (detect.h), else 0 */
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct open_verdict_key);
	__type(value, struct open_verdict);
} open_verdicts SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} path_epoch SEC(".maps") __weak;

static __always_inline __u64 path_epoch_now(void)
{
	__u32 zero = 0;
	__u64 *e = bpf_map_lookup_elem(&path_epoch, &zero);
	return e ? *e : 0;
}

/* After a successful rename, mount, unmount or pivot_root: paths may have changed. */
static __always_inline void path_epoch_bump(void)
{
	__u32 zero = 0;
	__u64 *e = bpf_map_lookup_elem(&path_epoch, &zero);
	if (e)
		__sync_fetch_and_add(e, 1);
}

/* ---------------------------------------------------------------- deduplication */

/*
 * "This program already did exactly this to this file": the process, the program it
 * runs (exec time), the syscall, its outcome and flags, and the inode. An entry older
 * than the window is sent again, so a long-running process is seen periodically.
 */
struct file_dedup_key {
	__u32 tgid;
	__u32 uid;
	__u16 nr;
	__u16 op;
	__u32 flags;
	__u32 mode;
	__u32 dev;
	__u64 ino;
	__s64 ret_class; /* 0 on success, else -errno */
};

/* The same for network calls: connect() to a peer as asked for, socket() of a kind, and the outcome. */
struct net_dedup_key {
	__u32 tgid;
	__u32 uid;
	__u16 op;     /* vigil_net_op */
	__u16 family;
	__u16 port;   /* connect: the peer's; socket: the protocol */
	__u16 type;   /* socket: the type */
	__s32 ret;    /* 0 or -errno (a new fd counts as 0) */
	__u8 addr[16];
};

struct dedup_val {
	__u64 exec_ktime;
	__u64 last_sent;
	__u32 generation;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct file_dedup_key);
	__type(value, struct dedup_val);
} file_dedup SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct net_dedup_key);
	__type(value, struct dedup_val);
} net_dedup SEC(".maps") __weak;

/*
 * Rules that follow a sequence of events within a time window need every repetition
 * (the last one may be the one inside the window): the agent does not deduplicate the
 * event types any sequence rule uses.
 *
 * True if the fact under key was sent within the window by the same program of the
 * same process (then the caller drops it); otherwise records it as sent now.
 */
static __always_inline bool dedup_hit(void *map, const void *key, __u32 tgid, bool file, __u16 op)
{
	struct vigil_filter_cfg *fc = filter_get();
	if (!fc || !fc->dedup_window_ns || !((file ? fc->file_dedup_mask : fc->net_dedup_mask) & (1u << op)))
		return false;
	struct proc_info *p = proc_lookup(tgid);
	if (!p)
		return false;
	__u64 now = bpf_ktime_get_boot_ns();
	struct dedup_val *v = bpf_map_lookup_elem(map, key);
	if (v && v->exec_ktime == p->exec_ktime && v->generation == fc->generation &&
	    now - v->last_sent < fc->dedup_window_ns)
		return true;
	struct dedup_val nv = { .exec_ktime = p->exec_ktime, .last_sent = now, .generation = fc->generation };
	bpf_map_update_elem(map, key, &nv, BPF_ANY);
	return false;
}

/* Does a rule want network records of this kind (vigil_net_op or VIGIL_EMIT_DNS_*)? If not, counted as filtered. */
static __always_inline bool net_record_wanted(__u32 bit, __u32 hook)
{
	struct vigil_filter_cfg *fc = filter_get();
	if (fc && (fc->net_emit_mask & (1u << bit)))
		return true;
	stat_hook(hook, VIGIL_STAT_FILTERED);
	return false;
}

/* Is this file op reported at all / only for paths of interest? */
static __always_inline bool file_op_reported(__u16 op)
{
	struct vigil_filter_cfg *fc = filter_get();
	return fc && (fc->file_op_mask & (1u << op));
}

/* Could a rule match a failed call of this op? */
static __always_inline bool file_failure_reported(__u16 op)
{
	struct vigil_filter_cfg *fc = filter_get();
	return fc && (fc->file_fail_mask & (1u << op));
}

/* ... only on paths of interest to such a rule? */
static __always_inline bool file_failure_path_filtered(__u16 op)
{
	struct vigil_filter_cfg *fc = filter_get();
	return fc && (fc->file_fail_path_mask & (1u << op));
}

static __always_inline bool file_op_path_filtered(__u16 op)
{
	struct vigil_filter_cfg *fc = filter_get();
	return fc && (fc->file_path_mask & (1u << op));
}

#endif /* VIGIL_FILTER_H */

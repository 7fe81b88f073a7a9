/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Enforcement policies, decided in the kernel at the hook that sees the event.
 *
 * The agent compiles every rule with `action: kill` or `action: deny` into up to
 * VIGIL_POLICY_MAX policies (crates/vigil-rules/src/policy.rs: one per conjunction of
 * the rule's condition) and writes them here (crates/vigil-sensor/src/policy.rs).
 * Each policy is one bit. A predicate on one dimension (executable, name, parent name,
 * uid, remote network, port, DNS name) is a map entry whose value says which policies
 * it satisfies (`pos`) and which it rules out (`neg`, for `not ...`); a policy without
 * a positive predicate on a dimension is in that dimension's `dont_care` mask. The
 * policies an event matches are the AND over dimensions of
 *     (pos | dont_care) & ~neg
 * and the flag predicates (exec flags such as "written moments ago" or "stdio is a
 * socket", and "in a container"; see policy_flags). A handful of map lookups per exec
 * or connect.
 *
 * Reloads are atomic: every key carries a generation byte, the agent fills the
 * inactive generation and then flips policy_active; a decision reads the active
 * generation once and uses it throughout.
 *
 * Safety: pid 1, the agent, kernel threads and allowlisted executables are never acted
 * on (their verdict is VIGIL_VERDICT_EXEMPT, still reported).
 */
#ifndef VIGIL_POLICY_H
#define VIGIL_POLICY_H

#include "common.h"
#include "proc_table.h"
#include "net.h"

#define PF_KTHREAD_VAL 0x00200000
#define PROC_PID_INIT_INO_VAL 0xEFFFFFFCU
#define SIGKILL_VAL 9

struct policy_set {
	__u64 on_exec;      /* policies decided at exec */
	__u64 on_connect;   /* ... at connect(2) and sendmsg(2) (cgroup sock_addr hooks) */
	__u64 enforce;      /* policies that act; the others report what they would have done */
	__u64 kill;         /* action kill (the others deny) */
	__u64 dont_care[VIGIL_POLICY_DIMS];
};

struct policy_bits {
	__u64 pos;
	__u64 neg;
};

/* Names, uids, ports and DNS name hashes. */
struct policy_key {
	__u8 gen;
	__u8 dim;   /* enum vigil_policy_dim, or VIGIL_POLICY_KEY_DNS_SUFFIX */
	__u16 pad;
	__u32 pad2;
	__u8 val[16];
};

/* Executable paths: exact (stored with their NUL) or prefixes; LPM over gen + path. */
struct policy_exe_key {
	__u32 prefixlen;
	__u8 gen;
	char path[VIGIL_POLICY_PATH_MAX];
};

struct policy_exe_val {
	__u64 pos;  /* includes the bits of every shorter prefix that contains this entry */
	__u64 neg;
	__u32 allow; /* under an allowlisted prefix: never acted on */
	__u32 pad;
};

/* Remote networks: LPM over gen, family (4 or 6) and the address. */
struct policy_net_key {
	__u32 prefixlen;
	__u8 gen;
	__u8 family;
	__u8 addr[16];
};

/* The verdict of a connect, from the cgroup hook to the syscall's exit (the record). */
struct policy_pending {
	__u16 verdict;
	__u16 policy;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} policy_active SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct policy_set);
} policy_sets SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct policy_key);
	__type(value, struct policy_bits);
} policy_keys SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 2048);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct policy_exe_key);
	__type(value, struct policy_exe_val);
} policy_exes SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 4096);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct policy_net_key);
	__type(value, struct policy_bits);
} policy_nets SEC(".maps") __weak;

/* Matches per policy slot and generation: [gen * VIGIL_POLICY_MAX + slot]. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * VIGIL_POLICY_MAX);
	__type(key, __u32);
	__type(value, __u64);
} policy_hits SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct policy_pending);
} policy_pending SEC(".maps") __weak;

/* The exe key is too large for the stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct policy_exe_key);
} policy_scratch SEC(".maps") __weak;

/* The policies in force (NULL when there are none, which costs one lookup). */
static __always_inline struct policy_set *policy_current(__u8 *gen)
{
	__u32 zero = 0;
	__u32 *g = bpf_map_lookup_elem(&policy_active, &zero);
	if (!g)
		return NULL;
	__u32 k = *g & 1;
	*gen = k;
	return bpf_map_lookup_elem(&policy_sets, &k);
}

static __always_inline __u64 policy_dim(struct policy_set *s, __u8 gen, __u8 dim, const void *val, __u32 len)
{
	struct policy_key k = {};
	k.gen = gen;
	k.dim = dim;
	if (len > sizeof(k.val))
		len = sizeof(k.val);
	bpf_probe_read_kernel(k.val, len, val);
	struct policy_bits *b = bpf_map_lookup_elem(&policy_keys, &k);
	__u64 dc = dim < VIGIL_POLICY_DIMS ? s->dont_care[dim & 7] : 0;
	if (!b)
		return dc;
	return (b->pos | dc) & ~b->neg;
}

/* Looks the executable path up; *allow says whether it is allowlisted. */
static __always_inline __u64 policy_exe(struct policy_set *s, __u8 gen, const char *path, __u32 len, bool *allow)
{
	__u32 zero = 0;
	__u64 dc = s->dont_care[VIGIL_POLICY_DIM_EXE];
	struct policy_exe_key *k = bpf_map_lookup_elem(&policy_scratch, &zero);
	*allow = false;
	if (!k)
		return dc;
	/* room for the path and its NUL; a longer path is cut and can only match prefixes */
	bool whole = len < VIGIL_POLICY_PATH_MAX - 1;
	if (len > VIGIL_POLICY_PATH_MAX - 1)
		len = VIGIL_POLICY_PATH_MAX - 1;
	k->gen = gen;
	if (bpf_probe_read_kernel(k->path, len, path))
		len = 0;
	if (whole)
		k->path[len] = 0;
	/* an exact path is stored with its NUL; a truncated one can only match prefixes */
	k->prefixlen = 8 * (1 + len + (whole ? 1 : 0));
	struct policy_exe_val *v = bpf_map_lookup_elem(&policy_exes, k);
	if (!v)
		return dc;
	*allow = v->allow != 0;
	return (v->pos | dc) & ~v->neg;
}

/*
 * The flags policies can test (vigil_rules::policy::Flag), packed into a 7-bit index:
 * exec flags EXE_DELETED, EXE_MEMFD, EXE_UPPER (bits 3-5), SECUREEXEC (10),
 * RECENTLY_WRITTEN (14), and the policy flags STDIO_SOCKET (30) and CONTAINER (31).
 * policy_flag_masks[gen * 128 + index] holds the policies whose flag tests that
 * combination passes: one lookup and no branch (a branch per flag would multiply the
 * exec hook's paths for the verifier).
 */
#define POLICY_FLAG_COMBOS 128

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2 * POLICY_FLAG_COMBOS);
	__type(key, __u32);
	__type(value, __u64);
} policy_flag_masks SEC(".maps") __weak;

static __always_inline __u64 policy_flags(__u8 gen, __u64 mask, __u32 f)
{
	__u32 idx = ((f >> 3) & 7) | (((f >> 10) & 1) << 3) | (((f >> 14) & 1) << 4) | (((f >> 30) & 3) << 5);
	__u32 k = (gen & 1) * POLICY_FLAG_COMBOS + (idx & (POLICY_FLAG_COMBOS - 1));
	__u64 *ok = bpf_map_lookup_elem(&policy_flag_masks, &k);
	return ok ? mask & *ok : 0;
}

/* The process predicates: executable, name, parent's name, uid, flags. */
static __always_inline __u64 policy_process(struct policy_set *s, __u8 gen, __u64 mask, const char *exe, __u32 exe_len,
					    const char comm[VIGIL_COMM_LEN], const char pcomm[VIGIL_COMM_LEN], __u32 uid,
					    __u32 flags, bool *allow)
{
	mask &= policy_exe(s, gen, exe, exe_len, allow);
	if (mask)
		mask &= policy_dim(s, gen, VIGIL_POLICY_DIM_NAME, comm, VIGIL_COMM_LEN);
	if (mask)
		mask &= policy_dim(s, gen, VIGIL_POLICY_DIM_PNAME, pcomm, VIGIL_COMM_LEN);
	if (mask)
		mask &= policy_dim(s, gen, VIGIL_POLICY_DIM_UID, &uid, sizeof(uid));
	return policy_flags(gen, mask, flags);
}

/*
 * The first policy of mask (earlier rules win): the index of the lowest set bit, as the
 * population count of the bits below it, without a loop or a branch.
 */
static __always_inline __u32 policy_first(__u64 mask)
{
	__u64 x = (mask & -mask) - 1;
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (x * 0x0101010101010101ULL) >> 56;
}

static __always_inline void policy_count(__u8 gen, __u32 slot)
{
	__u32 k = (gen & 1) * VIGIL_POLICY_MAX + (slot & (VIGIL_POLICY_MAX - 1));
	__u64 *n = bpf_map_lookup_elem(&policy_hits, &k);
	if (n)
		*n += 1;
}

/* Never acted on: pid 1, the agent, kernel threads, allowlisted executables. */
static __always_inline bool policy_exempt(__u32 tgid, bool kthread, bool allow)
{
	return tgid == 1 || tgid == cfg_agent_tgid || kthread || allow;
}

/* The synthetic policy flags: in a container, and any stdio fd a socket. */
static __always_inline __u32 policy_flags_of(__u32 exec_flags, __u32 pid_ns)
{
	__u32 f = exec_flags;
	if (pid_ns && pid_ns != PROC_PID_INIT_INO_VAL)
		f |= 1u << VIGIL_POLICY_FLAG_CONTAINER;
	if (exec_flags & (VIGIL_EXEC_STDIN_SOCKET | VIGIL_EXEC_STDOUT_SOCKET | VIGIL_EXEC_STDERR_SOCKET))
		f |= 1u << VIGIL_POLICY_FLAG_STDIO_SOCKET;
	return f;
}

/*
 * Exec: kill before the new image runs an instruction. SIGKILL queued here is delivered
 * on the way back to user mode from execve; the program never runs. A `deny` policy is
 * a kill too at this hook (BPF LSM's bprm_check_security would fail the execve
 * instead; this kernel refuses LSM programs). A subprogram, not inlined: the exec hook's
 * own paths are then verified once, not once per outcome of the policy.
 */
static __noinline void policy_on_exec(struct vigil_exec *e, struct task_struct *task, const char *exe,
				      __u32 exe_len)
{
	__u8 gen = 0;
	e->verdict = VIGIL_VERDICT_NONE;
	e->policy = 0;
	struct policy_set *s = policy_current(&gen);
	if (!s || !s->on_exec)
		return;
	char pcomm[VIGIL_COMM_LEN] = {};
	BPF_CORE_READ_INTO(&pcomm, task, real_parent, comm);
	bool allow = false;
	__u32 flags = policy_flags_of(e->flags, e->pid_ns);
	__u64 mask = policy_process(s, gen, s->on_exec, exe, exe_len, e->hdr.comm, pcomm, e->hdr.uid, flags, &allow);
	if (!mask)
		return;
	__u32 slot = policy_first(mask);
	__u64 bit = 1ULL << (slot & (VIGIL_POLICY_MAX - 1));
	policy_count(gen, slot);
	e->policy = slot + 1;
	bool kthread = BPF_CORE_READ(task, flags) & PF_KTHREAD_VAL;
	if (policy_exempt(e->hdr.pid, kthread, allow))
		e->verdict = VIGIL_VERDICT_EXEMPT;
	else if (!(s->enforce & bit))
		e->verdict = (s->kill & bit) ? VIGIL_VERDICT_WOULD_KILL : VIGIL_VERDICT_WOULD_DENY;
	else
		e->verdict = bpf_send_signal(SIGKILL_VAL) ? VIGIL_VERDICT_FAILED : VIGIL_VERDICT_KILLED;
}

/*
 * A TCP or UDP destination (connect, sendmsg): returns 1 to let it through, 0 to fail it
 * with EPERM. addr: IPv4 in the first 4 bytes, or IPv6. The verdict waits in
 * policy_pending for the syscall's exit, which puts it in the connect record.
 */
static __always_inline int policy_on_connect(__u16 family, const __u8 addr[16], __u16 port)
{
	__u8 gen = 0;
	struct policy_set *s = policy_current(&gen);
	if (!s || !s->on_connect)
		return 1;
	__u64 id = bpf_get_current_pid_tgid();
	__u32 tgid = id >> 32;
	struct proc_info *p = proc_lookup(tgid);
	char comm[VIGIL_COMM_LEN] = {};
	char pcomm[VIGIL_COMM_LEN] = {};
	const char *exe = "";
	__u32 exe_len = 0, flags = 0;
	if (p) {
		__builtin_memcpy(comm, p->comm, VIGIL_COMM_LEN);
		exe = p->exe;
		exe_len = p->exe_len;
		flags = policy_flags_of((p->flags & PROC_STDIO_SOCKETS) * VIGIL_EXEC_STDIN_SOCKET, p->pid_ns);
		struct proc_info *pp = proc_lookup(p->ppid);
		if (pp)
			__builtin_memcpy(pcomm, pp->comm, VIGIL_COMM_LEN);
	} else {
		bpf_get_current_comm(comm, sizeof(comm));
	}
	bool allow = false;
	__u32 uid = (__u32)bpf_get_current_uid_gid();
	__u64 mask = policy_process(s, gen, s->on_connect, exe, exe_len, comm, pcomm, uid, flags, &allow);
	if (!mask)
		return 1;

	struct policy_net_key nk = {};
	nk.prefixlen = 16 + (family == AF_INET6_VAL ? 128 : 32);
	nk.gen = gen;
	nk.family = family == AF_INET6_VAL ? 6 : 4;
	__builtin_memcpy(nk.addr, addr, 16);
	struct policy_bits *nb = bpf_map_lookup_elem(&policy_nets, &nk);
	__u64 dc = s->dont_care[VIGIL_POLICY_DIM_NET];
	mask &= nb ? (nb->pos | dc) & ~nb->neg : dc;
	if (mask)
		mask &= policy_dim(s, gen, VIGIL_POLICY_DIM_PORT, &port, sizeof(port));
	if (mask & ~s->dont_care[VIGIL_POLICY_DIM_DNS]) {
		/*
		 * The names this address was resolved from (in-kernel DNS map): each name is
		 * hashed from its last byte backwards; at a label boundary the hash so far is
		 * a suffix (".evil.example" matches "x.evil.example"), at the name's start
		 * the whole name.
		 */
		struct ip_key k = {};
		__builtin_memcpy(k.addr, addr, 16);
		struct ip_names *n = bpf_map_lookup_elem(&ip_names, &k);
		__u64 pos = 0, neg = 0;
		if (n) {
			__u32 len = n->len < IP_NAMES_LEN ? n->len : IP_NAMES_LEN;
			__u64 h = FNV_OFFSET;
			for (__u32 j = 0; j < IP_NAMES_LEN; j++) {
				if (j >= len)
					break;
				__u32 i = (len - 1 - j) & (IP_NAMES_LEN - 1);
				char c = n->names[i];
				if (c == 0) {
					h = FNV_OFFSET;
					continue;
				}
				if (c >= 'A' && c <= 'Z')
					c += 'a' - 'A';
				h ^= (__u8)c;
				h *= FNV_PRIME;
				char before = i ? n->names[(i - 1) & (IP_NAMES_LEN - 1)] : 0;
				if (before != '.' && before != 0)
					continue;
				struct policy_key pk = {};
				pk.gen = gen;
				pk.dim = before == '.' ? VIGIL_POLICY_KEY_DNS_SUFFIX : VIGIL_POLICY_DIM_DNS;
				__builtin_memcpy(pk.val, &h, sizeof(h));
				struct policy_bits *b = bpf_map_lookup_elem(&policy_keys, &pk);
				if (b) {
					pos |= b->pos;
					neg |= b->neg;
				}
			}
		}
		mask &= (pos | s->dont_care[VIGIL_POLICY_DIM_DNS]) & ~neg;
	}
	if (!mask)
		return 1;

	__u32 slot = policy_first(mask);
	__u64 bit = 1ULL << (slot & (VIGIL_POLICY_MAX - 1));
	policy_count(gen, slot);
	struct policy_pending v = { .policy = slot + 1 };
	int pass = 1;
	if (policy_exempt(tgid, false, allow)) {
		v.verdict = VIGIL_VERDICT_EXEMPT;
	} else if (!(s->enforce & bit)) {
		v.verdict = (s->kill & bit) ? VIGIL_VERDICT_WOULD_KILL : VIGIL_VERDICT_WOULD_DENY;
	} else {
		/* a kill policy fails the call too, and the syscall's exit sends the signal */
		v.verdict = (s->kill & bit) ? VIGIL_VERDICT_KILLED : VIGIL_VERDICT_DENIED;
		pass = 0;
	}
	bpf_map_update_elem(&policy_pending, &id, &v, BPF_ANY);
	return pass;
}

/* At the exit of connect: the verdict of the cgroup hook, if any (consumed). */
static __always_inline bool policy_take_pending(struct policy_pending *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct policy_pending *v = bpf_map_lookup_elem(&policy_pending, &id);
	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&policy_pending, &id);
	if (out->verdict == VIGIL_VERDICT_KILLED && bpf_send_signal(SIGKILL_VAL))
		out->verdict = VIGIL_VERDICT_FAILED;
	return true;
}

#endif /* VIGIL_POLICY_H */

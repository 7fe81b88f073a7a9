// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * XDP on the interfaces the agent is told to guard (`--xdp IFACE`), before the stack
 * sees a packet:
 *   - deny lists: packets from a source in xdp_deny (CIDR, LPM) are dropped and
 *     counted per entry;
 *   - a SYN-scan detector: TCP SYNs from one source to cfg_xdp_scan_ports distinct
 *     destination ports within cfg_xdp_scan_window_ns raise a detection record
 *     (VIGIL_DETECT_SYN_SCAN); with cfg_xdp_scan_drop the source's packets are then
 *     dropped for cfg_xdp_ban_ns.
 * Distinct ports are counted in a 1024-bit set per source (port mod 1024): two ports
 * 1024 apart count once, so a scan is reported at or after its threshold, never before.
 */
#include "common.h"
#include "net.h"

#define ETH_HLEN_VAL 14
#define ETH_P_IP_BE 0x0008
#define ETH_P_IPV6_BE 0xDD86
#define IPPROTO_TCP_VAL 6
#define XDP_SCAN_BITS 1024

const volatile __u32 cfg_xdp_scan_ports __weak = 0; /* 0: the scan detector is off */
const volatile __u64 cfg_xdp_scan_window_ns __weak = 5000000000ULL;
const volatile __u64 cfg_xdp_ban_ns __weak = 60000000000ULL;
const volatile __u32 cfg_xdp_scan_drop __weak = 0;

struct xdp_deny_key {
	__u32 prefixlen;
	__u8 family; /* 4 or 6 */
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 16384);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xdp_deny_key);
	__type(value, __u32); /* the entry's index, for xdp_deny_hits */
} xdp_deny SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} xdp_deny_hits SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, VIGIL_XDP_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} xdp_stats SEC(".maps") __weak;

struct xdp_src_key {
	__u8 family;
	__u8 pad[3];
	__u8 addr[16];
};

struct xdp_scan_state {
	__u64 window_start;
	__u64 banned_until;
	__u32 ports;    /* distinct ports in the window */
	__u32 reported; /* a detection was sent for this window */
	__u64 seen[XDP_SCAN_BITS / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct xdp_src_key);
	__type(value, struct xdp_scan_state);
} xdp_scan SEC(".maps") __weak;

/* The detection record: built here (no task context, no record scratch in softirq). */
struct xdp_record {
	struct vigil_detection d;
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdp_record);
} xdp_record_scratch SEC(".maps") __weak;

static __always_inline void xdp_count(__u32 stat)
{
	__u64 *n = bpf_map_lookup_elem(&xdp_stats, &stat);
	if (n)
		*n += 1;
}

static __always_inline void xdp_report_scan(struct xdp_src_key *src, __u16 port, struct xdp_scan_state *st)
{
	__u32 zero = 0;
	struct xdp_record *r = bpf_map_lookup_elem(&xdp_record_scratch, &zero);
	if (!r)
		return;
	__builtin_memset(r, 0, sizeof(*r));
	r->d.hdr.kind = VIGIL_KIND_DETECTION;
	r->d.hdr.abi = VIGIL_ABI_VERSION;
	/* the sample right after the fixed part (the struct itself is padded to 8 bytes) */
	const __u32 size = sizeof(r->d) + sizeof(r->family) + sizeof(r->port) + sizeof(r->addr);
	r->d.hdr.size = size;
	r->d.hdr.ktime = bpf_ktime_get_boot_ns();
	r->d.detector = VIGIL_DETECT_SYN_SCAN;
	r->d.count = st->ports;
	r->d.threshold = cfg_xdp_scan_ports;
	r->d.window_start_ktime = st->window_start;
	r->d.window_ns = cfg_xdp_scan_window_ns;
	r->d.sample_len = sizeof(r->family) + sizeof(r->port) + sizeof(r->addr);
	r->family = src->family == 6 ? AF_INET6_VAL : AF_INET_VAL;
	r->port = port;
	__builtin_memcpy(r->addr, src->addr, 16);
	xdp_count(VIGIL_XDP_SCANS);
	if (bpf_ringbuf_output(&rb_proc, r, size, BPF_RB_FORCE_WAKEUP))
		xdp_count(VIGIL_XDP_LOST);
}

/* Counts a SYN; returns true when the source is a banned scanner whose packets drop. */
static __always_inline bool xdp_scan_syn(struct xdp_src_key *src, __u16 port)
{
	__u64 now = bpf_ktime_get_boot_ns();
	struct xdp_scan_state *st = bpf_map_lookup_elem(&xdp_scan, src);
	if (!st) {
		struct xdp_scan_state fresh = {};
		fresh.window_start = now;
		bpf_map_update_elem(&xdp_scan, src, &fresh, BPF_NOEXIST);
		st = bpf_map_lookup_elem(&xdp_scan, src);
		if (!st)
			return false;
	}
	xdp_count(VIGIL_XDP_SYN);
	if (now - st->window_start > cfg_xdp_scan_window_ns) {
		st->window_start = now;
		st->ports = 0;
		st->reported = 0;
		__builtin_memset(st->seen, 0, sizeof(st->seen));
	}
	__u32 b = port & (XDP_SCAN_BITS - 1);
	__u64 bit = 1ULL << (b & 63);
	if (!(st->seen[(b >> 6) & (XDP_SCAN_BITS / 64 - 1)] & bit)) {
		st->seen[(b >> 6) & (XDP_SCAN_BITS / 64 - 1)] |= bit;
		st->ports++;
		if (st->ports >= cfg_xdp_scan_ports && !st->reported) {
			st->reported = 1;
			if (cfg_xdp_scan_drop)
				st->banned_until = now + cfg_xdp_ban_ns;
			xdp_report_scan(src, port, st);
		}
	}
	return false;
}

static __always_inline bool xdp_banned(struct xdp_src_key *src)
{
	struct xdp_scan_state *st = bpf_map_lookup_elem(&xdp_scan, src);
	return st && st->banned_until && bpf_ktime_get_boot_ns() < st->banned_until;
}

SEC("xdp")
int xdp_guard(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	if (data + ETH_HLEN_VAL > end)
		return XDP_PASS;
	xdp_count(VIGIL_XDP_PACKETS);
	__u16 proto = *(__u16 *)(data + 12);
	struct xdp_src_key src = {};
	__u8 l4 = 0;
	void *l4p = NULL;
	if (proto == ETH_P_IP_BE) {
		struct iphdr *ip = data + ETH_HLEN_VAL;
		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		src.family = 4;
		__builtin_memcpy(src.addr, &ip->saddr, 4);
		l4 = ip->protocol;
		l4p = (void *)ip + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6_BE) {
		struct ipv6hdr *ip6 = data + ETH_HLEN_VAL;
		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		src.family = 6;
		__builtin_memcpy(src.addr, &ip6->saddr, 16);
		l4 = ip6->nexthdr; /* extension headers are not followed: such SYNs are not counted */
		l4p = (void *)(ip6 + 1);
	} else {
		return XDP_PASS;
	}

	struct xdp_deny_key dk = {};
	dk.prefixlen = 8 + (src.family == 6 ? 128 : 32);
	dk.family = src.family;
	__builtin_memcpy(dk.addr, src.addr, 16);
	__u32 *idx = bpf_map_lookup_elem(&xdp_deny, &dk);
	if (idx) {
		__u32 i = *idx;
		__u64 *n = bpf_map_lookup_elem(&xdp_deny_hits, &i);
		if (n)
			*n += 1;
		xdp_count(VIGIL_XDP_DROP_DENY);
		return XDP_DROP;
	}
	if (!cfg_xdp_scan_ports)
		return XDP_PASS;
	if (cfg_xdp_scan_drop && xdp_banned(&src)) {
		xdp_count(VIGIL_XDP_DROP_SCANNER);
		return XDP_DROP;
	}
	if (l4 == IPPROTO_TCP_VAL) {
		struct tcphdr *tcp = l4p;
		if ((void *)(tcp + 1) > end)
			return XDP_PASS;
		if (tcp->syn && !tcp->ack)
			xdp_scan_syn(&src, bswap16(tcp->dest));
	}
	return XDP_PASS;
}

/* SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0) */
/*
 * Network state kept in the kernel: flows by socket cookie, the DNS names each remote
 * address was resolved from, and which peers each process already sent datagrams to.
 */
#ifndef VIGIL_NET_H
#define VIGIL_NET_H

#include "common.h"

#define AF_UNIX_VAL 1
#define AF_INET_VAL 2
#define AF_INET6_VAL 10
#define AF_PACKET_VAL 17
#define IPPROTO_TCP_VAL 6
#define IPPROTO_UDP_VAL 17
#define S_IFSOCK_VAL 0140000

/* TCP states, as in include/net/tcp_states.h */
#define TCP_ESTABLISHED_VAL 1
#define TCP_SYN_SENT_VAL 2
#define TCP_SYN_RECV_VAL 3
#define TCP_FIN_WAIT1_VAL 4
#define TCP_FIN_WAIT2_VAL 5
#define TCP_CLOSE_VAL 7
#define TCP_CLOSE_WAIT_VAL 8
#define TCP_LAST_ACK_VAL 9
#define TCP_CLOSING_VAL 11

#define FLOW_STARTED (1u << 0)      /* FLOW_START was sent */
#define FLOW_ATTRIBUTED (1u << 1)   /* pid/comm describe the owning process */

struct flow_info {
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u32 gid;
	__u64 cgroup_id;
	char comm[VIGIL_COMM_LEN];
	__u16 family;
	__u16 sock_type;
	__u16 protocol;
	__u16 direction;
	__u16 lport;
	__u16 rport;
	__u32 state;        /* FLOW_* */
	__u32 net_flags;    /* VIGIL_NET_* carried to FLOW_END */
	__u32 closer_pid;
	__u8 laddr[16];
	__u8 raddr[16];
	__u64 start_ktime;
	__u64 last_ktime;
	__u64 last_report_ktime;
	__u64 bytes_out;
	__u64 bytes_in;
	__u64 pkts_out;
	__u64 pkts_in;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64); /* socket cookie */
	__type(value, struct flow_info);
} flow_table SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct flow_info);
} flow_scratch SEC(".maps") __weak;

/* Names an address was resolved from: "name\0cname\0..." (qname first). */
#define IP_NAMES_LEN 256
struct ip_key {
	__u8 addr[16];
};
struct ip_names {
	__u64 ktime;
	__u32 pid;   /* who asked (0: unknown, or a resolver asking for others) */
	__u16 len;
	__u16 pad;
	__u64 cgroup_id; /* the asker's cgroup (its container or service) */
	__u64 expires;   /* the answer's TTL ran out (boot ns): then only the asker keeps the names */
	char names[IP_NAMES_LEN];
};

/* Slack after an answer's TTL (clients cache a little longer), and the lifetime of names
 * from getaddrinfo, which returns no TTL. */
#define NAMES_TTL_GRACE_NS (5ULL * 1000000000ULL)
#define NAMES_NO_TTL_NS (300ULL * 1000000000ULL)

/*
 * Resolvers (comm -> 1, from the rules' list vigil_dns_resolvers): a caching resolver
 * asks for every process on the host, so names it resolved are attributed to nobody
 * (pid 0), that is: to every process.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, char[VIGIL_COMM_LEN]);
	__type(value, __u8);
} dns_resolvers SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, struct ip_key);
	__type(value, struct ip_names);
} ip_names SEC(".maps") __weak;

struct send_key {
	__u32 tgid;
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct send_key);
	__type(value, __u64);
} send_seen SEC(".maps") __weak;

/* UDP ports carrying DNS (set by the agent; 0 = unused slot). */
const volatile __u16 cfg_dns_ports[4] __weak = { 53, 0, 0, 0 };
/* Long flows get a FLOW_UPDATE this often; datagram flows idle this long are ended. */
const volatile __u64 cfg_flow_update_ns __weak = 30000000000ULL;
const volatile __u64 cfg_udp_idle_ns __weak = 60000000000ULL;

/*
 * Scratch for programs that may run in softirq context (skb programs, TCP state
 * changes). Such a program can interrupt another one on the same CPU, so each CPU has
 * two slots: the first program to arrive takes slot 0 and marks the CPU busy, one that
 * interrupts it takes slot 1. (Task-context programs use record_scratch, which no
 * softirq program touches.) Nothing of ours runs in hard-irq or NMI context.
 */
#define NET_REC_MAX 2048
#define DNS_PKT_MAX 512
#define DNS_NAMES_MAX 1024

struct net_work {
	__u8 rec[NET_REC_MAX + VIGIL_PATH_MAX / 8];
	__u8 pkt[DNS_PKT_MAX + 256];        /* DNS message copied from the packet, plus slack */
	char names[DNS_NAMES_MAX + 256];    /* qname, then CNAME targets */
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* the agent sets 2 x possible CPUs */
	__type(key, __u32);
	__type(value, struct net_work);
} net_scratch SEC(".maps") __weak;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} net_busy SEC(".maps") __weak;

static __always_inline struct net_work *net_work_get(__u32 *level)
{
	__u32 zero = 0;
	__u32 *busy = bpf_map_lookup_elem(&net_busy, &zero);
	if (!busy)
		return NULL;
	__u32 lvl = *busy ? 1 : 0;
	if (!lvl)
		*busy = 1;
	*level = lvl;
	__u32 idx = bpf_get_smp_processor_id() * 2 + lvl;
	struct net_work *w = bpf_map_lookup_elem(&net_scratch, &idx);
	if (!w) {
		if (!lvl)
			*busy = 0;
		stat_counter(VIGIL_CTR_SCRATCH_MISS);
	}
	return w;
}

static __always_inline void net_work_put(__u32 level)
{
	__u32 zero = 0;
	__u32 *busy = bpf_map_lookup_elem(&net_busy, &zero);
	if (busy && level == 0)
		*busy = 0;
}

/*
 * Programs that can run in softirq never wake the reader: a wake-up raises an irq_work
 * self-IPI while the program is still running, softirqs run at that IRQ's exit, and a
 * tracepoint hit there by the same program is skipped by the kernel's recursion guard
 * (counted in the program's recursion_misses, which the agent reports). The reader's
 * poll timeout delivers these records within a few milliseconds.
 */
static __always_inline void emit_net_record(struct net_work *w, __u32 size, __u32 hook)
{
	if (size > NET_REC_MAX)
		size = NET_REC_MAX;
	((struct vigil_hdr *)w->rec)->size = size;
	if (bpf_ringbuf_output(&rb_events, w->rec, size, BPF_RB_NO_WAKEUP))
		stat_hook(hook, VIGIL_STAT_LOST);
	else
		stat_hook(hook, VIGIL_STAT_SENT);
}

/* An IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it is. */
static __always_inline void unmap_v4(__u16 *family, __u8 addr[16])
{
	if (*family != AF_INET6_VAL)
		return;
	__u32 *w = (__u32 *)addr;
	if (w[0] == 0 && w[1] == 0 && w[2] == 0xffff0000) {
		w[0] = w[3];
		w[1] = w[2] = w[3] = 0;
		*family = AF_INET_VAL;
	}
}

/*
 * Appends the DNS names of addr to a record at off; returns bytes written. Names another
 * process asked for (not this one, not one in the same cgroup, and not a resolver) are
 * still attached, flagged VIGIL_NET_NAMES_OTHER: addresses are shared (CDNs, NAT), so a
 * name one process resolved says little about another process's connection. Once the
 * answer's TTL ran out, they are not attached at all, except for the asker.
 */
static __always_inline __u16 put_names(__u8 *rec, __u32 off, const __u8 addr[16], __u32 *flags, __u32 pid,
				       __u64 cgroup_id)
{
	struct ip_key k = {};
	__builtin_memcpy(k.addr, addr, 16);
	struct ip_names *n = bpf_map_lookup_elem(&ip_names, &k);
	if (!n || n->len == 0 || off >= NET_REC_MAX - IP_NAMES_LEN)
		return 0;
	bool asker = n->pid && (n->pid == pid || n->cgroup_id == cgroup_id);
	/* past the answer's TTL the address may serve anyone else by now: only the asker
	 * (which may cache the answer) still gets the names */
	if (!asker && bpf_ktime_get_boot_ns() > n->expires)
		return 0;
	if (n->pid && !asker)
		*flags |= VIGIL_NET_NAMES_OTHER;
	__u32 len = n->len < IP_NAMES_LEN - 1 ? n->len : IP_NAMES_LEN - 1;
	/* keep the masks: the compiler knows off < NET_REC_MAX here, the verifier does not */
	barrier_var(off);
	barrier_var(len);
	off &= NET_REC_MAX - 1;
	len &= IP_NAMES_LEN - 1;
	bpf_probe_read_kernel(&rec[off], len, n->names);
	if (n->len >= IP_NAMES_LEN)
		*flags |= VIGIL_NET_NAMES_TRUNC;
	return len;
}

static __always_inline bool is_dns_port(__u16 port)
{
	return port && (port == cfg_dns_ports[0] || port == cfg_dns_ports[1] || port == cfg_dns_ports[2] ||
			port == cfg_dns_ports[3]);
}

static __always_inline __u16 bswap16(__u16 x)
{
	return (x >> 8) | (x << 8);
}

#endif /* VIGIL_NET_H */

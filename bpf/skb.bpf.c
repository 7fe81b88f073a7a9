// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Packets, seen by cgroup_skb programs attached to the root cgroup v2:
 *  - datagram flows: created on their first outgoing packet (attributed to the sending
 *    process, in whose context a locally sent UDP packet is processed), counted;
 *  - long flows: a FLOW_UPDATE every cfg_flow_update_ns;
 *  - DNS over UDP: queries on egress, answers on ingress, parsed here with bounded
 *    loops; every A/AAAA answer records its names in ip_names so that later connect
 *    and flow events carry the domain they were resolved from. The DNS parser has a
 *    line-by-line Rust mirror (crates/vigil-fuzz/src/dns.rs) that the fuzzer compares
 *    it with through BPF_PROG_TEST_RUN: change both together.
 * The programs never drop a packet (they return 1).
 */
#include "common.h"
#include "net.h"
#include "filter.h"

#define ETH_P_IP_BE 0x0008   /* htons(0x0800) */
#define ETH_P_IPV6_BE 0xDD86 /* htons(0x86DD) */
#define DNS_HDR_LEN 12
#define DNS_MAX_HOPS 16
#define DNS_NAME_STEPS 1024  /* bytes of names visited, pointer hops included */
#define DNS_MAX_ANSWERS 16
#define DNS_QNAME_AT 0       /* in net_work.names */
#define DNS_CNAMES_AT 256
#define DNS_CNAMES_MAX 512
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_AAAA 28
#define PKT_MASK (DNS_PKT_MAX - 1)
#define NAMES_MASK 1023

_Static_assert(DNS_NAMES_MAX >= NAMES_MASK + 1, "names buffer covers every masked index");

struct pkt_info {
	__u16 family;
	__u8 proto;
	__u8 pad;
	__u32 l4_off;
	__u8 saddr[16];
	__u8 daddr[16];
};

static __always_inline bool parse_ip(struct __sk_buff *skb, struct pkt_info *pi)
{
	__builtin_memset(pi, 0, sizeof(*pi));
	if (skb->protocol == ETH_P_IP_BE) {
		struct iphdr ip;
		if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip)))
			return false;
		pi->family = AF_INET_VAL;
		pi->proto = ip.protocol;
		pi->l4_off = ip.ihl * 4;
		__builtin_memcpy(pi->saddr, &ip.saddr, 4);
		__builtin_memcpy(pi->daddr, &ip.daddr, 4);
		return true;
	}
	if (skb->protocol == ETH_P_IPV6_BE) {
		struct ipv6hdr ip6;
		if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6)))
			return false;
		pi->family = AF_INET6_VAL;
		pi->proto = ip6.nexthdr; /* extension headers are not followed */
		pi->l4_off = sizeof(ip6);
		__builtin_memcpy(pi->saddr, &ip6.saddr, 16);
		__builtin_memcpy(pi->daddr, &ip6.daddr, 16);
		return true;
	}
	return false;
}

/* ---------------------------------------------------------------- flows */

static __always_inline struct flow_info *udp_flow_new(struct __sk_buff *skb, __u64 cookie, struct pkt_info *pi,
						       __u16 sport, __u16 dport)
{
	__u32 zero = 0;
	struct flow_info *t = bpf_map_lookup_elem(&flow_scratch, &zero);
	if (!t)
		return NULL;
	__builtin_memset(t, 0, sizeof(*t));
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	t->pid = BPF_CORE_READ(task, tgid);
	if (t->pid == cfg_agent_tgid)
		return NULL;
	t->tid = BPF_CORE_READ(task, pid);
	t->uid = BPF_CORE_READ(task, cred, uid.val);
	t->gid = BPF_CORE_READ(task, cred, gid.val);
	t->cgroup_id = bpf_skb_cgroup_id(skb);
	BPF_CORE_READ_STR_INTO(&t->comm, task, comm);
	t->family = pi->family;
	t->sock_type = 2; /* SOCK_DGRAM */
	t->protocol = IPPROTO_UDP_VAL;
	t->direction = VIGIL_NET_DIR_OUT;
	t->lport = sport;
	t->rport = dport;
	__builtin_memcpy(t->laddr, pi->saddr, 16);
	__builtin_memcpy(t->raddr, pi->daddr, 16);
	t->state = FLOW_ATTRIBUTED | FLOW_STARTED;
	t->start_ktime = bpf_ktime_get_boot_ns();
	t->last_ktime = t->start_ktime;
	t->last_report_ktime = t->start_ktime;
	if (bpf_map_update_elem(&flow_table, &cookie, t, BPF_NOEXIST)) {
		stat_counter(VIGIL_CTR_FLOW_TABLE_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&flow_table, &cookie);
}

/* Writes a flow record for f into w->rec; returns its size (no DNS names: the start event had them). */
static __always_inline __u32 skb_flow_record(struct net_work *w, struct flow_info *f, __u64 cookie, __u16 op)
{
	struct vigil_net *e = (void *)w->rec;
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.kind = VIGIL_KIND_NET;
	e->hdr.abi = VIGIL_ABI_VERSION;
	e->hdr.ktime = bpf_ktime_get_boot_ns();
	e->hdr.pid = f->pid;
	e->hdr.tid = f->tid;
	e->hdr.uid = f->uid;
	e->hdr.gid = f->gid;
	e->hdr.cgroup_id = f->cgroup_id;
	__builtin_memcpy(e->hdr.comm, f->comm, VIGIL_COMM_LEN);
	e->op = op;
	e->fd = -1;
	e->family = f->family;
	e->sock_type = f->sock_type;
	e->protocol = f->protocol;
	e->direction = f->direction;
	e->lport = f->lport;
	e->rport = f->rport;
	e->flags = f->net_flags;
	__builtin_memcpy(e->laddr, f->laddr, 16);
	__builtin_memcpy(e->raddr, f->raddr, 16);
	e->cookie = cookie;
	e->start_ktime = f->start_ktime;
	e->bytes_out = f->bytes_out;
	e->bytes_in = f->bytes_in;
	e->pkts_out = f->pkts_out;
	e->pkts_in = f->pkts_in;
	e->closer_pid = f->closer_pid;
	return sizeof(*e);
}

/* ---------------------------------------------------------------- DNS names */

struct name_ctx {
	__u32 idx;       /* net_scratch slot */
	__u32 pos;       /* next byte to read in pkt */
	__u32 end;       /* bytes of pkt that are valid */
	__u32 out;       /* next byte to write in names */
	__u32 out_start;
	__u32 out_limit;
	__u32 remaining; /* bytes left in the current label */
	__u32 after;     /* where the name ends in the message (set at its end or first pointer) */
	__u32 hops;
	__u32 name_len;  /* wire length, for the 255-byte limit */
	__u32 flags;     /* VIGIL_DNS_* */
	__u32 done;
	__u32 write;
};

static long name_step(__u32 i, void *data)
{
	struct name_ctx *c = data;
	__u32 idx = c->idx;
	struct net_work *w = bpf_map_lookup_elem(&net_scratch, &idx);
	if (!w)
		return 1;
	if (c->pos >= c->end || c->pos >= DNS_PKT_MAX) {
		c->flags |= VIGIL_DNS_TRUNCATED | VIGIL_DNS_MALFORMED;
		return 1;
	}
	__u8 b = w->pkt[c->pos & PKT_MASK];
	if (c->remaining) {
		if (c->write && c->out < c->out_limit)
			w->names[c->out & NAMES_MASK] = b;
		c->out++;
		c->pos++;
		c->remaining--;
		return 0;
	}
	if (b == 0) {
		if (!c->after)
			c->after = c->pos + 1;
		c->done = 1;
		return 1;
	}
	if ((b & 0xC0) == 0xC0) {
		if (c->pos + 1 >= c->end) {
			c->flags |= VIGIL_DNS_TRUNCATED | VIGIL_DNS_MALFORMED;
			return 1;
		}
		__u32 target = ((__u32)(b & 0x3F) << 8) | w->pkt[(c->pos + 1) & PKT_MASK];
		if (!c->after)
			c->after = c->pos + 2;
		if (++c->hops > DNS_MAX_HOPS) {
			c->flags |= VIGIL_DNS_POINTER_LOOP | VIGIL_DNS_MALFORMED;
			return 1;
		}
		if (target < DNS_HDR_LEN || target >= c->end) {
			c->flags |= VIGIL_DNS_MALFORMED | VIGIL_DNS_TRUNCATED;
			return 1;
		}
		c->pos = target;
		return 0;
	}
	if (b & 0xC0) {
		c->flags |= VIGIL_DNS_BAD_LABEL | VIGIL_DNS_MALFORMED;
		return 1;
	}
	c->name_len += b + 1;
	if (c->name_len > VIGIL_DNS_NAME_MAX) {
		c->flags |= VIGIL_DNS_NAME_TOO_LONG | VIGIL_DNS_MALFORMED;
		return 1;
	}
	if (c->out > c->out_start) {
		if (c->write && c->out < c->out_limit)
			w->names[c->out & NAMES_MASK] = '.';
		c->out++;
	}
	c->remaining = b;
	c->pos++;
	return 0;
}

/*
 * Reads the name at pos into names[out_start, out_limit) (when write). Returns the
 * position after the name in the message, or 0 when it is malformed (the reason is
 * or-ed into *flags); *written gets the bytes written.
 */
struct name_args {
	__u32 idx;
	__u32 pos;
	__u32 end;
	__u32 out_start;
	__u32 out_limit;
	__u32 write;
	__u32 flags;   /* out: VIGIL_DNS_* */
	__u32 written; /* out */
};

/* Global (not static): the verifier checks it once, not at each of its many call sites. */
__noinline __u32 dns_name(struct name_args *a)
{
	if (!a)
		return 0;
	struct name_ctx c = {
		.idx = a->idx, .pos = a->pos, .end = a->end, .out = a->out_start, .out_start = a->out_start,
		.out_limit = a->out_limit, .write = a->write,
	};
	bpf_loop(DNS_NAME_STEPS, name_step, &c, 0);
	if (!c.done && !(c.flags & VIGIL_DNS_MALFORMED))
		c.flags |= VIGIL_DNS_MALFORMED | VIGIL_DNS_POINTER_LOOP; /* ran out of steps */
	a->flags |= c.flags;
	__u32 out = c.out < a->out_limit ? c.out : a->out_limit;
	a->written = out > a->out_start ? out - a->out_start : 0;
	return c.done ? c.after : 0;
}

static __always_inline __u16 rd16(struct net_work *w, __u32 at)
{
	return ((__u16)w->pkt[at & PKT_MASK] << 8) | w->pkt[(at + 1) & PKT_MASK];
}

static __always_inline __u32 rd32(struct net_work *w, __u32 at)
{
	return ((__u32)rd16(w, at) << 16) | rd16(w, at + 2);
}

struct answers_ctx {
	__u32 idx;
	__u32 pos;
	__u32 len;
	__u32 ancount;
	__u32 naddrs;
	__u32 cout;   /* next write position for CNAME targets in names */
	__u32 flags;
};

/* One answer record: A/AAAA addresses go to the record, CNAME targets to names. */
static long answer_step(__u32 i, void *data)
{
	struct answers_ctx *c = data;
	if (i >= c->ancount)
		return 1;
	__u32 idx = c->idx;
	struct net_work *w = bpf_map_lookup_elem(&net_scratch, &idx);
	if (!w)
		return 1;
	struct vigil_dns *e = (void *)w->rec;
	struct name_args na = { .idx = idx, .pos = c->pos, .end = c->len };
	__u32 pos = dns_name(&na);
	c->flags |= na.flags;
	if (!pos || pos + 10 > c->len) {
		c->flags |= VIGIL_DNS_MALFORMED | (pos ? VIGIL_DNS_TRUNCATED : 0);
		return 1;
	}
	__u16 type = rd16(w, pos);
	__u32 ttl = rd32(w, pos + 4);
	__u16 rdlen = rd16(w, pos + 8);
	__u32 rdata = pos + 10;
	if (rdata + rdlen > c->len) {
		c->flags |= VIGIL_DNS_MALFORMED | VIGIL_DNS_TRUNCATED;
		return 1;
	}
	if ((type == DNS_TYPE_A && rdlen == 4) || (type == DNS_TYPE_AAAA && rdlen == 16)) {
		if (c->naddrs < VIGIL_DNS_MAX_ADDRS) {
			struct vigil_dns_addr *a = &e->addrs[c->naddrs & (VIGIL_DNS_MAX_ADDRS - 1)];
			a->family = type == DNS_TYPE_A ? AF_INET_VAL : AF_INET6_VAL;
			a->ttl = ttl;
			bpf_probe_read_kernel(a->addr, type == DNS_TYPE_A ? 4 : 16, &w->pkt[rdata & PKT_MASK]);
			c->naddrs++;
		} else {
			c->flags |= VIGIL_DNS_MORE_ANSWERS;
		}
	} else if (type == DNS_TYPE_CNAME && c->cout < DNS_CNAMES_AT + DNS_CNAMES_MAX - 2) {
		struct name_args cn = {
			.idx = idx, .pos = rdata, .end = c->len, .out_start = c->cout,
			.out_limit = DNS_CNAMES_AT + DNS_CNAMES_MAX - 1, .write = 1,
		};
		dns_name(&cn);
		c->flags |= cn.flags;
		c->cout += cn.written;
		w->names[c->cout & NAMES_MASK] = 0;
		c->cout++;
	}
	c->pos = rdata + rdlen;
	return 0;
}

/* Remembers, for addr, the names it was resolved from (qname, then CNAME targets), until
 * the answer's TTL runs out. */
static __always_inline void remember_names(struct net_work *w, const __u8 addr[16], __u32 ttl, __u32 qlen,
					   __u32 clen, const struct vigil_hdr *asker)
{
	struct ip_key k = {};
	__builtin_memcpy(k.addr, addr, 16);
	struct ip_names *v = (struct ip_names *)&w->rec[NET_REC_MAX - sizeof(struct ip_names)];
	v->ktime = bpf_ktime_get_boot_ns();
	v->expires = v->ktime + (__u64)ttl * 1000000000ULL + NAMES_TTL_GRACE_NS;
	bool resolver = bpf_map_lookup_elem(&dns_resolvers, asker->comm) != NULL;
	v->pid = resolver ? 0 : asker->pid;
	v->cgroup_id = resolver ? 0 : asker->cgroup_id;
	v->pad = 0;
	__u32 n = qlen < IP_NAMES_LEN - 1 ? qlen : IP_NAMES_LEN - 1;
	bpf_probe_read_kernel(v->names, n & (IP_NAMES_LEN - 1), &w->names[DNS_QNAME_AT]);
	v->names[n & (IP_NAMES_LEN - 1)] = 0;
	__u32 len = n + 1;
	if (clen && len < IP_NAMES_LEN) {
		__u32 room = IP_NAMES_LEN - len;
		__u32 m = clen < room ? clen : room;
		bpf_probe_read_kernel(&v->names[len & (IP_NAMES_LEN - 1)], m & (IP_NAMES_LEN - 1), &w->names[DNS_CNAMES_AT]);
		len += m;
	}
	v->len = len > IP_NAMES_LEN ? IP_NAMES_LEN : len;
	bpf_map_update_elem(&ip_names, &k, v, BPF_ANY);
}

static __always_inline void handle_dns(struct __sk_buff *skb, struct pkt_info *pi, bool response, __u16 sport,
				       __u16 dport, __u64 cookie, struct flow_info *f)
{
	stat_hook(VIGIL_HOOK_DNS, VIGIL_STAT_SEEN);
	__u32 level;
	struct net_work *w = net_work_get(&level);
	if (!w)
		return;
	__u32 idx = bpf_get_smp_processor_id() * 2 + level;
	struct vigil_dns *e = (void *)w->rec;
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.kind = VIGIL_KIND_DNS;
	e->hdr.abi = VIGIL_ABI_VERSION;
	e->hdr.ktime = bpf_ktime_get_boot_ns();
	if (f && (f->state & FLOW_ATTRIBUTED)) {
		e->hdr.pid = f->pid;
		e->hdr.tid = f->tid;
		e->hdr.uid = f->uid;
		e->hdr.gid = f->gid;
		e->hdr.cgroup_id = f->cgroup_id;
		__builtin_memcpy(e->hdr.comm, f->comm, VIGIL_COMM_LEN);
	}
	e->cookie = cookie;
	e->family = pi->family;
	if (response) {
		e->vflags |= VIGIL_DNS_RESPONSE;
		e->server_port = sport;
		e->client_port = dport;
		__builtin_memcpy(e->server, pi->saddr, 16);
	} else {
		e->server_port = dport;
		e->client_port = sport;
		__builtin_memcpy(e->server, pi->daddr, 16);
	}

	__u32 payload = pi->l4_off + 8;
	__u32 len = skb->len > payload ? skb->len - payload : 0;
	if (len > DNS_PKT_MAX)
		len = DNS_PKT_MAX; /* larger answers are parsed as far as they fit (flagged truncated if cut) */
	__u32 qlen = 0, clen = 0;
	if (len < DNS_HDR_LEN || bpf_skb_load_bytes(skb, payload, w->pkt, len)) {
		e->vflags |= VIGIL_DNS_MALFORMED | VIGIL_DNS_TRUNCATED;
		goto out;
	}
	e->id = rd16(w, 0);
	e->dns_flags = rd16(w, 2);
	e->rcode = e->dns_flags & 0xF;
	e->qdcount = rd16(w, 4);
	e->ancount = rd16(w, 6);

	struct name_args na = { .idx = idx, .end = len };
	__u32 pos = DNS_HDR_LEN;
	if (e->qdcount) {
		na.pos = pos;
		na.out_start = DNS_QNAME_AT;
		na.out_limit = DNS_QNAME_AT + VIGIL_DNS_NAME_MAX;
		na.write = 1;
		pos = dns_name(&na);
		qlen = na.written;
		if (!pos || pos + 4 > len) {
			na.flags |= VIGIL_DNS_MALFORMED | (pos ? VIGIL_DNS_TRUNCATED : 0);
			goto done;
		}
		e->qtype = rd16(w, pos);
		pos += 4;
	}
	if (!response)
		goto done;

	struct answers_ctx ac = { .idx = idx, .pos = pos, .len = len, .ancount = e->ancount, .cout = DNS_CNAMES_AT };
	bpf_loop(DNS_MAX_ANSWERS, answer_step, &ac, 0);
	na.flags |= ac.flags;
	if (e->ancount > DNS_MAX_ANSWERS)
		na.flags |= VIGIL_DNS_MORE_ANSWERS;
	e->naddrs = ac.naddrs;
	clen = ac.cout > DNS_CNAMES_AT ? ac.cout - DNS_CNAMES_AT : 0;
	if (clen)
		clen--; /* no separator after the last one */

done:
	e->vflags |= na.flags;
out:
	if (e->vflags & VIGIL_DNS_MALFORMED)
		stat_counter(VIGIL_CTR_DNS_MALFORMED);
	if (qlen > VIGIL_DNS_NAME_MAX)
		qlen = VIGIL_DNS_NAME_MAX;
	if (clen > DNS_CNAMES_MAX)
		clen = DNS_CNAMES_MAX;
	e->qname_len = qlen;
	e->cnames_len = clen;
	__u32 off = sizeof(*e);
	bpf_probe_read_kernel(&w->rec[off], qlen & 255, &w->names[DNS_QNAME_AT]);
	off += qlen & 255;
	bpf_probe_read_kernel(&w->rec[off & 1023], clen & 511, &w->names[DNS_CNAMES_AT]);
	off += clen & 511;
	if (net_record_wanted(response ? VIGIL_EMIT_DNS_RESPONSE : VIGIL_EMIT_DNS_QUERY, VIGIL_HOOK_DNS))
		emit_net_record(w, off, VIGIL_HOOK_DNS);

	/* Every address answered now maps back to the names that produced it. */
	if (response && !(e->vflags & VIGIL_DNS_MALFORMED) && e->rcode == 0) {
		__u32 n = e->naddrs;
		for (int i = 0; i < VIGIL_DNS_MAX_ADDRS; i++) {
			if (i >= n)
				break;
			remember_names(w, e->addrs[i].addr, e->addrs[i].ttl, qlen, clen, &e->hdr);
		}
	}
	net_work_put(level);
}

/* ---------------------------------------------------------------- the programs */

static __always_inline void handle_skb(struct __sk_buff *skb, bool ingress)
{
	struct pkt_info pi;
	if (!parse_ip(skb, &pi) || (pi.proto != IPPROTO_UDP_VAL && pi.proto != IPPROTO_TCP_VAL))
		return;
	__u64 cookie = bpf_get_socket_cookie(skb);
	__u16 ports[2] = {};
	if (bpf_skb_load_bytes(skb, pi.l4_off, ports, sizeof(ports)))
		return;
	__u16 sport = bswap16(ports[0]), dport = bswap16(ports[1]);

	struct flow_info *f = cookie ? bpf_map_lookup_elem(&flow_table, &cookie) : NULL;
	if (!f && pi.proto == IPPROTO_UDP_VAL && !ingress && cookie) {
		f = udp_flow_new(skb, cookie, &pi, sport, dport);
		if (f) {
			stat_hook(VIGIL_HOOK_SKB, VIGIL_STAT_SEEN);
			__u32 level;
			struct net_work *w = NULL;
			if (net_record_wanted(VIGIL_NET_FLOW_START, VIGIL_HOOK_SKB) && (w = net_work_get(&level))) {
				__u32 size = skb_flow_record(w, f, cookie, VIGIL_NET_FLOW_START);
				__u32 flags = 0;
				struct vigil_net *e = (void *)w->rec;
				e->names_len = put_names(w->rec, size, f->raddr, &flags, f->pid, f->cgroup_id);
				e->flags |= flags;
				emit_net_record(w, size + e->names_len, VIGIL_HOOK_SKB);
				net_work_put(level);
			}
		}
	}
	if (f) {
		/* read after a new flow took its start time, so that now >= every stamp in it */
		__u64 now = bpf_ktime_get_boot_ns();
		if (pi.proto == IPPROTO_UDP_VAL) {
			/* payload, as TCP counts it: the packet less its IP and UDP headers */
			__u32 hdrs = pi.l4_off + 8;
			__u32 payload = skb->len > hdrs ? skb->len - hdrs : 0;
			if (ingress) {
				f->bytes_in += payload;
				f->pkts_in++;
			} else {
				f->bytes_out += payload;
				f->pkts_out++;
			}
		}
		f->last_ktime = now;
		if ((f->state & FLOW_STARTED) && now - f->last_report_ktime >= cfg_flow_update_ns) {
			f->last_report_ktime = now;
			if (pi.proto == IPPROTO_TCP_VAL) {
				struct bpf_sock *sk = skb->sk;
				if (sk)
					sk = bpf_sk_fullsock(sk);
				struct bpf_tcp_sock *tp = sk ? bpf_tcp_sock(sk) : NULL;
				if (tp) {
					f->bytes_out = tp->bytes_acked;
					f->bytes_in = tp->bytes_received;
					f->pkts_out = tp->segs_out;
					f->pkts_in = tp->segs_in;
				}
			}
			stat_hook(VIGIL_HOOK_SKB, VIGIL_STAT_SEEN);
			__u32 level;
			struct net_work *w = NULL;
			if (net_record_wanted(VIGIL_NET_FLOW_UPDATE, VIGIL_HOOK_SKB) && (w = net_work_get(&level))) {
				emit_net_record(w, skb_flow_record(w, f, cookie, VIGIL_NET_FLOW_UPDATE), VIGIL_HOOK_SKB);
				net_work_put(level);
			}
		}
	}

	if (pi.proto == IPPROTO_UDP_VAL) {
		if (!ingress && is_dns_port(dport))
			handle_dns(skb, &pi, false, sport, dport, cookie, f);
		else if (ingress && is_dns_port(sport))
			handle_dns(skb, &pi, true, sport, dport, cookie, f);
	}
}

SEC("cgroup_skb/egress")
int skb_egress(struct __sk_buff *skb)
{
	if (cfg_floor)
		return 1;
	handle_skb(skb, false);
	return 1;
}

SEC("cgroup_skb/ingress")
int skb_ingress(struct __sk_buff *skb)
{
	if (cfg_floor)
		return 1;
	handle_skb(skb, true);
	return 1;
}

// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Sockets and flows: socket, bind, listen, connect, accept, first datagram to a peer,
 * sockets duplicated onto stdio (syscall handlers, tail calls of sys_exit_dispatch),
 * and TCP connections from establishment to close (inet_sock_set_state).
 *
 * Flows are keyed by socket cookie in flow_table. A TCP flow is created when the
 * socket enters SYN_SENT (in the connecting process, so it is attributed) or
 * ESTABLISHED from SYN_RECV (in softirq: attributed later, at accept). A UDP flow is
 * created by the skb program on its first datagram (skb.bpf.c). FLOW_START and
 * FLOW_END are each sent once per flow.
 */
#include "common.h"
#include "task.h"
#include "path.h"
#include "proc_table.h"
#include "syscalls.h"
#include "net.h"
#include "sock.h"
#include "detect.h"
#include "filter.h"
#include "policy.h"

#define F_DUPFD_VAL 0
#define F_DUPFD_CLOEXEC_VAL 1030
#define SOCK_DGRAM_VAL 2
#define ENETUNREACH_VAL 101
#define ETIMEDOUT_VAL 110
#define ECONNREFUSED_VAL 111
#define EHOSTUNREACH_VAL 113

/* A port-scan sample: family, port, address (rendered as addr:port by the agent). */
struct scan_sample {
	__u16 family;
	__u16 port;
	__u8 addr[16];
};

static __always_inline __u64 scan_item(struct scan_sample *s)
{
	return hash_bytes(s, 0, sizeof(*s));
}
#define UNIX_PATH_MAX_VAL 108

/* ---------------------------------------------------------------- flow records */

/* Writes a flow record (FLOW_START/END/UPDATE) for f into rec; returns its size. */
static __always_inline __u32 build_flow_record(__u8 *rec, struct flow_info *f, __u64 cookie, __u16 op)
{
	struct vigil_net *e = (void *)rec;
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
	e->syscall = 0;
	e->fd = -1;
	e->ret = 0;
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
	e->newfd = 0;
	e->path_len = 0;
	e->verdict = 0;
	e->policy = 0;
	__u32 flags = e->flags;
	e->names_len =
		f->direction == VIGIL_NET_DIR_OUT ? put_names(rec, sizeof(*e), f->raddr, &flags, f->pid, f->cgroup_id) : 0;
	e->flags = flags;
	return sizeof(*e) + e->names_len;
}

/* Fills the owner of a flow from the current task. */
static __always_inline void flow_attribute(struct flow_info *f)
{
	__u64 id = bpf_get_current_pid_tgid();
	__u64 ug = bpf_get_current_uid_gid();
	f->pid = id >> 32;
	f->tid = (__u32)id;
	f->uid = (__u32)ug;
	f->gid = ug >> 32;
	f->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(f->comm, sizeof(f->comm));
	f->state |= FLOW_ATTRIBUTED;
}

static __always_inline void flow_set_ends(struct flow_info *f, struct sock_facts *s)
{
	f->family = s->family;
	f->sock_type = s->type;
	f->protocol = s->protocol;
	f->lport = s->lport;
	f->rport = s->rport;
	__builtin_memcpy(f->laddr, s->laddr, 16);
	__builtin_memcpy(f->raddr, s->raddr, 16);
	unmap_v4(&f->family, f->raddr);
	__u16 fam = s->family;
	unmap_v4(&fam, f->laddr);
}

static __always_inline struct flow_info *flow_create(__u64 cookie, struct sock_facts *s, __u16 direction)
{
	__u32 zero = 0;
	struct flow_info *tmpl = bpf_map_lookup_elem(&flow_scratch, &zero);
	if (!tmpl)
		return NULL;
	__builtin_memset(tmpl, 0, sizeof(*tmpl));
	flow_set_ends(tmpl, s);
	tmpl->direction = direction;
	tmpl->start_ktime = bpf_ktime_get_boot_ns();
	tmpl->last_ktime = tmpl->start_ktime;
	tmpl->last_report_ktime = tmpl->start_ktime;
	if (bpf_map_update_elem(&flow_table, &cookie, tmpl, BPF_ANY)) {
		stat_counter(VIGIL_CTR_FLOW_TABLE_FULL);
		return NULL;
	}
	return bpf_map_lookup_elem(&flow_table, &cookie);
}

/* ---------------------------------------------------------------- TCP state */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(handle_tcp_state, const struct sock *sk, const int oldstate, const int newstate)
{
	if (cfg_floor)
		return 0;
	if (sk->sk_protocol != IPPROTO_TCP_VAL)
		return 0;
	__u64 cookie = bpf_get_socket_cookie((void *)sk);
	struct sock_facts s;
	struct flow_info *f;

	if (newstate == TCP_SYN_SENT_VAL) {
		/* connect() in the connecting process: the flow is attributed from the start */
		if (is_self())
			return 0;
		read_sock((struct sock *)sk, &s);
		f = flow_create(cookie, &s, VIGIL_NET_DIR_OUT);
		if (f)
			flow_attribute(f);
		return 0;
	}

	f = bpf_map_lookup_elem(&flow_table, &cookie);
	if (newstate == TCP_ESTABLISHED_VAL && oldstate == TCP_SYN_RECV_VAL && !f) {
		/* incoming, in softirq: the owner is known at accept() */
		read_sock((struct sock *)sk, &s);
		flow_create(cookie, &s, VIGIL_NET_DIR_IN);
		return 0;
	}
	if (!f)
		return 0;

	__u16 op = 0;
	if (newstate == TCP_ESTABLISHED_VAL && oldstate == TCP_SYN_SENT_VAL) {
		read_sock((struct sock *)sk, &s);
		flow_set_ends(f, &s);
		f->start_ktime = bpf_ktime_get_boot_ns();
		if (!(f->state & FLOW_STARTED)) {
			f->state |= FLOW_STARTED;
			op = VIGIL_NET_FLOW_START;
		}
	} else if (oldstate == TCP_ESTABLISHED_VAL && newstate == TCP_FIN_WAIT1_VAL) {
		f->closer_pid = bpf_get_current_pid_tgid() >> 32;
	} else if (oldstate == TCP_ESTABLISHED_VAL && newstate == TCP_CLOSE_WAIT_VAL) {
		f->net_flags |= VIGIL_NET_CLOSED_BY_REMOTE;
	} else if (newstate == TCP_CLOSE_VAL) {
		/*
		 * Payload bytes: bytes_sent counts data (retransmissions too, hence the
		 * subtraction); bytes_received advances with rcv_nxt, which a FIN from the
		 * peer moves by one. A FIN was received if the peer closed first or we close
		 * from FIN_WAIT2/CLOSING/LAST_ACK (a FIN_WAIT2 timeout, rare, is miscounted).
		 */
		const struct tcp_sock *tp = (const struct tcp_sock *)sk;
		f->bytes_out = BPF_CORE_READ(tp, bytes_sent) - BPF_CORE_READ(tp, bytes_retrans);
		__u64 in = BPF_CORE_READ(tp, bytes_received);
		bool fin_in = (f->net_flags & VIGIL_NET_CLOSED_BY_REMOTE) || oldstate == TCP_FIN_WAIT2_VAL ||
			      oldstate == TCP_CLOSING_VAL || oldstate == TCP_LAST_ACK_VAL;
		f->bytes_in = fin_in && in ? in - 1 : in;
		f->pkts_out = BPF_CORE_READ(tp, segs_out);
		f->pkts_in = BPF_CORE_READ(tp, segs_in);
		if (!(f->state & FLOW_STARTED))
			f->net_flags |= VIGIL_NET_NEVER_ESTABLISHED;
		op = VIGIL_NET_FLOW_END;
	}
	if (!op)
		return 0;

	/* "seen" counts the records this hook decides to send, so seen = sent + lost */
	stat_hook(VIGIL_HOOK_TCP_STATE, VIGIL_STAT_SEEN);
	__u32 level;
	struct net_work *w = NULL;
	if (net_record_wanted(op, VIGIL_HOOK_TCP_STATE) && (w = net_work_get(&level))) {
		__u32 size = build_flow_record(w->rec, f, cookie, op);
		emit_net_record(w, size, VIGIL_HOOK_TCP_STATE);
		net_work_put(level);
	}
	/* a connection attempt that never completed counts toward a port scan by its owner */
	if (op == VIGIL_NET_FLOW_END && (f->net_flags & VIGIL_NET_NEVER_ESTABLISHED) && f->direction == VIGIL_NET_DIR_OUT &&
	    f->pid) {
		struct scan_sample smp = { .family = f->family, .port = f->rport };
		__builtin_memcpy(smp.addr, f->raddr, 16);
		__u64 ws = 0;
		__u32 n = burst_add(f->pid, VIGIL_DETECT_PORT_SCAN, scan_item(&smp), &ws);
		if (n && (w = net_work_get(&level))) {
			struct vigil_hdr *h = (void *)w->rec;
			h->ktime = bpf_ktime_get_boot_ns();
			h->pid = f->pid;
			h->tid = f->tid;
			h->uid = f->uid;
			h->gid = f->gid;
			h->cgroup_id = f->cgroup_id;
			__builtin_memcpy(h->comm, f->comm, VIGIL_COMM_LEN);
			stat_hook(VIGIL_HOOK_DETECT, VIGIL_STAT_SEEN);
			__u32 size = build_detection(w->rec, VIGIL_DETECT_PORT_SCAN, n, ws, &smp, sizeof(smp));
			emit_net_record(w, size, VIGIL_HOOK_DETECT);
			net_work_put(level);
		}
	}
	if (op == VIGIL_NET_FLOW_END)
		bpf_map_delete_elem(&flow_table, &cookie);
	return 0;
}

/* ---------------------------------------------------------------- syscalls */

struct net_req {
	__u32 hook;
	__u16 op;
	__u16 nr;
	__s32 fd;
	__u32 newfd;
	__s64 ret;
	__u16 direction;
	__u16 pad;
	__u32 flags;
	__u16 verdict; /* enum vigil_verdict, from the cgroup connect hook */
	__u16 policy;
	struct sock_facts s;
	const void *unix_sa; /* user sockaddr_un, for the path */
	__u32 unix_len;
	bool names;          /* attach the DNS names of the remote address */
};

/* A sockaddr (user memory, or kernel memory when !user): family, port and address
 * (IPv4/IPv6), or nothing. */
static __always_inline __u16 read_sockaddr_from(const void *sa, bool user, __u16 *port, __u8 addr[16])
{
	union {
		__u16 family;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} u = {};
	if (!sa)
		return 0;
	long err = user ? bpf_probe_read_user(&u, sizeof(u), sa) : bpf_probe_read_kernel(&u, sizeof(u), sa);
	if (err)
		return 0;
	if (u.family == AF_INET_VAL) {
		*port = bswap16(u.sin.sin_port);
		__builtin_memset(addr, 0, 16);
		__builtin_memcpy(addr, &u.sin.sin_addr, 4);
	} else if (u.family == AF_INET6_VAL) {
		*port = bswap16(u.sin6.sin6_port);
		__builtin_memcpy(addr, &u.sin6.sin6_addr, 16);
	}
	return u.family;
}

static __always_inline __u16 read_sockaddr(const void *uaddr, __u16 *port, __u8 addr[16])
{
	return read_sockaddr_from(uaddr, true, port, addr);
}

static __noinline int net_emit(struct net_req *q)
{
	/* a policy's verdict always crosses: every action is an alert */
	if (!q->verdict && !net_record_wanted(q->op, q->hook))
		return 0;
	struct record_buf *r = record_buf_get();
	if (!r)
		return 0;
	struct vigil_net *e = (void *)r->data;
	fill_hdr(&e->hdr, VIGIL_KIND_NET);
	e->op = q->op;
	e->syscall = q->nr;
	e->fd = q->fd;
	e->ret = q->ret;
	e->family = q->s.family;
	e->sock_type = q->s.type;
	e->protocol = q->s.protocol;
	e->direction = q->direction;
	e->lport = q->s.lport;
	e->rport = q->s.rport;
	__builtin_memcpy(e->laddr, q->s.laddr, 16);
	__builtin_memcpy(e->raddr, q->s.raddr, 16);
	unmap_v4(&e->family, e->raddr);
	__u16 fam = q->s.family;
	unmap_v4(&fam, e->laddr);
	e->cookie = q->s.cookie;
	e->start_ktime = 0;
	e->bytes_out = e->bytes_in = e->pkts_out = e->pkts_in = 0;
	e->closer_pid = 0;
	e->newfd = q->newfd;
	e->verdict = q->verdict;
	e->policy = q->policy;
	__u32 flags = q->flags;
	__u32 off = sizeof(*e);

	e->path_len = 0;
	if (q->unix_sa && q->unix_len > 2) {
		/* sun_path: an abstract name starts with NUL; it is shown with a leading '@' */
		__u32 len = q->unix_len - 2;
		if (len > UNIX_PATH_MAX_VAL)
			len = UNIX_PATH_MAX_VAL;
		__u32 n = put_user(r, off, (const char *)q->unix_sa + 2, len);
		if (n) {
			if (r->data[off & (VIGIL_RECORD_MAX - 1)] == 0) {
				r->data[off & (VIGIL_RECORD_MAX - 1)] = '@';
				flags |= VIGIL_NET_ABSTRACT;
			} else {
				/* a filesystem path ends at its NUL */
				for (__u32 i = 1; i < UNIX_PATH_MAX_VAL && i < n; i++) {
					if (r->data[(off + i) & (VIGIL_RECORD_MAX - 1)] == 0) {
						n = i;
						break;
					}
				}
			}
			e->path_len = n;
		}
	}
	off += e->path_len;
	e->names_len = q->names ? put_names(r->data, off, e->raddr, &flags, e->hdr.pid, e->hdr.cgroup_id) : 0;
	off += e->names_len;
	e->flags = flags;
	emit_record(&rb_events, r, off, q->hook);
	return 0;
}

/* Counts the event as seen: call it once the event is known to be relevant. */
static __always_inline bool net_req_init(struct net_req *q, __u32 hook, __u16 op, struct pt_regs *regs, long ret)
{
	stat_hook(hook, VIGIL_STAT_SEEN);
	__builtin_memset(q, 0, sizeof(*q));
	q->hook = hook;
	q->op = op;
	q->nr = SC_NR(regs);
	q->ret = ret;
	q->fd = -1;
	return true;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_socket, struct pt_regs *regs, long ret)
{
	struct net_req q;
	net_req_init(&q, VIGIL_HOOK_SOCKET, VIGIL_NET_SOCKET, regs, ret);
	q.fd = ret;
	q.s.family = SC_ARG0(regs);
	q.s.type = SC_ARG1(regs) & 0xf;
	q.s.protocol = SC_ARG2(regs);
	/* the same program creating the same kind of socket: once per window */
	struct net_dedup_key dk = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.uid = (__u32)bpf_get_current_uid_gid(),
		.op = VIGIL_NET_SOCKET,
		.family = q.s.family,
		.port = q.s.protocol,
		.type = q.s.type,
		.ret = ret < 0 ? ret : 0,
	};
	if (!net_record_wanted(VIGIL_NET_SOCKET, VIGIL_HOOK_SOCKET))
		return 0;
	if (dedup_hit(&net_dedup, &dk, dk.tgid, false, VIGIL_NET_SOCKET)) {
		stat_hook(VIGIL_HOOK_SOCKET, VIGIL_STAT_DEDUPED);
		return 0;
	}
	return net_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_bind, struct pt_regs *regs, long ret)
{
	struct net_req q;
	net_req_init(&q, VIGIL_HOOK_BIND, VIGIL_NET_BIND, regs, ret);
	q.fd = SC_ARG0(regs);
	read_sock(file_sock(fd_file(q.fd)), &q.s);
	const void *sa = (const void *)SC_ARG1(regs);
	__u16 port = 0;
	__u8 addr[16] = {};
	__u16 family = read_sockaddr(sa, &port, addr);
	if (family == AF_UNIX_VAL) {
		q.s.family = AF_UNIX_VAL;
		q.unix_sa = sa;
		q.unix_len = SC_ARG2(regs);
	} else if (family) {
		q.s.family = family;
		q.s.lport = port;
		__builtin_memcpy(q.s.laddr, addr, 16);
	}
	return net_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_listen, struct pt_regs *regs, long ret)
{
	struct net_req q;
	net_req_init(&q, VIGIL_HOOK_LISTEN, VIGIL_NET_LISTEN, regs, ret);
	q.fd = SC_ARG0(regs);
	q.direction = VIGIL_NET_DIR_LISTEN;
	read_sock(file_sock(fd_file(q.fd)), &q.s);
	return net_emit(&q);
}

/*
 * A connect's outcome, from the syscall or an io_uring: the record (with a policy's
 * verdict), deduplicated per program and peer, and the port-scan detector's count.
 * q has the socket's facts; family/port/addr are the address asked for (an IP one
 * becomes the record's remote end, with its DNS names).
 */
static __noinline int connect_report(struct net_req *q, __u16 family, __u16 port, __u8 addr[16])
{
	long ret = q->ret;
	if (family == AF_INET_VAL || family == AF_INET6_VAL) {
		q->s.rport = port;
		__builtin_memcpy(q->s.raddr, addr, 16);
		if (!q->s.family)
			q->s.family = family;
		q->names = true;
	}
	/* the same program connecting to the same peer with the same outcome: once per window */
	struct net_dedup_key dk = {
		.tgid = bpf_get_current_pid_tgid() >> 32,
		.uid = (__u32)bpf_get_current_uid_gid(),
		.op = VIGIL_NET_CONNECT,
		.family = family,
		.port = port,
		.ret = ret,
	};
	__builtin_memcpy(dk.addr, addr, 16);
	struct policy_pending pv;
	if (policy_take_pending(&pv)) {
		q->verdict = pv.verdict;
		q->policy = pv.policy;
		net_emit(q);
	} else if (!net_record_wanted(VIGIL_NET_CONNECT, q->hook))
		; /* counted as filtered */
	else if ((family == AF_INET_VAL || family == AF_INET6_VAL) &&
		 dedup_hit(&net_dedup, &dk, dk.tgid, false, VIGIL_NET_CONNECT))
		stat_hook(q->hook, VIGIL_STAT_DEDUPED);
	else
		net_emit(q);

	/* refused or unreachable: one more distinct target toward a port scan */
	if ((family == AF_INET_VAL || family == AF_INET6_VAL) &&
	    (ret == -ECONNREFUSED_VAL || ret == -ETIMEDOUT_VAL || ret == -EHOSTUNREACH_VAL || ret == -ENETUNREACH_VAL)) {
		struct scan_sample smp = { .family = family, .port = port };
		__builtin_memcpy(smp.addr, addr, 16);
		__u64 ws = 0;
		__u32 tgid = bpf_get_current_pid_tgid() >> 32;
		__u32 n = burst_add(tgid, VIGIL_DETECT_PORT_SCAN, scan_item(&smp), &ws);
		struct record_buf *r = n ? record_buf_get() : NULL;
		if (r)
			emit_detection_task(r, tgid, VIGIL_DETECT_PORT_SCAN, n, ws, &smp, sizeof(smp));
	}
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_connect, struct pt_regs *regs, long ret)
{
	struct net_req q;
	net_req_init(&q, VIGIL_HOOK_CONNECT, VIGIL_NET_CONNECT, regs, ret);
	q.fd = SC_ARG0(regs);
	q.direction = VIGIL_NET_DIR_OUT;
	read_sock(file_sock(fd_file(q.fd)), &q.s);
	/* the address asked for: a refused connect leaves none on the socket */
	const void *sa = (const void *)SC_ARG1(regs);
	__u16 port = 0;
	__u8 addr[16] = {};
	__u16 family = read_sockaddr(sa, &port, addr);
	if (family == AF_UNIX_VAL) {
		q.s.family = AF_UNIX_VAL;
		q.unix_sa = sa;
		q.unix_len = SC_ARG2(regs);
	}
	return connect_report(&q, family, port, addr);
}

/*
 * IORING_OP_CONNECT: no connect(2) runs, so exit_connect never sees it. At the
 * completion (in the submitting process, or an io-wq worker thread of it) the request
 * still holds the socket's file and the address copied in at submission.
 */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(uring_connect, struct io_ring_ctx *ring, void *req_ptr, struct io_uring_cqe *cqe)
{
	struct io_kiocb *req = req_ptr;
	if (!req || BPF_CORE_READ(req, opcode) != IORING_OP_CONNECT)
		return 0;
	struct net_req q = {};
	stat_hook(VIGIL_HOOK_URING_CONNECT, VIGIL_STAT_SEEN);
	q.hook = VIGIL_HOOK_URING_CONNECT;
	q.op = VIGIL_NET_CONNECT;
	q.nr = NR_connect;
	q.ret = BPF_CORE_READ(cqe, res);
	q.fd = -1; /* the ring named it, possibly as a fixed file: no fd of the process */
	q.flags = VIGIL_NET_IO_URING;
	q.direction = VIGIL_NET_DIR_OUT;
	read_sock(file_sock(BPF_CORE_READ(req, file)), &q.s);
	struct io_async_msghdr *io = BPF_CORE_READ(req, async_data);
	__u16 port = 0;
	__u8 addr[16] = {};
	__u16 family = io ? read_sockaddr_from(&io->addr, false, &port, addr) : 0;
	return connect_report(&q, family, port, addr);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_accept, struct pt_regs *regs, long ret)
{
	struct net_req q;
	if (ret < 0)
		return 0;
	net_req_init(&q, VIGIL_HOOK_ACCEPT, VIGIL_NET_ACCEPT, regs, ret);
	q.fd = ret;
	q.direction = VIGIL_NET_DIR_IN;
	struct sock *sk = file_sock(fd_file(ret));
	read_sock(sk, &q.s);
	net_emit(&q);

	/* The connection was established in softirq; its owner is the acceptor. */
	__u64 cookie = q.s.cookie;
	struct flow_info *f = cookie ? bpf_map_lookup_elem(&flow_table, &cookie) : NULL;
	if (!f || (f->state & FLOW_STARTED))
		return 0;
	flow_attribute(f);
	f->state |= FLOW_STARTED;
	/* a flow record: counted under the TCP state hook, like the outgoing FLOW_START */
	stat_hook(VIGIL_HOOK_TCP_STATE, VIGIL_STAT_SEEN);
	struct record_buf *r = net_record_wanted(VIGIL_NET_FLOW_START, VIGIL_HOOK_TCP_STATE) ? record_buf_get() : NULL;
	if (r)
		emit_record(&rb_events, r, build_flow_record(r->data, f, cookie, VIGIL_NET_FLOW_START), VIGIL_HOOK_TCP_STATE);
	return 0;
}

/* The destination of sendto/sendmsg/sendmmsg, if the call named one. */
static __always_inline const void *send_dest(struct pt_regs *regs, __u16 nr)
{
	if (nr == NR_sendto)
		return (const void *)SC_ARG4(regs);
	const void *name = NULL;
	/* struct msghdr and struct mmsghdr both start with msg_name */
	bpf_probe_read_user(&name, sizeof(name), (const void *)SC_ARG1(regs));
	return name;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_send, struct pt_regs *regs, long ret)
{
	struct net_req q;
	struct sock_facts s;
	if (ret <= 0 || !inet_sock_on_fd(SC_ARG0(regs), &s) || s.type != SOCK_DGRAM_VAL)
		return 0;
	net_req_init(&q, VIGIL_HOOK_SEND, VIGIL_NET_SEND, regs, ret);
	q.s = s;
	q.fd = SC_ARG0(regs);
	q.direction = VIGIL_NET_DIR_OUT;
	__u16 port = 0;
	__u8 addr[16] = {};
	if (read_sockaddr(send_dest(regs, q.nr), &port, addr)) {
		q.s.rport = port;
		__builtin_memcpy(q.s.raddr, addr, 16);
	}
	/* once per (process, peer) */
	struct send_key k = { .tgid = bpf_get_current_pid_tgid() >> 32, .family = q.s.family, .port = q.s.rport };
	__builtin_memcpy(k.addr, q.s.raddr, 16);
	__u64 now = bpf_ktime_get_boot_ns();
	if (bpf_map_update_elem(&send_seen, &k, &now, BPF_NOEXIST)) {
		stat_hook(VIGIL_HOOK_SEND, VIGIL_STAT_DEDUPED);
		return 0;
	}
	q.names = true;
	return net_emit(&q);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(exit_dup, struct pt_regs *regs, long ret)
{
	__u64 nr = SC_NR(regs);
	if (ret < 0 || ret > 2)
		return 0;
	if (nr == NR_fcntl && SC_ARG1(regs) != F_DUPFD_VAL && SC_ARG1(regs) != F_DUPFD_CLOEXEC_VAL)
		return 0;
	struct sock_facts sf;
	bool sock = inet_sock_on_fd(ret, &sf);

	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct proc_info *p = proc_lookup(tgid);
	if (p) {
		__u32 bit = PROC_STDIN_SOCKET << ret;
		if (sock) {
			p->flags |= bit;
			p->stdio_family = sf.family;
			p->stdio_port = sf.rport;
			__builtin_memcpy(p->stdio_addr, sf.raddr, 16);
		} else {
			p->flags &= ~bit; /* stdio now points elsewhere */
		}
	}
	if (!sock)
		return 0;
	struct net_req q;
	net_req_init(&q, VIGIL_HOOK_DUP, VIGIL_NET_DUP_STDIO, regs, ret);
	q.s = sf;
	q.fd = SC_ARG0(regs);
	q.newfd = ret;
	q.direction = VIGIL_NET_DIR_OUT;
	q.names = true;
	return net_emit(&q);
}

/*
 * Ending idle datagram flows: UDP has no close hook we can use everywhere, so a flow
 * that has been silent for cfg_udp_idle_ns is ended (FLOW_END with its counts) and
 * forgotten. The agent runs sweep_flows every tenth of the idle time (1-10 s) with
 * BPF_PROG_RUN; it walks flow_table with bpf_for_each_map_elem and returns how many
 * flows it ended.
 *
 * Why a syscall program: it needs no attach point and loads where map-element
 * iterators (iter/bpf_map_elem) are refused, as on our 6.18 machines. One run visits
 * every bucket of the table (65536): about 1 ms empty, 3 ms with 20,000 flows.
 */
struct sweep_state {
	__u64 now;
	__u32 ended;
};

static long sweep_one(struct bpf_map *map, __u64 *key, struct flow_info *f, struct sweep_state *st)
{
	if (f->protocol != IPPROTO_UDP_VAL || st->now - f->last_ktime < cfg_udp_idle_ns)
		return 0;
	__u64 cookie = *key;
	f->net_flags |= VIGIL_NET_IDLE_END;
	if (f->state & FLOW_STARTED) {
		stat_hook(VIGIL_HOOK_SKB, VIGIL_STAT_SEEN);
		struct record_buf *r = net_record_wanted(VIGIL_NET_FLOW_END, VIGIL_HOOK_SKB) ? record_buf_get() : NULL;
		if (r)
			emit_record(&rb_events, r, build_flow_record(r->data, f, cookie, VIGIL_NET_FLOW_END), VIGIL_HOOK_SKB);
	}
	bpf_map_delete_elem(map, &cookie);
	st->ended++;
	return 0;
}

SEC("syscall")
int sweep_flows(void *ctx)
{
	struct sweep_state st = { .now = bpf_ktime_get_boot_ns() };
	bpf_for_each_map_elem(&flow_table, sweep_one, &st, 0);
	return st.ended;
}

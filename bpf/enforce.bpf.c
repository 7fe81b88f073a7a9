// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Network enforcement: connect(2) to a destination a policy denies fails with EPERM
 * before a packet leaves (cgroup sock_addr hooks on the root of the cgroup v2
 * hierarchy: every process of the host and its containers). TCP and connected UDP.
 * Policies and their evaluation: include/policy.h. The exec half is in process.bpf.c.
 */
#include "common.h"
#include "policy.h"

SEC("cgroup/connect4")
int policy_connect4(struct bpf_sock_addr *ctx)
{
	if (cfg_floor)
		return 1;
	__u8 addr[16] = {};
	__u32 a = ctx->user_ip4;
	__builtin_memcpy(addr, &a, 4);
	return policy_on_connect(AF_INET_VAL, addr, bswap16((__u16)ctx->user_port));
}

SEC("cgroup/connect6")
int policy_connect6(struct bpf_sock_addr *ctx)
{
	if (cfg_floor)
		return 1;
	__u8 addr[16] = {};
	__u32 w[4];
	w[0] = ctx->user_ip6[0];
	w[1] = ctx->user_ip6[1];
	w[2] = ctx->user_ip6[2];
	w[3] = ctx->user_ip6[3];
	__builtin_memcpy(addr, w, 16);
	__u16 family = AF_INET6_VAL;
	/* ::ffff:a.b.c.d is the IPv4 address, as policies and the DNS map write it */
	unmap_v4(&family, addr);
	return policy_on_connect(family, addr, bswap16((__u16)ctx->user_port));
}

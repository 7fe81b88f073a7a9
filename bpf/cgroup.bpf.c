// SPDX-License-Identifier: (Apache-2.0 OR GPL-2.0)
/*
 * Cgroups of the v2 hierarchy as they are made and removed. Every record's
 * hdr.cgroup_id is a v2 cgroup id; a container runtime makes one cgroup per container
 * (docker-<id>.scope, libpod-<id>, cri-containerd-<id>.scope, ...), so this names the
 * container of an id before its first process runs, even when the container is gone
 * before userspace could look at /sys/fs/cgroup. The v1 hierarchies of a hybrid host are
 * skipped: their ids are never in a record.
 */
#include "common.h"
#include "task.h"

static __always_inline int cgroup_event(struct cgroup *cgrp, const char *path, __u32 op)
{
	if (cfg_floor)
		return 0;
	/* the default (v2) hierarchy is the first, id 0 */
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	stat_hook(VIGIL_HOOK_CGROUP, VIGIL_STAT_SEEN);
	struct record_buf *r = record_buf_get();
	if (!r)
		return 0;
	struct vigil_cgroup *c = (void *)r->data;
	fill_hdr(&c->hdr, VIGIL_KIND_CGROUP);
	c->id = BPF_CORE_READ(cgrp, kn, id);
	c->op = op;
	c->level = BPF_CORE_READ(cgrp, level);
	c->pad = 0;
	c->pad2 = 0;
	long n = bpf_probe_read_kernel_str(&r->data[sizeof(*c)], VIGIL_PATH_MAX, path);
	c->path_len = n > 1 ? n - 1 : 0;
	emit_record(&rb_proc, r, sizeof(*c) + c->path_len, VIGIL_HOOK_CGROUP);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(handle_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	return cgroup_event(cgrp, path, VIGIL_CGROUP_MKDIR);
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(handle_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	return cgroup_event(cgrp, path, VIGIL_CGROUP_RMDIR);
}

/* The kernel features the datapath needs (libbpf's feature probes), checked before loading it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"

/* What the datapath uses, oldest first, each with the kernel that brought it. */
static const struct {
	enum bpf_prog_type prog;
	enum bpf_func_id helper;
	const char *what;
} helpers[] = {
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_fib_lookup, "bpf_fib_lookup in XDP (4.18)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_xdp_adjust_tail, "bpf_xdp_adjust_tail (4.18)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_skb_adjust_room, "bpf_skb_adjust_room in TC (4.13)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_ringbuf_reserve, "BPF ring buffers (5.8)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_redirect_neigh, "bpf_redirect_neigh (5.10)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_ktime_get_coarse_ns, "bpf_ktime_get_coarse_ns (5.11)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_loop, "bpf_loop (5.17)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_tcp_raw_gen_syncookie_ipv4, "bpf_tcp_raw_gen_syncookie_ipv4 in XDP (6.0)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_tcp_raw_gen_syncookie_ipv4, "bpf_tcp_raw_gen_syncookie_ipv4 in TC (6.0)" },
	{ BPF_PROG_TYPE_XDP, BPF_FUNC_tcp_raw_check_syncookie_ipv4, "bpf_tcp_raw_check_syncookie_ipv4 in XDP (6.0)" },
	{ BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_tcp_raw_check_syncookie_ipv4,
	  "bpf_tcp_raw_check_syncookie_ipv4 in TC (6.0)" },
};

int kfeatures_check(char *err, size_t errlen)
{
	size_t i;
	int r;

	r = libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL);
	if (r == 0) {
		snprintf(err, errlen, "this kernel lacks BPF ring buffers, which the datapath needs: Linux %s or newer is "
			 "required", PGS_MIN_KERNEL);
		return -EOPNOTSUPP;
	}
	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++) {
		r = libbpf_probe_bpf_helper(helpers[i].prog, helpers[i].helper, NULL);
		if (r < 0) {
			snprintf(err, errlen, "cannot probe the kernel's BPF features (%s): %s", helpers[i].what, strerror(-r));
			return r;
		}
		if (r == 0) {
			snprintf(err, errlen, "this kernel lacks %s, which the datapath needs: Linux %s or newer is required",
				 helpers[i].what, PGS_MIN_KERNEL);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

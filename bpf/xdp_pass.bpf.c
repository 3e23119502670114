// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A pass-everything XDP program for the peer end of a veth: veth delivers XDP_TX frames only when
 * its peer runs XDP. The lab attaches it; pgsteerd never does. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

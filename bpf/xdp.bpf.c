// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pgsteer's XDP entry point: full-NAT steering of VIP connections at the driver, before any skb exists. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/lb.h"
#include "lib/icmp.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* Devices this program may redirect a frame to (ifindex -> ifindex), filled by the controller with
 * the device it attached the program to. A frame for any other device goes on untouched to the TC
 * program, whose bpf_redirect works for every device, instead of being dropped by a driver that
 * cannot transmit XDP frames. Not pinned: it is configuration, filled at every load (and libbpf
 * cannot reuse a pinned devmap: the kernel adds BPF_F_RDONLY_PROG to its flags). */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} pgs_tx_ports SEC(".maps");

/* Whether this program can send a frame out of ifindex itself: back out of the ingress device
 * (XDP_TX), or to a device in pgs_tx_ports. */
static __always_inline int xdp_can_send(__u32 ifindex, __u32 ingress)
{
	return ifindex == ingress || bpf_map_lookup_elem(&pgs_tx_ports, &ifindex);
}

/* Next hop of the translated packet: the egress device and both MACs. */
static __always_inline int xdp_fib(struct xdp_md *ctx, const struct pgs_pkt *p, const struct pgs_plan *plan,
				   struct bpf_fib_lookup *fib)
{
	fib->family = AF_INET;
	fib->tos = p->ip->tos;
	fib->l4_protocol = IPPROTO_TCP;
	fib->tot_len = bpf_ntohs(p->ip->tot_len); /* native XDP: one frame, never GSO */
	fib->ipv4_src = plan->saddr;
	fib->ipv4_dst = plan->daddr;
	fib->ifindex = ctx->ingress_ifindex;
	return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* Rewrite addresses and ports in place; the checksums follow incrementally (RFC 1624). */
static __always_inline void xdp_rewrite(struct pgs_pkt *p, const struct pgs_plan *plan)
{
	struct pgs_csum_diff d = pgs_rewrite_diff(p, plan);

	p->ip->check = csum_apply(p->ip->check, d.addrs);
	p->tcp->check = csum_apply(p->tcp->check, d.addrs + d.ports);
	p->ip->saddr = plan->saddr;
	p->ip->daddr = plan->daddr;
	p->tcp->source = plan->sport;
	p->tcp->dest = plan->dport;
}

/* Turn the packet into the RST that answers it, sent back where it came from. */
static __always_inline void xdp_reflect_rst(struct pgs_pkt *p)
{
	struct pgs_rst r = pgs_rst_for(p);
	__u16 *word = (__u16 *)((__u8 *)p->tcp + PGS_TCP_OFF_FLAGS);
	__u16 old = *word, port;
	__u32 d = 0, addr;
	unsigned char mac[ETH_ALEN];

	((__u8 *)p->tcp)[PGS_TCP_OFF_FLAGS + 1] = r.flags;
	d = csum_diff16(d, old, *word);
	d = csum_diff32(d, p->tcp->seq, r.seq);
	d = csum_diff32(d, p->tcp->ack_seq, r.ack_seq);
	p->tcp->check = csum_apply(p->tcp->check, d);
	p->tcp->seq = r.seq;
	p->tcp->ack_seq = r.ack_seq;

	addr = p->ip->saddr;
	p->ip->saddr = p->ip->daddr;
	p->ip->daddr = addr;
	port = p->tcp->source;
	p->tcp->source = p->tcp->dest;
	p->tcp->dest = port;
	__builtin_memcpy(mac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
	__builtin_memcpy(p->eth->h_dest, mac, ETH_ALEN);
}

/* Resize the frame to the reshaped packet's and write its headers (SYN cookies); checksums by full
 * computation, as XDP sees complete ones. 0, or -1. */
static __always_inline int xdp_shape(struct xdp_md *ctx, struct pgs_pkt *p, const struct pgs_shape *sh, int reflect)
{
	int delta = (int)shape_len(p, sh) - (int)(p->data_end - p->data);

	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return -1;
	if (shape_repoint(p, (void *)(long)ctx->data, (void *)(long)ctx->data_end, sh->thl))
		return -1;
	return shape_write(p, sh, reflect, 1);
}

static __always_inline int verdict(__u32 reason)
{
	count_verdict(reason);
	return pgs_reason_is_drop(reason) ? XDP_DROP : XDP_PASS;
}

/* Send a frame whose headers are final toward the resolved next hop. */
static __always_inline int xdp_send(struct xdp_md *ctx, struct ethhdr *eth, const struct pgs_hop *hop, __u32 reason)
{
	int rc;

	__builtin_memcpy(eth->h_dest, hop->dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, hop->smac, ETH_ALEN);
	if (hop->ifindex == ctx->ingress_ifindex) {
		count_verdict(reason);
		return XDP_TX;
	}
	/* Counted as forwarded only when it is (the device may have left pgs_tx_ports meanwhile). */
	rc = bpf_redirect_map(&pgs_tx_ports, hop->ifindex, 0);
	count_verdict(rc == XDP_REDIRECT ? reason : PGS_R_DROP_FIB);
	return rc == XDP_REDIRECT ? XDP_REDIRECT : XDP_DROP;
}

/* An ICMP error about a steered flow: translated and sent to the flow's other side. Anything else
 * the classifier passed goes on to the stack. */
static __always_inline int xdp_icmp(struct xdp_md *ctx)
{
	struct pgs_pkt p = { .data = (void *)(long)ctx->data, .data_end = (void *)(long)ctx->data_end };
	struct pgs_plan plan = {};
	struct pgs_icmp_xlat x = {};
	struct bpf_fib_lookup fib = {};
	int r = pgs_icmp_classify(p.data, p.data_end, &x), rc;

	if (r >= 0)
		return verdict(r);
	p.ip = x.ip;
	plan.saddr = x.saddr;
	plan.daddr = x.daddr;
	rc = xdp_fib(ctx, &p, &plan, &fib);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return verdict(PGS_R_PASS_PUNT);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return verdict(PGS_R_DROP_FIB);
	hop_resolved(&plan, &fib);
	if (!xdp_can_send(plan.hop.ifindex, ctx->ingress_ifindex))
		return verdict(PGS_R_PASS_PUNT);
	pgs_icmp_rewrite(&x);
	return xdp_send(ctx, p.data, &plan.hop, PGS_R_ICMP_FWD);
}

/* A datagram too big for its egress: turned into the fragmentation-needed error that answers it,
 * sent back where it came from. Nothing of the flow changes: the sender retransmits smaller. */
static __always_inline int xdp_too_big(struct xdp_md *ctx, __u32 mtu)
{
	void *data = (void *)(long)ctx->data, *data_end = (void *)(long)ctx->data_end;
	struct ethhdr eth;
	int keep = (int)(sizeof(eth) + PGS_TOO_BIG_QUOTE);

	if (data + sizeof(eth) > data_end)
		return verdict(PGS_R_DROP_MALFORMED);
	__builtin_memcpy(&eth, data, sizeof(eth));
	count_verdict(PGS_R_ICMP_TOO_BIG);
	if (bpf_xdp_adjust_tail(ctx, keep - (int)(data_end - data)) ||
	    bpf_xdp_adjust_head(ctx, -(int)(PGS_TOO_BIG_LEN - PGS_TOO_BIG_QUOTE)))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (pgs_too_big_fill(data, data_end, &eth, mtu, 0))
		return XDP_DROP;
	return XDP_TX;
}

SEC("xdp")
int pgs_xdp(struct xdp_md *ctx)
{
	struct pgs_pkt p = { .data = (void *)(long)ctx->data, .data_end = (void *)(long)ctx->data_end };
	struct pgs_plan plan = { .in_ifindex = ctx->ingress_ifindex };
	__u32 mtu;
	int r, rc;

	r = pgs_classify(&p, &plan);
	if (r == PGS_R_PASS)
		return xdp_icmp(ctx);
	if (r >= 0)
		return verdict(r);

	if (plan.kind == PGS_K_RESET) {
		count_verdict(plan.reset);
		if (!pgs_commit_reset(&p, &plan))
			return XDP_DROP;
		xdp_reflect_rst(&p);
		return XDP_TX;
	}
	if (plan.kind == PGS_K_COOKIE) {
		if (xdp_shape(ctx, &p, &plan.shape, 1))
			return verdict(PGS_R_DROP_MALFORMED);
		count_verdict(pgs_answer_reason(&plan));
		return XDP_TX;
	}

	/* Resolve the next hop (or take the flow's cached one) before touching any state: a packet we
	 * cannot send yet goes on to the TC program untouched, which resolves the neighbour and does
	 * the whole job itself. */
	if (!hop_cached(&plan)) {
		/* Scoped to the lookup: its 64 bytes share the stack with the commit's flow. */
		struct bpf_fib_lookup fib = {};

		rc = xdp_fib(ctx, &p, &plan, &fib);
		if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
			return verdict(PGS_R_PASS_PUNT);
		if (rc == BPF_FIB_LKUP_RET_FRAG_NEEDED)
			return xdp_too_big(ctx, fib.mtu_result);
		if (rc != BPF_FIB_LKUP_RET_SUCCESS) {
			if (plan.kind == PGS_K_NEW)
				pgs_server_unroutable(plan.slot, plan.now);
			return verdict(PGS_R_DROP_FIB);
		}
		hop_resolved(&plan, &fib);
	} else if ((mtu = pgs_too_big(ctx, &plan, bpf_ntohs(p.ip->tot_len)))) { /* the lookup checked it otherwise */
		return xdp_too_big(ctx, mtu);
	}
	if (!xdp_can_send(plan.hop.ifindex, ctx->ingress_ifindex))
		return verdict(PGS_R_PASS_PUNT);

	r = pgs_commit(&p, &plan);
	if (r >= 0)
		return verdict(r);

	if (plan.shape.kind && xdp_shape(ctx, &p, &plan.shape, 0))
		return verdict(PGS_R_DROP_MALFORMED);
	if (p.flags & PGS_TCP_SYN) {
		__u32 mss = pgs_mss_limit(ctx, p.ip, ctx->ingress_ifindex);

		if (mss)
			p.tcp->check = csum_apply(p.tcp->check, pgs_mss_clamp(p.tcp, p.data_end, mss));
	}
	xdp_rewrite(&p, &plan);
	return xdp_send(ctx, p.eth, &plan.hop, pgs_fwd_reason(&plan));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pgsteer's TC ingress entry point (clsact): the same steering for any device, and in XDP mode the
 * fallback that finishes packets XDP handed on because their next hop was not resolved yet. */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lib/lb.h"
#include "lib/icmp.h"

#ifndef AF_INET
#define AF_INET 2
#endif

#define ETH_OFF_DST 0
#define IP_OFF (sizeof(struct ethhdr))
#define IP_OFF_SADDR (IP_OFF + offsetof(struct iphdr, saddr))
#define HDR_MAX (sizeof(struct ethhdr) + 60 + 60)
#define PGS_ICMP_HDR_MAX (sizeof(struct ethhdr) + 60 + 8 + 60 + 20) /* up to the quoted TCP checksum */

/* Rewrite in place: addresses, ports, the IP checksum (never offloaded) and, when the next hop is
 * known, the MACs; then the TCP checksum through the skb helpers, which keep CHECKSUM_PARTIAL and
 * GSO packets right (pseudo-header and ports separately). Packet pointers are dead afterwards. */
static __always_inline int tc_rewrite(struct __sk_buff *skb, struct pgs_pkt *p, const struct pgs_plan *plan, int macs)
{
	struct pgs_csum_diff d = pgs_rewrite_diff(p, plan);
	__u32 tcp_off = IP_OFF + p->ip->ihl * 4;

	if (macs) {
		__builtin_memcpy(p->eth->h_dest, plan->hop.dmac, ETH_ALEN);
		__builtin_memcpy(p->eth->h_source, plan->hop.smac, ETH_ALEN);
	}
	p->ip->check = csum_apply(p->ip->check, d.addrs);
	p->ip->saddr = plan->saddr;
	p->ip->daddr = plan->daddr;
	p->tcp->source = plan->sport;
	p->tcp->dest = plan->dport;
	if (bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, 0, d.addrs, BPF_F_PSEUDO_HDR) ||
	    bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, 0, d.ports, 0))
		return -1;
	return 0;
}

/* Turn the packet into the RST that answers it and send it back out of the device it came in on. */
static __always_inline int tc_reflect_rst(struct __sk_buff *skb, struct pgs_pkt *p)
{
	struct pgs_rst r = pgs_rst_for(p);
	__u32 tcp_off = IP_OFF + p->ip->ihl * 4;
	__u32 addrs[2] = { p->ip->daddr, p->ip->saddr };
	__u16 ports[2] = { p->tcp->dest, p->tcp->source };
	__u8 macs[2 * ETH_ALEN];
	__u16 old_word = *(__u16 *)((__u8 *)p->tcp + PGS_TCP_OFF_FLAGS), new_word;
	__u32 seqs[2] = { r.seq, r.ack_seq };
	__u32 d;

	if (skb->gso_segs > 1)
		return -1; /* a merged burst cannot become one RST; the session's next packet will */
	__builtin_memcpy(macs, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, p->eth->h_dest, ETH_ALEN);
	((__u8 *)&new_word)[0] = ((__u8 *)&old_word)[0];
	((__u8 *)&new_word)[1] = r.flags;
	d = csum_diff16(0, old_word, new_word);
	d = csum_diff32(d, p->tcp->seq, r.seq);
	d = csum_diff32(d, p->tcp->ack_seq, r.ack_seq);

	if (bpf_skb_store_bytes(skb, ETH_OFF_DST, macs, sizeof(macs), 0) ||
	    bpf_skb_store_bytes(skb, IP_OFF_SADDR, addrs, sizeof(addrs), 0) ||
	    bpf_skb_store_bytes(skb, tcp_off, ports, sizeof(ports), 0) ||
	    bpf_skb_store_bytes(skb, tcp_off + PGS_TCP_OFF_SEQ, seqs, sizeof(seqs), 0) ||
	    bpf_skb_store_bytes(skb, tcp_off + PGS_TCP_OFF_FLAGS, &new_word, sizeof(new_word), 0) ||
	    bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, 0, d, 0))
		return -1;
	return bpf_redirect(skb->ifindex, 0);
}

/* Resize the frame to the reshaped packet's and write its headers (SYN cookies). The skb may be
 * CHECKSUM_PARTIAL, so the TCP checksum follows incrementally: the header as it was against the
 * header as it leaves (bpf_csum_diff; the checksum field is the same in both), and the
 * pseudo-header's length. A segment with payload is refused (-2: its bytes would have to be summed
 * out too); a cookie flow's client sends none before its window opens. 0, or -1. */
static __always_inline int tc_shape(struct __sk_buff *skb, struct pgs_pkt *p, const struct pgs_shape *sh, int reflect)
{
	__u32 old[15] = {}, new[6] = {};
	__u32 tcp_off = IP_OFF + p->ip->ihl * 4, othl = p->tcp->doff * 4, thl = sh->thl, len = shape_len(p, sh);
	__u16 old_tl, new_tl;
	__s64 d;

	if (shape_payload(p))
		return -2;
	if (othl > sizeof(old) || othl < 20 || thl > sizeof(new) || thl < 20 || skb->gso_segs > 1)
		return -1;
	old_tl = bpf_htons((__u16)othl);
	new_tl = bpf_htons((__u16)thl);
	if (bpf_skb_load_bytes(skb, tcp_off, old, othl))
		return -1;
	if (len != skb->len && bpf_skb_change_tail(skb, len, 0))
		return -1;
	if (bpf_skb_pull_data(skb, len))
		return -1;
	if (shape_repoint(p, (void *)(long)skb->data, (void *)(long)skb->data_end, thl))
		return -1;
	if (shape_write(p, sh, reflect, 0))
		return -1;
	tcp_off = IP_OFF + p->ip->ihl * 4;
	if (bpf_skb_load_bytes(skb, tcp_off, new, thl))
		return -1;
	d = bpf_csum_diff(old, othl, new, thl, 0);
	if (d < 0 || bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, 0, (__u32)d, 0) ||
	    bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, old_tl, new_tl, BPF_F_PSEUDO_HDR | sizeof(__u16)))
		return -1;
	/* The helpers moved the packet: point at it again for the translation that follows. */
	return shape_repoint(p, (void *)(long)skb->data, (void *)(long)skb->data_end, thl);
}

/* Resolve the next hop of the translated packet (unless known without a lookup, nexthop.h): 0 with
 * plan->hop set, 1 when the kernel has no neighbour yet (*ifindex: where redirect_neigh resolves
 * it), 2 when the packet (or a GSO packet's segment) is too big for the route (*mtu; icmp.h checks a
 * known hop), -1. tot_len: the IP length to check. */
static __always_inline int tc_resolve(struct __sk_buff *skb, struct pgs_plan *plan, __u16 tot_len, __u32 *ifindex,
				      __u32 *mtu)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.l4_protocol = IPPROTO_TCP,
		.tot_len = tot_len,
		.ipv4_src = plan->saddr,
		.ipv4_dst = plan->daddr,
		.ifindex = skb->ifindex,
	};
	int rc;

	if (hop_cached(plan)) {
		*mtu = pgs_too_big(skb, plan, tot_len); /* the lookup checks it otherwise */
		return *mtu ? 2 : 0;
	}
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS) {
		hop_resolved(plan, &fib);
		return 0;
	}
	*ifindex = fib.ifindex;
	*mtu = fib.mtu_result;
	return rc == BPF_FIB_LKUP_RET_NO_NEIGH ? 1 : rc == BPF_FIB_LKUP_RET_FRAG_NEEDED ? 2 : -1;
}

/* Send the translated packet toward its next hop (its MACs already written), or let the kernel
 * resolve a neighbour it does not know yet. */
static __always_inline int tc_forward(const struct pgs_plan *plan, int no_neigh, __u32 ifindex)
{
	if (no_neigh)
		return bpf_redirect_neigh(ifindex, 0, 0, 0);
	return bpf_redirect(plan->hop.ifindex, 0);
}

static __always_inline int verdict(__u32 reason)
{
	int drop = pgs_reason_is_drop(reason);

	/* Behind XDP, passes were counted there already. */
	if (drop || !pgs_cfg.fallback)
		count_verdict(reason);
	return drop ? TC_ACT_SHOT : TC_ACT_OK;
}

/* The IP length the route's MTU is checked against: the packet's, or for GSO each segment's
 * (gso_size of payload behind the headers). */
static __always_inline __u16 tc_seg_len(const struct __sk_buff *skb, const struct pgs_pkt *p)
{
	if (skb->gso_size)
		return (__u16)(skb->gso_size + p->ip->ihl * 4 + p->tcp->doff * 4);
	return bpf_ntohs(p->ip->tot_len);
}

/* An ICMP error about a steered flow: translated in place and sent to the flow's other side.
 * Anything else the classifier passed goes on to the stack. */
static __always_inline int tc_icmp(struct __sk_buff *skb)
{
	struct pgs_plan plan = {};
	struct pgs_icmp_xlat x = {};
	__u32 ifindex = 0, mtu;
	void *data, *data_end;
	int r, hop, act;

	if (skb->data_end - skb->data < PGS_ICMP_HDR_MAX && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < PGS_ICMP_HDR_MAX ? skb->len : PGS_ICMP_HDR_MAX);
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	r = pgs_icmp_classify(data, data_end, &x);
	if (r >= 0)
		return verdict(r);
	plan.saddr = x.saddr;
	plan.daddr = x.daddr;
	hop = tc_resolve(skb, &plan, bpf_ntohs(x.ip->tot_len), &ifindex, &mtu);
	if (hop < 0 || hop == 2)
		return verdict(PGS_R_DROP_FIB);
	pgs_icmp_rewrite(&x);
	if (!hop) {
		__builtin_memcpy(((struct ethhdr *)data)->h_dest, plan.hop.dmac, ETH_ALEN);
		__builtin_memcpy(((struct ethhdr *)data)->h_source, plan.hop.smac, ETH_ALEN);
	}
	act = tc_forward(&plan, hop, ifindex);
	if (act < 0)
		return verdict(PGS_R_DROP_FIB);
	count_verdict(PGS_R_ICMP_FWD);
	return act;
}

/* A datagram too big for its egress: turned into the fragmentation-needed error that answers it,
 * sent back out of the device it came in on (a GSO packet stops being one when cut: it quotes its
 * first segment's headers). Nothing of the flow changes. */
static __always_inline int tc_too_big(struct __sk_buff *skb, __u32 mtu)
{
	struct ethhdr eth;
	void *data, *data_end;

	if (bpf_skb_load_bytes(skb, 0, &eth, sizeof(eth)))
		return verdict(PGS_R_DROP_MALFORMED);
	count_verdict(PGS_R_ICMP_TOO_BIG);
	if (bpf_skb_change_tail(skb, sizeof(eth) + PGS_TOO_BIG_QUOTE, 0) ||
	    bpf_skb_adjust_room(skb, PGS_TOO_BIG_LEN - PGS_TOO_BIG_QUOTE, BPF_ADJ_ROOM_MAC, 0) ||
	    bpf_skb_pull_data(skb, sizeof(eth) + PGS_TOO_BIG_LEN))
		return TC_ACT_SHOT;
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (pgs_too_big_fill(data, data_end, &eth, mtu, 1))
		return TC_ACT_SHOT;
	return bpf_redirect(skb->ifindex, 0);
}

SEC("tc")
int pgs_tc(struct __sk_buff *skb)
{
	struct pgs_pkt p = {};
	struct pgs_plan plan = { .in_ifindex = skb->ifindex };
	__u32 ifindex = 0, mtu = 0, tcp_off, mss_diff = 0;
	int r, act, hop;

	/* Headers must be in the linear part for direct access. */
	if (skb->data_end - skb->data < HDR_MAX && skb->len > skb->data_end - skb->data)
		bpf_skb_pull_data(skb, skb->len < HDR_MAX ? skb->len : HDR_MAX);
	p.data = (void *)(long)skb->data;
	p.data_end = (void *)(long)skb->data_end;

	r = pgs_classify(&p, &plan);
	if (r == PGS_R_PASS)
		return tc_icmp(skb);
	if (r >= 0)
		return verdict(r);

	if (plan.kind == PGS_K_RESET) {
		count_verdict(plan.reset);
		if (!pgs_commit_reset(&p, &plan))
			return TC_ACT_SHOT;
		act = tc_reflect_rst(skb, &p);
		return act < 0 ? TC_ACT_SHOT : act;
	}
	if (plan.kind == PGS_K_COOKIE) {
		if (tc_shape(skb, &p, &plan.shape, 1))
			return verdict(PGS_R_DROP_MALFORMED);
		count_verdict(pgs_answer_reason(&plan));
		return bpf_redirect(skb->ifindex, 0);
	}

	hop = tc_resolve(skb, &plan, tc_seg_len(skb, &p), &ifindex, &mtu);
	if (hop == 2)
		return tc_too_big(skb, mtu);
	if (hop < 0) {
		if (plan.kind == PGS_K_NEW)
			pgs_server_unroutable(plan.slot, plan.now);
		return verdict(PGS_R_DROP_FIB);
	}
	r = pgs_commit(&p, &plan);
	if (r >= 0)
		return verdict(r);
	if (plan.shape.kind) {
		r = tc_shape(skb, &p, &plan.shape, 0);
		if (r)
			return verdict(r == -2 ? PGS_R_DROP_COOKIE_EARLY : PGS_R_DROP_MALFORMED);
	}
	tcp_off = IP_OFF + p.ip->ihl * 4;
	if (p.flags & PGS_TCP_SYN) {
		__u32 mss = pgs_mss_limit(skb, p.ip, skb->ifindex);

		if (mss)
			mss_diff = pgs_mss_clamp(p.tcp, p.data_end, mss);
	}
	if (tc_rewrite(skb, &p, &plan, !hop))
		return verdict(PGS_R_DROP_MALFORMED);
	/* The MSS is payload of the checksum, not pseudo-header: left alone on CHECKSUM_PARTIAL. */
	if (mss_diff && bpf_l4_csum_replace(skb, tcp_off + PGS_TCP_OFF_CHECK, 0, mss_diff, 0))
		return verdict(PGS_R_DROP_MALFORMED);
	act = tc_forward(&plan, hop, ifindex);
	if (act < 0)
		return verdict(PGS_R_DROP_FIB);
	count_verdict(pgs_fwd_reason(&plan));
	return act;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";

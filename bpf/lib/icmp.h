/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Path MTU through the VIP: ICMP errors about steered flows translated to the other side, as IPVS
 * and Katran do; fragmentation-needed for a packet too big for its egress instead of a silent drop;
 * the MSS of SYN and SYN-ACK clamped to the path back to their sender. The entry points do the
 * routing and sending; everything here works on a packet through direct access, XDP or TC alike. */
#ifndef PGS_ICMP_H
#define PGS_ICMP_H

#include "parse.h"
#include "csum.h"
#include "stats.h"
#include "lb.h"

#define PGS_ICMP_HLEN 8         /* type, code, checksum, 4 bytes of rest (the next-hop MTU) */
#define PGS_ICMP_QUOTE_MIN 8    /* bytes of the offending datagram after its IP header (RFC 792) */
#define PGS_TCP_CHECK_END 18    /* quoted TCP bytes needed to hold its checksum field */
#define PGS_TOO_BIG_QUOTE 68    /* IP bytes quoted by our frag-needed: the largest header + 8 */
#define PGS_TOO_BIG_LEN (sizeof(struct iphdr) + PGS_ICMP_HLEN + PGS_TOO_BIG_QUOTE)
#define PGS_MSS_OVERHEAD 40     /* IPv4 and TCP headers without options */
#define PGS_MIN_MTU 68          /* IPv4's minimum (RFC 791) */
#define PGS_MTU_FLOOR 552       /* the smallest path MTU Linux learns (route/min_pmtu): smaller fits */
#define PGS_TCPOPT_MSS 2

/* The ICMP header (<linux/icmp.h> pulls in libc through <linux/if.h>). */
struct icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u16 unused;
	__u16 mtu;       /* fragmentation needed: the next hop's MTU (RFC 1191) */
};

#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMP_TIME_EXCEEDED 11

/* An ICMP error about a steered flow, and the headers it leaves with (network order). */
struct pgs_icmp_xlat {
	struct iphdr *ip;        /* outer header */
	struct icmphdr *icmp;
	struct iphdr *in_ip;     /* the quoted datagram's header */
	struct tcphdr *in_tcp;   /* its first 8 bytes at least */
	int in_check;            /* the quoted TCP checksum field is inside the message */
	__u32 saddr, daddr;      /* new outer addresses: the VIP, and the client or backend */
	__u32 in_saddr, in_daddr;
	__u16 in_sport, in_dport;
	__u32 in_seq;            /* the quoted sequence number in its sender's numbers */
	__u32 slot;
	__u32 epoch;             /* the node's steering epoch (pgs_ctl.epoch) */
};

/* Whether seq is a sequence number side me (0: the client, 1: the backend) has in flight, as its
 * stack judges an error about it (Linux: snd_una <= seq <= snd_nxt, else the error is ignored):
 * from what the other side last acknowledged (PGS_SEQ_WINDOW before the edge while that is not
 * known) to the edge. A side whose edge is not tracked yet (a synced flow), or was learnt before
 * this node last took over (seqhint.h), is not judged. */
static __always_inline int icmp_seq_in_flight(const struct pgs_flow *f, __u32 seq, int me, __u32 epoch)
{
	__u32 tracked = me ? PGS_FLOW_F_SEQ_SERVER : PGS_FLOW_F_SEQ_CLIENT;
	__u32 acked = me ? PGS_FLOW_F_ACK_CLIENT : PGS_FLOW_F_ACK_SERVER;
	__u32 nxt = f->nxt[me & 1], lo;

	if (!(f->flags & tracked) || f->epoch != epoch)
		return 1;
	lo = (f->flags & acked) ? f->ack[!me] : nxt - PGS_SEQ_WINDOW;
	return seq - lo <= nxt - lo;
}

/* The quoted datagram was our packet toward a client (VIP:port -> client): the error goes to the
 * backend, about the segment it sent to VIP:SNAT port. */
static __always_inline int icmp_about_client_side(struct pgs_icmp_xlat *x)
{
	struct pgs_flow_key fk = {
		.client = x->in_ip->daddr,
		.vip = x->in_ip->saddr,
		.cport = x->in_tcp->dest,
		.vport = x->in_tcp->source,
	};
	struct pgs_flow *f = bpf_map_lookup_elem(&pgs_flows, &fk);
	__u32 seq;

	if (!f)
		return PGS_R_DROP_ICMP_NO_FLOW;
	/* The backend's segment as we sent it on: a cookie flow's in the client's numbers. Back in the
	 * backend's (the delta its client's ACKs get), checked, and quoted so. */
	seq = seqxlate_ack(f, bpf_ntohl(x->in_tcp->seq));
	if (!icmp_seq_in_flight(f, seq, 1, x->epoch))
		return PGS_R_DROP_ICMP_SEQ;
	x->in_seq = bpf_htonl(seq);
	x->daddr = f->backend;
	x->in_saddr = f->backend;
	x->in_sport = f->bport;
	x->in_daddr = fk.vip;
	x->in_dport = f->sport;
	x->slot = f->slot;
	return -1;
}

/* The quoted datagram was our packet toward a backend (VIP:SNAT port -> backend): the error goes to
 * the client, about the segment it sent to VIP:port. */
static __always_inline int icmp_about_backend_side(struct pgs_icmp_xlat *x)
{
	struct pgs_rflow_key rk = {
		.backend = x->in_ip->daddr,
		.vip = x->in_ip->saddr,
		.bport = x->in_tcp->dest,
		.sport = x->in_tcp->source,
	};
	struct pgs_flow_key *fk = bpf_map_lookup_elem(&pgs_rflows, &rk);
	struct pgs_flow_key k;
	struct pgs_flow *f;

	if (!fk)
		return PGS_R_DROP_ICMP_NO_FLOW;
	k = *fk;
	f = bpf_map_lookup_elem(&pgs_flows, &k);
	if (!f || f->backend != rk.backend || f->bport != rk.bport || f->sport != rk.sport)
		return PGS_R_DROP_ICMP_NO_FLOW; /* a stale reverse entry */
	if (!icmp_seq_in_flight(f, bpf_ntohl(x->in_tcp->seq), 0, x->epoch))
		return PGS_R_DROP_ICMP_SEQ;
	x->in_seq = x->in_tcp->seq; /* the client's numbers are the backend's */
	x->daddr = k.client;
	x->in_saddr = k.client;
	x->in_sport = k.cport;
	x->in_daddr = k.vip;
	x->in_dport = k.vport;
	x->slot = f->slot;
	return -1;
}

/* An ICMP destination-unreachable or time-exceeded addressed to the VIP, quoting one of our
 * translated segments. Returns PASS (not such an error: echo, other hosts, other protocols,
 * malformed), PASS_INACTIVE, DROP_ICMP_NO_FLOW (quotes a VIP segment of no flow), DROP_ICMP_SEQ
 * (quotes a segment its sender has not in flight: forged, or about data delivered since), or -1
 * with x filled. Reads maps, changes no state. */
static __always_inline int pgs_icmp_classify(void *data, void *data_end, struct pgs_icmp_xlat *x)
{
	struct hdr_cursor c = { .pos = data };
	const struct pgs_ctl *ctl;
	struct ethhdr *eth;
	__u32 quoted;
	int proto;

	if (parse_eth(&c, data_end, &eth) != bpf_htons(ETH_P_IP))
		return PGS_R_PASS;
	if (parse_ipv4(&c, data_end, &x->ip) != IPPROTO_ICMP || ipv4_is_fragment(x->ip))
		return PGS_R_PASS;
	x->icmp = c.pos;
	if ((void *)x->icmp + PGS_ICMP_HLEN > data_end)
		return PGS_R_PASS;
	if (x->icmp->type != ICMP_DEST_UNREACH && x->icmp->type != ICMP_TIME_EXCEEDED)
		return PGS_R_PASS;
	c.pos += PGS_ICMP_HLEN;
	/* A malformed error is not ours to judge: the stack validates what it receives. */
	proto = parse_ipv4(&c, data_end, &x->in_ip);
	if (proto < 0)
		return PGS_R_PASS;
	/* Only what we sent can concern us: TCP from an address of ours to the sender of the error's
	 * destination, a first (or no) fragment, with its ports quoted. */
	if (proto != IPPROTO_TCP || x->in_ip->saddr != x->ip->daddr || (x->in_ip->frag_off & bpf_htons(0x1fff)))
		return PGS_R_PASS;
	x->in_tcp = c.pos;
	if ((void *)x->in_tcp + PGS_ICMP_QUOTE_MIN > data_end)
		return PGS_R_PASS;
	/* Bytes of the quoted TCP header inside the outer datagram (not the frame's padding). */
	quoted = bpf_ntohs(x->ip->tot_len);
	if (quoted < x->ip->ihl * 4 + PGS_ICMP_HLEN + x->in_ip->ihl * 4 + PGS_ICMP_QUOTE_MIN)
		return PGS_R_PASS;
	quoted -= x->ip->ihl * 4 + PGS_ICMP_HLEN + x->in_ip->ihl * 4;
	x->in_check = quoted >= PGS_TCP_CHECK_END && (void *)x->in_tcp + PGS_TCP_CHECK_END <= data_end;
	ctl = pgs_steering();
	if (!ctl)
		return PGS_R_PASS_INACTIVE;
	x->epoch = ctl->epoch;
	x->saddr = x->ip->daddr;
	if (bpf_map_lookup_elem(&pgs_services, &(struct pgs_svc_key){ .vip = x->in_ip->saddr, .port = x->in_tcp->source }))
		return icmp_about_client_side(x);
	if (bpf_ntohs(x->in_tcp->source) >= pgs_cfg.snat_min && bpf_ntohs(x->in_tcp->source) <= pgs_cfg.snat_max)
		return icmp_about_backend_side(x);
	return PGS_R_PASS;
}

/* Rewrite the error in place: outer addresses and checksum, the quoted header's addresses and
 * checksum, its ports and sequence number (a cookie flow's back in the backend's numbers), its TCP
 * checksum when quoted (updated for the translation, as for the whole
 * segment: a truncated quote keeps a checksum over bytes no longer there), and the ICMP checksum over
 * all of it. Every checksum is updated incrementally (RFC 1624); none is offloaded for ICMP. */
static __always_inline void pgs_icmp_rewrite(struct pgs_icmp_xlat *x)
{
	__u32 d_in = 0, d_ports = 0, d_icmp, d_out = 0;
	__u16 old_ipc = x->in_ip->check, new_ipc;

	d_in = csum_diff32(d_in, x->in_ip->saddr, x->in_saddr);
	d_in = csum_diff32(d_in, x->in_ip->daddr, x->in_daddr);
	d_ports = csum_diff16(d_ports, x->in_tcp->source, x->in_sport);
	d_ports = csum_diff16(d_ports, x->in_tcp->dest, x->in_dport);
	d_ports = csum_diff32(d_ports, x->in_tcp->seq, x->in_seq);
	new_ipc = csum_apply(old_ipc, d_in);
	d_icmp = csum_diff16(d_in + d_ports, old_ipc, new_ipc);
	if (x->in_check) {
		__u16 old_tc = x->in_tcp->check, new_tc = csum_apply(old_tc, d_in + d_ports);

		d_icmp = csum_diff16(d_icmp, old_tc, new_tc);
		x->in_tcp->check = new_tc;
	}
	x->in_ip->check = new_ipc;
	x->in_ip->saddr = x->in_saddr;
	x->in_ip->daddr = x->in_daddr;
	x->in_tcp->source = x->in_sport;
	x->in_tcp->dest = x->in_dport;
	x->in_tcp->seq = x->in_seq;
	x->icmp->checksum = csum_apply(x->icmp->checksum, d_icmp);

	d_out = csum_diff32(d_out, x->ip->saddr, x->saddr);
	d_out = csum_diff32(d_out, x->ip->daddr, x->daddr);
	x->ip->check = csum_apply(x->ip->check, d_out);
	x->ip->saddr = x->saddr;
	x->ip->daddr = x->daddr;
}

/* A TC packet the local stack left CHECKSUM_PARTIAL stays so when cut into an error (no helper
 * clears it): whoever finishes it on the way computes the quoted TCP segment's checksum over the
 * quoted bytes, which would break the ICMP checksum. Set the quoted TCP checksum to the one value
 * that computation leaves unchanged, C = ~(X + C) with X the sum of the rest (C is half of ~X in
 * one's complement: a right rotation), before the ICMP checksum covers it. On any other packet this
 * only changes a checksum the receiver cannot verify on a cut segment anyway. */
static __always_inline int quote_partial_safe(struct iphdr *in, void *data_end)
{
	__u8 *check = (__u8 *)in + in->ihl * 4 + PGS_TCP_CHECK_END - 2;
	__u16 c;
	__s64 sum;

	if (in->ihl * 4 + PGS_TCP_CHECK_END > PGS_TOO_BIG_QUOTE || (void *)(check + 2) > data_end)
		return 0; /* not quoted: nothing to keep stable */
	check[0] = check[1] = 0;
	/* The quoted IP header sums to 0 (its checksum holds): the whole quote sums as its TCP part. */
	sum = bpf_csum_diff(0, 0, (void *)in, PGS_TOO_BIG_QUOTE, 0);
	if (sum < 0)
		return -1;
	c = (__u16)~csum_fold((__u32)sum);
	c = (__u16)(c >> 1 | c << 15);
	if (!c)
		c = 0xffff; /* a finished checksum of 0 is written as 0xffff */
	__builtin_memcpy(check, &c, 2);
	return 0;
}

/* Fill in a fragmentation-needed error (RFC 1191) in a frame the entry point has shaped as
 * [14 bytes Ethernet][28 bytes free][the first PGS_TOO_BIG_QUOTE bytes of the offending datagram]:
 * from the datagram's destination (the VIP) back to its sender, out where it came from (old_eth
 * is the datagram's Ethernet header). partial_safe: see quote_partial_safe. Returns 0, or -1 when
 * the frame is not that shape. */
static __always_inline int pgs_too_big_fill(void *data, void *data_end, const struct ethhdr *old_eth, __u32 mtu,
					    int partial_safe)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	struct icmphdr *icmp = (void *)(ip + 1);
	struct iphdr *in = (void *)icmp + PGS_ICMP_HLEN;
	__s64 sum;

	if ((void *)in + PGS_TOO_BIG_QUOTE > data_end)
		return -1;
	__builtin_memcpy(eth->h_dest, old_eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);
	*(__u16 *)ip = bpf_htons(0x45c0); /* version 4, 5 words, TOS internetwork control as Linux's errors */
	ip->tot_len = bpf_htons(PGS_TOO_BIG_LEN);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->check = 0;
	ip->saddr = in->daddr;
	ip->daddr = in->saddr;
	icmp->type = ICMP_DEST_UNREACH;
	icmp->code = ICMP_FRAG_NEEDED;
	icmp->checksum = 0;
	icmp->unused = 0;
	icmp->mtu = bpf_htons((__u16)mtu);
	if (partial_safe && quote_partial_safe(in, data_end))
		return -1;
	sum = bpf_csum_diff(0, 0, (void *)icmp, PGS_ICMP_HLEN + PGS_TOO_BIG_QUOTE, 0);
	if (sum < 0)
		return -1;
	icmp->checksum = (__u16)~csum_fold((__u32)sum);
	sum = bpf_csum_diff(0, 0, (void *)ip, sizeof(*ip), 0);
	if (sum < 0)
		return -1;
	ip->check = (__u16)~csum_fold((__u32)sum);
	return 0;
}

/* The MTU of the route from src to dst (as bpf_fib_lookup judges it, route metric or device), or 0
 * when there is no route. ctx: the XDP or TC context. */
static __always_inline __u32 pgs_path_mtu(void *ctx, __u32 src, __u32 dst, __u32 ifindex)
{
	struct bpf_fib_lookup fib = {
		.family = 2, /* AF_INET */
		.l4_protocol = IPPROTO_TCP,
		.tot_len = 0xffff, /* larger than any MTU: the lookup stops at the MTU check and names it */
		.ipv4_src = src,
		.ipv4_dst = dst,
		.ifindex = ifindex,
	};

	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_FRAG_NEEDED)
		return fib.mtu_result;
	return 0;
}

/* Whether the translated packet fits the route it leaves on: 0, or that route's MTU when it does
 * not. len: its IP length (for GSO, each segment's). Toward a server the slot's next hop carries the
 * MTU its lookup gave; a hop looked up for this packet was checked by that lookup. Toward a client
 * the way back is learnt from the client's frames without a lookup, so the route's MTU is looked up
 * (about once a second per flow, by a packet larger than PGS_MTU_FLOOR) and kept in the flow: the
 * route to a client may shrink while its session lives (a locked route MTU, a learnt path MTU). */
static __always_inline __u32 pgs_too_big(void *ctx, struct pgs_plan *plan, __u32 len)
{
	__u32 stamp = (__u32)(plan->now >> PGS_HOP_SHIFT), mtu = plan->mtu;
	struct pgs_flow *f = plan->flow;
	struct bpf_fib_lookup fib = {
		.family = 2, /* AF_INET */
		.l4_protocol = IPPROTO_TCP,
		.tot_len = (__u16)len,
		.ipv4_src = plan->saddr,
		.ipv4_dst = plan->daddr,
		.ifindex = plan->in_ifindex,
	};
	int rc;

	if (!mtu && plan->kind == PGS_K_REV && f && len > PGS_MTU_FLOOR) {
		if (f->cmtu_stamp == stamp && f->cmtu) {
			mtu = f->cmtu;
		} else {
			rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
			if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_FRAG_NEEDED)
				return 0; /* no route, no neighbour: the send decides */
			mtu = fib.mtu_result;
			f->cmtu = mtu;
			f->cmtu_stamp = stamp;
		}
	}
	return mtu && len > mtu ? mtu : 0;
}

/* Lower the MSS option of a SYN or SYN-ACK to max_mss in place. Returns the difference to apply to
 * the TCP checksum (0: unchanged, no option, or already below). Only an MSS that comes first among
 * the options is seen (as Linux, BSD and Windows send it): walking all of them made the verifier
 * explore every layout and loading took seconds instead of a few hundred ms. */
static __always_inline __u32 pgs_mss_clamp(struct tcphdr *tcp, void *data_end, __u32 max_mss)
{
	__u8 *opt = (__u8 *)(tcp + 1);
	__u16 old_w, new_w;

	if (tcp->doff * 4 < sizeof(*tcp) + 4 || (void *)(opt + 4) > data_end)
		return 0;
	if (opt[0] != PGS_TCPOPT_MSS || opt[1] != 4 || ((__u32)opt[2] << 8 | opt[3]) <= max_mss)
		return 0;
	__builtin_memcpy(&old_w, opt + 2, 2); /* at an even offset of the header: one checksum word */
	opt[2] = (__u8)(max_mss >> 8);
	opt[3] = (__u8)max_mss;
	__builtin_memcpy(&new_w, opt + 2, 2);
	return csum_diff16(0, old_w, new_w);
}

/* The MSS a SYN or SYN-ACK may announce: its sender's peer sends back along the path from us to the
 * sender, so the MTU of that path, less the headers. 0: no clamp. */
static __always_inline __u32 pgs_mss_limit(void *ctx, const struct iphdr *ip, __u32 ifindex)
{
	__u32 mtu = pgs_path_mtu(ctx, ip->daddr, ip->saddr, ifindex);

	return mtu >= PGS_MIN_MTU ? mtu - PGS_MSS_OVERHEAD : 0;
}

/* A new connection whose server has no route from here (an address of this host, a route gone):
 * the server leaves selection as if it had refused the SYN, until a passing check brings it back,
 * so the client's retransmission goes to another server instead of the same hole. */
static __always_inline void pgs_server_unroutable(__u32 slot, __u64 now)
{
	__u64 *passive = bpf_map_lookup_elem(&pgs_passive, &slot);

	if (passive)
		*passive = now;
}

#endif

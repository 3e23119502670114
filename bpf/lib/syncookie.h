/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* SYN cookies in the datapath. While cookies are on for a service (bpf/lib/synguard.h), a client
 * SYN is answered here with a SYN-ACK whose ISN is the kernel's cookie and no state is kept. An ACK
 * carrying a valid cookie creates the flow, picks the server and becomes our SYN to it (the
 * client's ISN, the MSS the cookie encodes). The server's SYN-ACK becomes, translated, an ACK to
 * the client that opens its window: our SYN-ACK offered a zero window, so the client sends nothing
 * before the server can take it, and its first segment completes the server's handshake.
 *
 * Negotiated without window scaling, SACK or timestamps (the raw cookie helpers encode the MSS
 * only): both sides then run with plain 16-bit windows and nothing in the options to translate;
 * only sequence numbers differ, by one constant per flow (bpf/lib/seqxlate.h). */
#ifndef PGS_SYNCOOKIE_H
#define PGS_SYNCOOKIE_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "parse.h"
#include "csum.h"
#include "flow.h"
#include "synguard.h"

/* How a packet is reshaped before it leaves (0: it is not). */
enum pgs_shape_kind {
	PGS_SHAPE_SYNACK = 1, /* client SYN -> our cookie SYN-ACK, back to the client */
	PGS_SHAPE_SYN,        /* client ACK/segment of a cookie flow -> our SYN to the backend */
	PGS_SHAPE_WUPD,       /* backend SYN-ACK of a cookie flow -> window-opening ACK to the client */
	PGS_SHAPE_RST,        /* backend RST to our SYN -> an RST in the client's numbers (its handshake was ours) */
	PGS_SHAPE_BACKEND_RST, /* backend ACK of an older connection to our SYN -> an RST back to the backend */
};

/* The TCP header a reshaped packet leaves with (values in host order), and the cookie facts of a
 * flow about to be created from a valid cookie ACK. */
struct pgs_shape {
	__u8 kind;       /* enum pgs_shape_kind */
	__u8 flags;      /* TCP flag byte */
	__u8 thl;        /* TCP header length: 20, or 24 with an MSS option */
	__u8 _pad;
	__u16 win;
	__u16 mss;       /* MSS option value when thl is 24 */
	__u32 seq;
	__u32 ack;
	/* PGS_SHAPE_SYN from a cookie ACK: the new flow's handshake */
	__u32 cookie_isn;
	__u32 client_isn;
	__u16 cwin;
	__u16 _pad2;
};

/* TCP payload bytes of the packet as it arrived (0 for BIG TCP's tot_len 0). */
static __always_inline __u32 shape_payload(const struct pgs_pkt *p)
{
	__u32 tot = bpf_ntohs(p->ip->tot_len), hdrs = p->ip->ihl * 4 + p->tcp->doff * 4;

	return tot > hdrs ? tot - hdrs : 0;
}

/* The MSS option of a SYN, or 0. Options are walked a bounded number of times. */
static __always_inline __u16 syn_mss_option(const struct pgs_pkt *p)
{
	__u32 hl = p->tcp->doff * 4, off = sizeof(struct tcphdr);
	__u8 *o;
	int i;

	for (i = 0; i < 12; i++) {
		if (off >= hl || hl > 60)
			return 0;
		o = (__u8 *)p->tcp + off;
		if ((void *)(o + 4) > p->data_end)
			return 0;
		if (o[0] == 0) /* EOL */
			return 0;
		if (o[0] == 1) { /* NOP */
			off++;
			continue;
		}
		if (o[0] == 2 && o[1] == 4)
			return (__u16)(o[2] << 8 | o[3]);
		if (o[1] < 2)
			return 0;
		off += o[1];
	}
	return 0;
}

/* The kernel's cookie for a SYN with these addresses, ports, ISN and MSS option, built on the stack
 * so the helper sees a header of known size. Returns cookie | (MSS it encodes << 32), or < 0. */
static __always_inline __s64 cookie_gen(__u32 saddr, __u32 daddr, __u16 sport, __u16 dport, __u32 isn, __u16 mss)
{
	struct iphdr ip = { .version = 4, .ihl = 5, .protocol = IPPROTO_TCP, .saddr = saddr, .daddr = daddr };
	struct {
		struct tcphdr th;
		__u8 opt[4];
	} s = {};

	s.th.source = sport;
	s.th.dest = dport;
	s.th.seq = bpf_htonl(isn);
	s.th.syn = 1;
	s.th.doff = mss ? 6 : 5;
	s.opt[0] = 2;
	s.opt[1] = 4;
	s.opt[2] = (__u8)(mss >> 8);
	s.opt[3] = (__u8)mss;
	return bpf_tcp_raw_gen_syncookie_ipv4(&ip, &s.th, mss ? 24 : 20);
}

/* Plan the cookie SYN-ACK answering a client SYN. Returns -1, or a DROP reason. */
static __always_inline int syncookie_plan_synack(const struct pgs_pkt *p, const struct pgs_svc *svc, __u64 now, struct pgs_shape *sh)
{
	__u16 mss = syn_mss_option(p);
	__s64 v = cookie_gen(p->ip->saddr, p->ip->daddr, p->tcp->source, p->tcp->dest, bpf_ntohl(p->tcp->seq), mss);

	if (v < 0)
		return PGS_R_DROP_MALFORMED;
	sh->kind = PGS_SHAPE_SYNACK;
	sh->flags = PGS_TCP_SYN | PGS_TCP_ACK;
	sh->seq = (__u32)v;
	sh->ack = bpf_ntohl(p->tcp->seq) + 1;
	sh->win = 0; /* nothing from the client before the backend side is open */
	sh->mss = (__u16)(v >> 32);
	/* Room for the MSS option only if the SYN had options (a bare SYN gets the default 536). */
	sh->thl = p->tcp->doff >= 6 ? 24 : 20;
	synguard_cookie_sent(svc, now);
	return -1;
}

/* The MSS a valid cookie encodes: the kernel's table, tried against a cookie made now (a cookie
 * from the previous minute matches none: the always-safe 536 then). */
static __always_inline __u16 cookie_mss(const struct pgs_pkt *p)
{
	static const __u16 tab[4] = { 1460, 1440, 1300, 536 };
	__u32 want = bpf_ntohl(p->tcp->ack_seq) - 1, isn = bpf_ntohl(p->tcp->seq) - 1;
	int i;

	for (i = 0; i < 3; i++) {
		__s64 v = cookie_gen(p->ip->saddr, p->ip->daddr, p->tcp->source, p->tcp->dest, isn, tab[i]);

		if (v >= 0 && (__u32)v == want)
			return tab[i];
	}
	return tab[3];
}

/* An ACK that may carry a cookie: -1 when it does (sh filled: the SYN to send the backend), -2 when
 * it is no cookie matter (cookies not in use, not a bare ACK, or no cookie on a closed flow's ACK,
 * which goes along the flow: flowless 0), or a DROP reason. */
static __always_inline int syncookie_check_ack(const struct pgs_pkt *p, const struct pgs_svc *svc, __u64 now,
					       struct pgs_shape *sh, int flowless)
{
	int engaged;

	if ((p->flags & (PGS_TCP_SYN | PGS_TCP_RST | PGS_TCP_ACK)) != PGS_TCP_ACK)
		return -2;
	if (!synguard_check_acks(svc->id, svc, now, &engaged))
		return -2;
	if (bpf_tcp_raw_check_syncookie_ipv4(p->ip, p->tcp)) {
		if (!engaged || !flowless)
			return -2;
		synguard_count(svc->id, PGS_R_DROP_COOKIE_INVALID);
		return PGS_R_DROP_COOKIE_INVALID;
	}
	synguard_cookie_answered(svc->id, now);
	sh->kind = PGS_SHAPE_SYN;
	sh->flags = PGS_TCP_SYN;
	sh->client_isn = bpf_ntohl(p->tcp->seq) - 1;
	sh->cookie_isn = bpf_ntohl(p->tcp->ack_seq) - 1;
	sh->cwin = bpf_ntohs(p->tcp->window);
	sh->seq = sh->client_isn;
	sh->ack = 0;
	sh->win = sh->cwin;
	sh->mss = cookie_mss(p);
	sh->thl = 24;
	return -1;
}

/* A packet of an existing cookie flow that the handshake still shapes. Returns -1 to go on (sh
 * set or not), or a DROP reason. from_client: its direction. */
static __always_inline int syncookie_flow_packet(const struct pgs_pkt *p, const struct pgs_flow *f, int from_client,
						 struct pgs_shape *sh)
{
	if (!(f->flags & PGS_FLOW_F_COOKIE))
		return -1;
	if (p->flags & PGS_TCP_RST) {
		/* The backend refused our SYN: it acknowledges it exactly (as handshake_fits checks), or it
		 * is no answer and goes on untouched. The client saw our cookie as the ISN: the RST it
		 * gets carries the next sequence number it expects. */
		if (from_client || f->state != PGS_FLOW_SYN_SENT || !(p->flags & PGS_TCP_ACK) ||
		    bpf_ntohl(p->tcp->ack_seq) != f->isn[0] + 1)
			return -1;
		sh->kind = PGS_SHAPE_RST;
		sh->flags = PGS_TCP_RST;
		sh->seq = f->cookie_isn + 1;
		sh->ack = 0;
		sh->win = 0;
		sh->thl = 20;
		return -1;
	}
	if (from_client) {
		/* Before the backend answered, whatever the client sends is our SYN once more (the first
		 * may have been lost); its data, if any, comes again when the window opens. */
		if (f->state != PGS_FLOW_SYN_SENT || (p->flags & (PGS_TCP_SYN | PGS_TCP_FIN)))
			return -1;
		sh->kind = PGS_SHAPE_SYN;
		sh->flags = PGS_TCP_SYN;
		sh->seq = f->isn[0];
		sh->ack = 0;
		sh->win = f->cwin;
		sh->mss = f->mss;
		sh->thl = 24;
		return -1;
	}
	if ((p->flags & (PGS_TCP_SYN | PGS_TCP_ACK | PGS_TCP_FIN)) == PGS_TCP_ACK && f->state == PGS_FLOW_SYN_SENT &&
	    bpf_ntohl(p->tcp->ack_seq) != f->isn[0] + 1 && !shape_payload(p)) {
		/* Our SYN met an older connection on this SNAT port (the backend's TIME_WAIT, whose SYN
		 * check our ISN, the client's, failed) and the backend acknowledged that one instead. As
		 * the client's own TCP would in SYN_SENT (RFC 793), we answer with an RST at that ACK,
		 * which ends the TIME_WAIT; the client's next segment sends our SYN again. The client
		 * never sees the ACK, and nothing here changes: a forged one costs that one retry. */
		sh->kind = PGS_SHAPE_BACKEND_RST;
		sh->flags = PGS_TCP_RST;
		sh->seq = bpf_ntohl(p->tcp->ack_seq);
		sh->ack = 0;
		sh->win = 0;
		sh->thl = 20;
		return -1;
	}
	if ((p->flags & (PGS_TCP_SYN | PGS_TCP_ACK)) != (PGS_TCP_SYN | PGS_TCP_ACK))
		return (p->flags & PGS_TCP_SYN) ? PGS_R_DROP_MALFORMED : -1;
	/* The backend's SYN-ACK (or its retransmission): it must acknowledge our SYN, and keep its ISN. */
	if (bpf_ntohl(p->tcp->ack_seq) != f->isn[0] + 1)
		return PGS_R_DROP_MALFORMED;
	if ((f->flags & PGS_FLOW_F_ISN_SERVER) && bpf_ntohl(p->tcp->seq) != f->isn[1])
		return PGS_R_DROP_MALFORMED;
	sh->kind = PGS_SHAPE_WUPD;
	sh->flags = PGS_TCP_ACK;
	sh->seq = bpf_ntohl(p->tcp->seq) + 1; /* backend space: translated with the rest */
	sh->ack = f->isn[0] + 1;
	sh->win = bpf_ntohs(p->tcp->window);
	sh->thl = 20;
	return -1;
}

/* A cookie flow whose server has not answered our SYN within the half-open timeout: its client,
 * whose handshake was with us and who waits on a zero window, is told with an RST (lb.h) rather
 * than left to its own timeouts, which run for many minutes. */
static __always_inline int syncookie_given_up(const struct pgs_flow *f, const struct pgs_svc *svc, __u64 now)
{
	return (f->flags & PGS_FLOW_F_COOKIE) && f->state == PGS_FLOW_SYN_SENT && svc->connect_ms &&
	       now > f->created_ns && now - f->created_ns > (__u64)svc->connect_ms * 1000000;
}

/* A new flow's flags and cookie facts: half-open when a client SYN opened it (counted for flood
 * detection), or the handshake a cookie ACK proved: the client's ISN is the one our SYN carries,
 * and its sequence is tracked from there (the backend's from its SYN-ACK, handshake_fits). */
static __always_inline void syncookie_flow_init(struct pgs_flow *fv, const struct pgs_shape *sh)
{
	if (sh->kind != PGS_SHAPE_SYN) {
		fv->flags |= PGS_FLOW_F_HALFOPEN;
		synguard_opened(fv->slot);
		return;
	}
	fv->flags |= PGS_FLOW_F_COOKIE;
	synguard_count(pgs_slot_svc(fv->slot), PGS_R_COOKIE_VALID);
	fv->cookie_isn = sh->cookie_isn;
	fv->isn[0] = sh->client_isn;
	fv->nxt[0] = sh->client_isn + 1;
	fv->mss = sh->mss;
	fv->cwin = sh->cwin;
}

/* Frame length once reshaped. */
static __always_inline __u32 shape_len(const struct pgs_pkt *p, const struct pgs_shape *sh)
{
	return sizeof(struct ethhdr) + p->ip->ihl * 4 + sh->thl;
}

/* Point p at the headers again after the frame was resized; 0, or -1 when they do not fit. */
static __always_inline int shape_repoint(struct pgs_pkt *p, void *data, void *data_end, __u32 thl)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct tcphdr *tcp;

	p->data = data;
	p->data_end = data_end;
	p->eth = data;
	if ((void *)(ip + 1) > data_end || ip->ihl < 5)
		return -1;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)tcp + 24 > data_end && (thl > 20 || (void *)(tcp + 1) > data_end))
		return -1;
	p->ip = ip;
	p->tcp = tcp;
	return 0;
}

/* TCP checksum of a header-only segment of thl (20 or 24) bytes, by full computation. */
static __always_inline __u16 shape_tcp_csum(const struct pgs_pkt *p, __u32 thl)
{
	__u16 *w = (__u16 *)p->tcp;
	__u32 sum = 0;
	int i;

	sum += (p->ip->saddr & 0xffff) + (p->ip->saddr >> 16);
	sum += (p->ip->daddr & 0xffff) + (p->ip->daddr >> 16);
	sum += bpf_htons(IPPROTO_TCP) + bpf_htons((__u16)thl);
	for (i = 0; i < 12; i++) {
		if (i * 2 >= (int)thl || (void *)(w + i + 1) > p->data_end)
			break;
		sum += w[i];
	}
	return (__u16)~csum_fold(sum);
}

/* Write the reshaped headers over the resized frame (shape_repoint done). reflect: back to where
 * it came from (MACs, addresses and ports swapped, a fresh TTL). full: compute the TCP checksum
 * from scratch; else the field keeps its old value for the caller to update incrementally (TC,
 * where the skb may be CHECKSUM_PARTIAL). 0, or -1. */
static __always_inline int shape_write(struct pgs_pkt *p, const struct pgs_shape *sh, int reflect, int full)
{
	struct tcphdr *t = p->tcp;
	__u16 *w8 = (__u16 *)((__u8 *)p->ip + 8); /* TTL and protocol */
	__u16 old_len = p->ip->tot_len, old_w8 = *w8, new_len;
	__u8 *opt = (__u8 *)(t + 1);
	__u16 old_check;

	if ((void *)(t + 1) > p->data_end)
		return -1;
	old_check = t->check;
	if (reflect) {
		unsigned char mac[ETH_ALEN];
		__u32 a = p->ip->saddr;
		__u16 port = t->source;

		__builtin_memcpy(mac, p->eth->h_source, ETH_ALEN);
		__builtin_memcpy(p->eth->h_source, p->eth->h_dest, ETH_ALEN);
		__builtin_memcpy(p->eth->h_dest, mac, ETH_ALEN);
		p->ip->saddr = p->ip->daddr;
		p->ip->daddr = a;
		t->source = t->dest;
		t->dest = port;
		p->ip->ttl = 64;
	}
	new_len = bpf_htons((__u16)(p->ip->ihl * 4 + sh->thl));
	p->ip->tot_len = new_len;
	p->ip->check = csum_apply(p->ip->check, csum_diff16(csum_diff16(0, old_len, new_len), old_w8, *w8));

	t->seq = bpf_htonl(sh->seq);
	t->ack_seq = bpf_htonl(sh->ack);
	((__u8 *)t)[12] = (__u8)((sh->thl / 4) << 4);
	((__u8 *)t)[13] = sh->flags;
	t->window = bpf_htons(sh->win);
	t->urg_ptr = 0;
	t->check = 0;
	if (sh->thl == 24) {
		if ((void *)(opt + 4) > p->data_end)
			return -1;
		opt[0] = 2;
		opt[1] = 4;
		opt[2] = (__u8)(sh->mss >> 8);
		opt[3] = (__u8)sh->mss;
	}
	if (full)
		t->check = shape_tcp_csum(p, sh->thl);
	else
		t->check = old_check;
	p->payload = 0;
	p->flags = sh->flags;
	return 0;
}

#endif

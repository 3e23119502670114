/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The load-balancing logic both entry points share: classify a packet, select a server, commit the
 * flow state, and the header values the translated packet must carry. The entry points rewrite the
 * packet the way their hook allows; only a SYN-cookie flow's sequence numbers are translated here,
 * in place (pgs_rewrite_diff, seqxlate.h), and the TCP header a cookie handshake leaves with is
 * planned here (plan.shape, syncookie.h) and written by the entry points. */
#ifndef PGS_LB_H
#define PGS_LB_H

#include "parse.h"
#include "csum.h"
#include "select.h"
#include "flow.h"
#include "stats.h"
#include "events.h"
#include "pgproto.h"
#include "policy.h"
#include "nexthop.h"
#include "beat.h"

const volatile struct pgs_cfg pgs_cfg = { .snat_min = 10000, .snat_max = 32767 };

struct pgs_pkt {
	void *data;
	void *data_end;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 payload;  /* TCP payload bytes */
	__u8 flags;     /* TCP flag byte */
};

#include "syncookie.h"
#include "seqxlate.h"
#include "seqhint.h"

enum pgs_kind {
	PGS_K_NEW = 1, /* client SYN: select a server, allocate a SNAT port */
	PGS_K_FWD,     /* client packet of a flow */
	PGS_K_REV,     /* backend packet of a flow */
	PGS_K_RESET,   /* packet of a shut-down session: answer with RST */
	PGS_K_COOKIE,  /* answered by the datapath, reshaped back where it came from, nothing kept: a client SYN
			* while cookies are on (cookie SYN-ACK), a backend's old ACK to a cookie SYN (RST) */
};

/* What to do with a packet that belongs to a service, and the headers it leaves with. */
struct pgs_plan {
	__u32 kind;
	__u32 slot;
	struct pgs_flow_key fk;   /* client side */
	__u32 epoch;              /* pgs_ctl.epoch: the node's steering epoch (seqhint.h) */
	struct pgs_flow *flow;    /* existing flow, or the one a NEW replaces */
	__u32 *rr;                /* NEW: the service's scan start on this CPU */
	__u32 rr_next;
	__u32 saddr;              /* translated header values, network order */
	__u32 daddr;
	__u16 sport;
	__u16 dport;
	__u64 now;
	struct pgs_hop hop;       /* the next hop the packet leaves through */
	int hop_resolved;         /* hop was just resolved: cache it (nexthop.h) */
	__u32 mtu;                /* MTU of the route hop came from, 0: not looked up (icmp.h) */
	__u32 in_ifindex;         /* the device the packet came in on (set by the entry point) */
	__u16 suspect;            /* forwarded without touching the flow: outside its window or state */
	__u16 reset;              /* PGS_K_RESET: why (a PGS_R_* verdict); two halves of a word: the TC
				   * program's stack has no room for another */
	struct pgs_shape shape;   /* the packet leaves reshaped (SYN cookies) when shape.kind is set */
};

/* The next hop of this packet without a FIB lookup, if known (nexthop.h): the slot's toward a
 * server, the client's own way in toward a client. */
static __always_inline int hop_cached(struct pgs_plan *plan)
{
	if (plan->kind == PGS_K_FWD || plan->kind == PGS_K_NEW)
		return slot_hop_get(plan->slot, plan->daddr, (__u32)(plan->now >> PGS_HOP_SHIFT), &plan->hop, &plan->mtu);
	if (plan->kind != PGS_K_REV || !plan->flow->hop[1].ifindex)
		return 0;
	plan->hop = plan->flow->hop[1];
	return 1;
}

/* Keep a next hop just resolved from a FIB lookup: toward a server in its slot now; toward a
 * client (a flow synced from the peer, whose client has not sent anything here yet) in the flow
 * at commit. */
static __always_inline void hop_resolved(struct pgs_plan *plan, const struct bpf_fib_lookup *fib)
{
	__builtin_memcpy(plan->hop.dmac, fib->dmac, ETH_ALEN);
	__builtin_memcpy(plan->hop.smac, fib->smac, ETH_ALEN);
	plan->hop.ifindex = fib->ifindex;
	plan->hop.stamp = (__u32)(plan->now >> PGS_HOP_SHIFT);
	plan->hop_resolved = 1;
	plan->mtu = fib->mtu_result; /* looked up with the packet's length: the route's MTU */
	if (plan->kind == PGS_K_FWD || plan->kind == PGS_K_NEW)
		slot_hop_put(plan->slot, plan->daddr, &plan->hop, plan->mtu);
}

/* The node's switches while it steers (steering on, heartbeat fresh); NULL when it does not. */
static __always_inline const struct pgs_ctl *pgs_steering(void)
{
	__u32 zero = 0;
	struct pgs_ctl *ctl = bpf_map_lookup_elem(&pgs_ctl, &zero);

	return ctl && ctl->active && !pgs_beat_stale(ctl) ? ctl : 0;
}

/* The server in a slot if it may take new connections: UP, weight above 0, not passive-down. */
static __always_inline struct pgs_server *selectable_server(__u32 slot)
{
	struct pgs_server *srv = bpf_map_lookup_elem(&pgs_servers, &slot);
	__u64 *passive;

	if (!srv || srv->state != PGS_SRV_UP || !srv->weight)
		return 0;
	passive = bpf_map_lookup_elem(&pgs_passive, &slot);
	return passive && *passive ? 0 : srv;
}

/* State of one leastconn scan, carried through bpf_loop. */
struct select_scan {
	__u32 id;
	__u32 n;
	__u32 start;
	struct lc_best best;
};

/* One server of the scan (a bpf_loop callback, so the verifier walks it once, not per server). */
static long select_one(__u32 i, void *arg)
{
	struct select_scan *sc = arg;
	__u32 j = lc_scan_pos(sc->start, i, sc->n), slot;
	struct pgs_server *srv;
	struct pgs_conns *c;
	__u64 *adj;

	if (j >= PGS_MAX_SERVERS || sc->id >= PGS_MAX_SERVICES)
		return 1;
	slot = pgs_slot(sc->id, j);
	srv = selectable_server(slot);
	if (!srv)
		return 0;
	c = bpf_map_lookup_elem(&pgs_conns, &slot);
	adj = bpf_map_lookup_elem(&pgs_conn_adj, &slot);
	if (c && adj)
		lc_consider(&sc->best, j, lc_active(c->opened, c->closed, *adj), srv->weight);
	return 0;
}

/* Weighted leastconn over the service's selectable servers; ties go round-robin. Returns the slot or -1. */
static __always_inline int select_server(const struct pgs_svc *svc, struct pgs_plan *plan)
{
	struct select_scan sc = { .id = svc->id, .n = svc->nservers, .best = LC_BEST_INIT };
	__u32 *rr;

	if (sc.n > PGS_MAX_SERVERS)
		sc.n = PGS_MAX_SERVERS;
	if (!sc.n || sc.id >= PGS_MAX_SERVICES)
		return -1;
	rr = bpf_map_lookup_elem(&pgs_rr, &sc.id);
	if (!rr)
		return -1;
	sc.start = *rr < sc.n ? *rr : 0;
	bpf_loop(sc.n, select_one, &sc, 0);
	if (sc.best.idx < 0 || sc.best.idx >= PGS_MAX_SERVERS)
		return -1;
	plan->rr = rr;
	plan->rr_next = (__u32)sc.best.idx + 1 >= sc.n ? 0 : (__u32)sc.best.idx + 1;
	return (int)pgs_slot(sc.id, (__u32)sc.best.idx);
}

static __always_inline struct pgs_svc *service_at(__u32 daddr, __u16 dport)
{
	struct pgs_svc_key sk = { .vip = daddr, .port = dport };

	return bpf_map_lookup_elem(&pgs_services, &sk);
}

/* An IPv4 fragment: a first fragment addressed to a service is dropped (we cannot steer what we
 * cannot reassemble); later ones carry no ports, reach the stack and die unassembled. */
static __always_inline int classify_fragment(const struct pgs_pkt *p, const struct hdr_cursor *c)
{
	const struct tcphdr *ports = c->pos;

	if (p->ip->frag_off & bpf_htons(PGS_IP_OFFSET))
		return PGS_R_PASS;
	if ((void *)c->pos + PGS_TCP_PORTS_LEN > p->data_end)
		return PGS_R_PASS;
	return service_at(p->ip->daddr, ports->dest) ? PGS_R_DROP_FRAGMENT : PGS_R_PASS;
}

/* Ethernet and IPv4 up to the TCP ports. Returns PASS or a DROP reason for what is not an
 * unfragmented TCP segment, or -1 with the cursor at the TCP header and its ports readable. */
static __always_inline int parse_to_ports(struct pgs_pkt *p, struct hdr_cursor *c)
{
	int proto = parse_eth(c, p->data_end, &p->eth);

	if (proto < 0)
		return PGS_R_DROP_MALFORMED;
	if (proto != bpf_htons(ETH_P_IP))
		return PGS_R_PASS;
	proto = parse_ipv4(c, p->data_end, &p->ip);
	if (proto < 0)
		return PGS_R_DROP_MALFORMED;
	if (proto != IPPROTO_TCP)
		return PGS_R_PASS;
	if (ipv4_is_fragment(p->ip))
		return classify_fragment(p, c);
	if ((void *)c->pos + PGS_TCP_PORTS_LEN > p->data_end)
		return PGS_R_DROP_MALFORMED;
	return -1;
}

/* The whole TCP header of a segment that concerns us, on a node that steers. */
static __always_inline int take_segment(struct pgs_pkt *p, struct hdr_cursor *c, struct pgs_plan *plan)
{
	const struct pgs_ctl *ctl;

	if (parse_tcp(c, p->data_end, &p->tcp) < 0)
		return PGS_R_DROP_MALFORMED;
	ctl = pgs_steering();
	if (!ctl)
		return PGS_R_PASS_INACTIVE;
	plan->epoch = ctl->epoch;
	plan->now = bpf_ktime_get_coarse_ns(); /* the monotonic clock to the tick: a fine read costs more */
	p->flags = tcp_flag_byte(p->tcp);
	return -1;
}

/* A new connection: select a server; its SNAT port is allocated at commit. */
static __always_inline int plan_new(const struct pgs_svc *svc, struct pgs_plan *plan)
{
	struct pgs_server *srv;
	int slot;

	if (policy_refuses(svc->id, plan->fk.client))
		return PGS_R_DROP_POLICY;
	slot = select_server(svc, plan);
	if (slot < 0)
		return PGS_R_DROP_NO_SERVER;
	plan->kind = PGS_K_NEW;
	plan->slot = (__u32)slot;
	srv = bpf_map_lookup_elem(&pgs_servers, &plan->slot);
	if (!srv)
		return PGS_R_DROP_NO_SERVER;
	plan->saddr = plan->fk.vip;
	plan->daddr = srv->addr;
	plan->sport = 0;
	plan->dport = srv->port;
	return -1;
}

/* A client packet along its flow: VIP:SNAT port -> backend. */
static __always_inline void plan_forward(struct pgs_plan *plan, struct pgs_flow *f)
{
	plan->kind = PGS_K_FWD;
	plan->flow = f;
	plan->slot = f->slot;
	plan->saddr = plan->fk.vip;
	plan->daddr = f->backend;
	plan->sport = f->sport;
	plan->dport = f->bport;
}

/* A backend reply along its flow: VIP:port -> client. */
static __always_inline void plan_reply(struct pgs_plan *plan, struct pgs_flow *f)
{
	plan->kind = PGS_K_REV;
	plan->flow = f;
	plan->slot = f->slot;
	plan->saddr = plan->fk.vip;
	plan->daddr = plan->fk.client;
	plan->sport = plan->fk.vport;
	plan->dport = plan->fk.cport;
}

/* Client -> VIP:port of a service: a new connection, or a packet of a known flow. */
static __always_inline int classify_client(struct pgs_pkt *p, struct hdr_cursor *c, const struct pgs_svc *svc,
					   struct pgs_plan *plan)
{
	struct pgs_flow *f;
	int r = take_segment(p, c, plan);

	if (r >= 0)
		return r;
	plan->fk.client = p->ip->saddr;
	plan->fk.vip = p->ip->daddr;
	plan->fk.cport = p->tcp->source;
	plan->fk.vport = p->tcp->dest;
	f = bpf_map_lookup_elem(&pgs_flows, &plan->fk);
	plan->flow = f;
	if ((p->flags & (PGS_TCP_SYN | PGS_TCP_ACK | PGS_TCP_RST | PGS_TCP_FIN)) == PGS_TCP_SYN) {
		if (!f || flow_syn_reopens(f->state, selectable_server(f->slot) != 0))
			return plan_new(svc, plan);
	} else if (p->flags & PGS_TCP_SYN) {
		return f ? PGS_R_DROP_MALFORMED : PGS_R_PASS_NO_FLOW;
	} else if (!f) {
		return PGS_R_PASS_NO_FLOW;
	}
	plan_forward(plan, f);
	return -1;
}

/* Backend -> VIP:SNAT port: a reply of a flow, or not ours. */
static __always_inline int classify_reply(struct pgs_pkt *p, struct hdr_cursor *c, struct pgs_plan *plan)
{
	const struct tcphdr *ports = c->pos;
	__u16 dport = bpf_ntohs(ports->dest);
	struct pgs_rflow_key rk;
	struct pgs_flow_key *fk;
	struct pgs_flow *f;
	int r;

	if (dport < pgs_cfg.snat_min || dport > pgs_cfg.snat_max)
		return PGS_R_PASS;
	rk.backend = p->ip->saddr;
	rk.vip = p->ip->daddr;
	rk.bport = ports->source;
	rk.sport = ports->dest;
	fk = bpf_map_lookup_elem(&pgs_rflows, &rk);
	if (!fk)
		return PGS_R_PASS;
	r = take_segment(p, c, plan);
	if (r >= 0)
		return r;
	plan->fk = *fk;
	f = bpf_map_lookup_elem(&pgs_flows, &plan->fk);
	if (!f || f->backend != rk.backend || f->sport != rk.sport)
		return PGS_R_PASS; /* a stale reverse entry: not ours any more */
	plan_reply(plan, f);
	return -1;
}

/* A flow of a server the controller shut the sessions of (created before its kill time, in the
 * slot's same generation) is answered with RST instead of being forwarded. */
static __always_inline int flow_shut_down(const struct pgs_plan *plan)
{
	struct pgs_server *srv = bpf_map_lookup_elem(&pgs_servers, &plan->slot);

	return srv && srv->kill_ns && plan->flow->created_ns < srv->kill_ns && plan->flow->gen == srv->gen;
}

/* Why a packet of a flow is answered with RST instead of forwarded (0: it is not): the controller
 * shut its server's sessions, or a cookie flow's server never answered (syncookie_given_up). */
static __always_inline __u32 flow_reset_reason(const struct pgs_svc *svc, const struct pgs_plan *plan)
{
	if (flow_shut_down(plan))
		return PGS_R_RESET;
	if (svc && plan->kind == PGS_K_FWD && syncookie_given_up(plan->flow, svc, plan->now))
		return PGS_R_COOKIE_CONNECT_TIMEOUT;
	return 0;
}

/* TCP payload bytes; 0 for BIG TCP (tot_len 0): not counted. */
static __always_inline __u32 tcp_payload(const struct pgs_pkt *p)
{
	__u32 tot = bpf_ntohs(p->ip->tot_len), hdrs = p->ip->ihl * 4 + p->tcp->doff * 4;

	return tot > hdrs ? tot - hdrs : 0;
}

/* SYN cookies (bpf/lib/syncookie.h) on what the classifier decided (r): a new client SYN is answered
 * with a cookie SYN-ACK while cookies are on; a bare ACK of no flow, or of a closed one, carrying a
 * valid cookie opens the flow (as a new connection); a cookie flow's handshake leaves reshaped. */
static __always_inline int classify_cookie(struct pgs_pkt *p, const struct pgs_svc *svc, struct pgs_plan *plan, int r)
{
	int ack;

	if (svc && r < 0 && plan->kind == PGS_K_NEW && synguard_cookies(svc->id, svc, plan->now)) {
		plan->kind = PGS_K_COOKIE;
		return syncookie_plan_synack(p, svc, plan->now, &plan->shape);
	}
	if (svc && (r == PGS_R_PASS_NO_FLOW || (r < 0 && plan->kind == PGS_K_FWD && plan->flow->state == PGS_FLOW_CLOSED))) {
		ack = syncookie_check_ack(p, svc, plan->now, &plan->shape, r >= 0);
		if (ack == -1)
			return plan_new(svc, plan);
		/* Not a cookie: a closed flow's last ACKs go along it, an ACK of nothing is dropped or passed. */
		return ack >= 0 && r >= 0 ? ack : r;
	}
	if (r < 0 && (plan->kind == PGS_K_FWD || plan->kind == PGS_K_REV)) {
		r = syncookie_flow_packet(p, plan->flow, plan->kind == PGS_K_FWD, &plan->shape);
		if (plan->shape.kind == PGS_SHAPE_BACKEND_RST)
			plan->kind = PGS_K_COOKIE;
	}
	return r;
}

/* Parse and classify. Returns a reason (PASS or DROP_*) when the packet is not to be translated,
 * or -1 with the plan filled. Changes no state. */
static __always_inline int pgs_classify(struct pgs_pkt *p, struct pgs_plan *plan)
{
	struct hdr_cursor c = { .pos = p->data };
	const struct tcphdr *ports;
	struct pgs_svc *svc;
	int r;

	r = parse_to_ports(p, &c);
	if (r >= 0)
		return r;
	ports = c.pos;
	svc = service_at(p->ip->daddr, ports->dest);
	r = svc ? classify_client(p, &c, svc, plan) : classify_reply(p, &c, plan);
	r = classify_cookie(p, svc, plan, r);
	if (r >= 0 || plan->kind == PGS_K_NEW || plan->kind == PGS_K_COOKIE)
		return r;
	plan->reset = flow_reset_reason(svc, plan);
	if (plan->reset)
		plan->kind = PGS_K_RESET;
	p->payload = plan->shape.kind ? 0 : tcp_payload(p); /* a reshaped packet leaves without payload */
	return -1;
}

/* The flow stops counting toward its server: exactly once, whoever gets here first; and not at all
 * when its slot has been given to another server since (whose counters started from zero). */
static __always_inline void flow_release(struct pgs_flow *f)
{
	__u32 old = __sync_fetch_and_and(&f->flags, ~PGS_FLOW_F_COUNTED), slot = f->slot;
	struct pgs_server *srv;
	struct pgs_conns *c;

	synguard_settled(f);
	if (!(old & PGS_FLOW_F_COUNTED))
		return;
	srv = bpf_map_lookup_elem(&pgs_servers, &slot);
	if (srv && srv->gen != f->gen)
		return;
	c = bpf_map_lookup_elem(&pgs_conns, &slot);
	if (c)
		__sync_fetch_and_add(&c->closed, 1);
}

static __always_inline void flow_forget(struct pgs_flow *f, const struct pgs_flow_key *fk)
{
	struct pgs_rflow_key rk = { .backend = f->backend, .vip = fk->vip, .bport = f->bport, .sport = f->sport };

	bpf_map_delete_elem(&pgs_rflows, &rk);
	bpf_map_delete_elem(&pgs_flows, fk);
}

/* Claiming a SNAT port: each probe an independent random port of the range (consecutive probes
 * cluster: the first failure came at 42% of the range). */
struct snat_probe {
	struct pgs_rflow_key *rk;
	const struct pgs_flow_key *fk;
	long err;
};

static long snat_probe(__u32 i, void *arg)
{
	struct snat_probe *sp = arg;

	sp->rk->sport = bpf_htons(snat_port_at(bpf_get_prandom_u32(), pgs_cfg.snat_min, pgs_cfg.snat_max));
	sp->err = bpf_map_update_elem(&pgs_rflows, sp->rk, sp->fk, BPF_NOEXIST);
	return sp->err != -PGS_EEXIST; /* claimed, or the table is full: stop */
}

/* Insert the flow of a new connection: claim a SNAT port, then the forward entry. */
static __always_inline int commit_new(const struct pgs_pkt *p, struct pgs_plan *plan)
{
	struct pgs_rflow_key rk = { .backend = plan->daddr, .vip = plan->fk.vip, .bport = plan->dport };
	struct pgs_flow fv = {
		.backend = plan->daddr,
		.bport = plan->dport,
		.slot = plan->slot,
		.flags = PGS_FLOW_F_SEQ_CLIENT, /* counted once its server answers (flow_count_answered) */
		.state = PGS_FLOW_SYN_SENT,
		.created_ns = plan->now,
		.seen_ns = plan->now,
		.isn = { bpf_ntohl(p->tcp->seq) },
		.nxt = { bpf_ntohl(p->tcp->seq) + 1 },
		.epoch = plan->epoch,
	};
	struct pgs_server *srv = bpf_map_lookup_elem(&pgs_servers, &plan->slot);
	struct snat_probe sp;
	struct pgs_srv_stats *st;
	long probes;

	if (plan->flow) {
		/* The client reused its port, or its server left selection before answering. A backend
		 * that closed first holds TIME_WAIT on the old SNAT port: its reverse entry stays, so no
		 * other flow takes the port before the clean-up frees it (datapath.c, gc_rbatch). */
		flow_release(plan->flow);
		if (plan->flow->flags & PGS_FLOW_F_SERVER_FIRST)
			bpf_map_delete_elem(&pgs_flows, &plan->fk);
		else
			flow_forget(plan->flow, &plan->fk);
		plan->flow = 0;
	}
	if (srv)
		fv.gen = srv->gen;
	hop_learn_return(&fv.hop[1], p->eth, plan->in_ifindex);

	sp.rk = &rk;
	sp.fk = &plan->fk;
	sp.err = -PGS_EEXIST;
	probes = bpf_loop(PGS_SNAT_TRIES, snat_probe, &sp, 0);
	synguard_snat_probes(plan->slot, probes, sp.err, plan->now);
	if (sp.err)
		return sp.err == -PGS_EEXIST ? PGS_R_DROP_SNAT_EXHAUSTED : PGS_R_DROP_TABLE_FULL;

	fv.sport = rk.sport;
	syncookie_flow_init(&fv, &plan->shape);
	if (bpf_map_update_elem(&pgs_flows, &plan->fk, &fv, BPF_NOEXIST)) {
		bpf_map_delete_elem(&pgs_rflows, &rk);
		synguard_settled(&fv);
		return PGS_R_DROP_TABLE_FULL;
	}
	plan->sport = rk.sport;
	if (plan->rr)
		*plan->rr = plan->rr_next;
	st = srv_stats(plan->slot);
	if (st) {
		st->new_flows++;
		st->last_new_ns = plan->now;
	}
	return -1;
}

/* Whether a SYN on a live flow, a SYN-ACK or a backend RST before it belongs to the handshake:
 * the first SYN again, or an answer that acknowledges it (RFC 793: ACK = client ISN + 1). */
static __always_inline int handshake_fits(const struct pgs_pkt *p, struct pgs_flow *f, int from_server)
{
	__u32 seq = bpf_ntohl(p->tcp->seq), ack = bpf_ntohl(p->tcp->ack_seq);

	if (!(f->flags & PGS_FLOW_F_SEQ_CLIENT))
		return 0;
	if (!from_server)
		return seq == f->isn[0]; /* a retransmission of the first SYN */
	if (!(p->flags & PGS_TCP_ACK) || ack != f->isn[0] + 1)
		return 0;
	if ((p->flags & PGS_TCP_SYN) && f->state == PGS_FLOW_SYN_SENT) {
		f->isn[1] = seq;
		f->nxt[1] = seq + 1;
		__sync_fetch_and_or(&f->flags, PGS_FLOW_F_SEQ_SERVER | PGS_FLOW_F_ISN_SERVER);
	}
	return 1;
}

/* Move a sequence edge forward to `to` (never back), whatever other CPUs did meanwhile: an RST is
 * checked against it exactly. */
static __always_inline void seq_raise(__u32 *edge, __u32 to)
{
	__u32 cur;
	int i;

	for (i = 0; i < 4; i++) {
		cur = *(volatile __u32 *)edge;
		if (!seq_after(to, cur) || __sync_val_compare_and_swap(edge, cur, to) == cur)
			return;
	}
}

/* Whether this packet of an existing flow may move it (flow.h: the RFC 5961 rules by
 * PGS_SEQ_WINDOW); a segment that fits advances its side's edge and acknowledgement. A flow
 * created elsewhere (the flow sync) learns each side's edge from its first plain segment; a close
 * before that is checked against the edges it was given (seqhint.h). Returns 0 for a suspect, 2 for
 * a segment checked in full (sequence and ACK), 1 for anything else that goes on. */
static __always_inline int segment_fits(const struct pgs_pkt *p, struct pgs_flow *f, int from_server)
{
	__u32 seq = bpf_ntohl(p->tcp->seq), ack = bpf_ntohl(p->tcp->ack_seq);
	__u32 end = seq + p->payload + !!(p->flags & PGS_TCP_FIN);
	__u32 tracked = from_server ? PGS_FLOW_F_SEQ_SERVER : PGS_FLOW_F_SEQ_CLIENT;
	__u32 peer = from_server ? PGS_FLOW_F_SEQ_CLIENT : PGS_FLOW_F_SEQ_SERVER;
	__u32 acked = from_server ? PGS_FLOW_F_ACK_SERVER : PGS_FLOW_F_ACK_CLIENT;
	__u32 peer_acked = from_server ? PGS_FLOW_F_ACK_CLIENT : PGS_FLOW_F_ACK_SERVER;
	int me = from_server ? 1 : 0, other = from_server ? 0 : 1;

	if (!from_server)
		ack = seqxlate_ack(f, ack); /* a cookie flow's client acknowledges our cookie's numbers */
	if ((p->flags & PGS_TCP_SYN) || (from_server && (p->flags & PGS_TCP_RST) && f->state == PGS_FLOW_SYN_SENT))
		return handshake_fits(p, f, from_server);
	if (!(f->flags & tracked)) {
		if (p->flags & (PGS_TCP_RST | PGS_TCP_FIN))
			return seqhint_close_fits(p, f, me, seq, ack, end);
		if (f->state >= PGS_FLOW_ESTABLISHED) {
			f->nxt[me] = end;
			__sync_fetch_and_or(&f->flags, tracked);
		}
		return 1;
	}
	if (p->flags & PGS_TCP_RST)
		return rst_exact(seq, f->nxt[me], f->ack[other], !!(f->flags & peer_acked));
	if (!seq_in_window(seq, f->nxt[me]))
		return 0;
	/* Without an acceptable ACK (the endpoint discards such a segment) nothing moves; a FIN is a
	 * suspect, anything else goes on as it is. */
	if (!(p->flags & PGS_TCP_ACK) || ((f->flags & peer) && !ack_acceptable(ack, f->nxt[other])))
		return !(p->flags & PGS_TCP_FIN);
	seq_raise(&f->nxt[me], end);
	if (!(f->flags & peer))
		return 1;
	if (!(f->flags & acked)) {
		f->ack[me] = ack;
		__sync_fetch_and_or(&f->flags, acked);
	} else {
		seq_raise(&f->ack[me], ack);
	}
	return 2;
}

/* A FIN sets its side's flag first, atomically, and the state machine decides on the flags as they
 * were just before: of two FINs on two CPUs at once, the second to set its flag sees the first's and
 * closes the flow. Returns the flags to decide on. */
static __always_inline __u32 flow_mark_fin(const struct pgs_pkt *p, const struct pgs_plan *plan)
{
	struct pgs_flow *f = plan->flow;

	if ((p->flags & (PGS_TCP_FIN | PGS_TCP_RST)) != PGS_TCP_FIN)
		return f->flags;
	return __sync_fetch_and_or(&f->flags, plan->kind == PGS_K_FWD ? PGS_FLOW_F_FIN_CLIENT : PGS_FLOW_F_FIN_SERVER);
}

/* A backend FIN that does not acknowledge the client's FIN the flow saw: sent before it arrived,
 * so the backend holds TIME_WAIT too (RFC 793's simultaneous close). In the client's numbers, which
 * a cookie flow keeps toward the backend as well. */
static __always_inline int fin_crossed(const struct pgs_pkt *p, const struct pgs_plan *plan)
{
	const struct pgs_flow *f = plan->flow;

	__u32 fin_ack = PGS_TCP_FIN | PGS_TCP_ACK, seen = PGS_FLOW_F_FIN_CLIENT | PGS_FLOW_F_SEQ_CLIENT;

	return plan->kind == PGS_K_REV && (p->flags & (fin_ack | PGS_TCP_RST)) == fin_ack && (f->flags & seen) == seen &&
	       seq_after(f->nxt[0], bpf_ntohl(p->tcp->ack_seq));
}

/* Move the flow's state forward to `to` (never back), whatever other CPUs did meanwhile; the CPU
 * whose compare-and-swap makes a move reports it. */
static __always_inline void flow_advance(struct pgs_plan *plan, __u32 to)
{
	struct pgs_flow *f = plan->flow;
	__u32 cur;
	int i;

	for (i = 0; i < 4; i++) {
		cur = *(volatile __u32 *)&f->state;
		if (to <= cur)
			return;
		if (__sync_val_compare_and_swap(&f->state, cur, to) == cur) {
			synguard_moved(f, cur, to);
			/* A cookie flow's translation would not travel with it: the flow sync leaves it out. */
			if (!(f->flags & PGS_FLOW_F_COOKIE))
				pgs_event_state(&plan->fk, f, cur, to, plan->now);
			return;
		}
	}
}

/* Advance an existing flow with this packet. Returns a DROP reason, or -1 to translate it. */
static __always_inline int commit_existing(struct pgs_pkt *p, struct pgs_plan *plan)
{
	struct pgs_flow *f = plan->flow;
	__u32 plan_state;
	struct flow_step s;
	int fits, crossed;

	seqhint_catch_up(f, plan->epoch);
	plan_state = f->state;
	fits = segment_fits(p, f, plan->kind == PGS_K_REV);

	if (plan->kind == PGS_K_REV && plan->hop_resolved)
		f->hop[1] = plan->hop;
	if (!fits) {
		plan->suspect = 1;
		return -1;
	}
	/* Only a segment checked in full may move the way back: a forger's frames come from elsewhere. */
	if (plan->kind == PGS_K_FWD && fits == 2)
		hop_learn_return(&f->hop[1], p->eth, plan->in_ifindex);
	crossed = fin_crossed(p, plan);
	s = flow_next(plan_state, plan->kind == PGS_K_FWD, p->flags, flow_mark_fin(p, plan), crossed);
	if (s.set_flags & ~f->flags)
		__sync_fetch_and_or(&f->flags, s.set_flags);
	if (s.release)
		flow_release(f);
	if (s.redispatch) {
		/* The server's port is closed: take it out of selection now, keep the RST from the client
		 * and let its SYN retransmission pick another server. */
		__u64 *passive = bpf_map_lookup_elem(&pgs_passive, &plan->slot);
		struct pgs_srv_stats *st = srv_stats(plan->slot);

		if (passive)
			*passive = plan->now;
		if (plan->shape.kind == PGS_SHAPE_RST) {
			/* A cookie flow's client sends no SYN again: it gets a clean RST (syncookie.h). */
			flow_advance(plan, s.state);
			return -1;
		}
		if (st)
			st->redispatched++;
		flow_forget(f, &plan->fk);
		return PGS_R_DROP_REDISPATCH;
	}
	flow_advance(plan, s.state);
	if (plan->now - f->seen_ns > PGS_NSEC)
		f->seen_ns = plan->now;
	return -1;
}

/* Commit a translation plan: the new or updated flow, connection counts and traffic counters.
 * Returns a DROP reason, or -1 when the packet is to leave translated. */
static __always_inline int pgs_commit(struct pgs_pkt *p, struct pgs_plan *plan)
{
	struct pgs_srv_stats *st;
	int r;

	if (plan->kind == PGS_K_NEW)
		r = commit_new(p, plan);
	else
		r = commit_existing(p, plan);
	if (r >= 0)
		return r;
	if (plan->kind == PGS_K_FWD && plan->flow)
		pgproto_client_payload(plan->flow, &plan->fk, p->tcp, p->data_end, p->payload, plan->now);
	st = srv_stats(plan->slot);
	if (st) {
		if (plan->kind == PGS_K_REV) {
			st->pkts_out++;
			st->bytes_out += p->payload;
		} else {
			st->pkts_in++;
			st->bytes_in += p->payload;
		}
	}
	return -1;
}

/* A shut-down session: release its count and mark it closed. The entry point answers with RST,
 * except to an RST (RFC 793: never answer one), which is dropped. Returns 1 to answer. */
static __always_inline int pgs_commit_reset(const struct pgs_pkt *p, struct pgs_plan *plan)
{
	flow_release(plan->flow);
	plan->flow->state = PGS_FLOW_CLOSED;
	return !(p->flags & PGS_TCP_RST);
}

/* The verdict of a packet that leaves translated. */
static __always_inline __u32 pgs_fwd_reason(const struct pgs_plan *plan)
{
	if (plan->suspect)
		return PGS_R_FWD_SUSPECT;
	if (plan->shape.kind == PGS_SHAPE_SYN)
		return plan->kind == PGS_K_NEW ? PGS_R_COOKIE_VALID : PGS_R_COOKIE_SYN_RETX;
	if (plan->shape.kind == PGS_SHAPE_RST)
		return PGS_R_COOKIE_REFUSED;
	if (plan->kind == PGS_K_NEW)
		return PGS_R_FWD_NEW;
	return plan->kind == PGS_K_FWD ? PGS_R_FWD : PGS_R_REV;
}

/* The verdict of a packet the datapath answers itself (PGS_K_COOKIE). */
static __always_inline __u32 pgs_answer_reason(const struct pgs_plan *plan)
{
	return plan->shape.kind == PGS_SHAPE_BACKEND_RST ? PGS_R_COOKIE_BACKEND_RESET : PGS_R_COOKIE_SENT;
}

/* The checksum differences of the full-NAT rewrite: addresses (IP header and TCP pseudo-header)
 * and ports (TCP header only). */
struct pgs_csum_diff {
	__u32 addrs;
	__u32 ports;
};

static __always_inline struct pgs_csum_diff pgs_rewrite_diff(const struct pgs_pkt *p, const struct pgs_plan *plan)
{
	struct pgs_csum_diff d = {};

	d.addrs = csum_diff32(0, p->ip->saddr, plan->saddr);
	d.addrs = csum_diff32(d.addrs, p->ip->daddr, plan->daddr);
	d.ports = csum_diff16(0, p->tcp->source, plan->sport);
	d.ports = csum_diff16(d.ports, p->tcp->dest, plan->dport);
	d.ports += seqxlate(p->tcp, p->flags, plan->flow, plan->kind == PGS_K_FWD);
	return d;
}

/* The RST that answers a packet of a shut-down session (RFC 793 reset generation): sequence taken
 * from the segment's ACK, or an ACK of the segment when it has none. */
struct pgs_rst {
	__u32 seq;
	__u32 ack_seq;
	__u8 flags;
};

static __always_inline struct pgs_rst pgs_rst_for(const struct pgs_pkt *p)
{
	struct pgs_rst r = {};
	__u32 len = p->payload + !!(p->flags & PGS_TCP_SYN) + !!(p->flags & PGS_TCP_FIN);

	if (p->flags & PGS_TCP_ACK) {
		r.seq = p->tcp->ack_seq;
		r.flags = PGS_TCP_RST;
	} else {
		r.ack_seq = bpf_htonl(bpf_ntohl(p->tcp->seq) + len);
		r.flags = PGS_TCP_RST | PGS_TCP_ACK;
	}
	return r;
}

#endif

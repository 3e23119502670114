/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Half-open accounting and flood detection per service: which SYNs the datapath answers with a
 * SYN cookie (bpf/lib/syncookie.h) instead of creating a flow. A flow opened by a client SYN is
 * half-open (PGS_FLOW_F_HALFOPEN) until its client completes the handshake, or it closes or is
 * replaced; it counts toward leastconn only once its backend answered (flow_count_answered). */
#ifndef PGS_SYNGUARD_H
#define PGS_SYNGUARD_H

#include "maps.h"

/* Per service: half-open flows opened and settled, the flood window, the last cookie. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct pgs_synguard);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_synguard SEC(".maps");

/* Per service, half-open flows the controller accounted for (expired, purged): its only writer. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_synguard_adj SEC(".maps");

/* Per service and CPU: cookies sent this second that no valid ACK answered yet. A spoofed flood
 * leaves its cookies unanswered, real clients answer theirs: what keeps auto mode on while a
 * flood lasts once no half-open flow is left to show it. Per CPU: a flood writes it per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES);
	__type(key, __u32);
	__type(value, struct pgs_cookie_sec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_cookie_sec SEC(".maps");

/* Per service and CPU, its SYN-cookie verdicts (key pgs_svc_verdict_key): what the controller shows
 * per service; the node-wide pgs_verdicts count them too. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PGS_MAX_SERVICES * PGS_R_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_svc_verdicts SEC(".maps");

#define PGS_FLOOD_HOLD_NS (2 * PGS_NSEC) /* auto mode keeps cookies on this long after the last sign */
#define PGS_COOKIE_CHECK_NS (130 * PGS_NSEC) /* a cookie is valid for up to 2 minutes (kernel) */
/* A new flow needed this many random SNAT probes: the ports toward its server are scarce (the first
 * 15 all taken: 3.5% of new flows at 80% occupancy, 4e-6 at 44%). */
#define PGS_FLOOD_SNAT_PROBES 16

/* Count a SYN-cookie verdict of the service (cookie_sent, cookie_valid, drop_cookie_invalid). */
static __always_inline void synguard_count(__u32 svc_id, __u32 reason)
{
	__u32 key = pgs_svc_verdict_key(svc_id, reason);
	__u64 *n = bpf_map_lookup_elem(&pgs_svc_verdicts, &key);

	if (n)
		*n += 1;
}

static __always_inline struct pgs_synguard *synguard_of(__u32 svc_id)
{
	return bpf_map_lookup_elem(&pgs_synguard, &svc_id);
}

static __always_inline __u64 synguard_halfopen(__u32 svc_id, const struct pgs_synguard *g)
{
	__u64 *adj = bpf_map_lookup_elem(&pgs_synguard_adj, &svc_id);
	__u64 gone = g->ho_closed + (adj ? *adj : 0);

	return g->ho_opened > gone ? g->ho_opened - gone : 0;
}

/* Something showed a flood at the service (half-open flows piling up, SNAT ports or the table
 * running out): auto mode answers with cookies for the next PGS_FLOOD_HOLD_NS. */
static __always_inline void synguard_flood(__u32 svc_id, __u64 now)
{
	struct pgs_synguard *g = synguard_of(svc_id);

	if (g && g->flood_until_ns < now + PGS_FLOOD_HOLD_NS - PGS_NSEC / 4)
		g->flood_until_ns = now + PGS_FLOOD_HOLD_NS;
}

/* A new flow of the service in this slot claimed its SNAT port after `probes` random probes (err:
 * none claimed, or the table is full): scarce ports are a flood's sign. */
static __always_inline void synguard_snat_probes(__u32 slot, long probes, long err, __u64 now)
{
	if (probes >= PGS_FLOOD_SNAT_PROBES || err)
		synguard_flood(pgs_slot_svc(slot), now);
}

/* Whether a new client SYN to this service is answered with a cookie. */
static __always_inline int synguard_cookies(__u32 svc_id, const struct pgs_svc *svc, __u64 now)
{
	struct pgs_synguard *g;
	__u64 max;

	if (svc->syn_cookies == PGS_COOKIES_ALWAYS)
		return 1;
	if (svc->syn_cookies != PGS_COOKIES_AUTO)
		return 0;
	g = synguard_of(svc_id);
	if (!g)
		return 0;
	if (now < g->flood_until_ns)
		return 1;
	max = svc->syn_halfopen_max ? svc->syn_halfopen_max : PGS_HALFOPEN_MAX_DEFAULT;
	if (synguard_halfopen(svc_id, g) < max)
		return 0;
	synguard_flood(svc_id, now);
	return 1;
}

/* An ACK with no flow: check it for a cookie? Only while cookies are on, or were sent lately. */
static __always_inline int synguard_check_acks(__u32 svc_id, const struct pgs_svc *svc, __u64 now, int *engaged)
{
	struct pgs_synguard *g;

	*engaged = synguard_cookies(svc_id, svc, now);
	if (*engaged)
		return 1;
	if (svc->syn_cookies == PGS_COOKIES_OFF)
		return 0;
	g = synguard_of(svc_id);
	return g && g->last_cookie_ns && now - g->last_cookie_ns < PGS_COOKIE_CHECK_NS;
}

/* This CPU's unanswered cookies of the service in the current second (restarted each second). */
static __always_inline struct pgs_cookie_sec *cookie_sec(__u32 svc_id, __u64 now)
{
	struct pgs_cookie_sec *cs = bpf_map_lookup_elem(&pgs_cookie_sec, &svc_id);

	if (cs && cs->sec != now >> 30) {
		cs->sec = now >> 30;
		cs->unanswered = 0;
	}
	return cs;
}

/* A cookie went out: over halfopen_max unanswered this second (on this CPU) is a flood, which
 * keeps auto mode on. */
static __always_inline void synguard_cookie_sent(const struct pgs_svc *svc, __u64 now)
{
	__u32 svc_id = svc->id;
	struct pgs_synguard *g = synguard_of(svc_id);
	struct pgs_cookie_sec *cs = cookie_sec(svc_id, now);
	__u64 max = svc->syn_halfopen_max ? svc->syn_halfopen_max : PGS_HALFOPEN_MAX_DEFAULT;

	/* One write a second at most: this line is shared by every CPU under a flood. */
	if (g && now - g->last_cookie_ns > PGS_NSEC)
		g->last_cookie_ns = now;
	if (cs && ++cs->unanswered > (__s64)max)
		synguard_flood(svc_id, now);
	synguard_count(svc_id, PGS_R_COOKIE_SENT);
}

/* A valid cookie ACK answered one. */
static __always_inline void synguard_cookie_answered(__u32 svc_id, __u64 now)
{
	struct pgs_cookie_sec *cs = cookie_sec(svc_id, now);

	if (cs)
		cs->unanswered--;
}

/* A flow was created by a client SYN: it is half-open. */
static __always_inline void synguard_opened(__u32 slot)
{
	struct pgs_synguard *g = synguard_of(pgs_slot_svc(slot));

	if (g)
		__sync_fetch_and_add(&g->ho_opened, 1);
}

/* The flow is half-open no more (handshake completed, closed, replaced): exactly once. */
static __always_inline void synguard_settled(struct pgs_flow *f)
{
	__u32 old = __sync_fetch_and_and(&f->flags, ~PGS_FLOW_F_HALFOPEN);
	struct pgs_synguard *g;

	if (!(old & PGS_FLOW_F_HALFOPEN))
		return;
	g = synguard_of(pgs_slot_svc(f->slot));
	if (g)
		__sync_fetch_and_add(&g->ho_closed, 1);
}

/* The backend answered the flow's SYN: from now on it counts toward its server (exactly once, and
 * never after it was released: a flow that closed before the answer stays uncounted; nor when its
 * slot went to another server meanwhile, whose counts started from zero). */
static __always_inline void flow_count_answered(struct pgs_flow *f, __u32 from_state)
{
	__u32 old, slot = f->slot;
	struct pgs_server *srv;
	struct pgs_conns *c;

	if (from_state != PGS_FLOW_SYN_SENT)
		return;
	srv = bpf_map_lookup_elem(&pgs_servers, &slot);
	if (srv && srv->gen != f->gen)
		return;
	old = __sync_fetch_and_or(&f->flags, PGS_FLOW_F_COUNTED);
	if (old & PGS_FLOW_F_COUNTED)
		return;
	c = bpf_map_lookup_elem(&pgs_conns, &slot);
	if (c)
		__sync_fetch_and_add(&c->opened, 1);
}

/* A flow's state moved (this CPU's compare-and-swap): the backend answered, or the client
 * completed its handshake. */
static __always_inline void synguard_moved(struct pgs_flow *f, __u32 from, __u32 to)
{
	if (to == PGS_FLOW_SYN_RECV)
		flow_count_answered(f, from);
	else if (to == PGS_FLOW_ESTABLISHED)
		synguard_settled(f);
}

#endif

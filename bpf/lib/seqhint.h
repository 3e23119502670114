/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* A FIN or RST on a side whose sequence edge this node has not learnt since it took the VIP: the
 * first packets of a flow the flow sync installed, or of one this node steered before it last
 * stopped (the other node moved it on meanwhile, so what it learnt then is stale). Refusing them
 * would keep a session whose first packet here is its close counted toward its server for hours
 * (an RST is never answered); taking them blindly would let anyone who knows a flow's addresses
 * end it.
 *
 * Hints (PGS_FLOW_F_HINT_*, in nxt[]) are edges the master sent in its sync records (every live
 * flow is refreshed every 10 s), or this node's own from before it stopped steering (made hints by
 * the flow's first packet after the takeover, seqhint_catch_up): exact for a session that sent
 * nothing since, which is the usual case of a close arriving first. A close on an untracked side
 * fits when
 * - this side has a hint and the close matches it as it would a learnt edge (flow.h, RFC 5961): an
 *   RST exactly at it; a FIN within PGS_SEQ_WINDOW of it with an ACK acceptable against the other
 *   side's learnt edge, or within PGS_SEQ_WINDOW of its hint. A forged one passes with a chance of
 *   2^-32 (RST) or at most 2^-25 (FIN);
 * - or, whatever the hint, it acknowledges exactly the other side's edge learnt since the takeover
 *   (a close after the other side spoke, everything received): 2^-32.
 * A close that fits teaches this side's edge; one that does not is a suspect (forwarded for the
 * endpoint to judge, the flow unchanged). A plain segment teaches the edge as before (lb.h). */
#ifndef PGS_SEQHINT_H
#define PGS_SEQHINT_H

#include "common.h"
#include "flow.h"
#include "../pgsteer_abi.h"

/* A flow's first packet since this node took over again (the flow's epoch is older than the
 * node's, pgs_ctl.epoch): the edges it learnt then become hints, as a sync record's are
 * (pgs_flow_edges_as_hints). The takeover itself only bumps the epoch: nothing walks the flow table
 * before the VIP is taken. Two CPUs on the same flow's first packets may both convert: the flags
 * move by atomics (the edges cleared, then the hints they were added), so a second conversion finds
 * nothing more to convert, and the worst a late one does is make an edge the other CPU has just
 * learnt a hint again (learnt afresh from the next plain segment). Between the two atomics a side
 * has neither edge nor hint: a close then is a suspect, never trusted. */
static __always_inline void seqhint_catch_up(struct pgs_flow *f, __u32 epoch)
{
	__u32 old, hints;

	if (*(volatile __u32 *)&f->epoch == epoch)
		return;
	old = __sync_fetch_and_and(&f->flags, ~PGS_FLOW_F_EDGES);
	hints = pgs_flow_edges_as_hints(old) & ~old;
	if (hints)
		__sync_fetch_and_or(&f->flags, hints);
	f->epoch = epoch;
}

/* seq, ack: the segment's numbers (ack in the backend's numbers); end: seq + length (+1 for FIN).
 * me: 0 for the client's side, 1 for the backend's. Returns 1 when the close may move the flow. */
static __always_inline int seqhint_close_fits(const struct pgs_pkt *p, struct pgs_flow *f, int me, __u32 seq,
					      __u32 ack, __u32 end)
{
	int other = !me;
	__u32 tracked = me ? PGS_FLOW_F_SEQ_SERVER : PGS_FLOW_F_SEQ_CLIENT;
	__u32 peer = me ? PGS_FLOW_F_SEQ_CLIENT : PGS_FLOW_F_SEQ_SERVER;
	__u32 hint = me ? PGS_FLOW_F_HINT_SERVER : PGS_FLOW_F_HINT_CLIENT;
	__u32 peer_hint = me ? PGS_FLOW_F_HINT_CLIENT : PGS_FLOW_F_HINT_SERVER;
	int has_ack = !!(p->flags & PGS_TCP_ACK);
	__u32 flags = f->flags;
	int fits = 0;

	if (f->state < PGS_FLOW_ESTABLISHED)
		return 0;
	if (flags & hint) {
		if (p->flags & PGS_TCP_RST)
			fits = seq == f->nxt[me];
		else if (has_ack && seq_in_window(seq, f->nxt[me]))
			fits = (flags & peer) ? ack_acceptable(ack, f->nxt[other]) :
			       (flags & peer_hint) ? seq_in_window(ack, f->nxt[other]) : 0;
	}
	if (!fits && has_ack && (flags & peer))
		fits = ack == f->nxt[other];
	if (!fits)
		return 0;
	f->nxt[me] = end;
	__sync_fetch_and_or(&f->flags, tracked);
	if (flags & hint)
		__sync_fetch_and_and(&f->flags, ~hint);
	return 1;
}

#endif

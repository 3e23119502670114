/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Flow events for the controller's flow sync: a flow became ESTABLISHED, or an established flow
 * CLOSED. Emitted by the CPU whose compare-and-swap moved the state, so exactly once per move. */
#ifndef PGS_EVENTS_H
#define PGS_EVENTS_H

#include "maps.h"

/* Which event a state move is, if any: half-open flows never travel (a SYN flood stays local). */
static __always_inline __u32 pgs_event_type_of(__u32 from, __u32 to)
{
	if (to == PGS_FLOW_ESTABLISHED)
		return PGS_EV_ESTABLISHED;
	if (to == PGS_FLOW_CLOSED && from >= PGS_FLOW_ESTABLISHED)
		return PGS_EV_CLOSED;
	return 0;
}

/* Report the move of flow f (client side fk) from state `from` to `to`. */
static __always_inline void pgs_event_state(const struct pgs_flow_key *fk, const struct pgs_flow *f,
					    __u32 from, __u32 to, __u64 now)
{
	__u32 type = pgs_event_type_of(from, to), zero = 0;
	struct pgs_flow_event *ev;
	__u64 *lost;

	if (!type)
		return;
	ev = bpf_ringbuf_reserve(&pgs_events, sizeof(*ev), 0);
	if (!ev) {
		lost = bpf_map_lookup_elem(&pgs_ev_lost, &zero);
		if (lost)
			(*lost)++;
		return;
	}
	ev->fk = *fk;
	ev->backend = f->backend;
	ev->bport = f->bport;
	ev->sport = f->sport;
	ev->slot = f->slot;
	ev->gen = f->gen;
	ev->type = type;
	ev->flags = f->flags;
	ev->_pad = 0;
	ev->ts_ns = now;
	bpf_ringbuf_submit(ev, 0);
}

#endif

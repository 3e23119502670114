/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* PostgreSQL-aware steering: recognise a CancelRequest as the first client payload of a flow and
 * hand its key to the controller, which delivers it to the service's other servers (the session it
 * cancels may be on any of them; leastconn chose this flow's server without knowing). The packet
 * itself goes on to the flow's server unchanged. */
#ifndef PGS_PGPROTO_H
#define PGS_PGPROTO_H

#include <linux/tcp.h>
#include "maps.h"

static __always_inline void pg_stat_inc(__u32 which)
{
	__u64 *n = bpf_map_lookup_elem(&pgs_pg_stats, &which);

	if (n)
		*n += 1;
}

/* The 16 payload bytes are a CancelRequest: length 16, code 80877102 (both big-endian). */
static __always_inline int pg_is_cancel(const __u32 w[4])
{
	return w[0] == bpf_htonl(PGS_PG_CANCEL_LEN) && w[1] == bpf_htonl(PGS_PG_CANCEL_CODE);
}

static __always_inline void pg_emit_cancel(const struct pgs_flow_key *fk, const struct pgs_flow *f, const __u32 w[4],
					   __u64 now)
{
	struct pgs_pg_event *ev;

	pg_stat_inc(PGS_PG_CANCEL_SEEN);
	ev = bpf_ringbuf_reserve(&pgs_pg_events, sizeof(*ev), 0);
	if (!ev) {
		pg_stat_inc(PGS_PG_CANCEL_LOST);
		return;
	}
	ev->fk = *fk;
	ev->backend = f->backend;
	ev->bport = f->bport;
	ev->sport = f->sport;
	ev->slot = f->slot;
	ev->type = PGS_PGEV_CANCEL;
	ev->pid = w[2];
	ev->secret = w[3];
	ev->ts_ns = now;
	bpf_ringbuf_submit(ev, 0);
}

/* A client segment of flow f (client side fk), its TCP header and `payload` bytes after it, was just
 * committed for forwarding. Only the first segment with payload is looked at, once per flow
 * whatever the retransmissions (the flag is set atomically and only its setter goes on); it must be
 * exactly one CancelRequest in one segment. A CancelRequest split across segments (libpq writes it
 * with one send(), so only a forged one is) reaches the flow's server alone, as without pgsteer. */
static __always_inline void pgproto_client_payload(struct pgs_flow *f, const struct pgs_flow_key *fk,
						   const struct tcphdr *tcp, const void *data_end, __u32 payload,
						   __u64 now)
{
	__u32 svc = pgs_slot_svc(f->slot), *opts, w[4];
	const __u8 *pl;

	if (!payload || (f->flags & PGS_FLOW_F_PAYLOAD))
		return;
	if (__sync_fetch_and_or(&f->flags, PGS_FLOW_F_PAYLOAD) & PGS_FLOW_F_PAYLOAD)
		return;
	if (payload != PGS_PG_CANCEL_LEN)
		return;
	opts = bpf_map_lookup_elem(&pgs_pg_opts, &svc);
	if (!opts || !(*opts & PGS_SVC_F_CANCEL))
		return;
	pl = (const __u8 *)tcp + tcp->doff * 4;
	if ((const void *)(pl + PGS_PG_CANCEL_LEN) > data_end)
		return; /* not in the linear part (TC): not ours to read */
	__builtin_memcpy(w, pl, sizeof(w));
	if (!pg_is_cancel(w))
		return;
	__sync_fetch_and_or(&f->flags, PGS_FLOW_F_CANCEL);
	pg_emit_cancel(fk, f, w, now);
}

#endif

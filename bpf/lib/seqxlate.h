/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Sequence translation of a cookie flow (bpf/lib/syncookie.h), for its whole life. The client saw
 * our cookie as the server's ISN, the backend chose its own (isn[1], known from its SYN-ACK:
 * PGS_FLOW_F_ISN_SERVER, which a takeover's turning of edges into hints leaves alone):
 * backend -> client segments have seq - delta, client -> backend segments ack + delta, with
 * delta = isn[1] - cookie_isn (RST and FIN alike). The client's own sequence space is the
 * backend's (our SYN carried the client's ISN), and SACK and timestamps were not negotiated, so
 * nothing else in the header needs it. The flow's sequence checks (lb.h segment_fits) run before,
 * on the numbers as each side sent them, except the client's ACK: it is compared with (and kept
 * as) what the backend sent, so in the backend's numbers (seqxlate_ack). */
#ifndef PGS_SEQXLATE_H
#define PGS_SEQXLATE_H

#include "csum.h"
#include "flow.h"

/* A client's acknowledgement in the backend's numbers: as it leaves toward the backend. */
static __always_inline __u32 seqxlate_ack(const struct pgs_flow *f, __u32 ack)
{
	__u32 xlate = PGS_FLOW_F_COOKIE | PGS_FLOW_F_ISN_SERVER;

	return (f->flags & xlate) == xlate ? ack + (f->isn[1] - f->cookie_isn) : ack;
}

/* Translate the segment in place; returns the TCP checksum difference to apply (0: untouched). */
static __always_inline __u32 seqxlate(struct tcphdr *tcp, __u8 flags, const struct pgs_flow *f, int from_client)
{
	__u32 xlate = PGS_FLOW_F_COOKIE | PGS_FLOW_F_ISN_SERVER, old, new, delta;

	if (!f || (f->flags & xlate) != xlate)
		return 0;
	delta = f->isn[1] - f->cookie_isn;
	if (!from_client) {
		old = tcp->seq;
		new = bpf_htonl(bpf_ntohl(old) - delta);
		tcp->seq = new;
	} else {
		if (!(flags & PGS_TCP_ACK))
			return 0;
		old = tcp->ack_seq;
		new = bpf_htonl(seqxlate_ack(f, bpf_ntohl(old)));
		tcp->ack_seq = new;
	}
	return csum_diff32(0, old, new);
}

#endif

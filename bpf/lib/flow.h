/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The TCP flow state machine and SNAT port arithmetic: pure functions of their inputs. */
#ifndef PGS_FLOW_H
#define PGS_FLOW_H

#include "common.h"
#include "../pgsteer_abi.h"

/* TCP flag bits as in byte 13 of the header. */
#define PGS_TCP_FIN 0x01
#define PGS_TCP_SYN 0x02
#define PGS_TCP_RST 0x04
#define PGS_TCP_ACK 0x10

/* What a packet of an existing flow does to it. */
struct flow_step {
	__u32 state;      /* the new state */
	__u8 release;     /* the first FIN or RST: the flow stops counting (exactly once, by the caller) */
	__u8 redispatch;  /* the backend refused the SYN: drop the RST, forget the flow */
	__u8 _pad[2];
	__u32 set_flags;  /* PGS_FLOW_F_* to add */
};

/* Step the state machine for a packet that is not a new client SYN.
 * from_client: 1 for client -> VIP, 0 for a backend reply. flags: the FIN/SYN/RST/ACK bits.
 * seen_flags: the flow's PGS_FLOW_F_FIN_* bits before this packet. crossed: a FIN that does not
 * acknowledge the other side's FIN, sent before that one arrived (a simultaneous close). */
static __always_inline struct flow_step flow_next(__u32 state, int from_client, __u8 flags, __u32 seen_flags, int crossed)
{
	struct flow_step s = { .state = state };
	__u32 fin_me = from_client ? PGS_FLOW_F_FIN_CLIENT : PGS_FLOW_F_FIN_SERVER;
	__u32 fin_peer = from_client ? PGS_FLOW_F_FIN_SERVER : PGS_FLOW_F_FIN_CLIENT;

	if (flags & PGS_TCP_RST) {
		if (!from_client && state == PGS_FLOW_SYN_SENT) {
			s.redispatch = 1;
			s.release = 1;
			s.state = PGS_FLOW_CLOSED;
			return s;
		}
		s.state = PGS_FLOW_CLOSED;
		s.release = 1;
		return s;
	}
	if (flags & PGS_TCP_FIN) {
		s.set_flags = fin_me;
		/* The side that closes first keeps TIME_WAIT, and both do when their FINs cross: when it
		 * is the backend, on our SNAT port. */
		if (!from_client && (!(seen_flags & fin_peer) || crossed))
			s.set_flags |= PGS_FLOW_F_SERVER_FIRST;
		s.release = 1;
		s.state = (seen_flags & fin_peer) ? PGS_FLOW_CLOSED : PGS_FLOW_FIN_WAIT;
		return s;
	}
	if (state == PGS_FLOW_SYN_SENT && !from_client && (flags & (PGS_TCP_SYN | PGS_TCP_ACK)) == (PGS_TCP_SYN | PGS_TCP_ACK))
		s.state = PGS_FLOW_SYN_RECV;
	else if (state == PGS_FLOW_SYN_RECV && from_client && (flags & PGS_TCP_ACK))
		s.state = PGS_FLOW_ESTABLISHED;
	return s;
}

/* A client SYN on an existing flow starts a new connection in its place only when the flow is
 * closed (the client reused its port; a backend that closed first keeps its TIME_WAIT on the old
 * SNAT port, the new connection gets a fresh one) or its server left selection before answering
 * the first SYN. On a live flow it goes to the same server, which answers a SYN it does not expect
 * with a challenge ACK (RFC 5961): a forged SYN cannot end or move a session. */
static __always_inline int flow_syn_reopens(__u32 state, int server_selectable)
{
	if (state == PGS_FLOW_CLOSED)
		return 1;
	return state == PGS_FLOW_SYN_SENT && !server_selectable;
}

/* The sequence window pgsteer checks FIN and data against, in bytes. pgsteer sees every segment of
 * a flow, so it knows the right edge (seq + length) each side has sent: nxt, and the last
 * acknowledgement each side sent: ack. As the endpoints do (RFC 5961):
 * - an RST ends the flow only when its sequence number is exactly the sender's edge, or exactly
 *   what the receiver last acknowledged (the RST that answers a challenge ACK); any other is
 *   forwarded for the endpoint to challenge, and changes nothing here. A forged one passes with a
 *   chance of 2/2^32;
 * - a FIN lies within PGS_SEQ_WINDOW either side of the sender's edge (reordering, losses before
 *   pgsteer) and acknowledges at most PGS_ACK_WINDOW less than the receiver has sent (at most what
 *   it has sent): a forged FIN/ACK passes with a chance of 2^19/2^32 x 2^20/2^32 = 2^-25;
 * - data within PGS_SEQ_WINDOW moves the edge forward. */
#define PGS_SEQ_WINDOW (256u * 1024)
#define PGS_ACK_WINDOW (1024u * 1024)

/* Whether seq (of a FIN or data segment from one side) lies within the window of that side's edge. */
static __always_inline int seq_in_window(__u32 seq, __u32 nxt)
{
	return seq - (nxt - PGS_SEQ_WINDOW) <= 2 * PGS_SEQ_WINDOW;
}

/* Whether an acknowledgement fits what the other side has sent (its edge peer_nxt): not beyond it,
 * and at most PGS_ACK_WINDOW behind. */
static __always_inline int ack_acceptable(__u32 ack, __u32 peer_nxt)
{
	return peer_nxt - ack <= PGS_ACK_WINDOW;
}

/* Whether an RST from one side may end the flow: its sequence number is that side's edge, or what
 * the receiver last acknowledged (peer_ack, when known). */
static __always_inline int rst_exact(__u32 seq, __u32 nxt, __u32 peer_ack, int have_peer_ack)
{
	return seq == nxt || (have_peer_ack && seq == peer_ack);
}

/* Serial-number order (RFC 1982): a is after b. */
static __always_inline int seq_after(__u32 a, __u32 b)
{
	return (__s32)(a - b) > 0;
}

/* Idle limits by state, in ns; the controller's clean-up applies them to seen_ns. */
struct flow_timeouts {
	__u64 syn;     /* SYN_SENT, SYN_RECV: half-open */
	__u64 est;     /* ESTABLISHED: idle PostgreSQL sessions live for hours */
	__u64 fin;     /* FIN_WAIT: half-closed */
	__u64 closed;  /* CLOSED: linger for retransmitted FINs and late segments */
	__u64 tw;      /* CLOSED by the backend first: its TIME_WAIT holds the SNAT port this long */
};

static __always_inline int flow_expired(__u32 state, __u32 flags, __u64 seen_ns, __u64 now, const struct flow_timeouts *t)
{
	__u64 limit;

	switch (state) {
	case PGS_FLOW_SYN_SENT:
	case PGS_FLOW_SYN_RECV:
		limit = t->syn;
		break;
	case PGS_FLOW_ESTABLISHED:
		limit = t->est;
		break;
	case PGS_FLOW_FIN_WAIT:
		limit = t->fin;
		break;
	default:
		/* Keep the SNAT port out of reuse while the backend may still hold the tuple. */
		limit = (flags & PGS_FLOW_F_SERVER_FIRST) && t->tw > t->closed ? t->tw : t->closed;
		break;
	}
	return now > seen_ns && now - seen_ns > limit;
}

/* Whether the clean-up works under pressure (half-open flows expire early): the flow table, or
 * the SNAT ports toward the busiest server (every flow of a slot holds one of its range), over 80%. */
static __always_inline int flow_pressure(__u64 entries, __u64 table, __u64 slot_peak, __u32 snat_range)
{
	return entries * 100 > table * 80 || slot_peak * 100 > (__u64)snat_range * 80;
}

/* The SNAT port (host order) in [min, max] a random number picks. */
static __always_inline __u16 snat_port_at(__u32 rnd, __u16 min, __u16 max)
{
	__u32 range = (__u32)max - min + 1;

	return (__u16)(min + rnd % range);
}

#endif

/* The datapath's pure logic in plain C: leastconn choice, the TCP flow state machine, flow expiry,
 * SNAT port arithmetic and incremental checksums. */
#include <arpa/inet.h>
#include <stdlib.h>
#include "harness.h"
#include "lib/select.h"
#include "lib/flow.h"
#include "lib/csum.h"

struct srv {
	uint32_t active, weight;
	int up;
};

/* The scan the datapath runs, over an array instead of maps. */
static int pick(const struct srv *s, uint32_t n, uint32_t start)
{
	struct lc_best best = LC_BEST_INIT;
	uint32_t i;

	for (i = 0; i < n; i++) {
		uint32_t j = lc_scan_pos(start, i, n);

		if (s[j].up && s[j].weight)
			lc_consider(&best, j, s[j].active, s[j].weight);
	}
	return best.idx;
}

static void leastconn_table(void)
{
	static const struct {
		const char *name;
		struct srv s[4];
		uint32_t n, start;
		int want;
	} t[] = {
		{ "fewest wins", { { 3, 16, 1 }, { 1, 16, 1 }, { 2, 16, 1 } }, 3, 0, 1 },
		{ "idle wins over weight", { { 0, 16, 1 }, { 1, 160, 1 } }, 2, 1, 0 },
		{ "ties go to the scan start", { { 2, 16, 1 }, { 2, 16, 1 }, { 2, 16, 1 } }, 3, 1, 1 },
		{ "ties from start 2", { { 0, 16, 1 }, { 0, 16, 1 }, { 0, 16, 1 } }, 3, 2, 2 },
		{ "down skipped", { { 0, 16, 0 }, { 5, 16, 1 } }, 2, 0, 1 },
		{ "weight 0 never", { { 0, 0, 1 }, { 9, 16, 1 } }, 2, 0, 1 },
		{ "weighted: (4+1)/32 < (2+1)/16", { { 4, 32, 1 }, { 2, 16, 1 } }, 2, 1, 0 },
		{ "weighted: (5+1)/32 > (2+1)/16", { { 6, 32, 1 }, { 2, 16, 1 } }, 2, 0, 1 },
		{ "none selectable", { { 0, 16, 0 }, { 0, 0, 1 } }, 2, 0, -1 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		CHECK(pick(t[i].s, t[i].n, t[i].start) == t[i].want, "%s: picked %d, want %d", t[i].name,
		      pick(t[i].s, t[i].n, t[i].start), t[i].want);
}

/* Held connections under weights 2:1 converge to 2:1, and equal weights stay within one. */
static void leastconn_converges(void)
{
	struct srv s[3] = { { 0, 32, 1 }, { 0, 16, 1 }, { 0, 16, 1 } };
	uint32_t rr = 0;
	int i;

	for (i = 0; i < 400; i++) {
		int j = pick(s, 3, rr);

		s[j].active++;
		rr = (uint32_t)(j + 1) % 3;
	}
	CHECK(s[0].active >= 198 && s[0].active <= 202, "weight 2 got %u of 400", s[0].active);
	CHECK(abs((int)s[1].active - (int)s[2].active) <= 1, "equal weights: %u vs %u", s[1].active, s[2].active);
	CHECK_EQ(lc_active(10, 3, 2), 5);
	CHECK_EQ(lc_active(10, 9, 4), 0);
}

static void flow_state_machine(void)
{
	static const struct {
		const char *name;
		uint32_t state;
		int from_client;
		uint8_t flags;
		uint32_t seen;
		uint32_t want_state;
		uint8_t release, redispatch;
		uint32_t set;
		int crossed;
	} t[] = {
		{ "SYN-ACK from backend", PGS_FLOW_SYN_SENT, 0, PGS_TCP_SYN | PGS_TCP_ACK, 0, PGS_FLOW_SYN_RECV, 0, 0, 0, 0 },
		{ "SYN-ACK from client ignored", PGS_FLOW_SYN_SENT, 1, PGS_TCP_SYN | PGS_TCP_ACK, 0, PGS_FLOW_SYN_SENT, 0, 0, 0, 0 },
		{ "client ACK establishes", PGS_FLOW_SYN_RECV, 1, PGS_TCP_ACK, 0, PGS_FLOW_ESTABLISHED, 0, 0, 0, 0 },
		{ "backend ACK does not", PGS_FLOW_SYN_RECV, 0, PGS_TCP_ACK, 0, PGS_FLOW_SYN_RECV, 0, 0, 0, 0 },
		{ "data keeps established", PGS_FLOW_ESTABLISHED, 0, PGS_TCP_ACK, 0, PGS_FLOW_ESTABLISHED, 0, 0, 0, 0 },
		{ "client FIN", PGS_FLOW_ESTABLISHED, 1, PGS_TCP_FIN | PGS_TCP_ACK, 0, PGS_FLOW_FIN_WAIT, 1, 0, PGS_FLOW_F_FIN_CLIENT, 0 },
		{ "server FIN after client FIN", PGS_FLOW_FIN_WAIT, 0, PGS_TCP_FIN | PGS_TCP_ACK, PGS_FLOW_F_FIN_CLIENT,
		  PGS_FLOW_CLOSED, 1, 0, PGS_FLOW_F_FIN_SERVER, 0 },
		{ "server FIN crossing the client's", PGS_FLOW_FIN_WAIT, 0, PGS_TCP_FIN | PGS_TCP_ACK, PGS_FLOW_F_FIN_CLIENT,
		  PGS_FLOW_CLOSED, 1, 0, PGS_FLOW_F_FIN_SERVER | PGS_FLOW_F_SERVER_FIRST, 1 },
		{ "client FIN crossing the server's", PGS_FLOW_FIN_WAIT, 1, PGS_TCP_FIN | PGS_TCP_ACK, PGS_FLOW_F_FIN_SERVER,
		  PGS_FLOW_CLOSED, 1, 0, PGS_FLOW_F_FIN_CLIENT, 1 },
		{ "server FIN first", PGS_FLOW_ESTABLISHED, 0, PGS_TCP_FIN | PGS_TCP_ACK, 0, PGS_FLOW_FIN_WAIT, 1, 0,
		  PGS_FLOW_F_FIN_SERVER | PGS_FLOW_F_SERVER_FIRST, 0 },
		{ "client FIN retransmitted", PGS_FLOW_FIN_WAIT, 1, PGS_TCP_FIN | PGS_TCP_ACK, PGS_FLOW_F_FIN_CLIENT,
		  PGS_FLOW_FIN_WAIT, 1, 0, PGS_FLOW_F_FIN_CLIENT, 0 },
		{ "RST from client", PGS_FLOW_ESTABLISHED, 1, PGS_TCP_RST, 0, PGS_FLOW_CLOSED, 1, 0, 0, 0 },
		{ "RST from backend, established", PGS_FLOW_ESTABLISHED, 0, PGS_TCP_RST | PGS_TCP_ACK, 0, PGS_FLOW_CLOSED, 1, 0, 0, 0 },
		{ "RST from backend answering the SYN", PGS_FLOW_SYN_SENT, 0, PGS_TCP_RST | PGS_TCP_ACK, 0, PGS_FLOW_CLOSED, 1, 1, 0, 0 },
		{ "RST from client while SYN_SENT", PGS_FLOW_SYN_SENT, 1, PGS_TCP_RST, 0, PGS_FLOW_CLOSED, 1, 0, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct flow_step s = flow_next(t[i].state, t[i].from_client, t[i].flags, t[i].seen, t[i].crossed);

		CHECK(s.state == t[i].want_state && s.release == t[i].release && s.redispatch == t[i].redispatch &&
			      s.set_flags == t[i].set,
		      "%s: state %u release %u redispatch %u flags %u", t[i].name, s.state, s.release, s.redispatch, s.set_flags);
	}
	/* A client SYN on an existing flow. */
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_SYN_SENT, 1), 0);
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_SYN_SENT, 0), 1);
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_SYN_RECV, 1), 0);
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_ESTABLISHED, 1), 0); /* a SYN cannot end a live session */
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_ESTABLISHED, 0), 0);
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_FIN_WAIT, 1), 0);
	CHECK_EQ(flow_syn_reopens(PGS_FLOW_CLOSED, 1), 1);
}

static void sequence_window(void)
{
	/* A FIN or data either side of the sender's right edge. */
	CHECK_EQ(seq_in_window(5000, 5000), 1);
	CHECK_EQ(seq_in_window(5000 - PGS_SEQ_WINDOW, 5000), 1);
	CHECK_EQ(seq_in_window(5000 - PGS_SEQ_WINDOW - 1, 5000), 0);
	CHECK_EQ(seq_in_window(5000 + PGS_SEQ_WINDOW, 5000), 1);
	CHECK_EQ(seq_in_window(5000 + PGS_SEQ_WINDOW + 1, 5000), 0);
	/* Across the wrap of the sequence space. */
	CHECK_EQ(seq_in_window(0xfffffff0u, 10), 1);
	CHECK_EQ(seq_in_window(20, 0xfffffff0u), 1);
	CHECK_EQ(seq_in_window(0x80000000u, 10), 0);
	/* An acknowledgement: not beyond what the other side sent, at most PGS_ACK_WINDOW behind. */
	CHECK_EQ(ack_acceptable(9000, 9000), 1);
	CHECK_EQ(ack_acceptable(9001, 9000), 0);
	CHECK_EQ(ack_acceptable(9000 - PGS_ACK_WINDOW, 9000), 1);
	CHECK_EQ(ack_acceptable(9000 - PGS_ACK_WINDOW - 1, 9000), 0);
	CHECK_EQ(ack_acceptable(0xfffffff0u, 10), 1);
	/* An RST: exactly the edge, or exactly the receiver's last acknowledgement (RFC 5961). */
	CHECK_EQ(rst_exact(5000, 5000, 0, 0), 1);
	CHECK_EQ(rst_exact(4999, 5000, 0, 0), 0);
	CHECK_EQ(rst_exact(5001, 5000, 0, 0), 0);
	CHECK_EQ(rst_exact(4900, 5000, 4900, 1), 1);
	CHECK_EQ(rst_exact(4900, 5000, 4900, 0), 0);
	CHECK_EQ(rst_exact(0, 5000, 0, 0), 0); /* an unknown acknowledgement matches nothing */
	CHECK_EQ(seq_after(10, 0xfffffff0u), 1);
	CHECK_EQ(seq_after(0xfffffff0u, 10), 0);
}

static void flow_expiry(void)
{
	const uint64_t s = 1000000000ull;
	struct flow_timeouts t = { .syn = 30 * s, .est = 3 * 3600 * s, .fin = 60 * s, .closed = 10 * s, .tw = 60 * s };
	uint64_t now = 100000 * s;

	CHECK_EQ(flow_expired(PGS_FLOW_SYN_SENT, 0, now - 29 * s, now, &t), 0);
	CHECK_EQ(flow_expired(PGS_FLOW_SYN_RECV, 0, now - 31 * s, now, &t), 1);
	CHECK_EQ(flow_expired(PGS_FLOW_ESTABLISHED, 0, now - 2 * 3600 * s, now, &t), 0);
	CHECK_EQ(flow_expired(PGS_FLOW_ESTABLISHED, 0, now - 3 * 3600 * s - s, now, &t), 1);
	CHECK_EQ(flow_expired(PGS_FLOW_FIN_WAIT, 0, now - 59 * s, now, &t), 0);
	CHECK_EQ(flow_expired(PGS_FLOW_CLOSED, 0, now - 11 * s, now, &t), 1);
	CHECK_EQ(flow_expired(PGS_FLOW_CLOSED, 0, now + s, now, &t), 0); /* seen after the walk began */
	/* Closed by the backend first: its TIME_WAIT holds the SNAT port for 60 s. */
	CHECK_EQ(flow_expired(PGS_FLOW_CLOSED, PGS_FLOW_F_SERVER_FIRST, now - 11 * s, now, &t), 0);
	CHECK_EQ(flow_expired(PGS_FLOW_CLOSED, PGS_FLOW_F_SERVER_FIRST, now - 61 * s, now, &t), 1);
}

static void pressure(void)
{
	CHECK_EQ(flow_pressure(80, 100, 0, 1000), 0);
	CHECK_EQ(flow_pressure(81, 100, 0, 1000), 1);     /* the flow table */
	CHECK_EQ(flow_pressure(10, 1000000, 800, 1000), 0);
	CHECK_EQ(flow_pressure(10, 1000000, 801, 1000), 1); /* one server's SNAT ports */
}

static void snat_ports(void)
{
	CHECK_EQ(snat_port_at(0, 20000, 20015), 20000);
	CHECK_EQ(snat_port_at(15, 20000, 20015), 20015);
	CHECK_EQ(snat_port_at(16, 20000, 20015), 20000);
	CHECK_EQ(snat_port_at(0xffffffffu, 10000, 32767), 10000 + 0xffffffffu % 22768);
	CHECK_EQ(snat_port_at(0xffffffffu, 1, 65535), 1 + 0xffffffffu % 65535);
	CHECK_EQ(snat_port_at(12345, 40000, 40000), 40000);
}

/* Full checksum of 16-bit words in memory order. */
static uint16_t full(const uint16_t *w, int n)
{
	uint32_t s = 0;
	int i;

	for (i = 0; i < n; i++)
		s += w[i];
	return (uint16_t)~csum_fold(s);
}

static void incremental_checksum(void)
{
	uint16_t w[10];
	uint32_t seed = 1, i, k;

	for (k = 0; k < 1000; k++) {
		uint16_t before, after;
		uint32_t old, new, d;

		for (i = 0; i < 10; i++) {
			seed = seed * 1103515245 + 12345;
			w[i] = (uint16_t)(seed >> 8);
		}
		before = full(w, 10);
		memcpy(&old, &w[2], 4);
		seed = seed * 1103515245 + 12345;
		new = seed;
		d = csum_diff32(0, old, new);
		d = csum_diff16(d, w[6], (uint16_t)(seed >> 3));
		memcpy(&w[2], &new, 4);
		w[6] = (uint16_t)(seed >> 3);
		after = full(w, 10);
		if (csum_apply(before, d) != after && !(csum_apply(before, d) == 0xffff && after == 0) &&
		    !(csum_apply(before, d) == 0 && after == 0xffff)) {
			CHECK(0, "round %u: incremental %04x, full %04x", k, csum_apply(before, d), after);
			break;
		}
	}
}

int main(void)
{
	RUN(leastconn_table);
	RUN(leastconn_converges);
	RUN(flow_state_machine);
	RUN(flow_expiry);
	RUN(sequence_window);
	RUN(snat_ports);
	RUN(pressure);
	RUN(incremental_checksum);
	return h_exit();
}

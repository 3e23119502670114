/* The heartbeat cases of the datapath table (bpf/lib/beat.h): a node whose pgsteerd stopped beating
 * for longer than PGS_BEAT_TIMEOUT leaves VIP traffic to the stack. Included by bpf_datapath.c. */
#ifndef PGS_CASES_GUARD_H
#define PGS_CASES_GUARD_H

static uint32_t beat_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) >> PGS_BEAT_SHIFT);
}

/* A fresh beat steers; a beat older than the timeout passes everything to the stack, established
 * flows included, and changes no state; a beat of 0 (pgsteerd stopped on purpose) steers. */
static void stale_heartbeat_stops_steering(void)
{
	uint8_t in[PKT_MAX];
	size_t len;

	reset();
	maps_set_beat(&M, beat_now());
	fwd(40301, F_SYN, 0, "SYN with a fresh heartbeat");
	maps_set_beat(&M, beat_now() - PGS_BEAT_TIMEOUT - 2);
	len = client_pkt(in, 40302, F_SYN, 0);
	EXPECT_OUTCOME(run(in, len), O_PASS, "SYN with a stale heartbeat");
	CHECK(!memcmp(out, in, len), "untouched");
	len = client_pkt(in, 40301, F_ACK, 0);
	EXPECT_OUTCOME(run(in, len), O_PASS, "a flow's packet with a stale heartbeat");
	CHECK_EQ(verdict(PGS_R_PASS_INACTIVE), 2);
	CHECK_EQ(state_of(40302), 0);
	CHECK_EQ(state_of(40301), PGS_FLOW_SYN_SENT);
	maps_set_beat(&M, 0);
	fwd(40302, F_SYN, 0, "SYN with no heartbeat expected");
	maps_set_beat(&M, beat_now());
	fwd(40301, F_SYN, 0, "the retransmitted SYN once beats resume");
	maps_set_beat(&M, 0);
}

/* The datapath reads the coarse clock, which lags pgsteerd's CLOCK_MONOTONIC by up to a tick: just
 * after a unit boundary a beat written that instant is ahead of the datapath's now. Such a beat is
 * fresh: new connections and established flows are steered, nothing goes to the stack. */
static void beat_ahead_of_the_coarse_clock_steers(void)
{
	reset();
	maps_set_beat(&M, beat_now());
	open_conn(40311);
	maps_set_beat(&M, beat_now() + 1);
	fwd(40311, F_ACK, 0, "a flow's packet with the beat one unit ahead");
	rev(40311, F_ACK | F_PSH, 10, "its reply with the beat one unit ahead");
	fwd(40312, F_SYN, 0, "SYN with the beat one unit ahead");
	CHECK_EQ(verdict(PGS_R_PASS_INACTIVE), 0);
	maps_set_beat(&M, 0);
}

#define GUARD_CASES CASE(stale_heartbeat_stops_steering), CASE(beat_ahead_of_the_coarse_clock_steers),

#endif

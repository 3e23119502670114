/* The seqhint cases of the BPF tables (bpf/lib/seqhint.h), included by bpf_datapath.c and run
 * through XDP and TC like the others: a flow the flow sync installed (or one whose learnt edges its
 * first packet after a takeover turned into hints) whose first packet on a side is its close. The
 * honest close ends the flow; the forged one next to it (off the hint, wrong ACK, no ACK) changes
 * nothing. */

#define HINT_C 90000u   /* the client's edge in the sync record */
#define HINT_S 7000000u /* the backend's */

/* A flow as dpsync_flow_apply installs it: ESTABLISHED, counted, edges known only as hints. */
static struct pgs_flow hinted_flow(uint16_t cport, uint16_t sport, uint32_t hints)
{
	struct pgs_flow_key k = { .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(cport), .vport = htons(VPORT) };
	struct pgs_flow v = { .backend = htonl(BACKEND), .bport = htons(6432), .sport = htons(sport), .slot = 0,
			      .flags = PGS_FLOW_F_COUNTED | hints, .state = PGS_FLOW_ESTABLISHED,
			      .nxt = { HINT_C, HINT_S } };
	struct pgs_rflow_key rk = { .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(6432), .sport = htons(sport) };
	struct pgs_conns c = conns(0);

	bpf_map_update_elem(M.flows, &k, &v, BPF_NOEXIST);
	bpf_map_update_elem(M.rflows, &rk, &k, BPF_NOEXIST);
	c.opened++;
	bpf_map_update_elem(M.conns, &(uint32_t){ 0 }, &c, BPF_ANY);
	return v;
}

#define BOTH_HINTS (PGS_FLOW_F_HINT_CLIENT | PGS_FLOW_F_HINT_SERVER)

/* An idle session synced with exact edges: the client's FIN is the first packet after the
 * takeover, then the backend's; another one ends with the backend's RST at its hint. */
static void hint_honest_close_first(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f = {}, g;

	reset();
	f = hinted_flow(51001, SNAT_MIN + 1, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, client_seg(in, 51001, F_FIN | F_ACK, HINT_C, HINT_S)), O_TX, "client FIN at its hint");
	CHECK_EQ(state_of(51001), PGS_FLOW_FIN_WAIT);
	CHECK(flow_get(51001, &g) && (g.flags & PGS_FLOW_F_SEQ_CLIENT) && !(g.flags & PGS_FLOW_F_HINT_CLIENT) &&
	      g.nxt[0] == HINT_C + 1, "client edge learnt from its FIN: %u flags %x", g.nxt[0], g.flags);
	CHECK_EQ(total_closed(), 1);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_FIN | F_ACK, HINT_S, HINT_C + 1)), O_TX, "backend FIN at its hint");
	CHECK_EQ(state_of(51001), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);

	f = hinted_flow(51002, SNAT_MIN + 2, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST | F_ACK, HINT_S, HINT_C)), O_TX, "backend RST at its hint");
	CHECK_EQ(state_of(51002), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 2);

	/* The hints are a little stale (the session moved on within the window since the last record). */
	f = hinted_flow(51003, SNAT_MIN + 3, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, client_seg(in, 51003, F_FIN | F_ACK, HINT_C + 3000, HINT_S + 40000)), O_TX,
		       "client FIN near stale hints");
	CHECK_EQ(state_of(51003), PGS_FLOW_FIN_WAIT);
	CHECK_EQ(total_closed(), 3);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 0);
}

/* The hints are far behind (much data since the last record): a close after the other side's first
 * segment fits when it acknowledges exactly what that side sent. */
static void hint_stale_close_after_the_peer(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint32_t c = HINT_C + 0x10000000u, s = HINT_S + 0x20000000u;

	reset();
	f = hinted_flow(51011, SNAT_MIN + 1, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_ACK | F_PSH, s, c)), O_TX, "backend data");
	EXPECT_OUTCOME(run(in, client_seg(in, 51011, F_FIN | F_ACK, c, s)), O_TX, "client FIN acknowledging it");
	CHECK_EQ(state_of(51011), PGS_FLOW_FIN_WAIT);

	f = hinted_flow(51012, SNAT_MIN + 2, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, client_seg(in, 51012, F_ACK | F_PSH, c, s)), O_TX, "client data");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST | F_ACK, s, c)), O_TX, "backend RST acknowledging it");
	CHECK_EQ(state_of(51012), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 2);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 0);
}

/* Forged closes on the same flows: off the hint, a wrong or missing ACK, an ACK one off the other
 * side's learnt edge. Each is forwarded (the endpoint judges it), nothing moves and nothing is
 * learnt; the honest close afterwards still ends the flow. */
static void hint_forged_close_changes_nothing(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f, g;
	uint64_t n = 0;
	uint32_t s = HINT_S + 0x20000000u;

	reset();
	f = hinted_flow(51021, SNAT_MIN + 1, BOTH_HINTS);
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST, HINT_C + 1, 0)), O_TX, "client RST one above its hint");
	forwarded_untouched(&f, 51021, 1, ++n, "client RST one above its hint");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST | F_ACK, HINT_C - 1, HINT_S)), O_TX, "client RST one below");
	forwarded_untouched(&f, 51021, 1, ++n, "client RST one below its hint");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST, HINT_C + 0x40000000u, 0)), O_TX, "client RST far off");
	forwarded_untouched(&f, 51021, 1, ++n, "client RST far off its hint");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, HINT_S + 1, 0)), O_TX, "backend RST one above its hint");
	forwarded_untouched(&f, 51021, 0, ++n, "backend RST one above its hint");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_FIN | F_ACK, HINT_C, 0x9abcdef0u)), O_TX, "client FIN, random ACK");
	forwarded_untouched(&f, 51021, 1, ++n, "client FIN at its hint with a random ACK");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_FIN, HINT_C, 0)), O_TX, "client FIN without ACK");
	forwarded_untouched(&f, 51021, 1, ++n, "client FIN without ACK");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_FIN | F_ACK, HINT_C + 0x40000000u, HINT_S)), O_TX,
		       "client FIN out of window");
	forwarded_untouched(&f, 51021, 1, ++n, "client FIN out of its hint's window");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_FIN | F_ACK, HINT_S, HINT_C + 0x40000000u)), O_TX,
		       "backend FIN, ACK far off");
	forwarded_untouched(&f, 51021, 0, ++n, "backend FIN acknowledging far off the client's hint");
	CHECK(flow_get(51021, &g) && (g.flags & BOTH_HINTS) == BOTH_HINTS &&
	      !(g.flags & (PGS_FLOW_F_SEQ_CLIENT | PGS_FLOW_F_SEQ_SERVER)) && g.nxt[0] == HINT_C && g.nxt[1] == HINT_S,
	      "a forged close taught an edge: %u/%u flags %x", g.nxt[0], g.nxt[1], g.flags);

	/* After the backend's segment: its edge is learnt; a client close off the hint must
	 * acknowledge it exactly. */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_ACK | F_PSH, s, HINT_C)), O_TX, "backend data");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_FIN | F_ACK, 0x55555555u, s - 1)), O_TX, "client FIN, ACK one short");
	forwarded_untouched(&f, 51021, 1, ++n, "client FIN off its hint, ACK one short of the backend's edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST | F_ACK, 0x55555555u, s + 1)), O_TX, "client RST, ACK one over");
	forwarded_untouched(&f, 51021, 1, ++n, "client RST off its hint, ACK one past the backend's edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST, 0x55555555u, 0)), O_TX, "client RST without ACK");
	forwarded_untouched(&f, 51021, 1, ++n, "client RST off its hint without ACK");
	CHECK(flow_get(51021, &g) && !(g.flags & PGS_FLOW_F_SEQ_CLIENT) && g.nxt[0] == HINT_C, "client edge %u flags %x",
	      g.nxt[0], g.flags);
	CHECK_EQ(total_closed(), 0);

	/* Honest, still: the client's RST at its hint. */
	EXPECT_OUTCOME(run(in, client_seg(in, 51021, F_RST | F_ACK, HINT_C, s)), O_TX, "client RST at its hint");
	CHECK_EQ(state_of(51021), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

/* Without hints (a record that carried no edges) a close before the side's first plain segment is
 * not trusted, whatever its numbers. */
static void hint_none_close_untrusted(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint64_t n = 0;

	reset();
	f = hinted_flow(51022, SNAT_MIN + 2, 0);
	EXPECT_OUTCOME(run(in, client_seg(in, 51022, F_RST | F_ACK, HINT_C, HINT_S)), O_TX, "client RST, no hint");
	forwarded_untouched(&f, 51022, 1, ++n, "client RST on a flow without hints");
	EXPECT_OUTCOME(run(in, client_seg(in, 51022, F_FIN | F_ACK, HINT_C, HINT_S)), O_TX, "client FIN, no hint");
	forwarded_untouched(&f, 51022, 1, ++n, "client FIN on a flow without hints");
}

/* --- steering epochs (issue 12 item 8): a takeover walks no flow ------------------------------- */

static uint32_t ctl_epoch(void)
{
	struct pgs_ctl ctl = {};

	bpf_map_lookup_elem(M.ctl, &(uint32_t){ 0 }, &ctl);
	return ctl.epoch;
}

/* A session learnt here, then a takeover (dpsync_takeover: a new epoch, the flow not touched). The
 * flow's first packet after it makes its old edges hints and drops its old acknowledgements: a
 * forged RST (a random sequence, one off the old edge, at the client's stale acknowledgement) is a
 * suspect that moves nothing; the RST exactly at the old edge closes the flow, as at a synced hint. */
static void epoch_takeover_makes_old_edges_hints(void)
{
	uint8_t in[PKT_MAX];
	struct datapath *dp = NULL;
	struct pgs_flow f, g;
	uint64_t n = 0;
	uint32_t was;

	reset();
	was = ctl_epoch();
	established(51031);
	rev(51031, F_ACK | F_PSH, 200, "server data"); /* backend edge 5201, the client acknowledged 5001 */
	CHECK(flow_get(51031, &f) && f.epoch == was && (f.flags & PGS_FLOW_F_EDGES) == PGS_FLOW_F_EDGES,
	      "learnt: epoch %u flags %x", f.epoch, f.flags);
	CHECK_EQ(datapath_over_maps(&dp, &M), 0);
	if (!dp)
		return;
	dpsync_takeover(dp);
	datapath_close(dp);
	CHECK_EQ(ctl_epoch(), was + 1);
	CHECK(flow_get(51031, &g) && !memcmp(&g, &f, sizeof(g)), "the takeover rewrote the flow: flags %x -> %x", f.flags,
	      g.flags);

	EXPECT_OUTCOME(run(in, client_seg(in, 51031, F_RST, 0x6b8b4567u, 0)), O_TX, "client RST at a random sequence");
	forwarded_untouched(&f, 51031, 1, ++n, "client RST at a random sequence after the takeover");
	CHECK(flow_get(51031, &g) && g.epoch == was + 1 && (g.flags & BOTH_HINTS) == BOTH_HINTS &&
	      !(g.flags & PGS_FLOW_F_EDGES) && g.nxt[0] == 1101 && g.nxt[1] == 5201,
	      "old edges not hints: epoch %u flags %x edges %u/%u", g.epoch, g.flags, g.nxt[0], g.nxt[1]);
	EXPECT_OUTCOME(run(in, client_seg(in, 51031, F_RST | F_ACK, 1102, 5201)), O_TX, "client RST one above");
	forwarded_untouched(&f, 51031, 1, ++n, "client RST one above its old edge");
	/* Before the takeover an RST at the acknowledged sequence fitted (a challenge's answer): stale now. */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5001, 0)), O_TX, "backend RST at the old acknowledgement");
	forwarded_untouched(&f, 51031, 0, ++n, "backend RST at the client's acknowledgement from before the takeover");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 0x12345678u, 0)), O_TX, "backend RST at a random sequence");
	forwarded_untouched(&f, 51031, 0, ++n, "backend RST at a random sequence after the takeover");
	CHECK(flow_get(51031, &g) && (g.flags & BOTH_HINTS) == BOTH_HINTS && g.nxt[0] == 1101 && g.nxt[1] == 5201,
	      "a forged RST taught an edge: %u/%u flags %x", g.nxt[0], g.nxt[1], g.flags);

	/* Honest: the backend's RST exactly at its old edge. */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST | F_ACK, 5201, 1101)), O_TX, "backend RST at its old edge");
	CHECK_EQ(state_of(51031), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

/* The same session learnt after the takeover (in the current epoch): its edges stay learnt. A
 * forged RST is a suspect, data far out of the window teaches nothing, and the RST at the client's
 * last acknowledgement (a challenge's answer) still closes it. */
static void epoch_current_edges_stay_learnt(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f, g;
	uint64_t n = 0;

	reset();
	maps_new_epoch(&M);
	established(51032);
	rev(51032, F_ACK | F_PSH, 200, "server data");
	CHECK(flow_get(51032, &f) && f.epoch == ctl_epoch(), "flow epoch %u, node's %u", f.epoch, ctl_epoch());
	EXPECT_OUTCOME(run(in, client_seg(in, 51032, F_RST, 0x6b8b4567u, 0)), O_TX, "client RST at a random sequence");
	forwarded_untouched(&f, 51032, 1, ++n, "client RST at a random sequence");
	EXPECT_OUTCOME(run(in, client_seg(in, 51032, F_ACK, 1101 + 0x20000000u, 5201)), O_TX, "client data far ahead");
	CHECK(flow_get(51032, &g) && g.flags == f.flags && g.nxt[0] == 1101 && g.nxt[1] == 5201 && g.ack[0] == 5001,
	      "learnt edges moved: %u/%u ack %u flags %x -> %x", g.nxt[0], g.nxt[1], g.ack[0], f.flags, g.flags);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5001, 0)), O_TX, "backend RST at the client's acknowledgement");
	CHECK_EQ(state_of(51032), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

/* The SYN-cookie cases of the BPF tables (bpf/lib/syncookie.h, synguard.h, seqxlate.h), included
 * by bpf_datapath.c and run through XDP and TC like the others. Every frame that leaves is checked
 * field by field and its checksums by full recompute. */

#define CK_ISN 1000     /* the client's ISN (client_pkt's seq is ISN + 1 after the SYN) */
#define SRV_ISN 7000000 /* the backend's ISN */

static void set_cookies(uint32_t mode, uint32_t halfopen_max)
{
	struct pgs_svc_key k = { .vip = htonl(VIP), .port = htons(VPORT) };
	struct pgs_svc v;

	bpf_map_lookup_elem(M.services, &k, &v);
	v.syn_cookies = mode;
	v.syn_halfopen_max = halfopen_max;
	bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
}

/* A verdict of the service (id 0) as counted per service, besides the node's. */
static uint64_t svc_verdict(enum pgs_reason r)
{
	uint64_t v = ~0ull;

	maps_read_svc_verdict(&M, 0, r, &v);
	return v;
}

/* A segment with every field chosen by the case. */
static size_t seg(uint8_t *buf, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport, uint8_t flags, uint32_t seq,
		  uint32_t ack, uint16_t payload, uint8_t tcp_opts, int from_client)
{
	struct tspec s = { .saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport, .flags = flags, .seq = seq,
			   .ack = ack, .payload = payload, .tcp_opts = tcp_opts };

	memcpy(s.smac, from_client ? MAC_CLIENT : MAC_BACKEND, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

struct ck_out {
	struct tview v;
	uint16_t win;
	uint8_t doff;
	uint16_t mss;    /* the MSS option, 0 if none */
	uint32_t len;    /* TCP payload */
};

/* The frame that left, checked for checksums and decoded. */
static struct ck_out ck_view(const char *what)
{
	const pkt_iphdr *ip = (const pkt_iphdr *)(out + sizeof(struct ethhdr));
	const uint8_t *t = (const uint8_t *)ip + ip->ihl * 4;
	struct ck_out o = { .v = pkt_view(out) };

	CHECK(pkt_csums_ok(out, out_len), "%s: checksums do not verify by full recompute", what);
	o.win = (uint16_t)(t[14] << 8 | t[15]);
	o.doff = t[12] >> 4;
	if (o.doff >= 6 && t[20] == 2 && t[21] == 4)
		o.mss = (uint16_t)(t[22] << 8 | t[23]);
	o.len = ntohs(ip->tot_len) - ip->ihl * 4 - o.doff * 4;
	CHECK(out_len == sizeof(struct ethhdr) + ntohs(ip->tot_len), "%s: frame %u bytes, IP says %u", what, out_len,
	      (unsigned)(sizeof(struct ethhdr) + ntohs(ip->tot_len)));
	return o;
}

/* Client SYN (with an MSS 1460 option) answered with a cookie; returns the cookie (our ISN). */
static uint32_t ck_syn(uint32_t client, uint16_t cport, const char *what)
{
	uint8_t in[PKT_MAX];
	enum outcome o = run(in, seg(in, client, cport, VIP, VPORT, F_SYN, CK_ISN, 0, 0, 4, 1));
	struct ck_out a;

	EXPECT_OUTCOME(o, O_TX, what);
	if (o != O_TX)
		return 0;
	a = ck_view(what);
	CHECK(a.v.saddr == VIP && a.v.daddr == client && a.v.sport == VPORT && a.v.dport == cport,
	      "%s: SYN-ACK %08x:%u -> %08x:%u, not back to the client", what, a.v.saddr, a.v.sport, a.v.daddr, a.v.dport);
	CHECK(!memcmp(a.v.dmac, MAC_CLIENT, 6) && !memcmp(a.v.smac, MAC_LB, 6), "%s: MACs not swapped", what);
	CHECK_EQ(a.v.flags, F_SYN | F_ACK);
	CHECK_EQ(a.v.ack, CK_ISN + 1);
	CHECK_EQ(a.win, 0);
	CHECK_EQ(a.doff, 6);
	CHECK_EQ(a.mss, 1460);
	CHECK_EQ(a.len, 0);
	return a.v.seq;
}

/* The client's ACK of cookie c: it must become our SYN to a backend. Returns the flow. */
static struct pgs_flow ck_ack(uint16_t cport, uint32_t c, const char *what)
{
	uint8_t in[PKT_MAX];
	enum outcome o = run(in, seg(in, CLIENT, cport, VIP, VPORT, F_ACK, CK_ISN + 1, c + 1, 0, 0, 1));
	struct pgs_flow f = {};
	struct ck_out a;

	EXPECT_OUTCOME(o, O_TX, what);
	CHECK(flow_get(cport, &f), "%s: a valid cookie created no flow", what);
	if (o != O_TX)
		return f;
	a = ck_view(what);
	CHECK(a.v.saddr == VIP && a.v.daddr == ntohl(f.backend) && a.v.sport == ntohs(f.sport) && a.v.dport == ntohs(f.bport),
	      "%s: SYN %08x:%u -> %08x:%u, not along the flow", what, a.v.saddr, a.v.sport, a.v.daddr, a.v.dport);
	CHECK_EQ(a.v.flags, F_SYN);
	CHECK_EQ(a.v.seq, CK_ISN);
	CHECK_EQ(a.doff, 6);
	CHECK_EQ(a.mss, 1460);
	CHECK_EQ(a.win, 64240);
	CHECK_EQ(a.len, 0);
	CHECK(f.flags & PGS_FLOW_F_COOKIE, "%s: flow not marked as a cookie flow", what);
	CHECK_EQ(f.state, PGS_FLOW_SYN_SENT);
	return f;
}

/* A fresh table, cookies always on, and a cookie flow of client port cport opened through its
 * handshake: the flow (our SYN sent, the backend not answered yet); the cookie in *c. */
static struct pgs_flow ck_open(uint16_t cport, uint32_t *c)
{
	reset();
	set_cookies(PGS_COOKIES_ALWAYS, 0);
	*c = ck_syn(CLIENT, cport, "SYN");
	return ck_ack(cport, *c, "cookie ACK");
}

/* ck_open, and the backend's SYN-ACK (ISN SRV_ISN) through: the flow as it is then. */
static struct pgs_flow ck_answered(uint16_t cport, uint32_t *c)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f = ck_open(cport, c);

	run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 0, 0));
	flow_get(cport, &f);
	return f;
}

/* One segment through a cookie flow: what leaves must carry want_seq/want_ack, same flags and length. */
static void ck_pass(const struct pgs_flow *f, uint16_t cport, int from_client, uint8_t flags, uint32_t seq, uint32_t ack,
		    uint16_t payload, uint32_t want_seq, uint32_t want_ack, const char *what)
{
	uint8_t in[PKT_MAX];
	size_t len = from_client ? seg(in, CLIENT, cport, VIP, VPORT, flags, seq, ack, payload, 0, 1) :
				   seg(in, ntohl(f->backend), ntohs(f->bport), VIP, ntohs(f->sport), flags, seq, ack, payload, 0, 0);
	enum outcome o = run(in, len);
	struct ck_out a;

	EXPECT_OUTCOME(o, O_TX, what);
	if (o != O_TX)
		return;
	a = ck_view(what);
	if (from_client)
		CHECK(a.v.daddr == ntohl(f->backend) && a.v.sport == ntohs(f->sport), "%s: not toward the backend", what);
	else
		CHECK(a.v.daddr == CLIENT && a.v.dport == cport && a.v.sport == VPORT, "%s: not toward the client", what);
	CHECK(a.v.flags == flags, "%s: flags %02x, sent %02x", what, a.v.flags, flags);
	CHECK(a.v.seq == want_seq, "%s: seq %u, expected %u", what, a.v.seq, want_seq);
	CHECK(a.v.ack == want_ack, "%s: ack %u, expected %u", what, a.v.ack, want_ack);
	CHECK_EQ(a.len, payload);
}

static void cookie_synack_no_state(void)
{
	uint32_t c;

	reset();
	set_cookies(PGS_COOKIES_ALWAYS, 0);
	c = ck_syn(CLIENT, 50001, "SYN");
	CHECK_EQ(verdict(PGS_R_COOKIE_SENT), 1);
	CHECK_EQ(svc_verdict(PGS_R_COOKIE_SENT), 1);
	CHECK_EQ(count_entries(M.flows, sizeof(struct pgs_flow_key)), 0);
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 0);
	CHECK(c == ck_syn(CLIENT, 50001, "SYN retransmitted"), "the same SYN got another cookie");
	CHECK(c != ck_syn(CLIENT, 50002, "SYN from another port"), "another client port got the same cookie");
	CHECK_EQ(total_opened(), 0);
}

/* A whole session through a cookie handshake: every seq and ack translated, retransmissions
 * alike, FIN both ways, then a server RST on the reused port's next session. */
static void cookie_session_translated(void)
{
	uint32_t c;
	struct pgs_flow f;
	uint8_t in[PKT_MAX];
	struct ck_out a;
	enum outcome o;

	f = ck_open(50010, &c);
	CHECK_EQ(verdict(PGS_R_COOKIE_VALID), 1);
	CHECK_EQ(svc_verdict(PGS_R_COOKIE_VALID), 1);
	CHECK_EQ(svc_verdict(PGS_R_DROP_COOKIE_INVALID), 0);
	CHECK_EQ(total_opened(), 0);
	/* A client segment before the backend answered: our SYN once more, its data gone. */
	o = run(in, seg(in, CLIENT, 50010, VIP, VPORT, F_ACK | F_PSH, CK_ISN + 1, c + 1, 30, 0, 1));
	if (cur == P_TC) {
		/* TC cannot sum the data out of a CHECKSUM_PARTIAL skb: dropped, the client resends it. */
		EXPECT_OUTCOME(o, O_DROP, "early data");
		CHECK_EQ(verdict(PGS_R_DROP_COOKIE_EARLY), 1);
	} else {
		EXPECT_OUTCOME(o, O_TX, "early data");
		if (o == O_TX) {
			a = ck_view("early data");
			CHECK(a.v.flags == F_SYN && a.v.seq == CK_ISN && a.len == 0, "early data left as flags %02x seq %u len %u",
			      a.v.flags, a.v.seq, a.len);
		}
		CHECK_EQ(verdict(PGS_R_COOKIE_SYN_RETX), 1);
	}
	/* A bare segment (a zero-window probe) is our SYN again in both. */
	o = run(in, seg(in, CLIENT, 50010, VIP, VPORT, F_ACK, CK_ISN, c + 1, 0, 0, 1));
	EXPECT_OUTCOME(o, O_TX, "window probe");
	if (o == O_TX) {
		a = ck_view("window probe");
		CHECK(a.v.flags == F_SYN && a.v.seq == CK_ISN && a.mss == 1460, "probe left as flags %02x seq %u mss %u",
		      a.v.flags, a.v.seq, a.mss);
	}

	/* The backend's SYN-ACK: an ACK opening the client's window, in the client's numbers. */
	o = run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 4, 0));
	EXPECT_OUTCOME(o, O_TX, "backend SYN-ACK");
	if (o == O_TX) {
		a = ck_view("backend SYN-ACK");
		CHECK(a.v.daddr == CLIENT && a.v.dport == 50010, "backend SYN-ACK not toward the client");
		CHECK_EQ(a.v.flags, F_ACK);
		CHECK_EQ(a.v.seq, c + 1);
		CHECK_EQ(a.v.ack, CK_ISN + 1);
		CHECK_EQ(a.win, 64240);
		CHECK_EQ(a.doff, 5);
	}
	CHECK_EQ(state_of(50010), PGS_FLOW_SYN_RECV);
	CHECK_EQ(total_opened(), 1);
	flow_get(50010, &f);
	CHECK(f.flags & PGS_FLOW_F_SEQ_SERVER, "no sequence translation after the backend answered");
	CHECK_EQ(f.isn[1], SRV_ISN);
	CHECK_EQ(f.cookie_isn, c);

	ck_pass(&f, 50010, 1, F_ACK | F_PSH, CK_ISN + 1, c + 1, 100, CK_ISN + 1, SRV_ISN + 1, "client data");
	CHECK_EQ(state_of(50010), PGS_FLOW_ESTABLISHED);
	ck_pass(&f, 50010, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, c + 1, CK_ISN + 101, "server data");
	ck_pass(&f, 50010, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, c + 1, CK_ISN + 101, "server data again");
	ck_pass(&f, 50010, 1, F_ACK, CK_ISN + 101, c + 51, 0, CK_ISN + 101, SRV_ISN + 51, "client ACK");
	ck_pass(&f, 50010, 1, F_ACK, CK_ISN + 101, c + 51, 0, CK_ISN + 101, SRV_ISN + 51, "client ACK again");
	ck_pass(&f, 50010, 1, F_FIN | F_ACK, CK_ISN + 101, c + 51, 0, CK_ISN + 101, SRV_ISN + 51, "client FIN");
	ck_pass(&f, 50010, 0, F_FIN | F_ACK, SRV_ISN + 51, CK_ISN + 102, 0, c + 51, CK_ISN + 102, "server FIN");
	CHECK_EQ(state_of(50010), PGS_FLOW_CLOSED);
	ck_pass(&f, 50010, 1, F_ACK, CK_ISN + 102, c + 52, 0, CK_ISN + 102, SRV_ISN + 52, "last ACK");
	CHECK_EQ(total_closed(), 1);

	/* A second session: the server resets it, in the client's numbers. */
	c = ck_syn(CLIENT, 50011, "second SYN");
	f = ck_ack(50011, c, "second cookie ACK");
	run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 0, 0));
	flow_get(50011, &f);
	ck_pass(&f, 50011, 0, F_RST | F_ACK, SRV_ISN + 1, CK_ISN + 1, 0, c + 1, CK_ISN + 1, "server RST");
	CHECK_EQ(state_of(50011), PGS_FLOW_CLOSED);
	CHECK_EQ(total_opened() - total_closed(), 0);
}

/* The server never answers a cookie flow's SYN: within the half-open timeout (connect_ms, from
 * timeout syn) the client's zero-window probes send our SYN again; past it, the next one is
 * answered with an RST in the client's numbers (its ACK of our cookie), the flow closes and nothing
 * stays counted. A flow that got its SYN-ACK is never given up this way. */
static void cookie_connect_timeout(void)
{
	struct pgs_svc_key k = { .vip = htonl(VIP), .port = htons(VPORT) };
	struct pgs_flow_key fk = { .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(50070), .vport = htons(VPORT) };
	uint8_t in[PKT_MAX];
	struct pgs_svc v;
	struct pgs_flow f;
	struct ck_out a;
	enum outcome o;
	uint32_t c;

	f = ck_open(50070, &c);
	bpf_map_lookup_elem(M.services, &k, &v);
	v.connect_ms = 30000;
	bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
	o = run(in, seg(in, CLIENT, 50070, VIP, VPORT, F_ACK, CK_ISN, c + 1, 0, 0, 1));
	EXPECT_OUTCOME(o, O_TX, "probe within the timeout");
	CHECK(o != O_TX || ck_view("probe within the timeout").v.flags == F_SYN, "a young flow's probe was not our SYN again");
	CHECK_EQ(verdict(PGS_R_COOKIE_CONNECT_TIMEOUT), 0);

	flow_get(50070, &f);
	f.created_ns -= 31ull * 1000000000;
	bpf_map_update_elem(M.flows, &fk, &f, BPF_EXIST);
	o = run(in, seg(in, CLIENT, 50070, VIP, VPORT, F_ACK, CK_ISN, c + 1, 0, 0, 1));
	EXPECT_OUTCOME(o, O_TX, "probe past the timeout");
	if (o == O_TX) {
		a = ck_view("probe past the timeout");
		CHECK(a.v.saddr == VIP && a.v.sport == VPORT && a.v.daddr == CLIENT && a.v.dport == 50070,
		      "RST %08x:%u -> %08x:%u, not back to the client", a.v.saddr, a.v.sport, a.v.daddr, a.v.dport);
		CHECK(a.v.flags & F_RST, "flags %02x, no RST", a.v.flags);
		CHECK_EQ(a.v.seq, c + 1);
	}
	CHECK_EQ(verdict(PGS_R_COOKIE_CONNECT_TIMEOUT), 1);
	CHECK_EQ(verdict(PGS_R_RESET), 0);
	CHECK_EQ(state_of(50070), PGS_FLOW_CLOSED);
	CHECK_EQ(total_opened() - total_closed(), 0);

	/* Answered: an old flow is no longer waiting for anything. */
	f = ck_open(50071, &c);
	bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
	run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 4, 0));
	fk.cport = htons(50071);
	flow_get(50071, &f);
	f.created_ns -= 31ull * 1000000000;
	bpf_map_update_elem(M.flows, &fk, &f, BPF_EXIST);
	ck_pass(&f, 50071, 1, F_ACK, CK_ISN + 1, c + 1, 0, CK_ISN + 1, SRV_ISN + 1, "ACK of an answered old flow");
	CHECK_EQ(verdict(PGS_R_COOKIE_CONNECT_TIMEOUT), 0);
	CHECK_EQ(state_of(50071), PGS_FLOW_ESTABLISHED);
}

/* A cookie flow across a takeover (a new steering epoch: the flow's learnt edges become hints on
 * its next packet, seqhint.h): its sequence translation rests on the backend's ISN, which stays, so
 * an idle session that comes back to this node after a flap goes on in both directions. */
static void cookie_flow_survives_takeover(void)
{
	struct pgs_flow f;
	uint32_t c;

	f = ck_answered(50060, &c);
	ck_pass(&f, 50060, 1, F_ACK | F_PSH, CK_ISN + 1, c + 1, 100, CK_ISN + 1, SRV_ISN + 1, "client data");
	ck_pass(&f, 50060, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, c + 1, CK_ISN + 101, "server data");
	CHECK_EQ(maps_new_epoch(&M), 0);
	/* The client speaks first: its ACK goes out in the backend's numbers, with no edge learnt. */
	ck_pass(&f, 50060, 1, F_ACK | F_PSH, CK_ISN + 101, c + 51, 10, CK_ISN + 101, SRV_ISN + 51, "client data after a takeover");
	flow_get(50060, &f);
	CHECK((f.flags & (PGS_FLOW_F_SEQ_SERVER | PGS_FLOW_F_HINT_SERVER | PGS_FLOW_F_ISN_SERVER)) ==
		      (PGS_FLOW_F_HINT_SERVER | PGS_FLOW_F_ISN_SERVER),
	      "flags %x: the backend's edge not a hint, or its ISN gone", f.flags);
	ck_pass(&f, 50060, 0, F_ACK | F_PSH, SRV_ISN + 51, CK_ISN + 111, 50, c + 51, CK_ISN + 111, "server data after a takeover");
	CHECK_EQ(state_of(50060), PGS_FLOW_ESTABLISHED);
}

static void cookie_forged_acks_dropped(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint32_t c;

	reset();
	set_cookies(PGS_COOKIES_ALWAYS, 0);
	c = ck_syn(CLIENT, 50020, "SYN");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50020, VIP, VPORT, F_ACK, CK_ISN + 1, c + 2, 0, 0, 1)), O_DROP, "ACK of cookie + 1");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50020, VIP, VPORT, F_ACK, CK_ISN + 7, c + 1, 0, 0, 1)), O_DROP, "ACK with another ISN");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50021, VIP, VPORT, F_ACK, CK_ISN + 1, c + 1, 0, 0, 1)), O_DROP, "ACK from another port");
	CHECK_EQ(verdict(PGS_R_DROP_COOKIE_INVALID), 3);
	CHECK_EQ(svc_verdict(PGS_R_DROP_COOKIE_INVALID), 3);
	CHECK_EQ(svc_verdict(PGS_R_COOKIE_VALID), 0);
	CHECK_EQ(count_entries(M.flows, sizeof(struct pgs_flow_key)), 0);
	/* A backend SYN-ACK that does not acknowledge our SYN is no answer. */
	f = ck_ack(50020, c, "cookie ACK");
	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 9,
				   0, 0, 0)),
		       O_DROP, "forged backend SYN-ACK");
	CHECK_EQ(state_of(50020), PGS_FLOW_SYN_SENT);
	CHECK_EQ(total_opened(), 0);
	/* Cookies never used: an unknown ACK goes to the stack as before (its RST ends a lost session). */
	reset();
	set_cookies(PGS_COOKIES_AUTO, 0);
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50022, VIP, VPORT, F_ACK, 5, 6, 0, 0, 1)), O_PASS, "unknown ACK, no cookies");
	CHECK_EQ(verdict(PGS_R_PASS_NO_FLOW), 1);
}

/* The flow's sequence checks on a cookie flow, each side in its own numbers: the backend's RST in
 * the client's (cookie) numbers, or a client FIN far from its edge, is forwarded and ends nothing
 * (fwd_suspect); the honest ones next to them end the session as usual. */
static void cookie_forged_rst_fin_out_of_window(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint32_t c;

	f = ck_answered(50030, &c);
	ck_pass(&f, 50030, 1, F_ACK | F_PSH, CK_ISN + 1, c + 1, 20, CK_ISN + 1, SRV_ISN + 1, "client data");
	CHECK_EQ(state_of(50030), PGS_FLOW_ESTABLISHED);

	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_RST | F_ACK, c + 1,
				   CK_ISN + 21, 0, 0, 0)),
		       O_TX, "backend RST in the client's numbers");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50030, VIP, VPORT, F_FIN | F_ACK, CK_ISN + 0x40000000, c + 1, 0, 0, 1)), O_TX,
		       "client FIN far from its edge");
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 2);
	CHECK_EQ(state_of(50030), PGS_FLOW_ESTABLISHED);
	CHECK_EQ(total_opened() - total_closed(), 1);

	ck_pass(&f, 50030, 0, F_FIN | F_ACK, SRV_ISN + 1, CK_ISN + 21, 0, c + 1, CK_ISN + 21, "backend FIN");
	CHECK_EQ(state_of(50030), PGS_FLOW_FIN_WAIT);
	ck_pass(&f, 50030, 1, F_RST | F_ACK, CK_ISN + 21, c + 2, 0, CK_ISN + 21, SRV_ISN + 2, "client RST");
	CHECK_EQ(state_of(50030), PGS_FLOW_CLOSED);
	CHECK_EQ(total_opened() - total_closed(), 0);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 2);
	/* The closed flow's last ACK carries no cookie: it goes along the flow, no invalid cookie. */
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50030, VIP, VPORT, F_ACK, CK_ISN + 22, c + 2, 0, 0, 1)), O_TX,
		       "last ACK of the closed flow");
	CHECK_EQ(verdict(PGS_R_DROP_COOKIE_INVALID), 0);
	CHECK_EQ(svc_verdict(PGS_R_DROP_COOKIE_INVALID), 0);
}

/* The backend refuses a cookie flow's SYN (its port closed): the client, whose handshake was with
 * the datapath and who sends no SYN again, gets a clean RST in its own numbers (the next sequence
 * number it expects), counted as cookie_refused, and the server leaves selection. A forged refusal
 * that does not acknowledge our SYN is forwarded untouched and ends nothing. */
static void cookie_backend_refuses(void)
{
	uint8_t in[PKT_MAX];
	uint64_t passive = 0;
	struct pgs_flow f;
	struct ck_out a;
	uint32_t c;

	f = ck_open(50040, &c);
	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_RST | F_ACK, 0, CK_ISN + 7, 0, 0, 0)),
		       O_TX, "forged refusal");
	a = ck_view("forged refusal");
	CHECK(a.v.flags == (F_RST | F_ACK) && a.v.seq == 0, "forged refusal reshaped: flags %02x seq %u", a.v.flags, a.v.seq);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 1);
	CHECK_EQ(verdict(PGS_R_COOKIE_REFUSED), 0);
	CHECK_EQ(state_of(50040), PGS_FLOW_SYN_SENT);
	bpf_map_lookup_elem(M.passive, &f.slot, &passive);
	CHECK_EQ(passive, 0);

	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_RST | F_ACK, 0, CK_ISN + 1, 0, 0, 0)),
		       O_TX, "refusal");
	a = ck_view("refusal");
	CHECK(a.v.saddr == VIP && a.v.daddr == CLIENT && a.v.sport == VPORT && a.v.dport == 50040,
	      "RST %08x:%u -> %08x:%u, not to the client", a.v.saddr, a.v.sport, a.v.daddr, a.v.dport);
	CHECK_EQ(a.v.flags, F_RST);
	CHECK_EQ(a.v.seq, c + 1);
	CHECK_EQ(a.v.ack, 0);
	CHECK_EQ(a.doff, 5);
	CHECK_EQ(a.len, 0);
	CHECK_EQ(verdict(PGS_R_COOKIE_REFUSED), 1);
	CHECK_EQ(state_of(50040), PGS_FLOW_CLOSED);
	bpf_map_lookup_elem(M.passive, &f.slot, &passive);
	CHECK(passive != 0, "the refusing server must leave selection at once");
	CHECK_EQ(total_opened() - total_closed(), 0);
	/* The client connects again from the same port: a cookie, then a flow to another server. */
	c = ck_syn(CLIENT, 50040, "SYN again");
	{
		struct pgs_flow g = ck_ack(50040, c, "cookie ACK again");

		CHECK(g.slot != f.slot && g.state == PGS_FLOW_SYN_SENT, "the new flow went to slot %u (refused: %u), state %u",
		      g.slot, f.slot, g.state);
	}
}

/* Our SYN meets an older connection of the SNAT port on the backend (its TIME_WAIT, which took the
 * client's ISN as old), and the backend acknowledges that one. The datapath answers as the client's
 * TCP would in SYN_SENT: an RST back to the backend at that ACK (which ends the TIME_WAIT), the
 * client sees nothing, the flow is unchanged; the client's next segment is our SYN again, and the
 * SYN-ACK then opens the client's window. A forged ACK gets the same RST (no more than one retry)
 * and moves nothing; an ACK of our SYN without SYN, or one with data, is no such answer. */
static void cookie_backend_time_wait(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f, g;
	struct ck_out a;
	enum outcome o;
	uint32_t c;

	f = ck_open(50050, &c);
	o = run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_ACK, 424242, 3000000007u, 0, 0, 0));
	EXPECT_OUTCOME(o, O_TX, "old connection's ACK");
	if (o == O_TX) {
		a = ck_view("old connection's ACK");
		CHECK(a.v.saddr == VIP && a.v.sport == ntohs(f.sport) && a.v.daddr == ntohl(f.backend) &&
			      a.v.dport == ntohs(f.bport),
		      "RST %08x:%u -> %08x:%u, not back to the backend", a.v.saddr, a.v.sport, a.v.daddr, a.v.dport);
		CHECK(!memcmp(a.v.dmac, MAC_BACKEND, 6) && !memcmp(a.v.smac, MAC_LB, 6), "MACs not swapped");
		CHECK_EQ(a.v.flags, F_RST);
		CHECK_EQ(a.v.seq, 3000000007u);
		CHECK_EQ(a.v.ack, 0);
		CHECK_EQ(a.doff, 5);
		CHECK_EQ(a.len, 0);
	}
	CHECK_EQ(verdict(PGS_R_COOKIE_BACKEND_RESET), 1);
	CHECK_EQ(verdict(PGS_R_REV), 0);
	CHECK(flow_get(50050, &g) && g.state == PGS_FLOW_SYN_SENT && g.flags == f.flags && g.nxt[0] == f.nxt[0] &&
		      g.nxt[1] == f.nxt[1] && g.sport == f.sport,
	      "the ACK moved the flow: state %u flags %x", g.state, g.flags);
	/* Not an old connection's answer: it acknowledges our SYN, or it carries data. */
	o = run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_ACK, 424242, CK_ISN + 1, 0, 0, 0));
	CHECK(o != O_TX || ck_view("ACK of our SYN").v.flags != F_RST, "an ACK of our SYN was answered with an RST");
	o = run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_ACK | F_PSH, 424242, 3000000007u, 10, 0, 0));
	CHECK(o != O_TX || ck_view("data").v.flags != F_RST, "a data segment was answered with an RST");
	CHECK_EQ(verdict(PGS_R_COOKIE_BACKEND_RESET), 1);
	CHECK_EQ(state_of(50050), PGS_FLOW_SYN_SENT);
	/* The client's zero-window probe: our SYN again; the backend's SYN-ACK opens the window. */
	o = run(in, seg(in, CLIENT, 50050, VIP, VPORT, F_ACK, CK_ISN, c + 1, 0, 0, 1));
	EXPECT_OUTCOME(o, O_TX, "window probe");
	if (o == O_TX) {
		a = ck_view("window probe");
		CHECK(a.v.flags == F_SYN && a.v.seq == CK_ISN && a.v.daddr == ntohl(f.backend), "probe left as flags %02x seq %u",
		      a.v.flags, a.v.seq);
	}
	o = run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 4, 0));
	EXPECT_OUTCOME(o, O_TX, "SYN-ACK");
	if (o == O_TX) {
		a = ck_view("SYN-ACK");
		CHECK(a.v.daddr == CLIENT && a.v.dport == 50050 && a.v.flags == F_ACK && a.v.seq == c + 1 && a.v.ack == CK_ISN + 1 &&
			      a.win > 0,
		      "window update flags %02x seq %u ack %u win %u", a.v.flags, a.v.seq, a.v.ack, a.win);
	}
	CHECK_EQ(state_of(50050), PGS_FLOW_SYN_RECV);
}

/* RFC 5961 on a cookie flow: the client acknowledges in our cookie's numbers, so its ACK is
 * translated before it is checked (FIN) or kept (what a backend RST must match exactly). Forged
 * next to honest: a client FIN acknowledging more than the backend sent or far less, an RST one
 * off its sender's edge, a backend RST in the client's numbers are forwarded and end nothing; the
 * backend's RST at exactly what the client last acknowledged (the answer to a challenge ACK after
 * losses past pgsteer) ends the flow, and so does an honest FIN exchange. */
static void cookie_rst_fin_exact(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint64_t n = 0;
	uint32_t c, c2;

	f = ck_answered(50040, &c);
	ck_pass(&f, 50040, 1, F_ACK | F_PSH, CK_ISN + 1, c + 1, 20, CK_ISN + 1, SRV_ISN + 1, "client data");
	ck_pass(&f, 50040, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 21, 30, c + 1, CK_ISN + 21, "server data, lost after pgsteer");
	flow_get(50040, &f);
	CHECK_EQ(f.state, PGS_FLOW_ESTABLISHED);
	CHECK(f.nxt[0] == CK_ISN + 21 && f.nxt[1] == SRV_ISN + 31, "edges %u/%u, want %u/%u", f.nxt[0], f.nxt[1], CK_ISN + 21,
	      SRV_ISN + 31);
	CHECK((f.flags & PGS_FLOW_F_ACK_CLIENT) && f.ack[0] == SRV_ISN + 1, "client ACK kept as %u, want the backend's %u",
	      f.ack[0], SRV_ISN + 1);

	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50040, VIP, VPORT, F_FIN | F_ACK, CK_ISN + 21, c + 32, 0, 0, 1)), O_TX,
		       "client FIN acknowledging unsent data");
	forwarded_untouched(&f, 50040, 1, ++n, "client FIN acknowledging one byte the backend never sent");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50040, VIP, VPORT, F_FIN | F_ACK, CK_ISN + 21, c + 31 - PGS_ACK_WINDOW - 1, 0, 0, 1)),
		       O_TX, "client FIN, ACK far behind");
	forwarded_untouched(&f, 50040, 1, ++n, "client FIN with an ACK far behind");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50040, VIP, VPORT, F_RST, CK_ISN + 20, 0, 0, 0, 1)), O_TX, "client RST one below");
	forwarded_untouched(&f, 50040, 1, ++n, "client RST one below its edge");
	EXPECT_OUTCOME(run(in, seg(in, CLIENT, 50040, VIP, VPORT, F_RST, CK_ISN + 22, 0, 0, 0, 1)), O_TX, "client RST one above");
	forwarded_untouched(&f, 50040, 1, ++n, "client RST one above its edge");
	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_RST, SRV_ISN + 30, 0, 0, 0, 0)),
		       O_TX, "backend RST one below");
	forwarded_untouched(&f, 50040, 0, ++n, "backend RST one below its edge");
	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_RST, c + 1, 0, 0, 0, 0)), O_TX,
		       "backend RST at the client's ACK untranslated");
	forwarded_untouched(&f, 50040, 0, ++n, "backend RST in the client's numbers");

	/* Honest: the client's challenge ACK (c + 1 again) named SRV_ISN + 1; the RST there ends it. */
	ck_pass(&f, 50040, 1, F_ACK, CK_ISN + 21, c + 1, 0, CK_ISN + 21, SRV_ISN + 1, "the client's challenge ACK");
	ck_pass(&f, 50040, 0, F_RST, SRV_ISN + 1, 0, 0, c + 1, 0, "backend RST answering the challenge");
	CHECK_EQ(state_of(50040), PGS_FLOW_CLOSED);
	CHECK_EQ(total_opened() - total_closed(), 0);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), n);

	/* Honest: a FIN acknowledging all the backend sent, in the client's numbers. */
	c2 = ck_syn(CLIENT, 50041, "second SYN");
	f = ck_ack(50041, c2, "second cookie ACK");
	run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN, CK_ISN + 1, 0, 0, 0));
	flow_get(50041, &f);
	ck_pass(&f, 50041, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 1, 30, c2 + 1, CK_ISN + 1, "server data");
	ck_pass(&f, 50041, 1, F_FIN | F_ACK, CK_ISN + 1, c2 + 31, 0, CK_ISN + 1, SRV_ISN + 31, "client FIN");
	CHECK_EQ(state_of(50041), PGS_FLOW_FIN_WAIT);
	ck_pass(&f, 50041, 0, F_FIN | F_ACK, SRV_ISN + 31, CK_ISN + 2, 0, c2 + 31, CK_ISN + 2, "server FIN");
	CHECK_EQ(state_of(50041), PGS_FLOW_CLOSED);
	CHECK_EQ(total_opened() - total_closed(), 0);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), n);
}

/* Spoofed SYNs from random sources, then legitimate clients. Without cookies the half-open flows
 * hold the SNAT ports and the table; with auto cookies every legitimate client gets through. */
static void cookie_flood_auto(void)
{
	uint8_t in[PKT_MAX];
	uint32_t i, ok = 0, dropped = 0, c;
	const uint32_t spoofed = 2000, legit = 30;
	struct pgs_flow f;

	for (i = 0; i < 2; i++) {
		uint32_t mode = i ? PGS_COOKIES_AUTO : PGS_COOKIES_OFF, n;

		reset();
		set_cookies(mode, 8);
		srand(15);
		for (n = 0; n < spoofed; n++)
			run(in, seg(in, IP(172, 16, 0, 0) | (uint32_t)(rand() & 0xffff), (uint16_t)(1024 + rand() % 60000), VIP, VPORT,
				    F_SYN, (uint32_t)rand(), 0, 0, 4, 1));
		ok = dropped = 0;
		for (n = 0; n < legit; n++) {
			uint16_t cport = (uint16_t)(51000 + n);

			if (mode == PGS_COOKIES_OFF) {
				enum outcome o = run(in, seg(in, CLIENT, cport, VIP, VPORT, F_SYN, CK_ISN, 0, 0, 4, 1));

				ok += o == O_TX && flow_get(cport, &f);
				dropped += o == O_DROP;
				continue;
			}
			c = ck_syn(CLIENT, cport, "legitimate SYN during the flood");
			f = ck_ack(cport, c, "legitimate cookie ACK during the flood");
			ok += (f.flags & PGS_FLOW_F_COOKIE) && f.state == PGS_FLOW_SYN_SENT;
		}
		if (mode == PGS_COOKIES_OFF) {
			CHECK(dropped > 0, "without cookies no legitimate SYN was dropped after %u spoofed ones: the case proves nothing",
			      spoofed);
			printf("     %s: cookies off: %u of %u legitimate SYNs dropped after %u spoofed\n", h_case, dropped, legit, spoofed);
		} else {
			CHECK(ok == legit, "auto cookies: %u of %u legitimate clients got their backend SYN", ok, legit);
			CHECK(verdict(PGS_R_COOKIE_SENT) >= spoofed - 8 - legit, "only %llu cookies for %u spoofed SYNs",
			      (unsigned long long)verdict(PGS_R_COOKIE_SENT), spoofed);
			CHECK(count_entries(M.flows, sizeof(struct pgs_flow_key)) <= 8 + 4 + legit,
			      "%llu flows: the spoofed SYNs kept taking state",
			      (unsigned long long)count_entries(M.flows, sizeof(struct pgs_flow_key)));
		}
	}
}

/* The path-MTU cases of the datapath table (bpf/lib/icmp.h): ICMP errors about steered flows
 * translated both ways, forged ones left alone, fragmentation-needed for a datagram too big for its
 * route, the MSS of SYN and SYN-ACK clamped. Included by bpf_datapath.c, whose helpers they use;
 * every checksum is verified by full recompute, the quoted TCP checksum too when the whole segment
 * is quoted. */
#ifndef PGS_CASES_ICMP_H
#define PGS_CASES_ICMP_H

#define ROUTER IP(10, 9, 0, 7) /* a router on the path: sends errors, never receives */
#define ICMP_UNREACH 3
#define ICMP_TIMXCEED 11
#define ICMP_CODE_HOST 1
#define ICMP_CODE_FRAG 4

typedef struct {
	uint8_t type, code;
	uint16_t check, unused, mtu;
} __attribute__((packed, aligned(1))) pkt_icmphdr;

/* An ICMP error frame quoting the first quote bytes of an IP datagram (inner: the frame it came
 * in, from its Ethernet header). Every checksum computed from scratch. */
static size_t icmp_build(uint8_t *buf, const uint8_t *smac, const uint8_t *dmac, uint32_t saddr, uint32_t daddr,
			 uint8_t type, uint8_t code, uint16_t mtu, const uint8_t *inner, size_t quote)
{
	pkt_ethhdr *eth = (pkt_ethhdr *)buf;
	pkt_iphdr *ip = (pkt_iphdr *)(eth + 1);
	pkt_icmphdr *ic = (pkt_icmphdr *)(ip + 1);
	size_t ilen = sizeof(*ic) + quote;

	memset(buf, 0, PKT_MAX);
	memcpy(eth->h_dest, dmac, 6);
	memcpy(eth->h_source, smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + ilen));
	ip->ttl = 64;
	ip->protocol = IPPROTO_ICMP;
	ip->saddr = htonl(saddr);
	ip->daddr = htonl(daddr);
	ip->check = htons(ip_csum(ip));
	ic->type = type;
	ic->code = code;
	ic->mtu = htons(mtu);
	memcpy(ic + 1, inner + sizeof(struct ethhdr), quote);
	ic->check = htons(csum_finish(csum_add_bytes(0, ic, ilen)));
	return sizeof(*eth) + sizeof(*ip) + ilen;
}

/* The errors the datapath makes carry TOS 0xc0 (internetwork control), as Linux's do. */
static void icmp_tos_control(uint8_t *buf)
{
	pkt_iphdr *ip = (pkt_iphdr *)(buf + sizeof(struct ethhdr));

	ip->tos = 0xc0;
	ip->check = 0;
	ip->check = htons(ip_csum(ip));
}

/* 1 when an ICMP error frame's checksums verify by full recompute: outer IP, ICMP, the quoted IP
 * header, and the quoted TCP segment when it is quoted whole. */
static int icmp_csums_ok(const uint8_t *buf, size_t len, const char *what)
{
	const pkt_iphdr *ip = (const pkt_iphdr *)(buf + sizeof(struct ethhdr));
	const uint8_t *ic = (const uint8_t *)ip + ip->ihl * 4u;
	size_t ilen = ntohs(ip->tot_len) - ip->ihl * 4u;
	const pkt_iphdr *in = (const pkt_iphdr *)(ic + sizeof(pkt_icmphdr));
	size_t quoted = ilen - sizeof(pkt_icmphdr);
	int ok = 1;

	if (len < sizeof(struct ethhdr) + ntohs(ip->tot_len) || quoted < in->ihl * 4u + 8) {
		CHECK(0, "%s: ICMP frame too short (%zu)", what, len);
		return 0;
	}
	if (ip_csum(ip)) {
		CHECK(0, "%s: outer IP checksum wrong", what);
		ok = 0;
	}
	if (csum_finish(csum_add_bytes(0, ic, ilen))) {
		CHECK(0, "%s: ICMP checksum wrong", what);
		ok = 0;
	}
	if (ip_csum(in)) {
		CHECK(0, "%s: quoted IP header checksum wrong", what);
		ok = 0;
	}
	if (quoted >= ntohs(in->tot_len) && tcp_csum(in, (const uint8_t *)in + in->ihl * 4u, ntohs(in->tot_len) - in->ihl * 4u)) {
		CHECK(0, "%s: quoted TCP checksum wrong", what);
		ok = 0;
	}
	return ok;
}

/* A segment of flow cport as it left us toward the client (VIP:port -> client). */
static size_t sent_to_client(uint8_t *buf, uint16_t cport, uint16_t payload)
{
	return expect_rev(buf, cport, F_ACK | F_PSH, payload);
}

/* The same segment as the backend sent it (backend -> VIP:SNAT port). */
static size_t sent_by_backend(uint8_t *buf, const struct pgs_flow *f, uint16_t payload)
{
	return backend_pkt(buf, f, F_ACK | F_PSH, payload);
}

/* What a packet must leave untouched: the flow, the counts. */
struct icmp_snapshot {
	struct pgs_flow f;
	uint64_t opened, closed, flows, rflows;
};

static struct icmp_snapshot snapshot(uint16_t cport)
{
	struct icmp_snapshot s = { .opened = total_opened(), .closed = total_closed() };

	flow_get(cport, &s.f);
	s.flows = count_entries(M.flows, sizeof(struct pgs_flow_key));
	s.rflows = count_entries(M.rflows, sizeof(struct pgs_rflow_key));
	return s;
}

static void same_state(const struct icmp_snapshot *a, uint16_t cport, const char *what)
{
	struct icmp_snapshot b = snapshot(cport);

	CHECK(a->f.state == b.f.state && a->f.flags == b.f.flags && a->f.slot == b.f.slot && a->f.sport == b.f.sport,
	      "%s: the flow changed (state %u->%u flags %x->%x)", what, a->f.state, b.f.state, a->f.flags, b.f.flags);
	CHECK(a->opened == b.opened && a->closed == b.closed, "%s: counts moved (opened %llu->%llu closed %llu->%llu)",
	      what, (unsigned long long)a->opened, (unsigned long long)b.opened, (unsigned long long)a->closed,
	      (unsigned long long)b.closed);
	CHECK(a->flows == b.flows && a->rflows == b.rflows, "%s: entries %llu/%llu -> %llu/%llu", what,
	      (unsigned long long)a->flows, (unsigned long long)a->rflows, (unsigned long long)b.flows,
	      (unsigned long long)b.rflows);
}

/* A router between us and the client cannot forward our 1500-byte reply: its frag-needed reaches
 * the backend, about the segment the backend sent, so the backend's path MTU drops. Quoted whole
 * (Linux quotes up to 576 bytes), then cut to the 8 bytes RFC 792 guarantees. */
static void icmp_from_client_side_reaches_backend(void)
{
	uint8_t seg[PKT_MAX], in[PKT_MAX], want_seg[PKT_MAX], want[PKT_MAX];
	size_t seglen, quote, len, wlen;
	struct icmp_snapshot s;
	struct pgs_flow f;
	enum outcome o;
	int cut;

	reset();
	f = established(40201);
	seglen = sent_to_client(seg, 40201, 60);
	sent_by_backend(want_seg, &f, 60);
	for (cut = 0; cut < 2; cut++) {
		quote = cut ? 20 + 8 : seglen - sizeof(struct ethhdr);
		s = snapshot(40201);
		len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 1400, seg, quote);
		o = run(in, len);
		EXPECT_OUTCOME(o, O_TX, cut ? "frag-needed quoting 8 bytes" : "frag-needed quoting the whole segment");
		wlen = icmp_build(want, MAC_LB, MAC_BACKEND, VIP, BACKEND, ICMP_UNREACH, ICMP_CODE_FRAG, 1400, want_seg, quote);
		if (o != O_TX)
			continue;
		icmp_csums_ok(out, out_len, "translated toward the backend");
		CHECK(out_len == wlen && !memcmp(out, want, wlen),
		      "the error must quote the backend's own segment, from the VIP to the backend (quote %zu)", quote);
		same_state(&s, 40201, "an ICMP error");
	}
	CHECK_EQ(verdict(PGS_R_ICMP_FWD), 2);
}

/* A router between us and the backend reports our SYN's TTL exhausted, or the host unreachable:
 * the client hears it, about the segment it sent to the VIP. */
static void icmp_from_backend_side_reaches_client(void)
{
	static const struct {
		uint8_t type, code;
	} kinds[] = { { ICMP_TIMXCEED, 0 }, { ICMP_UNREACH, ICMP_CODE_HOST } };
	uint8_t seg[PKT_MAX], in[PKT_MAX], want_seg[PKT_MAX], want[PKT_MAX];
	struct pgs_flow f;
	struct icmp_snapshot s;
	size_t seglen, len, wlen;
	enum outcome o;
	size_t i;

	reset();
	f = fwd(40202, F_SYN, 0, "SYN");
	seglen = expect_fwd(seg, &f, 40202, F_SYN, 0);
	client_pkt(want_seg, 40202, F_SYN, 0);
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		s = snapshot(40202);
		len = icmp_build(in, MAC_BACKEND, MAC_LB, ROUTER, VIP, kinds[i].type, kinds[i].code, 0, seg,
				 seglen - sizeof(struct ethhdr));
		o = run(in, len);
		EXPECT_OUTCOME(o, O_TX, "ICMP error about our SYN to the backend");
		wlen = icmp_build(want, MAC_LB, MAC_CLIENT, VIP, CLIENT, kinds[i].type, kinds[i].code, 0, want_seg,
				  seglen - sizeof(struct ethhdr));
		if (o != O_TX)
			continue;
		icmp_csums_ok(out, out_len, "translated toward the client");
		CHECK(out_len == wlen && !memcmp(out, want, wlen), "the error must quote the client's SYN, from the VIP to the client");
		same_state(&s, 40202, "an ICMP error about a half-open flow");
	}
	CHECK_EQ(verdict(PGS_R_ICMP_FWD), 2);
}

/* Errors nobody may use to reach or change a flow: quoting a tuple of no flow (another client port,
 * another backend port, a SNAT port of no flow) or a sequence number the flow's sender has not in
 * flight (either side): dropped and counted. Quoting a packet the error's destination did not send,
 * and ICMP that is no error: left to the stack untouched. State and counts unchanged. */
static void icmp_forged_changes_nothing(void)
{
	uint8_t seg[PKT_MAX], in[PKT_MAX];
	struct icmp_snapshot s;
	struct pgs_flow f;
	size_t seglen, len;

	reset();
	f = established(40203);
	s = snapshot(40203);

	seglen = sent_to_client(seg, 40299, 0); /* a client port with no flow */
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 576, seg, seglen - 14);
	EXPECT_OUTCOME(run(in, len), O_DROP, "error quoting no flow (client side)");

	seglen = expect_fwd(seg, &f, 40203, F_ACK, 0);
	((pkt_tcphdr *)(seg + 14 + 20))->dest = htons(ntohs(f.bport) + 1); /* another backend port */
	len = icmp_build(in, MAC_BACKEND, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_HOST, 0, seg, 28);
	EXPECT_OUTCOME(run(in, len), O_DROP, "error quoting no flow (backend side)");
	((pkt_tcphdr *)(seg + 14 + 20))->dest = f.bport;
	((pkt_tcphdr *)(seg + 14 + 20))->source = htons(ntohs(f.sport) == SNAT_MIN ? SNAT_MIN + 1 : SNAT_MIN);
	len = icmp_build(in, MAC_BACKEND, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_HOST, 0, seg, 28);
	EXPECT_OUTCOME(run(in, len), O_DROP, "error quoting a SNAT port of no flow");
	CHECK_EQ(verdict(PGS_R_DROP_ICMP_NO_FLOW), 3);

	/* The flow's own tuples, with a sequence number its sender never sent (the honest errors
	 * quote the segment in flight: icmp_from_*_reaches_*). */
	seglen = sent_to_client(seg, 40203, 0);
	((pkt_tcphdr *)(seg + 14 + 20))->seq = htonl(5001 + 1000000);
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 576, seg, 28);
	EXPECT_OUTCOME(run(in, len), O_DROP, "frag-needed quoting the backend's segment, wrong sequence number");
	seglen = expect_fwd(seg, &f, 40203, F_ACK, 0);
	((pkt_tcphdr *)(seg + 14 + 20))->seq = htonl(1001 - 1000000);
	len = icmp_build(in, MAC_BACKEND, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_HOST, 0, seg, 28);
	EXPECT_OUTCOME(run(in, len), O_DROP, "host-unreachable quoting the client's segment, wrong sequence number");
	CHECK_EQ(verdict(PGS_R_DROP_ICMP_SEQ), 2);

	/* A quoted datagram whose source is not the error's destination: not an error about it. */
	seglen = sent_to_client(seg, 40203, 0);
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, IP(10, 9, 0, 1), ICMP_UNREACH, ICMP_CODE_FRAG, 576, seg, seglen - 14);
	EXPECT_OUTCOME(run(in, len), O_PASS, "error to the node quoting a VIP segment");
	CHECK(!memcmp(out, in, len), "untouched");
	/* Echo request to the VIP, and an error about a UDP datagram. */
	len = icmp_build(in, MAC_CLIENT, MAC_LB, CLIENT, VIP, 8, 0, 0, seg, seglen - 14);
	EXPECT_OUTCOME(run(in, len), O_PASS, "echo request");
	seglen = sent_to_client(seg, 40203, 0);
	((pkt_iphdr *)(seg + 14))->protocol = IPPROTO_UDP;
	((pkt_iphdr *)(seg + 14))->check = 0;
	((pkt_iphdr *)(seg + 14))->check = htons(ip_csum((pkt_iphdr *)(seg + 14)));
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 576, seg, 28);
	EXPECT_OUTCOME(run(in, len), O_PASS, "error about UDP");
	CHECK_EQ(verdict(PGS_R_ICMP_FWD), 0);
	same_state(&s, 40203, "forged ICMP errors");

	/* A backup node leaves them to the stack too. */
	set_active(0);
	seglen = sent_to_client(seg, 40203, 0);
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 576, seg, seglen - 14);
	EXPECT_OUTCOME(run(in, len), O_PASS, "error on a backup node");
	CHECK_EQ(verdict(PGS_R_PASS_INACTIVE), 1);
	set_active(1);
	fwd(40203, F_ACK | F_PSH, 10, "the flow still forwards");
}

/* What a device finishing a CHECKSUM_PARTIAL packet does to our frag-needed built from one at TC:
 * the quoted TCP checksum computed over the quoted TCP bytes. The TC program leaves a value there
 * that this computation does not change, so the ICMP checksum holds either way: returns 1 if so.
 * Then want gets that value too (its ICMP checksum recomputed), for the byte comparison. */
static int quote_stable_under_partial(const uint8_t *buf, uint8_t *want)
{
	const pkt_iphdr *in = (const pkt_iphdr *)(buf + sizeof(struct ethhdr) + 20 + sizeof(pkt_icmphdr));
	const pkt_iphdr *outer = (const pkt_iphdr *)(buf + sizeof(struct ethhdr));
	const uint8_t *tcp = (const uint8_t *)in + in->ihl * 4u, *end = (const uint8_t *)outer + ntohs(outer->tot_len);
	pkt_icmphdr *wic = (pkt_icmphdr *)(want + sizeof(struct ethhdr) + 20);
	uint16_t c = csum_finish(csum_add_bytes(0, tcp, (size_t)(end - tcp)));

	if (!c)
		c = 0xffff;
	if (c != (uint16_t)(tcp[16] << 8 | tcp[17]))
		return 0;
	memcpy((uint8_t *)wic + (tcp + 16 - (const uint8_t *)(buf + sizeof(struct ethhdr) + 20)), tcp + 16, 2);
	wic->check = 0;
	wic->check = htons(csum_finish(csum_add_bytes(0, wic, (size_t)(end - (const uint8_t *)(buf + sizeof(struct ethhdr) + 20)))));
	return 1;
}

/* Run a datagram too big for its route (1000 bytes, locked): it must come back as the frag-needed
 * from the VIP to its sender (whose MAC is mac, address addr) quoting 68 bytes of it, every checksum
 * right, and leave the flow of cport as it was. */
static void expect_frag_needed(const uint8_t *in, size_t len, const uint8_t *mac, uint32_t addr, uint16_t cport,
			       const char *what)
{
	uint8_t want[PKT_MAX];
	struct icmp_snapshot s = snapshot(cport);
	enum outcome o = run(in, len);
	size_t wlen;

	same_state(&s, cport, what);
	EXPECT_OUTCOME(o, O_TX, what);
	wlen = icmp_build(want, MAC_LB, mac, VIP, addr, ICMP_UNREACH, ICMP_CODE_FRAG, 1000, in, 68);
	icmp_tos_control(want);
	if (o != O_TX)
		return;
	icmp_csums_ok(out, out_len, what);
	if (cur == P_TC)
		CHECK(quote_stable_under_partial(out, want), "%s: TC: the quoted TCP checksum must survive a device finishing it", what);
	CHECK(out_len == wlen && !memcmp(out, want, wlen), "%s: frag-needed from the VIP quoting 68 bytes", what);
}

/* A cookie flow's client knows the backend's sequence numbers less the cookie's delta: an error
 * about the backend's segment is checked and handed on in the backend's own numbers (its stack
 * ignores an error quoting a sequence number it has not in flight); one quoting the numbers
 * untranslated is dropped. */
static void icmp_about_cookie_flow_in_backend_numbers(void)
{
	uint8_t sent[PKT_MAX], orig[PKT_MAX], in[PKT_MAX], want[PKT_MAX];
	size_t sentlen, len, wlen;
	struct pgs_flow f;
	uint32_t c;
	enum outcome o;

	reset();
	set_cookies(PGS_COOKIES_ALWAYS, 0);
	c = ck_syn(CLIENT, 50020, "SYN");
	f = ck_ack(50020, c, "cookie ACK");
	EXPECT_OUTCOME(run(in, seg(in, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_SYN | F_ACK, SRV_ISN,
				   CK_ISN + 1, 0, 4, 0)),
		       O_TX, "backend SYN-ACK");
	flow_get(50020, &f);
	ck_pass(&f, 50020, 1, F_ACK | F_PSH, CK_ISN + 1, c + 1, 100, CK_ISN + 1, SRV_ISN + 1, "client data");
	ck_pass(&f, 50020, 0, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, c + 1, CK_ISN + 101, "server data");
	memcpy(sent, out, out_len); /* the server's data as it left toward the client, seq c + 1 */
	sentlen = out_len;
	seg(orig, ntohl(f.backend), ntohs(f.bport), VIP, ntohs(f.sport), F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, 0, 0);

	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 1400, sent, sentlen - 14);
	o = run(in, len);
	EXPECT_OUTCOME(o, O_TX, "frag-needed about a cookie flow's server data");
	wlen = icmp_build(want, MAC_LB, MAC_BACKEND, VIP, BACKEND, ICMP_UNREACH, ICMP_CODE_FRAG, 1400, orig, sentlen - 14);
	if (o == O_TX) {
		icmp_csums_ok(out, out_len, "translated toward the backend");
		CHECK(out_len == wlen && !memcmp(out, want, wlen),
		      "the error must quote the backend's segment in its own numbers (seq %u)", SRV_ISN + 1);
	}
	/* The backend's own numbers quoted as if we had sent them so: not what the client saw. */
	seg(sent, VIP, VPORT, CLIENT, 50020, F_ACK | F_PSH, SRV_ISN + 1, CK_ISN + 101, 50, 0, 0);
	len = icmp_build(in, MAC_CLIENT, MAC_LB, ROUTER, VIP, ICMP_UNREACH, ICMP_CODE_FRAG, 1400, sent, 28);
	EXPECT_OUTCOME(run(in, len), O_DROP, "frag-needed quoting untranslated numbers");
	CHECK_EQ(verdict(PGS_R_DROP_ICMP_SEQ), 1);
}

/* A backend reply too big for the route to the client: answered with frag-needed from the VIP to
 * the backend, quoting the reply as it came; nothing forwarded, the flow unchanged. Then a client
 * segment too big for the route to the backend, the same way back to the client. Both with the next
 * hop known without a lookup (learnt, cached in the slot): the route's MTU is checked all the same. */
static void too_big_answered_with_frag_needed(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_slot_hop h;
	struct pgs_flow f;

	reset();
	f = established(40204);
	/* Toward the client: the way back is learnt from its frames (no lookup), the route's MTU is
	 * looked up for a packet that might not fit it. */
	sh("ip route replace 10.9.0.2/32 dev t0 mtu lock 1000");
	expect_frag_needed(in, backend_pkt(in, &f, F_ACK | F_PSH, 1060), MAC_BACKEND, BACKEND, 40204,
			   "a reply of 1100 bytes toward a 1000-byte route, its way back learnt");
	flow_get(40204, &f);
	CHECK_EQ(f.cmtu, 1000);
	rev(40204, F_ACK | F_PSH, 100, "a reply that fits");
	sh("ip route del 10.9.0.2/32 dev t0");

	/* Toward the backend: the slot's next hop, resolved by a small segment while the route says
	 * 1000, carries that MTU; the big segment after it finds the hop cached and is still checked. */
	sh("ip route replace 10.9.0.5/32 dev t0 mtu lock 1000");
	h = slot_hop(f.slot);
	h.hop.stamp = 0; /* stale: the next segment looks the route up */
	bpf_map_update_elem(M.slot_hop, &f.slot, &h, BPF_ANY);
	fwd(40204, F_ACK | F_PSH, 100, "a client segment that fits");
	h = slot_hop(f.slot);
	CHECK_EQ(h.mtu, 1000);
	expect_frag_needed(in, client_pkt(in, 40204, F_ACK | F_PSH, 1060), MAC_CLIENT, CLIENT, 40204,
			   "a client segment of 1100 bytes toward a 1000-byte route, its hop cached");
	sh("ip route del 10.9.0.5/32 dev t0");
	CHECK_EQ(verdict(PGS_R_ICMP_TOO_BIG), 2);
}

/* The MSS option's value in a frame, 0 when it has none. */
static uint16_t mss_of(const uint8_t *buf)
{
	const pkt_iphdr *ip = (const pkt_iphdr *)(buf + sizeof(struct ethhdr));
	const uint8_t *tcp = (const uint8_t *)ip + ip->ihl * 4u, *o = tcp + 20, *end = tcp + ((const pkt_tcphdr *)tcp)->doff * 4u;

	while (o < end && *o) {
		if (*o == 1) {
			o++;
			continue;
		}
		if (o[0] == 2 && o[1] == 4)
			return (uint16_t)(o[2] << 8 | o[3]);
		if (o[1] < 2)
			break;
		o += o[1];
	}
	return 0;
}

/* Rewrite a frame's TCP options to NOP then MSS, and its checksum. */
static void mss_at_odd_offset(uint8_t *buf, uint16_t mss)
{
	pkt_iphdr *ip = (pkt_iphdr *)(buf + sizeof(struct ethhdr));
	pkt_tcphdr *tcp = (pkt_tcphdr *)((uint8_t *)ip + ip->ihl * 4u);
	uint8_t opts[8] = { 1, 2, 4, (uint8_t)(mss >> 8), (uint8_t)mss, 1, 1, 0 };

	memcpy(tcp + 1, opts, sizeof(opts));
	tcp->check = 0;
	tcp->check = htons(tcp_csum(ip, tcp, ntohs(ip->tot_len) - ip->ihl * 4u));
}

/* SYN and SYN-ACK announce an MSS no larger than the path back to their sender carries: the client's
 * SYN toward a 1000-byte route to the client leaves with MSS 960; the backend's SYN-ACK toward a
 * 1200-byte route to the backend leaves with 1160. Checksums by
 * full recompute; an MSS already below the limit and the default 1500 routes leave SYNs as they are. */
static void mss_clamped_to_the_path_back(void)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = 40205, .dport = VPORT, .flags = F_SYN, .seq = 1000,
			   .tcp_opts = 8 };
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	size_t len;
	enum outcome o;

	reset();
	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	sh("ip route replace 10.9.0.2/32 dev t0 mtu lock 1000");
	sh("ip route replace 10.9.0.5/32 dev t0 mtu lock 1200");
	len = pkt_build(in, &s);
	o = run(in, len);
	EXPECT_OUTCOME(o, O_TX, "SYN");
	if (o == O_TX) {
		CHECK(pkt_csums_ok(out, out_len), "clamped SYN: checksums");
		CHECK_EQ(mss_of(out), 960);
	}
	CHECK(flow_get(40205, &f), "no flow");
	len = backend_pkt(in, &f, F_SYN | F_ACK, 0);
	{
		/* Room for 8 bytes of options: rebuild with them. */
		struct tspec b = { .saddr = BACKEND, .daddr = VIP, .sport = ntohs(f.bport), .dport = ntohs(f.sport),
				   .flags = F_SYN | F_ACK, .seq = 5000, .ack = 1001, .tcp_opts = 8 };

		memcpy(b.smac, MAC_BACKEND, 6);
		memcpy(b.dmac, MAC_LB, 6);
		len = pkt_build(in, &b);
	}
	o = run(in, len);
	EXPECT_OUTCOME(o, O_TX, "SYN-ACK");
	if (o == O_TX) {
		CHECK(pkt_csums_ok(out, out_len), "clamped SYN-ACK: checksums");
		CHECK_EQ(mss_of(out), 1160);
		CHECK_EQ(pkt_view(out).dport, 40205);
	}
	s.sport = 40206;
	s.tcp_opts = 4;
	len = pkt_build(in, &s);
	((pkt_tcphdr *)(in + 14 + 20))->check = 0;
	in[14 + 20 + 22] = 900 >> 8;
	in[14 + 20 + 23] = 900 & 0xff;
	((pkt_tcphdr *)(in + 14 + 20))->check = htons(tcp_csum((pkt_iphdr *)(in + 14), in + 14 + 20, 24));
	o = run(in, len);
	EXPECT_OUTCOME(o, O_TX, "SYN with MSS 900");
	if (o == O_TX)
		CHECK_EQ(mss_of(out), 900);
	/* An MSS behind another option is not looked for (see pgs_mss_clamp): left as it is. */
	s.sport = 40208;
	s.tcp_opts = 8;
	len = pkt_build(in, &s);
	mss_at_odd_offset(in, 1460);
	o = run(in, len);
	if (o == O_TX)
		CHECK(mss_of(out) == 1460 && pkt_csums_ok(out, out_len), "an MSS that is not first: untouched");
	s.tcp_opts = 8;
	sh("ip route del 10.9.0.2/32 dev t0");
	sh("ip route del 10.9.0.5/32 dev t0");
	s.sport = 40207;
	len = pkt_build(in, &s);
	o = run(in, len);
	if (o == O_TX)
		CHECK_EQ(mss_of(out), 1460);
}

/* A server with no route from here (10.99.0.1: the namespace has no route there) takes no flow and
 * leaves selection like one that refused the SYN: the client's retransmission goes elsewhere. */
static void unroutable_server_leaves_selection(void)
{
	uint8_t in[PKT_MAX];
	uint64_t passive = 0;
	struct pgs_flow f;
	uint32_t slot = 0;

	reset();
	set_server(0, IP(10, 99, 0, 1), 6432, PGS_SRV_UP, 16);
	set_service(2);
	EXPECT_OUTCOME(run(in, client_pkt(in, 40210, F_SYN, 0)), O_DROP, "SYN toward an unroutable server");
	CHECK_EQ(verdict(PGS_R_DROP_FIB), 1);
	CHECK_EQ(state_of(40210), 0);
	CHECK_EQ(total_opened(), 0);
	bpf_map_lookup_elem(M.passive, &slot, &passive);
	CHECK(passive != 0, "the unroutable server must leave selection");
	f = fwd(40210, F_SYN, 0, "the client's retransmitted SYN");
	CHECK_EQ(f.slot, 1);
}

#define ICMP_CASES                                         \
	CASE(icmp_from_client_side_reaches_backend),       \
	CASE(icmp_from_backend_side_reaches_client),       \
	CASE(icmp_forged_changes_nothing),                 \
	CASE(icmp_about_cookie_flow_in_backend_numbers),   \
	CASE(too_big_answered_with_frag_needed),           \
	CASE(mss_clamped_to_the_path_back),               \
	CASE(unroutable_server_leaves_selection),

#endif

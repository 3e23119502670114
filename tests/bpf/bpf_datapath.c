/* BPF_PROG_TEST_RUN tables for the datapath: every case runs through the XDP and the TC program
 * alike, with packets built in C and checksums verified by full recompute. Runs in a private network
 * namespace (for bpf_fib_lookup's neighbours) with its own pin root; needs root. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <linux/pkt_cls.h>
#include "harness.h"
#include "pktgen.h"
#include "testenv.h"
#include "lib/flow.h"
#include "datapath.h"
#include "dpsync.h"

#define SNAT_MIN 20000
#define SNAT_MAX 20015 /* 16 ports */
#define FLOW_TABLE 64

/* --- map setup ----------------------------------------------------------------------------- */

static void clear_hash(int fd, size_t ksize)
{
	uint8_t key[64], next[64];

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, ksize);
		bpf_map_delete_elem(fd, key);
	}
}

static void zero_array(int fd, uint32_t n, size_t vsize, int percpu)
{
	size_t sz = vsize * (percpu ? (size_t)libbpf_num_possible_cpus() : 1);
	void *zero = calloc(1, sz);
	uint32_t i;

	for (i = 0; i < n; i++)
		bpf_map_update_elem(fd, &i, zero, BPF_ANY);
	free(zero);
}

static void set_server(uint32_t slot, uint32_t addr, uint16_t port, uint8_t state, uint32_t weight)
{
	struct pgs_server s = { .addr = htonl(addr), .port = htons(port), .state = state, .weight = weight };

	snprintf(s.name, sizeof(s.name), "pgb%u", slot + 1);
	bpf_map_update_elem(M.servers, &slot, &s, BPF_ANY);
}

static void set_service(uint32_t nservers)
{
	struct pgs_svc_key k = { .vip = htonl(VIP), .port = htons(VPORT) };
	/* SYN cookies off: these cases are about flows opened by SYNs (bpf_syncookie.h turns them on). */
	struct pgs_svc v = { .id = 0, .nservers = nservers, .name = "pgsql", .syn_cookies = PGS_COOKIES_OFF };

	bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
}

static void set_active(int on)
{
	maps_set_active(&M, on);
}

/* The standard setup: VIP:5432 -> pgb1..3 on BACKEND:6432..6434, all UP, weight 1 (x16). */
static void reset(void)
{
	uint32_t i;

	clear_hash(M.flows, sizeof(struct pgs_flow_key));
	clear_hash(M.rflows, sizeof(struct pgs_rflow_key));
	clear_hash(M.services, sizeof(struct pgs_svc_key));
	clear_hash(M.policy, sizeof(struct pgs_policy_key)); /* a policy case's lists must not outlive it */
	zero_array(M.servers, PGS_MAX_SLOTS, sizeof(struct pgs_server), 0);
	zero_array(M.conns, PGS_MAX_SLOTS, sizeof(struct pgs_conns), 0);
	zero_array(M.conn_adj, PGS_MAX_SLOTS, 8, 0);
	zero_array(M.passive, PGS_MAX_SLOTS, 8, 0);
	zero_array(M.srv_stats, PGS_MAX_SLOTS, sizeof(struct pgs_srv_stats), 1);
	zero_array(M.verdicts, PGS_R_MAX, 8, 1);
	zero_array(M.rr, PGS_MAX_SERVICES, 4, 1);
	zero_array(M.synguard, PGS_MAX_SERVICES, sizeof(struct pgs_synguard), 0);
	zero_array(M.synguard_adj, PGS_MAX_SERVICES, 8, 0);
	zero_array(M.svc_verdicts, PGS_MAX_SERVICES * PGS_R_MAX, 8, 1);
	zero_array(M.slot_hop, PGS_MAX_SLOTS, sizeof(struct pgs_slot_hop), 0);
	clear_hash(bpf_map__fd(xdp_skel->maps.pgs_tx_ports), sizeof(__u32));
	zero_array(M.ctl, 1, sizeof(struct pgs_ctl), 0); /* steering epoch 0: flows written by hand are current */
	for (i = 0; i < 3; i++)
		set_server(i, BACKEND, (uint16_t)(6432 + i), PGS_SRV_UP, 16);
	set_service(3);
	set_active(1);
}

/* --- running packets --------------------------------------------------------------------------- */

static uint8_t out[PKT_MAX];
static uint32_t out_len;

static enum outcome run(const uint8_t *in, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);
	struct xdp_md xctx = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex };
	struct __sk_buff sctx = { .ifindex = (uint32_t)ifindex };
	int r;

	if (cur == P_XDP) {
		o.ctx_in = &xctx;
		o.ctx_size_in = sizeof(xctx);
	} else {
		o.ctx_in = &sctx;
		o.ctx_size_in = sizeof(sctx);
	}
	memset(out, 0, sizeof(out));
	r = bpf_prog_test_run_opts(prog_fd[cur], &o);
	if (r) {
		printf("     test_run failed: %s\n", strerror(errno));
		return O_ERR;
	}
	out_len = o.data_size_out;
	if (cur == P_XDP)
		return o.retval == XDP_PASS ? O_PASS : o.retval == XDP_DROP ? O_DROP :
		       (o.retval == XDP_TX || o.retval == XDP_REDIRECT) ? O_TX : O_ERR;
	return o.retval == TC_ACT_OK ? O_PASS : o.retval == TC_ACT_SHOT ? O_DROP :
	       o.retval == TC_ACT_REDIRECT ? O_TX : O_ERR;
}

static const char *oname(enum outcome o)
{
	static const char *const n[] = { "PASS", "DROP", "TX", "ERR" };

	return n[o];
}

static uint64_t verdict(enum pgs_reason r)
{
	uint64_t v[PGS_R_MAX];

	maps_read_verdicts(&M, v);
	return v[r];
}

static int flow_get(uint16_t cport, struct pgs_flow *f)
{
	struct pgs_flow_key k = { .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(cport), .vport = htons(VPORT) };

	return bpf_map_lookup_elem(M.flows, &k, f) == 0;
}

static struct pgs_conns conns(uint32_t slot)
{
	struct pgs_conns c = {};

	bpf_map_lookup_elem(M.conns, &slot, &c);
	return c;
}

static uint64_t total_opened(void)
{
	uint64_t n = 0;
	uint32_t s;

	for (s = 0; s < 3; s++)
		n += conns(s).opened;
	return n;
}

static uint64_t total_closed(void)
{
	uint64_t n = 0;
	uint32_t s;

	for (s = 0; s < 3; s++)
		n += conns(s).closed;
	return n;
}

static uint64_t count_entries(int fd, size_t ksize)
{
	uint8_t key[64], next[64];
	uint64_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, ksize);
		prev = key;
		n++;
	}
	return n;
}

/* Client -> VIP segment: the SYN at ISN 1000, everything after it at 1001 (data does not advance
 * the sequence: later segments overlap, within the window). */
static size_t client_pkt(uint8_t *buf, uint16_t cport, uint8_t flags, uint16_t payload)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = VPORT, .flags = flags,
			   .seq = (flags & F_SYN) ? 1000 : 1001, .ack = (flags & F_ACK) ? 5001 : 0, .payload = payload,
			   .tcp_opts = (flags & F_SYN) ? 4 : 0 };

	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

/* Backend -> VIP reply of the flow of cport: the SYN-ACK at ISN 5000, everything after it at 5001. */
static size_t backend_pkt(uint8_t *buf, const struct pgs_flow *f, uint8_t flags, uint16_t payload)
{
	struct tspec s = { .saddr = ntohl(f->backend), .daddr = VIP, .sport = ntohs(f->bport), .dport = ntohs(f->sport),
			   .flags = flags, .seq = (flags & F_SYN) ? 5000 : 5001, .ack = 1001, .payload = payload };

	memcpy(s.smac, MAC_BACKEND, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

/* The frame a forward translation must produce, byte for byte. */
static size_t expect_fwd(uint8_t *buf, const struct pgs_flow *f, uint16_t cport, uint8_t flags, uint16_t payload)
{
	struct tspec s = { .saddr = VIP, .daddr = ntohl(f->backend), .sport = ntohs(f->sport), .dport = ntohs(f->bport),
			   .flags = flags, .seq = (flags & F_SYN) ? 1000 : 1001, .ack = (flags & F_ACK) ? 5001 : 0,
			   .payload = payload, .tcp_opts = (flags & F_SYN) ? 4 : 0 };
	int neigh = f->backend == htonl(BACKEND);

	(void)cport;
	/* XDP and TC write the resolved MACs; TC's redirect_neigh (no neighbour) leaves them to the kernel. */
	memcpy(s.smac, neigh ? MAC_LB : MAC_CLIENT, 6);
	memcpy(s.dmac, neigh ? MAC_BACKEND : MAC_LB, 6);
	return pkt_build(buf, &s);
}

static size_t expect_rev(uint8_t *buf, uint16_t cport, uint8_t flags, uint16_t payload)
{
	struct tspec s = { .saddr = VIP, .daddr = CLIENT, .sport = VPORT, .dport = cport, .flags = flags,
			   .seq = (flags & F_SYN) ? 5000 : 5001, .ack = 1001, .payload = payload };

	memcpy(s.smac, MAC_LB, 6);
	memcpy(s.dmac, MAC_CLIENT, 6);
	return pkt_build(buf, &s);
}

static void check_frame(const uint8_t *want, size_t want_len, const char *what)
{
	CHECK(out_len == want_len, "%s: output length %u, expected %zu", what, out_len, want_len);
	CHECK(pkt_csums_ok(out, out_len), "%s: checksums do not verify by full recompute", what);
	if (out_len == want_len && memcmp(out, want, want_len)) {
		struct tview g = pkt_view(out), w = pkt_view(want);

		CHECK(0, "%s: frame differs: got %08x:%u -> %08x:%u flags %02x, want %08x:%u -> %08x:%u flags %02x", what,
		      g.saddr, g.sport, g.daddr, g.dport, g.flags, w.saddr, w.sport, w.daddr, w.dport, w.flags);
	}
}

#define EXPECT_OUTCOME(got, want, what) \
	CHECK((got) == (want), "%s: %s, expected %s", what, oname(got), oname(want))

/* Send a client segment that must be forwarded along the flow of cport; returns the flow. */
static struct pgs_flow fwd(uint16_t cport, uint8_t flags, uint16_t payload, const char *what)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	size_t len = client_pkt(in, cport, flags, payload);
	struct pgs_flow f = {};
	enum outcome o = run(in, len);

	EXPECT_OUTCOME(o, O_TX, what);
	CHECK(flow_get(cport, &f), "%s: no flow for client port %u", what, cport);
	if (o == O_TX)
		check_frame(want, expect_fwd(want, &f, cport, flags, payload), what);
	return f;
}

static void rev(uint16_t cport, uint8_t flags, uint16_t payload, const char *what)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct pgs_flow f = {};
	enum outcome o;

	CHECK(flow_get(cport, &f), "%s: no flow for client port %u", what, cport);
	o = run(in, backend_pkt(in, &f, flags, payload));
	EXPECT_OUTCOME(o, O_TX, what);
	if (o == O_TX)
		check_frame(want, expect_rev(want, cport, flags, payload), what);
}

/* The backend's FIN after the client's FIN at 1001 reached it: it acknowledges it (1002), so the
 * backend closes second and keeps no TIME_WAIT. rev()'s FIN acknowledges 1001 only: it crossed. */
static void rev_fin_after_client_fin(uint16_t cport, const char *what)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f = {};
	struct tspec s = { .daddr = VIP, .flags = F_FIN | F_ACK, .seq = 5001, .ack = 1002 };

	CHECK(flow_get(cport, &f), "%s: no flow for client port %u", what, cport);
	s.saddr = ntohl(f.backend);
	s.sport = ntohs(f.bport);
	s.dport = ntohs(f.sport);
	memcpy(s.smac, MAC_BACKEND, 6);
	memcpy(s.dmac, MAC_LB, 6);
	EXPECT_OUTCOME(run(in, pkt_build(in, &s)), O_TX, what);
}

/* A connection whose server answered (it counts toward leastconn from then on). */
static struct pgs_flow open_conn(uint16_t cport)
{
	struct pgs_flow f = fwd(cport, F_SYN, 0, "SYN");

	rev(cport, F_SYN | F_ACK, 0, "SYN-ACK");
	return f;
}

static uint8_t state_of(uint16_t cport)
{
	struct pgs_flow f;

	return flow_get(cport, &f) ? f.state : 0;
}

/* --- the cases ------------------------------------------------------------------------------------ */

static void syn_steers_to_a_server(void)
{
	struct pgs_flow f;

	reset();
	f = fwd(40001, F_SYN, 0, "SYN");
	CHECK(ntohs(f.sport) >= SNAT_MIN && ntohs(f.sport) <= SNAT_MAX, "SNAT port %u outside %u-%u", ntohs(f.sport), SNAT_MIN, SNAT_MAX);
	CHECK(f.backend == htonl(BACKEND), "backend %08x", ntohl(f.backend));
	CHECK_EQ(f.state, PGS_FLOW_SYN_SENT);
	CHECK_EQ(total_opened(), 0); /* half-open: counts once the server answers */
	CHECK_EQ(verdict(PGS_R_FWD_NEW), 1);
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 1);
	rev(40001, F_SYN | F_ACK, 0, "SYN-ACK");
	CHECK_EQ(total_opened(), 1);
	CHECK_EQ(conns(f.slot).opened, 1);
	rev(40001, F_SYN | F_ACK, 0, "SYN-ACK again");
	CHECK_EQ(total_opened(), 1);
}

static void syn_retransmit_same_server(void)
{
	struct pgs_flow a, b;

	reset();
	a = fwd(40002, F_SYN, 0, "SYN");
	b = fwd(40002, F_SYN, 0, "SYN again");
	CHECK(a.slot == b.slot && a.sport == b.sport, "retransmission moved: slot %u->%u port %u->%u", a.slot, b.slot,
	      ntohs(a.sport), ntohs(b.sport));
	rev(40002, F_SYN | F_ACK, 0, "SYN-ACK");
	CHECK_EQ(total_opened(), 1);
	CHECK_EQ(verdict(PGS_R_FWD_NEW), 1);
	CHECK_EQ(verdict(PGS_R_FWD), 1);
}

static void handshake_data_client_closes(void)
{
	struct pgs_srv_stats st[256];
	uint64_t bin = 0, bout = 0;
	struct pgs_flow f;
	int c, ncpu = libbpf_num_possible_cpus();

	reset();
	f = fwd(40003, F_SYN, 0, "SYN");
	rev(40003, F_SYN | F_ACK, 0, "SYN-ACK");
	CHECK_EQ(state_of(40003), PGS_FLOW_SYN_RECV);
	fwd(40003, F_ACK, 0, "ACK");
	CHECK_EQ(state_of(40003), PGS_FLOW_ESTABLISHED);
	fwd(40003, F_ACK | F_PSH, 100, "client data");
	rev(40003, F_ACK | F_PSH, 200, "server data");
	CHECK_EQ(verdict(PGS_R_REV), 2);
	fwd(40003, F_FIN | F_ACK, 0, "client FIN");
	CHECK_EQ(state_of(40003), PGS_FLOW_FIN_WAIT);
	CHECK_EQ(total_closed(), 1);
	rev(40003, F_FIN | F_ACK, 0, "server FIN");
	CHECK_EQ(state_of(40003), PGS_FLOW_CLOSED);
	fwd(40003, F_ACK, 0, "last ACK");
	CHECK_EQ(total_opened(), 1);
	CHECK_EQ(total_closed(), 1);
	if (ncpu <= 256 && !bpf_map_lookup_elem(M.srv_stats, &f.slot, st))
		for (c = 0; c < ncpu; c++) {
			bin += st[c].bytes_in;
			bout += st[c].bytes_out;
		}
	CHECK_EQ(bin, 100);
	CHECK_EQ(bout, 200);
}

static void server_closes_first(void)
{
	reset();
	fwd(40004, F_SYN, 0, "SYN");
	rev(40004, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40004, F_ACK, 0, "ACK");
	rev(40004, F_FIN | F_ACK, 0, "server FIN");
	CHECK_EQ(state_of(40004), PGS_FLOW_FIN_WAIT);
	CHECK_EQ(total_closed(), 1);
	rev(40004, F_FIN | F_ACK, 0, "server FIN retransmitted");
	fwd(40004, F_FIN | F_ACK, 0, "client FIN");
	CHECK_EQ(state_of(40004), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

static void rst_decrements_once(void)
{
	reset();
	fwd(40005, F_SYN, 0, "SYN");
	rev(40005, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40005, F_ACK, 0, "ACK");
	fwd(40005, F_RST, 0, "client RST");
	CHECK_EQ(state_of(40005), PGS_FLOW_CLOSED);
	fwd(40005, F_RST, 0, "client RST again");
	rev(40005, F_RST, 0, "server RST");
	fwd(40005, F_FIN | F_ACK, 0, "late FIN");
	CHECK_EQ(total_opened(), 1);
	CHECK_EQ(total_closed(), 1);
}

static void server_rst_established(void)
{
	reset();
	fwd(40006, F_SYN, 0, "SYN");
	rev(40006, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40006, F_ACK, 0, "ACK");
	rev(40006, F_RST | F_ACK, 0, "server RST");
	CHECK_EQ(state_of(40006), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

static void port_reuse_after_close(void)
{
	struct pgs_flow a, b;

	reset();
	a = fwd(40007, F_SYN, 0, "SYN");
	rev(40007, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40007, F_ACK, 0, "ACK");
	fwd(40007, F_FIN | F_ACK, 0, "client FIN");
	rev_fin_after_client_fin(40007, "server FIN");
	b = fwd(40007, F_SYN, 0, "SYN on the closed flow");
	CHECK_EQ(b.state, PGS_FLOW_SYN_SENT);
	CHECK(b.slot != a.slot, "a new connection should rotate to the next idle server (slot %u both times)", a.slot);
	rev(40007, F_SYN | F_ACK, 0, "SYN-ACK of the new connection");
	CHECK_EQ(total_opened(), 2);
	CHECK_EQ(total_closed(), 1);
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 1);
}

static void non_syn_without_state_passes(void)
{
	uint8_t in[PKT_MAX];
	size_t len;
	enum outcome o;

	reset();
	len = client_pkt(in, 40008, F_ACK, 10);
	o = run(in, len);
	EXPECT_OUTCOME(o, O_PASS, "ACK without flow");
	CHECK(out_len == len && !memcmp(out, in, len), "a passed packet must be untouched");
	CHECK_EQ(state_of(40008), 0);
	CHECK_EQ(verdict(PGS_R_PASS_NO_FLOW), 1);
	len = client_pkt(in, 40008, F_SYN | F_ACK, 0);
	EXPECT_OUTCOME(run(in, len), O_PASS, "SYN-ACK to the VIP without flow");
	CHECK_EQ(state_of(40008), 0);
}

static void inactive_node_passes(void)
{
	uint8_t in[PKT_MAX];
	size_t len;

	reset();
	set_active(0);
	len = client_pkt(in, 40009, F_SYN, 0);
	EXPECT_OUTCOME(run(in, len), O_PASS, "SYN on a backup node");
	CHECK(!memcmp(out, in, len), "untouched");
	CHECK_EQ(verdict(PGS_R_PASS_INACTIVE), 1);
	CHECK_EQ(total_opened(), 0);
}

static void states_excluded(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	int i;

	reset();
	set_server(0, BACKEND, 6432, PGS_SRV_DOWN, 16);
	set_server(1, BACKEND, 6433, PGS_SRV_DRAIN, 16);
	for (i = 0; i < 6; i++) {
		f = fwd((uint16_t)(41000 + i), F_SYN, 0, "SYN");
		CHECK_EQ(f.slot, 2);
	}
	set_server(2, BACKEND, 6434, PGS_SRV_MAINT, 16);
	EXPECT_OUTCOME(run(in, client_pkt(in, 41100, F_SYN, 0)), O_DROP, "SYN with no server UP");
	CHECK_EQ(verdict(PGS_R_DROP_NO_SERVER), 1);
	CHECK_EQ(state_of(41100), 0);
	/* Existing flows of a drained/down server keep working. */
	fwd(41000, F_ACK, 0, "ACK of a flow whose server went MAINT");
}

static void weight_zero_and_passive_excluded(void)
{
	struct pgs_flow f;
	uint32_t slot = 0;
	uint64_t t = 1;
	int i;

	reset();
	set_server(0, BACKEND, 6432, PGS_SRV_UP, 0);
	bpf_map_update_elem(M.passive, &(uint32_t){ 1 }, &t, BPF_ANY);
	for (i = 0; i < 4; i++) {
		f = fwd((uint16_t)(42000 + i), F_SYN, 0, "SYN");
		CHECK_EQ(f.slot, 2);
	}
	(void)slot;
}

static void ties_take_turns(void)
{
	int seen[3] = {}, i;
	struct pgs_flow f;

	reset();
	/* Each connection is reset before the next: every server is idle each time. */
	for (i = 0; i < 3; i++) {
		f = fwd((uint16_t)(43000 + i), F_SYN, 0, "SYN");
		if (f.slot < 3)
			seen[f.slot]++;
		fwd((uint16_t)(43000 + i), F_RST, 0, "RST");
	}
	CHECK(seen[0] == 1 && seen[1] == 1 && seen[2] == 1, "idle servers should take turns: %d/%d/%d", seen[0], seen[1], seen[2]);
}

static void leastconn_spreads_held_connections(void)
{
	int i;

	reset();
	for (i = 0; i < 30; i++)
		open_conn((uint16_t)(44000 + i));
	CHECK(conns(0).opened == 10 && conns(1).opened == 10 && conns(2).opened == 10, "30 held connections: %llu/%llu/%llu",
	      (unsigned long long)conns(0).opened, (unsigned long long)conns(1).opened, (unsigned long long)conns(2).opened);
	/* Close five on pgb1: the next five new ones go there. */
	for (i = 0; i < 30; i++) {
		struct pgs_flow f;

		if (flow_get((uint16_t)(44000 + i), &f) && f.slot == 0 && conns(0).closed < 5)
			fwd((uint16_t)(44000 + i), F_FIN | F_ACK, 0, "FIN");
	}
	for (i = 0; i < 5; i++)
		CHECK_EQ(fwd((uint16_t)(44100 + i), F_SYN, 0, "SYN").slot, 0);
}

static void weights_two_to_one(void)
{
	int i;

	reset();
	set_server(0, BACKEND, 6432, PGS_SRV_UP, 32);
	set_server(1, BACKEND, 6433, PGS_SRV_UP, 16);
	set_service(2);
	/* 21 connections: pgb1's share stays within the test's 16 SNAT ports. */
	for (i = 0; i < 21; i++)
		open_conn((uint16_t)(45000 + i));
	CHECK(conns(0).opened >= 13 && conns(0).opened <= 15 && conns(0).opened + conns(1).opened == 21,
	      "weights 2:1 over 21 connections: %llu/%llu", (unsigned long long)conns(0).opened,
	      (unsigned long long)conns(1).opened);
}

static void snat_collision_probes_next_port(void)
{
	struct pgs_flow_key fk = { .client = htonl(IP(10, 9, 0, 77)), .vip = htonl(VIP), .cport = htons(1), .vport = htons(VPORT) };
	struct pgs_flow f;
	uint16_t p;

	reset();
	set_service(1); /* only pgb1 */
	for (p = SNAT_MIN; p <= SNAT_MAX; p++) {
		struct pgs_rflow_key rk = { .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(6432), .sport = htons(p) };

		if (p != 20007)
			bpf_map_update_elem(M.rflows, &rk, &fk, BPF_ANY);
	}
	/* 128 random probes over 16 ports miss the free one with a chance of (15/16)^128 = 2.6e-4. */
	f = fwd(46000, F_SYN, 0, "SYN with one free SNAT port");
	CHECK_EQ(ntohs(f.sport), 20007);
}

static void snat_exhausted_drops(void)
{
	struct pgs_flow_key fk = { .client = htonl(IP(10, 9, 0, 77)), .vip = htonl(VIP), .cport = htons(1), .vport = htons(VPORT) };
	uint8_t in[PKT_MAX];
	uint16_t p;

	reset();
	set_service(1);
	for (p = SNAT_MIN; p <= SNAT_MAX; p++) {
		struct pgs_rflow_key rk = { .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(6432), .sport = htons(p) };

		bpf_map_update_elem(M.rflows, &rk, &fk, BPF_ANY);
	}
	EXPECT_OUTCOME(run(in, client_pkt(in, 46001, F_SYN, 0)), O_DROP, "SYN with every SNAT port taken");
	CHECK_EQ(verdict(PGS_R_DROP_SNAT_EXHAUSTED), 1);
	CHECK_EQ(state_of(46001), 0);
	CHECK_EQ(total_opened(), 0);
}

static void table_full_keeps_existing_flows(void)
{
	uint8_t in[PKT_MAX];
	uint32_t i;

	reset();
	fwd(47000, F_SYN, 0, "SYN");
	rev(47000, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(47000, F_ACK, 0, "ACK");
	for (i = 0; count_entries(M.flows, sizeof(struct pgs_flow_key)) < FLOW_TABLE && i < 1000; i++) {
		struct pgs_flow_key k = { .client = htonl(IP(10, 8, 0, 0) + i), .vip = htonl(VIP), .cport = htons(1), .vport = htons(VPORT) };
		struct pgs_flow v = { .state = PGS_FLOW_SYN_SENT, .backend = htonl(BACKEND), .bport = htons(6432), .sport = htons(1) };

		bpf_map_update_elem(M.flows, &k, &v, BPF_NOEXIST);
	}
	EXPECT_OUTCOME(run(in, client_pkt(in, 47001, F_SYN, 0)), O_DROP, "SYN into a full table");
	CHECK_EQ(verdict(PGS_R_DROP_TABLE_FULL), 1);
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 1); /* no SNAT port leaked */
	fwd(47000, F_ACK | F_PSH, 20, "established flow in a full table");
	rev(47000, F_ACK | F_PSH, 20, "its reply");
	CHECK_EQ(state_of(47000), PGS_FLOW_ESTABLISHED);
}

static void backend_refuses_syn_redispatch(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow a, b;
	uint64_t passive = 0;

	reset();
	a = fwd(48000, F_SYN, 0, "SYN");
	EXPECT_OUTCOME(run(in, backend_pkt(in, &a, F_RST | F_ACK, 0)), O_DROP, "RST answering the SYN");
	CHECK_EQ(verdict(PGS_R_DROP_REDISPATCH), 1);
	CHECK_EQ(state_of(48000), 0);
	bpf_map_lookup_elem(M.passive, &a.slot, &passive);
	CHECK(passive != 0, "the refusing server must leave selection at once");
	CHECK_EQ(conns(a.slot).opened - conns(a.slot).closed, 0);
	b = fwd(48000, F_SYN, 0, "SYN retransmitted by the client");
	CHECK(b.slot != a.slot, "the retransmitted SYN went back to the refusing server %u", a.slot);
}

static void syn_to_unselectable_server_redispatches(void)
{
	struct pgs_flow a, b;

	reset();
	a = fwd(48100, F_SYN, 0, "SYN");
	set_server(a.slot, BACKEND, (uint16_t)(6432 + a.slot), PGS_SRV_DOWN, 16);
	b = fwd(48100, F_SYN, 0, "SYN retransmitted after its server went DOWN");
	CHECK(b.slot != a.slot, "still on the DOWN server");
	CHECK_EQ(total_opened(), 0); /* neither server answered */
	rev(48100, F_SYN | F_ACK, 0, "SYN-ACK of the new server");
	CHECK_EQ(total_opened() - total_closed(), 1);
}

static void non_vip_traffic_passes(void)
{
	static const uint8_t arp[42] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 2, 0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1,
					 2, 0, 0, 0, 0, 2, 10, 9, 0, 2, 0, 0, 0, 0, 0, 0, 10, 9, 0, 100 };
	struct tspec ssh = { .saddr = CLIENT, .daddr = IP(10, 9, 0, 1), .sport = 50000, .dport = 22, .flags = F_SYN };
	struct tspec stats = { .saddr = CLIENT, .daddr = VIP, .sport = 50001, .dport = 8404, .flags = F_SYN };
	struct tspec snatlike = { .saddr = IP(10, 9, 0, 9), .daddr = VIP, .sport = 6432, .dport = SNAT_MIN, .flags = F_ACK };
	uint8_t in[PKT_MAX];
	size_t len;
	pkt_iphdr *ip = (pkt_iphdr *)(in + sizeof(struct ethhdr));

	reset();
	EXPECT_OUTCOME(run(arp, sizeof(arp)), O_PASS, "ARP");
	len = pkt_build(in, &ssh);
	EXPECT_OUTCOME(run(in, len), O_PASS, "SSH to the node");
	len = pkt_build(in, &stats);
	EXPECT_OUTCOME(run(in, len), O_PASS, "stats port on the VIP");
	len = pkt_build(in, &snatlike);
	EXPECT_OUTCOME(run(in, len), O_PASS, "unknown reply to a SNAT port");
	/* VRRP (protocol 112) to 224.0.0.18 and ICMP to the VIP: same frame, other protocol. */
	len = pkt_build(in, &stats);
	ip->protocol = 112;
	ip->daddr = htonl(IP(224, 0, 0, 18));
	ip->check = 0;
	ip->check = htons(ip_csum(ip));
	EXPECT_OUTCOME(run(in, len), O_PASS, "VRRP advert");
	ip->protocol = IPPROTO_ICMP;
	ip->daddr = htonl(VIP);
	EXPECT_OUTCOME(run(in, len), O_PASS, "ICMP to the VIP");
	CHECK(!memcmp(out, in, len), "untouched");
	CHECK_EQ(total_opened(), 0);
	CHECK(verdict(PGS_R_PASS) >= 6, "pass verdicts counted: %llu", (unsigned long long)verdict(PGS_R_PASS));
}

static void malformed_frames_dropped(void)
{
	uint8_t in[PKT_MAX];
	size_t len;
	pkt_iphdr *ip = (pkt_iphdr *)(in + sizeof(struct ethhdr));
	pkt_tcphdr *tcp;

	reset();
	len = client_pkt(in, 49000, F_SYN, 0);
	/* test_run itself refuses skbs this short; only XDP can be handed them. */
	if (cur == P_XDP) {
		EXPECT_OUTCOME(run(in, 14), O_DROP, "IPv4 EtherType, no IP header");
		EXPECT_OUTCOME(run(in, 14 + 12), O_DROP, "IP header cut short");
	}
	ip->ihl = 4;
	EXPECT_OUTCOME(run(in, len), O_DROP, "ihl below 5");
	len = client_pkt(in, 49000, F_SYN, 0);
	ip->ihl = 15;
	EXPECT_OUTCOME(run(in, 14 + 40), O_DROP, "options longer than the frame");
	len = client_pkt(in, 49000, F_SYN, 0);
	EXPECT_OUTCOME(run(in, 14 + 20 + 8), O_DROP, "TCP header cut short");
	tcp = (pkt_tcphdr *)(ip + 1);
	tcp->doff = 3;
	EXPECT_OUTCOME(run(in, len), O_DROP, "TCP data offset below 5");
	CHECK_EQ(verdict(PGS_R_DROP_MALFORMED), cur == P_XDP ? 6 : 4);
	CHECK_EQ(total_opened(), 0);
}

static void ip_options_steered_intact(void)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = 49100, .dport = VPORT, .flags = F_SYN, .seq = 1000,
			   .ip_opts = 8, .tcp_opts = 4 };
	struct pgs_flow f;
	size_t len;

	reset();
	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	len = pkt_build(in, &s);
	EXPECT_OUTCOME(run(in, len), O_TX, "SYN with IP options");
	CHECK(flow_get(49100, &f), "no flow");
	s.saddr = VIP;
	s.daddr = ntohl(f.backend);
	s.sport = ntohs(f.sport);
	s.dport = ntohs(f.bport);
	memcpy(s.smac, MAC_LB, 6);
	memcpy(s.dmac, MAC_BACKEND, 6);
	check_frame(want, pkt_build(want, &s), "SYN with IP options");
}

static void fragments(void)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = 49200, .dport = VPORT, .flags = F_SYN, .frag_off = 0x2000 };
	uint8_t in[PKT_MAX];
	size_t len;

	reset();
	len = pkt_build(in, &s);
	EXPECT_OUTCOME(run(in, len), O_DROP, "first fragment to the service");
	CHECK_EQ(verdict(PGS_R_DROP_FRAGMENT), 1);
	s.frag_off = 0x0010;
	len = pkt_build(in, &s);
	EXPECT_OUTCOME(run(in, len), O_PASS, "later fragment");
	CHECK_EQ(total_opened(), 0);
}

static void unresolved_neighbour(void)
{
	uint8_t in[PKT_MAX];
	size_t len;
	struct pgs_flow f;
	enum outcome o;

	reset();
	set_server(0, NONEIGH, 6432, PGS_SRV_UP, 16);
	set_service(1);
	len = client_pkt(in, 49300, F_SYN, 0);
	o = run(in, len);
	if (cur == P_XDP) {
		/* XDP cannot resolve it: the SYN goes on to TC untouched, and no state was taken. */
		EXPECT_OUTCOME(o, O_PASS, "SYN toward an unresolved neighbour");
		CHECK(!memcmp(out, in, len), "a punted packet must be untouched");
		CHECK_EQ(verdict(PGS_R_PASS_PUNT), 1);
		CHECK_EQ(state_of(49300), 0);
		CHECK_EQ(total_opened(), 0);
	} else {
		/* TC translates it and lets redirect_neigh resolve the neighbour. */
		EXPECT_OUTCOME(o, O_TX, "SYN toward an unresolved neighbour");
		CHECK(flow_get(49300, &f) && f.backend == htonl(NONEIGH), "flow to the unresolved server");
		CHECK(pkt_csums_ok(out, out_len), "checksums");
	}
}

static void shutdown_sessions_reset(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_server srv;
	struct pgs_flow f;
	struct timespec ts;
	struct tview v;
	enum outcome o;

	reset();
	f = fwd(49400, F_SYN, 0, "SYN");
	rev(49400, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(49400, F_ACK, 0, "ACK");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	bpf_map_lookup_elem(M.servers, &f.slot, &srv);
	srv.state = PGS_SRV_DOWN;
	srv.kill_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	bpf_map_update_elem(M.servers, &f.slot, &srv, BPF_ANY);

	o = run(in, client_pkt(in, 49400, F_ACK | F_PSH, 30));
	EXPECT_OUTCOME(o, O_TX, "client segment of a shut-down session");
	v = pkt_view(out);
	CHECK(v.saddr == VIP && v.daddr == CLIENT && v.sport == VPORT && v.dport == 49400, "RST must go back to the client");
	CHECK(v.flags == F_RST && v.seq == 5001, "RST flags %02x seq %u (want RST, seq = the client's ack 5001)", v.flags, v.seq);
	CHECK(!memcmp(v.dmac, MAC_CLIENT, 6) && !memcmp(v.smac, MAC_LB, 6), "MACs swapped");
	CHECK(pkt_csums_ok(out, out_len), "RST checksums");
	CHECK_EQ(total_closed(), 1);
	o = run(in, backend_pkt(in, &f, F_ACK, 0));
	EXPECT_OUTCOME(o, O_TX, "backend segment of a shut-down session");
	v = pkt_view(out);
	CHECK(v.saddr == VIP && v.daddr == BACKEND && v.sport == ntohs(f.sport) && v.dport == ntohs(f.bport),
	      "RST must go back to the backend");
	CHECK(v.flags == F_RST && v.seq == 1001, "RST toward the backend: flags %02x seq %u", v.flags, v.seq);
	CHECK(pkt_csums_ok(out, out_len), "RST checksums");
	CHECK_EQ(total_closed(), 1);
	CHECK_EQ(verdict(PGS_R_RESET), 2);
	/* An RST is never answered with one (RFC 793): dropped. */
	EXPECT_OUTCOME(run(in, client_pkt(in, 49400, F_RST, 0)), O_DROP, "RST of a shut-down session");
}

/* The next hop is cached per flow and direction, and re-resolved once stale: a MAC change of the
 * backend reaches established flows. */
static struct pgs_slot_hop slot_hop(uint32_t slot)
{
	struct pgs_slot_hop h = {};

	bpf_map_lookup_elem(M.slot_hop, &slot, &h);
	return h;
}

/* Item 12: the next hop toward a server is resolved once per slot and shared by its flows (an idle
 * flow finds it warm); a stale one is resolved again; a slot given to another server does not
 * inherit it. */
static void next_hop_cached_then_re_resolved(void)
{
	static const uint8_t new_mac[6] = { 2, 0, 0, 0, 0, 0x55 };
	uint8_t in[PKT_MAX];
	struct pgs_slot_hop h;
	struct pgs_flow f;
	struct tview v;

	reset();
	set_service(1);
	f = fwd(49500, F_SYN, 0, "SYN");
	h = slot_hop(f.slot);
	CHECK(h.hop.ifindex == (uint32_t)ifindex && !memcmp(h.hop.dmac, MAC_BACKEND, 6) && h.addr == htonl(BACKEND),
	      "the SYN's next hop is cached in its slot");
	sh("ip neigh replace 10.9.0.5 lladdr 02:00:00:00:00:55 dev t0 nud permanent");
	h.hop.stamp = 0; /* as if a second had passed */
	bpf_map_update_elem(M.slot_hop, &f.slot, &h, BPF_ANY);
	EXPECT_OUTCOME(run(in, client_pkt(in, 49501, F_SYN, 0)), O_TX, "another flow's SYN after the MAC changed");
	v = pkt_view(out);
	CHECK(!memcmp(v.dmac, new_mac, 6), "a stale next hop must be resolved again");
	h = slot_hop(f.slot);
	CHECK(!memcmp(h.hop.dmac, new_mac, 6), "and the new one cached in the slot");
	/* A slot given to another server: its cached hop names the old address, so it is not used. */
	h.addr = htonl(NONEIGH);
	memcpy(h.hop.dmac, MAC_CLIENT, 6);
	bpf_map_update_elem(M.slot_hop, &f.slot, &h, BPF_ANY);
	EXPECT_OUTCOME(run(in, client_pkt(in, 49500, F_ACK, 0)), O_TX, "ACK with another server's hop in the slot");
	v = pkt_view(out);
	CHECK(!memcmp(v.dmac, new_mac, 6), "a hop cached for another address was used");
	sh("ip neigh replace 10.9.0.5 lladdr 02:00:00:00:00:05 dev t0 nud permanent");
}

/* --- flow events (ring buffer pgs_events, for the flow sync) --------------------------------------- */

#define MAX_EVS 16
static struct pgs_flow_event evs[MAX_EVS];
static int nev;

static int ev_collect(void *ctx, void *data, size_t len)
{
	if (len == sizeof(struct pgs_flow_event) && nev < MAX_EVS)
		memcpy(&evs[nev], data, len);
	nev++;
	return 0;
}

/* The events emitted since the last call (read from the pinned ring buffer, as pgsteerd does). */
static int events(void)
{
	static struct ring_buffer *rb;

	if (!rb)
		rb = ring_buffer__new(M.events, ev_collect, NULL, NULL);
	nev = 0;
	if (!rb)
		return -1;
	ring_buffer__consume(rb);
	return nev;
}

static void check_event(const struct pgs_flow_event *e, uint32_t type, uint16_t cport, const struct pgs_flow *f)
{
	CHECK_EQ(e->type, type);
	CHECK(e->fk.client == htonl(CLIENT) && e->fk.vip == htonl(VIP) && e->fk.cport == htons(cport) &&
	      e->fk.vport == htons(VPORT), "event key %08x:%u -> %08x:%u", ntohl(e->fk.client), ntohs(e->fk.cport),
	      ntohl(e->fk.vip), ntohs(e->fk.vport));
	CHECK(e->backend == f->backend && e->bport == f->bport && e->sport == f->sport && e->slot == f->slot &&
	      e->gen == f->gen, "event names backend %08x:%u sport %u slot %u, flow has %08x:%u sport %u slot %u",
	      ntohl(e->backend), ntohs(e->bport), ntohs(e->sport), e->slot, ntohl(f->backend), ntohs(f->bport),
	      ntohs(f->sport), f->slot);
	CHECK(e->ts_ns != 0, "event without a time");
}

static void events_established_then_closed(void)
{
	struct pgs_flow f;

	reset();
	events();
	f = fwd(40101, F_SYN, 0, "SYN");
	rev(40101, F_SYN | F_ACK, 0, "SYN-ACK");
	CHECK_EQ(events(), 0);
	fwd(40101, F_ACK, 0, "ACK");
	CHECK_EQ(events(), 1);
	check_event(&evs[0], PGS_EV_ESTABLISHED, 40101, &f);
	fwd(40101, F_ACK, 0, "duplicate ACK");
	fwd(40101, F_ACK | F_PSH, 100, "client data");
	rev(40101, F_ACK | F_PSH, 200, "server data");
	fwd(40101, F_FIN | F_ACK, 0, "client FIN");
	CHECK_EQ(events(), 0);
	rev(40101, F_FIN | F_ACK, 0, "server FIN");
	CHECK_EQ(events(), 1);
	check_event(&evs[0], PGS_EV_CLOSED, 40101, &f);
	fwd(40101, F_ACK, 0, "last ACK");
	fwd(40101, F_RST, 0, "RST after close");
	CHECK_EQ(events(), 0);
}

static void events_rst_closes_established(void)
{
	struct pgs_flow f;

	reset();
	events();
	f = fwd(40102, F_SYN, 0, "SYN");
	rev(40102, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40102, F_ACK, 0, "ACK");
	rev(40102, F_RST | F_ACK, 0, "server RST");
	CHECK_EQ(events(), 2);
	check_event(&evs[0], PGS_EV_ESTABLISHED, 40102, &f);
	check_event(&evs[1], PGS_EV_CLOSED, 40102, &f);
}

/* Packets that must not establish (or close) a synced flow: nothing reaches the peers. */
static void events_forged_none(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	struct tspec s = { .saddr = BACKEND, .daddr = VIP, .sport = 6499, .flags = F_SYN | F_ACK, .seq = 5000, .ack = 1001 };

	reset();
	events();
	/* An ACK before any SYN-ACK: the handshake has not happened. */
	f = fwd(40103, F_SYN, 0, "SYN");
	fwd(40103, F_ACK, 0, "ACK without SYN-ACK");
	CHECK_EQ(state_of(40103), PGS_FLOW_SYN_SENT);
	/* A SYN-ACK from another port of the backend host: not the flow's reply. */
	s.dport = ntohs(f.sport);
	memcpy(s.smac, MAC_BACKEND, 6);
	memcpy(s.dmac, MAC_LB, 6);
	EXPECT_OUTCOME(run(in, pkt_build(in, &s)), O_PASS, "SYN-ACK from another port");
	fwd(40103, F_ACK, 0, "ACK after the forged SYN-ACK");
	CHECK_EQ(state_of(40103), PGS_FLOW_SYN_SENT);
	/* A SYN-ACK from the client side is not a handshake step. */
	EXPECT_OUTCOME(run(in, client_pkt(in, 40103, F_SYN | F_ACK, 0)), O_DROP, "client SYN-ACK");
	/* An ACK for a connection that never was. */
	EXPECT_OUTCOME(run(in, client_pkt(in, 40104, F_ACK, 0)), O_PASS, "ACK without a flow");
	/* An RST closing a half-open flow: it was never synced, so nothing to close on the peers. */
	fwd(40103, F_RST, 0, "RST on the half-open flow");
	CHECK_EQ(state_of(40103), PGS_FLOW_CLOSED);
	CHECK_EQ(events(), 0);
	CHECK_EQ(count_entries(M.flows, sizeof(struct pgs_flow_key)), 1);
}

/* A backup node leaves VIP traffic to the stack: its packets emit nothing. */
static void events_inactive_node_none(void)
{
	uint8_t in[PKT_MAX];

	reset();
	events();
	fwd(40105, F_SYN, 0, "SYN");
	rev(40105, F_SYN | F_ACK, 0, "SYN-ACK");
	set_active(0);
	EXPECT_OUTCOME(run(in, client_pkt(in, 40105, F_ACK, 0)), O_PASS, "ACK on a backup");
	CHECK_EQ(state_of(40105), PGS_FLOW_SYN_RECV);
	CHECK_EQ(events(), 0);
	set_active(1);
}

/* --- PostgreSQL-aware steering: CancelRequest recognition (pgproto.h), source policy (policy.h) --- */

#define MAX_PGEVS 8
static struct pgs_pg_event pgevs[MAX_PGEVS];
static int npgev;

static int pgev_collect(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len == sizeof(struct pgs_pg_event) && npgev < MAX_PGEVS)
		memcpy(&pgevs[npgev], data, len);
	npgev++;
	return 0;
}

/* The cancel events emitted since the last call (read from the pinned ring buffer, as pgsteerd does). */
static int pg_events(void)
{
	static struct ring_buffer *rb;

	if (!rb)
		rb = ring_buffer__new(M.pg_events, pgev_collect, NULL, NULL);
	npgev = 0;
	if (!rb)
		return -1;
	ring_buffer__consume(rb);
	return npgev;
}

static uint64_t pg_stat(uint32_t which)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t v[ncpu], n = 0;

	if (bpf_map_lookup_elem(M.pg_stats, &which, v))
		return 0;
	for (i = 0; i < ncpu; i++)
		n += v[i];
	return n;
}

static void pg_reset(uint32_t svc_flags)
{
	uint32_t zero = 0;

	reset();
	zero_array(M.pg_stats, PGS_PG_STAT_MAX, 8, 1);
	bpf_map_update_elem(M.pg_opts, &zero, &svc_flags, BPF_ANY);
	pg_events();
}

/* A client segment carrying the 16 bytes w0..w3 (host order words, sent big-endian) at seq. */
static size_t pg_pkt(uint8_t *buf, uint16_t cport, uint32_t seq, const uint32_t w[4], uint16_t len)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = VPORT, .flags = F_ACK | F_PSH,
			   .seq = seq, .ack = 5001, .payload = len };
	size_t n, off = sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct tcphdr), i;
	pkt_iphdr *ip = (pkt_iphdr *)(buf + sizeof(struct ethhdr));
	pkt_tcphdr *tcp = (pkt_tcphdr *)(buf + sizeof(struct ethhdr) + sizeof(struct iphdr));
	uint8_t be[16];

	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	n = pkt_build(buf, &s);
	for (i = 0; i < 4; i++) {
		uint32_t x = htonl(w[i]);

		memcpy(be + 4 * i, &x, 4);
	}
	memcpy(buf + off, be, len < 16 ? len : 16);
	tcp->check = 0;
	tcp->check = htons(tcp_csum(ip, tcp, sizeof(*tcp) + len));
	return n;
}

/* Send it: it must leave toward the flow's server, payload untouched, checksums right. */
static void pg_send(uint16_t cport, uint32_t seq, const uint32_t w[4], uint16_t len, const char *what)
{
	uint8_t in[PKT_MAX];
	size_t n = pg_pkt(in, cport, seq, w, len), off = n - len;
	struct pgs_flow f;

	EXPECT_OUTCOME(run(in, n), O_TX, what);
	CHECK(out_len == n && !memcmp(out + off, in + off, len), "%s: payload changed on the way", what);
	CHECK(pkt_csums_ok(out, out_len), "%s: checksums do not verify", what);
	CHECK(flow_get(cport, &f) && pkt_view(out).daddr == ntohl(f.backend) && pkt_view(out).dport == ntohs(f.bport),
	      "%s: not sent to the flow's server", what);
}

static void pg_handshake(uint16_t cport)
{
	fwd(cport, F_SYN, 0, "SYN");
	rev(cport, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(cport, F_ACK, 0, "ACK");
}

static const uint32_t CANCEL[4] = { 16, PGS_PG_CANCEL_CODE, 4242, 0xdeadbeef };

/* Exactly 16 bytes with the code, as the first payload: one event with the key and the flow's
 * server; the retransmission goes the same way and emits nothing more. */
static void pg_cancel_recognised_once(void)
{
	struct pgs_flow f;

	pg_reset(PGS_SVC_F_CANCEL);
	pg_handshake(41001);
	pg_send(41001, 1000, CANCEL, 16, "CancelRequest");
	CHECK_EQ(pg_events(), 1);
	CHECK(flow_get(41001, &f) && (f.flags & PGS_FLOW_F_CANCEL), "flow not marked as a cancel");
	CHECK_EQ(pgevs[0].type, PGS_PGEV_CANCEL);
	CHECK_EQ(ntohl(pgevs[0].pid), 4242);
	CHECK_EQ(ntohl(pgevs[0].secret), 0xdeadbeef);
	CHECK(pgevs[0].slot == f.slot && pgevs[0].backend == f.backend && pgevs[0].bport == f.bport &&
	      pgevs[0].sport == f.sport && pgevs[0].fk.cport == htons(41001) && pgevs[0].fk.client == htonl(CLIENT),
	      "event names slot %u, flow has %u", pgevs[0].slot, f.slot);
	pg_send(41001, 1000, CANCEL, 16, "retransmitted CancelRequest");
	pg_send(41001, 1000, CANCEL, 16, "retransmitted again");
	CHECK_EQ(pg_events(), 0);
	CHECK_EQ(pg_stat(PGS_PG_CANCEL_SEEN), 1);
	CHECK_EQ(pg_stat(PGS_PG_CANCEL_LOST), 0);
}

/* Only the first payload of a flow counts: a CancelRequest inside a session is just data. */
static void pg_cancel_not_first_payload(void)
{
	pg_reset(PGS_SVC_F_CANCEL);
	pg_handshake(41002);
	fwd(41002, F_ACK | F_PSH, 8, "StartupMessage-sized data");
	pg_send(41002, 1008, CANCEL, 16, "CancelRequest as the second payload");
	CHECK_EQ(pg_events(), 0);
	CHECK_EQ(pg_stat(PGS_PG_CANCEL_SEEN), 0);
}

/* Near misses: another code (SSLRequest), another length field, a longer or split payload. */
static void pg_cancel_near_misses(void)
{
	static const uint32_t ssl[4] = { 16, 80877103, 4242, 1 }, len17[4] = { 17, PGS_PG_CANCEL_CODE, 4242, 1 };

	pg_reset(PGS_SVC_F_CANCEL);
	pg_handshake(41003);
	pg_send(41003, 1000, ssl, 16, "16 bytes with SSLRequest's code");
	pg_handshake(41004);
	pg_send(41004, 1000, len17, 16, "length field 17");
	pg_handshake(41005);
	pg_send(41005, 1000, CANCEL, 20, "CancelRequest and 4 more bytes");
	pg_handshake(41006);
	pg_send(41006, 1000, CANCEL, 8, "first half of a split CancelRequest");
	{
		uint32_t rest[4] = { 4242, 0xdeadbeef, 0, 0 };

		pg_send(41006, 1008, rest, 8, "second half");
	}
	CHECK_EQ(pg_events(), 0);
	CHECK_EQ(pg_stat(PGS_PG_CANCEL_SEEN), 0);
}

/* cancel-routing off: the datapath leaves cancels alone. */
static void pg_cancel_routing_off(void)
{
	pg_reset(0);
	pg_handshake(41007);
	pg_send(41007, 1000, CANCEL, 16, "CancelRequest, routing off");
	CHECK_EQ(pg_events(), 0);
}

static void policy_set(uint32_t svc, uint32_t addr, uint32_t plen, uint32_t act)
{
	struct pgs_policy_key k = { .prefixlen = 32 + plen, .svc_id = htonl(svc), .addr = htonl(addr) };

	CHECK(bpf_map_update_elem(M.policy, &k, &act, BPF_ANY) == 0, "policy entry: %s", strerror(errno));
}

static void syn_refused(uint16_t cport, const char *what)
{
	uint8_t in[PKT_MAX];
	uint64_t before = verdict(PGS_R_DROP_POLICY);
	struct pgs_flow f;

	EXPECT_OUTCOME(run(in, client_pkt(in, cport, F_SYN, 0)), O_DROP, what);
	CHECK(!flow_get(cport, &f), "%s: a flow was created", what);
	CHECK_EQ(verdict(PGS_R_DROP_POLICY), before + 1);
}

/* deny CLIENT/32: its SYN is dropped and counted before any state; a session opened before keeps
 * going; other services' entries do not apply; removing the entry lets it in. */
static void policy_deny_source(void)
{
	struct pgs_policy_key k = { .prefixlen = 64, .svc_id = htonl(0), .addr = htonl(CLIENT) };

	pg_reset(0);
	pg_handshake(41101);
	policy_set(1, CLIENT, 32, PGS_POLICY_DENY); /* another service's */
	fwd(41102, F_SYN, 0, "SYN, denied for another service only");
	policy_set(0, CLIENT, 32, PGS_POLICY_DENY);
	syn_refused(41103, "SYN from a denied source");
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 2);
	fwd(41101, F_ACK | F_PSH, 10, "data of a session opened before the deny");
	rev(41101, F_ACK | F_PSH, 10, "its reply");
	{
		uint8_t in[PKT_MAX];

		/* A SYN on the live flow goes along it (fwd_suspect), never through selection or policy. */
		EXPECT_OUTCOME(run(in, client_pkt(in, 41101, F_SYN, 0)), O_TX, "a SYN on the denied source's live flow");
		CHECK_EQ(state_of(41101), PGS_FLOW_ESTABLISHED);
	}
	bpf_map_delete_elem(M.policy, &k);
	fwd(41104, F_SYN, 0, "SYN once the deny is gone");
}

/* allow lists: the default entry denies, the longest prefix decides. */
static void policy_allow_lists(void)
{
	pg_reset(0);
	policy_set(0, 0, 0, PGS_POLICY_DENY); /* what the controller writes for a service with an allow list */
	policy_set(0, IP(10, 8, 0, 0), 24, PGS_POLICY_ALLOW);
	syn_refused(41201, "SYN from outside the allow list");
	policy_set(0, IP(10, 9, 0, 0), 24, PGS_POLICY_ALLOW);
	fwd(41202, F_SYN, 0, "SYN from inside the allow list");
	policy_set(0, CLIENT, 32, PGS_POLICY_DENY);
	syn_refused(41203, "denied /32 inside an allowed /24");
	policy_set(0, IP(10, 9, 0, 0), 24, PGS_POLICY_DENY);
	policy_set(0, CLIENT, 32, PGS_POLICY_ALLOW);
	fwd(41204, F_SYN, 0, "allowed /32 inside a denied /24");
}

/* `pgsteer status` with pgsteerd stopped names services and servers as the maps do, whatever the
 * config says now: here the config lists the services in another order than their ids, lacks one
 * the maps still steer and has one they do not. */
static void cli_status_follows_the_maps(void)
{
	static const struct {
		const char *svc, *srv;
		uint32_t id;
		uint16_t port;
	} pinned[] = { { "rw", "pgbrw", 0, 5432 }, { "ro", "pgbro", 1, 5433 }, { "gone", "pgbgone", 2, 5434 } };
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char conf[] = "/tmp/pgsteer-cli-XXXXXX", cmd[512], line[256], svc[32] = "";
	int fd, found = 0;
	FILE *f;
	size_t i;

	reset();
	clear_hash(M.services, sizeof(struct pgs_svc_key));
	for (i = 0; i < sizeof(pinned) / sizeof(pinned[0]); i++) {
		struct pgs_svc_key k = { .vip = htonl(VIP), .port = htons(pinned[i].port) };
		struct pgs_svc v = { .id = pinned[i].id, .nservers = 1 };
		struct pgs_server s = { .addr = htonl(BACKEND), .port = htons(6432), .state = PGS_SRV_UP };
		uint32_t slot = pgs_slot(pinned[i].id, 0);

		snprintf(v.name, sizeof(v.name), "%s", pinned[i].svc);
		snprintf(s.name, sizeof(s.name), "%s", pinned[i].srv);
		bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
		bpf_map_update_elem(M.servers, &slot, &s, BPF_ANY);
	}
	fd = mkstemp(conf);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	CHECK(f, "cannot write a config in /tmp");
	if (!f)
		return;
	fprintf(f, "global\n  interface lo\n  pin-root %s\n  runtime-socket /nonexistent/pgsteerd.sock\n"
		   "service new\n  bind 10.9.0.100:5435\n  server pgbnew 10.9.0.5:6432\n"
		   "service ro\n  bind 10.9.0.100:5433\n  server pgbro 10.9.0.5:6432\n"
		   "service rw\n  bind 10.9.0.100:5432\n  server pgbrw 10.9.0.5:6432\n", pin_root);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "%s/pgsteer -f %s status 2>&1", build, conf);
	f = popen(cmd, "r");
	CHECK(f, "cannot run %s", cmd);
	while (f && fgets(line, sizeof(line), f)) {
		char name[32];

		if (sscanf(line, "service %31s", name) == 1) {
			snprintf(svc, sizeof(svc), "%s", name);
			continue;
		}
		if (sscanf(line, " pgb%31s", name) != 1 || !svc[0])
			continue;
		found++;
		CHECK(!strcmp(name, svc), "server pgb%s listed under service %s", name, svc);
	}
	if (f)
		CHECK(pclose(f) == 0, "%s failed", cmd);
	CHECK_EQ(found, 3);
	unlink(conf);
	reset();
}

/* --- forged segments (issue 12): off-path packets with the right 4-tuple, wrong sequence numbers --- */

/* A client segment with the sequence numbers given. */
static size_t client_seg(uint8_t *buf, uint16_t cport, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = VPORT, .flags = flags,
			   .seq = seq, .ack = ack };

	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

static size_t backend_seg(uint8_t *buf, const struct pgs_flow *f, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct tspec s = { .saddr = ntohl(f->backend), .daddr = VIP, .sport = ntohs(f->bport), .dport = ntohs(f->sport),
			   .flags = flags, .seq = seq, .ack = ack };

	memcpy(s.smac, MAC_BACKEND, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

/* SYN, SYN-ACK, ACK and 100 bytes from the client: client edge 1101, backend edge 5001; the
 * client's last acknowledgement 5001, the backend's none yet. */
static struct pgs_flow established(uint16_t cport)
{
	fwd(cport, F_SYN, 0, "SYN");
	rev(cport, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(cport, F_ACK, 0, "ACK");
	return fwd(cport, F_ACK | F_PSH, 100, "client data");
}

/* The forged packet was forwarded along the flow (for the endpoint to judge), and nothing moved. */
static void forwarded_untouched(const struct pgs_flow *before, uint16_t cport, int to_backend, uint64_t suspects,
				const char *what)
{
	struct pgs_flow f = {};
	struct tview v = pkt_view(out);

	CHECK(flow_get(cport, &f), "%s: the flow is gone", what);
	CHECK(f.state == before->state && f.slot == before->slot && f.sport == before->sport &&
	      (f.flags & PGS_FLOW_F_COUNTED), "%s: flow moved: state %u->%u slot %u->%u port %u->%u flags %x", what,
	      before->state, f.state, before->slot, f.slot, ntohs(before->sport), ntohs(f.sport), f.flags);
	if (to_backend)
		CHECK(v.daddr == ntohl(before->backend) && v.dport == ntohs(before->bport) && v.sport == ntohs(before->sport),
		      "%s: not forwarded along the flow (%08x:%u)", what, v.daddr, v.dport);
	else
		CHECK(v.daddr == CLIENT && v.dport == cport, "%s: not forwarded to the client", what);
	CHECK(pkt_csums_ok(out, out_len), "%s: checksums", what);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), suspects);
	CHECK_EQ(total_opened(), 1);
	CHECK_EQ(total_closed(), 0);
}

/* Item 1: a SYN on an established flow neither reopens nor moves it; the backend sees it on the
 * same tuple and answers with a challenge ACK. A SYN on a closed flow still opens a new one. */
static void forged_syn_on_established_stays(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;

	reset();
	f = established(50001);
	EXPECT_OUTCOME(run(in, client_seg(in, 50001, F_SYN, 0x5eed1234, 0)), O_TX, "SYN with a random ISN");
	forwarded_untouched(&f, 50001, 1, 1, "SYN on ESTABLISHED");
	/* A late retransmission of the first SYN fits the handshake: forwarded, counted as such. */
	EXPECT_OUTCOME(run(in, client_seg(in, 50001, F_SYN, 1000, 0)), O_TX, "SYN with the first ISN");
	forwarded_untouched(&f, 50001, 1, 1, "the first SYN again on ESTABLISHED");
	CHECK_EQ(verdict(PGS_R_FWD_NEW), 1);
	rev(50001, F_ACK | F_PSH, 10, "the session still answers");
	/* Honest: the session ends, the client reuses its port: a new connection. */
	fwd(50001, F_FIN | F_ACK, 0, "client FIN");
	rev(50001, F_FIN | F_ACK, 0, "server FIN");
	CHECK_EQ(fwd(50001, F_SYN, 0, "SYN after close").state, PGS_FLOW_SYN_SENT);
	CHECK_EQ(total_opened(), 1); /* the new connection counts once its server answers */
	rev(50001, F_SYN | F_ACK, 0, "SYN-ACK of the new connection");
	CHECK_EQ(total_opened(), 2);
}

/* Item 2: an RST ends the flow only at exactly the sender's edge (RFC 5961: anywhere else the
 * endpoint answers with a challenge ACK), a FIN only near it and with an acceptable ACK; anything
 * else is forwarded and ends nothing. */
static void forged_rst_fin_out_of_window(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	uint64_t n = 0;

	reset();
	f = established(50002);
	rev(50002, F_ACK | F_PSH, 200, "server data");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST, 1101 + 0x40000000u, 0)), O_TX, "client RST far ahead");
	forwarded_untouched(&f, 50002, 1, ++n, "client RST out of window");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST, 1101 + PGS_SEQ_WINDOW / 2, 0)), O_TX, "client RST ahead");
	forwarded_untouched(&f, 50002, 1, ++n, "client RST ahead of the edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST | F_ACK, 1101 - PGS_SEQ_WINDOW - 1, 5201)), O_TX, "client RST behind");
	forwarded_untouched(&f, 50002, 1, ++n, "client RST behind the window");
	/* Inside the window but not at the edge: the endpoint challenges it, pgsteer keeps the flow. */
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST, 1100, 0)), O_TX, "client RST one below the edge");
	forwarded_untouched(&f, 50002, 1, ++n, "client RST one below the edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST, 1102, 0)), O_TX, "client RST one above the edge");
	forwarded_untouched(&f, 50002, 1, ++n, "client RST one above the edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_FIN | F_ACK, 0x9abcdef0u, 5201)), O_TX, "client FIN");
	forwarded_untouched(&f, 50002, 1, ++n, "client FIN out of window");
	/* At the edge, but acknowledging what the backend never sent, or far behind it, or nothing. */
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_FIN | F_ACK, 1101, 0x9abcdef0u)), O_TX, "client FIN, random ACK");
	forwarded_untouched(&f, 50002, 1, ++n, "client FIN with a random ACK");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_FIN | F_ACK, 1101, 5202)), O_TX, "client FIN, ACK ahead");
	forwarded_untouched(&f, 50002, 1, ++n, "client FIN acknowledging unsent data");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_FIN | F_ACK, 1101, 5201 - PGS_ACK_WINDOW - 1)), O_TX,
		       "client FIN, ACK far behind");
	forwarded_untouched(&f, 50002, 1, ++n, "client FIN with an ACK far behind");
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_FIN, 1101, 0)), O_TX, "client FIN without ACK");
	forwarded_untouched(&f, 50002, 1, ++n, "client FIN without ACK");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5201 + 0x80000000u, 0)), O_TX, "backend RST");
	forwarded_untouched(&f, 50002, 0, ++n, "backend RST out of window");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5200, 0)), O_TX, "backend RST one below its edge");
	forwarded_untouched(&f, 50002, 0, ++n, "backend RST one below its edge");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_FIN | F_ACK, 0x01020304u, 1101)), O_TX, "backend FIN");
	forwarded_untouched(&f, 50002, 0, ++n, "backend FIN out of window");
	/* A data segment far out does not move the edge: the honest RST below still fits. */
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_ACK, 1101 + 0x20000000u, 5201)), O_TX, "client data far ahead");
	CHECK(flow_get(50002, &f) && f.nxt[0] == 1101, "client edge %u, want 1101", f.nxt[0]);
	CHECK(f.nxt[1] == 5201, "backend edge %u, want 5201", f.nxt[1]);
	CHECK_EQ(state_of(50002), PGS_FLOW_ESTABLISHED);
	/* Honest: the client's RST at its edge ends the flow, once. */
	EXPECT_OUTCOME(run(in, client_seg(in, 50002, F_RST | F_ACK, 1101, 5201)), O_TX, "client RST at its edge");
	CHECK_EQ(state_of(50002), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

/* Honest: the backend's data was lost after pgsteer, so its RST carries less than its edge; the
 * client's challenge ACK names the sequence it expects and the RST answering it at exactly that
 * sequence ends the flow (RFC 5961 3.2), as it ends the connection at the client. */
static void rst_answering_a_challenge_closes(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f;

	reset();
	f = established(50008);
	rev(50008, F_ACK | F_PSH, 200, "server data, lost after pgsteer");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5101, 0)), O_TX, "backend RST inside its window");
	forwarded_untouched(&f, 50008, 0, 1, "backend RST short of its edge");
	EXPECT_OUTCOME(run(in, client_seg(in, 50008, F_ACK, 1101, 5001)), O_TX, "the client's challenge ACK");
	CHECK(flow_get(50008, &f) && (f.flags & PGS_FLOW_F_ACK_CLIENT) && f.ack[0] == 5001, "client ack %u flags %x",
	      f.ack[0], f.flags);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 5001, 0)), O_TX, "backend RST at the acknowledged sequence");
	CHECK_EQ(state_of(50008), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 1);
}

/* Honest FINs inside the window close as before, also when retransmitted behind the edge. */
static void fin_in_window_closes(void)
{
	uint8_t in[PKT_MAX];

	reset();
	established(50003);
	rev(50003, F_ACK | F_PSH, 200, "server data");
	{
		struct pgs_flow f;

		flow_get(50003, &f);
		EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_FIN | F_ACK, 5201, 1101)), O_TX, "backend FIN at its edge");
		CHECK_EQ(state_of(50003), PGS_FLOW_FIN_WAIT);
		EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_FIN | F_ACK, 5201, 1101)), O_TX, "backend FIN again");
	}
	CHECK_EQ(state_of(50003), PGS_FLOW_FIN_WAIT);
	EXPECT_OUTCOME(run(in, client_seg(in, 50003, F_FIN | F_ACK, 1101, 5202)), O_TX, "client FIN at its edge");
	CHECK_EQ(state_of(50003), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 0);
}

/* Item 3: only an RST that acknowledges the client's SYN takes the server out of selection. */
static void forged_rst_in_syn_sent(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_flow f, g;
	uint64_t passive = 0;

	reset();
	f = fwd(50004, F_SYN, 0, "SYN");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST | F_ACK, 0, 0x7777)), O_TX, "RST with a wrong ACK");
	bpf_map_lookup_elem(M.passive, &f.slot, &passive);
	CHECK(passive == 0, "a forged RST took the server out of selection");
	CHECK(flow_get(50004, &g) && g.state == PGS_FLOW_SYN_SENT, "the half-open flow must stay");
	CHECK_EQ(verdict(PGS_R_DROP_REDISPATCH), 0);
	CHECK_EQ(verdict(PGS_R_FWD_SUSPECT), 1);
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST, 0, 0)), O_TX, "RST without ACK");
	CHECK(passive == 0 && state_of(50004) == PGS_FLOW_SYN_SENT, "RST without ACK");
	/* A SYN-ACK that does not acknowledge the SYN is not the handshake either. */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_SYN | F_ACK, 5000, 0x7777)), O_TX, "SYN-ACK with a wrong ACK");
	CHECK_EQ(state_of(50004), PGS_FLOW_SYN_SENT);
	/* Honest: ACK = ISN + 1 (1001). */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_RST | F_ACK, 0, 1001)), O_DROP, "RST refusing the SYN");
	bpf_map_lookup_elem(M.passive, &f.slot, &passive);
	CHECK(passive != 0, "the refusing server must leave selection");
	CHECK_EQ(verdict(PGS_R_DROP_REDISPATCH), 1);
}

/* A flow the datapath did not see open (inserted by the flow sync: no sequence known) learns each
 * side's edge from its first plain segment; an RST before that is not trusted. */
static void synced_flow_learns_the_window(void)
{
	struct pgs_flow_key k = { .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(50005), .vport = htons(VPORT) };
	struct pgs_flow v = { .backend = htonl(BACKEND), .bport = htons(6432), .sport = htons(SNAT_MIN + 3), .slot = 0,
			      .flags = PGS_FLOW_F_COUNTED, .state = PGS_FLOW_ESTABLISHED };
	struct pgs_rflow_key rk = { .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(6432), .sport = htons(SNAT_MIN + 3) };
	struct pgs_conns c = { .opened = 1 };
	uint8_t in[PKT_MAX];
	struct pgs_flow f;

	reset();
	bpf_map_update_elem(M.flows, &k, &v, BPF_NOEXIST);
	bpf_map_update_elem(M.rflows, &rk, &k, BPF_NOEXIST);
	bpf_map_update_elem(M.conns, &(uint32_t){ 0 }, &c, BPF_ANY);
	EXPECT_OUTCOME(run(in, client_seg(in, 50005, F_RST, 777777, 0)), O_TX, "RST before any segment");
	forwarded_untouched(&v, 50005, 1, 1, "RST on a synced flow");
	EXPECT_OUTCOME(run(in, client_seg(in, 50005, F_ACK, 90000, 3000)), O_TX, "first client segment");
	CHECK(flow_get(50005, &f) && (f.flags & PGS_FLOW_F_SEQ_CLIENT) && f.nxt[0] == 90000, "edge learnt: %u", f.nxt[0]);
	EXPECT_OUTCOME(run(in, client_seg(in, 50005, F_RST, 90000, 0)), O_TX, "RST at the edge");
	CHECK_EQ(state_of(50005), PGS_FLOW_CLOSED);
	CHECK_EQ(total_closed(), 1);
}

/* Item 11: a slot given to another server starts from zero (pgsteerd: maps_reset_slot on a new
 * generation); the previous server's flows closing later leave the new server's counts alone. */
static void slot_reuse_starts_from_zero(void)
{
	uint8_t in[PKT_MAX];
	struct pgs_server srv;
	struct pgs_flow f;

	reset();
	set_service(1);
	f = established(50006);
	CHECK_EQ(conns(0).opened, 1);
	bpf_map_lookup_elem(M.servers, &f.slot, &srv);
	srv.port = htons(6499);
	srv.gen++;
	bpf_map_update_elem(M.servers, &f.slot, &srv, BPF_ANY);
	CHECK_EQ(maps_reset_slot(&M, f.slot), 0);
	EXPECT_OUTCOME(run(in, client_seg(in, 50006, F_RST | F_ACK, 1101, 5001)), O_TX, "RST of the old server's flow");
	CHECK_EQ(state_of(50006), PGS_FLOW_CLOSED);
	CHECK(conns(0).opened == 0 && conns(0).closed == 0, "the new server's counts moved: %llu/%llu",
	      (unsigned long long)conns(0).opened, (unsigned long long)conns(0).closed);
	f = fwd(50007, F_SYN, 0, "SYN to the new server");
	CHECK(f.bport == htons(6499) && f.gen == srv.gen, "new flow on port %u gen %u", ntohs(f.bport), f.gen);
	rev(50007, F_SYN | F_ACK, 0, "the new server answers");
	CHECK_EQ(conns(0).opened, 1);
}
#include "cases_guard.h"

/* Item 6: XDP sends a frame itself only back out of its own device or to a device in its
 * pgs_tx_ports (the controller puts there the device XDP is attached to); for any other the packet goes on
 * untouched to the TC program, which redirects to every device. Nothing is counted as forwarded
 * that was not. */
static void redirect_only_through_the_devmap(void)
{
	int tx_ports = bpf_map__fd(xdp_skel->maps.pgs_tx_ports);
	__u32 t2 = if_nametoindex("t2");
	uint8_t in[PKT_MAX];
	size_t len;
	struct pgs_flow f;
	struct tview v;
	enum outcome o;

	reset();
	set_server(0, FARSIDE, 6432, PGS_SRV_UP, 16);
	set_service(1);
	len = client_pkt(in, 49600, F_SYN, 0);
	o = run(in, len);
	if (cur == P_TC) {
		EXPECT_OUTCOME(o, O_TX, "SYN toward another device");
		CHECK(flow_get(49600, &f) && f.backend == htonl(FARSIDE), "TC steers toward any device");
		return;
	}
	EXPECT_OUTCOME(o, O_PASS, "SYN toward a device XDP may not send to");
	CHECK(!memcmp(out, in, len), "a punted packet must be untouched");
	CHECK_EQ(verdict(PGS_R_PASS_PUNT), 1);
	CHECK_EQ(verdict(PGS_R_FWD_NEW), 0);
	CHECK_EQ(state_of(49600), 0);
	/* Honest: the device is one XDP may redirect to. */
	CHECK_EQ(bpf_map_update_elem(tx_ports, &t2, &t2, BPF_ANY), 0);
	EXPECT_OUTCOME(run(in, len), O_TX, "SYN toward a device in pgs_tx_ports");
	v = pkt_view(out);
	CHECK(v.daddr == FARSIDE && !memcmp(v.dmac, (uint8_t[]){ 2, 0, 0, 0, 1, 5 }, 6) &&
	      !memcmp(v.smac, (uint8_t[]){ 2, 0, 0, 0, 1, 1 }, 6), "translated toward t2's neighbour");
	CHECK_EQ(verdict(PGS_R_FWD_NEW), 1);
	CHECK_EQ(state_of(49600), PGS_FLOW_SYN_SENT);
	/* The device leaves the map: the flow's next packet goes to TC untouched, the flow unchanged. */
	bpf_map_delete_elem(tx_ports, &t2);
	len = client_pkt(in, 49600, F_ACK, 0);
	EXPECT_OUTCOME(run(in, len), O_PASS, "ACK toward a device no longer in pgs_tx_ports");
	CHECK(!memcmp(out, in, len), "a punted packet must be untouched");
	CHECK_EQ(verdict(PGS_R_FWD), 0);
}

/* A client segment from the MAC given. */
static size_t client_seg_from(uint8_t *buf, const uint8_t mac[6], uint16_t cport, uint8_t flags, uint32_t seq,
			      uint32_t ack)
{
	struct tspec s = { .saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = VPORT, .flags = flags,
			   .seq = seq, .ack = ack };

	memcpy(s.smac, mac, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

/* Item 12: replies go back the way the client's frames came, learnt from the SYN and from every
 * segment checked in full, never from one that is not (a forger's frames come from its own MAC). */
static void return_path_from_the_client_frames(void)
{
	static const uint8_t moved[6] = { 2, 0, 0, 0, 0, 0x22 }, forger[6] = { 2, 0, 0, 0, 0, 0x66 };
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	struct tview v;

	reset();
	f = established(49510);
	CHECK(f.hop[1].ifindex == (uint32_t)ifindex && !memcmp(f.hop[1].dmac, MAC_CLIENT, 6) &&
	      !memcmp(f.hop[1].smac, MAC_LB, 6), "the way back is the SYN's way in");
	rev(49510, F_ACK | F_PSH, 10, "reply to the client's MAC"); /* rev checks the frame byte for byte */
	/* Forged: the client's tuple from another MAC, sequence numbers guessed. */
	EXPECT_OUTCOME(run(in, client_seg_from(in, forger, 49510, F_RST, 0x31337u, 0)), O_TX, "forged RST");
	EXPECT_OUTCOME(run(in, client_seg_from(in, forger, 49510, F_ACK, 1101 + 1000, 0x7777u)), O_TX,
		       "forged ACK in the window, its ACK guessed");
	CHECK(flow_get(49510, &f) && !memcmp(f.hop[1].dmac, MAC_CLIENT, 6), "a forged segment moved the way back");
	rev(49510, F_ACK | F_PSH, 10, "still to the client's MAC");
	/* Honest: the client's side changed its MAC (a router failed over); its next segment says so. */
	EXPECT_OUTCOME(run(in, client_seg_from(in, moved, 49510, F_ACK, 1101, 5011)), O_TX, "client ACK from a new MAC");
	CHECK(flow_get(49510, &f) && !memcmp(f.hop[1].dmac, moved, 6), "the way back did not follow the client");
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_ACK, 5011, 1101)), O_TX, "reply after the move");
	v = pkt_view(out);
	CHECK(!memcmp(v.dmac, moved, 6) && !memcmp(v.smac, MAC_LB, 6), "the reply went to the old MAC");
	CHECK(pkt_csums_ok(out, out_len), "checksums");
}

/* A flow the flow sync installed (no way back learnt: its client has sent nothing here), of
 * client:cport through slot 0 on SNAT port sport. */
static struct pgs_flow_key synced_flow(uint32_t client, uint16_t cport, uint16_t sport)
{
	struct pgs_flow_key k = { .client = htonl(client), .vip = htonl(VIP), .cport = htons(cport), .vport = htons(VPORT) };
	struct pgs_flow v = { .backend = htonl(BACKEND), .bport = htons(6432), .sport = htons(sport), .slot = 0,
			      .flags = PGS_FLOW_F_COUNTED, .state = PGS_FLOW_ESTABLISHED };
	struct pgs_rflow_key rk = { .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(6432), .sport = htons(sport) };
	struct pgs_conns c = { .opened = 1 };

	bpf_map_update_elem(M.flows, &k, &v, BPF_NOEXIST);
	bpf_map_update_elem(M.rflows, &rk, &k, BPF_NOEXIST);
	bpf_map_update_elem(M.conns, &(uint32_t){ 0 }, &c, BPF_ANY);
	return k;
}

/* After a takeover, a synced flow's first packet is often the server's (a query's late rows, a
 * keepalive): with no way back learnt it must be resolved by FIB and sent to the client, never left
 * to the stack, which holds the VIP and would answer it with an RST. The hop found is kept. A
 * forged client frame before it (another MAC, sequence guessed) does not become the way back. */
static void synced_flow_first_reply_without_learnt_hop(void)
{
	static const uint8_t forger[6] = { 2, 0, 0, 0, 0, 0x66 };
	struct pgs_flow_key k;
	uint8_t in[PKT_MAX];
	struct pgs_flow f;
	struct tview v;
	enum outcome o;
	size_t len;

	reset();
	synced_flow(CLIENT, 49520, SNAT_MIN + 10);
	/* Forged: the client's tuple from another MAC, before anything honest came. */
	EXPECT_OUTCOME(run(in, client_seg_from(in, forger, 49520, F_ACK, 0x31337u, 0x7777u)), O_TX, "forged ACK first");
	CHECK(flow_get(49520, &f) && !f.hop[1].ifindex, "a forged segment set the way back (MAC %02x)", f.hop[1].dmac[5]);
	/* Honest: the server's reply, the flow's first packet from its side. */
	EXPECT_OUTCOME(run(in, backend_seg(in, &f, F_ACK | F_PSH, 5001, 1101)), O_TX, "first reply of a synced flow");
	v = pkt_view(out);
	CHECK(v.saddr == VIP && v.daddr == CLIENT && v.sport == VPORT && v.dport == 49520, "reply translated to %08x:%u",
	      v.daddr, v.dport);
	CHECK(!memcmp(v.dmac, MAC_CLIENT, 6) && !memcmp(v.smac, MAC_LB, 6), "the reply went to MAC %02x, not the client's",
	      v.dmac[5]);
	CHECK(pkt_csums_ok(out, out_len), "checksums");
	CHECK(flow_get(49520, &f) && f.hop[1].ifindex == (uint32_t)ifindex && !memcmp(f.hop[1].dmac, MAC_CLIENT, 6),
	      "the resolved way back was not kept");
	CHECK_EQ(verdict(PGS_R_PASS_PUNT), 0);
	CHECK_EQ(verdict(PGS_R_PASS_NO_FLOW), 0);
	CHECK_EQ(verdict(PGS_R_DROP_FIB), 0);
	/* A client the node has no neighbour entry for: XDP hands the reply to TC untouched (the flow
	 * unchanged), and TC sends it through redirect_neigh. */
	k = synced_flow(NONEIGH, 49521, SNAT_MIN + 11);
	CHECK(bpf_map_lookup_elem(M.flows, &k, &f) == 0, "synced flow missing");
	len = backend_seg(in, &f, F_ACK | F_PSH, 5001, 1101);
	o = run(in, len);

	if (cur == P_XDP) {
		EXPECT_OUTCOME(o, O_PASS, "reply toward an unresolved client");
		CHECK(!memcmp(out, in, len), "a punted reply must be untouched");
		CHECK_EQ(verdict(PGS_R_PASS_PUNT), 1);
		CHECK(bpf_map_lookup_elem(M.flows, &k, &f) == 0 && !f.hop[1].ifindex, "XDP cached a hop it did not resolve");
		return;
	}
	EXPECT_OUTCOME(o, O_TX, "reply toward an unresolved client");
	v = pkt_view(out);
	CHECK(v.saddr == VIP && v.daddr == NONEIGH && v.dport == 49521, "reply translated to %08x:%u", v.daddr, v.dport);
	CHECK(pkt_csums_ok(out, out_len), "checksums");
	CHECK(bpf_map_lookup_elem(M.flows, &k, &f) == 0 && !f.hop[1].ifindex, "TC cached a hop the kernel resolves");
}

/* --- the controller's clean-up over these maps (userspace/datapath.c) ---------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One whole clean-up pass at a time of the case's choosing; its figures in *res. */
static void gc_full_pass_at(struct datapath *dp, struct dp_gc *res, uint64_t now)
{
	struct config cfg = { .flow_table_size = FLOW_TABLE, .snat_min = SNAT_MIN, .snat_max = SNAT_MAX, .t_syn_ms = 30000,
			      .t_est_ms = 3600000, .t_fin_ms = 60000, .t_closed_ms = 10000 };
	int i, r;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < 1000 && !res->done; i++) {
		r = datapath_gc(dp, &cfg, now, res);
		CHECK(r == 0, "datapath_gc: %s", strerror(-r));
		if (r)
			return;
	}
	CHECK(res->done, "the pass did not finish");
}

/* One whole clean-up pass now. */
static void gc_full_pass(struct datapath *dp, struct dp_gc *res)
{
	gc_full_pass_at(dp, res, mono_ns());
}

static struct pgs_flow_key fkey(uint16_t cport)
{
	return (struct pgs_flow_key){ .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(cport), .vport = htons(VPORT) };
}

static struct pgs_rflow_key rkey(uint16_t bport, uint16_t sport)
{
	return (struct pgs_rflow_key){ .backend = htonl(BACKEND), .vip = htonl(VIP), .bport = htons(bport), .sport = htons(sport) };
}

static int rflow_there(uint16_t bport, uint16_t sport)
{
	struct pgs_rflow_key rk = rkey(bport, sport);
	struct pgs_flow_key k;

	return bpf_map_lookup_elem(M.rflows, &rk, &k) == 0;
}

/* Item 11: a reverse entry whose flow is gone (a client's reopen raced a deletion by key) holds its
 * SNAT port for ever unless the clean-up removes it; one whose flow is about to be inserted (a SYN
 * claims the port first) must stay. Removed only when two passes in a row find it orphaned. */
static void gc_sweeps_orphaned_reverse_entries(void)
{
	/* Backend ports no server has: no clash with the live flow's SNAT port. */
	struct pgs_rflow_key o1 = rkey(6499, SNAT_MAX), o2 = rkey(6498, SNAT_MAX), y = rkey(6497, SNAT_MAX);
	struct pgs_flow_key k1 = fkey(50011), ka = fkey(50010), ky = fkey(50012);
	struct pgs_flow a, fy = { .backend = htonl(BACKEND), .bport = htons(6497), .sport = htons(SNAT_MAX),
				  .flags = PGS_FLOW_F_COUNTED, .state = PGS_FLOW_ESTABLISHED };
	struct datapath *dp = NULL;
	struct dp_gc res;

	reset();
	a = established(50010);
	bpf_map_update_elem(M.rflows, &o1, &k1, BPF_NOEXIST); /* its flow is gone */
	bpf_map_update_elem(M.rflows, &o2, &ka, BPF_NOEXIST); /* names a flow that holds another port */
	bpf_map_update_elem(M.rflows, &y, &ky, BPF_NOEXIST);  /* a SYN's claim, its flow comes next */
	CHECK_EQ(datapath_over_maps(&dp, &M), 0);
	if (!dp)
		return;
	fy.seen_ns = fy.created_ns = mono_ns();
	gc_full_pass(dp, &res);
	CHECK_EQ(res.orphans, 0);
	CHECK(rflow_there(6499, SNAT_MAX) && rflow_there(6498, SNAT_MAX) && rflow_there(6497, SNAT_MAX),
	      "a reverse entry went at its first sighting");
	bpf_map_update_elem(M.flows, &ky, &fy, BPF_NOEXIST);
	gc_full_pass(dp, &res);
	CHECK_EQ(res.orphans, 0); /* orphaned, but not for a TIME_WAIT yet (gc_holds_backend_time_wait_port) */
	gc_full_pass_at(dp, &res, mono_ns() + PGS_TIME_WAIT_NS);
	CHECK_EQ(res.orphans, 2);
	CHECK(!rflow_there(6499, SNAT_MAX), "the reverse entry of a gone flow stayed");
	CHECK(!rflow_there(6498, SNAT_MAX), "the reverse entry naming another port's flow stayed");
	CHECK(rflow_there(6497, SNAT_MAX), "the reverse entry whose flow came in between went");
	CHECK(rflow_there(ntohs(a.bport), ntohs(a.sport)), "a live flow's reverse entry went");
	CHECK(flow_get(50010, &a) && a.state == PGS_FLOW_ESTABLISHED, "the live flow went");
	rev(50010, F_ACK | F_PSH, 10, "the live flow still answers");
	datapath_close(dp);
}

/* A backend that closed first holds TIME_WAIT on the old SNAT port: when the client reuses its
 * port, the new connection gets another SNAT port and the old one stays claimed (its reverse entry)
 * until the new flow is older than a TIME_WAIT, so no other connection's SYN meets that TIME_WAIT.
 * Next to it, the client closing first: nothing is held (port_reuse_after_close). */
static void gc_holds_backend_time_wait_port(void)
{
	struct pgs_flow a, b;
	struct pgs_flow_key kb = fkey(40017);
	struct datapath *dp = NULL;
	struct dp_gc res;
	uint64_t t0;

	reset();
	a = open_conn(40017);
	fwd(40017, F_ACK, 0, "ACK");
	rev(40017, F_FIN | F_ACK, 0, "server FIN");
	fwd(40017, F_FIN | F_ACK, 0, "client FIN");
	b = fwd(40017, F_SYN, 0, "SYN on the closed flow");
	CHECK(b.sport != a.sport || b.bport != a.bport, "the new connection took the port the backend holds");
	CHECK(rflow_there(ntohs(a.bport), ntohs(a.sport)), "the port of the backend's TIME_WAIT was freed at the reopen");
	rev(40017, F_SYN | F_ACK, 0, "SYN-ACK");
	fwd(40017, F_ACK, 0, "ACK");
	CHECK_EQ(datapath_over_maps(&dp, &M), 0);
	if (!dp)
		return;
	t0 = mono_ns();
	gc_full_pass_at(dp, &res, t0);
	gc_full_pass_at(dp, &res, t0 + PGS_TIME_WAIT_NS / 2);
	CHECK_EQ(res.orphans, 0);
	CHECK(rflow_there(ntohs(a.bport), ntohs(a.sport)), "the clean-up freed the port within the TIME_WAIT");
	/* The new flow closes too, client first, and goes: the old port stays held all the same. */
	fwd(40017, F_FIN | F_ACK, 0, "client FIN");
	rev(40017, F_FIN | F_ACK, 0, "server FIN");
	bpf_map_delete_elem(M.flows, &kb);
	bpf_map_delete_elem(M.rflows, &(struct pgs_rflow_key){ .backend = b.backend, .vip = htonl(VIP), .bport = b.bport, .sport = b.sport });
	gc_full_pass_at(dp, &res, t0 + PGS_TIME_WAIT_NS / 2 + 1000000000ull);
	CHECK_EQ(res.orphans, 0);
	CHECK(rflow_there(ntohs(a.bport), ntohs(a.sport)), "the port was freed when the new flow went");
	gc_full_pass_at(dp, &res, t0 + PGS_TIME_WAIT_NS);
	CHECK_EQ(res.orphans, 1);
	CHECK(!rflow_there(ntohs(a.bport), ntohs(a.sport)), "the port stayed held after the TIME_WAIT");
	datapath_close(dp);

	/* The client closed first: its port is free at once. */
	reset();
	a = open_conn(40018);
	fwd(40018, F_ACK, 0, "ACK");
	fwd(40018, F_FIN | F_ACK, 0, "client FIN");
	rev_fin_after_client_fin(40018, "server FIN");
	b = fwd(40018, F_SYN, 0, "SYN on the closed flow");
	CHECK(!rflow_there(ntohs(a.bport), ntohs(a.sport)) || (a.sport == b.sport && a.bport == b.bport),
	      "a port no TIME_WAIT holds stayed claimed");
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 1);

	/* The FINs crossed (the backend's acknowledges 1001, not the client's FIN): both ends keep
	 * TIME_WAIT, so the port is held. */
	reset();
	a = open_conn(40019);
	fwd(40019, F_ACK, 0, "ACK");
	fwd(40019, F_FIN | F_ACK, 0, "client FIN");
	rev(40019, F_FIN | F_ACK, 0, "server FIN, crossing");
	CHECK(flow_get(40019, &b) && (b.flags & PGS_FLOW_F_SERVER_FIRST), "crossing FINs: the backend's TIME_WAIT not noted");
	b = fwd(40019, F_SYN, 0, "SYN on the closed flow");
	CHECK(rflow_there(ntohs(a.bport), ntohs(a.sport)), "the port of the backend's TIME_WAIT was freed at the reopen");
	CHECK_EQ(count_entries(M.rflows, sizeof(struct pgs_rflow_key)), 2);
}

/* Item 8: taking over walks nothing; the next clean-up pass forgets the flows not seen since this
 * node stopped steering and recounts every slot (synced flows were never opened here). An ordinary
 * pass forgets none of them. */
static void gc_takeover_pass_forgets_stale_flows(void)
{
	struct pgs_flow_key ks = fkey(50021), kd = fkey(50022);
	struct pgs_rflow_key rs = rkey(6499, SNAT_MAX), rd = rkey(6498, SNAT_MAX);
	struct pgs_flow stale = { .backend = htonl(BACKEND), .bport = htons(6499), .sport = htons(SNAT_MAX), .slot = 0,
				  .flags = PGS_FLOW_F_COUNTED, .state = PGS_FLOW_ESTABLISHED };
	struct pgs_flow synced = stale;
	struct datapath *dp = NULL;
	struct pgs_conns c;
	struct pgs_flow b;
	struct dp_gc res;
	uint64_t adj = 0, t = mono_ns();

	reset();
	set_service(1);
	b = established(50020);
	stale.seen_ns = stale.created_ns = t - 3000000000ull;
	synced.bport = htons(6498);
	synced.seen_ns = synced.created_ns = t;
	bpf_map_update_elem(M.rflows, &rs, &ks, BPF_NOEXIST);
	bpf_map_update_elem(M.flows, &ks, &stale, BPF_NOEXIST);
	bpf_map_update_elem(M.rflows, &rd, &kd, BPF_NOEXIST);
	bpf_map_update_elem(M.flows, &kd, &synced, BPF_NOEXIST);
	CHECK_EQ(datapath_over_maps(&dp, &M), 0);
	if (!dp)
		return;
	gc_full_pass(dp, &res);
	CHECK(res.stale == 0 && !res.takeover && count_entries(M.flows, sizeof(struct pgs_flow_key)) == 3,
	      "an ordinary pass forgot %llu flow(s)", (unsigned long long)res.stale);
	datapath_takeover(dp, t - 1000000000ull);
	CHECK_EQ(datapath_gc_takeover_pending(dp), 1);
	CHECK_EQ(count_entries(M.flows, sizeof(struct pgs_flow_key)), 3); /* nothing walked yet */
	gc_full_pass(dp, &res);
	CHECK_EQ(res.takeover, 1);
	CHECK_EQ(res.stale, 1);
	CHECK_EQ(datapath_gc_takeover_pending(dp), 0);
	CHECK(!flow_get(50021, &stale) && !rflow_there(6499, SNAT_MAX), "the stale flow stayed");
	CHECK(flow_get(50020, &b) && flow_get(50022, &synced), "a live flow went");
	bpf_map_lookup_elem(M.conns, &(uint32_t){ 0 }, &c);
	bpf_map_lookup_elem(M.conn_adj, &(uint32_t){ 0 }, &adj);
	CHECK(c.opened - c.closed - adj == 2, "slot 0 counts %llu, want its 2 flows",
	      (unsigned long long)(c.opened - c.closed - adj));
	datapath_close(dp);
}

#include "bpf_syncookie.h"
#include "bpf_seqhint.h"
#include "cases_icmp.h" /* after the cookie helpers: a cookie flow's errors */

#define CASE(fn) { #fn, fn }

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	CASE(syn_steers_to_a_server),
	CASE(syn_retransmit_same_server),
	CASE(handshake_data_client_closes),
	CASE(server_closes_first),
	CASE(rst_decrements_once),
	CASE(server_rst_established),
	CASE(port_reuse_after_close),
	CASE(non_syn_without_state_passes),
	CASE(inactive_node_passes),
	CASE(states_excluded),
	CASE(weight_zero_and_passive_excluded),
	CASE(ties_take_turns),
	CASE(leastconn_spreads_held_connections),
	CASE(weights_two_to_one),
	CASE(snat_collision_probes_next_port),
	CASE(snat_exhausted_drops),
	CASE(table_full_keeps_existing_flows),
	CASE(backend_refuses_syn_redispatch),
	CASE(syn_to_unselectable_server_redispatches),
	CASE(non_vip_traffic_passes),
	CASE(malformed_frames_dropped),
	CASE(ip_options_steered_intact),
	CASE(fragments),
	CASE(unresolved_neighbour),
	CASE(shutdown_sessions_reset),
	CASE(next_hop_cached_then_re_resolved),
	CASE(return_path_from_the_client_frames),
	CASE(synced_flow_first_reply_without_learnt_hop),
	CASE(redirect_only_through_the_devmap),
	CASE(events_established_then_closed),
	CASE(events_rst_closes_established),
	CASE(events_forged_none),
	CASE(events_inactive_node_none),
	CASE(forged_syn_on_established_stays),
	CASE(forged_rst_fin_out_of_window),
	CASE(rst_answering_a_challenge_closes),
	CASE(fin_in_window_closes),
	CASE(forged_rst_in_syn_sent),
	CASE(synced_flow_learns_the_window),
	CASE(slot_reuse_starts_from_zero),
	CASE(pg_cancel_recognised_once),
	CASE(pg_cancel_not_first_payload),
	CASE(pg_cancel_near_misses),
	CASE(pg_cancel_routing_off),
	CASE(policy_deny_source),
	CASE(policy_allow_lists),
	CASE(cookie_synack_no_state),
	CASE(cookie_session_translated),
	CASE(cookie_forged_acks_dropped),
	CASE(cookie_forged_rst_fin_out_of_window),
	CASE(cookie_backend_refuses),
	CASE(cookie_backend_time_wait),
	CASE(cookie_flow_survives_takeover),
	CASE(cookie_connect_timeout),
	CASE(cookie_rst_fin_exact),
	CASE(cookie_flood_auto),
	CASE(hint_honest_close_first),
	CASE(hint_stale_close_after_the_peer),
	CASE(hint_forged_close_changes_nothing),
	CASE(hint_none_close_untrusted),
	CASE(epoch_takeover_makes_old_edges_hints),
	CASE(epoch_current_edges_stay_learnt),
	ICMP_CASES
	GUARD_CASES
};

int main(void)
{
	char name[128];
	cpu_set_t cpus;
	size_t i;

	if (geteuid() != 0) {
		SKIP("bpf_datapath", "needs root");
		return 0;
	}
	/* One CPU: per-CPU round-robin state and counters then behave deterministically. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	setup_netns();
	load(SNAT_MIN, SNAT_MAX, FLOW_TABLE);
	for (cur = P_XDP; cur <= P_TC; cur++)
		for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			snprintf(name, sizeof(name), "bpf/%s/%s", prog_name[cur], cases[i].name);
			h_begin(name);
			cases[i].fn();
			h_end();
		}
	cur = P_TC;
	h_begin("bpf/gc/sweeps_orphaned_reverse_entries");
	gc_sweeps_orphaned_reverse_entries();
	h_end();
	h_begin("bpf/gc/holds_backend_time_wait_port");
	gc_holds_backend_time_wait_port();
	h_end();
	h_begin("bpf/gc/takeover_pass_forgets_stale_flows");
	gc_takeover_pass_forgets_stale_flows();
	h_end();
	h_begin("bpf/cli/status_follows_the_maps");
	cli_status_follows_the_maps();
	h_end();
	pgs_xdp__destroy(xdp_skel);
	pgs_tc__destroy(tc_skel);
	maps_close(&M);
	return h_exit();
}

/* SNAT port allocation at scale (issue 12 item 10): one backend:port must carry at least 90% of
 * its SNAT port range before the first SYN is refused for want of a port. Real SYNs through the
 * XDP and the TC program (BPF_PROG_TEST_RUN), each from its own client address and port, with no
 * flow ever closing: every flow holds its port. Needs root. */
#include <errno.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include "harness.h"
#include "pktgen.h"
#include "testenv.h"

#define RANGE_MIN 30000
#define RANGE_MAX 34095 /* 4096 ports */
#define RANGE (RANGE_MAX - RANGE_MIN + 1)
#define FLOWS (2 * RANGE)

static void clear_hash(int fd, size_t ksize)
{
	uint8_t key[64], next[64];

	while (bpf_map_get_next_key(fd, NULL, next) == 0) {
		memcpy(key, next, ksize);
		bpf_map_delete_elem(fd, key);
	}
}

/* VIP:5432 -> one server, BACKEND:6432, with fresh counters. */
static void setup(void)
{
	struct pgs_svc_key k = { .vip = htonl(VIP), .port = htons(VPORT) };
	/* SYN cookies off: full SNAT ranges would turn them on (the flood case is bpf_syncookie.h's). */
	struct pgs_svc v = { .id = 0, .nservers = 1, .name = "pgsql", .syn_cookies = PGS_COOKIES_OFF };
	struct pgs_server s = { .addr = htonl(BACKEND), .port = htons(6432), .state = PGS_SRV_UP, .weight = 16,
				.name = "pgb1" };
	struct pgs_conns c = { 0 };
	uint32_t slot = pgs_slot(0, 0);

	clear_hash(M.flows, sizeof(struct pgs_flow_key));
	clear_hash(M.rflows, sizeof(struct pgs_rflow_key));
	bpf_map_update_elem(M.services, &k, &v, BPF_ANY);
	bpf_map_update_elem(M.servers, &slot, &s, BPF_ANY);
	bpf_map_update_elem(M.conns, &slot, &c, BPF_ANY);
	maps_set_active(&M, 1);
}

/* The return code of one client SYN (client 10.8.x.y, port by number). */
static int syn(uint32_t n, int fd, int xdp)
{
	static uint8_t in[PKT_MAX], out[PKT_MAX];
	struct tspec s = { .saddr = IP(10, 8, 0, 0) + n / 1000, .daddr = VIP, .sport = (uint16_t)(40000 + n % 1000),
			   .dport = VPORT, .flags = F_SYN, .seq = n * 7919u };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_out = out, .data_size_out = sizeof(out), .repeat = 1);
	struct xdp_md xctx = { .ingress_ifindex = (uint32_t)ifindex };
	struct __sk_buff sctx = { .ifindex = (uint32_t)ifindex };

	memcpy(s.smac, MAC_CLIENT, 6);
	memcpy(s.dmac, MAC_LB, 6);
	o.data_size_in = (uint32_t)pkt_build(in, &s);
	xctx.data_end = o.data_size_in;
	o.ctx_in = xdp ? (void *)&xctx : (void *)&sctx;
	o.ctx_size_in = xdp ? sizeof(xctx) : sizeof(sctx);
	if (bpf_prog_test_run_opts(fd, &o))
		return -1;
	return (int)o.retval;
}

static void fills_the_range(int fd, int xdp)
{
	uint64_t v[PGS_R_MAX];
	uint32_t n, ok = 0;
	int rc = 0;

	setup();
	for (n = 0; n < RANGE; n++) {
		rc = syn(n, fd, xdp);
		if (rc != (xdp ? XDP_TX : TC_ACT_REDIRECT))
			break;
		ok++;
	}
	maps_read_verdicts(&M, v);
	printf("     %s: %u of %u SNAT ports (%.1f%%) in use before the first refusal\n", xdp ? "xdp" : "tc", ok, RANGE,
	       100.0 * ok / RANGE);
	CHECK(ok * 10 >= RANGE * 9, "the first SYN refused at %u of %u ports (%.1f%%), want >= 90%%", ok, RANGE,
	      100.0 * ok / RANGE);
	CHECK(ok == RANGE || (rc == (xdp ? XDP_DROP : TC_ACT_SHOT) && v[PGS_R_DROP_SNAT_EXHAUSTED] > 0),
	      "the refused SYN (rc %d) should count as drop_snat_exhausted", rc);
	/* Every port taken: the next SYN is refused. */
	if (ok == RANGE)
		CHECK_EQ(syn(RANGE, fd, xdp), xdp ? XDP_DROP : TC_ACT_SHOT);
}

int main(void)
{
	char name[96];
	cpu_set_t cpus;

	if (geteuid() != 0) {
		SKIP("bpf_snat", "needs root");
		return 0;
	}
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	setup_netns();
	load(RANGE_MIN, RANGE_MAX, FLOWS);
	for (cur = P_XDP; cur <= P_TC; cur++) {
		snprintf(name, sizeof(name), "bpf/%s/snat_fills_90_percent_of_the_range", prog_name[cur]);
		h_begin(name);
		fills_the_range(prog_fd[cur], cur == P_XDP);
		h_end();
	}
	pgs_xdp__destroy(xdp_skel);
	pgs_tc__destroy(tc_skel);
	maps_close(&M);
	return h_exit();
}

/* Nanoseconds per packet of the datapath, through BPF_PROG_TEST_RUN: one run per call (repeat = 1)
 * so every packet starts from a fresh frame, averaged over many calls. New flows (a SYN from a new
 * client port each time) and established flows (client and server segments of one flow), for XDP
 * and TC. Needs root; runs in a private network namespace. */
#include <errno.h>
#include <string.h>
#include <linux/pkt_cls.h>
#include "bpf/pktgen.h"
#include "bpf/testenv.h"
#include "bench_fwd.skel.h"

#define RUNS 20000
#define REPEATS 5 /* the median of REPEATS means of RUNS packets */
#define COLD_FLOWS 16384 /* flows of the cold case, one packet each */
#ifndef EMPTY_PROG
#define EMPTY_PROG "build/bpf/xdp_pass.bpf.o"
#endif

static const char *argv0;

static int run_once(int fd, const uint8_t *pkt, size_t len, uint32_t *ns, int *ret)
{
	uint8_t out[PKT_MAX];
	struct xdp_md x = { .data_end = (uint32_t)len, .ingress_ifindex = (uint32_t)ifindex };
	struct __sk_buff k = { .ifindex = (uint32_t)ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = (uint32_t)len, .data_out = out,
		    .data_size_out = sizeof(out), .repeat = 1);

	if (cur == P_XDP) {
		o.ctx_in = &x;
		o.ctx_size_in = sizeof(x);
	} else {
		o.ctx_in = &k;
		o.ctx_size_in = sizeof(k);
	}
	if (bpf_prog_test_run_opts(fd, &o))
		return -errno;
	*ns = o.duration;
	*ret = (int)o.retval;
	return 0;
}

static int forwarded(int ret)
{
	return cur == P_XDP ? ret == XDP_TX : ret == TC_ACT_REDIRECT;
}

/* A segment as a stack sends it: the SYN (or SYN-ACK) at ISN 1, the rest at 2, acknowledging the
 * other side's ISN + 1, so the handshake completes (lb.h handshake_fits). */
static size_t seg(uint8_t *buf, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport, uint8_t flags, const uint8_t *smac)
{
	struct tspec s = { .saddr = src, .daddr = dst, .sport = sport, .dport = dport, .flags = flags,
			   .seq = (flags & F_SYN) ? 1 : 2, .ack = (flags & F_ACK) ? 2 : 0, .payload = (flags & F_PSH) ? 64 : 0 };

	memcpy(s.smac, smac, 6);
	memcpy(s.dmac, MAC_LB, 6);
	return pkt_build(buf, &s);
}

/* Empty both flow maps: every key collected first (a walk restarted from the first bucket after
 * each delete would cost a scan of the whole table per entry), then deleted. */
static void clear_map(int fd, size_t ksz)
{
	size_t n = 0, cap = 1024, i;
	uint8_t *keys = malloc(cap * ksz), *prev = NULL;

	while (keys && !bpf_map_get_next_key(fd, prev, keys + n * ksz)) {
		prev = keys + n * ksz;
		if (++n == cap) {
			uint8_t *k = realloc(keys, 2 * cap * ksz);

			if (!k)
				break;
			keys = k;
			cap *= 2;
			prev = keys + (n - 1) * ksz;
		}
	}
	for (i = 0; keys && i < n; i++)
		bpf_map_delete_elem(fd, keys + i * ksz);
	free(keys);
}

/* Empty the flow maps, and the half-open accounting of the flows they held: else the SYNs of the
 * last case, never answered, leave the service in SYN-flood mode and the next case's SYNs are
 * answered with cookies, opening no flow (synguard.h). */
static void clear_flows(void)
{
	struct pgs_synguard g = {};
	uint64_t adj = 0;
	uint32_t id = 0;

	clear_map(M.flows, sizeof(struct pgs_flow_key));
	clear_map(M.rflows, sizeof(struct pgs_rflow_key));
	bpf_map_update_elem(M.synguard, &id, &g, BPF_ANY);
	bpf_map_update_elem(M.synguard_adj, &id, &adj, BPF_ANY);
}

static void setup_service(void)
{
	struct pgs_svc_key sk = { .vip = htonl(VIP), .port = htons(VPORT) };
	struct pgs_svc sv = { .id = 0, .nservers = 3, .name = "pgsql" };
	uint32_t i;

	for (i = 0; i < 3; i++) {
		struct pgs_server s = { .addr = htonl(BACKEND), .port = htons((uint16_t)(6432 + i)), .state = PGS_SRV_UP, .weight = 16 };

		bpf_map_update_elem(M.servers, &i, &s, BPF_ANY);
	}
	bpf_map_update_elem(M.services, &sk, &sv, BPF_ANY);
	maps_set_active(&M, 1);
}

/* Average ns of RUNS new connections, each a SYN from another client. */
static double bench_new(int *bad)
{
	uint8_t pkt[PKT_MAX];
	uint64_t total = 0;
	uint32_t ns;
	int i, ret;

	clear_flows();
	for (i = 0; i < RUNS; i++) {
		size_t len = seg(pkt, CLIENT + (uint32_t)(i / 50000), VIP, (uint16_t)(1024 + i % 50000), VPORT, F_SYN, MAC_CLIENT);

		if (run_once(prog_fd[cur], pkt, len, &ns, &ret) || !forwarded(ret))
			(*bad)++;
		total += ns;
	}
	clear_flows();
	return (double)total / RUNS;
}

/* Open flow CPORT with a full handshake (SYN, SYN-ACK, ACK); its entry goes to *f. */
static int establish(uint16_t cport, struct pgs_flow *f)
{
	uint8_t pkt[PKT_MAX];
	struct pgs_flow_key k = { .client = htonl(CLIENT), .vip = htonl(VIP), .cport = htons(cport), .vport = htons(VPORT) };
	uint32_t ns;
	size_t len;
	int ret;

	len = seg(pkt, CLIENT, VIP, cport, VPORT, F_SYN, MAC_CLIENT);
	run_once(prog_fd[cur], pkt, len, &ns, &ret);
	if (bpf_map_lookup_elem(M.flows, &k, f))
		return -1;
	len = seg(pkt, BACKEND, VIP, ntohs(f->bport), ntohs(f->sport), F_SYN | F_ACK, MAC_BACKEND);
	run_once(prog_fd[cur], pkt, len, &ns, &ret);
	len = seg(pkt, CLIENT, VIP, cport, VPORT, F_ACK, MAC_CLIENT);
	run_once(prog_fd[cur], pkt, len, &ns, &ret);
	return 0;
}

/* Average ns of a segment of one established flow, again and again (its entry stays hot in the
 * caches): client data, or server replies. */
static double bench_est(int reply, int *bad)
{
	uint8_t pkt[PKT_MAX];
	struct pgs_flow f;
	uint64_t total = 0;
	uint32_t ns;
	size_t len;
	int i, ret;

	clear_flows();
	if (establish(999, &f)) {
		(*bad)++;
		return 0;
	}
	if (reply)
		len = seg(pkt, BACKEND, VIP, ntohs(f.bport), ntohs(f.sport), F_ACK | F_PSH, MAC_BACKEND);
	else
		len = seg(pkt, CLIENT, VIP, 999, VPORT, F_ACK | F_PSH, MAC_CLIENT);
	for (i = 0; i < RUNS; i++) {
		if (run_once(prog_fd[cur], pkt, len, &ns, &ret) || !forwarded(ret))
			(*bad)++;
		total += ns;
	}
	clear_flows();
	return (double)total / RUNS;
}

/* Average ns of client data over COLD_FLOWS established flows, one packet each in turn: every
 * lookup meets another entry, as on a balancer with many live flows. */
static double bench_cold(int *bad)
{
	static uint8_t pkts[COLD_FLOWS][PKT_MAX];
	static size_t lens[COLD_FLOWS];
	struct pgs_flow f;
	uint64_t total = 0;
	uint32_t ns;
	int i, ret;

	clear_flows();
	for (i = 0; i < COLD_FLOWS; i++) {
		if (establish((uint16_t)(1024 + i), &f)) {
			(*bad)++;
			return 0;
		}
		lens[i] = seg(pkts[i], CLIENT, VIP, (uint16_t)(1024 + i), VPORT, F_ACK | F_PSH, MAC_CLIENT);
	}
	for (i = 0; i < COLD_FLOWS; i++) {
		if (run_once(prog_fd[cur], pkts[i], lens[i], &ns, &ret) || !forwarded(ret))
			(*bad)++;
		total += ns;
	}
	clear_flows();
	return (double)total / COLD_FLOWS;
}

/* The bare forwarder (bpf/bench_fwd.bpf.c) with the test environment's mapping: client data and
 * server replies (it keeps no state, so every packet is its "new" and "established" packet). */
static double bench_fwd(int reply, int *bad)
{
	struct pgs_bench_fwd *s = pgs_bench_fwd__open();
	uint8_t pkt[PKT_MAX];
	uint64_t total = 0;
	uint32_t ns;
	size_t len;
	enum prog saved = cur;
	int i, ret, fd;

	if (!s) {
		(*bad)++;
		return 0;
	}
	s->rodata->fwd_vip = htonl(VIP);
	s->rodata->fwd_vport = htons(VPORT);
	s->rodata->fwd_client = htonl(CLIENT);
	s->rodata->fwd_server = htonl(BACKEND);
	for (i = 0; i < 3; i++)
		s->rodata->fwd_sports[i] = htons((uint16_t)(6432 + i));
	s->rodata->fwd_nservers = 3;
	memcpy((void *)s->rodata->fwd_mac_self, MAC_LB, 6);
	memcpy((void *)s->rodata->fwd_mac_client, MAC_CLIENT, 6);
	memcpy((void *)s->rodata->fwd_mac_server, MAC_BACKEND, 6);
	if (pgs_bench_fwd__load(s)) {
		pgs_bench_fwd__destroy(s);
		(*bad)++;
		return 0;
	}
	fd = bpf_program__fd(s->progs.bench_fwd);
	if (reply)
		len = seg(pkt, BACKEND, VIP, 6433, 999, F_ACK | F_PSH, MAC_BACKEND);
	else
		len = seg(pkt, CLIENT, VIP, 999, VPORT, F_ACK | F_PSH, MAC_CLIENT);
	cur = P_XDP;
	for (i = 0; i < RUNS; i++) {
		if (run_once(fd, pkt, len, &ns, &ret) || ret != XDP_TX)
			(*bad)++;
		total += ns;
	}
	cur = saved;
	pgs_bench_fwd__destroy(s);
	return (double)total / RUNS;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, REPEATS, sizeof(*v), cmp_double);
	return v[REPEATS / 2];
}

/* The harness's own cost: the same call around XDP's pass-everything program. */
static double bench_empty(void)
{
	struct bpf_object *o = bpf_object__open_file(EMPTY_PROG, NULL);
	uint8_t pkt[PKT_MAX];
	uint64_t total = 0;
	uint32_t ns;
	size_t len = seg(pkt, CLIENT, VIP, 999, VPORT, F_ACK, MAC_CLIENT);
	enum prog saved = cur;
	int i, ret, fd;

	if (!o || bpf_object__load(o))
		return 0;
	fd = bpf_program__fd(bpf_object__next_program(o, NULL));
	cur = P_XDP;
	for (i = 0; i < RUNS; i++) {
		run_once(fd, pkt, len, &ns, &ret);
		total += ns;
	}
	cur = saved;
	bpf_object__close(o);
	return (double)total / RUNS;
}

int main(int argc, char **argv)
{
	cpu_set_t cpus;
	double base;
	int bad = 0;

	argv0 = argv[0];
	if (geteuid() != 0) {
		fprintf(stderr, "%s: needs root\n", argv0);
		return 2;
	}
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	setup_netns();
	load(10000, 32767, 262144);
	setup_service();
	{
		double b[REPEATS];
		int i;

		for (i = 0; i < REPEATS; i++)
			b[i] = bench_empty();
		base = median(b);
	}
	printf("ns per packet: BPF_PROG_TEST_RUN, one run per call so each packet is a fresh frame; the median of %d\n"
	       "means of %d runs, less %.1f ns measured the same way around an empty XDP program (the harness's cost).\n"
	       "est. hot: one flow again and again; est. cold: %d flows, one packet each; fwd: the bench's bare\n"
	       "XDP forwarder (static mapping, no state)\n",
	       REPEATS, RUNS, base, COLD_FLOWS);
	printf("%-4s %10s %10s %10s %10s\n", "prog", "new flow", "est. hot", "est. cold", "reply");
	for (cur = P_XDP; cur <= P_TC; cur++) {
		double n[REPEATS], e[REPEATS], c[REPEATS], r[REPEATS];
		int i;

		for (i = 0; i < REPEATS; i++) {
			n[i] = bench_new(&bad);
			e[i] = bench_est(0, &bad);
			c[i] = bench_cold(&bad);
			r[i] = bench_est(1, &bad);
		}
		printf("%-4s %10.1f %10.1f %10.1f %10.1f\n", prog_name[cur], median(n) - base, median(e) - base,
		       median(c) - base, median(r) - base);
	}
	{
		double e[REPEATS], r[REPEATS];
		int i;

		for (i = 0; i < REPEATS; i++) {
			e[i] = bench_fwd(0, &bad);
			r[i] = bench_fwd(1, &bad);
		}
		printf("%-4s %10s %10.1f %10s %10.1f\n", "fwd", "-", median(e) - base, "-", median(r) - base);
	}
	if (bad)
		fprintf(stderr, "%s: %d runs were not forwarded\n", argv0, bad);
	pgs_xdp__destroy(xdp_skel);
	pgs_tc__destroy(tc_skel);
	return bad ? 1 : 0;
}

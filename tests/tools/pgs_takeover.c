/* How long taking over holds the VIP back (issue 12 item 8): dpsync_takeover, which runs before
 * steering turns on and the VIP is added, timed over a flow table of FLOWS established flows with
 * learnt sequence edges (default 1,000,000). Then how many flows still hold learnt edges in the map
 * (the datapath turns them into hints at each flow's next packet, bpf/lib/seqhint.h). Needs root;
 * runs in a private network namespace with its own pin root (testenv.h). Usage: pgs_takeover [FLOWS] */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include "bpf/testenv.h"
#include "datapath.h"
#include "dpsync.h"

#define BATCH 8192

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* FLOWS established flows, each from its own client address and port, both edges learnt. */
static int fill(uint32_t n)
{
	struct pgs_flow_key *k = calloc(BATCH, sizeof(*k));
	struct pgs_flow *v = calloc(BATCH, sizeof(*v));
	uint32_t i, j, count;
	int r = 0;

	if (!k || !v)
		return -ENOMEM;
	for (i = 0; i < n && !r; i += count) {
		count = n - i < BATCH ? n - i : BATCH;
		for (j = 0; j < count; j++) {
			uint32_t id = i + j;

			k[j] = (struct pgs_flow_key){ .client = htonl(IP(10, 64, 0, 0) + (id >> 14)), .vip = htonl(VIP),
						      .cport = htons((uint16_t)(1024 + (id & 0x3fff))), .vport = htons(VPORT) };
			v[j] = (struct pgs_flow){ .backend = htonl(BACKEND), .bport = htons(6432), .sport = htons(10000),
						  .flags = PGS_FLOW_F_COUNTED | PGS_FLOW_F_EDGES, .state = PGS_FLOW_ESTABLISHED,
						  .nxt = { 1000 + id, 5000 + id }, .ack = { 5000 + id, 1000 + id } };
		}
		if (bpf_map_update_batch(M.flows, k, v, &count, NULL))
			r = -errno;
	}
	free(k);
	free(v);
	return r;
}

static void count_learnt(void *arg, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	(void)k;
	if (f->flags & PGS_FLOW_F_EDGES)
		(*(uint64_t *)arg)++;
}

int main(int argc, char **argv)
{
	uint32_t n = argc > 1 ? (uint32_t)strtoul(argv[1], NULL, 10) : 1000000;
	struct datapath *dp = NULL;
	uint64_t learnt = 0;
	double t0, t1;
	int r;

	if (geteuid() != 0) {
		fprintf(stderr, "pgs_takeover: needs root\n");
		return 2;
	}
	(void)prog_name; /* testenv.h's, for the tables */
	(void)cur;
	setup_netns();
	load(10000, 32767, n);
	t0 = now_s();
	r = fill(n);
	if (r) {
		fprintf(stderr, "pgs_takeover: filling the flow table: %s\n", strerror(-r));
		return 1;
	}
	printf("filled %u flows in %.2f s\n", n, now_s() - t0);
	if (datapath_over_maps(&dp, &M)) {
		fprintf(stderr, "pgs_takeover: cannot open the datapath over the maps\n");
		return 1;
	}
	t0 = now_s();
	dpsync_takeover(dp);
	t1 = now_s();
	datapath_flows_each(dp, count_learnt, &learnt);
	printf("dpsync_takeover over %u flows: %.3f ms (flows still holding learnt edges in the map: %llu)\n", n,
	       (t1 - t0) * 1e3, (unsigned long long)learnt);
	datapath_close(dp);
	pgs_xdp__destroy(xdp_skel);
	pgs_tc__destroy(tc_skel);
	maps_close(&M);
	return 0;
}

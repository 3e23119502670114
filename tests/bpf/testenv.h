/* The BPF tests' environment: a private network namespace with neighbours for bpf_fib_lookup, and
 * the XDP and TC programs loaded with their maps pinned under a private pin root. Shared by the
 * table tests and the per-packet benchmark. */
#ifndef PGS_TESTENV_H
#define PGS_TESTENV_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "pgsteer_abi.h"
#include "maps.h"
#include "xdp.skel.h"
#include "tc.skel.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (uint32_t)(d))
#define VIP IP(10, 9, 0, 100)
#define VPORT 5432
#define CLIENT IP(10, 9, 0, 2)
#define BACKEND IP(10, 9, 0, 5)
#define NONEIGH IP(10, 9, 0, 6) /* a backend with no neighbour entry */
#define FARSIDE IP(10, 9, 1, 5)  /* a backend behind another device (t2) */

static const uint8_t MAC_LB[6] = { 2, 0, 0, 0, 0, 1 };
static const uint8_t MAC_CLIENT[6] = { 2, 0, 0, 0, 0, 2 };
static const uint8_t MAC_BACKEND[6] = { 2, 0, 0, 0, 0, 5 };

enum prog { P_XDP, P_TC };
static const char *prog_name[] = { "xdp", "tc" };
static int prog_fd[2], ifindex;
static struct pgs_maps M;
static struct pgs_xdp *xdp_skel;
static struct pgs_tc *tc_skel;
static char pin_root[64];
static enum prog cur; /* the program the current case runs through */

/* What a program did with a packet, normalised across XDP and TC. */
enum outcome { O_PASS, O_DROP, O_TX, O_ERR };

static inline void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "setup failed: %s\n", cmd);
		exit(2);
	}
}

static inline void setup_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		exit(2);
	}
	sh("ip link set lo up");
	sh("ip link add t0 address 02:00:00:00:00:01 type veth peer name t1 address 02:00:00:00:00:0f");
	sh("ip link set t0 up && ip link set t1 up && ip addr add 10.9.0.1/24 dev t0");
	sh("sysctl -qw net.ipv4.conf.all.forwarding=1 net.ipv4.conf.t0.forwarding=1");
	sh("ip neigh replace 10.9.0.2 lladdr 02:00:00:00:00:02 dev t0 nud permanent");
	sh("ip neigh replace 10.9.0.5 lladdr 02:00:00:00:00:05 dev t0 nud permanent");
	/* A second network behind another device (XDP's redirect to a device other than its own). */
	sh("ip link add t2 address 02:00:00:00:01:01 type veth peer name t3 address 02:00:00:00:01:0f");
	sh("ip link set t2 up && ip link set t3 up && ip addr add 10.9.1.1/24 dev t2");
	sh("ip neigh replace 10.9.1.5 lladdr 02:00:00:00:01:05 dev t2 nud permanent");
	ifindex = (int)if_nametoindex("t0");
}

static inline void cleanup_pins(void)
{
	char path[128];
	int i;

	for (i = 0; i < maps_count(); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_root, maps_name(i));
		unlink(path);
	}
	rmdir(pin_root);
}

static inline void load(uint16_t snat_min, uint16_t snat_max, uint32_t flows)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_root);
	struct statfs st;

	if (statfs("/sys/fs/bpf", &st) || st.f_type != BPF_FS_MAGIC)
		if (mount("bpffs", "/sys/fs/bpf", "bpf", 0, "mode=0700")) {
			perror("mount bpffs");
			exit(2);
		}
	snprintf(pin_root, sizeof(pin_root), "/sys/fs/bpf/pgsteer-test-%d", getpid());
	mkdir(pin_root, 0700);
	atexit(cleanup_pins);

	xdp_skel = pgs_xdp__open_opts(&oo);
	tc_skel = pgs_tc__open_opts(&oo);
	if (!xdp_skel || !tc_skel) {
		perror("open skeleton");
		exit(2);
	}
	xdp_skel->rodata->pgs_cfg.snat_min = tc_skel->rodata->pgs_cfg.snat_min = snat_min;
	xdp_skel->rodata->pgs_cfg.snat_max = tc_skel->rodata->pgs_cfg.snat_max = snat_max;
	bpf_map__set_max_entries(xdp_skel->maps.pgs_flows, flows);
	bpf_map__set_max_entries(xdp_skel->maps.pgs_rflows, flows);
	bpf_map__set_max_entries(tc_skel->maps.pgs_flows, flows);
	bpf_map__set_max_entries(tc_skel->maps.pgs_rflows, flows);
	if (pgs_xdp__load(xdp_skel) || pgs_tc__load(tc_skel)) {
		fprintf(stderr, "loading the datapath failed\n");
		exit(2);
	}
	prog_fd[P_XDP] = bpf_program__fd(xdp_skel->progs.pgs_xdp);
	prog_fd[P_TC] = bpf_program__fd(tc_skel->progs.pgs_tc);
	if (maps_open_pinned(&M, pin_root, NULL)) {
		fprintf(stderr, "pinned maps missing under %s\n", pin_root);
		exit(2);
	}
}

#endif

/* The node's guard: pgsteerd's heartbeat for the datapath and the forwarding switch, every tick. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include "guard.h"
#include "hooks.h"
#include "log.h"

static struct {
	struct datapath *dp;
	char ifname[IF_NAMESIZE];
	unsigned restored;
	int beat_failed;
} g;

int guard_forwarding(const char *ifname)
{
	char path[PATH_MAX], v = '0';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	f = fopen(path, "r+");
	if (!f) {
		log_warn("cannot read %s", path);
		return -1;
	}
	if (fread(&v, 1, 1, f) == 1 && v == '1') {
		fclose(f);
		return 0;
	}
	rewind(f);
	if (fputs("1\n", f) < 0 || fclose(f)) {
		log_warnx("cannot enable forwarding on %s (%s): steered packets will be dropped (drop_fib)", ifname, path);
		return -1;
	}
	return 1;
}

static uint32_t beat_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) >> PGS_BEAT_SHIFT);
}

static void on_tick(void *arg, uint64_t now_ms)
{
	int r = datapath_set_beat(g.dp, beat_now());

	/* Once per failure streak: a datapath that misses beats stops steering by itself. */
	if (r && !g.beat_failed)
		log_warnx("cannot write the heartbeat to the datapath (%s): it stops steering after about %d s",
			  strerror(-r), PGS_BEAT_TIMEOUT);
	g.beat_failed = r != 0;
	if (guard_forwarding(g.ifname) == 1) {
		g.restored++;
		log_warnx("net.ipv4.conf.%s.forwarding was turned off by something else: turned back on (%u times since "
			  "start; steered packets are dropped as drop_fib while it is off)", g.ifname, g.restored);
	}
}

/* A stop on purpose keeps the datapath steering (systemctl stop leaves it attached, by design):
 * no heartbeat to time out. A restart in place hands the beat to the next process. */
static void on_stopping(void *arg, int handover)
{
	if (!handover)
		datapath_set_beat(g.dp, 0);
}

static const struct ctl_hooks guard_hooks = { .tick = on_tick, .stopping = on_stopping };

int guard_start(struct datapath *dp, const char *ifname)
{
	g.dp = dp;
	snprintf(g.ifname, sizeof(g.ifname), "%s", ifname);
	datapath_set_beat(dp, beat_now());
	return ctl_hooks_add(&guard_hooks, NULL);
}

unsigned guard_forwarding_restored(void)
{
	return g.restored;
}

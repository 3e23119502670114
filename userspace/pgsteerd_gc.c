/* The flow table's clean-up as the daemon runs it: a few batches each tick, and after a takeover
 * back to back, a few batches per turn of the loop, until its takeover pass is done: the VIP and
 * the GARPs go out first and VRRP keeps its timing meanwhile (datapath.c, dpsync.c). */
#include <string.h>
#include "alert.h"
#include "datapath.h"
#include "dpsync.h"
#include "log.h"
#include "pgsteerd.h"

void daemon_gc_step(struct pgsteerd *d)
{
	unsigned pct;
	int r = dpsync_gc(d->dp, &d->cfg, &d->model, &pct);

	if (r < 0)
		log_warnx("flow table clean-up failed: %s", strerror(-r));
	else if (r)
		alert_flow_table(d->alerter, pct);
}

static void on_gc_now(void *arg)
{
	struct pgsteerd *d = arg;

	daemon_gc_step(d);
	if (datapath_gc_takeover_pending(d->dp))
		timer_arm(&d->gc_now, 0);
}

int daemon_gc_init(struct pgsteerd *d)
{
	return timer_init(&d->gc_now, d->loop, on_gc_now, d);
}

void daemon_gc_takeover(struct pgsteerd *d)
{
	dpsync_takeover(d->dp);
	if (d->gc_now.loop)
		timer_arm(&d->gc_now, 0); /* runs after the VIP is added and the GARPs are sent */
}

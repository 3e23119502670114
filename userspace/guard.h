/* The node's guard: what must stay true for the datapath to steer safely, watched every tick.
 * pgsteerd's heartbeat in the datapath's control map (a node whose pgsteerd died without its link
 * going down stops steering after PGS_BEAT_TIMEOUT), and the interface's forwarding switch (the
 * datapath's route lookups need it: turned back on, counted and logged, if something turns it off). */
#ifndef PGS_GUARD_H
#define PGS_GUARD_H

#include "datapath.h"

/* Turn net.ipv4.conf.IFNAME.forwarding on: 1 if it was off, 0 if it was on, -1 if it cannot be set
 * (logged: every steered packet would be dropped as drop_fib). */
int guard_forwarding(const char *ifname);

/* Start watching (on the controller's tick, through hooks.c): 0, or -errno. */
int guard_start(struct datapath *dp, const char *ifname);

/* Times the forwarding switch was found off and turned back on since start. */
unsigned guard_forwarding_restored(void);

#endif

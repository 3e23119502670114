/* pgsteerd's own parts: the daemon's state, shared by pgsteerd.c (main, VRRP and the tick),
 * pgsteerd_signals.c, pgsteerd_health.c (a server's health from its check to the datapath and the alerts) and
 * pgsteerd_reload.c (reload, and restart in place). Nothing outside the daemon includes this. */
#ifndef PGS_PGSTEERD_H
#define PGS_PGSTEERD_H

#include <limits.h>
#include <stdint.h>
#include "backend.h"
#include "config.h"
#include "loop.h"
#include "runtime.h"

#define TICK_MS 1000        /* clean-up, counters, slow start */
#define PASSIVE_TICK_MS 100 /* how fast a server that refused a SYN is re-checked */

struct pgsteerd {
	struct loop *loop;
	struct config cfg;
	struct model model;
	struct datapath *dp;
	struct runtime *rt;
	struct checker *checker;
	struct stats_http *stats;
	struct vrrp *vrrp;
	struct alerter *alerter;
	struct notifier *notify;
	uint32_t node_addr;     /* the interface's own address: checks and adverts come from it */
	struct role *role;
	struct timer tick, passive_tick;
	struct timer gc_now;    /* the clean-up back to back after a takeover */
	int sigfd;
	int steering;           /* what the datapath's switch is set to */
	int want_steering;      /* what VRRP asked for before the datapath was open */
	int handover;           /* SIGUSR2: restart in place */
	char self[PATH_MAX];    /* our executable, for the restart in place */
	int verbose;
};

/* pgsteerd.c: the model's counters and figures, fresh (the stats' and runtime API's refresh). */
void daemon_refresh(void *arg);

/* pgsteerd_health.c */
void daemon_start_checks(struct pgsteerd *d);
/* A runtime command changed s (state, weight, shutdown sessions). */
void daemon_server_changed(void *arg, struct server_rt *s, enum rt_change what, enum srv_class before);
/* Servers that refused a SYN: out of selection, checked at once. */
void daemon_poll_passive(struct pgsteerd *d);

/* pgsteerd_gc.c: a few batches of the flow table's clean-up (each tick); the timer that runs it
 * back to back after a takeover; taking over (the VIP first, then that pass). */
void daemon_gc_step(struct pgsteerd *d);
int daemon_gc_init(struct pgsteerd *d);
void daemon_gc_takeover(struct pgsteerd *d);

/* pgsteerd_signals.c: (re)make the signalfd; again after daemon(), whose child must own it. */
int daemon_setup_signals(struct pgsteerd *d);

/* pgsteerd_reload.c */
/* Apply the config file again; a bad one keeps the running one (0 or -errno, err says why). */
int daemon_reload(struct pgsteerd *d, char *err, size_t errlen);
/* Ask for a restart in place: refused (err) while the config or the new executable would not start. */
int daemon_restart(struct pgsteerd *d, char *err, size_t errlen);
/* After the loop ended for a restart in place: exec the new image. Returns only if exec failed,
 * having let go of the VIP and steering, which nobody would advertise for. */
void daemon_restart_exec(struct pgsteerd *d);
/* A process that dies while VRRP master (a failed restart in place) steps down properly. */
void daemon_step_down_at_exit(struct vrrp *v);

#endif

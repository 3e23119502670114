/* Flow-state sync between the pgsteerd nodes of one VRRP instance: the master streams its flow
 * events (the datapath's ring buffer) as authenticated UDP batches to its peers, refreshes every
 * live flow periodically and serves bulk resyncs over TCP; a backup installs what it receives into
 * its own maps (dpsync.c), passive until it becomes master, and holds preemption until its table is
 * complete. The wire format is sync_proto.c's; the daemon is reached through its hooks (hooks.h). */
#ifndef PGS_SYNC_H
#define PGS_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "sync_proto.h"

struct loop;
struct model;
struct datapath;
struct vrrp;

/* What `pgsteer status` and /metrics show (model.sync). */
struct sync_view {
	int enabled;
	int master;              /* this node sends (1) or receives (0) */
	int ready;               /* a backup's bulk resync completed (always 1 on a master) */
	uint32_t peer;           /* last peer heard from, network order; 0 = none */
	uint64_t last_rx_ms;     /* wall clock ms of the last accepted message; 0 = none */
	uint64_t lag_ms;         /* receive time minus the sender's send time, last message */
	uint64_t msgs_tx, flows_tx, msgs_rx, flows_rx, resyncs, install_errors, ev_lost;
	uint64_t err[SYNC_E_MAX]; /* rejected messages and records, by reason */
};

/* Whether cfg turns flow sync on: vrrp configured, not "sync off", and the key file exists (a
 * key file named in the config must exist: -ENOENT with the reason in err). 1, 0 or -errno. */
int sync_enabled(const struct config *cfg, char *err, size_t errlen);

/* Start flow sync if cfg turns it on, once the datapath is open and VRRP started: UDP and the
 * resync listener on cfg's VRRP interface (self: this node's address there), the datapath's
 * events, and the daemon's hooks (it stops with the daemon). 1 on, 0 off, or -errno with the
 * reason in err. */
int sync_start(struct loop *l, const struct config *cfg, struct model *m, struct datapath *dp, struct vrrp *v,
	       uint32_t self, char *err, size_t errlen);

#endif

/* The seam between the controller's model and the datapath: the one translator from services and
 * servers to map entries (slots, states, weights) and from the maps back to the model (slots an
 * earlier run left, counters, refusals). Every function takes the datapath and the model; none
 * knows the daemon. */
#ifndef PGS_DPSYNC_H
#define PGS_DPSYNC_H

#include <stdint.h>
#include "backend.h"
#include "config.h"
#include "datapath.h"
#include "sync_proto.h"

/* Write one server's entry (state, weight, name), keeping the generation and kill time earlier
 * runs set while the slot holds the same address. */
void dpsync_server(struct datapath *dp, struct server_rt *s, uint64_t now_ms);
/* Write every service and its servers; positions a removed server left are written DOWN. */
void dpsync_model(struct datapath *dp, struct model *m);

/* What the maps say of an earlier run (service names and ids, server names and slots), as a model
 * to hand model_init, so servers keep their slots, counters and flows across a restart. */
void dpsync_seed(struct datapath *dp, struct model *prev);
/* Services in the maps that cfg no longer has stop being steered. */
void dpsync_drop_unknown(struct datapath *dp, const struct config *cfg);
/* Before a reload applies: services whose address changes or that go away leave the datapath,
 * and the managed neighbour entries of server addresses that go away are removed. */
void dpsync_drop_changed(struct datapath *dp, const struct config *old, const struct config *fresh);
/* A managed neighbour entry per server address, so XDP's route lookups find it. */
void dpsync_neighbours(struct datapath *dp, const struct model *m, const char *ifname);

/* Pull the datapath's verdicts and per-server counters into the model. */
void dpsync_refresh(struct datapath *dp, struct model *m);
/* One clean-up step of the flow table; when a pass completes, its figures go into the model and
 * 1 is returned with the table's occupancy in percent. 0 while a pass is under way, or -errno. */
int dpsync_gc(struct datapath *dp, const struct config *cfg, struct model *m, unsigned *pct);
/* Slow start: rewrite the weight of servers still ramping. */
void dpsync_slowstart(struct datapath *dp, struct model *m, uint64_t now_ms, uint64_t tick_ms);

/* A session shutdown: flows of s created before now are reset at their next segment; when this
 * node steers, idle sessions are made to speak (probe.c). */
void dpsync_shutdown_sessions(struct datapath *dp, struct server_rt *s, int steering);
/* Refusals: the datapath takes a server that refused a SYN out of selection until cleared.
 * dpsync_clear_passive clears it unless a newer refusal came in; dpsync_poll_passive reads every
 * server's flag and calls refused(arg, s) for a new one (servers without checks are let back in
 * after two seconds, as nothing would confirm them). */
void dpsync_clear_passive(struct datapath *dp, struct server_rt *s);
void dpsync_poll_passive(struct datapath *dp, struct model *m, void (*refused)(void *arg, struct server_rt *s),
			 void *arg);
/* This node starts steering: the sequence edges it learnt before are kept only as hints
 * (bpf/lib/seqhint.h), now, before any packet; the next clean-up pass forgets flows from before
 * steering last went off if it was off for long and nothing kept them fresh (the other node reset
 * those sessions), and makes each server's connection count equal its flows (flows synced from the
 * peer were never opened here). */
void dpsync_takeover(struct datapath *dp);

/* --- Flow sync (sync.c): this node's flows as records that name their server by service name and
 * ip:port, and records from the peer into the maps. --------------------------------------------- */

/* The record of flow (k, f), for op, with the sequence edges this node has learnt: 0, or -ENOENT
 * for a flow not worth sending (half-open or closed) or whose slot the model no longer has. */
int dpsync_flow_record(const struct model *m, const struct pgs_flow_key *k, const struct pgs_flow *f,
		       enum sync_op op, uint64_t now_ns, struct sync_flow *r);
/* The record of a datapath flow event (ESTABLISHED: SYNC_OP_NEW with the flow's sequence edges as
 * it holds them now, CLOSED: SYNC_OP_CLOSE): 0 or -ENOENT. */
int dpsync_event_record(struct datapath *dp, const struct model *m, const struct pgs_flow_event *e,
			struct sync_flow *r);
/* Whether this node has r's service (same name and VIP:port) and server (ip:port in it): 0,
 * SYNC_E_UNKNOWN_SERVICE or SYNC_E_UNKNOWN_SERVER (a sync_resolve_fn). */
int dpsync_flow_known(const struct model *m, const struct sync_flow *r);
/* Apply a known record while not steering: NEW installs the flow in both directions with the same
 * SNAT port (replacing what held its client side or its SNAT port), REFRESH marks it seen at now_ns
 * (installing it if missing), CLOSE forgets it. 0 or -errno. */
int dpsync_flow_apply(struct datapath *dp, const struct model *m, const struct sync_flow *r, uint64_t now_ns);
/* Servers DOWN here whose service shuts sessions down (on-marked-down shutdown-sessions): their
 * flows, synced while this node was backup, are reset as if the server had just gone down. */
void dpsync_takeover_down(struct datapath *dp, struct model *m);

#endif

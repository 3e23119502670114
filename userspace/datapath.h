/* Loading, attaching and pinning the BPF datapath, and the controller's side of its maps:
 * services and servers, the steering switch, flow clean-up and connection-count reconciliation. */
#ifndef PGS_DATAPATH_H
#define PGS_DATAPATH_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "maps.h"

struct datapath;

/* Mount bpffs if needed, load (reusing pinned maps), attach to cfg->interface in cfg->attach mode
 * (replacing a previous pgsteer attachment without a gap) and pin. On error returns -errno and a
 * sentence in err naming the interface, file or map at fault. */
int datapath_open(struct datapath **out, const struct config *cfg, char *err, size_t errlen);
/* Close descriptors: the program stays attached and the maps pinned (a restart loses no flow). */
void datapath_close(struct datapath *dp);
/* Detach from the interface and remove every pin: the explicit clean-up. */
int datapath_detach(const struct config *cfg, char *err, size_t errlen);

int datapath_ifindex(const struct datapath *dp);
/* The controller's side of maps already open (nothing loaded or attached): the BPF tests. */
int datapath_over_maps(struct datapath **out, const struct pgs_maps *m);
/* The maps as descriptors, for features that own a map of their own (policy.c, cancel.c). */

/* The maps one entry at a time, 0 or -errno. The model's side of them is dpsync.c's. */
int datapath_set_service(struct datapath *dp, const struct pgs_svc_key *k, const struct pgs_svc *v);
int datapath_del_service(struct datapath *dp, const struct pgs_svc_key *k);
int datapath_services_each(struct datapath *dp, maps_svc_fn cb, void *arg);
int datapath_get_server(struct datapath *dp, uint32_t slot, struct pgs_server *out);
int datapath_set_server(struct datapath *dp, uint32_t slot, const struct pgs_server *srv);
/* The slot now holds another server: its counters start from zero (maps_reset_slot). */
int datapath_reset_slot(struct datapath *dp, uint32_t slot);
int datapath_read_server(struct datapath *dp, uint32_t slot, struct dp_server *out);
int datapath_read_verdicts(struct datapath *dp, uint64_t out[PGS_R_MAX]);
/* A service's SYN-flood view and per-service verdicts (maps_get_synguard, maps_read_svc_verdict). */
int datapath_get_synguard(struct datapath *dp, uint32_t svc_id, struct pgs_synguard *out);
int datapath_read_svc_verdict(struct datapath *dp, uint32_t svc_id, enum pgs_reason r, uint64_t *out);
int datapath_get_passive(struct datapath *dp, uint32_t slot, uint64_t *ns);
int datapath_clear_passive(struct datapath *dp, uint32_t slot);
/* The steering switch (see maps_set_active) and when it last went off. */
int datapath_get_active(struct datapath *dp, int *active);
int datapath_set_active(struct datapath *dp, int active);
int datapath_get_off_ns(struct datapath *dp, uint64_t *off_ns);
/* A new steering epoch at takeover (see maps_new_epoch). */
int datapath_new_epoch(struct datapath *dp);
/* pgsteerd's heartbeat for the datapath (see struct pgs_ctl): guard.c's. */
int datapath_set_beat(struct datapath *dp, uint32_t beat);
/* Steering off on the datapath pinned under pin_root, without opening it: a process that cannot
 * hand over (failed restart in place) stops steering what nobody will advertise for. */
int datapath_pinned_set_inactive(const char *pin_root);

/* Install a flow learnt elsewhere (flow sync): the reverse entry first, which claims the SNAT
 * port (-EEXIST when another flow holds it), then the flow itself (-EEXIST when the client side
 * is already known; the reverse entry is taken back). Connection counts follow at the next
 * clean-up pass, which recounts the flows marked PGS_FLOW_F_COUNTED. */
int datapath_flow_insert(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f);

/* The flow table's clean-up: expire idle flows by state, and recount the connections each slot
 * really has so the datapath's counts stay exact. A pass walks the whole table a bounded number
 * of batches per call; when a call finishes one, done is set and the figures are the pass's. */
struct dp_gc {
	int done;
	uint64_t entries;            /* flows in the table after the pass */
	uint64_t expired;            /* flows removed by this pass */
	int under_pressure;          /* table or a server's SNAT ports over 80%, or a SYN flood: half-open flows expired early */
	uint64_t halfopen;           /* half-open flows (client SYN, no completed handshake) after the pass */
	uint32_t corrected;          /* slots whose count was corrected */
	uint64_t orphans;            /* reverse entries removed: their flow was gone (SNAT ports freed) */
	int takeover;                /* the takeover pass (datapath_takeover): every slot recounted */
	uint64_t stale;              /* flows it forgot as older than the takeover */
};

int datapath_gc(struct datapath *dp, const struct config *cfg, uint64_t now_ns, struct dp_gc *res);

/* This node starts steering: the next clean-up pass (restarted now, it covers every flow) also
 * forgets flows not seen since stale_before_ns (0: none) and then recounts every slot. Nothing is
 * walked here, so taking the VIP is never delayed by the table's size. */
void datapath_takeover(struct datapath *dp, uint64_t stale_before_ns);
/* Whether that pass is still to finish. */
int datapath_gc_takeover_pending(const struct datapath *dp);

/* Forget every flow not seen since before_ns, releasing their counts: after this node was not
 * steering for a while, its flows are sessions the other node reset. 0 or -errno. */
int datapath_purge_before(struct datapath *dp, uint64_t before_ns, uint64_t *purged);

/* Call cb for every flow in the table (a snapshot, batch by batch). 0 or -errno. */
typedef void (*dp_flow_fn)(void *arg, const struct pgs_flow_key *k, const struct pgs_flow *f);
int datapath_flows_each(struct datapath *dp, dp_flow_fn cb, void *arg);

/* One flow by its client side: 0, -ENOENT or -errno. */
int datapath_flow_get(struct datapath *dp, const struct pgs_flow_key *k, struct pgs_flow *f);
/* The client side of the flow that holds SNAT port sport toward backend:bport: 0, -ENOENT or -errno. */
int datapath_rflow_get(struct datapath *dp, uint32_t vip, uint32_t backend, uint16_t bport, uint16_t sport,
		       struct pgs_flow_key *k);
/* Rewrite an existing flow's value (its reverse entry is unchanged): 0, -ENOENT or -errno. */
int datapath_flow_update(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f);
/* Remove a flow and its reverse entry (counts are the caller's, or the next takeover pass's). */
void datapath_flow_forget(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f);

/* The flow events ring buffer (pgs_events) for ring_buffer__new, and the events it had no room for. */
int datapath_events_fd(const struct datapath *dp);
/* The PostgreSQL events ring buffer (pgs_pg_events: CancelRequests seen) for ring_buffer__new. */
int datapath_pg_events_fd(const struct datapath *dp);
/* Per-service PostgreSQL options (PGS_SVC_F_*) of service id. 0 or -errno. */
int datapath_pg_opts_set(struct datapath *dp, uint32_t svc_id, uint32_t flags);
/* The PostgreSQL counter key (PGS_PG_*), summed over the CPUs. 0 or -errno. */
int datapath_pg_stat(const struct datapath *dp, uint32_t key, uint64_t *sum);
/* The source policy trie: set one entry; list up to max keys (how many there are, or -errno);
 * delete one. */
int datapath_policy_set(struct datapath *dp, const struct pgs_policy_key *k, uint32_t action);
int datapath_policy_keys(const struct datapath *dp, struct pgs_policy_key *out, int max);
void datapath_policy_del(struct datapath *dp, const struct pgs_policy_key *k);
int datapath_read_ev_lost(struct datapath *dp, uint64_t *lost);

#endif

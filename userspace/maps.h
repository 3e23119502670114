/* The datapath's pinned maps as plain descriptors: reading counters and writing server state,
 * without a skeleton, for the daemon and for the CLI alike. */
#ifndef PGS_MAPS_H
#define PGS_MAPS_H

#include <stdint.h>
#include "pgsteer_abi.h"

struct pgs_maps {
	int services, servers, conns, conn_adj, passive, srv_stats, verdicts, flows, rflows, ctl, rr;
	int events, ev_lost; /* flow events for the sync (ring buffer), and those it had no room for */
	int pg_opts, pg_events, pg_stats, policy; /* PostgreSQL-aware steering (pgproto.h, policy.h) */
	int synguard, synguard_adj, cookie_sec; /* per service: half-open flows, the SYN-flood window (synguard.h) */
	int svc_verdicts; /* per service: its SYN-cookie verdicts (synguard.h) */
	int slot_hop; /* next hops toward servers, the datapath's own cache (nexthop.h) */
};

/* What the datapath knows of one server slot, per-CPU counters summed. */
struct dp_server {
	struct pgs_conns conns;
	uint64_t adj;
	uint64_t active;
	uint64_t passive_ns;
	struct pgs_srv_stats st;
};


void maps_init(struct pgs_maps *m);
/* Open every map pinned under root. 0 or -errno (the name of the missing map in *missing). */
int maps_open_pinned(struct pgs_maps *m, const char *root, const char **missing);
void maps_close(struct pgs_maps *m);
/* The pin names and descriptor slots, in one table. */
int maps_count(void);
const char *maps_name(int i);
int *maps_fd(struct pgs_maps *m, int i);

int maps_read_server(const struct pgs_maps *m, uint32_t slot, struct dp_server *out);
int maps_read_verdicts(const struct pgs_maps *m, uint64_t out[PGS_R_MAX]);
int maps_get_active(const struct pgs_maps *m, int *active);
/* Steering on or off; turning it off records when (pgs_ctl.off_ns), kept across restarts. */
int maps_set_active(const struct pgs_maps *m, int active);
/* The controller's heartbeat (pgs_ctl.beat; 0: none, the datapath never times out). */
int maps_set_beat(const struct pgs_maps *m, uint32_t beat);
int maps_get_off_ns(const struct pgs_maps *m, uint64_t *off_ns);
/* A new steering epoch (pgs_ctl.epoch): what flows learnt before is only a hint (bpf/lib/seqhint.h). */
int maps_new_epoch(const struct pgs_maps *m);
int maps_clear_passive(const struct pgs_maps *m, uint32_t slot);
int maps_reset_slot(const struct pgs_maps *m, uint32_t slot); /* a new server in the slot: zero its counters */
int maps_get_server(const struct pgs_maps *m, uint32_t slot, struct pgs_server *out);
/* When the datapath last saw the slot's server refuse a SYN (0 = not since cleared). */
int maps_get_passive(const struct pgs_maps *m, uint32_t slot, uint64_t *ns);
/* Call cb for every service in the services map (ids and names as the controller wrote them). */
typedef void (*maps_svc_fn)(void *arg, const struct pgs_svc_key *k, const struct pgs_svc *v);
int maps_services_each(const struct pgs_maps *m, maps_svc_fn cb, void *arg);
/* Entries in the flow table, counted key by key. */
int maps_flow_count(const struct pgs_maps *m, uint64_t *n);
/* Flow events the datapath had no ring-buffer room for, summed over CPUs. */
int maps_read_ev_lost(const struct pgs_maps *m, uint64_t *out);
/* A service's SYN-flood view (pgs_synguard), and one of its per-service verdicts summed over CPUs. */
int maps_get_synguard(const struct pgs_maps *m, uint32_t svc_id, struct pgs_synguard *out);
int maps_read_svc_verdict(const struct pgs_maps *m, uint32_t svc_id, enum pgs_reason r, uint64_t *out);

/* The verdicts' names, help texts and drop flags: PGS_REASONS in pgsteer_abi.h. */
const char *verdict_name(enum pgs_reason r);
const char *verdict_help(enum pgs_reason r);
int verdict_is_drop(enum pgs_reason r);
int verdict_by_name(const char *name); /* -1 when unknown */

#endif

/* What outlives a process or a configuration: a server's runtime state, carried over by a reload,
 * handed over by a restart in place (handover.json) and, for the operator's changes, kept in the
 * state file (servers.json). One struct, copied by assignment, serialized by one function. */
#ifndef PGS_PERSIST_H
#define PGS_PERSIST_H

#include <stdint.h>
#include "backend.h"

struct server_state {
	enum admin_state admin;      /* operator's changes: the state file's part */
	uint32_t uweight;
	uint32_t health;             /* health.health and health.up: rise and fall stay the config's */
	int up;
	struct check_result last;
	uint64_t chkfail, chkdown;
	uint64_t last_change_ms, down_since_ms, downtime_ms, up_since_ms; /* monotonic: valid across exec */
	uint64_t smax;
	enum srv_class reported;     /* not serialized: a new process recomputes it */
};

struct server_state server_state_get(const struct server_rt *s);
void server_state_set(struct server_rt *s, const struct server_state *st);

/* A reload: servers that stay (same service and name) keep their state from old; runtime changes
 * stay unless the config itself changed that setting. Flow-table figures carry over too. */
void persist_carry_over(struct model *m, const struct model *old);

/* The operator's changes (admin state, weight) that differ from the config, in state_dir/servers.json:
 * saved after each change, applied at start. Errors are logged, naming the file. */
void persist_save_changes(const struct model *m, const char *state_dir);
void persist_load_changes(struct model *m, const char *state_dir);

/* A restart in place: each server's health and check history, in state_dir/handover.json, read
 * (and removed) by the process that takes over, so a DOWN server is not sent connections again. */
/* One pgsteerd per state directory: take its lock (state_dir/pgsteerd.lock, held until exit).
 * The lock's descriptor, or -errno: -EWOULDBLOCK when another process holds it. */
int persist_lock(const char *state_dir);
void persist_save_handover(const struct model *m, const char *state_dir);
void persist_load_handover(struct model *m, const char *state_dir);

#endif

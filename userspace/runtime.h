/* The runtime API: a unix socket speaking HAProxy's command words (show stat, show servers state,
 * set server ... state|weight, enable/disable server, shutdown sessions server, help). One request
 * line per connection, commands separated by ';', the answer, then close. */
#ifndef PGS_RUNTIME_H
#define PGS_RUNTIME_H

#include <stddef.h>
#include "backend.h"

struct loop;
struct runtime;

/* What a command changed, for the daemon to apply (datapath, state file, alerts, checks). */
enum rt_change { RT_ADMIN, RT_WEIGHT, RT_SHUTDOWN_SESSIONS };

struct runtime_ops {
	void (*refresh)(void *arg);  /* before anything is shown: pull fresh counters */
	void (*changed)(void *arg, struct server_rt *s, enum rt_change what, enum srv_class before);
	int (*reload)(void *arg, char *err, size_t errlen); /* re-read the config: 0, or why not */
	int (*restart)(void *arg, char *err, size_t errlen); /* restart in place after answering: 0, or why not */
};

/* Listen on path (its directory is created; a stale socket replaced; a live one is an error), the
 * socket file with mode and group (a name or number; "" = the group pgsteer when it exists, else the
 * daemon's own): who may connect may drive pgsteerd. NULL on error with the reason in err. */
struct runtime *runtime_new(struct loop *l, const char *path, unsigned mode, const char *group, struct model *m,
			    const struct runtime_ops *ops, void *arg, char *err, size_t errlen);
void runtime_free(struct runtime *r);
/* After a reload replaced the model's contents. */
void runtime_set_model(struct runtime *r, struct model *m);

/* Run one request line against the model, writing the answer to out. Exposed for tests. */
void runtime_exec(struct runtime *r, char *line, FILE *out);

#endif

/* Cancel routing: the datapath hands over every CancelRequest a client opens a connection for
 * (bpf/lib/pgproto.h); the flow already took it to one server, chosen by leastconn without knowing
 * the session. pgsteerd sends the same 16 bytes, over a connection of its own, to each other UP
 * server of the service: the one PgBouncer that holds the key receives it exactly once (from the
 * client's flow or from pgsteerd), the others do not know the key and ignore it. */
#ifndef PGS_CANCEL_H
#define PGS_CANCEL_H

#include <stdint.h>
#include "backend.h"
#include "loop.h"
#include "maps.h"

struct datapath;

#define CANCEL_RATE 200        /* cancels fanned out per second, sustained ... */
#define CANCEL_BURST 400       /* ... and in a burst; the rest are counted as dropped */
#define CANCEL_COPIES 256      /* copies in flight at once */
#define CANCEL_MAX_AGE_MS 2000 /* an older CancelRequest (queued while pgsteerd restarted) is dropped:
				* it could cancel the session's next query */
#define CANCEL_COPY_TIMEOUT_MS 5000

/* The service's PGS_SVC_F_* switches in pgs_pg_opts (cancel-routing on/off), for every service id. */
void cancel_write_opts(struct datapath *dp, const struct model *m);

/* Read pgs_pg_events on loop and deliver; counters go to m->cancel. Registers with the controller's
 * hooks (reload, tick, stop). 0 or -errno. */
int cancel_start(struct loop *loop, struct datapath *dp, struct model *m);

/* A token bucket: 1 when one more is allowed at now_ms. */
struct cancel_bucket {
	double tokens;
	uint64_t last_ms;
};
int cancel_bucket_take(struct cancel_bucket *b, uint64_t now_ms, double rate, double burst);

#endif

/* State files written off the event loop. A write is two fsyncs (the file, its directory), and on a
 * busy disk one fsync can take hundreds of milliseconds: in the loop that delays VRRP adverts past
 * the peer's master-down time (a false failover). The loop serialises the file and hands the bytes
 * to one writer thread; the result comes back into the loop. Until statewriter_start (and in tools
 * and tests that never start it) a write is synchronous, as statefile_write. */
#ifndef PGS_STATEWRITER_H
#define PGS_STATEWRITER_H

#include <json-c/json.h>
#include "loop.h"

/* Called in the loop once the write is done: 0 or -errno (the write's, as statefile_write's). */
typedef void (*statewriter_done_cb)(void *arg, int err);

/* Start the writer thread, its results delivered through l. After fork/daemon() (threads do not
 * survive a fork). 0 or -errno. */
int statewriter_start(struct loop *l);

/* Wait for every queued write, run their callbacks, end the thread: writes are synchronous again.
 * Before a handover or exit, whose last writes must be on disk before the next process reads them. */
void statewriter_stop(void);

/* Write obj to path (statefile_write). With the thread: queued, and a queued write of the same
 * path with the same callback is replaced by this newer one (the file only ever needs its last
 * state); 0, or -ENOMEM. Without: written now, done (if any) called before the return, which is
 * the write's result. */
int statewriter_write(const char *path, struct json_object *obj, statewriter_done_cb done, void *arg);

/* Wait until every queued write is on disk and run their callbacks (one that must not outlive its
 * arg: alerter_free). No-op without the thread. */
void statewriter_drain(void);

#endif

/* Health checks for every server of the model, scheduled the way HAProxy does it, with the
 * results fed into the model (health, counters, timestamps) and announced through hooks.
 *
 * Scheduling: `inter` while fully UP, `fastinter` while a change is under way (UP n/m, DOWN n/m,
 * and the start state, UP but not yet confirmed), `downinter` while fully DOWN. The first checks
 * are spread across the first interval; the next check of a server is armed when its previous one
 * completes, so a server never has two checks in flight. Servers of a service without a check are
 * never checked (status "no check", always UP). DRAIN keeps checking; MAINT stops it.
 *
 * Passive detection, the interplay with the daemon and the datapath:
 *   1. The datapath sees a server answer a SYN with RST: it stops selecting it at once and sends
 *      the client's retransmitted SYN elsewhere. The daemon learns this and sets s->passive_ns.
 *   2. The daemon calls checker_kick(c, s): a check of that server starts now (a regular check in
 *      flight is replaced; a kicked one already in flight is kept, so kicks coalesce).
 *   3. That check counts like any other: the reported status still follows fall and rise (UP 2/3,
 *      then fastinter checks, DOWN after `fall` failures), while the datapath's flag keeps the
 *      server out of selection the whole time. It comes back after `rise` good checks like any
 *      DOWN server, and the daemon clears the flag when it does.
 *      If the kicked check passes, the refusal was transient: the checked hook sees s->last.ok == 1
 *      with s->passive_ns still set, and the daemon clears s->passive_ns and the datapath's flag
 *      (the checker never writes maps).
 *
 * Wiring in pgsteerd: checker_new() after model_init() and the first datapath sync (servers start
 * UP, as in HAProxy); checker_free() before the model is rebuilt on reload and at exit, then
 * checker_new() again. The changed hook pushes the server's new datapath state and raises the
 * alert; the checked hook refreshes what the stats show (and clears the passive flag, see above).
 * After changing s->admin (runtime API), call checker_admin(c, s). */
#ifndef PGS_CHECKER_H
#define PGS_CHECKER_H

#include <stdint.h>
#include "backend.h"
#include "loop.h"

struct checker;

struct checker_hooks {
	/* The server went UP (dir +1) or DOWN (dir -1); the model is already updated. May be NULL. */
	void (*changed)(void *arg, struct server_rt *s, int dir);
	/* A check of the server completed; s->last holds it, s->last.ok says if it passed. May be NULL. */
	void (*checked)(void *arg, struct server_rt *s);
};

/* Check every server of m from src_addr (network order, 0 = any). Sets s->checked for every
 * server. NULL with errno set on failure. */
struct checker *checker_new(struct loop *l, struct model *m, uint32_t src_addr, const struct checker_hooks *h,
			    void *arg);
/* Cancel every check in flight (no hooks run) and free. */
void checker_free(struct checker *c);

/* Check this server now, as a passive-detection confirmation (see above). 0, -ENOENT if the
 * server is not in the model, -EOPNOTSUPP if its service has no check, -EAGAIN in MAINT. */
int checker_kick(struct checker *c, struct server_rt *s);

/* The server's admin state changed. Entering MAINT cancels its check and stops checking. Leaving
 * MAINT resumes checks as HAProxy does: health is reset to `rise` (UP, one failure marks it DOWN)
 * and a check runs at once; no hook runs for this, the daemon publishes the admin change itself. */
void checker_admin(struct checker *c, struct server_rt *s);

/* ---- pure parts ---- */

/* The delay before the next check, from the health after the last result. */
uint32_t checker_interval(const struct cfg_check *ck, const struct health *h);

/* The first check of the pos-th of n checked servers, spread across the first interval. */
uint32_t checker_first_delay(uint32_t interval, int pos, int n);

/* Apply one result to a server: last, chkfail (failed checks while health > 0, HAProxy's
 * failed_checks), health, chkdown, last_change_ms, down_since_ms/downtime_ms, up_since_ms.
 * Returns +1 (went UP), -1 (went DOWN) or 0. */
int checker_apply(struct server_rt *s, const struct check_result *r, uint64_t now_ms);

#endif

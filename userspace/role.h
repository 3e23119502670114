/* What this node's VRRP role tells people: the alert policy for each transition (keyed on its
 * cause), the peer's name in those alerts, who tells a server's change (the master; a backup that
 * hears one adopts), and the notice once a rejoining node hears the master. */
#ifndef PGS_ROLE_H
#define PGS_ROLE_H

#include <stdint.h>
#include "alert.h"
#include "backend.h"
#include "config.h"
#include "loop.h"
#include "vrrp.h"

struct role;

/* cfg and m are the daemon's (a reload changes them in place). NULL on failure (errno set). */
struct role *role_new(struct loop *l, const struct config *cfg, struct model *m);
void role_free(struct role *r);
/* The alerter to tell through (a reload may replace it) and the VRRP instance (once created). */
void role_set_alerter(struct role *r, struct alerter *a);
void role_set_vrrp(struct role *r, struct vrrp *v);
/* The interface's own address, once known: a master heard at it is this node. */
void role_set_self(struct role *r, uint32_t addr);

/* A transition (vrrp_hooks.state): logged, and told as the cause calls for. */
void role_transition(struct role *r, enum vrrp_state from, enum vrrp_state to, enum vrrp_cause cause,
		     uint32_t master, const char *why);
/* Steering on or off (vrrp_hooks.steer): a node that steers tells, and first what changed since it
 * last told or adopted; one that does not stays quiet. */
void role_steer(struct role *r, int on);
/* Often (the passive tick): the master heard, and a backup hearing one adopts what it would tell. */
void role_poll(struct role *r);

#endif

/* Source-address policy: a service's allow/deny lists as entries of the datapath's LPM trie
 * pgs_policy (bpf/lib/policy.h), written at start and on every reload. */
#ifndef PGS_POLICY_H
#define PGS_POLICY_H

#include <stdint.h>
#include "backend.h"
#include "maps.h"

struct datapath;

struct policy_entry {
	struct pgs_policy_key key;
	uint32_t action;        /* enum pgs_policy_action */
};

/* The entries of one service (id svc_id): its lists, and with an allow list a default deny (the
 * service id alone), unless a /0 is listed. Returns how many were written to out (at most max). */
int policy_entries(const struct cfg_service *svc, uint32_t svc_id, struct policy_entry *out, int max);

/* Make pgs_policy hold exactly the entries of m's services: new and changed ones are written first,
 * then the others deleted (a reload never opens a gap a refused source could pass through, nor
 * refuses an allowed one on the way). Established flows are never looked at. 0 or -errno. */
int policy_apply(struct datapath *dp, const struct model *m);

/* Register with the controller's hooks: applied now and after every reload. */
int policy_start(struct datapath *dp, const struct model *m);

#endif

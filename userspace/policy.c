/* Source-address policy: config lists -> LPM trie entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include "hooks.h"
#include "log.h"
#include "policy.h"

static struct policy_entry entry(uint32_t svc_id, const struct cfg_cidr *c, uint32_t action)
{
	struct policy_entry e = { .key = { .prefixlen = 32 + c->len, .svc_id = htonl(svc_id), .addr = c->addr },
				  .action = action };

	return e;
}

int policy_entries(const struct cfg_service *svc, uint32_t svc_id, struct policy_entry *out, int max)
{
	static const struct cfg_cidr any = { 0, 0 };
	int n = 0, i, has_any = 0;

	for (i = 0; i < svc->nallow && n < max; i++) {
		out[n++] = entry(svc_id, &svc->allow[i], PGS_POLICY_ALLOW);
		has_any |= svc->allow[i].len == 0;
	}
	for (i = 0; i < svc->ndeny && n < max; i++) {
		out[n++] = entry(svc_id, &svc->deny[i], PGS_POLICY_DENY);
		has_any |= svc->deny[i].len == 0;
	}
	if (svc->nallow && !has_any && n < max)
		out[n++] = entry(svc_id, &any, PGS_POLICY_DENY);
	return n;
}

#define POLICY_MAX (PGS_MAX_SERVICES * (2 * CFG_MAX_CIDRS + 1))

static int wanted(const struct policy_entry *e, int n, const struct pgs_policy_key *k)
{
	int i;

	for (i = 0; i < n; i++)
		if (!memcmp(&e[i].key, k, sizeof(*k)))
			return 1;
	return 0;
}

int policy_apply(const struct pgs_maps *maps, const struct model *m)
{
	struct policy_entry *e = calloc(POLICY_MAX, sizeof(*e));
	struct pgs_policy_key k, next, *stale;
	int n = 0, i, nstale = 0, r = 0, more;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < m->nservices; i++)
		n += policy_entries(&m->services[i].cfg, m->services[i].id, e + n, POLICY_MAX - n);
	for (i = 0; i < n; i++)
		if (bpf_map_update_elem(maps->policy, &e[i].key, &e[i].action, BPF_ANY)) {
			r = -errno;
			log_warn("writing a source policy entry");
		}
	/* Collect first, delete after: deleting while walking a trie restarts the walk. */
	stale = calloc(POLICY_MAX + 1024, sizeof(*stale));
	if (stale) {
		for (more = !bpf_map_get_next_key(maps->policy, NULL, &next); more && nstale < POLICY_MAX + 1024;
		     more = !bpf_map_get_next_key(maps->policy, &k, &next)) {
			k = next;
			if (!wanted(e, n, &k))
				stale[nstale++] = k;
		}
		for (i = 0; i < nstale; i++)
			bpf_map_delete_elem(maps->policy, &stale[i]);
	}
	if (n || nstale)
		log_info("source policy: %d entr%s, %d removed", n, n == 1 ? "y" : "ies", nstale);
	free(stale);
	free(e);
	return r;
}

static struct {
	const struct pgs_maps *maps;
	const struct model *m;
} P;

static void on_reloaded(void *arg)
{
	policy_apply(P.maps, P.m);
}

static const struct ctl_hooks policy_hooks = { .reloaded = on_reloaded };

int policy_start(const struct pgs_maps *maps, const struct model *m)
{
	P.maps = maps;
	P.m = m;
	policy_apply(maps, m);
	return ctl_hooks_add(&policy_hooks, NULL);
}

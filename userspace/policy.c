/* Source-address policy: config lists -> LPM trie entries. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <stdio.h>
#include "datapath.h"
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

int policy_apply(struct datapath *dp, const struct model *m)
{
	struct policy_entry *e = calloc(POLICY_MAX, sizeof(*e));
	struct pgs_policy_key *keys;
	int n = 0, i, nkeys, nstale = 0, r = 0;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < m->nservices; i++)
		n += policy_entries(&m->services[i].cfg, m->services[i].id, e + n, POLICY_MAX - n);
	for (i = 0; i < n; i++)
		if ((r = datapath_policy_set(dp, &e[i].key, e[i].action)))
			log_warnx("writing a source policy entry: %s", strerror(-r));
	/* Collect first, delete after: deleting while walking a trie restarts the walk. */
	keys = calloc(POLICY_MAX + 1024, sizeof(*keys));
	if (keys) {
		nkeys = datapath_policy_keys(dp, keys, POLICY_MAX + 1024);
		if (nkeys > POLICY_MAX + 1024)
			nkeys = POLICY_MAX + 1024;
		for (i = 0; i < nkeys; i++)
			if (!wanted(e, n, &keys[i])) {
				datapath_policy_del(dp, &keys[i]);
				nstale++;
			}
	}
	if (n || nstale)
		log_info("source policy: %d entr%s, %d removed", n, n == 1 ? "y" : "ies", nstale);
	free(keys);
	free(e);
	return r;
}

static struct {
	struct datapath *dp;
	const struct model *m;
} P;

static void on_reloaded(void *arg)
{
	policy_apply(P.dp, P.m);
}

static const struct ctl_hooks policy_hooks = { .reloaded = on_reloaded };

int policy_start(struct datapath *dp, const struct model *m)
{
	P.dp = dp;
	P.m = m;
	policy_apply(dp, m);
	return ctl_hooks_add(&policy_hooks, NULL);
}

/* The datapath's pinned maps as plain descriptors, for the daemon and the CLI. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maps.h"

static const struct {
	const char *name;
	size_t off;
} map_table[] = {
	{ PGS_MAP_SERVICES, offsetof(struct pgs_maps, services) },
	{ PGS_MAP_SERVERS, offsetof(struct pgs_maps, servers) },
	{ PGS_MAP_CONNS, offsetof(struct pgs_maps, conns) },
	{ PGS_MAP_CONN_ADJ, offsetof(struct pgs_maps, conn_adj) },
	{ PGS_MAP_PASSIVE, offsetof(struct pgs_maps, passive) },
	{ PGS_MAP_SRV_STATS, offsetof(struct pgs_maps, srv_stats) },
	{ PGS_MAP_VERDICTS, offsetof(struct pgs_maps, verdicts) },
	{ PGS_MAP_FLOWS, offsetof(struct pgs_maps, flows) },
	{ PGS_MAP_RFLOWS, offsetof(struct pgs_maps, rflows) },
	{ PGS_MAP_CTL, offsetof(struct pgs_maps, ctl) },
	{ PGS_MAP_RR, offsetof(struct pgs_maps, rr) },
	{ PGS_MAP_EVENTS, offsetof(struct pgs_maps, events) },
	{ PGS_MAP_EV_LOST, offsetof(struct pgs_maps, ev_lost) },
	{ PGS_MAP_PG_OPTS, offsetof(struct pgs_maps, pg_opts) },
	{ PGS_MAP_PG_EVENTS, offsetof(struct pgs_maps, pg_events) },
	{ PGS_MAP_PG_STATS, offsetof(struct pgs_maps, pg_stats) },
	{ PGS_MAP_POLICY, offsetof(struct pgs_maps, policy) },
	{ PGS_MAP_SYNGUARD, offsetof(struct pgs_maps, synguard) },
	{ PGS_MAP_SYNGUARD_ADJ, offsetof(struct pgs_maps, synguard_adj) },
	{ PGS_MAP_COOKIE_SEC, offsetof(struct pgs_maps, cookie_sec) },
	{ PGS_MAP_SVC_VERDICTS, offsetof(struct pgs_maps, svc_verdicts) },
	{ PGS_MAP_SLOT_HOP, offsetof(struct pgs_maps, slot_hop) },
};

int maps_count(void)
{
	return (int)(sizeof(map_table) / sizeof(map_table[0]));
}

const char *maps_name(int i)
{
	return map_table[i].name;
}

int *maps_fd(struct pgs_maps *m, int i)
{
	return (int *)((char *)m + map_table[i].off);
}

void maps_init(struct pgs_maps *m)
{
	int i;

	for (i = 0; i < maps_count(); i++)
		*maps_fd(m, i) = -1;
}

int maps_open_pinned(struct pgs_maps *m, const char *root, const char **missing)
{
	char path[PATH_MAX];
	int i, err;

	maps_init(m);
	for (i = 0; i < maps_count(); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, maps_name(i));
		*maps_fd(m, i) = bpf_obj_get(path);
		if (*maps_fd(m, i) < 0) {
			err = -errno;
			if (missing)
				*missing = maps_name(i);
			maps_close(m);
			return err;
		}
	}
	return 0;
}

void maps_close(struct pgs_maps *m)
{
	int i;

	for (i = 0; i < maps_count(); i++) {
		int *fd = maps_fd(m, i);

		if (*fd >= 0)
			close(*fd);
		*fd = -1;
	}
}

/* Sum a per-CPU array entry of n u64 fields. */
static int read_percpu_u64s(int fd, uint32_t key, uint64_t *sum, size_t n)
{
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t *vals;
	size_t i;

	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, n * sizeof(uint64_t));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &key, vals)) {
		int err = -errno;

		free(vals);
		return err;
	}
	memset(sum, 0, n * sizeof(uint64_t));
	for (c = 0; c < ncpu; c++)
		for (i = 0; i < n; i++)
			sum[i] += vals[(size_t)c * n + i];
	free(vals);
	return 0;
}

int maps_read_server(const struct pgs_maps *m, uint32_t slot, struct dp_server *out)
{
	uint64_t gone;
	int err;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(m->conns, &slot, &out->conns) || bpf_map_lookup_elem(m->conn_adj, &slot, &out->adj) ||
	    bpf_map_lookup_elem(m->passive, &slot, &out->passive_ns))
		return -errno;
	err = read_percpu_u64s(m->srv_stats, slot, (uint64_t *)&out->st, sizeof(out->st) / sizeof(uint64_t));
	if (err)
		return err;
	/* last_new_ns is a time, not a counter: the per-CPU sum is meaningless, take the latest. */
	{
		int ncpu = libbpf_num_possible_cpus(), c;
		struct pgs_srv_stats *v = calloc((size_t)ncpu, sizeof(*v));

		if (v && !bpf_map_lookup_elem(m->srv_stats, &slot, v)) {
			out->st.last_new_ns = 0;
			for (c = 0; c < ncpu; c++)
				if (v[c].last_new_ns > out->st.last_new_ns)
					out->st.last_new_ns = v[c].last_new_ns;
		}
		free(v);
	}
	gone = out->conns.closed + out->adj;
	out->active = out->conns.opened > gone ? out->conns.opened - gone : 0;
	return 0;
}

int maps_read_verdicts(const struct pgs_maps *m, uint64_t out[PGS_R_MAX])
{
	uint32_t r;
	int err;

	for (r = 0; r < PGS_R_MAX; r++) {
		err = read_percpu_u64s(m->verdicts, r, &out[r], 1);
		if (err)
			return err;
	}
	return 0;
}

int maps_read_ev_lost(const struct pgs_maps *m, uint64_t *out)
{
	return read_percpu_u64s(m->ev_lost, 0, out, 1);
}

int maps_get_synguard(const struct pgs_maps *m, uint32_t svc_id, struct pgs_synguard *out)
{
	return bpf_map_lookup_elem(m->synguard, &svc_id, out) ? -errno : 0;
}

int maps_read_svc_verdict(const struct pgs_maps *m, uint32_t svc_id, enum pgs_reason r, uint64_t *out)
{
	if (svc_id >= PGS_MAX_SERVICES || r >= PGS_R_MAX)
		return -EINVAL;
	return read_percpu_u64s(m->svc_verdicts, pgs_svc_verdict_key(svc_id, r), out, 1);
}

int maps_get_active(const struct pgs_maps *m, int *active)
{
	struct pgs_ctl ctl;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(m->ctl, &zero, &ctl))
		return -errno;
	*active = (int)ctl.active;
	return 0;
}

int maps_set_active(const struct pgs_maps *m, int active)
{
	struct pgs_ctl ctl = {};
	struct timespec ts;
	uint32_t zero = 0;

	bpf_map_lookup_elem(m->ctl, &zero, &ctl);
	if (ctl.active && !active) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ctl.off_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	ctl.active = active ? 1 : 0;
	return bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY) ? -errno : 0;
}

int maps_set_beat(const struct pgs_maps *m, uint32_t beat)
{
	struct pgs_ctl ctl = {};
	uint32_t zero = 0;

	bpf_map_lookup_elem(m->ctl, &zero, &ctl);
	ctl.beat = beat;
	return bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY) ? -errno : 0;
}

int maps_new_epoch(const struct pgs_maps *m)
{
	struct pgs_ctl ctl;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(m->ctl, &zero, &ctl))
		return -errno;
	ctl.epoch++;
	return bpf_map_update_elem(m->ctl, &zero, &ctl, BPF_ANY) ? -errno : 0;
}

int maps_get_off_ns(const struct pgs_maps *m, uint64_t *off_ns)
{
	struct pgs_ctl ctl;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(m->ctl, &zero, &ctl))
		return -errno;
	*off_ns = ctl.off_ns;
	return 0;
}

int maps_clear_passive(const struct pgs_maps *m, uint32_t slot)
{
	uint64_t zero = 0;

	return bpf_map_update_elem(m->passive, &slot, &zero, BPF_ANY) ? -errno : 0;
}

/* A slot given to another server starts from zero: connection counts, adjustment, passive mark and
 * traffic counters. The datapath no longer counts the previous server's flows there (their gen
 * differs), so nothing of the old server leaks into the new one's leastconn or stats. */
int maps_reset_slot(const struct pgs_maps *m, uint32_t slot)
{
	struct pgs_conns c = { 0 };
	uint64_t zero = 0;
	int ncpu = libbpf_num_possible_cpus(), err = 0;
	struct pgs_srv_stats *st = ncpu > 0 ? calloc((size_t)ncpu, sizeof(*st)) : NULL;

	if (!st)
		return -ENOMEM;
	if (bpf_map_update_elem(m->conns, &slot, &c, BPF_ANY) || bpf_map_update_elem(m->conn_adj, &slot, &zero, BPF_ANY) ||
	    bpf_map_update_elem(m->passive, &slot, &zero, BPF_ANY) || bpf_map_update_elem(m->srv_stats, &slot, st, BPF_ANY))
		err = -errno;
	free(st);
	return err;
}

int maps_get_server(const struct pgs_maps *m, uint32_t slot, struct pgs_server *out)
{
	return bpf_map_lookup_elem(m->servers, &slot, out) ? -errno : 0;
}

int maps_get_passive(const struct pgs_maps *m, uint32_t slot, uint64_t *ns)
{
	return bpf_map_lookup_elem(m->passive, &slot, ns) ? -errno : 0;
}

int maps_services_each(const struct pgs_maps *m, maps_svc_fn cb, void *arg)
{
	/* Keys first, then the callbacks: a callback may delete the service it is given. */
	struct pgs_svc_key keys[PGS_MAX_SERVICES], k;
	void *cur = NULL;
	int n = 0, i;

	while (n < PGS_MAX_SERVICES && !bpf_map_get_next_key(m->services, cur, &keys[n])) {
		k = keys[n++];
		cur = &k;
	}
	for (i = 0; i < n; i++) {
		struct pgs_svc v;

		if (!bpf_map_lookup_elem(m->services, &keys[i], &v))
			cb(arg, &keys[i], &v);
	}
	return 0;
}

int maps_flow_count(const struct pgs_maps *m, uint64_t *n)
{
	struct pgs_flow_key k, next;
	void *cur = NULL;

	*n = 0;
	while (!bpf_map_get_next_key(m->flows, cur, &next)) {
		k = next;
		cur = &k;
		(*n)++;
	}
	return 0;
}

#define PGS_REASON_NAME(id, name, drop, help) [PGS_R_##id] = name,
static const char *const verdict_names[PGS_R_MAX] = { PGS_REASONS(PGS_REASON_NAME) };
#undef PGS_REASON_NAME

#define PGS_REASON_HELP(id, name, drop, help) [PGS_R_##id] = help,
static const char *const verdict_helps[PGS_R_MAX] = { PGS_REASONS(PGS_REASON_HELP) };
#undef PGS_REASON_HELP

const char *verdict_name(enum pgs_reason r)
{
	return r < PGS_R_MAX ? verdict_names[r] : "unknown";
}

const char *verdict_help(enum pgs_reason r)
{
	return r < PGS_R_MAX ? verdict_helps[r] : "unknown verdict";
}

int verdict_is_drop(enum pgs_reason r)
{
	return pgs_reason_is_drop(r);
}

int verdict_by_name(const char *name)
{
	int r;

	for (r = 0; r < PGS_R_MAX; r++)
		if (!strcmp(verdict_names[r], name))
			return r;
	return -1;
}

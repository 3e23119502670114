/* The controller's model of services and servers, and what the datapath and the stats derive from it. */
#include <string.h>
#include "backend.h"

#define WEIGHT_SCALE 16 /* HAProxy's BE_WEIGHT_SCALE: effective weights are user weights x 16 */

const char *srv_class_name(enum srv_class c)
{
	static const char *const names[] = { "UP", "DOWN", "DRAIN", "MAINT" };

	return names[c];
}

const char *admin_name(enum admin_state a)
{
	return a == ADMIN_MAINT ? "maint" : a == ADMIN_DRAIN ? "drain" : "ready";
}

enum srv_class server_class(const struct server_rt *s)
{
	if (s->admin == ADMIN_MAINT)
		return CLASS_MAINT;
	if (!s->health.up)
		return CLASS_DOWN;
	if (s->admin == ADMIN_DRAIN)
		return CLASS_DRAIN;
	return CLASS_UP;
}

uint8_t server_dp_state(const struct server_rt *s)
{
	static const uint8_t map[] = {
		[CLASS_UP] = PGS_SRV_UP,
		[CLASS_DOWN] = PGS_SRV_DOWN,
		[CLASS_DRAIN] = PGS_SRV_DRAIN,
		[CLASS_MAINT] = PGS_SRV_MAINT,
	};

	return map[server_class(s)];
}

/* Slow start ramps the weight from 1 to full over slowstart after the server comes back UP. */
uint32_t server_dp_weight(const struct server_rt *s, uint64_t now_ms)
{
	uint32_t full = s->uweight * WEIGHT_SCALE, ss = s->svc->cfg.slowstart_ms;
	uint64_t age;

	if (!full || !ss || !s->up_since_ms || !s->health.up)
		return full;
	age = now_ms - s->up_since_ms;
	if (age >= ss)
		return full;
	return (uint32_t)((uint64_t)full * age / ss) ?: 1;
}

const char *server_status(const struct server_rt *s, char *buf, size_t len)
{
	return health_status(&s->health, s->admin, s->checked, buf, len);
}

uint64_t server_lastchg_s(const struct server_rt *s, uint64_t now_ms)
{
	return (now_ms - s->last_change_ms) / 1000;
}

uint64_t server_downtime_s(const struct server_rt *s, uint64_t now_ms)
{
	uint64_t ms = s->downtime_ms;

	if (s->down_since_ms)
		ms += now_ms - s->down_since_ms;
	return ms / 1000;
}

/* A free place (service id, or server position) that keeps was from the earlier model when it
 * can, else one nobody had (its counters and flows may still be there), else any free one. */
static int pick(int was, const int *used_now, const int *used_before, int n)
{
	int i;

	if (was >= 0 && !used_now[was])
		return was;
	for (i = 0; i < n; i++)
		if (!used_now[i] && !used_before[i])
			return i;
	for (i = 0; i < n; i++)
		if (!used_now[i])
			return i;
	return -1;
}

static const struct service_rt *prev_service(const struct model *prev, const char *name)
{
	int i;

	for (i = 0; prev && i < prev->nservices; i++)
		if (!strcmp(prev->services[i].cfg.name, name))
			return &prev->services[i];
	return NULL;
}

/* Slots follow names across reloads: a server keeps its slot (and so its counters and flows), a
 * new one takes a slot nobody used. */
static void assign_slots(struct model *m, const struct model *prev)
{
	int ids_now[PGS_MAX_SERVICES] = {}, ids_before[PGS_MAX_SERVICES] = {}, i, j;

	for (i = 0; prev && i < prev->nservices; i++)
		ids_before[prev->services[i].id] = 1;
	for (i = 0; i < m->nservices; i++) {
		struct service_rt *svc = &m->services[i];
		const struct service_rt *was = prev_service(prev, svc->cfg.name);
		int pos_now[PGS_MAX_SERVERS] = {}, pos_before[PGS_MAX_SERVERS] = {};

		svc->id = (uint32_t)pick(was ? (int)was->id : -1, ids_now, ids_before, PGS_MAX_SERVICES);
		ids_now[svc->id] = 1;
		for (j = 0; was && j < was->nservers; j++)
			pos_before[pgs_slot_pos(was->servers[j].slot)] = 1;
		for (j = 0; j < svc->nservers; j++) {
			struct server_rt *s = &svc->servers[j];
			int k, old = -1, pos;

			for (k = 0; was && k < was->nservers; k++)
				if (!strcmp(was->servers[k].cfg.name, s->cfg.name))
					old = (int)pgs_slot_pos(was->servers[k].slot);
			pos = pick(old, pos_now, pos_before, PGS_MAX_SERVERS);
			pos_now[pos] = 1;
			s->slot = pgs_slot(svc->id, (uint32_t)pos);
		}
	}
}

uint32_t service_positions(const struct service_rt *svc)
{
	uint32_t n = 0;
	int j;

	for (j = 0; j < svc->nservers; j++)
		if (pgs_slot_pos(svc->servers[j].slot) + 1 > n)
			n = pgs_slot_pos(svc->servers[j].slot) + 1;
	return n;
}

void model_init(struct model *m, const struct config *cfg, uint64_t now, const struct model *prev)
{
	int i, j;

	memset(m, 0, sizeof(*m));
	m->cfg = cfg;
	m->start_ms = now;
	m->flows_max = cfg->flow_table_size;
	m->vrrp.enabled = cfg->vrrp.enabled;
	m->nservices = cfg->nservices;
	for (i = 0; i < cfg->nservices; i++) {
		struct service_rt *svc = &m->services[i];

		svc->cfg = cfg->services[i];
		svc->id = (uint32_t)i;
		svc->nservers = svc->cfg.nservers;
		for (j = 0; j < svc->nservers; j++) {
			struct server_rt *s = &svc->servers[j];

			s->cfg = svc->cfg.servers[j];
			s->svc = svc;
			s->admin = s->cfg.disabled ? ADMIN_MAINT : ADMIN_READY;
			s->uweight = s->cfg.weight;
			s->checked = svc->cfg.check.type != CHECK_NONE;
			health_init(&s->health, svc->cfg.check.rise, svc->cfg.check.fall);
			s->last.status = s->checked ? CHK_INI : CHK_UNK;
			s->last_change_ms = now;
			s->reported = server_class(s);
		}
	}
	assign_slots(m, prev);
}

const struct server_rt *model_slot(const struct model *m, uint32_t slot)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++)
			if (m->services[i].servers[j].slot == slot)
				return &m->services[i].servers[j];
	return NULL;
}

struct server_rt *model_server(struct model *m, const char *service, const char *server)
{
	int i, j;

	for (i = 0; i < m->nservices; i++) {
		struct service_rt *svc = &m->services[i];

		if (service && strcmp(svc->cfg.name, service))
			continue;
		for (j = 0; j < svc->nservers; j++)
			if (!strcmp(svc->servers[j].cfg.name, server))
				return &svc->servers[j];
	}
	return NULL;
}

struct server_rt *model_find(struct model *m, const char *spec)
{
	char svc[PGS_NAME_LEN];
	const char *slash = strchr(spec, '/');
	struct server_rt *found = NULL;
	int i;

	if (slash) {
		size_t n = (size_t)(slash - spec);

		if (n >= sizeof(svc))
			return NULL;
		memcpy(svc, spec, n);
		svc[n] = '\0';
		return model_server(m, svc, slash + 1);
	}
	/* A bare server name is accepted only when one service has it. */
	for (i = 0; i < m->nservices; i++) {
		struct server_rt *s = model_server(m, m->services[i].cfg.name, spec);

		if (s && found)
			return NULL;
		if (s)
			found = s;
	}
	return found;
}

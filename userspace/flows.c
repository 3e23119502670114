/* pgsteer flows: the live flows of the pinned flow table, each with the client's own address, the
 * VIP:SNAT port its server sees in its place (PgBouncer's SHOW CLIENTS addr and port), the server,
 * the state and the age. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <json-c/json.h>
#include "flows.h"

struct svc_names {
	char name[PGS_MAX_SERVICES][PGS_NAME_LEN + 1];
};

static void svc_name(void *arg, const struct pgs_svc_key *k, const struct pgs_svc *v)
{
	struct svc_names *n = arg;

	if (v->id < PGS_MAX_SERVICES)
		snprintf(n->name[v->id], sizeof(n->name[v->id]), "%.*s", PGS_NAME_LEN, v->name);
}

int flows_parse_client(const char *s, struct flows_filter *f)
{
	char buf[64], *colon, *end;
	struct in_addr a;
	unsigned long port;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	f->cport = 0;
	colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		errno = 0;
		port = strtoul(colon + 1, &end, 10);
		if (errno || *end || end == colon + 1 || !port || port > 65535)
			return -1;
		f->cport = htons((uint16_t)port);
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	f->client = a.s_addr;
	return 0;
}

static const char *state_name(uint32_t st)
{
	static const char *const names[] = { "?", "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "CLOSED" };

	return st < sizeof(names) / sizeof(names[0]) ? names[st] : "?";
}

static void addr_port(char *buf, size_t len, uint32_t addr, uint16_t port)
{
	inet_ntop(AF_INET, &addr, buf, (socklen_t)len);
	snprintf(buf + strlen(buf), len - strlen(buf), ":%u", ntohs(port));
}

/* The filter's SERVER or SERVICE/SERVER against a row. */
static int server_matches(const char *want, const struct flow_row *r)
{
	const char *slash = strchr(want, '/');

	if (!slash)
		return !strcmp(want, r->server);
	return (size_t)(slash - want) == strlen(r->service) && !strncmp(want, r->service, slash - want) &&
	       !strcmp(slash + 1, r->server);
}

static int row_cmp(const void *a, const void *b)
{
	const struct flow_row *x = a, *y = b;
	int c = strcmp(x->service, y->service);

	if (!c)
		c = strcmp(x->server, y->server);
	if (!c)
		c = memcmp(&x->k.client, &y->k.client, sizeof(x->k.client));
	if (!c)
		c = (int)ntohs(x->k.cport) - (int)ntohs(y->k.cport);
	return c;
}

long flows_read(const struct pgs_maps *m, const struct flows_filter *f, struct flow_row **rows)
{
	struct svc_names *names = calloc(1, sizeof(*names));
	struct pgs_flow_key k, next;
	struct flow_row *v = NULL, *grow;
	size_t n = 0, cap = 0;
	void *cur = NULL;

	if (!names)
		return -ENOMEM;
	maps_services_each(m, svc_name, names);
	while (!bpf_map_get_next_key(m->flows, cur, &next)) {
		struct flow_row r = { .k = next };
		struct pgs_server s;
		uint32_t id;

		k = next;
		cur = &k;
		if (bpf_map_lookup_elem(m->flows, &r.k, &r.f))
			continue; /* gone meanwhile */
		if (f->client && (r.k.client != f->client || (f->cport && r.k.cport != f->cport)))
			continue;
		id = pgs_slot_svc(r.f.slot);
		snprintf(r.service, sizeof(r.service), "%s", id < PGS_MAX_SERVICES ? names->name[id] : "");
		if (!maps_get_server(m, r.f.slot, &s) && s.gen == r.f.gen)
			snprintf(r.server, sizeof(r.server), "%.*s", PGS_NAME_LEN, s.name);
		if (f->server && !server_matches(f->server, &r))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grow = realloc(v, cap * sizeof(*v));
			if (!grow) {
				free(v);
				free(names);
				return -ENOMEM;
			}
			v = grow;
		}
		v[n++] = r;
	}
	free(names);
	if (n)
		qsort(v, n, sizeof(*v), row_cmp);
	*rows = v;
	return (long)n;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t ms_since(uint64_t now, uint64_t then)
{
	return then && now > then ? (now - then) / 1000000 : 0;
}

int flows_print(const struct pgs_maps *m, const struct flows_filter *f, int json, FILE *out)
{
	struct flow_row *rows = NULL;
	uint64_t now = mono_ns();
	long n = flows_read(m, f, &rows), i;
	json_object *arr;

	if (n < 0)
		return (int)n;
	if (!json)
		fprintf(out, "%-21s %-21s %-8s %-10s %-21s %-11s %9s %9s\n", "CLIENT", "SERVER SEES", "SERVICE", "SERVER",
			"BACKEND", "STATE", "AGE", "IDLE");
	arr = json ? json_object_new_array() : NULL;
	for (i = 0; i < n; i++) {
		const struct flow_row *r = &rows[i];
		char client[32], seen[32], backend[32];
		uint64_t age = ms_since(now, r->f.created_ns), idle = ms_since(now, r->f.seen_ns);

		addr_port(client, sizeof(client), r->k.client, r->k.cport);
		addr_port(seen, sizeof(seen), r->k.vip, r->f.sport);
		addr_port(backend, sizeof(backend), r->f.backend, r->f.bport);
		if (!json) {
			fprintf(out, "%-21s %-21s %-8s %-10s %-21s %-11s %8.1fs %8.1fs\n", client, seen, r->service,
				r->server[0] ? r->server : "-", backend, state_name(r->f.state), age / 1e3, idle / 1e3);
			continue;
		}
		json_object *o = json_object_new_object();
		char a[INET_ADDRSTRLEN];

		inet_ntop(AF_INET, &r->k.client, a, sizeof(a));
		json_object_object_add(o, "client_addr", json_object_new_string(a));
		json_object_object_add(o, "client_port", json_object_new_int(ntohs(r->k.cport)));
		inet_ntop(AF_INET, &r->k.vip, a, sizeof(a));
		json_object_object_add(o, "vip", json_object_new_string(a));
		json_object_object_add(o, "vport", json_object_new_int(ntohs(r->k.vport)));
		json_object_object_add(o, "snat_port", json_object_new_int(ntohs(r->f.sport)));
		json_object_object_add(o, "service", json_object_new_string(r->service));
		json_object_object_add(o, "server", r->server[0] ? json_object_new_string(r->server) : NULL);
		json_object_object_add(o, "backend", json_object_new_string(backend));
		json_object_object_add(o, "state", json_object_new_string(state_name(r->f.state)));
		json_object_object_add(o, "age_ms", json_object_new_uint64(age));
		json_object_object_add(o, "idle_ms", json_object_new_uint64(idle));
		json_object_array_add(arr, o);
	}
	if (json) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else {
		fprintf(out, "%ld flow%s\n", n, n == 1 ? "" : "s");
	}
	free(rows);
	return 0;
}

/* pgsteer clients: PgBouncer's view of its clients (SHOW CLIENTS on its admin console, logged in
 * with the admin-credentials file), each row joined with the live flow whose VIP:SNAT port it lists,
 * so full NAT no longer hides who is connected. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <json-c/json.h>
#include <libpq-fe.h>
#include "admin_creds.h"
#include "flows.h"
#include "pgsteer_clients.h"

#define ADMIN_CONNECT_TIMEOUT "3" /* seconds, per server: a dead PgBouncer must not hold the others */
#define ERR_LEN 1024

/* The SHOW CLIENTS columns shown, by name (PgBouncer versions add and move columns). */
enum { COL_USER, COL_DATABASE, COL_STATE, COL_ADDR, COL_PORT, COL_CONNECT_TIME, COL_APPNAME, COL_N };
static const char *const col_names[COL_N] = { "user", "database", "state", "addr", "port", "connect_time",
					       "application_name" };

struct clients_ctx {
	const struct config *cfg;
	const struct flow_row *flows;
	long nflows;
	int json;
	FILE *out, *err;
	json_object *arr;
	long rows;
};

/* The flow PgBouncer at srv sees as addr:port (VIP:SNAT port); NULL when none is live. */
static const struct flow_row *flow_behind(const struct clients_ctx *c, const struct cfg_server *srv, uint32_t addr,
					  uint16_t port)
{
	long i;

	for (i = 0; i < c->nflows; i++) {
		const struct flow_row *r = &c->flows[i];

		if (r->k.vip == addr && r->f.sport == port && r->f.backend == srv->addr && r->f.bport == srv->port)
			return r;
	}
	return NULL;
}

static int is_vip(const struct config *cfg, uint32_t addr)
{
	int i;

	for (i = 0; i < cfg->nservices; i++)
		if (cfg->services[i].vip == addr)
			return 1;
	return 0;
}

static const char *creds_path(const struct config *cfg, const struct cfg_service *svc)
{
	return svc->admin_credentials[0] ? svc->admin_credentials : cfg->admin_credentials;
}

static void report_error(struct clients_ctx *c, const struct cfg_service *svc, const struct cfg_server *srv,
			 const char *why)
{
	char where[64], msg[ERR_LEN + PATH_MAX];
	size_t n;

	/* libpq's messages span lines ("...failed: Connection refused\n\tIs the server running"): one line */
	for (n = 0; *why && n + 1 < sizeof(msg); why++) {
		if (isspace((unsigned char)*why)) {
			if (n && msg[n - 1] != ' ')
				msg[n++] = ' ';
		} else {
			msg[n++] = *why;
		}
	}
	while (n && msg[n - 1] == ' ')
		n--;
	msg[n] = '\0';
	inet_ntop(AF_INET, &srv->addr, where, sizeof(where));
	snprintf(where + strlen(where), sizeof(where) - strlen(where), ":%u", ntohs(srv->port));
	fprintf(c->err, "pgsteer: clients: %s/%s (%s): %s\n", svc->name, srv->name, where, msg);
	if (c->json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "service", json_object_new_string(svc->name));
		json_object_object_add(o, "server", json_object_new_string(srv->name));
		json_object_object_add(o, "pgbouncer", json_object_new_string(where));
		json_object_object_add(o, "error", json_object_new_string(msg));
		json_object_array_add(c->arr, o);
	}
}

/* Our own admin connection's address, so its row (PgBouncer lists it too) is left out. */
static void own_addr(PGconn *pg, uint32_t *addr, uint16_t *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);

	*addr = 0;
	*port = 0;
	if (getsockname(PQsocket(pg), (struct sockaddr *)&sa, &len) == 0 && sa.sin_family == AF_INET) {
		*addr = sa.sin_addr.s_addr;
		*port = sa.sin_port;
	}
}

/* One row of SHOW CLIENTS, with the client behind it. */
static void print_row(struct clients_ctx *c, const struct cfg_service *svc, const struct cfg_server *srv,
		      const char *v[COL_N])
{
	const struct flow_row *fr = NULL;
	char seen[64], client[64] = "?";
	struct in_addr a = {};
	unsigned long port = strtoul(v[COL_PORT] ? v[COL_PORT] : "0", NULL, 10);
	int via_vip = 0;

	snprintf(seen, sizeof(seen), "%s:%lu", v[COL_ADDR] ? v[COL_ADDR] : "?", port);
	if (v[COL_ADDR] && inet_pton(AF_INET, v[COL_ADDR], &a) == 1 && port <= 65535) {
		via_vip = is_vip(c->cfg, a.s_addr);
		fr = via_vip ? flow_behind(c, srv, a.s_addr, htons((uint16_t)port)) : NULL;
	}
	if (fr) {
		inet_ntop(AF_INET, &fr->k.client, client, sizeof(client));
		snprintf(client + strlen(client), sizeof(client) - strlen(client), ":%u", ntohs(fr->k.cport));
	} else if (!via_vip) {
		snprintf(client, sizeof(client), "%s", seen); /* not through the VIP: PgBouncer sees the client */
	}
	c->rows++;
	if (!c->json) {
		fprintf(c->out, "%-8s %-10s %-21s %-21s %-12s %-12s %-7s %s\n", svc->name, srv->name, client, seen,
			v[COL_USER] ? v[COL_USER] : "", v[COL_DATABASE] ? v[COL_DATABASE] : "",
			v[COL_STATE] ? v[COL_STATE] : "", v[COL_CONNECT_TIME] ? v[COL_CONNECT_TIME] : "");
		return;
	}
	json_object *o = json_object_new_object();
	char ca[INET_ADDRSTRLEN];
	int i;

	json_object_object_add(o, "service", json_object_new_string(svc->name));
	json_object_object_add(o, "server", json_object_new_string(srv->name));
	for (i = 0; i < COL_N; i++) {
		if (i == COL_PORT)
			json_object_object_add(o, "port", json_object_new_int((int)port));
		else
			json_object_object_add(o, col_names[i], v[i] ? json_object_new_string(v[i]) : NULL);
	}
	json_object_object_add(o, "via_vip", json_object_new_boolean(via_vip));
	if (fr) {
		inet_ntop(AF_INET, &fr->k.client, ca, sizeof(ca));
		json_object_object_add(o, "client_addr", json_object_new_string(ca));
		json_object_object_add(o, "client_port", json_object_new_int(ntohs(fr->k.cport)));
	} else if (!via_vip) {
		json_object_object_add(o, "client_addr", v[COL_ADDR] ? json_object_new_string(v[COL_ADDR]) : NULL);
		json_object_object_add(o, "client_port", json_object_new_int((int)port));
	} else {
		json_object_object_add(o, "client_addr", NULL); /* its flow is gone (or not yet seen) */
		json_object_object_add(o, "client_port", NULL);
	}
	json_object_array_add(c->arr, o);
}

/* SHOW CLIENTS on one server; 0, or -1 when it could not be asked (reported). */
static int server_clients(struct clients_ctx *c, const struct cfg_service *svc, const struct cfg_server *srv)
{
	const char *path = creds_path(c->cfg, svc), *v[COL_N];
	char host[INET_ADDRSTRLEN], port[8], why[ERR_LEN + PATH_MAX], file_err[ERR_LEN];
	struct admin_login login = {};
	int col[COL_N], i, j, r;
	uint32_t self_addr;
	uint16_t self_port;
	PGresult *res;
	PGconn *pg;

	inet_ntop(AF_INET, &srv->addr, host, sizeof(host));
	snprintf(port, sizeof(port), "%u", ntohs(srv->port));
	if (!path[0]) {
		report_error(c, svc, srv, "no admin-credentials in the config for this service");
		return -1;
	}
	r = admin_creds_load(path, host, ntohs(srv->port), &login, file_err, sizeof(file_err));
	if (r) {
		int line = svc->admin_credentials[0] ? svc->admin_credentials_line : c->cfg->admin_credentials_line;

		if (r == -ENOENT)
			snprintf(file_err, sizeof(file_err), "%s has no line for %s:%s", path, host, port);
		snprintf(why, sizeof(why), "%s:%d: admin-credentials: %s", c->cfg->path, line, file_err);
		report_error(c, svc, srv, why);
		return -1;
	}
	const char *keys[] = { "host", "port", "dbname", "user", "password", "connect_timeout", "application_name", NULL };
	const char *vals[] = { host, port, "pgbouncer", login.user, login.password, ADMIN_CONNECT_TIMEOUT, "pgsteer-clients", NULL };

	pg = PQconnectdbParams(keys, vals, 0);
	memset(&login, 0, sizeof(login));
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		report_error(c, svc, srv, pg ? PQerrorMessage(pg) : "out of memory");
		PQfinish(pg);
		return -1;
	}
	own_addr(pg, &self_addr, &self_port);
	res = PQexec(pg, "SHOW CLIENTS");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(why, sizeof(why), "SHOW CLIENTS: %s", PQerrorMessage(pg));
		report_error(c, svc, srv, why);
		PQclear(res);
		PQfinish(pg);
		return -1;
	}
	for (i = 0; i < COL_N; i++)
		col[i] = PQfnumber(res, col_names[i]);
	for (j = 0; j < PQntuples(res); j++) {
		struct in_addr a;

		for (i = 0; i < COL_N; i++)
			v[i] = col[i] >= 0 && !PQgetisnull(res, j, col[i]) ? PQgetvalue(res, j, col[i]) : NULL;
		if (self_port && v[COL_ADDR] && v[COL_PORT] && inet_pton(AF_INET, v[COL_ADDR], &a) == 1 &&
		    a.s_addr == self_addr && strtoul(v[COL_PORT], NULL, 10) == ntohs(self_port))
			continue;
		print_row(c, svc, srv, v);
	}
	PQclear(res);
	PQfinish(pg);
	return 0;
}

static int server_wanted(const char *want, const struct cfg_service *svc, const struct cfg_server *srv)
{
	const char *slash = want ? strchr(want, '/') : NULL;

	if (!want)
		return 1;
	if (!slash)
		return !strcmp(want, srv->name);
	return (size_t)(slash - want) == strlen(svc->name) && !strncmp(want, svc->name, slash - want) &&
	       !strcmp(slash + 1, srv->name);
}

int clients_print(const struct config *cfg, const struct pgs_maps *m, const char *server, int json, FILE *out,
		  FILE *err)
{
	struct flows_filter all = {};
	struct flow_row *flows = NULL;
	struct clients_ctx c = { .cfg = cfg, .json = json, .out = out, .err = err };
	int i, j, failed = 0;

	c.nflows = flows_read(m, &all, &flows);
	if (c.nflows < 0)
		return (int)c.nflows;
	c.flows = flows;
	if (json)
		c.arr = json_object_new_array();
	else
		fprintf(out, "%-8s %-10s %-21s %-21s %-12s %-12s %-7s %s\n", "SERVICE", "SERVER", "CLIENT",
			"PGBOUNCER SEES", "USER", "DATABASE", "STATE", "CONNECTED");
	for (i = 0; i < cfg->nservices; i++)
		for (j = 0; j < cfg->services[i].nservers; j++)
			if (server_wanted(server, &cfg->services[i], &cfg->services[i].servers[j]))
				failed += server_clients(&c, &cfg->services[i], &cfg->services[i].servers[j]) < 0;
	if (json) {
		fprintf(out, "%s\n", json_object_to_json_string_ext(c.arr, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(c.arr);
	} else {
		fprintf(out, "%ld client%s", c.rows, c.rows == 1 ? "" : "s");
		if (failed)
			fprintf(out, ", %d server%s not asked (on stderr)", failed, failed == 1 ? "" : "s");
		fprintf(out, "\n");
	}
	free(flows);
	return failed;
}

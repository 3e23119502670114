/* pgsteer: the operator CLI. Talks to pgsteerd over its runtime socket, or reads the pinned maps
 * directly when the daemon is not running. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>
#include "check.h"
#include "config.h"
#include "datapath.h"
#include "flows.h"
#include "log.h"
#include "loop.h"
#include "maps.h"
#include "monitor.h"
#include "pgsteer_clients.h"

#define DEFAULT_CONF "/etc/pgsteer/pgsteer.conf"
#define DEFAULT_SOCKET "/run/pgsteer/pgsteerd.sock"
#define RT_TIMEOUT_MS 5000

static const char *opt_socket, *opt_conf;
static int opt_json;

/* An error: "pgsteer: what" on stderr, or with -j {"error": "what"} on stdout, so a script reading
 * JSON always gets JSON. */
static void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void cli_err(const char *fmt, ...)
{
	char msg[2048];
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (opt_json) {
		json_object *o = json_object_new_object();

		json_object_object_add(o, "error", json_object_new_string(msg));
		printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(o);
	} else {
		fprintf(stderr, "pgsteer: %s\n", msg);
	}
}

/* pgsteerd's answers that refuse a command (HAProxy's wording for an unknown one). */
static int rt_refused(const char *resp)
{
	return !strncmp(resp, "Unknown command", 15) || !strncmp(resp, "Not supported", 13);
}

/* --- talking to pgsteerd ----------------------------------------------------------------------- */

static const char *conf_path(void)
{
	return opt_conf ? opt_conf : getenv("PGSTEER_CONF") ? getenv("PGSTEER_CONF") : DEFAULT_CONF;
}

/* The config, when one is needed (pin root, interface); exits with its error otherwise. */
static void load_conf(struct config *cfg)
{
	char err[1024];

	if (config_load(conf_path(), cfg, err, sizeof(err))) {
		cli_err("%s\n", err);
		exit(1);
	}
}

static const char *socket_path(void)
{
	static struct config cfg;
	char err[256];

	if (opt_socket)
		return opt_socket;
	if (getenv("PGSTEER_SOCKET"))
		return getenv("PGSTEER_SOCKET");
	if (!config_load(conf_path(), &cfg, err, sizeof(err)))
		return cfg.runtime_socket;
	return DEFAULT_SOCKET;
}

/* Send one request line; the answer in *resp (malloc'd). 0, or -errno when pgsteerd cannot be reached. */
static int rt_request(const char *line, char **resp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = socket_path();
	size_t len = 0, cap = 0;
	char *buf = NULL;
	int fd, r = 0;

	*resp = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) || write(fd, line, strlen(line)) < 0 || write(fd, "\n", 1) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, RT_TIMEOUT_MS) <= 0) {
			r = -ETIMEDOUT;
			break;
		}
		if (len + 4096 + 1 > cap) {
			char *nb = realloc(buf, cap = cap ? cap * 2 : 8192);

			if (!nb) {
				r = -ENOMEM;
				break;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (r) {
		free(buf);
		return r;
	}
	if (!buf)
		buf = strdup("");
	else
		buf[len] = '\0';
	*resp = buf;
	return 0;
}

/* A command for pgsteerd: print its answer; errors from pgsteerd are lines that are not empty. */
static int rt_command(const char *line, int print)
{
	char *resp;
	int r = rt_request(line, &resp);

	if (r) {
		cli_err("cannot reach pgsteerd on %s: %s\n", socket_path(), strerror(-r));
		return 1;
	}
	if (print && !rt_refused(resp)) {
		fputs(resp, stdout);
	} else if (strspn(resp, "\n") != strlen(resp)) {
		cli_err("%s", resp);
		r = 1;
	}
	free(resp);
	return r;
}

/* --- status -------------------------------------------------------------------------------------- */

static const char *jstr(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static uint64_t ju64(json_object *o, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_uint64(v) : 0;
}

static const char *human_bytes(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "kB", "MB", "GB", "TB" };
	double v = (double)b;
	int i = 0;

	while (v >= 1000 && i < 4) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, i ? "%.1f %s" : "%.0f %s", v, unit[i]);
	return buf;
}

/* The datapath's verdicts on two lines, passes and translations first, then the drops (named
 * without their "drop_" prefix). */
static void print_verdicts(const uint64_t v[PGS_R_MAX])
{
	int i, drops;

	for (drops = 0; drops <= 1; drops++) {
		printf(drops ? "\ndrops:   " : "verdicts:");
		for (i = 0; i < PGS_R_MAX; i++) {
			const char *name = verdict_name((enum pgs_reason)i);

			if (verdict_is_drop((enum pgs_reason)i) != drops)
				continue;
			if (drops && !strncmp(name, "drop_", 5))
				name += 5;
			printf(" %s %llu", name, (unsigned long long)v[i]);
		}
	}
	printf("\n");
}

/* A service's SYN-flood line: its syn-cookies mode, flood mode now, and its cookie verdicts. */
static void print_synflood(json_object *svc)
{
	json_object *syn, *flood, *verdicts;

	if (!json_object_object_get_ex(svc, "syn_cookies", &syn) || !syn)
		return;
	json_object_object_get_ex(syn, "flood", &flood);
	printf("  syn-cookies %s, flood mode %s, %llu flood(s):", jstr(syn, "mode"),
	       json_object_get_boolean(flood) ? "ON" : "off", (unsigned long long)ju64(syn, "floods"));
	if (json_object_object_get_ex(syn, "verdicts", &verdicts) && verdicts) {
		json_object_object_foreach(verdicts, k, v)
			printf(" %s %llu", k, (unsigned long long)json_object_get_uint64(v));
	}
	printf("\n");
}

static void print_status(json_object *root)
{
	json_object *services, *dp, *vrrp, *verdicts;
	size_t i, j;

	printf("pgsteer %s on %s, up %llus\n", jstr(root, "version"), jstr(root, "node"), (unsigned long long)ju64(root, "uptime"));
	if (json_object_object_get_ex(root, "vrrp", &vrrp) && vrrp)
		printf("vrrp: %s (vrid %llu, priority %llu), master %s, %llu transition(s)\n", jstr(vrrp, "state"),
		       (unsigned long long)ju64(vrrp, "vrid"), (unsigned long long)ju64(vrrp, "priority"),
		       *jstr(vrrp, "master") ? jstr(vrrp, "master") : "unknown", (unsigned long long)ju64(vrrp, "transitions"));
	if (json_object_object_get_ex(root, "services", &services))
		for (i = 0; i < json_object_array_length(services); i++) {
			json_object *svc = json_object_array_get_idx(services, i), *servers;

			printf("\nservice %s  %s  %s  check %s  %llu active, %llu total\n", jstr(svc, "name"), jstr(svc, "bind"),
			       jstr(svc, "status"), jstr(svc, "check"), (unsigned long long)ju64(svc, "scur"),
			       (unsigned long long)ju64(svc, "stot"));
			print_synflood(svc);
			printf("  %-10s %-21s %-10s %6s %8s %10s %10s  %s\n", "SERVER", "ADDRESS", "STATUS", "ACTIVE", "TOTAL",
			       "BYTES IN", "BYTES OUT", "LAST CHECK");
			if (!json_object_object_get_ex(svc, "servers", &servers))
				continue;
			for (j = 0; j < json_object_array_length(servers); j++) {
				json_object *s = json_object_array_get_idx(servers, j), *chk;
				char bi[32], bo[32], last[200] = "-";

				if (json_object_object_get_ex(s, "check", &chk) && chk)
					snprintf(last, sizeof(last), "%s %llums %s", jstr(chk, "status"),
						 (unsigned long long)ju64(chk, "duration_ms"), jstr(chk, "desc"));
				printf("  %-10s %-21s %-10s %6llu %8llu %10s %10s  %s\n", jstr(s, "name"), jstr(s, "addr"),
				       jstr(s, "status"), (unsigned long long)ju64(s, "scur"), (unsigned long long)ju64(s, "stot"),
				       human_bytes(ju64(s, "bin"), bi, sizeof(bi)), human_bytes(ju64(s, "bout"), bo, sizeof(bo)), last);
			}
		}
	if (json_object_object_get_ex(root, "datapath", &dp) && dp) {
		uint64_t flows = ju64(dp, "flows"), max = ju64(dp, "flows_max");

		printf("\nflow table: %llu of %llu (%.1f%%), %llu expired\n", (unsigned long long)flows, (unsigned long long)max,
		       max ? 100.0 * (double)flows / (double)max : 0.0, (unsigned long long)ju64(dp, "expired"));
		if (json_object_object_get_ex(dp, "verdicts", &verdicts)) {
			uint64_t n[PGS_R_MAX] = { 0 };

			json_object_object_foreach(verdicts, k, v) {
				int r = verdict_by_name(k);

				if (r >= 0)
					n[r] = json_object_get_uint64(v);
			}
			print_verdicts(n);
		}
	}
}

/* The services the pinned maps hold, by id: their names and slots are the maps' own, whatever the
 * config says now (a service removed or reordered since keeps its servers under its name). */
struct pinned_services {
	int n;
	struct pgs_svc v[PGS_MAX_SERVICES];
};

static void pinned_service(void *arg, const struct pgs_svc_key *k, const struct pgs_svc *v)
{
	struct pinned_services *p = arg;
	int i = p->n++;

	while (i > 0 && p->v[i - 1].id > v->id) {
		p->v[i] = p->v[i - 1];
		i--;
	}
	p->v[i] = *v;
}

/* -j: the same as JSON, with "running": false so a script tells it from pgsteerd's own answer. */
static int status_from_maps_json(struct pgs_maps *m, const struct config *cfg, const struct pinned_services *svcs,
				 int active, uint64_t flows)
{
	static const char *const st[] = { "DOWN", "UP", "DRAIN", "MAINT" };
	json_object *root = json_object_new_object(), *services = json_object_new_array(), *ft, *verdicts;
	uint64_t v[PGS_R_MAX];
	uint32_t pos;
	int i;

	json_object_object_add(root, "running", json_object_new_boolean(0));
	json_object_object_add(root, "pin_root", json_object_new_string(cfg->pin_root));
	json_object_object_add(root, "steering", json_object_new_boolean(active));
	for (i = 0; i < svcs->n; i++) {
		json_object *svc = json_object_new_object(), *servers = json_object_new_array();
		char name[PGS_NAME_LEN + 1];

		snprintf(name, sizeof(name), "%.*s", PGS_NAME_LEN, svcs->v[i].name);
		json_object_object_add(svc, "name", json_object_new_string(name));
		for (pos = 0; pos < svcs->v[i].nservers && pos < PGS_MAX_SERVERS; pos++) {
			uint32_t slot = pgs_slot(svcs->v[i].id, pos);
			struct pgs_server s;
			struct dp_server d;
			json_object *o;
			char addr[32];

			if (maps_get_server(m, slot, &s) || !s.addr || maps_read_server(m, slot, &d))
				continue;
			o = json_object_new_object();
			snprintf(name, sizeof(name), "%.*s", PGS_NAME_LEN, s.name);
			inet_ntop(AF_INET, &s.addr, addr, sizeof(addr));
			snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), ":%u", ntohs(s.port));
			json_object_object_add(o, "name", json_object_new_string(name));
			json_object_object_add(o, "address", json_object_new_string(addr));
			json_object_object_add(o, "state", json_object_new_string(s.state < 4 ? st[s.state] : "?"));
			json_object_object_add(o, "active", json_object_new_uint64(d.active));
			json_object_object_add(o, "total", json_object_new_uint64(d.conns.opened));
			json_object_object_add(o, "bytes_in", json_object_new_uint64(d.st.bytes_in));
			json_object_object_add(o, "bytes_out", json_object_new_uint64(d.st.bytes_out));
			json_object_array_add(servers, o);
		}
		json_object_object_add(svc, "servers", servers);
		json_object_array_add(services, svc);
	}
	json_object_object_add(root, "services", services);
	ft = json_object_new_object();
	json_object_object_add(ft, "flows", json_object_new_uint64(flows));
	json_object_object_add(ft, "size", json_object_new_uint64(cfg->flow_table_size));
	json_object_object_add(root, "flow_table", ft);
	if (!maps_read_verdicts(m, v)) {
		verdicts = json_object_new_object();
		for (i = 0; i < PGS_R_MAX; i++)
			json_object_object_add(verdicts, verdict_name((enum pgs_reason)i), json_object_new_uint64(v[i]));
		json_object_object_add(root, "verdicts", verdicts);
	}
	printf("%s\n", json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(root);
	return 0;
}

/* The datapath pinned under the config's pin root, daemon or not: 0, or 1 once the missing map is named. */
static int open_pinned(const struct config *cfg, struct pgs_maps *m)
{
	const char *missing = NULL;
	int r = maps_open_pinned(m, cfg->pin_root, &missing);

	if (r)
		cli_err("no datapath is pinned under %s (%s: %s)", cfg->pin_root, missing ? missing : "?", strerror(-r));
	return r ? 1 : 0;
}

/* pgsteerd is not running: what the pinned maps alone can tell. */
static int status_from_maps(void)
{
	static struct config cfg;
	static const char *const st[] = { "DOWN", "UP", "DRAIN", "MAINT" };
	struct pinned_services svcs = {};
	struct pgs_maps m;
	const char *missing = NULL;
	uint64_t v[PGS_R_MAX], flows = 0;
	uint32_t pos;
	int r, active = 0, i;

	load_conf(&cfg);
	r = maps_open_pinned(&m, cfg.pin_root, &missing);
	if (r) {
		cli_err("pgsteerd is not running, and no datapath is pinned under %s (%s: %s)\n",
			cfg.pin_root, missing ? missing : "?", strerror(-r));
		return 1;
	}
	maps_flow_count(&m, &flows);
	maps_get_active(&m, &active);
	maps_services_each(&m, pinned_service, &svcs);
	if (opt_json) {
		r = status_from_maps_json(&m, &cfg, &svcs, active, flows);
		maps_close(&m);
		return r;
	}
	printf("pgsteerd is not running: the datapath pinned under %s, as it stands (steering %s)\n", cfg.pin_root,
	       active ? "on" : "off");
	for (i = 0; i < svcs.n; i++) {
		printf("\nservice %.*s\n  %-10s %-21s %-6s %6s %8s %10s %10s\n", PGS_NAME_LEN, svcs.v[i].name, "SERVER",
		       "ADDRESS", "STATE", "ACTIVE", "TOTAL", "BYTES IN", "BYTES OUT");
		for (pos = 0; pos < svcs.v[i].nservers && pos < PGS_MAX_SERVERS; pos++) {
			uint32_t slot = pgs_slot(svcs.v[i].id, pos);
			struct pgs_server s;
			struct dp_server d;
			char addr[32], bi[32], bo[32];

			if (maps_get_server(&m, slot, &s) || !s.addr || maps_read_server(&m, slot, &d))
				continue;
			inet_ntop(AF_INET, &s.addr, addr, sizeof(addr));
			snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), ":%u", ntohs(s.port));
			printf("  %-10.*s %-21s %-6s %6llu %8llu %10s %10s\n", PGS_NAME_LEN, s.name, addr,
			       s.state < 4 ? st[s.state] : "?", (unsigned long long)d.active, (unsigned long long)d.conns.opened,
			       human_bytes(d.st.bytes_in, bi, sizeof(bi)), human_bytes(d.st.bytes_out, bo, sizeof(bo)));
		}
	}
	printf("\nflow table: %llu of %u\n", (unsigned long long)flows, cfg.flow_table_size);
	if (!maps_read_verdicts(&m, v))
		print_verdicts(v);
	maps_close(&m);
	return 0;
}

static int cmd_status(int argc, char **argv)
{
	json_object *root;
	char *resp;
	int r = rt_request("show status json", &resp);

	if (r == -ENOENT || r == -ECONNREFUSED)
		return status_from_maps();
	if (r) {
		cli_err("cannot reach pgsteerd on %s: %s\n", socket_path(), strerror(-r));
		return 1;
	}
	if (opt_json) {
		fputs(resp, stdout);
		free(resp);
		return 0;
	}
	root = json_tokener_parse(resp);
	free(resp);
	if (!root) {
		cli_err("pgsteerd answered something that is not JSON\n");
		return 1;
	}
	print_status(root);
	json_object_put(root);
	return 0;
}

/* --- server changes ------------------------------------------------------------------------------ */

static int server_cmd(const char *fmt, const char *server, const char *extra)
{
	char line[512];

	snprintf(line, sizeof(line), fmt, server, extra ? extra : "");
	return rt_command(line, 0);
}

static int cmd_drain(int argc, char **argv)
{
	return argc == 2 ? server_cmd("set server %s state drain%s", argv[1], NULL) : -1;
}

static int cmd_ready(int argc, char **argv)
{
	return argc == 2 ? server_cmd("set server %s state ready%s", argv[1], NULL) : -1;
}

static int cmd_maint(int argc, char **argv)
{
	return argc == 2 ? server_cmd("set server %s state maint%s", argv[1], NULL) : -1;
}

static int cmd_weight(int argc, char **argv)
{
	return argc == 3 ? server_cmd("set server %s weight %s", argv[1], argv[2]) : -1;
}

static int cmd_shutdown_sessions(int argc, char **argv)
{
	return argc == 2 ? server_cmd("shutdown sessions server %s%s", argv[1], NULL) : -1;
}

static int cmd_stat(int argc, char **argv)
{
	return argc == 1 ? rt_command("show stat", 1) : -1;
}

static int cmd_cmd(int argc, char **argv)
{
	char line[4096] = "";
	int i;

	if (argc < 2)
		return -1;
	for (i = 1; i < argc; i++) {
		if (strlen(line) + strlen(argv[i]) + 2 >= sizeof(line))
			return -1;
		strcat(line, argv[i]);
		if (i + 1 < argc)
			strcat(line, " ");
	}
	return rt_command(line, 1);
}

static int cmd_reload(int argc, char **argv)
{
	char *resp;
	int r;

	if (argc != 1)
		return -1;
	r = rt_request("reload", &resp);
	if (r) {
		cli_err("cannot reach pgsteerd on %s: %s\n", socket_path(), strerror(-r));
		return 1;
	}
	fputs(resp, strstr(resp, "failed") ? stderr : stdout);
	r = strstr(resp, "failed") != NULL;
	free(resp);
	return r;
}

/* pgsteerd's start time (wall ms) from show info; 0 when it does not answer. */
static unsigned long long daemon_started(void)
{
	unsigned long long t = 0;
	char *resp, *p;

	if (rt_request("show info", &resp))
		return 0;
	p = strstr(resp, "Start_time_ms: ");
	if (p)
		t = strtoull(p + 15, NULL, 10);
	free(resp);
	return t;
}

/* Restart in place: the new pgsteerd takes over the datapath, the flows and the VRRP role without
 * a gap. Wait until the new one answers. */
static int cmd_restart(int argc, char **argv)
{
	unsigned long long before, now;
	char *resp;
	int r, i;

	if (argc != 1)
		return -1;
	before = daemon_started();
	r = rt_request("restart", &resp);
	if (r) {
		cli_err("cannot reach pgsteerd on %s: %s\n", socket_path(), strerror(-r));
		return 1;
	}
	if (!strstr(resp, "Restarting")) {
		fputs(resp, stderr);
		free(resp);
		return 1;
	}
	free(resp);
	for (i = 0; i < 100; i++) {
		usleep(100000);
		now = daemon_started();
		if (now && now != before) {
			printf("pgsteerd restarted in place\n");
			return 0;
		}
	}
	cli_err("pgsteerd did not answer within 10 s of the restart; see its log\n");
	return 1;
}

static int cmd_detach(int argc, char **argv)
{
	static struct config cfg;
	char err[1024], *resp;

	if (argc != 1)
		return -1;
	load_conf(&cfg);
	opt_socket = opt_socket ? opt_socket : cfg.runtime_socket;
	if (!rt_request("show info", &resp)) {
		free(resp);
		cli_err("pgsteerd is running (%s): stop it first, then detach\n", socket_path());
		return 1;
	}
	if (datapath_detach(&cfg, err, sizeof(err))) {
		cli_err("%s\n", err);
		return 1;
	}
	printf("datapath detached from %s, pins under %s removed\n", cfg.interface, cfg.pin_root);
	return 0;
}

struct check_wait {
	struct loop *loop;
	struct check_result r;
};

static void check_done(void *arg, const struct check_result *r)
{
	struct check_wait *w = arg;

	w->r = *r;
	loop_stop(w->loop);
}

/* pgsteer check TYPE ADDR:PORT [user U] [database D] [timeout T]: the daemon's check, once. */
static int cmd_check(int argc, char **argv)
{
	struct check_target t = { .timeout_ms = 2000 };
	struct check_wait w = {};
	struct check *c;
	char addr[64], *colon, buf[400];
	uint64_t ms;
	int i;

	if (argc < 3 || strlen(argv[2]) >= sizeof(addr))
		return -1;
	if (!strcmp(argv[1], "tcp"))
		t.type = CHECK_TCP;
	else if (!strcmp(argv[1], "pgsql"))
		t.type = CHECK_PGSQL;
	else if (!strcmp(argv[1], "login"))
		t.type = CHECK_LOGIN;
	else
		return -1;
	strcpy(addr, argv[2]);
	colon = strrchr(addr, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	if (inet_pton(AF_INET, addr, &t.addr) != 1 || atoi(colon + 1) <= 0 || atoi(colon + 1) > 65535)
		return -1;
	t.port = htons((uint16_t)atoi(colon + 1));
	for (i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "user"))
			t.user = argv[i + 1];
		else if (!strcmp(argv[i], "database"))
			t.database = argv[i + 1];
		else if (!strcmp(argv[i], "timeout") && !config_duration(argv[i + 1], &ms) && ms > 0)
			t.timeout_ms = (uint32_t)ms;
		else
			return -1;
	}
	if (i != argc || (t.type == CHECK_LOGIN && !t.user))
		return -1;
	w.loop = loop_new();
	if (!w.loop || check_start(w.loop, &t, check_done, &w, &c)) {
		cli_err("cannot start the check\n");
		return 1;
	}
	loop_run(w.loop);
	loop_free(w.loop);
	printf("%s %s: %s\n", argv[2], w.r.ok ? "UP" : "DOWN", check_result_str(&w.r, buf, sizeof(buf)));
	return w.r.ok ? 0 : 1;
}

static int cmd_monitor(int argc, char **argv)
{
	return monitor_main(argc, argv);
}

/* pgsteer flows [--server NAME] [--client ADDR[:PORT]]: from the pinned maps, daemon or not. */
static int cmd_flows(int argc, char **argv)
{
	static struct config cfg;
	struct flows_filter f = {};
	struct pgs_maps m;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j")) {
			opt_json = 1;
		} else if (!strcmp(argv[i], "--server") && i + 1 < argc) {
			f.server = argv[++i];
		} else if (!strcmp(argv[i], "--client") && i + 1 < argc) {
			if (flows_parse_client(argv[++i], &f)) {
				cli_err("--client %s: not an IPv4 address or ADDRESS:PORT", argv[i]);
				return 1;
			}
		} else {
			return -1;
		}
	}
	load_conf(&cfg);
	if (open_pinned(&cfg, &m))
		return 1;
	r = flows_print(&m, &f, opt_json, stdout);
	maps_close(&m);
	if (r) {
		cli_err("reading the flow table under %s: %s", cfg.pin_root, strerror(-r));
		return 1;
	}
	return 0;
}

/* pgsteer clients [--server NAME]: every PgBouncer's SHOW CLIENTS with the real client of each row;
 * the flows come from the pinned maps, daemon or not. */
static int cmd_clients(int argc, char **argv)
{
	static struct config cfg;
	const char *server = NULL;
	struct pgs_maps m;
	int i, r;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j"))
			opt_json = 1;
		else if (!strcmp(argv[i], "--server") && i + 1 < argc)
			server = argv[++i];
		else
			return -1;
	}
	load_conf(&cfg);
	if (open_pinned(&cfg, &m))
		return 1;
	r = clients_print(&cfg, &m, server, opt_json, stdout, stderr);
	maps_close(&m);
	if (r < 0) {
		cli_err("reading the flow table under %s: %s", cfg.pin_root, strerror(-r));
		return 1;
	}
	return r ? 1 : 0;
}

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *args;
	const char *help;
} cmds[] = {
	{ "status", cmd_status, "", "servers, connections, bytes, checks, VRRP, flow table and drops (-j: JSON)" },
	{ "stat", cmd_stat, "", "HAProxy-format CSV statistics (show stat)" },
	{ "flows", cmd_flows, "[--server NAME] [--client ADDR[:PORT]]", "live connections: client, VIP:SNAT port, server" },
	{ "clients", cmd_clients, "[--server NAME]", "each PgBouncer's SHOW CLIENTS with the real client address" },
	{ "drain", cmd_drain, "SERVER", "no new connections; existing ones continue" },
	{ "maint", cmd_maint, "SERVER", "no traffic and no checks" },
	{ "ready", cmd_ready, "SERVER", "back from drain or maint" },
	{ "weight", cmd_weight, "SERVER N[%]", "set the weight (0..256, or % of the configured one)" },
	{ "shutdown-sessions", cmd_shutdown_sessions, "SERVER", "reset every session of the server" },
	{ "cmd", cmd_cmd, "COMMAND...", "send a raw runtime API command (help lists them)" },
	{ "check", cmd_check, "TYPE ADDR:PORT [user U] [database D] [timeout T]", "run one health check now (tcp, pgsql, login)" },
	{ "monitor", cmd_monitor, "--stats-url URL [...]", "poll an HAProxy CSV and alert on changes" },
	{ "reload", cmd_reload, "", "re-read the configuration (a bad one changes nothing)" },
	{ "restart", cmd_restart, "", "restart pgsteerd in place: no connection dropped, the VIP stays" },
	{ "detach", cmd_detach, "", "remove the datapath from the interface and its pins (pgsteerd stopped)" },
	{ "help", cmd_help, "", "this list" },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pgsteer [-s SOCKET] [-f CONFIG] [-j] COMMAND [ARGS]\n"
		   "       pgsteer -V|--version, -h|--help\n\ncommands:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-18s %-22s %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
	fprintf(f, "\nSERVER is SERVICE/SERVER (or just SERVER when only one service has it).\n"
		   "The runtime socket comes from -s, $PGSTEER_SOCKET, or the config (-f, $PGSTEER_CONF, %s).\n",
		DEFAULT_CONF);
}

static int cmd_help(int argc, char **argv)
{
	usage(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	static char report_buf[1 << 16];
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'f' },
		{ "json", no_argument, NULL, 'j' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	size_t i;
	int opt, r;

	log_init(0);
	libbpf_set_print(log_libbpf); /* quiet unless asked: failures are reported in our own words */
	while ((opt = getopt_long(argc, argv, "+s:f:jVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			opt_socket = optarg;
			break;
		case 'f':
			opt_conf = optarg;
			break;
		case 'j':
			opt_json = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("pgsteer %s\n", PGSTEER_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	argc -= optind;
	argv += optind;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[0], cmds[i].name))
			continue;
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) && cmds[i].fn != cmd_monitor) {
			printf("usage: pgsteer %s %s\n  %s\n", cmds[i].name, cmds[i].args, cmds[i].help);
			return 0;
		}
		/* -j may also follow the command. */
		/* "pgsteer status -j" as well as "pgsteer -j status" (not for cmd: its words go to pgsteerd) */
		if (argc >= 2 && !strcmp(argv[argc - 1], "-j") && cmds[i].fn != cmd_cmd) {
			opt_json = 1;
			argc--;
		}
		/* A report goes out in one write (up to 64 KiB), so a reader that stops at its first match
		 * (`pgsteer status -j | grep -q MASTER` under pipefail) cannot turn a good answer into
		 * SIGPIPE. monitor streams, so it keeps line buffering. */
		if (cmds[i].fn != cmd_monitor && !isatty(STDOUT_FILENO))
			setvbuf(stdout, report_buf, _IOFBF, sizeof(report_buf)); /* glibc ignores a size without a buffer */
		r = cmds[i].fn(argc, argv);
		if (r < 0) {
			fprintf(stderr, "usage: pgsteer %s %s\n", cmds[i].name, cmds[i].args);
			return 2;
		}
		return r;
	}
	cli_err("unknown command '%s'", argv[0]);
	fputc('\n', stderr);
	usage(stderr);
	return 2;
}

/* The runtime API on a unix socket, with HAProxy's command words. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "log.h"
#include "loop.h"
#include "render.h"
#include "runtime.h"
#include "vrrp.h"

#define REQ_MAX 4096
#define CONN_TIMEOUT_MS 10000

struct runtime {
	struct loop *loop;
	struct model *m;
	const struct runtime_ops *ops;
	void *arg;
	int fd;
	struct timer resume;  /* out of descriptors: accepting again after a pause, not in a spin */
	unsigned starved;     /* accepts failed in a row for want of descriptors */
	uint64_t started;  /* wall ms when this process opened the socket: tells a restart apart */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* One client: read a line, answer, close. */
struct rt_conn {
	struct runtime *rt;
	int fd;
	char req[REQ_MAX];
	size_t req_len;
	char *resp;
	size_t resp_len, resp_off;
	struct timer timeout;
};

static void conn_close(struct rt_conn *c)
{
	loop_del(c->rt->loop, c->fd);
	close(c->fd);
	timer_close(&c->timeout);
	free(c->resp);
	free(c);
}

static void conn_timeout(void *arg)
{
	conn_close(arg);
}

static void conn_write(void *arg, uint32_t events)
{
	struct rt_conn *c = arg;

	while (c->resp_off < c->resp_len) {
		ssize_t n = write(c->fd, c->resp + c->resp_off, c->resp_len - c->resp_off);

		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		c->resp_off += (size_t)n;
	}
	conn_close(c);
}

static void conn_read(void *arg, uint32_t events)
{
	struct rt_conn *c = arg;
	char *nl;
	ssize_t n;
	FILE *out;

	n = read(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n > 0)
		c->req_len += (size_t)n;
	c->req[c->req_len] = '\0';
	nl = strchr(c->req, '\n');
	if (!nl && n > 0 && c->req_len < sizeof(c->req) - 1)
		return; /* more to come */
	if (nl)
		*nl = '\0';

	out = open_memstream(&c->resp, &c->resp_len);
	if (!out) {
		conn_close(c);
		return;
	}
	if (!nl && c->req_len >= sizeof(c->req) - 1)
		fprintf(out, "Request too long (%d bytes at most).\n\n", REQ_MAX - 1);
	else
		runtime_exec(c->rt, c->req, out);
	fclose(out);
	shutdown(c->fd, SHUT_RD);
	if (loop_mod(c->rt->loop, c->fd, EPOLLOUT, conn_write, c)) {
		conn_close(c);
		return;
	}
	conn_write(c, EPOLLOUT);
}

#define ACCEPT_PAUSE_MS 200

static void on_accept(void *arg, uint32_t events);

static void accept_resume(void *arg)
{
	struct runtime *rt = arg;

	if (loop_add(rt->loop, rt->fd, EPOLLIN, on_accept, rt))
		timer_arm(&rt->resume, ACCEPT_PAUSE_MS);
}

static void on_accept(void *arg, uint32_t events)
{
	struct runtime *rt = arg;
	struct rt_conn *c;
	int fd = accept4(rt->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (fd < 0) {
		/* The waiting connection stays waiting: the socket stays readable, and the loop would
		 * come straight back here (85% CPU at EMFILE). Stop watching it for a while. */
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			if (!rt->starved++)
				log_warnx("runtime socket: accept: %s; retrying every %d ms", strerror(errno), ACCEPT_PAUSE_MS);
			loop_del(rt->loop, rt->fd);
			timer_arm(&rt->resume, ACCEPT_PAUSE_MS);
		}
		return;
	}
	if (rt->starved) {
		log_info("runtime socket: accepting again after %u failed attempt(s)", rt->starved);
		rt->starved = 0;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->rt = rt;
	c->fd = fd;
	if (timer_init(&c->timeout, rt->loop, conn_timeout, c) || loop_add(rt->loop, fd, EPOLLIN, conn_read, c)) {
		close(fd);
		free(c);
		return;
	}
	timer_arm(&c->timeout, CONN_TIMEOUT_MS);
}

/* --- commands ------------------------------------------------------------------------------- */

static struct server_rt *find_server(struct runtime *rt, const char *spec, FILE *out)
{
	struct server_rt *s;

	if (!spec) {
		fprintf(out, "Require 'service/server'.\n");
		return NULL;
	}
	s = model_find(rt->m, spec);
	if (!s)
		fprintf(out, "No such server: '%s' (name it as service/server; 'show servers state' lists them).\n", spec);
	return s;
}

static void set_admin(struct runtime *rt, struct server_rt *s, enum admin_state a, FILE *out)
{
	enum srv_class before = server_class(s);

	if (s->admin == a)
		return;
	s->admin = a;
	s->last_change_ms = now_ms();
	log_info("%s/%s: admin state %s (runtime API)", s->svc->cfg.name, s->cfg.name, admin_name(a));
	if (rt->ops->changed)
		rt->ops->changed(rt->arg, s, RT_ADMIN, before);
	(void)out;
}

/* "set server SVC/SRV state ready|drain|maint" and "set server SVC/SRV weight N[%]" */
static void cmd_set_server(struct runtime *rt, int argc, char **argv, FILE *out)
{
	struct server_rt *s;

	if (argc < 5) {
		fprintf(out, "'set server' expects 'set server SERVICE/SERVER state ready|drain|maint' or "
			     "'set server SERVICE/SERVER weight N'.\n");
		return;
	}
	s = find_server(rt, argv[2], out);
	if (!s)
		return;
	if (!strcmp(argv[3], "state")) {
		if (!strcmp(argv[4], "ready"))
			set_admin(rt, s, ADMIN_READY, out);
		else if (!strcmp(argv[4], "drain"))
			set_admin(rt, s, ADMIN_DRAIN, out);
		else if (!strcmp(argv[4], "maint"))
			set_admin(rt, s, ADMIN_MAINT, out);
		else
			fprintf(out, "'set server %s state' expects 'ready', 'drain' or 'maint', not '%s'.\n", argv[2], argv[4]);
		return;
	}
	if (!strcmp(argv[3], "weight")) {
		char *end;
		unsigned long w;
		size_t n = strlen(argv[4]);
		int pct = n > 0 && argv[4][n - 1] == '%';
		enum srv_class before = server_class(s);

		errno = 0;
		w = strtoul(argv[4], &end, 10);
		if (errno || end == argv[4] || (*end && !(pct && end == argv[4] + n - 1)) || w > (pct ? 100 : 256)) {
			fprintf(out, "Invalid weight '%s': a number from 0 to 256, or a percentage of the configured weight.\n", argv[4]);
			return;
		}
		if (pct)
			w = s->cfg.weight * w / 100;
		s->uweight = (uint32_t)w;
		log_info("%s/%s: weight %lu (runtime API)", s->svc->cfg.name, s->cfg.name, w);
		if (rt->ops->changed)
			rt->ops->changed(rt->arg, s, RT_WEIGHT, before);
		return;
	}
	fprintf(out, "'set server' knows 'state' and 'weight', not '%s'.\n", argv[3]);
}

/* HAProxy 2.6's numbering of check statuses (enum healthcheck_status), for show servers state. */
static int haproxy_check_status(enum chk_status st)
{
	static const int n[CHK_MAX] = {
		[CHK_UNK] = 0, [CHK_INI] = 1, [CHK_SOCKERR] = 5, [CHK_L4OK] = 6, [CHK_L4TOUT] = 7, [CHK_L4CON] = 8,
		[CHK_L6OK] = 9, [CHK_L6TOUT] = 10, [CHK_L6RSP] = 11, [CHK_L7TOUT] = 12, [CHK_L7RSP] = 13,
		[CHK_L7OK] = 15, [CHK_L7STS] = 17,
	};

	return st < CHK_MAX ? n[st] : 0;
}

/* HAProxy's "show servers state" format version 1 (the columns it prints, ours filled in). */
static void cmd_show_servers_state(struct runtime *rt, int argc, char **argv, FILE *out)
{
	uint64_t now = now_ms();
	int i, j, shown = 0;

	fprintf(out, "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
		     "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
		     "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
		     "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
	for (i = 0; i < rt->m->nservices; i++) {
		struct service_rt *svc = &rt->m->services[i];

		if (argc > 3 && strcmp(argv[3], svc->cfg.name))
			continue;
		shown = 1;
		for (j = 0; j < svc->nservers; j++) {
			struct server_rt *s = &svc->servers[j];
			char addr[INET_ADDRSTRLEN];
			/* HAProxy's numbers: op state 0 stopped, 2 running; admin bits 0x01 forced maint, 0x08
			 * forced drain; check result 2 failed, 3 passed; check state 6 configured and enabled. */
			int op = s->health.up ? 2 : 0, adm = s->admin == ADMIN_MAINT ? 0x01 : s->admin == ADMIN_DRAIN ? 0x08 : 0;

			inet_ntop(AF_INET, &s->cfg.addr, addr, sizeof(addr));
			fprintf(out, "%u %s %d %s %s %d %d %u %u %llu %d %d %u %d 0 0 0 - %u - 0 0 - - 0\n", svc->id + 1,
				svc->cfg.name, j + 1, s->cfg.name, addr, op, adm, s->uweight, s->cfg.weight,
				(unsigned long long)server_lastchg_s(s, now), haproxy_check_status(s->last.status),
				s->last.status <= CHK_INI ? 0 : s->last.ok ? 3 : 2,
				s->health.health, s->checked ? 6 : 0, ntohs(s->cfg.port));
		}
	}
	if (!shown)
		fprintf(out, "Can't find service '%s'.\n", argv[3]);
}

static void cmd_show_info(struct runtime *rt, FILE *out)
{
	const struct config *cfg = rt->m->cfg;
	uint64_t up = (now_ms() - rt->m->start_ms) / 1000;

	fprintf(out, "Name: pgsteer\nVersion: %s\nNode: %s\nPid: %d\nStart_time_ms: %llu\nUptime_sec: %llu\n"
		     "Interface: %s\nAttach: %s\nFlowTable: %llu/%llu\n", PGSTEER_VERSION, cfg->node_name, getpid(),
		(unsigned long long)rt->started, (unsigned long long)up,
		cfg->interface, attach_name(cfg->attach), (unsigned long long)rt->m->flows,
		(unsigned long long)rt->m->flows_max);
	if (rt->m->vrrp.enabled)
		fprintf(out, "VRRP: %s\n", vrrp_state_name((enum vrrp_state)rt->m->vrrp.state));
}

static void cmd_help(FILE *out)
{
	fprintf(out,
		"The following commands are valid at this level:\n"
		"  help                                   : this message\n"
		"  show info                              : node, version, uptime, attach mode, flow table\n"
		"  show stat                              : HAProxy-format CSV statistics\n"
		"  show status [json]                     : everything pgsteer status shows, as JSON\n"
		"  show servers state [<service>]         : servers' state (HAProxy format 1)\n"
		"  set server <svc>/<srv> state <st>      : ready, drain (no new connections) or maint (no traffic, no checks)\n"
		"  set server <svc>/<srv> weight <w>[%%]   : weight 0..256, or a percentage of the configured one\n"
		"  enable server <svc>/<srv>              : same as state ready\n"
		"  disable server <svc>/<srv>             : same as state maint\n"
		"  shutdown sessions server <svc>/<srv>   : reset every established session of the server\n"
		"  reload                                 : re-read the configuration (a bad one changes nothing)\n"
		"  restart                                : restart in place: no connection dropped, the VIP stays\n");
}

static void exec_one(struct runtime *rt, char *cmd, FILE *out)
{
	char *argv[16], *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(cmd, " \t\r", &save); tok && argc < 16; tok = strtok_r(NULL, " \t\r", &save))
		argv[argc++] = tok;
	if (argc == 0)
		return;
	if (!strcmp(argv[0], "help")) {
		cmd_help(out);
	} else if (!strcmp(argv[0], "show") && argc >= 3 && (!strcmp(argv[1], "stat") || !strcmp(argv[1], "info")) &&
		   (!strcmp(argv[2], "json") || !strcmp(argv[2], "typed"))) {
		/* HAProxy's typed forms are not rendered: refused (pgsteer exits 1), not answered in CSV. */
		fprintf(out, "Not supported: 'show %s %s'. 'show status json' has every figure as JSON.\n", argv[1], argv[2]);
	} else if (!strcmp(argv[0], "show") && argc >= 2 && !strcmp(argv[1], "stat")) {
		render_csv(rt->m, now_ms(), out);
	} else if (!strcmp(argv[0], "show") && argc >= 2 && !strcmp(argv[1], "status")) {
		render_json(rt->m, now_ms(), out);
	} else if (!strcmp(argv[0], "show") && argc >= 2 && !strcmp(argv[1], "info")) {
		cmd_show_info(rt, out);
	} else if (!strcmp(argv[0], "show") && argc >= 3 && !strcmp(argv[1], "servers") && !strcmp(argv[2], "state")) {
		cmd_show_servers_state(rt, argc, argv, out);
	} else if (!strcmp(argv[0], "set") && argc >= 2 && !strcmp(argv[1], "server")) {
		cmd_set_server(rt, argc, argv, out);
	} else if ((!strcmp(argv[0], "enable") || !strcmp(argv[0], "disable")) && argc >= 2 && !strcmp(argv[1], "server")) {
		struct server_rt *s = find_server(rt, argc > 2 ? argv[2] : NULL, out);

		/* As HAProxy: enable leaves maintenance only (a drained server stays drained). */
		if (s && argv[0][0] == 'd')
			set_admin(rt, s, ADMIN_MAINT, out);
		else if (s && s->admin == ADMIN_MAINT)
			set_admin(rt, s, ADMIN_READY, out);
	} else if (!strcmp(argv[0], "shutdown") && argc >= 3 && !strcmp(argv[1], "sessions") && !strcmp(argv[2], "server")) {
		struct server_rt *s = find_server(rt, argc > 3 ? argv[3] : NULL, out);

		if (s && rt->ops->changed) {
			log_info("%s/%s: shutting down its sessions (runtime API)", s->svc->cfg.name, s->cfg.name);
			rt->ops->changed(rt->arg, s, RT_SHUTDOWN_SESSIONS, server_class(s));
		}
	} else if (!strcmp(argv[0], "reload") && argc == 1 && rt->ops->reload) {
		char err[512] = "";

		if (rt->ops->reload(rt->arg, err, sizeof(err)))
			fprintf(out, "Reload failed, the running configuration stays: %s\n", err);
		else
			fprintf(out, "Configuration reloaded.\n");
	} else if (!strcmp(argv[0], "restart") && argc == 1 && rt->ops->restart) {
		char err[512] = "";

		if (rt->ops->restart(rt->arg, err, sizeof(err)))
			fprintf(out, "Restart refused, pgsteerd keeps running: %s\n", err);
		else
			fprintf(out, "Restarting in place.\n");
	} else {
		fprintf(out, "Unknown command '%s'. Type 'help' for the list.\n", argv[0]);
	}
}

void runtime_exec(struct runtime *rt, char *line, FILE *out)
{
	char *save = NULL, *cmd;

	if (rt->ops->refresh)
		rt->ops->refresh(rt->arg);
	for (cmd = strtok_r(line, ";", &save); cmd; cmd = strtok_r(NULL, ";", &save)) {
		exec_one(rt, cmd, out);
		/* HAProxy ends every answer with an empty line. */
		fputc('\n', out);
	}
}

static int make_parent(const char *path)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	return 0;
}

struct runtime *runtime_new(struct loop *l, const char *path, unsigned mode, const char *group, struct model *m,
			    const struct runtime_ops *ops, void *arg, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct runtime *rt;
	int fd = -1, r;
	gid_t gid = (gid_t)-1;

	if (*group) {
		if (config_group(group, &gid)) {
			snprintf(err, errlen, "runtime socket %s: no group '%s' on this machine", path, group);
			return NULL;
		}
	} else if (config_group(CFG_RUNTIME_GROUP_DEFAULT, &gid))
		gid = (gid_t)-1; /* no such group here: the daemon's own */

	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "runtime socket %s: path too long", path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	rt = calloc(1, sizeof(*rt));
	if (!rt) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r = make_parent(path);
	if (r) {
		snprintf(err, errlen, "runtime socket %s: cannot create its directory: %s", path, strerror(-r));
		goto fail;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "runtime socket: %s", strerror(errno));
		goto fail;
	}
	/* A socket file nobody answers on is a leftover; one that answers belongs to a live pgsteerd. */
	{
		int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(probe);
			snprintf(err, errlen, "runtime socket %s: another pgsteerd answers there", path);
			goto fail;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	/* Owner only until the group is set: nobody else connects in between. */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || chmod(path, 0600) ||
	    (gid != (gid_t)-1 && chown(path, (uid_t)-1, gid)) || chmod(path, mode) || listen(fd, 16)) {
		snprintf(err, errlen, "runtime socket %s: %s", path, strerror(errno));
		goto fail;
	}
	rt->loop = l;
	rt->m = m;
	rt->ops = ops;
	rt->arg = arg;
	rt->fd = fd;
	rt->started = wall_ms();
	strcpy(rt->path, path);
	r = timer_init(&rt->resume, l, accept_resume, rt);
	if (!r) {
		r = loop_add(l, fd, EPOLLIN, on_accept, rt);
		if (r)
			timer_close(&rt->resume);
	}
	if (r) {
		snprintf(err, errlen, "runtime socket %s: %s", path, strerror(-r));
		goto fail;
	}
	return rt;
fail:
	if (fd >= 0)
		close(fd);
	free(rt);
	return NULL;
}

void runtime_set_model(struct runtime *rt, struct model *m)
{
	rt->m = m;
}

void runtime_free(struct runtime *rt)
{
	if (!rt)
		return;
	loop_del(rt->loop, rt->fd);
	timer_close(&rt->resume);
	close(rt->fd);
	unlink(rt->path);
	free(rt);
}

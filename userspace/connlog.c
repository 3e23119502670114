/* The connection log: flow events (flowev.c) as one line each, to the log and optionally a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "connlog.h"
#include "datapath.h"
#include "flowev.h"
#include "hooks.h"
#include "log.h"
#include "loop.h"

static struct {
	struct datapath *dp;
	const struct model *m;
	int fd;                 /* the file, -1 none */
	char path[PATH_MAX];    /* what fd is open on */
	uint64_t lost;          /* pgs_ev_lost last said */
	uint64_t last_err_ms;
} L = { .fd = -1 };

static void addr_port(char *buf, size_t len, uint32_t addr, uint16_t port)
{
	inet_ntop(AF_INET, &addr, buf, (socklen_t)len);
	snprintf(buf + strlen(buf), len - strlen(buf), ":%u", ntohs(port));
}

/* Who closed an established flow and how, from its flags at the close. */
static const char *how_closed(uint32_t flags)
{
	int fc = !!(flags & PGS_FLOW_F_FIN_CLIENT), fs = !!(flags & PGS_FLOW_F_FIN_SERVER);

	if (fc && fs)
		return flags & PGS_FLOW_F_SERVER_FIRST ? "closed by server (FIN)" : "closed by client (FIN)";
	if (fc)
		return "reset after the client's FIN";
	if (fs)
		return "reset after the server's FIN";
	return "reset";
}

void connlog_line(char *buf, size_t len, const struct model *m, const struct pgs_flow_event *ev,
		  const struct pgs_flow *f)
{
	const struct server_rt *s = model_slot(m, ev->slot);
	char client[24], vip[24], seen[24], backend[24];
	size_t n;

	addr_port(client, sizeof(client), ev->fk.client, ev->fk.cport);
	addr_port(vip, sizeof(vip), ev->fk.vip, ev->fk.vport);
	addr_port(seen, sizeof(seen), ev->fk.vip, ev->sport);
	addr_port(backend, sizeof(backend), ev->backend, ev->bport);
	n = (size_t)snprintf(buf, len, "connection %s %s > %s > %s/%s %s as %s", ev->type == PGS_EV_CLOSED ? "close" : "open",
			     client, vip, s ? s->svc->cfg.name : "?", s ? s->cfg.name : "?", backend, seen);
	if (ev->type != PGS_EV_CLOSED || n >= len)
		return;
	if (f && f->created_ns && ev->ts_ns >= f->created_ns)
		n += (size_t)snprintf(buf + n, len - n, " after %.3fs", (double)(ev->ts_ns - f->created_ns) / 1e9);
	if (n < len)
		snprintf(buf + n, len - n, ", %s", how_closed(ev->flags));
}

/* The file's line: an ISO 8601 time stamp (UTC, ms), then the line. */
static void file_write(const char *line)
{
	char out[640], when[32];
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(out, sizeof(out), "%s.%03ldZ %s\n", when, ts.tv_nsec / 1000000, line);
	if (n > 0 && (size_t)n >= sizeof(out))
		n = sizeof(out) - 1, out[n - 1] = '\n';
	if (n > 0 && write(L.fd, out, (size_t)n) != n && now_ms() - L.last_err_ms > 10000) {
		L.last_err_ms = now_ms();
		log_warn("log connections file %s: writing", L.path);
	}
}

static void on_flow(void *arg, const struct pgs_flow_event *ev)
{
	struct pgs_flow f, *fp = NULL;
	char line[512];

	if (!L.m->cfg->log_connections || (ev->type != PGS_EV_ESTABLISHED && ev->type != PGS_EV_CLOSED))
		return;
	if (ev->type == PGS_EV_CLOSED && !datapath_flow_get(L.dp, &ev->fk, &f))
		fp = &f;
	connlog_line(line, sizeof(line), L.m, ev, fp);
	log_info("%s", line);
	if (L.fd >= 0)
		file_write(line);
}

/* Open the configured file anew (a reload reopens it: logrotate's postrotate reloads). */
static void file_open(void)
{
	const char *path = L.m->cfg->log_connections ? L.m->cfg->log_file : "";

	if (L.fd >= 0)
		close(L.fd);
	L.fd = -1;
	snprintf(L.path, sizeof(L.path), "%s", path);
	if (!*path)
		return;
	L.fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (L.fd < 0)
		log_warn("log connections file %s (the lines still go to the log)", path);
}

static void on_tick(void *arg, uint64_t now)
{
	uint64_t lost = 0;

	if (!L.m->cfg->log_connections || datapath_read_ev_lost(L.dp, &lost) || lost <= L.lost)
		return;
	log_warnx("connection log: %llu flow event(s) lost, the ring buffer pgs_events was full "
		  "(pgsteer_sync_events_lost_total counts them)", (unsigned long long)(lost - L.lost));
	L.lost = lost;
}

static void on_reloaded(void *arg)
{
	file_open();
}

static void on_stopping(void *arg, int handover)
{
	if (L.fd >= 0)
		close(L.fd);
	L.fd = -1;
}

static const struct ctl_hooks connlog_hooks = {
	.tick = on_tick, .reloaded = on_reloaded, .stopping = on_stopping, .flow = on_flow,
};

int connlog_start(struct loop *l, struct datapath *dp, const struct model *m)
{
	int r;

	L.dp = dp;
	L.m = m;
	datapath_read_ev_lost(dp, &L.lost);
	r = flowev_start(l, dp);
	if (r)
		return r;
	file_open();
	return ctl_hooks_add(&connlog_hooks, NULL);
}

/* `pgsteer monitor`: every interval GET the stats CSV, classify each server's status by column name,
 * and hand the classes to the alerter, which tells Slack about changes and keeps the state file. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include "alert.h"
#include "http.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "url.h"

#define MON_MAX_ROWS 4096
#define MON_BODY_MAX (8u << 20)
#define MON_ONCE_WAIT_MS 30000

/* A status word and what may follow it: nothing, or " n/m", " (agent)", ... */
static int word(const char *status, const char *w)
{
	size_t n = strlen(w);

	return !strncmp(status, w, n) && (status[n] == '\0' || status[n] == ' ');
}

int monitor_classify(const char *status, enum srv_class *cls)
{
	if (word(status, "UP") || word(status, "NOLB") || !strcmp(status, "no check"))
		*cls = CLASS_UP;
	else if (word(status, "DOWN"))
		*cls = CLASS_DOWN;
	else if (word(status, "DRAIN"))
		*cls = CLASS_DRAIN;
	else if (word(status, "MAINT"))
		*cls = CLASS_MAINT;
	else
		return -EINVAL;
	return 0;
}

int monitor_servers(const struct csv *c, struct monitor_row *rows, int max)
{
	int px = csv_col(c, "pxname"), sv = csv_col(c, "svname"), st = csv_col(c, "status");
	int type = csv_col(c, "type"), cs = csv_col(c, "check_status"), lc = csv_col(c, "last_chk");
	int cd = csv_col(c, "check_desc"), i, n = 0;

	if (px < 0 || sv < 0 || st < 0)
		return -EINVAL;
	for (i = 0; i < c->nrows && n < max; i++) {
		const char *name = csv_cell(c, i, sv), *chk;
		struct monitor_row *r = &rows[n];

		/* type 2 is a server; without the column, go by the reserved names. */
		if (type >= 0 ? strcmp(csv_cell(c, i, type), "2") :
				(!strcmp(name, "FRONTEND") || !strcmp(name, "BACKEND")))
			continue;
		if (!name[0] || monitor_classify(csv_cell(c, i, st), &r->cls))
			continue;
		r->service = csv_cell(c, i, px);
		r->server = name;
		r->status = csv_cell(c, i, st);
		chk = csv_cell(c, i, cs);
		r->check_status = !strncmp(chk, "* ", 2) ? chk + 2 : chk;
		r->check_desc = csv_cell(c, i, lc)[0] ? csv_cell(c, i, lc) : csv_cell(c, i, cd);
		n++;
	}
	return n;
}

struct monitor {
	struct loop *loop;
	struct alerter *alerter;
	struct http *http;          /* the stats GETs and the alerter's POSTs */
	const char *url;
	char source[256];         /* the URL as logged: credentials hidden */
	uint64_t interval_ms;
	struct timer poll;
	struct timer wait;        /* --once: until the alerts are out */
	int sigfd;
	int once;
	int fetching;
	int polled;               /* --once: the poll finished */
	int fetch_ok;
	uint64_t once_deadline;
	int failing;              /* the last poll failed (log once per streak) */
};

static void mon_fail(struct monitor *m, const char *why)
{
	if (!m->failing)
		log_warnx("monitor: cannot read %s: %s (retrying every %llus)", m->source, why,
			  (unsigned long long)(m->interval_ms / 1000));
	else
		log_debug("monitor: cannot read %s: %s", m->source, why);
	m->failing++;
	/* One failed poll is a restart or a reload of the source, not an outage: tell from the second. */
	if (m->failing >= 2 || m->once)
		alert_stats(m->alerter, m->source, 0, why);
}

static void mon_fetched(void *arg, const struct http_result *res)
{
	struct monitor *m = arg;
	struct monitor_row *rows = NULL;
	const char *body = res->body;
	size_t len = res->len;
	char why[128];
	struct csv c;
	int n, i;

	m->fetching = 0;
	m->polled = 1;
	if (!http_ok(res)) {
		if (res->transport_err)
			snprintf(why, sizeof(why), "%s", res->transport_err);
		else
			snprintf(why, sizeof(why), "HTTP %ld", res->status);
		mon_fail(m, why);
		return;
	}
	if (len >= MON_BODY_MAX) {
		mon_fail(m, "answer larger than 8 MiB");
		return;
	}
	if (csv_parse(&c, body, len)) {
		mon_fail(m, "not HAProxy CSV (no \"# pxname,...\" header)");
		return;
	}
	rows = calloc(MON_MAX_ROWS, sizeof(*rows));
	n = rows ? monitor_servers(&c, rows, MON_MAX_ROWS) : -ENOMEM;
	if (n < 0) {
		mon_fail(m, n == -ENOMEM ? "out of memory" : "no pxname, svname or status column");
		goto out;
	}
	if (m->failing)
		log_info("monitor: %s readable again", m->source);
	m->failing = 0;
	m->fetch_ok = 1;
	alert_stats(m->alerter, m->source, 1, NULL);
	for (i = 0; i < n; i++) {
		log_debug("monitor: %s/%s %s", rows[i].service, rows[i].server, rows[i].status);
		alert_class(m->alerter, rows[i].service, rows[i].server, rows[i].cls, rows[i].check_status,
			    rows[i].check_desc);
	}
out:
	free(rows);
	csv_free(&c);
}

static void mon_poll(void *arg)
{
	struct monitor *m = arg;
	struct http_opts o = {
		.url = m->url,
		.timeout_ms = m->interval_ms < 5000 ? (uint32_t)m->interval_ms : 5000,
		.max_body = MON_BODY_MAX,
		.accept_encoding = 1,
	};
	int err;

	if (!m->once)
		timer_arm(&m->poll, m->interval_ms);
	if (m->fetching)
		return; /* the previous poll is still running: its timeout will end it */
	err = http_start(m->http, &o, mon_fetched, m, NULL);
	if (err) {
		m->polled = 1;
		mon_fail(m, strerror(-err));
		return;
	}
	m->fetching = 1;
}

/* --once: stop when the poll is done and the alerts are out, or at the deadline. */
static void mon_wait(void *arg)
{
	struct monitor *m = arg;

	if ((m->polled && alerter_idle(m->alerter)) || now_ms() >= m->once_deadline)
		loop_stop(m->loop);
}

static void mon_signal(void *arg, uint32_t events)
{
	struct monitor *m = arg;
	struct signalfd_siginfo si;

	if (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
		log_info("monitor: signal %u, stopping", si.ssi_signo);
	loop_stop(m->loop);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pgsteer monitor --stats-url URL [--interval 10s] [--state-file FILE]\n"
		"                       [--webhook-file FILE] [--node NAME] [--once] [-v]\n"
		"\n"
		"Poll a HAProxy-format stats CSV (pgsteerd's or HAProxy's /stats;csv) and post to a Slack\n"
		"incoming webhook when a server changes class (UP, DOWN, DRAIN, MAINT).\n"
		"\n"
		"  --stats-url URL     the CSV, e.g. http://10.100.1.100:8404/stats;csv\n"
		"  --interval D        poll period (default 10s)\n"
		"  --state-file FILE   last announced classes and undelivered alerts\n"
		"                      (default /var/lib/pgsteer/monitor.json)\n"
		"  --webhook-file FILE the webhook URL (a secret); default: $PGSTEER_SLACK_WEBHOOK\n"
		"  --node NAME         names this monitor in alerts (default: the host name)\n"
		"  --once              poll once, deliver the alerts, exit (0 when the stats were read)\n"
		"  -v                  more logging\n");
}

int monitor_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stats-url", required_argument, NULL, 'u' },
		{ "interval", required_argument, NULL, 'i' },
		{ "state-file", required_argument, NULL, 's' },
		{ "webhook-file", required_argument, NULL, 'w' },
		{ "node", required_argument, NULL, 'n' },
		{ "once", no_argument, NULL, 'o' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct monitor m = { .interval_ms = 10000, .sigfd = -1 };
	struct alert_params p = { .state_path = "/var/lib/pgsteer/monitor.json",
				  .webhook_env = "PGSTEER_SLACK_WEBHOOK" };
	char node[CFG_STR] = "", err[512];
	int c, verbose = log_verbosity(), ret = 1;
	sigset_t mask, old;

	m.poll.fd = m.wait.fd = -1;
	optind = 0; /* the CLI may have run getopt already: start afresh */
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			m.url = optarg;
			break;
		case 'i':
			if (config_duration(optarg, &m.interval_ms) || m.interval_ms < 100) {
				fprintf(stderr, "pgsteer monitor: --interval %s: expects a duration of 100ms or more\n",
					optarg);
				return 2;
			}
			break;
		case 's':
			p.state_path = optarg;
			break;
		case 'w':
			p.webhook_file = optarg;
			break;
		case 'n':
			snprintf(node, sizeof(node), "%s", optarg);
			break;
		case 'o':
			m.once = 1;
			break;
		case 'v':
			verbose++;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!m.url || optind < argc) {
		usage(stderr);
		return 2;
	}
	log_init(verbose);
	if (!node[0] && gethostname(node, sizeof(node) - 1) < 0)
		snprintf(node, sizeof(node), "monitor");
	p.node = node;
	url_redact(m.url, 0, m.source, sizeof(m.source));

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, &old);
	m.loop = loop_new();
	if (!m.loop) {
		log_warnx("monitor: cannot create the event loop");
		goto out;
	}
	m.http = http_new(m.loop, err, sizeof(err));
	if (!m.http) {
		log_warnx("monitor: %s", err);
		goto out;
	}
	p.http = m.http;
	m.alerter = alerter_open(m.loop, &p, err, sizeof(err));
	if (!m.alerter) {
		log_warnx("monitor: %s", err);
		goto out;
	}
	if (!p.webhook_file && !getenv(p.webhook_env))
		log_warnx("monitor: no --webhook-file and no $%s: alerts are only logged", p.webhook_env);
	m.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m.sigfd < 0 || loop_add(m.loop, m.sigfd, EPOLLIN, mon_signal, &m)) {
		log_warn("monitor: signalfd");
		goto out;
	}
	if (timer_init(&m.poll, m.loop, mon_poll, &m) || timer_init(&m.wait, m.loop, mon_wait, &m)) {
		log_warn("monitor: timers");
		goto out;
	}
	log_info("monitor: polling %s every %llums", m.source, (unsigned long long)m.interval_ms);
	timer_arm(&m.poll, 0);
	if (m.once) {
		m.once_deadline = now_ms() + MON_ONCE_WAIT_MS;
		timer_arm_periodic(&m.wait, 50);
	}
	if (loop_run(m.loop)) {
		log_warn("monitor: event loop");
		goto out;
	}
	ret = m.once ? !(m.fetch_ok && alerter_idle(m.alerter)) : 0;
out:
	timer_close(&m.poll);
	timer_close(&m.wait);
	alerter_free(m.alerter);
	http_free(m.http);
	if (m.sigfd >= 0) {
		if (m.loop)
			loop_del(m.loop, m.sigfd);
		close(m.sigfd);
	}
	loop_free(m.loop);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}

/* The model rendered as HAProxy 2.6 stats CSV, Prometheus text 0.0.4 and JSON: pure functions of the
 * model and a monotonic clock. */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <json-c/json.h>
#include "check.h"
#include "maps.h"
#include "render.h"
#include "synflood.h"
#include "vrrp.h"

#ifndef PGSTEER_VERSION
#define PGSTEER_VERSION "0.1.0"
#endif

#define WEIGHT_SCALE 16 /* datapath weights are user weights x 16 (struct pgs_server) */

static void addr_fmt(char *buf, size_t len, uint32_t addr, uint16_t port)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = addr };

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(port));
}

/* ---- what the formats derive from the model ---- */

/* Seconds since a bpf_ktime_get_ns stamp (same clock as now_ms), -1 when there was none. */
static int64_t age_s(uint64_t now_ms, uint64_t stamp_ns)
{
	uint64_t now_ns = now_ms * 1000000ull;

	if (!stamp_ns)
		return -1;
	return now_ns > stamp_ns ? (int64_t)((now_ns - stamp_ns) / 1000000000ull) : 0;
}

static int server_selectable(const struct server_rt *s, uint64_t now_ms)
{
	return server_class(s) == CLASS_UP && server_dp_weight(s, now_ms) > 0;
}

/* HAProxy's weight column: the effective weight in user units (rounded up while slow start ramps
 * it), which stays the user weight while the server is out of selection. */
static uint32_t server_eweight(const struct server_rt *s, uint64_t now_ms)
{
	uint32_t w = server_class(s) == CLASS_UP ? server_dp_weight(s, now_ms) : 0;

	return w ? (w + WEIGHT_SCALE - 1) / WEIGHT_SCALE : s->uweight;
}

/* Slow-start throttle in percent, or -1 when the server is at full weight. */
static int server_throttle(const struct server_rt *s, uint64_t now_ms)
{
	uint32_t full = s->uweight * WEIGHT_SCALE, w;

	if (server_class(s) != CLASS_UP || !full)
		return -1;
	w = server_dp_weight(s, now_ms);
	return w < full ? (int)((uint64_t)w * 100 / full) : -1;
}

/* A service seen as an HAProxy backend. */
struct svc_view {
	int up;              /* some server is selectable (or there are none) */
	uint32_t weight;     /* sum of the selectable servers' effective weights */
	uint32_t uweight;    /* sum of their user weights */
	uint32_t act;        /* selectable servers */
	uint64_t redispatched;
	uint64_t last_new_ns;
};

static void service_view(const struct service_rt *svc, uint64_t now_ms, struct svc_view *v)
{
	int i;

	memset(v, 0, sizeof(*v));
	v->last_new_ns = svc->last_new_ns;
	for (i = 0; i < svc->nservers; i++) {
		const struct server_rt *s = &svc->servers[i];

		v->redispatched += s->redispatched;
		if (s->last_new_ns > v->last_new_ns)
			v->last_new_ns = s->last_new_ns;
		if (!server_selectable(s, now_ms))
			continue;
		v->act++;
		v->weight += server_eweight(s, now_ms);
		v->uweight += s->uweight;
	}
	v->up = v->weight > 0 || svc->nservers == 0;
}

static const char *node_name(const struct model *m)
{
	return m->cfg ? m->cfg->node_name : "";
}

/* ---- CSV ---- */

/* The columns of HAProxy 2.6's "show stat" (stats-t.h ST_F_*), then the module fields, then
 * pgsteer's own as a module of its own would add them: SYN floods (synflood.c), on FRONTEND rows. */
enum csv_col {
	C_PXNAME, C_SVNAME, C_QCUR, C_QMAX, C_SCUR, C_SMAX, C_SLIM, C_STOT, C_BIN, C_BOUT, C_DREQ,
	C_DRESP, C_EREQ, C_ECON, C_ERESP, C_WRETR, C_WREDIS, C_STATUS, C_WEIGHT, C_ACT, C_BCK,
	C_CHKFAIL, C_CHKDOWN, C_LASTCHG, C_DOWNTIME, C_QLIMIT, C_PID, C_IID, C_SID, C_THROTTLE,
	C_LBTOT, C_TRACKED, C_TYPE, C_RATE, C_RATE_LIM, C_RATE_MAX, C_CHECK_STATUS, C_CHECK_CODE,
	C_CHECK_DURATION, C_HRSP_1XX, C_HRSP_2XX, C_HRSP_3XX, C_HRSP_4XX, C_HRSP_5XX, C_HRSP_OTHER,
	C_HANAFAIL, C_REQ_RATE, C_REQ_RATE_MAX, C_REQ_TOT, C_CLI_ABRT, C_SRV_ABRT, C_COMP_IN,
	C_COMP_OUT, C_COMP_BYP, C_COMP_RSP, C_LASTSESS, C_LAST_CHK, C_LAST_AGT, C_QTIME, C_CTIME,
	C_RTIME, C_TTIME, C_AGENT_STATUS, C_AGENT_CODE, C_AGENT_DURATION, C_CHECK_DESC, C_AGENT_DESC,
	C_CHECK_RISE, C_CHECK_FALL, C_CHECK_HEALTH, C_AGENT_RISE, C_AGENT_FALL, C_AGENT_HEALTH,
	C_ADDR, C_COOKIE, C_MODE, C_ALGO, C_CONN_RATE, C_CONN_RATE_MAX, C_CONN_TOT, C_INTERCEPTED,
	C_DCON, C_DSES, C_WREW, C_CONNECT, C_REUSE, C_CACHE_LOOKUPS, C_CACHE_HITS, C_SRV_ICUR,
	C_SRC_ILIM, C_QTIME_MAX, C_CTIME_MAX, C_RTIME_MAX, C_TTIME_MAX, C_EINT, C_IDLE_CONN_CUR,
	C_SAFE_CONN_CUR, C_USED_CONN_CUR, C_NEED_CONN_EST, C_UWEIGHT, C_AGG_SERVER_STATUS,
	C_AGG_SERVER_CHECK_STATUS, C_AGG_CHECK_STATUS,
	C_DASH,                /* "-": end of the static fields (stats_dump_fields_csv) */
	C_MODULES,             /* first of the SSL, HTTP/2 and HTTP/1 module fields, never filled */
	C_SYN_COOKIES = C_MODULES + 24, /* syn-cookies mode: auto, always, off */
	C_SYN_FLOOD,           /* 1 while the datapath is in flood mode */
	C_SYN_VERDICTS,        /* the service's verdicts, named as in PGS_REASONS (synflood_reasons) */
	C_MAX = C_SYN_VERDICTS + SYNFLOOD_NREASONS,
};

static const char *const csv_names[C_MAX] = {
	"pxname", "svname", "qcur", "qmax", "scur", "smax", "slim", "stot", "bin", "bout", "dreq",
	"dresp", "ereq", "econ", "eresp", "wretr", "wredis", "status", "weight", "act", "bck",
	"chkfail", "chkdown", "lastchg", "downtime", "qlimit", "pid", "iid", "sid", "throttle",
	"lbtot", "tracked", "type", "rate", "rate_lim", "rate_max", "check_status", "check_code",
	"check_duration", "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other",
	"hanafail", "req_rate", "req_rate_max", "req_tot", "cli_abrt", "srv_abrt", "comp_in",
	"comp_out", "comp_byp", "comp_rsp", "lastsess", "last_chk", "last_agt", "qtime", "ctime",
	"rtime", "ttime", "agent_status", "agent_code", "agent_duration", "check_desc", "agent_desc",
	"check_rise", "check_fall", "check_health", "agent_rise", "agent_fall", "agent_health",
	"addr", "cookie", "mode", "algo", "conn_rate", "conn_rate_max", "conn_tot", "intercepted",
	"dcon", "dses", "wrew", "connect", "reuse", "cache_lookups", "cache_hits", "srv_icur",
	"src_ilim", "qtime_max", "ctime_max", "rtime_max", "ttime_max", "eint", "idle_conn_cur",
	"safe_conn_cur", "used_conn_cur", "need_conn_est", "uweight", "agg_server_status",
	"agg_server_check_status", "agg_check_status",
	"-",
	"ssl_sess", "ssl_reused_sess", "ssl_failed_handshake", "h2_headers_rcvd", "h2_data_rcvd",
	"h2_settings_rcvd", "h2_rst_stream_rcvd", "h2_goaway_rcvd", "h2_detected_conn_protocol_errors",
	"h2_detected_strm_protocol_errors", "h2_rst_stream_resp", "h2_goaway_resp",
	"h2_open_connections", "h2_backend_open_streams", "h2_total_connections",
	"h2_backend_total_streams", "h1_open_connections", "h1_open_streams", "h1_total_connections",
	"h1_total_streams", "h1_bytes_in", "h1_bytes_out", "h1_spliced_bytes_in",
	"h1_spliced_bytes_out",
	"syn_cookies", "syn_flood", /* then verdict_name() of each of synflood_reasons */
};

static const char *csv_name(int c)
{
	return c >= C_SYN_VERDICTS ? verdict_name(synflood_reasons[c - C_SYN_VERDICTS]) : csv_names[c];
}

/* One CSV line: the values, kept in a small arena; a column never set is empty. */
struct csv_row {
	const char *f[C_MAX];
	char arena[2048];
	size_t used;
};

static void row_init(struct csv_row *r)
{
	memset(r->f, 0, sizeof(r->f));
	r->used = 0;
}

static void row_fmt(struct csv_row *r, enum csv_col c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void row_fmt(struct csv_row *r, enum csv_col c, const char *fmt, ...)
{
	size_t room = sizeof(r->arena) - r->used;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->arena + r->used, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return; /* cannot happen with the model's bounded strings; leave it empty */
	r->f[c] = r->arena + r->used;
	r->used += (size_t)n + 1;
}

#define row_str(r, c, s) row_fmt((r), (c), "%s", (s))
#define row_u64(r, c, v) row_fmt((r), (c), "%" PRIu64, (uint64_t)(v))

/* A value as HAProxy's csv_enc writes it: quoted when it holds a comma, a quote or a line break
 * (quotes doubled); control characters become spaces so a line stays a line. */
static void csv_value(FILE *out, const char *v)
{
	const char *p;

	if (!strpbrk(v, ",\"\r\n")) {
		for (p = v; *p; p++)
			fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
		return;
	}
	fputc('"', out);
	for (p = v; *p; p++) {
		if (*p == '"')
			fputc('"', out);
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? ' ' : *p, out);
	}
	fputc('"', out);
}

static void csv_write(FILE *out, const struct csv_row *r)
{
	int c;

	for (c = 0; c < C_MAX; c++) {
		if (r->f[c])
			csv_value(out, r->f[c]);
		fputc(',', out);
	}
	fputc('\n', out);
}

static void csv_header(FILE *out)
{
	int c;

	fputs("# ", out);
	for (c = 0; c < C_MAX; c++)
		fprintf(out, "%s,", csv_name(c));
	fputc('\n', out);
}

/* Columns every row of a service has. */
static void csv_common(struct csv_row *r, const struct service_rt *svc, const char *svname, int type)
{
	row_init(r);
	row_str(r, C_PXNAME, svc->cfg.name);
	row_str(r, C_SVNAME, svname);
	row_u64(r, C_PID, 1);
	row_u64(r, C_IID, svc->id + 1);
	row_u64(r, C_TYPE, type);
	row_str(r, C_MODE, "tcp");
	row_str(r, C_DASH, "-");
}

static void csv_frontend(FILE *out, const struct service_rt *svc)
{
	struct csv_row r;
	int i;

	csv_common(&r, svc, "FRONTEND", 0);
	row_u64(&r, C_SCUR, svc->scur);
	row_u64(&r, C_SMAX, svc->smax);
	row_u64(&r, C_STOT, svc->stot);
	row_u64(&r, C_BIN, svc->bin);
	row_u64(&r, C_BOUT, svc->bout);
	row_str(&r, C_STATUS, "OPEN");
	row_u64(&r, C_SID, 0);
	row_u64(&r, C_CONN_TOT, svc->stot);
	row_str(&r, C_SYN_COOKIES, synflood_mode_name(svc->cfg.syn_cookies));
	row_u64(&r, C_SYN_FLOOD, svc->syn.flood);
	for (i = 0; i < SYNFLOOD_NREASONS; i++)
		row_u64(&r, C_SYN_VERDICTS + i, svc->syn.verdicts[synflood_reasons[i]]);
	csv_write(out, &r);
}

static void csv_server(FILE *out, const struct server_rt *s, int sid, uint64_t now_ms)
{
	char buf[64];
	struct csv_row r;
	int throttle = server_throttle(s, now_ms);

	csv_common(&r, s->svc, s->cfg.name, 2);
	row_u64(&r, C_QCUR, 0); /* no queue: a SYN is steered or dropped at once */
	row_u64(&r, C_QMAX, 0);
	row_u64(&r, C_SCUR, s->scur);
	row_u64(&r, C_SMAX, s->smax);
	row_u64(&r, C_STOT, s->stot);
	row_u64(&r, C_BIN, s->bin);
	row_u64(&r, C_BOUT, s->bout);
	row_u64(&r, C_WREDIS, s->redispatched);
	row_str(&r, C_STATUS, server_status(s, buf, sizeof(buf)));
	row_u64(&r, C_WEIGHT, server_eweight(s, now_ms));
	row_u64(&r, C_ACT, 1);
	row_u64(&r, C_BCK, 0);
	row_u64(&r, C_LASTCHG, server_lastchg_s(s, now_ms));
	row_u64(&r, C_SID, sid);
	if (throttle >= 0)
		row_u64(&r, C_THROTTLE, throttle);
	row_u64(&r, C_LBTOT, s->stot);
	row_fmt(&r, C_LASTSESS, "%" PRId64, age_s(now_ms, s->last_new_ns));
	addr_fmt(buf, sizeof(buf), s->cfg.addr, s->cfg.port);
	row_str(&r, C_ADDR, buf);
	row_u64(&r, C_UWEIGHT, s->uweight);
	if (s->checked) {
		/* HAProxy fills these only for servers with an enabled check... */
		row_u64(&r, C_CHKFAIL, s->chkfail);
		row_u64(&r, C_CHKDOWN, s->chkdown);
		row_u64(&r, C_DOWNTIME, server_downtime_s(s, now_ms));
	}
	if (s->checked && s->admin != ADMIN_MAINT) {
		/* ...and these only while it runs: MAINT pauses it. */
		row_fmt(&r, C_CHECK_STATUS, "%s%s", s->check_running ? "* " : "",
			chk_status_name(s->last.status));
		if (s->last.code[0])
			row_str(&r, C_CHECK_CODE, s->last.code);
		if (s->last.status > CHK_INI)
			row_u64(&r, C_CHECK_DURATION, s->last.duration_ms);
		row_str(&r, C_LAST_CHK, s->last.desc);
		row_str(&r, C_CHECK_DESC, chk_status_desc(s->last.status));
		row_u64(&r, C_CHECK_RISE, s->health.rise);
		row_u64(&r, C_CHECK_FALL, s->health.fall);
		row_u64(&r, C_CHECK_HEALTH, s->health.health);
	}
	csv_write(out, &r);
}

/* The backend's own chkdown, lastchg and downtime need the service's UP/DOWN history, which the
 * model does not keep yet: those columns stay empty until it does. */
static void csv_backend(FILE *out, const struct service_rt *svc, uint64_t now_ms)
{
	struct svc_view v;
	struct csv_row r;

	service_view(svc, now_ms, &v);
	csv_common(&r, svc, "BACKEND", 1);
	row_u64(&r, C_QCUR, 0);
	row_u64(&r, C_QMAX, 0);
	row_u64(&r, C_SCUR, svc->scur);
	row_u64(&r, C_SMAX, svc->smax);
	row_u64(&r, C_STOT, svc->stot);
	row_u64(&r, C_BIN, svc->bin);
	row_u64(&r, C_BOUT, svc->bout);
	row_u64(&r, C_WREDIS, v.redispatched);
	row_str(&r, C_STATUS, v.up ? "UP" : "DOWN");
	row_u64(&r, C_WEIGHT, v.weight);
	row_u64(&r, C_ACT, v.act);
	row_u64(&r, C_BCK, 0);
	row_u64(&r, C_SID, 0);
	row_u64(&r, C_LBTOT, svc->stot);
	row_fmt(&r, C_LASTSESS, "%" PRId64, age_s(now_ms, v.last_new_ns));
	row_str(&r, C_ALGO, "leastconn");
	row_u64(&r, C_UWEIGHT, v.uweight);
	csv_write(out, &r);
}

static int server_hidden(const struct server_rt *s, unsigned flags)
{
	enum srv_class c = server_class(s);

	if ((flags & RENDER_CSV_NO_MAINT) && c == CLASS_MAINT)
		return 1;
	return (flags & RENDER_CSV_UP) && (c == CLASS_MAINT || c == CLASS_DOWN);
}

static int out_status(FILE *out)
{
	return ferror(out) ? -EIO : 0;
}

int render_csv_opts(const struct model *m, uint64_t now_ms, unsigned flags, FILE *out)
{
	int i, j;

	csv_header(out);
	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];

		csv_frontend(out, svc);
		for (j = 0; j < svc->nservers; j++)
			if (!server_hidden(&svc->servers[j], flags))
				csv_server(out, &svc->servers[j], j + 1, now_ms);
		csv_backend(out, svc, now_ms);
	}
	fputc('\n', out); /* the empty line that marks the output complete */
	return out_status(out);
}

int render_csv(const struct model *m, uint64_t now_ms, FILE *out)
{
	return render_csv_opts(m, now_ms, 0, out);
}

/* ---- Prometheus ---- */

static void prom_family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* HELP and TYPE before a family's first sample: a family without samples is left out. */
static void prom_family_once(FILE *out, int *shown, const char *name, const char *type, const char *help)
{
	if (!*shown)
		prom_family(out, name, type, help);
	*shown = 1;
}

/* A label value with \, " and line feeds escaped. */
static void prom_label_value(FILE *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fputc('\\', out);
		if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
}

/* name{k1="v1",k2="v2",k3="v3"} with the pairs whose key is non-NULL. */
static void prom_name(FILE *out, const char *name, const char *k1, const char *v1, const char *k2,
		      const char *v2, const char *k3, const char *v3)
{
	const char *k[3] = { k1, k2, k3 }, *v[3] = { v1, v2, v3 };
	int i, n = 0;

	fputs(name, out);
	for (i = 0; i < 3; i++) {
		if (!k[i])
			continue;
		fprintf(out, "%s%s=\"", n++ ? "," : "{", k[i]);
		prom_label_value(out, v[i]);
		fputc('"', out);
	}
	if (n)
		fputc('}', out);
}

/* Server metrics with one number each; durations are kept in ms and printed in seconds. */
enum srv_metric {
	SM_SCUR, SM_SMAX, SM_STOT, SM_BIN, SM_BOUT, SM_LBTOT, SM_REDISP, SM_WEIGHT, SM_UWEIGHT,
	SM_CHKFAIL, SM_CHKDOWN, SM_LASTCHG, SM_DOWNTIME, SM_CHKDUR, SM_LASTSESS, SM_MAX,
};

struct prom_metric {
	const char *name, *type, *help;
	int ms; /* the value is in milliseconds: print it in seconds */
};

static const struct prom_metric srv_metrics[SM_MAX] = {
	[SM_SCUR] = { "haproxy_server_current_sessions", "gauge", "Current number of active sessions." },
	[SM_SMAX] = { "haproxy_server_max_sessions", "gauge", "Maximum observed number of active sessions." },
	[SM_STOT] = { "haproxy_server_sessions_total", "counter", "Total number of sessions." },
	[SM_BIN] = { "haproxy_server_bytes_in_total", "counter", "Current total of incoming bytes." },
	[SM_BOUT] = { "haproxy_server_bytes_out_total", "counter", "Current total of outgoing bytes." },
	[SM_LBTOT] = { "haproxy_server_loadbalanced_total", "counter",
		       "Total number of times a service was selected." },
	[SM_REDISP] = { "haproxy_server_redispatch_warnings_total", "counter",
			"Total number of redispatch warnings (SYNs refused by the server and sent elsewhere)." },
	[SM_WEIGHT] = { "haproxy_server_weight", "gauge", "Service weight." },
	[SM_UWEIGHT] = { "haproxy_server_uweight", "gauge", "Server's user weight." },
	[SM_CHKFAIL] = { "haproxy_server_check_failures_total", "counter",
			 "Total number of failed check (Only counts checks failed when the server is up)." },
	[SM_CHKDOWN] = { "haproxy_server_check_up_down_total", "counter",
			 "Total number of UP->DOWN transitions." },
	[SM_LASTCHG] = { "haproxy_server_check_last_change_seconds", "gauge",
			 "Number of seconds since the last UP<->DOWN transition." },
	[SM_DOWNTIME] = { "haproxy_server_downtime_seconds_total", "counter",
			  "Total downtime (in seconds) for the service." },
	[SM_CHKDUR] = { "haproxy_server_check_duration_seconds", "gauge",
			"Previously run health check duration, in seconds.", 1 },
	[SM_LASTSESS] = { "haproxy_server_last_session_seconds", "gauge",
			  "Number of seconds since last session assigned to server/backend." },
};

/* The value of one server metric; 0 when the server has none (no check, or a paused one). */
static int srv_metric_value(enum srv_metric k, const struct server_rt *s, uint64_t now_ms, int64_t *v)
{
	switch (k) {
	case SM_SCUR: *v = s->scur; return 1;
	case SM_SMAX: *v = s->smax; return 1;
	case SM_STOT: case SM_LBTOT: *v = s->stot; return 1;
	case SM_BIN: *v = s->bin; return 1;
	case SM_BOUT: *v = s->bout; return 1;
	case SM_REDISP: *v = s->redispatched; return 1;
	case SM_WEIGHT: *v = server_eweight(s, now_ms); return 1;
	case SM_UWEIGHT: *v = s->uweight; return 1;
	case SM_LASTCHG: *v = server_lastchg_s(s, now_ms); return 1;
	case SM_CHKFAIL: *v = s->chkfail; return s->checked;
	case SM_CHKDOWN: *v = s->chkdown; return s->checked;
	case SM_DOWNTIME: *v = server_downtime_s(s, now_ms); return s->checked;
	case SM_CHKDUR:
		*v = s->last.duration_ms;
		return s->checked && s->admin != ADMIN_MAINT && s->last.status > CHK_INI;
	case SM_LASTSESS: *v = age_s(now_ms, s->last_new_ns); return 1; /* -1: never, as PROMEX */
	case SM_MAX: break;
	}
	return 0;
}

static void prom_value(FILE *out, int64_t v, int ms)
{
	if (ms)
		fprintf(out, " %" PRId64 ".%03" PRId64 "\n", v / 1000, v % 1000);
	else
		fprintf(out, " %" PRId64 "\n", v);
}

static void prom_servers(FILE *out, const struct model *m, uint64_t now_ms)
{
	static const char *const states[] = { "DOWN", "UP", "MAINT", "DRAIN", "NOLB" };
	int k, i, j, st, shown;
	int64_t v;

	for (k = 0; k < SM_MAX; k++) {
		shown = 0;
		for (i = 0; i < m->nservices; i++) {
			const struct service_rt *svc = &m->services[i];

			for (j = 0; j < svc->nservers; j++) {
				const struct server_rt *s = &svc->servers[j];

				if (!srv_metric_value(k, s, now_ms, &v))
					continue;
				prom_family_once(out, &shown, srv_metrics[k].name, srv_metrics[k].type,
						 srv_metrics[k].help);
				prom_name(out, srv_metrics[k].name, "proxy", svc->cfg.name, "server",
					  s->cfg.name, NULL, NULL);
				prom_value(out, v, srv_metrics[k].ms);
			}
		}
	}

	/* One series per state, 1 on the current one (PROMEX). */
	shown = 0;
	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];

		for (j = 0; j < svc->nservers; j++) {
			const struct server_rt *s = &svc->servers[j];
			const char *cur = srv_class_name(server_class(s));

			prom_family_once(out, &shown, "haproxy_server_status", "gauge",
					 "Current status of the service, per state label value.");
			for (st = 0; st < 5; st++) {
				prom_name(out, "haproxy_server_status", "proxy", svc->cfg.name, "server",
					  s->cfg.name, "state", states[st]);
				fprintf(out, " %d\n", !strcmp(cur, states[st]));
			}
		}
	}

	/* Only while the check runs: not without one, not in MAINT (paused). */
	shown = 0;
	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];

		for (j = 0; j < svc->nservers; j++) {
			const struct server_rt *s = &svc->servers[j];

			if (!s->checked || s->admin == ADMIN_MAINT)
				continue;
			prom_family_once(out, &shown, "haproxy_server_check_status", "gauge",
					 "Status of last health check, per state label value.");
			for (st = CHK_SOCKERR; st < CHK_MAX; st++) {
				prom_name(out, "haproxy_server_check_status", "proxy", svc->cfg.name, "server",
					  s->cfg.name, "state", chk_status_name(st));
				fprintf(out, " %d\n", s->last.status == (enum chk_status)st);
			}
		}
	}
}

/* Frontend and backend metrics: one number per service. */
enum svc_metric {
	FM_SCUR, FM_SMAX, FM_STOT, FM_BIN, FM_BOUT,
	BM_SCUR, BM_SMAX, BM_STOT, BM_BIN, BM_BOUT, BM_LBTOT, BM_REDISP, BM_ACT, BM_BCK, BM_WEIGHT,
	BM_UWEIGHT, BM_LASTSESS, SVM_MAX,
};

static const struct prom_metric svc_metrics[SVM_MAX] = {
	[FM_SCUR] = { "haproxy_frontend_current_sessions", "gauge", "Current number of active sessions." },
	[FM_SMAX] = { "haproxy_frontend_max_sessions", "gauge", "Maximum observed number of active sessions." },
	[FM_STOT] = { "haproxy_frontend_sessions_total", "counter", "Total number of sessions." },
	[FM_BIN] = { "haproxy_frontend_bytes_in_total", "counter", "Current total of incoming bytes." },
	[FM_BOUT] = { "haproxy_frontend_bytes_out_total", "counter", "Current total of outgoing bytes." },
	[BM_SCUR] = { "haproxy_backend_current_sessions", "gauge", "Current number of active sessions." },
	[BM_SMAX] = { "haproxy_backend_max_sessions", "gauge", "Maximum observed number of active sessions." },
	[BM_STOT] = { "haproxy_backend_sessions_total", "counter", "Total number of sessions." },
	[BM_BIN] = { "haproxy_backend_bytes_in_total", "counter", "Current total of incoming bytes." },
	[BM_BOUT] = { "haproxy_backend_bytes_out_total", "counter", "Current total of outgoing bytes." },
	[BM_LBTOT] = { "haproxy_backend_loadbalanced_total", "counter",
		       "Total number of times a service was selected." },
	[BM_REDISP] = { "haproxy_backend_redispatch_warnings_total", "counter",
			"Total number of redispatch warnings." },
	[BM_ACT] = { "haproxy_backend_active_servers", "gauge", "Current number of active servers." },
	[BM_BCK] = { "haproxy_backend_backup_servers", "gauge", "Current number of backup servers." },
	[BM_WEIGHT] = { "haproxy_backend_weight", "gauge", "Service weight." },
	[BM_UWEIGHT] = { "haproxy_backend_uweight", "gauge", "Sum of the user weights of the active servers." },
	[BM_LASTSESS] = { "haproxy_backend_last_session_seconds", "gauge",
			  "Number of seconds since last session assigned to server/backend." },
};

static int svc_metric_value(enum svc_metric k, const struct service_rt *svc, const struct svc_view *v,
			    uint64_t now_ms, int64_t *out)
{
	switch (k) {
	case FM_SCUR: case BM_SCUR: *out = svc->scur; return 1;
	case FM_SMAX: case BM_SMAX: *out = svc->smax; return 1;
	case FM_STOT: case BM_STOT: case BM_LBTOT: *out = svc->stot; return 1;
	case FM_BIN: case BM_BIN: *out = svc->bin; return 1;
	case FM_BOUT: case BM_BOUT: *out = svc->bout; return 1;
	case BM_REDISP: *out = v->redispatched; return 1;
	case BM_ACT: *out = v->act; return 1;
	case BM_BCK: *out = 0; return 1;
	case BM_WEIGHT: *out = v->weight; return 1;
	case BM_UWEIGHT: *out = v->uweight; return 1;
	case BM_LASTSESS: *out = age_s(now_ms, v->last_new_ns); return 1;
	case SVM_MAX: break;
	}
	return 0;
}

static void prom_status_family(FILE *out, const char *name, const struct model *m, uint64_t now_ms,
			       int frontend)
{
	static const char *const states[] = { "DOWN", "UP" };
	int i, st, shown = 0;

	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];
		struct svc_view v;
		int up = 1;

		prom_family_once(out, &shown, name, "gauge", "Current status of the service, per state label value.");
		if (!frontend) {
			service_view(svc, now_ms, &v);
			up = v.up;
		}
		for (st = 0; st < 2; st++) {
			prom_name(out, name, "proxy", svc->cfg.name, "state", states[st], NULL, NULL);
			fprintf(out, " %d\n", up == st);
		}
	}
}

static void prom_services(FILE *out, const struct model *m, uint64_t now_ms)
{
	int k, i, shown;
	int64_t val;

	for (k = 0; k < SVM_MAX; k++) {
		if (k == BM_SCUR) /* frontends done */
			prom_status_family(out, "haproxy_frontend_status", m, now_ms, 1);
		shown = 0;
		for (i = 0; i < m->nservices; i++) {
			const struct service_rt *svc = &m->services[i];
			struct svc_view v;

			service_view(svc, now_ms, &v);
			if (!svc_metric_value(k, svc, &v, now_ms, &val))
				continue;
			prom_family_once(out, &shown, svc_metrics[k].name, svc_metrics[k].type, svc_metrics[k].help);
			prom_name(out, svc_metrics[k].name, "proxy", svc->cfg.name, NULL, NULL, NULL, NULL);
			prom_value(out, val, 0);
		}
	}
	prom_status_family(out, "haproxy_backend_status", m, now_ms, 0);
}

static void prom_scalar(FILE *out, const char *name, const char *type, const char *help, uint64_t v)
{
	prom_family(out, name, type, help);
	fprintf(out, "%s %" PRIu64 "\n", name, v);
}

/* SYN floods per service (synflood.c). */
static void prom_synflood(FILE *out, const struct model *m)
{
	static const uint32_t modes[] = { PGS_COOKIES_AUTO, PGS_COOKIES_ALWAYS, PGS_COOKIES_OFF };
	int i, k, shown = 0;

	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];

		prom_family_once(out, &shown, "pgsteer_syn_cookies", "gauge",
				 "The service's syn-cookies mode, per mode label value.");
		for (k = 0; k < 3; k++) {
			prom_name(out, "pgsteer_syn_cookies", "proxy", svc->cfg.name, "mode", synflood_mode_name(modes[k]),
				  NULL, NULL);
			fprintf(out, " %d\n", svc->cfg.syn_cookies == modes[k]);
		}
	}
	for (shown = 0, i = 0; i < m->nservices; i++) {
		prom_family_once(out, &shown, "pgsteer_syn_flood", "gauge",
				 "1 while the datapath is in SYN-flood mode for the service (auto: SYNs answered with cookies).");
		prom_name(out, "pgsteer_syn_flood", "proxy", m->services[i].cfg.name, NULL, NULL, NULL, NULL);
		prom_value(out, m->services[i].syn.flood, 0);
	}
	for (shown = 0, i = 0; i < m->nservices; i++) {
		prom_family_once(out, &shown, "pgsteer_syn_floods_total", "counter",
				 "Times the service entered SYN-flood mode since pgsteerd started.");
		prom_name(out, "pgsteer_syn_floods_total", "proxy", m->services[i].cfg.name, NULL, NULL, NULL, NULL);
		prom_value(out, (int64_t)m->services[i].syn.floods, 0);
	}
	for (shown = 0, i = 0; i < m->nservices; i++) {
		prom_family_once(out, &shown, "pgsteer_service_verdicts_total", "counter",
				 "The service's SYN-cookie verdicts (cookie_sent, cookie_valid, drop_cookie_invalid).");
		for (k = 0; k < SYNFLOOD_NREASONS; k++) {
			prom_name(out, "pgsteer_service_verdicts_total", "proxy", m->services[i].cfg.name, "verdict",
				  verdict_name(synflood_reasons[k]), NULL, NULL);
			prom_value(out, (int64_t)m->services[i].syn.verdicts[synflood_reasons[k]], 0);
		}
	}
}

/* Cancel routing (cancel.c). */
static void prom_cancel(FILE *out, const struct model *m)
{
	prom_scalar(out, "pgsteer_cancel_seen_total", "counter",
		    "CancelRequests the datapath recognised as the first payload of a connection.", m->cancel.seen);
	prom_scalar(out, "pgsteer_cancel_routed_total", "counter",
		    "CancelRequests sent on to the service's other UP servers.", m->cancel.routed);
	prom_scalar(out, "pgsteer_cancel_fanned_out_total", "counter",
		    "CancelRequest copies delivered to other servers.", m->cancel.fanned_out);
	prom_scalar(out, "pgsteer_cancel_failed_total", "counter",
		    "CancelRequest copies that could not be delivered.", m->cancel.failed);
	prom_scalar(out, "pgsteer_cancel_dropped_total", "counter",
		    "CancelRequests not routed: ring buffer full, over the rate limit, or queued too long.",
		    m->cancel.dropped);
}

static void prom_pgsteer(FILE *out, const struct model *m, uint64_t now_ms)
{
	unsigned i;
	int st;

	prom_family(out, "pgsteer_build_info", "gauge", "pgsteer version, value 1.");
	prom_name(out, "pgsteer_build_info", "version", PGSTEER_VERSION, NULL, NULL, NULL, NULL);
	fputs(" 1\n", out);
	prom_scalar(out, "pgsteer_uptime_seconds", "gauge", "Seconds since pgsteerd started.",
		    now_ms > m->start_ms ? (now_ms - m->start_ms) / 1000 : 0);

	prom_family(out, "pgsteer_datapath_verdicts_total", "counter",
		    "Packets the datapath handled, by verdict (pass, forward, drop reason).");
	for (i = 0; i < PGS_R_MAX; i++) {
		prom_name(out, "pgsteer_datapath_verdicts_total", "verdict", verdict_name((enum pgs_reason)i), NULL, NULL,
			  NULL, NULL);
		prom_value(out, (int64_t)m->verdicts[i], 0);
	}
	prom_scalar(out, "pgsteer_flow_table_entries", "gauge",
		    "Flows in the flow table at the last clean-up.", m->flows);
	prom_scalar(out, "pgsteer_flow_table_size", "gauge", "Capacity of the flow table.", m->flows_max);
	prom_scalar(out, "pgsteer_flows_expired_total", "counter",
		    "Flows removed by the controller after they closed or idled out.", m->flows_expired);

	if (m->vrrp.enabled) {
		prom_family(out, "pgsteer_vrrp_state", "gauge", "VRRP state of this node, per state label value.");
		for (st = VRRP_INIT; st <= VRRP_FAULT; st++) {
			prom_name(out, "pgsteer_vrrp_state", "state", vrrp_state_name((enum vrrp_state)st), NULL,
				  NULL, NULL, NULL);
			fprintf(out, " %d\n", m->vrrp.state == st);
		}
		prom_scalar(out, "pgsteer_vrrp_transitions_total", "counter", "VRRP state changes.",
			    m->vrrp.transitions);
		prom_family(out, "pgsteer_vrrp_rx_dropped_total", "counter",
			    "VRRP adverts received and discarded, by reason.");
		for (i = 0; i < VRRP_DROP_MAX; i++) {
			prom_name(out, "pgsteer_vrrp_rx_dropped_total", "reason", vrrp_drop_name((enum vrrp_drop)i),
				  NULL, NULL, NULL, NULL);
			prom_value(out, (int64_t)m->vrrp.rx_dropped[i], 0);
		}
	}

	if (m->sync.enabled) {
		const struct sync_view *v = &m->sync;

		prom_scalar(out, "pgsteer_sync_ready", "gauge",
			    "1 once this node's flow table is in sync (a backup's bulk resync completed).", v->ready);
		prom_scalar(out, "pgsteer_sync_messages_sent_total", "counter", "Flow-sync messages sent.", v->msgs_tx);
		prom_scalar(out, "pgsteer_sync_flows_sent_total", "counter", "Flow records sent.", v->flows_tx);
		prom_scalar(out, "pgsteer_sync_messages_received_total", "counter",
			    "Flow-sync messages accepted.", v->msgs_rx);
		prom_scalar(out, "pgsteer_sync_flows_received_total", "counter", "Flow records accepted.", v->flows_rx);
		prom_scalar(out, "pgsteer_sync_lag_milliseconds", "gauge",
			    "Receive time minus send time of the last accepted message.", v->lag_ms);
		prom_scalar(out, "pgsteer_sync_events_lost_total", "counter",
			    "Flow events the datapath had no ring-buffer room for.", v->ev_lost);
		prom_family(out, "pgsteer_sync_rejected_total", "counter",
			    "Flow-sync messages (or records) rejected, by reason.");
		for (i = SYNC_E_TRUNCATED; i < SYNC_E_MAX; i++) {
			prom_name(out, "pgsteer_sync_rejected_total", "reason", sync_err_name((enum sync_err)i), NULL,
				  NULL, NULL, NULL);
			prom_value(out, (int64_t)v->err[i], 0);
		}
	}

	prom_scalar(out, "pgsteer_alerts_queued", "gauge", "Alerts waiting to be delivered.", m->alerts.queued);
	prom_scalar(out, "pgsteer_alerts_sent_total", "counter", "Alerts delivered.", m->alerts.sent);
	prom_scalar(out, "pgsteer_alerts_failed_total", "counter", "Alert deliveries that failed (retried).",
		    m->alerts.failed);
	prom_scalar(out, "pgsteer_alerts_dropped_total", "counter", "Alerts given up on.", m->alerts.dropped);
	prom_cancel(out, m);
	prom_family(out, "pgsteer_loop_turn_max_seconds", "gauge",
		    "The longest event-loop turn since start: VRRP adverts and checks wait behind a long turn.");
	fprintf(out, "pgsteer_loop_turn_max_seconds %" PRIu64 ".%06" PRIu64 "\n", m->loop.max_turn_us / 1000000,
		m->loop.max_turn_us % 1000000);
	prom_scalar(out, "pgsteer_loop_slow_turns_total", "counter",
		    "Event-loop turns longer than 50 ms (each is logged with what ran in it).", m->loop.slow_turns);
	prom_scalar(out, "pgsteer_loop_turns_total", "counter", "Event-loop turns.", m->loop.turns);
}

int render_prometheus(const struct model *m, uint64_t now_ms, FILE *out)
{
	prom_services(out, m, now_ms);
	prom_synflood(out, m);
	prom_servers(out, m, now_ms);
	prom_pgsteer(out, m, now_ms);
	return out_status(out);
}

/* ---- JSON ---- */

static void j_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static void j_u64(json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static void j_i64(json_object *o, const char *k, int64_t v)
{
	json_object_object_add(o, k, json_object_new_int64(v));
}

static json_object *json_check(const struct server_rt *s)
{
	json_object *c = json_object_new_object();

	j_str(c, "status", chk_status_name(s->last.status));
	j_str(c, "status_desc", chk_status_desc(s->last.status));
	json_object_object_add(c, "running", json_object_new_boolean(s->check_running));
	j_str(c, "code", s->last.code);
	j_u64(c, "duration_ms", s->last.duration_ms);
	j_str(c, "desc", s->last.desc);
	j_u64(c, "rise", s->health.rise);
	j_u64(c, "fall", s->health.fall);
	j_u64(c, "health", s->health.health);
	return c;
}

static json_object *json_server(const struct server_rt *s, uint64_t now_ms)
{
	json_object *o = json_object_new_object();
	char buf[64];
	int throttle = server_throttle(s, now_ms);

	j_str(o, "name", s->cfg.name);
	addr_fmt(buf, sizeof(buf), s->cfg.addr, s->cfg.port);
	j_str(o, "addr", buf);
	j_str(o, "status", server_status(s, buf, sizeof(buf)));
	j_str(o, "class", srv_class_name(server_class(s)));
	j_str(o, "admin", admin_name(s->admin));
	j_u64(o, "weight", server_eweight(s, now_ms));
	j_u64(o, "uweight", s->uweight);
	j_i64(o, "throttle", throttle);
	j_u64(o, "scur", s->scur);
	j_u64(o, "smax", s->smax);
	j_u64(o, "stot", s->stot);
	j_u64(o, "bin", s->bin);
	j_u64(o, "bout", s->bout);
	j_u64(o, "redispatched", s->redispatched);
	j_u64(o, "chkfail", s->chkfail);
	j_u64(o, "chkdown", s->chkdown);
	j_u64(o, "lastchg", server_lastchg_s(s, now_ms));
	j_u64(o, "downtime", server_downtime_s(s, now_ms));
	j_i64(o, "lastsess", age_s(now_ms, s->last_new_ns));
	json_object_object_add(o, "passive_down", json_object_new_boolean(s->passive_ns != 0));
	json_object_object_add(o, "check", s->checked ? json_check(s) : NULL);
	return o;
}

static json_object *json_synflood(const struct service_rt *svc)
{
	json_object *o = json_object_new_object(), *v = json_object_new_object();
	int i;

	j_str(o, "mode", synflood_mode_name(svc->cfg.syn_cookies));
	json_object_object_add(o, "flood", json_object_new_boolean(svc->syn.flood));
	json_object_object_add(o, "flood_alerted", json_object_new_boolean(svc->syn.alerted));
	j_u64(o, "floods", svc->syn.floods);
	for (i = 0; i < SYNFLOOD_NREASONS; i++)
		j_u64(v, verdict_name(synflood_reasons[i]), svc->syn.verdicts[synflood_reasons[i]]);
	json_object_object_add(o, "verdicts", v);
	return o;
}

static json_object *json_service(const struct service_rt *svc, uint64_t now_ms)
{
	json_object *o = json_object_new_object(), *servers = json_object_new_array();
	struct svc_view v;
	char buf[64];
	int i;

	service_view(svc, now_ms, &v);
	j_str(o, "name", svc->cfg.name);
	addr_fmt(buf, sizeof(buf), svc->cfg.vip, svc->cfg.port);
	j_str(o, "bind", buf);
	j_str(o, "status", v.up ? "UP" : "DOWN");
	j_str(o, "check", check_name(svc->cfg.check.type));
	j_u64(o, "weight", v.weight);
	j_u64(o, "act", v.act);
	j_u64(o, "scur", svc->scur);
	j_u64(o, "smax", svc->smax);
	j_u64(o, "stot", svc->stot);
	j_u64(o, "bin", svc->bin);
	j_u64(o, "bout", svc->bout);
	j_u64(o, "redispatched", v.redispatched);
	j_i64(o, "lastsess", age_s(now_ms, v.last_new_ns));
	json_object_object_add(o, "syn_cookies", json_synflood(svc));
	for (i = 0; i < svc->nservers; i++)
		json_object_array_add(servers, json_server(&svc->servers[i], now_ms));
	json_object_object_add(o, "servers", servers);
	return o;
}

static json_object *json_cancel(const struct model *m)
{
	json_object *o = json_object_new_object();

	j_u64(o, "seen", m->cancel.seen);
	j_u64(o, "routed", m->cancel.routed);
	j_u64(o, "fanned_out", m->cancel.fanned_out);
	j_u64(o, "failed", m->cancel.failed);
	j_u64(o, "dropped", m->cancel.dropped);
	return o;
}

static json_object *json_datapath(const struct model *m)
{
	json_object *o = json_object_new_object(), *verdicts = json_object_new_object();
	unsigned i;

	for (i = 0; i < PGS_R_MAX; i++)
		j_u64(verdicts, verdict_name((enum pgs_reason)i), m->verdicts[i]);
	json_object_object_add(o, "verdicts", verdicts);
	j_u64(o, "flows", m->flows);
	j_u64(o, "flows_max", m->flows_max);
	j_u64(o, "expired", m->flows_expired);
	json_object_object_add(o, "cancel", json_cancel(m));
	return o;
}

static json_object *json_vrrp(const struct model *m)
{
	json_object *o = json_object_new_object(), *drops = json_object_new_object();
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = m->vrrp.master };
	unsigned i;

	j_str(o, "state", vrrp_state_name((enum vrrp_state)m->vrrp.state));
	if (m->cfg) {
		j_u64(o, "vrid", m->cfg->vrrp.vrid);
		j_u64(o, "priority", m->cfg->vrrp.priority);
	}
	if (m->vrrp.master && inet_ntop(AF_INET, &a, ip, sizeof(ip)))
		j_str(o, "master", ip);
	else
		json_object_object_add(o, "master", NULL);
	j_u64(o, "last_change_ms", m->vrrp.last_change_ms);
	j_u64(o, "transitions", m->vrrp.transitions);
	for (i = 0; i < VRRP_DROP_MAX; i++)
		j_u64(drops, vrrp_drop_name((enum vrrp_drop)i), m->vrrp.rx_dropped[i]);
	json_object_object_add(o, "rx_dropped", drops);
	return o;
}

static json_object *json_sync(const struct model *m)
{
	const struct sync_view *v = &m->sync;
	json_object *o = json_object_new_object(), *errs = json_object_new_object();
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = v->peer };
	unsigned i;

	j_str(o, "role", v->master ? "sender" : "receiver");
	json_object_object_add(o, "ready", json_object_new_boolean(v->ready));
	if (v->peer && inet_ntop(AF_INET, &a, ip, sizeof(ip)))
		j_str(o, "peer", ip);
	else
		json_object_object_add(o, "peer", NULL);
	j_u64(o, "last_message_ms", v->last_rx_ms); /* wall clock, 0 = none yet */
	j_u64(o, "lag_ms", v->lag_ms);
	j_u64(o, "messages_sent", v->msgs_tx);
	j_u64(o, "flows_sent", v->flows_tx);
	j_u64(o, "messages_received", v->msgs_rx);
	j_u64(o, "flows_received", v->flows_rx);
	j_u64(o, "resyncs", v->resyncs);
	j_u64(o, "install_errors", v->install_errors);
	j_u64(o, "events_lost", v->ev_lost);
	for (i = SYNC_E_TRUNCATED; i < SYNC_E_MAX; i++)
		j_u64(errs, sync_err_name((enum sync_err)i), v->err[i]);
	json_object_object_add(o, "rejected", errs);
	return o;
}

static json_object *json_alerts(const struct model *m)
{
	json_object *o = json_object_new_object();

	j_u64(o, "queued", m->alerts.queued);
	j_u64(o, "sent", m->alerts.sent);
	j_u64(o, "failed", m->alerts.failed);
	j_u64(o, "dropped", m->alerts.dropped);
	return o;
}

int render_json(const struct model *m, uint64_t now_ms, FILE *out)
{
	json_object *root = json_object_new_object(), *services = json_object_new_array();
	const char *text;
	int i, err = 0;

	if (!root || !services) {
		err = -ENOMEM;
		goto out;
	}
	j_str(root, "node", node_name(m));
	j_str(root, "version", PGSTEER_VERSION);
	j_u64(root, "uptime", now_ms > m->start_ms ? (now_ms - m->start_ms) / 1000 : 0);
	for (i = 0; i < m->nservices; i++)
		json_object_array_add(services, json_service(&m->services[i], now_ms));
	json_object_object_add(root, "services", services);
	services = NULL; /* owned by root now */
	json_object_object_add(root, "datapath", json_datapath(m));
	if (m->vrrp.enabled)
		json_object_object_add(root, "vrrp", json_vrrp(m));
	if (m->sync.enabled)
		json_object_object_add(root, "sync", json_sync(m));
	json_object_object_add(root, "alerts", json_alerts(m));

	text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	fputs(text, out);
	fputc('\n', out);
	err = out_status(out);
out:
	json_object_put(services);
	json_object_put(root);
	return err;
}

/* ---- HTML ---- */

/* Write text with the five characters HTML gives a meaning escaped (names come from the config,
 * check descriptions from whatever answered the check). */
static void html_text(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", out); break;
		case '<': fputs("&lt;", out); break;
		case '>': fputs("&gt;", out); break;
		case '"': fputs("&quot;", out); break;
		case '\'': fputs("&#39;", out); break;
		default: fputc(*s, out);
		}
	}
}

/* A duration as HAProxy's stats page prints it: the two largest units of d, h, m, s ("5m12s"). */
static void html_duration(FILE *out, uint64_t s)
{
	uint64_t d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (d)
		fprintf(out, "%" PRIu64 "d%" PRIu64 "h", d, h);
	else if (h)
		fprintf(out, "%" PRIu64 "h%" PRIu64 "m", h, m);
	else if (m)
		fprintf(out, "%" PRIu64 "m%" PRIu64 "s", m, sec);
	else
		fprintf(out, "%" PRIu64 "s", sec);
}

/* The row colour of a server, HAProxy's legend: up, going down, going up, down, drain, maint. */
static const char *html_status_class(const struct server_rt *s, const char *status)
{
	switch (server_class(s)) {
	case CLASS_MAINT: return "maint";
	case CLASS_DRAIN: return "drain";
	default: break;
	}
	if (!strncmp(status, "UP ", 3))
		return "goingdown";
	if (!strncmp(status, "DOWN ", 5))
		return "goingup";
	if (!strcmp(status, "DOWN"))
		return "down";
	if (!strcmp(status, "no check"))
		return "nocheck";
	return "up";
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"refresh\" content=\"%u\">\n"
	"<title>pgsteer statistics: ";
static const char html_style[] =
	"</title>\n<style>\n"
	"body{font-family:Arial,Helvetica,sans-serif;font-size:13px;margin:12px;color:#000;background:#fff}\n"
	"h1{font-size:18px;margin:0 0 6px}\n"
	".info{margin:0 0 12px}\n"
	"table{border-collapse:collapse;margin:0 0 16px;min-width:70%}\n"
	"caption{text-align:left;font-weight:bold;padding:4px 6px;background:#20a0ff;color:#fff}\n"
	"th{background:#b0b0ff;font-weight:normal;padding:2px 6px;border:1px solid #999}\n"
	"td{padding:2px 6px;border:1px solid #999;text-align:right;white-space:nowrap}\n"
	"td.name,td.check{text-align:left}\n"
	"tr.up td{background:#c0ffc0}tr.goingdown td{background:#ffffa0}tr.goingup td{background:#ffd020}\n"
	"tr.down td{background:#ff9090}tr.drain td{background:#20a0ff}tr.maint td{background:#c0c0ff}\n"
	"tr.nocheck td{background:#e0e0e0}tr.backend td{background:#d0d0d0;font-weight:bold}\n"
	".vrrp-MASTER{color:#080}.vrrp-BACKUP{color:#05a}.vrrp-FAULT,.vrrp-INIT{color:#c00}\n"
	".legend span{padding:1px 6px;margin-right:4px;border:1px solid #999}\n"
	"</style></head><body>\n";

static void html_check(FILE *out, const struct server_rt *s)
{
	if (!s->checked) {
		fputs("-", out);
		return;
	}
	html_text(out, chk_status_name(s->last.status));
	if (s->last.code[0]) {
		fputc('/', out);
		html_text(out, s->last.code);
	}
	fprintf(out, " in %" PRIu64 "ms", (uint64_t)s->last.duration_ms);
	if (s->last.desc[0]) {
		fputs(": ", out);
		html_text(out, s->last.desc);
	}
}

static void html_server(FILE *out, const struct server_rt *s, uint64_t now_ms)
{
	char status[64], addr[64];
	const char *cls;

	server_status(s, status, sizeof(status));
	cls = html_status_class(s, status);
	addr_fmt(addr, sizeof(addr), s->cfg.addr, s->cfg.port);
	fprintf(out, "<tr class=\"srv %s\" data-server=\"", cls);
	html_text(out, s->cfg.name);
	fputs("\"><td class=\"name\">", out);
	html_text(out, s->cfg.name);
	fprintf(out, "</td><td class=\"name\">%s</td><td class=\"status\">", addr);
	html_text(out, status);
	fputs("</td><td>", out);
	html_duration(out, server_lastchg_s(s, now_ms));
	fprintf(out, "</td><td class=\"scur\">%" PRIu64 "</td><td>%" PRIu64 "</td><td class=\"stot\">%" PRIu64
		"</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td class=\"check\">",
		(uint64_t)s->scur, (uint64_t)s->smax, (uint64_t)s->stot, (uint64_t)s->bin, (uint64_t)s->bout);
	html_check(out, s);
	fprintf(out, "</td><td>%" PRIu64 "</td><td>", (uint64_t)s->chkfail);
	html_duration(out, server_downtime_s(s, now_ms));
	fprintf(out, "</td><td class=\"weight\">%" PRIu32 "/%" PRIu32 "</td></tr>\n", server_eweight(s, now_ms),
		(uint32_t)s->uweight);
}

static void html_service(FILE *out, const struct service_rt *svc, uint64_t now_ms)
{
	struct svc_view v;
	char bind[64];
	int i;

	service_view(svc, now_ms, &v);
	addr_fmt(bind, sizeof(bind), svc->cfg.vip, svc->cfg.port);
	fputs("<table class=\"service\" data-service=\"", out);
	html_text(out, svc->cfg.name);
	fputs("\"><caption>", out);
	html_text(out, svc->cfg.name);
	fprintf(out, " &mdash; %s, leastconn, check %s</caption>\n", bind, check_name(svc->cfg.check.type));
	fputs("<thead><tr><th>Server</th><th>Address</th><th>Status</th><th>LastChg</th><th>Cur sessions</th>"
	      "<th>Max</th><th>Total</th><th>Bytes in</th><th>Bytes out</th><th>Last check</th>"
	      "<th>Chk fail</th><th>Downtime</th><th>Weight</th></tr></thead>\n<tbody>\n", out);
	for (i = 0; i < svc->nservers; i++)
		html_server(out, &svc->servers[i], now_ms);
	fprintf(out, "<tr class=\"backend\"><td class=\"name\">Backend</td><td class=\"name\">%s</td>"
		"<td class=\"status\">%s</td><td></td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
		"</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td class=\"check\">%" PRIu32 " of %d servers "
		"selectable</td><td></td><td></td><td>%" PRIu32 "</td></tr>\n</tbody></table>\n",
		bind, v.up ? "UP" : "DOWN", (uint64_t)svc->scur, (uint64_t)svc->smax, (uint64_t)svc->stot,
		(uint64_t)svc->bin, (uint64_t)svc->bout, v.act, svc->nservers, v.weight);
}

int render_html(const struct model *m, uint64_t now_ms, unsigned refresh_s, FILE *out)
{
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = m->vrrp.master };
	const char *state;
	int i;

	fprintf(out, html_head, refresh_s ? refresh_s : 5);
	html_text(out, node_name(m));
	fputs(html_style, out);
	fprintf(out, "<h1>pgsteer %s statistics report</h1>\n<p class=\"info\">Node <b id=\"node\">",
		PGSTEER_VERSION);
	html_text(out, node_name(m));
	fputs("</b>", out);
	if (m->vrrp.enabled) {
		state = vrrp_state_name((enum vrrp_state)m->vrrp.state);
		fprintf(out, " &middot; VRRP <b id=\"vrrp-state\" class=\"vrrp-%s\">%s</b>", state, state);
		if (m->cfg)
			fprintf(out, " (vrid %u, priority %u", (unsigned)m->cfg->vrrp.vrid,
				(unsigned)m->cfg->vrrp.priority);
		else
			fputs(" (", out);
		if (m->vrrp.master && inet_ntop(AF_INET, &a, ip, sizeof(ip)))
			fprintf(out, ", master %s", ip);
		fputs(")", out);
	} else {
		fputs(" &middot; VRRP <b id=\"vrrp-state\">off</b>", out);
	}
	fputs(" &middot; uptime ", out);
	html_duration(out, now_ms > m->start_ms ? (now_ms - m->start_ms) / 1000 : 0);
	fprintf(out, " &middot; refreshes every %u s &middot; <a href=\"/stats;csv\">CSV</a> "
		"<a href=\"/stats.json\">JSON</a> <a href=\"/metrics\">Prometheus</a></p>\n",
		refresh_s ? refresh_s : 5);
	fputs("<p class=\"legend\"><span class=\"up\" style=\"background:#c0ffc0\">UP</span>"
	      "<span style=\"background:#ffffa0\">UP, going down</span>"
	      "<span style=\"background:#ffd020\">DOWN, going up</span>"
	      "<span style=\"background:#ff9090\">DOWN</span>"
	      "<span style=\"background:#20a0ff\">DRAIN</span>"
	      "<span style=\"background:#c0c0ff\">MAINT</span></p>\n", out);
	for (i = 0; i < m->nservices; i++)
		html_service(out, &m->services[i], now_ms);
	fputs("</body></html>\n", out);
	return out_status(out);
}

/* The stats listener: libmicrohttpd without a thread, its epoll set watched by our loop and its
 * timeouts driven by a timer, so a slow or hostile client never blocks the daemon. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include "hooks.h"
#include "log.h"
#include "render.h"
#include "stats.h"
#include "stats_auth.h"

#define STATS_MAX_URI 2048      /* longer URIs get 414 */
#define STATS_MAX_CONNS 128     /* in all (pgsteerd's descriptor budget counts them, fdlimit.c) */
#define STATS_MAX_PER_IP 16     /* from one address: a storm from one host leaves room for others */
#define STATS_CONN_TIMEOUT_S 10 /* idle keep-alive connections are closed after this */
#define STATS_HEADERS_S 5       /* a request must be whole this long after it began (slowloris) */
#define STATS_SNAPSHOT_MS 1000  /* a document is rendered at most once in this long, however many ask */
#define STATS_CONN_MEMORY 32768 /* per-connection buffer: request line and headers must fit */
#define STATS_HTML_REFRESH_S 5  /* the HTML page reloads itself this often */
#define STATS_REALM "pgsteer statistics" /* what a browser shows when it asks for the user */

struct stats_http {
	struct loop *loop;
	struct MHD_Daemon *mhd;
	int epfd;                  /* MHD's epoll set, watched by the loop; MHD owns it */
	struct timer timer;        /* when MHD next needs to run without socket activity */
	struct model *model;
	void (*refresh)(void *arg);
	void *arg;
	uint16_t port;
	/* The snapshot: each document as last rendered, shared by every request until it is older than
	 * STATS_SNAPSHOT_MS, so a scrape storm costs one rendering per document and second, not one per
	 * request (the loop it shares with VRRP stays free). One slot per route, CSV per flag set. */
	uint64_t refreshed_ms;
	struct snapshot {
		struct MHD_Response *resp;
		uint64_t at_ms;
	} snap[STATS_URI_TOO_LONG + 4];
	uint64_t renders;
	int hooked;                /* told of changes that drop the snapshot (hooks.h) */
	struct timer sweep;        /* once a second: connections past STATS_HEADERS_S are cut */
	struct sconn *conns;       /* every open connection */
	struct stats_auth *auth;   /* the users allowed in; NULL: no authentication */
};

/* One connection, from MHD's start notification to its close: since when it owes us a request. */
struct sconn {
	struct sconn *next, **pprev;
	int fd;
	uint64_t since_ms;         /* accepted, or its last request answered */
	int answering;             /* headers complete: MHD's own idle timeout governs the rest */
	int cut;
};

/* ---- routing ---- */

/* HAProxy answers any URI under its stats prefix and reads ";csv", ";up", ... anywhere after it,
 * query string included (http_ana.c http_handle_stats). */
enum stats_route stats_route(const char *method, const char *uri, unsigned *csv_flags)
{
	size_t plen = strcspn(uri, "?");
	int get = !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
	enum stats_route r;
	const char *opts;

	*csv_flags = 0;
	if (strlen(uri) > STATS_MAX_URI)
		return STATS_URI_TOO_LONG;
	if (plen == strlen("/metrics") && !strncmp(uri, "/metrics", plen))
		r = STATS_METRICS;
	else if (plen == strlen("/stats.json") && !strncmp(uri, "/stats.json", plen))
		r = STATS_JSON;
	else if (!strncmp(uri, "/stats", strlen("/stats"))) {
		opts = uri + strlen("/stats");
		r = strstr(opts, ";json") ? STATS_JSON : strstr(opts, ";csv") ? STATS_CSV : STATS_HTML;
		if (strstr(opts, ";up"))
			*csv_flags |= RENDER_CSV_UP;
		if (strstr(opts, ";no-maint"))
			*csv_flags |= RENDER_CSV_NO_MAINT;
	} else
		return STATS_NOT_FOUND;
	return get ? r : STATS_BAD_METHOD;
}

/* ---- the snapshot ---- */

/* A change a reader must see at once (a server's state, the role, a reload) drops the snapshot; only
 * counters may be up to STATS_SNAPSHOT_MS old. */
static void snapshot_drop(struct stats_http *s)
{
	size_t i;

	for (i = 0; i < sizeof(s->snap) / sizeof(s->snap[0]); i++)
		if (s->snap[i].resp) {
			MHD_destroy_response(s->snap[i].resp); /* a connection sending it holds its own reference */
			s->snap[i].resp = NULL;
		}
	s->refreshed_ms = 0;
}

static void on_server(void *arg, struct server_rt *srv)
{
	snapshot_drop(arg);
}

static void on_steering(void *arg, int on)
{
	snapshot_drop(arg);
}

static void on_reloaded(void *arg)
{
	snapshot_drop(arg);
}

static const struct ctl_hooks stats_hooks = {
	.server = on_server,
	.steering = on_steering,
	.reloaded = on_reloaded,
};

/* ---- connection deadlines ---- */

/* libmicrohttpd's timeout is an idle timeout: a client that sends a header byte every few seconds
 * would hold its connection forever. Each connection must deliver a whole request within
 * STATS_HEADERS_S of its start (or of its previous answer); the sweep shuts down the socket of one
 * that does not, and MHD then closes it as any connection the peer dropped. */
static void stats_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			 enum MHD_ConnectionNotificationCode code)
{
	struct stats_http *s = cls;
	struct sconn *c = *socket_context;
	const union MHD_ConnectionInfo *info;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = calloc(1, sizeof(*c));
		if (!c || !info) {
			free(c);
			return; /* no deadline for this one: MHD's idle timeout still applies */
		}
		c->fd = info->connect_fd;
		c->since_ms = now_ms();
		c->next = s->conns;
		c->pprev = &s->conns;
		if (s->conns)
			s->conns->pprev = &c->next;
		s->conns = c;
		*socket_context = c;
	} else if (c) {
		*c->pprev = c->next;
		if (c->next)
			c->next->pprev = c->pprev;
		free(c);
		*socket_context = NULL;
	}
}

static struct sconn *sconn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? info->socket_context : NULL;
}

static void stats_sweep(void *arg)
{
	struct stats_http *s = arg;
	uint64_t now = now_ms();
	struct sconn *c;
	int cut = 0;

	for (c = s->conns; c; c = c->next)
		if (!c->answering && !c->cut && now - c->since_ms > STATS_HEADERS_S * 1000ull) {
			shutdown(c->fd, SHUT_RDWR);
			c->cut = 1;
			cut++;
		}
	if (cut) /* MHD sees the end of each in its epoll set and closes it */
		log_debug("stats: %d connection(s) cut: no whole request within %d s", cut, STATS_HEADERS_S);
}

/* ---- responses ---- */

static struct MHD_Response *new_response(const char *type, char *body, size_t len, int must_free)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		len, body, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);

	if (!resp) {
		if (must_free)
			free(body);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	return resp;
}

static enum MHD_Result respond_error(struct MHD_Connection *conn, unsigned code, const char *text)
{
	struct MHD_Response *resp = new_response("text/plain", (char *)text, strlen(text), 0);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO; /* MHD closes the connection */
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Render one document into a new response (NULL on failure). */
static struct MHD_Response *render(struct stats_http *s, enum stats_route r, unsigned csv_flags, uint64_t now)
{
	const char *type = "text/plain";
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int err;

	/* the datapath's counters are pulled once per snapshot, not once per document */
	if (s->refresh && (!s->refreshed_ms || now - s->refreshed_ms >= STATS_SNAPSHOT_MS)) {
		s->refresh(s->arg);
		s->refreshed_ms = now;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	switch (r) {
	case STATS_METRICS:
		type = "text/plain; version=0.0.4; charset=utf-8";
		err = render_prometheus(s->model, now, f);
		break;
	case STATS_JSON:
		type = "application/json";
		err = render_json(s->model, now, f);
		break;
	case STATS_HTML:
		type = "text/html; charset=utf-8";
		err = render_html(s->model, now, STATS_HTML_REFRESH_S, f);
		break;
	default:
		err = render_csv_opts(s->model, now, csv_flags, f);
		break;
	}
	if (fclose(f) && !err)
		err = -EIO;
	if (err) {
		free(buf);
		return NULL;
	}
	s->renders++;
	return new_response(type, buf, len, 1);
}

/* The document from the snapshot, rendered anew when it is older than STATS_SNAPSHOT_MS. */
static enum MHD_Result respond_render(struct stats_http *s, struct MHD_Connection *conn,
				      enum stats_route r, unsigned csv_flags)
{
	struct snapshot *sn = &s->snap[r == STATS_CSV ? STATS_URI_TOO_LONG + (csv_flags & 3) : r];
	uint64_t now = now_ms();

	if (!sn->resp || now - sn->at_ms >= STATS_SNAPSHOT_MS) {
		struct MHD_Response *resp = render(s, r, csv_flags, now);

		if (!resp)
			return respond_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "rendering failed\n");
		if (sn->resp)
			MHD_destroy_response(sn->resp);
		sn->resp = resp;
		sn->at_ms = now;
	}
	return MHD_queue_response(conn, MHD_HTTP_OK, sn->resp);
}

/* HTTP basic authentication, as HAProxy's "stats auth": every document wants a user of the file. */
static int authorized(struct stats_http *s, struct MHD_Connection *conn)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
	int ok = stats_auth_check(s->auth, user, pass);

	if (pass) {
		OPENSSL_cleanse(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

static enum MHD_Result respond_unauthorized(struct MHD_Connection *conn)
{
	static const char text[] = "401 Unauthorized: this stats page wants a user and password\n";
	struct MHD_Response *resp = new_response("text/plain", (char *)text, strlen(text), 0);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_basic_auth_fail_response(conn, STATS_REALM, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The request's raw URI, path and query, saved before MHD splits it: *req_cls of the request. */
static void *stats_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	return strdup(uri);
}

static void stats_done(void *cls, struct MHD_Connection *conn, void **req_cls,
		       enum MHD_RequestTerminationCode code)
{
	struct sconn *c = sconn_of(conn);

	free(*req_cls);
	*req_cls = NULL;
	if (c) { /* keep-alive: the next request has its own STATS_HEADERS_S */
		c->answering = 0;
		c->since_ms = now_ms();
	}
}

/* Called once the request's headers are in: every answer is queued on that first call, so a
 * request body (POST, PUT) is never read. */
static enum MHD_Result stats_request(void *cls, struct MHD_Connection *conn, const char *url,
				     const char *method, const char *version, const char *upload,
				     size_t *upload_size, void **req_cls)
{
	struct stats_http *s = cls;
	const char *uri = *req_cls ? *req_cls : url;
	unsigned csv_flags;
	enum stats_route r = stats_route(method, uri, &csv_flags);
	struct sconn *c = sconn_of(conn);

	if (c)
		c->answering = 1;
	if (s->auth && !authorized(s, conn))
		return respond_unauthorized(conn);

	switch (r) {
	case STATS_NOT_FOUND:
		return respond_error(conn, MHD_HTTP_NOT_FOUND, "not found: try /stats, /stats;csv, /metrics or /stats.json\n");
	case STATS_BAD_METHOD:
		return respond_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	case STATS_URI_TOO_LONG:
		return respond_error(conn, MHD_HTTP_URI_TOO_LONG, "URI too long\n");
	default:
		return respond_render(s, conn, r, csv_flags);
	}
}

static void stats_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[256];

	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("stats: %s", line);
}

/* ---- loop integration ---- */

/* Let MHD do what is ready, then arm the timer for its next deadline. */
static void stats_run(struct stats_http *s)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(s->mhd);
	if (MHD_get_timeout(s->mhd, &ms) == MHD_YES)
		timer_arm(&s->timer, ms);
	else
		timer_stop(&s->timer);
}

static void stats_on_events(void *arg, uint32_t events)
{
	stats_run(arg);
}

static void stats_on_timer(void *arg)
{
	stats_run(arg);
}

static int listen_socket(uint32_t addr, uint16_t port, uint16_t *bound)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = addr, .sin_port = htons(port) };
	socklen_t slen = sizeof(sin);
	int fd, one = 1, err;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 64) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &slen) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	*bound = ntohs(sin.sin_port);
	return fd;
}

struct stats_http *stats_http_start(struct loop *l, uint32_t addr, uint16_t port, struct model *m,
				    struct stats_auth *auth, void (*refresh)(void *arg), void *arg, char *err,
				    size_t errlen)
{
	struct stats_http *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;
	char ip[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = addr };
	int fd = -1, ret;

	inet_ntop(AF_INET, &a, ip, sizeof(ip));
	if (!s) {
		stats_auth_free(auth);
		snprintf(err, errlen, "stats: %s", strerror(ENOMEM));
		return NULL;
	}
	s->auth = auth; /* before the first request can be read */
	s->loop = l;
	s->model = m;
	s->refresh = refresh;
	s->arg = arg;
	s->epfd = -1;
	s->timer.fd = -1;
	s->sweep.fd = -1;

	fd = listen_socket(addr, port, &s->port);
	if (fd < 0) {
		snprintf(err, errlen, "stats: bind %s:%u: %s", ip, port, strerror(-fd));
		goto fail;
	}
	s->mhd = MHD_start_daemon(MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL, stats_request, s,
				  MHD_OPTION_EXTERNAL_LOGGER, stats_mhd_log, s,
				  MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_CONNECTION_LIMIT, (unsigned)STATS_MAX_CONNS,
				  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)STATS_MAX_PER_IP,
				  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)STATS_CONN_TIMEOUT_S,
				  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)STATS_CONN_MEMORY,
				  MHD_OPTION_URI_LOG_CALLBACK, stats_uri, s,
				  MHD_OPTION_NOTIFY_COMPLETED, stats_done, s,
				  MHD_OPTION_NOTIFY_CONNECTION, stats_notify, s,
				  MHD_OPTION_END);
	if (!s->mhd) {
		snprintf(err, errlen, "stats: cannot start the HTTP server on %s:%u", ip, s->port);
		goto fail;
	}
	fd = -1; /* MHD closes it */
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_EPOLL_FD);
	if (!info || info->epoll_fd < 0) {
		snprintf(err, errlen, "stats: libmicrohttpd has no epoll set");
		goto fail;
	}
	ret = timer_init(&s->timer, l, stats_on_timer, s);
	if (!ret) {
		ret = timer_init(&s->sweep, l, stats_sweep, s);
		if (!ret)
			timer_arm_periodic(&s->sweep, 1000);
	}
	if (ret < 0) {
		snprintf(err, errlen, "stats: timer: %s", strerror(-ret));
		goto fail;
	}
	ret = loop_add(l, info->epoll_fd, EPOLLIN, stats_on_events, s);
	if (ret < 0) {
		snprintf(err, errlen, "stats: watching %s:%u: %s", ip, s->port, strerror(-ret));
		goto fail;
	}
	s->epfd = info->epoll_fd;
	s->hooked = ctl_hooks_add(&stats_hooks, s) == 0;
	stats_run(s);
	return s;

fail:
	if (fd >= 0)
		close(fd);
	stats_http_stop(s);
	return NULL;
}

void stats_http_stop(struct stats_http *s)
{
	if (!s)
		return;
	if (s->epfd >= 0)
		loop_del(s->loop, s->epfd);
	if (s->timer.fd >= 0)
		timer_close(&s->timer);
	if (s->sweep.fd >= 0)
		timer_close(&s->sweep);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	if (s->hooked)
		ctl_hooks_del(&stats_hooks, s);
	snapshot_drop(s);
	stats_auth_free(s->auth);
	free(s);
}

void stats_http_set_auth(struct stats_http *s, struct stats_auth *a)
{
	if (!s) {
		stats_auth_free(a);
		return;
	}
	stats_auth_free(s->auth);
	s->auth = a;
}

uint16_t stats_http_port(const struct stats_http *s)
{
	return s->port;
}

uint64_t stats_http_renders(const struct stats_http *s)
{
	return s->renders;
}

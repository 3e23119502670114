/* Tests of the stats listener: the routing table (pure), then a real listener on 127.0.0.1 inside
 * an event loop run by the test, asked by a client thread with libcurl and raw sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "harness.h"
#include "render.h"
#include "stats.h"
#include "stats_auth.h"

static const char test_config[] =
	"global\n"
	"    interface lo\n"
	"    node-name lb1\n"
	"service pgsql\n"
	"    bind 10.100.1.100:5432\n"
	"    check pgsql inter 2s fall 3 rise 2 timeout 1s\n"
	"    server pgb1 10.100.1.5:6432\n"
	"    server pgb2 10.100.1.5:6433\n"
	"    server pgb3 10.100.1.5:6434 disabled\n";

/* ---- routing, pure ---- */

static void stats_route_table(void)
{
	static const struct {
		const char *method, *uri;
		enum stats_route route;
		unsigned flags;
	} rows[] = {
		{ "GET", "/stats;csv", STATS_CSV, 0 },
		{ "GET", "/stats?stats;csv", STATS_CSV, 0 },
		{ "GET", "/stats;csv;norefresh", STATS_CSV, 0 },
		{ "GET", "/stats?;csv", STATS_CSV, 0 },
		{ "GET", "/stats", STATS_HTML, 0 },
		{ "GET", "/stats/", STATS_HTML, 0 },
		{ "GET", "/stats;norefresh", STATS_HTML, 0 },
		{ "HEAD", "/stats?stats", STATS_HTML, 0 },
		{ "GET", "/stats;csv;up", STATS_CSV, RENDER_CSV_UP },
		{ "GET", "/stats;csv;no-maint", STATS_CSV, RENDER_CSV_NO_MAINT },
		{ "GET", "/stats?stats;up;csv;no-maint", STATS_CSV, RENDER_CSV_UP | RENDER_CSV_NO_MAINT },
		{ "HEAD", "/stats;csv", STATS_CSV, 0 },
		{ "GET", "/metrics", STATS_METRICS, 0 },
		{ "GET", "/metrics?scope=server", STATS_METRICS, 0 },
		{ "GET", "/stats.json", STATS_JSON, 0 },
		{ "GET", "/stats;json", STATS_JSON, 0 },
		{ "GET", "/", STATS_NOT_FOUND, 0 },
		{ "GET", "/metricsx", STATS_NOT_FOUND, 0 },
		{ "GET", "/stat", STATS_NOT_FOUND, 0 },
		{ "GET", "/haproxy?stats;csv", STATS_NOT_FOUND, 0 },
		{ "GET", "", STATS_NOT_FOUND, 0 },
		{ "POST", "/stats;csv", STATS_BAD_METHOD, 0 },
		{ "PUT", "/metrics", STATS_BAD_METHOD, 0 },
		{ "DELETE", "/stats.json", STATS_BAD_METHOD, 0 },
		{ "POST", "/nowhere", STATS_NOT_FOUND, 0 },
	};
	static char longuri[4096];
	unsigned i, flags;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum stats_route r = stats_route(rows[i].method, rows[i].uri, &flags);

		CHECK(r == rows[i].route, "%s %s: route %d, expected %d", rows[i].method, rows[i].uri, r,
		      rows[i].route);
		CHECK(flags == rows[i].flags, "%s %s: flags %u, expected %u", rows[i].method, rows[i].uri, flags,
		      rows[i].flags);
	}
	memcpy(longuri, "/stats;csv", 10);
	memset(longuri + 10, 'x', sizeof(longuri) - 11);
	CHECK_EQ(stats_route("GET", longuri, &flags), STATS_URI_TOO_LONG);
}

/* ---- a listener in a loop, and a client thread ---- */

struct reply {
	long code;
	char ctype[128];
	char headers[2048];
	char *body;
	size_t len;
	int curl_err;
	uint64_t ms;           /* how long the answer took */
};

/* One request the client makes: through libcurl (method + uri [+ body]) or raw bytes. */
struct request {
	const char *name;
	const char *method;    /* NULL: raw */
	const char *uri;
	const char *body;
	const char *raw;
	long expect;           /* status code; -1: closed without an answer */
	const char *ctype;     /* expected Content-Type, NULL = don't care */
	const char *contains;  /* in the body */
	const char *header;    /* in the response headers */
};

static char long_uri[40000];
static char over_uri[3000];

static struct request reqs[] = {
	{ "csv", "GET", "/stats;csv", NULL, NULL, 200, "text/plain", "# pxname,svname,", NULL },
	{ "csv query", "GET", "/stats?stats;csv", NULL, NULL, 200, "text/plain", "\npgsql,pgb1,", NULL },
	{ "csv norefresh", "GET", "/stats;csv;norefresh", NULL, NULL, 200, "text/plain", "\npgsql,BACKEND,", NULL },
	{ "csv up", "GET", "/stats;csv;up", NULL, NULL, 200, "text/plain", "\npgsql,pgb2,", NULL },
	{ "metrics", "GET", "/metrics", NULL, NULL, 200, "text/plain; version=0.0.4; charset=utf-8",
	  "haproxy_server_status{proxy=\"pgsql\",server=\"pgb1\",state=\"UP\"} 1\n", NULL },
	{ "json", "GET", "/stats.json", NULL, NULL, 200, "application/json", "\"node\": \"lb1\"", NULL },
	{ "html", "GET", "/stats", NULL, NULL, 200, "text/html; charset=utf-8", "data-server=\"pgb1\"", NULL },
	{ "head", "HEAD", "/stats;csv", NULL, NULL, 200, "text/plain", NULL, NULL },
	{ "post", "POST", "/stats;csv", "action=disable&s=pgb1", NULL, 405, NULL, NULL, "Allow: GET, HEAD" },
	{ "put", "PUT", "/metrics", "x", NULL, 405, NULL, NULL, NULL },
	{ "delete", "DELETE", "/stats.json", NULL, NULL, 405, NULL, NULL, NULL },
	{ "unknown path", "GET", "/nope", NULL, NULL, 404, NULL, NULL, NULL },
	{ "root", "GET", "/", NULL, NULL, 404, NULL, NULL, NULL },
	{ "long uri", "GET", over_uri, NULL, NULL, 414, NULL, NULL, NULL },
	{ "huge uri", "GET", long_uri, NULL, NULL, 414, NULL, NULL, NULL },
	/* MHD closes a connection whose request line has no URI without answering (-1). */
	{ "garbage", NULL, NULL, NULL, "GARBAGE\r\n\r\n", -1, NULL, NULL, NULL },
	{ "binary", NULL, NULL, NULL, "\x16\x03\x01\x02\x05\x01\x01\x01\xfc\x03\x03\r\n\r\n", -1, NULL, NULL, NULL },
	{ "no version", NULL, NULL, NULL, "GET /stats;csv\r\n\r\n", 400, NULL, NULL, NULL },
	{ "bad header", NULL, NULL, NULL, "GET /stats;csv HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400, NULL, NULL, NULL },
	{ "bad length", NULL, NULL, NULL, "GET /stats;csv HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", 400,
	  NULL, NULL, NULL },
	{ "bad version", NULL, NULL, NULL, "GET /stats;csv HTTP/9.9\r\nHost: x\r\n\r\n", 505, NULL, NULL, NULL },
	/* What "printf 'GET /stats;csv HTTP/1.0\n\n' | nc" monitors send. */
	{ "nc monitor", NULL, NULL, NULL, "GET /stats;csv HTTP/1.0\n\n", 200, NULL, "\npgsql,pgb1,", NULL },
	{ "after the bad ones", "GET", "/stats;csv", NULL, NULL, 200, "text/plain", "\npgsql,pgb3,", NULL },
};
#define NREQS (sizeof(reqs) / sizeof(reqs[0]))
static struct reply replies[NREQS];

static struct {
	uint16_t port;
	int done_pipe[2];
	int slow_still_open;   /* the idle half-request connection was not closed during the run */
	int refreshes;         /* refresh callbacks, counted on the loop's thread */
	int ticks;             /* a 10 ms timer of the loop: it kept running */
	int ticks_at_done;
	int timed_out;
	struct loop *loop;
} ctx;

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char *b = realloc(r->body, r->len + size * n + 1);

	if (!b)
		return 0;
	memcpy(b + r->len, p, size * n);
	r->body = b;
	r->len += size * n;
	b[r->len] = '\0';
	return size * n;
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	size_t used = strlen(r->headers), k = size * n;

	if (used + k < sizeof(r->headers)) {
		memcpy(r->headers + used, p, k);
		r->headers[used + k] = '\0';
	}
	return k;
}

static void do_curl(const struct request *q, struct reply *r)
{
	char url[64 + sizeof(long_uri)];
	CURL *c = curl_easy_init();
	char *ct = NULL;

	if (!c) {
		r->curl_err = -1;
		return;
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", ctx.port, q->uri);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(q->method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (strcmp(q->method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
	if (q->body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
	r->curl_err = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
		snprintf(r->ctype, sizeof(r->ctype), "%s", ct);
	curl_easy_cleanup(c);
}

static int connect_local(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(ctx.port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { .tv_sec = 3 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send raw bytes, read the answer until the server closes (or 3 s): the status code of its first line. */
static void do_raw(const struct request *q, struct reply *r)
{
	char buf[8192], *p;
	size_t len = 0;
	ssize_t n;
	int fd = connect_local(), i;

	if (fd < 0) {
		r->curl_err = -1;
		return;
	}
	if (send(fd, q->raw, strlen(q->raw), MSG_NOSIGNAL) < 0)
		r->curl_err = -1;
	for (i = 0; i < 100 && len < sizeof(buf) - 1; i++) {
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	if (sscanf(buf, "HTTP/1.%*d %ld", &r->code) != 1)
		r->code = -1;
	p = strstr(buf, "\r\n\r\n");
	r->body = strdup(p ? p + 4 : "");
}

static void *client(void *arg)
{
	char probe;
	unsigned i;
	int slow = connect_local();
	ssize_t n;

	/* A client that sends half a request and then sits there must not hold the others up. */
	if (slow >= 0)
		send(slow, "GET /stats;csv HTTP/1.1\r\nHost: x\r\n", 34, MSG_NOSIGNAL);
	for (i = 0; i < NREQS; i++) {
		uint64_t t0 = now_ms();

		if (reqs[i].method)
			do_curl(&reqs[i], &replies[i]);
		else
			do_raw(&reqs[i], &replies[i]);
		replies[i].ms = now_ms() - t0;
	}
	/* Give the loop's 10 ms timer time to show it is not stuck behind the idle client. */
	usleep(100000);
	if (slow >= 0) {
		n = recv(slow, &probe, 1, MSG_DONTWAIT);
		ctx.slow_still_open = n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
		close(slow);
	}
	if (write(ctx.done_pipe[1], "x", 1) != 1)
		perror("write");
	return NULL;
}

static void on_done(void *arg, uint32_t events)
{
	ctx.ticks_at_done = ctx.ticks;
	loop_stop(ctx.loop);
}

static void on_tick(void *arg)
{
	ctx.ticks++;
}

static void on_guard(void *arg)
{
	ctx.timed_out = 1;
	loop_stop(ctx.loop);
}

static void on_refresh(void *arg)
{
	(*(int *)arg)++;
}

static struct config cfg;
static struct model model;
static int served; /* the http cases ran */

static void http_serves_in_the_loop(void)
{
	struct timer tick = { .fd = -1 }, guard = { .fd = -1 };
	struct stats_http *s = NULL;
	pthread_t th;
	char err[256];
	int started = 0;

	ctx.loop = loop_new();
	CHECK(ctx.loop != NULL, "loop_new");
	if (!ctx.loop)
		return;
	CHECK(pipe(ctx.done_pipe) == 0, "pipe");
	s = stats_http_start(ctx.loop, htonl(INADDR_LOOPBACK), 0, &model, NULL, on_refresh, &ctx.refreshes, err,
			     sizeof(err));
	CHECK(s != NULL, "stats_http_start: %s", err);
	if (!s)
		goto out;
	ctx.port = stats_http_port(s);
	CHECK(ctx.port != 0, "no port");
	CHECK_EQ(loop_add(ctx.loop, ctx.done_pipe[0], EPOLLIN, on_done, NULL), 0);
	CHECK_EQ(timer_init(&tick, ctx.loop, on_tick, NULL), 0);
	CHECK_EQ(timer_init(&guard, ctx.loop, on_guard, NULL), 0);
	timer_arm_periodic(&tick, 10);
	timer_arm(&guard, 60000);
	CHECK(pthread_create(&th, NULL, client, NULL) == 0, "pthread_create");
	started = 1;
	CHECK_EQ(loop_run(ctx.loop), 0);
	pthread_join(th, NULL);
	served = 1;
	CHECK(!ctx.timed_out, "the client did not finish within 60 s");
out:
	if (started || s) {
		timer_close(&tick);
		timer_close(&guard);
	}
	stats_http_stop(s);
	loop_free(ctx.loop);
	close(ctx.done_pipe[0]);
	close(ctx.done_pipe[1]);
}

static void http_answers_every_request(void)
{
	unsigned i;

	CHECK(served, "the listener did not run");
	for (i = 0; i < NREQS; i++) {
		const struct request *q = &reqs[i];
		const struct reply *r = &replies[i];

		CHECK(r->curl_err == 0, "%s: client error %d", q->name, r->curl_err);
		CHECK(r->code == q->expect, "%s: status %ld, expected %ld", q->name, r->code, q->expect);
		/* Not held up by the idle half-request: that would last until its 10 s connection timeout;
		 * anything under half of it is a busy machine, not a stuck listener. */
		CHECK(r->ms < 5000, "%s: answered in %llu ms", q->name, (unsigned long long)r->ms);
		if (q->ctype)
			CHECK(!strcmp(r->ctype, q->ctype), "%s: Content-Type \"%s\", expected \"%s\"", q->name,
			      r->ctype, q->ctype);
		if (q->contains)
			CHECK(r->body && strstr(r->body, q->contains), "%s: body lacks \"%s\"", q->name,
			      q->contains);
		if (q->header)
			CHECK(strstr(r->headers, q->header), "%s: headers lack \"%s\": %s", q->name, q->header,
			      r->headers);
	}
}

static const struct reply *reply(const char *name)
{
	unsigned i;

	for (i = 0; i < NREQS; i++)
		if (!strcmp(reqs[i].name, name))
			return &replies[i];
	return NULL;
}

static void http_documents_are_whole(void)
{
	const struct reply *csv = reply("csv"), *up = reply("csv up"), *head = reply("head"), *json = reply("json");
	json_object *o;

	CHECK(csv->body && csv->len > 2 && !strcmp(csv->body + csv->len - 2, "\n\n"),
	      "CSV does not end with an empty line");
	CHECK(up->body && !strstr(up->body, "\npgsql,pgb3,"), "MAINT server listed with ;up");
	CHECK(head->len == 0, "HEAD returned %zu body bytes", head->len);
	o = json->body ? json_tokener_parse(json->body) : NULL;
	CHECK(o != NULL, "JSON does not parse");
	json_object_put(o);
}

/* Renders refresh the model first; errors and refusals do not; the loop ran all along. */
static void http_loop_keeps_running(void)
{
	int renders = 0;
	unsigned i;

	for (i = 0; i < NREQS; i++)
		if (replies[i].code == 200)
			renders++;
	/* one refresh per snapshot (1 s): every document of this run may share one */
	CHECK(ctx.refreshes >= 1 && ctx.refreshes <= renders, "%d refreshes for %d documents", ctx.refreshes, renders);
	CHECK(ctx.ticks_at_done >= 2, "the loop's timer fired %d times in 100 ms", ctx.ticks_at_done);
	CHECK(ctx.slow_still_open, "the idle half-request connection was dropped or answered");
}

/* A restarted daemon binds again at once, though connections it closed linger in TIME_WAIT. */
static void http_restarts_on_the_same_port(void)
{
	struct loop *l = loop_new();
	struct stats_http *s;
	char err[256] = "";

	CHECK(served && ctx.port, "the listener did not run");
	if (!l || !ctx.port) {
		loop_free(l);
		return;
	}
	s = stats_http_start(l, htonl(INADDR_LOOPBACK), ctx.port, &model, NULL, NULL, NULL, err, sizeof(err));
	CHECK(s != NULL, "restart on port %u: %s", ctx.port, err);
	stats_http_stop(s);
	loop_free(l);
}

/* A port in use is reported with the address and the reason; nothing is left behind. */
static void http_bind_error_names_the_address(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t slen = sizeof(sin);
	struct loop *l = loop_new();
	struct stats_http *s;
	char err[256] = "", want[64];
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(l && fd >= 0, "setup");
	if (!l || fd < 0)
		goto out;
	CHECK(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 && listen(fd, 1) == 0 &&
	      getsockname(fd, (struct sockaddr *)&sin, &slen) == 0, "listen: %s", strerror(errno));
	s = stats_http_start(l, htonl(INADDR_LOOPBACK), ntohs(sin.sin_port), &model, NULL, NULL, NULL, err, sizeof(err));
	CHECK(s == NULL, "started on a port in use");
	stats_http_stop(s);
	snprintf(want, sizeof(want), "127.0.0.1:%u", ntohs(sin.sin_port));
	CHECK(strstr(err, want) != NULL, "error does not name %s: %s", want, err);
	CHECK(strstr(err, strerror(EADDRINUSE)) != NULL, "error does not say why: %s", err);
out:
	if (fd >= 0)
		close(fd);
	loop_free(l);
}


/* ---- basic authentication: a client thread asks with no, wrong and right credentials ---- */

static struct {
	struct loop *loop;
	uint16_t port;
	int pipe[2];
	struct {
		const char *userpwd; /* NULL: no Authorization header */
		long expect;
		long code;
		char headers[2048];
	} q[6];
	int n;
} au;

static size_t au_header(char *p, size_t size, size_t n, void *arg)
{
	char *h = arg;
	size_t used = strlen(h), k = size * n;

	if (used + k < 2048) {
		memcpy(h + used, p, k);
		h[used + k] = '\0';
	}
	return k;
}

static size_t au_discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

static void *au_client(void *arg)
{
	char url[64];
	int i;

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/stats;csv", au.port);
	for (i = 0; i < au.n; i++) {
		CURL *c = curl_easy_init();

		if (!c)
			continue;
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, au_discard);
		curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, au_header);
		curl_easy_setopt(c, CURLOPT_HEADERDATA, au.q[i].headers);
		if (au.q[i].userpwd) {
			curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
			curl_easy_setopt(c, CURLOPT_USERPWD, au.q[i].userpwd);
		}
		if (curl_easy_perform(c) == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &au.q[i].code);
		curl_easy_cleanup(c);
	}
	if (write(au.pipe[1], "x", 1) != 1)
		perror("write");
	return NULL;
}

static void au_done(void *arg, uint32_t events)
{
	loop_stop(au.loop);
}

static void au_guard(void *arg)
{
	loop_stop(au.loop);
}

/* Run the requests in au.q against s; 0 when the client finished within 60 s. */
static int au_run(struct stats_http *s)
{
	struct timer guard = { .fd = -1 };
	pthread_t th;
	char b;

	au.port = stats_http_port(s);
	if (timer_init(&guard, au.loop, au_guard, NULL) || pthread_create(&th, NULL, au_client, NULL))
		return -1;
	timer_arm(&guard, 60000);
	loop_run(au.loop);
	timer_close(&guard);
	pthread_join(th, NULL);
	return read(au.pipe[0], &b, 1) == 1 ? 0 : -1;
}

static void http_basic_auth(void)
{
	static const struct {
		const char *userpwd;
		long expect;
	} asks[] = {
		{ NULL, 401 },                  /* no credentials */
		{ "admin:wrong", 401 },          /* a wrong password */
		{ "nobody:s3cret", 401 },        /* someone else's password */
		{ "admin:s3cret", 200 },
		{ "ops:pa:ss word", 200 },      /* the password is the rest of the line */
		{ "admin:s3cret ", 401 },       /* not a prefix match */
	};
	char err[256];
	struct stats_auth *a = stats_auth_parse("# users\nadmin:s3cret\n  ops:pa:ss word  \n", "users", err, sizeof(err));
	struct stats_http *s = NULL;
	int i;

	CHECK(a != NULL, "users: %s", err);
	au.loop = loop_new();
	CHECK(au.loop && pipe(au.pipe) == 0, "setup");
	if (!a || !au.loop)
		goto out;
	CHECK(loop_add(au.loop, au.pipe[0], EPOLLIN, au_done, NULL) == 0, "loop_add");
	s = stats_http_start(au.loop, htonl(INADDR_LOOPBACK), 0, &model, a, NULL, NULL, err, sizeof(err));
	CHECK(s != NULL, "stats_http_start: %s", err);
	if (!s)
		goto out;
	au.n = sizeof(asks) / sizeof(asks[0]);
	for (i = 0; i < au.n; i++) {
		au.q[i].userpwd = asks[i].userpwd;
		au.q[i].expect = asks[i].expect;
	}
	CHECK(au_run(s) == 0, "the client did not finish");
	for (i = 0; i < au.n; i++)
		CHECK(au.q[i].code == au.q[i].expect, "%s: status %ld, expected %ld",
		      au.q[i].userpwd ? au.q[i].userpwd : "no credentials", au.q[i].code, au.q[i].expect);
	CHECK(strstr(au.q[0].headers, "WWW-Authenticate: Basic realm=\"pgsteer statistics\""),
	      "no basic challenge in the 401: %s", au.q[0].headers);
	/* The users taken away (a reload without auth-file): everyone is served again. */
	stats_http_set_auth(s, NULL);
	memset(au.q, 0, sizeof(au.q));
	au.n = 1;
	au.q[0].expect = 200;
	CHECK(au_run(s) == 0, "the client did not finish");
	CHECK(au.q[0].code == 200, "without users: status %ld, expected 200", au.q[0].code);
out:
	stats_http_stop(s);
	if (au.loop) {
		loop_free(au.loop);
		close(au.pipe[0]);
		close(au.pipe[1]);
	}
}

/* ---- a scrape storm: 64 slowloris connections (from 127.0.0.1) and 32 clients fetching /metrics
 * in a loop (from 127.0.0.3), for STORM_S seconds, against 16 services x 32 servers. The loop keeps
 * its 10 ms timer running (the largest gap is printed, not judged), a document is rendered at most
 * once per second however many ask, the slow connections are limited per address and cut after
 * 5 s, and a polite client from a third address (127.0.0.2) gets every document meanwhile. ---- */

#define STORM_S 7 /* longer than the listener's 5 s deadline for a whole request */
#define STORM_SLOW 64
#define STORM_FETCHERS 32

static struct {
	struct loop *loop;
	uint16_t port;
	volatile int stop;
	int done_pipe[2];
	uint64_t last_tick, max_gap, ticks;
	int fetch_ok, fetch_other;   /* storm fetches answered 200, or refused/failed (limits) */
	int polite_ok, polite_tries;
	int slow_in, slow_cut, slow_open;  /* slow connections accepted, cut by the deadline, left */
	pthread_mutex_t lock;
} storm;

static int connect_from(const char *src)
{
	struct sockaddr_in me = { .sin_family = AF_INET }, to = { .sin_family = AF_INET, .sin_port = htons(storm.port),
								.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	/* Prometheus's default scrape timeout: a client waits that long for an answer (a loaded machine
	 * or a sanitized build answers in seconds; a refused or cut connection still fails at once). */
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	inet_pton(AF_INET, src, &me.sin_addr);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (bind(fd, (struct sockaddr *)&me, sizeof(me)) < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* GET uri from src with HTTP/1.0: the status code, or -1. */
static long get_from(const char *src, const char *uri)
{
	char req[256], buf[4096];
	ssize_t n;
	long code = -1;
	int fd = connect_from(src);

	if (fd < 0)
		return -1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", uri);
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) == (ssize_t)strlen(req)) {
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			if (sscanf(buf, "HTTP/1.%*d %ld", &code) != 1)
				code = -1;
		}
		while (recv(fd, buf, sizeof(buf), 0) > 0)
			; /* the whole document */
	}
	close(fd);
	return code;
}

/* The server closed fd: it reads end of file or an error (nothing is ever sent to these). */
static int closed_by_peer(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

static void *storm_slowloris(void *arg)
{
	int fds[STORM_SLOW], i, k;
	uint64_t t0 = now_ms();

	for (i = 0; i < STORM_SLOW; i++)
		fds[i] = connect_from("127.0.0.1");
	/* a header line a byte at a time, every 100 ms: never a whole request */
	for (k = 0; !storm.stop; k++) {
		for (i = 0; i < STORM_SLOW; i++) {
			if (fds[i] < 0)
				continue;
			if (closed_by_peer(fds[i]) ||
			    send(fds[i], k ? "a" : "GET /metrics HTTP/1.1\r\nX-a: ", k ? 1 : 29, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* refused at once (over the per-address limit), or cut later by the deadline */
				if (now_ms() - t0 > 3000)
					storm.slow_cut++;
				close(fds[i]);
				fds[i] = -1;
			} else if (k == 20) {
				storm.slow_in++; /* still open after 2 s */
			}
		}
		usleep(100000);
	}
	for (i = 0; i < STORM_SLOW; i++)
		if (fds[i] >= 0) {
			storm.slow_open++;
			close(fds[i]);
		}
	return NULL;
}

static void *storm_fetcher(void *arg)
{
	while (!storm.stop) {
		long code = get_from("127.0.0.3", "/metrics");

		pthread_mutex_lock(&storm.lock);
		if (code == 200)
			storm.fetch_ok++;
		else
			storm.fetch_other++;
		pthread_mutex_unlock(&storm.lock);
		if (code != 200)
			usleep(10000);
	}
	return NULL;
}

static void *storm_driver(void *arg)
{
	static const char *uris[] = { "/metrics", "/stats;csv", "/stats.json", "/stats" };
	pthread_t th[STORM_FETCHERS + 1];
	int i, n = 0;

	pthread_create(&th[n++], NULL, storm_slowloris, NULL);
	usleep(300000); /* the slow connections are in */
	for (i = 0; i < STORM_FETCHERS; i++)
		if (pthread_create(&th[n], NULL, storm_fetcher, NULL) == 0)
			n++;
	for (i = 0; i < STORM_S * 4; i++) {
		usleep(250000);
		storm.polite_tries++;
		if (get_from("127.0.0.2", uris[i % 4]) == 200)
			storm.polite_ok++;
	}
	storm.stop = 1;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	if (write(storm.done_pipe[1], "x", 1) != 1)
		perror("write");
	return NULL;
}

static void storm_tick(void *arg)
{
	uint64_t now = now_ms();

	if (storm.last_tick && now - storm.last_tick > storm.max_gap)
		storm.max_gap = now - storm.last_tick;
	storm.last_tick = now;
	storm.ticks++;
}

static void storm_guard(void *arg)
{
	loop_stop(storm.loop);
}

static void storm_done(void *arg, uint32_t events)
{
	storm_guard(arg);
}

static void http_scrape_storm(void)
{
	static struct config big;
	static struct model bm;
	struct timer tick = { .fd = -1 }, guard = { .fd = -1 };
	struct stats_http *s;
	char *text = NULL, err[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	uint64_t t0, renders, secs;
	pthread_t th;
	int i, j;

	fprintf(f, "global\n    interface lo\n    node-name lb1\n");
	for (i = 0; i < 16; i++) {
		fprintf(f, "service s%d\n    bind 10.100.1.100:%d\n    check tcp inter 2s\n", i, 5432 + i);
		for (j = 0; j < 32; j++)
			fprintf(f, "    server p%d 10.100.%d.%d:6432\n", j, 2 + i, 1 + j);
	}
	fclose(f);
	CHECK(config_parse(text, "storm.conf", &big, err, sizeof(err)) == 0, "config: %s", err);
	free(text);
	model_init(&bm, &big, now_ms(), NULL);
	memset(&storm, 0, sizeof(storm));
	pthread_mutex_init(&storm.lock, NULL);
	storm.loop = loop_new();
	CHECK(storm.loop && pipe(storm.done_pipe) == 0, "setup");
	s = stats_http_start(storm.loop, htonl(INADDR_LOOPBACK), 0, &bm, NULL, NULL, NULL, err, sizeof(err));
	CHECK(s != NULL, "stats_http_start: %s", err);
	if (!s || !storm.loop)
		return;
	storm.port = stats_http_port(s);
	loop_add(storm.loop, storm.done_pipe[0], EPOLLIN, storm_done, NULL);
	timer_init(&tick, storm.loop, storm_tick, NULL);
	timer_init(&guard, storm.loop, storm_guard, NULL);
	timer_arm_periodic(&tick, 10);
	timer_arm(&guard, 120000); /* only ends a hung test */
	t0 = now_ms();
	pthread_create(&th, NULL, storm_driver, NULL);
	loop_run(storm.loop);
	storm.stop = 1;
	pthread_join(th, NULL);
	secs = (now_ms() - t0 + 999) / 1000;
	renders = stats_http_renders(s);
	/* /metrics by the storm, four documents by the polite client: one rendering each per second */
	CHECK(renders <= 4 * (secs + 1), "%llu renderings in %llu s", (unsigned long long)renders,
	      (unsigned long long)secs);
	CHECK(storm.fetch_ok > 0, "no storm fetch answered (%d failed)", storm.fetch_other);
	CHECK(storm.polite_ok == storm.polite_tries, "the polite client got %d of %d documents",
	      storm.polite_ok, storm.polite_tries);
	CHECK(storm.ticks > 0, "the loop's timer never fired");
	/* 16 held (the per-address limit), the rest refused; the held ones cut after 5 s */
	CHECK(storm.slow_in > 0 && storm.slow_in <= 16, "%d slow connections held", storm.slow_in);
	CHECK(storm.slow_cut == storm.slow_in && storm.slow_open == 0,
	      "%d slow connections held, %d cut by the deadline, %d still open", storm.slow_in, storm.slow_cut,
	      storm.slow_open);
	printf("    storm: %d slow connections held and cut, %d fetches answered, %d refused or failed, "
	       "%llu renderings in %llu s, "
	       "polite %d/%d, loop timer (10 ms) largest gap %llu ms\n",
	       storm.slow_cut, storm.fetch_ok, storm.fetch_other, (unsigned long long)renders, (unsigned long long)secs,
	       storm.polite_ok, storm.polite_tries, (unsigned long long)storm.max_gap);
	timer_close(&tick);
	timer_close(&guard);
	stats_http_stop(s);
	loop_free(storm.loop);
	close(storm.done_pipe[0]);
	close(storm.done_pipe[1]);
}

int main(void)
{
	char err[256];
	unsigned i;

	if (config_parse(test_config, "test", &cfg, err, sizeof(err))) {
		printf("config: %s\n", err);
		return 1;
	}
	model_init(&model, &cfg, now_ms(), NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memcpy(long_uri, "/stats;csv;", 11);
	memset(long_uri + 11, 'a', sizeof(long_uri) - 12);
	memcpy(over_uri, "/stats;csv;", 11);
	memset(over_uri + 11, 'b', sizeof(over_uri) - 12);

	RUN(stats_route_table);
	RUN(http_serves_in_the_loop);
	RUN(http_answers_every_request);
	RUN(http_documents_are_whole);
	RUN(http_loop_keeps_running);
	RUN(http_restarts_on_the_same_port);
	RUN(http_bind_error_names_the_address);
	RUN(http_basic_auth);
	RUN(http_scrape_storm);

	for (i = 0; i < NREQS; i++)
		free(replies[i].body);
	curl_global_cleanup();
	return h_exit();
}

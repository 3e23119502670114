/* The webhook's answer as the alerter takes it (http.c's header and body callbacks, post_done in
 * alert.c, alert_retry_after): a real alerter posts its alerts through the loop's HTTP client to a
 * listener on 127.0.0.1 that answers with the input's bytes, whatever they are (status line,
 * headers, Retry-After, body), then closes. One alert, or two (usually in one message) when the
 * input's length is odd. Whatever the answer, the attempt ends once and is counted once, and every
 * alert is either sent (a 2xx), dropped and counted (a 4xx refusing a message of one alert), or
 * still queued for a retry: none is lost. The input also goes to alert_retry_after as a header value. */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "log.h"
#include "loop.h"
#include "alert.h"
#include "http.h"

static struct loop *loop;
static struct http *http;
static struct timer watch;
static int lfd = -1, cfd = -1;
static struct alerter *cur;
static const uint8_t *reply;
static size_t reply_len;
static char req[65536];
static size_t req_len;
static unsigned posted; /* alerts in the message answered (one attachment each) */

/* The request is whole: headers and Content-Length bytes of body. */
static int request_complete(void)
{
	const char *end, *cl;

	req[req_len] = '\0';
	end = strstr(req, "\r\n\r\n");
	if (!end)
		return 0;
	cl = strcasestr(req, "\r\nContent-Length:");
	return !cl || cl > end || req_len >= (size_t)(end + 4 - req) + strtoul(cl + 17, NULL, 10);
}

static void conn_close(void)
{
	if (cfd >= 0) {
		loop_del(loop, cfd);
		close(cfd);
		cfd = -1;
	}
}

/* Read the request; once whole, answer with the input and close our side. */
static void conn_read(void *arg, uint32_t events)
{
	ssize_t n = recv(cfd, req + req_len, sizeof(req) - 1 - req_len, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close();
		return;
	}
	if (req_len + n > sizeof(req) - 1 - 1) {
		conn_close(); /* the alerter never posts this much */
		return;
	}
	req_len += n;
	if (reply && request_complete()) {
		const char *p;

		for (p = strstr(req, "\"color\":"); p; p = strstr(p + 1, "\"color\":"))
			posted++;
		/* blocking: a few KiB into an empty loopback socket buffer */
		if (reply_len)
			assert(send(cfd, reply, reply_len, MSG_NOSIGNAL) == (ssize_t)reply_len);
		reply = NULL;
		shutdown(cfd, SHUT_WR);
	}
}

static void on_accept(void *arg, uint32_t events)
{
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	conn_close(); /* one request at a time: a connection libcurl kept is dead by now */
	cfd = fd;
	req_len = 0;
	assert(loop_add(loop, cfd, EPOLLIN, conn_read, NULL) == 0);
}

/* The attempt ended: its outcome is counted. */
static void on_watch(void *arg)
{
	struct alert_counters c;

	alerter_counters(cur, &c);
	if (c.sent + c.failed)
		loop_stop(loop);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	char err[256], url[128];

	log_init(0);
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	http = loop ? http_new(loop, err, sizeof(err)) : NULL;
	if (!http) {
		fprintf(stderr, "fuzz_webhook_reply: %s\n", loop ? err : "loop_new failed");
		abort();
	}
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16) ||
	    getsockname(lfd, (struct sockaddr *)&sa, &len) || loop_add(loop, lfd, EPOLLIN, on_accept, NULL) ||
	    timer_init(&watch, loop, on_watch, NULL)) {
		perror("fuzz_webhook_reply: listener");
		abort();
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T000/B000/SECRET", ntohs(sa.sin_port));
	setenv("PGS_FUZZ_WEBHOOK", url, 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* both alerts in one message; no retry within one input */
	struct alert_tuning t = {
		.group_wait_ms = 1, .pace_ms = 0, .backoff_min_ms = 600000, .backoff_max_ms = 600000,
		.retry_after_max_ms = 600000, .max_age_ms = 3600000, .timeout_ms = 5000,
		.connect_timeout_ms = 1000, .batch = 20,
	};
	struct alert_params p = { .node = "fuzz", .webhook_env = "PGS_FUZZ_WEBHOOK", .http = http };
	uint64_t n = 1 + (size & 1), secs;
	struct alert_counters c;
	char err[256], *s = fuzz_str(data, size);
	int r;

	r = alert_retry_after(s, wall_ms() / 1000, &secs);
	assert(r == 0 || r == -EINVAL);
	free(s);

	cur = alerter_open(loop, &p, err, sizeof(err));
	if (!cur) {
		fprintf(stderr, "fuzz_webhook_reply: alerter_open: %s\n", err);
		abort();
	}
	alerter_tune(cur, &t);
	reply = data;
	reply_len = size;
	posted = 0;
	alert_class(cur, "pgsql", "pgb1", CLASS_DOWN, "L4CON", "Connection refused");
	if (n == 2)
		alert_class(cur, "pgsql", "pgb2", CLASS_DOWN, "L7STS", "FATAL: ошибка");
	timer_arm_periodic(&watch, 1);
	assert(loop_run(loop) == 0);
	timer_stop(&watch);

	alerter_counters(cur, &c);
	/* one attempt, answered and counted once; every alert accounted for */
	assert(posted >= 1 && posted <= n);
	if (c.sent) /* counted in alerts */
		assert(c.sent == posted && c.failed == 0);
	else /* counted in attempts */
		assert(c.failed == 1);
	assert(c.sent + c.dropped + c.queued == n);
	/* only a single alert is dropped: a refused batch is retried one by one */
	assert(c.dropped == 0 || (c.dropped == 1 && posted == 1));
	alerter_free(cur);
	cur = NULL;
	conn_close();
	return 0;
}

/* An HTTP client on the event loop: libcurl's multi interface with its sockets and timer in our
 * epoll set, one completion callback per request. Nothing here blocks. The alerter (webhook POSTs)
 * and the monitor (stats GETs) sit on top of it. */
#ifndef PGS_HTTP_H
#define PGS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "loop.h"

struct http;
struct http_req;

/* One request. body non-NULL makes it a POST (copied); content_type goes with it. */
struct http_opts {
	const char *url;
	const char *body;
	const char *content_type;
	uint32_t timeout_ms;         /* the whole request */
	uint32_t connect_timeout_ms; /* 0: timeout_ms */
	size_t max_body;             /* of the answer kept; the rest is read and discarded */
	int accept_encoding;         /* offer every encoding libcurl decodes */
};

/* How a request ended. transport_err is NULL when an HTTP answer came (any status), else says why
 * (libcurl's words) and status is 0. body is NUL-terminated, at most max_body bytes. */
struct http_result {
	long status;
	const char *transport_err;
	const char *body;
	size_t len;
	const char *retry_after;     /* the Retry-After header, "" when absent */
};

/* ok: an answer with a 2xx status. */
static inline int http_ok(const struct http_result *r)
{
	return !r->transport_err && r->status >= 200 && r->status < 300;
}

typedef void (*http_done_cb)(void *arg, const struct http_result *res);

struct http *http_new(struct loop *l, char *err, size_t errlen);
/* Requests still in flight are abandoned: their callbacks do not run. */
void http_free(struct http *h);

/* Start a request; done runs in the loop when it ends, never from inside http_start. *reqp (may be
 * NULL) names it for http_cancel until done has run. 0 or -errno. */
int http_start(struct http *h, const struct http_opts *o, http_done_cb done, void *arg, struct http_req **reqp);
/* Abandon a request: its callback does not run. */
void http_cancel(struct http_req *r);
/* Requests in flight. */
int http_pending(const struct http *h);

#endif

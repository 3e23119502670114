/* libcurl's multi interface driven by the event loop: every socket libcurl wants watched is in our
 * epoll set, its timeout is a timerfd, finished transfers end in their owner's callback. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "http.h"

struct http_req {
	struct http *h;
	CURL *easy;
	struct curl_slist *hdrs;
	char *body;               /* the POST body (our copy) */
	char *resp;               /* the answer, up to resp_max */
	size_t resp_len, resp_cap, resp_max;
	char retry_after[64];
	http_done_cb done;
	void *arg;
	struct http_req *next;
};

/* A socket libcurl asked us to watch. */
struct csock {
	struct http *h;
	int fd;
	struct csock *next;
};

struct http {
	struct loop *loop;
	CURLM *multi;
	struct timer timer;       /* libcurl's own timeouts */
	struct http_req *reqs;    /* in flight */
	struct csock *socks;
};

static void req_free(struct http_req *r)
{
	struct http_req **pp;

	for (pp = &r->h->reqs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	if (r->easy) {
		curl_multi_remove_handle(r->h->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r->resp);
	free(r);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct http_req *r = userdata;
	size_t n = size * nmemb, room = r->resp_max - r->resp_len;

	/* Keep what fits under resp_max, growing the buffer as it comes; the rest is discarded. */
	if (n < room)
		room = n;
	if (r->resp_len + room > r->resp_cap) {
		size_t cap = r->resp_cap ? r->resp_cap : 64;
		char *nb;

		while (cap < r->resp_len + room)
			cap *= 2;
		if (cap > r->resp_max)
			cap = r->resp_max;
		nb = realloc(r->resp, cap + 1);
		if (!nb)
			return 0; /* fails the transfer */
		r->resp = nb;
		r->resp_cap = cap;
	}
	memcpy(r->resp + r->resp_len, ptr, room);
	r->resp_len += room;
	r->resp[r->resp_len] = '\0';
	return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct http_req *r = userdata;
	size_t n = size * nitems;

	if (n > 5 && !strncmp(buf, "HTTP/", 5))
		r->retry_after[0] = '\0'; /* a new response (after a 100 Continue) */
	else if (n > 12 && !strncasecmp(buf, "Retry-After:", 12)) {
		size_t len = n - 12;

		if (len >= sizeof(r->retry_after))
			len = sizeof(r->retry_after) - 1;
		memcpy(r->retry_after, buf + 12, len);
		r->retry_after[len] = '\0';
	}
	return n;
}

/* Finished transfers: hand each to its owner. */
static void multi_done(struct http *h)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(h->multi, &left))) {
		struct http_req *r = NULL;
		struct http_result res = { 0 };
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		rc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		if (rc == CURLE_OK)
			curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &res.status);
		else
			res.transport_err = curl_easy_strerror(rc);
		res.body = r->resp;
		res.len = r->resp_len;
		res.retry_after = r->retry_after;
		/* Out of the list first: the callback may start another request or free h's owner state. */
		r->done(r->arg, &res);
		req_free(r);
	}
}

static void on_sock_event(void *arg, uint32_t events)
{
	struct csock *cs = arg;
	struct http *h = cs->h; /* cs may be freed by the socket callback below */
	int fd = cs->fd, running, flags = 0;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	multi_done(h);
}

static void sock_forget(struct http *h, struct csock *cs)
{
	struct csock **pp;

	for (pp = &h->socks; *pp; pp = &(*pp)->next) {
		if (*pp == cs) {
			*pp = cs->next;
			break;
		}
	}
	loop_del(h->loop, cs->fd);
	free(cs);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct csock *cs = socketp;
	uint32_t events = 0;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (cs) {
			sock_forget(h, cs);
			curl_multi_assign(h->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (!cs)
			return -1;
		cs->h = h;
		cs->fd = s;
		if (loop_add(h->loop, s, events, on_sock_event, cs)) {
			free(cs);
			return -1;
		}
		curl_multi_assign(h->multi, s, cs);
		cs->next = h->socks;
		h->socks = cs;
		return 0;
	}
	return loop_mod(h->loop, s, events, on_sock_event, cs) ? -1 : 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;

	(void)multi;
	/* socket_action must not be called from here: fire from the loop instead. */
	if (timeout_ms < 0)
		timer_stop(&h->timer);
	else
		timer_arm(&h->timer, (uint64_t)timeout_ms);
	return 0;
}

static void timer_fire(void *arg)
{
	struct http *h = arg;
	int running;

	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	multi_done(h);
}

int http_start(struct http *h, const struct http_opts *o, http_done_cb done, void *arg, struct http_req **reqp)
{
	struct http_req *r = calloc(1, sizeof(*r));
	char ctype[128];

	if (!r)
		return -ENOMEM;
	r->h = h;
	r->done = done;
	r->arg = arg;
	r->resp_max = o->max_body;
	r->resp = calloc(1, 1);
	r->easy = curl_easy_init();
	if (!r->resp || !r->easy)
		goto nomem;
	curl_easy_setopt(r->easy, CURLOPT_URL, o->url);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)(o->connect_timeout_ms ? o->connect_timeout_ms : o->timeout_ms));
	curl_easy_setopt(r->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(r->easy, CURLOPT_USERAGENT, "pgsteer");
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
	if (o->accept_encoding)
		curl_easy_setopt(r->easy, CURLOPT_ACCEPT_ENCODING, "");
	if (o->body) {
		r->body = strdup(o->body);
		if (!r->body)
			goto nomem;
		snprintf(ctype, sizeof(ctype), "Content-Type: %s",
			 o->content_type ? o->content_type : "application/octet-stream");
		r->hdrs = curl_slist_append(NULL, ctype);
		if (!r->hdrs)
			goto nomem;
		r->hdrs = curl_slist_append(r->hdrs, "Expect:"); /* no 100-continue round trip */
		if (!r->hdrs)
			goto nomem;
		curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(r->body));
	}
	if (curl_multi_add_handle(h->multi, r->easy) != CURLM_OK)
		goto nomem;
	r->next = h->reqs;
	h->reqs = r;
	if (reqp)
		*reqp = r;
	return 0;
nomem:
	if (r->easy)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->hdrs);
	free(r->body);
	free(r->resp);
	free(r);
	return -ENOMEM;
}

void http_cancel(struct http_req *r)
{
	if (r)
		req_free(r);
}

int http_pending(const struct http *h)
{
	const struct http_req *r;
	int n = 0;

	for (r = h->reqs; r; r = r->next)
		n++;
	return n;
}

struct http *http_new(struct loop *l, char *err, size_t errlen)
{
	struct http *h = calloc(1, sizeof(*h));
	int ret;

	if (!h) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->loop = l;
	h->timer.fd = -1;
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		snprintf(err, errlen, "libcurl initialisation failed");
		free(h);
		return NULL;
	}
	h->multi = curl_multi_init();
	if (!h->multi) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	ret = timer_init(&h->timer, l, timer_fire, h);
	if (ret) {
		snprintf(err, errlen, "http timer: %s", strerror(-ret));
		goto fail;
	}
	return h;
fail:
	http_free(h);
	return NULL;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->reqs)
		req_free(h->reqs);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	while (h->socks)
		sock_forget(h, h->socks);
	timer_close(&h->timer);
	curl_global_cleanup();
	free(h);
}

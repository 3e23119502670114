/* Cancel routing: fan a CancelRequest the datapath saw out to the service's other UP servers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <bpf/libbpf.h>
#include "cancel.h"
#include "datapath.h"
#include "hooks.h"
#include "log.h"

struct copy {
	int fd;                 /* -1: free */
	uint8_t msg[PGS_PG_CANCEL_LEN];
	uint64_t deadline_ms;
	int written;
	char who[PGS_NAME_LEN * 2 + 2];
};

static struct {
	struct loop *loop;
	struct datapath *dp;
	struct model *m;
	struct ring_buffer *rb;
	struct cancel_bucket bucket;
	uint64_t routed, fanned_out, failed;
	uint64_t dropped;       /* cancels not routed by pgsteerd: rate, age */
	struct copy copies[CANCEL_COPIES];
	uint64_t last_warn_ms;
} C;

int cancel_bucket_take(struct cancel_bucket *b, uint64_t now_ms, double rate, double burst)
{
	if (!b->last_ms) {
		b->tokens = burst;
		b->last_ms = now_ms;
	}
	b->tokens += (double)(now_ms - b->last_ms) * rate / 1000.0;
	if (b->tokens > burst)
		b->tokens = burst;
	b->last_ms = now_ms;
	if (b->tokens < 1.0)
		return 0;
	b->tokens -= 1.0;
	return 1;
}

void cancel_write_opts(struct datapath *dp, const struct model *m)
{
	uint32_t id, flags;
	int i;

	for (id = 0; id < PGS_MAX_SERVICES; id++) {
		flags = 0;
		for (i = 0; i < m->nservices; i++)
			if (m->services[i].id == id && m->services[i].cfg.cancel_routing)
				flags |= PGS_SVC_F_CANCEL;
		if (datapath_pg_opts_set(dp, id, flags))
			log_warn("writing cancel-routing of service id %u", id);
	}
}

/* The model's figures (a reload rebuilds the model): seen and lost come from the datapath's
 * counters, the rest are pgsteerd's own. */
static void refresh(void)
{
	uint64_t sum[PGS_PG_STAT_MAX] = {};
	uint32_t k;

	for (k = 0; k < PGS_PG_STAT_MAX; k++)
		datapath_pg_stat(C.dp, k, &sum[k]);
	C.m->cancel.seen = sum[PGS_PG_CANCEL_SEEN];
	C.m->cancel.dropped = sum[PGS_PG_CANCEL_LOST] + C.dropped;
	C.m->cancel.routed = C.routed;
	C.m->cancel.fanned_out = C.fanned_out;
	C.m->cancel.failed = C.failed;
}

static void copy_end(struct copy *c, int delivered, const char *why)
{
	if (c->fd < 0)
		return;
	loop_del(C.loop, c->fd);
	close(c->fd);
	c->fd = -1;
	if (delivered)
		return;
	C.failed++;
	log_warnx("cancel copy to %s not delivered: %s", c->who, why);
}

static void on_copy(void *arg, uint32_t events)
{
	struct copy *c = arg;
	char buf[256];
	socklen_t len = sizeof(int);
	int err = 0;
	ssize_t n;

	if (!c->written) {
		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
			copy_end(c, 0, strerror(err ? err : errno));
			return;
		}
		n = send(c->fd, c->msg, sizeof(c->msg), MSG_NOSIGNAL);
		if (n != (ssize_t)sizeof(c->msg)) {
			copy_end(c, 0, n < 0 ? strerror(errno) : "short write");
			return;
		}
		c->written = 1;
		C.fanned_out++;
		/* Then wait for the server to close, as libpq's PQcancel does: never half-close first.
		 * PgBouncer 1.18 takes an early EOF for the client leaving while it forwards the cancel,
		 * frees the client, and dies of it (FATAL "bad client state") at the next cancel. */
		loop_mod(C.loop, c->fd, EPOLLIN | EPOLLRDHUP, on_copy, c);
		return;
	}
	/* Delivered: the server closes when done (PgBouncer answers a cancel with nothing). */
	do
		n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n > 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		copy_end(c, 1, NULL);
}

static struct copy *copy_slot(void)
{
	int i;

	for (i = 0; i < CANCEL_COPIES; i++)
		if (C.copies[i].fd < 0)
			return &C.copies[i];
	return NULL;
}

/* Open a copy toward server s; 0, or -1 when it could not even start (a copy not delivered, counted
 * as failed: the cancel itself was routed, so it is not also counted as dropped). */
static int copy_start(const struct server_rt *s, const struct pgs_pg_event *ev)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = s->cfg.addr, .sin_port = s->cfg.port };
	struct copy *c = copy_slot();
	uint32_t w[4] = { htonl(PGS_PG_CANCEL_LEN), htonl(PGS_PG_CANCEL_CODE), ev->pid, ev->secret };

	if (!c) {
		C.failed++;
		return -1;
	}
	snprintf(c->who, sizeof(c->who), "%s/%s", s->svc->cfg.name, s->cfg.name);
	memcpy(c->msg, w, sizeof(c->msg));
	c->written = 0;
	c->deadline_ms = now_ms() + CANCEL_COPY_TIMEOUT_MS;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		C.failed++;
		log_warn("cancel copy to %s: socket", c->who);
		return -1;
	}
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) && errno != EINPROGRESS) {
		copy_end(c, 0, strerror(errno));
		return -1;
	}
	if (loop_add(C.loop, c->fd, EPOLLOUT, on_copy, c)) {
		copy_end(c, 0, "event loop");
		return -1;
	}
	return 0;
}

static struct service_rt *service_of(uint32_t slot)
{
	int i;

	for (i = 0; i < C.m->nservices; i++)
		if (C.m->services[i].id == pgs_slot_svc(slot))
			return &C.m->services[i];
	return NULL;
}

static void drop(const char *why)
{
	uint64_t now = now_ms();

	C.dropped++;
	if (now - C.last_warn_ms > 10000) {
		C.last_warn_ms = now;
		log_warnx("cancel routing: dropped a CancelRequest: %s (pgsteer_cancel_dropped_total counts them)", why);
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	const struct pgs_pg_event *ev = data;
	struct service_rt *svc;
	int j, n = 0;

	if (len < sizeof(*ev) || ev->type != PGS_PGEV_CANCEL)
		return 0;
	svc = service_of(ev->slot);
	if (!svc || !svc->cfg.cancel_routing)
		return 0;
	if (now_ns() - ev->ts_ns > (uint64_t)CANCEL_MAX_AGE_MS * 1000000) {
		drop("queued for too long");
		return 0;
	}
	if (!cancel_bucket_take(&C.bucket, now_ms(), CANCEL_RATE, CANCEL_BURST)) {
		drop("over the rate limit");
		return 0;
	}
	for (j = 0; j < svc->nservers; j++) {
		const struct server_rt *s = &svc->servers[j];

		if (s->slot == ev->slot || server_dp_state(s) != PGS_SRV_UP)
			continue;
		if (!copy_start(s, ev))
			n++;
	}
	C.routed++;
	log_debug("cancel for pid %u on %s fanned out to %d other server(s)", ntohl(ev->pid), svc->cfg.name, n);
	return 0;
}

static void on_ring(void *arg, uint32_t events)
{
	ring_buffer__consume(C.rb);
	refresh();
}

static void on_tick(void *arg, uint64_t now)
{
	int i;

	for (i = 0; i < CANCEL_COPIES; i++)
		if (C.copies[i].fd >= 0 && now > C.copies[i].deadline_ms)
			copy_end(&C.copies[i], C.copies[i].written, "no answer");
	refresh();
}

static void on_reloaded(void *arg)
{
	cancel_write_opts(C.dp, C.m);
	refresh();
}

static void on_stopping(void *arg, int handover)
{
	int i;

	for (i = 0; i < CANCEL_COPIES; i++)
		copy_end(&C.copies[i], 1, NULL);
	if (C.rb) {
		loop_del(C.loop, ring_buffer__epoll_fd(C.rb));
		ring_buffer__free(C.rb);
		C.rb = NULL;
	}
}

static const struct ctl_hooks cancel_hooks = { .tick = on_tick, .reloaded = on_reloaded, .stopping = on_stopping };

int cancel_start(struct loop *loop, struct datapath *dp, struct model *m)
{
	int i, r;

	C.loop = loop;
	C.dp = dp;
	C.m = m;
	for (i = 0; i < CANCEL_COPIES; i++)
		C.copies[i].fd = -1;
	cancel_write_opts(dp, m);
	C.rb = ring_buffer__new(datapath_pg_events_fd(dp), on_event, NULL, NULL);
	if (!C.rb)
		return -errno;
	r = loop_add(loop, ring_buffer__epoll_fd(C.rb), EPOLLIN, on_ring, NULL);
	if (r)
		return r;
	ring_buffer__consume(C.rb); /* what was queued meanwhile: too old, dropped */
	refresh();
	return ctl_hooks_add(&cancel_hooks, NULL);
}

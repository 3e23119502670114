/* Flow-state sync on the wire: the datapath's flow events (ring buffer) as authenticated UDP batches
 * from the master, a periodic refresh of every live flow, and a bulk resync over TCP for a backup
 * that starts; a backup installs what it hears through dpsync.c while it does not steer. It plugs
 * into the daemon through its hooks (hooks.h). */
#include "sync.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "backend.h"
#include "datapath.h"
#include "dpsync.h"
#include "flowev.h"
#include "hooks.h"
#include "log.h"
#include "loop.h"
#include "vrrp.h"

#define SYNC_MCAST 0xe0000051u   /* 224.0.0.81, IPVS's sync group, host order */
#define FLUSH_MS 10              /* a partial batch waits at most this long (vc5 sends every 10 ms) */
#define REFRESH_MS 10000         /* every live flow is re-sent this often: lost events heal */
#define FORGET_MS (3 * REFRESH_MS + REFRESH_MS / 2) /* a backup forgets flows not heard of since */
#define RESYNC_RETRY_MS 1000
#define RESYNC_WAIT_MS 100       /* how often a starting backup looks for the master to ask */
#define RESYNC_TIMEOUT_MS 10000  /* a backup gives up on a resync after this long, and asks again */
#define SERVE_TIMEOUT_NS (10ull * 1000000000) /* the master drops a resync connection after this long */

struct sync {
	struct loop *loop;
	const struct config *cfg;
	struct model *model;
	struct datapath *dp;
	struct vrrp *vrrp;
	struct sync_key key;
	struct sync_tx tx;
	struct sync_rx rx;
	/* A bulk resync has its own sequence, anchored on the request (its epoch is the request's
	 * epoch ^ seq): a recorded stream replayed into a later resync does not verify. */
	struct sync_tx btx;            /* master: the stream being sent */
	struct sync_rx brx;            /* backup: the stream being read */
	uint64_t bnonce;               /* backup: the epoch the stream must carry */
	int bbad;
	uint64_t brx_err[SYNC_E_MAX];  /* rejections counted by earlier streams' brx */
	uint32_t self;
	int ifindex;
	int udp, listener;
	int conn, connected;           /* a backup's resync connection to the master */
	uint8_t cbuf[SYNC_MSG_MAX];
	size_t clen;
	int srv;                       /* the master's resync connection to a backup */
	uint64_t srv_since_ns;
	uint8_t in[SYNC_HDR_LEN + SYNC_MAC_LEN];
	size_t in_len;
	uint8_t *out;                  /* the table being sent to it */
	size_t out_len, out_off, out_cap;
	uint64_t resync_ns;            /* when the resync under way started */
	struct sync_batch batch;
	struct timer flush, refresh, retry;
	int master;
	uint32_t master_addr;          /* the master asked for the resync */
	uint64_t last_rx_ns;
	struct sync_hdr last_hdr;      /* of the last accepted message */
	int reading_bulk;
	struct sync_view v;
};

int sync_enabled(const struct config *cfg, char *err, size_t errlen)
{
	struct stat st;

	if (!cfg->vrrp.enabled || cfg->vrrp.sync_off)
		return 0;
	if (stat(cfg->vrrp.sync_key_file, &st) == 0)
		return 1;
	if (errno == ENOENT && !cfg->vrrp.sync_key_explicit)
		return 0;
	snprintf(err, errlen, "vrrp sync key-file %s: %s", cfg->vrrp.sync_key_file, strerror(errno));
	return -errno;
}

/* What status and /metrics show. */
static void publish(struct sync *s)
{
	int i;

	s->v.master = s->master;
	if (s->master)
		s->v.ready = 1;
	datapath_read_ev_lost(s->dp, &s->v.ev_lost);
	for (i = 0; i < SYNC_E_MAX; i++)
		s->v.err[i] = s->rx.err[i] + s->brx_err[i] + s->brx.err[i];
	s->model->sync = s->v;
}

/* --- sending (master) -------------------------------------------------------------------------- */

static void send_datagram(struct sync *s, const uint8_t *msg, size_t len)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(s->cfg->vrrp.sync_port) };
	int i, n = s->cfg->vrrp.npeers ? s->cfg->vrrp.npeers : 1;

	for (i = 0; i < n; i++) {
		to.sin_addr.s_addr = s->cfg->vrrp.npeers ? s->cfg->vrrp.peers[i] : htonl(SYNC_MCAST);
		if (sendto(s->udp, msg, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
			log_debug("sync: sending to %s: %s", inet_ntoa(to.sin_addr), strerror(errno));
	}
}

static void flush(struct sync *s)
{
	int len;

	timer_stop(&s->flush);
	if (!s->batch.count)
		return;
	len = sync_batch_seal(&s->batch, &s->tx, &s->key, wall_ms());
	if (len > 0) {
		send_datagram(s, s->batch.buf, (size_t)len);
		s->v.msgs_tx++;
		s->v.flows_tx += s->batch.count;
	}
	sync_batch_init(&s->batch, SYNC_T_FLOWS);
}

static void on_flush(void *arg)
{
	flush(arg);
}

static void queue(struct sync *s, const struct sync_flow *f)
{
	if (sync_batch_add(&s->batch, f) == -ENOSPC) {
		flush(s);
		sync_batch_add(&s->batch, f);
	}
	if (s->batch.count == SYNC_MAX_RECS)
		flush(s);
	else if (!timer_armed(&s->flush))
		timer_arm(&s->flush, FLUSH_MS);
}

static void on_flow(void *arg, const struct pgs_flow_event *ev)
{
	struct sync *s = arg;
	struct sync_flow r;

	if (!s->master)
		return;
	if (!dpsync_event_record(s->dp, s->model, ev, &r))
		queue(s, &r);
}

struct walk {
	struct sync *s;
	uint64_t now;
	int bulk;                      /* bulk resync: into s->out, else refreshes over UDP */
	struct sync_batch b;
	int failed;
};

/* The bulk resync's stream, built in memory and written as the socket drains. */
static int out_append(struct sync *s, const uint8_t *p, size_t len)
{
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap * 2 : 64 * 1024;
		uint8_t *n;

		while (cap < s->out_len + len)
			cap *= 2;
		n = realloc(s->out, cap);
		if (!n)
			return -ENOMEM;
		s->out = n;
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, p, len);
	s->out_len += len;
	return 0;
}

static void walk_send(struct walk *w)
{
	int len = sync_batch_seal(&w->b, w->bulk ? &w->s->btx : &w->s->tx, &w->s->key, wall_ms());

	if (len > 0 && !w->failed) {
		if (w->bulk)
			w->failed = out_append(w->s, w->b.buf, (size_t)len) < 0;
		else
			send_datagram(w->s, w->b.buf, (size_t)len);
		w->s->v.msgs_tx++;
		w->s->v.flows_tx += w->b.count;
	}
	sync_batch_init(&w->b, w->b.type);
}

static void walk_flow(void *arg, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct walk *w = arg;
	struct sync_flow r;

	if (dpsync_flow_record(w->s->model, k, f, w->bulk ? SYNC_OP_NEW : SYNC_OP_REFRESH, w->now, &r))
		return;
	if (sync_batch_add(&w->b, &r) == -ENOSPC) {
		walk_send(w);
		sync_batch_add(&w->b, &r);
	}
}

/* Walk the table and send every live flow: as refreshes over UDP, or as a bulk resync into s->out. */
static int send_table(struct sync *s, int bulk)
{
	static struct walk w;
	int r;

	memset(&w, 0, sizeof(w));
	w.s = s;
	w.now = now_ns();
	w.bulk = bulk;
	if (bulk)
		s->out_len = s->out_off = s->out_cap = 0;
	sync_batch_init(&w.b, SYNC_T_FLOWS);
	r = datapath_flows_each(s->dp, walk_flow, &w);
	if (w.b.count)
		walk_send(&w);
	if (bulk && !w.failed) {
		sync_batch_init(&w.b, SYNC_T_RESYNC_END);
		walk_send(&w);
	}
	if (!r && w.failed)
		r = -EIO;
	return r;
}

static void on_refresh(void *arg)
{
	struct sync *s = arg;

	if (s->master) {
		flowev_drain();
		flush(s);
		send_table(s, 0);
	}
}

/* --- receiving (backup) ------------------------------------------------------------------------ */

static int resolve(void *arg, const struct sync_flow *f)
{
	struct sync *s = arg;

	return dpsync_flow_known(s->model, f);
}

static void apply(void *arg, const struct sync_hdr *h, const struct sync_flow *r)
{
	struct sync *s = arg;
	int err;

	if (s->reading_bulk && h->epoch != s->bnonce) {
		s->bbad = 1;
		return;
	}
	err = dpsync_flow_apply(s->dp, s->model, r, now_ns());

	if (err) {
		s->v.install_errors++;
		log_debug("sync: applying a %s record failed: %s", sync_op_name((enum sync_op)r->op), strerror(-err));
	}
}

/* One received message, from UDP or the resync stream. Returns its type, or -SYNC_E_*. */
static int receive(struct sync *s, struct sync_rx *rx, const uint8_t *msg, size_t len)
{
	struct sync_hdr h;
	uint64_t before = rx->recs;
	int r;

	s->reading_bulk = rx == &s->brx;
	s->bbad = 0;
	r = sync_rx_message(rx, &s->key, msg, len, resolve, apply, s, &h);
	s->reading_bulk = 0;
	if (r < 0)
		return r;
	if (rx == &s->brx && (s->bbad || h.epoch != s->bnonce)) {
		rx->err[SYNC_E_REPLAY]++;
		return -SYNC_E_REPLAY;
	}
	s->v.msgs_rx++;
	s->v.flows_rx += rx->recs - before;
	s->v.peer = h.sender;
	s->v.last_rx_ms = wall_ms();
	s->v.lag_ms = s->v.last_rx_ms > h.sent_ms ? s->v.last_rx_ms - h.sent_ms : 0;
	s->last_rx_ns = now_ns();
	s->last_hdr = h;
	return h.type;
}

static void on_udp(void *arg, uint32_t events)
{
	struct sync *s = arg;
	uint8_t buf[SYNC_MSG_MAX + 64];
	ssize_t n;
	int i;

	for (i = 0; i < 64; i++) {
		n = recv(s->udp, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0)
			break;
		/* A master's own table is the truth: what a peer says is only taken while backup. */
		if (!s->master)
			receive(s, &s->rx, buf, (size_t)n);
	}
	publish(s);
}

/* --- bulk resync: the master serves, a starting backup asks ------------------------------------- */

static void conn_close(struct sync *s)
{
	if (s->conn < 0)
		return;
	loop_del(s->loop, s->conn);
	close(s->conn);
	s->conn = -1;
	s->clen = 0;
	s->connected = 0;
}

static void resync_failed(struct sync *s, const char *why)
{
	log_warnx("sync: bulk resync from the master: %s; retrying", why);
	conn_close(s);
	timer_arm(&s->retry, RESYNC_RETRY_MS);
}

/* The table is complete: what was not heard of since the resync began is gone on the master. */
static void resync_done(struct sync *s)
{
	uint64_t n = 0;

	conn_close(s);
	timer_stop(&s->retry);
	datapath_purge_before(s->dp, s->resync_ns, &n);
	s->v.ready = 1;
	s->v.resyncs++;
	vrrp_hold_preempt(s->vrrp, 0);
	log_info("sync: bulk resync from the master complete in %llu ms: %llu flow(s) received in total, %llu "
		 "stale one(s) forgotten", (unsigned long long)((now_ns() - s->resync_ns) / 1000000),
		 (unsigned long long)s->v.flows_rx, (unsigned long long)n);
	publish(s);
}

/* Messages on the resync stream, each as long as its header says. */
static void conn_read(struct sync *s)
{
	ssize_t n = read(s->conn, s->cbuf + s->clen, sizeof(s->cbuf) - s->clen);

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return;
		resync_failed(s, n ? strerror(errno) : "the master closed the connection before the end");
		return;
	}
	s->clen += (size_t)n;
	while (s->clen >= 12) {
		size_t len = (size_t)(s->cbuf[10] << 8 | s->cbuf[11]);
		int type;

		if (len < SYNC_HDR_LEN + SYNC_MAC_LEN || len > SYNC_MSG_MAX) {
			resync_failed(s, "malformed stream");
			return;
		}
		if (s->clen < len)
			return;
		type = receive(s, &s->brx, s->cbuf, len);
		memmove(s->cbuf, s->cbuf + len, s->clen - len);
		s->clen -= len;
		if (type < 0) {
			resync_failed(s, sync_err_name((enum sync_err)-type));
			return;
		}
		if (type == SYNC_T_RESYNC_END) {
			resync_done(s);
			return;
		}
	}
}

/* Connected (the connect was non-blocking: a master whose link is cut must not stall the loop):
 * send the authenticated request, then read the table. */
static void on_conn(void *arg, uint32_t events)
{
	struct sync *s = arg;
	struct sync_batch req;
	int err = 0, len, i;
	socklen_t elen = sizeof(err);

	if (s->connected) {
		conn_read(s);
		publish(s);
		return;
	}
	if (getsockopt(s->conn, SOL_SOCKET, SO_ERROR, &err, &elen) || err) {
		resync_failed(s, strerror(err ? err : errno));
		return;
	}
	sync_batch_init(&req, SYNC_T_RESYNC_REQ);
	len = sync_batch_seal(&req, &s->tx, &s->key, wall_ms());
	if (len < 0 || write(s->conn, req.buf, (size_t)len) != len) {
		resync_failed(s, "cannot send the request");
		return;
	}
	s->bnonce = s->tx.epoch ^ s->tx.seq;
	for (i = 0; i < SYNC_E_MAX; i++)
		s->brx_err[i] += s->brx.err[i];
	memset(&s->brx, 0, sizeof(s->brx));
	s->brx.self = s->self;
	s->brx.vrid = s->cfg->vrrp.vrid;
	s->connected = 1;
	loop_mod(s->loop, s->conn, EPOLLIN, on_conn, s);
}

static void resync_start(struct sync *s)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(s->cfg->vrrp.sync_port) };
	char a[INET_ADDRSTRLEN];
	int fd;

	if (s->master || s->v.ready || s->conn >= 0)
		return;
	to.sin_addr.s_addr = s->model->vrrp.master;
	if (!to.sin_addr.s_addr || to.sin_addr.s_addr == s->self) {
		timer_arm(&s->retry, RESYNC_WAIT_MS); /* no master heard yet */
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || (connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0 && errno != EINPROGRESS) ||
	    loop_add(s->loop, fd, EPOLLOUT, on_conn, s)) {
		log_warn("sync: bulk resync from %s", inet_ntop(AF_INET, &to.sin_addr, a, sizeof(a)));
		if (fd >= 0)
			close(fd);
		timer_arm(&s->retry, RESYNC_RETRY_MS);
		return;
	}
	s->conn = fd;
	s->clen = 0;
	s->connected = 0;
	s->resync_ns = now_ns();
	s->master_addr = to.sin_addr.s_addr;
	timer_arm(&s->retry, RESYNC_TIMEOUT_MS);
	log_info("sync: asking the master %s for a bulk resync", inet_ntop(AF_INET, &to.sin_addr, a, sizeof(a)));
}

/* Retry, or give up on a resync that takes too long (the master died meanwhile, ...). */
static void on_retry(void *arg)
{
	struct sync *s = arg;

	if (s->conn >= 0) {
		resync_failed(s, "timed out");
		return;
	}
	resync_start(s);
}

/* --- the master's side of a resync: one backup at a time, never blocking the loop -------------- */

static void serve_close(struct sync *s)
{
	if (s->srv < 0)
		return;
	loop_del(s->loop, s->srv);
	close(s->srv);
	s->srv = -1;
	free(s->out);
	s->out = NULL;
	s->out_len = s->out_off = s->in_len = 0;
}

static void on_serve(void *arg, uint32_t events)
{
	struct sync *s = arg;
	char a[INET_ADDRSTRLEN];
	ssize_t n;
	int type;

	if (!s->out) { /* reading the request */
		n = read(s->srv, s->in + s->in_len, sizeof(s->in) - s->in_len);
		if (n <= 0) {
			if (!(n < 0 && errno == EAGAIN))
				serve_close(s);
			return;
		}
		s->in_len += (size_t)n;
		if (s->in_len < sizeof(s->in))
			return;
		type = receive(s, &s->rx, s->in, s->in_len);
		publish(s);
		if (type != SYNC_T_RESYNC_REQ || !s->master) {
			serve_close(s);
			return;
		}
		flowev_drain();
		flush(s);
		s->btx.epoch = s->last_hdr.epoch ^ s->last_hdr.seq;
		s->btx.seq = 0;
		if (send_table(s, 1) || !s->out) {
			log_warnx("sync: bulk resync to %s: out of memory", inet_ntop(AF_INET, &s->v.peer, a, sizeof(a)));
			serve_close(s);
			return;
		}
		loop_mod(s->loop, s->srv, EPOLLOUT, on_serve, s);
		return;
	}
	n = write(s->srv, s->out + s->out_off, s->out_len - s->out_off);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		log_warnx("sync: bulk resync to %s: %s", inet_ntop(AF_INET, &s->v.peer, a, sizeof(a)),
			  n ? strerror(errno) : "closed");
		serve_close(s);
		return;
	}
	s->out_off += (size_t)n;
	if (s->out_off == s->out_len) {
		log_info("sync: bulk resync sent to %s (%zu bytes)", inet_ntop(AF_INET, &s->v.peer, a, sizeof(a)),
			 s->out_len);
		serve_close(s);
	}
}

/* A backup connected: it has a moment to send one authenticated request, then gets the table. */
static void on_listen(void *arg, uint32_t events)
{
	struct sync *s = arg;
	int fd = accept4(s->listener, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (!s->master) {
		close(fd);
		return;
	}
	serve_close(s); /* one at a time: the newest asks */
	if (loop_add(s->loop, fd, EPOLLIN, on_serve, s)) {
		close(fd);
		return;
	}
	s->srv = fd;
	s->srv_since_ns = now_ns();
}

static int open_sockets(struct sync *s, char *err, size_t errlen)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->cfg->vrrp.sync_port) };
	const char *ifname = s->cfg->interface;
	int one = 1, zero = 0;

	s->udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	s->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->udp < 0 || s->listener < 0)
		goto fail;
	if (setsockopt(s->udp, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) ||
	    setsockopt(s->listener, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) ||
	    setsockopt(s->udp, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(s->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (!s->cfg->vrrp.npeers) {
		struct ip_mreqn mr = { .imr_multiaddr.s_addr = htonl(SYNC_MCAST), .imr_ifindex = s->ifindex };

		if (setsockopt(s->udp, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) ||
		    setsockopt(s->udp, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) ||
		    setsockopt(s->udp, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)))
			goto fail;
	}
	if (bind(s->udp, (struct sockaddr *)&a, sizeof(a)))
		goto fail;
	a.sin_addr.s_addr = s->self;
	if (bind(s->listener, (struct sockaddr *)&a, sizeof(a)) || listen(s->listener, 4))
		goto fail;
	if (loop_add(s->loop, s->udp, EPOLLIN, on_udp, s) || loop_add(s->loop, s->listener, EPOLLIN, on_listen, s))
		goto fail;
	return 0;
fail:
	snprintf(err, errlen, "vrrp sync on %s port %u: %s", ifname, s->cfg->vrrp.sync_port, strerror(errno));
	return -errno;
}

/* --- roles, through the daemon's hooks ----------------------------------------------------------- */

static void become(struct sync *s, int master)
{
	if (master == s->master)
		return;
	if (master) {
		/* The table is the truth now; what was heard is in it. */
		conn_close(s);
		timer_stop(&s->retry);
		s->master = 1;
		s->v.ready = 1;
		vrrp_hold_preempt(s->vrrp, 0);
		flowev_drain(); /* what the datapath queued meanwhile (a restart in place) */
		log_info("sync: sending this node's flow events to the peers");
	} else {
		/* Stepping down: what the datapath told last goes out before the peer takes over. */
		flowev_drain();
		flush(s);
		serve_close(s);
		s->master = 0;
		log_info("sync: receiving the master's flows");
	}
	publish(s);
}

static void on_steering(void *arg, int on)
{
	struct sync *s = arg;

	if (on && !s->master) {
		become(s, 1);
		/* Flows synced while backup toward a server this node has DOWN follow on-marked-down. */
		dpsync_takeover_down(s->dp, s->model);
	} else if (!on && s->master) {
		become(s, 0);
	}
}

static void on_tick(void *arg, uint64_t now)
{
	struct sync *s = arg;
	uint64_t t = now_ns(), n = 0;

	if (s->srv >= 0 && t - s->srv_since_ns > SERVE_TIMEOUT_NS)
		serve_close(s);
	/* A backup that hears the master forgets what it has not heard of for several refreshes: the
	 * flow closed there and its close was lost. */
	if (!s->master && s->v.ready && s->last_rx_ns && t - s->last_rx_ns < 2ull * REFRESH_MS * 1000000 &&
	    t > FORGET_MS * 1000000ull && !datapath_purge_before(s->dp, t - FORGET_MS * 1000000ull, &n) && n)
		log_debug("sync: forgot %llu flow(s) the master no longer refreshes", (unsigned long long)n);
	publish(s);
}

static void on_reloaded(void *arg)
{
	publish(arg);
}

static void sync_free(struct sync *s);

/* The last event: the registration stays (nothing is told after it). */
static void on_stopping(void *arg, int handover)
{
	sync_free(arg);
}

static const struct ctl_hooks hooks = {
	.tick = on_tick,
	.steering = on_steering,
	.reloaded = on_reloaded,
	.stopping = on_stopping,
	.flow = on_flow,
};

static void sync_free(struct sync *s)
{
	if (!s)
		return;
	if (s->master) {
		flowev_drain();
		flush(s); /* a stopping master hands over what it has not sent yet */
	}
	conn_close(s);
	serve_close(s);
	if (s->udp >= 0) {
		loop_del(s->loop, s->udp);
		close(s->udp);
	}
	if (s->listener >= 0) {
		loop_del(s->loop, s->listener);
		close(s->listener);
	}
	timer_close(&s->flush);
	timer_close(&s->refresh);
	timer_close(&s->retry);
	memset(&s->key, 0, sizeof(s->key));
	s->model->sync.enabled = 0;
	free(s);
}

int sync_start(struct loop *l, const struct config *cfg, struct model *m, struct datapath *dp, struct vrrp *v,
	       uint32_t self, char *err, size_t errlen)
{
	struct sync *s;
	char kerr[512];
	int r, active = 0;

	r = sync_enabled(cfg, err, errlen);
	if (r <= 0) {
		if (!r && cfg->vrrp.enabled)
			log_info("flow sync off (%s): sessions break when the VIP moves",
				 cfg->vrrp.sync_off ? "sync off" : "no key file");
		return r;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "sync: out of memory");
		return -ENOMEM;
	}
	s->loop = l;
	s->cfg = cfg;
	s->model = m;
	s->dp = dp;
	s->vrrp = v;
	s->self = self;
	s->udp = s->listener = s->conn = s->srv = -1;
	s->flush.fd = s->refresh.fd = s->retry.fd = -1;
	s->ifindex = (int)if_nametoindex(cfg->interface);
	r = sync_key_load(cfg->vrrp.sync_key_file, &s->key, kerr, sizeof(kerr));
	if (r) {
		snprintf(err, errlen, "vrrp sync key-file %s", kerr);
		free(s);
		return r;
	}
	s->tx.sender = s->btx.sender = self;
	s->tx.vrid = s->btx.vrid = cfg->vrrp.vrid;
	s->tx.epoch = wall_ms() * 1000; /* grows across restarts, so peers accept the new sequence */
	s->rx.self = s->brx.self = self;
	s->rx.vrid = s->brx.vrid = cfg->vrrp.vrid;
	s->v.enabled = 1;
	sync_batch_init(&s->batch, SYNC_T_FLOWS);
	r = -ENOMEM;
	if (timer_init(&s->flush, l, on_flush, s) || timer_init(&s->refresh, l, on_refresh, s) ||
	    timer_init(&s->retry, l, on_retry, s)) {
		snprintf(err, errlen, "sync: creating timers: %s", strerror(errno));
		goto fail;
	}
	r = open_sockets(s, err, errlen);
	if (r)
		goto fail;
	r = flowev_start(l, dp);
	if (r) {
		snprintf(err, errlen, "sync: reading the datapath's flow events (map pgs_events): %s", strerror(-r));
		goto fail;
	}
	r = ctl_hooks_add(&hooks, s);
	if (r) {
		snprintf(err, errlen, "sync: no room for its hooks");
		goto fail;
	}
	r = -EINVAL;
	timer_arm_periodic(&s->refresh, REFRESH_MS);
	/* A process resuming the master role (restart in place) steers already; any other starts as a
	 * backup that asks the master for the table and does not preempt it before it has it. */
	datapath_get_active(dp, &active);
	if (active) {
		become(s, 1);
	} else {
		vrrp_hold_preempt(v, 1);
		resync_start(s);
	}
	publish(s);
	log_info("flow sync on: port %u, %s, key %s", cfg->vrrp.sync_port,
		 cfg->vrrp.npeers ? "unicast to the peers" : "multicast 224.0.0.81", cfg->vrrp.sync_key_file);
	return 1;
fail:
	sync_free(s);
	return r;
}

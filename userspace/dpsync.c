/* The model <-> maps translator: the only place that knows which model field goes in which map
 * entry and back. It talks to the maps through datapath.c only. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include "dpsync.h"
#include "log.h"
#include "loop.h"
#include "netlink.h"
#include "probe.h"

void dpsync_server(struct datapath *dp, struct server_rt *s, uint64_t now)
{
	struct pgs_server v = {
		.addr = s->cfg.addr,
		.port = s->cfg.port,
		.state = server_dp_state(s),
		.weight = server_dp_weight(s, now),
	};
	struct pgs_server old = {};

	/* Keep what only the controller's earlier runs set: the generation and the kill time. */
	if (!datapath_get_server(dp, s->slot, &old) && old.addr == v.addr && old.port == v.port) {
		v.gen = old.gen;
		v.kill_ns = old.kill_ns;
	} else {
		v.gen = old.gen + 1;
	}
	snprintf(v.name, sizeof(v.name), "%s", s->cfg.name);
	if (datapath_set_server(dp, s->slot, &v))
		log_warn("%s/%s: writing its datapath entry", s->svc->cfg.name, s->cfg.name);
	else if (v.gen != old.gen && datapath_reset_slot(dp, s->slot))
		log_warn("%s/%s: resetting the counters of its slot %u", s->svc->cfg.name, s->cfg.name, s->slot);
}

/* A service and its servers; the half-open timeout is also how long a cookie flow waits for its server. */
static void dpsync_service(struct datapath *dp, const struct config *cfg, struct service_rt *svc)
{
	struct pgs_svc_key k = { .vip = svc->cfg.vip, .port = svc->cfg.port };
	struct pgs_svc v = { .id = svc->id, .nservers = service_positions(svc), .syn_cookies = svc->cfg.syn_cookies,
			     .syn_halfopen_max = svc->cfg.syn_halfopen_max, .connect_ms = cfg->t_syn_ms };
	int used[PGS_MAX_SERVERS] = {};
	uint64_t now = now_ms();
	uint32_t pos;
	int j;

	for (j = 0; j < svc->nservers; j++) {
		dpsync_server(dp, &svc->servers[j], now);
		used[pgs_slot_pos(svc->servers[j].slot)] = 1;
	}
	/* A position a removed server left: never selected (weight 0, DOWN). */
	for (pos = 0; pos < v.nservers; pos++)
		if (!used[pos]) {
			struct pgs_server empty = { .state = PGS_SRV_DOWN };

			datapath_set_server(dp, pgs_slot(svc->id, pos), &empty);
		}
	snprintf(v.name, sizeof(v.name), "%s", svc->cfg.name);
	if (datapath_set_service(dp, &k, &v))
		log_warn("service %s: writing its datapath entry", svc->cfg.name);
}

void dpsync_model(struct datapath *dp, struct model *m)
{
	int i;

	for (i = 0; i < m->nservices; i++)
		dpsync_service(dp, m->cfg, &m->services[i]);
}

struct seed_walk {
	struct datapath *dp;
	struct model *prev;
};

static void seed_service(void *arg, const struct pgs_svc_key *k, const struct pgs_svc *v)
{
	struct seed_walk *w = arg;
	struct service_rt *svc;
	uint32_t pos;

	if (w->prev->nservices >= PGS_MAX_SERVICES || v->id >= PGS_MAX_SERVICES)
		return;
	svc = &w->prev->services[w->prev->nservices++];
	snprintf(svc->cfg.name, sizeof(svc->cfg.name), "%s", v->name);
	svc->id = v->id;
	for (pos = 0; pos < v->nservers && pos < PGS_MAX_SERVERS; pos++) {
		uint32_t slot = pgs_slot(v->id, pos);
		struct pgs_server srv;

		if (datapath_get_server(w->dp, slot, &srv) || !srv.name[0])
			continue;
		snprintf(svc->servers[svc->nservers].cfg.name, PGS_NAME_LEN, "%s", srv.name);
		svc->servers[svc->nservers++].slot = slot;
	}
}

void dpsync_seed(struct datapath *dp, struct model *prev)
{
	struct seed_walk w = { .dp = dp, .prev = prev };

	memset(prev, 0, sizeof(*prev));
	datapath_services_each(dp, seed_service, &w);
}

struct drop_walk {
	struct datapath *dp;
	const struct config *cfg;
};

static void drop_if_unknown(void *arg, const struct pgs_svc_key *k, const struct pgs_svc *v)
{
	struct drop_walk *w = arg;
	int i;

	for (i = 0; i < w->cfg->nservices; i++)
		if (w->cfg->services[i].vip == k->vip && w->cfg->services[i].port == k->port)
			return;
	datapath_del_service(w->dp, k);
}

void dpsync_drop_unknown(struct datapath *dp, const struct config *cfg)
{
	struct drop_walk w = { .dp = dp, .cfg = cfg };

	datapath_services_each(dp, drop_if_unknown, &w);
}

static int server_addr_in(const struct config *c, uint32_t addr)
{
	int i, j;

	for (i = 0; i < c->nservices; i++)
		for (j = 0; j < c->services[i].nservers; j++)
			if (c->services[i].servers[j].addr == addr)
				return 1;
	return 0;
}

void dpsync_drop_changed(struct datapath *dp, const struct config *old, const struct config *fresh)
{
	int i, j;

	for (i = 0; i < old->nservices; i++)
		for (j = 0; j < old->services[i].nservers; j++) {
			uint32_t a = old->services[i].servers[j].addr;

			if (!server_addr_in(fresh, a))
				nl_neigh_del(datapath_ifindex(dp), a);
		}
	for (i = 0; i < old->nservices; i++) {
		const struct cfg_service *was = &old->services[i];
		const struct cfg_service *now = config_service((struct config *)fresh, was->name);

		if (!now || now->vip != was->vip || now->port != was->port) {
			struct pgs_svc_key k = { .vip = was->vip, .port = was->port };

			datapath_del_service(dp, &k);
		}
	}
}

/* The kernel resolves and refreshes a managed neighbour entry per server address, so XDP's FIB
 * lookup finds it (without an entry bpf_fib_lookup answers NO_NEIGH and nothing would resolve
 * one); TC behind XDP covers the moments it cannot. */
void dpsync_neighbours(struct datapath *dp, const struct model *m, const char *ifname)
{
	int i, j, r;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			const struct server_rt *s = &m->services[i].servers[j];
			char a[INET_ADDRSTRLEN];

			r = nl_neigh_managed(datapath_ifindex(dp), s->cfg.addr);
			if (r) {
				inet_ntop(AF_INET, &s->cfg.addr, a, sizeof(a));
				log_warnx("%s: cannot add a managed neighbour entry for %s on %s: %s", s->cfg.name, a,
					  ifname, strerror(-r));
			}
		}
}

void dpsync_refresh(struct datapath *dp, struct model *m)
{
	int i, j;

	datapath_read_verdicts(dp, m->verdicts);
	for (i = 0; i < m->nservices; i++) {
		struct service_rt *svc = &m->services[i];

		svc->scur = svc->stot = svc->bin = svc->bout = 0;
		svc->last_new_ns = 0;
		for (j = 0; j < svc->nservers; j++) {
			struct server_rt *s = &svc->servers[j];
			struct dp_server ds;

			if (datapath_read_server(dp, s->slot, &ds))
				continue;
			s->scur = ds.active;
			if (s->scur > s->smax)
				s->smax = s->scur;
			s->stot = ds.conns.opened;
			s->bin = ds.st.bytes_in;
			s->bout = ds.st.bytes_out;
			s->redispatched = ds.st.redispatched;
			s->last_new_ns = ds.st.last_new_ns;
			svc->scur += s->scur;
			svc->stot += s->stot;
			svc->bin += s->bin;
			svc->bout += s->bout;
			if (s->last_new_ns > svc->last_new_ns)
				svc->last_new_ns = s->last_new_ns;
		}
		if (svc->scur > svc->smax)
			svc->smax = svc->scur;
	}
}

int dpsync_gc(struct datapath *dp, const struct config *cfg, struct model *m, unsigned *pct)
{
	struct dp_gc gc;
	int r = datapath_gc(dp, cfg, now_ns(), &gc);

	if (r)
		return r;
	if (!gc.done)
		return 0;
	m->flows = gc.entries;
	m->flows_expired += gc.expired;
	if (gc.stale)
		log_info("forgot %llu flow(s) from before this node took over: the other node reset those sessions",
			 (unsigned long long)gc.stale);
	if (gc.orphans)
		log_info("removed %llu reverse entr%s whose flow was gone: %s SNAT port%s free again",
			 (unsigned long long)gc.orphans, gc.orphans == 1 ? "y" : "ies", gc.orphans == 1 ? "its" : "their",
			 gc.orphans == 1 ? " is" : "s are");
	*pct = (unsigned)(gc.entries * 100 / cfg->flow_table_size);
	if (gc.corrected)
		log_debug("reconciled connection counts of %u server(s)", gc.corrected);
	return 1;
}

void dpsync_slowstart(struct datapath *dp, struct model *m, uint64_t now, uint64_t tick_ms)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			struct server_rt *s = &m->services[i].servers[j];

			if (s->svc->cfg.slowstart_ms && s->up_since_ms && now - s->up_since_ms <= s->svc->cfg.slowstart_ms + tick_ms)
				dpsync_server(dp, s, now);
		}
}

struct shutdown_walk {
	uint32_t slot;
	uint64_t kill_ns;
	int fd;
	unsigned n;
};

static void probe_flow(void *arg, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct shutdown_walk *w = arg;

	if (f->slot != w->slot || f->created_ns >= w->kill_ns || f->state == PGS_FLOW_CLOSED)
		return;
	probe_send(w->fd, k->vip, k->vport, k->client, k->cport);
	probe_send(w->fd, k->vip, f->sport, f->backend, f->bport);
	w->n++;
}

/* Every flow of the server created before now answers its next segment with RST (both ends) and
 * releases its count. Idle sessions are made to speak: each end gets an out-of-window ACK from the
 * VIP, answers it, and that answer is reset. */
void dpsync_shutdown_sessions(struct datapath *dp, struct server_rt *s, int steering)
{
	struct shutdown_walk w = { .slot = s->slot };
	struct pgs_server v;

	if (datapath_get_server(dp, s->slot, &v))
		return;
	v.kill_ns = w.kill_ns = now_ns();
	datapath_set_server(dp, s->slot, &v);
	if (!steering)
		return;
	w.fd = probe_open();
	if (w.fd < 0) {
		log_warnx("%s/%s: cannot open a raw socket to reset idle sessions: %s", s->svc->cfg.name, s->cfg.name,
			  strerror(-w.fd));
		return;
	}
	datapath_flows_each(dp, probe_flow, &w);
	close(w.fd);
	log_info("%s/%s: shutting down %u session(s)", s->svc->cfg.name, s->cfg.name, w.n);
}

void dpsync_clear_passive(struct datapath *dp, struct server_rt *s)
{
	uint64_t cur = 0;

	if (!datapath_get_passive(dp, s->slot, &cur) && cur == s->passive_ns)
		datapath_clear_passive(dp, s->slot);
	s->passive_ns = 0;
}

#define PASSIVE_UNCHECKED_NS 2000000000ull /* how long a server without checks stays out */

void dpsync_poll_passive(struct datapath *dp, struct model *m, void (*refused)(void *arg, struct server_rt *s),
			 void *arg)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			struct server_rt *s = &m->services[i].servers[j];
			uint64_t p = 0;

			if (datapath_get_passive(dp, s->slot, &p))
				continue;
			if (p && !s->passive_ns) {
				s->passive_ns = p;
				refused(arg, s);
			}
			s->passive_ns = p;
			/* Without checks nothing would ever confirm it: let the next connection try again. */
			if (p && !s->checked && now_ns() - p > PASSIVE_UNCHECKED_NS) {
				datapath_clear_passive(dp, s->slot);
				s->passive_ns = 0;
			}
		}
}

/* Taking over after this node was not steering for a while: its flows are sessions the other node
 * has reset since (unless flow sync kept them fresh), which would otherwise count toward leastconn
 * for hours. A short flap keeps them: an idle session that sent nothing meanwhile is still alive.
 * The clean-up forgets them, in batches, after the VIP is taken (dpsync_gc says how many). */
#define STALE_AFTER_NS (10ull * 1000000000)

/* What a node learnt of a flow's sequence numbers while it steered is stale once it stops: the
 * session went on through the other node. A new steering epoch makes every such edge a hint
 * (bpf/lib/seqhint.h), flow by flow at its first packet: taking over costs one map write, whatever
 * the size of the flow table. Called before steering turns on. */
void dpsync_takeover(struct datapath *dp)
{
	uint64_t off = 0;
	int r;

	if (datapath_get_off_ns(dp, &off) || !off || now_ns() - off < STALE_AFTER_NS)
		off = 0;
	r = datapath_new_epoch(dp);
	if (r)
		log_warnx("starting a new steering epoch (learnt sequence edges stay trusted): %s", strerror(-r));
	datapath_takeover(dp, off);
}

static int fill_record(const struct model *m, const struct pgs_flow_key *k, uint32_t slot, uint32_t backend,
		       uint16_t bport, uint16_t sport, struct sync_flow *r)
{
	const struct server_rt *s = model_slot(m, slot);

	if (!s)
		return -ENOENT;
	memset(r, 0, sizeof(*r));
	snprintf(r->service, sizeof(r->service), "%s", s->svc->cfg.name);
	r->client = k->client;
	r->cport = k->cport;
	r->vip = k->vip;
	r->vport = k->vport;
	r->backend = backend;
	r->bport = bport;
	r->sport = sport;
	return 0;
}

#define SYNC_FLAGS (PGS_FLOW_F_FIN_CLIENT | PGS_FLOW_F_FIN_SERVER | PGS_FLOW_F_SERVER_FIRST)

/* The sequence edges this node knows of f (learnt, or hints not yet replaced), into its record. */
static void record_edges(const struct pgs_flow *f, struct sync_flow *r)
{
	static const uint32_t known[2] = { PGS_FLOW_F_SEQ_CLIENT | PGS_FLOW_F_HINT_CLIENT,
					   PGS_FLOW_F_SEQ_SERVER | PGS_FLOW_F_HINT_SERVER };

	for (int i = 0; i < 2; i++)
		if (f->flags & known[i]) {
			r->nxt[i] = f->nxt[i];
			r->edges |= SYNC_EDGE_NXT_CLIENT << i;
		}
}

int dpsync_flow_record(const struct model *m, const struct pgs_flow_key *k, const struct pgs_flow *f,
		       enum sync_op op, uint64_t now, struct sync_flow *r)
{
	if (f->state != PGS_FLOW_ESTABLISHED && f->state != PGS_FLOW_FIN_WAIT)
		return -ENOENT;
	if (fill_record(m, k, f->slot, f->backend, f->bport, f->sport, r))
		return -ENOENT;
	r->op = (uint8_t)op;
	r->state = (uint8_t)f->state;
	r->flags = (uint16_t)(f->flags & SYNC_FLAGS);
	r->idle_ms = now > f->seen_ns ? (uint32_t)((now - f->seen_ns) / 1000000) : 0;
	record_edges(f, r);
	return 0;
}

int dpsync_event_record(struct datapath *dp, const struct model *m, const struct pgs_flow_event *e,
			struct sync_flow *r)
{
	struct pgs_flow f;

	if (fill_record(m, &e->fk, e->slot, e->backend, e->bport, e->sport, r))
		return -ENOENT;
	r->op = e->type == PGS_EV_ESTABLISHED ? SYNC_OP_NEW : SYNC_OP_CLOSE;
	r->state = PGS_FLOW_ESTABLISHED;
	r->flags = (uint16_t)(e->flags & SYNC_FLAGS);
	/* The edges as the flow holds them now (the handshake's, or a little later). */
	if (r->op == SYNC_OP_NEW && !datapath_flow_get(dp, &e->fk, &f) && f.backend == e->backend &&
	    f.sport == e->sport)
		record_edges(&f, r);
	return 0;
}

/* The server a record names, by service name and VIP:port, then server ip:port. */
static const struct server_rt *server_named(const struct model *m, const struct sync_flow *r, int *why)
{
	int i, j;

	*why = SYNC_E_UNKNOWN_SERVICE;
	for (i = 0; i < m->nservices; i++) {
		const struct service_rt *svc = &m->services[i];

		if (strcmp(svc->cfg.name, r->service))
			continue;
		if (svc->cfg.vip != r->vip || svc->cfg.port != r->vport)
			return NULL;
		*why = SYNC_E_UNKNOWN_SERVER;
		for (j = 0; j < svc->nservers; j++)
			if (svc->servers[j].cfg.addr == r->backend && svc->servers[j].cfg.port == r->bport)
				return &svc->servers[j];
		return NULL;
	}
	return NULL;
}

int dpsync_flow_known(const struct model *m, const struct sync_flow *r)
{
	int why;

	return server_named(m, r, &why) ? 0 : why;
}

/* A flow of another client side that holds the SNAT port r wants: gone on the peer (its close was
 * lost), or its reverse entry would be taken away under the new flow when it expires. */
static void free_snat_port(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct pgs_flow_key other;
	struct pgs_flow of;

	if (datapath_rflow_get(dp, k->vip, f->backend, f->bport, f->sport, &other) ||
	    !memcmp(&other, k, sizeof(other)))
		return;
	if (!datapath_flow_get(dp, &other, &of) && of.backend == f->backend && of.bport == f->bport &&
	    of.sport == f->sport)
		datapath_flow_forget(dp, &other, &of);
}

/* A record's edges become the flow's hints; what this node knew of a side the record leaves out
 * stays, as a hint. Only a backup applies records: nothing here was learnt since a takeover. A
 * flow that holds hints only is the same in every steering epoch (seqhint.h). */
static void hints_from_record(struct pgs_flow *f, const struct sync_flow *r)
{
	static const uint32_t edge[2] = { SYNC_EDGE_NXT_CLIENT, SYNC_EDGE_NXT_SERVER };
	static const uint32_t hint[2] = { PGS_FLOW_F_HINT_CLIENT, PGS_FLOW_F_HINT_SERVER };

	f->flags = pgs_flow_edges_as_hints(f->flags);
	for (int i = 0; i < 2; i++)
		if (r->edges & edge[i]) {
			f->nxt[i] = r->nxt[i];
			f->flags |= hint[i];
		}
}

int dpsync_flow_apply(struct datapath *dp, const struct model *m, const struct sync_flow *r, uint64_t now)
{
	struct pgs_flow_key k = { .client = r->client, .vip = r->vip, .cport = r->cport, .vport = r->vport };
	const struct server_rt *s;
	struct pgs_server srv;
	struct pgs_flow f, old;
	int why, have;

	have = !datapath_flow_get(dp, &k, &old);
	if (have && (old.backend != r->backend || old.bport != r->bport || old.sport != r->sport))
		have = 0;
	if (r->op == SYNC_OP_CLOSE) {
		if (have)
			datapath_flow_forget(dp, &k, &old);
		return 0;
	}
	if (have && r->op == SYNC_OP_REFRESH && old.state == r->state) {
		old.seen_ns = now;
		hints_from_record(&old, r);
		return datapath_flow_update(dp, &k, &old);
	}
	s = server_named(m, r, &why);
	if (!s)
		return -ENOENT;
	memset(&f, 0, sizeof(f));
	f.backend = r->backend;
	f.bport = r->bport;
	f.sport = r->sport;
	f.slot = s->slot;
	f.gen = datapath_get_server(dp, s->slot, &srv) ? 0 : srv.gen;
	/* A half-closed flow no longer counts toward its server (the first FIN released it). */
	f.flags = r->flags | (r->state == PGS_FLOW_ESTABLISHED ? PGS_FLOW_F_COUNTED : 0);
	f.state = r->state;
	f.created_ns = now;
	f.seen_ns = now; /* heard of just now: the peer saw it within its refresh period */
	if (have) {
		memcpy(f.nxt, old.nxt, sizeof(f.nxt));
		f.flags |= old.flags & (PGS_FLOW_F_EDGES | PGS_FLOW_F_HINT_CLIENT | PGS_FLOW_F_HINT_SERVER);
	}
	hints_from_record(&f, r);
	if (have) {
		f.created_ns = old.created_ns;
		memcpy(f.hop, old.hop, sizeof(f.hop));
		return datapath_flow_update(dp, &k, &f);
	}
	if (!datapath_flow_get(dp, &k, &old))
		datapath_flow_forget(dp, &k, &old); /* the client side reopened toward another server */
	free_snat_port(dp, &k, &f);
	return datapath_flow_insert(dp, &k, &f);
}

void dpsync_takeover_down(struct datapath *dp, struct model *m)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			struct server_rt *s = &m->services[i].servers[j];

			if (s->svc->cfg.shutdown_sessions && server_class(s) == CLASS_DOWN)
				dpsync_shutdown_sessions(dp, s, 1);
		}
}

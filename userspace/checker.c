/* Health checks for every server of the model: one timer per server, one check in flight at
 * most, results applied to the model with HAProxy's counters and announced through hooks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "check.h"
#include "checker.h"

/* One checked server. */
struct checker_srv {
	struct checker *c;
	struct server_rt *s;
	const struct cfg_check *ck;
	struct timer timer;          /* the next check */
	struct check *running;       /* the check in flight, or NULL */
	int passive;                 /* the check in flight was kicked by passive detection */
	int paused;                  /* MAINT: no check armed */
};

struct checker {
	struct loop *loop;
	uint32_t src_addr;
	struct checker_hooks hooks;
	void *arg;
	int n;
	struct checker_srv *srv;
};

uint32_t checker_interval(const struct cfg_check *ck, const struct health *h)
{
	uint32_t ms;

	if (health_transitional(h))
		ms = ck->fastinter_ms ? ck->fastinter_ms : ck->inter_ms;
	else if (!h->up)
		ms = ck->downinter_ms ? ck->downinter_ms : ck->inter_ms;
	else
		ms = ck->inter_ms;
	return ms ? ms : 2000;
}

uint32_t checker_first_delay(uint32_t interval, int pos, int n)
{
	if (n <= 0 || pos <= 0)
		return 0;
	return (uint64_t)interval * (pos % n) / n;
}

int checker_apply(struct server_rt *s, const struct check_result *r, uint64_t now_ms)
{
	int dir;

	s->last = *r;
	if (!r->ok && s->health.health > 0)
		s->chkfail++;
	dir = health_result(&s->health, r->ok);
	if (dir < 0) {
		s->chkdown++;
		s->last_change_ms = now_ms;
		s->down_since_ms = now_ms ? now_ms : 1;
	} else if (dir > 0) {
		s->last_change_ms = now_ms;
		if (s->down_since_ms) {
			s->downtime_ms += now_ms - s->down_since_ms;
			s->down_since_ms = 0;
		}
		s->up_since_ms = now_ms;
	}
	return dir;
}

static struct checker_srv *checker_find(struct checker *c, const struct server_rt *s)
{
	int i;

	for (i = 0; i < c->n; i++)
		if (c->srv[i].s == s)
			return &c->srv[i];
	return NULL;
}

static void srv_arm(struct checker_srv *cs, uint32_t ms)
{
	cs->paused = 0;
	timer_arm(&cs->timer, ms);
}

static void srv_done(void *arg, const struct check_result *r)
{
	struct checker_srv *cs = arg;
	struct checker *c = cs->c;
	struct server_rt *s = cs->s;
	int dir;

	cs->running = NULL;
	s->check_running = 0;
	dir = checker_apply(s, r, now_ms());
	cs->passive = 0;
	/* Armed before the hooks, so a hook may kick or pause this server. */
	if (s->admin == ADMIN_MAINT)
		cs->paused = 1;
	else
		srv_arm(cs, checker_interval(cs->ck, &s->health));
	if (dir && c->hooks.changed)
		c->hooks.changed(c->arg, s, dir);
	if (c->hooks.checked)
		c->hooks.checked(c->arg, s);
}

static void srv_timer(void *arg)
{
	struct checker_srv *cs = arg;
	struct server_rt *s = cs->s;
	struct check_target t = {
		.addr = s->cfg.addr,
		.port = s->cfg.port,
		.type = cs->ck->type,
		.timeout_ms = cs->ck->timeout_ms,
		.user = cs->ck->user,
		.database = cs->ck->database,
		.src_addr = cs->c->src_addr,
	};
	int err;

	if (s->admin == ADMIN_MAINT) {
		cs->paused = 1;
		return;
	}
	if (cs->running) /* the completion arms the next one */
		return;
	err = check_start(cs->c->loop, &t, srv_done, cs, &cs->running);
	if (err) {
		/* No check could even be set up: a socket error, as HAProxy counts it. */
		struct check_result r = { .status = CHK_SOCKERR };

		cs->running = NULL;
		snprintf(r.desc, sizeof(r.desc), "%s", strerror(-err));
		srv_done(cs, &r);
		return;
	}
	s->check_running = 1;
}

struct checker *checker_new(struct loop *l, struct model *m, uint32_t src_addr, const struct checker_hooks *h,
			    void *arg)
{
	struct checker *c = calloc(1, sizeof(*c));
	int i, j, n = 0, pos = 0, err;

	if (!c)
		return NULL;
	c->loop = l;
	c->src_addr = src_addr;
	if (h)
		c->hooks = *h;
	c->arg = arg;
	for (i = 0; i < m->nservices; i++)
		if (m->services[i].cfg.check.type != CHECK_NONE)
			n += m->services[i].nservers;
	c->srv = calloc(n ? n : 1, sizeof(*c->srv));
	if (!c->srv)
		goto fail;

	for (i = 0; i < m->nservices; i++) {
		struct service_rt *svc = &m->services[i];
		int checked = svc->cfg.check.type != CHECK_NONE;

		for (j = 0; j < svc->nservers; j++) {
			struct checker_srv *cs;

			svc->servers[j].checked = checked;
			if (!checked)
				continue;
			cs = &c->srv[c->n];
			cs->c = c;
			cs->s = &svc->servers[j];
			cs->ck = &svc->cfg.check;
			err = timer_init(&cs->timer, l, srv_timer, cs);
			if (err) {
				errno = -err;
				goto fail;
			}
			c->n++;
		}
	}
	/* Spread the first round across the first interval, in model order. */
	for (i = 0; i < c->n; i++) {
		struct checker_srv *cs = &c->srv[i];

		if (cs->s->admin == ADMIN_MAINT) {
			cs->paused = 1;
			continue;
		}
		srv_arm(cs, checker_first_delay(checker_interval(cs->ck, &cs->s->health), pos++, c->n));
	}
	return c;

fail:
	err = errno;
	checker_free(c);
	errno = err;
	return NULL;
}

void checker_free(struct checker *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++) {
		struct checker_srv *cs = &c->srv[i];

		if (cs->running) {
			check_cancel(cs->running);
			cs->s->check_running = 0;
		}
		timer_close(&cs->timer);
	}
	free(c->srv);
	free(c);
}

int checker_kick(struct checker *c, struct server_rt *s)
{
	struct checker_srv *cs = checker_find(c, s);

	if (!cs)
		return s->checked ? -ENOENT : -EOPNOTSUPP;
	if (s->admin == ADMIN_MAINT)
		return -EAGAIN;
	if (cs->running && cs->passive)
		return 0;
	if (cs->running) {
		/* It may have connected before the refusal: its verdict would be stale. */
		check_cancel(cs->running);
		cs->running = NULL;
		s->check_running = 0;
	}
	cs->passive = 1;
	srv_arm(cs, 0);
	return 0;
}

void checker_admin(struct checker *c, struct server_rt *s)
{
	struct checker_srv *cs = checker_find(c, s);
	uint64_t now;

	if (!cs)
		return;
	if (s->admin == ADMIN_MAINT) {
		if (cs->running) {
			check_cancel(cs->running);
			cs->running = NULL;
			s->check_running = 0;
		}
		cs->passive = 0;
		timer_stop(&cs->timer);
		cs->paused = 1;
		return;
	}
	if (!cs->paused)
		return;
	/* HAProxy leaving maintenance: "start OK but check immediately". */
	now = now_ms();
	if (!s->health.up) {
		s->last_change_ms = now;
		if (s->down_since_ms) {
			s->downtime_ms += now - s->down_since_ms;
			s->down_since_ms = 0;
		}
		s->up_since_ms = now;
	}
	s->health.health = s->health.rise;
	s->health.up = 1;
	srv_arm(cs, 0);
}

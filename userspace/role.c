/* The VRRP role's alert policy: which alert a transition sends, decided by its cause. */
#include <errno.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include "log.h"
#include "role.h"

struct role {
	const struct config *cfg;
	struct model *m;
	struct alerter *alerter;
	struct vrrp *vrrp;
	uint32_t self_addr;     /* the interface's own address */
	uint32_t last_master;   /* the other node last heard as master (for "lb1 is DOWN") */
	struct timer rejoin;
};

/* A server's class is known once a check has said it (servers start UP before their first check,
 * as in HAProxy: that optimism must not be told, nor adopted). */
static int class_known(const struct server_rt *s)
{
	return !s->checked || s->last.status != CHK_INI || s->admin == ADMIN_MAINT;
}

static const char *node_name(const struct role *r, uint32_t addr, char *buf, size_t len)
{
	int i;

	for (i = 0; i < r->cfg->vrrp.nnames; i++)
		if (r->cfg->vrrp.name_addr[i] == addr)
			return r->cfg->vrrp.names[i];
	if (!addr)
		return NULL;
	return inet_ntop(AF_INET, &addr, buf, (socklen_t)len);
}

/* Rejoining: told once the current master has been heard, which is before a preemption could
 * happen (one and a half advert intervals against three). Nobody heard: an election follows,
 * and that is what gets told. */
static void on_rejoin(void *arg)
{
	struct role *r = arg;
	char buf[INET_ADDRSTRLEN];

	vrrp_fill(r->vrrp, r->m);
	if (r->m->vrrp.state != VRRP_BACKUP || !r->m->vrrp.master)
		return;
	alert_vrrp(r->alerter, VRRP_ALERT_REJOINED, r->cfg->node_name, node_name(r, r->m->vrrp.master, buf, sizeof(buf)),
		   NULL);
}

struct role *role_new(struct loop *l, const struct config *cfg, struct model *m)
{
	struct role *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = cfg;
	r->m = m;
	if (timer_init(&r->rejoin, l, on_rejoin, r)) {
		free(r);
		return NULL;
	}
	return r;
}

void role_free(struct role *r)
{
	if (!r)
		return;
	timer_close(&r->rejoin);
	free(r);
}

void role_set_alerter(struct role *r, struct alerter *a)
{
	r->alerter = a;
}

void role_set_vrrp(struct role *r, struct vrrp *v)
{
	r->vrrp = v;
}

void role_set_self(struct role *r, uint32_t addr)
{
	r->self_addr = addr;
}

/* The peer was alive (we preempted it, or it stepped down): it told what it saw; what our own
 * first checks find is adopted, not told again. */
static void adopt_first_checks(struct model *m)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++)
			if (!class_known(&m->services[i].servers[j]))
				m->services[i].servers[j].adopt_next = 1;
}

static void became_master(struct role *r, enum vrrp_cause cause, const char *why)
{
	char buf[INET_ADDRSTRLEN];
	const char *peer = node_name(r, r->last_master, buf, sizeof(buf));
	enum vrrp_alert kind;

	switch (cause) {
	case VRRP_CAUSE_RESUMED: /* the same node, a new process: nothing happened */
		return;
	case VRRP_CAUSE_PREEMPTED:
		adopt_first_checks(r->m);
		kind = peer ? VRRP_ALERT_PREEMPT : VRRP_ALERT_ELECTED;
		break;
	case VRRP_CAUSE_PRIO0:
		adopt_first_checks(r->m);
		kind = peer ? VRRP_ALERT_TAKEOVER : VRRP_ALERT_ELECTED;
		break;
	default:
		kind = peer ? VRRP_ALERT_TAKEOVER : VRRP_ALERT_ELECTED;
		break;
	}
	alert_vrrp(r->alerter, kind, r->cfg->node_name, peer, why);
}

void role_transition(struct role *r, enum vrrp_state from, enum vrrp_state to, enum vrrp_cause cause,
		     uint32_t master, const char *why)
{
	char buf[INET_ADDRSTRLEN], mbuf[INET_ADDRSTRLEN];

	log_info("vrrp: %s -> %s (%s)%s%s", vrrp_state_name(from), vrrp_state_name(to), why, master ? ", master " : "",
		 master ? inet_ntop(AF_INET, &master, mbuf, sizeof(mbuf)) : "");
	switch (to) {
	case VRRP_MASTER:
		became_master(r, cause, why);
		break;
	case VRRP_BACKUP:
		if (from == VRRP_MASTER)
			alert_vrrp(r->alerter, VRRP_ALERT_BACKUP, r->cfg->node_name, node_name(r, master, buf, sizeof(buf)),
				   why);
		else /* wait to hear the master */
			timer_arm(&r->rejoin, (uint64_t)r->cfg->vrrp.advert_cs * 10 * 3 / 2 + 20);
		break;
	case VRRP_FAULT:
		alert_vrrp(r->alerter, VRRP_ALERT_FAULT, r->cfg->node_name, NULL, why);
		break;
	default:
		break;
	}
	if (master && master != r->self_addr)
		r->last_master = master;
}

void role_steer(struct role *r, int on)
{
	int i, j;

	alerter_quiet(r->alerter, !on);
	if (!on)
		return;
	/* The new master tells what changed since it last told or adopted. */
	for (i = 0; i < r->m->nservices; i++)
		for (j = 0; j < r->m->services[i].nservers; j++) {
			struct server_rt *s = &r->m->services[i].servers[j];

			if (class_known(s))
				alert_server(r->alerter, s, s->reported, server_class(s));
		}
}

void role_poll(struct role *r)
{
	int i, j;

	if (!r->vrrp)
		return;
	vrrp_fill(r->vrrp, r->m);
	if (r->m->vrrp.master && r->m->vrrp.master != r->self_addr)
		r->last_master = r->m->vrrp.master;
	/* A backup that hears a master leaves the telling to it. */
	if (r->m->vrrp.state == VRRP_BACKUP && r->m->vrrp.master)
		for (i = 0; i < r->m->nservices; i++)
			for (j = 0; j < r->m->services[i].nservers; j++)
				if (class_known(&r->m->services[i].servers[j]))
					alert_adopt(r->alerter, &r->m->services[i].servers[j]);
}

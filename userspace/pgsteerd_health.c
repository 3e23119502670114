/* A server's health, one way: a check result (checker.c) or a runtime command changes the model,
 * and from here the change goes to the datapath (dpsync.c), the features (hooks.c), the state file
 * (persist.c) and the alerts (alert.c). Nothing goes back up. */
#include <stdio.h>
#include "alert.h"
#include "check.h"
#include "checker.h"
#include "dpsync.h"
#include "hooks.h"
#include "log.h"
#include "persist.h"
#include "pgsteerd.h"

void daemon_server_changed(void *arg, struct server_rt *s, enum rt_change what, enum srv_class before)
{
	struct pgsteerd *d = arg;

	if (what == RT_SHUTDOWN_SESSIONS) {
		dpsync_shutdown_sessions(d->dp, s, d->steering);
		return;
	}
	if (what == RT_ADMIN && d->checker)
		checker_admin(d->checker, s);
	dpsync_server(d->dp, s, now_ms());
	ctl_tell_server(s);
	persist_save_changes(&d->model, d->cfg.state_dir);
	alert_server(d->alerter, s, before, server_class(s));
}

static void on_check_changed(void *arg, struct server_rt *s, int dir)
{
	struct pgsteerd *d = arg;
	char why[400], st[32];

	check_result_str(&s->last, why, sizeof(why));
	if (dir > 0) {
		log_info("%s/%s is UP (%s), %s", s->svc->cfg.name, s->cfg.name, server_status(s, st, sizeof(st)), why);
		if (s->passive_ns)
			dpsync_clear_passive(d->dp, s);
	} else {
		log_warnx("%s/%s is DOWN, %s", s->svc->cfg.name, s->cfg.name, why);
		if (s->svc->cfg.shutdown_sessions)
			dpsync_shutdown_sessions(d->dp, s, d->steering);
	}
	dpsync_server(d->dp, s, now_ms());
	ctl_tell_server(s);
}

static void on_checked(void *arg, struct server_rt *s)
{
	struct pgsteerd *d = arg;

	/* The alerter remembers what it last announced (across restarts too): this tells a change of
	 * class once, including one that happened while pgsteerd was stopped. After taking over from a
	 * live peer, the first check's class is the peer's to have told. */
	if (s->adopt_next)
		alert_adopt(d->alerter, s);
	else
		alert_server(d->alerter, s, s->reported, server_class(s));
	s->adopt_next = 0;
	s->reported = server_class(s);

	/* A refusal the check does not confirm was transient: back into selection. */
	if (s->last.ok && s->passive_ns) {
		log_info("%s/%s passed its check after refusing a connection: back in selection", s->svc->cfg.name, s->cfg.name);
		dpsync_clear_passive(d->dp, s);
	}
}

static const struct checker_hooks checker_hooks = {
	.changed = on_check_changed,
	.checked = on_checked,
};

void daemon_start_checks(struct pgsteerd *d)
{
	d->checker = checker_new(d->loop, &d->model, d->node_addr, &checker_hooks, d);
	if (!d->checker)
		fatal("starting health checks");
}

static void on_refused(void *arg, struct server_rt *s)
{
	struct pgsteerd *d = arg;

	log_info("%s/%s refused a connection: out of selection, checking it now", s->svc->cfg.name, s->cfg.name);
	if (d->checker && s->checked)
		checker_kick(d->checker, s);
}

void daemon_poll_passive(struct pgsteerd *d)
{
	dpsync_poll_passive(d->dp, &d->model, on_refused, d);
}

/* SYN floods per service, from the datapath's SYN-flood view (bpf/lib/synguard.h) into the model
 * and the alerts; see synflood.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "datapath.h"
#include "hooks.h"
#include "log.h"
#include "loop.h"
#include "slack.h"
#include "synflood.h"

const enum pgs_reason synflood_reasons[SYNFLOOD_NREASONS] = {
	PGS_R_COOKIE_SENT,
	PGS_R_COOKIE_VALID,
	PGS_R_DROP_COOKIE_INVALID,
};

const char *synflood_mode_name(uint32_t mode)
{
	switch (mode) {
	case PGS_COOKIES_AUTO: return "auto";
	case PGS_COOKIES_ALWAYS: return "always";
	case PGS_COOKIES_OFF: return "off";
	}
	return "unknown";
}

void synflood_track_init(struct synflood_track *t, uint64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	t->last_sign_ms = now_ms; /* as if there had been one at start: "over" waits the quiet time */
}

int synflood_step(struct synflood_track *t, int sign, uint64_t now_ms)
{
	if (sign) {
		int begins = !t->flooded;

		t->last_sign_ms = now_ms;
		t->known = 1;
		if (begins) {
			t->flooded = 1;
			t->since_ms = now_ms;
		}
		return begins;
	}
	if (now_ms - t->last_sign_ms < SYNFLOOD_QUIET_MS)
		return 0;
	t->known = 1;
	if (!t->flooded)
		return 0;
	t->flooded = 0;
	return -1;
}

/* One service's track, by name: ids and positions change on a reload, names are what alerts use. */
struct svc_track {
	char name[CFG_STR];
	struct synflood_track t;
	uint64_t floods;
};

static struct {
	struct datapath *dp;
	struct model *m;
	struct alerter *a;
	struct svc_track tracks[PGS_MAX_SERVICES];
	int ntracks;
	int read_failing;
} S;

/* The track of a service, created when it is new (or after a reload renamed it). */
static struct svc_track *track_of(const char *name, uint64_t now)
{
	int i;

	for (i = 0; i < S.ntracks; i++)
		if (!strcmp(S.tracks[i].name, name))
			return &S.tracks[i];
	if (S.ntracks == PGS_MAX_SERVICES) {
		/* Full of services a reload removed: forget them all, the alerter still dedups. */
		S.ntracks = 0;
	}
	memset(&S.tracks[S.ntracks], 0, sizeof(S.tracks[0]));
	snprintf(S.tracks[S.ntracks].name, sizeof(S.tracks[0].name), "%s", name);
	synflood_track_init(&S.tracks[S.ntracks].t, now);
	return &S.tracks[S.ntracks++];
}

/* Read one service from the datapath into the model. 0 or -errno. */
static int read_service(struct service_rt *svc, uint64_t now_ns)
{
	struct pgs_synguard g;
	int i, r;

	r = datapath_get_synguard(S.dp, svc->id, &g);
	if (r)
		return r;
	svc->syn.flood = now_ns < g.flood_until_ns;
	for (i = 0; i < SYNFLOOD_NREASONS; i++) {
		r = datapath_read_svc_verdict(S.dp, svc->id, synflood_reasons[i], &svc->syn.verdicts[synflood_reasons[i]]);
		if (r)
			return r;
	}
	return 0;
}

static void tell(const struct service_rt *svc, const struct svc_track *st, uint64_t now)
{
	struct slack_flood f = {
		.service = svc->cfg.name,
		.mode = synflood_mode_name(svc->cfg.syn_cookies),
		.on = st->t.flooded,
		.flood_s = (now - st->t.since_ms) / 1000,
		.sent = svc->syn.verdicts[PGS_R_COOKIE_SENT],
		.invalid = svc->syn.verdicts[PGS_R_DROP_COOKIE_INVALID],
	};

	alert_flood(S.a, &f);
}

static void on_tick(void *arg, uint64_t now)
{
	uint64_t ns = now_ns();
	int i, r, step;

	(void)arg;
	for (i = 0; i < S.m->nservices; i++) {
		struct service_rt *svc = &S.m->services[i];
		struct svc_track *st = track_of(svc->cfg.name, now);

		r = read_service(svc, ns);
		if (r) {
			if (!S.read_failing)
				log_warnx("synflood: cannot read service %s's SYN-flood view: %s", svc->cfg.name, strerror(-r));
			S.read_failing = 1;
			return;
		}
		step = synflood_step(&st->t, svc->syn.flood, now);
		if (step > 0) {
			st->floods++;
			log_warnx("SYN flood at %s: the datapath is in flood mode (syn-cookies %s)", svc->cfg.name,
				  synflood_mode_name(svc->cfg.syn_cookies));
		} else if (step < 0) {
			log_info("SYN flood at %s over after %llus", svc->cfg.name,
				 (unsigned long long)((now - st->t.since_ms) / 1000));
		}
		svc->syn.alerted = st->t.flooded;
		svc->syn.floods = st->floods;
		if (st->t.known)
			tell(svc, st, now);
	}
	S.read_failing = 0;
}

static const struct ctl_hooks synflood_hooks = { .tick = on_tick };

int synflood_start(struct datapath *dp, struct model *m, struct alerter *a)
{
	S.dp = dp;
	S.m = m;
	S.a = a;
	S.ntracks = 0;
	on_tick(NULL, now_ms());
	return ctl_hooks_add(&synflood_hooks, NULL);
}

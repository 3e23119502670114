/* Alerts to a Slack incoming webhook: dedup against what was last announced, a persistent queue,
 * delivery through the loop's HTTP client (http.h), retries, pacing, coalescing. */
#ifndef PGS_ALERT_H
#define PGS_ALERT_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "config.h"
#include "http.h"
#include "loop.h"
#include "slack.h"

struct alerter;

/* Where an alerter gets its settings: pgsteerd from its config (alerter_new), the monitor from its
 * command line (alerter_open). */
struct alert_params {
	const char *node;           /* names this node in every alert */
	const char *state_path;     /* JSON state (last announced classes, undelivered queue); NULL: none */
	const char *webhook_file;   /* the secret URL in a file, tried first; NULL or "": not used */
	const char *webhook_env;    /* or in this environment variable; neither: alerts are only logged */
	unsigned flow_table_pct;    /* alert above this occupancy; 0: never */
	const struct config *cfg;   /* forget servers no longer configured; NULL: keep all */
	struct http *http;          /* the loop's HTTP client to share; NULL: the alerter makes its own */
};

/* Delivery timings; alerter_open sets the defaults shown, tests shorten them. */
struct alert_tuning {
	uint32_t group_wait_ms;      /* 200: a burst's first event waits this long to go with the rest */
	uint32_t pace_ms;            /* 1000: Slack accepts about one message a second */
	uint32_t backoff_min_ms;     /* 1000: first retry after a 5xx, a timeout or a refused connection */
	uint32_t backoff_max_ms;     /* 60000: doubling stops here */
	uint32_t retry_after_max_ms; /* 60000: cap on a 429's Retry-After */
	uint64_t max_age_ms;         /* 24 h: older undelivered alerts are dropped */
	uint32_t timeout_ms;         /* 10000: a whole request */
	uint32_t connect_timeout_ms; /* 5000 */
	int batch;                   /* 20: alerts coalesced into one message at most */
};

#define ALERT_QUEUE_MAX 256

/* Events counted since start: queued is the current backlog, the rest are totals. Counts are of
 * alerts, not of HTTP requests (a coalesced message of 3 alerts counts 3 sent). */
struct alert_counters {
	uint64_t queued;   /* waiting or in flight */
	uint64_t sent;     /* delivered (2xx) */
	uint64_t failed;   /* failed attempts (5xx, 429, timeouts, connection errors, 4xx) */
	uint64_t dropped;  /* given up: refused with a 4xx, too old, or pushed out of a full queue */
};

/* pgsteerd's alerter: node cfg->node_name, state in cfg->state_dir/alerts.json, webhook from
 * cfg->alert. NULL with err set when the webhook cannot be read (missing file, unset variable). */
struct alerter *alerter_new(struct loop *l, const struct config *cfg, char *err, size_t errlen);
struct alerter *alerter_open(struct loop *l, const struct alert_params *p, char *err, size_t errlen);
void alerter_tune(struct alerter *a, const struct alert_tuning *t);
/* Undelivered alerts stay in the state file and go out after the next start. */
void alerter_free(struct alerter *a);

/* A server's class changed. Only a class that differs from the one last announced (or queued) for
 * service/server is sent, so from is informational: call it on every change and once per server
 * after its first check following start (from == to) so that a change made while pgsteerd was
 * stopped is told, and a restart repeats nothing. */
void alert_server(struct alerter *a, const struct server_rt *s, enum srv_class from, enum srv_class to);
/* While quiet (a VRRP backup) server alerts are not sent: the master tells. A backup that hears a
 * master adopts each server's class as told (alert_adopt), so a takeover repeats nothing; a node
 * that becomes master tells whatever differs from what it last told or adopted. */
void alerter_quiet(struct alerter *a, int quiet);
void alert_adopt(struct alerter *a, const struct server_rt *s);
/* The same by name, for the monitor: check_status/check_desc may be NULL. */
void alert_class(struct alerter *a, const char *service, const char *server, enum srv_class to,
		 const char *check_status, const char *check_desc);
/* A VRRP event of this node (see enum vrrp_alert). Sent when the role it implies (master, backup,
 * fault) differs from the last one recorded; VRRP_ALERT_BACKUP only records. */
void alert_vrrp(struct alerter *a, enum vrrp_alert kind, const char *self, const char *peer,
		const char *why);
/* Flow-table occupancy in percent: "flow table 83% full on lb1" above the threshold, "flow table
 * back to 40% on lb1" once 10 points below it. Call it as often as the occupancy is read. */
void alert_flow_table(struct alerter *a, unsigned pct);
/* A service entered (f->on) or left SYN-flood mode: told once per change, like the flow table;
 * synflood.c decides when a flood is over. Call it as often as the state is known. */
struct slack_flood;
void alert_flood(struct alerter *a, const struct slack_flood *f);
/* The monitor's stats source failed (up = 0) or works again (up = 1): told once per change. */
void alert_stats(struct alerter *a, const char *source, int up, const char *why);

void alerter_counters(const struct alerter *a, struct alert_counters *c);
/* queued/sent/failed/dropped into m->alerts. */
void alerter_fill(const struct alerter *a, struct model *m);
/* 1 when nothing is queued or in flight. */
int alerter_idle(const struct alerter *a);

/* Pure helpers, exposed for the tests. */
/* Delay before retry number attempt (1, 2, ...): min * 2^(attempt-1), +-20% jitter from rnd, capped. */
uint64_t alert_backoff_ms(const struct alert_tuning *t, unsigned attempt, uint32_t rnd);
/* A Retry-After value: delta-seconds or an HTTP-date. 0 and *secs, or -EINVAL. */
int alert_retry_after(const char *value, uint64_t now_wall_s, uint64_t *secs);
/* The webhook URL from a file (trimmed; must exist; *world_readable set when group/other may read it)
 * or from an environment variable. 0 and a malloc'ed URL, -errno with err set. */
int alert_webhook_read(const char *file, const char *env, char **url, int *world_readable, char *err,
		       size_t errlen);

#endif

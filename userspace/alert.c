/* The alerter: what was last announced per object (server, vrrp, flow table, stats), a queue of
 * undelivered alerts, both kept in a state file, and one webhook request at a time through the
 * loop's HTTP client (http.c). Nothing here blocks. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "alert.h"
#include "http.h"
#include "log.h"
#include "statefile.h"
#include "statewriter.h"
#include "text.h"
#include "url.h"

#define KEY_LEN 160
#define CLS_LEN 8
#define OBJ_MAX 4096

/* What was last announced or queued about one object, e.g. "srv:pgsql/pgb2" -> "DOWN". */
struct obj {
	char key[KEY_LEN];
	char cls[CLS_LEN];
	char announced[CLS_LEN];  /* last delivered; "" = never */
	uint64_t since_ms;        /* wall clock when cls was entered */
};

/* A queued alert: the event, plus the object it moves to which class (for "announced"). */
struct qitem {
	char key[KEY_LEN];
	char cls[CLS_LEN];
	uint64_t queued_ms;       /* wall clock */
};

struct alerter {
	int quiet;                   /* server alerts recorded, not sent (a VRRP backup) */
	struct loop *loop;
	char node[CFG_STR];
	char *state_path;
	char *url;                /* secret: never logged */
	char url_redacted[96];
	unsigned flow_pct;
	struct alert_tuning tune;

	struct obj *objs;
	int nobjs;

	struct slack_event evs[ALERT_QUEUE_MAX];
	struct qitem items[ALERT_QUEUE_MAX];
	int nq;

	struct http *http;
	int own_http;             /* created here, freed here */
	struct timer send_timer;  /* group wait, pacing, backoff */
	struct http_req *post;    /* the webhook request in flight, one at a time */
	int post_n;               /* alerts in it */
	uint64_t next_send_ms;    /* monotonic: not before */
	unsigned attempts;        /* failed attempts of the head of the queue */
	unsigned seed;
	int state_failing;
	int state_dirty;          /* the file is behind memory: written once per loop turn at most */
	struct timer save_timer;
	int single_left;          /* after a refused batch: its alerts go one per message, to find the bad one */

	struct alert_counters n;
};

static const struct alert_tuning tuning_default = {
	.group_wait_ms = 200,
	.pace_ms = 1000,
	.backoff_min_ms = 1000,
	.backoff_max_ms = 60000,
	.retry_after_max_ms = 60000,
	.max_age_ms = 24ull * 3600 * 1000,
	.timeout_ms = 10000,
	.connect_timeout_ms = 5000,
	.batch = 20,
};

static void send_kick(struct alerter *a);

/* ---- pure helpers ---- */

uint64_t alert_backoff_ms(const struct alert_tuning *t, unsigned attempt, uint32_t rnd)
{
	uint64_t d = t->backoff_min_ms, j;

	if (attempt < 1)
		attempt = 1;
	while (--attempt && d < t->backoff_max_ms)
		d *= 2;
	if (d > t->backoff_max_ms)
		d = t->backoff_max_ms;
	/* +-20% so that nodes hit by the same outage do not retry in step. */
	j = d / 5;
	d = d - j + (j ? rnd % (2 * j + 1) : 0);
	return d > t->backoff_max_ms ? t->backoff_max_ms : d;
}

int alert_retry_after(const char *v, uint64_t now_wall_s, uint64_t *secs)
{
	struct tm tm = {};
	const char *end;
	char *e;
	time_t when;

	while (isspace((unsigned char)*v))
		v++;
	if (isdigit((unsigned char)*v)) {
		unsigned long long n;

		errno = 0;
		n = strtoull(v, &e, 10);
		while (isspace((unsigned char)*e))
			e++;
		if (*e || errno)
			return -EINVAL;
		*secs = n;
		return 0;
	}
	/* HTTP-date, IMF-fixdate form: "Sun, 06 Nov 1994 08:49:37 GMT" */
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -EINVAL;
	while (isspace((unsigned char)*end))
		end++;
	if (*end)
		return -EINVAL;
	when = timegm(&tm);
	if (when == (time_t)-1)
		return -EINVAL;
	*secs = (uint64_t)when > now_wall_s ? (uint64_t)when - now_wall_s : 0;
	return 0;
}

int alert_webhook_read(const char *file, const char *env, char **url, int *world_readable, char *err,
		       size_t errlen)
{
	char buf[2048], *s, *e;
	struct stat st;
	ssize_t n;
	int fd, ret;

	*url = NULL;
	*world_readable = 0;
	if (file && file[0]) {
		fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			snprintf(err, errlen, "webhook file %s: %s", file, strerror(errno));
			return ret;
		}
		if (fstat(fd, &st) == 0 && (st.st_mode & (S_IRGRP | S_IROTH)))
			*world_readable = 1;
		n = read(fd, buf, sizeof(buf) - 1);
		ret = -errno;
		close(fd);
		if (n < 0) {
			snprintf(err, errlen, "webhook file %s: %s", file, strerror(-ret));
			return ret;
		}
		buf[n] = '\0';
	} else if (env && env[0]) {
		const char *v = getenv(env);

		if (!v || !v[0]) {
			snprintf(err, errlen, "environment variable %s is not set", env);
			return -ENOENT;
		}
		snprintf(buf, sizeof(buf), "%s", v);
	} else {
		return 0;
	}
	for (s = buf; isspace((unsigned char)*s); s++)
		;
	for (e = s + strlen(s); e > s && isspace((unsigned char)e[-1]); e--)
		;
	*e = '\0';
	if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7)) {
		snprintf(err, errlen, "the webhook %s does not hold an http(s) URL",
			 file && file[0] ? "file" : "variable");
		return -EINVAL;
	}
	if (strpbrk(s, " \t\r\n")) {
		snprintf(err, errlen, "the webhook %s holds more than one URL", file && file[0] ? "file" : "variable");
		return -EINVAL;
	}
	*url = strdup(s);
	return *url ? 0 : -ENOMEM;
}

/* ---- objects and state ---- */

static struct obj *obj_find(struct alerter *a, const char *key)
{
	int i;

	for (i = 0; i < a->nobjs; i++)
		if (!strcmp(a->objs[i].key, key))
			return &a->objs[i];
	return NULL;
}

static struct obj *obj_get(struct alerter *a, const char *key, const char *dflt)
{
	struct obj *o = obj_find(a, key), *objs;

	if (o)
		return o;
	if (a->nobjs >= OBJ_MAX)
		return NULL;
	objs = realloc(a->objs, (a->nobjs + 1) * sizeof(*objs));
	if (!objs)
		return NULL;
	a->objs = objs;
	o = &objs[a->nobjs++];
	memset(o, 0, sizeof(*o));
	snprintf(o->key, sizeof(o->key), "%s", key);
	snprintf(o->cls, sizeof(o->cls), "%s", dflt);
	return o;
}

static struct json_object *event_json(const struct slack_event *ev, const struct qitem *it)
{
	struct json_object *o = json_object_new_object(), *f = json_object_new_array();
	int i;

	if (!o || !f) {
		json_object_put(o);
		json_object_put(f);
		return NULL;
	}
	json_object_object_add(o, "key", json_object_new_string(it->key));
	json_object_object_add(o, "class", json_object_new_string(it->cls));
	json_object_object_add(o, "queued_ms", json_object_new_int64((int64_t)it->queued_ms));
	json_object_object_add(o, "title", json_object_new_string(ev->title));
	json_object_object_add(o, "text", json_object_new_string(ev->text));
	json_object_object_add(o, "color", json_object_new_string(slack_colour_name(ev->colour)));
	json_object_object_add(o, "ts", json_object_new_int64((int64_t)ev->ts));
	for (i = 0; i < ev->nfields; i++) {
		struct json_object *p = json_object_new_array();

		if (!p)
			continue;
		json_object_array_add(p, json_object_new_string(ev->fields[i].title));
		json_object_array_add(p, json_object_new_string(ev->fields[i].value));
		json_object_array_add(f, p);
	}
	json_object_object_add(o, "fields", f);
	return o;
}

static const char *jstr(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static uint64_t jnum(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	return (uint64_t)json_object_get_int64(v);
}

/* Element i of a JSON array as a string; "" when it is not one. */
static const char *jstr_at(struct json_object *a, size_t i)
{
	struct json_object *v = json_object_array_get_idx(a, i);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* A queued alert back from the state file; 0, or -EINVAL when it makes no sense. The file is
 * input like any other (hand-edited, damaged): its texts are made safe to log and to post. */
static int event_parse(struct json_object *o, struct slack_event *ev, struct qitem *it)
{
	struct json_object *f;
	const char *colour = jstr(o, "color");
	size_t i;

	memset(ev, 0, sizeof(*ev));
	memset(it, 0, sizeof(*it));
	if (!json_object_is_type(o, json_type_object) || !jstr(o, "text")[0])
		return -EINVAL;
	snprintf(it->key, sizeof(it->key), "%s", jstr(o, "key"));
	snprintf(it->cls, sizeof(it->cls), "%s", jstr(o, "class"));
	it->queued_ms = jnum(o, "queued_ms");
	snprintf(ev->title, sizeof(ev->title), "%s", jstr(o, "title"));
	snprintf(ev->text, sizeof(ev->text), "%s", jstr(o, "text"));
	ev->colour = !strcmp(colour, "danger") ? SLACK_DANGER : !strcmp(colour, "good") ? SLACK_GOOD
											 : SLACK_WARNING;
	ev->ts = jnum(o, "ts");
	if (json_object_object_get_ex(o, "fields", &f) && json_object_is_type(f, json_type_array)) {
		for (i = 0; i < json_object_array_length(f) && ev->nfields < SLACK_MAX_FIELDS; i++) {
			struct json_object *p = json_object_array_get_idx(f, i);
			struct slack_field *sf;

			if (!json_object_is_type(p, json_type_array) || json_object_array_length(p) != 2)
				continue;
			sf = &ev->fields[ev->nfields++];
			snprintf(sf->title, sizeof(sf->title), "%s", jstr_at(p, 0));
			snprintf(sf->value, sizeof(sf->value), "%s", jstr_at(p, 1));
			text_clean(sf->title);
			text_clean(sf->value);
		}
	}
	text_clean(ev->title);
	text_clean(ev->text);
	return 0;
}

#define STATE_RETRY_MS 5000 /* a state file that cannot be written (disk full, read-only) is retried */

/* The write's result (in the loop): on failure log once per streak, keep the state dirty and retry
 * later (the alerts still go out). */
static void state_written(void *arg, int err)
{
	struct alerter *a = arg;

	if (err && !a->state_failing) {
		log_warnx("alert: cannot write %s: %s (alerts still go out, a restart may repeat or lose some)",
			  a->state_path, strerror(-err));
	} else if (!err && a->state_failing) {
		log_info("alert: %s written again", a->state_path);
	}
	a->state_failing = err != 0;
	if (err) {
		a->state_dirty = 1;
		if (!timer_armed(&a->save_timer))
			timer_arm(&a->save_timer, STATE_RETRY_MS);
	}
}

/* Write the whole state, off the loop (statewriter.h); state_written gets the result. */
static void state_save(struct alerter *a)
{
	struct json_object *root, *objs, *queue;
	int i;

	root = json_object_new_object();
	objs = json_object_new_object();
	queue = json_object_new_array();
	if (!root || !objs || !queue) {
		json_object_put(root);
		json_object_put(objs);
		json_object_put(queue);
		state_written(a, -ENOMEM);
		return;
	}
	json_object_object_add(root, "version", json_object_new_int(1));
	json_object_object_add(root, "node", json_object_new_string(a->node));
	for (i = 0; i < a->nobjs; i++) {
		struct json_object *o = json_object_new_object();

		if (!o)
			continue;
		json_object_object_add(o, "class", json_object_new_string(a->objs[i].cls));
		json_object_object_add(o, "announced", json_object_new_string(a->objs[i].announced));
		json_object_object_add(o, "since_ms", json_object_new_int64((int64_t)a->objs[i].since_ms));
		json_object_object_add(objs, a->objs[i].key, o);
	}
	json_object_object_add(root, "objects", objs);
	for (i = 0; i < a->nq; i++)
		json_object_array_add(queue, event_json(&a->evs[i], &a->items[i]));
	json_object_object_add(root, "queue", queue);
	statewriter_write(a->state_path, root, state_written, a);
	json_object_put(root);
}

/* Write the state if it changed: from the save timer (every change of one loop turn in one write)
 * and when the alerter stops. Until it can be written it stays in memory, and is retried. */
static void state_flush(struct alerter *a)
{
	if (!a->state_dirty || !a->state_path)
		return;
	a->state_dirty = 0; /* state_written sets it again if the write fails */
	state_save(a);
}

static void save_timer_fire(void *arg)
{
	state_flush(arg);
}

/* The state changed: written after this loop turn (two fsyncs per change stalled the loop: one
 * poll of 4096 changed servers took 59 s). */
static void state_changed(struct alerter *a)
{
	if (!a->state_path)
		return;
	if (!a->state_dirty) /* else the timer is armed already: for this turn, or for a retry */
		timer_arm(&a->save_timer, 0);
	a->state_dirty = 1;
}

/* Is service/server (or the service of a flood) still configured? */
static int configured(const struct config *cfg, const char *key)
{
	char svc[KEY_LEN];
	const char *slash;
	int i, j;

	if (!strncmp(key, "flood:", 6)) {
		for (i = 0; i < cfg->nservices; i++)
			if (!strcmp(cfg->services[i].name, key + 6))
				return 1;
		return 0;
	}
	if (strncmp(key, "srv:", 4))
		return 1;
	key += 4;
	slash = strchr(key, '/');
	if (!slash)
		return 0;
	snprintf(svc, sizeof(svc), "%.*s", (int)(slash - key), key);
	for (i = 0; i < cfg->nservices; i++) {
		if (strcmp(cfg->services[i].name, svc))
			continue;
		for (j = 0; j < cfg->services[i].nservers; j++)
			if (!strcmp(cfg->services[i].servers[j].name, slash + 1))
				return 1;
	}
	return 0;
}

static void state_load(struct alerter *a, const struct config *cfg)
{
	struct json_object *root, *objs, *queue;
	char err[PATH_MAX + 128], aside[PATH_MAX + 16];
	uint64_t now = wall_ms();
	size_t i;
	int ret, dropped = 0;

	ret = statefile_read(a->state_path, &root, err, sizeof(err));
	if (ret == -ENOENT)
		return; /* first run: every object starts at its default (UP, OK) */
	if (ret) {
		log_warnx("alert: %s; starting without alert state", err);
		if (ret == -EBADMSG) {
			snprintf(aside, sizeof(aside), "%s.corrupt", a->state_path);
			if (rename(a->state_path, aside) == 0)
				log_warnx("alert: the unreadable state was kept as %s", aside);
		}
		return;
	}
	if (json_object_object_get_ex(root, "objects", &objs) && json_object_is_type(objs, json_type_object)) {
		json_object_object_foreach(objs, key, val) {
			struct obj *o;

			if (!json_object_is_type(val, json_type_object) || !jstr(val, "class")[0])
				continue;
			if (cfg && !configured(cfg, key))
				continue;
			o = obj_get(a, key, jstr(val, "class"));
			if (!o)
				break;
			snprintf(o->announced, sizeof(o->announced), "%s", jstr(val, "announced"));
			o->since_ms = jnum(val, "since_ms");
		}
	}
	if (json_object_object_get_ex(root, "queue", &queue) && json_object_is_type(queue, json_type_array)) {
		for (i = 0; i < json_object_array_length(queue) && a->nq < ALERT_QUEUE_MAX; i++) {
			struct slack_event *ev = &a->evs[a->nq];
			struct qitem *it = &a->items[a->nq];

			if (event_parse(json_object_array_get_idx(queue, i), ev, it))
				continue;
			if (now - it->queued_ms > a->tune.max_age_ms) {
				dropped++;
				continue;
			}
			a->nq++;
		}
	}
	json_object_put(root);
	if (dropped) {
		a->n.dropped += dropped;
		log_warnx("alert: dropped %d undelivered alert(s) older than %llus", dropped,
			  (unsigned long long)(a->tune.max_age_ms / 1000));
	}
	if (a->nq)
		log_info("alert: %d undelivered alert(s) from before the restart", a->nq);
}

/* ---- the queue ---- */

static void queue_drop_head(struct alerter *a, int n)
{
	if (n > a->nq)
		n = a->nq;
	memmove(a->evs, a->evs + n, (a->nq - n) * sizeof(a->evs[0]));
	memmove(a->items, a->items + n, (a->nq - n) * sizeof(a->items[0]));
	a->nq -= n;
}

/* Record obj -> cls and queue ev; the caller has checked that cls is news. */
static void enqueue(struct alerter *a, struct obj *o, const char *cls, const struct slack_event *ev)
{
	struct qitem *it;

	if (o) {
		snprintf(o->cls, sizeof(o->cls), "%s", cls);
		o->since_ms = wall_ms();
	}
	log_info("alert: %s", ev->text);
	if (!a->url) {
		/* No webhook configured: the log line above is the alert. */
		if (o)
			snprintf(o->announced, sizeof(o->announced), "%s", cls);
		state_changed(a);
		return;
	}
	if (a->nq == ALERT_QUEUE_MAX) {
		/* Keep the newest: they say how things are now. The head may be in flight. */
		int victim = a->post ? a->post_n : 0;

		if (victim >= a->nq)
			victim = a->nq - 1;
		log_warnx("alert: queue full, dropping \"%s\"", a->evs[victim].text);
		memmove(&a->evs[victim], &a->evs[victim + 1], (a->nq - victim - 1) * sizeof(a->evs[0]));
		memmove(&a->items[victim], &a->items[victim + 1], (a->nq - victim - 1) * sizeof(a->items[0]));
		a->nq--;
		a->n.dropped++;
	}
	if (a->nq == 0 && !a->post) {
		/* First of a burst: wait a moment so the rest of it goes in the same message. */
		uint64_t t = now_ms() + a->tune.group_wait_ms;

		if (a->next_send_ms < t)
			a->next_send_ms = t;
	}
	a->evs[a->nq] = *ev;
	it = &a->items[a->nq++];
	memset(it, 0, sizeof(*it));
	if (o) {
		snprintf(it->key, sizeof(it->key), "%s", o->key);
		snprintf(it->cls, sizeof(it->cls), "%s", cls);
	}
	it->queued_ms = wall_ms();
	state_changed(a);
	send_kick(a);
}

void alert_class(struct alerter *a, const char *service, const char *server, enum srv_class to,
		 const char *check_status, const char *check_desc)
{
	char key[KEY_LEN];
	const char *cls = srv_class_name(to);
	struct slack_event ev;
	enum srv_class from = CLASS_UP;
	uint64_t down_s = UINT64_MAX, now = wall_ms();
	struct obj *o;
	int c;

	if (!a || a->quiet) /* a VRRP backup: the master tells (see alert_adopt) */
		return;
	snprintf(key, sizeof(key), "srv:%s/%s", service, server);
	o = obj_get(a, key, srv_class_name(CLASS_UP));
	if (o && !strcmp(o->cls, cls))
		return;
	if (o) {
		for (c = CLASS_UP; c <= CLASS_MAINT; c++)
			if (!strcmp(o->cls, srv_class_name(c)))
				from = c;
		if (o->since_ms && o->since_ms <= now)
			down_s = (now - o->since_ms) / 1000;
	}
	slack_server(&ev, a->node, service, server, from, to, check_status, check_desc, down_s, now / 1000);
	enqueue(a, o, cls, &ev);
}

void alerter_quiet(struct alerter *a, int quiet)
{
	if (a)
		a->quiet = quiet;
}

void alert_adopt(struct alerter *a, const struct server_rt *s)
{
	const char *cls = srv_class_name(server_class(s));
	char key[KEY_LEN];
	struct obj *o;

	if (!a || !s->svc)
		return;
	snprintf(key, sizeof(key), "srv:%s/%s", s->svc->cfg.name, s->cfg.name);
	o = obj_get(a, key, srv_class_name(CLASS_UP));
	if (!o || !strcmp(o->cls, cls))
		return;
	snprintf(o->cls, sizeof(o->cls), "%s", cls);
	snprintf(o->announced, sizeof(o->announced), "%s", cls);
	o->since_ms = wall_ms();
	state_changed(a);
}

void alert_server(struct alerter *a, const struct server_rt *s, enum srv_class from, enum srv_class to)
{
	const char *status = NULL;

	if (!a || !s)
		return;
	if (s->checked && s->last.status != CHK_UNK)
		status = chk_status_name(s->last.status);
	alert_class(a, s->svc ? s->svc->cfg.name : "", s->cfg.name, to, status, s->checked ? s->last.desc : NULL);
}

void alert_vrrp(struct alerter *a, enum vrrp_alert kind, const char *self, const char *peer,
		const char *why)
{
	const char *role = kind == VRRP_ALERT_TAKEOVER || kind == VRRP_ALERT_PREEMPT || kind == VRRP_ALERT_ELECTED ? "MASTER"
			   : kind == VRRP_ALERT_FAULT				  ? "FAULT"
										  : "BACKUP";
	struct slack_event ev;
	struct obj *o;

	if (!a)
		return;
	o = obj_get(a, "vrrp", "");
	if (o && !strcmp(o->cls, role))
		return;
	/* Record-only: no news (backup), a first election, or a node's first ever start ("rejoined"
	 * would be news only for a node that was part of the pair before). */
	if (kind == VRRP_ALERT_BACKUP || kind == VRRP_ALERT_ELECTED || (kind == VRRP_ALERT_REJOINED && o && !o->cls[0])) {
		if (o) {
			snprintf(o->cls, sizeof(o->cls), "%s", role);
			o->since_ms = wall_ms();
			state_changed(a);
		}
		return;
	}
	slack_vrrp(&ev, kind, self && self[0] ? self : a->node, peer, why, wall_ms() / 1000);
	enqueue(a, o, role, &ev);
}

void alert_flow_table(struct alerter *a, unsigned pct)
{
	struct slack_event ev;
	struct obj *o;
	int full;

	if (!a || !a->flow_pct)
		return;
	o = obj_find(a, "flowtable");
	full = o && !strcmp(o->cls, "FULL");
	if (!full && pct > a->flow_pct) {
		o = obj_get(a, "flowtable", "OK");
		slack_flow_table(&ev, a->node, pct, 1, wall_ms() / 1000);
		enqueue(a, o, "FULL", &ev);
	} else if (full && pct + 10 <= a->flow_pct) {
		slack_flow_table(&ev, a->node, pct, 0, wall_ms() / 1000);
		enqueue(a, o, "OK", &ev);
	}
}

void alert_flood(struct alerter *a, const struct slack_flood *f)
{
	const char *cls = f->on ? "FLOOD" : "OK";
	char key[KEY_LEN];
	struct slack_event ev;
	struct obj *o;

	if (!a)
		return;
	snprintf(key, sizeof(key), "flood:%s", f->service);
	o = f->on ? obj_get(a, key, "OK") : obj_find(a, key);
	if (!o || !strcmp(o->cls, cls))
		return;
	slack_flood(&ev, a->node, f, wall_ms() / 1000);
	enqueue(a, o, cls, &ev);
}

void alert_stats(struct alerter *a, const char *source, int up, const char *why)
{
	const char *cls = up ? "UP" : "DOWN";
	struct slack_event ev;
	struct obj *o;

	if (!a)
		return;
	o = obj_get(a, "stats", "UP");
	if (o && !strcmp(o->cls, cls))
		return;
	slack_stats(&ev, a->node, source, up, why, wall_ms() / 1000);
	enqueue(a, o, cls, &ev);
}

/* ---- the webhook's answer ---- */

/* A short, printable excerpt of an error answer ("invalid_token"). */
static void excerpt(const char *in, char *out, size_t len)
{
	size_t i;

	for (i = 0; in[i] && i + 1 < len && i < 60; i++)
		out[i] = isprint((unsigned char)in[i]) ? in[i] : ' ';
	out[i] = '\0';
}

static void post_done(void *arg, const struct http_result *res)
{
	struct alerter *a = arg;
	uint64_t delay = 0, secs;
	char why[96], body[64];
	int n = a->post_n;

	a->post = NULL;
	excerpt(res->body, body, sizeof(body));
	if (http_ok(res)) {
		int i;

		if (a->attempts)
			log_info("alert: the webhook works again (%d alert(s) delivered after %u failed attempt(s))",
				 n, a->attempts);
		else
			log_debug("alert: %d alert(s) delivered", n);
		for (i = 0; i < n && i < a->nq; i++) {
			struct obj *o = a->items[i].key[0] ? obj_find(a, a->items[i].key) : NULL;

			if (o)
				snprintf(o->announced, sizeof(o->announced), "%s", a->items[i].cls);
		}
		queue_drop_head(a, n);
		a->n.sent += n;
		a->attempts = 0;
		if (a->single_left)
			a->single_left--;
		a->next_send_ms = now_ms() + a->tune.pace_ms;
		state_changed(a);
		goto next;
	}
	a->n.failed++;
	if (!res->transport_err && res->status >= 400 && res->status < 500 && res->status != 429 &&
	    res->status != 408 && n > 1) {
		/* One alert of a batch may be what is refused: send them one per message, so that only
		 * a refused one is dropped. */
		log_warnx("alert: the webhook refused a message of %d alerts with HTTP %ld (%s); sending them one by one",
			  n, res->status, body);
		a->single_left = n;
		a->next_send_ms = now_ms() + a->tune.pace_ms;
		goto next;
	}
	if (!res->transport_err && res->status >= 400 && res->status < 500 && res->status != 429 &&
	    res->status != 408) {
		/* Permanent: the payload or the webhook itself is refused; retrying cannot help. */
		log_warnx("alert: the webhook refused %d alert(s) with HTTP %ld (%s); dropped%s", n, res->status, body,
			  res->status == 403 || res->status == 404 || res->status == 410 ? "; the alert path is broken" : "");
		queue_drop_head(a, n);
		a->n.dropped += n;
		a->attempts = 0;
		if (a->single_left)
			a->single_left--;
		a->next_send_ms = now_ms() + a->tune.pace_ms;
		state_changed(a);
		goto next;
	}
	a->attempts++;
	if (res->transport_err)
		snprintf(why, sizeof(why), "%s", res->transport_err);
	else
		snprintf(why, sizeof(why), "HTTP %ld %s", res->status, body);
	if (!res->transport_err && res->status == 429 && res->retry_after[0] &&
	    alert_retry_after(res->retry_after, wall_ms() / 1000, &secs) == 0) {
		delay = secs * 1000;
		if (delay > a->tune.retry_after_max_ms)
			delay = a->tune.retry_after_max_ms;
	} else {
		delay = alert_backoff_ms(&a->tune, a->attempts, rand_r(&a->seed));
	}
	/* Say it at the first failure and then now and then, not at every retry for a day. */
	if (a->attempts == 1 || a->attempts % 20 == 0)
		log_warnx("alert: the webhook failed (%s), attempt %u, retrying in %llu ms (%d alert(s) queued)", why,
			  a->attempts, (unsigned long long)delay, a->nq);
	else
		log_debug("alert: the webhook failed (%s), attempt %u, retrying in %llu ms", why, a->attempts,
			  (unsigned long long)delay);
	a->next_send_ms = now_ms() + delay;
next:
	send_kick(a);
}

/* ---- sending ---- */

/* Start the webhook request for the head of the queue: up to batch alerts in one message. */
static void send_start(struct alerter *a)
{
	struct http_opts o = {
		.content_type = "application/json",
		.timeout_ms = a->tune.timeout_ms,
		.connect_timeout_ms = a->tune.connect_timeout_ms,
		.max_body = 512,
	};
	uint64_t now = wall_ms();
	char *json;
	int n, old = 0, ret;

	while (a->nq && now - a->items[0].queued_ms > a->tune.max_age_ms) {
		log_warnx("alert: giving up on \"%s\" after %llus undelivered", a->evs[0].text,
			  (unsigned long long)(a->tune.max_age_ms / 1000));
		queue_drop_head(a, 1);
		a->n.dropped++;
		old++;
	}
	if (old)
		state_changed(a);
	if (!a->nq)
		return;
	n = a->single_left ? 1 : a->nq < a->tune.batch ? a->nq : a->tune.batch;
	if (slack_payload(a->evs, n, &json))
		goto retry;
	o.url = a->url;
	o.body = json;
	ret = http_start(a->http, &o, post_done, a, &a->post);
	free(json);
	if (ret)
		goto retry;
	a->post_n = n;
	return;
retry:
	/* Out of memory: try again later rather than lose the alerts. */
	a->next_send_ms = now_ms() + a->tune.backoff_min_ms;
	timer_arm(&a->send_timer, a->tune.backoff_min_ms);
}

static void send_kick(struct alerter *a)
{
	uint64_t now;

	if (!a->url || a->post || !a->nq)
		return;
	now = now_ms();
	if (now >= a->next_send_ms)
		send_start(a);
	else
		timer_arm(&a->send_timer, a->next_send_ms - now);
}

static void send_timer_fire(void *arg)
{
	send_kick(arg);
}

/* ---- life cycle ---- */

struct alerter *alerter_open(struct loop *l, const struct alert_params *p, char *err, size_t errlen)
{
	struct alerter *a = calloc(1, sizeof(*a));
	int loose = 0, ret;

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->loop = l;
	a->tune = tuning_default;
	a->send_timer.fd = a->save_timer.fd = -1;
	a->seed = (unsigned)(now_ns() ^ (uint64_t)getpid());
	a->flow_pct = p->flow_table_pct;
	snprintf(a->node, sizeof(a->node), "%s", p->node && p->node[0] ? p->node : "pgsteer");
	ret = alert_webhook_read(p->webhook_file, p->webhook_env, &a->url, &loose, err, errlen);
	if (ret)
		goto fail;
	if (p->state_path && p->state_path[0]) {
		a->state_path = strdup(p->state_path);
		if (!a->state_path)
			goto nomem;
	}
	a->http = p->http;
	if (!a->http) {
		a->http = http_new(l, err, errlen);
		if (!a->http)
			goto fail;
		a->own_http = 1;
	}
	ret = timer_init(&a->send_timer, l, send_timer_fire, a);
	if (!ret)
		ret = timer_init(&a->save_timer, l, save_timer_fire, a);
	if (ret) {
		snprintf(err, errlen, "alert timer: %s", strerror(-ret));
		goto fail;
	}
	if (a->url) {
		url_redact(a->url, URL_REDACT_PATH, a->url_redacted, sizeof(a->url_redacted));
		if (loose)
			log_warnx("alert: %s is readable by group or others; it holds a secret (chmod 600)",
				  p->webhook_file);
	}
	if (a->state_path)
		state_load(a, p->cfg);
	send_kick(a);
	return a;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	alerter_free(a);
	return NULL;
}

struct alerter *alerter_new(struct loop *l, const struct config *cfg, char *err, size_t errlen)
{
	struct alert_params p = {
		.node = cfg->node_name,
		.webhook_file = cfg->alert.webhook_file,
		.webhook_env = cfg->alert.webhook_env,
		.flow_table_pct = cfg->alert.flow_table_pct,
		.cfg = cfg,
	};
	char path[PATH_MAX + 16];
	struct alerter *a;

	snprintf(path, sizeof(path), "%s/alerts.json", cfg->state_dir);
	p.state_path = cfg->state_dir[0] ? path : NULL;
	a = alerter_open(l, &p, err, errlen);
	if (a && a->url)
		log_info("alert: posting to the webhook %s", a->url_redacted);
	else if (a)
		log_info("alert: no webhook configured, alerts are only logged");
	return a;
}

void alerter_tune(struct alerter *a, const struct alert_tuning *t)
{
	a->tune = *t;
	if (a->tune.batch < 1)
		a->tune.batch = 1;
}

void alerter_free(struct alerter *a)
{
	if (!a)
		return;
	if (a->save_timer.fd >= 0)
		state_flush(a);
	statewriter_drain(); /* no write of this alerter's may call back after it is gone */
	http_cancel(a->post);
	if (a->own_http)
		http_free(a->http);
	timer_close(&a->send_timer);
	timer_close(&a->save_timer);
	if (a->url) {
		/* Do not leave the secret in freed memory. */
		explicit_bzero(a->url, strlen(a->url));
		free(a->url);
	}
	free(a->state_path);
	free(a->objs);
	free(a);
}

void alerter_counters(const struct alerter *a, struct alert_counters *c)
{
	*c = a->n;
	c->queued = a->nq;
}

void alerter_fill(const struct alerter *a, struct model *m)
{
	struct alert_counters c;

	if (!a)
		return;
	alerter_counters(a, &c);
	m->alerts.queued = c.queued;
	m->alerts.sent = c.sent;
	m->alerts.failed = c.failed;
	m->alerts.dropped = c.dropped;
}

int alerter_idle(const struct alerter *a)
{
	return !a->nq && !a->post;
}

/* The server state that outlives a process or a configuration, and its one JSON form. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <json-c/json.h>
#include "log.h"
#include "loop.h"
#include "persist.h"
#include "statefile.h"
#include "statewriter.h"
#include "text.h"

/* The fields copied as they are, in both directions. */
#define STATE_FIELDS(X) X(admin) X(uweight) X(last) X(chkfail) X(chkdown) X(last_change_ms) \
	X(down_since_ms) X(downtime_ms) X(up_since_ms) X(smax) X(reported)

struct server_state server_state_get(const struct server_rt *s)
{
	struct server_state st = { .health = s->health.health, .up = s->health.up };

#define GET(f) st.f = s->f;
	STATE_FIELDS(GET)
#undef GET
	return st;
}

void server_state_set(struct server_rt *s, const struct server_state *st)
{
#define SET(f) s->f = st->f;
	STATE_FIELDS(SET)
#undef SET
	s->health.health = st->health;
	s->health.up = st->up;
}

/* --- the JSON form ----------------------------------------------------------------------------- */

#define PART_CHANGES 1u /* admin, weight */
#define PART_HEALTH 2u  /* health and check history */

static const struct {
	const char *key;
	size_t off;
	int clock; /* a point in time on CLOCK_MONOTONIC: never after now */
} u64_fields[] = {
	{ "chkfail", offsetof(struct server_state, chkfail), 0 },
	{ "chkdown", offsetof(struct server_state, chkdown), 0 },
	{ "last_change_ms", offsetof(struct server_state, last_change_ms), 1 },
	{ "down_since_ms", offsetof(struct server_state, down_since_ms), 1 },
	{ "downtime_ms", offsetof(struct server_state, downtime_ms), 0 },
	{ "up_since_ms", offsetof(struct server_state, up_since_ms), 1 },
	{ "smax", offsetof(struct server_state, smax), 0 },
};

#define NFIELDS (sizeof(u64_fields) / sizeof(u64_fields[0]))
#define U64_AT(st, i) ((uint64_t *)((char *)(st) + u64_fields[i].off))

static struct json_object *state_to_json(const struct server_state *st, unsigned parts)
{
	struct json_object *o = json_object_new_object();
	size_t i;

	if (parts & PART_CHANGES) {
		json_object_object_add(o, "admin", json_object_new_string(admin_name(st->admin)));
		json_object_object_add(o, "weight", json_object_new_int((int)st->uweight));
	}
	if (parts & PART_HEALTH) {
		json_object_object_add(o, "health", json_object_new_int64(st->health));
		json_object_object_add(o, "up", json_object_new_int(st->up));
		json_object_object_add(o, "status", json_object_new_int(st->last.status));
		json_object_object_add(o, "ok", json_object_new_int(st->last.ok));
		json_object_object_add(o, "duration_ms", json_object_new_int64(st->last.duration_ms));
		json_object_object_add(o, "code", json_object_new_string(st->last.code));
		json_object_object_add(o, "desc", json_object_new_string(st->last.desc));
		for (i = 0; i < NFIELDS; i++)
			json_object_object_add(o, u64_fields[i].key, json_object_new_int64((int64_t)*U64_AT(st, i)));
	}
	return o;
}

/* A file is input like any other (hand-edited, from another version, damaged): a field is taken
 * only with the right JSON type and in range, anything else keeps what the server already has. */
static int jint(struct json_object *o, const char *k, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	int64_t n;

	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int))
		return 0;
	n = json_object_get_int64(v);
	if (n < min || n > max)
		return 0;
	*out = n;
	return 1;
}

static void jstr(struct json_object *o, const char *k, char *buf, size_t len)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)) {
		snprintf(buf, len, "%s", json_object_get_string(v));
		text_clean(buf);
	}
}

/* Read the parts of st that o holds; health only if it fits s's rise and fall, weight only in range,
 * timestamps (monotonic, valid across a restart in place) not after now. */
static void state_from_json(struct json_object *o, unsigned parts, const struct server_rt *s, struct server_state *st)
{
	struct json_object *v;
	uint64_t now = now_ms();
	int64_t n;
	size_t i;

	if (!json_object_is_type(o, json_type_object))
		return;
	if (parts & PART_CHANGES) {
		if (json_object_object_get_ex(o, "admin", &v) && json_object_is_type(v, json_type_string)) {
			const char *a = json_object_get_string(v);

			st->admin = !strcmp(a, "maint") ? ADMIN_MAINT : !strcmp(a, "drain") ? ADMIN_DRAIN : ADMIN_READY;
		}
		if (jint(o, "weight", 0, 256, &n))
			st->uweight = (uint32_t)n;
	}
	if (parts & PART_HEALTH) {
		if (jint(o, "health", 0, (int64_t)s->health.rise + s->health.fall - 1, &n))
			st->health = (uint32_t)n;
		if (jint(o, "up", 0, 1, &n))
			st->up = (int)n;
		if (jint(o, "status", 0, CHK_MAX - 1, &n))
			st->last.status = (enum chk_status)n;
		if (jint(o, "ok", 0, 1, &n))
			st->last.ok = (int)n;
		if (jint(o, "duration_ms", 0, UINT32_MAX, &n))
			st->last.duration_ms = (uint32_t)n;
		jstr(o, "code", st->last.code, sizeof(st->last.code));
		jstr(o, "desc", st->last.desc, sizeof(st->last.desc));
		for (i = 0; i < NFIELDS; i++)
			if (jint(o, u64_fields[i].key, 0, u64_fields[i].clock ? (int64_t)now : INT64_MAX, &n))
				*U64_AT(st, i) = (uint64_t)n;
		/* a down time cannot be longer than the clock has run */
		if (st->downtime_ms > now)
			st->downtime_ms = now;
	}
}

static void server_key(const struct server_rt *s, char *key, size_t len)
{
	snprintf(key, len, "%s/%s", s->svc->cfg.name, s->cfg.name);
}

/* --- reload ------------------------------------------------------------------------------------ */

void persist_carry_over(struct model *m, const struct model *old)
{
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			struct server_rt *s = &m->services[i].servers[j];
			const struct server_rt *o = model_server((struct model *)old, s->svc->cfg.name, s->cfg.name);
			struct server_state st;

			if (!o)
				continue;
			st = server_state_get(o);
			/* Runtime changes stay, unless the config itself changed that setting. */
			st.admin = o->cfg.disabled != s->cfg.disabled ? s->admin : o->admin;
			st.uweight = o->uweight == o->cfg.weight ? s->cfg.weight : o->uweight;
			if (st.health >= s->health.rise + s->health.fall)
				st.health = s->health.rise;
			server_state_set(s, &st);
		}
	m->flows = old->flows;
	m->flows_expired = old->flows_expired;
}

/* --- the state file ---------------------------------------------------------------------------- */

static void path_in(char *buf, size_t len, const char *dir, const char *file)
{
	snprintf(buf, len, "%s/%s", dir, file);
}

static char changes_path[PATH_MAX]; /* the last servers.json written (one state directory a process) */

static void changes_saved(void *arg, int err)
{
	if (err)
		log_warnx("cannot save runtime changes to %s: %s", changes_path, strerror(-err));
}

void persist_save_changes(const struct model *m, const char *state_dir)
{
	struct json_object *root = json_object_new_object();
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			const struct server_rt *s = &m->services[i].servers[j];
			struct server_state st = server_state_get(s);
			char key[2 * PGS_NAME_LEN + 2];

			/* Only what differs from the config: the config stays the reference at start. */
			if (s->admin == (s->cfg.disabled ? ADMIN_MAINT : ADMIN_READY) && s->uweight == s->cfg.weight)
				continue;
			server_key(s, key, sizeof(key));
			json_object_object_add(root, key, state_to_json(&st, PART_CHANGES));
		}
	path_in(changes_path, sizeof(changes_path), state_dir, "servers.json");
	/* Off the loop (statewriter.h): a runtime command's fsyncs never delay a VRRP advert. */
	statewriter_write(changes_path, root, changes_saved, NULL);
	json_object_put(root);
}

void persist_load_changes(struct model *m, const char *state_dir)
{
	struct json_object *root = NULL;
	char path[PATH_MAX], err[512];
	int r;

	path_in(path, sizeof(path), state_dir, "servers.json");
	r = statefile_read(path, &root, err, sizeof(err));
	if (r == -ENOENT)
		return;
	if (r) {
		log_warnx("ignoring runtime changes saved in %s: %s", path, r == -EBADMSG ? err : strerror(-r));
		return;
	}
	json_object_object_foreach(root, key, val) {
		struct server_rt *s = model_find(m, key);
		struct server_state st;

		if (!s) {
			char name[2 * PGS_NAME_LEN + 2];

			snprintf(name, sizeof(name), "%s", key);
			text_clean(name);
			log_info("runtime change for %s dropped: no such server in the configuration", name);
			continue;
		}
		st = server_state_get(s);
		state_from_json(val, PART_CHANGES, s, &st);
		server_state_set(s, &st);
		log_info("%s: runtime state restored (%s, weight %u)", key, admin_name(s->admin), s->uweight);
	}
	json_object_put(root);
}

/* --- the restart in place ---------------------------------------------------------------------- */

void persist_save_handover(const struct model *m, const char *state_dir)
{
	struct json_object *root = json_object_new_object();
	char path[PATH_MAX];
	int i, j;

	for (i = 0; i < m->nservices; i++)
		for (j = 0; j < m->services[i].nservers; j++) {
			const struct server_rt *s = &m->services[i].servers[j];
			struct server_state st = server_state_get(s);
			char key[2 * PGS_NAME_LEN + 2];

			server_key(s, key, sizeof(key));
			json_object_object_add(root, key, state_to_json(&st, PART_HEALTH));
		}
	path_in(path, sizeof(path), state_dir, "handover.json");
	if (statefile_write(path, root))
		log_warnx("restart in place: cannot save the servers' health to %s", path);
	json_object_put(root);
}

void persist_load_handover(struct model *m, const char *state_dir)
{
	struct json_object *root = NULL;
	char path[PATH_MAX], err[512];

	path_in(path, sizeof(path), state_dir, "handover.json");
	if (statefile_read(path, &root, err, sizeof(err)))
		return;
	unlink(path);
	json_object_object_foreach(root, key, o) {
		struct server_rt *s = model_find(m, key);
		struct server_state st;

		if (!s)
			continue;
		st = server_state_get(s);
		state_from_json(o, PART_HEALTH, s, &st);
		server_state_set(s, &st);
		s->reported = server_class(s);
	}
	json_object_put(root);
	log_info("restart in place: servers' health taken over");
}

int persist_lock(const char *state_dir)
{
	char lock[PATH_MAX];
	int fd, e;

	snprintf(lock, sizeof(lock), "%s/pgsteerd.lock", state_dir);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

/* The server state that outlives a process: the handover and the state file give back what was
 * saved, and a reload keeps the state of servers that stay. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "backend.h"
#include "config.h"
#include "loop.h"
#include "persist.h"

static const char *conf_text = "global\n interface eth0\n"
			       "service rw\n bind 10.0.0.1:5432\n check tcp rise 2 fall 3\n"
			       " server pgb1 10.0.0.5:6432\n server pgb2 10.0.0.5:6433 weight 3\n";
static struct config cfg;
static struct model m, back, old;
static char dir[] = "/tmp/pgsteer-persist-XXXXXX";

static void fresh(struct model *x)
{
	char err[256];

	if (config_parse(conf_text, "t.conf", &cfg, err, sizeof(err)))
		printf("     config: %s\n", err);
	model_init(x, &cfg, 0, NULL);
}

/* A state unlike the one model_init gives, in every field that is serialized. */
static void scribble(struct server_rt *s)
{
	struct server_state st = server_state_get(s);

	st.admin = ADMIN_DRAIN;
	st.uweight = 7;
	st.health = 1;
	st.up = 0;
	st.last.status = CHK_L4CON;
	st.last.ok = 0;
	st.last.duration_ms = 42;
	snprintf(st.last.code, sizeof(st.last.code), "28P01");
	snprintf(st.last.desc, sizeof(st.last.desc), "refused");
	st.chkfail = 11;
	st.chkdown = 12;
	st.last_change_ms = 13;
	st.down_since_ms = 14;
	st.downtime_ms = 15;
	st.up_since_ms = 16;
	st.smax = 17;
	server_state_set(s, &st);
}

static void handover_round_trip(void)
{
	struct server_rt *s, *t;

	fresh(&m);
	s = model_find(&m, "rw/pgb2");
	scribble(s);
	persist_save_handover(&m, dir);
	fresh(&back);
	persist_load_handover(&back, dir);
	t = model_find(&back, "rw/pgb2");
	CHECK_EQ(t->health.health, 1);
	CHECK_EQ(t->health.up, 0);
	CHECK_EQ(t->last.status, CHK_L4CON);
	CHECK_EQ(t->last.duration_ms, 42);
	CHECK_STR(t->last.code, "28P01");
	CHECK_STR(t->last.desc, "refused");
	CHECK_EQ(t->chkfail, 11);
	CHECK_EQ(t->chkdown, 12);
	CHECK_EQ(t->last_change_ms, 13);
	CHECK_EQ(t->down_since_ms, 14);
	CHECK_EQ(t->downtime_ms, 15);
	CHECK_EQ(t->up_since_ms, 16);
	CHECK_EQ(t->smax, 17);
	CHECK_EQ(t->reported, server_class(t));
	/* The operator's changes are the state file's, not the handover's: the new config decides. */
	CHECK_EQ(t->admin, ADMIN_READY);
	CHECK_EQ(t->uweight, 3);
	CHECK_EQ(model_find(&back, "rw/pgb1")->chkfail, 0);
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/handover.json", dir);
		CHECK(access(path, F_OK) != 0, "the handover is read once: %s must be gone", path);
	}
}

static void changes_round_trip(void)
{
	fresh(&m);
	scribble(model_find(&m, "rw/pgb1"));
	persist_save_changes(&m, dir);
	fresh(&back);
	persist_load_changes(&back, dir);
	CHECK_EQ(model_find(&back, "rw/pgb1")->admin, ADMIN_DRAIN);
	CHECK_EQ(model_find(&back, "rw/pgb1")->uweight, 7);
	/* Only the changes: health stays what the new process starts with. */
	CHECK_EQ(model_find(&back, "rw/pgb1")->chkfail, 0);
	CHECK_EQ(model_find(&back, "rw/pgb2")->admin, ADMIN_READY);
	CHECK_EQ(model_find(&back, "rw/pgb2")->uweight, 3);
}

static void reload_carries_state_over(void)
{
	struct server_rt *t;

	fresh(&old);
	scribble(model_find(&old, "rw/pgb2"));
	old.flows = 5;
	fresh(&m);
	persist_carry_over(&m, &old);
	t = model_find(&m, "rw/pgb2");
	CHECK_EQ(t->admin, ADMIN_DRAIN);
	CHECK_EQ(t->uweight, 7);
	CHECK_EQ(t->health.health, 1);
	CHECK_EQ(t->chkdown, 12);
	CHECK_EQ(t->smax, 17);
	CHECK_STR(t->last.desc, "refused");
	CHECK_EQ(m.flows, 5);
}

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		printf("     cannot write %s\n", path);
		exit(1);
	}
}

/* A state file is input: a field of the wrong type or out of range is ignored, never a crash. */
static void changes_bad_fields_ignored(void)
{
	static const char *bad[] = {
		"{\"rw/pgb1\":{\"admin\":null}}",
		"{\"rw/pgb1\":{\"admin\":[1,2],\"weight\":\"abc\"}}",
		"{\"rw/pgb1\":{\"admin\":7,\"weight\":-1}}",
		"{\"rw/pgb1\":{\"weight\":257}}",
		"{\"rw/pgb1\":{\"weight\":1.5e300}}",
		"{\"rw/pgb1\":5,\"rw/pgb2\":null}",
		"{\"rw/pgb1\\n[ALERT] forged line\":{\"admin\":\"maint\"}}",
	};
	struct server_rt *s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file("servers.json", bad[i]);
		fresh(&back);
		persist_load_changes(&back, dir);
		s = model_find(&back, "rw/pgb1");
		CHECK(s->admin == ADMIN_READY && s->uweight == 1, "%s: admin %d weight %u", bad[i], s->admin, s->uweight);
		CHECK_EQ(model_find(&back, "rw/pgb2")->uweight, 3);
	}
	/* the good fields of a file beside bad ones still count */
	write_file("servers.json", "{\"rw/pgb1\":{\"admin\":\"drain\",\"weight\":\"abc\"}}");
	fresh(&back);
	persist_load_changes(&back, dir);
	CHECK_EQ(model_find(&back, "rw/pgb1")->admin, ADMIN_DRAIN);
	CHECK_EQ(model_find(&back, "rw/pgb1")->uweight, 1);
}

/* The handover: a negative or too large health, a future timestamp, an unknown status, a description
 * with a newline keep the new process's own value (or a clean one). */
static void handover_bad_fields_ignored(void)
{
	char text[1024];
	enum chk_status status0;
	struct server_rt *s;
	uint64_t now = now_ms();

	snprintf(text, sizeof(text),
		 "{\"rw/pgb1\":{\"health\":-5,\"up\":7,\"status\":999,\"ok\":\"1\","
		 "\"last_change_ms\":%llu,\"down_since_ms\":-3,\"downtime_ms\":%llu,\"up_since_ms\":%llu,"
		 "\"chkfail\":\"x\",\"desc\":\"line1\\nline2\\u0000x\",\"code\":null},"
		 "\"rw/pgb2\":{\"health\":5}}",
		 (unsigned long long)now + 3600000, (unsigned long long)now + 3600000, (unsigned long long)-1 >> 1);
	write_file("handover.json", text);
	fresh(&back);
	s = model_find(&back, "rw/pgb1");
	status0 = s->last.status;
	persist_load_handover(&back, dir);
	CHECK_EQ(s->health.health, 2); /* rise 2: the start value */
	CHECK_EQ(s->health.up, 1);
	CHECK_EQ(s->last.status, status0);
	CHECK(s->last_change_ms <= now_ms() && s->up_since_ms <= now_ms() && s->down_since_ms == 0,
	      "timestamps %llu %llu %llu", (unsigned long long)s->last_change_ms,
	      (unsigned long long)s->up_since_ms, (unsigned long long)s->down_since_ms);
	CHECK(s->downtime_ms <= now_ms(), "downtime %llu", (unsigned long long)s->downtime_ms);
	CHECK_EQ(s->chkfail, 0);
	CHECK(!strchr(s->last.desc, '\n'), "desc '%s' keeps a newline", s->last.desc);
	/* health 5 is beyond rise + fall - 1 = 4 */
	CHECK_EQ(model_find(&back, "rw/pgb2")->health.health, 2);
}

/* One pgsteerd per state directory: a second lock is refused while the first is held. */
static void lock_is_exclusive(void)
{
	int a = persist_lock(dir), b;

	CHECK(a >= 0, "first lock: %s", strerror(-a));
	b = persist_lock(dir);
	CHECK_EQ(b, -EWOULDBLOCK);
	close(a);
	b = persist_lock(dir);
	CHECK(b >= 0, "lock after release: %s", strerror(-b));
	close(b);
	CHECK_EQ(persist_lock("/nonexistent/pgsteer"), -ENOENT);
}

int main(void)
{
	char cmd[64];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(handover_round_trip);
	RUN(changes_round_trip);
	RUN(reload_carries_state_over);
	RUN(changes_bad_fields_ignored);
	RUN(handover_bad_fields_ignored);
	RUN(lock_is_exclusive);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return h_exit();
}

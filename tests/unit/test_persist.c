/* The server state that outlives a process: the handover and the state file give back what was
 * saved, and a reload keeps the state of servers that stay. */
#include <stdlib.h>
#include <unistd.h>
#include "harness.h"
#include "backend.h"
#include "config.h"
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
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 1;
	return h_exit();
}

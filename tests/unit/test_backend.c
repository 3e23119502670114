/* The model: slots that follow names across reloads, effective state and weight. */
#include "harness.h"
#include "backend.h"
#include "config.h"

static struct config a, b;
static struct model ma, mb;

static void parse(struct config *c, const char *text)
{
	char err[256];

	if (config_parse(text, "t.conf", c, err, sizeof(err)))
		printf("     config: %s\n", err);
}

static void slots_follow_names(void)
{
	parse(&a, "global\n interface eth0\n"
		  "service ro\n bind 10.0.0.1:5433\n server r1 10.0.0.5:1\n"
		  "service rw\n bind 10.0.0.1:5432\n server pgb1 10.0.0.5:6432\n server pgb2 10.0.0.5:6433\n server pgb3 10.0.0.5:6434\n");
	parse(&b, "global\n interface eth0\n"
		  "service rw\n bind 10.0.0.1:5432\n server pgb3 10.0.0.5:6434\n server pgb1 10.0.0.5:6432\n server pgb4 10.0.0.5:6435\n"
		  "service new\n bind 10.0.0.1:5434\n server n1 10.0.0.5:2\n");
	model_init(&ma, &a, 0, NULL);
	CHECK_EQ(ma.services[1].servers[1].slot, PGS_MAX_SERVERS + 1);
	model_init(&mb, &b, 0, &ma);
	/* rw keeps its id (1), its servers their positions; pgb4 takes a position nobody had (3, not
	 * pgb2's 1, whose counters and flows may linger); the new service a new id (2, not ro's 0). */
	CHECK_EQ(mb.services[0].id, 1);
	CHECK_EQ(model_server(&mb, "rw", "pgb3")->slot, PGS_MAX_SERVERS + 2);
	CHECK_EQ(model_server(&mb, "rw", "pgb1")->slot, PGS_MAX_SERVERS + 0);
	CHECK_EQ(model_server(&mb, "rw", "pgb4")->slot, PGS_MAX_SERVERS + 3);
	CHECK_EQ(service_positions(&mb.services[0]), 4);
	CHECK_EQ(mb.services[1].id, 2);
	CHECK_EQ(mb.services[1].servers[0].slot, 2 * PGS_MAX_SERVERS);
	/* Without a previous model: in order. */
	model_init(&mb, &b, 0, NULL);
	CHECK_EQ(model_server(&mb, "rw", "pgb4")->slot, 2);
	CHECK_EQ(service_positions(&mb.services[0]), 3);
}

static void find_by_name(void)
{
	model_init(&ma, &a, 0, NULL);
	CHECK(model_find(&ma, "rw/pgb2") == model_server(&ma, "rw", "pgb2"), "service/server");
	CHECK(model_find(&ma, "pgb2") == model_server(&ma, "rw", "pgb2"), "a unique bare name");
	CHECK(model_find(&ma, "nope") == NULL, "unknown");
	CHECK(model_find(&ma, "ro/pgb2") == NULL, "wrong service");
}

static void state_and_weight(void)
{
	struct server_rt *s;

	parse(&a, "global\n interface eth0\nservice rw\n bind 10.0.0.1:5432\n check tcp\n slowstart 10s\n"
		  " server pgb1 10.0.0.5:6432 weight 2\n server pgb2 10.0.0.5:6433 disabled\n");
	model_init(&ma, &a, 1000, NULL);
	s = model_server(&ma, "rw", "pgb1");
	CHECK_EQ(server_dp_state(s), PGS_SRV_UP);
	CHECK_EQ(server_dp_weight(s, 1000), 32);
	CHECK_EQ(server_dp_state(model_server(&ma, "rw", "pgb2")), PGS_SRV_MAINT);
	s->admin = ADMIN_DRAIN;
	CHECK_EQ(server_dp_state(s), PGS_SRV_DRAIN);
	CHECK_EQ(server_class(s), CLASS_DRAIN);
	health_force(&s->health, 0);
	CHECK_EQ(server_dp_state(s), PGS_SRV_DOWN); /* DOWN shows over DRAIN, as in HAProxy */
	s->admin = ADMIN_READY;
	health_force(&s->health, 1);
	s->up_since_ms = 5000; /* back UP at 5 s: slow start over 10 s */
	CHECK_EQ(server_dp_weight(s, 5000), 1);
	CHECK_EQ(server_dp_weight(s, 10000), 16);
	CHECK_EQ(server_dp_weight(s, 15000), 32);
}

int main(void)
{
	RUN(slots_follow_names);
	RUN(find_by_name);
	RUN(state_and_weight);
	return h_exit();
}

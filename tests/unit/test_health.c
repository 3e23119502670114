/* HAProxy's health counter and status strings, and the checker's pure parts (intervals, spread,
 * how a result lands in the model), as tables. */
#include <stdint.h>
#include "harness.h"
#include "checker.h"
#include "health.h"

/* One check result and what must follow from it. */
struct fsm_step {
	int ok;
	int dir;             /* health_result()'s return */
	uint32_t health;
	const char *status;  /* health_status(), READY and checked */
	int transitional;
};

struct fsm_case {
	const char *name;
	uint32_t rise, fall;
	const char *start;   /* status before any check */
	int nsteps;
	struct fsm_step steps[12];
};

static const struct fsm_case fsm_cases[] = {
	{ "start: one failure marks DOWN", 2, 3, "UP 1/3", 1, {
		{ 0, -1, 0, "DOWN", 0 },
	} },
	{ "start: one success confirms UP", 2, 3, "UP 1/3", 2, {
		{ 1, 0, 4, "UP", 0 },
		{ 1, 0, 4, "UP", 0 },
	} },
	{ "fall 3: UP 2/3, UP 1/3, DOWN", 2, 3, "UP 1/3", 4, {
		{ 1, 0, 4, "UP", 0 },
		{ 0, 0, 3, "UP 2/3", 1 },
		{ 0, 0, 2, "UP 1/3", 1 },
		{ 0, -1, 0, "DOWN", 0 },
	} },
	{ "rise 2: DOWN 1/2, UP", 2, 3, "UP 1/3", 4, {
		{ 0, -1, 0, "DOWN", 0 },
		{ 0, 0, 0, "DOWN", 0 },
		{ 1, 0, 1, "DOWN 1/2", 1 },
		{ 1, 1, 4, "UP", 0 },
	} },
	{ "one success while going down restores UP", 2, 3, "UP 1/3", 5, {
		{ 1, 0, 4, "UP", 0 },
		{ 0, 0, 3, "UP 2/3", 1 },
		{ 0, 0, 2, "UP 1/3", 1 },
		{ 1, 0, 4, "UP", 0 },
		{ 0, 0, 3, "UP 2/3", 1 },
	} },
	{ "a failure while coming up falls back to DOWN", 2, 3, "UP 1/3", 4, {
		{ 0, -1, 0, "DOWN", 0 },
		{ 1, 0, 1, "DOWN 1/2", 1 },
		{ 0, 0, 0, "DOWN", 0 },
		{ 1, 0, 1, "DOWN 1/2", 1 },
	} },
	{ "rise 3 fall 2", 3, 2, "UP 1/2", 7, {
		{ 1, 0, 4, "UP", 0 },
		{ 0, 0, 3, "UP 1/2", 1 },
		{ 0, -1, 0, "DOWN", 0 },
		{ 1, 0, 1, "DOWN 1/3", 1 },
		{ 1, 0, 2, "DOWN 2/3", 1 },
		{ 1, 1, 4, "UP", 0 },
		{ 1, 0, 4, "UP", 0 },
	} },
	{ "rise 1 fall 1: every result decides", 1, 1, "UP", 4, {
		{ 0, -1, 0, "DOWN", 0 },
		{ 1, 1, 1, "UP", 0 },
		{ 1, 0, 1, "UP", 0 },
		{ 0, -1, 0, "DOWN", 0 },
	} },
};

static void test_fsm_tables(void)
{
	size_t i;
	int j;

	for (i = 0; i < sizeof(fsm_cases) / sizeof(fsm_cases[0]); i++) {
		const struct fsm_case *fc = &fsm_cases[i];
		struct health h;
		char buf[32];

		health_init(&h, fc->rise, fc->fall);
		CHECK(h.up == 1 && h.health == fc->rise, "%s: start up=%d health=%u", fc->name, h.up, h.health);
		health_status(&h, ADMIN_READY, 1, buf, sizeof(buf));
		CHECK(!strcmp(buf, fc->start), "%s: start status \"%s\", expected \"%s\"", fc->name, buf, fc->start);
		for (j = 0; j < fc->nsteps; j++) {
			const struct fsm_step *st = &fc->steps[j];
			int dir = health_result(&h, st->ok);

			health_status(&h, ADMIN_READY, 1, buf, sizeof(buf));
			CHECK(dir == st->dir, "%s step %d: dir %d, expected %d", fc->name, j + 1, dir, st->dir);
			CHECK(h.health == st->health, "%s step %d: health %u, expected %u", fc->name, j + 1, h.health,
			      st->health);
			CHECK(!strcmp(buf, st->status), "%s step %d: status \"%s\", expected \"%s\"", fc->name, j + 1,
			      buf, st->status);
			CHECK(health_transitional(&h) == st->transitional, "%s step %d: transitional %d", fc->name,
			      j + 1, health_transitional(&h));
			CHECK(h.up == (h.health >= h.rise), "%s step %d: up %d with health %u", fc->name, j + 1, h.up,
			      h.health);
		}
	}
}

static void test_start_state(void)
{
	struct health h;

	health_init(&h, 2, 3);
	CHECK_EQ(h.rise, 2);
	CHECK_EQ(h.fall, 3);
	CHECK_EQ(h.health, 2);
	CHECK_EQ(h.up, 1);
	CHECK_EQ(health_transitional(&h), 1); /* HAProxy checks at fastinter until confirmed */
	health_init(&h, 0, 0);                /* never a zero range */
	CHECK_EQ(h.rise, 1);
	CHECK_EQ(h.fall, 1);
	CHECK_EQ(h.up, 1);
}

static void test_force(void)
{
	struct health h;
	char buf[32];

	health_init(&h, 2, 3);
	health_force(&h, 0);
	CHECK_EQ(h.health, 0);
	CHECK_EQ(h.up, 0);
	CHECK_STR(health_status(&h, ADMIN_READY, 1, buf, sizeof(buf)), "DOWN");
	CHECK_EQ(health_result(&h, 1), 0); /* still needs rise successes */
	CHECK_STR(health_status(&h, ADMIN_READY, 1, buf, sizeof(buf)), "DOWN 1/2");
	health_force(&h, 1);
	CHECK_EQ(h.health, 4);
	CHECK_EQ(h.up, 1);
	CHECK_STR(health_status(&h, ADMIN_READY, 1, buf, sizeof(buf)), "UP");
	CHECK_EQ(health_result(&h, 0), 0); /* fully UP: fall failures needed */
	CHECK_STR(health_status(&h, ADMIN_READY, 1, buf, sizeof(buf)), "UP 2/3");
}

/* health_status() with admin states and without checks. */
static void test_status_strings(void)
{
	static const struct {
		const char *name;
		uint32_t health;     /* rise 2 fall 3 */
		enum admin_state admin;
		int checked;
		const char *want;
	} rows[] = {
		{ "up", 4, ADMIN_READY, 1, "UP" },
		{ "up going down", 3, ADMIN_READY, 1, "UP 2/3" },
		{ "down", 0, ADMIN_READY, 1, "DOWN" },
		{ "down going up", 1, ADMIN_READY, 1, "DOWN 1/2" },
		{ "drain", 4, ADMIN_DRAIN, 1, "DRAIN" },
		{ "drain going down", 3, ADMIN_DRAIN, 1, "DRAIN 2/3" },
		{ "DOWN over DRAIN", 0, ADMIN_DRAIN, 1, "DOWN" },
		{ "DOWN n/m over DRAIN", 1, ADMIN_DRAIN, 1, "DOWN 1/2" },
		{ "MAINT over UP", 4, ADMIN_MAINT, 1, "MAINT" },
		{ "MAINT over DOWN", 0, ADMIN_MAINT, 1, "MAINT" },
		{ "MAINT over DOWN n/m", 1, ADMIN_MAINT, 1, "MAINT" },
		{ "no check", 4, ADMIN_READY, 0, "no check" },
		{ "no check at start", 2, ADMIN_READY, 0, "no check" },
		{ "no check, drained", 4, ADMIN_DRAIN, 0, "DRAIN" },
		{ "no check, maint", 4, ADMIN_MAINT, 0, "MAINT" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct health h;
		char buf[32];

		health_init(&h, 2, 3);
		h.health = rows[i].health;
		h.up = h.health >= h.rise;
		health_status(&h, rows[i].admin, rows[i].checked, buf, sizeof(buf));
		CHECK(!strcmp(buf, rows[i].want), "%s: \"%s\", expected \"%s\"", rows[i].name, buf, rows[i].want);
	}
}

static void test_interval(void)
{
	struct cfg_check ck = { .inter_ms = 2000, .fastinter_ms = 500, .downinter_ms = 5000 };
	struct cfg_check plain = { .inter_ms = 2000 };
	struct health h;

	health_init(&h, 2, 3);
	CHECK_EQ(checker_interval(&ck, &h), 500);    /* start: not yet confirmed */
	health_result(&h, 1);
	CHECK_EQ(checker_interval(&ck, &h), 2000);   /* fully UP */
	health_result(&h, 0);
	CHECK_EQ(checker_interval(&ck, &h), 500);    /* UP 2/3 */
	health_force(&h, 0);
	CHECK_EQ(checker_interval(&ck, &h), 5000);   /* fully DOWN */
	health_result(&h, 1);
	CHECK_EQ(checker_interval(&ck, &h), 500);    /* DOWN 1/2 */
	CHECK_EQ(checker_interval(&plain, &h), 2000); /* fastinter unset: inter */
	health_force(&h, 0);
	CHECK_EQ(checker_interval(&plain, &h), 2000); /* downinter unset: inter */
}

static void test_first_delay(void)
{
	CHECK_EQ(checker_first_delay(2000, 0, 3), 0);
	CHECK_EQ(checker_first_delay(2000, 1, 3), 666);
	CHECK_EQ(checker_first_delay(2000, 2, 3), 1333);
	CHECK_EQ(checker_first_delay(2000, 0, 1), 0);
	CHECK_EQ(checker_first_delay(2000, 5, 0), 0);
	CHECK(checker_first_delay(100, 9, 10) < 100, "spread stays inside the interval");
}

/* checker_apply(): HAProxy's counters and timestamps along a DOWN and back. */
static void test_apply(void)
{
	struct server_rt s;

	memset(&s, 0, sizeof(s));
	health_init(&s.health, 2, 3);
	CHECK_EQ(checker_apply(&s, &(struct check_result){ .status = CHK_L7OK, .ok = 1 }, 1000), 0);
	CHECK_EQ(s.last.status, CHK_L7OK);
	CHECK_EQ(checker_apply(&s, &(struct check_result){ .status = CHK_L4CON }, 2000), 0);
	CHECK_EQ(s.last.status, CHK_L4CON);
	CHECK_EQ(s.chkfail, 1);
	checker_apply(&s, &(struct check_result){ .status = CHK_L4CON }, 3000);
	CHECK_EQ(checker_apply(&s, &(struct check_result){ .status = CHK_L4CON }, 4000), -1);
	CHECK_EQ(s.chkfail, 3);
	CHECK_EQ(s.chkdown, 1);
	CHECK_EQ(s.last_change_ms, 4000);
	CHECK_EQ(s.down_since_ms, 4000);
	/* failures while fully DOWN are not counted (health is 0), as in HAProxy */
	checker_apply(&s, &(struct check_result){ .status = CHK_L4CON }, 5000);
	CHECK_EQ(s.chkfail, 3);
	CHECK_EQ(checker_apply(&s, &(struct check_result){ .status = CHK_L7OK, .ok = 1 }, 6000), 0);
	CHECK_EQ(checker_apply(&s, &(struct check_result){ .status = CHK_L7OK, .ok = 1 }, 7500), 1);
	CHECK_EQ(s.last_change_ms, 7500);
	CHECK_EQ(s.down_since_ms, 0);
	CHECK_EQ(s.downtime_ms, 3500);
	CHECK_EQ(s.up_since_ms, 7500);
	CHECK_EQ(s.chkdown, 1);
}

int main(void)
{
	RUN(test_fsm_tables);
	RUN(test_start_state);
	RUN(test_force);
	RUN(test_status_strings);
	RUN(test_interval);
	RUN(test_first_delay);
	RUN(test_apply);
	return h_exit();
}

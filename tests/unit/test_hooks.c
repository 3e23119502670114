/* The controller's event hooks: every registration told, in order, missing callbacks skipped,
 * a removed one no longer told. */
#include "harness.h"
#include "hooks.h"

static char seen[64];
static int nseen;

static void tick_a(void *arg, uint64_t now)
{
	seen[nseen++] = *(char *)arg;
	CHECK_EQ(now, 42);
}

static void steer_a(void *arg, int on)
{
	seen[nseen++] = on ? 'S' : 's';
}

static const struct ctl_hooks ha = { .tick = tick_a, .steering = steer_a };
static const struct ctl_hooks hb = { .tick = tick_a };

static void told_in_order(void)
{
	char a = 'a', b = 'b';

	CHECK_EQ(ctl_hooks_add(&ha, &a), 0);
	CHECK_EQ(ctl_hooks_add(&hb, &b), 0);
	ctl_tell_tick(42);
	ctl_tell_steering(1);   /* hb has no steering callback */
	ctl_tell_reloaded();    /* nobody listens */
	ctl_hooks_del(&ha, &a);
	ctl_tell_tick(42);
	seen[nseen] = 0;
	CHECK_STR(seen, "abSb");
	ctl_hooks_del(&hb, &b);
}

static void full_registry_refuses(void)
{
	int i, r = 0;
	char x = 'x';

	for (i = 0; i <= CTL_HOOKS_MAX; i++)
		r = ctl_hooks_add(&hb, &x);
	CHECK(r < 0, "registration %d of %d accepted", CTL_HOOKS_MAX + 1, CTL_HOOKS_MAX);
}

int main(void)
{
	RUN(told_in_order);
	RUN(full_registry_refuses);
	return h_exit();
}

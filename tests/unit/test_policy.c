/* Source policy entries from a service's lists, and the cancel routing rate limit. */
#include <arpa/inet.h>
#include "harness.h"
#include "cancel.h"
#include "policy.h"

static void entries_of_lists(void)
{
	struct cfg_service s = { .nallow = 1, .ndeny = 1 };
	struct policy_entry e[8];
	int n;

	s.allow[0] = (struct cfg_cidr){ htonl(0x0a640100), 24 };
	s.deny[0] = (struct cfg_cidr){ htonl(0x0a640102), 32 };
	n = policy_entries(&s, 3, e, 8);
	CHECK_EQ(n, 3);
	CHECK_EQ(e[0].key.prefixlen, 56);
	CHECK_EQ(e[0].key.svc_id, htonl(3));
	CHECK_EQ(e[0].action, PGS_POLICY_ALLOW);
	CHECK_EQ(e[1].key.prefixlen, 64);
	CHECK_EQ(e[1].action, PGS_POLICY_DENY);
	/* With an allow list, everything else is denied: the service id alone. */
	CHECK_EQ(e[2].key.prefixlen, 32);
	CHECK_EQ(e[2].key.addr, 0);
	CHECK_EQ(e[2].action, PGS_POLICY_DENY);

	/* Deny lists alone leave the rest allowed; an explicit /0 replaces the default. */
	s.nallow = 0;
	CHECK_EQ(policy_entries(&s, 0, e, 8), 1);
	s.nallow = 1;
	s.allow[0] = (struct cfg_cidr){ 0, 0 };
	CHECK_EQ(policy_entries(&s, 0, e, 8), 2);
	CHECK_EQ(policy_entries(&s, 0, e, 1), 1);
}

static void cancel_rate_limit(void)
{
	struct cancel_bucket b = {};
	int i, n = 0;

	for (i = 0; i < 1000; i++)
		n += cancel_bucket_take(&b, 1000, 200, 400);
	CHECK_EQ(n, 400);
	CHECK_EQ(cancel_bucket_take(&b, 1004, 200, 400), 0);
	CHECK_EQ(cancel_bucket_take(&b, 1005, 200, 400), 1);
	for (i = 0, n = 0; i < 1000; i++)
		n += cancel_bucket_take(&b, 2005, 200, 400);
	CHECK_EQ(n, 200);
}

int main(void)
{
	RUN(entries_of_lists);
	RUN(cancel_rate_limit);
	return h_exit();
}

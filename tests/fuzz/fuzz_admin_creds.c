/* The admin-credentials file (admin_creds_parse): operator input, read by pgsteer clients. Any input
 * gives a login, "no line for this server" or errors naming file:line, never a crash; a login found
 * has a user and a password within their bounds. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include "fuzz.h"
#include "admin_creds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), err[512];
	struct admin_login l;
	int rc;

	memset(err, 0, sizeof(err));
	rc = admin_creds_parse(text, "fuzz", "10.100.1.5", 6432, &l, err, sizeof(err));
	assert(rc == 0 || rc == -ENOENT || rc == -EINVAL);
	if (rc == -EINVAL)
		assert(!strncmp(err, "fuzz:", 5));
	if (rc == 0)
		assert(l.user[0] && l.password[0] && strlen(l.user) < ADMIN_USER_MAX &&
		       strlen(l.password) < ADMIN_PASSWORD_MAX);
	free(text);
	return 0;
}

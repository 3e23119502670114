/* The admin-credentials file: USER:PASSWORD and .pgpass lines, which line applies to which
 * PgBouncer, and each mistake with its line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "harness.h"
#include "admin_creds.h"

static const struct {
	const char *name, *text, *msg;
} bad[] = {
	{ "no_colon", "admin\n", "c:1: expects USER:PASSWORD or HOST:PORT:DATABASE:USER:PASSWORD" },
	{ "empty_user", ":secret\n", "c:1: the user name is empty" },
	{ "empty_password", "# admin\nadmin:\n", "c:2: user 'admin' has an empty password" },
	{ "pgpass_bad_port", "10.0.0.5:64x:pgbouncer:admin:pw\n",
	  "c:1: port '64x' is neither a port nor '*' (HOST:PORT:DATABASE:USER:PASSWORD)" },
	{ "pgpass_empty_user", "*:*:*::pw\n", "c:1: the user name is empty" },
	{ "long_user", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x\n",
	  "c:1: user name longer than 63 characters" },
	/* a mistake on a later line fails the file even when an earlier line applies */
	{ "every_mistake", "admin:pw\nbroken\n:x\n", "c:2: expects USER:PASSWORD or HOST:PORT:DATABASE:USER:PASSWORD\n"
						      "c:3: the user name is empty" },
};

static void bad_files(void)
{
	struct admin_login l;
	char err[1024], name[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(name, sizeof(name), "admin_creds/%s", bad[i].name);
		h_begin(name);
		CHECK_EQ(admin_creds_parse(bad[i].text, "c", "10.0.0.5", 6432, &l, err, sizeof(err)), -EINVAL);
		CHECK(!strcmp(err, bad[i].msg), "\n       got  %s\n       want %s", err, bad[i].msg);
		h_end();
	}
}

/* Which line a server gets: the first that applies, as libpq reads a .pgpass. */
static void which_line(void)
{
	const char *text = "# PgBouncer admins\r\n"
			   "10.0.0.5:6433:pgbouncer:ops:ops\\:pw\n"
			   "10.0.0.5:*:app:nope:nope\n"
			   "10.0.0.6:*:*:other:other-pw\n"
			   "  stats:with: spaces and:colons  \n";
	struct admin_login l;
	char err[512];

	CHECK_EQ(admin_creds_parse(text, "c", "10.0.0.5", 6433, &l, err, sizeof(err)), 0);
	CHECK_STR(l.user, "ops");
	CHECK_STR(l.password, "ops:pw");
	/* database app is not the admin console: the USER:PASSWORD line applies */
	CHECK_EQ(admin_creds_parse(text, "c", "10.0.0.5", 6432, &l, err, sizeof(err)), 0);
	CHECK_STR(l.user, "stats");
	CHECK_STR(l.password, "with: spaces and:colons");
	CHECK_EQ(admin_creds_parse(text, "c", "10.0.0.6", 6432, &l, err, sizeof(err)), 0);
	CHECK_STR(l.user, "other");
	/* only .pgpass lines, none for this server */
	CHECK_EQ(admin_creds_parse("10.0.0.6:*:*:other:pw\n", "c", "10.0.0.5", 6432, &l, err, sizeof(err)), -ENOENT);
	CHECK_EQ(admin_creds_parse("# nobody\n\n", "c", "10.0.0.5", 6432, &l, err, sizeof(err)), -ENOENT);
}

static void from_file(void)
{
	struct admin_login l;
	char path[64], err[512], want[256];
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pgsteer-test-admin.%d", (int)getpid());
	unlink(path);
	CHECK_EQ(admin_creds_load(path, "10.0.0.5", 6432, &l, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CHECK_STR(err, want);
	f = fopen(path, "w");
	CHECK(f != NULL, "fopen");
	if (!f)
		return;
	fputs("admin:s3cret\nbroken\n", f);
	fclose(f);
	CHECK_EQ(admin_creds_load(path, "10.0.0.5", 6432, &l, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: expects USER:PASSWORD or HOST:PORT:DATABASE:USER:PASSWORD", path);
	CHECK_STR(err, want);
	f = fopen(path, "w");
	fputs("admin:s3cret\n", f);
	fclose(f);
	CHECK_EQ(admin_creds_load(path, "10.0.0.5", 6432, &l, err, sizeof(err)), 0);
	CHECK_STR(l.password, "s3cret");
	unlink(path);
}

int main(void)
{
	bad_files();
	RUN(which_line);
	RUN(from_file);
	return h_exit();
}

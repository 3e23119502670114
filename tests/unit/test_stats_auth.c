/* The stats users file: what it accepts, each mistake with its line, and who gets in. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "harness.h"
#include "config.h"
#include "stats_auth.h"

static const struct {
	const char *name, *text, *msg;
} bad[] = {
	{ "no_colon", "admin\n", "u:1: expects USER:PASSWORD" },
	{ "empty_user", ":secret\n", "u:1: the user name is empty (USER:PASSWORD)" },
	{ "empty_password", "# users\nadmin:\n", "u:2: user 'admin' has an empty password" },
	{ "twice", "admin:a\nops:b\nadmin:c\n", "u:3: user 'admin' appears twice (first on line 1)" },
	{ "only_comments", "# nobody yet\n\n   \n", "u: no USER:PASSWORD line" },
	{ "empty_file", "", "u: no USER:PASSWORD line" },
	{ "long_user", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:x\n",
	  "u:1: user name longer than 63 characters" },
	{ "every_mistake", "admin\nok:fine\n:x\nok:again\n",
	  "u:1: expects USER:PASSWORD\nu:3: the user name is empty (USER:PASSWORD)\nu:4: user 'ok' appears twice (first on line 2)" },
};

static void bad_files(void)
{
	char err[1024], name[64];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct stats_auth *a;

		snprintf(name, sizeof(name), "stats_auth/%s", bad[i].name);
		h_begin(name);
		a = stats_auth_parse(bad[i].text, "u", err, sizeof(err));
		CHECK(a == NULL, "accepted");
		CHECK(!strcmp(err, bad[i].msg), "\n       got  %s\n       want %s", err, bad[i].msg);
		stats_auth_free(a);
		h_end();
	}
}

static void who_gets_in(void)
{
	char err[256];
	struct stats_auth *a = stats_auth_parse("# stats users\r\nadmin:s3cret\r\n\tops:with:colons and spaces \n", "u", err,
						sizeof(err));

	CHECK(a != NULL, "%s", err);
	CHECK_EQ(stats_auth_users(a), 2);
	CHECK(stats_auth_check(a, "admin", "s3cret"), "admin with its password");
	CHECK(stats_auth_check(a, "ops", "with:colons and spaces"), "ops with its password");
	CHECK(!stats_auth_check(a, "admin", "s3cre"), "a prefix of the password");
	CHECK(!stats_auth_check(a, "admin", "s3cret "), "the password and more");
	CHECK(!stats_auth_check(a, "admin", "with:colons and spaces"), "another user's password");
	CHECK(!stats_auth_check(a, "Admin", "s3cret"), "user names are exact");
	CHECK(!stats_auth_check(a, "admin", ""), "an empty password");
	CHECK(!stats_auth_check(a, NULL, NULL), "no credentials");
	CHECK(!stats_auth_check(NULL, "admin", "s3cret"), "no users file");
	stats_auth_free(a);
}

/* From the config: the file named at its line; errors name the config line and the file's. */
static void from_config(void)
{
	static struct config cfg;
	char err[1024], path[64], conf[512];
	struct stats_auth *a = (struct stats_auth *)&cfg;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pgsteer-test-users.%d", (int)getpid());
	snprintf(conf, sizeof(conf),
		 "global\n    interface lo\n    stats auth-file %s\nservice s\n    bind 127.0.0.100:5432\n"
		 "    server a 127.0.0.1:6432\n", path);
	CHECK(config_parse(conf, "c.conf", &cfg, err, sizeof(err)) == 0, "%s", err);
	strcpy(cfg.path, "c.conf");
	unlink(path);
	CHECK(stats_auth_config(&cfg, &a, err, sizeof(err)) != 0 && a == NULL, "a missing file accepted");
	{
		char want[256];

		snprintf(want, sizeof(want), "c.conf:3: stats auth-file: %s: No such file or directory", path);
		CHECK(!strcmp(err, want), "\n       got  %s\n       want %s", err, want);
	}
	f = fopen(path, "w");
	CHECK(f != NULL, "fopen");
	if (!f)
		return;
	fputs("admin:s3cret\nbroken\n", f);
	fclose(f);
	CHECK(stats_auth_config(&cfg, &a, err, sizeof(err)) != 0, "a broken file accepted");
	{
		char want[256];

		snprintf(want, sizeof(want), "c.conf:3: stats auth-file: %s:2: expects USER:PASSWORD", path);
		CHECK(!strcmp(err, want), "\n       got  %s\n       want %s", err, want);
	}
	f = fopen(path, "w");
	fputs("admin:s3cret\n", f);
	fclose(f);
	CHECK(stats_auth_config(&cfg, &a, err, sizeof(err)) == 0 && stats_auth_check(a, "admin", "s3cret"), "%s", err);
	stats_auth_free(a);
	/* stats off: no users, whatever the file */
	cfg.stats_enabled = 0;
	CHECK(stats_auth_config(&cfg, &a, err, sizeof(err)) == 0 && a == NULL, "stats none still reads users");
	unlink(path);
}

int main(void)
{
	bad_files();
	RUN(who_gets_in);
	RUN(from_config);
	return h_exit();
}

/* PgBouncer admin console logins for pgsteer clients, from the file "admin-credentials PATH" names:
 * USER:PASSWORD lines (every server) or .pgpass lines HOST:PORT:DATABASE:USER:PASSWORD. */
#ifndef PGS_ADMIN_CREDS_H
#define PGS_ADMIN_CREDS_H

#include <stddef.h>

#define ADMIN_USER_MAX 64
#define ADMIN_PASSWORD_MAX 256

struct admin_login {
	char user[ADMIN_USER_MAX];
	char password[ADMIN_PASSWORD_MAX];
};

/* The login for PgBouncer's "pgbouncer" database at HOST:PORT: the first line that applies. A line
 * with four or more unescaped ':' is a .pgpass line (\: and \\ escape, '*' matches anything; its
 * host is compared as written, so give the address the config names); any other is USER:PASSWORD,
 * the password the rest of the line. '#' lines and blank lines are skipped. Every line is checked:
 * 0 with *out set; -ENOENT when no line is for this server; -EINVAL with one "name:line: what" per
 * mistake in err. */
int admin_creds_parse(const char *text, const char *name, const char *host, unsigned port, struct admin_login *out,
		      char *err, size_t errlen);
/* The same from the file at path (-errno with "path: why" when it cannot be read). */
int admin_creds_load(const char *path, const char *host, unsigned port, struct admin_login *out, char *err,
		     size_t errlen);

#endif

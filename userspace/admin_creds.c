/* The admin-credentials file: which user and password log pgsteer clients into each PgBouncer's
 * admin console. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "admin_creds.h"
#include "text.h"

#define CREDS_MAX_FILE 65536 /* a credentials file is a few lines; more is a wrong path */
#define PGPASS_FIELDS 5

/* Split a .pgpass line in place into its five fields, unescaping \: and \\; 0, or -1 when it has
 * fewer than five. */
static int pgpass_split(char *line, char *field[PGPASS_FIELDS])
{
	char *r = line, *w = line;
	int n = 0;

	field[n++] = w;
	for (; *r; r++) {
		if (*r == '\\' && r[1]) {
			*w++ = *++r;
		} else if (*r == ':' && n < PGPASS_FIELDS) {
			*w++ = '\0';
			field[n++] = w;
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
	return n == PGPASS_FIELDS ? 0 : -1;
}

static int unescaped_colons(const char *s)
{
	int n = 0;

	for (; *s; s++) {
		if (*s == '\\' && s[1])
			s++;
		else if (*s == ':')
			n++;
	}
	return n;
}

static int field_matches(const char *field, const char *value)
{
	return !strcmp(field, "*") || !strcmp(field, value);
}

/* Check one line and say whether it applies to host:port; 1 (applies, *out set), 0, or -1 (an error
 * was added). */
static int creds_line(char *line, const char *name, int lineno, const char *host, unsigned port,
		      struct admin_login *out, char *err, size_t errlen, int *nerr)
{
	const char *user, *password;
	char *field[PGPASS_FIELDS], portbuf[16];
	int applies = 1;

	if (unescaped_colons(line) >= PGPASS_FIELDS - 1) {
		char *end;

		pgpass_split(line, field);
		if (strcmp(field[1], "*")) {
			errno = 0;
			unsigned long p = strtoul(field[1], &end, 10);

			if (errno || *end || !*field[1] || !p || p > 65535) {
				text_err_add(err, errlen, nerr, name, lineno, "port '%s' is neither a port nor '*' "
					"(HOST:PORT:DATABASE:USER:PASSWORD)", field[1]);
				return -1;
			}
		}
		snprintf(portbuf, sizeof(portbuf), "%u", port);
		applies = field_matches(field[0], host) && field_matches(field[1], portbuf) &&
			  field_matches(field[2], "pgbouncer");
		user = field[3];
		password = field[4];
	} else {
		char *colon = strchr(line, ':');

		if (!colon) {
			text_err_add(err, errlen, nerr, name, lineno, "expects USER:PASSWORD or HOST:PORT:DATABASE:USER:PASSWORD");
			return -1;
		}
		*colon = '\0';
		user = line;
		password = colon + 1;
	}
	if (!*user) {
		text_err_add(err, errlen, nerr, name, lineno, "the user name is empty");
		return -1;
	}
	if (strlen(user) >= ADMIN_USER_MAX) {
		text_err_add(err, errlen, nerr, name, lineno, "user name longer than %d characters", ADMIN_USER_MAX - 1);
		return -1;
	}
	if (!*password) {
		text_err_add(err, errlen, nerr, name, lineno, "user '%s' has an empty password", user);
		return -1;
	}
	if (strlen(password) >= ADMIN_PASSWORD_MAX) {
		text_err_add(err, errlen, nerr, name, lineno, "password longer than %d characters", ADMIN_PASSWORD_MAX - 1);
		return -1;
	}
	if (!applies)
		return 0;
	snprintf(out->user, sizeof(out->user), "%s", user);
	snprintf(out->password, sizeof(out->password), "%s", password);
	return 1;
}

int admin_creds_parse(const char *text, const char *name, const char *host, unsigned port, struct admin_login *out,
		      char *err, size_t errlen)
{
	char *copy = strdup(text), *cur, *line;
	int lineno = 0, nerr = 0, found = 0;
	struct admin_login l;

	if (errlen)
		err[0] = '\0';
	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	for (cur = copy; (line = text_next_line(&cur, &lineno));) {
		if (creds_line(line, name, lineno, host, port, &l, err, errlen, &nerr) == 1 && !found) {
			*out = l;
			found = 1;
		}
	}
	memset(copy, 0, strlen(text));
	free(copy);
	memset(&l, 0, sizeof(l));
	if (nerr)
		return -EINVAL;
	return found ? 0 : -ENOENT;
}

int admin_creds_load(const char *path, const char *host, unsigned port, struct admin_login *out, char *err,
		     size_t errlen)
{
	char *text = malloc(CREDS_MAX_FILE + 1);
	FILE *f = fopen(path, "re");
	size_t len;
	int r;

	if (!f || !text) {
		r = f ? -ENOMEM : -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		if (f)
			fclose(f);
		free(text);
		return r;
	}
	len = fread(text, 1, CREDS_MAX_FILE + 1, f);
	r = ferror(f) ? -EIO : 0;
	fclose(f);
	if (r || len > CREDS_MAX_FILE || memchr(text, '\0', len)) {
		snprintf(err, errlen, "%s: %s", path, r ? strerror(-r) : "not a credentials file (too large or binary)");
		free(text);
		return r ? r : -EINVAL;
	}
	text[len] = '\0';
	r = admin_creds_parse(text, path, host, port, out, err, errlen);
	memset(text, 0, len);
	free(text);
	return r;
}

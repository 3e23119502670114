/* The stats listener's users, from their file. Only a SHA-256 of each password stays in memory, and a
 * password is checked against it with CRYPTO_memcmp (no early exit on the first differing byte). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "config.h"
#include "stats_auth.h"
#include "text.h"

#define AUTH_MAX_FILE 65536 /* a users file is a few lines; more is a wrong path */
#define AUTH_MAX_USER 64

struct auth_user {
	char name[AUTH_MAX_USER];
	unsigned char digest[32];
	int line;
};

struct stats_auth {
	int n;
	struct auth_user u[];
};

static int sha256(const char *s, unsigned char out[32])
{
	unsigned int len = 32;

	return EVP_Digest(s, strlen(s), out, &len, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

struct stats_auth *stats_auth_parse(const char *text, const char *name, char *err, size_t errlen)
{
	struct stats_auth *a;
	char *copy = strdup(text), *cur, *line, *colon;
	int lineno = 0, nerr = 0, lines = 1, i;
	const char *c;

	if (errlen)
		err[0] = '\0';
	for (c = text; *c; c++)
		lines += *c == '\n';
	a = copy ? calloc(1, sizeof(*a) + (size_t)lines * sizeof(a->u[0])) : NULL;
	if (!a) {
		free(copy);
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	for (cur = copy; (line = text_next_line(&cur, &lineno));) {
		colon = strchr(line, ':');
		if (!colon) {
			text_err_add(err, errlen, &nerr, name, lineno, "expects USER:PASSWORD");
			continue;
		}
		*colon = '\0';
		if (!*line) {
			text_err_add(err, errlen, &nerr, name, lineno, "the user name is empty (USER:PASSWORD)");
			continue;
		}
		if (strlen(line) >= AUTH_MAX_USER) {
			text_err_add(err, errlen, &nerr, name, lineno, "user name longer than %d characters", AUTH_MAX_USER - 1);
			continue;
		}
		if (!colon[1]) {
			text_err_add(err, errlen, &nerr, name, lineno, "user '%s' has an empty password", line);
			continue;
		}
		for (i = 0; i < a->n && strcmp(a->u[i].name, line); i++)
			;
		if (i < a->n) {
			text_err_add(err, errlen, &nerr, name, lineno, "user '%s' appears twice (first on line %d)", line,
				a->u[i].line);
			continue;
		}
		strcpy(a->u[a->n].name, line);
		a->u[a->n].line = lineno;
		if (sha256(colon + 1, a->u[a->n].digest)) {
			text_err_add(err, errlen, &nerr, name, lineno, "cannot hash the password (libcrypto)");
			continue;
		}
		a->n++;
	}
	OPENSSL_cleanse(copy, strlen(text));
	free(copy);
	if (!nerr && !a->n)
		text_err_add(err, errlen, &nerr, name, 0, "no USER:PASSWORD line");
	if (nerr) {
		stats_auth_free(a);
		return NULL;
	}
	return a;
}

struct stats_auth *stats_auth_load(const char *path, char *err, size_t errlen)
{
	struct stats_auth *a;
	char *text = malloc(AUTH_MAX_FILE + 1);
	FILE *f = fopen(path, "re");
	size_t len;

	if (!f || !text) {
		snprintf(err, errlen, "%s: %s", path, strerror(f ? ENOMEM : errno));
		if (f)
			fclose(f);
		free(text);
		return NULL;
	}
	len = fread(text, 1, AUTH_MAX_FILE + 1, f);
	if (ferror(f) || len > AUTH_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, ferror(f) ? strerror(errno) : "larger than 64 KiB: not a users file");
		fclose(f);
		free(text);
		return NULL;
	}
	fclose(f);
	text[len] = '\0';
	if (strlen(text) != len) {
		snprintf(err, errlen, "%s: holds a NUL byte: not a users file", path);
		a = NULL;
	} else
		a = stats_auth_parse(text, path, err, errlen);
	OPENSSL_cleanse(text, len);
	free(text);
	return a;
}

int stats_auth_check(const struct stats_auth *a, const char *user, const char *pass)
{
	unsigned char d[32];
	int i, ok = 0;

	if (!a || !user || !pass || sha256(pass, d))
		return 0;
	for (i = 0; i < a->n; i++)
		ok |= !strcmp(a->u[i].name, user) & !CRYPTO_memcmp(a->u[i].digest, d, sizeof(d));
	return ok;
}

int stats_auth_users(const struct stats_auth *a)
{
	return a ? a->n : 0;
}

void stats_auth_free(struct stats_auth *a)
{
	if (!a)
		return;
	OPENSSL_cleanse(a, sizeof(*a) + (size_t)a->n * sizeof(a->u[0]));
	free(a);
}

int stats_auth_config(const struct config *c, struct stats_auth **out, char *err, size_t errlen)
{
	char why[1024];

	*out = NULL;
	if (!c->stats_enabled || !c->stats_auth_file[0])
		return 0;
	*out = stats_auth_load(c->stats_auth_file, why, sizeof(why));
	if (*out)
		return 0;
	snprintf(err, errlen, "%s:%d: stats auth-file: %s", c->path, c->stats_auth_line, why);
	return -EINVAL;
}

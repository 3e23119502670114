/* The stats listener's users: HAProxy's "stats auth USER:PASSWORD", one per line of a file the
 * config names ("stats auth-file PATH"), so the secret is not in the config every operator reads. */
#ifndef PGS_STATS_AUTH_H
#define PGS_STATS_AUTH_H

#include <stddef.h>

struct stats_auth;

/* Read USER:PASSWORD lines ('#' at the start of a line and blank lines are skipped; the password is
 * the rest of the line after the first ':', spaces included). At least one user; a user named twice is
 * an error. NULL on error with "file:line: what" (or "file: what") in err. */
struct stats_auth *stats_auth_load(const char *path, char *err, size_t errlen);
struct stats_auth *stats_auth_parse(const char *text, const char *name, char *err, size_t errlen);

/* 1 when user and pass are one of the file's pairs (the password compared in constant time). */
int stats_auth_check(const struct stats_auth *a, const char *user, const char *pass);

/* How many users; NULL is accepted (0). */
int stats_auth_users(const struct stats_auth *a);

void stats_auth_free(struct stats_auth *a);

/* The users the config's "stats auth-file" names: 0 with *out (NULL when the file is not named or
 * stats are off), or -EINVAL with "config:line: stats auth-file: why" in err. */
struct config;
int stats_auth_config(const struct config *c, struct stats_auth **out, char *err, size_t errlen);

#endif

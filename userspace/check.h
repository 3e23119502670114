/* One health check of one server: a non-blocking connect on the event loop, then the PostgreSQL
 * protocol exchange of its type (tcp, pgsql, login). The protocol interpretation is pure. */
#ifndef PGS_CHECK_H
#define PGS_CHECK_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "config.h"
#include "loop.h"

/* What to check and how. */
struct check_target {
	uint32_t addr;               /* network order */
	uint16_t port;               /* network order */
	enum check_type type;        /* CHECK_TCP, CHECK_PGSQL or CHECK_LOGIN */
	uint32_t timeout_ms;         /* bounds the whole check, connect and protocol */
	const char *user, *database; /* login: copied; an empty database means the user's name */
	uint32_t src_addr;           /* bind source, network order; 0 = any */
};

struct check;
typedef void (*check_done_fn)(void *arg, const struct check_result *r);

/* Start one check. done(arg, result) runs exactly once, from the loop, never inside check_start;
 * the check has freed itself by then. Local failures to open the socket are reported as SOCKERR
 * results; only an allocation or timer failure returns -errno (and done never runs). */
int check_start(struct loop *l, const struct check_target *t, check_done_fn done, void *arg, struct check **out);

/* Abort a running check: close it without calling done. Not after done has run. */
void check_cancel(struct check *c);

/* HAProxy's short name ("L7STS") and description ("Layer7 wrong status") of a check status. */
const char *chk_status_desc(enum chk_status s);

/* One line for humans, HAProxy's log wording:
 * 'reason: Layer7 wrong status, code: 08P01, info: "FATAL 08P01 ...", check duration: 3ms' */
const char *check_result_str(const struct check_result *r, char *buf, size_t len);

/* ---- PostgreSQL wire protocol, pure ---- */

#define PG_MSG_MAX 8192             /* longest backend message a check accepts, type byte excluded */
#define PG_STARTUP_MAX 512
#define PG_APP_NAME "pgsteer-check"

extern const uint8_t pg_sslrequest[8];  /* 00 00 00 08 04 D2 16 2F */
extern const uint8_t pg_terminate[5];   /* 'X' 00 00 00 04 */

/* One backend message: its type and the body after the length word. */
struct pg_msg {
	uint8_t type;
	const uint8_t *body;
	uint32_t len;
};

/* The fields of an ErrorResponse a check reports. */
struct pg_error {
	char severity[16];
	char code[8];
	char message[128];
};

/* A StartupMessage v3: user, database (omitted when empty), application_name. Bytes written,
 * -EINVAL without a user, -ENOSPC when it does not fit. */
int pg_startup_build(uint8_t *buf, size_t len, const char *user, const char *database, const char *app);

/* The next whole message at buf: its size (type byte included), 0 if more bytes are needed,
 * -EBADMSG if the length word is impossible (< 4 or > PG_MSG_MAX). */
int pg_msg_next(const uint8_t *buf, size_t len, struct pg_msg *m);

/* An Authentication ('R') message: its code, and for SASL (10) the mechanisms joined by ", ". */
int pg_auth_parse(const struct pg_msg *m, uint32_t *code, char *mechs, size_t mlen);
const char *pg_auth_name(uint32_t code);

/* An ErrorResponse or NoticeResponse: S (or V), C and M fields. 0 or -EBADMSG. */
int pg_error_parse(const struct pg_msg *m, struct pg_error *e);

/* What a check makes of the bytes a server sends, fed in whatever pieces they arrive. */
struct check_proto {
	enum check_type type;
	int authok;                  /* login: AuthenticationOk seen */
	int ready;                   /* login: ReadyForQuery seen, the session is up */
	size_t len;
	uint8_t buf[PG_MSG_MAX + 5];
};

void check_proto_init(struct check_proto *p, enum check_type type);
/* Feed n bytes (n == 0: the server closed). 1 when r holds the verdict, 0 while more is needed. */
int check_proto_feed(struct check_proto *p, const uint8_t *data, size_t n, struct check_result *r);
/* The verdict when the timeout struck after connecting. */
void check_proto_timeout(const struct check_proto *p, struct check_result *r);

#endif

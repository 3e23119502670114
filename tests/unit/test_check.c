/* The check's PostgreSQL protocol on byte buffers (whole and byte by byte), and the checker
 * scheduling real checks on loopback sockets: spread, DOWN and back UP, passive kicks, MAINT. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "harness.h"
#include "check.h"
#include "checker.h"

/* ---- message building and parsing ---- */

static void test_startup_build(void)
{
	static const uint8_t want[] = {
		0, 0, 0, 62, 0, 3, 0, 0,
		'u', 's', 'e', 'r', 0, 'a', 'p', 'p', 0,
		'd', 'a', 't', 'a', 'b', 'a', 's', 'e', 0, 'a', 'p', 'p', 0,
		'a', 'p', 'p', 'l', 'i', 'c', 'a', 't', 'i', 'o', 'n', '_', 'n', 'a', 'm', 'e', 0,
		'p', 'g', 's', 't', 'e', 'e', 'r', '-', 'c', 'h', 'e', 'c', 'k', 0,
		0,
	};
	static const uint8_t nodb[] = { 0, 0, 0, 18, 0, 3, 0, 0, 'u', 's', 'e', 'r', 0, 'b', 'o', 'b', 0, 0 };
	uint8_t buf[PG_STARTUP_MAX];
	int n;

	n = pg_startup_build(buf, sizeof(buf), "app", "app", PG_APP_NAME);
	CHECK_EQ(n, sizeof(want));
	CHECK(n == sizeof(want) && !memcmp(buf, want, sizeof(want)), "bytes differ");
	n = pg_startup_build(buf, sizeof(buf), "bob", "", NULL);
	CHECK_EQ(n, 18);
	CHECK(n == 18 && !memcmp(buf, nodb, 18), "bytes without database differ");
	CHECK_EQ(pg_startup_build(buf, sizeof(buf), "", "app", NULL), -EINVAL);
	CHECK_EQ(pg_startup_build(buf, sizeof(buf), NULL, "app", NULL), -EINVAL);
	CHECK_EQ(pg_startup_build(buf, 61, "app", "app", PG_APP_NAME), -ENOSPC);
	CHECK_EQ(pg_startup_build(buf, 62, "app", "app", PG_APP_NAME), 62);
	CHECK_EQ(pg_startup_build(buf, 4, "app", NULL, NULL), -ENOSPC);
}

static void test_msg_next(void)
{
	static const uint8_t ok[] = { 'R', 0, 0, 0, 8, 0, 0, 0, 0, 'Z' };
	static const uint8_t short_len[] = { 'R', 0, 0, 0, 3, 0, 0, 0 };
	static const uint8_t huge[] = { 'E', 0x7f, 0xff, 0xff, 0xff };
	static const uint8_t max[] = { 'S', 0, 0, (PG_MSG_MAX >> 8) & 0xff, PG_MSG_MAX & 0xff };
	static const uint8_t over[] = { 'S', 0, 0, ((PG_MSG_MAX + 1) >> 8) & 0xff, (PG_MSG_MAX + 1) & 0xff };
	struct pg_msg m;

	CHECK_EQ(pg_msg_next(ok, 4, &m), 0);
	CHECK_EQ(pg_msg_next(ok, 8, &m), 0);
	CHECK_EQ(pg_msg_next(ok, sizeof(ok), &m), 9);
	CHECK_EQ(m.type, 'R');
	CHECK_EQ(m.len, 4);
	CHECK(m.body == ok + 5, "body points after the length");
	CHECK_EQ(pg_msg_next(short_len, sizeof(short_len), &m), -EBADMSG);
	CHECK_EQ(pg_msg_next(huge, sizeof(huge), &m), -EBADMSG);
	CHECK_EQ(pg_msg_next(max, sizeof(max), &m), 0); /* allowed, just incomplete */
	CHECK_EQ(pg_msg_next(over, sizeof(over), &m), -EBADMSG);
}

#define MSG(t, lit) { t, lit, sizeof(lit) - 1 }
#define RAW(lit) { 0, lit, sizeof(lit) - 1 }

/* A backend message (type and body; the length is added), or raw bytes when type is 0. */
struct piece {
	char type;
	const char *body;
	size_t len;
};

#define AUTH_OK MSG('R', "\0\0\0\0")
#define AUTH_SCRAM MSG('R', "\0\0\0\x0a" "SCRAM-SHA-256\0\0")
#define PARAM MSG('S', "server_version\0" "1.18.0/bouncer\0")
#define KEYDATA MSG('K', "\1\2\3\4\5\6\7\x08")
#define READY MSG('Z', "I")

struct proto_case {
	const char *name;
	enum check_type type;
	struct piece pieces[8];
	int eof;                 /* the server closes after the pieces */
	int verdict;             /* 0: still waiting */
	enum chk_status status;
	int ok;
	const char *code;
	const char *desc;
	int ready;               /* a Terminate is owed */
};

static const struct proto_case proto_cases[] = {
	/* pgsql: the answer to SSLRequest */
	{ "pgsql N", CHECK_PGSQL, { RAW("N") }, 0, 1, CHK_L7OK, 1, "", "PostgreSQL protocol: SSLRequest answered 'N'", 0 },
	{ "pgsql S", CHECK_PGSQL, { RAW("S") }, 0, 1, CHK_L7OK, 1, "", "PostgreSQL protocol: SSLRequest answered 'S'", 0 },
	{ "pgsql E", CHECK_PGSQL, { RAW("E") }, 0, 1, CHK_L7RSP, 0, "", "SSLRequest answered with an error ('E')", 0 },
	{ "pgsql other byte", CHECK_PGSQL, { RAW("\x01") }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: SSLRequest answered 0x01", 0 },
	{ "pgsql HTTP", CHECK_PGSQL, { RAW("HTTP/1.1 400") }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: 12 bytes in answer to SSLRequest, starting 'H' (0x48)", 0 },
	{ "pgsql closed", CHECK_PGSQL, { { 0 } }, 1, 1, CHK_L7RSP, 0, "", "connection closed by server", 0 },
	/* login: authentication requests pass */
	{ "login SCRAM", CHECK_LOGIN, { AUTH_SCRAM }, 0, 1, CHK_L7OK, 1, "",
	  "authentication requested (SCRAM-SHA-256)", 0 },
	{ "login SASL list", CHECK_LOGIN, { MSG('R', "\0\0\0\x0a" "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0") }, 0, 1,
	  CHK_L7OK, 1, "", "authentication requested (SCRAM-SHA-256-PLUS, SCRAM-SHA-256)", 0 },
	{ "login MD5", CHECK_LOGIN, { MSG('R', "\0\0\0\x05" "salt") }, 0, 1, CHK_L7OK, 1, "",
	  "authentication requested (MD5)", 0 },
	{ "login cleartext", CHECK_LOGIN, { MSG('R', "\0\0\0\x03") }, 0, 1, CHK_L7OK, 1, "",
	  "authentication requested (cleartext password)", 0 },
	{ "login unknown method", CHECK_LOGIN, { MSG('R', "\0\0\0\x63") }, 0, 1, CHK_L7OK, 1, "",
	  "authentication requested (method 99)", 0 },
	{ "login notice then SCRAM", CHECK_LOGIN, { MSG('N', "SNOTICE\0C00000\0Mhello\0\0"), AUTH_SCRAM }, 0, 1,
	  CHK_L7OK, 1, "", "authentication requested (SCRAM-SHA-256)", 0 },
	{ "login NegotiateProtocolVersion then SCRAM", CHECK_LOGIN,
	  { MSG('v', "\0\0\0\0\0\0\0\0"), AUTH_SCRAM }, 0, 1, CHK_L7OK, 1, "",
	  "authentication requested (SCRAM-SHA-256)", 0 },
	/* login: trust, the whole session */
	{ "login trust: Ok, params, key, ready", CHECK_LOGIN, { AUTH_OK, PARAM, PARAM, KEYDATA, READY }, 0, 1,
	  CHK_L7OK, 1, "", "login accepted: AuthenticationOk, ReadyForQuery", 1 },
	{ "login trust: Ok then waiting", CHECK_LOGIN, { AUTH_OK, PARAM }, 0, 0, CHK_UNK, 0, "", "", 0 },
	{ "login trust: Ok then closed", CHECK_LOGIN, { AUTH_OK, PARAM }, 1, 1, CHK_L7RSP, 0, "",
	  "connection closed by server after AuthenticationOk", 0 },
	/* login: errors fail with their SQLSTATE */
	{ "login pgbouncer error", CHECK_LOGIN,
	  { MSG('E', "SFATAL\0C08P01\0Mpgbouncer cannot connect to server\0\0") }, 0, 1, CHK_L7STS, 0, "08P01",
	  "FATAL 08P01 pgbouncer cannot connect to server", 0 },
	{ "login PostgreSQL error with more fields", CHECK_LOGIN,
	  { MSG('E', "SFATAL\0VFATAL\0C28P01\0Mpassword authentication failed for user \"app\"\0Fauth.c\0L335\0\0") },
	  0, 1, CHK_L7STS, 0, "28P01", "FATAL 28P01 password authentication failed for user \"app\"", 0 },
	{ "login error with V only", CHECK_LOGIN, { MSG('E', "VERROR\0C57P03\0Mthe database system is starting up\0\0") },
	  0, 1, CHK_L7STS, 0, "57P03", "ERROR 57P03 the database system is starting up", 0 },
	{ "login error after Ok", CHECK_LOGIN, { AUTH_OK, MSG('E', "SERROR\0C08P01\0Mquery_wait_timeout\0\0") }, 0, 1,
	  CHK_L7STS, 0, "08P01", "ERROR 08P01 query_wait_timeout", 0 },
	/* login: anything else is an invalid response */
	{ "login HTTP answer", CHECK_LOGIN, { RAW("HTTP/1.1 400 Bad Request\r\n\r\n") }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: unexpected message 'H' (0x48)", 0 },
	{ "login length below 4", CHECK_LOGIN, { RAW("R\0\0\0\x03\0\0\0\0") }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: invalid length in a 'R' (0x52) message", 0 },
	{ "login length too big", CHECK_LOGIN, { RAW("E\x7f\xff\xff\xff") }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: invalid length in a 'E' (0x45) message", 0 },
	{ "login ready before auth", CHECK_LOGIN, { READY }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: unexpected message 'Z' (0x5a)", 0 },
	{ "login param before auth", CHECK_LOGIN, { PARAM }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: unexpected message 'S' (0x53)", 0 },
	{ "login auth request after Ok", CHECK_LOGIN, { AUTH_OK, AUTH_SCRAM }, 0, 1, CHK_L7RSP, 0, "",
	  "not PostgreSQL: unexpected message 'R' (0x52) after AuthenticationOk", 0 },
	{ "login auth without code", CHECK_LOGIN, { MSG('R', "") }, 0, 1, CHK_L7RSP, 0, "",
	  "malformed Authentication message", 0 },
	{ "login SASL list unterminated", CHECK_LOGIN, { MSG('R', "\0\0\0\x0aSCRAM") }, 0, 1, CHK_L7RSP, 0, "",
	  "malformed Authentication message", 0 },
	{ "login error unterminated", CHECK_LOGIN, { MSG('E', "SFATAL\0C08P01\0Mcut") }, 0, 1, CHK_L7RSP, 0, "",
	  "malformed ErrorResponse", 0 },
	{ "login closed at once", CHECK_LOGIN, { { 0 } }, 1, 1, CHK_L7RSP, 0, "", "connection closed by server", 0 },
	{ "login closed mid-message", CHECK_LOGIN, { RAW("R\0\0") }, 1, 1, CHK_L7RSP, 0, "",
	  "connection closed by server in the middle of a message", 0 },
};

static size_t stream_build(const struct proto_case *pc, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int i;

	for (i = 0; i < 8 && (pc->pieces[i].type || pc->pieces[i].len); i++) {
		const struct piece *p = &pc->pieces[i];

		if (n + 5 + p->len > cap)
			break;
		if (p->type) {
			uint32_t len = p->len + 4;

			out[n++] = p->type;
			out[n++] = len >> 24;
			out[n++] = len >> 16;
			out[n++] = len >> 8;
			out[n++] = len;
		}
		memcpy(out + n, p->body, p->len);
		n += p->len;
	}
	return n;
}

/* Feed the stream in chunks of `step` bytes (0 = all at once), then EOF if the row says so. */
static int proto_run(const struct proto_case *pc, const uint8_t *s, size_t n, size_t step,
		     struct check_proto *p, struct check_result *r)
{
	size_t off = 0;

	check_proto_init(p, pc->type);
	memset(r, 0, sizeof(*r));
	while (off < n) {
		size_t k = step && step < n - off ? step : n - off;

		if (check_proto_feed(p, s + off, k, r))
			return 1;
		off += k;
	}
	return pc->eof ? check_proto_feed(p, NULL, 0, r) : 0;
}

static void test_proto_table(void)
{
	static struct check_proto p; /* large: not on the stack */
	size_t i, step;

	for (i = 0; i < sizeof(proto_cases) / sizeof(proto_cases[0]); i++) {
		const struct proto_case *pc = &proto_cases[i];
		uint8_t s[512];
		size_t n = stream_build(pc, s, sizeof(s));

		/* Whole, then byte by byte and in odd chunks (login only: pgsql judges the first read). */
		for (step = 0; step <= (pc->type == CHECK_LOGIN ? 3 : 0); step++) {
			struct check_result r;
			int v = proto_run(pc, s, n, step, &p, &r);

			CHECK(v == pc->verdict, "%s (step %zu): verdict %d, expected %d", pc->name, step, v, pc->verdict);
			if (!v || !pc->verdict)
				continue;
			CHECK(r.status == pc->status, "%s (step %zu): status %s, expected %s", pc->name, step,
			      chk_status_name(r.status), chk_status_name(pc->status));
			CHECK(r.ok == pc->ok, "%s (step %zu): ok %d", pc->name, step, r.ok);
			CHECK(!strcmp(r.code, pc->code), "%s (step %zu): code \"%s\", expected \"%s\"", pc->name, step,
			      r.code, pc->code);
			CHECK(!strcmp(r.desc, pc->desc), "%s (step %zu): desc \"%s\", expected \"%s\"", pc->name, step,
			      r.desc, pc->desc);
			CHECK(p.ready == pc->ready, "%s (step %zu): ready %d", pc->name, step, p.ready);
		}
	}
}

/* A server's error text is logged, put in JSON and in Slack: one line of whole UTF-8 characters.
 * (The first case is what fuzz_check_reply found: control bytes and a cut sequence in an old-style
 * error; the others: a newline (log injection), a Russian message cut at the 160-byte desc.) */
static void feed_error(const char *fields, size_t flen, struct check_result *r)
{
	static struct check_proto p;
	uint8_t msg[512];

	msg[2] = msg[3] = 0;
	check_proto_init(&p, CHECK_LOGIN);
	msg[0] = 'N';
	msg[1] = 'E';
	msg[4] = (uint8_t)((4 + flen) >> 8);
	msg[5] = (uint8_t)(4 + flen);
	memcpy(msg + 6, fields, flen);
	memset(r, 0, sizeof(*r));
	check_proto_feed(&p, msg + 1, 5 + flen, r); /* a login check sends no SSLRequest: no 'N' */
}

static void test_proto_error_text_is_clean(void)
{
	static const char crash[] = "E\0\0\0\x0f" "E \0\xd6\xd6\xd6\0V\x1a\0\0";
	static const char nl[] = "SFATAL\0C28P01\0Mbad\nFATAL fake line\r\0";
	char ru[300], *m;
	static struct check_proto p;
	struct check_result r;
	size_t i;

	check_proto_init(&p, CHECK_LOGIN);
	memset(&r, 0, sizeof(r));
	if (!check_proto_feed(&p, (const uint8_t *)crash, sizeof(crash) - 1, &r))
		check_proto_feed(&p, NULL, 0, &r);
	for (i = 0; r.desc[i]; i++)
		CHECK((unsigned char)r.desc[i] >= 0x20 && r.desc[i] != 0x7f, "control byte %#x at %zu", r.desc[i], i);
	CHECK(strchr(r.desc, '\xd6') == NULL || strlen(r.desc) == 0, "invalid UTF-8 kept: %s", r.desc);

	feed_error(nl, sizeof(nl), &r);
	CHECK_STR(r.desc, "FATAL 28P01 bad FATAL fake line ");
	CHECK_STR(r.code, "28P01");

	/* "FATAL 28P01 " then 2-byte letters: the message is kept to 127 bytes, inside a letter; the cut
	 * one goes, 63 whole letters stay */
	m = ru;
	m += sprintf(m, "SFATAL%cC28P01%cM", 0, 0);
	for (i = 0; i < 100; i++)
		m += sprintf(m, "\xd0\xb6");
	*m++ = 0;
	*m++ = 0;
	feed_error(ru, (size_t)(m - ru), &r);
	CHECK_EQ(strlen(r.desc), 12 + 126);
	CHECK(!strncmp(r.desc, "FATAL 28P01 ", 12) && !strcmp(r.desc + strlen(r.desc) - 2, "\xd0\xb6"),
	      "desc ends \"%s\"", r.desc + strlen(r.desc) - 4);
}

/* A session whose messages fill more than one read: a maximal ParameterStatus, then ReadyForQuery. */
static void test_proto_big_message(void)
{
	static uint8_t s[PG_MSG_MAX + 64];
	static struct check_proto p;
	struct check_result r;
	size_t n = 0, body = PG_MSG_MAX - 4;
	int v = 0;

	memcpy(s, "R\0\0\0\x08\0\0\0\0", 9);
	n = 9;
	s[n++] = 'S';
	s[n++] = 0;
	s[n++] = 0;
	s[n++] = PG_MSG_MAX >> 8;
	s[n++] = PG_MSG_MAX & 0xff;
	memset(s + n, 'x', body);
	n += body;
	memcpy(s + n, "Z\0\0\0\x05I", 6);
	n += 6;
	check_proto_init(&p, CHECK_LOGIN);
	memset(&r, 0, sizeof(r));
	/* reads of 3000 bytes, as a socket might hand them over */
	for (size_t off = 0; off < n && !v; off += 3000)
		v = check_proto_feed(&p, s + off, n - off < 3000 ? n - off : 3000, &r);
	CHECK_EQ(v, 1);
	CHECK_EQ(r.status, CHK_L7OK);
	CHECK_EQ(p.ready, 1);
}

static void test_proto_timeout(void)
{
	struct check_proto p;
	struct check_result r;

	check_proto_init(&p, CHECK_PGSQL);
	check_proto_timeout(&p, &r);
	CHECK_EQ(r.status, CHK_L7TOUT);
	CHECK_EQ(r.ok, 0);
	CHECK_STR(r.desc, "Layer7 timeout: no answer to SSLRequest");
	check_proto_init(&p, CHECK_LOGIN);
	check_proto_timeout(&p, &r);
	CHECK_STR(r.desc, "Layer7 timeout: no answer to StartupMessage");
	p.authok = 1;
	check_proto_timeout(&p, &r);
	CHECK_STR(r.desc, "Layer7 timeout: AuthenticationOk but no ReadyForQuery");
}

static void test_status_names(void)
{
	static const char *const names[CHK_MAX] = {
		"UNK", "INI", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
		"L7OK", "L7TOUT", "L7RSP", "L7STS",
	};
	char buf[256];
	struct check_result r = { .status = CHK_L7STS, .duration_ms = 3, .code = "08P01",
				  .desc = "FATAL 08P01 pgbouncer cannot connect to server" };
	int i;

	for (i = 0; i < CHK_MAX; i++)
		CHECK(!strcmp(chk_status_name(i), names[i]), "status %d is \"%s\"", i, chk_status_name(i));
	CHECK_STR(chk_status_name(CHK_MAX), "UNK");
	CHECK_STR(chk_status_desc(CHK_L4CON), "Layer4 connection problem");
	CHECK_STR(check_result_str(&r, buf, sizeof(buf)),
		  "reason: Layer7 wrong status, code: 08P01, info: \"FATAL 08P01 pgbouncer cannot connect to server\", "
		  "check duration: 3ms");
	r = (struct check_result){ .status = CHK_L4OK };
	CHECK_STR(check_result_str(&r, buf, sizeof(buf)), "reason: Layer4 check passed, check duration: 0ms");
	CHECK_STR(check_result_str(&r, buf, 10), "reason: L");
}

/* ---- the checker on loopback sockets ---- */

static struct loop *loop;
static struct timer stop_timer;

static void stop_cb(void *arg)
{
	loop_stop(loop);
}

/* Run the loop for ms milliseconds: only to watch that something does NOT happen (on a busy machine
 * the loop runs less in that time, which can hide a fault but never invent one). */
static void run_for(uint64_t ms)
{
	timer_arm(&stop_timer, ms);
	loop_run(loop);
}

/* Run the loop until cond() holds, polled every 5 ms; the deadline only ends a hung test. Returns
 * the milliseconds it took (printed, and used for upper bounds on counts), cond's verdict in *held. */
static struct timer poll_timer;
static int (*poll_cond)(void);
#define RUN_UNTIL_DEADLINE_MS 30000

static void poll_cb(void *arg)
{
	if (poll_cond())
		loop_stop(loop);
}

static uint64_t run_until(int (*cond)(void), int *held)
{
	uint64_t t0 = now_ms();

	poll_cond = cond;
	if (!cond()) {
		timer_arm_periodic(&poll_timer, 5);
		timer_arm(&stop_timer, RUN_UNTIL_DEADLINE_MS);
		loop_run(loop);
		timer_stop(&poll_timer);
		timer_stop(&stop_timer);
	}
	*held = cond();
	return now_ms() - t0;
}

/* A TCP socket bound to 127.0.0.1 on a free port; listening if asked (backlog 16). */
static int local_socket(int do_listen, uint16_t *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 || (do_listen && listen(fd, 16) < 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = sa.sin_port;
	return fd;
}

/* What the hooks saw, per server. */
struct seen {
	int checks, ups, downs;
	int last_ok;
	uint64_t last_change_at;
};

static struct model model;
static struct seen seen[3][4];

static struct seen *seen_of(struct server_rt *s)
{
	return &seen[s->svc - model.services][s - s->svc->servers];
}

static void hook_changed(void *arg, struct server_rt *s, int dir)
{
	struct seen *w = seen_of(s);

	if (dir > 0)
		w->ups++;
	else
		w->downs++;
	w->last_change_at = now_ms();
}

static void hook_checked(void *arg, struct server_rt *s)
{
	struct seen *w = seen_of(s);

	w->checks++;
	w->last_ok = s->last.ok;
	/* The daemon's part of passive detection: a passing check clears the flag. */
	if (s->last.ok && s->passive_ns)
		s->passive_ns = 0;
}

static void add_server(struct service_rt *svc, const char *name, uint16_t port, int disabled)
{
	struct server_rt *s = &svc->servers[svc->nservers++];

	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
	s->cfg.addr = htonl(INADDR_LOOPBACK);
	s->cfg.port = port;
	s->svc = svc;
	s->admin = disabled ? ADMIN_MAINT : ADMIN_READY;
	health_init(&s->health, svc->cfg.check.rise, svc->cfg.check.fall);
}

static const char *status_of(struct server_rt *s)
{
	static char buf[32];

	return health_status(&s->health, s->admin, s->checked, buf, sizeof(buf));
}

/* Conditions test_checker waits for. */
static struct server_rt *cur_a, *cur_b, *cur_e;
static int want_a, want_b, rearm_a, rearm_b;

static int first_round_done(void)
{
	return seen_of(cur_a)->checks >= 3 && !strcmp(status_of(cur_a), "UP") && seen_of(cur_b)->checks >= 2 &&
	       !strcmp(status_of(cur_b), "DOWN") && seen_of(cur_e)->checks >= 1 && !strcmp(status_of(cur_e), "DOWN");
}

static int b_up(void)
{
	return !strcmp(status_of(cur_b), "UP");
}

static int a_reached(void)
{
	return seen_of(cur_a)->checks >= want_a;
}

static int b_reached(void)
{
	return seen_of(cur_b)->checks >= want_b;
}

static int a_b_rearmed(void)
{
	return seen_of(cur_a)->checks >= rearm_a && seen_of(cur_b)->checks >= rearm_b;
}

/* Intervals of a minute for a service; its servers' next check (armed with the old ones) still runs. */
static void slow_intervals(struct service_rt *svc)
{
	svc->cfg.check.inter_ms = svc->cfg.check.fastinter_ms = svc->cfg.check.downinter_ms = 60000;
	rearm_a = seen_of(cur_a)->checks + 1;
	rearm_b = seen_of(cur_b)->checks + 1;
}

static void test_checker(void)
{
	static const struct checker_hooks hooks = { hook_changed, hook_checked };
	struct service_rt *tcp = &model.services[0], *slow = &model.services[1], *none = &model.services[2];
	struct server_rt *a, *b, *c, *e, *f;
	uint16_t pa, pb, pe;
	int fa = local_socket(1, &pa), fb = local_socket(0, &pb), fe = local_socket(1, &pe);
	struct checker *ck;
	uint64_t took;
	int n, held;

	CHECK(fa >= 0 && fb >= 0 && fe >= 0, "loopback sockets: %s", strerror(errno));
	if (fa < 0 || fb < 0 || fe < 0)
		return;
	/* service 0: tcp checks, fall 3 rise 2, short intervals; a: listening, b: refused,
	 * c: MAINT from the start. service 1: pgsql against a listener that never answers.
	 * service 2: no check. */
	model.nservices = 3;
	tcp->cfg.check = (struct cfg_check){ .type = CHECK_TCP, .inter_ms = 100, .fastinter_ms = 40,
					     .downinter_ms = 200, .timeout_ms = 100, .fall = 3, .rise = 2 };
	add_server(tcp, "a", pa, 0);
	add_server(tcp, "b", pb, 0);
	add_server(tcp, "c", pa, 1);
	slow->cfg.check = (struct cfg_check){ .type = CHECK_PGSQL, .inter_ms = 50, .fastinter_ms = 50,
					      .downinter_ms = 50, .timeout_ms = 200, .fall = 3, .rise = 2 };
	add_server(slow, "e", pe, 0);
	none->cfg.check = (struct cfg_check){ .type = CHECK_NONE, .fall = 3, .rise = 2 };
	add_server(none, "f", pb, 0);
	a = &tcp->servers[0];
	b = &tcp->servers[1];
	c = &tcp->servers[2];
	e = &slow->servers[0];
	f = &none->servers[0];
	f->checked = 1; /* checker_new must clear it */

	ck = checker_new(loop, &model, 0, &hooks, NULL);
	CHECK(ck != NULL, "checker_new: %s", strerror(errno));
	if (!ck)
		goto out;
	CHECK_EQ(a->checked, 1);
	CHECK_EQ(c->checked, 1);
	CHECK_EQ(f->checked, 0);

	/* First round: a confirmed UP, b DOWN at its first failure, c never checked. What must hold is
	 * waited for; the counts are bounded by the time it took (never checked more often than the
	 * shortest interval allows), so a busy machine cannot fail it. */
	cur_a = a, cur_b = b, cur_e = e;
	took = run_until(first_round_done, &held);
	CHECK(held, "after %llu ms: a %s (%d checks), b %s (%d), e %s (%d)", (unsigned long long)took, status_of(a),
	      seen_of(a)->checks, status_of(b), seen_of(b)->checks, status_of(e), seen_of(e)->checks);
	printf("     first round settled in %llu ms: a %d checks, b %d, e %d\n", (unsigned long long)took,
	       seen_of(a)->checks, seen_of(b)->checks, seen_of(e)->checks);
	/* a: inter 100, fastinter 40 while rising; b: down, downinter 200 */
	CHECK(seen_of(a)->checks <= (int)(took / 40) + 2, "a checked %d times in %llu ms", seen_of(a)->checks,
	      (unsigned long long)took);
	CHECK_STR(status_of(a), "UP");
	CHECK_EQ(a->last.status, CHK_L4OK);
	CHECK_STR(status_of(b), "DOWN");
	CHECK_EQ(seen_of(b)->downs, 1);
	CHECK_EQ(b->chkdown, 1);
	CHECK_EQ(b->chkfail, 1);
	CHECK_EQ(b->last.status, CHK_L4CON);
	CHECK_STR(b->last.desc, "Connection refused");
	CHECK(b->down_since_ms != 0, "b has a down_since");
	CHECK(seen_of(b)->checks <= (int)(took / 200) + 2, "b (downinter 200) checked %d times in %llu ms",
	      seen_of(b)->checks, (unsigned long long)took);
	CHECK_EQ(seen_of(c)->checks, 0);
	CHECK_STR(status_of(c), "MAINT");
	CHECK_EQ(seen_of(f)->checks, 0);
	CHECK_STR(status_of(f), "no check");
	/* pgsql to a listener that never answers: each check lasts its 200 ms timeout, never two at once */
	CHECK(seen_of(e)->checks <= (int)(took / 200) + 1, "e checked %d times in %llu ms", seen_of(e)->checks,
	      (unsigned long long)took);
	CHECK_EQ(e->last.status, CHK_L7TOUT);
	CHECK_STR(status_of(e), "DOWN");

	/* b starts listening: DOWN 1/2 at the next check, UP one fastinter later. */
	CHECK(listen(fb, 16) == 0, "listen: %s", strerror(errno));
	took = run_until(b_up, &held);
	CHECK(held, "b %s after %llu ms", status_of(b), (unsigned long long)took);
	CHECK_STR(status_of(b), "UP");
	CHECK_EQ(seen_of(b)->ups, 1);
	CHECK(b->downtime_ms > 0 && b->down_since_ms == 0, "b downtime %llu", (unsigned long long)b->downtime_ms);
	CHECK(b->up_since_ms != 0, "b has an up_since");

	/* From here on the counts must be exact: the regular checks of a and b move out of the way
	 * (intervals of a minute, once the timers armed with the old ones have run). */
	slow_intervals(tcp);
	took = run_until(a_b_rearmed, &held);
	CHECK(held, "a and b not checked again in %llu ms", (unsigned long long)took);

	/* Passive detection: a stops listening, the datapath saw a refusal, one kicked check runs at
	 * once and counts like any other: UP 2/3 (the reported status follows fall), the flag stays. */
	close(fa);
	fa = -1;
	a->passive_ns = now_ns();
	n = seen_of(a)->checks;
	CHECK_EQ(checker_kick(ck, a), 0);
	CHECK_EQ(checker_kick(ck, a), 0); /* coalesced */
	want_a = n + 1;
	run_until(a_reached, &held);
	run_for(30); /* room for a second check, which must not come */
	CHECK_EQ(seen_of(a)->checks, n + 1);
	CHECK_STR(status_of(a), "UP 2/3");
	CHECK(a->passive_ns != 0, "a failed: the passive flag stays for the daemon");
	CHECK_EQ(a->chkdown, 0);

	/* A kick whose check passes: the daemon's hook clears the flag, b stays UP. */
	b->passive_ns = now_ns();
	n = seen_of(b)->checks;
	CHECK_EQ(checker_kick(ck, b), 0);
	want_b = n + 1;
	run_until(b_reached, &held);
	CHECK_EQ(seen_of(b)->checks, n + 1);
	CHECK_EQ(b->passive_ns, 0);
	CHECK_STR(status_of(b), "UP");

	/* MAINT stops checks: b's timer armed at a short interval again, then MAINT; leaving it restarts
	 * at health = rise, checked at once. */
	tcp->cfg.check.inter_ms = tcp->cfg.check.fastinter_ms = tcp->cfg.check.downinter_ms = 40;
	n = seen_of(b)->checks;
	CHECK_EQ(checker_kick(ck, b), 0);
	want_b = n + 1;
	run_until(b_reached, &held);
	b->admin = ADMIN_MAINT;
	checker_admin(ck, b);
	n = seen_of(b)->checks;
	run_for(300);
	CHECK_EQ(seen_of(b)->checks, n);
	CHECK_STR(status_of(b), "MAINT");
	CHECK_EQ(checker_kick(ck, b), -EAGAIN);
	slow_intervals(tcp);
	b->admin = ADMIN_READY;
	checker_admin(ck, b);
	CHECK_STR(status_of(b), "UP 1/3");
	want_b = n + 1;
	run_until(b_reached, &held);
	CHECK_EQ(seen_of(b)->checks, n + 1);
	CHECK_STR(status_of(b), "UP");

	/* a service without a check: nothing to kick */
	CHECK_EQ(checker_kick(ck, f), -EOPNOTSUPP);
	CHECK_EQ(seen_of(f)->checks, 0);

	/* freed with checks in flight: no hook runs afterwards */
	n = seen_of(e)->checks;
	checker_free(ck);
	run_for(300);
	CHECK_EQ(seen_of(e)->checks, n);
out:
	if (fa >= 0)
		close(fa);
	close(fb);
	close(fe);
}

int main(void)
{
	RUN(test_startup_build);
	RUN(test_msg_next);
	RUN(test_proto_table);
	RUN(test_proto_big_message);
	RUN(test_proto_error_text_is_clean);
	RUN(test_proto_timeout);
	RUN(test_status_names);

	loop = loop_new();
	if (!loop || timer_init(&stop_timer, loop, stop_cb, NULL) < 0 || timer_init(&poll_timer, loop, poll_cb, NULL) < 0) {
		printf("FAIL test_checker: no event loop\n");
		return 1;
	}
	RUN(test_checker);
	timer_close(&poll_timer);
	timer_close(&stop_timer);
	loop_free(loop);
	return h_exit();
}

/* One health check of one server: a non-blocking connect, then SSLRequest (pgsql) or a
 * StartupMessage (login), read until a verdict or the timeout. The PostgreSQL protocol part is
 * pure and fed from a byte stream, so it is tested on buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "check.h"
#include "text.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

const uint8_t pg_sslrequest[8] = { 0x00, 0x00, 0x00, 0x08, 0x04, 0xd2, 0x16, 0x2f };
const uint8_t pg_terminate[5] = { 'X', 0x00, 0x00, 0x00, 0x04 };

/* HAProxy's check_statuses[]: short name and description. */
static const struct {
	const char *name;
	const char *desc;
} chk_statuses[CHK_MAX] = {
	[CHK_UNK] = { "UNK", "Unknown" },
	[CHK_INI] = { "INI", "Initializing" },
	[CHK_SOCKERR] = { "SOCKERR", "Socket error" },
	[CHK_L4OK] = { "L4OK", "Layer4 check passed" },
	[CHK_L4TOUT] = { "L4TOUT", "Layer4 timeout" },
	[CHK_L4CON] = { "L4CON", "Layer4 connection problem" },
	[CHK_L6OK] = { "L6OK", "Layer6 check passed" },
	[CHK_L6TOUT] = { "L6TOUT", "Layer6 timeout" },
	[CHK_L6RSP] = { "L6RSP", "Layer6 invalid response" },
	[CHK_L7OK] = { "L7OK", "Layer7 check passed" },
	[CHK_L7TOUT] = { "L7TOUT", "Layer7 timeout" },
	[CHK_L7RSP] = { "L7RSP", "Layer7 invalid response" },
	[CHK_L7STS] = { "L7STS", "Layer7 wrong status" },
};

const char *chk_status_name(enum chk_status s)
{
	return (unsigned)s < CHK_MAX ? chk_statuses[s].name : "UNK";
}

const char *chk_status_desc(enum chk_status s)
{
	return (unsigned)s < CHK_MAX ? chk_statuses[s].desc : "Unknown";
}

const char *check_result_str(const struct check_result *r, char *buf, size_t len)
{
	int n = snprintf(buf, len, "reason: %s", chk_status_desc(r->status));

	if (r->code[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, ", code: %s", r->code);
	if (r->desc[0] && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - n, ", info: \"%s\"", r->desc);
	if (n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - n, ", check duration: %ums", r->duration_ms);
	return buf;
}

static void result_set(struct check_result *r, enum chk_status st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void result_set(struct check_result *r, enum chk_status st, const char *fmt, ...)
{
	va_list ap;

	r->status = st;
	r->ok = st == CHK_L4OK || st == CHK_L6OK || st == CHK_L7OK;
	r->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(r->desc, sizeof(r->desc), fmt, ap);
	va_end(ap);
	/* It may quote the server: one line of whole UTF-8 characters, for the log, JSON and Slack. */
	text_clean(r->desc);
}

/* ---- PostgreSQL wire protocol ---- */

static uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

static int put_str(uint8_t *buf, size_t len, size_t *off, const char *s)
{
	size_t n = strlen(s) + 1;

	if (n > len - *off)
		return -ENOSPC;
	memcpy(buf + *off, s, n);
	*off += n;
	return 0;
}

int pg_startup_build(uint8_t *buf, size_t len, const char *user, const char *database, const char *app)
{
	size_t off = 8;
	int err = 0;

	if (!user || !user[0])
		return -EINVAL;
	if (len < off + 1)
		return -ENOSPC;
	err |= put_str(buf, len, &off, "user");
	err |= put_str(buf, len, &off, user);
	if (database && database[0]) {
		err |= put_str(buf, len, &off, "database");
		err |= put_str(buf, len, &off, database);
	}
	if (app && app[0]) {
		err |= put_str(buf, len, &off, "application_name");
		err |= put_str(buf, len, &off, app);
	}
	if (err || off >= len)
		return -ENOSPC;
	buf[off++] = '\0';
	put_be32(buf, off);
	put_be32(buf + 4, 196608); /* protocol 3.0 */
	return off;
}

int pg_msg_next(const uint8_t *buf, size_t len, struct pg_msg *m)
{
	uint32_t mlen;

	if (len < 5)
		return 0;
	mlen = get_be32(buf + 1);
	if (mlen < 4 || mlen > PG_MSG_MAX)
		return -EBADMSG;
	if (len < 1 + (size_t)mlen)
		return 0;
	m->type = buf[0];
	m->body = buf + 5;
	m->len = mlen - 4;
	return 1 + mlen;
}

const char *pg_auth_name(uint32_t code)
{
	switch (code) {
	case 0: return "ok";
	case 2: return "KerberosV5";
	case 3: return "cleartext password";
	case 5: return "MD5";
	case 6: return "SCM credentials";
	case 7: return "GSSAPI";
	case 8: return "GSSAPI continue";
	case 9: return "SSPI";
	case 10: return "SASL";
	case 11: return "SASL continue";
	case 12: return "SASL final";
	default: return "unknown";
	}
}

int pg_auth_parse(const struct pg_msg *m, uint32_t *code, char *mechs, size_t mlen)
{
	size_t off = 4, out = 0;

	if (m->type != 'R' || m->len < 4)
		return -EBADMSG;
	*code = get_be32(m->body);
	if (mlen)
		mechs[0] = '\0';
	if (*code != 10)
		return 0;
	/* SASL: NUL-terminated mechanism names, ended by an empty one. */
	for (;;) {
		const uint8_t *end = memchr(m->body + off, '\0', m->len - off);
		size_t n;

		if (off >= m->len || !end)
			return -EBADMSG;
		n = end - (m->body + off);
		if (n == 0)
			return 0;
		if (mlen && out + n + 2 < mlen) {
			if (out) {
				memcpy(mechs + out, ", ", 2);
				out += 2;
			}
			memcpy(mechs + out, m->body + off, n);
			out += n;
			mechs[out] = '\0';
		}
		off += n + 1;
	}
}

static void copy_field(char *dst, size_t len, const uint8_t *s, size_t n)
{
	if (n >= len)
		n = len - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

int pg_error_parse(const struct pg_msg *m, struct pg_error *e)
{
	char vsev[sizeof(e->severity)] = "";
	size_t off = 0;

	memset(e, 0, sizeof(*e));
	if (m->type != 'E' && m->type != 'N')
		return -EBADMSG;
	while (off < m->len && m->body[off] != '\0') {
		uint8_t field = m->body[off++];
		const uint8_t *s = m->body + off, *end = memchr(s, '\0', m->len - off);
		size_t n;

		if (!end)
			return -EBADMSG;
		n = end - s;
		if (field == 'S')
			copy_field(e->severity, sizeof(e->severity), s, n);
		else if (field == 'V')
			copy_field(vsev, sizeof(vsev), s, n);
		else if (field == 'C')
			copy_field(e->code, sizeof(e->code), s, n);
		else if (field == 'M')
			copy_field(e->message, sizeof(e->message), s, n);
		off += n + 1;
	}
	if (off >= m->len) /* no terminating NUL */
		return -EBADMSG;
	if (!e->severity[0])
		memcpy(e->severity, vsev, sizeof(vsev));
	return 0;
}

void check_proto_init(struct check_proto *p, enum check_type type)
{
	p->type = type;
	p->authok = 0;
	p->ready = 0;
	p->len = 0;
}

/* "'H' (0x48)" or "0x01": a byte for humans. */
static const char *byte_str(uint8_t b, char *buf, size_t len)
{
	if (b >= 0x20 && b < 0x7f)
		snprintf(buf, len, "'%c' (0x%02x)", b, b);
	else
		snprintf(buf, len, "0x%02x", b);
	return buf;
}

/* The answer to SSLRequest: exactly one byte, 'S' or 'N'. */
static int sslreply_feed(const uint8_t *data, size_t n, struct check_result *r)
{
	char b[16];

	if (n == 0)
		result_set(r, CHK_L7RSP, "connection closed by server");
	else if (n > 1)
		result_set(r, CHK_L7RSP, "not PostgreSQL: %zu bytes in answer to SSLRequest, starting %s", n,
			   byte_str(data[0], b, sizeof(b)));
	else if (data[0] == 'S' || data[0] == 'N')
		result_set(r, CHK_L7OK, "PostgreSQL protocol: SSLRequest answered '%c'", data[0]);
	else if (data[0] == 'E')
		result_set(r, CHK_L7RSP, "SSLRequest answered with an error ('E')");
	else
		result_set(r, CHK_L7RSP, "not PostgreSQL: SSLRequest answered %s", byte_str(data[0], b, sizeof(b)));
	return 1;
}

/* Which backend messages may come now: before AuthenticationOk only R, E, N (notice) and v
 * (NegotiateProtocolVersion); after it S, K, N, E and Z. */
static int login_type_ok(const struct check_proto *p, uint8_t type)
{
	if (!p->authok)
		return type == 'R' || type == 'E' || type == 'N' || type == 'v';
	return type == 'S' || type == 'K' || type == 'N' || type == 'E' || type == 'Z';
}

/* One message of the login exchange: 1 when r holds the verdict. */
static int login_msg(struct check_proto *p, const struct pg_msg *m, struct check_result *r)
{
	struct pg_error e;
	char mechs[64];
	uint32_t code;

	switch (m->type) {
	case 'R':
		if (pg_auth_parse(m, &code, mechs, sizeof(mechs)) < 0) {
			result_set(r, CHK_L7RSP, "malformed Authentication message");
			return 1;
		}
		if (code == 0) {
			p->authok = 1;
			return 0;
		}
		/* We hold no password: asking for one proves the pooler serves this user and database. */
		if (code == 10 && mechs[0])
			result_set(r, CHK_L7OK, "authentication requested (%s)", mechs);
		else if (!strcmp(pg_auth_name(code), "unknown"))
			result_set(r, CHK_L7OK, "authentication requested (method %u)", code);
		else
			result_set(r, CHK_L7OK, "authentication requested (%s)", pg_auth_name(code));
		return 1;
	case 'E':
		if (pg_error_parse(m, &e) < 0) {
			result_set(r, CHK_L7RSP, "malformed ErrorResponse");
			return 1;
		}
		result_set(r, CHK_L7STS, "%s %s %s", e.severity, e.code, e.message);
		snprintf(r->code, sizeof(r->code), "%s", e.code);
		text_clean(r->code);
		return 1;
	case 'Z':
		p->ready = 1;
		result_set(r, CHK_L7OK, "login accepted: AuthenticationOk, ReadyForQuery");
		return 1;
	default: /* S, K, N, v: nothing to judge */
		return 0;
	}
}

/* Consume the whole messages in the buffer; keep a partial one for the next feed. */
static int login_parse(struct check_proto *p, struct check_result *r)
{
	size_t off = 0;
	int verdict = 0;
	char b[16];

	while (!verdict && off < p->len) {
		struct pg_msg m;
		int k;

		if (!login_type_ok(p, p->buf[off])) {
			result_set(r, CHK_L7RSP, "not PostgreSQL: unexpected message %s%s",
				   byte_str(p->buf[off], b, sizeof(b)),
				   p->authok ? " after AuthenticationOk" : "");
			return 1;
		}
		k = pg_msg_next(p->buf + off, p->len - off, &m);
		if (k < 0) {
			result_set(r, CHK_L7RSP, "not PostgreSQL: invalid length in a %s message",
				   byte_str(p->buf[off], b, sizeof(b)));
			return 1;
		}
		if (k == 0)
			break;
		verdict = login_msg(p, &m, r);
		off += k;
	}
	memmove(p->buf, p->buf + off, p->len - off);
	p->len -= off;
	return verdict;
}

static int login_feed(struct check_proto *p, const uint8_t *data, size_t n, struct check_result *r)
{
	if (n == 0) {
		if (p->authok)
			result_set(r, CHK_L7RSP, "connection closed by server after AuthenticationOk");
		else if (p->len)
			result_set(r, CHK_L7RSP, "connection closed by server in the middle of a message");
		else
			result_set(r, CHK_L7RSP, "connection closed by server");
		return 1;
	}
	/* A partial message always fits (PG_MSG_MAX bounds it), so this ends. */
	while (n) {
		size_t take = sizeof(p->buf) - p->len;

		if (take > n)
			take = n;
		memcpy(p->buf + p->len, data, take);
		p->len += take;
		data += take;
		n -= take;
		if (login_parse(p, r))
			return 1;
	}
	return 0;
}

int check_proto_feed(struct check_proto *p, const uint8_t *data, size_t n, struct check_result *r)
{
	if (p->type == CHECK_PGSQL)
		return sslreply_feed(data, n, r);
	if (p->type == CHECK_LOGIN)
		return login_feed(p, data, n, r);
	if (n == 0) {
		result_set(r, CHK_L7RSP, "connection closed by server");
		return 1;
	}
	return 0;
}

void check_proto_timeout(const struct check_proto *p, struct check_result *r)
{
	if (p->type == CHECK_PGSQL)
		result_set(r, CHK_L7TOUT, "Layer7 timeout: no answer to SSLRequest");
	else if (p->authok)
		result_set(r, CHK_L7TOUT, "Layer7 timeout: AuthenticationOk but no ReadyForQuery");
	else
		result_set(r, CHK_L7TOUT, "Layer7 timeout: no answer to StartupMessage");
}

/* ---- the check on the loop ---- */

struct check {
	struct loop *loop;
	struct timer timer;          /* the timeout; also delivers results known at start */
	int fd;
	int connected;
	int finished;                /* res holds the verdict, waiting for the timer to deliver it */
	uint32_t events;             /* what the fd is watched for */
	enum check_type type;
	uint64_t start_ns;
	uint8_t out[PG_STARTUP_MAX];
	size_t outlen, outoff;
	struct check_result res;
	check_done_fn done;
	void *arg;
	struct check_proto proto;
};

static void check_close(struct check *c)
{
	if (c->fd >= 0) {
		uint8_t junk[512];
		int i;

		/* Unread bytes would turn the close into an RST: read what is left first. */
		for (i = 0; i < 8 && recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT) > 0; i++)
			;
		loop_del(c->loop, c->fd);
		close(c->fd);
	}
	timer_close(&c->timer);
	free(c);
}

static void check_finish(struct check *c)
{
	struct check_result r = c->res;
	check_done_fn done = c->done;
	void *arg = c->arg;

	r.duration_ms = (now_ns() - c->start_ns) / 1000000;
	/* A session that reached ReadyForQuery ends with Terminate, so the pooler logs a clean
	 * disconnect; earlier ones just close (what psql does when it has no password to offer). */
	if (c->proto.ready)
		(void)!send(c->fd, pg_terminate, sizeof(pg_terminate), MSG_NOSIGNAL | MSG_DONTWAIT);
	check_close(c);
	done(arg, &r);
}

void check_cancel(struct check *c)
{
	if (c)
		check_close(c);
}

/* Connection-level errors are L4CON; anything that says our own side failed is SOCKERR. */
static void result_connect_err(struct check_result *r, int err)
{
	switch (err) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ETIMEDOUT:
		result_set(r, CHK_L4CON, "%s", strerror(err));
		break;
	default:
		result_set(r, CHK_SOCKERR, "connect: %s", strerror(err));
	}
}

static void check_timer(void *arg)
{
	struct check *c = arg;

	if (!c->finished) {
		if (!c->connected)
			result_set(&c->res, CHK_L4TOUT, "Layer4 timeout");
		else
			check_proto_timeout(&c->proto, &c->res);
	}
	check_finish(c);
}

static void check_io(void *arg, uint32_t events);

static void check_watch(struct check *c, uint32_t events)
{
	if (events != c->events && loop_mod(c->loop, c->fd, events, check_io, c) == 0)
		c->events = events;
}

/* Send what is left of the request; 1 when the check is over (r set). */
static int check_send(struct check *c)
{
	while (c->outoff < c->outlen) {
		ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			result_set(&c->res, CHK_L7RSP, "%s", strerror(errno));
			return 1;
		}
		c->outoff += n;
	}
	return 0;
}

/* Read what the server sent and judge it; 1 when the check is over. */
static int check_recv(struct check *c)
{
	uint8_t buf[4096];
	int i;

	for (i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			result_set(&c->res, CHK_L7RSP, "%s", strerror(errno));
			return 1;
		}
		if (check_proto_feed(&c->proto, buf, n, &c->res) || n == 0)
			return 1;
	}
	return 0;
}

static void check_io(void *arg, uint32_t events)
{
	struct check *c = arg;

	if (!c->connected) {
		socklen_t sl = sizeof(int);
		int err = 0;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (!err && !(events & EPOLLOUT))
			err = ECONNABORTED;
		if (err) {
			result_connect_err(&c->res, err);
			check_finish(c);
			return;
		}
		c->connected = 1;
		if (c->type == CHECK_TCP) {
			result_set(&c->res, CHK_L4OK, "Layer4 check passed");
			check_finish(c);
			return;
		}
	}
	if (check_send(c) || check_recv(c)) {
		check_finish(c);
		return;
	}
	check_watch(c, EPOLLIN | (c->outoff < c->outlen ? EPOLLOUT : 0));
}

/* Open and connect the socket; 0 while connecting, 1 when c->res already holds the verdict. */
static int check_connect(struct check *c, const struct check_target *t)
{
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_addr.s_addr = t->addr, .sin_port = t->port };
	int one = 1, err;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		result_set(&c->res, CHK_SOCKERR, "socket: %s", strerror(errno));
		return 1;
	}
	if (t->src_addr) {
		struct sockaddr_in src = { .sin_family = AF_INET, .sin_addr.s_addr = t->src_addr };

		/* The port is chosen at connect time, per destination: no port exhaustion. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
			char a[INET_ADDRSTRLEN];

			inet_ntop(AF_INET, &src.sin_addr, a, sizeof(a));
			result_set(&c->res, CHK_SOCKERR, "bind %s: %s", a, strerror(errno));
			return 1;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		result_connect_err(&c->res, errno);
		return 1;
	}
	c->events = EPOLLOUT;
	err = loop_add(c->loop, c->fd, c->events, check_io, c);
	if (err) {
		result_set(&c->res, CHK_SOCKERR, "epoll: %s", strerror(-err));
		return 1;
	}
	return 0;
}

int check_start(struct loop *l, const struct check_target *t, check_done_fn done, void *arg, struct check **out)
{
	struct check *c;
	int n, err;

	if (t->type != CHECK_TCP && t->type != CHECK_PGSQL && t->type != CHECK_LOGIN)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->loop = l;
	c->fd = -1;
	c->type = t->type;
	c->done = done;
	c->arg = arg;
	check_proto_init(&c->proto, t->type);
	if (t->type == CHECK_PGSQL) {
		memcpy(c->out, pg_sslrequest, sizeof(pg_sslrequest));
		c->outlen = sizeof(pg_sslrequest);
	} else if (t->type == CHECK_LOGIN) {
		n = pg_startup_build(c->out, sizeof(c->out), t->user, t->database, PG_APP_NAME);
		if (n < 0) {
			free(c);
			return n;
		}
		c->outlen = n;
	}
	err = timer_init(&c->timer, l, check_timer, c);
	if (err) {
		free(c);
		return err;
	}
	c->start_ns = now_ns();
	if (check_connect(c, t)) {
		/* Known already (refused on loopback, no socket): delivered from the loop. */
		c->finished = 1;
		timer_arm(&c->timer, 0);
	} else {
		timer_arm(&c->timer, t->timeout_ms ? t->timeout_ms : 2000);
	}
	if (out)
		*out = c;
	return 0;
}

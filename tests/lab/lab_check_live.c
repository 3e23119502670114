/* Health checks against the real thing on 127.0.0.1: local sockets that refuse, accept and close,
 * never answer or never accept (no root needed), then a PostgreSQL 15 and two PgBouncer 1.18
 * started in a temporary directory as user postgres (root only; SKIP otherwise). Every check type
 * against every target, all in flight at once; the poolers' logs must show no noise from them. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "harness.h"
#include "check.h"

#define PG_BIN "/usr/lib/postgresql/15/bin"
#define PGBOUNCER "/usr/sbin/pgbouncer"

/* Targets, by index into port[]. */
enum { T_REFUSED, T_CLOSER, T_SILENT, T_FULL, T_PG, T_PGB1, T_PGB2, T_MAX };

static uint16_t port[T_MAX]; /* network order */

/* One check and what it must give. desc lists the accepted descriptions, '|' between them. */
struct live_case {
	const char *name;
	int target;
	enum check_type type;
	const char *user, *database;
	uint32_t timeout_ms;
	uint32_t src_addr;
	enum chk_status status;
	const char *code;
	const char *desc;
	uint32_t min_ms;             /* never done before this (a timeout must not strike early) */
	uint32_t max_ms;             /* what it should take: printed, not judged (0 = not printed) */
	/* filled by the run */
	int done;
	struct check_result r;
	double took_ms;              /* measured here, sub-millisecond */
	uint64_t start_ns;
};

#define B(n, tgt, ty, u, db, to, src, st, c, d, lo, hi)                                                 \
	{ .name = n, .target = tgt, .type = ty, .user = u, .database = db, .timeout_ms = to, .src_addr = src, \
	  .status = st, .code = c, .desc = d, .min_ms = lo, .max_ms = hi }
#define A(n, tgt, ty, to, st, d, lo, hi) B(n, tgt, ty, "app", "app", to, 0, st, "", d, lo, hi)

static struct live_case local_cases[] = {
	A("refused tcp", T_REFUSED, CHECK_TCP, 1000, CHK_L4CON, "Connection refused", 0, 0),
	A("refused pgsql", T_REFUSED, CHECK_PGSQL, 1000, CHK_L4CON, "Connection refused", 0, 0),
	A("refused login", T_REFUSED, CHECK_LOGIN, 1000, CHK_L4CON, "Connection refused", 0, 0),
	A("accept-and-close tcp", T_CLOSER, CHECK_TCP, 1000, CHK_L4OK, "Layer4 check passed", 0, 0),
	A("accept-and-close pgsql", T_CLOSER, CHECK_PGSQL, 1000, CHK_L7RSP,
	  "connection closed by server|Connection reset by peer", 0, 0),
	A("accept-and-close login", T_CLOSER, CHECK_LOGIN, 1000, CHK_L7RSP,
	  "connection closed by server|Connection reset by peer", 0, 0),
	A("never answers tcp", T_SILENT, CHECK_TCP, 300, CHK_L4OK, "Layer4 check passed", 0, 0),
	A("never answers pgsql", T_SILENT, CHECK_PGSQL, 300, CHK_L7TOUT, "Layer7 timeout: no answer to SSLRequest",
	  300, 450),
	A("never answers login", T_SILENT, CHECK_LOGIN, 300, CHK_L7TOUT,
	  "Layer7 timeout: no answer to StartupMessage", 300, 450),
	A("never accepts tcp", T_FULL, CHECK_TCP, 300, CHK_L4TOUT, "Layer4 timeout", 300, 450),
	A("never accepts pgsql", T_FULL, CHECK_PGSQL, 300, CHK_L4TOUT, "Layer4 timeout", 300, 450),
	A("never accepts login", T_FULL, CHECK_LOGIN, 300, CHK_L4TOUT, "Layer4 timeout", 300, 450),
	B("source 127.0.0.2 tcp", T_CLOSER, CHECK_TCP, NULL, NULL, 1000, 0x0200007f /* 127.0.0.2 */, CHK_L4OK, "",
	  "Layer4 check passed", 0, 0),
	B("source not local", T_CLOSER, CHECK_TCP, NULL, NULL, 1000, 0x010200c0 /* 192.0.2.1, bind only */,
	  CHK_SOCKERR, "", "bind 192.0.2.1: Cannot assign requested address", 0, 0),
};

#define HBA_NOBODY \
	"pg_hba.conf rejects connection for host \"127.0.0.1\", user \"nobody\", database \"app\", no encryption"

static struct live_case real_cases[] = {
	A("postgres tcp", T_PG, CHECK_TCP, 2000, CHK_L4OK, "Layer4 check passed", 0, 0),
	A("postgres pgsql", T_PG, CHECK_PGSQL, 2000, CHK_L7OK, "PostgreSQL protocol: SSLRequest answered 'N'", 0, 0),
	A("postgres login scram", T_PG, CHECK_LOGIN, 2000, CHK_L7OK, "authentication requested (SCRAM-SHA-256)", 0, 0),
	B("postgres login rejected by pg_hba", T_PG, CHECK_LOGIN, "nobody", "app", 2000, 0, CHK_L7STS, "28000",
	  "FATAL 28000 " HBA_NOBODY, 0, 0),
	A("pgbouncer scram tcp", T_PGB1, CHECK_TCP, 2000, CHK_L4OK, "Layer4 check passed", 0, 0),
	A("pgbouncer scram pgsql", T_PGB1, CHECK_PGSQL, 2000, CHK_L7OK, "PostgreSQL protocol: SSLRequest answered 'N'",
	  0, 0),
	A("pgbouncer scram login", T_PGB1, CHECK_LOGIN, 2000, CHK_L7OK, "authentication requested (SCRAM-SHA-256)", 0,
	  0),
	/* PgBouncer's mock authentication: an unknown database still gets a SCRAM challenge. */
	B("pgbouncer scram login unknown database", T_PGB1, CHECK_LOGIN, "app", "nosuchdb", 2000, 0, CHK_L7OK, "",
	  "authentication requested (SCRAM-SHA-256)", 0, 0),
	A("pgbouncer dead server tcp", T_PGB2, CHECK_TCP, 2000, CHK_L4OK, "Layer4 check passed", 0, 0),
	A("pgbouncer dead server pgsql", T_PGB2, CHECK_PGSQL, 2000, CHK_L7OK,
	  "PostgreSQL protocol: SSLRequest answered 'N'", 0, 0),
	/* trust: no AuthenticationOk before a server connection exists, and none can be made. PgBouncer
	 * 1.18 sends nothing until client_login_timeout (1 s here, 60 s by default). */
	A("pgbouncer dead server login, short timeout", T_PGB2, CHECK_LOGIN, 500, CHK_L7TOUT,
	  "Layer7 timeout: no answer to StartupMessage", 500, 650),
	B("pgbouncer dead server login", T_PGB2, CHECK_LOGIN, "app", "app", 4000, 0, CHK_L7STS, "08P01",
	  "FATAL 08P01 client_login_timeout (server down)", 1000, 3000),
	/* the server refuses PgBouncer's own login: relayed, with PgBouncer's 08P01 */
	B("pgbouncer server login rejected", T_PGB2, CHECK_LOGIN, "app", "bad", 2000, 0, CHK_L7STS, "08P01",
	  "FATAL 08P01 " HBA_NOBODY, 0, 0),
	B("pgbouncer trust login to a live server", T_PGB2, CHECK_LOGIN, "app", "live", 2000, 0, CHK_L7OK, "",
	  "login accepted: AuthenticationOk, ReadyForQuery", 0, 0),
};

static struct loop *loop;
static struct timer guard;
static int pending;

static int setup_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int setup_fail(const char *fmt, ...)
{
	va_list ap;

	h_failed_cases++;
	printf("FAIL live setup: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return -1;
}

static void guard_cb(void *arg)
{
	loop_stop(loop);
}

static void case_done(void *arg, const struct check_result *r)
{
	struct live_case *lc = arg;

	lc->took_ms = (now_ns() - lc->start_ns) / 1e6;
	lc->r = *r;
	lc->done = 1;
	if (--pending == 0)
		loop_stop(loop);
}

static int desc_matches(const char *want, const char *got)
{
	size_t n = strlen(got);

	while (want) {
		const char *bar = strchr(want, '|');
		size_t wn = bar ? (size_t)(bar - want) : strlen(want);

		if (wn == n && !strncmp(want, got, n))
			return 1;
		want = bar ? bar + 1 : NULL;
	}
	return 0;
}

/* Start every case at once, run the loop until all are done (bounded), then judge each. */
static void run_cases(struct live_case *cases, size_t n)
{
	size_t i;

	pending = 0;
	for (i = 0; i < n; i++) {
		struct live_case *lc = &cases[i];
		struct check_target t = {
			.addr = htonl(INADDR_LOOPBACK),
			.port = port[lc->target],
			.type = lc->type,
			.timeout_ms = lc->timeout_ms,
			.user = lc->user,
			.database = lc->database,
			.src_addr = lc->src_addr,
		};
		struct check *c;

		lc->start_ns = now_ns();
		if (check_start(loop, &t, case_done, lc, &c) == 0)
			pending++;
	}
	timer_arm(&guard, 60000);
	if (pending)
		loop_run(loop);
	timer_stop(&guard);

	for (i = 0; i < n; i++) {
		struct live_case *lc = &cases[i];

		h_begin(lc->name);
		CHECK(lc->done, "no result (check_start failed or the 60 s guard struck)");
		if (lc->done) {
			CHECK(lc->r.status == lc->status, "status %s, expected %s (%s)", chk_status_name(lc->r.status),
			      chk_status_name(lc->status), lc->r.desc);
			CHECK(lc->r.ok == (lc->status == CHK_L4OK || lc->status == CHK_L7OK), "ok %d", lc->r.ok);
			CHECK(!strcmp(lc->r.code, lc->code), "code \"%s\", expected \"%s\"", lc->r.code, lc->code);
			CHECK(desc_matches(lc->desc, lc->r.desc), "desc \"%s\", expected \"%s\"", lc->r.desc, lc->desc);
			/* A timeout that strikes early is a bug; one that strikes late is a busy machine (the
			 * guard ends a hung check): the upper figure is printed, never judged. */
			CHECK(lc->took_ms >= lc->min_ms, "took %.1f ms, not before %u", lc->took_ms, lc->min_ms);
		}
		h_end();
		if (lc->done)
			printf("     %-7s %-5s %7.2f ms (duration_ms %u%s%.0u)  %s\n", chk_status_name(lc->r.status),
			       lc->r.code, lc->took_ms, lc->r.duration_ms, lc->max_ms ? "; usually under " : "",
			       lc->max_ms, lc->r.desc);
	}
}

/* ---- local targets ---- */

static int closer_fd = -1;
static uint32_t closer_saw_src;

/* Accept and close at once: a port whose owner drops every connection. */
static void closer_cb(void *arg, uint32_t events)
{
	struct sockaddr_in peer;
	socklen_t sl = sizeof(peer);
	int fd, i;

	for (i = 0; i < 64 && (fd = accept4(closer_fd, (struct sockaddr *)&peer, &sl, SOCK_CLOEXEC)) >= 0; i++) {
		if (peer.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
			closer_saw_src = peer.sin_addr.s_addr;
		close(fd);
		sl = sizeof(peer);
	}
}

/* A socket on 127.0.0.1 (port 0 = any free one); listening with backlog if >= 0. */
static int tcp_socket(uint16_t want, int backlog, uint16_t *got)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = want };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || getsockname(fd, (struct sockaddr *)&sa, &sl) < 0 ||
	    (backlog >= 0 && listen(fd, backlog) < 0)) {
		close(fd);
		return -1;
	}
	if (got)
		*got = sa.sin_port;
	return fd;
}

/* Connect without waiting (fills a backlog). */
static int tcp_connect_nb(uint16_t p)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = p };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static int local_part(void)
{
	int refused = tcp_socket(0, -1, &port[T_REFUSED]);
	int silent = tcp_socket(0, 16, &port[T_SILENT]);
	int full = tcp_socket(0, 0, &port[T_FULL]);
	int fill[2] = { -1, -1 }, err = -1, i;

	closer_fd = tcp_socket(0, 16, &port[T_CLOSER]);
	if (refused < 0 || silent < 0 || full < 0 || closer_fd < 0 ||
	    loop_add(loop, closer_fd, EPOLLIN, closer_cb, NULL) < 0) {
		setup_fail("local sockets: %s", strerror(errno));
		goto out;
	}
	/* backlog 0 holds one connection; once it is taken, the kernel drops further SYNs */
	for (i = 0; i < 2; i++)
		fill[i] = tcp_connect_nb(port[T_FULL]);
	sleep_ms(50);
	run_cases(local_cases, sizeof(local_cases) / sizeof(local_cases[0]));
	h_begin("source address is used");
	CHECK(closer_saw_src == 0x0200007f, "the listener saw %08x", closer_saw_src);
	h_end();
	err = 0;
out:
	for (i = 0; i < 2; i++)
		if (fill[i] >= 0)
			close(fill[i]);
	if (closer_fd >= 0) {
		loop_del(loop, closer_fd);
		close(closer_fd);
	}
	if (refused >= 0)
		close(refused);
	if (silent >= 0)
		close(silent);
	if (full >= 0)
		close(full);
	return err;
}

/* ---- PostgreSQL and PgBouncer ---- */

static char dir[64];
static struct passwd *pg_user;
static pid_t pid_pg = -1, pid_pgb1 = -1, pid_pgb2 = -1;

/* Fork and exec argv as user postgres, stdout and stderr to log; dies with us (sig). */
static pid_t spawn(char *const argv[], const char *log, int sig)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), nul = open("/dev/null", O_RDONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (nul >= 0)
			dup2(nul, 0);
		if (initgroups(pg_user->pw_name, pg_user->pw_gid) < 0 || setgid(pg_user->pw_gid) < 0 ||
		    setuid(pg_user->pw_uid) < 0)
			_exit(126);
		prctl(PR_SET_PDEATHSIG, sig); /* after setuid, which clears it */
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Wait for a child, at most ms; kill it when late. Its exit status, or -1. */
static int wait_child(pid_t pid, long ms)
{
	int st, i;

	for (i = 0; i < ms / 10; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);

		if (r == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		if (r < 0)
			return -1;
		sleep_ms(10);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static int run(char *const argv[], const char *log, long ms)
{
	pid_t pid = spawn(argv, log, SIGKILL);

	return pid < 0 ? -1 : wait_child(pid, ms);
}

static int write_file(const char *name, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int write_file(const char *name, const char *fmt, ...)
{
	char path[128];
	va_list ap;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return -1;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	if (fclose(f) != 0 || chown(path, pg_user->pw_uid, pg_user->pw_gid) < 0)
		return -1;
	return 0;
}

/* Occurrences of s in a file of the temp dir. */
static int count_in(const char *name, const char *s)
{
	char path[128], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, s))
			n++;
	fclose(f);
	return n;
}

/* Poll until cond() holds or ms pass. */
static int wait_until(int (*cond)(void), long ms)
{
	int i;

	for (i = 0; i < ms / 20; i++) {
		if (cond())
			return 0;
		sleep_ms(20);
	}
	return cond() ? 0 : -1;
}

static int pg_ready(void)
{
	char path[128], line[64] = "";
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "%s/pg/postmaster.pid", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	for (i = 0; i < 8 && fgets(line, sizeof(line), f); i++)
		;
	fclose(f);
	return i == 8 && !strncmp(line, "ready", 5);
}

static int port_open(uint16_t p)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = p };

	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static int poolers_up(void)
{
	return port_open(port[T_PGB1]) && port_open(port[T_PGB2]);
}

/* Three free ports in a row in 17432-18231, for PostgreSQL and the two PgBouncers. The search starts
 * at a place of this process's own: runs side by side (other worktrees, other labs) seldom try the
 * same ports between one's check and its PostgreSQL's bind. */
static int pick_ports(void)
{
	int i, k, base;

	for (i = 0; i < 40; i++) {
		int fds[3], okc = 0;

		base = 17432 + (int)((getpid() + i) % 40) * 20;
		for (k = 0; k < 3; k++) {
			fds[k] = tcp_socket(htons(base + k), 1, NULL);
			okc += fds[k] >= 0;
		}
		for (k = 0; k < 3; k++)
			if (fds[k] >= 0)
				close(fds[k]);
		if (okc == 3) {
			port[T_PG] = htons(base);
			port[T_PGB1] = htons(base + 1);
			port[T_PGB2] = htons(base + 2);
			return 0;
		}
	}
	return -1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

/* Stop what we started, by PID: SIGINT is PostgreSQL's fast shutdown, SIGTERM PgBouncer's. */
static void stop(pid_t *pid, int sig)
{
	if (*pid <= 0)
		return;
	kill(*pid, sig);
	if (wait_child(*pid, 5000) < 0)
		printf("     (pid %d needed SIGKILL)\n", (int)*pid);
	*pid = -1;
}

static int real_setup(int dead_port)
{
	char pgdata[96], sport[8], log[96], ini1[96], ini2[96];
	char *initdb[] = { PG_BIN "/initdb", "-N", "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "-D",
			   pgdata, NULL };
	char *postgres[] = { PG_BIN "/postgres", "-D", pgdata, "-p", sport, "-k", dir, "-c", "listen_addresses=127.0.0.1",
			     "-c", "fsync=off", "-c", "log_connections=on", NULL };
	char *psql[] = { PG_BIN "/psql", "-h", dir, "-p", sport, "-U", "postgres", "-d", "postgres", "-X", "-q", "-v", "ON_ERROR_STOP=1",
			 "-c", "CREATE ROLE app LOGIN PASSWORD 'app-secret'", "-c", "CREATE DATABASE app OWNER app", NULL };
	char *pgb1[] = { PGBOUNCER, ini1, NULL }, *pgb2[] = { PGBOUNCER, ini2, NULL };
	const char *common = "listen_addr = 127.0.0.1\nunix_socket_dir =\nauth_file = %s/users.txt\n"
			     "pool_mode = transaction\nlog_connections = 1\nlog_disconnections = 1\n";
	char common_s[256];

	snprintf(pgdata, sizeof(pgdata), "%s/pg", dir);
	snprintf(sport, sizeof(sport), "%u", ntohs(port[T_PG]));
	snprintf(log, sizeof(log), "%s/setup.log", dir);
	snprintf(ini1, sizeof(ini1), "%s/pgb1.ini", dir);
	snprintf(ini2, sizeof(ini2), "%s/pgb2.ini", dir);
	snprintf(common_s, sizeof(common_s), common, dir);

	if (run(initdb, log, 30000) != 0)
		return setup_fail("initdb failed (see %s)", log);
	if (write_file("pg/pg_hba.conf", "local all all trust\nhost all nobody 127.0.0.1/32 reject\n"
					 "host all all 127.0.0.1/32 scram-sha-256\n") < 0)
		return setup_fail("pg_hba.conf: %s", strerror(errno));
	snprintf(log, sizeof(log), "%s/pg.log", dir);
	pid_pg = spawn(postgres, log, SIGINT);
	if (pid_pg < 0 || wait_until(pg_ready, 15000) < 0)
		return setup_fail("PostgreSQL did not become ready (see %s)", log);
	snprintf(log, sizeof(log), "%s/setup.log", dir);
	if (run(psql, log, 15000) != 0)
		return setup_fail("psql failed (see %s)", log);

	if (write_file("users.txt", "\"app\" \"app-secret\"\n") < 0 ||
	    write_file("pgb1.ini",
		       "[databases]\napp = host=127.0.0.1 port=%u dbname=app\n"
		       "[pgbouncer]\nlisten_port = %u\nauth_type = scram-sha-256\n%s"
		       "logfile = %s/pgb1.log\npidfile = %s/pgb1.pid\n",
		       ntohs(port[T_PG]), ntohs(port[T_PGB1]), common_s, dir, dir) < 0 ||
	    write_file("pgb2.ini",
		       "[databases]\napp = host=127.0.0.1 port=%u dbname=app\n"
		       "live = host=127.0.0.1 port=%u dbname=app\n"
		       "bad = host=127.0.0.1 port=%u dbname=app user=nobody\n"
		       "[pgbouncer]\nlisten_port = %u\nauth_type = trust\nclient_login_timeout = 1\n%s"
		       "logfile = %s/pgb2.log\npidfile = %s/pgb2.pid\n",
		       ntohs(port[dead_port]), ntohs(port[T_PG]), ntohs(port[T_PG]), ntohs(port[T_PGB2]), common_s, dir,
		       dir) < 0)
		return setup_fail("PgBouncer files: %s", strerror(errno));
	snprintf(log, sizeof(log), "%s/pgb.out", dir);
	pid_pgb1 = spawn(pgb1, log, SIGTERM);
	pid_pgb2 = spawn(pgb2, log, SIGTERM);
	if (pid_pgb1 < 0 || pid_pgb2 < 0 || wait_until(poolers_up, 5000) < 0)
		return setup_fail("PgBouncer did not listen (see %s/pgb*.log)", dir);
	return 0;
}

static const char *real_skip_reason(void)
{
	static const char *const bins[] = { PG_BIN "/initdb", PG_BIN "/postgres", PG_BIN "/psql", PGBOUNCER };
	size_t i;

	if (geteuid() != 0)
		return "needs root (PostgreSQL and PgBouncer run as user postgres)";
	for (i = 0; i < sizeof(bins) / sizeof(bins[0]); i++)
		if (access(bins[i], X_OK) < 0)
			return "PostgreSQL 15 or PgBouncer not installed";
	pg_user = getpwnam("postgres");
	if (!pg_user)
		return "no user postgres";
	return NULL;
}

static void real_part(void)
{
	const char *why = real_skip_reason();
	int dead = -1, failed;
	uint64_t t0 = now_ms();

	if (why) {
		SKIP("live postgres and pgbouncer", why);
		return;
	}
	snprintf(dir, sizeof(dir), "/tmp/pgsteer-live.XXXXXX");
	if (!mkdtemp(dir) || chown(dir, pg_user->pw_uid, pg_user->pw_gid) < 0) {
		setup_fail("temp dir: %s", strerror(errno));
		return;
	}
	/* the dead server's port: bound, never listening, so connecting to it is refused */
	dead = tcp_socket(0, -1, &port[T_REFUSED]);
	if (dead < 0 || pick_ports() < 0) {
		setup_fail("no free ports");
		goto out;
	}
	if (real_setup(T_REFUSED) < 0)
		goto out;
	printf("     (setup took %llu ms, ports %u %u %u, dir %s)\n", (unsigned long long)(now_ms() - t0),
	       ntohs(port[T_PG]), ntohs(port[T_PGB1]), ntohs(port[T_PGB2]), dir);
	run_cases(real_cases, sizeof(real_cases) / sizeof(real_cases[0]));
	sleep_ms(100); /* let the poolers log the closes */

	/* Polite closes: no "bad packet" (a Terminate mid-authentication would cause it), no
	 * "unexpected eof" (a close after ReadyForQuery without Terminate would), one "client close
	 * request" (the Terminate after ReadyForQuery). PgBouncer 1.18 does not notice a client that
	 * gives up while held for login: it logs only its own client_login_timeout later. PostgreSQL
	 * logs nothing for a close after SSLRequest or during authentication. */
	h_begin("checks leave no noise in the logs");
	CHECK(count_in("pgb1.log", "bad packet") == 0, "pgb1.log has \"bad packet\"");
	CHECK(count_in("pgb2.log", "bad packet") == 0, "pgb2.log has \"bad packet\"");
	CHECK(count_in("pgb1.log", "unexpected eof") == 0, "pgb1.log has %d \"unexpected eof\"",
	      count_in("pgb1.log", "unexpected eof"));
	CHECK(count_in("pgb2.log", "unexpected eof") == 0, "pgb2.log has %d \"unexpected eof\"",
	      count_in("pgb2.log", "unexpected eof"));
	CHECK(count_in("pgb2.log", "client close request") == 1, "pgb2.log: Terminate not seen");
	CHECK(count_in("pg.log", "incomplete startup packet") == 0, "pg.log: incomplete startup packet");
	CHECK(count_in("pg.log", "expected password response") == 0, "pg.log: expected password response");
	CHECK(count_in("pg.log", "could not receive data") == 0, "pg.log: could not receive data");
	h_end();
out:
	stop(&pid_pgb1, SIGTERM);
	stop(&pid_pgb2, SIGTERM);
	stop(&pid_pg, SIGINT);
	if (dead >= 0)
		close(dead);
	failed = h_failed_cases;
	if (!failed)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	else
		printf("     (logs kept in %s)\n", dir);
}

/* The test owns its environment: a caller's PGUSER, PGDATABASE, PGHOST, PGPORT, PGDATA... would steer
 * initdb, postgres and psql elsewhere, and a locale would translate the messages compared here. */
static void own_environment(void)
{
	extern char **environ;
	size_t i = 0;

	while (environ[i]) {
		char name[128];
		size_t n = strcspn(environ[i], "=");

		if (!strncmp(environ[i], "PG", 2) && n < sizeof(name)) {
			memcpy(name, environ[i], n);
			name[n] = '\0';
			unsetenv(name); /* environ shifts down: look at index i again */
			continue;
		}
		i++;
	}
	setenv("LC_ALL", "C", 1);
}

int main(void)
{
	int err;

	own_environment();
	signal(SIGPIPE, SIG_IGN);
	loop = loop_new();
	if (!loop || timer_init(&guard, loop, guard_cb, NULL) < 0) {
		printf("FAIL live: no event loop\n");
		return 1;
	}
	err = local_part();
	real_part();
	timer_close(&guard);
	loop_free(loop);
	return err ? 1 : h_exit();
}

/* Idle sessions held through a load balancer, for the bench's idle run (scripts/bench.sh): SESSIONS
 * libpq sessions logged in to PgBouncer (THREADS threads connecting their share one after the other,
 * so at most THREADS handshakes are in flight), then held with no traffic at all (libpq's TCP
 * keepalives off) until SIGUSR1 or HOLD seconds, then asked one query each: the sessions that lived
 * through the hold on their own TCP connection. The file limit is raised to fit (run as root).
 *
 * Output (stdout, each line flushed as it comes):
 *   # connected N failed F ms T     sessions logged in, failed connects, time to connect them all
 *   # holding PID                    the sessions are up and idle (the bench measures from here);
 *                                    PID: this process, for the SIGUSR1 that ends the hold
 *   # answered A of N                after the hold: sessions that answered SELECT 1
 *
 * usage: pgs_idle HOST PORT SESSIONS HOLD_SECONDS [THREADS]  (libpq's PGPASSWORD for the password) */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#define MAX_SESSIONS 100000
#define MAX_THREADS 64

static char conninfo[512];
static PGconn **conns;
static int nsessions, nthreads;
static atomic_int failed, answered;
static atomic_int first_error; /* print one failure's reason, not thousands */

static long long mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void *connector(void *arg)
{
	int i;

	for (i = (int)(long)arg; i < nsessions; i += nthreads) {
		conns[i] = PQconnectdb(conninfo);
		if (PQstatus(conns[i]) != CONNECTION_OK) {
			if (!atomic_exchange(&first_error, 1))
				fprintf(stderr, "pgs_idle: session %d: %s", i, PQerrorMessage(conns[i]));
			atomic_fetch_add(&failed, 1);
			PQfinish(conns[i]);
			conns[i] = NULL;
		}
	}
	return NULL;
}

static void *asker(void *arg)
{
	int i;

	for (i = (int)(long)arg; i < nsessions; i += nthreads) {
		PGresult *r;

		if (!conns[i])
			continue;
		r = PQexec(conns[i], "SELECT 1");
		if (PQresultStatus(r) == PGRES_TUPLES_OK)
			atomic_fetch_add(&answered, 1);
		PQclear(r);
		PQfinish(conns[i]);
		conns[i] = NULL;
	}
	return NULL;
}

static int run_threads(void *(*fn)(void *))
{
	pthread_t t[MAX_THREADS];
	int i;

	for (i = 0; i < nthreads; i++) {
		if (pthread_create(&t[i], NULL, fn, (void *)(long)i)) {
			fprintf(stderr, "pgs_idle: cannot start thread %d\n", i);
			return -1;
		}
	}
	for (i = 0; i < nthreads; i++)
		pthread_join(t[i], NULL);
	return 0;
}

int main(int argc, char **argv)
{
	struct rlimit rl;
	struct timespec hold;
	sigset_t usr1;
	long long t0;
	int secs;

	nthreads = argc == 6 ? atoi(argv[5]) : 16;
	if ((argc != 5 && argc != 6) || (nsessions = atoi(argv[3])) < 1 || nsessions > MAX_SESSIONS ||
	    (secs = atoi(argv[4])) < 1 || nthreads < 1 || nthreads > MAX_THREADS) {
		fprintf(stderr, "usage: %s HOST PORT SESSIONS(1-%d) HOLD_SECONDS [THREADS(1-%d), 16]\n", argv[0],
			MAX_SESSIONS, MAX_THREADS);
		return 2;
	}
	/* One descriptor a session, plus stdio and libpq's own. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)nsessions + 64) {
		rl.rlim_cur = (rlim_t)nsessions + 64;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl)) {
			fprintf(stderr, "%s: cannot raise the file limit to %llu for %d sessions: %s\n", argv[0],
				(unsigned long long)rl.rlim_cur, nsessions, strerror(errno));
			return 1;
		}
	}
	conns = calloc((size_t)nsessions, sizeof(*conns));
	if (!conns) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s dbname=app user=app connect_timeout=10 keepalives=0",
		 argv[1], argv[2]);
	/* SIGUSR1 ends the hold: blocked here (every thread inherits the mask), taken by sigtimedwait. */
	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &usr1, NULL);

	t0 = mono_ms();
	if (run_threads(connector))
		return 1;
	printf("# connected %d failed %d ms %lld\n", nsessions - atomic_load(&failed), atomic_load(&failed),
	       mono_ms() - t0);
	printf("# holding %d\n", (int)getpid());
	fflush(stdout);
	hold.tv_sec = secs;
	hold.tv_nsec = 0;
	while (sigtimedwait(&usr1, NULL, &hold) < 0 && errno == EINTR)
		;
	if (run_threads(asker))
		return 1;
	printf("# answered %d of %d\n", atomic_load(&answered), nsessions - atomic_load(&failed));
	free(conns);
	return 0;
}

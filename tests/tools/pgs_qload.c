/* A query load that outlives failures, for the bench's failover timeline (scripts/bench_failover.sh).
 * WORKERS threads each hold one libpq connection and run "SELECT 1" back to back; a broken connection
 * or a failed query is counted as an error and the worker connects again (after 10 ms). IDLE more
 * connections are opened at the start, left idle, and asked one query each at the end: the sessions
 * that survived whatever happened meanwhile, on their own TCP connection (libpq never reconnects by
 * itself). A dead peer is noticed within tcp_user_timeout (2 s): nothing waits forever.
 *
 * Output, all times in ms since the epoch (CLOCK_REALTIME, the clock `date +%s%3N` reads):
 *   # start_ms T                 the first bucket's start
 *   # gap FROM TO                every stretch of at least GAP_MS with no query answered by any worker
 *   # workers W broken B         active sessions, and how many of them lost their connection at least once
 *   # idle N answered A          idle sessions, and how many answered at the end on their own connection
 *   OFFSET_MS OK ERR             per 100 ms bucket: queries answered, errors (failed connects and queries)
 *
 * usage: pgs_qload HOST PORT WORKERS SECONDS [IDLE]  (libpq's PGPASSWORD for the password) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#define BUCKET_MS 100
#define GAP_MS 20
#define MAX_WORKERS 256
#define MAX_IDLE 1024
#define MAX_GAPS 4096

static char conninfo[512];
static long long start_ms, end_ms;
static long nbuckets;
static atomic_long *ok, *err;
static atomic_int broken;

/* The last answer from any worker, and the gaps between answers (under gap_lock). */
static pthread_mutex_t gap_lock = PTHREAD_MUTEX_INITIALIZER;
static long long last_ok_ms;
static long long gaps[MAX_GAPS][2];
static int ngaps;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void count(atomic_long *v, long long t)
{
	long b = (long)((t - start_ms) / BUCKET_MS);

	if (b >= 0 && b < nbuckets)
		atomic_fetch_add(&v[b], 1);
}

static void answered(void)
{
	long long t = now_ms();

	count(ok, t);
	pthread_mutex_lock(&gap_lock);
	if (t - last_ok_ms >= GAP_MS && ngaps < MAX_GAPS) {
		gaps[ngaps][0] = last_ok_ms;
		gaps[ngaps][1] = t;
		ngaps++;
	}
	if (t > last_ok_ms)
		last_ok_ms = t;
	pthread_mutex_unlock(&gap_lock);
}

static void *worker(void *arg)
{
	PGconn *c = NULL;
	int lost = 0;

	(void)arg;
	while (now_ms() < end_ms) {
		PGresult *r;

		if (!c) {
			c = PQconnectdb(conninfo);
			if (PQstatus(c) != CONNECTION_OK) {
				count(err, now_ms());
				PQfinish(c);
				c = NULL;
				usleep(10000);
				continue;
			}
		}
		r = PQexec(c, "SELECT 1");
		if (PQresultStatus(r) == PGRES_TUPLES_OK) {
			answered();
		} else {
			count(err, now_ms());
			if (!lost)
				atomic_fetch_add(&broken, 1);
			lost = 1;
			PQfinish(c);
			c = NULL;
			usleep(10000);
		}
		PQclear(r);
	}
	PQfinish(c);
	return NULL;
}

/* One query on an idle session opened at the start: did it survive? */
static int idle_answers(PGconn *c)
{
	PGresult *r;
	int good;

	if (PQstatus(c) != CONNECTION_OK)
		return 0;
	r = PQexec(c, "SELECT 1");
	good = PQresultStatus(r) == PGRES_TUPLES_OK;
	PQclear(r);
	return good;
}

int main(int argc, char **argv)
{
	static PGconn *idle[MAX_IDLE];
	pthread_t t[MAX_WORKERS];
	int workers, secs, nidle = 0, answered_idle = 0, i;
	long b;

	if ((argc != 5 && argc != 6) || (workers = atoi(argv[3])) < 1 || workers > MAX_WORKERS ||
	    (secs = atoi(argv[4])) < 1 || (argc == 6 && ((nidle = atoi(argv[5])) < 0 || nidle > MAX_IDLE))) {
		fprintf(stderr, "usage: %s HOST PORT WORKERS(1-%d) SECONDS [IDLE(0-%d)]\n", argv[0], MAX_WORKERS,
			MAX_IDLE);
		return 2;
	}
	snprintf(conninfo, sizeof(conninfo),
		 "host=%s port=%s dbname=app user=app connect_timeout=2 tcp_user_timeout=2000 keepalives_idle=1 "
		 "keepalives_interval=1 keepalives_count=2",
		 argv[1], argv[2]);
	for (i = 0; i < nidle; i++) {
		idle[i] = PQconnectdb(conninfo);
		if (PQstatus(idle[i]) != CONNECTION_OK) {
			fprintf(stderr, "%s: idle session %d: %s", argv[0], i, PQerrorMessage(idle[i]));
			return 1;
		}
	}
	nbuckets = (long)secs * 1000 / BUCKET_MS;
	ok = calloc((size_t)nbuckets, sizeof(*ok));
	err = calloc((size_t)nbuckets, sizeof(*err));
	if (!ok || !err) {
		fprintf(stderr, "%s: out of memory\n", argv[0]);
		return 1;
	}
	start_ms = last_ok_ms = now_ms();
	end_ms = start_ms + (long long)secs * 1000;
	for (i = 0; i < workers; i++) {
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "%s: cannot start worker %d\n", argv[0], i);
			return 1;
		}
	}
	for (i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < nidle; i++) {
		answered_idle += idle_answers(idle[i]);
		PQfinish(idle[i]);
	}
	printf("# start_ms %lld\n", start_ms);
	for (i = 0; i < ngaps; i++)
		printf("# gap %lld %lld\n", gaps[i][0], gaps[i][1]);
	printf("# workers %d broken %d\n", workers, atomic_load(&broken));
	printf("# idle %d answered %d\n", nidle, answered_idle);
	for (b = 0; b < nbuckets; b++)
		printf("%ld %ld %ld\n", b * BUCKET_MS, atomic_load(&ok[b]), atomic_load(&err[b]));
	return 0;
}

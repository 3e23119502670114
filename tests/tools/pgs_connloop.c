/* New connections one after another, as an application opens them: WORKERS threads each connect
 * through libpq, run "SELECT 1", close, pause PAUSE_MS (100) and start again, until SECONDS have passed
 * (an attempt started before then finishes; libpq's connect_timeout bounds it). Every attempt is
 * one line, so a test can judge the attempts by when they started (the flood of t_synflood.sh):
 *   START_MS DURATION_MS ok
 *   START_MS DURATION_MS fail MESSAGE
 * START_MS is CLOCK_REALTIME in ms (what `date +%s%3N` reads); then "# attempts N ok M".
 *
 * usage: pgs_connloop HOST PORT WORKERS SECONDS [CONNECT_TIMEOUT_S]  (libpq's PGPASSWORD for the
 * password) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <libpq-fe.h>

#define MAX_WORKERS 64
#define PAUSE_MS 100
#define MAX_ATTEMPTS 5000 /* per worker: a bound whatever the clock does */

static char conninfo[512];
static long long end_ms;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long attempts, oks;

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One connection, one query. NULL when both worked, else libpq's message. */
static const char *attempt(char *why, size_t len)
{
	PGconn *c = PQconnectdb(conninfo);
	PGresult *r = NULL;
	const char *fail = NULL;

	if (PQstatus(c) != CONNECTION_OK) {
		fail = "connect";
	} else {
		r = PQexec(c, "SELECT 1");
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail = "query";
	}
	if (fail) {
		char *nl;

		snprintf(why, len, "%s: %s", fail, PQerrorMessage(c));
		while ((nl = strchr(why, '\n')))
			*nl = ' ';
	}
	PQclear(r);
	PQfinish(c);
	return fail ? why : NULL;
}

static void *worker(void *arg)
{
	char why[256];
	int n;

	(void)arg;
	for (n = 0; n < MAX_ATTEMPTS && now_ms() < end_ms; n++) {
		long long t0 = now_ms();
		const char *fail = attempt(why, sizeof(why));
		long long t1 = now_ms();

		pthread_mutex_lock(&out_lock);
		attempts++;
		oks += !fail;
		if (fail)
			printf("%lld %lld fail %s\n", t0, t1 - t0, fail);
		else
			printf("%lld %lld ok\n", t0, t1 - t0);
		pthread_mutex_unlock(&out_lock);
		usleep(PAUSE_MS * 1000);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[MAX_WORKERS];
	int workers, secs, ct = 15, i;

	if ((argc != 5 && argc != 6) || (workers = atoi(argv[3])) < 1 || workers > MAX_WORKERS ||
	    (secs = atoi(argv[4])) < 1 || (argc == 6 && (ct = atoi(argv[5])) < 1)) {
		fprintf(stderr, "usage: %s HOST PORT WORKERS(1-%d) SECONDS [CONNECT_TIMEOUT_S]\n", argv[0], MAX_WORKERS);
		return 2;
	}
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s dbname=app user=app connect_timeout=%d", argv[1], argv[2],
		 ct);
	setvbuf(stdout, NULL, _IOLBF, 0);
	end_ms = now_ms() + (long long)secs * 1000;
	for (i = 0; i < workers; i++) {
		if (pthread_create(&t[i], NULL, worker, NULL)) {
			fprintf(stderr, "%s: cannot start worker %d\n", argv[0], i);
			return 1;
		}
	}
	for (i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	printf("# attempts %ld ok %ld\n", attempts, oks);
	return 0;
}

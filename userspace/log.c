/* A tiny log API: one line per event on stderr, prefixed with the journald level under systemd. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "log.h"

static int verbosity;
static int journal; /* stderr is the journal: prefix <N> instead of a time stamp */

void log_init(int v)
{
	verbosity = v;
	journal = getenv("JOURNAL_STREAM") != NULL;
}

int log_verbosity(void)
{
	return verbosity;
}

static void vlog(enum log_level lvl, const char *errstr, const char *fmt, va_list ap)
{
	static const char *const names[] = { "error", "warning", "info", "debug", "debug" };
	static const int prio[] = { 3, 4, 6, 7, 7 };
	char line[1024];
	int n;

	if (lvl == LOG_LVL_DEBUG && verbosity < 1)
		return;
	if (lvl == LOG_LVL_TRACE && verbosity < 2)
		return;
	n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n < 0)
		return;
	while (n > 0 && (size_t)n < sizeof(line) && line[n - 1] == '\n')
		line[--n] = '\0';
	if (journal) {
		fprintf(stderr, "<%d>%s%s%s\n", prio[lvl], line, errstr ? ": " : "", errstr ? errstr : "");
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s%s%s\n", when, ts.tv_nsec / 1000000, names[lvl], line,
			errstr ? ": " : "", errstr ? errstr : "");
	}
}

#define LOG_FN(name, lvl)                        \
	void name(const char *fmt, ...)          \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		vlog(lvl, NULL, fmt, ap);        \
		va_end(ap);                      \
	}

LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

void log_warn(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_WARN, strerror(e), fmt, ap);
	va_end(ap);
}

void fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, strerror(e), fmt, ap);
	va_end(ap);
	exit(1);
}

void fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERR, NULL, fmt, ap);
	va_end(ap);
	exit(1);
}

int log_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf speaks only with -vv; callers report its failures in their own words. */
	if (verbosity < 2)
		return 0;
	vlog(level == LIBBPF_WARN ? LOG_LVL_WARN : LOG_LVL_TRACE, NULL, fmt, ap);
	return 0;
}

/* A table-test harness for plain C tests: one "PASS name" or "FAIL name: why" line per case,
 * counted by tests/run.sh. */
#ifndef PGS_HARNESS_H
#define PGS_HARNESS_H

#include <stdio.h>
#include <string.h>

static int h_failed_cases, h_case_failed;
static const char *h_case;

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			if (!h_case_failed)                                 \
				printf("FAIL %s: ", h_case);                \
			else                                                \
				printf("     %s: ", h_case);                \
			printf(__VA_ARGS__);                                \
			printf(" (%s:%d: %s)\n", __FILE__, __LINE__, #cond); \
			h_case_failed = 1;                                  \
		}                                                           \
	} while (0)

#define CHECK_EQ(a, b)                                                                    \
	CHECK((long long)(a) == (long long)(b), "%s = %lld, expected %lld", #a, (long long)(a), \
	      (long long)(b))

#define CHECK_STR(a, b)                                                               \
	CHECK(strcmp((a), (b)) == 0, "%s = \"%s\", expected \"%s\"", #a, (a), (b))

static inline void h_begin(const char *name)
{
	h_case = name;
	h_case_failed = 0;
}

static inline void h_end(void)
{
	if (!h_case_failed)
		printf("PASS %s\n", h_case);
	else
		h_failed_cases++;
	fflush(stdout);
}

#define RUN(fn)            \
	do {               \
		h_begin(#fn); \
		fn();      \
		h_end();   \
	} while (0)

/* Skip a case with a reason (counted as skipped, not passed). */
#define SKIP(name, why) printf("SKIP %s: %s\n", (name), (why))

static inline int h_exit(void)
{
	return h_failed_cases ? 1 : 0;
}

#endif

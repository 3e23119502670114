/* Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by `make fuzz` with clang,
 * -fsanitize=fuzzer,address,undefined): the input as a NUL-terminated string, and quiet logs. */
#ifndef PGS_FUZZ_H
#define PGS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A copy of the input with a NUL after it (the input itself may hold NULs: the parser sees them). */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* 1 if s is text safe to log and to put in JSON (text.h): valid UTF-8 without control characters. */
static inline int fuzz_clean_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		int n = *p < 0x80 ? 0 : (*p & 0xe0) == 0xc0 ? 1 : (*p & 0xf0) == 0xe0 ? 2 : (*p & 0xf8) == 0xf0 ? 3 : -1;

		if (n < 0 || (*p < 0x80 && (*p < 0x20 || *p == 0x7f)))
			return 0;
		if (n == 1 && *p < 0xc2)
			return 0;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xc0) != 0x80)
				return 0;
	}
	return 1;
}

#endif

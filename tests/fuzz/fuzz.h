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

#endif

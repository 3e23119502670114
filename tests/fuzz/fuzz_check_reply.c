/* The PostgreSQL check reply parser (check_proto_feed): whatever a server (or anything listening on
 * its port) answers to SSLRequest or StartupMessage. The first byte picks the check type and the
 * size of the pieces the bytes arrive in; the rest is the server's answer. A verdict always comes
 * (at the latest when the server closes), and its text is safe to log and to put in JSON: one line,
 * no control characters, valid UTF-8 (a server's message in any language is cut on a character). */
#include <assert.h>
#include "fuzz.h"
#include "check.h"

static void judge(const struct check_result *r)
{
	assert(memchr(r->desc, '\0', sizeof(r->desc)) && memchr(r->code, '\0', sizeof(r->code)));
	assert(fuzz_clean_text(r->desc));
	assert(fuzz_clean_text(r->code));
	assert(r->ok == (r->status == CHK_L4OK || r->status == CHK_L7OK));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct check_proto p, t;
	struct check_result r;
	size_t piece, off = 1;
	int done = 0;

	if (size < 1)
		return 0;
	check_proto_init(&p, data[0] & 1 ? CHECK_LOGIN : CHECK_PGSQL);
	piece = 1 + (data[0] >> 1);
	while (!done && off < size) {
		size_t n = size - off < piece ? size - off : piece;
		uint8_t *chunk = malloc(n); /* exact size: a read past the piece is caught */

		memcpy(chunk, data + off, n);
		memset(&r, 0, sizeof(r));
		done = check_proto_feed(&p, chunk, n, &r);
		free(chunk);
		off += n;
		if (!done) {
			t = p;
			memset(&r, 0, sizeof(r));
			check_proto_timeout(&t, &r);
			judge(&r);
		}
	}
	if (!done) {
		memset(&r, 0, sizeof(r));
		done = check_proto_feed(&p, NULL, 0, &r);
		assert(done == 1);
	}
	judge(&r);
	return 0;
}

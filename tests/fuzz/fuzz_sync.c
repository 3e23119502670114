/* The flow-sync message decoder (sync_rx_message): a datagram on the sync port may come from
 * anyone. The first input byte chooses how the rest is taken: bit 0 set, the harness signs it with
 * the shared key first (as a peer holding the key, or one that lost its mind, would), so the fuzzer
 * gets past the HMAC into the header and record checks; bit 0 clear, it goes in as it is (a forger
 * without the key). Every accepted record must be one the decoder's own rules allow; every
 * rejection is a counted reason, never a crash or a read past the datagram. */
#include <assert.h>
#include <arpa/inet.h>
#include <openssl/hmac.h>
#include "fuzz.h"
#include "sync_proto.h"

static const struct sync_key key = { .k = "fuzz-sync-key-0123456789abcdef", .len = 30 };

static int resolve(void *ctx, const struct sync_flow *f)
{
	/* this node has service "pgsql" with one server, 10.100.1.21:6432 */
	if (strcmp(f->service, "pgsql"))
		return SYNC_E_UNKNOWN_SERVICE;
	return f->backend == htonl(0x0a640115) && f->bport == htons(6432) ? 0 : SYNC_E_UNKNOWN_SERVER;
}

static void apply(void *ctx, const struct sync_hdr *h, const struct sync_flow *f)
{
	assert(h->type == SYNC_T_FLOWS);
	assert(!strcmp(f->service, "pgsql"));
	assert(f->op == SYNC_OP_NEW || f->op == SYNC_OP_CLOSE || f->op == SYNC_OP_REFRESH);
	assert(f->client && f->vip && f->cport && f->vport && f->sport);
	(*(int *)ctx)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sync_rx rx = { .self = htonl(0x0a64010a), .vrid = 51 };
	struct sync_hdr h;
	uint8_t *msg;
	size_t len;
	int r, applied = 0, i;
	uint64_t errs = 0;

	if (size < 1)
		return 0;
	len = size - 1;
	/* an exact-size copy, so that a read past the end is caught */
	msg = malloc(len ? len : 1);
	if (!msg)
		abort();
	memcpy(msg, data + 1, len);
	if ((data[0] & 1) && len >= SYNC_HDR_LEN + SYNC_MAC_LEN) {
		size_t declared = (size_t)msg[10] << 8 | msg[11];
		unsigned int outlen = 0;

		if (declared <= len && declared >= SYNC_HDR_LEN + SYNC_MAC_LEN)
			HMAC(EVP_sha256(), key.k, (int)key.len, msg, declared - SYNC_MAC_LEN, msg + declared - SYNC_MAC_LEN,
			     &outlen);
	}
	r = sync_rx_message(&rx, &key, msg, len, resolve, apply, &applied, &h);
	assert(r == 0 || (r <= -SYNC_E_TRUNCATED && r > -SYNC_E_MAX));
	for (i = 0; i < SYNC_E_MAX; i++)
		errs += rx.err[i];
	if (r == 0) {
		assert(rx.msgs == 1);
		assert(h.count <= SYNC_MAX_RECS && h.len == len);
		assert((uint64_t)applied == rx.recs && rx.recs + errs <= h.count);
		/* the same message again is a replay */
		assert(sync_rx_message(&rx, &key, msg, len, resolve, apply, &applied, &h) == -SYNC_E_REPLAY);
	} else {
		assert(rx.msgs == 0 && applied == 0 && errs == 1);
	}
	free(msg);
	return 0;
}

/* The flow-sync protocol: the wire bytes against an independent HMAC-SHA256 (Python's hmac), round
 * trips, every rejection reason with forged messages (wrong key, altered bytes, truncated, replayed,
 * old epoch, other instance, looped back, unknown service or server), the replay window, key files. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "harness.h"
#include "sync_proto.h"

static const struct sync_key key = { .k = "0123456789abcdef0123", .len = 20 };
static const struct sync_key other_key = { .k = "0123456789abcdef0124", .len = 20 };

/* The known-answer message: python3 hmac.new(b"0123456789abcdef0123", body, hashlib.sha256) over
 * the header and one record built with struct.pack from the layout in sync_proto.h. */
static const char *const kat_hex =
	"5047535902013300000100900a00000b01020304050607080000000000000001"
	"0000018bcfe56800000000000000000070670000000000000000000000000000"
	"0a0000320a0000640a0001159c401538192080e801030000000004d211223344"
	"5566778855667788112233440f00000023e0aeca6272a5fa4d692e48524b35b6"
	"99cd9a4a1a2d3e16254bf6cbf8638a72";

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	unsigned int b;

	for (; s[0] && s[1] && n < max; s += 2) {
		if (sscanf(s, "%2x", &b) != 1)
			break;
		out[n++] = (uint8_t)b;
	}
	return n;
}

static struct sync_flow flow(const char *svc, const char *client, uint16_t cport,
			     const char *backend, uint16_t bport, uint16_t sport, uint8_t op)
{
	struct sync_flow f = {
		.client = inet_addr(client),
		.vip = inet_addr("10.0.0.100"),
		.backend = inet_addr(backend),
		.cport = htons(cport),
		.vport = htons(5432),
		.bport = htons(bport),
		.sport = htons(sport),
		.op = op,
		.state = PGS_FLOW_ESTABLISHED,
		.idle_ms = 1234,
		.nxt = { 0x11223344, 0x55667788 },
		.ack = { 0x55667788, 0x11223344 },
		.edges = SYNC_EDGES_KNOWN,
	};

	snprintf(f.service, sizeof(f.service), "%s", svc);
	return f;
}

static struct sync_tx master(void)
{
	return (struct sync_tx){ .sender = inet_addr("10.0.0.11"), .vrid = 51,
				 .epoch = 0x0102030405060708ull };
}

static struct sync_rx backup(void)
{
	struct sync_rx rx;

	memset(&rx, 0, sizeof(rx));
	rx.self = inet_addr("10.0.0.12");
	rx.vrid = 51;
	return rx;
}

/* Build a sealed message of n records from tx with key k. */
static int build(struct sync_batch *b, struct sync_tx *tx, const struct sync_key *k, int n)
{
	sync_batch_init(b, SYNC_T_FLOWS);
	for (int i = 0; i < n; i++) {
		struct sync_flow f = flow("pg", "10.0.0.50", (uint16_t)(40000 + i), "10.0.1.21", 6432,
					  (uint16_t)(33000 + i), SYNC_OP_NEW);

		if (sync_batch_add(b, &f) < 0)
			return -1;
	}
	return sync_batch_seal(b, tx, k, 1700000000000ull);
}

/* The local model the receiver resolves against: service "pg" on 10.0.0.100:5432 with two servers. */
static int resolve(void *ctx, const struct sync_flow *f)
{
	if (strcmp(f->service, "pg") || f->vip != inet_addr("10.0.0.100") || f->vport != htons(5432))
		return SYNC_E_UNKNOWN_SERVICE;
	if ((f->backend == inet_addr("10.0.1.21") || f->backend == inet_addr("10.0.1.22")) &&
	    f->bport == htons(6432))
		return 0;
	return SYNC_E_UNKNOWN_SERVER;
}

struct applied {
	int n;
	struct sync_flow f[SYNC_MAX_RECS];
};

static void apply(void *ctx, const struct sync_hdr *h, const struct sync_flow *f)
{
	struct applied *a = ctx;

	if (a->n < SYNC_MAX_RECS)
		a->f[a->n++] = *f;
}

/* Re-seal altered bytes with the right key: an authentic but wrong message (a buggy peer). */
static void remac(uint8_t *msg, size_t len)
{
	unsigned int outlen;

	HMAC(EVP_sha256(), key.k, (int)key.len, msg, len - SYNC_MAC_LEN, msg + len - SYNC_MAC_LEN,
	     &outlen);
}

static void known_answer(void)
{
	uint8_t want[SYNC_MSG_MAX];
	size_t wlen = unhex(kat_hex, want, sizeof(want));
	struct sync_tx tx = master();
	struct sync_batch b;
	int len = build(&b, &tx, &key, 1);

	CHECK_EQ(len, 144);
	CHECK_EQ(wlen, 144);
	CHECK(len == (int)wlen && memcmp(b.buf, want, wlen) == 0, "sealed bytes differ from the vector");
	CHECK_EQ(tx.seq, 1);
}

static void round_trip(void)
{
	struct sync_tx tx = master();
	struct sync_rx rx = backup();
	struct applied a = { 0 };
	struct sync_batch b;
	struct sync_hdr h;
	int len = build(&b, &tx, &key, 3);

	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, &a, &h), 0);
	CHECK_EQ(h.type, SYNC_T_FLOWS);
	CHECK_EQ(h.count, 3);
	CHECK_EQ(h.seq, 1);
	CHECK_EQ(h.epoch, 0x0102030405060708ull);
	CHECK_EQ(h.sent_ms, 1700000000000ull);
	CHECK(h.sender == inet_addr("10.0.0.11"), "sender");
	CHECK_EQ(a.n, 3);
	CHECK_STR(a.f[2].service, "pg");
	CHECK(a.f[2].client == inet_addr("10.0.0.50") && a.f[2].cport == htons(40002), "client");
	CHECK(a.f[2].backend == inet_addr("10.0.1.21") && a.f[2].bport == htons(6432), "backend");
	CHECK_EQ(ntohs(a.f[2].sport), 33002);
	CHECK_EQ(a.f[2].op, SYNC_OP_NEW);
	CHECK_EQ(a.f[2].state, PGS_FLOW_ESTABLISHED);
	CHECK_EQ(a.f[2].idle_ms, 1234);
	CHECK(a.f[2].nxt[0] == 0x11223344 && a.f[2].nxt[1] == 0x55667788, "sequence edges");
	CHECK(a.f[2].ack[0] == 0x55667788 && a.f[2].ack[1] == 0x11223344, "acknowledgements");
	CHECK_EQ(a.f[2].edges, SYNC_EDGES_KNOWN);
	CHECK_EQ(rx.msgs, 1);
	CHECK_EQ(rx.recs, 3);
}

static void batch_full(void)
{
	struct sync_tx tx = master();
	struct sync_batch b;
	struct sync_flow f = flow("pg", "10.0.0.50", 1, "10.0.1.21", 6432, 2, SYNC_OP_NEW);
	int i, rc = 0, len;

	sync_batch_init(&b, SYNC_T_FLOWS);
	for (i = 0; i < SYNC_MAX_RECS; i++)
		rc |= sync_batch_add(&b, &f);
	CHECK_EQ(rc, 0);
	CHECK_EQ(sync_batch_add(&b, &f), -ENOSPC);
	len = sync_batch_seal(&b, &tx, &key, 0);
	/* A full batch still fits one datagram on a 1500-byte link. */
	CHECK(len + 20 + 8 <= 1500, "full batch is %d bytes", len);
	CHECK_EQ(len, SYNC_MSG_MAX);
}

/* Every forged or broken message: rejected with its reason, nothing applied, replay state intact. */
enum mutation { M_NONE, M_WRONG_KEY, M_FLIP_BODY, M_FLIP_MAC, M_TRUNC_HDR, M_TRUNC_MAC, M_TRUNC_REC,
		M_TRAILING, M_MAGIC, M_VERSION, M_LEN_LONGER, M_OTHER_VRID, M_COUNT, M_TYPE,
		M_REQ_WITH_RECS, M_SEQ0, M_RESERVED, M_BAD_OP, M_SYN_STATE, M_NAME_UNTERMINATED,
		M_NAME_EMPTY, M_NAME_GARBAGE, M_ZERO_SPORT, M_ZERO_CLIENT, M_BAD_FLAGS, M_BAD_EDGES,
		M_EDGE_UNMARKED, M_REC_PAD, M_SELF };

static const struct {
	const char *name;
	enum mutation m;
	int want; /* -SYNC_E_* */
} forged[] = {
	{ "wrong key", M_WRONG_KEY, -SYNC_E_AUTH },
	{ "record byte altered", M_FLIP_BODY, -SYNC_E_AUTH },
	{ "mac byte altered", M_FLIP_MAC, -SYNC_E_AUTH },
	{ "cut inside the header", M_TRUNC_HDR, -SYNC_E_TRUNCATED },
	{ "cut inside the mac", M_TRUNC_MAC, -SYNC_E_TRUNCATED },
	{ "cut after a record", M_TRUNC_REC, -SYNC_E_TRUNCATED },
	{ "bytes after the message", M_TRAILING, -SYNC_E_MALFORMED },
	{ "other magic", M_MAGIC, -SYNC_E_VERSION },
	{ "version 1 (records without edges)", M_VERSION, -SYNC_E_VERSION },
	{ "length beyond the datagram", M_LEN_LONGER, -SYNC_E_TRUNCATED },
	{ "authentic, other vrid", M_OTHER_VRID, -SYNC_E_INSTANCE },
	{ "authentic, count disagrees", M_COUNT, -SYNC_E_MALFORMED },
	{ "authentic, unknown type", M_TYPE, -SYNC_E_MALFORMED },
	{ "authentic, resync request with records", M_REQ_WITH_RECS, -SYNC_E_MALFORMED },
	{ "authentic, sequence 0", M_SEQ0, -SYNC_E_MALFORMED },
	{ "authentic, reserved bytes set", M_RESERVED, -SYNC_E_MALFORMED },
	{ "authentic, unknown op", M_BAD_OP, -SYNC_E_MALFORMED },
	{ "authentic, half-open flow", M_SYN_STATE, -SYNC_E_MALFORMED },
	{ "authentic, unterminated name", M_NAME_UNTERMINATED, -SYNC_E_MALFORMED },
	{ "authentic, empty name", M_NAME_EMPTY, -SYNC_E_MALFORMED },
	{ "authentic, bytes after the name", M_NAME_GARBAGE, -SYNC_E_MALFORMED },
	{ "authentic, SNAT port 0", M_ZERO_SPORT, -SYNC_E_MALFORMED },
	{ "authentic, client 0.0.0.0", M_ZERO_CLIENT, -SYNC_E_MALFORMED },
	{ "authentic, unknown flag", M_BAD_FLAGS, -SYNC_E_MALFORMED },
	{ "authentic, unknown edge bit", M_BAD_EDGES, -SYNC_E_MALFORMED },
	{ "authentic, an edge without its bit", M_EDGE_UNMARKED, -SYNC_E_MALFORMED },
	{ "authentic, record padding set", M_REC_PAD, -SYNC_E_MALFORMED },
	{ "our own message looped back", M_SELF, -SYNC_E_SELF },
};

static void forged_messages(void)
{
	for (size_t t = 0; t < sizeof(forged) / sizeof(forged[0]); t++) {
		struct sync_tx tx = master();
		struct sync_rx rx = backup();
		struct applied a = { 0 };
		uint8_t msg[SYNC_MSG_MAX + 16];
		struct sync_batch b;
		struct sync_hdr h;
		uint8_t *rec = msg + SYNC_HDR_LEN;
		int len, rc, authentic_edit = 1;
		size_t n;

		len = build(&b, &tx, forged[t].m == M_WRONG_KEY ? &other_key : &key, 2);
		memcpy(msg, b.buf, (size_t)len);
		n = (size_t)len;
		switch (forged[t].m) {
		case M_NONE: case M_WRONG_KEY: authentic_edit = 0; break;
		case M_FLIP_BODY: rec[20] ^= 1; authentic_edit = 0; break;
		case M_FLIP_MAC: msg[n - 1] ^= 0x80; authentic_edit = 0; break;
		case M_TRUNC_HDR: n = 20; authentic_edit = 0; break;
		case M_TRUNC_MAC: n -= 5; authentic_edit = 0; break;
		case M_TRUNC_REC: n = SYNC_HDR_LEN + SYNC_REC_LEN + SYNC_MAC_LEN; authentic_edit = 0; break;
		case M_TRAILING: memset(msg + n, 0, 4); n += 4; authentic_edit = 0; break;
		case M_MAGIC: msg[0] = 'X'; break;
		case M_VERSION: msg[4] = 1; break;
		case M_LEN_LONGER: msg[11] += 4; authentic_edit = 0; break;
		case M_OTHER_VRID: msg[6] = 52; break;
		case M_COUNT: msg[9] = 1; break;
		case M_TYPE: msg[5] = 9; break;
		case M_REQ_WITH_RECS: msg[5] = SYNC_T_RESYNC_REQ; break;
		case M_SEQ0: memset(msg + 24, 0, 8); break;
		case M_RESERVED: msg[47] = 1; break;
		case M_BAD_OP: rec[SYNC_REC_LEN + 36] = 7; break;
		case M_SYN_STATE: rec[37] = PGS_FLOW_SYN_SENT; break;
		case M_NAME_UNTERMINATED: memset(rec, 'a', PGS_NAME_LEN); break;
		case M_NAME_EMPTY: memset(rec, 0, PGS_NAME_LEN); break;
		case M_NAME_GARBAGE: rec[PGS_NAME_LEN - 1] = 'x'; break;
		case M_ZERO_SPORT: memset(rec + 34, 0, 2); break;
		case M_ZERO_CLIENT: memset(rec + 16, 0, 4); break;
		case M_BAD_FLAGS: rec[39] = 0x80; break;
		case M_BAD_EDGES: rec[60] = 0x10; break;
		case M_EDGE_UNMARKED: rec[60] = SYNC_EDGES_KNOWN & ~SYNC_EDGE_ACK_SERVER; break;
		case M_REC_PAD: rec[63] = 1; break;
		case M_SELF: rx.self = tx.sender; authentic_edit = 0; break;
		}
		if (authentic_edit)
			remac(msg, n);
		rc = sync_rx_message(&rx, &key, msg, n, resolve, apply, &a, &h);
		CHECK(rc == forged[t].want, "%s: got %d (%s), want %s", forged[t].name, rc,
		      rc < 0 ? sync_err_name(-rc) : "accepted", sync_err_name(-forged[t].want));
		CHECK(a.n == 0 && rx.msgs == 0 && rx.recs == 0, "%s: something was applied", forged[t].name);
		CHECK(rc >= 0 || rx.err[-rc] == 1, "%s: not counted", forged[t].name);
		CHECK(!rx.senders[0].used || rx.senders[0].top == 0, "%s: replay window moved",
		      forged[t].name);

		/* The honest message still gets through after the forgery. */
		if (forged[t].m != M_SELF) {
			len = build(&b, &tx, &key, 2);
			CHECK(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, &a, &h) == 0 &&
			      a.n == 2, "%s: the honest message after it was refused", forged[t].name);
		}
	}
}

static void replayed(void)
{
	struct sync_tx tx = master();
	struct sync_rx rx = backup();
	struct applied a = { 0 };
	uint8_t first[SYNC_MSG_MAX];
	struct sync_batch b;
	struct sync_hdr h;
	int len1, len;

	len1 = build(&b, &tx, &key, 1);
	memcpy(first, b.buf, (size_t)len1);
	CHECK_EQ(sync_rx_message(&rx, &key, first, (size_t)len1, resolve, apply, &a, &h), 0);
	CHECK_EQ(sync_rx_message(&rx, &key, first, (size_t)len1, resolve, apply, &a, &h), -SYNC_E_REPLAY);
	len = build(&b, &tx, &key, 1);
	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, &a, &h), 0);
	CHECK_EQ(sync_rx_message(&rx, &key, first, (size_t)len1, resolve, apply, &a, &h), -SYNC_E_REPLAY);
	CHECK_EQ(rx.err[SYNC_E_REPLAY], 2);
	CHECK_EQ(a.n, 2);

	/* The sender restarts with a higher epoch and seq 1 again: accepted, and its old messages
	 * (lower epoch) stay refused. */
	tx.epoch++;
	tx.seq = 0;
	len = build(&b, &tx, &key, 1);
	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, &a, &h), 0);
	CHECK_EQ(sync_rx_message(&rx, &key, first, (size_t)len1, resolve, apply, &a, &h), -SYNC_E_REPLAY);
	CHECK_EQ(a.n, 3);
}

static void replay_window(void)
{
	struct sync_replay r;

	memset(&r, 0, sizeof(r));
	CHECK_EQ(sync_replay_check(&r, 1, 100), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 100), -SYNC_E_REPLAY);
	/* Out of order inside the window: each accepted once. */
	CHECK_EQ(sync_replay_check(&r, 1, 105), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 103), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 103), -SYNC_E_REPLAY);
	CHECK_EQ(sync_replay_check(&r, 1, 101), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 105), -SYNC_E_REPLAY);
	/* Bits survive shifts across word boundaries. */
	CHECK_EQ(sync_replay_check(&r, 1, 105 + 130), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 103), -SYNC_E_REPLAY);
	CHECK_EQ(sync_replay_check(&r, 1, 101), -SYNC_E_REPLAY);
	CHECK_EQ(sync_replay_check(&r, 1, 102), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 104), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 104), -SYNC_E_REPLAY);
	/* A jump beyond the window forgets everything behind it; older than the window is refused
	 * even if never seen. */
	CHECK_EQ(sync_replay_check(&r, 1, 10000), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 9999), 0);
	CHECK_EQ(sync_replay_check(&r, 1, 10000 - SYNC_REPLAY_WINDOW), -SYNC_E_REPLAY);
	CHECK_EQ(sync_replay_check(&r, 1, 10000 - SYNC_REPLAY_WINDOW + 1), 0);
	/* Epochs: an older one is a replay, a newer one resets. */
	CHECK_EQ(sync_replay_check(&r, 0, 20000), -SYNC_E_REPLAY);
	CHECK_EQ(sync_replay_check(&r, 2, 1), 0);
	CHECK_EQ(sync_replay_check(&r, 2, 1), -SYNC_E_REPLAY);
}

/* Brute force: the window agrees with a plain set of seen numbers on a random sequence. */
static void replay_window_random(void)
{
	static uint8_t seen[4096];
	struct sync_replay r;
	uint64_t top = 0;
	int bad = 0;

	memset(&r, 0, sizeof(r));
	memset(seen, 0, sizeof(seen));
	srand(13);
	for (int i = 0; i < 20000 && !bad; i++) {
		uint64_t seq = 1 + (uint64_t)(rand() % 4000);
		int want = !seen[seq] && (top == 0 || seq + SYNC_REPLAY_WINDOW > top) ? 0 : -SYNC_E_REPLAY;
		int got = sync_replay_check(&r, 7, seq);

		if (got != want) {
			CHECK(0, "seq %llu after top %llu: got %d want %d", (unsigned long long)seq,
			      (unsigned long long)top, got, want);
			bad = 1;
		}
		if (got == 0) {
			seen[seq] = 1;
			if (seq > top)
				top = seq;
		}
	}
}

static void unknown_service_and_server(void)
{
	struct sync_tx tx = master();
	struct sync_rx rx = backup();
	struct applied a = { 0 };
	struct sync_batch b;
	struct sync_hdr h;
	struct sync_flow fs[] = {
		flow("pg", "10.0.0.50", 40000, "10.0.1.21", 6432, 33000, SYNC_OP_NEW),
		flow("nosuch", "10.0.0.50", 40001, "10.0.1.21", 6432, 33001, SYNC_OP_NEW),
		flow("pg", "10.0.0.50", 40002, "10.0.1.99", 6432, 33002, SYNC_OP_NEW),
		flow("pg", "10.0.0.50", 40003, "10.0.1.22", 6433, 33003, SYNC_OP_NEW),
		flow("pg", "10.0.0.50", 40004, "10.0.1.22", 6432, 33004, SYNC_OP_CLOSE),
	};
	int len;

	fs[3].vport = htons(5433); /* right name, another VIP port: not this node's "pg" */
	fs[3].bport = htons(6432);
	sync_batch_init(&b, SYNC_T_FLOWS);
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]); i++)
		sync_batch_add(&b, &fs[i]);
	len = sync_batch_seal(&b, &tx, &key, 0);
	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, &a, &h), 0);
	CHECK_EQ(a.n, 2);
	CHECK_EQ(ntohs(a.f[0].cport), 40000);
	CHECK_EQ(ntohs(a.f[1].cport), 40004);
	CHECK_EQ(a.f[1].op, SYNC_OP_CLOSE);
	CHECK_EQ(rx.err[SYNC_E_UNKNOWN_SERVICE], 2);
	CHECK_EQ(rx.err[SYNC_E_UNKNOWN_SERVER], 1);
	CHECK_EQ(rx.recs, 2);
}

static void resync_markers(void)
{
	struct sync_tx tx = master();
	struct sync_rx rx = backup();
	struct sync_batch b;
	struct sync_hdr h;
	int len;

	sync_batch_init(&b, SYNC_T_RESYNC_REQ);
	len = sync_batch_seal(&b, &tx, &key, 5);
	CHECK_EQ(len, SYNC_HDR_LEN + SYNC_MAC_LEN);
	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, NULL, &h), 0);
	CHECK_EQ(h.type, SYNC_T_RESYNC_REQ);
	sync_batch_init(&b, SYNC_T_RESYNC_END);
	len = sync_batch_seal(&b, &tx, &key, 6);
	CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, resolve, apply, NULL, &h), 0);
	CHECK_EQ(h.type, SYNC_T_RESYNC_END);
	CHECK_EQ(h.seq, 2);
}

static void too_many_senders(void)
{
	struct sync_rx rx = backup();
	struct sync_batch b;
	struct sync_hdr h;
	int len, i;

	for (i = 0; i <= SYNC_MAX_SENDERS; i++) {
		struct sync_tx tx = master();

		tx.sender = htonl(0x0a000100u + (uint32_t)i);
		len = build(&b, &tx, &key, 0);
		CHECK_EQ(sync_rx_message(&rx, &key, b.buf, (size_t)len, NULL, NULL, NULL, &h),
			 i < SYNC_MAX_SENDERS ? 0 : -SYNC_E_PEERS);
	}
	CHECK_EQ(rx.err[SYNC_E_PEERS], 1);
}

static void write_key(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		fchmod(fd, mode);
		close(fd);
	}
}

static void key_files(void)
{
	char dir[] = "/tmp/pgs-synckey.XXXXXX", path[64], err[256];
	struct sync_key k;

	if (!mkdtemp(dir)) {
		CHECK(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/key", dir);
	write_key(path, "0123456789abcdef0123\n", 0600);
	CHECK_EQ(sync_key_load(path, &k, err, sizeof(err)), 0);
	CHECK_EQ(k.len, 20);
	CHECK(memcmp(k.k, key.k, 20) == 0, "key bytes");

	write_key(path, "0123456789abcdef0123\n", 0644);
	CHECK_EQ(sync_key_load(path, &k, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, path) && strstr(err, "chmod 600"), "error names the file: %s", err);

	write_key(path, "short\n", 0600);
	CHECK_EQ(sync_key_load(path, &k, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "shorter than 16"), "%s", err);

	unlink(path);
	CHECK_EQ(sync_key_load(path, &k, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, path) != NULL, "%s", err);
	rmdir(dir);
}

int main(void)
{
	RUN(known_answer);
	RUN(round_trip);
	RUN(batch_full);
	RUN(forged_messages);
	RUN(replayed);
	RUN(replay_window);
	RUN(replay_window_random);
	RUN(unknown_service_and_server);
	RUN(resync_markers);
	RUN(too_many_senders);
	RUN(key_files);
	return h_exit();
}

/* The flow-sync protocol: codec, HMAC-SHA256 (OpenSSL libcrypto), replay window, receive checks. */
#include "sync_proto.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <endian.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* Header field offsets (SYNC_HDR_LEN bytes). */
enum {
	H_MAGIC = 0, H_VERSION = 4, H_TYPE = 5, H_VRID = 6, H_FLAGS = 7, H_COUNT = 8, H_LEN = 10,
	H_SENDER = 12, H_EPOCH = 16, H_SEQ = 24, H_SENT = 32, H_RESERVED = 40,
};

/* Record field offsets (SYNC_REC_LEN bytes). */
enum {
	R_SERVICE = 0, R_CLIENT = 16, R_VIP = 20, R_BACKEND = 24, R_CPORT = 28, R_VPORT = 30,
	R_BPORT = 32, R_SPORT = 34, R_OP = 36, R_STATE = 37, R_FLAGS = 38, R_IDLE = 40,
	R_NXT = 44, R_ACK = 52, R_EDGES = 60, R_PAD = 61, /* 3 zero bytes to 64 */
};

#define SYNC_FLAGS_KNOWN (PGS_FLOW_F_FIN_CLIENT | PGS_FLOW_F_FIN_SERVER | PGS_FLOW_F_SERVER_FIRST)

static const char *const err_names[SYNC_E_MAX] = {
	[SYNC_E_TRUNCATED] = "truncated",
	[SYNC_E_VERSION] = "version",
	[SYNC_E_INSTANCE] = "instance",
	[SYNC_E_AUTH] = "auth",
	[SYNC_E_REPLAY] = "replay",
	[SYNC_E_MALFORMED] = "malformed",
	[SYNC_E_SELF] = "self",
	[SYNC_E_PEERS] = "peers",
	[SYNC_E_UNKNOWN_SERVICE] = "unknown_service",
	[SYNC_E_UNKNOWN_SERVER] = "unknown_server",
};

const char *sync_err_name(enum sync_err e)
{
	return e >= SYNC_E_TRUNCATED && e < SYNC_E_MAX ? err_names[e] : "?";
}

const char *sync_op_name(enum sync_op op)
{
	switch (op) {
	case SYNC_OP_NEW: return "new";
	case SYNC_OP_CLOSE: return "close";
	case SYNC_OP_REFRESH: return "refresh";
	}
	return "?";
}

static void put16(uint8_t *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

/* Network-order fields are copied as bytes: they stay in network order on both ends. */
static void put_raw(uint8_t *p, const void *v, size_t n) { memcpy(p, v, n); }
static void get_raw(void *v, const uint8_t *p, size_t n) { memcpy(v, p, n); }

int sync_key_load(const char *path, struct sync_key *key, char *err, size_t errlen)
{
	uint8_t buf[SYNC_KEY_MAX + 2];
	struct stat st;
	ssize_t n;
	int fd, rc = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		rc = -EPERM;
		snprintf(err, errlen, "%s: key file is accessible by group or others (chmod 600 it)", path);
		goto out;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	while (n > 0 && isspace(buf[n - 1]))
		n--;
	if (n > SYNC_KEY_MAX) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: key longer than %d bytes", path, SYNC_KEY_MAX);
		goto out;
	}
	if (n < SYNC_KEY_MIN) {
		rc = -EINVAL;
		snprintf(err, errlen, "%s: key shorter than %d bytes", path, SYNC_KEY_MIN);
		goto out;
	}
	memcpy(key->k, buf, (size_t)n);
	key->len = (size_t)n;
out:
	memset(buf, 0, sizeof(buf));
	close(fd);
	return rc;
}

void sync_batch_init(struct sync_batch *b, enum sync_type type)
{
	memset(b->buf, 0, SYNC_HDR_LEN);
	b->type = (uint8_t)type;
	b->count = 0;
}

int sync_batch_add(struct sync_batch *b, const struct sync_flow *f)
{
	uint8_t *p;

	if (b->count >= SYNC_MAX_RECS)
		return -ENOSPC;
	p = b->buf + SYNC_HDR_LEN + (size_t)b->count * SYNC_REC_LEN;
	memset(p, 0, SYNC_REC_LEN);
	memcpy(p + R_SERVICE, f->service, strnlen(f->service, PGS_NAME_LEN - 1));
	put_raw(p + R_CLIENT, &f->client, 4);
	put_raw(p + R_VIP, &f->vip, 4);
	put_raw(p + R_BACKEND, &f->backend, 4);
	put_raw(p + R_CPORT, &f->cport, 2);
	put_raw(p + R_VPORT, &f->vport, 2);
	put_raw(p + R_BPORT, &f->bport, 2);
	put_raw(p + R_SPORT, &f->sport, 2);
	p[R_OP] = f->op;
	p[R_STATE] = f->state;
	put16(p + R_FLAGS, f->flags);
	put32(p + R_IDLE, f->idle_ms);
	put32(p + R_NXT, f->nxt[0]);
	put32(p + R_NXT + 4, f->nxt[1]);
	put32(p + R_ACK, f->ack[0]);
	put32(p + R_ACK + 4, f->ack[1]);
	p[R_EDGES] = f->edges;
	b->count++;
	return 0;
}

static int mac_compute(const struct sync_key *key, const uint8_t *msg, size_t len,
		       uint8_t out[SYNC_MAC_LEN])
{
	unsigned int outlen = 0;

	if (!HMAC(EVP_sha256(), key->k, (int)key->len, msg, len, out, &outlen) ||
	    outlen != SYNC_MAC_LEN)
		return -EIO;
	return 0;
}

int sync_batch_seal(struct sync_batch *b, struct sync_tx *tx, const struct sync_key *key,
		    uint64_t now_ms)
{
	size_t body = SYNC_HDR_LEN + (size_t)b->count * SYNC_REC_LEN;
	uint8_t *p = b->buf;

	put32(p + H_MAGIC, SYNC_MAGIC);
	p[H_VERSION] = SYNC_VERSION;
	p[H_TYPE] = b->type;
	p[H_VRID] = tx->vrid;
	p[H_FLAGS] = 0;
	put16(p + H_COUNT, b->count);
	put16(p + H_LEN, (uint16_t)(body + SYNC_MAC_LEN));
	put_raw(p + H_SENDER, &tx->sender, 4);
	put64(p + H_EPOCH, tx->epoch);
	put64(p + H_SEQ, ++tx->seq);
	put64(p + H_SENT, now_ms);
	put64(p + H_RESERVED, 0);
	if (mac_compute(key, p, body, p + body) < 0)
		return -EIO;
	return (int)(body + SYNC_MAC_LEN);
}

int sync_msg_open(const struct sync_key *key, uint8_t vrid, const uint8_t *msg, size_t len,
		  struct sync_hdr *h)
{
	uint8_t mac[SYNC_MAC_LEN];
	size_t body;

	if (len < SYNC_HDR_LEN + SYNC_MAC_LEN)
		return -SYNC_E_TRUNCATED;
	if (get32(msg + H_MAGIC) != SYNC_MAGIC || msg[H_VERSION] != SYNC_VERSION)
		return -SYNC_E_VERSION;
	h->len = get16(msg + H_LEN);
	if (h->len > len || h->len < SYNC_HDR_LEN + SYNC_MAC_LEN)
		return -SYNC_E_TRUNCATED;
	/* Bytes after the declared length (padding a sender never adds) are not authenticated. */
	if (h->len != len)
		return -SYNC_E_MALFORMED;
	body = h->len - SYNC_MAC_LEN;
	if (mac_compute(key, msg, body, mac) < 0 || CRYPTO_memcmp(mac, msg + body, SYNC_MAC_LEN))
		return -SYNC_E_AUTH;
	/* Authentic from here: what follows is a peer's mistake, not a forgery. */
	h->type = msg[H_TYPE];
	h->vrid = msg[H_VRID];
	h->count = get16(msg + H_COUNT);
	get_raw(&h->sender, msg + H_SENDER, 4);
	h->epoch = get64(msg + H_EPOCH);
	h->seq = get64(msg + H_SEQ);
	h->sent_ms = get64(msg + H_SENT);
	if (h->vrid != vrid)
		return -SYNC_E_INSTANCE;
	if (body != SYNC_HDR_LEN + (size_t)h->count * SYNC_REC_LEN || h->count > SYNC_MAX_RECS)
		return -SYNC_E_MALFORMED;
	if (msg[H_FLAGS] || get64(msg + H_RESERVED) || h->seq == 0)
		return -SYNC_E_MALFORMED;
	switch (h->type) {
	case SYNC_T_FLOWS:
		break;
	case SYNC_T_RESYNC_REQ:
	case SYNC_T_RESYNC_END:
		if (h->count)
			return -SYNC_E_MALFORMED;
		break;
	default:
		return -SYNC_E_MALFORMED;
	}
	return 0;
}

int sync_msg_record(const uint8_t *msg, const struct sync_hdr *h, unsigned int i,
		    struct sync_flow *f)
{
	const uint8_t *p;

	if (i >= h->count)
		return -SYNC_E_MALFORMED;
	p = msg + SYNC_HDR_LEN + (size_t)i * SYNC_REC_LEN;
	memcpy(f->service, p + R_SERVICE, PGS_NAME_LEN);
	get_raw(&f->client, p + R_CLIENT, 4);
	get_raw(&f->vip, p + R_VIP, 4);
	get_raw(&f->backend, p + R_BACKEND, 4);
	get_raw(&f->cport, p + R_CPORT, 2);
	get_raw(&f->vport, p + R_VPORT, 2);
	get_raw(&f->bport, p + R_BPORT, 2);
	get_raw(&f->sport, p + R_SPORT, 2);
	f->op = p[R_OP];
	f->state = p[R_STATE];
	f->flags = get16(p + R_FLAGS);
	f->idle_ms = get32(p + R_IDLE);
	f->nxt[0] = get32(p + R_NXT);
	f->nxt[1] = get32(p + R_NXT + 4);
	f->ack[0] = get32(p + R_ACK);
	f->ack[1] = get32(p + R_ACK + 4);
	f->edges = p[R_EDGES];

	/* The name must end inside its field, with zeros after it (one spelling per name). */
	if (!f->service[0] || memchr(f->service, 0, PGS_NAME_LEN) == NULL)
		return -SYNC_E_MALFORMED;
	for (size_t k = strlen(f->service); k < PGS_NAME_LEN; k++)
		if (f->service[k])
			return -SYNC_E_MALFORMED;
	if (!f->client || !f->vip || !f->backend || !f->cport || !f->vport || !f->bport || !f->sport)
		return -SYNC_E_MALFORMED;
	if (f->flags & ~SYNC_FLAGS_KNOWN)
		return -SYNC_E_MALFORMED;
	/* Unknown edge bits, a value without its bit or a non-zero pad: one spelling per record. */
	if ((f->edges & ~SYNC_EDGES_KNOWN) || p[R_PAD] || p[R_PAD + 1] || p[R_PAD + 2])
		return -SYNC_E_MALFORMED;
	for (int s = 0; s < 2; s++)
		if ((!(f->edges & (SYNC_EDGE_NXT_CLIENT << s)) && f->nxt[s]) ||
		    (!(f->edges & (SYNC_EDGE_ACK_CLIENT << s)) && f->ack[s]))
			return -SYNC_E_MALFORMED;
	switch (f->op) {
	case SYNC_OP_NEW:
	case SYNC_OP_REFRESH:
		/* Only established flows travel: a half-open one would let a SYN flood fill the peer. */
		if (f->state != PGS_FLOW_ESTABLISHED && f->state != PGS_FLOW_FIN_WAIT)
			return -SYNC_E_MALFORMED;
		break;
	case SYNC_OP_CLOSE:
		break;
	default:
		return -SYNC_E_MALFORMED;
	}
	return 0;
}

int sync_replay_check(struct sync_replay *r, uint64_t epoch, uint64_t seq)
{
	const unsigned int words = SYNC_REPLAY_WINDOW / 64;
	uint64_t shift, back;
	unsigned int i;

	if (epoch < r->epoch)
		return -SYNC_E_REPLAY;
	if (epoch > r->epoch || !r->top) {
		r->epoch = epoch;
		r->top = seq;
		memset(r->seen, 0, sizeof(r->seen));
		r->seen[0] = 1;
		return 0;
	}
	if (seq > r->top) {
		/* Slide the window: bit i of the bitmap stands for top - i. */
		shift = seq - r->top;
		if (shift >= SYNC_REPLAY_WINDOW) {
			memset(r->seen, 0, sizeof(r->seen));
		} else {
			unsigned int ws = (unsigned int)(shift / 64), bs = (unsigned int)(shift % 64);

			for (i = words; i-- > 0;) {
				uint64_t v = i >= ws ? r->seen[i - ws] << bs : 0;

				if (bs && i >= ws + 1)
					v |= r->seen[i - ws - 1] >> (64 - bs);
				r->seen[i] = v;
			}
		}
		r->seen[0] |= 1;
		r->top = seq;
		return 0;
	}
	back = r->top - seq;
	if (back >= SYNC_REPLAY_WINDOW)
		return -SYNC_E_REPLAY;
	if (r->seen[back / 64] & (1ull << (back % 64)))
		return -SYNC_E_REPLAY;
	r->seen[back / 64] |= 1ull << (back % 64);
	return 0;
}

static struct sync_replay *rx_sender(struct sync_rx *rx, uint32_t sender)
{
	int i, free_slot = -1;

	for (i = 0; i < SYNC_MAX_SENDERS; i++) {
		if (rx->senders[i].used && rx->senders[i].sender == sender)
			return &rx->senders[i];
		if (!rx->senders[i].used && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0)
		return NULL;
	memset(&rx->senders[free_slot], 0, sizeof(rx->senders[free_slot]));
	rx->senders[free_slot].used = 1;
	rx->senders[free_slot].sender = sender;
	return &rx->senders[free_slot];
}

static int rx_reject(struct sync_rx *rx, int rc)
{
	rx->err[-rc]++;
	return rc;
}

int sync_rx_message(struct sync_rx *rx, const struct sync_key *key, const uint8_t *msg, size_t len,
		    sync_resolve_fn resolve, sync_apply_fn apply, void *ctx, struct sync_hdr *h)
{
	struct sync_replay *r;
	struct sync_flow f;
	unsigned int i;
	int rc;

	rc = sync_msg_open(key, rx->vrid, msg, len, h);
	if (rc < 0)
		return rx_reject(rx, rc);
	if (h->sender == rx->self)
		return rx_reject(rx, -SYNC_E_SELF);
	for (i = 0; i < h->count; i++)
		if (sync_msg_record(msg, h, i, &f) < 0)
			return rx_reject(rx, -SYNC_E_MALFORMED);
	r = rx_sender(rx, h->sender);
	if (!r)
		return rx_reject(rx, -SYNC_E_PEERS);
	rc = sync_replay_check(r, h->epoch, h->seq);
	if (rc < 0)
		return rx_reject(rx, rc);
	rx->msgs++;
	for (i = 0; i < h->count; i++) {
		sync_msg_record(msg, h, i, &f);
		rc = resolve ? resolve(ctx, &f) : 0;
		if (rc == SYNC_E_UNKNOWN_SERVICE || rc == SYNC_E_UNKNOWN_SERVER) {
			rx->err[rc]++;
			continue;
		}
		rx->recs++;
		if (apply)
			apply(ctx, h, &f);
	}
	return 0;
}

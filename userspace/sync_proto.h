/* The flow-sync protocol between the pgsteerd nodes of one VRRP instance: message codec, HMAC-SHA256
 * authentication, the replay window and the receive checks. Pure: no sockets, no maps, no clock.
 *
 * A message is a 48-byte header, COUNT flow records of 64 bytes and a 32-byte HMAC-SHA256 over
 * everything before it, keyed with the shared key file. Integers are big-endian; addresses and ports
 * are copied as they sit in the packet. A server is named by its service name and ip:port, never by
 * a slot number, so two nodes whose configs list servers in another order still agree. */
#ifndef PGS_SYNC_PROTO_H
#define PGS_SYNC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "pgsteer_abi.h"

#define SYNC_MAGIC 0x50475359u /* "PGSY" */
#define SYNC_VERSION 2 /* 2: records carry the sequence edges */
#define SYNC_HDR_LEN 48
#define SYNC_REC_LEN 64
#define SYNC_MAC_LEN 32
#define SYNC_KEY_MIN 16
#define SYNC_KEY_MAX 512
/* A batch fits one UDP datagram on a 1500-byte link: 20 IP + 8 UDP + 48 + 22 x 64 + 32 = 1516 > 1500,
 * so 21 records: 1444 bytes. */
#define SYNC_MAX_RECS 21
#define SYNC_MSG_MAX (SYNC_HDR_LEN + SYNC_MAX_RECS * SYNC_REC_LEN + SYNC_MAC_LEN)
#define SYNC_REPLAY_WINDOW 256 /* sequence numbers remembered behind the highest one seen */
#define SYNC_MAX_SENDERS 8

/* Message types. */
enum sync_type {
	SYNC_T_FLOWS = 1,      /* flow records (zero records: a keepalive that still proves the peer) */
	SYNC_T_RESYNC_REQ = 2, /* a starting backup asks for the whole table (bulk, over TCP) */
	SYNC_T_RESYNC_END = 3, /* the end of a bulk resync: the table has been sent in full */
};

/* What a flow record says happened. */
enum sync_op {
	SYNC_OP_NEW = 1,     /* a flow reached ESTABLISHED (or is listed by a bulk resync) */
	SYNC_OP_CLOSE = 2,   /* the flow closed: forget it */
	SYNC_OP_REFRESH = 3, /* a long-idle flow is still there: keep it */
};

/* Why a received message (or one record of it) was rejected; counted, never fatal. Functions
 * return them negated, so none is 0. */
enum sync_err {
	SYNC_E_TRUNCATED = 1,   /* shorter than its header, or than the length it declares */
	SYNC_E_VERSION,         /* not our magic and version */
	SYNC_E_INSTANCE,        /* another VRRP instance (vrid) */
	SYNC_E_AUTH,            /* HMAC does not verify: wrong key or altered bytes */
	SYNC_E_REPLAY,          /* sequence number already seen or older than the window */
	SYNC_E_MALFORMED,       /* authentic but invalid: type, record count, a record's fields */
	SYNC_E_SELF,            /* our own message looped back */
	SYNC_E_PEERS,           /* more senders than SYNC_MAX_SENDERS */
	SYNC_E_UNKNOWN_SERVICE, /* record for a service this node does not have (name or VIP:port) */
	SYNC_E_UNKNOWN_SERVER,  /* record for a server ip:port the service does not list here */
	SYNC_E_MAX
};

/* The shared key, read from the key file. */
struct sync_key {
	uint8_t k[SYNC_KEY_MAX];
	size_t len;
};

/* Which sequence edges a record carries (sync_flow.edges): those the sender had learnt from the
 * flow's packets. The new master validates a FIN or RST that comes before a side's first plain
 * segment against them (bpf/lib/seqhint.h), so a session whose first packet after a takeover is
 * its close still closes. */
#define SYNC_EDGE_NXT_CLIENT 0x1 /* nxt[0]: the client's right edge */
#define SYNC_EDGE_NXT_SERVER 0x2 /* nxt[1]: the backend's */
#define SYNC_EDGE_ACK_CLIENT 0x4 /* ack[0]: the client's last acknowledgement */
#define SYNC_EDGE_ACK_SERVER 0x8 /* ack[1]: the backend's */
#define SYNC_EDGES_KNOWN 0xf

/* One flow record. Addresses and ports in network order, as in pgsteer_abi.h. */
struct sync_flow {
	char service[PGS_NAME_LEN]; /* NUL-terminated */
	uint32_t client, vip, backend;
	uint16_t cport, vport, bport;
	uint16_t sport;   /* SNAT port toward the backend */
	uint8_t op;       /* enum sync_op */
	uint8_t state;    /* enum pgs_flow_state */
	uint16_t flags;   /* PGS_FLOW_F_FIN_* bits the sender had */
	uint32_t idle_ms; /* time since the flow's last packet on the sender */
	uint32_t nxt[2];  /* sequence edges (host order) of the client [0] and the backend [1] */
	uint32_t ack[2];  /* their last acknowledgements (host order) */
	uint8_t edges;    /* SYNC_EDGE_* bits: which of nxt and ack hold a value */
};

/* A decoded header. */
struct sync_hdr {
	uint8_t type;
	uint8_t vrid;
	uint16_t count;
	uint16_t len;
	uint32_t sender;  /* sender's node id (its address on the VRRP interface, network order) */
	uint64_t epoch;   /* sender's incarnation: grows across its restarts */
	uint64_t seq;     /* grows by one per message the sender seals */
	uint64_t sent_ms; /* sender's wall clock when sealed, for the lag shown to people */
};

/* The sending side's identity and counter. */
struct sync_tx {
	uint32_t sender;
	uint8_t vrid;
	uint64_t epoch;
	uint64_t seq;     /* last sequence number used */
};

/* A message being built. */
struct sync_batch {
	uint8_t buf[SYNC_MSG_MAX];
	uint8_t type;
	uint16_t count;
};

/* Replay state for one sender. */
struct sync_replay {
	uint32_t sender;
	int used;
	uint64_t epoch;
	uint64_t top;     /* highest sequence accepted */
	uint64_t seen[SYNC_REPLAY_WINDOW / 64]; /* bit i: top - i was accepted */
};

/* The receiving side: what it accepts, who it heard from, what it counted. */
struct sync_rx {
	uint32_t self;    /* our own node id: our looped-back messages are ignored */
	uint8_t vrid;
	struct sync_replay senders[SYNC_MAX_SENDERS];
	uint64_t msgs;    /* messages accepted */
	uint64_t recs;    /* records accepted */
	uint64_t err[SYNC_E_MAX];
};

/* Decides whether this node knows a record's service (name with that VIP:port) and server
 * (ip:port in that service): 0, SYNC_E_UNKNOWN_SERVICE or SYNC_E_UNKNOWN_SERVER. */
typedef int (*sync_resolve_fn)(void *ctx, const struct sync_flow *f);
/* Called for each accepted record, in message order. */
typedef void (*sync_apply_fn)(void *ctx, const struct sync_hdr *h, const struct sync_flow *f);

const char *sync_err_name(enum sync_err e); /* "truncated", "auth", ... (metrics labels) */
const char *sync_op_name(enum sync_op op);  /* "new", "close", "refresh" */

/* Read the key file: its bytes without trailing whitespace, SYNC_KEY_MIN..SYNC_KEY_MAX of them, and
 * the file must not be readable by group or others. 0, or -errno / -EINVAL with the reason in err. */
int sync_key_load(const char *path, struct sync_key *key, char *err, size_t errlen);

void sync_batch_init(struct sync_batch *b, enum sync_type type);
/* Append a record: 0, or -ENOSPC when the batch is full (seal and send it, then start another). */
int sync_batch_add(struct sync_batch *b, const struct sync_flow *f);
/* Write the header with the next sequence number and the MAC: the message length, or -EIO if the
 * HMAC cannot be computed. The message is b->buf. */
int sync_batch_seal(struct sync_batch *b, struct sync_tx *tx, const struct sync_key *key,
		    uint64_t now_ms);

/* Check a message's length, version, instance and MAC, and decode its header: 0 or -SYNC_E_*.
 * Records are not looked at; use sync_msg_record after sync_rx_accept. */
int sync_msg_open(const struct sync_key *key, uint8_t vrid, const uint8_t *msg, size_t len,
		  struct sync_hdr *h);
/* Decode record i of an opened message: 0, or -SYNC_E_MALFORMED if its fields are invalid. */
int sync_msg_record(const uint8_t *msg, const struct sync_hdr *h, unsigned int i,
		    struct sync_flow *f);
/* The replay window: 0 if (epoch, seq) is new for this sender (and marks it seen), -SYNC_E_REPLAY
 * if not. A higher epoch (the sender restarted) starts a fresh window. */
int sync_replay_check(struct sync_replay *r, uint64_t epoch, uint64_t seq);

/* Everything a receiver does with one message: open it, reject our own, check every record's
 * fields (one malformed record rejects the message, before the replay window moves), check replay,
 * then resolve each record and apply the known ones. Unknown services and servers are counted per
 * record and skipped. Returns 0 (h filled) or -SYNC_E_* for a rejected message (counted). */
int sync_rx_message(struct sync_rx *rx, const struct sync_key *key, const uint8_t *msg, size_t len,
		    sync_resolve_fn resolve, sync_apply_fn apply, void *ctx, struct sync_hdr *h);

#endif

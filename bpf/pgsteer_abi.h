/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* The ABI between the datapath and the controller: map keys and values, enums and names.
 * Included by bpf/ and userspace/ alike: fixed-width types only, explicit padding, no libc.
 * Addresses and ports are stored in network byte order, exactly as they sit in the packet. */
#ifndef PGSTEER_ABI_H
#define PGSTEER_ABI_H

#include <linux/types.h>

#define PGS_PIN_ROOT_DEFAULT "/sys/fs/bpf/pgsteer"

#define PGS_MAX_SERVICES 16
#define PGS_MAX_SERVERS 32 /* per service */
#define PGS_MAX_SLOTS (PGS_MAX_SERVICES * PGS_MAX_SERVERS)
/* Independent random probes for a free SNAT port before giving up: at 90% of a range in use,
 * 128 probes all miss with a chance of 0.9^128 = 1.4e-6 (the expected probes are 1/(1 - use)). */
#define PGS_SNAT_TRIES 128
#define PGS_NAME_LEN 16

/* The slot layout: a service owns PGS_MAX_SERVERS consecutive slots of pgs_servers and of every
 * per-slot map, from id * PGS_MAX_SERVERS; a server keeps its position within them. */
static inline __u32 pgs_slot(__u32 svc_id, __u32 pos)
{
	return svc_id * PGS_MAX_SERVERS + pos;
}

/* A slot's position within its service's block. */
static inline __u32 pgs_slot_pos(__u32 slot)
{
	return slot % PGS_MAX_SERVERS;
}

/* The service id a slot belongs to. */
static inline __u32 pgs_slot_svc(__u32 slot)
{
	return slot / PGS_MAX_SERVERS;
}

/* Server states as the controller publishes them; only UP servers are selected. */
enum pgs_srv_state {
	PGS_SRV_DOWN = 0,
	PGS_SRV_UP = 1,
	PGS_SRV_DRAIN = 2,
	PGS_SRV_MAINT = 3,
};

/* TCP flow states, from the first SYN the datapath forwards. */
enum pgs_flow_state {
	PGS_FLOW_SYN_SENT = 1,    /* client SYN forwarded to the backend */
	PGS_FLOW_SYN_RECV = 2,    /* backend answered SYN-ACK */
	PGS_FLOW_ESTABLISHED = 3, /* client acknowledged the SYN-ACK */
	PGS_FLOW_FIN_WAIT = 4,    /* one side sent FIN */
	PGS_FLOW_CLOSED = 5,      /* both FINs or an RST: lingers, then the controller deletes it */
};

/* flow.flags */
#define PGS_FLOW_F_COUNTED (1u << 0)    /* still counted as an active connection of its server */
#define PGS_FLOW_F_FIN_CLIENT (1u << 1) /* client sent FIN */
#define PGS_FLOW_F_FIN_SERVER (1u << 2) /* backend sent FIN */
#define PGS_FLOW_F_SERVER_FIRST (1u << 3) /* the backend closed first (or at once): it holds TIME_WAIT on the SNAT port */
#define PGS_FLOW_F_SEQ_CLIENT (1u << 4)   /* nxt[0] tracks the client's sequence */
#define PGS_FLOW_F_SEQ_SERVER (1u << 5)   /* nxt[1] tracks the backend's sequence */
#define PGS_FLOW_F_HALFOPEN (1u << 6)     /* opened by a client SYN, handshake not completed yet (synguard.h) */
#define PGS_FLOW_F_COOKIE (1u << 7)       /* opened by a valid SYN-cookie ACK: seq translated (syncookie.h) */
#define PGS_FLOW_F_ACK_CLIENT (1u << 16)  /* ack[0] holds the client's last acknowledgement (backend's numbers) */
#define PGS_FLOW_F_ACK_SERVER (1u << 17)  /* ack[1] holds the backend's */
#define PGS_FLOW_F_HINT_CLIENT (1u << 18) /* nxt[0] is a hint, not learnt since the takeover (seqhint.h) */
#define PGS_FLOW_F_HINT_SERVER (1u << 19) /* nxt[1] is a hint */
#define PGS_FLOW_F_ISN_SERVER (1u << 20)  /* isn[1] holds the backend's ISN from its SYN-ACK; never cleared (a cookie
					   * flow's translation rests on it, seqxlate.h, whatever its edges became) */
/* What a node learns of a flow's sequence numbers while it steers: stale once it stops. */
#define PGS_FLOW_F_EDGES (PGS_FLOW_F_SEQ_CLIENT | PGS_FLOW_F_SEQ_SERVER | PGS_FLOW_F_ACK_CLIENT | PGS_FLOW_F_ACK_SERVER)
/* Bits 8..15 belong to the PostgreSQL-aware features (bpf/lib/pgproto.h). */
#define PGS_FLOW_F_PAYLOAD (1u << 8)    /* the client's first payload segment went through */
#define PGS_FLOW_F_CANCEL (1u << 9)     /* that payload was a CancelRequest, handed to the controller */

/* How long a backend that closed first holds TIME_WAIT on our SNAT port (Linux's TCP_TIMEWAIT_LEN):
 * the port is not given to another connection meanwhile. */
#define PGS_TIME_WAIT_NS (60ull * 1000000000)

/* Every verdict of the datapath, counted per CPU in pgs_verdicts: the one list of them.
 * X(enum suffix, name, is_drop, help). The BPF verdict() turns is_drop into XDP_DROP/TC_ACT_SHOT,
 * the controller names them in /metrics and the stats, the CLI splits verdicts from drops with it.
 * A new reason goes anywhere in the list (the map is indexed by the enum, sized PGS_R_MAX). */
#define PGS_REASONS(X)                                                                                     \
	X(PASS, "pass", 0, "not ours (ARP, VRRP, ICMP, other hosts and ports): untouched")                 \
	X(FWD_NEW, "fwd_new", 0, "SYN steered to a newly selected server")                                  \
	X(FWD, "fwd", 0, "client packet of a known flow, translated")                                        \
	X(REV, "rev", 0, "backend reply of a known flow, translated back")                                   \
	X(PASS_INACTIVE, "pass_inactive", 0, "node is not the VRRP master: VIP traffic left to the stack")   \
	X(PASS_NO_FLOW, "pass_no_flow", 0, "non-SYN packet to the VIP with no flow: the stack answers RST") \
	X(PASS_PUNT, "pass_punt", 0, "XDP could not resolve the next hop or send there: handed to TC untouched") \
	X(DROP_NO_SERVER, "drop_no_server", 1, "SYN with no selectable server")                             \
	X(DROP_TABLE_FULL, "drop_table_full", 1, "flow table full: SYN dropped, the client will retry")     \
	X(DROP_SNAT_EXHAUSTED, "drop_snat_exhausted", 1, "no free SNAT port toward the chosen server")      \
	X(DROP_MALFORMED, "drop_malformed", 1, "truncated or invalid Ethernet/IPv4/TCP header")             \
	X(DROP_FRAGMENT, "drop_fragment", 1, "IPv4 fragment addressed to a service")                        \
	X(DROP_FIB, "drop_fib", 1, "no route to the server or client")                                      \
	X(DROP_REDISPATCH, "drop_redispatch", 1,                                                            \
	  "backend refused the SYN (RST): dropped, the client's retry goes elsewhere")                      \
	X(RESET, "reset", 0, "packet of a session shut down by the controller: answered with RST")          \
	X(FWD_SUSPECT, "fwd_suspect", 0,                                                                    \
	  "SYN, RST or FIN outside its flow's sequence window or state: forwarded, flow and counts unchanged") \
	X(DROP_POLICY, "drop_policy", 1, "SYN from a source the service's allow/deny lists refuse")          \
	X(COOKIE_SENT, "cookie_sent", 0, "SYN answered by the datapath with a SYN-cookie SYN-ACK, no state kept") \
	X(COOKIE_VALID, "cookie_valid", 0, "ACK with a valid SYN cookie: flow created, SYN sent to the server") \
	X(DROP_COOKIE_INVALID, "drop_cookie_invalid", 1,                                                    \
	  "ACK with no flow and no valid SYN cookie while cookies are in use (forged or stale)")            \
	X(COOKIE_SYN_RETX, "cookie_syn_retx", 0,                                                            \
	  "client segment of a cookie flow before the backend answered: our SYN sent again")                \
	X(DROP_COOKIE_EARLY, "drop_cookie_early", 1,                                                        \
	  "client data on a cookie flow before the backend answered (TC): dropped, the client resends it") \
	X(COOKIE_REFUSED, "cookie_refused", 0,                                                          \
	  "backend refused a cookie flow's SYN (RST): the client, whose handshake was ours, gets a clean RST") \
	X(COOKIE_CONNECT_TIMEOUT, "cookie_connect_timeout", 0,                                           \
	  "client segment of a cookie flow whose server left our SYN unanswered past timeout syn: answered with RST") \
	X(COOKIE_BACKEND_RESET, "cookie_backend_reset", 0,                                               \
	  "backend answered a cookie flow's SYN with the ACK of an older connection (its TIME_WAIT): reset, SYN again") \
	X(ICMP_FWD, "icmp_fwd", 0, "ICMP error about a flow, translated and sent to its client or backend")  \
	X(DROP_ICMP_NO_FLOW, "drop_icmp_no_flow", 1,                                                        \
	  "ICMP error quoting a VIP segment of no flow (forged or late): dropped, no state touched")        \
	X(ICMP_TOO_BIG, "icmp_too_big", 0, "packet too big for its egress: answered with fragmentation-needed") \
	X(DROP_ICMP_SEQ, "drop_icmp_seq", 1,                                                                \
	  "ICMP error quoting a sequence number its flow's sender has not in flight (forged or late): dropped")

enum pgs_reason {
#define PGS_REASON_ENUM(id, name, drop, help) PGS_R_##id,
	PGS_REASONS(PGS_REASON_ENUM)
#undef PGS_REASON_ENUM
	PGS_R_MAX,
};

/* The drop reasons as a bit mask (bit r set: reason r drops its packet); one shift in the datapath. */
#define PGS_REASON_BIT(id, name, drop, help) | ((__u64)!!(drop) << PGS_R_##id)
#define PGS_R_DROP_MASK (0 PGS_REASONS(PGS_REASON_BIT))

_Static_assert(PGS_R_MAX <= 64, "enum pgs_reason outgrew PGS_R_DROP_MASK");

/* Whether a reason's packet is dropped (1) or leaves, passed or translated (0). */
static inline int pgs_reason_is_drop(__u32 r)
{
	return r < PGS_R_MAX ? (int)((PGS_R_DROP_MASK >> r) & 1) : 1;
}

/* Key of pgs_services: one steered address. */
struct pgs_svc_key {
	__u32 vip;   /* network order */
	__u16 port;  /* network order */
	__u16 _pad;
};

/* Value of pgs_services: where the service's servers start in pgs_servers. */
struct pgs_svc {
	__u32 id;        /* its slots start at pgs_slot(id, 0) */
	__u32 nservers;  /* slots in use */
	char name[PGS_NAME_LEN];
	__u32 syn_cookies;      /* enum pgs_syn_cookies */
	__u32 syn_halfopen_max; /* auto: cookies once this many half-open flows (0 = default) */
	__u32 connect_ms;       /* a cookie flow whose server leaves our SYN unanswered this long is given up
				 * (timeout syn; 0: never): bpf/lib/syncookie.h */
};

/* Value of pgs_synguard (index = service id): the service's SYN-flood view, datapath atomics only.
 * half-open flows = ho_opened - ho_closed - pgs_synguard_adj[id]. */
struct pgs_synguard {
	__u64 ho_opened;      /* flows created by a client SYN (PGS_FLOW_F_HALFOPEN set) */
	__u64 ho_closed;      /* ... that completed their handshake, closed or were replaced */
	__u64 flood_until_ns; /* auto mode answers with cookies until then (bpf_ktime_get_ns clock) */
	__u64 last_cookie_ns; /* last cookie sent, about to the second: ACKs are checked for 2 minutes after */
};

/* Value of pgs_cookie_sec (per CPU, index = service id): cookies sent this second and not yet
 * answered by a valid ACK (bpf/lib/synguard.h). */
struct pgs_cookie_sec {
	__u64 sec;        /* bpf_ktime_get_ns() >> 30 the count is of */
	__s64 unanswered;
};

#define PGS_HALFOPEN_MAX_DEFAULT 128

/* Key of pgs_svc_verdicts (per CPU): a verdict of one service, counted besides the node's
 * pgs_verdicts. Only the SYN-cookie handshake's verdicts are counted per service (synguard.h). */
static inline __u32 pgs_svc_verdict_key(__u32 svc_id, __u32 reason)
{
	return svc_id * PGS_R_MAX + reason;
}

/* pgs_svc.syn_cookies: when the datapath answers SYNs itself with a SYN cookie. */
enum pgs_syn_cookies {
	PGS_COOKIES_AUTO = 0,   /* under a flood: half-open flows over syn_halfopen_max, or SNAT ports scarce */
	PGS_COOKIES_ALWAYS = 1,
	PGS_COOKIES_OFF = 2,
};

/* Value of pgs_servers (index = slot): the controller's view of one server. */
struct pgs_server {
	__u32 addr;      /* network order */
	__u16 port;      /* network order */
	__u8 state;      /* enum pgs_srv_state */
	__u8 _pad0;
	__u32 weight;    /* effective weight (user weight x 16, ramped by slow start); 0 = never selected */
	__u32 gen;       /* bumped when the slot is given to another server */
	__u64 kill_ns;   /* flows created before this time are reset (on-marked-down shutdown-sessions) */
	char name[PGS_NAME_LEN];
};

/* Value of pgs_conns (index = slot): connection counts, written by the datapath only, with atomics.
 * active = opened - closed - pgs_conn_adj. */
struct pgs_conns {
	__u64 opened;
	__u64 closed;
	__u64 _pad[6];   /* one 64-byte line per slot: CPUs counting for different servers do not share one */
};

/* Value of pgs_srv_stats (per CPU, index = slot). "in" is client to server, as in HAProxy's bin. */
struct pgs_srv_stats {
	__u64 pkts_in;
	__u64 bytes_in;
	__u64 pkts_out;
	__u64 bytes_out;
	__u64 new_flows;
	__u64 redispatched; /* SYNs refused by this server and redispatched */
	__u64 last_new_ns;  /* time of the last new flow (bpf_ktime_get_ns) */
};

/* Key of pgs_flows: the client side of a connection. */
struct pgs_flow_key {
	__u32 client;  /* network order */
	__u32 vip;
	__u16 cport;
	__u16 vport;
};

/* A next hop: toward a server resolved per slot about once a second (bpf_fib_lookup costs more than
 * the rest of the packet's path), toward a client learnt from the client's own frames. */
struct pgs_hop {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;   /* 0 = not resolved yet */
	__u32 stamp;     /* bpf_ktime_get_ns() >> 30 when resolved: stale once that changes */
};

#define PGS_HOP_SHIFT 30

/* Value of pgs_slot_hop (index = slot): the next hop toward the slot's server at addr. */
struct pgs_slot_hop {
	struct pgs_hop hop;
	__u32 addr;      /* network order */
	__u32 mtu;       /* the route's MTU the lookup that resolved hop gave (bpf/lib/icmp.h checks it) */
};

/* Value of pgs_flows: everything needed to translate both directions. */
struct pgs_flow {
	__u32 backend;   /* network order */
	__u16 bport;     /* network order */
	__u16 sport;     /* SNAT port, network order */
	__u32 slot;      /* server slot in pgs_servers */
	__u32 gen;       /* pgs_server.gen at selection */
	__u32 flags;     /* PGS_FLOW_F_*, changed with atomics */
	__u32 state;     /* enum pgs_flow_state, only ever moved forward (compare-and-swap) */
	__u64 created_ns;
	__u64 seen_ns;   /* last packet, refreshed at most once a second */
	struct pgs_hop hop[2]; /* [1]: the way back to the client, learnt from its frames; [0]: unused (next
				* hops toward servers are per slot, pgs_slot_hop) */
	__u32 isn[2];    /* initial sequence numbers (host order): the client's SYN [0], the backend's SYN-ACK [1] */
	__u32 nxt[2];    /* right edge (seq + length, host order) seen from the client [0] and the backend [1] */
	/* Cookie flows (PGS_FLOW_F_COOKIE) only: the handshake the datapath did for the client. The
	 * client's ISN is isn[0], the backend's isn[1]: backend seq - (isn[1] - cookie_isn) toward the
	 * client, client ack + the same toward the backend. */
	__u32 cookie_isn; /* our ISN toward the client (the cookie), host order */
	__u16 mss;        /* MSS the cookie encodes, sent to the backend in our SYN */
	__u16 cwin;       /* the client's (unscaled) window from its cookie ACK */
	/* Last acknowledgement (host order) from the client [0] and the backend [1], each in the
	 * numbers of the side it acknowledges as that side sent them (a cookie flow's client ACK
	 * translated to the backend's, seqxlate.h): what an RST from the other side must match. */
	__u32 ack[2];
	/* The route's MTU toward the client (hop[1] is learnt, not looked up) and the stamp
	 * (PGS_HOP_SHIFT) it was looked up at: bpf/lib/icmp.h, for packets that might not fit. */
	__u32 cmtu;
	__u32 cmtu_stamp;
	/* pgs_ctl.epoch when the edges in flags were learnt: from an earlier one they are only hints,
	 * which the flow's first packet since makes them (bpf/lib/seqhint.h). */
	__u32 epoch;
	__u32 _pad;
};

/* A flow's flags with its learnt edges turned into hints (PGS_FLOW_F_SEQ_x -> PGS_FLOW_F_HINT_x,
 * nxt[] kept) and its last acknowledgements dropped: what a flow learnt in an earlier steering
 * epoch, or one a sync record carries, is worth on this node (bpf/lib/seqhint.h). */
static inline __u32 pgs_flow_edges_as_hints(__u32 flags)
{
	if (flags & PGS_FLOW_F_SEQ_CLIENT)
		flags |= PGS_FLOW_F_HINT_CLIENT;
	if (flags & PGS_FLOW_F_SEQ_SERVER)
		flags |= PGS_FLOW_F_HINT_SERVER;
	return flags & ~PGS_FLOW_F_EDGES;
}

/* Key of pgs_rflows: a backend reply as it arrives (backend -> VIP:SNAT port). */
struct pgs_rflow_key {
	__u32 backend;
	__u32 vip;
	__u16 bport;
	__u16 sport;
};

/* Index 0 of pgs_ctl: node-wide switches set by the controller. */
struct pgs_ctl {
	__u32 active;    /* 1 = this node steers (VRRP master, or no VRRP) */
	__u32 beat;      /* pgsteerd's heartbeat: CLOCK_MONOTONIC >> PGS_BEAT_SHIFT at its last tick; 0 = none
			  * (stopped on purpose). Older than PGS_BEAT_TIMEOUT: the datapath stops steering. */
	__u64 off_ns;    /* when steering last went off (bpf_ktime_get_ns clock); 0 = never */
	__u32 epoch;     /* bumped at every takeover: a flow's edges from an earlier one are stale */
	__u32 _pad;
};

#define PGS_BEAT_SHIFT 30   /* heartbeat unit: 2^30 ns, about 1.07 s */
#define PGS_BEAT_TIMEOUT 10 /* units without a beat after which a node stops steering (about 11 s) */

/* Load-time settings, set as .rodata before load. */
struct pgs_cfg {
	__u16 snat_min;  /* host order */
	__u16 snat_max;
	__u32 fallback;  /* TC program behind XDP: only finishes what XDP punted, counts nothing else */
	__u32 _pad;
};

/* What a flow event reports, for the controller's flow sync (ring buffer pgs_events). */
enum pgs_event_type {
	PGS_EV_ESTABLISHED = 1, /* the client acknowledged the backend's SYN-ACK: worth syncing */
	PGS_EV_CLOSED = 2,      /* an established flow closed (both FINs, or an RST) */
};

/* One record of pgs_events, emitted exactly once per state move (by the CPU that made it). */
struct pgs_flow_event {
	struct pgs_flow_key fk;
	__u32 backend;   /* network order */
	__u16 bport;     /* network order */
	__u16 sport;     /* SNAT port, network order */
	__u32 slot;
	__u32 gen;
	__u32 type;      /* enum pgs_event_type */
	__u32 flags;     /* PGS_FLOW_F_* when the event was emitted */
	__u32 _pad;
	__u64 ts_ns;     /* bpf_ktime_get_ns() */
};

#define PGS_EVENTS_BYTES (256 * 1024) /* ring buffer size: about 4600 events behind the reader */

/* PostgreSQL-aware steering (bpf/lib/pgproto.h, bpf/lib/policy.h). */

/* Value of pgs_pg_opts (index = service id): PGS_SVC_F_* set by the controller. */
#define PGS_SVC_F_CANCEL (1u << 0) /* route CancelRequests (cancel-routing on) */

/* A CancelRequest: int32 length 16, int32 code 80877102, int32 process id, int32 secret key. */
#define PGS_PG_CANCEL_LEN 16
#define PGS_PG_CANCEL_CODE 80877102

/* Per-CPU counters of pgs_pg_stats (index). */
enum pgs_pg_stat {
	PGS_PG_CANCEL_SEEN = 0, /* CancelRequests recognised as the first payload of a flow */
	PGS_PG_CANCEL_LOST,     /* of those, events the ring buffer had no room for */
	PGS_PG_STAT_MAX,
};

enum pgs_pg_event_type {
	PGS_PGEV_CANCEL = 1,
};

/* One record of pgs_pg_events: a CancelRequest a client sent, and the server the flow went to
 * (which received it unchanged). Its own ring buffer: pgs_events has one reader (flow sync) and a
 * BPF ring buffer has one consumer position. */
struct pgs_pg_event {
	struct pgs_flow_key fk;
	__u32 backend;   /* network order */
	__u16 bport;     /* network order */
	__u16 sport;     /* SNAT port, network order */
	__u32 slot;      /* the server the cancel went to */
	__u32 type;      /* enum pgs_pg_event_type */
	__u32 pid;       /* the CancelRequest's key, network order as on the wire */
	__u32 secret;
	__u64 ts_ns;
};

#define PGS_PG_EVENTS_BYTES (64 * 1024)

/* Key of pgs_policy (LPM trie): the service id, then the source address. prefixlen counts both:
 * 32 + the CIDR's length. A /32 entry (the service id alone) is the service's default. */
struct pgs_policy_key {
	__u32 prefixlen;
	__u32 svc_id;    /* network order, so the trie matches it bit by bit */
	__u32 addr;      /* network order */
};

/* Value of pgs_policy. */
enum pgs_policy_action {
	PGS_POLICY_ALLOW = 1,
	PGS_POLICY_DENY = 2,
};

/* Map names (the pin file names under the pin root). */
#define PGS_MAP_SERVICES "pgs_services"
#define PGS_MAP_SERVERS "pgs_servers"
#define PGS_MAP_CONNS "pgs_conns"
#define PGS_MAP_CONN_ADJ "pgs_conn_adj"
#define PGS_MAP_PASSIVE "pgs_passive"
#define PGS_MAP_SRV_STATS "pgs_srv_stats"
#define PGS_MAP_VERDICTS "pgs_verdicts"
#define PGS_MAP_FLOWS "pgs_flows"
#define PGS_MAP_RFLOWS "pgs_rflows"
#define PGS_MAP_CTL "pgs_ctl"
#define PGS_MAP_RR "pgs_rr"
#define PGS_MAP_EVENTS "pgs_events"
#define PGS_MAP_EV_LOST "pgs_ev_lost"
#define PGS_MAP_PG_OPTS "pgs_pg_opts"
#define PGS_MAP_PG_EVENTS "pgs_pg_events"
#define PGS_MAP_PG_STATS "pgs_pg_stats"
#define PGS_MAP_POLICY "pgs_policy"
#define PGS_MAP_SYNGUARD "pgs_synguard"
#define PGS_MAP_SYNGUARD_ADJ "pgs_synguard_adj"
#define PGS_MAP_COOKIE_SEC "pgs_cookie_sec"
#define PGS_MAP_SVC_VERDICTS "pgs_svc_verdicts"
#define PGS_MAP_SLOT_HOP "pgs_slot_hop"
#define PGS_LINK_XDP "link_xdp"

#endif

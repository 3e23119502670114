/* VRRP version 3 for IPv4 (RFC 5798 with RFC 9568's clarifications), interoperable with keepalived.
 * The advert codec and the state machine are pure functions of their inputs and a clock (vrrp.c);
 * the instance on the wire (sockets, VIP, GARP, timers) is in vrrp_net.c and drives them. */
#ifndef PGS_VRRP_H
#define PGS_VRRP_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"

#define VRRP_PROTO      112
#define VRRP_VERSION    3
#define VRRP_TYPE_ADV   1
#define VRRP_TTL        255
#define VRRP_TOS        0xc0          /* keepalived's: network control precedence */
#define VRRP_MCAST      0xe0000012u   /* 224.0.0.18, host order */
#define VRRP_MAX_ADDRS  16            /* addresses kept from a received advert (all are validated) */
#define VRRP_PKT_MAX    (60 + 8 + 4 * 255)
#define VRRP_GARP_LEN   42            /* Ethernet + ARP, unpadded, as keepalived sends it */
#define VRRP_LOWER_GARP_US 1000000 /* as master, one GARP burst a second at most for lower adverts */

enum vrrp_state { VRRP_INIT, VRRP_BACKUP, VRRP_MASTER, VRRP_FAULT };

/* Why a received packet was discarded. Never fatal, never a state change. */
enum vrrp_drop {
	VRRP_ACCEPT = -1,
	VRRP_DROP_TTL,       /* TTL is not 255 */
	VRRP_DROP_VERSION,   /* not version 3 (a keepalived left at its default vrrp_version 2) */
	VRRP_DROP_VRID,      /* another virtual router */
	VRRP_DROP_CHECKSUM,  /* no checksum variant validates */
	VRRP_DROP_TRUNCATED, /* shorter than its headers and address count */
	VRRP_DROP_OWN,       /* our own address as the source */
	VRRP_DROP_TYPE,      /* not an advertisement */
	VRRP_DROP_OTHER,     /* not IPv4/112, a fragment, a zero interval */
	VRRP_DROP_MAX
};

/* An advertisement's fields. */
struct vrrp_advert {
	uint8_t vrid;
	uint8_t priority;
	uint16_t interval_cs;
	uint8_t naddrs;                  /* count as carried; addrs holds the first VRRP_MAX_ADDRS */
	uint32_t addrs[VRRP_MAX_ADDRS];  /* network order */
};

/* A received advert with what its IP header said. */
struct vrrp_rx {
	struct vrrp_advert adv;
	uint32_t src, dst;               /* network order */
	uint8_t ttl;
	enum vrrp_csum csum;             /* the checksum variant that validated */
};

const char *vrrp_state_name(enum vrrp_state s);   /* "INIT" "BACKUP" "MASTER" "FAULT" */
const char *vrrp_drop_name(enum vrrp_drop d);     /* "ttl", "version", ... */
const char *vrrp_csum_name(enum vrrp_csum c);     /* the config words: "keepalived", "rfc9568", "old-unicast" */

/* The whole IPv4 packet as keepalived builds it (TOS 0xc0, id 0, no DF, TTL 255, header checksum
 * filled) from src to dst, with the VRRP checksum of the given variant. Length, or -ENOSPC/-EINVAL. */
int vrrp_encode(const struct vrrp_advert *a, uint32_t src, uint32_t dst, enum vrrp_csum csum,
		uint8_t *buf, size_t len);

/* Validate an IPv4 packet as a raw socket returns it (header included) for virtual router vrid,
 * self being our own source address. VRRP_ACCEPT with *out filled, or the reason to drop it. */
enum vrrp_drop vrrp_decode(const uint8_t *pkt, size_t len, uint8_t vrid, uint32_t self, struct vrrp_rx *out);

/* A gratuitous ARP as keepalived sends it: broadcast request, sha = mac, spa = tpa = vip,
 * tha = ff:ff:ff:ff:ff:ff. Writes VRRP_GARP_LEN bytes. */
void vrrp_garp_build(uint8_t buf[VRRP_GARP_LEN], const uint8_t mac[6], uint32_t vip);

/* RFC 5798 §6.1 in microseconds, as keepalived computes them:
 * Skew_Time = (256 - prio) * interval / 256, Master_Down_Interval = 3 * interval + Skew_Time. */
uint64_t vrrp_skew_us(uint8_t prio, uint16_t interval_cs);
uint64_t vrrp_master_down_us(uint8_t prio, uint16_t interval_cs);

/* --- The state machine: (state, event, clock) -> (state, actions). No I/O. ------------------- */

/* What the machine asks its driver to do. The driver applies them so that the VIP is never held
 * without being steered (a SYN reaching the stack then would be refused): becoming master, advert,
 * steering on, VIP, GARP; leaving master, goodbye advert, VIP away, steering off. */
enum vrrp_action {
	VRRP_A_STEER_OFF = 1 << 0,
	VRRP_A_SEND_PRIO0 = 1 << 1,  /* advert with priority 0: "the master stops" */
	VRRP_A_VIP_DEL = 1 << 2,
	VRRP_A_SEND = 1 << 3,        /* advert with our priority */
	VRRP_A_VIP_ADD = 1 << 4,
	VRRP_A_GARP = 1 << 5,        /* a burst, and a second one after garp-delay */
	VRRP_A_STEER_ON = 1 << 6,
};

enum vrrp_ev_type {
	VRRP_EV_START,     /* Startup */
	VRRP_EV_TIMER,     /* the clock reached vrrp_fsm_next() */
	VRRP_EV_ADVERT,    /* a validated advert of our VRID */
	VRRP_EV_FAULT,     /* fault on (interface down, datapath not attached) or off */
	VRRP_EV_SHUTDOWN,  /* graceful stop */
	VRRP_EV_RESUME,    /* startup of a node that was master a moment ago (hitless restart) */
};

struct vrrp_event {
	enum vrrp_ev_type type;
	uint32_t src;          /* ADVERT: sender, network order */
	uint8_t priority;      /* ADVERT */
	uint16_t interval_cs;  /* ADVERT */
	int fault;             /* FAULT: 1 on, 0 off */
	const char *why;       /* FAULT: e.g. "interface eth0 down" */
};

/* The configured parameters. */
struct vrrp_params {
	uint8_t priority;
	uint16_t advert_cs;
	int preempt;
	uint32_t preempt_delay_ms;  /* with preempt: hold off taking over from a lower priority */
	uint32_t self;              /* our source address (decides equal priorities), network order */
};

/* The machine's whole state. Clocks are monotonic microseconds. */
struct vrrp_fsm {
	struct vrrp_params p;
	enum vrrp_state state;
	int fault;
	uint16_t master_adver_cs;   /* Master_Adver_Interval, learned from the master */
	uint32_t master;            /* current master, network order; self while master; 0 unknown */
	uint64_t down_at;           /* Master_Down_Timer (BACKUP), 0 = stopped */
	uint64_t advert_at;         /* Adver_Timer (MASTER), 0 = stopped */
	uint64_t sent_at;           /* MASTER: when our last advert went out (a stall is counted from it) */
	uint64_t preempt_at;        /* end of preempt-delay, counted from the first lower advert */
	uint32_t prio0_from;        /* down_at was set by a priority 0 advert from this address */
	uint32_t lower_master;      /* ignoring this lower-priority master: down_at will preempt it */
	int hold_preempt;           /* not ready to take over from a live master (flow sync incomplete) */
	uint64_t lower_reply_at;    /* MASTER: no reply to a lower advert before this (one per advert interval) */
	uint64_t lower_garp_at;     /* MASTER: no GARP for a lower advert before this (one a second) */
	char fault_why[64];
};

/* Why a transition happened: what decisions (alerts) key on. The why string is for people. */
enum vrrp_cause {
	VRRP_CAUSE_NONE,
	VRRP_CAUSE_STARTUP,        /* INIT -> BACKUP */
	VRRP_CAUSE_OWNER,          /* INIT -> MASTER: priority 255 */
	VRRP_CAUSE_RESUMED,        /* INIT -> MASTER: the restart in place of a master */
	VRRP_CAUSE_MASTER_DOWN,    /* BACKUP -> MASTER: no master heard */
	VRRP_CAUSE_PRIO0,          /* BACKUP -> MASTER: the master stepped down (priority 0) */
	VRRP_CAUSE_PREEMPTED,      /* BACKUP -> MASTER: took over from a lower-priority master */
	VRRP_CAUSE_HIGHER_PRIO,    /* MASTER -> BACKUP: a higher-priority advert */
	VRRP_CAUSE_HIGHER_ADDR,    /* MASTER -> BACKUP: equal priority, higher address */
	VRRP_CAUSE_STALLED,        /* MASTER -> BACKUP: silent longer than a backup waits (SIGSTOP, a frozen host) */
	VRRP_CAUSE_FAULT,          /* -> FAULT */
	VRRP_CAUSE_FAULT_CLEARED,  /* FAULT -> BACKUP */
	VRRP_CAUSE_SHUTDOWN,       /* -> INIT */
};

/* The outcome of one step. */
struct vrrp_out {
	unsigned int actions;       /* enum vrrp_action bits */
	enum vrrp_state from, to;   /* from != to: a transition happened */
	enum vrrp_cause cause;
	char why[96];               /* the cause for people, with the peer's address */
};

void vrrp_fsm_init(struct vrrp_fsm *f, const struct vrrp_params *p);
/* Feed one event at time now; returns out->actions. */
unsigned int vrrp_fsm_step(struct vrrp_fsm *f, const struct vrrp_event *ev, uint64_t now, struct vrrp_out *out);
/* An advert went out outside vrrp_fsm_step (vrrp_advert_now, a restart's bridge) at now. */
void vrrp_fsm_sent(struct vrrp_fsm *f, uint64_t now);
/* When the machine next wants VRRP_EV_TIMER; 0 = no timer running. */
uint64_t vrrp_fsm_next(const struct vrrp_fsm *f);

/* --- The instance on the wire (vrrp_net.c). ---------------------------------------------------- */

struct loop;
struct model;
struct vrrp;

struct vrrp_hooks {
	/* Datapath steering on or off; called at its point of the transition. */
	void (*steer)(void *arg, int on);
	/* After each transition, for logs, alerts and stats. Decisions key on cause; why is its text for
	 * people: "master down timer", "higher priority advert from 10.100.1.10", "priority 0 from
	 * 10.100.1.10", "preempted 10.100.1.11", "interface eth0 down", ... */
	void (*state)(void *arg, enum vrrp_state from, enum vrrp_state to, enum vrrp_cause cause,
		      uint32_t master_addr, const char *why);
};

/* Open the sockets on cfg->interface and prepare the instance (cfg is copied). NULL on failure with
 * a message in err. Nothing is sent before vrrp_start(). */
struct vrrp *vrrp_new(struct loop *l, const struct config *cfg, const struct vrrp_hooks *h, void *arg,
		      char *err, size_t errlen);
/* Startup: BACKUP (VIP removed, steering off) or FAULT. 0 or -errno. */
int vrrp_start(struct vrrp *v);
/* Startup of a process that takes over from this node's previous one, which was master (a hitless
 * restart): master at once, without waiting out the master-down timer, so the peer never notices. */
int vrrp_resume(struct vrrp *v);
/* As master: send an advert now (a restart in place sends one on each side of its slow steps). */
void vrrp_advert_now(struct vrrp *v);
/* Restart in place: as master, fork the advert bridge (vrrp_bridge.c) that keeps advertising
 * through the teardown, the exec and the new image's start, until the new image's vrrp_start or
 * vrrp_resume ends it. 0 (also when not master) or -errno. */
int vrrp_bridge(struct vrrp *v);
/* The restart was refused or failed: end the bridge now. Leaving MASTER ends it too. */
void vrrp_bridge_cancel(struct vrrp *v);
/* As master: put the VIP back if something removed it behind our back (and tell the network). */
void vrrp_reassert(struct vrrp *v);
/* The daemon's own fault (e.g. the datapath cannot attach): FAULT while set, even as master. */
void vrrp_set_fault(struct vrrp *v, int fault, const char *why);
/* Hold (1) or allow (0) preemption: while held a lower-priority master is accepted as if
 * nopreempt were set (flow sync holds it until its table is complete). A dead master's election is
 * never held. */
void vrrp_hold_preempt(struct vrrp *v, int hold);
/* Graceful stop: as master, steering off, an advert with priority 0, VIP removed. Then INIT. */
void vrrp_shutdown(struct vrrp *v);
void vrrp_free(struct vrrp *v);
/* State, last change (wall ms), master, transitions and rx drops into m->vrrp. */
void vrrp_fill(struct vrrp *v, struct model *m);
enum vrrp_state vrrp_state_get(const struct vrrp *v);

#endif

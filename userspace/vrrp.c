/* VRRPv3 for IPv4, the pure part: advert codec (three checksum variants), gratuitous ARP frames,
 * RFC 5798 timers and the RFC 5798/9568 state machine as functions of (state, event, clock). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include "vrrp.h"

const char *vrrp_state_name(enum vrrp_state s)
{
	static const char *const names[] = { "INIT", "BACKUP", "MASTER", "FAULT" };

	return (unsigned int)s < 4 ? names[s] : "?";
}

const char *vrrp_drop_name(enum vrrp_drop d)
{
	static const char *const names[VRRP_DROP_MAX] = {
		"ttl", "version", "vrid", "checksum", "truncated", "own", "type", "other",
	};

	return d >= 0 && d < VRRP_DROP_MAX ? names[d] : "?";
}

const char *vrrp_csum_name(enum vrrp_csum c)
{
	switch (c) {
	case VRRP_CSUM_PSEUDO: return "keepalived";
	case VRRP_CSUM_PLAIN: return "rfc9568";
	case VRRP_CSUM_PSEUDO_MCAST: return "old-unicast";
	}
	return "?";
}

/* --- Codec ------------------------------------------------------------------------------------ */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* RFC 1071 ones'-complement sum of big-endian 16-bit words. */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += get16(p + i);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* The 12-byte TCP/UDP-style pseudo-header, summed: src, dst, 0, protocol 112, VRRP length. */
static uint32_t csum_pseudo(uint32_t src, uint32_t dst, uint16_t len)
{
	uint8_t ph[12];

	memcpy(ph, &src, 4);
	memcpy(ph + 4, &dst, 4);
	ph[8] = 0;
	ph[9] = VRRP_PROTO;
	put16(ph + 10, len);
	return csum_add(0, ph, sizeof(ph));
}

/* The VRRP checksum of msg (its checksum field included) under a variant: 0 when it validates. */
static uint16_t vrrp_csum(const uint8_t *msg, uint16_t len, uint32_t src, uint32_t dst, enum vrrp_csum v)
{
	uint32_t sum = 0;

	if (v == VRRP_CSUM_PSEUDO)
		sum = csum_pseudo(src, dst, len);
	else if (v == VRRP_CSUM_PSEUDO_MCAST)
		sum = csum_pseudo(src, htonl(VRRP_MCAST), len);
	return csum_fold(csum_add(sum, msg, len));
}

int vrrp_encode(const struct vrrp_advert *a, uint32_t src, uint32_t dst, enum vrrp_csum csum,
		uint8_t *buf, size_t len)
{
	uint16_t vlen = 8 + 4 * a->naddrs, tot = 20 + vlen;
	uint8_t *ip = buf, *v = buf + 20;

	if (a->naddrs > VRRP_MAX_ADDRS || a->interval_cs > 0xfff)
		return -EINVAL;
	if (len < tot)
		return -ENOSPC;
	memset(buf, 0, tot);
	ip[0] = 0x45;
	ip[1] = VRRP_TOS;
	put16(ip + 2, tot);
	ip[8] = VRRP_TTL;
	ip[9] = VRRP_PROTO;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));

	v[0] = VRRP_VERSION << 4 | VRRP_TYPE_ADV;
	v[1] = a->vrid;
	v[2] = a->priority;
	v[3] = a->naddrs;
	put16(v + 4, a->interval_cs);
	memcpy(v + 8, a->addrs, 4 * a->naddrs);
	put16(v + 6, vrrp_csum(v, vlen, src, dst, csum));
	return tot;
}

enum vrrp_drop vrrp_decode(const uint8_t *pkt, size_t len, uint8_t vrid, uint32_t self, struct vrrp_rx *out)
{
	static const enum vrrp_csum variants[] = { VRRP_CSUM_PSEUDO, VRRP_CSUM_PLAIN, VRRP_CSUM_PSEUDO_MCAST };
	const uint8_t *v;
	size_t ihl, tot, vlen, i;
	unsigned int n;

	memset(out, 0, sizeof(*out));
	if (len < 20)
		return VRRP_DROP_TRUNCATED;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	tot = get16(pkt + 2);
	if (pkt[0] >> 4 != 4 || ihl < 20 || tot < ihl)
		return VRRP_DROP_OTHER;
	if (len < ihl || len < tot)
		return VRRP_DROP_TRUNCATED;
	/* A fragment, or another protocol than the raw socket's. */
	if ((get16(pkt + 6) & 0x3fff) || pkt[9] != VRRP_PROTO)
		return VRRP_DROP_OTHER;
	out->ttl = pkt[8];
	memcpy(&out->src, pkt + 12, 4);
	memcpy(&out->dst, pkt + 16, 4);
	/* RFC 5798 §5.1.1.3: off-link senders cannot reach 255. */
	if (out->ttl != VRRP_TTL)
		return VRRP_DROP_TTL;

	v = pkt + ihl;
	vlen = tot - ihl; /* Ethernet padding beyond the IP length is not ours */
	if (vlen < 8)
		return VRRP_DROP_TRUNCATED;
	if (v[0] >> 4 != VRRP_VERSION)
		return VRRP_DROP_VERSION;
	if ((v[0] & 0x0f) != VRRP_TYPE_ADV)
		return VRRP_DROP_TYPE;
	n = v[3];
	if (vlen < 8 + 4 * (size_t)n)
		return VRRP_DROP_TRUNCATED;

	/* Accept whichever variant the sender used (anchors §1.3): pseudo-header with the real
	 * destination, none, or with 224.0.0.18 whatever the destination. */
	for (i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		if (vrrp_csum(v, (uint16_t)vlen, out->src, out->dst, variants[i]) == 0)
			break;
	if (i == sizeof(variants) / sizeof(variants[0]))
		return VRRP_DROP_CHECKSUM;
	out->csum = variants[i];

	out->adv.vrid = v[1];
	out->adv.priority = v[2];
	out->adv.naddrs = (uint8_t)n;
	out->adv.interval_cs = get16(v + 4) & 0x0fff;
	memcpy(out->adv.addrs, v + 8, 4 * (n < VRRP_MAX_ADDRS ? n : VRRP_MAX_ADDRS));
	if (out->adv.vrid != vrid)
		return VRRP_DROP_VRID;
	if (out->adv.interval_cs == 0)
		return VRRP_DROP_OTHER;
	if (out->src == self)
		return VRRP_DROP_OWN;
	return VRRP_ACCEPT;
}

void vrrp_garp_build(uint8_t buf[VRRP_GARP_LEN], const uint8_t mac[6], uint32_t vip)
{
	uint8_t *arp = buf + 14;

	memset(buf, 0xff, 6);           /* Ethernet broadcast */
	memcpy(buf + 6, mac, 6);
	put16(buf + 12, 0x0806);
	put16(arp, 1);                  /* Ethernet */
	put16(arp + 2, 0x0800);         /* IPv4 */
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, 1);              /* request */
	memcpy(arp + 8, mac, 6);        /* sha */
	memcpy(arp + 14, &vip, 4);      /* spa */
	memset(arp + 18, 0xff, 6);      /* tha */
	memcpy(arp + 24, &vip, 4);      /* tpa */
}

/* --- Timers ----------------------------------------------------------------------------------- */

uint64_t vrrp_skew_us(uint8_t prio, uint16_t interval_cs)
{
	return (uint64_t)(256 - prio) * interval_cs * 10000 / 256;
}

uint64_t vrrp_master_down_us(uint8_t prio, uint16_t interval_cs)
{
	return 3ull * interval_cs * 10000 + vrrp_skew_us(prio, interval_cs);
}

/* --- State machine ---------------------------------------------------------------------------- */

void vrrp_fsm_init(struct vrrp_fsm *f, const struct vrrp_params *p)
{
	memset(f, 0, sizeof(*f));
	f->p = *p;
	f->state = VRRP_INIT;
	f->master_adver_cs = p->advert_cs;
}

static const char *ip_str(uint32_t addr, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
}

static void go(struct vrrp_fsm *f, struct vrrp_out *out, enum vrrp_state to, enum vrrp_cause cause,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void go(struct vrrp_fsm *f, struct vrrp_out *out, enum vrrp_state to, enum vrrp_cause cause,
	       const char *fmt, ...)
{
	va_list ap;

	f->state = to;
	out->to = to;
	out->cause = cause;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

static void reset_down(struct vrrp_fsm *f, uint64_t now)
{
	f->down_at = now + vrrp_master_down_us(f->p.priority, f->master_adver_cs);
}

/* Backup -> Master (or Init -> Master for an owner): advert first so the old master lets go. */
static void to_master(struct vrrp_fsm *f, struct vrrp_out *out, uint64_t now)
{
	out->actions |= VRRP_A_SEND | VRRP_A_VIP_ADD | VRRP_A_GARP | VRRP_A_STEER_ON;
	f->advert_at = now + (uint64_t)f->p.advert_cs * 10000;
	f->down_at = 0;
	f->preempt_at = 0;
	f->prio0_from = 0;
	f->lower_master = 0;
	f->master = f->p.self;
}

/* Into Backup: a backup never steers nor holds the VIP. */
static void to_backup(struct vrrp_fsm *f, struct vrrp_out *out, uint64_t now, uint16_t interval_cs)
{
	out->actions |= VRRP_A_STEER_OFF | VRRP_A_VIP_DEL;
	f->advert_at = 0;
	f->master_adver_cs = interval_cs;
	f->preempt_at = 0;
	f->prio0_from = 0;
	f->lower_master = 0;
	reset_down(f, now);
}

/* Leaving Master for Fault or Init: steering off, goodbye advert, VIP away. */
static void leave_master(struct vrrp_fsm *f, struct vrrp_out *out)
{
	out->actions |= VRRP_A_STEER_OFF | VRRP_A_SEND_PRIO0 | VRRP_A_VIP_DEL;
	f->advert_at = 0;
	f->master = 0;
}

static void on_timer(struct vrrp_fsm *f, struct vrrp_out *out, uint64_t now)
{
	char a[INET_ADDRSTRLEN];
	uint64_t iv = (uint64_t)f->p.advert_cs * 10000;

	if (f->state == VRRP_BACKUP && f->down_at && now >= f->down_at) {
		uint32_t prio0 = f->prio0_from, lower = f->lower_master;

		to_master(f, out, now);
		if (prio0)
			go(f, out, VRRP_MASTER, VRRP_CAUSE_PRIO0, "priority 0 from %s", ip_str(prio0, a));
		else if (lower)
			go(f, out, VRRP_MASTER, VRRP_CAUSE_PREEMPTED, "preempted %s", ip_str(lower, a));
		else
			go(f, out, VRRP_MASTER, VRRP_CAUSE_MASTER_DOWN, "master down timer");
	} else if (f->state == VRRP_MASTER && f->advert_at && now >= f->advert_at) {
		out->actions |= VRRP_A_SEND;
		/* Keep the cadence; restart it if the clock jumped past more than one interval. */
		f->advert_at = f->advert_at + iv > now ? f->advert_at + iv : now + iv;
	}
}

static void on_advert_backup(struct vrrp_fsm *f, const struct vrrp_event *ev, uint64_t now)
{
	int lower = ev->priority < f->p.priority;

	f->master = ev->src;
	if (ev->priority == 0) {
		/* The master is leaving: take over after the skew time only. */
		f->down_at = now + vrrp_skew_us(f->p.priority, f->master_adver_cs);
		f->prio0_from = ev->src;
		return;
	}
	if (lower && f->p.preempt && !f->hold_preempt) {
		/* preempt-delay: keep accepting a lower master for a while, counted from its first advert. */
		if (f->p.preempt_delay_ms && !f->preempt_at)
			f->preempt_at = now + (uint64_t)f->p.preempt_delay_ms * 1000;
		if (!f->p.preempt_delay_ms || now >= f->preempt_at) {
			/* Discard: Master_Down_Timer keeps running and we preempt when it fires. */
			f->lower_master = ev->src;
			return;
		}
	}
	if (!lower)
		f->preempt_at = 0;
	f->master_adver_cs = ev->interval_cs;  /* v3: learn the master's interval */
	f->prio0_from = 0;
	f->lower_master = 0;
	reset_down(f, now);
}

static void on_advert_master(struct vrrp_fsm *f, struct vrrp_out *out, const struct vrrp_event *ev, uint64_t now)
{
	char a[INET_ADDRSTRLEN];

	if (ev->priority == 0) { /* rate limited as lower adverts are (below) */
		if (now < f->lower_reply_at)
			return;
		f->lower_reply_at = now + (uint64_t)f->p.advert_cs * 10000;
		out->actions |= VRRP_A_SEND;
		f->advert_at = now + (uint64_t)f->p.advert_cs * 10000;
		return;
	}
	if (ev->priority > f->p.priority ||
	    (ev->priority == f->p.priority && ntohl(ev->src) > ntohl(f->p.self))) {
		to_backup(f, out, now, ev->interval_cs);
		f->master = ev->src;
		if (ev->priority > f->p.priority)
			go(f, out, VRRP_BACKUP, VRRP_CAUSE_HIGHER_PRIO, "higher priority advert from %s", ip_str(ev->src, a));
		else
			go(f, out, VRRP_BACKUP, VRRP_CAUSE_HIGHER_ADDR, "equal priority advert from higher address %s", ip_str(ev->src, a));
		return;
	}
	/* RFC 9568 §6.4.3 (keepalived's default): a lower master forces a new election at once. Every
	 * advert can be forged: a flood of lower ones gets one reply per advert interval (the periodic
	 * adverts say the same meanwhile) and one GARP burst a second, not a reply and a burst each. */
	if (now < f->lower_reply_at)
		return;
	f->lower_reply_at = now + (uint64_t)f->p.advert_cs * 10000;
	out->actions |= VRRP_A_SEND;
	if (now >= f->lower_garp_at) {
		out->actions |= VRRP_A_GARP;
		f->lower_garp_at = now + VRRP_LOWER_GARP_US;
	}
	f->advert_at = now + (uint64_t)f->p.advert_cs * 10000;
}

static void on_fault(struct vrrp_fsm *f, struct vrrp_out *out, const struct vrrp_event *ev, uint64_t now)
{
	const char *why = ev->why ? ev->why : (ev->fault ? "fault" : "fault cleared");

	f->fault = ev->fault;
	if (ev->fault)
		snprintf(f->fault_why, sizeof(f->fault_why), "%s", why);
	if (ev->fault && (f->state == VRRP_MASTER || f->state == VRRP_BACKUP)) {
		if (f->state == VRRP_MASTER)
			leave_master(f, out);
		f->down_at = 0;
		go(f, out, VRRP_FAULT, VRRP_CAUSE_FAULT, "%s", why);
	} else if (!ev->fault && f->state == VRRP_FAULT) {
		f->master = 0;
		to_backup(f, out, now, f->p.advert_cs);
		go(f, out, VRRP_BACKUP, VRRP_CAUSE_FAULT_CLEARED, "%s", why);
	}
}

static void on_start(struct vrrp_fsm *f, struct vrrp_out *out, uint64_t now)
{
	if (f->state != VRRP_INIT)
		return;
	if (f->fault) {
		out->actions |= VRRP_A_STEER_OFF | VRRP_A_VIP_DEL;
		go(f, out, VRRP_FAULT, VRRP_CAUSE_FAULT, "%s", f->fault_why);
	} else if (f->p.priority == 255) {
		to_master(f, out, now);
		go(f, out, VRRP_MASTER, VRRP_CAUSE_OWNER, "address owner");
	} else {
		/* Whatever a previous instance left behind, a backup holds nothing. */
		to_backup(f, out, now, f->p.advert_cs);
		go(f, out, VRRP_BACKUP, VRRP_CAUSE_STARTUP, "startup");
	}
}

/* A master that sent nothing for longer than any backup waits (its process was stopped, its host
 * froze): a backup has taken the VIP meanwhile, or is about to. Adverts sent now would make that
 * backup (of lower priority) give the VIP back, a second move; the stalled node steps down instead,
 * before it acts on anything, and the adverts it hears next decide as for any backup. An owner
 * (priority 255) stays master. */
static int stalled(const struct vrrp_fsm *f, uint64_t now)
{
	return f->state == VRRP_MASTER && f->p.priority < 255 && f->sent_at &&
	       now >= f->sent_at + vrrp_master_down_us(f->p.priority, f->p.advert_cs);
}

static void step_down_stalled(struct vrrp_fsm *f, struct vrrp_out *out, uint64_t now)
{
	unsigned long long ms = (now - f->sent_at) / 1000;

	to_backup(f, out, now, f->p.advert_cs);
	f->master = 0;
	f->sent_at = 0;
	go(f, out, VRRP_BACKUP, VRRP_CAUSE_STALLED, "silent for %llu ms, longer than a backup waits", ms);
}

void vrrp_fsm_sent(struct vrrp_fsm *f, uint64_t now)
{
	if (f->state == VRRP_MASTER)
		f->sent_at = now;
}

unsigned int vrrp_fsm_step(struct vrrp_fsm *f, const struct vrrp_event *ev, uint64_t now, struct vrrp_out *out)
{
	memset(out, 0, sizeof(*out));
	out->from = out->to = f->state;
	if ((ev->type == VRRP_EV_TIMER || ev->type == VRRP_EV_ADVERT) && stalled(f, now)) {
		step_down_stalled(f, out, now);
		if (ev->type == VRRP_EV_ADVERT)
			on_advert_backup(f, ev, now);
		return out->actions;
	}
	switch (ev->type) {
	case VRRP_EV_START:
		on_start(f, out, now);
		break;
	case VRRP_EV_RESUME:
		if (f->state == VRRP_INIT && !f->fault) {
			to_master(f, out, now);
			go(f, out, VRRP_MASTER, VRRP_CAUSE_RESUMED, "resumed after restart");
		} else {
			on_start(f, out, now);
		}
		break;
	case VRRP_EV_TIMER:
		on_timer(f, out, now);
		break;
	case VRRP_EV_ADVERT:
		if (f->state == VRRP_BACKUP)
			on_advert_backup(f, ev, now);
		else if (f->state == VRRP_MASTER)
			on_advert_master(f, out, ev, now);
		else if (f->state == VRRP_FAULT && ev->priority)
			f->master = ev->src;
		break;
	case VRRP_EV_FAULT:
		on_fault(f, out, ev, now);
		break;
	case VRRP_EV_SHUTDOWN:
		if (f->state == VRRP_MASTER)
			leave_master(f, out);
		if (f->state != VRRP_INIT)
			go(f, out, VRRP_INIT, VRRP_CAUSE_SHUTDOWN, "shutdown");
		f->down_at = f->advert_at = 0;
		break;
	}
	if (f->state == VRRP_MASTER && (out->actions & VRRP_A_SEND))
		f->sent_at = now;
	return out->actions;
}

uint64_t vrrp_fsm_next(const struct vrrp_fsm *f)
{
	if (f->state == VRRP_BACKUP)
		return f->down_at;
	if (f->state == VRRP_MASTER)
		return f->advert_at;
	return 0;
}

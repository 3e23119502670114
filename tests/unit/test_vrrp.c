/* VRRPv3: the codec against real keepalived 2.2.7 adverts, each checksum variant and drop reason,
 * gratuitous ARP bytes, RFC 5798 timers, and the state machine with a fake clock (microseconds). */
#include <errno.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include "harness.h"
#include "vrrp.h"

/* Three adverts captured from keepalived 2.2.7 (vrrp_version 3, vrid 77, prio 101, advert_int 1,
 * VIP 10.77.0.100) from 10.77.0.31 to 224.0.0.18: tcpdump -xx, Ethernet header onward. */
static const char *const ka_frames[] = {
	"01005e0000127ea28de6bc1d080045c0002001cf0000ff70ce600a4d001fe0000012314d650100" "6473a10a4d0064",
	"01005e0000127ea28de6bc1d080045c0002001d00000ff70ce5f0a4d001fe0000012314d650100" "6473a10a4d0064",
	"01005e0000127ea28de6bc1d080045c0002001d10000ff70ce5e0a4d001fe0000012314d650100" "6473a10a4d0064",
};

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	for (; s[0] && s[1] && n < max; s += 2) {
		unsigned int b;

		if (sscanf(s, "%2x", &b) != 1)
			break;
		out[n++] = (uint8_t)b;
	}
	return n;
}

static uint32_t ip(const char *s)
{
	return inet_addr(s);
}

/* An independent RFC 1071 checksum over a buffer, optionally behind a pseudo-header. */
static uint16_t ref_csum(const uint8_t *p, size_t len, uint32_t src, uint32_t dst, int pseudo)
{
	uint32_t sum = 0;
	size_t i;

	if (pseudo) {
		const uint8_t *s = (const uint8_t *)&src, *d = (const uint8_t *)&dst;

		sum += (s[0] << 8 | s[1]) + (s[2] << 8 | s[3]) + (d[0] << 8 | d[1]) + (d[2] << 8 | d[3]);
		sum += 112 + (uint32_t)len;
	}
	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Recompute the VRRP checksum of an IPv4 packet after a test changed a field (pseudo, real dst). */
static void fix_csum(uint8_t *pkt)
{
	size_t ihl = (pkt[0] & 0xf) * 4, tot = (size_t)(pkt[2] << 8 | pkt[3]);
	uint32_t src, dst;
	uint16_t c;

	memcpy(&src, pkt + 12, 4);
	memcpy(&dst, pkt + 16, 4);
	pkt[ihl + 6] = pkt[ihl + 7] = 0;
	c = ref_csum(pkt + ihl, tot - ihl, src, dst, 1);
	pkt[ihl + 6] = c >> 8;
	pkt[ihl + 7] = c & 0xff;
}

static struct vrrp_advert ka_advert(void)
{
	return (struct vrrp_advert){ .vrid = 77, .priority = 101, .interval_cs = 100, .naddrs = 1,
				     .addrs = { ip("10.77.0.100") } };
}

static void decode_keepalived_adverts(void)
{
	size_t i;

	for (i = 0; i < 3; i++) {
		uint8_t f[64];
		size_t n = unhex(ka_frames[i], f, sizeof(f));
		struct vrrp_rx rx;

		CHECK_EQ(n, 46);
		CHECK_EQ(vrrp_decode(f + 14, n - 14, 77, ip("10.77.0.1"), &rx), VRRP_ACCEPT);
		CHECK_EQ(rx.adv.vrid, 77);
		CHECK_EQ(rx.adv.priority, 101);
		CHECK_EQ(rx.adv.interval_cs, 100);
		CHECK_EQ(rx.adv.naddrs, 1);
		CHECK(rx.adv.addrs[0] == ip("10.77.0.100"), "address");
		CHECK(rx.src == ip("10.77.0.31") && rx.dst == ip("224.0.0.18"), "addresses");
		CHECK_EQ(rx.ttl, 255);
		/* keepalived's default: the pseudo-header; it does not validate without one. */
		CHECK_EQ(rx.csum, VRRP_CSUM_PSEUDO);
		CHECK(ref_csum(f + 34, 12, rx.src, rx.dst, 1) == 0, "valid with the pseudo-header");
		CHECK(ref_csum(f + 34, 12, 0, 0, 0) != 0, "invalid without it");
	}
}

static void encode_like_keepalived(void)
{
	struct vrrp_advert a = ka_advert();
	uint8_t f[64], pkt[64];
	int len;

	unhex(ka_frames[0], f, sizeof(f));
	len = vrrp_encode(&a, ip("10.77.0.31"), ip("224.0.0.18"), VRRP_CSUM_PSEUDO, pkt, sizeof(pkt));
	CHECK_EQ(len, 32);
	/* IP header: same bytes except the id (keepalived leaves 0, the kernel fills it) and so the
	 * header checksum, which must still validate. */
	CHECK(!memcmp(pkt, f + 14, 4), "version, tos, length");
	CHECK_EQ(pkt[4] | pkt[5], 0);
	CHECK(!memcmp(pkt + 6, f + 20, 4), "frag, ttl, proto");
	CHECK(!memcmp(pkt + 12, f + 26, 8), "src, dst");
	CHECK(ref_csum(pkt, 20, 0, 0, 0) == 0, "IP header checksum");
	/* The VRRP message is byte for byte keepalived's, checksum 0x73a1 included. */
	CHECK(!memcmp(pkt + 20, f + 34, 12), "VRRP message");
	CHECK_EQ(vrrp_encode(&a, 0, 0, VRRP_CSUM_PSEUDO, pkt, 31), -ENOSPC);
	a.naddrs = VRRP_MAX_ADDRS + 1;
	CHECK_EQ(vrrp_encode(&a, 0, 0, VRRP_CSUM_PSEUDO, pkt, sizeof(pkt)), -EINVAL);
}

/* Each variant round-trips, and the three really differ for a unicast destination. */
static void checksum_variants(void)
{
	static const struct {
		enum vrrp_csum send;
		const char *dst;
		enum vrrp_csum seen;
	} rows[] = {
		{ VRRP_CSUM_PSEUDO, "224.0.0.18", VRRP_CSUM_PSEUDO },
		{ VRRP_CSUM_PLAIN, "224.0.0.18", VRRP_CSUM_PLAIN },
		{ VRRP_CSUM_PSEUDO_MCAST, "224.0.0.18", VRRP_CSUM_PSEUDO }, /* identical for multicast */
		{ VRRP_CSUM_PSEUDO, "10.77.0.32", VRRP_CSUM_PSEUDO },
		{ VRRP_CSUM_PLAIN, "10.77.0.32", VRRP_CSUM_PLAIN },
		{ VRRP_CSUM_PSEUDO_MCAST, "10.77.0.32", VRRP_CSUM_PSEUDO_MCAST },
	};
	struct vrrp_advert a = ka_advert();
	uint16_t sums[3];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t pkt[64];
		struct vrrp_rx rx;
		int len = vrrp_encode(&a, ip("10.77.0.31"), ip(rows[i].dst), rows[i].send, pkt, sizeof(pkt));
		int pseudo = rows[i].send != VRRP_CSUM_PLAIN;
		uint32_t pdst = rows[i].send == VRRP_CSUM_PSEUDO_MCAST ? ip("224.0.0.18") : ip(rows[i].dst);

		CHECK(len == 32, "row %zu: length %d", i, len);
		CHECK(ref_csum(pkt + 20, 12, ip("10.77.0.31"), pdst, pseudo) == 0, "row %zu: recomputed", i);
		CHECK(vrrp_decode(pkt, (size_t)len, 77, ip("10.77.0.32"), &rx) == VRRP_ACCEPT, "row %zu: accepted", i);
		CHECK(rx.csum == rows[i].seen, "row %zu: seen as %s", i, vrrp_csum_name(rx.csum));
		if (i >= 3)
			sums[i - 3] = (uint16_t)(pkt[26] << 8 | pkt[27]);
	}
	CHECK(sums[0] != sums[1] && sums[1] != sums[2] && sums[0] != sums[2], "variants differ in unicast");
}

/* A valid packet, a change, the reason it is dropped. */
static void drop_reasons(void)
{
	enum mut { NONE, TTL, VERSION2, VRID, CSUM, SHORT_IP, SHORT_VRRP, COUNT, OWN, TYPE, PROTO, FRAG,
		   INTERVAL0, NOT_IPV4, PADDED, OPTIONS };
	static const struct {
		const char *name;
		enum mut m;
		enum vrrp_drop want;
	} rows[] = {
		{ "valid", NONE, VRRP_ACCEPT },
		{ "ttl 254", TTL, VRRP_DROP_TTL },
		{ "version 2", VERSION2, VRRP_DROP_VERSION },
		{ "vrid 78", VRID, VRRP_DROP_VRID },
		{ "checksum bit", CSUM, VRRP_DROP_CHECKSUM },
		{ "short IP", SHORT_IP, VRRP_DROP_TRUNCATED },
		{ "short VRRP", SHORT_VRRP, VRRP_DROP_TRUNCATED },
		{ "count 2, one address", COUNT, VRRP_DROP_TRUNCATED },
		{ "own source", OWN, VRRP_DROP_OWN },
		{ "type 2", TYPE, VRRP_DROP_TYPE },
		{ "udp", PROTO, VRRP_DROP_OTHER },
		{ "fragment", FRAG, VRRP_DROP_OTHER },
		{ "interval 0", INTERVAL0, VRRP_DROP_OTHER },
		{ "ipv6 nibble", NOT_IPV4, VRRP_DROP_OTHER },
		{ "ethernet padding", PADDED, VRRP_ACCEPT },
		{ "ip options", OPTIONS, VRRP_ACCEPT },
	};
	struct vrrp_advert a = ka_advert();
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t pkt[80] = { 0 };
		size_t len = (size_t)vrrp_encode(&a, ip("10.77.0.31"), ip("224.0.0.18"), VRRP_CSUM_PSEUDO, pkt, sizeof(pkt));
		uint32_t self = ip("10.77.0.32");
		struct vrrp_rx rx;
		enum vrrp_drop got;

		switch (rows[i].m) {
		case NONE: break;
		case TTL: pkt[8] = 254; break;
		case VERSION2: pkt[20] = 0x21; fix_csum(pkt); break;
		case VRID: pkt[21] = 78; fix_csum(pkt); break;
		case CSUM: pkt[27] ^= 1; break;
		case SHORT_IP: len = 19; break;
		case SHORT_VRRP: pkt[3] = 27; len = 27; break;
		case COUNT: pkt[23] = 2; fix_csum(pkt); break;
		case OWN: self = ip("10.77.0.31"); break;
		case TYPE: pkt[20] = 0x32; fix_csum(pkt); break;
		case PROTO: pkt[9] = 17; break;
		case FRAG: pkt[6] = 0x20; break;
		case INTERVAL0: pkt[24] = pkt[25] = 0; fix_csum(pkt); break;
		case NOT_IPV4: pkt[0] = 0x65; break;
		case PADDED: len = 46; break; /* minimum Ethernet payload: zeros after the IP length */
		case OPTIONS: /* 4 bytes of IP options (NOPs) before the VRRP message */
			memmove(pkt + 24, pkt + 20, 12);
			memset(pkt + 20, 1, 4);
			pkt[0] = 0x46;
			pkt[3] = 36;
			len = 36;
			break;
		}
		got = vrrp_decode(pkt, len, 77, self, &rx);
		CHECK(got == rows[i].want, "%s: got %s, want %s", rows[i].name, vrrp_drop_name(got),
		      vrrp_drop_name(rows[i].want));
	}
	CHECK_STR(vrrp_drop_name(VRRP_DROP_OWN), "own");
	CHECK_EQ(VRRP_DROP_MAX, 8);
}

static void garp_frame(void)
{
	static const uint8_t mac[6] = { 0x7e, 0xa2, 0x8d, 0xe6, 0xbc, 0x1d };
	uint8_t want[VRRP_GARP_LEN], got[VRRP_GARP_LEN];

	unhex("ffffffffffff7ea28de6bc1d0806"           /* broadcast, from our MAC, ARP */
	      "000108000604" "0001"                    /* Ethernet/IPv4, request */
	      "7ea28de6bc1d0a4d0064"                   /* sha, spa = VIP */
	      "ffffffffffff0a4d0064", want, sizeof(want)); /* tha broadcast, tpa = VIP */
	vrrp_garp_build(got, mac, ip("10.77.0.100"));
	CHECK(!memcmp(got, want, sizeof(want)), "GARP bytes");
}

static void timers(void)
{
	static const struct {
		uint8_t prio;
		uint16_t cs;
		uint64_t skew, down;
	} rows[] = {
		{ 100, 100, 609375, 3609375 },  /* RFC 5798 worked example: 3.609 s */
		{ 101, 100, 605468, 3605468 },
		{ 100, 10, 60937, 360937 },
		{ 101, 10, 60546, 360546 },
		{ 150, 100, 414062, 3414062 },  /* 3.414 s */
		{ 254, 100, 7812, 3007812 },    /* 3.008 s */
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		CHECK(vrrp_skew_us(rows[i].prio, rows[i].cs) == rows[i].skew, "skew %u@%ucs = %llu", rows[i].prio,
		      rows[i].cs, (unsigned long long)vrrp_skew_us(rows[i].prio, rows[i].cs));
		CHECK(vrrp_master_down_us(rows[i].prio, rows[i].cs) == rows[i].down, "down %u@%ucs = %llu",
		      rows[i].prio, rows[i].cs, (unsigned long long)vrrp_master_down_us(rows[i].prio, rows[i].cs));
	}
}

/* --- State machine with a fake clock ---------------------------------------------------------- */

#define SELF "10.100.1.10"
#define LOWER_ADDR "10.100.1.9"
#define HIGHER_ADDR "10.100.1.11"
#define ON_MASTER (VRRP_A_SEND | VRRP_A_VIP_ADD | VRRP_A_GARP | VRRP_A_STEER_ON)
#define ON_BACKUP (VRRP_A_STEER_OFF | VRRP_A_VIP_DEL)
#define ON_LEAVE (VRRP_A_STEER_OFF | VRRP_A_SEND_PRIO0 | VRRP_A_VIP_DEL)

static struct vrrp_fsm fsm_new(uint8_t prio, uint16_t cs, int preempt, uint32_t delay_ms)
{
	struct vrrp_params p = { .priority = prio, .advert_cs = cs, .preempt = preempt,
				 .preempt_delay_ms = delay_ms, .self = ip(SELF) };
	struct vrrp_fsm f;

	vrrp_fsm_init(&f, &p);
	return f;
}

static unsigned int ev_start(struct vrrp_fsm *f, uint64_t t, struct vrrp_out *o)
{
	struct vrrp_event ev = { .type = VRRP_EV_START };

	return vrrp_fsm_step(f, &ev, t, o);
}

static unsigned int ev_timer(struct vrrp_fsm *f, uint64_t t, struct vrrp_out *o)
{
	struct vrrp_event ev = { .type = VRRP_EV_TIMER };

	return vrrp_fsm_step(f, &ev, t, o);
}

static unsigned int ev_advert(struct vrrp_fsm *f, uint64_t t, const char *src, uint8_t prio, uint16_t cs,
			      struct vrrp_out *o)
{
	struct vrrp_event ev = { .type = VRRP_EV_ADVERT, .src = ip(src), .priority = prio, .interval_cs = cs };

	return vrrp_fsm_step(f, &ev, t, o);
}

static unsigned int ev_fault(struct vrrp_fsm *f, uint64_t t, int on, const char *why, struct vrrp_out *o)
{
	struct vrrp_event ev = { .type = VRRP_EV_FAULT, .fault = on, .why = why };

	return vrrp_fsm_step(f, &ev, t, o);
}

/* Start at t=0 and let the master down timer make it master. */
static struct vrrp_fsm fsm_master(uint8_t prio, uint16_t cs)
{
	struct vrrp_fsm f = fsm_new(prio, cs, 1, 0);
	struct vrrp_out o;

	ev_start(&f, 0, &o);
	ev_timer(&f, vrrp_fsm_next(&f), &o);
	return f;
}

/* The same (or nopreempt), with its adverts sent on time until t (a master that never stalled). */
static struct vrrp_fsm fsm_master_until(uint8_t prio, uint16_t cs, uint64_t t, int preempt)
{
	struct vrrp_fsm f = fsm_new(prio, cs, preempt, 0);
	struct vrrp_out o;

	ev_start(&f, 0, &o);
	ev_timer(&f, vrrp_fsm_next(&f), &o);
	while (vrrp_fsm_next(&f) <= t)
		ev_timer(&f, vrrp_fsm_next(&f), &o);
	return f;
}

static void fsm_start_backup(void)
{
	struct vrrp_fsm f = fsm_new(100, 100, 1, 0);
	struct vrrp_out o;

	CHECK_EQ(ev_start(&f, 1000, &o), ON_BACKUP);
	CHECK(o.from == VRRP_INIT && o.to == VRRP_BACKUP, "INIT -> BACKUP");
	CHECK_STR(o.why, "startup");
	CHECK_EQ(o.cause, VRRP_CAUSE_STARTUP);
	CHECK_EQ(vrrp_fsm_next(&f), 1000 + 3609375);
	CHECK_EQ(ev_start(&f, 2000, &o), 0); /* a second start changes nothing */
}

/* Backup -> master when Master_Down_Timer fires, not a microsecond earlier; then the adver timer. */
static void fsm_backup_to_master_on_timer(void)
{
	static const struct { uint8_t prio; uint16_t cs; uint64_t down; } rows[] = {
		{ 100, 100, 3609375 }, { 101, 100, 3605468 }, { 100, 10, 360937 }, { 101, 10, 360546 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vrrp_fsm f = fsm_new(rows[i].prio, rows[i].cs, 1, 0);
		struct vrrp_out o;

		ev_start(&f, 0, &o);
		CHECK(ev_timer(&f, rows[i].down - 1, &o) == 0 && f.state == VRRP_BACKUP, "row %zu: early", i);
		CHECK(ev_timer(&f, rows[i].down, &o) == ON_MASTER, "row %zu: actions %#x", i, o.actions);
		CHECK(o.to == VRRP_MASTER && f.master == ip(SELF), "row %zu: master", i);
		CHECK(!strcmp(o.why, "master down timer"), "row %zu: why %s", i, o.why);
		CHECK(o.cause == VRRP_CAUSE_MASTER_DOWN, "row %zu: cause %d", i, o.cause);
		CHECK(vrrp_fsm_next(&f) == rows[i].down + rows[i].cs * 10000ull, "row %zu: adver timer", i);
		/* The adver timer keeps its cadence even when served late. */
		CHECK(ev_timer(&f, vrrp_fsm_next(&f) + 300, &o) == VRRP_A_SEND, "row %zu: periodic advert", i);
		CHECK(vrrp_fsm_next(&f) == rows[i].down + 2 * rows[i].cs * 10000ull, "row %zu: cadence", i);
	}
}

/* A backup resets its timer on each advert of a higher master and learns its interval. */
static void fsm_backup_follows_master(void)
{
	struct vrrp_fsm f = fsm_new(100, 100, 1, 0);
	struct vrrp_out o;

	ev_start(&f, 0, &o);
	CHECK_EQ(ev_advert(&f, 500000, HIGHER_ADDR, 101, 10, &o), 0);
	CHECK_EQ(f.state, VRRP_BACKUP);
	CHECK_EQ(f.master_adver_cs, 10);
	CHECK(f.master == ip(HIGHER_ADDR), "master recorded");
	CHECK_EQ(vrrp_fsm_next(&f), 500000 + 360937); /* 3 * 10 cs + skew at 10 cs */
	/* Equal priority, any address: a backup stays backup (RFC 5798 §6.4.2). */
	CHECK_EQ(ev_advert(&f, 600000, LOWER_ADDR, 100, 10, &o), 0);
	CHECK_EQ(vrrp_fsm_next(&f), 600000 + 360937);
}

static void fsm_prio0_skew(void)
{
	struct vrrp_fsm f = fsm_new(100, 100, 1, 0);
	struct vrrp_out o;

	ev_start(&f, 0, &o);
	ev_advert(&f, 1000000, HIGHER_ADDR, 101, 10, &o);
	CHECK_EQ(ev_advert(&f, 1050000, HIGHER_ADDR, 0, 10, &o), 0);
	CHECK_EQ(f.state, VRRP_BACKUP);
	CHECK_EQ(vrrp_fsm_next(&f), 1050000 + 60937); /* Skew_Time with the learned 10 cs */
	CHECK_EQ(ev_timer(&f, 1050000 + 60937, &o), ON_MASTER);
	CHECK_STR(o.why, "priority 0 from " HIGHER_ADDR);
	CHECK_EQ(o.cause, VRRP_CAUSE_PRIO0);
}

/* A lower master: preempt takes over at Master_Down_Interval, nopreempt never while it lives,
 * preempt-delay keeps it for the delay counted from its first advert. */
static void fsm_preempt_modes(void)
{
	static const struct {
		const char *name;
		int preempt;
		uint32_t delay_ms;
		uint64_t master_at; /* 0 = never while the lower master advertises */
	} rows[] = {
		{ "preempt", 1, 0, 360546 },
		{ "nopreempt", 0, 0, 0 },
		/* adverts every 100 ms from t=50 ms: the first discarded one is at 5050 ms, so the timer
		 * last reset at 4950 ms fires at 4950 + 360.546 ms */
		{ "preempt-delay 5s", 1, 5000, 4950000 + 360546 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vrrp_fsm f = fsm_new(101, 10, rows[i].preempt, rows[i].delay_ms);
		struct vrrp_out o;
		uint64_t t, adv = 50000, became = 0;

		ev_start(&f, 0, &o);
		for (t = 0; t <= 8000000 && !became; t += 1000) {
			if (t == adv) {
				ev_advert(&f, t, LOWER_ADDR, 100, 10, &o);
				adv += 100000;
			}
			if (vrrp_fsm_next(&f) && vrrp_fsm_next(&f) <= t + 999) {
				uint64_t at = vrrp_fsm_next(&f);

				if (ev_timer(&f, at, &o) & VRRP_A_STEER_ON)
					became = at;
			}
		}
		CHECK(became == rows[i].master_at, "%s: master at %llu us, want %llu", rows[i].name,
		      (unsigned long long)became, (unsigned long long)rows[i].master_at);
		if (became) {
			CHECK(!strcmp(o.why, "preempted " LOWER_ADDR), "%s: why %s", rows[i].name, o.why);
			CHECK(o.cause == VRRP_CAUSE_PREEMPTED, "%s: cause %d", rows[i].name, o.cause);
		}
	}
}

/* A held preemption (flow sync not complete) accepts a lower master; released, it preempts at the
 * next Master_Down_Interval; a dead master is taken over at once even while held. */
static void fsm_preempt_held(void)
{
	struct vrrp_fsm f = fsm_new(101, 10, 1, 0);
	struct vrrp_out o;
	uint64_t t;

	ev_start(&f, 0, &o);
	f.hold_preempt = 1;
	for (t = 100000; t <= 2000000; t += 100000) {
		ev_advert(&f, t, LOWER_ADDR, 100, 10, &o);
		CHECK(vrrp_fsm_next(&f) > t + 300000, "held: down timer reset at %llu", (unsigned long long)t);
	}
	f.hold_preempt = 0;
	ev_advert(&f, 2100000, LOWER_ADDR, 100, 10, &o); /* discarded: the timer keeps running */
	CHECK_EQ(vrrp_fsm_next(&f), 2000000 + 360546);
	CHECK_EQ(ev_timer(&f, 2000000 + 360546, &o), ON_MASTER);
	CHECK(o.cause == VRRP_CAUSE_PREEMPTED, "cause %d", o.cause);

	f = fsm_new(101, 10, 1, 0);
	ev_start(&f, 0, &o);
	f.hold_preempt = 1;
	ev_advert(&f, 100000, LOWER_ADDR, 100, 10, &o);
	CHECK_EQ(ev_timer(&f, 100000 + 360546, &o), ON_MASTER);
	CHECK_STR(o.why, "master down timer");
}

/* nopreempt: once the lower master stops, the usual master down timer applies. */
static void fsm_nopreempt_takes_over_dead_master(void)
{
	struct vrrp_fsm f = fsm_new(101, 10, 0, 0);
	struct vrrp_out o;

	ev_start(&f, 0, &o);
	ev_advert(&f, 100000, LOWER_ADDR, 100, 10, &o);
	CHECK_EQ(ev_timer(&f, 100000 + 360546, &o), ON_MASTER);
	CHECK_STR(o.why, "master down timer");
}

static void fsm_master_hears(void)
{
	static const struct {
		const char *name;
		const char *src;
		uint8_t prio;
		unsigned int actions;
		enum vrrp_state to;
		const char *why;
		enum vrrp_cause cause;
	} rows[] = {
		{ "higher priority", LOWER_ADDR, 101, ON_BACKUP, VRRP_BACKUP, "higher priority advert from " LOWER_ADDR,
		  VRRP_CAUSE_HIGHER_PRIO },
		{ "equal, higher address", HIGHER_ADDR, 100, ON_BACKUP, VRRP_BACKUP,
		  "equal priority advert from higher address " HIGHER_ADDR, VRRP_CAUSE_HIGHER_ADDR },
		{ "equal, lower address", LOWER_ADDR, 100, VRRP_A_SEND | VRRP_A_GARP, VRRP_MASTER, "", VRRP_CAUSE_NONE },
		{ "lower priority", HIGHER_ADDR, 99, VRRP_A_SEND | VRRP_A_GARP, VRRP_MASTER, "", VRRP_CAUSE_NONE },
		{ "priority 0", HIGHER_ADDR, 0, VRRP_A_SEND, VRRP_MASTER, "", VRRP_CAUSE_NONE },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vrrp_fsm f = fsm_master(100, 100);
		struct vrrp_out o;
		uint64_t t = 5000000;

		ev_advert(&f, t, rows[i].src, rows[i].prio, 10, &o);
		CHECK(o.actions == rows[i].actions, "%s: actions %#x", rows[i].name, o.actions);
		CHECK(f.state == rows[i].to, "%s: %s", rows[i].name, vrrp_state_name(f.state));
		CHECK(!strcmp(o.why, rows[i].why), "%s: why '%s'", rows[i].name, o.why);
		CHECK(o.cause == rows[i].cause, "%s: cause %d", rows[i].name, o.cause);
		if (rows[i].to == VRRP_BACKUP) {
			CHECK(f.master == ip(rows[i].src), "%s: master recorded", rows[i].name);
			CHECK(vrrp_fsm_next(&f) == t + vrrp_master_down_us(100, 10), "%s: down timer with its interval",
			      rows[i].name);
		} else {
			/* An immediate advert restarts the adver timer. */
			CHECK(vrrp_fsm_next(&f) == t + 1000000, "%s: adver timer", rows[i].name);
		}
	}
}

/* Adverts can be forged: a flood of lower-priority adverts at a master gets one reply per advert
 * interval and one GARP burst a second, not one of each per advert. */
static void fsm_lower_flood_rate_limited(void)
{
	uint64_t t, t0 = 5000000;
	struct vrrp_fsm f = fsm_master_until(100, 10, t0, 1); /* 100 ms adverts */
	struct vrrp_out o;
	int sends = 0, garps = 0, i;

	/* 3 s of lower adverts, one every ms: 3000 adverts */
	for (i = 0, t = t0; i < 3000; i++, t += 1000) {
		ev_advert(&f, t, HIGHER_ADDR, 99, 10, &o);
		sends += !!(o.actions & VRRP_A_SEND);
		garps += !!(o.actions & VRRP_A_GARP);
		CHECK(f.state == VRRP_MASTER, "advert %d: %s", i, vrrp_state_name(f.state));
	}
	CHECK_EQ(sends, 30); /* one per 100 ms */
	CHECK_EQ(garps, 3);  /* one per second */
	/* priority 0 (a peer stepping down) is answered the same way */
	f = fsm_master_until(100, 10, t0, 1);
	for (i = 0, sends = 0, t = t0; i < 1000; i++, t += 1000) {
		ev_advert(&f, t, HIGHER_ADDR, 0, 10, &o);
		sends += !!(o.actions & VRRP_A_SEND);
	}
	CHECK_EQ(sends, 10);
	/* the first one is still answered at once, with its GARP */
	f = fsm_master_until(100, 10, t0, 1);
	CHECK_EQ(ev_advert(&f, t0, HIGHER_ADDR, 99, 10, &o), VRRP_A_SEND | VRRP_A_GARP);
	/* and a higher-priority advert is never rate limited */
	ev_advert(&f, t0 + 10, HIGHER_ADDR, 101, 10, &o);
	CHECK_EQ(f.state, VRRP_BACKUP);
}

/* A master silent for longer than a backup waits (SIGSTOP, a frozen host) steps down at its first
 * event after it, a timer or an advert, before it sends anything: a backup has taken over meanwhile,
 * and adverts of the higher-priority stalled node would make it give the VIP back. A master late by
 * less keeps the VIP and its cadence; an owner never steps down; the adverts the stalled node hears
 * next are taken as any backup takes them (nopreempt: a lower master stays master). */
static void fsm_stalled_master_steps_down(void)
{
	static const struct { const char *name; int advert; uint64_t late_us; int down; } rows[] = {
		{ "timer, just short", 0, 0, 0 },
		{ "timer, at master down", 0, 1, 1 },
		{ "timer, after 3 s", 0, 3000000, 1 },
		{ "lower advert, just short", 1, 0, 0 },
		{ "lower advert, at master down", 1, 1, 1 },
		{ "lower advert, after 3 s", 1, 3000000, 1 },
	};
	uint64_t t0 = 5000000, down = vrrp_master_down_us(101, 30);
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct vrrp_fsm f = fsm_master_until(101, 30, t0, 0); /* 300 ms adverts, nopreempt: the lab */
		uint64_t sent = f.sent_at, t = sent + down - 1 + rows[i].late_us;
		struct vrrp_out o;

		CHECK(sent > t0 - 300000 && sent <= t0, "%s: last advert at %llu", rows[i].name, (unsigned long long)sent);
		if (rows[i].advert)
			ev_advert(&f, t, LOWER_ADDR, 100, 30, &o);
		else
			ev_timer(&f, t, &o);
		if (!rows[i].down) {
			CHECK(f.state == VRRP_MASTER && (o.actions & VRRP_A_SEND) && !(o.actions & VRRP_A_VIP_DEL),
			      "%s: %s, actions %#x", rows[i].name, vrrp_state_name(f.state), o.actions);
			continue;
		}
		CHECK(o.from == VRRP_MASTER && o.to == VRRP_BACKUP, "%s: %s -> %s", rows[i].name,
		      vrrp_state_name(o.from), vrrp_state_name(o.to));
		CHECK(o.actions == ON_BACKUP, "%s: actions %#x (no advert, no GARP)", rows[i].name, o.actions);
		CHECK(o.cause == VRRP_CAUSE_STALLED, "%s: cause %d", rows[i].name, o.cause);
		CHECK(strstr(o.why, "longer than a backup waits") != NULL, "%s: why '%s'", rows[i].name, o.why);
		if (rows[i].advert) {
			/* the new master is followed: its adverts keep this node backup (nopreempt) */
			CHECK(f.master == ip(LOWER_ADDR), "%s: master noted", rows[i].name);
			CHECK_EQ(ev_advert(&f, t + 300000, LOWER_ADDR, 100, 30, &o), 0);
			CHECK(f.state == VRRP_BACKUP, "%s: %s after the next advert", rows[i].name, vrrp_state_name(f.state));
		}
		/* nobody heard: the master down timer makes it master again */
		ev_timer(&f, vrrp_fsm_next(&f), &o);
		CHECK(f.state == VRRP_MASTER && o.cause == VRRP_CAUSE_MASTER_DOWN, "%s: %s again, cause %d", rows[i].name,
		      vrrp_state_name(f.state), o.cause);
	}
	/* an advert sent outside the machine (vrrp_advert_now, a restart's bridge) counts as sent */
	{
		struct vrrp_fsm f = fsm_master_until(101, 30, t0, 0);
		struct vrrp_out o;

		vrrp_fsm_sent(&f, t0 + 2000000);
		ev_timer(&f, t0 + 2000000 + down - 1, &o);
		CHECK(f.state == VRRP_MASTER, "after vrrp_fsm_sent: %s", vrrp_state_name(f.state));
	}
	/* an address owner stays master */
	{
		struct vrrp_fsm f = fsm_new(255, 30, 1, 0);
		struct vrrp_out o;

		ev_start(&f, 0, &o);
		ev_timer(&f, 60000000, &o);
		CHECK(f.state == VRRP_MASTER && (o.actions & VRRP_A_SEND), "owner: %s", vrrp_state_name(f.state));
	}
}

static void fsm_fault(void)
{
	struct vrrp_fsm f = fsm_master(100, 10);
	struct vrrp_out o;

	CHECK_EQ(ev_fault(&f, 1000000, 1, "interface eth0 down", &o), ON_LEAVE);
	CHECK(o.from == VRRP_MASTER && o.to == VRRP_FAULT, "MASTER -> FAULT");
	CHECK_STR(o.why, "interface eth0 down");
	CHECK_EQ(o.cause, VRRP_CAUSE_FAULT);
	CHECK_EQ(vrrp_fsm_next(&f), 0);
	/* In FAULT adverts and timers change nothing, and a master is only noted. */
	CHECK_EQ(ev_advert(&f, 1100000, LOWER_ADDR, 50, 10, &o), 0);
	CHECK_EQ(ev_timer(&f, 9000000, &o), 0);
	CHECK_EQ(f.state, VRRP_FAULT);
	CHECK(f.master == ip(LOWER_ADDR), "master noted");
	CHECK_EQ(ev_fault(&f, 2000000, 1, "again", &o), 0);
	CHECK_EQ(ev_fault(&f, 3000000, 0, "interface eth0 up", &o), ON_BACKUP);
	CHECK(o.to == VRRP_BACKUP && !strcmp(o.why, "interface eth0 up"), "FAULT -> BACKUP");
	CHECK_EQ(o.cause, VRRP_CAUSE_FAULT_CLEARED);
	CHECK_EQ(vrrp_fsm_next(&f), 3000000 + 360937);
	/* Backup into fault: no goodbye (it holds nothing), timer stopped. */
	CHECK_EQ(ev_fault(&f, 3100000, 1, "datapath not attached", &o), 0);
	CHECK(o.to == VRRP_FAULT && vrrp_fsm_next(&f) == 0, "BACKUP -> FAULT");
	/* A fault before startup: startup goes to FAULT with its reason. */
	f = fsm_new(100, 10, 1, 0);
	CHECK_EQ(ev_fault(&f, 0, 1, "interface eth0 down", &o), 0);
	CHECK_EQ(f.state, VRRP_INIT);
	ev_start(&f, 0, &o);
	CHECK(o.to == VRRP_FAULT && !strcmp(o.why, "interface eth0 down"), "start in FAULT: %s", o.why);
}

static void fsm_shutdown(void)
{
	struct vrrp_fsm f = fsm_master(100, 10);
	struct vrrp_event sd = { .type = VRRP_EV_SHUTDOWN };
	struct vrrp_out o;

	CHECK_EQ(vrrp_fsm_step(&f, &sd, 1000000, &o), ON_LEAVE);
	CHECK(o.to == VRRP_INIT && vrrp_fsm_next(&f) == 0, "MASTER -> INIT");
	f = fsm_new(100, 10, 1, 0);
	ev_start(&f, 0, &o);
	CHECK_EQ(vrrp_fsm_step(&f, &sd, 1000, &o), 0);
	CHECK(o.to == VRRP_INIT && vrrp_fsm_next(&f) == 0, "BACKUP -> INIT");
}

/* The order the driver applies actions in is the bit order: leaving master turns steering off
 * before the goodbye and the VIP removal; becoming master advertises before the VIP and GARP
 * and turns steering on last. */
static void fsm_action_order(void)
{
	CHECK(VRRP_A_STEER_OFF < VRRP_A_SEND_PRIO0 && VRRP_A_SEND_PRIO0 < VRRP_A_VIP_DEL, "leaving");
	CHECK(VRRP_A_SEND < VRRP_A_VIP_ADD && VRRP_A_VIP_ADD < VRRP_A_GARP && VRRP_A_GARP < VRRP_A_STEER_ON,
	      "becoming");
	CHECK_STR(vrrp_state_name(VRRP_INIT), "INIT");
	CHECK_STR(vrrp_state_name(VRRP_BACKUP), "BACKUP");
	CHECK_STR(vrrp_state_name(VRRP_MASTER), "MASTER");
	CHECK_STR(vrrp_state_name(VRRP_FAULT), "FAULT");
}

/* Random events: steering and the VIP follow MASTER exactly, whatever happens. */
static void fsm_invariants_random(void)
{
	static const char *const srcs[] = { LOWER_ADDR, HIGHER_ADDR };
	struct vrrp_fsm f = fsm_new(100, 10, 1, 0);
	struct vrrp_out o;
	uint64_t t = 0, seed = 42;
	int i, steer = 0, vip = 0, bad = 0;

	for (i = 0; i < 200000 && !bad; i++) {
		uint32_t r;
		unsigned int act;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		r = (uint32_t)(seed >> 33);
		t += r % 50000;
		switch (r % 7) {
		case 0: act = ev_start(&f, t, &o); break;
		case 1: case 2: act = ev_timer(&f, t, &o); break;
		case 3: case 4: act = ev_advert(&f, t, srcs[r / 7 % 2], (uint8_t)(r / 14 % 4 * 50), 10, &o); break;
		case 5: act = ev_fault(&f, t, r / 7 % 2, "x", &o); break;
		default: {
			struct vrrp_event sd = { .type = VRRP_EV_SHUTDOWN };

			act = r / 7 % 8 ? 0 : vrrp_fsm_step(&f, &sd, t, &o);
		}
		}
		if (act & VRRP_A_STEER_OFF)
			steer = 0;
		if (act & VRRP_A_VIP_DEL)
			vip = 0;
		if (act & VRRP_A_VIP_ADD)
			vip = 1;
		if (act & VRRP_A_STEER_ON)
			steer = 1;
		if (f.state == VRRP_MASTER ? !(steer && vip) : (steer || vip))
			bad = 1;
		if (f.state != VRRP_MASTER && (act & VRRP_A_SEND))
			bad = 2;
	}
	CHECK(!bad, "step %d: state %s steer %d vip %d (%d)", i, vrrp_state_name(f.state), steer, vip, bad);
}

/* Two machines on a lossless wire with a fake clock: one master at a time, failover times. */
struct sim {
	struct vrrp_fsm n[2];
	int alive[2];
	uint64_t t;
	int masters_max_after_converge;
};

static void sim_deliver(struct sim *s, int from, unsigned int act)
{
	struct vrrp_out o;
	int to = !from;

	if (!s->alive[to] || !(act & (VRRP_A_SEND | VRRP_A_SEND_PRIO0)))
		return;
	ev_advert(&s->n[to], s->t, to ? "10.100.1.10" : "10.100.1.11",
		  (act & VRRP_A_SEND) ? s->n[from].p.priority : 0, s->n[from].p.advert_cs, &o);
	sim_deliver(s, to, o.actions);
}

/* Run until `until` (us); return when node `who` first becomes master, or 0. */
static uint64_t sim_run(struct sim *s, uint64_t until, int who)
{
	uint64_t became = 0;

	for (; s->t <= until; s->t += 100) {
		int i;

		for (i = 0; i < 2; i++) {
			struct vrrp_out o;
			uint64_t next = vrrp_fsm_next(&s->n[i]);

			if (!s->alive[i] || !next || next > s->t)
				continue;
			ev_timer(&s->n[i], s->t, &o);
			if (o.to == VRRP_MASTER && i == who && !became)
				became = s->t;
			sim_deliver(s, i, o.actions);
		}
		if (s->alive[0] && s->alive[1] && s->n[0].state == VRRP_MASTER && s->n[1].state == VRRP_MASTER)
			s->masters_max_after_converge = 2;
	}
	return became;
}

static void sim_two_nodes(void)
{
	struct sim s = { .alive = { 1, 1 } };
	struct vrrp_params a = { .priority = 101, .advert_cs = 10, .preempt = 1, .self = ip("10.100.1.10") };
	struct vrrp_params b = { .priority = 100, .advert_cs = 10, .preempt = 1, .self = ip("10.100.1.11") };
	struct vrrp_event sd = { .type = VRRP_EV_SHUTDOWN };
	struct vrrp_out o;
	uint64_t t0, at;

	vrrp_fsm_init(&s.n[0], &a);
	vrrp_fsm_init(&s.n[1], &b);
	ev_start(&s.n[0], 0, &o);
	ev_start(&s.n[1], 0, &o);
	/* The higher priority's shorter down timer wins; the other stays backup. */
	at = sim_run(&s, 2000000, 0);
	CHECK_EQ(at, 360600);
	CHECK(s.n[1].state == VRRP_BACKUP && !s.masters_max_after_converge, "one master");
	/* Crash of the master: the backup takes over after Master_Down_Interval from the last advert. */
	s.alive[0] = 0;
	t0 = s.t;
	at = sim_run(&s, t0 + 2000000, 1);
	CHECK(at > t0 && at - t0 <= 360937 + 100000, "crash failover %llu us", (unsigned long long)(at - t0));
	/* A's return preempts B (A restarts as backup, discards B's lower adverts). */
	s.alive[0] = 1;
	vrrp_fsm_init(&s.n[0], &a);
	ev_start(&s.n[0], s.t, &o);
	t0 = s.t;
	at = sim_run(&s, t0 + 2000000, 0);
	CHECK(at && at - t0 <= 360546 + 100, "preempt at %llu us", (unsigned long long)(at - t0));
	CHECK_EQ(s.n[1].state, VRRP_BACKUP);
	/* Graceful stop of A: B takes over after its skew time (60.9 ms at 10 cs). */
	t0 = s.t;
	vrrp_fsm_step(&s.n[0], &sd, s.t, &o);
	sim_deliver(&s, 0, o.actions);
	s.alive[0] = 0;
	at = sim_run(&s, t0 + 2000000, 1);
	CHECK(at && at - t0 <= 60937 + 100, "graceful failover %llu us", (unsigned long long)(at - t0));
	CHECK(!s.masters_max_after_converge, "never two masters on a working wire");
}

int main(void)
{
	RUN(decode_keepalived_adverts);
	RUN(encode_like_keepalived);
	RUN(checksum_variants);
	RUN(drop_reasons);
	RUN(garp_frame);
	RUN(timers);
	RUN(fsm_start_backup);
	RUN(fsm_backup_to_master_on_timer);
	RUN(fsm_backup_follows_master);
	RUN(fsm_prio0_skew);
	RUN(fsm_preempt_modes);
	RUN(fsm_nopreempt_takes_over_dead_master);
	RUN(fsm_preempt_held);
	RUN(fsm_master_hears);
	RUN(fsm_lower_flood_rate_limited);
	RUN(fsm_stalled_master_steps_down);
	RUN(fsm_fault);
	RUN(fsm_shutdown);
	RUN(fsm_action_order);
	RUN(fsm_invariants_random);
	RUN(sim_two_nodes);
	return h_exit();
}

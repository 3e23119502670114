/* The VRRP instance on the wire: sockets, timers and link events feed the pure state machine of
 * vrrp.c, and its actions become adverts, the VIP (netlink), gratuitous ARPs and the steering hook. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include "backend.h"
#include "log.h"
#include "loop.h"
#include "netlink.h"
#include "vrrp.h"
#include "vrrp_bridge.h"
#include "vrrp_net.h"

_Static_assert(VRRP_DROP_MAX == sizeof(((struct model *)0)->vrrp.rx_dropped) / sizeof(uint64_t),
	       "model.vrrp.rx_dropped holds one counter per enum vrrp_drop");

/* --- Sockets ---------------------------------------------------------------------------------- */

int vrrp_sock_open(const char *ifname, int ifindex, int join, int *fdp)
{
	struct ip_mreqn mr = { .imr_ifindex = ifindex };
	int fd, one = 1, zero = 0, err;

	fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VRRP_PROTO);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, strlen(ifname)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &mr, sizeof(mr)) < 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof(zero)) < 0)
		goto fail;
	if (join) {
		mr.imr_multiaddr.s_addr = htonl(VRRP_MCAST);
		if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0)
			goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	err = -errno;
	close(fd);
	return err;
}

int vrrp_sock_send(int fd, const uint8_t *pkt, size_t len, uint32_t dst)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = dst };
	ssize_t n = sendto(fd, pkt, len, 0, (struct sockaddr *)&sin, sizeof(sin));

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

ssize_t vrrp_sock_recv(int fd, uint8_t *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, MSG_DONTWAIT);

	return n < 0 ? -errno : n;
}

int vrrp_garp_open(int *fdp)
{
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	*fdp = fd;
	return 0;
}

int vrrp_garp_send(int fd, int ifindex, const uint8_t *frame, size_t len, unsigned int count)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_ARP),
		.sll_ifindex = ifindex,
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
	};
	unsigned int i;

	for (i = 0; i < count; i++)
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) < 0)
			return -errno;
	return 0;
}

/* --- The instance ----------------------------------------------------------------------------- */

struct vrrp {
	struct loop *loop;
	struct cfg_vrrp cfg;
	char ifname[IF_NAMESIZE];
	struct vrrp_hooks hooks;
	void *arg;
	struct vrrp_fsm fsm;
	struct nl_iface ifc;
	int fd;
	int garp_fd;
	struct timer tick;          /* the machine's next deadline */
	struct timer garp;          /* the second GARP burst */
	struct nl_watch *watch;
	int link_down, no_addr, ext_fault;
	int busy;                   /* inside a step: a hook calling vrrp_set_fault is deferred */
	int fault_pending;
	char ext_why[64];
	int send_failing;
	unsigned int csum_seen;     /* checksum variants seen from peers, one bit each */
	int vips_warned;
	uint64_t transitions;
	uint64_t last_change_wall;
	uint64_t rx_dropped[VRRP_DROP_MAX];
	pid_t bridge;               /* a restart in place's advert bridge (vrrp_bridge.c), 0 = none */
	int bridge_inherited;       /* started by the process this image replaced */
};

static uint64_t now_us(void)
{
	return now_ns() / 1000;
}

static const char *ip_str(uint32_t addr, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &addr, buf, INET_ADDRSTRLEN);
}

static void send_advert(struct vrrp *v, uint8_t prio)
{
	struct vrrp_advert a = {
		.vrid = v->cfg.vrid, .priority = prio, .interval_cs = v->cfg.advert_cs,
		.naddrs = 1, .addrs = { v->cfg.vip },
	};
	uint32_t mcast = htonl(VRRP_MCAST);
	const uint32_t *dsts = v->cfg.npeers ? v->cfg.peers : &mcast;
	int ndst = v->cfg.npeers ? v->cfg.npeers : 1, i, err = 0;
	uint8_t pkt[128];

	/* One copy per unicast peer, each with its own checksum (the pseudo-header has its address). */
	for (i = 0; i < ndst; i++) {
		int len = vrrp_encode(&a, v->fsm.p.self, dsts[i], v->cfg.csum, pkt, sizeof(pkt));

		err = len < 0 ? len : vrrp_sock_send(v->fd, pkt, (size_t)len, dsts[i]);
		if (err)
			break;
	}
	if (err && !v->send_failing)
		log_warnx("vrrp: cannot send advert on %s: %s", v->ifname, strerror(-err));
	else if (!err && v->send_failing)
		log_info("vrrp: sending adverts on %s again", v->ifname);
	v->send_failing = err != 0;
}

static void garp_burst(struct vrrp *v)
{
	uint8_t frame[VRRP_GARP_LEN];
	int err;

	vrrp_garp_build(frame, v->ifc.mac, v->cfg.vip);
	err = vrrp_garp_send(v->garp_fd, v->ifc.ifindex, frame, sizeof(frame), v->cfg.garp_repeat);
	if (err)
		log_warnx("vrrp: cannot send gratuitous ARP on %s: %s", v->ifname, strerror(-err));
}

static void garp_second(void *arg)
{
	struct vrrp *v = arg;

	if (v->fsm.state == VRRP_MASTER)
		garp_burst(v);
}

static void vip_change(struct vrrp *v, int add)
{
	char a[INET_ADDRSTRLEN];
	int err = add ? nl_ifaddr_add(v->ifc.ifindex, v->cfg.vip, v->cfg.vip_prefix)
		      : nl_ifaddr_del(v->ifc.ifindex, v->cfg.vip, v->cfg.vip_prefix);

	if (err)
		log_warnx("vrrp: cannot %s %s/%u on %s: %s", add ? "add" : "remove", ip_str(v->cfg.vip, a),
			  v->cfg.vip_prefix, v->ifname, strerror(-err));
}

/* The machine's actions, in the order that never leaves the VIP held but not steered: a node may
 * steer without the address (nobody sends to it then), never the other way round. */
static void apply(struct vrrp *v, unsigned int act)
{
	if (act & VRRP_A_SEND_PRIO0)
		send_advert(v, 0);
	if (act & VRRP_A_SEND)
		send_advert(v, v->fsm.p.priority);
	if ((act & VRRP_A_STEER_ON) && v->hooks.steer)
		v->hooks.steer(v->arg, 1);
	if (act & VRRP_A_VIP_DEL) {
		timer_stop(&v->garp);
		vip_change(v, 0);
	}
	if (act & VRRP_A_VIP_ADD)
		vip_change(v, 1);
	if (act & VRRP_A_GARP) {
		garp_burst(v);
		if (v->cfg.garp_delay_ms)
			timer_arm(&v->garp, v->cfg.garp_delay_ms);
	}
	if ((act & VRRP_A_STEER_OFF) && v->hooks.steer)
		v->hooks.steer(v->arg, 0);
}

static void rearm(struct vrrp *v)
{
	uint64_t next = vrrp_fsm_next(&v->fsm), now = now_us();

	if (!next)
		timer_stop(&v->tick);
	else
		timer_arm(&v->tick, next > now ? (next - now + 999) / 1000 : 0);
}

static void fault_update(struct vrrp *v, const char *why);

static void step(struct vrrp *v, const struct vrrp_event *ev)
{
	struct vrrp_out out;

	v->busy = 1;
	/* A restart's bridge advertises for this node meanwhile: it is not silent. */
	if (v->bridge)
		vrrp_fsm_sent(&v->fsm, now_us());
	vrrp_fsm_step(&v->fsm, ev, now_us(), &out);
	/* No advert of the bridge may follow a priority 0 or a step down. */
	if (out.from == VRRP_MASTER && out.to != VRRP_MASTER)
		vrrp_bridge_cancel(v);
	apply(v, out.actions);
	if (v->bridge && ev->type == VRRP_EV_TIMER && (out.actions & VRRP_A_SEND) && v->bridge_inherited) {
		/* This image advertises from its loop now: the restart's bridge is no longer needed. */
		vrrp_bridge_cancel(v);
		log_info("vrrp: restart in place: adverts from the event loop again, bridge ended");
	}
	if (out.to != out.from) {
		v->transitions++;
		v->last_change_wall = wall_ms();
		if (v->hooks.state)
			v->hooks.state(v->arg, out.from, out.to, out.cause, v->fsm.master, out.why);
	}
	rearm(v);
	v->busy = 0;
	if (v->fault_pending) {
		v->fault_pending = 0;
		fault_update(v, v->ext_why);
	}
}

/* Interface down, no address, or the daemon's own fault: one FAULT for all of them. */
static void fault_update(struct vrrp *v, const char *why)
{
	struct vrrp_event ev = { .type = VRRP_EV_FAULT, .why = why };

	if (v->busy) {
		v->fault_pending = 1;
		return;
	}
	ev.fault = v->link_down || v->no_addr || v->ext_fault;
	if (ev.fault != v->fsm.fault)
		step(v, &ev);
}

static void on_tick(void *arg)
{
	struct vrrp *v = arg;
	struct vrrp_event ev = { .type = VRRP_EV_TIMER };

	step(v, &ev);
}

/* Tell the operator once about what keepalived would log: an unusual checksum, another VIP list. */
static void rx_notice(struct vrrp *v, const struct vrrp_rx *rx)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	int i, has_vip = 0;

	if (!(v->csum_seen & 1u << rx->csum)) {
		v->csum_seen |= 1u << rx->csum;
		log_info("vrrp: adverts from %s use the %s checksum", ip_str(rx->src, a), vrrp_csum_name(rx->csum));
	}
	for (i = 0; i < rx->adv.naddrs && i < VRRP_MAX_ADDRS; i++)
		has_vip |= rx->adv.addrs[i] == v->cfg.vip;
	if (!has_vip && rx->adv.priority && !v->vips_warned) {
		v->vips_warned = 1;
		log_warnx("vrrp: advert from %s for vrid %u does not carry our VIP %s", ip_str(rx->src, a),
			  v->cfg.vrid, ip_str(v->cfg.vip, b));
	}
}

static void on_readable(void *arg, uint32_t events)
{
	struct vrrp *v = arg;
	uint8_t buf[VRRP_PKT_MAX];
	struct vrrp_rx rx;
	int i;

	for (i = 0; i < 64; i++) {
		ssize_t n = vrrp_sock_recv(v->fd, buf, sizeof(buf));
		enum vrrp_drop d;
		struct vrrp_event ev = { .type = VRRP_EV_ADVERT };

		if (n < 0)
			break;
		d = vrrp_decode(buf, (size_t)n, v->cfg.vrid, v->fsm.p.self, &rx);
		if (d != VRRP_ACCEPT) {
			char a[INET_ADDRSTRLEN];

			v->rx_dropped[d]++;
			log_debug("vrrp: dropped a packet from %s: %s", ip_str(rx.src, a), vrrp_drop_name(d));
			continue;
		}
		rx_notice(v, &rx);
		ev.src = rx.src;
		ev.priority = rx.adv.priority;
		ev.interval_cs = rx.adv.interval_cs;
		step(v, &ev);
	}
}

/* Our source address: unicast-src, else the interface's primary address (never the VIP). */
static void addr_update(struct vrrp *v)
{
	v->fsm.p.self = v->cfg.unicast_src ? v->cfg.unicast_src : v->ifc.addr;
	v->no_addr = v->fsm.p.self == 0;
}

static void on_link(void *arg, int ifindex, int up)
{
	struct vrrp *v = arg;
	char why[96];

	if (up) {
		struct nl_iface ifc;

		/* The address or MAC may have changed while it was down. */
		if (!nl_iface_get(v->ifname, v->cfg.vip, &ifc)) {
			v->ifc = ifc;
			addr_update(v);
		}
	}
	v->link_down = !up;
	if (up && v->no_addr)
		snprintf(why, sizeof(why), "no IPv4 address on %s", v->ifname);
	else
		snprintf(why, sizeof(why), "interface %s %s", v->ifname, up ? "up" : "down");
	fault_update(v, why);
}

struct vrrp *vrrp_new(struct loop *l, const struct config *cfg, const struct vrrp_hooks *h, void *arg,
		      char *err, size_t errlen)
{
	struct vrrp_params p;
	struct vrrp *v;
	const char *what;
	int rc;

	if (!cfg->vrrp.enabled) {
		snprintf(err, errlen, "vrrp: not configured");
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "vrrp: %s", strerror(ENOMEM));
		return NULL;
	}
	v->loop = l;
	v->cfg = cfg->vrrp;
	snprintf(v->ifname, sizeof(v->ifname), "%s", cfg->interface);
	if (h)
		v->hooks = *h;
	v->arg = arg;
	v->fd = v->garp_fd = v->tick.fd = v->garp.fd = -1;
	p = (struct vrrp_params){
		.priority = v->cfg.priority, .advert_cs = v->cfg.advert_cs, .preempt = v->cfg.preempt,
		.preempt_delay_ms = v->cfg.preempt_delay_ms,
	};
	vrrp_fsm_init(&v->fsm, &p);

	what = "interface";
	rc = nl_iface_get(v->ifname, v->cfg.vip, &v->ifc);
	if (rc)
		goto fail;
	addr_update(v);
	what = "raw socket";
	rc = vrrp_sock_open(v->ifname, v->ifc.ifindex, v->cfg.npeers == 0, &v->fd);
	if (rc)
		goto fail;
	what = "packet socket";
	rc = vrrp_garp_open(&v->garp_fd);
	if (rc)
		goto fail;
	what = "timer";
	rc = timer_init(&v->tick, l, on_tick, v);
	if (rc || (rc = timer_init(&v->garp, l, garp_second, v)))
		goto fail;
	what = "link watch";
	v->watch = nl_watch_new(l, v->ifc.ifindex, on_link, v, &rc);
	if (!v->watch)
		goto fail;
	what = "event loop";
	rc = loop_add(l, v->fd, EPOLLIN, on_readable, v);
	if (rc)
		goto fail;
	return v;
fail:
	snprintf(err, errlen, "vrrp: %s %s: %s", what, v->ifname, strerror(-rc));
	vrrp_free(v);
	return NULL;
}

static int start(struct vrrp *v, enum vrrp_ev_type type)
{
	struct vrrp_event ev = { .type = type };
	char why[96];

	v->link_down = !nl_watch_up(v->watch);
	if (v->link_down)
		snprintf(why, sizeof(why), "interface %s down", v->ifname);
	else if (v->no_addr)
		snprintf(why, sizeof(why), "no IPv4 address on %s", v->ifname);
	else
		snprintf(why, sizeof(why), "%s", v->ext_why);
	fault_update(v, why);  /* in INIT this only records the fault */
	step(v, &ev);
	/* The old process's bridge goes on while this image, master again, loads its datapath (seconds
	 * on a loaded machine, before the loop runs): it ends at this image's first advert from the
	 * loop's timer (step). Not master: it ends now. */
	v->bridge = vrrp_bridge_inherited();
	v->bridge_inherited = v->bridge != 0;
	if (v->bridge && v->fsm.state != VRRP_MASTER)
		vrrp_bridge_cancel(v);
	return 0;
}

int vrrp_start(struct vrrp *v)
{
	return start(v, VRRP_EV_START);
}

int vrrp_resume(struct vrrp *v)
{
	return start(v, VRRP_EV_RESUME);
}

void vrrp_set_fault(struct vrrp *v, int fault, const char *why)
{
	v->ext_fault = fault;
	snprintf(v->ext_why, sizeof(v->ext_why), "%s", why ? why : (fault ? "fault" : "fault cleared"));
	fault_update(v, v->ext_why);
}

void vrrp_hold_preempt(struct vrrp *v, int hold)
{
	if (!v || v->fsm.hold_preempt == hold)
		return;
	v->fsm.hold_preempt = hold;
	if (v->cfg.preempt)
		log_info("vrrp: preemption %s", hold ? "held until the flow table is in sync" : "allowed again");
}

void vrrp_shutdown(struct vrrp *v)
{
	struct vrrp_event ev = { .type = VRRP_EV_SHUTDOWN };

	step(v, &ev);
	timer_stop(&v->tick);
	timer_stop(&v->garp);
}

void vrrp_free(struct vrrp *v)
{
	if (!v)
		return;
	if (v->fd >= 0) {
		loop_del(v->loop, v->fd);
		close(v->fd);
	}
	if (v->garp_fd >= 0)
		close(v->garp_fd);
	nl_watch_free(v->watch);
	timer_close(&v->tick);
	timer_close(&v->garp);
	free(v);
}

void vrrp_advert_now(struct vrrp *v)
{
	if (v && v->fsm.state == VRRP_MASTER) {
		send_advert(v, v->fsm.p.priority);
		vrrp_fsm_sent(&v->fsm, now_us());
	}
}

int vrrp_bridge(struct vrrp *v)
{
	struct vrrp_bridge_pkt pkts[VRRP_BRIDGE_MAX_PKTS];
	struct vrrp_advert a;
	uint32_t mcast = htonl(VRRP_MCAST);
	const uint32_t *dsts;
	int n, i, len;
	char buf[16];
	pid_t pid;

	if (!v || v->fsm.state != VRRP_MASTER || v->bridge)
		return 0;
	a = (struct vrrp_advert){ .vrid = v->cfg.vrid, .priority = v->fsm.p.priority, .interval_cs = v->cfg.advert_cs,
				  .naddrs = 1, .addrs = { v->cfg.vip } };
	dsts = v->cfg.npeers ? v->cfg.peers : &mcast;
	n = v->cfg.npeers ? v->cfg.npeers : 1;
	if (n > VRRP_BRIDGE_MAX_PKTS)
		n = VRRP_BRIDGE_MAX_PKTS;
	for (i = 0; i < n; i++) {
		len = vrrp_encode(&a, v->fsm.p.self, dsts[i], v->cfg.csum, pkts[i].data, sizeof(pkts[i].data));
		if (len < 0)
			return len;
		pkts[i].len = (size_t)len;
		pkts[i].dst = dsts[i];
	}
	pid = vrrp_bridge_start(v->fd, pkts, n, v->cfg.advert_cs * 10u);
	if (pid < 0) {
		log_warnx("vrrp: restart in place: no advert bridge (%s); the new process must start within the "
			  "peer's master-down time", strerror(-pid));
		return pid;
	}
	v->bridge = pid;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	setenv(VRRP_BRIDGE_ENV, buf, 1);
	log_info("vrrp: restart in place: process %d advertises until the new process does", (int)pid);
	return 0;
}

void vrrp_bridge_cancel(struct vrrp *v)
{
	if (!v || !v->bridge)
		return;
	vrrp_bridge_end(v->bridge);
	vrrp_fsm_sent(&v->fsm, now_us()); /* it advertised until now */
	v->bridge = 0;
	v->bridge_inherited = 0;
	unsetenv(VRRP_BRIDGE_ENV);
}

void vrrp_reassert(struct vrrp *v)
{
	char a[INET_ADDRSTRLEN];

	if (!v || v->fsm.state != VRRP_MASTER || nl_ifaddr_has(v->ifc.ifindex, v->cfg.vip) != 0)
		return;
	log_warnx("vrrp: %s was removed from %s behind our back; adding it again", ip_str(v->cfg.vip, a), v->ifname);
	vip_change(v, 1);
	garp_burst(v);
}

void vrrp_fill(struct vrrp *v, struct model *m)
{
	m->vrrp.enabled = 1;
	m->vrrp.state = v->fsm.state;
	m->vrrp.last_change_ms = v->last_change_wall;
	m->vrrp.master = v->fsm.master;
	m->vrrp.transitions = v->transitions;
	memcpy(m->vrrp.rx_dropped, v->rx_dropped, sizeof(v->rx_dropped));
}

enum vrrp_state vrrp_state_get(const struct vrrp *v)
{
	return v->fsm.state;
}

/* rtnetlink through libnl-route: the interface's facts, the VIP address, managed neighbour entries,
 * and link up/down events on the loop. Every call works in the caller's network namespace. */
#ifndef PGS_NETLINK_H
#define PGS_NETLINK_H

#include <stdint.h>

struct loop;

/* What the controller needs to know about its interface. */
struct nl_iface {
	int ifindex;
	uint8_t mac[6];
	uint32_t addr;  /* primary IPv4 address, network order; 0 if it has none */
	int up;         /* administratively up with carrier (IFF_UP and IFF_RUNNING) */
};

/* Look up ifname. skip is an address never taken as the primary one (the VIP), 0 for none; the
 * primary address is the first IPv4 address that is not secondary. 0 or -errno (-ENODEV). */
int nl_iface_get(const char *ifname, uint32_t skip, struct nl_iface *out);

/* Add or remove addr/prefix on the interface (RTM_NEWADDR/RTM_DELADDR). Both are idempotent:
 * an address already present, or already absent, returns 0. Otherwise 0 or -errno. */
int nl_ifaddr_add(int ifindex, uint32_t addr, uint8_t prefix);
int nl_ifaddr_del(int ifindex, uint32_t addr, uint8_t prefix);
/* 1 if addr is configured on the interface, 0 if not, or -errno. */
int nl_ifaddr_has(int ifindex, uint32_t addr);

/* A neighbour entry the kernel resolves and keeps fresh by itself (NTF_EXT_MANAGED, as
 * `ip neigh add ADDR dev DEV managed`): XDP's bpf_fib_lookup then finds it. An existing entry for
 * addr becomes managed. 0 or -errno. */
int nl_neigh_managed(int ifindex, uint32_t addr);
/* Remove the entry; an absent one returns 0. 0 or -errno. */
int nl_neigh_del(int ifindex, uint32_t addr);

/* Link events for one interface on the loop: cb runs when its up state (as in struct nl_iface)
 * changes, and with up = 0 when the interface is deleted. */
typedef void (*nl_link_cb)(void *arg, int ifindex, int up);
struct nl_watch;

/* NULL with *err = -errno on failure. */
struct nl_watch *nl_watch_new(struct loop *l, int ifindex, nl_link_cb cb, void *arg, int *err);
/* The state the watch knows now: read when it was created, then kept by the events. */
int nl_watch_up(const struct nl_watch *w);
void nl_watch_free(struct nl_watch *w);

#endif

/* The advert bridge of a restart in place (vrrp_bridge.c): the old process's adverts go on from a
 * child until the new image sends its first one. */
#ifndef PGS_VRRP_BRIDGE_H
#define PGS_VRRP_BRIDGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VRRP_BRIDGE_ENV      "PGSTEER_VRRP_BRIDGE"  /* its PID, for the new image */
#define VRRP_BRIDGE_MAX_PKTS 8                      /* one advert per destination (CFG_MAX_PEERS) */
#define VRRP_BRIDGE_MAX_MS   20000                  /* a new image slower than this lets the peer take over */

/* One encoded advert (the whole IPv4 packet) and its destination, network order. */
struct vrrp_bridge_pkt {
	uint32_t dst;
	size_t len;
	uint8_t data[128];
};

/* Fork the bridge: it sends every packet on fd now and every interval_ms after. Its PID, or -errno. */
pid_t vrrp_bridge_start(int fd, const struct vrrp_bridge_pkt *pkts, int npkts, unsigned int interval_ms);
/* End and reap the bridge pid if it is a child of this process: 1, 0 without one, or -errno (e.g.
 * -ECHILD: not ours, left alone). */
int vrrp_bridge_end(pid_t pid);
/* The bridge the process this image replaced left running (VRRP_BRIDGE_ENV, then removed), or 0. */
pid_t vrrp_bridge_inherited(void);

#endif

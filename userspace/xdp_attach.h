/* XDP through libxdp's dispatcher (xdp_attach.c): shared with other XDP programs on the interface. */
#ifndef PGS_XDP_ATTACH_H
#define PGS_XDP_ATTACH_H

#include <bpf/libbpf.h>

#define PGS_XDP_PROG_NAME "pgs_xdp" /* how the dispatcher and `xdp-loader status` name us */

/* 1 when the dispatcher can be used; 0 with the reason in why when LIBXDP_SKIP_DISPATCHER=1
 * (libxdp's own switch) or the kernel lacks what it needs: plain attach then. */
int xdpd_wanted(char *why, size_t whylen);
/* Load obj's pgs_xdp (opened, not loaded) as a component of ifindex's dispatcher (created if
 * there is none), native or generic (skb) mode, then remove pgsteer's earlier program from it.
 * 0, or -errno with a sentence in err; obj may be loaded then (the caller reopens it). */
int xdpd_attach(struct bpf_object *obj, int ifindex, int generic, char *err, size_t errlen);
/* Remove every pgsteer program from ifindex's dispatcher (the dispatcher goes with the last
 * program). 0 when none was there. */
int xdpd_detach(int ifindex, char *err, size_t errlen);
/* 1 when a pgsteer program runs in ifindex's dispatcher. */
int xdpd_attached(int ifindex);

#endif

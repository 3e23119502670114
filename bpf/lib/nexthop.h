/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Where a translated packet leaves to, without a FIB lookup per packet. Toward a server: its slot's
 * next hop, resolved about once a second by whichever of the slot's flows comes first, so an idle
 * pooled session costs no more than a busy one. Toward a client: the way its own frames came in
 * (the MAC they came from, out of the device they came in on), learnt from each of them. A flow
 * with none learnt (installed by the flow sync, its client silent here so far) resolves its way
 * back by FIB on its first reply and keeps it: a steered flow's reply never goes to the stack,
 * which holds the VIP and would answer it with an RST. */
#ifndef PGS_NEXTHOP_H
#define PGS_NEXTHOP_H

#include <linux/if_ether.h>
#include "maps.h"

/* Per slot, the next hop toward its server (the server's address alongside: a slot given to another
 * server does not inherit it). Written by the datapath only. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, PGS_MAX_SLOTS);
	__type(key, __u32);
	__type(value, struct pgs_slot_hop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pgs_slot_hop SEC(".maps");

/* The slot's next hop toward addr, if resolved within the current stamp period. */
static __always_inline int slot_hop_get(__u32 slot, __u32 addr, __u32 stamp, struct pgs_hop *out, __u32 *mtu)
{
	struct pgs_slot_hop *sh = bpf_map_lookup_elem(&pgs_slot_hop, &slot);

	if (!sh || !sh->hop.ifindex || sh->addr != addr || sh->hop.stamp != stamp)
		return 0;
	*out = sh->hop;
	*mtu = sh->mtu;
	return 1;
}

/* Keep a next hop just resolved toward the slot's server (a race between two CPUs writes two
 * resolutions of the same neighbour). */
static __always_inline void slot_hop_put(__u32 slot, __u32 addr, const struct pgs_hop *h, __u32 mtu)
{
	struct pgs_slot_hop *sh = bpf_map_lookup_elem(&pgs_slot_hop, &slot);

	if (sh) {
		sh->hop = *h;
		sh->addr = addr;
		sh->mtu = mtu;
	}
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

/* The way back to whoever sent this frame, which came in on ifindex: written into h when it
 * differs (one compare per client packet, a write only when the client's side changed). */
static __always_inline void hop_learn_return(struct pgs_hop *h, const struct ethhdr *eth, __u32 ifindex)
{
	if (h->ifindex == ifindex && mac_eq(h->dmac, eth->h_source) && mac_eq(h->smac, eth->h_dest))
		return;
	__builtin_memcpy(h->dmac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(h->smac, eth->h_dest, ETH_ALEN);
	h->ifindex = ifindex;
}

#endif

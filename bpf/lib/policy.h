/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Source-address policy: a service's allow/deny CIDR lists in one LPM trie keyed by (service id,
 * source address). The longest matching prefix decides; a service with an allow list has a default
 * deny entry (its id alone, /32 of the key), one without any entry allows everyone. Looked at for a
 * client SYN that would create a flow, before anything is created: established flows never are. */
#ifndef PGS_POLICY_H
#define PGS_POLICY_H

#include "maps.h"

/* 1 when the service refuses new connections from saddr (network order). */
static __always_inline int policy_refuses(__u32 svc_id, __u32 saddr)
{
	struct pgs_policy_key k = { .prefixlen = 64, .svc_id = bpf_htonl(svc_id), .addr = saddr };
	__u32 *act = bpf_map_lookup_elem(&pgs_policy, &k);

	return act && *act == PGS_POLICY_DENY;
}

#endif

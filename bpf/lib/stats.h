/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Counting verdicts and per-server traffic in the per-CPU maps. */
#ifndef PGS_STATS_H
#define PGS_STATS_H

#include "maps.h"

static __always_inline void count_verdict(__u32 reason)
{
	__u64 *n = bpf_map_lookup_elem(&pgs_verdicts, &reason);

	if (n)
		*n += 1;
}

static __always_inline struct pgs_srv_stats *srv_stats(__u32 slot)
{
	return bpf_map_lookup_elem(&pgs_srv_stats, &slot);
}

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Weighted least-connections choice, as HAProxy's leastconn orders servers: pure, no maps. */
#ifndef PGS_SELECT_H
#define PGS_SELECT_H

#include "common.h"

/* The best candidate seen so far during one scan. */
struct lc_best {
	__s32 idx; /* -1 until a candidate is seen */
	__u32 active;
	__u32 weight;
};

#define LC_BEST_INIT { .idx = -1 }

/* HAProxy's key is (active + 1) / weight, and 0 for an idle server, so idle servers always win.
 * Compared by cross-multiplication; equal keys keep the earlier candidate, so the scan's start
 * decides ties. */
static __always_inline int lc_better(__u32 a_active, __u32 a_weight, __u32 b_active, __u32 b_weight)
{
	if (a_active == 0 || b_active == 0)
		return a_active == 0 && b_active != 0;
	return (__u64)(a_active + 1) * b_weight < (__u64)(b_active + 1) * a_weight;
}

/* Offer candidate idx (selectable servers only: UP, weight > 0) to the scan. */
static __always_inline void lc_consider(struct lc_best *best, __u32 idx, __u32 active, __u32 weight)
{
	if (best->idx < 0 || lc_better(active, weight, best->active, best->weight)) {
		best->idx = (__s32)idx;
		best->active = active;
		best->weight = weight;
	}
}

/* Active connections from the counters; never negative, whatever the ordering of the reads. */
static __always_inline __u32 lc_active(__u64 opened, __u64 closed, __u64 adj)
{
	__u64 gone = closed + adj;

	return opened > gone ? (__u32)(opened - gone) : 0;
}

/* Position i of a scan over n servers that starts at start (start < n). */
static __always_inline __u32 lc_scan_pos(__u32 start, __u32 i, __u32 n)
{
	__u32 j = start + i;

	return j >= n ? j - n : j;
}

#endif

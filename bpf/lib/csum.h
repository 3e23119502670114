/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Incremental Internet checksum arithmetic (RFC 1624) over 16-bit words as they sit in memory. */
#ifndef PGS_CSUM_H
#define PGS_CSUM_H

#include "common.h"

/* The one's-complement difference of replacing old by new, as an unfolded 32-bit sum. */
static __always_inline __u32 csum_diff32(__u32 acc, __u32 old, __u32 new)
{
	acc += (~old & 0xffff) + (~old >> 16);
	acc += (new & 0xffff) + (new >> 16);
	return acc;
}

static __always_inline __u32 csum_diff16(__u32 acc, __u16 old, __u16 new)
{
	return acc + (__u16)~old + new;
}

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* Apply a difference to a stored checksum field: HC' = ~(~HC + diff). */
static __always_inline __u16 csum_apply(__u16 check, __u32 diff)
{
	return (__u16)~csum_fold((__u32)(__u16)~check + diff);
}

#endif

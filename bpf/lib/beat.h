/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* pgsteerd's heartbeat as the datapath sees it: a node whose controller died without its link going
 * down stops steering instead of forwarding with frozen health checks. */
#ifndef PGS_BEAT_H
#define PGS_BEAT_H

#include <bpf/bpf_helpers.h>
#include "common.h"
#include "../pgsteer_abi.h"

/* The controller's last heartbeat is too old (a beat of 0: none expected, never stale). The coarse
 * clock is enough for a timeout of seconds and costs no clock read of its own, but it lags the
 * controller's CLOCK_MONOTONIC by up to a tick: just after a unit boundary a fresh beat is one unit
 * ahead of it, so the age is signed (unsigned, it wrapped to 2^32 - 1 and every packet of those
 * milliseconds went to the stack, which holds the VIP and answered each with an RST). */
static __always_inline int pgs_beat_stale(const struct pgs_ctl *ctl)
{
	__u32 now = (__u32)(bpf_ktime_get_coarse_ns() >> PGS_BEAT_SHIFT);

	return ctl->beat && (__s32)(now - ctl->beat) > PGS_BEAT_TIMEOUT;
}

#endif

/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* Definitions shared by the datapath headers, and the glue that lets the pure ones build in user space. */
#ifndef PGS_COMMON_H
#define PGS_COMMON_H

#include <linux/types.h>

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

#define PGS_NSEC 1000000000ull

#define PGS_EEXIST 17 /* errno of a BPF_NOEXIST update that found the key (no libc errno.h in BPF) */

#endif

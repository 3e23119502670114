/* The file descriptors pgsteerd needs for its configuration, and RLIMIT_NOFILE raised to that at
 * start (the default soft limit of 1024 marked healthy servers DOWN at 16x32 servers). */
#ifndef PGS_FDLIMIT_H
#define PGS_FDLIMIT_H

#include <stddef.h>
#include "config.h"

/* Descriptors cfg needs: per server a check socket and two timerfds, the stats listener's 128
 * connections, and a fixed part (BPF maps and programs, VRRP, runtime clients, webhook, logs). */
unsigned long fdlimit_need(const struct config *cfg);

/* Raise the soft RLIMIT_NOFILE to fdlimit_need(cfg) when below it (up to the hard limit, which root
 * may raise too). 0, or -errno with "need N file descriptors, the limit is M: ..." in err. */
int fdlimit_raise(const struct config *cfg, char *err, size_t errlen);

#endif

/* RLIMIT_NOFILE sized from the configuration. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include "fdlimit.h"

#define FD_PER_SERVER 3   /* the check's socket, its timeout and interval timerfds */
#define FD_STATS 128      /* STATS_MAX_CONNS */
#define FD_FIXED 256      /* maps, programs, VRRP, netlink, runtime clients, webhook, logs, spare */

unsigned long fdlimit_need(const struct config *cfg)
{
	unsigned long servers = 0;
	int i;

	for (i = 0; i < cfg->nservices; i++)
		servers += (unsigned long)cfg->services[i].nservers;
	return servers * FD_PER_SERVER + FD_STATS + FD_FIXED;
}

int fdlimit_raise(const struct config *cfg, char *err, size_t errlen)
{
	unsigned long need = fdlimit_need(cfg);
	struct rlimit rl;
	int e;

	if (getrlimit(RLIMIT_NOFILE, &rl))
		goto fail;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	rl.rlim_cur = need;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need)
		rl.rlim_max = need; /* root may raise the hard limit; anyone else gets EPERM below */
	if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
		return 0;
fail:
	e = errno;
	getrlimit(RLIMIT_NOFILE, &rl);
	snprintf(err, errlen,
		 "%s: need %lu file descriptors (%d servers' checks, stats, datapath), the limit is %llu: %s "
		 "(raise LimitNOFILE= or ulimit -n)",
		 cfg->path[0] ? cfg->path : "pgsteerd", need, (int)((need - FD_STATS - FD_FIXED) / FD_PER_SERVER),
		 (unsigned long long)rl.rlim_cur, strerror(e));
	return -e;
}

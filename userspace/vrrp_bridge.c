/* The advert bridge of a restart in place: a child process that keeps sending the master's adverts
 * from the moment a restart is accepted until the new image of pgsteerd has sent its own first
 * advert. The old process's teardown, the exec, the dynamic loader and the new process's config and
 * start take hundreds of ms on a loaded machine; without the bridge the peer's master-down time
 * (3 adverts plus skew) runs out and the VIP flaps on a restart nobody meant as a failover (HAProxy's
 * reload keeps the old process serving until the new one is ready for the same reason).
 *
 * The child is forked by the loop's thread; it only calls async-signal-safe functions (another
 * thread may hold a lock of libc), keeps nothing open but the VRRP socket (a copied lock file or
 * listener would stop the new image from taking them), dies with its parent (PR_SET_PDEATHSIG: a
 * new image that fails to start leaves no advertiser behind) and ends by itself after
 * VRRP_BRIDGE_MAX_MS. The exec keeps the PID, so the new image is its parent and reaps it. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "vrrp_bridge.h"

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };

	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
}

static long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void close_all_but(int keep)
{
	if (keep > 3)
		close_range(3, (unsigned int)keep - 1, 0);
	close_range((unsigned int)keep + 1, ~0U, 0);
}

pid_t vrrp_bridge_start(int fd, const struct vrrp_bridge_pkt *pkts, int npkts, unsigned int interval_ms)
{
	pid_t parent = getpid(), pid;
	long end;
	int i;

	if (npkts <= 0 || npkts > VRRP_BRIDGE_MAX_PKTS || fd < 0 || !interval_ms)
		return -EINVAL;
	pid = fork();
	if (pid)
		return pid < 0 ? -errno : pid;
	/* The child: adverts every interval until killed, orphaned or VRRP_BRIDGE_MAX_MS is up. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	close_all_but(fd);
	end = mono_ms() + VRRP_BRIDGE_MAX_MS;
	do {
		for (i = 0; i < npkts; i++) {
			struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = pkts[i].dst };

			sendto(fd, pkts[i].data, pkts[i].len, 0, (struct sockaddr *)&sin, sizeof(sin));
		}
		sleep_ms(interval_ms);
	} while (mono_ms() < end);
	_exit(0);
}

int vrrp_bridge_end(pid_t pid)
{
	siginfo_t si = { 0 };

	if (pid <= 0)
		return 0;
	/* Only a child of ours: a stale or forged number must not end somebody else's process. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return -errno;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return 1;
}

pid_t vrrp_bridge_inherited(void)
{
	const char *s = getenv(VRRP_BRIDGE_ENV);
	char *end;
	long v;

	if (!s)
		return 0;
	errno = 0;
	v = strtol(s, &end, 10);
	unsetenv(VRRP_BRIDGE_ENV);
	return errno || *end || v <= 0 || v > INT32_MAX ? 0 : (pid_t)v;
}

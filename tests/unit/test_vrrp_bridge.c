/* The restart in place's advert bridge (vrrp_bridge.c) as a real child process: it sends its packet
 * every interval, holds no other descriptor of ours, stops when ended and only ends a child of ours;
 * the PID handed to the new image is parsed strictly. Raw sockets on 127.0.0.1 (root). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "harness.h"
#include "vrrp_bridge.h"

#define PROTO 253 /* RFC 3692 experimentation */

/* One packet from fd within ms (a loaded machine: generous), its length, or -1. */
static ssize_t recv_within(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[256];

	if (poll(&p, 1, ms) != 1)
		return -1;
	return recv(fd, buf, sizeof(buf), 0);
}

static void bridge_process(void)
{
	struct vrrp_bridge_pkt pkt = { .dst = htonl(INADDR_LOOPBACK), .len = 14 };
	int rx = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, PROTO), tx = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, PROTO);
	int p[2], i, got = 0;
	char c;
	pid_t pid;

	memcpy(pkt.data, "pgsteer-bridge", 14);
	CHECK(rx >= 0 && tx >= 0 && !pipe(p), "sockets and a pipe: %s", strerror(errno));
	pid = vrrp_bridge_start(tx, &pkt, 1, 20);
	CHECK(pid > 0, "vrrp_bridge_start: %d", (int)pid);
	if (pid <= 0)
		return;
	/* Adverts keep coming: three within a generous time. */
	for (i = 0; i < 3; i++)
		got += recv_within(rx, 10000) > 0;
	CHECK_EQ(got, 3);
	/* Nothing of ours kept open in the child: our last write end gone, the pipe reads EOF. */
	close(p[1]);
	CHECK_EQ(read(p[0], &c, 1), 0);
	close(p[0]);
	CHECK_EQ(vrrp_bridge_end(pid), 1);
	while (recv_within(rx, 0) > 0)
		;
	CHECK_EQ(recv_within(rx, 300), -1);
	/* Not a child of ours (init, or a number reused since): left alone. */
	CHECK_EQ(vrrp_bridge_end(1), -ECHILD);
	CHECK_EQ(vrrp_bridge_end(0), 0);
	CHECK_EQ(vrrp_bridge_start(tx, &pkt, 0, 20), -EINVAL);
	close(rx);
	close(tx);
}

static void bridge_env(void)
{
	setenv(VRRP_BRIDGE_ENV, "4242", 1);
	CHECK_EQ(vrrp_bridge_inherited(), 4242);
	CHECK(!getenv(VRRP_BRIDGE_ENV), "the variable is removed (not passed on by a later exec)");
	CHECK_EQ(vrrp_bridge_inherited(), 0);
	setenv(VRRP_BRIDGE_ENV, "12ab", 1);
	CHECK_EQ(vrrp_bridge_inherited(), 0);
	setenv(VRRP_BRIDGE_ENV, "-5", 1);
	CHECK_EQ(vrrp_bridge_inherited(), 0);
	setenv(VRRP_BRIDGE_ENV, "99999999999", 1);
	CHECK_EQ(vrrp_bridge_inherited(), 0);
}

int main(void)
{
	if (geteuid() == 0)
		RUN(bridge_process);
	else
		SKIP("bridge_process", "raw sockets need root");
	RUN(bridge_env);
	return h_exit();
}

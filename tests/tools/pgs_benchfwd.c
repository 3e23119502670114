/* Attach the bench's bare XDP forwarder (bpf/bench_fwd.bpf.c) to an interface of the current network
 * namespace with its static mapping, print "attached", hold it until SIGTERM or SIGINT, then detach.
 * scripts/bench.sh runs it inside a lab node.
 * usage: pgs_benchfwd IFACE VIP:PORT CLIENT_IP=CLIENT_MAC SERVER_IP=SERVER_MAC PORT[,PORT...] */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>
#include "bench_fwd.skel.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = sig;
}

static int parse_mac(const char *s, unsigned char *mac)
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++)
		mac[i] = (unsigned char)b[i];
	return 0;
}

/* "ADDR=MAC" into an address (network order) and a MAC. */
static int parse_peer(char *s, unsigned int *addr, unsigned char *mac)
{
	char *eq = strchr(s, '=');
	struct in_addr a;

	if (!eq)
		return -EINVAL;
	*eq = '\0';
	if (inet_pton(AF_INET, s, &a) != 1 || parse_mac(eq + 1, mac))
		return -EINVAL;
	*addr = a.s_addr;
	return 0;
}

static int iface_mac(const char *ifname, unsigned char *mac)
{
	struct ifreq r = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), rc;

	if (fd < 0)
		return -errno;
	snprintf(r.ifr_name, sizeof(r.ifr_name), "%s", ifname);
	rc = ioctl(fd, SIOCGIFHWADDR, &r) ? -errno : 0;
	close(fd);
	if (!rc)
		memcpy(mac, r.ifr_hwaddr.sa_data, 6);
	return rc;
}

int main(int argc, char **argv)
{
	struct pgs_bench_fwd *skel = NULL;
	char *colon, *tok, *save = NULL;
	struct in_addr vip;
	unsigned int n = 0, addr;
	int ifindex, rc = 1, err;
	long port;

	if (argc != 6) {
		fprintf(stderr, "usage: %s IFACE VIP:PORT CLIENT_IP=CLIENT_MAC SERVER_IP=SERVER_MAC PORT[,PORT...]\n", argv[0]);
		return 2;
	}
	ifindex = (int)if_nametoindex(argv[1]);
	if (!ifindex) {
		fprintf(stderr, "%s: interface %s: %s\n", argv[0], argv[1], strerror(errno));
		return 2;
	}
	skel = pgs_bench_fwd__open();
	if (!skel) {
		fprintf(stderr, "%s: cannot open the forwarder's BPF object: %s\n", argv[0], strerror(errno));
		return 2;
	}
	colon = strchr(argv[2], ':');
	port = colon ? strtol(colon + 1, NULL, 10) : 0;
	if (colon)
		*colon = '\0';
	if (!colon || inet_pton(AF_INET, argv[2], &vip) != 1 || port <= 0 || port > 65535) {
		fprintf(stderr, "%s: VIP:PORT expected, got '%s'\n", argv[0], argv[2]);
		goto out;
	}
	skel->rodata->fwd_vip = vip.s_addr;
	skel->rodata->fwd_vport = htons((unsigned short)port);
	if (parse_peer(argv[3], &addr, (unsigned char *)skel->rodata->fwd_mac_client)) {
		fprintf(stderr, "%s: CLIENT_IP=MAC expected, got '%s'\n", argv[0], argv[3]);
		goto out;
	}
	skel->rodata->fwd_client = addr;
	if (parse_peer(argv[4], &addr, (unsigned char *)skel->rodata->fwd_mac_server)) {
		fprintf(stderr, "%s: SERVER_IP=MAC expected, got '%s'\n", argv[0], argv[4]);
		goto out;
	}
	skel->rodata->fwd_server = addr;
	for (tok = strtok_r(argv[5], ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		port = strtol(tok, NULL, 10);
		if (n == sizeof(skel->rodata->fwd_sports) / sizeof(skel->rodata->fwd_sports[0]) || port <= 0 || port > 65535) {
			fprintf(stderr, "%s: bad server port list (at most %zu ports): '%s'\n", argv[0],
				sizeof(skel->rodata->fwd_sports) / sizeof(skel->rodata->fwd_sports[0]), tok);
			goto out;
		}
		skel->rodata->fwd_sports[n++] = htons((unsigned short)port);
	}
	if (!n) {
		fprintf(stderr, "%s: no server port\n", argv[0]);
		goto out;
	}
	skel->rodata->fwd_nservers = n;
	err = iface_mac(argv[1], (unsigned char *)skel->rodata->fwd_mac_self);
	if (err) {
		fprintf(stderr, "%s: MAC of %s: %s\n", argv[0], argv[1], strerror(-err));
		goto out;
	}
	err = pgs_bench_fwd__load(skel);
	if (err) {
		fprintf(stderr, "%s: loading the forwarder: %s\n", argv[0], strerror(-err));
		goto out;
	}
	err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.bench_fwd), XDP_FLAGS_DRV_MODE, NULL);
	if (err) {
		fprintf(stderr, "%s: attaching to %s (native XDP): %s\n", argv[0], argv[1], strerror(-err));
		goto out;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("attached to %s\n", argv[1]);
	fflush(stdout);
	while (!stop)
		pause();
	bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
	rc = 0;
out:
	pgs_bench_fwd__destroy(skel);
	return rc;
}

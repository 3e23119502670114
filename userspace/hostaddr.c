/* The host's own IPv4 addresses (getifaddrs), for the config rules that depend on where pgsteerd runs. */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "hostaddr.h"

int host_addr_is_local(uint32_t addr)
{
	struct ifaddrs *ifa, *i;
	int found = 0;

	if ((ntohl(addr) >> 24) == 127)
		return 1;
	if (getifaddrs(&ifa))
		return -errno;
	for (i = ifa; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr.s_addr == addr)
			found = 1;
	freeifaddrs(ifa);
	return found;
}

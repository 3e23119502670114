/* The host's own IPv4 addresses, for the config rules that depend on where pgsteerd runs. */
#ifndef PGS_HOSTADDR_H
#define PGS_HOSTADDR_H

#include <stdint.h>

/* 1 if addr (network order) is an address of this host in the current network namespace (any
 * interface, or loopback 127.0.0.0/8), 0 if not, -errno when the interfaces cannot be listed. */
int host_addr_is_local(uint32_t addr);

#endif

/* What a config file alone cannot tell: its fit with this machine (pgsteerd -n and start). */
#ifndef PGS_CONFIG_WARN_H
#define PGS_CONFIG_WARN_H

#include <stdint.h>
#include "config.h"

#define HOST_MAX_ADDRS 16

/* The machine as the config meets it. */
struct cfg_host {
	int if_exists;                    /* the configured interface is there */
	int naddrs;                       /* its IPv4 addresses */
	uint32_t addr[HOST_MAX_ADDRS];    /* network order */
	uint8_t prefix[HOST_MAX_ADDRS];
	uint16_t local_min, local_max;    /* net.ipv4.ip_local_port_range; 0 0 when unknown */
};

/* Read the interface's IPv4 addresses and the local port range of this machine. */
void cfg_host_probe(const struct config *c, struct cfg_host *h);

/* Append one "file:line: warning: what" line per finding to out (NUL-terminated, may be empty);
 * returns how many. */
int config_warnings(const struct config *c, const char *file, const struct cfg_host *h, char *out, size_t size);

#endif

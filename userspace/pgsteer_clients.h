/* pgsteer clients: each PgBouncer's own SHOW CLIENTS, with the real client address behind the
 * VIP:SNAT port it lists (from the pinned flow table). Linked into pgsteer only (libpq). */
#ifndef PGS_PGSTEER_CLIENTS_H
#define PGS_PGSTEER_CLIENTS_H

#include <stdio.h>
#include "config.h"
#include "maps.h"

/* Ask every server of cfg (only SERVER or SERVICE/SERVER when server is not NULL) for its clients
 * and print them as a table on out, or (json) one JSON array. A server that cannot be asked is named
 * in a row of its own (json) or on err; the others still print. Returns how many could not be asked,
 * or -errno when the flow table cannot be read. */
int clients_print(const struct config *cfg, const struct pgs_maps *m, const char *server, int json, FILE *out,
		  FILE *err);

#endif

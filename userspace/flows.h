/* pgsteer flows: who is behind which connection, from the pinned flow table (works with pgsteerd
 * stopped too). */
#ifndef PGS_FLOWS_H
#define PGS_FLOWS_H

#include <stdint.h>
#include <stdio.h>
#include "maps.h"

struct flows_filter {
	const char *server;  /* SERVER or SERVICE/SERVER; NULL: all */
	uint32_t client;     /* network order; 0: any */
	uint16_t cport;      /* network order; 0: any */
};

/* Parse "ADDR" or "ADDR:PORT" into f; 0, or -1 when it is neither. */
int flows_parse_client(const char *s, struct flows_filter *f);
/* List the live flows matching f, as a table or (json) a JSON array; 0, or -errno. */
int flows_print(const struct pgs_maps *m, const struct flows_filter *f, int json, FILE *out);

#endif

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

/* One live flow, with the names of its service and server. */
struct flow_row {
	struct pgs_flow_key k;
	struct pgs_flow f;
	char service[PGS_NAME_LEN + 1];
	char server[PGS_NAME_LEN + 1]; /* "" when the slot now holds another server */
};

/* Read every flow matching f into *rows (sorted by service, server, client; free() it); the count,
 * or -errno. */
long flows_read(const struct pgs_maps *m, const struct flows_filter *f, struct flow_row **rows);
/* Parse "ADDR" or "ADDR:PORT" into f; 0, or -1 when it is neither. */
int flows_parse_client(const char *s, struct flows_filter *f);
/* List the live flows matching f, as a table or (json) a JSON array; 0, or -errno. */
int flows_print(const struct pgs_maps *m, const struct flows_filter *f, int json, FILE *out);

#endif

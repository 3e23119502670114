/* The stats listener: HTTP on libmicrohttpd, driven by the event loop (no thread), serving
 * /stats;csv (HAProxy CSV), /metrics (Prometheus) and /stats.json. */
#ifndef PGS_STATS_H
#define PGS_STATS_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "loop.h"

struct stats_http;

struct stats_auth;

/* Listen on addr:port (addr in network order, port in host order; 0 picks a free port) and serve
 * the model m, to auth's users only when auth is not NULL (it is the listener's from then on, freed
 * even on failure). refresh(arg), when set, runs before a rendering (at most once a second) so the
 * caller can pull fresh datapath counters into m. At most 128 connections, 16 from one address, idle
 * ones closed after 10 s. NULL on failure, with "stats: bind 0.0.0.0:8404: Address already in
 * use" (or similar) in err. */
struct stats_http *stats_http_start(struct loop *l, uint32_t addr, uint16_t port, struct model *m,
				    struct stats_auth *auth, void (*refresh)(void *arg), void *arg, char *err,
				    size_t errlen);

/* From now on every request needs one of a's users (HTTP basic authentication; 401 with a
 * WWW-Authenticate challenge otherwise); a NULL a serves everyone. s owns a (freed with s or the
 * next call); a NULL s frees a. */
void stats_http_set_auth(struct stats_http *s, struct stats_auth *a);

/* Close the listener and every open connection; NULL is accepted. */
void stats_http_stop(struct stats_http *s);

/* The port actually bound (host order). */
uint16_t stats_http_port(const struct stats_http *s);

/* Documents rendered since start: requests within STATS_SNAPSHOT_MS (1 s) of the last rendering of
 * the same document share it, so a scrape storm costs one rendering per document and second. */
uint64_t stats_http_renders(const struct stats_http *s);

/* Which document a request asks for, from its method and raw URI (path and query): a pure
 * function so the routing is testable without a socket. */
enum stats_route {
	STATS_CSV,          /* /stats;csv, /stats?stats;csv, /stats;csv;norefresh */
	STATS_HTML,         /* /stats, /stats/, /stats;norefresh: the HTML page, as HAProxy's */
	STATS_METRICS,      /* /metrics */
	STATS_JSON,         /* /stats.json, /stats;json */
	STATS_NOT_FOUND,    /* 404 */
	STATS_BAD_METHOD,   /* 405: anything but GET and HEAD */
	STATS_URI_TOO_LONG, /* 414 */
};

/* *csv_flags gets RENDER_CSV_UP / RENDER_CSV_NO_MAINT for ";up" / ";no-maint". */
enum stats_route stats_route(const char *method, const char *uri, unsigned *csv_flags);

#endif

/* The model rendered for monitors and operators: HAProxy 2.6 stats CSV, Prometheus text 0.0.4,
 * JSON and an HTML page. Pure: each is a function of the model and a monotonic clock, written to a FILE. */
#ifndef PGS_RENDER_H
#define PGS_RENDER_H

#include <stdint.h>
#include <stdio.h>
#include "backend.h"

/* HAProxy's stats URI options ";up" and ";no-maint": which server rows to leave out. */
#define RENDER_CSV_UP       (1u << 0) /* servers that are DOWN or in MAINT */
#define RENDER_CSV_NO_MAINT (1u << 1) /* servers in MAINT */

/* Every function returns 0, -ENOMEM, or -EIO when out reports a write error. */

/* "show stat": the header, then per service a FRONTEND row, one row per server, a BACKEND row,
 * and the final empty line. */
int render_csv(const struct model *m, uint64_t now_ms, FILE *out);
int render_csv_opts(const struct model *m, uint64_t now_ms, unsigned flags, FILE *out);

/* /metrics: HAProxy exporter (PROMEX) names where they exist, pgsteer_* for the rest. */
int render_prometheus(const struct model *m, uint64_t now_ms, FILE *out);

/* /stats.json and "pgsteer status -j": the whole model, pretty-printed, keys in a fixed order. */
int render_json(const struct model *m, uint64_t now_ms, FILE *out);

/* /stats: HAProxy's stats page as HTML, one table per service (status coloured as HAProxy's legend,
 * sessions, bytes, last check, downtime, weight), the node and its VRRP state; it reloads itself
 * every REFRESH_S seconds (0: 5) and loads nothing else. */
int render_html(const struct model *m, uint64_t now_ms, unsigned refresh_s, FILE *out);

/* The model's vrrp.state by name: "INIT", "BACKUP", "MASTER", "FAULT" (vrrp_state_name). */

#endif

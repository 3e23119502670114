/* The model rendered for monitors and operators: HAProxy 2.6 stats CSV, Prometheus text 0.0.4 and
 * JSON. Pure: each is a function of the model and a monotonic clock, written to a FILE. */
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

/* The model's vrrp.state by name: "INIT", "BACKUP", "MASTER", "FAULT" (vrrp_state_name). */

#endif

/* URLs in logs and alerts: one place that hides their secrets (libcurl's URL API). */
#ifndef PGS_URL_H
#define PGS_URL_H

#include <stddef.h>

/* The path itself is a secret (a Slack incoming webhook: /services/TEAM/BOT/TOKEN). */
#define URL_REDACT_PATH 1u

/* Write URL to BUF for a log line or an alert: scheme, host and port as they are, "user:password@"
 * as three stars and "@", the query as "?" and three stars, and with URL_REDACT_PATH the path after
 * its first segment as the first letter of the second (to tell two webhooks apart), an ellipsis, a
 * slash and three stars. Nothing of a URL libcurl cannot parse is shown. */
void url_redact(const char *url, unsigned flags, char *buf, size_t len);

#endif

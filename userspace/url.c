/* URLs in logs and alerts: their secrets hidden, parsed by libcurl's URL API (CURLU). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>
#include "url.h"

/* "/services/T0000/B0000/XXXX" keeps "/services/T" and an ellipsis; "/hook" keeps nothing. */
static void path_redact(const char *path, char *buf, size_t len)
{
	const char *s1 = path[0] == '/' ? strchr(path + 1, '/') : NULL;

	if (!s1 || !s1[1])
		snprintf(buf, len, "/***");
	else
		snprintf(buf, len, "%.*s/%c\u2026/***", (int)(s1 - path), path, s1[1]);
}

void url_redact(const char *url, unsigned flags, char *buf, size_t len)
{
	char *scheme = NULL, *user = NULL, *password = NULL, *host = NULL, *port = NULL, *path = NULL,
	     *query = NULL, redacted_path[256];
	CURLU *u = curl_url();

	if (!u || curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) || curl_url_get(u, CURLUPART_HOST, &host, 0)) {
		snprintf(buf, len, "(an unparseable URL)");
		goto out;
	}
	curl_url_get(u, CURLUPART_USER, &user, 0);
	curl_url_get(u, CURLUPART_PASSWORD, &password, 0);
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	curl_url_get(u, CURLUPART_PATH, &path, 0);
	curl_url_get(u, CURLUPART_QUERY, &query, 0);
	if (flags & URL_REDACT_PATH)
		path_redact(path ? path : "/", redacted_path, sizeof(redacted_path));
	else
		snprintf(redacted_path, sizeof(redacted_path), "%s", path && strcmp(path, "/") ? path : "");
	snprintf(buf, len, "%s://%s%s%s%s%s%s", scheme, user || password ? "***@" : "", host, port ? ":" : "",
		 port ? port : "", redacted_path, query ? "?***" : "");
out:
	curl_free(scheme);
	curl_free(user);
	curl_free(password);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
}

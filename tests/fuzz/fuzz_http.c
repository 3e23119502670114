/* The :8404 stats listener (libmicrohttpd in the event loop, stats_route, the renderers): the input
 * is sent as raw bytes on a connection to a real listener on 127.0.0.1 (request line, path, query,
 * headers, body, whatever), and the loop runs until the listener closes the connection or has been
 * idle for 20 ms (it waits for the rest of an incomplete request, or for the next one: libmicrohttpd
 * in the loop's epoll does not notice a half-close before its timeout). Its first line also goes to
 * stats_route, the pure routing function, directly. */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "fuzz.h"
#include "fuzz_conn.h"
#include "config.h"
#include "stats.h"
#include "log.h"

static const char conf[] = "global\n    interface lo\n    node-name fuzz\n"
			   "service pgsql\n    bind 127.0.0.100:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
			   "    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433 disabled\n";
static struct config cfg;
static struct model model;
static struct loop *loop;
static struct fuzz_conn conn;
static struct stats_http *http;
static uint16_t port;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	fuzz_model("fuzz_http", conf, &cfg, &model);
	loop = loop_new();
	http = loop ? stats_http_start(loop, htonl(INADDR_LOOPBACK), 0, &model, NULL, NULL, NULL, err, sizeof(err)) : NULL;
	if (!http) {
		fprintf(stderr, "fuzz_http: %s\n", err);
		abort();
	}
	port = stats_http_port(http);
	fuzz_conn_init(&conn, loop, 20);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port) };
	char method[16], *uri, *line = fuzz_str(data, size < 8192 ? size : 8192);
	unsigned flags = 0;
	int fd;

	/* the routing function alone: "METHOD URI ..." */
	if (sscanf(line, "%15s", method) == 1 && (uri = strchr(line, ' '))) {
		enum stats_route r;

		uri++;
		uri[strcspn(uri, " \r\n")] = '\0';
		r = stats_route(method, uri, &flags);
		assert(r >= STATS_CSV && r <= STATS_URI_TOO_LONG);
	}
	free(line);

	/* the whole listener */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* every connection slot is held (until its timeout): the listener's limit, not a bug */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fuzz_exchange(&conn, fd, data, size);
	return 0;
}

/* The runtime API (runtime_exec and its unix socket): one request line per connection, commands
 * separated by ';'. The input goes to runtime_exec as a line, then as raw bytes to the real socket
 * (NULs, no newline, long lines), and the loop runs until the daemon closes the connection. The
 * model is fresh for each input. reload and restart are not wired (they would act on the process). */
#include <assert.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "fuzz.h"
#include "fuzz_conn.h"
#include "config.h"
#include "loop.h"
#include "runtime.h"
#include "log.h"

static const char conf[] = "global\n    interface lo\n    node-name fuzz\n"
			   "service pgsql\n    bind 127.0.0.100:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
			   "    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433 disabled\n"
			   "    server pgb3 127.0.0.1:6434 weight 7\n";
static const struct runtime_ops ops;
static struct config cfg;
static struct model model;
static struct loop *loop;
static struct fuzz_conn conn;
static struct runtime *rt;
static char path[64];

static void cleanup(void)
{
	runtime_free(rt);
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	fuzz_model("fuzz_runtime", conf, &cfg, &model);
	snprintf(path, sizeof(path), "/tmp/pgsteer-fuzz-rt.%d.sock", (int)getpid());
	loop = loop_new();
	rt = loop ? runtime_new(loop, path, 0600, "", &model, &ops, NULL, err, sizeof(err)) : NULL;
	if (!rt) {
		fprintf(stderr, "fuzz_runtime: %s\n", err);
		abort();
	}
	fuzz_conn_init(&conn, loop, 20);
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = fuzz_str(data, size), *answer = NULL;
	size_t alen = 0;
	int fd;
	FILE *out;

	model_init(&model, &cfg, now_ms(), NULL);
	out = open_memstream(&answer, &alen);
	assert(out);
	runtime_exec(rt, line, out);
	fclose(out);
	free(answer);
	free(line);

	model_init(&model, &cfg, now_ms(), NULL);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		/* every connection slot is held (until its timeout): the listener's limit, not a bug */
		if (fd >= 0)
			close(fd);
		return 0;
	}
	fuzz_exchange(&conn, fd, data, size);
	return 0;
}

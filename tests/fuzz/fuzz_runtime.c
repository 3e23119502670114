/* The runtime API (runtime_exec and its unix socket): one request line per connection, commands
 * separated by ';'. The input goes to runtime_exec as a line, then as raw bytes to the real socket
 * (NULs, no newline, long lines), and the loop runs until the daemon closes the connection. The
 * model is fresh for each input. reload and restart are not wired (they would act on the process). */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "fuzz.h"
#include "config.h"
#include "loop.h"
#include "runtime.h"
#include "log.h"

static const char conf[] = "global\n    interface lo\n    node-name fuzz\n"
			   "service pgsql\n    bind 127.0.0.1:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
			   "    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433 disabled\n"
			   "    server pgb3 127.0.0.1:6434 weight 7\n";
static const struct runtime_ops ops;
static struct config cfg;
static struct model model;
static struct loop *loop;
static struct runtime *rt;
static struct timer guard;
static char path[64];
static int client = -1;

static void on_guard(void *arg)
{
	loop_stop(loop);
}

static void on_client(void *arg, uint32_t events)
{
	char buf[65536];
	ssize_t n = recv(client, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))
		return;
	loop_stop(loop);
}

static void cleanup(void)
{
	runtime_free(rt);
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	log_init(0);
	if (config_parse(conf, "fuzz.conf", &cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_runtime: %s\n", err);
		abort();
	}
	model_init(&model, &cfg, now_ms(), NULL);
	snprintf(path, sizeof(path), "/tmp/pgsteer-fuzz-rt.%d.sock", (int)getpid());
	loop = loop_new();
	rt = loop ? runtime_new(loop, path, &model, &ops, NULL, err, sizeof(err)) : NULL;
	if (!rt || timer_init(&guard, loop, on_guard, NULL)) {
		fprintf(stderr, "fuzz_runtime: %s\n", err);
		abort();
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char *line = fuzz_str(data, size), *answer = NULL;
	size_t alen = 0, off = 0;
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
	client = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (client < 0 || connect(client, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	while (off < size) {
		ssize_t n = send(client, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break; /* the daemon closed (a line too long) or its buffer is full: fine */
		off += (size_t)n;
	}
	shutdown(client, SHUT_WR);
	loop_add(loop, client, EPOLLIN, on_client, NULL);
	timer_arm(&guard, 2000);
	loop_run(loop);
	timer_stop(&guard);
	loop_del(loop, client);
	close(client);
	client = -1;
	return 0;
}

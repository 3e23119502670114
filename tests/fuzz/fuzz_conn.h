/* For the harnesses that talk to a real listener in the event loop (fuzz_http, fuzz_runtime): send
 * the input on a connected socket, close the write side, and run the loop until the listener closes
 * the connection or has been idle for idle_ms (it waits for the rest of an incomplete request). */
#ifndef PGS_FUZZ_CONN_H
#define PGS_FUZZ_CONN_H

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include "backend.h"
#include "config.h"
#include "log.h"
#include "loop.h"

/* The listener's world, as pgsteerd sets it up: quiet logs, SIGPIPE ignored (a peer that went away
 * is an error return), the config text parsed (abort on error: the harness is wrong) and its model. */
static void fuzz_model(const char *harness, const char *conf, struct config *cfg, struct model *m)
{
	char err[256];

	log_init(0);
	signal(SIGPIPE, SIG_IGN);
	if (config_parse(conf, "fuzz.conf", cfg, err, sizeof(err))) {
		fprintf(stderr, "%s: %s\n", harness, err);
		abort();
	}
	model_init(m, cfg, now_ms(), NULL);
}

struct fuzz_conn {
	struct loop *loop;
	struct timer idle;
	unsigned idle_ms;
	int fd;
};

static void fuzz_conn_idle(void *arg)
{
	struct fuzz_conn *c = arg;

	loop_stop(c->loop);
}

static void fuzz_conn_read(void *arg, uint32_t events)
{
	struct fuzz_conn *c = arg;
	char buf[65536];
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n > 0) {
		timer_arm(&c->idle, c->idle_ms);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	loop_stop(c->loop); /* closed by the listener */
}

static inline void fuzz_conn_init(struct fuzz_conn *c, struct loop *l, unsigned idle_ms)
{
	c->loop = l;
	c->idle_ms = idle_ms;
	c->fd = -1;
	if (timer_init(&c->idle, l, fuzz_conn_idle, c))
		abort();
}

/* fd: a connected socket, closed here. */
static inline void fuzz_exchange(struct fuzz_conn *c, int fd, const uint8_t *data, size_t size)
{
	size_t off = 0;

	c->fd = fd;
	while (off < size) {
		ssize_t n = send(fd, data + off, size - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n <= 0)
			break; /* the listener closed early, or its buffer is full: fine */
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	loop_add(c->loop, fd, EPOLLIN, fuzz_conn_read, c);
	timer_arm(&c->idle, c->idle_ms);
	loop_run(c->loop);
	timer_stop(&c->idle);
	loop_del(c->loop, fd);
	close(fd);
	c->fd = -1;
}

#endif

/* For the harnesses that talk to a real listener in the event loop (fuzz_http, fuzz_runtime): send
 * the input on a connected socket, close the write side, and run the loop until the listener closes
 * the connection or has been idle for idle_ms (it waits for the rest of an incomplete request). */
#ifndef PGS_FUZZ_CONN_H
#define PGS_FUZZ_CONN_H

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include "loop.h"

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

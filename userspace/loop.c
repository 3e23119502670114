/* The event loop: epoll over every descriptor the controller owns; nothing in it blocks. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include "log.h"
#include "loop.h"

struct watch {
	int fd;
	loop_fd_cb cb;
	void *arg;
	struct watch *next;
};

struct loop {
	int epfd;
	int stop;
	struct watch *watches;
	struct watch *dead; /* deleted during this round; freed after it */
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	struct watch *w, *n;

	if (!l)
		return;
	for (w = l->watches; w; w = n) {
		n = w->next;
		free(w);
	}
	for (w = l->dead; w; w = n) {
		n = w->next;
		free(w);
	}
	close(l->epfd);
	free(l);
}

static struct watch *find(struct loop *l, int fd)
{
	struct watch *w;

	for (w = l->watches; w; w = w->next)
		if (w->fd == fd)
			return w;
	return NULL;
}

int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct epoll_event ev = { .events = events };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		free(w);
		return err;
	}
	w->next = l->watches;
	l->watches = w;
	return 0;
}

int loop_mod(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg)
{
	struct watch *w = find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return loop_add(l, fd, events, cb, arg);
	w->cb = cb;
	w->arg = arg;
	ev.data.ptr = w;
	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

void loop_del(struct loop *l, int fd)
{
	struct watch **pp, *w;

	for (pp = &l->watches; (w = *pp); pp = &w->next) {
		if (w->fd == fd) {
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			*pp = w->next;
			/* An event of this round may still point at it: free it after the round. */
			w->cb = NULL;
			w->fd = -1;
			w->next = l->dead;
			l->dead = w;
			return;
		}
	}
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];

	l->stop = 0;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 64, -1), i;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (i = 0; i < n && !l->stop; i++) {
			struct watch *w = evs[i].data.ptr;

			if (w->cb) /* not deleted by an earlier callback of this round */
				w->cb(w->arg, evs[i].events);
		}
		while (l->dead) {
			struct watch *w = l->dead;

			l->dead = w->next;
			free(w);
		}
	}
	return 0;
}

void loop_stop(struct loop *l)
{
	l->stop = 1;
}

static void timer_fire(void *arg, uint32_t events)
{
	struct timer *t = arg;
	uint64_t n;

	if (read(t->fd, &n, sizeof(n)) != sizeof(n))
		return;
	t->cb(t->arg);
}

int timer_init(struct timer *t, struct loop *l, void (*cb)(void *arg), void *arg)
{
	int err;

	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	err = loop_add(l, t->fd, EPOLLIN, timer_fire, t);
	if (err) {
		close(t->fd);
		t->fd = -1;
	}
	return err;
}

void timer_close(struct timer *t)
{
	if (t->fd < 0)
		return;
	loop_del(t->loop, t->fd);
	close(t->fd);
	t->fd = -1;
}

static void timer_set(struct timer *t, uint64_t first_ms, uint64_t every_ms)
{
	struct itimerspec its = {};

	if (first_ms == 0)
		its.it_value.tv_nsec = 1; /* zero would disarm */
	else {
		its.it_value.tv_sec = first_ms / 1000;
		its.it_value.tv_nsec = (first_ms % 1000) * 1000000;
	}
	its.it_interval.tv_sec = every_ms / 1000;
	its.it_interval.tv_nsec = (every_ms % 1000) * 1000000;
	timerfd_settime(t->fd, 0, &its, NULL);
}

void timer_arm(struct timer *t, uint64_t ms)
{
	timer_set(t, ms, 0);
}

void timer_arm_periodic(struct timer *t, uint64_t ms)
{
	timer_set(t, ms, ms);
}

void timer_stop(struct timer *t)
{
	struct itimerspec its = {};

	timerfd_settime(t->fd, 0, &its, NULL);
}

int timer_armed(const struct timer *t)
{
	struct itimerspec its;

	if (timerfd_gettime(t->fd, &its) < 0)
		return 0;
	return its.it_value.tv_sec || its.it_value.tv_nsec;
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

uint64_t now_ms(void)
{
	return now_ns() / 1000000;
}

uint64_t wall_ms(void)
{
	return clock_ns(CLOCK_REALTIME) / 1000000;
}

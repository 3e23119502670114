/* The event loop: epoll over every descriptor the controller owns; nothing in it blocks. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
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
	const char *name; /* "file.c:callback" (LOOP_WHERE) */
	struct watch *next;
};

struct loop {
	int epfd;
	int stop;
	struct watch *watches;
	struct watch *dead; /* deleted during this round; freed after it */
	struct loop_stats stats;
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

int loop_add_named(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg, const char *name)
{
	struct epoll_event ev = { .events = events };
	struct watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->cb = cb;
	w->arg = arg;
	w->name = name;
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

int loop_mod_named(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg, const char *name)
{
	struct watch *w = find(l, fd);
	struct epoll_event ev = { .events = events };

	if (!w)
		return loop_add_named(l, fd, events, cb, arg, name);
	w->cb = cb;
	w->arg = arg;
	w->name = name;
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

/* One turn took longer than LOOP_SLOW_TURN_MS: say which callbacks took the time (the three
 * longest), so the blocking work can be found and moved off the loop. */
static void slow_turn(const char *const *names, const uint64_t *ns, int n, uint64_t total_ns)
{
	char what[384];
	int used[3] = { -1, -1, -1 }, i, k, off = 0;

	for (k = 0; k < 3; k++) {
		for (i = 0; i < n; i++)
			if (i != used[0] && i != used[1] && (used[k] < 0 || ns[i] > ns[used[k]]))
				used[k] = i;
		if (used[k] < 0)
			break;
		off += snprintf(what + off, sizeof(what) - off, "%s%s %" PRIu64 " ms", k ? ", " : "",
				names[used[k]], ns[used[k]] / 1000000);
		if (off >= (int)sizeof(what))
			break;
	}
	log_warnx("event loop: one turn took %" PRIu64 " ms (%d callbacks; longest: %s): VRRP adverts and "
		  "checks waited behind it", total_ns / 1000000, n, n ? what : "none");
}

int loop_run(struct loop *l)
{
	struct epoll_event evs[64];
	const char *names[64];
	uint64_t took[64];

	l->stop = 0;
	while (!l->stop) {
		int n = epoll_wait(l->epfd, evs, 64, -1), i, ran = 0;
		uint64_t t0, t, turn;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		t0 = t = now_ns();
		for (i = 0; i < n && !l->stop; i++) {
			struct watch *w = evs[i].data.ptr;
			uint64_t end;

			if (!w->cb) /* deleted by an earlier callback of this round */
				continue;
			names[ran] = w->name ? w->name : "?";
			w->cb(w->arg, evs[i].events);
			end = now_ns();
			took[ran++] = end - t;
			t = end;
		}
		while (l->dead) {
			struct watch *w = l->dead;

			l->dead = w->next;
			free(w);
		}
		turn = t - t0;
		l->stats.turns++;
		if (turn > l->stats.max_turn_ns)
			l->stats.max_turn_ns = turn;
		if (turn > LOOP_SLOW_TURN_MS * 1000000ull) {
			l->stats.slow_turns++;
			l->stats.last_slow_ns = t;
			slow_turn(names, took, ran, turn);
		}
	}
	return 0;
}

const struct loop_stats *loop_get_stats(const struct loop *l)
{
	return &l->stats;
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

int timer_init_named(struct timer *t, struct loop *l, void (*cb)(void *arg), void *arg, const char *name)
{
	int err;

	t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (t->fd < 0)
		return -errno;
	t->loop = l;
	t->cb = cb;
	t->arg = arg;
	err = loop_add_named(l, t->fd, EPOLLIN, timer_fire, t, name);
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

/* The event loop: one epoll set for every descriptor, timers as timerfds, signals as a signalfd. */
#ifndef PGS_LOOP_H
#define PGS_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
typedef void (*loop_fd_cb)(void *arg, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Where a callback comes from, for the slow-turn warning: "file.c:function", from the call site. */
#define LOOP_WHERE(cb) (__FILE__ ":" #cb)

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...); cb runs with arg. 0 or -errno. */
int loop_add_named(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg, const char *name);
int loop_mod_named(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg, const char *name);
#define loop_add(l, fd, events, cb, arg) loop_add_named(l, fd, events, cb, arg, LOOP_WHERE(cb))
#define loop_mod(l, fd, events, cb, arg) loop_mod_named(l, fd, events, cb, arg, LOOP_WHERE(cb))
void loop_del(struct loop *l, int fd);

/* Run until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* A turn (the callbacks of one epoll_wait) longer than this is logged with what ran in it: a turn
 * that long delays VRRP adverts and check timers behind it. */
#define LOOP_SLOW_TURN_MS 50

/* How long the loop's turns took: every turn is measured (two clock reads per callback). */
struct loop_stats {
	uint64_t turns;
	uint64_t slow_turns;   /* longer than LOOP_SLOW_TURN_MS */
	uint64_t max_turn_ns;  /* the longest turn since start */
	uint64_t last_slow_ns; /* monotonic end of the last slow turn, 0 none */
};
const struct loop_stats *loop_get_stats(const struct loop *l);

/* A timer: one timerfd, one shot or periodic. */
struct timer {
	int fd;
	struct loop *loop;
	void (*cb)(void *arg);
	void *arg;
};

int timer_init_named(struct timer *t, struct loop *l, void (*cb)(void *arg), void *arg, const char *name);
#define timer_init(t, l, cb, arg) timer_init_named(t, l, cb, arg, LOOP_WHERE(cb))
void timer_close(struct timer *t);
void timer_arm(struct timer *t, uint64_t ms);              /* once, ms from now (0 = as soon as possible) */
void timer_arm_periodic(struct timer *t, uint64_t ms);     /* every ms */
void timer_stop(struct timer *t);
int timer_armed(const struct timer *t);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in milliseconds; monotonic also in ns (bpf_ktime_get_ns's clock). */
uint64_t now_ms(void);
uint64_t now_ns(void);
uint64_t wall_ms(void);

#endif

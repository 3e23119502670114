/* The event loop: one epoll set for every descriptor, timers as timerfds, signals as a signalfd. */
#ifndef PGS_LOOP_H
#define PGS_LOOP_H

#include <stdint.h>
#include <sys/epoll.h>

struct loop;
typedef void (*loop_fd_cb)(void *arg, uint32_t events);

struct loop *loop_new(void);
void loop_free(struct loop *l);

/* Watch fd for events (EPOLLIN, EPOLLOUT, ...); cb runs with arg. 0 or -errno. */
int loop_add(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
int loop_mod(struct loop *l, int fd, uint32_t events, loop_fd_cb cb, void *arg);
void loop_del(struct loop *l, int fd);

/* Run until loop_stop(); returns 0, or -errno if epoll fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* A timer: one timerfd, one shot or periodic. */
struct timer {
	int fd;
	struct loop *loop;
	void (*cb)(void *arg);
	void *arg;
};

int timer_init(struct timer *t, struct loop *l, void (*cb)(void *arg), void *arg);
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

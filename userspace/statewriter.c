/* State files written by one thread off the event loop (statewriter.h). */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include "log.h"
#include "statefile.h"
#include "statewriter.h"

struct job {
	char path[PATH_MAX];
	char *buf;
	size_t len;
	statewriter_done_cb done;
	void *arg;
	int err;
	struct job *next;
};

static struct {
	int running;
	struct loop *loop;
	int efd;                 /* the thread tells the loop: results are waiting */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t work;     /* a job was queued, or stop */
	pthread_cond_t idle;     /* the queue went empty and nothing is being written */
	struct job *queue, **queue_tail;
	struct job *results, **results_tail;
	int busy, stop;
} W = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };

static void *writer_main(void *unused)
{
	uint64_t one = 1;

	pthread_mutex_lock(&W.mu);
	for (;;) {
		struct job *j;

		while (!W.queue && !W.stop)
			pthread_cond_wait(&W.work, &W.mu);
		if (!W.queue)
			break;
		j = W.queue;
		W.queue = j->next;
		if (!W.queue)
			W.queue_tail = &W.queue;
		W.busy = 1;
		pthread_mutex_unlock(&W.mu);

		j->err = statefile_write_bytes(j->path, j->buf, j->len);
		free(j->buf);
		j->buf = NULL;

		pthread_mutex_lock(&W.mu);
		j->next = NULL;
		*W.results_tail = j;
		W.results_tail = &j->next;
		W.busy = 0;
		if (!W.queue)
			pthread_cond_broadcast(&W.idle);
		if (write(W.efd, &one, sizeof(one)) < 0) {
			/* the counter cannot overflow at one per write; the loop finds the results anyway */
		}
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

/* Run the callbacks of the finished writes, in the loop's thread. */
static void deliver(void)
{
	struct job *j, *next;

	pthread_mutex_lock(&W.mu);
	j = W.results;
	W.results = NULL;
	W.results_tail = &W.results;
	pthread_mutex_unlock(&W.mu);
	for (; j; j = next) {
		next = j->next;
		if (j->done)
			j->done(j->arg, j->err);
		free(j);
	}
}

static void on_results(void *unused, uint32_t events)
{
	uint64_t n;

	if (read(W.efd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn("state writer: eventfd");
	deliver();
}

int statewriter_start(struct loop *l)
{
	int r;

	if (W.running)
		return 0;
	W.queue = W.results = NULL;
	W.queue_tail = &W.queue;
	W.results_tail = &W.results;
	W.stop = W.busy = 0;
	W.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (W.efd < 0)
		return -errno;
	r = loop_add(l, W.efd, EPOLLIN, on_results, NULL);
	if (r) {
		close(W.efd);
		return r;
	}
	r = pthread_create(&W.thread, NULL, writer_main, NULL);
	if (r) {
		loop_del(l, W.efd);
		close(W.efd);
		return -r;
	}
	W.loop = l;
	W.running = 1;
	return 0;
}

void statewriter_drain(void)
{
	if (!W.running)
		return;
	pthread_mutex_lock(&W.mu);
	while (W.queue || W.busy)
		pthread_cond_wait(&W.idle, &W.mu);
	pthread_mutex_unlock(&W.mu);
	deliver();
}

void statewriter_stop(void)
{
	if (!W.running)
		return;
	statewriter_drain();
	pthread_mutex_lock(&W.mu);
	W.stop = 1;
	pthread_cond_signal(&W.work);
	pthread_mutex_unlock(&W.mu);
	pthread_join(W.thread, NULL);
	deliver();
	loop_del(W.loop, W.efd);
	close(W.efd);
	W.running = 0;
}

int statewriter_write(const char *path, struct json_object *obj, statewriter_done_cb done, void *arg)
{
	struct job *j, *q;
	size_t len;
	char *buf;
	int err;

	buf = statefile_text(obj, &len);
	if (!buf)
		err = -ENOMEM;
	else if (!W.running)
		err = statefile_write_bytes(path, buf, len);
	else if (strlen(path) >= sizeof(j->path))
		err = -ENAMETOOLONG;
	else {
		pthread_mutex_lock(&W.mu);
		for (q = W.queue; q; q = q->next)
			if (!strcmp(q->path, path) && q->done == done && q->arg == arg)
				break;
		if (q) { /* not started yet: it writes the newer state instead */
			free(q->buf);
			q->buf = buf;
			q->len = len;
			pthread_mutex_unlock(&W.mu);
			return 0;
		}
		pthread_mutex_unlock(&W.mu);
		j = calloc(1, sizeof(*j));
		if (!j) {
			free(buf);
			return -ENOMEM;
		}
		snprintf(j->path, sizeof(j->path), "%s", path);
		j->buf = buf;
		j->len = len;
		j->done = done;
		j->arg = arg;
		pthread_mutex_lock(&W.mu);
		*W.queue_tail = j;
		W.queue_tail = &j->next;
		pthread_cond_signal(&W.work);
		pthread_mutex_unlock(&W.mu);
		return 0;
	}
	free(buf);
	if (done)
		done(arg, err);
	return err;
}

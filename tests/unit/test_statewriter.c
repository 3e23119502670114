/* State files off the event loop (statewriter.c) and the loop's own turn measurement (loop.c).
 * A write that hangs (here: its temporary file is a FIFO nobody reads, as a disk that does not
 * answer) must not stop the loop: its timers keep firing, and the write's result comes back into
 * the loop once it ends. Writes of one file queued together end as the last one. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "harness.h"
#include "loop.h"
#include "statefile.h"
#include "statewriter.h"

static struct {
	struct loop *l;
	char fifo[PATH_MAX];
	int ticks, ticks_at_done, done_calls, done_err, released;
	pthread_t loop_thread, done_thread;
	pthread_t reader;
} T;

static void *fifo_reader(void *arg)
{
	char buf[4096];
	int fd = open(T.fifo, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	return NULL;
}

static void tick(void *arg)
{
	/* the write hangs in open(2) until a reader comes: ten ticks of the loop first */
	if (++T.ticks == 10 && !T.released) {
		T.released = 1;
		pthread_create(&T.reader, NULL, fifo_reader, NULL);
	}
}

static void done(void *arg, int err)
{
	T.done_calls++;
	T.done_err = err;
	T.ticks_at_done = T.ticks;
	T.done_thread = pthread_self();
	loop_stop(T.l);
}

static void guard(void *arg)
{
	loop_stop(T.l);
}

static void hanging_write_leaves_the_loop_running(void)
{
	char dir[] = "/tmp/pgsteer-sw-XXXXXX", path[PATH_MAX];
	struct timer t = { .fd = -1 }, g = { .fd = -1 };
	struct json_object *o = json_object_new_object();

	memset(&T, 0, sizeof(T));
	T.l = loop_new();
	CHECK(T.l && mkdtemp(dir), "setup");
	snprintf(path, sizeof(path), "%s/state.json", dir);
	/* statefile_write_bytes's temporary file: path.tmp.PID */
	snprintf(T.fifo, sizeof(T.fifo), "%s.tmp.%d", path, (int)getpid());
	CHECK_EQ(mkfifo(T.fifo, 0600), 0);
	CHECK_EQ(statewriter_start(T.l), 0);
	timer_init(&t, T.l, tick, NULL);
	timer_init(&g, T.l, guard, NULL);
	timer_arm_periodic(&t, 10);
	timer_arm(&g, 120000); /* only ends a hung test */
	json_object_object_add(o, "k", json_object_new_string("v"));
	T.loop_thread = pthread_self();
	CHECK_EQ(statewriter_write(path, o, done, NULL), 0);
	CHECK_EQ(T.done_calls, 0); /* queued, not written in the caller */
	loop_run(T.l);
	CHECK_EQ(T.done_calls, 1);
	CHECK(T.ticks_at_done >= 10, "the loop ticked %d times while the write hung", T.ticks_at_done);
	/* a FIFO cannot be fsynced: the error comes back, the file was not replaced */
	CHECK_EQ(T.done_err, -EINVAL);
	CHECK(pthread_equal(T.done_thread, T.loop_thread), "the result came back in another thread");
	CHECK(access(path, F_OK) < 0, "%s was written", path);
	if (T.released)
		pthread_join(T.reader, NULL);
	statewriter_stop();
	timer_close(&t);
	timer_close(&g);
	loop_free(T.l);
	json_object_put(o);
	unlink(T.fifo);
	rmdir(dir);
}

static int counted;

static void count(void *arg, int err)
{
	counted++;
	if (err)
		printf("    write failed: %s\n", strerror(-err));
}

/* Many writes of one file queued at once: at most as many writes, the file holds the last; after
 * statewriter_stop, writes are synchronous again. */
static void last_write_wins(void)
{
	char dir[] = "/tmp/pgsteer-sw-XXXXXX", path[PATH_MAX], err[256];
	struct loop *l = loop_new();
	struct json_object *o, *back = NULL, *v;
	int i;

	CHECK(l && mkdtemp(dir), "setup");
	snprintf(path, sizeof(path), "%s/state.json", dir);
	counted = 0;
	CHECK_EQ(statewriter_start(l), 0);
	for (i = 0; i < 100; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "n", json_object_new_int(i));
		CHECK_EQ(statewriter_write(path, o, count, NULL), 0);
		json_object_put(o);
	}
	statewriter_drain();
	CHECK(counted >= 1 && counted <= 100, "%d results for 100 writes", counted);
	CHECK_EQ(statefile_read(path, &back, err, sizeof(err)), 0);
	CHECK(back && json_object_object_get_ex(back, "n", &v) && json_object_get_int(v) == 99, "%s holds %s", path,
	      back ? json_object_to_json_string(back) : err);
	json_object_put(back);
	printf("    100 writes queued at once: %d written\n", counted);
	statewriter_stop();

	/* synchronous again: the result before the return */
	counted = 0;
	o = json_object_new_object();
	snprintf(path, sizeof(path), "%s/missing/state.json", dir);
	CHECK_EQ(statewriter_write(path, o, count, NULL), -ENOENT);
	CHECK_EQ(counted, 1);
	json_object_put(o);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	unlink(path);
	rmdir(dir);
	loop_free(l);
}

static struct loop *sl;
static int slow_calls;

static void slow_cb(void *arg)
{
	usleep(80000); /* a blocking call in the loop, as an fsync on a busy disk */
	if (++slow_calls == 2)
		loop_stop(sl);
}

/* Every turn is measured; one longer than LOOP_SLOW_TURN_MS is counted (and logged). */
static void slow_turns_counted(void)
{
	struct timer t = { .fd = -1 };
	const struct loop_stats *st;

	sl = loop_new();
	CHECK(sl != NULL, "loop_new");
	timer_init(&t, sl, slow_cb, NULL);
	timer_arm_periodic(&t, 1);
	loop_run(sl);
	st = loop_get_stats(sl);
	CHECK(st->turns >= 2, "%llu turns", (unsigned long long)st->turns);
	CHECK(st->slow_turns >= 2, "%llu slow turns", (unsigned long long)st->slow_turns);
	CHECK(st->max_turn_ns >= 80000000ull, "longest turn %llu ns", (unsigned long long)st->max_turn_ns);
	timer_close(&t);
	loop_free(sl);
}

int main(void)
{
	RUN(hanging_write_leaves_the_loop_running);
	RUN(last_write_wins);
	RUN(slow_turns_counted);
	return h_exit();
}

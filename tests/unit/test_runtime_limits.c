/* The runtime socket out of file descriptors: accept4 fails with EMFILE while a client waits, and
 * the loop must not come straight back to it (it spun at 85% CPU). Behaviour, not speed: the CPU the
 * process used while the client waited is under 5% of the time that passed (the spin took 9% to 85%), and once descriptors
 * are free again the waiting client is answered. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "harness.h"
#include "backend.h"
#include "config.h"
#include "fdlimit.h"
#include "loop.h"
#include "runtime.h"

static struct loop *l;

static void stop(void *arg)
{
	loop_stop(l);
}

static uint64_t cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000 + (uint64_t)ru.ru_stime.tv_sec * 1000 +
	       ru.ru_stime.tv_usec / 1000;
}

static void runtime_emfile_does_not_spin(void)
{
	static const struct runtime_ops ops = { 0 };
	static struct config cfg;
	static struct model m;
	char dir[] = "/tmp/pgsteer-rt-XXXXXX", path[64], err[256], buf[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit old, low;
	struct timer t = { .fd = -1 };
	struct runtime *rt;
	uint64_t c0, w0, cpu, wall;
	int fd, spare, n;
	ssize_t got;

	CHECK(config_parse("global\n interface lo\nservice s\n bind 127.0.0.100:5432\n server a 127.0.0.1:6432\n", "t.conf",
			   &cfg, err, sizeof(err)) == 0, "config: %s", err);
	model_init(&m, &cfg, now_ms(), NULL);
	l = loop_new();
	CHECK(l && mkdtemp(dir), "setup");
	snprintf(path, sizeof(path), "%s/rt.sock", dir);
	rt = runtime_new(l, path, 0600, "", &m, &ops, NULL, err, sizeof(err));
	CHECK(rt != NULL, "runtime_new: %s", err);
	if (!rt)
		return;
	timer_init(&t, l, stop, NULL);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	spare = dup(0); /* one descriptor to give back later */
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	/* no descriptor left for accept4: the limit is the next one to be handed out */
	getrlimit(RLIMIT_NOFILE, &old);
	low = old;
	low.rlim_cur = (rlim_t)(spare > fd ? spare : fd) + 1;
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit: %s", strerror(errno));
	CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0, "connect: %s", strerror(errno));
	n = (int)write(fd, "show info\n", 10);
	c0 = cpu_ms();
	w0 = now_ms();
	timer_arm(&t, 1000);
	loop_run(l);
	cpu = cpu_ms() - c0;
	wall = now_ms() - w0;
	printf("    %llu ms of CPU in %llu ms with accept4 failing (EMFILE)\n", (unsigned long long)cpu,
	       (unsigned long long)wall);
	CHECK(cpu * 20 < wall, "the loop spun: %llu ms of CPU in %llu ms", (unsigned long long)cpu,
	      (unsigned long long)wall);
	/* a descriptor free again: the waiting client is answered */
	close(spare);
	setrlimit(RLIMIT_NOFILE, &old);
	timer_arm(&t, 2000);
	loop_run(l);
	got = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	CHECK(n == 10 && got > 0, "no answer once descriptors were free (%zd)", got);
	close(fd);
	timer_close(&t);
	runtime_free(rt);
	loop_free(l);
	rmdir(dir);
}

/* RLIMIT_NOFILE is raised at start to what the configuration needs: 16 x 32 servers. */
static void fdlimit_raised_for_the_config(void)
{
	static struct config cfg;
	struct rlimit old, low = { 1024, 1024 }, now;
	char *text = NULL, err[512];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int i, j;

	fprintf(f, "global\n interface lo\n");
	for (i = 0; i < 16; i++) {
		fprintf(f, "service s%d\n bind 10.0.0.1:%d\n", i, 5432 + i);
		for (j = 0; j < 32; j++)
			fprintf(f, " server p%d 10.0.%d.%d:6432\n", j, 1 + i, 1 + j);
	}
	fclose(f);
	CHECK(config_parse(text, "big.conf", &cfg, err, sizeof(err)) == 0, "config: %s", err);
	free(text);
	CHECK(fdlimit_need(&cfg) >= 16 * 32 * 3, "need %lu", fdlimit_need(&cfg));
	getrlimit(RLIMIT_NOFILE, &old);
	low.rlim_max = old.rlim_max; /* raising the hard limit needs CAP_SYS_RESOURCE */
	if (old.rlim_max != RLIM_INFINITY && old.rlim_max < fdlimit_need(&cfg)) {
		CHECK(fdlimit_raise(&cfg, err, sizeof(err)) != 0 && strstr(err, "need "), "no clear error: %s", err);
		return;
	}
	CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0, "setrlimit: %s", strerror(errno));
	CHECK(fdlimit_raise(&cfg, err, sizeof(err)) == 0, "%s", err);
	getrlimit(RLIMIT_NOFILE, &now);
	CHECK(now.rlim_cur >= fdlimit_need(&cfg), "soft limit %llu, need %lu", (unsigned long long)now.rlim_cur,
	      fdlimit_need(&cfg));
	printf("    16x32 servers: %lu descriptors needed, soft limit raised from 1024 to %llu\n", fdlimit_need(&cfg),
	       (unsigned long long)now.rlim_cur);
	setrlimit(RLIMIT_NOFILE, &old);
}

int main(void)
{
	RUN(runtime_emfile_does_not_spin);
	RUN(fdlimit_raised_for_the_config);
	return h_exit();
}

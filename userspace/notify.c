/* systemd's service notifications through libsystemd's sd_notify: readiness, status, watchdog. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include "log.h"
#include "notify.h"

struct notifier {
	struct timer watchdog;
	int ready;
	char status[256];
};

/* The loop turns: tell the watchdog. A daemon stuck anywhere stops sending and systemd restarts it. */
static void on_watchdog(void *arg)
{
	sd_notify(0, "WATCHDOG=1");
}

struct notifier *notify_new(struct loop *l)
{
	struct notifier *n = calloc(1, sizeof(*n));
	uint64_t usec = 0;

	if (!n || timer_init(&n->watchdog, l, on_watchdog, n)) {
		free(n);
		return NULL;
	}
	/* Keep WATCHDOG_USEC in the environment: a restart in place (same PID) arms it again. */
	if (sd_watchdog_enabled(0, &usec) > 0 && usec >= 2000) {
		timer_arm_periodic(&n->watchdog, usec / 2000);
		log_debug("systemd watchdog: every %llu ms", (unsigned long long)(usec / 2000));
	}
	return n;
}

void notify_free(struct notifier *n)
{
	if (!n)
		return;
	timer_close(&n->watchdog);
	free(n);
}

void notify_stopping(struct notifier *n)
{
	if (n)
		sd_notify(0, "STOPPING=1");
}

void notify_status(struct notifier *n, const char *status)
{
	if (!n || !strcmp(n->status, status))
		return;
	snprintf(n->status, sizeof(n->status), "%s", status);
	sd_notifyf(0, "STATUS=%s", n->status);
}

void notify_ready(struct notifier *n, const char *status)
{
	if (!n)
		return;
	if (n->ready) {
		notify_status(n, status);
		return;
	}
	n->ready = 1;
	snprintf(n->status, sizeof(n->status), "%s", status);
	sd_notifyf(0, "READY=1\nSTATUS=%s", n->status);
}

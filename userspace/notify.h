/* systemd's service notifications (Type=notify): READY=1 once the node knows its role, STATUS=
 * lines, WATCHDOG=1 from the event loop. Without NOTIFY_SOCKET every call does nothing. */
#ifndef PGS_NOTIFY_H
#define PGS_NOTIFY_H

#include "loop.h"

struct notifier;

/* Arms the watchdog timer (half of WatchdogSec=) when the service manager asked for one. NULL only
 * when out of memory or timers; the daemon runs on without notifications then. */
struct notifier *notify_new(struct loop *l);
void notify_free(struct notifier *n);
/* STOPPING=1: the daemon leaves (not sent for a restart in place, which keeps the PID). */
void notify_stopping(struct notifier *n);
/* READY=1 with STATUS=, the first time only; later calls update the status. */
void notify_ready(struct notifier *n, const char *status);
/* STATUS=, sent only when it changed. */
void notify_status(struct notifier *n, const char *status);

#endif

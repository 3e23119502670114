/* pgsteerd's signals: a signalfd in the event loop, so every signal is handled in a loop turn and
 * the same way in the foreground and as a daemon. */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include "backend.h"
#include "log.h"
#include "loop.h"
#include "pgsteerd.h"
#include "vrrp.h"

/* SIGUSR1: one line of state in the log (keepalived dumps its state on SIGUSR1; HAProxy's soft stop
 * is SIGTERM here, which never drops a connection). */
static void log_status(struct pgsteerd *d)
{
	const struct loop_stats *ls = loop_get_stats(d->loop);
	int i, j, up = 0, all = 0;

	daemon_refresh(d);
	for (i = 0; i < d->model.nservices; i++)
		for (j = 0; j < d->model.services[i].nservers; j++, all++)
			up += server_class(&d->model.services[i].servers[j]) == CLASS_UP;
	log_info("status: pgsteerd %s, %s, steering %s, %d/%d servers UP, %llu flows of %llu, %llu alerts queued, "
		 "event loop %llu turns, %llu over %d ms, longest %llu ms", PGSTEER_VERSION,
		 d->vrrp ? vrrp_state_name(vrrp_state_get(d->vrrp)) : "no VRRP", d->steering ? "on" : "off", up, all,
		 (unsigned long long)d->model.flows, (unsigned long long)d->model.flows_max,
		 (unsigned long long)d->model.alerts.queued, (unsigned long long)ls->turns,
		 (unsigned long long)ls->slow_turns, LOOP_SLOW_TURN_MS, (unsigned long long)(ls->max_turn_ns / 1000000));
}

static void on_signal(void *arg, uint32_t events)
{
	struct pgsteerd *d = arg;
	struct signalfd_siginfo si;

	if (read(d->sigfd, &si, sizeof(si)) != sizeof(si))
		return;
	switch (si.ssi_signo) {
	case SIGHUP: {
		char err[512];

		daemon_reload(d, err, sizeof(err));
		break;
	}
	case SIGUSR2: {
		char err[512];

		daemon_restart(d, err, sizeof(err));
		break;
	}
	case SIGUSR1:
		log_status(d);
		break;
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		log_info("signal %d (%s): stopping; the datapath stays attached with its flows%s", si.ssi_signo,
			 sigabbrev_np(si.ssi_signo), d->vrrp ? ", the VIP goes to the peer" : "");
		if (d->vrrp)
			vrrp_shutdown(d->vrrp);
		loop_stop(d->loop);
		break;
	default:
		/* a signal whose default would end the process without the VIP's hand-over */
		log_info("signal %d (%s) from pid %u ignored", si.ssi_signo, sigabbrev_np(si.ssi_signo), si.ssi_pid);
		break;
	}
}

/* The signals pgsteerd acts on arrive through a signalfd in the loop. A signalfd wakes epoll only in
 * the process that added it (its wait queue is that process's signal handlers'), so the daemonized
 * child replaces the one its parent made: setup_signals runs again after daemon(). Every signal whose
 * default action ends the process, and that a process can catch and is not a fault (SIGSEGV...),
 * comes here too: none may stop pgsteerd without the VIP's hand-over (SIGKILL still can). */
int daemon_setup_signals(struct pgsteerd *d)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGALRM, SIGVTALRM,
				    SIGPROF, SIGIO, SIGPWR, SIGSTKFLT };
	sigset_t set;
	size_t i;

	sigemptyset(&set);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&set, sigs[i]);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (d->sigfd > 0) {
		loop_del(d->loop, d->sigfd);
		close(d->sigfd);
	}
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->sigfd < 0)
		return -errno;
	return loop_add(d->loop, d->sigfd, EPOLLIN, on_signal, d);
}

/* pgsteerd: the controller. Loads and steers the datapath, checks the servers, holds the VIP with
 * VRRP, serves stats and the runtime API, and alerts. One process, one event loop. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "alert.h"
#include "backend.h"
#include "checker.h"
#include "config.h"
#include "config_warn.h"
#include "connlog.h"
#include "datapath.h"
#include "dpsync.h"
#include "fdlimit.h"
#include "hooks.h"
#include "guard.h"
#include "log.h"
#include "loop.h"
#include "netlink.h"
#include "notify.h"
#include "role.h"
#include "runtime.h"
#include "persist.h"
#include "pgsteerd.h"
#include "stats.h"
#include "stats_auth.h"
#include "statewriter.h"
#include "sync.h"
#include "cancel.h"
#include "policy.h"
#include "synflood.h"
#include "vrrp.h"

static void usage(FILE *f, int status)
{
	fprintf(f,
		"usage: pgsteerd [-d] [-n] [-v...] [-f FILE]\n"
		"  -f, --config FILE  configuration (default /etc/pgsteer/pgsteer.conf)\n"
		"  -d, --foreground   stay in the foreground (as under systemd)\n"
		"  -n, --check        check the configuration, print \"configuration OK\" and exit\n"
		"  -v, --verbose      more logging (-vv adds libbpf's own messages); the short form with -d or -n\n"
		"  -V, --version      print the version and exit\n"
		"  -h, --help         this text\n"
		"Signals: SIGHUP reloads the configuration (a bad file keeps the running one); SIGUSR2 restarts\n"
		"in place without dropping a connection or the VIP (pgsteer restart); SIGTERM (SIGINT, SIGQUIT)\n"
		"stops: the datapath stays attached with its flows, and with VRRP the VIP goes to the peer\n"
		"(priority 0); SIGUSR1 logs one line of state; SIGALRM and other stray signals are ignored.\n"
		"'pgsteer detach' removes the datapath.\n");
	exit(status);
}

/* --- the model and the datapath -------------------------------------------------------------- */

static int set_steering(struct pgsteerd *d, int on)
{
	int r = datapath_set_active(d->dp, on);

	if (r) {
		log_warnx("cannot turn steering %s: %s", on ? "on" : "off", strerror(-r));
		return r;
	}
	if (d->steering != on) {
		log_info("steering %s", on ? "on" : "off");
		d->steering = on;
		ctl_tell_steering(on);
	}
	return 0;
}

/* Pull the datapath's counters and the VRRP and alert figures into the model. */
void daemon_refresh(void *arg)
{
	struct pgsteerd *d = arg;
	const struct loop_stats *ls = loop_get_stats(d->loop);

	d->model.loop.turns = ls->turns;
	d->model.loop.slow_turns = ls->slow_turns;
	d->model.loop.max_turn_us = ls->max_turn_ns / 1000;
	dpsync_refresh(d->dp, &d->model);
	if (d->vrrp)
		vrrp_fill(d->vrrp, &d->model);
	alerter_fill(d->alerter, &d->model);
}

/* --- timers and signals --------------------------------------------------------------------- */

/* What systemd shows (STATUS=), and READY=1 once the datapath is attached, the daemon answers and
 * the node knows its VRRP role. */
static void notify_update(struct pgsteerd *d)
{
	enum vrrp_state st = d->vrrp ? vrrp_state_get(d->vrrp) : VRRP_MASTER;
	int i, j, up = 0, all = 0;
	char status[128];

	if (!d->dp || !d->rt || st == VRRP_INIT)
		return;
	for (i = 0; i < d->model.nservices; i++)
		for (j = 0; j < d->model.services[i].nservers; j++, all++)
			up += server_class(&d->model.services[i].servers[j]) == CLASS_UP;
	snprintf(status, sizeof(status), "%s%s; %d/%d servers UP", d->vrrp ? "VRRP " : "",
		 d->vrrp ? vrrp_state_name(st) : "steering (no VRRP)", up, all);
	notify_ready(d->notify, status);
}

static void on_tick(void *arg)
{
	struct pgsteerd *d = arg;

	daemon_gc_step(d);
	/* As master: steering on and the VIP in place, whatever happened behind our back. */
	if (d->vrrp && vrrp_state_get(d->vrrp) == VRRP_MASTER) {
		int active = 1;

		if (!datapath_get_active(d->dp, &active) && !active) {
			log_warnx("steering was off while this node is master: turning it on");
			set_steering(d, 1);
		}
		vrrp_reassert(d->vrrp);
	}
	dpsync_slowstart(d->dp, &d->model, now_ms(), TICK_MS);
	ctl_tell_tick(now_ms());
	daemon_refresh(d);
	notify_update(d);
}

/* --- VRRP ------------------------------------------------------------------------------------------ */

static void on_vrrp_steer(void *arg, int on)
{
	struct pgsteerd *d = arg;

	if (on && d->dp && !d->steering)
		daemon_gc_takeover(d);
	d->want_steering = on;
	role_steer(d->role, on);
	if (!d->dp)
		return; /* applied once the datapath is open */
	if (set_steering(d, on) && on)
		vrrp_set_fault(d->vrrp, 1, "cannot turn steering on");
}

static void on_vrrp_state(void *arg, enum vrrp_state from, enum vrrp_state to, enum vrrp_cause cause, uint32_t master,
			  const char *why)
{
	struct pgsteerd *d = arg;

	role_transition(d->role, from, to, cause, master, why);
	notify_update(d);
}

static const struct vrrp_hooks vrrp_hooks = {
	.steer = on_vrrp_steer,
	.state = on_vrrp_state,
};

/* VRRP starts before the datapath is opened on a restart in place, so the peer keeps hearing a
 * master while the new programs are loaded (the old ones steer meanwhile). */
static void start_vrrp(struct pgsteerd *d, int resume)
{
	char err[512];

	d->vrrp = vrrp_new(d->loop, &d->cfg, &vrrp_hooks, d, err, sizeof(err));
	if (!d->vrrp)
		fatalx("%s", err);
	role_set_vrrp(d->role, d->vrrp);
	daemon_step_down_at_exit(d->vrrp);
	if (resume)
		vrrp_resume(d->vrrp);
	else
		vrrp_start(d->vrrp);
}

static int on_runtime_reload(void *arg, char *err, size_t errlen)
{
	return daemon_reload(arg, err, errlen);
}

static int on_runtime_restart(void *arg, char *err, size_t errlen)
{
	return daemon_restart(arg, err, errlen);
}

static void on_passive_tick(void *arg)
{
	struct pgsteerd *d = arg;

	role_poll(d->role);
	daemon_poll_passive(d);
}

static const struct runtime_ops runtime_ops = {
	.refresh = daemon_refresh,
	.changed = daemon_server_changed,
	.reload = on_runtime_reload,
	.restart = on_runtime_restart,
};

int main(int argc, char **argv)
{
	static struct pgsteerd d;
	const char *conf = "/etc/pgsteer/pgsteer.conf";
	const char *was = getenv("PGSTEER_HANDOVER");
	int handover = was != NULL;
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'f' },
		{ "foreground", no_argument, NULL, 'd' },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int foreground = 0, check_only = 0, verbose = 0, short_v = 0, resume = 0, opt, r;
	struct stats_auth *stats_users = NULL;
	char err[4096]; /* every error of the file (pgsteerd -n) */
	ssize_t n;

	n = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1);
	if (n > 0)
		d.self[n] = '\0';
	/* Set by the process this one replaces (restart in place): what it was. */
	resume = handover && !strcmp(was, "master");
	if (handover)
		foreground = 1; /* already a daemon: keep the PID the supervisor knows */
	unsetenv("PGSTEER_HANDOVER");

	while ((opt = getopt_long(argc, argv, "f:dnvVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f':
			conf = optarg;
			break;
		case 'd':
			foreground = 1;
			break;
		case 'n':
			check_only = 1;
			break;
		case 'v':
			short_v = 1;
			/* fall through */
		case 'L':
			verbose++;
			break;
		case 'V':
			printf("pgsteerd %s\n", PGSTEER_VERSION);
			return 0;
		case 'h':
			usage(stdout, 0);
			break;
		default:
			usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	/* -v is the version flag of haproxy and keepalived: alone it must not start a daemon. */
	if (short_v && !foreground && !check_only) {
		fprintf(stderr, "pgsteerd: -v is more logging, with -d or -n only (--verbose daemonizes); "
				"the version is -V\n");
		return 2;
	}
	log_init(verbose);
	libbpf_set_print(log_libbpf);
	d.verbose = verbose;

	r = config_load(conf, &d.cfg, err, sizeof(err));
	if (r) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	{
		struct cfg_host host;

		cfg_host_probe(&d.cfg, &host);
		if (config_warnings(&d.cfg, conf, &host, err, sizeof(err)))
			fprintf(stderr, "%s\n", err);
	}
	/* The stats users are read now: a file that is missing or wrong fails the check and the start. */
	if (stats_auth_config(&d.cfg, &stats_users, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	if (check_only) {
		stats_auth_free(stats_users);
		printf("configuration OK\n");
		return 0;
	}

	if (fdlimit_raise(&d.cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	d.loop = loop_new();
	if (!d.loop)
		fatal("creating the event loop");
	d.notify = notify_new(d.loop);
	if (daemon_setup_signals(&d))
		fatal("setting up signals");
	if (mkdir(d.cfg.state_dir, 0700) && errno != EEXIST)
		fatal("state directory %s", d.cfg.state_dir);
	/* One pgsteerd per state directory, before anything touches the datapath or the VIP. */
	r = persist_lock(d.cfg.state_dir);
	if (r == -EWOULDBLOCK)
		fatalx("another pgsteerd runs with state directory %s (%s/pgsteerd.lock is locked)", d.cfg.state_dir,
		       d.cfg.state_dir);
	else if (r < 0)
		fatalx("%s/pgsteerd.lock: %s", d.cfg.state_dir, strerror(-r));
	/* Without a webhook the alerter only logs (and still tracks what it told). */
	d.alerter = alerter_new(d.loop, &d.cfg, err, sizeof(err));
	if (!d.alerter)
		log_warnx("alerts are off: %s", err);
	alerter_quiet(d.alerter, d.cfg.vrrp.enabled);
	d.role = role_new(d.loop, &d.cfg, &d.model);
	if (!d.role)
		fatal("creating timers");
	role_set_alerter(d.role, d.alerter);
	if (resume && d.cfg.vrrp.enabled)
		start_vrrp(&d, 1);

	/* bpf_fib_lookup answers only on an interface that forwards (else every steered packet would be
	 * dropped as drop_fib): the node routes the VIP's traffic. */
	if (guard_forwarding(d.cfg.interface) == 1)
		log_info("enabled net.ipv4.conf.%s.forwarding: the datapath's route lookups need it", d.cfg.interface);
	r = datapath_open(&d.dp, &d.cfg, err, sizeof(err));
	if (r)
		fatalx("%s", err);
	if (guard_start(d.dp, d.cfg.interface))
		fatalx("registering the guard's hooks");
	log_info("datapath attached to %s (%s), pinned under %s", d.cfg.interface, attach_name(d.cfg.attach), d.cfg.pin_root);
	if (d.vrrp) {
		set_steering(&d, d.want_steering);
		vrrp_advert_now(d.vrrp);
	}

	{
		struct nl_iface ifc;

		r = nl_iface_get(d.cfg.interface, d.cfg.vrrp.enabled ? d.cfg.vrrp.vip : d.cfg.services[0].vip, &ifc);
		if (r)
			fatalx("interface %s: %s", d.cfg.interface, strerror(-r));
		d.node_addr = ifc.addr;
		role_set_self(d.role, d.node_addr);
	}
	{
		static struct model prev;

		dpsync_seed(d.dp, &prev);
		model_init(&d.model, &d.cfg, now_ms(), &prev);
	}
	persist_load_changes(&d.model, d.cfg.state_dir);
	if (handover)
		persist_load_handover(&d.model, d.cfg.state_dir);
	dpsync_model(d.dp, &d.model);
	dpsync_drop_unknown(d.dp, &d.cfg);
	dpsync_neighbours(d.dp, &d.model, d.cfg.interface);
	if (policy_start(d.dp, &d.model) || cancel_start(d.loop, d.dp, &d.model) || synflood_start(d.dp, &d.model, d.alerter) ||
	    connlog_start(d.loop, d.dp, &d.model))
		fatal("starting source policy, cancel routing, SYN-flood reports and the connection log");
	/* Without VRRP the VIP is managed outside pgsteerd and this node always steers. */
	if (!d.cfg.vrrp.enabled)
		set_steering(&d, 1);
	else if (!d.vrrp)
		start_vrrp(&d, 0);
	if (sync_start(d.loop, &d.cfg, &d.model, d.dp, d.vrrp, d.node_addr, err, sizeof(err)) < 0)
		fatalx("%s", err);

	d.rt = runtime_new(d.loop, d.cfg.runtime_socket, d.cfg.runtime_mode, d.cfg.runtime_group, &d.model, &runtime_ops, &d, err, sizeof(err));
	if (!d.rt)
		fatalx("%s", err);
	if (d.cfg.stats_enabled) {
		d.stats = stats_http_start(d.loop, d.cfg.stats_addr, d.cfg.stats_port, &d.model, stats_users, daemon_refresh, &d,
					   err, sizeof(err));
		if (!d.stats)
			fatalx("%s", err);
	}
	if (timer_init(&d.tick, d.loop, on_tick, &d) || timer_init(&d.passive_tick, d.loop, on_passive_tick, &d) ||
	    daemon_gc_init(&d))
		fatal("creating timers");
	timer_arm_periodic(&d.tick, TICK_MS);
	timer_arm_periodic(&d.passive_tick, PASSIVE_TICK_MS);
	daemon_start_checks(&d);
	daemon_refresh(&d);

	/* In the background the log still goes where stderr points (a file, the journal). */
	if (!foreground && (daemon(0, 1) || daemon_setup_signals(&d)))
		fatal("daemon");
	/* From here state files are written off the loop (after daemon(): a thread dies in a fork). */
	r = statewriter_start(d.loop);
	if (r)
		log_warnx("state files are written in the event loop: no writer thread: %s", strerror(-r));
	log_info("pgsteerd %s running: %d service(s), runtime socket %s", PGSTEER_VERSION, d.model.nservices,
		 d.cfg.runtime_socket);
	notify_update(&d);

	r = loop_run(d.loop);
	if (r)
		log_warnx("event loop: %s", strerror(-r));
	/* Every queued state file on disk before the handover's or the next start's read. */
	statewriter_stop();
	if (!d.handover)
		notify_stopping(d.notify);

	ctl_tell_stopping(d.handover);
	checker_free(d.checker);
	stats_http_stop(d.stats);
	runtime_free(d.rt);
	timer_close(&d.tick);
	timer_close(&d.passive_tick);
	timer_close(&d.gc_now);
	if (d.handover) {
		if (d.vrrp)
			vrrp_advert_now(d.vrrp); /* the peer's master-down timer starts afresh */
		persist_save_handover(&d.model, d.cfg.state_dir);
		setenv("PGSTEER_HANDOVER", d.vrrp && vrrp_state_get(d.vrrp) == VRRP_MASTER ? "master" : "backup", 1);
	}
	if (d.vrrp) {
		daemon_step_down_at_exit(NULL);
		vrrp_free(d.vrrp);
	}
	role_free(d.role);
	alerter_free(d.alerter);
	notify_free(d.notify);
	datapath_close(d.dp);
	loop_free(d.loop);
	if (d.handover) {
		daemon_restart_exec(&d);
		return 1;
	}
	log_info("stopped");
	return r ? 1 : 0;
}

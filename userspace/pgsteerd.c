/* pgsteerd: the controller. Loads and steers the datapath, checks the servers, holds the VIP with
 * VRRP, serves stats and the runtime API, and alerts. One process, one event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <bpf/libbpf.h>
#include "alert.h"
#include "backend.h"
#include "check.h"
#include "checker.h"
#include "config.h"
#include "datapath.h"
#include "dpsync.h"
#include "hooks.h"
#include "log.h"
#include "loop.h"
#include "netlink.h"
#include "notify.h"
#include "role.h"
#include "runtime.h"
#include "persist.h"
#include "stats.h"
#include "vrrp.h"

#define TICK_MS 1000        /* clean-up, counters, slow start */
#define PASSIVE_TICK_MS 100 /* how fast a server that refused a SYN is re-checked */

struct pgsteerd {
	struct loop *loop;
	struct config cfg;
	struct model model;
	struct datapath *dp;
	struct runtime *rt;
	struct checker *checker;
	struct stats_http *stats;
	struct vrrp *vrrp;
	struct alerter *alerter;
	struct notifier *notify;
	uint32_t node_addr;     /* the interface's own address: checks and adverts come from it */
	struct role *role;
	struct timer tick, passive_tick;
	int sigfd;
	int steering;           /* what the datapath's switch is set to */
	int want_steering;      /* what VRRP asked for before the datapath was open */
	int handover;           /* SIGUSR2: restart in place */
	char self[PATH_MAX];    /* our executable, for the restart in place */
	int verbose;
};

/* The VRRP instance, for the exit path: a process that dies after resuming the MASTER role (a
 * failed restart in place) steps down properly instead of holding the VIP without advertising. */
static struct vrrp *exit_vrrp;

static void step_down_at_exit(void)
{
	if (exit_vrrp && vrrp_state_get(exit_vrrp) == VRRP_MASTER)
		vrrp_shutdown(exit_vrrp);
}

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
		"in place without dropping a connection or the VIP (pgsteer restart); SIGTERM stops: the\n"
		"datapath stays attached with its flows, and with VRRP the VIP goes to the peer (priority 0).\n"
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
static void refresh(void *arg)
{
	struct pgsteerd *d = arg;

	dpsync_refresh(d->dp, &d->model);
	if (d->vrrp)
		vrrp_fill(d->vrrp, &d->model);
	alerter_fill(d->alerter, &d->model);
}

static void on_runtime_change(void *arg, struct server_rt *s, enum rt_change what, enum srv_class before)
{
	struct pgsteerd *d = arg;

	if (what == RT_SHUTDOWN_SESSIONS) {
		dpsync_shutdown_sessions(d->dp, s, d->steering);
		return;
	}
	if (what == RT_ADMIN && d->checker)
		checker_admin(d->checker, s);
	dpsync_server(d->dp, s, now_ms());
	ctl_tell_server(s);
	persist_save_changes(&d->model, d->cfg.state_dir);
	alert_server(d->alerter, s, before, server_class(s));
}

/* --- health checks --------------------------------------------------------------------------- */

static void on_check_changed(void *arg, struct server_rt *s, int dir)
{
	struct pgsteerd *d = arg;
	char why[400], st[32];

	check_result_str(&s->last, why, sizeof(why));
	if (dir > 0) {
		log_info("%s/%s is UP (%s), %s", s->svc->cfg.name, s->cfg.name, server_status(s, st, sizeof(st)), why);
		if (s->passive_ns)
			dpsync_clear_passive(d->dp, s);
	} else {
		log_warnx("%s/%s is DOWN, %s", s->svc->cfg.name, s->cfg.name, why);
		if (s->svc->cfg.shutdown_sessions)
			dpsync_shutdown_sessions(d->dp, s, d->steering);
	}
	dpsync_server(d->dp, s, now_ms());
	ctl_tell_server(s);
}

static void on_checked(void *arg, struct server_rt *s)
{
	struct pgsteerd *d = arg;

	/* The alerter remembers what it last announced (across restarts too): this tells a change of
	 * class once, including one that happened while pgsteerd was stopped. After taking over from a
	 * live peer, the first check's class is the peer's to have told. */
	if (s->adopt_next)
		alert_adopt(d->alerter, s);
	else
		alert_server(d->alerter, s, s->reported, server_class(s));
	s->adopt_next = 0;
	s->reported = server_class(s);

	/* A refusal the check does not confirm was transient: back into selection. */
	if (s->last.ok && s->passive_ns) {
		log_info("%s/%s passed its check after refusing a connection: back in selection", s->svc->cfg.name, s->cfg.name);
		dpsync_clear_passive(d->dp, s);
	}
}

static const struct checker_hooks checker_hooks = {
	.changed = on_check_changed,
	.checked = on_checked,
};

static void start_checks(struct pgsteerd *d)
{
	d->checker = checker_new(d->loop, &d->model, d->node_addr, &checker_hooks, d);
	if (!d->checker)
		fatal("starting health checks");
}

/* bpf_fib_lookup answers only for interfaces that forward (else every steered packet would be
 * dropped as drop_fib): the node routes the VIP's traffic, so it must forward on its interface. */
static void enable_forwarding(const char *ifname)
{
	char path[PATH_MAX], v = '0';
	FILE *f;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/forwarding", ifname);
	f = fopen(path, "r+");
	if (!f) {
		log_warn("cannot read %s", path);
		return;
	}
	if (fread(&v, 1, 1, f) == 1 && v == '1') {
		fclose(f);
		return;
	}
	rewind(f);
	if (fputs("1\n", f) < 0 || fclose(f))
		log_warnx("cannot enable forwarding on %s (%s): steered packets will be dropped (drop_fib)", ifname, path);
	else
		log_info("enabled net.ipv4.conf.%s.forwarding: the datapath's route lookups need it", ifname);
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
	unsigned pct;
	int r;

	r = dpsync_gc(d->dp, &d->cfg, &d->model, &pct);
	if (r < 0)
		log_warnx("flow table clean-up failed: %s", strerror(-r));
	else if (r)
		alert_flow_table(d->alerter, pct);
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
	refresh(d);
	notify_update(d);
}

static void on_refused(void *arg, struct server_rt *s)
{
	struct pgsteerd *d = arg;

	log_info("%s/%s refused a connection: out of selection, checking it now", s->svc->cfg.name, s->cfg.name);
	if (d->checker && s->checked)
		checker_kick(d->checker, s);
}

static void on_passive_tick(void *arg)
{
	struct pgsteerd *d = arg;

	role_poll(d->role);
	dpsync_poll_passive(d->dp, &d->model, on_refused, d);
}

/* --- VRRP ------------------------------------------------------------------------------------------ */

static void on_vrrp_steer(void *arg, int on)
{
	struct pgsteerd *d = arg;

	if (on && d->dp && !d->steering)
		dpsync_purge_stale(d->dp);
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
	exit_vrrp = d->vrrp;
	atexit(step_down_at_exit);
	if (resume)
		vrrp_resume(d->vrrp);
	else
		vrrp_start(d->vrrp);
}

static int reload(struct pgsteerd *d, char *err, size_t errlen)
{
	static struct config fresh;
	int r = config_load(d->cfg.path, &fresh, err, errlen), stats_changed, alerts_changed;

	if (r) {
		log_warnx("reload failed, keeping the running configuration: %s", err);
		return r;
	}
	if (strcmp(fresh.interface, d->cfg.interface) || fresh.attach != d->cfg.attach ||
	    strcmp(fresh.pin_root, d->cfg.pin_root) || fresh.flow_table_size != d->cfg.flow_table_size ||
	    fresh.snat_min != d->cfg.snat_min || fresh.snat_max != d->cfg.snat_max ||
	    strcmp(fresh.runtime_socket, d->cfg.runtime_socket) || strcmp(fresh.state_dir, d->cfg.state_dir)) {
		snprintf(err, errlen, "interface, attach, pin-root, snat-ports, runtime-socket and state-dir change with a "
			 "restart (pgsteer restart), flow-table-size only after 'pgsteer detach'; keeping the running "
			 "configuration");
		log_warnx("reload: %s", err);
		return -EINVAL;
	}
	if (memcmp(&fresh.vrrp, &d->cfg.vrrp, sizeof(fresh.vrrp))) {
		/* The VRRP instance keeps the settings it started with; changing them live would mean a
		 * failover nobody asked for. */
		log_warnx("reload: vrrp section changes take effect at the next restart (pgsteer restart)");
		fresh.vrrp = d->cfg.vrrp;
	}
	log_info("reload: configuration %s is valid, applying it", d->cfg.path);
	/* Listeners and the alert queue are only rebuilt when their own settings changed: rebuilding
	 * would drop a stats poll or re-send an alert in flight. */
	stats_changed = fresh.stats_enabled != d->cfg.stats_enabled || fresh.stats_addr != d->cfg.stats_addr ||
			fresh.stats_port != d->cfg.stats_port;
	alerts_changed = memcmp(&fresh.alert, &d->cfg.alert, sizeof(fresh.alert)) ||
			 strcmp(fresh.node_name, d->cfg.node_name);
	/* Services whose address changed or went away leave the datapath, with their neighbours. */
	dpsync_drop_changed(d->dp, &d->cfg, &fresh);
	d->cfg = fresh;
	{
		static struct model old;

		checker_free(d->checker);
		d->checker = NULL;
		old = d->model;
		model_init(&d->model, &d->cfg, old.start_ms, &old);
		persist_carry_over(&d->model, &old);
	}
	dpsync_model(d->dp, &d->model);
	dpsync_neighbours(d->dp, &d->model, d->cfg.interface);
	runtime_set_model(d->rt, &d->model);
	start_checks(d);
	if (stats_changed) {
		stats_http_stop(d->stats);
		d->stats = NULL;
		if (d->cfg.stats_enabled) {
			d->stats = stats_http_start(d->loop, d->cfg.stats_addr, d->cfg.stats_port, &d->model, refresh, d,
						    err, errlen);
			if (!d->stats)
				log_warnx("reload: stats listener: %s", err);
		}
	}
	if (alerts_changed) {
		alerter_free(d->alerter);
		d->alerter = alerter_new(d->loop, &d->cfg, err, errlen);
		if (!d->alerter)
			log_warnx("reload: alerts are off: %s", err);
		alerter_quiet(d->alerter, d->vrrp && !d->steering);
		role_set_alerter(d->role, d->alerter);
	}
	ctl_tell_reloaded();
	log_info("reload: done");
	return 0;
}

static int on_runtime_reload(void *arg, char *err, size_t errlen)
{
	return reload(arg, err, errlen);
}

/* A restart in place re-reads the config: refuse it while the config would not start. */
static int restart_check(struct pgsteerd *d, char *err, size_t errlen)
{
	static struct config fresh;
	int r = config_load(d->cfg.path, &fresh, err, errlen);

	if (r)
		return r;
	if (fresh.flow_table_size != d->cfg.flow_table_size) {
		snprintf(err, errlen, "flow-table-size changed (%u -> %u): the pinned flow table keeps its size across "
			 "restarts; stop pgsteerd, 'pgsteer detach' (drops live flows), then start it",
			 d->cfg.flow_table_size, fresh.flow_table_size);
		return -EINVAL;
	}
	/* The executable that will take over (an upgrade may have replaced it) must accept the config. */
	{
		char cmd[2 * PATH_MAX + 64];
		int rc;

		snprintf(cmd, sizeof(cmd), "'%s' -n -f '%s' > /dev/null 2>&1", d->self, d->cfg.path);
		rc = system(cmd);
		if (rc != 0) {
			snprintf(err, errlen, "%s -n -f %s fails (status %d): the new process would not start", d->self,
				 d->cfg.path, rc);
			return -EINVAL;
		}
	}
	return 0;
}

static int on_runtime_restart(void *arg, char *err, size_t errlen)
{
	struct pgsteerd *d = arg;
	int r = restart_check(d, err, errlen);

	if (r) {
		log_warnx("restart refused, pgsteerd keeps running: %s", err);
		return r;
	}
	log_info("restarting in place: a fresh pgsteerd takes over the datapath%s", d->vrrp ? " and the VRRP role" : "");
	d->handover = 1;
	loop_stop(d->loop);
	return 0;
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

		reload(d, err, sizeof(err));
		break;
	}
	case SIGUSR2: {
		char err[512];

		on_runtime_restart(d, err, sizeof(err));
		break;
	}
	case SIGTERM:
	case SIGINT:
		log_info("signal %d: stopping; the datapath stays attached with its flows%s", si.ssi_signo,
			 d->vrrp ? ", the VIP goes to the peer" : "");
		if (d->vrrp)
			vrrp_shutdown(d->vrrp);
		loop_stop(d->loop);
		break;
	}
}

/* The signals pgsteerd acts on arrive through a signalfd in the loop. A signalfd wakes epoll only in
 * the process that added it (its wait queue is that process's signal handlers'), so the daemonized
 * child replaces the one its parent made: setup_signals runs again after daemon(). */
static int setup_signals(struct pgsteerd *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
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

static const struct runtime_ops runtime_ops = {
	.refresh = refresh,
	.changed = on_runtime_change,
	.reload = on_runtime_reload,
	.restart = on_runtime_restart,
};

int main(int argc, char **argv)
{
	static struct pgsteerd d;
	const char *conf = "/etc/pgsteer/pgsteer.conf";
	char *handover = NULL;
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
	char err[1024];
	ssize_t n;

	n = readlink("/proc/self/exe", d.self, sizeof(d.self) - 1);
	if (n > 0)
		d.self[n] = '\0';
	/* Set by the process this one replaces (restart in place): what it was. */
	if (getenv("PGSTEER_HANDOVER"))
		handover = strdup(getenv("PGSTEER_HANDOVER"));
	resume = handover && !strcmp(handover, "master");
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
	if (check_only) {
		printf("configuration OK\n");
		return 0;
	}

	d.loop = loop_new();
	if (!d.loop)
		fatal("creating the event loop");
	d.notify = notify_new(d.loop);
	if (setup_signals(&d))
		fatal("setting up signals");
	if (mkdir(d.cfg.state_dir, 0700) && errno != EEXIST)
		fatal("state directory %s", d.cfg.state_dir);
	/* One pgsteerd per state directory, before anything touches the datapath or the VIP. */
	{
		char lock[PATH_MAX];
		int fd;

		snprintf(lock, sizeof(lock), "%s/pgsteerd.lock", d.cfg.state_dir);
		fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			fatal("%s", lock);
		if (flock(fd, LOCK_EX | LOCK_NB))
			fatalx("another pgsteerd runs with state directory %s (%s is locked)", d.cfg.state_dir, lock);
	}
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

	enable_forwarding(d.cfg.interface);
	r = datapath_open(&d.dp, &d.cfg, err, sizeof(err));
	if (r)
		fatalx("%s", err);
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
	/* Without VRRP the VIP is managed outside pgsteerd and this node always steers. */
	if (!d.cfg.vrrp.enabled)
		set_steering(&d, 1);
	else if (!d.vrrp)
		start_vrrp(&d, 0);

	d.rt = runtime_new(d.loop, d.cfg.runtime_socket, &d.model, &runtime_ops, &d, err, sizeof(err));
	if (!d.rt)
		fatalx("%s", err);
	if (d.cfg.stats_enabled) {
		d.stats = stats_http_start(d.loop, d.cfg.stats_addr, d.cfg.stats_port, &d.model, refresh, &d, err, sizeof(err));
		if (!d.stats)
			fatalx("%s", err);
	}
	if (timer_init(&d.tick, d.loop, on_tick, &d) || timer_init(&d.passive_tick, d.loop, on_passive_tick, &d))
		fatal("creating timers");
	timer_arm_periodic(&d.tick, TICK_MS);
	timer_arm_periodic(&d.passive_tick, PASSIVE_TICK_MS);
	start_checks(&d);
	refresh(&d);

	/* In the background the log still goes where stderr points (a file, the journal). */
	if (!foreground && (daemon(0, 1) || setup_signals(&d)))
		fatal("daemon");
	log_info("pgsteerd %s running: %d service(s), runtime socket %s", PGSTEER_VERSION, d.model.nservices,
		 d.cfg.runtime_socket);
	notify_update(&d);

	r = loop_run(d.loop);
	if (r)
		log_warnx("event loop: %s", strerror(-r));
	if (!d.handover)
		notify_stopping(d.notify);

	ctl_tell_stopping(d.handover);
	checker_free(d.checker);
	stats_http_stop(d.stats);
	runtime_free(d.rt);
	timer_close(&d.tick);
	timer_close(&d.passive_tick);
	if (d.handover) {
		if (d.vrrp)
			vrrp_advert_now(d.vrrp); /* the peer's master-down timer starts afresh */
		persist_save_handover(&d.model, d.cfg.state_dir);
		setenv("PGSTEER_HANDOVER", d.vrrp && vrrp_state_get(d.vrrp) == VRRP_MASTER ? "master" : "backup", 1);
	}
	if (d.vrrp) {
		exit_vrrp = NULL;
		vrrp_free(d.vrrp);
	}
	role_free(d.role);
	alerter_free(d.alerter);
	notify_free(d.notify);
	datapath_close(d.dp);
	loop_free(d.loop);
	if (d.handover) {
		/* Everything is closed (and close-on-exec besides): the datapath, the VIP and the flows
		 * stay as they are while the new image takes them over. The config by its absolute path:
		 * a daemon's working directory is /. */
		char *args[8] = { d.self, "-d", "-f", d.cfg.path }, *v[] = { "-v", "-vv" };
		int nargs = 4;

		if (d.verbose)
			args[nargs++] = v[d.verbose > 1];
		args[nargs] = NULL;
		execv(d.self, args);
		log_warn("restart in place: exec %s", d.self);
		/* Nobody takes over: stop holding what nobody will advertise for. */
		if (d.cfg.vrrp.enabled) {
			int ifindex = (int)if_nametoindex(d.cfg.interface);

			if (ifindex)
				nl_ifaddr_del(ifindex, d.cfg.vrrp.vip, d.cfg.vrrp.vip_prefix);
			datapath_pinned_set_inactive(d.cfg.pin_root);
		}
		return 1;
	}
	log_info("stopped");
	return r ? 1 : 0;
}

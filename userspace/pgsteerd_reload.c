/* Reload (SIGHUP, `pgsteer reload`) and restart in place (SIGUSR2, `pgsteer restart`): a config that
 * would not start is refused and the running one kept; a restart hands the datapath, the VRRP role
 * and the servers' health to a fresh image of pgsteerd. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/wait.h>
#include "alert.h"
#include "checker.h"
#include "datapath.h"
#include "dpsync.h"
#include "hooks.h"
#include "log.h"
#include "netlink.h"
#include "persist.h"
#include "pgsteerd.h"
#include "role.h"
#include "stats.h"
#include "stats_auth.h"
#include "vrrp.h"
#include "vrrp_bridge.h"

extern char **environ;

int daemon_reload(struct pgsteerd *d, char *err, size_t errlen)
{
	static struct config fresh;
	int r = config_load(d->cfg.path, &fresh, err, errlen), stats_changed, alerts_changed;
	struct stats_auth *users = NULL;

	/* The stats users are read again on every reload (a changed password applies at once). */
	if (!r)
		r = stats_auth_config(&fresh, &users, err, errlen);
	if (r) {
		log_warnx("reload failed, keeping the running configuration: %s", err);
		return r;
	}
	if (strcmp(fresh.interface, d->cfg.interface) || fresh.attach != d->cfg.attach ||
	    strcmp(fresh.pin_root, d->cfg.pin_root) || fresh.flow_table_size != d->cfg.flow_table_size ||
	    fresh.snat_min != d->cfg.snat_min || fresh.snat_max != d->cfg.snat_max ||
	    strcmp(fresh.runtime_socket, d->cfg.runtime_socket) || fresh.runtime_mode != d->cfg.runtime_mode ||
	    strcmp(fresh.runtime_group, d->cfg.runtime_group) || strcmp(fresh.state_dir, d->cfg.state_dir)) {
		snprintf(err, errlen, "interface, attach, pin-root, snat-ports, runtime-socket and state-dir change with a "
			 "restart (pgsteer restart), flow-table-size only after 'pgsteer detach'; keeping the running "
			 "configuration");
		log_warnx("reload: %s", err);
		stats_auth_free(users);
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
	daemon_start_checks(d);
	if (stats_changed) {
		stats_http_stop(d->stats);
		d->stats = NULL;
		if (d->cfg.stats_enabled) {
			d->stats = stats_http_start(d->loop, d->cfg.stats_addr, d->cfg.stats_port, &d->model, users,
						    daemon_refresh, d, err, errlen);
			if (!d->stats)
				log_warnx("reload: stats listener: %s", err);
		} else
			stats_auth_free(users);
	} else
		stats_http_set_auth(d->stats, users);
	if (d->stats && users)
		log_info("reload: stats page for the %d user(s) of %s", stats_auth_users(users), d->cfg.stats_auth_file);
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

/* Run `self -n -f config` (no shell: the path is an argument, whatever it holds); its exit status,
 * or -errno. */
static int check_with(const char *self, const char *config)
{
	char *argv[] = { (char *)self, "-n", "-f", (char *)config, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int r, status;
	pid_t pid;

	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawn(&pid, self, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r)
		return -r;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
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
	r = check_with(d->self, d->cfg.path);
	if (r) {
		snprintf(err, errlen, "%s -n -f %s fails (%s %d): the new process would not start", d->self, d->cfg.path,
			 r < 0 ? "error" : "status", r < 0 ? -r : r);
		return -EINVAL;
	}
	return 0;
}

int daemon_restart(struct pgsteerd *d, char *err, size_t errlen)
{
	int r;

	/* From here until the new image's first advert (the `pgsteerd -n` check waited for in the loop,
	 * the teardown, the exec, the new start: over a second on a loaded machine), a child of ours
	 * keeps advertising as master, so the peer never sees a silent master. */
	if (d->vrrp)
		vrrp_bridge(d->vrrp);
	r = restart_check(d, err, errlen);
	if (r) {
		vrrp_bridge_cancel(d->vrrp);
		log_warnx("restart refused, pgsteerd keeps running: %s", err);
		return r;
	}
	log_info("restarting in place: a fresh pgsteerd takes over the datapath%s", d->vrrp ? " and the VRRP role" : "");
	d->handover = 1;
	loop_stop(d->loop);
	return 0;
}

void daemon_restart_exec(struct pgsteerd *d)
{
	/* Everything is closed (and close-on-exec besides): the datapath, the VIP and the flows stay as
	 * they are while the new image takes them over. The config by its absolute path: a daemon's
	 * working directory is /. */
	char *args[8] = { d->self, "-d", "-f", d->cfg.path }, *v[] = { "-v", "-vv" };
	int nargs = 4;

	if (d->verbose)
		args[nargs++] = v[d->verbose > 1];
	args[nargs] = NULL;
	execv(d->self, args);
	log_warn("restart in place: exec %s", d->self);
	vrrp_bridge_end(vrrp_bridge_inherited());
	/* Nobody takes over: stop holding what nobody will advertise for. */
	if (d->cfg.vrrp.enabled) {
		int ifindex = (int)if_nametoindex(d->cfg.interface);

		if (ifindex)
			nl_ifaddr_del(ifindex, d->cfg.vrrp.vip, d->cfg.vrrp.vip_prefix);
		datapath_pinned_set_inactive(d->cfg.pin_root);
	}
}

/* The VRRP instance, for the exit path: a process that dies after resuming the MASTER role (a
 * failed restart in place) steps down properly instead of holding the VIP without advertising. */
static struct vrrp *exit_vrrp;

static void step_down_at_exit(void)
{
	if (exit_vrrp && vrrp_state_get(exit_vrrp) == VRRP_MASTER)
		vrrp_shutdown(exit_vrrp);
}

void daemon_step_down_at_exit(struct vrrp *v)
{
	static int registered;

	exit_vrrp = v;
	if (v && !registered && !atexit(step_down_at_exit))
		registered = 1;
}

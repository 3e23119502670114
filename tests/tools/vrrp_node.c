/* vrrp_node: run only pgsteer's VRRP instance from a pgsteer config file, for interop tests.
 * Logs transitions; -s FILE appends "EPOCH_MS STATE why" per transition (like a keepalived notify
 * script); SIGUSR1/SIGUSR2 set/clear a datapath fault; SIGTERM/SIGINT stop gracefully. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/signalfd.h>
#include "config.h"
#include "log.h"
#include "loop.h"
#include "vrrp.h"

struct node {
	struct loop *loop;
	struct vrrp *vrrp;
	const char *state_file;
	int sfd;
};

static void on_steer(void *arg, int on)
{
	log_info("steering %s", on ? "on" : "off");
}

static void on_state(void *arg, enum vrrp_state from, enum vrrp_state to, enum vrrp_cause cause, uint32_t master,
		     const char *why)
{
	struct node *n = arg;
	char a[INET_ADDRSTRLEN] = "-";
	FILE *f;

	if (master)
		inet_ntop(AF_INET, &master, a, sizeof(a));
	log_info("%s -> %s (%s), master %s", vrrp_state_name(from), vrrp_state_name(to), why, a);
	if (!n->state_file)
		return;
	f = fopen(n->state_file, "a");
	if (!f) {
		log_warn("%s", n->state_file);
		return;
	}
	fprintf(f, "%llu %s %s\n", (unsigned long long)wall_ms(), vrrp_state_name(to), why);
	fclose(f);
}

static void on_signal(void *arg, uint32_t events)
{
	struct node *n = arg;
	struct signalfd_siginfo si;

	if (read(n->sfd, &si, sizeof(si)) != sizeof(si))
		return;
	switch (si.ssi_signo) {
	case SIGUSR1:
		vrrp_set_fault(n->vrrp, 1, "datapath fault (SIGUSR1)");
		break;
	case SIGUSR2:
		vrrp_set_fault(n->vrrp, 0, "datapath back (SIGUSR2)");
		break;
	default:
		log_info("signal %u: stopping", si.ssi_signo);
		vrrp_shutdown(n->vrrp);
		loop_stop(n->loop);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: vrrp_node -f CONFIG [-s STATE_FILE] [-v]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct config cfg;
	struct vrrp_hooks hooks = { .steer = on_steer, .state = on_state };
	struct node n = { .sfd = -1 };
	const char *path = NULL;
	char err[512];
	sigset_t mask;
	int c, verbose = 0, rc = 1;

	while ((c = getopt(argc, argv, "f:s:v")) != -1) {
		switch (c) {
		case 'f': path = optarg; break;
		case 's': n.state_file = optarg; break;
		case 'v': verbose++; break;
		default: usage();
		}
	}
	if (!path)
		usage();
	log_init(verbose);
	if (config_load(path, &cfg, err, sizeof(err))) {
		log_warnx("%s", err);
		return 1;
	}
	n.loop = loop_new();
	if (!n.loop)
		fatal("loop");
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	n.sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (n.sfd < 0 || loop_add(n.loop, n.sfd, EPOLLIN, on_signal, &n)) {
		log_warn("signalfd");
		goto out;
	}
	n.vrrp = vrrp_new(n.loop, &cfg, &hooks, &n, err, sizeof(err));
	if (!n.vrrp) {
		log_warnx("%s", err);
		goto out;
	}
	if (vrrp_start(n.vrrp)) {
		log_warnx("vrrp: cannot start");
		goto out;
	}
	rc = loop_run(n.loop) ? 1 : 0;
out:
	vrrp_free(n.vrrp);
	if (n.sfd >= 0)
		close(n.sfd);
	loop_free(n.loop);
	return rc;
}

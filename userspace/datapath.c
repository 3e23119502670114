/* The BPF datapath from the controller's side: the only file that includes the skeletons. Loads
 * and attaches the XDP and TC programs, pins maps and the XDP link so a restart drops nothing,
 * writes services and servers, and cleans up the flow table. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <net/if.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "kfeatures.h"
#include "datapath.h"
#include "log.h"
#include "xdp_attach.h"
#include "lib/flow.h"
#include "xdp.skel.h"
#include "tc.skel.h"

/* Our TC filter's identity on clsact ingress: replaced atomically on restart. */
#define PGS_TC_HANDLE 0x7067
#define PGS_TC_PRIO 1
#define GC_BATCH 4096
#define GC_BATCHES_PER_TICK 8 /* at most 32k flows a call: the event loop (and VRRP) stay responsive */
#define PRESSURE_SYN_NS (2ull * 1000000000) /* half-open limit under pressure (flow_pressure) */
#define ORPHANS_MAX 65536 /* reverse entries held as suspected orphans from one pass to the next */

/* A reverse entry found orphaned, and since when: it goes once orphaned for a TIME_WAIT. */
struct orphan {
	struct pgs_rflow_key rk;
	uint64_t since_ns;
};

/* A clean-up pass, done a bounded number of batches at a time: the flows, then the reverse
 * entries (orphans: a reverse entry whose flow is gone holds its SNAT port for ever). */
struct gc_pass {
	int running;
	int first;
	int reverse;      /* walking pgs_rflows now */
	__u32 cursor;
	struct pgs_rflow_key rcursor;
	int takeover;     /* the first pass after this node took over: recount every slot */
	uint64_t stale_before; /* ... and forget flows not seen since then (0: none) */
	uint64_t stale, orphans;
	uint64_t now;
	struct flow_timeouts t;
	int pressure;
	uint64_t entries, expired;
	uint64_t counted[PGS_MAX_SLOTS];         /* flows still counting toward each slot */
	uint64_t held[PGS_MAX_SLOTS];            /* flows of each slot left in the table: SNAT ports held */
	uint32_t gen[PGS_MAX_SLOTS];             /* each slot's server generation: older flows count for nobody */
	uint64_t expired_counted[PGS_MAX_SLOTS]; /* counting flows this pass removed */
	struct pgs_conns before[PGS_MAX_SLOTS];  /* each slot's counters when the pass began */
	struct pgs_synguard guard[PGS_MAX_SERVICES]; /* each service's half-open counters then */
	uint64_t halfopen[PGS_MAX_SERVICES];     /* half-open flows the pass kept */
};

struct datapath {
	struct pgs_xdp *xdp;     /* XDP mode only */
	struct pgs_tc *tc;       /* always: the TC program, or XDP's fallback */
	struct pgs_maps maps;
	int ifindex;
	int link_fd;             /* pinned XDP link (plain attach) */
	/* clean-up buffers */
	struct pgs_flow_key *keys;
	struct pgs_flow *vals;
	struct pgs_flow_key *del_keys;
	struct pgs_rflow_key *del_rkeys;
	struct pgs_flow_key *rvals;
	/* Reverse entries whose flow was gone (or another's) in the last pass, sorted, with when that
	 * was first seen; removed once orphaned for a TIME_WAIT (a SYN inserts the reverse entry just
	 * before its flow; a reopen keeps the old one while its backend may hold TIME_WAIT). */
	struct orphan *orphans, *orphans_next;
	__u32 norphans, norphans_next;
	int takeover;            /* datapath_takeover: the next pass is a takeover pass */
	uint64_t stale_before;
	uint64_t last_entries;   /* occupancy at the last clean-up */
	uint64_t last_held_peak; /* SNAT ports the busiest slot held at the last clean-up */
	struct gc_pass *gc;      /* the clean-up pass under way */
};

static int is_bpffs(const char *path)
{
	struct statfs st;

	return statfs(path, &st) == 0 && st.f_type == BPF_FS_MAGIC;
}

static int mkdir_p(const char *path)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, 0700) && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pin root must live on a bpffs: mount one at /sys/fs/bpf when it is missing there, or on the
 * pin root itself when it lies elsewhere. */
static int ensure_bpffs(const char *root, char *err, size_t errlen)
{
	const char *sysbpf = "/sys/fs/bpf";
	int r;

	if (!strncmp(root, "/sys/fs/bpf/", 12) && !is_bpffs(sysbpf)) {
		if (mount("bpffs", sysbpf, "bpf", 0, "mode=0700")) {
			r = -errno;
			snprintf(err, errlen, "cannot mount bpffs on %s: %s", sysbpf, strerror(errno));
			return r;
		}
	}
	r = mkdir_p(root);
	if (r) {
		snprintf(err, errlen, "cannot create pin root %s: %s", root, strerror(-r));
		return r;
	}
	if (!is_bpffs(root) && mount("bpffs", root, "bpf", 0, "mode=0700")) {
		r = -errno;
		snprintf(err, errlen, "pin root %s is not on a bpffs and mounting one there failed: %s", root, strerror(errno));
		return r;
	}
	return 0;
}

/* A pinned map from an earlier run must have the layout this build expects, or loading would fail
 * with a cryptic libbpf message: say what differs and how to start over. */
static int check_pinned(const char *root, struct bpf_map *map, char *err, size_t errlen)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", root, bpf_map__name(map));
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0; /* not pinned yet */
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		r = -errno;
		snprintf(err, errlen, "cannot inspect pinned map %s: %s", path, strerror(errno));
	} else if (info.key_size != bpf_map__key_size(map) || info.value_size != bpf_map__value_size(map) ||
		   info.type != bpf_map__type(map)) {
		r = -EEXIST;
		snprintf(err, errlen, "pinned map %s has another layout (left by another pgsteer version); "
			 "'pgsteer detach' removes it, dropping its flows", path);
	} else if (info.max_entries != bpf_map__max_entries(map)) {
		r = -EEXIST;
		snprintf(err, errlen, "pinned map %s holds %u entries but the config asks for %u; flows live in it "
			 "across restarts, so resizing needs 'pgsteer detach' first (drops live flows)",
			 path, info.max_entries, bpf_map__max_entries(map));
	}
	close(fd);
	return r;
}

static int check_all_pinned(const char *root, struct bpf_object *obj, char *err, size_t errlen)
{
	struct bpf_map *map;
	int r;

	bpf_object__for_each_map(map, obj) {
		if (bpf_map__is_internal(map))
			continue;
		r = check_pinned(root, map, err, errlen);
		if (r)
			return r;
	}
	return 0;
}

static void set_rodata(struct pgs_cfg *rc, const struct config *cfg, int fallback)
{
	rc->snat_min = cfg->snat_min;
	rc->snat_max = cfg->snat_max;
	rc->fallback = (uint32_t)fallback;
}

static int size_flow_maps(struct bpf_map *flows, struct bpf_map *rflows, const struct config *cfg)
{
	int r = bpf_map__set_max_entries(flows, cfg->flow_table_size);

	return r ? r : bpf_map__set_max_entries(rflows, cfg->flow_table_size);
}

static void link_path(char *buf, size_t len, const char *root)
{
	snprintf(buf, len, "%s/%s", root, PGS_LINK_XDP);
}

/* Attach XDP through a pinned link: an existing link on the same interface gets the new program
 * atomically; otherwise a new link is created, in native mode. */
static int attach_xdp(struct datapath *dp, const struct config *cfg, char *err, size_t errlen)
{
	int prog = bpf_program__fd(dp->xdp->progs.pgs_xdp), fd, r;
	char path[PATH_MAX];

	link_path(path, sizeof(path), cfg->pin_root);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == (__u32)dp->ifindex &&
		    !bpf_link_update(fd, prog, NULL)) {
			dp->link_fd = fd;
			return 0;
		}
		/* Another interface, or a link that cannot take the program: replace it. */
		unlink(path);
		close(fd);
	}
	{
		LIBBPF_OPTS(bpf_link_create_opts, lo,
			    .flags = XDP_FLAGS_DRV_MODE);

		fd = bpf_link_create(prog, dp->ifindex, BPF_XDP, &lo);
	}
	if (fd < 0) {
		r = -errno;
		if (r == -EOPNOTSUPP || r == -EINVAL)
			snprintf(err, errlen, "%s: native XDP is not supported by this device (%s); use 'attach tc'",
				 cfg->interface, strerror(-r));
		else if (r == -EBUSY || r == -EEXIST)
			snprintf(err, errlen, "%s: another XDP program is attached (not pgsteer's); remove it first "
				 "(ip link set dev %s xdp off)", cfg->interface, cfg->interface);
		else
			snprintf(err, errlen, "%s: attaching XDP failed: %s", cfg->interface, strerror(-r));
		return r;
	}
	if (bpf_obj_pin(fd, path)) {
		r = -errno;
		snprintf(err, errlen, "cannot pin the XDP link at %s: %s", path, strerror(errno));
		close(fd);
		return r;
	}
	dp->link_fd = fd;
	return 0;
}

static int attach_tc(struct datapath *dp, const struct config *cfg, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = dp->ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PGS_TC_HANDLE, .priority = PGS_TC_PRIO,
		    .prog_fd = bpf_program__fd(dp->tc->progs.pgs_tc), .flags = BPF_TC_F_REPLACE);
	int r;

	r = bpf_tc_hook_create(&hook);
	if (r && r != -EEXIST) {
		snprintf(err, errlen, "%s: cannot create the clsact qdisc: %s", cfg->interface, strerror(-r));
		return r;
	}
	r = bpf_tc_attach(&hook, &opts);
	if (r)
		snprintf(err, errlen, "%s: attaching the TC program failed: %s", cfg->interface, strerror(-r));
	return r;
}

/* 0 when our filter is gone (or was never there), else -errno. */
static int detach_tc(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = PGS_TC_HANDLE, .priority = PGS_TC_PRIO);
	int r = bpf_tc_detach(&hook, &opts);

	return r == -ENOENT || r == -EINVAL ? 0 : r;
}

static void fill_maps(struct datapath *dp)
{
	struct pgs_tc *t = dp->tc;

	dp->maps.services = bpf_map__fd(t->maps.pgs_services);
	dp->maps.servers = bpf_map__fd(t->maps.pgs_servers);
	dp->maps.conns = bpf_map__fd(t->maps.pgs_conns);
	dp->maps.conn_adj = bpf_map__fd(t->maps.pgs_conn_adj);
	dp->maps.passive = bpf_map__fd(t->maps.pgs_passive);
	dp->maps.srv_stats = bpf_map__fd(t->maps.pgs_srv_stats);
	dp->maps.verdicts = bpf_map__fd(t->maps.pgs_verdicts);
	dp->maps.flows = bpf_map__fd(t->maps.pgs_flows);
	dp->maps.rflows = bpf_map__fd(t->maps.pgs_rflows);
	dp->maps.ctl = bpf_map__fd(t->maps.pgs_ctl);
	dp->maps.events = bpf_map__fd(t->maps.pgs_events);
	dp->maps.ev_lost = bpf_map__fd(t->maps.pgs_ev_lost);
	dp->maps.rr = bpf_map__fd(t->maps.pgs_rr);
	dp->maps.pg_opts = bpf_map__fd(t->maps.pgs_pg_opts);
	dp->maps.pg_events = bpf_map__fd(t->maps.pgs_pg_events);
	dp->maps.pg_stats = bpf_map__fd(t->maps.pgs_pg_stats);
	dp->maps.policy = bpf_map__fd(t->maps.pgs_policy);
	dp->maps.synguard = bpf_map__fd(t->maps.pgs_synguard);
	dp->maps.synguard_adj = bpf_map__fd(t->maps.pgs_synguard_adj);
	dp->maps.cookie_sec = bpf_map__fd(t->maps.pgs_cookie_sec);
	dp->maps.svc_verdicts = bpf_map__fd(t->maps.pgs_svc_verdicts);
	dp->maps.slot_hop = bpf_map__fd(t->maps.pgs_slot_hop);
}

/* Open the XDP object with this config, reusing the pinned maps; loaded too unless for libxdp
 * (which loads it as a component of its dispatcher). */
static int open_xdp(struct datapath *dp, const struct config *cfg, int load, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = cfg->pin_root);
	int r;

	pgs_xdp__destroy(dp->xdp);
	dp->xdp = pgs_xdp__open_opts(&oo);
	if (!dp->xdp) {
		r = -errno;
		snprintf(err, errlen, "opening the XDP program failed: %s", strerror(errno));
		return r;
	}
	set_rodata((struct pgs_cfg *)&dp->xdp->rodata->pgs_cfg, cfg, 0);
	size_flow_maps(dp->xdp->maps.pgs_flows, dp->xdp->maps.pgs_rflows, cfg);
	r = check_all_pinned(cfg->pin_root, dp->xdp->obj, err, errlen);
	if (r || !load)
		return r;
	r = pgs_xdp__load(dp->xdp);
	if (r)
		snprintf(err, errlen, "loading the XDP program failed: %s (pgsteerd -vv shows libbpf's log)", strerror(-r));
	return r;
}

/* A plain link left by an earlier run: detached so libxdp's dispatcher can take the interface (the
 * TC program, already attached, steers meanwhile). */
static void drop_plain_link(const struct config *cfg, int ifindex)
{
	char path[PATH_MAX];
	int fd;

	link_path(path, sizeof(path), cfg->pin_root);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	{
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.xdp.ifindex == (__u32)ifindex) {
			log_info("%s: moving from a plain XDP link to libxdp's dispatcher (TC steers meanwhile)",
				 cfg->interface);
			bpf_link_detach(fd);
		}
	}
	unlink(path);
	close(fd);
}

/* XDP through libxdp's dispatcher, else (no libxdp support, LIBXDP_SKIP_DISPATCHER=1) a plain
 * pinned link; the log says which. */
static int attach_xdp_any(struct datapath *dp, const struct config *cfg, char *err, size_t errlen)
{
	char why[256];
	int r;

	if (xdpd_wanted(why, sizeof(why))) {
		drop_plain_link(cfg, dp->ifindex);
		r = xdpd_attach(dp->xdp->obj, dp->ifindex, 0, why, sizeof(why)); /* native: xdp-generic is refused */
		if (!r) {
			log_info("%s: XDP (native) attached through libxdp's dispatcher (xdp-loader status %s lists it)",
				 cfg->interface, cfg->interface);
			return 0;
		}
		/* Loaded as the dispatcher's extension: a plain attach needs it loaded anew. */
		r = open_xdp(dp, cfg, 1, err, errlen);
		if (r)
			return r;
	} else {
		char e2[64];

		if (xdpd_attached(dp->ifindex) && xdpd_detach(dp->ifindex, e2, sizeof(e2)) == 0)
			log_info("%s: pgsteer's program left libxdp's dispatcher", cfg->interface);
		r = pgs_xdp__load(dp->xdp);
		if (r) {
			snprintf(err, errlen, "loading the XDP program failed: %s (pgsteerd -vv shows libbpf's log)",
				 strerror(-r));
			return r;
		}
	}
	r = attach_xdp(dp, cfg, err, errlen);
	if (!r)
		log_info("%s: XDP (native) attached with a plain pinned link, not libxdp's dispatcher: %s",
			 cfg->interface, why);
	return r;
}

static int alloc_gc(struct datapath *dp)
{
	dp->keys = calloc(GC_BATCH, sizeof(*dp->keys));
	dp->vals = calloc(GC_BATCH, sizeof(*dp->vals));
	dp->del_keys = calloc(GC_BATCH, sizeof(*dp->del_keys));
	dp->del_rkeys = calloc(GC_BATCH, sizeof(*dp->del_rkeys));
	dp->rvals = calloc(GC_BATCH, sizeof(*dp->rvals));
	dp->orphans = calloc(ORPHANS_MAX, sizeof(*dp->orphans));
	dp->orphans_next = calloc(ORPHANS_MAX, sizeof(*dp->orphans_next));
	dp->gc = calloc(1, sizeof(*dp->gc));
	if (!dp->keys || !dp->vals || !dp->del_keys || !dp->del_rkeys || !dp->rvals || !dp->orphans ||
	    !dp->orphans_next || !dp->gc)
		return -ENOMEM;
	return 0;
}

int datapath_over_maps(struct datapath **out, const struct pgs_maps *m)
{
	struct datapath *dp = calloc(1, sizeof(*dp));

	if (!dp)
		return -ENOMEM;
	dp->link_fd = -1;
	dp->maps = *m;
	if (alloc_gc(dp)) {
		datapath_close(dp);
		return -ENOMEM;
	}
	*out = dp;
	return 0;
}

int datapath_open(struct datapath **out, const struct config *cfg, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = cfg->pin_root);
	struct datapath *dp;
	int xdp_mode = cfg->attach != ATTACH_TC, r;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->link_fd = -1;
	dp->ifindex = (int)if_nametoindex(cfg->interface);
	if (!dp->ifindex) {
		r = -ENODEV;
		snprintf(err, errlen, "interface %s: no such device", cfg->interface);
		goto fail;
	}
	r = ensure_bpffs(cfg->pin_root, err, errlen);
	if (r)
		goto fail;
	r = kfeatures_check(err, errlen);
	if (r)
		goto fail;

	if (xdp_mode) {
		/* Loaded when attached (libxdp loads it as its dispatcher's extension). */
		r = open_xdp(dp, cfg, 0, err, errlen);
		if (r)
			goto fail;
	}
	dp->tc = pgs_tc__open_opts(&oo);
	if (!dp->tc) {
		r = -errno;
		snprintf(err, errlen, "opening the TC program failed: %s", strerror(errno));
		goto fail;
	}
	set_rodata((struct pgs_cfg *)&dp->tc->rodata->pgs_cfg, cfg, xdp_mode);
	size_flow_maps(dp->tc->maps.pgs_flows, dp->tc->maps.pgs_rflows, cfg);
	r = check_all_pinned(cfg->pin_root, dp->tc->obj, err, errlen);
	if (r)
		goto fail;
	r = pgs_tc__load(dp->tc);
	if (r) {
		snprintf(err, errlen, "loading the TC program failed: %s (pgsteerd -vv shows libbpf's log)", strerror(-r));
		goto fail;
	}
	fill_maps(dp);

	/* TC first: in XDP mode it is the fallback that must be in place before XDP punts to it. */
	r = attach_tc(dp, cfg, err, errlen);
	if (r)
		goto fail;
	if (xdp_mode) {
		__u32 dev = (__u32)dp->ifindex;

		r = attach_xdp_any(dp, cfg, err, errlen);
		if (r)
			goto fail;
		/* XDP redirects only to devices it is attached to (xdp.bpf.c): this one. */
		if (bpf_map_update_elem(bpf_map__fd(dp->xdp->maps.pgs_tx_ports), &dev, &dev, BPF_ANY)) {
			r = -errno;
			snprintf(err, errlen, "%s: cannot add it to the XDP program's map pgs_tx_ports: %s", cfg->interface,
				 strerror(errno));
			goto fail;
		}
	} else {
		char path[PATH_MAX], e2[128];

		/* Switching from XDP to TC: the old XDP link goes with its pin, or our program with the
		 * dispatcher's. */
		link_path(path, sizeof(path), cfg->pin_root);
		unlink(path);
		if (xdpd_detach(dp->ifindex, e2, sizeof(e2)))
			log_warnx("%s: %s", cfg->interface, e2);
	}

	r = alloc_gc(dp);
	if (r) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	*out = dp;
	return 0;
fail:
	datapath_close(dp);
	return r;
}

void datapath_close(struct datapath *dp)
{
	if (!dp)
		return;
	if (dp->link_fd >= 0)
		close(dp->link_fd);
	pgs_xdp__destroy(dp->xdp);
	pgs_tc__destroy(dp->tc);
	free(dp->keys);
	free(dp->vals);
	free(dp->del_keys);
	free(dp->del_rkeys);
	free(dp->rvals);
	free(dp->orphans);
	free(dp->orphans_next);
	free(dp->gc);
	free(dp);
}

int datapath_detach(const struct config *cfg, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int ifindex = (int)if_nametoindex(cfg->interface), i, r;

	if (!ifindex) {
		snprintf(err, errlen, "interface %s: not found in this network namespace (detach where pgsteerd runs)",
			 cfg->interface);
		return -ENODEV;
	}
	r = detach_tc(ifindex);
	if (r) {
		snprintf(err, errlen, "%s: removing the TC filter failed: %s", cfg->interface, strerror(-r));
		return r;
	}
	r = xdpd_detach(ifindex, err, errlen);
	if (r)
		return r;
	link_path(path, sizeof(path), cfg->pin_root);
	if (unlink(path) && errno != ENOENT) {
		r = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		return r;
	}
	for (i = 0; i < maps_count(); i++) {
		snprintf(path, sizeof(path), "%s/%s", cfg->pin_root, maps_name(i));
		if (unlink(path) && errno != ENOENT) {
			r = -errno;
			snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
			return r;
		}
	}
	if (rmdir(cfg->pin_root) && errno != ENOENT && errno != EBUSY) {
		r = -errno;
		snprintf(err, errlen, "cannot remove %s: %s", cfg->pin_root, strerror(errno));
		return r;
	}
	return 0;
}

int datapath_ifindex(const struct datapath *dp)
{
	return dp->ifindex;
}

int datapath_set_service(struct datapath *dp, const struct pgs_svc_key *k, const struct pgs_svc *v)
{
	return bpf_map_update_elem(dp->maps.services, k, v, BPF_ANY) ? -errno : 0;
}

int datapath_del_service(struct datapath *dp, const struct pgs_svc_key *k)
{
	return bpf_map_delete_elem(dp->maps.services, k) && errno != ENOENT ? -errno : 0;
}

int datapath_services_each(struct datapath *dp, maps_svc_fn cb, void *arg)
{
	return maps_services_each(&dp->maps, cb, arg);
}

int datapath_get_server(struct datapath *dp, uint32_t slot, struct pgs_server *out)
{
	return maps_get_server(&dp->maps, slot, out);
}

int datapath_set_server(struct datapath *dp, uint32_t slot, const struct pgs_server *srv)
{
	return bpf_map_update_elem(dp->maps.servers, &slot, srv, BPF_ANY) ? -errno : 0;
}

int datapath_reset_slot(struct datapath *dp, uint32_t slot)
{
	return maps_reset_slot(&dp->maps, slot);
}

int datapath_read_server(struct datapath *dp, uint32_t slot, struct dp_server *out)
{
	return maps_read_server(&dp->maps, slot, out);
}

int datapath_read_verdicts(struct datapath *dp, uint64_t out[PGS_R_MAX])
{
	return maps_read_verdicts(&dp->maps, out);
}

int datapath_get_synguard(struct datapath *dp, uint32_t svc_id, struct pgs_synguard *out)
{
	return maps_get_synguard(&dp->maps, svc_id, out);
}

int datapath_read_svc_verdict(struct datapath *dp, uint32_t svc_id, enum pgs_reason r, uint64_t *out)
{
	return maps_read_svc_verdict(&dp->maps, svc_id, r, out);
}

int datapath_get_passive(struct datapath *dp, uint32_t slot, uint64_t *ns)
{
	return maps_get_passive(&dp->maps, slot, ns);
}

int datapath_clear_passive(struct datapath *dp, uint32_t slot)
{
	return maps_clear_passive(&dp->maps, slot);
}

int datapath_get_active(struct datapath *dp, int *active)
{
	return maps_get_active(&dp->maps, active);
}

int datapath_set_active(struct datapath *dp, int active)
{
	return maps_set_active(&dp->maps, active);
}

int datapath_set_beat(struct datapath *dp, uint32_t beat)
{
	return maps_set_beat(&dp->maps, beat);
}

int datapath_new_epoch(struct datapath *dp)
{
	return maps_new_epoch(&dp->maps);
}

int datapath_get_off_ns(struct datapath *dp, uint64_t *off_ns)
{
	return maps_get_off_ns(&dp->maps, off_ns);
}

int datapath_pinned_set_inactive(const char *pin_root)
{
	struct pgs_maps m;
	int r = maps_open_pinned(&m, pin_root, NULL);

	if (r)
		return r;
	r = maps_set_active(&m, 0);
	maps_close(&m);
	return r;
}

int datapath_flow_insert(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct pgs_rflow_key rk = { .backend = f->backend, .vip = k->vip, .bport = f->bport, .sport = f->sport };
	int r;

	if (bpf_map_update_elem(dp->maps.rflows, &rk, k, BPF_NOEXIST))
		return -errno;
	if (bpf_map_update_elem(dp->maps.flows, k, f, BPF_NOEXIST)) {
		r = -errno;
		bpf_map_delete_elem(dp->maps.rflows, &rk);
		return r;
	}
	return 0;
}

static void forget_flow(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct pgs_rflow_key rk = { .backend = f->backend, .vip = k->vip, .bport = f->bport, .sport = f->sport };

	bpf_map_delete_elem(dp->maps.rflows, &rk);
	bpf_map_delete_elem(dp->maps.flows, k);
}

int datapath_flows_each(struct datapath *dp, dp_flow_fn cb, void *arg)
{
	__u32 batch = 0, next = 0;
	int first = 1, done = 0, r;

	while (!done) {
		__u32 count = GC_BATCH, i;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		r = bpf_map_lookup_batch(dp->maps.flows, first ? NULL : &batch, &next, dp->keys, dp->vals, &count, &bo);
		if (r && errno != ENOENT)
			return -errno;
		done = r != 0;
		first = 0;
		batch = next;
		for (i = 0; i < count; i++)
			cb(arg, &dp->keys[i], &dp->vals[i]);
	}
	return 0;
}


/* Delete n keys: in batches, stepping over keys another writer deleted first. */
static void delete_keys(int fd, void *keys, size_t ksize, __u32 n)
{
	__u32 done = 0;

	while (done < n) {
		__u32 count = n - done;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		if (!bpf_map_delete_batch(fd, (char *)keys + (size_t)done * ksize, &count, &bo))
			return;
		done += count + 1; /* count stopped at the key that failed (already gone) */
	}
}

/* A service the datapath saw flooded when the pass began (auto SYN cookies on). */
static int gc_flooded(const struct gc_pass *g)
{
	uint32_t id;

	for (id = 0; id < PGS_MAX_SERVICES; id++)
		if (g->guard[id].flood_until_ns > g->now)
			return 1;
	return 0;
}

static int gc_begin(struct datapath *dp, const struct config *cfg, uint64_t now_ns)
{
	struct gc_pass *g = dp->gc;
	uint32_t slot;

	memset(g, 0, sizeof(*g));
	for (slot = 0; slot < PGS_MAX_SLOTS; slot++) {
		struct pgs_server srv;

		if (bpf_map_lookup_elem(dp->maps.conns, &slot, &g->before[slot]) ||
		    bpf_map_lookup_elem(dp->maps.servers, &slot, &srv))
			return -errno;
		g->gen[slot] = srv.gen;
	}
	for (slot = 0; slot < PGS_MAX_SERVICES; slot++)
		if (bpf_map_lookup_elem(dp->maps.synguard, &slot, &g->guard[slot]))
			return -errno;
	g->running = g->first = 1;
	g->now = now_ns;
	g->takeover = dp->takeover;
	g->stale_before = dp->stale_before;
	dp->takeover = 0;
	dp->stale_before = 0;
	g->t.syn = (uint64_t)cfg->t_syn_ms * 1000000;
	g->t.est = (uint64_t)cfg->t_est_ms * 1000000;
	g->t.fin = (uint64_t)cfg->t_fin_ms * 1000000;
	g->t.closed = (uint64_t)cfg->t_closed_ms * 1000000;
	/* seen_ns lags the last packet by up to a second (lb.h), the backend's timer may fire late */
	g->t.tw = PGS_TIME_WAIT_NS + 2000000000ull;
	/* A SYN flood fills the table, or one server's SNAT ports, with half-open flows: expire those
	 * early so real clients get in (established flows are never evicted). */
	if (flow_pressure(dp->last_entries, cfg->flow_table_size, dp->last_held_peak,
			  (uint32_t)cfg->snat_max - cfg->snat_min + 1) || gc_flooded(g)) {
		g->pressure = 1;
		if (g->t.syn > PRESSURE_SYN_NS)
			g->t.syn = PRESSURE_SYN_NS;
	}
	return 0;
}

/* Whether a flow still counts toward its slot's server (the datapath's flow_release rule). */
static int flow_counts(const struct gc_pass *g, const struct pgs_flow *f)
{
	return (f->flags & PGS_FLOW_F_COUNTED) && f->slot < PGS_MAX_SLOTS && f->gen == g->gen[f->slot];
}

/* Whether the pass removes a flow: idle past its state's limit, or not seen since before this node
 * took over (a session the other node has reset since). */
static int gc_expires(const struct gc_pass *g, const struct pgs_flow *f)
{
	return flow_expired(f->state, f->flags, f->seen_ns, g->now, &g->t) || (g->stale_before && f->seen_ns < g->stale_before);
}

/* One batch: expire what is idle past its state's limit, count what still counts. An expiring flow
 * is looked up again and decided on as it is now, not as the batch read it: the datapath may have
 * released it since (its close is counted already: no second subtraction), a packet may have
 * refreshed it, or its client reopened it (a new flow under the same key). A packet between that look and the delete is the race
 * that remains (the next quiet reconciliation absorbs it). */
static void gc_batch(struct datapath *dp, __u32 count)
{
	struct gc_pass *g = dp->gc;
	__u32 i, n = 0;

	for (i = 0; i < count; i++) {
		const struct pgs_flow_key *k = &dp->keys[i];
		const struct pgs_flow *f = &dp->vals[i];
		struct pgs_flow now;
		int counts;

		if (gc_expires(g, f)) {
			if (bpf_map_lookup_elem(dp->maps.flows, k, &now))
				continue; /* gone meanwhile */
			f = &now;
		}
		if (!gc_expires(g, f)) {
			g->entries++;
			if (f->slot < PGS_MAX_SLOTS)
				g->held[f->slot]++;
			if (flow_counts(g, f))
				g->counted[f->slot]++;
			if (f->slot < PGS_MAX_SLOTS && (f->flags & PGS_FLOW_F_HALFOPEN))
				g->halfopen[pgs_slot_svc(f->slot)]++;
			continue;
		}
		counts = flow_counts(g, f);
		if (counts)
			g->expired_counted[f->slot]++;
		if (!flow_expired(f->state, f->flags, f->seen_ns, g->now, &g->t))
			g->stale++;
		dp->del_keys[n] = *k;
		dp->del_rkeys[n] = (struct pgs_rflow_key){ .backend = f->backend, .vip = k->vip, .bport = f->bport, .sport = f->sport };
		n++;
	}
	delete_keys(dp->maps.rflows, dp->del_rkeys, sizeof(*dp->del_rkeys), n);
	delete_keys(dp->maps.flows, dp->del_keys, sizeof(*dp->del_keys), n);
	g->expired += n;
}

/* Half-open flows as the pass counted them: the datapath's count (opened - closed - adj) restarts
 * from there, with what it opened and settled since the pass began. */
static void gc_finish_synguard(struct datapath *dp, struct dp_gc *res)
{
	struct gc_pass *g = dp->gc;
	uint32_t id;

	for (id = 0; id < PGS_MAX_SERVICES; id++) {
		const struct pgs_synguard *b = &g->guard[id];
		uint64_t open = b->ho_opened > b->ho_closed ? b->ho_opened - b->ho_closed : 0;
		uint64_t adj = open > g->halfopen[id] ? open - g->halfopen[id] : 0;

		res->halfopen += g->halfopen[id];
		bpf_map_update_elem(dp->maps.synguard_adj, &id, &adj, BPF_ANY);
	}
}

/* Make a slot count exactly `counted` connections: active = opened - closed - adj, so keep the
 * totals and move adj; raise opened only when the flows outnumber what this node ever opened there
 * (flows synced from the peer). */
static int recount_slot(struct datapath *dp, uint32_t slot, uint64_t counted)
{
	struct pgs_conns c;
	uint64_t adj;

	if (bpf_map_lookup_elem(dp->maps.conns, &slot, &c))
		return -errno;
	if (c.opened - c.closed < counted) {
		c.opened = c.closed + counted;
		if (bpf_map_update_elem(dp->maps.conns, &slot, &c, BPF_ANY))
			return -errno;
	}
	adj = c.opened - c.closed - counted;
	return bpf_map_update_elem(dp->maps.conn_adj, &slot, &adj, BPF_ANY) ? -errno : 0;
}

/* The pass is over: recount. A slot's count is corrected only if the datapath did not touch it
 * while the table was walked, so a busy slot is never "fixed" with a stale picture: it is
 * reconciled at its next quiet moment, and nothing but expiry can make it drift in between. */
static int gc_finish(struct datapath *dp, struct dp_gc *res)
{
	struct gc_pass *g = dp->gc;
	uint32_t slot;

	res->done = 1;
	res->entries = g->entries;
	res->expired = g->expired;
	res->under_pressure = g->pressure;
	res->orphans = g->orphans;
	res->takeover = g->takeover;
	res->stale = g->stale;
	dp->last_entries = g->entries;
	dp->last_held_peak = 0;
	g->running = 0;
	gc_finish_synguard(dp, res);
	for (slot = 0; slot < PGS_MAX_SLOTS; slot++) {
		if (g->held[slot] > dp->last_held_peak)
			dp->last_held_peak = g->held[slot];
	}
	for (slot = 0; slot < PGS_MAX_SLOTS; slot++) {
		struct pgs_conns after;
		uint64_t adj, want;

		if (bpf_map_lookup_elem(dp->maps.conns, &slot, &after) || bpf_map_lookup_elem(dp->maps.conn_adj, &slot, &adj))
			return -errno;
		if (g->takeover) {
			int r = recount_slot(dp, slot, g->counted[slot]);

			if (r)
				return r;
			continue;
		}
		if (!after.opened)
			continue;
		if (after.opened != g->before[slot].opened || after.closed != g->before[slot].closed) {
			/* Busy: only account for what this pass removed itself. */
			if (g->expired_counted[slot]) {
				adj += g->expired_counted[slot];
				bpf_map_update_elem(dp->maps.conn_adj, &slot, &adj, BPF_ANY);
			}
			continue;
		}
		want = after.opened - after.closed > g->counted[slot] ? after.opened - after.closed - g->counted[slot] : 0;
		if (want != adj) {
			bpf_map_update_elem(dp->maps.conn_adj, &slot, &want, BPF_ANY);
			res->corrected++;
		}
	}
	return 0;
}

static int orphan_cmp(const void *a, const void *b)
{
	const struct orphan *x = a, *y = b;

	return memcmp(&x->rk, &y->rk, sizeof(x->rk));
}

/* Whether a reverse entry names a flow that is not there, or one that holds another SNAT port. */
static int rflow_orphaned(struct datapath *dp, const struct pgs_rflow_key *rk, const struct pgs_flow_key *fk)
{
	struct pgs_flow f;

	if (bpf_map_lookup_elem(dp->maps.flows, fk, &f))
		return errno == ENOENT;
	return f.backend != rk->backend || f.bport != rk->bport || f.sport != rk->sport || fk->vip != rk->vip;
}

/* One batch of reverse entries. An orphan is removed (after a last look: its SNAT port is free
 * again) once every pass since a TIME_WAIT ago found it orphaned; one found for the first time is
 * remembered with the time. The wait is for the entries the datapath keeps on purpose: a flow whose
 * backend closed first, replaced when its client port opens a new one (lb.h, commit_new), leaves
 * its entry behind, for the backend's TIME_WAIT holds that port. A suspect that finds no room in
 * the list waits for a later pass. */
static void gc_rbatch(struct datapath *dp, __u32 count)
{
	struct gc_pass *g = dp->gc;
	__u32 i;

	for (i = 0; i < count; i++) {
		struct orphan o = { .rk = dp->del_rkeys[i], .since_ns = g->now };
		const struct orphan *seen;
		struct pgs_flow_key now;

		if (!rflow_orphaned(dp, &o.rk, &dp->rvals[i]))
			continue;
		seen = bsearch(&o, dp->orphans, dp->norphans, sizeof(o), orphan_cmp);
		if (seen)
			o.since_ns = seen->since_ns;
		if (g->now - o.since_ns < PGS_TIME_WAIT_NS) {
			if (dp->norphans_next < ORPHANS_MAX)
				dp->orphans_next[dp->norphans_next++] = o;
			continue;
		}
		if (!bpf_map_lookup_elem(dp->maps.rflows, &o.rk, &now) && rflow_orphaned(dp, &o.rk, &now) &&
		    !bpf_map_delete_elem(dp->maps.rflows, &o.rk))
			g->orphans++;
	}
}

/* The reverse entries, after the flows: returns 1 when the walk is over. */
static int gc_reverse(struct datapath *dp)
{
	struct gc_pass *g = dp->gc;
	__u32 count = GC_BATCH;
	struct pgs_rflow_key next;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int r;

	r = bpf_map_lookup_batch(dp->maps.rflows, g->first ? NULL : &g->rcursor, &next, dp->del_rkeys, dp->rvals, &count,
				 &bo);
	if (r && errno != ENOENT)
		return -errno;
	g->first = 0;
	g->rcursor = next;
	gc_rbatch(dp, count);
	if (!r)
		return 0;
	/* The walk is over: this pass's suspects are the next one's. */
	qsort(dp->orphans_next, dp->norphans_next, sizeof(*dp->orphans_next), orphan_cmp);
	memcpy(dp->orphans, dp->orphans_next, (size_t)dp->norphans_next * sizeof(*dp->orphans));
	dp->norphans = dp->norphans_next;
	dp->norphans_next = 0;
	return 1;
}

int datapath_gc(struct datapath *dp, const struct config *cfg, uint64_t now_ns, struct dp_gc *res)
{
	struct gc_pass *g = dp->gc;
	int b, r;

	memset(res, 0, sizeof(*res));
	if (!g->running) {
		r = gc_begin(dp, cfg, now_ns);
		if (r)
			return r;
		dp->norphans_next = 0;
	}
	for (b = 0; b < GC_BATCHES_PER_TICK; b++) {
		__u32 count = GC_BATCH, next = 0;
		LIBBPF_OPTS(bpf_map_batch_opts, bo);

		if (g->reverse) {
			r = gc_reverse(dp);
			if (r < 0)
				g->running = 0;
			if (r)
				return r < 0 ? r : gc_finish(dp, res);
			continue;
		}
		r = bpf_map_lookup_batch(dp->maps.flows, g->first ? NULL : &g->cursor, &next, dp->keys, dp->vals, &count, &bo);
		if (r && errno != ENOENT) {
			r = -errno;
			g->running = 0;
			return r;
		}
		g->first = 0;
		g->cursor = next;
		gc_batch(dp, count);
		if (r) { /* ENOENT: the flows are done, the reverse entries next */
			g->reverse = 1;
			g->first = 1;
		}
	}
	return 0;
}

void datapath_takeover(struct datapath *dp, uint64_t stale_before_ns)
{
	dp->takeover = 1;
	dp->stale_before = stale_before_ns;
	dp->gc->running = 0; /* a pass under way started before: the next one covers every flow */
}

int datapath_gc_takeover_pending(const struct datapath *dp)
{
	return dp->takeover || (dp->gc->running && dp->gc->takeover);
}

struct purge_walk {
	struct datapath *dp;
	uint64_t before_ns;
	uint64_t released[PGS_MAX_SLOTS];
	uint64_t n;
};

static void purge_flow(void *arg, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	struct purge_walk *w = arg;

	if (f->seen_ns >= w->before_ns)
		return;
	if ((f->flags & PGS_FLOW_F_COUNTED) && f->slot < PGS_MAX_SLOTS)
		w->released[f->slot]++;
	forget_flow(w->dp, k, f);
	w->n++;
}

int datapath_purge_before(struct datapath *dp, uint64_t before_ns, uint64_t *purged)
{
	static struct purge_walk w;
	uint32_t slot;
	int r;

	memset(&w, 0, sizeof(w));
	w.dp = dp;
	w.before_ns = before_ns;
	r = datapath_flows_each(dp, purge_flow, &w);
	for (slot = 0; slot < PGS_MAX_SLOTS; slot++) {
		uint64_t adj;

		if (!w.released[slot] || bpf_map_lookup_elem(dp->maps.conn_adj, &slot, &adj))
			continue;
		adj += w.released[slot];
		bpf_map_update_elem(dp->maps.conn_adj, &slot, &adj, BPF_ANY);
	}
	*purged = w.n;
	return r;
}

int datapath_flow_get(struct datapath *dp, const struct pgs_flow_key *k, struct pgs_flow *f)
{
	return bpf_map_lookup_elem(dp->maps.flows, k, f) ? -errno : 0;
}

int datapath_rflow_get(struct datapath *dp, uint32_t vip, uint32_t backend, uint16_t bport, uint16_t sport,
		       struct pgs_flow_key *k)
{
	struct pgs_rflow_key rk = { .backend = backend, .vip = vip, .bport = bport, .sport = sport };

	return bpf_map_lookup_elem(dp->maps.rflows, &rk, k) ? -errno : 0;
}

int datapath_flow_update(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	return bpf_map_update_elem(dp->maps.flows, k, f, BPF_EXIST) ? -errno : 0;
}

void datapath_flow_forget(struct datapath *dp, const struct pgs_flow_key *k, const struct pgs_flow *f)
{
	forget_flow(dp, k, f);
}

int datapath_events_fd(const struct datapath *dp)
{
	return dp->maps.events;
}

int datapath_pg_events_fd(const struct datapath *dp)
{
	return dp->maps.pg_events;
}

int datapath_pg_opts_set(struct datapath *dp, uint32_t svc_id, uint32_t flags)
{
	return bpf_map_update_elem(dp->maps.pg_opts, &svc_id, &flags, BPF_ANY) ? -errno : 0;
}

int datapath_pg_stat(const struct datapath *dp, uint32_t key, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus(), i;
	uint64_t v[ncpu > 0 ? ncpu : 1];

	*sum = 0;
	if (bpf_map_lookup_elem(dp->maps.pg_stats, &key, v))
		return -errno;
	for (i = 0; i < ncpu; i++)
		*sum += v[i];
	return 0;
}

int datapath_policy_set(struct datapath *dp, const struct pgs_policy_key *k, uint32_t action)
{
	return bpf_map_update_elem(dp->maps.policy, k, &action, BPF_ANY) ? -errno : 0;
}

int datapath_policy_keys(const struct datapath *dp, struct pgs_policy_key *out, int max)
{
	struct pgs_policy_key k, next;
	int n = 0, more;

	for (more = !bpf_map_get_next_key(dp->maps.policy, NULL, &next); more;
	     more = !bpf_map_get_next_key(dp->maps.policy, &k, &next)) {
		k = next;
		if (n < max)
			out[n] = k;
		n++;
	}
	return n;
}

void datapath_policy_del(struct datapath *dp, const struct pgs_policy_key *k)
{
	bpf_map_delete_elem(dp->maps.policy, k);
}

int datapath_read_ev_lost(struct datapath *dp, uint64_t *lost)
{
	return maps_read_ev_lost(&dp->maps, lost);
}

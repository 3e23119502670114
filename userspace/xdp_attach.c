/* XDP through libxdp's dispatcher, so pgsteer shares its interface with other XDP programs and
 * shows in `xdp-loader status`. The dispatcher keeps our program attached when pgsteerd exits
 * (libxdp pins it under the bpffs' xdp/ directory); a restart adds the new program beside the old
 * one in one atomic dispatcher swap, then removes the old one in a second: XDP never stops
 * steering, and while both run the old one hands every packet it passes to the new one (chain call
 * on XDP_PASS), which sees the same pinned maps. datapath.c falls back to a plain pinned link when
 * this fails. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "log.h"
#include "xdp_attach.h"

#define MAX_OURS 10 /* libxdp's dispatcher holds at most 10 programs */

/* libxdp's messages go where libbpf's do: shown with -vv, our own sentence otherwise. */
static int log_libxdp(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	return log_libbpf((enum libbpf_print_level)level, fmt, ap);
}

static void quiet_libxdp(void)
{
	static int done;

	if (!done) {
		libxdp_set_print(log_libxdp);
		done = 1;
	}
}

int xdpd_wanted(char *why, size_t whylen)
{
	const char *skip = getenv("LIBXDP_SKIP_DISPATCHER");

	if (skip && !strcmp(skip, "1")) {
		snprintf(why, whylen, "LIBXDP_SKIP_DISPATCHER=1");
		return 0;
	}
	/* The dispatcher runs each program as an extension (freplace): without them libxdp would attach
	 * us alone, after a detour that costs the restart its gap-free swap. */
	if (libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_EXT, NULL) != 1) {
		snprintf(why, whylen, "this kernel refuses extension programs (BPF_PROG_TYPE_EXT), which libxdp's "
			 "dispatcher needs");
		return 0;
	}
	return 1;
}

/* Our programs in the dispatcher on ifindex, but the one whose id is keep. Returns how many, or
 * -errno; *mpp holds the dispatcher the programs belong to (close it after use). */
static int find_ours(int ifindex, uint32_t keep, struct xdp_multiprog **mpp, struct xdp_program **ours)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	struct xdp_program *p = NULL;
	long e = libxdp_get_error(mp);
	int n = 0;

	*mpp = NULL;
	if (e || !mp)
		return e == -ENOENT || !mp ? 0 : (int)e;
	if (xdp_multiprog__is_legacy(mp)) {
		xdp_multiprog__close(mp);
		return 0;
	}
	while ((p = xdp_multiprog__next_prog(p, mp)) && n < MAX_OURS)
		if (!strcmp(xdp_program__name(p), PGS_XDP_PROG_NAME) && xdp_program__id(p) != keep)
			ours[n++] = p;
	*mpp = mp;
	return n;
}

static int remove_ours(int ifindex, uint32_t keep, enum xdp_attach_mode mode, char *err, size_t errlen)
{
	struct xdp_program *ours[MAX_OURS];
	struct xdp_multiprog *mp;
	int n = find_ours(ifindex, keep, &mp, ours), r = 0;

	if (n < 0) {
		snprintf(err, errlen, "reading the XDP dispatcher failed: %s", strerror(-n));
		return n;
	}
	if (n > 0) {
		r = xdp_program__detach_multi(ours, (size_t)n, ifindex, mode, 0);
		if (r)
			snprintf(err, errlen, "removing pgsteer's older XDP program from the dispatcher failed: %s",
				 strerror(-r));
	}
	xdp_multiprog__close(mp);
	return r;
}

int xdpd_attach(struct bpf_object *obj, int ifindex, int generic, char *err, size_t errlen)
{
	DECLARE_LIBXDP_OPTS(xdp_program_opts, po, .obj = obj, .prog_name = PGS_XDP_PROG_NAME);
	enum xdp_attach_mode mode = generic ? XDP_MODE_SKB : XDP_MODE_NATIVE;
	struct xdp_program *prog;
	struct xdp_multiprog *mp;
	uint32_t id;
	int r;

	quiet_libxdp();
	prog = xdp_program__create(&po);
	if (!prog) {
		r = -errno;
		snprintf(err, errlen, "libxdp cannot use the XDP program: %s", strerror(errno));
		return r ? r : -EINVAL;
	}
	/* Loads the object (as an extension of the dispatcher) and swaps the dispatcher in. */
	r = xdp_program__attach(prog, ifindex, mode, 0);
	if (r) {
		snprintf(err, errlen, "attaching through libxdp's dispatcher failed: %s", strerror(-r));
		xdp_program__close(prog);
		return r;
	}
	id = xdp_program__id(prog);
	xdp_program__close(prog);
	/* Without kernel support libxdp attaches the program alone, which a restart could not replace
	 * without a gap: undo that and let the caller use its own pinned link. */
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (!libxdp_get_error(mp) && mp && xdp_multiprog__is_legacy(mp)) {
		xdp_multiprog__detach(mp);
		xdp_multiprog__close(mp);
		snprintf(err, errlen, "libxdp attached without its dispatcher (no kernel support)");
		return -EOPNOTSUPP;
	}
	if (!libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	return remove_ours(ifindex, id, mode, err, errlen);
}

int xdpd_detach(int ifindex, char *err, size_t errlen)
{
	quiet_libxdp();
	return remove_ours(ifindex, 0, XDP_MODE_UNSPEC, err, errlen);
}

int xdpd_attached(int ifindex)
{
	struct xdp_program *ours[MAX_OURS];
	struct xdp_multiprog *mp;
	int n;

	quiet_libxdp();
	n = find_ours(ifindex, 0, &mp, ours);
	xdp_multiprog__close(mp);
	return n > 0;
}

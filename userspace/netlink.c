/* rtnetlink through libnl-route: interface facts, the VIP address, managed neighbours, link events. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_addr.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include "loop.h"
#include "netlink.h"

/* A request socket that records the kernel's own errno from an NLMSG_ERROR. */
struct nl_req {
	struct nl_sock *sk;
	int kerr; /* -errno from the kernel, 0 if none */
};

static int req_on_error(struct sockaddr_nl *who, struct nlmsgerr *e, void *arg)
{
	struct nl_req *r = arg;

	r->kerr = e->error;
	return NL_STOP;
}

/* libnl's NLE_* codes for errors that did not come from the kernel. */
static int nle_errno(int nle)
{
	switch (nle < 0 ? -nle : nle) {
	case NLE_NOMEM: return -ENOMEM;
	case NLE_EXIST: return -EEXIST;
	case NLE_OBJ_NOTFOUND: return -ENOENT;
	case NLE_NODEV: return -ENODEV;
	case NLE_PERM: return -EPERM;
	case NLE_NOACCESS: return -EACCES;
	case NLE_INVAL: return -EINVAL;
	case NLE_AGAIN: return -EAGAIN;
	case NLE_BUSY: return -EBUSY;
	case NLE_OPNOTSUPP: return -EOPNOTSUPP;
	case NLE_AF_NOSUPPORT: return -EAFNOSUPPORT;
	case NLE_NOADDR: return -EADDRNOTAVAIL;
	case NLE_RANGE: return -ERANGE;
	default: return -EIO;
	}
}

static int req_errno(const struct nl_req *r, int nle)
{
	return r->kerr ? r->kerr : nle_errno(nle);
}

static int req_open(struct nl_req *r)
{
	int err;

	r->kerr = 0;
	r->sk = nl_socket_alloc();
	if (!r->sk)
		return -ENOMEM;
	err = nl_connect(r->sk, NETLINK_ROUTE);
	if (err < 0) {
		nl_socket_free(r->sk);
		r->sk = NULL;
		return nle_errno(err);
	}
	nl_socket_modify_err_cb(r->sk, NL_CB_CUSTOM, req_on_error, r);
	return 0;
}

static void req_close(struct nl_req *r)
{
	nl_socket_free(r->sk);
	r->sk = NULL;
}

/* The first IPv4 address of ifindex that is not secondary and not skip; 0 if none. */
static int primary_addr(struct nl_req *r, int ifindex, uint32_t skip, uint32_t *out)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	int err;

	*out = 0;
	err = rtnl_addr_alloc_cache(r->sk, &cache);
	if (err < 0)
		return req_errno(r, err);
	for (o = nl_cache_get_first(cache); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);
		uint32_t addr;

		if (rtnl_addr_get_ifindex(a) != ifindex || rtnl_addr_get_family(a) != AF_INET || !local ||
		    nl_addr_get_len(local) != 4 || (rtnl_addr_get_flags(a) & IFA_F_SECONDARY))
			continue;
		memcpy(&addr, nl_addr_get_binary_addr(local), 4);
		if (addr == skip)
			continue;
		*out = addr;
		break;
	}
	nl_cache_free(cache);
	return 0;
}

static int link_up(unsigned int flags)
{
	return (flags & IFF_UP) && (flags & IFF_RUNNING);
}

int nl_iface_get(const char *ifname, uint32_t skip, struct nl_iface *out)
{
	struct rtnl_link *link = NULL;
	struct nl_addr *ll;
	struct nl_req r;
	int err;

	memset(out, 0, sizeof(*out));
	err = req_open(&r);
	if (err)
		return err;
	err = rtnl_link_get_kernel(r.sk, 0, ifname, &link);
	if (err < 0) {
		err = req_errno(&r, err);
		goto out;
	}
	out->ifindex = rtnl_link_get_ifindex(link);
	out->up = link_up(rtnl_link_get_flags(link));
	ll = rtnl_link_get_addr(link);
	if (ll && nl_addr_get_len(ll) == 6)
		memcpy(out->mac, nl_addr_get_binary_addr(ll), 6);
	err = primary_addr(&r, out->ifindex, skip, &out->addr);
out:
	if (link)
		rtnl_link_put(link);
	req_close(&r);
	return err;
}

/* An rtnl_addr for addr/prefix on ifindex. */
static struct rtnl_addr *addr_build(int ifindex, uint32_t addr, uint8_t prefix)
{
	struct rtnl_addr *a = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET, &addr, 4);

	if (!a || !local)
		goto fail;
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(a, ifindex);
	rtnl_addr_set_family(a, AF_INET);
	if (rtnl_addr_set_local(a, local) < 0)
		goto fail;
	rtnl_addr_set_prefixlen(a, prefix);
	nl_addr_put(local);
	return a;
fail:
	if (local)
		nl_addr_put(local);
	if (a)
		rtnl_addr_put(a);
	return NULL;
}

static int ifaddr_change(int ifindex, uint32_t addr, uint8_t prefix, int add)
{
	struct rtnl_addr *a;
	struct nl_req r;
	int err;

	a = addr_build(ifindex, addr, prefix);
	if (!a)
		return -ENOMEM;
	err = req_open(&r);
	if (err)
		goto out;
	err = add ? rtnl_addr_add(r.sk, a, NLM_F_EXCL) : rtnl_addr_delete(r.sk, a, 0);
	if (err < 0)
		err = req_errno(&r, err);
	else
		err = 0;
	/* Idempotent: already there, or already gone (the kernel says EADDRNOTAVAIL). */
	if ((add && err == -EEXIST) || (!add && err == -EADDRNOTAVAIL))
		err = 0;
	req_close(&r);
out:
	rtnl_addr_put(a);
	return err;
}

int nl_ifaddr_add(int ifindex, uint32_t addr, uint8_t prefix)
{
	return ifaddr_change(ifindex, addr, prefix, 1);
}

int nl_ifaddr_del(int ifindex, uint32_t addr, uint8_t prefix)
{
	return ifaddr_change(ifindex, addr, prefix, 0);
}

int nl_ifaddr_has(int ifindex, uint32_t addr)
{
	struct nl_cache *cache = NULL;
	struct nl_object *o;
	struct nl_req r;
	int err, found = 0;

	err = req_open(&r);
	if (err)
		return err;
	err = rtnl_addr_alloc_cache(r.sk, &cache);
	if (err < 0) {
		err = req_errno(&r, err);
		goto out;
	}
	for (o = nl_cache_get_first(cache); o && !found; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *local = rtnl_addr_get_local(a);

		found = rtnl_addr_get_ifindex(a) == ifindex && rtnl_addr_get_family(a) == AF_INET && local &&
			nl_addr_get_len(local) == 4 && !memcmp(nl_addr_get_binary_addr(local), &addr, 4);
	}
	nl_cache_free(cache);
	err = found;
out:
	req_close(&r);
	return err;
}

/* RTM_NEWNEIGH/RTM_DELNEIGH for addr on ifindex. libnl 3.7 has no setter for NDA_FLAGS_EXT, so the
 * message is built by hand, as iproute2 does it. */
static int neigh_change(int type, int flags, int ifindex, uint32_t addr, int managed)
{
	struct ndmsg ndm = { .ndm_family = AF_INET, .ndm_ifindex = ifindex, .ndm_state = NUD_NONE };
	struct nl_msg *msg;
	struct nl_req r;
	int err;

	msg = nlmsg_alloc_simple(type, flags);
	if (!msg)
		return -ENOMEM;
	if (nlmsg_append(msg, &ndm, sizeof(ndm), NLMSG_ALIGNTO) < 0 || nla_put(msg, NDA_DST, 4, &addr) < 0 ||
	    (managed && nla_put_u32(msg, NDA_FLAGS_EXT, NTF_EXT_MANAGED) < 0)) {
		nlmsg_free(msg);
		return -ENOMEM;
	}
	err = req_open(&r);
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	err = nl_send_sync(r.sk, msg); /* frees msg */
	err = err < 0 ? req_errno(&r, err) : 0;
	req_close(&r);
	return err;
}

int nl_neigh_managed(int ifindex, uint32_t addr)
{
	/* Without NLM_F_EXCL/REPLACE an existing entry keeps its state and gains the flag. */
	return neigh_change(RTM_NEWNEIGH, NLM_F_CREATE, ifindex, addr, 1);
}

int nl_neigh_del(int ifindex, uint32_t addr)
{
	int err = neigh_change(RTM_DELNEIGH, 0, ifindex, addr, 0);

	return err == -ENOENT ? 0 : err;
}

/* The link watch: a socket subscribed to RTNLGRP_LINK, read from the loop. */
struct nl_watch {
	struct loop *loop;
	struct nl_sock *sk;
	int ifindex;
	int up;
	nl_link_cb cb;
	void *arg;
};

static void watch_set(struct nl_watch *w, int up)
{
	if (up == w->up)
		return;
	w->up = up;
	if (w->cb)
		w->cb(w->arg, w->ifindex, up);
}

static int watch_on_msg(struct nl_msg *msg, void *arg)
{
	struct nl_watch *w = arg;
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct ifinfomsg *ifi;

	if ((h->nlmsg_type != RTM_NEWLINK && h->nlmsg_type != RTM_DELLINK) ||
	    h->nlmsg_len < NLMSG_LENGTH(sizeof(*ifi)))
		return NL_OK;
	ifi = nlmsg_data(h);
	if (ifi->ifi_index != w->ifindex)
		return NL_OK;
	watch_set(w, h->nlmsg_type == RTM_NEWLINK && link_up(ifi->ifi_flags));
	return NL_OK;
}

/* After an overflow of the event socket the last state is unknown: ask the kernel. */
static void watch_resync(struct nl_watch *w)
{
	struct rtnl_link *link = NULL;
	struct nl_req r;
	int err;

	if (req_open(&r))
		return;
	err = rtnl_link_get_kernel(r.sk, w->ifindex, NULL, &link);
	if (err >= 0) {
		watch_set(w, link_up(rtnl_link_get_flags(link)));
		rtnl_link_put(link);
	} else if (req_errno(&r, err) == -ENODEV) {
		watch_set(w, 0);
	}
	req_close(&r);
}

static void watch_readable(void *arg, uint32_t events)
{
	struct nl_watch *w = arg;
	int i, err;

	for (i = 0; i < 64; i++) {
		err = nl_recvmsgs_default(w->sk);
		if (err == -NLE_NOMEM) { /* ENOBUFS: events were lost */
			watch_resync(w);
			continue;
		}
		if (err < 0)
			break;
	}
}

struct nl_watch *nl_watch_new(struct loop *l, int ifindex, nl_link_cb cb, void *arg, int *errp)
{
	struct nl_watch *w = calloc(1, sizeof(*w));
	int err = -ENOMEM;

	if (!w)
		goto fail;
	w->loop = l;
	w->ifindex = ifindex;
	w->cb = cb;
	w->arg = arg;
	w->sk = nl_socket_alloc();
	if (!w->sk)
		goto fail;
	nl_socket_disable_seq_check(w->sk);
	nl_socket_modify_cb(w->sk, NL_CB_VALID, NL_CB_CUSTOM, watch_on_msg, w);
	err = nl_connect(w->sk, NETLINK_ROUTE);
	if (err < 0 || (err = nl_socket_add_membership(w->sk, RTNLGRP_LINK)) < 0 ||
	    (err = nl_socket_set_nonblocking(w->sk)) < 0) {
		err = nle_errno(err);
		goto fail;
	}
	err = loop_add(l, nl_socket_get_fd(w->sk), EPOLLIN, watch_readable, w);
	if (err)
		goto fail;
	/* The state to start from, read after subscribing so that no change falls in between. */
	w->up = -1;
	w->cb = NULL;
	watch_resync(w);
	w->cb = cb;
	return w;
fail:
	if (w && w->sk)
		nl_socket_free(w->sk);
	free(w);
	*errp = err;
	return NULL;
}

int nl_watch_up(const struct nl_watch *w)
{
	return w->up > 0;
}

void nl_watch_free(struct nl_watch *w)
{
	if (!w)
		return;
	loop_del(w->loop, nl_socket_get_fd(w->sk));
	nl_socket_free(w->sk);
	free(w);
}

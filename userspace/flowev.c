/* The one reader of pgs_events: each flow event goes to every feature through ctl_tell_flow(). */
#include <errno.h>
#include <bpf/libbpf.h>
#include "datapath.h"
#include "flowev.h"
#include "hooks.h"
#include "loop.h"

static struct {
	struct loop *loop;
	struct ring_buffer *rb;
} E;

static int on_event(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(struct pgs_flow_event))
		ctl_tell_flow(data);
	return 0;
}

static void on_ring(void *arg, uint32_t events)
{
	flowev_drain();
}

void flowev_drain(void)
{
	if (E.rb)
		ring_buffer__consume(E.rb);
}

static void on_stopping(void *arg, int handover)
{
	if (!E.rb)
		return;
	flowev_drain();
	loop_del(E.loop, ring_buffer__epoll_fd(E.rb));
	ring_buffer__free(E.rb);
	E.rb = NULL;
}

static const struct ctl_hooks flowev_hooks = { .stopping = on_stopping };

int flowev_start(struct loop *l, struct datapath *dp)
{
	int r;

	if (E.rb)
		return 0;
	E.loop = l;
	E.rb = ring_buffer__new(datapath_events_fd(dp), on_event, NULL, NULL);
	if (!E.rb)
		return -errno;
	r = loop_add(l, ring_buffer__epoll_fd(E.rb), EPOLLIN, on_ring, NULL);
	if (!r)
		r = ctl_hooks_add(&flowev_hooks, NULL);
	if (r) {
		ring_buffer__free(E.rb);
		E.rb = NULL;
	}
	return r;
}

/* The registry of the controller's event hooks. */
#include <errno.h>
#include "hooks.h"

static struct {
	const struct ctl_hooks *h;
	void *arg;
} reg[CTL_HOOKS_MAX];
static int nreg;

int ctl_hooks_add(const struct ctl_hooks *h, void *arg)
{
	if (nreg == CTL_HOOKS_MAX)
		return -ENOSPC;
	reg[nreg].h = h;
	reg[nreg++].arg = arg;
	return 0;
}

void ctl_hooks_del(const struct ctl_hooks *h, void *arg)
{
	int i, j;

	for (i = 0; i < nreg; i++)
		if (reg[i].h == h && reg[i].arg == arg) {
			for (j = i; j + 1 < nreg; j++)
				reg[j] = reg[j + 1];
			nreg--;
			return;
		}
}

#define TELL(cb, ...)                                       \
	do {                                                \
		int i_;                                     \
		for (i_ = 0; i_ < nreg; i_++)               \
			if (reg[i_].h->cb)                  \
				reg[i_].h->cb(reg[i_].arg, ##__VA_ARGS__); \
	} while (0)

void ctl_tell_tick(uint64_t now_ms)
{
	TELL(tick, now_ms);
}

void ctl_tell_steering(int on)
{
	TELL(steering, on);
}

void ctl_tell_server(struct server_rt *s)
{
	TELL(server, s);
}

void ctl_tell_reloaded(void)
{
	TELL(reloaded);
}

void ctl_tell_stopping(int handover)
{
	TELL(stopping, handover);
}

void ctl_tell_flow(const struct pgs_flow_event *ev)
{
	TELL(flow, ev);
}

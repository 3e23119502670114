/* The controller's events, for features that plug in beside the daemon's own wiring (flow sync,
 * ...): a feature registers what it wants to be told, pgsteerd.c tells every registered one. */
#ifndef PGS_HOOKS_H
#define PGS_HOOKS_H

#include <stdint.h>
#include "backend.h"

struct ctl_hooks {
	void (*tick)(void *arg, uint64_t now_ms);          /* the daemon's periodic tick */
	void (*steering)(void *arg, int on);               /* this node started or stopped steering */
	void (*server)(void *arg, struct server_rt *s);    /* a server's datapath entry was rewritten */
	void (*reloaded)(void *arg);                       /* a reload applied a new config and model */
	void (*stopping)(void *arg, int handover);         /* the loop ended (handover: restart in place) */
	void (*flow)(void *arg, const struct pgs_flow_event *ev); /* a flow event of pgs_events (flowev.c) */
};

#define CTL_HOOKS_MAX 16

/* Register h (kept by pointer) with arg; 0, or -ENOSPC. Each event goes to every registration in
 * the order they were added; a missing callback is skipped. */
int ctl_hooks_add(const struct ctl_hooks *h, void *arg);
void ctl_hooks_del(const struct ctl_hooks *h, void *arg);

void ctl_tell_tick(uint64_t now_ms);
void ctl_tell_steering(int on);
void ctl_tell_server(struct server_rt *s);
void ctl_tell_reloaded(void);
void ctl_tell_stopping(int handover);
void ctl_tell_flow(const struct pgs_flow_event *ev);

#endif

/* The datapath's flow events (ring buffer pgs_events: a flow became ESTABLISHED, an established flow
 * CLOSED), read in one place: a BPF ring buffer has one consumer position, so flow sync and the
 * connection log cannot each read it. Every event goes to the controller's hooks (ctl_hooks.flow). */
#ifndef PGS_FLOWEV_H
#define PGS_FLOWEV_H

struct loop;
struct datapath;

/* Start reading pgs_events on loop (once; later calls do nothing): 0 or -errno. Registers its own
 * hooks first, so at the end its `stopping` runs before those of the features that call it later:
 * it delivers what is queued, then stops reading (a feature that drains in its own `stopping`
 * finds nothing left and nothing is told to it after). */
int flowev_start(struct loop *l, struct datapath *dp);

/* Deliver every event queued now (a feature that must have seen them all before it acts). */
void flowev_drain(void);

#endif

/* The connection log ("log connections"), as HAProxy's "option tcplog" gives: a line when a client's
 * connection opens (client ip:port, the VIP:port it reached, the server, the VIP:SNAT port the
 * server sees in its place) and one when it closes (how long it lasted, who closed it and how),
 * from the datapath's flow events (flowev.c), at info level to the journal/stderr and, with
 * "log connections file PATH", to that file. Off by default; it never slows the datapath: events
 * the ring buffer has no room for are counted (pgsteer_sync_events_lost_total) and said here. */
#ifndef PGS_CONNLOG_H
#define PGS_CONNLOG_H

#include <stddef.h>
#include "backend.h"

struct loop;
struct datapath;

/* The line for event ev (without time stamp or newline) into buf. f is the flow as the table holds
 * it when the event is read (a closed flow lingers there), NULL when it is gone already. */
void connlog_line(char *buf, size_t len, const struct model *m, const struct pgs_flow_event *ev,
		  const struct pgs_flow *f);

/* Register with the controller's hooks (flow events, reload, tick, stop); m->cfg says whether to
 * log and where, read anew at every reload. 0 or -errno. */
int connlog_start(struct loop *l, struct datapath *dp, const struct model *m);

#endif

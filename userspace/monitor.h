/* `pgsteer monitor`: the seed's stand-alone monitor. Polls any HAProxy-format CSV (pgsteerd's or a real
 * HAProxy's /stats;csv), and alerts on a change of a server's class, with the state kept in a file. */
#ifndef PGS_MONITOR_H
#define PGS_MONITOR_H

#include "backend.h"
#include "csv.h"

/* One server row of a stats CSV, classified; the strings point into the csv. */
struct monitor_row {
	const char *service;      /* pxname */
	const char *server;       /* svname */
	const char *status;       /* the raw status column: "UP 2/3" */
	enum srv_class cls;
	const char *check_status; /* "L4CON", without HAProxy's "* " in-progress prefix */
	const char *check_desc;   /* last_chk, else check_desc */
};

/* The class of a status column: UP*, NOLB*, "no check" -> UP; DOWN* -> DOWN; DRAIN* -> DRAIN;
 * MAINT* -> MAINT. 0, or -EINVAL for anything else (a frontend's OPEN, garbage). */
int monitor_classify(const char *status, enum srv_class *cls);

/* The server rows of a parsed stats CSV (frontends, backends and listeners skipped; rows with an
 * unknown status skipped), at most max. The count, or -EINVAL when pxname, svname or status is
 * missing from the header. */
int monitor_servers(const struct csv *c, struct monitor_row *rows, int max);

/* pgsteer monitor --stats-url URL [--interval 10s] [--state-file F] [--webhook-file F] [--node NAME]
 * [--once] [-v]. Exit status: 0, 1 on a runtime failure, 2 on a usage error. */
int monitor_main(int argc, char **argv);

#endif

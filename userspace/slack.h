/* Alert events in the seed's wording and their Slack incoming-webhook JSON: pure, no I/O. */
#ifndef PGS_SLACK_H
#define PGS_SLACK_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"

/* The attachment's side bar: danger = lost, warning = degraded, good = back. */
enum slack_colour { SLACK_DANGER, SLACK_WARNING, SLACK_GOOD };

/* VRRP events, told by the node they happen to (self); peer is the other node. */
enum vrrp_alert {
	VRRP_ALERT_TAKEOVER,  /* self became master, the old master went silent: "VIP migrated to self, peer is DOWN" */
	VRRP_ALERT_PREEMPT,   /* self preempted a live master: "VIP migrated to self, peer is BACKUP" */
	VRRP_ALERT_REJOINED,  /* self came back and hears a master: "Recovery: self rejoined" */
	VRRP_ALERT_FAULT,     /* self gave the VIP up on a fault: "self is FAULT: why, VIP released" */
	VRRP_ALERT_BACKUP,    /* self is backup without news to tell (preempted, shut down): recorded, never posted */
	VRRP_ALERT_ELECTED,   /* self became master with no master heard before (a first election): recorded, never posted */
};

#define SLACK_MAX_FIELDS 6

struct slack_field {
	char title[16];
	char value[200];
};

/* One alert: the headline in the seed's wording, a one-line text that also names the facts, and the
 * facts as attachment fields. */
struct slack_event {
	char title[160];       /* "pgb2 is DOWN" */
	char text[512];        /* "pgb2 is DOWN (service pgsql, node lb1, check L4CON: Connection refused)" */
	enum slack_colour colour;
	int nfields;
	struct slack_field fields[SLACK_MAX_FIELDS];
	uint64_t ts;           /* wall clock, seconds */
};

/* A server's class changed from -> to. check_status/check_desc: the last check ("L4CON",
 * "Connection refused"; either may be empty); down_s: how long the period that ends lasted, for a
 * recovery (UINT64_MAX = unknown). */
void slack_server(struct slack_event *ev, const char *node, const char *service, const char *server,
		  enum srv_class from, enum srv_class to, const char *check_status, const char *check_desc,
		  uint64_t down_s, uint64_t ts);
/* A VRRP event of node self; peer may be NULL or "" when unknown, why is for a fault. */
void slack_vrrp(struct slack_event *ev, enum vrrp_alert kind, const char *self, const char *peer,
		const char *why, uint64_t ts);
/* The flow table is fuller than the threshold (full = 1) or back under it (full = 0). */
void slack_flow_table(struct slack_event *ev, const char *node, unsigned pct, int full, uint64_t ts);
/* A service entered SYN-flood mode (on = 1: the datapath answers SYNs with cookies, unless mode is
 * "off") or left it (on = 0, after flood_s seconds); sent and invalid: its cookie counts so far. */
struct slack_flood {
	const char *service;
	const char *mode;       /* syn-cookies auto, always, off */
	int on;
	uint64_t flood_s;       /* on = 0: how long the flood lasted */
	uint64_t sent, invalid; /* cookies sent, cookie ACKs dropped as invalid (the service's totals) */
};
void slack_flood(struct slack_event *ev, const char *node, const struct slack_flood *f, uint64_t ts);
/* The monitor's stats source cannot be read (up = 0, why says how) or can again (up = 1). */
void slack_stats(struct slack_event *ev, const char *node, const char *source, int up, const char *why,
		 uint64_t ts);

/* The webhook body for n >= 1 events: the text lines joined, one coloured attachment each. Returns 0
 * and a malloc'ed NUL-terminated JSON string in *json, or -ENOMEM / -EINVAL. */
int slack_payload(const struct slack_event *evs, int n, char **json);

/* "12s", "4m05s", "2h03m", "3d04h". */
void slack_duration(uint64_t s, char *buf, size_t len);
const char *slack_colour_name(enum slack_colour c);

#endif

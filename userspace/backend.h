/* The controller's model of services and servers: admin state, health, check results, and the
 * datapath's counters, from which the stats, the status command and the alerts are rendered. */
#ifndef PGS_BACKEND_H
#define PGS_BACKEND_H

#include <stdint.h>
#include "config.h"
#include "health.h"
#include "sync.h"

/* check_status values, as HAProxy names them. */
enum chk_status {
	CHK_UNK, CHK_INI, CHK_SOCKERR, CHK_L4OK, CHK_L4TOUT, CHK_L4CON,
	CHK_L6OK, CHK_L6TOUT, CHK_L6RSP, CHK_L7OK, CHK_L7TOUT, CHK_L7RSP, CHK_L7STS,
	CHK_MAX
};

const char *chk_status_name(enum chk_status s);

/* The outcome of one health check. */
struct check_result {
	enum chk_status status;
	int ok;
	uint32_t duration_ms;
	char code[8];      /* check_code: the SQLSTATE of an ErrorResponse, else empty */
	char desc[160];    /* last_chk: what was seen, e.g. "FATAL 28P01 password authentication failed" */
};

/* Coarse state for alerts and monitors: changes of class are what operators are told about. */
enum srv_class { CLASS_UP, CLASS_DOWN, CLASS_DRAIN, CLASS_MAINT };

const char *srv_class_name(enum srv_class c);
/* "ready", "drain", "maint": the runtime API's words, also in the saved state and the JSON. */
const char *admin_name(enum admin_state a);

struct service_rt;

struct server_rt {
	struct cfg_server cfg;
	struct service_rt *svc;
	uint32_t slot;               /* index in the datapath's server maps */
	enum admin_state admin;
	uint32_t uweight;            /* user weight, 0..256 (config, or "set server ... weight") */
	struct health health;
	int checked;                 /* the service has a check */
	struct check_result last;    /* last completed check */
	int check_running;
	uint64_t chkfail;            /* failed checks while health > 0 (HAProxy's failed_checks) */
	uint64_t chkdown;            /* UP -> DOWN transitions */
	uint64_t last_change_ms;     /* monotonic ms of the last status change (lastchg) */
	uint64_t down_since_ms;      /* monotonic ms when it went DOWN; 0 while UP */
	uint64_t downtime_ms;        /* total time DOWN, finished periods */
	uint64_t up_since_ms;        /* monotonic ms when it came UP (slow start) */
	uint64_t passive_ns;         /* the datapath saw it refuse a SYN (0 = no) */
	enum srv_class reported;     /* class last announced (alerts) */
	int adopt_next;              /* the next check's class was told by the other node: adopt it */
	/* datapath counters, refreshed by dpsync_refresh() */
	uint64_t scur, smax, stot, bin, bout, redispatched;
	uint64_t last_new_ns;        /* bpf_ktime_get_ns of the last new flow; 0 = never */
};

struct service_rt {
	struct cfg_service cfg;
	uint32_t id;
	int nservers;
	struct server_rt servers[PGS_MAX_SERVERS];
	uint64_t scur, smax, stot, bin, bout;
	uint64_t last_new_ns;
	struct {                     /* SYN floods (synflood.c), refreshed every tick */
		int flood;               /* the datapath is in flood mode now (pgs_synguard.flood_until_ns) */
		int alerted;             /* flood mode as told to the alerts: left once quiet SYNFLOOD_QUIET_MS */
		uint64_t floods;         /* times it entered flood mode since pgsteerd started */
		uint64_t verdicts[PGS_R_MAX]; /* the service's own verdicts (pgs_svc_verdicts): synflood_reasons */
	} syn;
};

struct model {
	const struct config *cfg;
	uint64_t start_ms;           /* monotonic start of pgsteerd */
	int nservices;
	struct service_rt services[PGS_MAX_SERVICES];
	uint64_t verdicts[PGS_R_MAX];
	uint64_t flows;              /* flow-table occupancy at the last clean-up */
	uint64_t flows_max;
	uint64_t flows_expired;      /* flows the controller removed, total */
	struct {
		int enabled;
		int state;               /* enum vrrp_state (vrrp.h) */
		uint64_t last_change_ms; /* wall clock ms */
		uint32_t master;         /* current master's address, network order; 0 unknown */
		uint64_t transitions;
		uint64_t rx_dropped[8];  /* by enum vrrp_drop */
	} vrrp;
	struct {
		uint64_t queued, sent, failed, dropped;
	} alerts;
	struct sync_view sync;       /* flow sync (sync.c); enabled 0 when off */
	struct {                     /* cancel routing (cancel.c) */
		uint64_t seen;           /* CancelRequests the datapath recognised */
		uint64_t routed;         /* of those, fanned out to the service's other servers */
		uint64_t fanned_out;     /* copies delivered to other servers */
		uint64_t failed;         /* copies that could not be delivered */
		uint64_t dropped;        /* not fanned out: ring buffer full, rate limit, too old */
	} cancel;
	struct {                     /* the event loop's turns (loop.c) */
		uint64_t turns;
		uint64_t slow_turns;     /* longer than LOOP_SLOW_TURN_MS */
		uint64_t max_turn_us;    /* the longest since start */
	} loop;
};

/* The effective datapath state and weight of a server (admin, health, passive flag, slow start). */
uint8_t server_dp_state(const struct server_rt *s);
uint32_t server_dp_weight(const struct server_rt *s, uint64_t now_ms);
enum srv_class server_class(const struct server_rt *s);
/* HAProxy's status column for this server. */
const char *server_status(const struct server_rt *s, char *buf, size_t len);
/* Seconds since the last status change, total downtime including a current DOWN period. */
uint64_t server_lastchg_s(const struct server_rt *s, uint64_t now_ms);
uint64_t server_downtime_s(const struct server_rt *s, uint64_t now_ms);

/* Build the model from a config: servers UP (or MAINT if disabled). Slots in the datapath follow
 * names: with prev (the model a reload replaces), a server keeps its slot, a new one takes a slot
 * nobody used; without, slots are assigned in order. */
void model_init(struct model *m, const struct config *cfg, uint64_t now_ms, const struct model *prev);
/* Positions the service spans in the datapath (highest slot position + 1; holes are empty slots). */
uint32_t service_positions(const struct service_rt *svc);
struct server_rt *model_server(struct model *m, const char *service, const char *server);
/* The server in datapath slot `slot`; NULL when the slot is empty. */
const struct server_rt *model_slot(const struct model *m, uint32_t slot);
/* "service/server" or a bare server name when it is unique. */
struct server_rt *model_find(struct model *m, const char *spec);

#endif

/* The configuration: one file, HAProxy/keepalived-flavoured sections, parsed into a struct config. */
#ifndef PGS_CONFIG_H
#define PGS_CONFIG_H

#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pgsteer_abi.h"

#define CFG_MAX_PEERS 8
#define CFG_STR 64
#define CFG_SYNC_KEY_DEFAULT "/etc/pgsteer/sync.key"
#define CFG_SYNC_PORT_DEFAULT 8848 /* IPVS sync daemon's port */

enum attach_mode { ATTACH_XDP, ATTACH_TC };
enum check_type { CHECK_NONE, CHECK_TCP, CHECK_PGSQL, CHECK_LOGIN };

/* Which IPv4 VRRPv3 checksum adverts carry (all three are accepted on receive). */
enum vrrp_csum {
	VRRP_CSUM_PSEUDO,       /* pseudo-header with the real destination: keepalived's default */
	VRRP_CSUM_PLAIN,        /* no pseudo-header: RFC 9568, keepalived's v3_checksum_as_v2 */
	VRRP_CSUM_PSEUDO_MCAST, /* pseudo-header with 224.0.0.18 even in unicast: keepalived <= 1.3.6 */
};

struct cfg_check {
	enum check_type type;
	uint32_t inter_ms;
	uint32_t fastinter_ms;  /* while changing state; default inter */
	uint32_t downinter_ms;  /* while fully DOWN; default inter */
	uint32_t timeout_ms;
	uint32_t fall;
	uint32_t rise;
	char user[CFG_STR];     /* login check */
	char database[CFG_STR];
};

struct cfg_server {
	char name[PGS_NAME_LEN];
	uint32_t addr;          /* network order */
	uint16_t port;          /* network order */
	uint32_t weight;        /* 0..256, HAProxy's user weight */
	int disabled;           /* starts in MAINT */
	int line;
};

#define CFG_MAX_CIDRS 64 /* per list and service */

/* An IPv4 network: allow/deny source lists. */
struct cfg_cidr {
	uint32_t addr;          /* network order, host bits zero */
	uint8_t len;            /* 0..32 */
};

struct cfg_service {
	char name[PGS_NAME_LEN];
	uint32_t vip;           /* network order */
	uint16_t port;          /* network order */
	struct cfg_check check;
	uint32_t slowstart_ms;
	int shutdown_sessions;  /* on-marked-down shutdown-sessions */
	int cancel_routing;     /* cancel-routing on (default) | off */
	int nallow, ndeny;      /* source policy (allow/deny CIDR lists) */
	struct cfg_cidr allow[CFG_MAX_CIDRS];
	struct cfg_cidr deny[CFG_MAX_CIDRS];
	uint32_t syn_cookies;   /* enum pgs_syn_cookies: auto (default), always, off */
	uint32_t syn_halfopen_max; /* auto: cookies from this many half-open flows (0: the default) */
	char admin_credentials[PATH_MAX]; /* PgBouncer admin console login (pgsteer clients); "": global's */
	int admin_credentials_line;
	int nservers;
	struct cfg_server servers[PGS_MAX_SERVERS];
	int line;
};

struct cfg_vrrp {
	int enabled;
	uint8_t vrid;
	uint8_t priority;
	uint16_t advert_cs;     /* centiseconds */
	int preempt;
	uint32_t preempt_delay_ms;
	uint32_t vip;           /* network order */
	uint8_t vip_prefix;
	int npeers;
	uint32_t peers[CFG_MAX_PEERS];
	int nnames;                     /* names of other nodes, for alerts ("lb1 is DOWN") */
	uint32_t name_addr[CFG_MAX_PEERS];
	char names[CFG_MAX_PEERS][CFG_STR];
	uint32_t unicast_src;   /* 0: the interface's primary address */
	enum vrrp_csum csum;
	uint32_t garp_repeat;
	uint32_t garp_delay_ms; /* second burst; 0 = none */
	char sync_key_file[PATH_MAX]; /* flow sync's shared key; sync is on when the file exists */
	int sync_key_explicit;  /* the file was named: it must exist */
	int sync_off;           /* "sync off" */
	uint16_t sync_port;     /* UDP (flow events) and TCP (bulk resync), host order */
	int line;
};

struct cfg_alert {
	char webhook_file[PATH_MAX];
	char webhook_env[CFG_STR];
	uint32_t flow_table_pct; /* alert when the flow table is fuller than this */
};

struct config {
	char path[PATH_MAX];
	char interface[IF_NAMESIZE];
	enum attach_mode attach;
	char pin_root[PATH_MAX];
	char runtime_socket[PATH_MAX];
	unsigned runtime_mode;          /* the socket file's mode (default 0660) */
	char runtime_group[CFG_STR];    /* its group, a name or a number; "" = pgsteer when that group exists */
	int stats_enabled;
	uint32_t stats_addr;    /* network order */
	uint16_t stats_port;    /* host order */
	char stats_auth_file[PATH_MAX]; /* "stats auth-file": USER:PASSWORD lines; "" = no authentication */
	char state_dir[PATH_MAX];
	char node_name[CFG_STR];
	uint32_t flow_table_size;
	uint16_t snat_min;
	uint16_t snat_max;
	uint32_t t_syn_ms;
	uint32_t t_est_ms;
	uint32_t t_fin_ms;
	uint32_t t_closed_ms;
	struct cfg_alert alert;
	int log_connections;            /* "log connections": a line per connection opened and closed */
	char log_file[PATH_MAX];        /* "log connections file PATH": those lines there too; "" = none */
	char admin_credentials[PATH_MAX]; /* "admin-credentials PATH": PgBouncer's admin console login */
	struct cfg_vrrp vrrp;
	int nservices;
	struct cfg_service services[PGS_MAX_SERVICES];
	/* where these came from, for config_warn.c's messages (0: not in the file) */
	int interface_line, snat_line, webhook_line, stats_auth_line, runtime_line, sync_key_line,
	    admin_credentials_line;
};

/* Parse a file or a string into cfg (defaults first). On error returns -EINVAL (or -errno for the
 * file) and writes "file:line: message" into err; cfg is then unspecified. */
int config_load(const char *path, struct config *cfg, char *err, size_t errlen);
int config_parse(const char *text, const char *name, struct config *cfg, char *err, size_t errlen);

/* "100ms", "2s", "5m", "3h", "1d"; a bare number is milliseconds. 0 or -EINVAL. */
int config_duration(const char *s, uint64_t *ms);

/* The runtime socket's group when the config names none (and this machine has it). */
#define CFG_RUNTIME_GROUP_DEFAULT "pgsteer"

/* A group by name or number: 0 with *gid set (gid may be NULL), or -ENOENT. */
int config_group(const char *name, gid_t *gid);

const char *attach_name(enum attach_mode m);
const char *check_name(enum check_type t);

/* Find a service or server by name; NULL if none. */
struct cfg_service *config_service(struct config *cfg, const char *name);
struct cfg_server *config_server(struct cfg_service *svc, const char *name);

#endif

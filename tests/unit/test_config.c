/* Config parsing: what a valid file yields, and the file:line message of each mistake. */
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <unistd.h>
#include "harness.h"
#include "config.h"

static struct config cfg;
static char err[512];

static const char *base =
	"global\n"
	"    interface eth0\n"
	"service pgsql\n"
	"    bind 10.100.1.100:5432\n"
	"    server pgb1 10.100.1.5:6432\n";

static int parse(const char *text)
{
	err[0] = '\0';
	return config_parse(text, "t.conf", &cfg, err, sizeof(err));
}

static void full_example(void)
{
	const char *text =
		"# comment\n"
		"global\n"
		"    interface   eth1\n"
		"    attach      tc            # trailing comment\n"
		"    pin-root    /sys/fs/bpf/x\n"
		"    stats       127.0.0.1:9404\n"
		"    stats       auth-file /etc/pgsteer/stats-users\n"
		"    runtime-socket /run/x/x.sock mode 0640 group 4242\n"
		"    state-dir   /var/lib/x\n"
		"    node-name   lb1\n"
		"    flow-table-size 4096\n"
		"    snat-ports  20000-30000\n"
		"    timeout established 4h\n"
		"    timeout syn 10s\n"
		"    alert slack webhook-file /etc/pgsteer/hook\n"
		"vrrp\n"
		"    vrid 51\n"
		"    priority 101\n"
		"    advert-interval 100ms\n"
		"    nopreempt\n"
		"    vip 10.100.1.100/24\n"
		"    unicast-peer 10.100.1.11 name lb2\n"
		"    checksum rfc9568\n"
		"service pgsql\n"
		"    bind 10.100.1.100:5432\n"
		"    balance leastconn\n"
		"    check login user app database app inter 2s fall 3 rise 2 timeout 1s fastinter 500ms\n"
		"    slowstart 10s\n"
		"    on-marked-down shutdown-sessions\n"
		"    server pgb1 10.100.1.5:6432\n"
		"    server pgb2 10.100.1.5:6433 weight 2\n"
		"    server pgb3 10.100.1.5:6434 weight 0 disabled\n";
	struct cfg_service *s;

	CHECK_EQ(parse(text), 0);
	CHECK_STR(err, "");
	CHECK_STR(cfg.interface, "eth1");
	CHECK_EQ(cfg.attach, ATTACH_TC);
	CHECK_STR(cfg.pin_root, "/sys/fs/bpf/x");
	CHECK_EQ(cfg.stats_port, 9404);
	CHECK_EQ(cfg.stats_addr, htonl(0x7f000001));
	CHECK_STR(cfg.stats_auth_file, "/etc/pgsteer/stats-users");
	CHECK_EQ(cfg.stats_auth_line, 7);
	CHECK_STR(cfg.runtime_socket, "/run/x/x.sock");
	CHECK_EQ(cfg.runtime_mode, 0640);
	CHECK_STR(cfg.runtime_group, "4242");
	CHECK_EQ(cfg.flow_table_size, 4096);
	CHECK_EQ(cfg.snat_min, 20000);
	CHECK_EQ(cfg.snat_max, 30000);
	CHECK_EQ(cfg.t_est_ms, 4 * 3600000);
	CHECK_EQ(cfg.t_syn_ms, 10000);
	CHECK_EQ(cfg.t_fin_ms, 60000);
	CHECK_STR(cfg.alert.webhook_file, "/etc/pgsteer/hook");
	CHECK_EQ(cfg.vrrp.enabled, 1);
	CHECK_EQ(cfg.vrrp.vrid, 51);
	CHECK_EQ(cfg.vrrp.priority, 101);
	CHECK_EQ(cfg.vrrp.advert_cs, 10);
	CHECK_EQ(cfg.vrrp.preempt, 0);
	CHECK_EQ(cfg.vrrp.vip_prefix, 24);
	CHECK_EQ(cfg.vrrp.npeers, 1);
	CHECK_EQ(cfg.vrrp.nnames, 1);
	CHECK_STR(cfg.vrrp.names[0], "lb2");
	CHECK_EQ(cfg.vrrp.csum, VRRP_CSUM_PLAIN);
	s = config_service(&cfg, "pgsql");
	CHECK(s != NULL, "service pgsql");
	if (!s)
		return;
	CHECK_EQ(ntohs(s->port), 5432);
	CHECK_EQ(s->check.type, CHECK_LOGIN);
	CHECK_STR(s->check.user, "app");
	CHECK_EQ(s->check.inter_ms, 2000);
	CHECK_EQ(s->check.timeout_ms, 1000);
	CHECK_EQ(s->check.fastinter_ms, 500);
	CHECK_EQ(s->check.downinter_ms, 2000);
	CHECK_EQ(s->slowstart_ms, 10000);
	CHECK_EQ(s->shutdown_sessions, 1);
	CHECK_EQ(s->nservers, 3);
	CHECK_EQ(s->servers[1].weight, 2);
	CHECK_EQ(s->servers[2].weight, 0);
	CHECK_EQ(s->servers[2].disabled, 1);
	CHECK_EQ(ntohs(s->servers[2].port), 6434);
}

static void defaults(void)
{
	CHECK_EQ(parse(base), 0);
	CHECK_EQ(cfg.attach, ATTACH_XDP);
	CHECK_STR(cfg.pin_root, "/sys/fs/bpf/pgsteer");
	CHECK_EQ(cfg.stats_enabled, 1);
	CHECK_EQ(cfg.stats_port, 8404);
	CHECK_STR(cfg.stats_auth_file, "");
	CHECK_EQ(cfg.runtime_mode, 0660);
	CHECK_STR(cfg.runtime_group, "");
	CHECK(cfg.t_est_ms >= 2 * 3600000, "established flows must not expire before 2 h by default (%u ms)", cfg.t_est_ms);
	CHECK_EQ(cfg.vrrp.enabled, 0);
	CHECK_EQ(cfg.services[0].check.type, CHECK_NONE);
	CHECK_EQ(cfg.services[0].check.fall, 3);
	CHECK_EQ(cfg.services[0].check.rise, 2);
	CHECK_EQ(cfg.services[0].servers[0].weight, 1);
	CHECK_EQ(cfg.services[0].syn_cookies, PGS_COOKIES_AUTO);
	CHECK_EQ(cfg.services[0].syn_halfopen_max, 0);
}

static void syn_cookies(void)
{
	static const char *const hdr = "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n";
	char text[512];

	snprintf(text, sizeof(text), "%s    syn-cookies always\n", hdr);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.services[0].syn_cookies, PGS_COOKIES_ALWAYS);
	snprintf(text, sizeof(text), "%s    syn-cookies off\n", hdr);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.services[0].syn_cookies, PGS_COOKIES_OFF);
	snprintf(text, sizeof(text), "%s    syn-cookies auto halfopen 500\n", hdr);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.services[0].syn_cookies, PGS_COOKIES_AUTO);
	CHECK_EQ(cfg.services[0].syn_halfopen_max, 500);
	snprintf(text, sizeof(text), "%s    syn-cookies sometimes\n", hdr);
	CHECK(parse(text) != 0, "syn-cookies sometimes accepted");
	CHECK_STR(err, "t.conf:6: syn-cookies: 'sometimes' is not always, auto or off");
	snprintf(text, sizeof(text), "%s    syn-cookies auto halfopen 0\n", hdr);
	CHECK(parse(text) != 0, "halfopen 0 accepted");
	CHECK_STR(err, "t.conf:6: syn-cookies halfopen: '0' is not a number from 1 to 16777216");
}

static void durations(void)
{
	static const struct {
		const char *in;
		int ok;
		uint64_t ms;
	} t[] = {
		{ "100ms", 1, 100 }, { "2s", 1, 2000 }, { "5m", 1, 300000 }, { "3h", 1, 10800000 }, { "1d", 1, 86400000 },
		{ "250", 1, 250 }, { "", 0, 0 }, { "s", 0, 0 }, { "2x", 0, 0 }, { "-1s", 0, 0 }, { "99999999999s", 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t ms = 0;
		int r = config_duration(t[i].in, &ms);

		CHECK((r == 0) == t[i].ok, "'%s' accepted=%d", t[i].in, !r);
		if (t[i].ok)
			CHECK(ms == t[i].ms, "'%s' = %llu ms", t[i].in, (unsigned long long)ms);
	}
}

/* Each mistake names the file, the line and what is wrong. */
static void errors(void)
{
	static const struct {
		const char *text;
		const char *msg;
	} t[] = {
		{ "global\n    interface eth0\n    attach dpdk\n", "t.conf:3: attach: unknown mode 'dpdk' (xdp or tc)" },
		{ "global\n    interface eth0\n    attach xdp-generic\n",
		  "t.conf:3: attach: xdp-generic is refused: generic XDP gives the program packets whose TCP checksum the "
		  "device finishes later (CHECKSUM_PARTIAL), which XDP cannot rewrite correctly; use tc on a device without "
		  "native XDP (it is also faster than generic XDP)" },
		{ "global\n    interfac eth0\n", "t.conf:2: unknown keyword 'interfac' in section global (did you mean 'interface'?)" },
		{ "    interface eth0\n", "t.conf:1: 'interface' outside a section (global, vrrp or service NAME)" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1\n", "t.conf:4: bind: '10.0.0.1' is not ADDRESS:PORT" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:99999\n", "t.conf:4: bind: '99999' is not a number from 1 to 65535" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s1 10.0.0.2:1\n    server s1 10.0.0.2:2\n",
		  "t.conf:6: server: 's1' is defined twice in service a" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s1 10.0.0.2:1 weight 300\n",
		  "t.conf:5: weight: '300' is not a number from 0 to 256" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    check pgsql inter 2q\n",
		  "t.conf:5: check inter: invalid duration '2q' (examples: 100ms, 2s, 5m, 3h)" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    check login\n",
		  "t.conf:5: check login: needs 'user NAME' (and optionally 'database NAME')" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    check tcp user x\n",
		  "t.conf:5: check tcp: 'user' and 'database' apply to the login check only" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n", "t.conf:3: service a: no server defined" },
		{ "global\n    attach tc\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n", "t.conf: global: 'interface' is required" },
		{ "global\n    interface eth0\n    snat-ports 1000-2000\n", "t.conf:3: snat-ports: '1000' is not a number from 1024 to 65535" },
		{ "global\n    interface eth0\n    snat-ports 5000-6000\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n",
		  "t.conf:4: service a: port 5432 lies in snat-ports 5000-6000" },
		{ "global\n    interface eth0\nvrrp\n    priority 255\n", "t.conf:4: priority: '255' is not a number from 1 to 254" },
		{ "global\n    interface eth0\nvrrp\n    advert-interval 15ms\n",
		  "t.conf:4: advert-interval: 15ms is not a whole number of centiseconds from 10ms to 40.95s" },
		{ "global\n    interface eth0\nvrrp\n    vip 10.0.0.1/24\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n",
		  "t.conf:3: vrrp: 'vrid' is required" },
		{ "global\n    interface eth0\nvrrp\n    vrid 5\n    vip 10.0.0.9/24\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n",
		  "t.conf:6: service a binds an address that is not the vrrp vip" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\nservice a\n",
		  "t.conf:6: service a is defined twice" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server this-name-is-too-long 10.0.0.2:1\n",
		  "t.conf:5: server: 'this-name-is-too-long' is not a valid name (up to 15 letters, digits, - _ .)" },
		{ "global\n    interface eth0\nvrrp\n    sync keyfile /k\n", "t.conf:4: sync: unknown option 'keyfile' (key-file, port)" },
		{ "global\n    interface eth0\nvrrp\n    sync key-file\n", "t.conf:4: sync: expects 'sync key-file PATH [port N]' or 'sync off'" },
		{ "global\n    interface eth0\nvrrp\n    sync key-file /k port 0\n", "t.conf:4: port: '0' is not a number from 1 to 65535" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    balance roundrobin\n",
		  "t.conf:5: balance: only leastconn is supported" },
		/* pgsteerd writes /proc/sys/net/ipv4/conf/INTERFACE/forwarding: never all, default or a path */
		{ "global\n    interface all\n", "t.conf:2: interface: 'all' names every interface's settings, not an interface" },
		{ "global\n    interface default\n",
		  "t.conf:2: interface: 'default' names every interface's settings, not an interface" },
		{ "global\n    interface ../..\n", "t.conf:2: interface: '../..' is not an interface name (1 to 15 characters, "
		  "not . or .., no '/', ':', spaces or control characters)" },
		{ "global\n    interface ..\n", "t.conf:2: interface: '..' is not an interface name (1 to 15 characters, "
		  "not . or .., no '/', ':', spaces or control characters)" },
		{ "global\n    interface eth0:1\n", "t.conf:2: interface: 'eth0:1' is not an interface name (1 to 15 characters, "
		  "not . or .., no '/', ':', spaces or control characters)" },
		{ "global\n    interface abcdefghijklmnop\n", "t.conf:2: interface: 'abcdefghijklmnop' is not an interface "
		  "name (1 to 15 characters, not . or .., no '/', ':', spaces or control characters)" },
		{ "global\n    interface e\x01th0\n", "t.conf:2: interface: 'e\x01th0' is not an interface name (1 to 15 "
		  "characters, not . or .., no '/', ':', spaces or control characters)" },
		{ "global\n    interface eth0\n    state-dir /var/lib/../../etc\n",
		  "t.conf:3: state-dir: '/var/lib/../../etc' has a '..' component: write the path it means" },
		{ "global\n    interface eth0\n    pin-root /sys/fs/bpf/..\n",
		  "t.conf:3: pin-root: '/sys/fs/bpf/..' has a '..' component: write the path it means" },
		{ "global\n    interface eth0\n    runtime-socket /run/../x.sock\n",
		  "t.conf:3: runtime-socket: '/run/../x.sock' has a '..' component: write the path it means" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s1 10.0.0.2:1\n    server s2 10.0.0.1:6432\n",
		  "t.conf:6: server s2: 10.0.0.1 is the VIP: pgsteer steers that address, a server must be another host" },
		{ "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s1 10.0.0.2:1\nservice b\n    bind 10.0.0.3:5433\n    server s 10.0.0.1:1\n",
		  "t.conf:8: server s: 10.0.0.1 is the VIP: pgsteer steers that address, a server must be another host" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = parse(t[i].text);

		CHECK(r != 0, "case %zu accepted: %s", i, t[i].text);
		CHECK(strcmp(err, t[i].msg) == 0, "case %zu:\n       got  %s\n       want %s", i, err, t[i].msg);
	}
}

/* Flow sync: on by default with the default key file, named file and port, or off. */
static void sync_settings(void)
{
	char text[512];

	snprintf(text, sizeof(text), "%svrrp\n    vrid 51\n    vip 10.100.1.100/24\n", base);
	CHECK_EQ(parse(text), 0);
	CHECK_STR(cfg.vrrp.sync_key_file, "/etc/pgsteer/sync.key");
	CHECK_EQ(cfg.vrrp.sync_port, 8848);
	CHECK_EQ(cfg.vrrp.sync_off, 0);
	CHECK_EQ(cfg.vrrp.sync_key_explicit, 0);
	snprintf(text, sizeof(text), "%svrrp\n    vrid 51\n    vip 10.100.1.100/24\n    sync key-file /k port 9000\n", base);
	CHECK_EQ(parse(text), 0);
	CHECK_STR(cfg.vrrp.sync_key_file, "/k");
	CHECK_EQ(cfg.vrrp.sync_port, 9000);
	CHECK_EQ(cfg.vrrp.sync_key_explicit, 1);
	snprintf(text, sizeof(text), "%svrrp\n    vrid 51\n    vip 10.100.1.100/24\n    sync off\n", base);
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.vrrp.sync_off, 1);
}

static void missing_file(void)
{
	int r = config_load("/nonexistent/pgsteer.conf", &cfg, err, sizeof(err));

	CHECK(r < 0, "missing file accepted");
	CHECK_STR(err, "/nonexistent/pgsteer.conf: No such file or directory");
}

/* A NUL byte would end the text the parser sees: the rest of the file silently unread, and -n said
 * OK. The file is refused, naming the line of the NUL. */
static void nul_byte(void)
{
	static const char text[] = "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s 10.0.0.2:1\n"
				   "    server t 10.0.0.3:1\0\n    server u 10.0.0.4:1\n";
	char path[] = "/tmp/pgsteer-conf-XXXXXX", want[128];
	int fd = mkstemp(path);

	CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1, "writing %s", path);
	close(fd);
	CHECK(config_load(path, &cfg, err, sizeof(err)) == -EINVAL, "a NUL byte accepted");
	snprintf(want, sizeof(want), "%s:6: a NUL byte (a binary or damaged file): nothing of it was applied", path);
	CHECK_STR(err, want);
	unlink(path);
}

/* Source policy and cancel routing words of a service. */
static void pg_words(void)
{
	char text[1024];
	struct cfg_service *s;

	snprintf(text, sizeof(text), "%s    cancel-routing off\n    allow 10.100.1.0/24 10.7.0.0/16\n"
		 "    deny 10.100.1.2\n", base);
	CHECK_EQ(parse(text), 0);
	CHECK_STR(err, "");
	s = config_service(&cfg, "pgsql");
	CHECK(s != NULL, "service pgsql");
	CHECK_EQ(s->cancel_routing, 0);
	CHECK_EQ(s->nallow, 2);
	CHECK_EQ(s->ndeny, 1);
	CHECK_EQ(s->allow[1].addr, htonl(0x0a070000));
	CHECK_EQ(s->allow[1].len, 16);
	CHECK_EQ(s->deny[0].len, 32);
	CHECK_EQ(parse(base), 0);
	CHECK_EQ(config_service(&cfg, "pgsql")->cancel_routing, 1);

	snprintf(text, sizeof(text), "%s    allow 10.100.1.2/24\n", base);
	CHECK(parse(text) < 0 && strstr(err, "t.conf:6: allow: '10.100.1.2/24' has bits set beyond its /24 prefix"),
	      "host bits: %s", err);
	snprintf(text, sizeof(text), "%s    allow 10.0.0.0/8\n    deny 10.0.0.0/8\n", base);
	CHECK(parse(text) < 0 && strstr(err, "t.conf:7: deny: 10.0.0.0/8 is in both"), "both lists: %s", err);
	snprintf(text, sizeof(text), "%s    deny 10.0.0.0/33\n", base);
	CHECK(parse(text) < 0 && strstr(err, "t.conf:6:"), "bad length: %s", err);
	snprintf(text, sizeof(text), "%s    cancel-routing maybe\n", base);
	CHECK(parse(text) < 0 && strstr(err, "cancel-routing: expects on or off"), "on/off: %s", err);
}

/* The connection log: off by default, on with or without a file. */
static void log_words(void)
{
	char text[1024];

	CHECK_EQ(parse(base), 0);
	CHECK_EQ(cfg.log_connections, 0);
	snprintf(text, sizeof(text), "global\n    log connections\n%s", base + strlen("global\n"));
	CHECK_EQ(parse(text), 0);
	CHECK_EQ(cfg.log_connections, 1);
	CHECK_STR(cfg.log_file, "");
	snprintf(text, sizeof(text), "global\n    log connections file /var/log/pgsteer/conn.log\n%s",
		 base + strlen("global\n"));
	CHECK_EQ(parse(text), 0);
	CHECK_STR(cfg.log_file, "/var/log/pgsteer/conn.log");
	snprintf(text, sizeof(text), "global\n    log connections file conn.log\n%s", base + strlen("global\n"));
	CHECK(parse(text) < 0 && strstr(err, "t.conf:2: log connections file: 'conn.log' is not an absolute path"),
	      "relative: %s", err);
	snprintf(text, sizeof(text), "global\n    log queries\n%s", base + strlen("global\n"));
	CHECK(parse(text) < 0 && strstr(err, "t.conf:2: log: expects 'connections' or 'connections file PATH'"),
	      "word: %s", err);
}

/* admin-credentials: global, per service (overriding it), an absolute path, one word. */
static void admin_credentials(void)
{
	char text[1024];

	CHECK_EQ(parse(base), 0);
	CHECK_STR(cfg.admin_credentials, "");
	snprintf(text, sizeof(text), "global\n    admin-credentials /etc/pgsteer/pgbouncer-admin\n%s    admin-credentials /etc/pgsteer/other\n",
		 base + strlen("global\n"));
	CHECK_EQ(parse(text), 0);
	CHECK_STR(cfg.admin_credentials, "/etc/pgsteer/pgbouncer-admin");
	CHECK_EQ(cfg.admin_credentials_line, 2);
	CHECK_STR(cfg.services[0].admin_credentials, "/etc/pgsteer/other");
	CHECK_EQ(cfg.services[0].admin_credentials_line, 7);
	snprintf(text, sizeof(text), "global\n    admin-credentials admin.txt\n%s", base + strlen("global\n"));
	CHECK(parse(text) < 0 && strstr(err, "t.conf:2: admin-credentials: 'admin.txt' is not an absolute path"),
	      "relative: %s", err);
	snprintf(text, sizeof(text), "%s    admin-credentials\n", base);
	CHECK(parse(text) < 0 && strstr(err, "t.conf:6: admin-credentials: expects the absolute path"), "none: %s", err);
}

/* A server at an address of the host the file is loaded on (loopback always is) is refused by
 * config_load (pgsteerd -n, start, reload), at its line; config_parse alone knows no host. */
static void local_server_refused_on_load(void)
{
	char path[] = "/tmp/pgsteer-conf-XXXXXX";
	const char *text = "global\n    interface eth0\nservice a\n    bind 10.0.0.1:5432\n    server s1 10.0.0.2:1\n"
			   "    server s2 127.0.0.1:6432\n";
	int fd = mkstemp(path), r;

	CHECK(fd >= 0, "mkstemp");
	if (fd < 0)
		return;
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text), "write");
	close(fd);
	CHECK_EQ(parse(text), 0);
	r = config_load(path, &cfg, err, sizeof(err));
	CHECK(r < 0, "a server on this host accepted");
	{
		char want[256];

		snprintf(want, sizeof(want), "%s:6: server s2: 127.0.0.1 is an address of this host: the datapath forwards "
			 "to other hosts only (run PgBouncer on another host, or reach it by another address)", path);
		CHECK_STR(err, want);
	}
	unlink(path);
}

int main(void)
{
	RUN(full_example);
	RUN(defaults);
	RUN(durations);
	RUN(syn_cookies);
	RUN(errors);
	RUN(sync_settings);
	RUN(missing_file);
	RUN(nul_byte);
	RUN(pg_words);
	RUN(log_words);
	RUN(admin_credentials);
	RUN(local_server_refused_on_load);
	return h_exit();
}

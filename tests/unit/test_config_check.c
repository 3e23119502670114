/* pgsteerd -n as haproxy -c: every mistake of a file at once, each as file:line, a "did you mean"
 * for a misspelt keyword, the limit a value breaks. One case per bad file, the exact messages. */
#include <stdio.h>
#include "harness.h"
#include "config.h"

#define G "global\n    interface eth0\n"
#define S "service pgsql\n    bind 10.0.0.1:5432\n    server pgb1 10.0.0.5:6432\n"

static const struct {
	const char *name, *text, *msg;
} cases[] = {
	/* misspelt keywords */
	{ "global_typo", "global\n    interfce eth0\n" S,
	  "c.conf:2: unknown keyword 'interfce' in section global (did you mean 'interface'?)" },
	{ "global_typo_attach", G "    atach tc\n" S, "c.conf:3: unknown keyword 'atach' in section global (did you mean 'attach'?)" },
	{ "global_unknown_far", G "    frobnicate 1\n" S, "c.conf:3: unknown keyword 'frobnicate' in section global" },
	{ "vrrp_typo", G "vrrp\n    vrid 5\n    priorty 100\n    vip 10.0.0.1/24\n" S,
	  "c.conf:5: unknown keyword 'priorty' in section vrrp (did you mean 'priority'?)" },
	{ "vrrp_typo_advert", G "vrrp\n    vrid 5\n    advert-intervall 1s\n    vip 10.0.0.1/24\n" S,
	  "c.conf:5: unknown keyword 'advert-intervall' in section vrrp (did you mean 'advert-interval'?)" },
	{ "service_typo", G S "    severpgb2 10.0.0.5:6433\n",
	  "c.conf:6: unknown keyword 'severpgb2' in service pgsql" },
	{ "service_typo_server", G S "    sever pgb2 10.0.0.5:6433\n",
	  "c.conf:6: unknown keyword 'sever' in service pgsql (did you mean 'server'?)" },
	{ "service_typo_balance", G S "    balanse leastconn\n",
	  "c.conf:6: unknown keyword 'balanse' in service pgsql (did you mean 'balance'?)" },
	{ "check_typo", G S "    check pgsql intr 2s\n", "c.conf:6: check: unknown option 'intr' (did you mean 'inter'?)" },
	{ "check_unknown", G S "    check pgsql port 2\n",
	  "c.conf:6: check: unknown option 'port' (inter, fastinter, downinter, timeout, fall, rise, user, database)" },
	{ "section_typo", G "servce pgsql\n",
	  "c.conf:3: unknown keyword 'servce' in section global (did you mean 'service'?)" },
	{ "section_typo_first_line", "globl\n    interface eth0\n",
	  "c.conf:1: 'globl' outside a section (did you mean 'global'?)\nc.conf:2: 'interface' outside a section (global, vrrp or service NAME)" },
	/* value limits named */
	{ "inter_below_min", G S "    check pgsql inter 5ms\n", "c.conf:6: check inter: 5ms is below the minimum of 10ms" },
	{ "timeout_below_min", G "    timeout syn 500ms\n" S, "c.conf:3: timeout: 500ms is below the minimum of 1s" },
	{ "duration_garbage", G S "    check tcp fall 3 timeout 1x\n",
	  "c.conf:6: check timeout: invalid duration '1x' (examples: 100ms, 2s, 5m, 3h)" },
	{ "advert_below_min", G "vrrp\n    vrid 5\n    advert-interval 5ms\n    vip 10.0.0.1/24\n" S,
	  "c.conf:5: advert-interval: 5ms is below the minimum of 10ms" },
	{ "fall_zero", G S "    check tcp fall 0\n", "c.conf:6: check fall: '0' is not a number from 1 to 100" },
	{ "rise_big", G S "    check tcp rise 101\n", "c.conf:6: check rise: '101' is not a number from 1 to 100" },
	{ "vrid_zero", G "vrrp\n    vrid 0\n    vip 10.0.0.1/24\n" S, "c.conf:4: vrid: '0' is not a number from 1 to 255" },
	{ "flow_table_small", G "    flow-table-size 10\n" S,
	  "c.conf:3: flow-table-size: '10' is not a number from 1024 to 16777216" },
	{ "snat_small_range", G "    snat-ports 40000-40100\n" S,
	  "c.conf:3: snat-ports: 40000-40100 is too small a range (at least 256 ports)" },
	{ "alert_pct", G "    alert flow-table 120%\n" S, "c.conf:3: alert flow-table: '120' is not a number from 1 to 100" },
	/* IPv6: said, not misread */
	{ "ipv6_bind", G "service pgsql\n    bind [::1]:5432\n    server pgb1 10.0.0.5:6432\n",
	  "c.conf:4: bind: '::1' is an IPv6 address: IPv4 only for now" },
	{ "ipv6_server", G "service pgsql\n    bind 10.0.0.1:5432\n    server pgb1 ::1:6432\n",
	  "c.conf:5: server: '::1' is an IPv6 address: IPv4 only for now" },
	/* every error of the file, not just the first */
	{ "three_errors", "global\n    interfce eth0\n    attach dpdk\nservice pgsql\n    bind 10.0.0.1:5432\n"
			  "    server pgb1 10.0.0.5:6432 weight 999\n",
	  "c.conf:2: unknown keyword 'interfce' in section global (did you mean 'interface'?)\n"
	  "c.conf:3: attach: unknown mode 'dpdk' (xdp or tc)\n"
	  "c.conf:6: weight: '999' is not a number from 0 to 256" },
	{ "errors_in_each_section", G "    stats 1.2.3:80\nvrrp\n    vrid 300\n    vip 10.0.0.1/24\n" S "    check sql\n",
	  "c.conf:3: stats: '1.2.3' is not an IPv4 address\n"
	  "c.conf:5: vrid: '300' is not a number from 1 to 255\n"
	  "c.conf:10: check: unknown type 'sql' (tcp, pgsql or login)" },
	{ "bad_section_header_once", G "service bad/name\n    bind 10.0.0.1:5432\n    server x 10.0.0.5:1\n" S,
	  "c.conf:3: service: 'bad/name' is not a valid name (up to 15 letters, digits, - _ .)" },
	{ "duplicate_server_and_typo", G S "    server pgb1 10.0.0.5:6433\n    slowstrat 5s\n",
	  "c.conf:6: server: 'pgb1' is defined twice in service pgsql\n"
	  "c.conf:7: unknown keyword 'slowstrat' in service pgsql (did you mean 'slowstart'?)" },
	/* whole-file rules, all of them */
	{ "no_interface_no_service", "global\n    attach tc\n", "c.conf: global: 'interface' is required\nc.conf: no service defined" },
	{ "two_services_missing_parts", G "service a\n    bind 10.0.0.1:5432\nservice b\n    server s 10.0.0.5:1\n",
	  "c.conf:3: service a: no server defined\nc.conf:5: service b: 'bind ADDRESS:PORT' is required" },
	{ "same_bind_twice", G S "service other\n    bind 10.0.0.1:5432\n    server s 10.0.0.5:1\n",
	  "c.conf:6: service other binds the same address as service pgsql" },
	{ "vrrp_missing_vrid_and_vip", G "vrrp\n    priority 100\n" S,
	  "c.conf:3: vrrp: 'vrid' is required\nc.conf:3: vrrp: 'vip ADDRESS/PREFIX' is required" },
	{ "vrrp_vip_mismatch_two", G "vrrp\n    vrid 5\n    vip 10.0.0.9/24\n" S
				   "service b\n    bind 10.0.0.8:5433\n    server s 10.0.0.5:1\n",
	  "c.conf:6: service pgsql binds an address that is not the vrrp vip\n"
	  "c.conf:9: service b binds an address that is not the vrrp vip" },
	/* the runtime socket's access and the stats users */
	{ "runtime_socket_bad_mode", G "    runtime-socket /run/p.sock mode 0400\n" S,
	  "c.conf:3: runtime-socket mode: '0400' is not an octal mode from 600 to 777 (the owner reads and writes)" },
	{ "runtime_socket_mode_not_octal", G "    runtime-socket /run/p.sock mode 668\n" S,
	  "c.conf:3: runtime-socket mode: '668' is not an octal mode from 600 to 777 (the owner reads and writes)" },
	{ "runtime_socket_no_group", G "    runtime-socket /run/p.sock group no-such-group-pgsteer\n" S,
	  "c.conf:3: runtime-socket group: no group 'no-such-group-pgsteer' on this machine" },
	{ "runtime_socket_option_typo", G "    runtime-socket /run/p.sock grop 0\n" S,
	  "c.conf:3: runtime-socket: unknown option 'grop' (did you mean 'group'?)" },
	{ "runtime_socket_option_alone", G "    runtime-socket /run/p.sock mode\n" S,
	  "c.conf:3: runtime-socket: expects an absolute path, then 'mode OCTAL' and 'group NAME' if wanted" },
	{ "stats_auth_relative", G "    stats auth-file users\n" S, "c.conf:3: stats auth-file: expects an absolute path" },
	{ "stats_auth_inline", G "    stats auth admin:secret\n" S,
	  "c.conf:3: stats auth: the password stays out of this file: put USER:PASSWORD lines in a file of their own "
	  "and name it with 'stats auth-file PATH'" },
	{ "stats_two_words", G "    stats 127.0.0.1:8404 extra\n" S,
	  "c.conf:3: stats: expects ADDRESS:PORT, none or 'auth-file PATH'" },
	{ "service_port_in_snat", G "    snat-ports 5000-6000\n" S, "c.conf:4: service pgsql: port 5432 lies in snat-ports 5000-6000" },
};

int main(void)
{
	static struct config cfg;
	char err[4096], name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		snprintf(name, sizeof(name), "config_check/%s", cases[i].name);
		h_begin(name);
		r = config_parse(cases[i].text, "c.conf", &cfg, err, sizeof(err));
		CHECK(r != 0, "accepted");
		CHECK(strcmp(err, cases[i].msg) == 0, "\n       got  %s\n       want %s", err, cases[i].msg);
		h_end();
	}
	printf("%zu bad configurations\n", i);
	return h_exit();
}

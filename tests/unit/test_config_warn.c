/* Config warnings: what parses but will not work on this machine, each as file:line: warning. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "harness.h"
#include "config.h"
#include "config_warn.h"

#define G "global\n    interface eth9\n"
#define S "service pgsql\n    bind 10.0.0.1:5432\n    server pgb1 10.0.0.5:6432\n"
#define V "vrrp\n    vrid 5\n    vip 10.0.0.1/24\n"

/* eth9 with 10.0.0.2/24, the kernel's local ports 32768-60999 */
static const struct cfg_host host = {
	.if_exists = 1, .naddrs = 1, .addr = { 0x0200000a }, .prefix = { 24 }, .local_min = 32768, .local_max = 60999,
};

static const struct {
	const char *name, *text, *msg;
	int no_interface;
} cases[] = {
	{ "clean", G S, "", 0 },
	{ "clean_vrrp", G V S, "", 0 },
	{ "no_interface", G S, "w.conf:2: warning: interface eth9 does not exist on this machine", 1 },
	{ "vip_outside_subnet", G "vrrp\n    vrid 5\n    vip 10.9.0.1/24\n" "service pgsql\n    bind 10.9.0.1:5432\n"
				"    server pgb1 10.0.0.5:6432\n",
	  "w.conf:3: warning: vip 10.9.0.1 is outside the subnets of eth9 (10.0.0.2/24)", 0 },
	{ "bind_outside_subnet", G "service pgsql\n    bind 192.168.1.1:5432\n    server pgb1 10.0.0.5:6432\n",
	  "w.conf:3: warning: service pgsql: bind 192.168.1.1 is outside the subnets of eth9 (10.0.0.2/24)", 0 },
	{ "runtime_socket_for_everyone", G "    runtime-socket /run/p.sock mode 666\n" S,
	  "w.conf:3: warning: runtime-socket mode 666 lets every local user drive pgsteerd (drain, maint, reload)", 0 },
	{ "duplicate_server", G S "    server pgb2 10.0.0.5:6432\n",
	  "w.conf:6: warning: server pgsql/pgb2: 10.0.0.5:6432 is also server pgsql/pgb1", 0 },
	{ "duplicate_across_services", G S "service other\n    bind 10.0.0.1:5433\n    server o1 10.0.0.5:6432\n",
	  "w.conf:8: warning: server other/o1: 10.0.0.5:6432 is also server pgsql/pgb1", 0 },
	{ "snat_in_local_range", G "    snat-ports 30000-40000\n" S,
	  "w.conf:3: warning: snat-ports 30000-40000 overlaps net.ipv4.ip_local_port_range 32768-60999: "
	  "the kernel may pick the same ports for the node's own connections", 0 },
	{ "missing_webhook", G "    alert slack webhook-file /nonexistent/pgsteer-hook\n" S,
	  "w.conf:3: warning: alert slack webhook-file /nonexistent/pgsteer-hook cannot be read: alerts will not be sent", 0 },
	{ "three_at_once", G "    snat-ports 60000-61000\n    alert slack webhook-file /nonexistent/h\n" S "    server b 10.0.0.5:6432\n",
	  "w.conf:8: warning: server pgsql/b: 10.0.0.5:6432 is also server pgsql/pgb1\n"
	  "w.conf:3: warning: snat-ports 60000-61000 overlaps net.ipv4.ip_local_port_range 32768-60999: "
	  "the kernel may pick the same ports for the node's own connections\n"
	  "w.conf:4: warning: alert slack webhook-file /nonexistent/h cannot be read: alerts will not be sent", 0 },
};

/* The probe reads the real machine: lo is there with 127.0.0.1/8, the port range is the kernel's. */
static void probe_lo(void)
{
	static struct config c;
	struct cfg_host h;
	char err[512];
	int i, found = 0;

	CHECK(config_parse("global\n    interface lo\nservice s\n    bind 127.0.0.1:5432\n    server a 127.0.0.2:6432\n", "lo.conf",
			   &c, err, sizeof(err)) == 0, "%s", err);
	cfg_host_probe(&c, &h);
	CHECK(h.if_exists, "lo not found");
	for (i = 0; i < h.naddrs; i++)
		found |= h.addr[i] == htonl(INADDR_LOOPBACK) && h.prefix[i] == 8;
	CHECK(found, "127.0.0.1/8 not among lo's %d addresses", h.naddrs);
	CHECK(h.local_min > 0 && h.local_min <= h.local_max, "ip_local_port_range %u-%u", h.local_min, h.local_max);
}

/* Each file holding a secret that every local user can read: said, with its mode; one kept private
 * (or readable by the pgsteer group only): nothing. */
static void secret_files_for_everyone(void)
{
	static const struct {
		const char *line; /* the config line naming the file */
		const char *what;
		const char *head; /* the section it goes in */
		int lineno;
	} files[] = {
		{ "    stats auth-file %s\n", "stats auth-file", G, 3 },
		{ "    alert slack webhook-file %s\n", "alert slack webhook-file", G, 3 },
		{ "vrrp\n    vrid 5\n    vip 10.0.0.1/24\n    sync key-file %s\n", "sync key-file", G, 6 },
	};
	static struct config c;
	struct cfg_host h = host;
	char path[64], line[256], text[512], err[512], out[512], want[512];
	size_t i;
	FILE *f;

	snprintf(path, sizeof(path), "/tmp/pgsteer-test-warn-secret.%d", (int)getpid());
	f = fopen(path, "w");
	CHECK(f != NULL, "fopen");
	if (!f)
		return;
	fputs("admin:s3cret\n", f);
	fclose(f);
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(line, sizeof(line), files[i].line, path);
		snprintf(text, sizeof(text), "%s%s" S, files[i].head, line);
		CHECK(config_parse(text, "w.conf", &c, err, sizeof(err)) == 0, "parse %s: %s", files[i].what, err);
		chmod(path, 0644);
		config_warnings(&c, "w.conf", &h, out, sizeof(out));
		snprintf(want, sizeof(want), "w.conf:%d: warning: %s %s can be read by every user (mode 644): "
			 "chmod 600 it", files[i].lineno, files[i].what, path);
		CHECK(!strcmp(out, want), "\n       got  %s\n       want %s", out, want);
		chmod(path, 0640);
		config_warnings(&c, "w.conf", &h, out, sizeof(out));
		CHECK(!strcmp(out, ""), "%s mode 640: got %s", files[i].what, out);
	}
	unlink(path);
}

int main(void)
{
	static struct config c;
	char err[1024], out[2048], name[64];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cfg_host h = host;
		int n;

		snprintf(name, sizeof(name), "config_warn/%s", cases[i].name);
		h_begin(name);
		if (cases[i].no_interface)
			h.if_exists = 0, h.naddrs = 0;
		CHECK(config_parse(cases[i].text, "w.conf", &c, err, sizeof(err)) == 0, "parse: %s", err);
		n = config_warnings(&c, "w.conf", &h, out, sizeof(out));
		CHECK(strcmp(out, cases[i].msg) == 0, "\n       got  %s\n       want %s", out, cases[i].msg);
		CHECK((n == 0) == (cases[i].msg[0] == '\0'), "%d warning(s) counted", n);
		h_end();
	}
	RUN(probe_lo);
	RUN(secret_files_for_everyone);
	return h_exit();
}

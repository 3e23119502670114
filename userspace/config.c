/* The configuration parser: line-oriented sections (global, vrrp, service NAME), errors as file:line. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "hostaddr.h"

#define MAX_TOKENS 32

struct parser {
	const char *name;
	int line;
	char *err;
	size_t errlen;
	int nerr;
	struct config *cfg;
	/* SEC_SKIP: the lines of a section whose header was refused (one error, not one per line). */
	enum { SEC_NONE, SEC_GLOBAL, SEC_VRRP, SEC_SERVICE, SEC_SKIP } section;
	struct cfg_service *svc;
	int seen_global, seen_vrrp;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Every error of the file is kept, one "file:line: what" per line, as haproxy -c prints them. */
static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	size_t used = strnlen(p->err, p->errlen);
	int n;

	p->nerr++;
	if (used + 2 >= p->errlen)
		return -EINVAL;
	if (used)
		p->err[used++] = '\n';
	if (p->line > 0)
		n = snprintf(p->err + used, p->errlen - used, "%s:%d: ", p->name, p->line);
	else
		n = snprintf(p->err + used, p->errlen - used, "%s: ", p->name);
	if (n < 0 || (size_t)n >= p->errlen - used)
		return -EINVAL;
	used += n;
	va_start(ap, fmt);
	vsnprintf(p->err + used, p->errlen - used, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Levenshtein distance of two short words (keywords: longer ones never come close). */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, row[33], prev, cur;

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			cur = row[j];
			row[j] = a[i - 1] == b[j - 1] ? prev : 1 + (prev < row[j] ? (prev < row[j - 1] ? prev : row[j - 1])
									  : (row[j] < row[j - 1] ? row[j] : row[j - 1]));
			prev = cur;
		}
	}
	return row[lb];
}

/* " (did you mean 'interface'?)" when one keyword of the NULL-ended list is close to word, else "". */
static const char *did_you_mean(const char *word, const char *const *list, char *buf, size_t size)
{
	size_t best = SIZE_MAX, d, len = strlen(word);
	const char *pick = NULL;

	for (; *list; list++) {
		d = distance(word, *list);
		if (d < best) {
			best = d;
			pick = *list;
		}
	}
	/* Close: a typo or two, and never more than a third of the word. */
	if (!pick || best == 0 || best > 2 || best * 3 > len + 1)
		return "";
	snprintf(buf, size, " (did you mean '%s'?)", pick);
	return buf;
}

static const char *const global_words[] = { "interface", "attach", "pin-root", "runtime-socket", "stats", "state-dir",
					    "node-name", "flow-table-size", "snat-ports", "timeout", "alert", "log",
					    "admin-credentials", NULL };
static const char *const vrrp_words[] = { "vrid", "priority", "advert-interval", "preempt", "nopreempt", "preempt-delay",
					  "vip", "unicast-peer", "peer-name", "unicast-src", "checksum", "garp-repeat",
					  "garp-delay", "sync", NULL };
static const char *const service_words[] = { "bind", "balance", "check", "server", "slowstart", "on-marked-down", "cancel-routing", "allow", "deny", "syn-cookies",
					     "admin-credentials", NULL };
static const char *const check_words[] = { "inter", "fastinter", "downinter", "timeout", "fall", "rise", "user",
					   "database", NULL };
static const char *const section_words[] = { "global", "vrrp", "service", NULL };

/* An unknown keyword inside a section: the section's keywords, else a misspelt section header. */
static const char *keyword_hint(const char *kw, const char *const *words, char *buf, size_t size)
{
	const char *h = did_you_mean(kw, words, buf, size);

	return *h ? h : did_you_mean(kw, section_words, buf, size);
}

/* A duration for messages: whole seconds as "2s", the rest in ms. */
static const char *fmt_ms(uint64_t ms, char *buf, size_t size)
{
	if (ms && ms % 1000 == 0)
		snprintf(buf, size, "%llus", (unsigned long long)(ms / 1000));
	else
		snprintf(buf, size, "%llums", (unsigned long long)ms);
	return buf;
}

int config_duration(const char *s, uint64_t *ms)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (!strcmp(end, "") || !strcmp(end, "ms"))
		mul = 1;
	else if (!strcmp(end, "s"))
		mul = 1000;
	else if (!strcmp(end, "m"))
		mul = 60000;
	else if (!strcmp(end, "h"))
		mul = 3600000;
	else if (!strcmp(end, "d"))
		mul = 86400000;
	else
		return -EINVAL;
	if (v > UINT32_MAX / mul)
		return -EINVAL;
	*ms = v * mul;
	return 0;
}

const char *attach_name(enum attach_mode m)
{
	return m == ATTACH_TC ? "tc" : "xdp";
}

const char *check_name(enum check_type t)
{
	static const char *const names[] = { "none", "tcp", "pgsql", "login" };

	return names[t];
}

static int parse_ms(struct parser *p, const char *kw, const char *v, uint32_t *out, uint64_t min_ms)
{
	uint64_t ms;

	char lim[32];

	if (config_duration(v, &ms))
		return fail(p, "%s: invalid duration '%s' (examples: 100ms, 2s, 5m, 3h)", kw, v);
	if (ms < min_ms)
		return fail(p, "%s: %s is below the minimum of %s", kw, v, fmt_ms(min_ms, lim, sizeof(lim)));
	*out = (uint32_t)ms;
	return 0;
}

static int parse_uint(struct parser *p, const char *kw, const char *v, uint32_t min, uint32_t max, uint32_t *out)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || !isdigit((unsigned char)*v) || n < min || n > max)
		return fail(p, "%s: '%s' is not a number from %u to %u", kw, v, min, max);
	*out = (uint32_t)n;
	return 0;
}

static int parse_ip(struct parser *p, const char *kw, const char *v, uint32_t *out)
{
	struct in_addr a;

	if (inet_pton(AF_INET, v, &a) != 1) {
		struct in6_addr a6;
		char bare[64];
		size_t n = strlen(v);

		/* [::1] as in URLs and HAProxy's binds */
		if (n > 2 && n < sizeof(bare) && v[0] == '[' && v[n - 1] == ']') {
			memcpy(bare, v + 1, n - 2);
			bare[n - 2] = '\0';
			v = bare;
		}
		if (inet_pton(AF_INET6, v, &a6) == 1)
			return fail(p, "%s: '%s' is an IPv6 address: IPv4 only for now", kw, v);
		return fail(p, "%s: '%s' is not an IPv4 address", kw, v);
	}
	*out = a.s_addr;
	return 0;
}

/* "a.b.c.d:port" */
static int parse_ip_port(struct parser *p, const char *kw, const char *v, uint32_t *ip, uint16_t *port_host)
{
	char buf[64], *colon;
	uint32_t port;

	if (strlen(v) >= sizeof(buf))
		return fail(p, "%s: '%s' is not ADDRESS:PORT", kw, v);
	strcpy(buf, v);
	colon = strrchr(buf, ':');
	if (!colon)
		return fail(p, "%s: '%s' is not ADDRESS:PORT", kw, v);
	*colon = '\0';
	if (parse_ip(p, kw, buf, ip) || parse_uint(p, kw, colon + 1, 1, 65535, &port))
		return -EINVAL;
	*port_host = (uint16_t)port;
	return 0;
}

/* "a.b.c.d/len" or a bare address (/32); host bits must be zero. */
static int parse_cidr(struct parser *p, const char *kw, const char *v, struct cfg_cidr *out)
{
	char buf[32], *slash;
	uint32_t len = 32, mask;

	if (strlen(v) >= sizeof(buf))
		return fail(p, "%s: '%s' is not ADDRESS[/LENGTH]", kw, v);
	strcpy(buf, v);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (parse_uint(p, kw, slash + 1, 0, 32, &len))
			return -EINVAL;
	}
	if (parse_ip(p, kw, buf, &out->addr))
		return -EINVAL;
	mask = len ? htonl(~0u << (32 - len)) : 0;
	if (out->addr & ~mask)
		return fail(p, "%s: '%s' has bits set beyond its /%u prefix", kw, v, len);
	out->len = (uint8_t)len;
	return 0;
}

/* allow|deny CIDR...: appended to the service's list; one network in both lists is an error. */
static int parse_policy(struct parser *p, int argc, char **argv, struct cfg_service *svc)
{
	int deny = !strcmp(argv[0], "deny"), i, j;
	struct cfg_cidr *list = deny ? svc->deny : svc->allow, *other = deny ? svc->allow : svc->deny;
	int *n = deny ? &svc->ndeny : &svc->nallow, nother = deny ? svc->nallow : svc->ndeny;

	if (argc < 2)
		return fail(p, "%s: expects one or more ADDRESS[/LENGTH]", argv[0]);
	for (i = 1; i < argc; i++) {
		struct cfg_cidr c;

		if (parse_cidr(p, argv[0], argv[i], &c))
			return -EINVAL;
		for (j = 0; j < nother; j++)
			if (other[j].addr == c.addr && other[j].len == c.len)
				return fail(p, "%s: %s is in both the allow and the deny list of service %s", argv[0], argv[i],
					    svc->name);
		if (*n == CFG_MAX_CIDRS)
			return fail(p, "%s: at most %d networks per list", argv[0], CFG_MAX_CIDRS);
		list[(*n)++] = c;
	}
	return 0;
}

int config_group(const char *name, gid_t *gid)
{
	struct group *g;
	char *end;
	unsigned long n;

	if (isdigit((unsigned char)*name)) {
		errno = 0;
		n = strtoul(name, &end, 10);
		if (*end || errno || n >= (gid_t)-1)
			return -ENOENT;
		if (gid)
			*gid = (gid_t)n;
		return 0;
	}
	g = getgrnam(name);
	if (!g)
		return -ENOENT;
	if (gid)
		*gid = g->gr_gid;
	return 0;
}

static int copy_str(struct parser *p, const char *kw, char *dst, size_t size, const char *v)
{
	if (strlen(v) >= size)
		return fail(p, "%s: '%s' is longer than %zu characters", kw, v, size - 1);
	strcpy(dst, v);
	return 0;
}

/* An interface name the kernel could hold (dev_valid_name: 1-15 bytes, not . or .., no '/', ':' or
 * white space), and not "all" or "default": /proc/sys/net/ipv4/conf/NAME is where pgsteerd turns
 * forwarding on, and those two are every interface's switches, not one interface's. */
static int parse_ifname(struct parser *p, const char *v, char *dst, size_t size)
{
	const char *c;

	if (!strcmp(v, "all") || !strcmp(v, "default"))
		return fail(p, "interface: '%s' names every interface's settings, not an interface", v);
	for (c = v; *c; c++)
		if (*c == '/' || *c == ':' || isspace((unsigned char)*c) || !isprint((unsigned char)*c))
			break;
	if (*c || !strcmp(v, ".") || !strcmp(v, "..") || strlen(v) >= 16)
		return fail(p, "interface: '%s' is not an interface name (1 to 15 characters, not . or .., no '/', "
			    "':', spaces or control characters)", v);
	return copy_str(p, "interface", dst, size, v);
}

/* An absolute path without a ".." component: the path is meant as written (pgsteerd runs as root). */
static int parse_abs_path(struct parser *p, const char *kw, const char *v, char *dst, size_t size)
{
	const char *c;

	if (v[0] != '/')
		return fail(p, "%s: '%s' is not an absolute path", kw, v);
	for (c = v; (c = strstr(c, "..")); c += 2)
		if (c[-1] == '/' && (c[2] == '/' || !c[2]))
			return fail(p, "%s: '%s' has a '..' component: write the path it means", kw, v);
	return copy_str(p, kw, dst, size, v);
}

static int valid_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return 0;
	return 1;
}

static int parse_global(struct parser *p, int argc, char **argv)
{
	struct config *c = p->cfg;
	const char *kw = argv[0];

	if (!strcmp(kw, "interface")) {
		c->interface_line = p->line;
		if (argc != 2)
			return fail(p, "interface: expects one interface name");
		return parse_ifname(p, argv[1], c->interface, sizeof(c->interface));
	}
	if (!strcmp(kw, "attach")) {
		if (argc != 2)
			return fail(p, "attach: expects xdp or tc");
		if (!strcmp(argv[1], "xdp"))
			c->attach = ATTACH_XDP;
		else if (!strcmp(argv[1], "tc"))
			c->attach = ATTACH_TC;
		else if (!strcmp(argv[1], "xdp-generic"))
			/* Generic XDP hands over skbs whose TCP checksum is CHECKSUM_PARTIAL (the field holds only
			 * the pseudo-header's sum, the device finishes it): an XDP program has no skb helpers to
			 * rewrite such a packet correctly, and receivers that trust the offload never notice. */
			return fail(p, "attach: xdp-generic is refused: generic XDP gives the program packets whose TCP "
				       "checksum the device finishes later (CHECKSUM_PARTIAL), which XDP cannot rewrite "
				       "correctly; use tc on a device without native XDP (it is also faster than generic XDP)");
		else
			return fail(p, "attach: unknown mode '%s' (xdp or tc)", argv[1]);
		return 0;
	}
	if (!strcmp(kw, "pin-root")) {
		if (argc != 2 || argv[1][0] != '/')
			return fail(p, "pin-root: expects an absolute path in a bpffs");
		return parse_abs_path(p, kw, argv[1], c->pin_root, sizeof(c->pin_root));
	}
	if (!strcmp(kw, "runtime-socket")) {
		int i;

		c->runtime_line = p->line;
		if (argc < 2 || argc % 2 || argv[1][0] != '/')
			return fail(p, "runtime-socket: expects an absolute path, then 'mode OCTAL' and 'group NAME' if wanted");
		if (strlen(argv[1]) >= 108)
			return fail(p, "runtime-socket: path longer than a unix socket allows (107)");
		for (i = 2; i < argc; i += 2) {
			if (!strcmp(argv[i], "mode")) {
				char *end;
				unsigned long m = strtoul(argv[i + 1], &end, 8);

				if (!isdigit((unsigned char)argv[i + 1][0]) || *end || m > 0777 || (m & 0600) != 0600)
					return fail(p, "runtime-socket mode: '%s' is not an octal mode from 600 to 777 "
						    "(the owner reads and writes)", argv[i + 1]);
				c->runtime_mode = (unsigned)m;
			} else if (!strcmp(argv[i], "group")) {
				if (config_group(argv[i + 1], NULL))
					return fail(p, "runtime-socket group: no group '%s' on this machine", argv[i + 1]);
				if (copy_str(p, "runtime-socket group", c->runtime_group, sizeof(c->runtime_group), argv[i + 1]))
					return -EINVAL;
			} else {
				char dym[64];
				static const char *const words[] = { "mode", "group", NULL };
				const char *hint = did_you_mean(argv[i], words, dym, sizeof(dym));

				return fail(p, "runtime-socket: unknown option '%s'%s", argv[i], *hint ? hint : " (mode, group)");
			}
		}
		return parse_abs_path(p, kw, argv[1], c->runtime_socket, sizeof(c->runtime_socket));
	}
	if (!strcmp(kw, "stats")) {
		if (argc == 2 && !strcmp(argv[1], "none")) {
			c->stats_enabled = 0;
			return 0;
		}
		if (argc == 3 && !strcmp(argv[1], "auth-file")) {
			c->stats_auth_line = p->line;
			if (argv[2][0] != '/')
				return fail(p, "stats auth-file: expects an absolute path");
			return parse_abs_path(p, "stats auth-file", argv[2], c->stats_auth_file, sizeof(c->stats_auth_file));
		}
		if (argc >= 2 && !strcmp(argv[1], "auth"))
			return fail(p, "stats auth: the password stays out of this file: put USER:PASSWORD lines in a "
				    "file of their own and name it with 'stats auth-file PATH'");
		if (argc != 2)
			return fail(p, "stats: expects ADDRESS:PORT, none or 'auth-file PATH'");
		c->stats_enabled = 1;
		return parse_ip_port(p, kw, argv[1], &c->stats_addr, &c->stats_port);
	}
	if (!strcmp(kw, "log")) {
		if (argc < 2 || strcmp(argv[1], "connections") || (argc != 2 && (argc != 4 || strcmp(argv[2], "file"))))
			return fail(p, "log: expects 'connections' or 'connections file PATH'");
		c->log_connections = 1;
		if (argc == 2)
			return 0;
		return parse_abs_path(p, "log connections file", argv[3], c->log_file, sizeof(c->log_file));
	}
	if (!strcmp(kw, "admin-credentials")) {
		c->admin_credentials_line = p->line;
		if (argc != 2)
			return fail(p, "admin-credentials: expects the absolute path of a USER:PASSWORD file");
		return parse_abs_path(p, kw, argv[1], c->admin_credentials, sizeof(c->admin_credentials));
	}
	if (!strcmp(kw, "state-dir")) {
		if (argc != 2 || argv[1][0] != '/')
			return fail(p, "state-dir: expects an absolute path");
		return parse_abs_path(p, kw, argv[1], c->state_dir, sizeof(c->state_dir));
	}
	if (!strcmp(kw, "node-name")) {
		if (argc != 2 || !valid_name(argv[1]))
			return fail(p, "node-name: expects one name (letters, digits, - _ .)");
		return copy_str(p, kw, c->node_name, sizeof(c->node_name), argv[1]);
	}
	if (!strcmp(kw, "flow-table-size")) {
		if (argc != 2)
			return fail(p, "flow-table-size: expects a number of flows");
		return parse_uint(p, kw, argv[1], 1024, 16u << 20, &c->flow_table_size);
	}
	if (!strcmp(kw, "snat-ports")) {
		c->snat_line = p->line;
		uint32_t lo, hi;
		char buf[32], *dash;

		if (argc != 2 || strlen(argv[1]) >= sizeof(buf) || !(dash = strchr(strcpy(buf, argv[1]), '-')))
			return fail(p, "snat-ports: expects a range MIN-MAX");
		*dash = '\0';
		if (parse_uint(p, kw, buf, 1024, 65535, &lo) || parse_uint(p, kw, dash + 1, 1024, 65535, &hi))
			return -EINVAL;
		if (hi < lo + 255)
			return fail(p, "snat-ports: %u-%u is too small a range (at least 256 ports)", lo, hi);
		c->snat_min = (uint16_t)lo;
		c->snat_max = (uint16_t)hi;
		return 0;
	}
	if (!strcmp(kw, "timeout")) {
		uint32_t *t;

		if (argc != 3)
			return fail(p, "timeout: expects 'timeout syn|established|fin|closed DURATION'");
		if (!strcmp(argv[1], "syn"))
			t = &c->t_syn_ms;
		else if (!strcmp(argv[1], "established"))
			t = &c->t_est_ms;
		else if (!strcmp(argv[1], "fin"))
			t = &c->t_fin_ms;
		else if (!strcmp(argv[1], "closed"))
			t = &c->t_closed_ms;
		else
			return fail(p, "timeout: unknown timeout '%s' (syn, established, fin, closed)", argv[1]);
		return parse_ms(p, "timeout", argv[2], t, 1000);
	}
	if (!strcmp(kw, "alert")) {
		if (argc == 4 && !strcmp(argv[1], "slack") && !strcmp(argv[2], "webhook-file")) {
			c->webhook_line = p->line;
			if (argv[3][0] != '/')
				return fail(p, "alert slack webhook-file: expects an absolute path");
			return copy_str(p, kw, c->alert.webhook_file, sizeof(c->alert.webhook_file), argv[3]);
		}
		if (argc == 4 && !strcmp(argv[1], "slack") && !strcmp(argv[2], "webhook-env"))
			return copy_str(p, kw, c->alert.webhook_env, sizeof(c->alert.webhook_env), argv[3]);
		if (argc == 3 && !strcmp(argv[1], "flow-table")) {
			uint32_t pct;
			char buf[16];
			size_t n = strlen(argv[2]);

			if (n == 0 || n >= sizeof(buf) || argv[2][n - 1] != '%')
				return fail(p, "alert flow-table: expects a percentage like 80%%");
			memcpy(buf, argv[2], n - 1);
			buf[n - 1] = '\0';
			if (parse_uint(p, "alert flow-table", buf, 1, 100, &pct))
				return -EINVAL;
			c->alert.flow_table_pct = pct;
			return 0;
		}
		return fail(p, "alert: expects 'alert slack webhook-file PATH', 'alert slack webhook-env VAR' or 'alert flow-table N%%'");
	}
	char dym[64];

	return fail(p, "unknown keyword '%s' in section global%s", kw, keyword_hint(kw, global_words, dym, sizeof(dym)));
}

static int parse_vrrp(struct parser *p, int argc, char **argv)
{
	struct cfg_vrrp *v = &p->cfg->vrrp;
	const char *kw = argv[0];
	uint32_t n;

	if (!strcmp(kw, "vrid")) {
		if (argc != 2)
			return fail(p, "vrid: expects a number from 1 to 255");
		if (parse_uint(p, kw, argv[1], 1, 255, &n))
			return -EINVAL;
		v->vrid = (uint8_t)n;
		return 0;
	}
	if (!strcmp(kw, "priority")) {
		if (argc != 2)
			return fail(p, "priority: expects a number from 1 to 254");
		if (parse_uint(p, kw, argv[1], 1, 254, &n))
			return -EINVAL;
		v->priority = (uint8_t)n;
		return 0;
	}
	if (!strcmp(kw, "advert-interval")) {
		uint32_t ms = 0;

		if (argc != 2)
			return fail(p, "advert-interval: expects a duration from 10ms to 40950ms");
		if (parse_ms(p, kw, argv[1], &ms, 10))
			return -EINVAL;
		if (ms % 10 || ms > 40950)
			return fail(p, "advert-interval: %s is not a whole number of centiseconds from 10ms to 40.95s", argv[1]);
		v->advert_cs = (uint16_t)(ms / 10);
		return 0;
	}
	if (!strcmp(kw, "preempt") || !strcmp(kw, "nopreempt")) {
		if (argc != 1)
			return fail(p, "%s: takes no argument", kw);
		v->preempt = !strcmp(kw, "preempt");
		return 0;
	}
	if (!strcmp(kw, "preempt-delay")) {
		if (argc != 2)
			return fail(p, "preempt-delay: expects a duration");
		v->preempt = 1;
		return parse_ms(p, kw, argv[1], &v->preempt_delay_ms, 0);
	}
	if (!strcmp(kw, "vip")) {
		char buf[32], *slash;
		uint32_t plen = 32;

		if (argc != 2 || strlen(argv[1]) >= sizeof(buf))
			return fail(p, "vip: expects ADDRESS/PREFIX");
		strcpy(buf, argv[1]);
		slash = strchr(buf, '/');
		if (slash) {
			*slash = '\0';
			if (parse_uint(p, kw, slash + 1, 1, 32, &plen))
				return -EINVAL;
		}
		if (parse_ip(p, kw, buf, &v->vip))
			return -EINVAL;
		v->vip_prefix = (uint8_t)plen;
		return 0;
	}
	if (!strcmp(kw, "unicast-peer")) {
		if ((argc != 2 && argc != 4) || (argc == 4 && strcmp(argv[2], "name")))
			return fail(p, "unicast-peer: expects 'unicast-peer ADDRESS [name NAME]' (repeat the line for more)");
		if (v->npeers == CFG_MAX_PEERS)
			return fail(p, "unicast-peer: at most %d peers", CFG_MAX_PEERS);
		if (parse_ip(p, kw, argv[1], &v->peers[v->npeers]))
			return -EINVAL;
		v->npeers++;
		if (argc == 2)
			return 0;
		argv[2] = argv[3];
		argc = 3;
		kw = "peer-name";
	}
	if (!strcmp(kw, "peer-name")) {
		if (argc != 3 || !valid_name(argv[2]))
			return fail(p, "peer-name: expects 'peer-name ADDRESS NAME'");
		if (v->nnames == CFG_MAX_PEERS)
			return fail(p, "peer-name: at most %d names", CFG_MAX_PEERS);
		if (parse_ip(p, kw, argv[1], &v->name_addr[v->nnames]) ||
		    copy_str(p, kw, v->names[v->nnames], sizeof(v->names[0]), argv[2]))
			return -EINVAL;
		v->nnames++;
		return 0;
	}
	if (!strcmp(kw, "unicast-src")) {
		if (argc != 2)
			return fail(p, "unicast-src: expects one address");
		return parse_ip(p, kw, argv[1], &v->unicast_src);
	}
	if (!strcmp(kw, "checksum")) {
		if (argc != 2)
			return fail(p, "checksum: expects keepalived, rfc9568 or old-unicast");
		if (!strcmp(argv[1], "keepalived"))
			v->csum = VRRP_CSUM_PSEUDO;
		else if (!strcmp(argv[1], "rfc9568"))
			v->csum = VRRP_CSUM_PLAIN;
		else if (!strcmp(argv[1], "old-unicast"))
			v->csum = VRRP_CSUM_PSEUDO_MCAST;
		else
			return fail(p, "checksum: unknown variant '%s' (keepalived, rfc9568 or old-unicast)", argv[1]);
		return 0;
	}
	if (!strcmp(kw, "garp-repeat")) {
		if (argc != 2)
			return fail(p, "garp-repeat: expects a count");
		return parse_uint(p, kw, argv[1], 1, 100, &v->garp_repeat);
	}
	if (!strcmp(kw, "garp-delay")) {
		if (argc != 2)
			return fail(p, "garp-delay: expects a duration (0 = no second burst)");
		return parse_ms(p, kw, argv[1], &v->garp_delay_ms, 0);
	}
	if (!strcmp(kw, "sync")) {
		int i;

		if (argc == 2 && !strcmp(argv[1], "off")) {
			v->sync_off = 1;
			return 0;
		}
		if (argc < 3 || argc % 2 == 0)
			return fail(p, "sync: expects 'sync key-file PATH [port N]' or 'sync off'");
		for (i = 1; i + 1 < argc; i += 2) {
			if (!strcmp(argv[i], "key-file")) {
				if (copy_str(p, "key-file", v->sync_key_file, sizeof(v->sync_key_file), argv[i + 1]))
					return -EINVAL;
				v->sync_key_explicit = 1;
				p->cfg->sync_key_line = p->line;
			} else if (!strcmp(argv[i], "port")) {
				if (parse_uint(p, "port", argv[i + 1], 1, 65535, &n))
					return -EINVAL;
				v->sync_port = (uint16_t)n;
			} else {
				return fail(p, "sync: unknown option '%s' (key-file, port)", argv[i]);
			}
		}
		v->sync_off = 0;
		return 0;
	}
	{
		char dym[64];

		return fail(p, "unknown keyword '%s' in section vrrp%s", kw, keyword_hint(kw, vrrp_words, dym, sizeof(dym)));
	}
}

/* check TYPE [inter D] [fastinter D] [downinter D] [timeout D] [fall N] [rise N] [user U] [database D] */
static int parse_check(struct parser *p, int argc, char **argv, struct cfg_check *ck)
{
	int i, timeout_set = 0, fast_set = 0, down_set = 0;

	if (argc < 2)
		return fail(p, "check: expects a type: tcp, pgsql or login");
	if (!strcmp(argv[1], "tcp"))
		ck->type = CHECK_TCP;
	else if (!strcmp(argv[1], "pgsql"))
		ck->type = CHECK_PGSQL;
	else if (!strcmp(argv[1], "login"))
		ck->type = CHECK_LOGIN;
	else
		return fail(p, "check: unknown type '%s' (tcp, pgsql or login)", argv[1]);

	for (i = 2; i < argc; i += 2) {
		const char *k = argv[i], *val;

		if (i + 1 >= argc)
			return fail(p, "check: '%s' needs a value", k);
		val = argv[i + 1];
		if (!strcmp(k, "inter")) {
			if (parse_ms(p, "check inter", val, &ck->inter_ms, 10))
				return -EINVAL;
		} else if (!strcmp(k, "fastinter")) {
			if (parse_ms(p, "check fastinter", val, &ck->fastinter_ms, 10))
				return -EINVAL;
			fast_set = 1;
		} else if (!strcmp(k, "downinter")) {
			if (parse_ms(p, "check downinter", val, &ck->downinter_ms, 10))
				return -EINVAL;
			down_set = 1;
		} else if (!strcmp(k, "timeout")) {
			if (parse_ms(p, "check timeout", val, &ck->timeout_ms, 10))
				return -EINVAL;
			timeout_set = 1;
		} else if (!strcmp(k, "fall")) {
			if (parse_uint(p, "check fall", val, 1, 100, &ck->fall))
				return -EINVAL;
		} else if (!strcmp(k, "rise")) {
			if (parse_uint(p, "check rise", val, 1, 100, &ck->rise))
				return -EINVAL;
		} else if (!strcmp(k, "user")) {
			if (copy_str(p, "check user", ck->user, sizeof(ck->user), val))
				return -EINVAL;
		} else if (!strcmp(k, "database")) {
			if (copy_str(p, "check database", ck->database, sizeof(ck->database), val))
				return -EINVAL;
		} else {
			char dym[64];
			const char *hint = did_you_mean(k, check_words, dym, sizeof(dym));

			return fail(p, "check: unknown option '%s'%s", k,
				    *hint ? hint : " (inter, fastinter, downinter, timeout, fall, rise, user, database)");
		}
	}
	/* HAProxy: the check timeout defaults to inter; fastinter and downinter to inter. */
	if (!timeout_set)
		ck->timeout_ms = ck->inter_ms;
	if (!fast_set)
		ck->fastinter_ms = ck->inter_ms;
	if (!down_set)
		ck->downinter_ms = ck->inter_ms;
	if (ck->type == CHECK_LOGIN && !ck->user[0])
		return fail(p, "check login: needs 'user NAME' (and optionally 'database NAME')");
	if (ck->type != CHECK_LOGIN && (ck->user[0] || ck->database[0]))
		return fail(p, "check %s: 'user' and 'database' apply to the login check only", check_name(ck->type));
	if (ck->type == CHECK_LOGIN && !ck->database[0])
		strcpy(ck->database, ck->user);
	return 0;
}

/* server NAME ADDRESS:PORT [weight N] [disabled] */
static int parse_server(struct parser *p, int argc, char **argv, struct cfg_service *svc)
{
	struct cfg_server *s;
	uint16_t port;
	int i;

	if (argc < 3)
		return fail(p, "server: expects 'server NAME ADDRESS:PORT [weight N] [disabled]'");
	if (svc->nservers == PGS_MAX_SERVERS)
		return fail(p, "server: a service holds at most %d servers", PGS_MAX_SERVERS);
	if (!valid_name(argv[1]) || strlen(argv[1]) >= PGS_NAME_LEN)
		return fail(p, "server: '%s' is not a valid name (up to %d letters, digits, - _ .)", argv[1], PGS_NAME_LEN - 1);
	if (config_server(svc, argv[1]))
		return fail(p, "server: '%s' is defined twice in service %s", argv[1], svc->name);
	s = &svc->servers[svc->nservers];
	memset(s, 0, sizeof(*s));
	strcpy(s->name, argv[1]);
	s->weight = 1;
	s->line = p->line;
	if (parse_ip_port(p, "server", argv[2], &s->addr, &port))
		return -EINVAL;
	s->port = htons(port);
	for (i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "weight")) {
			if (i + 1 >= argc)
				return fail(p, "server %s: 'weight' needs a value from 0 to 256", s->name);
			if (parse_uint(p, "weight", argv[++i], 0, 256, &s->weight))
				return -EINVAL;
		} else if (!strcmp(argv[i], "disabled")) {
			s->disabled = 1;
		} else {
			return fail(p, "server %s: unknown option '%s' (weight, disabled)", s->name, argv[i]);
		}
	}
	svc->nservers++;
	return 0;
}

/* syn-cookies always|auto|off [halfopen N]: when the datapath answers SYNs itself (bpf/lib/syncookie.h). */
static int parse_syn_cookies(struct parser *p, int argc, char **argv, struct cfg_service *svc)
{
	static const char *const modes[] = { [PGS_COOKIES_AUTO] = "auto", [PGS_COOKIES_ALWAYS] = "always",
					     [PGS_COOKIES_OFF] = "off" };
	uint32_t m;

	if (argc != 2 && !(argc == 4 && !strcmp(argv[2], "halfopen")))
		return fail(p, "syn-cookies: expects always, auto or off, then optionally 'halfopen N'");
	for (m = 0; m < sizeof(modes) / sizeof(modes[0]); m++)
		if (!strcmp(argv[1], modes[m]))
			break;
	if (m == sizeof(modes) / sizeof(modes[0]))
		return fail(p, "syn-cookies: '%s' is not always, auto or off", argv[1]);
	svc->syn_cookies = m;
	if (argc == 4)
		return parse_uint(p, "syn-cookies halfopen", argv[3], 1, 1u << 24, &svc->syn_halfopen_max);
	return 0;
}

static int parse_service(struct parser *p, int argc, char **argv)
{
	struct cfg_service *svc = p->svc;
	const char *kw = argv[0];

	if (!strcmp(kw, "bind")) {
		uint16_t port;

		if (argc != 2)
			return fail(p, "bind: expects ADDRESS:PORT");
		if (parse_ip_port(p, kw, argv[1], &svc->vip, &port))
			return -EINVAL;
		svc->port = htons(port);
		return 0;
	}
	if (!strcmp(kw, "balance")) {
		if (argc != 2 || strcmp(argv[1], "leastconn"))
			return fail(p, "balance: only leastconn is supported");
		return 0;
	}
	if (!strcmp(kw, "check"))
		return parse_check(p, argc, argv, &svc->check);
	if (!strcmp(kw, "server"))
		return parse_server(p, argc, argv, svc);
	if (!strcmp(kw, "slowstart")) {
		if (argc != 2)
			return fail(p, "slowstart: expects a duration");
		return parse_ms(p, kw, argv[1], &svc->slowstart_ms, 0);
	}
	if (!strcmp(kw, "on-marked-down")) {
		if (argc != 2 || strcmp(argv[1], "shutdown-sessions"))
			return fail(p, "on-marked-down: only 'shutdown-sessions' is supported");
		svc->shutdown_sessions = 1;
		return 0;
	}
	if (!strcmp(kw, "cancel-routing")) {
		if (argc != 2 || (strcmp(argv[1], "on") && strcmp(argv[1], "off")))
			return fail(p, "cancel-routing: expects on or off");
		svc->cancel_routing = !strcmp(argv[1], "on");
		return 0;
	}
	if (!strcmp(kw, "allow") || !strcmp(kw, "deny"))
		return parse_policy(p, argc, argv, svc);
	if (!strcmp(kw, "syn-cookies"))
		return parse_syn_cookies(p, argc, argv, svc);
	if (!strcmp(kw, "admin-credentials")) {
		svc->admin_credentials_line = p->line;
		if (argc != 2)
			return fail(p, "admin-credentials: expects the absolute path of a USER:PASSWORD file");
		return parse_abs_path(p, kw, argv[1], svc->admin_credentials, sizeof(svc->admin_credentials));
	}
	char dym[64];

	return fail(p, "unknown keyword '%s' in service %s%s", kw, svc->name, keyword_hint(kw, service_words, dym, sizeof(dym)));
}

static void set_defaults(struct config *c)
{
	memset(c, 0, sizeof(*c));
	c->attach = ATTACH_XDP;
	strcpy(c->pin_root, PGS_PIN_ROOT_DEFAULT);
	strcpy(c->runtime_socket, "/run/pgsteer/pgsteerd.sock");
	c->runtime_mode = 0660;
	c->stats_enabled = 1;
	c->stats_addr = htonl(INADDR_ANY);
	c->stats_port = 8404;
	strcpy(c->state_dir, "/var/lib/pgsteer");
	if (gethostname(c->node_name, sizeof(c->node_name) - 1) < 0 || !c->node_name[0])
		strcpy(c->node_name, "pgsteer");
	c->flow_table_size = 262144;
	c->snat_min = 10000;
	c->snat_max = 32767;
	c->t_syn_ms = 30000;
	c->t_est_ms = 3 * 3600000;
	c->t_fin_ms = 60000;
	c->t_closed_ms = 10000;
	c->alert.flow_table_pct = 80;
	c->vrrp.priority = 100;
	c->vrrp.advert_cs = 100;
	c->vrrp.preempt = 1;
	c->vrrp.csum = VRRP_CSUM_PSEUDO;
	c->vrrp.garp_repeat = 5;
	c->vrrp.garp_delay_ms = 5000;
	snprintf(c->vrrp.sync_key_file, sizeof(c->vrrp.sync_key_file), "%s", CFG_SYNC_KEY_DEFAULT);
	c->vrrp.sync_port = CFG_SYNC_PORT_DEFAULT;
}

static void service_defaults(struct cfg_service *svc)
{
	memset(svc, 0, sizeof(*svc));
	svc->check.type = CHECK_NONE;
	svc->check.inter_ms = 2000;
	svc->check.fastinter_ms = 2000;
	svc->check.downinter_ms = 2000;
	svc->check.timeout_ms = 2000;
	svc->check.fall = 3;
	svc->check.rise = 2;
	svc->cancel_routing = 1;
}

static int section_start(struct parser *p, int argc, char **argv)
{
	struct config *c = p->cfg;

	if (!strcmp(argv[0], "global")) {
		if (argc != 1)
			return fail(p, "global: takes no argument");
		if (p->seen_global)
			return fail(p, "section global appears twice");
		p->seen_global = 1;
		p->section = SEC_GLOBAL;
		return 1;
	}
	if (!strcmp(argv[0], "vrrp")) {
		if (argc != 1)
			return fail(p, "vrrp: takes no argument (one VRRP instance per node)");
		if (p->seen_vrrp)
			return fail(p, "section vrrp appears twice");
		p->seen_vrrp = 1;
		c->vrrp.enabled = 1;
		c->vrrp.line = p->line;
		p->section = SEC_VRRP;
		return 1;
	}
	if (!strcmp(argv[0], "service")) {
		if (argc != 2)
			return fail(p, "service: expects one name");
		if (!valid_name(argv[1]) || strlen(argv[1]) >= PGS_NAME_LEN)
			return fail(p, "service: '%s' is not a valid name (up to %d letters, digits, - _ .)", argv[1], PGS_NAME_LEN - 1);
		if (config_service(c, argv[1]))
			return fail(p, "service %s is defined twice", argv[1]);
		if (c->nservices == PGS_MAX_SERVICES)
			return fail(p, "at most %d services", PGS_MAX_SERVICES);
		p->svc = &c->services[c->nservices++];
		service_defaults(p->svc);
		strcpy(p->svc->name, argv[1]);
		p->svc->line = p->line;
		p->section = SEC_SERVICE;
		return 1;
	}
	return 0;
}

static int parse_line(struct parser *p, char *line)
{
	char *argv[MAX_TOKENS], *tok, *save = NULL;
	int argc = 0, r;

	for (tok = strtok_r(line, " \t\r", &save); tok; tok = strtok_r(NULL, " \t\r", &save)) {
		if (tok[0] == '#')
			break;
		if (argc == MAX_TOKENS)
			return fail(p, "too many words on one line");
		argv[argc++] = tok;
	}
	if (argc == 0)
		return 0;
	r = section_start(p, argc, argv);
	if (r < 0)
		p->section = SEC_SKIP;
	if (r)
		return r < 0 ? r : 0;
	switch (p->section) {
	case SEC_GLOBAL:
		return parse_global(p, argc, argv);
	case SEC_VRRP:
		return parse_vrrp(p, argc, argv);
	case SEC_SERVICE:
		return parse_service(p, argc, argv);
	case SEC_SKIP:
		return 0;
	default: {
		char dym[64];
		const char *hint = did_you_mean(argv[0], section_words, dym, sizeof(dym));

		return fail(p, "'%s' outside a section%s", argv[0], *hint ? hint : " (global, vrrp or service NAME)");
	}
	}
}

/* A server at a steered address (a service's bind address or the VRRP VIP) would have its own
 * connections steered back to the pool: refused at the server's line. */
static void server_at_vip(struct parser *p)
{
	struct config *c = p->cfg;
	char a[INET_ADDRSTRLEN];
	int i, j, k;

	for (i = 0; i < c->nservices; i++)
		for (j = 0; j < c->services[i].nservers; j++) {
			struct cfg_server *srv = &c->services[i].servers[j];
			int vip = c->vrrp.enabled && srv->addr == c->vrrp.vip;

			for (k = 0; k < c->nservices && !vip; k++)
				vip = srv->addr == c->services[k].vip;
			if (!vip)
				continue;
			p->line = srv->line;
			inet_ntop(AF_INET, &srv->addr, a, sizeof(a));
			fail(p, "server %s: %s is the VIP: pgsteer steers that address, a server must be another host", srv->name, a);
		}
}

/* Whole-file rules, reported at the line that introduced the offending part; all of them. */
static void validate(struct parser *p)
{
	struct config *c = p->cfg;
	int i, j;

	p->line = 0;
	if (!c->interface[0])
		fail(p, "global: 'interface' is required");
	if (c->nservices == 0)
		fail(p, "no service defined");
	for (i = 0; i < c->nservices; i++) {
		struct cfg_service *s = &c->services[i];
		uint16_t port = ntohs(s->port);

		p->line = s->line;
		if (!s->vip)
			fail(p, "service %s: 'bind ADDRESS:PORT' is required", s->name);
		if (s->nservers == 0)
			fail(p, "service %s: no server defined", s->name);
		if (s->vip && port >= c->snat_min && port <= c->snat_max)
			fail(p, "service %s: port %u lies in snat-ports %u-%u", s->name, port, c->snat_min, c->snat_max);
		for (j = 0; j < i; j++)
			if (s->vip && c->services[j].vip == s->vip && c->services[j].port == s->port)
				fail(p, "service %s binds the same address as service %s", s->name, c->services[j].name);
	}
	server_at_vip(p);
	if (c->vrrp.enabled) {
		p->line = c->vrrp.line;
		if (!c->vrrp.vrid)
			fail(p, "vrrp: 'vrid' is required");
		if (!c->vrrp.vip)
			fail(p, "vrrp: 'vip ADDRESS/PREFIX' is required");
		for (i = 0; c->vrrp.vip && i < c->nservices; i++)
			if (c->services[i].vip && c->services[i].vip != c->vrrp.vip) {
				p->line = c->services[i].line;
				fail(p, "service %s binds an address that is not the vrrp vip", c->services[i].name);
			}
	}
}

int config_parse(const char *text, const char *name, struct config *cfg, char *err, size_t errlen)
{
	struct parser p = { .name = name, .err = err, .errlen = errlen, .cfg = cfg };
	char *copy = strdup(text), *line, *next;
	int r = 0;

	if (!copy) {
		snprintf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	if (errlen)
		err[0] = '\0';
	set_defaults(cfg);
	/* Every line is read, whatever came before: each mistake is reported, not just the first. */
	for (line = copy; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		p.line++;
		parse_line(&p, line);
	}
	free(copy);
	/* The whole-file rules only mean something once every line parsed. */
	if (!p.nerr)
		validate(&p);
	return p.nerr ? -EINVAL : r;
}

/* The rule that depends on the host the file is loaded on: a server at one of its own addresses
 * cannot be forwarded to (the datapath's route lookup finds no next hop for it, every connection
 * would be dropped while its health check passes). */
static int servers_not_local(const struct config *c, const char *path, char *err, size_t errlen)
{
	char a[INET_ADDRSTRLEN];
	int i, j, r;

	for (i = 0; i < c->nservices; i++)
		for (j = 0; j < c->services[i].nservers; j++) {
			const struct cfg_server *srv = &c->services[i].servers[j];

			r = host_addr_is_local(srv->addr);
			if (r < 0) {
				snprintf(err, errlen, "%s: listing this host's addresses: %s", path, strerror(-r));
				return r;
			}
			if (!r)
				continue;
			inet_ntop(AF_INET, &srv->addr, a, sizeof(a));
			snprintf(err, errlen,
				 "%s:%d: server %s: %s is an address of this host: the datapath forwards to other hosts only "
				 "(run PgBouncer on another host, or reach it by another address)",
				 path, srv->line, srv->name, a);
			return -EINVAL;
		}
	return 0;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char *text = NULL;
	size_t len = 0;
	int r;

	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return r;
	}
	{
		FILE *m = open_memstream(&text, &len);
		char buf[4096];
		size_t n;

		if (!m) {
			fclose(f);
			snprintf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
			fwrite(buf, 1, n, m);
		fclose(m);
	}
	fclose(f);
	/* The parser reads text up to its first NUL: one in the file would hide the rest of it. */
	if (text && memchr(text, '\0', len)) {
		const char *nul = memchr(text, '\0', len), *c;
		int line = 1;

		for (c = text; c < nul; c++)
			line += *c == '\n';
		snprintf(err, errlen, "%s:%d: a NUL byte (a binary or damaged file): nothing of it was applied", path, line);
		free(text);
		return -EINVAL;
	}
	r = config_parse(text ? text : "", path, cfg, err, errlen);
	free(text);
	if (!r)
		r = servers_not_local(cfg, path, err, errlen);
	if (!r && !realpath(path, cfg->path))
		snprintf(cfg->path, sizeof(cfg->path), "%s", path);
	return r;
}

struct cfg_service *config_service(struct config *cfg, const char *name)
{
	int i;

	for (i = 0; i < cfg->nservices; i++)
		if (!strcmp(cfg->services[i].name, name))
			return &cfg->services[i];
	return NULL;
}

struct cfg_server *config_server(struct cfg_service *svc, const char *name)
{
	int i;

	for (i = 0; i < svc->nservers; i++)
		if (!strcmp(svc->servers[i].name, name))
			return &svc->servers[i];
	return NULL;
}

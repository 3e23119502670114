/* Config warnings, as haproxy -c and keepalived -t give them: what parses but will not work as meant
 * on this machine (missing interface, VIP outside its subnets, two servers on one address, SNAT
 * ports the kernel also hands out, a webhook file that is not there, a socket or a secret file (stats
 * users, webhook URL, sync key) open to every local user). Never an error: the file
 * may be checked before the machine is ready. */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "config_warn.h"

void cfg_host_probe(const struct config *c, struct cfg_host *h)
{
	struct ifaddrs *ifa, *i;
	FILE *f;
	unsigned lo, hi;

	memset(h, 0, sizeof(*h));
	h->if_exists = c->interface[0] && if_nametoindex(c->interface) > 0;
	if (h->if_exists && getifaddrs(&ifa) == 0) {
		for (i = ifa; i; i = i->ifa_next) {
			if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || strcmp(i->ifa_name, c->interface) ||
			    h->naddrs == HOST_MAX_ADDRS)
				continue;
			h->addr[h->naddrs] = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
			h->prefix[h->naddrs] = i->ifa_netmask ?
				(uint8_t)__builtin_popcount(((struct sockaddr_in *)i->ifa_netmask)->sin_addr.s_addr) : 32;
			h->naddrs++;
		}
		freeifaddrs(ifa);
	}
	f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	if (f) {
		if (fscanf(f, "%u %u", &lo, &hi) == 2 && lo <= hi && hi <= 65535) {
			h->local_min = (uint16_t)lo;
			h->local_max = (uint16_t)hi;
		}
		fclose(f);
	}
}

struct out {
	char *buf;
	size_t size, used;
	int n;
};

static void warn(struct out *o, const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void warn(struct out *o, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	int n;

	o->n++;
	if (o->used + 2 >= o->size)
		return;
	if (o->used)
		o->buf[o->used++] = '\n';
	n = line > 0 ? snprintf(o->buf + o->used, o->size - o->used, "%s:%d: warning: ", file, line)
		     : snprintf(o->buf + o->used, o->size - o->used, "%s: warning: ", file);
	if (n < 0 || (size_t)n >= o->size - o->used) {
		o->used = o->size - 1;
		return;
	}
	o->used += n;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->used, o->size - o->used, fmt, ap);
	va_end(ap);
	o->used = n < 0 || (size_t)n >= o->size - o->used ? o->size - 1 : o->used + n;
}

static int in_subnets(const struct cfg_host *h, uint32_t ip)
{
	int i;

	for (i = 0; i < h->naddrs; i++) {
		uint32_t mask = h->prefix[i] ? htonl(~0u << (32 - h->prefix[i])) : 0;

		if ((ip & mask) == (h->addr[i] & mask))
			return 1;
	}
	return 0;
}

/* "10.0.0.1/24, 10.0.1.1/24" */
static const char *subnets(const struct cfg_host *h, char *buf, size_t size)
{
	size_t used = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < h->naddrs && used < size; i++) {
		char a[INET_ADDRSTRLEN];
		int n;

		inet_ntop(AF_INET, &h->addr[i], a, sizeof(a));
		n = snprintf(buf + used, size - used, "%s%s/%u", i ? ", " : "", a, h->prefix[i]);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	return buf;
}

/* A file holding a secret (passwords, the webhook URL, the sync key) that every local user can read. */
static void secret_file(struct out *o, const char *file, int line, const char *what, const char *path)
{
	struct stat st;

	if (path[0] && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0004))
		warn(o, file, line, "%s %s can be read by every user (mode %o): chmod 600 it",
		     what, path, (unsigned)(st.st_mode & 0777));
}

int config_warnings(const struct config *c, const char *file, const struct cfg_host *h, char *out, size_t size)
{
	struct out o = { .buf = out, .size = size };
	char a[INET_ADDRSTRLEN], nets[256];
	int i, j, k, l;

	if (size)
		out[0] = '\0';
	if (!h->if_exists)
		warn(&o, file, c->interface_line, "interface %s does not exist on this machine", c->interface);
	else if (h->naddrs) {
		/* With VRRP pgsteerd adds the VIP itself: it must land in one of the interface's subnets.
		 * Without, the bind address is the node's own. */
		if (c->vrrp.enabled && c->vrrp.vip && !in_subnets(h, c->vrrp.vip)) {
			inet_ntop(AF_INET, &c->vrrp.vip, a, sizeof(a));
			warn(&o, file, c->vrrp.line, "vip %s is outside the subnets of %s (%s)", a, c->interface,
			     subnets(h, nets, sizeof(nets)));
		}
		for (i = 0; !c->vrrp.enabled && i < c->nservices; i++)
			if (c->services[i].vip && !in_subnets(h, c->services[i].vip)) {
				inet_ntop(AF_INET, &c->services[i].vip, a, sizeof(a));
				warn(&o, file, c->services[i].line, "service %s: bind %s is outside the subnets of %s (%s)",
				     c->services[i].name, a, c->interface, subnets(h, nets, sizeof(nets)));
			}
	}
	/* Two servers on one address:port (in one service or two): one PgBouncer counted twice. */
	for (i = 0; i < c->nservices; i++)
		for (j = 0; j < c->services[i].nservers; j++) {
			const struct cfg_server *s = &c->services[i].servers[j];

			for (k = 0; k <= i; k++)
				for (l = 0; l < (k == i ? j : c->services[k].nservers); l++) {
					const struct cfg_server *t = &c->services[k].servers[l];

					if (t->addr != s->addr || t->port != s->port)
						continue;
					inet_ntop(AF_INET, &s->addr, a, sizeof(a));
					warn(&o, file, s->line, "server %s/%s: %s:%u is also server %s/%s", c->services[i].name,
					     s->name, a, ntohs(s->port), c->services[k].name, t->name);
					k = i + 1; /* one warning per server */
					break;
				}
		}
	if (h->local_max && c->snat_min <= h->local_max && h->local_min <= c->snat_max)
		warn(&o, file, c->snat_line, "snat-ports %u-%u overlaps net.ipv4.ip_local_port_range %u-%u: "
		     "the kernel may pick the same ports for the node's own connections",
		     c->snat_min, c->snat_max, h->local_min, h->local_max);
	if (c->runtime_mode & 0002)
		warn(&o, file, c->runtime_line, "runtime-socket mode %o lets every local user drive pgsteerd (drain, maint, reload)",
		     c->runtime_mode);
	/* The secrets live in their own files (the config holds none): each must be private. */
	if (c->stats_enabled)
		secret_file(&o, file, c->stats_auth_line, "stats auth-file", c->stats_auth_file);
	secret_file(&o, file, c->webhook_line, "alert slack webhook-file", c->alert.webhook_file);
	secret_file(&o, file, c->admin_credentials_line, "admin-credentials", c->admin_credentials);
	for (i = 0; i < c->nservices; i++)
		secret_file(&o, file, c->services[i].admin_credentials_line, "admin-credentials",
			    c->services[i].admin_credentials);
	if (c->vrrp.enabled && !c->vrrp.sync_off)
		secret_file(&o, file, c->sync_key_line ? c->sync_key_line : c->vrrp.line, "sync key-file",
			    c->vrrp.sync_key_file);
	if (c->alert.webhook_file[0] && access(c->alert.webhook_file, R_OK) != 0)
		warn(&o, file, c->webhook_line, "alert slack webhook-file %s cannot be read: alerts will not be sent",
		     c->alert.webhook_file);
	return o.n;
}

/* The connection log's lines: who connected from where to which server, and how it ended. */
#include <arpa/inet.h>
#include <string.h>
#include "harness.h"
#include "config.h"
#include "connlog.h"

static struct config cfg;
static struct model m;

static struct pgs_flow_event event(uint32_t type, uint32_t flags)
{
	struct pgs_flow_event ev = {
		.fk = { .client = htonl(0x0a640102), .vip = htonl(0x0a640164), .cport = htons(44504), .vport = htons(5432) },
		.backend = htonl(0x0a640105), .bport = htons(6433), .sport = htons(32417),
		.slot = m.services[0].servers[1].slot, .type = type, .flags = flags, .ts_ns = 5500000000ull,
	};
	return ev;
}

static void lines(void)
{
	struct pgs_flow f = { .created_ns = 2000000000ull };
	struct pgs_flow_event ev;
	char err[256], line[512];

	CHECK_EQ(config_parse("global\n    interface eth0\n    log connections\nservice pgsql\n"
			      "    bind 10.100.1.100:5432\n    server pgb1 10.100.1.5:6432\n    server pgb2 10.100.1.5:6433\n",
			      "t.conf", &cfg, err, sizeof(err)), 0);
	model_init(&m, &cfg, 0, NULL);
	ev = event(PGS_EV_ESTABLISHED, 0);
	connlog_line(line, sizeof(line), &m, &ev, NULL);
	CHECK_STR(line, "connection open 10.100.1.2:44504 > 10.100.1.100:5432 > pgsql/pgb2 10.100.1.5:6433 as 10.100.1.100:32417");
	ev = event(PGS_EV_CLOSED, PGS_FLOW_F_FIN_CLIENT | PGS_FLOW_F_FIN_SERVER);
	connlog_line(line, sizeof(line), &m, &ev, &f);
	CHECK_STR(line, "connection close 10.100.1.2:44504 > 10.100.1.100:5432 > pgsql/pgb2 10.100.1.5:6433 as "
			"10.100.1.100:32417 after 3.500s, closed by client (FIN)");
	ev = event(PGS_EV_CLOSED, PGS_FLOW_F_FIN_CLIENT | PGS_FLOW_F_FIN_SERVER | PGS_FLOW_F_SERVER_FIRST);
	connlog_line(line, sizeof(line), &m, &ev, NULL); /* the flow is gone already: no duration */
	CHECK(strstr(line, "as 10.100.1.100:32417, closed by server (FIN)") != NULL, "%s", line);
	ev = event(PGS_EV_CLOSED, PGS_FLOW_F_FIN_SERVER);
	connlog_line(line, sizeof(line), &m, &ev, &f);
	CHECK(strstr(line, "after 3.500s, reset after the server's FIN") != NULL, "%s", line);
	ev = event(PGS_EV_CLOSED, 0);
	connlog_line(line, sizeof(line), &m, &ev, &f);
	CHECK(strstr(line, ", reset") != NULL, "%s", line);
	/* A slot no server holds (a reload removed it): the addresses still say it all. */
	ev.slot = m.services[0].servers[1].slot + 5;
	connlog_line(line, sizeof(line), &m, &ev, &f);
	CHECK(strstr(line, "> ?/? 10.100.1.5:6433 as") != NULL, "%s", line);
	/* A short buffer is cut, never overrun. */
	connlog_line(line, 20, &m, &ev, &f);
	CHECK_EQ(strlen(line), 19);
}

int main(void)
{
	RUN(lines);
	return h_exit();
}

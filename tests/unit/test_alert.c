/* Alerts, Slack payloads, the state file, the CSV parser and the monitor: pure tables first, then live
 * runs against a local webhook sink (the Slack stand-in, python3 http.server) and a real HAProxy. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <json-c/json.h>
#include "harness.h"
#include "alert.h"
#include "checker.h"
#include "config.h"
#include "csv.h"
#include "log.h"
#include "loop.h"
#include "monitor.h"
#include "render.h"
#include "slack.h"
#include "statefile.h"
#include "synflood.h"
#include "url.h"

/* The HAProxy 2.6 stats vector (shared/reference/vectors/haproxy-2.6-stats.csv), verbatim. */
static const char vector_csv[] =
	"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wr"
	"edis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lb"
	"tot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hr"
	"sp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_ab"
	"rt,srv_abrt,comp_in,comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtim"
	"e,ttime,agent_status,agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall"
	",check_health,agent_rise,agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate"
	"_max,conn_tot,intercepted,dcon,dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,s"
	"rc_ilim,qtime_max,ctime_max,rtime_max,ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn"
	"_cur,need_conn_est,uweight,agg_server_status,agg_server_check_status,agg_check_status,-,ss"
	"l_sess,ssl_reused_sess,ssl_failed_handshake,h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,"
	"h2_rst_stream_rcvd,h2_goaway_rcvd,h2_detected_conn_protocol_errors,h2_detected_strm_protoc"
	"ol_errors,h2_rst_stream_resp,h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2"
	"_total_connections,h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_c"
	"onnections,h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_"
	"out,"
	"\n"
	"be_pgb,pgb1,0,0,0,8,,4800,107833705,114782799,,0,,0,0,0,0,UP,1,1,0,0,0,465,0,,1,3,1,,4800,"
	",2,0,,97,L4OK,,0,,,,,,,,,,,0,0,,,,,10,,,0,0,0,49,,,,Layer4 check passed,,2,3,4,,,,,,tcp,,,"
	",,,,,0,4800,0,,,0,,0,5,0,15001,0,0,0,0,2,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,"
	"\n";

static char tmpdir[256];

/* ---------------------------------------------------------------- CSV */

static void test_csv_vector(void)
{
	struct csv c;
	int err = csv_parse(&c, vector_csv, strlen(vector_csv));

	CHECK_EQ(err, 0);
	if (err)
		return;
	CHECK_EQ(c.ncols, 128);
	CHECK_EQ(c.nrows, 1);
	CHECK_STR(c.cols[0], "pxname");
	CHECK_STR(c.cols[c.ncols - 1], "h1_spliced_bytes_out");
	CHECK_STR(csv_get(&c, 0, "pxname"), "be_pgb");
	CHECK_STR(csv_get(&c, 0, "svname"), "pgb1");
	CHECK_STR(csv_get(&c, 0, "status"), "UP");
	CHECK_STR(csv_get(&c, 0, "check_status"), "L4OK");
	CHECK_STR(csv_get(&c, 0, "check_desc"), "Layer4 check passed");
	CHECK_STR(csv_get(&c, 0, "last_chk"), "");
	CHECK_STR(csv_get(&c, 0, "type"), "2");
	CHECK_STR(csv_get(&c, 0, "stot"), "4800");
	CHECK_STR(csv_get(&c, 0, "-"), "-");
	CHECK_STR(csv_get(&c, 0, "h1_spliced_bytes_out"), "");
	CHECK(csv_get(&c, 0, "no_such_column") == NULL, "unknown column found");
	CHECK_EQ(csv_col(&c, "status"), 17);
	csv_free(&c);
}

/* The vector file itself, when the shared folder sits beside the repository. */
static void test_csv_vector_file(void)
{
	static const char *paths[] = { "../shared/reference/vectors/haproxy-2.6-stats.csv",
				       "/work/shared/reference/vectors/haproxy-2.6-stats.csv" };
	char buf[16384];
	size_t i, n = 0;
	FILE *f = NULL;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]) && !f; i++)
		f = fopen(paths[i], "r");
	if (!f) {
		printf("     (vector file not found; the embedded copy was checked)\n");
		return;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	CHECK(n == strlen(vector_csv) && !memcmp(buf, vector_csv, n), "embedded vector differs from the file");
}

struct csv_row {
	const char *name;
	const char *text;
	int err;
	int ncols, nrows;
	int row;
	const char *col, *want;
};

static void test_csv_table(void)
{
	static const struct csv_row rows[] = {
		{ "trailing commas and final blank line", "# pxname,svname,status,\nbe,s1,UP,\n\n", 0, 3, 1, 0,
		  "status", "UP" },
		{ "quoted comma", "# a,b,c,\n1,\"x,y\",3,\n", 0, 3, 1, 0, "b", "x,y" },
		{ "doubled quote", "# a,b,\n\"say \"\"hi\"\"\",2,\n", 0, 2, 1, 0, "a", "say \"hi\"" },
		{ "quoted then text", "# a,b,\n\"q\"rest,2,\n", 0, 2, 1, 0, "a", "qrest" },
		{ "CRLF lines", "# a,b,\r\n1,2,\r\n3,4,\r\n", 0, 2, 2, 1, "b", "4" },
		{ "short row pads", "# a,b,c,\n1,\n", 0, 3, 1, 0, "c", "" },
		{ "long row ignored tail", "# a,b,\n1,2,3,4,5\n", 0, 2, 1, 0, "b", "2" },
		{ "no trailing newline", "# a,b\n1,2", 0, 2, 1, 0, "b", "2" },
		{ "header only", "# a,b,\n", 0, 2, 0, 0, NULL, NULL },
		{ "blank lines between", "# a,\n1,\n\n2,\n", 0, 1, 2, 1, "a", "2" },
		{ "hash without space", "#a,b,\n1,2,\n", 0, 2, 1, 0, "a", "1" },
		{ "quoted newline", "# a,b,\n\"l1\nl2\",2,\n", 0, 2, 1, 0, "a", "l1\nl2" },
		{ "no header", "pxname,svname\nbe,s1\n", -EINVAL, 0, 0, 0, NULL, NULL },
		{ "empty", "", -EINVAL, 0, 0, 0, NULL, NULL },
		{ "unterminated quote", "# a,b,\n\"open,2,\n", -EINVAL, 0, 0, 0, NULL, NULL },
		{ "HTML error page", "<html><body>503</body></html>\n", -EINVAL, 0, 0, 0, NULL, NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct csv_row *r = &rows[i];
		struct csv c;
		int err = csv_parse(&c, r->text, strlen(r->text));

		CHECK(err == r->err, "%s: err %d, expected %d", r->name, err, r->err);
		if (err)
			continue;
		CHECK(c.ncols == r->ncols && c.nrows == r->nrows, "%s: %d cols %d rows", r->name, c.ncols,
		      c.nrows);
		if (r->col) {
			const char *v = csv_get(&c, r->row, r->col);

			CHECK(v && !strcmp(v, r->want), "%s: %s = \"%s\", expected \"%s\"", r->name, r->col,
			      v ? v : "(null)", r->want);
		}
		csv_free(&c);
	}
}

/* A wide header over many one-field lines: short rows are padded to the header's width, and 37 KB
 * of text took 129 MB of cells. Refused now; a dense table as wide still parses. */
static void test_csv_sparse_refused(void)
{
	size_t cap = 1 << 20, len = 0;
	char *text = malloc(cap);
	struct csv c;
	int i;

	len += snprintf(text + len, cap - len, "#");
	for (i = 0; i < CSV_MAX_COLS; i++)
		len += snprintf(text + len, cap - len, " c%d,", i);
	len += snprintf(text + len, cap - len, "\n");
	for (i = 0; i < 17000; i++)
		len += snprintf(text + len, cap - len, "x\n");
	CHECK_EQ(csv_parse(&c, text, len), -EINVAL);
	printf("    %zu bytes, %d columns, 17000 one-field rows: refused\n", len, CSV_MAX_COLS);
	/* the same width, every row whole: 20 rows */
	len = snprintf(text, cap, "#");
	for (i = 0; i < CSV_MAX_COLS; i++)
		len += snprintf(text + len, cap - len, " c%d,", i);
	len += snprintf(text + len, cap - len, "\n");
	for (int r = 0; r < 20; r++) {
		for (i = 0; i < CSV_MAX_COLS; i++)
			len += snprintf(text + len, cap - len, "%d,", r);
		len += snprintf(text + len, cap - len, "\n");
	}
	CHECK_EQ(csv_parse(&c, text, len), 0);
	CHECK(c.nrows == 20 && !strcmp(csv_cell(&c, 19, CSV_MAX_COLS - 1), "19"), "%d rows", c.nrows);
	csv_free(&c);
	free(text);
}

static void test_classify(void)
{
	static const struct {
		const char *status;
		int err;
		enum srv_class cls;
	} rows[] = {
		{ "UP", 0, CLASS_UP },		     { "UP 2/3", 0, CLASS_UP },
		{ "UP 1/3", 0, CLASS_UP },	     { "no check", 0, CLASS_UP },
		{ "NOLB", 0, CLASS_UP },	     { "NOLB 1/2", 0, CLASS_UP },
		{ "DOWN", 0, CLASS_DOWN },	     { "DOWN 1/2", 0, CLASS_DOWN },
		{ "DOWN (agent)", 0, CLASS_DOWN },   { "DRAIN", 0, CLASS_DRAIN },
		{ "DRAIN 1/2", 0, CLASS_DRAIN },     { "DRAIN (agent)", 0, CLASS_DRAIN },
		{ "MAINT", 0, CLASS_MAINT },	     { "MAINT (via be/pgb1)", 0, CLASS_MAINT },
		{ "MAINT (resolution)", 0, CLASS_MAINT }, { "OPEN", -EINVAL, CLASS_UP },
		{ "UPPER", -EINVAL, CLASS_UP },	     { "", -EINVAL, CLASS_UP },
		{ "down", -EINVAL, CLASS_UP },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum srv_class c = CLASS_UP;
		int err = monitor_classify(rows[i].status, &c);

		CHECK(err == rows[i].err && (err || c == rows[i].cls), "\"%s\": err %d class %d", rows[i].status,
		      err, c);
	}
}

static void test_monitor_servers(void)
{
	static const char text[] =
		"# pxname,svname,status,check_status,last_chk,check_desc,type,\n"
		"stats,FRONTEND,OPEN,,,,0,\n"
		"be_pgb,pgb1,UP 2/3,* L4OK,,Layer4 check passed,2,\n"
		"be_pgb,pgb2,DOWN,L4CON,Connection refused,Layer4 connection problem,2,\n"
		"be_pgb,pgb3,no check,,,,2,\n"
		"be_pgb,BACKEND,UP,,,,1,\n"
		"be_pgb,weird,???,,,,2,\n";
	static const char notype[] = "# pxname,svname,status,\nfe,FRONTEND,OPEN,\nbe,s1,MAINT,\nbe,BACKEND,DOWN,\n";
	struct monitor_row rows[8];
	struct csv c;
	int n;

	CHECK_EQ(csv_parse(&c, text, strlen(text)), 0);
	n = monitor_servers(&c, rows, 8);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK_STR(rows[0].server, "pgb1");
		CHECK_EQ(rows[0].cls, CLASS_UP);
		CHECK_STR(rows[0].check_status, "L4OK");
		CHECK_STR(rows[0].check_desc, "Layer4 check passed");
		CHECK_STR(rows[1].service, "be_pgb");
		CHECK_EQ(rows[1].cls, CLASS_DOWN);
		CHECK_STR(rows[1].check_desc, "Connection refused");
		CHECK_STR(rows[2].server, "pgb3");
	}
	csv_free(&c);
	CHECK_EQ(csv_parse(&c, notype, strlen(notype)), 0);
	n = monitor_servers(&c, rows, 8);
	CHECK_EQ(n, 1);
	CHECK(n == 1 && rows[0].cls == CLASS_MAINT, "s1 not MAINT");
	csv_free(&c);
	CHECK_EQ(csv_parse(&c, "# a,b,\n1,2,\n", 12), 0);
	CHECK_EQ(monitor_servers(&c, rows, 8), -EINVAL);
	csv_free(&c);
	CHECK_EQ(csv_parse(&c, vector_csv, strlen(vector_csv)), 0);
	n = monitor_servers(&c, rows, 8);
	CHECK(n == 1 && rows[0].cls == CLASS_UP && !strcmp(rows[0].server, "pgb1"), "vector: %d rows", n);
	csv_free(&c);
}

/* ---------------------------------------------------------------- wording and payloads */

static void test_wording(void)
{
	static const struct {
		enum srv_class from, to;
		const char *title;
		enum slack_colour colour;
	} srv[] = {
		{ CLASS_UP, CLASS_DOWN, "pgb2 is DOWN", SLACK_DANGER },
		{ CLASS_DOWN, CLASS_UP, "Recovery: pgb2 is back UP", SLACK_GOOD },
		{ CLASS_UP, CLASS_DRAIN, "pgb2 is DRAIN", SLACK_WARNING },
		{ CLASS_UP, CLASS_MAINT, "pgb2 is in MAINT", SLACK_DANGER },
		{ CLASS_MAINT, CLASS_UP, "Recovery: pgb2 is back UP", SLACK_GOOD },
	};
	static const struct {
		enum vrrp_alert kind;
		const char *self, *peer, *why, *title;
		enum slack_colour colour;
	} vr[] = {
		{ VRRP_ALERT_TAKEOVER, "lb2", "lb1", NULL, "VIP migrated to lb2, lb1 is DOWN", SLACK_DANGER },
		{ VRRP_ALERT_PREEMPT, "lb1", "lb2", NULL, "VIP migrated to lb1, lb2 is BACKUP", SLACK_WARNING },
		{ VRRP_ALERT_REJOINED, "lb1", NULL, NULL, "Recovery: lb1 rejoined", SLACK_GOOD },
		{ VRRP_ALERT_REJOINED, "lb1", "lb2", NULL, "Recovery: lb1 rejoined", SLACK_GOOD },
		{ VRRP_ALERT_FAULT, "lb1", NULL, "interface eth0 down", "lb1 is FAULT: interface eth0 down, VIP released",
		  SLACK_DANGER },
	};
	struct slack_event ev;
	size_t i;

	for (i = 0; i < sizeof(srv) / sizeof(srv[0]); i++) {
		slack_server(&ev, "lb1", "pgsql", "pgb2", srv[i].from, srv[i].to, "L4CON", "Connection refused", 12,
			     0);
		CHECK(!strcmp(ev.title, srv[i].title) && ev.colour == srv[i].colour, "server %zu: \"%s\" %d", i,
		      ev.title, ev.colour);
		CHECK(!strncmp(ev.text, srv[i].title, strlen(srv[i].title)), "text \"%s\"", ev.text);
	}
	for (i = 0; i < sizeof(vr) / sizeof(vr[0]); i++) {
		slack_vrrp(&ev, vr[i].kind, vr[i].self, vr[i].peer, vr[i].why, 0);
		CHECK(!strcmp(ev.title, vr[i].title) && ev.colour == vr[i].colour, "vrrp %zu: \"%s\"", i, ev.title);
	}
	/* The seed's second line: both nodes are there again. */
	slack_vrrp(&ev, VRRP_ALERT_REJOINED, "lb1", "lb2", NULL, 0);
	CHECK_STR(ev.text, "Recovery: lb1 rejoined, system at full HA capacity (lb2 is MASTER)");
	slack_vrrp(&ev, VRRP_ALERT_REJOINED, "lb1", NULL, NULL, 0);
	CHECK_STR(ev.text, "Recovery: lb1 rejoined");
	slack_flow_table(&ev, "lb1", 83, 1, 0);
	CHECK_STR(ev.title, "flow table 83% full on lb1");
	CHECK_EQ(ev.colour, SLACK_WARNING);
	slack_flow_table(&ev, "lb1", 40, 0, 0);
	CHECK_STR(ev.title, "flow table back to 40% on lb1");
	CHECK_EQ(ev.colour, SLACK_GOOD);

	/* The text line names node, service, check and downtime. */
	slack_server(&ev, "lb1", "pgsql", "pgb2", CLASS_UP, CLASS_DOWN, "L4CON", "Connection refused", UINT64_MAX, 0);
	CHECK_STR(ev.text, "pgb2 is DOWN (node lb1, service pgsql, check L4CON: Connection refused)");
	slack_server(&ev, "lb1", "pgsql", "pgb2", CLASS_DOWN, CLASS_UP, "L7OK", "", 12, 0);
	CHECK_STR(ev.text, "Recovery: pgb2 is back UP (node lb1, service pgsql, check L7OK, down for 12s)");
	slack_server(&ev, "lb1", "pgsql", "pgb2", CLASS_MAINT, CLASS_UP, NULL, NULL, 125, 0);
	CHECK_STR(ev.text, "Recovery: pgb2 is back UP (node lb1, service pgsql, in MAINT for 2m05s)");
}

static void test_duration(void)
{
	static const struct {
		uint64_t s;
		const char *want;
	} rows[] = { { 0, "0s" },	  { 12, "12s" },	{ 59, "59s" },	   { 60, "1m00s" },
		     { 125, "2m05s" }, { 3600, "1h00m" }, { 7380, "2h03m" }, { 273600, "3d04h" } };
	char buf[32];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		slack_duration(rows[i].s, buf, sizeof(buf));
		CHECK(!strcmp(buf, rows[i].want), "%llu: \"%s\", expected \"%s\"", (unsigned long long)rows[i].s,
		      buf, rows[i].want);
	}
}

static const char down_json[] =
	"{\"text\":\"pgb2 is DOWN (node lb1, service pgsql, check L4CON: Connection refused)\","
	"\"attachments\":[{\"color\":\"danger\",\"fallback\":\"pgb2 is DOWN (node lb1, service pgsql, check "
	"L4CON: Connection refused)\",\"title\":\"pgb2 is DOWN\",\"fields\":[{\"title\":\"node\",\"value\":\"lb1\","
	"\"short\":true},{\"title\":\"service\",\"value\":\"pgsql\",\"short\":true},{\"title\":\"server\","
	"\"value\":\"pgb2\",\"short\":true},{\"title\":\"check\",\"value\":\"L4CON: Connection refused\","
	"\"short\":true}],\"footer\":\"pgsteer\",\"ts\":1700000000}]}";
static const char up_json[] =
	"{\"text\":\"Recovery: pgb2 is back UP (node lb1, service pgsql, check L7OK: server accepted SSLRequest "
	"with 'N', down for 12s)\",\"attachments\":[{\"color\":\"good\",\"fallback\":\"Recovery: pgb2 is back UP "
	"(node lb1, service pgsql, check L7OK: server accepted SSLRequest with 'N', down for 12s)\",\"title\":"
	"\"Recovery: pgb2 is back UP\",\"fields\":[{\"title\":\"node\",\"value\":\"lb1\",\"short\":true},"
	"{\"title\":\"service\",\"value\":\"pgsql\",\"short\":true},{\"title\":\"server\",\"value\":\"pgb2\","
	"\"short\":true},{\"title\":\"check\",\"value\":\"L7OK: server accepted SSLRequest with 'N'\",\"short\":"
	"false},{\"title\":\"downtime\",\"value\":\"down for 12s\",\"short\":true}],\"footer\":\"pgsteer\","
	"\"ts\":1700000012}]}";

static void test_payload(void)
{
	struct slack_event ev[3];
	struct json_object *o, *v, *att;
	char *json;

	slack_server(&ev[0], "lb1", "pgsql", "pgb2", CLASS_UP, CLASS_DOWN, "L4CON", "Connection refused", UINT64_MAX,
		     1700000000);
	CHECK_EQ(slack_payload(ev, 1, &json), 0);
	if (json) {
		CHECK_STR(json, down_json);
		printf("     DOWN payload: %s\n", json);
		free(json);
	}
	slack_server(&ev[0], "lb1", "pgsql", "pgb2", CLASS_DOWN, CLASS_UP, "L7OK",
		     "server accepted SSLRequest with 'N'", 12, 1700000012);
	CHECK_EQ(slack_payload(ev, 1, &json), 0);
	if (json) {
		CHECK_STR(json, up_json);
		printf("     recovery payload: %s\n", json);
		free(json);
	}

	/* Coalesced: text lines joined, one attachment each; <, > and & escaped for mrkdwn. */
	slack_server(&ev[0], "lb1", "pgsql", "pgb1", CLASS_UP, CLASS_DOWN, "L7RSP", "got <!channel> & more",
		     UINT64_MAX, 1);
	slack_server(&ev[1], "lb1", "pgsql", "pgb2", CLASS_UP, CLASS_DRAIN, NULL, NULL, UINT64_MAX, 2);
	slack_vrrp(&ev[2], VRRP_ALERT_TAKEOVER, "lb2", "lb1", NULL, 3);
	CHECK_EQ(slack_payload(ev, 3, &json), 0);
	if (!json)
		return;
	o = json_tokener_parse(json);
	CHECK(o != NULL, "payload is not JSON: %s", json);
	if (o && json_object_object_get_ex(o, "text", &v)) {
		CHECK_STR(json_object_get_string(v),
			  "pgb1 is DOWN (node lb1, service pgsql, check L7RSP: got &lt;!channel&gt; &amp; more)\n"
			  "pgb2 is DRAIN (node lb1, service pgsql)\nVIP migrated to lb2, lb1 is DOWN");
	} else {
		CHECK(0, "no text");
	}
	if (o && json_object_object_get_ex(o, "attachments", &att)) {
		CHECK_EQ(json_object_array_length(att), 3);
		CHECK_STR(json_object_get_string(json_object_object_get(json_object_array_get_idx(att, 1), "color")),
			  "warning");
		CHECK_STR(json_object_get_string(json_object_object_get(json_object_array_get_idx(att, 2), "color")),
			  "danger");
	} else {
		CHECK(0, "no attachments");
	}
	json_object_put(o);
	free(json);
	CHECK_EQ(slack_payload(ev, 0, &json), -EINVAL);
}

/* ---------------------------------------------------------------- retry policy */

static void test_backoff(void)
{
	struct alert_tuning t = { .backoff_min_ms = 1000, .backoff_max_ms = 60000 };
	static const uint64_t base[] = { 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000 };
	unsigned a;
	uint32_t r;

	for (a = 1; a <= 9; a++) {
		uint64_t lo = base[a - 1] - base[a - 1] / 5, hi = base[a - 1] + base[a - 1] / 5, mn = UINT64_MAX, mx = 0;

		if (hi > 60000)
			hi = 60000;
		for (r = 0; r < 5000; r += 7) {
			uint64_t d = alert_backoff_ms(&t, a, r * 2654435761u);

			mn = d < mn ? d : mn;
			mx = d > mx ? d : mx;
		}
		CHECK(mn >= lo && mx <= hi && mx > mn, "attempt %u: %llu..%llu, expected within %llu..%llu", a,
		      (unsigned long long)mn, (unsigned long long)mx, (unsigned long long)lo, (unsigned long long)hi);
	}
	CHECK(alert_backoff_ms(&t, 1000, 0) <= 60000, "no overflow at attempt 1000");
	CHECK(alert_backoff_ms(&t, 0, 0) >= 800, "attempt 0 counts as 1");
}

static void test_retry_after(void)
{
	static const struct {
		const char *v;
		int err;
		uint64_t secs;
	} rows[] = {
		{ "2", 0, 2 },
		{ " 30\r\n", 0, 30 },
		{ "0", 0, 0 },
		{ "Tue, 14 Nov 2023 22:13:30 GMT", 0, 10 },  /* now is 22:13:20 */
		{ "Tue, 14 Nov 2023 22:13:00 GMT\r\n", 0, 0 }, /* in the past */
		{ "", -EINVAL, 0 },
		{ "soon", -EINVAL, 0 },
		{ "-5", -EINVAL, 0 },
		{ "5s", -EINVAL, 0 },
		{ "99999999999999999999999", -EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint64_t s = 12345;
		int err = alert_retry_after(rows[i].v, 1700000000, &s);

		CHECK(err == rows[i].err && (err || s == rows[i].secs), "\"%s\": err %d secs %llu", rows[i].v, err,
		      (unsigned long long)s);
	}
}

static void test_redact(void)
{
	static const struct {
		const char *url;
		unsigned flags;
		const char *want;
	} rows[] = {
		{ "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX", URL_REDACT_PATH,
		  "https://hooks.slack.com/services/T\u2026/***" },
		{ "http://127.0.0.1:8080/hook", URL_REDACT_PATH, "http://127.0.0.1:8080/***" },
		{ "https://example.com", URL_REDACT_PATH, "https://example.com/***" },
		{ "https://user:XXXX@hooks.example.com/services/T1/B0000/XXXX?token=XXXX", URL_REDACT_PATH,
		  "https://***@hooks.example.com/services/T\u2026/***?***" },
		{ "http://admin:XXXX@10.0.0.2:8404/stats;csv", 0, "http://***@10.0.0.2:8404/stats;csv" },
		{ "http://XXXX@10.0.0.2:8404/stats;csv?key=XXXX", 0, "http://***@10.0.0.2:8404/stats;csv?***" },
		{ "http://10.0.0.2:8404/stats;csv", 0, "http://10.0.0.2:8404/stats;csv" },
		{ "http://[::1]:8404/", 0, "http://[::1]:8404" },
		{ "not a url XXXX", 0, "(an unparseable URL)" },
	};
	char buf[128];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		url_redact(rows[i].url, rows[i].flags, buf, sizeof(buf));
		CHECK(!strcmp(buf, rows[i].want), "\"%s\" -> \"%s\"", rows[i].url, buf);
		CHECK(!strstr(buf, "XXXX") && !strstr(buf, "B0000"), "secret part leaked: %s", buf);
	}
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd >= 0) {
		if (write(fd, text, strlen(text)) < 0)
			perror(path);
		fchmod(fd, mode);
		close(fd);
	}
}

static void test_webhook_read(void)
{
	char path[300], err[256];
	char *url = NULL;
	int loose = -1;

	snprintf(path, sizeof(path), "%s/hook", tmpdir);
	write_file(path, "  \n https://hooks.slack.com/services/T1/B2/C3 \n\n", 0600);
	CHECK_EQ(alert_webhook_read(path, NULL, &url, &loose, err, sizeof(err)), 0);
	CHECK(url && !strcmp(url, "https://hooks.slack.com/services/T1/B2/C3"), "url \"%s\"", url ? url : "");
	CHECK_EQ(loose, 0);
	free(url);
	url = NULL;
	chmod(path, 0644);
	CHECK_EQ(alert_webhook_read(path, NULL, &url, &loose, err, sizeof(err)), 0);
	CHECK_EQ(loose, 1);
	free(url);
	url = NULL;
	write_file(path, "not a url\n", 0600);
	CHECK_EQ(alert_webhook_read(path, NULL, &url, &loose, err, sizeof(err)), -EINVAL);
	CHECK(!strstr(err, "not a url"), "error repeats the file's content: %s", err);
	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	CHECK_EQ(alert_webhook_read(path, NULL, &url, &loose, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "missing") != NULL, "error does not name the file: %s", err);
	unsetenv("PGS_TEST_HOOK");
	CHECK_EQ(alert_webhook_read(NULL, "PGS_TEST_HOOK", &url, &loose, err, sizeof(err)), -ENOENT);
	setenv("PGS_TEST_HOOK", "http://127.0.0.1:9/x\n", 1);
	CHECK_EQ(alert_webhook_read(NULL, "PGS_TEST_HOOK", &url, &loose, err, sizeof(err)), 0);
	CHECK(url && !strcmp(url, "http://127.0.0.1:9/x"), "env url");
	free(url);
	url = (char *)1;
	CHECK_EQ(alert_webhook_read(NULL, NULL, &url, &loose, err, sizeof(err)), 0);
	CHECK(url == NULL, "no source, no url");
}

/* ---------------------------------------------------------------- state file */

static void test_statefile(void)
{
	char path[300], err[512], tmp[320];
	struct json_object *o, *back = NULL;
	struct stat st;
	int ret;

	snprintf(path, sizeof(path), "%s/state.json", tmpdir);
	unlink(path);
	ret = statefile_read(path, &back, err, sizeof(err));
	CHECK_EQ(ret, -ENOENT);
	CHECK(back == NULL, "object from a missing file");

	o = json_object_new_object();
	json_object_object_add(o, "class", json_object_new_string("DOWN"));
	json_object_object_add(o, "n", json_object_new_int(42));
	CHECK_EQ(statefile_write(path, o), 0);
	json_object_put(o);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "mode %o", st.st_mode & 0777);
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	CHECK(access(tmp, F_OK) != 0, "temporary file left behind");
	ret = statefile_read(path, &back, err, sizeof(err));
	CHECK_EQ(ret, 0);
	if (back) {
		CHECK_STR(json_object_get_string(json_object_object_get(back, "class")), "DOWN");
		CHECK_EQ(json_object_get_int(json_object_object_get(back, "n")), 42);
		json_object_put(back);
	}

	/* Corrupt files: a clear error naming the file, never a crash. */
	static const char *const bad[] = { "{\"class\": \"DO", "", "[1,2]", "garbage", "{} trailing" };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_file(path, bad[i], 0600);
		back = NULL;
		err[0] = '\0';
		ret = statefile_read(path, &back, err, sizeof(err));
		CHECK(ret == -EBADMSG && back == NULL && strstr(err, path), "\"%s\": %d \"%s\"", bad[i], ret, err);
		if (back)
			json_object_put(back);
	}
	printf("     corrupt: %s\n", err);

	/* A write into a missing directory fails cleanly. */
	snprintf(path, sizeof(path), "%s/nodir/state.json", tmpdir);
	o = json_object_new_object();
	CHECK_EQ(statefile_write(path, o), -ENOENT);
	json_object_put(o);
}

/* ---------------------------------------------------------------- the alerter, loop not running */

static struct alerter *open_alerter(struct loop *l, const char *state, const char *hook_env, unsigned pct)
{
	struct alert_params p = { .node = "lb1", .state_path = state, .webhook_env = hook_env,
				  .flow_table_pct = pct };
	char err[256];
	struct alerter *a = alerter_open(l, &p, err, sizeof(err));

	CHECK(a != NULL, "alerter_open: %s", err);
	return a;
}

static uint64_t queued(struct alerter *a)
{
	struct alert_counters c;

	alerter_counters(a, &c);
	return c.queued;
}

/* A queued alert read back from a hand-edited or damaged state file: a field that is not a string
 * (null, a number) becomes empty (it was passed to "%s" as NULL), and control characters and bytes
 * that are not UTF-8 in its texts become safe (no log injection, valid JSON for Slack). Seen through
 * the state the alerter writes back. */
static void test_state_queue_texts(void)
{
	static const char file[] =
		"{\"version\":1,\"objects\":{},\"queue\":[{\"key\":\"srv:pgsql/pgb2\",\"class\":\"DOWN\","
		"\"queued_ms\":%llu,\"title\":\"pgb2\\nFAKE: lb2 is DOWN\",\"text\":\"pgb2 is DOWN\\u001b[31m \xff\","
		"\"color\":\"danger\",\"ts\":1,\"fields\":[[null,\"v\"],[\"t\",7],[\"ok\",\"fine\"]]}]}";
	struct loop *l = loop_new();
	struct json_object *st = NULL, *q = NULL, *it, *f;
	char state[300], text[1024], err[256];
	struct alerter *a;
	const char *title, *body;

	snprintf(state, sizeof(state), "%s/qtext.json", tmpdir);
	snprintf(text, sizeof(text), file, (unsigned long long)wall_ms());
	write_file(state, text, 0600);
	setenv("PGS_TEST_HOOK", "http://127.0.0.1:9/never", 1);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 80);
	if (!a)
		goto out;
	CHECK_EQ(queued(a), 1);
	alert_class(a, "pgsql", "pgb3", CLASS_DOWN, "L4CON", "Connection refused"); /* a change: written at stop */
	alerter_free(a);
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	if (!st || !json_object_object_get_ex(st, "queue", &q) || json_object_array_length(q) != 2) {
		CHECK(0, "queue of 2 not written back: %s", st ? json_object_to_json_string(st) : err);
		goto out;
	}
	it = json_object_array_get_idx(q, 0);
	title = json_object_get_string(json_object_object_get(it, "title"));
	body = json_object_get_string(json_object_object_get(it, "text"));
	CHECK(title && !strchr(title, '\n') && strstr(title, "FAKE"), "title \"%s\"", title);
	CHECK(body && !strchr(body, '\x1b') && !strchr(body, '\xff') && strstr(body, "pgb2 is DOWN"), "text \"%s\"", body);
	f = json_object_object_get(it, "fields");
	CHECK_EQ(json_object_array_length(f), 3);
	CHECK_STR(json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(f, 0), 0)), "");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(f, 0), 1)), "v");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(f, 1), 1)), "");
	CHECK_STR(json_object_get_string(json_object_array_get_idx(json_object_array_get_idx(f, 2), 1)), "fine");
out:
	json_object_put(st);
	loop_free(l);
}

/* Dedup: only a class that differs from the last announced or queued one is queued, across restarts;
 * the undelivered queue survives a restart. Nothing is delivered: the loop never runs. */
static void test_dedup_restart(void)
{
	struct loop *l = loop_new();
	struct alerter *a;
	char state[300];
	struct json_object *st = NULL, *q;
	char err[256];

	snprintf(state, sizeof(state), "%s/alerts.json", tmpdir);
	unlink(state);
	setenv("PGS_TEST_HOOK", "http://127.0.0.1:9/never", 1);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 80);
	if (!a)
		goto out;
	/* First run: servers start UP, nothing is news. */
	alert_class(a, "pgsql", "pgb1", CLASS_UP, "L4OK", NULL);
	CHECK_EQ(queued(a), 0);
	alert_class(a, "pgsql", "pgb2", CLASS_DOWN, "L4CON", "Connection refused");
	CHECK_EQ(queued(a), 1);
	alert_class(a, "pgsql", "pgb2", CLASS_DOWN, "L4CON", "Connection refused");
	CHECK_EQ(queued(a), 1);
	/* VRRP: one alert per role change; BACKUP only records. */
	alert_vrrp(a, VRRP_ALERT_TAKEOVER, "lb1", "lb2", NULL);
	alert_vrrp(a, VRRP_ALERT_TAKEOVER, "lb1", "lb2", NULL);
	CHECK_EQ(queued(a), 2);
	alert_vrrp(a, VRRP_ALERT_BACKUP, "lb1", NULL, NULL);
	CHECK_EQ(queued(a), 2);
	alert_vrrp(a, VRRP_ALERT_PREEMPT, "lb1", "lb2", NULL);
	CHECK_EQ(queued(a), 3);
	/* Flow table: above 80 alerts once, back only at 70 or below. */
	alert_flow_table(a, 80);
	CHECK_EQ(queued(a), 3);
	alert_flow_table(a, 83);
	alert_flow_table(a, 90);
	CHECK_EQ(queued(a), 4);
	alert_flow_table(a, 75);
	CHECK_EQ(queued(a), 4);
	alerter_free(a);

	/* The state file holds the queue and the classes. */
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK(json_object_object_get_ex(st, "queue", &q) && json_object_array_length(q) == 4, "queue of 4");
		CHECK(!strstr(json_object_to_json_string(st), "127.0.0.1:9"), "the webhook URL is in the state file");
		json_object_put(st);
	}

	/* Restart: servers begin UP, the first check finds pgb2 DOWN again: nothing repeated. */
	a = open_alerter(l, state, "PGS_TEST_HOOK", 80);
	if (!a)
		goto out;
	CHECK_EQ(queued(a), 4);
	alert_class(a, "pgsql", "pgb2", CLASS_DOWN, "L4CON", "Connection refused");
	alert_class(a, "pgsql", "pgb1", CLASS_UP, NULL, NULL);
	alert_vrrp(a, VRRP_ALERT_PREEMPT, "lb1", "lb2", NULL);
	alert_flow_table(a, 85);
	CHECK_EQ(queued(a), 4);
	alert_flow_table(a, 70);
	CHECK_EQ(queued(a), 5);
	alert_class(a, "pgsql", "pgb2", CLASS_UP, "L4OK", NULL);
	CHECK_EQ(queued(a), 6);
	alerter_free(a);
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	if (st) {
		const char *s = json_object_to_json_string(st);

		CHECK(strstr(s, "Recovery: pgb2 is back UP") && strstr(s, "down for"), "recovery with downtime: %s", s);
		CHECK(strstr(s, "flow table back to 70% on lb1") != NULL, "flow table back");
		json_object_put(st);
	}

	/* A corrupt state file: a warning, a fresh start, the bad file kept aside. */
	write_file(state, "{\"objects\": tru", 0600);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 80);
	if (a) {
		char aside[320];

		CHECK_EQ(queued(a), 0);
		snprintf(aside, sizeof(aside), "%s.corrupt", state);
		CHECK(access(aside, F_OK) == 0, "corrupt state not kept aside");
		alerter_free(a);
	}
out:
	loop_free(l);
}

/* pgsteerd's way in: alerter_new from a parsed config, alert_server from the model. */
/* SYN floods: the wording; one alert when a service enters flood mode and one when it is over,
 * whatever the datapath's flood window does between (a pause under SYNFLOOD_QUIET_MS is the same
 * flood), across a restart too (neither repeated nor declared over before the quiet time). */
static void test_flood_alerts(void)
{
	struct slack_flood f = { .service = "pgsql", .mode = "auto", .on = 1, .sent = 70001, .invalid = 7 };
	struct synflood_track t;
	struct slack_event ev;
	struct loop *l = loop_new();
	struct alerter *a;
	char state[300];
	uint64_t now = 1000000;
	int i, enter = 0, leave = 0, step;

	slack_flood(&ev, "lb1", &f, 0);
	CHECK_STR(ev.title, "SYN flood at pgsql on lb1");
	CHECK_EQ(ev.colour, SLACK_WARNING);
	CHECK_STR(ev.text, "SYN flood at pgsql on lb1 (service pgsql, node lb1, syn-cookies auto, cookies sent 70001, "
			   "invalid ACKs 7)");
	f.on = 0, f.flood_s = 75;
	slack_flood(&ev, "lb1", &f, 0);
	CHECK_STR(ev.title, "Recovery: SYN flood at pgsql over on lb1");
	CHECK_EQ(ev.colour, SLACK_GOOD);
	CHECK(strstr(ev.text, "lasted 1m15s") != NULL, "no duration: %s", ev.text);
	f.mode = "off";
	slack_flood(&ev, "lb1", &f, 0);
	CHECK(strstr(ev.text, "syn-cookies off: SYNs reach the servers") != NULL, "mode off: %s", ev.text);

	/* The track: a flood of 20 s with a 3 s pause (the datapath's window closes), ticks of 1 s. */
	synflood_track_init(&t, now);
	CHECK_EQ(synflood_step(&t, 0, now + 1000), 0);
	CHECK_EQ(t.known, 0); /* not yet quiet long enough to say there is no flood */
	for (i = 0; i < 40; i++) {
		int sign = i >= 10 && i < 30 && (i < 18 || i > 20);

		step = synflood_step(&t, sign, now + 2000 + i * 1000ull);
		enter += step > 0;
		leave += step < 0;
		if (i == 10)
			CHECK(step == 1 && t.flooded, "flood not entered at its first sign");
		if (i == 33)
			CHECK(t.flooded, "flood over before the quiet time");
	}
	CHECK_EQ(enter, 1);
	CHECK_EQ(leave, 1);
	CHECK(t.known && !t.flooded, "flood not over");

	/* The alerter: deduplicated like the flow table, restart included. */
	snprintf(state, sizeof(state), "%s/alerts-flood.json", tmpdir);
	unlink(state);
	setenv("PGS_TEST_HOOK", "http://127.0.0.1:9/never", 1);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 0);
	if (!a)
		goto out;
	f.mode = "auto", f.on = 0;
	alert_flood(a, &f); /* no flood ever: nothing */
	CHECK_EQ(queued(a), 0);
	f.on = 1;
	alert_flood(a, &f);
	alert_flood(a, &f);
	CHECK_EQ(queued(a), 1);
	f.service = "other";
	alert_flood(a, &f);
	CHECK_EQ(queued(a), 2);
	alerter_free(a);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 0);
	if (!a)
		goto out;
	f.service = "pgsql";
	alert_flood(a, &f); /* still flooded after the restart: not repeated */
	CHECK_EQ(queued(a), 2);
	f.on = 0;
	alert_flood(a, &f);
	alert_flood(a, &f);
	CHECK_EQ(queued(a), 3);
	alerter_free(a);
out:
	loop_free(l);
}

static void test_alerter_new_config(void)
{
	static struct config cfg;
	static struct model m;
	char text[1024], err[256], hook[300], state[300];
	struct loop *l = loop_new();
	struct json_object *st = NULL;
	struct server_rt *s;
	struct alerter *a;

	snprintf(hook, sizeof(hook), "%s/cfg-hook", tmpdir);
	snprintf(state, sizeof(state), "%s/alerts.json", tmpdir);
	snprintf(text, sizeof(text),
		 "global\n    interface lo\n    state-dir %s\n    node-name lb1\n"
		 "    alert slack webhook-file %s\n    alert flow-table 80%%\n\n"
		 "service pgsql\n    bind 127.0.0.100:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
		 "    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433\n",
		 tmpdir, hook);
	CHECK(config_parse(text, "test", &cfg, err, sizeof(err)) == 0, "config: %s", err);

	/* The webhook file must exist. */
	unlink(hook);
	a = alerter_new(l, &cfg, err, sizeof(err));
	CHECK(a == NULL && strstr(err, hook), "missing webhook file: %s", err);
	alerter_free(a);

	/* A state left by an older config: pgb9 is forgotten, pgb2's DOWN is kept. */
	write_file(hook, "http://127.0.0.1:9/services/T1/B2/C3\n", 0600);
	write_file(state, "{\"objects\": {\"srv:pgsql/pgb9\": {\"class\": \"DOWN\"},"
			  " \"srv:pgsql/pgb1\": {\"class\": \"DOWN\", \"since_ms\": 1}}, \"queue\": []}", 0600);
	a = alerter_new(l, &cfg, err, sizeof(err));
	CHECK(a != NULL, "alerter_new: %s", err);
	if (!a)
		goto out;
	model_init(&m, &cfg, now_ms(), NULL);
	s = model_server(&m, "pgsql", "pgb2");
	CHECK(s != NULL, "no pgb2 in the model");
	if (s) {
		s->last.status = CHK_L4CON;
		snprintf(s->last.desc, sizeof(s->last.desc), "Connection refused");
		alert_server(a, s, CLASS_UP, CLASS_DOWN);
	}
	s = model_server(&m, "pgsql", "pgb1");
	if (s) /* pgb1 was DOWN before the restart and came back meanwhile: its first check tells it */
		alert_server(a, s, CLASS_UP, CLASS_UP);
	alert_flow_table(a, 91);
	alerter_fill(a, &m);
	CHECK_EQ(m.alerts.queued, 3);
	alerter_free(a);
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	if (st) {
		const char *j = json_object_to_json_string(st);

		CHECK(strstr(j, "pgb2 is DOWN (node lb1, service pgsql, check L4CON: Connection refused)") != NULL,
		      "state: %s", j);
		CHECK(strstr(j, "Recovery: pgb1 is back UP") != NULL, "pgb1 recovery missing: %s", j);
		CHECK(strstr(j, "flow table 91% full on lb1") != NULL, "flow table alert missing");
		CHECK(strstr(j, "pgb9") == NULL, "pgb9 not forgotten");
		json_object_put(st);
	}
out:
	loop_free(l);
}

/* pgsteerd's own /stats;csv (render.c) read back by the monitor's parser: same classes. */
static void test_monitor_reads_pgsteerd_csv(void)
{
	static struct config cfg;
	static struct model m;
	static const char text[] =
		"global\n    interface lo\n\n"
		"service pgsql\n    bind 127.0.0.100:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
		"    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433\n    server pgb3 127.0.0.1:6434\n";
	struct monitor_row rows[8];
	char err[256], *buf = NULL;
	size_t len = 0;
	struct csv c;
	FILE *f;
	int n;

	CHECK(config_parse(text, "test", &cfg, err, sizeof(err)) == 0, "config: %s", err);
	model_init(&m, &cfg, now_ms(), NULL);
	health_force(&model_server(&m, "pgsql", "pgb2")->health, 0);
	model_server(&m, "pgsql", "pgb3")->admin = ADMIN_DRAIN;
	f = open_memstream(&buf, &len);
	CHECK(f && render_csv(&m, now_ms(), f) == 0, "render_csv failed");
	if (f)
		fclose(f);
	CHECK_EQ(csv_parse(&c, buf, len), 0);
	n = monitor_servers(&c, rows, 8);
	CHECK_EQ(n, 3);
	if (n == 3) {
		CHECK(rows[0].cls == CLASS_UP && rows[1].cls == CLASS_DOWN && rows[2].cls == CLASS_DRAIN,
		      "classes %d %d %d from \"%s\" \"%s\" \"%s\"", rows[0].cls, rows[1].cls, rows[2].cls,
		      rows[0].status, rows[1].status, rows[2].status);
		CHECK_STR(rows[1].service, "pgsql");
		CHECK_STR(rows[1].server, "pgb2");
	}
	csv_free(&c);
	free(buf);
}

/* ---------------------------------------------------------------- live: the webhook sink */

static const char sink_py[] =
	"# Slack stand-in for test_alert: answers webhook POSTs from a script of replies, logs what it got.\n"
	"import json, sys, threading, time\n"
	"from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler\n"
	"\n"
	"lock = threading.Lock()\n"
	"script = []\n"
	"log = []\n"
	"\n"
	"class H(BaseHTTPRequestHandler):\n"
	"    protocol_version = \"HTTP/1.1\"\n"
	"    def log_message(self, *a):\n"
	"        pass\n"
	"    def reply(self, code, body, headers=()):\n"
	"        b = body.encode()\n"
	"        self.send_response(code)\n"
	"        for k, v in headers:\n"
	"            self.send_header(k, v)\n"
	"        self.send_header(\"Content-Type\", \"text/plain\")\n"
	"        self.send_header(\"Content-Length\", str(len(b)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(b)\n"
	"    def do_GET(self):\n"
	"        with lock:\n"
	"            body = json.dumps(log)\n"
	"        self.reply(200, body)\n"
	"    def do_POST(self):\n"
	"        n = int(self.headers.get(\"Content-Length\", \"0\"))\n"
	"        body = self.rfile.read(n).decode()\n"
	"        if self.path == \"/ctl\":\n"
	"            with lock:\n"
	"                script[:] = json.loads(body)\n"
	"                log.clear()\n"
	"            self.reply(200, \"ok\")\n"
	"            return\n"
	"        with lock:\n"
	"            step = script.pop(0) if script else \"200\"\n"
	"            log.append({\"t\": time.time(), \"reply\": step, \"type\": self.headers.get(\"Content-Type\"), \"body\": body})\n"
	"        if step.startswith(\"hang:\"):\n"
	"            time.sleep(min(float(step[5:]), 20))\n"
	"            step = \"200\"\n"
	"        if step == \"200\":\n"
	"            self.reply(200, \"ok\")\n"
	"        elif step.startswith(\"429:\"):\n"
	"            self.reply(429, \"rate_limited\", [(\"Retry-After\", step[4:])])\n"
	"        elif step == \"400\":\n"
	"            self.reply(400, \"invalid_payload\")\n"
	"        elif step == \"403\":\n"
	"            self.reply(403, \"invalid_token\")\n"
	"        else:\n"
	"            self.reply(int(step), \"rollup_error\")\n"
	"\n"
	"srv = ThreadingHTTPServer((\"127.0.0.1\", int(sys.argv[1])), H)\n"
	"srv.daemon_threads = True\n"
	"srv.timeout = 1\n"
	"deadline = time.time() + float(sys.argv[2])  # never outlive the test\n"
	"with open(sys.argv[3] + \".tmp\", \"w\") as f:\n"
	"    f.write(str(srv.server_address[1]))\n"
	"import os\n"
	"os.rename(sys.argv[3] + \".tmp\", sys.argv[3])\n"
	"while time.time() < deadline:\n"
	"    srv.handle_request()\n"
	"\n"
	;

static char sink_script[300], sink_portfile[300];
static pid_t sink_pid = -1;
static int sink_port;

/* Start a helper with its output in tmpdir/NAME.log. */
static pid_t spawn(char *const argv[], const char *name)
{
	char out[300];
	pid_t pid;

	snprintf(out, sizeof(out), "%s/%s.log", tmpdir, name);
	pid = fork();
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY), fd = open(out, O_WRONLY | O_CREAT | O_APPEND, 0600);

		if (in >= 0)
			dup2(in, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/* Start the sink on port (0 = any); it writes its port to sink_portfile once it listens. */
static int sink_spawn(int port)
{
	char portstr[16];
	char *argv[] = { "python3", sink_script, portstr, "300", sink_portfile, NULL };

	snprintf(portstr, sizeof(portstr), "%d", port);
	unlink(sink_portfile);
	sink_pid = spawn(argv, "sink");
	return sink_pid < 0 ? -errno : 0;
}

/* Start the sink and wait up to 5 s for it to listen. */
static int sink_start(int port)
{
	int i;

	if (sink_spawn(port))
		return -errno;
	for (i = 0; i < 500; i++) {
		FILE *f = fopen(sink_portfile, "r");

		if (f) {
			int ok = fscanf(f, "%d", &sink_port) == 1;

			fclose(f);
			if (ok)
				return 0;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

static void sink_stop(void)
{
	if (sink_pid > 0) {
		kill(sink_pid, SIGTERM);
		waitpid(sink_pid, NULL, 0);
	}
	sink_pid = -1;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct { char *buf; size_t len; } *b = userdata;
	size_t n = size * nmemb;
	char *nb = realloc(b->buf, b->len + n + 1);

	if (!nb)
		return 0;
	memcpy(nb + b->len, ptr, n);
	b->len += n;
	nb[b->len] = '\0';
	b->buf = nb;
	return n;
}

/* The test's own blocking HTTP calls to the sink (outside every measured loop run). */
static char *http(const char *path, const char *post)
{
	struct { char *buf; size_t len; } b = { NULL, 0 };
	char url[128];
	CURL *e = curl_easy_init();
	long code = 0;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", sink_port, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
	if (post)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, post);
	if (curl_easy_perform(e) != CURLE_OK || (curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code), code != 200)) {
		free(b.buf);
		b.buf = NULL;
	}
	curl_easy_cleanup(e);
	return b.buf;
}

static int sink_script_set(const char *json)
{
	char *r = http("/ctl", json);
	int ok = r != NULL;

	free(r);
	return ok ? 0 : -EIO;
}

/* What the sink got: a JSON array of {t, reply, type, body}. */
static struct json_object *sink_log(void)
{
	char *r = http("/log", NULL);
	struct json_object *o = r ? json_tokener_parse(r) : NULL;

	free(r);
	return o;
}

static double log_t(struct json_object *log, int i)
{
	return json_object_get_double(json_object_object_get(json_object_array_get_idx(log, i), "t"));
}

static const char *log_body(struct json_object *log, int i)
{
	return json_object_get_string(json_object_object_get(json_object_array_get_idx(log, i), "body"));
}

/* Run the loop with a 10 ms tick until done() or the deadline; the longest gap between ticks says
 * whether anything blocked the loop. */
struct drive {
	struct loop *l;
	struct timer tick;
	uint64_t last_ns, max_gap_ns, deadline_ms, ticks, ran_ms;
	int (*done)(void *arg);
	void *arg;
	void (*at)(void *arg);     /* once, at at_ms */
	uint64_t at_ms;
	int timed_out;
};

static void drive_tick(void *arg)
{
	struct drive *d = arg;
	uint64_t now = now_ns();

	if (d->last_ns && now - d->last_ns > d->max_gap_ns)
		d->max_gap_ns = now - d->last_ns;
	d->last_ns = now;
	d->ticks++;
	if (d->at && now / 1000000 >= d->at_ms) {
		void (*at)(void *) = d->at;

		d->at = NULL;
		at(d->arg);
	}
	if (d->done && d->done(d->arg)) {
		loop_stop(d->l);
	} else if (now / 1000000 >= d->deadline_ms) {
		d->timed_out = 1;
		loop_stop(d->l);
	}
}

/* Deliveries are waited for: the deadline only ends a hung test. The loop counts as blocked by the
 * alerter when a 10 ms tick came this late: more than scheduling noise on a busy machine, less than
 * anything the alerter could block on (a webhook timeout of 1.5 s and more, a backoff of 0.8 s and
 * more). */
#define DELIVERY_DEADLINE_MS 30000
#define LOOP_BLOCKED_NS 700000000ull

static void drive(struct drive *d, struct loop *l, uint64_t max_ms)
{
	d->l = l;
	d->deadline_ms = now_ms() + max_ms;
	d->last_ns = 0;
	d->max_gap_ns = 0;
	d->ticks = 0;
	d->timed_out = 0;
	timer_init(&d->tick, l, drive_tick, d);
	timer_arm_periodic(&d->tick, 10);
	loop_run(l);
	timer_close(&d->tick);
	d->ran_ms = now_ms() + max_ms - d->deadline_ms;
}

struct live {
	struct loop *l;
	struct alerter *a;
	uint64_t want_sent, want_dropped;
};

static int live_done(void *arg)
{
	struct live *v = arg;
	struct alert_counters c;

	alerter_counters(v->a, &c);
	return c.sent >= v->want_sent && c.dropped >= v->want_dropped && alerter_idle(v->a);
}

/* A fresh alerter posting to 127.0.0.1:port through a webhook file, with test timings. */
static int live_open_at(struct live *v, const char *name, uint32_t timeout_ms, int port)
{
	struct alert_tuning t = {
		.group_wait_ms = 200, .pace_ms = 1000, .backoff_min_ms = 1000, .backoff_max_ms = 2000,
		.retry_after_max_ms = 60000, .max_age_ms = 3600000, .timeout_ms = timeout_ms,
		.connect_timeout_ms = 1000, .batch = 20,
	};
	char hook[300], url[128], state[300], err[256];
	struct alert_params p = { .node = "lb1", .state_path = state, .webhook_file = hook };

	snprintf(hook, sizeof(hook), "%s/webhook", tmpdir);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/services/T000/B000/SECRET\n", port);
	write_file(hook, url, 0600);
	snprintf(state, sizeof(state), "%s/%s.json", tmpdir, name);
	memset(v, 0, sizeof(*v));
	v->l = loop_new();
	v->a = alerter_open(v->l, &p, err, sizeof(err));
	CHECK(v->a != NULL, "alerter_open: %s", err);
	if (!v->a)
		return -1;
	alerter_tune(v->a, &t);
	return 0;
}

/* The same, posting to the sink. */
static int live_open(struct live *v, const char *name, uint32_t timeout_ms)
{
	return live_open_at(v, name, timeout_ms, sink_port);
}

static void live_close(struct live *v)
{
	alerter_free(v->a);
	loop_free(v->l);
}

/* Drive V's loop until it has sent WANT_SENT and dropped WANT_DROPPED messages and is idle (the
 * deadline only ends a hung test). */
static void live_settle(struct live *v, struct drive *d, uint64_t want_sent, uint64_t want_dropped)
{
	v->want_sent = want_sent;
	v->want_dropped = want_dropped;
	d->done = live_done;
	d->arg = v;
	drive(d, v->l, DELIVERY_DEADLINE_MS);
	CHECK(!d->timed_out, "not settled in %d s (waited for %llu sent, %llu dropped)", DELIVERY_DEADLINE_MS / 1000,
	      (unsigned long long)want_sent, (unsigned long long)want_dropped);
}

/* The sink's request log when it holds exactly N requests; NULL (a failed check) otherwise. */
static struct json_object *sink_log_n(size_t n)
{
	struct json_object *log = sink_log();
	size_t got = log ? json_object_array_length(log) : 0;

	CHECK(got == n, "sink got %zu requests, expected %zu", got, n);
	if (got == n)
		return log;
	json_object_put(log);
	return NULL;
}

/* The alerter never held the loop: ticks kept coming every 10 ms, none later than LOOP_BLOCKED_NS. */
static void check_loop_free(const struct drive *d)
{
	CHECK(d->ticks > d->ran_ms / 100, "only %llu ticks in %llu ms", (unsigned long long)d->ticks,
	      (unsigned long long)d->ran_ms);
	CHECK(d->max_gap_ns < LOOP_BLOCKED_NS, "loop blocked for %.1f ms", d->max_gap_ns / 1e6);
}

static void down_event(struct alerter *a, const char *server)
{
	alert_class(a, "pgsql", server, CLASS_DOWN, "L4CON", "Connection refused");
}

static int file_exists(void *arg)
{
	return access(arg, F_OK) == 0;
}

/* Persistence is off the hot path: a burst of changes writes nothing before the loop turns, then
 * one file; a state directory that cannot be written keeps the alerts in memory, nothing crashes,
 * and the file is written once it can be (the retry, 5 s later). */
static void test_state_batched(void)
{
	struct loop *l = loop_new();
	struct alerter *a;
	struct drive d = {};
	char dir[300], state[320], name[16], err[256];
	struct json_object *st = NULL, *q;
	uint64_t t0;
	int i;

	snprintf(dir, sizeof(dir), "%s/later", tmpdir);
	snprintf(state, sizeof(state), "%s/alerts.json", dir);
	rmdir(dir);
	setenv("PGS_TEST_HOOK", "http://127.0.0.1:9/never", 1);
	a = open_alerter(l, state, "PGS_TEST_HOOK", 80);
	if (!a)
		goto out;
	t0 = now_ms();
	for (i = 0; i < 4096; i++) {
		snprintf(name, sizeof(name), "pgb%d", i);
		alert_class(a, "pgsql", name, CLASS_DOWN, "L4CON", "Connection refused");
	}
	printf("     4096 changes recorded in %llu ms\n", (unsigned long long)(now_ms() - t0));
	CHECK_EQ(queued(a), ALERT_QUEUE_MAX);
	/* the directory is missing: the write fails, the loop goes on, the queue stays */
	drive(&d, l, 300);
	CHECK(access(state, F_OK) != 0, "%s written into a missing directory", state);
	CHECK_EQ(queued(a), ALERT_QUEUE_MAX);
	CHECK(mkdir(dir, 0700) == 0, "mkdir %s: %s", dir, strerror(errno));
	d.done = file_exists;
	d.arg = state;
	d.timed_out = 0;
	drive(&d, l, DELIVERY_DEADLINE_MS);
	CHECK(!d.timed_out, "%s not written within %d s of its directory appearing", state, DELIVERY_DEADLINE_MS / 1000);
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	if (st) {
		CHECK(json_object_object_get_ex(st, "queue", &q) && json_object_array_length(q) == ALERT_QUEUE_MAX,
		      "queue of %d", ALERT_QUEUE_MAX);
		json_object_put(st);
	}
	/* a change then a stop: written by alerter_free, without a loop turn */
	unlink(state);
	alert_class(a, "pgsql", "pgb0", CLASS_UP, "L4OK", NULL);
	CHECK(access(state, F_OK) != 0, "written before the loop turned");
	alerter_free(a);
	CHECK(access(state, F_OK) == 0, "not written when the alerter stopped");
out:
	loop_free(l);
}

/* 500 then 200: delivered by the retry, about a second later. */
static void test_live_500_then_200(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (sink_script_set("[\"500\", \"200\"]") || live_open(&v, "s500", 5000))
		return;
	down_event(v.a, "pgb2");
	live_settle(&v, &d, 1, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 1);
	CHECK_EQ(c.failed, 1);
	CHECK_EQ(c.dropped, 0);
	log = sink_log_n(2);
	if (log) {
		double gap = log_t(log, 1) - log_t(log, 0);

		CHECK(gap >= 0.75 && gap < 10, "retry after %.2fs (backoff 1 s, jitter 20%%)", gap);
		CHECK(strstr(log_body(log, 1), "pgb2 is DOWN") != NULL, "body: %s", log_body(log, 1));
		CHECK_STR(json_object_get_string(json_object_object_get(json_object_array_get_idx(log, 1), "type")),
			  "application/json");
		printf("     retry after %.2fs, max tick gap %.1f ms\n", gap, d.max_gap_ns / 1e6);
	}
	json_object_put(log);
	check_loop_free(&d);
	live_close(&v);
}

/* 429 with Retry-After: 2: the next try waits at least 2 s. */
static void test_live_429(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (sink_script_set("[\"429:2\", \"200\"]") || live_open(&v, "s429", 5000))
		return;
	down_event(v.a, "pgb2");
	live_settle(&v, &d, 1, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 1);
	CHECK_EQ(c.failed, 1);
	log = sink_log_n(2);
	if (log) {
		double gap = log_t(log, 1) - log_t(log, 0);

		CHECK(gap >= 2.0 && gap < 10, "retried after %.2fs, Retry-After said 2", gap);
		printf("     retried after %.2fs\n", gap);
	}
	json_object_put(log);
	check_loop_free(&d);
	live_close(&v);
}

/* 400: dropped and counted at once, never retried. */
static void test_live_400(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (sink_script_set("[\"400\"]") || live_open(&v, "s400", 5000))
		return;
	down_event(v.a, "pgb2");
	/* Run 3 s: a retry (1 s backoff) would show. */
	drive(&d, v.l, 3000);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 0);
	CHECK_EQ(c.dropped, 1);
	CHECK_EQ(c.failed, 1);
	CHECK_EQ(c.queued, 0);
	log = sink_log_n(1);
	json_object_put(log);
	live_close(&v);
}

/* A 4xx for a message of several alerts drops none of them at once: they go one per message, and
 * only the one refused again is dropped. */
static void test_live_400_batch(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (sink_script_set("[\"400\", \"200\", \"400\", \"200\"]") || live_open(&v, "s400b", 5000))
		return;
	down_event(v.a, "pgb1");
	down_event(v.a, "pgb2");
	down_event(v.a, "pgb3");
	live_settle(&v, &d, 2, 1);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 2);
	CHECK_EQ(c.dropped, 1);
	CHECK_EQ(c.queued, 0);
	log = sink_log_n(4);
	if (log) {
		CHECK(strstr(log_body(log, 0), "pgb1") && strstr(log_body(log, 0), "pgb3"), "first: the batch");
		CHECK(strstr(log_body(log, 1), "pgb1") && !strstr(log_body(log, 1), "pgb2"), "then pgb1 alone");
		CHECK(strstr(log_body(log, 2), "pgb2") && !strstr(log_body(log, 2), "pgb3"), "then pgb2 alone");
		CHECK(strstr(log_body(log, 3), "pgb3") && !strstr(log_body(log, 3), "pgb2"), "then pgb3 alone");
	}
	json_object_put(log);
	live_close(&v);
}

/* A burst goes out as one message; what comes after waits for the pacing. */
static void test_live_coalesce(void)
{
	static const char *names[] = { "pgb1", "pgb2", "pgb3", "pgb4", "pgb5" };
	struct live v;
	struct drive d = {};
	struct json_object *log;
	size_t i;

	if (sink_script_set("[]") || live_open(&v, "sburst", 5000))
		return;
	for (i = 0; i < 5; i++)
		down_event(v.a, names[i]);
	live_settle(&v, &d, 5, 0);
	alert_class(v.a, "pgsql", "pgb1", CLASS_UP, "L4OK", NULL);
	live_settle(&v, &d, 6, 0);
	log = sink_log_n(2);
	if (log) {
		struct json_object *b = json_tokener_parse(log_body(log, 0)), *att = NULL;
		const char *text = b ? json_object_get_string(json_object_object_get(b, "text")) : "";
		int lines = 1;

		for (i = 0; text[i]; i++)
			lines += text[i] == '\n';
		CHECK_EQ(lines, 5);
		CHECK(b && json_object_object_get_ex(b, "attachments", &att) && json_object_array_length(att) == 5,
		      "5 attachments");
		CHECK(strstr(text, "pgb1 is DOWN") && strstr(text, "pgb5 is DOWN"), "text: %s", text);
		CHECK(log_t(log, 1) - log_t(log, 0) >= 0.95, "paced %.2fs apart", log_t(log, 1) - log_t(log, 0));
		CHECK(strstr(log_body(log, 1), "Recovery: pgb1 is back UP") != NULL, "second: %s", log_body(log, 1));
		json_object_put(b);
	}
	json_object_put(log);
	live_close(&v);
}

/* Bring the sink back on its port, without waiting for it (the loop must not stall). */
static void restart_sink(void *arg)
{
	(void)arg;
	sink_spawn(sink_port);
}

/* The sink is down (connection refused) for 3 s: alerts stay queued, the loop keeps ticking every
 * 10 ms, and they go out, coalesced, once it is back. */
static void test_live_sink_down(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (live_open(&v, "sdown", 5000))
		return;
	sink_stop();
	down_event(v.a, "pgb2");
	down_event(v.a, "pgb3");
	d.at = restart_sink;
	d.at_ms = now_ms() + 3000;
	live_settle(&v, &d, 2, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 2);
	CHECK(c.failed >= 2, "failed %llu, expected >= 2", (unsigned long long)c.failed);
	check_loop_free(&d);
	log = sink_log_n(1);
	if (log)
		CHECK(strstr(log_body(log, 0), "pgb2 is DOWN") && strstr(log_body(log, 0), "pgb3 is DOWN"),
		      "body %s", log_body(log, 0));
	printf("     %llu failed attempts while down, %llu ticks, max tick gap %.1f ms\n",
	       (unsigned long long)c.failed, (unsigned long long)d.ticks, d.max_gap_ns / 1e6);
	json_object_put(log);
	live_close(&v);
}

/* The sink hangs: the request times out (1.5 s here), the loop never stalls, the retry delivers. */
static void test_live_hang(void)
{
	struct live v;
	struct drive d = {};
	struct alert_counters c;
	struct json_object *log;

	if (sink_script_set("[\"hang:6\", \"200\"]") || live_open(&v, "shang", 1500))
		return;
	down_event(v.a, "pgb2");
	live_settle(&v, &d, 1, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 1);
	CHECK_EQ(c.failed, 1);
	check_loop_free(&d);
	log = sink_log_n(2);
	printf("     %llu ticks, max tick gap %.1f ms while the webhook hung\n", (unsigned long long)d.ticks,
	       d.max_gap_ns / 1e6);
	json_object_put(log);
	live_close(&v);
}

/* ---------------------------------------------------------------- live: a webhook that hangs forever */

/* A TCP listener on 127.0.0.1 in the test's loop: it accepts every connection and then either
 * holds it without ever reading or answering (a webhook that hangs forever) or closes it at once
 * (the port a TCP check connects to). */
#define HOLD_MAX 64

struct listener {
	struct loop *l;
	int fd, port, hold;
	int held[HOLD_MAX];
	unsigned accepted;
};

static void listener_accept(void *arg, uint32_t events)
{
	struct listener *t = arg;
	int fd = accept4(t->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	(void)events;
	if (fd < 0)
		return;
	t->accepted++;
	if (t->hold && t->accepted <= HOLD_MAX)
		t->held[t->accepted - 1] = fd;
	else
		close(fd);
}

/* Listen on port (0: any); 0 or -errno. */
static int listener_open(struct listener *t, struct loop *l, int port, int hold)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons(port) };
	socklen_t len = sizeof(sa);
	int one = 1;

	memset(t, 0, sizeof(*t));
	t->l = l;
	t->hold = hold;
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (t->fd < 0)
		return -errno;
	setsockopt(t->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(t->fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(t->fd, 64) ||
	    getsockname(t->fd, (struct sockaddr *)&sa, &len) || loop_add(l, t->fd, EPOLLIN, listener_accept, t)) {
		int e = -errno;

		close(t->fd);
		t->fd = -1;
		return e;
	}
	t->port = ntohs(sa.sin_port);
	return 0;
}

static void listener_close(struct listener *t)
{
	unsigned i;

	if (t->fd < 0)
		return;
	for (i = 0; t->hold && i < t->accepted && i < HOLD_MAX; i++)
		close(t->held[i]);
	loop_del(t->l, t->fd);
	close(t->fd);
	t->fd = -1;
}

/* What the health checks did meanwhile. */
struct checks_seen {
	unsigned checked, failed, changed;
};

static void seen_checked(void *arg, struct server_rt *s)
{
	struct checks_seen *c = arg;

	c->checked++;
	if (!s->last.ok)
		c->failed++;
}

static void seen_changed(void *arg, struct server_rt *s, int dir)
{
	struct checks_seen *c = arg;

	(void)s;
	(void)dir;
	c->changed++;
}

struct hang {
	struct live *v;
	unsigned want_failed;
};

static int hang_done(void *arg)
{
	struct hang *h = arg;
	struct alert_counters c;

	alerter_counters(h->v->a, &c);
	return c.failed >= h->want_failed;
}

/* The webhook accepts the connection and never answers. Each attempt times out (1.5 s here) and is
 * counted as failed; the alerts stay queued, none dropped; the loop keeps its 10 ms timer and a
 * health check every 100 ms of a live server keeps passing in the same loop, the server never
 * leaving selection. Once the webhook answers again, the queued alerts go out, together, once. */
static void test_live_hang_forever(void)
{
	static struct config cfg;
	static struct model m;
	struct checker_hooks hooks = { .changed = seen_changed, .checked = seen_checked };
	struct checks_seen seen = {};
	struct listener hang = { .fd = -1 }, pg = { .fd = -1 };
	struct checker *chk = NULL;
	struct hang h = { .want_failed = 3 };
	struct drive d = {};
	struct alert_counters c;
	struct json_object *log;
	struct server_rt *s;
	char text[512], err[256];
	struct live v;
	int port = sink_port;

	/* the hanging webhook takes the sink's port; the sink comes back on it at the end */
	sink_stop();
	if (live_open_at(&v, "shangf", 1500, port))
		return;
	CHECK(listener_open(&hang, v.l, port, 1) == 0, "listen on 127.0.0.1:%d: %s", port, strerror(errno));
	CHECK(listener_open(&pg, v.l, 0, 0) == 0, "listen for the checks: %s", strerror(errno));
	if (hang.fd < 0 || pg.fd < 0)
		goto out;
	snprintf(text, sizeof(text),
		 "global\n    interface lo\n    node-name lb1\n"
		 "service pgsql\n    bind 127.0.0.2:5432\n    check tcp inter 100ms fall 1 rise 1 timeout 1s\n"
		 "    server pgb1 127.0.0.1:%d\n", pg.port);
	CHECK(config_parse(text, "test", &cfg, err, sizeof(err)) == 0, "config: %s", err);
	model_init(&m, &cfg, now_ms(), NULL);
	s = &m.services[0].servers[0];
	chk = checker_new(v.l, &m, 0, &hooks, &seen);
	CHECK(chk != NULL, "checker_new: %s", strerror(errno));
	if (!chk)
		goto out;

	down_event(v.a, "pgb2");
	down_event(v.a, "pgb3");
	h.v = &v;
	d.done = hang_done;
	d.arg = &h;
	drive(&d, v.l, DELIVERY_DEADLINE_MS);
	alerter_counters(v.a, &c);
	CHECK(!d.timed_out, "%llu failed attempts in %d s, expected %u", (unsigned long long)c.failed,
	      DELIVERY_DEADLINE_MS / 1000, h.want_failed);
	CHECK(hang.accepted >= h.want_failed, "the webhook accepted %u connections", hang.accepted);
	CHECK_EQ(c.sent, 0);
	CHECK_EQ(c.queued, 2);
	CHECK_EQ(c.dropped, 0);
	check_loop_free(&d);
	CHECK(seen.checked >= d.ran_ms / 100 / 4, "%u checks in %llu ms at inter 100ms", seen.checked,
	      (unsigned long long)d.ran_ms);
	CHECK_EQ(seen.failed, 0);
	CHECK_EQ(seen.changed, 0);
	CHECK(server_class(s) == CLASS_UP && s->health.up, "pgb1 left selection: class %s",
	      srv_class_name(server_class(s)));
	printf("     %llu timeouts in %llu ms, %u connections held, %u checks passed, max tick gap %.1f ms\n",
	       (unsigned long long)c.failed, (unsigned long long)d.ran_ms, hang.accepted, seen.checked,
	       d.max_gap_ns / 1e6);

	/* the webhook answers again: what was queued goes out, in one message */
	listener_close(&hang);
	CHECK(sink_start(port) == 0, "the sink did not come back on port %d", port);
	live_settle(&v, &d, 2, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 2);
	CHECK_EQ(c.dropped, 0);
	CHECK_EQ(seen.failed, 0);
	CHECK_EQ(seen.changed, 0);
	log = sink_log_n(1);
	if (log)
		CHECK(strstr(log_body(log, 0), "pgb2 is DOWN") && strstr(log_body(log, 0), "pgb3 is DOWN"),
		      "body %s", log_body(log, 0));
	json_object_put(log);
out:
	checker_free(chk);
	listener_close(&hang);
	listener_close(&pg);
	live_close(&v);
	if (sink_pid < 0)
		sink_start(port);
}

/* ---------------------------------------------------------------- live: the state directory is full */

/* Fill the file system of dir: one file, written until ENOSPC. 0 or -errno. */
static int fill_dir(const char *file)
{
	static const char block[4096];
	int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), i, e = 0;

	if (fd < 0)
		return -errno;
	for (i = 0; i < 65536; i++) /* bounded: the tmpfs is 64 KiB */
		if (write(fd, block, sizeof(block)) < 0) {
			e = errno;
			break;
		}
	close(fd);
	return e == ENOSPC ? 0 : -(e ? e : EFBIG);
}

/* Names in dir other than keep, space separated, into buf. */
static const char *dir_others(const char *dir, const char *keep, char *buf, size_t len)
{
	char cmd[400];
	FILE *p;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -vx '%s' | tr '\\n' ' '", dir, keep);
	buf[0] = '\0';
	p = popen(cmd, "r");
	if (p) {
		n = fread(buf, 1, len - 1, p);
		pclose(p);
	}
	buf[n] = '\0';
	return buf;
}

/* The state directory is full (a 64 KiB tmpfs, filled up, in a private mount namespace: as root
 * a read-only mode would not stop the writes). The alerts still go out, the failed write leaves
 * no temporary file behind, the state waits in memory; once there is room again it is written
 * (the retry, 5 s later), and a restart reads it: what was delivered is not sent again. */
static void test_live_state_dir_full(void)
{
	char dir[300], state[320], filler[320], others[256], err[256];
	struct json_object *st = NULL, *objs, *o, *v;
	struct alert_counters c;
	struct drive d = {};
	struct live v2;
	struct live v1;
	int mounted = 0;

	snprintf(dir, sizeof(dir), "%s/full", tmpdir);
	snprintf(state, sizeof(state), "%s/alerts.json", dir);
	snprintf(filler, sizeof(filler), "%s/filler", dir);
	if (mkdir(dir, 0700) || unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700")) {
		snprintf(err, sizeof(err), "no private tmpfs for the state directory (%s): needs root", strerror(errno));
		SKIP("test_live_state_dir_full", err);
		h_case_failed = 0;
		goto out;
	}
	mounted = 1;
	CHECK(fill_dir(filler) == 0, "could not fill %s", dir);
	if (sink_script_set("[]") || live_open(&v1, "full/alerts", 5000))
		goto out;
	down_event(v1.a, "pgb2");
	down_event(v1.a, "pgb3");
	live_settle(&v1, &d, 2, 0);
	drive(&d, v1.l, 300); /* the write after the delivery: it fails */
	alerter_counters(v1.a, &c);
	CHECK_EQ(c.sent, 2);
	CHECK_EQ(c.dropped, 0);
	CHECK(access(state, F_OK) != 0, "%s written on a full file system", state);
	CHECK(!dir_others(dir, "filler", others, sizeof(others))[0], "left in %s: %s", dir, others);
	check_loop_free(&d);

	/* room again: the state in memory is written by the retry */
	unlink(filler);
	d.done = file_exists;
	d.arg = state;
	drive(&d, v1.l, DELIVERY_DEADLINE_MS);
	CHECK(!d.timed_out, "%s not written within %d s of the room coming back", state, DELIVERY_DEADLINE_MS / 1000);
	CHECK_EQ(statefile_read(state, &st, err, sizeof(err)), 0);
	CHECK(st && json_object_object_get_ex(st, "objects", &objs) &&
	      json_object_object_get_ex(objs, "srv:pgsql/pgb3", &o) && json_object_object_get_ex(o, "announced", &v) &&
	      !strcmp(json_object_get_string(v), "DOWN"), "pgb3's delivered DOWN not in %s", state);
	json_object_put(st);
	live_close(&v1);

	/* the restart reads it: nothing is sent again */
	if (live_open(&v2, "full/alerts", 5000))
		goto out;
	down_event(v2.a, "pgb2");
	down_event(v2.a, "pgb3");
	alerter_counters(v2.a, &c);
	CHECK_EQ(c.queued, 0);
	live_close(&v2);
out:
	if (mounted && umount2(dir, MNT_DETACH))
		CHECK(0, "umount %s: %s", dir, strerror(errno));
	rmdir(dir);
}

/* A message still queued when the alerter stops is delivered after the restart, once. */
static void test_live_restart_delivers(void)
{
	struct live v;
	struct drive d = {};
	struct json_object *log;
	struct alert_counters c;

	if (sink_script_set("[\"500\"]") || live_open(&v, "srestart", 5000))
		return;
	down_event(v.a, "pgb2");
	drive(&d, v.l, 600); /* one failed attempt, then "pgsteerd stops" */
	alerter_counters(v.a, &c);
	CHECK_EQ(c.queued, 1);
	live_close(&v);
	if (live_open(&v, "srestart", 5000))
		return;
	down_event(v.a, "pgb2"); /* the first check after the restart: not news */
	live_settle(&v, &d, 1, 0);
	alerter_counters(v.a, &c);
	CHECK_EQ(c.sent, 1);
	log = sink_log_n(2);
	if (log) {
		struct json_object *b = json_tokener_parse(log_body(log, 1)), *att = NULL;

		CHECK(b && json_object_object_get_ex(b, "attachments", &att) && json_object_array_length(att) == 1 &&
		      strstr(log_body(log, 1), "pgb2 is DOWN"), "delivered once, not twice: %s", log_body(log, 1));
		json_object_put(b);
	}
	json_object_put(log);
	live_close(&v);
}

/* ---------------------------------------------------------------- live: the monitor against HAProxy */

static pid_t haproxy_pid = -1;
static char haproxy_sock[300];

static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* One runtime-API command on HAProxy's admin socket; 0 when it answered. */
static int haproxy_cmd(const char *cmd)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[512];
	int fd = socket(AF_UNIX, SOCK_STREAM, 0), ok = 0;
	struct timeval tv = { .tv_sec = 2 };

	if (fd < 0)
		return -1;
	memcpy(sa.sun_path, haproxy_sock, strnlen(haproxy_sock, sizeof(sa.sun_path) - 1));
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && write(fd, cmd, strlen(cmd)) > 0 &&
	    write(fd, "\n", 1) == 1)
		ok = read(fd, buf, sizeof(buf)) >= 0;
	close(fd);
	return ok ? 0 : -1;
}

/* Run `pgsteer monitor --once` in this process. */
static int monitor_once(const char *url, const char *state, const char *hook)
{
	char *argv[] = { "monitor", "--stats-url", (char *)url, "--state-file", (char *)state, "--webhook-file",
			 (char *)hook, "--node", "mon1", "--once", NULL };

	return monitor_main(10, argv);
}

static size_t sink_count(void)
{
	struct json_object *log = sink_log();
	size_t n = log ? json_object_array_length(log) : 0;

	json_object_put(log);
	return n;
}

static const char *sink_last(char *buf, size_t len)
{
	struct json_object *log = sink_log();
	size_t n = log ? json_object_array_length(log) : 0;

	snprintf(buf, len, "%s", n ? log_body(log, n - 1) : "");
	json_object_put(log);
	return buf;
}

/* Wait (bounded) until HAProxy's CSV shows want in pgb2's row. */
static int haproxy_wait(const char *url, const char *server, const char *want)
{
	int i;

	for (i = 0; i < 100; i++) {
		struct { char *buf; size_t len; } b = { NULL, 0 };
		CURL *e = curl_easy_init();
		struct csv c;
		int r, hit = 0;

		curl_easy_setopt(e, CURLOPT_URL, url);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 2L);
		curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect);
		curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
		if (curl_easy_perform(e) == CURLE_OK && b.buf && csv_parse(&c, b.buf, b.len) == 0) {
			for (r = 0; r < c.nrows; r++)
				if (!strcmp(csv_get(&c, r, "svname"), server) &&
				    !strncmp(csv_get(&c, r, "status"), want, strlen(want)))
					hit = 1;
			csv_free(&c);
		}
		curl_easy_cleanup(e);
		free(b.buf);
		if (hit)
			return 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

static void test_live_monitor_haproxy(void)
{
	char cfgpath[300], cfg[2048], url[128], deadurl[128], state[300], hook[300], body[8192];
	int stats_port = free_port(), dead_port = free_port();
	char *argv[] = { "haproxy", "-db", "-f", cfgpath, NULL };
	size_t n0;

	if (access("/usr/sbin/haproxy", X_OK) && system("command -v haproxy >/dev/null 2>&1")) {
		SKIP("test_live_monitor_haproxy", "haproxy is not installed");
		h_case_failed = 0;
		return;
	}
	snprintf(cfgpath, sizeof(cfgpath), "%s/haproxy.cfg", tmpdir);
	snprintf(haproxy_sock, sizeof(haproxy_sock), "%s/haproxy.sock", tmpdir);
	/* pgb1 checks HAProxy's own stats port (UP), pgb2 a closed port (DOWN). */
	snprintf(cfg, sizeof(cfg),
		 "global\n    stats socket %s level admin\n\n"
		 "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n\n"
		 "listen stats\n    mode http\n    bind 127.0.0.1:%d\n    stats enable\n    stats uri /stats\n\n"
		 "backend be_pgb\n    balance leastconn\n"
		 "    server pgb1 127.0.0.1:%d check inter 200ms fall 1 rise 1\n"
		 "    server pgb2 127.0.0.1:%d check inter 200ms fall 1 rise 1\n",
		 haproxy_sock, stats_port, stats_port, dead_port);
	write_file(cfgpath, cfg, 0600);
	haproxy_pid = spawn(argv, "haproxy");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats;csv", stats_port);
	snprintf(deadurl, sizeof(deadurl), "http://127.0.0.1:%d/stats;csv", dead_port);
	snprintf(state, sizeof(state), "%s/monitor.json", tmpdir);
	snprintf(hook, sizeof(hook), "%s/webhook", tmpdir);
	snprintf(body, sizeof(body), "http://127.0.0.1:%d/services/T000/B000/SECRET\n", sink_port);
	write_file(hook, body, 0600);
	unlink(state);
	if (haproxy_wait(url, "pgb2", "DOWN")) {
		CHECK(0, "HAProxy did not come up with pgb2 DOWN");
		return;
	}
	sink_script_set("[]");

	/* First run without a state file: only the non-UP server. */
	CHECK_EQ(monitor_once(url, state, hook), 0);
	CHECK_EQ(sink_count(), 1);
	sink_last(body, sizeof(body));
	CHECK(strstr(body, "pgb2 is DOWN (node mon1, service be_pgb, check L4CON: Connection refused)") &&
	      !strstr(body, "pgb1"), "first run: %s", body);

	/* Nothing changed: nothing sent. */
	CHECK_EQ(monitor_once(url, state, hook), 0);
	CHECK_EQ(sink_count(), 1);

	/* Admin drain and maint through HAProxy's runtime API. */
	haproxy_cmd("set server be_pgb/pgb1 state drain");
	haproxy_cmd("set server be_pgb/pgb2 state maint");
	haproxy_wait(url, "pgb2", "MAINT");
	CHECK_EQ(monitor_once(url, state, hook), 0);
	CHECK_EQ(sink_count(), 2);
	sink_last(body, sizeof(body));
	CHECK(strstr(body, "pgb1 is DRAIN") && strstr(body, "pgb2 is in MAINT"), "drain+maint: %s", body);

	/* Both back: pgb2 now points at a live port. */
	haproxy_cmd("set server be_pgb/pgb1 state ready");
	snprintf(cfg, sizeof(cfg), "set server be_pgb/pgb2 addr 127.0.0.1 port %d", stats_port);
	haproxy_cmd(cfg);
	haproxy_cmd("set server be_pgb/pgb2 state ready");
	if (haproxy_wait(url, "pgb2", "UP"))
		CHECK(0, "pgb2 did not come UP");
	CHECK_EQ(monitor_once(url, state, hook), 0);
	CHECK_EQ(sink_count(), 3);
	sink_last(body, sizeof(body));
	CHECK(strstr(body, "Recovery: pgb1 is back UP") && strstr(body, "Recovery: pgb2 is back UP") &&
	      strstr(body, "in MAINT for"), "recovery: %s", body);

	/* Stats unreachable: alerted once, not at every poll. */
	n0 = sink_count();
	CHECK_EQ(monitor_once(deadurl, state, hook), 1);
	CHECK_EQ(monitor_once(deadurl, state, hook), 1);
	CHECK_EQ(sink_count(), n0 + 1);
	sink_last(body, sizeof(body));
	CHECK(strstr(body, "stats unreachable") != NULL, "unreachable: %s", body);
	CHECK(!strstr(body, "SECRET"), "webhook secret in a message");
	CHECK_EQ(monitor_once(url, state, hook), 0);
	CHECK_EQ(sink_count(), n0 + 2);
}

static void cleanup(void);

/* The test's time is up: stop what it started, by PID, and fail. */
static void on_alarm(int sig)
{
	(void)sig;
	if (sink_pid > 0)
		kill(sink_pid, SIGTERM);
	if (haproxy_pid > 0)
		kill(haproxy_pid, SIGTERM);
	_exit(1);
}

static void cleanup(void)
{
	char cmd[300];

	sink_stop();
	if (haproxy_pid > 0) {
		kill(haproxy_pid, SIGTERM);
		waitpid(haproxy_pid, NULL, 0);
		haproxy_pid = -1;
	}
	if (tmpdir[0] && !getenv("PGS_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pgs-alert-test.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	log_init(getenv("PGS_VERBOSE") ? 1 : 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* never outlive a hang: the whole test has 3 minutes */
	signal(SIGALRM, on_alarm);
	alarm(180);

	RUN(test_csv_vector);
	RUN(test_csv_vector_file);
	RUN(test_csv_table);
	RUN(test_csv_sparse_refused);
	RUN(test_classify);
	RUN(test_monitor_servers);
	RUN(test_wording);
	RUN(test_duration);
	RUN(test_payload);
	RUN(test_backoff);
	RUN(test_retry_after);
	RUN(test_redact);
	RUN(test_webhook_read);
	RUN(test_statefile);
	RUN(test_dedup_restart);
	RUN(test_state_queue_texts);
	RUN(test_flood_alerts);
	RUN(test_alerter_new_config);
	RUN(test_state_batched);
	RUN(test_monitor_reads_pgsteerd_csv);

	snprintf(sink_script, sizeof(sink_script), "%s/sink.py", tmpdir);
	snprintf(sink_portfile, sizeof(sink_portfile), "%s/sink.port", tmpdir);
	write_file(sink_script, sink_py, 0600);
	if (system("command -v python3 >/dev/null 2>&1") || sink_start(0)) {
		SKIP("live", "python3 webhook sink could not start");
	} else {
		RUN(test_live_500_then_200);
		RUN(test_live_429);
		RUN(test_live_400);
		RUN(test_live_400_batch);
		RUN(test_live_coalesce);
		RUN(test_live_hang);
		RUN(test_live_hang_forever);
		RUN(test_live_state_dir_full);
		RUN(test_live_sink_down);
		RUN(test_live_restart_delivers);
		RUN(test_live_monitor_haproxy);
	}
	cleanup();
	curl_global_cleanup();
	return h_exit();
}

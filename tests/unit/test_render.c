/* Tests of the CSV, Prometheus and JSON renderings against HAProxy 2.6's real output, the consumers
 * users point at it (awk, cut, python csv) and promtool. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <json-c/json.h>
#include "harness.h"
#include "maps.h"
#include "render.h"

/* The first two lines of reference/vectors/haproxy-2.6-stats.csv: Debian 12's HAProxy 2.6. */
static const char vector_header[] =
	"# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,"
	"status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,"
	"type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,"
	"hrsp_4xx,hrsp_5xx,hrsp_other,hanafail,req_rate,req_rate_max,req_tot,cli_abrt,srv_abrt,comp_in,"
	"comp_out,comp_byp,comp_rsp,lastsess,last_chk,last_agt,qtime,ctime,rtime,ttime,agent_status,"
	"agent_code,agent_duration,check_desc,agent_desc,check_rise,check_fall,check_health,agent_rise,"
	"agent_fall,agent_health,addr,cookie,mode,algo,conn_rate,conn_rate_max,conn_tot,intercepted,dcon,"
	"dses,wrew,connect,reuse,cache_lookups,cache_hits,srv_icur,src_ilim,qtime_max,ctime_max,rtime_max,"
	"ttime_max,eint,idle_conn_cur,safe_conn_cur,used_conn_cur,need_conn_est,uweight,agg_server_status,"
	"agg_server_check_status,agg_check_status,-,ssl_sess,ssl_reused_sess,ssl_failed_handshake,"
	"h2_headers_rcvd,h2_data_rcvd,h2_settings_rcvd,h2_rst_stream_rcvd,h2_goaway_rcvd,"
	"h2_detected_conn_protocol_errors,h2_detected_strm_protocol_errors,h2_rst_stream_resp,"
	"h2_goaway_resp,h2_open_connections,h2_backend_open_streams,h2_total_connections,"
	"h2_backend_total_streams,h1_open_connections,h1_open_streams,h1_total_connections,"
	"h1_total_streams,h1_bytes_in,h1_bytes_out,h1_spliced_bytes_in,h1_spliced_bytes_out,";
static const char vector_row[] =
	"be_pgb,pgb1,0,0,0,8,,4800,107833705,114782799,,0,,0,0,0,0,UP,1,1,0,0,0,465,0,,1,3,1,,4800,,2,0,,97,"
	"L4OK,,0,,,,,,,,,,,0,0,,,,,10,,,0,0,0,49,,,,Layer4 check passed,,2,3,4,,,,,,tcp,,,,,,,,0,4800,0,,,0,"
	",0,5,0,15001,0,0,0,0,2,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,";
/* "show stat" of a real HAProxy 2.6.12 (Debian 12) for "listen be_pgb" with leastconn, pgb1 refused
 * (check inter 1s fall 3 rise 2), pgb2 "disabled", pgb3 without check, 2 s after start. */
static const char *const real_rows[] = {
	"be_pgb,FRONTEND,,,0,0,100,0,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,0,,,,,,,,,,,0,0,0,,,0,0,0"
	",0,,,,,,,,,,,,,,,,,,,,,tcp,,0,0,0,,0,0,0,,,,,,,,,,,0,,,,,,,,,-,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,"
	"0,0,0,0,0,0,0,0,",
	"be_pgb,pgb1,0,0,0,0,,0,0,0,,0,,0,0,0,0,DOWN,1,1,0,1,1,2,2,,1,2,1,,0,,2,0,,0,L4CON,,0,,,,,,,,,,,"
	"0,0,,,,,-1,Connection refused,,0,0,0,0,,,,Layer4 connection problem,,2,3,0,,,,,,tcp,,,,,,,,0,0,"
	"0,,,0,,0,0,0,0,0,0,0,0,1,1,,,,-,0,0,0,,,,,,,,,,,,,,,,,,,,,,",
	"be_pgb,pgb2,0,0,0,0,,0,0,0,,0,,0,0,0,0,MAINT,1,1,0,0,0,2,2,,1,2,2,,0,,2,0,,0,,,,,,,,,,,,,,0,0,,"
	",,,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,"
	",,,,,,,,",
	"be_pgb,pgb3,0,0,0,0,,0,0,0,,0,,0,0,0,0,no check,1,1,0,,,2,,,1,2,3,,0,,2,0,,0,,,,,,,,,,,,,,0,0,,"
	",,,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,,,,,,,,0,0,0,,,0,,0,0,0,0,0,0,0,0,0,1,,,,-,0,0,0,,,,,,,,,,,,,,"
	",,,,,,,,",
	"be_pgb,BACKEND,0,0,0,0,10,0,0,0,0,0,,0,0,0,0,UP,1,1,0,,0,2,0,,1,2,0,,0,,1,0,,0,,,,,,,,,,,,,,0,0"
	",0,0,0,0,-1,,,0,0,0,0,,,,,,,,,,,,,,tcp,,,,,,,,0,0,0,,,,,0,0,0,0,0,,,,,1,0,0,0,-,0,0,0,0,0,0,0,0"
	",0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,",
};
#define VECTOR_FILE "../shared/reference/vectors/haproxy-2.6-stats.csv"
#define NCOLS 128
/* pgsteer's own columns after HAProxy's, as a stats module adds them: SYN floods (synflood.c). */
static const char pgs_header[] = "syn_cookies,syn_flood,cookie_sent,cookie_valid,drop_cookie_invalid,";
#define PGS_COLS 5
#define OURCOLS (NCOLS + PGS_COLS)

static const char test_config[] =
	"global\n"
	"    interface lo\n"
	"    node-name lb1\n"
	"vrrp\n"
	"    vrid 51\n"
	"    priority 101\n"
	"    advert-interval 100ms\n"
	"    vip 10.100.1.100/24\n"
	"service be_pgb\n"
	"    bind 10.100.1.100:5432\n"
	"    balance leastconn\n"
	"    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
	"    server pgb1 10.100.1.5:6432\n"
	"    server pgb2 10.100.1.5:6433\n"
	"    server pgb3 10.100.1.5:6434\n"
	"    server pgb4 10.100.1.5:6435\n"
	"    server pgb5 10.100.1.5:6436 weight 2\n"
	"    server pgb6 10.100.1.5:6437 disabled\n"
	"service nocheck\n"
	"    bind 10.100.1.100:5433\n"
	"    server n1 10.100.1.6:6432\n";

/* A last_chk that needs CSV quoting. */
static const char quoted_desc[] = "FATAL 28P01 password authentication failed for user \"app\", retry";

#define NOW 10000000ull /* monotonic ms at rendering */

static struct config cfg;
static struct model model;

/* The model every case starts from: one server per status HAProxy prints. pgb1 mirrors the
 * vector's server row. */
static void fixture(void)
{
	struct service_rt *svc = &model.services[0];
	struct server_rt *s;
	char err[256];
	unsigned i;

	if (config_parse(test_config, "test", &cfg, err, sizeof(err))) {
		printf("config: %s\n", err);
		exit(1);
	}
	model_init(&model, &cfg, NOW - 1000000, NULL);
	svc->id = 2; /* the vector's iid 3 */
	svc->scur = 9, svc->smax = 20, svc->stot = 9000, svc->bin = 1000, svc->bout = 2000;
	svc->last_new_ns = (NOW - 5000) * 1000000ull;

	s = &svc->servers[0]; /* UP, L4OK */
	s->health.health = s->health.rise + s->health.fall - 1;
	s->last.status = CHK_L4OK;
	s->smax = 8, s->stot = 4800, s->bin = 107833705, s->bout = 114782799;
	s->last_change_ms = NOW - 465000;
	s->last_new_ns = (NOW - 10000) * 1000000ull;

	s = &svc->servers[1]; /* UP 2/3: one failure, the next check running */
	health_force(&s->health, 1);
	health_result(&s->health, 0);
	s->last.status = CHK_L4TOUT;
	s->last.duration_ms = 1001;
	snprintf(s->last.desc, sizeof(s->last.desc), "timeout");
	s->check_running = 1;
	s->chkfail = 1;
	s->scur = 3, s->smax = 4, s->stot = 10;

	s = &svc->servers[2]; /* DOWN for 30 s, after 5 s down earlier */
	health_force(&s->health, 0);
	s->last.status = CHK_L4CON;
	snprintf(s->last.desc, sizeof(s->last.desc), "Connection refused");
	s->chkdown = 2;
	s->last_change_ms = NOW - 30000;
	s->down_since_ms = NOW - 30000;
	s->downtime_ms = 5000;

	s = &svc->servers[3]; /* DOWN 1/2, with an ErrorResponse */
	health_force(&s->health, 0);
	health_result(&s->health, 1);
	s->last.status = CHK_L7RSP;
	snprintf(s->last.code, sizeof(s->last.code), "28P01");
	snprintf(s->last.desc, sizeof(s->last.desc), "%s", quoted_desc);
	s->down_since_ms = NOW - 2000;

	s = &svc->servers[4]; /* DRAIN, weight 2 */
	health_force(&s->health, 1);
	s->admin = ADMIN_DRAIN;
	s->last.status = CHK_L4OK;
	s->scur = 5;

	s = &svc->servers[5]; /* MAINT from "disabled", checked before: the check is paused */
	s->last.status = CHK_L4OK;
	s->last.duration_ms = 3;

	/* nocheck/n1: "no check", never used */
	model.services[1].servers[0].scur = 1;

	for (i = 0; i < PGS_R_MAX; i++)
		model.verdicts[i] = 100 + i;
	model.flows = 42, model.flows_max = 1024, model.flows_expired = 7;
	model.vrrp.state = 2; /* MASTER */
	model.vrrp.transitions = 3;
	model.vrrp.rx_dropped[0] = 1;
	model.alerts.queued = 1, model.alerts.sent = 5, model.alerts.failed = 2, model.alerts.dropped = 0;
}

/* Render into a malloc'ed string. */
static char *render(int (*fn)(const struct model *, uint64_t, FILE *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int err;

	if (!f)
		return NULL;
	err = fn(&model, NOW, f);
	fclose(f);
	if (err) {
		free(buf);
		return NULL;
	}
	return buf;
}

static void run_consumer(const char *what, const char *cmd, const char *path, const char *expect);

static int render_html_5s(const struct model *m, uint64_t now, FILE *out)
{
	return render_html(m, now, 5, out);
}

/* The text of the HTML row of server NAME (from its <tr to its </tr>), or NULL. */
static char *html_row(const char *html, const char *name, char *buf, size_t len)
{
	char key[96];
	const char *p, *start, *end;

	snprintf(key, sizeof(key), "data-server=\"%s\"", name);
	p = strstr(html, key);
	if (!p)
		return NULL;
	for (start = p; start > html && strncmp(start, "<tr", 3); start--)
		;
	end = strstr(p, "</tr>");
	if (!end || (size_t)(end - start) >= len)
		return NULL;
	memcpy(buf, start, end - start);
	buf[end - start] = '\0';
	return buf;
}

/* /stats as HTML: one table per service, each server's row coloured by its state with its
 * sessions, bytes, last check, downtime and weight; check text escaped; it refreshes itself and
 * loads nothing from elsewhere; html.parser reads it with every element closed. */
static void html_page(void)
{
	static const struct { const char *name, *cls, *status; } want[] = {
		{ "pgb1", "srv up", ">UP<" }, { "pgb2", "srv goingdown", ">UP 2/3<" },
		{ "pgb3", "srv down", ">DOWN<" }, { "pgb4", "srv goingup", ">DOWN 1/2<" },
		{ "pgb5", "srv drain", ">DRAIN<" }, { "pgb6", "srv maint", ">MAINT<" },
		{ "n1", "srv nocheck", ">no check<" },
	};
	char *html = render(render_html_5s), row[4096];
	const char *p;
	unsigned i, tables = 0;

	CHECK(html != NULL, "render_html failed");
	if (!html)
		return;
	CHECK(strstr(html, "<meta http-equiv=\"refresh\" content=\"5\">") != NULL, "no refresh");
	CHECK(strstr(html, "<title>pgsteer statistics: lb1</title>") != NULL, "title names the node");
	CHECK(strstr(html, "id=\"vrrp-state\" class=\"vrrp-MASTER\">MASTER<") != NULL, "VRRP state");
	CHECK(strstr(html, "(vrid 51, priority 101)") != NULL, "vrid and priority");
	for (p = html; (p = strstr(p, "<table class=\"service\"")); p++)
		tables++;
	CHECK_EQ(tables, 2u);
	CHECK(strstr(html, "data-service=\"be_pgb\"><caption>be_pgb &mdash; 10.100.1.100:5432") != NULL,
	      "service caption");
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		CHECK(html_row(html, want[i].name, row, sizeof(row)) != NULL, "no row for %s", want[i].name);
		if (!html_row(html, want[i].name, row, sizeof(row)))
			continue;
		CHECK(strstr(row, want[i].cls) != NULL, "%s: class %s not in %s", want[i].name, want[i].cls, row);
		CHECK(strstr(row, want[i].status) != NULL, "%s: status %s not in %s", want[i].name, want[i].status, row);
	}
	/* pgb1: sessions, bytes, last check; pgb2's running check; pgb3 down 30 s after 5 s before. */
	html_row(html, "pgb1", row, sizeof(row));
	CHECK(strstr(row, "<td class=\"stot\">4800</td><td>107833705</td><td>114782799</td>") != NULL, "pgb1: %s", row);
	CHECK(strstr(row, ">L4OK in 0ms<") != NULL, "pgb1 last check: %s", row);
	CHECK(strstr(row, ">7m45s<") != NULL, "pgb1 lastchg 465 s: %s", row);
	html_row(html, "pgb2", row, sizeof(row));
	CHECK(strstr(row, "<td class=\"scur\">3</td>") != NULL, "pgb2 scur: %s", row);
	CHECK(strstr(row, ">L4TOUT in 1001ms: timeout<") != NULL, "pgb2 last check: %s", row);
	html_row(html, "pgb3", row, sizeof(row));
	CHECK(strstr(row, "<td>35s</td>") != NULL, "pgb3 downtime: %s", row);
	html_row(html, "pgb5", row, sizeof(row));
	CHECK(strstr(row, "class=\"weight\">0/2<") != NULL || strstr(row, "class=\"weight\">2/2<") != NULL,
	      "pgb5 weight: %s", row);
	html_row(html, "pgb4", row, sizeof(row));
	CHECK(strstr(row, "for user &quot;app&quot;, retry") != NULL, "check text escaped: %s", row);
	CHECK(strstr(html, "\"app\"") == NULL, "an unescaped quote from the check text");
	CHECK(strstr(html, "src=") == NULL && strstr(html, "href=\"http") == NULL && strstr(html, "@import") == NULL &&
	      strstr(html, "url(") == NULL, "the page loads something from elsewhere");
	if (access("/usr/bin/python3", X_OK) == 0) {
		char path[] = "/tmp/pgsteer-html-XXXXXX";
		int fd = mkstemp(path);

		CHECK(fd >= 0, "mkstemp");
		if (fd >= 0) {
			CHECK((size_t)write(fd, html, strlen(html)) == strlen(html), "short write");
			close(fd);
			run_consumer("html.parser", "python3 -c \"import sys, html.parser\n"
				     "void = {\\\"meta\\\", \\\"br\\\"}\n"
				     "class P(html.parser.HTMLParser):\n"
				     "    st = []; rows = 0\n"
				     "    def handle_starttag(self, t, a):\n"
				     "        if t not in void: self.st.append(t)\n"
				     "        if t == \\\"tr\\\" and dict(a).get(\\\"data-server\\\"): P.rows += 1\n"
				     "    def handle_endtag(self, t):\n"
				     "        assert self.st.pop() == t, t\n"
				     "p = P(); p.feed(open(sys.argv[1]).read()); p.close()\n"
				     "print(len(p.st), P.rows)\n\" \"$1\"", path, "0 7\n");
			unlink(path);
		}
	}
	free(html);
}

/* ---- a strict CSV reader for the checks (quotes, doubled quotes, trailing comma) ---- */

#define MAXF 160
struct fields {
	int n;
	char v[MAXF][256];
};

/* Split one line; every field must end with a comma (HAProxy's trailing comma). -1 if malformed. */
static int split(const char *line, struct fields *f)
{
	const char *p = line;

	f->n = 0;
	while (*p) {
		size_t k = 0;
		char *out;

		if (f->n == MAXF)
			return -1;
		out = f->v[f->n];
		if (*p == '"') {
			for (p++;; p++) {
				if (!*p)
					return -1;
				if (*p == '"' && p[1] == '"')
					p++;
				else if (*p == '"')
					break;
				if (k < 255)
					out[k++] = *p;
			}
			p++;
		} else {
			while (*p && *p != ',' && *p != '"')
				if (k < 255)
					out[k++] = *p++;
		}
		out[k] = '\0';
		if (*p != ',')
			return -1;
		p++;
		f->n++;
	}
	return 0;
}

/* The line'th line (0-based) of text, copied into buf; NULL past the end. */
static const char *line_at(const char *text, int line, char *buf, size_t len)
{
	const char *p = text, *e;
	size_t n;

	while (line-- > 0) {
		p = strchr(p, '\n');
		if (!p)
			return NULL;
		p++;
	}
	e = strchr(p, '\n');
	if (!e)
		return NULL;
	n = (size_t)(e - p) < len - 1 ? (size_t)(e - p) : len - 1;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

static int col(const char *name)
{
	static struct fields hdr;
	int i;

	if (!hdr.n)
		split(vector_header + 2, &hdr);
	for (i = 0; i < hdr.n; i++)
		if (!strcmp(hdr.v[i], name))
			return i;
	return -1;
}

static const char *col_name(int i)
{
	static struct fields hdr;

	if (!hdr.n)
		split(vector_header + 2, &hdr);
	return i >= 0 && i < hdr.n ? hdr.v[i] : "?";
}

/* The rendered row of pxname/svname, split. */
static int find_row(const char *csv, const char *px, const char *sv, struct fields *f)
{
	char line[4096];
	int i;

	for (i = 1; line_at(csv, i, line, sizeof(line)); i++) {
		if (split(line, f))
			continue;
		if (f->n > 1 && !strcmp(f->v[0], px) && !strcmp(f->v[1], sv))
			return 0;
	}
	return -1;
}

/* ---- CSV ---- */

static void csv_header_is_haproxys(void)
{
	char *csv = render(render_csv), line[8192], file[8192];
	FILE *f = fopen(VECTOR_FILE, "r");

	CHECK(csv != NULL, "render_csv failed");
	if (!csv)
		return;
	CHECK(line_at(csv, 0, line, sizeof(line)) != NULL, "no header line");
	CHECK(!strncmp(line, vector_header, strlen(vector_header)), "the header does not begin as HAProxy's: %s", line);
	CHECK_STR(line + strlen(vector_header), pgs_header);
	/* The embedded copy is the shared vector, when the tree has it beside. */
	if (f) {
		CHECK(fgets(file, sizeof(file), f) != NULL, "cannot read %s", VECTOR_FILE);
		file[strcspn(file, "\n")] = '\0';
		CHECK_STR(file, vector_header);
		CHECK(fgets(file, sizeof(file), f) != NULL, "cannot read %s", VECTOR_FILE);
		file[strcspn(file, "\n")] = '\0';
		CHECK_STR(file, vector_row);
		fclose(f);
	}
	free(csv);
}

static void csv_every_row_has_every_column(void)
{
	char *csv = render(render_csv), line[8192];
	struct fields f;
	int i, rows = 0;
	size_t len;

	if (!csv)
		return;
	split(vector_row, &f);
	CHECK_EQ(f.n, NCOLS);
	for (i = 0; line_at(csv, i, line, sizeof(line)); i++) {
		if (!line[0])
			break;
		CHECK(split(i ? line : line + 2, &f) == 0, "line %d is not HAProxy CSV: %s", i, line);
		CHECK(f.n == OURCOLS, "line %d has %d fields, expected %d: %s", i, f.n, OURCOLS, line);
		rows++;
	}
	/* header + (FRONTEND + servers + BACKEND) per service, then the final empty line */
	CHECK_EQ(rows, 1 + (1 + 6 + 1) + (1 + 1 + 1));
	len = strlen(csv);
	CHECK(len >= 2 && csv[len - 1] == '\n' && csv[len - 2] == '\n', "output does not end with an empty line");
	free(csv);
}

/* pgb1 is built like the vector's row: every column pgsteer fills must hold HAProxy's value at
 * HAProxy's position; the address is the one column HAProxy prints only with "show-legends". */
static void csv_server_row_matches_vector(void)
{
	char *csv = render(render_csv);
	struct fields ours, theirs;
	int i, filled = 0;

	if (!csv)
		return;
	split(vector_row, &theirs);
	CHECK(find_row(csv, "be_pgb", "pgb1", &ours) == 0, "no row for be_pgb/pgb1");
	for (i = 0; i < NCOLS && i < ours.n; i++) {
		if (i == col("addr")) {
			CHECK_STR(ours.v[i], "10.100.1.5:6432");
			continue;
		}
		if (!ours.v[i][0])
			continue;
		filled++;
		CHECK(!strcmp(ours.v[i], theirs.v[i]), "column %d: ours \"%s\", HAProxy's \"%s\"", i, ours.v[i],
		      theirs.v[i]);
	}
	CHECK(filled >= 30, "only %d columns filled", filled);
	free(csv);
}

/* Every row pgsteer prints for the same situation holds HAProxy's value in every column it fills.
 * addr and algo are the columns HAProxy prints only with "stats show-legends". */
static void csv_rows_match_real_haproxy(void)
{
	static const char conf[] =
		"global\n"
		"    interface lo\n"
		"service be_pgb\n"
		"    bind 127.0.0.100:5432\n"
		"    check tcp inter 1s fall 3 rise 2\n"
		"    server pgb1 127.0.0.1:18601\n"
		"    server pgb2 127.0.0.1:18602 disabled\n"
		"    server pgb3 127.0.0.1:18603\n";
	static struct config c;
	static struct model m;
	struct server_rt *s;
	struct fields ours, theirs;
	char err[256], *buf = NULL;
	size_t len = 0, i;
	FILE *f;
	int k;

	if (config_parse(conf, "real", &c, err, sizeof(err))) {
		CHECK(0, "config: %s", err);
		return;
	}
	model_init(&m, &c, NOW - 2000, NULL);
	m.services[0].id = 1; /* iid 2: the stats listener is proxy 1 */
	s = &m.services[0].servers[0];
	health_force(&s->health, 0);
	s->last.status = CHK_L4CON;
	snprintf(s->last.desc, sizeof(s->last.desc), "Connection refused");
	s->chkfail = 1, s->chkdown = 1;
	s->down_since_ms = NOW - 2000;
	m.services[0].servers[1].down_since_ms = NOW - 2000; /* HAProxy counts MAINT as downtime */
	m.services[0].servers[2].checked = 0;

	f = open_memstream(&buf, &len);
	CHECK_EQ(render_csv(&m, NOW, f), 0);
	fclose(f);
	for (i = 0; i < sizeof(real_rows) / sizeof(real_rows[0]); i++) {
		CHECK(split(real_rows[i], &theirs) == 0 && theirs.n == NCOLS, "real row %zu", i);
		if (find_row(buf, theirs.v[0], theirs.v[1], &ours)) {
			CHECK(0, "no row for %s/%s", theirs.v[0], theirs.v[1]);
			continue;
		}
		for (k = 0; k < NCOLS; k++) {
			if (!ours.v[k][0] || k == col("addr") || k == col("algo"))
				continue;
			CHECK(!strcmp(ours.v[k], theirs.v[k]), "%s %s: ours \"%s\", HAProxy's \"%s\"", theirs.v[1],
			      col_name(k), ours.v[k], theirs.v[k]);
		}
	}
	free(buf);
}

static void csv_status_strings(void)
{
	static const struct {
		const char *px, *sv, *status, *check_status, *weight;
	} rows[] = {
		{ "be_pgb", "pgb1", "UP", "L4OK", "1" },
		{ "be_pgb", "pgb2", "UP 2/3", "* L4TOUT", "1" },
		{ "be_pgb", "pgb3", "DOWN", "L4CON", "1" },
		{ "be_pgb", "pgb4", "DOWN 1/2", "L7RSP", "1" },
		{ "be_pgb", "pgb5", "DRAIN", "L4OK", "2" },
		{ "be_pgb", "pgb6", "MAINT", "", "1" }, /* the check is paused */
		{ "nocheck", "n1", "no check", "", "1" },
		{ "be_pgb", "FRONTEND", "OPEN", "", "" },
		{ "be_pgb", "BACKEND", "UP", "", "2" },
	};
	char *csv = render(render_csv);
	struct fields f;
	unsigned i;

	if (!csv)
		return;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (find_row(csv, rows[i].px, rows[i].sv, &f)) {
			CHECK(0, "no row for %s/%s", rows[i].px, rows[i].sv);
			continue;
		}
		CHECK_STR(f.v[col("status")], rows[i].status);
		CHECK_STR(f.v[col("check_status")], rows[i].check_status);
		CHECK_STR(f.v[col("weight")], rows[i].weight);
	}
	find_row(csv, "be_pgb", "pgb3", &f);
	CHECK_STR(f.v[col("lastchg")], "30");
	CHECK_STR(f.v[col("downtime")], "35");
	CHECK_STR(f.v[col("chkdown")], "2");
	CHECK_STR(f.v[col("last_chk")], "Connection refused");
	CHECK_STR(f.v[col("check_desc")], "Layer4 connection problem");
	find_row(csv, "be_pgb", "pgb2", &f);
	CHECK_STR(f.v[col("check_duration")], "1001");
	CHECK_STR(f.v[col("check_health")], "3");
	find_row(csv, "be_pgb", "pgb6", &f);
	CHECK_STR(f.v[col("check_health")], "");
	CHECK_STR(f.v[col("chkdown")], "0");
	find_row(csv, "nocheck", "n1", &f);
	CHECK_STR(f.v[col("lastsess")], "-1");
	CHECK_STR(f.v[col("check_rise")], "");
	CHECK_STR(f.v[col("chkfail")], "");
	find_row(csv, "be_pgb", "BACKEND", &f);
	CHECK_STR(f.v[col("act")], "2");
	CHECK_STR(f.v[col("type")], "1");
	CHECK_STR(f.v[col("algo")], "leastconn");
	CHECK_STR(f.v[col("lastsess")], "5");
	CHECK_STR(f.v[col("stot")], "9000");
	find_row(csv, "be_pgb", "FRONTEND", &f);
	CHECK_STR(f.v[col("type")], "0");
	CHECK_STR(f.v[col("scur")], "9");
	CHECK_STR(f.v[col("-")], "-");
	free(csv);
}

static void csv_backend_down_when_nothing_selectable(void)
{
	struct service_rt *svc = &model.services[0];
	struct fields f;
	char *csv;
	int i;

	for (i = 0; i < svc->nservers; i++)
		health_force(&svc->servers[i].health, 0);
	csv = render(render_csv);
	fixture();
	if (!csv)
		return;
	CHECK(find_row(csv, "be_pgb", "BACKEND", &f) == 0, "no backend row");
	CHECK_STR(f.v[col("status")], "DOWN");
	CHECK_STR(f.v[col("weight")], "0");
	CHECK_STR(f.v[col("act")], "0");
	free(csv);
}

static void csv_quotes_commas_and_quotes(void)
{
	char *csv = render(render_csv);
	struct fields f;

	if (!csv)
		return;
	CHECK(strstr(csv, ",\"FATAL 28P01 password authentication failed for user \"\"app\"\", retry\",") != NULL,
	      "last_chk not quoted as HAProxy does");
	CHECK(find_row(csv, "be_pgb", "pgb4", &f) == 0, "no row for pgb4");
	CHECK_EQ(f.n, OURCOLS);
	CHECK_STR(f.v[col("last_chk")], quoted_desc);
	CHECK_STR(f.v[col("check_code")], "28P01");
	CHECK_STR(f.v[col("check_desc")], "Layer7 invalid response");
	free(csv);
}

/* A comma alone is reason enough to quote; a quote alone too. */
static void csv_quotes_a_comma_alone(void)
{
	struct service_rt *svc = &model.services[0];
	struct fields f;
	char *csv;

	snprintf(svc->servers[2].last.desc, sizeof(svc->servers[2].last.desc), "refused, errno 111");
	snprintf(svc->servers[1].last.desc, sizeof(svc->servers[1].last.desc), "say \"hi\"");
	csv = render(render_csv);
	fixture();
	if (!csv)
		return;
	CHECK(strstr(csv, ",\"refused, errno 111\",") != NULL, "a comma was not quoted");
	CHECK(strstr(csv, ",\"say \"\"hi\"\"\",") != NULL, "a quote was not quoted");
	CHECK(find_row(csv, "be_pgb", "pgb3", &f) == 0 && f.n == OURCOLS, "pgb3 row broken");
	CHECK_STR(f.v[col("last_chk")], "refused, errno 111");
	free(csv);
}

static void csv_up_and_no_maint_options(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	CHECK_EQ(render_csv_opts(&model, NOW, RENDER_CSV_UP, f), 0);
	fclose(f);
	CHECK(strstr(buf, "\nbe_pgb,pgb3,") == NULL, "DOWN server shown with ;up");
	CHECK(strstr(buf, "\nbe_pgb,pgb6,") == NULL, "MAINT server shown with ;up");
	CHECK(strstr(buf, "\nbe_pgb,pgb5,") != NULL, "DRAIN server hidden with ;up");
	free(buf);
	buf = NULL;
	f = open_memstream(&buf, &len);
	CHECK_EQ(render_csv_opts(&model, NOW, RENDER_CSV_NO_MAINT, f), 0);
	fclose(f);
	CHECK(strstr(buf, "\nbe_pgb,pgb6,") == NULL, "MAINT server shown with ;no-maint");
	CHECK(strstr(buf, "\nbe_pgb,pgb3,") != NULL, "DOWN server hidden with ;no-maint");
	free(buf);
}

/* Run a shell command on a file and compare its whole output. */
static void run_consumer(const char *what, const char *cmd, const char *path, const char *expect)
{
	char full[2048], out[4096];
	size_t n;
	FILE *p;
	int rc;

	/* The timeout only ends a hung consumer: python3 took 11-13 s to start at load 24 on 2 cores. */
	snprintf(full, sizeof(full), "timeout 120 sh -c '%s' sh %s 2>&1", cmd, path);
	p = popen(full, "r");
	CHECK(p != NULL, "%s: popen", what);
	if (!p)
		return;
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	CHECK(rc == 0, "%s exited with %d: %s", what, rc, out);
	CHECK(!strcmp(out, expect), "%s printed:\n%s\nexpected:\n%s", what, out, expect);
}

/* The monitors users run today, keyed by name (awk, python csv) and by position (cut). */
static void csv_consumers_read_scur_and_status(void)
{
	static const char awk_by_name[] =
		"awk -F, \"NR == 1 { sub(/^# /, \\\"\\\"); for (i = 1; i <= NF; i++) c[\\$i] = i; next }"
		" \\$c[\\\"type\\\"] == 2 { print \\$c[\\\"svname\\\"] \\\"|\\\" \\$c[\\\"scur\\\"] \\\"|\\\" \\$c[\\\"status\\\"] }\" \"$1\"";
	static const char cut_by_position[] = "grep -E \"^be_pgb,pgb[0-9]\" \"$1\" | cut -d, -f2,5,18";
	static const char python_csv[] =
		"python3 -c \"import csv, sys\n"
		"rows = list(csv.reader(open(sys.argv[1])))\n"
		"hdr = rows[0]; hdr[0] = hdr[0][2:]\n"
		"for r in rows[1:]:\n"
		"    d = dict(zip(hdr, r))\n"
		"    if r and d[\\\"type\\\"] == \\\"2\\\": print(d[\\\"svname\\\"], d[\\\"scur\\\"], d[\\\"status\\\"], d[\\\"last_chk\\\"], sep=\\\"|\\\")\n"
		"\" \"$1\"";
	char path[] = "/tmp/pgsteer-render-XXXXXX";
	char *csv = render(render_csv);
	int fd = mkstemp(path);

	CHECK(fd >= 0 && csv, "temp file or rendering failed");
	if (fd < 0 || !csv) {
		free(csv);
		return;
	}
	CHECK((size_t)write(fd, csv, strlen(csv)) == strlen(csv), "short write");
	close(fd);
	run_consumer("awk by name", awk_by_name, path,
		     "pgb1|0|UP\npgb2|3|UP 2/3\npgb3|0|DOWN\npgb4|0|DOWN 1/2\npgb5|5|DRAIN\npgb6|0|MAINT\n"
		     "n1|1|no check\n");
	run_consumer("cut by position", cut_by_position, path,
		     "pgb1,0,UP\npgb2,3,UP 2/3\npgb3,0,DOWN\npgb4,0,DOWN 1/2\npgb5,5,DRAIN\npgb6,0,MAINT\n");
	if (access("/usr/bin/python3", X_OK) == 0)
		run_consumer("python csv", python_csv, path,
			     "pgb1|0|UP|\npgb2|3|UP 2/3|timeout\npgb3|0|DOWN|Connection refused\n"
			     "pgb4|0|DOWN 1/2|FATAL 28P01 password authentication failed for user \"app\", retry\n"
			     "pgb5|5|DRAIN|\npgb6|0|MAINT|\nn1|1|no check|\n");
	unlink(path);
	free(csv);
}

static void render_reports_write_errors(void)
{
	FILE *f = fopen("/dev/full", "w");

	CHECK(f != NULL, "/dev/full: %s", strerror(errno));
	if (!f)
		return;
	setvbuf(f, NULL, _IONBF, 0);
	CHECK_EQ(render_csv(&model, NOW, f), -EIO);
	CHECK_EQ(render_prometheus(&model, NOW, f), -EIO);
	CHECK_EQ(render_json(&model, NOW, f), -EIO);
	fclose(f);
}

/* ---- Prometheus ---- */

/* promtool's verdict on a text: 0 and no output when it is clean. */
static int promtool(const char *text, char *out, size_t len)
{
	char path[] = "/tmp/pgsteer-metrics-XXXXXX", cmd[256];
	int fd = mkstemp(path), rc;
	size_t n;
	FILE *p;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	if ((size_t)write(fd, text, strlen(text)) != strlen(text)) {
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	snprintf(cmd, sizeof(cmd), "timeout 30 promtool check metrics < %s 2>&1", path);
	p = popen(cmd, "r");
	if (!p) {
		unlink(path);
		return -1;
	}
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	rc = pclose(p);
	unlink(path);
	return rc;
}

static void prometheus_passes_promtool(void)
{
	char *text = render(render_prometheus), out[8192];
	int rc;

	CHECK(text != NULL, "render_prometheus failed");
	if (!text)
		return;
	/* The runner must see complaints: a counter without _total is one. */
	rc = promtool("# HELP x_bad A counter.\n# TYPE x_bad counter\nx_bad 1\n", out, sizeof(out));
	CHECK(rc != 0 || out[0], "promtool accepted a bad counter name");
	rc = promtool(text, out, sizeof(out));
	CHECK(rc == 0 && !out[0], "promtool: rc %d: %s", rc, out);
	free(text);
}

/* Every family has HELP then TYPE before its samples, samples contiguous, counters in _total. */
static void prometheus_families_are_contiguous(void)
{
	char *text = render(render_prometheus), line[1024], fam[128] = "", type[16] = "";
	char seen[16384] = " ";
	int i, families = 0;

	if (!text)
		return;
	for (i = 0; line_at(text, i, line, sizeof(line)); i++) {
		char name[128], key[132];

		if (!strncmp(line, "# HELP ", 7)) {
			sscanf(line + 7, "%127s", fam);
			snprintf(key, sizeof(key), " %s ", fam);
			CHECK(!strstr(seen, key), "family %s appears twice", fam);
			if (strlen(seen) + strlen(key) < sizeof(seen))
				strcat(seen, key + 1);
			families++;
			type[0] = '\0';
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			CHECK(sscanf(line + 7, "%127s %15s", name, type) == 2 && !strcmp(name, fam),
			      "TYPE without its HELP: %s", line);
			if (!strcmp(type, "counter"))
				CHECK(strlen(fam) > 6 && !strcmp(fam + strlen(fam) - 6, "_total"),
				      "counter %s does not end in _total", fam);
			else
				CHECK(!strstr(fam, "_total"), "gauge %s ends in _total", fam);
			continue;
		}
		sscanf(line, "%127[^{ ]", name);
		CHECK(!strcmp(name, fam) && type[0], "sample outside its family: %s", line);
	}
	CHECK(families > 30, "only %d families", families);
	CHECK(text[strlen(text) - 1] == '\n', "no final newline");
	free(text);
}

static void prometheus_series(void)
{
	static const char *const want[] = {
		"haproxy_server_current_sessions{proxy=\"be_pgb\",server=\"pgb2\"} 3\n",
		"haproxy_server_sessions_total{proxy=\"be_pgb\",server=\"pgb1\"} 4800\n",
		"haproxy_server_bytes_in_total{proxy=\"be_pgb\",server=\"pgb1\"} 107833705\n",
		"haproxy_server_status{proxy=\"be_pgb\",server=\"pgb3\",state=\"DOWN\"} 1\n",
		"haproxy_server_status{proxy=\"be_pgb\",server=\"pgb3\",state=\"UP\"} 0\n",
		"haproxy_server_status{proxy=\"be_pgb\",server=\"pgb5\",state=\"DRAIN\"} 1\n",
		"haproxy_server_status{proxy=\"be_pgb\",server=\"pgb6\",state=\"MAINT\"} 1\n",
		"haproxy_server_status{proxy=\"nocheck\",server=\"n1\",state=\"UP\"} 1\n",
		"haproxy_server_check_status{proxy=\"be_pgb\",server=\"pgb3\",state=\"L4CON\"} 1\n",
		"haproxy_server_check_status{proxy=\"be_pgb\",server=\"pgb3\",state=\"L4OK\"} 0\n",
		"haproxy_server_check_duration_seconds{proxy=\"be_pgb\",server=\"pgb2\"} 1.001\n",
		"haproxy_server_check_last_change_seconds{proxy=\"be_pgb\",server=\"pgb1\"} 465\n",
		"haproxy_server_downtime_seconds_total{proxy=\"be_pgb\",server=\"pgb3\"} 35\n",
		"haproxy_server_check_up_down_total{proxy=\"be_pgb\",server=\"pgb3\"} 2\n",
		"haproxy_server_check_failures_total{proxy=\"be_pgb\",server=\"pgb2\"} 1\n",
		"haproxy_server_weight{proxy=\"be_pgb\",server=\"pgb5\"} 2\n",
		"haproxy_server_last_session_seconds{proxy=\"be_pgb\",server=\"pgb1\"} 10\n",
		"haproxy_backend_status{proxy=\"be_pgb\",state=\"UP\"} 1\n",
		"haproxy_backend_active_servers{proxy=\"be_pgb\"} 2\n",
		"haproxy_frontend_current_sessions{proxy=\"be_pgb\"} 9\n",
		"pgsteer_datapath_verdicts_total{verdict=\"pass\"} 100\n",
		"pgsteer_datapath_verdicts_total{verdict=\"drop_redispatch\"} 113\n",
		"pgsteer_datapath_verdicts_total{verdict=\"reset\"} 114\n",
		"pgsteer_flow_table_entries 42\n",
		"pgsteer_flow_table_size 1024\n",
		"pgsteer_flows_expired_total 7\n",
		"pgsteer_vrrp_state{state=\"MASTER\"} 1\n",
		"pgsteer_vrrp_state{state=\"BACKUP\"} 0\n",
		"pgsteer_vrrp_transitions_total 3\n",
		"pgsteer_vrrp_rx_dropped_total{reason=\"ttl\"} 1\n",
		"pgsteer_alerts_queued 1\n",
		"pgsteer_alerts_failed_total 2\n",
		"haproxy_server_last_session_seconds{proxy=\"nocheck\",server=\"n1\"} -1\n", /* never, as PROMEX */
		"pgsteer_build_info{version=\"",
	};
	static const char *const absent[] = {
		"haproxy_server_check_status{proxy=\"be_pgb\",server=\"pgb6\"", /* paused in MAINT */
		"haproxy_server_check_status{proxy=\"nocheck\"",                /* no check */
		"haproxy_server_check_duration_seconds{proxy=\"be_pgb\",server=\"pgb6\"",
		"state=\"INI\"",
	};
	char *text = render(render_prometheus);
	unsigned i;

	if (!text)
		return;
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		CHECK(strstr(text, want[i]) != NULL, "missing: %s", want[i]);
	for (i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
		CHECK(strstr(text, absent[i]) == NULL, "unexpected: %s", absent[i]);
	free(text);
	model.vrrp.enabled = 0;
	text = render(render_prometheus);
	model.vrrp.enabled = 1;
	CHECK(text && !strstr(text, "pgsteer_vrrp"), "VRRP series without VRRP");
	free(text);
}

static void verdict_names_are_complete(void)
{
	unsigned i, j;

	CHECK_STR(verdict_name(PGS_R_FWD_NEW), "fwd_new");
	CHECK_STR(verdict_name(PGS_R_DROP_SNAT_EXHAUSTED), "drop_snat_exhausted");
	CHECK_STR(verdict_name(PGS_R_MAX), "unknown");
	CHECK_EQ(verdict_by_name("no_such_verdict"), -1);
	CHECK(verdict_is_drop(PGS_R_DROP_FIB) && !verdict_is_drop(PGS_R_RESET) && !verdict_is_drop(PGS_R_PASS_PUNT),
	      "drop flags");
	for (i = 0; i < PGS_R_MAX; i++) {
		CHECK(strcmp(verdict_name(i), "unknown"), "verdict %u has no name", i);
		CHECK(verdict_help(i)[0], "verdict %s has no help text", verdict_name(i));
		CHECK_EQ(verdict_by_name(verdict_name(i)), (int)i);
		/* The drop flag and the name agree: the stats and the CLI show drops as drop_* and * alone. */
		CHECK(verdict_is_drop(i) == !strncmp(verdict_name(i), "drop_", 5), "verdict %s: drop flag %d",
		      verdict_name(i), verdict_is_drop(i));
		for (j = 0; j < i; j++)
			CHECK(strcmp(verdict_name(i), verdict_name(j)), "verdicts %u and %u share a name", i, j);
	}
}

/* ---- JSON ---- */

static json_object *jget(json_object *o, const char *path)
{
	char buf[256], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && o; tok = strtok_r(NULL, ".", &save)) {
		if (json_object_is_type(o, json_type_array))
			o = json_object_array_get_idx(o, (size_t)atoi(tok));
		else if (!json_object_object_get_ex(o, tok, &o))
			return NULL;
	}
	return o;
}

static const char *jstr(json_object *root, const char *path)
{
	json_object *o = jget(root, path);

	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : "(missing)";
}

static long long jint(json_object *root, const char *path)
{
	json_object *o = jget(root, path);

	return o && json_object_is_type(o, json_type_int) ? json_object_get_int64(o) : -999999;
}

static void json_parses_back_with_the_model(void)
{
	static const char *const server_keys[] = {
		"name", "addr", "status", "class", "admin", "weight", "uweight", "scur", "smax", "stot", "bin",
		"bout", "chkfail", "chkdown", "lastchg", "downtime", "lastsess", "check",
	};
	char *text = render(render_json);
	json_object *root, *o;
	unsigned i;

	CHECK(text != NULL, "render_json failed");
	if (!text)
		return;
	root = json_tokener_parse(text);
	CHECK(root != NULL, "not JSON: %s", text);
	if (!root) {
		free(text);
		return;
	}
	CHECK_STR(jstr(root, "node"), "lb1");
	CHECK_EQ(jint(root, "uptime"), 1000);
	CHECK_STR(jstr(root, "services.0.name"), "be_pgb");
	CHECK_STR(jstr(root, "services.0.bind"), "10.100.1.100:5432");
	CHECK_STR(jstr(root, "services.0.status"), "UP");
	for (i = 0; i < sizeof(server_keys) / sizeof(server_keys[0]); i++) {
		char path[64];

		snprintf(path, sizeof(path), "services.0.servers.0.%s", server_keys[i]);
		CHECK(jget(root, path) != NULL, "missing %s", path);
	}
	CHECK_STR(jstr(root, "services.0.servers.0.addr"), "10.100.1.5:6432");
	CHECK_STR(jstr(root, "services.0.servers.0.check.status"), "L4OK");
	CHECK_EQ(jint(root, "services.0.servers.0.stot"), 4800);
	CHECK_EQ(jint(root, "services.0.servers.0.lastsess"), 10);
	CHECK_STR(jstr(root, "services.0.servers.1.status"), "UP 2/3");
	CHECK(json_object_get_boolean(jget(root, "services.0.servers.1.check.running")), "check.running");
	CHECK_STR(jstr(root, "services.0.servers.2.class"), "DOWN");
	CHECK_EQ(jint(root, "services.0.servers.2.downtime"), 35);
	CHECK_STR(jstr(root, "services.0.servers.3.check.desc"), quoted_desc);
	CHECK_STR(jstr(root, "services.0.servers.3.check.code"), "28P01");
	CHECK_EQ(jint(root, "services.0.servers.3.check.rise"), 2);
	CHECK_EQ(jint(root, "services.0.servers.3.check.health"), 1);
	CHECK_STR(jstr(root, "services.0.servers.4.admin"), "drain");
	CHECK_STR(jstr(root, "services.0.servers.5.status"), "MAINT");
	CHECK_STR(jstr(root, "services.1.servers.0.status"), "no check");
	o = jget(root, "services.1.servers.0");
	CHECK(o && json_object_object_get_ex(o, "check", &o) && o == NULL, "a server without check has check: null");
	CHECK_EQ(jint(root, "services.1.servers.0.lastsess"), -1);
	CHECK_EQ(jint(root, "datapath.verdicts.fwd_new"), 101);
	CHECK_EQ(jint(root, "datapath.verdicts.reset"), 114);
	CHECK_EQ(json_object_object_length(jget(root, "datapath.verdicts")), PGS_R_MAX);
	CHECK_EQ(jint(root, "datapath.flows"), 42);
	CHECK_EQ(jint(root, "datapath.flows_max"), 1024);
	CHECK_EQ(jint(root, "datapath.expired"), 7);
	CHECK_STR(jstr(root, "vrrp.state"), "MASTER");
	CHECK_EQ(jint(root, "vrrp.vrid"), 51);
	CHECK_EQ(jint(root, "vrrp.rx_dropped.ttl"), 1);
	CHECK_EQ(jint(root, "alerts.sent"), 5);
	json_object_put(root);
	free(text);

	model.vrrp.enabled = 0;
	text = render(render_json);
	model.vrrp.enabled = 1;
	root = text ? json_tokener_parse(text) : NULL;
	CHECK(root && !jget(root, "vrrp"), "vrrp object without VRRP");
	json_object_put(root);
	free(text);
}

/* A service's SYN-flood facts in every format: mode, flood mode, the cookie verdicts (named as in
 * PGS_REASONS) on the FRONTEND row of the CSV, in /metrics and in the JSON. */
static void synflood_in_every_format(void)
{
	struct service_rt *svc = &model.services[0];
	json_object *root;
	struct fields f;
	char *text;

	svc->cfg.syn_cookies = PGS_COOKIES_ALWAYS;
	svc->syn.flood = 1;
	svc->syn.alerted = 1;
	svc->syn.floods = 2;
	svc->syn.verdicts[PGS_R_COOKIE_SENT] = 70001;
	svc->syn.verdicts[PGS_R_COOKIE_VALID] = 52;
	svc->syn.verdicts[PGS_R_DROP_COOKIE_INVALID] = 7;

	text = render(render_csv);
	CHECK(text && find_row(text, "be_pgb", "FRONTEND", &f) == 0, "no FRONTEND row");
	if (text && f.n == OURCOLS) {
		CHECK_STR(f.v[NCOLS], "always");
		CHECK_STR(f.v[NCOLS + 1], "1");
		CHECK_STR(f.v[NCOLS + 2], "70001");
		CHECK_STR(f.v[NCOLS + 3], "52");
		CHECK_STR(f.v[NCOLS + 4], "7");
	}
	CHECK(text && find_row(text, "nocheck", "FRONTEND", &f) == 0 && !strcmp(f.v[NCOLS], "auto") &&
	      !strcmp(f.v[NCOLS + 1], "0"), "nocheck: auto, no flood");
	CHECK(text && find_row(text, "be_pgb", "BACKEND", &f) == 0 && !f.v[NCOLS][0], "SYN columns on a BACKEND row");
	free(text);

	text = render(render_prometheus);
	CHECK(text && strstr(text, "\npgsteer_syn_cookies{proxy=\"be_pgb\",mode=\"always\"} 1\n"), "mode gauge");
	CHECK(text && strstr(text, "\npgsteer_syn_cookies{proxy=\"be_pgb\",mode=\"auto\"} 0\n"), "mode gauge, other modes");
	CHECK(text && strstr(text, "\npgsteer_syn_flood{proxy=\"be_pgb\"} 1\n"), "flood gauge");
	CHECK(text && strstr(text, "\npgsteer_syn_flood{proxy=\"nocheck\"} 0\n"), "flood gauge of nocheck");
	CHECK(text && strstr(text, "\npgsteer_syn_floods_total{proxy=\"be_pgb\"} 2\n"), "floods counter");
	CHECK(text && strstr(text, "\npgsteer_service_verdicts_total{proxy=\"be_pgb\",verdict=\"cookie_sent\"} 70001\n"),
	      "cookie_sent");
	CHECK(text && strstr(text, "\npgsteer_service_verdicts_total{proxy=\"be_pgb\",verdict=\"drop_cookie_invalid\"} 7\n"),
	      "drop_cookie_invalid");
	free(text);

	text = render(render_json);
	root = text ? json_tokener_parse(text) : NULL;
	CHECK(root != NULL, "JSON does not parse");
	if (root) {
		CHECK_STR(jstr(root, "services.0.syn_cookies.mode"), "always");
		CHECK(json_object_get_boolean(jget(root, "services.0.syn_cookies.flood")), "flood not true");
		CHECK_EQ(jint(root, "services.0.syn_cookies.floods"), 2);
		CHECK_EQ(jint(root, "services.0.syn_cookies.verdicts.cookie_sent"), 70001);
		CHECK_EQ(jint(root, "services.0.syn_cookies.verdicts.cookie_valid"), 52);
		CHECK_EQ(jint(root, "services.0.syn_cookies.verdicts.drop_cookie_invalid"), 7);
		CHECK_STR(jstr(root, "services.1.syn_cookies.mode"), "auto");
		json_object_put(root);
	}
	free(text);
	fixture();
}

int main(void)
{
	fixture();
	RUN(csv_header_is_haproxys);
	RUN(csv_every_row_has_every_column);
	RUN(csv_server_row_matches_vector);
	RUN(csv_rows_match_real_haproxy);
	RUN(csv_status_strings);
	RUN(csv_backend_down_when_nothing_selectable);
	RUN(csv_quotes_commas_and_quotes);
	RUN(csv_quotes_a_comma_alone);
	RUN(csv_up_and_no_maint_options);
	RUN(csv_consumers_read_scur_and_status);
	RUN(render_reports_write_errors);
	if (system("command -v promtool >/dev/null 2>&1") == 0)
		RUN(prometheus_passes_promtool);
	else
		SKIP("prometheus_passes_promtool", "promtool not installed (Debian package prometheus)");
	RUN(prometheus_families_are_contiguous);
	RUN(prometheus_series);
	RUN(verdict_names_are_complete);
	RUN(json_parses_back_with_the_model);
	RUN(html_page);
	RUN(synflood_in_every_format);
	return h_exit();
}

/* The JSON state files pgsteerd reads at start (statefile_read and what interprets them): the
 * operator's changes (servers.json, persist_load_changes), the health handed over by a restart in
 * place (handover.json, persist_load_handover) and the alerter's state (alerts.json, state_load in
 * alerter_open). The input is written as each of the three files in a state directory on tmpfs and
 * loaded by the real functions into a fresh model and a fresh alerter. Whatever the file holds
 * (hand-edited, from another version, damaged), every server's state stays in range and its check
 * text safe to log, and the alerter's state survives its own write and read: what was queued when
 * it stopped is queued again after the next start (or counted as too old), nothing lost, every
 * text of it safe to log and to post. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "fuzz.h"
#include "fuzz_conn.h"
#include "alert.h"
#include "config.h"
#include "http.h"
#include "persist.h"
#include "statefile.h"
#include "statewriter.h"

static const char conf[] = "global\n    interface lo\n    node-name fuzz\n"
			   "service pgsql\n    bind 127.0.0.100:5432\n    check tcp inter 2s fall 3 rise 2 timeout 1s\n"
			   "    server pgb1 127.0.0.1:6432\n    server pgb2 127.0.0.1:6433 disabled\n"
			   "    server pgb3 127.0.0.1:6434 weight 7\n";
static struct config cfg;
static struct model model;
static struct loop *loop;
static struct http *http;
static char dir[64], changes[96], handover[96], alerts[96], corrupt[112];

static void cleanup(void)
{
	unlink(changes);
	unlink(handover);
	unlink(alerts);
	unlink(corrupt);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256];

	fuzz_model("fuzz_statefile", conf, &cfg, &model);
	/* tmpfs: the alerter's fsyncs cost nothing */
	snprintf(dir, sizeof(dir), "/dev/shm/pgsteer-fuzz-state.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("fuzz_statefile: mkdtemp");
		abort();
	}
	snprintf(changes, sizeof(changes), "%s/servers.json", dir);
	snprintf(handover, sizeof(handover), "%s/handover.json", dir);
	snprintf(alerts, sizeof(alerts), "%s/alerts.json", dir);
	snprintf(corrupt, sizeof(corrupt), "%s/alerts.json.corrupt", dir);
	atexit(cleanup);
	loop = loop_new();
	http = loop ? http_new(loop, err, sizeof(err)) : NULL;
	if (!http) {
		fprintf(stderr, "fuzz_statefile: %s\n", loop ? err : "loop_new failed");
		abort();
	}
	return 0;
}

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");

	assert(f);
	assert(fwrite(data, 1, size, f) == size || size == 0);
	assert(fclose(f) == 0);
}

/* What a start made of the servers: every field the files may set, in range. */
static void judge_servers(void)
{
	uint64_t now = now_ms();
	int i, j;

	for (i = 0; i < model.nservices; i++)
		for (j = 0; j < model.services[i].nservers; j++) {
			const struct server_rt *s = &model.services[i].servers[j];

			assert(s->admin == ADMIN_READY || s->admin == ADMIN_DRAIN || s->admin == ADMIN_MAINT);
			assert(s->uweight <= 256);
			assert(s->health.health < s->health.rise + s->health.fall);
			assert(s->health.up == 0 || s->health.up == 1);
			assert(s->last.status < CHK_MAX && (s->last.ok == 0 || s->last.ok == 1));
			assert(memchr(s->last.code, '\0', sizeof(s->last.code)) && fuzz_clean_text(s->last.code));
			assert(memchr(s->last.desc, '\0', sizeof(s->last.desc)) && fuzz_clean_text(s->last.desc));
			assert(s->last_change_ms <= now && s->down_since_ms <= now && s->up_since_ms <= now);
			assert(s->downtime_ms <= now);
			server_class(s);
		}
}

/* The alerter's queue as it wrote it back: every text safe to log and to post. */
static void judge_written_queue(void)
{
	struct json_object *root = NULL, *q, *it, *v, *f;
	static const char *const keys[] = { "title", "text" };
	char err[256];
	size_t i, j, k;

	assert(statefile_read(alerts, &root, err, sizeof(err)) == 0);
	if (json_object_object_get_ex(root, "queue", &q))
		for (i = 0; i < json_object_array_length(q); i++) {
			it = json_object_array_get_idx(q, i);
			for (k = 0; k < 2; k++)
				if (json_object_object_get_ex(it, keys[k], &v))
					assert(fuzz_clean_text(json_object_get_string(v)));
			if (json_object_object_get_ex(it, "fields", &f))
				for (j = 0; j < json_object_array_length(f); j++)
					for (k = 0; k < 2; k++)
						assert(fuzz_clean_text(json_object_get_string(
							json_object_array_get_idx(json_object_array_get_idx(f, j), k))));
		}
	json_object_put(root);
}

static struct alerter *open_alerter(void)
{
	struct alert_params p = { .node = "fuzz", .state_path = alerts, .cfg = &cfg, .http = http };
	char err[256];
	struct alerter *a = alerter_open(loop, &p, err, sizeof(err));

	if (!a) {
		fprintf(stderr, "fuzz_statefile: alerter_open: %s\n", err);
		abort();
	}
	return a;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alert_counters c1, c2;
	struct alerter *a;

	model_init(&model, &cfg, now_ms(), NULL);
	put(changes, data, size);
	persist_load_changes(&model, dir);
	judge_servers();
	put(handover, data, size);
	persist_load_handover(&model, dir);
	judge_servers();

	/* The alerter's state: loaded, changed (without a webhook the change is only logged, and the
	 * queue as loaded is kept), written when the alerter stops, loaded again by the next one. */
	unlink(corrupt);
	put(alerts, data, size);
	a = open_alerter();
	alerter_counters(a, &c1);
	assert(c1.queued <= ALERT_QUEUE_MAX);
	alert_class(a, "pgsql", "pgb1", CLASS_DOWN, "L4CON", "Connection refused");
	alert_class(a, "pgsql", "pgb1", CLASS_UP, "L4OK", NULL);
	alerter_counters(a, &c1);
	assert(c1.queued <= ALERT_QUEUE_MAX);
	alerter_free(a);
	statewriter_drain();
	judge_written_queue();
	unlink(corrupt);
	a = open_alerter();
	alerter_counters(a, &c2);
	assert(access(corrupt, F_OK) != 0); /* what the alerter wrote, it can read */
	assert(c2.queued + c2.dropped == c1.queued);
	alerter_free(a);
	return 0;
}

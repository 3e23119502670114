/* The runtime API's answers the CLI turns into exit codes: HAProxy's typed forms (show stat json,
 * show info json) and unknown commands are refused in words pgsteer recognises. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "harness.h"
#include "config.h"
#include "loop.h"
#include "log.h"
#include "runtime.h"

static const char conf[] = "global\n    interface lo\nservice pgsql\n    bind 127.0.0.1:5432\n"
			   "    server pgb1 127.0.0.1:6432\n";

int main(void)
{
	static const struct {
		const char *cmd, *prefix;
	} t[] = {
		{ "show stat json", "Not supported: 'show stat json'" },
		{ "show stat typed", "Not supported: 'show stat typed'" },
		{ "show info json", "Not supported: 'show info json'" },
		{ "bogus", "Unknown command 'bogus'" },
		{ "show info", "Name: pgsteer\n" },
		{ "show stat", "# pxname,svname," },
	};
	static const struct runtime_ops ops;
	static struct config cfg;
	static struct model model;
	char err[256], path[64], name[64];
	struct runtime *rt;
	struct loop *loop;
	size_t i;

	log_init(0);
	h_begin("runtime_cli/setup");
	CHECK(config_parse(conf, "t.conf", &cfg, err, sizeof(err)) == 0, "%s", err);
	model_init(&model, &cfg, now_ms(), NULL);
	snprintf(path, sizeof(path), "/tmp/pgsteer-test-rt.%d.sock", (int)getpid());
	loop = loop_new();
	rt = loop ? runtime_new(loop, path, &model, &ops, NULL, err, sizeof(err)) : NULL;
	CHECK(rt != NULL, "runtime_new: %s", err);
	h_end();
	if (!rt)
		return 1;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *answer = NULL, line[64];
		size_t alen = 0;
		FILE *out = open_memstream(&answer, &alen);

		snprintf(name, sizeof(name), "runtime_cli/%s", t[i].cmd);
		h_begin(name);
		snprintf(line, sizeof(line), "%s", t[i].cmd);
		runtime_exec(rt, line, out);
		fclose(out);
		CHECK(answer && !strncmp(answer, t[i].prefix, strlen(t[i].prefix)), "answer '%s'", answer ? answer : "");
		free(answer);
		h_end();
	}
	runtime_free(rt);
	unlink(path);
	return h_exit();
}

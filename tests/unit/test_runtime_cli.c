/* The runtime API's answers the CLI turns into exit codes: HAProxy's typed forms (show stat json,
 * show info json) and unknown commands are refused in words pgsteer recognises. And who may connect:
 * the socket's mode and group, tried by a process that is in the group and one that is not. */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include "harness.h"
#include "config.h"
#include "loop.h"
#include "log.h"
#include "runtime.h"

static const char conf[] = "global\n    interface lo\nservice pgsql\n    bind 127.0.0.100:5432\n"
			   "    server pgb1 127.0.0.1:6432\n";

/* connect() to path as uid/gid 65534 with gid as its only supplementary group: 0 or the errno. */
static int connect_as(const char *path, gid_t group)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int status, fd;
	pid_t pid;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	pid = fork();
	if (pid == 0) {
		if (setgroups(1, &group) || setgid(65534) || setuid(65534))
			_exit(100);
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		_exit(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : errno);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void socket_mode_and_group(struct loop *loop, struct model *model)
{
	static const struct runtime_ops ops;
	char path[64], err[256];
	struct runtime *rt;
	struct stat st;
	gid_t gid = geteuid() == 0 ? 4242 : getegid();
	char group[16];
	int r;

	snprintf(path, sizeof(path), "/tmp/pgsteer-test-rt-mode.%d.sock", (int)getpid());
	snprintf(group, sizeof(group), "%u", (unsigned)gid);
	h_begin("runtime_cli/socket_mode_and_group");
	rt = runtime_new(loop, path, 0660, group, model, &ops, NULL, err, sizeof(err));
	CHECK(rt != NULL, "runtime_new: %s", err);
	CHECK(rt && stat(path, &st) == 0 && (st.st_mode & 07777) == 0660 && st.st_gid == gid,
	      "socket mode %o group %u, expected 660 group %u", (unsigned)(st.st_mode & 07777), (unsigned)st.st_gid,
	      (unsigned)gid);
	h_end();
	if (geteuid() != 0)
		SKIP("runtime_cli/socket_refuses_others", "needs root to act as another user");
	else {
		h_begin("runtime_cli/socket_refuses_others");
		r = connect_as(path, 4243);
		CHECK(r == EACCES, "a process outside group 4242: %s, expected EACCES", r > 0 ? strerror(r) : "connected");
		r = connect_as(path, 4242);
		CHECK(r == 0, "a process in group 4242: %s", r > 0 ? strerror(r) : "failed");
		h_end();
	}
	runtime_free(rt);
	h_begin("runtime_cli/socket_unknown_group");
	rt = runtime_new(loop, path, 0660, "no-such-group-pgsteer", model, &ops, NULL, err, sizeof(err));
	CHECK(!rt && strstr(err, "no group 'no-such-group-pgsteer'"), "runtime_new: %s", rt ? "succeeded" : err);
	runtime_free(rt);
	h_end();
}

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
	rt = loop ? runtime_new(loop, path, 0600, "", &model, &ops, NULL, err, sizeof(err)) : NULL;
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
	socket_mode_and_group(loop, &model);
	loop_free(loop);
	return h_exit();
}

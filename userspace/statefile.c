/* Atomic JSON state files: temp file, write, fsync, rename, fsync the directory; tolerant reads. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "statefile.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/* fsync the directory holding path, so the rename itself is durable. */
static int sync_dir(const char *path)
{
	char copy[PATH_MAX];
	int fd, err = 0;

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		return -ENAMETOOLONG;
	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int statefile_write_bytes(const char *path, const char *buf, size_t len)
{
	char tmp[PATH_MAX];
	int fd, err;

	/* Same directory as the target: rename(2) is only atomic within one file system. */
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, buf, len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	return sync_dir(path);
}

char *statefile_text(struct json_object *obj, size_t *lenp)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	size_t len;
	char *buf;

	if (!s)
		return NULL;
	/* End with a newline, as a text file should. */
	len = strlen(s);
	buf = malloc(len + 2);
	if (!buf)
		return NULL;
	memcpy(buf, s, len);
	buf[len++] = '\n';
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

int statefile_write(const char *path, struct json_object *obj)
{
	size_t len;
	char *buf = statefile_text(obj, &len);
	int err;

	if (!buf)
		return -ENOMEM;
	err = statefile_write_bytes(path, buf, len);
	free(buf);
	return err;
}

int statefile_read(const char *path, struct json_object **obj, char *err, size_t errlen)
{
	struct json_tokener *tok = NULL;
	struct json_object *o = NULL;
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd, ret;

	*obj = NULL;
	if (errlen)
		err[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (st.st_size > STATEFILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: larger than %u bytes", path, STATEFILE_MAX);
		goto out;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size && (n = read(fd, buf + got, st.st_size - got)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			goto out;
		}
		got += n;
	}
	buf[got] = '\0';
	tok = json_tokener_new();
	if (!tok) {
		ret = -ENOMEM;
		goto out;
	}
	o = json_tokener_parse_ex(tok, buf, (int)got + 1); /* the NUL ends the document */
	if (!o) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		ret = -EBADMSG;
		snprintf(err, errlen, "%s: not JSON (%s at byte %zu)", path,
			 got ? json_tokener_error_desc(je) : "empty file", json_tokener_get_parse_end(tok));
		goto out;
	}
	/* Anything but white space after the document means it is not ours. */
	for (n = json_tokener_get_parse_end(tok); (size_t)n < got && strchr(" \t\r\n", buf[n]); n++)
		;
	if ((size_t)n < got || !json_object_is_type(o, json_type_object)) {
		ret = -EBADMSG;
		snprintf(err, errlen, "%s: not a JSON object%s", path, (size_t)n < got ? " (trailing data)" : "");
		json_object_put(o);
		goto out;
	}
	*obj = o;
	ret = 0;
out:
	if (tok)
		json_tokener_free(tok);
	free(buf);
	close(fd);
	return ret;
}

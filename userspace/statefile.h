/* Small JSON state files, replaced atomically so a crash leaves the old file or the new, never half. */
#ifndef PGS_STATEFILE_H
#define PGS_STATEFILE_H

#include <stddef.h>
#include <json-c/json.h>

/* Write obj to path: a temporary file in the same directory, write, fsync, rename over path, fsync
 * the directory. The file is created 0600. 0 or -errno; the temporary file never survives an error. */
int statefile_write(const char *path, struct json_object *obj);
/* The same for raw bytes. */
int statefile_write_bytes(const char *path, const char *buf, size_t len);
/* obj as the file holds it (pretty JSON and a newline), malloc'ed, its length in *len; NULL: ENOMEM. */
char *statefile_text(struct json_object *obj, size_t *len);

/* Read a JSON object from path into *obj (caller json_object_put()s it). 0; -ENOENT when there is no
 * file (a first run); -EBADMSG when it is not a JSON object, with "path: why" in err; other -errno.
 * Files larger than STATEFILE_MAX are refused with -EFBIG. */
#define STATEFILE_MAX (4u << 20)
int statefile_read(const char *path, struct json_object **obj, char *err, size_t errlen);

#endif

/* Text that came from outside (a server's error message, a peer's name) made safe to log, to put in
 * JSON and in a Slack message: one line of valid UTF-8. */
#ifndef PGS_TEXT_H
#define PGS_TEXT_H

#include <stddef.h>

/* In place: control characters (newlines included: no log injection) become spaces, bytes that
 * are not valid UTF-8 become '?', and a character cut at the end (by a bounded copy) is removed.
 * Returns the new length. */
size_t text_clean(char *s);

/* The next line of a file read into memory at *cur that says something: split in place, trimmed,
 * blank lines and '#' comments skipped; *lineno counts every line. NULL at the end. */
char *text_next_line(char **cur, int *lineno);

/* Append "name:line: what" (or "name: what" when line is 0) to err, newline-separated, as the
 * config's own errors are listed, and count it in *nerr; a full err keeps counting. */
void text_err_add(char *err, size_t errlen, int *nerr, const char *name, int line, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

#endif

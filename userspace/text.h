/* Text that came from outside (a server's error message, a peer's name) made safe to log, to put in
 * JSON and in a Slack message: one line of valid UTF-8. */
#ifndef PGS_TEXT_H
#define PGS_TEXT_H

#include <stddef.h>

/* In place: control characters (newlines included: no log injection) become spaces, bytes that
 * are not valid UTF-8 become '?', and a character cut at the end (by a bounded copy) is removed.
 * Returns the new length. */
size_t text_clean(char *s);

#endif

/* See text.h. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "text.h"

/* Length of the valid UTF-8 sequence at p (1..4), 0 if it is not one, -1 if the string ends inside
 * it (a cut character). Overlong forms, surrogates and code points past U+10FFFF are not valid. */
static int utf8_len(const unsigned char *p)
{
	int n, i;
	unsigned cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		n = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		n = 4, cp = p[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if (!p[i])
			return -1;
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

size_t text_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;
	size_t i = 0;

	while (p[i]) {
		int n = utf8_len(p + i);

		if (n < 0) { /* cut at the end */
			p[i] = '\0';
			break;
		}
		if (n == 0)
			p[i++] = '?';
		else if (n == 1 && (p[i] < 0x20 || p[i] == 0x7f))
			p[i++] = ' ';
		else
			i += (size_t)n;
	}
	return i;
}

void text_err_add(char *err, size_t errlen, int *nerr, const char *name, int line, const char *fmt, ...)
{
	size_t used = strnlen(err, errlen);
	va_list ap;
	int n;

	(*nerr)++;
	if (used + 2 >= errlen)
		return;
	if (used)
		err[used++] = '\n';
	n = line ? snprintf(err + used, errlen - used, "%s:%d: ", name, line) : snprintf(err + used, errlen - used, "%s: ", name);
	if (n < 0 || (size_t)n >= errlen - used)
		return;
	used += n;
	va_start(ap, fmt);
	vsnprintf(err + used, errlen - used, fmt, ap);
	va_end(ap);
}

char *text_next_line(char **cur, int *lineno)
{
	char *line, *end;

	while ((line = *cur)) {
		*cur = strchr(line, '\n');
		if (*cur)
			*(*cur)++ = '\0';
		(*lineno)++;
		while (isspace((unsigned char)*line))
			line++;
		for (end = line + strlen(line); end > line && isspace((unsigned char)end[-1]); end--)
			;
		*end = '\0';
		if (*line && *line != '#')
			return line;
	}
	return NULL;
}

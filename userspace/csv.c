/* HAProxy-format CSV: decode the whole text in place, then index cells by header name. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "csv.h"

static char empty[] = "";

/* One record: pointers to its decoded fields. */
struct rec {
	char **f;
	int n, cap;
};

static int rec_push(struct rec *r, char *field)
{
	if (r->n == r->cap) {
		int cap = r->cap ? r->cap * 2 : 128;
		char **f;

		if (cap > CSV_MAX_COLS + 1)
			cap = CSV_MAX_COLS + 1;
		if (r->n >= cap)
			return -EINVAL;
		f = realloc(r->f, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		r->f = f;
		r->cap = cap;
	}
	r->f[r->n++] = field;
	return 0;
}

/* Decode one record starting at *rp, writing at *wp; fills r. Returns 1 when a record was read,
 * 0 at the end of the text, -EINVAL on an unterminated quote. */
static int rec_read(char **rp, char **wp, const char *end, struct rec *r)
{
	char *p = *rp, *w = *wp;
	int err;

	r->n = 0;
	if (p >= end)
		return 0;
	for (;;) {
		char *field = w;

		if (p < end && *p == '"') {
			/* Quoted: "" is a quote, the field ends at the closing quote. */
			p++;
			for (;;) {
				if (p >= end)
					return -EINVAL;
				if (*p == '"') {
					if (p + 1 < end && p[1] == '"') {
						*w++ = '"';
						p += 2;
						continue;
					}
					p++;
					break;
				}
				*w++ = *p++;
			}
		}
		while (p < end && *p != ',' && *p != '\n')
			*w++ = *p++;
		if (w > field && w[-1] == '\r' && (p >= end || *p == '\n'))
			w--;
		*w++ = '\0';
		err = rec_push(r, field);
		if (err)
			return err;
		if (p >= end || *p == '\n') {
			if (p < end)
				p++;
			break;
		}
		p++; /* the comma */
	}
	*rp = p;
	*wp = w;
	return 1;
}

static int blank(const struct rec *r)
{
	return r->n == 1 && !r->f[0][0];
}

void csv_free(struct csv *c)
{
	free(c->buf);
	free(c->cols);
	free(c->cells);
	memset(c, 0, sizeof(*c));
}

int csv_parse(struct csv *c, const char *text, size_t len)
{
	struct rec r = {};
	char *p, *w, *end;
	int err, i, cap = 0;

	memset(c, 0, sizeof(*c));
	/* Decoding only shrinks, so cells are written over the copy; one spare byte per field
	 * for its NUL is covered by the separator it replaces, plus one at the end. */
	c->buf = malloc(len + 2);
	if (!c->buf)
		return -ENOMEM;
	memcpy(c->buf, text, len);
	c->buf[len] = '\0';
	p = w = c->buf;
	end = c->buf + len;

	/* The header: "# name,name,...," */
	if (len < 2 || p[0] != '#') {
		err = -EINVAL;
		goto fail;
	}
	p++;
	while (p < end && *p == ' ')
		p++;
	err = rec_read(&p, &w, end, &r);
	if (err <= 0) {
		err = err ? err : -EINVAL;
		goto fail;
	}
	if (r.n > 1 && !r.f[r.n - 1][0])
		r.n--; /* the trailing comma */
	if (r.n < 1 || !r.f[0][0]) {
		err = -EINVAL;
		goto fail;
	}
	c->ncols = r.n;
	c->cols = malloc(r.n * sizeof(*c->cols));
	if (!c->cols) {
		err = -ENOMEM;
		goto fail;
	}
	memcpy(c->cols, r.f, r.n * sizeof(*c->cols));

	/* The rows; blank lines (the final one marks a complete dump) are skipped. */
	while ((err = rec_read(&p, &w, end, &r)) > 0) {
		if (blank(&r))
			continue;
		if (c->nrows == cap) {
			char **cells;

			if (cap >= CSV_MAX_ROWS) {
				err = -EINVAL;
				goto fail;
			}
			cap = cap ? cap * 2 : 16;
			/* Short rows are padded to the header's width: a wide header over many one-field
			 * lines made 37 KB of text take 129 MB of cells. A dump spends at least one byte
			 * (its comma) per cell, so more cells than bytes (plus a row's worth) is not one. */
			if ((size_t)cap * c->ncols > len + 2 * (size_t)c->ncols) {
				size_t fit = (len + 2 * (size_t)c->ncols) / c->ncols;

				if ((size_t)c->nrows >= fit) {
					err = -EINVAL;
					goto fail;
				}
				cap = (int)fit;
			}
			cells = realloc(c->cells, (size_t)cap * c->ncols * sizeof(*cells));
			if (!cells) {
				err = -ENOMEM;
				goto fail;
			}
			c->cells = cells;
		}
		for (i = 0; i < c->ncols; i++)
			c->cells[(size_t)c->nrows * c->ncols + i] = i < r.n ? r.f[i] : empty;
		c->nrows++;
	}
	if (err < 0)
		goto fail;
	free(r.f);
	return 0;
fail:
	free(r.f);
	csv_free(c);
	return err;
}

int csv_col(const struct csv *c, const char *name)
{
	int i;

	for (i = 0; i < c->ncols; i++)
		if (!strcmp(c->cols[i], name))
			return i;
	return -ENOENT;
}

const char *csv_cell(const struct csv *c, int row, int col)
{
	if (row < 0 || row >= c->nrows || col < 0 || col >= c->ncols)
		return empty;
	return c->cells[(size_t)row * c->ncols + col];
}

const char *csv_get(const struct csv *c, int row, const char *name)
{
	int col = csv_col(c, name);

	return col < 0 ? NULL : csv_cell(c, row, col);
}

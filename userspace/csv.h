/* A parser for HAProxy-format CSV ("# pxname,svname,..." header, trailing commas, quoted values),
 * read by column name: pure, no I/O. */
#ifndef PGS_CSV_H
#define PGS_CSV_H

#include <stddef.h>

/* The parsed table; every cell is a NUL-terminated string, "" when the row is shorter than the header. */
struct csv {
	char *buf;      /* decoded copy of the input; cells point into it */
	int ncols;
	char **cols;    /* header names, without the "# " */
	int nrows;
	char **cells;   /* nrows * ncols */
};

#define CSV_MAX_COLS 1024
#define CSV_MAX_ROWS 10000

/* Parse text (len bytes, need not be NUL-terminated). 0, or -EINVAL (no "# " header, unterminated
 * quote, too many columns or rows, more cells than the text has bytes) or -ENOMEM; on error c is
 * left empty. The cells take at most about 16 bytes per byte of text. */
int csv_parse(struct csv *c, const char *text, size_t len);
void csv_free(struct csv *c);

/* Index of a column by name, or -ENOENT. */
int csv_col(const struct csv *c, const char *name);
/* The cell at row and column index; "" when out of range. */
const char *csv_cell(const struct csv *c, int row, int col);
/* The cell at row in the named column; NULL when there is no such column. */
const char *csv_get(const struct csv *c, int row, const char *name);

#endif

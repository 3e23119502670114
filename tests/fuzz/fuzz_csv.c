/* The HAProxy CSV reader (csv_parse, monitor_servers): `pgsteer monitor` reads it from any URL. Any
 * input is parsed or refused; cells are in bounds; memory stays proportional to the input. */
#include <assert.h>
#include "fuzz.h"
#include "csv.h"
#include "monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct monitor_row rows[64];
	char *text = malloc(size ? size : 1); /* not NUL-terminated: the parser must not need it */
	struct csv c;
	int n, i, j;

	memcpy(text, data, size);
	if (csv_parse(&c, text, size) == 0) {
		assert(c.ncols > 0 && c.ncols <= CSV_MAX_COLS && c.nrows >= 0 && c.nrows <= CSV_MAX_ROWS);
		for (i = 0; i < c.nrows && i < 8; i++)
			for (j = 0; j < c.ncols; j++)
				assert(csv_cell(&c, i, j) != NULL);
		assert(csv_cell(&c, c.nrows, 0) != NULL && csv_cell(&c, 0, c.ncols) != NULL);
		n = monitor_servers(&c, rows, 64);
		assert(n <= 64);
		for (i = 0; i < n; i++)
			assert(rows[i].service && rows[i].server && rows[i].status);
		csv_free(&c);
	}
	free(text);
	return 0;
}

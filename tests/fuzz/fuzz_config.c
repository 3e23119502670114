/* The config file parser (config_parse): operator input, read at start, reload and `pgsteerd -n`.
 * Any input gives 0 or an error naming file:line, never a crash; what it accepts is consistent. */
#include <assert.h>
#include <stdio.h>
#include "fuzz.h"
#include "config.h"

static struct config cfg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_str(data, size), err[512];
	int rc, i;

	memset(err, 0, sizeof(err));
	rc = config_parse(text, "fuzz.conf", &cfg, err, sizeof(err));
	if (rc) {
		/* an error names the file (and a line) */
		assert(!strncmp(err, "fuzz.conf", 9));
	} else {
		assert(cfg.nservices >= 0 && cfg.nservices <= PGS_MAX_SERVICES);
		for (i = 0; i < cfg.nservices; i++)
			assert(cfg.services[i].nservers >= 0 && cfg.services[i].nservers <= PGS_MAX_SERVERS);
	}
	free(text);
	return 0;
}

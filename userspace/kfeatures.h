/* The kernel features the datapath needs, probed before loading it: an older kernel is refused at
 * start with a sentence naming what it lacks, not a verifier or libbpf error. */
#ifndef PGS_KFEATURES_H
#define PGS_KFEATURES_H

#include <stddef.h>

#define PGS_MIN_KERNEL "6.0" /* the raw SYN-cookie helpers, the newest the datapath calls */

/* 0 when every feature is there; -EOPNOTSUPP with the first missing one named in err; -errno when
 * the probe itself could not run (no BPF permission: the caller's error then names that). */
int kfeatures_check(char *err, size_t errlen);

#endif

/* SYN floods per service: the syn-cookies mode, whether the datapath is in flood mode now
 * (pgs_synguard.flood_until_ns, bpf/lib/synguard.h) and the service's SYN-cookie verdicts
 * (pgs_svc_verdicts), read into the model every tick; an alert when a service enters flood mode
 * and one when it has left it, deduplicated by the alerter (alert_flood). */
#ifndef PGS_SYNFLOOD_H
#define PGS_SYNFLOOD_H

#include <stdint.h>
#include "alert.h"
#include "backend.h"

struct datapath;

/* A flood is over once the datapath showed no sign of it for this long: the datapath's own hold is
 * 2 s (PGS_FLOOD_HOLD_NS), and a flood that pauses a moment is still one flood. */
#define SYNFLOOD_QUIET_MS 5000

/* The verdicts counted per service, in the order every format shows them (names: verdict_name). */
#define SYNFLOOD_NREASONS 3
extern const enum pgs_reason synflood_reasons[SYNFLOOD_NREASONS];

/* "auto", "always", "off" (enum pgs_syn_cookies). */
const char *synflood_mode_name(uint32_t mode);

/* Read the datapath into the model and tell the alerter on every tick (ctl_hooks). 0 or -errno. */
int synflood_start(struct datapath *dp, struct model *m, struct alerter *a);

/* One service's flood mode as the alerts tell it: entered at the first sign, left SYNFLOOD_QUIET_MS
 * after the last. Until either happened since start it is unknown (known 0): a flood told before a
 * restart is neither repeated nor declared over too early. */
struct synflood_track {
	int known;
	int flooded;
	uint64_t last_sign_ms;   /* monotonic */
	uint64_t since_ms;       /* monotonic start of the current flood */
};
void synflood_track_init(struct synflood_track *t, uint64_t now_ms);
/* The datapath is (sign 1) or is not in flood mode at now_ms. Returns 1 when the flood begins, -1
 * when it is over, 0 otherwise. */
int synflood_step(struct synflood_track *t, int sign, uint64_t now_ms);

#endif

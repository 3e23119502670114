/* HAProxy's check health counter (inter/fall/rise) and status strings: pure functions. */
#ifndef PGS_HEALTH_H
#define PGS_HEALTH_H

#include <stddef.h>
#include <stdint.h>

/* health runs from 0 to rise + fall - 1; the server is UP from rise upward (HAProxy's model). */
struct health {
	uint32_t rise;
	uint32_t fall;
	uint32_t health;
	int up;        /* on the UP side: selectable unless drained or in maintenance */
};

enum admin_state { ADMIN_READY, ADMIN_DRAIN, ADMIN_MAINT };

/* Start UP with health = rise, so the first failed check marks the server DOWN (HAProxy). */
void health_init(struct health *h, uint32_t rise, uint32_t fall);

/* Feed one check result; returns +1 when the server just went UP, -1 when it just went DOWN, else 0. */
int health_result(struct health *h, int ok);

/* Force a state (passive detection confirmed, runtime command): DOWN at health 0, or fully UP. */
void health_force(struct health *h, int up);

/* 1 while a change is under way (UP n/m or DOWN n/m): HAProxy checks at fastinter then. */
int health_transitional(const struct health *h);

/* The status column as HAProxy prints it: "UP", "UP 2/3", "DOWN", "DOWN 1/2", "DRAIN", "MAINT",
 * "no check". */
const char *health_status(const struct health *h, enum admin_state admin, int checked, char *buf, size_t len);

#endif

/* HAProxy's check health counter (inter/fall/rise) and its status strings: pure functions. */
#include <stdio.h>
#include "health.h"

static uint32_t health_max(const struct health *h)
{
	return h->rise + h->fall - 1;
}

void health_init(struct health *h, uint32_t rise, uint32_t fall)
{
	h->rise = rise ? rise : 1;
	h->fall = fall ? fall : 1;
	h->health = h->rise;
	h->up = 1;
}

/* HAProxy's set_server_check_status(): a failure drops to 0 as soon as the counter leaves the UP
 * side; a success on the UP side restores it fully. */
int health_result(struct health *h, int ok)
{
	if (ok) {
		if (h->health < health_max(h)) {
			h->health++;
			if (h->health >= h->rise)
				h->health = health_max(h);
		}
	} else if (h->health > 0) {
		h->health--;
		if (h->health < h->rise)
			h->health = 0;
	}

	if (h->up && h->health == 0) {
		h->up = 0;
		return -1;
	}
	if (!h->up && h->health >= h->rise) {
		h->up = 1;
		return 1;
	}
	return 0;
}

void health_force(struct health *h, int up)
{
	h->health = up ? health_max(h) : 0;
	h->up = !!up;
}

/* HAProxy's srv_getinter(): anything but fully UP or fully DOWN checks at fastinter, including
 * the start state (UP at health = rise, not yet confirmed). */
int health_transitional(const struct health *h)
{
	return h->health != 0 && h->health != health_max(h);
}

/* HAProxy's stats_fill_sv_stats(): MAINT over everything, then the health side, with DRAIN shown
 * only on the UP side; "no check" only for a plain UP without checks. */
const char *health_status(const struct health *h, enum admin_state admin, int checked, char *buf, size_t len)
{
	int going_down = checked && h->up && h->health < health_max(h);

	if (admin == ADMIN_MAINT)
		snprintf(buf, len, "MAINT");
	else if (h->up && admin == ADMIN_DRAIN && going_down)
		snprintf(buf, len, "DRAIN %u/%u", h->health - h->rise + 1, h->fall);
	else if (h->up && admin == ADMIN_DRAIN)
		snprintf(buf, len, "DRAIN");
	else if (going_down)
		snprintf(buf, len, "UP %u/%u", h->health - h->rise + 1, h->fall);
	else if (h->up)
		snprintf(buf, len, checked ? "UP" : "no check");
	else if (checked && h->health > 0)
		snprintf(buf, len, "DOWN %u/%u", h->health, h->rise);
	else
		snprintf(buf, len, "DOWN");
	return buf;
}

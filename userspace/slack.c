/* Alert wording (the seed's: "pgb2 is DOWN", "Recovery: pgb2 is back UP", "VIP migrated to lb2, lb1 is
 * DOWN", "Recovery: lb1 rejoined") and the Slack incoming-webhook body built with json-c. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "slack.h"

static const char *const class_word[] = {
	[CLASS_UP] = "UP", [CLASS_DOWN] = "DOWN", [CLASS_DRAIN] = "DRAIN", [CLASS_MAINT] = "MAINT",
};

const char *slack_colour_name(enum slack_colour c)
{
	switch (c) {
	case SLACK_DANGER: return "danger";
	case SLACK_WARNING: return "warning";
	case SLACK_GOOD: return "good";
	}
	return "warning";
}

void slack_duration(uint64_t s, char *buf, size_t len)
{
	if (s < 60)
		snprintf(buf, len, "%llus", (unsigned long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", (unsigned long long)(s / 60), (unsigned long long)(s % 60));
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(buf, len, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
}

static void ev_start(struct slack_event *ev, enum slack_colour colour, uint64_t ts, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ev_start(struct slack_event *ev, enum slack_colour colour, uint64_t ts, const char *fmt, ...)
{
	va_list ap;

	memset(ev, 0, sizeof(*ev));
	ev->colour = colour;
	ev->ts = ts;
	va_start(ap, fmt);
	vsnprintf(ev->title, sizeof(ev->title), fmt, ap);
	va_end(ap);
}

static void ev_field(struct slack_event *ev, const char *title, const char *value)
{
	struct slack_field *f;

	if (!value || !value[0] || ev->nfields == SLACK_MAX_FIELDS)
		return;
	f = &ev->fields[ev->nfields++];
	snprintf(f->title, sizeof(f->title), "%s", title);
	snprintf(f->value, sizeof(f->value), "%s", value);
}

/* text = title (field value, field value, ...): the facts in one line, for clients without
 * attachments and for the coalesced digest; the field named omit is the title's subject already. */
static void ev_finish(struct slack_event *ev, const char *omit)
{
	size_t n = snprintf(ev->text, sizeof(ev->text), "%s", ev->title);
	const char *sep = " (";
	int i;

	for (i = 0; i < ev->nfields && n < sizeof(ev->text); i++) {
		const struct slack_field *f = &ev->fields[i];

		if (omit && !strcmp(f->title, omit))
			continue;
		/* The downtime reads as it is ("down for 12s"); the others as "name value". */
		if (!strcmp(f->title, "downtime"))
			n += snprintf(ev->text + n, sizeof(ev->text) - n, "%s%s", sep, f->value);
		else
			n += snprintf(ev->text + n, sizeof(ev->text) - n, "%s%s %s", sep, f->title, f->value);
		sep = ", ";
	}
	if (sep[0] == ',' && n < sizeof(ev->text))
		snprintf(ev->text + n, sizeof(ev->text) - n, ")");
}

void slack_server(struct slack_event *ev, const char *node, const char *service, const char *server,
		  enum srv_class from, enum srv_class to, const char *check_status, const char *check_desc,
		  uint64_t down_s, uint64_t ts)
{
	char check[200] = "", dur[32], down[64] = "";

	switch (to) {
	case CLASS_UP:
		ev_start(ev, SLACK_GOOD, ts, "Recovery: %s is back UP", server);
		break;
	case CLASS_DOWN:
		ev_start(ev, SLACK_DANGER, ts, "%s is DOWN", server);
		break;
	case CLASS_DRAIN:
		ev_start(ev, SLACK_WARNING, ts, "%s is DRAIN", server);
		break;
	case CLASS_MAINT:
	default:
		ev_start(ev, SLACK_DANGER, ts, "%s is in MAINT", server);
		break;
	}
	if (check_status && check_status[0] && check_desc && check_desc[0])
		snprintf(check, sizeof(check), "%s: %s", check_status, check_desc);
	else if (check_status && check_status[0])
		snprintf(check, sizeof(check), "%s", check_status);
	else if (check_desc)
		snprintf(check, sizeof(check), "%s", check_desc);
	if (from != CLASS_UP && from != to && down_s != UINT64_MAX && (unsigned)from <= CLASS_MAINT) {
		slack_duration(down_s, dur, sizeof(dur));
		if (from == CLASS_DOWN)
			snprintf(down, sizeof(down), "down for %s", dur);
		else
			snprintf(down, sizeof(down), "in %s for %s", class_word[from], dur);
	}
	ev_field(ev, "node", node);
	ev_field(ev, "service", service);
	ev_field(ev, "server", server);
	ev_field(ev, "check", check);
	ev_field(ev, "downtime", down);
	ev_finish(ev, "server");
}

void slack_vrrp(struct slack_event *ev, enum vrrp_alert kind, const char *self, const char *peer,
		const char *why, uint64_t ts)
{
	int has_peer = peer && peer[0];

	switch (kind) {
	case VRRP_ALERT_TAKEOVER:
		if (has_peer)
			ev_start(ev, SLACK_DANGER, ts, "VIP migrated to %s, %s is DOWN", self, peer);
		else
			ev_start(ev, SLACK_DANGER, ts, "VIP migrated to %s, the old master is DOWN", self);
		break;
	case VRRP_ALERT_PREEMPT:
		if (has_peer)
			ev_start(ev, SLACK_WARNING, ts, "VIP migrated to %s, %s is BACKUP", self, peer);
		else
			ev_start(ev, SLACK_WARNING, ts, "VIP migrated to %s", self);
		break;
	case VRRP_ALERT_REJOINED: /* the seed's "Recovery: HAProxy1 rejoined / System at full HA capacity" */
		ev_start(ev, SLACK_GOOD, ts, "Recovery: %s rejoined", self);
		break;
	case VRRP_ALERT_FAULT:
		ev_start(ev, SLACK_DANGER, ts, "%s is FAULT: %s, VIP released", self,
			 why && why[0] ? why : "unknown fault");
		break;
	case VRRP_ALERT_BACKUP:
	default:
		ev_start(ev, SLACK_WARNING, ts, "%s is BACKUP", self);
		break;
	}
	ev_field(ev, "node", self);
	ev_field(ev, "peer", peer);
	if (kind == VRRP_ALERT_REJOINED && has_peer)
		snprintf(ev->text, sizeof(ev->text), "%s, system at full HA capacity (%s is MASTER)", ev->title, peer);
	else
		snprintf(ev->text, sizeof(ev->text), "%s", ev->title);
}

void slack_flow_table(struct slack_event *ev, const char *node, unsigned pct, int full, uint64_t ts)
{
	char v[16];

	if (full)
		ev_start(ev, SLACK_WARNING, ts, "flow table %u%% full on %s", pct, node);
	else
		ev_start(ev, SLACK_GOOD, ts, "flow table back to %u%% on %s", pct, node);
	snprintf(v, sizeof(v), "%u%%", pct);
	ev_field(ev, "node", node);
	ev_field(ev, "flow table", v);
	snprintf(ev->text, sizeof(ev->text), "%s", ev->title);
}

void slack_flood(struct slack_event *ev, const char *node, const struct slack_flood *f, uint64_t ts)
{
	char v[32];

	if (f->on)
		ev_start(ev, SLACK_WARNING, ts, "SYN flood at %s on %s", f->service, node);
	else
		ev_start(ev, SLACK_GOOD, ts, "Recovery: SYN flood at %s over on %s", f->service, node);
	ev_field(ev, "service", f->service);
	ev_field(ev, "node", node);
	ev_field(ev, "syn-cookies", !strcmp(f->mode, "off") ? "off: SYNs reach the servers" : f->mode);
	if (!f->on) {
		slack_duration(f->flood_s, v, sizeof(v));
		ev_field(ev, "lasted", v);
	}
	snprintf(v, sizeof(v), "%llu", (unsigned long long)f->sent);
	ev_field(ev, "cookies sent", v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)f->invalid);
	ev_field(ev, "invalid ACKs", v);
	ev_finish(ev, NULL);
}

void slack_stats(struct slack_event *ev, const char *node, const char *source, int up, const char *why,
		 uint64_t ts)
{
	if (up)
		ev_start(ev, SLACK_GOOD, ts, "Recovery: stats readable again");
	else
		ev_start(ev, SLACK_DANGER, ts, "stats unreachable");
	ev_field(ev, "node", node);
	ev_field(ev, "source", source);
	ev_field(ev, "error", up ? NULL : why);
	ev_finish(ev, NULL);
}

/* Slack's mrkdwn needs &, < and > escaped (a bare "<!channel>" would ping everyone). */
static struct json_object *esc(const char *s)
{
	size_t n = 0, i;
	char *out, *w;
	struct json_object *o;

	for (i = 0; s[i]; i++)
		n += s[i] == '&' ? 5 : (s[i] == '<' || s[i] == '>') ? 4 : 1;
	out = w = malloc(n + 1);
	if (!out)
		return NULL;
	for (i = 0; s[i]; i++) {
		if (s[i] == '&')
			w = stpcpy(w, "&amp;");
		else if (s[i] == '<')
			w = stpcpy(w, "&lt;");
		else if (s[i] == '>')
			w = stpcpy(w, "&gt;");
		else
			*w++ = s[i];
	}
	*w = '\0';
	o = json_object_new_string(out);
	free(out);
	return o;
}

/* json_object_object_add that owns val even on failure; -ENOMEM when val is NULL. */
static int put(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static int push(struct json_object *arr, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_array_add(arr, val)) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static struct json_object *attachment(const struct slack_event *ev)
{
	struct json_object *a = json_object_new_object(), *fields = json_object_new_array();
	int err = 0, i;

	if (!a || !fields) {
		json_object_put(a);
		json_object_put(fields);
		return NULL;
	}
	err |= put(a, "color", json_object_new_string(slack_colour_name(ev->colour)));
	err |= put(a, "fallback", esc(ev->text));
	err |= put(a, "title", esc(ev->title));
	for (i = 0; i < ev->nfields; i++) {
		const struct slack_field *f = &ev->fields[i];
		struct json_object *fo = json_object_new_object();

		err |= push(fields, fo);
		if (!fo)
			break;
		err |= put(fo, "title", json_object_new_string(f->title));
		err |= put(fo, "value", esc(f->value));
		/* Long values (a check's error text) get a full row. */
		err |= put(fo, "short", json_object_new_boolean(strlen(f->value) <= 40));
	}
	err |= put(a, "fields", fields);
	err |= put(a, "footer", json_object_new_string("pgsteer"));
	err |= put(a, "ts", json_object_new_int64((int64_t)ev->ts));
	if (err) {
		json_object_put(a);
		return NULL;
	}
	return a;
}

int slack_payload(const struct slack_event *evs, int n, char **json)
{
	struct json_object *root = NULL, *atts;
	char *text = NULL, *w;
	size_t len = 0;
	int err = -ENOMEM, i;

	*json = NULL;
	if (n < 1)
		return -EINVAL;
	for (i = 0; i < n; i++)
		len += strlen(evs[i].text) + 1;
	text = w = malloc(len + 1);
	if (!text)
		goto out;
	for (i = 0; i < n; i++)
		w += sprintf(w, "%s%s", i ? "\n" : "", evs[i].text);
	root = json_object_new_object();
	atts = json_object_new_array();
	if (!root || !atts) {
		json_object_put(atts);
		goto out;
	}
	if (put(root, "text", esc(text)) || put(root, "attachments", atts))
		goto out;
	for (i = 0; i < n; i++)
		if (push(atts, attachment(&evs[i])))
			goto out;
	*json = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
	err = *json ? 0 : -ENOMEM;
out:
	json_object_put(root);
	free(text);
	return err;
}

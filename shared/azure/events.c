/*
 * events.c - Scheduled Events documents and the ISO 8601 times and durations
 * that Azure writes (see events.h).
 */
#include "config.h"

#include <ctype.h>
#include <time.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "events.h"

/* arm_parse.c's two helpers, for this module's one parser. */
static const char *_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void _copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

azml_event_type_t azml_event_type(const char *name)
{
	static const struct {
		const char *name;
		azml_event_type_t type;
	} types[] = {
		{ "Preempt", AZML_EVENT_PREEMPT },
		{ "Terminate", AZML_EVENT_TERMINATE },
		{ "Reboot", AZML_EVENT_REBOOT },
		{ "Redeploy", AZML_EVENT_REDEPLOY },
		{ "Freeze", AZML_EVENT_FREEZE },
	};

	for (size_t i = 0; name && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(name, types[i].name))
			return types[i].type;
	return AZML_EVENT_OTHER;
}

/* An EventId we may put into a reason and a POST body. */
static bool _event_id_ok(const char *id, size_t max)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n < max &&
	       strspn(id, "0123456789abcdefABCDEFghijklmnopqrstuvwxyz"
		      "GHIJKLMNOPQRSTUVWXYZ-") == n;
}

int azml_parse_scheduled_events(const char *body, const char *vm,
				azml_sched_event_t *ev, size_t max)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *events = cJSON_GetObjectItem(j, "Events"), *e;
	int rc = cJSON_IsArray(events) ? 0 : -1;
	size_t n = 0;

	if (rc < 0)
		events = NULL;
	cJSON_ArrayForEach(e, events) {
		const cJSON *r;
		const char *type = _str(e, "EventType"), *id = _str(e, "EventId");
		bool mine = false;
		azml_sched_event_t *out;

		if (n >= max)
			break;
		if (!type || !_event_id_ok(id, sizeof(ev->id)))
			continue;
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(e, "Resources"))
			if (cJSON_IsString(r) && vm &&
			    !strcasecmp(r->valuestring, vm))
				mine = true;
		if (!mine)
			continue;
		out = &ev[n++];
		memset(out, 0, sizeof(*out));
		out->type = azml_event_type(type);
		_copy(out->type_name, sizeof(out->type_name), type);
		_copy(out->id, sizeof(out->id), id);
		_copy(out->status, sizeof(out->status), _str(e, "EventStatus"));
		_copy(out->not_before, sizeof(out->not_before),
		      _str(e, "NotBefore"));
	}
	if (rc == 0)
		rc = (int) n;
	cJSON_Delete(j);
	return rc;
}

long azml_iso8601_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	long t, off = 0;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) ||
	    tm.tm_year < 70 || tm.tm_year > 1100)
		return -1;
	if (*p == '.') {
		size_t d = strspn(p + 1, "0123456789");

		if (!d || d > 9)
			return -1;
		p += 1 + d;
	}
	if (*p == '+' || *p == '-') {
		int h, m;
		char sign = *p;

		if (strlen(p) != 6 || !isdigit((unsigned char) p[1]) ||
		    !isdigit((unsigned char) p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char) p[4]) ||
		    !isdigit((unsigned char) p[5]))
			return -1;
		h = (p[1] - '0') * 10 + p[2] - '0';
		m = (p[4] - '0') * 10 + p[5] - '0';
		if (h > 14 || m > 59)
			return -1;
		off = (h * 3600L + m * 60L) * (sign == '+' ? 1 : -1);
	} else if (strcmp(p, "Z") && *p) {
		return -1;
	}
	t = (long) timegm(&tm);
	return t < 0 ? -1 : t - off;
}

long azml_iso8601_seconds(const char *s)
{
	long total = 0, num = -1;
	int rank = 0, r;	/* D, H, M, S: each once, in that order */
	bool t = false;

	if (!s || *s++ != 'P' || !*s)
		return -1;
	for (; *s; s++) {
		if (isdigit((unsigned char) *s)) {
			num = (num < 0 ? 0 : num) * 10 + (*s - '0');
			if (num > 100000000)
				return -1;
			continue;
		}
		if (*s == 'T' && !t && num < 0) {
			t = true;
			continue;
		}
		if (num < 0)
			return -1;
		if (!t && *s == 'D')
			total += num * 86400, r = 1;
		else if (t && *s == 'H')
			total += num * 3600, r = 2;
		else if (t && *s == 'M')
			total += num * 60, r = 3;
		else if (t && *s == 'S')
			total += num, r = 4;
		else
			return -1;
		/* "P1D1D..." is not ISO 8601, and a million of them overflowed */
		if (r <= rank)
			return -1;
		rank = r;
		num = -1;
	}
	return num < 0 ? total : -1;
}

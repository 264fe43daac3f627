/*
 * events.h - Scheduled Events (the IMDS document a VM polls for Spot
 * evictions and maintenance) and the ISO 8601 times and durations Azure
 * writes.  Pure parsers: no I/O, nothing to free.
 */
#ifndef AZML_EVENTS_H
#define AZML_EVENTS_H

#include <stddef.h>

/* Scheduled Events (IMDS /metadata/scheduledevents, api-version 2020-07-01). */
typedef enum {
	AZML_EVENT_OTHER = 0,	/* a type this version does not know */
	AZML_EVENT_PREEMPT,	/* Spot eviction */
	AZML_EVENT_TERMINATE,	/* the VM is being deleted */
	AZML_EVENT_REBOOT,
	AZML_EVENT_REDEPLOY,
	AZML_EVENT_FREEZE,
} azml_event_type_t;

typedef struct {
	azml_event_type_t type;
	char type_name[16];	/* "Preempt", ... as IMDS wrote it (bounded) */
	char id[64];		/* EventId: letters, digits, '-' only */
	char status[16];	/* EventStatus: "Scheduled", "Started", or "" */
	char not_before[64];	/* NotBefore (RFC 1123 date), or "" */
} azml_sched_event_t;

#define AZML_SCHED_EVENTS_MAX 16

/*
 * A Scheduled Events document: the events whose Resources name VM (without
 * case), in document order, at most MAX of them into EV.  An event whose
 * EventId is missing, empty, too long or holds other characters than
 * letters, digits and '-' is skipped (it goes into a reason and a POST
 * body).  Returns how many were written (0: none for VM), or -1 when BODY is
 * not a Scheduled Events document.
 */
int azml_parse_scheduled_events(const char *body, const char *vm,
				azml_sched_event_t *ev, size_t max);

/* AZML_EVENT_* of an EventType ("Preempt"); AZML_EVENT_OTHER if unknown. */
azml_event_type_t azml_event_type(const char *name);

/* An ISO 8601 time as Azure writes them ("2026-11-30T07:38:16Z", with a
 * fraction and "+00:00" too) in epoch seconds; -1 if it is not one. */
long azml_iso8601_time(const char *s);

/* ISO 8601 duration ("PT5M", "PT1H30M", "P1D") in seconds, -1 if bad. */
long azml_iso8601_seconds(const char *s);

#endif

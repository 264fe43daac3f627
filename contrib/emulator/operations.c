/*
 * operations.c - the Azure emulator's long-running operations: their
 * status (operations, operationResults) and the tick that ends them.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

struct emu_op_state emu_op_st;

op_t *emu_op_find(const char *id)
{
	for (op_t *o = emu_op_st.ops[emu_hash(id) % NBUCKETS]; o; o = o->next)
		if (!strcmp(o->id, id))
			return o;
	return NULL;
}

/* Drive operations and evictions whose time has come.  Under lock. */
void emu_tick(void)
{
	double now = emu_now();

	emu_reap_kills(now);
	for (size_t b = 0; b < NBUCKETS; b++) {
		/* finished operations are answered for OP_KEEP, then forgotten */
		for (op_t **p = &emu_op_st.ops[b], *op; (op = *p);) {
			if (op->finished && op->done_at + OP_KEEP < now) {
				*p = op->next;
				free(op->err_code);
				free(op->err_msg);
				free(op);
			} else {
				p = &op->next;
			}
		}
		for (op_t *op = emu_op_st.ops[b]; op; op = op->next) {
			vm_t *v;

			if (op->finished || op->done_at > now)
				continue;
			op->finished = true;
			if (op->kind == OP_VMSS || op->kind == OP_VMSS_DELETE) {
				emu_vmss_op_done(op);
				emu_journal_op(op);
				continue;
			}
			v = emu_vm_find(op->vmkey);
			if (!v) {
				emu_journal_op(op);
				continue;
			}
			switch (op->kind) {
			case OP_CREATE:
				if (op->err_code) {
					emu_set_instance_state(v, "Failed", "stopped");
				} else {
					emu_set_instance_state(v, "Succeeded", "running");
					emu_boot_soon(v, now);
				}
				emu_journal_vm(v);
				break;
			case OP_START:
				emu_set_instance_state(v, "Succeeded", "running");
				emu_boot_soon(v, now);
				emu_journal_vm(v);
				break;
			case OP_DEALLOCATE:
				emu_halt(v);
				emu_set_instance_state(v, "Succeeded", "deallocated");
				emu_journal_vm(v);
				break;
			case OP_DELETE:
				emu_vm_destroy(v);
				break;
			default:
				break;
			}
			emu_journal_op(op);
		}
		for (vm_t *v = emu_vm_st.vms[b], *next; v; v = next) {
			next = v->next;
			emu_tick_events(v, now);
		}
	}
}

/* A new operation of KIND on the VM or set of KEY. */
op_t *emu_op_new_key(op_kind_t kind, const char *key)
{
	op_t *op = calloc(1, sizeof(*op));
	uint32_t b;

	emu_uuid(op->id);
	op->kind = kind;
	snprintf(op->vmkey, sizeof(op->vmkey), "%s", key);
	op->start = emu_now();
	op->done_at = op->start + emu_faults.async_ms / 1000.0;
	b = emu_hash(op->id) % NBUCKETS;
	op->next = emu_op_st.ops[b];
	emu_op_st.ops[b] = op;
	emu_journal_op(op);
	return op;
}

op_t *emu_op_new(op_kind_t kind, const vm_t *v)
{
	return emu_op_new_key(kind, v->key);
}

void emu_op_headers_at(reply_t *r, const char *sub, const char *loc,
			   const op_t *op, bool location, bool async);

void emu_op_headers(reply_t *r, const vm_t *v, const op_t *op, bool location)
{
	emu_op_headers_at(r, v->sub, v->location, op, location, !location);
}

/* An operation's headers: Location (LOCATION), Azure-AsyncOperation
 * (ASYNC), and Retry-After. */
void emu_op_headers_at(reply_t *r, const char *sub, const char *loc,
			   const op_t *op, bool location, bool async)
{
	char base[1024];

	snprintf(base, sizeof(base), "%s/subscriptions/%s/providers/"
		 "Microsoft.Compute/locations/%s", emu_net_st.base_url, sub,
		 loc ? loc : "eastus");
	/* the caller's api-version (route.c checked it), as ARM does */
	if (location)
		emu_header(r, "Location", "%s/operationResults/%s?api-version="
			"%s", base, op->id, emu_api_version());
	if (async)
		emu_header(r, "Azure-AsyncOperation", "%s/operations/%s?api-version="
			"%s", base, op->id, emu_api_version());
	emu_header(r, "Retry-After", "%d", emu_faults.async_ms >= 2000 ? 2 : 1);
}

/* O[K] = T as ARM writes times: 2024-07-01T10:00:00.1234567+00:00 */
static void _add_time(cJSON *o, const char *k, double t)
{
	time_t sec = (time_t) t;
	struct tm tm;
	char buf[64], frac[16];

	gmtime_r(&sec, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%07d+00:00",
		 (int) ((t - (double) sec) * 1e7) % 10000000);
	strncat(buf, frac, sizeof(buf) - strlen(buf) - 1);
	cJSON_AddStringToObject(o, k, buf);
}

void emu_operation(const char *id, bool location, reply_t *r)
{
	op_t *op = emu_op_find(id);
	cJSON *o;

	if (!op) {
		emu_error(r, 404, "ResourceNotFound", "The operation '%s' was not "
		       "found.", id);
		return;
	}
	if (location) {
		if (!op->finished) {
			r->status = 202;
			emu_header(r, "Retry-After", "1");
		} else if (op->err_code) {
			emu_error(r, 409, op->err_code, "%s", op->err_msg);
		} else {
			r->status = op->kind == OP_DELETE ? 204 : 200;
		}
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", op->id);
	cJSON_AddStringToObject(o, "status", !op->finished ? "InProgress" :
				op->err_code ? "Failed" : "Succeeded");
	_add_time(o, "startTime", op->start);
	if (op->finished)
		_add_time(o, "endTime", op->done_at);
	if (op->finished && op->err_code) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "code", op->err_code);
		cJSON_AddStringToObject(e, "message", op->err_msg);
	}
	emu_json(r, 200, o);
	if (!op->finished)
		emu_header(r, "Retry-After", "1");
}

/* Forget every operation (POST /emulator/reset). */
void emu_ops_reset(void)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		while (emu_op_st.ops[b]) {
			op_t *o = emu_op_st.ops[b];

			emu_op_st.ops[b] = o->next;
			free(o->err_code);
			free(o->err_msg);
			free(o);
		}
}

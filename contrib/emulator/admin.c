/*
 * admin.c - the Azure emulator's admin API: /emulator/faults, stats, vms,
 * reset, evict and events.
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

struct emu_stats emu_stats;

/* GET|POST /emulator/faults: the faults in force, after applying those posted */
static void _admin_faults(struct MHD_Connection *c, const char *method,
		           char **seg, const char *body, reply_t *r)
{
	if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
		cJSON *j = cJSON_Parse(body ? body : "");
		char err[512];

		if (!cJSON_IsObject(j)) {
			cJSON_Delete(j);
			emu_error(r, 400, "InvalidRequestContent",
			       "expected a JSON object of faults");
			return;
		}
		if (emu_faults_apply(j, err, sizeof(err)) < 0) {
			cJSON_Delete(j);
			emu_error(r, 400, "InvalidFault", "azure-emulator: "
			       "%s; no fault changed", err);
			return;
		}
		cJSON_Delete(j);
	}
	emu_json(r, 200, emu_faults_json());
}

/* GET /emulator/stats: the counters */
static void _admin_stats(struct MHD_Connection *c, const char *method,
		          char **seg, const char *body, reply_t *r)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "requests", emu_stats.requests);
	cJSON_AddNumberToObject(o, "writes", emu_stats.writes);
	cJSON_AddNumberToObject(o, "throttled", emu_stats.throttled);
	cJSON_AddNumberToObject(o, "errors_injected", emu_stats.errors_injected);
	cJSON_AddNumberToObject(o, "creates", emu_stats.creates);
	cJSON_AddNumberToObject(o, "creates_refused", emu_stats.creates_refused);
	cJSON_AddNumberToObject(o, "deletes", emu_stats.deletes);
	cJSON_AddNumberToObject(o, "vms", emu_vm_st.nvms);
	cJSON_AddNumberToObject(o, "vmss", emu_vmss_st.nsets);
	cJSON_AddNumberToObject(o, "compute_throttled",
				emu_stats.compute_throttled);
	{
		cJSON *w = cJSON_AddObjectToObject(o, "writes_by_type");

		cJSON_AddNumberToObject(w, "virtualMachines", emu_stats.writes_vm);
		cJSON_AddNumberToObject(w, "virtualMachineScaleSets",
					emu_stats.writes_vmss);
		cJSON_AddNumberToObject(w, "other", emu_stats.writes_other);
	}
	emu_json(r, 200, o);
}

/* GET /emulator/vms: every VM, as the tests see them */
static void _admin_vms(struct MHD_Connection *c, const char *method,
		        char **seg, const char *body, reply_t *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next) {
			cJSON *o = cJSON_CreateObject();

			cJSON_AddStringToObject(o, "name", v->name);
			cJSON_AddStringToObject(o, "node", v->node ? v->node : "");
			cJSON_AddStringToObject(o, "size", v->size);
			cJSON_AddStringToObject(o, "provisioningState", v->provisioning);
			cJSON_AddStringToObject(o, "powerState", v->power);
			cJSON_AddBoolToObject(o, "spot", v->spot);
			cJSON_AddNumberToObject(o, "pid", v->pgid);
			cJSON_AddStringToObject(o, "computerName",
				v->computer ? v->computer : "");
			{
				cJSON *ids = cJSON_AddArrayToObject(o, "identities"), *it;
				char console[4096];

				cJSON_ArrayForEach(it, cJSON_GetObjectItem(
					cJSON_GetObjectItem(v->resource, "identity"),
					"userAssignedIdentities"))
					cJSON_AddItemToArray(ids,
						cJSON_CreateString(it->string));
				cJSON_AddStringToObject(o, "console",
					!emu_console_path(v, console, sizeof(console)) ?
					console : emu_boot_st.boot_log ? emu_boot_st.boot_log : "");
			}
			cJSON_AddBoolToObject(o, "booted", v->pgid > 0);
			if (v->vmss)
				cJSON_AddStringToObject(o, "vmss", v->vmss);
			cJSON_AddItemToArray(arr, o);
		}
	emu_json(r, 200, arr);
}

/* POST /emulator/reset: stop every VM and forget everything but the tokens */
static void _admin_reset(struct MHD_Connection *c, const char *method,
		          char **seg, const char *body, reply_t *r)
{
	emu_vmss_reset();
	emu_vm_reset();
	emu_ops_reset();
	r->status = 204;
}

/* POST /emulator/evict/VM and /emulator/events/VM: a Scheduled Event for VM */
static void _admin_event(struct MHD_Connection *c, const char *method,
		          char **seg, const char *body, reply_t *r)
{
	vm_t *v = emu_name_ok(seg[2]) ? emu_vm_by_name(seg[2]) : NULL;
	const char *in = emu_arg(c, "in"), *dur = emu_arg(c, "duration");
	const char *type = !strcmp(seg[1], "evict") ? "Preempt" :
			   emu_arg(c, "type");
	ev_kind_t k = EV_NONE;
	double secs = in ? strtod(in, NULL) : 30;

	for (int i = EV_FREEZE; i <= EV_TERMINATE; i++)
		if (type && !strcasecmp(type, emu_ev_names[i]))
			k = (ev_kind_t) i;
	if (k == EV_NONE) {
		emu_error(r, 400, "InvalidParameter", "type must be Freeze, "
		       "Reboot, Redeploy, Preempt or Terminate");
		return;
	}
	if (!v) {
		emu_error(r, 404, "ResourceNotFound", "no VM '%.64s'", seg[2]);
		return;
	}
	if (k == EV_PREEMPT && !v->spot) {
		emu_error(r, 409, "OperationNotAllowed", "VM '%s' is not a "
		       "Spot VM; only Spot VMs are evicted", v->name);
		return;
	}
	if (v->ev != EV_NONE && v->event_started) {
		emu_error(r, 409, "OperationNotAllowed", "VM '%s' has a %s "
		       "event under way", v->name, emu_ev_names[v->ev]);
		return;
	}
	emu_uuid(v->event_id);
	emu_lower(v->event_id);
	/* NaN and the absurd become "at once" or a day */
	if (!(secs >= 0))
		secs = 0;
	v->ev = k;
	v->ev_at = emu_now() + (secs > 86400 ? 86400 : secs);
	v->ev_duration = -1;
	if (k == EV_FREEZE) {
		double d = dur ? strtod(dur, NULL) : 5;

		v->ev_duration = d >= 0 ? (d > 3600 ? 3600 : (int) d) : 5;
	}
	v->event_started = false;
	v->incarnation++;
	r->status = 202;
}

void emu_admin(struct MHD_Connection *c, const char *method, char *path,
		   const char *body, reply_t *r)
{
	char *seg[8];
	int n = emu_segments(path, seg, 8);

	if (!r->trusted) {
		emu_error(r, 403, "AuthorizationFailed", "azure-emulator: its admin "
		       "API answers only root, its own user and --allow-user "
		       "users.");
		return;
	}
	if (n == 2 && !strcmp(seg[1], "faults"))
		return _admin_faults(c, method, seg, body, r);
	if (n == 2 && !strcmp(seg[1], "stats"))
		return _admin_stats(c, method, seg, body, r);
	if (n == 2 && !strcmp(seg[1], "vms"))
		return _admin_vms(c, method, seg, body, r);
	if (n == 2 && !strcmp(seg[1], "reset") && !strcmp(method, "POST"))
		return _admin_reset(c, method, seg, body, r);
	if (n == 3 && (!strcmp(seg[1], "evict") || !strcmp(seg[1], "events")) &&
	    !strcmp(method, "POST"))
		return _admin_event(c, method, seg, body, r);
	emu_error(r, 404, "NotFound", "azure-emulator admin: GET|POST /emulator/"
	       "faults, GET /emulator/stats, GET /emulator/vms, POST "
	       "/emulator/evict/VM?in=SECONDS, POST /emulator/events/VM?type="
	       "TYPE&in=SECONDS[&duration=SECONDS], POST /emulator/reset");
}


/*
 * faults.c - the Azure emulator's faults: the write limit, Compute's
 * throttling policies (--compute-limits), capacity faults and the faults
 * that POST /emulator/faults sets.
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

faults_t emu_faults;


/*
 * Microsoft.Compute's throttling policies, as the header
 * x-ms-ratelimit-remaining-resource names them (see azure-emulator(8) for
 * where the names come from): a token bucket each, CAP requests a WINDOW
 * of seconds.  Requests come in groups of two policies, 2g and 2g + 1.
 */
static const struct {
	const char *name;
	double cap, window;
} cpol[] = {
	{ "PutVM3Min", 240, 180 }, { "PutVM30Min", 1200, 1800 },
	{ "DeleteVM3Min", 240, 180 }, { "DeleteVM30Min", 1200, 1800 },
	{ "LowCostGet3Min", 4000, 180 }, { "LowCostGet30Min", 32000, 1800 },
	{ "HighCostGet3Min", 160, 180 }, { "HighCostGet30Min", 800, 1800 },
	{ "GetVMScaleSet3Min", 200, 180 }, { "GetVMScaleSet30Min", 1300, 1800 },
	{ "CreateVMScaleSet3Min", 60, 180 },
	{ "CreateVMScaleSet30Min", 300, 1800 },
	{ "DeleteVMScaleSet3Min", 60, 180 },
	{ "DeleteVMScaleSet30Min", 300, 1800 },
	{ "VMScaleSetActions3Min", 120, 180 },
	{ "VMScaleSetActions30Min", 600, 1800 },
};
#define NCPOL (sizeof(cpol) / sizeof(cpol[0]))

/* The buckets: the write limit's and Compute's policies'. */
static struct {
	struct {
		double tokens, at;
	} cp[NCPOL];		/* Compute's policies' buckets */
	double tokens;		/* write bucket */
	double tokens_at;
} T;

void emu_write_bucket_reset(void)
{
	T.tokens = emu_faults.write_burst;
	T.tokens_at = emu_now();
}

/* ---------------------------------------------------------------------- */
/* Resource Manager */

bool emu_take_write_token(reply_t *r)
{
	double now = emu_now();

	if (emu_faults.write_burst <= 0)
		return true;
	T.tokens += (now - T.tokens_at) * emu_faults.write_rate;
	if (T.tokens > emu_faults.write_burst)
		T.tokens = emu_faults.write_burst;
	T.tokens_at = now;
	if (T.tokens < 1) {
		int wait = emu_faults.write_rate > 0 ?
			   (int) ceil((1 - T.tokens) / emu_faults.write_rate) : 60;

		emu_stats.throttled++;
		emu_error(r, 429, "TooManyRequests", "The request is being throttled "
		       "as the limit has been reached for operation type - Write. "
		       "Retry after %d seconds.", wait);
		emu_header(r, "Retry-After", "%d", wait < 1 ? 1 : wait);
		emu_header(r, "x-ms-ratelimit-remaining-subscription-writes", "0");
		return false;
	}
	T.tokens -= 1;
	emu_header(r, "x-ms-ratelimit-remaining-subscription-writes", "%d",
		(int) T.tokens);
	return true;
}

/*
 * Microsoft.Compute's own throttling: one token from each policy of GROUP
 * (cpol[2 * GROUP] and cpol[2 * GROUP + 1]) and the header
 * x-ms-ratelimit-remaining-resource with what is left, always.  With
 * --compute-limits, a policy without a token refuses the request as Azure
 * does: 429 OperationNotAllowed, details TooManyRequests naming the
 * policy, Retry-After.  Returns true, or false with that answer in R.
 */
bool emu_compute_take(reply_t *r, int group)
{
	double now = emu_now();
	int p[2] = { 2 * group, 2 * group + 1 }, empty = -1;

	for (int i = 0; i < 2; i++) {
		double rate = cpol[p[i]].cap / cpol[p[i]].window;

		if (T.cp[p[i]].at <= 0)		/* first use: a full bucket */
			T.cp[p[i]].tokens = cpol[p[i]].cap;
		else
			T.cp[p[i]].tokens += (now - T.cp[p[i]].at) * rate;
		if (T.cp[p[i]].tokens > cpol[p[i]].cap)
			T.cp[p[i]].tokens = cpol[p[i]].cap;
		T.cp[p[i]].at = now;
		if (T.cp[p[i]].tokens < 1 && empty < 0)
			empty = p[i];
	}
	if (empty >= 0 && emu_faults.compute_limits) {
		double rate = cpol[empty].cap / cpol[empty].window;
		int wait = (int) ceil((1 - T.cp[empty].tokens) / rate);
		cJSON *o = cJSON_CreateObject(), *e, *d, *det;
		char msg[512], t0[40], t1[40];
		time_t t = (time_t) now;
		struct tm tm;

		emu_stats.compute_throttled++;
		gmtime_r(&t, &tm);
		strftime(t0, sizeof(t0), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		t += wait < 1 ? 1 : wait;
		gmtime_r(&t, &tm);
		strftime(t1, sizeof(t1), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		snprintf(msg, sizeof(msg), "{\"operationGroup\":\"%s\","
			 "\"startTime\":\"%s\",\"endTime\":\"%s\","
			 "\"allowedRequestCount\":%d}", cpol[empty].name, t0, t1,
			 (int) cpol[empty].cap);
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", "OperationNotAllowed");
		cJSON_AddStringToObject(e, "message", "The server rejected the "
					"request because too many requests have "
					"been received for this subscription.");
		det = cJSON_AddArrayToObject(e, "details");
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "code", "TooManyRequests");
		cJSON_AddStringToObject(d, "target", cpol[empty].name);
		cJSON_AddStringToObject(d, "message", msg);
		cJSON_AddItemToArray(det, d);
		emu_json(r, 429, o);
		emu_header(r, "Retry-After", "%d", wait < 1 ? 1 : wait);
	} else {
		for (int i = 0; i < 2; i++)
			if ((T.cp[p[i]].tokens -= 1) < 0)
				T.cp[p[i]].tokens = 0;	/* not enforced */
	}
	emu_header(r, "x-ms-ratelimit-remaining-resource", "Microsoft.Compute/%s;%d,"
		"Microsoft.Compute/%s;%d", cpol[p[0]].name,
		(int) T.cp[p[0]].tokens, cpol[p[1]].name, (int) T.cp[p[1]].tokens);
	return empty < 0 || !emu_faults.compute_limits;
}

/*
 * Capacity faults: SIZE or SIZE@ZONE = CODE[:N] (--capacity, "capacity" of
 * /emulator/faults).  A create of that size (in that zone: its body says
 * "zones":["ZONE"]) gets CODE; a zonal key wins over the plain one.  With
 * :N, only creates past the first N VMs of that size (in that zone) fail.
 * SkuNotAvailable refuses the create at once (409); the others accept it
 * (201) and fail its operation, as Azure does when it finds no hardware.
 * The messages are Azure's.
 */
#define ALLOCATION_FAILED_MSG "Allocation failed. We do not have sufficient " \
	"capacity for the requested VM size in this region. Read more about " \
	"improving likelihood of allocation success at " \
	"https://aka.ms/allocation-guidance"
#define OVERCONSTRAINED_MSG "Allocation failed. VM(s) with the following " \
	"constraints cannot be allocated, because the condition is too " \
	"restrictive. Please remove some constraints and try again. " \
	"Constraints applied are:\n"

const struct emu_capacity_code emu_capacity_codes[] = {
	{ "SkuNotAvailable", true, NULL },
	{ "AllocationFailed", false, ALLOCATION_FAILED_MSG },
	{ "ZonalAllocationFailed", false, ALLOCATION_FAILED_MSG },
	{ "OverconstrainedAllocationRequest", false,
	  OVERCONSTRAINED_MSG "  - VM Size\n" },
	{ "OverconstrainedZonalAllocationRequest", false,
	  OVERCONSTRAINED_MSG "  - Availability Zone\n  - VM Size\n" },
};
#define NCAPACITY_CODES (sizeof(emu_capacity_codes) / sizeof(emu_capacity_codes[0]))

/* An availability zone as a key or a VM may name it: 1 to 8 letters and
 * digits (Azure's are "1", "2", "3"). */
bool emu_zone_ok(const char *z)
{
	return emu_chars_ok(z, 8, "");
}

/* "CODE[:N]": the index of CODE in emu_capacity_codes and N (-1: none), or -1
 * when VAL is not that. */
static int _capacity_parse(const char *val, long *after)
{
	size_t len = strcspn(val, ":");
	char *end;

	*after = -1;
	if (val[len] == ':') {
		*after = strtol(val + len + 1, &end, 10);
		if (!isdigit((unsigned char) val[len + 1]) || *end ||
		    *after > 1000000)
			return -1;
	}
	for (size_t i = 0; i < NCAPACITY_CODES; i++)
		if (strlen(emu_capacity_codes[i].code) == len &&
		    !strncmp(emu_capacity_codes[i].code, val, len))
			return (int) i;
	return -1;
}

/*
 * Add the fault KEY = VAL to MAP, its key canonical ("Standard_D2s_v3@1").
 * Returns 0, or -1 with what is wrong in ERR: a size the catalog does not
 * know, a bad zone, a value that is not a known CODE[:N].
 */
int emu_capacity_add(cJSON *map, const char *key, const cJSON *val,
			 char *err, size_t n)
{
	char size[128], canon[160];
	const char *at = strchr(key, '@');
	size_t len = at ? (size_t) (at - key) : strlen(key), used;
	azml_size_info_t info;
	long after;

	snprintf(size, sizeof(size), "%.*s", (int) (len < 127 ? len : 127), key);
	if (len >= sizeof(size) || azml_catalog_resolve(size, &info)) {
		snprintf(err, n, "capacity: '%.80s' is not a VM size the "
			 "emulator knows (keys are SIZE or SIZE@ZONE, e.g. "
			 "Standard_D2s_v3@1)", size);
		return -1;
	}
	if (at && !emu_zone_ok(at + 1)) {
		snprintf(err, n, "capacity: '%.80s': the zone after '@' must be "
			 "1 to 8 letters or digits, e.g. 1", key);
		return -1;
	}
	if (!cJSON_IsString(val) || _capacity_parse(val->valuestring,
						     &after) < 0) {
		used = snprintf(err, n, "capacity: '%.80s': '%.80s' is not "
				"CODE[:N]; the codes are", key,
				cJSON_IsString(val) ? val->valuestring :
				"(not a string)");
		for (size_t i = 0; i < NCAPACITY_CODES && used < n; i++)
			used += snprintf(err + used, n - used, "%s %s",
					 i ? "," : "", emu_capacity_codes[i].code);
		return -1;
	}
	snprintf(canon, sizeof(canon), "%s%s%s", info.name, at ? "@" : "",
		 at ? at + 1 : "");
	cJSON_DeleteItemFromObjectCaseSensitive(map, canon);
	cJSON_AddItemToObject(map, canon, cJSON_CreateString(val->valuestring));
	return 0;
}

/* Every fault of MAP, canonical, in a new map; NULL with ERR if one is
 * refused. */
static cJSON *_capacity_map(const cJSON *map, char *err, size_t n)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *it;

	cJSON_ArrayForEach(it, map)
		if (emu_capacity_add(out, it->string, it, err, n) < 0) {
			cJSON_Delete(out);
			return NULL;
		}
	return out;
}

/* VMs of SIZE (its catalog name), in ZONE unless it is NULL. */
static int _size_count(const char *size, const char *zone)
{
	int n = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			if (!strcasecmp(v->size, size) &&
			    (!zone || !strcmp(emu_vm_zone(v), zone)))
				n++;
	return n;
}

/*
 * The capacity fault that a create of SIZE (its catalog name, the info.name
 * of azml_catalog_resolve) in ZONE ("": none) gets now: an index in
 * emu_capacity_codes, or -1 for none.  Call it before the new VM is added.
 */
int emu_capacity_fault(const char *size, const char *zone)
{
	return emu_capacity_fault_n(size, zone, 0, 0);
}

/*
 * The same, for a create planned after others not made yet (a scale-out
 * choosing its sizes first): ADD_ZONE VMs of SIZE in ZONE and ADD_ALL of
 * SIZE in all, ADD_ZONE among them, count as if they were made.
 */
int emu_capacity_fault_n(const char *size, const char *zone, int add_zone,
			 int add_all)
{
	char key[160];
	const cJSON *f = NULL;
	long after;
	int code;

	if (*zone) {
		snprintf(key, sizeof(key), "%s@%s", size, zone);
		f = cJSON_GetObjectItemCaseSensitive(emu_faults.capacity, key);
	}
	if (!f) {
		zone = NULL;
		f = cJSON_GetObjectItemCaseSensitive(emu_faults.capacity, size);
	}
	if (!cJSON_IsString(f) || (code = _capacity_parse(f->valuestring,
							  &after)) < 0)
		return -1;
	return after < 0 || _size_count(size, zone) + (zone ? add_zone :
	       add_all) >= after ? code : -1;
}

/* ---------------------------------------------------------------------- */
/* Admin API: /emulator/... */

/*
 * Apply the faults of J.  Returns 0, or -1 with what is wrong in ERR and
 * nothing changed (a capacity map with an unknown size or code).
 */
int emu_faults_apply(const cJSON *j, char *err, size_t n)
{
	const cJSON *v;
	cJSON *capacity = NULL;

	if ((v = cJSON_GetObjectItem(j, "capacity")) && cJSON_IsObject(v) &&
	    !(capacity = _capacity_map(v, err, n)))
		return -1;

	if ((v = cJSON_GetObjectItem(j, "latency_ms")) && cJSON_IsNumber(v))
		emu_faults.latency_ms = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "async_ms")) && cJSON_IsNumber(v))
		emu_faults.async_ms = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "write_burst")) && cJSON_IsNumber(v)) {
		emu_faults.write_burst = v->valuedouble;
		T.tokens = v->valuedouble;
		T.tokens_at = emu_now();
	}
	if ((v = cJSON_GetObjectItem(j, "write_rate")) && cJSON_IsNumber(v))
		emu_faults.write_rate = v->valuedouble;
	if ((v = cJSON_GetObjectItem(j, "error_rate")) && cJSON_IsNumber(v))
		emu_faults.error_rate = v->valuedouble;
	if ((v = cJSON_GetObjectItem(j, "page_size")) && cJSON_IsNumber(v) &&
	    v->valueint > 0)
		emu_faults.page_size = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "quota")) && cJSON_IsObject(v)) {
		cJSON_Delete(emu_faults.quota);
		emu_faults.quota = cJSON_Duplicate(v, 1);
	}
	if (capacity) {
		cJSON_Delete(emu_faults.capacity);
		emu_faults.capacity = capacity;
	}
	if ((v = cJSON_GetObjectItem(j, "locked")) && cJSON_IsBool(v))
		emu_faults.locked = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "nic_ip")) && cJSON_IsString(v))
		snprintf(emu_faults.nic_ip, sizeof(emu_faults.nic_ip), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItem(j, "node_tag")) && cJSON_IsString(v))
		snprintf(emu_faults.node_tag, sizeof(emu_faults.node_tag), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItem(j, "identity_missing")) && cJSON_IsBool(v))
		emu_faults.identity_missing = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "compute_limits")) && cJSON_IsBool(v))
		emu_faults.compute_limits = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "prices_status")) && cJSON_IsNumber(v) &&
	    (v->valueint == 0 || (v->valueint >= 200 && v->valueint <= 599)))
		emu_faults.prices_status = v->valueint;
	return 0;
}

cJSON *emu_faults_json(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "latency_ms", emu_faults.latency_ms);
	cJSON_AddNumberToObject(o, "async_ms", emu_faults.async_ms);
	cJSON_AddNumberToObject(o, "write_burst", emu_faults.write_burst);
	cJSON_AddNumberToObject(o, "write_rate", emu_faults.write_rate);
	cJSON_AddNumberToObject(o, "error_rate", emu_faults.error_rate);
	cJSON_AddNumberToObject(o, "page_size", emu_faults.page_size);
	cJSON_AddItemToObject(o, "quota", cJSON_Duplicate(emu_faults.quota, 1));
	cJSON_AddItemToObject(o, "capacity", cJSON_Duplicate(emu_faults.capacity, 1));
	cJSON_AddBoolToObject(o, "locked", emu_faults.locked);
	cJSON_AddStringToObject(o, "nic_ip", emu_faults.nic_ip);
	cJSON_AddStringToObject(o, "node_tag", emu_faults.node_tag);
	cJSON_AddNumberToObject(o, "prices_status", emu_faults.prices_status);
	cJSON_AddBoolToObject(o, "identity_missing", emu_faults.identity_missing);
	cJSON_AddBoolToObject(o, "compute_limits", emu_faults.compute_limits);
	return o;
}


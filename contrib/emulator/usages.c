/*
 * usages.c - the Azure emulator's quotas: usages, vmSizes and the quota
 * checks of creates.
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

/*
 * Quota, as the usages API names it: "cores" (Total Regional vCPUs of
 * regular VMs), "lowPriorityCores" (Spot), "virtualMachines" (a count) and
 * one vCPU limit per family ("standardDSv3Family", regular VMs only).
 * Deallocated VMs use no vCPUs.  Defaults are generous, so that only a
 * --quota fault makes a limit bite.
 */
#define QUOTA_FAMILY_DEFAULT 10000
#define QUOTA_CORES_DEFAULT 100000
#define QUOTA_VMS_DEFAULT 25000

static int _usage_of(const char *name)
{
	bool cores = !strcmp(name, "cores");
	bool spot = !strcmp(name, "lowPriorityCores");
	bool vms = !strcmp(name, "virtualMachines");
	int used = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next) {
			if (vms) {
				used++;
				continue;
			}
			if (!strcmp(v->power, "deallocated") || v->spot != spot)
				continue;
			if (cores || spot ||
			    (v->family && !strcmp(v->family, name)))
				used += v->vcpus;
		}
	return used;
}

static int _limit_of(const char *name)
{
	const cJSON *q = cJSON_GetObjectItem(emu_faults.quota, name);

	if (cJSON_IsNumber(q))
		return q->valueint;
	if (!strcmp(name, "cores") || !strcmp(name, "lowPriorityCores"))
		return QUOTA_CORES_DEFAULT;
	if (!strcmp(name, "virtualMachines"))
		return QUOTA_VMS_DEFAULT;
	return QUOTA_FAMILY_DEFAULT;
}

/*
 * Whether COUNT VMs of VCPUS each in FAMILY (SPOT or not) fit every quota
 * they count against.  Returns true, or false with Azure's 409
 * OperationNotAllowed in R (Microsoft's error-resource-quota page).
 */
bool emu_quota_n_ok(const char *family, int vcpus, bool spot,
			const char *location, int count, reply_t *r)
{
	int need = vcpus * count;

	return emu_quota_mix_ok(&family, &need, 1, count, spot, location, r);
}

/*
 * Whether VMS VMs that need NEED[i] vCPUs of FAMILY[i] (NF families, an
 * instance mix's) fit every quota: the VM count, the regional (or Spot)
 * cores, and each family's (not for Spot).  Returns true, or false with
 * Azure's 409 OperationNotAllowed in R for the first quota exceeded.
 */
bool emu_quota_mix_ok(const char *const *family, const int *need, int nf,
		      int vms, bool spot, const char *location, reply_t *r)
{
	char fam[128];
	int cores = 0;

	for (int i = 0; i < nf; i++)
		cores += need[i];
	for (int i = -2; i < (spot ? 0 : nf); i++) {
		const char *name = i == -2 ? "virtualMachines" : i == -1 ?
				   (spot ? "lowPriorityCores" : "cores") :
				   family[i];
		const char *words = i == -2 ? "Virtual Machines" : i == -1 ?
				    (spot ? "Low Priority Cores" :
				     "Total Regional Cores") : fam;
		int want = i == -2 ? vms : i == -1 ? cores : need[i];
		int used, limit;

		if (!name)
			continue;
		snprintf(fam, sizeof(fam), "%s Cores", i >= 0 ? name : "");
		used = _usage_of(name);
		limit = _limit_of(name);
		if (used + want <= limit)
			continue;
		emu_error(r, 409, "OperationNotAllowed", "Operation could not be "
		       "completed as it results in exceeding approved %s "
		       "quota. Additional details - Deployment Model: Resource "
		       "Manager, Location: %s, Current Limit: %d, Current Usage: "
		       "%d, Additional Required: %d, (Minimum) New Limit "
		       "Required: %d.", words, location, limit, used,
		       want, used + want);
		return false;
	}
	return true;
}

bool emu_quota_ok(const char *family, int vcpus, bool spot,
		      const char *location, reply_t *r)
{
	return emu_quota_n_ok(family, vcpus, spot, location, 1, r);
}

static void _usage_add(cJSON *arr, const char *name, const char *words)
{
	cJSON *u = cJSON_CreateObject(), *n = cJSON_CreateObject();

	cJSON_AddStringToObject(u, "unit", "Count");
	cJSON_AddNumberToObject(u, "currentValue", _usage_of(name));
	cJSON_AddNumberToObject(u, "limit", _limit_of(name));
	cJSON_AddStringToObject(n, "value", name);
	cJSON_AddStringToObject(n, "localizedValue", words);
	cJSON_AddItemToObject(u, "name", n);
	cJSON_AddItemToArray(arr, u);
}

/* Every quota, as Azure lists them: the regional ones, then one per VM
 * family of the catalog ("standardNCSv3Family", "Standard NCSv3 Family
 * vCPUs"). */
void emu_usages(const char *location, reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");

	_usage_add(arr, "cores", "Total Regional vCPUs");
	_usage_add(arr, "virtualMachines", "Virtual Machines");
	_usage_add(arr, "lowPriorityCores", "Total Regional Low-priority vCPUs");
	for (size_t i = 0; i < azml_catalog_series_count(); i++) {
		const char *f = azml_series_quota_family(azml_catalog_series_at(i));
		char words[128];
		size_t len;
		bool seen = false;

		if (!f)
			continue;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *g = azml_series_quota_family(
				azml_catalog_series_at(j));

			seen = g && !strcmp(f, g);
		}
		len = strlen(f);
		if (seen || len < 15 || strncmp(f, "standard", 8))
			continue;
		/* standardNCSv3Family -> Standard NCSv3 Family vCPUs */
		snprintf(words, sizeof(words), "Standard %.*s Family vCPUs",
			 (int) (len - 14), f + 8);
		_usage_add(arr, f, words);
	}
	(void) location;
	emu_json(r, 200, o);
}

void emu_vm_sizes(reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");

	for (size_t i = 0; i < azml_catalog_size_count(); i++) {
		const azml_size_t *s = azml_catalog_size_at(i);
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", s->name);
		cJSON_AddNumberToObject(e, "numberOfCores", s->vcpus);
		cJSON_AddNumberToObject(e, "osDiskSizeInMB", 1047552);
		cJSON_AddNumberToObject(e, "resourceDiskSizeInMB", 0);
		cJSON_AddNumberToObject(e, "memoryInMB", s->memory_mib);
		cJSON_AddNumberToObject(e, "maxDataDiskCount", 32);
		cJSON_AddItemToArray(arr, e);
	}
	emu_json(r, 200, o);
}

/* The restriction of SIZE in LOCATION (zone ZONE, NULL: the location) that
 * a SkuNotAvailable capacity fault makes, else NULL. */
static cJSON *_restriction(const char *size, const char *location,
			   const char *zone)
{
	char key[160];
	const cJSON *f;
	cJSON *o, *info;

	snprintf(key, sizeof(key), "%s%s%s", size, zone ? "@" : "",
		 zone ? zone : "");
	f = cJSON_GetObjectItemCaseSensitive(emu_faults.capacity, key);
	if (!cJSON_IsString(f) || strcmp(f->valuestring, "SkuNotAvailable"))
		return NULL;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", zone ? "Zone" : "Location");
	cJSON_AddItemToObject(o, "values", cJSON_CreateStringArray(&location,
								   1));
	info = cJSON_AddObjectToObject(o, "restrictionInfo");
	cJSON_AddItemToObject(info, "locations", cJSON_CreateStringArray(
		&location, 1));
	if (zone)
		cJSON_AddItemToObject(info, "zones", cJSON_CreateStringArray(
			&zone, 1));
	cJSON_AddStringToObject(o, "reasonCode", "NotAvailableForSubscription");
	return o;
}

/*
 * ResourceSkus_List (GET /subscriptions/{s}/providers/Microsoft.Compute/skus,
 * $filter=location eq 'L' optional): the catalog's VM sizes in LOCATION
 * (eastus when none is named), zones 1-3, with Azure's restrictions where
 * a SkuNotAvailable capacity fault (--capacity) says the size, or a zone of
 * it, is not offered.
 */
void emu_skus(const char *filter, reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");
	const char *zones[] = { "1", "2", "3" };
	char location[72] = "eastus";

	if (filter) {
		const char *q = strchr(filter, '\'');
		size_t n = q ? strcspn(q + 1, "'") : 0;

		if (!q || strncasecmp(filter, "location eq ", 12) || !n ||
		    n >= sizeof(location) || q[1 + n] != '\'' || q[2 + n]) {
			cJSON_Delete(o);
			emu_error(r, 400, "InvalidParameter", "The value of "
				  "parameter '$filter' is invalid: "
				  "azure-emulator filters SKUs by \"location eq "
				  "'{location}'\" only.");
			return;
		}
		snprintf(location, sizeof(location), "%.*s", (int) n, q + 1);
		if (!emu_chars_ok(location, 64, "")) {
			cJSON_Delete(o);
			emu_error(r, 400, "InvalidParameter", "The location in "
				  "'$filter' is invalid.");
			return;
		}
	}
	for (size_t i = 0; i < azml_catalog_size_count(); i++) {
		const azml_size_t *s = azml_catalog_size_at(i);
		const char *loc = location;
		azml_size_info_t info;
		cJSON *e = cJSON_CreateObject(), *li, *caps, *rs, *x;
		char num[32];

		cJSON_AddStringToObject(e, "resourceType", "virtualMachines");
		cJSON_AddStringToObject(e, "name", s->name);
		cJSON_AddStringToObject(e, "tier", "Standard");
		cJSON_AddStringToObject(e, "size", strncmp(s->name, "Standard_",
					9) ? s->name : s->name + 9);
		if (!azml_catalog_resolve(s->name, &info))
			cJSON_AddStringToObject(e, "family",
				azml_series_quota_family(info.series));
		cJSON_AddItemToObject(e, "locations", cJSON_CreateStringArray(
			&loc, 1));
		li = cJSON_CreateObject();
		cJSON_AddStringToObject(li, "location", location);
		cJSON_AddItemToObject(li, "zones", cJSON_CreateStringArray(zones,
								       3));
		cJSON_AddItemToArray(cJSON_AddArrayToObject(e, "locationInfo"), li);
		caps = cJSON_AddArrayToObject(e, "capabilities");
		{
			const char *names[] = { "vCPUs", "MemoryGB", "GPUs" };
			double vals[] = { s->vcpus, s->memory_mib / 1024.0,
					  s->gpus };

			for (int k = 0; k < 3; k++) {
				cJSON *c = cJSON_CreateObject();

				if (k == 2 && !s->gpus) {
					cJSON_Delete(c);
					continue;
				}
				snprintf(num, sizeof(num), "%g", vals[k]);
				cJSON_AddStringToObject(c, "name", names[k]);
				cJSON_AddStringToObject(c, "value", num);
				cJSON_AddItemToArray(caps, c);
			}
		}
		rs = cJSON_AddArrayToObject(e, "restrictions");
		if ((x = _restriction(s->name, location, NULL)))
			cJSON_AddItemToArray(rs, x);
		for (int z = 0; z < 3; z++)
			if ((x = _restriction(s->name, location, zones[z])))
				cJSON_AddItemToArray(rs, x);
		cJSON_AddItemToArray(arr, e);
	}
	emu_json(r, 200, o);
}

/* The subscription SUB as Subscriptions_Get shows it. */
static cJSON *_subscription(const char *sub)
{
	cJSON *o = cJSON_CreateObject(), *pol;
	char id[128];

	snprintf(id, sizeof(id), "/subscriptions/%s", sub);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "subscriptionId", sub);
	cJSON_AddStringToObject(o, "tenantId", EMU_TENANT);
	cJSON_AddStringToObject(o, "displayName", "azure-emulator");
	cJSON_AddStringToObject(o, "state", "Enabled");
	pol = cJSON_AddObjectToObject(o, "subscriptionPolicies");
	cJSON_AddStringToObject(pol, "locationPlacementId",
				"Public_2014-09-01");
	cJSON_AddStringToObject(pol, "quotaId", "PayAsYouGo_2014-09-01");
	cJSON_AddStringToObject(pol, "spendingLimit", "Off");
	cJSON_AddStringToObject(o, "authorizationSource", "RoleBased");
	return o;
}

/*
 * GET /subscriptions (SUB NULL): every subscription the emulator holds a
 * VM in; GET /subscriptions/{SUB}: that one (the emulator takes any).
 */
void emu_subscriptions(const char *sub, reply_t *r)
{
	cJSON *o, *arr;

	if (sub) {
		emu_json(r, 200, _subscription(sub));
		return;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "value");
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next) {
			bool seen = false;
			const cJSON *it;

			cJSON_ArrayForEach(it, arr)
				seen |= !strcasecmp(emu_jstr(it,
					"subscriptionId"), v->sub);
			if (!seen)
				cJSON_AddItemToArray(arr, _subscription(v->sub));
		}
	emu_json(r, 200, o);
}

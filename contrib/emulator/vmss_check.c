/*
 * vmss_check.c - the Azure emulator's checks of a scale set's body (PUT, or
 * a PATCH merged into the set), as Azure refuses them at api-version
 * 2024-07-01: the set itself, its sku and instance mix, its zones, and the
 * virtualMachineProfile its VMs are made from.
 */
#include "config.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"
#include "vmss_int.h"

/* Whether the set's properties PROPS make Spot (or Low priority) VMs. */
static bool _spot_of(const cJSON *props)
{
	const char *prio = emu_jstr(cJSON_GetObjectItem(props,
					"virtualMachineProfile"), "priority");

	return !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low");
}

/* Whether hourly price A ranks after B: dearer, or unknown (-1) while B is
 * known. */
static bool _dearer(double a, double b)
{
	return b >= 0 && (a < 0 || a > b);
}

/* The size SIZE of the catalog in *INFO, or false with Azure's 400. */
static bool _size_resolve(const char *size, azml_size_info_t *info,
			  reply_t *r)
{
	if (!azml_catalog_resolve(size, info))
		return true;
	emu_error(r, 400, "InvalidParameter", "The value %.64s provided for the "
	       "VM size is not valid. The valid sizes in the current region are "
	       "listed by the vmSizes API.", size);
	return false;
}

/*
 * The sizes of a set whose sku.name is NAME and properties PROPS: NAME
 * alone, or, for an instance mix (NAME "Mix" with properties.skuProfile,
 * neither without the other), skuProfile.vmSizes: 1 to VMSS_MIX_MAX known
 * sizes, none twice, and its allocationStrategy, LowestPrice (also when
 * absent, as Azure's default) or CapacityOptimized.  Prioritized is a
 * preview of later api-versions than the 2024-07-01 whose shapes the
 * emulator answers: refused.  Fills S's sizes in the order a new VM tries
 * them and returns true, or false with Azure's 400 in R.
 */
static bool _vmss_sizes_check(const cJSON *props, const char *name,
			      vmss_spec_t *s, reply_t *r)
{
	const cJSON *sp = cJSON_GetObjectItem(props, "skuProfile");
	const cJSON *sizes, *strat, *it;
	double price[VMSS_MIX_MAX];
	bool lowest = true;
	int n = 0;

	if (cJSON_IsNull(sp))
		sp = NULL;
	s->mix = !strcasecmp(name, "Mix");
	if (!sp && !s->mix) {
		s->size[0] = name;
		s->nsizes = 1;
		return _size_resolve(name, &s->info[0], r);
	}
	if (!sp) {
		emu_error(r, 400, "InvalidParameter", "Required parameter "
		       "'properties.skuProfile' is missing (null): a scale set "
		       "whose sku.name is 'Mix' (instance mix) takes its VM "
		       "sizes from skuProfile.vmSizes.");
		return false;
	}
	if (!s->mix) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
		       "parameter 'sku.name' is invalid: a scale set with "
		       "'properties.skuProfile' (instance mix) must have "
		       "sku.name 'Mix'.", name);
		return false;
	}
	sizes = cJSON_GetObjectItem(sp, "vmSizes");
	if (!cJSON_IsObject(sp) || !cJSON_IsArray(sizes) ||
	    cJSON_GetArraySize(sizes) < 1 ||
	    cJSON_GetArraySize(sizes) > VMSS_MIX_MAX) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'skuProfile.vmSizes' is invalid: an instance mix lists "
		       "1 to %d VM sizes, each {\"name\": SIZE}.", VMSS_MIX_MAX);
		return false;
	}
	cJSON_ArrayForEach(it, sizes) {
		const cJSON *nm = cJSON_GetObjectItem(it, "name");

		if (!cJSON_IsObject(it) || !cJSON_IsString(nm)) {
			emu_error(r, 400, "InvalidParameter", "Required parameter "
			       "'skuProfile.vmSizes[%d].name' is missing (null).",
			       n);
			return false;
		}
		if (!_size_resolve(nm->valuestring, &s->info[n], r))
			return false;
		for (int k = 0; k < n; k++)
			if (!strcmp(s->info[k].name, s->info[n].name)) {
				emu_error(r, 400, "InvalidParameter", "The value "
				       "of parameter 'skuProfile.vmSizes' is "
				       "invalid: VM size '%.64s' is listed more "
				       "than once.", nm->valuestring);
				return false;
			}
		s->size[n++] = nm->valuestring;
	}
	s->nsizes = n;
	strat = cJSON_GetObjectItem(sp, "allocationStrategy");
	if (cJSON_IsString(strat) &&
	    !strcasecmp(strat->valuestring, "Prioritized")) {
		emu_error(r, 400, "InvalidParameter", "The value 'Prioritized' of "
		       "parameter 'skuProfile.allocationStrategy' is not "
		       "available at api-version %.20s (it is a preview of later "
		       "api-versions): use LowestPrice or CapacityOptimized.",
		       emu_api_version());
		return false;
	}
	if (strat && !cJSON_IsNull(strat) && (!cJSON_IsString(strat) ||
	    (strcasecmp(strat->valuestring, "LowestPrice") &&
	     strcasecmp(strat->valuestring, "CapacityOptimized")))) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
		       "parameter 'skuProfile.allocationStrategy' is invalid: "
		       "LowestPrice or CapacityOptimized.",
		       cJSON_IsString(strat) ? strat->valuestring :
		       "(not a string)");
		return false;
	}
	lowest = !cJSON_IsString(strat) ||
		 !strcasecmp(strat->valuestring, "LowestPrice");
	if (!lowest)
		return true;
	/* cheapest first by the emulator's Retail Prices API (Spot prices
	 * for a Spot set) */
	for (int k = 0; k < n; k++)
		price[k] = emu_price_hour(s->info[k].name, _spot_of(props));
	/* insertion sort: stable, so ties keep the written order */
	for (int k = 1; k < n; k++)
		for (int j = k; j > 0 && _dearer(price[j - 1], price[j]); j--) {
			double p = price[j];
			const char *sz = s->size[j];
			azml_size_info_t in = s->info[j];

			price[j] = price[j - 1];
			price[j - 1] = p;
			s->size[j] = s->size[j - 1];
			s->size[j - 1] = sz;
			s->info[j] = s->info[j - 1];
			s->info[j - 1] = in;
		}
	return true;
}

/* The set itself: its location, Flexible mode (an instance mix only there)
 * with its platformFaultDomainCount, and its placement. */
static bool _set_check(const cJSON *req, const cJSON *props, vmss_spec_t *s,
		       reply_t *r)
{
	const cJSON *mode = cJSON_GetObjectItem(props, "orchestrationMode");
	const cJSON *fd, *x;

	s->location = emu_jstr(req, "location");
	if (!*s->location) {
		emu_error(r, 400, "LocationRequired", "The location property is "
		       "required for this definition.");
		return false;
	}
	if (!emu_chars_ok(s->location, 64, " ")) {
		emu_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute/virtualMachineScaleSets'.",
		       s->location);
		return false;
	}
	if (cJSON_IsString(mode) && strcasecmp(mode->valuestring, "Flexible") &&
	    (x = cJSON_GetObjectItem(props, "skuProfile")) && !cJSON_IsNull(x)) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
		       "parameter 'properties.orchestrationMode' is invalid: "
		       "instance mix (properties.skuProfile) is supported only "
		       "for scale sets in Flexible orchestration mode.",
		       mode->valuestring);
		return false;
	}
	if (!cJSON_IsString(mode) || strcasecmp(mode->valuestring, "Flexible")) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of parameter "
		       "'properties.orchestrationMode' is not supported: "
		       "azure-emulator emulates only scale sets in Flexible "
		       "orchestration mode.", cJSON_IsString(mode) ?
		       mode->valuestring : "(none: Uniform)");
		return false;
	}
	fd = cJSON_GetObjectItem(props, "platformFaultDomainCount");
	if (!cJSON_IsNumber(fd) || fd->valuedouble != floor(fd->valuedouble) ||
	    fd->valuedouble < 1 || fd->valuedouble > 3) {
		emu_error(r, 400, "InvalidParameter", "Required parameter "
		       "'platformFaultDomainCount' is missing or invalid: a "
		       "scale set in Flexible orchestration mode needs 1, 2 or "
		       "3.");
		return false;
	}
	if (((x = cJSON_GetObjectItem(props, "singlePlacementGroup")) &&
	     !cJSON_IsBool(x) && !cJSON_IsNull(x)) ||
	    ((x = cJSON_GetObjectItem(props, "proximityPlacementGroup")) &&
	     !cJSON_IsNull(x) && (!cJSON_IsObject(x) ||
	      !cJSON_IsString(cJSON_GetObjectItem(x, "id")) ||
	      strlen(emu_jstr(x, "id")) > 1024))) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'singlePlacementGroup' must be a boolean and "
		       "'proximityPlacementGroup' an object with an 'id'.");
		return false;
	}
	return true;
}

/* Its sku: sku.name and the sizes it stands for (_vmss_sizes_check),
 * sku.tier, sku.capacity (0 to VMSS_VMS_MAX). */
static bool _sku_check(const cJSON *req, const cJSON *props, const char *name,
		       vmss_spec_t *s, reply_t *r)
{
	const cJSON *sku = cJSON_GetObjectItem(req, "sku"), *cap, *x;

	if (!cJSON_IsObject(sku) || !cJSON_IsString(cJSON_GetObjectItem(sku,
								"name"))) {
		emu_error(r, 400, "InvalidParameter", "Required parameter "
		       "'sku.name' is missing (null).");
		return false;
	}
	if (!_vmss_sizes_check(props, emu_jstr(sku, "name"), s, r))
		return false;
	if ((x = cJSON_GetObjectItem(sku, "tier")) && !cJSON_IsNull(x) &&
	    (!cJSON_IsString(x) || !emu_chars_ok(x->valuestring, 64, ""))) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'sku.tier' is invalid.");
		return false;
	}
	if ((cap = cJSON_GetObjectItem(sku, "capacity"))) {
		if (!cJSON_IsNumber(cap) || cap->valuedouble < 0 ||
		    cap->valuedouble > VMSS_VMS_MAX ||
		    cap->valuedouble != floor(cap->valuedouble)) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'sku.capacity' is invalid: a scale set "
			       "in Flexible orchestration mode has 0 to %d "
			       "virtual machines.", VMSS_VMS_MAX);
			return false;
		}
		s->capacity = (long) cap->valuedouble;
	}
	return true;
}

/* Its zones: at most three distinct ones. */
static bool _zones_check(const cJSON *req, vmss_spec_t *s, reply_t *r)
{
	const cJSON *it;

	s->zones = cJSON_GetObjectItem(req, "zones");
	if (s->zones) {
		int nz = 0;

		if (!cJSON_IsArray(s->zones) || cJSON_GetArraySize(s->zones) > 3)
			nz = -1;
		cJSON_ArrayForEach(it, (nz < 0 ? NULL : s->zones)) {
			if (!cJSON_IsString(it) || !emu_zone_ok(it->valuestring)) {
				nz = -1;
				break;
			}
			for (const cJSON *p = s->zones->child; p != it; p = p->next)
				if (!strcmp(p->valuestring, it->valuestring))
					nz = -1;
		}
		if (nz < 0) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'zones' is invalid: at most three "
			       "distinct availability zones, such as "
			       "[\"1\",\"2\",\"3\"].");
			return false;
		}
	}
	return true;
}

/* The virtualMachineProfile its VMs are made from: bounded in size, its
 * computerNamePrefix, the VM checks of vm.c, priority, eviction, billing
 * and NICs; without one, the set has no VM of its own. */
static bool _profile_check(const cJSON *props, const char *name,
			   vmss_spec_t *s, reply_t *r)
{
	char check[80];

	s->profile = cJSON_GetObjectItem(props, "virtualMachineProfile");
	if (cJSON_IsNull(s->profile))
		s->profile = NULL;
	if (s->profile) {
		const cJSON *os = cJSON_GetObjectItem(s->profile, "osProfile");
		const cJSON *pre = cJSON_GetObjectItem(os, "computerNamePrefix");
		const char *prio = emu_jstr(s->profile, "priority");
		const cJSON *ev = cJSON_GetObjectItem(s->profile, "evictionPolicy");
		const cJSON *bp = cJSON_GetObjectItem(s->profile, "billingProfile");
		const cJSON *np = cJSON_GetObjectItem(s->profile,
						      "networkProfile");
		const cJSON *nics = cJSON_GetObjectItem(np,
			"networkInterfaceConfigurations");
		char *printed;
		size_t plen;

		if (!cJSON_IsObject(s->profile)) {
			emu_error(r, 400, "InvalidRequestContent", "The request "
			       "content was invalid and could not be "
			       "deserialized: 'virtualMachineProfile' must be an "
			       "object.");
			return false;
		}
		/* every VM of the set gets a copy */
		printed = cJSON_PrintUnformatted(s->profile);
		plen = printed ? strlen(printed) : SIZE_MAX;
		cJSON_free(printed);
		if (plen > VMSS_PROFILE_MAX) {
			emu_error(r, 400, "InvalidParameter", "The "
			       "virtualMachineProfile is too large for "
			       "azure-emulator: at most %d bytes of JSON.",
			       VMSS_PROFILE_MAX);
			return false;
		}
		if (pre && !cJSON_IsString(pre)) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'computerNamePrefix' is invalid.");
			return false;
		}
		s->prefix = pre ? pre->valuestring : name;
		if (!emu_computer_name_ok(s->prefix) || strlen(s->prefix) > 58) {
			emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
			       "parameter 'computerNamePrefix' is invalid: 1 to 58 "
			       "letters, digits and '-' (6 characters are "
			       "added to make a Linux host name of at most 64).",
			       s->prefix);
			return false;
		}
		snprintf(check, sizeof(check), "%sabcdef", s->prefix);
		if (!emu_vm_props_ok(s->profile, check, r))
			return false;
		if ((cJSON_GetObjectItem(s->profile, "priority") &&
		     !*prio) || (*prio && strcasecmp(prio, "Regular") &&
				 strcasecmp(prio, "Low") &&
				 strcasecmp(prio, "Spot"))) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'priority' is invalid: Regular, Low or "
			       "Spot.");
			return false;
		}
		s->spot = !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low");
		if (ev && !cJSON_IsNull(ev) && (!s->spot || !cJSON_IsString(ev) ||
		    (strcasecmp(ev->valuestring, "Delete") &&
		     strcasecmp(ev->valuestring, "Deallocate")))) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'evictionPolicy' is invalid: Delete or "
			       "Deallocate, for Spot virtual machines only.");
			return false;
		}
		if (bp && !cJSON_IsNull(bp) && (!cJSON_IsObject(bp) ||
		    (cJSON_GetObjectItem(bp, "maxPrice") &&
		     (!cJSON_IsNumber(cJSON_GetObjectItem(bp, "maxPrice")) ||
		      emu_jnum(bp, "maxPrice") < -1)))) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'billingProfile.maxPrice' is invalid: "
			       "-1 or a price.");
			return false;
		}
		if ((np && !cJSON_IsObject(np)) || (nics &&
		    (!cJSON_IsArray(nics) || cJSON_GetArraySize(nics) > 8))) {
			emu_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'networkInterfaceConfigurations' is "
			       "invalid: at most 8 of them.");
			return false;
		}
	} else if (s->capacity > 0) {
		emu_error(r, 400, "InvalidParameter", "A scale set without "
		       "'virtualMachineProfile' has no virtual machines of its "
		       "own: 'sku.capacity' must be 0.");
		return false;
	}
	return true;
}

/*
 * Check a set's body REQ (a PUT's, or a PATCH merged into the set) as the
 * VM PUT checks a VM's: the set (_set_check), its sku (_sku_check), zones,
 * tags, the virtualMachineProfile (_profile_check) and its identity.
 * Fills *S and returns true, or returns false with Azure's 400 in R.
 */
bool emu_vmss_check(const cJSON *req, const char *name, vmss_spec_t *s,
		    reply_t *r)
{
	const cJSON *props = cJSON_GetObjectItem(req, "properties");

	memset(s, 0, sizeof(*s));
	s->capacity = -1;
	if (!cJSON_IsObject(req) || !cJSON_IsObject(props)) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized.");
		return false;
	}
	if (!_set_check(req, props, s, r) ||
	    !_sku_check(req, props, name, s, r) || !_zones_check(req, s, r))
		return false;
	s->tags = cJSON_GetObjectItem(req, "tags");
	if (!emu_tags_ok(s->tags, r) || !_profile_check(props, name, s, r))
		return false;
	return emu_identity_build(cJSON_GetObjectItem(req, "identity"), &s->ident,
			       r);
}

/*
 * arm_vmss.c - scale sets through ARM: the body of a set, get, create,
 * grow, the batched delete of VMs, delete, the list of a set's VMs (see
 * arm.h; the engine is arm.c).
 */
#include "config.h"

#include <ctype.h>
#include <time.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm_version.h>	/* macros only: no libslurm here */

#include "arm.h"
#include "arm_int.h"
#include "auth.h"
#include "bootdiag.h"
#include "log.h"
#include "safefile.h"

static void _move(cJSON *from, cJSON *to, const char *key)
{
	cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(from, key);

	if (it)
		cJSON_AddItemToObject(to, key, it);
}

/* properties.skuProfile of a mix: its sizes in the order written, and
 * Azure's strategy (Prioritized is refused for a scale set by
 * check-config: 2024-07-01 has no rank; LowestPrice stands in for it if
 * a caller skipped the check). */
static void _sku_profile(cJSON *p, const azml_target_t *t)
{
	cJSON *sp = cJSON_AddObjectToObject(p, "skuProfile");
	cJSON *sizes = cJSON_AddArrayToObject(sp, "vmSizes");

	for (size_t i = 0; i < t->nmix && i < AZML_MIX_MAX; i++) {
		cJSON *one = cJSON_CreateObject();

		cJSON_AddStringToObject(one, "name", t->mix[i]);
		cJSON_AddItemToArray(sizes, one);
	}
	cJSON_AddStringToObject(sp, "allocationStrategy",
				t->alloc == AZML_ALLOC_CAPACITY_OPTIMIZED ?
				"CapacityOptimized" : "LowestPrice");
}

cJSON *azml_arm_vmss_body(const azml_conf_t *conf, const azml_target_t *t,
			  long capacity, const azml_ctld_info_t *ctld,
			  char *err, size_t n)
{
	char first[96];
	cJSON *vm, *b, *p, *vp, *sku, *vmp, *os, *nic;

	/* one VM's body, made into the set's model: no node in it */
	snprintf(first, sizeof(first), "%s-1", t->name);
	if (!(vm = azml_arm_vm_body(conf, t, first, ctld, err, n)))
		return NULL;
	vp = cJSON_GetObjectItem(vm, "properties");
	cJSON_DeleteItemFromObject(vp, "userData");
	cJSON_DeleteItemFromObject(vp, "hardwareProfile");
	cJSON_DeleteItemFromObject(vp, "proximityPlacementGroup");
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(vm, "tags"),
				   "slurm-node");
	os = cJSON_GetObjectItem(cJSON_GetObjectItem(vp, "storageProfile"),
				 "osDisk");
	cJSON_DeleteItemFromObject(os, "name");	/* Azure names each disk */
	vmp = cJSON_GetObjectItem(vp, "osProfile");
	cJSON_DeleteItemFromObject(vmp, "computerName");
	snprintf(first, sizeof(first), "%s-", t->name);
	cJSON_AddStringToObject(vmp, "computerNamePrefix", first);
	nic = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(vp,
		"networkProfile"), "networkInterfaceConfigurations"), 0);
	cJSON_ReplaceItemInObject(nic, "name", cJSON_CreateString("nic"));
	if ((t->slurmctld_host || (ctld && ctld->slurmctld_host))) {
		azml_userdata_t u;
		char *b64;

		if (azml_arm_userdata(conf, t, NULL, ctld, &u, err, n)) {
			cJSON_Delete(vm);
			return NULL;
		}
		free(u.node);	/* each VM learns its node from slurmctld */
		u.node = NULL;
		b64 = azml_userdata_encode(&u);
		azml_userdata_free(&u);
		if (!b64 || strlen(b64) > AZML_USERDATA_MAX) {
			snprintf(err, n, "the scale set's userData is %s",
				 b64 ? "over Azure's limit" : "out of memory");
			free(b64);
			cJSON_Delete(vm);
			return NULL;
		}
		cJSON_AddStringToObject(vp, "userData", b64);
		free(b64);
	}

	b = cJSON_CreateObject();
	_move(vm, b, "location");
	_move(vm, b, "identity");
	_move(vm, b, "tags");
	_move(vm, b, "zones");
	sku = cJSON_AddObjectToObject(b, "sku");
	if (t->nmix > 1) {
		/* an instance mix (2024-07-01's SkuProfile): the sizes are in
		 * skuProfile, the sku is only "Mix" and the count */
		cJSON_AddStringToObject(sku, "name", "Mix");
	} else {
		cJSON_AddStringToObject(sku, "name", t->vm_size);
		cJSON_AddStringToObject(sku, "tier", "Standard");
	}
	cJSON_AddNumberToObject(sku, "capacity", (double) capacity);
	p = cJSON_AddObjectToObject(b, "properties");
	cJSON_AddStringToObject(p, "orchestrationMode", "Flexible");
	if (t->nmix > 1)
		_sku_profile(p, t);
	cJSON_AddNumberToObject(p, "platformFaultDomainCount", 1);
	if (t->ppg)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p,
			"proximityPlacementGroup"), "id", t->ppg);
	cJSON_AddItemToObject(p, "virtualMachineProfile",
			      cJSON_DetachItemFromObject(vm, "properties"));
	cJSON_Delete(vm);
	return b;
}

/* ---- scale sets ---- */

static call_t *_set_call(azml_arm_t *arm, kind_t kind, const char *set,
			 azml_vm_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, kind, set, cb, arg);

	c->r.capacity = -1;
	if (!azml_arm_resource_name_ok(set)) {
		azml_arm_fail(c, 0, "InvalidResourceName",
			      "'%.80s' is not a valid scale "
			      "set name",
			      set ? set : "");
		return NULL;
	}
	azml_arm_copy(c->r.scale_set, sizeof(c->r.scale_set), set);
	return c;
}

static void _set_url(const azml_arm_t *arm, const char *set,
		     const char *suffix, const char *query, char *url, size_t n)
{
	snprintf(url, n, "%s/resourceGroups/%s/providers/Microsoft.Compute/"
		 "virtualMachineScaleSets/%s%s?api-version=" AZML_API_COMPUTE
		 "%s", arm->base, arm->conf->resource_group, set, suffix,
		 query ? query : "");
}

/* An etag is sent back as it came, inside a header: printable, no quote
 * games beyond Azure's own W/"..." form. */
static bool _etag_ok(const char *e)
{
	size_t n = e ? strlen(e) : 0;

	if (n < 1 || n > 60)
		return false;
	for (size_t i = 0; i < n; i++)
		if (e[i] < 0x21 || e[i] > 0x7e)
			return false;
	return true;
}

int azml_arm_vmss_get(azml_arm_t *arm, const char *set, azml_vm_cb cb,
		      void *arg)
{
	call_t *c = _set_call(arm, K_SS_GET, set, cb, arg);
	char url[2048];

	if (!c)
		return -1;
	_set_url(arm, set, "", NULL, url, sizeof(url));
	return azml_arm_send(c, "GET", url, NULL, 0);
}

int azml_arm_vmss_create(azml_arm_t *arm, const azml_target_t *t,
			 const char *set, long capacity, azml_vm_cb cb,
			 void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048], err[512];
	cJSON *body;
	char *s;
	int rc;

	if (!c)
		return -1;
	azml_arm_copy(c->r.size, sizeof(c->r.size), t->vm_size);
	if (!(body = azml_arm_vmss_body(arm->conf, t, capacity, &arm->ctld,
					err, sizeof(err)))) {
		azml_arm_fail(c, 0, "InvalidParameter", "%s", err);
		return -1;
	}
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	snprintf(c->hdr, sizeof(c->hdr), "If-None-Match: *");
	_set_url(arm, set, "", NULL, url, sizeof(url));
	rc = azml_arm_send(c, "PUT", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vmss_scale(azml_arm_t *arm, const char *set, long capacity,
			const char *etag, azml_vm_cb cb, void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048], body[96];

	if (!c)
		return -1;
	if (!_etag_ok(etag)) {
		azml_arm_fail(c, 0, "InvalidResponse",
			      "the scale set's etag is not "
			      "one Azure would give");
		return -1;
	}
	snprintf(c->hdr, sizeof(c->hdr), "If-Match: %s", etag);
	snprintf(body, sizeof(body), "{\"sku\":{\"capacity\":%ld}}", capacity);
	_set_url(arm, set, "", NULL, url, sizeof(url));
	return azml_arm_send(c, "PATCH", url, body, 0);
}

int azml_arm_vmss_delete_vms(azml_arm_t *arm, const char *set,
			     const char *const *vms, size_t n, azml_vm_cb cb,
			     void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	cJSON *b, *ids;
	char url[2048], *s;
	int rc;

	if (!c)
		return -1;
	if (!n || n > AZML_ARM_VMSS_BATCH) {
		azml_arm_fail(c, 0, "InvalidParameter",
			      "%zu VMs to delete in one "
			      "request: 1 to %d",
			      n, AZML_ARM_VMSS_BATCH);
		return -1;
	}
	b = cJSON_CreateObject();
	ids = cJSON_AddArrayToObject(b, "instanceIds");
	for (size_t i = 0; i < n; i++) {
		if (!azml_arm_resource_name_ok(vms[i])) {
			cJSON_Delete(b);
			azml_arm_fail(c, 0, "InvalidResourceName",
				      "'%.80s' is not a VM "
				      "name",
				      vms[i] ? vms[i] : "");
			return -1;
		}
		cJSON_AddItemToArray(ids, cJSON_CreateString(vms[i]));
	}
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	_set_url(arm, set, "/delete", "&forceDeletion=true", url, sizeof(url));
	rc = azml_arm_send(c, "POST", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vmss_delete(azml_arm_t *arm, const char *set, azml_vm_cb cb,
			 void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048];

	if (!c)
		return -1;
	c->kind = K_DELETE;	/* a set already gone is deleted */
	_set_url(arm, set, "", "&forceDeletion=true", url, sizeof(url));
	return azml_arm_send(c, "DELETE", url, NULL, 0);
}

int azml_arm_vmss_vms(azml_arm_t *arm, const char *set, azml_vm_list_cb cb,
		      void *arg)
{
	call_t *c = azml_arm_call(arm, K_LIST, set, NULL, arg);
	char url[2048];

	c->list_cb = cb;
	c->set_list = true;
	if (!azml_arm_resource_name_ok(set)) {
		azml_arm_fail(c, 0, "InvalidResourceName",
			      "'%.80s' is not a valid scale "
			      "set name",
			      set ? set : "");
		return -1;
	}
	/* 'virtualMachineScaleSet/id' eq '/subscriptions/.../NAME', escaped */
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines?api-version="
		 AZML_API_COMPUTE "&$expand=instanceView&$filter="
		 "%%27virtualMachineScaleSet%%2Fid%%27%%20eq%%20%%27"
		 "%%2Fsubscriptions%%2F%s%%2FresourceGroups%%2F%s%%2Fproviders"
		 "%%2FMicrosoft.Compute%%2FvirtualMachineScaleSets%%2F%s%%27",
		 arm->base, arm->conf->resource_group,
		 arm->conf->subscription_id, arm->conf->resource_group, set);
	return azml_arm_send(c, "GET", url, NULL, 0);
}

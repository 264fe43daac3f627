/*
 * vm.c - the Azure emulator's virtual machines: PUT (create or update),
 * GET, list, DELETE, power actions, and the network interfaces they show.
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

struct emu_vm_state emu_vm_st;

vm_t *emu_vm_find(const char *key)
{
	for (vm_t *v = emu_vm_st.vms[emu_hash(key) % NBUCKETS]; v; v = v->next)
		if (!strcmp(v->key, key))
			return v;
	return NULL;
}

void emu_vm_unlink(vm_t *vm)
{
	vm_t **p = &emu_vm_st.vms[emu_hash(vm->key) % NBUCKETS];

	for (; *p; p = &(*p)->next)
		if (*p == vm) {
			*p = vm->next;
			emu_vm_st.nvms--;
			return;
		}
}

void emu_vm_free(vm_t *v)
{
	free(v->sub); free(v->rg); free(v->name); free(v->location);
	free(v->node); free(v->size); free(v->nic); free(v->computer);
	free(v->vmss);
	cJSON_Delete(v->resource);
	free(v);
}

vm_t *emu_vm_new(const char *sub, const char *rg, const char *name)
{
	vm_t *v = calloc(1, sizeof(*v));

	snprintf(v->key, sizeof(v->key), "%s/%s/%s", sub, rg, name);
	emu_lower(v->key);
	v->sub = strdup(sub);
	v->rg = strdup(rg);
	v->name = strdup(name);
	return v;
}

void emu_vm_insert(vm_t *v)
{
	uint32_t b = emu_hash(v->key) % NBUCKETS;

	v->next = emu_vm_st.vms[b];
	emu_vm_st.vms[b] = v;
	emu_vm_st.nvms++;
}

void emu_set_size(vm_t *v, const char *size)
{
	azml_size_info_t info;

	free(v->size);
	v->size = strdup(size);
	v->family = "standardUnknownFamily";
	v->vcpus = 1;
	if (!azml_catalog_resolve(size, &info)) {
		v->family = azml_series_quota_family(info.series);
		v->vcpus = info.vcpus;
	}
}

/* The VM's availability zone ("1"), or "" when it has none. */
const char *emu_vm_zone(const vm_t *v)
{
	const cJSON *zones = cJSON_GetObjectItem(v->resource, "zones");

	return cJSON_IsArray(zones) && cJSON_IsString(zones->child) ?
	       zones->child->valuestring : "";
}

void emu_set_instance_state(vm_t *v, const char *prov, const char *power)
{
	cJSON *props = cJSON_GetObjectItem(v->resource, "properties");

	snprintf(v->provisioning, sizeof(v->provisioning), "%s", prov);
	snprintf(v->power, sizeof(v->power), "%s", power);
	if (props)
		cJSON_ReplaceItemInObject(props, "provisioningState",
					  cJSON_CreateString(prov));
}

/* Halt VM V, forget it and its serial log, and free it.  A set it
 * counted in has one VM less: a new etag. */
void emu_vm_destroy(vm_t *v)
{
	char console[4096];
	vmss_t *set = strcmp(v->provisioning, "Deleting") ? emu_vmss_of(v) : NULL;

	emu_halt(v);
	if (!emu_console_path(v, console, sizeof(console)))
		unlink(console);
	emu_layer_delete(v);
	emu_vm_unlink(v);
	emu_journal_gone(v);
	emu_vm_free(v);
	emu_vmss_touch(set);
}

vm_t *emu_vm_by_name(const char *name)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			if (!strcasecmp(v->name, name))
				return v;
	return NULL;
}

static cJSON *_instance_view(const vm_t *v)
{
	cJSON *iv = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(iv, "statuses");
	cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
	char code[64], lower[16];

	snprintf(lower, sizeof(lower), "%s", v->provisioning);
	emu_lower(lower);
	snprintf(code, sizeof(code), "ProvisioningState/%s", lower);
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "level", "Info");
	cJSON_AddStringToObject(a, "displayStatus", v->provisioning);
	cJSON_AddItemToArray(st, a);
	snprintf(code, sizeof(code), "PowerState/%s", v->power);
	cJSON_AddStringToObject(b, "code", code);
	cJSON_AddStringToObject(b, "level", "Info");
	snprintf(code, sizeof(code), "VM %s", v->power);
	cJSON_AddStringToObject(b, "displayStatus", code);
	cJSON_AddItemToArray(st, b);
	cJSON_AddStringToObject(iv, "computerName", v->computer ? v->computer : v->name);
	return iv;
}

/* The VM as GET shows it: with its instance view when EXPAND, its
 * userData only when USERDATA ($expand=userData), as Azure does. */
static cJSON *_vm_view(const vm_t *v, bool expand, bool userdata)
{
	cJSON *o = cJSON_Duplicate(v->resource, 1);

	if (!userdata)
		cJSON_DeleteItemFromObject(cJSON_GetObjectItem(o, "properties"),
					   "userData");
	if (emu_faults.node_tag[0]) {
		cJSON *tags = cJSON_GetObjectItem(o, "tags");

		if (cJSON_IsObject(tags))
			cJSON_ReplaceItemInObject(tags, "slurm-node",
				cJSON_CreateString(emu_faults.node_tag));
	}
	if (expand)
		cJSON_AddItemToObject(cJSON_GetObjectItem(o, "properties"),
				      "instanceView", _instance_view(v));
	return o;
}

/*
 * What Azure adds to a VM's PROPS when it makes it: the NIC it made from
 * the NIC configuration (networkProfile.networkInterfaces, by id), the OS
 * disk's type and managed disk id.
 */
static void _vm_derived(cJSON *props, const char *sub, const char *rg,
			const char *name, const char *nic)
{
	cJSON *np = cJSON_GetObjectItem(props, "networkProfile");
	cJSON *disk = cJSON_GetObjectItem(cJSON_GetObjectItem(props,
					  "storageProfile"), "osDisk");
	char id[1024];

	if (nic && cJSON_IsObject(np) &&
	    !cJSON_GetObjectItem(np, "networkInterfaces")) {
		cJSON *ref = cJSON_CreateObject(), *rp;
		const char *del = emu_jstr(cJSON_GetObjectItem(cJSON_GetArrayItem(
			cJSON_GetObjectItem(np, "networkInterfaceConfigurations"),
			0), "properties"), "deleteOption");

		snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/"
			 "providers/Microsoft.Network/networkInterfaces/%s",
			 sub, rg, nic);
		cJSON_AddStringToObject(ref, "id", id);
		rp = cJSON_AddObjectToObject(ref, "properties");
		cJSON_AddBoolToObject(rp, "primary", true);
		if (*del)
			cJSON_AddStringToObject(rp, "deleteOption", del);
		cJSON_AddItemToArray(cJSON_AddArrayToObject(np,
				     "networkInterfaces"), ref);
	}
	if (cJSON_IsObject(disk)) {
		cJSON *md = cJSON_GetObjectItem(disk, "managedDisk");
		const char *dn = emu_jstr(disk, "name");

		if (!cJSON_GetObjectItem(disk, "osType"))
			cJSON_AddStringToObject(disk, "osType", "Linux");
		if (!md)
			md = cJSON_AddObjectToObject(disk, "managedDisk");
		if (cJSON_IsObject(md) && !cJSON_GetObjectItem(md, "id") &&
		    emu_name_ok(*dn ? dn : name)) {
			snprintf(id, sizeof(id), "/subscriptions/%s/"
				 "resourceGroups/%s/providers/Microsoft.Compute/"
				 "disks/%s%s", sub, rg, *dn ? dn : name,
				 *dn ? "" : "_OsDisk_1");
			cJSON_AddStringToObject(md, "id", id);
		}
	}
}

/*
 * PUT of an existing VM V: create-or-update.  What REQ says replaces what
 * V had (tags, identity, the properties it names), Azure's read-only
 * properties stay; the etag grows.  The size and zones stay as they were
 * (a resize is not emulated: 409 OperationNotAllowed).
 */
static void _vm_update(vm_t *v, const cJSON *req, cJSON *ident, reply_t *r)
{
	static const char *const readonly[] = { "vmId", "provisioningState",
		"timeCreated", "instanceView", NULL };
	const cJSON *props = cJSON_GetObjectItem(req, "properties"), *it;
	cJSON *cur = cJSON_GetObjectItem(v->resource, "properties");
	const char *size = emu_jstr(cJSON_GetObjectItem(props,
				    "hardwareProfile"), "vmSize");
	char etag[32];

	if (*size && strcasecmp(size, v->size)) {
		emu_error(r, 409, "OperationNotAllowed", "azure-emulator does "
			  "not resize VMs: VM '%s' is %s, the update asks for "
			  "%s.", v->name, v->size, size);
		cJSON_Delete(ident);
		return;
	}
	cJSON_ArrayForEach(it, props) {
		bool ro = false;

		for (int i = 0; readonly[i]; i++)
			ro |= !strcmp(it->string, readonly[i]);
		if (ro || !strcmp(it->string, "networkProfile") ||
		    !strcmp(it->string, "storageProfile"))
			continue;	/* the NIC and disk stay as made */
		cJSON_DeleteItemFromObject(cur, it->string);
		cJSON_AddItemToObject(cur, it->string, cJSON_Duplicate(it, 1));
	}
	if (cJSON_GetObjectItem(req, "tags")) {
		cJSON_DeleteItemFromObject(v->resource, "tags");
		cJSON_AddItemToObject(v->resource, "tags", cJSON_Duplicate(
			cJSON_GetObjectItem(req, "tags"), 1));
		free(v->node);
		v->node = *emu_jstr(cJSON_GetObjectItem(req, "tags"),
				    "slurm-node") ? strdup(emu_jstr(
				    cJSON_GetObjectItem(req, "tags"),
				    "slurm-node")) : NULL;
	}
	if (cJSON_GetObjectItem(req, "identity")) {
		cJSON_DeleteItemFromObject(v->resource, "identity");
		if (ident)
			cJSON_AddItemToObject(v->resource, "identity", ident);
		ident = NULL;
	}
	cJSON_Delete(ident);
	snprintf(etag, sizeof(etag), "\"%ld\"", atol(emu_jstr(v->resource,
		 "etag") + (*emu_jstr(v->resource, "etag") == '"')) + 1);
	cJSON_DeleteItemFromObject(v->resource, "etag");
	cJSON_AddStringToObject(v->resource, "etag", etag);
	emu_journal_vm(v);
	emu_json(r, 200, _vm_view(v, false, false));
}

void emu_vm_put(struct MHD_Connection *c, const char *sub, const char *rg,
		    const char *name, const char *body, reply_t *r)
{
	char key[400], id[1024], vmid[40];
	cJSON *req = cJSON_Parse(body ? body : ""), *props, *hw, *tags, *nics;
	cJSON *ident = NULL, *zones;
	const char *size, *location, *prio, *computer, *zone = "";
	azml_size_info_t info;
	int fault;
	vm_t *v;

	snprintf(key, sizeof(key), "%s/%s/%s", sub, rg, name);
	emu_lower(key);
	props = cJSON_GetObjectItem(req, "properties");
	hw = cJSON_GetObjectItem(props, "hardwareProfile");
	size = emu_jstr(hw, "vmSize");
	location = emu_jstr(req, "location");
	if (!req || !cJSON_IsObject(props)) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized.");
		goto out;
	}
	if (!*location) {
		emu_error(r, 400, "LocationRequired", "The location property is "
		       "required for this definition.");
		goto out;
	}
	if (!emu_chars_ok(location, 64, " ")) {
		emu_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute/virtualMachines'.", location);
		goto out;
	}
	if (!*size) {
		emu_error(r, 400, "InvalidParameter", "Required parameter "
		       "'hardwareProfile.vmSize' is missing (null).");
		goto out;
	}
	if (azml_catalog_resolve(size, &info)) {
		emu_error(r, 400, "InvalidParameter", "The value %s provided for the "
		       "VM size is not valid. The valid sizes in the current "
		       "region are listed by the vmSizes API.", size);
		goto out;
	}
	zones = cJSON_GetObjectItem(req, "zones");
	if (zones && (!cJSON_IsArray(zones) || cJSON_GetArraySize(zones) > 1 ||
		      (zones->child && (!cJSON_IsString(zones->child) ||
					!emu_zone_ok(zones->child->valuestring))))) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'zones' is invalid: a virtual machine is in at most one "
		       "availability zone, such as [\"1\"].");
		goto out;
	}
	if (zones && zones->child)
		zone = zones->child->valuestring;
	tags = cJSON_GetObjectItem(req, "tags");
	if (!emu_tags_ok(tags, r))
		goto out;
	if (!emu_vm_spec_ok(props, r) ||
	    !(computer = emu_vm_props_ok(props, name, r)) ||
	    !emu_identity_build(cJSON_GetObjectItem(req, "identity"), &ident, r))
		goto out;
	if ((v = emu_vm_find(key))) {
		if (!strcmp(v->provisioning, "Deleting")) {
			emu_error(r, 409, "OperationNotAllowed", "Operation "
			       "'CreateOrUpdate' is not allowed on VM '%s' since "
			       "the VM is marked for deletion.", name);
			goto out;
		}
		/* ARM's PUT is create-or-update */
		if (ident && cJSON_GetObjectItem(ident, "principalId")) {
			char guid[40];

			emu_guid_of("system:", emu_jstr(v->resource, "id"), guid);
			cJSON_ReplaceItemInObject(ident, "principalId",
						  cJSON_CreateString(guid));
		}
		_vm_update(v, req, ident, r);
		ident = NULL;
		goto out;
	}
	fault = emu_capacity_fault(info.name, zone);
	if (fault >= 0 && emu_capacity_codes[fault].at_once) {
		emu_error(r, 409, emu_capacity_codes[fault].code, "The requested VM "
		       "size for resource 'Following SKUs have failed for Capacity "
		       "Restrictions: %s' is currently not available in location "
		       "'%s'. Please try another size or deploy to a different "
		       "location or zones.", size, location);
		goto out;
	}
	prio = emu_jstr(props, "priority");
	if (!emu_quota_ok(azml_series_quota_family(info.series), info.vcpus,
		       !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low"),
		       location, r))
		goto out;
	v = emu_vm_new(sub, rg, name);
	v->location = strdup(location);
	emu_set_size(v, size);
	v->spot = !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low");
	v->computer = strdup(computer);
	v->incarnation = 1;
	if (*emu_jstr(tags, "slurm-node"))
		v->node = strdup(emu_jstr(tags, "slurm-node"));
	nics = cJSON_GetObjectItem(cJSON_GetObjectItem(props, "networkProfile"),
				   "networkInterfaceConfigurations");
	if (cJSON_GetArraySize(nics) > 0 &&
	    emu_name_ok(emu_jstr(cJSON_GetArrayItem(nics, 0), "name")))
		v->nic = strdup(emu_jstr(cJSON_GetArrayItem(nics, 0), "name"));
	/* The resource as GET shows it: the request, plus Azure's fields. */
	snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines/%s", sub, rg, name);
	emu_uuid(vmid);
	v->resource = cJSON_CreateObject();
	cJSON_AddStringToObject(v->resource, "name", name);
	cJSON_AddStringToObject(v->resource, "id", id);
	cJSON_AddStringToObject(v->resource, "type",
				"Microsoft.Compute/virtualMachines");
	cJSON_AddStringToObject(v->resource, "location", location);
	if (zones)
		cJSON_AddItemToObject(v->resource, "zones",
				      cJSON_Duplicate(zones, 1));
	if (tags)
		cJSON_AddItemToObject(v->resource, "tags", cJSON_Duplicate(tags, 1));
	if (ident) {
		if (cJSON_GetObjectItem(ident, "principalId")) {
			char guid[40];

			emu_guid_of("system:", id, guid);
			cJSON_ReplaceItemInObject(ident, "principalId",
						  cJSON_CreateString(guid));
		}
		/* fault: the VM ends up without the identities asked for */
		if (!emu_faults.identity_missing)
			cJSON_AddItemToObject(v->resource, "identity", ident);
		else
			cJSON_Delete(ident);
		ident = NULL;
	}
	props = cJSON_Duplicate(props, 1);
	_vm_derived(props, sub, rg, name, v->nic);
	cJSON_AddStringToObject(v->resource, "etag", "\"1\"");
	cJSON_AddStringToObject(props, "vmId", vmid);
	cJSON_AddStringToObject(props, "provisioningState", "Creating");
	{
		char stamp[64];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		cJSON_AddStringToObject(props, "timeCreated", stamp);
	}
	cJSON_AddItemToObject(v->resource, "properties", props);
	snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
	snprintf(v->power, sizeof(v->power), "starting");
	emu_vm_insert(v);
	emu_stats.creates++;
	{
		op_t *op = emu_op_new(OP_CREATE, v);

		if (fault >= 0) {	/* found no hardware: the operation fails */
			op->err_code = strdup(emu_capacity_codes[fault].code);
			op->err_msg = strdup(emu_capacity_codes[fault].message);
			emu_journal_op(op);
		}
		emu_journal_vm(v);
		emu_json(r, 201, _vm_view(v, false, false));
		emu_op_headers(r, v, op, false);
	}
out:
	cJSON_Delete(ident);
	cJSON_Delete(req);
}

/*
 * The set id of a VM list's $filter, "virtualMachineScaleSet/id eq 'ID'"
 * (the quotes optional, the words in any case; Azure documents the field
 * quoted, "'virtualMachineScaleSet/id' eq 'ID'"), in OUT (N bytes).
 * Returns 0, or -1 when F is not that.
 */
static int _filter_set_id(const char *f, char *out, size_t n)
{
	static const char field[] = "virtualMachineScaleSet/id";
	size_t len;

	bool quoted;

	while (*f == ' ')
		f++;
	if ((quoted = *f == '\''))
		f++;
	if (strncasecmp(f, field, sizeof(field) - 1))
		return -1;
	f += sizeof(field) - 1;
	if (quoted && *f++ != '\'')
		return -1;
	if (*f != ' ')
		return -1;
	for (; *f == ' '; f++)
		;
	if (strncasecmp(f, "eq ", 3))
		return -1;
	for (f += 3; *f == ' '; f++)
		;
	if (*f == '\'') {
		const char *end = strchr(++f, '\'');

		if (!end)
			return -1;
		len = end - f;
		end++;
		while (*end == ' ')
			end++;
		if (*end)
			return -1;
	} else {
		len = strcspn(f, " ");
		for (const char *e = f + len; *e; e++)
			if (*e != ' ')
				return -1;
	}
	if (len < 1 || len >= n)
		return -1;
	memcpy(out, f, len);
	out[len] = '\0';
	return 0;
}

/* S percent-encoded into OUT (N bytes, at least 3 * strlen(S) + 1). */
static void _urlencode(const char *s, char *out, size_t n)
{
	size_t o = 0;

	for (; *s && o + 4 <= n; s++) {
		unsigned char ch = *s;

		if (isalnum(ch) || strchr("-_.~", ch))
			out[o++] = ch;
		else
			o += snprintf(out + o, n - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

/* The resource id of the set NAME. */
void emu_vmss_id(char *out, size_t n, const char *sub, const char *rg,
		     const char *name)
{
	snprintf(out, n, "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachineScaleSets/%s", sub, rg, name);
}

#define FILTER_MAX 1024

/*
 * GET .../virtualMachines[?$filter=virtualMachineScaleSet/id eq 'ID']:
 * the resource group's VMs, or only the members of the set ID (compared
 * case aside), paged with nextLink.
 */
void emu_vm_list(const char *sub, const char *rg, struct MHD_Connection *c,
		     reply_t *r)
{
	cJSON *o, *arr;
	const char *skip_s = emu_arg(c, "$skiptoken"), *filter = emu_arg(c, "$filter");
	const char *expand = emu_arg(c, "$expand");
	const char *status_only = emu_arg(c, "statusOnly");
	long skip = skip_s ? atol(skip_s) : 0, seen = 0, added = 0;
	char prefix[400], set_id[FILTER_MAX], id[1024];
	bool with_view;

	/* The spec: "'instanceView' enables fetching run time status of all
	 * Virtual Machines, this can only be specified if a valid $filter
	 * option is specified"; statusOnly=true is ListAll's. */
	if (expand && strcasecmp(expand, "instanceView")) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
			  "parameter '$expand' is invalid. Allowed values: "
			  "'instanceView'.", expand);
		return;
	}
	if (expand && !filter) {
		emu_error(r, 400, "InvalidParameter", "The parameter '$expand' "
			  "with value 'instanceView' can only be specified "
			  "together with a valid '$filter'.");
		return;
	}
	if (status_only && (rg || (strcasecmp(status_only, "true") &&
				   strcasecmp(status_only, "false")))) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
			  "parameter 'statusOnly' is invalid%s.", status_only,
			  rg ? ": it is allowed only when listing the VMs of "
			  "a subscription" : ". Allowed values: 'true', 'false'");
		return;
	}
	with_view = expand || (status_only && !strcasecmp(status_only, "true"));
	if (filter && (strlen(filter) >= FILTER_MAX ||
		       _filter_set_id(filter, set_id, sizeof(set_id)))) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'$filter' is invalid: '%.200s'. azure-emulator filters "
		       "VMs by \"virtualMachineScaleSet/id eq '{id}'\" only.",
		       filter);
		return;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "value");
	snprintf(prefix, sizeof(prefix), "%s/%s", sub, rg ? rg : "");
	if (rg)
		strcat(prefix, "/");
	emu_lower(prefix);
	/* A stable order for paging: by bucket, then chain. */
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next) {
			if (strncmp(v->key, prefix, strlen(prefix)))
				continue;
			if (filter) {
				if (!v->vmss)
					continue;
				emu_vmss_id(id, sizeof(id), v->sub, v->rg, v->vmss);
				if (strcasecmp(id, set_id))
					continue;
			}
			if (seen++ < skip)
				continue;
			if (added == emu_faults.page_size) {
				char next[1024 + 3 * FILTER_MAX], enc[3 * FILTER_MAX];

				snprintf(next, sizeof(next), "%s/subscriptions/"
					 "%s%s%s/providers/Microsoft."
					 "Compute/virtualMachines?api-version="
					 "%s&$skiptoken=%ld%s%s%s", emu_net_st.base_url,
					 sub,
					 rg ? "/resourceGroups/" : "", rg ? rg : "",
					 emu_arg(c, "api-version"), skip + added,
					 expand ? "&$expand=instanceView" : "",
					 status_only ? "&statusOnly=" : "",
					 status_only ? status_only : "");
				if (filter) {
					_urlencode(filter, enc, sizeof(enc));
					snprintf(next + strlen(next), sizeof(next) -
						 strlen(next), "&$filter=%s", enc);
				}
				cJSON_AddStringToObject(o, "nextLink", next);
				goto done;
			}
			cJSON_AddItemToArray(arr, _vm_view(v, with_view, false));
			added++;
		}
done:
	emu_json(r, 200, o);
}

/* Start deleting VM V: Deleting, and its operation. */
op_t *emu_vm_mark_deleting(vm_t *v)
{
	op_t *op;

	emu_set_instance_state(v, "Deleting", v->power);
	op = emu_op_new(OP_DELETE, v);
	emu_stats.deletes++;
	emu_journal_vm(v);
	return op;
}

/*
 * PATCH .../virtualMachines/NAME with {"identity":{...}}: the identities
 * the VM carries, as ARM updates them (a user-assigned identity set to
 * null in userAssignedIdentities is removed, {} is added; type as given,
 * else kept).  Only identity is taken: anything else is 400.  IMDS gives
 * no token for an identity removed this way ("Identity not found").
 */
void emu_vm_patch(const char *sub, const char *rg, const char *name,
		  const char *body, reply_t *r)
{
	char key[400];
	cJSON *req = cJSON_Parse(body ? body : ""), *pid, *in = NULL, *ua;
	cJSON *ident = NULL, *it;
	const cJSON *cur, *cua, *c2;
	vm_t *v;

	snprintf(key, sizeof(key), "%s/%s/%s", sub, rg, name);
	emu_lower(key);
	if (!(v = emu_vm_find(key)) || !strcmp(v->provisioning, "Deleting")) {
		emu_error(r, 404, "ResourceNotFound", "The Resource "
			  "'Microsoft.Compute/virtualMachines/%s' under resource "
			  "group '%s' was not found.", name, rg);
		goto out;
	}
	pid = cJSON_GetObjectItem(req, "identity");
	if (!cJSON_IsObject(req) || !cJSON_IsObject(pid) ||
	    cJSON_GetArraySize(req) != 1) {
		emu_error(r, 400, "InvalidRequestContent", "azure-emulator: a "
			  "VM's PATCH takes {\"identity\":{...}} only.");
		goto out;
	}
	/* the identity asked for: the VM's, then the patch over it */
	cur = cJSON_GetObjectItem(v->resource, "identity");
	in = cJSON_CreateObject();
	cJSON_AddStringToObject(in, "type", cJSON_IsString(cJSON_GetObjectItem(
		pid, "type")) ? cJSON_GetObjectItem(pid, "type")->valuestring :
		*emu_jstr(cur, "type") ? emu_jstr(cur, "type") : "None");
	ua = cJSON_CreateObject();
	cua = cJSON_GetObjectItem(cur, "userAssignedIdentities");
	cJSON_ArrayForEach(c2, cua)
		cJSON_AddItemToObject(ua, c2->string, cJSON_CreateObject());
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(pid,
						  "userAssignedIdentities")) {
		cJSON_DeleteItemFromObject(ua, it->string);
		if (!cJSON_IsNull(it))
			cJSON_AddItemToObject(ua, it->string,
					      cJSON_Duplicate(it, 1));
	}
	if (ua->child)
		cJSON_AddItemToObject(in, "userAssignedIdentities", ua);
	else
		cJSON_Delete(ua);
	if (!emu_take_write_token(r) || !emu_identity_build(in, &ident, r))
		goto out;
	if (cJSON_GetObjectItem(ident, "principalId")) {
		char guid[40];

		emu_guid_of("system:", emu_jstr(v->resource, "id"), guid);
		cJSON_ReplaceItemInObject(ident, "principalId",
					  cJSON_CreateString(guid));
	}
	cJSON_DeleteItemFromObject(v->resource, "identity");
	if (strcmp(emu_jstr(ident, "type"), "None"))
		cJSON_AddItemToObject(v->resource, "identity", ident);
	else
		cJSON_Delete(ident);
	ident = NULL;
	emu_journal_vm(v);
	emu_json(r, 200, _vm_view(v, false, false));
out:
	cJSON_Delete(ident);
	cJSON_Delete(in);
	cJSON_Delete(req);
}

void emu_vm_action(const char *method, const char *sub, const char *rg,
		       const char *name, const char *action,
		       struct MHD_Connection *c, reply_t *r)
{
	char key[400];
	vm_t *v;
	op_t *op;

	snprintf(key, sizeof(key), "%s/%s/%s", sub, rg, name);
	emu_lower(key);
	v = emu_vm_find(key);
	if (!strcmp(method, "GET") && !emu_compute_take(r, CP_GET))
		return;
	if (!strcmp(method, "DELETE") && !action) {
		if (!v) {
			r->status = 204;	/* already gone: as Azure answers */
			return;
		}
		if (!emu_take_write_token(r) || !emu_compute_take(r, CP_DELETE_VM))
			return;
		if (emu_faults.locked) {	/* a CanNotDelete lock, as Azure words it */
			emu_error(r, 409, "ScopeLocked", "The scope '/subscriptions/"
			       "%s/resourceGroups/%s/providers/Microsoft.Compute/"
			       "virtualMachines/%s' cannot perform delete "
			       "operation because following scope(s) are locked: "
			       "'/subscriptions/%s/resourceGroups/%s'. Please remove "
			       "the lock and try again.", sub, rg, name, sub, rg);
			return;
		}
		if (strcmp(v->provisioning, "Deleting")) {
			vmss_t *set = emu_vmss_of(v);

			op = emu_vm_mark_deleting(v);
			emu_vmss_touch(set);	/* one VM less */
		} else {
			op = NULL;	/* a second delete joins the first */
			for (size_t b = 0; b < NBUCKETS && !op; b++)
				for (op_t *o = emu_op_st.ops[b]; o; o = o->next)
					if (o->kind == OP_DELETE && !o->finished &&
					    !strcmp(o->vmkey, v->key))
						op = o;
			if (!op)
				op = emu_op_new(OP_DELETE, v);
		}
		r->status = 202;
		emu_op_headers(r, v, op, true);
		return;
	}
	if (!v) {
		emu_error(r, 404, "ResourceNotFound", "The Resource "
		       "'Microsoft.Compute/virtualMachines/%s' under resource group "
		       "'%s' was not found.", name, rg);
		return;
	}
	if (!strcmp(method, "GET") && !action) {
		const char *expand = emu_arg(c, "$expand");

		/* $expand=instanceView or userData (one of them, as Azure) */
		emu_json(r, 200, _vm_view(v, expand && !strcasecmp(expand, "instanceView"),
				       expand && !strcasecmp(expand, "userData")));
		return;
	}
	if (!strcmp(method, "POST") && action &&
	    !strcmp(action, "retrieveBootDiagnosticsData")) {
		emu_boot_diagnostics(v, c, r);
		return;
	}
	if (!strcmp(method, "GET") && action && !strcmp(action, "instanceView")) {
		emu_json(r, 200, _instance_view(v));
		return;
	}
	if (!strcmp(method, "POST") && action && (!strcmp(action, "deallocate") ||
					 !strcmp(action, "start"))) {
		bool start = !strcmp(action, "start");

		if (!emu_take_write_token(r))
			return;
		if (!strcmp(v->provisioning, "Deleting") ||
		    !strcmp(v->provisioning, "Creating")) {
			emu_error(r, 409, "OperationNotAllowed", "Operation '%s' is "
			       "not allowed on VM '%s' while it is %s.", action,
			       name, v->provisioning);
			return;
		}
		emu_set_instance_state(v, "Updating", start ? "starting" : "deallocating");
		op = emu_op_new(start ? OP_START : OP_DEALLOCATE, v);
		emu_journal_vm(v);
		r->status = 202;
		emu_op_headers(r, v, op, true);
		return;
	}
	emu_error(r, 400, "InvalidRequestUri", "azure-emulator does not serve %s "
	       "%s on a VM", method, action ? action : "");
}

/* The first IP configuration of V's first NIC configuration (NULL: none). */
static const cJSON *_ipconfig0(const vm_t *v)
{
	const cJSON *nics = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(v->resource, "properties"), "networkProfile"),
		"networkInterfaceConfigurations");

	return cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetArrayItem(nics, 0), "properties"), "ipConfigurations"), 0);
}

void emu_nic_get(const char *sub, const char *rg, const char *name, reply_t *r)
{
	char prefix[400];

	snprintf(prefix, sizeof(prefix), "%s/%s", sub, rg ? rg : "");
	if (rg)
		strcat(prefix, "/");
	emu_lower(prefix);
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next) {
			cJSON *o, *props, *ipc, *ip, *ipp, *vmref;
			char id[1024];

			if (!v->nic || strcasecmp(v->nic, name) ||
			    strncmp(v->key, prefix, strlen(prefix)))
				continue;
			o = cJSON_CreateObject();
			snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/"
				 "providers/Microsoft.Network/networkInterfaces/%s",
				 sub, rg, name);
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddStringToObject(o, "id", id);
			cJSON_AddStringToObject(o, "type",
						"Microsoft.Network/networkInterfaces");
			props = cJSON_AddObjectToObject(o, "properties");
			cJSON_AddStringToObject(props, "provisioningState", "Succeeded");
			ipc = cJSON_AddArrayToObject(props, "ipConfigurations");
			ip = cJSON_CreateObject();
			cJSON_AddStringToObject(ip, "name", "ipconfig1");
			ipp = cJSON_AddObjectToObject(ip, "properties");
			cJSON_AddStringToObject(ipp, "privateIPAddress",
				emu_faults.nic_ip[0] ? emu_faults.nic_ip : "127.0.0.1");
			cJSON_AddStringToObject(ipp, "privateIPAllocationMethod", "Dynamic");
			cJSON_AddBoolToObject(ipp, "primary", true);
			{	/* the subnet the VM's NIC configuration named */
				const cJSON *sid = cJSON_GetObjectItem(
					cJSON_GetObjectItem(_ipconfig0(v),
						"properties"), "subnet");

				if (*emu_jstr(sid, "id"))
					cJSON_AddStringToObject(
						cJSON_AddObjectToObject(ipp,
							"subnet"), "id",
						emu_jstr(sid, "id"));
			}
			cJSON_AddItemToArray(ipc, ip);
			vmref = cJSON_AddObjectToObject(props, "virtualMachine");
			cJSON_AddStringToObject(vmref, "id",
				emu_jstr(v->resource, "id"));
			emu_json(r, 200, o);
			return;
		}
	emu_error(r, 404, "ResourceNotFound", "The Resource "
	       "'Microsoft.Network/networkInterfaces/%s' under resource group "
	       "'%s' was not found.", name, rg);
}

/* Stop and forget every VM (POST /emulator/reset). */
void emu_vm_reset(void)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		while (emu_vm_st.vms[b])
			emu_vm_destroy(emu_vm_st.vms[b]);
}

/*
 * arm_parse.c - the ARM client's pure helpers: name checks, resource ids and
 * the parsers of ARM's answers (see arm.h).
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
#include "azerror.h"
#include "bootdiag.h"
#include "log.h"
#include "names.h"
#include "safefile.h"

/* ---------------------------------------------------------------------- */
/* Pure helpers */

bool azml_arm_name_ok(const char *s)
{
	return azml_node_name_ok(s, AZML_NAME_HOSTNAME);
}

bool azml_arm_resource_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

const char *azml_arm_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void azml_arm_copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int azml_arm_parse_error(const char *body, char *code, size_t cn, char *msg,
			 size_t mn)
{
	int rc = azml_azure_error_parse(body, code, cn, msg, mn);

	/* Azure refuses a create over quota with 409 OperationNotAllowed,
	 * "Operation could not be completed as it results in exceeding
	 * approved ... quota" (Microsoft's error-resource-quota page): the
	 * product's quota refusal, QuotaExceeded, whatever the code */
	if (rc == 0 && cn > 13 && !strcmp(code, "OperationNotAllowed") &&
	    strstr(msg, "exceeding approved") && strstr(msg, "quota"))
		snprintf(code, cn, "QuotaExceeded");
	return rc;
}

void azml_arm_parse_instance_view(const cJSON *iv, azml_vm_result_t *out)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, cJSON_GetObjectItem(iv, "statuses")) {
		const char *c = azml_arm_str(st, "code");

		if (c && !strncmp(c, "PowerState/", 11))
			azml_arm_copy(out->power, sizeof(out->power), c + 11);
		else if (c && !strncmp(c, "ProvisioningState/", 18) &&
			 !out->provisioning[0])
			azml_arm_copy(out->provisioning,
				      sizeof(out->provisioning), c + 18);
	}
}

void azml_arm_parse_vm(const cJSON *vm, azml_vm_result_t *out)
{
	const cJSON *props = cJSON_GetObjectItem(vm, "properties");
	const cJSON *tags = cJSON_GetObjectItem(vm, "tags");
	const char *prio = azml_arm_str(props, "priority");

	azml_arm_copy(out->name, sizeof(out->name), azml_arm_str(vm, "name"));
	azml_arm_copy(out->node, sizeof(out->node),
		      azml_arm_str(tags, "slurm-node"));
	azml_arm_copy(out->cluster, sizeof(out->cluster),
		      azml_arm_str(tags, "slurm-cluster"));
	if (azml_arm_str(tags, "slurm-cluster") &&
	    strlen(azml_arm_str(tags, "slurm-cluster")) >= sizeof(out->cluster))
		azml_arm_copy(out->cluster, sizeof(out->cluster),
			      "?"); /* no prefix */
	azml_arm_copy(
		out->size, sizeof(out->size),
		azml_arm_str(cJSON_GetObjectItem(props, "hardwareProfile"),
			     "vmSize"));
	azml_arm_copy(out->provisioning, sizeof(out->provisioning),
		      azml_arm_str(props, "provisioningState"));
	out->spot = prio && (!strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low"));
	azml_arm_parse_instance_view(cJSON_GetObjectItem(props, "instanceView"), out);
	azml_arm_copy(out->computer, sizeof(out->computer),
		      azml_arm_str(cJSON_GetObjectItem(props, "osProfile"),
				   "computerName"));
	azml_arm_copy(out->etag, sizeof(out->etag), azml_arm_str(vm, "etag"));
	out->identities = cJSON_GetArraySize(cJSON_GetObjectItem(
		cJSON_GetObjectItem(vm, "identity"), "userAssignedIdentities"));
	{
		const char *id = azml_arm_str(props, "vmId");
		const char *zone = cJSON_GetStringValue(cJSON_GetArrayItem(
				cJSON_GetObjectItem(vm, "zones"), 0));
		long t = azml_iso8601_time(azml_arm_str(props, "timeCreated"));

		/* into the journal: a GUID's characters, a zone's digit */
		if (id && strlen(id) < sizeof(out->vm_id) &&
		    strspn(id, "0123456789abcdefABCDEF-") == strlen(id) && *id)
			azml_arm_copy(out->vm_id, sizeof(out->vm_id), id);
		if (zone && strlen(zone) == 1 && zone[0] >= '1' && zone[0] <= '9')
			azml_arm_copy(out->zone, sizeof(out->zone), zone);
		out->created = t > 0 ? t : 0;
	}
	{
		const cJSON *cap = cJSON_GetObjectItem(cJSON_GetObjectItem(vm,
						       "sku"), "capacity");
		const char *set = azml_arm_str(
			cJSON_GetObjectItem(props, "virtualMachineScaleSet"),
			"id");
		const cJSON *nics = cJSON_GetObjectItem(cJSON_GetObjectItem(
				props, "networkProfile"), "networkInterfaces");
		const char *nic =
			azml_arm_str(cJSON_GetArrayItem(nics, 0), "id");

		out->capacity = cJSON_IsNumber(cap) && cap->valuedouble >= 0 &&
				cap->valuedouble <= 1e6 ?
				(long) cap->valuedouble : -1;
		if (set && *set)	/* whole, or a mark that matches nothing */
			azml_arm_copy(out->set_id, sizeof(out->set_id),
				      strlen(set) < sizeof(out->set_id) ? set :
									  "?");
		/* only the last segment, and only a name: never a path */
		set = set ? strrchr(set, '/') : NULL;
		if (set && azml_arm_resource_name_ok(set + 1))
			azml_arm_copy(out->scale_set, sizeof(out->scale_set),
				      set + 1);
		nic = nic && strstr(nic, "/networkInterfaces/") ?
		      strrchr(nic, '/') : NULL;
		if (nic && azml_arm_resource_name_ok(nic + 1))
			azml_arm_copy(out->nic, sizeof(out->nic), nic + 1);
	}
}

char *azml_arm_vmss_id(const azml_conf_t *conf, const char *set, char *id,
		       size_t n)
{
	snprintf(id, n, "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachineScaleSets/%s",
		 conf->subscription_id, conf->resource_group, set ? set : "");
	return id;
}

bool azml_arm_vm_ours(const azml_conf_t *conf, const azml_vm_result_t *vm,
		      const char *set, char *why, size_t n)
{
	char name[200], got[400], want[300];

	azml_escape(vm->name, name, sizeof(name));
	if (strcmp(vm->cluster, conf->cluster_name)) {
		snprintf(why, n, "VM '%s' is not tagged slurm-cluster=%s "
			 "(%s%s%s)", name, conf->cluster_name, vm->cluster[0] ?
			 "its tag says '" : "it has no such tag",
			 azml_escape(vm->cluster, got, sizeof(got)),
			 vm->cluster[0] ? "'" : "");
		return false;
	}
	azml_escape(vm->set_id, got, sizeof(got));
	if (!set) {
		if (!vm->set_id[0])
			return true;
		snprintf(why, n, "VM '%s' is in scale set %s, not a VM of its "
			 "own", name, got);
		return false;
	}
	azml_arm_vmss_id(conf, set, want, sizeof(want));
	if (!vm->set_id[0]) {
		snprintf(why, n, "VM '%s' is in no scale set, not in %s", name,
			 want);
		return false;
	}
	if (strcasecmp(vm->set_id, want)) {
		snprintf(why, n, "VM '%s' is in scale set %s, not in %s", name,
			 got, want);
		return false;
	}
	return true;
}

int azml_arm_parse_operation(const char *body, char *status, size_t sn,
			     char *code, size_t cn, char *msg, size_t mn)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	int rc = -1;

	if (azml_arm_str(j, "status")) {
		azml_arm_copy(status, sn, azml_arm_str(j, "status"));
		azml_azure_error_of(j, code, cn, msg, mn);
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

int azml_arm_parse_nic_ip(const char *body, char *ip, size_t n)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *c, *first = NULL;
	int rc = -1;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetObjectItem(j,
			   "properties"), "ipConfigurations")) {
		const cJSON *p = cJSON_GetObjectItem(c, "properties");

		if (!first || cJSON_IsTrue(cJSON_GetObjectItem(p, "primary")))
			first = p;
	}
	if (azml_arm_str(first, "privateIPAddress")) {
		azml_arm_copy(ip, n, azml_arm_str(first, "privateIPAddress"));
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

/* A JSON number as an integer, saturated as cJSON saturates valueint: a
 * cast of a double out of range is undefined ("limit": 1e300). */
static long _saturate(double d, long lo, long hi)
{
	if (d != d)
		return 0;
	if (d >= (double) hi)
		return hi;
	if (d <= (double) lo)
		return lo;
	return (long) d;
}

size_t azml_arm_parse_usages(const char *body, azml_usage_t **out)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *v = cJSON_GetObjectItem(j, "value"), *it;
	size_t n = 0, cap = cJSON_GetArraySize(v);

	*out = calloc(cap + 1, sizeof(azml_usage_t));
	cJSON_ArrayForEach(it, v) {
		const cJSON *name = cJSON_GetObjectItem(it, "name");
		const cJSON *cur = cJSON_GetObjectItem(it, "currentValue");
		const cJSON *lim = cJSON_GetObjectItem(it, "limit");
		const char *nv = cJSON_IsString(name) ?
					 name->valuestring :
					 azml_arm_str(name, "value");

		if (!nv || !cJSON_IsNumber(lim) || !*out)
			continue;
		azml_arm_copy((*out)[n].name, sizeof((*out)[n].name), nv);
		(*out)[n].current = cJSON_IsNumber(cur) ?
				    _saturate(cur->valuedouble, LONG_MIN, LONG_MAX) : 0;
		(*out)[n].limit = _saturate(lim->valuedouble, LONG_MIN, LONG_MAX);
		n++;
	}
	cJSON_Delete(j);
	return n;
}

size_t azml_arm_parse_vm_sizes(const char *body, azml_vm_size_t **out)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *v = cJSON_GetObjectItem(j, "value"), *it;
	size_t n = 0;

	*out = calloc(cJSON_GetArraySize(v) + 1, sizeof(azml_vm_size_t));
	cJSON_ArrayForEach(it, v) {
		const cJSON *cores = cJSON_GetObjectItem(it, "numberOfCores");
		const cJSON *mem = cJSON_GetObjectItem(it, "memoryInMB");
		const cJSON *gpus = cJSON_GetObjectItem(it, "gpus");
		azml_vm_size_t *s;

		if (!azml_arm_str(it, "name") || !*out)
			continue;
		s = &(*out)[n++];
		azml_arm_copy(s->name, sizeof(s->name),
			      azml_arm_str(it, "name"));
		if (!cores)	/* Machine Learning's shape */
			cores = cJSON_GetObjectItem(it, "vCPUs");
		s->vcpus = cJSON_IsNumber(cores) ? cores->valueint : 0;
		if (cJSON_IsNumber(mem))
			s->memory_mib = mem->valueint;
		else if (cJSON_IsNumber(mem = cJSON_GetObjectItem(it, "memoryGB")))
			s->memory_mib = (int) _saturate(mem->valuedouble * 1024,
							 INT_MIN, INT_MAX);
		s->gpus = cJSON_IsNumber(gpus) ? gpus->valueint : -1;
	}
	cJSON_Delete(j);
	return n;
}

void azml_arm_op_id(const char *url, char *id, size_t n)
{
	const char *q = url + strcspn(url, "?&"), *s = q;

	while (s > url && s[-1] != '/')
		s--;
	snprintf(id, n, "%.*s", (int) (q - s), s);
}

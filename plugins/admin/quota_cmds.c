/*
 * quota_cmds.c - quota: what the subscription's compute quota leaves each
 * compute target (CycleCloud's 'azslurm limits').  One usages GET, then
 * quota.h decides, as the resume program does: the quota that binds the
 * target, its limit, use and free vCPUs, and how many more nodes fit.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "admin.h"
#include "arm.h"
#include "conf.h"
#include "quota.h"

/* The usages answer. */
typedef struct {
	azml_usage_t *u;
	size_t n;
} usages_t;

/* The regional quotas shown apart from the targets, as the usages API
 * names them. */
static const char *const regional[] = { "cores", "lowPriorityCores",
					"virtualMachines" };
#define NREGIONAL (sizeof(regional) / sizeof(regional[0]))

static const azml_usage_t *_usage(const usages_t *us, const char *name)
{
	for (size_t i = 0; i < us->n; i++)
		if (!strcasecmp(us->u[i].name, name))
			return &us->u[i];
	return NULL;
}

/* "dedicated" or "low", as --azure-priority and userData spell them. */
static const char *_priority(const azml_target_t *t)
{
	return t->kind == AZML_CLUSTER && t->priority == AZML_LOW_PRIORITY ?
	       "low" : "dedicated";
}

static int _max_nodes(const azml_target_t *t)
{
	return t->kind == AZML_CLUSTER ? t->max_nodes : 1;
}

static void _add_long(cJSON *o, const char *key, bool known, long v)
{
	if (known)
		cJSON_AddNumberToObject(o, key, (double) v);
	else
		cJSON_AddNullToObject(o, key);
}

/*
 * The answer as one object: location, one row a ComputeCluster or
 * ComputeInstance (quota, limit, used, free and nodes_fit are null when
 * Azure lists none of the quotas the target counts against), and the
 * regional quotas Azure listed.
 */
static cJSON *_quota_json(const azml_conf_t *conf, const usages_t *us,
			  const azml_quota_t *q)
{
	cJSON *root = cJSON_CreateObject(), *rows, *reg;

	cJSON_AddStringToObject(root, "location", conf->location);
	rows = cJSON_AddArrayToObject(root, "targets");
	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];
		azml_quota_bound_t b = { "" };
		cJSON *o;
		long fit;

		if (t->kind == AZML_ATTACHED)
			continue;
		fit = azml_quota_nodes_fit(q, t, &b);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "target", t->name);
		cJSON_AddStringToObject(o, "vm_size", t->vm_size);
		cJSON_AddStringToObject(o, "priority", _priority(t));
		if (fit >= 0)
			cJSON_AddStringToObject(o, "quota", b.name);
		else
			cJSON_AddNullToObject(o, "quota");
		_add_long(o, "limit", fit >= 0, b.limit);
		_add_long(o, "used", fit >= 0, b.used);
		_add_long(o, "free", fit >= 0, b.free);
		cJSON_AddNumberToObject(o, "vcpus_per_node", t->size.vcpus);
		_add_long(o, "nodes_fit", fit >= 0, fit);
		cJSON_AddNumberToObject(o, "max_nodes", _max_nodes(t));
		cJSON_AddItemToArray(rows, o);
	}
	reg = cJSON_AddObjectToObject(root, "regional");
	for (size_t i = 0; i < NREGIONAL; i++) {
		const azml_usage_t *u = _usage(us, regional[i]);
		cJSON *o;

		if (!u)
			continue;
		o = cJSON_AddObjectToObject(reg, regional[i]);
		cJSON_AddNumberToObject(o, "limit", (double) u->limit);
		cJSON_AddNumberToObject(o, "used", (double) u->current);
	}
	return root;
}

/* ---------------------------------------------------------------------- */
/* Text: an aligned table with a header line, from the JSON rows. */

static const struct {
	const char *head, *key;
	bool number;		/* right-aligned */
} cols[] = {
	{ "TARGET", "target", false },
	{ "VM SIZE", "vm_size", false },
	{ "PRIORITY", "priority", false },
	{ "QUOTA", "quota", false },
	{ "LIMIT", "limit", true },
	{ "USED", "used", true },
	{ "FREE", "free", true },
	{ "VCPUS/NODE", "vcpus_per_node", true },
	{ "NODES FIT", "nodes_fit", true },
	{ "MAX NODES", "max_nodes", true },
};
#define NCOLS (sizeof(cols) / sizeof(cols[0]))

/* The cell of ROW under column C ("-" for null). */
static void _cell(const cJSON *row, size_t c, char *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItem(row, cols[c].key);

	if (cJSON_IsString(v))
		snprintf(out, n, "%s", v->valuestring);
	else if (cJSON_IsNumber(v))
		snprintf(out, n, "%.0f", v->valuedouble);
	else
		snprintf(out, n, "-");
}

static void _print_text(const cJSON *root)
{
	const cJSON *rows = cJSON_GetObjectItem(root, "targets"), *row, *u;
	const char *loc = cJSON_GetStringValue(cJSON_GetObjectItem(root,
								 "location"));
	int width[NCOLS];
	bool unlisted = false;
	char cell[128];

	for (size_t c = 0; c < NCOLS; c++)
		width[c] = (int) strlen(cols[c].head);
	cJSON_ArrayForEach(row, rows)
		for (size_t c = 0; c < NCOLS; c++) {
			_cell(row, c, cell, sizeof(cell));
			if ((int) strlen(cell) > width[c])
				width[c] = (int) strlen(cell);
		}
	if (!cJSON_GetArraySize(rows)) {
		printf("azureml.conf has no ComputeCluster or ComputeInstance: "
		       "no target uses compute quota\n");
	} else {
		for (size_t c = 0; c < NCOLS; c++)
			printf("%s%*s", c ? "  " : "", cols[c].number ?
			       width[c] : -width[c], cols[c].head);
		putchar('\n');
	}
	cJSON_ArrayForEach(row, rows) {
		for (size_t c = 0; c < NCOLS; c++) {
			_cell(row, c, cell, sizeof(cell));
			printf("%s%*s", c ? "  " : "", cols[c].number ?
			       width[c] : -width[c], cell);
		}
		putchar('\n');
		unlisted = unlisted || cJSON_IsNull(cJSON_GetObjectItem(row,
								"quota"));
	}
	if (unlisted)
		printf("(-: Azure lists none of the quotas this target counts "
		       "against; only its QuotaExceeded at create applies)\n");
	printf("\nregional quota in %s:%s\n", loc,
	       cJSON_GetArraySize(cJSON_GetObjectItem(root, "regional")) ?
	       "" : " none listed");
	cJSON_ArrayForEach(u, cJSON_GetObjectItem(root, "regional"))
		printf("  %-16s  %.0f of %.0f %s used\n", u->string,
		       cJSON_GetNumberValue(cJSON_GetObjectItem(u, "used")),
		       cJSON_GetNumberValue(cJSON_GetObjectItem(u, "limit")),
		       strcmp(u->string, "virtualMachines") ? "vCPUs" : "VMs");
}

/* ---------------------------------------------------------------------- */

int azml_cmd_quota(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL;
	bool json = false;
	azml_conf_t *conf = NULL;
	azml_arm_t *arm = NULL;
	azml_quota_t *q = NULL;
	usages_t us = { 0 };
	azml_vm_result_t uerr;
	char err[600];
	int rc;
	cJSON *root;

	if ((rc = azml_cmd_file_json(cmd, argc, argv, &file, &json)) >= 0)
		return rc;
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	rc = 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(arm = azml_arm_create(conf, NULL, err, sizeof(err)))) {
		fprintf(stderr, "slurm-azureml quota: %s\n", err);
		goto out;
	}
	if (azml_arm_usages_now(arm, &us.u, &us.n, &uerr)) {
		fprintf(stderr, "slurm-azureml quota: couldn't read the compute "
			"usages of location '%s': %s: %s\n", conf->location,
			uerr.code, uerr.message);
		if (uerr.http_status == 403)
			fprintf(stderr, "slurm-azureml quota: the usages API is "
				"read at the subscription's scope: the identity "
				"needs Microsoft.Compute/locations/usages/read "
				"there (Reader on subscription %s), not only on "
				"resource group %s\n", conf->subscription_id,
				conf->resource_group);
		goto out;
	}
	if (!(q = azml_quota_new(us.u, us.n))) {
		fprintf(stderr, "slurm-azureml quota: out of memory\n");
		goto out;
	}
	root = _quota_json(conf, &us, q);
	if (json) {
		azml_print_json(root);
	} else {
		_print_text(root);
		cJSON_Delete(root);
	}
	rc = 0;
out:
	azml_quota_free(q);
	free(us.u);
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	return rc;
}

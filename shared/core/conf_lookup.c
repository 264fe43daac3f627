/*
 * conf_lookup.c - questions asked of a loaded azureml.conf: which target a
 * name or a node is, and the names of kinds, priorities, scale sets (see
 * conf.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "conf.h"
#include "conf_int.h"
#include "gres.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "userdata.h"

bool azml_conf_node_in_target(const azml_target_t *t, const char *node)
{
	size_t len = strlen(t->name);

	switch (t->kind) {
	case AZML_CLUSTER: {
		const char *s = node + len + 1;
		long n = 0;

		if (strncmp(node, t->name, len) || node[len] != '-' ||
		    !isdigit((unsigned char) *s) || *s == '0')
			return false;
		for (; isdigit((unsigned char) *s) && n <= MAX_NODES; s++)
			n = n * 10 + (*s - '0');
		return !*s && n >= 1 && n <= t->max_nodes;
	}
	case AZML_INSTANCE:
		return !strcmp(node, t->name);
	case AZML_ATTACHED: {
		azml_hostlist_t hl = slurm_hostlist_create(t->nodes);
		int found = hl ? slurm_hostlist_find(hl, node) : -1;

		if (hl)
			slurm_hostlist_destroy(hl);
		return found >= 0;
	}
	}
	return false;
}
const azml_target_t *azml_conf_find_target(const azml_conf_t *c,
					   const char *name)
{
	for (size_t i = 0; c && name && i < c->ntargets; i++)
		if (!strcasecmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

const azml_target_t *azml_conf_target_of_node(const azml_conf_t *c,
					      const char *node)
{
	for (size_t i = 0; c && node && i < c->ntargets; i++)
		if (azml_conf_node_in_target(&c->targets[i], node))
			return &c->targets[i];
	return NULL;
}

const char *azml_kind_name(azml_kind_t kind)
{
	switch (kind) {
	case AZML_CLUSTER: return "cluster";
	case AZML_INSTANCE: return "instance";
	case AZML_ATTACHED: return "attached";
	}
	return "unknown";
}

const char *azml_provisioning_name(azml_provisioning_t pv)
{
	return pv == AZML_PROV_SCALE_SET ? "ScaleSet" : "VirtualMachines";
}

char *azml_conf_scale_set_name(const azml_conf_t *conf,
			       const azml_target_t *t, char *buf, size_t n)
{
	snprintf(buf, n, "%s-%s", conf->cluster_name ? conf->cluster_name :
		 "slurm", t->name);
	for (char *s = buf; *s; s++)
		*s = tolower((unsigned char) *s);
	return buf;
}

const char *azml_priority_name(azml_priority_t prio)
{
	return prio == AZML_LOW_PRIORITY ? "LowPriority" : "Dedicated";
}

int azml_target_mix_json(cJSON *o, const azml_target_t *t)
{
	static const char *alloc[] = { "LowestPrice", "CapacityOptimized",
				       "Prioritized" };
	static const char *scaling[] = { "AllOrNothing", "BestEffort" };
	cJSON *sizes = cJSON_AddArrayToObject(o, "vm_sizes");
	bool cluster = t->kind == AZML_CLUSTER;

	if (!sizes)
		return -1;
	for (size_t i = 0; i < t->nmix; i++)
		if (!cJSON_AddItemToArray(sizes, cJSON_CreateString(t->mix[i])))
			return -1;
	if (!(cluster && (size_t) t->alloc < 3 ?
		      cJSON_AddStringToObject(o, "allocation_strategy",
					      alloc[t->alloc]) :
		      cJSON_AddNullToObject(o, "allocation_strategy")))
		return -1;
	if (!(cluster && (size_t) t->job_scaling < 2 ?
		      cJSON_AddStringToObject(o, "job_scaling",
					      scaling[t->job_scaling]) :
		      cJSON_AddNullToObject(o, "job_scaling")))
		return -1;
	return 0;
}

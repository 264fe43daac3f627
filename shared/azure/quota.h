/*
 * quota.h - what fits in the subscription's compute quota, from one usages
 * answer (arm.h: azml_arm_usages).  Pure: no I/O; the resume program and
 * 'slurm-azureml quota' both decide with it.
 *
 * Azure counts a dedicated VM against its family's vCPUs
 * ("standardDSv3Family") and the regional total ("cores"); a low-priority
 * (Spot) VM against "lowPriorityCores" only.  A quota the answer does not
 * list is not checked (Azure's own QuotaExceeded still applies).
 *
 * A table owns a copy of the usages; taking vCPUs from it (a job's nodes
 * about to be created) lowers what is free for the next job.
 */
#ifndef AZML_QUOTA_H
#define AZML_QUOTA_H

#include <stdbool.h>
#include <stddef.h>

#include "arm.h"
#include "conf.h"

typedef struct azml_quota azml_quota_t;

/* A table of the N usages U (copied).  NULL on ENOMEM. */
azml_quota_t *azml_quota_new(const azml_usage_t *u, size_t n);
void azml_quota_free(azml_quota_t *q);

/* The quota that decided: its usage name, limit and what is free of it. */
typedef struct {
	char name[96];		/* "standardDSv3Family", "cores", ... */
	long limit;
	long used;
	long free;		/* limit - used, never below 0 */
} azml_quota_bound_t;

/*
 * How many more VMs of target T fit: the smallest over the quotas T counts
 * against, with that quota in *BOUND (may be NULL).  -1 when none of them
 * is listed (no limit known), or T has no VM size.
 */
long azml_quota_nodes_fit(const azml_quota_t *q, const azml_target_t *t,
			  azml_quota_bound_t *bound);

/*
 * Take the vCPUs of NODES more VMs of target T.  0: they fit and are taken;
 * -1: they do not, nothing is taken, and *BOUND (may be NULL) names the
 * first quota that is short.
 */
int azml_quota_take(azml_quota_t *q, const azml_target_t *t, int nodes,
		    azml_quota_bound_t *bound);

/* Give back what a take of NODES VMs of T took (a job refused after all). */
void azml_quota_give(azml_quota_t *q, const azml_target_t *t, int nodes);

/* U's use as the table has it now (what was taken since included); U is
 * left as it is when the table does not list it. */
void azml_quota_usage(const azml_quota_t *q, azml_usage_t *u);

/* The usage name of T's family quota ("standardDSv3Family"), or NULL. */
const char *azml_quota_family(const azml_target_t *t);

#endif

/*
 * quota.c - what fits in the compute quota (quota.h).  Pure.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"

struct azml_quota {
	azml_usage_t *u;
	size_t n;
};

azml_quota_t *azml_quota_new(const azml_usage_t *u, size_t n)
{
	azml_quota_t *q = calloc(1, sizeof(*q));

	if (!q || !(q->u = calloc(n + 1, sizeof(*u)))) {
		free(q);
		return NULL;
	}
	if (n)
		memcpy(q->u, u, n * sizeof(*u));
	q->n = n;
	return q;
}

void azml_quota_free(azml_quota_t *q)
{
	if (!q)
		return;
	free(q->u);
	free(q);
}

const char *azml_quota_family(const azml_target_t *t)
{
	return t && t->vm_size ? azml_series_quota_family(t->size.series) : NULL;
}

static azml_usage_t *_find(const azml_quota_t *q, const char *name)
{
	for (size_t i = 0; name && i < q->n; i++)
		if (!strcasecmp(q->u[i].name, name))
			return &q->u[i];
	return NULL;
}

/* The quotas T's VMs count against: at most two. */
static size_t _quotas(const azml_quota_t *q, const azml_target_t *t,
		      azml_usage_t *out[2])
{
	size_t k = 0;

	if (t->priority == AZML_LOW_PRIORITY && t->kind == AZML_CLUSTER) {
		if ((out[k] = _find(q, "lowPriorityCores")))
			k++;
		return k;
	}
	if ((out[k] = _find(q, azml_quota_family(t))))
		k++;
	if ((out[k] = _find(q, "cores")))
		k++;
	return k;
}

static long _free(const azml_usage_t *u)
{
	long used = u->current < 0 ? 0 : u->current;

	return u->limit > used ? u->limit - used : 0;
}

static void _bound(azml_quota_bound_t *b, const azml_usage_t *u)
{
	if (!b)
		return;
	snprintf(b->name, sizeof(b->name), "%s", u->name);
	b->limit = u->limit;
	b->used = u->current;
	b->free = _free(u);
}

long azml_quota_nodes_fit(const azml_quota_t *q, const azml_target_t *t,
			  azml_quota_bound_t *bound)
{
	azml_usage_t *u[2];
	size_t k;
	long best = -1;
	int vcpus = t && t->vm_size ? t->size.vcpus : 0;

	if (!q || vcpus <= 0)
		return -1;
	k = _quotas(q, t, u);
	for (size_t i = 0; i < k; i++) {
		long fit = _free(u[i]) / vcpus;

		if (best < 0 || fit < best) {
			best = fit;
			_bound(bound, u[i]);
		}
	}
	return best;
}

int azml_quota_take(azml_quota_t *q, const azml_target_t *t, int nodes,
		    azml_quota_bound_t *bound)
{
	azml_usage_t *u[2];
	size_t k;
	long need;

	if (!q || !t || !t->vm_size || nodes <= 0 || t->size.vcpus <= 0)
		return 0;
	k = _quotas(q, t, u);
	/* nodes * vcpus <= free, without the product: it may not fit a long */
	for (size_t i = 0; i < k; i++)
		if (nodes > _free(u[i]) / t->size.vcpus) {
			_bound(bound, u[i]);
			return -1;
		}
	need = (long) nodes * t->size.vcpus;	/* <= free: no overflow */
	for (size_t i = 0; i < k; i++)
		u[i]->current = (u[i]->current < 0 ? 0 : u[i]->current) + need;
	return 0;
}

void azml_quota_give(azml_quota_t *q, const azml_target_t *t, int nodes)
{
	azml_usage_t *u[2];
	size_t k;
	long back;

	if (!q || !t || !t->vm_size || nodes <= 0 || t->size.vcpus <= 0)
		return;
	back = (long) nodes * t->size.vcpus;	/* two ints: fits a long */
	k = _quotas(q, t, u);
	for (size_t i = 0; i < k; i++)
		u[i]->current = u[i]->current > back ? u[i]->current - back : 0;
}

void azml_quota_usage(const azml_quota_t *q, azml_usage_t *u)
{
	const azml_usage_t *x = q ? _find(q, u->name) : NULL;

	if (x)
		u->current = x->current;
}

/*
 * metrics.c - the cluster as Prometheus text (see metrics.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm.h>

#include "metrics.h"
#include "quota.h"

const char *const azml_metrics_states[] = {
	"idle", "allocated", "mixed", "drained", "down", "powered_down",
	"powering_up", "powering_down", "future", NULL,
};
#define NSTATES 9

static const double boot_le[] = { 30, 60, 90, 120, 180, 240, 300, 450, 600,
				  900, 1800 };
#define NBOOT (sizeof(boot_le) / sizeof(boot_le[0]))

const char *azml_metrics_node_state(const azml_node_t *n)
{
	uint32_t base = n->state & NODE_STATE_BASE;

	if (n->state & NODE_STATE_POWERING_UP)
		return "powering_up";
	if (n->state & NODE_STATE_POWERING_DOWN)
		return "powering_down";
	if (n->state & NODE_STATE_POWERED_DOWN)
		return "powered_down";
	if (base == NODE_STATE_FUTURE)
		return "future";
	if (base == NODE_STATE_DOWN)
		return "down";
	if (n->state & NODE_STATE_DRAIN)
		return "drained";
	if (base == NODE_STATE_ALLOCATED)
		return "allocated";
	if (base == NODE_STATE_MIXED)
		return "mixed";
	return "idle";
}

static int _state_index(const char *s)
{
	for (int i = 0; i < NSTATES; i++)
		if (!strcmp(azml_metrics_states[i], s))
			return i;
	return 0;
}

/* Label values here are names (journal.h, conf.h): nothing to escape. */

static const char *_op(azml_jkind_t k)
{
	switch (k) {
	case AZML_J_CREATED: return "create";
	case AZML_J_DELETED: return "delete";
	case AZML_J_DEALLOCATED: return "deallocate";
	case AZML_J_STARTED: return "start";
	case AZML_J_EVICTED: return "evict";
	case AZML_J_REPLACED: return "replace";
	default: return NULL;
	}
}

/* Records in the order of (target, kind, VM, reason), to count each VM's
 * repeated records once. */
static int _cmp(const void *a, const void *b)
{
	const azml_jrec_t *x = *(const azml_jrec_t *const *) a;
	const azml_jrec_t *y = *(const azml_jrec_t *const *) b;
	int c;

	if ((c = strcmp(x->target, y->target)))
		return c;
	if (x->kind != y->kind)
		return (int) x->kind - (int) y->kind;
	if ((c = strcmp(x->reason, y->reason)))
		return c;
	if ((c = strcmp(x->id, y->id)))
		return c;
	return strcmp(x->vm, y->vm);
}

static bool _same_vm(const azml_jrec_t *x, const azml_jrec_t *y)
{
	return !_cmp(&x, &y) && (strcmp(x->id, "-") || x->at == y->at);
}

static int _counters(FILE *fp, const azml_metrics_in_t *in)
{
	const azml_jrec_t **o = NULL;
	size_t n = 0;

	if (in->nrecs && !(o = malloc(in->nrecs * sizeof(*o))))
		return -1;
	for (size_t i = 0; i < in->nrecs; i++)
		o[n++] = &in->recs[i];
	qsort(o, n, sizeof(*o), _cmp);
	fprintf(fp, "# HELP azureml_vm_operations_total VM operations the "
		"journal recorded.\n# TYPE azureml_vm_operations_total counter\n");
	for (size_t i = 0; i < n;) {
		size_t j = i, count = 0;
		const char *op = _op(o[i]->kind);

		while (j < n && o[j]->kind == o[i]->kind &&
		       !strcmp(o[j]->target, o[i]->target)) {
			if (j == i || !_same_vm(o[j], o[j - 1]))
				count++;
			j++;
		}
		if (op)
			fprintf(fp, "azureml_vm_operations_total{target=\"%s\","
				"operation=\"%s\",result=\"success\"} %zu\n",
				o[i]->target, op, count);
		i = j;
	}
	fprintf(fp, "# HELP azureml_health_failures_total Nodes a health check "
		"drained, by check.\n"
		"# TYPE azureml_health_failures_total counter\n");
	for (size_t i = 0; i < n;) {
		size_t j = i, count = 0;

		while (j < n && o[j]->kind == o[i]->kind &&
		       !strcmp(o[j]->target, o[i]->target) &&
		       !strcmp(o[j]->reason, o[i]->reason)) {
			if (j == i || !_same_vm(o[j], o[j - 1]))
				count++;
			j++;
		}
		if (o[i]->kind == AZML_J_UNHEALTHY)
			fprintf(fp, "azureml_health_failures_total{target=\"%s\","
				"check=\"%s\"} %zu\n", o[i]->target,
				o[i]->reason, count);
		i = j;
	}
	free(o);
	return 0;
}

int azml_metrics_write(FILE *fp, const azml_metrics_in_t *in)
{
	const azml_conf_t *c = in->conf;
	size_t nt = c->ntargets, nvm = 0;
	long *counts = calloc(nt * NSTATES + 1, sizeof(long));
	azml_jvm_t *vm = azml_journal_fold(in->recs, in->nrecs, in->now, &nvm);
	int rv = -1;

	if (!counts || (!vm && azml_journal_has_life(in->recs, in->nrecs)))
		goto out;
	/* nodes */
	if (in->nodes) {
		for (int i = 0; i < in->nnodes; i++) {
			const azml_target_t *t =
				azml_conf_target_of_node(c, in->nodes[i].name);

			if (t)
				counts[(size_t) (t - c->targets) * NSTATES +
				       (size_t) _state_index(
					       azml_metrics_node_state(
						       &in->nodes[i]))]++;
		}
		fprintf(fp, "# HELP azureml_nodes Slurm nodes of each compute "
			"target, by state.\n# TYPE azureml_nodes gauge\n");
		for (size_t t = 0; t < nt; t++)
			for (int s = 0; s < NSTATES; s++)
				fprintf(fp, "azureml_nodes{target=\"%s\",state=\"%s\"}"
					" %ld\n", c->targets[t].name,
					azml_metrics_states[s],
					counts[t * NSTATES + (size_t) s]);
	}
	/* VMs alive, by target and size */
	fprintf(fp, "# HELP azureml_vms VMs alive (created, not deleted), by "
		"target and size.\n# TYPE azureml_vms gauge\n");
	for (size_t t = 0; t < nt; t++) {
		const azml_target_t *tg = &c->targets[t];
		/* the target's size (0 when none is alive), then any other
		 * size its VMs had */
		const char *sizes[16];
		long alive[16];
		int ns = 0;

		if (tg->kind == AZML_ATTACHED)
			continue;
		sizes[ns] = tg->vm_size;
		alive[ns++] = 0;
		for (size_t v = 0; v < nvm; v++) {
			int k;

			if (strcmp(vm[v].first.target, tg->name))
				continue;
			for (k = 0; k < ns; k++)
				if (!strcasecmp(sizes[k], vm[v].first.size))
					break;
			if (k == ns) {
				if (ns == 16)
					continue;
				sizes[ns] = vm[v].first.size;
				alive[ns++] = 0;
			}
			alive[k] += !vm[v].end;
		}
		for (int k = 0; k < ns; k++)
			fprintf(fp, "azureml_vms{target=\"%s\",size=\"%s\"} %ld\n",
				tg->name, sizes[k], alive[k]);
	}
	if (_counters(fp, in) < 0)
		goto out;
	/* holds */
	fprintf(fp, "# HELP azureml_capacity_hold 1 while the target is held "
		"(capacity, replacements).\n# TYPE azureml_capacity_hold gauge\n");
	for (size_t t = 0; t < nt; t++)
		if (c->targets[t].kind != AZML_ATTACHED)
			fprintf(fp, "azureml_capacity_hold{target=\"%s\"} %d\n",
				c->targets[t].name,
				in->held && in->held[t] ? 1 : 0);
	/* quota of the families the targets use, and the region's */
	if (in->usages) {
		fprintf(fp, "# HELP azureml_quota_free_vcpus vCPUs the compute "
			"quota leaves, by family.\n"
			"# TYPE azureml_quota_free_vcpus gauge\n");
		for (size_t u = 0; u < in->nusages; u++) {
			const azml_usage_t *us = &in->usages[u];
			bool used = !strcmp(us->name, "cores") ||
				    !strcmp(us->name, "lowPriorityCores");

			for (size_t t = 0; !used && t < nt; t++) {
				const char *f = c->targets[t].kind == AZML_ATTACHED ?
						NULL : azml_quota_family(&c->targets[t]);

				used = f && !strcasecmp(f, us->name);
			}
			for (size_t p = 0; used && p < u; p++)
				if (!strcmp(in->usages[p].name, us->name))
					used = false;
			if (used)
				fprintf(fp, "azureml_quota_free_vcpus{family=\"%s\"} "
					"%ld\n", us->name, us->limit - us->current);
		}
	}
	/* what the running VMs cost an hour */
	if (in->prices) {
		fprintf(fp, "# HELP azureml_cost_usd_per_hour What the target's "
			"running VMs cost an hour (compute).\n"
			"# TYPE azureml_cost_usd_per_hour gauge\n");
		for (size_t t = 0; t < nt; t++) {
			double sum = 0;

			if (c->targets[t].kind == AZML_ATTACHED)
				continue;
			for (size_t v = 0; v < nvm; v++) {
				double h;

				if (vm[v].end || !vm[v].nspans ||
				    !vm[v].span[vm[v].nspans - 1].running ||
				    strcmp(vm[v].first.target, c->targets[t].name))
					continue;
				h = azml_prices_hourly(in->prices,
						       vm[v].first.size,
						       !strcmp(vm[v].first.prio,
							       "spot"));
				if (h > 0)
					sum += h;
			}
			fprintf(fp, "azureml_cost_usd_per_hour{target=\"%s\"} %.4f\n",
				c->targets[t].name, sum);
		}
	}
	/* boot times */
	fprintf(fp, "# HELP azureml_boot_seconds From a VM's create to its "
		"slurmd's registration.\n# TYPE azureml_boot_seconds histogram\n");
	for (size_t t = 0; t < nt; t++) {
		unsigned long b[NBOOT] = { 0 }, count = 0;
		double sum = 0;

		if (c->targets[t].kind == AZML_ATTACHED)
			continue;
		for (size_t v = 0; v < nvm; v++) {
			double s;

			if (strcmp(vm[v].first.target, c->targets[t].name) ||
			    vm[v].first.kind != AZML_J_CREATED ||
			    !vm[v].nspans || !vm[v].span[0].booted)
				continue;
			s = (double) (vm[v].span[0].booted - vm[v].span[0].from);
			if (s < 0)
				continue;
			count++;
			sum += s;
			for (size_t k = 0; k < NBOOT; k++)
				b[k] += s <= boot_le[k];
		}
		for (size_t k = 0; k < NBOOT; k++)
			fprintf(fp, "azureml_boot_seconds_bucket{target=\"%s\","
				"le=\"%g\"} %lu\n", c->targets[t].name,
				boot_le[k], b[k]);
		fprintf(fp, "azureml_boot_seconds_bucket{target=\"%s\","
			"le=\"+Inf\"} %lu\n", c->targets[t].name, count);
		fprintf(fp, "azureml_boot_seconds_sum{target=\"%s\"} %g\n",
			c->targets[t].name, sum);
		fprintf(fp, "azureml_boot_seconds_count{target=\"%s\"} %lu\n",
			c->targets[t].name, count);
	}
	rv = 0;
out:
	azml_journal_free(vm, nvm);
	free(counts);
	return rv;
}

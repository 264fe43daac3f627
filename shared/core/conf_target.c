/*
 * conf_target.c - what azureml.conf says of one compute target's machines:
 * its VM size or instance mix (each size known, allowed for its kind, the
 * mix's sizes alike: check-config's rules) and its GPUs (gres.h).  Called
 * by conf.c as each target line is read.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"
#include "conf_int.h"
#include "gres.h"

/* One size of T's VmSize=: known, in the size table, allowed for T's kind;
 * INFO gets it resolved. */
static bool _check_one_size(parser_t *p, azml_target_t *t, const char *name,
			    azml_size_info_t *info, const char *file, int line)
{
	char shown[300];
	const azml_series_t *s;

	if (azml_catalog_resolve(name, info)) {
		azml_conf_err(p, file, line,
			      "unknown VM size '%s' (see 'slurm-azureml "
			      "catalog' for the supported series)",
			      azml_conf_show(name, shown, sizeof(shown)));
		return false;
	}
	if (!info->size) {
		azml_conf_err(
			p, file, line,
			"VM size '%s' (series %s) is not in the "
			"catalog's size table, so its CPUs and memory are unknown",
			name, info->series->name);
		return false;
	}
	s = info->series;
	if (s->approval_required && !t->quota_approved) {
		azml_conf_err(
			p, file, line,
			"VM size '%s' is series %s, which needs a "
			"quota approval from Azure support; once granted, add "
			"QuotaApproved=yes",
			info->name, s->name);
		return false;
	}
	if (t->kind == AZML_INSTANCE && !s->compute_instance) {
		azml_conf_err(
			p, file, line,
			"VM size '%s' is series %s, which Azure ML "
			"supports on compute clusters only, not on instances",
			info->name, s->name);
		return false;
	}
	return true;
}

/* The VM size (or, for a cluster, the mix VmSize=A,B,C) of a cluster or
 * instance: each known and allowed for its kind.  vm_size becomes the
 * first size's canonical spelling, mix[] every size's, and cpus and
 * real_memory the smallest of the mix. */
bool azml_conf_target_sizes(parser_t *p, azml_target_t *t, const char *file,
			   int line)
{
	char *list, *save = NULL;
	bool ok = true;

	if (!t->vm_size) {
		azml_conf_err(p, file, line, "%s '%s' needs VmSize=",
			      t->kind == AZML_CLUSTER ? "ComputeCluster" :
							"ComputeInstance",
			      t->name);
		return false;
	}
	if (t->kind == AZML_INSTANCE && strchr(t->vm_size, ',')) {
		azml_conf_err(p, file, line,
			      "ComputeInstance '%s': VmSize= names one size "
			      "(an instance is one VM; a mix is for compute "
			      "clusters)", t->name);
		return false;
	}
	if (!(list = azml_conf_strdup(p->conf, t->vm_size)))
		return false;
	for (char *w = strtok_r(list, ",", &save); w && t->nmix < AZML_MIX_MAX;
	     w = strtok_r(NULL, ",", &save)) {
		azml_size_info_t *info = &t->mix_size[t->nmix];

		if (!_check_one_size(p, t, w, info, file, line)) {
			ok = false;
			continue;
		}
		for (size_t i = 0; i < t->nmix; i++)
			if (!strcmp(t->mix[i], info->name)) {
				azml_conf_err(p, file, line,
					      "VmSize= names '%s' twice",
					      info->name);
				ok = false;
			}
		if (!(t->mix[t->nmix] = azml_conf_strdup(p->conf, info->name))) {
			ok = false;
			break;
		}
		t->nmix++;
	}
	free(list);
	if (!ok || !t->nmix)
		return false;
	t->size = t->mix_size[0];
	free(t->vm_size);
	if (!(t->vm_size = azml_conf_strdup(p->conf, t->size.name)))
		return false;
	t->cpus = t->size.size->vcpus;
	t->real_memory = t->size.size->memory_mib;
	for (size_t i = 1; i < t->nmix; i++) {
		if (t->mix_size[i].size->vcpus < t->cpus)
			t->cpus = t->mix_size[i].size->vcpus;
		if (t->mix_size[i].size->memory_mib < t->real_memory)
			t->real_memory = t->mix_size[i].size->memory_mib;
	}
	return true;
}

/* "VmSize=A,B: " (the canonical names) for a message about T's mix. */
static const char *_mix_words(const azml_target_t *t, char *buf, size_t n)
{
	size_t len = snprintf(buf, n, "VmSize=");

	for (size_t i = 0; i < t->nmix && len < n; i++)
		len += snprintf(buf + len, n - len, "%s%s", i ? "," : "",
				t->mix[i]);
	return buf;
}

/*
 * The rules on a cluster's mix VmSize=A,B,... (SEEN: the keys given): its
 * sizes agree on what one node definition and one image promise (the
 * catalog's azml_catalog_mix_conflict), and are close enough that the node,
 * which gets the smallest vCPUs and memory, wastes at most half of the
 * largest; a scale set's mix takes no Prioritized.  AllocationStrategy= on
 * one size is a warning: it has nothing to order.
 */
bool azml_conf_target_mix(parser_t *p, const azml_target_t *t,
			  unsigned long long seen, const char *file, int line)
{
	char sizes[AZML_MIX_MAX * 64 + 16], why[512];
	size_t idx = 0, lc = 0, hc = 0, lm = 0, hm = 0;
	const azml_size_t *z[AZML_MIX_MAX];
	bool ok = true;

	azml_conf_find_key("AllocationStrategy", 18, &idx);
	if (t->nmix < 2) {
		if (seen & (1ULL << idx))
			azml_conf_warn(
				p, file, line,
				"ComputeCluster '%s': AllocationStrategy= "
				"orders the sizes of a mix "
				"(VmSize=A,B,...), and VmSize=%s is one "
				"size: it has no effect",
				t->name, t->vm_size);
		return true;
	}
	_mix_words(t, sizes, sizeof(sizes));
	for (size_t i = 1; i < t->nmix; i++)
		if (azml_catalog_mix_conflict(&t->mix_size[0], &t->mix_size[i],
					      why, sizeof(why))) {
			azml_conf_err(p, file, line, "%s: %s", sizes, why);
			ok = false;
		}
	for (size_t i = 0; i < t->nmix; i++) {
		z[i] = t->mix_size[i].size; /* in the table: checked */
		if (z[i]->vcpus < z[lc]->vcpus)
			lc = i;
		if (z[i]->vcpus > z[hc]->vcpus)
			hc = i;
		if (z[i]->memory_mib < z[lm]->memory_mib)
			lm = i;
		if (z[i]->memory_mib > z[hm]->memory_mib)
			hm = i;
	}
	if (z[hc]->vcpus > 2 * z[lc]->vcpus) {
		azml_conf_err(p, file, line,
			      "%s: %s has %d vCPUs, more than twice the %d of "
			      "%s; the nodes get the smallest, which wastes "
			      "more than half of %s: keep every size within "
			      "twice the smallest's vCPUs and memory, or make "
			      "two clusters",
			      sizes, t->mix[hc], z[hc]->vcpus, z[lc]->vcpus,
			      t->mix[lc], t->mix[hc]);
		ok = false;
	}
	if (z[hm]->memory_mib > 2 * z[lm]->memory_mib) {
		azml_conf_err(p, file, line,
			      "%s: %s has %d MiB of memory, more than twice "
			      "the %d MiB of %s; the nodes get the smallest, "
			      "which wastes more than half of %s: keep every "
			      "size within twice the smallest's vCPUs and "
			      "memory, or make two clusters",
			      sizes, t->mix[hm], z[hm]->memory_mib,
			      z[lm]->memory_mib, t->mix[lm], t->mix[hm]);
		ok = false;
	}
	if (t->alloc == AZML_ALLOC_PRIORITIZED &&
	    t->provisioning == AZML_PROV_SCALE_SET) {
		azml_conf_err(
			p, file, line,
			"ComputeCluster '%s': AllocationStrategy="
			"Prioritized cannot go with Provisioning=ScaleSet: "
			"a scale set's instance mix (skuProfile) at the "
			"api-version slurm-azureml uses (2024-07-01) takes "
			"LowestPrice or CapacityOptimized; Prioritized, "
			"with ranks, is a preview of later api-versions. "
			"Use CapacityOptimized, or Provisioning="
			"VirtualMachines, which tries the sizes in the "
			"order written",
			t->name);
		ok = false;
	}
	return ok;
}

/*
 * The GPUs of T: its Gres= (attached) or its VM size's, through the one gres
 * parser.  Sets gres, gpus, gpu_type and gpu_arch, and refuses a Cuda= that
 * the declared GPU types cannot run.
 */
bool azml_conf_target_gpus(parser_t *p, azml_target_t *t, const char *file,
			 int line)
{
	azml_gres_t g;
	char why[256];
	const char *type;
	bool one_arch = true, cuda;
	int ma = 0, mi = 0;

	if (t->kind != AZML_ATTACHED && t->size.size && t->size.size->gpus) {
		char model[16];
		size_t i;

		for (i = 0; t->size.size->gpu_model &&
			    t->size.size->gpu_model[i] && i < sizeof(model) - 1;
		     i++)
			model[i] = tolower((unsigned char)
					   t->size.size->gpu_model[i]);
		model[i] = '\0';
		free(t->gres);
		if (asprintf(&t->gres, "gpu:%s:%d", model,
			     t->size.size->gpus) < 0) {
			t->gres = NULL;
			p->conf->oom = true;
			return false;
		}
	}
	if (!t->gres)
		return true;
	if (azml_gres_parse(t->gres, &g, why, sizeof(why)) < 0) {
		/* Gres= was checked when read: only a catalog entry gets here */
		azml_conf_err(p, file, line, "the gres of '%s' ('%s'): %s",
			      t->name, t->gres, why);
		return false;
	}
	t->gpus = (int) g.gpus;
	type = azml_gres_gpu_type(&g);
	t->gpu_type = azml_conf_strdup(p->conf, type);
	if (t->kind != AZML_ATTACHED) {
		t->gpu_arch = t->size.arch;
		return true;
	}
	/* Attached: the architecture every GPU type names, if one (a bad
	 * Cuda= is reported by its own check). */
	cuda = t->cuda && !azml_cuda_parse(t->cuda, &ma, &mi);
	for (size_t i = 0; i < g.n; i++) {
		const azml_gres_ent_t *e = &g.ent[i];
		const azml_gpu_arch_t *a;

		if (!azml_gres_is_gpu(e))
			continue;
		a = e->type[0] ? azml_catalog_arch_of_model(e->type) : NULL;
		if (!a || (t->gpu_arch && t->gpu_arch != a))
			one_arch = false;
		else if (one_arch)
			t->gpu_arch = a;
		if (a && cuda && !azml_arch_supports_cuda(a, ma, mi)) {
			azml_conf_err(p, file, line,
				      "Cuda=%s: the %s GPUs of Gres=%s "
				      "are %s, which runs CUDA %s%s%s",
				      t->cuda, e->type, t->gres, a->arch,
				      a->min_cuda,
				      a->max_cuda ? " to " : " and later",
				      a->max_cuda ? a->max_cuda : "");
			return false;
		}
	}
	if (!one_arch)
		t->gpu_arch = NULL;
	return true;
}

/*
 * idle.c - IdleSecondsBeforeScaledown=auto: learning T, and choosing the
 * idle nodes that go (idle.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <slurm/slurm.h>

#include "idle.h"
#include "slurm_compat.h"

/* azml_idle_gaps' NODE_OF: whether a node is the context's target's. */
typedef struct {
	const azml_conf_t *conf;
	const azml_target_t *t;
} idle_of_t;

static bool _of_target(void *arg, const char *node)
{
	const idle_of_t *o = arg;

	return azml_conf_target_of_node(o->conf, node) == o->t;
}

/* What a boot bills on average: create (or start) to registration, from
 * the journal's spans of T since SINCE. */
static double _boot(const azml_target_t *t, const azml_jvm_t *jvm,
		    size_t njvm, long since, size_t *nboots)
{
	double boot = 0;

	*nboots = 0;
	for (size_t k = 0; k < njvm; k++)
		for (size_t s = 0; s < jvm[k].nspans; s++) {
			const azml_jspan_t *sp = &jvm[k].span[s];

			if (!strcmp(jvm[k].first.target, t->name) &&
			    sp->running && sp->booted >= sp->from &&
			    sp->from >= since) {
				boot += (double) (sp->booted - sp->from);
				(*nboots)++;
			}
		}
	return *nboots ? boot / (double) *nboots : AZML_IDLE_AUTO_BOOT;
}

void azml_idle_learn(const azml_conf_t *conf, const azml_target_t *t,
		     bool have_jobs, const azml_cost_job_t *jobs, size_t njobs,
		     const azml_jvm_t *jvm, size_t njvm, long learnt, long now,
		     azml_idle_learnt_t *out)
{
	long since = now - AZML_IDLE_LEARN_DAYS * 86400L, best;
	idle_of_t of = { conf, t };
	double *gaps = NULL;
	size_t ngaps = 0;

	memset(out, 0, sizeof(*out));
	out->was = out->seconds = learnt > 0 ? learnt : t->idle_seconds;
	if (!have_jobs) {
		out->how = AZML_IDLE_NO_JOBS;
		return;
	}
	if (azml_idle_gaps(jobs, njobs, now, AZML_IDLE_AUTO_MAX, _of_target,
			   &of, &gaps, &ngaps)) {
		out->how = AZML_IDLE_NOMEM;
		return;
	}
	if (!ngaps) {
		free(gaps);
		out->how = AZML_IDLE_NO_GAPS;
		return;
	}
	out->ngaps = ngaps;
	out->boot = _boot(t, jvm, njvm, since, &out->nboots);
	best = azml_idle_auto(gaps, ngaps, out->boot, AZML_IDLE_AUTO_MIN,
			      AZML_IDLE_AUTO_MAX, NULL);
	free(gaps);
	if (best < 0)
		out->how = AZML_IDLE_NOMEM;
	else if (labs(best - out->was) * 10 < out->was)
		out->how = AZML_IDLE_UNCHANGED;
	else {
		out->how = AZML_IDLE_CHANGED;
		out->seconds = best;
	}
}

static const azml_node_t *_find(const azml_node_t *nodes, int nn,
				const char *name)
{
	for (int i = 0; i < nn; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

int azml_idle_pick(const azml_target_t *t, const azml_node_t *nodes, int nn,
		   long seconds, long now, int **pick)
{
	azml_hostlist_t hl = slurm_hostlist_create(t->nodes);
	int *out = NULL, count = 0;
	char *h;

	*pick = NULL;
	if (!hl)
		return -1;
	while ((h = slurm_hostlist_shift(hl))) {
		const azml_node_t *n = _find(nodes, nn, h);
		uint32_t base = n ? n->state & NODE_STATE_BASE : 0;

		free(h);
		if (!n || base != NODE_STATE_IDLE ||
		    (n->state & (NODE_STATE_POWERED_DOWN |
				 NODE_STATE_POWERING_UP |
				 NODE_STATE_POWERING_DOWN |
				 NODE_STATE_POWER_DOWN | NODE_STATE_DRAIN)) ||
		    n->last_busy <= 0 || now - n->last_busy < seconds)
			continue;
		if (count >= nn)	/* a name the hostlist repeats */
			break;
		if (!out && !(out = malloc((size_t) nn * sizeof(*out)))) {
			slurm_hostlist_destroy(hl);
			return -1;
		}
		out[count++] = (int) (n - nodes);
	}
	slurm_hostlist_destroy(hl);
	*pick = out;
	return count;
}

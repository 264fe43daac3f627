/*
 * reconcile_gather.c - the gather step of 'slurm-azureml reconcile'
 * (reconcile.h): Azure's VMs and scale sets, slurmctld's nodes and jobs,
 * StateDir's intents, holds, pairings and journal, read once into an
 * azml_rc_input_t that the decide step (reconcile.c) reads only.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <slurm/slurm.h>

#include "acct.h"
#include "idle.h"
#include "log.h"
#include "reconcile.h"
#include "slurm_compat.h"

/* ---------------------------------------------------------------------- */
/* gather */

typedef struct {
	azml_vm_result_t *vms;
	size_t n;
	bool failed, nomem;
	char err[600];
} listing_t;

static void _listed(void *arg, const azml_vm_result_t *v, size_t n,
		    const azml_vm_result_t *err)
{
	listing_t *l = arg;

	if (err) {
		l->failed = true;
		snprintf(l->err, sizeof(l->err), "%s: %s", azml_rc_esc(err->code),
			 azml_rc_esc(err->message));
		return;
	}
	if (!(l->vms = malloc((n + 1) * sizeof(*v)))) {
		l->failed = l->nomem = true;
		snprintf(l->err, sizeof(l->err), "out of memory");
		return;
	}
	if (n)		/* an empty listing may come as NULL */
		memcpy(l->vms, v, n * sizeof(*v));
	l->n = n;
}

typedef struct {
	azml_rc_input_t *in;
	const char *set;
	bool nomem;
} pairs_load_t;

static int _pairs_load(void *arg, azml_pair_t **pp, size_t *n)
{
	pairs_load_t *q = arg;
	azml_rc_input_t *in = q->in;
	azml_pair_t *more = realloc(in->pairs, (in->npairs + *n + 1) *
				    sizeof(*more));
	char (*sets)[80];

	if (!more) {
		q->nomem = true;
		return 0;
	}
	in->pairs = more;
	if (!(sets = realloc(in->pair_set, (in->npairs + *n + 1) *
			     sizeof(*sets)))) {
		q->nomem = true;
		return 0;
	}
	in->pair_set = sets;
	for (size_t i = 0; i < *n; i++) {
		in->pairs[in->npairs] = (*pp)[i];
		snprintf(in->pair_set[in->npairs++], 80, "%s", q->set);
	}
	return 0;
}

typedef struct {
	bool answered;
	azml_vm_result_t r;
} one_t;

static void _one(void *arg, const azml_vm_result_t *r)
{
	one_t *o = arg;

	o->answered = true;
	o->r = *r;
}

/*
 * Each ScaleSet cluster: its set's VMs join the listing (L) when they are
 * ours, its GET is kept, StateDir's pairings are loaded.  0, or -1 with ERR.
 */
static int _gather_sets(const azml_conf_t *conf, azml_arm_t *arm,
			azml_rc_input_t *in, listing_t *l, FILE *out,
			char *err, size_t en)
{
	size_t keep = 0;

	/* the tag listing may show set VMs (tags copied or not): each set's
	 * own listing decides */
	for (size_t i = 0; i < l->n; i++)
		if (!l->vms[i].scale_set[0] && !l->vms[i].set_id[0])
			l->vms[keep++] = l->vms[i];
	l->n = keep;
	if (!(in->sets = calloc(conf->ntargets + 1, sizeof(*in->sets))))
		goto nomem;
	for (size_t ti = 0; ti < conf->ntargets; ti++) {
		const azml_target_t *t = &conf->targets[ti];
		azml_rc_set_t *s = &in->sets[in->nsets];
		listing_t sl = { 0 };
		pairs_load_t q = { in, s->name, false };
		one_t got = { 0 };
		azml_vm_result_t *more;

		if (t->kind != AZML_CLUSTER ||
		    t->provisioning != AZML_PROV_SCALE_SET)
			continue;
		s->t = t;
		azml_conf_scale_set_name(conf, t, s->name, sizeof(s->name));
		azml_arm_vmss_vms(arm, s->name, _listed, &sl);
		azml_arm_vmss_get(arm, s->name, _one, &got);
		azml_arm_run(arm);
		if (sl.failed) {
			snprintf(err, en, "couldn't list the VMs of scale set "
				 "%s: %s; nothing done", s->name, sl.err);
			free(sl.vms);
			return -1;
		}
		if (!(more = realloc(l->vms, (l->n + sl.n + 1) *
				     sizeof(*more)))) {
			free(sl.vms);
			goto nomem;
		}
		l->vms = more;
		for (size_t i = 0; i < sl.n; i++) {
			char why[512];

			/* a listing by the set's id may hold anything: its own
			 * set id and our tag say which VMs are the set's */
			if (!azml_arm_vm_ours(conf, &sl.vms[i], s->name, why,
					      sizeof(why))) {
				fprintf(out, "scale set %s: a VM its listing "
					"holds is left alone: %s\n", s->name,
					why);
				continue;
			}
			snprintf(sl.vms[i].scale_set,
				 sizeof(sl.vms[i].scale_set), "%s", s->name);
			l->vms[l->n++] = sl.vms[i];
			s->listed++;
		}
		free(sl.vms);
		s->answered = got.answered;
		s->got = got.r;
		in->nsets++;
		azml_state_pairs(conf, s->name, _pairs_load, &q);
		if (q.nomem)
			goto nomem;
	}
	return 0;
nomem:
	snprintf(err, en, "out of memory; nothing done");
	return -1;
}

/* NODE, when a program works on it, into IN's active list (once). */
static int _gather_active(const azml_conf_t *conf, azml_rc_input_t *in,
			  size_t *cap, const char *node)
{
	if (!node || !node[0] || strlen(node) >= sizeof(in->active[0]) ||
	    !strcmp(node, "-"))
		return 0;
	for (size_t i = 0; i < in->nactive; i++)
		if (!strcmp(in->active[i], node))
			return 0;
	if (!azml_state_intent_active(conf, node))
		return 0;
	if (in->nactive == *cap) {
		size_t nc = *cap ? *cap * 2 : 16;
		char (*more)[96] = realloc(in->active, nc * sizeof(*more));

		if (!more)
			return -1;
		in->active = more;
		*cap = nc;
	}
	snprintf(in->active[in->nactive++], sizeof(in->active[0]), "%s", node);
	return 0;
}

static int _gather_intents(const azml_conf_t *conf, azml_rc_input_t *in)
{
	size_t cap = 0;
	int rc = 0;

	for (int i = 0; i < in->nn; i++)
		rc |= _gather_active(conf, in, &cap, in->nodes[i].name);
	for (size_t i = 0; i < in->nvms; i++)
		if (!in->vms[i].scale_set[0])
			rc |= _gather_active(conf, in, &cap, in->vms[i].name);
	for (size_t i = 0; i < in->npairs; i++)
		rc |= _gather_active(conf, in, &cap, in->pairs[i].node);
	for (size_t i = 0; i < in->njrec; i++)
		rc |= _gather_active(conf, in, &cap, in->jrec[i].node);
	return rc;
}

static void _gather_attached(void *arg, const char *node, const cJSON *rep)
{
	azml_rc_input_t *in = arg;
	azml_rc_attached_t *a, *more;
	const char *addr, *host;

	more = realloc(in->attached, (in->nattached + 1) * sizeof(*more));
	if (!more)
		return;		/* counted as not there: the next pass */
	in->attached = more;
	a = &in->attached[in->nattached++];
	memset(a, 0, sizeof(*a));
	snprintf(a->node, sizeof(a->node), "%s", node);
	addr = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "address"));
	host = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "hostname"));
	if (addr && host) {
		a->report = true;
		snprintf(a->addr, sizeof(a->addr), "%s", addr);
		snprintf(a->host, sizeof(a->host), "%s", host);
	}
}

static bool _has_vm_targets(const azml_conf_t *conf)
{
	for (size_t i = 0; i < conf->ntargets; i++)
		if (conf->targets[i].kind != AZML_ATTACHED)
			return true;
	return false;
}

/* The journal (before Azure is listed), failures of held nodes, learnt
 * idle times and slurmdbd's jobs. */
static int _gather_state(const azml_conf_t *conf, azml_rc_input_t *in,
			 FILE *out)
{
	long now = (long) time(NULL), since;
	size_t bad = 0;
	bool any = false;

	in->journal_cut = azml_state_journal_cut(conf);
	if (in->journal_cut < 0)
		in->journal_cut = 0;
	/* the current file holds every live VM (rotation carries them) */
	if (!azml_state_journal_read(conf, now + 1, &in->jrec, &in->njrec,
				     &bad))
		in->journal_read = true;
	for (int i = 0; i < in->nn; i++) {
		azml_rc_failure_t *f, *more;
		long age;

		if (!azml_state_is_held(in->nodes[i].reason))
			continue;
		if (!(more = realloc(in->failures, (in->nfailures + 1) *
				     sizeof(*more))))
			return -1;
		in->failures = more;
		f = &in->failures[in->nfailures++];
		snprintf(f->node, sizeof(f->node), "%s", in->nodes[i].name);
		age = azml_state_failure_age(conf, in->nodes[i].name);
		f->failed_at = age >= 0 ? now - age : 0;
	}
	if (!(in->idle_learnt = calloc(conf->ntargets + 1, sizeof(long))))
		return -1;
	for (size_t i = 0; i < conf->ntargets; i++)
		if (conf->targets[i].idle_auto) {
			in->idle_learnt[i] = azml_state_idle_get(
				conf, conf->targets[i].name);
			any = true;
		}
	if (!any)
		return 0;
	since = now - AZML_IDLE_LEARN_DAYS * 86400L;
	in->have_jobs = !azml_acct_jobs(since, now, &in->jobs, &in->njobs,
					in->jobs_why, sizeof(in->jobs_why));
	if (in->have_jobs && in->njobs > AZML_IDLE_AUTO_ROWS_MAX) {
		size_t all = in->njobs;

		azml_idle_keep_newest(in->jobs, &in->njobs,
				      AZML_IDLE_AUTO_ROWS_MAX);
		fprintf(out, "IdleSecondsBeforeScaledown=auto: learning from "
			"the newest %zu of %zu job rows of %d days (at most "
			"%d)\n", in->njobs, all, AZML_IDLE_LEARN_DAYS,
			AZML_IDLE_AUTO_ROWS_MAX);
	}
	return 0;
}

int azml_rc_gather(const azml_conf_t *conf, azml_arm_t *arm,
		   const azml_rc_ops_t *ops, bool dry, bool prune, FILE *out,
		   azml_rc_input_t *in, char *err, size_t en)
{
	listing_t l = { 0 };

	memset(in, 0, sizeof(*in));
	in->conf = conf;
	in->dry = dry;
	in->prune = prune;
	in->vm_targets = _has_vm_targets(conf) && arm;
	if (!(in->hold_rc = calloc(conf->ntargets + 1, sizeof(int))) ||
	    !(in->holds = calloc(conf->ntargets + 1, sizeof(azml_hold_t))))
		goto nomem;
	for (size_t i = 0; i < conf->ntargets; i++)
		in->hold_rc[i] = conf->targets[i].kind == AZML_ATTACHED ? -1 :
			azml_state_hold_get(conf, &conf->targets[i],
					    &in->holds[i]);
	if ((in->nn = ops->load(&in->nodes)) < 0) {
		in->nodes = NULL;
		snprintf(err, en, "slurmctld is not answering; nothing done");
		return -1;
	}
	azml_state_attached_each(conf, _gather_attached, in);
	if (!in->vm_targets)
		return 0;
	if (_gather_state(conf, in, out))
		goto nomem;
	azml_arm_vm_list(arm, _listed, &l);
	azml_arm_run(arm);
	if (l.failed) {
		snprintf(err, en, "couldn't list the VMs: %s; nothing done",
			 l.err);
		free(l.vms);
		return -1;
	}
	if (_gather_sets(conf, arm, in, &l, out, err, en)) {
		free(l.vms);
		return -1;
	}
	in->vms = l.vms;
	in->nvms = l.n;
	if (_gather_intents(conf, in))
		goto nomem;
	return 0;
nomem:
	free(l.vms);
	snprintf(err, en, "out of memory; nothing done");
	return -1;
}

void azml_rc_input_free(azml_rc_input_t *in)
{
	free(in->nodes);
	free(in->vms);
	free(in->pairs);
	free(in->pair_set);
	free(in->sets);
	free(in->active);
	free(in->failures);
	free(in->attached);
	free(in->hold_rc);
	free(in->holds);
	free(in->idle_learnt);
	free(in->jrec);
	free(in->jobs);
	memset(in, 0, sizeof(*in));
}


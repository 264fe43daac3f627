/*
 * resume.c - the power-save engine's creates (power.h): one VM per node,
 * its outcome told to slurmctld, and the quota pass before any write.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slurm/slurm.h>

#include "capacity.h"
#include "log.h"
#include "power_int.h"
#include "quota.h"
#include "slurm_compat.h"

void azml_pw_resumed(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;

	if (r->ok && r->ip[0] && !azml_pw_ip_ok(r->ip)) {
		run->failed++;
		azml_log_error("VM '%s' of node %s (op=%s): Azure gave it the "
			       "private IP address '%.64s', which is not an IP "
			       "address; the node is handed back", j->node,
			       j->node, r->op_id, r->ip);
		if (azml_pw_end(j, false, "InvalidResponse"))
			azml_pw_hand_back(j, "InvalidResponse", "Azure answered a private "
				   "IP address that is not one");
		return;
	}
	if (r->ok) {
		run->done++;
		azml_log_info("resume node=%s vm=%s op=%s ip=%s: ok", j->node,
			      j->node, r->op_id, r->ip);
		azml_pw_journal(run, AZML_J_CREATED, r->created > 0 ? r->created :
			 (long) azml_pw_now(run), j->node, r, j->node, j->t);
		azml_pw_journal(run, AZML_J_RUNNING, (long) azml_pw_now(run), j->node, r,
			 j->node, j->t);
		if (!azml_pw_end(j, true, NULL))
			return;
		run->ops.set_addr(run->ops.arg, j->node,
				     r->ip[0] ? r->ip : j->node, j->node);
		azml_state_failure_clear(run->conf, j->node);
		azml_state_hold_clear(run->conf,
				      azml_conf_target_of_node(run->conf, j->node));
		return;
	}
	run->failed++;
	azml_log_error("couldn't create VM '%s' for node %s (op=%s): %s: %s",
		       j->node, j->node, r->op_id, r->code, r->message);
	if (!azml_pw_end(j, false, r->code))
		return;
	if (azml_capacity_code(r->code) &&
	    azml_conf_target_of_node(run->conf, j->node)->capacity_backoff > 0)
		azml_pw_out_of_capacity(j, r->code);	/* CapacityBackoff=0: no hold */
	else
		azml_pw_hand_back(j, r->code, r->message);
}

/* ---- the quota, before any write ---- */

#define USAGES_CACHE 5	/* seconds one usages answer serves the resumes
			 * that fit in it; a refusal always reads anew */

typedef struct {
	run_t *run;
	job_t *jobs;
	int n;
	bool cached;		/* deciding with the cache: only if all fit */
	bool short_seen;	/* ... and something did not */
} quota_ctx_t;

/* Node J will be created now: ours, not settled (a node that waits for
 * another program's delete is not counted). */
static bool _to_create(const job_t *j)
{
	return !j->settled && !j->started && (j->turn == AZML_TURN_RUN ||
					      j->turn == AZML_TURN_DELETE_FIRST);
}

/* Hand J back without a write: the quota is short.  Its job's history
 * says so (its begin time is Slurm's: the quota does not come back in
 * seconds). */
static void _quota_refuse(job_t *j, const char *msg)
{
	char note[400];

	j->run->failed++;
	if (!azml_pw_end(j, false, "QuotaExceeded"))
		return;
	azml_pw_hand_back(j, "QuotaExceeded", msg);
	snprintf(note, sizeof(note), "azureml: QuotaExceeded: %.360s", msg);
	azml_pw_reset_jobs(j->run, j->node, false, note);
}

/* Take the vCPUs of the nodes of JOBS[..] marked in PICK, target by
 * target; on a short quota, nothing stays taken and MSG says which. */
static bool _take(azml_quota_t *qt, const run_t *run, job_t *jobs, int n,
		  const bool *pick, const char *who, char *msg, size_t mn)
{
	const azml_conf_t *conf = run->conf;

	for (size_t ti = 0; ti < conf->ntargets; ti++) {
		const azml_target_t *t = &conf->targets[ti];
		azml_quota_bound_t b;
		int count = 0;

		for (int i = 0; i < n; i++)
			count += pick[i] && azml_conf_target_of_node(conf,
						jobs[i].node) == t;
		if (!count || !azml_quota_take(qt, t, count, &b))
			continue;
		snprintf(msg, mn, "%s has %ld of %ld vCPUs free in %s; %s needs "
			 "%ld", b.name, b.free, b.limit, conf->location, who,
			 (long) count * t->size.vcpus);
		/* give back what earlier targets took */
		for (size_t tk = 0; tk < ti; tk++) {
			int c = 0;

			for (int i = 0; i < n; i++)
				c += pick[i] && azml_conf_target_of_node(conf,
						jobs[i].node) == &conf->targets[tk];
			azml_quota_give(qt, &conf->targets[tk], c);
		}
		return false;
	}
	return true;
}

/* Job by job, then the nodes without a job: take what fits from QT; with
 * ACT, hand back what does not.  Returns how many nodes do not fit. */
static int _quota_pass(quota_ctx_t *q, azml_quota_t *qt, bool act)
{
	run_t *run = q->run;
	bool *pick = calloc(q->n + 1, sizeof(bool));
	bool *seen = calloc(q->n + 1, sizeof(bool));
	char msg[400], who[64];
	int refused = 0;

	if (!pick || !seen)
		goto out;
	for (int k = 0; k < run->nrjobs; k++) {
		azml_hostlist_t hl = slurm_hostlist_create(run->rjobs[k].nodes);
		int count = 0;

		for (int i = 0; i < q->n; i++) {
			pick[i] = hl && !seen[i] && _to_create(&q->jobs[i]) &&
				  slurm_hostlist_find(hl, q->jobs[i].node) >= 0;
			count += pick[i];
		}
		if (hl)
			slurm_hostlist_destroy(hl);
		if (!count)
			continue;
		snprintf(who, sizeof(who), "job %u", run->rjobs[k].id);
		for (int i = 0; i < q->n; i++)
			seen[i] |= pick[i];
		if (_take(qt, run, q->jobs, q->n, pick, who, msg, sizeof(msg)))
			continue;
		refused += count;
		if (!act)
			continue;
		azml_log_error("job %u: no VM created for it: %s",
			       run->rjobs[k].id, msg);
		for (int i = 0; i < q->n; i++)
			if (pick[i])
				_quota_refuse(&q->jobs[i], msg);
	}
	/* nodes without a job (MinNodes, a manual power up): while they fit */
	for (int i = 0; i < q->n; i++) {
		if (seen[i] || !_to_create(&q->jobs[i]))
			continue;
		memset(pick, 0, (q->n + 1) * sizeof(bool));
		pick[i] = true;
		snprintf(who, sizeof(who), "node %.40s", q->jobs[i].node);
		if (_take(qt, run, q->jobs, q->n, pick, who, msg, sizeof(msg)))
			continue;
		refused++;
		if (!act)
			continue;
		azml_log_error("node %s: no VM created for it: %s",
			       q->jobs[i].node, msg);
		_quota_refuse(&q->jobs[i], msg);
	}
out:
	free(pick);
	free(seen);
	return refused;
}

/* Decide with usages U.  With the cache, only when everything fits: a
 * node is refused on a fresh answer only. */
static void _quota_decide(void *arg, azml_usage_t *u, size_t nu)
{
	quota_ctx_t *q = arg;
	azml_quota_t *qt = azml_quota_new(u, nu);

	if (!qt)
		return;
	if (q->cached) {
		azml_quota_t *trial = azml_quota_new(u, nu);

		q->short_seen = !trial || _quota_pass(q, trial, false);
		azml_quota_free(trial);
		if (q->short_seen) {
			azml_quota_free(qt);
			return;
		}
	}
	_quota_pass(q, qt, true);
	/* what was taken stays taken for the next resume's few seconds */
	for (size_t k = 0; k < nu; k++)
		azml_quota_usage(qt, &u[k]);
	azml_quota_free(qt);
}

/*
 * Before any create: the quota, from one usages answer shared by the
 * resumes of the next few seconds.  A job whose nodes do not all fit gets
 * no VM: its nodes are handed back with the quota that is short.  Without
 * an answer, the creates go on (Azure's QuotaExceeded still applies).
 */
void azml_pw_quota_check(run_t *run, job_t *jobs, int n)
{
	quota_ctx_t q = { .run = run, .jobs = jobs, .n = n, .cached = true };
	azml_usage_t *fresh = NULL;
	azml_vm_result_t err;
	size_t nfresh = 0;
	int rc;

	rc = azml_state_usages(run->conf, USAGES_CACHE, NULL, 0,
			       _quota_decide, &q);
	if (rc < 0 || (rc == 0 && !q.short_seen))
		return;	/* all fit the cache's answer, or StateDir failed */
	q.cached = false;
	if (azml_arm_usages_now(run->arm, &fresh, &nfresh, &err) || !nfresh) {
		azml_log_error("couldn't read the compute quota (%s%s%s); "
			       "creating without the pre-check", fresh ? "no "
			       "usages in Azure's answer" : err.code, fresh ? "" :
			       ": ", fresh ? "" : err.message);
		free(fresh);
		return;
	}
	azml_state_usages(run->conf, USAGES_CACHE, fresh, nfresh,
			  _quota_decide, &q);
	free(fresh);
}

/*
 * resume.c - the power-save engine's creates (power.h): one VM per node,
 * its outcome told to slurmctld, and the quota pass before any write.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <slurm/slurm.h>

#include "capacity.h"
#include "log.h"
#include "power_int.h"
#include "quota.h"
#include "slurm_compat.h"

/* ---- a mix's sizes ---- */

const char *azml_pw_size_of(const job_t *j)
{
	if (!j->t || j->t->nmix < 2 || j->norder < 1)
		return NULL;
	return j->t->mix[j->order[j->cur]];
}

/* Whether the constraint FEATURES names SIZE as a word of its own. */
static bool _names(const char *features, const char *size)
{
	size_t len = strlen(size);

	for (const char *p = features; (p = strcasestr(p, size)); p++) {
		bool start = p == features ||
			     !(isalnum((unsigned char) p[-1]) || p[-1] == '_');
		bool end = !(isalnum((unsigned char) p[len]) || p[len] == '_');

		if (start && end)
			return true;
	}
	return false;
}

#define PRICES_FILE_MAX (1 << 20)

/* LowestPrice: Prices=FILE, else the retail prices StateDir keeps (read by
 * 'slurm-azureml cost'); never a fetch here.  NULL: none known. */
static const azml_prices_t *_prices(run_t *run)
{
	char *text = NULL, err[512];

	if (run->prices_read)
		return run->prices.n ? &run->prices : NULL;
	run->prices_read = true;
	memset(&run->prices, 0, sizeof(run->prices));
	if (run->conf->prices) {
		FILE *fp = fopen(run->conf->prices, "r");
		size_t n = 0;

		if (fp && (text = malloc(PRICES_FILE_MAX + 1))) {
			n = fread(text, 1, PRICES_FILE_MAX, fp);
			text[n] = '\0';
		}
		if (fp)
			fclose(fp);
		if (!text)
			snprintf(err, sizeof(err), "%s: %s", run->conf->prices,
				 strerror(errno));
		if (!text ||
		    azml_prices_parse_file(text, run->conf->prices,
					   &run->prices, err, sizeof(err))) {
			azml_log_error("couldn't read the prices (%s); "
				       "AllocationStrategy=LowestPrice tries "
				       "the sizes in the order written",
				       err);
			memset(&run->prices, 0, sizeof(run->prices));
		}
	} else if (!(text = azml_state_prices_load(run->conf)) ||
		   azml_prices_from_text(text, &run->prices)) {
		azml_log_info(
			"no retail prices in StateDir yet ('slurm-azureml "
			"cost' reads them); AllocationStrategy=LowestPrice "
			"tries the sizes in the order written");
		memset(&run->prices, 0, sizeof(run->prices));
	}
	free(text);
	return run->prices.n ? &run->prices : NULL;
}

/* J's sizes in the order its target's AllocationStrategy says, only those
 * FEATURES (its job's constraint, or NULL) names when it names any. */
static void _order(run_t *run, job_t *j, const char *features)
{
	const azml_target_t *t = j->t;
	int nm = t->nmix > 1 ? (int) t->nmix : 1, n = 0;
	bool named = false;

	j->cur = 0;
	for (int k = 0; k < nm && features && nm > 1; k++)
		named |= _names(features, t->mix[k]);
	for (int k = 0; k < nm; k++)
		if (!named || _names(features, t->mix[k]))
			j->order[n++] = k;
	j->norder = n;
	if (n > 1 && t->alloc == AZML_ALLOC_CAPACITY_OPTIMIZED) {
		/* as written, but sizes that met a capacity error in the last
		 * CapacityBackoff seconds last */
		long now = (long) azml_pw_now(run),
		     back = t->capacity_backoff > 0 ? t->capacity_backoff : 600;
		int out[AZML_MIX_MAX], m = 0;

		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < n; i++) {
				long at = azml_state_size_missed(
					run->conf, t->mix[j->order[i]]);
				bool recent = at > 0 && now - at < back;

				if (recent == (pass == 1))
					out[m++] = j->order[i];
			}
		memcpy(j->order, out, sizeof(int) * n);
	}
	if (n < 2 || t->alloc != AZML_ALLOC_LOWEST_PRICE)
		return; /* Prioritized: as written */
	{
		const azml_prices_t *ps = _prices(run);
		bool spot = t->priority == AZML_LOW_PRIORITY;
		double price[AZML_MIX_MAX];

		for (int i = 0; i < n; i++)
			price[i] = ps ? azml_prices_hourly(
						ps, t->mix[j->order[i]], spot) :
					-1;
		/* cheapest first, unknown prices last, ties as written */
		for (int i = 1; i < n; i++)
			for (int k = i; k > 0; k--) {
				double a = price[k - 1], b = price[k];
				int o;

				if (!(b >= 0 && (a < 0 || b < a)))
					break;
				price[k - 1] = b;
				price[k] = a;
				o = j->order[k - 1];
				j->order[k - 1] = j->order[k];
				j->order[k] = o;
			}
	}
}

void azml_pw_plan_sizes(run_t *run, job_t *jobs, int n)
{
	run->jobs = jobs;
	run->njobs = n;
	for (int i = 0; i < n; i++) {
		job_t *j = &jobs[i];
		int from = 0, k = azml_pw_job_of(run, j->node, &from);

		_order(run, j, k >= 0 ? run->rjobs[k].features : NULL);
		j->group =
			k >= 0 && j->t->kind == AZML_CLUSTER &&
					j->t->job_scaling ==
						AZML_SCALING_ALL_OR_NOTHING &&
					!azml_pw_in_set(j) ?
				k :
				-1;
		if (j->t->nmix > 1) {
			char list[AZML_MIX_MAX * 66] = "";
			size_t used = 0;

			for (int o = 0; o < j->norder && used < sizeof(list);
			     o++)
				used += snprintf(list + used,
						 sizeof(list) - used, "%s%s",
						 o ? "," : "",
						 j->t->mix[j->order[o]]);
			azml_log_info("node %s: sizes in order: %s%s", j->node,
				      list,
				      j->norder < (int) j->t->nmix ?
					      " (its job's constraint)" :
					      "");
		}
	}
}

/* ---- VMs made, or not ---- */

/* J's VM is up (R): slurmctld told, the journal written. */
static void _made(job_t *j, const azml_vm_result_t *r)
{
	run_t *run = j->run;
	const azml_target_t *t = j->t;
	int real = -1;

	run->done++;
	/* the size Azure made, as one of the mix's names (never Azure's
	 * string as it came) */
	for (size_t k = 0; k < t->nmix && t->nmix > 1; k++)
		if (!strcasecmp(r->size, t->mix[k]))
			real = (int) k;
	azml_log_info("resume node=%s vm=%s op=%s ip=%s%s%s: ok", j->node,
		      j->node, r->op_id, r->ip, t->nmix > 1 ? " size=" : "",
		      t->nmix > 1 ? (real >= 0 ? t->mix[real] : "?") : "");
	azml_pw_journal(run, AZML_J_CREATED,
			r->created > 0 ? r->created : (long) azml_pw_now(run),
			j->node, r, j->node, j->t);
	azml_pw_journal(run, AZML_J_RUNNING, (long) azml_pw_now(run), j->node,
			r, j->node, j->t);
	if (!azml_pw_end(j, true, NULL))
		return;
	run->ops.set_addr(run->ops.arg, j->node, r->ip[0] ? r->ip : j->node,
			  j->node);
	if (run->ops.set_instance) {
		/* the node learns its VM's real size: a mix's ActiveFeatures,
		 * InstanceType/InstanceId on Slurm >= 23.02 */
		char feat[512];
		bool mix = t->nmix > 1;

		if (mix &&
		    (real < 0 || azml_pw_active_features(t, t->mix[real], feat,
							 sizeof(feat)))) {
			azml_log_error("node %s: Azure says its VM is of size "
				       "'%.64s', not one of %s's; its features "
				       "are left as they are",
				       j->node, r->size, t->name);
			mix = false;
		}
		run->ops.set_instance(run->ops.arg, j->node, mix ? feat : NULL,
				      real >= 0 ? t->mix[real] : t->vm_size,
				      r->vm_id);
	}
	azml_state_failure_clear(run->conf, j->node);
	azml_state_hold_clear(run->conf,
			      azml_conf_target_of_node(run->conf, j->node));
}

/* Whether a node of AllOrNothing job G is still on its way. */
static bool _group_waits(const run_t *run, int g)
{
	for (int i = 0; i < run->njobs; i++)
		if (run->jobs[i].group == g && !run->jobs[i].settled &&
		    !run->jobs[i].have_vm)
			return true;
	return false;
}

/* M's job lost another node: M handed back, its job rescheduled now. */
static void _aon_hand_back(job_t *m)
{
	run_t *run = m->run;
	const rjob_t *rj = &run->rjobs[m->group];
	char reason[400];

	snprintf(reason, sizeof(reason),
		 "azureml: AllOrNothing: job %u: "
		 "%.300s",
		 rj->id, rj->aon_why);
	run->ops.power_down_force(run->ops.arg, m->node, reason);
	azml_pw_reset_jobs(run, m->node, true, reason);
}

static void _aon_deleted(void *arg, const azml_vm_result_t *r)
{
	job_t *m = arg;
	run_t *run = m->run;

	run->failed++;
	if (r->ok) {
		azml_log_info("resume node=%s vm=%s op=%s: deleted (job %u: "
			      "JobScaling=AllOrNothing)",
			      m->node, m->node, r->op_id,
			      run->rjobs[m->group].id);
		azml_pw_journal(run, AZML_J_DELETED, (long) azml_pw_now(run),
				m->node, NULL, m->node, NULL);
	} else {
		azml_log_error("couldn't delete VM '%s' (op=%s): %s: %s; its "
			       "node is handed back (SuspendProgram deletes "
			       "it)",
			       m->node, r->op_id, r->code, r->message);
	}
	if (azml_pw_end(m, false, "AllOrNothing"))
		_aon_hand_back(m);
}

/* M's VM was made, but its job cannot have all of its VMs: delete it. */
static void _aon_delete(job_t *m)
{
	run_t *run = m->run;

	m->have_vm = false;
	azml_pw_journal(run, AZML_J_CREATED,
			m->made.created > 0 ? m->made.created :
					      (long) azml_pw_now(run),
			m->node, &m->made, m->node, m->t);
	azml_arm_vm_delete(run->arm, m->node, _aon_deleted, m);
}

void azml_pw_aon_lost(job_t *j, const char *code, const char *msg)
{
	run_t *run = j->run;
	rjob_t *rj;

	if (j->group < 0 || !run->jobs)
		return;
	rj = &run->rjobs[j->group];
	if (!rj->aon_failed) {
		int others = 0;

		for (int i = 0; i < run->njobs; i++)
			others += run->jobs[i].group == j->group &&
				  &run->jobs[i] != j;
		rj->aon_failed = true;
		snprintf(rj->aon_why, sizeof(rj->aon_why),
			 "its node %s got "
			 "no VM: %s: %.200s",
			 j->node, code, msg);
		if (others)
			azml_log_error("job %u: node %s got no VM (%s); "
				       "JobScaling=AllOrNothing: the VMs made "
				       "for it are deleted and it is requeued",
				       rj->id, j->node, code);
		azml_pw_reset_jobs(run, j->node, true, rj->aon_why);
	}
	for (int i = 0; i < run->njobs; i++)
		if (run->jobs[i].group == j->group && run->jobs[i].have_vm)
			_aon_delete(&run->jobs[i]);
}

bool azml_pw_aon_finish(run_t *run)
{
	bool queued = false;

	for (int i = 0; i < run->njobs; i++) {
		job_t *m = &run->jobs[i];

		if (!m->have_vm)
			continue;
		if (run->rjobs[m->group].aon_failed) {
			_aon_delete(m);
			queued = true;
		} else { /* the others ended another way: it stays */
			m->have_vm = false;
			_made(m, &m->made);
		}
	}
	return queued;
}

/* J's VM is up: told now, or once its AllOrNothing job's others are. */
static void _up(job_t *j, const azml_vm_result_t *r)
{
	run_t *run = j->run;

	if (j->group < 0) {
		_made(j, r);
		return;
	}
	j->made = *r;
	if (run->rjobs[j->group].aon_failed) {
		_aon_delete(j);
		return;
	}
	j->have_vm = true;
	if (_group_waits(run, j->group)) {
		azml_log_info("node %s: its VM is up; job %u's other nodes are "
			      "not yet (JobScaling=AllOrNothing)",
			      j->node, run->rjobs[j->group].id);
		return;
	}
	for (int i = 0; i < run->njobs; i++) {
		job_t *m = &run->jobs[i];

		if (m->group == j->group && m->have_vm) {
			m->have_vm = false;
			_made(m, &m->made);
		}
	}
}

/* The VM a capacity error left (Failed) is deleted: the next size, or
 * the node fails with the delete's error. */
static void _failed_gone(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;

	if (r->ok) {
		azml_arm_vm_create_size(j->run->arm, j->t, j->node,
					azml_pw_size_of(j), azml_pw_resumed, j);
		return;
	}
	j->cur = j->norder - 1; /* no size after this */
	azml_pw_resumed(j, r);
}

void azml_pw_resumed(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;
	bool lost = j->group >= 0 && run->rjobs[j->group].aon_failed;

	if (r->ok && r->ip[0] && !azml_pw_ip_ok(r->ip)) {
		run->failed++;
		azml_log_error("VM '%s' of node %s (op=%s): Azure gave it the "
			       "private IP address '%.64s', which is not an IP "
			       "address; the node is handed back", j->node,
			       j->node, r->op_id, r->ip);
		if (azml_pw_end(j, false, "InvalidResponse")) {
			azml_pw_hand_back(j, "InvalidResponse", "Azure answered a private "
				   "IP address that is not one");
			azml_pw_aon_lost(
				j, "InvalidResponse",
				"Azure answered "
				"a private IP address that is not one");
		}
		return;
	}
	if (r->ok) {
		_up(j, r);
		return;
	}
	if (azml_capacity_code(r->code) && azml_pw_size_of(j))
		azml_state_size_miss(run->conf, azml_pw_size_of(j));
	if (azml_capacity_code(r->code) && j->cur + 1 < j->norder && !lost) {
		/* a mix: the next size, now (no hold, no requeue) */
		const char *was = azml_pw_size_of(j);

		j->cur++;
		azml_log_info("node %s: no capacity for %s (%s); trying %s",
			      j->node, was, r->code, azml_pw_size_of(j));
		if (r->op_id[0]) /* the failed VM is there: gone first */
			azml_arm_vm_delete(run->arm, j->node, _failed_gone, j);
		else
			azml_arm_vm_create_size(run->arm, j->t, j->node,
						azml_pw_size_of(j),
						azml_pw_resumed, j);
		return;
	}
	run->failed++;
	azml_log_error("couldn't create VM '%s' for node %s (op=%s): %s: %s",
		       j->node, j->node, r->op_id, r->code, r->message);
	if (!azml_pw_end(j, false, r->code))
		return;
	if (lost) /* its job lost another node first */
		_aon_hand_back(j);
	else if (azml_capacity_code(r->code) &&
		 azml_conf_target_of_node(run->conf, j->node)
				 ->capacity_backoff > 0)
		azml_pw_out_of_capacity(j, r->code);	/* CapacityBackoff=0: no hold */
	else
		azml_pw_hand_back(j, r->code, r->message);
	azml_pw_aon_lost(j, r->code, r->message);
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

/* T at its mix's size K: what the quota counts (family, vCPUs). */
static azml_target_t _at_size(const azml_target_t *t, int k)
{
	azml_target_t x = *t;

	if (k > 0 && (size_t) k < t->nmix) {
		x.vm_size = t->mix[k];
		x.size = t->mix_size[k];
	}
	return x;
}

/* The index in its target's mix of the size J is created at now. */
static int _size_idx(const job_t *j)
{
	return j->norder > 0 ? j->order[j->cur] : 0;
}

/* How many nodes of JOBS[..] marked in PICK are of T at size K. */
static int _count(const run_t *run, const job_t *jobs, int n, const bool *pick,
		  const azml_target_t *t, int k)
{
	int count = 0;

	for (int i = 0; i < n; i++)
		count += pick[i] && _size_idx(&jobs[i]) == k &&
			 azml_conf_target_of_node(run->conf, jobs[i].node) == t;
	return count;
}

/* Take the vCPUs of the nodes of JOBS[..] marked in PICK, target by
 * target (a mix: size by size, each at the size it is created at); on a
 * short quota, nothing stays taken and MSG says which. */
static bool _take(azml_quota_t *qt, const run_t *run, job_t *jobs, int n,
		  const bool *pick, const char *who, char *msg, size_t mn)
{
	const azml_conf_t *conf = run->conf;
	size_t all = conf->ntargets * AZML_MIX_MAX;

	for (size_t x = 0; x < all; x++) {
		const azml_target_t *t = &conf->targets[x / AZML_MIX_MAX];
		int k = (int) (x % AZML_MIX_MAX);
		azml_target_t tk = _at_size(t, k);
		azml_quota_bound_t b;
		int count;

		if (k && (size_t) k >= t->nmix)
			continue;
		count = _count(run, jobs, n, pick, t, k);
		if (!count || !azml_quota_take(qt, &tk, count, &b))
			continue;
		snprintf(msg, mn,
			 "%s has %ld of %ld vCPUs free in %s; %s needs "
			 "%ld",
			 b.name, b.free, b.limit, conf->location, who,
			 (long) count * tk.size.vcpus);
		/* give back what the sizes before took */
		for (size_t y = 0; y < x; y++) {
			const azml_target_t *ty =
				&conf->targets[y / AZML_MIX_MAX];
			int ky = (int) (y % AZML_MIX_MAX);
			azml_target_t tky = _at_size(ty, ky);
			int c;

			if (ky && (size_t) ky >= ty->nmix)
				continue;
			if ((c = _count(run, jobs, n, pick, ty, ky)))
				azml_quota_give(qt, &tky, c);
		}
		return false;
	}
	return true;
}

/* A mix's node: sizes whose family has no vCPU left are skipped, as a
 * capacity error would skip them (the last one stays: its refusal says
 * which quota is short). */
static void _skip_short(const quota_ctx_t *q, azml_quota_t *qt)
{
	for (int i = 0; i < q->n; i++) {
		job_t *j = &q->jobs[i];

		while (_to_create(j) && j->cur + 1 < j->norder) {
			azml_target_t tk = _at_size(j->t, _size_idx(j));
			azml_quota_bound_t b;

			if (azml_quota_nodes_fit(qt, &tk, &b) != 0)
				break;
			azml_log_info("node %s: %s has %ld of %ld vCPUs free: "
				      "not trying %s",
				      j->node, b.name, b.free, b.limit,
				      tk.vm_size);
			j->cur++;
		}
	}
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
	if (act)
		_skip_short(q, qt);
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

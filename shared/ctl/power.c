/*
 * power.c - the power-save engine's run (power.h): the nodes of the
 * hostlist, their claims in StateDir (and the detach from slurmctld), the
 * loop that drives every node to its end, the ends told to slurmctld, the
 * jobs handed back, and the journal's records.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <slurm/slurm.h>

#include "capacity.h"
#include "controller.h"
#include "log.h"
#include "power_int.h"
#include "slurm_compat.h"

static time_t _real_now(void *arg)
{
	return time(NULL);
}

static void _real_sleep(void *arg, int ms)
{
	usleep((useconds_t) ms * 1000);
}

const azml_clock_t azml_pw_real_clock = { NULL, _real_now, _real_sleep };

const char *azml_pw_mode_name(azml_power_mode_t m)
{
	return m == AZML_POWER_RESUME ? "resume" : m == AZML_POWER_SUSPEND ? "suspend" : "resume-fail";
}

/* What slurmctld must hear of a node whose VM cannot be had: it is handed
 * back now (its job is requeued), and held DOWN after repeated failures. */
void azml_pw_hand_back(job_t *j, const char *code, const char *msg)
{
	char reason[400];
	int count;

	if (j->run->mode != AZML_POWER_RESUME)
		return;
	count = azml_state_failure_add(j->run->conf, j->node, code);
	snprintf(reason, sizeof(reason), "azureml: %s: %.300s", code, msg);
	j->run->ops.power_down_force(j->run->ops.arg, j->node, reason);
	if (count >= AZML_HOLD_AFTER) {
		azml_state_held_reason(reason, sizeof(reason), count, code, msg);
		j->run->ops.down(j->run->ops.arg, j->node, reason);
	}
}

/* Record how J's operation ended.  False when J's node was taken over by
 * another program (this one overstayed): the outcome is not ours to tell
 * slurmctld then. */
bool azml_pw_end(job_t *j, bool ok, const char *code)
{
	char err[512];
	int rc;

	j->settled = true;
	rc = azml_state_intent_end(j->run->conf, j->node, j->run->op,
				   j->run->pid, ok, code, err, sizeof(err));
	if (rc < 0)
		azml_log_error("node %s: %s", j->node, err);
	else if (rc == 1 && j->started)
		azml_log_error("node %s: another program took this node over "
			       "while this %s ran; the outcome is left to it",
			       j->node, azml_op_name(j->run->op));
	return rc != 1;
}

/* The jobs of SLURM_RESUME_FILE that wait for NODE: their index in
 * RUN->rjobs, -1 after the last (*FROM: where to look from). */
int azml_pw_job_of(const run_t *run, const char *node, int *from)
{
	while (*from < run->nrjobs) {
		int i = (*from)++;
		azml_hostlist_t hl = slurm_hostlist_create(run->rjobs[i].nodes);
		bool found = hl && slurm_hostlist_find(hl, node) >= 0;

		if (hl)
			slurm_hostlist_destroy(hl);
		if (found)
			return i;
	}
	return -1;
}

#define RESET_WAIT 30	/* seconds slurmctld may take to requeue a job */

/* Once NODE's jobs are requeued: NOTE in their history, and (NOW) their
 * begin time reset.  Done from the tick, never waiting here. */
void azml_pw_reset_jobs(run_t *run, const char *node, bool now,
			const char *note)
{
	int from = 0, i;

	while ((i = azml_pw_job_of(run, node, &from)) >= 0) {
		reset_t *more, *r;
		int k;

		for (k = 0; k < run->nresets; k++)
			if (run->resets[k].id == run->rjobs[i].id)
				break;
		if (k < run->nresets)
			continue;	/* one note a job */
		if (!(more = realloc(run->resets, (run->nresets + 1) *
				     sizeof(*more))))
			return;
		run->resets = more;
		r = &run->resets[run->nresets++];
		*r = (reset_t) { .id = run->rjobs[i].id, .now = now,
				 .give_up = azml_pw_now(run) + RESET_WAIT };
		snprintf(r->note, sizeof(r->note), "%s", note);
	}
}

/* One try for each job not told yet; how many are left. */
static int _resets_tick(run_t *run)
{
	int left = 0;

	for (int k = 0; k < run->nresets; k++) {
		reset_t *r = &run->resets[k];
		int rc;

		if (r->done)
			continue;
		rc = run->ops.job_reschedule(run->ops.arg, r->id, r->now,
					     r->note);
		if (rc == 1 && r->now)
			azml_log_info("job %u: requeued; rescheduled now rather "
				      "than in 120 s", r->id);
		if (rc == 0 && azml_pw_now(run) > r->give_up) {
			azml_log_error("job %u: not requeued after %d s; its "
				       "begin time is left as Slurm set it",
				       r->id, RESET_WAIT);
			rc = -1;
		}
		r->done = rc != 0;
		left += !r->done;
	}
	return left;
}

/* Azure has no capacity for J's VM: hold its target, hand J back (its job
 * moves on, now), and say so in its job's history. */
void azml_pw_out_of_capacity(job_t *j, const char *code)
{
	run_t *run = j->run;
	const azml_target_t *t = azml_conf_target_of_node(run->conf, j->node);
	char reason[256], note[400];

	azml_capacity_hold_ops(&run->ops, run->conf, t, j->node, code,
			       reason, sizeof(reason));
	snprintf(note, sizeof(note), "azureml: %s: %s", j->node,
		 reason + strlen("azureml: "));
	azml_pw_reset_jobs(run, j->node, true, note);
}

/* An address slurmctld may be given: a bare IPv4 or IPv6 address (a comma
 * or a space would shift the batched NodeAddr lists). */
bool azml_pw_ip_ok(const char *ip)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, ip, buf) == 1 ||
	       inet_pton(AF_INET6, ip, buf) == 1;
}

/* A lifecycle record of VM (R: Azure's view of it, or NULL) for NODE of
 * T, kept for _journal_flush(). */
void azml_pw_journal(run_t *run, azml_jkind_t kind, long at, const char *vm,
		     const azml_vm_result_t *r, const char *node,
		     const azml_target_t *t)
{
	azml_jrec_t x;
	bool spot = r && r->vm_id[0] ? r->spot :
		    t && t->priority == AZML_LOW_PRIORITY;

	if (run->njr == run->capjr) {
		size_t c = run->capjr ? run->capjr * 2 : 64;
		azml_jrec_t *m = realloc(run->jr, c * sizeof(*m));

		if (!m)
			return;
		run->jr = m;
		run->capjr = c;
	}
	if (azml_jrec_make(&x, kind, at, vm, r ? r->vm_id : NULL, node,
			   t ? t->name : NULL, r && r->size[0] ? r->size :
			   t ? t->vm_size : NULL, spot, r && r->zone[0] ?
			   r->zone : t ? t->zone : NULL) == 0)
		run->jr[run->njr++] = x;
}

static int _jrec_cmp(const void *a, const void *b)
{
	const azml_jrec_t *x = a, *y = b;

	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (int) x->kind - (int) y->kind;
}

/* The run's records, in one write; each deleted VM's registration first,
 * from its node's SlurmdStartTime (the journal keeps it only when it falls
 * within the VM's life). */
static void _journal_flush(run_t *run)
{
	azml_node_t *nodes = NULL;
	int nn = -1;

	for (size_t i = 0, m = run->njr; i < m; i++) {
		azml_jrec_t *x = &run->jr[i];

		if (x->kind != AZML_J_DELETED || !strcmp(x->node, "-"))
			continue;
		if (nn < 0 && (nn = run->ops.load(run->ops.arg, &nodes)) < 0)
			break;
		for (int k = 0; k < nn; k++)
			if (!strcmp(nodes[k].name, x->node) &&
			    nodes[k].slurmd_start > 0 &&
			    nodes[k].slurmd_start <= x->at) {
				char vm[AZML_JNAME], node[AZML_JNAME];

				memcpy(vm, x->vm, sizeof(vm));
				memcpy(node, x->node, sizeof(node));
				azml_pw_journal(run, AZML_J_REGISTERED,
					 nodes[k].slurmd_start, vm, NULL, node,
					 NULL);
				break;
			}
	}
	free(nodes);
	/* in time order, as they happened */
	if (run->njr > 1)
		qsort(run->jr, run->njr, sizeof(*run->jr), _jrec_cmp);
	if (run->njr && azml_state_journal_add(run->conf, run->jr, run->njr))
		azml_log_error("the lifecycle journal missed %zu records; "
			       "'slurm-azureml reconcile' adds what Azure "
			       "still shows", run->njr);
	free(run->jr);
	run->jr = NULL;
	run->njr = run->capjr = 0;
}


void azml_pw_fail_oom(job_t *j)
{
	j->run->failed++;
	azml_log_error("node %s: out of memory; nothing done for it", j->node);
	if (azml_pw_end(j, false, "OutOfMemory"))
		azml_pw_hand_back(j, "OutOfMemory", "out of memory");
}

void azml_pw_start(job_t *j)
{
	run_t *run = j->run;

	if (run->mode == AZML_POWER_RESUME_FAIL && j->turn == AZML_TURN_RUN &&
	    !j->boot_log_read) {
		j->started = true;
		azml_pw_vm_of(j);
		if (!j->vm[0]) {	/* a set's node with no VM */
			azml_vm_result_t ok = { .ok = true };

			azml_pw_deleted(j, &ok);
			return;
		}
		azml_arm_vm_get(run->arm, j->vm, azml_pw_checked, j);
		return;
	}
	j->started = true;
	if (run->op == AZML_OP_CREATE && j->turn == AZML_TURN_RUN) {
		const azml_target_t *t = j->t;
		azml_hold_t h;

		if (azml_state_hold_get(run->conf, t, &h) == 1) {
			/* its target is out of capacity: no write */
			char reason[256];

			run->failed++;
			azml_state_hold_reason(reason, sizeof(reason), &h);
			azml_log_error("node %s: not creating its VM: %s", j->node,
				       reason);
			if (azml_pw_end(j, false, h.code)) {
				azml_capacity_refuse_ops(&run->ops, j->node, &h);
				azml_pw_reset_jobs(run, j->node, true, reason);
				azml_pw_aon_lost(j, h.code, reason);
			}
			return;
		}
		if (azml_pw_in_set(j)) {
			j->vm[0] = '\0';
			if (azml_pw_batch_add(run, j, true))
				azml_pw_fail_oom(j);
			return;
		}
		snprintf(j->vm, sizeof(j->vm), "%s", j->node);
		azml_arm_vm_create_size(run->arm, t, j->node,
					azml_pw_size_of(j), azml_pw_resumed, j);
		return;
	}
	if (azml_pw_in_set(j) && run->mode == AZML_POWER_SUSPEND) {
		if (azml_pw_batch_add(run, j, false))
			azml_pw_fail_oom(j);
		return;
	}
	azml_pw_vm_of(j);
	if (!j->vm[0]) {	/* a set's node with no VM: nothing to delete */
		azml_vm_result_t ok = { .ok = true };

		azml_pw_deleted(j, &ok);
		return;
	}
	{
		char set[80];

		azml_arm_vm_delete_ours(run->arm, j->vm, azml_pw_set_of(j, set,
					sizeof(set)), azml_pw_deleted, j);
	}
}

/* A node we waited for: what became of it.  Returns true when settled. */
static bool _poll(job_t *j)
{
	run_t *run = j->run;
	azml_turn_info_t info;
	char err[512], msg[600];
	const char *op = azml_op_name(run->op);

	j->turn = azml_state_intent_poll(run->conf, j->node, run->op, run->pid,
					 &info, err, sizeof(err));
	switch (j->turn) {
	case AZML_TURN_WAIT:
		return false;
	case AZML_TURN_RUN:
	case AZML_TURN_DELETE_FIRST:
		azml_log_info("node %s: the %s before it is over; %s now", j->node,
			      azml_op_name(info.op ? info.op : run->op ==
					   AZML_OP_CREATE ? AZML_OP_DELETE :
					   AZML_OP_CREATE),
			      j->turn == AZML_TURN_DELETE_FIRST ? "finishing "
			      "its interrupted delete, then creating" :
			      run->op == AZML_OP_CREATE ? "creating" : "deleting");
		return false;	/* started by the caller */
	case AZML_TURN_JOINED:
		run->joined++;
		if (info.ok)
			run->done++;
		else
			run->failed++;
		azml_log_info("node %s: the %s it waited for was this very %s, "
			      "and it %s%s%s; its program told slurmctld", j->node,
			      op, op, info.ok ? "succeeded" : "failed",
			      info.code[0] ? ": " : "", info.code);
		j->settled = true;
		return true;
	case AZML_TURN_SUPERSEDED:
		run->superseded++;
		azml_log_info("node %s: a later %s request (pid %ld) replaced this "
			      "%s; that program reports the outcome", j->node,
			      azml_op_name(info.op), (long) info.pid, op);
		j->settled = true;
		return true;
	case AZML_TURN_FAILED:
		run->failed++;
		azml_log_error("node %s: the delete of its previous VM failed "
			       "(%s); not creating another", j->node,
			       info.code[0] ? info.code : "no code");
		snprintf(msg, sizeof(msg), "its previous VM could not be deleted "
			 "(see slurm-azureml's log)");
		azml_pw_hand_back(j, info.code[0] ? info.code : "DeleteFailed", msg);
		j->settled = true;
		return true;
	case AZML_TURN_ERROR:
	default:
		run->failed++;
		azml_log_error("node %s: %s", j->node, err);
		azml_pw_hand_back(j, "StateDir", err);
		j->settled = true;
		return true;
	}
}

typedef struct {
	run_t *run;
	job_t *jobs;
	int n;
} drive_t;

/* Ask again for every node that waits, and start those whose turn came.
 * Called between and during Azure calls (azml_arm_set_tick), so that a node
 * waits only for its own predecessor, never for this program's other
 * nodes. */
static void _tick(void *arg)
{
	drive_t *d = arg;

	for (int i = 0; i < d->n; i++) {
		job_t *j = &d->jobs[i];

		if (!j->settled && j->turn == AZML_TURN_WAIT)
			_poll(j);
		if (!j->settled && !j->started && j->turn != AZML_TURN_WAIT)
			azml_pw_start(j);
	}
	azml_pw_batches_flush(d->run);
	azml_pw_batches_tick(d->run);
	_resets_tick(d->run);
}

static int _waiting(const drive_t *d)
{
	int waiting = 0;

	for (int i = 0; i < d->n; i++)
		waiting += !d->jobs[i].settled && d->jobs[i].turn == AZML_TURN_WAIT;
	return waiting;
}

/* Drive every node to its end: start what is ours, wait for the others'
 * operations (bounded: an owner that overstays AZML_INTENT_TTL is taken
 * over), and start them when their turn comes. */
static void _drive(run_t *run, job_t *jobs, int n)
{
	drive_t d = { run, jobs, n };
	time_t give_up = azml_pw_now(run) + AZML_INTENT_TTL + 60;

	azml_arm_set_tick(run->arm, _tick, &d, 0.5);
	for (int i = 0; i < n; i++)
		if (!jobs[i].settled && !jobs[i].started &&
		    jobs[i].turn != AZML_TURN_WAIT)
			azml_pw_start(&jobs[i]);
	azml_pw_batches_flush(run);
	for (;;) {
		azml_arm_run(run->arm);
		if (!_waiting(&d) && !azml_pw_batches_pending(run))
			break;
		if (azml_pw_now(run) > give_up) {
			_tick(&d);	/* a last look before giving up */
			if (!_waiting(&d))
				continue;	/* its turn came: run it */
			for (int i = 0; i < n; i++) {
				if (jobs[i].settled ||
				    jobs[i].turn != AZML_TURN_WAIT)
					continue;
				run->failed++;
				azml_log_error("node %s: gave up waiting for the "
					       "operation before it", jobs[i].node);
				azml_pw_hand_back(&jobs[i], "Timeout", "the operation "
					   "before this one never ended");
				jobs[i].settled = true;
			}
			break;
		}
		azml_pw_sleep(run, 500);
		_tick(&d);
	}
	/* AllOrNothing: what is left told, or deleted */
	if (run->mode == AZML_POWER_RESUME && azml_pw_aon_finish(run))
		azml_arm_run(run->arm);
	azml_arm_set_tick(run->arm, NULL, NULL, 0);
	/* the jobs handed back: told once slurmctld has requeued them */
	while (_resets_tick(run))
		azml_pw_sleep(run, 500);
}

/* SLURM_RESUME_FILE: which job wants which nodes (the quota is checked job
 * by job, and a job handed back is told why).  A file that cannot be read
 * never stops a resume: its nodes are then nodes without a job. */
#define RESUME_FILE_MAX (16 << 20)
#define RESUME_JOBS_MAX 100000
static void _resume_file(run_t *run, const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;
	cJSON *j = NULL, *jobs, *job;

	if (!fp) {
		azml_log_error("couldn't read SLURM_RESUME_FILE %s: %s (its nodes "
			       "are taken as nodes without a job)", path,
			       strerror(errno));
		return;
	}
	if (!(buf = malloc(RESUME_FILE_MAX + 1)))
		goto out;
	n = fread(buf, 1, RESUME_FILE_MAX + 1, fp);
	if (n > RESUME_FILE_MAX) {
		azml_log_error("SLURM_RESUME_FILE %s is over %d MiB; its nodes "
			       "are taken as nodes without a job", path,
			       RESUME_FILE_MAX >> 20);
		goto out;
	}
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	jobs = cJSON_GetObjectItem(j, "jobs");
	if (!cJSON_IsArray(jobs)) {
		azml_log_info("SLURM_RESUME_FILE %s is not Slurm's resume JSON "
			      "({\"jobs\":[...],\"all_nodes\":...}); going on "
			      "without it", path);
		goto out;
	}
	run->rjobs = calloc(cJSON_GetArraySize(jobs) + 1, sizeof(rjob_t));
	cJSON_ArrayForEach(job, jobs) {
		const cJSON *id = cJSON_GetObjectItem(job, "job_id");
		/* 22.05: "nodes"; 23.02 on: "nodes_resume" (what this resume
		 * powers up for the job) beside "nodes_alloc" */
		const cJSON *nodes = cJSON_GetObjectItem(job, "nodes_resume");
		/* its constraint: a mix's size named there is the only one */
		const cJSON *feat = cJSON_GetObjectItem(job, "features");

		if (!cJSON_IsString(nodes))
			nodes = cJSON_GetObjectItem(job, "nodes");

		if (!cJSON_IsNumber(id) || !cJSON_IsString(nodes) ||
		    id->valuedouble < 1 || id->valuedouble > UINT32_MAX ||
		    !run->rjobs || run->nrjobs >= RESUME_JOBS_MAX)
			continue;
		azml_log_info("job %.0f wants %.200s", id->valuedouble,
			      nodes->valuestring);
		run->rjobs[run->nrjobs].id = (uint32_t) id->valuedouble;
		if (cJSON_IsString(feat) && feat->valuestring[0] &&
		    strlen(feat->valuestring) < 4096)
			run->rjobs[run->nrjobs].features =
				strdup(feat->valuestring);
		if ((run->rjobs[run->nrjobs].nodes = strdup(nodes->valuestring)))
			run->nrjobs++;
		else
			free(run->rjobs[run->nrjobs].features);
	}
out:
	cJSON_Delete(j);
	free(buf);
	fclose(fp);
}

/* The constraints of the jobs that wait for a mix's nodes, from slurmctld
 * when the resume file does not give them (Slurm 22.05's has no
 * "features"): they limit the sizes tried. */
static void _mix_features(run_t *run, const job_t *jobs, int n)
{
	for (int i = 0; i < n; i++) {
		int from = 0, k;

		if (jobs[i].t->nmix < 2)
			continue;
		while ((k = azml_pw_job_of(run, jobs[i].node, &from)) >= 0)
			if (!run->rjobs[k].features) {
				char *f = azml_job_features(run->rjobs[k].id);

				/* "": asked, none (not asked again) */
				run->rjobs[k].features = f ? f : strdup("");
			}
	}
}

/* Detach from slurmctld: returns in the child (the worker), whose pid the
 * parent records in StateDir before it exits; the child reads what the
 * parent decided for each node (struct claim_msg) from the pipe. */
typedef struct {
	int turn;
	char why[400];
} claim_msg_t;

static void _quiet_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > 2)
		close(fd);
}

/* Claim every node for PID: WAIT, RUN, DELETE_FIRST or ERROR, logged. */
static void _claim(run_t *run, job_t *jobs, int n, const char *state_err)
{
	const char *op = azml_op_name(run->op);

	for (int i = 0; i < n; i++) {
		job_t *j = &jobs[i];
		azml_turn_info_t info;

		if (state_err) {
			j->turn = AZML_TURN_ERROR;
			snprintf(j->why, sizeof(j->why), "%s", state_err);
			continue;
		}
		j->turn = azml_state_intent_begin(run->conf, j->node, run->op,
						  run->pid, &info, j->why,
						  sizeof(j->why));
		if (j->turn == AZML_TURN_WAIT)
			azml_log_info("node %s: a %s (pid %ld) is in flight; this "
				      "%s %s", j->node, azml_op_name(info.op),
				      (long) info.pid, op, info.op == run->op ?
				      "joins it" : run->op == AZML_OP_CREATE ?
				      "waits for it, then creates a new VM" :
				      "waits for it, then deletes what it made");
		else if (j->turn == AZML_TURN_ERROR)
			azml_log_error("node %s: %s", j->node, j->why);
		else if (info.op)
			azml_log_info("node %s: taking over an interrupted %s",
				      j->node, azml_op_name(info.op));
	}
}

/* The nodes of HOSTLIST, each a VM of ours, into *JOBS.  0, or -1 when
 * one is not (nothing is done then). */
static int _nodes(run_t *run, const char *hostlist, job_t **jobs, int *n)
{
	azml_hostlist_t hl = slurm_hostlist_create(hostlist);
	char *host;
	int rc = 0;

	if (!hl) {
		azml_log_error("'%.200s' is not a Slurm hostlist; nothing done",
			       hostlist);
		return -1;
	}
	slurm_hostlist_uniq(hl);	/* a node named twice is one node */
	while ((host = slurm_hostlist_shift(hl))) {
		const azml_target_t *t = azml_conf_target_of_node(run->conf, host);
		job_t *more;

		if (!t || t->kind == AZML_ATTACHED) {
			azml_log_error("node '%s' is %s; nothing done for %s", host,
				       t ? "attached compute, which has no VM" :
				       "not a node of any compute cluster or "
				       "instance in azureml.conf", hostlist);
			free(host);
			rc = -1;
			continue;
		}
		if (!(more = realloc(*jobs, (*n + 1) * sizeof(**jobs)))) {
			free(host);
			rc = -1;
			break;
		}
		*jobs = more;
		(*jobs)[(*n)++] = (job_t){
			.run = run, .node = host, .t = t, .group = -1
		};
	}
	slurm_hostlist_destroy(hl);
	return rc;
}

/* The worker's side of the pipe: what the parent decided for each node. */
static void _read_claims(int fd, job_t *jobs, int n)
{
	for (int i = 0; i < n; i++) {
		claim_msg_t m;
		size_t got = 0;
		ssize_t r;

		while (got < sizeof(m) &&
		       (r = read(fd, (char *) &m + got, sizeof(m) - got)) > 0)
			got += (size_t) r;
		if (got < sizeof(m)) {
			/* the parent was stopped before it told us the rest:
			 * release what it may have claimed for us, and hand
			 * those nodes back */
			azml_log_error("the parent was stopped before it handed "
				       "over every node; nodes from %s on are "
				       "handed back", jobs[i].node);
			for (int k = i; k < n; k++) {
				jobs[k].turn = AZML_TURN_ERROR;
				snprintf(jobs[k].why, sizeof(jobs[k].why), "the "
					 "program was stopped before it recorded "
					 "the node's intent");
			}
			return;
		}
		jobs[i].turn = m.turn;
		m.why[sizeof(m.why) - 1] = '\0';
		snprintf(jobs[i].why, sizeof(jobs[i].why), "%s", m.why);
	}
}

/*
 * Let slurmctld go on: fork a worker, record each node's intent in its
 * name (so that no other program ever sees a dead owner in between), hand
 * it the outcome.  Returns 1 in the parent (which must exit at once), 0 in
 * the worker, or in the only process without DETACH or when fork fails.
 */
static int _detach_and_claim(run_t *run, job_t *jobs, int n,
			     const char *state_err, bool detach)
{
	int pipefd[2];
	pid_t child;

	run->pid = getpid();
	if (!detach || pipe(pipefd)) {
		_claim(run, jobs, n, state_err);
		return 0;
	}
	if ((child = fork()) < 0) {
		azml_log_error("couldn't fork: %s; finishing in the foreground",
			       strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		_claim(run, jobs, n, state_err);
		return 0;
	}
	if (child > 0) {
		close(pipefd[0]);
		signal(SIGPIPE, SIG_IGN);	/* a worker gone: write fails */
		run->pid = child;
		_claim(run, jobs, n, state_err);
		for (int i = 0; i < n; i++) {
			claim_msg_t m = { .turn = jobs[i].turn };

			snprintf(m.why, sizeof(m.why), "%s", jobs[i].why);
			if (write(pipefd[1], &m, sizeof(m)) != sizeof(m))
				break;	/* the worker is gone */
		}
		close(pipefd[1]);
		return 1;	/* slurmctld goes on */
	}
	close(pipefd[1]);
	setsid();
	_quiet_stdio();
	run->pid = getpid();
	_read_claims(pipefd[0], jobs, n);
	close(pipefd[0]);
	return 0;
}

/* In the worker: hand back what StateDir refused, then drive the rest
 * through Azure. */
static void _work(run_t *run, job_t *jobs, int n,
		  const azml_power_env_t *env)
{
	char err[512];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!env->slurm) {	/* slurmctld itself: addresses in batches */
		azml_nodes_init();
		run->addrs = azml_addr_queue_start();
		run->ops.arg = run->addrs;
	}
	/* holds that are over */
	azml_capacity_lift_ops(&run->ops, run->conf, false, false);
	for (int i = 0; i < n; i++)
		if (!jobs[i].settled && jobs[i].turn == AZML_TURN_ERROR) {
			run->failed++;
			azml_pw_end(&jobs[i], false, "StateDir");	/* if it is ours */
			azml_pw_hand_back(&jobs[i], "StateDir", jobs[i].why);
		}
	run->arm = azml_arm_create(run->conf, NULL, err, sizeof(err));
	if (run->arm) {
		if (run->mode == AZML_POWER_RESUME) {
			azml_controller_t ctl;

			/* only targets without SlurmctldHost= need it */
			if (env->ctld)
				azml_arm_set_ctld_info(run->arm, env->ctld);
			else if (azml_controller_load(&ctl, err, sizeof(err)))
				azml_log_info("%s; VMs of targets without "
					      "SlurmctldHost= get no userData",
					      err);
			if (!env->ctld)
				azml_arm_set_ctld_info(run->arm, &ctl.info);
			azml_pw_plan_sizes(run, jobs, n);
			azml_pw_quota_check(run, jobs, n);
		}
		_drive(run, jobs, n);
		_journal_flush(run);
		return;
	}
	azml_log_error("couldn't reach Azure: %s", err);
	for (int i = 0; i < n; i++) {
		if (jobs[i].settled)
			continue;
		run->failed++;
		azml_pw_end(&jobs[i], false, "AuthenticationFailed");	/* releases it */
		azml_pw_hand_back(&jobs[i], "AuthenticationFailed", err);
	}
}

int azml_power_run(const azml_conf_t *conf, azml_power_mode_t mode,
		   const char *hostlist, const azml_power_env_t *env,
		   azml_power_report_t *out)
{
	static const azml_power_env_t none = { 0 };
	run_t run = { 0 };
	char state_err[512];
	job_t *jobs = NULL;
	int n = 0, rc = -1;
	bool state_ok;

	if (!env)
		env = &none;
	memset(out, 0, sizeof(*out));
	run.conf = conf;
	run.mode = mode;
	run.op = mode == AZML_POWER_RESUME ? AZML_OP_CREATE : AZML_OP_DELETE;

	/* 1. Every node must be a VM of ours before anything is created. */
	if (_nodes(&run, hostlist, &jobs, &n))
		goto out;
	if (mode == AZML_POWER_RESUME && env->resume_file)
		_resume_file(&run, env->resume_file);
	run.ops = env->slurm ? *env->slurm : azml_slurm_ops_default;
	run.clock = env->clock ? *env->clock : azml_pw_real_clock;
	if (!env->slurm)	/* before any Slurm RPC (StateDir's may ask one) */
		azml_nodes_init();
	if (!env->slurm)
		_mix_features(&run, jobs, n);
	state_ok = azml_state_init(conf, state_err, sizeof(state_err)) == 0;
	azml_log_info("%s %s (%d node%s)", azml_pw_mode_name(mode), hostlist,
		      n, n == 1 ? "" : "s");
	if (!state_ok)
		azml_log_error("%s", state_err);

	/* 2. Intents recorded; slurmctld goes on. */
	if (_detach_and_claim(&run, jobs, n, state_ok ? NULL : state_err,
			      env->detach)) {
		out->parent = true;
		rc = state_ok ? 0 : -1;	/* slurmctld logs a refused StateDir */
		goto out;
	}

	/* 3. The work, in the background. */
	_work(&run, jobs, n, env);
	if (azml_addr_queue_finish(run.addrs)) {
		azml_log_error("slurmctld did not take the address of some "
			       "nodes of %s (see above)", hostlist);
		out->addr_refused = 1;
	}
	out->requests = run.arm ? azml_arm_stats(run.arm)->requests : 0UL;
	azml_log_info("%s %s: %d done, %d failed, %lu requests (%d joined "
		      "another program's operation, %d replaced by a later "
		      "request)", azml_pw_mode_name(mode), hostlist, run.done,
		      run.failed, out->requests, run.joined, run.superseded);
	azml_arm_destroy(run.arm);
	out->nodes = n;
	out->done = run.done;
	out->failed = run.failed;
	out->joined = run.joined;
	out->superseded = run.superseded;
	rc = run.failed ? -1 : 0;
out:
	azml_pw_batches_free(&run);
	for (int i = 0; i < run.nrjobs; i++) {
		free(run.rjobs[i].nodes);
		free(run.rjobs[i].features);
	}
	if (run.prices_read)
		azml_prices_free(&run.prices);
	free(run.rjobs);
	free(run.resets);
	for (int i = 0; i < n; i++)
		free(jobs[i].node);
	free(jobs);
	return rc;
}

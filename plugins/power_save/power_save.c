/*
 * power_save.c - slurm-azureml-resume, -suspend and -resume-fail: the
 * programs Slurm's power saving runs (ResumeProgram, SuspendProgram,
 * ResumeFailProgram), one binary told apart by its name.
 *
 * Slurm runs them with a hostlist in argv[1], SLURM_CONF and (resume)
 * SLURM_RESUME_FILE in the environment, and nothing else: no PATH.  They
 * must not keep slurmctld waiting on Azure, so each checks its input,
 * records its intent in StateDir, then finishes in the background and tells
 * slurmctld the outcome through the Slurm API:
 *   - a VM that exists: NodeAddr/NodeHostname of its node;
 *   - a VM that cannot be had: the node is handed back at once
 *     (power_down_force, reason "azureml: <AzureCode>: <message>") so that
 *     its job is requeued now; after 3 failures in a row it is held DOWN
 *     until 'slurm-azureml reconcile' lets it go after a back-off.
 * Resume gives each VM its bootstrap settings (userData), with slurm.conf's
 * SlurmctldHost, ClusterName and the Slurm version (controller.h).
 * Resume-fail reads each VM's serial console log before deleting it, and
 * puts node-init's last failure there in the node's reason.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
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

#include "arm.h"
#include "bootdiag.h"
#include "capacity.h"
#include "conf.h"
#include "controller.h"
#include "log.h"
#include "nodes.h"
#include "quota.h"
#include "slurm_compat.h"
#include "state.h"

typedef enum { RESUME, SUSPEND, RESUME_FAIL } mode_t_;

typedef struct run run_t;

/* One node of argv[1]: its name is the only one we trust (never a tag or
 * a name in Azure's answer). */
typedef struct {
	run_t *run;
	char *node;
	azml_turn_t turn;	/* RUN, DELETE_FIRST or WAIT until settled */
	bool started, settled;
	bool boot_log_read;	/* resume-fail: the serial log was looked at */
	char why[400];		/* ERROR: what went wrong */
} job_t;

/* A job of SLURM_RESUME_FILE: which of our nodes it waits for. */
typedef struct {
	uint32_t id;
	char *nodes;		/* hostlist, as Slurm wrote it */
} rjob_t;

/* A job handed back by one of its nodes: what slurmctld must hear once it
 * has requeued it (azml_job_reschedule), until GIVE_UP. */
typedef struct {
	uint32_t id;
	bool now;		/* start it now: not 120 s later */
	bool done;
	time_t give_up;
	char note[400];
} reset_t;

struct run {
	const azml_conf_t *conf;
	mode_t_ mode;
	azml_op_t op;
	pid_t pid;		/* the program that does the work */
	azml_arm_t *arm;
	int done, failed, joined, superseded;
	azml_addr_queue_t *addrs;	/* NodeAddr updates, batched */
	rjob_t *rjobs;			/* resume: SLURM_RESUME_FILE's jobs */
	int nrjobs;
	reset_t *resets;		/* jobs to tell slurmctld about */
	int nresets;
};

static const char *_mode_name(mode_t_ m)
{
	return m == RESUME ? "resume" : m == SUSPEND ? "suspend" : "resume-fail";
}

/* What slurmctld must hear of a node whose VM cannot be had: it is handed
 * back now (its job is requeued), and held DOWN after repeated failures. */
static void _hand_back(job_t *j, const char *code, const char *msg)
{
	char reason[400];
	int count;

	if (j->run->mode != RESUME)
		return;
	count = azml_state_failure_add(j->run->conf, j->node, code);
	snprintf(reason, sizeof(reason), "azureml: %s: %.300s", code, msg);
	azml_nodes_power_down_force(j->node, reason);
	if (count >= AZML_HOLD_AFTER) {
		azml_state_held_reason(reason, sizeof(reason), count, code, msg);
		azml_nodes_down(j->node, reason);
	}
}

/* Record how J's operation ended.  False when J's node was taken over by
 * another program (this one overstayed): the outcome is not ours to tell
 * slurmctld then. */
static bool _end(job_t *j, bool ok, const char *code)
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
static int _job_of(const run_t *run, const char *node, int *from)
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
static void _reset_jobs(run_t *run, const char *node, bool now,
			const char *note)
{
	int from = 0, i;

	while ((i = _job_of(run, node, &from)) >= 0) {
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
				 .give_up = time(NULL) + RESET_WAIT };
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
		rc = azml_job_reschedule(r->id, r->now, r->note);
		if (rc == 1 && r->now)
			azml_log_info("job %u: requeued; rescheduled now rather "
				      "than in 120 s", r->id);
		if (rc == 0 && time(NULL) > r->give_up) {
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
static void _out_of_capacity(job_t *j, const char *code)
{
	run_t *run = j->run;
	const azml_target_t *t = azml_conf_target_of_node(run->conf, j->node);
	char reason[256], note[400];

	azml_capacity_hold(run->conf, t, j->node, code, reason, sizeof(reason));
	snprintf(note, sizeof(note), "azureml: %s: %s", j->node,
		 reason + strlen("azureml: "));
	_reset_jobs(run, j->node, true, note);
}

/* An address slurmctld may be given: a bare IPv4 or IPv6 address (a comma
 * or a space would shift the batched NodeAddr lists). */
static bool _ip_ok(const char *ip)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, ip, buf) == 1 ||
	       inet_pton(AF_INET6, ip, buf) == 1;
}

static void _resumed(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;

	if (r->ok && r->ip[0] && !_ip_ok(r->ip)) {
		run->failed++;
		azml_log_error("VM '%s' of node %s (op=%s): Azure gave it the "
			       "private IP address '%.64s', which is not an IP "
			       "address; the node is handed back", j->node,
			       j->node, r->op_id, r->ip);
		if (_end(j, false, "InvalidResponse"))
			_hand_back(j, "InvalidResponse", "Azure answered a private "
				   "IP address that is not one");
		return;
	}
	if (r->ok) {
		run->done++;
		azml_log_info("resume node=%s vm=%s op=%s ip=%s: ok", j->node,
			      j->node, r->op_id, r->ip);
		if (!_end(j, true, NULL))
			return;
		azml_addr_queue_push(run->addrs, j->node,
				     r->ip[0] ? r->ip : j->node, j->node);
		azml_state_failure_clear(run->conf, j->node);
		azml_state_hold_clear(run->conf,
				      azml_conf_target_of_node(run->conf, j->node));
		return;
	}
	run->failed++;
	azml_log_error("couldn't create VM '%s' for node %s (op=%s): %s: %s",
		       j->node, j->node, r->op_id, r->code, r->message);
	if (!_end(j, false, r->code))
		return;
	if (azml_capacity_code(r->code) &&
	    azml_conf_target_of_node(run->conf, j->node)->capacity_backoff > 0)
		_out_of_capacity(j, r->code);	/* CapacityBackoff=0: no hold */
	else
		_hand_back(j, r->code, r->message);
}

static void _start(job_t *j);

static void _deleted(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;
	char msg[600];

	if (j->turn == AZML_TURN_DELETE_FIRST) {
		if (r->ok) {	/* the interrupted delete is over: now create */
			azml_log_info("resume node=%s: its previous VM is deleted "
				      "(op=%s); creating a new one", j->node,
				      r->op_id);
			j->turn = AZML_TURN_RUN;
			_start(j);
			return;
		}
		run->failed++;
		azml_log_error("couldn't delete the previous VM of node %s "
			       "(op=%s): %s: %s", j->node, r->op_id, r->code,
			       r->message);
		snprintf(msg, sizeof(msg), "its previous VM could not be "
			 "deleted: %.400s", r->message);
		if (_end(j, false, r->code))
			_hand_back(j, r->code, msg);
		return;
	}
	if (r->ok) {
		azml_hold_t h;

		run->done++;
		azml_log_info("%s node=%s vm=%s op=%s: deleted",
			      _mode_name(run->mode), j->node, j->node, r->op_id);
		/* back to its own name until the next VM */
		if (_end(j, true, NULL))
			azml_addr_queue_push(run->addrs, j->node, j->node,
					     j->node);
		/* slurmctld clears DRAIN when it powers a node down: a node
		 * of a held target is drained again */
		if (azml_state_hold_get(run->conf, azml_conf_target_of_node(
					run->conf, j->node), &h) == 1)
			azml_capacity_drain(j->node, &h);
		return;
	}
	run->failed++;
	azml_log_error("couldn't delete VM '%s' (op=%s): %s: %s; "
		       "'slurm-azureml reconcile' will retry", j->node,
		       r->op_id, r->code, r->message);
	_end(j, false, r->code);
}

/* Resume-fail: why the VM never registered, from its serial console log,
 * as the node's reason (Slurm set it DOWN at ResumeTimeout; it stays DOWN,
 * with node-init's reason instead of "ResumeTimeout reached").  Then the
 * delete, whatever the log said. */
static void _boot_logged(void *arg, const char *log, size_t len,
			 const azml_vm_result_t *err)
{
	job_t *j = arg;
	char reason[AZML_BOOTDIAG_REASON_MAX + 1];

	j->boot_log_read = true;
	if (err)
		azml_log_info("resume-fail node=%s vm=%s: no serial console log "
			      "(%s: %s); keeping Slurm's reason", j->node,
			      j->node, err->code, err->message);
	else if (!azml_bootdiag_reason(log, len, reason, sizeof(reason)))
		azml_log_info("resume-fail node=%s vm=%s: the serial console log "
			      "(%zu bytes read) has no node-init failure", j->node,
			      j->node, len);
	else {
		azml_log_error("resume-fail node=%s vm=%s: %s", j->node, j->node,
			       reason);
		azml_nodes_down(j->node, reason);
	}
	azml_arm_vm_delete(j->run->arm, j->node, _deleted, j);
}

static void _start(job_t *j)
{
	run_t *run = j->run;

	if (run->mode == RESUME_FAIL && j->turn == AZML_TURN_RUN &&
	    !j->boot_log_read) {
		j->started = true;
		azml_arm_vm_boot_log(run->arm, j->node, _boot_logged, j);
		return;
	}
	j->started = true;
	if (run->op == AZML_OP_CREATE && j->turn == AZML_TURN_RUN) {
		const azml_target_t *t = azml_conf_target_of_node(run->conf,
								  j->node);
		azml_hold_t h;

		if (azml_state_hold_get(run->conf, t, &h) == 1) {
			/* its target is out of capacity: no write */
			char reason[256];

			run->failed++;
			azml_state_hold_reason(reason, sizeof(reason), &h);
			azml_log_error("node %s: not creating its VM: %s", j->node,
				       reason);
			if (_end(j, false, h.code)) {
				azml_capacity_refuse(j->node, &h);
				_reset_jobs(run, j->node, true, reason);
			}
			return;
		}
		azml_arm_vm_create(run->arm, t, j->node, _resumed, j);
	} else
		azml_arm_vm_delete(run->arm, j->node, _deleted, j);
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
		_hand_back(j, info.code[0] ? info.code : "DeleteFailed", msg);
		j->settled = true;
		return true;
	case AZML_TURN_ERROR:
	default:
		run->failed++;
		azml_log_error("node %s: %s", j->node, err);
		_hand_back(j, "StateDir", err);
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
			_start(j);
	}
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
	time_t give_up = time(NULL) + AZML_INTENT_TTL + 60;

	azml_arm_set_tick(run->arm, _tick, &d, 0.5);
	for (int i = 0; i < n; i++)
		if (!jobs[i].settled && !jobs[i].started &&
		    jobs[i].turn != AZML_TURN_WAIT)
			_start(&jobs[i]);
	for (;;) {
		azml_arm_run(run->arm);
		if (!_waiting(&d))
			break;
		if (time(NULL) > give_up) {
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
				_hand_back(&jobs[i], "Timeout", "the operation "
					   "before this one never ended");
				jobs[i].settled = true;
			}
			break;
		}
		usleep(500 * 1000);
		_tick(&d);
	}
	azml_arm_set_tick(run->arm, NULL, NULL, 0);
	/* the jobs handed back: told once slurmctld has requeued them */
	while (_resets_tick(run))
		usleep(500 * 1000);
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

		if (!cJSON_IsString(nodes))
			nodes = cJSON_GetObjectItem(job, "nodes");

		if (!cJSON_IsNumber(id) || !cJSON_IsString(nodes) ||
		    id->valuedouble < 1 || id->valuedouble > UINT32_MAX ||
		    !run->rjobs || run->nrjobs >= RESUME_JOBS_MAX)
			continue;
		azml_log_info("job %.0f wants %.200s", id->valuedouble,
			      nodes->valuestring);
		run->rjobs[run->nrjobs].id = (uint32_t) id->valuedouble;
		if ((run->rjobs[run->nrjobs].nodes = strdup(nodes->valuestring)))
			run->nrjobs++;
	}
out:
	cJSON_Delete(j);
	free(buf);
	fclose(fp);
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
	if (!_end(j, false, "QuotaExceeded"))
		return;
	_hand_back(j, "QuotaExceeded", msg);
	snprintf(note, sizeof(note), "azureml: QuotaExceeded: %.360s", msg);
	_reset_jobs(j->run, j->node, false, note);
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
static void _quota_check(run_t *run, job_t *jobs, int n)
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
		(*jobs)[(*n)++] = (job_t) { .run = run, .node = host };
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
 * it the outcome, and exit.  Returns in the worker, or in the only process
 * when AZUREML_FOREGROUND is set or fork fails.
 */
static void _detach_and_claim(run_t *run, job_t *jobs, int n,
			      const char *state_err)
{
	int pipefd[2];
	pid_t child;

	run->pid = getpid();
	if (getenv("AZUREML_FOREGROUND") || pipe(pipefd)) {
		_claim(run, jobs, n, state_err);
		return;
	}
	if ((child = fork()) < 0) {
		azml_log_error("couldn't fork: %s; finishing in the foreground",
			       strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		_claim(run, jobs, n, state_err);
		return;
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
		_exit(0);	/* slurmctld goes on */
	}
	close(pipefd[1]);
	setsid();
	_quiet_stdio();
	run->pid = getpid();
	_read_claims(pipefd[0], jobs, n);
	close(pipefd[0]);
}

/* In the worker: hand back what StateDir refused, then drive the rest
 * through Azure. */
static void _work(run_t *run, job_t *jobs, int n)
{
	char err[512];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	azml_capacity_lift(run->conf, false, false);	/* holds that are over */
	run->addrs = azml_addr_queue_start();
	for (int i = 0; i < n; i++)
		if (!jobs[i].settled && jobs[i].turn == AZML_TURN_ERROR) {
			run->failed++;
			_end(&jobs[i], false, "StateDir");	/* if it is ours */
			_hand_back(&jobs[i], "StateDir", jobs[i].why);
		}
	run->arm = azml_arm_create(run->conf, NULL, err, sizeof(err));
	if (run->arm) {
		if (run->mode == RESUME) {
			azml_controller_t ctl;

			/* only targets without SlurmctldHost= need it */
			if (azml_controller_load(&ctl, err, sizeof(err)))
				azml_log_info("%s; VMs of targets without "
					      "SlurmctldHost= get no userData",
					      err);
			azml_arm_set_ctld_info(run->arm, &ctl.info);
			_quota_check(run, jobs, n);
		}
		_drive(run, jobs, n);
		return;
	}
	azml_log_error("couldn't reach Azure: %s", err);
	for (int i = 0; i < n; i++) {
		if (jobs[i].settled)
			continue;
		run->failed++;
		_end(&jobs[i], false, "AuthenticationFailed");	/* releases it */
		_hand_back(&jobs[i], "AuthenticationFailed", err);
	}
}

int main(int argc, char **argv)
{
	char *prog = basename(argv[0]);
	mode_t_ mode = strstr(prog, "resume-fail") ? RESUME_FAIL :
		       strstr(prog, "suspend") ? SUSPEND : RESUME;
	azml_conf_t *conf;
	run_t run = { 0 };
	char state_err[512];
	job_t *jobs = NULL;
	int n = 0, rc = 1, fd;
	bool state_ok;

	/* slurmctld may start us with 0-2 closed: keep files we open off them */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);

	azml_log_init(AZML_LOG_SYSLOG, prog, AZML_LOG_INFO);
	azml_log_also_stderr(1);
	if (argc != 2 || !argv[1][0]) {
		azml_log_error("usage: %s HOSTLIST (Slurm's power saving runs "
			       "this program)", prog);
		return 2;
	}
	conf = azml_conf_load(NULL);
	if (!conf || conf->nerrors) {
		for (size_t i = 0; conf && i < conf->nerrors; i++)
			azml_log_error("%s", conf->errors[i]);
		azml_log_error("nothing done for %s: azureml.conf is not usable",
			       argv[1]);
		azml_conf_destroy(conf);
		return 1;
	}
	if (conf->log_file && azml_log_add_file(conf->log_file))
		azml_log_error("couldn't open LogFile %s: %s", conf->log_file,
			       strerror(errno));
	run.conf = conf;
	run.mode = mode;
	run.op = mode == RESUME ? AZML_OP_CREATE : AZML_OP_DELETE;

	/* 1. Every node must be a VM of ours before anything is created. */
	if (_nodes(&run, argv[1], &jobs, &n))
		goto out;
	if (mode == RESUME && getenv("SLURM_RESUME_FILE"))
		_resume_file(&run, getenv("SLURM_RESUME_FILE"));
	azml_nodes_init();	/* before any Slurm RPC (StateDir's may ask one) */
	state_ok = azml_state_init(conf, state_err, sizeof(state_err)) == 0;
	azml_log_info("%s %s (%d node%s)", _mode_name(mode), argv[1], n,
		      n == 1 ? "" : "s");
	if (!state_ok)
		azml_log_error("%s", state_err);

	/* 2. Intents recorded; slurmctld goes on. */
	_detach_and_claim(&run, jobs, n, state_ok ? NULL : state_err);

	/* 3. The work, in the background. */
	_work(&run, jobs, n);
	if (azml_addr_queue_finish(run.addrs))
		azml_log_error("slurmctld did not take the address of some "
			       "nodes of %s (see above)", argv[1]);
	azml_log_info("%s %s: %d done, %d failed, %lu requests (%d joined "
		      "another program's operation, %d replaced by a later "
		      "request)", _mode_name(mode), argv[1], run.done, run.failed,
		      run.arm ? azml_arm_stats(run.arm)->requests : 0UL,
		      run.joined, run.superseded);
	azml_arm_destroy(run.arm);
	rc = run.failed ? 1 : 0;
out:
	for (int i = 0; i < run.nrjobs; i++)
		free(run.rjobs[i].nodes);
	free(run.rjobs);
	free(run.resets);
	for (int i = 0; i < n; i++)
		free(jobs[i].node);
	free(jobs);
	azml_conf_destroy(conf);
	azml_log_fini();
	return rc;
}

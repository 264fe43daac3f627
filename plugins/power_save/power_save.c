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
	const azml_target_t *t;	/* its compute target */
	char vm[80];		/* its VM's name: the node's, or in a scale set
				 * Azure's (StateDir's pairing), "" for none */
	azml_turn_t turn;	/* RUN, DELETE_FIRST or WAIT until settled */
	bool started, settled;
	bool nic_asked;		/* a scale set's VM: its IP asked for */
	bool boot_log_read;	/* resume-fail: the serial log was looked at */
	bool in_batch;		/* its VM is in its set's batched delete */
	bool bad_vm;		/* its set's VM cannot be paired: fail it */
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
	struct batch *batches;		/* scale sets: one write for many */
	bool pairs_later;		/* _deleted: the caller drops them */
	azml_jrec_t *jr;		/* lifecycle records, written at the end */
	size_t njr, capjr;
};

/* Nodes of one scale set that one write grows or shrinks. */
typedef struct batch {
	run_t *run;
	const azml_target_t *t;
	char set[80];
	bool grow;		/* resume; else a batched delete */
	bool sent;
	job_t **jobs;
	int n;
	int tries;		/* writes refused for a stale etag */
	bool op_ok;		/* the write's operation ended well */
	char code[64], msg[512];
	int claimed;		/* jobs that have a VM */
	int nics;		/* NIC answers still awaited */
	struct nic **nic_list;	/* ... and what they answered */
	int nnics;
	time_t relist_at, relist_until;	/* short of VMs: look again */
	struct batch *next;
} batch_t;

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

/* A lifecycle record of VM (R: Azure's view of it, or NULL) for NODE of
 * T, kept for _journal_flush(). */
static void _journal(run_t *run, azml_jkind_t kind, long at, const char *vm,
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
		if (nn < 0 && (nn = azml_nodes_load(&nodes)) < 0)
			break;
		for (int k = 0; k < nn; k++)
			if (!strcmp(nodes[k].name, x->node) &&
			    nodes[k].slurmd_start > 0 &&
			    nodes[k].slurmd_start <= x->at) {
				char vm[AZML_JNAME], node[AZML_JNAME];

				memcpy(vm, x->vm, sizeof(vm));
				memcpy(node, x->node, sizeof(node));
				_journal(run, AZML_J_REGISTERED,
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
		_journal(run, AZML_J_CREATED, r->created > 0 ? r->created :
			 (long) time(NULL), j->node, r, j->node, j->t);
		_journal(run, AZML_J_RUNNING, (long) time(NULL), j->node, r,
			 j->node, j->t);
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

static bool _in_set(const job_t *j)
{
	return j->t && j->t->kind == AZML_CLUSTER &&
	       j->t->provisioning == AZML_PROV_SCALE_SET;
}

/* J's scale set into SET, or NULL for a node whose VM is its own. */
static const char *_set_of(const job_t *j, char *set, size_t n)
{
	return _in_set(j) ? azml_conf_scale_set_name(j->run->conf, j->t, set,
						     n) : NULL;
}

/* J's VM name into j->vm: the node's own, or the VM of its set StateDir
 * pairs it with ("" when it has none: nothing to delete). */
static void _vm_of(job_t *j)
{
	char set[80];
	azml_pair_t p;

	if (!_in_set(j)) {
		snprintf(j->vm, sizeof(j->vm), "%s", j->node);
		return;
	}
	azml_conf_scale_set_name(j->run->conf, j->t, set, sizeof(set));
	j->vm[0] = '\0';
	if (azml_state_pair_get(j->run->conf, set, j->node, &p) == 1)
		snprintf(j->vm, sizeof(j->vm), "%s", p.vm);
}

static void _deleted(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;
	char msg[600];

	if (j->turn == AZML_TURN_DELETE_FIRST) {
		if (r->ok) {	/* the interrupted delete is over: now create */
			_journal(run, AZML_J_DELETED, (long) time(NULL), j->node,
				 NULL, j->node, NULL);
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
			      _mode_name(run->mode), j->node, j->vm, r->op_id);
		_journal(run, AZML_J_DELETED, (long) time(NULL), j->vm, NULL,
			 j->node, NULL);
		if (_in_set(j) && !run->pairs_later) {
			char set[80];

			azml_state_pair_drop(run->conf, azml_conf_scale_set_name(
					     run->conf, j->t, set, sizeof(set)),
					     j->node);
		}
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
	if (!strcmp(r->code, "NotOurVM"))
		azml_log_error("%s node=%s: refusing to delete VM '%s': %s; "
			       "nothing deleted", _mode_name(run->mode),
			       j->node, j->vm, r->message);
	else
		azml_log_error("couldn't delete VM '%s' (op=%s): %s: %s; "
			       "'slurm-azureml reconcile' will retry", j->vm,
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
	/* ours: _checked() saw it */
	azml_arm_vm_delete(j->run->arm, j->vm, _deleted, j);
}

/* Resume-fail: the VM's own answer says whether it is ours to read and
 * delete (one GET: the boot log and the delete follow). */
static void _checked(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	char set[80];
	azml_vm_result_t res = *r;

	if (!r->ok && r->http_status == 404) {	/* gone: nothing to delete */
		res.ok = true;
		_deleted(j, &res);
		return;
	}
	if (r->ok && !azml_arm_vm_ours(j->run->conf, r, _set_of(j, set,
				       sizeof(set)), res.message,
				       sizeof(res.message))) {
		res.ok = false;
		snprintf(res.code, sizeof(res.code), "NotOurVM");
	}
	if (!res.ok) {
		_deleted(j, &res);
		return;
	}
	azml_arm_vm_boot_log(j->run->arm, j->vm, _boot_logged, j);
}

/* ---- scale sets (Provisioning=ScaleSet): one write for many nodes ---- */

#define BATCH_TRIES 20		/* writes refused for a stale etag */
#define RELIST_FOR 60		/* s to look again for VMs a good write made */

static void _batch_send(batch_t *b);

/* J joins the open batch of its set (created, or deleted when !GROW). */
static void _batch_add(run_t *run, job_t *j, bool grow)
{
	batch_t *b;
	job_t **more;

	for (b = run->batches; b; b = b->next)
		if (!b->sent && b->t == j->t && b->grow == grow &&
		    b->n < AZML_ARM_VMSS_BATCH)
			break;
	if (!b) {
		if (!(b = calloc(1, sizeof(*b))))
			abort();
		b->run = run;
		b->t = j->t;
		b->grow = grow;
		azml_conf_scale_set_name(run->conf, j->t, b->set, sizeof(b->set));
		b->next = run->batches;
		run->batches = b;
	}
	if (!(more = realloc(b->jobs, (b->n + 1) * sizeof(*more))))
		abort();
	b->jobs = more;
	b->jobs[b->n++] = j;
}

/* Send every batch filled since the last call. */
static void _batches_flush(run_t *run)
{
	for (batch_t *b = run->batches; b; b = b->next)
		if (!b->sent && b->n) {
			b->sent = true;
			_batch_send(b);
		}
}

/* A node of B that got no VM: handed back with Azure's code. */
static void _set_failed(job_t *j, const char *code, const char *msg)
{
	run_t *run = j->run;

	run->failed++;
	azml_log_error("no VM of scale set for node %s: %s: %s", j->node, code,
		       msg);
	if (!_end(j, false, code))
		return;
	if (azml_capacity_code(code) && j->t->capacity_backoff > 0)
		_out_of_capacity(j, code);
	else
		_hand_back(j, code, msg);
}

/* Every node of B still without a VM fails with CODE. */
static void _batch_fail(batch_t *b, const char *code, const char *msg)
{
	for (int i = 0; i < b->n; i++)
		if (!b->jobs[i]->settled && !b->jobs[i]->vm[0])
			_set_failed(b->jobs[i], code, msg);
}

typedef struct {
	batch_t *b;
	const azml_vm_result_t *vms;
	size_t nvms;
} claim_t;

/* Under StateDir's lock: give each node of B without a VM one of the set's
 * running VMs that no node has (ours: azml_arm_vm_ours).  A VM whose
 * computerName cannot be a host name is given to no node: the node it
 * would have had fails (bad_vm, why), after the lock. */
static int _claim_vms(void *arg, azml_pair_t **p, size_t *n)
{
	claim_t *c = arg;
	batch_t *b = c->b;
	int next = 0, added = 0;

	for (size_t v = 0; v < c->nvms; v++) {
		const azml_vm_result_t *vm = &c->vms[v];
		azml_pair_t *more;
		bool taken = false;

		azml_pair_t one;
		char why[512];

		if (strcasecmp(vm->scale_set, b->set) ||
		    strcasecmp(vm->provisioning, "Succeeded") ||
		    !azml_arm_resource_name_ok(vm->name))
			continue;
		if (!azml_arm_vm_ours(b->run->conf, vm, b->set, why,
				      sizeof(why))) {
			azml_log_error("scale set %s: not pairing a VM: %s",
				       b->set, why);
			continue;
		}
		for (size_t k = 0; k < *n && !taken; k++)
			taken = !strcmp((*p)[k].vm, vm->name);
		if (taken)
			continue;
		while (next < b->n && (b->jobs[next]->settled ||
				       b->jobs[next]->vm[0] ||
				       b->jobs[next]->bad_vm))
			next++;
		if (next >= b->n)
			break;
		memset(&one, 0, sizeof(one));
		snprintf(one.vm, sizeof(one.vm), "%s", vm->name);
		snprintf(one.node, sizeof(one.node), "%s", b->jobs[next]->node);
		snprintf(one.computer, sizeof(one.computer), "%.71s",
			 vm->computer[0] ? vm->computer : vm->name);
		one.since = time(NULL);
		if (!azml_state_pair_ok(&one)) {
			char comp[300];

			/* its pairing could not be recorded, nor its node
			 * found by its host name */
			b->jobs[next]->bad_vm = true;
			snprintf(b->jobs[next]->why, sizeof(b->jobs[next]->why),
				 "Azure gave VM '%s' of scale set %s the "
				 "computerName '%s', which is not a host name",
				 vm->name, b->set, azml_escape(vm->computer,
				 comp, sizeof(comp)));
			continue;
		}
		if (!(more = realloc(*p, (*n + 1) * sizeof(**p))))
			break;
		*p = more;
		(*p)[*n] = one;
		(*n)++;
		snprintf(b->jobs[next]->vm, sizeof(b->jobs[next]->vm), "%s",
			 vm->name);
		_journal(b->run, AZML_J_CREATED, vm->created > 0 ? vm->created :
			 (long) time(NULL), vm->name, vm, b->jobs[next]->node,
			 b->t);
		_journal(b->run, AZML_J_RUNNING, (long) time(NULL), vm->name, vm,
			 b->jobs[next]->node, b->t);
		/* the NIC's name, for its IP: Azure's, else the usual */
		snprintf(b->jobs[next]->why, sizeof(b->jobs[next]->why), "%s",
			 vm->nic);
		added++;
	}
	b->claimed += added;
	return added ? 1 : 0;
}

typedef struct nic {
	batch_t *b;
	job_t *j;
	char computer[72];
	char ip[64];
} nic_t;

/* Under StateDir's lock: each paired node's IP. */
static int _pairs_ip(void *arg, azml_pair_t **p, size_t *n)
{
	nic_t **ns = arg;

	for (int i = 0; ns[i]; i++)
		for (size_t k = 0; k < *n; k++)
			if (!strcmp((*p)[k].node, ns[i]->j->node) &&
			    !strcmp((*p)[k].vm, ns[i]->j->vm)) {
				snprintf((*p)[k].ip, sizeof((*p)[k].ip), "%s",
					 ns[i]->ip[0] ? ns[i]->ip : "0.0.0.0");
				snprintf(ns[i]->computer, sizeof(ns[i]->computer),
					 "%s", (*p)[k].computer);
			}
	return 1;
}

/* Every NIC answered: one StateDir write, then each node's NodeAddr and
 * NodeHostname (node-init on the VM finds its node by them). */
static void _batch_paired(batch_t *b)
{
	run_t *run = b->run;

	azml_state_pairs(run->conf, b->set, _pairs_ip, b->nic_list);
	for (int i = 0; i < b->nnics; i++) {
		nic_t *x = b->nic_list[i];
		job_t *j = x->j;

		if (x->ip[0] && _end(j, true, NULL)) {
			run->done++;
			azml_log_info("resume node=%s vm=%s set=%s host=%s ip=%s: "
				      "ok", j->node, j->vm, b->set, x->computer,
				      x->ip);
			azml_addr_queue_push(run->addrs, j->node, x->ip,
					     x->computer);
			azml_state_failure_clear(run->conf, j->node);
			azml_state_hold_clear(run->conf, j->t);
		} else if (!x->ip[0]) {
			_set_failed(j, "InvalidResponse", "Azure gave its VM "
				    "no private IP address");
		}
		free(x);
	}
	free(b->nic_list);
	b->nic_list = NULL;
	b->nnics = 0;
}

static void _nic_answered(void *arg, const azml_vm_result_t *r)
{
	nic_t *x = arg;

	if (r->ok && r->ip[0] && _ip_ok(r->ip))
		snprintf(x->ip, sizeof(x->ip), "%s", r->ip);
	else
		azml_log_error("node %s: couldn't read the IP of VM %s: %s: %s",
			       x->j->node, x->j->vm, r->ok ? "InvalidResponse" :
			       r->code, r->ok ? "no IP address" : r->message);
	if (--x->b->nics == 0)
		_batch_paired(x->b);
}

static void _vms_listed(void *arg, const azml_vm_result_t *vms, size_t n,
			const azml_vm_result_t *err)
{
	batch_t *b = arg;
	claim_t c = { b, vms, n };
	int before = b->claimed, left = 0;

	if (err) {
		azml_log_error("couldn't list the VMs of scale set %s: %s: %s",
			       b->set, err->code, err->message);
		_batch_fail(b, err->code, err->message);
		return;
	}
	if (azml_state_pairs(b->run->conf, b->set, _claim_vms, &c)) {
		_batch_fail(b, "StateDir", "couldn't record which VM each node "
			    "has (see the log)");
		return;
	}
	for (int i = 0; i < b->n; i++)
		if (b->jobs[i]->bad_vm && !b->jobs[i]->settled)
			_set_failed(b->jobs[i], "InvalidResponse",
				    b->jobs[i]->why);
	/* the IPs of the VMs just paired, all at once */
	if (b->claimed > before && !b->nic_list) {
		if (!(b->nic_list = calloc(b->claimed - before + 1,
					   sizeof(*b->nic_list))))
			abort();
		for (int i = 0; i < b->n; i++) {
			job_t *j = b->jobs[i];
			nic_t *x;

			if (j->settled || !j->vm[0] || j->nic_asked)
				continue;
			j->nic_asked = true;
			if (!(x = calloc(1, sizeof(*x))))
				abort();
			x->b = b;
			x->j = j;
			b->nic_list[b->nnics++] = x;
		}
		b->nics = b->nnics;
		for (int i = 0, m = b->nnics; i < m; i++) {
			char nic[96];
			job_t *j = b->nic_list[i]->j;

			snprintf(nic, sizeof(nic), "%.95s", j->why);
			if (!nic[0])
				snprintf(nic, sizeof(nic), "%.80s-nic", j->vm);
			j->why[0] = '\0';
			azml_arm_nic_ip(b->run->arm, j->vm, nic, _nic_answered,
					b->nic_list[i]);
		}
	}
	for (int i = 0; i < b->n; i++)
		left += !b->jobs[i]->settled && !b->jobs[i]->vm[0];
	if (!left)
		return;
	if (!b->op_ok) {
		_batch_fail(b, b->code, b->msg);
		return;
	}
	/* a good write, and fewer VMs than nodes: another program's nodes
	 * took some of ours (theirs come soon), or Azure is slow to list */
	if (!b->relist_until)
		b->relist_until = time(NULL) + RELIST_FOR;
	if (time(NULL) > b->relist_until) {
		_batch_fail(b, "ScaleSetVMsMissing", "the scale set grew, but "
			    "not every new VM was listed within 60 s");
		return;
	}
	b->relist_at = time(NULL) + 2;
}

/* The write ended: see which VMs the set has now. */
static void _scaled(void *arg, const azml_vm_result_t *r)
{
	batch_t *b = arg;

	if (!r->ok && r->http_status == 412 && b->tries++ < BATCH_TRIES) {
		azml_log_info("scale set %s changed since it was read (%s); "
			      "reading it again", b->set, r->code);
		_batch_send(b);
		return;
	}
	b->op_ok = r->ok;
	snprintf(b->code, sizeof(b->code), "%s", r->ok ? "" : r->code);
	snprintf(b->msg, sizeof(b->msg), "%s", r->ok ? "" : r->message);
	if (r->ok)
		azml_log_info("scale set %s: +%d VMs (op=%s)", b->set, b->n,
			      r->op_id);
	else
		azml_log_error("scale set %s: growing by %d failed (op=%s): "
			       "%s: %s; the VMs it made are used", b->set, b->n,
			       r->op_id, r->code, r->message);
	azml_arm_vmss_vms(b->run->arm, b->set, _vms_listed, b);
}

/* The set as it is: created with our nodes, or grown by them. */
static void _set_read(void *arg, const azml_vm_result_t *r)
{
	batch_t *b = arg;
	int want = 0;

	for (int i = 0; i < b->n; i++)
		want += !b->jobs[i]->settled;
	if (!want)
		return;
	if (!r->ok && r->http_status == 404) {
		azml_log_info("scale set %s: creating it with %d VMs", b->set,
			      want);
		azml_arm_vmss_create(b->run->arm, b->t, b->set, want, _scaled, b);
		return;
	}
	if (!r->ok) {
		azml_log_error("couldn't read scale set %s: %s: %s", b->set,
			       r->code, r->message);
		_batch_fail(b, r->code, r->message);
		return;
	}
	if (r->capacity < 0 || !r->etag[0]) {
		_batch_fail(b, "InvalidResponse", "the scale set's answer has no "
			    "sku.capacity or etag");
		return;
	}
	if (r->capacity + want > AZML_SCALE_SET_MAX) {
		char msg[200];

		snprintf(msg, sizeof(msg), "scale set %s has %ld VMs; %d more "
			 "would pass Azure's %d", b->set, r->capacity, want,
			 AZML_SCALE_SET_MAX);
		_batch_fail(b, "ScaleSetFull", msg);
		return;
	}
	azml_arm_vmss_scale(b->run->arm, b->set, r->capacity + want, r->etag,
			    _scaled, b);
}

/* ---- shrinking: one batched delete of exactly these nodes' VMs ---- */

typedef struct {
	batch_t *b;
	bool drop;		/* forget the pairs of B's deleted nodes */
} pairs_of_t;

static int _pairs_of(void *arg, azml_pair_t **p, size_t *n)
{
	pairs_of_t *q = arg;
	batch_t *b = q->b;
	int changed = 0;

	for (int i = 0; i < b->n; i++) {
		job_t *j = b->jobs[i];

		for (size_t k = 0; k < *n; k++) {
			if (strcmp((*p)[k].node, j->node))
				continue;
			if (!q->drop) {
				snprintf(j->vm, sizeof(j->vm), "%s", (*p)[k].vm);
			} else if (j->settled && j->in_batch &&
				   !strcmp((*p)[k].vm, j->vm)) {
				(*p)[k--] = (*p)[--*n];
				changed = 1;
			}
			break;
		}
	}
	return changed;
}

static void _shrunk(void *arg, const azml_vm_result_t *r)
{
	batch_t *b = arg;
	run_t *run = b->run;
	pairs_of_t q = { b, true };
	int ours = 0;

	for (int i = 0; i < b->n; i++)
		ours += !b->jobs[i]->settled && b->jobs[i]->in_batch;
	if (!r->ok) {
		/* e.g. one of them is gone already: one by one (404 is done) */
		azml_log_error("scale set %s: the batched delete of %d VMs "
			       "failed (op=%s): %s: %s; deleting them one by one",
			       b->set, ours, r->op_id, r->code, r->message);
		for (int i = 0; i < b->n; i++)	/* seen ours in the listing */
			if (!b->jobs[i]->settled && b->jobs[i]->in_batch)
				azml_arm_vm_delete(run->arm, b->jobs[i]->vm,
						   _deleted, b->jobs[i]);
		return;
	}
	azml_log_info("scale set %s: %d VMs deleted in one request (op=%s)",
		      b->set, ours, r->op_id);
	for (int i = 0; i < b->n; i++) {
		job_t *j = b->jobs[i];
		azml_vm_result_t ok = { .ok = true };

		if (j->settled || !j->in_batch)
			continue;
		snprintf(ok.op_id, sizeof(ok.op_id), "%s", r->op_id);
		run->pairs_later = true;
		_deleted(j, &ok);	/* settles it; the pairs go below */
		run->pairs_later = false;
	}
	azml_state_pairs(run->conf, b->set, _pairs_of, &q);
}

/*
 * The set's listing, before its batched delete: each paired VM must be
 * listed as ours (azml_arm_vm_ours: its own set id, our cluster tag); one
 * that is not is left alone, one not listed is read and deleted alone
 * (gone: done), and the rest go in one request.
 */
static void _shrink_listed(void *arg, const azml_vm_result_t *vms, size_t n,
			   const azml_vm_result_t *err)
{
	batch_t *b = arg;
	run_t *run = b->run;
	const char **del;
	int k = 0;

	if (err)
		azml_log_error("couldn't list the VMs of scale set %s: %s: %s; "
			       "reading each VM before its delete", b->set,
			       err->code, err->message);
	if (!(del = calloc(b->n + 1, sizeof(*del))))
		abort();
	for (int i = 0; i < b->n; i++) {
		job_t *j = b->jobs[i];
		const azml_vm_result_t *vm = NULL;
		azml_vm_result_t no = { .ok = false };

		if (j->settled || !j->vm[0])
			continue;
		for (size_t v = 0; v < n && !vm; v++)
			if (!strcasecmp(vms[v].name, j->vm))
				vm = &vms[v];
		if (!vm) {
			azml_arm_vm_delete_ours(run->arm, j->vm, b->set,
						_deleted, j);
			continue;
		}
		if (!azml_arm_vm_ours(run->conf, vm, b->set, no.message,
				      sizeof(no.message))) {
			snprintf(no.code, sizeof(no.code), "NotOurVM");
			_deleted(j, &no);
			continue;
		}
		j->in_batch = true;
		del[k++] = j->vm;
	}
	/* at most AZML_ARM_VMSS_BATCH a batch (_batch_add) */
	if (k)
		azml_arm_vmss_delete_vms(run->arm, b->set, del, k, _shrunk, b);
	free(del);
}

static void _batch_send(batch_t *b)
{
	run_t *run = b->run;
	pairs_of_t q = { b, false };
	int k = 0;

	if (b->grow) {
		azml_arm_vmss_get(run->arm, b->set, _set_read, b);
		return;
	}
	azml_state_pairs(run->conf, b->set, _pairs_of, &q);
	for (int i = 0; i < b->n; i++) {
		job_t *j = b->jobs[i];

		if (j->settled)
			continue;
		if (!j->vm[0]) {	/* no VM: nothing to delete */
			azml_vm_result_t ok = { .ok = true };

			_deleted(j, &ok);
			continue;
		}
		k++;
	}
	if (k)	/* one listing says which are ours */
		azml_arm_vmss_vms(run->arm, b->set, _shrink_listed, b);
}

/* Look again, from the tick, for VMs of good writes not listed yet. */
static void _batches_tick(run_t *run)
{
	for (batch_t *b = run->batches; b; b = b->next)
		if (b->grow && b->relist_at && time(NULL) >= b->relist_at) {
			b->relist_at = 0;
			azml_arm_vmss_vms(run->arm, b->set, _vms_listed, b);
		}
}

/* Batches that will look again for their VMs. */
static bool _batches_pending(const run_t *run)
{
	for (const batch_t *b = run->batches; b; b = b->next)
		if (b->relist_at)
			return true;
	return false;
}

static void _batches_free(run_t *run)
{
	while (run->batches) {
		batch_t *b = run->batches;

		run->batches = b->next;
		free(b->jobs);
		free(b->nic_list);
		free(b);
	}
}

static void _start(job_t *j)
{
	run_t *run = j->run;

	if (run->mode == RESUME_FAIL && j->turn == AZML_TURN_RUN &&
	    !j->boot_log_read) {
		j->started = true;
		_vm_of(j);
		if (!j->vm[0]) {	/* a set's node with no VM */
			azml_vm_result_t ok = { .ok = true };

			_deleted(j, &ok);
			return;
		}
		azml_arm_vm_get(run->arm, j->vm, _checked, j);
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
			if (_end(j, false, h.code)) {
				azml_capacity_refuse(j->node, &h);
				_reset_jobs(run, j->node, true, reason);
			}
			return;
		}
		if (_in_set(j)) {
			j->vm[0] = '\0';
			_batch_add(run, j, true);
			return;
		}
		snprintf(j->vm, sizeof(j->vm), "%s", j->node);
		azml_arm_vm_create(run->arm, t, j->node, _resumed, j);
		return;
	}
	if (_in_set(j) && run->mode == SUSPEND) {
		_batch_add(run, j, false);
		return;
	}
	_vm_of(j);
	if (!j->vm[0]) {	/* a set's node with no VM: nothing to delete */
		azml_vm_result_t ok = { .ok = true };

		_deleted(j, &ok);
		return;
	}
	{
		char set[80];

		azml_arm_vm_delete_ours(run->arm, j->vm, _set_of(j, set,
					sizeof(set)), _deleted, j);
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
	_batches_flush(d->run);
	_batches_tick(d->run);
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
	_batches_flush(run);
	for (;;) {
		azml_arm_run(run->arm);
		if (!_waiting(&d) && !_batches_pending(run))
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
		(*jobs)[(*n)++] = (job_t) { .run = run, .node = host, .t = t };
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
		_journal_flush(run);
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
	if (conf->log_file &&
	    azml_log_add_file(conf->log_file, state_err, sizeof(state_err)))
		azml_log_error("LogFile=%s: %s", conf->log_file, state_err);
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
	_batches_free(&run);
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

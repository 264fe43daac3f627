/*
 * vmss_batch.c - the power-save engine's scale sets (Provisioning=ScaleSet,
 * power.h): one write grows a set for many nodes, each new VM paired with
 * a node in StateDir; one batched delete shrinks it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "capacity.h"
#include "log.h"
#include "power_int.h"
#include "slurm_compat.h"

/* ---- scale sets (Provisioning=ScaleSet): one write for many nodes ---- */

#define BATCH_TRIES 20		/* writes refused for a stale etag */
#define RELIST_FOR 60		/* s to look again for VMs a good write made */

static void _batch_send(batch_t *b);

/* J joins the open batch of its set (created, or deleted when !GROW). */
int azml_pw_batch_add(run_t *run, job_t *j, bool grow)
{
	batch_t *b;
	job_t **more;

	for (b = run->batches; b; b = b->next)
		if (!b->sent && b->t == j->t && b->grow == grow &&
		    b->n < AZML_ARM_VMSS_BATCH)
			break;
	if (!b) {
		if (!(b = calloc(1, sizeof(*b))))
			return -1;
		b->run = run;
		b->t = j->t;
		b->grow = grow;
		azml_conf_scale_set_name(run->conf, j->t, b->set, sizeof(b->set));
		b->next = run->batches;
		run->batches = b;
	}
	if (!(more = realloc(b->jobs, (b->n + 1) * sizeof(*more))))
		return -1;	/* B stays, empty or as it was */
	b->jobs = more;
	b->jobs[b->n++] = j;
	return 0;
}

/* Send every batch filled since the last call. */
void azml_pw_batches_flush(run_t *run)
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
	if (!azml_pw_end(j, false, code))
		return;
	if (azml_capacity_code(code) && j->t->capacity_backoff > 0)
		azml_pw_out_of_capacity(j, code);
	else
		azml_pw_hand_back(j, code, msg);
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
		one.since = azml_pw_now(b->run);
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
		snprintf(b->jobs[next]->size, sizeof(b->jobs[next]->size),
			 "%s", vm->size);
		snprintf(b->jobs[next]->vm_id, sizeof(b->jobs[next]->vm_id),
			 "%s", vm->vm_id);
		azml_pw_journal(b->run, AZML_J_CREATED, vm->created > 0 ? vm->created :
			 (long) azml_pw_now(b->run), vm->name, vm, b->jobs[next]->node,
			 b->t);
		azml_pw_journal(b->run, AZML_J_RUNNING, (long) azml_pw_now(b->run), vm->name, vm,
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

int azml_pw_active_features(const azml_target_t *t, const char *size,
			    char *out, size_t n)
{
	const azml_size_info_t *si = NULL;
	int len;

	out[0] = '\0';
	for (size_t k = 0; k < t->nmix && k < AZML_MIX_MAX && !si; k++)
		if (size && !strcasecmp(t->mix[k], size))
			si = &t->mix_size[k];
	if (!si || !si->series)
		return -1;
	/* as generate.c's features, for one size */
	len = snprintf(out, n, "azureml,%s,%s,%s%s%s%s,%s", t->name,
		       t->mix[si - t->mix_size], si->series->name,
		       si->arch ? "," : "", si->arch ? si->arch->arch : "",
		       si->isolated ? ",isolated" : "",
		       t->kind == AZML_INSTANCE ? "instance" :
		       t->priority == AZML_LOW_PRIORITY ? "lowpriority" :
		       "dedicated");
	if (len < 0 || (size_t) len >= n) {
		out[0] = '\0';
		return -1;
	}
	return 0;
}

/* J's VM is up: its node learns the VM's real size (a mix: its
 * ActiveFeatures; Slurm >= 23.02: InstanceType, InstanceId). */
static void _tell_instance(job_t *j)
{
	run_t *run = j->run;
	char feat[512];
	bool mix = j->t->nmix > 1;

	if (!run->ops.set_instance || !j->size[0])
		return;
	if (mix && azml_pw_active_features(j->t, j->size, feat,
					   sizeof(feat))) {
		azml_log_error("node %s: its VM %s is %s, not a size of %s's "
			       "VmSize=; its features are left as they are",
			       j->node, j->vm, j->size, j->t->name);
		mix = false;
	}
	run->ops.set_instance(run->ops.arg, j->node, mix ? feat : NULL,
			      j->size, j->vm_id);
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

		if (x->ip[0] && azml_pw_end(j, true, NULL)) {
			run->done++;
			azml_log_info("resume node=%s vm=%s set=%s host=%s ip=%s: "
				      "ok", j->node, j->vm, b->set, x->computer,
				      x->ip);
			run->ops.set_addr(run->ops.arg, j->node, x->ip,
					     x->computer);
			_tell_instance(j);
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

	if (r->ok && r->ip[0] && azml_pw_ip_ok(r->ip))
		snprintf(x->ip, sizeof(x->ip), "%s", r->ip);
	else
		azml_log_error("node %s: couldn't read the IP of VM %s: %s: %s",
			       x->j->node, x->j->vm, r->ok ? "InvalidResponse" :
			       r->code, r->ok ? "no IP address" : r->message);
	if (--x->b->nics == 0)
		_batch_paired(x->b);
}

/* ---- JobScaling=AllOrNothing: a job short of VMs keeps none ---- */

/* The batched delete of the doomed VMs ended: their nodes fail with the
 * write's code (the capacity hold, their jobs requeued now).  A VM whose
 * delete failed stays paired: its node's suspend deletes it. */
static void _doomed_deleted(void *arg, const azml_vm_result_t *r)
{
	batch_t *b = arg;
	run_t *run = b->run;
	char msg[600];

	if (r->ok)
		azml_log_info("scale set %s: JobScaling=AllOrNothing: the VMs "
			      "of jobs short of VMs deleted in one request "
			      "(op=%s)", b->set, r->op_id);
	else
		azml_log_error("scale set %s: the batched delete of the VMs "
			       "of jobs short of VMs failed (op=%s): %s: %s; "
			       "their nodes' suspend deletes them", b->set,
			       r->op_id, r->code, r->message);
	for (int i = 0; i < b->n; i++) {
		job_t *j = b->jobs[i];

		if (!j->doomed || j->settled)
			continue;
		if (r->ok) {
			azml_vm_result_t x = { .ok = true, .spot =
				j->t->priority == AZML_LOW_PRIORITY };

			snprintf(x.size, sizeof(x.size), "%s", j->size);
			snprintf(x.vm_id, sizeof(x.vm_id), "%s", j->vm_id);
			azml_pw_journal(run, AZML_J_DELETED, (long)
					azml_pw_now(run), j->vm, &x, j->node,
					j->t);
			azml_state_pair_drop(run->conf, b->set, j->node);
		}
		snprintf(msg, sizeof(msg), "JobScaling=AllOrNothing: its job "
			 "got fewer VMs than nodes (%.200s); its VM %s was "
			 "%sdeleted", b->msg, j->vm, r->ok ? "" : "not ");
		j->vm[0] = '\0';
		_set_failed(j, b->code[0] ? b->code : "AllocationFailed", msg);
	}
}

/*
 * The write failed, some VMs were made (Azure keeps a partial scale-out):
 * with JobScaling=AllOrNothing, each job of SLURM_RESUME_FILE that did not
 * get a VM for every node of this batch gets none; the VMs paired to its
 * nodes go in one batched delete.  Nodes without a job keep theirs (best
 * effort).  How many VMs are to be deleted.
 */
static int _doom(batch_t *b)
{
	run_t *run = b->run;
	const char **del;
	int k = 0;

	if (b->t->job_scaling != AZML_SCALING_ALL_OR_NOTHING)
		return 0;
	for (int r = 0; r < run->nrjobs; r++) {
		azml_hostlist_t hl = slurm_hostlist_create(run->rjobs[r].nodes);
		bool is[AZML_ARM_VMSS_BATCH], short_of = false;
		int have = 0;

		if (!hl)
			continue;
		for (int i = 0; i < b->n; i++) {
			job_t *j = b->jobs[i];

			is[i] = slurm_hostlist_find(hl, j->node) >= 0;
			if (!is[i])
				continue;
			if (!j->vm[0] || j->bad_vm)
				short_of = true;
			else if (!j->settled && !j->nic_asked)
				have++;
		}
		slurm_hostlist_destroy(hl);
		if (!short_of || !have)
			continue;
		azml_log_error("job %u: JobScaling=AllOrNothing: %d of its VMs "
			       "made in scale set %s before %s; deleting them",
			       run->rjobs[r].id, have, b->set, b->code);
		for (int i = 0; i < b->n; i++) {
			job_t *j = b->jobs[i];

			if (is[i] && j->vm[0] && !j->bad_vm && !j->settled &&
			    !j->nic_asked && !j->doomed) {
				j->doomed = true;
				k++;
			}
		}
	}
	if (!k)
		return 0;
	if (!(del = calloc(k + 1, sizeof(*del)))) {
		/* their nodes fail; their VMs stay paired for suspend */
		for (int i = 0; i < b->n; i++)
			if (b->jobs[i]->doomed && !b->jobs[i]->settled)
				azml_pw_fail_oom(b->jobs[i]);
		return k;
	}
	k = 0;
	for (int i = 0; i < b->n; i++)
		if (b->jobs[i]->doomed)
			del[k++] = b->jobs[i]->vm;
	azml_arm_vmss_delete_vms(run->arm, b->set, del, k, _doomed_deleted,
				 b);
	free(del);
	return k;
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
	/* a partial scale-out: AllOrNothing jobs short of VMs keep none */
	if (!b->op_ok)
		_doom(b);
	/* the IPs of the VMs just paired, all at once */
	if (b->claimed > before && !b->nic_list) {
		b->nic_list = calloc(b->claimed - before + 1,
				     sizeof(*b->nic_list));
		for (int i = 0; i < b->n; i++) {
			job_t *j = b->jobs[i];
			nic_t *x;

			if (j->settled || !j->vm[0] || j->nic_asked ||
			    j->doomed)
				continue;
			j->nic_asked = true;
			if (!b->nic_list || !(x = calloc(1, sizeof(*x)))) {
				/* its VM stays paired: reconcile sees it */
				_set_failed(j, "OutOfMemory", "out of memory");
				continue;
			}
			x->b = b;
			x->j = j;
			b->nic_list[b->nnics++] = x;
		}
		b->nics = b->nnics;
		if (!b->nnics) {
			free(b->nic_list);
			b->nic_list = NULL;
		}
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
		b->relist_until = azml_pw_now(b->run) + RELIST_FOR;
	if (azml_pw_now(b->run) > b->relist_until) {
		_batch_fail(b, "ScaleSetVMsMissing", "the scale set grew, but "
			    "not every new VM was listed within 60 s");
		return;
	}
	b->relist_at = azml_pw_now(b->run) + 2;
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
			       "%s: %s; the VMs it made are used%s", b->set,
			       b->n, r->op_id, r->code, r->message,
			       b->t->job_scaling ==
			       AZML_SCALING_ALL_OR_NOTHING ? " by nodes "
			       "without a job and by jobs that got all "
			       "theirs (JobScaling=AllOrNothing)" : "");
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
						   azml_pw_deleted, b->jobs[i]);
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
		azml_pw_deleted(j, &ok);	/* settles it; the pairs go below */
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
	if (!(del = calloc(b->n + 1, sizeof(*del)))) {
		/* nothing deleted: each node fails */
		for (int i = 0; i < b->n; i++)
			if (!b->jobs[i]->settled)
				azml_pw_fail_oom(b->jobs[i]);
		return;
	}
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
						azml_pw_deleted, j);
			continue;
		}
		if (!azml_arm_vm_ours(run->conf, vm, b->set, no.message,
				      sizeof(no.message))) {
			snprintf(no.code, sizeof(no.code), "NotOurVM");
			azml_pw_deleted(j, &no);
			continue;
		}
		j->in_batch = true;
		del[k++] = j->vm;
	}
	/* at most AZML_ARM_VMSS_BATCH a batch (azml_pw_batch_add) */
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

			azml_pw_deleted(j, &ok);
			continue;
		}
		k++;
	}
	if (k)	/* one listing says which are ours */
		azml_arm_vmss_vms(run->arm, b->set, _shrink_listed, b);
}

/* Look again, from the tick, for VMs of good writes not listed yet. */
void azml_pw_batches_tick(run_t *run)
{
	for (batch_t *b = run->batches; b; b = b->next)
		if (b->grow && b->relist_at &&
		    azml_pw_now(run) >= b->relist_at) {
			b->relist_at = 0;
			azml_arm_vmss_vms(run->arm, b->set, _vms_listed, b);
		}
}

/* Batches that will look again for their VMs. */
bool azml_pw_batches_pending(const run_t *run)
{
	for (const batch_t *b = run->batches; b; b = b->next)
		if (b->relist_at)
			return true;
	return false;
}

void azml_pw_batches_free(run_t *run)
{
	while (run->batches) {
		batch_t *b = run->batches;

		run->batches = b->next;
		free(b->jobs);
		free(b->nic_list);
		free(b);
	}
}

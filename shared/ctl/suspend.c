/*
 * suspend.c - the power-save engine's deletes (power.h): only VMs that are
 * ours, and resume-fail's reading of the serial console log first.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bootdiag.h"
#include "capacity.h"
#include "log.h"
#include "power_int.h"


bool azml_pw_in_set(const job_t *j)
{
	return j->t && j->t->kind == AZML_CLUSTER &&
	       j->t->provisioning == AZML_PROV_SCALE_SET;
}

/* J's scale set into SET, or NULL for a node whose VM is its own. */
const char *azml_pw_set_of(const job_t *j, char *set, size_t n)
{
	return azml_pw_in_set(j) ? azml_conf_scale_set_name(j->run->conf, j->t, set,
						     n) : NULL;
}

/* J's VM name into j->vm: the node's own, or the VM of its set StateDir
 * pairs it with ("" when it has none: nothing to delete). */
void azml_pw_vm_of(job_t *j)
{
	char set[80];
	azml_pair_t p;

	if (!azml_pw_in_set(j)) {
		snprintf(j->vm, sizeof(j->vm), "%s", j->node);
		return;
	}
	azml_conf_scale_set_name(j->run->conf, j->t, set, sizeof(set));
	j->vm[0] = '\0';
	if (azml_state_pair_get(j->run->conf, set, j->node, &p) == 1)
		snprintf(j->vm, sizeof(j->vm), "%s", p.vm);
}

void azml_pw_deleted(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	run_t *run = j->run;
	char msg[600];

	if (j->turn == AZML_TURN_DELETE_FIRST) {
		if (r->ok) {	/* the interrupted delete is over: now create */
			azml_pw_journal(run, AZML_J_DELETED, (long) azml_pw_now(run), j->node,
				 NULL, j->node, NULL);
			azml_log_info("resume node=%s: its previous VM is deleted "
				      "(op=%s); creating a new one", j->node,
				      r->op_id);
			j->turn = AZML_TURN_RUN;
			azml_pw_start(j);
			return;
		}
		run->failed++;
		azml_log_error("couldn't delete the previous VM of node %s "
			       "(op=%s): %s: %s", j->node, r->op_id, r->code,
			       r->message);
		snprintf(msg, sizeof(msg), "its previous VM could not be "
			 "deleted: %.400s", r->message);
		if (azml_pw_end(j, false, r->code))
			azml_pw_hand_back(j, r->code, msg);
		return;
	}
	if (r->ok) {
		azml_hold_t h;

		run->done++;
		azml_log_info("%s node=%s vm=%s op=%s: deleted",
			      azml_pw_mode_name(run->mode), j->node, j->vm, r->op_id);
		azml_pw_journal(run, AZML_J_DELETED, (long) azml_pw_now(run), j->vm, NULL,
			 j->node, NULL);
		if (azml_pw_in_set(j) && !run->pairs_later) {
			char set[80];

			azml_state_pair_drop(run->conf, azml_conf_scale_set_name(
					     run->conf, j->t, set, sizeof(set)),
					     j->node);
		}
		/* back to its own name until the next VM */
		if (azml_pw_end(j, true, NULL)) {
			run->ops.set_addr(run->ops.arg, j->node, j->node,
					     j->node);
			/* a mix's node: every size's features again */
			if (j->t->nmix > 1 && run->ops.reset_features)
				run->ops.reset_features(run->ops.arg, j->node);
		}
		/* slurmctld clears DRAIN when it powers a node down: a node
		 * of a held target is drained again */
		if (azml_state_hold_get(run->conf, azml_conf_target_of_node(
					run->conf, j->node), &h) == 1)
			azml_capacity_drain_ops(&run->ops, j->node, &h);
		return;
	}
	run->failed++;
	if (!strcmp(r->code, "NotOurVM"))
		azml_log_error("%s node=%s: refusing to delete VM '%s': %s; "
			       "nothing deleted", azml_pw_mode_name(run->mode),
			       j->node, j->vm, r->message);
	else
		azml_log_error("couldn't delete VM '%s' (op=%s): %s: %s; "
			       "'slurm-azureml reconcile' will retry", j->vm,
			       r->op_id, r->code, r->message);
	azml_pw_end(j, false, r->code);
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
		j->run->ops.down(j->run->ops.arg, j->node, reason);
	}
	/* ours: azml_pw_checked() saw it */
	azml_arm_vm_delete(j->run->arm, j->vm, azml_pw_deleted, j);
}

/* Resume-fail: the VM's own answer says whether it is ours to read and
 * delete (one GET: the boot log and the delete follow). */
void azml_pw_checked(void *arg, const azml_vm_result_t *r)
{
	job_t *j = arg;
	char set[80];
	azml_vm_result_t res = *r;

	if (!r->ok && r->http_status == 404) {	/* gone: nothing to delete */
		res.ok = true;
		azml_pw_deleted(j, &res);
		return;
	}
	if (r->ok && !azml_arm_vm_ours(j->run->conf, r, azml_pw_set_of(j, set,
				       sizeof(set)), res.message,
				       sizeof(res.message))) {
		res.ok = false;
		snprintf(res.code, sizeof(res.code), "NotOurVM");
	}
	if (!res.ok) {
		azml_pw_deleted(j, &res);
		return;
	}
	azml_arm_vm_boot_log(j->run->arm, j->vm, _boot_logged, j);
}


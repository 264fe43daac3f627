/*
 * reconcile_apply.c - the apply step of reconcile (reconcile.h): each
 * action of a plan said, and done unless dry.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "log.h"
#include "reconcile.h"

static const char *_esc(const char *s)
{
	static char buf[4][1100];
	static int k;

	k = (k + 1) % 4;
	return azml_escape(s, buf[k], sizeof(buf[k]));
}

void azml_rc_acted(void *arg, const azml_vm_result_t *r)
{
	const azml_rc_done_t *dn = arg;
	azml_rc_ctx_t *ctx = dn->ctx;
	const char *what = dn->what;
	FILE *out = ctx->out ? ctx->out : stdout;

	if (r->ok) {
		azml_jrec_t x;
		azml_jkind_t k = !strcmp(what, "delete") ? AZML_J_DELETED :
				 !strcmp(what, "start") ? AZML_J_STARTED :
				 !strcmp(what, "deallocate") ?
				 AZML_J_DEALLOCATED : AZML_J_NKINDS;

		fprintf(out, "  %s VM %s: done (op %s)\n", what, _esc(r->name),
			_esc(r->op_id));
		azml_log_info("reconcile: %s VM %s op=%s: ok", what,
			      _esc(r->name), _esc(r->op_id));
		if (ctx->conf && k != AZML_J_NKINDS &&
		    !azml_jrec_make(&x, k, (long) time(NULL), r->name, NULL,
				    NULL, NULL, NULL, false, NULL))
			azml_state_journal_add(ctx->conf, &x, 1);
	} else {
		ctx->failures++;
		fprintf(out, "  %s VM %s: failed: %s: %s\n", what,
			_esc(r->name), _esc(r->code), _esc(r->message));
		azml_log_error("reconcile: couldn't %s VM %s: %s: %s", what,
			       _esc(r->name), _esc(r->code),
			       _esc(r->message));
	}
}

/* An orphan's delete, claimed in StateDir like a SuspendProgram's, so that
 * a resume that starts meanwhile waits for it instead of losing its VM. */
typedef struct {
	azml_rc_done_t done;
	bool claimed;
	char node[96];		/* "" for a set's VM no node has */
	char set[80];
} orphan_t;

static void _orphan_deleted(void *arg, const azml_vm_result_t *r)
{
	orphan_t *o = arg;
	const azml_conf_t *conf = o->done.ctx->conf;
	char err[512];

	azml_rc_acted(&o->done, r);
	if (r->ok && o->set[0] && o->node[0])
		azml_state_pair_drop(conf, o->set, o->node);
	if (o->claimed &&
	    azml_state_intent_end(conf, o->node, AZML_OP_DELETE, getpid(),
				  r->ok, r->code, err, sizeof(err)) < 0)
		azml_log_error("reconcile: node %s: %s", o->node, err);
	free(o);
}

static void _delete_orphan(azml_rc_ctx_t *ctx, azml_arm_t *arm,
			   const azml_rc_action_t *a)
{
	orphan_t *o = calloc(1, sizeof(*o));
	azml_turn_info_t info;
	azml_turn_t turn;
	char err[512];

	if (!o) {
		ctx->failures++;
		fprintf(ctx->out, "  delete VM %s: skipped: out of memory\n",
			_esc(a->vm));
		return;
	}
	o->done.ctx = ctx;
	o->done.what = "delete";
	snprintf(o->node, sizeof(o->node), "%s", a->node);
	snprintf(o->set, sizeof(o->set), "%s", a->set);
	if (a->claim && o->node[0]) {
		turn = azml_state_intent_begin(ctx->conf, o->node,
					       AZML_OP_DELETE, getpid(), &info,
					       err, sizeof(err));
		if (turn == AZML_TURN_ERROR || turn == AZML_TURN_WAIT) {
			if (turn == AZML_TURN_WAIT) {	/* someone came first */
				azml_state_intent_end(ctx->conf, o->node,
						      AZML_OP_DELETE, getpid(),
						      false, NULL, err,
						      sizeof(err));
				fprintf(ctx->out, "  delete VM %s: skipped: a "
					"%s (pid %ld) began meanwhile\n",
					_esc(a->vm), azml_op_name(info.op),
					(long) info.pid);
			} else {
				ctx->failures++;
				fprintf(ctx->out, "  delete VM %s: skipped: %s\n",
					_esc(a->vm), err);
			}
			free(o);
			return;
		}
		o->claimed = true;
	}
	if (azml_arm_vm_delete(arm, a->vm, _orphan_deleted, o)) {
		azml_vm_result_t r = { .ok = false };

		snprintf(r.name, sizeof(r.name), "%s", a->vm);
		snprintf(r.code, sizeof(r.code), "NotStarted");
		snprintf(r.message, sizeof(r.message), "couldn't queue the "
			 "delete");
		_orphan_deleted(o, &r);
	}
}

static const azml_node_t *_find(const azml_node_t *nodes, int n,
				const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

/*
 * Slurm 24.05 and later (24.11 seen) start a requested power-up at the
 * power-save scan after the request, but only if the request came in a later
 * second than the last scan (22.05 also took the same second); otherwise it
 * waits for the next periodic scan, power_save_interval (10 s) later.
 * While a node still waits (powered down, POWER_UP set), repeat the request
 * once a second, up to 5 s; a repeat while Slurm has not taken the first
 * changes nothing but the time of the last node update.
 */
static void _power_up_settle(const azml_rc_ops_t *ops,
			     const azml_rc_plan_t *plan)
{
	bool any = false;

	for (size_t i = 0; i < plan->n && !any; i++)
		any = plan->a[i].kind == AZML_RC_POWER_UP && plan->a[i].value;
	for (int round = 0; round < 5 && any; round++) {
		azml_node_t *nodes = NULL;
		int nn, waiting = 0;

		sleep(1);
		if ((nn = ops->load(&nodes)) < 0)
			return;
		for (size_t i = 0; i < plan->n; i++) {
			const azml_rc_action_t *a = &plan->a[i];
			const azml_node_t *sn;

			if (a->kind != AZML_RC_POWER_UP || !a->value)
				continue;
			sn = _find(nodes, nn, a->node);
			if (!sn || !(sn->state & NODE_STATE_POWER_UP) ||
			    !azml_node_powered_down(sn))
				continue;
			ops->power_up(a->node);
			waiting++;
		}
		free(nodes);
		if (!waiting)
			return;
	}
}

/* Those done right away (slurmctld's, StateDir's), and those queued to
 * ARM (run together afterwards). */
static void _do(azml_rc_ctx_t *ctx, azml_arm_t *arm, const azml_rc_ops_t *ops,
		azml_rc_action_t *a, azml_rc_done_t *cb)
{
	const azml_conf_t *conf = ctx->conf;
	int rc = 0;

	switch (a->kind) {
	case AZML_RC_NOTE:
		break;
	case AZML_RC_LIFT_HOLD:
		azml_log_info("%s", a->text);
		if (a->list)
			ops->resume(a->list);
		if (a->recorded)
			azml_state_hold_lifted(conf, a->t);
		break;
	case AZML_RC_RESTORE_ATTACHED:
		rc = ops->set_addr(a->node, a->addr, a->host) < 0 ||
		     ops->resume(a->node) < 0 ? -1 : 0;
		if (!rc)
			azml_log_info("reconcile: attached node %s restored "
				      "at %s", a->node, a->addr);
		break;
	case AZML_RC_JOURNAL_REPAIR:
		azml_state_journal_repair(conf);
		break;
	case AZML_RC_FORGET_PAIR:
		azml_state_pair_drop(conf, a->set, a->node);
		break;
	case AZML_RC_DELETE_SET:
		azml_arm_vmss_delete(arm, a->set, azml_rc_acted, &cb[1]);
		break;
	case AZML_RC_JOURNAL_ADD:
		azml_state_journal_add(conf, &a->rec, 1);
		break;
	case AZML_RC_DELETE_VM:
		_delete_orphan(ctx, arm, a);
		break;
	case AZML_RC_NO_VM:
		ops->power_down_force(a->node, a->reason);
		break;
	case AZML_RC_RELEASE_HELD:
		azml_state_failure_clear(conf, a->node);
		ops->resume(a->node);
		break;
	case AZML_RC_NODE_IDENTITY:
		azml_arm_vm_keep_identity(arm, a->vm, a->t->identity,
					  a->t->job_identity, azml_rc_acted,
					  &cb[0]);
		break;
	case AZML_RC_POWER_UP:
		/* value: it was asked, so settle repeats it */
		a->value = !ops->power_up(a->node);
		break;
	case AZML_RC_IDLE_SET:
		azml_state_idle_set(conf, a->t->name, a->value);
		break;
	case AZML_RC_IDLE_DOWN:
		rc = ops->power_down(a->node, a->reason) ? -1 : 0;
		break;
	case AZML_RC_REPLACE:
		if (!ops->power_down_asap)
			break;
		azml_state_journal_add(conf, &a->rec, 1);
		azml_log_info("reconcile: replacing node %s's VM: %s", a->node,
			      a->reason);
		rc = ops->power_down_asap(a->node, a->reason) ? -1 : 0;
		break;
	case AZML_RC_REPLACE_HOLD: {
		azml_hold_t h;
		char why[256];

		if (azml_state_hold_add(conf, a->t, "ReplaceLimit", &h) < 0) {
			rc = -1;
			break;
		}
		azml_state_hold_reason(why, sizeof(why), &h);
		azml_log_info("reconcile: %s held: %s", a->t->name, why);
		if (a->list && ops->drain)
			ops->drain(a->list, why);
		break;
	}
	}
	if (rc)
		ctx->failures++;
}

int azml_rc_apply(const azml_conf_t *conf, azml_arm_t *arm,
		  const azml_rc_ops_t *ops, azml_rc_plan_t *plan,
		  bool dry, FILE *out)
{
	azml_rc_ctx_t ctx = { dry ? NULL : conf, out, 0 };
	azml_rc_done_t cb[] = { { &ctx, "remove the node identity of" },
				{ &ctx, "delete scale set" } };
	bool ran = false;

	for (size_t i = 0; i < plan->n; i++) {
		azml_rc_action_t *a = &plan->a[i];

		/* Azure's actions end, and MinNodes settle, before idle
		 * nodes go */
		if (!ran && (a->kind == AZML_RC_IDLE_SET ||
			     a->kind == AZML_RC_IDLE_DOWN ||
			     (a->kind == AZML_RC_NOTE && a->t))) {
			if (arm && !dry)
				azml_arm_run(arm);
			if (!dry)
				_power_up_settle(ops, plan);
			ran = true;
		}
		fprintf(out, "%s\n", a->text);
		if (!dry)
			_do(&ctx, arm, ops, a, cb);
	}
	if (!ran && !dry) {
		if (arm)
			azml_arm_run(arm);
		_power_up_settle(ops, plan);
	}
	return ctx.failures;
}

/*
 * capacity.h - a compute target Azure has no capacity for: held, so that
 * Slurm moves its jobs on, and let go when the hold is over.
 *
 * A capacity error (state.h: azml_capacity_code) on one node's create holds
 * the node's target (StateDir/holds, state.h) and drains every powered-down
 * node of it with the reason "azureml: capacity: CODE; retry after
 * HH:MM:SS": the scheduler then starts the job elsewhere (a Fallback= of
 * the target, another zone's cluster) instead of trying the next node of
 * the same target.  The hold is lifted by whichever comes first of the next
 * power-save program and 'slurm-azureml reconcile': nodes whose reason is
 * still ours are resumed.  Programs only: this talks to slurmctld.
 */
#ifndef AZML_CAPACITY_H
#define AZML_CAPACITY_H

#include <stddef.h>

#include "conf.h"
#include "slurm_ops.h"
#include "state.h"

/*
 * Azure answered CODE to the create of NODE's VM (of target T): hold T
 * (or join the hold in force), drain T's other powered-down nodes, then
 * hand NODE back (power_down_force: its job is requeued) drained too.
 * REASON gets the nodes' reason.  0, or -1 when StateDir could not record
 * the hold (NODE is handed back all the same).
 */
int azml_capacity_hold(const azml_conf_t *conf, const azml_target_t *t,
		       const char *node, const char *code, char *reason,
		       size_t n);

/*
 * Hand NODE (of T, held as H) back without trying it: the hold is in force.
 */
void azml_capacity_refuse(const char *node, const azml_hold_t *h);

/* Drain NODE with H's reason (slurmctld clears DRAIN when it powers a node
 * down: the suspend program drains a held target's node again). */
void azml_capacity_drain(const char *node, const azml_hold_t *h);

/*
 * Let go of every hold that is over: resume the nodes whose reason is still
 * a capacity hold's.  With SWEEP, also the nodes held without a hold on
 * record (StateDir lost): reconcile sweeps, the power-save programs only
 * look at what StateDir records (no RPC when nothing is).  Each target let
 * go is logged.  With DRY, only say what would be done.  Returns how many
 * targets were let go.
 */
int azml_capacity_lift(const azml_conf_t *conf, bool sweep, bool dry);

/* The same, telling slurmctld through OPS (slurm_ops.h; the ones above use
 * azml_slurm_ops_default). */
int azml_capacity_hold_ops(const azml_slurm_ops_t *ops,
			   const azml_conf_t *conf, const azml_target_t *t,
			   const char *node, const char *code, char *reason,
			   size_t n);
void azml_capacity_refuse_ops(const azml_slurm_ops_t *ops, const char *node,
			      const azml_hold_t *h);
void azml_capacity_drain_ops(const azml_slurm_ops_t *ops, const char *node,
			     const azml_hold_t *h);
int azml_capacity_lift_ops(const azml_slurm_ops_t *ops,
			   const azml_conf_t *conf, bool sweep, bool dry);

#endif

/*
 * reconcile.h - 'slurm-azureml reconcile' as plan -> apply: Azure's VMs and
 * Slurm's nodes made to agree.
 *
 *   gather:  what slurmctld, Azure (VMs, scale sets), StateDir (intents,
 *            pairings, failures, holds, attached nodes, learnt idle times)
 *            and the journal say, and slurmdbd's jobs (idle auto).
 *   decide:  a pure function of that and NOW: the plan, a list of actions,
 *            each with the line that says what and why.
 *   apply:   prints each action's line and, unless dry, does it.
 *
 * What is told to slurmctld goes through an ops table (azml_rc_slurm_ops:
 * nodes.c) so that a test can record it.  Programs only: this talks to
 * slurmctld, Azure and StateDir.
 */
#ifndef AZML_RECONCILE_H
#define AZML_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "arm.h"
#include "conf.h"
#include "cost.h"
#include "journal.h"
#include "nodes.h"
#include "state.h"

/* What reconcile tells slurmctld; each 0 or -1 (as nodes.h). */
typedef struct {
	int (*load)(azml_node_t **out);
	int (*power_up)(const char *nodes);
	int (*power_down)(const char *nodes, const char *reason);
	int (*power_down_force)(const char *nodes, const char *reason);
	int (*resume)(const char *nodes);
	int (*set_addr)(const char *nodes, const char *addr, const char *host);
	/* may be NULL (no replacement then) */
	int (*power_down_asap)(const char *nodes, const char *reason);
	int (*drain)(const char *nodes, const char *reason);
} azml_rc_ops_t;

/* nodes.c's functions. */
extern const azml_rc_ops_t azml_rc_slurm_ops;

/* ---- what gather reads ---- */

/* A ScaleSet cluster's set. */
typedef struct {
	const azml_target_t *t;
	char name[80];
	size_t listed;		/* its VMs (ours) in the listing */
	bool answered;		/* its GET answered */
	azml_vm_result_t got;	/* that answer (ok, http_status, capacity) */
} azml_rc_set_t;

/* A node accepted by 'attach --accept' (StateDir/attached). */
typedef struct {
	char node[96];
	bool report;		/* the record is a report with these: */
	char addr[64];
	char host[256];
} azml_rc_attached_t;

/* A node held after repeated failures: when its last failure was. */
typedef struct {
	char node[96];
	long failed_at;		/* epoch s; 0: no record */
} azml_rc_failure_t;

typedef struct {
	const azml_conf_t *conf;
	bool dry;		/* only the wording of the lines */
	bool prune;		/* --prune-scale-sets */
	bool vm_targets;	/* some target has VMs (all steps but the
				 * attached nodes and holds need them) */
	azml_node_t *nodes;	/* slurmctld's */
	int nn;
	azml_vm_result_t *vms;	/* Azure's: the tag listing's VMs and each
				 * set's (scale_set set) */
	size_t nvms;
	azml_pair_t *pairs;	/* StateDir's pairings, each with its set */
	char (*pair_set)[80];
	size_t npairs;
	azml_rc_set_t *sets;
	size_t nsets;
	char (*active)[96];	/* nodes a program works on (intents) */
	size_t nactive;
	azml_rc_failure_t *failures;	/* of held nodes */
	size_t nfailures;
	azml_rc_attached_t *attached;
	size_t nattached;
	int *hold_rc;		/* per target: azml_state_hold_get's answer */
	azml_hold_t *holds;	/* per target, when hold_rc >= 0 */
	long *idle_learnt;	/* per target: azml_state_idle_get */
	/* the journal as it was before Azure was listed */
	bool journal_read;
	long journal_cut;	/* bytes a crash left cut at its end */
	azml_jrec_t *jrec;
	size_t njrec;
	/* slurmdbd's jobs, when some target is idle auto */
	bool have_jobs;
	char jobs_why[600];	/* why not */
	azml_cost_job_t *jobs;
	size_t njobs;
} azml_rc_input_t;

/*
 * Read everything (ARM may be NULL when no target has VMs).  Lines about
 * what was read (VMs left alone by a set's listing) go to OUT.  0, or -1
 * with ERR ("slurmctld is not answering; nothing done", a listing that
 * failed); IN is freed with azml_rc_input_free() either way.
 */
int azml_rc_gather(const azml_conf_t *conf, azml_arm_t *arm,
		   const azml_rc_ops_t *ops, bool dry, bool prune, FILE *out,
		   azml_rc_input_t *in, char *err, size_t en);
void azml_rc_input_free(azml_rc_input_t *in);

/* ---- the plan ---- */

typedef enum {
	AZML_RC_NOTE,		/* only said (not an action) */
	AZML_RC_LIFT_HOLD,	/* T's capacity hold is over: resume LIST */
	AZML_RC_RESTORE_ATTACHED, /* NODE: set_addr ADDR/HOST, resume */
	AZML_RC_JOURNAL_REPAIR,	/* cut the journal's cut last line */
	AZML_RC_FORGET_PAIR,	/* NODE's pairing in SET: its VM is gone */
	AZML_RC_DELETE_SET,	/* SET is empty (--prune-scale-sets) */
	AZML_RC_JOURNAL_ADD,	/* REC */
	AZML_RC_DELETE_VM,	/* VM (of SET), serving NODE; CLAIM: ours */
	AZML_RC_NO_VM,		/* NODE is up without a VM: power_down_force */
	AZML_RC_RELEASE_HELD,	/* NODE's failure back-off is over */
	AZML_RC_NODE_IDENTITY,	/* VM keeps only T's JobIdentity */
	AZML_RC_POWER_UP,	/* NODE, for T's MinNodes */
	AZML_RC_IDLE_SET,	/* T's learnt idle time: VALUE seconds */
	AZML_RC_IDLE_DOWN,	/* NODE idle VALUE seconds: power_down REASON */
	AZML_RC_REPLACE,	/* NODE failed a hardware health check: REC,
				 * then power_down_asap REASON */
	AZML_RC_REPLACE_HOLD,	/* T replaced its size VALUE times this hour:
				 * hold T (ReplaceLimit), drain LIST */
} azml_rc_kind_t;

typedef struct {
	azml_rc_kind_t kind;
	const azml_target_t *t;
	char node[96];
	char vm[80];
	char set[80];
	char addr[64];
	char host[256];
	char reason[256];
	char *list;		/* LIFT_HOLD: a hostlist (malloc'd), or NULL */
	bool recorded;		/* LIFT_HOLD: a hold is on record */
	bool claim;		/* DELETE_VM: claim NODE in StateDir first */
	long value;		/* IDLE_SET: T; IDLE_DOWN: idle seconds */
	azml_jrec_t rec;
	char text[1400];	/* what is printed for it */
} azml_rc_action_t;

typedef struct {
	azml_rc_action_t *a;
	size_t n, cap;
	int actions;		/* those that are not notes */
} azml_rc_plan_t;

/*
 * The plan for IN at NOW (IN is not changed; nothing is read but IN and
 * CONF).  0, or -1 when out of memory (PLAN freed then).  PLAN is freed
 * with azml_rc_plan_free().
 */
int azml_rc_decide(const azml_rc_input_t *in, long now, azml_rc_plan_t *plan);
void azml_rc_plan_free(azml_rc_plan_t *plan);

/* For reconcile*.c: S (Azure's: a name, a tag, a message) escaped for
 * printing; a result lasts for the next three calls.  Not thread-safe. */
const char *azml_rc_esc(const char *s);

/*
 * Say each action of PLAN on OUT and, unless DRY, do it: Azure's through
 * ARM (run before the idle actions), slurmctld's through OPS, StateDir's
 * through state.h; a power_up that Slurm has not taken is repeated once a
 * second, up to 5 times.  Returns how many actions failed (those whose
 * failure reconcile's exit status reports: Azure's, restored attached
 * nodes, idle power-downs).  PLAN's POWER_UP values are overwritten.
 */
int azml_rc_apply(const azml_conf_t *conf, azml_arm_t *arm,
		  const azml_rc_ops_t *ops, azml_rc_plan_t *plan,
		  bool dry, FILE *out);

/*
 * The end of an ARM VM action (an azml_vm_cb): says it on OUT, logs it,
 * counts a failure, and records a delete/start/deallocate in CTX's journal
 * (CONF NULL: none).  ARG is an azml_rc_done_t.
 */
typedef struct {
	const azml_conf_t *conf;
	FILE *out;
	int failures;
} azml_rc_ctx_t;

typedef struct {
	azml_rc_ctx_t *ctx;
	const char *what;	/* "delete", "start", "deallocate", ... */
} azml_rc_done_t;

void azml_rc_acted(void *arg, const azml_vm_result_t *r);

#endif

/*
 * power.h - the engine of slurm-azureml-resume, -suspend and -resume-fail
 * (Slurm's ResumeProgram, SuspendProgram, ResumeFailProgram): what Slurm's
 * power saving asks of a hostlist, done through ARM.
 *
 * For each node: its intent recorded in StateDir (one Azure operation at a
 * time per node: a node whose other operation is in flight waits for it or
 * joins it), then its VM created (resume: the quota pass first, userData
 * with the controller's address; a scale set's nodes in one write) or
 * deleted (suspend, resume-fail: only VMs that are ours; a scale set's
 * nodes in one batched delete; resume-fail reads the serial console log
 * first), and slurmctld told the outcome:
 *   - a VM that exists: NodeAddr/NodeHostname of its node;
 *   - a VM that cannot be had: the node is handed back at once
 *     (power_down_force, reason "azureml: <AzureCode>: <message>") so that
 *     its job is requeued now; after AZML_HOLD_AFTER failures in a row it
 *     is held DOWN until 'slurm-azureml reconcile' lets it go; a capacity
 *     error holds its whole target (capacity.h);
 *   - lifecycle records in the journal, in one write at the end.
 * Programs only (libslurm, libcurl): never a plugin.
 */
#ifndef AZML_POWER_H
#define AZML_POWER_H

#include <stdbool.h>
#include <time.h>

#include "arm.h"
#include "conf.h"
#include "slurm_ops.h"

typedef enum {
	AZML_POWER_RESUME,
	AZML_POWER_SUSPEND,
	AZML_POWER_RESUME_FAIL
} azml_power_mode_t;

/* The time the engine decides by, and its pauses (a test's runs in
 * seconds what takes minutes).  ARG is the owner's, passed to each. */
typedef struct {
	void *arg;
	time_t (*now)(void *arg);
	void (*sleep_ms)(void *arg, int ms);
} azml_clock_t;

/* What the run takes from its surroundings.  Every pointer may be NULL:
 * then the real thing.  The caller owns all of it; it is only read. */
typedef struct {
	/* SLURM_RESUME_FILE (resume): which job wants which nodes, for the
	 * quota pass and the notes in handed-back jobs; NULL: none */
	const char *resume_file;
	/* fork once every intent is recorded: the parent returns at once
	 * (report's parent set: it must _exit at once so that slurmctld goes
	 * on: 0, or 1 when StateDir is refused),
	 * the child does the work; false: all in this process
	 * (AZUREML_FOREGROUND) */
	bool detach;
	/* the controller's address etc. for the VMs' userData; NULL: read
	 * from slurm.conf (controller.h) */
	const azml_ctld_info_t *ctld;
	/* what slurmctld is told (slurm_ops.h); NULL: slurmctld itself,
	 * azml_nodes_init() called, addresses sent in batches */
	const azml_slurm_ops_t *slurm;
	/* NULL: time() and usleep() */
	const azml_clock_t *clock;
} azml_power_env_t;

/* How a run ended (written by azml_power_run, in full). */
typedef struct {
	bool parent;		/* detached: this is the parent, which must
				 * _exit at once (the run's -1: 1); nothing
				 * else is set */
	int nodes;		/* nodes of the hostlist */
	int done, failed;	/* nodes that ended well, or not */
	int joined;		/* nodes whose operation another program did */
	int superseded;		/* nodes a later request took over */
	int addr_refused;	/* nodes whose address slurmctld refused */
	unsigned long requests;	/* ARM requests made */
} azml_power_report_t;

/*
 * Do MODE for the nodes of HOSTLIST (Slurm's hostlist; each must be a node
 * of a compute cluster or instance of CONF, else nothing is done).  Logs
 * what it does.  Returns 0 when every node ended well, -1 otherwise; *OUT
 * (not NULL) is written either way.  CONF, HOSTLIST and ENV stay the
 * caller's.  Calls curl_global_init() never: the caller does, once.
 */
int azml_power_run(const azml_conf_t *conf, azml_power_mode_t mode,
		   const char *hostlist, const azml_power_env_t *env,
		   azml_power_report_t *out);

#endif

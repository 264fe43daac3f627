/*
 * nodes.h - what slurm-azureml's programs tell slurmctld about nodes, through
 * libslurm (never inside a plugin: link only into programs).
 */
#ifndef AZML_NODES_H
#define AZML_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Call once per program, before the others. */
void azml_nodes_init(void);

/* NodeAddr/NodeHostname of NODES (hostlist).  0, or -1 (logged). */
int azml_nodes_set_addr(const char *nodes, const char *addr, const char *host);

/* NODE runs VM VM_ID of SIZE (Azure's hardwareProfile.vmSize): its
 * ActiveFeatures become FEATURES (NULL: unchanged), and on Slurm >= 23.02
 * InstanceType=SIZE InstanceId=VM_ID.  0, or -1 (logged). */
int azml_node_set_instance(const char *node, const char *features,
			   const char *size, const char *vm_id);

/*
 * Addresses set in the background: push() returns at once; a thread sends
 * what has queued up as one update RPC per batch (so a thousand VMs that
 * come up together cost a few RPCs, not a thousand, and whoever pushes is
 * never held up by slurmctld).  finish() sends the rest, stops the thread,
 * and returns how many nodes slurmctld refused.
 */
typedef struct azml_addr_queue azml_addr_queue_t;
azml_addr_queue_t *azml_addr_queue_start(void);
void azml_addr_queue_push(azml_addr_queue_t *q, const char *node,
			  const char *addr, const char *host);
int azml_addr_queue_finish(azml_addr_queue_t *q);

/* Hand NODES back to Slurm now: power_down_force with REASON, so that their
 * jobs are requeued at once and the reason is kept. */
int azml_nodes_power_down_force(const char *nodes, const char *reason);

/* DOWN with REASON (held: a back-off). */
int azml_nodes_down(const char *nodes, const char *reason);

/* RESUME (from DOWN/DRAIN). */
int azml_nodes_resume(const char *nodes);

/* power_up: keep a node powered (MinNodes). */
int azml_nodes_power_up(const char *nodes);

/* power_down_asap: drained with REASON, powered down (SuspendProgram)
 * once its jobs end, at once when it has none. */
int azml_nodes_power_down_asap(const char *nodes, const char *reason);
/* DRAIN with REASON. */
int azml_nodes_drain(const char *nodes, const char *reason);

typedef struct {
	char name[96];
	uint32_t state;		/* node_states and flags */
	char reason[256];
	char state_str[64];	/* as sinfo's %t would say it */
	long slurmd_start;	/* its slurmd's last registration (epoch s),
				 * 0: none */
	long last_busy;		/* when it last had a job (epoch s), 0: never */
	long reason_time;	/* when REASON was set (epoch s), 0: unknown */
	int cpus;
} azml_node_t;

/* Job JOB_ID's constraint (its features), malloc'd; NULL: none, or
 * slurmctld did not say (Slurm 22.05's resume file lacks it). */
char *azml_job_features(uint32_t job_id);

/* A mix's NODE powered down: ActiveFeatures = its AvailableFeatures
 * again.  0, or -1 (logged). */
int azml_nodes_features_reset(const char *node);

/* Every node slurmctld knows.  Returns the count and a malloc'd array, or
 * -1 when slurmctld does not answer. */
int azml_nodes_load(azml_node_t **out);

/*
 * Whether slurmctld has node NODE, a FUTURE slot included: 1 yes (*STATE
 * receives its state when STATE is not NULL), 0 no, -1 it does not answer.
 */
int azml_nodes_known(const char *node, uint32_t *state);

/* Create dynamic node(s) from LINE, a slurm.conf NodeName line
 * ('scontrol create'), or delete dynamic node NODE ('scontrol delete';
 * slurmctld refuses one with jobs).  0 done, -1 (logged, errno set). */
int azml_nodes_create(const char *line);
int azml_nodes_delete(const char *node);

/* power_down: Slurm runs SuspendProgram for NODES (idle ones). */
int azml_nodes_power_down(const char *nodes, const char *reason);

/* Requeue every job running on NODE.  Returns how many, -1 on error. */
int azml_nodes_requeue_jobs(const char *node);

/*
 * A job handed back by one of its nodes, once slurmctld has requeued it:
 * with NOW, its begin time set to now (Slurm delays a requeued job by
 * 120 s); NOTE appended to its AdminComment (the job's history, kept to
 * 1000 bytes).  One try, no waiting: 1 done, 0 not requeued yet (try
 * again), -1 the job is gone or ended (give up).
 */
int azml_job_reschedule(uint32_t job_id, bool now, const char *note);

/* ---- which node this machine is (a scale set's VM) ----
 *
 * A scale set's VMs share one userData that names no node; the resume
 * program pairs each VM with a node by setting the node's NodeHostname to
 * the VM's computerName and its NodeAddr to the VM's private IP.  The VM
 * finds its node back: (1) the one node whose NodeHostname is HOST (case
 * insensitive; an unpaired node keeps NodeHostname = its name, and counts
 * only when HOST is that name); else (2) the one node whose NodeAddr is one
 * of ADDRS (this machine's addresses, loopback excluded). */

typedef struct {
	const char *name, *hostname, *addr;	/* NULL: unset */
} azml_node_addr_t;

typedef struct {
	char name[96];		/* the node */
	char hostname[256];	/* its NodeHostname */
	char addr[64];		/* its NodeAddr */
	bool by_addr;		/* matched by NodeAddr, not NodeHostname */
} azml_node_self_t;

/*
 * Pure: which of the N NODES is this machine.  Returns its index, -1 when
 * none is, or -2 when several are (their names, comma-separated and cut to
 * WN bytes, in WHY).  *BY_ADDR (may be NULL) is set with an index.
 */
int azml_nodes_match_self(const azml_node_addr_t *nodes, size_t n,
			  const char *host, const char *const *addrs,
			  size_t naddrs, bool *by_addr, char *why, size_t wn);

/*
 * The same against slurmctld (slurm_load_node).  Returns 1 with *OUT set;
 * 0 when no node is this machine yet (ERR "") or slurmctld does not answer
 * (why in ERR): try again; -1 when several nodes are, or slurmctld refused
 * the request (why in ERR).
 */
int azml_nodes_find_self(const char *host, const char *const *addrs,
			 size_t naddrs, azml_node_self_t *out, char *err,
			 size_t en);

bool azml_node_powered_down(const azml_node_t *n);
bool azml_node_powering_up(const azml_node_t *n);

#endif

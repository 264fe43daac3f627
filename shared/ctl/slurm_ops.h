/*
 * slurm_ops.h - what the controller's decisions tell slurmctld, as a table
 * of functions: the power-save engine (power.h) and the capacity holds
 * (capacity.h) call slurmctld only through one, so that a test can put its
 * own in and record the calls.  Each function gets the table's ARG.
 */
#ifndef AZML_SLURM_OPS_H
#define AZML_SLURM_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "nodes.h"

typedef struct {
	void *arg;	/* passed to each function; the table's owner's */
	/* hand NODES back now, with REASON (nodes.h) */
	int (*power_down_force)(void *arg, const char *nodes,
				const char *reason);
	/* DOWN, DRAIN with REASON; RESUME */
	int (*down)(void *arg, const char *nodes, const char *reason);
	int (*drain)(void *arg, const char *nodes, const char *reason);
	int (*resume)(void *arg, const char *nodes);
	/* NodeAddr/NodeHostname of NODE (may be sent later) */
	void (*set_addr)(void *arg, const char *node, const char *addr,
			 const char *host);
	/* azml_job_reschedule(): 1 done, 0 try again, -1 give up */
	int (*job_reschedule)(void *arg, uint32_t job_id, bool now,
			      const char *note);
	/* every node slurmctld knows: the count and a malloc'd array (the
	 * caller frees it), or -1 */
	int (*load)(void *arg, azml_node_t **out);
	/* NODE's VM is VM_ID of SIZE: its ActiveFeatures FEATURES and its
	 * instance (azml_node_set_instance); NULL in a table: not told */
	int (*set_instance)(void *arg, const char *node, const char *features,
			    const char *size, const char *vm_id);
	/* a mix's NODE powered down: ActiveFeatures = all of its features
	 * again (azml_nodes_features_reset); NULL in a table: not told */
	int (*reset_features)(void *arg, const char *node);
} azml_slurm_ops_t;

/*
 * The real one: nodes.h's functions (call azml_nodes_init() first).  ARG
 * is NULL, or an azml_addr_queue_t that set_addr pushes onto (NULL: each
 * address is sent at once); the others ignore it.
 */
extern const azml_slurm_ops_t azml_slurm_ops_default;

#endif

/*
 * route.h - which compute targets a job may run on, from its --azure-*
 * options and the Fallback= targets of the clusters it selects.  Pure: no
 * I/O, no allocation on the decision path; it runs inside slurmctld's
 * job_submit under its locks.
 *
 * A router is an immutable index built once per azureml.conf; it takes
 * ownership of the configuration.
 */
#ifndef AZML_ROUTE_H
#define AZML_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

typedef struct azml_router azml_router_t;

/* The --azure-* options of one job (NULL / false: not given). */
typedef struct {
	const char *compute;
	const char *vm_size;
	const char *priority;
	const char *cuda;
	bool isolated;
	const char *partition;	/* the job's -p list, or NULL */
	bool wants_gpu;		/* --gpus, --gres=gpu, ... */
} azml_route_req_t;

typedef enum {
	AZML_ROUTE_NONE = 0,	/* leave the job alone: no --azure-* option,
				 * and no fallback to add to its -p list */
	AZML_ROUTE_OK,		/* OUT holds the partition list */
	AZML_ROUTE_ERROR,	/* OUT holds the message for the user */
} azml_route_rc_t;

/* Build the index.  Takes CONF (error-free) on success; NULL on ENOMEM. */
azml_router_t *azml_router_create(azml_conf_t *conf);
void azml_router_destroy(azml_router_t *r);
const azml_conf_t *azml_router_conf(const azml_router_t *r);

/*
 * Decide.  OUT (OUTLEN bytes) receives a comma-separated partition list or
 * an "azureml: ..." message; it is always NUL-terminated, and a list that
 * does not fit is an error, never a list cut short.
 *
 * The list holds the targets the options select (--azure-compute, else the
 * clusters of --azure-vm-size: those whose VmSize= is that size or a mix
 * that has it, else every target that passes the filters, each time within
 * the job's -p list), then the Fallback= targets of each selected cluster,
 * in Fallback= order, once each, leaving out those that fail the job's own
 * filters (VM size, priority, CUDA, isolated, GPUs; its -p list does not
 * restrict fallbacks).  A job without --azure-* options gets OK
 * with its -p list as given plus the fallbacks of the clusters it names
 * (GPU jobs: those with GPUs) when there are any to add; else NONE, as
 * when its -p list alone leaves no room in OUT for more.
 */
azml_route_rc_t azml_route(const azml_router_t *r, const azml_route_req_t *req,
			   char *out, size_t outlen);

/*
 * The constraint a job must carry so that it runs on the size it asked for:
 * with --azure-vm-size=A (a size of a cluster's mix, or of a single-size
 * cluster or instance), A as the configuration spells it, ANDed with the
 * job's own FEATURES (its --constraint, or NULL): "A", "X&A", or "(X)&A"
 * when X has an OR at its top level.  Call it once azml_route said OK.
 *
 * Returns NONE (leave the job's features as they are: no --azure-vm-size,
 * or FEATURES requires A already), OK with the new expression in OUT, or
 * ERROR with the message in OUT (an expression with brackets, counts or
 * parentheses that '&' cannot join without nesting them, as Slurm
 * refuses; or one too long for OUT).  Pure, like azml_route.
 */
azml_route_rc_t azml_route_features(const azml_router_t *r,
				    const azml_route_req_t *req,
				    const char *features, char *out,
				    size_t outlen);

/*
 * Syntax of one option value as the user typed it, without a configuration
 * (SPANK checks it before submission).  OPT is the long option name without
 * dashes ("azure-cuda").  Returns 0, or -1 with the message in MSG.
 */
int azml_route_check_option(const char *opt, const char *value, char *msg,
			    size_t n);

#endif

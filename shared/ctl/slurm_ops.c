/*
 * slurm_ops.c - the real table of slurm_ops.h: nodes.h's functions.
 */
#include "config.h"

#include "slurm_ops.h"

static int _power_down_force(void *arg, const char *nodes, const char *reason)
{
	return azml_nodes_power_down_force(nodes, reason);
}

static int _down(void *arg, const char *nodes, const char *reason)
{
	return azml_nodes_down(nodes, reason);
}

static int _drain(void *arg, const char *nodes, const char *reason)
{
	return azml_nodes_drain(nodes, reason);
}

static int _resume(void *arg, const char *nodes)
{
	return azml_nodes_resume(nodes);
}

static void _set_addr(void *arg, const char *node, const char *addr,
		      const char *host)
{
	azml_addr_queue_push(arg, node, addr, host);
}

static int _job_reschedule(void *arg, uint32_t job_id, bool now,
			   const char *note)
{
	return azml_job_reschedule(job_id, now, note);
}

static int _load(void *arg, azml_node_t **out)
{
	return azml_nodes_load(out);
}

static int _set_instance(void *arg, const char *node, const char *features,
			 const char *size, const char *vm_id)
{
	return azml_node_set_instance(node, features, size, vm_id);
}

static int _reset_features(void *arg, const char *node)
{
	return azml_nodes_features_reset(node);
}

const azml_slurm_ops_t azml_slurm_ops_default = {
	.arg = NULL,
	.power_down_force = _power_down_force,
	.down = _down,
	.drain = _drain,
	.resume = _resume,
	.set_addr = _set_addr,
	.job_reschedule = _job_reschedule,
	.load = _load,
	.set_instance = _set_instance,
	.reset_features = _reset_features,
};

/*
 * nodes.c - slurmctld's view of nodes through libslurm (see nodes.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "log.h"
#include "nodes.h"

void azml_nodes_init(void)
{
	slurm_init(NULL);
}

static int _update(update_node_msg_t *m, const char *what)
{
	if (slurm_update_node(m) == SLURM_SUCCESS)
		return 0;
	azml_log_error("couldn't %s %s: %s", what, m->node_names,
		       slurm_strerror(slurm_get_errno()));
	return -1;
}

int azml_nodes_set_addr(const char *nodes, const char *addr, const char *host)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) nodes;
	m.node_addr = (char *) addr;
	m.node_hostname = (char *) host;
	return _update(&m, "set the address of");
}

static int _state(const char *nodes, uint32_t state, const char *reason,
		  const char *what)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) nodes;
	m.node_state = state;
	m.reason = (char *) reason;
	return _update(&m, what);
}

int azml_nodes_power_down_force(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_POWER_DOWN | NODE_STATE_POWERED_DOWN,
		      reason, "power down");
}

int azml_nodes_down(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_DOWN, reason, "set DOWN");
}

int azml_nodes_resume(const char *nodes)
{
	return _state(nodes, NODE_RESUME, NULL, "resume");
}

int azml_nodes_power_up(const char *nodes)
{
	return _state(nodes, NODE_STATE_POWER_UP, NULL, "power up");
}

int azml_nodes_drain(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_DRAIN, reason, "drain");
}

bool azml_node_powered_down(const azml_node_t *n)
{
	return (n->state & NODE_STATE_POWERED_DOWN) &&
	       !(n->state & NODE_STATE_POWERING_UP);
}

bool azml_node_powering_up(const azml_node_t *n)
{
	return n->state & NODE_STATE_POWERING_UP;
}

static void _state_str(azml_node_t *n)
{
	const char *base;
	uint32_t s = n->state;

	switch (s & NODE_STATE_BASE) {
	case NODE_STATE_DOWN: base = "down"; break;
	case NODE_STATE_IDLE: base = "idle"; break;
	case NODE_STATE_ALLOCATED: base = "alloc"; break;
	case NODE_STATE_MIXED: base = "mix"; break;
	case NODE_STATE_FUTURE: base = "future"; break;
	default: base = "unknown"; break;
	}
	snprintf(n->state_str, sizeof(n->state_str), "%s%s%s%s", base,
		 (s & NODE_STATE_DRAIN) ? "+drain" : "",
		 (s & NODE_STATE_POWERING_UP) ? "#" :
		 (s & NODE_STATE_POWERING_DOWN) ? "%" :
		 (s & NODE_STATE_POWERED_DOWN) ? "~" : "",
		 (s & NODE_STATE_NO_RESPOND) ? "*" : "");
}

int azml_nodes_load(azml_node_t **out)
{
	node_info_msg_t *info = NULL;
	int n = 0;

	if (slurm_load_node(0, &info, SHOW_ALL) != SLURM_SUCCESS) {
		azml_log_error("couldn't read the nodes from slurmctld: %s",
			       slurm_strerror(slurm_get_errno()));
		return -1;
	}
	*out = calloc(info->record_count + 1, sizeof(azml_node_t));
	for (uint32_t i = 0; *out && i < info->record_count; i++) {
		node_info_t *ni = &info->node_array[i];
		azml_node_t *a = &(*out)[n];

		if (!ni->name)
			continue;
		snprintf(a->name, sizeof(a->name), "%s", ni->name);
		a->state = ni->node_state;
		snprintf(a->reason, sizeof(a->reason), "%s",
			 ni->reason ? ni->reason : "");
		_state_str(a);
		n++;
	}
	slurm_free_node_info_msg(info);
	return n;
}

int azml_nodes_requeue_jobs(const char *node)
{
	job_info_msg_t *jobs = NULL;
	int n = 0;

	if (slurm_load_jobs(0, &jobs, SHOW_ALL) != SLURM_SUCCESS)
		return -1;
	for (uint32_t i = 0; i < jobs->record_count; i++) {
		slurm_job_info_t *j = &jobs->job_array[i];
		hostlist_t hl;

		if (j->job_state != JOB_RUNNING || !j->nodes)
			continue;
		hl = slurm_hostlist_create(j->nodes);
		if (hl && slurm_hostlist_find(hl, node) >= 0) {
			if (slurm_requeue(j->job_id, 0) == SLURM_SUCCESS)
				n++;
			else
				azml_log_error("couldn't requeue job %u: %s",
					       j->job_id,
					       slurm_strerror(slurm_get_errno()));
		}
		if (hl)
			slurm_hostlist_destroy(hl);
	}
	slurm_free_job_info_msg(jobs);
	return n;
}

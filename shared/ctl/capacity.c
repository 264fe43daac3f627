/*
 * capacity.c - holds of targets Azure has no capacity for (capacity.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slurm/slurm.h>

#include "capacity.h"
#include "log.h"
#include "nodes.h"
#include "slurm_compat.h"

#define HOSTLIST_MAX 65536

bool azml_capacity_code(const char *code)
{
	static const char *codes[] = {
		"AllocationFailed", "ZonalAllocationFailed", "SkuNotAvailable",
		"OverconstrainedAllocationRequest",
		"OverconstrainedZonalAllocationRequest",
	};

	for (size_t i = 0; code && i < sizeof(codes) / sizeof(*codes); i++)
		if (!strcmp(code, codes[i]))
			return true;
	return false;
}

/* A hostlist string of the nodes of T that PICK accepts (NULL: none). */
static char *_nodes_of(const azml_conf_t *conf, const azml_target_t *t,
		       const azml_node_t *nodes, int nn, const char *except,
		       bool (*pick)(const azml_node_t *))
{
	azml_hostlist_t hl = slurm_hostlist_create("");
	char *s = NULL;
	int count = 0;

	if (!hl)
		return NULL;
	for (int i = 0; i < nn; i++) {
		if (except && !strcmp(nodes[i].name, except))
			continue;
		if (azml_conf_target_of_node(conf, nodes[i].name) != t ||
		    !pick(&nodes[i]))
			continue;
		slurm_hostlist_push_host(hl, nodes[i].name);
		count++;
	}
	if (count && (s = malloc(HOSTLIST_MAX)) &&
	    slurm_hostlist_ranged_string(hl, HOSTLIST_MAX, s) < 0) {
		azml_log_error("target %s: its nodes do not fit in a %d-byte "
			       "hostlist", t->name, HOSTLIST_MAX);
		free(s);
		s = NULL;
	}
	slurm_hostlist_destroy(hl);
	return s;
}

/* Idle and without a VM, or on its way there: what a job would try next. */
static bool _unused(const azml_node_t *n)
{
	return ((n->state & NODE_STATE_POWERED_DOWN) ||
		(n->state & NODE_STATE_POWERING_DOWN)) &&
	       !(n->state & NODE_STATE_POWERING_UP) &&
	       !(n->state & NODE_STATE_DRAIN);
}

int azml_capacity_hold(const azml_conf_t *conf, const azml_target_t *t,
		       const char *node, const char *code, char *reason,
		       size_t n)
{
	return azml_capacity_hold_ops(&azml_slurm_ops_default, conf, t, node,
				      code, reason, n);
}

int azml_capacity_hold_ops(const azml_slurm_ops_t *ops,
			   const azml_conf_t *conf, const azml_target_t *t,
			   const char *node, const char *code, char *reason,
			   size_t n)
{
	azml_hold_t h;
	azml_node_t *nodes = NULL;
	int nn, rc = 0;
	char *others;

	if (azml_state_hold_add(conf, t, code, &h)) {
		/* no record: hold it for its base time all the same */
		snprintf(h.code, sizeof(h.code), "%s", code);
		h.until = time(NULL) + (t->capacity_backoff > 0 ?
					t->capacity_backoff : 600);
		rc = -1;
	}
	azml_state_hold_reason(reason, n, &h);
	if (h.since == time(NULL) || rc)
		azml_log_error("target %s: %s (outage %d in a row; its powered-"
			       "down nodes are drained until then)", t->name,
			       reason, h.level ? h.level : 1);
	/* first the others, so that the requeued job cannot take them */
	if ((nn = ops->load(ops->arg, &nodes)) > 0 &&
	    (others = _nodes_of(conf, t, nodes, nn, node, _unused))) {
		ops->drain(ops->arg, others, reason);
		free(others);
	}
	free(nodes);
	ops->power_down_force(ops->arg, node, reason);
	ops->drain(ops->arg, node, reason);
	return rc;
}

void azml_capacity_refuse(const char *node, const azml_hold_t *h)
{
	azml_capacity_refuse_ops(&azml_slurm_ops_default, node, h);
}

void azml_capacity_refuse_ops(const azml_slurm_ops_t *ops, const char *node,
			      const azml_hold_t *h)
{
	char reason[256];

	azml_state_hold_reason(reason, sizeof(reason), h);
	ops->power_down_force(ops->arg, node, reason);
	ops->drain(ops->arg, node, reason);
}

void azml_capacity_drain(const char *node, const azml_hold_t *h)
{
	azml_capacity_drain_ops(&azml_slurm_ops_default, node, h);
}

void azml_capacity_drain_ops(const azml_slurm_ops_t *ops, const char *node,
			     const azml_hold_t *h)
{
	char reason[256];

	azml_state_hold_reason(reason, sizeof(reason), h);
	ops->drain(ops->arg, node, reason);
}

static bool _capacity_held(const azml_node_t *n)
{
	return azml_state_is_capacity_reason(n->reason);
}

int azml_capacity_lift(const azml_conf_t *conf, bool sweep, bool dry)
{
	return azml_capacity_lift_ops(&azml_slurm_ops_default, conf, sweep,
				      dry);
}

int azml_capacity_lift_ops(const azml_slurm_ops_t *ops,
			   const azml_conf_t *conf, bool sweep, bool dry)
{
	azml_node_t *nodes = NULL;
	int nn = -1, lifted = 0;

	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];
		bool recorded;
		azml_hold_t h;
		char *held;

		if (t->kind == AZML_ATTACHED ||
		    azml_state_hold_get(conf, t, &h) != 0)
			continue;	/* in force, or unreadable */
		recorded = h.since && !h.lifted;
		if (!recorded && !sweep)
			continue;	/* never held, or let go */
		if (nn < 0 && (nn = ops->load(ops->arg, &nodes)) < 0)
			return lifted;
		held = _nodes_of(conf, t, nodes, nn, NULL, _capacity_held);
		if (!recorded && !held)
			continue;
		/* a swept node held with no hold recorded (StateDir lost, an
		 * older release) is let go as well */
		azml_log_info("target %s: the capacity hold (%s) is over; %s %s",
			      t->name, recorded ? h.code : "not recorded",
			      dry ? "would resume" : "resuming",
			      held ? held : "no node (none is held)");
		if (!dry) {
			if (held)
				ops->resume(ops->arg, held);
			if (recorded)
				azml_state_hold_lifted(conf, t);
		}
		free(held);
		lifted++;
	}
	free(nodes);
	return lifted;
}

/*
 * reconcile.c - 'slurm-azureml reconcile' as plan -> apply (reconcile.h):
 * the decide step; the gather step is in reconcile_gather.c, the apply
 * step in reconcile_apply.c.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <slurm/slurm.h>

#include "acct.h"
#include "idle.h"
#include "log.h"
#include "reconcile.h"
#include "slurm_compat.h"

#define HOSTLIST_MAX 65536

const azml_rc_ops_t azml_rc_slurm_ops = {
	.load = azml_nodes_load,
	.power_up = azml_nodes_power_up,
	.power_down = azml_nodes_power_down,
	.power_down_force = azml_nodes_power_down_force,
	.resume = azml_nodes_resume,
	.set_addr = azml_nodes_set_addr,
	.power_down_asap = azml_nodes_power_down_asap,
	.drain = azml_nodes_drain,
};

static const azml_node_t *_find(const azml_node_t *nodes, int n,
				const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

/* S (Azure's: a name, a tag, a message) escaped for printing (azml_escape);
 * a result lasts for the next three calls (reconcile.h). */
const char *azml_rc_esc(const char *s)
{
	static char buf[4][1100];
	static int k;

	k = (k + 1) % 4;
	return azml_escape(s, buf[k], sizeof(buf[k]));
}

/* ---------------------------------------------------------------------- */
/* decide */

typedef struct {
	const azml_rc_input_t *in;
	const azml_conf_t *conf;
	long now;
	bool dry;
	azml_rc_plan_t *plan;
	azml_pair_t *pairs;	/* IN's; a pairing forgotten has vm "" */
	azml_jvm_t *jvm;	/* the journal's VMs at NOW */
	size_t njvm;
	bool nomem;
} dc_t;

/* A new action of PLAN saying FMT: NULL when out of memory. */
__attribute__((format(printf, 3, 4)))
static azml_rc_action_t *_add(dc_t *d, azml_rc_kind_t kind,
			      const char *fmt, ...)
{
	azml_rc_plan_t *p = d->plan;
	azml_rc_action_t *a;
	va_list ap;

	if (p->n == p->cap) {
		size_t nc = p->cap ? p->cap * 2 : 32;
		azml_rc_action_t *more = realloc(p->a, nc * sizeof(*more));

		if (!more) {
			d->nomem = true;
			return NULL;
		}
		p->a = more;
		p->cap = nc;
	}
	a = &p->a[p->n++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	va_start(ap, fmt);
	vsnprintf(a->text, sizeof(a->text), fmt, ap);
	va_end(ap);
	if (kind != AZML_RC_NOTE)
		p->actions++;
	return a;
}

static bool _active(const dc_t *d, const char *node)
{
	for (size_t i = 0; node && i < d->in->nactive; i++)
		if (!strcmp(d->in->active[i], node))
			return true;
	return false;
}

static const char *_doing(const dc_t *d, const char *would, const char *doing)
{
	return d->dry ? would : doing;
}

/* The node a VM serves: its name, as we name each VM after its node (a
 * slurm-node tag is Azure's answer, and never picks a node); a scale set's
 * VM serves the node StateDir pairs it with ("" when none). */
static const char *_vm_node(const dc_t *d, const azml_vm_result_t *v)
{
	if (!v->scale_set[0])
		return v->name;
	for (size_t i = 0; i < d->in->npairs; i++)
		if (!strcmp(d->pairs[i].vm, v->name) &&
		    !strcasecmp(d->in->pair_set[i], v->scale_set))
			return d->pairs[i].node;
	return "";
}

/* Capacity holds that are over: the nodes still held by one resume.  A
 * node held with no hold on record (StateDir lost) is let go as well. */
static void _lift_holds(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (size_t i = 0; i < d->conf->ntargets; i++) {
		const azml_target_t *t = &d->conf->targets[i];
		const azml_hold_t *h = &in->holds[i];
		azml_hostlist_t hl;
		azml_rc_action_t *a;
		bool recorded;
		char *held = NULL;
		int count = 0;

		if (in->hold_rc[i] != 0)
			continue;	/* attached, unreadable, in force */
		recorded = h->since && !h->lifted;
		if (recorded && h->until > d->now)
			continue;	/* in force at NOW */
		if (!(hl = slurm_hostlist_create(""))) {
			d->nomem = true;
			return;
		}
		for (int k = 0; k < in->nn; k++)
			if (azml_conf_target_of_node(d->conf,
						     in->nodes[k].name) == t &&
			    azml_state_is_capacity_reason(in->nodes[k].reason)) {
				slurm_hostlist_push_host(hl, in->nodes[k].name);
				count++;
			}
		if (count && (held = malloc(HOSTLIST_MAX)) &&
		    slurm_hostlist_ranged_string(hl, HOSTLIST_MAX, held) < 0) {
			free(held);
			held = NULL;
		}
		slurm_hostlist_destroy(hl);
		if (count && !held) {
			d->nomem = true;
			return;
		}
		if (!recorded && !held)
			continue;
		a = _add(d, AZML_RC_LIFT_HOLD, "target %s: the capacity hold "
			 "(%s) is over; %s %s", t->name, recorded ? h->code :
			 "not recorded", _doing(d, "would resume", "resuming"),
			 held ? held : "no node (none is held)");
		if (!a) {
			free(held);
			return;
		}
		a->t = t;
		a->list = held;
		a->recorded = recorded;
	}
}

/* Attached nodes that slurmctld forgot: a restart turns every node that
 * slurm.conf says is FUTURE back into a slot, so the nodes accepted by
 * 'attach --accept' are given their address and resumed again. */
static void _restore_attached(dc_t *d)
{
	for (size_t i = 0; i < d->in->nattached; i++) {
		const azml_rc_attached_t *r = &d->in->attached[i];
		const azml_target_t *t = azml_conf_target_of_node(d->conf,
								  r->node);
		azml_rc_action_t *a;

		if (!t || t->kind != AZML_ATTACHED ||
		    _find(d->in->nodes, d->in->nn, r->node))
			continue;	/* not ours any more, or slurmctld has it */
		if (!r->report) {
			_add(d, AZML_RC_NOTE, "attached node %s: its record in "
			     "StateDir is not a report; skipped", r->node);
			continue;
		}
		if (!(a = _add(d, AZML_RC_RESTORE_ATTACHED, "attached node %s "
			       "is a FUTURE slot again (slurmctld restarted); "
			       "%s it at %s", r->node, _doing(d,
			       "would restore", "restoring"), r->addr)))
			return;
		a->t = t;
		snprintf(a->node, sizeof(a->node), "%s", r->node);
		snprintf(a->addr, sizeof(a->addr), "%s", r->addr);
		snprintf(a->host, sizeof(a->host), "%s", r->host);
	}
}

/* Whether a program works on some node of T (a resume may be about to
 * pair a set's new VM). */
static bool _target_busy(const dc_t *d, const azml_target_t *t)
{
	for (int i = 0; i < d->in->nn; i++)
		if (azml_conf_target_of_node(d->conf,
					     d->in->nodes[i].name) == t &&
		    _active(d, d->in->nodes[i].name))
			return true;
	return false;
}

/* Each set: pairings whose VM is gone are forgotten, a capacity that
 * disagrees with its VMs and nodes is said, an empty set is deleted with
 * --prune-scale-sets. */
static void _scale_sets(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (size_t si = 0; si < in->nsets; si++) {
		const azml_rc_set_t *s = &in->sets[si];
		const azml_vm_result_t *got = &s->got;
		size_t paired = 0;
		azml_rc_action_t *a;

		for (size_t i = 0; i < in->npairs; i++) {
			bool listed = false;

			if (strcasecmp(in->pair_set[i], s->name))
				continue;
			for (size_t k = 0; k < in->nvms && !listed; k++)
				listed = !strcmp(in->vms[k].name,
						 d->pairs[i].vm);
			if (listed) {
				paired++;
				continue;
			}
			if (_active(d, d->pairs[i].node))
				continue;
			if (!(a = _add(d, AZML_RC_FORGET_PAIR, "node %s: its VM "
				       "%s of scale set %s is gone; %s",
				       d->pairs[i].node, d->pairs[i].vm,
				       s->name, _doing(d, "would forget the "
				       "pairing", "forgetting the pairing"))))
				return;
			snprintf(a->node, sizeof(a->node), "%s",
				 d->pairs[i].node);
			snprintf(a->set, sizeof(a->set), "%s", s->name);
			d->pairs[i].vm[0] = '\0';	/* pairs with nothing */
		}
		if (!s->answered || (!got->ok && got->http_status == 404)) {
			if (s->listed)
				_add(d, AZML_RC_NOTE, "scale set %s: not found, "
				     "yet %zu VMs say they are in it", s->name,
				     s->listed);
			continue;
		}
		if (!got->ok) {
			_add(d, AZML_RC_NOTE, "scale set %s: couldn't read it: "
			     "%s: %s", s->name, azml_rc_esc(got->code),
			     azml_rc_esc(got->message));
			continue;
		}
		if (got->capacity >= 0 && (size_t) got->capacity != s->listed)
			_add(d, AZML_RC_NOTE, "scale set %s: capacity %ld, but "
			     "%zu VMs listed and %zu paired with nodes; the "
			     "orphans below go, Azure's count follows", s->name,
			     got->capacity, s->listed, paired);
		if (in->prune && !s->listed && !paired && got->capacity == 0 &&
		    !_target_busy(d, s->t)) {
			if (!(a = _add(d, AZML_RC_DELETE_SET, "scale set %s is "
				       "empty; %s", s->name, _doing(d,
				       "would delete it (--prune-scale-sets)",
				       "deleting it (--prune-scale-sets)"))))
				return;
			a->t = s->t;
			snprintf(a->set, sizeof(a->set), "%s", s->name);
		}
	}
}

/* ---- the lifecycle journal ---- */

static const azml_jvm_t *_journal_find(const dc_t *d,
				       const azml_vm_result_t *v)
{
	const azml_jvm_t *f = NULL;

	for (size_t i = 0; i < d->njvm; i++) {
		const azml_jvm_t *j = &d->jvm[i];

		if (j->end)
			continue;
		if (v->vm_id[0] ? !strcmp(j->first.id, v->vm_id) :
		    !strcmp(j->first.vm, v->name))
			f = j;
	}
	return f;
}

static void _jadd(dc_t *d, azml_jkind_t k, long at, const char *vm,
		  const azml_vm_result_t *v, const char *node,
		  const azml_target_t *t, const char *what)
{
	azml_rc_action_t *a;
	azml_jrec_t x;

	if (azml_jrec_make(&x, k, at, vm, v ? v->vm_id : NULL, node,
			   t ? t->name : NULL, v && v->size[0] ? v->size :
			   t ? t->vm_size : NULL, v ? v->spot : false,
			   v && v->zone[0] ? v->zone : NULL))
		return;
	if ((a = _add(d, AZML_RC_JOURNAL_ADD, "journal: VM %s: %s; %s", vm,
		      what, _doing(d, "would record it", "recording it"))))
		a->rec = x;
}

/* The node a VM of the listing is journaled under: its name (a set's VM:
 * its pairing), when that is a name; else NULL. */
static const char *_journal_node(const dc_t *d, const azml_vm_result_t *v)
{
	const char *node = v->scale_set[0] ? NULL : v->name;

	for (size_t k = 0; v->scale_set[0] && k < d->in->npairs; k++)
		if (!strcmp(d->pairs[k].vm, v->name))
			node = d->pairs[k].node;
	/* Azure's tag names no node of ours unless it is a name */
	if (node && (!*node || strlen(node) >= AZML_JNAME ||
		     strspn(node, "abcdefghijklmnopqrstuvwxyz"
			    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
		     strlen(node)))
		node = NULL;
	return node;
}

/* A VM of the listing against the journal. */
static void _journal_vm(dc_t *d, const azml_vm_result_t *v)
{
	const char *node = _journal_node(d, v);
	const azml_jvm_t *j = _journal_find(d, v);
	const azml_target_t *t = NULL;
	bool deallocated = !strcasecmp(v->power, "deallocated") ||
			   !strcasecmp(v->power, "deallocating");
	const azml_rc_input_t *in = d->in;
	char what[200];

	if (node)
		t = azml_conf_target_of_node(d->conf, node);
	if (node && _active(d, node))
		return;
	if (!j) {
		snprintf(what, sizeof(what), "Azure has it (node %s), the "
			 "journal does not: created at %s", node ? node : "none",
			 v->created > 0 ? "Azure's timeCreated" :
			 "the time of this pass");
		_jadd(d, AZML_J_CREATED, v->created > 0 ? v->created : d->now,
		      v->name, v, node, t, what);
		if (deallocated)
			_jadd(d, AZML_J_DEALLOCATED, d->now, v->name, v, node,
			      t, "deallocated");
		return;
	}
	if (j->nspans && j->span[j->nspans - 1].running == deallocated) {
		_jadd(d, deallocated ? AZML_J_DEALLOCATED : AZML_J_STARTED,
		      d->now, v->name, v, node, t, deallocated ?
		      "deallocated, which the journal missed" :
		      "running again, which the journal missed");
		return;
	}
	for (int k = 0; node && j->nspans && k < in->nn; k++) {
		const azml_jspan_t *s = &j->span[j->nspans - 1];

		if (!strcmp(in->nodes[k].name, node) && s->running &&
		    !s->booted && in->nodes[k].slurmd_start >= s->from &&
		    in->nodes[k].slurmd_start <= d->now)
			_jadd(d, AZML_J_REGISTERED, in->nodes[k].slurmd_start,
			      v->name, v, node, t, "its slurmd registered");
	}
}

/*
 * The journal against Azure's listing and slurmctld: a cut last line is
 * cut; a VM Azure has that the journal does not (its program died before
 * writing) is recorded as created at Azure's timeCreated; one the journal
 * has alive that Azure does not, as deleted now (evicted when its node
 * says Preempt); a stop or start it missed; a registration it lacks, from
 * SlurmdStartTime.  VMs of nodes a program works on are left to it.
 */
static void _journal_check(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	if (!in->journal_read)
		return;
	for (size_t i = 0; i < in->nvms; i++)
		_journal_vm(d, &in->vms[i]);
	for (size_t i = 0; i < d->njvm; i++) {
		const azml_jvm_t *j = &d->jvm[i];
		const azml_node_t *sn = NULL;
		bool listed = false, evicted;
		azml_rc_action_t *a;

		if (j->end)
			continue;
		for (size_t k = 0; k < in->nvms && !listed; k++)
			listed = strcmp(j->first.id, "-") ?
				 !strcmp(in->vms[k].vm_id, j->first.id) :
				 !strcmp(in->vms[k].name, j->first.vm);
		if (listed || (strcmp(j->first.node, "-") &&
			       _active(d, j->first.node)))
			continue;
		if (strcmp(j->first.node, "-"))
			sn = _find(in->nodes, in->nn, j->first.node);
		evicted = sn && !strncmp(sn->reason, "azureml: Preempt", 16);
		if (!(a = _add(d, AZML_RC_JOURNAL_ADD, "journal: VM %s: the "
			       "journal has it, Azure does not: %s now; %s",
			       j->first.vm, evicted ? "evicted" : "deleted",
			       _doing(d, "would record it", "recording it"))))
			return;
		a->rec = j->first;
		a->rec.kind = evicted ? AZML_J_EVICTED : AZML_J_DELETED;
		a->rec.at = d->now;
	}
}

/* ---- VMs and nodes ---- */

/* The target whose scale set is SET, or NULL. */
static const azml_target_t *_set_target(const dc_t *d, const char *set)
{
	for (size_t i = 0; i < d->in->nsets; i++)
		if (!strcasecmp(d->in->sets[i].name, set))
			return d->in->sets[i].t;
	return NULL;
}

/* Why VM V (serving NODE, of target T) is an orphan, or NULL.  *SKIP:
 * say nothing more. */
static const char *_orphan_why(dc_t *d, const azml_vm_result_t *v,
			       const char **node, const azml_target_t *t,
			       const bool *busy)
{
	const azml_node_t *sn = _find(d->in->nodes, d->in->nn, *node);
	char not_ours[512];

	if ((*node)[0] && _active(d, *node))
		return NULL;	/* a resume or delete is in flight */
	/* the listing's word is not enough: the VM's own model */
	if (!azml_arm_vm_ours(d->conf, v, v->scale_set[0] ? v->scale_set :
			      NULL, not_ours, sizeof(not_ours))) {
		_add(d, AZML_RC_NOTE, "VM %s: left alone: %s", azml_rc_esc(v->name),
		     not_ours);
		return NULL;
	}
	if (v->scale_set[0] && !(*node)[0]) {
		bool tb = t && busy[t - d->conf->targets];

		if (!t)
			return NULL;	/* not a set of ours */
		/* a resume may pair it now */
		if (tb || !strcasecmp(v->provisioning, "Creating")) {
			_add(d, AZML_RC_NOTE, "VM %s of scale set %s: no node "
			     "has it yet; left alone (%s)", azml_rc_esc(v->name),
			     v->scale_set, tb ? "a program works on its "
			     "target's nodes" : "Azure is still creating it");
			return NULL;
		}
		*node = "none";
		return "no node has this VM of its scale set";
	}
	if (!t || t->kind == AZML_ATTACHED)
		return "its node is not in azureml.conf";
	if (!sn)
		return "slurmctld does not know its node";
	if (azml_node_powered_down(sn) && t->kind == AZML_CLUSTER)
		return "its node is powered down";
	return NULL;
}

/* 1. VMs whose node is powered down, unknown, or not ours: orphans. */
static void _orphan_vms(dc_t *d)
{
	const azml_rc_input_t *in = d->in;
	/* which set targets a program works on */
	bool *busy = calloc(d->conf->ntargets + 1, sizeof(*busy));

	if (!busy) {
		d->nomem = true;
		return;
	}
	for (size_t i = 0; i < d->conf->ntargets; i++)
		busy[i] = d->conf->targets[i].provisioning ==
			AZML_PROV_SCALE_SET &&
			_target_busy(d, &d->conf->targets[i]);
	for (size_t i = 0; i < in->nvms && !d->nomem; i++) {
		const azml_vm_result_t *v = &in->vms[i];
		const char *node = _vm_node(d, v), *why;
		const azml_target_t *t = v->scale_set[0] ?
			_set_target(d, v->scale_set) :
			azml_conf_target_of_node(d->conf, node);
		azml_rc_action_t *a;
		char tagged[400] = "";

		if (!(why = _orphan_why(d, v, &node, t, busy)))
			continue;
		if (v->node[0] && strcmp(v->node, v->name))
			snprintf(tagged, sizeof(tagged), "\n  (VM %s is tagged "
				 "slurm-node=%.200s; a VM serves the node it "
				 "is named after)", azml_rc_esc(v->name),
				 azml_rc_esc(v->node));
		if (!(a = _add(d, AZML_RC_DELETE_VM, "orphan VM %s (node %s): "
			       "%s%s%s", azml_rc_esc(v->name), azml_rc_esc(node), why,
			       _doing(d, "; would delete it", "; deleting it"),
			       tagged)))
			break;
		a->t = t;
		a->claim = t && t->kind != AZML_ATTACHED;
		snprintf(a->vm, sizeof(a->vm), "%s", v->name);
		snprintf(a->set, sizeof(a->set), "%s", v->scale_set);
		/* the node it serves ("" for a set's VM no node has) */
		snprintf(a->node, sizeof(a->node), "%s", _vm_node(d, v));
	}
	free(busy);
}

/* 2. Nodes that Slurm thinks are up, whose VM is gone. */
static void _nodes_without_vm(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (int i = 0; i < in->nn; i++) {
		const azml_node_t *n = &in->nodes[i];
		const azml_target_t *t = azml_conf_target_of_node(d->conf,
								  n->name);
		azml_rc_action_t *a;
		bool has_vm = false;

		if (!t || t->kind != AZML_CLUSTER ||
		    (n->state & (NODE_STATE_POWERED_DOWN |
				 NODE_STATE_POWERING_UP |
				 NODE_STATE_POWERING_DOWN)) ||
		    _active(d, n->name))
			continue;
		for (size_t k = 0; k < in->nvms && !has_vm; k++)
			has_vm = !strcmp(_vm_node(d, &in->vms[k]), n->name);
		if (has_vm)
			continue;
		if (!(a = _add(d, AZML_RC_NO_VM, "node %s is up in Slurm but "
			       "has no VM%s", n->name, _doing(d,
			       "; would power it down", "; powering it down"))))
			return;
		snprintf(a->node, sizeof(a->node), "%s", n->name);
		snprintf(a->reason, sizeof(a->reason), "azureml: VMNotFound: "
			 "its VM no longer exists");
	}
}

/* 3. Nodes held DOWN after repeated failures, once the back-off is over
 * (no failure on record: at once). */
static void _release_held(dc_t *d)
{
	for (size_t i = 0; i < d->in->nfailures; i++) {
		const azml_rc_failure_t *f = &d->in->failures[i];
		azml_rc_action_t *a;

		if (f->failed_at > 0 && d->now - f->failed_at >= 0 &&
		    d->now - f->failed_at < AZML_BACKOFF)
			continue;
		if (!(a = _add(d, AZML_RC_RELEASE_HELD, "node %s was held after "
			       "repeated failures; %s", f->node, _doing(d,
			       "would release it", "releasing it"))))
			return;
		snprintf(a->node, sizeof(a->node), "%s", f->node);
	}
}

/*
 * JobIdentity=: a VM is made with two identities, the node's (which reads
 * the munge key) and the jobs'.  Once its node has registered, node-init
 * has read the key and started slurmd, and the node identity has done its
 * work: the VM keeps only JobIdentity (an ARM PATCH), and node-init's
 * watcher, seeing IMDS refuse the node identity, lifts its IMDS filter so
 * that jobs can use IMDS.  Reconcile does it rather than the resume
 * program: resume returns before the node registers (it must not block
 * slurmctld), while reconcile runs on a timer, sees the node's state and
 * every VM, and catches up after a controller restart.  A VM still
 * carrying both identities (2 or more) whose node is up gets the PATCH;
 * one with a program working on its node is left for the next pass.
 */
static void _job_identities(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (size_t i = 0; i < in->nvms; i++) {
		const azml_vm_result_t *v = &in->vms[i];
		const char *node = _vm_node(d, v);
		const azml_target_t *t;
		const azml_node_t *sn;
		azml_rc_action_t *a;

		if (v->scale_set[0] || !node[0] || v->identities < 2)
			continue;
		t = azml_conf_target_of_node(d->conf, node);
		if (!t || !t->job_identity || !t->identity)
			continue;
		sn = _find(in->nodes, in->nn, node);
		if (!sn || azml_node_powered_down(sn) ||
		    azml_node_powering_up(sn) || _active(d, node))
			continue;
		if (!(a = _add(d, AZML_RC_NODE_IDENTITY, "VM %s (node %s): its "
			       "node registered; %s the node identity, keeping "
			       "JobIdentity", v->name, node, _doing(d,
			       "would take away", "taking away"))))
			return;
		a->t = t;
		snprintf(a->vm, sizeof(a->vm), "%s", v->name);
		snprintf(a->node, sizeof(a->node), "%s", node);
	}
}

/* 4. MinNodes of cluster T kept powered. */
static void _keep_min_nodes(dc_t *d, const azml_target_t *t)
{
	const azml_node_t *sn;
	char node[128];
	int up = 0;

	for (int k = 1; k <= t->max_nodes; k++) {
		snprintf(node, sizeof(node), "%s-%d", t->name, k);
		sn = _find(d->in->nodes, d->in->nn, node);
		if (sn && !azml_node_powered_down(sn))
			up++;
	}
	for (int k = 1; k <= t->max_nodes && up < t->min_nodes; k++) {
		azml_rc_action_t *a;

		snprintf(node, sizeof(node), "%s-%d", t->name, k);
		sn = _find(d->in->nodes, d->in->nn, node);
		if (!sn || !azml_node_powered_down(sn) ||
		    (sn->state & NODE_STATE_BASE) == NODE_STATE_DOWN)
			continue;
		up++;
		if (!(a = _add(d, AZML_RC_POWER_UP, "cluster %s has fewer than "
			       "MinNodes=%d powered; %s %s", t->name,
			       t->min_nodes, _doing(d, "would power up",
			       "powering up"), node)))
			return;
		a->t = t;
		snprintf(a->node, sizeof(a->node), "%s", sn->name);
	}
}

/*
 * Each cluster with IdleSecondsBeforeScaledown=auto: the idle time that
 * would have cost least over the last week (idle.h), kept in StateDir;
 * then each of its nodes idle that long is powered down (Slurm takes no
 * partition SuspendTime at run time: generate gives it the longest auto
 * may choose, as a backstop).
 */
static void _idle_auto(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (size_t i = 0; i < d->conf->ntargets && !d->nomem; i++) {
		const azml_target_t *t = &d->conf->targets[i];
		azml_idle_learnt_t l;
		azml_rc_action_t *a = NULL;
		int *pick = NULL, np;

		if (!t->idle_auto || t->kind != AZML_CLUSTER)
			continue;
		azml_idle_learn(d->conf, t, in->have_jobs, in->jobs, in->njobs,
				d->jvm, d->njvm, in->idle_learnt[i], d->now,
				&l);
		switch (l.how) {
		case AZML_IDLE_NO_JOBS:
			a = _add(d, AZML_RC_NOTE, "cluster %s: IdleSecondsBefore"
			     "Scaledown=auto keeps %ld s: no job records to "
			     "learn from (%s)", t->name, l.was, in->jobs_why);
			break;
		case AZML_IDLE_NO_GAPS:
			a = _add(d, AZML_RC_NOTE, "cluster %s: IdleSecondsBefore"
			     "Scaledown=auto keeps %ld s: no idle gap has ended "
			     "in %d days (a gap ends when a job starts)",
			     t->name, l.was, AZML_IDLE_LEARN_DAYS);
			break;
		case AZML_IDLE_NOMEM:
			a = _add(d, AZML_RC_NOTE, "cluster %s: IdleSecondsBefore"
			     "Scaledown=auto keeps %ld s: out of memory",
			     t->name, l.was);
			break;
		case AZML_IDLE_UNCHANGED:
			a = _add(d, AZML_RC_NOTE, "cluster %s: IdleSecondsBefore"
			     "Scaledown=auto: %ld s (unchanged; %zu idle gap%s "
			     "in %d days, a boot bills %.0f s)", t->name, l.was,
			     l.ngaps, l.ngaps == 1 ? "" : "s",
			     AZML_IDLE_LEARN_DAYS, l.boot);
			break;
		case AZML_IDLE_CHANGED:
			if (!(a = _add(d, AZML_RC_IDLE_SET, "cluster %s: Idle"
				       "SecondsBeforeScaledown=auto: %s %ld s, "
				       "was %ld s (%zu idle gap%s in %d days, "
				       "a boot bills %.0f s%s)", t->name,
				       _doing(d, "would take", "taking"),
				       l.seconds, l.was, l.ngaps,
				       l.ngaps == 1 ? "" : "s",
				       AZML_IDLE_LEARN_DAYS, l.boot, l.nboots ?
				       "" : ", assumed: no boot journaled")))
				return;
			a->value = l.seconds;
			break;
		}
		if (!a)
			return;
		a->t = t;	/* apply: Azure's actions end before these */
		/* its nodes idle that long go */
		if ((np = azml_idle_pick(t, in->nodes, in->nn, l.seconds, d->now,
					 &pick)) < 0) {
			d->nomem = true;
			return;
		}
		for (int k = 0; k < np; k++) {
			const azml_node_t *n = &in->nodes[pick[k]];

			if (!(a = _add(d, AZML_RC_IDLE_DOWN, "cluster %s: node "
				       "%s idle %ld s >= %ld s; %s", t->name,
				       n->name, d->now - n->last_busy,
				       l.seconds, _doing(d, "would power it "
				       "down", "powering it down"))))
				break;
			a->t = t;
			a->value = d->now - n->last_busy;
			snprintf(a->node, sizeof(a->node), "%s", n->name);
			snprintf(a->reason, sizeof(a->reason), "azureml: idle "
				 "%ld s (IdleSecondsBeforeScaledown=auto)",
				 l.seconds);
		}
		free(pick);
	}
}

/* ---- health: a node a health check drained ---- */

/* An UNHEALTHY record of NODE at or after SINCE. */
static bool _unhealthy_recorded(const dc_t *d, const char *node, long since)
{
	for (size_t i = 0; i < d->in->njrec; i++) {
		const azml_jrec_t *r = &d->in->jrec[i];

		if (r->kind == AZML_J_UNHEALTHY && r->at >= since &&
		    !strcmp(r->node, node))
			return true;
	}
	return false;
}

/* VMs of SIZE replaced in the hour before NOW: the journal's and this
 * plan's. */
static int _replaced(const dc_t *d, const char *size)
{
	int n = 0;

	for (size_t i = 0; i < d->in->njrec; i++) {
		const azml_jrec_t *r = &d->in->jrec[i];

		n += r->kind == AZML_J_REPLACED && r->at > d->now - 3600 &&
		     r->at <= d->now && !strcasecmp(r->size, size);
	}
	for (size_t i = 0; i < d->plan->n; i++)
		n += d->plan->a[i].kind == AZML_RC_REPLACE &&
		     !strcasecmp(d->plan->a[i].rec.size, size);
	return n;
}

/* T's powered-down nodes, not drained: a hostlist (malloc'd), or NULL. */
static char *_powered_down_of(const dc_t *d, const azml_target_t *t)
{
	char *list = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&list, &len);
	int n = 0;

	if (!fp)
		return NULL;
	for (int i = 0; i < d->in->nn; i++) {
		const azml_node_t *x = &d->in->nodes[i];

		if (azml_node_powered_down(x) &&
		    !(x->state & NODE_STATE_DRAIN) &&
		    azml_conf_target_of_node(d->conf, x->name) == t)
			fprintf(fp, "%s%s", n++ ? "," : "", x->name);
	}
	fclose(fp);
	if (!n) {
		free(list);
		return NULL;
	}
	return list;
}

/*
 * A node drained with a health check's reason is journaled (unhealthy,
 * once a drain).  A cluster node drained for a hardware reason is
 * replaced: journaled (replaced) and powered down once its jobs end
 * (power_down_asap), so that its next power-up is a new VM.  More than
 * ReplaceLimit replacements of one size in an hour hold the target
 * instead (as a capacity hold, code ReplaceLimit): the node stays drained.
 * Attached nodes and instances are only drained: nothing to replace.
 */
static void _health(dc_t *d)
{
	const azml_rc_input_t *in = d->in;

	for (int i = 0; i < in->nn; i++) {
		const azml_node_t *n = &in->nodes[i];
		int c = azml_health_reason_check(n->reason);
		const azml_target_t *t;
		const azml_jvm_t *j = NULL;
		azml_rc_action_t *a;
		azml_jrec_t x;
		long since = n->reason_time > 0 ? n->reason_time : d->now;
		bool spot;
		size_t ti;
		int count;

		if (c < 0 || !(n->state & NODE_STATE_DRAIN) ||
		    !(t = azml_conf_target_of_node(d->conf, n->name)) ||
		    _active(d, n->name))
			continue;
		for (size_t k = 0; k < d->njvm; k++)
			if (!d->jvm[k].end && !strcmp(d->jvm[k].first.node, n->name))
				j = &d->jvm[k];
		spot = j && !strcmp(j->first.prio, "spot");
		if (azml_jrec_make(&x, AZML_J_UNHEALTHY, since,
				   j ? j->first.vm : n->name,
				   j ? j->first.id : NULL, n->name, t->name,
				   j ? j->first.size : t->vm_size, spot,
				   j ? j->first.zone : NULL) ||
		    azml_jrec_reason(&x, azml_health_check_name((azml_hc_t) c)))
			continue;
		if (in->journal_read && !_unhealthy_recorded(d, n->name, since) &&
		    (a = _add(d, AZML_RC_JOURNAL_ADD, "health: node %s: %s; %s",
			      n->name, n->reason,
			      _doing(d, "would record it", "recording it"))))
			a->rec = x;
		if (t->kind != AZML_CLUSTER || !t->replace_limit ||
		    !azml_health_check_hardware((azml_hc_t) c) ||
		    (n->state & (NODE_STATE_POWER_DRAIN |
				 NODE_STATE_POWERING_DOWN |
				 NODE_STATE_POWERED_DOWN)) ||
		    azml_node_powering_up(n))
			continue;
		ti = (size_t) (t - d->conf->targets);
		count = _replaced(d, x.size);
		if (count >= t->replace_limit) {
			if (in->hold_rc && in->hold_rc[ti] == 1)
				continue;	/* held already: it stays drained */
			if (!(a = _add(d, AZML_RC_REPLACE_HOLD, "health: %s: "
				       "%d VMs of %s replaced in the last hour "
				       "(ReplaceLimit=%d): node %s stays "
				       "drained; %s", t->name, count, x.size,
				       t->replace_limit, n->name,
				       _doing(d, "would hold the target",
					      "holding the target"))))
				return;
			a->t = t;
			a->value = count;
			a->list = _powered_down_of(d, t);
			continue;
		}
		if (!(a = _add(d, AZML_RC_REPLACE, "health: node %s: %s; %s",
			       n->name, n->reason,
			       _doing(d, "would power it down for a new VM "
				      "when its jobs end", "powering it down "
				      "for a new VM when its jobs end"))))
			return;
		a->t = t;
		snprintf(a->node, sizeof(a->node), "%s", n->name);
		snprintf(a->reason, sizeof(a->reason), "%s", n->reason);
		a->rec = x;
		a->rec.kind = AZML_J_REPLACED;
		a->rec.at = d->now;
	}
}

int azml_rc_decide(const azml_rc_input_t *in, long now, azml_rc_plan_t *plan)
{
	dc_t d = { .in = in, .conf = in->conf, .now = now, .dry = in->dry,
		   .plan = plan };

	memset(plan, 0, sizeof(*plan));
	_lift_holds(&d);
	_restore_attached(&d);
	if (!in->vm_targets) {
		_health(&d);
		goto out;
	}
	if (d.nomem)
		goto out;
	if (in->journal_cut > 0)
		_add(&d, AZML_RC_JOURNAL_REPAIR, "journal: its last line was "
		     "cut (%ld bytes, a program that died while writing); %s",
		     in->journal_cut, _doing(&d, "would remove it", "removed"));
	if (in->npairs &&
	    !(d.pairs = malloc(in->npairs * sizeof(*d.pairs)))) {
		d.nomem = true;
		goto out;
	}
	if (in->npairs)
		memcpy(d.pairs, in->pairs, in->npairs * sizeof(*d.pairs));
	if (in->journal_read && in->njrec &&
	    !(d.jvm = azml_journal_fold(in->jrec, in->njrec, now, &d.njvm)) &&
	    azml_journal_has_life(in->jrec, in->njrec)) {
		d.nomem = true;
		goto out;
	}
	_scale_sets(&d);
	_journal_check(&d);
	_orphan_vms(&d);
	_nodes_without_vm(&d);
	_release_held(&d);
	_health(&d);
	_job_identities(&d);
	for (size_t i = 0; i < d.conf->ntargets; i++)
		if (d.conf->targets[i].kind == AZML_CLUSTER &&
		    d.conf->targets[i].min_nodes)
			_keep_min_nodes(&d, &d.conf->targets[i]);
	_idle_auto(&d);
out:
	free(d.pairs);
	azml_journal_free(d.jvm, d.njvm);
	if (d.nomem) {
		azml_rc_plan_free(plan);
		return -1;
	}
	return 0;
}

void azml_rc_plan_free(azml_rc_plan_t *plan)
{
	for (size_t i = 0; i < plan->n; i++)
		free(plan->a[i].list);
	free(plan->a);
	memset(plan, 0, sizeof(*plan));
}

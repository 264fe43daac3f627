/*
 * ops_cmds.c - targets, reconcile and instance: the admin's view of Azure and
 * Slurm together, and the actions that make them agree.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <slurm/slurm.h>

#include "admin.h"
#include "arm.h"
#include "acct.h"
#include "capacity.h"
#include "cost.h"
#include "conf.h"
#include "log.h"
#include "nodes.h"
#include "slurm_compat.h"
#include "state.h"

static const azml_node_t *_find(const azml_node_t *nodes, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
}

/*
 * Slurm 24.05 and later (24.11 seen) start a requested power-up at the
 * power-save scan after the request, but only if the request came in a later
 * second than the last scan (22.05 also took the same second); otherwise it
 * waits for the next periodic scan, power_save_interval (10 s) later.
 * While a node still waits (powered down, POWER_UP set), repeat the request
 * once a second, up to 5 s; a repeat while Slurm has not taken the first
 * changes nothing but the time of the last node update.
 */
static void _power_up_settle(char (*names)[128], int count)
{
	for (int round = 0; round < 5 && count > 0; round++) {
		azml_node_t *nodes = NULL;
		int nn, waiting = 0;

		sleep(1);
		if ((nn = azml_nodes_load(&nodes)) < 0)
			return;
		for (int i = 0; i < count; i++) {
			const azml_node_t *sn = _find(nodes, nn, names[i]);

			if (!sn || !(sn->state & NODE_STATE_POWER_UP) ||
			    !azml_node_powered_down(sn))
				continue;
			azml_nodes_power_up(names[i]);
			waiting++;
		}
		free(nodes);
		if (!waiting)
			return;
	}
}

/* Which of "powered_down", "powering_up", "idle", "allocated", "down". */
static const char *_bucket(const azml_node_t *n)
{
	uint32_t base = n->state & NODE_STATE_BASE;

	if (base == NODE_STATE_DOWN || (n->state & NODE_STATE_DRAIN))
		return "down";
	if (n->state & NODE_STATE_POWERING_UP)
		return "powering_up";
	if (n->state & NODE_STATE_POWERED_DOWN)
		return "powered_down";
	if (base == NODE_STATE_ALLOCATED || base == NODE_STATE_MIXED)
		return "allocated";
	if (base == NODE_STATE_FUTURE)
		return "not_attached";
	return "idle";
}

/* "capacity_hold": T's hold in force (state.h), or null. */
static void _add_hold(cJSON *o, const azml_conf_t *conf, const azml_target_t *t)
{
	azml_hold_t h;
	char reason[256], when[32];
	struct tm tm;
	time_t until;
	cJSON *j;

	if (t->kind == AZML_ATTACHED || azml_state_hold_get(conf, t, &h) != 1) {
		cJSON_AddNullToObject(o, "capacity_hold");
		return;
	}
	j = cJSON_AddObjectToObject(o, "capacity_hold");
	azml_state_hold_reason(reason, sizeof(reason), &h);
	until = h.until;
	gmtime_r(&until, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(j, "code", h.code);
	cJSON_AddStringToObject(j, "until", when);
	cJSON_AddNumberToObject(j, "outages_in_a_row", h.level ? h.level : 1);
	cJSON_AddStringToObject(j, "reason", reason);
}

/* ---------------------------------------------------------------------- */

/* What targets shows, but the configuration. */
typedef struct {
	azml_node_t *nodes;	/* slurmctld's */
	int nn;			/* -1: slurmctld is not answering */
	azml_cost_row_t *day;	/* the last day's hours, per target */
	size_t nday;
	bool have_jobs;		/* the hours split busy from idle */
	char why[600];		/* !have_jobs: why not */
} targets_data_t;

static void _targets_gather(const azml_conf_t *conf, targets_data_t *g)
{
	long now = (long) time(NULL);
	char jdir[4200];

	memset(g, 0, sizeof(*g));
	azml_nodes_init();
	g->nn = azml_nodes_load(&g->nodes);
	/* the last day's hours, from the lifecycle journal (read only: a
	 * StateDir that is not there, or not ours to read, shows none) */
	snprintf(jdir, sizeof(jdir), "%s/journal", conf->state_dir);
	snprintf(g->why, sizeof(g->why), "%.500s cannot be read", jdir);
	if (access(jdir, R_OK | X_OK))
		return;
	if (azml_cost_targets(conf, now - 86400, now, &g->day, &g->nday,
			      &g->have_jobs, g->why, sizeof(g->why))) {
		fprintf(stderr, "slurm-azureml: %s\n", g->why);
		snprintf(g->why, sizeof(g->why), "%.500s cannot be read", jdir);
	}
}

/* "billed_hours_1d" and "busy_ratio_1d" of T. */
static void _target_hours(cJSON *o, const targets_data_t *g,
			  const azml_target_t *t)
{
	const azml_cost_row_t *r = NULL;
	double billed;

	for (size_t k = 0; k < g->nday && !r; k++)
		if (!strcmp(g->day[k].key, t->name))
			r = &g->day[k];
	billed = r ? r->s.busy + r->s.boot + r->s.idle : 0;
	cJSON_AddNumberToObject(o, "billed_hours_1d", billed / 3600);
	if (g->have_jobs && billed > 0)
		cJSON_AddNumberToObject(o, "busy_ratio_1d", r->s.busy / billed);
	else
		cJSON_AddNullToObject(o, "busy_ratio_1d");
}

/* T's nodes by state, each under its bucket of ST (already there). */
static void _target_states(cJSON *st, const targets_data_t *g,
			   const azml_target_t *t)
{
	azml_hostlist_t hl = slurm_hostlist_create(t->nodes);
	char *h;

	while (g->nn >= 0 && hl && (h = slurm_hostlist_shift(hl))) {
		const azml_node_t *n = _find(g->nodes, g->nn, h);

		if (n) {
			const char *b = _bucket(n);
			cJSON *list = cJSON_GetObjectItem(st, b);

			if (!strcmp(b, "down")) {
				cJSON *d = cJSON_CreateObject();

				cJSON_AddStringToObject(d, "node", h);
				cJSON_AddStringToObject(d, "reason", n->reason);
				cJSON_AddItemToArray(list, d);
			} else {
				cJSON_AddItemToArray(list, cJSON_CreateString(h));
			}
		} else if (t->kind == AZML_ATTACHED) {
			/* a FUTURE slot: slurmctld lists it only when asked */
			cJSON_AddItemToArray(cJSON_GetObjectItem(st, "not_attached"),
					     cJSON_CreateString(h));
		}
		free(h);
	}
	if (hl)
		slurm_hostlist_destroy(hl);
}

/* T's row of the report. */
static cJSON *_target_row(const azml_conf_t *conf, const targets_data_t *g,
			  const azml_target_t *t)
{
	static const char *buckets[] = { "powered_down", "powering_up", "idle",
					 "allocated", "down", "not_attached" };
	cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", t->name);
	cJSON_AddStringToObject(o, "kind", azml_kind_name(t->kind));
	if (t->vm_size)
		cJSON_AddStringToObject(o, "vm_size", t->vm_size);
	else
		cJSON_AddNullToObject(o, "vm_size");
	cJSON_AddStringToObject(o, "priority", azml_priority_name(t->priority));
	cJSON_AddStringToObject(o, "nodes", t->nodes);
	if (t->kind == AZML_CLUSTER) {
		cJSON_AddNumberToObject(o, "min_nodes", t->min_nodes);
		cJSON_AddNumberToObject(o, "max_nodes", t->max_nodes);
	}
	_add_hold(o, conf, t);
	_target_hours(o, g, t);
	for (size_t b = 0; b < sizeof(buckets) / sizeof(buckets[0]); b++)
		cJSON_AddArrayToObject(st, buckets[b]);
	_target_states(st, g, t);
	cJSON_AddItemToObject(o, "states", st);
	return o;
}

/* The report: every target's row (what --json prints). */
static cJSON *_targets_rows(const azml_conf_t *conf, const targets_data_t *g)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *arr = cJSON_AddArrayToObject(root, "targets");

	cJSON_AddBoolToObject(root, "slurmctld", g->nn >= 0);
	if (!g->have_jobs)
		cJSON_AddStringToObject(root, "no_job_figures", g->why);
	for (size_t i = 0; i < conf->ntargets; i++)
		cJSON_AddItemToArray(arr, _target_row(conf, g,
						      &conf->targets[i]));
	return root;
}

/* Row T as text: its line, then its last day, hold and down nodes. */
static void _target_text(const cJSON *t)
{
	cJSON *st = cJSON_GetObjectItem(t, "states"), *b;
	char line[1024] = "";
	double billed = cJSON_GetNumberValue(cJSON_GetObjectItem(t,
						"billed_hours_1d"));
	const cJSON *ratio = cJSON_GetObjectItem(t, "busy_ratio_1d");

	cJSON_ArrayForEach(b, st) {
		int n = cJSON_GetArraySize(b);

		if (n)
			snprintf(line + strlen(line), sizeof(line) -
				 strlen(line), "%s%d %s", line[0] ?
				 ", " : "", n, b->string);
	}
	printf("%-16s %-9s %-20s %-11s %s: %s\n",
	       cJSON_GetStringValue(cJSON_GetObjectItem(t, "name")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(t, "kind")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(t, "vm_size")) ?: "-",
	       cJSON_GetStringValue(cJSON_GetObjectItem(t, "priority")),
	       cJSON_GetStringValue(cJSON_GetObjectItem(t, "nodes")),
	       line[0] ? line : "-");
	if (billed > 0 && cJSON_IsNumber(ratio))
		printf("%-16s   last day: %.0f%% busy of %.2f billed "
		       "VM-hours\n", "", 100 * ratio->valuedouble, billed);
	else if (billed > 0)
		printf("%-16s   last day: %.2f billed VM-hours (busy "
		       "unknown: no job records)\n", "", billed);
	if ((b = cJSON_GetObjectItem(t, "capacity_hold")) && cJSON_IsObject(b))
		printf("%-16s   held: %s\n", "",
		       cJSON_GetStringValue(cJSON_GetObjectItem(b, "reason")));
	cJSON_ArrayForEach(b, cJSON_GetObjectItem(st, "down")) {
		printf("%-16s   down: %s: %s\n", "",
		       cJSON_GetStringValue(cJSON_GetObjectItem(b, "node")),
		       cJSON_GetStringValue(cJSON_GetObjectItem(b, "reason")));
	}
}

static void _targets_text(const cJSON *root)
{
	const cJSON *t;

	if (!cJSON_IsTrue(cJSON_GetObjectItem(root, "slurmctld")))
		printf("(slurmctld is not answering: node states unknown)\n");
	printf("%-16s %-9s %-20s %-11s %s\n", "TARGET", "KIND", "VM SIZE",
	       "PRIORITY", "NODES");
	cJSON_ArrayForEach(t, cJSON_GetObjectItem(root, "targets"))
		_target_text(t);
}

int azml_cmd_targets(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL;
	bool json = false;
	azml_conf_t *conf;
	targets_data_t g;
	cJSON *root;
	int rc;

	if ((rc = azml_cmd_file_json(cmd, argc, argv, &file, &json)) >= 0)
		return rc;
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	_targets_gather(conf, &g);
	root = _targets_rows(conf, &g);
	if (json) {
		azml_print_json(root);
	} else {
		_targets_text(root);
		cJSON_Delete(root);
	}
	free(g.nodes);
	free(g.day);
	azml_conf_destroy(conf);
	return 0;
}

/* ---------------------------------------------------------------------- */

typedef struct {
	azml_vm_result_t *vms;
	size_t n;
	bool failed;
	char err[600];
} listing_t;

/* S (Azure's: a name, a tag, a message) escaped for printing and logging
 * (azml_escape); a result lasts for the next three calls. */
static const char *_esc(const char *s)
{
	static char buf[4][1100];
	static int k;

	k = (k + 1) % 4;
	return azml_escape(s, buf[k], sizeof(buf[k]));
}

static void _listed(void *arg, const azml_vm_result_t *v, size_t n,
		    const azml_vm_result_t *err)
{
	listing_t *l = arg;

	if (err) {
		l->failed = true;
		snprintf(l->err, sizeof(l->err), "%s: %s", _esc(err->code),
			 _esc(err->message));
		return;
	}
	l->vms = malloc((n + 1) * sizeof(*v));
	memcpy(l->vms, v, n * sizeof(*v));
	l->n = n;
}

static int action_failures;
/* Where _acted records what it did in the lifecycle journal (NULL: not). */
static const azml_conf_t *journal_conf;

static void _acted(void *arg, const azml_vm_result_t *r)
{
	const char *what = arg;

	if (r->ok) {
		azml_jrec_t x;
		azml_jkind_t k = !strcmp(what, "delete") ? AZML_J_DELETED :
				 !strcmp(what, "start") ? AZML_J_STARTED :
				 !strcmp(what, "deallocate") ?
				 AZML_J_DEALLOCATED : AZML_J_NKINDS;

		printf("  %s VM %s: done (op %s)\n", what, _esc(r->name),
		       _esc(r->op_id));
		azml_log_info("reconcile: %s VM %s op=%s: ok", what,
			      _esc(r->name), _esc(r->op_id));
		if (journal_conf && k != AZML_J_NKINDS &&
		    !azml_jrec_make(&x, k, (long) time(NULL), r->name, NULL,
				    NULL, NULL, NULL, false, NULL))
			azml_state_journal_add(journal_conf, &x, 1);
	} else {
		action_failures++;
		printf("  %s VM %s: failed: %s: %s\n", what, _esc(r->name),
		       _esc(r->code), _esc(r->message));
		azml_log_error("reconcile: couldn't %s VM %s: %s: %s", what,
			       _esc(r->name), _esc(r->code),
			       _esc(r->message));
	}
}

/*
 * Attached nodes that slurmctld forgot: a restart turns every node that
 * slurm.conf says is FUTURE back into a slot, so the nodes accepted by
 * 'attach --accept' (their reports are in StateDir/attached) are given
 * their address and resumed again.  Returns the number of actions.
 */
typedef struct {
	const azml_conf_t *conf;
	const azml_node_t *nodes;
	int nn;
	bool dry;
	int actions;
} attached_walk_t;

static void _restore_attached(void *arg, const char *node,
			      const cJSON *rep)
{
	attached_walk_t *w = arg;
	const azml_target_t *t = azml_conf_target_of_node(w->conf, node);
	const char *addr, *host;

	if (!t || t->kind != AZML_ATTACHED || _find(w->nodes, w->nn, node))
		return;	/* not ours any more, or slurmctld has it */
	addr = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "address"));
	host = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "hostname"));
	if (!addr || !host) {
		printf("attached node %s: its record in StateDir is not a "
		       "report; skipped\n", node);
		return;
	}
	w->actions++;
	printf("attached node %s is a FUTURE slot again (slurmctld "
	       "restarted); %s it at %s\n", node,
	       w->dry ? "would restore" : "restoring", addr);
	if (!w->dry && (azml_nodes_set_addr(node, addr, host) < 0 ||
			azml_nodes_resume(node) < 0))
		action_failures++;
	else if (!w->dry)
		azml_log_info("reconcile: attached node %s restored at %s",
			      node, addr);
}

static int _reconcile_attached(const azml_conf_t *conf, const azml_node_t *nodes,
			       int nn, bool dry)
{
	attached_walk_t w = { conf, nodes, nn, dry, 0 };

	azml_state_attached_each(conf, _restore_attached, &w);
	return w.actions;
}

/* One pass of reconcile: what it read from Slurm and Azure, what it did. */
typedef struct {
	const azml_conf_t *conf;
	bool dry;
	azml_arm_t *arm;
	const azml_node_t *nodes;
	int nn;
	const azml_vm_result_t *vms;
	size_t nvms;
	int actions;
	char powered[64][128];	/* nodes powered up for MinNodes */
	int npowered;
	/* scale sets: StateDir's pairings, each with its set */
	azml_pair_t *pairs;
	char (*pair_set)[80];
	size_t npairs;
	bool prune;		/* --prune-scale-sets */
	/* the lifecycle journal as it was before Azure was listed */
	azml_jvm_t *jvm;
	size_t njvm;
	bool journal_read;
} pass_t;

/* The node a VM serves: its name, as we name each VM after its node (a
 * slurm-node tag is Azure's answer, and never picks a node); a scale set's
 * VM serves the node StateDir pairs it with ("" when none). */
static const char *_vm_node(const pass_t *p, const azml_vm_result_t *v)
{
	if (!v->scale_set[0])
		return v->name;
	for (size_t i = 0; i < p->npairs; i++)
		if (!strcmp(p->pairs[i].vm, v->name) &&
		    !strcasecmp(p->pair_set[i], v->scale_set))
			return p->pairs[i].node;
	return "";
}

/* An orphan's delete, claimed in StateDir like a SuspendProgram's, so that
 * a resume that starts meanwhile waits for it instead of losing its VM. */
typedef struct {
	const azml_conf_t *conf;
	bool claimed;
	char node[96];		/* "" for a set's VM no node has */
	char set[80];
} orphan_t;

static void _orphan_deleted(void *arg, const azml_vm_result_t *r)
{
	orphan_t *o = arg;
	char err[512];

	_acted("delete", r);
	if (r->ok && o->set[0] && o->node[0])
		azml_state_pair_drop(o->conf, o->set, o->node);
	if (o->claimed &&
	    azml_state_intent_end(o->conf, o->node, AZML_OP_DELETE, getpid(),
				  r->ok, r->code, err, sizeof(err)) < 0)
		azml_log_error("reconcile: node %s: %s", o->node, err);
	free(o);
}

static void _delete_orphan(pass_t *p, const azml_vm_result_t *v, bool ours)
{
	orphan_t *o = calloc(1, sizeof(*o));
	azml_turn_info_t info;
	azml_turn_t turn;
	char err[512];

	if (!o) {
		action_failures++;
		return;
	}
	o->conf = p->conf;
	snprintf(o->node, sizeof(o->node), "%s", _vm_node(p, v));
	snprintf(o->set, sizeof(o->set), "%s", v->scale_set);
	if (ours && o->node[0]) {
		turn = azml_state_intent_begin(p->conf, o->node, AZML_OP_DELETE,
					       getpid(), &info, err, sizeof(err));
		if (turn == AZML_TURN_ERROR || turn == AZML_TURN_WAIT) {
			if (turn == AZML_TURN_WAIT) {	/* someone came first */
				azml_state_intent_end(p->conf, o->node,
						      AZML_OP_DELETE, getpid(),
						      false, NULL, err,
						      sizeof(err));
				printf("  delete VM %s: skipped: a %s (pid %ld) "
				       "began meanwhile\n", _esc(v->name),
				       azml_op_name(info.op), (long) info.pid);
			} else {
				action_failures++;
				printf("  delete VM %s: skipped: %s\n",
				       _esc(v->name), err);
			}
			free(o);
			return;
		}
		o->claimed = true;
	}
	azml_arm_vm_delete(p->arm, v->name, _orphan_deleted, o);
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
static void _job_identities(pass_t *p)
{
	for (size_t i = 0; i < p->nvms; i++) {
		const azml_vm_result_t *v = &p->vms[i];
		const char *node = _vm_node(p, v);
		const azml_target_t *t;
		const azml_node_t *sn;

		if (v->scale_set[0] || !node[0] || v->identities < 2)
			continue;
		t = azml_conf_target_of_node(p->conf, node);
		if (!t || !t->job_identity || !t->identity)
			continue;
		sn = _find(p->nodes, p->nn, node);
		if (!sn || azml_node_powered_down(sn) ||
		    azml_node_powering_up(sn) ||
		    azml_state_intent_active(p->conf, node))
			continue;
		p->actions++;
		printf("VM %s (node %s): its node registered; %s the node "
		       "identity, keeping JobIdentity\n", v->name, node,
		       p->dry ? "would take away" : "taking away");
		if (!p->dry)
			azml_arm_vm_keep_identity(p->arm, v->name, t->identity,
						  t->job_identity, _acted,
						  "remove the node identity of");
	}
}

/* Whether a program works on some node of T (a resume may be about to
 * pair a set's new VM). */
static bool _target_busy(const pass_t *p, const azml_target_t *t)
{
	for (int i = 0; i < p->nn; i++)
		if (azml_conf_target_of_node(p->conf, p->nodes[i].name) == t &&
		    azml_state_intent_active(p->conf, p->nodes[i].name))
			return true;
	return false;
}

/* The target whose scale set is SET, or NULL. */
static const azml_target_t *_set_target(const azml_conf_t *conf,
					const char *set)
{
	char name[80];

	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];

		if (t->kind == AZML_CLUSTER &&
		    t->provisioning == AZML_PROV_SCALE_SET &&
		    !strcasecmp(azml_conf_scale_set_name(conf, t, name,
							 sizeof(name)), set))
			return t;
	}
	return NULL;
}

/* 1. VMs whose node is powered down, unknown, or not ours: orphans. */
static void _orphan_vms(pass_t *p)
{
	/* which set targets a program works on, read before this pass
	 * claims nodes of its own for its deletes */
	bool *busy = calloc(p->conf->ntargets + 1, sizeof(*busy));

	if (!busy)
		abort();
	for (size_t i = 0; i < p->conf->ntargets; i++)
		busy[i] = p->conf->targets[i].provisioning ==
			AZML_PROV_SCALE_SET &&
			_target_busy(p, &p->conf->targets[i]);
	for (size_t i = 0; i < p->nvms; i++) {
		const azml_vm_result_t *v = &p->vms[i];
		const char *node = _vm_node(p, v);
		const azml_target_t *t = v->scale_set[0] ?
			_set_target(p->conf, v->scale_set) :
			azml_conf_target_of_node(p->conf, node);
		const azml_node_t *sn = _find(p->nodes, p->nn, node);
		const char *why = NULL;
		char not_ours[512];

		if (node[0] && azml_state_intent_active(p->conf, node))
			continue;	/* a resume or delete is in flight */
		/* the listing's word is not enough: the VM's own model */
		if (!azml_arm_vm_ours(p->conf, v, v->scale_set[0] ?
				      v->scale_set : NULL, not_ours,
				      sizeof(not_ours))) {
			printf("VM %s: left alone: %s\n", _esc(v->name),
			       not_ours);
			continue;
		}
		if (v->scale_set[0] && !node[0]) {
			bool tb = t && busy[t - p->conf->targets];

			if (!t)
				continue;	/* not a set of ours */
			/* a resume may pair it now */
			if (tb || !strcasecmp(v->provisioning, "Creating")) {
				printf("VM %s of scale set %s: no node has it "
				       "yet; left alone (%s)\n", _esc(v->name),
				       v->scale_set, tb ?
				       "a program works on its target's nodes" :
				       "Azure is still creating it");
				continue;
			}
			why = "no node has this VM of its scale set";
			node = "none";
		} else if (!t || t->kind == AZML_ATTACHED)
			why = "its node is not in azureml.conf";
		else if (!sn)
			why = "slurmctld does not know its node";
		else if (azml_node_powered_down(sn) && t->kind == AZML_CLUSTER)
			why = "its node is powered down";
		if (!why)
			continue;
		p->actions++;
		printf("orphan VM %s (node %s): %s%s\n", _esc(v->name),
		       _esc(node), why, p->dry ? "; would delete it" :
		       "; deleting it");
		if (v->node[0] && strcmp(v->node, v->name))
			printf("  (VM %s is tagged slurm-node=%.200s; a VM "
			       "serves the node it is named after)\n",
			       _esc(v->name), _esc(v->node));
		if (!p->dry)
			_delete_orphan(p, v, t && t->kind != AZML_ATTACHED);
	}
	free(busy);
}

/* 2. Nodes that Slurm thinks are up, whose VM is gone. */
static void _nodes_without_vm(pass_t *p)
{
	for (int i = 0; i < p->nn; i++) {
		const azml_node_t *n = &p->nodes[i];
		const azml_target_t *t = azml_conf_target_of_node(p->conf,
								  n->name);
		bool has_vm = false;

		if (!t || t->kind != AZML_CLUSTER ||
		    (n->state & (NODE_STATE_POWERED_DOWN |
				 NODE_STATE_POWERING_UP |
				 NODE_STATE_POWERING_DOWN)) ||
		    azml_state_intent_active(p->conf, n->name))
			continue;
		for (size_t k = 0; k < p->nvms && !has_vm; k++)
			has_vm = !strcmp(_vm_node(p, &p->vms[k]), n->name);
		if (has_vm)
			continue;
		p->actions++;
		printf("node %s is up in Slurm but has no VM%s\n", n->name,
		       p->dry ? "; would power it down" : "; powering it down");
		if (!p->dry)
			azml_nodes_power_down_force(n->name, "azureml: "
				"VMNotFound: its VM no longer exists");
	}
}

/* 3. Nodes held DOWN after repeated failures, once the back-off is over. */
static void _release_held(pass_t *p)
{
	for (int i = 0; i < p->nn; i++) {
		const char *name = p->nodes[i].name;
		long age;

		if (!azml_state_is_held(p->nodes[i].reason))
			continue;
		age = azml_state_failure_age(p->conf, name);
		if (age >= 0 && age < AZML_BACKOFF)
			continue;
		p->actions++;
		printf("node %s was held after repeated failures; %s\n", name,
		       p->dry ? "would release it" : "releasing it");
		if (!p->dry) {
			azml_state_failure_clear(p->conf, name);
			azml_nodes_resume(name);
		}
	}
}

/* 4. MinNodes of cluster T kept powered. */
static void _keep_min_nodes(pass_t *p, const azml_target_t *t)
{
	const azml_node_t *sn;
	char node[128];
	int up = 0;

	for (int k = 1; k <= t->max_nodes; k++) {
		snprintf(node, sizeof(node), "%s-%d", t->name, k);
		sn = _find(p->nodes, p->nn, node);
		if (sn && !azml_node_powered_down(sn))
			up++;
	}
	for (int k = 1; k <= t->max_nodes && up < t->min_nodes; k++) {
		snprintf(node, sizeof(node), "%s-%d", t->name, k);
		sn = _find(p->nodes, p->nn, node);
		if (!sn || !azml_node_powered_down(sn) ||
		    (sn->state & NODE_STATE_BASE) == NODE_STATE_DOWN)
			continue;
		p->actions++;
		up++;
		printf("cluster %s has fewer than MinNodes=%d powered; %s %s\n",
		       t->name, t->min_nodes,
		       p->dry ? "would power up" : "powering up", node);
		if (!p->dry && !azml_nodes_power_up(node) &&
		    p->npowered < (int) (sizeof(p->powered) /
					 sizeof(p->powered[0])))
			snprintf(p->powered[p->npowered++], sizeof(p->powered[0]),
				 "%s", node);
	}
}

/* ---- scale sets ---- */

typedef struct {
	pass_t *p;
	const char *set;
} pairs_load_t;

static int _pairs_load(void *arg, azml_pair_t **pp, size_t *n)
{
	pairs_load_t *q = arg;
	pass_t *p = q->p;
	azml_pair_t *more = realloc(p->pairs, (p->npairs + *n + 1) *
				    sizeof(*more));
	char (*sets)[80] = realloc(p->pair_set, (p->npairs + *n + 1) *
				   sizeof(*sets));

	if (more)
		p->pairs = more;
	if (sets)
		p->pair_set = sets;
	if (!more || !sets)
		return 0;
	for (size_t i = 0; i < *n; i++) {
		p->pairs[p->npairs] = (*pp)[i];
		snprintf(p->pair_set[p->npairs++], 80, "%s", q->set);
	}
	return 0;
}

typedef struct {
	bool answered, ok;
	azml_vm_result_t r;
} one_t;

static void _one(void *arg, const azml_vm_result_t *r)
{
	one_t *o = arg;

	o->answered = true;
	o->ok = r->ok;
	o->r = *r;
}

/*
 * Each ScaleSet cluster: its set's VMs join the listing (L), StateDir's
 * pairings are loaded, pairings whose VM is gone are forgotten, a set
 * whose capacity disagrees with its VMs and nodes is reported, and with
 * --prune-scale-sets an empty set is deleted.  0, or -1 when a set's VMs
 * could not be listed (nothing done then).
 */
static int _scale_sets(pass_t *p, listing_t *l)
{
	size_t keep = 0;

	/* the tag listing may show set VMs (tags copied or not): each set's
	 * own listing decides */
	for (size_t i = 0; i < l->n; i++)
		if (!l->vms[i].scale_set[0] && !l->vms[i].set_id[0])
			l->vms[keep++] = l->vms[i];
	l->n = keep;
	for (size_t ti = 0; ti < p->conf->ntargets; ti++) {
		const azml_target_t *t = &p->conf->targets[ti];
		char set[80];
		listing_t sl = { 0 };
		pairs_load_t q = { p, set };
		one_t got = { 0 };
		size_t from = p->npairs, paired = 0, ours = 0;
		azml_vm_result_t *more;

		if (t->kind != AZML_CLUSTER ||
		    t->provisioning != AZML_PROV_SCALE_SET)
			continue;
		azml_conf_scale_set_name(p->conf, t, set, sizeof(set));
		azml_arm_vmss_vms(p->arm, set, _listed, &sl);
		azml_arm_vmss_get(p->arm, set, _one, &got);
		azml_arm_run(p->arm);
		if (sl.failed) {
			fprintf(stderr, "slurm-azureml reconcile: couldn't list "
				"the VMs of scale set %s: %s; nothing done\n",
				set, sl.err);
			free(sl.vms);
			return -1;
		}
		if (!(more = realloc(l->vms, (l->n + sl.n + 1) *
				     sizeof(*more)))) {
			free(sl.vms);
			return -1;
		}
		l->vms = more;
		for (size_t i = 0; i < sl.n; i++) {
			char why[512];

			/* a listing by the set's id may hold anything: its own
			 * set id and our tag say which VMs are the set's */
			if (!azml_arm_vm_ours(p->conf, &sl.vms[i], set, why,
					      sizeof(why))) {
				printf("scale set %s: a VM its listing holds is "
				       "left alone: %s\n", set, why);
				continue;
			}
			snprintf(sl.vms[i].scale_set, sizeof(sl.vms[i].scale_set),
				 "%s", set);
			l->vms[l->n++] = sl.vms[i];
			ours++;
		}
		sl.n = ours;	/* the set's VMs, as counted below */
		free(sl.vms);
		azml_state_pairs(p->conf, set, _pairs_load, &q);
		/* pairings whose VM is gone */
		for (size_t i = from; i < p->npairs; i++) {
			bool listed = false;

			for (size_t k = 0; k < l->n && !listed; k++)
				listed = !strcmp(l->vms[k].name, p->pairs[i].vm);
			if (listed) {
				paired++;
				continue;
			}
			if (azml_state_intent_active(p->conf, p->pairs[i].node))
				continue;
			p->actions++;
			printf("node %s: its VM %s of scale set %s is gone; %s\n",
			       p->pairs[i].node, p->pairs[i].vm, set, p->dry ?
			       "would forget the pairing" : "forgetting the "
			       "pairing");
			if (!p->dry)
				azml_state_pair_drop(p->conf, set, p->pairs[i].node);
			p->pairs[i].vm[0] = '\0';	/* pairs with nothing */
		}
		if (!got.answered || (!got.ok && got.r.http_status == 404)) {
			if (sl.n)
				printf("scale set %s: not found, yet %zu VMs say "
				       "they are in it\n", set, sl.n);
			continue;
		}
		if (!got.ok) {
			printf("scale set %s: couldn't read it: %s: %s\n", set,
			       _esc(got.r.code), _esc(got.r.message));
			continue;
		}
		if (got.r.capacity >= 0 && (size_t) got.r.capacity != sl.n)
			printf("scale set %s: capacity %ld, but %zu VMs listed and "
			       "%zu paired with nodes; the orphans below go, "
			       "Azure's count follows\n", set, got.r.capacity,
			       sl.n, paired);
		if (p->prune && !sl.n && !paired && got.r.capacity == 0 &&
		    !_target_busy(p, t)) {
			p->actions++;
			printf("scale set %s is empty; %s\n", set, p->dry ?
			       "would delete it (--prune-scale-sets)" :
			       "deleting it (--prune-scale-sets)");
			if (!p->dry)
				azml_arm_vmss_delete(p->arm, set, _acted,
						     "delete scale set");
		}
	}
	return 0;
}

/* ---- the lifecycle journal ---- */

/* Before Azure is listed: a line cut by a crash goes, and what the
 * journal knows alive is kept for _journal_check(). */
static void _journal_load(pass_t *p)
{
	azml_jrec_t *r = NULL;
	size_t n = 0, bad = 0;
	long cut = p->dry ? 0 : azml_state_journal_repair(p->conf);

	if (cut > 0) {
		p->actions++;
		printf("journal: its last line was cut (%ld bytes, a program "
		       "that died while writing); removed\n", cut);
	}
	/* the current file holds every live VM (rotation carries them) */
	if (azml_state_journal_read(p->conf, (long) time(NULL) + 1, &r, &n,
				    &bad))
		return;
	p->jvm = azml_journal_fold(r, n, (long) time(NULL), &p->njvm);
	p->journal_read = true;
	free(r);
}

static const azml_jvm_t *_journal_find(const pass_t *p,
				       const azml_vm_result_t *v)
{
	const azml_jvm_t *f = NULL;

	for (size_t i = 0; i < p->njvm; i++) {
		const azml_jvm_t *j = &p->jvm[i];

		if (j->end)
			continue;
		if (v->vm_id[0] ? !strcmp(j->first.id, v->vm_id) :
		    !strcmp(j->first.vm, v->name))
			f = j;
	}
	return f;
}

static void _jadd(pass_t *p, azml_jkind_t k, long at, const char *vm,
		  const azml_vm_result_t *v, const char *node,
		  const azml_target_t *t, const char *what)
{
	azml_jrec_t x;

	if (azml_jrec_make(&x, k, at, vm, v ? v->vm_id : NULL, node,
			   t ? t->name : NULL, v && v->size[0] ? v->size :
			   t ? t->vm_size : NULL, v ? v->spot : false,
			   v && v->zone[0] ? v->zone : NULL))
		return;
	p->actions++;
	printf("journal: VM %s: %s; %s\n", vm, what, p->dry ?
	       "would record it" : "recording it");
	if (!p->dry)
		azml_state_journal_add(p->conf, &x, 1);
}

/*
 * The journal against Azure's listing and slurmctld: a VM Azure has that
 * the journal does not (its program died before writing) is recorded as
 * created at Azure's timeCreated; one the journal has alive that Azure
 * does not, as deleted now (evicted when its node says Preempt); a stop
 * or start it missed; a registration it lacks, from SlurmdStartTime.
 * VMs of nodes a program is working on are left to that program.
 */
static void _journal_check(pass_t *p)
{
	long now = (long) time(NULL);

	if (!p->journal_read)
		return;
	for (size_t i = 0; i < p->nvms; i++) {
		const azml_vm_result_t *v = &p->vms[i];
		/* the VM's name: we name each VM after its node (its
		 * slurm-node tag is Azure's word, and never picks a node) */
		const char *node = v->scale_set[0] ? NULL : v->name;
		const azml_jvm_t *j = _journal_find(p, v);
		const azml_target_t *t = NULL;
		bool deallocated = !strcasecmp(v->power, "deallocated") ||
				   !strcasecmp(v->power, "deallocating");
		char what[200];

		/* a scale set's VM: its node is StateDir's pairing */
		for (size_t k = 0; v->scale_set[0] && k < p->npairs; k++)
			if (!strcmp(p->pairs[k].vm, v->name))
				node = p->pairs[k].node;
		/* Azure's tag names no node of ours unless it is a name */
		if (node && (!*node || strlen(node) >= AZML_JNAME ||
			     strspn(node, "abcdefghijklmnopqrstuvwxyz"
				    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
			     strlen(node)))
			node = NULL;
		if (node)
			t = azml_conf_target_of_node(p->conf, node);
		if (node && azml_state_intent_active(p->conf, node))
			continue;
		if (!j) {
			snprintf(what, sizeof(what), "Azure has it (node %s), the "
				 "journal does not: created at %s",
				 node ? node : "none", v->created > 0 ?
				 "Azure's timeCreated" : "the time of this pass");
			_jadd(p, AZML_J_CREATED, v->created > 0 ? v->created :
			      now, v->name, v, node, t, what);
			if (deallocated)
				_jadd(p, AZML_J_DEALLOCATED, now, v->name, v, node,
				      t, "deallocated");
			continue;
		}
		if (j->nspans && j->span[j->nspans - 1].running == deallocated) {
			_jadd(p, deallocated ? AZML_J_DEALLOCATED : AZML_J_STARTED,
			      now, v->name, v, node, t, deallocated ?
			      "deallocated, which the journal missed" :
			      "running again, which the journal missed");
			continue;
		}
		for (int k = 0; node && k < p->nn; k++) {
			const azml_jspan_t *s = &j->span[j->nspans - 1];

			if (!strcmp(p->nodes[k].name, node) && s->running &&
			    !s->booted && p->nodes[k].slurmd_start >= s->from &&
			    p->nodes[k].slurmd_start <= now)
				_jadd(p, AZML_J_REGISTERED, p->nodes[k].slurmd_start,
				      v->name, v, node, t, "its slurmd registered");
		}
	}
	for (size_t i = 0; i < p->njvm; i++) {
		const azml_jvm_t *j = &p->jvm[i];
		const azml_node_t *sn = NULL;
		bool listed = false, evicted;

		if (j->end)
			continue;
		for (size_t k = 0; k < p->nvms && !listed; k++)
			listed = strcmp(j->first.id, "-") ?
				 !strcmp(p->vms[k].vm_id, j->first.id) :
				 !strcmp(p->vms[k].name, j->first.vm);
		if (listed || (strcmp(j->first.node, "-") &&
			       azml_state_intent_active(p->conf, j->first.node)))
			continue;
		if (strcmp(j->first.node, "-"))
			sn = _find(p->nodes, p->nn, j->first.node);
		evicted = sn && !strncmp(sn->reason, "azureml: Preempt", 16);
		{
			azml_jrec_t x = j->first;

			x.kind = evicted ? AZML_J_EVICTED : AZML_J_DELETED;
			x.at = now;
			p->actions++;
			printf("journal: VM %s: the journal has it, Azure does "
			       "not: %s now; %s\n", x.vm, evicted ? "evicted" :
			       "deleted", p->dry ? "would record it" :
			       "recording it");
			if (!p->dry)
				azml_state_journal_add(p->conf, &x, 1);
		}
	}
}

/* ---- IdleSecondsBeforeScaledown=auto ---- */

#define AUTO_LEARN_DAYS 7

static const azml_conf_t *auto_conf;
static const azml_target_t *auto_target;

static bool _of_auto_target(void *arg, const char *node)
{
	return azml_conf_target_of_node(auto_conf, node) == auto_target;
}

/*
 * Each cluster with IdleSecondsBeforeScaledown=auto: the idle time that
 * would have cost least over the last week (cost.h's rule: its nodes' idle
 * gaps from slurmdbd's jobs, a boot's billed seconds from the journal),
 * kept in StateDir; then each of its nodes idle that long is powered down
 * (Slurm takes no partition SuspendTime at run time: generate gives it the
 * longest auto may choose, as a backstop).
 */
static void _idle_auto(pass_t *p)
{
	long now = (long) time(NULL), since = now - AUTO_LEARN_DAYS * 86400L;
	azml_cost_job_t *jobs = NULL;
	size_t njobs = 0;
	char why[600];
	bool any = false, have_jobs;

	for (size_t i = 0; i < p->conf->ntargets; i++)
		any = any || p->conf->targets[i].idle_auto;
	if (!any)
		return;
	have_jobs = !azml_acct_jobs(since, now, &jobs, &njobs, why, sizeof(why));
	if (have_jobs && njobs > AZML_IDLE_AUTO_ROWS_MAX) {
		size_t all = njobs;

		azml_idle_keep_newest(jobs, &njobs, AZML_IDLE_AUTO_ROWS_MAX);
		printf("IdleSecondsBeforeScaledown=auto: learning from the "
		       "newest %zu of %zu job rows of %d days (at most %d)\n",
		       njobs, all, AUTO_LEARN_DAYS, AZML_IDLE_AUTO_ROWS_MAX);
	}
	for (size_t i = 0; i < p->conf->ntargets; i++) {
		const azml_target_t *t = &p->conf->targets[i];
		double *gaps = NULL, boot = 0;
		size_t ngaps = 0, nboots = 0;
		long cur = azml_state_idle_get(p->conf, t->name), best = cur;
		azml_hostlist_t hl;
		char *h, reason[200];

		if (!t->idle_auto || t->kind != AZML_CLUSTER)
			continue;
		if (cur <= 0)
			cur = best = t->idle_seconds;	/* not learnt yet */
		auto_conf = p->conf;
		auto_target = t;
		if (!have_jobs) {
			printf("cluster %s: IdleSecondsBeforeScaledown=auto keeps "
			       "%ld s: no job records to learn from (%s)\n",
			       t->name, cur, why);
		} else if (!azml_idle_gaps(jobs, njobs, now,
					   AZML_IDLE_AUTO_MAX, _of_auto_target,
					   NULL, &gaps, &ngaps) && !ngaps) {
			free(gaps);
			printf("cluster %s: IdleSecondsBeforeScaledown=auto keeps "
			       "%ld s: no idle gap has ended in %d days (a gap "
			       "ends when a job starts)\n", t->name, cur,
			       AUTO_LEARN_DAYS);
		} else if (gaps) {
			/* what a boot bills: create (or start) to registration */
			for (size_t k = 0; k < p->njvm; k++)
				for (size_t s = 0; s < p->jvm[k].nspans; s++) {
					const azml_jspan_t *sp = &p->jvm[k].span[s];

					if (!strcmp(p->jvm[k].first.target, t->name) &&
					    sp->running && sp->booted >= sp->from &&
					    sp->from >= since) {
						boot += (double) (sp->booted - sp->from);
						nboots++;
					}
				}
			boot = nboots ? boot / (double) nboots : AZML_IDLE_AUTO_BOOT;
			best = azml_idle_auto(gaps, ngaps, boot, AZML_IDLE_AUTO_MIN,
					      AZML_IDLE_AUTO_MAX, NULL);
			free(gaps);
			if (best < 0) {
				best = cur;
				printf("cluster %s: IdleSecondsBeforeScaledown="
				       "auto keeps %ld s: out of memory\n",
				       t->name, cur);
			} else if (labs(best - cur) * 10 < cur) {
				best = cur;
				printf("cluster %s: IdleSecondsBeforeScaledown=auto: "
				       "%ld s (unchanged; %zu idle gap%s in %d days, "
				       "a boot bills %.0f s)\n", t->name, cur, ngaps,
				       ngaps == 1 ? "" : "s", AUTO_LEARN_DAYS, boot);
			} else {
				p->actions++;
				printf("cluster %s: IdleSecondsBeforeScaledown=auto: "
				       "%s %ld s, was %ld s (%zu idle gap%s in %d "
				       "days, a boot bills %.0f s%s)\n", t->name,
				       p->dry ? "would take" : "taking", best, cur,
				       ngaps, ngaps == 1 ? "" : "s", AUTO_LEARN_DAYS, boot, nboots ? "" :
				       ", assumed: no boot journaled");
				if (!p->dry)
					azml_state_idle_set(p->conf, t->name, best);
			}
		} else {
			printf("cluster %s: IdleSecondsBeforeScaledown=auto keeps "
			       "%ld s: out of memory\n", t->name, cur);
		}
		/* its nodes idle that long go */
		snprintf(reason, sizeof(reason), "azureml: idle %ld s "
			 "(IdleSecondsBeforeScaledown=auto)", best);
		hl = slurm_hostlist_create(t->nodes);
		while (hl && (h = slurm_hostlist_shift(hl))) {
			const azml_node_t *n = _find(p->nodes, p->nn, h);
			uint32_t base = n ? n->state & NODE_STATE_BASE : 0;

			if (n && base == NODE_STATE_IDLE &&
			    !(n->state & (NODE_STATE_POWERED_DOWN |
					  NODE_STATE_POWERING_UP |
					  NODE_STATE_POWERING_DOWN |
					  NODE_STATE_POWER_DOWN |
					  NODE_STATE_DRAIN)) &&
			    n->last_busy > 0 && now - n->last_busy >= best) {
				p->actions++;
				printf("cluster %s: node %s idle %ld s >= %ld s; %s\n",
				       t->name, h, now - n->last_busy, best, p->dry ?
				       "would power it down" : "powering it down");
				if (!p->dry && azml_nodes_power_down(h, reason))
					action_failures++;
			}
			free(h);
		}
		if (hl)
			slurm_hostlist_destroy(hl);
	}
	free(jobs);
}

/* Whether any target has VMs in Azure (attached targets have none). */
static bool _has_vm_targets(const azml_conf_t *conf)
{
	for (size_t i = 0; i < conf->ntargets; i++)
		if (conf->targets[i].kind != AZML_ATTACHED)
			return true;
	return false;
}

/*
 * One pass: attached nodes restored, then the four steps above against the
 * VMs listed in Azure.  Returns 0, or 1 when something could not be read or
 * an action failed (each said on stderr or stdout).
 */
static int _reconcile_once(azml_conf_t *conf, bool dry, bool prune)
{
	char err[600];
	azml_node_t *nodes = NULL;
	listing_t l = { 0 };
	pass_t p = { .conf = conf, .dry = dry, .prune = prune };
	int rv = 1;

	p.actions += azml_capacity_lift(conf, true, dry);	/* holds that are over */
	p.nn = azml_nodes_load(&nodes);
	p.nodes = nodes;
	if (p.nn < 0) {
		fprintf(stderr, "slurm-azureml reconcile: slurmctld is not "
			"answering; nothing done\n");
		goto out;
	}
	action_failures = 0;
	p.actions += _reconcile_attached(conf, nodes, p.nn, dry);
	if (_has_vm_targets(conf)) {
		if (!(p.arm = azml_arm_create(conf, NULL, err, sizeof(err)))) {
			fprintf(stderr, "slurm-azureml reconcile: %s\n", err);
			goto out;
		}
		_journal_load(&p);
		journal_conf = dry ? NULL : conf;
		azml_arm_vm_list(p.arm, _listed, &l);
		azml_arm_run(p.arm);
		if (l.failed) {
			fprintf(stderr, "slurm-azureml reconcile: couldn't list "
				"the VMs: %s; nothing done\n", l.err);
			goto out;
		}
		if (_scale_sets(&p, &l))
			goto out;
		p.vms = l.vms;
		p.nvms = l.n;
		_journal_check(&p);
		_orphan_vms(&p);
		_nodes_without_vm(&p);
		_release_held(&p);
		_job_identities(&p);
		for (size_t i = 0; i < conf->ntargets; i++)
			if (conf->targets[i].kind == AZML_CLUSTER &&
			    conf->targets[i].min_nodes)
				_keep_min_nodes(&p, &conf->targets[i]);
		azml_arm_run(p.arm);
		_power_up_settle(p.powered, p.npowered);
		_idle_auto(&p);
	}
	printf("reconcile: %d action%s%s%s\n", p.actions,
	       p.actions == 1 ? "" : "s",
	       dry ? " (dry run: nothing changed)" : "",
	       action_failures ? ", some failed" : "");
	rv = action_failures ? 1 : 0;
out:
	free(l.vms);
	free(p.pairs);
	free(p.pair_set);
	free(nodes);
	azml_journal_free(p.jvm, p.njvm);
	journal_conf = NULL;
	azml_arm_destroy(p.arm);
	return rv;
}

int azml_cmd_reconcile(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL;
	bool dry = false, prune = false;
	int every = 0, c, rc;
	char serr[512], *end;
	azml_conf_t *conf;
	long v;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'n':
			dry = true;
			break;
		case 'P':
			prune = true;
			break;
		case 'e':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1 || v > 86400)
				return azml_cmd_usage_error(cmd, "--every "
					"'%.40s' is not 1-86400 seconds",
					optarg);
			every = (int) v;
			break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	if (azml_state_check(conf, serr, sizeof(serr))) {
		fprintf(stderr, "slurm-azureml reconcile: %s\n", serr);
		azml_conf_destroy(conf);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	if (!dry && azml_state_init(conf, serr, sizeof(serr)))
		fprintf(stderr, "slurm-azureml reconcile: %s\n", serr);
	do {
		rc = _reconcile_once(conf, dry, prune);
		fflush(stdout);
		if (every)
			sleep(every);
	} while (every);
	azml_conf_destroy(conf);
	return rc;
}

/* ---------------------------------------------------------------------- */

int azml_cmd_instance(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL, *name;
	azml_conf_t *conf;
	const azml_target_t *t;
	azml_arm_t *arm;
	char err[600], reason[300];
	bool start;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		if (c == AZML_OPT_EXIT)
			return rc;
		file = optarg;	/* -f: the only option */
	}
	if (azml_cmd_args(cmd, argc, argv, 2, 2))
		return 2;
	if (strcmp(argv[optind], "stop") && strcmp(argv[optind], "start"))
		return azml_cmd_usage_error(cmd, "'%.40s' is neither stop nor "
					    "start", argv[optind]);
	start = !strcmp(argv[optind], "start");
	name = argv[optind + 1];
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	t = azml_conf_find_target(conf, name);
	if (!t || t->kind != AZML_INSTANCE) {
		fprintf(stderr, "slurm-azureml instance: '%.64s' is not a "
			"ComputeInstance of azureml.conf\n", name);
		azml_conf_destroy(conf);
		return 1;
	}
	if (azml_state_check(conf, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml instance: %s\n", err);
		azml_conf_destroy(conf);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	arm = azml_arm_create(conf, NULL, err, sizeof(err));
	if (!arm) {
		fprintf(stderr, "slurm-azureml instance: %s\n", err);
		azml_conf_destroy(conf);
		return 1;
	}
	action_failures = 0;
	if (!start) {
		/* Drain first so no new job lands while the VM goes away. */
		snprintf(reason, sizeof(reason), "azureml: compute instance %s "
			 "stopped by an admin; 'slurm-azureml instance start %s' "
			 "starts it", t->name, t->name);
		azml_nodes_down(t->nodes, reason);
	}
	/* StateDir's journal, when it can be written from here */
	journal_conf = azml_state_init(conf, err, sizeof(err)) ? NULL : conf;
	azml_arm_vm_power(arm, t->nodes, start, _acted, start ? "start" : "deallocate");
	azml_arm_run(arm);
	journal_conf = NULL;
	if (start && !action_failures)
		azml_nodes_resume(t->nodes);
	printf("instance %s: %s\n", t->name, action_failures ? "failed" :
	       start ? "started" : "stopped (deallocated: no compute charges)");
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	return action_failures ? 1 : 0;
}

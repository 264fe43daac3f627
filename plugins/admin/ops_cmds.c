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
#include "reconcile.h"
#include "retail.h"
#include "slurm_compat.h"
#include "state.h"

static const azml_node_t *_find(const azml_node_t *nodes, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, name))
			return &nodes[i];
	return NULL;
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
	azml_jvm_t *vms;	/* the journal's VMs (a mix's real sizes) */
	size_t nvms;
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
	for (size_t i = 0; i < conf->ntargets; i++) {
		azml_jrec_t *r = NULL;
		size_t n = 0, bad = 0;

		if (conf->targets[i].nmix < 2)
			continue;
		/* a mix: its VMs by the size Azure made them */
		if (!azml_state_journal_read(conf, 0, &r, &n, &bad) && n)
			g->vms = azml_journal_fold(r, n, now, &g->nvms);
		free(r);
		break;
	}
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
	azml_target_mix_json(o, t);	/* vm_size is the first of vm_sizes */
	cJSON_AddStringToObject(o, "priority", azml_priority_name(t->priority));
	cJSON_AddStringToObject(o, "nodes", t->nodes);
	if (t->kind == AZML_CLUSTER) {
		cJSON_AddNumberToObject(o, "min_nodes", t->min_nodes);
		cJSON_AddNumberToObject(o, "max_nodes", t->max_nodes);
	}
	_add_hold(o, conf, t);
	if (t->nmix > 1) {
		/* a mix: its VMs now, by the size Azure made them */
		cJSON *by = cJSON_AddObjectToObject(o, "vms_by_size");

		for (size_t k = 0; k < t->nmix; k++) {
			int count = 0;

			for (size_t v = 0; v < g->nvms; v++)
				count += !g->vms[v].end &&
					 !strcmp(g->vms[v].first.target,
						 t->name) &&
					 !strcasecmp(g->vms[v].first.size,
						     t->mix[k]);
			cJSON_AddNumberToObject(by, t->mix[k], count);
		}
	}
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
	if ((b = cJSON_GetObjectItem(t, "vms_by_size")) && cJSON_IsObject(b)) {
		const cJSON *z;

		line[0] = '\0';
		cJSON_ArrayForEach(z, b)
			snprintf(line + strlen(line), sizeof(line) -
				 strlen(line), "%s%s %d", line[0] ? ", " : "",
				 z->string, z->valueint);
		printf("%-16s   VMs by size: %s\n", "", line);
	}
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
	azml_journal_free(g.vms, g.nvms);
	azml_conf_destroy(conf);
	return 0;
}

/* ---------------------------------------------------------------------- */

/*
 * AllocationStrategy=LowestPrice orders a mix by the retail prices StateDir
 * keeps (the resume program never fetches): reconcile keeps them current
 * (retail.h) where a mix has it and Prices= is not set.  What it could not
 * read is said; it fails nothing else.
 */
static void _lowest_price_prices(const azml_conf_t *conf, bool dry)
{
	azml_prices_t p;
	char err[600];
	bool wanted = false;

	for (size_t i = 0; i < conf->ntargets && !wanted; i++)
		wanted = conf->targets[i].nmix > 1 &&
			 conf->targets[i].alloc == AZML_ALLOC_LOWEST_PRICE;
	if (!wanted || conf->prices)
		return;
	switch (azml_retail_prices(conf, (long) time(NULL), dry, &p, err,
				   sizeof(err))) {
	case AZML_RETAIL_READ:
		printf("retail prices: %zu read for AllocationStrategy="
		       "LowestPrice%s\n", p.n, dry ? " (dry run: not kept)" :
		       ", kept in StateDir");
		break;
	case AZML_RETAIL_OLD:
	case AZML_RETAIL_NONE:
		printf("retail prices: the Retail Prices API could not be read "
		       "(%s); AllocationStrategy=LowestPrice uses %s\n", err,
		       p.n ? "the prices kept before" :
		       "the order written");
		break;
	case AZML_RETAIL_KEPT:
		break;
	}
	azml_prices_free(&p);
}

/*
 * One pass (reconcile.h): gather, decide at this second, apply.  Without
 * ARM (it could not be made) only the holds and attached nodes are seen
 * to.  Returns 0, or 1 when something could not be read or an action
 * failed (each said on stderr or stdout).
 */
static int _reconcile_once(azml_conf_t *conf, bool dry, bool prune)
{
	const azml_rc_ops_t *ops = &azml_rc_slurm_ops;
	azml_rc_input_t in = { 0 };
	azml_rc_plan_t plan = { 0 };
	azml_arm_t *arm = NULL;
	char err[600], arm_err[600] = "";
	int failures, rv = 1;

	_lowest_price_prices(conf, dry);
	for (size_t i = 0; i < conf->ntargets && !arm && !arm_err[0]; i++)
		if (conf->targets[i].kind != AZML_ATTACHED &&
		    !(arm = azml_arm_create(conf, NULL, arm_err,
					    sizeof(arm_err))) && !arm_err[0])
			snprintf(arm_err, sizeof(arm_err), "out of memory");
	if (azml_rc_gather(conf, arm, ops, dry, prune, stdout, &in, err,
			   sizeof(err))) {
		fprintf(stderr, "slurm-azureml reconcile: %s\n", err);
		goto out;
	}
	if (azml_rc_decide(&in, (long) time(NULL), &plan)) {
		fprintf(stderr, "slurm-azureml reconcile: out of memory; "
			"nothing done\n");
		goto out;
	}
	failures = azml_rc_apply(conf, arm, ops, &plan, dry, stdout);
	if (arm_err[0]) {
		fprintf(stderr, "slurm-azureml reconcile: %s\n", arm_err);
		goto out;
	}
	printf("reconcile: %d action%s%s%s\n", plan.actions,
	       plan.actions == 1 ? "" : "s",
	       dry ? " (dry run: nothing changed)" : "",
	       failures ? ", some failed" : "");
	rv = failures ? 1 : 0;
out:
	azml_rc_plan_free(&plan);
	azml_rc_input_free(&in);
	azml_arm_destroy(arm);
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
	azml_rc_ctx_t ctx = { .out = stdout };
	azml_rc_done_t done = { .ctx = &ctx };
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
	if (!start) {
		/* Drain first so no new job lands while the VM goes away. */
		snprintf(reason, sizeof(reason), "azureml: compute instance %s "
			 "stopped by an admin; 'slurm-azureml instance start %s' "
			 "starts it", t->name, t->name);
		azml_nodes_down(t->nodes, reason);
	}
	/* StateDir's journal, when it can be written from here */
	ctx.conf = azml_state_init(conf, err, sizeof(err)) ? NULL : conf;
	done.what = start ? "start" : "deallocate";
	azml_arm_vm_power(arm, t->nodes, start, azml_rc_acted, &done);
	azml_arm_run(arm);
	if (start && !ctx.failures)
		azml_nodes_resume(t->nodes);
	printf("instance %s: %s\n", t->name, ctx.failures ? "failed" :
	       start ? "started" : "stopped (deallocated: no compute charges)");
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	return ctx.failures ? 1 : 0;
}

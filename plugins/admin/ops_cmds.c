/*
 * ops_cmds.c - targets, reconcile and instance: the admin's view of Azure and
 * Slurm together, and the actions that make them agree.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <slurm/slurm.h>

#include "admin.h"
#include "arm.h"
#include "conf.h"
#include "log.h"
#include "nodes.h"
#include "slurm_compat.h"
#include "state.h"

static azml_conf_t *_load(void)
{
	azml_conf_t *conf = azml_conf_load(NULL);

	for (size_t i = 0; conf && i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	if (!conf || conf->nerrors) {
		azml_conf_destroy(conf);
		return NULL;
	}
	if (conf->log_file)
		azml_log_add_file(conf->log_file);
	return conf;
}

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

/* ---------------------------------------------------------------------- */

int azml_cmd_targets(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *buckets[] = { "powered_down", "powering_up", "idle",
					 "allocated", "down", "not_attached" };
	bool json = false;
	azml_conf_t *conf;
	azml_node_t *nodes = NULL;
	int nn, c;
	cJSON *root, *arr;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jh", opts, NULL)) != -1) {
		if (c != 'j') {
			fprintf(c == 'h' ? stdout : stderr,
				"usage: slurm-azureml targets [--json]\n");
			return c == 'h' ? 0 : 2;
		}
		json = true;
	}
	if (!(conf = _load()))
		return 1;
	azml_nodes_init();
	nn = azml_nodes_load(&nodes);
	root = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(root, "targets");
	cJSON_AddBoolToObject(root, "slurmctld", nn >= 0);
	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];
		cJSON *o = cJSON_CreateObject(), *st = cJSON_CreateObject();
		azml_hostlist_t hl = slurm_hostlist_create(t->nodes);
		char *h;

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
		for (size_t b = 0; b < sizeof(buckets) / sizeof(buckets[0]); b++)
			cJSON_AddArrayToObject(st, buckets[b]);
		while (nn >= 0 && hl && (h = slurm_hostlist_shift(hl))) {
			const azml_node_t *n = _find(nodes, nn, h);

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
		cJSON_AddItemToObject(o, "states", st);
		cJSON_AddItemToArray(arr, o);
	}
	if (json) {
		azml_print_json(root);
	} else {
		cJSON *t;

		if (nn < 0)
			printf("(slurmctld is not answering: node states unknown)\n");
		printf("%-16s %-9s %-20s %-11s %s\n", "TARGET", "KIND", "VM SIZE",
		       "PRIORITY", "NODES");
		cJSON_ArrayForEach(t, arr) {
			cJSON *st = cJSON_GetObjectItem(t, "states"), *b;
			char line[1024] = "";

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
			cJSON_ArrayForEach(b, cJSON_GetObjectItem(st, "down")) {
				printf("%-16s   down: %s: %s\n", "",
				       cJSON_GetStringValue(cJSON_GetObjectItem(b, "node")),
				       cJSON_GetStringValue(cJSON_GetObjectItem(b, "reason")));
			}
		}
		cJSON_Delete(root);
	}
	free(nodes);
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

static void _listed(void *arg, const azml_vm_result_t *v, size_t n,
		    const azml_vm_result_t *err)
{
	listing_t *l = arg;

	if (err) {
		l->failed = true;
		snprintf(l->err, sizeof(l->err), "%s: %s", err->code, err->message);
		return;
	}
	l->vms = malloc((n + 1) * sizeof(*v));
	memcpy(l->vms, v, n * sizeof(*v));
	l->n = n;
}

static int action_failures;

static void _acted(void *arg, const azml_vm_result_t *r)
{
	const char *what = arg;

	if (r->ok) {
		printf("  %s VM %s: done (op %s)\n", what, r->name, r->op_id);
		azml_log_info("reconcile: %s VM %s op=%s: ok", what, r->name, r->op_id);
	} else {
		action_failures++;
		printf("  %s VM %s: failed: %s: %s\n", what, r->name, r->code,
		       r->message);
		azml_log_error("reconcile: couldn't %s VM %s: %s: %s", what,
			       r->name, r->code, r->message);
	}
}

/*
 * Attached nodes that slurmctld forgot: a restart turns every node that
 * slurm.conf says is FUTURE back into a slot, so the nodes accepted by
 * 'attach --accept' (their reports are in StateDir/attached) are given
 * their address and resumed again.  Returns the number of actions.
 */
static int _reconcile_attached(const azml_conf_t *conf, const azml_node_t *nodes,
			       int nn, bool dry)
{
	char dir[4096], path[4400];
	struct dirent *e;
	DIR *d;
	int actions = 0;

	if (!conf->state_dir)
		return 0;
	snprintf(dir, sizeof(dir), "%s/attached", conf->state_dir);
	if (!(d = opendir(dir)))
		return 0;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		char node[128];
		const azml_target_t *t;
		cJSON *rep = NULL;
		const char *addr, *host;
		FILE *fp;

		if (len < 6 || len - 5 >= sizeof(node) ||
		    strcmp(e->d_name + len - 5, ".json"))
			continue;
		snprintf(node, sizeof(node), "%.*s", (int) (len - 5), e->d_name);
		t = azml_conf_target_of_node(conf, node);
		if (!t || t->kind != AZML_ATTACHED || _find(nodes, nn, node))
			continue;	/* not ours any more, or slurmctld has it */
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if ((fp = fopen(path, "r"))) {
			char buf[65536];
			size_t got = fread(buf, 1, sizeof(buf) - 1, fp);

			buf[got] = '\0';
			rep = cJSON_Parse(buf);
			fclose(fp);
		}
		addr = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "address"));
		host = cJSON_GetStringValue(cJSON_GetObjectItem(rep, "hostname"));
		if (!addr || !host) {
			printf("attached node %s: %s is not a report; skipped\n",
			       node, path);
			cJSON_Delete(rep);
			continue;
		}
		actions++;
		printf("attached node %s is a FUTURE slot again (slurmctld "
		       "restarted); %s it at %s\n", node,
		       dry ? "would restore" : "restoring", addr);
		if (!dry && (azml_nodes_set_addr(node, addr, host) < 0 ||
			     azml_nodes_resume(node) < 0))
			action_failures++;
		else if (!dry)
			azml_log_info("reconcile: attached node %s restored at %s",
				      node, addr);
		cJSON_Delete(rep);
	}
	closedir(d);
	return actions;
}

static int _reconcile_once(azml_conf_t *conf, bool dry)
{
	char err[600];
	azml_arm_t *arm = NULL;
	azml_node_t *nodes = NULL;
	listing_t l = { 0 };
	int nn, actions = 0, npowered = 0;
	bool vms = false;
	char powered[64][128];	/* the nodes powered up for MinNodes */

	nn = azml_nodes_load(&nodes);
	if (nn < 0) {
		fprintf(stderr, "slurm-azureml reconcile: slurmctld is not "
			"answering; nothing done\n");
		return 1;
	}
	action_failures = 0;
	actions += _reconcile_attached(conf, nodes, nn, dry);
	for (size_t i = 0; i < conf->ntargets; i++)
		vms = vms || conf->targets[i].kind != AZML_ATTACHED;
	if (!vms)	/* only attached targets: nothing in Azure */
		goto done;
	if (!(arm = azml_arm_create(conf, NULL, err, sizeof(err)))) {
		fprintf(stderr, "slurm-azureml reconcile: %s\n", err);
		free(nodes);
		return 1;
	}
	azml_arm_vm_list(arm, _listed, &l);
	azml_arm_run(arm);
	if (l.failed) {
		fprintf(stderr, "slurm-azureml reconcile: couldn't list the VMs: "
			"%s; nothing done\n", l.err);
		goto out;
	}
	/* 1. VMs whose node is powered down, unknown, or not ours: orphans. */
	for (size_t i = 0; i < l.n; i++) {
		const azml_vm_result_t *v = &l.vms[i];
		const char *node = v->node[0] ? v->node : v->name;
		const azml_target_t *t = azml_conf_target_of_node(conf, node);
		const azml_node_t *sn = _find(nodes, nn, node);
		const char *why = NULL;

		if (azml_state_intent_active(conf, node))
			continue;	/* a resume or delete is in flight */
		if (!t || t->kind == AZML_ATTACHED)
			why = "its node is not in azureml.conf";
		else if (!sn)
			why = "slurmctld does not know its node";
		else if (azml_node_powered_down(sn) && t->kind == AZML_CLUSTER)
			why = "its node is powered down";
		if (!why)
			continue;
		actions++;
		printf("orphan VM %s (node %s): %s%s\n", v->name, node, why,
		       dry ? "; would delete it" : "; deleting it");
		if (!dry)
			azml_arm_vm_delete(arm, v->name, _acted, "delete");
	}
	/* 2. Nodes that Slurm thinks are up, whose VM is gone. */
	for (int i = 0; i < nn; i++) {
		const azml_target_t *t = azml_conf_target_of_node(conf, nodes[i].name);
		bool has_vm = false;

		if (!t || t->kind != AZML_CLUSTER ||
		    (nodes[i].state & (NODE_STATE_POWERED_DOWN |
				       NODE_STATE_POWERING_UP |
				       NODE_STATE_POWERING_DOWN)) ||
		    azml_state_intent_active(conf, nodes[i].name))
			continue;
		for (size_t k = 0; k < l.n && !has_vm; k++)
			has_vm = !strcmp(l.vms[k].node[0] ? l.vms[k].node :
					 l.vms[k].name, nodes[i].name);
		if (has_vm)
			continue;
		actions++;
		printf("node %s is up in Slurm but has no VM%s\n", nodes[i].name,
		       dry ? "; would power it down" : "; powering it down");
		if (!dry)
			azml_nodes_power_down_force(nodes[i].name, "azureml: "
				"VMNotFound: its VM no longer exists");
	}
	/* 3. Nodes held DOWN after repeated failures, once the back-off is over. */
	for (int i = 0; i < nn; i++) {
		long age;

		if (strncmp(nodes[i].reason, "azureml: held after", 19))
			continue;
		age = azml_state_failure_age(conf, nodes[i].name);
		if (age >= 0 && age < AZML_BACKOFF)
			continue;
		actions++;
		printf("node %s was held after repeated failures; %s\n",
		       nodes[i].name, dry ? "would release it" : "releasing it");
		if (!dry) {
			azml_state_failure_clear(conf, nodes[i].name);
			azml_nodes_resume(nodes[i].name);
		}
	}
	/* 4. MinNodes of each cluster kept powered. */
	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];
		int up = 0;
		char node[128];

		if (t->kind != AZML_CLUSTER || !t->min_nodes)
			continue;
		for (int k = 1; k <= t->max_nodes; k++) {
			const azml_node_t *sn;

			snprintf(node, sizeof(node), "%s-%d", t->name, k);
			sn = _find(nodes, nn, node);
			if (sn && !azml_node_powered_down(sn))
				up++;
		}
		for (int k = 1; k <= t->max_nodes && up < t->min_nodes; k++) {
			const azml_node_t *sn;

			snprintf(node, sizeof(node), "%s-%d", t->name, k);
			sn = _find(nodes, nn, node);
			if (!sn || !azml_node_powered_down(sn) ||
			    (sn->state & NODE_STATE_BASE) == NODE_STATE_DOWN)
				continue;
			actions++;
			up++;
			printf("cluster %s has fewer than MinNodes=%d powered; %s "
			       "%s\n", t->name, t->min_nodes, dry ?
			       "would power up" : "powering up", node);
			if (!dry && !azml_nodes_power_up(node) &&
			    npowered < (int)(sizeof(powered) /
					     sizeof(powered[0])))
				snprintf(powered[npowered++], sizeof(powered[0]),
					 "%s", node);
		}
	}
	azml_arm_run(arm);
	_power_up_settle(powered, npowered);
done:
	printf("reconcile: %d action%s%s%s\n", actions, actions == 1 ? "" : "s",
	       dry ? " (dry run: nothing changed)" : "",
	       action_failures ? ", some failed" : "");
out:
	free(l.vms);
	free(nodes);
	azml_arm_destroy(arm);
	return l.failed || action_failures ? 1 : 0;
}

int azml_cmd_reconcile(int argc, char **argv)
{
	static const struct option o[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "every", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool dry = false;
	int every = 0, c, rc;
	azml_conf_t *conf;

	optind = 1;
	while ((c = getopt_long(argc, argv, "nh", o, NULL)) != -1) {
		if (c == 'n')
			dry = true;
		else if (c == 'e' && atoi(optarg) > 0)
			every = atoi(optarg);
		else {
			fprintf(c == 'h' ? stdout : stderr, "usage: slurm-azureml "
				"reconcile [--dry-run] [--every SECONDS]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!(conf = _load()))
		return 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	if (azml_state_init(conf, NULL, 0) && !dry)
		fprintf(stderr, "slurm-azureml reconcile: StateDir %s is not "
			"writable\n", conf->state_dir);
	do {
		rc = _reconcile_once(conf, dry);
		fflush(stdout);
		if (every)
			sleep(every);
	} while (every);
	azml_conf_destroy(conf);
	return rc;
}

/* ---------------------------------------------------------------------- */

int azml_cmd_instance(int argc, char **argv)
{
	azml_conf_t *conf;
	const azml_target_t *t;
	azml_arm_t *arm;
	char err[600], reason[300];
	bool start;

	if (argc != 3 || (strcmp(argv[1], "stop") && strcmp(argv[1], "start"))) {
		fprintf(stderr, "usage: slurm-azureml instance stop|start NAME\n");
		return 2;
	}
	start = !strcmp(argv[1], "start");
	if (!(conf = _load()))
		return 1;
	t = azml_conf_find_target(conf, argv[2]);
	if (!t || t->kind != AZML_INSTANCE) {
		fprintf(stderr, "slurm-azureml instance: '%.64s' is not a "
			"ComputeInstance of azureml.conf\n", argv[2]);
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
	azml_arm_vm_power(arm, t->nodes, start, _acted, start ? "start" : "deallocate");
	azml_arm_run(arm);
	if (start && !action_failures)
		azml_nodes_resume(t->nodes);
	printf("instance %s: %s\n", t->name, action_failures ? "failed" :
	       start ? "started" : "stopped (deallocated: no compute charges)");
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	return action_failures ? 1 : 0;
}

/* ---------------------------------------------------------------------- */
/* watch-events: on a low-priority node, beside its slurmd. */

typedef struct {
	int status;
	char *body;
} got_t;

static void _got(void *arg, const azml_http_resp_t *r)
{
	got_t *g = arg;

	g->status = r->status;
	free(g->body);
	g->body = r->body ? strdup(r->body) : NULL;
}

int azml_cmd_watch_events(int argc, char **argv)
{
	static const struct option o[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "vm", required_argument, NULL, 'v' },
		{ "interval", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *node = NULL, *vm = NULL;
	double interval = 1;
	azml_conf_t *conf;
	char url[2048], err[256];
	const char *hdr[] = { "Metadata: true", NULL };
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", o, NULL)) != -1) {
		switch (c) {
		case 'n': node = optarg; break;
		case 'v': vm = optarg; break;
		case 'i': interval = atof(optarg) > 0.1 ? atof(optarg) : 1; break;
		default:
			fprintf(c == 'h' ? stdout : stderr, "usage: slurm-azureml "
				"watch-events --node NODE [--vm VM] [--interval S]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (!node || !azml_arm_name_ok(node) || (vm && !azml_arm_name_ok(vm))) {
		fprintf(stderr, "slurm-azureml watch-events: --node NODE (a valid "
			"node name) is required\n");
		return 2;
	}
	if (!vm)
		vm = node;
	if (!(conf = _load()))
		return 1;
	azml_log_init(AZML_LOG_SYSLOG, "slurm-azureml-watch", AZML_LOG_INFO);
	azml_log_also_stderr(1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	/* On Azure IMDS answers the VM that asks; the emulator serves every VM
	 * on one address, so there the VM names itself (its convention). */
	snprintf(url, sizeof(url), "%s/metadata/scheduledevents?api-version="
		 "2020-07-01%s%s", conf->imds_endpoint,
		 strstr(conf->imds_endpoint, "169.254.169.254") ? "" : "&vm=",
		 strstr(conf->imds_endpoint, "169.254.169.254") ? "" : vm);
	azml_log_info("watching Scheduled Events of VM %s (node %s)", vm, node);
	for (;;) {
		azml_http_opts_t ho = { .max_in_flight = 1, .timeout = 10,
					.retry_for = 5 };
		azml_http_t *h = azml_http_create(&ho);
		got_t g = { 0 };
		char id[64] = "", nb[64] = "", reason[300], body[200];
		int found;

		azml_http_submit(h, "GET", url, hdr, NULL, 0, _got, &g, err, sizeof(err));
		azml_http_run(h);
		found = g.status == 200 ?
			azml_parse_scheduled_events(g.body, vm, id, sizeof(id),
						    nb, sizeof(nb)) : -1;
		free(g.body);
		if (found == 1) {
			int n;

			snprintf(reason, sizeof(reason), "azureml: Preempt: Spot VM "
				 "%s is being evicted (Scheduled Events %s, not "
				 "before %s)", vm, id, nb[0] ? nb : "now");
			azml_log_info("node %s: %s", node, reason);
			/* Requeue while slurmd still runs here, so the jobs
			 * end cleanly; then hand the node back (as a failed
			 * resume is): the VM is deleted, the node is idle~
			 * for the next VM. */
			n = azml_nodes_requeue_jobs(node);
			azml_log_info("node %s: requeued %d job%s", node, n,
				      n == 1 ? "" : "s");
			for (int w = 0; w < 20 && azml_nodes_requeue_jobs(node) > 0; w++)
				usleep(250000);
			sleep(1);
			azml_nodes_power_down_force(node, reason);
			/* Acknowledge: let the eviction go ahead now. */
			snprintf(body, sizeof(body), "{\"StartRequests\":[{\"EventId\":"
				 "\"%.64s\"}]}", id);
			azml_http_submit(h, "POST", url, hdr, body, 0, _got, &g,
					 err, sizeof(err));
			azml_http_run(h);
			free(g.body);
			azml_http_destroy(h);
			break;
		}
		azml_http_destroy(h);
		usleep((useconds_t) (interval * 1e6));
	}
	azml_conf_destroy(conf);
	return 0;
}

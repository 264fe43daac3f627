/*
 * node_cmds.c - node-check, attach and detach: on-prem nodes admitted after
 * their GPUs are checked.
 *
 * Attached nodes are generated as State=FUTURE slots (Slurm 22.05 cannot add
 * nodes without restarting slurmctld).  'attach --accept' turns a slot into a
 * node with the address the credential carries and resumes it; 'detach'
 * drains it and turns it back into a FUTURE slot.  Where slurmctld has no
 * such node and runs 24.11 or later, accept creates it instead ('scontrol
 * create', with the target's checked Gres and Feature) and detach deletes
 * it; the node's slurmd starts with -Z.  Self-registration ('slurmd -Z
 * --conf Gres=...') was not chosen: such a node creates itself with whatever
 * it claims, so nothing would be checked before jobs land on it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cjson/cJSON.h>
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "admin.h"
#include "attach.h"
#include "conf.h"
#include "generate.h"
#include "gpu.h"
#include "health.h"
#include "log.h"
#include "names.h"
#include "nodes.h"
#include "slurm_compat.h"
#include "state.h"

#define REASON_PREFIX "azureml: "

/* This node's Slurm name: --node, $SLURMD_NODENAME, the short host name. */
static void _node_name(const char *opt, char *out, size_t n)
{
	const char *env = getenv("SLURMD_NODENAME");
	char host[256] = "";

	if (opt)
		snprintf(out, n, "%s", opt);
	else if (env && *env)
		snprintf(out, n, "%s", env);
	else {
		gethostname(host, sizeof(host) - 1);
		host[strcspn(host, ".")] = '\0';
		snprintf(out, n, "%s", host);
	}
}

/* gres.conf: --gres-conf, else beside $SLURM_CONF, else /etc/slurm. */
static char *_gres_conf_path(const char *opt)
{
	const char *sc = getenv("SLURM_CONF");
	char buf[4096];

	if (opt)
		return strdup(opt);
	if (sc && *sc) {
		char *dup = strdup(sc);

		if (!dup)
			return NULL;
		snprintf(buf, sizeof(buf), "%s/gres.conf", dirname(dup));
		free(dup);
	} else {
		snprintf(buf, sizeof(buf), "/etc/slurm/gres.conf");
	}
	return access(buf, R_OK) == 0 ? strdup(buf) : NULL;
}

typedef struct {
	const char *topology, *gres, *cuda, *gres_conf, *node, *conf_file;
	bool json, health, dry_run;
} check_opts_t;

/*
 * Run the check.  Returns the verdict (the caller owns it) and fills INV,
 * or NULL after printing why.  With a topology file: only what it holds
 * (no devices, no NVML).
 */
static cJSON *_check(const check_opts_t *o, const azml_conf_t *conf,
		     const char *node, azml_inventory_t *inv, bool *ok)
{
	azml_check_req_t req = { 0 };
	azml_nvml_t *nvml = NULL;
	const azml_target_t *t = conf ? azml_conf_target_of_node(conf, node) : NULL;
	char err[512], *gc = NULL;
	cJSON *v = NULL;
	int nf;

	if (azml_gpu_inventory(o->topology, inv, err, sizeof(err)) < 0) {
		fprintf(stderr, "slurm-azureml node-check: %s\n", err);
		return NULL;
	}
	req.declared = o->gres ? o->gres : t ? t->gres : NULL;
	req.cuda = o->cuda ? o->cuda : t ? t->cuda : NULL;
	if (!o->topology) {
		if ((gc = _gres_conf_path(o->gres_conf))) {
			nf = azml_gres_conf_files(gc, node, &req.files, err,
						  sizeof(err));
			if (nf < 0) {
				fprintf(stderr, "slurm-azureml node-check: %s\n",
					err);
				goto out;
			}
			req.nfiles = (size_t) nf;
		}
		if (!(nvml = malloc(sizeof(*nvml))))
			goto out;
		azml_nvml_query(NULL, nvml);
		azml_gpu_apply_nvml(inv, nvml);
		req.nvml = nvml;
	}
	v = azml_node_check(inv, &req, ok);
out:
	azml_strv_free(req.files, req.nfiles);
	free(gc);
	free(nvml);
	return v;
}

static void _print_human(const cJSON *v, const char *node)
{
	const cJSON *g, *r, *nv = cJSON_GetObjectItem(v, "nvml");
	const cJSON *decl = cJSON_GetObjectItem(v, "declared");
	int i = 0;

	printf("%s: %d GPU%s", node, cJSON_GetObjectItem(v, "count")->valueint,
	       cJSON_GetObjectItem(v, "count")->valueint == 1 ? "" : "s");
	if (cJSON_IsString(decl))
		printf(", declared %s", decl->valuestring);
	printf("\n");
	cJSON_ArrayForEach(g, cJSON_GetObjectItem(v, "gpus")) {
		const cJSON *arch = cJSON_GetObjectItem(g, "arch");
		const cJSON *numa = cJSON_GetObjectItem(g, "numa");
		char ns[16] = "?";

		if (cJSON_IsNumber(numa))
			snprintf(ns, sizeof(ns), "%d", numa->valueint);
		printf("  gpu%d  %s  %s  %-8s %s  (NUMA %s)\n", i++,
		       cJSON_GetObjectItem(g, "busid")->valuestring,
		       cJSON_GetObjectItem(g, "pci_id")->valuestring,
		       cJSON_IsString(arch) ? arch->valuestring : "unknown",
		       cJSON_GetObjectItem(g, "model")->valuestring, ns);
	}
	if (nv) {
		const cJSON *p = cJSON_GetObjectItem(nv, "present");

		if (cJSON_IsTrue(p))
			printf("  NVIDIA driver %s, CUDA %s\n",
			       cJSON_GetObjectItem(nv, "driver")->valuestring,
			       cJSON_IsString(cJSON_GetObjectItem(nv, "cuda")) ?
			       cJSON_GetObjectItem(nv, "cuda")->valuestring : "?");
		else
			printf("  %s\n", cJSON_GetObjectItem(nv, "note")->valuestring);
	}
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(v, "reasons"))
		printf("  MISMATCH: %s\n", r->valuestring);
	printf("%s\n", cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")) ? "ok" : "FAILED");
}

/*
 * As HealthCheckProgram: drain with the first failure's reason, resume a
 * node we drained once it passes again (unless slurmctld is powering it
 * down to replace it).  Every failure is logged, one line each.
 */
static int _health(const char *node, const azml_hresult_t *res)
{
	azml_node_t *nodes = NULL, *me = NULL;
	int n;
	char reason[256];

	for (int i = 0; i < res->n; i++)
		azml_log_info("health: %s: %s", node, res->fail[i].reason);
	azml_nodes_init();
	if ((n = azml_nodes_load(&nodes)) < 0)
		return 1;
	for (int i = 0; i < n; i++)
		if (!strcmp(nodes[i].name, node))
			me = &nodes[i];
	if (!me) {
		azml_log_error("node-check: slurmctld has no node %s", node);
		free(nodes);
		return 1;
	}
	if (res->n) {
		/* the gres check's reasons keep their old form */
		snprintf(reason, sizeof(reason), "%s%s",
			 res->fail[0].check == AZML_HC_N ? REASON_PREFIX :
			 AZML_HEALTH_REASON,
			 res->fail[0].reason);
		if (!(me->state & NODE_STATE_DRAIN) || strcmp(me->reason, reason)) {
			azml_log_info("node-check: draining %s: %s", node, reason);
			azml_nodes_drain(node, reason);
		}
	} else if ((me->state & NODE_STATE_DRAIN) &&
		   !(me->state & NODE_STATE_POWER_DRAIN) &&
		   !strncmp(me->reason, REASON_PREFIX, strlen(REASON_PREFIX)) &&
		   strncmp(me->reason, "azureml: capacity:", 18)) {
		azml_log_info("node-check: %s passes again, resuming it (was: %s)",
			      node, me->reason);
		azml_nodes_resume(node);
	}
	free(nodes);
	return res->n ? 1 : 0;
}

/* The health checks of NODE (of T, or none), into RES; with V (an
 * attached node's gres verdict), its first reason first. */
static void _health_checks(const azml_target_t *t, const char *node,
			   const cJSON *v, bool gres_ok, azml_hresult_t *res)
{
	azml_health_req_t req;
	azml_nvml_t *nvml = NULL;

	azml_health_req_of(t, node, &req);
	if (req.gpus > 0 &&
	    (req.checks & ((1u << AZML_HC_GPU) | (1u << AZML_HC_ECC))) &&
	    (nvml = malloc(sizeof(*nvml)))) {
		azml_nvml_query(NULL, nvml);
		req.nvml = nvml;
	}
	azml_health_run(&req, res);
	if (v && !gres_ok) {
		const cJSON *r = cJSON_GetArrayItem(
			cJSON_GetObjectItem(v, "reasons"), 0);

		if (res->n == AZML_HEALTH_MAXFAIL)
			res->n--;
		memmove(&res->fail[1], &res->fail[0],
			sizeof(res->fail[0]) * (size_t) res->n);
		res->fail[0].check = AZML_HC_N;	/* not a health check's */
		snprintf(res->fail[0].reason, sizeof(res->fail[0].reason),
			 "%s", cJSON_IsString(r) ? r->valuestring :
			 "node-check failed");
		res->n++;
	}
	free(nvml);
}

int azml_cmd_node_check(const azml_cmd_t *cmd, int argc, char **argv)
{
	check_opts_t o = { 0 };
	azml_inventory_t *inv = NULL;
	azml_conf_t *conf = NULL;
	char node[128];
	cJSON *v = NULL;
	bool ok = false;
	int c, rc = 2;

	if (!strcmp(basename(argv[0]), "slurm-azureml-health-check"))
		o.health = true;
	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT: return rc;
		case 't': o.topology = optarg; break;
		case 'g': o.gres = optarg; break;
		case 'c': o.cuda = optarg; break;
		case 'G': o.gres_conf = optarg; break;
		case 'n': o.node = optarg; break;
		case 'f': o.conf_file = optarg; break;
		case 'j': o.json = true; break;
		case 'H': o.health = true; break;
		case 'd': o.dry_run = true; break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (o.health) {
		azml_log_init(AZML_LOG_SYSLOG, "slurm-azureml-health-check",
			      AZML_LOG_INFO);
		if (o.topology)
			return azml_cmd_usage_error(cmd, "--health-check judges "
						    "this machine, not "
						    "--topology");
	}
	_node_name(o.node, node, sizeof(node));
	if (!azml_node_name_ok(node, 0)) {
		fprintf(stderr, "slurm-azureml node-check: '%.80s' is not a "
			"node name\n", node);
		return 2;
	}
	if (azml_cmd_conf(cmd, o.conf_file, AZML_CONF_OPTIONAL | AZML_CONF_LOG,
			  &conf))
		return 1;
	if (o.health) {
		const azml_target_t *t = conf ? azml_conf_target_of_node(conf, node) : NULL;
		azml_hresult_t *res = calloc(1, sizeof(*res));

		if (!res)
			goto out;
		/* An attached node's gres are judged as at attach too (its
		 * hardware is the site's); a VM's by its size. */
		if (t && t->kind == AZML_ATTACHED) {
			if (!(inv = calloc(1, sizeof(*inv))) ||
			    !(v = _check(&o, conf, node, inv, &ok))) {
				free(res);
				rc = 1;
				goto out;
			}
		}
		_health_checks(t, node, v, ok, res);
		rc = o.dry_run ? (res->n ? 1 : 0) : _health(node, res);
		if (o.dry_run)
			for (int i = 0; i < res->n; i++)
				printf("%s\n", res->fail[i].reason);
		free(res);
		goto out;
	}
	if (!(inv = calloc(1, sizeof(*inv))))
		goto out;
	if (!(v = _check(&o, conf, node, inv, &ok))) {
		rc = 2;
		goto out;
	}
	if (o.json) {
		azml_print_json(v);
		v = NULL;
	} else {
		_print_human(v, node);
	}
	rc = ok ? 0 : 1;
out:
	cJSON_Delete(v);
	free(inv);
	azml_conf_destroy(conf);
	return rc;
}

/* ---- attach ----------------------------------------------------------- */

static char *_read_all(const char *path, char *err, size_t errlen)
{
	FILE *fp = (!path || !strcmp(path, "-")) ? stdin : fopen(path, "r");
	size_t cap = 4096, len = 0, got;
	char *buf = NULL, *nb;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while ((nb = realloc(buf, cap + 1))) {
		buf = nb;
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (len < cap)
			break;
		if (cap >= 1024 * 1024) {
			snprintf(err, errlen, "%s: larger than 1 MiB: not a "
				 "credential", path ? path : "stdin");
			free(buf);
			buf = NULL;
			break;
		}
		cap *= 2;
	}
	if (fp != stdin)
		fclose(fp);
	if (!buf)
		return NULL;
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
		       buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (!len) {
		snprintf(err, errlen, "%s: empty: no credential",
			 path && strcmp(path, "-") ? path : "stdin");
		free(buf);
		return NULL;
	}
	return buf;
}

/* This host's address: the first that its name resolves to. */
static int _address(const char *host, char *out, size_t n)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;

	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return -1;
	if (res->ai_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) res->ai_addr)->sin_addr,
			  out, (socklen_t) n);
	else
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *) res->ai_addr)->sin6_addr,
			  out, (socklen_t) n);
	freeaddrinfo(res);
	return 0;
}

static const char *_munge_socket(const char *opt)
{
	const char *env = getenv("MUNGE_SOCKET");

	return opt ? opt : (env && *env) ? env : NULL;
}

static int _attach_node(const azml_cmd_t *cmd, const check_opts_t *o,
			const char *address, const char *socket, int ttl,
			const char *output)
{
	azml_inventory_t *inv = calloc(1, sizeof(*inv));
	azml_conf_t *conf = NULL;
	check_opts_t local = *o;
	char node[128], host[256] = "", addr[INET6_ADDRSTRLEN + 1] = "";
	char err[512], *cred = NULL;
	cJSON *v = NULL, *report = NULL;
	const cJSON *r;
	bool ok = false;
	int rc = 2;
	FILE *fp = stdout;

	if (azml_cmd_conf(cmd, o->conf_file,
			  AZML_CONF_OPTIONAL | AZML_CONF_LOG, &conf)) {
		rc = 1;
		goto out;
	}
	if (!inv)
		goto out;
	_node_name(o->node, node, sizeof(node));
	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	if (address)
		snprintf(addr, sizeof(addr), "%s", address);
	else if (_address(host, addr, sizeof(addr)) < 0) {
		fprintf(stderr, "slurm-azureml attach: cannot resolve this "
			"host's name '%s': give --address\n", host);
		goto out;
	}
	if (!azml_node_name_ok(node, 0) ||
	    !azml_node_name_ok(addr, AZML_NAME_ADDRESS) ||
	    !azml_node_name_ok(host, 0)) {
		fprintf(stderr, "slurm-azureml attach: node '%.80s', host "
			"'%.80s' or address '%.80s' is not valid\n", node, host,
			addr);
		goto out;
	}
	/* What only this node can see (its devices, NVML) goes in the
	 * report; the controller judges the GPUs against the target itself. */
	local.gres = NULL;
	local.cuda = NULL;
	if (!(v = _check(&local, NULL, node, inv, &ok)))
		goto out;
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(v, "reasons"))
		fprintf(stderr, "slurm-azureml attach: warning: %s\n",
			r->valuestring);
	if (o->gres || conf) {	/* the admin's own look before sending it */
		const azml_target_t *t = conf ? azml_conf_target_of_node(conf, node) : NULL;
		azml_check_req_t req = {
			.declared = o->gres ? o->gres : t ? (t->gres ? t->gres : "gpu:0") : NULL,
			.cuda = o->cuda ? o->cuda : t ? t->cuda : NULL,
		};
		bool dok;
		cJSON *d = azml_node_check(inv, &req, &dok);

		cJSON_ArrayForEach(r, cJSON_GetObjectItem(d, "reasons"))
			fprintf(stderr, "slurm-azureml attach: warning: %s\n",
				r->valuestring);
		ok = ok && dok;
		cJSON_Delete(d);
	}
	report = azml_attach_report(node, host, addr, inv, v);
	v = NULL;
	if (!(cred = azml_attach_seal(socket, ttl, report, err, sizeof(err)))) {
		fprintf(stderr, "slurm-azureml attach: %s\n", err);
		goto out;
	}
	if (output && !(fp = fopen(output, "w"))) {
		fprintf(stderr, "slurm-azureml attach: %s: %s\n", output,
			strerror(errno));
		goto out;
	}
	fprintf(fp, "%s\n", cred);
	if (fp != stdout)
		fclose(fp);
	fprintf(stderr, "slurm-azureml attach: %s (%s): %zu GPU%s, %d CPUs, "
		"%ld MiB; credential valid %d s: on the controller run "
		"'slurm-azureml attach --accept FILE'%s\n", node, addr,
		inv->ngpus, inv->ngpus == 1 ? "" : "s", inv->pus,
		inv->memory_mib, ttl, ok ? "" : " (it will be refused)");
	rc = ok ? 0 : 1;
out:
	free(cred);
	cJSON_Delete(v);
	cJSON_Delete(report);
	azml_conf_destroy(conf);
	free(inv);
	return rc;
}

/* A FUTURE slot (slurmctld lists those only when asked), or a node DOWN or
 * drained by us, is resumed; an attached node that is up only gets its
 * new address. */
static bool _needs_resume(const char *node)
{
	azml_node_t *nodes = NULL;
	int n = azml_nodes_load(&nodes);
	bool resume = true;

	for (int i = 0; i < n; i++) {
		if (strcmp(nodes[i].name, node))
			continue;
		resume = (nodes[i].state & NODE_STATE_BASE) == NODE_STATE_DOWN ||
			 (nodes[i].state & NODE_STATE_BASE) == NODE_STATE_FUTURE ||
			 ((nodes[i].state & NODE_STATE_DRAIN) &&
			  !strncmp(nodes[i].reason, REASON_PREFIX,
				   strlen(REASON_PREFIX)));
	}
	free(nodes);
	return resume;
}

static int _accept(const azml_cmd_t *cmd, const char *file,
		   const char *socket, const char *conf_file)
{
	azml_conf_t *conf = NULL;
	slurm_conf_t *ctl = NULL;
	cJSON *report = NULL, *reasons = cJSON_CreateArray();
	const azml_target_t *t = NULL;
	const cJSON *r;
	char err[512], *cred = NULL, *line = NULL;
	const char *node, *addr, *host;
	int rc = 1, known;

	if (azml_cmd_conf(cmd, conf_file, AZML_CONF_LOG, &conf))
		goto out;
	if (azml_state_check(conf, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml attach: %s\n", err);
		goto out;
	}
	if (!(cred = _read_all(file, err, sizeof(err)))) {
		fprintf(stderr, "slurm-azureml attach: %s\n", err);
		goto out;
	}
	azml_nodes_init();
	if (slurm_load_ctl_conf(0, &ctl) != SLURM_SUCCESS) {
		fprintf(stderr, "slurm-azureml attach: slurmctld does "
			"not answer: %s\n", slurm_strerror(errno));
		goto out;
	}
	if (!(report = azml_attach_open(socket, cred, ctl->slurm_user_id, err,
					sizeof(err)))) {
		fprintf(stderr, "slurm-azureml attach: %s; nothing "
			"changed\n", err);
		goto out;
	}
	node = cJSON_GetStringValue(cJSON_GetObjectItem(report, "node"));
	if (!azml_attach_judge(conf, report, &t, reasons)) {
		fprintf(stderr, "slurm-azureml attach: refused %s; "
			"nothing changed:\n", node && azml_node_name_ok(node, 0) ?
			node : "(no valid node name)");
		cJSON_ArrayForEach(r, reasons)
			fprintf(stderr, "  %s\n", r->valuestring);
		azml_log_info("attach: refused %s: %d reason(s)",
			      node ? node : "?", cJSON_GetArraySize(reasons));
		goto out;
	}
	addr = cJSON_GetStringValue(cJSON_GetObjectItem(report, "address"));
	host = cJSON_GetStringValue(cJSON_GetObjectItem(report, "hostname"));
	if ((known = azml_nodes_known(node, NULL)) < 0) {
		fprintf(stderr, "slurm-azureml attach: slurmctld does not "
			"answer; nothing changed\n");
		goto out;
	}
	switch (azml_attach_way(known, ctl->version)) {
	case AZML_ATTACH_UPDATE:
		if (azml_nodes_set_addr(node, addr, host) < 0 ||
		    (_needs_resume(node) && azml_nodes_resume(node) < 0)) {
			fprintf(stderr, "slurm-azureml attach: slurmctld did "
				"not take node %s (see %s)\n", node,
				conf->log_file ? conf->log_file : "the log");
			goto out;
		}
		break;
	case AZML_ATTACH_CREATE:
		line = azml_generate_attached_node(t, node, addr, host);
		if (!line || azml_nodes_create(line) < 0 ||
		    azml_nodes_resume(node) < 0) {
			fprintf(stderr, "slurm-azureml attach: slurmctld %s "
				"did not create node %s: %s (MaxNodeCount, "
				"from 'slurm-azureml generate', leaves room "
				"for the attached nodes)\n", ctl->version,
				node, line ? slurm_strerror(errno) :
				"out of memory");
			goto out;
		}
		break;
	case AZML_ATTACH_NO_NODE:
		fprintf(stderr, "slurm-azureml attach: slurmctld %s has no "
			"node %s: is it in slurm.conf, from 'slurm-azureml "
			"generate'? (dynamic nodes need Slurm 24.11)\n",
			ctl->version ? ctl->version : "?", node);
		goto out;
	}
	/* Kept for 'targets', reconcile and detach. */
	if (azml_state_init(conf, err, sizeof(err)) ||
	    azml_state_attached_save(conf, node, report, err, sizeof(err)))
		fprintf(stderr, "slurm-azureml attach: node %s is "
			"admitted, but %s: a restart of slurmctld will forget "
			"it\n", node, err);
	azml_log_info("attach: node %s (%s) attached to %s, %d GPUs", node,
		      addr, t->name,
		      cJSON_GetArraySize(cJSON_GetObjectItem(
			      cJSON_GetObjectItem(report, "check"), "gpus")));
	printf("attached %s (%s) to %s\n", node, addr, t->name);
	rc = 0;
out:
	free(line);
	free(cred);
	cJSON_Delete(report);
	cJSON_Delete(reasons);
	if (ctl)
		azml_slurm_free_ctl_conf(ctl);
	azml_conf_destroy(conf);
	return rc;
}

int azml_cmd_attach(const azml_cmd_t *cmd, int argc, char **argv)
{
	check_opts_t o = { 0 };
	const char *address = NULL, *socket = NULL, *output = NULL;
	bool accept = false;
	int c, rc, ttl = 600;
	char *end;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT: return rc;
		case 'a': accept = true; break;
		case 'A': address = optarg; break;
		case 'n': o.node = optarg; break;
		case 'g': o.gres = optarg; break;
		case 'c': o.cuda = optarg; break;
		case 't': o.topology = optarg; break;
		case 'G': o.gres_conf = optarg; break;
		case 's': socket = optarg; break;
		case 'o': output = optarg; break;
		case 'f': o.conf_file = optarg; break;
		case 'T':
			ttl = (int) strtol(optarg, &end, 10);
			if (*end || ttl < 1 || ttl > 86400)
				return azml_cmd_usage_error(cmd, "--ttl '%.40s' "
					"is not 1-86400 seconds", optarg);
			break;
		}
	}
	if (accept) {
		/* one credential file, or stdin */
		if (azml_cmd_args(cmd, argc, argv, 0, 1))
			return 2;
		return _accept(cmd, optind < argc ? argv[optind] : "-",
			       _munge_socket(socket), o.conf_file);
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (address && !azml_node_name_ok(address, AZML_NAME_ADDRESS))
		return azml_cmd_usage_error(cmd, "--address '%.80s' is not an "
					    "address", address);
	return _attach_node(cmd, &o, address, _munge_socket(socket), ttl,
			    output);
}

int azml_cmd_detach(const azml_cmd_t *cmd, int argc, char **argv)
{
	azml_conf_t *conf;
	const azml_target_t *t;
	azml_node_t *nodes = NULL;
	const char *node, *file = NULL;
	char *end;
	int c, rc = 1, waited = 0, limit = 300;
	bool dynamic = false;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'w':
			limit = (int) strtol(optarg, &end, 10);
			if (*end || limit < 0)
				return azml_cmd_usage_error(cmd, "--wait '%.40s' "
					"is not seconds", optarg);
			break;
		}
	}
	rc = 1;
	if (azml_cmd_args(cmd, argc, argv, 1, 1))
		return 2;
	node = argv[optind];
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	t = azml_node_name_ok(node, 0) ? azml_conf_target_of_node(conf, node) : NULL;
	if (!t || t->kind != AZML_ATTACHED) {
		fprintf(stderr, "slurm-azureml detach: '%.80s' is not a node of "
			"an AttachedCompute target\n", node);
		rc = 2;
		goto out;
	}
	azml_nodes_init();
	if (azml_nodes_drain(node, REASON_PREFIX "detaching") < 0)
		goto out;
	for (;;) {
		int n = azml_nodes_load(&nodes);
		const azml_node_t *me = NULL;
		uint32_t base;

		for (int i = 0; i < n; i++)
			if (!strcmp(nodes[i].name, node))
				me = &nodes[i];
		if (!me) {
			fprintf(stderr, "slurm-azureml detach: slurmctld has no "
				"node %s\n", node);
			goto out;
		}
		base = me->state & NODE_STATE_BASE;
		dynamic = me->state & NODE_STATE_DYNAMIC_NORM;
		if (base != NODE_STATE_ALLOCATED && base != NODE_STATE_MIXED &&
		    !(me->state & NODE_STATE_COMPLETING))
			break;
		free(nodes);
		nodes = NULL;
		if (waited >= limit) {
			fprintf(stderr, "slurm-azureml detach: %s still runs jobs "
				"after %d s; it stays drained: run detach again "
				"when they end\n", node, limit);
			goto out;
		}
		sleep(1);
		waited++;
	}
	if (dynamic) {
		/* made by 'attach --accept' on 24.11 and later */
		if (azml_nodes_delete(node) < 0) {
			fprintf(stderr, "slurm-azureml detach: slurmctld did "
				"not delete %s: %s\n", node,
				slurm_strerror(errno));
			goto out;
		}
	} else {
		update_node_msg_t m;

		slurm_init_update_node_msg(&m);
		m.node_names = (char *) node;
		m.node_state = NODE_STATE_FUTURE;
		if (slurm_update_node(&m) != SLURM_SUCCESS) {
			fprintf(stderr, "slurm-azureml detach: slurmctld did not "
				"take %s back: %s\n", node,
				slurm_strerror(errno));
			goto out;
		}
	}
	azml_state_attached_remove(conf, node);
	azml_log_info("detach: node %s detached from %s", node, t->name);
	printf("detached %s from %s\n", node, t->name);
	rc = 0;
out:
	free(nodes);
	azml_conf_destroy(conf);
	return rc;
}

/*
 * power_save.c - slurm-azureml-resume, -suspend and -resume-fail: the
 * programs Slurm's power saving runs (ResumeProgram, SuspendProgram,
 * ResumeFailProgram), one binary told apart by its name.
 *
 * Slurm runs them with a hostlist in argv[1], SLURM_CONF and (resume)
 * SLURM_RESUME_FILE in the environment, and nothing else: no PATH.  They
 * must not keep slurmctld waiting on Azure, so each checks its input,
 * records its intent in StateDir, then finishes in the background and tells
 * slurmctld the outcome through the Slurm API:
 *   - a VM that exists: NodeAddr/NodeHostname of its node;
 *   - a VM that cannot be had: the node is handed back at once
 *     (power_down_force, reason "azureml: <AzureCode>: <message>") so that
 *     its job is requeued now; after 3 failures in a row it is held DOWN
 *     until 'slurm-azureml reconcile' lets it go after a back-off.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <slurm/slurm.h>

#include "arm.h"
#include "conf.h"
#include "log.h"
#include "nodes.h"
#include "slurm_compat.h"
#include "state.h"

typedef enum { RESUME, SUSPEND, RESUME_FAIL } mode_t_;

typedef struct {
	const azml_conf_t *conf;
	mode_t_ mode;
	int failed;
	azml_addr_queue_t *addrs;	/* NodeAddr updates, batched */
} run_t;

static void _resumed(void *arg, const azml_vm_result_t *r)
{
	run_t *run = arg;
	const char *node = r->node[0] ? r->node : r->name;
	char reason[400];

	if (r->ok) {
		azml_log_info("resume node=%s vm=%s op=%s ip=%s: ok", node,
			      r->name, r->op_id, r->ip);
		azml_addr_queue_push(run->addrs, node, r->ip[0] ? r->ip : node,
				     node);
		azml_state_failure_clear(run->conf, node);
	} else {
		int count = azml_state_failure_add(run->conf, node, r->code);

		run->failed++;
		azml_log_error("couldn't create VM '%s' for node %s (op=%s): "
			       "%s: %s", r->name, node, r->op_id, r->code,
			       r->message);
		snprintf(reason, sizeof(reason), "azureml: %s: %.300s", r->code,
			 r->message);
		azml_nodes_power_down_force(node, reason);
		if (count >= AZML_HOLD_AFTER) {
			snprintf(reason, sizeof(reason), "azureml: held after %d "
				 "failures: %s: %.280s", count, r->code, r->message);
			azml_nodes_down(node, reason);
		}
	}
	azml_state_intent_clear(run->conf, node);
}

static void _deleted(void *arg, const azml_vm_result_t *r)
{
	run_t *run = arg;

	if (r->ok) {
		azml_log_info("%s node=%s vm=%s op=%s: deleted",
			      run->mode == SUSPEND ? "suspend" : "resume-fail",
			      r->name, r->name, r->op_id);
		/* back to its own name until the next VM */
		azml_addr_queue_push(run->addrs, r->name, r->name, r->name);
	} else {
		run->failed++;
		azml_log_error("couldn't delete VM '%s' (op=%s): %s: %s; "
			       "'slurm-azureml reconcile' will retry", r->name,
			       r->op_id, r->code, r->message);
	}
	azml_state_intent_clear(run->conf, r->name);
}

/* SLURM_RESUME_FILE: which job wants which nodes (for the log). */
static int _resume_file(const char *path)
{
	FILE *fp = fopen(path, "r");
	char buf[1 << 16];
	size_t n;
	cJSON *j, *jobs, *job;

	if (!fp) {
		azml_log_error("couldn't read SLURM_RESUME_FILE %s: %s", path,
			       strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	j = cJSON_Parse(buf);
	jobs = cJSON_GetObjectItem(j, "jobs");
	if (!cJSON_IsArray(jobs)) {
		azml_log_error("SLURM_RESUME_FILE %s is not Slurm's resume JSON "
			       "({\"jobs\":[...],\"all_nodes\":...})", path);
		cJSON_Delete(j);
		return -1;
	}
	cJSON_ArrayForEach(job, jobs) {
		const cJSON *id = cJSON_GetObjectItem(job, "job_id");
		const cJSON *nodes = cJSON_GetObjectItem(job, "nodes");

		if (cJSON_IsNumber(id) && cJSON_IsString(nodes))
			azml_log_info("job %d wants %s", id->valueint,
				      nodes->valuestring);
	}
	cJSON_Delete(j);
	return 0;
}

static void _daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0) {
		azml_log_error("couldn't fork: %s; finishing in the foreground",
			       strerror(errno));
		return;
	}
	if (pid > 0)
		_exit(0);	/* slurmctld goes on */
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > 2)
			close(fd);
	}
}

int main(int argc, char **argv)
{
	char *prog = basename(argv[0]);
	mode_t_ mode = strstr(prog, "resume-fail") ? RESUME_FAIL :
		       strstr(prog, "suspend") ? SUSPEND : RESUME;
	azml_conf_t *conf;
	azml_arm_t *arm;
	run_t run = { 0 };
	azml_hostlist_t hl;
	char *host, err[512];
	char **nodes = NULL;
	int n = 0, rc = 0;
	bool foreground = getenv("AZUREML_FOREGROUND") != NULL;
	int fd;

	/* slurmctld may start us with 0-2 closed: keep files we open off them */
	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);

	azml_log_init(AZML_LOG_SYSLOG, prog, AZML_LOG_INFO);
	azml_log_also_stderr(1);
	if (argc != 2 || !argv[1][0]) {
		azml_log_error("usage: %s HOSTLIST (Slurm's power saving runs "
			       "this program)", prog);
		return 2;
	}
	conf = azml_conf_load(NULL);
	if (!conf || conf->nerrors) {
		for (size_t i = 0; conf && i < conf->nerrors; i++)
			azml_log_error("%s", conf->errors[i]);
		azml_log_error("nothing done for %s: azureml.conf is not usable",
			       argv[1]);
		return 1;
	}
	if (conf->log_file && azml_log_add_file(conf->log_file))
		azml_log_error("couldn't open LogFile %s: %s", conf->log_file,
			       strerror(errno));
	run.conf = conf;
	run.mode = mode;

	/* Every node must be a VM of ours before anything is created. */
	hl = slurm_hostlist_create(argv[1]);
	if (!hl) {
		azml_log_error("'%.200s' is not a Slurm hostlist; nothing done",
			       argv[1]);
		return 1;
	}
	while ((host = slurm_hostlist_shift(hl))) {
		const azml_target_t *t = azml_conf_target_of_node(conf, host);

		if (!t || t->kind == AZML_ATTACHED) {
			azml_log_error("node '%s' is %s; nothing done for %s", host,
				       t ? "attached compute, which has no VM" :
				       "not a node of any compute cluster or "
				       "instance in azureml.conf", argv[1]);
			free(host);
			rc = 1;
			continue;
		}
		nodes = realloc(nodes, (n + 1) * sizeof(char *));
		nodes[n++] = host;
	}
	slurm_hostlist_destroy(hl);
	if (rc)
		goto out;
	if (mode == RESUME && getenv("SLURM_RESUME_FILE") &&
	    _resume_file(getenv("SLURM_RESUME_FILE"))) {
		rc = 1;
		goto out;
	}
	if (azml_state_init(conf, err, sizeof(err))) {
		azml_log_error("%s; nothing done for %s", err, argv[1]);
		rc = 1;
		goto out;
	}
	azml_log_info("%s %s (%d node%s)", mode == RESUME ? "resume" :
		      mode == SUSPEND ? "suspend" : "resume-fail", argv[1], n,
		      n == 1 ? "" : "s");
	/* Record intent; a node whose resume is in flight is not resumed twice. */
	for (int i = 0; i < n; i++)
		if (azml_state_intent_begin(conf, nodes[i], mode == RESUME ?
					    "resume" : "delete")) {
			azml_log_info("node %s: a %s is already in flight; "
				      "not starting another", nodes[i],
				      mode == RESUME ? "resume" : "delete");
			free(nodes[i]);
			nodes[i] = NULL;
		}
	if (!foreground)
		_daemonize();
	azml_state_intent_set_pid(conf, nodes, n, getpid());

	curl_global_init(CURL_GLOBAL_DEFAULT);
	azml_nodes_init();
	arm = azml_arm_create(conf, NULL, err, sizeof(err));
	if (!arm) {
		azml_log_error("couldn't reach Azure: %s", err);
		for (int i = 0; i < n; i++) {
			char reason[600];

			if (!nodes[i])
				continue;
			if (mode == RESUME) {
				snprintf(reason, sizeof(reason), "azureml: "
					 "AuthenticationFailed: %.500s", err);
				azml_nodes_power_down_force(nodes[i], reason);
			}
			azml_state_intent_clear(conf, nodes[i]);
		}
		rc = 1;
		goto out;
	}
	run.addrs = azml_addr_queue_start();
	for (int i = 0; i < n; i++) {
		if (!nodes[i])
			continue;
		if (mode == RESUME)
			azml_arm_vm_create(arm, azml_conf_target_of_node(conf,
					   nodes[i]), nodes[i], _resumed, &run);
		else
			azml_arm_vm_delete(arm, nodes[i], _deleted, &run);
	}
	azml_arm_run(arm);
	if (azml_addr_queue_finish(run.addrs))
		azml_log_error("slurmctld did not take the address of some "
			       "nodes of %s (see above)", argv[1]);
	azml_log_info("%s %s: %d done, %d failed, %lu requests",
		      mode == RESUME ? "resume" : mode == SUSPEND ? "suspend" :
		      "resume-fail", argv[1], n - run.failed, run.failed,
		      azml_arm_stats(arm)->requests);
	azml_arm_destroy(arm);
	rc = run.failed ? 1 : 0;
out:
	for (int i = 0; i < n; i++)
		free(nodes[i]);
	free(nodes);
	azml_conf_destroy(conf);
	azml_log_fini();
	return rc;
}

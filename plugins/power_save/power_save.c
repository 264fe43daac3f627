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
 * Resume gives each VM its bootstrap settings (userData), with slurm.conf's
 * SlurmctldHost, ClusterName and the Slurm version (controller.h).
 * Resume-fail reads each VM's serial console log before deleting it, and
 * puts node-init's last failure there in the node's reason.
 *
 * The engine is the ctl library's (power.h); this is its main.
 */
#include "config.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "power.h"

int main(int argc, char **argv)
{
	char *prog = basename(argv[0]);
	azml_power_mode_t mode = strstr(prog, "resume-fail") ?
				 AZML_POWER_RESUME_FAIL :
				 strstr(prog, "suspend") ? AZML_POWER_SUSPEND :
				 AZML_POWER_RESUME;
	azml_power_env_t env = { 0 };
	azml_power_report_t rep;
	azml_conf_t *conf;
	char err[512];
	int rc, fd;

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
		azml_conf_destroy(conf);
		return 1;
	}
	if (conf->log_file && azml_log_add_file(conf->log_file, err, sizeof(err)))
		azml_log_error("LogFile=%s: %s", conf->log_file, err);

	env.resume_file = mode == AZML_POWER_RESUME ?
			  getenv("SLURM_RESUME_FILE") : NULL;
	env.detach = !getenv("AZUREML_FOREGROUND");
	rc = azml_power_run(conf, mode, argv[1], &env, &rep) ? 1 : 0;
	if (rep.parent)	/* slurmctld goes on; the worker finishes */
		_exit(rc);	/* 1: StateDir refused (the worker hands back) */
	azml_conf_destroy(conf);
	azml_log_fini();
	return rc;
}

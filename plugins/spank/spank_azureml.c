/*
 * spank_azureml.c - the --azure-* options of sbatch, salloc and srun.
 *
 * Local and allocator contexts: register the options, store each value the
 * user gives (refusing a repeated option with another value), and check the
 * syntax once in init_post_opt so that a typo fails before submission.
 * Slurm carries the values to slurmctld, where job_submit/azureml routes the
 * job.  Remote context (slurmstepd): export AZUREML_COMPUTE_TARGET,
 * AZUREML_VM_SIZE and AZUREML_GPU_ARCH for the node the task runs on.
 *
 * plugstack.conf:  required /PATH/spank_azureml.so [conf=/PATH/azureml.conf]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/spank.h>

#include "conf.h"
#include "route.h"

SPANK_PLUGIN(azureml, 1);

enum { OPT_COMPUTE, OPT_VM_SIZE, OPT_PRIORITY, OPT_CUDA, OPT_ISOLATED, NOPTS };

static const char *opt_names[NOPTS] = {
	"azure-compute", "azure-vm-size", "azure-priority", "azure-cuda",
	"azure-isolated",
};

static char *values[NOPTS];
static bool given[NOPTS];
static char repeat_msg[512];

static int _store(int val, const char *optarg, int remote)
{
	const char *v = optarg ? optarg : "";

	if (val < 0 || val >= NOPTS)
		return -1;
	if (given[val] && strcmp(values[val] ? values[val] : "", v)) {
		snprintf(repeat_msg, sizeof(repeat_msg), "azureml: --%s given "
			 "twice with different values ('%.64s' and '%.64s')",
			 opt_names[val], values[val] ? values[val] : "", v);
		if (!remote) {
			slurm_error("%s", repeat_msg);
			return -1;
		}
	}
	free(values[val]);
	values[val] = strdup(v);
	given[val] = true;
	return 0;
}

static struct spank_option options[] = {
	{ "azure-compute", "NAME",
	  "Run on this Azure ML compute target (cluster, instance or attached); "
	  "see 'slurm-azureml targets'", 1, OPT_COMPUTE, _store },
	{ "azure-vm-size", "SIZE",
	  "Run on a compute cluster of this VM size, e.g. Standard_NC6s_v3",
	  1, OPT_VM_SIZE, _store },
	{ "azure-priority", "dedicated|low",
	  "Only compute targets of this priority (low: evictable Spot VMs)",
	  1, OPT_PRIORITY, _store },
	{ "azure-cuda", "X.Y",
	  "Only GPU compute targets whose GPUs support CUDA X.Y",
	  1, OPT_CUDA, _store },
	{ "azure-isolated", NULL,
	  "Only isolated VM sizes (one customer per physical server)",
	  0, OPT_ISOLATED, _store },
	SPANK_OPTIONS_TABLE_END
};

static const char *conf_arg;

static void _args(int ac, char **av)
{
	for (int i = 0; i < ac; i++)
		if (!strncmp(av[i], "conf=", 5))
			conf_arg = av[i] + 5;
		else
			slurm_error("azureml: unknown plugstack.conf argument "
				    "'%s' (expected conf=PATH)", av[i]);
}

int slurm_spank_init(spank_t sp, int ac, char **av)
{
	_args(ac, av);
	for (int i = 0; options[i].name; i++)
		if (spank_option_register(sp, &options[i]) != ESPANK_SUCCESS) {
			slurm_error("azureml: couldn't register --%s",
				    options[i].name);
			return -1;
		}
	return 0;
}

int slurm_spank_init_post_opt(spank_t sp, int ac, char **av)
{
	char msg[512];

	if (spank_remote(sp))
		return 0;
	if (repeat_msg[0]) {
		slurm_error("%s", repeat_msg);
		return -1;
	}
	for (int i = 0; i < NOPTS; i++) {
		if (!given[i])
			continue;
		if (azml_route_check_option(opt_names[i],
					    i == OPT_ISOLATED ? "" : values[i],
					    msg, sizeof(msg))) {
			slurm_error("%s", msg);
			return -1;
		}
	}
	return 0;
}

/* In slurmstepd, for each task: tell it which compute target it landed on
 * (SLURMD_NODENAME is in the task's environment by then). */
int slurm_spank_task_init(spank_t sp, int ac, char **av)
{
	char node[256];
	azml_conf_t *conf;
	const azml_target_t *t;

	if (!spank_remote(sp) ||
	    spank_getenv(sp, "SLURMD_NODENAME", node, sizeof(node)) != ESPANK_SUCCESS)
		return 0;
	conf = azml_conf_load(conf_arg);
	if (!conf || conf->nerrors) {
		slurm_error("azureml: couldn't read %s: the job runs without "
			    "AZUREML_* variables", conf ? conf->path : "azureml.conf");
		azml_conf_destroy(conf);
		return 0;
	}
	t = azml_conf_target_of_node(conf, node);
	if (t) {
		char sizes[AZML_MIX_MAX * 64] = "";
		size_t len = 0;

		/* a mix: every size it may be (which one is the node's own
		 * is not azureml.conf's to say) */
		for (size_t i = 0; i < t->nmix && len < sizeof(sizes); i++)
			len += snprintf(sizes + len, sizeof(sizes) - len,
					"%s%s", i ? "," : "", t->mix[i]);
		spank_setenv(sp, "AZUREML_COMPUTE_TARGET", t->name, 1);
		if (sizes[0])
			spank_setenv(sp, "AZUREML_VM_SIZE", sizes, 1);
		if (t->size.arch)
			spank_setenv(sp, "AZUREML_GPU_ARCH", t->size.arch->arch, 1);
	}
	azml_conf_destroy(conf);
	return 0;
}

int slurm_spank_exit(spank_t sp, int ac, char **av)
{
	for (int i = 0; i < NOPTS; i++) {
		free(values[i]);
		values[i] = NULL;
		given[i] = false;
	}
	repeat_msg[0] = '\0';
	return 0;
}

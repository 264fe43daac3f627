/*
 * main.c - slurm-azureml: the admin command.  One table of subcommands; each
 * lives in its own file.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "log.h"

static const azml_cmd_t cmds[] = {
	{ "check-config", azml_cmd_check_config, "[-f FILE]",
	  "validate azureml.conf" },
	{ "generate", azml_cmd_generate, "[-f FILE] [--gres] [--program-dir DIR]",
	  "print the slurm.conf (or gres.conf) lines" },
	{ "catalog", azml_cmd_catalog, "[--json] [--size SIZE]",
	  "VM series, GPU architectures, isolated sizes" },
	{ "targets", azml_cmd_targets, "[--json]",
	  "compute targets and their nodes by state" },
	{ "reconcile", azml_cmd_reconcile, "[--dry-run] [--every SECONDS]",
	  "converge Azure VMs and Slurm nodes" },
	{ "instance", azml_cmd_instance, "stop|start NAME",
	  "deallocate or start a compute instance" },
	{ "watch-events", azml_cmd_watch_events, "--node NODE [--vm VM]",
	  "on a low-priority node: drain and requeue on eviction" },
	{ "node-check", azml_cmd_node_check,
	  "[--topology XML] [--gres SPEC] [--json]",
	  "GPU inventory and gres check of this node" },
	{ "attach", azml_cmd_attach, "[--address A] | --accept [FILE]",
	  "on-prem node: seal a report; controller: admit it" },
	{ "detach", azml_cmd_detach, "[--wait S] NODE",
	  "drain an attached node and release its slot" },
};

#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

static void _usage(FILE *fp)
{
	fprintf(fp, "usage: slurm-azureml COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < NCMDS; i++)
		fprintf(fp, "  %-13s %-42s %s\n", cmds[i].name, cmds[i].usage,
			cmds[i].summary);
	fprintf(fp, "\nazureml.conf is $AZUREML_CONF, else beside $SLURM_CONF, "
		"else /etc/slurm/azureml.conf.\nSee slurm-azureml(8).\n");
}

void azml_print_json(void *root)
{
	char *s = cJSON_PrintUnformatted(root);

	if (s) {
		puts(s);
		cJSON_free(s);
	}
	cJSON_Delete(root);
}

int main(int argc, char **argv)
{
	const char *prog = strrchr(argv[0], '/');

	azml_log_init(AZML_LOG_STDERR, "slurm-azureml", AZML_LOG_INFO);
	/* HealthCheckProgram takes no arguments: the name says what to do. */
	if (!strcmp(prog ? prog + 1 : argv[0], "slurm-azureml-health-check"))
		return azml_cmd_node_check(argc, argv);
	if (argc < 2) {
		_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("slurm-azureml %s\n", PACKAGE_VERSION);
		return 0;
	}
	for (size_t i = 0; i < NCMDS; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "slurm-azureml: unknown command '%.80s'\n", argv[1]);
	_usage(stderr);
	return 2;
}

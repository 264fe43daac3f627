/*
 * main.c - slurm-azureml: the admin command.  The table of subcommands is in
 * cli.c; each lives in its own file.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "log.h"

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
	const azml_cmd_t *cmd;

	azml_log_init(AZML_LOG_STDERR, "slurm-azureml", AZML_LOG_INFO);
	/* HealthCheckProgram takes no arguments: the name says what to do. */
	if (!strcmp(prog ? prog + 1 : argv[0], "slurm-azureml-health-check"))
		return azml_cmd_node_check(azml_cmd_find("node-check"), argc,
					   argv);
	if (argc < 2) {
		azml_cmd_overview(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		azml_cmd_overview(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("slurm-azureml %s\n", PACKAGE_VERSION);
		return 0;
	}
	if ((cmd = azml_cmd_find(argv[1])))
		return cmd->run(cmd, argc - 1, argv + 1);
	fprintf(stderr, "slurm-azureml: unknown command '%.80s'\n", argv[1]);
	azml_cmd_overview(stderr);
	return 2;
}

/*
 * metrics_cmds.c - 'slurm-azureml metrics': Prometheus text exposition.
 */
#include "config.h"

#include "admin.h"

int azml_cmd_metrics(const azml_cmd_t *cmd, int argc, char **argv)
{
	(void) cmd; (void) argc; (void) argv;
	return 1;
}

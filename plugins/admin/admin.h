/*
 * admin.h - subcommands of the slurm-azureml admin command.
 * Each returns the process exit status (0 ok, 1 check failed, 2 usage).
 */
#ifndef AZML_ADMIN_H
#define AZML_ADMIN_H

typedef struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *usage;
	const char *summary;
} azml_cmd_t;

int azml_cmd_check_config(int argc, char **argv);
int azml_cmd_generate(int argc, char **argv);
int azml_cmd_catalog(int argc, char **argv);
int azml_cmd_targets(int argc, char **argv);
int azml_cmd_reconcile(int argc, char **argv);
int azml_cmd_instance(int argc, char **argv);
int azml_cmd_watch_events(int argc, char **argv);
int azml_cmd_node_check(int argc, char **argv);
int azml_cmd_attach(int argc, char **argv);
int azml_cmd_detach(int argc, char **argv);

/* Print JSON to stdout, one object and a newline; frees ROOT (a cJSON *). */
void azml_print_json(void *root);

#endif

/*
 * admin.h - subcommands of the slurm-azureml admin command, and what they
 * share: the one table of their names, options and usage texts (cli.c), the
 * one way to refuse bad options, and the one way to load azureml.conf.
 * Each subcommand returns the process exit status (0 ok, 1 check failed or
 * configuration refused, 2 usage).
 */
#ifndef AZML_ADMIN_H
#define AZML_ADMIN_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "conf.h"

typedef struct azml_cmd azml_cmd_t;

struct azml_cmd {
	const char *name;
	int (*run)(const azml_cmd_t *cmd, int argc, char **argv);
	/*
	 * The words after "slurm-azureml NAME" in its synopsis; a second form
	 * follows a '\n'.  Every option of OPTS is in it and nothing else:
	 * the admin unit test checks both ways.
	 */
	const char *usage;
	const char *summary;
	const char *shortopts;		/* for getopt_long, 'h' included */
	const struct option *opts;	/* --help included */
};

extern const azml_cmd_t azml_cmds[];
extern const size_t azml_ncmds;

/* The entry named NAME, or NULL. */
const azml_cmd_t *azml_cmd_find(const char *name);

/* "usage: slurm-azureml NAME USAGE" (one line a form) to FP. */
void azml_cmd_usage(const azml_cmd_t *cmd, FILE *fp);

/* Every command's usage and summary, for "slurm-azureml --help". */
void azml_cmd_overview(FILE *fp);

/*
 * A usage error: "slurm-azureml NAME: <what>" and NAME's usage on stderr.
 * Returns 2, the exit status of every usage error.
 */
int azml_cmd_usage_error(const azml_cmd_t *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* What azml_cmd_getopt returns when the command is to exit now. */
#define AZML_OPT_EXIT (-2)

/*
 * getopt_long over ARGV (ARGV[0] is the subcommand) with CMD's options.
 * Returns the next option's value, -1 after the last, or AZML_OPT_EXIT with
 * *RC set: 0 after --help (usage on stdout), 2 after an unknown option or a
 * missing argument (azml_cmd_usage_error).  Start with optind = 0 (the
 * first call resets getopt).
 */
int azml_cmd_getopt(const azml_cmd_t *cmd, int argc, char **argv, int *rc);

/*
 * The arguments left after the options: between MIN and MAX of them, else a
 * usage error (unexpected or missing argument).  Returns 0 or 2.
 */
int azml_cmd_args(const azml_cmd_t *cmd, int argc, char **argv, int min,
		  int max);

/*
 * The options of a command that takes only -f FILE and --json, and no
 * arguments: sets *FILE and *JSON as given.  Returns -1 to go on, else the
 * exit status (0 after --help, 2 after a usage error).
 */
int azml_cmd_file_json(const azml_cmd_t *cmd, int argc, char **argv,
		       const char **file, bool *json);

/* azml_cmd_conf flags. */
#define AZML_CONF_OPTIONAL	0x1	/* an absent default file is no error */
#define AZML_CONF_LOG		0x2	/* add its LogFile= to the log */

/*
 * Load azureml.conf: FILE, else the default path ($AZUREML_CONF, beside
 * $SLURM_CONF, /etc/slurm).  On errors prints each as FILE:LINE: message,
 * then one line "slurm-azureml NAME: couldn't load PATH: N errors", and
 * returns -1.  Otherwise returns 0 with *OUT set (the caller destroys it).
 * With AZML_CONF_OPTIONAL and no FILE, a default file that is absent, or
 * has errors (printed, the summary says "going on without it"), gives 0
 * and *OUT NULL: node-check and attach work without azureml.conf.
 */
int azml_cmd_conf(const azml_cmd_t *cmd, const char *file, int flags,
		  azml_conf_t **out);

int azml_cmd_check_config(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_generate(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_catalog(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_userdata(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_targets(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_reconcile(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_quota(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_cost(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_metrics(const azml_cmd_t *cmd, int argc, char **argv);

int azml_cmd_instance(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_watch_events(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_node_init(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_node_check(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_attach(const azml_cmd_t *cmd, int argc, char **argv);
int azml_cmd_detach(const azml_cmd_t *cmd, int argc, char **argv);

/* Print JSON to stdout, one object and a newline; frees ROOT (a cJSON *). */
void azml_print_json(void *root);

#endif

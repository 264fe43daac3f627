/*
 * cli.c - what every subcommand of slurm-azureml shares: the one table of
 * names, options and usage texts (main.c's overview prints it, --help and
 * usage errors print from it), the one way to refuse bad options, and the
 * one way to load azureml.conf and say what is wrong with it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "log.h"

#define OPT_FILE { "file", required_argument, NULL, 'f' }
#define OPT_HELP { "help", no_argument, NULL, 'h' }
#define OPT_END { NULL, 0, NULL, 0 }

static const struct option check_config_opts[] = { OPT_FILE, OPT_HELP,
						   OPT_END };

static const struct option generate_opts[] = {
	OPT_FILE,
	{ "gres", no_argument, NULL, 'g' },
	{ "program-dir", required_argument, NULL, 'p' },
	{ "port-base", required_argument, NULL, 'P' },
	{ "apply", required_argument, NULL, 'a' },
	OPT_HELP, OPT_END,
};

static const struct option userdata_opts[] = {
	OPT_FILE,
	{ "base64", no_argument, NULL, 'b' },
	OPT_HELP, OPT_END,
};

static const struct option catalog_opts[] = {
	{ "json", no_argument, NULL, 'j' },
	{ "size", required_argument, NULL, 's' },
	OPT_HELP, OPT_END,
};

static const struct option targets_opts[] = {
	OPT_FILE,
	{ "json", no_argument, NULL, 'j' },
	OPT_HELP, OPT_END,
};

static const struct option reconcile_opts[] = {
	OPT_FILE,
	{ "dry-run", no_argument, NULL, 'n' },
	{ "every", required_argument, NULL, 'e' },
	{ "prune-scale-sets", no_argument, NULL, 'P' },
	OPT_HELP, OPT_END,
};

static const struct option quota_opts[] = {
	OPT_FILE,
	{ "json", no_argument, NULL, 'j' },
	OPT_HELP, OPT_END,
};

static const struct option instance_opts[] = { OPT_FILE, OPT_HELP, OPT_END };

static const struct option cost_opts[] = {
	OPT_FILE,
	{ "since", required_argument, NULL, 's' },
	{ "until", required_argument, NULL, 'u' },
	{ "by", required_argument, NULL, 'b' },
	{ "json", no_argument, NULL, 'j' },
	{ "csv", no_argument, NULL, 'C' },
	OPT_HELP, OPT_END,
};

static const struct option watch_events_opts[] = {
	OPT_FILE,
	{ "imds", required_argument, NULL, 'I' },
	{ "node", required_argument, NULL, 'n' },
	{ "vm", required_argument, NULL, 'v' },
	{ "interval", required_argument, NULL, 'i' },
	OPT_HELP, OPT_END,
};

static const struct option node_init_opts[] = {
	{ "imds", required_argument, NULL, 'I' },
	{ "userdata", required_argument, NULL, 'u' },
	{ "slurmd", required_argument, NULL, 's' },
	{ "no-watch", no_argument, NULL, 'W' },
	{ "node-wait", required_argument, NULL, 'w' },
	OPT_HELP, OPT_END,
};

static const struct option node_check_opts[] = {
	{ "topology", required_argument, NULL, 't' },
	{ "gres", required_argument, NULL, 'g' },
	{ "cuda", required_argument, NULL, 'c' },
	{ "gres-conf", required_argument, NULL, 'G' },
	{ "node", required_argument, NULL, 'n' },
	OPT_FILE,
	{ "json", no_argument, NULL, 'j' },
	{ "health-check", no_argument, NULL, 'H' },
	{ "dry-run", no_argument, NULL, 'd' },
	OPT_HELP, OPT_END,
};

static const struct option metrics_opts[] = {
	OPT_FILE,
	{ "output", required_argument, NULL, 'o' },
	{ "no-azure", no_argument, NULL, 'N' },
	OPT_HELP, OPT_END,
};

static const struct option attach_opts[] = {
	{ "accept", no_argument, NULL, 'a' },
	{ "address", required_argument, NULL, 'A' },
	{ "node", required_argument, NULL, 'n' },
	{ "gres", required_argument, NULL, 'g' },
	{ "cuda", required_argument, NULL, 'c' },
	{ "topology", required_argument, NULL, 't' },
	{ "gres-conf", required_argument, NULL, 'G' },
	{ "munge-socket", required_argument, NULL, 's' },
	{ "ttl", required_argument, NULL, 'T' },
	{ "output", required_argument, NULL, 'o' },
	OPT_FILE, OPT_HELP, OPT_END,
};

static const struct option detach_opts[] = {
	OPT_FILE,
	{ "wait", required_argument, NULL, 'w' },
	OPT_HELP, OPT_END,
};

const azml_cmd_t azml_cmds[] = {
	{ "check-config", azml_cmd_check_config, "[-f FILE]",
	  "validate azureml.conf", "f:h", check_config_opts },
	{ "generate", azml_cmd_generate,
	  "[-f FILE] [--gres] [--program-dir DIR] [--port-base PORT] "
	  "[--apply INCLUDE]",
	  "print the slurm.conf (or gres.conf) lines, or apply them",
	  "f:h", generate_opts },
	{ "userdata", azml_cmd_userdata, "[-f FILE] [--base64] TARGET [NODE]",
	  "the bootstrap settings (userData) a VM of TARGET gets", "f:bh",
	  userdata_opts },
	{ "catalog", azml_cmd_catalog, "[--json] [--size SIZE]",
	  "VM series, GPU architectures, isolated sizes", "js:h",
	  catalog_opts },
	{ "targets", azml_cmd_targets, "[-f FILE] [--json]",
	  "compute targets and their nodes by state", "f:jh", targets_opts },
	{ "reconcile", azml_cmd_reconcile,
	  "[-f FILE] [--dry-run] [--every SECONDS] [--prune-scale-sets]",
	  "converge Azure VMs and Slurm nodes", "f:nh", reconcile_opts },
	{ "quota", azml_cmd_quota, "[-f FILE] [--json]",
	  "what the compute quota leaves each target: vCPUs, nodes that fit",
	  "f:jh", quota_opts },
	{ "instance", azml_cmd_instance, "[-f FILE] stop|start NAME",
	  "deallocate or start a compute instance", "f:h", instance_opts },
	{ "cost", azml_cmd_cost, "[-f FILE] [--since TIME] [--until TIME] "
	  "[--by job|user|account|target] [--json|--csv]",
	  "what the VMs cost: busy, boot, idle and disk, per target or job",
	  "f:s:u:b:jCh", cost_opts },
	{ "watch-events", azml_cmd_watch_events,
	  "[-f FILE] [--imds URL] [--node NODE] [--vm VM] "
	  "[--interval SECONDS]",
	  "on a VM: requeue on eviction, drain for maintenance", "f:I:h",
	  watch_events_opts },
	{ "node-init", azml_cmd_node_init,
	  "[--imds URL] [--userdata FILE] [--slurmd PATH] [--no-watch] "
	  "[--node-wait SECONDS]",
	  "on a VM at boot: munge key, slurmd, then watch-events", "I:u:s:Ww:h",
	  node_init_opts },
	{ "node-check", azml_cmd_node_check,
	  "[--topology FILE.xml] [--gres SPEC] [--cuda X.Y] "
	  "[--gres-conf FILE] [--node NAME] [-f FILE] [--json] "
	  "[--health-check [--dry-run]]",
	  "GPU inventory and gres check of this node; its health checks",
	  "t:g:c:G:n:f:jHdh", node_check_opts },
	{ "metrics", azml_cmd_metrics, "[-f FILE] [--output FILE] [--no-azure]",
	  "Prometheus text: nodes, VMs, operations, holds, quota, cost, health",
	  "f:o:Nh", metrics_opts },
	{ "attach", azml_cmd_attach,
	  "[--node NAME] [--address ADDR] [--gres SPEC] [--cuda X.Y] "
	  "[--topology FILE.xml] [--gres-conf FILE] [--ttl SECONDS] "
	  "[--output FILE] [--munge-socket PATH] [-f FILE]\n"
	  "--accept [FILE|-] [--munge-socket PATH] [-f FILE]",
	  "on-prem node: seal a report; controller: admit it",
	  "aA:n:g:c:t:G:s:T:o:f:h", attach_opts },
	{ "detach", azml_cmd_detach, "[-f FILE] [--wait SECONDS] NODE",
	  "drain an attached node and release its slot", "f:w:h",
	  detach_opts },
};

const size_t azml_ncmds = sizeof(azml_cmds) / sizeof(azml_cmds[0]);

const azml_cmd_t *azml_cmd_find(const char *name)
{
	for (size_t i = 0; i < azml_ncmds; i++)
		if (!strcmp(azml_cmds[i].name, name))
			return &azml_cmds[i];
	return NULL;
}

/*
 * LEAD, then the words of TEXT (up to a '\n' or its end), wrapped before 80
 * columns between bracketed groups, continued under the first word.
 * Returns where TEXT's next line starts, or NULL.
 */
static const char *_wrap(FILE *fp, const char *lead, const char *text)
{
	size_t indent = strlen(lead), col = indent;
	const char *s = text;

	fputs(lead, fp);
	while (*s && *s != '\n') {
		const char *e = s;
		int depth = 0;

		/* one word: up to a space outside brackets */
		while (*e && *e != '\n' && (*e != ' ' || depth)) {
			depth += *e == '[' ? 1 : *e == ']' ? -1 : 0;
			e++;
		}
		if (col > indent && col + 1 + (size_t) (e - s) > 79) {
			fprintf(fp, "\n%*s", (int) indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', fp);
			col++;
		}
		fprintf(fp, "%.*s", (int) (e - s), s);
		col += e - s;
		for (s = e; *s == ' '; s++)
			;
	}
	fputc('\n', fp);
	return *s == '\n' ? s + 1 : NULL;
}

void azml_cmd_usage(const azml_cmd_t *cmd, FILE *fp)
{
	const char *form = cmd->usage;
	char lead[64];
	bool first = true;

	while (form) {
		snprintf(lead, sizeof(lead), "%s slurm-azureml %s ",
			 first ? "usage:" : "      ", cmd->name);
		form = _wrap(fp, lead, form);
		first = false;
	}
}

void azml_cmd_overview(FILE *fp)
{
	char lead[64];

	fprintf(fp, "usage: slurm-azureml COMMAND [OPTIONS]\n"
		"       slurm-azureml COMMAND --help\n"
		"       slurm-azureml --version\n\ncommands:\n");
	for (size_t i = 0; i < azml_ncmds; i++) {
		const char *form = azml_cmds[i].usage;

		snprintf(lead, sizeof(lead), "  %s ", azml_cmds[i].name);
		while (form)
			form = _wrap(fp, lead, form);
		fprintf(fp, "      %s\n", azml_cmds[i].summary);
	}
	fprintf(fp, "\nazureml.conf is -f FILE, else $AZUREML_CONF, else "
		"beside $SLURM_CONF,\nelse /etc/slurm/azureml.conf.  "
		"See slurm-azureml(8).\n");
}

int azml_cmd_usage_error(const azml_cmd_t *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "slurm-azureml %s: ", cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	azml_cmd_usage(cmd, stderr);
	return 2;
}

/* The option ARGV[optind - 1] as typed, without its "=value". */
static int _typed_len(const char *s)
{
	size_t n = strcspn(s, "=");

	return (int) (n > 80 ? 80 : n);
}

int azml_cmd_getopt(const azml_cmd_t *cmd, int argc, char **argv, int *rc)
{
	char shortopts[64];
	const char *typed;
	int c;

	/* ':' first: a missing argument is ':', not '?'; no getopt messages */
	snprintf(shortopts, sizeof(shortopts), ":%s", cmd->shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, cmd->opts, NULL);
	typed = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	switch (c) {
	case 'h':
		azml_cmd_usage(cmd, stdout);
		*rc = 0;
		return AZML_OPT_EXIT;
	case '?':
		if (strncmp(typed, "--", 2))
			*rc = azml_cmd_usage_error(cmd, "unknown option '-%c'",
						   optopt);
		else if (optopt)	/* --json=x */
			*rc = azml_cmd_usage_error(cmd, "option '%.*s' takes "
						   "no argument",
						   _typed_len(typed), typed);
		else
			*rc = azml_cmd_usage_error(cmd, "unknown option '%.*s'",
						   _typed_len(typed), typed);
		return AZML_OPT_EXIT;
	case ':':
		if (strncmp(typed, "--", 2))
			*rc = azml_cmd_usage_error(cmd, "option '-%c' needs an "
						   "argument", optopt);
		else
			*rc = azml_cmd_usage_error(cmd, "option '%.*s' needs "
						   "an argument",
						   _typed_len(typed), typed);
		return AZML_OPT_EXIT;
	}
	return c;
}

int azml_cmd_args(const azml_cmd_t *cmd, int argc, char **argv, int min,
		  int max)
{
	int n = argc - optind;

	if (n > max)
		return azml_cmd_usage_error(cmd, "unexpected argument '%.80s'",
					    argv[optind + max]);
	if (n < min)
		return azml_cmd_usage_error(cmd, "missing argument");
	return 0;
}

int azml_cmd_file_json(const azml_cmd_t *cmd, int argc, char **argv,
		       const char **file, bool *json)
{
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		if (c == AZML_OPT_EXIT)
			return rc;
		if (c == 'f')
			*file = optarg;
		else if (c == 'j')
			*json = true;
	}
	return azml_cmd_args(cmd, argc, argv, 0, 0) ? 2 : -1;
}

int azml_cmd_conf(const azml_cmd_t *cmd, const char *file, int flags,
		  azml_conf_t **out)
{
	char *dflt = NULL;
	azml_conf_t *conf = NULL;
	int rv = -1;

	if (!file && (flags & AZML_CONF_OPTIONAL)) {
		if (!(dflt = azml_conf_default_path()))
			goto oom;
		if (access(dflt, F_OK) < 0 && errno == ENOENT) {
			*out = NULL;
			rv = 0;
			goto out;
		}
	}
	if (!(conf = azml_conf_load(file ? file : dflt)))
		goto oom;
	for (size_t i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	if (conf->nerrors) {
		fprintf(stderr, "slurm-azureml %s: couldn't load %s: %zu "
			"error%s%s\n", cmd->name, conf->path, conf->nerrors,
			conf->nerrors == 1 ? "" : "s",
			dflt ? "; going on without it" : "");
		if (dflt) {	/* optional: the command works without it */
			*out = NULL;
			rv = 0;
		}
		goto out;
	}
	if ((flags & AZML_CONF_LOG) && conf->log_file) {
		char why[400];

		if (azml_log_add_file(conf->log_file, why, sizeof(why)))
			fprintf(stderr, "slurm-azureml %s: LogFile=%s: %s\n",
				cmd->name, conf->log_file, why);
	}
	*out = conf;
	conf = NULL;
	rv = 0;
	goto out;
oom:
	fprintf(stderr, "slurm-azureml %s: couldn't load azureml.conf: out of "
		"memory\n", cmd->name);
out:
	azml_conf_destroy(conf);
	free(dflt);
	return rv;
}

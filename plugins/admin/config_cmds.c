/*
 * config_cmds.c - check-config, generate, catalog and userdata.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <slurm/slurm.h>
#include <slurm/slurm_version.h>

#include "admin.h"
#include "arm.h"
#include "catalog.h"
#include "conf.h"
#include "controller.h"
#include "generate.h"
#include "nodes.h"
#include "slurm_compat.h"
#include "userdata.h"

/* What slurm.conf's own SlurmctldParameters line needs, if anything. */
static void _configless_note(FILE *fp, const char *prefix)
{
	char *advice = azml_configless_advice(azml_slurm_conf_path());

	if (advice)
		fprintf(fp, "%s%s\n", prefix, advice);
	free(advice);
}

int azml_cmd_check_config(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL;
	azml_conf_t *conf;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		if (c == AZML_OPT_EXIT)
			return rc;
		file = optarg;	/* -f: the only option */
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (azml_cmd_conf(cmd, file, 0, &conf))
		return 1;
	/* The files root trusts, judged here (not at every load). */
	if (azml_conf_check_files(conf)) {
		for (size_t i = 0; i < conf->nwarnings; i++)
			printf("%s\n", conf->warnings[i]);
		fflush(stdout);
		for (size_t i = 0; i < conf->nerrors; i++)
			fprintf(stderr, "%s\n", conf->errors[i]);
		fprintf(stderr, "slurm-azureml check-config: %s: %zu error%s\n",
			conf->path, conf->nerrors, conf->nerrors == 1 ? "" : "s");
		azml_conf_destroy(conf);
		return 1;
	}
	/* Warnings leave the file usable: said, and the exit status is 0. */
	for (size_t i = 0; i < conf->nwarnings; i++)
		printf("%s\n", conf->warnings[i]);
	_configless_note(stdout, "");
	printf("%s: OK, %zu compute target%s\n", conf->path, conf->ntargets,
	       conf->ntargets == 1 ? "" : "s");
	azml_conf_destroy(conf);
	return 0;
}

/* Every NodeName= of the slurm.conf fragment TEXT, added to HL. */
static void _fragment_nodes(const char *text, azml_hostlist_t hl)
{
	const char *p = text;

	while (p && *p) {
		if (!strncmp(p, "NodeName=", 9)) {
			size_t n = strcspn(p + 9, " \t\n");
			char *names = strndup(p + 9, n);

			if (names)
				slurm_hostlist_push(hl, names);
			free(names);
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
}

/* What stops NODE from going: a VM or a job, as a reason, or NULL. */
static const char *_node_busy(const azml_node_t *nodes, int n,
			      const char *node)
{
	for (int i = 0; i < n; i++) {
		uint32_t base = nodes[i].state & NODE_STATE_BASE;

		if (strcmp(nodes[i].name, node))
			continue;
		if (base == NODE_STATE_ALLOCATED || base == NODE_STATE_MIXED ||
		    (nodes[i].state & NODE_STATE_COMPLETING))
			return "it has a job";
		if (!azml_node_powered_down(&nodes[i]) ||
		    (nodes[i].state & NODE_STATE_POWERING_DOWN))
			return "it has a VM (not powered down)";
		return NULL;
	}
	return NULL;
}

/*
 * generate --apply INCLUDE: write OUT into INCLUDE (slurm.conf's Include'd
 * fragment) and have slurmctld re-read it.  Refused, INCLUDE untouched,
 * where a node it drops has a VM or a job, or where the node set changes
 * on a Slurm that adds nodes only when slurmctld starts (before 23.11:
 * doc/NOTES 1.1).
 */
static int _apply(const char *path, const char *out)
{
	azml_hostlist_t old_hl = slurm_hostlist_create("");
	azml_hostlist_t new_hl = slurm_hostlist_create("");
	azml_node_t *nodes = NULL;
	char *old = NULL, *name, *tmp = NULL;
	size_t cap = 0;
	int n = 0, added = 0, removed = 0, rc = 1;
	FILE *fp;

	if (!old_hl || !new_hl)
		goto oom;
	fp = fopen(path, "r");
	if (fp) {
		ssize_t len = getdelim(&old, &cap, '\0', fp);

		fclose(fp);
		if (len < 0) {
			free(old);
			old = NULL;
		}
	} else if (errno != ENOENT) {
		fprintf(stderr, "slurm-azureml generate: couldn't read %s: "
			"%s\n", path, strerror(errno));
		goto out;
	}
	if (old)
		_fragment_nodes(old, old_hl);
	_fragment_nodes(out, new_hl);
	azml_nodes_init();
	n = azml_nodes_load(&nodes);
	if (n < 0) {
		fprintf(stderr, "slurm-azureml generate: couldn't apply to "
			"%s: slurmctld does not answer (%s)\n", path,
			slurm_strerror(errno));
		goto out;
	}
	while ((name = slurm_hostlist_shift(old_hl))) {
		const char *why;

		if (slurm_hostlist_find(new_hl, name) < 0) {
			removed++;
			why = _node_busy(nodes, n, name);
			if (why) {
				fprintf(stderr, "slurm-azureml generate: "
					"couldn't apply to %s: it removes "
					"node %s, and %s\n", path, name, why);
				free(name);
				goto out;
			}
		}
		free(name);
	}
	if (old)	/* the shifts above emptied it */
		_fragment_nodes(old, old_hl);
	while ((name = slurm_hostlist_shift(new_hl))) {
		if (slurm_hostlist_find(old_hl, name) < 0)
			added++;
		free(name);
	}
#if SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 11, 0)
	if (added || removed) {
		fprintf(stderr, "slurm-azureml generate: couldn't apply to %s: "
			"it adds %d and removes %d nodes, and Slurm %d.%02d "
			"adds or removes nodes only when slurmctld starts: "
			"write %s with 'slurm-azureml generate > %s', then "
			"restart slurmctld\n", path, added, removed,
			SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER),
			SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER), path, path);
		goto out;
	}
#endif
	if (asprintf(&tmp, "%s.new", path) < 0) {
		tmp = NULL;
		goto oom;
	}
	fp = fopen(tmp, "w");
	if (!fp || fputs(out, fp) == EOF || fflush(fp) || fsync(fileno(fp))) {
		fprintf(stderr, "slurm-azureml generate: couldn't write %s: "
			"%s\n", tmp, strerror(errno));
		if (fp)
			fclose(fp);
		unlink(tmp);
		goto out;
	}
	if (fclose(fp) || rename(tmp, path)) {
		fprintf(stderr, "slurm-azureml generate: couldn't write %s: "
			"%s\n", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (slurm_reconfigure() != SLURM_SUCCESS) {
		fprintf(stderr, "slurm-azureml generate: wrote %s, but "
			"slurmctld refused to reconfigure: %s\n", path,
			slurm_strerror(errno));
		goto out;
	}
	printf("%s: written (%d nodes added, %d removed); slurmctld "
	       "reconfigured\n", path, added, removed);
	rc = 0;
	goto out;
oom:
	fprintf(stderr, "slurm-azureml generate: out of memory\n");
out:
	if (old_hl)
		slurm_hostlist_destroy(old_hl);
	if (new_hl)
		slurm_hostlist_destroy(new_hl);
	free(nodes);
	free(old);
	free(tmp);
	return rc;
}

int azml_cmd_generate(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL, *apply = NULL;
	azml_generate_opts_t opts = { 0 };
	bool gres = false;
	azml_conf_t *conf;
	char *out, *end;
	long v;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'g':
			gres = true;
			break;
		case 'a':
			apply = optarg;
			break;
		case 'p':
			if (optarg[0] != '/')
				return azml_cmd_usage_error(cmd, "--program-dir "
					"must be an absolute path (Slurm runs "
					"the programs without PATH)");
			opts.program_dir = optarg;
			break;
		case 'P':
			v = strtol(optarg, &end, 10);
			if (*end || v < 1024 || v > 60000)
				return azml_cmd_usage_error(cmd, "--port-base "
					"expects a port from 1024 to 60000, "
					"got '%.40s'", optarg);
			opts.port_base = (int) v;
			break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (apply && gres)
		return azml_cmd_usage_error(cmd, "--apply writes the slurm.conf "
					    "fragment, not gres.conf");
	if (azml_cmd_conf(cmd, file, 0, &conf))
		return 1;
	opts.slurm_conf = azml_slurm_conf_path();
	{
		/* The Slurm this was built against, which is the one that
		 * runs it (slurmctld may not be up yet); attach --accept asks
		 * the running slurmctld, and uses a FUTURE slot where there
		 * is one. */
		char built[16];

		snprintf(built, sizeof(built), "%d.%d",
			 SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER),
			 SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER));
		opts.dynamic_attach = azml_slurm_dynamic_attach(built);
	}
	if (!gres)
		_configless_note(stderr, "slurm-azureml generate: ");
	out = gres ? azml_generate_gres_conf(conf) :
		     azml_generate_slurm_conf(conf, &opts);
	azml_conf_destroy(conf);
	if (!out) {
		fprintf(stderr, "slurm-azureml generate: couldn't generate the "
			"lines: out of memory\n");
		return 1;
	}
	if (apply) {
		rc = _apply(apply, out);
		free(out);
		return rc;
	}
	fputs(out, stdout);
	free(out);
	return 0;
}

static void _print_catalog_text(void)
{
	printf("%-14s %-8s %-18s %-22s %-8s %s\n", "SERIES", "CATEGORY",
	       "RESTRICTION", "SUPPORTED ON", "GPU", "MIN CUDA");
	for (size_t i = 0; i < azml_catalog_series_count(); i++) {
		const azml_series_t *s = azml_catalog_series_at(i);
		const azml_gpu_arch_t *a = azml_catalog_find_arch(s->gpu_arch);

		printf("%-14s %-8s %-18s %-22s %-8s %s\n", s->name,
		       azml_category_name(s->category),
		       s->approval_required ? "approval required" : "none",
		       s->compute_instance ? "clusters and instances" :
					     "clusters only",
		       s->gpu_arch ? s->gpu_arch : "-",
		       a ? a->min_cuda : "-");
	}
	printf("\n%-8s %-24s %s\n", "GPU ARCH", "SERIES", "CUDA");
	for (size_t i = 0; i < azml_catalog_arch_count(); i++) {
		const azml_gpu_arch_t *a = azml_catalog_arch_at(i);
		char list[64] = "";

		for (size_t j = 0; j < 3 && a->series[j]; j++)
			snprintf(list + strlen(list), sizeof(list) - strlen(list),
				 "%s%s", j ? ", " : "", a->series[j]);
		printf("%-8s %-24s %s and later%s%s\n", a->arch,
		       list[0] ? list : "-", a->min_cuda,
		       a->max_cuda ? ", up to " : "",
		       a->max_cuda ? a->max_cuda : "");
	}
	printf("\nIsolated sizes:");
	for (size_t i = 0; i < azml_catalog_isolated_count(); i++)
		printf(" %s", azml_catalog_isolated_at(i));
	printf("\n");
}

static void _print_size_text(const azml_size_info_t *info)
{
	printf("size:              %s\n", info->name);
	printf("series:            %s (%s)\n", info->series->name,
	       azml_category_name(info->series->category));
	printf("approval required: %s\n",
	       info->series->approval_required ? "yes" : "no");
	printf("supported on:      %s\n", info->series->compute_instance ?
	       "clusters and instances" : "clusters only");
	printf("vCPUs:             %d\n", info->vcpus);
	if (info->size) {
		printf("memory:            %d MiB\n", info->size->memory_mib);
		printf("GPUs:              %d%s%s\n", info->size->gpus,
		       info->size->gpu_model ? " x " : "",
		       info->size->gpu_model ? info->size->gpu_model : "");
	} else {
		printf("memory, GPUs:      not in the catalog's size table\n");
	}
	if (info->arch)
		printf("GPU architecture:  %s (CUDA %s and later)\n",
		       info->arch->arch, info->arch->min_cuda);
	printf("isolated:          %s\nRDMA:              %s\n",
	       info->isolated ? "yes" : "no", info->rdma ? "yes" : "no");
}

int azml_cmd_catalog(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *size = NULL;
	bool json = false;
	azml_size_info_t info;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'j':
			json = true;
			break;
		case 's':
			size = optarg;
			break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (!size) {
		if (json)
			azml_print_json(azml_catalog_json());
		else
			_print_catalog_text();
		return 0;
	}
	if (azml_catalog_resolve(size, &info)) {
		fprintf(stderr, "slurm-azureml catalog: unknown VM size '%.80s': "
			"not a size of any series Azure ML supports\n", size);
		return 1;
	}
	if (json)
		azml_print_json(azml_size_info_json(&info));
	else
		_print_size_text(&info);
	return 0;
}

/* "a, b, c" of the targets of CONF that have VMs (VMS) or not, or "none". */
static void _target_names(const azml_conf_t *conf, bool vms, char *out,
			  size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < conf->ntargets && len < n; i++)
		if ((conf->targets[i].kind != AZML_ATTACHED) == vms)
			len += snprintf(out + len, n - len, "%s%s",
					len ? ", " : "", conf->targets[i].name);
	if (!out[0])
		snprintf(out, n, "none");
}

int azml_cmd_userdata(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL, *node;
	const azml_target_t *t;
	azml_controller_t ctl;
	azml_userdata_t u;
	azml_conf_t *conf;
	bool b64 = false;
	char err[600], ctl_err[512], names[1024], *out = NULL;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'b':
			b64 = true;
			break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 1, 2))
		return 2;
	node = optind + 1 < argc ? argv[optind + 1] : NULL;
	if (azml_cmd_conf(cmd, file, 0, &conf))
		return 1;
	rc = 1;
	t = azml_conf_find_target(conf, argv[optind]);
	if (!t || t->kind == AZML_ATTACHED) {
		_target_names(conf, true, names, sizeof(names));
		if (t)
			fprintf(stderr, "slurm-azureml userdata: '%s' is attached "
				"compute: slurm-azureml creates no VM for it, so "
				"it has no userData; compute clusters and "
				"instances: %s\n", t->name, names);
		else
			fprintf(stderr, "slurm-azureml userdata: no compute "
				"target '%.80s' in %s; compute clusters and "
				"instances: %s\n", argv[optind], conf->path,
				names);
		goto out;
	}
	/* slurm.conf's controller, as the resume program sees it */
	if (azml_controller_load(&ctl, ctl_err, sizeof(ctl_err)) &&
	    !t->slurmctld_host) {
		fprintf(stderr, "slurm-azureml userdata: %s has no SlurmctldHost= "
			"and slurm.conf's is unknown (%s): set SlurmctldHost= in "
			"azureml.conf, or SLURM_CONF\n", t->name, ctl_err);
		goto out;
	}
	if (azml_arm_userdata(conf, t, node, &ctl.info, &u, err,
			      sizeof(err))) {
		fprintf(stderr, "slurm-azureml userdata: %s\n", err);
		goto out;
	}
	if (b64) {
		out = azml_userdata_encode(&u);
	} else {
		char *json = azml_userdata_json(&u);
		cJSON *j = json ? cJSON_Parse(json) : NULL;

		out = j ? cJSON_Print(j) : NULL;
		cJSON_Delete(j);
		free(json);
	}
	azml_userdata_free(&u);
	if (!out) {
		fprintf(stderr, "slurm-azureml userdata: out of memory\n");
		goto out;
	}
	printf("%s\n", out);
	rc = 0;
out:
	if (b64)
		free(out);
	else
		cJSON_free(out);
	azml_conf_destroy(conf);
	return rc;
}

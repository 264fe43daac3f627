/*
 * config_cmds.c - check-config, generate and catalog.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "admin.h"
#include "catalog.h"
#include "conf.h"
#include "generate.h"

/* Load azureml.conf and print its errors.  NULL when it has any. */
static azml_conf_t *_load(const char *file)
{
	azml_conf_t *conf = azml_conf_load(file);

	if (!conf) {
		fprintf(stderr, "slurm-azureml: out of memory\n");
		return NULL;
	}
	for (size_t i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	if (conf->nerrors) {
		azml_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

static const struct option opts_tab[] = {
	{ "file", required_argument, NULL, 'f' },
	{ "gres", no_argument, NULL, 'g' },
	{ "program-dir", required_argument, NULL, 'p' },
	{ "port-base", required_argument, NULL, 'P' },
	{ "json", no_argument, NULL, 'j' },
	{ "size", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* Usage line to stdout for --help (exit 0), else to stderr (exit 2). */
static int _usage(int c, const char *text)
{
	fprintf(c == 'h' ? stdout : stderr, "usage: slurm-azureml %s\n", text);
	return c == 'h' ? 0 : 2;
}

static int _extra_args(const char *cmd, int argc, char **argv)
{
	if (optind >= argc)
		return 0;
	fprintf(stderr, "slurm-azureml %s: unexpected argument '%.80s'\n", cmd,
		argv[optind]);
	return 2;
}

int azml_cmd_check_config(int argc, char **argv)
{
	const char *file = NULL;
	azml_conf_t *conf;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts_tab, NULL)) != -1) {
		if (c != 'f')
			return _usage(c, "check-config [-f FILE]");
		file = optarg;
	}
	if (_extra_args("check-config", argc, argv))
		return 2;
	if (!(conf = _load(file)))
		return 1;
	printf("%s: OK, %zu compute target%s\n", conf->path, conf->ntargets,
	       conf->ntargets == 1 ? "" : "s");
	azml_conf_destroy(conf);
	return 0;
}

int azml_cmd_generate(int argc, char **argv)
{
	const char *file = NULL;
	azml_generate_opts_t opts = { 0 };
	bool gres = false;
	azml_conf_t *conf;
	char *out;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "f:h", opts_tab, NULL)) != -1) {
		switch (c) {
		case 'f': file = optarg; break;
		case 'g': gres = true; break;
		case 'p':
			if (optarg[0] != '/') {
				fprintf(stderr, "slurm-azureml generate: "
					"--program-dir must be an absolute path "
					"(Slurm runs the programs without PATH)\n");
				return 2;
			}
			opts.program_dir = optarg;
			break;
		case 'P': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || v < 1024 || v > 60000) {
				fprintf(stderr, "slurm-azureml generate: "
					"--port-base expects a port from 1024 "
					"to 60000, got '%.40s'\n", optarg);
				return 2;
			}
			opts.port_base = (int) v;
			break;
		}
		default:
			return _usage(c, "generate [-f FILE] [--gres] "
				      "[--program-dir DIR] [--port-base PORT]");
		}
	}
	if (_extra_args("generate", argc, argv))
		return 2;
	if (!(conf = _load(file)))
		return 1;
	out = gres ? azml_generate_gres_conf(conf) :
		     azml_generate_slurm_conf(conf, &opts);
	azml_conf_destroy(conf);
	if (!out)
		return 1;
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

int azml_cmd_catalog(int argc, char **argv)
{
	const char *size = NULL;
	bool json = false;
	azml_size_info_t info;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "js:h", opts_tab, NULL)) != -1) {
		switch (c) {
		case 'j': json = true; break;
		case 's': size = optarg; break;
		default:
			return _usage(c, "catalog [--json] [--size SIZE]");
		}
	}
	if (_extra_args("catalog", argc, argv))
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

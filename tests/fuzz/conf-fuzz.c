/*
 * conf-fuzz.c - libFuzzer target: azureml.conf, and what is built from a
 * configuration that loads (lookups, the router, the generated slurm.conf
 * and gres.conf).
 *
 * The input is the file's text.  Without NUL bytes it goes through
 * azml_conf_load_string(); with them, through a real file and
 * azml_conf_load() (the NUL check reads lines with getline()).  Both are
 * named as files of a scratch directory holding a few small files for
 * Include (inc.conf, a target; self.conf, which includes itself;
 * globals.conf); nothing outside it can be opened (sandbox.c).
 *
 * Checks beyond "no crash, no UB": every error starts with the file's name,
 * and in a configuration without errors every target is found by its name
 * and routed to by --azure-compute=NAME.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "generate.h"
#include "log.h"
#include "route.h"
#include "sandbox.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/azml-conf-fuzz.XXXXXX";
static char input_path[sizeof(dir) + 16];	/* with NUL bytes: a file */
static char text_name[sizeof(dir) + 16];	/* without: its name */

static const struct {
	const char *name, *text;
} fixtures[] = {
	{ "inc.conf", "ComputeCluster=inc-a VmSize=Standard_D4s_v3 MaxNodes=2\n" },
	{ "self.conf", "Include self.conf\n" },
	{ "globals.conf", "ClusterName=t\n"
	  "SubscriptionId=00000000-0000-0000-0000-000000000000\n"
	  "ResourceGroup=rg\nLocation=eastus\n" },
};

static void _path(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static void _cleanup(void)
{
	char path[sizeof(dir) + 32];

	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		_path(path, sizeof(path), fixtures[i].name);
		unlink(path);
	}
	unlink(input_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_log_init(AZML_LOG_STDERR, "conf-fuzz", AZML_LOG_ERROR);
	if (!mkdtemp(dir)) {
		perror("conf-fuzz: scratch directory");
		exit(1);
	}
	for (size_t i = 0; i < sizeof(fixtures) / sizeof(fixtures[0]); i++) {
		char path[sizeof(dir) + 32];
		FILE *fp;

		_path(path, sizeof(path), fixtures[i].name);
		fp = fopen(path, "w");

		if (!fp || fputs(fixtures[i].text, fp) < 0 || fclose(fp)) {
			perror("conf-fuzz: fixture");
			exit(1);
		}
	}
	_path(input_path, sizeof(input_path), "input.conf");
	_path(text_name, sizeof(text_name), "fuzz.conf");
	azml_fuzz_sandbox(dir);
	atexit(_cleanup);
	return 0;
}

/* What the rest of the product does with a good configuration. */
static void _use(azml_conf_t *c)
{
	azml_generate_opts_t go = { .program_dir = "/usr/lib/slurm-azureml",
				    .port_base = 17000 };
	azml_router_t *r;
	char *s, out[8192];

	free(azml_generate_slurm_conf(c, &go));
	free(azml_generate_slurm_conf(c, NULL));
	free(azml_generate_gres_conf(c));
	for (size_t i = 0; i < c->ntargets; i++) {
		const azml_target_t *t = &c->targets[i];

		if (azml_conf_find_target(c, t->name) != t)
			abort();
		azml_conf_target_of_node(c, t->name);
		if (asprintf(&s, "%s-1", t->name) >= 0) {
			azml_conf_target_of_node(c, s);
			free(s);
		}
	}
	r = azml_router_create(c);
	if (!r) {
		azml_conf_destroy(c);
		return;
	}
	for (size_t i = 0; i < c->ntargets; i++) {
		const azml_target_t *t = &c->targets[i];
		azml_route_req_t req = { .compute = t->name };

		if (azml_route(r, &req, out, sizeof(out)) != AZML_ROUTE_OK ||
		    strcmp(out, t->name))
			abort();
		if (t->vm_size) {
			azml_route_req_t bysize = { .vm_size = t->vm_size,
						    .wants_gpu = true };

			azml_route(r, &bysize, out, sizeof(out));
		}
	}
	azml_router_destroy(r);	/* and the configuration it owns */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	azml_conf_t *c;
	const char *name;

	if (memchr(data, '\0', size)) {
		FILE *fp = fopen(input_path, "w");

		if (!fp)
			abort();
		fwrite(data, 1, size, fp);
		fclose(fp);
		c = azml_conf_load(input_path);
		name = input_path;
	} else {
		char *text = malloc(size + 1);

		if (!text)
			return 0;
		memcpy(text, data, size);
		text[size] = '\0';
		c = azml_conf_load_string(text, text_name);
		free(text);
		name = text_name;
	}
	if (!c)
		return 0;
	/* Errors name the input or a file it included (in the scratch dir). */
	for (size_t i = 0; i < c->nerrors; i++)
		if (strncmp(c->errors[i], dir, strlen(dir)) &&
		    strncmp(c->errors[i], name, strlen(name)))
			abort();
	if (c->nerrors)
		azml_conf_destroy(c);
	else
		_use(c);
	return 0;
}

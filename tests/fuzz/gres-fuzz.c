/*
 * gres-fuzz.c - libFuzzer target: the one gres parser (shared/gres.h).
 *
 * The input is read twice: as a Gres= specification (azml_gres_parse, then
 * everything that reads a parsed one), and as a gres.conf file
 * (azml_gres_conf_files for node "gpu-1").
 *
 * Checks beyond "no crash, no UB": a specification that parses is written
 * back (azml_gres_string) as one that parses again to the same GPUs and
 * entries; never more than AZML_GRES_MAX_ENTRIES entries, AZML_GRES_MAX_GPUS
 * GPUs, or AZML_GRES_MAX_FILES devices.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gres.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[] = "/tmp/azml-gres-fuzz.XXXXXX";

static void _cleanup(void)
{
	unlink(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	azml_log_init(AZML_LOG_STDERR, "gres-fuzz", AZML_LOG_ERROR);
	fd = mkstemp(path);
	if (fd < 0) {
		perror("gres-fuzz: scratch file");
		exit(1);
	}
	close(fd);
	atexit(_cleanup);
	return 0;
}

static void _spec(const char *spec)
{
	azml_gres_t g, again;
	char err[256], why[256], *s;

	if (azml_gres_parse(spec, &g, err, sizeof(err)))
		return;
	if (g.n > AZML_GRES_MAX_ENTRIES || g.gpus < 0 ||
	    g.gpus > AZML_GRES_MAX_GPUS)
		abort();
	azml_gres_check_node(&g, why, sizeof(why));
	azml_gres_gpu_type(&g);
	for (size_t i = 0; i < g.n; i++)
		azml_gres_is_gpu(&g.ent[i]);
	s = azml_gres_string(&g);
	if (!s)
		return;
	if (*s && (azml_gres_parse(s, &again, err, sizeof(err)) ||
		   again.gpus != g.gpus || again.n != g.n))
		abort();
	free(s);
}

static void _conf(const uint8_t *data, size_t size)
{
	FILE *fp = fopen(path, "w");
	char **files = NULL, err[512];
	int n;

	if (!fp)
		abort();
	fwrite(data, 1, size, fp);
	fclose(fp);
	n = azml_gres_conf_files(path, "gpu-1", &files, err, sizeof(err));
	if (n > AZML_GRES_MAX_FILES)
		abort();
	if (n >= 0)
		azml_strv_free(files, (size_t) n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *spec = malloc(size + 1);

	if (!spec)
		return 0;
	memcpy(spec, data, size);
	spec[size] = '\0';
	_spec(spec);
	free(spec);
	_conf(data, size);
	return 0;
}

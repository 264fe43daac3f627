/*
 * metrics_cmds.c - 'slurm-azureml metrics': the cluster as Prometheus text
 * (metrics.h), on stdout or written whole into a file (the metrics timer:
 * node_exporter's textfile collector reads MetricsDir/slurm-azureml.prom).
 *
 * Sources: slurmctld's nodes, StateDir's journal and holds, the usages
 * (StateDir's cache when younger than 5 minutes, else one usages GET
 * unless --no-azure), prices (Prices=, else the retail prices 'cost'
 * keeps in StateDir; never fetched here).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin.h"
#include "arm.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "nodes.h"
#include "prices.h"
#include "safefile.h"
#include "state.h"

#define USAGES_MAX_AGE 300
#define PRICES_FILE_MAX (16 * 1024 * 1024)

typedef struct {
	azml_usage_t *u;
	size_t n;
} usages_t;

static void _copy_usages(void *arg, azml_usage_t *u, size_t n)
{
	usages_t *us = arg;

	if (n && (us->u = malloc(n * sizeof(*u)))) {
		memcpy(us->u, u, n * sizeof(*u));
		us->n = n;
	}
}

static void _usages(const azml_conf_t *conf, bool azure, usages_t *us)
{
	azml_arm_t *arm;
	azml_vm_result_t uerr;
	char err[600];

	if (azml_state_usages(conf, USAGES_MAX_AGE, NULL, 0, _copy_usages,
			      us) == 0 || !azure)
		return;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!(arm = azml_arm_create(conf, NULL, err, sizeof(err)))) {
		azml_log_error("metrics: %s", err);
		return;
	}
	if (azml_arm_usages_now(arm, &us->u, &us->n, &uerr)) {
		azml_log_error("metrics: couldn't read the compute usages: %s: %s",
			       uerr.code, uerr.message);
		us->u = NULL;
		us->n = 0;
	}
	azml_arm_destroy(arm);
}

static bool _prices(const azml_conf_t *conf, azml_prices_t *p)
{
	char *text = NULL, err[400];

	if (conf->prices) {
		if (azml_read_safe(conf->prices, AZML_SAFE_OWNER,
				   PRICES_FILE_MAX - 1, &text, NULL, err,
				   sizeof(err)) ||
		    azml_prices_parse_file(text, conf->prices, p, err,
					   sizeof(err))) {
			azml_log_error("metrics: Prices=%s: %s", conf->prices,
				       err);
			free(text);
			return false;
		}
		free(text);
		return true;
	}
	text = azml_state_prices_load(conf);
	if (text && !azml_prices_from_text(text, p)) {
		free(text);
		return true;
	}
	free(text);
	return false;
}

/* TEXT into PATH whole: a temporary file beside it, then rename. */
static int _write_whole(const char *path, const char *text, size_t len)
{
	char *dup = strdup(path), tmp[4200];
	int fd, rv = -1;

	if (!dup)
		return -1;
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld", dirname(dup),
		 basename((char *) path), (long) getpid());
	free(dup);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0644);
	if (fd < 0)
		return -1;
	if (write(fd, text, len) == (ssize_t) len && fsync(fd) == 0)
		rv = 0;
	if (close(fd) < 0)
		rv = -1;
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -1;
	if (rv < 0)
		unlink(tmp);
	return rv;
}

int azml_cmd_metrics(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL, *output = NULL;
	bool azure = true;
	azml_conf_t *conf = NULL;
	azml_node_t *nodes = NULL;
	azml_jrec_t *recs = NULL;
	size_t nrecs = 0, bad = 0, len = 0;
	usages_t us = { 0 };
	azml_prices_t prices = { 0 };
	bool have_prices = false, *held = NULL;
	char err[600], *text = NULL, path[4200];
	int c, rc, nn;
	FILE *fp;
	azml_metrics_in_t in = { 0 };

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT: return rc;
		case 'f': file = optarg; break;
		case 'o': output = optarg; break;
		case 'N': azure = false; break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	rc = 1;
	if (azml_state_check(conf, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml metrics: %s\n", err);
		goto out;
	}
	azml_nodes_init();
	nn = azml_nodes_load(&nodes);
	if (azml_state_journal_read(conf, 0, &recs, &nrecs, &bad) < 0)
		fprintf(stderr, "slurm-azureml metrics: the journal could not "
			"be read: VM figures are empty\n");
	if (!(held = calloc(conf->ntargets + 1, sizeof(*held))))
		goto out;
	for (size_t i = 0; i < conf->ntargets; i++) {
		azml_hold_t h;

		held[i] = conf->targets[i].kind != AZML_ATTACHED &&
			  azml_state_hold_get(conf, &conf->targets[i], &h) == 1;
	}
	_usages(conf, azure, &us);
	have_prices = _prices(conf, &prices);
	in = (azml_metrics_in_t) {
		.conf = conf, .nodes = nn >= 0 ? nodes : NULL,
		.nnodes = nn >= 0 ? nn : 0, .recs = recs, .nrecs = nrecs,
		.held = held, .usages = us.u, .nusages = us.n,
		.prices = have_prices ? &prices : NULL,
		.now = (long) time(NULL),
	};
	if (!(fp = open_memstream(&text, &len)))
		goto out;
	if (azml_metrics_write(fp, &in) < 0) {
		fclose(fp);
		fprintf(stderr, "slurm-azureml metrics: out of memory\n");
		goto out;
	}
	fprintf(fp, "# HELP azureml_metrics_scrape_ok 1 when slurmctld "
		"answered.\n# TYPE azureml_metrics_scrape_ok gauge\n"
		"azureml_metrics_scrape_ok %d\n", nn >= 0);
	fclose(fp);
	if (!output) {
		fwrite(text, 1, len, stdout);
		rc = 0;
		goto out;
	}
	/* "-": MetricsDir/slurm-azureml.prom */
	if (!strcmp(output, "-"))
		snprintf(path, sizeof(path), "%s/slurm-azureml.prom",
			 conf->metrics_dir);
	else
		snprintf(path, sizeof(path), "%s", output);
	if (_write_whole(path, text, len) < 0) {
		fprintf(stderr, "slurm-azureml metrics: couldn't write %s: %s\n",
			path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(text);
	free(held);
	free(us.u);
	if (have_prices)
		azml_prices_free(&prices);
	free(recs);
	free(nodes);
	azml_conf_destroy(conf);
	return rc;
}

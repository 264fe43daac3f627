/*
 * cost_cmds.c - slurm-azureml cost: what the VMs cost over a window, per
 * target, job, user or account, from the lifecycle journal (StateDir),
 * the prices (Prices=), slurmctld's nodes and slurmdbd's jobs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "admin.h"
#include "cost.h"
#include "journal.h"
#include "log.h"
#include "prices.h"
#include "retail.h"
#include "safefile.h"
#include "state.h"

#define PRICES_FILE_MAX (1 << 20)

/*
 * A time as sacct takes them: YYYY-MM-DD[THH:MM[:SS]] (local time), now,
 * today, yesterday, now-N[s|m|h|d], or @EPOCH.  -1 when it is none.
 */
static long _when(const char *s, long now)
{
	struct tm tm;
	time_t t = (time_t) now;
	char *end;
	long v;

	if (!strcmp(s, "now"))
		return now;
	if (!strcmp(s, "today") || !strcmp(s, "yesterday")) {
		localtime_r(&t, &tm);
		tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
		tm.tm_isdst = -1;
		return (long) mktime(&tm) - (s[0] == 'y' ? 86400 : 0);
	}
	if (s[0] == '@') {
		errno = 0;
		v = strtol(s + 1, &end, 10);
		return errno || *end || end == s + 1 || v < 0 ? -1 : v;
	}
	if (!strncmp(s, "now-", 4)) {
		long unit = 1;

		errno = 0;
		v = strtol(s + 4, &end, 10);
		if (errno || end == s + 4 || v < 0 || v > 100000000)
			return -1;
		if (*end && end[1])
			return -1;
		switch (*end) {
		case '\0': case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		default: return -1;
		}
		return now - v * unit;
	}
	memset(&tm, 0, sizeof(tm));
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end == 'T')
		end = strptime(end + 1, "%H:%M", &tm);
	if (end && *end == ':')
		end = strptime(end + 1, "%S", &tm);
	if (!end || *end)
		return -1;
	tm.tm_isdst = -1;
	return (long) mktime(&tm);
}

static void _stamp(long t, char *buf, size_t n)
{
	time_t tt = (time_t) t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
}

/* ---- prices ---- */

typedef struct {
	azml_prices_t p;
	bool have;
	char note[700];		/* how good they are, said with the figures */
} prices_t;

static int _file_prices(const azml_conf_t *conf, prices_t *pr)
{
	struct stat st;
	char *text = NULL, err[400];

	/* the figures are only as good as the file: no one else may write
	 * it; a FIFO or a link is refused at once (safefile.h) */
	if (azml_read_safe(conf->prices, AZML_SAFE_OWNER, PRICES_FILE_MAX - 1,
			   &text, NULL, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml cost: Prices=%s: %s\n",
			conf->prices, err);
		return -1;
	}
	if (stat(conf->prices, &st))
		st.st_mtime = time(NULL);
	if (azml_prices_parse_file(text, conf->prices, &pr->p, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml cost: Prices=: %s\n", err);
		free(text);
		return -1;
	}
	free(text);
	pr->p.fetched = (long) st.st_mtime;
	pr->have = true;
	snprintf(pr->note, sizeof(pr->note), "prices of %s", conf->prices);
	return 0;
}

/* Retail prices (retail.h): StateDir's, else the API's (kept), else
 * StateDir's however old, said to be stale; none: said so. */
static void _retail_prices(const azml_conf_t *conf, prices_t *pr, long now)
{
	char err[600], day[32];

	switch (azml_retail_prices(conf, now, false, &pr->p, err, sizeof(err))) {
	case AZML_RETAIL_NONE:
		snprintf(pr->note, sizeof(pr->note), "NO PRICES: the Retail "
			 "Prices API could not be read (%.400s) and none were "
			 "kept; hours only (Prices=FILE gives your own)", err);
		return;
	case AZML_RETAIL_OLD:
		pr->have = true;
		_stamp(pr->p.fetched, day, sizeof(day));
		snprintf(pr->note, sizeof(pr->note), "%s prices of %s (%ld days "
			 "old): the Retail Prices API could not be read: %.400s",
			 now - pr->p.fetched >= AZML_RETAIL_STALE ? "STALE:" :
			 "kept", day, (now - pr->p.fetched) / 86400, err);
		return;
	case AZML_RETAIL_KEPT:
	case AZML_RETAIL_READ:
		break;
	}
	pr->have = true;
	_stamp(pr->p.fetched, day, sizeof(day));
	snprintf(pr->note, sizeof(pr->note), "retail prices of %s", day);
}

/* ---- the report ---- */

static double _c(const azml_cost_split_t *s)
{
	return s->busy_c + s->boot_c + s->idle_c + s->disk_c;
}

static const char *by_names[] = { "target", "job", "user", "account" };

static cJSON *_row_json(const azml_cost_row_t *r, azml_cost_by_t by,
			bool have_jobs, bool priced)
{
	cJSON *o = cJSON_CreateObject();
	double billed = r->s.busy + r->s.boot + r->s.idle;

	cJSON_AddStringToObject(o, by_names[by], r->key);
	if (by == AZML_COST_BY_JOB)
		cJSON_AddStringToObject(o, "target", r->target);
	if (by == AZML_COST_BY_TARGET) {
		cJSON_AddNumberToObject(o, "vms", r->vms);
		cJSON_AddNumberToObject(o, "creates", r->creates);
		cJSON_AddNumberToObject(o, "replaced", r->replaced);
		cJSON_AddNumberToObject(o, "billed_hours", billed / 3600);
		cJSON_AddNumberToObject(o, "boot_hours", r->s.boot / 3600);
		if (have_jobs) {
			cJSON_AddNumberToObject(o, "busy_hours", r->s.busy / 3600);
			cJSON_AddNumberToObject(o, "idle_hours", r->s.idle / 3600);
			cJSON_AddNumberToObject(o, "busy_ratio", billed > 0 ?
						r->s.busy / billed : 0);
		} else {
			cJSON_AddNumberToObject(o, "up_hours", r->s.idle / 3600);
		}
		cJSON_AddNumberToObject(o, "disk_hours", r->s.disk / 3600);
	} else {
		cJSON_AddNumberToObject(o, "busy_hours", r->s.busy / 3600);
	}
	if (priced && r->priced)
		cJSON_AddNumberToObject(o, "cost", _c(&r->s));
	else
		cJSON_AddNullToObject(o, "cost");
	return o;
}

static void _print_text(const azml_cost_row_t *rows, size_t n,
			const azml_cost_row_t *total, azml_cost_by_t by,
			bool have_jobs, bool priced, const char *cur)
{
	char cost[32];

	if (by == AZML_COST_BY_TARGET) {
		printf("%-16s %4s %7s %9s %8s %8s %8s %8s %11s %6s\n", "TARGET",
		       "VMS", "CREATES", "BILLED_H", "BUSY_H", "BOOT_H",
		       have_jobs ? "IDLE_H" : "UP_H", "DISK_H", cur, "BUSY%");
		for (size_t i = 0; i <= n; i++) {
			const azml_cost_row_t *r = i < n ? &rows[i] : total;
			double billed = r->s.busy + r->s.boot + r->s.idle;
			char busy[16], ratio[16];

			if (i == n && n < 2)
				break;
			if (priced && r->priced)
				snprintf(cost, sizeof(cost), "%.4f", _c(&r->s));
			else
				snprintf(cost, sizeof(cost), "no price");
			if (have_jobs) {
				snprintf(busy, sizeof(busy), "%.3f", r->s.busy / 3600);
				if (billed > 0)
					snprintf(ratio, sizeof(ratio), "%.0f%%",
						 100 * r->s.busy / billed);
				else
					snprintf(ratio, sizeof(ratio), "-");
			} else {
				snprintf(busy, sizeof(busy), "-");
				snprintf(ratio, sizeof(ratio), "-");
			}
			printf("%-16.16s %4d %7d %9.3f %8s %8.3f %8.3f %8.3f %11s "
			       "%6s\n", i < n ? r->key : "(all)", r->vms,
			       r->creates, billed / 3600, busy, r->s.boot / 3600,
			       r->s.idle / 3600, r->s.disk / 3600, cost, ratio);
		}
		return;
	}
	printf("%-16s %-16s %8s %11s\n", by == AZML_COST_BY_JOB ? "JOB" :
	       by == AZML_COST_BY_USER ? "USER" : "ACCOUNT",
	       by == AZML_COST_BY_JOB ? "TARGET" : "", "BUSY_H", cur);
	for (size_t i = 0; i < n; i++) {
		if (priced && rows[i].priced)
			snprintf(cost, sizeof(cost), "%.4f", _c(&rows[i].s));
		else
			snprintf(cost, sizeof(cost), "no price");
		printf("%-16.16s %-16.16s %8.3f %11s\n", rows[i].key,
		       by == AZML_COST_BY_JOB ? rows[i].target : "",
		       rows[i].s.busy / 3600, cost);
	}
}

static void _print_csv(const azml_cost_row_t *rows, size_t n,
		       azml_cost_by_t by, bool have_jobs, bool priced)
{
	printf("%s,%s\n", by_names[by], by == AZML_COST_BY_TARGET ?
	       "vms,creates,billed_hours,busy_hours,boot_hours,idle_hours,"
	       "disk_hours,cost" : by == AZML_COST_BY_JOB ?
	       "target,busy_hours,cost" : "busy_hours,cost");
	for (size_t i = 0; i < n; i++) {
		const azml_cost_row_t *r = &rows[i];
		char cost[32] = "", key[2 * sizeof(r->key) + 4];
		char target[2 * sizeof(r->target) + 4];

		if (priced && r->priced)
			snprintf(cost, sizeof(cost), "%.6f", _c(&r->s));
		/* users and accounts are slurmdbd's: anything but a name */
		azml_csv_field(r->key, key, sizeof(key));
		azml_csv_field(r->target, target, sizeof(target));
		if (by == AZML_COST_BY_TARGET) {
			char busy[32] = "", idle[32] = "";

			if (have_jobs) {
				snprintf(busy, sizeof(busy), "%.4f", r->s.busy / 3600);
				snprintf(idle, sizeof(idle), "%.4f", r->s.idle / 3600);
			}
			printf("%s,%d,%d,%.4f,%s,%.4f,%s,%.4f,%s\n", key, r->vms,
			       r->creates, (r->s.busy + r->s.boot + r->s.idle) /
			       3600, busy, r->s.boot / 3600, idle,
			       r->s.disk / 3600, cost);
		} else if (by == AZML_COST_BY_JOB) {
			printf("%s,%s,%.4f,%s\n", key, target,
			       r->s.busy / 3600, cost);
		} else {
			printf("%s,%.4f,%s\n", key, r->s.busy / 3600, cost);
		}
	}
}

/* What the command line asks for. */
typedef struct {
	const char *file;
	bool json, csv;
	azml_cost_by_t by;
	long since, until;
} cost_opts_t;

/* -1: go on; else the command's exit code. */
static int _options(const azml_cmd_t *cmd, int argc, char **argv, long now,
		    cost_opts_t *o)
{
	int c, rc;

	*o = (cost_opts_t) { .by = AZML_COST_BY_TARGET, .since = -2,
			     .until = -2 };
	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			o->file = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'C':
			o->csv = true;
			break;
		case 's':
			if ((o->since = _when(optarg, now)) < 0)
				return azml_cmd_usage_error(cmd, "--since '%.64s': "
					"expected YYYY-MM-DD[THH:MM[:SS]], now, today, "
					"yesterday, now-N[s|m|h|d] or @EPOCH", optarg);
			break;
		case 'u':
			if ((o->until = _when(optarg, now)) < 0)
				return azml_cmd_usage_error(cmd, "--until '%.64s': "
					"expected YYYY-MM-DD[THH:MM[:SS]], now, today, "
					"yesterday, now-N[s|m|h|d] or @EPOCH", optarg);
			break;
		case 'b':
			for (c = 0; c < 4 && strcmp(optarg, by_names[c]); c++)
				;
			if (c == 4)
				return azml_cmd_usage_error(cmd, "--by '%.64s': "
					"expected job, user, account or target",
					optarg);
			o->by = (azml_cost_by_t) c;
			break;
		}
	}
	if ((rc = azml_cmd_args(cmd, argc, argv, 0, 0)))
		return rc;
	if (o->json && o->csv)
		return azml_cmd_usage_error(cmd, "--json and --csv: one of them");
	if (o->until == -2)
		o->until = now;
	if (o->since == -2)
		o->since = o->until - 86400;
	if (o->since >= o->until)
		return azml_cmd_usage_error(cmd, "--since must come before --until");
	return -1;
}

/* A report: what it is made of, then its rows. */
typedef struct {
	long since, until;
	azml_cost_by_t by;
	prices_t pr;
	const char *cur;	/* the prices' currency */
	azml_cost_data_t d;
	azml_cost_row_t *rows, total;
	size_t nrows;
} report_t;

/* The prices, then the journal, nodes and jobs; 0, or -1 (said). */
static int _gather(const azml_conf_t *conf, long now, report_t *rp)
{
	char err[600];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (conf->prices && _file_prices(conf, &rp->pr))
		return -1;
	if (azml_state_init(conf, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml cost: %s\n", err);
		return -1;
	}
	if (!conf->prices)
		_retail_prices(conf, &rp->pr, now);
	if (rp->pr.have && rp->pr.p.n)
		rp->cur = rp->pr.p.p[0].currency;
	if (azml_cost_gather(conf, rp->since, rp->until, now, &rp->d, err,
			     sizeof(err))) {
		fprintf(stderr, "slurm-azureml: %s\n", err);
		return -1;
	}
	return 0;
}

/* The rows; 0, or -1 (said). */
static int _compute(report_t *rp)
{
	azml_cost_in_t in;

	if (!rp->d.have_jobs && rp->by != AZML_COST_BY_TARGET) {
		fprintf(stderr, "slurm-azureml cost: no figures per %s: %s\n",
			by_names[rp->by], rp->d.jobs_err);
		return -1;
	}
	azml_cost_data_in(&rp->d, rp->since, rp->until,
			  rp->pr.have ? &rp->pr.p : NULL, &in);
	if (azml_cost_compute(&in, rp->by, &rp->rows, &rp->nrows,
			      &rp->total)) {
		fprintf(stderr, "slurm-azureml cost: out of memory\n");
		return -1;
	}
	return 0;
}

static void _render_json(const report_t *rp, const char *a, const char *b)
{
	cJSON *root = cJSON_CreateObject(), *arr;
	bool have_jobs = rp->d.have_jobs;

	cJSON_AddStringToObject(root, "since", a);
	cJSON_AddStringToObject(root, "until", b);
	cJSON_AddStringToObject(root, "by", by_names[rp->by]);
	cJSON_AddStringToObject(root, "currency", rp->cur);
	cJSON_AddStringToObject(root, "prices", rp->pr.note);
	if (rp->pr.have && rp->pr.p.fetched > 0) {
		char d[32];

		_stamp(rp->pr.p.fetched, d, sizeof(d));
		cJSON_AddStringToObject(root, "price_date", d);
	}
	if (!have_jobs)
		cJSON_AddStringToObject(root, "no_job_figures", rp->d.jobs_err);
	if (rp->d.bad)
		cJSON_AddNumberToObject(root, "journal_lines_skipped",
					(double) rp->d.bad);
	arr = cJSON_AddArrayToObject(root, "rows");
	for (size_t i = 0; i < rp->nrows; i++)
		cJSON_AddItemToArray(arr, _row_json(&rp->rows[i], rp->by,
						    have_jobs, rp->pr.have));
	cJSON_AddItemToObject(root, "total", _row_json(&rp->total,
					AZML_COST_BY_TARGET, have_jobs,
					rp->pr.have));
	azml_print_json(root);
}

static void _render_text(const report_t *rp, const char *a, const char *b)
{
	printf("cost from %s to %s, %s, %s\n", a, b, rp->cur, rp->pr.note);
	if (!rp->d.have_jobs)
		printf("no job figures (busy and idle not split: UP_H is "
		       "both): %s\n", rp->d.jobs_err);
	if (rp->d.bad)
		printf("journal: %zu lines skipped (cut or not records; "
		       "'slurm-azureml reconcile' repairs)\n", rp->d.bad);
	_print_text(rp->rows, rp->nrows, &rp->total, rp->by, rp->d.have_jobs,
		    rp->pr.have, rp->cur);
}

static void _render(const report_t *rp, const cost_opts_t *o)
{
	char a[32], b[32];

	_stamp(rp->since, a, sizeof(a));
	_stamp(rp->until, b, sizeof(b));
	if (o->json)
		_render_json(rp, a, b);
	else if (o->csv)
		_print_csv(rp->rows, rp->nrows, rp->by, rp->d.have_jobs,
			   rp->pr.have);
	else
		_render_text(rp, a, b);
}

int azml_cmd_cost(const azml_cmd_t *cmd, int argc, char **argv)
{
	long now = (long) time(NULL);
	cost_opts_t o;
	azml_conf_t *conf = NULL;
	report_t rp = { .cur = "USD" };
	int rc;

	if ((rc = _options(cmd, argc, argv, now, &o)) >= 0)
		return rc;
	if (azml_cmd_conf(cmd, o.file, AZML_CONF_LOG, &conf))
		return 1;
	rp.since = o.since;
	rp.until = o.until;
	rp.by = o.by;
	rc = 1;
	if (!_gather(conf, now, &rp) && !_compute(&rp)) {
		_render(&rp, &o);
		rc = 0;
	}
	free(rp.rows);
	azml_cost_data_free(&rp.d);
	azml_prices_free(&rp.pr.p);
	azml_conf_destroy(conf);
	return rc;
}

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

#include "acct.h"
#include "admin.h"
#include "cost.h"
#include "journal.h"
#include "log.h"
#include "nodes.h"
#include "prices.h"
#include "safefile.h"
#include "state.h"

#define PRICES_REFRESH 86400	/* retail prices older than this: read again */
#define PRICES_STALE (7 * 86400)	/* and older than this: said to be stale */
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

/* Retail prices: StateDir's when younger than a day, else the API's (kept),
 * else StateDir's however old, said to be stale; none: said so. */
static void _retail_prices(const azml_conf_t *conf, prices_t *pr, long now)
{
	char *text = azml_state_prices_load(conf), err[600], day[32];
	azml_prices_t cached = { 0 };
	bool have_cache = text && !azml_prices_from_text(text, &cached);

	free(text);
	if (have_cache && now - cached.fetched < PRICES_REFRESH) {
		pr->p = cached;
		pr->have = true;
	} else if (!azml_prices_fetch(conf, &pr->p, err, sizeof(err))) {
		char *t = azml_prices_to_text(&pr->p);

		if (t)
			azml_state_prices_save(conf, t);
		free(t);
		azml_prices_free(&cached);
		pr->have = true;
	} else if (have_cache) {
		pr->p = cached;
		pr->have = true;
		_stamp(cached.fetched, day, sizeof(day));
		snprintf(pr->note, sizeof(pr->note), "%s prices of %s (%ld days "
			 "old): the Retail Prices API could not be read: %.400s",
			 now - cached.fetched >= PRICES_STALE ? "STALE:" :
			 "kept", day, (now - cached.fetched) / 86400, err);
		return;
	} else {
		snprintf(pr->note, sizeof(pr->note), "NO PRICES: the Retail "
			 "Prices API could not be read (%.400s) and none were "
			 "kept; hours only (Prices=FILE gives your own)", err);
		return;
	}
	_stamp(pr->p.fetched, day, sizeof(day));
	snprintf(pr->note, sizeof(pr->note), "retail prices of %s", day);
}

/* ---- the report ---- */

typedef struct {
	azml_node_t *nodes;
	int nn;
} nodes_t;

static int _node_cpus(void *arg, const char *node)
{
	nodes_t *ns = arg;

	for (int i = 0; i < ns->nn; i++)
		if (!strcmp(ns->nodes[i].name, node))
			return ns->nodes[i].cpus;
	return 0;
}

/* A live VM's registration the journal does not have yet: its node's
 * slurmd start, when it falls in the VM's running span. */
static void _registrations(azml_jvm_t *vm, size_t nvm, const nodes_t *ns)
{
	for (size_t i = 0; i < nvm; i++) {
		azml_jspan_t *s;

		if (vm[i].end || !vm[i].nspans)
			continue;
		s = &vm[i].span[vm[i].nspans - 1];
		if (!s->running || s->booted)
			continue;
		for (int k = 0; k < ns->nn; k++)
			if (!strcmp(ns->nodes[k].name, vm[i].first.node) &&
			    ns->nodes[k].slurmd_start >= s->from &&
			    ns->nodes[k].slurmd_start <= s->to)
				s->booted = ns->nodes[k].slurmd_start;
	}
}

/* What a report is made of, but the prices. */
typedef struct {
	azml_jrec_t *recs;
	size_t nrecs, bad;
	azml_jvm_t *vm;
	size_t nvm;
	nodes_t ns;
	azml_cost_job_t *jobs;
	size_t njobs;
	bool have_jobs;
	char jobs_err[600];
} gather_t;

static int _gather(const azml_conf_t *conf, long since, long until, long now,
		   gather_t *g)
{
	memset(g, 0, sizeof(*g));
	if (azml_state_journal_read(conf, since, &g->recs, &g->nrecs, &g->bad)) {
		fprintf(stderr, "slurm-azureml: couldn't read the lifecycle "
			"journal under %s/journal\n", conf->state_dir);
		return -1;
	}
	g->vm = azml_journal_fold(g->recs, g->nrecs, now < until ? now : until,
				  &g->nvm);
	azml_nodes_init();
	g->ns.nn = azml_nodes_load(&g->ns.nodes);
	if (g->ns.nn > 0)
		_registrations(g->vm, g->nvm, &g->ns);
	else
		g->ns.nn = 0;
	g->have_jobs = !azml_acct_jobs(since, until, &g->jobs, &g->njobs,
				       g->jobs_err, sizeof(g->jobs_err));
	return 0;
}

static void _gather_free(gather_t *g)
{
	free(g->jobs);
	free(g->ns.nodes);
	azml_journal_free(g->vm, g->nvm);
	free(g->recs);
}

int azml_cost_targets(const azml_conf_t *conf, long since, long until,
		      azml_cost_row_t **rows, size_t *n, bool *have_jobs,
		      char *why, size_t whylen)
{
	gather_t g;
	azml_cost_in_t in = { .since = since, .until = until };
	int rc;

	*rows = NULL;
	*n = 0;
	if (_gather(conf, since, until, (long) time(NULL), &g))
		return -1;
	in.vm = g.vm;
	in.nvm = g.nvm;
	in.jobs = g.have_jobs ? g.jobs : NULL;
	in.njobs = g.njobs;
	in.node_cpus = _node_cpus;
	in.arg = &g.ns;
	*have_jobs = g.have_jobs;
	snprintf(why, whylen, "%s", g.jobs_err);
	rc = azml_cost_compute(&in, AZML_COST_BY_TARGET, rows, n, NULL);
	_gather_free(&g);
	return rc;
}

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
		char cost[32] = "";

		if (priced && r->priced)
			snprintf(cost, sizeof(cost), "%.6f", _c(&r->s));
		/* keys are names: no comma, quote or newline */
		if (by == AZML_COST_BY_TARGET) {
			char busy[32] = "", idle[32] = "";

			if (have_jobs) {
				snprintf(busy, sizeof(busy), "%.4f", r->s.busy / 3600);
				snprintf(idle, sizeof(idle), "%.4f", r->s.idle / 3600);
			}
			printf("%s,%d,%d,%.4f,%s,%.4f,%s,%.4f,%s\n", r->key, r->vms,
			       r->creates, (r->s.busy + r->s.boot + r->s.idle) /
			       3600, busy, r->s.boot / 3600, idle,
			       r->s.disk / 3600, cost);
		} else if (by == AZML_COST_BY_JOB) {
			printf("%s,%s,%.4f,%s\n", r->key, r->target,
			       r->s.busy / 3600, cost);
		} else {
			printf("%s,%.4f,%s\n", r->key, r->s.busy / 3600, cost);
		}
	}
}

int azml_cmd_cost(const azml_cmd_t *cmd, int argc, char **argv)
{
	const char *file = NULL;
	bool json = false, csv = false, have_jobs = false;
	azml_cost_by_t by = AZML_COST_BY_TARGET;
	long now = (long) time(NULL), since = -2, until = -2;
	azml_conf_t *conf = NULL;
	prices_t pr = { 0 };
	gather_t g = { 0 };
	azml_cost_row_t *rows = NULL, total;
	size_t nrows = 0;
	char a[32], b[32], err[600];
	const char *cur = "USD";
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'C':
			csv = true;
			break;
		case 's':
			if ((since = _when(optarg, now)) < 0)
				return azml_cmd_usage_error(cmd, "--since '%.64s': "
					"expected YYYY-MM-DD[THH:MM[:SS]], now, today, "
					"yesterday, now-N[s|m|h|d] or @EPOCH", optarg);
			break;
		case 'u':
			if ((until = _when(optarg, now)) < 0)
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
			by = (azml_cost_by_t) c;
			break;
		}
	}
	if ((rc = azml_cmd_args(cmd, argc, argv, 0, 0)))
		return rc;
	if (json && csv)
		return azml_cmd_usage_error(cmd, "--json and --csv: one of them");
	if (until == -2)
		until = now;
	if (since == -2)
		since = until - 86400;
	if (since >= until)
		return azml_cmd_usage_error(cmd, "--since must come before --until");
	if (azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	rc = 1;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (conf->prices && _file_prices(conf, &pr))
		goto out;
	if (azml_state_init(conf, err, sizeof(err))) {
		fprintf(stderr, "slurm-azureml cost: %s\n", err);
		goto out;
	}
	if (!conf->prices)
		_retail_prices(conf, &pr, now);
	if (pr.have && pr.p.n)
		cur = pr.p.p[0].currency;
	if (_gather(conf, since, until, now, &g))
		goto out;
	have_jobs = g.have_jobs;
	if (!have_jobs && by != AZML_COST_BY_TARGET) {
		fprintf(stderr, "slurm-azureml cost: no figures per %s: %s\n",
			by_names[by], g.jobs_err);
		goto out;
	}
	{
		azml_cost_in_t in = { .since = since, .until = until, .vm = g.vm,
				      .nvm = g.nvm, .prices = pr.have ? &pr.p : NULL,
				      .jobs = have_jobs ? g.jobs : NULL,
				      .njobs = g.njobs, .node_cpus = _node_cpus,
				      .arg = &g.ns };

		if (azml_cost_compute(&in, by, &rows, &nrows, &total)) {
			fprintf(stderr, "slurm-azureml cost: out of memory\n");
			goto out;
		}
	}
	_stamp(since, a, sizeof(a));
	_stamp(until, b, sizeof(b));
	if (json) {
		cJSON *root = cJSON_CreateObject(), *arr;

		cJSON_AddStringToObject(root, "since", a);
		cJSON_AddStringToObject(root, "until", b);
		cJSON_AddStringToObject(root, "by", by_names[by]);
		cJSON_AddStringToObject(root, "currency", cur);
		cJSON_AddStringToObject(root, "prices", pr.note);
		if (pr.have && pr.p.fetched > 0) {
			char d[32];

			_stamp(pr.p.fetched, d, sizeof(d));
			cJSON_AddStringToObject(root, "price_date", d);
		}
		if (!have_jobs)
			cJSON_AddStringToObject(root, "no_job_figures", g.jobs_err);
		if (g.bad)
			cJSON_AddNumberToObject(root, "journal_lines_skipped",
						(double) g.bad);
		arr = cJSON_AddArrayToObject(root, "rows");
		for (size_t i = 0; i < nrows; i++)
			cJSON_AddItemToArray(arr, _row_json(&rows[i], by,
							    have_jobs, pr.have));
		cJSON_AddItemToObject(root, "total", _row_json(&total,
						AZML_COST_BY_TARGET, have_jobs,
						pr.have));
		azml_print_json(root);
	} else if (csv) {
		_print_csv(rows, nrows, by, have_jobs, pr.have);
	} else {
		printf("cost from %s to %s, %s, %s\n", a, b, cur, pr.note);
		if (!have_jobs)
			printf("no job figures (busy and idle not split: UP_H is "
			       "both): %s\n", g.jobs_err);
		if (g.bad)
			printf("journal: %zu lines skipped (cut or not records; "
			       "'slurm-azureml reconcile' repairs)\n", g.bad);
		_print_text(rows, nrows, &total, by, have_jobs, pr.have, cur);
	}
	rc = 0;
out:
	free(rows);
	_gather_free(&g);
	azml_prices_free(&pr.p);
	azml_conf_destroy(conf);
	return rc;
}

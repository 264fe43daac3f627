/*
 * cost-bench.c - how long IdleSecondsBeforeScaledown=auto's gap finding
 * (azml_idle_gaps), its rule (azml_idle_auto) and `cost --by job`
 * (azml_cost_compute) take over N job-node records, and the rule over N
 * gaps of up to two hours.  Prints figures; asserts nothing.
 *
 *	tests/bench/cost-bench [N...]	(default 20000 40000 80000)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cost.h"

static unsigned long seed = 1;

static unsigned long _rand(void)
{
	seed = seed * 6364136223846793005UL + 1442695040888963407UL;
	return seed >> 33;
}

static double _now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool _ours(void *arg, const char *node)
{
	return !strncmp(node, "gpu-", 4);
}

/* N records over a week on N / 40 nodes (at least 8), a tenth running */
static azml_cost_job_t *_jobs(size_t n, size_t *nodes)
{
	azml_cost_job_t *j = calloc(n, sizeof(*j));
	size_t nn = n / 40 < 8 ? 8 : n / 40;

	for (size_t i = 0; i < n; i++) {
		j[i].id = (uint32_t) (i + 1);
		snprintf(j[i].user, sizeof(j[i].user), "u%lu", _rand() % 50);
		snprintf(j[i].account, sizeof(j[i].account), "a%lu",
			 _rand() % 10);
		snprintf(j[i].node, sizeof(j[i].node), "gpu-%lu",
			 _rand() % nn + 1);
		j[i].cpus = 1 + (int) (_rand() % 4);
		j[i].start = (long) (_rand() % (7 * 86400));
		j[i].end = _rand() % 10 ? j[i].start + 1 +
			   (long) (_rand() % 7200) : 0;
	}
	*nodes = nn;
	return j;
}

int main(int argc, char **argv)
{
	size_t def[] = { 20000, 40000, 80000 }, nsz = 3;

	for (size_t k = 0; k < (argc > 1 ? (size_t) argc - 1 : nsz); k++) {
		size_t n = argc > 1 ? strtoul(argv[k + 1], NULL, 10) : def[k];
		size_t nn, ngaps = 0, nrows = 0;
		azml_cost_job_t *j = _jobs(n, &nn);
		azml_jvm_t *vm = calloc(nn, sizeof(*vm));
		azml_jspan_t *sp = calloc(nn, sizeof(*sp));
		azml_cost_row_t *rows = NULL;
		double *gaps = NULL, *many = calloc(n, sizeof(*many));
		double t0, t1, t2, t3, t4;
		int best, best_n;

		for (size_t v = 0; v < nn; v++) {
			snprintf(vm[v].first.node, sizeof(vm[v].first.node),
				 "gpu-%zu", v + 1);
			snprintf(vm[v].first.target, sizeof(vm[v].first.target),
				 "gpu");
			snprintf(vm[v].first.size, sizeof(vm[v].first.size),
				 "Standard_NC6s_v3");
			snprintf(vm[v].first.prio, sizeof(vm[v].first.prio),
				 "dedicated");
			sp[v] = (azml_jspan_t) { .from = 0, .to = 8 * 86400,
						 .booted = 120, .running = true };
			vm[v].span = &sp[v];
			vm[v].nspans = 1;
		}
		t0 = _now();
		azml_idle_gaps(j, n, 8 * 86400, 3600, _ours, NULL, &gaps, &ngaps);
		t1 = _now();
		best = azml_idle_auto(gaps, ngaps, 300, 30, 3600, NULL);
		t2 = _now();
		{
			azml_cost_in_t in = { .since = 0, .until = 8 * 86400,
					      .vm = vm, .nvm = nn, .jobs = j,
					      .njobs = n };

			azml_cost_compute(&in, AZML_COST_BY_JOB, &rows, &nrows,
					  NULL);
		}
		t3 = _now();
		for (size_t i = 0; i < n; i++)
			many[i] = (double) (1 + _rand() % 7200);
		best_n = azml_idle_auto(many, n, 300, 30, 3600, NULL);
		t4 = _now();
		printf("%zu records, %zu nodes: idle gaps %.3f s (%zu gaps), "
		       "idle auto %.3f s (%d s), cost --by job %.3f s "
		       "(%zu rows), idle auto over %zu gaps %.3f s (%d s)\n",
		       n, nn, t1 - t0, ngaps, t2 - t1, best, t3 - t2, nrows, n,
		       t4 - t3, best_n);
		fflush(stdout);
		free(rows);
		free(many);
		free(gaps);
		free(sp);
		free(vm);
		free(j);
	}
	return 0;
}

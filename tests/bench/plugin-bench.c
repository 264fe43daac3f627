/*
 * plugin-bench.c - what loading our Slurm plugins costs every slurmctld,
 * sbatch, srun and slurmstepd: dlopen() + dlclose() of each, and of one of
 * Slurm's own plugins as the baseline, in the same run.  Prints the median
 * and p99 in milliseconds and the ratio to the baseline; asserts nothing.
 *
 *   plugin-bench [ROUNDS] PLUGIN.so... -- BASELINE.so
 *
 * The program links libslurm, so the Slurm symbols a plugin takes from its
 * daemon are there as they are in the daemon.
 */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <slurm/slurm.h>

static double _now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int _cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return (x > y) - (x < y);
}

/* Load and unload PATH ROUNDS times; the median in *MED, p99 in *P99. */
static int _measure(const char *path, int rounds, double *med, double *p99)
{
	double *t = calloc(rounds, sizeof(*t));

	if (!t)
		return -1;
	for (int i = 0; i < rounds; i++) {
		double t0 = _now_ms();
		void *h = dlopen(path, RTLD_LAZY | RTLD_LOCAL)	/* as Slurm loads plugins */;

		if (!h) {
			fprintf(stderr, "plugin-bench: couldn't load %s: %s\n",
				path, dlerror());
			free(t);
			return -1;
		}
		dlclose(h);
		t[i] = _now_ms() - t0;
	}
	qsort(t, rounds, sizeof(*t), _cmp);
	*med = t[rounds / 2];
	*p99 = t[(int) (rounds * 0.99)];
	free(t);
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = 200, first = 1, sep = -1;
	double bmed, bp99;

	if (argc > 1 && strspn(argv[1], "0123456789") == strlen(argv[1])) {
		rounds = atoi(argv[1]);
		first = 2;
	}
	for (int i = first; i < argc; i++)
		if (!strcmp(argv[i], "--"))
			sep = i;
	if (rounds < 10 || sep < 0 || sep + 2 != argc || sep == first) {
		fprintf(stderr, "usage: plugin-bench [ROUNDS>=10] PLUGIN.so... "
			"-- BASELINE.so\n");
		return 2;
	}
	/* keep libslurm's symbols in the global scope, as a daemon has them */
	(void) slurm_api_version();
	if (_measure(argv[sep + 1], rounds, &bmed, &bp99))
		return 1;
	printf("dlopen+dlclose, %d rounds each (ms):\n", rounds);
	printf("  %-40s median %.3f  p99 %.3f  (baseline)\n",
	       strrchr(argv[sep + 1], '/') ? strrchr(argv[sep + 1], '/') + 1 :
	       argv[sep + 1], bmed, bp99);
	for (int i = first; i < sep; i++) {
		double med, p99;
		const char *name = strrchr(argv[i], '/');

		if (_measure(argv[i], rounds, &med, &p99))
			return 1;
		printf("  %-40s median %.3f  p99 %.3f  ratio %.2f\n",
		       name ? name + 1 : argv[i], med, p99,
		       bmed > 0 ? med / bmed : 0.0);
	}
	return 0;
}

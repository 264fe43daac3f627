/*
 * nodecheck-bench.c - what a health check costs: wall time and peak memory
 * of 'slurm-azureml node-check' on the DGX-2 topology (16 GPUs, 12
 * NVSwitches), run as the program Slurm runs, against two baselines in the
 * same run: /bin/true (starting any process) and hwloc's own lstopo loading
 * the same XML.  Prints median, p99 and peak RSS; not an assertion.
 *
 * usage: nodecheck-bench [RUNS] [TOPOLOGY.xml]
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static int _cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double _now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run ARGV RUNS times; median and p99 wall ms, peak RSS KiB. */
static int _bench(const char *name, char *const argv[], int runs,
		  double *median)
{
	double *ms = calloc((size_t) runs, sizeof(double));
	long peak = 0;

	for (int i = 0; i < runs; i++) {
		struct rusage ru;
		int status;
		double t0 = _now();
		pid_t pid = fork();

		if (pid == 0) {
			int fd = open("/dev/null", O_WRONLY);

			dup2(fd, 1);
			execvp(argv[0], argv);
			_exit(127);
		}
		if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0) {
			fprintf(stderr, "%s: run %d failed (status %d)\n", name, i,
				status);
			free(ms);
			return -1;
		}
		ms[i] = (_now() - t0) * 1000;
		if (ru.ru_maxrss > peak)
			peak = ru.ru_maxrss;
	}
	qsort(ms, (size_t) runs, sizeof(double), _cmp);
	*median = ms[runs / 2];
	printf("%-34s median %7.2f ms  p99 %7.2f ms  peak RSS %6.1f MiB\n", name,
	       ms[runs / 2], ms[(runs * 99) / 100 >= runs ? runs - 1 : (runs * 99) / 100],
	       peak / 1024.0);
	free(ms);
	return 0;
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 200;
	const char *xml = argc > 2 ? argv[2] :
		AZML_TOP_SRCDIR "/../shared/hwloc-topologies/nvidiaDGX2.xml";
	const char *bin = AZML_BUILD_DIR "/plugins/admin/slurm-azureml";
	char *nc[] = { (char *) bin, "node-check", "--topology", (char *) xml,
		       "--gres", "gpu:v100:16", "--cuda", "12.0", "--json", NULL };
	char *lstopo[] = { "lstopo-no-graphics", "-i", (char *) xml,
			   "--whole-io", NULL };
	char *tru[] = { "/bin/true", NULL };
	double m_nc, m_ls, m_true;

	if (runs < 1) {
		fprintf(stderr, "usage: nodecheck-bench [RUNS] [TOPOLOGY.xml]\n");
		return 2;
	}
	printf("%d runs each, %s\n", runs, xml);
	if (_bench("/bin/true (process start)", tru, runs, &m_true) < 0 ||
	    _bench("lstopo-no-graphics -i XML", lstopo, runs, &m_ls) < 0 ||
	    _bench("slurm-azureml node-check", nc, runs, &m_nc) < 0)
		return 1;
	printf("node-check / lstopo: %.2f; node-check minus process start: %.2f ms\n",
	       m_nc / m_ls, m_nc - m_true);
	return 0;
}

/*
 * health-bench.c - what the health checks and 'metrics' cost:
 *   - the checks of a Standard_ND96asr_v4 node with 8 fake GPUs (the
 *     test-built NVML), a kernel log of 5000 records, one InfiniBand port:
 *     in-process (NVML query + every check but the script), and as the
 *     program slurmd runs (node-check --health-check --dry-run: process
 *     start, azureml.conf, the same checks);
 *   - azml_metrics_write() for a 1000-node cluster and a journal of its
 *     VMs (3000 records).
 * Prints median and p99 in ms; not an assertion.
 *
 * usage: health-bench [RUNS]
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "conf.h"
#include "gpu.h"
#include "health.h"
#include "journal.h"
#include "metrics.h"

#define FAKE_NVML AZML_BUILD_DIR "/tests/unit/nvml/libnvidia-ml.so.1"
#define AZML_BIN AZML_BUILD_DIR "/plugins/admin/slurm-azureml"
#define HEAD "ClusterName=t\n" \
	"SubscriptionId=00000000-0000-0000-0000-000000000000\n" \
	"ResourceGroup=rg\nLocation=eastus\n"

static double _now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int _cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static void _report(const char *what, double *ms, int n)
{
	qsort(ms, (size_t) n, sizeof(*ms), _cmp);
	printf("%-58s median %8.3f ms  p99 %8.3f ms  (%d runs)\n", what,
	       ms[n / 2], ms[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1], n);
}

static void _file(const char *root, const char *rel, const char *text)
{
	char path[512], cmd[600];
	FILE *fp;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	if (system(cmd) || !(fp = fopen(path, "w")))
		exit(1);
	fputs(text, fp);
	fclose(fp);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 200;
	char root[128], conf_path[256], cmd[600];
	double *ms = calloc((size_t) runs, sizeof(double));
	azml_conf_t *c;
	FILE *fp;

	if (runs < 1 || !ms)
		return 2;
	snprintf(root, sizeof(root), "/tmp/azml-health-bench.%ld",
		 (long) getpid());
	_file(root, "/proc/meminfo", "MemTotal:       943718400 kB\n");
	_file(root, "/proc/sys/kernel/random/boot_id", "bench\n");
	_file(root, "/tmp/.keep", "");
	_file(root, "/run/.keep", "");
	_file(root, "/sys/class/infiniband/mlx5_ib0/ports/1/state", "4: ACTIVE\n");
	_file(root, "/sys/class/infiniband/mlx5_ib0/ports/1/rate",
	      "200 Gb/sec (4X HDR)\n");
	_file(root, "/sys/class/infiniband/mlx5_ib0/ports/1/link_layer",
	      "InfiniBand\n");
	_file(root, "/dev/kmsg", "");
	snprintf(cmd, sizeof(cmd), "%s/dev/kmsg", root);
	if (!(fp = fopen(cmd, "w")))
		return 1;
	for (int i = 1; i <= 5000; i++)
		fprintf(fp, "6,%d,%d,-;eth0: some driver chatter %d\n", i,
			i * 1000, i);
	fclose(fp);
	setenv("AZML_HEALTH_ROOT", root, 1);
	setenv("AZML_NVML_LIBRARY", FAKE_NVML, 1);
	setenv("FAKE_NVML_NAME", "NVIDIA A100-SXM4-40GB", 1);
	setenv("FAKE_NVML_BUSIDS", "00000000:01:00.0,00000000:02:00.0,"
	       "00000000:03:00.0,00000000:04:00.0,00000000:05:00.0,"
	       "00000000:06:00.0,00000000:07:00.0,00000000:08:00.0", 1);
	snprintf(conf_path, sizeof(conf_path), "%s/azureml.conf", root);
	_file(root, "/azureml.conf", HEAD "HealthChecks=all,-script\n"
	      "ComputeCluster=nd VmSize=Standard_ND96asr_v4 MaxNodes=1000 "
	      "QuotaApproved=yes\n");
	if (!(c = azml_conf_load(conf_path)) || c->nerrors)
		return 1;

	/* in-process: the first run reads the whole log, the others none */
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < runs; i++) {
			azml_health_req_t req;
			azml_nvml_t nv;
			azml_hresult_t res;
			double t0 = _now();

			if (pass == 0) {
				snprintf(cmd, sizeof(cmd), "%s/run/slurm-azureml"
					 "/xid-nd-1", root);
				unlink(cmd);
				t0 = _now();
			}
			azml_health_req_of(&c->targets[0], "nd-1", &req);
			azml_nvml_query(NULL, &nv);
			req.nvml = &nv;
			if (azml_health_run(&req, &res)) {
				fprintf(stderr, "unexpected failure: %s\n",
					res.fail[0].reason);
				return 1;
			}
			ms[i] = (_now() - t0) * 1000;
		}
		_report(pass == 0 ? "checks, 8 GPUs, 5000-record log read whole" :
			"checks, 8 GPUs, log read since the last run", ms, runs);
	}
	/* the program slurmd runs */
	for (int i = 0; i < runs && i < 100; i++) {
		double t0 = _now();
		pid_t pid = fork();
		int st;

		if (pid == 0) {
			int nul = open("/dev/null", 1);

			dup2(nul, 1);
			execl(AZML_BIN, AZML_BIN, "node-check", "--health-check",
			      "--dry-run", "-f", conf_path, "--node", "nd-1",
			      (char *) NULL);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "node-check exited %d\n", WEXITSTATUS(st));
			return 1;
		}
		ms[i] = (_now() - t0) * 1000;
	}
	_report("node-check --health-check --dry-run (process)", ms,
		runs < 100 ? runs : 100);
	azml_conf_destroy(c);

	/* metrics at 1000 nodes */
	{
		azml_node_t *nodes = calloc(1000, sizeof(*nodes));
		azml_jrec_t *r = calloc(3000, sizeof(*r));
		size_t nr = 0;
		azml_metrics_in_t in;
		FILE *null = fopen("/dev/null", "w");

		_file(root, "/azureml.conf", HEAD
		      "ComputeCluster=big VmSize=Standard_D4s_v3 "
		      "MaxNodes=1000\n");
		if (!(c = azml_conf_load(conf_path)) || c->nerrors || !nodes ||
		    !r || !null)
			return 1;
		for (int i = 0; i < 1000; i++) {
			char n[32], id[32];

			snprintf(n, sizeof(n), "big-%d", i + 1);
			snprintf(id, sizeof(id), "id-%d", i + 1);
			snprintf(nodes[i].name, sizeof(nodes[i].name), "%s", n);
			nodes[i].state = i % 3 ? NODE_STATE_ALLOCATED :
					 NODE_STATE_IDLE | NODE_STATE_POWERED_DOWN;
			azml_jrec_make(&r[nr++], AZML_J_CREATED, 1000 + i, n, id,
				       n, "big", "Standard_D4s_v3", false, NULL);
			azml_jrec_make(&r[nr++], AZML_J_REGISTERED, 1060 + i, n,
				       id, n, "big", "Standard_D4s_v3", false,
				       NULL);
			if (i % 3 == 0)
				azml_jrec_make(&r[nr++], AZML_J_DELETED, 5000 + i,
					       n, id, n, "big",
					       "Standard_D4s_v3", false, NULL);
		}
		in = (azml_metrics_in_t) { .conf = c, .nodes = nodes,
					   .nnodes = 1000, .recs = r,
					   .nrecs = nr, .now = 10000 };
		for (int i = 0; i < runs; i++) {
			double t0 = _now();

			if (azml_metrics_write(null, &in))
				return 1;
			ms[i] = (_now() - t0) * 1000;
		}
		_report("metrics: 1000 nodes, journal of 2334 records", ms, runs);
		fclose(null);
		free(nodes);
		free(r);
		azml_conf_destroy(c);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	system(cmd);
	free(ms);
	return 0;
}

/*
 * route-bench.c - nanoseconds per routing decision (what job_submit/azureml
 * does for each job) with 10, 100 and 1000 compute targets configured.
 * Prints median and p99 over batches; not an assertion.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route.h"

#define BATCH 200
#define BATCHES 2000

static const char *sizes[] = {
	"Standard_D2s_v3", "Standard_D4s_v3", "Standard_D8s_v3",
	"Standard_NC6s_v3", "Standard_NC12s_v3", "Standard_F8s_v2",
	"Standard_E8_v3", "Standard_DS3_v2",
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static azml_router_t *_router(int n)
{
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	azml_conf_t *c;

	fputs("ClusterName=bench\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	      "ResourceGroup=rg\nLocation=eastus\n", fp);
	for (int i = 0; i < n; i++)
		fprintf(fp, "ComputeCluster=c%04d VmSize=%s MaxNodes=16%s%s\n", i,
			/* every target its own size for the first 8, then the
			 * size's name gets a distinct target per cluster */
			sizes[i % NSIZES], i % 3 ? "" : " Priority=LowPriority",
			strstr(sizes[i % NSIZES], "NC") ? " QuotaApproved=yes" : "");
	fclose(fp);
	c = azml_conf_load_string(text, "bench.conf");
	free(text);
	if (c->nerrors) {
		fprintf(stderr, "%s\n", c->errors[0]);
		exit(1);
	}
	return azml_router_create(c);
}

static int _cmp(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

static double _now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(void)
{
	static const int counts[] = { 10, 100, 1000 };
	static double per[BATCHES];
	char out[16384], name[16];

	printf("%-8s %-34s %12s %12s\n", "targets", "request", "median ns", "p99 ns");
	for (size_t k = 0; k < 3; k++) {
		int n = counts[k];
		azml_router_t *r = _router(n);
		azml_route_req_t reqs[4];

		snprintf(name, sizeof(name), "c%04d", n - 1);
		memset(reqs, 0, sizeof(reqs));
		reqs[0].compute = name;
		reqs[1].vm_size = "standard_nc6s_v3";
		reqs[1].priority = "low";
		reqs[2].compute = name;
		reqs[2].partition = name;
		reqs[2].cuda = "11.0";
		reqs[3].compute = "no-such-target";	/* the error path */
		const char *label[4] = {
			"--azure-compute", "--azure-vm-size --azure-priority",
			"--azure-compute -p --azure-cuda", "unknown target (error)",
		};
		for (int q = 0; q < 4; q++) {
			volatile int sink = 0;

			for (int b = 0; b < BATCHES; b++) {
				double t0 = _now();

				for (int i = 0; i < BATCH; i++)
					sink += azml_route(r, &reqs[q], out, sizeof(out));
				per[b] = (_now() - t0) / BATCH;
			}
			(void) sink;
			qsort(per, BATCHES, sizeof(double), _cmp);
			printf("%-8d %-34s %12.0f %12.0f\n", n, label[q],
			       per[BATCHES / 2], per[BATCHES * 99 / 100]);
		}
		azml_router_destroy(r);
	}
	printf("\nEach VM size is shared by targets/8 clusters, so the answer "
	       "to --azure-vm-size\nlists that many partitions; lookups are "
	       "hashed, the answer is copied.\n");
	return 0;
}

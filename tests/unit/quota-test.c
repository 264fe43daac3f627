/*
 * quota-test.c - what fits in the compute quota (shared/quota.c): which
 * quotas a target counts against, the one that binds, takes that lower
 * what is free and take nothing when a job does not fit, and the edges
 * (unlisted quotas, use above the limit, counts that would overflow).
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quota.h"
#include "testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Standard_D2s_v3: 2 vCPUs, standardDSv3Family; Standard_NC6s_v3: 6 vCPUs,
 * standardNCSv3Family. */
static azml_conf_t *conf;
static const azml_target_t *cpu, *spot, *gpu, *dev, *lab;

static void _setup(void)
{
	conf = azml_conf_load_string(
		"ClusterName=t\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=4\n"
		"ComputeCluster=spot VmSize=Standard_D2s_v3 MaxNodes=8 "
		"Priority=LowPriority\n"
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=4 "
		"QuotaApproved=yes\n"
		"ComputeInstance=dev VmSize=Standard_D2s_v3\n"
		"AttachedCompute=lab Nodes=lab[01-02] Gres=gpu:a100:4\n",
		"quota.conf");
	ck_assert_ptr_nonnull(conf);
	for (size_t i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	ck_assert_int_eq(conf->nerrors, 0);
	cpu = azml_conf_find_target(conf, "cpu");
	spot = azml_conf_find_target(conf, "spot");
	gpu = azml_conf_find_target(conf, "gpu");
	dev = azml_conf_find_target(conf, "dev");
	lab = azml_conf_find_target(conf, "lab");
	ck_assert(cpu && spot && gpu && dev && lab);
	ck_assert_int_eq(cpu->size.vcpus, 2);
	ck_assert_int_eq(gpu->size.vcpus, 6);
}

static void _teardown(void)
{
	azml_conf_destroy(conf);
	conf = NULL;
}

static azml_usage_t _u(const char *name, long current, long limit)
{
	azml_usage_t u = { .current = current, .limit = limit };

	snprintf(u.name, sizeof(u.name), "%s", name);
	return u;
}

/* azml_quota_nodes_fit, with *B cleared first. */
static long _fit(const azml_quota_t *q, const azml_target_t *t,
		 azml_quota_bound_t *b)
{
	memset(b, 0, sizeof(*b));
	return azml_quota_nodes_fit(q, t, b);
}

START_TEST(test_family_names)
{
	ck_assert_str_eq(azml_quota_family(cpu), "standardDSv3Family");
	ck_assert_str_eq(azml_quota_family(gpu), "standardNCSv3Family");
	ck_assert_ptr_null(azml_quota_family(lab));	/* no VM size */
	ck_assert_ptr_null(azml_quota_family(NULL));
}
END_TEST

/* A dedicated VM counts against its family and "cores": the smaller binds. */
START_TEST(test_dedicated_family_and_cores)
{
	azml_usage_t u[] = {
		_u("cores", 0, 100),
		_u("standardDSv3Family", 4, 10),
		_u("lowPriorityCores", 0, 0),
		_u("standardNCSv3Family", 0, 24),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(_fit(q, cpu, &b), 3);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(b.limit, 10);
	ck_assert_int_eq(b.used, 4);
	ck_assert_int_eq(b.free, 6);
	ck_assert_int_eq(_fit(q, dev, &b), 3);	/* an instance: the same */
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(_fit(q, gpu, &b), 4);	/* 24 / 6 */
	ck_assert_str_eq(b.name, "standardNCSv3Family");
	ck_assert_int_eq(azml_quota_nodes_fit(q, cpu, NULL), 3);
	azml_quota_free(q);

	/* the regional total is the smaller one now */
	u[0] = _u("cores", 95, 100);
	q = azml_quota_new(u, N(u));
	ck_assert_int_eq(_fit(q, cpu, &b), 2);
	ck_assert_str_eq(b.name, "cores");
	ck_assert_int_eq(b.limit, 100);
	ck_assert_int_eq(b.used, 95);
	ck_assert_int_eq(b.free, 5);
	ck_assert_int_eq(_fit(q, gpu, &b), 0);	/* 5 free, 6 a node */
	ck_assert_str_eq(b.name, "cores");
	azml_quota_free(q);

	/* usage names as Azure may spell them: without regard to case */
	u[0] = _u("Cores", 0, 100);
	u[1] = _u("StandardDSv3Family", 0, 4);
	q = azml_quota_new(u, N(u));
	ck_assert_int_eq(_fit(q, cpu, &b), 2);
	ck_assert_str_eq(b.name, "StandardDSv3Family");
	azml_quota_free(q);
}
END_TEST

/* Low priority (Spot) counts against "lowPriorityCores" only. */
START_TEST(test_low_priority_only_its_own)
{
	azml_usage_t u[] = {
		_u("cores", 10, 10),			/* full */
		_u("standardDSv3Family", 10, 10),	/* full */
		_u("lowPriorityCores", 1, 7),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	ck_assert_int_eq(_fit(q, spot, &b), 3);
	ck_assert_str_eq(b.name, "lowPriorityCores");
	ck_assert_int_eq(b.free, 6);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	/* taking Spot vCPUs leaves the dedicated quotas as they were */
	ck_assert_int_eq(azml_quota_take(q, spot, 2, &b), 0);
	ck_assert_int_eq(_fit(q, spot, &b), 1);
	ck_assert_int_eq(b.used, 5);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_int_eq(b.used, 10);
	azml_quota_free(q);

	/* without lowPriorityCores listed, Spot is not checked at all */
	q = azml_quota_new(u, 2);
	ck_assert_int_eq(_fit(q, spot, &b), -1);
	ck_assert_int_eq(azml_quota_take(q, spot, 100, &b), 0);
	azml_quota_free(q);
}
END_TEST

/* A quota the answer does not list is not checked. */
START_TEST(test_unlisted_not_checked)
{
	azml_usage_t u[] = {
		_u("virtualMachines", 0, 25000),
		_u("standardDSv3Family", 0, 4),
	};
	azml_quota_t *q = azml_quota_new(NULL, 0);
	azml_quota_bound_t b;

	/* nothing listed: no limit known, and a take always fits */
	ck_assert_ptr_nonnull(q);
	ck_assert_int_eq(_fit(q, cpu, &b), -1);
	ck_assert_int_eq(_fit(q, spot, &b), -1);
	ck_assert_int_eq(_fit(q, gpu, &b), -1);
	ck_assert_int_eq(azml_quota_take(q, cpu, 1000, &b), 0);
	azml_quota_free(q);

	/* only what is listed binds: DSv3 for cpu, nothing for gpu */
	q = azml_quota_new(u, N(u));
	ck_assert_int_eq(_fit(q, cpu, &b), 2);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(_fit(q, gpu, &b), -1);
	ck_assert_int_eq(azml_quota_take(q, gpu, 1000, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), 2);	/* gpu took nothing */
	/* a target without a VM size, or no table at all */
	ck_assert_int_eq(_fit(q, lab, &b), -1);
	ck_assert_int_eq(azml_quota_take(q, lab, 1, NULL), 0);
	ck_assert_int_eq(azml_quota_nodes_fit(NULL, cpu, NULL), -1);
	ck_assert_int_eq(azml_quota_nodes_fit(q, NULL, NULL), -1);
	ck_assert_int_eq(azml_quota_take(NULL, cpu, 1, NULL), 0);
	azml_quota_free(q);
	azml_quota_free(NULL);
}
END_TEST

/* A job that does not fit takes nothing and names the short quota. */
START_TEST(test_take_short_takes_nothing)
{
	azml_usage_t u[] = {
		_u("cores", 0, 8),
		_u("standardDSv3Family", 4, 10),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	/* 4 nodes need 8 vCPUs: cores has 8, the family 6 */
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(azml_quota_take(q, cpu, 4, &b), -1);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(b.free, 6);
	ck_assert_int_eq(b.limit, 10);
	ck_assert_int_eq(b.used, 4);
	/* nothing was taken, from either quota */
	ck_assert_int_eq(_fit(q, cpu, &b), 3);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(b.used, 4);
	ck_assert_int_eq(azml_quota_take(q, cpu, 3, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_int_eq(b.free, 0);
	azml_quota_free(q);

	/* the family fits, the regional total does not: cores is named,
	 * and the family keeps its vCPUs */
	u[0] = _u("cores", 6, 8);
	u[1] = _u("standardDSv3Family", 0, 10);
	q = azml_quota_new(u, N(u));
	memset(&b, 0, sizeof(b));
	ck_assert_int_eq(azml_quota_take(q, cpu, 2, &b), -1);
	ck_assert_str_eq(b.name, "cores");
	ck_assert_int_eq(b.free, 2);
	ck_assert_int_eq(b.limit, 8);
	ck_assert_int_eq(azml_quota_take(q, cpu, 1, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_str_eq(b.name, "cores");
	/* the table owns a copy: U neither changed nor is read again */
	ck_assert_int_eq(u[0].current, 6);
	u[0] = _u("cores", 0, 100);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	azml_quota_free(q);
}
END_TEST

/* Successive takes lower what is free, across targets of shared quotas. */
START_TEST(test_successive_takes)
{
	azml_usage_t u[] = {
		_u("cores", 0, 20),
		_u("standardDSv3Family", 0, 10),
		_u("standardNCSv3Family", 0, 24),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	ck_assert_int_eq(_fit(q, cpu, &b), 5);
	ck_assert_int_eq(azml_quota_take(q, cpu, 2, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), 3);
	ck_assert_int_eq(b.used, 4);
	ck_assert_int_eq(azml_quota_take(q, dev, 1, NULL), 0);	/* 2 more */
	ck_assert_int_eq(_fit(q, cpu, &b), 2);
	/* cores: 20 - 6 = 14 free now, so gpu fits 2, not 4 */
	ck_assert_int_eq(_fit(q, gpu, &b), 2);
	ck_assert_str_eq(b.name, "cores");
	ck_assert_int_eq(azml_quota_take(q, gpu, 2, NULL), 0);
	ck_assert_int_eq(_fit(q, gpu, &b), 0);
	ck_assert_int_eq(b.free, 2);
	/* 2 cores free: one D2s_v3 more, then nothing */
	ck_assert_int_eq(_fit(q, cpu, &b), 1);
	ck_assert_str_eq(b.name, "cores");
	ck_assert_int_eq(azml_quota_take(q, cpu, 1, NULL), 0);
	ck_assert_int_eq(azml_quota_take(q, cpu, 1, &b), -1);
	ck_assert_str_eq(b.name, "cores");
	ck_assert_int_eq(b.free, 0);
	ck_assert_int_eq(b.used, 20);
	/* no nodes take nothing, and always fit */
	ck_assert_int_eq(azml_quota_take(q, cpu, 0, NULL), 0);
	ck_assert_int_eq(azml_quota_take(q, cpu, -3, NULL), 0);
	azml_quota_free(q);
}
END_TEST

/* Use above the limit (a quota lowered under running VMs) leaves 0 free;
 * a negative use counts as none. */
START_TEST(test_current_above_limit)
{
	azml_usage_t u[] = {
		_u("cores", 0, 100),
		_u("standardDSv3Family", 14, 10),
		_u("lowPriorityCores", -3, 4),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_str_eq(b.name, "standardDSv3Family");
	ck_assert_int_eq(b.free, 0);
	ck_assert_int_eq(b.used, 14);
	ck_assert_int_eq(b.limit, 10);
	ck_assert_int_eq(azml_quota_take(q, cpu, 1, &b), -1);
	ck_assert_int_eq(b.free, 0);
	ck_assert_int_eq(_fit(q, spot, &b), 2);
	ck_assert_int_eq(b.free, 4);
	azml_quota_free(q);

	/* a negative limit: nothing fits */
	u[1] = _u("standardDSv3Family", 0, -1);
	q = azml_quota_new(u, N(u));
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_int_eq(b.free, 0);
	azml_quota_free(q);
}
END_TEST

/* Node counts and limits at the edges of int and long. */
START_TEST(test_huge_counts)
{
	azml_usage_t u[] = {
		_u("cores", 0, LONG_MAX),
		_u("standardDSv3Family", 0, LONG_MAX),
		_u("standardNCSv3Family", 0, 600),
	};
	azml_quota_t *q = azml_quota_new(u, N(u));
	azml_quota_bound_t b;

	ck_assert_int_eq(_fit(q, cpu, &b), LONG_MAX / 2);
	/* INT_MAX nodes of 6 vCPUs do not fit 600: refused, none taken */
	ck_assert_int_eq(azml_quota_take(q, gpu, INT_MAX, &b), -1);
	ck_assert_str_eq(b.name, "standardNCSv3Family");
	ck_assert_int_eq(b.free, 600);
	ck_assert_int_eq(_fit(q, gpu, &b), 100);
	/* INT_MAX nodes of 2 vCPUs fit a LONG_MAX limit: all of them taken */
	ck_assert_int_eq(azml_quota_take(q, cpu, INT_MAX, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), (LONG_MAX - 2L * INT_MAX) / 2);
	ck_assert_int_eq(b.used, 2L * INT_MAX);
	azml_quota_free(q);

	/* a limit just short of what INT_MAX nodes need */
	u[1] = _u("standardDSv3Family", 1, 2L * INT_MAX);
	q = azml_quota_new(u, N(u));
	ck_assert_int_eq(azml_quota_take(q, cpu, INT_MAX, &b), -1);
	ck_assert_int_eq(b.free, 2L * INT_MAX - 1);
	ck_assert_int_eq(azml_quota_take(q, cpu, INT_MAX - 1, NULL), 0);
	ck_assert_int_eq(_fit(q, cpu, &b), 0);
	ck_assert_int_eq(b.free, 1);
	azml_quota_free(q);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("quota");

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_add_test(tc, test_family_names);
	tcase_add_test(tc, test_dedicated_family_and_cores);
	tcase_add_test(tc, test_low_priority_only_its_own);
	tcase_add_test(tc, test_unlisted_not_checked);
	tcase_add_test(tc, test_take_short_takes_nothing);
	tcase_add_test(tc, test_successive_takes);
	tcase_add_test(tc, test_current_above_limit);
	tcase_add_test(tc, test_huge_counts);
	return tu_run("quota", tc);
}

/*
 * metrics-test.c - 'slurm-azureml metrics' text (metrics.h) from made-up
 * nodes, journal, holds, usages and prices: the figures, and promtool's
 * verdict when Debian's prometheus package is installed.  The journal's
 * unhealthy and replaced records round-trip.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "journal.h"
#include "metrics.h"
#include "testutil.h"

#define HEAD "ClusterName=t\n" \
	"SubscriptionId=00000000-0000-0000-0000-000000000000\n" \
	"ResourceGroup=rg\nLocation=eastus\n"

static azml_conf_t *_conf(void)
{
	azml_conf_t *c = tu_conf("test.conf", HEAD
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=4 "
		"QuotaApproved=yes\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=2\n"
		"AttachedCompute=lab Nodes=lab[1-2] Gres=gpu:a100:4 CPUs=8 "
		"RealMemory=1000\n");

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	return c;
}

static void _rec(azml_jrec_t *r, azml_jkind_t k, long at, const char *vm,
		 const char *id, const char *node, const char *target,
		 const char *size, const char *reason)
{
	ck_assert_int_eq(azml_jrec_make(r, k, at, vm, id, node, target, size,
					false, NULL), 0);
	if (reason)
		ck_assert_int_eq(azml_jrec_reason(r, reason), 0);
}

static azml_node_t _node(const char *name, uint32_t state)
{
	azml_node_t n = { .state = state };

	snprintf(n.name, sizeof(n.name), "%s", name);
	return n;
}

START_TEST(exposition)
{
	azml_conf_t *c = _conf();
	azml_jrec_t r[12];
	azml_node_t nodes[5];
	azml_usage_t u[3] = { { "cores", 10, 100 },
			      { "standardNCSv3Family", 6, 24 },
			      { "standardXYZFamily", 0, 10 } };
	azml_prices_t *pr = calloc(1, sizeof(*pr));
	bool held[3] = { false, true, false };
	char *text = NULL, line[128];
	size_t len = 0, n = 0;
	FILE *fp;
	azml_metrics_in_t in;

	/* gpu-1: created, registered after 95 s, replaced for an XID and
	 * deleted; gpu-1 again: a new VM, registered after 40 s; a record
	 * written twice counts once */
	_rec(&r[n++], AZML_J_CREATED, 1000, "t-gpu-1", "id-a", "gpu-1", "gpu",
	     "Standard_NC6s_v3", NULL);
	_rec(&r[n++], AZML_J_REGISTERED, 1095, "t-gpu-1", "id-a", "gpu-1",
	     "gpu", "Standard_NC6s_v3", NULL);
	_rec(&r[n++], AZML_J_UNHEALTHY, 1200, "t-gpu-1", "id-a", "gpu-1",
	     "gpu", "Standard_NC6s_v3", "xid");
	_rec(&r[n++], AZML_J_REPLACED, 1200, "t-gpu-1", "id-a", "gpu-1",
	     "gpu", "Standard_NC6s_v3", "xid");
	r[n] = r[n - 1];
	n++;
	_rec(&r[n++], AZML_J_DELETED, 1300, "t-gpu-1", "id-a", "gpu-1", "gpu",
	     "Standard_NC6s_v3", NULL);
	_rec(&r[n++], AZML_J_CREATED, 1400, "t-gpu-1", "id-b", "gpu-1", "gpu",
	     "Standard_NC6s_v3", NULL);
	_rec(&r[n++], AZML_J_REGISTERED, 1440, "t-gpu-1", "id-b", "gpu-1",
	     "gpu", "Standard_NC6s_v3", NULL);
	/* an attached node drained: no VM */
	_rec(&r[n++], AZML_J_UNHEALTHY, 1500, "lab1", "-", "lab1", "lab",
	     "-", "memory");
	nodes[0] = _node("gpu-1", NODE_STATE_ALLOCATED);
	nodes[1] = _node("gpu-2", NODE_STATE_IDLE | NODE_STATE_POWERED_DOWN);
	nodes[2] = _node("gpu-3", NODE_STATE_IDLE | NODE_STATE_POWERED_DOWN);
	nodes[3] = _node("lab1", NODE_STATE_IDLE | NODE_STATE_DRAIN);
	nodes[4] = _node("other", NODE_STATE_IDLE);
	ck_assert_ptr_nonnull(pr);
	ck_assert_ptr_nonnull(pr->p = calloc(1, sizeof(*pr->p)));
	pr->n = 1;
	snprintf(pr->p[0].size, sizeof(pr->p[0].size), "Standard_NC6s_v3");
	snprintf(pr->p[0].currency, sizeof(pr->p[0].currency), "USD");
	pr->p[0].hourly = 3.06;
	in = (azml_metrics_in_t) { .conf = c, .nodes = nodes, .nnodes = 5,
				   .recs = r, .nrecs = n, .held = held,
				   .usages = u, .nusages = 3, .prices = pr,
				   .now = 2000 };
	ck_assert_ptr_nonnull(fp = open_memstream(&text, &len));
	ck_assert_int_eq(azml_metrics_write(fp, &in), 0);
	fclose(fp);
#define HAS(s) ck_assert_msg(strstr(text, s "\n") != NULL, "no '%s' in:\n%s", s, text)
	HAS("azureml_nodes{target=\"gpu\",state=\"allocated\"} 1");
	HAS("azureml_nodes{target=\"gpu\",state=\"powered_down\"} 2");
	HAS("azureml_nodes{target=\"lab\",state=\"drained\"} 1");
	HAS("azureml_nodes{target=\"cpu\",state=\"idle\"} 0");
	HAS("azureml_vms{target=\"gpu\",size=\"Standard_NC6s_v3\"} 1");
	HAS("azureml_vms{target=\"cpu\",size=\"Standard_D4s_v3\"} 0");
	HAS("azureml_vm_operations_total{target=\"gpu\",operation=\"create\","
	    "result=\"success\"} 2");
	HAS("azureml_vm_operations_total{target=\"gpu\",operation=\"replace\","
	    "result=\"success\"} 1");
	HAS("azureml_vm_operations_total{target=\"gpu\",operation=\"delete\","
	    "result=\"success\"} 1");
	HAS("azureml_health_failures_total{target=\"gpu\",check=\"xid\"} 1");
	HAS("azureml_health_failures_total{target=\"lab\",check=\"memory\"} 1");
	HAS("azureml_capacity_hold{target=\"cpu\"} 1");
	HAS("azureml_capacity_hold{target=\"gpu\"} 0");
	HAS("azureml_quota_free_vcpus{family=\"standardNCSv3Family\"} 18");
	HAS("azureml_quota_free_vcpus{family=\"cores\"} 90");
	ck_assert_ptr_null(strstr(text, "standardXYZFamily"));
	HAS("azureml_cost_usd_per_hour{target=\"gpu\"} 3.0600");
	HAS("azureml_boot_seconds_bucket{target=\"gpu\",le=\"60\"} 1");
	HAS("azureml_boot_seconds_bucket{target=\"gpu\",le=\"120\"} 2");
	HAS("azureml_boot_seconds_sum{target=\"gpu\"} 135");
	HAS("azureml_boot_seconds_count{target=\"gpu\"} 2");
	/* promtool, where Debian's prometheus package is installed */
	if (access("/usr/bin/promtool", X_OK) == 0) {
		char path[] = "/tmp/azml-metrics-XXXXXX", cmd[256];
		int fd = mkstemp(path);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
		close(fd);
		snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics "
			 "< %s", path);
		ck_assert_int_eq(system(cmd), 0);
		unlink(path);
	}
	free(text);
	azml_prices_free(pr);
	free(pr);
	azml_conf_destroy(c);
	(void) line;
}
END_TEST

START_TEST(journal_reason_round_trip)
{
	azml_jrec_t r, back;
	char line[AZML_JLINE];

	_rec(&r, AZML_J_REPLACED, 1200, "t-gpu-1", "id-a", "gpu-1", "gpu",
	     "Standard_NC6s_v3", "xid");
	azml_jrec_format(&r, line, sizeof(line));
	ck_assert_str_eq(line, "1200 replaced vm=t-gpu-1 id=id-a node=gpu-1 "
			 "target=gpu size=Standard_NC6s_v3 prio=dedicated "
			 "zone=- reason=xid\n");
	line[strlen(line) - 1] = '\0';
	ck_assert_int_eq(azml_jrec_parse(line, &back), 0);
	ck_assert_str_eq(back.reason, "xid");
	/* reason= only on the kinds that have one */
	ck_assert_int_eq(azml_jrec_parse("1200 deleted vm=a id=b node=c "
					 "target=d size=e prio=dedicated "
					 "zone=- reason=xid", &back), -1);
	ck_assert_int_eq(azml_jrec_parse("1200 replaced vm=a id=b node=c "
					 "target=d size=e prio=dedicated "
					 "zone=- reason=x y", &back), -1);
	ck_assert_int_eq(azml_jrec_reason(&r, "a/b"), -1);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("metrics");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, exposition);
	tcase_add_test(tc, journal_reason_round_trip);
	return tu_run("metrics", tc);
}

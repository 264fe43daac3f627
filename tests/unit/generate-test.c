/*
 * generate-test.c - the slurm.conf and gres.conf lines generated from
 * azureml.conf (that slurmctld accepts them is a system test).
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "generate.h"
#include "testutil.h"

static const char *conf_text =
	"ClusterName=t\n"
	"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MinNodes=2 MaxNodes=8 "
	"IdleSecondsBeforeScaledown=300 QuotaApproved=yes\n"
	"ComputeCluster=a100 VmSize=Standard_ND96asr_v4 MaxNodes=1 QuotaApproved=yes\n"
	"ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=64 MinNodes=1 "
	"Priority=LowPriority\n"
	"ComputeInstance=dev-box VmSize=Standard_DS3_v2\n"
	"AttachedCompute=lab Nodes=lab[01-04] Gres=gpu:a100:4 CPUs=64 RealMemory=500000\n";

static azml_conf_t *_conf(void)
{
	azml_conf_t *c = azml_conf_load_string(conf_text, "gen.conf");

	ck_assert_int_eq(c->nerrors, 0);
	return c;
}

static void _has_line(const char *text, const char *line)
{
	const char *p = text;
	size_t n = strlen(line);

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || !p[n]))
			return;
		p++;
	}
	ck_abort_msg("missing line: %s\nin:\n%s", line, text);
}

START_TEST(slurm_conf_lines)
{
	azml_conf_t *c = _conf();
	azml_generate_opts_t o = { .program_dir = "/opt/azml/libexec" };
	char *out = azml_generate_slurm_conf(c, &o);

	_has_line(out, "ResumeProgram=/opt/azml/libexec/slurm-azureml-resume");
	_has_line(out, "SuspendProgram=/opt/azml/libexec/slurm-azureml-suspend");
	_has_line(out, "ResumeFailProgram=/opt/azml/libexec/slurm-azureml-resume-fail");
	_has_line(out, "GresTypes=gpu");
	_has_line(out, "SuspendExcParts=dev-box,lab");
	_has_line(out, "SuspendExcNodes=gpu-v100-[1-8]:2,cpu-spot-[1-64]:1");
	/* 112 GiB published, 95% of it */
	_has_line(out, "NodeName=gpu-v100-[1-8] CPUs=6 RealMemory=108953 "
		  "Gres=gpu:v100:1 Feature=azureml,gpu-v100,Standard_NC6s_v3,"
		  "NCv3,Volta,dedicated State=CLOUD");
	_has_line(out, "PartitionName=gpu-v100 Nodes=gpu-v100-[1-8] "
		  "SuspendTime=300 MaxTime=INFINITE State=UP");
	_has_line(out, "NodeName=a100-1 CPUs=96 RealMemory=875520 "
		  "Gres=gpu:a100:8 Feature=azureml,a100,Standard_ND96asr_v4,"
		  "NDasrA100_v4,Ampere,dedicated State=CLOUD");
	_has_line(out, "NodeName=cpu-spot-[1-64] CPUs=4 RealMemory=15564 "
		  "Feature=azureml,cpu-spot,Standard_D4s_v3,DSv3,lowpriority "
		  "State=CLOUD");
	_has_line(out, "PartitionName=cpu-spot Nodes=cpu-spot-[1-64] "
		  "SuspendTime=120 MaxTime=INFINITE State=UP");
	_has_line(out, "PartitionName=dev-box Nodes=dev-box SuspendTime=INFINITE "
		  "MaxTime=INFINITE State=UP");
	_has_line(out, "NodeName=lab[01-04] CPUs=64 RealMemory=500000 "
		  "Gres=gpu:a100:4 Feature=azureml,lab,attached State=FUTURE");
	free(out);
	azml_conf_destroy(c);
}
END_TEST

/* 24.11 and later: attached nodes are dynamic nodes.  No FUTURE slot; the
 * partition takes them by their feature; MaxNodeCount leaves room. */
START_TEST(dynamic_attach_lines)
{
	azml_conf_t *c = _conf();
	azml_generate_opts_t o = { .program_dir = "/opt/azml/libexec",
				   .dynamic_attach = true };
	char *out = azml_generate_slurm_conf(c, &o), *line;

	ck_assert_ptr_null(strstr(out, "NodeName=lab"));
	ck_assert_ptr_null(strstr(out, "FUTURE"));
	_has_line(out, "NodeSet=lab-nodes Feature=lab");
	_has_line(out, "PartitionName=lab Nodes=lab-nodes SuspendTime=INFINITE "
		  "MaxTime=INFINITE State=UP");
	/* 8 + 1 + 64 + 1 + 4 */
	_has_line(out, "MaxNodeCount=78");
	_has_line(out, "SuspendExcParts=dev-box,lab");
	/* the other targets as before */
	_has_line(out, "PartitionName=cpu-spot Nodes=cpu-spot-[1-64] "
		  "SuspendTime=120 MaxTime=INFINITE State=UP");
	free(out);

	/* what 'attach --accept' creates: the slot's line, with its address */
	line = azml_generate_attached_node(azml_conf_target_of_node(c, "lab02"),
					   "lab02", "10.1.2.3", "gpu-box");
	ck_assert_str_eq(line, "NodeName=lab02 NodeAddr=10.1.2.3 "
			 "NodeHostname=gpu-box CPUs=64 RealMemory=500000 "
			 "Gres=gpu:a100:4 Feature=azureml,lab,attached "
			 "State=FUTURE");
	free(line);
	line = azml_generate_attached_node(azml_conf_target_of_node(c, "lab01"),
					   "lab01", "10.1.2.4", NULL);
	ck_assert_ptr_nonnull(strstr(line, "NodeAddr=10.1.2.4 NodeHostname=10.1.2.4 "));
	free(line);

	/* without attached targets, no MaxNodeCount */
	azml_conf_destroy(c);
	c = azml_conf_load_string("ClusterName=t\nSubscriptionId=00000000-0000-"
				  "0000-0000-000000000000\nResourceGroup=rg\n"
				  "Location=eastus\nComputeInstance=box VmSize="
				  "Standard_DS3_v2\n", "g.conf");
	ck_assert_int_eq(c->nerrors, 0);
	out = azml_generate_slurm_conf(c, &o);
	ck_assert_ptr_null(strstr(out, "MaxNodeCount"));
	free(out);
	azml_conf_destroy(c);
}
END_TEST

/* Which controller takes dynamic nodes: 24.11 and later, read from the
 * version string slurmctld reports. */
START_TEST(dynamic_attach_versions)
{
	ck_assert(!azml_slurm_dynamic_attach("22.05.8"));
	ck_assert(!azml_slurm_dynamic_attach("23.11.10"));
	ck_assert(!azml_slurm_dynamic_attach("24.05.4"));
	ck_assert(azml_slurm_dynamic_attach("24.11.5"));
	ck_assert(azml_slurm_dynamic_attach("24.11"));
	ck_assert(azml_slurm_dynamic_attach("25.05.0-0rc1"));
	ck_assert(azml_slurm_dynamic_attach("26.05.5"));
	ck_assert(azml_slurm_dynamic_attach("100.1.0"));
	ck_assert(!azml_slurm_dynamic_attach(NULL));
	ck_assert(!azml_slurm_dynamic_attach(""));
	ck_assert(!azml_slurm_dynamic_attach("24"));
	ck_assert(!azml_slurm_dynamic_attach("x24.11"));
	ck_assert(!azml_slurm_dynamic_attach("-25.05"));
}
END_TEST

/* slurm.conf text in a temporary file; its path (static). */
static const char *_slurm_conf(const char *text)
{
	static char path[64];
	FILE *fp;
	int fd;

	snprintf(path, sizeof(path), "/tmp/azml-gen-test.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	fputs(text, fp);
	fclose(fp);
	return path;
}

/* enable_configless: added when slurm.conf has no SlurmctldParameters of
 * its own (Slurm keeps only the last such line), else left to the admin. */
START_TEST(configless)
{
	azml_conf_t *c = _conf();
	azml_generate_opts_t o = { 0 };
	char *out, *value = NULL, *advice;
	const char *path;
	int line = 0;

	out = azml_generate_slurm_conf(c, &o);	/* no slurm.conf to look at */
	_has_line(out, "SlurmctldParameters=enable_configless");
	free(out);

	o.slurm_conf = _slurm_conf("ClusterName=x\nSlurmctldHost=ctl\n");
	out = azml_generate_slurm_conf(c, &o);
	_has_line(out, "SlurmctldParameters=enable_configless");
	ck_assert_ptr_null(azml_configless_advice(o.slurm_conf));
	free(out);
	unlink(o.slurm_conf);

	/* the admin's own line, without it: not overridden, said */
	path = o.slurm_conf = _slurm_conf("ClusterName=x # c\n# SlurmctldParameters=no\n"
		"  slurmctldparameters=idle_on_node_suspend,power_save_interval=1 "
		"SchedulerType=sched/backfill\n");
	ck_assert_int_eq(azml_slurm_conf_param(path, "SlurmctldParameters",
					       &value, &line), 1);
	ck_assert_str_eq(value, "idle_on_node_suspend,power_save_interval=1");
	ck_assert_int_eq(line, 3);
	free(value);
	out = azml_generate_slurm_conf(c, &o);
	ck_assert_ptr_null(strstr(out, "\nSlurmctldParameters="));
	ck_assert_ptr_nonnull(strstr(out, "# NOT SET HERE: "));
	ck_assert_ptr_nonnull(strstr(out, ":3 has its own SlurmctldParameters"));
	advice = azml_configless_advice(path);
	ck_assert_ptr_nonnull(advice);
	ck_assert_ptr_nonnull(strstr(advice, ":3: warning: SlurmctldParameters="
				     "idle_on_node_suspend,power_save_interval=1 "
				     "lacks enable_configless"));
	free(advice);
	free(out);
	unlink(path);

	/* the admin's own line, with it: nothing to add, nothing to say */
	path = o.slurm_conf = _slurm_conf("SlurmctldParameters=\"enable_configless,"
					  "idle_on_node_suspend\"\n");
	out = azml_generate_slurm_conf(c, &o);
	ck_assert_ptr_null(strstr(out, "\nSlurmctldParameters="));
	ck_assert_ptr_nonnull(strstr(out, ":1 has enable_configless"));
	ck_assert_ptr_null(azml_configless_advice(path));
	free(out);
	unlink(path);
	ck_assert_int_eq(azml_slurm_conf_param("/nonexistent/slurm.conf",
					       "SlurmctldParameters", &value,
					       &line), -1);
	azml_conf_destroy(c);
}
END_TEST

START_TEST(isolated_feature)
{
	azml_conf_t *c = azml_conf_load_string(
		"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"ComputeCluster=iso VmSize=Standard_F72s_v2 MaxNodes=2\n", "i.conf");
	char *out;

	ck_assert_int_eq(c->nerrors, 0);
	out = azml_generate_slurm_conf(c, NULL);
	ck_assert_ptr_nonnull(strstr(out, ",FSv2,isolated,dedicated State=CLOUD"));
	ck_assert_ptr_null(strstr(out, "GresTypes"));
	ck_assert_ptr_null(strstr(out, "SuspendExcNodes"));
	ck_assert_ptr_null(strstr(out, "SuspendExcParts"));
	free(out);
	azml_conf_destroy(c);
}
END_TEST

/* An instance mix: the node gets the smallest vCPUs and memory (here of
 * two different sizes), a feature for each size and for each series once,
 * and the GPUs its sizes share (check-config refuses any other mix). */
START_TEST(mix_node_line)
{
	azml_conf_t *c = azml_conf_load_string(
		"ClusterName=t\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"ComputeCluster=mx VmSize=Standard_F8s_v2,Standard_E4_v3,"
		"Standard_D8s_v3,Standard_D4s_v3 MaxNodes=4\n"
		"ComputeCluster=t4 VmSize=Standard_NC16as_T4_v3,"
		"Standard_NC8as_T4_v3 MaxNodes=2 QuotaApproved=yes\n"
		"ComputeCluster=m60 VmSize=standard_nv12s_v3,standard_nv6 "
		"MaxNodes=2 QuotaApproved=yes Priority=LowPriority\n",
		"gen.conf");
	azml_generate_opts_t o = { .program_dir = "/x" };
	char *out, *gres;

	ck_assert_int_eq(c->nerrors, 0);
	out = azml_generate_slurm_conf(c, &o);
	/* E4_v3: 4 vCPUs; F8s_v2: 16 GiB (95% of it); D8s_v3 and D4s_v3
	 * are one series, named once */
	_has_line(out, "NodeName=mx-[1-4] CPUs=4 RealMemory=15564 "
		  "Feature=azureml,mx,Standard_F8s_v2,Standard_E4_v3,"
		  "Standard_D8s_v3,Standard_D4s_v3,FSv2,Ev3,DSv3,dedicated "
		  "State=CLOUD");
	/* NC8as_T4_v3: 8 vCPUs, 56 GiB; the one T4 both have */
	_has_line(out, "NodeName=t4-[1-2] CPUs=8 RealMemory=54476 "
		  "Gres=gpu:t4:1 Feature=azureml,t4,Standard_NC16as_T4_v3,"
		  "Standard_NC8as_T4_v3,NCasT4_v3,Turing,dedicated State=CLOUD");
	/* two series, one architecture (M60) */
	_has_line(out, "NodeName=m60-[1-2] CPUs=6 RealMemory=54476 "
		  "Gres=gpu:m60:1 Feature=azureml,m60,Standard_NV12s_v3,"
		  "Standard_NV6,NVv3,NV,Maxwell,lowpriority State=CLOUD");
	gres = azml_generate_gres_conf(c);
	_has_line(gres, "NodeName=t4-[1-2] Name=gpu Type=t4 File=/dev/nvidia0");
	free(gres);
	free(out);
	azml_conf_destroy(c);
}
END_TEST

START_TEST(gres_conf_lines)
{
	azml_conf_t *c = _conf();
	char *out = azml_generate_gres_conf(c);

	_has_line(out, "NodeName=gpu-v100-[1-8] Name=gpu Type=v100 File=/dev/nvidia0");
	_has_line(out, "NodeName=a100-1 Name=gpu Type=a100 File=/dev/nvidia[0-7]");
	_has_line(out, "NodeName=lab[01-04] Name=gpu Type=a100 File=/dev/nvidia[0-3]");
	ck_assert_ptr_null(strstr(out, "cpu-spot"));
	free(out);
	azml_conf_destroy(c);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("generate");

	tcase_add_test(tc, slurm_conf_lines);
	tcase_add_test(tc, dynamic_attach_lines);
	tcase_add_test(tc, dynamic_attach_versions);
	tcase_add_test(tc, configless);
	tcase_add_test(tc, isolated_feature);
	tcase_add_test(tc, mix_node_line);
	tcase_add_test(tc, gres_conf_lines);
	return tu_run("generate", tc);
}

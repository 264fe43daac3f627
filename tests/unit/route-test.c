/*
 * route-test.c - every routing rule and every error message.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "route.h"
#include "testutil.h"

static const char *conf_text =
	"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MaxNodes=8 QuotaApproved=yes\n"
	"ComputeCluster=gpu-v100-low VmSize=Standard_NC6s_v3 MaxNodes=8 "
	"Priority=LowPriority QuotaApproved=yes\n"
	"ComputeCluster=gpu-k80 VmSize=Standard_NC6 MaxNodes=2\n"
	"ComputeCluster=iso VmSize=Standard_NC24rs_v3 MaxNodes=2 QuotaApproved=yes\n"
	"ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=64 Priority=LowPriority\n"
	"ComputeInstance=dev-box VmSize=Standard_DS3_v2\n"
	"AttachedCompute=lab-a100 Nodes=lab[01-04] Gres=gpu:a100:4\n";

static azml_router_t *r;
static char out[4096];

static void setup(void)
{
	azml_conf_t *c = azml_conf_load_string(conf_text, "route.conf");

	ck_assert_int_eq(c->nerrors, 0);
	r = azml_router_create(c);
	ck_assert_ptr_nonnull(r);
}

static void teardown(void)
{
	azml_router_destroy(r);
}

#define ROUTE(...) azml_route(r, &(azml_route_req_t){ __VA_ARGS__ }, out, sizeof(out))

static void _ok(azml_route_rc_t rc, const char *want)
{
	ck_assert_msg(rc == AZML_ROUTE_OK, "rc %d: %s", rc, out);
	ck_assert_str_eq(out, want);
}

static void _err(azml_route_rc_t rc, const char *want)
{
	ck_assert_msg(rc == AZML_ROUTE_ERROR, "rc %d: %s", rc, out);
	ck_assert_msg(!strncmp(out, want, strlen(want)), "got: %s\nwant: %s",
		      out, want);
}

START_TEST(no_flag_leaves_job)
{
	ck_assert_int_eq(ROUTE(.partition = "debug"), AZML_ROUTE_NONE);
	ck_assert_int_eq(ROUTE(.wants_gpu = true), AZML_ROUTE_NONE);
	/* a target without fallbacks: nothing to add */
	ck_assert_int_eq(ROUTE(.partition = "gpu-v100"), AZML_ROUTE_NONE);
	ck_assert_str_eq(out, "");
}
END_TEST

START_TEST(compute_names_one_target)
{
	_ok(ROUTE(.compute = "gpu-v100"), "gpu-v100");
	_ok(ROUTE(.compute = "DEV-BOX"), "dev-box");
	_ok(ROUTE(.compute = "lab-a100", .wants_gpu = true), "lab-a100");
	_err(ROUTE(.compute = "nope"), "azureml: no compute target 'nope'; "
	     "available: gpu-v100 (Standard_NC6s_v3), gpu-v100-low "
	     "(Standard_NC6s_v3, low priority), gpu-k80 (Standard_NC6), iso "
	     "(Standard_NC24rs_v3), cpu-spot (Standard_D4s_v3, low priority), "
	     "dev-box (Standard_DS3_v2, instance), lab-a100 (attached, Ampere)");
}
END_TEST

START_TEST(vm_size_matches_every_cluster)
{
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3"), "gpu-v100,gpu-v100-low");
	_ok(ROUTE(.vm_size = "standard_nc6s_v3"), "gpu-v100,gpu-v100-low");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .priority = "low"), "gpu-v100-low");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .priority = "DEDICATED"), "gpu-v100");
	_err(ROUTE(.vm_size = "Standard_ND96asr_v4"),
	     "azureml: no compute target offers VM size 'Standard_ND96asr_v4'; "
	     "available: gpu-v100 (Standard_NC6s_v3), gpu-v100-low "
	     "(Standard_NC6s_v3, low priority), gpu-k80 (Standard_NC6), iso "
	     "(Standard_NC24rs_v3), cpu-spot (Standard_D4s_v3, low priority)");
	/* an instance's size is not a cluster's */
	_err(ROUTE(.vm_size = "Standard_DS3_v2"),
	     "azureml: no compute target offers VM size 'Standard_DS3_v2'");
}
END_TEST

START_TEST(priority_filter)
{
	_ok(ROUTE(.priority = "low"), "gpu-v100-low,cpu-spot");
	_ok(ROUTE(.priority = "dedicated"), "gpu-v100,gpu-k80,iso,dev-box,lab-a100");
	_err(ROUTE(.compute = "cpu-spot", .priority = "dedicated"),
	     "azureml: compute target 'cpu-spot' is low priority, not dedicated");
	_err(ROUTE(.compute = "gpu-v100", .priority = "low"),
	     "azureml: compute target 'gpu-v100' is dedicated, not low priority");
	_err(ROUTE(.vm_size = "Standard_NC6", .priority = "low"),
	     "azureml: compute target 'gpu-k80' is dedicated, not low priority");
}
END_TEST

START_TEST(cuda_filter)
{
	_ok(ROUTE(.cuda = "9.0"), "gpu-v100,gpu-v100-low,gpu-k80,iso");
	_ok(ROUTE(.cuda = "11.0"), "gpu-v100,gpu-v100-low,gpu-k80,iso,lab-a100");
	_ok(ROUTE(.cuda = "12.2"), "gpu-v100,gpu-v100-low,iso,lab-a100");
	_ok(ROUTE(.cuda = "12", .priority = "low"), "gpu-v100-low");
	_err(ROUTE(.cuda = "8.0"), "azureml: no compute target matches "
	     "--azure-cuda=8.0; available: gpu-v100 (Standard_NC6s_v3)");
	_err(ROUTE(.compute = "gpu-k80", .cuda = "12.0"),
	     "azureml: compute target 'gpu-k80' has Kepler GPUs, which support "
	     "CUDA 9.0 to 11.8, not 12.0");
	_err(ROUTE(.compute = "cpu-spot", .cuda = "11.8"),
	     "azureml: compute target 'cpu-spot' has no GPU that CUDA 11.8 could use");
	_err(ROUTE(.compute = "gpu-v100", .cuda = "8.0"),
	     "azureml: compute target 'gpu-v100' has Volta GPUs, which support "
	     "CUDA 9.0 and later, not 8.0");
}
END_TEST

START_TEST(isolated_filter)
{
	_ok(ROUTE(.isolated = true), "iso");
	_ok(ROUTE(.isolated = true, .cuda = "10.0"), "iso");
	_err(ROUTE(.isolated = true, .priority = "low"),
	     "azureml: no compute target matches --azure-priority=low "
	     "--azure-isolated; available:");
	_err(ROUTE(.compute = "gpu-v100", .isolated = true),
	     "azureml: compute target 'gpu-v100' (Standard_NC6s_v3) is not an "
	     "isolated VM size");
}
END_TEST

START_TEST(partition_intersected)
{
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .partition = "gpu-v100-low,debug"),
	    "gpu-v100-low");
	_ok(ROUTE(.compute = "gpu-v100", .partition = "gpu-v100"), "gpu-v100");
	_err(ROUTE(.compute = "gpu-v100", .partition = "cpu-spot"),
	     "azureml: --azure-compute=gpu-v100 selects 'gpu-v100', which "
	     "conflicts with --partition=cpu-spot");
	_err(ROUTE(.vm_size = "Standard_NC6", .partition = "cpu-spot"),
	     "azureml: --azure-vm-size=Standard_NC6 selects 'gpu-k80', which "
	     "conflicts with --partition=cpu-spot");
	_err(ROUTE(.vm_size = "Standard_NC6s_v3", .partition = "cpu-spot"),
	     "azureml: no compute target matches --azure-vm-size=Standard_NC6s_v3 "
	     "--partition=cpu-spot");
	_ok(ROUTE(.priority = "low", .partition = "cpu-spot"), "cpu-spot");
}
END_TEST

START_TEST(gpus_need_gpu_target)
{
	_err(ROUTE(.compute = "cpu-spot", .wants_gpu = true),
	     "azureml: compute target 'cpu-spot' (Standard_D4s_v3) has no GPU, "
	     "but the job asks for GPUs (--gpus/--gres=gpu)");
	_ok(ROUTE(.priority = "low", .wants_gpu = true), "gpu-v100-low");
	_err(ROUTE(.vm_size = "Standard_D4s_v3", .wants_gpu = true),
	     "azureml: compute target 'cpu-spot' (Standard_D4s_v3) has no GPU");
}
END_TEST

START_TEST(compute_and_size_disagree)
{
	_ok(ROUTE(.compute = "gpu-v100", .vm_size = "standard_NC6S_v3"), "gpu-v100");
	_err(ROUTE(.compute = "gpu-v100", .vm_size = "Standard_NC6"),
	     "azureml: compute target 'gpu-v100' has VM size Standard_NC6s_v3, "
	     "not Standard_NC6");
}
END_TEST

/* Bad values: each gets its message, before any lookup. */
static const struct { azml_route_req_t req; const char *msg; } bad[] = {
	{ { .priority = "x" }, "azureml: --azure-priority: expected dedicated or low, got 'x'" },
	{ { .priority = "" }, "azureml: --azure-priority: expected dedicated or low, got ''" },
	{ { .cuda = "eleven" }, "azureml: --azure-cuda: expected a CUDA version like 11.8, got 'eleven'" },
	{ { .cuda = "11.8.0" }, "azureml: --azure-cuda: expected a CUDA version like 11.8, got '11.8.0'" },
	{ { .compute = "" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got ''" },
	{ { .compute = "a,b" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got 'a,b'" },
	{ { .compute = "../x" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got '../x'" },
	{ { .compute = "a b" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got 'a b'" },
	{ { .compute = "gpu=1" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got 'gpu=1'" },
	{ { .compute = "caf\xc3\xa9" }, "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got 'caf\\xc3\\xa9'" },
	{ { .vm_size = "Standard_NC6s_v3/../x" }, "azureml: --azure-vm-size: expected a VM size like Standard_NC6s_v3, got 'Standard_NC6s_v3/../x'" },
	{ { .vm_size = "" }, "azureml: --azure-vm-size: expected a VM size like Standard_NC6s_v3, got ''" },
};

START_TEST(bad_values)
{
	_err(azml_route(r, &bad[_i].req, out, sizeof(out)), bad[_i].msg);
}
END_TEST

START_TEST(long_values_and_small_buffers)
{
	char big[5000];
	char small[16];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	_err(ROUTE(.compute = big), "azureml: --azure-compute: expected a compute "
	     "target name (letters, digits, '-'), got 'aaaa");
	ck_assert_ptr_nonnull(strstr(out, "...'"));
	ck_assert_int_lt(strlen(out), 300);
	ck_assert_int_eq(azml_route(r, &(azml_route_req_t){ .compute = "nope" },
				    small, sizeof(small)), AZML_ROUTE_ERROR);
	ck_assert_int_eq(strlen(small), sizeof(small) - 1);
	ck_assert_int_eq(azml_route(r, &(azml_route_req_t){ .priority = "low" },
				    small, 5), AZML_ROUTE_ERROR);
	/* "gpu-v100,gpu-v100-low" does not fit in 16 bytes: never a list
	 * cut short that names a partition that does not exist */
	ck_assert_int_eq(azml_route(r, &(azml_route_req_t){
			 .vm_size = "Standard_NC6s_v3" }, small, sizeof(small)),
			 AZML_ROUTE_ERROR);
	ck_assert_int_eq(strncmp(small, "azureml: ", 9), 0);
}
END_TEST

START_TEST(option_syntax)
{
	char msg[256];

	ck_assert_int_eq(azml_route_check_option("azure-priority", "Low", msg, sizeof(msg)), 0);
	ck_assert_int_eq(azml_route_check_option("azure-cuda", "12", msg, sizeof(msg)), 0);
	ck_assert_int_eq(azml_route_check_option("azure-isolated", "", msg, sizeof(msg)), 0);
	ck_assert_int_eq(azml_route_check_option("azure-isolated", "yes", msg, sizeof(msg)), -1);
	ck_assert_str_eq(msg, "azureml: --azure-isolated takes no value, got 'yes'");
	ck_assert_int_eq(azml_route_check_option("azure-foo", "x", msg, sizeof(msg)), -1);
}
END_TEST

/* 1000 targets: sizes shared by many clusters, names found by hash. */
START_TEST(many_targets)
{
	char *text = NULL, line[200];
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	azml_router_t *big;
	azml_conf_t *c;

	fputs("ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	      "ResourceGroup=rg\nLocation=eastus\n", fp);
	for (int i = 0; i < 1000; i++) {
		snprintf(line, sizeof(line), "ComputeCluster=c%04d VmSize=%s "
			 "MaxNodes=4%s\n", i, i % 2 ? "Standard_D4s_v3" :
			 "Standard_D2s_v3", i % 3 ? "" : " Priority=LowPriority");
		fputs(line, fp);
	}
	fclose(fp);
	c = azml_conf_load_string(text, "big.conf");
	free(text);
	ck_assert_int_eq(c->nerrors, 0);
	big = azml_router_create(c);
	ck_assert_int_eq(azml_route(big, &(azml_route_req_t){ .compute = "C0999" },
				    out, sizeof(out)), AZML_ROUTE_OK);
	ck_assert_str_eq(out, "c0999");
	ck_assert_int_eq(azml_route(big, &(azml_route_req_t){ .compute = "c1000" },
				    out, sizeof(out)), AZML_ROUTE_ERROR);
	ck_assert_ptr_nonnull(strstr(out, " and 988 more"));
	ck_assert_int_eq(azml_route(big, &(azml_route_req_t){
				    .vm_size = "Standard_D4s_v3", .partition = "c0501" },
				    out, sizeof(out)), AZML_ROUTE_OK);
	ck_assert_str_eq(out, "c0501");
	azml_router_destroy(big);
}
END_TEST

/* Gres with mps first, and two GPU types: the GPUs are still seen (issue
 * 12: routing took "mps:100,gpu:a100:4" for a target without GPU). */
START_TEST(gres_other_names_first)
{
	azml_router_t *gr;
	azml_conf_t *c = azml_conf_load_string(
		"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
		"AttachedCompute=lab-mps Nodes=lab[01-04] Gres=mps:100,gpu:a100:4\n"
		"AttachedCompute=lab-mix Nodes=mix[1-2] Gres=gpu:a100:2,gpu:k80:2\n"
		"AttachedCompute=lab-nic Nodes=nic1 Gres=nic:2\n", "gres.conf");

	ck_assert_int_eq(c->nerrors, 0);
	gr = azml_router_create(c);
	ck_assert_ptr_nonnull(gr);
	/* --azure-compute=lab-mps --gpus=1 */
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){
				    .compute = "lab-mps", .wants_gpu = true },
				    out, sizeof(out)), AZML_ROUTE_OK);
	ck_assert_str_eq(out, "lab-mps");
	/* --azure-cuda=12.0 */
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){ .cuda = "12.0" },
				    out, sizeof(out)), AZML_ROUTE_OK);
	ck_assert_str_eq(out, "lab-mps");
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){
				    .compute = "lab-mps", .cuda = "12.0",
				    .wants_gpu = true }, out, sizeof(out)),
			 AZML_ROUTE_OK);
	ck_assert_str_eq(out, "lab-mps");
	/* Two architectures: GPUs yes, a CUDA promise no. */
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){
				    .compute = "lab-mix", .wants_gpu = true },
				    out, sizeof(out)), AZML_ROUTE_OK);
	ck_assert_str_eq(out, "lab-mix");
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){
				    .compute = "lab-mix", .cuda = "11.0" },
				    out, sizeof(out)), AZML_ROUTE_ERROR);
	ck_assert_str_eq(out, "azureml: compute target 'lab-mix' has GPUs of an "
			 "unknown or mixed architecture (Gres=gpu:a100:2,gpu:k80:2), "
			 "so CUDA 11.0 cannot be promised there");
	/* A NIC is not a GPU. */
	ck_assert_int_eq(azml_route(gr, &(azml_route_req_t){
				    .compute = "lab-nic", .wants_gpu = true },
				    out, sizeof(out)), AZML_ROUTE_ERROR);
	ck_assert_str_eq(out, "azureml: compute target 'lab-nic' (attached) has "
			 "no GPU, but the job asks for GPUs (--gpus/--gres=gpu)");
	azml_router_destroy(gr);
}
END_TEST

/*
 * Fallback=: after what the job asked for, in Fallback= order, once, and
 * only those that pass the job's own filters.  v1 and v2 are Volta, t4
 * Turing (CUDA 10.0 and later), a100 Ampere (11.0 and later), k80 Kepler
 * (9.0 to 11.8); iso is an isolated size.
 */
static const char *fb_text =
	"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"ComputeCluster=v1 VmSize=Standard_NC6s_v3 MaxNodes=4 QuotaApproved=yes "
	"Fallback=v2,t4,cpu,low,dev\n"
	"ComputeCluster=v2 VmSize=Standard_NC6s_v3 MaxNodes=4 QuotaApproved=yes "
	"Fallback=a100\n"
	"ComputeCluster=t4 VmSize=Standard_NC4as_T4_v3 MaxNodes=4 QuotaApproved=yes\n"
	"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
	"ComputeCluster=low VmSize=Standard_NC6s_v3 MaxNodes=4 QuotaApproved=yes "
	"Priority=LowPriority\n"
	"ComputeInstance=dev VmSize=Standard_DS3_v2\n"
	"ComputeCluster=a100 VmSize=Standard_ND96asr_v4 MaxNodes=2 QuotaApproved=yes\n"
	"ComputeCluster=k80 VmSize=Standard_NC6 MaxNodes=2 Fallback=v1\n"
	"ComputeCluster=iso VmSize=Standard_NC24rs_v3 MaxNodes=2 QuotaApproved=yes "
	"Fallback=v1\n"
	"AttachedCompute=lab Nodes=lab[1-2]\n";

/* Route with fb_text instead of the fixture's configuration. */
static void _use_fallbacks(void)
{
	azml_conf_t *c = azml_conf_load_string(fb_text, "fallback.conf");

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	azml_router_destroy(r);
	r = azml_router_create(c);
	ck_assert_ptr_nonnull(r);
}

START_TEST(fallback_after_compute)
{
	_use_fallbacks();
	_ok(ROUTE(.compute = "v2"), "v2,a100");
	_ok(ROUTE(.compute = "V1"), "v1,v2,t4,cpu,low,dev");
	_ok(ROUTE(.compute = "k80"), "k80,v1");		/* not v1's own */
	_ok(ROUTE(.compute = "t4"), "t4");
	/* a job that asked for a size falls back only where that size is */
	_ok(ROUTE(.compute = "v1", .vm_size = "Standard_NC6s_v3"),
	    "v1,v2,low");
	/* the job's -p list selects, it does not restrict fallbacks */
	_ok(ROUTE(.compute = "v2", .partition = "v2"), "v2,a100");
	_ok(ROUTE(.compute = "v2", .partition = "a100,v2"), "v2,a100");
	_err(ROUTE(.compute = "v2", .partition = "a100"),
	     "azureml: --azure-compute=v2 selects 'v2', which conflicts with "
	     "--partition=a100");
}
END_TEST

START_TEST(fallback_filtered)
{
	_use_fallbacks();
	/* low is low priority */
	_ok(ROUTE(.compute = "v1", .priority = "dedicated"), "v1,v2,t4,cpu,dev");
	_err(ROUTE(.compute = "v1", .priority = "low"),
	     "azureml: compute target 'v1' is dedicated, not low priority");
	/* t4 runs CUDA 10.0 and later; cpu and dev have no GPU */
	_ok(ROUTE(.compute = "v1", .cuda = "9.0"), "v1,v2,low");
	_ok(ROUTE(.compute = "v1", .cuda = "12.0"), "v1,v2,t4,low");
	_ok(ROUTE(.compute = "v1", .wants_gpu = true), "v1,v2,t4,low");
	/* a100 runs CUDA 11.0 and later */
	_ok(ROUTE(.compute = "v2", .cuda = "10.2"), "v2");
	/* v1 is not isolated */
	_ok(ROUTE(.compute = "iso"), "iso,v1");
	_ok(ROUTE(.compute = "iso", .isolated = true), "iso");
}
END_TEST

START_TEST(fallback_after_vm_size)
{
	_use_fallbacks();
	/* v1, v2 and low are NC6s_v3; their fallbacks of other sizes are
	 * left out (the job must run on the size it asked for: it carries
	 * it as a constraint), and those of that size are listed already */
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3"), "v1,v2,low");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .priority = "dedicated"),
	    "v1,v2");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .priority = "low"), "low");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .cuda = "10.0"), "v1,v2,low");
	_ok(ROUTE(.vm_size = "Standard_NC6s_v3", .partition = "v2"), "v2");
	_ok(ROUTE(.vm_size = "Standard_NC6", .partition = "k80"), "k80");
	_ok(ROUTE(.vm_size = "Standard_NC24rs_v3"), "iso");
}
END_TEST

START_TEST(fallback_after_filters)
{
	_use_fallbacks();
	/* filters alone: every target that passes them is listed already,
	 * unless the -p list left it out */
	_ok(ROUTE(.cuda = "12.0"), "v1,v2,t4,low,a100,iso");
	_ok(ROUTE(.cuda = "12.0", .partition = "v1"), "v1,v2,t4,low");
	_ok(ROUTE(.cuda = "11.8", .partition = "k80"), "k80,v1");
	_ok(ROUTE(.priority = "dedicated", .partition = "dev,v2"), "v2,dev,a100");
}
END_TEST

START_TEST(fallback_plain_partition)
{
	_use_fallbacks();
	_ok(ROUTE(.partition = "v1"), "v1,v2,t4,cpu,low,dev");
	_ok(ROUTE(.partition = "debug,V2"), "debug,V2,a100");	/* as given */
	_ok(ROUTE(.partition = "v2,k80,v2"), "v2,k80,v2,a100,v1");
	_ok(ROUTE(.partition = "v1", .wants_gpu = true), "v1,v2,t4,low");
	_ok(ROUTE(.partition = "k80,v1"), "k80,v1,v2,t4,cpu,low,dev");
	/* nothing to add: the job is left alone */
	ck_assert_int_eq(ROUTE(.partition = "v2,a100"), AZML_ROUTE_NONE);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(ROUTE(.partition = "t4"), AZML_ROUTE_NONE);
	ck_assert_int_eq(ROUTE(.partition = "nope,lab"), AZML_ROUTE_NONE);
	ck_assert_int_eq(ROUTE(.partition = ""), AZML_ROUTE_NONE);
	ck_assert_int_eq(ROUTE(.wants_gpu = true), AZML_ROUTE_NONE);
	/* v2's only fallback has GPUs, cpu has none to offer */
	ck_assert_int_eq(ROUTE(.partition = "cpu"), AZML_ROUTE_NONE);
}
END_TEST

/*
 * An instance mix: --azure-vm-size finds a cluster by any size of its mix,
 * its fallbacks stay only where they offer that size, and the job carries
 * the size as a constraint (azml_route_features).
 */
static const char *mix_text =
	"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"ComputeCluster=mx VmSize=Standard_D4s_v3,Standard_D4_v3 MaxNodes=4 "
	"Fallback=d4,e4,mx2\n"
	"ComputeCluster=d4 VmSize=Standard_D4_v3 MaxNodes=2\n"
	"ComputeCluster=d4s VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=mx\n"
	"ComputeCluster=mx2 VmSize=Standard_D4ds_v4,Standard_D4s_v3 MaxNodes=2 "
	"Priority=LowPriority\n"
	"ComputeCluster=e4 VmSize=Standard_E4_v3 MaxNodes=2\n"
	"ComputeInstance=box VmSize=Standard_DS3_v2\n";

static void _use_mix(void)
{
	azml_conf_t *c = azml_conf_load_string(mix_text, "mix.conf");

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	azml_router_destroy(r);
	r = azml_router_create(c);
	ck_assert_ptr_nonnull(r);
}

START_TEST(mix_routes)
{
	_use_mix();
	/* mx and d4 offer D4_v3; none of mx's other fallbacks does */
	_ok(ROUTE(.vm_size = "Standard_D4_v3"), "mx,d4");
	_ok(ROUTE(.vm_size = "standard_d4s_v3"), "mx,d4s,mx2");
	_ok(ROUTE(.vm_size = "Standard_D4s_v3", .priority = "low"), "mx2");
	_ok(ROUTE(.vm_size = "Standard_D4ds_v4"), "mx2");
	_ok(ROUTE(.vm_size = "Standard_D4s_v3", .partition = "d4s"), "d4s,mx");
	/* the whole mix: every fallback that passes the filters */
	_ok(ROUTE(.compute = "mx"), "mx,d4,e4,mx2");
	_ok(ROUTE(.compute = "MX", .vm_size = "standard_D4_v3"), "mx,d4");
	_ok(ROUTE(.compute = "mx", .vm_size = "Standard_D4s_v3"), "mx,mx2");
	_ok(ROUTE(.compute = "box", .vm_size = "standard_ds3_v2"), "box");
	_err(ROUTE(.compute = "mx", .vm_size = "Standard_E4_v3"),
	     "azureml: compute target 'mx' has VM sizes Standard_D4s_v3,"
	     "Standard_D4_v3, not Standard_E4_v3");
	_err(ROUTE(.compute = "d4", .vm_size = "Standard_D4s_v3"),
	     "azureml: compute target 'd4' has VM size Standard_D4_v3, not "
	     "Standard_D4s_v3");
	_err(ROUTE(.vm_size = "Standard_D8s_v3"),
	     "azureml: no compute target offers VM size 'Standard_D8s_v3'; "
	     "available: mx (Standard_D4s_v3, Standard_D4_v3), d4 "
	     "(Standard_D4_v3), d4s (Standard_D4s_v3), mx2 (Standard_D4ds_v4, "
	     "Standard_D4s_v3, low priority), e4 (Standard_E4_v3)");
	_err(ROUTE(.vm_size = "Standard_D4ds_v4", .priority = "dedicated"),
	     "azureml: compute target 'mx2' is low priority, not dedicated");
}
END_TEST

#define FEAT(f, ...) \
	azml_route_features(r, &(azml_route_req_t){ __VA_ARGS__ }, f, out, \
			    sizeof(out))

START_TEST(mix_constraint)
{
	char small[16];

	_use_mix();
	/* the configuration's spelling, whatever the user typed */
	_ok(FEAT(NULL, .vm_size = "standard_d4_v3"), "Standard_D4_v3");
	_ok(FEAT("", .vm_size = "STANDARD_D4S_V3", .compute = "mx"),
	    "Standard_D4s_v3");
	_ok(FEAT(NULL, .compute = "box", .vm_size = "standard_ds3_v2"),
	    "Standard_DS3_v2");
	/* joined to the job's own --constraint */
	_ok(FEAT("ssd", .vm_size = "Standard_D4_v3"), "ssd&Standard_D4_v3");
	_ok(FEAT("a&b,c", .vm_size = "Standard_D4_v3"),
	    "a&b,c&Standard_D4_v3");
	_ok(FEAT("a|b", .vm_size = "Standard_D4_v3"), "(a|b)&Standard_D4_v3");
	_ok(FEAT("a&b|c", .vm_size = "Standard_D4_v3"),
	    "(a&b|c)&Standard_D4_v3");
	_ok(FEAT("(a|b)&c", .vm_size = "Standard_D4_v3"),
	    "(a|b)&c&Standard_D4_v3");
	_ok(FEAT("Standard_D4s_v3", .vm_size = "Standard_D4_v3"),
	    "Standard_D4s_v3&Standard_D4_v3");	/* the user's to mean */
	/* what '&' cannot join: refused, with what to do instead */
	_err(FEAT("[r1|r2]", .vm_size = "Standard_D4_v3"),
	     "azureml: --azure-vm-size=Standard_D4_v3 cannot be added to "
	     "--constraint='[r1|r2]' (brackets, counts or nested parentheses); "
	     "put Standard_D4_v3 into --constraint yourself, with "
	     "--azure-compute naming the cluster");
	_err(FEAT("a*2", .vm_size = "Standard_D4_v3"),
	     "azureml: --azure-vm-size=Standard_D4_v3 cannot be added");
	_err(FEAT("(a|b)|c", .vm_size = "Standard_D4_v3"),
	     "azureml: --azure-vm-size=Standard_D4_v3 cannot be added");
	/* nothing to add */
	ck_assert_int_eq(FEAT("gpu", .compute = "mx"), AZML_ROUTE_NONE);
	ck_assert_int_eq(FEAT(NULL, .priority = "low"), AZML_ROUTE_NONE);
	ck_assert_int_eq(FEAT("Standard_D4_v3", .vm_size = "standard_d4_v3"),
			 AZML_ROUTE_NONE);
	ck_assert_int_eq(FEAT("(a|b)&Standard_D4_v3",
			      .vm_size = "Standard_D4_v3"), AZML_ROUTE_NONE);
	ck_assert_int_eq(FEAT(NULL, .vm_size = "Standard_D8s_v3"),
			 AZML_ROUTE_NONE);	/* azml_route refuses it */
	ck_assert_str_eq(out, "");
	_err(FEAT(NULL, .vm_size = "Standard_D4_v3/x"),
	     "azureml: --azure-vm-size: expected a VM size");
	/* never cut short */
	ck_assert_int_eq(azml_route_features(r, &(azml_route_req_t){
			 .vm_size = "Standard_D4_v3" }, "abcdef", small,
			 sizeof(small)), AZML_ROUTE_ERROR);
	ck_assert_str_eq(small, "azureml: --cons");
	ck_assert_int_eq(azml_route_features(r, &(azml_route_req_t){
			 .vm_size = "Standard_D4_v3" }, NULL, small,
			 sizeof(small)), AZML_ROUTE_OK);
	ck_assert_str_eq(small, "Standard_D4_v3");
}
END_TEST

/* A list that does not fit is an error, never a list cut short: each job
 * routed into LEN bytes, with what it must give (a message is cut to fit). */
static const struct {
	azml_route_req_t req;
	size_t len;
	azml_route_rc_t rc;
	const char *out;
} fb_small[] = {
	/* "v2,a100" needs 8 bytes and one to tell it was not cut short */
	{ { .compute = "v2" }, 9, AZML_ROUTE_OK, "v2,a100" },
	{ { .compute = "v2" }, 8, AZML_ROUTE_ERROR, "azureml" },
	{ { .partition = "v2" }, 9, AZML_ROUTE_OK, "v2,a100" },
	{ { .partition = "v2" }, 8, AZML_ROUTE_ERROR, "azureml" },
	{ { .vm_size = "Standard_NC6s_v3" }, 11, AZML_ROUTE_OK, "v1,v2,low" },
	{ { .vm_size = "Standard_NC6s_v3" }, 10, AZML_ROUTE_ERROR, "azureml: " },
	/* a -p list that leaves no room for more is left as it is */
	{ { .partition = "v2,v2,v2" }, 9, AZML_ROUTE_NONE, "" },
	{ { .partition = "v1,debug" }, 28, AZML_ROUTE_OK,
	  "v1,debug,v2,t4,cpu,low,dev" },
	{ { .partition = "v1,debug" }, 27, AZML_ROUTE_ERROR,
	  "azureml: --partition=v1,de" },
};

START_TEST(fallback_small_buffers)
{
	azml_route_rc_t rc;

	_use_fallbacks();
	rc = azml_route(r, &fb_small[_i].req, out, fb_small[_i].len);
	ck_assert_msg(rc == fb_small[_i].rc, "rc %d: %s", rc, out);
	ck_assert_str_eq(out, fb_small[_i].out);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("route");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, no_flag_leaves_job);
	tcase_add_test(tc, compute_names_one_target);
	tcase_add_test(tc, vm_size_matches_every_cluster);
	tcase_add_test(tc, priority_filter);
	tcase_add_test(tc, cuda_filter);
	tcase_add_test(tc, isolated_filter);
	tcase_add_test(tc, partition_intersected);
	tcase_add_test(tc, gpus_need_gpu_target);
	tcase_add_test(tc, compute_and_size_disagree);
	tcase_add_loop_test(tc, bad_values, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, long_values_and_small_buffers);
	tcase_add_test(tc, option_syntax);
	tcase_add_test(tc, many_targets);
	tcase_add_test(tc, gres_other_names_first);
	tcase_add_test(tc, fallback_after_compute);
	tcase_add_test(tc, fallback_filtered);
	tcase_add_test(tc, fallback_after_vm_size);
	tcase_add_test(tc, mix_routes);
	tcase_add_test(tc, mix_constraint);
	tcase_add_test(tc, fallback_after_filters);
	tcase_add_test(tc, fallback_plain_partition);
	tcase_add_loop_test(tc, fallback_small_buffers, 0,
			    sizeof(fb_small) / sizeof(fb_small[0]));
	return tu_run("route", tc);
}

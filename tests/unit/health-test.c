/*
 * health-test.c - the node health checks (health.h) against a fake root
 * (kernel log, /proc, sysfs) and the fake NVML: each failure gives its
 * reason, a clean machine passes; HealthChecks= parsing and generate's
 * HealthCheckProgram lines.
 */
#include "config.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "generate.h"
#include "gpu.h"
#include "health.h"
#include "testutil.h"

#define FAKE_NVML AZML_BUILD_DIR "/tests/unit/nvml/libnvidia-ml.so.1"
#define HEAD "ClusterName=t\n" \
	"SubscriptionId=00000000-0000-0000-0000-000000000000\n" \
	"ResourceGroup=rg\nLocation=eastus\n"
#define BUSIDS "00000000:01:00.0,00000000:02:00.0,00000000:03:00.0," \
	"00000000:04:00.0,00000000:05:00.0,00000000:06:00.0," \
	"00000000:07:00.0,00000000:08:00.0"

static char root[128];

static void _write(const char *rel, const char *fmt, ...)
{
	char path[512], cmd[600];
	FILE *fp;
	va_list ap;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	snprintf(cmd, sizeof(cmd), "mkdir -p \"$(dirname '%s')\"", path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fclose(fp);
}

static void _ib_port(const char *dev, int port, const char *state,
		     const char *rate, const char *layer)
{
	char rel[512];

	snprintf(rel, sizeof(rel), "/sys/class/infiniband/%s/ports/%d/state",
		 dev, port);
	_write(rel, "%s\n", state);
	snprintf(rel, sizeof(rel), "/sys/class/infiniband/%s/ports/%d/rate",
		 dev, port);
	_write(rel, "%s\n", rate);
	snprintf(rel, sizeof(rel),
		 "/sys/class/infiniband/%s/ports/%d/link_layer", dev, port);
	_write(rel, "%s\n", layer);
}

/* A healthy ND96asr_v4: 8 A100s, 900 GiB, HDR InfiniBand. */
static void _clean_machine(void)
{
	char cmd[600];

	snprintf(root, sizeof(root), "/tmp/azml-health-test.%ld",
		 (long) getpid());
	snprintf(cmd, sizeof(cmd), "rm -rf %s && mkdir -p %s/tmp %s/run",
		 root, root, root);
	ck_assert_int_eq(system(cmd), 0);
	_write("/proc/meminfo", "MemTotal:       943718400 kB\n"
	       "MemFree:        900000000 kB\n");
	_write("/proc/sys/kernel/random/boot_id", "boot-1\n");
	_write("/dev/kmsg", "6,1,100,-;Linux version 6.1\n"
	       "4,2,200,-;NVRM: Xid (PCI:0000:03:00): 13, pid=77, "
	       "Graphics Exception\n"
	       "6,3,300,-;eth0: link up\n");
	_ib_port("mlx5_ib0", 1, "4: ACTIVE", "200 Gb/sec (4X HDR)",
		 "InfiniBand");
	/* accelerated networking's VF: Ethernet, DOWN, not judged */
	_ib_port("mlx5_an0", 1, "1: DOWN", "40 Gb/sec (4X QDR)", "Ethernet");
	setenv("AZML_HEALTH_ROOT", root, 1);
	setenv("FAKE_NVML_BUSIDS", BUSIDS, 1);
	setenv("FAKE_NVML_NAME", "NVIDIA A100-SXM4-40GB", 1);
	unsetenv("FAKE_NVML_HEALTH");
	unsetenv("FAKE_NVML_ECC");
	unsetenv("FAKE_NVML_LOST");
}

static void _cleanup(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	system(cmd);
}

static azml_conf_t *_conf(const char *extra)
{
	azml_conf_t *c = tu_conf("test.conf", HEAD "%s"
				 "ComputeCluster=nd VmSize=Standard_ND96asr_v4 "
				 "MaxNodes=4 QuotaApproved=yes\n"
				 "ComputeCluster=cpu VmSize=Standard_D4s_v3 "
				 "MaxNodes=4\n", extra);

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	return c;
}

/* Run every check of target NAME; the failures joined by '|' into OUT. */
static int _run(azml_conf_t *c, const char *name, char *out, size_t n)
{
	const azml_target_t *t = NULL;
	azml_health_req_t req;
	azml_nvml_t nv;
	azml_hresult_t res;

	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcmp(c->targets[i].name, name))
			t = &c->targets[i];
	ck_assert_ptr_nonnull(t);
	azml_health_req_of(t, "nd-1", &req);
	azml_nvml_query(FAKE_NVML, &nv);
	req.nvml = &nv;
	azml_health_run(&req, &res);
	out[0] = '\0';
	for (int i = 0; i < res.n; i++)
		snprintf(out + strlen(out), n - strlen(out), "%s%s",
			 i ? "|" : "", res.fail[i].reason);
	return res.n;
}

START_TEST(clean_machine_passes)
{
	azml_conf_t *c = _conf("");
	char out[2048];

	_clean_machine();
	ck_assert_msg(_run(c, "nd", out, sizeof(out)) == 0, "%s", out);
	/* a size without GPUs or InfiniBand: NVML and IB not judged */
	ck_assert_msg(_run(c, "cpu", out, sizeof(out)) == 0, "%s", out);
	ck_assert_int_eq(azml_health_ib_rate("NDasrA100_v4"), 200);
	_cleanup();
	azml_conf_destroy(c);
}
END_TEST

START_TEST(gpu_failures)
{
	azml_conf_t *c = _conf("");
	char out[2048], path[300];

	_clean_machine();
	snprintf(path, sizeof(path), "%s/nvml-health", root);
	_write("/nvml-health", "1 remap_failed=1\n2 remap_pending=1\n"
	       "3 retired_pending=1\n4 ecc=2\n5 lost=1\n");
	setenv("FAKE_NVML_HEALTH", path, 1);
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 5);
	ck_assert_str_eq(out,
		"gpu: GPU 0000:02:00.0: row remapping failed|"
		"gpu: GPU 0000:03:00.0: row remapping pending (needs a GPU reset)|"
		"gpu: GPU 0000:04:00.0: retired pages pending (needs a GPU reset)|"
		"gpu: GPU 5: GPU is lost|"
		"ecc: GPU 0000:05:00.0: 2 uncorrectable ECC errors since the "
		"driver loaded");
	unsetenv("FAKE_NVML_HEALTH");
	/* count and model */
	setenv("FAKE_NVML_BUSIDS", "00000000:01:00.0,00000000:02:00.0", 1);
	setenv("FAKE_NVML_NAME", "Tesla V100-SXM2-32GB", 1);
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 3);
	ck_assert_str_eq(out,
		"gpu: 2 GPUs seen, Standard_ND96asr_v4 has 8|"
		"gpu: GPU 0000:01:00.0 is a Tesla V100-SXM2-32GB, "
		"Standard_ND96asr_v4 has A100|"
		"gpu: GPU 0000:02:00.0 is a Tesla V100-SXM2-32GB, "
		"Standard_ND96asr_v4 has A100");
	/* no driver at all */
	setenv("FAKE_NVML_INIT", "9", 1);
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "gpu: NVML did not initialise: Driver Not "
			 "Loaded (error 9)");
	unsetenv("FAKE_NVML_INIT");
	_cleanup();
	azml_conf_destroy(c);
}
END_TEST

START_TEST(xid_since_last_run)
{
	azml_conf_t *c = _conf("");
	char out[2048], path[400];
	struct stat st;

	_clean_machine();
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 0);
	/* the state is root's own: a 0700 folder, the position in it */
	snprintf(path, sizeof(path), "%s/run/slurm-azureml", root);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	_write("/dev/kmsg", "6,1,100,-;Linux version 6.1\n"
	       "4,2,200,-;NVRM: Xid (PCI:0000:03:00): 13, pid=77, x\n"
	       "6,3,300,-;eth0: link up\n"
	       "4,4,400,-;NVRM: Xid (PCI:0000:07:00): 79, pid=1234, "
	       "name=python, GPU has fallen off the bus.\n");
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "xid: GPU 0000:07:00: XID 79 (GPU has fallen "
			 "off the bus)");
	/* sticky for the boot, though nothing new was logged */
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "xid: GPU 0000:07:00: XID 79 (GPU has fallen "
			 "off the bus)");
	/* a new boot (a new VM) starts over: its log has no XID */
	_write("/proc/sys/kernel/random/boot_id", "boot-2\n");
	_write("/dev/kmsg", "6,1,100,-;Linux version 6.1\n");
	ck_assert_msg(_run(c, "nd", out, sizeof(out)) == 0, "%s", out);
	/* records already seen are not judged again: an XID logged
	 * before the last position (the ring's old records) */
	_write("/dev/kmsg", "4,1,100,-;NVRM: Xid (PCI:0000:07:00): 48, x\n"
	       "6,2,100,-;later\n");
	ck_assert_msg(_run(c, "nd", out, sizeof(out)) == 0, "%s", out);
	_write("/dev/kmsg", "6,2,100,-;later\n"
	       "4,3,100,-;NVRM: Xid (PCI:0000:01:00): 48, x\n");
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "xid: GPU 0000:01:00: XID 48 (double-bit ECC "
			 "error)");
	/* a state folder others may write is not trusted */
	chmod(path, 0777);
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	_cleanup();
	azml_conf_destroy(c);
}
END_TEST

START_TEST(ib_memory_disk_failures)
{
	azml_conf_t *c = _conf("");
	char out[2048], cmd[600];

	_clean_machine();
	_ib_port("mlx5_ib0", 1, "2: INIT", "200 Gb/sec (4X HDR)", "InfiniBand");
	_ib_port("mlx5_ib1", 1, "4: ACTIVE", "100 Gb/sec (4X EDR)",
		 "InfiniBand");
	_write("/proc/meminfo", "MemTotal:       1048576 kB\n");
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 3);
	ck_assert_msg(strstr(out, "ib: mlx5_ib0 port 1 is 2: INIT, not ACTIVE"),
		      "%s", out);
	ck_assert_msg(strstr(out, "ib: mlx5_ib1 port 1 runs at 100 Gb/sec "
			     "(4X EDR), Standard_ND96asr_v4 has 200 Gb/sec"),
		      "%s", out);
	ck_assert_msg(strstr(out, "memory: 1024 MiB seen, Standard_ND96asr_v4 "
			     "needs 875520 MiB"), "%s", out);
	/* no IB at all */
	snprintf(cmd, sizeof(cmd), "rm -rf %s/sys %s/tmp", root, root);
	ck_assert_int_eq(system(cmd), 0);
	_write("/proc/meminfo", "MemTotal:       943718400 kB\n");
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 2);
	ck_assert_msg(strstr(out, "ib: no InfiniBand device ("), "%s", out);
	ck_assert_msg(strstr(out, "disk: /tmp: No such file or directory"),
		      "%s", out);
	_cleanup();
	azml_conf_destroy(c);
}
END_TEST

START_TEST(checks_off_and_script)
{
	azml_conf_t *c;
	char out[2048], conf[1000], path[300];

	_clean_machine();
	snprintf(path, sizeof(path), "%s/site-check", root);
	_write("/site-check", "#!/bin/sh\necho 'lustre: /scratch not mounted'\n"
	       "exit 1\n");
	chmod(path, 0755);
	_write("/proc/meminfo", "MemTotal:       1048576 kB\n");
	snprintf(conf, sizeof(conf), "HealthChecks=all,-memory\n"
		 "HealthCheckScript=%s\n", path);
	c = _conf(conf);
	ck_assert_int_eq(_run(c, "nd", out, sizeof(out)), 1);
	ck_assert_str_eq(out, "script: lustre: /scratch not mounted");
	azml_conf_destroy(c);
	/* a script that hangs is cut at its bound */
	_write("/site-check", "#!/bin/sh\nsleep 60\n");
	c = _conf(conf);
	{
		azml_health_req_t req;
		azml_hresult_t res = { .n = 0 };

		azml_health_req_of(&c->targets[0], "nd-1", &req);
		req.script_seconds = 1;
		azml_health_script(&req, &res);
		ck_assert_int_eq(res.n, 1);
		ck_assert_msg(strstr(res.fail[0].reason, "did not finish in 1 s"),
			      "%s", res.fail[0].reason);
		ck_assert_int_eq(azml_health_check_hardware(res.fail[0].check),
				 0);
	}
	azml_conf_destroy(c);
	_cleanup();
}
END_TEST

START_TEST(conf_keys_and_generate)
{
	azml_conf_t *c;
	unsigned int m;
	char why[256], *text;

	ck_assert_int_eq(azml_health_checks_parse("gpu,XID", &m, why,
						  sizeof(why)), 0);
	ck_assert_uint_eq(m, (1u << AZML_HC_GPU) | (1u << AZML_HC_XID));
	ck_assert_int_eq(azml_health_checks_parse("none", &m, why,
						  sizeof(why)), 0);
	ck_assert_uint_eq(m, 0);
	ck_assert_int_eq(azml_health_checks_parse("gpu,nccl", &m, why,
						  sizeof(why)), -1);
	c = tu_conf("test.conf", HEAD "HealthChecks=gpu,nccl\n");
	ck_assert_int_ge(c->nerrors, 1);
	ck_assert_msg(strstr(c->errors[0], "test.conf:5: HealthChecks="),
		      "%s", c->errors[0]);
	azml_conf_destroy(c);
	c = _conf("HealthCheckInterval=120\nReplaceLimit=5\n");
	ck_assert_int_eq(c->targets[0].replace_limit, 5);
	ck_assert_str_eq(c->metrics_dir, "/var/lib/prometheus/node-exporter");
	text = azml_generate_slurm_conf(c, NULL);
	ck_assert_msg(strstr(text, "/slurm-azureml-health-check\n"
			     "HealthCheckInterval=120\n"
			     "HealthCheckNodeState=ANY,CYCLE\n"), "%s", text);
	free(text);
	azml_conf_destroy(c);
	ck_assert_int_eq(azml_health_reason_check("azureml: health: xid: GPU"),
			 AZML_HC_XID);
	ck_assert_int_eq(azml_health_reason_check("azureml: capacity: x"), -1);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("health");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, clean_machine_passes);
	tcase_add_test(tc, gpu_failures);
	tcase_add_test(tc, xid_since_last_run);
	tcase_add_test(tc, ib_memory_disk_failures);
	tcase_add_test(tc, checks_off_and_script);
	tcase_add_test(tc, conf_keys_and_generate);
	return tu_run("health", tc);
}

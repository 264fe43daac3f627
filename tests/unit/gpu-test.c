/*
 * gpu-test.c - GPU inventory of real machines' hwloc topologies
 * (../shared/hwloc-topologies, whose README lists their GPUs), this
 * machine's own, gres verdicts (the parser is gres-test's), gres.conf File=
 * devices, and NVML absent or present (a fake libnvidia-ml built by the
 * tests).
 */
#include "config.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "gpu.h"
#include "testutil.h"

#define TOPO AZML_TOP_SRCDIR "/../shared/hwloc-topologies/"
#define FAKE_NVML AZML_BUILD_DIR "/tests/unit/nvml/libnvidia-ml.so.1"

static azml_inventory_t inv;

static void _load(const char *file)
{
	char err[256] = "";

	ck_assert_msg(azml_gpu_inventory(file, &inv, err, sizeof(err)) == 0,
		      "%s: %s", file, err);
}

/* The verdict's reasons joined by '|', and whether it passed. */
static bool _verdict(const char *declared, const char *cuda, char *out,
		     size_t n)
{
	azml_check_req_t req = { .declared = declared, .cuda = cuda };
	bool ok;
	cJSON *v = azml_node_check(&inv, &req, &ok), *r;

	out[0] = '\0';
	cJSON_ArrayForEach(r, cJSON_GetObjectItem(v, "reasons")) {
		if (out[0])
			strncat(out, "|", n - strlen(out) - 1);
		strncat(out, r->valuestring, n - strlen(out) - 1);
	}
	ck_assert(cJSON_IsBool(cJSON_GetObjectItem(v, "ok")));
	ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(v, "ok")), ok);
	cJSON_Delete(v);
	return ok;
}

START_TEST(dgx2_sixteen_volta)
{
	char r[1024];

	_load(TOPO "nvidiaDGX2.xml");
	ck_assert_uint_eq(inv.ngpus, 16);	/* 12 NVSwitches are not GPUs */
	for (size_t i = 0; i < inv.ngpus; i++) {
		ck_assert_str_eq(inv.gpus[i].vendor, "nvidia");
		ck_assert_str_eq(inv.gpus[i].model, "Tesla V100-SXM3-32GB-H");
		ck_assert_uint_eq(inv.gpus[i].device_id, 0x1db8);
		ck_assert_str_eq(inv.gpus[i].arch_name, "Volta");
		ck_assert_int_eq(inv.gpus[i].numa, i < 8 ? 0 : 1);
	}
	ck_assert_str_eq(inv.gpus[0].busid, "0000:34:00.0");
	ck_assert_str_eq(inv.gpus[15].busid, "0000:e7:00.0");
	ck_assert_int_eq(inv.sockets, 2);

	ck_assert(_verdict("gpu:16", NULL, r, sizeof(r)));
	ck_assert(_verdict("gpu:v100:16", NULL, r, sizeof(r)));
	ck_assert(_verdict("gpu:V100:8,gpu:v100:8", NULL, r, sizeof(r)));
	ck_assert(_verdict("gpu:v100:16(S:0-1),mps:400", "12.0", r, sizeof(r)));
	ck_assert(!_verdict("gpu:8", NULL, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu declared 8, found 16");
	ck_assert(!_verdict("gpu:v100:17", NULL, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu declared 17, found 16|"
			 "gres/gpu:v100 declared 17, found 16");
	ck_assert(!_verdict("gpu:a100:16", NULL, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu:a100 declared 16, found 0");
}
END_TEST

START_TEST(xeon_three_nvidia_one_amd)
{
	char r[2048];

	_load(TOPO "32em64t-2n8c2t-pci-normalio.xml");
	/* 3 NVIDIA + the Radeon; not the Matrox console chip */
	ck_assert_uint_eq(inv.ngpus, 4);
	ck_assert_str_eq(inv.gpus[0].busid, "0000:03:00.0");
	ck_assert_str_eq(inv.gpus[0].model,
			 "Tesla M2075 Dual-Slot Computing Processor Module");
	ck_assert_str_eq(inv.gpus[0].arch_name, "Fermi");
	ck_assert_str_eq(inv.gpus[1].busid, "0000:83:00.0");
	ck_assert_str_eq(inv.gpus[1].arch_name, "Fermi");
	/* the CUDA OS device's name wins over the PCI database's */
	ck_assert_str_eq(inv.gpus[2].busid, "0000:84:00.0");
	ck_assert_str_eq(inv.gpus[2].model, "Tesla K40m");
	ck_assert_str_eq(inv.gpus[2].arch_name, "Kepler");
	ck_assert_str_eq(inv.gpus[3].vendor, "amd");
	ck_assert_str_eq(inv.gpus[3].busid, "0000:84:00.1");
	ck_assert_str_eq(inv.gpus[3].model, "AMD Radeon R9 200 / HD 7900 Series");
	ck_assert_uint_eq(inv.gpus[3].vendor_id, 0x1002);
	ck_assert_uint_eq(inv.gpus[3].device_id, 0x6798);
	ck_assert(inv.gpus[3].arch == NULL);
	for (size_t i = 0; i < inv.ngpus; i++)
		ck_assert_uint_ne(inv.gpus[i].vendor_id, 0x102b);	/* Matrox */

	ck_assert(_verdict("gpu:4", NULL, r, sizeof(r)));
	ck_assert(_verdict("gpu:m2075:2,gpu:k40:1,gpu:radeon:1", NULL, r, sizeof(r)));
	ck_assert(!_verdict("gpu:k40:3,gpu:1", NULL, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu:k40 declared 3, found 1");
	ck_assert(!_verdict("gpu:4", "12.0", r, sizeof(r)));
	ck_assert_str_eq(r,
		"GPU 0000:03:00.0 (Tesla M2075 Dual-Slot Computing Processor Module, Fermi) does not run CUDA 12.0 (Fermi: CUDA 3.0 to 8.0)|"
		"GPU 0000:83:00.0 (Tesla M2075 Dual-Slot Computing Processor Module, Fermi) does not run CUDA 12.0 (Fermi: CUDA 3.0 to 8.0)|"
		"GPU 0000:84:00.0 (Tesla K40m, Kepler) does not run CUDA 12.0 (Kepler: CUDA 9.0 to 11.8)|"
		"GPU 0000:84:00.1 (AMD Radeon R9 200 / HD 7900 Series) is not NVIDIA: it does not run CUDA 12.0");
}
END_TEST

START_TEST(console_vga_is_no_gpu)
{
	char r[256];

	_load(TOPO "96em64t-4n4d3ca2co-pci.xml");
	ck_assert_uint_eq(inv.ngpus, 0);	/* the ATI ES1000 */
	ck_assert_int_eq(inv.sockets, 16);	/* 4 groups of 4 */
	ck_assert_int_eq(inv.cores, 96);
	ck_assert(_verdict("gpu:0", NULL, r, sizeof(r)));
	ck_assert(!_verdict("gpu:1", NULL, r, sizeof(r)));
	ck_assert_str_eq(r, "gres/gpu declared 1, found 0");
	_load(TOPO "16intel64-manyVFs.xml");
	ck_assert_uint_eq(inv.ngpus, 0);
	ck_assert(_verdict(NULL, NULL, r, sizeof(r)));
}
END_TEST

/* This machine, against what sysfs says directly. */
START_TEST(this_machine)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	size_t expect = 0;

	_load(NULL);
	ck_assert_int_gt(inv.pus, 0);
	ck_assert_int_gt(inv.memory_mib, 0);
	while (d && (e = readdir(d))) {
		char path[512], buf[32];
		unsigned int vendor = 0, class = 0;
		FILE *fp;

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof(buf), fp))
			vendor = (unsigned int) strtoul(buf, NULL, 16);
		fclose(fp);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/class", e->d_name);
		if (!(fp = fopen(path, "r")))
			continue;
		if (fgets(buf, sizeof(buf), fp))
			class = (unsigned int) (strtoul(buf, NULL, 16) >> 8);
		fclose(fp);
		if (vendor == 0x10de && (class == 0x0300 || class == 0x0302))
			expect++;
	}
	if (d)
		closedir(d);
	for (size_t i = 0; i < inv.ngpus; i++)
		if (!strcmp(inv.gpus[i].vendor, "amd"))
			expect++;
	ck_assert_uint_eq(inv.ngpus, expect);
}
END_TEST

START_TEST(bad_topologies)
{
	char err[256], path[] = "/tmp/azml-gpu-test-XXXXXX";
	int fd = mkstemp(path);

	ck_assert_int_eq(azml_gpu_inventory("/nonexistent.xml", &inv, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/nonexistent.xml: No such file or directory");
	ck_assert(write(fd, "<topology><object", 17) == 17);
	close(fd);
	ck_assert_int_eq(azml_gpu_inventory(path, &inv, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, path) != NULL, "%s", err);
	unlink(path);
}
END_TEST

START_TEST(gres_conf_files)
{
	char path[] = "/tmp/azml-gres-XXXXXX", **files = NULL, err[256];
	int fd = mkstemp(path), n;
	const char *text =
		"# comment\nAutoDetect=nvml\n"
		"NodeName=lab-[1-2] Name=gpu Type=v100 File=/dev/nvidia[0-3] # four\n"
		"NodeName=lab-3 Name=gpu File=/dev/null\n"
		"Name=mps Count=100\n"
		"Name=gpu File=/nonexistent/dev/gpu0\n";
	azml_check_req_t req = { 0 };
	bool ok;
	cJSON *v;

	ck_assert(write(fd, text, strlen(text)) == (ssize_t) strlen(text));
	close(fd);
	n = azml_gres_conf_files(path, "lab-2", &files, err, sizeof(err));
	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(files[0], "/dev/nvidia0");
	ck_assert_str_eq(files[3], "/dev/nvidia3");
	ck_assert_str_eq(files[4], "/nonexistent/dev/gpu0");
	azml_strv_free(files, (size_t) n);

	n = azml_gres_conf_files(path, "lab-3", &files, err, sizeof(err));
	ck_assert_int_eq(n, 2);
	memset(&inv, 0, sizeof(inv));
	req.files = files;
	req.nfiles = (size_t) n;
	v = azml_node_check(&inv, &req, &ok);
	ck_assert(!ok);
	ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(v, "reasons")), 1);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "reasons"), 0)->valuestring,
			 "gres.conf File=/nonexistent/dev/gpu0: No such file or directory");
	cJSON_Delete(v);
	azml_strv_free(files, (size_t) n);
	unlink(path);
	ck_assert_int_eq(azml_gres_conf_files(path, "lab-1", &files, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "No such file") != NULL, "%s", err);
}
END_TEST

START_TEST(nvml_absent)
{
	azml_nvml_t nv;

	azml_nvml_query("/nonexistent/libnvidia-ml.so.1", &nv);
	ck_assert(!nv.present);
	ck_assert_str_eq(nv.note, "NVML not available (/nonexistent/libnvidia-ml.so.1): "
			 "driver version and GPU health not checked");
	/* not an NVML at all: libc has none of its functions */
	azml_nvml_query("libc.so.6", &nv);
	ck_assert(!nv.present);
	ck_assert_msg(strstr(nv.note, "lacks NVML functions") != NULL, "%s", nv.note);
}
END_TEST

START_TEST(nvml_present)
{
	azml_nvml_t nv;
	azml_check_req_t req = { .nvml = &nv, .cuda = "12.4" };
	bool ok;
	cJSON *v, *n;

	ck_assert_msg(access(FAKE_NVML, R_OK) == 0, "%s not built", FAKE_NVML);
	setenv("FAKE_NVML_BUSIDS", "00000000:34:00.0,00000000:36:00.0", 1);
	setenv("FAKE_NVML_DRIVER", "550.54.15", 1);
	setenv("FAKE_NVML_CUDA", "12040", 1);
	azml_nvml_query(FAKE_NVML, &nv);
	ck_assert(nv.present);
	ck_assert_str_eq(nv.driver, "550.54.15");
	ck_assert_int_eq(nv.cuda_major, 12);
	ck_assert_int_eq(nv.cuda_minor, 4);
	ck_assert_int_eq(nv.count, 2);
	ck_assert_str_eq(nv.gpus[1].busid, "0000:36:00.0");
	ck_assert_str_eq(nv.gpus[1].name, "Tesla V100-SXM2-32GB");
	ck_assert_str_eq(nv.gpus[0].problem, "");

	/* two GPUs NVML sees, on a PCI bus that has none: a mismatch */
	memset(&inv, 0, sizeof(inv));
	v = azml_node_check(&inv, &req, &ok);
	ck_assert(!ok);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "reasons"), 0)->valuestring,
			 "NVML sees 2 NVIDIA GPUs, the PCI bus has 0");
	n = cJSON_GetObjectItem(v, "nvml");
	ck_assert_str_eq(cJSON_GetObjectItem(n, "driver")->valuestring, "550.54.15");
	ck_assert_str_eq(cJSON_GetObjectItem(n, "cuda")->valuestring, "12.4");
	cJSON_Delete(v);

	/* a GPU hwloc found by PCI id only gets NVML's name for it */
	inv.ngpus = 1;
	snprintf(inv.gpus[0].vendor, sizeof(inv.gpus[0].vendor), "nvidia");
	snprintf(inv.gpus[0].model, sizeof(inv.gpus[0].model), "10de:20b2");
	snprintf(inv.gpus[0].busid, sizeof(inv.gpus[0].busid), "0000:36:00.0");
	azml_gpu_apply_nvml(&inv, &nv);
	ck_assert_str_eq(inv.gpus[0].model, "Tesla V100-SXM2-32GB");
	ck_assert_str_eq(inv.gpus[0].arch_name, "Volta");
	inv.ngpus = 0;

	/* a driver too old for what the target's jobs need */
	setenv("FAKE_NVML_CUDA", "12020", 1);
	azml_nvml_query(FAKE_NVML, &nv);
	req.cuda = "12.4";
	v = azml_node_check(&inv, &req, &ok);
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(v, "reasons"), 0)->valuestring,
			 "the NVIDIA driver 550.54.15 supports CUDA 12.2, jobs here need CUDA 12.4");
	cJSON_Delete(v);

	/* a lost GPU and one with ECC errors */
	setenv("FAKE_NVML_LOST", "1", 1);
	setenv("FAKE_NVML_ECC", "0:3", 1);
	azml_nvml_query(FAKE_NVML, &nv);
	ck_assert_str_eq(nv.gpus[0].problem, "3 uncorrected ECC errors since the driver loaded");
	ck_assert_str_eq(nv.gpus[1].problem, "NVML GPU 1: GPU is lost");
	unsetenv("FAKE_NVML_LOST");
	unsetenv("FAKE_NVML_ECC");

	/* the driver is not loaded */
	setenv("FAKE_NVML_INIT", "9", 1);
	azml_nvml_query(FAKE_NVML, &nv);
	ck_assert(!nv.present);
	ck_assert_str_eq(nv.note, "NVML did not initialise: Driver Not Loaded (error 9)");
	unsetenv("FAKE_NVML_INIT");

	/* found through $AZML_NVML_LIBRARY */
	setenv("AZML_NVML_LIBRARY", FAKE_NVML, 1);
	azml_nvml_query(NULL, &nv);
	ck_assert(nv.present);
	unsetenv("AZML_NVML_LIBRARY");
}
END_TEST

START_TEST(report_round_trip)
{
	azml_inventory_t *back = calloc(1, sizeof(*back));
	cJSON *arr, *bad;
	char err[256];

	_load(TOPO "32em64t-2n8c2t-pci-normalio.xml");
	arr = azml_gpus_json(&inv);
	ck_assert_int_eq(azml_gpus_from_json(arr, back, err, sizeof(err)), 0);
	ck_assert_uint_eq(back->ngpus, 4);
	ck_assert_str_eq(back->gpus[2].model, "Tesla K40m");
	ck_assert_str_eq(back->gpus[2].arch_name, "Kepler");
	ck_assert_uint_eq(back->gpus[3].vendor_id, 0x1002);
	/* the architecture is recomputed, not taken from the report */
	cJSON_ReplaceItemInObject(cJSON_GetArrayItem(arr, 0), "arch",
				  cJSON_CreateString("Hopper"));
	ck_assert_int_eq(azml_gpus_from_json(arr, back, err, sizeof(err)), 0);
	ck_assert_str_eq(back->gpus[0].arch_name, "Fermi");
	cJSON_Delete(arr);
	bad = cJSON_Parse("[{\"vendor\":\"intel\",\"model\":\"x\",\"pci_id\":\"8086:0001\",\"busid\":\"0000:00:02.0\"}]");
	ck_assert_int_eq(azml_gpus_from_json(bad, back, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "GPU 0: needs vendor (nvidia|amd), model, pci_id (VVVV:DDDD) and busid");
	cJSON_Delete(bad);
	free(back);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("gpu");

	tcase_set_timeout(tc, 30);
	tu_add_shared_test(tc, dgx2_sixteen_volta);
	tu_add_shared_test(tc, xeon_three_nvidia_one_amd);
	tu_add_shared_test(tc, console_vga_is_no_gpu);
	tcase_add_test(tc, this_machine);
	tcase_add_test(tc, bad_topologies);
	tcase_add_test(tc, gres_conf_files);
	tcase_add_test(tc, nvml_absent);
	tcase_add_test(tc, nvml_present);
	tu_add_shared_test(tc, report_round_trip);
	return tu_run("gpu", tc);
}

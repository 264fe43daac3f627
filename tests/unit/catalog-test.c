/*
 * catalog-test.c - every row of the design document's three tables, size name
 * resolution, and Azure ML's own ListVMSizesResult example.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "testutil.h"

/* The design document's "Supported VM series" table, row by row. */
static const struct {
	const char *name, *category;
	bool approval, cluster_only;
	const char *arch;
} seed_series[] = {
	{ "DDSv4", "general", false, false, NULL },
	{ "Dv2", "general", false, false, NULL },
	{ "Dv3", "general", false, false, NULL },
	{ "DSv2", "general", false, false, NULL },
	{ "DSv3", "general", false, false, NULL },
	{ "EAv4", "memory", false, false, NULL },
	{ "Ev3", "memory", false, false, NULL },
	{ "FSv2", "compute", false, false, NULL },
	{ "FX", "compute", true, true, NULL },
	{ "H", "hpc", false, false, NULL },
	{ "HB", "hpc", true, false, NULL },
	{ "HBv2", "hpc", true, false, NULL },
	{ "HBv3", "hpc", true, false, NULL },
	{ "HC", "hpc", true, false, NULL },
	{ "LSv2", "storage", false, false, NULL },
	{ "M", "memory", true, false, NULL },
	{ "NC", "gpu", false, false, "Kepler" },
	{ "NC Promo", "gpu", false, false, "Kepler" },
	{ "NCv2", "gpu", true, false, "Pascal" },
	{ "NCv3", "gpu", true, false, "Volta" },
	{ "ND", "gpu", true, false, "Pascal" },
	{ "NDv2", "gpu", true, false, "Volta" },
	{ "NV", "gpu", false, false, "Maxwell" },
	{ "NVv3", "gpu", true, false, "Maxwell" },
	{ "NCasT4_v3", "gpu", true, false, "Turing" },
	{ "NDasrA100_v4", "gpu", true, false, "Ampere" },
};

/* The "GPU architecture and CUDA" table. */
static const struct {
	const char *arch, *series[2], *min_cuda;
} seed_archs[] = {
	{ "Ampere", { "NDasrA100_v4" }, "11.0" },
	{ "Turing", { "NCasT4_v3" }, "10.0" },
	{ "Volta", { "NCv3", "NDv2" }, "9.0" },
	{ "Pascal", { "NCv2", "ND" }, "9.0" },
	{ "Maxwell", { "NV", "NVv3" }, "9.0" },
	{ "Kepler", { "NC", "NC Promo" }, "9.0" },
};

static const char *seed_isolated[] = {
	"Standard_M128ms", "Standard_F72s_v2", "Standard_NC24s_v3",
	"Standard_NC24rs_v3",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static cJSON *_find_by(cJSON *arr, const char *key, const char *val)
{
	cJSON *it;

	cJSON_ArrayForEach(it, arr) {
		cJSON *k = cJSON_GetObjectItem(it, key);

		if (cJSON_IsString(k) && !strcmp(k->valuestring, val))
			return it;
	}
	return NULL;
}

START_TEST(series_rows_in_json)
{
	cJSON *root = azml_catalog_json();
	cJSON *series = cJSON_GetObjectItem(root, "series");

	ck_assert_int_eq(cJSON_GetArraySize(series), 26);
	for (size_t i = 0; i < N(seed_series); i++) {
		cJSON *o = _find_by(series, "name", seed_series[i].name);
		cJSON *arch;

		ck_assert_msg(o != NULL, "series %s missing", seed_series[i].name);
		ck_assert_str_eq(cJSON_GetObjectItem(o, "category")->valuestring,
				 seed_series[i].category);
		ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(o, "approval_required")),
				 seed_series[i].approval);
		ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "compute_cluster")));
		ck_assert_int_eq(cJSON_IsTrue(cJSON_GetObjectItem(o, "compute_instance")),
				 !seed_series[i].cluster_only);
		arch = cJSON_GetObjectItem(o, "gpu_arch");
		if (seed_series[i].arch) {
			ck_assert_str_eq(arch->valuestring, seed_series[i].arch);
			ck_assert(cJSON_IsString(cJSON_GetObjectItem(o, "min_cuda")));
		} else {
			ck_assert(cJSON_IsNull(arch));
			ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "min_cuda")));
		}
	}
	cJSON_Delete(root);
}
END_TEST

START_TEST(arch_rows_in_json)
{
	cJSON *root = azml_catalog_json();
	cJSON *archs = cJSON_GetObjectItem(root, "gpu_architectures");

	for (size_t i = 0; i < N(seed_archs); i++) {
		cJSON *o = _find_by(archs, "arch", seed_archs[i].arch);
		cJSON *list;
		int n = 0;

		ck_assert_msg(o != NULL, "arch %s missing", seed_archs[i].arch);
		ck_assert_str_eq(cJSON_GetObjectItem(o, "min_cuda")->valuestring,
				 seed_archs[i].min_cuda);
		list = cJSON_GetObjectItem(o, "series");
		for (int j = 0; j < 2 && seed_archs[i].series[j]; j++, n++)
			ck_assert_str_eq(cJSON_GetArrayItem(list, j)->valuestring,
					 seed_archs[i].series[j]);
		ck_assert_int_eq(cJSON_GetArraySize(list), n);
	}
	/* Each series' min_cuda is its architecture's. */
	cJSON *s;
	cJSON_ArrayForEach(s, cJSON_GetObjectItem(root, "series")) {
		cJSON *arch = cJSON_GetObjectItem(s, "gpu_arch");
		cJSON *a;

		if (!cJSON_IsString(arch))
			continue;
		a = _find_by(archs, "arch", arch->valuestring);
		ck_assert_ptr_nonnull(a);
		ck_assert_str_eq(cJSON_GetObjectItem(s, "min_cuda")->valuestring,
				 cJSON_GetObjectItem(a, "min_cuda")->valuestring);
	}
	cJSON_Delete(root);
}
END_TEST

START_TEST(isolated_rows_in_json)
{
	cJSON *root = azml_catalog_json();
	cJSON *iso = cJSON_GetObjectItem(root, "isolated_sizes");

	ck_assert_int_eq(cJSON_GetArraySize(iso), N(seed_isolated));
	for (size_t i = 0; i < N(seed_isolated); i++) {
		azml_size_info_t info;

		ck_assert_str_eq(cJSON_GetArrayItem(iso, i)->valuestring,
				 seed_isolated[i]);
		ck_assert_int_eq(azml_catalog_resolve(seed_isolated[i], &info), 0);
		ck_assert(info.isolated);
	}
	cJSON_Delete(root);
}
END_TEST

/* Real size names and the series Azure's naming rules give them. */
static const struct {
	const char *size, *series;
	int vcpus;
	bool rdma, isolated, in_table;
} sizes[] = {
	{ "Standard_NC6s_v3", "NCv3", 6, false, false, true },
	{ "Standard_D4ds_v4", "DDSv4", 4, false, false, true },
	{ "Standard_NC4as_T4_v3", "NCasT4_v3", 4, false, false, true },
	{ "Standard_ND96asr_v4", "NDasrA100_v4", 96, true, false, true },
	{ "Standard_NC6_Promo", "NC Promo", 6, false, false, true },
	{ "Standard_F72s_v2", "FSv2", 72, false, true, true },
	{ "Standard_DS3_v2", "DSv2", 4, false, false, true },
	{ "Standard_D2_v2", "Dv2", 2, false, false, true },
	{ "Standard_D8_v3", "Dv3", 8, false, false, true },
	{ "Standard_D4s_v3", "DSv3", 4, false, false, true },
	{ "Standard_E8a_v4", "EAv4", 8, false, false, true },
	{ "Standard_E8as_v4", "EAv4", 8, false, false, false },
	{ "Standard_E16_v3", "Ev3", 16, false, false, true },
	{ "Standard_FX12mds", "FX", 12, false, false, true },
	{ "Standard_H16r", "H", 16, true, false, true },
	{ "Standard_HB60rs", "HB", 60, true, false, true },
	{ "Standard_HB120rs_v2", "HBv2", 120, true, false, true },
	{ "Standard_HB120-64rs_v3", "HBv3", 64, true, false, true },
	{ "Standard_HC44rs", "HC", 44, true, false, true },
	{ "Standard_L16s_v2", "LSv2", 16, false, false, true },
	{ "Standard_M128ms", "M", 128, false, true, true },
	{ "Standard_M8-2ms", "M", 2, false, false, false },
	{ "Standard_NC24r", "NC", 24, true, false, true },
	{ "Standard_NC12s_v2", "NCv2", 12, false, false, true },
	{ "Standard_NC24rs_v3", "NCv3", 24, true, true, true },
	{ "Standard_NC24s_v3", "NCv3", 24, false, true, true },
	{ "Standard_ND24rs", "ND", 24, true, false, true },
	{ "Standard_ND40rs_v2", "NDv2", 40, true, false, true },
	{ "Standard_NV12", "NV", 12, false, false, true },
	{ "Standard_NV24s_v3", "NVv3", 24, false, false, true },
	/* case-insensitive, as Azure ML writes them */
	{ "STANDARD_NC6S_V3", "NCv3", 6, false, false, true },
	{ "standard_nc24rs_v3", "NCv3", 24, true, true, true },
};

START_TEST(size_resolution)
{
	azml_size_info_t info;

	memset(&info, 0, sizeof(info));
	ck_assert_msg(azml_catalog_resolve(sizes[_i].size, &info) == 0,
		      "%s did not resolve", sizes[_i].size);
	ck_assert_str_eq(info.series->name, sizes[_i].series);
	ck_assert_int_eq(info.vcpus, sizes[_i].vcpus);
	ck_assert_int_eq(info.rdma, sizes[_i].rdma);
	ck_assert_int_eq(info.isolated, sizes[_i].isolated);
	ck_assert_int_eq(info.size != NULL, sizes[_i].in_table);
	if (info.size)	/* canonical spelling */
		ck_assert_str_eq(info.name, info.size->name);
}
END_TEST

static const char *unknown_sizes[] = {
	"Standard_D2",			/* Dv1: not supported by Azure ML */
	"Standard_D4d_v4",		/* Ddv4: not in the table */
	"Standard_ND96amsr_A100_v4",	/* NDm A100 v4: not in the table */
	"Standard_NC6s_v9",
	"Standard_NV6_Promo",
	"Standard_NC6s_v3_x",
	"Standard_NC0s_v3",
	"Standard_NCs_v3",
	"Standard_HB120-200rs_v3",
	"NC6s_v3",
	"Standard_",
	"",
	"Standard_NC6s_v3 ",
	"Standard_NC6s_v3/../x",
	"Standard_NC99999s_v3",
};

START_TEST(unknown_sizes_refused)
{
	azml_size_info_t info;

	memset(&info, 0x5a, sizeof(info));
	ck_assert_msg(azml_catalog_resolve(unknown_sizes[_i], &info) == -1,
		      "'%s' resolved", unknown_sizes[_i]);
	ck_assert_int_eq(((unsigned char *) &info)[0], 0x5a); /* untouched */
}
END_TEST

START_TEST(every_table_size_resolves_to_its_series)
{
	for (size_t i = 0; i < azml_catalog_size_count(); i++) {
		const azml_size_t *s = azml_catalog_size_at(i);
		azml_size_info_t info;

		ck_assert_msg(azml_catalog_resolve(s->name, &info) == 0, "%s",
			      s->name);
		ck_assert_msg(!strcmp(info.series->name, s->series),
			      "%s: rules say %s, table says %s", s->name,
			      info.series->name, s->series);
		ck_assert_ptr_eq(info.size, s);
		ck_assert_int_eq(s->gpus > 0, info.arch != NULL);
	}
}
END_TEST

/* Azure ML's ListVMSizesResult example: each size of a family the design
 * document supports resolves to that series, with the same figures. */
START_TEST(azure_ml_vm_sizes_example)
{
	static const struct { const char *family, *series; } fam[] = {
		{ "standardDv2Family", "Dv2" }, { "standardDSv2Family", "DSv2" },
		{ "standardFSv2Family", "FSv2" }, { "standardNCSv3Family", "NCv3" },
		{ "standardNVFamily", "NV" }, { "standardNCFamily", "NC" },
		{ "standardMSFamily", "M" }, { "standardNVSv3Family", "NVv3" },
	};
	FILE *fp = fopen(AZML_TOP_SRCDIR "/../shared/azure-rest-examples/"
			 "machinelearning/ListVMSizesResult.json", "r");
	char *text;
	long len;
	cJSON *root, *it;
	int checked = 0, unsupported = 0;

	ck_assert_msg(fp != NULL, "../shared/azure-rest-examples missing");
	fseek(fp, 0, SEEK_END);
	len = ftell(fp);
	rewind(fp);
	text = calloc(1, len + 1);
	ck_assert_int_eq(fread(text, 1, len, fp), len);
	fclose(fp);
	root = cJSON_Parse(text);
	free(text);
	ck_assert_ptr_nonnull(root);
	it = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(root, "responses"), "200"), "body"), "value");
	ck_assert_int_gt(cJSON_GetArraySize(it), 50);
	cJSON *sz;
	cJSON_ArrayForEach(sz, it) {
		const char *name = cJSON_GetObjectItem(sz, "name")->valuestring;
		const char *family = cJSON_GetObjectItem(sz, "family")->valuestring;
		const char *want = NULL;
		azml_size_info_t info;

		for (size_t i = 0; i < N(fam); i++)
			if (!strcmp(fam[i].family, family))
				want = fam[i].series;
		if (!want) {
			ck_assert_msg(azml_catalog_resolve(name, &info) == -1,
				      "%s (%s) resolved", name, family);
			unsupported++;
			continue;
		}
		ck_assert_msg(azml_catalog_resolve(name, &info) == 0, "%s", name);
		ck_assert_msg(!strcmp(info.series->name, want), "%s: %s != %s",
			      name, info.series->name, want);
		if (!info.size)
			continue;	/* constrained-core sizes (M8-2ms) */
		ck_assert_int_eq(info.size->vcpus,
				 cJSON_GetObjectItem(sz, "vCPUs")->valueint);
		ck_assert_int_eq(info.size->gpus,
				 cJSON_GetObjectItem(sz, "gpus")->valueint);
		ck_assert_int_eq(info.size->memory_mib,
				 (int) (cJSON_GetObjectItem(sz, "memoryGB")->valuedouble * 1024));
		checked++;
	}
	ck_assert_int_ge(checked, 50);
	ck_assert_int_gt(unsupported, 0);
	cJSON_Delete(root);
}
END_TEST

START_TEST(cuda_rules)
{
	int ma, mi;

	ck_assert(azml_arch_supports_cuda(azml_catalog_find_arch("Volta"), 9, 0));
	ck_assert(azml_arch_supports_cuda(azml_catalog_find_arch("Volta"), 12, 4));
	ck_assert(!azml_arch_supports_cuda(azml_catalog_find_arch("Volta"), 8, 0));
	ck_assert(!azml_arch_supports_cuda(azml_catalog_find_arch("Ampere"), 10, 2));
	ck_assert(azml_arch_supports_cuda(azml_catalog_find_arch("Ampere"), 11, 0));
	ck_assert(!azml_arch_supports_cuda(azml_catalog_find_arch("Turing"), 9, 2));
	ck_assert(azml_arch_supports_cuda(azml_catalog_find_arch("Kepler"), 11, 8));
	ck_assert(!azml_arch_supports_cuda(azml_catalog_find_arch("Kepler"), 12, 0));
	ck_assert(!azml_arch_supports_cuda(NULL, 12, 0));
	ck_assert_int_eq(azml_cuda_parse("11.8", &ma, &mi), 0);
	ck_assert_int_eq(ma * 100 + mi, 1108);
	ck_assert_int_eq(azml_cuda_parse("12", &ma, &mi), 0);
	ck_assert_int_eq(ma * 100 + mi, 1200);
	ck_assert_int_eq(azml_cuda_parse("1x", &ma, &mi), -1);
	ck_assert_int_eq(azml_cuda_parse("11.", &ma, &mi), -1);
	ck_assert_int_eq(azml_cuda_parse(".5", &ma, &mi), -1);
	ck_assert_int_eq(azml_cuda_parse("11.8.1", &ma, &mi), -1);
	ck_assert_int_eq(azml_cuda_parse("99999", &ma, &mi), -1);
	ck_assert_int_eq(azml_cuda_parse("", &ma, &mi), -1);
}
END_TEST

START_TEST(size_json)
{
	azml_size_info_t info;
	cJSON *o;

	ck_assert_int_eq(azml_catalog_resolve("Standard_NC24rs_v3", &info), 0);
	o = azml_size_info_json(&info);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "size")->valuestring,
			 "Standard_NC24rs_v3");
	ck_assert_str_eq(cJSON_GetObjectItem(o, "series")->valuestring, "NCv3");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "isolated")));
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "rdma")));
	ck_assert_int_eq(cJSON_GetObjectItem(o, "gpus")->valueint, 4);
	ck_assert_str_eq(cJSON_GetObjectItem(o, "gpu_arch")->valuestring, "Volta");
	cJSON_Delete(o);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("catalog");

	tcase_add_test(tc, series_rows_in_json);
	tcase_add_test(tc, arch_rows_in_json);
	tcase_add_test(tc, isolated_rows_in_json);
	tcase_add_loop_test(tc, size_resolution, 0, N(sizes));
	tcase_add_loop_test(tc, unknown_sizes_refused, 0, N(unknown_sizes));
	tcase_add_test(tc, every_table_size_resolves_to_its_series);
	tu_add_shared_test(tc, azure_ml_vm_sizes_example);
	tcase_add_test(tc, cuda_rules);
	tcase_add_test(tc, size_json);
	return tu_run("catalog", tc);
}

/*
 * catalog.c - VM series, GPU architectures, isolated sizes and VM sizes.
 *
 * The series, architecture and isolation tables are the design document's.
 * The size table is from Azure's published size pages and, where they
 * overlap, agrees with Azure ML's own ListVMSizesResult example (memory as
 * that example gives it: M64s 1000 GiB, not 1024): vCPUs, memory and GPUs of
 * the sizes users deploy in each supported series.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalog.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const azml_series_t series_tab[] = {
	/* name        category          approval cluster instance gpu arch */
	{ "DDSv4",        AZML_CAT_GENERAL, false, true, true,  NULL },
	{ "Dv2",          AZML_CAT_GENERAL, false, true, true,  NULL },
	{ "Dv3",          AZML_CAT_GENERAL, false, true, true,  NULL },
	{ "DSv2",         AZML_CAT_GENERAL, false, true, true,  NULL },
	{ "DSv3",         AZML_CAT_GENERAL, false, true, true,  NULL },
	{ "EAv4",         AZML_CAT_MEMORY,  false, true, true,  NULL },
	{ "Ev3",          AZML_CAT_MEMORY,  false, true, true,  NULL },
	{ "FSv2",         AZML_CAT_COMPUTE, false, true, true,  NULL },
	{ "FX",           AZML_CAT_COMPUTE, true,  true, false, NULL },
	{ "H",            AZML_CAT_HPC,     false, true, true,  NULL },
	{ "HB",           AZML_CAT_HPC,     true,  true, true,  NULL },
	{ "HBv2",         AZML_CAT_HPC,     true,  true, true,  NULL },
	{ "HBv3",         AZML_CAT_HPC,     true,  true, true,  NULL },
	{ "HC",           AZML_CAT_HPC,     true,  true, true,  NULL },
	{ "LSv2",         AZML_CAT_STORAGE, false, true, true,  NULL },
	{ "M",            AZML_CAT_MEMORY,  true,  true, true,  NULL },
	{ "NC",           AZML_CAT_GPU,     false, true, true,  "Kepler" },
	{ "NC Promo",     AZML_CAT_GPU,     false, true, true,  "Kepler" },
	{ "NCv2",         AZML_CAT_GPU,     true,  true, true,  "Pascal" },
	{ "NCv3",         AZML_CAT_GPU,     true,  true, true,  "Volta" },
	{ "ND",           AZML_CAT_GPU,     true,  true, true,  "Pascal" },
	{ "NDv2",         AZML_CAT_GPU,     true,  true, true,  "Volta" },
	{ "NV",           AZML_CAT_GPU,     false, true, true,  "Maxwell" },
	{ "NVv3",         AZML_CAT_GPU,     true,  true, true,  "Maxwell" },
	{ "NCasT4_v3",    AZML_CAT_GPU,     true,  true, true,  "Turing" },
	{ "NDasrA100_v4", AZML_CAT_GPU,     true,  true, true,  "Ampere" },
};

static const azml_gpu_arch_t arch_tab[] = {
	{ "Ampere",  "11.0", NULL,   { "NDasrA100_v4" } },
	{ "Turing",  "10.0", NULL,   { "NCasT4_v3" } },
	{ "Volta",   "9.0",  NULL,   { "NCv3", "NDv2" } },
	{ "Pascal",  "9.0",  NULL,   { "NCv2", "ND" } },
	{ "Maxwell", "9.0",  NULL,   { "NV", "NVv3" } },
	/* NVIDIA, CUDA 12.0 release notes: support for Kepler (sm_35, sm_37)
	 * removed; CUDA 11.8 is the last toolkit that builds for it. */
	{ "Kepler",  "9.0",  "11.8", { "NC", "NC Promo" } },
	/* NVIDIA, CUDA 11.8 release notes: first toolkit with sm_90 (Hopper).
	 * No Azure ML series of the design document uses it; node-check needs
	 * it for attached nodes. */
	{ "Hopper",  "11.8", NULL,   { NULL } },
	/* NVIDIA, CUDA 9.0 release notes: Fermi (sm_20, sm_21) is no longer
	 * supported; CUDA 8.0 is the last toolkit for it.  Only for attached
	 * nodes: no Azure series has it. */
	{ "Fermi",   "3.0",  "8.0",  { NULL } },
};

/* GPU models and their architecture (NVIDIA's product pages). */
static const struct {
	const char *model, *arch;
} model_tab[] = {
	{ "K80", "Kepler" }, { "K40", "Kepler" }, { "K20", "Kepler" },
	{ "M60", "Maxwell" }, { "M40", "Maxwell" },
	{ "P100", "Pascal" }, { "P40", "Pascal" }, { "P4", "Pascal" },
	{ "V100", "Volta" },
	{ "T4", "Turing" },
	{ "A100", "Ampere" }, { "A10", "Ampere" }, { "A30", "Ampere" },
	{ "A40", "Ampere" },
	{ "H100", "Hopper" }, { "H200", "Hopper" },
	{ "M2050", "Fermi" }, { "M2070", "Fermi" }, { "M2075", "Fermi" },
	{ "M2090", "Fermi" }, { "C2050", "Fermi" }, { "C2070", "Fermi" },
};

/* NVIDIA data-centre GPUs by PCI device id (vendor 0x10de), from the PCI ID
 * Repository, for GPUs whose driver reports no model name. */
static const struct {
	unsigned short device;
	const char *arch;
} pci_tab[] = {
	{ 0x06d1, "Fermi" },	/* Tesla C2050 / C2070 */
	{ 0x06d2, "Fermi" },	/* Tesla M2070 */
	{ 0x1091, "Fermi" },	/* Tesla M2090 */
	{ 0x1094, "Fermi" },	/* Tesla M2075 */
	{ 0x1022, "Kepler" },	/* Tesla K20c */
	{ 0x1023, "Kepler" },	/* Tesla K40m */
	{ 0x1024, "Kepler" },	/* Tesla K40c */
	{ 0x1028, "Kepler" },	/* Tesla K20m */
	{ 0x102d, "Kepler" },	/* Tesla K80 */
	{ 0x13f2, "Maxwell" },	/* Tesla M60 */
	{ 0x17fd, "Maxwell" },	/* Tesla M40 24GB */
	{ 0x15f7, "Pascal" },	/* Tesla P100 PCIe 12GB */
	{ 0x15f8, "Pascal" },	/* Tesla P100 PCIe 16GB */
	{ 0x15f9, "Pascal" },	/* Tesla P100 SXM2 16GB */
	{ 0x1b38, "Pascal" },	/* Tesla P40 */
	{ 0x1bb3, "Pascal" },	/* Tesla P4 */
	{ 0x1db1, "Volta" },	/* Tesla V100 SXM2 16GB */
	{ 0x1db4, "Volta" },	/* Tesla V100 PCIe 16GB */
	{ 0x1db5, "Volta" },	/* Tesla V100 SXM2 32GB */
	{ 0x1db6, "Volta" },	/* Tesla V100 PCIe 32GB */
	{ 0x1db8, "Volta" },	/* Tesla V100 SXM3 32GB */
	{ 0x1eb8, "Turing" },	/* Tesla T4 */
	{ 0x20b0, "Ampere" },	/* A100 SXM4 40GB */
	{ 0x20b2, "Ampere" },	/* A100 SXM4 80GB */
	{ 0x20b5, "Ampere" },	/* A100 PCIe 80GB */
	{ 0x20f1, "Ampere" },	/* A100 PCIe 40GB */
	{ 0x20b7, "Ampere" },	/* A30 */
	{ 0x2235, "Ampere" },	/* A40 */
	{ 0x2236, "Ampere" },	/* A10 */
	{ 0x2330, "Hopper" },	/* H100 SXM5 80GB */
	{ 0x2331, "Hopper" },	/* H100 PCIe */
	{ 0x2335, "Hopper" },	/* H200 SXM 141GB */
};

static const char *isolated_tab[] = {
	"Standard_M128ms",
	"Standard_F72s_v2",
	"Standard_NC24s_v3",
	"Standard_NC24rs_v3",
};

#define GIB(x) ((int) ((x) * 1024))
static const azml_size_t size_tab[] = {
	{ "Standard_D2ds_v4",   "DDSv4", 2,  GIB(8),   0, NULL },
	{ "Standard_D4ds_v4",   "DDSv4", 4,  GIB(16),  0, NULL },
	{ "Standard_D8ds_v4",   "DDSv4", 8,  GIB(32),  0, NULL },
	{ "Standard_D16ds_v4",  "DDSv4", 16, GIB(64),  0, NULL },
	{ "Standard_D32ds_v4",  "DDSv4", 32, GIB(128), 0, NULL },
	{ "Standard_D48ds_v4",  "DDSv4", 48, GIB(192), 0, NULL },
	{ "Standard_D64ds_v4",  "DDSv4", 64, GIB(256), 0, NULL },
	{ "Standard_D1_v2",     "Dv2",   1,  GIB(3.5), 0, NULL },
	{ "Standard_D2_v2",     "Dv2",   2,  GIB(7),   0, NULL },
	{ "Standard_D3_v2",     "Dv2",   4,  GIB(14),  0, NULL },
	{ "Standard_D4_v2",     "Dv2",   8,  GIB(28),  0, NULL },
	{ "Standard_D5_v2",     "Dv2",   16, GIB(56),  0, NULL },
	{ "Standard_D11_v2",    "Dv2",   2,  GIB(14),  0, NULL },
	{ "Standard_D12_v2",    "Dv2",   4,  GIB(28),  0, NULL },
	{ "Standard_D13_v2",    "Dv2",   8,  GIB(56),  0, NULL },
	{ "Standard_D14_v2",    "Dv2",   16, GIB(112), 0, NULL },
	{ "Standard_D15_v2",    "Dv2",   20, GIB(140), 0, NULL },
	{ "Standard_D2_v3",     "Dv3",   2,  GIB(8),   0, NULL },
	{ "Standard_D4_v3",     "Dv3",   4,  GIB(16),  0, NULL },
	{ "Standard_D8_v3",     "Dv3",   8,  GIB(32),  0, NULL },
	{ "Standard_D16_v3",    "Dv3",   16, GIB(64),  0, NULL },
	{ "Standard_D32_v3",    "Dv3",   32, GIB(128), 0, NULL },
	{ "Standard_D48_v3",    "Dv3",   48, GIB(192), 0, NULL },
	{ "Standard_D64_v3",    "Dv3",   64, GIB(256), 0, NULL },
	{ "Standard_DS1_v2",    "DSv2",  1,  GIB(3.5), 0, NULL },
	{ "Standard_DS2_v2",    "DSv2",  2,  GIB(7),   0, NULL },
	{ "Standard_DS3_v2",    "DSv2",  4,  GIB(14),  0, NULL },
	{ "Standard_DS4_v2",    "DSv2",  8,  GIB(28),  0, NULL },
	{ "Standard_DS5_v2",    "DSv2",  16, GIB(56),  0, NULL },
	{ "Standard_DS11_v2",   "DSv2",  2,  GIB(14),  0, NULL },
	{ "Standard_DS12_v2",   "DSv2",  4,  GIB(28),  0, NULL },
	{ "Standard_DS13_v2",   "DSv2",  8,  GIB(56),  0, NULL },
	{ "Standard_DS14_v2",   "DSv2",  16, GIB(112), 0, NULL },
	{ "Standard_DS15_v2",   "DSv2",  20, GIB(140), 0, NULL },
	{ "Standard_D2s_v3",    "DSv3",  2,  GIB(8),   0, NULL },
	{ "Standard_D4s_v3",    "DSv3",  4,  GIB(16),  0, NULL },
	{ "Standard_D8s_v3",    "DSv3",  8,  GIB(32),  0, NULL },
	{ "Standard_D16s_v3",   "DSv3",  16, GIB(64),  0, NULL },
	{ "Standard_D32s_v3",   "DSv3",  32, GIB(128), 0, NULL },
	{ "Standard_D48s_v3",   "DSv3",  48, GIB(192), 0, NULL },
	{ "Standard_D64s_v3",   "DSv3",  64, GIB(256), 0, NULL },
	{ "Standard_E2a_v4",    "EAv4",  2,  GIB(16),  0, NULL },
	{ "Standard_E4a_v4",    "EAv4",  4,  GIB(32),  0, NULL },
	{ "Standard_E8a_v4",    "EAv4",  8,  GIB(64),  0, NULL },
	{ "Standard_E16a_v4",   "EAv4",  16, GIB(128), 0, NULL },
	{ "Standard_E32a_v4",   "EAv4",  32, GIB(256), 0, NULL },
	{ "Standard_E48a_v4",   "EAv4",  48, GIB(384), 0, NULL },
	{ "Standard_E64a_v4",   "EAv4",  64, GIB(512), 0, NULL },
	{ "Standard_E96a_v4",   "EAv4",  96, GIB(672), 0, NULL },
	{ "Standard_E2_v3",     "Ev3",   2,  GIB(16),  0, NULL },
	{ "Standard_E4_v3",     "Ev3",   4,  GIB(32),  0, NULL },
	{ "Standard_E8_v3",     "Ev3",   8,  GIB(64),  0, NULL },
	{ "Standard_E16_v3",    "Ev3",   16, GIB(128), 0, NULL },
	{ "Standard_E20_v3",    "Ev3",   20, GIB(160), 0, NULL },
	{ "Standard_E32_v3",    "Ev3",   32, GIB(256), 0, NULL },
	{ "Standard_E48_v3",    "Ev3",   48, GIB(384), 0, NULL },
	{ "Standard_E64_v3",    "Ev3",   64, GIB(432), 0, NULL },
	{ "Standard_F2s_v2",    "FSv2",  2,  GIB(4),   0, NULL },
	{ "Standard_F4s_v2",    "FSv2",  4,  GIB(8),   0, NULL },
	{ "Standard_F8s_v2",    "FSv2",  8,  GIB(16),  0, NULL },
	{ "Standard_F16s_v2",   "FSv2",  16, GIB(32),  0, NULL },
	{ "Standard_F32s_v2",   "FSv2",  32, GIB(64),  0, NULL },
	{ "Standard_F48s_v2",   "FSv2",  48, GIB(96),  0, NULL },
	{ "Standard_F64s_v2",   "FSv2",  64, GIB(128), 0, NULL },
	{ "Standard_F72s_v2",   "FSv2",  72, GIB(144), 0, NULL },
	{ "Standard_FX4mds",    "FX",    4,  GIB(84),  0, NULL },
	{ "Standard_FX12mds",   "FX",    12, GIB(252), 0, NULL },
	{ "Standard_FX24mds",   "FX",    24, GIB(504), 0, NULL },
	{ "Standard_FX36mds",   "FX",    36, GIB(756), 0, NULL },
	{ "Standard_FX48mds",   "FX",    48, GIB(1008), 0, NULL },
	{ "Standard_H8",        "H",     8,  GIB(56),  0, NULL },
	{ "Standard_H16",       "H",     16, GIB(112), 0, NULL },
	{ "Standard_H8m",       "H",     8,  GIB(112), 0, NULL },
	{ "Standard_H16m",      "H",     16, GIB(224), 0, NULL },
	{ "Standard_H16r",      "H",     16, GIB(112), 0, NULL },
	{ "Standard_H16mr",     "H",     16, GIB(224), 0, NULL },
	{ "Standard_HB60rs",    "HB",    60, GIB(228), 0, NULL },
	{ "Standard_HB120rs_v2", "HBv2", 120, GIB(456), 0, NULL },
	{ "Standard_HB120rs_v3", "HBv3", 120, GIB(448), 0, NULL },
	{ "Standard_HB120-96rs_v3", "HBv3", 96, GIB(448), 0, NULL },
	{ "Standard_HB120-64rs_v3", "HBv3", 64, GIB(448), 0, NULL },
	{ "Standard_HB120-32rs_v3", "HBv3", 32, GIB(448), 0, NULL },
	{ "Standard_HB120-16rs_v3", "HBv3", 16, GIB(448), 0, NULL },
	{ "Standard_HC44rs",    "HC",    44, GIB(352), 0, NULL },
	{ "Standard_L8s_v2",    "LSv2",  8,  GIB(64),  0, NULL },
	{ "Standard_L16s_v2",   "LSv2",  16, GIB(128), 0, NULL },
	{ "Standard_L32s_v2",   "LSv2",  32, GIB(256), 0, NULL },
	{ "Standard_L48s_v2",   "LSv2",  48, GIB(384), 0, NULL },
	{ "Standard_L64s_v2",   "LSv2",  64, GIB(512), 0, NULL },
	{ "Standard_L80s_v2",   "LSv2",  80, GIB(640), 0, NULL },
	{ "Standard_M8ms",      "M",     8,  GIB(218.75), 0, NULL },
	{ "Standard_M16ms",     "M",     16, GIB(437.5), 0, NULL },
	{ "Standard_M32ts",     "M",     32, GIB(192), 0, NULL },
	{ "Standard_M32ls",     "M",     32, GIB(256), 0, NULL },
	{ "Standard_M32ms",     "M",     32, GIB(875), 0, NULL },
	{ "Standard_M64",       "M",     64, GIB(1000), 0, NULL },
	{ "Standard_M64s",      "M",     64, GIB(1000), 0, NULL },
	{ "Standard_M64ls",     "M",     64, GIB(512), 0, NULL },
	{ "Standard_M64m",      "M",     64, GIB(1750), 0, NULL },
	{ "Standard_M64ms",     "M",     64, GIB(1750), 0, NULL },
	{ "Standard_M128",      "M",     128, GIB(2000), 0, NULL },
	{ "Standard_M128s",     "M",     128, GIB(2000), 0, NULL },
	{ "Standard_M128m",     "M",     128, GIB(3800), 0, NULL },
	{ "Standard_M128ms",    "M",     128, GIB(3800), 0, NULL },
	{ "Standard_NC6",       "NC",    6,  GIB(56),  1, "K80" },
	{ "Standard_NC12",      "NC",    12, GIB(112), 2, "K80" },
	{ "Standard_NC24",      "NC",    24, GIB(224), 4, "K80" },
	{ "Standard_NC24r",     "NC",    24, GIB(224), 4, "K80" },
	{ "Standard_NC6_Promo", "NC Promo", 6,  GIB(56),  1, "K80" },
	{ "Standard_NC12_Promo", "NC Promo", 12, GIB(112), 2, "K80" },
	{ "Standard_NC24_Promo", "NC Promo", 24, GIB(224), 4, "K80" },
	{ "Standard_NC24r_Promo", "NC Promo", 24, GIB(224), 4, "K80" },
	{ "Standard_NC6s_v2",   "NCv2",  6,  GIB(112), 1, "P100" },
	{ "Standard_NC12s_v2",  "NCv2",  12, GIB(224), 2, "P100" },
	{ "Standard_NC24s_v2",  "NCv2",  24, GIB(448), 4, "P100" },
	{ "Standard_NC24rs_v2", "NCv2",  24, GIB(448), 4, "P100" },
	{ "Standard_NC6s_v3",   "NCv3",  6,  GIB(112), 1, "V100" },
	{ "Standard_NC12s_v3",  "NCv3",  12, GIB(224), 2, "V100" },
	{ "Standard_NC24s_v3",  "NCv3",  24, GIB(448), 4, "V100" },
	{ "Standard_NC24rs_v3", "NCv3",  24, GIB(448), 4, "V100" },
	{ "Standard_ND6s",      "ND",    6,  GIB(112), 1, "P40" },
	{ "Standard_ND12s",     "ND",    12, GIB(224), 2, "P40" },
	{ "Standard_ND24s",     "ND",    24, GIB(448), 4, "P40" },
	{ "Standard_ND24rs",    "ND",    24, GIB(448), 4, "P40" },
	{ "Standard_ND40rs_v2", "NDv2",  40, GIB(672), 8, "V100" },
	{ "Standard_NV6",       "NV",    6,  GIB(56),  1, "M60" },
	{ "Standard_NV12",      "NV",    12, GIB(112), 2, "M60" },
	{ "Standard_NV24",      "NV",    24, GIB(224), 4, "M60" },
	{ "Standard_NV12s_v3",  "NVv3",  12, GIB(112), 1, "M60" },
	{ "Standard_NV24s_v3",  "NVv3",  24, GIB(224), 2, "M60" },
	{ "Standard_NV48s_v3",  "NVv3",  48, GIB(448), 4, "M60" },
	{ "Standard_NC4as_T4_v3",  "NCasT4_v3", 4,  GIB(28),  1, "T4" },
	{ "Standard_NC8as_T4_v3",  "NCasT4_v3", 8,  GIB(56),  1, "T4" },
	{ "Standard_NC16as_T4_v3", "NCasT4_v3", 16, GIB(110), 1, "T4" },
	{ "Standard_NC64as_T4_v3", "NCasT4_v3", 64, GIB(440), 4, "T4" },
	{ "Standard_ND96asr_v4", "NDasrA100_v4", 96, GIB(900), 8, "A100" },
};

/*
 * Naming rules: Standard_<family><vCPUs>[-<active vCPUs>]<features>
 * [_<accelerator>][_v<version>][_Promo].  Each rule names the family, the
 * feature letters it takes (lower case, in Azure's order), the version (0:
 * none) and the accelerator or Promo suffix it requires.
 */
typedef struct {
	const char *series;
	const char *family;
	const char *features[7];
	int version;
	const char *suffix;		/* "T4", "Promo" or NULL */
} name_rule_t;

static const name_rule_t rule_tab[] = {
	{ "DDSv4",        "D",  { "ds" }, 4, NULL },
	{ "Dv2",          "D",  { "" }, 2, NULL },
	{ "Dv3",          "D",  { "" }, 3, NULL },
	{ "DSv2",         "DS", { "" }, 2, NULL },
	{ "DSv3",         "D",  { "s" }, 3, NULL },
	/* Azure documents Eav4 and Easv4 (and Ev3, Esv3) on one page each. */
	{ "EAv4",         "E",  { "a", "as" }, 4, NULL },
	{ "Ev3",          "E",  { "", "s" }, 3, NULL },
	{ "FSv2",         "F",  { "s" }, 2, NULL },
	{ "FX",           "FX", { "mds", "ms" }, 0, NULL },
	{ "H",            "H",  { "", "m", "r", "mr" }, 0, NULL },
	{ "HB",           "HB", { "rs" }, 0, NULL },
	{ "HBv2",         "HB", { "rs" }, 2, NULL },
	{ "HBv3",         "HB", { "rs" }, 3, NULL },
	{ "HC",           "HC", { "rs" }, 0, NULL },
	{ "LSv2",         "L",  { "s" }, 2, NULL },
	{ "M",            "M",  { "", "m", "s", "ms", "ls", "ts" }, 0, NULL },
	{ "NC",           "NC", { "", "r" }, 0, NULL },
	{ "NC Promo",     "NC", { "", "r" }, 0, "Promo" },
	{ "NCv2",         "NC", { "s", "rs" }, 2, NULL },
	{ "NCv3",         "NC", { "s", "rs" }, 3, NULL },
	{ "ND",           "ND", { "s", "rs" }, 0, NULL },
	{ "NDv2",         "ND", { "rs" }, 2, NULL },
	{ "NV",           "NV", { "" }, 0, NULL },
	{ "NVv3",         "NV", { "s" }, 3, NULL },
	{ "NCasT4_v3",    "NC", { "as" }, 3, "T4" },
	{ "NDasrA100_v4", "ND", { "asr" }, 4, NULL },
};

/* Families, longest first so that "FX" is tried before "F". */
static const char *family_tab[] = {
	"DS", "FX", "HB", "HC", "NC", "ND", "NV",
	"D", "E", "F", "H", "L", "M",
};

static const char *category_names[] = {
	"general", "memory", "compute", "hpc", "storage", "gpu",
};

const char *azml_category_name(azml_category_t c)
{
	if ((size_t) c >= NELEM(category_names))
		return "unknown";
	return category_names[c];
}

size_t azml_catalog_series_count(void) { return NELEM(series_tab); }
size_t azml_catalog_arch_count(void) { return NELEM(arch_tab); }
size_t azml_catalog_isolated_count(void) { return NELEM(isolated_tab); }
size_t azml_catalog_size_count(void) { return NELEM(size_tab); }

const azml_series_t *azml_catalog_series_at(size_t i)
{
	return i < NELEM(series_tab) ? &series_tab[i] : NULL;
}

const azml_gpu_arch_t *azml_catalog_arch_at(size_t i)
{
	return i < NELEM(arch_tab) ? &arch_tab[i] : NULL;
}

const char *azml_catalog_isolated_at(size_t i)
{
	return i < NELEM(isolated_tab) ? isolated_tab[i] : NULL;
}

const azml_size_t *azml_catalog_size_at(size_t i)
{
	return i < NELEM(size_tab) ? &size_tab[i] : NULL;
}

const azml_series_t *azml_catalog_find_series(const char *name)
{
	for (size_t i = 0; name && i < NELEM(series_tab); i++)
		if (!strcasecmp(series_tab[i].name, name))
			return &series_tab[i];
	return NULL;
}

const azml_gpu_arch_t *azml_catalog_find_arch(const char *arch)
{
	for (size_t i = 0; arch && i < NELEM(arch_tab); i++)
		if (!strcasecmp(arch_tab[i].arch, arch))
			return &arch_tab[i];
	return NULL;
}

/* vCPU quota families as Azure's usage API names them. */
static const struct {
	const char *series, *family;
} family_names[] = {
	{ "DDSv4", "standardDDSv4Family" }, { "Dv2", "standardDv2Family" },
	{ "Dv3", "standardDv3Family" }, { "DSv2", "standardDSv2Family" },
	{ "DSv3", "standardDSv3Family" }, { "EAv4", "standardEAv4Family" },
	{ "Ev3", "standardEv3Family" }, { "FSv2", "standardFSv2Family" },
	{ "FX", "standardFXMDVSFamily" }, { "H", "standardHFamily" },
	{ "HB", "standardHBSFamily" }, { "HBv2", "standardHBrsv2Family" },
	{ "HBv3", "standardHBv3Family" }, { "HC", "standardHCSFamily" },
	{ "LSv2", "standardLSv2Family" }, { "M", "standardMSFamily" },
	{ "NC", "standardNCFamily" }, { "NC Promo", "standardNCPromoFamily" },
	{ "NCv2", "standardNCSv2Family" }, { "NCv3", "standardNCSv3Family" },
	{ "ND", "standardNDSFamily" }, { "NDv2", "standardNDSv2Family" },
	{ "NV", "standardNVFamily" }, { "NVv3", "standardNVSv3Family" },
	{ "NCasT4_v3", "standardNCASv3_T4Family" },
	{ "NDasrA100_v4", "standardNDASv4_A100Family" },
};

const char *azml_series_quota_family(const azml_series_t *series)
{
	for (size_t i = 0; series && i < NELEM(family_names); i++)
		if (!strcmp(family_names[i].series, series->name))
			return family_names[i].family;
	return NULL;
}

const azml_gpu_arch_t *azml_catalog_arch_of_model(const char *model)
{
	for (size_t i = 0; model && i < NELEM(model_tab); i++)
		if (!strcasecmp(model_tab[i].model, model))
			return azml_catalog_find_arch(model_tab[i].arch);
	return NULL;
}

/* "K40m" -> "K40": the model without a lower-case variant suffix. */
static const azml_gpu_arch_t *_arch_of_token(const char *tok, size_t n)
{
	char buf[32];

	if (!n || n >= sizeof(buf))
		return NULL;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	for (;;) {
		const azml_gpu_arch_t *a = azml_catalog_arch_of_model(buf);

		if (a)
			return a;
		if (n < 2 || !islower((unsigned char) buf[n - 1]) ||
		    !isdigit((unsigned char) buf[n - 2]))
			return NULL;
		buf[--n] = '\0';
	}
}

const azml_gpu_arch_t *azml_catalog_arch_of_gpu(const char *model,
						unsigned int vendor,
						unsigned int device)
{
	const char *p = model;

	while (p && *p) {
		size_t n = strcspn(p, " -_/,()");
		const azml_gpu_arch_t *a = _arch_of_token(p, n);

		if (a)
			return a;
		p += n;
		p += strspn(p, " -_/,()");
	}
	if (vendor != 0x10de)
		return NULL;
	for (size_t i = 0; i < NELEM(pci_tab); i++)
		if (pci_tab[i].device == device)
			return azml_catalog_find_arch(pci_tab[i].arch);
	return NULL;
}

/* Parsed pieces of a size name, lower-cased where case carries no meaning. */
typedef struct {
	const char *family;
	int vcpus;
	char features[8];
	int version;
	char suffix[8];
} size_name_t;

static int _parse_size_name(const char *name, size_name_t *p)
{
	const char *s = name;
	size_t i, n;

	memset(p, 0, sizeof(*p));
	if (strncasecmp(s, "Standard_", 9))
		return -1;
	s += 9;
	for (i = 0; i < NELEM(family_tab); i++) {
		n = strlen(family_tab[i]);
		if (!strncasecmp(s, family_tab[i], n) && isdigit((unsigned char) s[n])) {
			p->family = family_tab[i];
			s += n;
			break;
		}
	}
	if (!p->family)
		return -1;
	for (n = 0; isdigit((unsigned char) *s) && n < 4; n++, s++)
		p->vcpus = p->vcpus * 10 + (*s - '0');
	if (isdigit((unsigned char) *s) || p->vcpus == 0)
		return -1;
	if (*s == '-') {	/* constrained vCPUs: HB120-96rs_v3 */
		int active = 0;

		for (s++, n = 0; isdigit((unsigned char) *s) && n < 4; n++, s++)
			active = active * 10 + (*s - '0');
		if (!n || active == 0 || active > p->vcpus)
			return -1;
		p->vcpus = active;
	}
	for (n = 0; isalpha((unsigned char) *s); s++) {
		if (n + 1 >= sizeof(p->features))
			return -1;
		p->features[n++] = tolower((unsigned char) *s);
	}
	while (*s == '_') {
		const char *seg = ++s;

		while (isalnum((unsigned char) *s))
			s++;
		n = s - seg;
		if (n >= 2 && (seg[0] == 'v' || seg[0] == 'V') && !p->version) {
			for (i = 1; i < n; i++) {
				if (!isdigit((unsigned char) seg[i]) || i > 2)
					return -1;
				p->version = p->version * 10 + (seg[i] - '0');
			}
		} else if (n > 0 && n < sizeof(p->suffix) && !p->suffix[0]) {
			memcpy(p->suffix, seg, n);
		} else {
			return -1;
		}
	}
	return *s ? -1 : 0;
}

static const name_rule_t *_match_rule(const size_name_t *p)
{
	for (size_t i = 0; i < NELEM(rule_tab); i++) {
		const name_rule_t *r = &rule_tab[i];
		bool feat = false;

		if (strcmp(r->family, p->family) || r->version != p->version)
			continue;
		if (r->suffix ? strcasecmp(r->suffix, p->suffix) : !!p->suffix[0])
			continue;
		for (size_t f = 0; f < NELEM(r->features) && r->features[f]; f++)
			if (!strcmp(r->features[f], p->features))
				feat = true;
		if (feat)
			return r;
	}
	return NULL;
}

int azml_catalog_resolve(const char *size_name, azml_size_info_t *info)
{
	azml_size_info_t out;
	size_name_t p;
	const name_rule_t *rule;

	if (!size_name || strlen(size_name) >= sizeof(out.name))
		return -1;
	if (_parse_size_name(size_name, &p) || !(rule = _match_rule(&p)))
		return -1;
	memset(&out, 0, sizeof(out));
	out.series = azml_catalog_find_series(rule->series);
	snprintf(out.name, sizeof(out.name), "%s", size_name);
	out.vcpus = p.vcpus;
	for (size_t i = 0; i < NELEM(size_tab); i++) {
		if (!strcasecmp(size_tab[i].name, size_name)) {
			out.size = &size_tab[i];
			snprintf(out.name, sizeof(out.name), "%s", out.size->name);
			out.vcpus = out.size->vcpus;
			break;
		}
	}
	for (size_t i = 0; i < NELEM(isolated_tab); i++)
		if (!strcasecmp(isolated_tab[i], size_name))
			out.isolated = true;
	out.rdma = strchr(p.features, 'r') != NULL;
	/* Azure's naming: 'p' marks an Arm-based processor.  No series the
	 * catalog supports has it yet; the field lets a mix refuse a blend. */
	out.cpu_arch = strchr(p.features, 'p') ? "Arm64" : "x64";
	out.arch = azml_catalog_find_arch(out.series->gpu_arch);
	*info = out;
	return 0;
}

/* "1 V100 GPU", "2 V100 GPUs", or NONE */
static const char *_gpu_words(const azml_size_info_t *s, const char *none,
			      char *buf, size_t n)
{
	int gpus = s->size ? s->size->gpus : 0;

	if (!gpus)
		return none;
	snprintf(buf, n, "%d %s GPU%s", gpus,
		 s->size->gpu_model ? s->size->gpu_model : "unknown",
		 gpus == 1 ? "" : "s");
	return buf;
}

bool azml_catalog_mix_conflict(const azml_size_info_t *a,
			       const azml_size_info_t *b, char *why, size_t n)
{
	int ag = a->size ? a->size->gpus : 0, bg = b->size ? b->size->gpus : 0;
	const char *am = ag ? a->size->gpu_model : NULL;
	const char *bm = bg ? b->size->gpu_model : NULL;
	char aw[64], bw[64];

	if (a->cpu_arch && b->cpu_arch && strcmp(a->cpu_arch, b->cpu_arch)) {
		snprintf(why, n,
			 "%s is %s, %s %s; a mix's sizes must have the "
			 "same CPU architecture (Azure's rule for an instance "
			 "mix; one image cannot boot both)",
			 a->name, a->cpu_arch, b->name, b->cpu_arch);
		return true;
	}
	if (ag != bg || (am && bm && strcasecmp(am, bm)) || !am != !bm) {
		snprintf(why, n,
			 "%s has %s, %s %s; a mix's sizes must have the "
			 "same GPUs (one node definition, one Gres=)",
			 a->name, _gpu_words(a, "no GPU", aw, sizeof(aw)),
			 b->name, _gpu_words(b, "none", bw, sizeof(bw)));
		return true;
	}
	if (a->rdma != b->rdma) {
		const azml_size_info_t *r = a->rdma ? a : b,
				       *o = a->rdma ? b : a;

		snprintf(
			why, n,
			"%s has RDMA (InfiniBand), %s not; a mix's "
			"sizes must all have it or none (an MPI job needs it on "
			"every node)",
			r->name, o->name);
		return true;
	}
	if (a->isolated != b->isolated) {
		const azml_size_info_t *i = a->isolated ? a : b;
		const azml_size_info_t *o = a->isolated ? b : a;

		snprintf(why, n,
			 "%s is an isolated size, %s not; a mix's sizes "
			 "must all be isolated or none (--azure-isolated jobs "
			 "would land on shared hosts)",
			 i->name, o->name);
		return true;
	}
	return false;
}

int azml_cuda_parse(const char *s, int *major, int *minor)
{
	int ma = 0, mi = 0, n = 0;

	if (!s)
		return -1;
	for (; isdigit((unsigned char) *s) && n < 3; s++, n++)
		ma = ma * 10 + (*s - '0');
	if (!n)
		return -1;
	if (*s == '.') {
		s++;
		for (n = 0; isdigit((unsigned char) *s) && n < 3; s++, n++)
			mi = mi * 10 + (*s - '0');
		if (!n)
			return -1;
	}
	if (*s)
		return -1;
	*major = ma;
	*minor = mi;
	return 0;
}

bool azml_arch_supports_cuda(const azml_gpu_arch_t *arch, int major, int minor)
{
	int lo_ma, lo_mi, hi_ma, hi_mi;

	if (!arch || azml_cuda_parse(arch->min_cuda, &lo_ma, &lo_mi))
		return false;
	if (major < lo_ma || (major == lo_ma && minor < lo_mi))
		return false;
	if (arch->max_cuda && !azml_cuda_parse(arch->max_cuda, &hi_ma, &hi_mi) &&
	    (major > hi_ma || (major == hi_ma && minor > hi_mi)))
		return false;
	return true;
}

static cJSON *_str_or_null(const char *s)
{
	return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

cJSON *azml_catalog_json(void)
{
	cJSON *root = cJSON_CreateObject();
	cJSON *series = cJSON_AddArrayToObject(root, "series");
	cJSON *archs = cJSON_AddArrayToObject(root, "gpu_architectures");
	cJSON *iso = cJSON_AddArrayToObject(root, "isolated_sizes");

	for (size_t i = 0; i < NELEM(series_tab); i++) {
		const azml_series_t *s = &series_tab[i];
		const azml_gpu_arch_t *a = azml_catalog_find_arch(s->gpu_arch);
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "name", s->name);
		cJSON_AddStringToObject(o, "category",
					azml_category_name(s->category));
		cJSON_AddBoolToObject(o, "approval_required",
				      s->approval_required);
		cJSON_AddBoolToObject(o, "compute_cluster", s->compute_cluster);
		cJSON_AddBoolToObject(o, "compute_instance", s->compute_instance);
		cJSON_AddItemToObject(o, "gpu_arch", _str_or_null(s->gpu_arch));
		cJSON_AddItemToObject(o, "min_cuda",
				      _str_or_null(a ? a->min_cuda : NULL));
		cJSON_AddItemToArray(series, o);
	}
	for (size_t i = 0; i < NELEM(arch_tab); i++) {
		const azml_gpu_arch_t *a = &arch_tab[i];
		cJSON *o = cJSON_CreateObject();
		cJSON *list = cJSON_CreateArray();

		cJSON_AddStringToObject(o, "arch", a->arch);
		for (size_t j = 0; j < NELEM(a->series) && a->series[j]; j++)
			cJSON_AddItemToArray(list,
					     cJSON_CreateString(a->series[j]));
		cJSON_AddItemToObject(o, "series", list);
		cJSON_AddStringToObject(o, "min_cuda", a->min_cuda);
		cJSON_AddItemToObject(o, "max_cuda", _str_or_null(a->max_cuda));
		cJSON_AddItemToArray(archs, o);
	}
	for (size_t i = 0; i < NELEM(isolated_tab); i++)
		cJSON_AddItemToArray(iso, cJSON_CreateString(isolated_tab[i]));
	return root;
}

cJSON *azml_size_info_json(const azml_size_info_t *info)
{
	cJSON *o = cJSON_CreateObject();
	const azml_series_t *s = info->series;

	cJSON_AddStringToObject(o, "size", info->name);
	cJSON_AddStringToObject(o, "series", s->name);
	cJSON_AddBoolToObject(o, "isolated", info->isolated);
	cJSON_AddBoolToObject(o, "rdma", info->rdma);
	cJSON_AddItemToObject(o, "cpu_arch", _str_or_null(info->cpu_arch));
	cJSON_AddStringToObject(o, "category", azml_category_name(s->category));
	cJSON_AddBoolToObject(o, "approval_required", s->approval_required);
	cJSON_AddBoolToObject(o, "compute_cluster", s->compute_cluster);
	cJSON_AddBoolToObject(o, "compute_instance", s->compute_instance);
	cJSON_AddBoolToObject(o, "in_size_table", info->size != NULL);
	cJSON_AddNumberToObject(o, "vcpus", info->vcpus);
	if (info->size) {
		cJSON_AddNumberToObject(o, "memory_mib", info->size->memory_mib);
		cJSON_AddNumberToObject(o, "gpus", info->size->gpus);
		cJSON_AddItemToObject(o, "gpu_model",
				      _str_or_null(info->size->gpu_model));
	} else {
		cJSON_AddNullToObject(o, "memory_mib");
		cJSON_AddNullToObject(o, "gpus");
		cJSON_AddNullToObject(o, "gpu_model");
	}
	cJSON_AddItemToObject(o, "gpu_arch",
			      _str_or_null(info->arch ? info->arch->arch : NULL));
	cJSON_AddItemToObject(o, "min_cuda",
			      _str_or_null(info->arch ? info->arch->min_cuda : NULL));
	return o;
}

/*
 * catalog.h - the design document's facts as data: VM series and their
 * restrictions, GPU architecture <-> series <-> CUDA, isolated sizes, and a
 * table of VM sizes (vCPUs, memory, GPUs) for the series Azure ML supports.
 *
 * Everything returned points into static tables: never free it.
 */
#ifndef AZML_CATALOG_H
#define AZML_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

typedef enum {
	AZML_CAT_GENERAL = 0,
	AZML_CAT_MEMORY,
	AZML_CAT_COMPUTE,
	AZML_CAT_HPC,
	AZML_CAT_STORAGE,
	AZML_CAT_GPU,
} azml_category_t;

typedef struct {
	const char *name;		/* as in the design document: "NCv3" */
	azml_category_t category;
	bool approval_required;		/* needs a quota increase from support */
	bool compute_cluster;		/* supported on compute clusters */
	bool compute_instance;		/* supported on compute instances */
	const char *gpu_arch;		/* "Volta", or NULL */
} azml_series_t;

typedef struct {
	const char *arch;		/* "Volta" */
	const char *min_cuda;		/* "9.0" */
	const char *max_cuda;		/* last CUDA that supports it, or NULL */
	const char *series[3];		/* design-document series names */
} azml_gpu_arch_t;

typedef struct {
	const char *name;		/* canonical: "Standard_NC6s_v3" */
	const char *series;		/* "NCv3" */
	int vcpus;
	int memory_mib;			/* as Azure publishes it, in MiB */
	int gpus;
	const char *gpu_model;		/* "V100" (NULL when no GPU) */
} azml_size_t;

/* Facts resolved from one VM size name. */
typedef struct {
	char name[64];			/* canonical name when known, else as given */
	const azml_series_t *series;	/* never NULL on success */
	const azml_size_t *size;	/* NULL: series known, size not in table */
	const azml_gpu_arch_t *arch;	/* NULL for sizes without GPU */
	bool isolated;
	bool rdma;
	/* "x64", or "Arm64" for a name with Azure's 'p' feature letter
	 * (Dpsv5: Arm-based processor); never NULL on success */
	const char *cpu_arch;
	int vcpus;			/* from the table, else from the name */
} azml_size_info_t;

const char *azml_category_name(azml_category_t c);

size_t azml_catalog_series_count(void);
const azml_series_t *azml_catalog_series_at(size_t i);
/* Case-insensitive; NULL when unknown. */
const azml_series_t *azml_catalog_find_series(const char *name);

size_t azml_catalog_arch_count(void);
const azml_gpu_arch_t *azml_catalog_arch_at(size_t i);
const azml_gpu_arch_t *azml_catalog_find_arch(const char *arch);

size_t azml_catalog_isolated_count(void);
const char *azml_catalog_isolated_at(size_t i);

size_t azml_catalog_size_count(void);
const azml_size_t *azml_catalog_size_at(size_t i);

/*
 * The name Azure's usage API gives the vCPU quota of SERIES
 * ("standardNCSv3Family"); NULL when unknown.
 */
const char *azml_series_quota_family(const azml_series_t *series);

/*
 * The architecture of a GPU model as Slurm gres types and Azure size pages
 * name them ("v100", "A100", "t4"), case-insensitive; NULL when unknown.
 */
const azml_gpu_arch_t *azml_catalog_arch_of_model(const char *model);

/*
 * The architecture of a GPU as a driver or the PCI database names it
 * ("Tesla V100-SXM3-32GB-H", "Tesla K40m"): the first word of MODEL that is
 * a known model, else (NVIDIA only) the PCI device id.  NULL when unknown.
 */
const azml_gpu_arch_t *azml_catalog_arch_of_gpu(const char *model,
						unsigned int vendor,
						unsigned int device);

/*
 * Resolve a VM size name (case-insensitive) by Azure's naming rules.
 * Returns 0 and fills *info, or -1 when the name is not a size of any series
 * the catalog knows (then *info is untouched).
 */
int azml_catalog_resolve(const char *size_name, azml_size_info_t *info);

/*
 * Whether two sizes may not share an instance mix (one node definition):
 * they differ in CPU architecture, GPU model or count, RDMA (InfiniBand) or
 * isolation.  Returns true and says the first difference in WHY ("A has 1
 * V100 GPU, B none; a mix's sizes must have the same GPUs"), else false.
 */
bool azml_catalog_mix_conflict(const azml_size_info_t *a,
			       const azml_size_info_t *b, char *why, size_t n);

/*
 * Parse "X.Y" (or "X") into major/minor.  Returns 0, or -1 when malformed.
 */
int azml_cuda_parse(const char *s, int *major, int *minor);

/* Whether GPUs of ARCH run CUDA X.Y (at or above min, at or below max). */
bool azml_arch_supports_cuda(const azml_gpu_arch_t *arch, int major,
			     int minor);

/* The `catalog --json` object and the `catalog --size S --json` object.
 * The caller owns the returned tree (cJSON_Delete). */
cJSON *azml_catalog_json(void);
cJSON *azml_size_info_json(const azml_size_info_t *info);

#endif

/*
 * gpu.h - what a node holds (hwloc, NVML) and whether it matches what it
 * declares (gres).
 *
 * The inventory counts compute GPUs by PCI device, never by OS device (one
 * GPU shows up as cuda0, nvml0, opencl0d0 ...): NVIDIA is vendor 0x10de with
 * class 0x0300 or 0x0302 (NVSwitch bridges are class 0x0680); AMD is vendor
 * 0x1002 with class 0x0302 or 0x0380, or class 0x0300 with a compute OS
 * device (OpenCL, RSMI) -- a console VGA chip such as the ATI ES1000 has none.
 *
 * NVML is optional and found at run time (dlopen of libnvidia-ml.so.1, or
 * $AZML_NVML_LIBRARY); nothing links against it.
 *
 * Programs only: this unit uses hwloc.  Gres specifications and gres.conf
 * are gres.h's (core library).
 */
#ifndef AZML_GPU_H
#define AZML_GPU_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "gres.h"

#define AZML_GPU_MAX 256

typedef struct {
	char vendor[8];			/* "nvidia", "amd" */
	char model[128];		/* driver's name, else the PCI name */
	unsigned int vendor_id, device_id;
	char busid[16];			/* "0000:34:00.0" */
	int numa;			/* NUMA node index, -1 when unknown */
	const azml_gpu_arch_t *arch;	/* NULL when unknown */
	char arch_name[16];		/* arch->arch, or what a report said */
} azml_gpu_t;

typedef struct {
	azml_gpu_t gpus[AZML_GPU_MAX];
	size_t ngpus;
	int sockets, cores, pus;	/* 0 when unknown (a report without) */
	long memory_mib;
} azml_inventory_t;

/*
 * Fill *INV from the hwloc XML at XML_PATH, or from this machine when
 * XML_PATH is NULL.  Returns 0, or -1 with a message in ERR.
 */
int azml_gpu_inventory(const char *xml_path, azml_inventory_t *inv,
		       char *err, size_t errlen);

/* What NVML says about the driver and each NVIDIA GPU. */
typedef struct {
	bool present;			/* the library loaded and initialised */
	char note[256];			/* why not, when !present */
	char driver[32];		/* "535.104.05" */
	int cuda_major, cuda_minor;	/* CUDA the driver supports; 0.0 unknown */
	int count;
	struct {
		char busid[16];
		char name[96];
		char problem[128];	/* "" when healthy */
		/* Health (azml_health_*): what NVML said, when it could. */
		bool lost;			/* no handle: off the bus */
		unsigned long long ecc;		/* volatile uncorrected */
		bool retired_pending;		/* pages await a reset */
		bool remap_pending;		/* rows await a reset */
		bool remap_failed;		/* a row could not be remapped */
	} gpus[AZML_GPU_MAX];
} azml_nvml_t;

/*
 * Query NVML from LIBRARY (NULL: $AZML_NVML_LIBRARY, else
 * libnvidia-ml.so.1).  Always fills *OUT; out->present says whether NVML
 * answered, out->note why not.
 */
void azml_nvml_query(const char *library, azml_nvml_t *out);

/* Name INV's GPUs as NVML does (matched by bus id), and their architecture
 * from that name. */
void azml_gpu_apply_nvml(azml_inventory_t *inv, const azml_nvml_t *nvml);

/* What a node is judged against. */
typedef struct {
	const char *declared;		/* gres spec; NULL: nothing declared */
	const char *cuda;		/* "12.0": jobs here need it; or NULL */
	char **files;			/* gres.conf File= devices, or NULL */
	size_t nfiles;
	const azml_nvml_t *nvml;	/* NULL: not asked (XML, a report) */
} azml_check_req_t;

/*
 * The node-check verdict as the JSON object ARCHITECTURE.md gives:
 * {"gpus":[...],"count":N,"declared":"gpu:16","ok":true,"reasons":[]}
 * (plus "nvml" when REQ->nvml).  Sets *OK.  The caller owns the result.
 */
cJSON *azml_node_check(const azml_inventory_t *inv,
		       const azml_check_req_t *req, bool *ok);

/* Append a formatted reason (a string) to the JSON array REASONS. */
void azml_reason_add(cJSON *reasons, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The JSON array of INV's GPUs, and back (a report from another node).
 * azml_gpus_from_json returns 0, or -1 with a message in ERR. */
cJSON *azml_gpus_json(const azml_inventory_t *inv);
int azml_gpus_from_json(const cJSON *arr, azml_inventory_t *inv, char *err,
			size_t errlen);

#endif

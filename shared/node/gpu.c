/*
 * gpu.c - GPU inventory (hwloc), NVML through dlopen, gres checks.
 */
#include "config.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <hwloc.h>

#include "gpu.h"
#include "log.h"
#include "slurm_compat.h"

/* ---- inventory (hwloc) ------------------------------------------------ */

/* Whether an OS device below PCI device OBJ does compute (OpenCL, RSMI,
 * CUDA, NVML, Level Zero), and the first model name any of them gives. */
static bool _compute_osdev(hwloc_obj_t obj, const char **model)
{
	bool compute = false;

	for (hwloc_obj_t c = obj->io_first_child; c; c = c->next_sibling) {
		const char *m;

		if (c->type != HWLOC_OBJ_OS_DEVICE)
			continue;
		m = hwloc_obj_get_info_by_name(c, "GPUModel");
		if (m && *m && !*model)
			*model = m;
		if (c->attr->osdev.type == HWLOC_OBJ_OSDEV_COPROC)
			compute = true;
	}
	return compute;
}

static bool _is_compute_gpu(hwloc_obj_t obj, const char **model)
{
	unsigned int vendor = obj->attr->pcidev.vendor_id;
	unsigned int class = obj->attr->pcidev.class_id;
	bool compute = _compute_osdev(obj, model);

	if (vendor == 0x10de)
		return class == 0x0300 || class == 0x0302;
	if (vendor == 0x1002)
		return class == 0x0302 || class == 0x0380 ||
		       (class == 0x0300 && compute);
	return false;
}

static int _numa_of(hwloc_topology_t topo, hwloc_obj_t obj)
{
	hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(topo, obj);
	int nnuma = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);

	if (nnuma == 1)
		return 0;
	if (!anc || !anc->nodeset || hwloc_bitmap_iszero(anc->nodeset) ||
	    hwloc_bitmap_weight(anc->nodeset) == nnuma)
		return -1;
	return hwloc_bitmap_first(anc->nodeset);
}

static void _set_arch(azml_gpu_t *g)
{
	g->arch = azml_catalog_arch_of_gpu(g->model, g->vendor_id, g->device_id);
	snprintf(g->arch_name, sizeof(g->arch_name), "%s",
		 g->arch ? g->arch->arch : "");
}

int azml_gpu_inventory(const char *xml_path, azml_inventory_t *inv,
		       char *err, size_t errlen)
{
	hwloc_topology_t topo;
	hwloc_obj_t obj = NULL;
	int rv = -1;

	memset(inv, 0, sizeof(*inv));
	if (hwloc_topology_init(&topo) < 0) {
		azml_errf(err, errlen, "hwloc: cannot initialise: %s",
			  strerror(errno));
		return -1;
	}
	if (xml_path) {
		struct stat st;

		if (stat(xml_path, &st) < 0) {
			azml_errf(err, errlen, "%s: %s", xml_path,
				  strerror(errno));
			goto out;
		}
		if (hwloc_topology_set_xml(topo, xml_path) < 0) {
			azml_errf(err, errlen, "%s: not an hwloc XML topology",
				  xml_path);
			goto out;
		}
	} else {
		/* Only what the PCI bus and the OS say: the CUDA, OpenCL
		 * and GL components would start GPU runtimes (slow, and a
		 * health check must not touch the GPUs).  PCI devices come
		 * from sysfs, not libpciaccess (which leaks at every load);
		 * NVML names the GPUs instead (azml_gpu_apply_nvml). */
		hwloc_topology_set_components(topo,
			HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
		hwloc_topology_set_components(topo,
			HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "gl");
		hwloc_topology_set_components(topo,
			HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "opencl");
		hwloc_topology_set_components(topo,
			HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "cuda");
		hwloc_topology_set_components(topo,
			HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "nvml");
	}
	hwloc_topology_set_io_types_filter(topo, HWLOC_TYPE_FILTER_KEEP_IMPORTANT);
	if (hwloc_topology_load(topo) < 0) {
		azml_errf(err, errlen, "%s: hwloc cannot load it: %s",
			  xml_path ? xml_path : "this machine",
			  strerror(errno));
		goto out;
	}
	inv->sockets = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
	inv->cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
	inv->pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
	inv->memory_mib = (long) (hwloc_get_root_obj(topo)->total_memory >> 20);

	while ((obj = hwloc_get_next_pcidev(topo, obj))) {
		const char *model = NULL, *pciname;
		azml_gpu_t *g;

		if (!_is_compute_gpu(obj, &model))
			continue;
		if (inv->ngpus == AZML_GPU_MAX) {
			azml_errf(err, errlen, "more than %d GPUs",
				  AZML_GPU_MAX);
			goto out;
		}
		g = &inv->gpus[inv->ngpus++];
		g->vendor_id = obj->attr->pcidev.vendor_id;
		g->device_id = obj->attr->pcidev.device_id;
		snprintf(g->vendor, sizeof(g->vendor), "%s",
			 g->vendor_id == 0x10de ? "nvidia" : "amd");
		pciname = hwloc_obj_get_info_by_name(obj, "PCIDevice");
		if (model)
			snprintf(g->model, sizeof(g->model), "%s", model);
		else if (pciname && *pciname)
			snprintf(g->model, sizeof(g->model), "%s", pciname);
		else
			snprintf(g->model, sizeof(g->model), "%04x:%04x",
				 g->vendor_id, g->device_id);
		snprintf(g->busid, sizeof(g->busid), "%04x:%02x:%02x.%01x",
			 obj->attr->pcidev.domain, obj->attr->pcidev.bus,
			 obj->attr->pcidev.dev, obj->attr->pcidev.func);
		g->numa = _numa_of(topo, obj);
		_set_arch(g);
	}
	rv = 0;
out:
	hwloc_topology_destroy(topo);
	return rv;
}

/* ---- NVML ------------------------------------------------------------- */

/* NVML's ABI, as its header documents it. */
typedef int nv_ret_t;
typedef void *nv_dev_t;
typedef struct {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
} nv_pci_t;
#define NV_SUCCESS 0
#define NV_NOT_SUPPORTED 3
#define NV_GPU_IS_LOST 15
#define NV_MEMORY_ERROR_UNCORRECTED 1
#define NV_VOLATILE_ECC 0

typedef struct {
	void *dl;
	nv_ret_t (*init)(void);
	nv_ret_t (*shutdown)(void);
	const char *(*error_string)(nv_ret_t);
	nv_ret_t (*driver_version)(char *, unsigned int);
	nv_ret_t (*cuda_version)(int *);
	nv_ret_t (*count)(unsigned int *);
	nv_ret_t (*handle)(unsigned int, nv_dev_t *);
	nv_ret_t (*name)(nv_dev_t, char *, unsigned int);
	nv_ret_t (*pci)(nv_dev_t, nv_pci_t *);
	nv_ret_t (*ecc)(nv_dev_t, int, int, unsigned long long *);
	nv_ret_t (*retired_pending)(nv_dev_t, int *);
	nv_ret_t (*remapped)(nv_dev_t, unsigned int *, unsigned int *,
			     unsigned int *, unsigned int *);
} nv_api_t;

/* The first of NAMES the library has. */
static void *_sym(void *dl, const char *const *names)
{
	for (; *names; names++) {
		void *p = dlsym(dl, *names);

		if (p)
			return p;
	}
	return NULL;
}

#define SYM(field, ...) \
	(*(void **) &api->field = _sym(api->dl, (const char *[]) { __VA_ARGS__, NULL }))

static const char *_nv_err(const nv_api_t *api, nv_ret_t r)
{
	const char *s = api->error_string ? api->error_string(r) : NULL;

	return s ? s : "unknown error";
}

static void _busid_norm(const char *in, char *out, size_t n)
{
	unsigned int dom, bus, dev, fn;

	if (sscanf(in, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) == 4)
		snprintf(out, n, "%04x:%02x:%02x.%01x", dom & 0xffff, bus,
			 dev, fn);
	else
		snprintf(out, n, "%.15s", in);
}

void azml_nvml_query(const char *library, azml_nvml_t *out)
{
	nv_api_t a = { 0 }, *api = &a;
	unsigned int n = 0;
	nv_ret_t r;
	int cuda = 0;

	memset(out, 0, sizeof(*out));
	if (!library)
		library = getenv("AZML_NVML_LIBRARY");
	if (!library || !*library)
		library = "libnvidia-ml.so.1";
	api->dl = dlopen(library, RTLD_NOW | RTLD_LOCAL);
	if (!api->dl) {
		snprintf(out->note, sizeof(out->note),
			 "NVML not available (%s): driver version and GPU "
			 "health not checked", library);
		return;
	}
	SYM(init, "nvmlInit_v2", "nvmlInit");
	SYM(shutdown, "nvmlShutdown");
	SYM(error_string, "nvmlErrorString");
	SYM(driver_version, "nvmlSystemGetDriverVersion");
	SYM(cuda_version, "nvmlSystemGetCudaDriverVersion_v2",
	    "nvmlSystemGetCudaDriverVersion");
	SYM(count, "nvmlDeviceGetCount_v2", "nvmlDeviceGetCount");
	SYM(handle, "nvmlDeviceGetHandleByIndex_v2",
	    "nvmlDeviceGetHandleByIndex");
	SYM(name, "nvmlDeviceGetName");
	SYM(pci, "nvmlDeviceGetPciInfo_v3", "nvmlDeviceGetPciInfo_v2");
	SYM(ecc, "nvmlDeviceGetTotalEccErrors");
	/* Optional: page retirement (before Ampere), row remapping (Ampere
	 * and later); NOT_SUPPORTED on GPUs without them. */
	SYM(retired_pending, "nvmlDeviceGetRetiredPagesPendingStatus");
	SYM(remapped, "nvmlDeviceGetRemappedRows");
	if (!api->init || !api->shutdown || !api->driver_version ||
	    !api->count || !api->handle || !api->name || !api->pci) {
		snprintf(out->note, sizeof(out->note),
			 "%s lacks NVML functions node-check needs: driver "
			 "version and GPU health not checked", library);
		goto close;
	}
	if ((r = api->init()) != NV_SUCCESS) {
		snprintf(out->note, sizeof(out->note),
			 "NVML did not initialise: %s (error %d)",
			 _nv_err(api, r), r);
		goto close;
	}
	out->present = true;
	if ((r = api->driver_version(out->driver, sizeof(out->driver))) !=
	    NV_SUCCESS)
		snprintf(out->driver, sizeof(out->driver), "unknown");
	out->driver[sizeof(out->driver) - 1] = '\0';
	if (api->cuda_version && api->cuda_version(&cuda) == NV_SUCCESS &&
	    cuda > 0) {
		out->cuda_major = cuda / 1000;
		out->cuda_minor = (cuda % 1000) / 10;
	}
	if ((r = api->count(&n)) != NV_SUCCESS) {
		snprintf(out->note, sizeof(out->note),
			 "NVML cannot count GPUs: %s (error %d)",
			 _nv_err(api, r), r);
		n = 0;
	}
	if (n > AZML_GPU_MAX)
		n = AZML_GPU_MAX;
	out->count = (int) n;
	for (unsigned int i = 0; i < n; i++) {
		nv_dev_t dev = NULL;
		nv_pci_t pci;
		unsigned long long ecc = 0;

		if ((r = api->handle(i, &dev)) != NV_SUCCESS) {
			out->gpus[i].lost = true;
			snprintf(out->gpus[i].problem,
				 sizeof(out->gpus[i].problem),
				 "NVML GPU %u: %s", i, _nv_err(api, r));
			continue;
		}
		memset(&pci, 0, sizeof(pci));
		if ((r = api->pci(dev, &pci)) == NV_SUCCESS) {
			pci.bus_id[sizeof(pci.bus_id) - 1] = '\0';
			_busid_norm(pci.bus_id, out->gpus[i].busid,
				    sizeof(out->gpus[i].busid));
		}
		if (r == NV_SUCCESS &&
		    (r = api->name(dev, out->gpus[i].name,
				   sizeof(out->gpus[i].name))) == NV_SUCCESS)
			out->gpus[i].name[sizeof(out->gpus[i].name) - 1] = '\0';
		if (r != NV_SUCCESS) {
			snprintf(out->gpus[i].problem,
				 sizeof(out->gpus[i].problem), "NVML: %s",
				 _nv_err(api, r));
			continue;
		}
		if (api->retired_pending) {
			int pend = 0;

			if (api->retired_pending(dev, &pend) == NV_SUCCESS)
				out->gpus[i].retired_pending = pend != 0;
		}
		if (api->remapped) {
			unsigned int corr = 0, unc = 0, pend = 0, fail = 0;

			if (api->remapped(dev, &corr, &unc, &pend, &fail) ==
			    NV_SUCCESS) {
				out->gpus[i].remap_pending = pend != 0;
				out->gpus[i].remap_failed = fail != 0;
			}
		}
		if (api->ecc && api->ecc(dev, NV_MEMORY_ERROR_UNCORRECTED,
					 NV_VOLATILE_ECC, &ecc) == NV_SUCCESS)
			out->gpus[i].ecc = ecc;
		if (ecc > 0)
			snprintf(out->gpus[i].problem,
				 sizeof(out->gpus[i].problem),
				 "%llu uncorrected ECC errors since the driver "
				 "loaded", ecc);
	}
	api->shutdown();
close:
	dlclose(api->dl);
}

void azml_gpu_apply_nvml(azml_inventory_t *inv, const azml_nvml_t *nvml)
{
	for (int j = 0; nvml->present && j < nvml->count; j++)
		for (size_t i = 0; i < inv->ngpus; i++) {
			azml_gpu_t *g = &inv->gpus[i];

			if (!nvml->gpus[j].name[0] ||
			    strcmp(g->busid, nvml->gpus[j].busid))
				continue;
			snprintf(g->model, sizeof(g->model), "%s",
				 nvml->gpus[j].name);
			_set_arch(g);
		}
}

/* ---- the verdict ------------------------------------------------------ */

void azml_reason_add(cJSON *reasons, const char *fmt, ...)
{
	char buf[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_AddItemToArray(reasons, cJSON_CreateString(buf));
}

cJSON *azml_gpus_json(const azml_inventory_t *inv)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; i < inv->ngpus; i++) {
		const azml_gpu_t *g = &inv->gpus[i];
		cJSON *o = cJSON_CreateObject();
		char id[16];

		snprintf(id, sizeof(id), "%04x:%04x", g->vendor_id, g->device_id);
		cJSON_AddStringToObject(o, "vendor", g->vendor);
		cJSON_AddStringToObject(o, "model", g->model);
		cJSON_AddStringToObject(o, "pci_id", id);
		cJSON_AddStringToObject(o, "busid", g->busid);
		if (g->arch_name[0])
			cJSON_AddStringToObject(o, "arch", g->arch_name);
		else
			cJSON_AddNullToObject(o, "arch");
		if (g->numa >= 0)
			cJSON_AddNumberToObject(o, "numa", g->numa);
		else
			cJSON_AddNullToObject(o, "numa");
		if (g->arch) {
			cJSON_AddStringToObject(o, "min_cuda", g->arch->min_cuda);
			if (g->arch->max_cuda)
				cJSON_AddStringToObject(o, "max_cuda",
							g->arch->max_cuda);
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

static const char *_jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int azml_gpus_from_json(const cJSON *arr, azml_inventory_t *inv, char *err,
			size_t errlen)
{
	const cJSON *o;
	size_t i = 0;

	inv->ngpus = 0;
	if (!cJSON_IsArray(arr)) {
		azml_errf(err, errlen, "\"gpus\" is not an array");
		return -1;
	}
	cJSON_ArrayForEach(o, arr) {
		const char *vendor = _jstr(o, "vendor"), *model = _jstr(o, "model");
		const char *id = _jstr(o, "pci_id"), *bus = _jstr(o, "busid");
		azml_gpu_t *g;

		if (i == AZML_GPU_MAX) {
			azml_errf(err, errlen, "more than %d GPUs",
				  AZML_GPU_MAX);
			return -1;
		}
		g = &inv->gpus[i];
		memset(g, 0, sizeof(*g));
		if (!vendor || (strcmp(vendor, "nvidia") && strcmp(vendor, "amd")) ||
		    !model || !id || !bus ||
		    sscanf(id, "%4x:%4x", &g->vendor_id, &g->device_id) != 2 ||
		    strlen(bus) >= sizeof(g->busid)) {
			azml_errf(err, errlen,
				  "GPU %zu: needs vendor (nvidia|amd), "
				  "model, pci_id (VVVV:DDDD) and busid",
				  i);
			return -1;
		}
		snprintf(g->vendor, sizeof(g->vendor), "%s", vendor);
		snprintf(g->model, sizeof(g->model), "%s", model);
		snprintf(g->busid, sizeof(g->busid), "%s", bus);
		g->numa = -1;
		/* The architecture is ours to decide, not the report's. */
		_set_arch(g);
		i++;
	}
	inv->ngpus = i;
	return 0;
}

/* Whether GPU G has MODEL TYPE ("v100" in "Tesla V100-SXM3-32GB-H"),
 * as Slurm matches gres types against device names. */
static bool _type_matches(const azml_gpu_t *g, const char *type)
{
	size_t n = strlen(type);

	for (const char *p = g->model; *p; p++)
		if (!strncasecmp(p, type, n))
			return true;
	return false;
}

static void _check_cuda(const azml_inventory_t *inv, const char *cuda,
			const azml_nvml_t *nvml, cJSON *reasons)
{
	int ma, mi;

	if (azml_cuda_parse(cuda, &ma, &mi) < 0) {
		azml_reason_add(reasons, "CUDA requirement '%s' is not X.Y", cuda);
		return;
	}
	for (size_t i = 0; i < inv->ngpus; i++) {
		const azml_gpu_t *g = &inv->gpus[i];

		if (strcmp(g->vendor, "nvidia"))
			azml_reason_add(reasons, "GPU %s (%s) is not NVIDIA: it does "
				"not run CUDA %s", g->busid, g->model, cuda);
		else if (!g->arch)
			azml_reason_add(reasons, "GPU %s (%s): architecture unknown, "
				"cannot tell whether it runs CUDA %s",
				g->busid, g->model, cuda);
		else if (!azml_arch_supports_cuda(g->arch, ma, mi))
			azml_reason_add(reasons, "GPU %s (%s, %s) does not run CUDA %s "
				"(%s: CUDA %s%s%s)", g->busid, g->model,
				g->arch->arch, cuda, g->arch->arch,
				g->arch->min_cuda,
				g->arch->max_cuda ? " to " : " and later",
				g->arch->max_cuda ? g->arch->max_cuda : "");
	}
	if (nvml && nvml->present && nvml->cuda_major &&
	    (nvml->cuda_major < ma ||
	     (nvml->cuda_major == ma && nvml->cuda_minor < mi)))
		azml_reason_add(reasons, "the NVIDIA driver %s supports CUDA %d.%d, "
			"jobs here need CUDA %s", nvml->driver,
			nvml->cuda_major, nvml->cuda_minor, cuda);
}

static void _check_nvml(const azml_inventory_t *inv, const azml_nvml_t *nvml,
			cJSON *reasons)
{
	size_t nv = 0;

	for (size_t i = 0; i < inv->ngpus; i++)
		nv += !strcmp(inv->gpus[i].vendor, "nvidia");
	if (!nvml->present)
		return;
	if ((size_t) nvml->count != nv)
		azml_reason_add(reasons, "NVML sees %d NVIDIA GPUs, the PCI bus has %zu",
			nvml->count, nv);
	for (int i = 0; i < nvml->count; i++)
		if (nvml->gpus[i].problem[0])
			azml_reason_add(reasons, "GPU %s: %s",
				nvml->gpus[i].busid[0] ? nvml->gpus[i].busid :
				"(unknown bus id)", nvml->gpus[i].problem);
}

static cJSON *_nvml_json(const azml_nvml_t *nvml)
{
	cJSON *o = cJSON_CreateObject();
	char v[16];

	cJSON_AddBoolToObject(o, "present", nvml->present);
	if (!nvml->present) {
		cJSON_AddStringToObject(o, "note", nvml->note);
		return o;
	}
	cJSON_AddStringToObject(o, "driver", nvml->driver);
	if (nvml->cuda_major) {
		snprintf(v, sizeof(v), "%d.%d", nvml->cuda_major, nvml->cuda_minor);
		cJSON_AddStringToObject(o, "cuda", v);
	} else {
		cJSON_AddNullToObject(o, "cuda");
	}
	cJSON_AddNumberToObject(o, "count", nvml->count);
	if (nvml->note[0])
		cJSON_AddStringToObject(o, "note", nvml->note);
	return o;
}

cJSON *azml_node_check(const azml_inventory_t *inv,
		       const azml_check_req_t *req, bool *ok)
{
	cJSON *o = cJSON_CreateObject(), *reasons = cJSON_CreateArray();
	azml_gres_t g;
	char err[256];

	cJSON_AddItemToObject(o, "gpus", azml_gpus_json(inv));
	cJSON_AddNumberToObject(o, "count", (double) inv->ngpus);
	if (req->declared)
		cJSON_AddStringToObject(o, "declared", req->declared);
	else
		cJSON_AddNullToObject(o, "declared");

	if (req->declared && azml_gres_parse(req->declared, &g, err, sizeof(err)) < 0) {
		azml_reason_add(reasons, "gres '%.100s%s': %s", req->declared,
				strlen(req->declared) > 100 ? "..." : "", err);
	} else if (req->declared) {
		if ((size_t) g.gpus != inv->ngpus)
			azml_reason_add(reasons, "gres/gpu declared %ld, found %zu",
				g.gpus, inv->ngpus);
		for (size_t e = 0; e < g.n; e++) {
			const azml_gres_ent_t *ent = &g.ent[e];
			size_t m = 0;

			if (!azml_gres_is_gpu(ent) || !ent->type[0])
				continue;
			for (size_t i = 0; i < inv->ngpus; i++)
				m += _type_matches(&inv->gpus[i], ent->type);
			/* a gpu count is at most AZML_GRES_MAX_GPUS */
			if (m < ent->count)
				azml_reason_add(reasons, "gres/gpu:%s declared %ld, found %zu",
					ent->type, (long) ent->count, m);
		}
	}
	if (req->cuda)
		_check_cuda(inv, req->cuda, req->nvml, reasons);
	for (size_t i = 0; i < req->nfiles; i++) {
		struct stat st;

		if (stat(req->files[i], &st) < 0)
			azml_reason_add(reasons, "gres.conf File=%s: %s", req->files[i],
				strerror(errno));
		else if (!S_ISCHR(st.st_mode))
			azml_reason_add(reasons, "gres.conf File=%s is not a device",
				req->files[i]);
	}
	if (req->nvml) {
		_check_nvml(inv, req->nvml, reasons);
		cJSON_AddItemToObject(o, "nvml", _nvml_json(req->nvml));
	}
	*ok = cJSON_GetArraySize(reasons) == 0;
	cJSON_AddBoolToObject(o, "ok", *ok);
	cJSON_AddItemToObject(o, "reasons", reasons);
	return o;
}

/*
 * fake-nvml.c - a stand-in for libnvidia-ml.so.1 where no NVIDIA driver
 * exists (the tests load it by path through $AZML_NVML_LIBRARY).  It has
 * NVML's ABI for the calls node-check makes; the environment says what it
 * answers:
 *   FAKE_NVML_INIT     error code nvmlInit_v2 returns (default 0)
 *   FAKE_NVML_DRIVER   driver version (default "535.104.05")
 *   FAKE_NVML_CUDA     CUDA driver version as NVML encodes it (12020)
 *   FAKE_NVML_BUSIDS   comma-separated bus ids, one GPU each
 *   FAKE_NVML_LOST     index of a GPU that is lost (error 15)
 *   FAKE_NVML_ECC      index:count of a GPU with uncorrected ECC errors
 *   FAKE_NVML_NAME     every GPU's name (default "Tesla V100-SXM2-32GB")
 *   FAKE_NVML_HEALTH   a file, read at nvmlInit: one line a GPU,
 *                      "INDEX KEY=N ...", keys ecc, retired_pending,
 *                      remap_pending, remap_failed, lost (1: the GPU is
 *                      lost).  XIDs are the kernel log's (health.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char bus_id_legacy[16];
	unsigned int domain, bus, device, pci_device_id, pci_subsystem_id;
	char bus_id[32];
} nvmlPciInfo_t;

static char busids[64][32];
static unsigned int ngpus;
static struct {
	unsigned long long ecc;
	int retired_pending, remap_pending, remap_failed, lost;
} health[64];

static int _env_int(const char *name, int def)
{
	const char *v = getenv(name);

	return v && *v ? atoi(v) : def;
}

const char *nvmlErrorString(int r)
{
	switch (r) {
	case 0: return "Success";
	case 2: return "Invalid Argument";
	case 3: return "Not Supported";
	case 9: return "Driver Not Loaded";
	case 15: return "GPU is lost";
	case 18: return "RM has detected an NVML/RM version mismatch";
	default: return "Unknown Error";
	}
}

int nvmlInit_v2(void)
{
	const char *list = getenv("FAKE_NVML_BUSIDS");
	char buf[2048], *save = NULL, *tok;
	int r = _env_int("FAKE_NVML_INIT", 0);

	if (r)
		return r;
	ngpus = 0;
	snprintf(buf, sizeof(buf), "%s", list ? list : "");
	for (tok = strtok_r(buf, ",", &save); tok && ngpus < 64;
	     tok = strtok_r(NULL, ",", &save))
		snprintf(busids[ngpus++], sizeof(busids[0]), "%s", tok);
	memset(health, 0, sizeof(health));
	if ((list = getenv("FAKE_NVML_HEALTH")) && *list) {
		FILE *fp = fopen(list, "r");
		char line[512];

		while (fp && fgets(line, sizeof(line), fp)) {
			char *p = line, *end;
			long i = strtol(p, &end, 10);

			if (end == p || i < 0 || i >= 64)
				continue;
			for (p = strtok_r(end, " \t\n", &save); p;
			     p = strtok_r(NULL, " \t\n", &save)) {
				char *eq = strchr(p, '=');
				unsigned long long v;

				if (!eq)
					continue;
				v = strtoull(eq + 1, NULL, 10);
				*eq = '\0';
				if (!strcmp(p, "ecc"))
					health[i].ecc = v;
				else if (!strcmp(p, "retired_pending"))
					health[i].retired_pending = (int) v;
				else if (!strcmp(p, "remap_pending"))
					health[i].remap_pending = (int) v;
				else if (!strcmp(p, "remap_failed"))
					health[i].remap_failed = (int) v;
				else if (!strcmp(p, "lost"))
					health[i].lost = (int) v;
			}
		}
		if (fp)
			fclose(fp);
	}
	return 0;
}

static unsigned int _idx(void *dev)
{
	return (unsigned int) ((char (*)[32]) dev - busids);
}

int nvmlDeviceGetRetiredPagesPendingStatus(void *dev, int *pending)
{
	*pending = health[_idx(dev)].retired_pending;
	return 0;
}

int nvmlDeviceGetRemappedRows(void *dev, unsigned int *corr, unsigned int *unc,
			      unsigned int *pending, unsigned int *failed)
{
	*corr = 0;
	*unc = 0;
	*pending = (unsigned int) health[_idx(dev)].remap_pending;
	*failed = (unsigned int) health[_idx(dev)].remap_failed;
	return 0;
}

int nvmlShutdown(void) { return 0; }

int nvmlSystemGetDriverVersion(char *buf, unsigned int len)
{
	const char *v = getenv("FAKE_NVML_DRIVER");

	if (len < 2)
		return 7;
	snprintf(buf, len, "%s", v ? v : "535.104.05");
	return 0;
}

int nvmlSystemGetCudaDriverVersion_v2(int *v)
{
	*v = _env_int("FAKE_NVML_CUDA", 12020);
	return 0;
}

int nvmlDeviceGetCount_v2(unsigned int *n)
{
	*n = ngpus;
	return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **dev)
{
	if (i >= ngpus)
		return 2;
	if ((int) i == _env_int("FAKE_NVML_LOST", -1) ||
	    (i < 64 && health[i].lost))
		return 15;
	*dev = busids[i];
	return 0;
}

int nvmlDeviceGetName(void *dev, char *buf, unsigned int len)
{
	const char *n = getenv("FAKE_NVML_NAME");

	(void) dev;
	snprintf(buf, len, "%s", n && *n ? n : "Tesla V100-SXM2-32GB");
	return 0;
}

int nvmlDeviceGetPciInfo_v3(void *dev, nvmlPciInfo_t *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->bus_id, sizeof(p->bus_id), "%s", (const char *) dev);
	p->pci_device_id = 0x1db510de;
	return 0;
}

int nvmlDeviceGetTotalEccErrors(void *dev, int type, int counter,
				unsigned long long *count)
{
	const char *e = getenv("FAKE_NVML_ECC");
	unsigned int idx = (unsigned int) ((char (*)[32]) dev - busids);

	if (type != 1 || counter != 0)
		return 2;
	*count = 0;
	if (e && (unsigned int) atoi(e) == idx && strchr(e, ':'))
		*count = strtoull(strchr(e, ':') + 1, NULL, 10);
	else if (idx < 64)
		*count = health[idx].ecc;
	return 0;
}

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
	if ((int) i == _env_int("FAKE_NVML_LOST", -1))
		return 15;
	*dev = busids[i];
	return 0;
}

int nvmlDeviceGetName(void *dev, char *buf, unsigned int len)
{
	(void) dev;
	snprintf(buf, len, "Tesla V100-SXM2-32GB");
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
	return 0;
}

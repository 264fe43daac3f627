/*
 * health-fuzz.c - libFuzzer target: what the node health checks
 * (shared/node/health.c) read from the machine: the kernel log
 * (/dev/kmsg records, NVIDIA XIDs), the XID state file it keeps
 * (run/slurm-azureml/xid-NODE), the boot id, /proc/meminfo and the sysfs
 * files of InfiniBand ports (link_layer, state, rate).
 *
 * The input is split on 0 bytes into the files of a fake root
 * ($AZML_HEALTH_ROOT's tree, made once under /dev/shm or /tmp), in this
 * order: boot_id, the state file, meminfo, mlx5_ib0's port 1 link_layer,
 * state, rate, mlx5_ib1's the same, then the kernel log (the rest, 0 bytes
 * included; a regular file, so its end is read() == 0, not EAGAIN).  A file
 * whose part is missing (fewer 0 bytes) is absent.  azml_health_xid,
 * azml_health_ib and azml_health_memory then judge an ND96asr_v4 (8 GPUs,
 * 200 Gb/s InfiniBand, 875520 MiB).  The site script's output is not
 * fuzzed (a fork per input; its one line goes through the same _fail).
 *
 * Checks beyond "no crash, no UB, no endless loop": at most
 * AZML_HEALTH_MAXFAIL failures, each of the check that ran, NUL-terminated
 * inside its reason, one line of printable text starting "CHECK: "; at
 * most one XID failure, one memory failure and two IB failures (one a
 * port, or "no InfiniBand port"); an InfiniBand port whose state or rate
 * file is missing or empty is "unknown", not some other file's text (nor
 * uninitialised memory); a second XID
 * run over the same kernel log, from the state the first one wrote, gives
 * the same answer (a hardware XID sticks for the boot, no record is
 * judged twice).
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "health.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	F_BOOT, F_STATE, F_MEMINFO, F_IB0_LAYER, F_IB0_STATE, F_IB0_RATE,
	F_IB1_LAYER, F_IB1_STATE, F_IB1_RATE, F_KMSG, F_N
};

static const char *const rel[F_N] = {
	"/proc/sys/kernel/random/boot_id",
	"/run/slurm-azureml/xid-nd-1",
	"/proc/meminfo",
	"/sys/class/infiniband/mlx5_ib0/ports/1/link_layer",
	"/sys/class/infiniband/mlx5_ib0/ports/1/state",
	"/sys/class/infiniband/mlx5_ib0/ports/1/rate",
	"/sys/class/infiniband/mlx5_ib1/ports/1/link_layer",
	"/sys/class/infiniband/mlx5_ib1/ports/1/state",
	"/sys/class/infiniband/mlx5_ib1/ports/1/rate",
	"/dev/kmsg",
};

static const char *const dirs[] = {
	"/proc", "/proc/sys", "/proc/sys/kernel", "/proc/sys/kernel/random",
	"/run", "/run/slurm-azureml", "/dev", "/sys", "/sys/class",
	"/sys/class/infiniband",
	"/sys/class/infiniband/mlx5_ib0",
	"/sys/class/infiniband/mlx5_ib0/ports",
	"/sys/class/infiniband/mlx5_ib0/ports/1",
	"/sys/class/infiniband/mlx5_ib1",
	"/sys/class/infiniband/mlx5_ib1/ports",
	"/sys/class/infiniband/mlx5_ib1/ports/1",
};

static char root[64];

static void _rm(const char *r)
{
	char p[256];

	snprintf(p, sizeof(p), "%s%s", root, r);
	unlink(p);
}

static void _cleanup(void)
{
	char p[256];

	for (int i = 0; i < F_N; i++)
		_rm(rel[i]);
	snprintf(p, sizeof(p), "/run/slurm-azureml/.xid.%ld", (long) getpid());
	_rm(p);
	for (int i = (int) (sizeof(dirs) / sizeof(dirs[0])) - 1; i >= 0; i--) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		rmdir(p);
	}
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char p[256];
	struct stat st;

	azml_log_init(AZML_LOG_STDERR, "health-fuzz", AZML_LOG_ERROR);
	/* tmpfs when there is one: each XID run fsyncs its state file */
	snprintf(root, sizeof(root), "%s/azml-health-fuzz.XXXXXX",
		 stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ?
		 "/dev/shm" : "/tmp");
	if (!mkdtemp(root)) {
		perror("health-fuzz: scratch root");
		exit(1);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", root, dirs[i]);
		if (mkdir(p, 0700) < 0) {
			perror(p);
			exit(1);
		}
	}
	atexit(_cleanup);
	return 0;
}

static void _put(const char *r, const uint8_t *d, size_t n)
{
	char p[256];
	FILE *fp;

	snprintf(p, sizeof(p), "%s%s", root, r);
	if (!(fp = fopen(p, "w")))
		abort();
	if (n && fwrite(d, 1, n, fp) != n)
		abort();
	if (fclose(fp))
		abort();
}

/* RES's failures of check C since index FROM are well formed; how many. */
static int _check(const azml_hresult_t *res, int from, azml_hc_t c)
{
	const char *name = azml_health_check_name(c);
	size_t nl = strlen(name);

	if (res->n < from || res->n > AZML_HEALTH_MAXFAIL)
		abort();
	for (int i = from; i < res->n; i++) {
		const char *r = res->fail[i].reason;
		const char *end = memchr(r, '\0', sizeof(res->fail[i].reason));

		if (res->fail[i].check != c || !end)
			abort();
		if (strncmp(r, name, nl) || strncmp(r + nl, ": ", 2) ||
		    end == r + nl + 2)
			abort();
		for (const char *q = r; q < end; q++)
			if (!isprint((unsigned char) *q))
				abort();
	}
	return res->n - from;
}

/* The first line of a file holding PART (NULL: absent) as health.c's
 * _read_line reads it into V[128]: -1 when there is none. */
static int _line(const char *part, size_t n, char v[128])
{
	size_t l;

	v[0] = '\0';
	if (!part || !n)
		return -1;
	l = n < 127 ? n : 127;
	memcpy(v, part, l);
	v[l] = '\0';
	v[strcspn(v, "\n")] = '\0';
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *part[F_N] = { NULL };
	size_t len[F_N] = { 0 };
	const uint8_t *p = data, *z;
	size_t left = size;
	int n = 0, got;
	char *text[F_N] = { NULL };
	azml_health_req_t req;
	azml_hresult_t res = { .n = 0 }, again = { .n = 0 };

	/* boot_id ... rate, each ended by a 0 byte; the kernel log: the rest */
	while (n < F_N) {
		part[n] = p;
		if (n == F_KMSG || !(z = memchr(p, 0, left))) {
			len[n++] = left;
			break;
		}
		len[n++] = (size_t) (z - p);
		left -= (size_t) (z - p) + 1;
		p = z + 1;
	}
	for (int i = 0; i < F_N; i++) {
		if (i < n)
			_put(rel[i], part[i], len[i]);
		else
			_rm(rel[i]);
		/* a C string of each part but the log (they hold no 0) */
		if (i < n && i != F_KMSG) {
			if (!(text[i] = malloc(len[i] + 1)))
				abort();
			memcpy(text[i], part[i], len[i]);
			text[i][len[i]] = '\0';
		}
	}

	memset(&req, 0, sizeof(req));
	req.root = root;
	req.node = "nd-1";
	req.size = "Standard_ND96asr_v4";
	req.gpus = 8;
	req.gpu_model = "A100";
	req.ib = true;
	req.ib_rate = 200;
	req.memory_mib = 875520;

	azml_health_xid(&req, &res);
	if (_check(&res, 0, AZML_HC_XID) > 1)
		abort();
	/* the same log again, from the state just written: the same answer */
	azml_health_xid(&req, &again);
	if (_check(&again, 0, AZML_HC_XID) != res.n ||
	    (res.n && strcmp(res.fail[0].reason, again.fail[0].reason)))
		abort();

	got = res.n;
	azml_health_ib(&req, &res);
	if (_check(&res, got, AZML_HC_IB) > 2)
		abort();
	/* a port that counts and whose state or rate is unknown says so */
	for (int d = 0; d < 2; d++) {
		int lay = d ? F_IB1_LAYER : F_IB0_LAYER;
		char want[128], v[128];
		bool seen = false;

		if (_line(text[lay], len[lay], v) == 0 &&
		    strcasecmp(v, "InfiniBand"))
			continue;
		if (_line(text[lay + 1], len[lay + 1], v) < 0)
			snprintf(want, sizeof(want), "ib: mlx5_ib%d port 1 is "
				 "unknown, not ACTIVE", d);
		else if (strstr(v, "ACTIVE") &&
			 _line(text[lay + 2], len[lay + 2], v) < 0)
			snprintf(want, sizeof(want), "ib: mlx5_ib%d port 1 "
				 "runs at an unknown rate, %s has %d Gb/sec",
				 d, req.size, req.ib_rate);
		else
			continue;
		for (int i = got; i < res.n; i++)
			seen = seen || !strcmp(res.fail[i].reason, want);
		if (!seen)
			abort();
	}

	got = res.n;
	azml_health_memory(&req, &res);
	if (_check(&res, got, AZML_HC_MEMORY) > 1)
		abort();

	for (int i = 0; i < F_N; i++)
		free(text[i]);
	return 0;
}

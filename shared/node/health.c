/*
 * health.c - a node's health checks (see health.h).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "generate.h"
#include "health.h"
#include "log.h"

#define KMSG_MAX_RECORDS 1000000	/* one run reads at most this many */
#define IB_MAX_PORTS 256
#define DISK_MIN_FREE_MIB 1024		/* or 5% of a smaller file system */

static void _fail(azml_hresult_t *res, azml_hc_t c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void _fail(azml_hresult_t *res, azml_hc_t c, const char *fmt, ...)
{
	azml_hfail_t *f;
	size_t l;
	va_list ap;

	if (res->n >= AZML_HEALTH_MAXFAIL)
		return;
	f = &res->fail[res->n++];
	f->check = c;
	l = (size_t) snprintf(f->reason, sizeof(f->reason), "%s: ",
			      azml_health_check_name(c));
	va_start(ap, fmt);
	vsnprintf(f->reason + l, sizeof(f->reason) - l, fmt, ap);
	va_end(ap);
	/* one line of printable text: it becomes a node's reason */
	for (char *p = f->reason; *p; p++)
		if (!isprint((unsigned char) *p))
			*p = ' ';
}

static void _path(char *out, size_t n, const azml_health_req_t *req,
		  const char *rel)
{
	snprintf(out, n, "%s%s", req->root ? req->root : "", rel);
}

/* The first line of PATH (up to N-1 bytes, '\n' dropped); -1 when none
 * (BUF then "": a caller may print it whichever way). */
static int _read_line(const char *path, char *buf, size_t n)
{
	FILE *fp = fopen(path, "re");
	int rv = -1;

	buf[0] = '\0';
	if (!fp)
		return -1;
	if (fgets(buf, (int) n, fp)) {
		buf[strcspn(buf, "\n")] = '\0';
		rv = 0;
	}
	fclose(fp);
	return rv;
}

/* ---- the request ------------------------------------------------------ */

int azml_health_ib_rate(const char *series)
{
	static const struct {
		const char *series;
		int rate;
	} tab[] = {
		/* Azure's HPC and GPU size pages: EDR 100, HDR 200, NDR 400 */
		{ "HB", 100 }, { "HC", 100 }, { "HBv2", 200 }, { "HBv3", 200 },
		{ "HBv4", 400 }, { "HX", 400 }, { "NDv2", 100 },
		{ "NDasrA100_v4", 200 }, { "NDm_A100_v4", 200 },
		{ "NDH100v5", 400 },
	};

	for (size_t i = 0; series && i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcasecmp(tab[i].series, series))
			return tab[i].rate;
	return 0;
}

void azml_health_req_of(const azml_target_t *t, const char *node,
			azml_health_req_t *req)
{
	const char *root = getenv("AZML_HEALTH_ROOT");
	char why[256];

	memset(req, 0, sizeof(*req));
	req->root = root ? root : "";
	req->node = node;
	req->checks = AZML_HC_ALL;
	req->script_seconds = AZML_HEALTH_SCRIPT_SECONDS;
	if (!t) {
		req->checks = (1u << AZML_HC_DISK);
		return;
	}
	if (azml_health_checks_parse(t->health_checks, &req->checks, why,
				     sizeof(why)) < 0)
		req->checks = AZML_HC_ALL;	/* the conf check refused it */
	req->script = t->health_check_script;
	if (t->kind == AZML_ATTACHED) {
		req->size = t->name;
		req->gpus = t->gpus;
		req->gpu_model = t->gpu_type;
		req->memory_mib = t->real_memory;
		return;
	}
	req->size = t->vm_size;
	if (t->size.size) {
		req->gpus = t->size.size->gpus;
		req->gpu_model = t->size.size->gpu_model;
		req->memory_mib =
			azml_usable_memory_mib(t->size.size->memory_mib);
	}
	req->ib = t->size.rdma;
	req->ib_rate = req->ib && t->size.series ?
		       azml_health_ib_rate(t->size.series->name) : 0;
}

/* ---- GPUs (NVML) -------------------------------------------------------- */

static const char *_gpu_id(const azml_nvml_t *nv, int i, char *buf, size_t n)
{
	if (nv->gpus[i].busid[0])
		snprintf(buf, n, "GPU %s", nv->gpus[i].busid);
	else
		snprintf(buf, n, "GPU %d", i);
	return buf;
}

void azml_health_gpu(const azml_health_req_t *req, azml_hresult_t *res)
{
	const azml_nvml_t *nv = req->nvml;
	char id[32];

	if (req->gpus <= 0)
		return;
	if (!nv || !nv->present) {
		_fail(res, AZML_HC_GPU, "%s", nv ? nv->note : "NVML not asked");
		return;
	}
	if (nv->count != req->gpus)
		_fail(res, AZML_HC_GPU, "%d GPU%s seen, %s has %d", nv->count,
		      nv->count == 1 ? "" : "s", req->size ? req->size : "the size",
		      req->gpus);
	for (int i = 0; i < nv->count; i++) {
		_gpu_id(nv, i, id, sizeof(id));
		if (nv->gpus[i].lost) {
			const char *p = nv->gpus[i].problem;

			/* "NVML GPU 5: GPU is lost" */
			_fail(res, AZML_HC_GPU, "%s",
			      strncmp(p, "NVML ", 5) ? p : p + 5);
			continue;
		}
		if (req->gpu_model && nv->gpus[i].name[0] &&
		    !strcasestr(nv->gpus[i].name, req->gpu_model))
			_fail(res, AZML_HC_GPU, "%s is a %s, %s has %s", id,
			      nv->gpus[i].name,
			      req->size ? req->size : "the size",
			      req->gpu_model);
		if (nv->gpus[i].remap_failed)
			_fail(res, AZML_HC_GPU, "%s: row remapping failed", id);
		else if (nv->gpus[i].remap_pending)
			_fail(res, AZML_HC_GPU, "%s: row remapping pending "
			      "(needs a GPU reset)", id);
		if (nv->gpus[i].retired_pending)
			_fail(res, AZML_HC_GPU, "%s: retired pages pending "
			      "(needs a GPU reset)", id);
	}
}

void azml_health_ecc(const azml_health_req_t *req, azml_hresult_t *res)
{
	const azml_nvml_t *nv = req->nvml;
	char id[32];

	if (!nv || !nv->present)
		return;		/* the gpu check says why */
	for (int i = 0; i < nv->count; i++)
		if (!nv->gpus[i].lost && nv->gpus[i].ecc > 0)
			_fail(res, AZML_HC_ECC, "%s: %llu uncorrectable ECC "
			      "error%s since the driver loaded",
			      _gpu_id(nv, i, id, sizeof(id)), nv->gpus[i].ecc,
			      nv->gpus[i].ecc == 1 ? "" : "s");
}

/* ---- XIDs (kernel log) -------------------------------------------------- */

const char *azml_xid_hardware(int xid)
{
	/* NVIDIA's XID catalog: the ones a GPU's hardware, memory or links
	 * cause (application faults such as 13, 31, 43, 45 are not). */
	switch (xid) {
	case 48: return "double-bit ECC error";
	case 61: case 62: return "internal micro-controller error";
	case 63: return "ECC page retirement or row remapping recorded";
	case 64: return "ECC page retirement or row remapping failed";
	case 74: return "NVLink error";
	case 79: return "GPU has fallen off the bus";
	case 92: return "high single-bit ECC error rate";
	case 94: return "contained ECC error";
	case 95: return "uncontained ECC error";
	case 119: case 120: return "GSP error";
	case 140: return "unrecovered ECC error";
	default: return NULL;
	}
}

typedef struct {
	char boot[64];
	unsigned long long seq;	/* the last record seen; 0: none */
	bool any;		/* seq is set */
	char fail[200];		/* the first hardware XID of this boot */
} xid_state_t;

/* ROOT/run/slurm-azureml: made 0700 when missing; refused unless it is a
 * directory of ours that nobody else may write. */
static int _state_dir(const azml_health_req_t *req, char *dir, size_t n,
		      char *why, size_t wn)
{
	char run[4096];
	struct stat st;

	_path(run, sizeof(run), req, "/run");
	snprintf(dir, n, "%s/slurm-azureml", run);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		snprintf(why, wn, "%.200s: %s", dir, strerror(errno));
		return -1;
	}
	if (lstat(dir, &st) < 0 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022)) {
		snprintf(why, wn, "%.200s is not a directory of uid %u that "
			 "only it may write", dir, (unsigned) geteuid());
		return -1;
	}
	return 0;
}

static void _state_load(const char *path, xid_state_t *s)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char buf[512];
	ssize_t got;
	char *line, *save = NULL;

	memset(s, 0, sizeof(*s));
	if (fd < 0)
		return;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return;
	buf[got] = '\0';
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "boot=", 5))
			snprintf(s->boot, sizeof(s->boot), "%s", line + 5);
		else if (!strncmp(line, "seq=", 4)) {
			char *end;

			s->seq = strtoull(line + 4, &end, 10);
			s->any = *end == '\0';
		} else if (!strncmp(line, "fail=", 5))
			snprintf(s->fail, sizeof(s->fail), "%s", line + 5);
	}
}

static int _state_save(const char *dir, const char *path,
		       const xid_state_t *s)
{
	char tmp[4200], buf[512];
	int fd, len, rv = -1;

	snprintf(tmp, sizeof(tmp), "%s/.xid.%ld", dir, (long) getpid());
	len = snprintf(buf, sizeof(buf), "boot=%s\nseq=%llu\n%s%s%s", s->boot,
		       s->seq, s->fail[0] ? "fail=" : "", s->fail,
		       s->fail[0] ? "\n" : "");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0)
		return -1;
	if (write(fd, buf, (size_t) len) == len && fsync(fd) == 0)
		rv = 0;
	close(fd);
	if (rv == 0 && rename(tmp, path) < 0)
		rv = -1;
	if (rv < 0)
		unlink(tmp);
	return rv;
}

/* One kernel log record, "PRIO,SEQ,USEC,FLAGS;MESSAGE": its sequence
 * number and a hardware XID's reason (into WHY; "" when none).  -1 when
 * the line is not a record. */
static int _kmsg_record(const char *line, unsigned long long *seq, char *why,
			size_t wn)
{
	const char *msg = strchr(line, ';'), *p, *x;
	char *end;
	char bus[32];
	int xid;
	const char *what;

	why[0] = '\0';
	p = strchr(line, ',');
	if (!msg || !p || p > msg)
		return -1;
	*seq = strtoull(p + 1, &end, 10);
	if (end == p + 1)
		return -1;
	if (!(x = strstr(msg, "NVRM: Xid (")))
		return 0;
	x += strlen("NVRM: Xid (");
	if (!strncmp(x, "PCI:", 4))
		x += 4;
	if (sscanf(x, "%31[0-9a-fA-F:.]): %d", bus, &xid) != 2)
		return 0;
	if ((what = azml_xid_hardware(xid)))
		snprintf(why, wn, "GPU %s: XID %d (%s)", bus, xid, what);
	return 0;
}

void azml_health_xid(const azml_health_req_t *req, azml_hresult_t *res)
{
	char dir[4200], path[4400], kmsg[4096], bootp[4096], why[256];
	char buf[8192 + 1], line[8192 + 1];
	size_t have = 0;
	xid_state_t st, old;
	unsigned long long seq, first = 0;
	long records = 0;
	bool dirty = false;
	int fd;

	if (req->gpus <= 0)
		return;
	if (_state_dir(req, dir, sizeof(dir), why, sizeof(why)) < 0) {
		azml_log_error("health: xid: %s: every XID in the kernel log "
			       "is judged", why);
		dir[0] = '\0';
	}
	snprintf(path, sizeof(path), "%s/xid-%s", dir,
		 req->node ? req->node : "node");
	if (dir[0])
		_state_load(path, &st);
	else
		memset(&st, 0, sizeof(st));
	old = st;
	_path(bootp, sizeof(bootp), req, "/proc/sys/kernel/random/boot_id");
	{
		char boot[64] = "";

		_read_line(bootp, boot, sizeof(boot));
		if (strcmp(boot, st.boot)) {	/* a new boot: a new log */
			memset(&st, 0, sizeof(st));
			snprintf(st.boot, sizeof(st.boot), "%s", boot);
		}
	}
	_path(kmsg, sizeof(kmsg), req, "/dev/kmsg");
	fd = open(kmsg, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		_fail(res, AZML_HC_XID, "cannot read the kernel log %s: %s",
		      kmsg, strerror(errno));
		return;
	}
	/* /dev/kmsg hands out one record a read (EAGAIN at its end, EPIPE
	 * when the ring overwrote what was next); a file, many lines. */
	while (records < KMSG_MAX_RECORDS) {
		ssize_t got = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *nl, *start;

		if (got < 0 && errno == EPIPE) {
			records++;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		have += (size_t) got;
		buf[have] = '\0';
		start = buf;
		while ((nl = memchr(start, '\n', have - (size_t) (start - buf))) ||
		       (have == sizeof(buf) - 1 && start == buf)) {
			size_t ll = nl ? (size_t) (nl - start) : have;

			memcpy(line, start, ll);
			line[ll] = '\0';
			start += ll + (nl ? 1 : 0);
			records++;
			if (_kmsg_record(line, &seq, why, sizeof(why)) < 0)
				continue;
			if (!first)
				first = seq ? seq : 1;
			if (st.any && seq <= st.seq)
				continue;
			st.seq = seq;
			st.any = true;
			dirty = true;
			if (why[0] && !st.fail[0])
				snprintf(st.fail, sizeof(st.fail), "%s", why);
		}
		have -= (size_t) (start - buf);
		memmove(buf, start, have);
	}
	close(fd);
	/* first - 1: the state file's seq may be the largest there is */
	if (old.any && first && first - 1 > old.seq &&
	    !strcmp(old.boot, st.boot))
		azml_log_info("health: xid: the kernel log lost records %llu-"
			      "%llu since the last run", old.seq + 1, first - 1);
	if (dirty && dir[0] && _state_save(dir, path, &st) < 0)
		azml_log_error("health: xid: cannot write %s: %s", path,
			       strerror(errno));
	if (st.fail[0])
		_fail(res, AZML_HC_XID, "%s", st.fail);
}

/* ---- InfiniBand (sysfs) ------------------------------------------------- */

void azml_health_ib(const azml_health_req_t *req, azml_hresult_t *res)
{
	char base[1024], p[2048], v[128];
	DIR *d, *pd;
	struct dirent *e, *pe;
	int ports = 0, seen = 0;

	if (!req->ib)
		return;
	_path(base, sizeof(base), req, "/sys/class/infiniband");
	if (!(d = opendir(base))) {
		_fail(res, AZML_HC_IB, "no InfiniBand device (%s: %s); %s has "
		      "InfiniBand", base, strerror(errno),
		      req->size ? req->size : "the size");
		return;
	}
	while ((e = readdir(d)) && seen < IB_MAX_PORTS) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s/ports", base, e->d_name);
		if (!(pd = opendir(p)))
			continue;
		while ((pe = readdir(pd)) && seen++ < IB_MAX_PORTS) {
			char port[1800];
			long rate;

			if (pe->d_name[0] == '.')
				continue;
			snprintf(port, sizeof(port), "%s/%s/ports/%s", base,
				 e->d_name, pe->d_name);
			/* Azure's accelerated networking shows its Mellanox
			 * VFs here too, as Ethernet ports: not InfiniBand. */
			snprintf(p, sizeof(p), "%s/link_layer", port);
			if (_read_line(p, v, sizeof(v)) == 0 &&
			    strcasecmp(v, "InfiniBand"))
				continue;
			ports++;
			snprintf(p, sizeof(p), "%s/state", port);
			if (_read_line(p, v, sizeof(v)) < 0 ||
			    !strstr(v, "ACTIVE")) {
				_fail(res, AZML_HC_IB, "%s port %s is %s, not "
				      "ACTIVE", e->d_name, pe->d_name,
				      v[0] ? v : "unknown");
				v[0] = '\0';
				continue;
			}
			snprintf(p, sizeof(p), "%s/rate", port);
			if (req->ib_rate > 0 &&
			    (_read_line(p, v, sizeof(v)) < 0 ||
			     (rate = strtol(v, NULL, 10)) < req->ib_rate))
				_fail(res, AZML_HC_IB, "%s port %s runs at %s, "
				      "%s has %d Gb/sec", e->d_name, pe->d_name,
				      v[0] ? v : "an unknown rate",
				      req->size ? req->size : "the size",
				      req->ib_rate);
			v[0] = '\0';
		}
		closedir(pd);
	}
	closedir(d);
	if (!ports)
		_fail(res, AZML_HC_IB, "no InfiniBand port in %s; %s has "
		      "InfiniBand", base, req->size ? req->size : "the size");
}

/* ---- memory and disk ---------------------------------------------------- */

void azml_health_memory(const azml_health_req_t *req, azml_hresult_t *res)
{
	char path[4096], line[256];
	FILE *fp;
	long kib = -1;

	if (req->memory_mib <= 0)
		return;
	_path(path, sizeof(path), req, "/proc/meminfo");
	if (!(fp = fopen(path, "re"))) {
		_fail(res, AZML_HC_MEMORY, "%s: %s", path, strerror(errno));
		return;
	}
	while (fgets(line, sizeof(line), fp))
		if (sscanf(line, "MemTotal: %ld kB", &kib) == 1)
			break;
	fclose(fp);
	if (kib < 0)
		_fail(res, AZML_HC_MEMORY, "%s has no MemTotal", path);
	else if (kib / 1024 < req->memory_mib)
		_fail(res, AZML_HC_MEMORY, "%ld MiB seen, %s needs %ld MiB",
		      kib / 1024, req->size ? req->size : "the node",
		      req->memory_mib);
}

static void _disk_one(const azml_health_req_t *req, const char *rel,
		      bool must, azml_hresult_t *res)
{
	char path[4096];
	struct statvfs sv;
	unsigned long long total, avail, need;

	_path(path, sizeof(path), req, rel);
	if (statvfs(path, &sv) < 0) {
		if (must || errno != ENOENT)
			_fail(res, AZML_HC_DISK, "%s: %s", rel, strerror(errno));
		return;
	}
	total = (unsigned long long) sv.f_blocks * sv.f_frsize >> 20;
	avail = (unsigned long long) sv.f_bavail * sv.f_frsize >> 20;
	need = total / 20 < DISK_MIN_FREE_MIB ? total / 20 : DISK_MIN_FREE_MIB;
	if (avail < need)
		_fail(res, AZML_HC_DISK, "%s has %llu MiB free of %llu MiB "
		      "(needs %llu)", rel, avail, total, need);
}

void azml_health_disk(const azml_health_req_t *req, azml_hresult_t *res)
{
	/* the spool may not exist before slurmd's first job: not a fault */
	_disk_one(req, req->spool ? req->spool : "/var/spool/slurmd", false,
		  res);
	_disk_one(req, "/tmp", true, res);
}

/* ---- the site's script -------------------------------------------------- */

void azml_health_script(const azml_health_req_t *req, azml_hresult_t *res)
{
	int pfd[2], status = 0;
	char out[4096];
	size_t have = 0;
	struct timespec t0, now;
	pid_t pid;
	bool timed_out = false;

	if (!req->script)
		return;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		_fail(res, AZML_HC_SCRIPT, "%s: pipe: %s", req->script,
		      strerror(errno));
		return;
	}
	if ((pid = fork()) < 0) {
		_fail(res, AZML_HC_SCRIPT, "%s: fork: %s", req->script,
		      strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		setpgid(0, 0);
		dup2(nul, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execl(req->script, req->script, (char *) NULL);
		dprintf(1, "cannot run: %s\n", strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pfd[1]);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		long left;
		ssize_t got;
		char sink[512];

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (long) req->script_seconds * 1000 -
		       ((now.tv_sec - t0.tv_sec) * 1000 +
			(now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(&p, 1, (int) left) <= 0)
			continue;
		if (have < sizeof(out) - 1)
			got = read(pfd[0], out + have, sizeof(out) - 1 - have);
		else
			got = read(pfd[0], sink, sizeof(sink));
		if (got <= 0)
			break;		/* EOF: every writer closed */
		if (have < sizeof(out) - 1)
			have += (size_t) got;
	}
	close(pfd[0]);
	out[have] = '\0';
	if (timed_out) {
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		_fail(res, AZML_HC_SCRIPT, "%s did not finish in %d s",
		      req->script, req->script_seconds);
		return;
	}
	/* output closed: the script ended (or handed its stdout on) */
	for (int i = 0; i < req->script_seconds * 100; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			goto done;
		usleep(10000);
	}
	kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	_fail(res, AZML_HC_SCRIPT, "%s did not finish in %d s", req->script,
	      req->script_seconds);
	return;
done:
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	out[strcspn(out, "\n")] = '\0';
	if (out[0])
		_fail(res, AZML_HC_SCRIPT, "%.180s", out);
	else if (WIFEXITED(status))
		_fail(res, AZML_HC_SCRIPT, "%s exited %d", req->script,
		      WEXITSTATUS(status));
	else
		_fail(res, AZML_HC_SCRIPT, "%s killed by signal %d",
		      req->script, WTERMSIG(status));
}

int azml_health_run(const azml_health_req_t *req, azml_hresult_t *res)
{
	static void (*const fn[AZML_HC_N])(const azml_health_req_t *,
					    azml_hresult_t *) = {
		azml_health_gpu, azml_health_ecc, azml_health_xid,
		azml_health_ib, azml_health_memory, azml_health_disk,
		azml_health_script,
	};

	res->n = 0;
	for (int c = 0; c < AZML_HC_N; c++)
		if (req->checks & (1u << c))
			fn[c](req, res);
	return res->n;
}

/*
 * sandbox.c - how the Azure emulator's VMs boot: the boot command, the
 * sandbox (unshare, --sandbox-init), serial logs and boot diagnostics.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

struct emu_boot_state emu_boot_st;

/* Debian's system CA store, which libcurl and OpenSSL read by default. */
#define SANDBOX_CA_STORE "/etc/ssl/certs/ca-certificates.crt"

/* ---------------------------------------------------------------------- */
/* VMs that boot: the boot command in a process group of its own. */

/*
 * The boot command with its placeholders turned into quoted positional
 * parameters ({vm} -> "$1", {node} -> "$2", {ip} -> "$3"): what a request
 * chose reaches sh as an argument, never as shell text.  Returns a malloc'd
 * string, or NULL when out of memory.
 */
static char *_boot_script(const char *t)
{
	static const struct {
		const char *ph, *param;
	} subst[] = { { "{vm}", "\"$1\"" }, { "{node}", "\"$2\"" },
		      { "{ip}", "\"$3\"" } };
	size_t cap = strlen(t) + 1, n = 0;
	char *cmd;

	/* each placeholder is at least as long as its replacement */
	if (!(cmd = malloc(cap)))
		return NULL;
	while (*t) {
		size_t i;

		for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++)
			if (!strncmp(t, subst[i].ph, strlen(subst[i].ph)))
				break;
		if (i < sizeof(subst) / sizeof(subst[0])) {
			memcpy(cmd + n, subst[i].param, strlen(subst[i].param));
			n += strlen(subst[i].param);
			t += strlen(subst[i].ph);
		} else {
			cmd[n++] = *t++;
		}
	}
	cmd[n] = '\0';
	return cmd;
}

/* The serial log of VM V under --console-dir: OUT (N bytes) gets
 * DIR/name.log, the validated name in lower case.  Returns 0, or -1 when
 * there is none (no --node-init, a name that is not one). */
int emu_console_path(const vm_t *v, char *out, size_t n)
{
	if (!emu_boot_st.node_init || !emu_boot_st.console_dir || !emu_name_ok(v->name) ||
	    (size_t) snprintf(out, n, "%s/%s.log", emu_boot_st.console_dir, v->name) >= n)
		return -1;
	emu_lower(out + strlen(emu_boot_st.console_dir) + 1);
	return 0;
}

/* VM V's disk layer under --image-layers: OUT (N bytes) gets DIR/name,
 * the validated name in lower case.  Returns 0, or -1 when there is none. */
static int _layer_path(const vm_t *v, char *out, size_t n)
{
	if (!emu_boot_st.node_init || !emu_boot_st.layer_dir || !emu_name_ok(v->name) ||
	    (size_t) snprintf(out, n, "%s/%s", emu_boot_st.layer_dir, v->name) >= n)
		return -1;
	emu_lower(out + strlen(emu_boot_st.layer_dir) + 1);
	return 0;
}

/*
 * Delete VM V's disk layer with the VM: renamed at once out of the way of a
 * new VM of the same name, then removed by rm(1) in the background once
 * the halted VM is gone (its mount of the layer goes with its namespace).
 */
void emu_layer_delete(const vm_t *v)
{
	char path[4096], gone[4200], id[40];
	pid_t pid;

	if (_layer_path(v, path, sizeof(path)))
		return;
	emu_uuid(id);
	snprintf(gone, sizeof(gone), "%s/.deleted-%s", emu_boot_st.layer_dir, id);
	if (rename(path, gone))
		return;		/* it never booted */
	/* after the halted VM's SIGKILL (emu_halt: a second), when nothing
	 * writes there any more */
	posix_spawn(&pid, "/bin/sh", NULL, NULL, (char *const[]) { "sh", "-c",
		    "sleep 2; exec rm -rf --one-file-system \"$1\"", "sh", gone,
		    NULL }, environ);
}

/* The boot command's environment: the emulator's own for --boot-command;
 * for --node-init, a clean one that names the VM's IMDS and, with
 * --image-layers, its disk layer (see azure-emulator(8)).  BUF holds the
 * strings. */
static char **_boot_env(const vm_t *v, char buf[3][512], char **envp)
{
	char layer[480];

	if (!emu_boot_st.node_init)
		return environ;
	snprintf(buf[0], 512, "AZURE_EMULATOR_IMDS=%s", emu_net_st.imds_url);
	snprintf(buf[1], 512, "AZURE_EMULATOR_VM=%s", v->name);
	envp[0] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		  "/sbin:/bin";
	envp[1] = "HOME=/root";
	envp[2] = buf[0];
	envp[3] = buf[1];
	envp[4] = NULL;
	if (!_layer_path(v, layer, sizeof(layer))) {
		snprintf(buf[2], 512, "AZURE_EMULATOR_LAYER=%s", layer);
		envp[4] = buf[2];
		envp[5] = NULL;
	}
	return envp;
}

/*
 * Boot VM V: run the boot command in a process group of its own, or, with
 * --node-init, unshare(1) with new UTS, mount, PID and time namespaces
 * running this binary's --sandbox-init (a reaping init, PID 1 of the
 * namespace) that runs the command.  The time namespace's boot time is
 * now, as a fresh VM's is (Slurm checks it for CLOUD nodes).
 */
void emu_boot(vm_t *v)
{
	const char *tmpl = emu_boot_st.node_init ? emu_boot_st.node_init : emu_boot_st.boot_command;
	char *cmd, console[4096], boottime[64], envbuf[3][512], *envp[6];
	/* a set's VMs have no slurm-node tag: {node} is "" */
	const char *node = v->vmss ? "" : v->node ? v->node : v->name;
	pid_t pid;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	double up = 0;
	FILE *fp;
	int rc;

	if (!tmpl || v->pgid > 0)
		return;
	if (emu_boot_st.node_init && (!v->computer || emu_console_path(v, console,
							  sizeof(console))))
		return;		/* a journal's VM whose names are not valid */
	if (!(cmd = _boot_script(tmpl)))
		return;
	if ((fp = fopen("/proc/uptime", "re"))) {
		if (fscanf(fp, "%lf", &up) != 1)
			up = 0;
		fclose(fp);
	}
	snprintf(boottime, sizeof(boottime), "--boottime=-%ld", (long) up);
	/* posix_spawn, not fork: forking this many-threaded process copies
	 * its page tables, which under the lock stalls every request while a
	 * thousand VMs boot. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_init(&fa);
	/* the VM's console: not the emulator's own streams; a link planted
	 * in its place is refused */
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
		emu_boot_st.node_init ? console : emu_boot_st.boot_log ? emu_boot_st.boot_log : "/dev/null",
		O_WRONLY | O_APPEND | O_CREAT | (emu_boot_st.node_init ? O_NOFOLLOW : 0),
		0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	if (emu_boot_st.node_init)
		rc = posix_spawn(&pid, emu_boot_st.unshare, &fa, &attr, (char *const[]) {
			"unshare", "--uts", "--mount", "--propagation", "unchanged",
			"--pid", "--fork", "--kill-child", "--mount-proc", "--time",
			boottime, emu_boot_st.self_exe, "--sandbox-init", v->computer,
			emu_boot_st.hosts_file, emu_boot_st.ca_file, "--",
			"/bin/sh", "-c", cmd, "sh", v->name, (char *) node,
			"127.0.0.1", NULL }, _boot_env(v, envbuf, envp));
	else
		rc = posix_spawn(&pid, "/bin/sh", &fa, &attr,
			(char *const[]) { "sh", "-c", cmd, "sh", v->name,
					  (char *) node, "127.0.0.1", NULL },
			environ);
	if (rc == 0)
		v->pgid = pid;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(cmd);
}

/*
 * Boot V once its create or start has finished.  A --node-init sandbox's
 * boot time must not look older than the power-up request, which came
 * before NOW, or slurmctld keeps waiting for a boot ("Still waiting for boot
 * of node") until ResumeTimeout.  slurmd reports whole seconds: boot time =
 * time(NULL) - sysinfo()'s uptime, which the kernel rounds up, so it can be
 * up to 2 s before the real boot; and the time namespace's offset is whole
 * seconds too, so the sandbox's uptime starts at the fraction of the host's.
 * So the sandbox starts when the host's uptime is 0.02 s past a whole
 * second (its uptime starts at 0.02 s), at least 2 s after the last whole
 * second of NOW: a boot delay of 2-3 s, as a VM has one.  A boot command
 * waits of its own accord (the tests' "sleep 2").
 */
void emu_boot_soon(vm_t *v, double now)
{
	double up = 0, k;
	FILE *fp;

	if (!emu_boot_st.node_init) {
		emu_boot(v);
		return;
	}
	if ((fp = fopen("/proc/uptime", "re"))) {
		if (fscanf(fp, "%lf", &up) != 1)
			up = 0;
		fclose(fp);
	}
	k = ceil(2 - (now - floor(now)) + (up - floor(up)));
	v->boot_at = now + k - (up - floor(up)) + 0.02;
}

/* The host pid of a sandbox's init: the one child of unshare (PGID). */
static pid_t _sandbox_pid1(pid_t pgid)
{
	char path[64];
	long pid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pgid,
		 (int) pgid);
	if (!(fp = fopen(path, "re")))
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return (pid_t) pid;
}

/* Freeze (ON) or thaw VM V's processes: a sandbox's init stops or
 * continues every process of its namespace (daemons that left the process
 * group included); a boot command's process group is stopped. */
void emu_freeze(vm_t *v, bool on)
{
	pid_t p1;

	if (v->pgid <= 0)
		return;
	if (emu_boot_st.node_init && (p1 = _sandbox_pid1(v->pgid)) > 0)
		kill(p1, on ? SIGUSR1 : SIGUSR2);
	else
		kill(-v->pgid, on ? SIGSTOP : SIGCONT);
}

/* Process groups to SIGKILL once their time comes (under lock). */
static struct {
	pid_t pg;
	double at;
} *kills;
static size_t nkills, capkills;

void emu_halt(vm_t *v)
{
	if (v->pgid > 0) {
		kill(-v->pgid, SIGTERM);
		kill(-v->pgid, SIGCONT);	/* a frozen one too */
		/* whatever ignores SIGTERM is gone a second later */
		if (nkills == capkills) {
			size_t cap = capkills ? capkills * 2 : 16;
			void *nk = realloc(kills, cap * sizeof(*kills));

			if (nk) {
				kills = nk;
				capkills = cap;
			}
		}
		if (nkills < capkills) {
			kills[nkills].pg = v->pgid;
			kills[nkills++].at = emu_now() + 1;
		}
	}
	v->pgid = 0;
}

void emu_reap_kills(double now)
{
	size_t j = 0;

	for (size_t i = 0; i < nkills; i++) {
		if (kills[i].at <= now)
			kill(-kills[i].pg, SIGKILL);
		else
			kills[j++] = kills[i];
	}
	nkills = j;
}

#define SERIAL_MAX (1 << 20)	/* the blob serves the log's last 1 MiB */

/*
 * POST .../retrieveBootDiagnosticsData[?sasUriExpirationTimeInMinutes=N]:
 * SAS URLs of the VM's screenshot and serial log, served by this emulator
 * under /emulator-blob/; each answer signs with a new random sig, valid
 * for N minutes (1 to 1440, default 120).
 */
void emu_boot_diagnostics(vm_t *v, struct MHD_Connection *c, reply_t *r)
{
	const char *m = emu_arg(c, "sasUriExpirationTimeInMinutes");
	const cJSON *bd = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(v->resource, "properties"),
		"diagnosticsProfile"), "bootDiagnostics");
	char se[40], url[1024], *end = NULL;
	long mins = m ? strtol(m, &end, 10) : 120;
	time_t t;
	struct tm tm;
	cJSON *o;

	if (m && (*end || mins < 1 || mins > 1440)) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "sasUriExpirationTimeInMinutes is invalid: it must be "
		       "between 1 and 1440.");
		return;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItem(bd, "enabled"))) {
		emu_error(r, 409, "OperationNotAllowed", "Operation "
		       "'retrieveBootDiagnosticsData' is not allowed on VM '%s' "
		       "since boot diagnostics is not enabled on it.", v->name);
		return;
	}
	memmove(&v->sas[0], &v->sas[1], sizeof(v->sas) - sizeof(v->sas[0]));
	emu_uuid(url);
	for (char *p = url, *q = v->sas[3].sig; *p; p++)
		if (*p != '-')
			*q++ = *p, *q = '\0';
	v->sas[3].until = t = time(NULL) + mins * 60;
	gmtime_r(&t, &tm);
	strftime(se, sizeof(se), "%Y-%m-%dT%H%%3A%M%%3A%SZ", &tm);
	o = cJSON_CreateObject();
	snprintf(url, sizeof(url), "%s/emulator-blob/bootdiagnostics/"
		 "%s/screenshot.bmp?sv=2021-12-02&sr=b&sp=r&se=%s&sig=%s",
		 emu_net_st.base_url, v->name, se, v->sas[3].sig);
	cJSON_AddStringToObject(o, "consoleScreenshotBlobUri", url);
	snprintf(url, sizeof(url), "%s/emulator-blob/bootdiagnostics/"
		 "%s/serialconsole.log?sv=2021-12-02&sr=b&sp=r&se=%s&sig=%s",
		 emu_net_st.base_url, v->name, se, v->sas[3].sig);
	cJSON_AddStringToObject(o, "serialConsoleLogBlobUri", url);
	emu_json(r, 200, o);
}

/* Azure Storage's XML error. */
static void _blob_error(reply_t *r, int status, const char *code,
			const char *msg, const char *detail)
{
	char id[40], when[64], *b;
	time_t t = time(NULL);
	struct tm tm;

	emu_uuid(id);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
	if (asprintf(&b, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		     "<Error><Code>%s</Code><Message>%s\nRequestId:%s\nTime:%s"
		     "</Message>%s%s%s</Error>", code, msg, id, when,
		     detail ? "<AuthenticationErrorDetail>" : "",
		     detail ? detail : "",
		     detail ? "</AuthenticationErrorDetail>" : "") < 0)
		b = NULL;
	r->status = status;
	free(r->body);
	r->body = b;
	r->ctype = "application/xml";
}

/*
 * GET /emulator-blob/bootdiagnostics/{vm}/serialconsole.log?...&sig=SIG:
 * the VM's serial log (its last SERIAL_MAX bytes), only with a sig that
 * retrieveBootDiagnosticsData handed out and that has not expired.
 */
void emu_blob(const char *method, char *path, struct MHD_Connection *c,
		  reply_t *r)
{
	char *seg[6], console[4096];
	int n = emu_segments(path, seg, 6);
	const char *sig = emu_arg(c, "sig");
	double now = emu_now();
	vm_t *v = n == 4 && emu_name_ok(seg[2]) ? emu_vm_by_name(seg[2]) : NULL;
	bool ok = false, expired = false;
	struct stat sb;
	int fd;

	for (int i = 0; v && sig && i < 4; i++)
		if (v->sas[i].sig[0] && !strcmp(v->sas[i].sig, sig)) {
			ok = v->sas[i].until >= now;
			expired = !ok;
		}
	if (!ok || strcmp(method, "GET") || strcmp(seg[1], "bootdiagnostics")) {
		_blob_error(r, 403, "AuthenticationFailed", "Server failed to "
			    "authenticate the request. Make sure the value of "
			    "Authorization header is formed correctly including "
			    "the signature.", expired ? "Signed expiry time has "
			    "passed" : "Signature did not match");
		return;
	}
	if (strcmp(seg[3], "serialconsole.log")) {
		_blob_error(r, 404, "BlobNotFound", "The specified blob does not "
			    "exist.", NULL);
		return;
	}
	r->status = 200;
	r->ctype = "text/plain; charset=utf-8";
	if (emu_console_path(v, console, sizeof(console)) ||
	    (fd = open(console, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;		/* nothing on its console yet */
	if (!fstat(fd, &sb) && S_ISREG(sb.st_mode)) {
		off_t from = sb.st_size > SERIAL_MAX ? sb.st_size - SERIAL_MAX : 0;
		size_t want = sb.st_size - from;
		ssize_t got;

		if ((r->body = malloc(want + 1)) &&
		    (got = pread(fd, r->body, want, from)) >= 0) {
			r->body[got] = '\0';
			r->len = got;
		}
	}
	close(fd);
}

static void _no_op(int sig)
{
	(void) sig;
}

/* The private directories of each sandbox (a tmpfs each): its own munged
 * and key, and a slurmd that finds no slurm.conf (configless). */
static const char *const sandbox_dirs[] = {
	"/etc/munge", "/run/munge", "/var/lib/munge", "/var/log/munge",
	"/run/slurm", "/var/spool/slurmd", "/etc/slurm",
};

static int _mkdir_p(const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/*
 * azure-emulator --sandbox-init HOSTNAME -- COMMAND...: PID 1 of a VM's
 * PID namespace (internal; emu_boot runs it under unshare).  It names the
 * host, mounts the private tmpfs, runs COMMAND, and then reaps every
 * orphan for as long as the VM lives (slurmd as PID 1 would not, and its
 * nodes drain with "JOB NOT ENDING WITH SIGNALS").  The command exiting
 * does not end the VM: the daemons it started live on.  SIGTERM (the VM
 * halts) is forwarded to every process of the namespace, SIGKILL follows a
 * second later, and then it exits, which makes the kernel kill whatever
 * is left, daemons that called setsid included.  SIGUSR1 and SIGUSR2
 * stop and continue every other process (a Freeze event).
 */
/* Append file FROM (its first MAX bytes) to FP; -1 when it cannot be
 * read. */
static int _append(FILE *fp, const char *from, size_t max)
{
	char buf[8192];
	size_t got, total = 0;
	FILE *in = fopen(from, "re");

	if (!in)
		return -1;
	while (total < max && (got = fread(buf, 1, sizeof(buf), in)) > 0) {
		fwrite(buf, 1, got, fp);
		total += got;
	}
	fclose(in);
	return 0;
}

/*
 * The files a sandbox sees in place of the host's (bind mounts made by
 * --sandbox-init), made once under the console directory: its /etc/hosts
 * (the host's, then each --vault-host at --vault-listen's address, as a
 * VM's DNS resolves its vaults), and, with --sandbox-ca, its CA store
 * (the host's /etc/ssl/certs/ca-certificates.crt, then the CA), as a
 * site's image would trust its private CA.  Returns 0, or -1 with a
 * message on stderr.
 */
static int _sandbox_files(void)
{
	char addr[INET_ADDRSTRLEN];
	FILE *fp;
	int fd;

	emu_boot_st.hosts_file[0] = '\0';
	if (!emu_boot_st.nvault_hosts)
		goto ca;
	snprintf(emu_boot_st.hosts_file, sizeof(emu_boot_st.hosts_file),
		 "%s/.hosts", emu_boot_st.console_dir);
	unlink(emu_boot_st.hosts_file);
	if ((fd = open(emu_boot_st.hosts_file, O_WRONLY | O_CREAT | O_EXCL |
		       O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 ||
	    !(fp = fdopen(fd, "w"))) {
		fprintf(stderr, "azure-emulator: couldn't write %s: %s\n",
			emu_boot_st.hosts_file, strerror(errno));
		return -1;
	}
	_append(fp, "/etc/hosts", 1 << 20);
	inet_ntop(AF_INET, &emu_net_st.vault_addr, addr, sizeof(addr));
	fprintf(fp, "\n# azure-emulator: its Key Vault (--vault-host)\n");
	for (size_t i = 0; i < emu_boot_st.nvault_hosts; i++)
		fprintf(fp, "%s %s\n", emu_net_st.vault_port ? addr :
			emu_net_st.listen_host, emu_boot_st.vault_hosts[i]);
	fclose(fp);
ca:
	emu_boot_st.ca_file[0] = '\0';
	if (!emu_boot_st.sandbox_ca)
		return 0;
	snprintf(emu_boot_st.ca_file, sizeof(emu_boot_st.ca_file),
		 "%s/.ca-certificates.crt", emu_boot_st.console_dir);
	unlink(emu_boot_st.ca_file);
	if ((fd = open(emu_boot_st.ca_file, O_WRONLY | O_CREAT | O_EXCL |
		       O_NOFOLLOW | O_CLOEXEC, 0644)) < 0 ||
	    !(fp = fdopen(fd, "w"))) {
		fprintf(stderr, "azure-emulator: couldn't write %s: %s\n",
			emu_boot_st.ca_file, strerror(errno));
		return -1;
	}
	if (_append(fp, SANDBOX_CA_STORE, 16 << 20) ||
	    _append(fp, emu_boot_st.sandbox_ca, 1 << 20)) {
		fprintf(stderr, "azure-emulator: --sandbox-ca: couldn't read "
			"%s or %s (install ca-certificates): %s\n",
			SANDBOX_CA_STORE, emu_boot_st.sandbox_ca,
			strerror(errno));
		fclose(fp);
		return -1;
	}
	fclose(fp);
	return 0;
}

/*
 * What --node-init needs, checked before anything starts: not
 * --boot-command too, root (namespaces and mounts), util-linux unshare,
 * time namespaces, and a console directory of our own (mode 0700).
 * Returns 0, or -1 with a message on stderr.
 */
int emu_node_init_setup(void)
{
	static char dflt[4096];
	const char *paths[] = { "/usr/bin/unshare", "/bin/unshare" };
	ssize_t n;
	struct stat sb;

	if (emu_boot_st.boot_command) {
		fprintf(stderr, "azure-emulator: --node-init and --boot-command "
			"are two ways to boot a VM: give one of them\n");
		return -1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "azure-emulator: --node-init boots VMs in "
			"namespaces of their own and mounts their private "
			"directories: it needs root\n");
		return -1;
	}
	for (size_t i = 0; i < 2 && !emu_boot_st.unshare[0]; i++)
		if (!access(paths[i], X_OK))
			snprintf(emu_boot_st.unshare, sizeof(emu_boot_st.unshare), "%s", paths[i]);
	if (!emu_boot_st.unshare[0]) {
		fprintf(stderr, "azure-emulator: --node-init needs util-linux's "
			"unshare(1) (/usr/bin/unshare): install util-linux\n");
		return -1;
	}
	if (access("/proc/self/ns/time", F_OK)) {
		fprintf(stderr, "azure-emulator: --node-init needs time "
			"namespaces (Linux 5.6 or later)\n");
		return -1;
	}
	if ((n = readlink("/proc/self/exe", emu_boot_st.self_exe,
			  sizeof(emu_boot_st.self_exe) - 1)) <= 0) {
		fprintf(stderr, "azure-emulator: couldn't find its own binary: "
			"%s\n", strerror(errno));
		return -1;
	}
	emu_boot_st.self_exe[n] = '\0';
	if (!emu_boot_st.console_dir) {
		if (emu_state_path())
			snprintf(dflt, sizeof(dflt), "%s.consoles", emu_state_path());
		else if (!mkdtemp(strcpy(dflt, "/tmp/azure-emulator-consoles."
						"XXXXXX"))) {
			fprintf(stderr, "azure-emulator: couldn't make a console "
				"directory: %s\n", strerror(errno));
			return -1;
		}
		emu_boot_st.console_dir = dflt;
	}
	if ((mkdir(emu_boot_st.console_dir, 0700) && errno != EEXIST) ||
	    lstat(emu_boot_st.console_dir, &sb) || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != geteuid() || chmod(emu_boot_st.console_dir, 0700)) {
		fprintf(stderr, "azure-emulator: --console-dir %s: not a "
			"directory of root's own that it can make mode 0700\n",
			emu_boot_st.console_dir);
		return -1;
	}
	if (emu_boot_st.layer_dir &&
	    ((mkdir(emu_boot_st.layer_dir, 0700) && errno != EEXIST) ||
	     lstat(emu_boot_st.layer_dir, &sb) || !S_ISDIR(sb.st_mode) ||
	     sb.st_uid != geteuid() || chmod(emu_boot_st.layer_dir, 0700))) {
		fprintf(stderr, "azure-emulator: --image-layers %s: not a "
			"directory of root's own that it can make mode 0700\n",
			emu_boot_st.layer_dir);
		return -1;
	}
	return _sandbox_files();
}

/* Whether /proc/self/mountinfo shows a mount in a shared peer group. */
static bool _shared_mounts(void)
{
	char line[4096];
	bool shared = false;
	FILE *fp = fopen("/proc/self/mountinfo", "re");

	if (!fp)
		return true;
	while (!shared && fgets(line, sizeof(line), fp)) {
		char *sep = strstr(line, " - ");

		/* the optional fields come before " - " */
		if (sep)
			*sep = '\0';
		shared = strstr(line, " shared:") != NULL;
	}
	fclose(fp);
	return shared;
}

int emu_sandbox_init(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = _no_op };
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2 };
	sigset_t set, old;
	pid_t pid;

	if (argc < 7 || strcmp(argv[5], "--") || !emu_computer_name_ok(argv[2])) {
		fprintf(stderr, "azure-emulator: --sandbox-init HOSTNAME HOSTS "
			"CA -- COMMAND... is for azure-emulator's own use\n");
		return 2;
	}
	if (getpid() != 1) {
		fprintf(stderr, "azure-emulator: --sandbox-init must be PID 1 of "
			"a PID namespace\n");
		return 2;
	}
	/* every signal it handles waits for sigwaitinfo: blocked signals
	 * reach a namespace's init, which ignores those it has no handler
	 * for */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	if (sethostname(argv[2], strlen(argv[2]))) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't set hostname "
			"'%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	/* Nothing mounted here may show in another namespace.  In a chroot,
	 * "/" is no mount point (EINVAL; unshare's own --propagation private
	 * fails there): go on only when no mount we can see is shared (a
	 * chroot entered through "unshare --propagation slave", as
	 * tests/chroot.sh does). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	    (errno != EINVAL || _shared_mounts())) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't make the "
			"mounts private (%s)\n", errno == EINVAL ?
			"a chroot with shared mounts" : strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(sandbox_dirs) / sizeof(sandbox_dirs[0]); i++)
		if (_mkdir_p(sandbox_dirs[i]) ||
		    mount("tmpfs", sandbox_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV,
			  "mode=0755")) {
			fprintf(stderr, "azure-emulator: sandbox: couldn't mount "
				"a tmpfs on %s: %s\n", sandbox_dirs[i],
				strerror(errno));
			return 1;
		}
	/* its own /etc/hosts and CA store ("": the host's) */
	if ((*argv[3] && mount(argv[3], "/etc/hosts", NULL, MS_BIND, NULL)) ||
	    (*argv[4] && mount(argv[4], SANDBOX_CA_STORE, NULL, MS_BIND,
			       NULL))) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't bind %s "
			"over /etc/hosts or %s: %s\n", argv[3],
			SANDBOX_CA_STORE, strerror(errno));
		return 1;
	}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't fork: %s\n",
			strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(argv[6], argv + 6);
		fprintf(stderr, "azure-emulator: sandbox: couldn't run %s: %s\n",
			argv[6], strerror(errno));
		_exit(127);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (sig == SIGUSR1) {
			kill(-1, SIGSTOP);
		} else if (sig == SIGUSR2) {
			kill(-1, SIGCONT);
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			struct timespec t0, t;

			kill(-1, SIGCONT);
			kill(-1, SIGTERM);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
				if (kill(-1, 0) && errno == ESRCH)
					return 0;	/* all gone */
				usleep(20000);
				clock_gettime(CLOCK_MONOTONIC, &t);
			} while ((t.tv_sec - t0.tv_sec) * 1000 +
				 (t.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
			kill(-1, SIGKILL);
			return 0;
		}
	}
}


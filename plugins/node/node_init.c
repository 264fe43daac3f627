/*
 * node_init.c - node-init: a VM joins the cluster by itself at boot
 * (ARCHITECTURE.md, "node bootstrap"; the systemd unit
 * slurm-azureml-node-init.service runs it).
 *
 *   userData -> IMDS filter -> identity -> Key Vault -> munge -> node name
 *   -> setup script -> GPU check -> slurmd -> events
 *
 * The IMDS filter (imds_filter.c) comes first, before anything asks IMDS
 * for a token and long before slurmd can start a job: Azure's IMDS answers
 * every process of the VM, and a job that got the node identity's Key
 * Vault token would read the munge key.  A VM that cannot install it stops
 * there (its console line reaches the node's reason through the
 * ResumeFailProgram, as every failure before munge does).
 *
 * Each step logs one line "node-init: <step>: <outcome>" to the console
 * (stdout: the VM's serial log) and to syslog; a failed step logs
 * "node-init: <step>: failed: <message>" on one line.  The controller's
 * ResumeFailProgram reads the last such line from the serial log (boot
 * diagnostics) and puts "azureml: node-init: <step>: <message>" into the
 * node's reason.  Once munge works and the node is known (steps setup
 * script, GPU check, slurmd) the node reports a failure itself, at once:
 * power_down_force with that reason, so its job requeues now rather than
 * after ResumeTimeout.
 *
 * The node name: a single VM's userData names it (and its hostname, the
 * computerName, must be it).  A scale set's VMs share one userData that
 * names no node: such a VM asks slurmctld which node the resume program
 * paired it with (NodeHostname = its hostname, else NodeAddr = one of its
 * addresses), waiting a bounded time for the pairing, and starts slurmd
 * with -N NODE.
 *
 * Run again at every boot (a stopped-and-started compute instance): the key
 * is rewritten only when it differs, daemons restarted only when needed.
 * Secrets (the token, the munge key) are never logged and are wiped.
 */
#include "config.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <munge.h>

#include "admin.h"
#include "arm.h"
#include "auth.h"
#include "gpu.h"
#include "http.h"
#include "keyvault.h"
#include "log.h"
#include "safefile.h"
#include "node.h"
#include "nodes.h"
#include "userdata.h"

#define USERDATA_QUERY \
	"/metadata/instance/compute/userData?api-version=2021-01-01&format=text"
#define VAULT_RESOURCE "https://vault.azure.net"
#define MUNGE_KEY_MIN 32		/* munged refuses shorter keys */
#define MUNGE_KEY_MAX (1024 * 1024)
#define MUNGE_WAIT 10			/* s until "munge works" */
#define SETUP_TIMEOUT 1800		/* s a setup script may run */
#define SLURMD_WAIT 30			/* s for slurmd to settle */
#define SLURMD_ALIVE 2			/* s it must stay up at least */
#define NODE_WAIT 300			/* s a scale set's VM waits for its node */
#define NODE_POLL 2			/* s between asking slurmctld */
#define MAX_ADDRS 16			/* this machine's addresses matched */

const char *const azml_step_names[AZML_STEP_COUNT] = {
	"userData", "IMDS filter", "identity", "Key Vault", "munge", "node name",
	"setup script", "GPU check", "slurmd", "events",
};

typedef struct {
	const azml_node_init_opts_t *o;
	FILE *con;
	const char *imds;
	char host[256];		/* this machine's short host name */
	char vm[256];		/* the emulator's vm= */
	const char *node;	/* Slurm node name (NULL: not known yet) */
	char self[96];		/* a scale set VM's node, from slurmctld */
	azml_userdata_t ud;
	char *token;		/* Key Vault token */
	char *secret;		/* the munge key, base64 */
	bool munge_works;
} ctx_t;

/* ---- console lines ---------------------------------------------------- */

/* One line: control characters become spaces. */
static void _oneline(char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s < 0x20 || *s == 0x7f)
			*s = ' ';
}

static void _say(ctx_t *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void _say(ctx_t *c, bool error, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	_oneline(line);
	fprintf(c->con, "%s\n", line);
	fflush(c->con);
	if (!c->o->no_syslog) {
		if (error)
			azml_log_error("%s", line);
		else
			azml_log_info("%s", line);
	}
}

#define STEP(s) azml_step_names[s]

/* Run FN(C, ARG) with libslurm pointed at slurmctld: a minimal slurm.conf
 * in a private directory under the run directory, SLURM_CONF naming it
 * while FN runs, removed after.  Before slurmd ran there is no slurm.conf
 * here (configless); libslurm needs one only to find slurmctld: ClusterName
 * and SlurmctldHost are what 22.05 requires.  Returns FN's value, or -1
 * when the file could not be written. */
static int _with_slurmctld(ctx_t *c, int (*fn)(ctx_t *c, void *arg),
			   void *arg)
{
	const char *rd = c->o->run_dir ? c->o->run_dir : "/run/slurm";
	char dir[512], conf[600], host[256], *colon;
	const char *port = NULL;
	FILE *fp;
	int fd, rc = -1;

	mkdir(rd, 0755);
	snprintf(dir, sizeof(dir), "%s/azureml-ctl-XXXXXX", rd);
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/slurm.conf", dir);
	snprintf(host, sizeof(host), "%s", c->ud.slurmctld_host);
	/* HOST, HOST:PORT, [V6]:PORT, V6 */
	if (host[0] == '[') {
		char *e = strchr(host, ']');

		if (e) {
			*e = '\0';
			if (e[1] == ':')
				port = e + 2;
		}
		memmove(host, host + 1, strlen(host));
	} else if ((colon = strchr(host, ':')) && !strchr(colon + 1, ':')) {
		*colon = '\0';
		port = colon + 1;
	}
	fd = open(conf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0 || !(fp = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		goto out;
	}
	fprintf(fp, "# slurm-azureml node-init: only to reach slurmctld\n"
		"ClusterName=%s\nSlurmctldHost=%s\n",
		c->ud.slurm_cluster ? c->ud.slurm_cluster : c->ud.cluster, host);
	if (port)
		fprintf(fp, "SlurmctldPort=%s\n", port);
	if (fclose(fp))
		goto out;
	setenv("SLURM_CONF", conf, 1);
	azml_nodes_init();
	rc = fn(c, arg);
	unsetenv("SLURM_CONF");
out:
	unlink(conf);
	rmdir(dir);
	return rc;
}

static int _power_down_force(ctx_t *c, void *reason)
{
	return azml_nodes_power_down_force(c->node, reason);
}

/*
 * A failed step: its console line, and once munge works (steps after it)
 * the node's own report to slurmctld.  Returns 1, the exit status.
 */
static int _fail(ctx_t *c, azml_step_t s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int _fail(ctx_t *c, azml_step_t s, const char *fmt, ...)
{
	char msg[700], reason[800];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	_oneline(msg);
	_say(c, true, "node-init: %s: failed: %s", STEP(s), msg);
	if (!c->munge_works || s == AZML_STEP_EVENTS || !c->node)
		return 1;
	snprintf(reason, sizeof(reason), "azureml: node-init: %s: %s", STEP(s),
		 msg);
	if (c->o->report)
		rc = c->o->report(c->o->report_arg, c->node, reason);
	else
		rc = _with_slurmctld(c, _power_down_force, reason);
	if (rc)
		_say(c, true, "node-init: %s: couldn't report to slurmctld "
		     "(the controller reads the console line instead)",
		     STEP(s));
	return 1;
}

/* ---- helpers ------------------------------------------------------------ */

/* Run ARGV, its output into BUF (N bytes, NUL-terminated, the rest
 * dropped), at most TIMEOUT s.  Returns the wait status, or -1. */
static int _capture(char *const argv[], char *buf, size_t n, int timeout)
{
	int p[2], st = -1;
	size_t len = 0;
	pid_t pid;
	time_t end = time(NULL) + timeout;

	buf[0] = '\0';
	if (pipe2(p, O_CLOEXEC))
		return -1;
	if ((pid = fork()) < 0) {
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		char tmp[512];
		ssize_t r = read(p[0], tmp, sizeof(tmp));

		if (r > 0) {
			size_t k = (size_t) r;

			if (len + 1 < n) {
				k = k < n - 1 - len ? k : n - 1 - len;
				memcpy(buf + len, tmp, k);
				len += k;
				buf[len] = '\0';
			}
			continue;
		}
		if (r == 0)
			break;
		if (errno != EAGAIN && errno != EINTR)
			break;
		if (time(NULL) > end) {
			kill(pid, SIGKILL);
			break;
		}
		usleep(20000);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return st;
}

/* Run ARGV quietly; true when it exited 0. */
static bool _run_ok(char *const argv[], int timeout)
{
	char out[256];
	int st = _capture(argv, out, sizeof(out), timeout);

	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Whether systemd is PID 1 (else: the emulator's sandbox, a container). */
static bool _systemd(void)
{
	char comm[32] = "";
	FILE *fp = fopen("/proc/1/comm", "r");

	if (!fp)
		return false;
	if (!fgets(comm, sizeof(comm), fp))
		comm[0] = '\0';
	fclose(fp);
	comm[strcspn(comm, "\n")] = '\0';
	return !strcmp(comm, "systemd");
}

/* "wait status" in words: "exit status 3", "signal 9". */
static void _status_words(int st, char *out, size_t n)
{
	if (WIFEXITED(st))
		snprintf(out, n, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(out, n, "signal %d", WTERMSIG(st));
	else
		snprintf(out, n, "wait status %d", st);
}

/* Write LEN bytes of DATA to PATH atomically: a new file beside it
 * (O_EXCL|O_NOFOLLOW, MODE, owned UID:GID), fsync, rename.  0, or -1 with
 * why in ERR. */
static int _write_atomic(const char *path, const void *data, size_t len,
			 mode_t mode, uid_t uid, gid_t gid, char *err,
			 size_t n)
{
	char tmp[300];
	int fd = -1;
	size_t off = 0;

	for (int i = 0; i < 100 && fd < 0; i++) {
		snprintf(tmp, sizeof(tmp), "%s.azureml-%ld-%d", path,
			 (long) getpid(), i);
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, mode);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		snprintf(err, n, "couldn't create a file beside %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fchown(fd, uid, gid) || fchmod(fd, mode)) {
		snprintf(err, n, "couldn't set the owner of %s: %s", tmp,
			 strerror(errno));
		goto fail;
	}
	while (off < len) {
		ssize_t w = write(fd, (const char *) data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, n, "couldn't write %s: %s", tmp,
				 strerror(errno));
			goto fail;
		}
		off += (size_t) w;
	}
	if (fsync(fd)) {
		snprintf(err, n, "couldn't write %s: %s", tmp, strerror(errno));
		goto fail;
	}
	close(fd);
	if (rename(tmp, path)) {
		snprintf(err, n, "couldn't rename %s to %s: %s", tmp, path,
			 strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
fail:
	close(fd);
	unlink(tmp);
	return -1;
}

/* Whether PATH holds exactly LEN bytes of DATA. */
static bool _same_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	unsigned char *buf;
	struct stat st;
	bool same = false;

	if (fd < 0)
		return false;
	if (!fstat(fd, &st) && S_ISREG(st.st_mode) && (size_t) st.st_size == len &&
	    (buf = malloc(len + 1))) {
		size_t off = 0;
		ssize_t r;

		while (off < len && (r = read(fd, buf + off, len - off)) > 0)
			off += (size_t) r;
		same = off == len && !memcmp(buf, data, len);
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return same;
}

/* ---- step 0: userData ----------------------------------------------------- */

static int _userdata(ctx_t *c)
{
	char err[512], url[2048], *text = NULL;
	const char *e;
	size_t len = 0;
	int st;

	if (c->o->userdata_file) {
		FILE *fp = fopen(c->o->userdata_file, "r");

		if (!fp)
			return _fail(c, AZML_STEP_USERDATA, "couldn't read %s: "
				     "%s", c->o->userdata_file,
				     strerror(errno));
		text = malloc(AZML_USERDATA_MAX + 2);
		if (text) {
			len = fread(text, 1, AZML_USERDATA_MAX + 1, fp);
			text[len] = '\0';
		}
		fclose(fp);
		if (!text)
			return _fail(c, AZML_STEP_USERDATA, "out of memory");
	} else {
		if (azml_imds_url(c->imds, USERDATA_QUERY, c->vm, NULL, url,
				  sizeof(url), err, sizeof(err)))
			return _fail(c, AZML_STEP_USERDATA, "%s", err);
		st = azml_imds_get(url, &text, &len, err, sizeof(err));
		if (st == 0)
			return _fail(c, AZML_STEP_USERDATA, "%s", err);
		if (st != 200) {
			char code[64] = "", msg[256] = "";

			azml_arm_parse_error(text, code, sizeof(code), msg,
					     sizeof(msg));
			free(text);
			return _fail(c, AZML_STEP_USERDATA, "IMDS answered "
				     "HTTP %d%s%s%s%s", st, code[0] ? ": " : "",
				     code, msg[0] ? ": " : "", msg);
		}
	}
	if (azml_userdata_parse(text, len, &c->ud, err, sizeof(err))) {
		free(text);
		e = strncmp(err, "userData: ", 10) ? err : err + 10;
		return _fail(c, AZML_STEP_USERDATA, "%s", e);
	}
	free(text);
	/* The node name is userData's; the hostname (computerName) must be
	 * it: slurmd takes its node name from the hostname. */
	if (c->ud.node && strcasecmp(c->ud.node, c->host))
		return _fail(c, AZML_STEP_USERDATA, "userData names node '%s' "
			     "but this VM's hostname is '%s' (computerName must "
			     "be the node name)", c->ud.node, c->host);
	c->node = c->ud.node;
	if (c->node)
		_say(c, false, "node-init: userData: ok (node %s of cluster %s, "
		     "target %s, %s%s)", c->node, c->ud.cluster, c->ud.target,
		     c->ud.vm_size, c->ud.low_priority ? ", low priority" : "");
	else
		_say(c, false, "node-init: userData: ok (scale-set VM %s of "
		     "cluster %s, target %s, %s%s; node name from slurmctld)",
		     c->host, c->ud.cluster, c->ud.target, c->ud.vm_size,
		     c->ud.low_priority ? ", low priority" : "");
	return 0;
}

/* ---- step 0b: IMDS filter --------------------------------------------------- */

static int _filter(ctx_t *c)
{
	char err[600], what[256];

	if (azml_imds_filter_install(c->imds, c->o->filter_tool, what,
				     sizeof(what), err, sizeof(err)))
		return _fail(c, AZML_STEP_FILTER, "%s; not going on: a job "
			     "could read the munge key through IMDS", err);
	_say(c, false, "node-init: IMDS filter: ok (%s)", what);
	return 0;
}

/* ---- step 1: identity ------------------------------------------------------ */

static int _identity(ctx_t *c)
{
	char err[600];
	const char *name = strrchr(c->ud.identity, '/');

	if (azml_imds_token(c->imds, c->vm, VAULT_RESOURCE, c->ud.identity,
			    &c->token, err, sizeof(err)))
		return _fail(c, AZML_STEP_IDENTITY, "%s", err);
	_say(c, false, "node-init: identity: ok (token for %s, identity %s)",
	     VAULT_RESOURCE, name ? name + 1 : c->ud.identity);
	return 0;
}

/* ---- step 2: Key Vault ----------------------------------------------------- */

static int _keyvault(ctx_t *c)
{
	char err[600];
	int rc = azml_keyvault_get_secret(c->ud.munge_key_secret, c->token,
					  NULL, &c->secret, err, sizeof(err));

	azml_secret_free(c->token);
	c->token = NULL;
	if (rc)
		return _fail(c, AZML_STEP_KEYVAULT, "%s", err);
	_say(c, false, "node-init: Key Vault: ok (secret %s)",
	     c->ud.munge_key_secret);
	return 0;
}

/* ---- step 3: munge --------------------------------------------------------- */

/* A credential through the local munged and back. */
static bool _munge_ok(void)
{
	char *cred = NULL;
	bool ok = false;

	if (munge_encode(&cred, NULL, NULL, 0) == EMUNGE_SUCCESS)
		ok = munge_decode(cred, NULL, NULL, NULL, NULL, NULL) ==
		     EMUNGE_SUCCESS;
	free(cred);
	return ok;
}

/* The running munged's pid from its pid file, or 0. */
static pid_t _munged_pid(void)
{
	FILE *fp = fopen("/run/munge/munged.pid", "r");
	long pid = 0;

	if (fp) {
		if (fscanf(fp, "%ld", &pid) != 1)
			pid = 0;
		fclose(fp);
	}
	return pid > 1 && kill((pid_t) pid, 0) == 0 ? (pid_t) pid : 0;
}

/* Without systemd: what munge.service does (User=munge, Group=munge,
 * RuntimeDirectory=munge 0755), and munged's own directories owned by it. */
static int _start_munged(ctx_t *c, struct passwd *pw, bool restart, char *err,
			 size_t n)
{
	static const struct {
		const char *path;
		mode_t mode;
	} dirs[] = {
		{ "/run/munge", 0755 }, { "/var/lib/munge", 0700 },
		{ "/var/log/munge", 0700 },
	};
	pid_t pid = _munged_pid();
	int st;

	if (pid && restart) {
		kill(pid, SIGTERM);
		for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
			usleep(50000);
	}
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct stat sb;

		mkdir(dirs[i].path, dirs[i].mode);
		if (lstat(dirs[i].path, &sb) || !S_ISDIR(sb.st_mode)) {
			snprintf(err, n, "%s is not a directory", dirs[i].path);
			return -1;
		}
		if (sb.st_uid != pw->pw_uid &&
		    chown(dirs[i].path, pw->pw_uid, pw->pw_gid)) {
			snprintf(err, n, "couldn't chown %s: %s", dirs[i].path,
				 strerror(errno));
			return -1;
		}
		chmod(dirs[i].path, dirs[i].mode);
	}
	if ((pid = fork()) < 0) {
		snprintf(err, n, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		if (setgid(pw->pw_gid) || initgroups(pw->pw_name, pw->pw_gid) ||
		    setuid(pw->pw_uid))
			_exit(126);
		execlp("munged", "munged", (char *) NULL);
		_exit(127);
	}
	/* munged forks: its parent exits once the daemon is ready */
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		char w[64];

		_status_words(st, w, sizeof(w));
		snprintf(err, n, "munged did not start (%s%s); see "
			 "/var/log/munge/munged.log", w,
			 WIFEXITED(st) && WEXITSTATUS(st) == 127 ?
			 ": not found in PATH" : "");
		return -1;
	}
	(void) c;
	return 0;
}

static int _munge(ctx_t *c)
{
	const char *dir = c->o->munge_dir ? c->o->munge_dir : "/etc/munge";
	char path[512], err[512];
	unsigned char *key = NULL;
	size_t klen = 0;
	struct passwd *pw = NULL;
	uid_t uid;
	gid_t gid;
	bool same, running, ok = false;
	const char *action;
	int rc = 1;

	key = azml_base64_decode(c->secret, strlen(c->secret), &klen);
	azml_secret_free(c->secret);
	c->secret = NULL;
	if (!key) {
		rc = _fail(c, AZML_STEP_MUNGE, "the secret %s is not base64 "
			   "(store it with 'az keyvault secret set --encoding "
			   "base64 --file munge.key')",
			   c->ud.munge_key_secret);
		goto out;
	}
	if (klen < MUNGE_KEY_MIN || klen > MUNGE_KEY_MAX) {
		rc = _fail(c, AZML_STEP_MUNGE, "the key in %s is %zu bytes; "
			   "munged needs %d to %d", c->ud.munge_key_secret,
			   klen, MUNGE_KEY_MIN, MUNGE_KEY_MAX);
		goto out;
	}
	if (c->o->key_uid >= 0 && c->o->key_gid >= 0) {
		uid = (uid_t) c->o->key_uid;
		gid = (gid_t) c->o->key_gid;
	} else if ((pw = getpwnam("munge"))) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		rc = _fail(c, AZML_STEP_MUNGE, "no user 'munge' on this image "
			   "(install the munge package)");
		goto out;
	}
	snprintf(path, sizeof(path), "%s/munge.key", dir);
	mkdir(dir, 0700);
	/* munged refuses a key in a directory others may write to (the
	 * emulator's sandbox mounts a fresh tmpfs, 1777, over /etc/munge):
	 * make it the package's, munge's and 0700 */
	{
		struct stat sb;

		if (lstat(dir, &sb) || !S_ISDIR(sb.st_mode)) {
			rc = _fail(c, AZML_STEP_MUNGE, "%s is not a directory",
				   dir);
			goto out;
		}
		if ((sb.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (chown(dir, uid, gid) || chmod(dir, 0700))) {
			rc = _fail(c, AZML_STEP_MUNGE, "couldn't secure %s: %s",
				   dir, strerror(errno));
			goto out;
		}
	}
	same = _same_file(path, key, klen);
	if (!same && _write_atomic(path, key, klen, 0400, uid, gid, err,
				   sizeof(err))) {
		rc = _fail(c, AZML_STEP_MUNGE, "%s", err);
		goto out;
	}
	explicit_bzero(key, klen);
	if (c->o->no_daemons) {
		c->munge_works = true;
		_say(c, false, "node-init: munge: ok (key %s, %zu bytes; munged "
		     "not started: test)", same ? "unchanged" : "installed", klen);
		rc = 0;
		goto out;
	}
	running = _munge_ok();
	if (same && running) {
		action = "munged already running with it";
	} else if (_systemd()) {
		char *argv[] = { "systemctl", "restart", "munge", NULL };

		if (!_run_ok(argv, 60)) {
			rc = _fail(c, AZML_STEP_MUNGE, "'systemctl restart "
				   "munge' failed; see 'journalctl -u munge'");
			goto out;
		}
		action = "munged restarted (systemd)";
	} else {
		if (!pw && !(pw = getpwnam("munge"))) {
			rc = _fail(c, AZML_STEP_MUNGE, "no user 'munge'");
			goto out;
		}
		if (_start_munged(c, pw, !same || !running, err, sizeof(err))) {
			rc = _fail(c, AZML_STEP_MUNGE, "%s", err);
			goto out;
		}
		action = "munged started as user munge";
	}
	for (int i = 0; i < MUNGE_WAIT * 10 && !(ok = _munge_ok()); i++)
		usleep(100000);
	if (!ok) {
		rc = _fail(c, AZML_STEP_MUNGE, "munged does not answer after "
			   "%d s (munge -n | unmunge fails); see "
			   "/var/log/munge/munged.log", MUNGE_WAIT);
		goto out;
	}
	c->munge_works = true;
	_say(c, false, "node-init: munge: ok (key %s, %zu bytes; %s; munge "
	     "works)",
	     same ? "unchanged" : "installed", klen, action);
	rc = 0;
out:
	if (key) {
		explicit_bzero(key, klen);
		free(key);
	}
	return rc;
}

/* ---- step 4: node name ---------------------------------------------------- */

/* This machine's addresses (getifaddrs), loopback and IPv6 link-local
 * excluded, each once: up to N into ADDRS.  Returns how many. */
static size_t _own_addrs(char addrs[][INET6_ADDRSTRLEN], size_t n)
{
	struct ifaddrs *all = NULL;
	size_t k = 0;

	if (getifaddrs(&all))
		return 0;
	for (struct ifaddrs *i = all; i && k < n; i = i->ifa_next) {
		const void *a;
		int af;
		bool dup = false;

		if (!i->ifa_addr || (i->ifa_flags & IFF_LOOPBACK))
			continue;
		af = i->ifa_addr->sa_family;
		if (af == AF_INET) {
			const struct in_addr *v4 =
				&((const struct sockaddr_in *) i->ifa_addr)->sin_addr;

			if ((ntohl(v4->s_addr) >> 24) == 127)
				continue;
			a = v4;
		} else if (af == AF_INET6) {
			const struct in6_addr *v6 =
				&((const struct sockaddr_in6 *) i->ifa_addr)->sin6_addr;

			/* link-local: never a NodeAddr (it needs a scope) */
			if (IN6_IS_ADDR_LOOPBACK(v6) ||
			    IN6_IS_ADDR_LINKLOCAL(v6))
				continue;
			a = v6;
		} else {
			continue;
		}
		if (!inet_ntop(af, a, addrs[k], INET6_ADDRSTRLEN))
			continue;
		for (size_t j = 0; j < k && !dup; j++)
			dup = !strcmp(addrs[j], addrs[k]);
		if (!dup)
			k++;
	}
	freeifaddrs(all);
	return k;
}

/* A node name slurmctld gave: it becomes slurmd's -N and a word of
 * /etc/default/slurmd, so only what Slurm's node names are made of. */
static bool _node_name_ok(const char *s)
{
	if (!*s || strlen(s) > 95)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char) *s) && !strchr("-_.", *s))
			return false;
	return true;
}

typedef struct {
	const char *const *addrs;
	size_t naddrs;
	const char *list;		/* ADDRS for messages */
	azml_node_self_t self;
	char err[600];
	long waited_ms;
	int bound;			/* s */
} find_t;

static long _ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long) (now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Ask every NODE_POLL s until a node is this machine, several are (-1), or
 * F->bound s have passed (0): the resume program may pair the VM a few
 * seconds after it booted. */
static int _find(ctx_t *c, void *arg)
{
	find_t *f = arg;
	struct timespec t0;
	bool said = false;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		long left;

		f->err[0] = '\0';
		if (c->o->find_self)
			rc = c->o->find_self(c->o->find_self_arg, c->host,
					     f->addrs, f->naddrs, &f->self,
					     f->err, sizeof(f->err));
		else
			rc = azml_nodes_find_self(c->host, f->addrs, f->naddrs,
						  &f->self, f->err,
						  sizeof(f->err));
		f->waited_ms = _ms_since(&t0);
		if (rc)
			return rc;
		left = f->bound * 1000L - f->waited_ms;
		if (left <= 0)
			return 0;
		if (!said) {
			_say(c, false, "node-init: node name: waiting up to %d s "
			     "for slurmctld %s to pair this VM with a node "
			     "(NodeHostname=%s or NodeAddr in {%s})", f->bound,
			     c->ud.slurmctld_host, c->host, f->list);
			said = true;
		}
		usleep((useconds_t) (left < NODE_POLL * 1000L ?
				     left : NODE_POLL * 1000L) * 1000);
	}
}

static int _node_name(ctx_t *c)
{
	char addrs[MAX_ADDRS][INET6_ADDRSTRLEN], list[MAX_ADDRS *
						       (INET6_ADDRSTRLEN + 2)];
	const char *ap[MAX_ADDRS];
	find_t f = { .addrs = ap, .list = list };
	size_t at = 0;
	int rc;

	if (c->node) {
		_say(c, false, "node-init: node name: ok (node %s, named by "
		     "userData)", c->node);
		return 0;
	}
	f.bound = c->o->node_wait > 0 ? c->o->node_wait : NODE_WAIT;
	f.naddrs = _own_addrs(addrs, MAX_ADDRS);
	list[0] = '\0';
	for (size_t i = 0; i < f.naddrs; i++) {
		ap[i] = addrs[i];
		at += (size_t) snprintf(list + at, sizeof(list) - at, "%s%s",
					i ? ", " : "", addrs[i]);
	}
	if (c->o->find_self)
		rc = _find(c, &f);
	else if ((rc = _with_slurmctld(c, _find, &f)) < 0 && !f.err[0])
		snprintf(f.err, sizeof(f.err), "couldn't write a slurm.conf "
			 "under %s to reach slurmctld",
			 c->o->run_dir ? c->o->run_dir : "/run/slurm");
	if (rc < 0)
		return _fail(c, AZML_STEP_NODE, "%s", f.err);
	if (rc == 0 && f.err[0])
		return _fail(c, AZML_STEP_NODE, "slurmctld %s did not answer "
			     "in %d s: %s", c->ud.slurmctld_host, f.bound,
			     f.err);
	if (rc == 0)
		return _fail(c, AZML_STEP_NODE, "no node of slurmctld %s has "
			     "NodeHostname=%s or NodeAddr in {%s} after %d s; "
			     "the resume program pairs a scale-set VM with its "
			     "node (NodeHostname=computerName, NodeAddr=private "
			     "IP) once Azure reports the VM: see its log on the "
			     "controller", c->ud.slurmctld_host, c->host, list,
			     f.bound);
	if (!_node_name_ok(f.self.name))
		return _fail(c, AZML_STEP_NODE, "slurmctld %s named node '%.100s'"
			     ", not a usable node name", c->ud.slurmctld_host,
			     f.self.name);
	snprintf(c->self, sizeof(c->self), "%s", f.self.name);
	c->node = c->self;
	_say(c, false, "node-init: node name: ok (node %s: NodeHostname=%s, "
	     "NodeAddr=%s; found by %s after %ld s)", c->node,
	     f.self.hostname, f.self.addr,
	     f.self.by_addr ? "NodeAddr" : "NodeHostname",
	     f.waited_ms / 1000);
	return 0;
}

/* ---- step 5: setup script -------------------------------------------------- */

static int _setup(ctx_t *c)
{
	const char *s = c->ud.setup_script;
	int timeout = c->o->setup_timeout > 0 ? c->o->setup_timeout :
		      SETUP_TIMEOUT;
	struct stat st;
	char w[64], why[600];
	pid_t pid;
	int ws = 0, fd;
	time_t end;

	if (!s) {
		_say(c, false, "node-init: setup script: ok (none)");
		return 0;
	}
	if (s[0] != '/')
		return _fail(c, AZML_STEP_SETUP, "%s is not an absolute path", s);
	/*
	 * Judged and run through one descriptor, so no one can swap the file
	 * between the check and the exec: opened O_NOFOLLOW (safefile.h), a
	 * regular file of root's in folders only root may write, all judged
	 * on that descriptor, which is then executed with fexecve().
	 */
	fd = azml_open_safe(s, AZML_SAFE_ROOT | AZML_SAFE_PARENTS, 0, &st, why,
			    sizeof(why));
	if (fd < 0 && errno == ENOENT)
		return _fail(c, AZML_STEP_SETUP, "%s: %s", s, strerror(errno));
	if (fd < 0)
		return _fail(c, AZML_STEP_SETUP, "refusing the script: %s", why);
	if (!(st.st_mode & S_IXUSR)) {
		close(fd);
		return _fail(c, AZML_STEP_SETUP, "%s is not executable", s);
	}
	_say(c, false, "node-init: setup script: running %s", s);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fd);
		return _fail(c, AZML_STEP_SETUP, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		/* A "#!" script is run by its interpreter from /proc/self/fd/N:
		 * that descriptor must outlive the exec, so the child executes a
		 * copy without close-on-exec (dup() clears it; the script then
		 * has its own file open for reading, nothing more).  A binary
		 * is run from the same copy. */
		int xfd = dup(fd);
		char *argv[] = { (char *) s, NULL };

		setpgid(0, 0);
		dup2(null, 0);
		/* its output goes to the console */
		dup2(fileno(c->con), 1);
		dup2(fileno(c->con), 2);
		setenv("AZUREML_NODE", c->node, 1);
		setenv("AZUREML_CLUSTER", c->ud.cluster, 1);
		setenv("AZUREML_TARGET", c->ud.target, 1);
		setenv("AZUREML_VM_SIZE", c->ud.vm_size, 1);
		if (xfd >= 0)
			fexecve(xfd, argv, environ);
		_exit(127);
	}
	close(fd);
	setpgid(pid, pid);
	end = time(NULL) + timeout;
	for (;;) {
		pid_t r = waitpid(pid, &ws, WNOHANG);

		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return _fail(c, AZML_STEP_SETUP, "waitpid: %s",
				     strerror(errno));
		if (time(NULL) >= end) {
			kill(-pid, SIGTERM);
			sleep(2);
			kill(-pid, SIGKILL);
			waitpid(pid, &ws, 0);
			return _fail(c, AZML_STEP_SETUP, "%s ran longer than "
				     "%d s; killed", s, timeout);
		}
		usleep(100000);
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		_status_words(ws, w, sizeof(w));
		return _fail(c, AZML_STEP_SETUP, "%s ended with %s", s, w);
	}
	_say(c, false, "node-init: setup script: ok (%s exited 0)", s);
	return 0;
}

/* ---- step 6: GPU check ----------------------------------------------------- */

static int _gpu(ctx_t *c)
{
	const char *topo = getenv("AZUREML_NODE_TOPOLOGY");
	azml_inventory_t *inv = NULL;
	azml_nvml_t *nvml = NULL;
	char err[512], archs[128] = "", need[160];
	size_t nbad = 0;
	int rc = 1;

	if (c->ud.gpus <= 0) {
		_say(c, false, "node-init: GPU check: ok (%s needs no GPU)",
		     c->ud.vm_size);
		return 0;
	}
	snprintf(need, sizeof(need), "%s needs %d%s%s%s%s%s", c->ud.vm_size,
		 c->ud.gpus, c->ud.gpu_type || c->ud.gpu_arch ? " (" : "",
		 c->ud.gpu_type ? c->ud.gpu_type : "",
		 c->ud.gpu_type && c->ud.gpu_arch ? ", " : "",
		 c->ud.gpu_arch ? c->ud.gpu_arch : "",
		 c->ud.gpu_type || c->ud.gpu_arch ? ")" : "");
	if (!(inv = calloc(1, sizeof(*inv))))
		return _fail(c, AZML_STEP_GPU, "out of memory");
	if (azml_gpu_inventory(topo && *topo ? topo : NULL, inv, err,
			       sizeof(err))) {
		rc = _fail(c, AZML_STEP_GPU, "%s", err);
		goto out;
	}
	if (!(topo && *topo) && (nvml = calloc(1, sizeof(*nvml)))) {
		azml_nvml_query(NULL, nvml);
		azml_gpu_apply_nvml(inv, nvml);
	}
	/* the architectures found, and how many are not the one needed */
	for (size_t i = 0; i < inv->ngpus; i++) {
		const char *a = inv->gpus[i].arch_name[0] ?
				inv->gpus[i].arch_name : "unknown";

		if (c->ud.gpu_arch && strcasecmp(a, c->ud.gpu_arch))
			nbad++;
		if (!strstr(archs, a) && strlen(archs) + strlen(a) + 3 <
		    sizeof(archs))
			snprintf(archs + strlen(archs), sizeof(archs) -
				 strlen(archs), "%s%s", archs[0] ? ", " : "", a);
	}
	if (inv->ngpus != (size_t) c->ud.gpus || nbad) {
		rc = _fail(c, AZML_STEP_GPU, "found %zu GPU%s%s%s%s; %s",
			   inv->ngpus, inv->ngpus == 1 ? "" : "s",
			   inv->ngpus ? " (" : "", archs, inv->ngpus ? ")" : "",
			   need);
		goto out;
	}
	_say(c, false, "node-init: GPU check: ok (%zu GPU%s: %s; %s)",
	     inv->ngpus, inv->ngpus == 1 ? "" : "s", archs, need);
	rc = 0;
out:
	free(inv);
	free(nvml);
	return rc;
}

/* ---- step 7: slurmd -------------------------------------------------------- */

/* "slurm-wlm 22.05.8" -> 22, 5, 8.  0, or -1. */
static int _version(const char *s, int *maj, int *min, int *micro)
{
	while (s && *s && !isdigit((unsigned char) *s))
		s++;
	*micro = 0;
	if (!s || sscanf(s, "%d.%d.%d", maj, min, micro) < 2 || *maj < 0 ||
	    *maj > 99 || *min < 0 || *min > 99)
		return -1;
	return 0;
}

int azml_slurmd_version_ok(const char *slurmd, const char *slurmctld,
			   char *why, size_t n)
{
	int dM, dm, du, cM, cm, cu, d, c, back, older;

	/* Slurm's major releases in order (YY.MM): every 9 months up to
	 * 23.11, every 6 months from 24.05 on (upgrades.html). */
	static const int releases[] = {
		1702, 1711, 1808, 1905, 2002, 2011, 2108, 2205, 2302, 2311,
		2405, 2411, 2505, 2511, 2605, 2611, 2705, 2711, 2805, 2811,
		2905, 2911, 3005, 3011,
	};
	const int nrel = (int) (sizeof(releases) / sizeof(releases[0]));
	int di = -1, ci = -1;

	if (_version(slurmd, &dM, &dm, &du)) {
		snprintf(why, n, "can't read slurmd's version from '%.60s'",
			 slurmd ? slurmd : "");
		return -1;
	}
	if (_version(slurmctld, &cM, &cm, &cu)) {
		snprintf(why, n, "can't read slurmctld's version '%.60s'",
			 slurmctld ? slurmctld : "");
		return -1;
	}
	/* within one major release the RPCs are the same: any
	 * maintenance release works with any other */
	d = dM * 100 + dm;
	c = cM * 100 + cm;
	for (int i = 0; i < nrel; i++) {
		if (releases[i] == d)
			di = i;
		if (releases[i] == c)
			ci = i;
	}
	back = c >= 2411 ? 3 : 2;
	if (ci < 0) {
		snprintf(why, n, "slurmctld %d.%02d is not a Slurm release this "
			 "slurm-azureml knows", cM, cm);
		return -1;
	}
	older = ci - back < 0 ? 0 : ci - back;
	if (d > c) {
		snprintf(why, n, "slurmd %d.%02d.%d is newer than slurmctld "
			 "%d.%02d.%d; install slurmd %d.%02d or older (down to "
			 "%d.%02d) on the image", dM, dm, du, cM, cm, cu, cM, cm,
			 releases[older] / 100, releases[older] % 100);
		return -1;
	}
	if (di < 0) {
		snprintf(why, n, "slurmd %d.%02d is not a Slurm release this "
			 "slurm-azureml knows", dM, dm);
		return -1;
	}
	if (ci - di > back) {
		snprintf(why, n, "slurmd %d.%02d.%d is too old for slurmctld "
			 "%d.%02d.%d (%d major releases back at most); install "
			 "slurmd %d.%02d to %d.%02d on the image", dM, dm, du,
			 cM, cm, cu, back, releases[older] / 100,
			 releases[older] % 100, cM, cm);
		return -1;
	}
	return 0;
}

/* The last non-empty line of PATH (bounded), for a failure message. */
static void _last_line(const char *path, char *out, size_t n)
{
	char buf[4096];
	FILE *fp = fopen(path, "r");
	size_t len;
	char *e, *s;

	out[0] = '\0';
	if (!fp)
		return;
	if (fseek(fp, 0, SEEK_END) == 0 && ftell(fp) > (long) sizeof(buf) - 1)
		fseek(fp, -(long) (sizeof(buf) - 1), SEEK_END);
	else
		fseek(fp, 0, SEEK_SET);
	len = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[len] = '\0';
	e = buf + len;
	while (e > buf && (e[-1] == '\n' || e[-1] == '\r' || e[-1] == ' '))
		*--e = '\0';
	s = strrchr(buf, '\n');
	snprintf(out, n, "%.200s", s ? s + 1 : buf);
}

/* With systemd: /etc/default/slurmd carries the options; Debian's unit
 * has ConditionPathExists=/etc/slurm/slurm.conf, false on a configless node,
 * so a runtime drop-in resets the condition. */
static int _slurmd_systemd(ctx_t *c, const char *opts)
{
	static const char dropin_dir[] = "/run/systemd/system/slurmd.service.d";
	static const char dropin[] = "# slurm-azureml node-init: configless "
		"slurmd has no /etc/slurm/slurm.conf\n[Unit]\n"
		"ConditionPathExists=\n";
	char text[600], err[512], out[512];
	char *reload[] = { "systemctl", "daemon-reload", NULL };
	char *restart[] = { "systemctl", "restart", "slurmd", NULL };
	char *active[] = { "systemctl", "is-active", "--quiet", "slurmd", NULL };
	char *journal[] = { "journalctl", "-u", "slurmd", "-n", "1", "-o", "cat",
			    "--no-pager", NULL };
	bool same, up;

	snprintf(text, sizeof(text), "# written by slurm-azureml node-init\n"
		 "SLURMD_OPTIONS=\"%s\"\n", opts);
	same = _same_file("/etc/default/slurmd", text, strlen(text));
	if (!same && _write_atomic("/etc/default/slurmd", text, strlen(text),
				   0644, 0, 0, err, sizeof(err)))
		return _fail(c, AZML_STEP_SLURMD, "%s", err);
	mkdir("/run/systemd/system", 0755);
	mkdir(dropin_dir, 0755);
	if (!_same_file("/run/systemd/system/slurmd.service.d/slurm-azureml.conf",
			dropin, strlen(dropin))) {
		if (_write_atomic("/run/systemd/system/slurmd.service.d/"
				  "slurm-azureml.conf", dropin, strlen(dropin),
				  0644, 0, 0, err, sizeof(err)))
			return _fail(c, AZML_STEP_SLURMD, "%s", err);
		_run_ok(reload, 60);
		same = false;
	}
	if (!(same && _run_ok(active, 10)) && !_run_ok(restart, 120))
		return _fail(c, AZML_STEP_SLURMD, "'systemctl restart slurmd' "
			     "failed; see 'journalctl -u slurmd'");
	sleep(SLURMD_ALIVE + 1);
	up = _run_ok(active, 10);
	if (!up) {
		_capture(journal, out, sizeof(out), 10);
		out[strcspn(out, "\n")] = '\0';
		return _fail(c, AZML_STEP_SLURMD, "slurmd exited%s%s", out[0] ?
			     ": " : "; see 'journalctl -u slurmd'", out);
	}
	_say(c, false, "node-init: slurmd: ok (started by systemd with %s)",
	     opts);
	return 0;
}

/* Without systemd (the emulator's sandbox): slurmd -D as our child, so that
 * its pid is known (the sandbox has no PID namespace: /run/slurmd.pid and
 * the process table are shared between VMs). */
static int _slurmd_direct(ctx_t *c, const char *slurmd)
{
	const char *rd = c->o->run_dir ? c->o->run_dir : "/run/slurm";
	char log[600], conf[600], last[300], w[64];
	pid_t pid;
	int st;
	time_t start = time(NULL);

	mkdir(rd, 0755);
	snprintf(log, sizeof(log), "%s/slurmd-node-init.log", rd);
	snprintf(conf, sizeof(conf), "%s/conf/slurm.conf", rd);
	fflush(NULL);
	if ((pid = fork()) < 0)
		return _fail(c, AZML_STEP_SLURMD, "fork: %s", strerror(errno));
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW |
			      O_CLOEXEC, 0640);

		setsid();
		dup2(null, 0);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* a scale set's VM: its hostname is not its node name */
		if (c->ud.node)
			execlp(slurmd, slurmd, "-D", "--conf-server",
			       c->ud.slurmctld_host, (char *) NULL);
		else
			execlp(slurmd, slurmd, "-D", "--conf-server",
			       c->ud.slurmctld_host, "-N", c->node,
			       (char *) NULL);
		fprintf(stderr, "couldn't run %s: %s\n", slurmd,
			strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		long up = (long) (time(NULL) - start);

		if (r == pid) {
			_status_words(st, w, sizeof(w));
			_last_line(log, last, sizeof(last));
			return _fail(c, AZML_STEP_SLURMD, "slurmd exited (%s)%s%s",
				     w, last[0] ? ": " : "", last);
		}
		if (up >= SLURMD_ALIVE && access(conf, F_OK) == 0) {
			_say(c, false, "node-init: slurmd: ok (pid %ld, "
			     "configuration from %s)", (long) pid,
			     c->ud.slurmctld_host);
			return 0;
		}
		if (up >= SLURMD_WAIT) {
			_say(c, false, "node-init: slurmd: ok (pid %ld running; "
			     "no configuration from %s yet)", (long) pid,
			     c->ud.slurmctld_host);
			return 0;
		}
		usleep(200000);
	}
}

static int _slurmd(ctx_t *c)
{
	const char *slurmd = c->o->slurmd ? c->o->slurmd : "slurmd";
	char *argv[] = { (char *) slurmd, "-V", NULL };
	char out[256], why[300], opts[400], w[64];
	int st = _capture(argv, out, sizeof(out), 30);

	out[strcspn(out, "\n")] = '\0';
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127)
			return _fail(c, AZML_STEP_SLURMD, "%s not found; install "
				     "slurmd on the image", slurmd);
		_status_words(st, w, sizeof(w));
		return _fail(c, AZML_STEP_SLURMD, "'%s -V' failed (%s)", slurmd,
			     st < 0 ? "could not run" : w);
	}
	if (c->ud.slurm_version &&
	    azml_slurmd_version_ok(out, c->ud.slurm_version, why, sizeof(why)))
		return _fail(c, AZML_STEP_SLURMD, "%s", why);
	snprintf(opts, sizeof(opts), "--conf-server %s%s%s",
		 c->ud.slurmctld_host, c->ud.node ? "" : " -N ",
		 c->ud.node ? "" : c->node);
	if (c->o->no_daemons) {
		_say(c, false, "node-init: slurmd: ok (%s accepted by slurmctld "
		     "%s; not started: test: %s %s)", out,
		     c->ud.slurm_version ? c->ud.slurm_version : "(unknown)",
		     slurmd, opts);
		return 0;
	}
	_say(c, false, "node-init: slurmd: %s, slurmctld %s; starting %s %s",
	     out, c->ud.slurm_version ? c->ud.slurm_version : "(unknown)",
	     slurmd, opts);
	return _systemd() ? _slurmd_systemd(c, opts) :
			    _slurmd_direct(c, slurmd);
}

/* ---- the whole ------------------------------------------------------------- */

int azml_node_init_run(const azml_node_init_opts_t *o)
{
	ctx_t c = { .o = o };
	const char *vm;
	int rc;

	c.con = o->console ? o->console : stdout;
	c.imds = o->imds ? o->imds : azml_imds_default();
	if (o->hostname)
		snprintf(c.host, sizeof(c.host), "%s", o->hostname);
	else
		azml_short_hostname(c.host, sizeof(c.host));
	vm = getenv("AZURE_EMULATOR_VM");
	snprintf(c.vm, sizeof(c.vm), "%s", vm && *vm ? vm : c.host);
	if ((rc = _userdata(&c)) || (rc = _filter(&c)) || (rc = _identity(&c)) ||
	    (rc = _keyvault(&c)) || (rc = _munge(&c)) ||
	    (rc = _node_name(&c)) || (rc = _setup(&c)) || (rc = _gpu(&c)) ||
	    (rc = _slurmd(&c)))
		goto out;
	if (o->no_watch) {
		_say(&c, false, "node-init: events: ok (not watching: "
		     "--no-watch)");
	} else {
		azml_watch_opts_t w = { .imds = c.imds, .node = c.node,
					.vm = c.vm, .interval = 1 };

		/* JobIdentity=: the filter goes once the controller took the
		 * node identity from the VM (the key is read by then) */
		if (c.ud.job_identity) {
			w.node_identity = c.ud.identity;
			w.filter_tool = o->filter_tool;
		}

		_say(&c, false, "node-init: events: ok (watching Scheduled "
		     "Events of VM %s)", c.vm);
		if (azml_events_watch(&w))
			rc = _fail(&c, AZML_STEP_EVENTS, "the watcher stopped");
	}
out:
	azml_secret_free(c.token);
	azml_secret_free(c.secret);
	azml_userdata_free(&c.ud);
	return rc;
}

int azml_cmd_node_init(const azml_cmd_t *cmd, int argc, char **argv)
{
	azml_node_init_opts_t o = { .key_uid = -1, .key_gid = -1 };
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'I':
			o.imds = optarg;
			break;
		case 'u':
			o.userdata_file = optarg;
			break;
		case 's':
			o.slurmd = optarg;
			break;
		case 'W':
			o.no_watch = true;
			break;
		case 'w': {	/* --node-wait SECONDS */
			char *end;
			long v;

			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end || v < 1 ||
			    v > 86400)
				return azml_cmd_usage_error(cmd, "--node-wait "
							    "wants 1 to 86400 "
							    "seconds, not "
							    "'%.40s'", optarg);
			o.node_wait = (int) v;
			break;
		}
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (o.imds && !azml_http_url_allowed(o.imds))
		return azml_cmd_usage_error(cmd, "'%.200s' is not a usable "
					    "IMDS endpoint", o.imds);
	/* syslog for the journal; the console lines are printed by
	 * node-init itself (stdout) */
	azml_log_init(AZML_LOG_SYSLOG, "slurm-azureml-node-init",
		      AZML_LOG_INFO);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	return azml_node_init_run(&o);
}

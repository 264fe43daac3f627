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
#include "node_init_int.h"
#include "nodes.h"
#include "userdata.h"

const char *const azml_step_names[AZML_STEP_COUNT] = {
	"userData", "IMDS filter", "identity", "Key Vault", "munge", "node name",
	"setup script", "GPU check", "slurmd", "events",
};

/* ---- console lines ---------------------------------------------------- */

void azml_init_say(ctx_t *c, bool error, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	azml_oneline(line);
	fprintf(c->con, "%s\n", line);
	fflush(c->con);
	if (!c->o->no_syslog) {
		if (error)
			azml_log_error("%s", line);
		else
			azml_log_info("%s", line);
	}
}

/* Run FN(C, ARG) with libslurm pointed at slurmctld: a minimal slurm.conf
 * in a private directory under the run directory, SLURM_CONF naming it
 * while FN runs, removed after.  Before slurmd ran there is no slurm.conf
 * here (configless); libslurm needs one only to find slurmctld: ClusterName
 * and SlurmctldHost are what 22.05 requires.  Returns FN's value, or -1
 * when the file could not be written. */
int azml_init_with_slurmctld(ctx_t *c, int (*fn)(ctx_t *c, void *arg),
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
int azml_init_fail(ctx_t *c, azml_step_t s, const char *fmt, ...)
{
	char msg[700], reason[800];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	azml_oneline(msg);
	azml_init_say(c, true, "node-init: %s: failed: %s", STEP(s), msg);
	if (!c->munge_works || s == AZML_STEP_EVENTS || !c->node)
		return 1;
	snprintf(reason, sizeof(reason), "azureml: node-init: %s: %s", STEP(s),
		 msg);
	if (c->o->report)
		rc = c->o->report(c->o->report_arg, c->node, reason);
	else
		rc = azml_init_with_slurmctld(c, _power_down_force, reason);
	if (rc)
		azml_init_say(c, true,
			      "node-init: %s: couldn't report to slurmctld "
			      "(the controller reads the console line instead)",
			      STEP(s));
	return 1;
}

/* ---- helpers ------------------------------------------------------------ */

/* Run ARGV, its output into BUF (N bytes, NUL-terminated, the rest
 * dropped), at most TIMEOUT s.  Returns the wait status, or -1. */
int azml_init_capture(char *const argv[], char *buf, size_t n, int timeout)
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
bool azml_init_run_ok(char *const argv[], int timeout)
{
	char out[256];
	int st = azml_init_capture(argv, out, sizeof(out), timeout);

	return st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Whether systemd is PID 1 (else: the emulator's sandbox, a container). */
bool azml_init_systemd(void)
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
void azml_init_status_words(int st, char *out, size_t n)
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
int azml_init_write_atomic(const char *path, const void *data, size_t len,
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
bool azml_init_same_file(const char *path, const void *data, size_t len)
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
	if ((rc = azml_init_userdata(&c)) || (rc = azml_init_filter(&c)) ||
	    (rc = azml_init_identity(&c)) || (rc = azml_init_keyvault(&c)) ||
	    (rc = azml_init_munge(&c)) || (rc = azml_init_node_name(&c)) ||
	    (rc = azml_init_setup(&c)) || (rc = azml_init_gpu(&c)) ||
	    (rc = azml_init_slurmd(&c)))
		goto out;
	if (o->no_watch) {
		azml_init_say(&c, false,
			      "node-init: events: ok (not watching: "
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

		azml_init_say(&c, false,
			      "node-init: events: ok (watching Scheduled "
			      "Events of VM %s)",
			      c.vm);
		if (azml_events_watch(&w))
			rc = azml_init_fail(&c, AZML_STEP_EVENTS,
					    "the watcher stopped");
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

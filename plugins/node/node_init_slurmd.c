/*
 * node_init_slurmd.c - node-init's last step: slurmd, started by systemd
 * when it runs, else directly, and checked to stay up; the version rule
 * between slurmd and slurmctld (see node_init.c).
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

#include <cjson/cJSON.h>
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
	same = azml_init_same_file("/etc/default/slurmd", text, strlen(text));
	if (!same &&
	    azml_init_write_atomic("/etc/default/slurmd", text, strlen(text),
				   0644, 0, 0, err, sizeof(err)))
		return azml_init_fail(c, AZML_STEP_SLURMD, "%s", err);
	mkdir("/run/systemd/system", 0755);
	mkdir(dropin_dir, 0755);
	if (!azml_init_same_file(
		    "/run/systemd/system/slurmd.service.d/slurm-azureml.conf",
		    dropin, strlen(dropin))) {
		if (azml_init_write_atomic(
			    "/run/systemd/system/slurmd.service.d/"
			    "slurm-azureml.conf",
			    dropin, strlen(dropin), 0644, 0, 0, err,
			    sizeof(err)))
			return azml_init_fail(c, AZML_STEP_SLURMD, "%s", err);
		azml_init_run_ok(reload, 60);
		same = false;
	}
	if (!(same && azml_init_run_ok(active, 10)) &&
	    !azml_init_run_ok(restart, 120))
		return azml_init_fail(c, AZML_STEP_SLURMD,
				      "'systemctl restart slurmd' "
				      "failed; see 'journalctl -u slurmd'");
	sleep(SLURMD_ALIVE + 1);
	up = azml_init_run_ok(active, 10);
	if (!up) {
		azml_init_capture(journal, out, sizeof(out), 10);
		out[strcspn(out, "\n")] = '\0';
		return azml_init_fail(
			c, AZML_STEP_SLURMD, "slurmd exited%s%s",
			out[0] ? ": " : "; see 'journalctl -u slurmd'", out);
	}
	azml_init_say(c, false,
		      "node-init: slurmd: ok (started by systemd with %s)",
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
		return azml_init_fail(c, AZML_STEP_SLURMD, "fork: %s",
				      strerror(errno));
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
		{
			/* a scale set's VM: its hostname is not its node
			 * name; -N only for a VM that knows its node */
			const char *argv[12];
			int k = 0;

			argv[k++] = slurmd;
			argv[k++] = "-D";
			argv[k++] = "--conf-server";
			argv[k++] = c->ud.slurmctld_host;
			if (!c->ud.node) {
				argv[k++] = "-N";
				argv[k++] = c->node;
			}
			if (c->vm_id[0] && c->vm_size[0]) {
				argv[k++] = "--instance-id";
				argv[k++] = c->vm_id;
				argv[k++] = "--instance-type";
				argv[k++] = c->vm_size;
			}
			argv[k] = NULL;
			execvp(slurmd, (char *const *) argv);
		}
		fprintf(stderr, "couldn't run %s: %s\n", slurmd,
			strerror(errno));
		_exit(127);
	}
	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		long up = (long) (time(NULL) - start);

		if (r == pid) {
			azml_init_status_words(st, w, sizeof(w));
			_last_line(log, last, sizeof(last));
			return azml_init_fail(c, AZML_STEP_SLURMD,
					      "slurmd exited (%s)%s%s", w,
					      last[0] ? ": " : "", last);
		}
		if (up >= SLURMD_ALIVE && access(conf, F_OK) == 0) {
			azml_init_say(c, false,
				      "node-init: slurmd: ok (pid %ld, "
				      "configuration from %s)",
				      (long) pid, c->ud.slurmctld_host);
			return 0;
		}
		if (up >= SLURMD_WAIT) {
			azml_init_say(c, false,
				      "node-init: slurmd: ok (pid %ld running; "
				      "no configuration from %s yet)",
				      (long) pid, c->ud.slurmctld_host);
			return 0;
		}
		usleep(200000);
	}
}

/* ---- InstanceId and InstanceType --------------------------------------- */

#define COMPUTE_QUERY "/metadata/instance/compute?api-version=2021-02-01"

/* Whether slurmd's "-V" line OUT ("slurm 24.11.5") is 23.02 or later, the
 * first with --instance-id and --instance-type. */
static bool _has_instance_options(const char *out)
{
	int maj = 0, min = 0;
	const char *d = out + strcspn(out, "0123456789");

	return sscanf(d, "%d.%d", &maj, &min) == 2 &&
	       (maj > 23 || (maj == 23 && min >= 2));
}

/* V is a VM id (a GUID) or a VM size as IMDS may give them: bounded, and
 * only characters that are safe on slurmd's command line. */
static bool _instance_word_ok(const char *v, size_t max)
{
	size_t n = strlen(v);

	if (!n || n >= max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) v[i]) && !strchr("_-.", v[i]))
			return false;
	return true;
}

/*
 * With slurmd OUT (its -V line) of 23.02 or later: this VM's vmId and
 * vmSize from IMDS's compute document into C, for slurmd's --instance-id and
 * --instance-type (slurmd's first registration sets the node's InstanceId
 * and InstanceType; an earlier 'scontrol update' does not survive it).
 * Not fatal: without them slurmd starts as before, and the console says so.
 */
static void _instance(ctx_t *c, const char *out)
{
	char url[512], err[512];
	char *text = NULL;
	size_t len = 0;
	cJSON *doc = NULL;
	const char *id, *size;
	int st;

	c->vm_id[0] = c->vm_size[0] = '\0';
	if (!_has_instance_options(out))
		return;
	if (azml_imds_url(c->imds, COMPUTE_QUERY, c->vm, NULL, url, sizeof(url),
			  err, sizeof(err))) {
		azml_init_say(c, false, "node-init: instance: %s; slurmd "
			      "starts without --instance-id", err);
		return;
	}
	st = azml_imds_get(url, &text, &len, err, sizeof(err));
	if (st == 200)
		doc = cJSON_ParseWithLength(text, len);
	free(text);
	id = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "vmId"));
	size = cJSON_GetStringValue(cJSON_GetObjectItem(doc, "vmSize"));
	if (id && size && _instance_word_ok(id, sizeof(c->vm_id)) &&
	    _instance_word_ok(size, sizeof(c->vm_size))) {
		snprintf(c->vm_id, sizeof(c->vm_id), "%s", id);
		snprintf(c->vm_size, sizeof(c->vm_size), "%s", size);
	} else {
		azml_init_say(c, false, "node-init: instance: IMDS %s; slurmd "
			      "starts without --instance-id",
			      st == 0 ? err : st != 200 ? "did not answer "
			      "200" : "gave no usable vmId and vmSize");
	}
	cJSON_Delete(doc);
}

int azml_init_slurmd(ctx_t *c)
{
	const char *slurmd = c->o->slurmd ? c->o->slurmd : "slurmd";
	char *argv[] = { (char *) slurmd, "-V", NULL };
	char out[256], why[300], opts[400], w[64];
	int st = azml_init_capture(argv, out, sizeof(out), 30);

	out[strcspn(out, "\n")] = '\0';
	if (st < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
		if (st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127)
			return azml_init_fail(c, AZML_STEP_SLURMD,
					      "%s not found; install "
					      "slurmd on the image",
					      slurmd);
		azml_init_status_words(st, w, sizeof(w));
		return azml_init_fail(c, AZML_STEP_SLURMD,
				      "'%s -V' failed (%s)", slurmd,
				      st < 0 ? "could not run" : w);
	}
	if (c->ud.slurm_version &&
	    azml_slurmd_version_ok(out, c->ud.slurm_version, why, sizeof(why)))
		return azml_init_fail(c, AZML_STEP_SLURMD, "%s", why);
	_instance(c, out);
	snprintf(opts, sizeof(opts), "--conf-server %s%s%s%s%s%s%s",
		 c->ud.slurmctld_host, c->ud.node ? "" : " -N ",
		 c->ud.node ? "" : c->node,
		 c->vm_id[0] ? " --instance-id " : "", c->vm_id,
		 c->vm_id[0] ? " --instance-type " : "", c->vm_size);
	if (c->o->no_daemons) {
		azml_init_say(c, false,
			      "node-init: slurmd: ok (%s accepted by slurmctld "
			      "%s; not started: test: %s %s)",
			      out,
			      c->ud.slurm_version ? c->ud.slurm_version :
						    "(unknown)",
			      slurmd, opts);
		return 0;
	}
	azml_init_say(
		c, false, "node-init: slurmd: %s, slurmctld %s; starting %s %s",
		out, c->ud.slurm_version ? c->ud.slurm_version : "(unknown)",
		slurmd, opts);
	return azml_init_systemd() ? _slurmd_systemd(c, opts) :
				     _slurmd_direct(c, slurmd);
}

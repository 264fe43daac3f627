/*
 * node_init_steps.c - node-init's steps up to slurmd: userData, the IMDS
 * filter, identity, Key Vault, munge, the node name, the setup script, the
 * GPU check (see node_init.c for the order and the rules).
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
#include "azerror.h"
#include "gpu.h"
#include "http.h"
#include "keyvault.h"
#include "log.h"
#include "names.h"
#include "safefile.h"
#include "node.h"
#include "node_init_int.h"
#include "nodes.h"
#include "userdata.h"

/* ---- step 0: userData ----------------------------------------------------- */

int azml_init_userdata(ctx_t *c)
{
	char err[512], url[2048], *text = NULL;
	const char *e;
	size_t len = 0;
	int st;

	if (c->o->userdata_file) {
		FILE *fp = fopen(c->o->userdata_file, "r");

		if (!fp)
			return azml_init_fail(c, AZML_STEP_USERDATA,
					      "couldn't read %s: "
					      "%s",
					      c->o->userdata_file,
					      strerror(errno));
		text = malloc(AZML_USERDATA_MAX + 2);
		if (text) {
			len = fread(text, 1, AZML_USERDATA_MAX + 1, fp);
			text[len] = '\0';
		}
		fclose(fp);
		if (!text)
			return azml_init_fail(c, AZML_STEP_USERDATA,
					      "out of memory");
	} else {
		if (azml_imds_url(c->imds, USERDATA_QUERY, c->vm, NULL, url,
				  sizeof(url), err, sizeof(err)))
			return azml_init_fail(c, AZML_STEP_USERDATA, "%s", err);
		st = azml_imds_get(url, &text, &len, err, sizeof(err));
		if (st == 0)
			return azml_init_fail(c, AZML_STEP_USERDATA, "%s", err);
		if (st != 200) {
			char code[64] = "", msg[256] = "";

			azml_azure_error_parse(text, code, sizeof(code), msg,
					       sizeof(msg));
			free(text);
			return azml_init_fail(c, AZML_STEP_USERDATA,
					      "IMDS answered "
					      "HTTP %d%s%s%s%s",
					      st, code[0] ? ": " : "", code,
					      msg[0] ? ": " : "", msg);
		}
	}
	if (azml_userdata_parse(text, len, &c->ud, err, sizeof(err))) {
		free(text);
		e = strncmp(err, "userData: ", 10) ? err : err + 10;
		return azml_init_fail(c, AZML_STEP_USERDATA, "%s", e);
	}
	free(text);
	/* The node name is userData's; the hostname (computerName) must be
	 * it: slurmd takes its node name from the hostname. */
	if (c->ud.node && strcasecmp(c->ud.node, c->host))
		return azml_init_fail(
			c, AZML_STEP_USERDATA,
			"userData names node '%s' "
			"but this VM's hostname is '%s' (computerName must "
			"be the node name)",
			c->ud.node, c->host);
	c->node = c->ud.node;
	if (c->node)
		azml_init_say(c, false,
			      "node-init: userData: ok (node %s of cluster %s, "
			      "target %s, %s%s)",
			      c->node, c->ud.cluster, c->ud.target,
			      c->ud.vm_size,
			      c->ud.low_priority ? ", low priority" : "");
	else
		azml_init_say(
			c, false,
			"node-init: userData: ok (scale-set VM %s of "
			"cluster %s, target %s, %s%s; node name from slurmctld)",
			c->host, c->ud.cluster, c->ud.target, c->ud.vm_size,
			c->ud.low_priority ? ", low priority" : "");
	return 0;
}

/* ---- step 0b: IMDS filter --------------------------------------------------- */

int azml_init_filter(ctx_t *c)
{
	char err[600], what[256];

	if (azml_imds_filter_install(c->imds, c->o->filter_tool, what,
				     sizeof(what), err, sizeof(err)))
		return azml_init_fail(c, AZML_STEP_FILTER,
				      "%s; not going on: a job "
				      "could read the munge key through IMDS",
				      err);
	azml_init_say(c, false, "node-init: IMDS filter: ok (%s)", what);
	return 0;
}

/* ---- step 1: identity ------------------------------------------------------ */

int azml_init_identity(ctx_t *c)
{
	char err[600];
	const char *name = strrchr(c->ud.identity, '/');

	if (azml_imds_token(c->imds, c->vm, VAULT_RESOURCE, c->ud.identity,
			    &c->token, err, sizeof(err)))
		return azml_init_fail(c, AZML_STEP_IDENTITY, "%s", err);
	azml_init_say(c, false,
		      "node-init: identity: ok (token for %s, identity %s)",
		      VAULT_RESOURCE, name ? name + 1 : c->ud.identity);
	return 0;
}

/* ---- step 2: Key Vault ----------------------------------------------------- */

int azml_init_keyvault(ctx_t *c)
{
	char err[600];
	int rc = azml_keyvault_get_secret(c->ud.munge_key_secret, c->token,
					  NULL, &c->secret, err, sizeof(err));

	azml_secret_free(c->token);
	c->token = NULL;
	if (rc)
		return azml_init_fail(c, AZML_STEP_KEYVAULT, "%s", err);
	azml_init_say(c, false, "node-init: Key Vault: ok (secret %s)",
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

		azml_init_status_words(st, w, sizeof(w));
		snprintf(err, n, "munged did not start (%s%s); see "
			 "/var/log/munge/munged.log", w,
			 WIFEXITED(st) && WEXITSTATUS(st) == 127 ?
			 ": not found in PATH" : "");
		return -1;
	}
	(void) c;
	return 0;
}

int azml_init_munge(ctx_t *c)
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
		rc = azml_init_fail(
			c, AZML_STEP_MUNGE,
			"the secret %s is not base64 "
			"(store it with 'az keyvault secret set --encoding "
			"base64 --file munge.key')",
			c->ud.munge_key_secret);
		goto out;
	}
	if (klen < MUNGE_KEY_MIN || klen > MUNGE_KEY_MAX) {
		rc = azml_init_fail(c, AZML_STEP_MUNGE,
				    "the key in %s is %zu bytes; "
				    "munged needs %d to %d",
				    c->ud.munge_key_secret, klen, MUNGE_KEY_MIN,
				    MUNGE_KEY_MAX);
		goto out;
	}
	if (c->o->key_uid >= 0 && c->o->key_gid >= 0) {
		uid = (uid_t) c->o->key_uid;
		gid = (gid_t) c->o->key_gid;
	} else if ((pw = getpwnam("munge"))) {
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	} else {
		rc = azml_init_fail(c, AZML_STEP_MUNGE,
				    "no user 'munge' on this image "
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
			rc = azml_init_fail(c, AZML_STEP_MUNGE,
					    "%s is not a directory", dir);
			goto out;
		}
		if ((sb.st_mode & (S_IWGRP | S_IWOTH)) &&
		    (chown(dir, uid, gid) || chmod(dir, 0700))) {
			rc = azml_init_fail(c, AZML_STEP_MUNGE,
					    "couldn't secure %s: %s", dir,
					    strerror(errno));
			goto out;
		}
	}
	same = azml_init_same_file(path, key, klen);
	if (!same && azml_init_write_atomic(path, key, klen, 0400, uid, gid,
					    err, sizeof(err))) {
		rc = azml_init_fail(c, AZML_STEP_MUNGE, "%s", err);
		goto out;
	}
	explicit_bzero(key, klen);
	if (c->o->no_daemons) {
		c->munge_works = true;
		azml_init_say(c, false,
			      "node-init: munge: ok (key %s, %zu bytes; munged "
			      "not started: test)",
			      same ? "unchanged" : "installed", klen);
		rc = 0;
		goto out;
	}
	running = _munge_ok();
	if (same && running) {
		action = "munged already running with it";
	} else if (azml_init_systemd()) {
		char *argv[] = { "systemctl", "restart", "munge", NULL };

		if (!azml_init_run_ok(argv, 60)) {
			rc = azml_init_fail(
				c, AZML_STEP_MUNGE,
				"'systemctl restart "
				"munge' failed; see 'journalctl -u munge'");
			goto out;
		}
		action = "munged restarted (systemd)";
	} else {
		if (!pw && !(pw = getpwnam("munge"))) {
			rc = azml_init_fail(c, AZML_STEP_MUNGE,
					    "no user 'munge'");
			goto out;
		}
		if (_start_munged(c, pw, !same || !running, err, sizeof(err))) {
			rc = azml_init_fail(c, AZML_STEP_MUNGE, "%s", err);
			goto out;
		}
		action = "munged started as user munge";
	}
	for (int i = 0; i < MUNGE_WAIT * 10 && !(ok = _munge_ok()); i++)
		usleep(100000);
	if (!ok) {
		rc = azml_init_fail(c, AZML_STEP_MUNGE,
				    "munged does not answer after "
				    "%d s (munge -n | unmunge fails); see "
				    "/var/log/munge/munged.log",
				    MUNGE_WAIT);
		goto out;
	}
	c->munge_works = true;
	azml_init_say(c, false,
		      "node-init: munge: ok (key %s, %zu bytes; %s; munge "
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
			azml_init_say(
				c, false,
				"node-init: node name: waiting up to %d s "
				"for slurmctld %s to pair this VM with a node "
				"(NodeHostname=%s or NodeAddr in {%s})",
				f->bound, c->ud.slurmctld_host, c->host,
				f->list);
			said = true;
		}
		usleep((useconds_t) (left < NODE_POLL * 1000L ?
				     left : NODE_POLL * 1000L) * 1000);
	}
}

int azml_init_node_name(ctx_t *c)
{
	char addrs[MAX_ADDRS][INET6_ADDRSTRLEN], list[MAX_ADDRS *
						       (INET6_ADDRSTRLEN + 2)];
	const char *ap[MAX_ADDRS];
	find_t f = { .addrs = ap, .list = list };
	size_t at = 0;
	int rc;

	if (c->node) {
		azml_init_say(c, false,
			      "node-init: node name: ok (node %s, named by "
			      "userData)",
			      c->node);
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
	else if ((rc = azml_init_with_slurmctld(c, _find, &f)) < 0 && !f.err[0])
		snprintf(f.err, sizeof(f.err), "couldn't write a slurm.conf "
			 "under %s to reach slurmctld",
			 c->o->run_dir ? c->o->run_dir : "/run/slurm");
	if (rc < 0)
		return azml_init_fail(c, AZML_STEP_NODE, "%s", f.err);
	if (rc == 0 && f.err[0])
		return azml_init_fail(c, AZML_STEP_NODE,
				      "slurmctld %s did not answer "
				      "in %d s: %s",
				      c->ud.slurmctld_host, f.bound, f.err);
	if (rc == 0)
		return azml_init_fail(
			c, AZML_STEP_NODE,
			"no node of slurmctld %s has "
			"NodeHostname=%s or NodeAddr in {%s} after %d s; "
			"the resume program pairs a scale-set VM with its "
			"node (NodeHostname=computerName, NodeAddr=private "
			"IP) once Azure reports the VM: see its log on the "
			"controller",
			c->ud.slurmctld_host, c->host, list, f.bound);
	if (!azml_node_name_ok(f.self.name, 0))
		return azml_init_fail(c, AZML_STEP_NODE,
				      "slurmctld %s named node '%.100s'"
				      ", not a usable node name",
				      c->ud.slurmctld_host, f.self.name);
	snprintf(c->self, sizeof(c->self), "%s", f.self.name);
	c->node = c->self;
	azml_init_say(c, false,
		      "node-init: node name: ok (node %s: NodeHostname=%s, "
		      "NodeAddr=%s; found by %s after %ld s)",
		      c->node, f.self.hostname, f.self.addr,
		      f.self.by_addr ? "NodeAddr" : "NodeHostname",
		      f.waited_ms / 1000);
	return 0;
}

/* ---- step 5: setup script -------------------------------------------------- */

int azml_init_setup(ctx_t *c)
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
		azml_init_say(c, false, "node-init: setup script: ok (none)");
		return 0;
	}
	if (s[0] != '/')
		return azml_init_fail(c, AZML_STEP_SETUP,
				      "%s is not an absolute path", s);
	/*
	 * Judged and run through one descriptor, so no one can swap the file
	 * between the check and the exec: opened O_NOFOLLOW (safefile.h), a
	 * regular file of root's in folders only root may write, all judged
	 * on that descriptor, which is then executed with fexecve().
	 */
	fd = azml_open_safe(s, AZML_SAFE_ROOT | AZML_SAFE_PARENTS, 0, &st, why,
			    sizeof(why));
	if (fd < 0 && errno == ENOENT)
		return azml_init_fail(c, AZML_STEP_SETUP, "%s: %s", s,
				      strerror(errno));
	if (fd < 0)
		return azml_init_fail(c, AZML_STEP_SETUP,
				      "refusing the script: %s", why);
	if (!(st.st_mode & S_IXUSR)) {
		close(fd);
		return azml_init_fail(c, AZML_STEP_SETUP,
				      "%s is not executable", s);
	}
	azml_init_say(c, false, "node-init: setup script: running %s", s);
	fflush(NULL);
	if ((pid = fork()) < 0) {
		close(fd);
		return azml_init_fail(c, AZML_STEP_SETUP, "fork: %s",
				      strerror(errno));
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
			return azml_init_fail(c, AZML_STEP_SETUP, "waitpid: %s",
					      strerror(errno));
		if (time(NULL) >= end) {
			kill(-pid, SIGTERM);
			sleep(2);
			kill(-pid, SIGKILL);
			waitpid(pid, &ws, 0);
			return azml_init_fail(c, AZML_STEP_SETUP,
					      "%s ran longer than "
					      "%d s; killed",
					      s, timeout);
		}
		usleep(100000);
	}
	if (!WIFEXITED(ws) || WEXITSTATUS(ws)) {
		azml_init_status_words(ws, w, sizeof(w));
		return azml_init_fail(c, AZML_STEP_SETUP, "%s ended with %s", s,
				      w);
	}
	azml_init_say(c, false, "node-init: setup script: ok (%s exited 0)", s);
	return 0;
}

/* ---- step 6: GPU check ----------------------------------------------------- */

int azml_init_gpu(ctx_t *c)
{
	const char *topo = getenv("AZUREML_NODE_TOPOLOGY");
	azml_inventory_t *inv = NULL;
	azml_nvml_t *nvml = NULL;
	char err[512], archs[128] = "", need[160];
	size_t nbad = 0;
	int rc = 1;

	if (c->ud.gpus <= 0) {
		azml_init_say(c, false,
			      "node-init: GPU check: ok (%s needs no GPU)",
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
		return azml_init_fail(c, AZML_STEP_GPU, "out of memory");
	if (azml_gpu_inventory(topo && *topo ? topo : NULL, inv, err,
			       sizeof(err))) {
		rc = azml_init_fail(c, AZML_STEP_GPU, "%s", err);
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
		rc = azml_init_fail(c, AZML_STEP_GPU,
				    "found %zu GPU%s%s%s%s; %s", inv->ngpus,
				    inv->ngpus == 1 ? "" : "s",
				    inv->ngpus ? " (" : "", archs,
				    inv->ngpus ? ")" : "", need);
		goto out;
	}
	azml_init_say(c, false, "node-init: GPU check: ok (%zu GPU%s: %s; %s)",
		      inv->ngpus, inv->ngpus == 1 ? "" : "s", archs, need);
	rc = 0;
out:
	free(inv);
	free(nvml);
	return rc;
}

/*
 * state.c - StateDir: paths, safety, the file helpers, failures, attached
 * nodes, prices, idle times (see state.h; intents, holds, scale-set pairs and
 * the journal are in state_*.c).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "log.h"
#include "nodes.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "state.h"
#include "state_int.h"

/* Who owns what we create: StateDir's owner (uid -1: leave as made). */
static uid_t own_uid = (uid_t) -1;
static gid_t own_gid = (gid_t) -1;

/* The StateDir last judged (safefile.h), and the verdict: every path under
 * it is refused while it is unsafe, so no program reads what another user
 * planted there nor writes where it points. */
static char judged[4096];
static bool judged_ok;
static char judged_why[600];

int azml_state_check(const azml_conf_t *c, char *err, size_t n)
{
	char why[sizeof(judged_why) - 100];

	if (!c || !c->state_dir) {
		azml_errf(err, n, "StateDir is not set");
		return -1;
	}
	snprintf(judged, sizeof(judged), "%s", c->state_dir);
	judged_ok = !azml_dir_safe(c->state_dir, AZML_SAFE_OWNER |
				   AZML_SAFE_PARENTS, NULL, why, sizeof(why));
	if (!judged_ok)
		snprintf(judged_why, sizeof(judged_why), "StateDir %s is "
			 "refused, nothing done: %s", c->state_dir, why);
	if (!judged_ok)
		azml_errf(err, n, "%s", judged_why);
	return judged_ok ? 0 : -1;
}

int azml_state_path(const azml_conf_t *c, const char *sub, const char *file,
		    char *out, size_t n)
{
	int len;

	if (!c || !c->state_dir)
		return -1;
	if (strcmp(judged, c->state_dir) &&
	    azml_state_check(c, NULL, 0))
		azml_log_error("%s", judged_why);
	if (!judged_ok)
		return -1;
	len = file ? snprintf(out, n, "%s/%s/%s", c->state_dir, sub, file) :
		     snprintf(out, n, "%s/%s", c->state_dir, sub);
	return len < 0 || (size_t) len >= n ? -1 : 0;
}

void azml_state_path_why(const azml_conf_t *c, char *err, size_t n)
{
	if (!c || !c->state_dir)
		azml_errf(err, n, "StateDir is not set");
	else if (!judged_ok && !strcmp(judged, c->state_dir))
		azml_errf(err, n, "%s", judged_why);
	else
		azml_errf(err, n, "StateDir %.200s: a path under it is too long",
			  c->state_dir);
}

/* ---- files ---- */

/* Lock folder DIR; the fd to pass to azml_state_unlock, or -1 with ERR.  Bounded: a
 * holder that never lets go (stopped) is an error, not a hang. */
int azml_state_lock(const char *dir, char *err, size_t n)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		azml_errf(err, n, "couldn't open %s: %s", dir,
			  errno == ELOOP ?
				  "it is a symbolic link, not a folder" :
				  strerror(errno));
		return -1;
	}
	for (int ms = 0; flock(fd, LOCK_EX | LOCK_NB); ms += 5) {
		if (errno != EWOULDBLOCK || ms >= LOCK_WAIT_MS) {
			azml_errf(err, n, "couldn't lock %s: %s", dir,
				  errno == EWOULDBLOCK ?
					  "held by another program "
					  "for 10 s" :
					  strerror(errno));
			close(fd);
			return -1;
		}
		usleep(5000);
	}
	return fd;
}

void azml_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

void azml_state_give(int fd)
{
	if (own_uid != (uid_t) -1 && geteuid() == 0 &&
	    fchown(fd, own_uid, own_gid))
		azml_log_error("couldn't give a StateDir file to uid %u: %s",
			       (unsigned) own_uid, strerror(errno));
}

/* Write DIR/NAME whole: a temporary file, then rename.  0, or -1 + ERR. */
int azml_state_write(const char *dir, const char *name, const char *data,
		     size_t len, char *err, size_t n)
{
	char tmp[4200], path[4200];
	int fd, rc = -1;
	size_t done = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, name, (long) getpid());
	unlink(tmp);	/* left by a program that died; never written through */
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  0600);
	if (fd < 0) {
		azml_errf(err, n, "couldn't write %s: %s", path,
			  strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			azml_errf(err, n, "couldn't write %s: %s", path,
				  w < 0 ? strerror(errno) : "no space");
			goto out;
		}
		done += (size_t) w;
	}
	azml_state_give(fd);
	if (close(fd)) {
		fd = -1;
		azml_errf(err, n, "couldn't write %s: %s", path,
			  strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		azml_errf(err, n, "couldn't rename %s to %s: %s", tmp, path,
			  strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc)
		unlink(tmp);
	return rc;
}

/* Read a regular file of at most CAP - 1 bytes into BUF (NUL-ended).
 * Returns its length, 0 when absent, -1 when unreadable or too large. */
ssize_t azml_state_read(const char *path, char *buf, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t got = 0, r;

	buf[0] = '\0';
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (size_t) st.st_size >= cap) {
		close(fd);
		return -1;
	}
	while ((size_t) got < cap - 1 &&
	       (r = read(fd, buf + got, cap - 1 - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			close(fd);
			return -1;
		}
		got += r;
	}
	buf[got] = '\0';
	close(fd);
	return got;
}

/* ---- StateDir ---- */

/* SlurmUser, as slurmctld reports it.  0, or -1 when it does not answer. */
static int _slurm_user(uid_t *uid, gid_t *gid)
{
	slurm_conf_t *ctl = NULL;
	struct passwd *pw;

	azml_nodes_init();
	if (slurm_load_ctl_conf((time_t) 0, &ctl) != SLURM_SUCCESS || !ctl)
		return -1;
	*uid = ctl->slurm_user_id;
	azml_slurm_free_ctl_conf(ctl);
	pw = getpwuid(*uid);
	*gid = pw ? pw->pw_gid : (gid_t) *uid;
	return 0;
}

/* Give folder PATH and the regular files in it to the owner: a StateDir
 * made by root in an earlier release, mended.  Symbolic links and anything
 * else are left alone (never followed). */
static void _give_tree(const char *path)
{
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (dfd < 0)
		return;
	if (fchown(dfd, own_uid, own_gid))
		azml_log_error("couldn't give %s to uid %u: %s", path,
			       (unsigned) own_uid, strerror(errno));
	if (!(d = fdopendir(dfd))) {
		close(dfd);
		return;
	}
	while ((e = readdir(d))) {
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) ||
		    !S_ISREG(st.st_mode) || st.st_uid != 0)
			continue;
		if (fchownat(dfd, e->d_name, own_uid, own_gid,
			     AT_SYMLINK_NOFOLLOW))
			azml_log_error("couldn't give %s/%s to uid %u: %s", path,
				       e->d_name, (unsigned) own_uid,
				       strerror(errno));
	}
	closedir(d);	/* closes dfd */
}

int azml_state_init(const azml_conf_t *c, char *err, size_t n)
{
	static const char *subs[] = { DIR_INTENT, DIR_FAILURES, DIR_ATTACHED,
				      DIR_HOLDS, DIR_QUOTA, DIR_SETS,
				      DIR_JOURNAL, DIR_PRICES, DIR_IDLE,
				      DIR_MISSES };
	struct stat st;
	char p[4096];
	bool root = geteuid() == 0, exists;

	if (azml_state_check(c, err, n))
		return -1;
	exists = stat(c->state_dir, &st) == 0;
	if (exists && !S_ISDIR(st.st_mode)) {
		azml_errf(err, n, "StateDir %s is not a folder", c->state_dir);
		return -1;
	}
	if (root && exists) {
		own_uid = st.st_uid;	/* SlurmUser's, as made below */
		own_gid = st.st_gid;
	} else if (root) {
		uid_t uid;
		gid_t gid;

		if (_slurm_user(&uid, &gid)) {
			azml_errf(
				err, n,
				"StateDir %s does not exist, and slurmctld "
				"does not answer to say who SlurmUser is: create "
				"it with 'install -d -m 0700 -o SLURMUSER %s'",
				c->state_dir, c->state_dir);
			return -1;
		}
		own_uid = uid;
		own_gid = gid;
	}
	if (!exists) {
		if (mkdir(c->state_dir, 0700) && errno != EEXIST) {
			azml_errf(err, n, "couldn't create StateDir %s: %s",
				  c->state_dir, strerror(errno));
			return -1;
		}
		if (root && lchown(c->state_dir, own_uid, own_gid)) {
			azml_errf(err, n,
				  "couldn't give StateDir %s to uid %u: %s",
				  c->state_dir, (unsigned) own_uid,
				  strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
		if (azml_state_path(c, subs[i], NULL, p, sizeof(p))) {
			azml_errf(err, n, "StateDir %s: path too long",
				  c->state_dir);
			return -1;
		}
		if (mkdir(p, 0700) == 0) {
			if (root && lchown(p, own_uid, own_gid)) {
				azml_errf(err, n,
					  "couldn't give %s to uid %u: %s", p,
					  (unsigned) own_uid, strerror(errno));
				return -1;
			}
		} else if (errno != EEXIST) {
			azml_errf(err, n, "couldn't create %s: %s", p,
				  strerror(errno));
			return -1;
		} else if (lstat(p, &st) || !S_ISDIR(st.st_mode)) {
			azml_errf(err, n, "%s is not a folder%s", p,
				  S_ISLNK(st.st_mode) ? " (a symbolic link)" :
							"");
			return -1;
		} else if (root && st.st_uid != own_uid) {
			_give_tree(p);	/* made by root in an earlier release */
		}
		if (access(p, W_OK | X_OK)) {
			struct passwd *pw = getpwuid(geteuid());
			struct stat ps;

			stat(p, &ps);
			azml_errf(
				err, n,
				"%s is not writable by %s (it belongs to uid "
				"%u, mode %03o): as root, run 'chown -R %s %s'",
				p, pw ? pw->pw_name : "this user",
				(unsigned) ps.st_uid,
				(unsigned) (ps.st_mode & 0777),
				pw ? pw->pw_name : "SLURMUSER", c->state_dir);
			return -1;
		}
	}
	return 0;
}

/* ---- failures ---- */

int azml_state_failure_add(const azml_conf_t *c, const char *node,
			   const char *code)
{
	char dir[4096], path[4200], buf[MAX_RECORD], old[64], err[512];
	int count = 0, lk;

	if (!azml_node_name_ok(node, 0) ||
	    azml_state_path(c, DIR_FAILURES, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (azml_state_read(path, buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%d %63s", &count, old) < 1)
		count = 0;
	if (count < 0 || count > 1000000)
		count = 0;
	count++;
	snprintf(buf, sizeof(buf), "%d %s %ld\n", count,
		 code && *code && !strpbrk(code, " \n") ? code : "-",
		 (long) time(NULL));
	if (azml_state_write(dir, node, buf, strlen(buf), err, sizeof(err))) {
		azml_log_error("%s", err);
		count = -1;
	}
	azml_state_unlock(lk);
	return count;
}

void azml_state_failure_clear(const azml_conf_t *c, const char *node)
{
	char path[4200];

	if (azml_node_name_ok(node, 0) &&
	    !azml_state_path(c, DIR_FAILURES, node, path, sizeof(path)))
		unlink(path);
}

long azml_state_failure_age(const azml_conf_t *c, const char *node)
{
	char path[4200], buf[MAX_RECORD], code[64];
	int count;
	long when = 0;

	if (!azml_node_name_ok(node, 0) ||
	    azml_state_path(c, DIR_FAILURES, node, path, sizeof(path)) ||
	    azml_state_read(path, buf, sizeof(buf)) <= 0)
		return -1;
	if (sscanf(buf, "%d %63s %ld", &count, code, &when) != 3)
		when = 0;
	return (long) time(NULL) - when;
}

#define HELD_PREFIX "azureml: held after "

void azml_state_held_reason(char *buf, size_t n, int count, const char *code,
			    const char *message)
{
	snprintf(buf, n, HELD_PREFIX "%d failures: %s: %.280s", count,
		 code ? code : "", message ? message : "");
}

bool azml_state_is_held(const char *reason)
{
	return reason && !strncmp(reason, HELD_PREFIX, strlen(HELD_PREFIX));
}

/* ---- attached nodes ---- */

int azml_state_attached_save(const azml_conf_t *c, const char *node,
			     const cJSON *report, char *err, size_t n)
{
	char dir[4096], name[128];
	char *text;
	int rc;

	if (!azml_node_name_ok(node, 0)) {
		azml_errf(err, n,
			  "'%.100s' is not a node name StateDir can hold",
			  node ? node : "");
		return -1;
	}
	if (azml_state_path(c, DIR_ATTACHED, NULL, dir, sizeof(dir))) {
		azml_state_path_why(c, err, n);
		return -1;
	}
	if (!(text = cJSON_PrintUnformatted(report))) {
		azml_errf(err, n, "couldn't print the report of %s", node);
		return -1;
	}
	snprintf(name, sizeof(name), "%s.json", node);
	rc = azml_state_write(dir, name, text, strlen(text), err, n);
	cJSON_free(text);
	return rc;
}

void azml_state_attached_remove(const azml_conf_t *c, const char *node)
{
	char dir[4096], path[4300];

	if (!azml_node_name_ok(node, 0) ||
	    azml_state_path(c, DIR_ATTACHED, NULL, dir, sizeof(dir)))
		return;
	snprintf(path, sizeof(path), "%s/%s.json", dir, node);
	unlink(path);
}

void azml_state_attached_each(const azml_conf_t *c,
			      void (*cb)(void *arg, const char *node,
					 const cJSON *report),
			      void *arg)
{
	char dir[4096], path[4400], node[128];
	struct dirent *e;
	DIR *d;
	char *buf;

	if (azml_state_path(c, DIR_ATTACHED, NULL, dir, sizeof(dir)) ||
	    !(d = opendir(dir)))
		return;
	if (!(buf = malloc(MAX_REPORT))) {
		closedir(d);
		return;
	}
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);
		cJSON *rep = NULL;

		if (len < 6 || len - 5 >= sizeof(node) ||
		    strcmp(e->d_name + len - 5, ".json"))
			continue;
		snprintf(node, sizeof(node), "%.*s", (int) (len - 5), e->d_name);
		if (!azml_node_name_ok(node, 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (azml_state_read(path, buf, MAX_REPORT) > 0)
			rep = cJSON_Parse(buf);
		cb(arg, node, rep);
		cJSON_Delete(rep);
	}
	free(buf);
	closedir(d);
}

/* ---- prices ---- */

#define PRICES_FILE "retail"
#define PRICES_MAX (1 << 20)

int azml_state_prices_save(const azml_conf_t *c, const char *text)
{
	char dir[4096], err[512];
	int lk, rc;

	if (azml_state_path(c, DIR_PRICES, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if ((rc = azml_state_write(dir, PRICES_FILE, text, strlen(text), err,
				   sizeof(err))))
		azml_log_error("%s", err);
	azml_state_unlock(lk);
	return rc;
}

char *azml_state_prices_load(const azml_conf_t *c)
{
	char path[4200], *buf;

	if (azml_state_path(c, DIR_PRICES, PRICES_FILE, path, sizeof(path)) ||
	    !(buf = malloc(PRICES_MAX)))
		return NULL;
	if (azml_state_read(path, buf, PRICES_MAX) <= 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- IdleSecondsBeforeScaledown=auto ---- */

int azml_state_idle_set(const azml_conf_t *c, const char *target, long seconds)
{
	char dir[4096], err[512], rec[64];
	int lk, rc, len;

	if (!azml_node_name_ok(target, 0) ||
	    azml_state_path(c, DIR_IDLE, NULL, dir, sizeof(dir)))
		return -1;
	len = snprintf(rec, sizeof(rec), "%ld %ld\n", seconds, (long) time(NULL));
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if ((rc = azml_state_write(dir, target, rec, (size_t) len, err,
				   sizeof(err))))
		azml_log_error("%s", err);
	azml_state_unlock(lk);
	return rc;
}

long azml_state_idle_get(const azml_conf_t *c, const char *target)
{
	char path[4200], buf[64];
	long v;

	if (!azml_node_name_ok(target, 0) ||
	    azml_state_path(c, DIR_IDLE, target, path, sizeof(path)) ||
	    azml_state_read(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%ld", &v) != 1 || v < 1 || v > 86400)
		return 0;
	return v;
}

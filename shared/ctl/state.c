/*
 * state.c - StateDir's only owner (see state.h).
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
#include "state.h"

#define DIR_INTENT "intent"
#define DIR_FAILURES "failures"
#define DIR_ATTACHED "attached"
#define DIR_HOLDS "holds"
#define DIR_QUOTA "quota"
#define DIR_SETS "sets"
#define DIR_JOURNAL "journal"
#define DIR_PRICES "prices"
#define DIR_IDLE "idle"
#define MAX_RECORD 4096		/* an intent or failure record */
#define MAX_REPORT (256 * 1024)	/* an attach report */
#define LOCK_WAIT_MS 10000	/* a held directory lock: give up after */

/* Who owns what we create: StateDir's owner (uid -1: leave as made). */
static uid_t own_uid = (uid_t) -1;
static gid_t own_gid = (gid_t) -1;

static void _err(char *err, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void _err(char *err, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!err || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(err, n, fmt, ap);
	va_end(ap);
}

/* A node name that is safe as a file name: Slurm's and Azure's characters,
 * never "." or "..", never a path. */
static bool _node_ok(const char *node)
{
	size_t len = node ? strlen(node) : 0;

	if (!len || len > 95 || node[0] == '.' || node[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) node[i]) && !strchr("-_.", node[i]))
			return false;
	return true;
}

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
		_err(err, n, "StateDir is not set");
		return -1;
	}
	snprintf(judged, sizeof(judged), "%s", c->state_dir);
	judged_ok = !azml_dir_safe(c->state_dir, AZML_SAFE_OWNER |
				   AZML_SAFE_PARENTS, NULL, why, sizeof(why));
	if (!judged_ok)
		snprintf(judged_why, sizeof(judged_why), "StateDir %s is "
			 "refused, nothing done: %s", c->state_dir, why);
	if (!judged_ok)
		_err(err, n, "%s", judged_why);
	return judged_ok ? 0 : -1;
}

static int _path(const azml_conf_t *c, const char *sub, const char *file,
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

/* ---- files ---- */

/* Lock folder DIR; the fd to pass to _unlock, or -1 with ERR.  Bounded: a
 * holder that never lets go (stopped) is an error, not a hang. */
static int _lock(const char *dir, char *err, size_t n)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		_err(err, n, "couldn't open %s: %s", dir, errno == ELOOP ?
		     "it is a symbolic link, not a folder" : strerror(errno));
		return -1;
	}
	for (int ms = 0; flock(fd, LOCK_EX | LOCK_NB); ms += 5) {
		if (errno != EWOULDBLOCK || ms >= LOCK_WAIT_MS) {
			_err(err, n, "couldn't lock %s: %s", dir,
			     errno == EWOULDBLOCK ? "held by another program "
			     "for 10 s" : strerror(errno));
			close(fd);
			return -1;
		}
		usleep(5000);
	}
	return fd;
}

static void _unlock(int fd)
{
	if (fd >= 0)
		close(fd);	/* releases the flock */
}

static void _give(int fd)
{
	if (own_uid != (uid_t) -1 && geteuid() == 0 &&
	    fchown(fd, own_uid, own_gid))
		azml_log_error("couldn't give a StateDir file to uid %u: %s",
			       (unsigned) own_uid, strerror(errno));
}

/* Write DIR/NAME whole: a temporary file, then rename.  0, or -1 + ERR. */
static int _write(const char *dir, const char *name, const char *data,
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
		_err(err, n, "couldn't write %s: %s", path, strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, data + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			_err(err, n, "couldn't write %s: %s", path,
			     w < 0 ? strerror(errno) : "no space");
			goto out;
		}
		done += (size_t) w;
	}
	_give(fd);
	if (close(fd)) {
		fd = -1;
		_err(err, n, "couldn't write %s: %s", path, strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path)) {
		_err(err, n, "couldn't rename %s to %s: %s", tmp, path,
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
static ssize_t _read(const char *path, char *buf, size_t cap)
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
	slurm_free_ctl_conf(ctl);
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
				      DIR_JOURNAL, DIR_PRICES, DIR_IDLE };
	struct stat st;
	char p[4096];
	bool root = geteuid() == 0, exists;

	if (azml_state_check(c, err, n))
		return -1;
	exists = stat(c->state_dir, &st) == 0;
	if (exists && !S_ISDIR(st.st_mode)) {
		_err(err, n, "StateDir %s is not a folder", c->state_dir);
		return -1;
	}
	if (root && exists) {
		own_uid = st.st_uid;	/* SlurmUser's, as made below */
		own_gid = st.st_gid;
	} else if (root) {
		uid_t uid;
		gid_t gid;

		if (_slurm_user(&uid, &gid)) {
			_err(err, n, "StateDir %s does not exist, and slurmctld "
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
			_err(err, n, "couldn't create StateDir %s: %s",
			     c->state_dir, strerror(errno));
			return -1;
		}
		if (root && lchown(c->state_dir, own_uid, own_gid)) {
			_err(err, n, "couldn't give StateDir %s to uid %u: %s",
			     c->state_dir, (unsigned) own_uid, strerror(errno));
			return -1;
		}
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(*subs); i++) {
		if (_path(c, subs[i], NULL, p, sizeof(p))) {
			_err(err, n, "StateDir %s: path too long", c->state_dir);
			return -1;
		}
		if (mkdir(p, 0700) == 0) {
			if (root && lchown(p, own_uid, own_gid)) {
				_err(err, n, "couldn't give %s to uid %u: %s", p,
				     (unsigned) own_uid, strerror(errno));
				return -1;
			}
		} else if (errno != EEXIST) {
			_err(err, n, "couldn't create %s: %s", p,
			     strerror(errno));
			return -1;
		} else if (lstat(p, &st) || !S_ISDIR(st.st_mode)) {
			_err(err, n, "%s is not a folder%s", p,
			     S_ISLNK(st.st_mode) ? " (a symbolic link)" : "");
			return -1;
		} else if (root && st.st_uid != own_uid) {
			_give_tree(p);	/* made by root in an earlier release */
		}
		if (access(p, W_OK | X_OK)) {
			struct passwd *pw = getpwuid(geteuid());
			struct stat ps;

			stat(p, &ps);
			_err(err, n, "%s is not writable by %s (it belongs to uid "
			     "%u, mode %03o): as root, run 'chown -R %s %s'", p,
			     pw ? pw->pw_name : "this user", (unsigned) ps.st_uid,
			     (unsigned) (ps.st_mode & 0777),
			     pw ? pw->pw_name : "SLURMUSER", c->state_dir);
			return -1;
		}
	}
	return 0;
}

/* ---- intents ---- */

typedef struct {
	azml_op_t op;
	pid_t pid;
	unsigned long long start;	/* the process's start time (clock ticks) */
	long since, until;
} who_t;

enum { LAST_NONE, LAST_OK, LAST_FAILED, LAST_INTERRUPTED };

typedef struct {
	who_t owner, next;
	azml_op_t last_op;
	int last;
	long last_at;
	char last_code[64];
} intent_t;

const char *azml_op_name(azml_op_t op)
{
	return op == AZML_OP_CREATE ? "create" : op == AZML_OP_DELETE ?
	       "delete" : "nothing";
}

static azml_op_t _op(const char *s)
{
	return !strcmp(s, "create") ? AZML_OP_CREATE :
	       !strcmp(s, "delete") ? AZML_OP_DELETE : AZML_OP_NONE;
}

/* Start time of PID (field 22 of /proc/PID/stat), 0 when it is not alive
 * (no such process, or a zombie: a program killed but not yet reaped), 1
 * when /proc does not let us look (hidepid): then it counts as alive.  With
 * the pid, it names one process even after the pid is reused. */
static unsigned long long _proc_start(pid_t pid)
{
	char path[64], buf[1024], *p, state;
	unsigned long long start = 0;
	ssize_t len;

	if (pid <= 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long) pid);
	errno = 0;
	if ((len = _read(path, buf, sizeof(buf))) <= 0)
		return errno == EACCES || errno == EPERM ? 1 : 0;
	if (!(p = strrchr(buf, ')')) || sscanf(p + 1, " %c", &state) != 1 ||
	    state == 'Z' || state == 'X')
		return 0;
	/* after "pid (comm)": state is field 3, starttime field 22 */
	for (int field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (!p || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return start;
}

static bool _alive(const who_t *w)
{
	unsigned long long now;

	if (!w->op || w->pid <= 0 || !w->start)
		return false;
	now = _proc_start(w->pid);
	return now == w->start || now == 1 || (w->start == 1 && now);
}

static void _parse(const char *text, intent_t *in)
{
	const char *line = text;

	memset(in, 0, sizeof(*in));
	while (line && *line) {
		char kind[16], op[16], what[16], code[64];
		long pid, a, b;
		unsigned long long start;

		if (sscanf(line, "%15s %15s", kind, op) == 2) {
			if (!strcmp(kind, "owner") &&
			    sscanf(line, "%*s %*s %ld %llu %ld %ld", &pid, &start,
				   &a, &b) == 4)
				in->owner = (who_t) { _op(op), (pid_t) pid, start,
						      a, b };
			else if (!strcmp(kind, "next") &&
				 sscanf(line, "%*s %*s %ld %llu %ld", &pid,
					&start, &a) == 3)
				in->next = (who_t) { _op(op), (pid_t) pid, start,
						     a, 0 };
			else if (!strcmp(kind, "last") &&
				 sscanf(line, "%*s %*s %15s %ld %63s", what, &a,
					code) == 3) {
				in->last_op = _op(op);
				in->last = !strcmp(what, "ok") ? LAST_OK :
					   !strcmp(what, "failed") ? LAST_FAILED :
					   !strcmp(what, "interrupted") ?
					   LAST_INTERRUPTED : LAST_NONE;
				in->last_at = a;
				snprintf(in->last_code, sizeof(in->last_code),
					 "%s", strcmp(code, "-") ? code : "");
			}
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
}

static int _format(const intent_t *in, char *buf, size_t n)
{
	static const char *last[] = { "none", "ok", "failed", "interrupted" };
	int len = 0;

	buf[0] = '\0';
	if (in->owner.op)
		len += snprintf(buf + len, n - len, "owner %s %ld %llu %ld %ld\n",
				azml_op_name(in->owner.op), (long) in->owner.pid,
				in->owner.start, in->owner.since, in->owner.until);
	if (in->next.op)
		len += snprintf(buf + len, n - len, "next %s %ld %llu %ld\n",
				azml_op_name(in->next.op), (long) in->next.pid,
				in->next.start, in->next.since);
	if (in->last_op)
		len += snprintf(buf + len, n - len, "last %s %s %ld %s\n",
				azml_op_name(in->last_op), last[in->last],
				in->last_at, in->last_code[0] ?
				in->last_code : "-");
	return len;
}

/* Open NODE's intent under the folder's lock: the lock fd, or -1 + ERR. */
static int _intent_open(const azml_conf_t *c, const char *node, intent_t *in,
			char *dir, size_t dn, char *err, size_t n)
{
	char path[4200], buf[MAX_RECORD];
	int lk;

	if (!_node_ok(node)) {
		_err(err, n, "'%.100s' is not a node name StateDir can hold",
		     node ? node : "");
		return -1;
	}
	if (_path(c, DIR_INTENT, NULL, dir, dn)) {
		_err(err, n, "StateDir is not set, or its path is too long");
		return -1;
	}
	if ((lk = _lock(dir, err, n)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (_read(path, buf, sizeof(buf)) < 0) {
		_err(err, n, "couldn't read %s: %s", path, errno ? strerror(errno) :
		     "not a small regular file");
		_unlock(lk);
		return -1;
	}
	_parse(buf, in);
	return lk;
}

static int _intent_save(const char *dir, const char *node, const intent_t *in,
			char *err, size_t n)
{
	char buf[MAX_RECORD];
	int len = _format(in, buf, sizeof(buf));

	return _write(dir, node, buf, (size_t) len, err, n);
}

/* An owner that died or overstayed is over: its operation was interrupted. */
static void _settle(intent_t *in, long now)
{
	if (in->owner.op && (!_alive(&in->owner) || now > in->owner.until)) {
		in->last_op = in->owner.op;
		in->last = LAST_INTERRUPTED;
		in->last_at = now;
		in->last_code[0] = '\0';
		memset(&in->owner, 0, sizeof(in->owner));
	}
	if (in->next.op && !_alive(&in->next))
		memset(&in->next, 0, sizeof(in->next));
}

static void _info(azml_turn_info_t *info, const who_t *w)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	if (w) {
		info->op = w->op;
		info->pid = w->pid;
		info->since = w->since;
	}
}

/* NODE becomes PID's: RUN, or DELETE_FIRST after an interrupted delete. */
static azml_turn_t _take(intent_t *in, azml_op_t op, pid_t pid, long now,
			 azml_turn_info_t *info)
{
	bool interrupted = in->last == LAST_INTERRUPTED;

	_info(info, NULL);
	if (info && interrupted)
		info->op = in->last_op;
	in->owner = (who_t) { op, pid, _proc_start(pid), now,
			      now + AZML_INTENT_TTL };
	memset(&in->next, 0, sizeof(in->next));
	return interrupted && in->last_op == AZML_OP_DELETE &&
	       op == AZML_OP_CREATE ? AZML_TURN_DELETE_FIRST : AZML_TURN_RUN;
}

azml_turn_t azml_state_intent_begin(const azml_conf_t *c, const char *node,
				    azml_op_t op, pid_t pid,
				    azml_turn_info_t *info, char *err, size_t n)
{
	azml_turn_info_t spare;
	char dir[4096];
	intent_t in;
	long now = (long) time(NULL);
	azml_turn_t turn;
	int lk = _intent_open(c, node, &in, dir, sizeof(dir), err, n);

	if (!info)
		info = &spare;
	if (lk < 0)
		return AZML_TURN_ERROR;
	_settle(&in, now);
	if (in.owner.op && in.owner.pid != pid) {
		_info(info, &in.owner);
		in.next = (who_t) { op, pid, _proc_start(pid), now, 0 };
		turn = AZML_TURN_WAIT;
	} else {
		turn = _take(&in, op, pid, now, info);
	}
	if (_intent_save(dir, node, &in, err, n))
		turn = AZML_TURN_ERROR;
	_unlock(lk);
	return turn;
}

azml_turn_t azml_state_intent_poll(const azml_conf_t *c, const char *node,
				   azml_op_t op, pid_t pid,
				   azml_turn_info_t *info, char *err, size_t n)
{
	azml_turn_info_t spare;
	char dir[4096];
	intent_t in;
	long now = (long) time(NULL);
	azml_turn_t turn;
	int lk = _intent_open(c, node, &in, dir, sizeof(dir), err, n);

	if (!info)
		info = &spare;
	if (lk < 0)
		return AZML_TURN_ERROR;
	_settle(&in, now);
	if (in.next.pid != pid || in.next.op != op) {
		/* someone asked after us, or took the node since */
		_info(info, in.next.op ? &in.next : in.owner.op ? &in.owner :
		      NULL);
		_unlock(lk);
		return AZML_TURN_SUPERSEDED;
	}
	if (in.owner.op) {
		_info(info, &in.owner);
		_unlock(lk);
		return AZML_TURN_WAIT;
	}
	/* The operation we waited for is over: LAST says how. */
	if (in.last_op == op && (in.last == LAST_OK || in.last == LAST_FAILED)) {
		_info(info, NULL);
		info->op = op;
		info->ok = in.last == LAST_OK;
		snprintf(info->code, sizeof(info->code), "%s", in.last_code);
		memset(&in.next, 0, sizeof(in.next));
		turn = AZML_TURN_JOINED;
	} else if (op == AZML_OP_CREATE && in.last_op == AZML_OP_DELETE &&
		   in.last == LAST_FAILED) {
		_info(info, NULL);
		info->op = AZML_OP_DELETE;
		snprintf(info->code, sizeof(info->code), "%s", in.last_code);
		memset(&in.next, 0, sizeof(in.next));
		turn = AZML_TURN_FAILED;
	} else {
		turn = _take(&in, op, pid, now, info);
	}
	if (_intent_save(dir, node, &in, err, n))
		turn = AZML_TURN_ERROR;
	_unlock(lk);
	return turn;
}

int azml_state_intent_end(const azml_conf_t *c, const char *node,
			  azml_op_t op, pid_t pid, bool ok, const char *code,
			  char *err, size_t n)
{
	char dir[4096];
	intent_t in;
	int rc = 1, lk = _intent_open(c, node, &in, dir, sizeof(dir), err, n);

	if (lk < 0)
		return -1;
	if (in.owner.op == op && in.owner.pid == pid) {
		memset(&in.owner, 0, sizeof(in.owner));
		in.last_op = op;
		in.last = ok ? LAST_OK : LAST_FAILED;
		in.last_at = (long) time(NULL);
		snprintf(in.last_code, sizeof(in.last_code), "%s",
			 code && *code && !strpbrk(code, " \n") ? code : "");
		rc = _intent_save(dir, node, &in, err, n);
	} else if (in.next.pid == pid) {
		memset(&in.next, 0, sizeof(in.next));	/* gave up waiting */
		rc = _intent_save(dir, node, &in, err, n) ? -1 : 1;
	}
	_unlock(lk);
	return rc;
}

bool azml_state_intent_active(const azml_conf_t *c, const char *node)
{
	char path[4200], buf[MAX_RECORD];
	intent_t in;

	if (!_node_ok(node) || _path(c, DIR_INTENT, node, path, sizeof(path)) ||
	    _read(path, buf, sizeof(buf)) <= 0)
		return false;
	_parse(buf, &in);
	return (_alive(&in.owner) && time(NULL) <= in.owner.until) ||
	       _alive(&in.next);
}

/* ---- failures ---- */

int azml_state_failure_add(const azml_conf_t *c, const char *node,
			   const char *code)
{
	char dir[4096], path[4200], buf[MAX_RECORD], old[64], err[512];
	int count = 0, lk;

	if (!_node_ok(node) || _path(c, DIR_FAILURES, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (_read(path, buf, sizeof(buf)) > 0 &&
	    sscanf(buf, "%d %63s", &count, old) < 1)
		count = 0;
	if (count < 0 || count > 1000000)
		count = 0;
	count++;
	snprintf(buf, sizeof(buf), "%d %s %ld\n", count,
		 code && *code && !strpbrk(code, " \n") ? code : "-",
		 (long) time(NULL));
	if (_write(dir, node, buf, strlen(buf), err, sizeof(err))) {
		azml_log_error("%s", err);
		count = -1;
	}
	_unlock(lk);
	return count;
}

void azml_state_failure_clear(const azml_conf_t *c, const char *node)
{
	char path[4200];

	if (_node_ok(node) && !_path(c, DIR_FAILURES, node, path, sizeof(path)))
		unlink(path);
}

long azml_state_failure_age(const azml_conf_t *c, const char *node)
{
	char path[4200], buf[MAX_RECORD], code[64];
	int count;
	long when = 0;

	if (!_node_ok(node) || _path(c, DIR_FAILURES, node, path, sizeof(path)) ||
	    _read(path, buf, sizeof(buf)) <= 0)
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

/* ---- capacity holds ---- */

bool azml_capacity_code(const char *code)
{
	static const char *codes[] = {
		"AllocationFailed", "ZonalAllocationFailed", "SkuNotAvailable",
		"OverconstrainedAllocationRequest",
		"OverconstrainedZonalAllocationRequest",
	};

	for (size_t i = 0; code && i < sizeof(codes) / sizeof(*codes); i++)
		if (!strcmp(code, codes[i]))
			return true;
	return false;
}

/* T's hold record into *H: 1 read, 0 none, -1 unreadable. */
static int _hold_read(const azml_conf_t *c, const char *target,
		      azml_hold_t *h)
{
	char path[4200], buf[MAX_RECORD];
	int lifted = 0;
	ssize_t len;

	memset(h, 0, sizeof(*h));
	if (!_node_ok(target) || _path(c, DIR_HOLDS, target, path, sizeof(path)))
		return -1;
	if ((len = _read(path, buf, sizeof(buf))) <= 0)
		return len < 0 ? -1 : 0;
	if (sscanf(buf, "%63s %ld %d %ld %d", h->code, &h->until, &h->level,
		   &h->since, &lifted) != 5 || h->level < 0 || h->level > 64 ||
	    h->since <= 0)
		return -1;
	h->lifted = lifted != 0;
	return 1;
}

static int _hold_write(const azml_conf_t *c, const char *dir,
		       const char *target, const azml_hold_t *h)
{
	char buf[MAX_RECORD], err[512];

	snprintf(buf, sizeof(buf), "%s %ld %d %ld %d\n", h->code, h->until,
		 h->level, h->since, h->lifted ? 1 : 0);
	if (_write(dir, target, buf, strlen(buf), err, sizeof(err))) {
		azml_log_error("%s", err);
		return -1;
	}
	return 0;
}

int azml_state_hold_add(const azml_conf_t *c, const azml_target_t *t,
			const char *code, azml_hold_t *h)
{
	char dir[4096], err[512];
	long now = time(NULL), base, cap, len;
	azml_hold_t old;
	int lk, rc = 0, had;

	memset(h, 0, sizeof(*h));
	if (!t || !_node_ok(t->name) ||
	    _path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	had = _hold_read(c, t->name, &old);
	if (had == 1 && !old.lifted && old.until > now) {
		*h = old;	/* the same outage, seen by another node */
		goto out;
	}
	base = t->capacity_backoff > 0 ? t->capacity_backoff : 600;
	cap = base > AZML_CAPACITY_BACKOFF_MAX ? base :
	      AZML_CAPACITY_BACKOFF_MAX;
	h->level = had == 1 ? old.level + 1 : 1;
	if (h->level > 32)
		h->level = 32;
	len = base;
	for (int i = 1; i < h->level && len < cap; i++)
		len *= 2;
	if (len > cap)
		len = cap;
	snprintf(h->code, sizeof(h->code), "%s",
		 code && *code && !strpbrk(code, " \n") ? code : "-");
	h->since = now;
	h->until = now + len;
	rc = _hold_write(c, dir, t->name, h);
out:
	_unlock(lk);
	return rc;
}

int azml_state_hold_get(const azml_conf_t *c, const azml_target_t *t,
			azml_hold_t *h)
{
	int rc = t ? _hold_read(c, t->name, h) : 0;

	if (rc < 0)
		return -1;
	return rc == 1 && !h->lifted && h->until > (long) time(NULL);
}

int azml_state_hold_lifted(const azml_conf_t *c, const azml_target_t *t)
{
	char dir[4096], err[512];
	azml_hold_t h;
	int lk, rc = 0;

	if (!t || _path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	/* only a hold that is still over: a new one may have begun */
	if (_hold_read(c, t->name, &h) == 1 && !h.lifted &&
	    h.until <= (long) time(NULL)) {
		h.lifted = true;
		rc = _hold_write(c, dir, t->name, &h);
	}
	_unlock(lk);
	return rc;
}

void azml_state_hold_clear(const azml_conf_t *c, const azml_target_t *t)
{
	char dir[4096], path[4200], err[512];
	azml_hold_t h;
	int lk;

	if (!t || !_node_ok(t->name) || _path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return;
	}
	if (_hold_read(c, t->name, &h) == 1 && !h.lifted) {
		/* its nodes are still held: the record stays until they are
		 * let go; only the doubling starts over */
		if (h.level) {
			h.level = 0;
			_hold_write(c, dir, t->name, &h);
		}
	} else {
		snprintf(path, sizeof(path), "%s/%s", dir, t->name);
		unlink(path);
	}
	_unlock(lk);
}

void azml_state_hold_reason(char *buf, size_t n, const azml_hold_t *h)
{
	struct tm tm;
	time_t until = h->until;
	char when[16] = "??:??:??";

	if (localtime_r(&until, &tm))
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
	snprintf(buf, n, AZML_CAPACITY_PREFIX "%s; retry after %s", h->code,
		 when);
}

bool azml_state_is_capacity_reason(const char *reason)
{
	return reason && !strncmp(reason, AZML_CAPACITY_PREFIX,
				  strlen(AZML_CAPACITY_PREFIX));
}

/* ---- the usages cache ---- */

#define USAGES_FILE "usages"
#define USAGES_MAX 4096		/* usage lines kept */

/* The cached usages into *U (malloc'd) and when they were read into *AT,
 * when younger than MAX_AGE. */
static size_t _usages_read(const char *path, int max_age, azml_usage_t **u,
			   long *at)
{
	char *buf = malloc(USAGES_MAX * 128), *line, *save = NULL;
	size_t n = 0;
	long now = time(NULL);

	*u = NULL;
	if (!buf)
		return 0;
	if (_read(path, buf, USAGES_MAX * 128) <= 0 ||
	    sscanf(buf, "%ld", at) != 1 || *at > now || now - *at >= max_age ||
	    !(*u = calloc(USAGES_MAX, sizeof(**u)))) {
		free(buf);
		return 0;
	}
	line = strtok_r(buf, "\n", &save);	/* the time */
	while ((line = strtok_r(NULL, "\n", &save)) && n < USAGES_MAX) {
		azml_usage_t *x = &(*u)[n];

		if (sscanf(line, "%95s %ld %ld", x->name, &x->current,
			   &x->limit) == 3)
			n++;
	}
	free(buf);
	if (!n) {
		free(*u);
		*u = NULL;
	}
	return n;
}

int azml_state_usages(const azml_conf_t *c, int max_age,
		      const azml_usage_t *fresh, size_t nfresh,
		      void (*fn)(void *arg, azml_usage_t *u, size_t n),
		      void *arg)
{
	char dir[4096], path[4200], err[512], *buf;
	azml_usage_t *u = NULL;
	size_t n = 0, len = 0, cap = USAGES_MAX * 128;
	long at = time(NULL);
	int lk, rc = 0;

	if (_path(c, DIR_QUOTA, NULL, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, USAGES_FILE);
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if (fresh && nfresh) {
		n = nfresh < USAGES_MAX ? nfresh : USAGES_MAX;
		if ((u = calloc(n, sizeof(*u))))
			memcpy(u, fresh, n * sizeof(*u));
		else
			n = 0;
	} else if (!fresh) {
		n = _usages_read(path, max_age, &u, &at);
	}
	if (!n) {
		rc = fresh ? -1 : 1;
		goto out;
	}
	fn(arg, u, n);
	if (!(buf = malloc(cap))) {
		rc = -1;
		goto out;
	}
	/* the answer's own time: what is taken from it never makes it younger */
	len = snprintf(buf, cap, "%ld\n", at);
	for (size_t i = 0; i < n && len < cap; i++)
		if (u[i].name[0] && !strpbrk(u[i].name, " \n"))
			len += snprintf(buf + len, cap - len, "%s %ld %ld\n",
					u[i].name, u[i].current, u[i].limit);
	if (len >= cap)
		len = cap - 1;
	if (_write(dir, USAGES_FILE, buf, len, err, sizeof(err))) {
		azml_log_error("%s", err);
		rc = -1;
	}
	free(buf);
out:
	free(u);
	_unlock(lk);
	return rc;
}

/* ---- scale sets ---- */

#define PAIR_LINE 400

/* One line "VM NODE COMPUTER IP SINCE" into *P; false when it is not one
 * (every word checked: they become file names, node names, addresses). */
static bool _pair_parse(const char *line, azml_pair_t *p)
{
	char vm[96], node[112], comp[88], ip[80];
	long since;

	memset(p, 0, sizeof(*p));
	if (sscanf(line, "%95s %111s %87s %79s %ld", vm, node, comp, ip,
		   &since) != 5 || !azml_arm_resource_name_ok(vm) ||
	    !_node_ok(node) || strlen(node) >= sizeof(p->node) ||
	    strlen(vm) >= sizeof(p->vm) || strlen(comp) >= sizeof(p->computer)
	    || strlen(ip) >= sizeof(p->ip) || !_node_ok(comp) ||
	    strspn(ip, "0123456789abcdefABCDEF.:") != strlen(ip))
		return false;
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	snprintf(p->node, sizeof(p->node), "%s", node);
	snprintf(p->computer, sizeof(p->computer), "%s", comp);
	snprintf(p->ip, sizeof(p->ip), "%s", ip);
	p->since = since;
	return true;
}

/* P as its line in a set's file (PAIR_LINE bytes). */
static void _pair_line(const azml_pair_t *p, char *l, size_t n)
{
	snprintf(l, n, "%s %s %s %s %ld\n", p->vm, p->node,
		 p->computer[0] ? p->computer : p->vm,
		 p->ip[0] ? p->ip : "0.0.0.0", p->since);
}

bool azml_state_pair_ok(const azml_pair_t *p)
{
	azml_pair_t chk;
	char l[PAIR_LINE];

	_pair_line(p, l, sizeof(l));
	return _pair_parse(l, &chk);
}

int azml_state_pairs(const azml_conf_t *c, const char *set,
		     int (*fn)(void *arg, azml_pair_t **p, size_t *n),
		     void *arg)
{
	char dir[4096], path[4200], err[512], *buf, *line, *save = NULL;
	size_t cap = (size_t) AZML_PAIRS_MAX * PAIR_LINE / 8, n = 0, len = 0;
	azml_pair_t *p = NULL;
	ssize_t got;
	int lk, rc = 0;

	if (!azml_arm_resource_name_ok(set) || strchr(set, '.') ||
	    _path(c, DIR_SETS, NULL, dir, sizeof(dir))) {
		azml_log_error("StateDir: '%.80s' is not a scale set name", set);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, set);
	if (!(buf = malloc(cap)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		free(buf);
		return -1;
	}
	if ((got = _read(path, buf, cap)) < 0) {
		azml_log_error("StateDir: couldn't read %s (not a regular file, "
			       "or over %zu bytes); remove it and run "
			       "'slurm-azureml reconcile'", path, cap);
		rc = -1;
		goto out;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		azml_pair_t one, *more;

		if (!_pair_parse(line, &one)) {
			azml_log_error("StateDir: %s: skipping a line that is not "
				       "a pairing", path);
			continue;
		}
		if (n >= AZML_PAIRS_MAX)
			break;
		if (!(more = realloc(p, (n + 1) * sizeof(*p)))) {
			rc = -1;
			goto out;
		}
		p = more;
		p[n++] = one;
	}
	if (fn(arg, &p, &n) != 1)
		goto out;
	for (size_t i = 0; i < n && len < cap - PAIR_LINE; i++) {
		azml_pair_t chk;
		char l[PAIR_LINE];

		_pair_line(&p[i], l, sizeof(l));
		if (!_pair_parse(l, &chk))
			continue;	/* never write what cannot be read */
		len += snprintf(buf + len, cap - len, "%s", l);
	}
	if (!n)
		rc = unlink(path) && errno != ENOENT ? -1 : 0;
	else if (_write(dir, set, buf, len, err, sizeof(err))) {
		azml_log_error("%s", err);
		rc = -1;
	}
out:
	free(p);
	free(buf);
	_unlock(lk);
	return rc;
}

typedef struct {
	const char *node;
	azml_pair_t *out;
	bool found, drop;
} pair_q_t;

static int _pair_q(void *arg, azml_pair_t **p, size_t *n)
{
	pair_q_t *q = arg;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp((*p)[i].node, q->node))
			continue;
		q->found = true;
		if (q->out)
			*q->out = (*p)[i];
		if (!q->drop)
			return 0;
		(*p)[i] = (*p)[--*n];
		return 1;
	}
	return 0;
}

int azml_state_pair_get(const azml_conf_t *c, const char *set,
			const char *node, azml_pair_t *p)
{
	pair_q_t q = { .node = node, .out = p };

	if (azml_state_pairs(c, set, _pair_q, &q))
		return -1;
	return q.found ? 1 : 0;
}

int azml_state_pair_drop(const azml_conf_t *c, const char *set,
			 const char *node)
{
	pair_q_t q = { .node = node, .drop = true };

	return azml_state_pairs(c, set, _pair_q, &q);
}

/* ---- attached nodes ---- */

int azml_state_attached_save(const azml_conf_t *c, const char *node,
			     const cJSON *report, char *err, size_t n)
{
	char dir[4096], name[128];
	char *text;
	int rc;

	if (!_node_ok(node)) {
		_err(err, n, "'%.100s' is not a node name StateDir can hold",
		     node ? node : "");
		return -1;
	}
	if (_path(c, DIR_ATTACHED, NULL, dir, sizeof(dir))) {
		_err(err, n, "StateDir is not set, or its path is too long");
		return -1;
	}
	if (!(text = cJSON_PrintUnformatted(report))) {
		_err(err, n, "couldn't print the report of %s", node);
		return -1;
	}
	snprintf(name, sizeof(name), "%s.json", node);
	rc = _write(dir, name, text, strlen(text), err, n);
	cJSON_free(text);
	return rc;
}

void azml_state_attached_remove(const azml_conf_t *c, const char *node)
{
	char dir[4096], path[4300];

	if (!_node_ok(node) || _path(c, DIR_ATTACHED, NULL, dir, sizeof(dir)))
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

	if (_path(c, DIR_ATTACHED, NULL, dir, sizeof(dir)) ||
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
		if (!_node_ok(node))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (_read(path, buf, MAX_REPORT) > 0)
			rep = cJSON_Parse(buf);
		cb(arg, node, rep);
		cJSON_Delete(rep);
	}
	free(buf);
	closedir(d);
}

/* ---- the lifecycle journal ---- */

#define JOURNAL_CURRENT "current"
#define JOURNAL_KEEP_DAYS 400	/* rotated files older than this go */
#define JOURNAL_FILE_MAX (64L << 20)	/* a journal file read whole: at most */

static size_t journal_rotate_at = AZML_JOURNAL_ROTATE;

void azml_state_journal_rotate_at(size_t bytes)
{
	journal_rotate_at = bytes ? bytes : AZML_JOURNAL_ROTATE;
}

/* Rotated files are named by the UTC time they were closed: 20261130T073816Z. */
static bool _rotated_name(const char *name, long *at)
{
	struct tm tm = { 0 };
	const char *e;

	if (strlen(name) != 16 || name[8] != 'T' || name[15] != 'Z')
		return false;
	e = strptime(name, "%Y%m%dT%H%M%SZ", &tm);
	if (!e || *e)
		return false;
	*at = (long) timegm(&tm);
	return *at > 0;
}

/* Append TEXT (whole lines) to FD, after a '\n' when the file's last line
 * was cut (a program that died mid-write): the cut line stays alone. */
static int _append(int fd, const char *text, size_t len, const char *path)
{
	struct stat st;
	char last;
	size_t done = 0;

	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		azml_log_error("StateDir: %s is not a regular file", path);
		return -1;
	}
	if (st.st_size > 0 && pread(fd, &last, 1, st.st_size - 1) == 1 &&
	    last != '\n' && write(fd, "\n", 1) != 1) {
		azml_log_error("couldn't write %s: %s", path, strerror(errno));
		return -1;
	}
	while (done < len) {
		ssize_t w = write(fd, text + done, len - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			azml_log_error("couldn't write %s: %s", path,
				       w < 0 ? strerror(errno) : "no space");
			return -1;
		}
		done += (size_t) w;
	}
	return 0;
}

static int _journal_open(const char *path)
{
	int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		      0600);

	if (fd < 0)
		azml_log_error("couldn't open %s: %s", path, errno == ELOOP ?
			       "it is a symbolic link" : strerror(errno));
	else
		_give(fd);
	return fd;
}

/* The records of file PATH, appended to *R (*N of them, *CAP room); lines
 * that are not records are counted in *BAD.  0, or -1 (logged). */
static int _journal_load(const char *path, azml_jrec_t **r, size_t *n,
			 size_t *cap, size_t *bad)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	char *buf, *line, *nl;
	ssize_t got = 0, k;

	if (fd < 0)
		return errno == ENOENT ? 0 : (azml_log_error("couldn't read %s: "
			"%s", path, strerror(errno)), -1);
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    st.st_size > JOURNAL_FILE_MAX) {
		azml_log_error("StateDir: %s is not a journal file (not a "
			       "regular file, or over 64 MiB)", path);
		close(fd);
		return -1;
	}
	if (!(buf = malloc((size_t) st.st_size + 1))) {
		close(fd);
		return -1;
	}
	while (got < st.st_size &&
	       (k = read(fd, buf + got, (size_t) (st.st_size - got))) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			break;
		got += k;
	}
	close(fd);
	buf[got] = '\0';
	for (line = buf; *line; line = nl + 1) {
		azml_jrec_t x;

		if (!(nl = strchr(line, '\n'))) {
			(*bad)++;	/* cut: no '\n' */
			break;
		}
		*nl = '\0';
		if (azml_jrec_parse(line, &x)) {
			(*bad)++;
			continue;
		}
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 256;
			azml_jrec_t *m = realloc(*r, c * sizeof(*m));

			if (!m) {
				free(buf);
				return -1;
			}
			*r = m;
			*cap = c;
		}
		(*r)[(*n)++] = x;
	}
	free(buf);
	return 0;
}

/* Close the current file as DIR/<now>, and begin a new one with what is
 * alive in it (each live VM's records, at their own times), so that every
 * file holds all that its time needs.  Under the lock. */
static void _journal_rotate(const char *dir, const char *path)
{
	char old[4200], name[32], line[AZML_JLINE];
	azml_jrec_t *r = NULL;
	azml_jvm_t *vm;
	size_t n = 0, cap = 0, bad = 0, nvm;
	time_t now = time(NULL);
	struct tm tm;
	DIR *d;
	struct dirent *e;
	int fd;

	if (_journal_load(path, &r, &n, &cap, &bad))
		return;
	gmtime_r(&now, &tm);
	strftime(name, sizeof(name), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(old, sizeof(old), "%s/%s", dir, name);
	if (access(old, F_OK) == 0 || rename(path, old)) {
		free(r);
		return;		/* twice in a second, or cannot: next time */
	}
	vm = azml_journal_fold(r, n, (long) now, &nvm);
	if ((fd = _journal_open(path)) >= 0) {
		for (size_t i = 0; i < nvm; i++) {
			azml_jrec_t x = vm[i].first;

			if (vm[i].end)
				continue;
			x.kind = AZML_J_CREATED;
			x.at = vm[i].span[0].from;
			_append(fd, line, azml_jrec_format(&x, line, sizeof(line)),
				path);
			for (size_t s = 0; s < vm[i].nspans; s++) {
				const azml_jspan_t *sp = &vm[i].span[s];

				if (s) {
					x.kind = sp->running ? AZML_J_STARTED :
						 AZML_J_DEALLOCATED;
					x.at = sp->from;
					_append(fd, line, azml_jrec_format(&x,
						line, sizeof(line)), path);
				}
				if (sp->running && sp->booted) {
					x.kind = AZML_J_REGISTERED;
					x.at = sp->booted;
					_append(fd, line, azml_jrec_format(&x,
						line, sizeof(line)), path);
				}
			}
		}
		close(fd);
	}
	azml_journal_free(vm, nvm);
	free(r);
	/* what is older than JOURNAL_KEEP_DAYS goes */
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			long at;

			if (_rotated_name(e->d_name, &at) &&
			    at < (long) now - JOURNAL_KEEP_DAYS * 86400L) {
				snprintf(old, sizeof(old), "%s/%.31s", dir,
					 e->d_name);
				unlink(old);
			}
		}
		closedir(d);
	}
}

/* "-" fields of records about a VM the current file knows alive (by its
 * name: a delete knows no vmId) are filled from its first record. */
static void _journal_resolve(const char *path, azml_jrec_t *r, size_t n)
{
	azml_jrec_t *have = NULL;
	azml_jvm_t *vm;
	size_t nh = 0, cap = 0, bad = 0, nvm, i, k;

	for (i = 0; i < n && strcmp(r[i].id, "-"); i++)
		;
	if (i == n || _journal_load(path, &have, &nh, &cap, &bad)) {
		free(have);
		return;
	}
	vm = azml_journal_fold(have, nh, (long) time(NULL), &nvm);
	for (i = 0; i < n; i++) {
		const azml_jrec_t *f = NULL;

		if (strcmp(r[i].id, "-") || r[i].kind == AZML_J_CREATED)
			continue;
		for (k = 0; k < nvm; k++)
			if (!vm[k].end && !strcmp(vm[k].first.vm, r[i].vm) &&
			    (!f || vm[k].first.at > f->at))
				f = &vm[k].first;
		if (!f)
			continue;
		memcpy(r[i].id, f->id, sizeof(r[i].id));
		if (!strcmp(r[i].node, "-"))
			memcpy(r[i].node, f->node, sizeof(r[i].node));
		if (!strcmp(r[i].target, "-"))
			memcpy(r[i].target, f->target, sizeof(r[i].target));
		if (!strcmp(r[i].size, "-"))
			memcpy(r[i].size, f->size, sizeof(r[i].size));
		if (!strcmp(r[i].zone, "-"))
			memcpy(r[i].zone, f->zone, sizeof(r[i].zone));
		memcpy(r[i].prio, f->prio, sizeof(r[i].prio));
	}
	azml_journal_free(vm, nvm);
	free(have);
}

int azml_state_journal_add(const azml_conf_t *c, const azml_jrec_t *rin,
			   size_t n)
{
	char dir[4096], path[4200], err[512], *text;
	azml_jrec_t *r;
	size_t len = 0;
	struct stat st;
	int lk, fd, rc;

	if (!n)
		return 0;
	if (_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)) ||
	    !(text = malloc(n * AZML_JLINE)))
		return -1;
	if (!(r = malloc(n * sizeof(*r)))) {
		free(text);
		return -1;
	}
	memcpy(r, rin, n * sizeof(*r));
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_CURRENT);
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		free(text);
		free(r);
		return -1;
	}
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (size_t) st.st_size >= journal_rotate_at)
		_journal_rotate(dir, path);
	_journal_resolve(path, r, n);
	for (size_t i = 0; i < n; i++)
		len += azml_jrec_format(&r[i], text + len, AZML_JLINE);
	free(r);
	rc = -1;
	if ((fd = _journal_open(path)) >= 0) {
		rc = _append(fd, text, len, path);
		close(fd);
	}
	_unlock(lk);
	free(text);
	return rc;
}

int azml_state_journal_read(const azml_conf_t *c, long since,
			    azml_jrec_t **r, size_t *n, size_t *bad)
{
	char dir[4096], path[4200], err[512];
	char (*names)[32] = NULL;
	size_t nn = 0, cn = 0, cap = 0, first = 0;
	DIR *d;
	struct dirent *e;
	int lk, rc = 0;

	*r = NULL;
	*n = 0;
	*bad = 0;
	if (_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if ((d = opendir(dir))) {
		while ((e = readdir(d))) {
			long at;

			if (!_rotated_name(e->d_name, &at))
				continue;
			if (nn == cn) {
				size_t c2 = cn ? cn * 2 : 16;
				void *m = realloc(names, c2 * sizeof(*names));

				if (!m)
					break;
				names = m;
				cn = c2;
			}
			snprintf(names[nn++], sizeof(*names), "%.31s",
				 e->d_name);
		}
		closedir(d);
	}
	/* the names sort as their times do */
	if (nn)
		qsort(names, nn, sizeof(*names),
		      (int (*)(const void *, const void *)) strcmp);
	/* the first file closed after SINCE holds SINCE (its head carries
	 * what was alive when it began) */
	for (first = 0; first < nn; first++) {
		long at;

		if (_rotated_name(names[first], &at) && at > since)
			break;
	}
	for (size_t i = first; i < nn && !rc; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		rc = _journal_load(path, r, n, &cap, bad);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_CURRENT);
	if (!rc)
		rc = _journal_load(path, r, n, &cap, bad);
	_unlock(lk);
	free(names);
	if (rc) {
		free(*r);
		*r = NULL;
		*n = 0;
	}
	return rc;
}

/* The current file's cut tail in bytes; with CUT, cut it. */
static long _journal_tail(const azml_conf_t *c, bool do_cut)
{
	char dir[4096], path[4200], err[512];
	int lk, fd;
	struct stat st;
	long cut = 0;

	if (_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_CURRENT);
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	fd = open(path, (do_cut ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	    st.st_size > 0) {
		/* from the end back to the last '\n': what follows it is cut */
		off_t end = st.st_size;
		char b;

		while (end > 0 && pread(fd, &b, 1, end - 1) == 1 && b != '\n')
			end--;
		cut = (long) (st.st_size - end);
		if (cut && do_cut && ftruncate(fd, end)) {
			azml_log_error("couldn't repair %s: %s", path,
				       strerror(errno));
			cut = -1;
		}
	} else if (fd < 0 && errno != ENOENT) {
		azml_log_error("couldn't open %s: %s", path, strerror(errno));
		cut = -1;
	}
	if (fd >= 0)
		close(fd);
	_unlock(lk);
	return cut;
}

long azml_state_journal_repair(const azml_conf_t *c)
{
	return _journal_tail(c, true);
}

long azml_state_journal_cut(const azml_conf_t *c)
{
	return _journal_tail(c, false);
}

/* ---- prices ---- */

#define PRICES_FILE "retail"
#define PRICES_MAX (1 << 20)

int azml_state_prices_save(const azml_conf_t *c, const char *text)
{
	char dir[4096], err[512];
	int lk, rc;

	if (_path(c, DIR_PRICES, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if ((rc = _write(dir, PRICES_FILE, text, strlen(text), err, sizeof(err))))
		azml_log_error("%s", err);
	_unlock(lk);
	return rc;
}

char *azml_state_prices_load(const azml_conf_t *c)
{
	char path[4200], *buf;

	if (_path(c, DIR_PRICES, PRICES_FILE, path, sizeof(path)) ||
	    !(buf = malloc(PRICES_MAX)))
		return NULL;
	if (_read(path, buf, PRICES_MAX) <= 0) {
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

	if (!_node_ok(target) || _path(c, DIR_IDLE, NULL, dir, sizeof(dir)))
		return -1;
	len = snprintf(rec, sizeof(rec), "%ld %ld\n", seconds, (long) time(NULL));
	if ((lk = _lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	if ((rc = _write(dir, target, rec, (size_t) len, err, sizeof(err))))
		azml_log_error("%s", err);
	_unlock(lk);
	return rc;
}

long azml_state_idle_get(const azml_conf_t *c, const char *target)
{
	char path[4200], buf[64];
	long v;

	if (!_node_ok(target) ||
	    _path(c, DIR_IDLE, target, path, sizeof(path)) ||
	    _read(path, buf, sizeof(buf)) <= 0 || sscanf(buf, "%ld", &v) != 1 ||
	    v < 1 || v > 86400)
		return 0;
	return v;
}

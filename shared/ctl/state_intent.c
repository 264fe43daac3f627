/*
 * state_intent.c - StateDir/intent: which process has a node's operation,
 * who waits for it, and the turn each gets (see state.h).
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
#include "state_int.h"

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
	if ((len = azml_state_read(path, buf, sizeof(buf))) <= 0)
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

	if (!azml_node_name_ok(node, 0)) {
		azml_errf(err, n,
			  "'%.100s' is not a node name StateDir can hold",
			  node ? node : "");
		return -1;
	}
	if (azml_state_path(c, DIR_INTENT, NULL, dir, dn)) {
		azml_state_path_why(c, err, n);
		return -1;
	}
	if ((lk = azml_state_lock(dir, err, n)) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, node);
	if (azml_state_read(path, buf, sizeof(buf)) < 0) {
		azml_errf(err, n, "couldn't read %s: %s", path,
			  errno ? strerror(errno) : "not a small regular file");
		azml_state_unlock(lk);
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

	return azml_state_write(dir, node, buf, (size_t) len, err, n);
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
	azml_state_unlock(lk);
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
		azml_state_unlock(lk);
		return AZML_TURN_SUPERSEDED;
	}
	if (in.owner.op) {
		_info(info, &in.owner);
		azml_state_unlock(lk);
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
	azml_state_unlock(lk);
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
	azml_state_unlock(lk);
	return rc;
}

bool azml_state_intent_active(const azml_conf_t *c, const char *node)
{
	char path[4200], buf[MAX_RECORD];
	intent_t in;

	if (!azml_node_name_ok(node, 0) ||
	    azml_state_path(c, DIR_INTENT, node, path, sizeof(path)) ||
	    azml_state_read(path, buf, sizeof(buf)) <= 0)
		return false;
	_parse(buf, &in);
	return (_alive(&in.owner) && time(NULL) <= in.owner.until) ||
	       _alive(&in.next);
}

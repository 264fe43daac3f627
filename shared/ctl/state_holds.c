/*
 * state_holds.c - StateDir/holds (a target Azure has no capacity for) and
 * StateDir/quota's usages cache (see state.h).
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

/* ---- a mix's sizes that met a capacity error ---- */

/* A VM size as a file name: letters, digits and '_' only. */
static bool _size_ok(const char *size)
{
	size_t n = size ? strlen(size) : 0;

	if (!n || n > 63)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) size[i]) && size[i] != '_')
			return false;
	return true;
}

void azml_state_size_miss(const azml_conf_t *c, const char *size)
{
	char dir[4096], err[512], buf[32];

	if (!_size_ok(size) ||
	    azml_state_path(c, DIR_MISSES, NULL, dir, sizeof(dir)))
		return;
	snprintf(buf, sizeof(buf), "%ld\n", (long) time(NULL));
	if (azml_state_write(dir, size, buf, strlen(buf), err, sizeof(err)))
		azml_log_error("%s", err);
}

long azml_state_size_missed(const azml_conf_t *c, const char *size)
{
	char path[4200], buf[MAX_RECORD];
	long at = 0;

	if (!_size_ok(size) ||
	    azml_state_path(c, DIR_MISSES, size, path, sizeof(path)) ||
	    azml_state_read(path, buf, sizeof(buf)) <= 0 ||
	    sscanf(buf, "%ld", &at) != 1 || at < 0)
		return 0;
	return at;
}

/* ---- capacity holds ---- */

/* T's hold record into *H: 1 read, 0 none, -1 unreadable. */
static int _hold_read(const azml_conf_t *c, const char *target,
		      azml_hold_t *h)
{
	char path[4200], buf[MAX_RECORD];
	int lifted = 0;
	ssize_t len;

	memset(h, 0, sizeof(*h));
	if (!azml_node_name_ok(target, 0) ||
	    azml_state_path(c, DIR_HOLDS, target, path, sizeof(path)))
		return -1;
	if ((len = azml_state_read(path, buf, sizeof(buf))) <= 0)
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
	if (azml_state_write(dir, target, buf, strlen(buf), err, sizeof(err))) {
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
	if (!t || !azml_node_name_ok(t->name, 0) ||
	    azml_state_path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	azml_state_unlock(lk);
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

	if (!t || azml_state_path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		return -1;
	}
	/* only a hold that is still over: a new one may have begun */
	if (_hold_read(c, t->name, &h) == 1 && !h.lifted &&
	    h.until <= (long) time(NULL)) {
		h.lifted = true;
		rc = _hold_write(c, dir, t->name, &h);
	}
	azml_state_unlock(lk);
	return rc;
}

void azml_state_hold_clear(const azml_conf_t *c, const azml_target_t *t)
{
	char dir[4096], path[4200], err[512];
	azml_hold_t h;
	int lk;

	if (!t || !azml_node_name_ok(t->name, 0) ||
	    azml_state_path(c, DIR_HOLDS, NULL, dir, sizeof(dir)))
		return;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	azml_state_unlock(lk);
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
	if (azml_state_read(path, buf, USAGES_MAX * 128) <= 0 ||
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

	if (azml_state_path(c, DIR_QUOTA, NULL, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, USAGES_FILE);
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	if (azml_state_write(dir, USAGES_FILE, buf, len, err, sizeof(err))) {
		azml_log_error("%s", err);
		rc = -1;
	}
	free(buf);
out:
	free(u);
	azml_state_unlock(lk);
	return rc;
}

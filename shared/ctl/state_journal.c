/*
 * state_journal.c - StateDir/journal: the lifecycle journal, appended,
 * rotated, read and repaired (see state.h and journal.h).
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
		azml_state_give(fd);
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
	if (azml_state_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)) ||
	    !(text = malloc(n * AZML_JLINE)))
		return -1;
	if (!(r = malloc(n * sizeof(*r)))) {
		free(text);
		return -1;
	}
	memcpy(r, rin, n * sizeof(*r));
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_CURRENT);
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	azml_state_unlock(lk);
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
	if (azml_state_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	azml_state_unlock(lk);
	free(names);
	if (rc) {
		free(*r);
		*r = NULL;
		*n = 0;
	}
	return rc;
}

/* The current file's cut tail in bytes; with DO_CUT, cut it. */
static long _journal_tail(const azml_conf_t *c, bool do_cut)
{
	char dir[4096], path[4200], err[512];
	int lk, fd;
	struct stat st;
	long cut = 0;

	if (azml_state_path(c, DIR_JOURNAL, NULL, dir, sizeof(dir)))
		return -1;
	snprintf(path, sizeof(path), "%s/%s", dir, JOURNAL_CURRENT);
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
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
	azml_state_unlock(lk);
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

/*
 * safefile.c - files and folders root may trust (see safefile.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "generate.h"
#include "safefile.h"

#define READ_MAX_DEFAULT (64 * 1024 * 1024)	/* MAX 0: still bounded */

uid_t azml_slurm_user_uid(void)
{
	static bool looked;
	static uid_t uid;
	char *v = NULL, *end;
	int line;

	if (looked)
		return uid;
	looked = true;
	uid = 0;
	if (azml_slurm_conf_param(azml_slurm_conf_path(), "SlurmUser", &v,
				  &line) == 1 && v && *v) {
		struct passwd *pw = getpwnam(v);
		unsigned long u = strtoul(v, &end, 10);

		if (pw)
			uid = pw->pw_uid;
		else if (!*end && u < (unsigned long) (uid_t) -1)
			uid = (uid_t) u;
	}
	free(v);
	return uid;
}

bool azml_owner_trusted(uid_t uid)
{
	return uid == 0 || uid == geteuid() || uid == azml_slurm_user_uid();
}

static const char *_user(uid_t uid, char *buf, size_t n)
{
	struct passwd *pw = getpwuid(uid);

	if (pw)
		snprintf(buf, n, "uid %u (%.32s)", (unsigned) uid, pw->pw_name);
	else
		snprintf(buf, n, "uid %u", (unsigned) uid);
	return buf;
}

static int _judge(const char *what, const char *path, const struct stat *st,
		  int flags, char *why, size_t n)
{
	bool root = flags & AZML_SAFE_ROOT;
	char who[64];

	if (root ? st->st_uid != 0 && st->st_uid != geteuid() :
		   !azml_owner_trusted(st->st_uid)) {
		snprintf(why, n, "%s%s is owned by %s, not by root%s; refused "
			 "(chown root %s)", what, path,
			 _user(st->st_uid, who, sizeof(who)),
			 root ? "" : " or SlurmUser", path);
		return -1;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(why, n, "%s%s is writable by its group or by others "
			 "(mode %04o); refused (chmod go-w %s)", what, path,
			 (unsigned) (st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int azml_stat_safe(const char *path, const struct stat *st, int flags,
		   char *why, size_t n)
{
	return _judge("", path, st, flags, why, n);
}

/* Judge folder P (lstat): 0 safe, 1 absent, -1 with WHY.  *LINKS is set
 * when P is a symbolic link (judged by its owner here; where it leads is
 * the caller's to judge). */
static int _one(const char *p, int flags, bool *links, char *why, size_t n)
{
	struct stat st;
	char who[64];

	if (lstat(p, &st)) {
		if (errno == ENOENT)
			return 1;
		snprintf(why, n, "couldn't examine folder %s: %s", p,
			 strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		*links = true;
		if (((flags & AZML_SAFE_ROOT) && st.st_uid &&
		     st.st_uid != geteuid()) || !azml_owner_trusted(st.st_uid)) {
			snprintf(why, n, "symbolic link %s is owned by %s; "
				 "refused", p, _user(st.st_uid, who,
						     sizeof(who)));
			return -1;
		}
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "%s is not a folder", p);
		return -1;
	}
	if (st.st_uid == 0 && (st.st_mode & S_ISVTX))
		return 0;	/* /tmp: no one may rename or remove ours */
	return _judge("folder ", p, &st, flags, why, n);
}

/* Judge "/" and every prefix folder of absolute DIR, DIR included.  A
 * prefix that does not exist ends the walk (nothing below it exists). */
static int _walk(const char *dir, int flags, bool *links, char *why, size_t n)
{
	char p[PATH_MAX];
	size_t len = strlen(dir);
	int rc;

	if (dir[0] != '/' || len >= sizeof(p)) {
		snprintf(why, n, "%.200s is not an absolute path", dir);
		return -1;
	}
	if ((rc = _one("/", flags, links, why, n)))
		return rc < 0 ? -1 : 0;
	memcpy(p, dir, len + 1);
	for (size_t i = 1; i <= len; i++) {
		char c = p[i];

		if ((c != '/' && c) || p[i - 1] == '/')
			continue;
		p[i] = '\0';
		rc = _one(p, flags, links, why, n);
		p[i] = c;
		if (rc)
			return rc < 0 ? -1 : 0;
	}
	return 0;
}

int azml_parents_safe(const char *path, int flags, char *why, size_t n)
{
	char dir[PATH_MAX], real[PATH_MAX];
	bool links = false;
	char *slash;

	if (!path || path[0] != '/' || strlen(path) >= sizeof(dir)) {
		snprintf(why, n, "%.200s is not an absolute path",
			 path ? path : "(null)");
		return -1;
	}
	strcpy(dir, path);
	while ((slash = strrchr(dir, '/')) && slash > dir && !slash[1])
		*slash = '\0';	/* "a/b/" is "a/b" */
	slash = strrchr(dir, '/');
	if (slash == dir)
		return _walk("/", flags, &links, why, n);
	*slash = '\0';
	if (_walk(dir, flags, &links, why, n))
		return -1;
	/* where the links lead is judged too (it has no link left) */
	if (links && realpath(dir, real) && _walk(real, flags, &links, why, n))
		return -1;
	return 0;
}

int azml_dir_safe(const char *path, int flags, bool *exists, char *why,
		  size_t n)
{
	struct stat st;
	char real[PATH_MAX];

	if (exists)
		*exists = false;
	if ((flags & AZML_SAFE_PARENTS) && azml_parents_safe(path, flags, why,
							     n))
		return -1;
	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		snprintf(why, n, "couldn't examine %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (S_ISLNK(st.st_mode)) {
		/* a link in a safe folder: judge where it leads, whole */
		if (!realpath(path, real)) {
			snprintf(why, n, "couldn't follow %s: %s", path,
				 strerror(errno));
			return -1;
		}
		return azml_dir_safe(real, flags, exists, why, n);
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(why, n, "%s is not a folder", path);
		return -1;
	}
	if (exists)
		*exists = true;
	return (flags & (AZML_SAFE_OWNER | AZML_SAFE_ROOT)) ?
		_judge("", path, &st, flags, why, n) : 0;
}

static const char *_kind(mode_t m)
{
	return S_ISDIR(m) ? "a folder" : S_ISFIFO(m) ? "a FIFO" :
	       S_ISSOCK(m) ? "a socket" : S_ISCHR(m) || S_ISBLK(m) ?
	       "a device" : "not a regular file";
}

int azml_open_regular(const char *path, int oflags, mode_t mode,
		      struct stat *st, char *why, size_t n)
{
	int fd = open(path, oflags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC, mode);
	int e;

	if (fd < 0) {
		e = errno;
		snprintf(why, n, "couldn't open %s: %s", path, e == ELOOP ?
			 "it is a symbolic link; refused" : strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, st)) {
		e = errno;
		snprintf(why, n, "couldn't examine %s: %s", path, strerror(e));
		close(fd);
		errno = e;
		return -1;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, n, "%s is %s; refused (only a regular file is "
			 "used)", path, _kind(st->st_mode));
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;
}

int azml_open_safe(const char *path, int flags, size_t max, struct stat *out,
		   char *why, size_t n)
{
	struct stat st;
	int fd, fl, e;

	if ((flags & AZML_SAFE_PARENTS) &&
	    azml_parents_safe(path, flags, why, n)) {
		errno = EPERM;
		return -1;
	}
	if ((fd = azml_open_regular(path, O_RDONLY, 0, &st, why, n)) < 0)
		return -1;
	e = EINVAL;
	if (max && (size_t) st.st_size > max) {
		snprintf(why, n, "%s is larger than %zu bytes; refused", path,
			 max);
		goto fail;
	}
	e = EPERM;
	if ((flags & (AZML_SAFE_OWNER | AZML_SAFE_ROOT)) &&
	    _judge("", path, &st, flags, why, n))
		goto fail;
	if ((fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK)) {
		e = errno;
		snprintf(why, n, "couldn't use %s: %s", path, strerror(e));
		goto fail;
	}
	if (out)
		*out = st;
	return fd;
fail:
	close(fd);
	errno = e;
	return -1;
}

int azml_read_safe(const char *path, int flags, size_t max, char **text,
		   size_t *len, char *why, size_t n)
{
	struct stat st;
	size_t cap, got = 0;
	char *buf;
	int fd = azml_open_safe(path, flags, max, &st, why, n);

	if (fd < 0)
		return -1;
	cap = max ? max : READ_MAX_DEFAULT;
	if ((size_t) st.st_size > cap) {
		snprintf(why, n, "%s is larger than %zu bytes; refused", path,
			 cap);
		close(fd);
		return -1;
	}
	/* what fstat said, and one more byte to see it did not grow */
	if (!(buf = malloc((size_t) st.st_size + 2))) {
		snprintf(why, n, "couldn't read %s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t) st.st_size + 1) {
		ssize_t r = read(fd, buf + got, (size_t) st.st_size + 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(why, n, "couldn't read %s: %s", path,
				 strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t) r;
	}
	close(fd);
	if (got > (size_t) st.st_size) {
		snprintf(why, n, "%s changed while it was read; refused", path);
		free(buf);
		return -1;
	}
	buf[got] = '\0';
	*text = buf;
	if (len)
		*len = got;
	return 0;
}

/*
 * state.c - intents and failure counts in StateDir (see state.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "state.h"

static void _path(const azml_conf_t *c, const char *kind, const char *node,
		  char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s", c->state_dir, kind, node);
}

int azml_state_init(const azml_conf_t *c, char *err, size_t n)
{
	static const char *dirs[] = { "", "/intent", "/failures" };
	char p[4096];

	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", c->state_dir, dirs[i]);
		if (mkdir(p, 0700) && errno != EEXIST) {
			if (err)
				snprintf(err, n, "couldn't create StateDir %s: %s",
					 p, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static pid_t _read_pid(const char *path)
{
	FILE *fp = fopen(path, "r");
	long pid = 0;

	if (!fp)
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return (pid_t) pid;
}

int azml_state_intent_active(const azml_conf_t *c, const char *node)
{
	char p[4096];
	pid_t pid;

	_path(c, "intent", node, p, sizeof(p));
	pid = _read_pid(p);
	return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

int azml_state_intent_begin(const azml_conf_t *c, const char *node,
			    const char *what)
{
	char p[4096];
	int fd;

	_path(c, "intent", node, p, sizeof(p));
	for (int tries = 0; tries < 2; tries++) {
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		if (fd >= 0) {
			dprintf(fd, "%ld %s %ld\n", (long) getpid(), what,
				(long) time(NULL));
			close(fd);
			return 0;
		}
		if (errno != EEXIST || azml_state_intent_active(c, node))
			return -1;
		unlink(p);	/* left by a program that died */
	}
	return -1;
}

void azml_state_intent_set_pid(const azml_conf_t *c, char **nodes, int n,
			       pid_t pid)
{
	char p[4096], tmp[4200];

	for (int i = 0; i < n; i++) {
		int fd;

		if (!nodes[i])
			continue;
		_path(c, "intent", nodes[i], p, sizeof(p));
		snprintf(tmp, sizeof(tmp), "%s.%ld", p, (long) pid);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0)
			continue;
		dprintf(fd, "%ld\n", (long) pid);
		close(fd);
		rename(tmp, p);
	}
}

void azml_state_intent_clear(const azml_conf_t *c, const char *node)
{
	char p[4096];

	_path(c, "intent", node, p, sizeof(p));
	unlink(p);
}

int azml_state_failure_add(const azml_conf_t *c, const char *node,
			   const char *code)
{
	char p[4096], tmp[4200], old[64] = "";
	FILE *fp;
	int count = 0, fd;

	_path(c, "failures", node, p, sizeof(p));
	if ((fp = fopen(p, "r"))) {
		if (fscanf(fp, "%d %63s", &count, old) < 1)
			count = 0;
		fclose(fp);
	}
	count++;
	snprintf(tmp, sizeof(tmp), "%s.%ld", p, (long) getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd >= 0) {
		dprintf(fd, "%d %s %ld\n", count, code && *code ? code : "-",
			(long) time(NULL));
		close(fd);
		rename(tmp, p);
	}
	return count;
}

void azml_state_failure_clear(const azml_conf_t *c, const char *node)
{
	char p[4096];

	_path(c, "failures", node, p, sizeof(p));
	unlink(p);
}

long azml_state_failure_age(const azml_conf_t *c, const char *node)
{
	char p[4096], code[64];
	FILE *fp;
	int count;
	long when = 0;

	_path(c, "failures", node, p, sizeof(p));
	if (!(fp = fopen(p, "r")))
		return -1;
	if (fscanf(fp, "%d %63s %ld", &count, code, &when) != 3)
		when = 0;
	fclose(fp);
	return (long) time(NULL) - when;
}

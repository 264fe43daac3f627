/*
 * state_pairs.c - StateDir/sets: which node is which VM of a scale set
 * (see state.h).
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
		   &since) != 5 ||
	    !azml_arm_resource_name_ok(vm) || !azml_node_name_ok(node, 0) ||
	    strlen(node) >= sizeof(p->node) || strlen(vm) >= sizeof(p->vm) ||
	    strlen(comp) >= sizeof(p->computer) ||
	    strlen(ip) >= sizeof(p->ip) || !azml_node_name_ok(comp, 0) ||
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
	    azml_state_path(c, DIR_SETS, NULL, dir, sizeof(dir))) {
		azml_log_error("StateDir: '%.80s' is not a scale set name", set);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, set);
	if (!(buf = malloc(cap)))
		return -1;
	if ((lk = azml_state_lock(dir, err, sizeof(err))) < 0) {
		azml_log_error("%s", err);
		free(buf);
		return -1;
	}
	if ((got = azml_state_read(path, buf, cap)) < 0) {
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
	else if (azml_state_write(dir, set, buf, len, err, sizeof(err))) {
		azml_log_error("%s", err);
		rc = -1;
	}
out:
	free(p);
	free(buf);
	azml_state_unlock(lk);
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

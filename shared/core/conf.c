/*
 * conf.c - the azureml.conf parser: lines, Include, keys, targets (see
 * conf.h; the key table and value checks are in conf_keys.c, the checks
 * across targets in conf_check.c, lookups in conf_lookup.c).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "conf.h"
#include "conf_int.h"
#include "gres.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "userdata.h"

/* ---------------------------------------------------------------------- */

/* Out of memory (log.h): what could not be kept is dropped, C->oom is set,
 * and azml_conf_load() returns NULL; nothing here aborts (slurmctld loads
 * this file inside job_submit). */
char *azml_conf_strdup(azml_conf_t *c, const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		c->oom = true;
	return d;
}

void azml_conf_err(parser_t *p, const char *file, int line, const char *fmt,
		   ...)
{
	azml_conf_t *c = p->conf;
	char msg[1024], *full, **more;
	va_list ap;
	int n;

	if (c->nerrors >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = asprintf(&full, "%s:%d: %s", file, line, msg);
	else
		n = asprintf(&full, "%s: %s", file, msg);
	if (n < 0) {
		c->oom = true;
		return;
	}
	if (!(more = realloc(c->errors, (c->nerrors + 1) * sizeof(*more)))) {
		free(full);
		c->oom = true;
		return;
	}
	c->errors = more;
	c->errors[c->nerrors++] = full;
}

/* A warning: the configuration stays usable (check-config prints it). */

void azml_conf_warn(parser_t *p, const char *file, int line, const char *fmt,
		    ...)
{
	azml_conf_t *c = p->conf;
	char msg[1024], *full, **more;
	va_list ap;

	if (c->nwarnings >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s:%d: warning: %s", file, line, msg) < 0) {
		c->oom = true;
		return;
	}
	if (!(more = realloc(c->warnings, (c->nwarnings + 1) * sizeof(*more)))) {
		free(full);
		c->oom = true;
		return;
	}
	c->warnings = more;
	c->warnings[c->nwarnings++] = full;
}

/* Copy V for a message: printable ASCII only, at most 64 bytes. */
const char *azml_conf_show(const char *v, char *buf, size_t n)
{
	size_t i, j;

	for (i = 0, j = 0; v[i] && j + 5 < n; i++) {
		unsigned char ch = v[i];

		if (i == 64) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		if (isprint(ch))
			buf[j++] = ch;
		else
			j += snprintf(buf + j, n - j, "\\x%02x", ch);
	}
	buf[j] = '\0';
	return buf;
}

const char *azml_conf_where_name(int where)
{
	switch (where) {
	case W_CLUSTER: return "ComputeCluster";
	case W_INSTANCE: return "ComputeInstance";
	case W_ATTACHED: return "AttachedCompute";
	default: return "a global line";
	}
}

/*
 * A key that is unknown (K NULL) or belongs on other lines than the one it
 * is on: KLEN bytes of WORD name it, ON says where it was ("on a global
 * line").  The message says where a known key belongs.
 */
static void _bad_key(parser_t *p, const keydef_t *k, const char *word,
		     size_t klen, const char *on, const char *file, int line)
{
	static const struct { int bit; const char *name; } lines[] = {
		{ W_GLOBAL, "global" }, { W_CLUSTER, "ComputeCluster" },
		{ W_INSTANCE, "ComputeInstance" }, { W_ATTACHED, "AttachedCompute" },
	};
	char key[80], shown[300], hint[160] = "";
	size_t len = 0, left = 0;

	snprintf(key, sizeof(key), "%.*s", (int) (klen > 64 ? 64 : klen), word);
	for (size_t i = 0; k && i < sizeof(lines) / sizeof(lines[0]); i++)
		left += !!(k->where & lines[i].bit);
	for (size_t i = 0; k && i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!(k->where & lines[i].bit))
			continue;
		len += snprintf(hint + len, sizeof(hint) - len, "%s%s",
				!len ? " (it belongs on " :
				left == 1 ? " and " : ", ", lines[i].name);
		left--;
	}
	if (len)
		snprintf(hint + len, sizeof(hint) - len, " lines)");
	azml_conf_err(p, file, line, "unknown key '%s' %s%s",
		      azml_conf_show(key, shown, sizeof(shown)), on, hint);
}

/* Split LINE into words in place; double quotes group, '#' starts a comment.
 * Returns the number of words, -1 on an unterminated quote, -2 when more
 * than MAX. */
static int _split(char *line, char **words, int max)
{
	int n = 0;
	char *s = line, *d;

	for (;;) {
		bool quoted = false;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return -2;
		words[n++] = d = s;
		while (*s && (quoted || (*s != ' ' && *s != '\t' && *s != '#'))) {
			if (*s == '"')
				quoted = !quoted;
			else
				*d++ = *s;
			s++;
		}
		if (quoted)
			return -1;
		if (*s == '#') {
			*d = '\0';
			return n;
		}
		if (*s)
			s++;
		*d = '\0';
	}
}

static void _parse_file(parser_t *p, const char *path, const char *from_file,
			int from_line);

static void _free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* A checked NAME[,NAME...] as a NULL-terminated array; NULL when out of
 * memory. */
static char **_split_names(const char *v)
{
	size_t count = 1, i = 0;
	char **names;

	for (const char *s = v; *s; s++)
		count += *s == ',';
	if (!(names = calloc(count + 1, sizeof(*names))))
		return NULL;
	for (const char *s = v;; s++) {
		size_t len = strcspn(s, ",");

		if (!(names[i++] = strndup(s, len))) {
			_free_names(names);
			return NULL;
		}
		s += len;
		if (!*s)
			return names;
	}
}

static int _set_value(parser_t *p, const keydef_t *k, void *base, size_t off,
		      const char *val, const char *file, int line)
{
	char why[256], shown[300];

	if (k->check && k->check(val, why, sizeof(why))) {
		azml_conf_err(p, file, line, "%s='%s': %s", k->name,
			      azml_conf_show(val, shown, sizeof(shown)), why);
		return -1;
	}
	switch (k->type) {
	case K_STR: {
		char **slot = (char **) ((char *) base + off);

		free(*slot);
		*slot = azml_conf_strdup(p->conf, val);
		return 0;
	}
	case K_NAMES: {
		char ***slot = (char ***) ((char *) base + off);

		_free_names(*slot);
		if (!(*slot = _split_names(val)))
			p->conf->oom = true;
		return 0;
	}
	case K_INT: {
		char *end;
		long v;

		/* IdleSecondsBeforeScaledown=auto: reconcile learns it (cost.h);
		 * until it has, AZML_IDLE_AUTO_START */
		bool idle = !strcmp(k->name, "IdleSecondsBeforeScaledown");

		if (idle && !strcmp(val, "auto")) {
			((azml_target_t *) base)->idle_auto = true;
			*(int *) ((char *) base + off) = AZML_IDLE_AUTO_START;
			return 0;
		}
		errno = 0;
		v = strtol(val, &end, 10);
		if (!isdigit((unsigned char) val[0]) || *end || errno ||
		    v < k->lo || v > k->hi) {
			azml_conf_err(p, file, line,
				      "%s='%s': expected a whole number "
				      "from %d to %d%s",
				      k->name, azml_conf_show(val, shown, sizeof(shown)),
				      k->lo, k->hi, idle ? ", or auto" : "");
			return -1;
		}
		if (idle)
			((azml_target_t *) base)->idle_auto = false;
		*(int *) ((char *) base + off) = (int) v;
		return 0;
	}
	case K_BOOL: {
		bool *slot = (bool *) ((char *) base + off);

		if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") ||
		    !strcmp(val, "1"))
			*slot = true;
		else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") ||
			 !strcmp(val, "0"))
			*slot = false;
		else {
			azml_conf_err(p, file, line,
				      "%s='%s': expected yes or no", k->name,
				      azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_PRIO: {
		azml_priority_t *slot = (azml_priority_t *) ((char *) base + off);

		if (!strcasecmp(val, "Dedicated"))
			*slot = AZML_DEDICATED;
		else if (!strcasecmp(val, "LowPriority"))
			*slot = AZML_LOW_PRIORITY;
		else {
			azml_conf_err(p, file, line,
				      "Priority='%s': expected Dedicated "
				      "or LowPriority",
				      azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_PROV: {
		azml_provisioning_t *slot = (azml_provisioning_t *)
					    ((char *) base + off);

		if (!strcasecmp(val, "VirtualMachines"))
			*slot = AZML_PROV_VMS;
		else if (!strcasecmp(val, "ScaleSet"))
			*slot = AZML_PROV_SCALE_SET;
		else {
			azml_conf_err(p, file, line,
				      "Provisioning='%s': expected "
				      "VirtualMachines or ScaleSet",
				      azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_ALLOC: {
		azml_alloc_t *slot = (azml_alloc_t *) ((char *) base + off);

		if (!strcasecmp(val, "LowestPrice"))
			*slot = AZML_ALLOC_LOWEST_PRICE;
		else if (!strcasecmp(val, "CapacityOptimized"))
			*slot = AZML_ALLOC_CAPACITY_OPTIMIZED;
		else if (!strcasecmp(val, "Prioritized"))
			*slot = AZML_ALLOC_PRIORITIZED;
		else {
			azml_conf_err(p, file, line,
				      "AllocationStrategy='%s': expected "
				      "LowestPrice, CapacityOptimized or "
				      "Prioritized",
				      azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_SCALING: {
		azml_scaling_t *slot = (azml_scaling_t *) ((char *) base + off);

		if (!strcasecmp(val, "AllOrNothing"))
			*slot = AZML_SCALING_ALL_OR_NOTHING;
		else if (!strcasecmp(val, "BestEffort"))
			*slot = AZML_SCALING_BEST_EFFORT;
		else {
			azml_conf_err(p, file, line,
				      "JobScaling='%s': expected AllOrNothing "
				      "or BestEffort",
				      azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_CRED: {
		azml_conf_t *c = p->conf;

		if (!strcasecmp(val, "managed-identity")) {
			c->credential = AZML_CRED_MANAGED_IDENTITY;
		} else if (!strcasecmp(val, "env")) {
			c->credential = AZML_CRED_ENV;
		} else if (!strncasecmp(val, "client-secret:", 14)) {
			if (azml_conf_check_abs_path(val + 14, why,
						     sizeof(why))) {
				azml_conf_err(p, file, line,
					      "Credential='%s': the secret "
					      "file: %s",
					      azml_conf_show(val, shown, sizeof(shown)),
					      why);
				return -1;
			}
			c->credential = AZML_CRED_CLIENT_SECRET;
			free(c->secret_file);
			c->secret_file = azml_conf_strdup(c, val + 14);
		} else {
			azml_conf_err(
				p, file, line,
				"Credential='%s': expected "
				"managed-identity, client-secret:/PATH or env",
				azml_conf_show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

static void _target_free(azml_target_t *t)
{
	free(t->name); free(t->vm_size); free(t->nodes);
	for (size_t i = 0; i < t->nmix; i++)
		free(t->mix[i]);
	free(t->gres); free(t->gpu_type); free(t->cuda);
	free(t->image); free(t->subnet);
	free(t->admin_user); free(t->ssh_public_key);
	free(t->zone); free(t->tags); free(t->file); free(t->ppg); free(t->avset);
	free(t->slurmctld_host); free(t->munge_key_secret);
	free(t->job_identity);
	free(t->identity); free(t->node_setup_script);
	free(t->health_checks); free(t->health_check_script);
	_free_names(t->fallback);
}

/* The kind of target a line starts with (KEY is KLEN long); returns the
 * W_* mask of the keys allowed on it. */
static int _target_kind(azml_target_t *t, const char *key, size_t klen)
{
	if (klen == 14 && !strncasecmp(key, "ComputeCluster", 14)) {
		t->kind = AZML_CLUSTER;
		return W_CLUSTER;
	}
	if (klen == 15 && !strncasecmp(key, "ComputeInstance", 15)) {
		t->kind = AZML_INSTANCE;
		t->max_nodes = 1;
		return W_INSTANCE;
	}
	t->kind = AZML_ATTACHED;
	return W_ATTACHED;
}

/* NAME is valid and no other target's.  Returns 0, or -1 after saying why. */
static int _target_name(parser_t *p, int where, const char *name,
			const char *file, int line)
{
	azml_conf_t *c = p->conf;
	char why[256], shown[300];

	if (azml_conf_check_target_name(name, why, sizeof(why))) {
		azml_conf_err(p, file, line, "%s='%s': %s",
			      azml_conf_where_name(where),
			      azml_conf_show(name, shown, sizeof(shown)), why);
		return -1;
	}
	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcasecmp(c->targets[i].name, name)) {
			azml_conf_err(p, file, line,
				      "duplicate compute target '%s' "
				      "(first defined at %s:%d)",
				      name, c->targets[i].file,
				      c->targets[i].line);
			return -1;
		}
	return 0;
}

/*
 * The Key=Value words of a target line after its first; SEEN gets a bit per
 * key given.  Returns false when any word is bad (each said), true otherwise.
 */
static bool _target_words(parser_t *p, azml_target_t *t, int where,
			  char **words, int nwords, unsigned long long *seen,
			  const char *file, int line)
{
	char shown[300];
	bool ok = true;

	for (int w = 1; w < nwords; w++) {
		const char *weq = strchr(words[w], '=');
		const keydef_t *k;
		size_t idx;

		if (!weq || weq == words[w]) {
			azml_conf_err(p, file, line, "'%s': expected Key=Value",
				      azml_conf_show(words[w], shown, sizeof(shown)));
			ok = false;
			continue;
		}
		k = azml_conf_find_key(words[w], weq - words[w], &idx);
		if (!k || !(k->where & where)) {
			char on[80];

			snprintf(on, sizeof(on), "for %s '%s'",
				 azml_conf_where_name(where), t->name);
			_bad_key(p, k, words[w], weq - words[w], on, file,
				 line);
			ok = false;
			continue;
		}
		if (*seen & (1ULL << idx)) {
			azml_conf_err(p, file, line, "%s given twice for '%s'",
				      k->name, t->name);
			ok = false;
			continue;
		}
		*seen |= 1ULL << idx;
		if (_set_value(p, k, t, k->toff, weq + 1, file, line))
			ok = false;
	}
	return ok;
}

/* A cluster's MaxNodes= given (SEEN: the keys given), MinNodes not above it. */
static bool _check_cluster_size(parser_t *p, const azml_target_t *t,
				unsigned long long seen, const char *file,
				int line)
{
	size_t maxidx = 0;

	azml_conf_find_key("MaxNodes", 8, &maxidx);
	if (!(seen & (1ULL << maxidx))) {
		azml_conf_err(p, file, line,
			      "ComputeCluster '%s' needs MaxNodes=", t->name);
		return false;
	}
	if (t->max_nodes && t->min_nodes > t->max_nodes) {
		azml_conf_err(p, file, line,
			      "MinNodes=%d is more than MaxNodes=%d",
			      t->min_nodes, t->max_nodes);
		return false;
	}
	return true;
}

/* An attached target's Nodes=: a hostlist of 1 to MAX_NODES nodes. */
static bool _attached_nodes(parser_t *p, azml_target_t *t, const char *file,
			    int line)
{
	azml_hostlist_t hl = NULL;
	char shown[300];
	bool ok = false;

	if (!t->nodes) {
		azml_conf_err(p, file, line,
			      "AttachedCompute '%s' needs Nodes=", t->name);
		return false;
	}
	if (azml_conf_hostlist_syntax(t->nodes))
		hl = slurm_hostlist_create(t->nodes);
	if (!hl || slurm_hostlist_count(hl) < 1 ||
	    slurm_hostlist_count(hl) > MAX_NODES) {
		azml_conf_err(p, file, line,
			      "Nodes='%s': expected a Slurm hostlist "
			      "like lab[01-04] (at most %d nodes)",
			      azml_conf_show(t->nodes, shown, sizeof(shown)), MAX_NODES);
	} else {
		t->node_count = slurm_hostlist_count(hl);
		ok = true;
	}
	if (hl)
		slurm_hostlist_destroy(hl);
	return ok;
}

/* The nodes of T: Nodes= checked (attached), else named after T. */
static bool _target_nodes(parser_t *p, azml_target_t *t, const char *file,
			  int line)
{
	if (t->kind == AZML_ATTACHED)
		return _attached_nodes(p, t, file, line);
	if (t->kind == AZML_CLUSTER && t->max_nodes > 0) {
		int n = t->max_nodes == 1 ?
			asprintf(&t->nodes, "%s-1", t->name) :
			asprintf(&t->nodes, "%s-[1-%d]", t->name, t->max_nodes);
		if (n < 0) {
			t->nodes = NULL;
			p->conf->oom = true;
			return false;
		}
		t->node_count = t->max_nodes;
	} else if (t->kind == AZML_INSTANCE) {
		if (!(t->nodes = azml_conf_strdup(p->conf, t->name)))
			return false;
		t->node_count = 1;
	}
	return true;
}

/*
 * A ComputeCluster=, ComputeInstance= or AttachedCompute= line: its kind,
 * its name, its words, then the rules on the whole target.  A good target is
 * added to the configuration; a bad one is dropped, each problem said.
 */
static void _target_line(parser_t *p, char **words, int nwords,
			 const char *file, int line)
{
	azml_conf_t *c = p->conf;
	azml_target_t t, *more;
	const char *eq = strchr(words[0], '=');
	unsigned long long seen = 0;
	bool bad = false;
	int where;

	memset(&t, 0, sizeof(t));
	t.idle_seconds = 120;
	t.capacity_backoff = -1;	/* not set */
	t.replace_limit = -1;
	where = _target_kind(&t, words[0], eq - words[0]);
	if (_target_name(p, where, eq + 1, file, line))
		return;
	t.name = azml_conf_strdup(c, eq + 1);
	t.file = azml_conf_strdup(c, file);
	t.line = line;
	if (!t.name || !t.file) {
		_target_free(&t);
		return;
	}

	if (!_target_words(p, &t, where, words, nwords, &seen, file, line))
		bad = true;
	/* Whole-target rules. */
	if (t.kind != AZML_ATTACHED && !azml_conf_target_sizes(p, &t, file, line))
		bad = true;
	else if (t.kind == AZML_CLUSTER && !azml_conf_target_mix(p, &t, seen, file, line))
		bad = true;
	if (t.kind == AZML_CLUSTER &&
	    !_check_cluster_size(p, &t, seen, file, line))
		bad = true;
	if (!_target_nodes(p, &t, file, line))
		bad = true;
	if (!bad && !azml_conf_target_gpus(p, &t, file, line))
		bad = true;
	if (bad) {
		_target_free(&t);
		return;
	}
	if (!(more = realloc(c->targets, (c->ntargets + 1) * sizeof(t)))) {
		_target_free(&t);
		c->oom = true;
		return;
	}
	c->targets = more;
	c->targets[c->ntargets++] = t;
}

/* Remember where a global file key was set (azml_conf_check_files). */
static void _where(azml_conf_t *c, size_t off, const char *file, int line)
{
	char **slot = off == G(state_dir) ? &c->state_dir_at :
		      off == G(log_file) ? &c->log_file_at :
		      off == G(prices) ? &c->prices_at :
		      off == G(ssh_public_key) ? &c->ssh_public_key_at :
		      off == G(ca_bundle) ? &c->ca_bundle_at : NULL;

	if (!slot)
		return;
	free(*slot);
	if (asprintf(slot, "%s:%d", file, line) < 0) {
		*slot = NULL;
		c->oom = true;
	}
}

static void _global_line(parser_t *p, char **words, int nwords,
			 const char *file, int line)
{
	char shown[300];

	for (int w = 0; w < nwords; w++) {
		const char *weq = strchr(words[w], '=');
		const keydef_t *k;
		size_t idx;

		if (!weq || weq == words[w]) {
			azml_conf_err(p, file, line, "'%s': expected Key=Value",
				      azml_conf_show(words[w], shown, sizeof(shown)));
			continue;
		}
		if (weq - words[w] == 7 && !strncasecmp(words[w], "Include", 7)) {
			_parse_file(p, weq + 1, file, line);
			continue;
		}
		k = azml_conf_find_key(words[w], weq - words[w], &idx);
		if (!k || !(k->where & W_GLOBAL)) {
			_bad_key(p, k, words[w], weq - words[w],
				 "on a global line", file, line);
			continue;
		}
		/* A bad value is reported as such; a good one set twice too. */
		if (_set_value(p, k, p->conf, k->goff, weq + 1, file, line) == 0 &&
		    (p->gset & (1ULL << idx)))
			azml_conf_err(p, file, line, "%s is set twice",
				      k->name);
		_where(p->conf, k->goff, file, line);
		p->gset |= 1ULL << idx;
	}
}

static void _parse_line(parser_t *p, char *buf, const char *file, int line)
{
	char *words[128];
	int n;

	for (unsigned char *s = (unsigned char *) buf; *s; s++)
		if ((*s < 0x20 && *s != '\t') || *s >= 0x7f) {
			azml_conf_err(p, file, line,
				      "invalid byte 0x%02x: azureml.conf "
				      "is ASCII text",
				      *s);
			return;
		}
	/* "Include FILE", as in slurm.conf */
	if (!strncasecmp(buf, "Include", 7) && (buf[7] == ' ' || buf[7] == '\t')) {
		n = _split(buf + 8, words, 2);
		if (n != 1) {
			azml_conf_err(p, file, line,
				      "Include takes one file name");
			return;
		}
		_parse_file(p, words[0], file, line);
		return;
	}
	n = _split(buf, words, 128);
	if (n == -1) {
		azml_conf_err(p, file, line, "unterminated quote");
		return;
	}
	if (n == -2) {
		azml_conf_err(p, file, line, "too many words on one line");
		return;
	}
	if (n == 0)
		return;
	if (!strncasecmp(words[0], "ComputeCluster=", 15) ||
	    !strncasecmp(words[0], "ComputeInstance=", 16) ||
	    !strncasecmp(words[0], "AttachedCompute=", 16))
		_target_line(p, words, n, file, line);
	else
		_global_line(p, words, n, file, line);
}

static void _parse_stream(parser_t *p, FILE *fp, const char *file)
{
	char *buf = NULL, *acc = NULL;
	size_t cap = 0, acclen = 0;
	ssize_t len;
	int line = 0, start = 0;

	while (!p->conf->oom && (len = getline(&buf, &cap, fp)) >= 0) {
		char *more;

		line++;
		if (memchr(buf, '\0', len)) {
			azml_conf_err(p, file, line,
				      "NUL byte: azureml.conf is ASCII text");
			acclen = 0;
			continue;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (acclen + len > MAX_LINE) {
			azml_conf_err(p, file, start ? start : line,
				      "line longer than %d bytes", MAX_LINE);
			acclen = 0;
			start = 0;
			continue;
		}
		if (!acclen)
			start = line;
		if (!(more = realloc(acc, acclen + len + 2))) {
			p->conf->oom = true;
			break;
		}
		acc = more;
		memcpy(acc + acclen, buf, len + 1);
		acclen += len;
		/* A trailing backslash continues the line. */
		if (acclen && acc[acclen - 1] == '\\') {
			acc[acclen - 1] = ' ';
			continue;
		}
		_parse_line(p, acc, file, start);
		acclen = 0;
	}
	if (acclen && !p->conf->oom)
		_parse_line(p, acc, file, start);
	free(acc);
	free(buf);
}

/* Remember PATH among the files this configuration comes from. */
static void _note_file(azml_conf_t *c, const char *path)
{
	char **more;

	for (size_t i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i], path))
			return;
	if (!(more = realloc(c->files, (c->nfiles + 1) * sizeof(*more)))) {
		c->oom = true;
		return;
	}
	c->files = more;
	if ((c->files[c->nfiles] = azml_conf_strdup(c, path)))
		c->nfiles++;
}

static void _parse_file(parser_t *p, const char *path, const char *from_file,
			int from_line)
{
	char *full = NULL, *dir, *tmp;
	FILE *fp;

	if (from_file && path[0] != '/') {
		if ((tmp = azml_conf_strdup(p->conf, from_file))) {
			dir = dirname(tmp);
			if (asprintf(&full, "%s/%s", dir, path) < 0) {
				full = NULL;
				p->conf->oom = true;
			}
			free(tmp);
		}
	} else {
		full = azml_conf_strdup(p->conf, path);
	}
	if (!full)
		return;
	if (p->depth >= MAX_INCLUDE) {
		azml_conf_err(p, from_file, from_line,
			      "Include nested more than %d deep", MAX_INCLUDE);
		goto out;
	}
	for (int i = 0; i < p->depth; i++)
		if (!strcmp(p->include_stack[i], full)) {
			azml_conf_err(p, from_file, from_line,
				      "Include of '%s' loops "
				      "back to a file being read",
				      full);
			goto out;
		}
	_note_file(p->conf, full);
	fp = fopen(full, "r");
	if (!fp) {
		if (from_file)
			azml_conf_err(p, from_file, from_line,
				      "cannot read '%s': %s", full,
				      strerror(errno));
		else
			azml_conf_err(p, full, 0, "cannot read: %s",
				      strerror(errno));
		goto out;
	}
	p->include_stack[p->depth++] = full;
	_parse_stream(p, fp, full);
	p->depth--;
	fclose(fp);
out:
	free(full);
}

static azml_conf_t *_new(const char *path)
{
	azml_conf_t *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (path && !(c->path = strdup(path))) {
		free(c);
		return NULL;
	}
	c->capacity_backoff = -1;	/* not set */
	c->health_check_interval = -1;
	c->replace_limit = -1;
	return c;
}

char *azml_conf_default_path(void)
{
	const char *env = getenv("AZUREML_CONF");
	const char *slurm_conf = getenv("SLURM_CONF");
	char *tmp, *out;

	if (env && *env)
		return strdup(env);
	if (!slurm_conf || !*slurm_conf)
		return strdup("/etc/slurm/azureml.conf");
	if (!(tmp = strdup(slurm_conf)))
		return NULL;
	if (asprintf(&out, "%s/azureml.conf", dirname(tmp)) < 0)
		out = NULL;
	free(tmp);
	return out;
}

azml_conf_t *azml_conf_load(const char *path)
{
	char *dflt = path ? NULL : azml_conf_default_path();
	azml_conf_t *c = path || dflt ? _new(path ? path : dflt) : NULL;
	parser_t p = { .conf = c };

	if (c) {
		size_t before = c->nerrors;

		_parse_file(&p, c->path, NULL, 0);
		/* An unreadable file says so once, not once per missing key. */
		if (!c->oom &&
		    (c->nerrors == before || c->ntargets || p.gset))
			azml_conf_finish(&p, c->path);
	}
	free(dflt);
	if (c && c->oom) {
		azml_conf_destroy(c);
		return NULL;
	}
	return c;
}

azml_conf_t *azml_conf_load_string(const char *text, const char *name)
{
	azml_conf_t *c = _new(name);
	parser_t p = { .conf = c };
	FILE *fp;

	if (!c)
		return NULL;
	fp = fmemopen((void *) text, strlen(text), "r");
	if (!fp) {
		azml_conf_destroy(c);
		return NULL;
	}
	p.include_stack[p.depth++] = name;
	_parse_stream(&p, fp, name);
	fclose(fp);
	if (!c->oom)
		azml_conf_finish(&p, name);
	if (c->oom) {
		azml_conf_destroy(c);
		return NULL;
	}
	return c;
}

void azml_conf_destroy(azml_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntargets; i++)
		_target_free(&c->targets[i]);
	free(c->targets);
	for (size_t i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	free(c->errors);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->path); free(c->cluster_name); free(c->subscription_id);
	free(c->resource_group); free(c->location); free(c->arm_endpoint);
	free(c->authority_host); free(c->imds_endpoint); free(c->secret_file);
	free(c->tenant_id); free(c->client_id); free(c->ca_bundle);
	free(c->cloud);
	free(c->state_dir_at); free(c->log_file_at);
	free(c->prices_at); free(c->ssh_public_key_at); free(c->ca_bundle_at);
	free(c->log_file); free(c->state_dir); free(c->image);
	free(c->prices); free(c->prices_endpoint);
	free(c->subnet); free(c->admin_user); free(c->ssh_public_key);
	free(c->slurmctld_host); free(c->munge_key_secret);
	free(c->job_identity);
	free(c->identity); free(c->node_setup_script);
	free(c->health_checks); free(c->health_check_script);
	free(c->metrics_dir);
	free(c);
}

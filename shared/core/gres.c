/*
 * gres.c - Gres= specifications and gres.conf File= devices (see gres.h).
 *
 * The parser walks the string in place with pointers and lengths: no copy
 * into a fixed buffer, no strtok, no allocation, so that every input is
 * either accepted whole or refused with its reason.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm.h>

#include "gres.h"
#include "log.h"
#include "slurm_compat.h"

#define SHOW_MAX	40	/* characters of a user's field in a message */
#define LINE_MAX_GRES	4096	/* gres.conf line, with its newline */

/* S[0..LEN) for a message: printable, '\xNN' otherwise, at most SHOW_MAX. */
static const char *_show(const char *s, size_t len, char *buf, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < len && j + 5 < n; i++) {
		unsigned char ch = s[i];

		if (i == SHOW_MAX) {
			snprintf(buf + j, n - j, "...");
			return buf;
		}
		if (isprint(ch) && ch != '\'')
			buf[j++] = ch;
		else
			j += snprintf(buf + j, n - j, "\\x%02x", ch);
	}
	buf[j] = '\0';
	return buf;
}

/* A field: S[0..LEN). */
typedef struct {
	const char *s;
	size_t len;
} field_t;

static bool _is(const field_t *f, const char *word)
{
	return f->len == strlen(word) && !strncasecmp(f->s, word, f->len);
}

/* Digits with at most one K/M/G/T/P suffix. */
static bool _count_like(const field_t *f)
{
	size_t i = 0;

	while (i < f->len && isdigit((unsigned char) f->s[i]))
		i++;
	if (i == 0)
		return false;
	if (i + 1 == f->len && strchr("KMGTPkmgtp", f->s[i]))
		i++;
	return i == f->len;
}

/* A count-like field's value; -1 when it does not fit in an int64. */
static int _count(const field_t *f, uint64_t *out)
{
	const uint64_t lim = INT64_MAX;
	uint64_t v = 0;
	size_t i;
	int shift = 0;

	for (i = 0; i < f->len && isdigit((unsigned char) f->s[i]); i++) {
		unsigned d = f->s[i] - '0';

		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (i < f->len)
		shift = 10 * (int) (strchr("kmgtp", tolower((unsigned char)
						    f->s[i])) - "kmgtp" + 1);
	if (shift && v > (lim >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static bool _name_ok(const field_t *f)
{
	if (!f->len || f->len >= sizeof(((azml_gres_ent_t *) 0)->name) ||
	    !islower((unsigned char) f->s[0]))
		return false;
	for (size_t i = 0; i < f->len; i++) {
		unsigned char c = f->s[i];

		if (!islower(c) && !isdigit(c) && c != '_')
			return false;
	}
	return true;
}

static bool _type_ok(const field_t *f)
{
	if (!f->len || f->len >= sizeof(((azml_gres_ent_t *) 0)->type) ||
	    !isalnum((unsigned char) f->s[0]))
		return false;
	for (size_t i = 0; i < f->len; i++) {
		unsigned char c = f->s[i];

		if (!isalnum(c) && !strchr("_-.", c))
			return false;
	}
	return true;
}

/* "(S:0-1)", "(S:0,1)": what scontrol shows. */
static bool _sockets_ok(const char *s, size_t len)
{
	if (len < 5 || strncmp(s, "(S:", 3) || s[len - 1] != ')')
		return false;
	for (size_t i = 3; i < len - 1; i++)
		if (!isdigit((unsigned char) s[i]) && s[i] != ',' && s[i] != '-')
			return false;
	return true;
}

/* The end of the entry starting at S: the next ',' outside parentheses. */
static const char *_entry_end(const char *s)
{
	int depth = 0;

	for (; *s; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && depth > 0)
			depth--;
		else if (*s == ',' && depth == 0)
			break;
	}
	return s;
}

/* Parse the entry S[0..LEN) into *E.  Returns 0, or -1 with ERR. */
static int _entry(const char *s, size_t len, azml_gres_ent_t *e, char *err,
		  size_t errlen)
{
	field_t f[4];
	size_t nf = 0, last, core = len;
	const char *paren = memchr(s, '(', len);
	char shown[200];
	bool counted = false;

	memset(e, 0, sizeof(*e));
	e->count = 1;
	if (!len) {
		azml_errf(err, errlen,
			  "an empty entry (',' at the start, at the end "
			  "or twice)");
		return -1;
	}
	if (paren) {
		core = paren - s;
		if (!_sockets_ok(paren, len - core)) {
			azml_errf(
				err, errlen,
				"'%s' is not a socket binding like "
				"(S:0-1)",
				_show(paren, len - core, shown, sizeof(shown)));
			return -1;
		}
		e->sockets = true;
	}
	for (size_t i = 0, start = 0; i <= core; i++) {
		if (i < core && s[i] != ':')
			continue;
		if (nf == 4) {
			azml_errf(err, errlen, "'%s': too many ':' fields",
				  _show(s, len, shown, sizeof(shown)));
			return -1;
		}
		f[nf].s = s + start;
		f[nf].len = i - start;
		if (!f[nf].len) {
			azml_errf(err, errlen,
				  "'%s': an entry has an empty field",
				  _show(s, len, shown, sizeof(shown)));
			return -1;
		}
		nf++;
		start = i + 1;
	}
	if (!_name_ok(&f[0])) {
		azml_errf(err, errlen,
			  "'%s' is not a gres name (lower-case letters, "
			  "digits and '_', starting with a letter)",
			  _show(f[0].s, f[0].len, shown, sizeof(shown)));
		return -1;
	}
	memcpy(e->name, f[0].s, f[0].len);
	last = nf - 1;
	if (last >= 1 && _count_like(&f[last])) {
		if (_count(&f[last], &e->count) < 0) {
			azml_errf(err, errlen,
				  "'%s' is not a count (too large)",
				  _show(f[last].s, f[last].len, shown,
					sizeof(shown)));
			return -1;
		}
		counted = true;
		last--;
	}
	if (last >= 1 && _is(&f[last], "no_consume")) {
		e->no_consume = true;
		last--;
	}
	if (last > 1) {
		if (counted)
			azml_errf(err, errlen, "'%s': too many ':' fields",
				  _show(s, len, shown, sizeof(shown)));
		else
			azml_errf(err, errlen, "'%s' is not a count",
				  _show(f[nf - 1].s, f[nf - 1].len, shown,
					sizeof(shown)));
		return -1;
	}
	if (last == 1) {
		if (!_type_ok(&f[1])) {
			azml_errf(
				err, errlen,
				"'%s' is not a type (letters, digits, "
				"'_', '-' and '.')",
				_show(f[1].s, f[1].len, shown, sizeof(shown)));
			return -1;
		}
		if (_count_like(&f[1])) {
			azml_errf(err, errlen,
				  "'%s': the count comes last, after "
				  "the type and no_consume",
				  _show(s, len, shown, sizeof(shown)));
			return -1;
		}
		memcpy(e->type, f[1].s, f[1].len);
	}
	return 0;
}

int azml_gres_parse(const char *spec, azml_gres_t *g, char *err,
		    size_t errlen)
{
	azml_gres_t t;
	const char *s = spec;

	memset(&t, 0, sizeof(t));
	if (!spec) {
		*g = t;
		return 0;
	}
	if (strnlen(spec, AZML_GRES_MAX_LEN + 1) > AZML_GRES_MAX_LEN) {
		azml_errf(err, errlen, "longer than %d characters",
			  AZML_GRES_MAX_LEN);
		return -1;
	}
	if (!*spec) {
		azml_errf(err, errlen, "empty");
		return -1;
	}
	for (;;) {
		const char *end = _entry_end(s);
		azml_gres_ent_t e, *m = NULL;

		if (_entry(s, end - s, &e, err, errlen) < 0)
			return -1;
		for (size_t i = 0; i < t.n && !m; i++)
			if (!strcmp(t.ent[i].name, e.name) &&
			    !strcasecmp(t.ent[i].type, e.type))
				m = &t.ent[i];
		if (m) {
			if (m->count > INT64_MAX - e.count) {
				azml_errf(err, errlen,
					  "the %s%s%s counts add up to "
					  "more than a count can be",
					  e.name, e.type[0] ? ":" : "", e.type);
				return -1;
			}
			m->count += e.count;
			m->no_consume |= e.no_consume;
			m->sockets |= e.sockets;
		} else if (t.n == AZML_GRES_MAX_ENTRIES) {
			azml_errf(err, errlen, "more than %d different entries",
				  AZML_GRES_MAX_ENTRIES);
			return -1;
		} else {
			m = &t.ent[t.n++];
			*m = e;
			if (azml_gres_is_gpu(m)) {
				if (m->type[0])
					t.gpu_types++;
				else
					t.gpu_untyped = true;
			}
		}
		if (azml_gres_is_gpu(&e)) {
			if (e.count > (uint64_t) (AZML_GRES_MAX_GPUS - t.gpus)) {
				azml_errf(err, errlen, "more than %d GPUs",
					  AZML_GRES_MAX_GPUS);
				return -1;
			}
			t.gpus += (long) e.count;
		}
		if (!*end)
			break;
		s = end + 1;
	}
	*g = t;
	return 0;
}

bool azml_gres_is_gpu(const azml_gres_ent_t *ent)
{
	return !strcmp(ent->name, "gpu");
}

int azml_gres_check_node(const azml_gres_t *g, char *why, size_t n)
{
	for (size_t i = 0; i < g->n; i++) {
		const azml_gres_ent_t *e = &g->ent[i];

		if (e->count == 0) {
			azml_errf(why, n,
				  "%s%s%s has a count of 0 (leave it out)",
				  e->name, e->type[0] ? ":" : "", e->type);
			return -1;
		}
		if (e->sockets) {
			azml_errf(why, n,
				  "'(S:...)' is how scontrol shows a socket "
				  "binding; bind devices to sockets with "
				  "gres.conf Cores=");
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(g->ent[j].name, e->name) &&
			    !g->ent[j].type[0] != !e->type[0]) {
				azml_errf(why, n,
					  "%s is given both with and without "
					  "a type, which Slurm refuses",
					  e->name);
				return -1;
			}
	}
	return 0;
}

const char *azml_gres_gpu_type(const azml_gres_t *g)
{
	if (g->gpu_types != 1 || g->gpu_untyped)
		return NULL;
	for (size_t i = 0; i < g->n; i++)
		if (azml_gres_is_gpu(&g->ent[i]))
			return g->ent[i].type;
	return NULL;
}

char *azml_gres_string(const azml_gres_t *g)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (!fp)
		return NULL;
	for (size_t i = 0; i < g->n; i++) {
		const azml_gres_ent_t *e = &g->ent[i];

		fprintf(fp, "%s%s%s%s%s:%" PRIu64, i ? "," : "", e->name,
			e->type[0] ? ":" : "", e->type,
			e->no_consume ? ":no_consume" : "", e->count);
	}
	if (fclose(fp)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* ---- gres.conf -------------------------------------------------------- */

void azml_strv_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/*
 * How many names EXPR ("/dev/nvidia[0-3,7]", "a,b[1-2][0-1]") stands for,
 * checked before libslurm's hostlist sees it (which expands every bracket
 * but the last: "[0-7222222222222][0-3]" took it minutes and 470 MB):
 * brackets balanced and not nested, inside them N or N-M (digits, N <= M,
 * at most INT_MAX) separated by commas.  Returns the count, MAX + 1 when
 * it is more than MAX (no further counted), or -1 with the reason in WHY.
 */
static long _names(const char *expr, long max, char *why, size_t n)
{
	const char *p = expr;
	long total = 0, prod = 1;

	for (;;) {
		if (*p == ']') {
			azml_errf(why, n, "a ']' without its '['");
			return -1;
		}
		if (*p == ',' || !*p) {		/* one name (or range) ends */
			total += prod;
			if (total > max)
				return max + 1;
			prod = 1;
			if (!*p)
				return total;
			p++;
			continue;
		}
		if (*p++ != '[')
			continue;
		/* a bracket: N or N-M, ... ] */
		for (long sum = 0;;) {
			long v[2] = { 0, 0 };

			for (int k = 0; k < 2; k++) {
				const char *d = p;

				for (; isdigit((unsigned char) *p); p++) {
					v[k] = v[k] * 10 + (*p - '0');
					if (v[k] > INT_MAX) {
						azml_errf(why, n,
							  "a number over %d "
							  "in a range",
							  INT_MAX);
						return -1;
					}
				}
				if (p == d) {
					azml_errf(why, n,
						  "expected N or N-M "
						  "inside [ ]");
					return -1;
				}
				if (k || *p != '-') {
					if (!k)
						v[1] = v[0];
					break;
				}
				p++;
			}
			if (v[1] < v[0]) {
				azml_errf(why, n,
					  "a range %ld-%ld that runs "
					  "backwards",
					  v[0], v[1]);
				return -1;
			}
			sum += v[1] - v[0] + 1;
			if (sum > max)
				sum = max + 1;
			if (*p == ',') {
				p++;
				continue;
			}
			if (*p != ']') {
				azml_errf(why, n,
					  *p ? "expected ',' or ']' in a "
					       "range" :
					       "a '[' without its ']'");
				return -1;
			}
			p++;
			prod *= sum;	/* both at most MAX + 1 */
			if (prod > max)
				prod = max + 1;
			break;
		}
	}
}

static bool _node_matches(const char *expr, const char *node)
{
	char why[128];
	azml_hostlist_t hl = _names(expr, AZML_GRES_MAX_NODES, why,
				    sizeof(why)) >= 0 ?
			     slurm_hostlist_create(expr) : NULL;
	bool m = hl && slurm_hostlist_find(hl, node) >= 0;

	if (hl)
		slurm_hostlist_destroy(hl);
	return m;
}

/*
 * Append the devices of EXPR ("/dev/nvidia[0-3]") to *V (room for *N more
 * than AZML_GRES_MAX_FILES is never made).  The count is known before
 * anything is expanded: a hostlist keeps ranges as ranges.
 */
static int _expand(const char *path, int lineno, const char *expr,
		   char ***v, size_t *n, char *err, size_t errlen)
{
	azml_hostlist_t hl = NULL;
	char shown[200], why[128], **nv, *h;
	long names = _names(expr, AZML_GRES_MAX_FILES, why, sizeof(why));
	int count;

	if (names < 0) {
		azml_errf(err, errlen, "%s:%d: File='%s': %s", path, lineno,
			  _show(expr, strlen(expr), shown, sizeof(shown)), why);
		return -1;
	}
	if (names > AZML_GRES_MAX_FILES) {
		azml_errf(err, errlen, "%s:%d: File='%s': more than %d devices",
			  path, lineno,
			  _show(expr, strlen(expr), shown, sizeof(shown)),
			  AZML_GRES_MAX_FILES);
		return -1;
	}
	if (!(hl = slurm_hostlist_create(expr))) {
		azml_errf(err, errlen,
			  "%s:%d: File='%s': expected a device or a "
			  "range like /dev/nvidia[0-3]",
			  path, lineno,
			  _show(expr, strlen(expr), shown, sizeof(shown)));
		return -1;
	}
	count = slurm_hostlist_count(hl);
	if (count < 0 || count > AZML_GRES_MAX_FILES ||
	    *n + (size_t) count > AZML_GRES_MAX_FILES) {
		azml_errf(err, errlen,
			  "%s:%d: File='%s': more than %d devices%s", path,
			  lineno,
			  _show(expr, strlen(expr), shown, sizeof(shown)),
			  AZML_GRES_MAX_FILES,
			  count > AZML_GRES_MAX_FILES ? "" : " for this node");
		slurm_hostlist_destroy(hl);
		return -1;
	}
	nv = realloc(*v, (*n + (size_t) count + 1) * sizeof(*nv));
	if (!nv) {
		slurm_hostlist_destroy(hl);
		azml_errf(err, errlen, "%s:%d: out of memory", path, lineno);
		return -1;
	}
	*v = nv;
	for (int got = 0; got < count; got++) {
		if (!(h = slurm_hostlist_shift(hl)))
			break;
		if (!(nv[*n] = strdup(h))) {
			free(h);
			slurm_hostlist_destroy(hl);
			azml_errf(err, errlen, "%s:%d: out of memory", path,
				  lineno);
			return -1;
		}
		(*n)++;
		free(h);
	}
	slurm_hostlist_destroy(hl);
	return 0;
}

int azml_gres_conf_files(const char *path, const char *node, char ***files,
			 char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	char line[LINE_MAX_GRES], **v = NULL;
	size_t n = 0;
	int lineno = 0, rv = -1;

	if (!fp) {
		azml_errf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), fp)) {
		char *hash, *tok, *save = NULL;
		const char *name = NULL, *nodes = NULL, *file = NULL;
		size_t len = strlen(line);

		lineno++;
		if (len && line[len - 1] != '\n' && !feof(fp)) {
			azml_errf(err, errlen,
				  "%s:%d: line longer than %d bytes", path,
				  lineno, LINE_MAX_GRES - 1);
			goto out;
		}
		if ((hash = strchr(line, '#')))
			*hash = '\0';
		for (tok = strtok_r(line, " \t\r\n", &save); tok;
		     tok = strtok_r(NULL, " \t\r\n", &save)) {
			if (!strncasecmp(tok, "Name=", 5))
				name = tok + 5;
			else if (!strncasecmp(tok, "NodeName=", 9))
				nodes = tok + 9;
			else if (!strncasecmp(tok, "File=", 5))
				file = tok + 5;
		}
		if (!name || strcasecmp(name, "gpu") || !file)
			continue;
		if (nodes && !_node_matches(nodes, node))
			continue;
		if (_expand(path, lineno, file, &v, &n, err, errlen) < 0)
			goto out;
	}
	if (ferror(fp)) {
		azml_errf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	*files = v;
	v = NULL;
	rv = (int) n;
out:
	azml_strv_free(v, n);
	fclose(fp);
	return rv;
}

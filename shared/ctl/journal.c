/*
 * journal.c - the lifecycle journal's records and their folding into each
 * VM's billed spans (see journal.h).  No I/O here.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"

static const char *kinds[AZML_J_NKINDS] = {
	"created", "running", "registered", "deallocated", "started",
	"deleted", "evicted", "unhealthy", "replaced",
};

const char *azml_jkind_name(azml_jkind_t k)
{
	return k < AZML_J_NKINDS ? kinds[k] : "?";
}

/* A value: a name of letters, digits and "._:-", or "-". */
static bool _value_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	if (!len || len >= max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("._:-", s[i]))
			return false;
	return true;
}

static int _set(char *dst, size_t max, const char *v)
{
	if (!v || !*v)
		v = "-";
	if (!_value_ok(v, max))
		return -1;
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

int azml_jrec_make(azml_jrec_t *r, azml_jkind_t kind, long at, const char *vm,
		   const char *id, const char *node, const char *target,
		   const char *size, bool spot, const char *zone)
{
	azml_jrec_t t = { .at = at, .kind = kind };

	if (kind >= AZML_J_NKINDS || at <= 0 ||
	    _set(t.vm, sizeof(t.vm), vm) || _set(t.id, sizeof(t.id), id) ||
	    _set(t.node, sizeof(t.node), node) ||
	    _set(t.target, sizeof(t.target), target) ||
	    _set(t.size, sizeof(t.size), size) ||
	    _set(t.zone, sizeof(t.zone), zone))
		return -1;
	snprintf(t.prio, sizeof(t.prio), "%s", spot ? "spot" : "dedicated");
	*r = t;
	return 0;
}

int azml_jrec_reason(azml_jrec_t *r, const char *reason)
{
	return _set(r->reason, sizeof(r->reason), reason);
}

/* Kinds whose records carry reason=. */
static bool _has_reason(azml_jkind_t k)
{
	return k == AZML_J_UNHEALTHY || k == AZML_J_REPLACED;
}

size_t azml_jrec_format(const azml_jrec_t *r, char *buf, size_t n)
{
	bool why = _has_reason(r->kind);
	int len = snprintf(buf, n, "%ld %s vm=%s id=%s node=%s target=%s "
			   "size=%s prio=%s zone=%s%s%s\n", r->at,
			   azml_jkind_name(r->kind), r->vm, r->id, r->node,
			   r->target, r->size, r->prio, r->zone,
			   why ? " reason=" : "",
			   why ? (r->reason[0] ? r->reason : "-") : "");

	return len < 0 ? 0 : (size_t) len < n ? (size_t) len : n - 1;
}

int azml_jrec_parse(const char *line, azml_jrec_t *r)
{
	static const char *keys[] = { "vm=", "id=", "node=", "target=",
				      "size=", "prio=", "zone=" };
	azml_jrec_t t = { 0 };
	char *fields[7] = { t.vm, t.id, t.node, t.target, t.size, t.prio,
			    t.zone };
	size_t caps[7] = { sizeof(t.vm), sizeof(t.id), sizeof(t.node),
			   sizeof(t.target), sizeof(t.size), sizeof(t.prio),
			   sizeof(t.zone) };
	const char *p = line, *e;
	char kind[16];
	size_t i, len;

	if (!line || strlen(line) >= AZML_JLINE)
		return -1;
	/* AT: digits only, 1..12 of them, no leading zero (a record is
	 * written back as it was read) */
	for (len = 0; isdigit((unsigned char) p[len]); len++)
		;
	if (!len || len > 12 || p[len] != ' ' || p[0] == '0')
		return -1;
	t.at = strtol(p, NULL, 10);
	if (t.at <= 0)
		return -1;
	p += len + 1;
	if (!(e = strchr(p, ' ')) || (size_t) (e - p) >= sizeof(kind))
		return -1;
	memcpy(kind, p, (size_t) (e - p));
	kind[e - p] = '\0';
	for (i = 0; i < AZML_J_NKINDS && strcmp(kind, kinds[i]); i++)
		;
	if (i == AZML_J_NKINDS)
		return -1;
	t.kind = (azml_jkind_t) i;
	p = e + 1;
	for (i = 0; i < 7; i++) {
		size_t kl = strlen(keys[i]);

		if (strncmp(p, keys[i], kl))
			return -1;
		p += kl;
		e = strchr(p, ' ');
		len = e ? (size_t) (e - p) : strlen(p);
		if (!len || len >= caps[i] || (i < 6 && !e) ||
		    (i == 6 && e && (!_has_reason(t.kind) ||
				     strncmp(e + 1, "reason=", 7))))
			return -1;
		memcpy(fields[i], p, len);
		fields[i][len] = '\0';
		if (!_value_ok(fields[i], caps[i]))
			return -1;
		p += len + (e ? 1 : 0);
	}
	if (strcmp(t.prio, "spot") && strcmp(t.prio, "dedicated"))
		return -1;
	if (_has_reason(t.kind)) {
		if (strncmp(p, "reason=", 7) || strchr(p + 7, ' ') ||
		    _set(t.reason, sizeof(t.reason), p + 7))
			return -1;
	}
	*r = t;
	return 0;
}

/* ---- folding ---- */

/* A VM's key: its id, else its name (Azure gave no vmId). */
static const char *_key(const azml_jrec_t *r)
{
	return strcmp(r->id, "-") ? r->id : r->vm;
}

static int _cmp(const void *a, const void *b)
{
	const azml_jrec_t *x = *(const azml_jrec_t *const *) a;
	const azml_jrec_t *y = *(const azml_jrec_t *const *) b;
	int c = strcmp(_key(x), _key(y));

	if (c)
		return c;
	if (x->at != y->at)
		return x->at < y->at ? -1 : 1;
	return (int) x->kind - (int) y->kind;
}

static azml_jspan_t *_span(azml_jvm_t *v, long from, bool running)
{
	azml_jspan_t *s = realloc(v->span, (v->nspans + 1) * sizeof(*s));

	if (!s)
		return NULL;
	v->span = s;
	s = &v->span[v->nspans++];
	*s = (azml_jspan_t) { .from = from, .to = 0, .running = running };
	return s;
}

static void _close(azml_jvm_t *v, long at)
{
	if (v->nspans && !v->span[v->nspans - 1].to) {
		azml_jspan_t *s = &v->span[v->nspans - 1];

		s->to = at > s->from ? at : s->from;
	}
}

static azml_jvm_t *_new(azml_jvm_t **vm, size_t *n, size_t *cap,
			const azml_jrec_t *first)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		azml_jvm_t *m = realloc(*vm, c * sizeof(*m));

		if (!m)
			return NULL;
		*vm = m;
		*cap = c;
	}
	(*vm)[*n] = (azml_jvm_t) { .first = *first };
	if (!_span(&(*vm)[*n], first->at, true))
		return NULL;
	return &(*vm)[(*n)++];
}

azml_jvm_t *azml_journal_fold(const azml_jrec_t *r, size_t n, long now,
			      size_t *nvm)
{
	const azml_jrec_t **o;
	azml_jvm_t *vm = NULL, *cur = NULL;
	size_t nv = 0, cap = 0;

	*nvm = 0;
	if (!n || !(o = malloc(n * sizeof(*o))))
		return NULL;
	for (size_t i = 0; i < n; i++)
		o[i] = &r[i];
	qsort(o, n, sizeof(*o), _cmp);
	for (size_t i = 0; i < n; i++) {
		const azml_jrec_t *x = o[i];
		azml_jspan_t *last;

		if (cur && strcmp(_key(&cur->first), _key(x)))
			cur = NULL;
		if (cur && cur->end) {
			/* a name-keyed VM that came back: a new one */
			if (x->kind == AZML_J_CREATED && !strcmp(x->id, "-"))
				cur = NULL;
			else
				continue;
		}
		if (!cur) {
			/* its first record begins its life, whatever it is: a
			 * repair may have lost the CREATED */
			if (x->kind == AZML_J_DELETED || x->kind == AZML_J_EVICTED ||
			    _has_reason(x->kind) ||
			    !(cur = _new(&vm, &nv, &cap, x)))
				continue;
			if (x->kind == AZML_J_DEALLOCATED)
				cur->span[0].running = false;
			else if (x->kind == AZML_J_REGISTERED)
				cur->span[0].booted = x->at;
			continue;
		}
		last = &cur->span[cur->nspans - 1];
		switch (x->kind) {
		case AZML_J_CREATED:
		case AZML_J_RUNNING:
			break;
		case AZML_J_REGISTERED:
			/* a slurmd start before this span is an earlier VM's */
			if (last->running && !last->booted && x->at >= last->from)
				last->booted = x->at;
			break;
		case AZML_J_DEALLOCATED:
			if (last->running) {
				_close(cur, x->at);
				_span(cur, x->at, false);
			}
			break;
		case AZML_J_STARTED:
			if (!last->running) {
				_close(cur, x->at);
				_span(cur, x->at, true);
			}
			break;
		case AZML_J_DELETED:
		case AZML_J_EVICTED:
			_close(cur, x->at);
			cur->end = x->at;
			cur->evicted = x->kind == AZML_J_EVICTED;
			break;
		case AZML_J_REPLACED:
			snprintf(cur->replaced, sizeof(cur->replaced), "%s",
				 x->reason);
			break;
		default:
			break;
		}
	}
	free(o);
	for (size_t i = 0; i < nv; i++)
		_close(&vm[i], now);
	*nvm = nv;
	return vm;
}

bool azml_journal_has_life(const azml_jrec_t *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].kind != AZML_J_DELETED && r[i].kind != AZML_J_EVICTED &&
		    !_has_reason(r[i].kind))
			return true;
	return false;
}

void azml_journal_free(azml_jvm_t *vm, size_t n)
{
	for (size_t i = 0; vm && i < n; i++)
		free(vm[i].span);
	free(vm);
}

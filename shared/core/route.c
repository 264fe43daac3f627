/*
 * route.c - job -> compute target decisions (see route.h).
 *
 * The index hashes target names and VM sizes (lower-cased) so that
 * --azure-compute and --azure-vm-size cost one lookup whatever the number of
 * targets; the filters (priority, CUDA, isolated) compare small integers.
 * Each cluster's Fallback= targets are resolved to entries once, here, and
 * appended to a job's partitions after everything the job asked for.
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "route.h"

#define MAX_OPT_LEN 64
#define MAX_LISTED 12		/* targets named in one error message */

typedef struct {
	const azml_target_t *t;
	bool gpu;
	bool isolated;
	bool low;		/* LowPriority */
	const azml_gpu_arch_t *arch;
	size_t name_len;
	size_t fb, nfb;		/* its fallbacks: r->fb[fb .. fb + nfb - 1] */
} entry_t;

/* One size a cluster offers: each size of its VmSize= (a mix has up to
 * AZML_MIX_MAX), so that --azure-vm-size finds a mix by any of its sizes. */
typedef struct {
	int e;			/* entry index */
	const char *name;	/* canonical, the configuration's */
} size_ent_t;

typedef struct {
	uint32_t hash;
	int first;		/* names: entry index; sizes: size_ent index;
				 * -1: empty slot */
} slot_t;

struct azml_router {
	azml_conf_t *conf;
	entry_t *e;
	size_t n;
	size_ent_t *sz;
	size_t nsz;
	/* Open addressing; next_size chains the size_ents of equal sizes. */
	slot_t *names, *sizes;
	size_t mask;
	int *next_size;
	int *fb;		/* entry indexes, in Fallback= order */
};

/* FNV-1a wraps around by design (tests/fuzz checks unsigned overflow). */
#if defined(__clang__)
__attribute__((no_sanitize("unsigned-integer-overflow")))
#endif
static uint32_t _hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char) tolower((unsigned char) s[i]);
		h *= 16777619u;
	}
	return h;
}

/* The key of slot index I: a size_ent's size (BY_SIZE) or an entry's name. */
static const char *_key(const azml_router_t *r, bool by_size, int i)
{
	return by_size ? r->sz[i].name : r->e[i].t->name;
}

/* Insert I (entry, or size_ent with CHAIN) under KEY into TAB; CHAIN links
 * the size_ents of equal keys. */
static void _insert(azml_router_t *r, slot_t *tab, int *chain, const char *key,
		    int i)
{
	uint32_t h = _hash(key, strlen(key));

	for (size_t s = h & r->mask;; s = (s + 1) & r->mask) {
		if (tab[s].first < 0) {
			tab[s].hash = h;
			tab[s].first = i;
			return;
		}
		if (tab[s].hash == h) {
			const char *okey = _key(r, chain != NULL, tab[s].first);

			if (!strcasecmp(okey, key)) {
				/* append to the chain, keeping config order */
				int *p = &tab[s].first;

				while (*p >= 0 && chain)
					p = &chain[*p];
				if (chain)
					*p = i;
				return;
			}
		}
	}
}

/* The entry whose name is the LEN bytes of KEY (BY_SIZE: the first
 * size_ent of that VM size), or -1. */
static int _lookup(const azml_router_t *r, const slot_t *tab, bool by_size,
		   const char *key, size_t len)
{
	uint32_t h = _hash(key, len);

	for (size_t s = h & r->mask; tab[s].first >= 0; s = (s + 1) & r->mask) {
		const char *k = _key(r, by_size, tab[s].first);

		if (tab[s].hash == h &&
		    (by_size ? strlen(k) :
			       r->e[tab[s].first].name_len) == len &&
		    !strncasecmp(k, key, len))
			return tab[s].first;
	}
	return -1;
}

/* The sizes T offers: its VmSize= (each of a mix), none when attached. */
static size_t _nsizes(const azml_target_t *t)
{
	return t->nmix ? t->nmix : t->vm_size ? 1 : 0;
}

static const char *_size_at(const azml_target_t *t, size_t j)
{
	return t->nmix ? t->mix[j] : t->vm_size;
}

/* Whether T offers VM size SIZE (case-insensitive); its spelling, or NULL. */
static const char *_offers(const azml_target_t *t, const char *size)
{
	for (size_t j = 0; j < _nsizes(t); j++)
		if (!strcasecmp(_size_at(t, j), size))
			return _size_at(t, j);
	return NULL;
}

azml_router_t *azml_router_create(azml_conf_t *conf)
{
	azml_router_t *r = calloc(1, sizeof(*r));
	size_t cap = 16, nfb = 0, nsz = 0;

	if (!r)
		return NULL;
	for (size_t i = 0; i < conf->ntargets; i++) {
		nfb += conf->targets[i].nfallback;
		if (conf->targets[i].kind == AZML_CLUSTER)
			nsz += _nsizes(&conf->targets[i]);
	}
	while (cap < 2 * conf->ntargets + 2 || cap < 2 * nsz + 2)
		cap <<= 1;
	r->conf = conf;
	r->n = conf->ntargets;
	r->mask = cap - 1;
	r->e = calloc(r->n + 1, sizeof(*r->e));
	r->sz = calloc(nsz + 1, sizeof(*r->sz));
	r->names = malloc(cap * sizeof(slot_t));
	r->sizes = malloc(cap * sizeof(slot_t));
	r->next_size = malloc((nsz + 1) * sizeof(int));
	r->fb = malloc((nfb + 1) * sizeof(int));
	if (!r->e || !r->sz || !r->names || !r->sizes || !r->next_size ||
	    !r->fb) {
		r->conf = NULL;
		azml_router_destroy(r);
		return NULL;
	}
	for (size_t s = 0; s < cap; s++)
		r->names[s].first = r->sizes[s].first = -1;
	for (size_t i = 0; i < r->n; i++) {
		const azml_target_t *t = &conf->targets[i];
		entry_t *e = &r->e[i];

		e->t = t;
		e->name_len = strlen(t->name);
		e->gpu = t->gpus > 0;		/* from gres.h, at load */
		e->isolated = t->size.isolated;
		e->low = t->kind == AZML_CLUSTER &&
			 t->priority == AZML_LOW_PRIORITY;
		e->arch = t->gpu_arch;
		_insert(r, r->names, NULL, t->name, i);
		for (size_t j = 0; t->kind == AZML_CLUSTER && j < _nsizes(t);
		     j++) {
			r->sz[r->nsz] = (size_ent_t) { (int) i, _size_at(t, j) };
			r->next_size[r->nsz] = -1;
			_insert(r, r->sizes, r->next_size, _size_at(t, j),
				(int) r->nsz);
			r->nsz++;
		}
	}
	/* Every name is in the index now: a fallback may be defined later.
	 * An error-free conf names only other targets; anything else is
	 * skipped rather than trusted. */
	nfb = 0;
	for (size_t i = 0; i < r->n; i++) {
		const azml_target_t *t = &conf->targets[i];

		r->e[i].fb = nfb;
		for (size_t k = 0; k < t->nfallback; k++) {
			const char *name = t->fallback[k];
			int j = _lookup(r, r->names, false, name, strlen(name));

			if (j >= 0 && (size_t) j != i)
				r->fb[nfb++] = j;
		}
		r->e[i].nfb = nfb - r->e[i].fb;
	}
	return r;
}

void azml_router_destroy(azml_router_t *r)
{
	if (!r)
		return;
	azml_conf_destroy(r->conf);
	free(r->e);
	free(r->sz);
	free(r->names);
	free(r->sizes);
	free(r->next_size);
	free(r->fb);
	free(r);
}

const azml_conf_t *azml_router_conf(const azml_router_t *r)
{
	return r->conf;
}

/* ---------------------------------------------------------------------- */

/* A user's value for a message: printable ASCII, at most 64 bytes. */
static void _show(const char *v, char *buf, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; v[i] && j + 5 < n; i++) {
		unsigned char ch = v[i];

		if (i == MAX_OPT_LEN) {
			snprintf(buf + j, n - j, "...");
			return;
		}
		if (isprint(ch) && ch != '\'')
			buf[j++] = ch;
		else
			j += snprintf(buf + j, n - j, "\\x%02x", ch);
	}
	buf[j] = '\0';
}

static bool _charset(const char *v, const char *extra)
{
	size_t len = strlen(v);

	if (len == 0 || len > MAX_OPT_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) v[i]) && !strchr(extra, v[i]))
			return false;
	return true;
}

int azml_route_check_option(const char *opt, const char *value, char *msg,
			    size_t n)
{
	char shown[300];
	int ma, mi;

	if (!value)
		value = "";
	_show(value, shown, sizeof(shown));
	if (!strcmp(opt, "azure-compute")) {
		if (_charset(value, "-"))
			return 0;
		snprintf(msg, n, "azureml: --azure-compute: expected a compute "
			 "target name (letters, digits, '-'), got '%s'", shown);
	} else if (!strcmp(opt, "azure-vm-size")) {
		if (_charset(value, "_-"))
			return 0;
		snprintf(msg, n, "azureml: --azure-vm-size: expected a VM size "
			 "like Standard_NC6s_v3, got '%s'", shown);
	} else if (!strcmp(opt, "azure-priority")) {
		if (!strcasecmp(value, "dedicated") || !strcasecmp(value, "low"))
			return 0;
		snprintf(msg, n, "azureml: --azure-priority: expected dedicated "
			 "or low, got '%s'", shown);
	} else if (!strcmp(opt, "azure-cuda")) {
		if (!azml_cuda_parse(value, &ma, &mi))
			return 0;
		snprintf(msg, n, "azureml: --azure-cuda: expected a CUDA version "
			 "like 11.8, got '%s'", shown);
	} else if (!strcmp(opt, "azure-isolated")) {
		if (!*value)
			return 0;
		snprintf(msg, n, "azureml: --azure-isolated takes no value, got "
			 "'%s'", shown);
	} else {
		snprintf(msg, n, "azureml: unknown option --%s", opt);
	}
	return -1;
}

/* ---------------------------------------------------------------------- */

typedef struct {
	char *buf;
	size_t len, cap;
} out_t;

static void _put(out_t *o, const char *s, size_t n)
{
	if (o->len + n >= o->cap)
		n = o->cap - 1 - o->len;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void _putf(out_t *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void _putf(out_t *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (o->len + 1 >= o->cap)
		return;
	va_start(ap, fmt);
	n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += ((size_t) n < o->cap - o->len) ? (size_t) n :
			  o->cap - o->len - 1;
}

/* What a target is, for "available: ..." lists. */
static void _describe(out_t *o, const entry_t *e)
{
	const azml_target_t *t = e->t;

	if (t->kind == AZML_ATTACHED) {
		_putf(o, "%s (attached%s%s)", t->name, e->arch ? ", " : "",
		      e->arch ? e->arch->arch : "");
		return;
	}
	_putf(o, "%s (%s", t->name, t->vm_size);
	for (size_t j = 1; j < _nsizes(t); j++)	/* a mix */
		_putf(o, ", %s", _size_at(t, j));
	_putf(o, "%s)", t->kind == AZML_INSTANCE ? ", instance" :
	      e->low ? ", low priority" : "");
}

/* "; available: a (..), b (..)" over the entries PICK accepts. */
static void _available(out_t *o, const azml_router_t *r,
		       bool (*pick)(const entry_t *))
{
	size_t listed = 0, more = 0;

	for (size_t i = 0; i < r->n; i++) {
		if (pick && !pick(&r->e[i]))
			continue;
		if (listed == MAX_LISTED) {
			more++;
			continue;
		}
		_put(o, listed ? ", " : "; available: ", listed ? 2 : 13);
		_describe(o, &r->e[i]);
		listed++;
	}
	if (more)
		_putf(o, " and %zu more", more);
	if (!listed)
		_putf(o, "; none is configured");
}

static bool _is_cluster(const entry_t *e)
{
	return e->t->kind == AZML_CLUSTER;
}

static bool _has_gpu(const entry_t *e)
{
	return e->gpu;
}

/* Is NAME in the comma-separated LIST, before END when not NULL? */
static bool _in_list(const char *list, const char *end, const char *name,
		     size_t len)
{
	const char *s = list;

	while (*s && (!end || s < end)) {
		size_t l = strcspn(s, ",");

		if (l == len && !strncasecmp(s, name, len))
			return true;
		s += l;
		if (*s == ',')
			s++;
	}
	return false;
}

typedef struct {
	int prio;		/* -1 any, 0 dedicated, 1 low */
	const char *vm_size;	/* --azure-vm-size: targets that offer it */
	bool cuda;
	int cuda_ma, cuda_mi;
	bool isolated;
	bool wants_gpu;
	const char *partition;
} filter_t;

/* Why entry E fails filter F (0: it passes). */
enum { F_OK = 0, F_PRIO, F_SIZE, F_CUDA, F_ISO, F_GPU, F_PART };

static int _fails(const entry_t *e, const filter_t *f)
{
	if (f->vm_size && !_offers(e->t, f->vm_size))
		return F_SIZE;
	if (f->prio >= 0 && e->low != (f->prio == 1))
		return F_PRIO;
	if (f->cuda && !azml_arch_supports_cuda(e->arch, f->cuda_ma, f->cuda_mi))
		return F_CUDA;
	if (f->isolated && !e->isolated)
		return F_ISO;
	if (f->wants_gpu && !e->gpu)
		return F_GPU;
	if (f->partition &&
	    !_in_list(f->partition, NULL, e->t->name, e->name_len))
		return F_PART;
	return F_OK;
}

/*
 * Append to O the fallbacks of E that pass the job's own filters F (not its
 * -p list: a fallback is where the job may go besides what it named) and
 * that the list does not hold yet: O from byte FROM on, and ALSO unless
 * NULL.  Returns how many it added, or would have added to a full O (whose
 * caller then refuses it rather than pass on a list cut short).
 */
static size_t _add_fallbacks(const azml_router_t *r, const entry_t *e,
			     const filter_t *f, out_t *o, size_t from,
			     const char *also)
{
	filter_t job = *f;
	size_t added = 0;

	job.partition = NULL;
	for (size_t k = 0; k < e->nfb; k++) {
		const entry_t *b = &r->e[r->fb[e->fb + k]];

		if (_fails(b, &job) ||
		    _in_list(o->buf + from, NULL, b->t->name, b->name_len) ||
		    (also && _in_list(also, NULL, b->t->name, b->name_len)))
			continue;
		added++;
		if (o->len + 1 >= o->cap)
			return added;
		_put(o, ",", 1);
		_put(o, b->t->name, b->name_len);
	}
	return added;
}

/* The message for a single named target that fails a filter. */
static void _explain(out_t *o, const entry_t *e, int why, const filter_t *f,
		     const azml_route_req_t *req)
{
	const azml_target_t *t = e->t;
	char shown[300];

	switch (why) {
	case F_PRIO:
		_putf(o, "azureml: compute target '%s' is %s, not %s", t->name,
		      e->low ? "low priority" : "dedicated",
		      e->low ? "dedicated" : "low priority");
		break;
	case F_SIZE:
		_show(f->vm_size, shown, sizeof(shown));
		_putf(o, "azureml: compute target '%s' has VM size%s %s",
		      t->name, _nsizes(t) > 1 ? "s" : "",
		      t->vm_size ? t->vm_size : "(attached)");
		for (size_t j = 1; j < _nsizes(t); j++)
			_putf(o, ",%s", _size_at(t, j));
		_putf(o, ", not %s", shown);
		break;
	case F_CUDA:
		if (!e->arch && e->gpu)
			_putf(o, "azureml: compute target '%s' has GPUs of an "
			      "unknown or mixed architecture (Gres=%s), so CUDA "
			      "%d.%d cannot be promised there", t->name, t->gres,
			      f->cuda_ma, f->cuda_mi);
		else if (!e->arch)
			_putf(o, "azureml: compute target '%s' has no GPU that "
			      "CUDA %d.%d could use", t->name, f->cuda_ma,
			      f->cuda_mi);
		else
			_putf(o, "azureml: compute target '%s' has %s GPUs, which "
			      "support CUDA %s%s%s, not %d.%d", t->name,
			      e->arch->arch, e->arch->min_cuda,
			      e->arch->max_cuda ? " to " : " and later",
			      e->arch->max_cuda ? e->arch->max_cuda : "",
			      f->cuda_ma, f->cuda_mi);
		break;
	case F_ISO:
		_putf(o, "azureml: compute target '%s' (%s) is not an isolated "
		      "VM size", t->name, t->vm_size ? t->vm_size : "attached");
		break;
	case F_GPU:
		_putf(o, "azureml: compute target '%s' (%s) has no GPU, but the "
		      "job asks for GPUs (--gpus/--gres=gpu)", t->name,
		      t->vm_size ? t->vm_size : "attached");
		break;
	case F_PART:
		_show(req->partition, shown, sizeof(shown));
		_putf(o, "azureml: %s%s selects '%s', which conflicts with "
		      "--partition=%s", req->compute ? "--azure-compute=" :
		      "--azure-vm-size=", req->compute ? req->compute :
		      req->vm_size, t->name, shown);
		break;
	}
}

static int _check_syntax(const azml_route_req_t *req, out_t *o)
{
	char msg[512];

	if ((req->compute &&
	     azml_route_check_option("azure-compute", req->compute, msg, sizeof(msg))) ||
	    (req->vm_size &&
	     azml_route_check_option("azure-vm-size", req->vm_size, msg, sizeof(msg))) ||
	    (req->priority &&
	     azml_route_check_option("azure-priority", req->priority, msg, sizeof(msg))) ||
	    (req->cuda &&
	     azml_route_check_option("azure-cuda", req->cuda, msg, sizeof(msg)))) {
		_put(o, msg, strlen(msg));
		return -1;
	}
	return 0;
}

/* The filters a request names, as words for a message. */
static void _filter_words(out_t *o, const azml_route_req_t *req)
{
	if (req->vm_size)
		_putf(o, " --azure-vm-size=%s", req->vm_size);
	if (req->priority)
		_putf(o, " --azure-priority=%s", req->priority);
	if (req->cuda)
		_putf(o, " --azure-cuda=%s", req->cuda);
	if (req->isolated)
		_putf(o, " --azure-isolated");
	if (req->wants_gpu)
		_putf(o, " with GPUs");
	if (req->partition) {
		char shown[300];

		_show(req->partition, shown, sizeof(shown));
		_putf(o, " --partition=%s", shown);
	}
}

/* Whether the list in O was cut short; then O is emptied for the message
 * that says so (a partition list cut short is no list). */
static bool _cut_short(out_t *o)
{
	if (o->len + 1 < o->cap)
		return false;
	o->len = 0;
	o->buf[0] = '\0';
	return true;
}

/*
 * A job without --azure-* options: its -p list as the user gave it, then
 * the fallbacks of the clusters it names, in the order it names them.
 * NONE when there is none to add, or when the list alone fills O (a list
 * that could never be passed on with more in it is left as it is).
 */
static azml_route_rc_t _route_partition(const azml_router_t *r,
					const azml_route_req_t *req, out_t *o)
{
	const filter_t f = { .prio = -1, .wants_gpu = req->wants_gpu };
	const char *list = req->partition;
	size_t len = list ? strlen(list) : 0, base, added = 0;

	if (!len || len + 1 >= o->cap)
		return AZML_ROUTE_NONE;
	_put(o, list, len);
	base = o->len;
	for (const char *s = list; *s;) {
		size_t l = strcspn(s, ",");
		int i = l ? _lookup(r, r->names, false, s, l) : -1;

		/* A cluster named twice is looked at once: the work stays
		 * linear in what the job names, whatever the user repeats. */
		if (i >= 0 && r->e[i].nfb &&
		    !_in_list(list, s, r->e[i].t->name, r->e[i].name_len))
			added += _add_fallbacks(r, &r->e[i], &f, o, base, list);
		s += l;
		if (*s == ',')
			s++;
	}
	if (!added) {
		o->len = 0;
		o->buf[0] = '\0';
		return AZML_ROUTE_NONE;
	}
	if (!_cut_short(o))
		return AZML_ROUTE_OK;
	_putf(o, "azureml: --partition=%.64s... with the fallbacks of its "
	      "compute targets is too long for a partition list; name fewer "
	      "partitions", list);
	return AZML_ROUTE_ERROR;
}

/* No --azure-* option: the -p list decides alone. */
static bool _no_options(const azml_route_req_t *req)
{
	return !req->compute && !req->vm_size && !req->priority && !req->cuda &&
	       !req->isolated;
}

/* The job's filters, one function an option (their syntax is checked). */
static void _filter_priority(filter_t *f, const azml_route_req_t *req)
{
	f->prio = req->priority ? !strcasecmp(req->priority, "low") : -1;
}

/* A job that asked for a size runs only where that size is: its fallbacks
 * too (the job carries the size as a constraint, azml_route_features). */
static void _filter_vm_size(filter_t *f, const azml_route_req_t *req)
{
	f->vm_size = req->vm_size;
}

static void _filter_cuda(filter_t *f, const azml_route_req_t *req)
{
	f->cuda = req->cuda != NULL;
	if (f->cuda)
		azml_cuda_parse(req->cuda, &f->cuda_ma, &f->cuda_mi);
}

static void _filter_isolated(filter_t *f, const azml_route_req_t *req)
{
	f->isolated = req->isolated;
}

static void _filter_gpu(filter_t *f, const azml_route_req_t *req)
{
	f->wants_gpu = req->wants_gpu;
}

static void _filter_partition(filter_t *f, const azml_route_req_t *req)
{
	f->partition = req->partition && *req->partition ? req->partition :
							    NULL;
}

static void _filters(filter_t *f, const azml_route_req_t *req)
{
	*f = (filter_t) { .prio = -1 };
	_filter_priority(f, req);
	_filter_vm_size(f, req);
	_filter_cuda(f, req);
	_filter_isolated(f, req);
	_filter_gpu(f, req);
	_filter_partition(f, req);
}

/* "no compute target '...'" or "no compute target offers VM size '...'". */
static azml_route_rc_t _no_such(const azml_router_t *r, out_t *o,
				const char *what, const char *value,
				bool (*pick)(const entry_t *))
{
	char shown[300];

	_show(value, shown, sizeof(shown));
	_putf(o, "azureml: no compute target %s'%s'", what, shown);
	_available(o, r, pick);
	return AZML_ROUTE_ERROR;
}

/* --azure-compute: that target, if it passes the other filters. */
static azml_route_rc_t _route_compute(const azml_router_t *r,
				      const azml_route_req_t *req,
				      const filter_t *f, out_t *o)
{
	int i = _lookup(r, r->names, false, req->compute,
			strlen(req->compute));
	const entry_t *e;
	int why;

	if (i < 0)
		return _no_such(r, o, "", req->compute, NULL);
	e = &r->e[i];
	if ((why = _fails(e, f))) {
		_explain(o, e, why, f, req);
		return AZML_ROUTE_ERROR;
	}
	_put(o, e->t->name, e->name_len);
	_add_fallbacks(r, e, f, o, 0, NULL);
	if (!_cut_short(o))
		return AZML_ROUTE_OK;
	_putf(o, "azureml: compute target '%s'%s does not fit in a partition "
	      "list of %zu bytes", e->t->name,
	      e->nfb ? " with its fallbacks" : "", o->cap);
	return AZML_ROUTE_ERROR;
}

/* The entries that pass the filters, so far; the last that failed. */
typedef struct {
	size_t matched;
	int why, only;
} picked_t;

/* Entry I to O's list when it passes F; else P says why it failed. */
static inline void _pick(const azml_router_t *r, int i, const filter_t *f,
			 out_t *o, picked_t *p)
{
	int w = _fails(&r->e[i], f);

	if (w) {
		p->why = w;
		p->only = i;
		return;
	}
	if (p->matched++)
		_put(o, ",", 1);
	_put(o, r->e[i].t->name, r->e[i].name_len);
}

/* Entry I's fallbacks to O's list, when it passed F. */
static inline void _pick_fallbacks(const azml_router_t *r, int i,
				   const filter_t *f, out_t *o)
{
	if (r->e[i].nfb && !_fails(&r->e[i], f))
		_add_fallbacks(r, &r->e[i], f, o, 0, NULL);
}

/* --azure-vm-size: the targets of that size that pass the filters. */
static azml_route_rc_t _route_vm_size(const azml_router_t *r,
				      const azml_route_req_t *req,
				      const filter_t *f, out_t *o)
{
	int first = _lookup(r, r->sizes, true, req->vm_size,
			    strlen(req->vm_size));
	picked_t p = { .why = F_OK, .only = -1 };

	if (first < 0)
		return _no_such(r, o, "offers VM size ", req->vm_size,
				_is_cluster);
	for (int k = first; k >= 0; k = r->next_size[k])
		_pick(r, r->sz[k].e, f, o, &p);
	for (int k = first; p.matched && k >= 0; k = r->next_size[k])
		_pick_fallbacks(r, r->sz[k].e, f, o);
	if (p.matched && !_cut_short(o))
		return AZML_ROUTE_OK;
	if (p.matched) {
		_putf(o, "azureml: too many compute targets offer VM size "
		      "'%.64s' to list them as partitions; add "
		      "--azure-compute", req->vm_size);
		return AZML_ROUTE_ERROR;
	}
	if (r->next_size[first] < 0) {
		_explain(o, &r->e[p.only], p.why, f, req);
		return AZML_ROUTE_ERROR;
	}
	_putf(o, "azureml: no compute target matches");
	_filter_words(o, req);
	return AZML_ROUTE_ERROR;
}

/* Filters alone: every target that passes them. */
static azml_route_rc_t _route_filters(const azml_router_t *r,
				      const azml_route_req_t *req,
				      const filter_t *f, out_t *o)
{
	picked_t p = { .why = F_OK, .only = -1 };

	for (size_t i = 0; i < r->n; i++)
		_pick(r, (int) i, f, o, &p);
	for (size_t i = 0; p.matched && i < r->n; i++)
		_pick_fallbacks(r, (int) i, f, o);
	if (p.matched && !_cut_short(o))
		return AZML_ROUTE_OK;
	if (p.matched) {
		_putf(o, "azureml: too many compute targets match to list them "
		      "as partitions; add --azure-compute or --azure-vm-size");
		return AZML_ROUTE_ERROR;
	}
	_putf(o, "azureml: no compute target matches");
	_filter_words(o, req);
	_available(o, r, f->cuda || f->wants_gpu ? _has_gpu : NULL);
	return AZML_ROUTE_ERROR;
}

azml_route_rc_t azml_route(const azml_router_t *r, const azml_route_req_t *req,
			   char *out, size_t outlen)
{
	out_t o = { out, 0, outlen };
	filter_t f;

	if (!outlen)
		return AZML_ROUTE_ERROR;
	out[0] = '\0';
	if (_no_options(req))
		return _route_partition(r, req, &o);
	if (_check_syntax(req, &o))
		return AZML_ROUTE_ERROR;
	_filters(&f, req);
	if (req->compute)
		return _route_compute(r, req, &f, &o);
	if (req->vm_size)
		return _route_vm_size(r, req, &f, &o);
	return _route_filters(r, req, &f, &o);
}

/* ---------------------------------------------------------------------- */

/*
 * How the user's -C expression stands beside "&SIZE": 0 as it is, 1 inside
 * parentheses (an OR at its top level, which '&' would bind first), -1 not
 * at all (brackets and counts, which Slurm takes only around the whole
 * expression; parentheses that would nest, which it does not take).
 */
static int _wrap(const char *x)
{
	bool top_or = false, paren = false;
	int depth = 0;

	for (const char *s = x; *s; s++) {
		if (*s == '[' || *s == ']' || *s == '*')
			return -1;
		if (*s == '(') {
			paren = true;
			depth++;
		} else if (*s == ')') {
			depth--;
		} else if (*s == '|' && depth == 0) {
			top_or = true;
		}
	}
	if (top_or && paren)
		return -1;
	return top_or;
}

/* Whether the expression X already requires SIZE: it is SIZE, or ends
 * with "&SIZE" (a job routed again, as by job_modify). */
static bool _requires(const char *x, const char *size)
{
	size_t xl = strlen(x), sl = strlen(size);

	if (!strcmp(x, size))
		return true;
	return xl > sl && x[xl - sl - 1] == '&' && !strcmp(x + xl - sl, size) &&
	       _wrap(x) >= 0;
}

azml_route_rc_t azml_route_features(const azml_router_t *r,
				    const azml_route_req_t *req,
				    const char *features, char *out,
				    size_t outlen)
{
	out_t o = { out, 0, outlen };
	const char *size = NULL;
	char shown[300];
	int k, wrap;

	if (!outlen)
		return AZML_ROUTE_ERROR;
	out[0] = '\0';
	if (!req->vm_size || _check_syntax(req, &o))
		return o.len ? AZML_ROUTE_ERROR : AZML_ROUTE_NONE;
	/* the configuration's spelling: Slurm compares features exactly */
	k = _lookup(r, r->sizes, true, req->vm_size, strlen(req->vm_size));
	if (k >= 0)
		size = r->sz[k].name;
	else if (req->compute &&
		 (k = _lookup(r, r->names, false, req->compute,
			      strlen(req->compute))) >= 0)
		size = _offers(r->e[k].t, req->vm_size);	/* an instance */
	if (!size)
		return AZML_ROUTE_NONE;	/* not routed: azml_route refuses it */
	if (!features || !*features) {
		_put(&o, size, strlen(size));
	} else if (_requires(features, size)) {
		return AZML_ROUTE_NONE;
	} else if ((wrap = _wrap(features)) < 0) {
		_show(features, shown, sizeof(shown));
		_putf(&o, "azureml: --azure-vm-size=%s cannot be added to "
		      "--constraint='%s' (brackets, counts or nested "
		      "parentheses); put %s into --constraint yourself, with "
		      "--azure-compute naming the cluster", size, shown, size);
		return AZML_ROUTE_ERROR;
	} else {
		_putf(&o, "%s%s%s&%s", wrap ? "(" : "", features,
		      wrap ? ")" : "", size);
	}
	if (!_cut_short(&o))
		return AZML_ROUTE_OK;
	_putf(&o, "azureml: --constraint with --azure-vm-size=%s is too long",
	      size);
	return AZML_ROUTE_ERROR;
}

/*
 * cost.c - the journal's VM-seconds split, priced and summed, and what they
 * are read from (see cost.h).
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acct.h"
#include "cost.h"
#include "state.h"

typedef struct {
	azml_cost_row_t *r;
	size_t n, cap;
	size_t *slot;		/* hash of the keys: row index + 1, 0 empty */
	size_t nslot;		/* a power of 2, over twice n */
} rows_t;

static size_t _hash(const char *s)
{
	size_t h = 14695981039346656037UL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211UL;
	return h;
}

/* Room for one more row in the hash (rebuilt larger when half full). */
static int _rehash(rows_t *rs)
{
	size_t ns = rs->nslot ? rs->nslot * 2 : 64, *sl;

	if (rs->nslot && (rs->n + 1) * 2 <= rs->nslot)
		return 0;
	if (!(sl = calloc(ns, sizeof(*sl))))
		return -1;
	for (size_t i = 0; i < rs->n; i++) {
		size_t h = _hash(rs->r[i].key) & (ns - 1);

		while (sl[h])
			h = (h + 1) & (ns - 1);
		sl[h] = i + 1;
	}
	free(rs->slot);
	rs->slot = sl;
	rs->nslot = ns;
	return 0;
}

static azml_cost_row_t *_row(rows_t *rs, const char *key, const char *target)
{
	size_t h;

	if (_rehash(rs))
		return NULL;
	for (h = _hash(key) & (rs->nslot - 1); rs->slot[h];
	     h = (h + 1) & (rs->nslot - 1))
		if (!strcmp(rs->r[rs->slot[h] - 1].key, key))
			return &rs->r[rs->slot[h] - 1];
	if (rs->n == rs->cap) {
		size_t c = rs->cap ? rs->cap * 2 : 16;
		azml_cost_row_t *m = realloc(rs->r, c * sizeof(*m));

		if (!m)
			return NULL;
		rs->r = m;
		rs->cap = c;
	}
	rs->r[rs->n] = (azml_cost_row_t) { .priced = true };
	snprintf(rs->r[rs->n].key, sizeof(rs->r[rs->n].key), "%s", key);
	snprintf(rs->r[rs->n].target, sizeof(rs->r[rs->n].target), "%s",
		 target ? target : "");
	rs->slot[h] = rs->n + 1;
	return &rs->r[rs->n++];
}

static double _overlap(long a, long b, long c, long d)
{
	long lo = a > c ? a : c, hi = b < d ? b : d;

	return hi > lo ? (double) (hi - lo) : 0;
}

static void _add(azml_cost_split_t *to, const azml_cost_split_t *s)
{
	to->busy += s->busy;
	to->boot += s->boot;
	to->idle += s->idle;
	to->disk += s->disk;
	to->busy_c += s->busy_c;
	to->boot_c += s->boot_c;
	to->idle_c += s->idle_c;
	to->disk_c += s->disk_c;
}

static bool _digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

static int _cmp(const void *a, const void *b)
{
	const azml_cost_row_t *x = a, *y = b;

	if (_digits(x->key) && _digits(y->key)) {
		unsigned long p = strtoul(x->key, NULL, 10);
		unsigned long q = strtoul(y->key, NULL, 10);

		return p < q ? -1 : p > q;
	}
	return strcmp(x->key, y->key);
}

/* Job rows sorted by node, then start: pointers into the caller's array. */
static int _by_node_start(const void *a, const void *b)
{
	const azml_cost_job_t *x = *(const azml_cost_job_t *const *) a;
	const azml_cost_job_t *y = *(const azml_cost_job_t *const *) b;
	int c = strcmp(x->node, y->node);

	if (c)
		return c;
	return x->start < y->start ? -1 : x->start > y->start;
}

static const azml_cost_job_t **_index_by_node(const azml_cost_job_t *jobs,
					      size_t n)
{
	const azml_cost_job_t **ix = malloc((n ? n : 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ix[i] = &jobs[i];
	if (n)
		qsort(ix, n, sizeof(*ix), _by_node_start);
	return ix;
}

/* The job rows' key for BY. */
static const char *_job_key(const azml_cost_job_t *j, azml_cost_by_t by,
			    char *buf, size_t n)
{
	if (by == AZML_COST_BY_USER)
		return j->user[0] ? j->user : "?";
	if (by == AZML_COST_BY_ACCOUNT)
		return j->account[0] ? j->account : "?";
	snprintf(buf, n, "%u", j->id);
	return buf;
}

/* One VM's context while its spans are billed. */
typedef struct {
	const azml_cost_in_t *in;
	azml_cost_by_t by;
	rows_t *rs;			/* job, user or account rows */
	const azml_cost_job_t **ix;	/* the jobs by node; NULL: none */
	size_t ja, je;			/* ix[ja .. je): the jobs of its node */
	const char *target;
	int cpus;			/* its node's; 0: unknown */
	double run_rate, disk_rate;	/* per second */
	bool priced;			/* every second has a price */
} vm_ctx_t;

/* Its prices: running (the size's hour and its OS disk) and deallocated. */
static void _vm_rates(vm_ctx_t *c, const azml_jvm_t *vm)
{
	const azml_prices_t *p = c->in->prices;
	bool spot = !strcmp(vm->first.prio, "spot");
	double hour = p ? azml_prices_hourly(p, vm->first.size, spot) : -1;
	double disk = p ? azml_prices_hourly(p, "disk", false) : -1;

	c->priced = hour >= 0 && disk >= 0;
	c->run_rate = ((hour > 0 ? hour : 0) + (disk > 0 ? disk : 0)) / 3600.0;
	c->disk_rate = (disk > 0 ? disk : 0) / 3600.0;
}

/* ix[ja .. je): the job rows of NODE, found by bisection. */
static void _node_jobs(vm_ctx_t *c, const char *node)
{
	size_t lo = 0, hi = c->in->njobs;

	c->ja = c->je = 0;
	if (!c->ix)
		return;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->ix[mid]->node, node) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	c->ja = c->je = lo;
	while (c->je < c->in->njobs && !strcmp(c->ix[c->je]->node, node))
		c->je++;
}

/* Job JB's seconds on the node within [UA, B), by its share of the CPUs. */
static double _job_seconds(const vm_ctx_t *c, const azml_cost_job_t *jb,
			   long ua, long b)
{
	long jend = jb->end ? jb->end : c->in->until;
	double share = c->cpus > 0 ? (double) jb->cpus / c->cpus : 1;

	if (share > 1 || share <= 0)
		share = 1;
	return _overlap(jb->start, jend, ua, b) * share;
}

/* The jobs' seconds on the node within [UA, B), summed (may pass B - UA). */
static double _jobs_busy(const vm_ctx_t *c, long ua, long b)
{
	double busy = 0;

	for (size_t q = c->ja; q < c->je; q++) {
		if (c->ix[q]->start >= b)
			break;	/* by start: none after */
		busy += _job_seconds(c, c->ix[q], ua, b);
	}
	return busy;
}

/* Each job's seconds within [UA, B), times SCALE, to its row; 0 or -1. */
static int _charge_jobs(vm_ctx_t *c, long ua, long b, double scale)
{
	if (c->by == AZML_COST_BY_TARGET)
		return 0;	/* busy time goes to the target's row */
	for (size_t q = c->ja; q < c->je; q++) {
		const azml_cost_job_t *jb = c->ix[q];
		double o;
		char buf[32];
		azml_cost_row_t *jr;

		if (jb->start >= b)
			break;	/* by start: none after */
		if (!(o = _job_seconds(c, jb, ua, b)))
			continue;
		o *= scale;
		jr = _row(c->rs, _job_key(jb, c->by, buf, sizeof(buf)),
			  c->target);
		if (!jr)
			return -1;
		jr->s.busy += o;
		jr->s.busy_c += o * c->run_rate;
		jr->priced = jr->priced && c->priced;
	}
	return 0;
}

/*
 * Span S, cut to the window, into VS (seconds only): disk when
 * deallocated, else boot, then busy (the jobs', charged to their rows) and
 * idle.  1 when it billed, 0 when outside the window, -1 out of memory.
 */
static int _bill_span(vm_ctx_t *c, const azml_jspan_t *s,
		      azml_cost_split_t *vs)
{
	long a = s->from > c->in->since ? s->from : c->in->since;
	long b = s->to < c->in->until ? s->to : c->in->until;
	long boot_end, ua;
	double up, busy;

	if (b <= a)
		return 0;
	if (!s->running) {
		vs->disk += (double) (b - a);
		vs->disk_c += (double) (b - a) * c->disk_rate;
		return 1;
	}
	boot_end = s->booted >= s->from && s->booted <= s->to ? s->booted :
								s->to;
	vs->boot += _overlap(s->from, boot_end, a, b);
	ua = boot_end > a ? boot_end : a;
	up = b > ua ? (double) (b - ua) : 0;
	if (up <= 0 || !c->ix) {
		vs->idle += up;
		return 1;
	}
	busy = _jobs_busy(c, ua, b);
	/* overbooked (shares past the node): scaled */
	if (busy > 0 && _charge_jobs(c, ua, b, busy > up ? up / busy : 1))
		return -1;
	if (busy > up)
		busy = up;
	vs->busy += busy;
	vs->idle += up - busy;
	return 1;
}

/* VM's split into VS, priced: 1 when it billed, 0 when not, -1 (memory). */
static int _bill_vm(vm_ctx_t *c, const azml_jvm_t *vm, azml_cost_split_t *vs)
{
	const char *node = vm->first.node;
	bool billed = false;

	c->target = vm->first.target;
	c->cpus = c->in->node_cpus && strcmp(node, "-") ?
		  c->in->node_cpus(c->in->arg, node) : 0;
	_vm_rates(c, vm);
	_node_jobs(c, node);
	for (size_t k = 0; k < vm->nspans; k++) {
		int rc = _bill_span(c, &vm->span[k], vs);

		if (rc < 0)
			return -1;
		billed = billed || rc;
	}
	vs->busy_c = vs->busy * c->run_rate;
	vs->boot_c = vs->boot * c->run_rate;
	vs->idle_c = vs->idle * c->run_rate;
	return billed;
}

/* A billed VM into ROW (a target's, or the total). */
static void _count_vm(azml_cost_row_t *row, const azml_cost_in_t *in,
		      const azml_jvm_t *vm, const azml_cost_split_t *vs,
		      bool priced)
{
	row->vms++;
	row->creates += vm->span[0].from >= in->since &&
			vm->span[0].from < in->until;
	row->replaced += vm->replaced[0] && vm->end >= in->since &&
			 vm->end < in->until;
	_add(&row->s, vs);
	row->priced = row->priced && priced;
}

int azml_cost_compute(const azml_cost_in_t *in, azml_cost_by_t by,
		      azml_cost_row_t **rows, size_t *nrows,
		      azml_cost_row_t *total)
{
	rows_t rs = { 0 };
	azml_cost_row_t all = { .priced = true };
	vm_ctx_t c = { .in = in, .by = by, .rs = &rs };

	/* each VM reads its node's jobs only: sorted, found by bisection */
	if (in->jobs && !(c.ix = _index_by_node(in->jobs, in->njobs)))
		goto oom;
	for (size_t v = 0; v < in->nvm; v++) {
		azml_cost_split_t vs = { 0 };
		azml_cost_row_t *tr;
		int rc = _bill_vm(&c, &in->vm[v], &vs);

		if (rc < 0)
			goto oom;
		if (!rc)
			continue;
		if (by == AZML_COST_BY_TARGET) {
			if (!(tr = _row(&rs, c.target, c.target)))
				goto oom;
			_count_vm(tr, in, &in->vm[v], &vs, c.priced);
		}
		_count_vm(&all, in, &in->vm[v], &vs, c.priced);
	}
	free(c.ix);
	free(rs.slot);
	if (rs.n)
		qsort(rs.r, rs.n, sizeof(*rs.r), _cmp);
	*rows = rs.r;
	*nrows = rs.n;
	if (total)
		*total = all;
	return 0;
oom:
	free(c.ix);
	free(rs.slot);
	free(rs.r);
	*rows = NULL;
	*nrows = 0;
	return -1;
}

/* ---- gathering ---- */

static int _node_cpus(void *arg, const char *node)
{
	const azml_cost_data_t *d = arg;

	for (int i = 0; i < d->nnodes; i++)
		if (!strcmp(d->nodes[i].name, node))
			return d->nodes[i].cpus;
	return 0;
}

/* A live VM's registration the journal does not have yet: its node's
 * slurmd start, when it falls in the VM's running span. */
static void _registrations(azml_cost_data_t *d)
{
	for (size_t i = 0; i < d->nvm; i++) {
		azml_jvm_t *vm = &d->vm[i];
		azml_jspan_t *s;

		if (vm->end || !vm->nspans)
			continue;
		s = &vm->span[vm->nspans - 1];
		if (!s->running || s->booted)
			continue;
		for (int k = 0; k < d->nnodes; k++)
			if (!strcmp(d->nodes[k].name, vm->first.node) &&
			    d->nodes[k].slurmd_start >= s->from &&
			    d->nodes[k].slurmd_start <= s->to)
				s->booted = d->nodes[k].slurmd_start;
	}
}

int azml_cost_gather(const azml_conf_t *conf, long since, long until,
		     long now, azml_cost_data_t *d, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	if (azml_state_journal_read(conf, since, &d->recs, &d->nrecs,
				    &d->bad)) {
		snprintf(err, errlen, "couldn't read the lifecycle journal "
			 "under %s/journal", conf->state_dir);
		return -1;
	}
	d->vm = azml_journal_fold(d->recs, d->nrecs, now < until ? now : until,
				  &d->nvm);
	azml_nodes_init();
	d->nnodes = azml_nodes_load(&d->nodes);
	if (d->nnodes > 0)
		_registrations(d);
	else
		d->nnodes = 0;
	d->have_jobs = !azml_acct_jobs(since, until, &d->jobs, &d->njobs,
				       d->jobs_err, sizeof(d->jobs_err));
	return 0;
}

void azml_cost_data_free(azml_cost_data_t *d)
{
	free(d->jobs);
	free(d->nodes);
	azml_journal_free(d->vm, d->nvm);
	free(d->recs);
}

void azml_cost_data_in(const azml_cost_data_t *d, long since, long until,
		       const azml_prices_t *prices, azml_cost_in_t *in)
{
	*in = (azml_cost_in_t) {
		.since = since, .until = until,
		.vm = d->vm, .nvm = d->nvm,
		.prices = prices,
		.jobs = d->have_jobs ? d->jobs : NULL, .njobs = d->njobs,
		.node_cpus = _node_cpus, .arg = (void *) d,
	};
}

int azml_cost_targets(const azml_conf_t *conf, long since, long until,
		      azml_cost_row_t **rows, size_t *n, bool *have_jobs,
		      char *why, size_t whylen)
{
	azml_cost_data_t d;
	azml_cost_in_t in;
	int rc;

	*rows = NULL;
	*n = 0;
	if (azml_cost_gather(conf, since, until, (long) time(NULL), &d, why,
			     whylen))
		return -1;
	azml_cost_data_in(&d, since, until, NULL, &in);
	*have_jobs = d.have_jobs;
	snprintf(why, whylen, "%s", d.jobs_err);
	rc = azml_cost_compute(&in, AZML_COST_BY_TARGET, rows, n, NULL);
	azml_cost_data_free(&d);
	if (rc)
		snprintf(why, whylen, "out of memory");
	return rc;
}

char *azml_csv_field(const char *s, char *buf, size_t n)
{
	bool formula = strchr("=+-@", s[0]) && s[0];
	bool quote = formula || s[strcspn(s, ",\"\r\n")];
	size_t j = 0;

	if (n < 4) {
		if (n)
			buf[0] = '\0';
		return buf;
	}
	if (!quote) {
		snprintf(buf, n, "%s", s);
		return buf;
	}
	buf[j++] = '"';
	if (formula)
		buf[j++] = '\'';
	/* room kept for the closing quote and the NUL */
	for (; *s && j + (*s == '"' ? 2 : 1) + 2 <= n; s++) {
		if (*s == '"')
			buf[j++] = '"';
		buf[j++] = *s;
	}
	buf[j++] = '"';
	buf[j] = '\0';
	return buf;
}

/* ---- IdleSecondsBeforeScaledown=auto ---- */

static int _by_value(const void *a, const void *b)
{
	double x = *(const double *) a, y = *(const double *) b;

	return x < y ? -1 : x > y;
}

int azml_idle_auto(const double *gaps, size_t n, double boot, int min, int max,
		   double *cost)
{
	double *g = n ? malloc(n * sizeof(*g)) : NULL;
	double *sum = n ? malloc((n + 1) * sizeof(*sum)) : NULL;
	double best_c = -1;
	int best = min;

	if (n && (!g || !sum)) {
		free(g);
		free(sum);
		return -1;
	}
	/* cost(T) is piecewise linear in T, with its breaks at the gaps: the
	 * least is at MIN, MAX or a gap.  Sorted, the gaps up to T are a
	 * prefix: cost(T) = sum[k] + (n - k) * (T + BOOT), k of them */
	if (n) {
		memcpy(g, gaps, n * sizeof(*g));
		qsort(g, n, sizeof(*g), _by_value);
		sum[0] = 0;
		for (size_t i = 0; i < n; i++)
			sum[i + 1] = sum[i] + g[i];
	}
	/* candidates in increasing order, so that the least wins a tie */
	for (size_t k = 0, c_i = 0; c_i <= n + 1; c_i++) {
		double t = c_i == 0 ? min : c_i == n + 1 ? max : g[c_i - 1], c;

		if (t < min || t > max)
			continue;
		while (k < n && g[k] <= t)
			k++;
		c = sum ? sum[k] + (double) (n - k) * (t + boot) : 0;
		if (best_c < 0 || c < best_c - 1e-9) {
			best_c = c;
			best = (int) (t + 0.999999);	/* whole seconds, up */
		}
	}
	free(g);
	free(sum);
	if (cost)
		*cost = best_c < 0 ? 0 : best_c;
	return best;
}

static int _by_start(const void *a, const void *b)
{
	const azml_cost_job_t *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

size_t azml_idle_keep_newest(azml_cost_job_t *jobs, size_t *n, size_t max)
{
	size_t cut;

	if (*n <= max)
		return 0;
	qsort(jobs, *n, sizeof(*jobs), _by_start);
	cut = *n - max;
	memmove(jobs, jobs + cut, max * sizeof(*jobs));
	*n = max;
	return cut;
}

static int _by_long(const void *a, const void *b)
{
	long x = *(const long *) a, y = *(const long *) b;

	return x < y ? -1 : x > y;
}

int azml_idle_gaps(const azml_cost_job_t *jobs, size_t n, long until,
		   double open_min,
		   bool (*node_of)(void *arg, const char *node), void *arg,
		   double **gaps, size_t *ngaps)
{
	long *starts = malloc((n + 1) * sizeof(*starts));
	long *hold = malloc((n + 1) * sizeof(*hold));
	double *g = malloc((n + 1) * sizeof(*g));
	bool *has = calloc(n + 1, sizeof(*has));
	const azml_cost_job_t **ix = _index_by_node(jobs, n);
	size_t ns = 0, ng = 0;
	int rv = -1;

	*gaps = NULL;
	*ngaps = 0;
	if (!starts || !hold || !g || !has || !ix)
		goto out;
	/*
	 * One node at a time, its rows by start (node_of asked once a node):
	 * hold[p] is the latest end among its rows [0, p] (a running job's is
	 * the end of time).  A row's end is idle unless a row that started by
	 * then ends after it: the prefix of rows started by then, found by
	 * bisection, holds the node past it exactly when its hold does (the
	 * row itself ends at its end, not after, so it never counts).
	 */
	for (size_t a = 0, b; a < n; a = b) {
		const char *node = ix[a]->node;
		bool ours = node_of(arg, node);

		for (b = a + 1; b < n && !strcmp(ix[b]->node, node); b++)
			;
		if (!ours)
			continue;
		for (size_t p = a; p < b; p++) {
			const azml_cost_job_t *j = ix[p];
			long e = j->end ? j->end : LONG_MAX;

			starts[ns++] = j->start;
			hold[p] = p > a && hold[p - 1] > e ? hold[p - 1] : e;
			has[ix[p] - jobs] = true;	/* TARGET's */
		}
		for (size_t p = a; p < b; p++) {
			const azml_cost_job_t *j = ix[p];
			size_t lo = a, hi = b;

			if (!j->end)
				continue;
			/* the rows started by its end: [a, lo) */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (ix[mid]->start <= j->end)
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo > a && hold[lo - 1] > j->end)
				has[ix[p] - jobs] = false;	/* held: not idle */
		}
	}
	if (ns)
		qsort(starts, ns, sizeof(*starts), _by_long);
	/* in the rows' order: the first start (on any of TARGET's nodes)
	 * after each idle end */
	for (size_t i = 0; i < n; i++) {
		const azml_cost_job_t *j = &jobs[i];
		size_t lo = 0, hi = ns;

		if (!has[i] || !j->end)
			continue;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (starts[mid] <= j->end)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < ns)
			g[ng++] = (double) (starts[lo] - j->end);
		else if ((double) (until - j->end) > open_min)
			g[ng++] = (double) (until - j->end);
	}
	*gaps = g;
	*ngaps = ng;
	g = NULL;
	rv = 0;
out:
	free(starts);
	free(hold);
	free(g);
	free(has);
	free(ix);
	return rv;
}

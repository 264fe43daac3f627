/*
 * cost.c - the journal's VM-seconds split, priced and summed (see cost.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost.h"

typedef struct {
	azml_cost_row_t *r;
	size_t n, cap;
} rows_t;

static azml_cost_row_t *_row(rows_t *rs, const char *key, const char *target)
{
	for (size_t i = 0; i < rs->n; i++)
		if (!strcmp(rs->r[i].key, key))
			return &rs->r[i];
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

int azml_cost_compute(const azml_cost_in_t *in, azml_cost_by_t by,
		      azml_cost_row_t **rows, size_t *nrows,
		      azml_cost_row_t *total)
{
	rows_t rs = { 0 };
	azml_cost_row_t all = { .priced = true };

	for (size_t v = 0; v < in->nvm; v++) {
		const azml_jvm_t *vm = &in->vm[v];
		const char *node = vm->first.node, *target = vm->first.target;
		bool spot = !strcmp(vm->first.prio, "spot"), billed = false;
		double hour = in->prices ? azml_prices_hourly(in->prices,
						vm->first.size, spot) : -1;
		double disk = in->prices ? azml_prices_hourly(in->prices, "disk",
							      false) : -1;
		bool priced = hour >= 0 && disk >= 0;
		double run_rate = ((hour > 0 ? hour : 0) + (disk > 0 ? disk : 0)) /
				  3600.0;
		double disk_rate = (disk > 0 ? disk : 0) / 3600.0;
		int cpus = in->node_cpus && strcmp(node, "-") ?
			   in->node_cpus(in->arg, node) : 0;
		azml_cost_split_t vs = { 0 };
		azml_cost_row_t *tr;

		for (size_t k = 0; k < vm->nspans; k++) {
			const azml_jspan_t *s = &vm->span[k];
			long a = s->from > in->since ? s->from : in->since;
			long b = s->to < in->until ? s->to : in->until;
			long boot_end, ua;
			double up, busy = 0;

			if (b <= a)
				continue;
			billed = true;
			if (!s->running) {
				vs.disk += (double) (b - a);
				vs.disk_c += (double) (b - a) * disk_rate;
				continue;
			}
			boot_end = s->booted >= s->from && s->booted <= s->to ?
				   s->booted : s->to;
			vs.boot += _overlap(s->from, boot_end, a, b);
			ua = boot_end > a ? boot_end : a;
			up = b > ua ? (double) (b - ua) : 0;
			if (up <= 0 || !in->jobs) {
				vs.idle += up;
				continue;
			}
			/* the jobs on its node while it was up */
			for (int pass = 0; pass < 2; pass++) {
				/* overbooked (shares past the node): scaled */
				double scale = pass && busy > up ? up / busy : 1;
				for (size_t j = 0; j < in->njobs; j++) {
					const azml_cost_job_t *jb = &in->jobs[j];
					long je = jb->end ? jb->end : in->until;
					double share = cpus > 0 ? (double) jb->cpus /
						       cpus : 1, o;

					if (strcmp(jb->node, node))
						continue;
					if (share > 1 || share <= 0)
						share = 1;
					o = _overlap(jb->start, je, ua, b) * share;
					if (!o)
						continue;
					if (!pass) {
						busy += o;
						continue;
					}
					o *= scale;
					if (by != AZML_COST_BY_TARGET) {
						char buf[32];
						azml_cost_row_t *jr = _row(&rs,
							_job_key(jb, by, buf,
								 sizeof(buf)),
							target);

						if (!jr)
							goto oom;
						jr->s.busy += o;
						jr->s.busy_c += o * run_rate;
						jr->priced = jr->priced && priced;
					}
				}
				if (!pass && busy <= 0)
					break;
			}
			if (busy > up)
				busy = up;
			vs.busy += busy;
			vs.idle += up - busy;
		}
		if (!billed)
			continue;
		vs.busy_c = vs.busy * run_rate;
		vs.boot_c = vs.boot * run_rate;
		vs.idle_c = vs.idle * run_rate;
		if (by == AZML_COST_BY_TARGET) {
			if (!(tr = _row(&rs, target, target)))
				goto oom;
			tr->vms++;
			tr->creates += vm->span[0].from >= in->since &&
				       vm->span[0].from < in->until;
			_add(&tr->s, &vs);
			tr->priced = tr->priced && priced;
		}
		all.vms++;
		all.creates += vm->span[0].from >= in->since &&
			       vm->span[0].from < in->until;
		_add(&all.s, &vs);
		all.priced = all.priced && priced;
	}
	if (rs.n)
		qsort(rs.r, rs.n, sizeof(*rs.r), _cmp);
	*rows = rs.r;
	*nrows = rs.n;
	if (total)
		*total = all;
	return 0;
oom:
	free(rs.r);
	*rows = NULL;
	*nrows = 0;
	return -1;
}

/* ---- IdleSecondsBeforeScaledown=auto ---- */

int azml_idle_auto(const double *gaps, size_t n, double boot, int min, int max,
		   double *cost)
{
	int best = min;
	double best_c = -1;

	/* cost(T) is piecewise linear in T, with its breaks at the gaps: the
	 * least is at MIN, MAX or a gap */
	for (size_t k = 0; k <= n + 1; k++) {
		double t = k == n ? min : k == n + 1 ? max : gaps[k], c = 0;

		if (t < min || t > max)
			continue;
		for (size_t i = 0; i < n; i++)
			c += gaps[i] <= t ? gaps[i] : t + boot;
		if (best_c < 0 || c < best_c - 1e-9 ||
		    (c <= best_c + 1e-9 && t < best)) {
			best_c = c;
			best = (int) (t + 0.999999);	/* whole seconds, up */
		}
	}
	if (cost)
		*cost = best_c < 0 ? 0 : best_c;
	return best;
}

static int _by_start(const void *a, const void *b)
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
	double *g = malloc((n + 1) * sizeof(*g));
	size_t ns = 0, ng = 0;

	*gaps = NULL;
	*ngaps = 0;
	if (!starts || !g) {
		free(starts);
		free(g);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (node_of(arg, jobs[i].node))
			starts[ns++] = jobs[i].start;
	if (ns)
		qsort(starts, ns, sizeof(*starts), _by_start);
	for (size_t i = 0; i < n; i++) {
		const azml_cost_job_t *j = &jobs[i];
		bool held = false;
		size_t lo = 0, hi = ns;

		if (!j->end || !node_of(arg, j->node))
			continue;
		/* another job on the node past this one's end: not idle */
		for (size_t k = 0; k < n && !held; k++)
			held = k != i && !strcmp(jobs[k].node, j->node) &&
			       jobs[k].start <= j->end &&
			       (!jobs[k].end || jobs[k].end > j->end);
		if (held)
			continue;
		/* the first start after its end */
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;

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
	free(starts);
	*gaps = g;
	*ngaps = ng;
	return 0;
}

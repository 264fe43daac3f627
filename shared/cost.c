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

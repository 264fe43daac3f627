/*
 * cost-test.c - a scripted day, priced to the cent against the hand
 * computation written out below: two jobs on a dedicated VM (one on half
 * its CPUs), a boot, the idle wait before scale-down, a deallocated
 * instance, a Spot VM evicted; the same day without slurmdbd's jobs; a
 * size without a price.
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cost.h"
#include "testutil.h"

#define D 1796000000L	/* the day begins (2026-11-30 00:53:20 UTC) */

static azml_jrec_t _r(azml_jkind_t k, long at, const char *vm, const char *id,
		      const char *node, const char *target, const char *size,
		      bool spot)
{
	azml_jrec_t r;

	ck_assert_int_eq(azml_jrec_make(&r, k, at, vm, id, node, target, size,
					spot, NULL), 0);
	return r;
}

/*
 * The day, [D, D + 86400):
 *   cpu-1, Standard_D4s_v3 dedicated, 4 CPUs: created D+3600, registered
 *     180 s later; job 1 (alice, physics) on its 4 CPUs for 7200 s, then
 *     job 2 (bob, chem) on 2 of them for 3600 s, then 600 s idle (the
 *     wait before scale-down); deleted at D+15180.
 *   inst-1, Standard_D4s_v3: deallocated before the day and all of it.
 *   spot-1, Standard_D2s_v3 Spot, 2 CPUs: created D+7200, registered
 *     120 s later, job 3 (alice, physics) on both CPUs for 1800 s, 300 s
 *     idle, evicted at D+9420.
 * Prices: D4s_v3 0.192 an hour, D2s_v3 Spot 0.0115, the disk 5.28 a month
 * (5.28 / 730 = 0.0072329 an hour).
 *
 * By hand:
 *   cpu-1 runs 15180 - 3600 = 11580 s at (0.192 + 0.0072329) / 3600 a
 *     second = 0.640866: boot 180 s, busy 7200 + 3600 * 2/4 = 9000 s,
 *     idle 11580 - 180 - 9000 = 2400 s.  Job 1: 7200 s = 0.398466;
 *     job 2: 1800 s = 0.099616.
 *   inst-1: its disk, 24 h * 0.0072329 = 0.173589.
 *   spot-1 runs 2220 s at (0.0115 + 0.0072329) / 3600 = 0.011552: boot
 *     120, busy 1800 (job 3: 0.009366), idle 300.
 *   In all 0.826007: 0.83.  Alice 0.398466 + 0.009366 = 0.407832: 0.41;
 *   bob 0.10.
 */
static azml_jrec_t day[32];
static size_t nday;
static azml_jvm_t *vm;
static size_t nvm;
static azml_prices_t prices;
static const azml_cost_job_t jobs[] = {
	{ 1, "alice", "physics", "cpu-1", 4, D + 3780, D + 10980 },
	{ 2, "bob", "chem", "cpu-1", 2, D + 10980, D + 14580 },
	{ 3, "alice", "physics", "spot-1", 2, D + 7320, D + 9120 },
	/* on a node that is not ours: no VM, no cost */
	{ 4, "carol", "chem", "onprem-1", 8, D + 100, D + 50000 },
};

static int _cpus(void *arg, const char *node)
{
	return !strcmp(node, "cpu-1") ? 4 : !strcmp(node, "spot-1") ? 2 : 0;
}

static void _setup(void)
{
	char err[256];

	nday = 0;
	day[nday++] = _r(AZML_J_CREATED, D + 3600, "cpu-1", "A", "cpu-1", "cpu",
			 "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_RUNNING, D + 3650, "cpu-1", "A", "cpu-1", "cpu",
			 "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_REGISTERED, D + 3780, "cpu-1", "A", "cpu-1",
			 "cpu", "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_DELETED, D + 15180, "cpu-1", "A", "cpu-1", "cpu",
			 "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_CREATED, D - 30 * 86400, "inst-1", "B", "inst-1",
			 "inst", "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_DEALLOCATED, D - 3600, "inst-1", "B", "inst-1",
			 "inst", "Standard_D4s_v3", false);
	day[nday++] = _r(AZML_J_CREATED, D + 7200, "spot-1", "C", "spot-1",
			 "spot", "Standard_D2s_v3", true);
	day[nday++] = _r(AZML_J_REGISTERED, D + 7320, "spot-1", "C", "spot-1",
			 "spot", "Standard_D2s_v3", true);
	day[nday++] = _r(AZML_J_EVICTED, D + 9420, "spot-1", "C", "spot-1",
			 "spot", "Standard_D2s_v3", true);
	/* the repair wrote cpu-1's create again: it counts once */
	day[nday++] = day[0];
	vm = azml_journal_fold(day, nday, D + 86400 + 5000, &nvm);
	ck_assert_uint_eq(nvm, 3);
	memset(&prices, 0, sizeof(prices));
	ck_assert_int_eq(azml_prices_parse_file(
		"Standard_D4s_v3 dedicated 0.192\n"
		"Standard_D2s_v3 spot 0.0115\n"
		"disk 5.28\n", "/p", &prices, err, sizeof(err)), 0);
}

static void _teardown(void)
{
	azml_journal_free(vm, nvm);
	azml_prices_free(&prices);
}

static char *_cents(double v)
{
	static char buf[4][32];
	static int i;

	i = (i + 1) % 4;
	snprintf(buf[i], sizeof(buf[i]), "%.2f", v);
	return buf[i];
}

static double _cost(const azml_cost_split_t *s)
{
	return s->busy_c + s->boot_c + s->idle_c + s->disk_c;
}

static const azml_cost_row_t *_key(const azml_cost_row_t *r, size_t n,
				   const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(r[i].key, key))
			return &r[i];
	ck_abort_msg("no row %s", key);
	return NULL;
}

START_TEST(scripted_day)
{
	azml_cost_in_t in = { .since = D, .until = D + 86400, .vm = vm,
			      .nvm = nvm, .prices = &prices, .jobs = jobs,
			      .njobs = 4, .node_cpus = _cpus };
	azml_cost_row_t *r, total;
	const azml_cost_row_t *x;
	size_t n;

	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_TARGET, &r, &n,
					   &total), 0);
	ck_assert_uint_eq(n, 3);
	x = _key(r, n, "cpu");
	ck_assert_int_eq(x->vms, 1);
	ck_assert_int_eq(x->creates, 1);
	ck_assert(fabs(x->s.boot - 180) < 1e-6);
	ck_assert(fabs(x->s.busy - 9000) < 1e-6);
	ck_assert(fabs(x->s.idle - 2400) < 1e-6);
	ck_assert_str_eq(_cents(_cost(&x->s)), "0.64");
	x = _key(r, n, "inst");
	ck_assert_int_eq(x->creates, 0);
	ck_assert(fabs(x->s.disk - 86400) < 1e-6);
	ck_assert(x->s.busy + x->s.boot + x->s.idle == 0);
	ck_assert_str_eq(_cents(_cost(&x->s)), "0.17");
	x = _key(r, n, "spot");
	ck_assert(fabs(x->s.boot - 120) < 1e-6);
	ck_assert(fabs(x->s.busy - 1800) < 1e-6);
	ck_assert(fabs(x->s.idle - 300) < 1e-6);
	ck_assert_str_eq(_cents(_cost(&x->s)), "0.01");
	ck_assert(x->priced);
	ck_assert_int_eq(total.vms, 3);
	ck_assert_int_eq(total.creates, 2);
	ck_assert_str_eq(_cents(_cost(&total.s)), "0.83");
	ck_assert(fabs(_cost(&total.s) - 0.826007) < 1e-6);
	free(r);

	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_JOB, &r, &n,
					   NULL), 0);
	ck_assert_uint_eq(n, 3);	/* job 4 ran on no VM of ours */
	ck_assert_str_eq(r[0].key, "1");
	ck_assert_str_eq(r[0].target, "cpu");
	ck_assert(fabs(r[0].s.busy - 7200) < 1e-6);
	ck_assert_str_eq(_cents(r[0].s.busy_c), "0.40");
	ck_assert(fabs(r[1].s.busy - 1800) < 1e-6);	/* half the node */
	ck_assert_str_eq(_cents(r[1].s.busy_c), "0.10");
	ck_assert_str_eq(r[2].target, "spot");
	ck_assert_str_eq(_cents(r[2].s.busy_c), "0.01");
	free(r);

	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_USER, &r, &n,
					   NULL), 0);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(_cents(_key(r, n, "alice")->s.busy_c), "0.41");
	ck_assert_str_eq(_cents(_key(r, n, "bob")->s.busy_c), "0.10");
	free(r);
	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_ACCOUNT, &r, &n,
					   NULL), 0);
	ck_assert_str_eq(_cents(_key(r, n, "physics")->s.busy_c), "0.41");
	free(r);
}
END_TEST

/* slurmdbd down: the same per-target money, busy and idle not split */
START_TEST(without_jobs)
{
	azml_cost_in_t in = { .since = D, .until = D + 86400, .vm = vm,
			      .nvm = nvm, .prices = &prices,
			      .node_cpus = _cpus };
	azml_cost_row_t *r, total;
	const azml_cost_row_t *x;
	size_t n;

	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_TARGET, &r, &n,
					   &total), 0);
	x = _key(r, n, "cpu");
	ck_assert(x->s.busy == 0);
	ck_assert(fabs(x->s.idle - 11400) < 1e-6);	/* up: 9000 + 2400 */
	ck_assert(fabs(x->s.boot - 180) < 1e-6);
	ck_assert_str_eq(_cents(_cost(&x->s)), "0.64");
	ck_assert_str_eq(_cents(_cost(&total.s)), "0.83");
	free(r);
}
END_TEST

/* A window that cuts spans, and a size without a price */
START_TEST(window_and_missing_price)
{
	azml_prices_t some = { 0 };
	char err[256];
	azml_cost_in_t in = { .since = D + 7200, .until = D + 10800, .vm = vm,
			      .nvm = nvm, .prices = &some, .jobs = jobs,
			      .njobs = 4, .node_cpus = _cpus };
	azml_cost_row_t *r, total;
	const azml_cost_row_t *x;
	size_t n;

	ck_assert_int_eq(azml_prices_parse_file("Standard_D4s_v3 dedicated "
		"0.192\ndisk 5.28\n", "/p", &some, err, sizeof(err)), 0);
	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_TARGET, &r, &n,
					   &total), 0);
	x = _key(r, n, "cpu");
	ck_assert(fabs(x->s.busy - 3600) < 1e-6);	/* job 1 only */
	ck_assert(x->s.boot == 0);
	ck_assert_int_eq(x->creates, 0);	/* before the window */
	ck_assert(x->priced);
	x = _key(r, n, "spot");
	ck_assert(!x->priced);			/* no Spot price of D2s_v3 */
	ck_assert(fabs(x->s.busy + x->s.boot + x->s.idle - 2220) < 1e-6);
	ck_assert(!total.priced);
	free(r);
	azml_prices_free(&some);
}
END_TEST

/* IdleSecondsBeforeScaledown=auto's rule, against costs worked by hand */
START_TEST(idle_auto_rule)
{
	const double a[] = { 10, 20, 30, 1000, 2000 };
	const double b[] = { 100, 100, 100, 5000 };
	double c;

	/* cost(30) = 10 + 20 + 30 + 2 * (30 + 100) = 320; cost(1000) = 2160;
	 * cost(3600) = 3060; 10 and 20 are below the minimum */
	ck_assert_int_eq(azml_idle_auto(a, 5, 100, 30, 3600, &c), 30);
	ck_assert(fabs(c - 320) < 1e-9);
	/* cost(30) = 4 * (30 + 300) = 1320; cost(100) = 3 * 100 + (100 +
	 * 300) = 700; cost(3600) = 300 + 3600 + 300 = 4200.  With a boot of
	 * 1000: 4120, 1400, 4900 */
	ck_assert_int_eq(azml_idle_auto(b, 4, 300, 30, 3600, &c), 100);
	ck_assert(fabs(c - 700) < 1e-9);
	ck_assert_int_eq(azml_idle_auto(b, 4, 1000, 30, 3600, &c), 100);
	ck_assert(fabs(c - 1400) < 1e-9);
	/* a boot dearer than any wait: wait out the longest gap; 3000 and
	 * 3600 cost the same (3300), the lesser wins */
	{
		const double d[] = { 100, 100, 100, 3000 };

		ck_assert_int_eq(azml_idle_auto(d, 4, 1e6, 30, 3600, &c), 3000);
		ck_assert(fabs(c - 3300) < 1e-9);
	}
	/* nothing learnt: the least */
	ck_assert_int_eq(azml_idle_auto(NULL, 0, 100, 60, 3600, &c), 60);
}
END_TEST

static bool _ours(void *arg, const char *node)
{
	return node[0] == 'n';
}

START_TEST(idle_gaps_from_jobs)
{
	const azml_cost_job_t j[] = {
		{ 1, "a", "x", "n1", 1, 0, 100 },
		{ 2, "a", "x", "n1", 1, 150, 200 },
		{ 3, "a", "x", "n2", 1, 50, 400 },
		{ 4, "a", "x", "x1", 1, 120, 130 },	/* another target's */
		{ 5, "a", "x", "n2", 1, 60, 300 },	/* n2 held past it */
	};
	double *g;
	size_t n;

	ck_assert_int_eq(azml_idle_gaps(j, 5, 1000, 0, _ours, NULL, &g, &n),
			 0);
	/* n1 idle at 100 until job 2 (150); at 200, still idle at 1000; n2
	 * at 400, still idle; job 5's end is not idle (job 3 holds n2) */
	ck_assert_uint_eq(n, 3);
	ck_assert(g[0] == 50 && g[1] == 800 && g[2] == 600);
	free(g);
	/* gaps still open count once longer than OPEN_MIN: 800 > 700 > 600 */
	ck_assert_int_eq(azml_idle_gaps(j, 5, 1000, 700, _ours, NULL, &g, &n),
			 0);
	ck_assert_uint_eq(n, 2);
	ck_assert(g[0] == 50 && g[1] == 800);
	free(g);
	ck_assert_int_eq(azml_idle_gaps(j, 5, 1000, 3600, _ours, NULL, &g,
					&n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert(g[0] == 50);
	free(g);
}
END_TEST

/* ---- the same answers, O(N log N): against the definitions, brute force */

static unsigned long seed;

static unsigned long _rand(void)
{
	seed = seed * 6364136223846793005UL + 1442695040888963407UL;
	return seed >> 33;
}

/* NODES nodes named n1.. (ours) and x1.. (not ours, every fourth), starts
 * and ends on a coarse grid so that rows start and end together often */
static azml_cost_job_t *_random_jobs(size_t n, unsigned long nodes,
				     long span, long grid)
{
	azml_cost_job_t *j = calloc(n, sizeof(*j));

	ck_assert_ptr_nonnull(j);
	for (size_t i = 0; i < n; i++) {
		unsigned long k = _rand() % nodes;

		j[i].id = (uint32_t) (i + 1);
		snprintf(j[i].user, sizeof(j[i].user), "u%lu", _rand() % 7);
		snprintf(j[i].account, sizeof(j[i].account), "a%lu",
			 _rand() % 3);
		snprintf(j[i].node, sizeof(j[i].node), "%c%lu",
			 k % 4 == 3 ? 'x' : 'n', k + 1);
		j[i].cpus = 1 + (int) (_rand() % 4);
		j[i].start = (long) (_rand() % (unsigned long) (span / grid)) *
			     grid;
		j[i].end = _rand() % 8 ? j[i].start + grid *
			   (long) (_rand() % 6) : 0;	/* 0: running */
	}
	return j;
}

/* cost.h's definition of a gap, row by row over every other row */
static void _ref_gaps(const azml_cost_job_t *rows, size_t n, long until,
		      double open_min, double *g, size_t *ng)
{
	*ng = 0;
	for (size_t i = 0; i < n; i++) {
		const azml_cost_job_t *j = &rows[i];
		bool held = false;
		long next = -1;

		if (!j->end || !_ours(NULL, j->node))
			continue;
		for (size_t k = 0; k < n; k++) {
			const azml_cost_job_t *o = &rows[k];

			if (k != i && !strcmp(o->node, j->node) &&
			    o->start <= j->end && (!o->end || o->end > j->end))
				held = true;
			if (_ours(NULL, o->node) && o->start > j->end &&
			    (next < 0 || o->start < next))
				next = o->start;
		}
		if (held)
			continue;
		if (next >= 0)
			g[(*ng)++] = (double) (next - j->end);
		else if ((double) (until - j->end) > open_min)
			g[(*ng)++] = (double) (until - j->end);
	}
}

/* cost.h's rule, every candidate summed over every gap */
static int _ref_auto(const double *g, size_t n, double boot, int min, int max,
		     double *cost)
{
	double best_c = -1, best_t = min;

	for (size_t k = 0; k <= n + 1; k++) {
		double t = k == n ? min : k == n + 1 ? max : g[k], c = 0;

		if (t < min || t > max)
			continue;
		for (size_t i = 0; i < n; i++)
			c += g[i] <= t ? g[i] : t + boot;
		if (best_c < 0 || c < best_c || (c == best_c && t < best_t)) {
			best_c = c;
			best_t = t;
		}
	}
	*cost = best_c < 0 ? 0 : best_c;
	return (int) (best_t + 0.999999);
}

START_TEST(idle_gaps_match_brute_force)
{
	for (seed = 1; seed < 40; seed++) {
		size_t n = 50 + seed * 10, ng, rng;
		azml_cost_job_t *j = _random_jobs(n, 2 + seed % 9, 20000, 100);
		double *g, *ref = calloc(n, sizeof(*ref)), c, rc;
		double boot = (double) (seed * 37 % 900);
		int t, rt;

		_ref_gaps(j, n, 20500, 300, ref, &rng);
		ck_assert_int_eq(azml_idle_gaps(j, n, 20500, 300, _ours, NULL,
						&g, &ng), 0);
		ck_assert_uint_eq(ng, rng);
		for (size_t i = 0; i < ng; i++)
			ck_assert_msg(g[i] == ref[i], "seed %lu gap %zu: %g, "
				      "expected %g", seed, i, g[i], ref[i]);
		/* integer gaps: the sums are exact, ties compare equal */
		t = azml_idle_auto(g, ng, boot, 30, 3600, &c);
		rt = _ref_auto(ref, rng, boot, 30, 3600, &rc);
		ck_assert_msg(t == rt && c == rc, "seed %lu: T %d (cost %g), "
			      "expected %d (cost %g)", seed, t, c, rt, rc);
		free(g);
		free(ref);
		free(j);
	}
}
END_TEST

static int _cmp_long(const void *a, const void *b)
{
	long x = *(const long *) a, y = *(const long *) b;

	return x < y ? -1 : x > y;
}

static double _secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 80k job-node rows (a busy week): the gaps and the rule in one pass each;
 * the time is printed, not judged; the rows cut to the newest */
START_TEST(idle_auto_80k_rows)
{
	size_t n = 80000, ng, keep;
	azml_cost_job_t *j;
	double *g, c, t0, t1, t2;
	long *st;
	int t;

	seed = 7;
	j = _random_jobs(n, 2000, 7 * 86400, 10);
	t0 = _secs();
	ck_assert_int_eq(azml_idle_gaps(j, n, 7 * 86400 + 3600, 3600, _ours,
					NULL, &g, &ng), 0);
	t1 = _secs();
	t = azml_idle_auto(g, ng, 300, 30, 3600, &c);
	t2 = _secs();
	printf("cost-test: %zu job-node rows: %zu idle gaps in %.3f s, "
	       "IdleSecondsBeforeScaledown=auto %d s in %.3f s\n", n, ng,
	       t1 - t0, t, t2 - t1);
	ck_assert(ng > 1000 && ng < n);
	ck_assert(t >= 30 && t <= 3600 && c > 0);
	free(g);
	/* the newest 50000 stay, the rest go: none kept starts before the
	 * 50000th latest start */
	st = calloc(n, sizeof(*st));
	ck_assert_ptr_nonnull(st);
	for (size_t i = 0; i < n; i++)
		st[i] = j[i].start;
	qsort(st, n, sizeof(*st), _cmp_long);
	keep = n;
	ck_assert_uint_eq(azml_idle_keep_newest(j, &keep, 50000), n - 50000);
	ck_assert_uint_eq(keep, 50000);
	for (size_t i = 0; i < keep; i++)
		ck_assert(j[i].start >= st[n - 50000]);
	free(st);
	ck_assert_uint_eq(azml_idle_keep_newest(j, &keep, 50000), 0);
	free(j);
}
END_TEST

/* cost --by job and --by user over many rows: every busy second of the
 * VMs goes to one job (the sum is the VMs' busy time), one row a job */
START_TEST(by_job_many_rows)
{
	size_t n = 20000, nv = 200, nrows, nu;
	azml_cost_job_t *j;
	azml_jvm_t *v = calloc(nv, sizeof(*v));
	azml_jspan_t *sp = calloc(nv, sizeof(*sp));
	azml_cost_row_t *rows, *urows, total, utotal, ttotal, *trows;
	double busy = 0, ubusy = 0, t0;
	azml_cost_in_t in = { .since = 0, .until = 86400, .vm = v, .nvm = nv };

	seed = 3;
	j = _random_jobs(n, nv, 86400, 60);
	for (size_t i = 0; i < nv; i++) {
		snprintf(v[i].first.node, sizeof(v[i].first.node), "%c%zu",
			 i % 4 == 3 ? 'x' : 'n', i + 1);
		snprintf(v[i].first.target, sizeof(v[i].first.target), "t");
		snprintf(v[i].first.size, sizeof(v[i].first.size), "S");
		snprintf(v[i].first.prio, sizeof(v[i].first.prio), "dedicated");
		sp[i] = (azml_jspan_t) { .from = 0, .to = 86400, .booted = 60,
					 .running = true };
		v[i].span = &sp[i];
		v[i].nspans = 1;
	}
	in.jobs = j;
	in.njobs = n;
	t0 = _secs();
	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_JOB, &rows, &nrows,
					   &total), 0);
	printf("cost-test: cost --by job over %zu rows: %.3f s\n", n,
	       _secs() - t0);
	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_TARGET, &trows,
					   &nu, &ttotal), 0);
	ck_assert(nrows > n / 2 && nrows <= n);
	for (size_t i = 0; i < nrows; i++) {
		busy += rows[i].s.busy;
		if (i)	/* one row a job, in order */
			ck_assert_uint_lt(strtoul(rows[i - 1].key, NULL, 10),
					  strtoul(rows[i].key, NULL, 10));
	}
	ck_assert(fabs(busy - ttotal.s.busy) < 1e-3 * ttotal.s.busy);
	ck_assert(ttotal.s.busy > 0);
	ck_assert_int_eq(azml_cost_compute(&in, AZML_COST_BY_USER, &urows, &nu,
					   &utotal), 0);
	ck_assert_uint_eq(nu, 7);
	for (size_t i = 0; i < nu; i++)
		ubusy += urows[i].s.busy;
	ck_assert(fabs(ubusy - busy) < 1e-6 * busy);
	free(rows);
	free(urows);
	free(trows);
	free(sp);
	free(v);
	free(j);
}
END_TEST

/* cost --csv: RFC 4180 quoting, and no name a spreadsheet runs */
START_TEST(csv_fields)
{
	static const char *const in[][2] = {
		{ "alice", "alice" },
		{ "1234", "1234" },
		{ "", "" },
		{ "a,b", "\"a,b\"" },
		{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
		{ "two\nlines", "\"two\nlines\"" },
		{ "cr\rhere", "\"cr\rhere\"" },
		{ "=HYPERLINK(\"x\")", "\"'=HYPERLINK(\"\"x\"\")\"" },
		{ "+1", "\"'+1\"" },
		{ "-2+3", "\"'-2+3\"" },
		{ "@SUM(A1)", "\"'@SUM(A1)\"" },
		{ "a=b", "a=b" },
		{ "'quoted", "'quoted" },
	};
	char buf[64], small[8];

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		ck_assert_str_eq(azml_csv_field(in[i][0], buf, sizeof(buf)),
				 in[i][1]);
	/* a buffer too short: cut, still one quoted field */
	ck_assert_str_eq(azml_csv_field("\"\"\"\"\"", small, sizeof(small)),
			 "\"\"\"\"\"\"");
	ck_assert_str_eq(azml_csv_field("=abcdefgh", small, sizeof(small)),
			 "\"'=abc\"");
	ck_assert_str_eq(azml_csv_field("x", small, 3), "");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("cost");

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_add_test(tc, scripted_day);
	tcase_add_test(tc, without_jobs);
	tcase_add_test(tc, window_and_missing_price);
	tcase_add_test(tc, idle_auto_rule);
	tcase_add_test(tc, idle_gaps_from_jobs);
	tcase_add_test(tc, idle_gaps_match_brute_force);
	tcase_add_test(tc, idle_auto_80k_rows);
	tcase_add_test(tc, by_job_many_rows);
	tcase_add_test(tc, csv_fields);
	return tu_run("cost", tc);
}

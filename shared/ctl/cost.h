/*
 * cost.h - what the VMs cost over a window, and who used them: each
 * billed VM-second of the lifecycle journal split into busy (a job's
 * allocation), boot (from create or start to its slurmd's registration),
 * idle (registered, no job: the wait before scale-down included) and disk
 * (a deallocated VM's OS disk), priced, and summed per target, job, user
 * and account.  azml_cost_compute() does no I/O: the caller brings the
 * journal's VMs, the prices, the nodes' CPUs and the jobs (slurmdbd's);
 * azml_cost_gather() reads them (StateDir, slurmctld, slurmdbd).
 */
#ifndef AZML_COST_H
#define AZML_COST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "journal.h"
#include "nodes.h"
#include "prices.h"

/* A job's allocation on one node. */
typedef struct {
	uint32_t id;
	char user[64];
	char account[64];
	char node[96];
	int cpus;		/* its CPUs on NODE */
	long start, end;	/* end 0: still running */
} azml_cost_job_t;

/* Seconds and money of one kind of time. */
typedef struct {
	double busy, boot, idle, disk;		/* seconds */
	double busy_c, boot_c, idle_c, disk_c;	/* currency */
} azml_cost_split_t;

typedef struct azml_cost_row {
	char key[96];		/* the target, job id, user or account */
	char target[96];	/* jobs: the target of their nodes */
	int vms;		/* targets: VMs that billed in the window */
	int creates;		/* targets: VMs created in the window */
	int replaced;		/* targets: VMs replaced (a health check's
				 * hardware failure) in the window */
	azml_cost_split_t s;
	bool priced;		/* every second had a price */
} azml_cost_row_t;

typedef enum {
	AZML_COST_BY_TARGET,
	AZML_COST_BY_JOB,
	AZML_COST_BY_USER,
	AZML_COST_BY_ACCOUNT,
} azml_cost_by_t;

typedef struct {
	/* in */
	long since, until;		/* the window, epoch seconds */
	const azml_jvm_t *vm;
	size_t nvm;
	const azml_prices_t *prices;	/* NULL: seconds only */
	const azml_cost_job_t *jobs;	/* NULL: no job figures */
	size_t njobs;
	/* a node's CPUs (0: unknown: a job then has the whole node) */
	int (*node_cpus)(void *arg, const char *node);
	void *arg;
} azml_cost_in_t;

/*
 * Rows BY one kind, sorted by key, into *ROWS (malloc'd, *N of them); the
 * sum of every row into *TOTAL when not NULL.  Busy time not covered by a
 * job of JOBS (a job slurmdbd does not have) is idle in BY_TARGET.  0, or
 * -1 when out of memory.
 */
int azml_cost_compute(const azml_cost_in_t *in, azml_cost_by_t by,
		      azml_cost_row_t **rows, size_t *n, azml_cost_row_t *total);

/* What a report is made of, but the prices. */
typedef struct {
	azml_jrec_t *recs;	/* the journal's records of the window */
	size_t nrecs;
	size_t bad;		/* journal lines skipped */
	azml_jvm_t *vm;		/* the records, folded per VM */
	size_t nvm;
	azml_node_t *nodes;	/* slurmctld's (none when it does not answer) */
	int nnodes;
	azml_cost_job_t *jobs;	/* slurmdbd's */
	size_t njobs;
	bool have_jobs;
	char jobs_err[600];	/* !have_jobs: why there are no job figures */
} azml_cost_data_t;

/*
 * Read into *D (its contents owned by the caller, freed with
 * azml_cost_data_free()) the journal's VMs from SINCE to UNTIL (spans still
 * open end at NOW when earlier), with the registrations slurmctld knows of
 * that the journal does not have yet, slurmctld's nodes and slurmdbd's jobs
 * (no jobs is not an error: have_jobs and jobs_err say so).  StateDir must
 * be set up (azml_state_init()).  0, or -1 with ERR saying why (*D then
 * holds nothing).
 */
int azml_cost_gather(const azml_conf_t *conf, long since, long until,
		     long now, azml_cost_data_t *d, char *err, size_t errlen);

/* Free what *D holds (not D); a zeroed *D is a no-op. */
void azml_cost_data_free(azml_cost_data_t *d);

/*
 * *IN for D's figures from SINCE to UNTIL at PRICES (NULL: seconds only);
 * IN points into D (and PRICES), which must outlive it.
 */
void azml_cost_data_in(const azml_cost_data_t *d, long since, long until,
		       const azml_prices_t *prices, azml_cost_in_t *in);

/*
 * The rows per target from SINCE to UNTIL, gathered and computed
 * (azml_cost_gather(), then azml_cost_compute() without prices) into *ROWS
 * (malloc'd, *N; NULL and 0 on error).  *HAVE_JOBS says whether slurmdbd's
 * jobs split busy from idle; WHY says why not.  0, or -1 with WHY saying
 * why (the journal could not be read, out of memory).
 */
int azml_cost_targets(const azml_conf_t *conf, long since, long until,
		      azml_cost_row_t **rows, size_t *n, bool *have_jobs,
		      char *why, size_t whylen);

/*
 * S as one CSV field (RFC 4180) into BUF (N bytes; 2 * strlen(S) + 4 hold
 * any S whole, a shorter BUF gets a cut field, still quoted): between
 * double quotes, its own doubled, when S holds a comma, a double quote, a
 * CR or an LF; and when S begins with '=', '+', '-' or '@', quoted with a
 * single quote before it ("'=cmd"), so that a spreadsheet never takes it
 * for a formula.  Returns BUF.
 */
char *azml_csv_field(const char *s, char *buf, size_t n);

/* ---- IdleSecondsBeforeScaledown=auto ---- */

/* AZML_IDLE_AUTO_MIN, _MAX and _BOOT are in conf.h: generate needs them. */

/*
 * The idle time T in [MIN, MAX] that would have cost least over GAPS[0..N)
 * (seconds from a node going idle to the next job it could have taken),
 * a boot billing BOOT seconds:
 *
 *	cost(T) = sum over gaps g of (g <= T ? g : T + BOOT)
 *
 * a gap shorter than T is billed idle; a longer one is T of idle, then a
 * scale-down, and a boot when work comes back.  The least T among the
 * candidates (MIN, MAX and each gap within them) wins a tie.  With no gaps,
 * MIN.  *COST (when not NULL) receives cost(T).  O(N log N) (the gaps are
 * sorted in a copy); -1 when out of memory.
 */
int azml_idle_auto(const double *gaps, size_t n, double boot, int min, int max,
		   double *cost);

/*
 * The gaps of target TARGET from JOBS (one row per job and node): each time
 * one of its nodes goes idle (a job ends and no other job holds the node),
 * the seconds until the next job starts on any node of TARGET (NODE_OF
 * says whether a node is TARGET's).  A gap still open at UNTIL (no job has
 * started since) is known only once it is longer than OPEN_MIN: it is left
 * out until then, so that a node idle now does not count as a gap that ends
 * now.  *GAPS is malloc'd, in the order of the rows they follow.  0 or -1.
 * O(N log N): the rows are sorted per node, NODE_OF is asked once a node.
 */
int azml_idle_gaps(const azml_cost_job_t *jobs, size_t n, long until,
		   double open_min,
		   bool (*node_of)(void *arg, const char *node), void *arg,
		   double **gaps, size_t *ngaps);

/*
 * The most job rows auto learns from (a week of a busy cluster fits): past
 * it, the oldest rows are dropped, so that a cluster's history bounds
 * neither memory nor time of a reconcile.
 */
#define AZML_IDLE_AUTO_ROWS_MAX 200000

/*
 * Keep the MAX newest (by start) of JOBS[0..*N), first in JOBS (reordered):
 * *N becomes at most MAX.  Returns how many were dropped.
 */
size_t azml_idle_keep_newest(azml_cost_job_t *jobs, size_t *n, size_t max);

#endif

/*
 * acct.h - jobs from Slurm's accounting store (slurmdbd), for the cost
 * report: who ran on which node, on how many CPUs, when.
 */
#ifndef AZML_ACCT_H
#define AZML_ACCT_H

#include <stddef.h>

#include "cost.h"

/*
 * The jobs that ran between SINCE and UNTIL, one row per job and node (a
 * job's CPUs shared evenly by its nodes), into *JOBS (malloc'd, *N).  0, or
 * -1 with ERR saying why there are no job figures: accounting is not
 * slurmdbd, slurmdbd does not answer, the query failed.
 */
int azml_acct_jobs(long since, long until, azml_cost_job_t **jobs, size_t *n,
		   char *err, size_t errlen);

#endif

/*
 * acct.c - jobs from slurmdbd through libslurm's slurmdb API (see acct.h).
 */
#include "config.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <slurm/slurm.h>
#include <slurm/slurmdb.h>

#include "acct.h"
#include "nodes.h"
#include "slurm_compat.h"

/* A job's CPUs: "1=N" of its TRES (cpu is TRES 1). */
static int _cpus(const char *tres)
{
	const char *p = tres;

	while (p && *p) {
		if (!strncmp(p, "1=", 2))
			return atoi(p + 2);
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return 0;
}

static int _push(azml_cost_job_t **jobs, size_t *n, size_t *cap,
		 const azml_cost_job_t *j)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		azml_cost_job_t *m = realloc(*jobs, c * sizeof(*m));

		if (!m)
			return -1;
		*jobs = m;
		*cap = c;
	}
	(*jobs)[(*n)++] = *j;
	return 0;
}

int azml_acct_jobs(long since, long until, azml_cost_job_t **jobs, size_t *n,
		   char *err, size_t errlen)
{
	slurm_conf_t *cf = NULL;
	slurmdb_job_cond_t cond;
	void *db, *list = NULL, *clusters = NULL, *it;
	slurmdb_job_rec_t *rec;
	/* every state of a job that has had nodes */
	static const unsigned ran[] = {
		JOB_RUNNING, JOB_SUSPENDED, JOB_COMPLETE, JOB_CANCELLED,
		JOB_FAILED, JOB_TIMEOUT, JOB_NODE_FAIL, JOB_PREEMPTED,
		JOB_BOOT_FAIL, JOB_DEADLINE, JOB_OOM
	};
	void *states = NULL;
	size_t cap = 0, i;
	int rc = -1;

	*jobs = NULL;
	*n = 0;
	azml_nodes_init();
	if (slurm_load_ctl_conf((time_t) 0, &cf) != SLURM_SUCCESS) {
		snprintf(err, errlen, "slurmctld did not answer (%s), so where "
			 "slurmdbd is is not known", slurm_strerror(errno));
		return -1;
	}
	if (!cf->accounting_storage_type ||
	    !strstr(cf->accounting_storage_type, "slurmdbd")) {
		snprintf(err, errlen, "slurm.conf has AccountingStorageType=%s: "
			 "jobs are recorded only with "
			 "AccountingStorageType=accounting_storage/slurmdbd",
			 cf->accounting_storage_type ?
			 cf->accounting_storage_type :
			 "accounting_storage/none");	/* 24.11: NULL */
		azml_slurm_free_ctl_conf(cf);
		return -1;
	}
	errno = 0;
	db = slurmdb_connection_get(NULL);
	if (!db || errno) {
		snprintf(err, errlen, "slurmdbd at %s:%u is not answering (%s)",
			 cf->accounting_storage_host ?
			 cf->accounting_storage_host : "?",
			 (unsigned) cf->accounting_storage_port,
			 slurm_strerror(errno ? errno : SLURM_ERROR));
		if (db)
			slurmdb_connection_close(&db);
		azml_slurm_free_ctl_conf(cf);
		return -1;
	}
	memset(&cond, 0, sizeof(cond));
	/*
	 * Without a state list slurmdbd keeps only jobs whose time_eligible is
	 * set, and 22.05 stores 0 there for a job that started at once (NOTES).
	 * With one, each state is matched on time_start/time_end.
	 */
	states = slurm_list_create(free);
	for (i = 0; i < sizeof(ran) / sizeof(ran[0]); i++) {
		char *s = malloc(12);

		if (!s) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		snprintf(s, 12, "%u", ran[i]);
		slurm_list_append(states, s);
	}
	cond.state_list = states;
	cond.usage_start = (time_t) since;
	cond.usage_end = (time_t) until;
	cond.flags = JOBCOND_FLAG_NO_STEP;
	cond.db_flags = SLURMDB_JOB_FLAG_NOTSET;
	clusters = slurm_list_create(NULL);
	if (cf->cluster_name)
		slurm_list_append(clusters, cf->cluster_name);
	cond.cluster_list = clusters;
	errno = 0;
	list = slurmdb_jobs_get(db, &cond);
	if (!list) {
		snprintf(err, errlen, "slurmdbd did not answer the query for jobs "
			 "(%s)", slurm_strerror(errno ? errno : SLURM_ERROR));
		goto out;
	}
	it = slurm_list_iterator_create(list);
	while ((rec = slurm_list_next(it))) {
		azml_cost_job_t j = { .id = rec->jobid, .start = rec->start,
				      .end = rec->end };
		azml_hostlist_t hl;
		char *host;
		int nodes, cpus = _cpus(rec->tres_alloc_str);
		struct passwd *pw;

		if (!rec->start || !rec->nodes || !strcmp(rec->nodes, "None assigned"))
			continue;	/* never ran */
		if (rec->user)
			snprintf(j.user, sizeof(j.user), "%s", rec->user);
		else if ((pw = getpwuid(rec->uid)))
			snprintf(j.user, sizeof(j.user), "%s", pw->pw_name);
		else
			snprintf(j.user, sizeof(j.user), "%u", rec->uid);
		snprintf(j.account, sizeof(j.account), "%s",
			 rec->account ? rec->account : "");
		if (!(hl = slurm_hostlist_create(rec->nodes)))
			continue;
		nodes = slurm_hostlist_count(hl);
		while ((host = slurm_hostlist_shift(hl))) {
			snprintf(j.node, sizeof(j.node), "%s", host);
			j.cpus = nodes > 0 ? cpus / nodes : cpus;
			free(host);
			if (_push(jobs, n, &cap, &j)) {
				slurm_hostlist_destroy(hl);
				slurm_list_iterator_destroy(it);
				snprintf(err, errlen, "out of memory");
				goto out;
			}
		}
		slurm_hostlist_destroy(hl);
	}
	slurm_list_iterator_destroy(it);
	rc = 0;
out:
	if (rc) {
		free(*jobs);
		*jobs = NULL;
		*n = 0;
	}
	if (list)
		slurm_list_destroy(list);
	if (clusters)
		slurm_list_destroy(clusters);
	if (states)
		slurm_list_destroy(states);
	slurmdb_connection_close(&db);
	azml_slurm_free_ctl_conf(cf);
	return rc;
}

/*
 * idle.h - IdleSecondsBeforeScaledown=auto's two decisions, pure functions
 * of their inputs: the idle time T a cluster learns from its idle gaps, and
 * which of its idle nodes go, given T and now.  (The cost rule they apply is
 * cost.h's azml_idle_auto/azml_idle_gaps; reconcile.c gathers the inputs.)
 */
#ifndef AZML_IDLE_H
#define AZML_IDLE_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "cost.h"
#include "journal.h"
#include "nodes.h"

#define AZML_IDLE_LEARN_DAYS 7	/* the history T is learnt from */

typedef enum {
	AZML_IDLE_NO_JOBS,	/* no job records: T kept */
	AZML_IDLE_NO_GAPS,	/* no idle gap ended in the history: T kept */
	AZML_IDLE_NOMEM,	/* out of memory: T kept */
	AZML_IDLE_UNCHANGED,	/* learnt, within 10% of T: T kept */
	AZML_IDLE_CHANGED,	/* learnt a new T */
} azml_idle_how_t;

typedef struct {
	azml_idle_how_t how;
	long seconds;		/* T to use */
	long was;		/* T before (learnt, else configured) */
	size_t ngaps;
	double boot;		/* seconds a boot bills */
	size_t nboots;		/* boots journaled (0: BOOT assumed) */
} azml_idle_learnt_t;

/*
 * T for cluster T_ of CONF at NOW: JOBS[0..NJOBS) are slurmdbd's rows of
 * the last AZML_IDLE_LEARN_DAYS (NULL with HAVE_JOBS false: none could be
 * read), JVM[0..NJVM) the journal's VMs (a boot's billed seconds), LEARNT
 * the T kept in StateDir (0: none yet, the configured one is used).  Fills
 * *OUT; never fails (out of memory keeps T, how says so).
 */
void azml_idle_learn(const azml_conf_t *conf, const azml_target_t *t,
		     bool have_jobs, const azml_cost_job_t *jobs, size_t njobs,
		     const azml_jvm_t *jvm, size_t njvm, long learnt, long now,
		     azml_idle_learnt_t *out);

/*
 * The nodes of T_ (in its hostlist's order) that are idle (not powering up
 * or down, not drained) and have had no job for SECONDS or more at NOW:
 * their indexes in NODES[0..NN) into *PICK (malloc'd, NULL when none).
 * Returns how many, or -1 when out of memory.
 */
int azml_idle_pick(const azml_target_t *t, const azml_node_t *nodes, int nn,
		   long seconds, long now, int **pick);

#endif

/*
 * state.h - what slurm-azureml's programs remember between runs, in
 * StateDir: intents (a resume or delete in flight, with its pid) and
 * failure counts (for the back-off).  One small file per node; written
 * with O_EXCL or rename so that concurrent programs do not tear them.
 */
#ifndef AZML_STATE_H
#define AZML_STATE_H

#include <stddef.h>
#include <sys/types.h>

#include "conf.h"

#define AZML_HOLD_AFTER 3	/* failures in a row before a node is held */
#define AZML_BACKOFF 300	/* seconds a held node stays DOWN */

/* Create StateDir/{intent,failures} (0700).  0, or -1 with ERR. */
int azml_state_init(const azml_conf_t *conf, char *err, size_t n);

/* Begin WHAT on NODE: 0, or -1 when another live program holds it. */
int azml_state_intent_begin(const azml_conf_t *conf, const char *node,
			    const char *what);
/* Record the pid that finishes the work (after daemonizing). */
void azml_state_intent_set_pid(const azml_conf_t *conf, char **nodes, int n,
			       pid_t pid);
void azml_state_intent_clear(const azml_conf_t *conf, const char *node);
/* Whether a live program is working on NODE. */
int azml_state_intent_active(const azml_conf_t *conf, const char *node);

/* Count a failure of NODE with CODE; returns failures in a row. */
int azml_state_failure_add(const azml_conf_t *conf, const char *node,
			   const char *code);
void azml_state_failure_clear(const azml_conf_t *conf, const char *node);
/* Seconds since NODE's last failure, -1 when none is recorded. */
long azml_state_failure_age(const azml_conf_t *conf, const char *node);

#endif

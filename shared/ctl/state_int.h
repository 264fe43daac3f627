/*
 * state_int.h - what StateDir's files (state*.c) share: the folders, the
 * record sizes and the file helpers of state.c (paths, locks, writes,
 * reads).  Internal to the ctl library: state.c and its parts stay
 * StateDir's only owner.
 */
#ifndef AZML_STATE_INT_H
#define AZML_STATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "names.h"
#include "state.h"

#define DIR_INTENT "intent"
#define DIR_FAILURES "failures"
#define DIR_ATTACHED "attached"
#define DIR_HOLDS "holds"
#define DIR_QUOTA "quota"
#define DIR_SETS "sets"
#define DIR_JOURNAL "journal"
#define DIR_PRICES "prices"
#define DIR_IDLE "idle"
#define DIR_MISSES "misses"
#define MAX_RECORD 4096		/* an intent or failure record */
#define MAX_REPORT (256 * 1024)	/* an attach report */
#define LOCK_WAIT_MS 10000	/* a held directory lock: give up after */

/* state.c */
int azml_state_path(const azml_conf_t *c, const char *sub, const char *file,
		    char *out, size_t n);
/* Why azml_state_path failed: StateDir unset, refused (why), or too long. */
void azml_state_path_why(const azml_conf_t *c, char *err, size_t n);
int azml_state_lock(const char *dir, char *err, size_t n);
void azml_state_unlock(int fd);
void azml_state_give(int fd);
int azml_state_write(const char *dir, const char *name, const char *data,
		     size_t len, char *err, size_t n);
ssize_t azml_state_read(const char *path, char *buf, size_t cap);

#endif /* AZML_STATE_INT_H */

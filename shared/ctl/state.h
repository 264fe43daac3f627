/*
 * state.h - StateDir, what slurm-azureml's programs remember between runs.
 * This module is its only owner: no other file opens a path under it.
 *
 *   StateDir/intent/NODE    the Azure operation in flight on NODE (owner:
 *                           pid, process start time, since, expiry), the
 *                           request waiting for it, and the last outcome
 *   StateDir/failures/NODE  failures in a row (for the back-off)
 *   StateDir/attached/NODE.json  the report 'attach --accept' admitted
 *   StateDir/misses/SIZE    when a mix's SIZE last met a capacity error
 *   StateDir/holds/TARGET   a capacity hold: Azure's code, until when, how
 *                           many outages in a row (the back-off doubles)
 *   StateDir/quota/usages   the last usages answer, less what resumes took
 *                           from it since (a few seconds' cache)
 *   StateDir/sets/SET       a scale set's pairings: which of its VMs each
 *                           node has (Provisioning=ScaleSet)
 *   StateDir/journal/current  the VM lifecycle journal (journal.h), one
 *                           record a line, appended; rotated at
 *                           AZML_JOURNAL_ROTATE bytes into
 *                           journal/YYYYMMDDTHHMMSSZ (the UTC time it was
 *                           closed), the new file beginning with the
 *                           records of the VMs still alive; rotated files
 *                           go after 400 days
 *   StateDir/prices/retail  the Retail Prices API's last answer, with its
 *                           date (prices.h's text)
 *   StateDir/idle/TARGET    IdleSecondsBeforeScaledown=auto: the idle time
 *                           reconcile learnt, and when
 *
 * Every file is written whole (temporary file, then rename) under a lock of
 * its directory, so readers never see half a record.  Programs run as root
 * leave what they create owned by StateDir's owner (SlurmUser), so that
 * ResumeProgram, which runs as SlurmUser, can always write there.  A file
 * that cannot be written is an error returned to the caller, never taken
 * for something else.
 */
#ifndef AZML_STATE_H
#define AZML_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "arm.h"
#include "conf.h"
#include "journal.h"

#define AZML_HOLD_AFTER 3	/* failures in a row before a node is held */
#define AZML_BACKOFF 300	/* seconds a held node stays DOWN */
/* Seconds a program may hold a node before another takes it over as hung:
 * more than an interrupted delete and a create after it, each bounded by
 * the ARM client's operation deadline (30 min). */
#define AZML_INTENT_TTL 1800

/*
 * Whether StateDir may be trusted (safefile.h): it and every folder above
 * it owned by root or SlurmUser and not writable by group or others (a
 * root-owned sticky folder such as /tmp is accepted above it).  0, or -1
 * with ERR naming the folder and the fix.  Every function of this module
 * refuses to touch an unsafe StateDir (judged once a process, again by
 * azml_state_init()), and azml_state_init() calls this first.
 */
int azml_state_check(const azml_conf_t *conf, char *err, size_t n);

/*
 * Create StateDir and its folders (0700).  Run as root, they are made (or
 * given back) to SlurmUser, as slurmctld reports it, or to StateDir's owner
 * when StateDir exists.  0, or -1 with ERR saying which path and how to mend
 * it.
 */
int azml_state_init(const azml_conf_t *conf, char *err, size_t n);

/* ---- intents: one Azure operation at a time per node, the last request
 * wins ---- */

typedef enum {
	AZML_OP_NONE = 0,
	AZML_OP_CREATE,
	AZML_OP_DELETE,
} azml_op_t;

/* "create", "delete", "nothing". */
const char *azml_op_name(azml_op_t op);

typedef enum {
	AZML_TURN_RUN,		/* do the operation now */
	AZML_TURN_DELETE_FIRST,	/* a delete was interrupted: delete, then create */
	AZML_TURN_WAIT,		/* another program's operation is in flight */
	AZML_TURN_JOINED,	/* another program did this very operation */
	AZML_TURN_SUPERSEDED,	/* a later request for the node replaced ours */
	AZML_TURN_FAILED,	/* the delete we waited for failed: INFO says why */
	AZML_TURN_ERROR,	/* StateDir unusable: ERR says why */
} azml_turn_t;

typedef struct {
	azml_op_t op;		/* the operation in flight (WAIT), done (JOINED,
				 * FAILED), replacing ours (SUPERSEDED) or taken
				 * over (RUN, DELETE_FIRST; NONE: nothing was) */
	pid_t pid;		/* its program */
	long since;		/* when it began (epoch seconds) */
	bool ok;		/* JOINED: how it ended */
	char code[64];		/* JOINED, FAILED: Azure's code */
} azml_turn_info_t;

/*
 * A program (PID) asks to do OP on NODE.  RUN/DELETE_FIRST: NODE is ours
 * until azml_state_intent_end().  WAIT: another live program's operation is
 * in flight; we are recorded as the request that follows it (replacing any
 * earlier one) and ask again with azml_state_intent_poll().  INFO describes
 * the other program.  ERR is set on ERROR.
 */
azml_turn_t azml_state_intent_begin(const azml_conf_t *conf, const char *node,
				    azml_op_t op, pid_t pid,
				    azml_turn_info_t *info, char *err, size_t n);

/* Ask again after WAIT: WAIT, RUN, DELETE_FIRST (NODE is ours now),
 * JOINED, SUPERSEDED, FAILED or ERROR. */
azml_turn_t azml_state_intent_poll(const azml_conf_t *conf, const char *node,
				   azml_op_t op, pid_t pid,
				   azml_turn_info_t *info, char *err, size_t n);

/* PID's operation on NODE ended: OK, or Azure's CODE.  0: recorded; 1: NODE
 * is no longer PID's (another program took it over as hung: the outcome is
 * that program's to report; or PID only waited, and is forgotten); -1 with
 * ERR. */
int azml_state_intent_end(const azml_conf_t *conf, const char *node,
			  azml_op_t op, pid_t pid, bool ok, const char *code,
			  char *err, size_t n);

/* Whether a live program has an operation in flight on NODE, or waits to. */
bool azml_state_intent_active(const azml_conf_t *conf, const char *node);

/* ---- failures and holds ---- */

/* Count a failure of NODE with CODE: failures in a row, or -1 (logged). */
int azml_state_failure_add(const azml_conf_t *conf, const char *node,
			   const char *code);
void azml_state_failure_clear(const azml_conf_t *conf, const char *node);
/* Seconds since NODE's last failure, -1 when none is recorded. */
long azml_state_failure_age(const azml_conf_t *conf, const char *node);

/* The reason of a node held DOWN after COUNT failures, and the test for it
 * ('reconcile' lets such nodes go after AZML_BACKOFF seconds). */
void azml_state_held_reason(char *buf, size_t n, int count, const char *code,
			    const char *message);
bool azml_state_is_held(const char *reason);

/* ---- a mix's sizes that met a capacity error (StateDir/misses/SIZE):
 * AllocationStrategy=CapacityOptimized tries them last for a while ---- */

/* SIZE met a capacity error now (logged when it cannot be written). */
void azml_state_size_miss(const azml_conf_t *conf, const char *size);
/* When SIZE last met one (epoch s), 0: never, or unreadable. */
long azml_state_size_missed(const azml_conf_t *conf, const char *size);

/* ---- capacity holds: a target Azure has no capacity for ---- */

#define AZML_CAPACITY_PREFIX "azureml: capacity: "
#define AZML_CAPACITY_BACKOFF_MAX 3600	/* doubling stops here (or at
					 * CapacityBackoff when longer) */

typedef struct {
	char code[64];		/* Azure's: AllocationFailed, ... */
	long since, until;	/* epoch seconds */
	int level;		/* outages in a row: the back-off doubles (0: a
				 * create worked since; the next starts over) */
	bool lifted;		/* over, and its nodes let go */
} azml_hold_t;

/* Whether Azure's CODE says it has no capacity (not quota, not a fault of
 * the request): AllocationFailed, ZonalAllocationFailed, SkuNotAvailable,
 * Overconstrained(Zonal)AllocationRequest.  Defined in capacity.c; declared
 * here, where the holds are. */
bool azml_capacity_code(const char *code);

/*
 * Hold T after a capacity error CODE: for T's CapacityBackoff, doubled for
 * each hold since T's last successful create, up to
 * AZML_CAPACITY_BACKOFF_MAX (or CapacityBackoff when longer).  A hold still
 * in force is kept as it is (the same outage, seen by another node).
 * 0 with the hold in *H, or -1 (logged).
 */
int azml_state_hold_add(const azml_conf_t *conf, const azml_target_t *t,
			const char *code, azml_hold_t *h);
/* 1: T is held now (*H), 0: not (*H: the last hold, if any; since 0 when
 * none is recorded), -1: error. */
int azml_state_hold_get(const azml_conf_t *conf, const azml_target_t *t,
			azml_hold_t *h);
/* T's hold is over and its nodes were let go (kept for the doubling). */
int azml_state_hold_lifted(const azml_conf_t *conf, const azml_target_t *t);
/* A VM of T was created: the next outage starts the back-off over.  A hold
 * whose nodes are not let go yet stays (level 0) until they are. */
void azml_state_hold_clear(const azml_conf_t *conf, const azml_target_t *t);
/* "azureml: capacity: CODE; retry after HH:MM:SS" (local time), and the
 * test for a reason of that kind. */
void azml_state_hold_reason(char *buf, size_t n, const azml_hold_t *h);
bool azml_state_is_capacity_reason(const char *reason);

/* ---- the usages cache ---- */

/*
 * Under StateDir's quota lock: FN(ARG, U, N) decides with FRESH (NFRESH:
 * an answer just read), or without it with the cached usages when they
 * are younger than MAX_AGE seconds, and may change them (what it takes);
 * they are then cached, with the time of the answer they came from.  0;
 * 1 when FRESH is NULL and there is no young cache (FN not called); -1
 * (logged).
 */
int azml_state_usages(const azml_conf_t *conf, int max_age,
		      const azml_usage_t *fresh, size_t nfresh,
		      void (*fn)(void *arg, azml_usage_t *u, size_t n),
		      void *arg);

/* ---- scale sets: which VM of its set each node has ---- */

typedef struct {
	char vm[80];		/* Azure's name, "SET_1a2b3c4d" */
	char node[96];
	char computer[72];	/* its computerName (the node's NodeHostname) */
	char ip[64];		/* its private IP (the node's NodeAddr) */
	long since;		/* when paired (epoch seconds) */
} azml_pair_t;

#define AZML_PAIRS_MAX 100000	/* pairings a set file may hold */

/*
 * Under StateDir's lock of the sets: FN(ARG, &P, &N) sees SET's pairings
 * (*P malloc'd, or NULL when none; it may realloc and change them) and
 * returns 1 to have them written back, 0 to leave them.  0, or -1 (logged;
 * FN not called).
 */
int azml_state_pairs(const azml_conf_t *conf, const char *set,
		     int (*fn)(void *arg, azml_pair_t **p, size_t *n),
		     void *arg);
/* Whether P can be recorded: every word is one that is read back (a
 * pairing that is not is never written; see azml_state_pairs). */
bool azml_state_pair_ok(const azml_pair_t *p);
/* NODE's pairing in SET: 1 (*P), 0 none, -1 error (logged). */
int azml_state_pair_get(const azml_conf_t *conf, const char *set,
			const char *node, azml_pair_t *p);
/* Forget NODE's pairing in SET (its VM is gone).  0, or -1 (logged). */
int azml_state_pair_drop(const azml_conf_t *conf, const char *set,
			 const char *node);

/* ---- the lifecycle journal ---- */

#define AZML_JOURNAL_ROTATE (4L << 20)	/* bytes: the current file rotates */

/* Append records R[0..N) in one write, under the journal's lock (after a
 * '\n' when the file's last line was cut by a crash).  A record other than
 * "created" whose id is "-" (a delete knows the VM's name only) takes its
 * id, and the fields it lacks, from the VM of that name the journal knows
 * alive.  0, or -1 (logged). */
int azml_state_journal_add(const azml_conf_t *conf, const azml_jrec_t *r,
			   size_t n);
/*
 * The records that matter from SINCE on: the file that was current at
 * SINCE (its head holds what was alive then) and every later one, in file
 * order, into *R (malloc'd, *N).  Lines that are not records (cut by a
 * crash, or not ours) are skipped and counted in *BAD.  0, or -1 (logged).
 */
int azml_state_journal_read(const azml_conf_t *conf, long since,
			    azml_jrec_t **r, size_t *n, size_t *bad);
/* Cut the current file's last line when a crash left it without its
 * '\n'.  The bytes cut (0: it was whole), or -1 (logged). */
long azml_state_journal_repair(const azml_conf_t *conf);
/* What azml_state_journal_repair() would cut, cutting nothing. */
long azml_state_journal_cut(const azml_conf_t *conf);
/* Tests: rotate at BYTES instead (0: AZML_JOURNAL_ROTATE). */
void azml_state_journal_rotate_at(size_t bytes);

/* ---- prices ---- */

/* Keep TEXT (azml_prices_to_text) as the last retail prices read.  0, or
 * -1 (logged). */
int azml_state_prices_save(const azml_conf_t *conf, const char *text);
/* The kept text (malloc'd), or NULL when there is none. */
char *azml_state_prices_load(const azml_conf_t *conf);

/* ---- IdleSecondsBeforeScaledown=auto ---- */

/* TARGET's learnt idle time.  0, or -1 (logged). */
int azml_state_idle_set(const azml_conf_t *conf, const char *target,
			long seconds);
/* TARGET's learnt idle time in seconds, 0 when none is kept. */
long azml_state_idle_get(const azml_conf_t *conf, const char *target);

/* ---- attached nodes ---- */

/* Keep REPORT (an attach report) for NODE.  0, or -1 with ERR. */
int azml_state_attached_save(const azml_conf_t *conf, const char *node,
			     const cJSON *report, char *err, size_t n);
void azml_state_attached_remove(const azml_conf_t *conf, const char *node);
/* Call CB for each kept report, in no particular order; REPORT is NULL when
 * the file is not a report (too large, not JSON).  CB owns nothing. */
void azml_state_attached_each(const azml_conf_t *conf,
			      void (*cb)(void *arg, const char *node,
					 const cJSON *report),
			      void *arg);

#endif

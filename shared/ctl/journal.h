/*
 * journal.h - the VM lifecycle journal's records: what each VM did and
 * when, for the cost report.  This file owns the record's text form (one
 * line each) and the reading of a run of records into each VM's billed
 * intervals; where the lines are kept is state.c's (StateDir/journal).
 *
 *   AT KIND vm=NAME id=VMID node=NODE target=T size=SIZE prio=P zone=Z
 *   AT unhealthy|replaced ... zone=Z reason=CHECK
 *
 * AT is epoch seconds: Azure's time when Azure gave one (timeCreated),
 * else the program's.  KIND is one of the azml_jkind_t names.  Values are
 * names (letters, digits, "._:-"), "-" when unknown.  A VM is known by its
 * id (Azure's vmId), never by its name alone: names come back.
 */
#ifndef AZML_JOURNAL_H
#define AZML_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>

typedef enum {
	AZML_J_CREATED,		/* Azure accepted the VM (compute billed from) */
	AZML_J_RUNNING,		/* provisioning Succeeded */
	AZML_J_REGISTERED,	/* its slurmd registered (boot ends) */
	AZML_J_DEALLOCATED,	/* stopped: only its disk is billed */
	AZML_J_STARTED,		/* started again after DEALLOCATED */
	AZML_J_DELETED,		/* gone: nothing billed from AT */
	AZML_J_EVICTED,		/* a Spot VM Azure took back: gone */
	AZML_J_UNHEALTHY,	/* a health check drained its node (reason=
				 * the check); billing unchanged */
	AZML_J_REPLACED,	/* powered down to be replaced (reason= the
				 * check); its DELETED follows */
	AZML_J_NKINDS
} azml_jkind_t;

#define AZML_JNAME 96		/* every text field's size */
#define AZML_JLINE 640		/* a record line's most bytes, '\n' included */

typedef struct {
	long at;
	azml_jkind_t kind;
	char vm[AZML_JNAME];
	char id[AZML_JNAME];	/* Azure's vmId; "-" when Azure gave none */
	char node[AZML_JNAME];
	char target[AZML_JNAME];
	char size[AZML_JNAME];
	char prio[16];		/* "dedicated" or "spot" */
	char zone[4];		/* "1".."3", or "-" */
	char reason[32];	/* unhealthy, replaced: the health check
				 * ("xid"); else "" */
} azml_jrec_t;

/* "created", ... */
const char *azml_jkind_name(azml_jkind_t k);

/* Fill R for KIND at AT; NULL or "" fields become "-".  Fields that are not
 * names are refused: -1, R untouched. */
int azml_jrec_make(azml_jrec_t *r, azml_jkind_t kind, long at, const char *vm,
		   const char *id, const char *node, const char *target,
		   const char *size, bool spot, const char *zone);

/* Set R's reason (unhealthy, replaced): a name.  0, or -1. */
int azml_jrec_reason(azml_jrec_t *r, const char *reason);
/* R's line, '\n' included, into BUF (AZML_JLINE).  Its length. */
size_t azml_jrec_format(const azml_jrec_t *r, char *buf, size_t n);

/* Parse one line (without its '\n').  0, or -1 when it is not a record:
 * a line cut by a crash, or one that was never ours. */
int azml_jrec_parse(const char *line, azml_jrec_t *r);

/* ---- a VM's life, read from its records ---- */

typedef struct {
	long from, to;		/* [from, to) epoch seconds */
	bool running;		/* compute billed; else deallocated (disk) */
	long booted;		/* running: its slurmd's registration in the
				 * span (boot ends), 0 when none */
} azml_jspan_t;

typedef struct {
	azml_jrec_t first;	/* its first record: names, size, priority */
	long end;		/* deleted or evicted, 0 when still there */
	bool evicted;
	char replaced[32];	/* replaced for this health check, or "" */
	azml_jspan_t *span;	/* in time order, none overlapping */
	size_t nspans;
} azml_jvm_t;

/*
 * Fold records R[0..N) (in any order) into each VM's life.  Records of a VM
 * that repeat (a program that retried, a repair that wrote what was there)
 * count once; a VM's life ends at its first DELETED/EVICTED.  A span still
 * open ends at NOW.  Returns the VMs (*NVM of them; NULL when none), freed
 * with azml_journal_free().
 */
azml_jvm_t *azml_journal_fold(const azml_jrec_t *r, size_t n, long now,
			      size_t *nvm);
void azml_journal_free(azml_jvm_t *vm, size_t n);
/* Whether R[0..N) begin any VM's life (so that azml_journal_fold()
 * returning NULL means out of memory): some record is neither a deletion,
 * an eviction, nor an unhealthy or replaced one. */
bool azml_journal_has_life(const azml_jrec_t *r, size_t n);

#endif

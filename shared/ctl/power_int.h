/*
 * power_int.h - what the files of the power-save engine share (power.c:
 * the run, its nodes, their intents and ends, the drive loop, the journal;
 * resume.c: creates and the quota pass; suspend.c: deletes and resume-fail's
 * boot log; vmss_batch.c: scale-set batches).  Inside the ctl library only:
 * the public interface is power.h.
 */
#ifndef AZML_POWER_INT_H
#define AZML_POWER_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "arm.h"
#include "conf.h"
#include "journal.h"
#include "nodes.h"
#include "power.h"
#include "prices.h"
#include "slurm_ops.h"
#include "state.h"

typedef struct run run_t;

/* One node of argv[1]: its name is the only one we trust (never a tag or
 * a name in Azure's answer). */
typedef struct {
	run_t *run;
	char *node;
	const azml_target_t *t;	/* its compute target */
	char vm[80];		/* its VM's name: the node's, or in a scale set
				 * Azure's (StateDir's pairing), "" for none */
	azml_turn_t turn;	/* RUN, DELETE_FIRST or WAIT until settled */
	bool started, settled;
	bool nic_asked;		/* a scale set's VM: its IP asked for */
	bool boot_log_read;	/* resume-fail: the serial log was looked at */
	bool in_batch;		/* its VM is in its set's batched delete */
	bool bad_vm;		/* its set's VM cannot be paired: fail it */
	bool doomed;		/* AllOrNothing: its job is short of VMs,
				 * its VM goes in the batched delete */
	char size[64];		/* its set's VM's size, from Azure */
	char vm_id[40];		/* ... and its vmId */
	char why[400];		/* ERROR: what went wrong */
	/* A mix (VmSize=A,B,...): its sizes (indexes in t->mix) in the order
	 * they are tried; order[cur] is tried now.  One entry otherwise. */
	int order[AZML_MIX_MAX];
	int norder, cur;
	/* JobScaling=AllOrNothing: the job (index in run->rjobs) whose VMs
	 * this run has all or none of; -1: best effort */
	int group;
	bool have_vm;		/* made; told once its job's others are */
	azml_vm_result_t made;	/* ... Azure's answer for it */
} job_t;

/* A job of SLURM_RESUME_FILE: which of our nodes it waits for. */
typedef struct {
	uint32_t id;
	char *nodes;		/* hostlist, as Slurm wrote it */
	char *features;		/* its constraint ("features"), or NULL */
	bool aon_failed;	/* AllOrNothing: one of its VMs cannot be had */
	char aon_why[300];	/* ... which, and why */
} rjob_t;

/* A job handed back by one of its nodes: what slurmctld must hear once it
 * has requeued it (azml_job_reschedule), until GIVE_UP. */
typedef struct {
	uint32_t id;
	bool now;		/* start it now: not 120 s later */
	bool done;
	time_t give_up;
	char note[400];
} reset_t;

struct run {
	const azml_conf_t *conf;
	azml_power_mode_t mode;
	azml_op_t op;
	pid_t pid;		/* the program that does the work */
	azml_arm_t *arm;
	int done, failed, joined, superseded;
	azml_addr_queue_t *addrs;	/* NodeAddr updates, batched */
	rjob_t *rjobs;			/* resume: SLURM_RESUME_FILE's jobs */
	int nrjobs;
	reset_t *resets;		/* jobs to tell slurmctld about */
	int nresets;
	struct batch *batches;		/* scale sets: one write for many */
	bool pairs_later;		/* azml_pw_deleted: the caller drops them */
	azml_jrec_t *jr;		/* lifecycle records, written at the end */
	size_t njr, capjr;
	azml_slurm_ops_t ops;		/* what slurmctld is told */
	azml_clock_t clock;		/* time and sleep */
	job_t *jobs;			/* every node of the run */
	int njobs;
	azml_prices_t prices;		/* LowestPrice: what sizes cost */
	bool prices_read;
};

/* Nodes of one scale set that one write grows or shrinks. */
typedef struct batch {
	run_t *run;
	const azml_target_t *t;
	char set[80];
	bool grow;		/* resume; else a batched delete */
	bool sent;
	job_t **jobs;
	int n;
	int tries;		/* writes refused for a stale etag */
	bool op_ok;		/* the write's operation ended well */
	char code[64], msg[512];
	int claimed;		/* jobs that have a VM */
	int nics;		/* NIC answers still awaited */
	struct nic **nic_list;	/* ... and what they answered */
	int nnics;
	time_t relist_at, relist_until;	/* short of VMs: look again */
	struct batch *next;
} batch_t;

/* The run's time, and a pause of MS milliseconds. */
static inline time_t azml_pw_now(const run_t *run)
{
	return run->clock.now(run->clock.arg);
}

static inline void azml_pw_sleep(const run_t *run, int ms)
{
	run->clock.sleep_ms(run->clock.arg, ms);
}

/* power.c */
extern const azml_clock_t azml_pw_real_clock;
const char *azml_pw_mode_name(azml_power_mode_t m);
/* What slurmctld must hear of a node whose VM cannot be had. */
void azml_pw_hand_back(job_t *j, const char *code, const char *msg);
/* Record how J's operation ended; false when another program took J's
 * node over (the outcome is not ours to tell then). */
bool azml_pw_end(job_t *j, bool ok, const char *code);
/* Once NODE's jobs are requeued: NOTE in their history, (NOW) begin time
 * reset. */
void azml_pw_reset_jobs(run_t *run, const char *node, bool now,
			const char *note);
/* Azure has no capacity for J's VM: hold its target, hand J back. */
void azml_pw_out_of_capacity(job_t *j, const char *code);
/* A bare IPv4 or IPv6 address. */
bool azml_pw_ip_ok(const char *ip);
/* A lifecycle record, kept for the journal's one write at the end. */
void azml_pw_journal(run_t *run, azml_jkind_t kind, long at, const char *vm,
		     const azml_vm_result_t *r, const char *node,
		     const azml_target_t *t);
/* J fails, nothing done for it: out of memory. */
void azml_pw_fail_oom(job_t *j);
/* Start J's operation (its turn came). */
void azml_pw_start(job_t *j);

/* The jobs of SLURM_RESUME_FILE that wait for NODE: their index in
 * RUN->rjobs, -1 after the last (*FROM: where to look from). */
int azml_pw_job_of(const run_t *run, const char *node, int *from);

/* resume.c */
void azml_pw_resumed(void *arg, const azml_vm_result_t *r);
/* Before the quota pass: each node's sizes in the order its target's
 * AllocationStrategy says (its job's constraint may name one), and its
 * AllOrNothing job. */
void azml_pw_plan_sizes(run_t *run, job_t *jobs, int n);
/* The size J's VM is created at now: NULL for a target of one size. */
const char *azml_pw_size_of(const job_t *j);
/* J gets no VM (CODE, MSG): an AllOrNothing job loses the VMs made for
 * it.  Called once J is handed back. */
void azml_pw_aon_lost(job_t *j, const char *code, const char *msg);
/* After the drive: what AllOrNothing kept waiting, told or deleted.
 * True when deletes were queued (run the ARM loop again). */
bool azml_pw_aon_finish(run_t *run);
/* The quota, before any create: nodes that do not fit are handed back. */
void azml_pw_quota_check(run_t *run, job_t *jobs, int n);

/* suspend.c */
bool azml_pw_in_set(const job_t *j);
const char *azml_pw_set_of(const job_t *j, char *set, size_t n);
void azml_pw_vm_of(job_t *j);
void azml_pw_deleted(void *arg, const azml_vm_result_t *r);
void azml_pw_checked(void *arg, const azml_vm_result_t *r);

/* vmss_batch.c */
/* The ActiveFeatures of a node of T whose VM is SIZE: what `generate`
 * gives a node of T's features had T only SIZE (the mix's other sizes,
 * and the series and architecture only they bring, left out).  0, or -1
 * when SIZE is not one of T's (OUT is then ""). */
int azml_pw_active_features(const azml_target_t *t, const char *size,
			    char *out, size_t n);
/* 0, or -1 out of memory (J is in no batch) */
int azml_pw_batch_add(run_t *run, job_t *j, bool grow);
void azml_pw_batches_flush(run_t *run);
void azml_pw_batches_tick(run_t *run);
bool azml_pw_batches_pending(const run_t *run);
void azml_pw_batches_free(run_t *run);

#endif

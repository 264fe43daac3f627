/*
 * health.h - a node's health checks, run by Slurm as HealthCheckProgram
 * (node-check --health-check): GPUs through NVML, hardware XIDs from the
 * kernel log, InfiniBand ports from sysfs, memory, free disk space and a
 * site script.  Each failure is one line of reason; the caller drains the
 * node with the first (plugins/node/node_cmds.c).
 *
 * Every path read is under REQ->root ("" on a node; a test's tree with
 * $AZML_HEALTH_ROOT): ROOT/dev/kmsg, ROOT/proc/meminfo,
 * ROOT/proc/sys/kernel/random/boot_id, ROOT/sys/class/infiniband,
 * ROOT/var/spool/slurmd, ROOT/tmp, ROOT/run/slurm-azureml.
 *
 * XIDs come from the kernel log, not from NVML events: NVML delivers an
 * event only to a process that registered for it before it happened and
 * waits (nvmlEventSetWait), so a program that Slurm starts every few
 * minutes would miss every XID between two runs, or need a daemon of its
 * own.  The driver prints every XID to the kernel log ("NVRM: Xid
 * (PCI:0000:34:00): 79, ..."), which keeps them for the whole boot (ring
 * buffer permitting) with a sequence number: a run reads /dev/kmsg from
 * the last sequence the previous run saw.  That position, the boot it
 * belongs to and the first hardware XID seen are kept in
 * ROOT/run/slurm-azureml/xid-NODE (a directory of root's, mode 0700;
 * written to a temporary file and renamed): a hardware XID keeps failing
 * the node until it reboots (its VM is replaced).
 *
 * Programs only (links the node library).
 */
#ifndef AZML_HEALTH_H
#define AZML_HEALTH_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "gpu.h"

#define AZML_HEALTH_MAXFAIL 32
#define AZML_HEALTH_SCRIPT_SECONDS 10	/* HealthCheckScript= bound */

typedef struct {
	azml_hc_t check;
	char reason[224];	/* "xid: GPU 0000:34:00.0: XID 79 ..." */
} azml_hfail_t;

typedef struct {
	azml_hfail_t fail[AZML_HEALTH_MAXFAIL];
	int n;
} azml_hresult_t;

/* What a node is judged against (azml_health_req_of() fills it). */
typedef struct {
	const char *root;		/* path prefix; "" on a real node */
	const char *node;		/* this node's Slurm name */
	unsigned int checks;		/* 1 << azml_hc_t */
	const char *size;		/* VM size for messages, or target name */
	int gpus;			/* GPUs expected; 0: none judged */
	const char *gpu_model;		/* "V100": NVML's names contain it */
	bool ib;			/* InfiniBand expected */
	int ib_rate;			/* Gb/s each IB port runs at; 0: any */
	long memory_mib;		/* at least this much; 0: not judged */
	const char *spool;		/* Slurm spool (default
					 * /var/spool/slurmd) */
	const char *script;		/* HealthCheckScript=, or NULL */
	int script_seconds;		/* its bound (default 10) */
	const azml_nvml_t *nvml;	/* NULL: NVML not asked */
} azml_health_req_t;

/* REQ from target T (NULL: no target; every check that needs one is
 * skipped) for NODE; ROOT from $AZML_HEALTH_ROOT. */
void azml_health_req_of(const azml_target_t *t, const char *node,
			azml_health_req_t *req);

/* The IB rate (Gb/s) of SERIES' ports, 0 when not known. */
int azml_health_ib_rate(const char *series);

/* Each check appends its failures to RES. */
void azml_health_gpu(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_ecc(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_xid(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_ib(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_memory(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_disk(const azml_health_req_t *req, azml_hresult_t *res);
void azml_health_script(const azml_health_req_t *req, azml_hresult_t *res);

/* Whether XID is one that a GPU's hardware (not a program) causes, and
 * what it means ("GPU has fallen off the bus"); NULL when it is not. */
const char *azml_xid_hardware(int xid);

/* Run every check REQ->checks turns on, in azml_hc_t order.  Returns the
 * number of failures (RES->n). */
int azml_health_run(const azml_health_req_t *req, azml_hresult_t *res);

#endif

/*
 * node.h - what runs on a VM, apart from the controller-side commands:
 * node-init (node_init.c) and the Scheduled Events watcher (events_cmds.c),
 * which node-init becomes at its end.  Internal to the admin command and its
 * unit tests.
 */
#ifndef AZML_ADMIN_NODE_H
#define AZML_ADMIN_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nodes.h"

/* The drain reason of a node drained for a maintenance event; a node whose
 * reason starts so is returned to service once the event is over. */
#define AZML_MAINT_REASON "azureml: maintenance: "

typedef struct {
	const char *imds;	/* IMDS endpoint */
	const char *node;	/* Slurm node name */
	const char *vm;		/* VM name (the emulator's vm=) */
	double interval;	/* seconds between polls */
	/* JobIdentity=: the node identity (msi_res_id) whose removal from
	 * the VM lifts the IMDS filter; NULL: the filter stays */
	const char *node_identity;
	const char *filter_tool;	/* azml_imds_filter_remove()'s TOOL */
	int identity_wait;		/* s to wait for it; 0: 1800 */
} azml_watch_opts_t;

/*
 * Watch this VM's Scheduled Events until it is evicted or deleted (Preempt,
 * Terminate: jobs requeued, node handed back with power_down_force, event
 * acknowledged; returns 0).  Reboot, Redeploy, Freeze: the node is drained
 * before the event and the event acknowledged once the node has no job;
 * afterwards the node is resumed if its reason is still ours.  Never returns
 * otherwise.  azml_nodes_init() is called here.
 *
 * With NODE_IDENTITY, every 5 s it also asks IMDS (as root) for a Key Vault
 * token of that identity; once IMDS answers "Identity not found" (the
 * controller took it from the VM), the IMDS filter is removed and jobs may
 * use IMDS with the identity left (JobIdentity=).  Any other answer keeps
 * the filter; after IDENTITY_WAIT s it stops asking and keeps the filter.
 */
int azml_events_watch(const azml_watch_opts_t *o);

/* This machine's short host name into OUT ("" when unknown). */
void azml_short_hostname(char *out, size_t n);

/* ---- node-init ---- */

/* Its steps, in order, as the console lines name them. */
typedef enum {
	AZML_STEP_USERDATA = 0,
	AZML_STEP_FILTER,	/* "IMDS filter": only root reaches IMDS */
	AZML_STEP_IDENTITY,
	AZML_STEP_KEYVAULT,
	AZML_STEP_MUNGE,
	AZML_STEP_NODE,		/* "node name": a scale set's VM asks slurmctld */
	AZML_STEP_SETUP,
	AZML_STEP_GPU,
	AZML_STEP_SLURMD,
	AZML_STEP_EVENTS,
	AZML_STEP_COUNT,
} azml_step_t;

extern const char *const azml_step_names[AZML_STEP_COUNT];

typedef struct {
	/* the command line */
	const char *imds;		/* NULL: azml_imds_default() */
	const char *userdata_file;	/* base64 userData from a file */
	const char *slurmd;		/* slurmd binary (NULL: "slurmd") */
	bool no_watch;
	int node_wait;			/* s a scale set's VM waits to be
					 * paired with a node; 0: 300 */
	/* what tests change (never from the environment) */
	const char *munge_dir;		/* NULL: /etc/munge */
	const char *run_dir;		/* NULL: /run/slurm */
	const char *hostname;		/* NULL: this machine's */
	bool no_daemons;		/* write files, start nothing */
	int setup_timeout;		/* s; 0: 30 min */
	int key_uid, key_gid;		/* -1: the munge user's */
	FILE *console;			/* NULL: stdout */
	bool no_syslog;
	const char *filter_tool;	/* nft or iptables (NULL: whichever
					 * is installed; azml_imds_filter_*) */
	/* how a failure after munge works is reported (NULL: power_down_force
	 * through slurmctld) */
	int (*report)(void *arg, const char *node, const char *reason);
	void *report_arg;
	/* which node this machine is, for a scale set's VM (NULL:
	 * azml_nodes_find_self() through slurmctld); returns as it does */
	int (*find_self)(void *arg, const char *host,
			 const char *const *addrs, size_t naddrs,
			 azml_node_self_t *out, char *err, size_t en);
	void *find_self_arg;
} azml_node_init_opts_t;

/*
 * The packet-filter rule that lets only uid 0 reach the IMDS endpoint
 * IMDS (an http URL to an IPv4 address and port), with TOOL (a path to nft
 * or iptables; NULL: nft, else iptables, from /usr/sbin, /sbin, /usr/bin).
 * Install adds it unless the same rule is there, never touching other
 * rules; returns 0 and says what it did in WHAT (may be NULL), or -1 with
 * the reason in ERR.  Remove deletes only our rules for that endpoint;
 * returns 0 with their count in *REMOVED (may be NULL), or -1 with ERR.
 */
int azml_imds_filter_install(const char *imds, const char *tool, char *what,
			     size_t wn, char *err, size_t n);
int azml_imds_filter_remove(const char *imds, const char *tool, int *removed,
			    char *err, size_t n);

/* Run node-init.  Returns the exit status: 0, or 1 after a failed step
 * (its console line logged). */
int azml_node_init_run(const azml_node_init_opts_t *o);

/* Run ARGV (a path, or a name looked up in PATH), its output (both streams)
 * into BUF (N > 0 bytes, NUL-terminated, the rest dropped), at most TIMEOUT
 * s (then killed).  Returns the wait status, or -1 when it could not be run
 * (node_init.c; imds_filter.c's tools too). */
int azml_init_capture(char *const argv[], char *buf, size_t n, int timeout);

/*
 * Slurm's rule for slurmd against slurmctld: the same release or up to two
 * older major releases (three when slurmctld is 24.11 or later).  VERSION
 * strings "22.05.8" (a prefix such as "slurm " or "slurm-wlm " allowed).
 * Returns 0, or -1 with a one-line message in WHY.
 */
int azml_slurmd_version_ok(const char *slurmd, const char *slurmctld,
			   char *why, size_t n);

#endif

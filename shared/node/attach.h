/*
 * attach.h - admitting an on-prem node: its report, the munge credential that
 * carries it to the controller, and the controller's verdict.
 *
 * The node runs node-check and seals {node, address, CPUs, memory, GPUs, its
 * own verdict} in a munge credential made with the cluster's key.  The
 * controller opens it with its own munged (a credential from another key, an
 * expired or a replayed one is refused by munged), accepts only root or
 * SlurmUser as its maker, and judges the report again against the
 * AttachedCompute target: the node's own "ok" is never trusted.
 *
 * Programs only (libmunge, hwloc through gpu.h).
 */
#ifndef AZML_ATTACH_H
#define AZML_ATTACH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "gpu.h"

/* The report of this node: NAME, its HOSTNAME and ADDRESS, the hardware in
 * INV and CHECK (azml_node_check's object, taken over). */
cJSON *azml_attach_report(const char *name, const char *hostname,
			  const char *address, const azml_inventory_t *inv,
			  cJSON *check);

/*
 * Seal REPORT in a munge credential through munged at SOCKET (NULL: libmunge's
 * default) valid for TTL seconds.  Returns a malloc'd string, or NULL with a
 * message in ERR.
 */
char *azml_attach_seal(const char *socket, int ttl, const cJSON *report,
		       char *err, size_t errlen);

/*
 * Open credential CRED through munged at SOCKET.  Its maker must be root or
 * SLURM_UID.  Returns the report (the caller owns it), or NULL with a
 * message in ERR naming what was wrong.
 */
cJSON *azml_attach_open(const char *socket, const char *cred, uid_t slurm_uid,
			char *err, size_t errlen);

/*
 * Judge REPORT against CONF: its node must belong to an AttachedCompute
 * target, and its GPUs, CPUs and memory must match the target.  Appends
 * every reason to REASONS (a JSON array) and returns true when there is
 * none.  *TARGET receives the node's target when there is one.
 */
bool azml_attach_judge(const azml_conf_t *conf, const cJSON *report,
		       const azml_target_t **target, cJSON *reasons);

/*
 * How 'attach --accept' admits a node, from whether slurmctld has it
 * (KNOWN: a FUTURE slot of slurm.conf, or a node made before) and the
 * running slurmctld's VERSION (slurm_conf_t's version):
 *   AZML_ATTACH_UPDATE  it has the node: its address, then a resume;
 *   AZML_ATTACH_CREATE  it has not, and takes dynamic nodes (24.11 and
 *                       later, azml_slurm_dynamic_attach): the node is
 *                       created with its target's CPUs, memory, Gres and
 *                       Feature ('scontrol create nodename=');
 *   AZML_ATTACH_NO_NODE neither: slurm.conf lacks the FUTURE slot.
 * Decided at run time, not when built: what matters is the controller.
 */
typedef enum {
	AZML_ATTACH_UPDATE,
	AZML_ATTACH_CREATE,
	AZML_ATTACH_NO_NODE,
} azml_attach_way_t;

azml_attach_way_t azml_attach_way(bool known, const char *version);

#endif

/*
 * controller.h - what slurm.conf says about the controller, for the VMs'
 * userData: the default SlurmctldHost (slurm.conf's first SlurmctldHost
 * address and SlurmctldPort), ClusterName, and the Slurm version.  Reads
 * libslurm's slurm_conf: programs only (the ctl library), never a plugin.
 */
#ifndef AZML_CONTROLLER_H
#define AZML_CONTROLLER_H

#include "arm.h"

typedef struct {
	char host[300];		/* "10.0.0.4:6817", "[fd00::4]:6817", or "" */
	char cluster[128];	/* slurm.conf's ClusterName, or "" */
	char version[32];	/* the Slurm headers' version, "22.05.8" */
	azml_ctld_info_t info;	/* views of the above ("" as NULL) */
} azml_controller_t;

/*
 * Fill *C from slurm.conf ($SLURM_CONF, else /etc/slurm/slurm.conf): calls
 * azml_nodes_init() (slurm_init) when that file is readable, and leaves
 * host and cluster empty when it is not (libslurm would otherwise look for
 * a configuration server, and exit when it finds none).  Returns 0 when a
 * host was found, -1 with why in ERR otherwise (C is usable either way).
 */
int azml_controller_load(azml_controller_t *c, char *err, size_t n);

#endif

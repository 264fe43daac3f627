/*
 * generate.h - slurm.conf and gres.conf fragments from an azureml.conf.
 */
#ifndef AZML_GENERATE_H
#define AZML_GENERATE_H

#include <stdbool.h>

#include "conf.h"

typedef struct {
	const char *program_dir;	/* where slurm-azureml-resume & co live */
	int port_base;			/* >0: one slurmd port per node from
					 * here on (VMs emulated on one host) */
	const char *slurm_conf;		/* slurm.conf to look for the admin's
					 * own SlurmctldParameters line in;
					 * NULL: do not look */
	bool dynamic_attach;		/* attached nodes are dynamic nodes
					 * (azml_slurm_dynamic_attach): no
					 * FUTURE slots, a NodeSet by
					 * feature for their partition */
} azml_generate_opts_t;

/*
 * The slurm.conf fragment (power-save settings, NodeName and PartitionName
 * lines) for CONF, which must have no errors.  Returns a malloc'd string
 * the caller frees, or NULL when out of memory.
 */
char *azml_generate_slurm_conf(const azml_conf_t *conf,
			       const azml_generate_opts_t *opts);

/*
 * Configless slurmd (how VMs join, node-init) needs enable_configless in
 * SlurmctldParameters.  Slurm keeps only the last SlurmctldParameters line
 * it reads (no merge), so the fragment adds that line only when slurm.conf
 * has none of its own.
 *
 * azml_slurm_conf_param: the value and line of KEY's first line in PATH
 * itself (Include'd files are not read), as *VALUE (malloc'd) and *LINE.
 * Returns 1 when found, 0 when not, -1 when PATH cannot be read or memory
 * ran out (errno says which).
 *
 * azml_configless_advice: what the admin must do about SLURM_CONF's
 * SlurmctldParameters, as a malloc'd message, or NULL when nothing (no such
 * line, or it has enable_configless already, or the file is unreadable, or
 * memory ran out).
 */
int azml_slurm_conf_param(const char *path, const char *key, char **value,
			  int *line);
char *azml_configless_advice(const char *slurm_conf);

/* $SLURM_CONF, else /etc/slurm/slurm.conf (not copied). */
const char *azml_slurm_conf_path(void);

/* The gres.conf fragment: one line per target with GPUs (malloc'd). */
char *azml_generate_gres_conf(const azml_conf_t *conf);

/*
 * Whether a slurmctld of VERSION ("24.11.5") takes attached nodes as
 * dynamic nodes ('scontrol create nodename=', 'scontrol delete'): 24.11 and
 * later, the releases the product tests them on (dynamic nodes came in
 * 22.05 and matured in 23.11); earlier ones keep the FUTURE slots.  NULL or
 * a version that cannot be read: false.
 */
bool azml_slurm_dynamic_attach(const char *version);

/*
 * The node line that creates attached node NODE of target T at ADDR
 * (HOST: its hostname, NULL for ADDR) as a dynamic node: what its FUTURE
 * slot would say, with its address (State=FUTURE: resumed once created,
 * as a slot is).  Returns a malloc'd string, or
 * NULL when out of memory.
 */
char *azml_generate_attached_node(const azml_target_t *t, const char *node,
				  const char *addr, const char *host);

/* RealMemory for a VM of MIB published memory: what the OS leaves. */
int azml_usable_memory_mib(int mib);

#endif

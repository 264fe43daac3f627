/*
 * generate.h - slurm.conf and gres.conf fragments from an azureml.conf.
 */
#ifndef AZML_GENERATE_H
#define AZML_GENERATE_H

#include "conf.h"

typedef struct {
	const char *program_dir;	/* where slurm-azureml-resume & co live */
	int port_base;			/* >0: one slurmd port per node from
					 * here on (VMs emulated on one host) */
} azml_generate_opts_t;

/*
 * The slurm.conf fragment (power-save settings, NodeName and PartitionName
 * lines) for CONF, which must have no errors.  Returns a malloc'd string
 * the caller frees, or NULL when out of memory.
 */
char *azml_generate_slurm_conf(const azml_conf_t *conf,
			       const azml_generate_opts_t *opts);

/* The gres.conf fragment: one line per target with GPUs (malloc'd). */
char *azml_generate_gres_conf(const azml_conf_t *conf);

/* RealMemory for a VM of MIB published memory: what the OS leaves. */
int azml_usable_memory_mib(int mib);

#endif

/*
 * controller.c - slurm.conf's controller, through libslurm (controller.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_version.h>

#include "controller.h"
#include "nodes.h"
#include "userdata.h"

/* libslurm's parsed slurm.conf: exported on 22.05 and 24.11 alike, its type
 * public in slurm.h, filled by slurm_init(). */
extern slurm_conf_t slurm_conf;

static void _views(azml_controller_t *c)
{
	c->info.slurmctld_host = c->host[0] ? c->host : NULL;
	c->info.slurm_cluster = c->cluster[0] ? c->cluster : NULL;
	c->info.slurm_version = c->version;
}

int azml_controller_load(azml_controller_t *c, char *err, size_t n)
{
	const char *path = getenv("SLURM_CONF");
	const char *addr = NULL;
	char why[256];

	memset(c, 0, sizeof(*c));
	/* the headers' version: plugins and programs must match the
	 * installed Slurm anyway (slurm_version.h has no version string) */
	snprintf(c->version, sizeof(c->version), "%d.%02d.%d",
		 SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER),
		 SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER),
		 SLURM_VERSION_MICRO(SLURM_VERSION_NUMBER));
	_views(c);
	if (!path || !*path)
		path = "/etc/slurm/slurm.conf";
	if (access(path, R_OK)) {
		snprintf(err, n, "cannot read %s for its SlurmctldHost", path);
		return -1;
	}
	azml_nodes_init();
	if (slurm_conf.cluster_name)
		snprintf(c->cluster, sizeof(c->cluster), "%s",
			 slurm_conf.cluster_name);
	/* the address slurmd reaches slurmctld at: SlurmctldHost=name(addr)'s
	 * addr, which libslurm sets to the name when none is given */
	if (slurm_conf.control_cnt && slurm_conf.control_addr &&
	    slurm_conf.control_addr[0] && slurm_conf.control_addr[0][0])
		addr = slurm_conf.control_addr[0];
	else if (slurm_conf.control_cnt && slurm_conf.control_machine &&
		 slurm_conf.control_machine[0])
		addr = slurm_conf.control_machine[0];
	if (!addr) {
		_views(c);
		snprintf(err, n, "%s has no SlurmctldHost", path);
		return -1;
	}
	snprintf(c->host, sizeof(c->host), strchr(addr, ':') ? "[%.256s]:%u" :
		 "%.256s:%u", addr, slurm_conf.slurmctld_port ?
		 slurm_conf.slurmctld_port : 6817);
	if (azml_ctld_host_ok(c->host, why, sizeof(why))) {
		snprintf(err, n, "%s: SlurmctldHost '%.256s' cannot be given to "
			 "VMs: %s; set SlurmctldHost= in azureml.conf", path,
			 c->host, why);
		c->host[0] = '\0';
		_views(c);
		return -1;
	}
	_views(c);
	return 0;
}

/*
 * metrics.h - 'slurm-azureml metrics': the cluster as Prometheus text
 * exposition (version 0.0.4), for node_exporter's textfile collector.
 *
 *   azureml_nodes{target,state}            gauge: slurmctld's nodes by state
 *   azureml_vms{target,size}               gauge: VMs alive (the journal)
 *   azureml_vm_operations_total{target,operation,result}
 *                                       counter: the journal's records
 *                                       (create, delete, deallocate, start,
 *                                       evict, replace; result "success":
 *                                       the journal records what Azure
 *                                       did; failures are the nodes' reasons)
 *   azureml_capacity_hold{target}          gauge: 1 while held
 *   azureml_quota_free_vcpus{family}       gauge: limit - current
 *   azureml_cost_usd_per_hour{target}      gauge: the running VMs' price
 *   azureml_health_failures_total{target,check}
 *                                       counter: the journal's unhealthy
 *   azureml_boot_seconds{target}           histogram: create -> registered
 *
 * Counters come from the journal, which is rotated (journal/ keeps 400
 * days): Prometheus takes a drop as a counter reset.  Pure: no I/O but
 * FP.  Programs only.
 */
#ifndef AZML_METRICS_H
#define AZML_METRICS_H

#include <stdbool.h>
#include <stdio.h>

#include "arm.h"
#include "conf.h"
#include "journal.h"
#include "nodes.h"
#include "prices.h"

typedef struct {
	const azml_conf_t *conf;
	const azml_node_t *nodes;	/* NULL (slurmctld did not answer):
					 * no azureml_nodes */
	int nnodes;
	const azml_jrec_t *recs;	/* the journal */
	size_t nrecs;
	const bool *held;		/* per conf target, or NULL */
	const azml_usage_t *usages;	/* NULL: no azureml_quota_free_vcpus */
	size_t nusages;
	const azml_prices_t *prices;	/* NULL: no azureml_cost_usd_per_hour */
	long now;
} azml_metrics_in_t;

/* The node states azureml_nodes counts, and NODE's. */
extern const char *const azml_metrics_states[];
const char *azml_metrics_node_state(const azml_node_t *n);

/* Write the exposition to FP.  0, or -1 when out of memory. */
int azml_metrics_write(FILE *fp, const azml_metrics_in_t *in);

#endif

/*
 * conf.h - azureml.conf: the admin's one description of the compute targets.
 *
 * Slurm style: Key=Value words, one entity a line, '#' comments,
 * case-insensitive keys, "Include FILE".  Lines that start with
 * ComputeCluster=, ComputeInstance= or AttachedCompute= define a target; any
 * other line sets global keys.  Parsing is strict: every problem is recorded
 * as "FILE:LINE: message" and the configuration is then unusable.
 *
 * A loaded azml_conf_t is read-only; free it with azml_conf_destroy().
 */
#ifndef AZML_CONF_H
#define AZML_CONF_H

#include <stdbool.h>
#include <stddef.h>

#include "catalog.h"

/* IdleSecondsBeforeScaledown=auto: the range of idle times it chooses in
 * (seconds; the partition's SuspendTime is the longest, a backstop), and a
 * boot's seconds when none is journaled.  The rule is in cost.h. */
#define AZML_IDLE_AUTO_MIN 30
#define AZML_IDLE_AUTO_MAX 3600
#define AZML_IDLE_AUTO_BOOT 120

typedef enum {
	AZML_CLUSTER = 0,	/* ComputeCluster= : autoscaling, CLOUD nodes */
	AZML_INSTANCE,		/* ComputeInstance= : one always-on VM */
	AZML_ATTACHED,		/* AttachedCompute= : on-prem, unmanaged */
} azml_kind_t;

typedef enum {
	AZML_DEDICATED = 0,
	AZML_LOW_PRIORITY,
} azml_priority_t;

/* Provisioning= (compute clusters): how their VMs are made. */
typedef enum {
	AZML_PROV_VMS = 0,	/* VirtualMachines: one PUT a VM (default) */
	AZML_PROV_SCALE_SET,	/* ScaleSet: one VMSS (Flexible) a cluster */
} azml_provisioning_t;

/* VmSize=A,B,C (compute clusters): Azure's instance mix takes at most 5
 * sizes (skuProfile.vmSizes of a Flexible scale set). */
#define AZML_MIX_MAX 5

/* AllocationStrategy= (a mix): the order its sizes are tried in; Azure's
 * skuProfile.allocationStrategy, whose default is LowestPrice. */
typedef enum {
	AZML_ALLOC_LOWEST_PRICE = 0,
	AZML_ALLOC_CAPACITY_OPTIMIZED,
	AZML_ALLOC_PRIORITIZED,	/* the order written */
} azml_alloc_t;

/* JobScaling= (compute clusters): what a job's VMs do when some of them
 * cannot be had. */
typedef enum {
	AZML_SCALING_ALL_OR_NOTHING = 0, /* deleted together, job requeued */
	AZML_SCALING_BEST_EFFORT,	/* those made stay */
} azml_scaling_t;

/* Azure's limits (azureml.conf.5, PLACEMENT): a Flexible scale set with
 * one fault domain holds at most 1000 VMs; RDMA sizes share an InfiniBand
 * fabric only within one availability set (at most 200 VMs), as Flexible
 * scale sets have no InfiniBand. */
#define AZML_SCALE_SET_MAX 1000
#define AZML_AVAILABILITY_SET_MAX 200

/* IdleSecondsBeforeScaledown=auto: the partition's SuspendTime until
 * reconcile has learnt one (azureml.conf.5) */
#define AZML_IDLE_AUTO_START 300

typedef enum {
	AZML_CRED_MANAGED_IDENTITY = 0,
	AZML_CRED_CLIENT_SECRET,
	AZML_CRED_ENV,
} azml_cred_t;

typedef struct {
	char *name;
	azml_kind_t kind;
	char *vm_size;		/* canonical spelling; NULL for attached; a
				 * mix: its first size as written */
	azml_size_info_t size;	/* resolved vm_size (zeroed for attached) */
	/* VmSize=A,B,C: every size of the mix in the order written, canonical
	 * (mix[0] is vm_size); one entry for a single size, none for
	 * attached.  cpus and real_memory below are the mix's smallest. */
	char *mix[AZML_MIX_MAX];
	azml_size_info_t mix_size[AZML_MIX_MAX];
	size_t nmix;
	azml_alloc_t alloc;	/* AllocationStrategy= */
	azml_scaling_t job_scaling; /* JobScaling=, default AllOrNothing */
	int min_nodes;
	int max_nodes;
	int idle_seconds;	/* IdleSecondsBeforeScaledown (auto: where
				 * reconcile starts from) */
	bool idle_auto;		/* IdleSecondsBeforeScaledown=auto */
	int capacity_backoff;	/* CapacityBackoff= seconds: the target's, else
				 * the global one; 0 for attached */
	azml_priority_t priority;
	azml_provisioning_t provisioning;	/* clusters; instances: VMS */
	char *ppg;		/* ProximityPlacementGroup= resource id, or NULL */
	char *avset;		/* AvailabilitySet= resource id, or NULL */
	/* Fallback= (clusters only): where its jobs may also run, in the
	 * order given, each the canonical name of another cluster or
	 * instance of this file.  NULL-terminated; owned by the conf. */
	char **fallback;
	size_t nfallback;
	bool quota_approved;
	char *nodes;		/* hostlist expression of its Slurm nodes */
	int node_count;
	char *gres;		/* "gpu:v100:1", or NULL; see gres.h */
	/* What gres.h makes of gres, at load: */
	int gpus;		/* GPUs a node, every type; 0: none */
	char *gpu_type;		/* "v100" when its GPUs have one type, else NULL */
	const azml_gpu_arch_t *gpu_arch; /* shared by all its GPUs, or NULL */
	char *cuda;		/* attached: Cuda= jobs there need, or NULL */
	int cpus;		/* attached: CPUs=, else from the size; 0: unset */
	int real_memory;	/* MiB; attached: RealMemory=, else from size */
	char *image;		/* Publisher:Offer:Sku:Version or resource id */
	char *subnet;		/* subnet resource id */
	char *admin_user;
	char *ssh_public_key;	/* path of a .pub file */
	char *zone;
	char *tags;		/* "k:v,k:v" */
	/* Node bootstrap (userdata.h): the target's, else the global ones. */
	char *slurmctld_host;	/* HOST[:PORT]; NULL: slurm.conf's, at create */
	char *munge_key_secret;	/* Key Vault secret URL, or NULL */
	char *identity;		/* user-assigned identity resource id, or NULL */
	char *job_identity;	/* JobIdentity=: jobs' identity, or NULL */
	char *node_setup_script; /* absolute path on the image, or NULL */
	char *health_checks;	/* HealthChecks=: the target's, else global */
	char *health_check_script; /* HealthCheckScript=, or NULL */
	int replace_limit;	/* ReplaceLimit= (per VM size an hour) */
	char *file;		/* where it was defined */
	int line;
} azml_target_t;

typedef struct {
	char *path;
	char *cluster_name;
	char *subscription_id;
	char *resource_group;
	char *location;
	char *arm_endpoint;
	char *authority_host;
	char *imds_endpoint;
	azml_cred_t credential;
	char *secret_file;	/* client-secret:PATH */
	char *tenant_id;
	char *client_id;
	char *ca_bundle;
	char *cloud;		/* Cloud=, default AzurePublic (cloud.h) */
	char *log_file;
	char *state_dir;
	char *prices;		/* Prices=: NULL for retail, else a file's path */
	char *prices_endpoint;	/* PricesEndpoint= (Retail Prices API) */
	/* Defaults that targets inherit. */
	char *image;
	char *subnet;
	char *admin_user;
	char *ssh_public_key;
	char *slurmctld_host;
	char *munge_key_secret;
	char *identity;
	char *job_identity;
	char *node_setup_script;
	int capacity_backoff;	/* CapacityBackoff=, default 600 seconds */
	char *health_checks;	/* HealthChecks=, NULL: all */
	char *health_check_script;
	int health_check_interval; /* seconds; default 300, 0: no check */
	int replace_limit;	/* ReplaceLimit=, default 3 */
	char *metrics_dir;	/* MetricsDir=, default node_exporter's */

	azml_target_t *targets;
	size_t ntargets;

	char **errors;		/* "FILE:LINE: message" */
	size_t nerrors;
	char **warnings;	/* "FILE:LINE: warning: message": the file is
				 * usable, but something will not work */
	size_t nwarnings;

	/* Where the global file keys were set ("FILE:LINE"; NULL when not
	 * set), for azml_conf_check_files()'s messages. */
	char *state_dir_at;
	char *log_file_at;
	char *prices_at;
	char *ssh_public_key_at;
	char *ca_bundle_at;
	char **files;		/* every file read, Include'd ones too (and
				 * those that could not be read): what a
				 * watcher must watch */
	size_t nfiles;
	bool oom;		/* memory ran out while loading or checking
				 * (the load then returns NULL) */
} azml_conf_t;

/*
 * The file to read: $AZUREML_CONF, else azureml.conf beside $SLURM_CONF,
 * else /etc/slurm/azureml.conf.  Returns a malloc'd string, NULL when out
 * of memory.
 */
char *azml_conf_default_path(void);

/* ---- health checks (HealthChecks=) ---- */
typedef enum {
	AZML_HC_GPU,		/* GPU count and model, row remapping, retired
				 * pages, lost GPUs (NVML) */
	AZML_HC_ECC,		/* volatile uncorrectable ECC (NVML) */
	AZML_HC_XID,		/* hardware XIDs in the kernel log */
	AZML_HC_IB,		/* InfiniBand ports ACTIVE at the size's rate */
	AZML_HC_MEMORY,		/* memory seen against the size's */
	AZML_HC_DISK,		/* free space on the Slurm spool and /tmp */
	AZML_HC_SCRIPT,		/* HealthCheckScript= */
	AZML_HC_N
} azml_hc_t;
#define AZML_HC_ALL ((1u << AZML_HC_N) - 1)

/* "gpu", ...; hardware: a failure that a new VM cures (replacement). */
const char *azml_health_check_name(azml_hc_t c);
bool azml_health_check_hardware(azml_hc_t c);
/* The check named by NAME[0..LEN) (case-insensitive), or -1. */
int azml_health_check_find(const char *name, size_t len);
/* HealthChecks= V (NULL: "all") into a mask of 1 << azml_hc_t.  0, or -1
 * with the reason in WHY. */
int azml_health_checks_parse(const char *v, unsigned int *mask, char *why,
			     size_t n);
/* A health check's drain reason is "azureml: health: CHECK: ...": the
 * check REASON names, or -1 when it is not one. */
#define AZML_HEALTH_REASON "azureml: health: "
int azml_health_reason_check(const char *reason);

/*
 * Parse PATH (NULL: azml_conf_default_path()).  Returns a handle, NULL only
 * when out of memory; check conf->nerrors before using it.
 */
azml_conf_t *azml_conf_load(const char *path);

/* Parse TEXT as if it were the file NAME (Include is relative to cwd). */
azml_conf_t *azml_conf_load_string(const char *text, const char *name);

void azml_conf_destroy(azml_conf_t *conf);

/*
 * The files and folders of a loaded CONF that the controller's programs
 * trust, judged on this machine (safefile.h): StateDir (and its parents),
 * Prices=FILE, SshPublicKey= (global and each target's), LogFile= (when it
 * exists; a folder holding it that group or others may write is a
 * warning).  What is wrong is appended to conf->errors ("FILE:LINE: ...")
 * or conf->warnings.  Returns the number of errors added (running out of
 * memory counts as one: its message could not be kept; conf->oom says so).  Not part of
 * azml_conf_load(): the plugins inside slurmctld load the file and must
 * not scan the disk; check-config calls it.
 */
size_t azml_conf_check_files(azml_conf_t *conf);

/* Case-insensitive lookup by target name; NULL when none. */
const azml_target_t *azml_conf_find_target(const azml_conf_t *conf,
					   const char *name);

/* The target whose nodes include NODE; NULL when none. */
const azml_target_t *azml_conf_target_of_node(const azml_conf_t *conf,
					      const char *node);

/* Whether V names an Entra ID tenant: its ID (a GUID) or one of its
 * domains (a DNS name: letters, digits, '-' and '.', no '/'). */
bool azml_conf_tenant_ok(const char *v);

const char *azml_kind_name(azml_kind_t kind);
const char *azml_priority_name(azml_priority_t prio);
const char *azml_provisioning_name(azml_provisioning_t p);

/*
 * T's sizes and how they are had, into the JSON object O (`targets
 * --json`): "vm_sizes" (every size of the VmSize= mix in the order written;
 * one for a single size, none for attached), "allocation_strategy" and
 * "job_scaling" (clusters; null for the others).  Returns 0, or -1 when out
 * of memory (O may then hold some of them).
 */
int azml_target_mix_json(cJSON *o, const azml_target_t *t);

/* The scale set of T (Provisioning=ScaleSet): "<ClusterName>-<target>",
 * lower case, into BUF.  Returns BUF. */
char *azml_conf_scale_set_name(const azml_conf_t *conf,
			       const azml_target_t *t, char *buf, size_t n);

#endif

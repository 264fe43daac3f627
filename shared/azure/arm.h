/*
 * arm.h - the Azure Resource Manager client: virtual machines (create with
 * their NIC and disks, get, list by tag, delete, deallocate, start), compute
 * usages and VM sizes, as Azure documents them.
 *
 * Every operation is asynchronous: queue it with its callback, then run
 * azml_arm_run() to drive all of them at once over one HTTP engine (bounded
 * concurrency, keep-alive, retries, write pacing: see http.h).  Long-running
 * operations are polled through Azure-AsyncOperation (preferred) or
 * Location, honouring Retry-After, until Succeeded, Failed or Canceled.
 * Failures carry Azure's error code (QuotaExceeded, SkuNotAvailable,
 * AllocationFailed, OperationNotAllowed, ...) and message.
 *
 * What the server controls is bounded and checked: Azure-AsyncOperation,
 * Location and nextLink URLs must have ArmEndpoint's scheme, host and port
 * (else the call fails with code "UntrustedUrl" and the bearer token is not
 * sent); an operation not done AZML_ARM_OPERATION_TIMEOUT seconds after it
 * was queued fails with "OperationTimedOut" (Azure may still finish it); a
 * listing fails with "TooManyPages" after AZML_ARM_MAX_PAGES pages, with
 * "RepeatedNextLink" when a nextLink comes back, or with "TooManyVMs" past
 * AZML_ARM_MAX_VMS VMs of this cluster.
 */
#ifndef AZML_ARM_H
#define AZML_ARM_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "conf.h"
#include "events.h"	/* Scheduled Events, ISO 8601: once in arm.c */
#include "http.h"
#include "userdata.h"

#define AZML_API_COMPUTE "2024-07-01"
#define AZML_API_NETWORK "2023-09-01"

#define AZML_ARM_OPERATION_TIMEOUT 1800	/* seconds, see above */
#define AZML_ARM_MAX_PAGES 1000
#define AZML_ARM_MAX_VMS 100000	/* a listing keeps at most this many */

typedef struct azml_arm azml_arm_t;

typedef struct {
	bool ok;
	int http_status;	/* of the answer that decided, 0: none */
	char code[64];		/* Azure's error code, "" when ok */
	char message[512];	/* Azure's message, or ours */
	char op_id[64];		/* the long-running operation's id, or "" */
	char name[80];		/* VM name */
	char node[80];		/* its slurm-node tag */
	char cluster[80];	/* its slurm-cluster tag */
	char size[64];
	char ip[64];		/* private IP, when known */
	char provisioning[32];	/* Creating, Succeeded, Deleting, Failed, ... */
	char power[32];		/* running, deallocated, starting, ... */
	bool spot;
	/* VMs of a scale set (Flexible), and scale sets themselves: */
	char scale_set[80];	/* the set a VM belongs to, or "" */
	char set_id[288];	/* properties.virtualMachineScaleSet.id as
				 * Azure wrote it ("?" when longer), or "" */
	char computer[72];	/* osProfile.computerName, or "" */
	char nic[96];		/* its primary NIC's name, or "" */
	char etag[64];		/* a scale set's etag, as Azure gave it */
	long capacity;		/* a scale set's sku.capacity, -1: unknown */
	/* For the lifecycle journal: */
	char vm_id[40];		/* properties.vmId (a GUID), or "" */
	long created;		/* properties.timeCreated (epoch s), 0: none */
	char zone[4];		/* zones[0] ("1".."3"), or "" */
	int identities;		/* user-assigned identities it carries */
} azml_vm_result_t;

typedef void (*azml_vm_cb)(void *arg, const azml_vm_result_t *r);
typedef void (*azml_vm_list_cb)(void *arg, const azml_vm_result_t *vms,
				size_t n, const azml_vm_result_t *err);

typedef struct {
	char name[96];		/* "standardNCSv3Family" */
	long current, limit;
} azml_usage_t;
typedef void (*azml_usage_cb)(void *arg, const azml_usage_t *u, size_t n,
			      const azml_vm_result_t *err);

typedef struct {
	char name[64];
	int vcpus;
	int memory_mib;
	int gpus;		/* -1 when the answer does not say */
} azml_vm_size_t;
typedef void (*azml_sizes_cb)(void *arg, const azml_vm_size_t *s, size_t n,
			      const azml_vm_result_t *err);

/*
 * What the controller knows that azureml.conf does not, for each VM's
 * userData (userdata.h).  The resume program reads it from slurm.conf
 * (controller.h); arm.c never links libslurm.  Any field may be NULL.
 */
typedef struct {
	const char *slurmctld_host;	/* for targets without SlurmctldHost= */
	const char *slurm_cluster;	/* slurm.conf's ClusterName */
	const char *slurm_version;	/* the controller's, "22.05.8" */
} azml_ctld_info_t;

/* NULL with a message when the credential or ArmEndpoint cannot be used. */
azml_arm_t *azml_arm_create(const azml_conf_t *conf, const azml_http_opts_t *o,
			    char *err, size_t n);
void azml_arm_destroy(azml_arm_t *arm);

/* How long an operation queued from now on may take, polls included
 * (default AZML_ARM_OPERATION_TIMEOUT); SECONDS <= 0 restores the default. */
void azml_arm_set_operation_timeout(azml_arm_t *arm, double seconds);

/* The controller's settings for the VMs created from now on (copied); see
 * azml_ctld_info_t. */
void azml_arm_set_ctld_info(azml_arm_t *arm, const azml_ctld_info_t *info);

/* Each returns 0 once queued, or -1 with the callback already called with
 * the reason (a bad name, no token). */
int azml_arm_vm_create(azml_arm_t *arm, const azml_target_t *t,
		       const char *node, azml_vm_cb cb, void *arg);
/* The same at SIZE (one of T's mix; NULL: T's VmSize): Azure's answer
 * (hardwareProfile.vmSize, vmId) says what was made. */
int azml_arm_vm_create_size(azml_arm_t *arm, const azml_target_t *t,
			    const char *node, const char *size, azml_vm_cb cb,
			    void *arg);
int azml_arm_vm_delete(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		       void *arg);
/*
 * Delete VM NAME only once a GET shows it is ours (azml_arm_vm_ours() with
 * SET): one GET, then the delete.  A VM that is not ours is left alone: CB
 * gets code "NotOurVM" and why (naming the VM); a VM already gone (404) is
 * deleted, as for azml_arm_vm_delete().
 */
int azml_arm_vm_delete_ours(azml_arm_t *arm, const char *name,
			    const char *set, azml_vm_cb cb, void *arg);
int azml_arm_vm_get(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		    void *arg);
/* JobIdentity=: PATCH VM NAME's identities so that it keeps KEEP and no
 * longer carries DROP (resource ids).  CB gets the VM as ARM returns it. */
int azml_arm_vm_keep_identity(azml_arm_t *arm, const char *name,
			      const char *drop, const char *keep,
			      azml_vm_cb cb, void *arg);
int azml_arm_vm_power(azml_arm_t *arm, const char *name, bool start,
		      azml_vm_cb cb, void *arg);
/* VMs of the resource group tagged slurm-cluster=<ClusterName>: the list
 * (model only), then their power states from ListAll with statusOnly=true
 * (the spec allows $expand=instanceView on a list only with a $filter). */
int azml_arm_vm_list(azml_arm_t *arm, azml_vm_list_cb cb, void *arg);
/* The private IP of VM NAME's NIC NIC (r->ip). */
int azml_arm_nic_ip(azml_arm_t *arm, const char *name, const char *nic,
		    azml_vm_cb cb, void *arg);

/*
 * Scale sets in Flexible orchestration (Provisioning=ScaleSet): one a
 * cluster, named azml_conf_scale_set_name().  Their VMs are named by Azure
 * ("SET_1a2b3c4d"); they are plain VMs otherwise (get, delete, boot log).
 * Results carry the set's etag and sku.capacity.  A write that loses a race
 * fails with HTTP 412 "PreconditionFailed": GET the set and decide again.
 */
/* GET the set; a set that does not exist fails with HTTP 404. */
int azml_arm_vmss_get(azml_arm_t *arm, const char *set, azml_vm_cb cb,
		      void *arg);
/* Create T's set with CAPACITY VMs (If-None-Match: *), and wait for it. */
int azml_arm_vmss_create(azml_arm_t *arm, const azml_target_t *t,
			 const char *set, long capacity, azml_vm_cb cb,
			 void *arg);
/* Set its capacity to CAPACITY, only if its etag is still ETAG (If-Match),
 * and wait for the operation: new VMs are made, or Azure picks which go. */
int azml_arm_vmss_scale(azml_arm_t *arm, const char *set, long capacity,
			const char *etag, azml_vm_cb cb, void *arg);
/* Delete exactly VMS[0..N) of the set, in one request (forceDeletion),
 * N <= AZML_ARM_VMSS_BATCH. */
#define AZML_ARM_VMSS_BATCH 1000
int azml_arm_vmss_delete_vms(azml_arm_t *arm, const char *set,
			     const char *const *vms, size_t n, azml_vm_cb cb,
			     void *arg);
/* Delete the set (and whatever VMs it still holds). */
int azml_arm_vmss_delete(azml_arm_t *arm, const char *set, azml_vm_cb cb,
			 void *arg);
/* The set's VMs, with their instance view ($filter on the set's id). */
int azml_arm_vmss_vms(azml_arm_t *arm, const char *set, azml_vm_list_cb cb,
		      void *arg);
int azml_arm_usages(azml_arm_t *arm, azml_usage_cb cb, void *arg);
/* The usages, now: queue the GET and run the client until it is answered
 * (other queued calls run too).  0 with *U (malloc'd) and *N, or -1 with
 * ERR (Azure's code, message and HTTP status). */
int azml_arm_usages_now(azml_arm_t *arm, azml_usage_t **u, size_t *n,
			azml_vm_result_t *err);
int azml_arm_vm_sizes(azml_arm_t *arm, azml_sizes_cb cb, void *arg);
/*
 * The last lines of VM NAME's serial console (boot diagnostics):
 * POST retrieveBootDiagnosticsData, then a GET of its serialConsoleLogBlobUri
 * without the bearer token (a SAS URL), only where azml_bootdiag_url_ok()
 * allows.  CB gets at most AZML_BOOTDIAG_MAX bytes, the end of the log
 * (NUL-terminated; NULL with ERR on failure).  Each request is bounded as
 * every request is (http.h: a timeout per attempt, a retry window), and the
 * blob is not asked for once AZML_BOOTDIAG_TIMEOUT seconds have passed.
 */
#define AZML_BOOTDIAG_MAX (1 << 20)
#define AZML_BOOTDIAG_TIMEOUT 60
typedef void (*azml_boot_log_cb)(void *arg, const char *log, size_t len,
				 const azml_vm_result_t *err);
int azml_arm_vm_boot_log(azml_arm_t *arm, const char *name,
			 azml_boot_log_cb cb, void *arg);

int azml_arm_run(azml_arm_t *arm);
/* Call FN(ARG) at least every EVERY seconds during azml_arm_run() (for
 * work that waits on something else, and may queue calls). */
void azml_arm_set_tick(azml_arm_t *arm, void (*fn)(void *arg), void *arg,
		       double every);
const azml_http_stats_t *azml_arm_stats(const azml_arm_t *arm);

/* ---- parsers and builders, pure (unit-tested on Microsoft's examples) ---- */

/* The resource id of scale set SET of CONF's resource group into ID:
 * "/subscriptions/SUB/resourceGroups/RG/providers/Microsoft.Compute/
 * virtualMachineScaleSets/SET".  Returns ID. */
char *azml_arm_vmss_id(const azml_conf_t *conf, const char *set, char *id,
		       size_t n);

/*
 * Whether VM (a GET's answer or a listing's item) is one we may delete: it
 * carries slurm-cluster=<ClusterName> (the tag every VM we create has), and
 * its own properties.virtualMachineScaleSet.id is scale set SET's id
 * (azml_arm_vmss_id; compared without case, as ARM ids are), or with SET
 * NULL it is in no scale set.  true, or false with why in WHY (naming the
 * VM; what Azure wrote escaped, azml_escape()).  A listing is never trusted
 * for this: every delete by name is decided here.
 */
bool azml_arm_vm_ours(const azml_conf_t *conf, const azml_vm_result_t *vm,
		      const char *set, char *why, size_t n);

/* A VM name that is also its computerName: azml_node_name_ok(NAME,
 * AZML_NAME_HOSTNAME) (names.h), 1-63 of [A-Za-z0-9-], not starting or
 * ending with '-'. */
bool azml_arm_name_ok(const char *name);
/* A VM or scale set resource name as Azure makes them: 1-64 of
 * [A-Za-z0-9_.-], starting with a letter or digit. */
bool azml_arm_resource_name_ok(const char *name);

/*
 * The bootstrap settings of TARGET's VM for NODE (NULL: the target's first
 * node) into *U, strings malloc'd (azml_userdata_free): the target's keys,
 * with CTLD (may be NULL) for what azureml.conf leaves to slurm.conf.
 * Returns 0, or -1 with why in ERR (no VM target, not its node, no
 * SlurmctldHost known).
 */
int azml_arm_userdata(const azml_conf_t *conf, const azml_target_t *t,
		      const char *node, const azml_ctld_info_t *ctld,
		      azml_userdata_t *u, char *err, size_t n);

/*
 * The PUT body that creates TARGET's VM for NODE (caller deletes):
 * properties.userData (when a SlurmctldHost is known: the target's or
 * CTLD's), the user-assigned identity of Identity=, boot diagnostics on
 * (managed storage), computerName = NODE.
 */
/*
 * The PUT body that creates T's scale set SET (Flexible, one fault domain,
 * CAPACITY VMs): the same image, NIC, disks, tags (without slurm-node),
 * identity, zone, Spot settings and boot diagnostics as a single VM, one
 * userData naming no node, computerNamePrefix "<target>-", and for RDMA
 * sizes a single placement group.  A mix (VmSize=A,B): sku {"name": "Mix",
 * "capacity"} and properties.skuProfile {vmSizes, allocationStrategy}.
 * NULL with ERR.
 */
cJSON *azml_arm_vmss_body(const azml_conf_t *conf, const azml_target_t *t,
			  long capacity, const azml_ctld_info_t *ctld,
			  char *err, size_t n);
cJSON *azml_arm_vm_body(const azml_conf_t *conf, const azml_target_t *t,
			const char *node, const azml_ctld_info_t *ctld,
			char *err, size_t n);
/* The same at SIZE (NULL: T's VmSize); userData names SIZE too. */
cJSON *azml_arm_vm_body_size(const azml_conf_t *conf, const azml_target_t *t,
			     const char *node, const char *size,
			     const azml_ctld_info_t *ctld, char *err, size_t n);

/* azml_azure_error_parse() (azerror.h), under ARM's name. */
int azml_arm_parse_error(const char *body, char *code, size_t cn, char *msg,
			 size_t mn);
/* A VM resource (GET, list item) or an instanceView object. */
void azml_arm_parse_vm(const cJSON *vm, azml_vm_result_t *out);
void azml_arm_parse_instance_view(const cJSON *iv, azml_vm_result_t *out);
/* An Azure-AsyncOperation status body: "InProgress", "Succeeded", "Failed",
 * "Canceled" in STATUS, and the error when there is one (CODE and MSG as
 * azml_azure_error_parse() writes them; untouched when there is none). */
int azml_arm_parse_operation(const char *body, char *status, size_t sn,
			     char *code, size_t cn, char *msg, size_t mn);
/* A NIC: the primary private IP. */
int azml_arm_parse_nic_ip(const char *body, char *ip, size_t n);
/* Usage lists (Compute and Machine Learning) and quota lists.  Returns the
 * count and a malloc'd array. */
size_t azml_arm_parse_usages(const char *body, azml_usage_t **out);
/* VM size lists: Compute's vmSizes and Machine Learning's. */
size_t azml_arm_parse_vm_sizes(const char *body, azml_vm_size_t **out);
/* The id of a long-running operation from its URL. */
void azml_arm_op_id(const char *url, char *id, size_t n);

#endif

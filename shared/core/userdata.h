/*
 * userdata.h - a VM's bootstrap settings: what the controller puts in the
 * VM's properties.userData (base64 of one JSON object) and what node-init
 * reads back from IMDS on the VM.  Never a secret: the munge key stays in
 * Key Vault, and the VM reads it with its own managed identity.
 *
 * The JSON object (version 1):
 *   {"version":1, "cluster":"demo", "slurm_cluster":"demo", "target":"gpu",
 *    "node":"gpu-1", "vm_size":"Standard_NC6s_v3",
 *    "slurmctld_host":"10.0.0.4:6817",
 *    "munge_key_secret":"https://VAULT.vault.azure.net/secrets/munge",
 *    "identity":"/subscriptions/…/userAssignedIdentities/NAME",
 *    "job_identity":"/subscriptions/…/userAssignedIdentities/JOBS",
 *    "setup_script":"/opt/site/setup.sh", "priority":"dedicated",
 *    "gpus":{"count":1,"type":"v100","arch":"Volta"},
 *    "slurm_version":"22.05.8"}
 * "node" is absent from a scale set's shared userData; "setup_script",
 * "gpus", "slurm_cluster" and "job_identity" (JobIdentity=: the VM's
 * second identity, the one jobs may use once the node identity is taken
 * from the VM) are optional.  Keys a later version adds are
 * ignored, so an older node-init reads a newer controller's userData.
 *
 * Everything here is pure (cJSON only): the parser is fuzzed
 * (tests/fuzz/userdata-fuzz.c), and its validators are the ones
 * azureml.conf's keys use, so what the controller accepts the node accepts.
 */
#ifndef AZML_USERDATA_H
#define AZML_USERDATA_H

#include <stdbool.h>
#include <stddef.h>

#define AZML_USERDATA_VERSION 1
#define AZML_USERDATA_MAX 65536		/* Azure's userData limit (bytes of
					 * base64); larger is refused */

typedef struct {
	int version;
	char *cluster;		/* azureml.conf's ClusterName */
	char *slurm_cluster;	/* slurm.conf's ClusterName, or NULL */
	char *target;
	char *node;		/* NULL: a scale set's VM (learns it later) */
	char *vm_size;
	char *slurmctld_host;	/* HOST[:PORT] */
	char *munge_key_secret;	/* Key Vault secret URL */
	char *identity;		/* user-assigned identity resource id */
	char *job_identity;	/* JobIdentity=, or NULL */
	char *setup_script;	/* absolute path on the image, or NULL */
	bool low_priority;
	int gpus;		/* GPUs the size must have; 0: none */
	char *gpu_type;		/* "v100", or NULL */
	char *gpu_arch;		/* "Volta", or NULL */
	char *slurm_version;	/* the controller's, "22.05.8" */
} azml_userdata_t;

/* The JSON text of U (malloc'd), or NULL when out of memory. */
char *azml_userdata_json(const azml_userdata_t *u);

/* base64 of azml_userdata_json(U): properties.userData.  malloc'd. */
char *azml_userdata_encode(const azml_userdata_t *u);

/*
 * Parse userData as IMDS serves it (base64, surrounding white space
 * allowed) into *OUT.  Returns 0, or -1 with a message naming what was
 * wrong in ERR ("userData: field 'node': …") and *OUT left empty.
 */
int azml_userdata_parse(const char *b64, size_t len, azml_userdata_t *out,
			char *err, size_t n);

/* Free what *U holds and zero it. */
void azml_userdata_free(azml_userdata_t *u);

/*
 * Validators, shared with azureml.conf.  Each returns 0, or -1 with why in
 * WHY.
 *   host: HOST[:PORT], HOST a DNS name or an IPv4/IPv6 address ([…] for
 *         IPv6 with a port), PORT 1–65535.
 *   secret URL: https://VAULT.vault.azure.net/secrets/NAME (also the
 *         sovereign clouds' vault domains), or plain http to loopback
 *         http://127.0.0.1:PORT/keyvault/VAULT/secrets/NAME (the emulator);
 *         no userinfo, query or fragment; VAULT 3–24 letters, digits, '-';
 *         NAME 1–127 letters, digits, '-'; optionally /VERSION, 32 hex
 *         digits.
 *   identity: /subscriptions/S/resourceGroups/R/providers/
 *         Microsoft.ManagedIdentity/userAssignedIdentities/NAME.
 */
int azml_ctld_host_ok(const char *v, char *why, size_t n);
int azml_secret_url_ok(const char *v, char *why, size_t n);
/* Whether secret URL V (azml_secret_url_ok() accepted it) names a version:
 * .../secrets/NAME/VERSION, VERSION 32 hex digits. */
bool azml_secret_url_versioned(const char *v);
int azml_identity_id_ok(const char *v, char *why, size_t n);

/*
 * base64 (RFC 4648, with padding).  encode: malloc'd text.  decode: LEN
 * bytes of text (white space skipped) into a malloc'd buffer of *OUTLEN
 * bytes plus a NUL; NULL when the text is not base64.
 */
char *azml_base64_encode(const void *data, size_t len);
unsigned char *azml_base64_decode(const char *text, size_t len,
				  size_t *outlen);

#endif

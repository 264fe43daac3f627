/*
 * auth.h - bearer tokens for Azure Resource Manager.
 *
 * Credential=managed-identity: IMDS (GET /metadata/identity/oauth2/token,
 * header Metadata: true).  Credential=client-secret:PATH: Entra ID v2 client
 * credentials (POST {AuthorityHost}/{TenantId}/oauth2/v2.0/token); a secret
 * file readable or writable by group or others is refused.  Credential=env:
 * the same with AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET.
 *
 * TenantId (or AZURE_TENANT_ID) is the tenant's ID (a GUID) or one of its
 * domains (contoso.onmicrosoft.com), as Entra ID accepts both.
 *
 * Tokens are cached until five minutes before they expire (half-way through
 * the lifetime of one that lives less than ten minutes).  The lifetime is the
 * answer's expires_in (else expires_on), clamped to 60 s .. 24 h; an answer
 * without a usable one (missing, not a number, not positive) counts as 600 s.
 * Tokens, secrets and the token endpoint's answers are never logged and are
 * wiped when freed.
 */
#ifndef AZML_AUTH_H
#define AZML_AUTH_H

#include <stddef.h>

#include "conf.h"

typedef struct azml_auth azml_auth_t;

/* NULL with a message in ERR when the credential cannot be used. */
azml_auth_t *azml_auth_create(const azml_conf_t *conf, char *err, size_t n);

/* The resource an ARM token is asked for in cloud CLOUD (Cloud=; NULL or
 * unknown: AzurePublic), whatever ArmEndpoint= says: IMDS's resource=,
 * and Entra ID's scope with ".default" after it. */
const char *azml_auth_arm_audience(const char *cloud);
void azml_auth_destroy(azml_auth_t *a);

/*
 * A valid token (fetched now if the cached one is too old; this blocks).
 * *TOKEN points into A and stays valid until the next call or destroy.
 * Returns 0, or -1 with a message in ERR.
 */
int azml_auth_token(azml_auth_t *a, const char **token, char *err, size_t n);

/* Forget the cached token (after a 401). */
void azml_auth_invalidate(azml_auth_t *a);

/* ---- IMDS as a VM sees it (node-init, watch-events) ---- */

#define AZML_IMDS_ADDRESS "http://169.254.169.254"

/* The IMDS endpoint of this VM: $AZURE_EMULATOR_IMDS (the emulator sets it
 * in its VM sandboxes), else AZML_IMDS_ADDRESS. */
const char *azml_imds_default(void);

/*
 * The URL of an IMDS request: IMDS + PATH_QUERY (a path with its query,
 * "/metadata/...?api-version=..."), plus "&vm=VM" when IMDS is not Azure's
 * own address: on the emulator every VM shares 127.0.0.1, so a request
 * names its VM (the emulator's convention).  VM NULL or "": the
 * $AZURE_EMULATOR_VM, else FALLBACK_VM.  Returns 0, or -1 with a message in
 * ERR (IMDS not an allowed URL, no VM name to give, too long).
 */
int azml_imds_url(const char *imds, const char *path_query, const char *vm,
		  const char *fallback_vm, char *url, size_t n, char *err,
		  size_t errlen);

/*
 * GET URL with "Metadata: true" (bounded: about 30 s with retries).
 * Returns the HTTP status and *BODY (malloc'd, NUL-terminated, *LEN bytes;
 * free with azml_secret_free when it may hold a token), or 0 with why in
 * ERR when no answer came.
 */
int azml_imds_get(const char *url, char **body, size_t *len, char *err,
		  size_t n);

/*
 * A token for RESOURCE ("https://vault.azure.net") from IMDS at IMDS
 * (azml_imds_url's VM naming applies), for the user-assigned identity whose
 * resource ID is MSI_RES_ID (NULL: the VM's only identity).  Returns 0 and
 * *TOKEN (free with azml_secret_free), or -1 with IMDS's own error in ERR
 * ("IMDS refused the token request (HTTP 400): invalid_request: Identity
 * not found").  The token is never logged.
 */
int azml_imds_token(const char *imds, const char *vm, const char *resource,
		    const char *msi_res_id, char **token, char *err, size_t n);

/* ---- parsers, pure (fuzzed) ---- */

/* A token endpoint's answer (Entra ID v2, IMDS): *TOKEN (malloc'd; free with
 * azml_secret_free) and its *LIFETIME in seconds (see above).  0, or -1 when
 * BODY holds no access_token (nothing is written then). */
int azml_auth_parse_token(const char *body, char **token, double *lifetime);

/* A token request that failed, in words for ERR: the endpoint's own error
 * (OAuth "error"/"error_description", or ARM's {"error":{code,message}}),
 * never the body itself.  STATUS 0: no answer (TRANSPORT_ERROR says why). */
void azml_auth_describe(int status, const char *transport_error,
			const char *body, const char *what, char *err, size_t n);

/* Read a secret from PATH, refusing unsafe permissions.  Returns a malloc'd
 * string (free with azml_secret_free) or NULL with a message in ERR. */
char *azml_secret_read(const char *path, char *err, size_t n);
void azml_secret_free(char *secret);

#endif

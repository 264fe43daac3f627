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
void azml_auth_destroy(azml_auth_t *a);

/*
 * A valid token (fetched now if the cached one is too old; this blocks).
 * *TOKEN points into A and stays valid until the next call or destroy.
 * Returns 0, or -1 with a message in ERR.
 */
int azml_auth_token(azml_auth_t *a, const char **token, char *err, size_t n);

/* Forget the cached token (after a 401). */
void azml_auth_invalidate(azml_auth_t *a);

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

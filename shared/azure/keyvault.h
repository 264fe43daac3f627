/*
 * keyvault.h - read one secret from Azure Key Vault (REST, api-version 7.4)
 * with a bearer token for https://vault.azure.net.
 *
 * GET {secret URL}?api-version=7.4 answers
 *   200 {"value":"…","id":"…","attributes":{…}}
 *   401/403/404 {"error":{"code":"SecretNotFound","message":"…"}}
 * The secret's value is never logged, and every copy of it is wiped when
 * freed (azml_secret_free).
 */
#ifndef AZML_KEYVAULT_H
#define AZML_KEYVAULT_H

#include <stddef.h>

#define AZML_KEYVAULT_API "7.4"
#define AZML_KEYVAULT_MAX_BODY (1024 * 1024 * 2)	/* larger is refused */

/*
 * Parse Key Vault's answer BODY (LEN bytes, need not be NUL-terminated).
 * Pure (fuzzed: tests/fuzz/keyvault-fuzz.c).
 * STATUS 200 with a string "value": returns 0 and *VALUE (malloc'd; free
 * with azml_secret_free).  Otherwise returns -1 with a one-line message in
 * ERR: "CODE: message" from Key Vault's error body (an "innererror" code
 * is appended in brackets), else "HTTP STATUS" (or a word on what was
 * wrong with a 200 answer); *VALUE is not written.
 */
int azml_keyvault_parse_secret(int status, const char *body, size_t len,
			       char **value, char *err, size_t n);

/*
 * GET the secret at URL (a secret URL, already checked by
 * azml_secret_url_ok) with TOKEN.  CA_BUNDLE NULL: the system's.  Blocks
 * (at most about a minute, retries included).  Returns 0 and *VALUE
 * (malloc'd; azml_secret_free), or -1 with a one-line message in ERR.
 */
int azml_keyvault_get_secret(const char *url, const char *token,
			     const char *ca_bundle, char **value, char *err,
			     size_t n);

#endif

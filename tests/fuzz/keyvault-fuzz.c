/*
 * keyvault-fuzz.c - libFuzzer target: Key Vault's answer to a secret GET
 * (shared/keyvault.h), as node-init reads it.
 *
 * The input's first byte picks the HTTP status (200, 401, 403, 404, 429,
 * 500 or 0); the rest is the body, not NUL-terminated (the parser takes a
 * length).  Checks beyond "no crash, no UB": the message is one line and
 * terminated, and a value is returned only for a 200 answer.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "keyvault.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_log_init(AZML_LOG_STDERR, "keyvault-fuzz", AZML_LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 401, 403, 404, 429, 500, 0 };
	char err[300];
	char *value = NULL, *body;
	int status, rc;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	/* An exact-size copy, so that ASan sees any read past the end. */
	if (!(body = malloc(size - 1 ? size - 1 : 1)))
		return 0;
	memcpy(body, data + 1, size - 1);
	memset(err, 'x', sizeof(err));
	rc = azml_keyvault_parse_secret(status, body, size - 1, &value, err,
					sizeof(err));
	if (rc == 0) {
		if (status != 200 || !value)
			abort();
		azml_secret_free(value);
	} else {
		if (value || !memchr(err, '\0', sizeof(err)) ||
		    strchr(err, '\n') || strchr(err, '\r'))
			abort();
	}
	free(body);
	return 0;
}

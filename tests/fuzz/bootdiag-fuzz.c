/*
 * bootdiag-fuzz.c - libFuzzer target: the serial console log parser and
 * the boot diagnostics answer (shared/bootdiag.h), fed the same bytes.
 *
 * Checks beyond "no crash, no UB": a reason found is NUL-terminated within
 * its buffer, at most AZML_BOOTDIAG_REASON_MAX characters, printable ASCII
 * only, and starts with "azureml: node-init: "; a URL taken out fits.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bootdiag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char reason[AZML_BOOTDIAG_REASON_MAX + 1], small[24], uri[512];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* not NUL-terminated: the parser must keep to LEN */
	if (azml_bootdiag_reason((const char *) data, size, reason,
				 sizeof(reason)) == 1) {
		size_t len = strnlen(reason, sizeof(reason));

		if (len == sizeof(reason) || len > AZML_BOOTDIAG_REASON_MAX ||
		    strncmp(reason, "azureml: node-init: ", 20))
			abort();
		for (size_t i = 0; i < len; i++)
			if (reason[i] < 0x20 || reason[i] >= 0x7f)
				abort();
	}
	if (azml_bootdiag_reason((const char *) data, size, small,
				 sizeof(small)) == 1 &&
	    strnlen(small, sizeof(small)) == sizeof(small))
		abort();
	if (azml_bootdiag_parse_uris(text, uri, sizeof(uri)) == 0) {
		char why[512];

		if (strnlen(uri, sizeof(uri)) == sizeof(uri))
			abort();
		azml_bootdiag_url_ok(uri, "https://management.azure.com", why,
				     sizeof(why));
		azml_bootdiag_url_ok(uri, "http://127.0.0.1:8443", why,
				     sizeof(why));
	}
	free(text);
	return 0;
}

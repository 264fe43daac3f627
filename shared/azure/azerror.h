/*
 * azerror.h - the one reader of Azure's error answers.
 *
 * ARM, Key Vault, IMDS, the Retail Prices API and Entra ID's managed
 * identity endpoints answer a failure with
 *
 *	{"error":{"code":"QuotaExceeded","message":"...",
 *		  "innererror":{"code":"..."}}}
 *
 * Every message built from one reads "CODE: MESSAGE" (the caller puts its
 * own context before it: "azureml: couldn't create VM 'x': CODE: MESSAGE").
 * What Azure wrote is copied as written, cut to the caller's buffers: ARM's
 * messages have lines ("Constraints applied are:\n  - VM Size"), so a caller
 * that prints one console line makes it one (azml_oneline(), log.h).  Pure:
 * cJSON only, no I/O.
 */
#ifndef AZML_AZERROR_H
#define AZML_AZERROR_H

#include <stddef.h>

#include <cjson/cJSON.h>

/*
 * BODY (NUL-terminated; NULL or not JSON: -1) as Azure's error.  Returns 0
 * with the code in CODE (CN bytes) and the message in MSG (MN bytes): the
 * "message" ("(no message)" when absent), then " (INNERCODE)" when an
 * "innererror" names a code.  -1 when BODY has no {"error":{"code":...}}
 * with a non-empty code; nothing is written then.
 */
int azml_azure_error_parse(const char *body, char *code, size_t cn, char *msg,
			   size_t mn);

/* The same, from a parsed answer J (not owned). */
int azml_azure_error_of(const cJSON *j, char *code, size_t cn, char *msg,
			size_t mn);

/* "CODE: MESSAGE" of BODY into OUT (N bytes), the one shape; -1 (nothing
 * written) when BODY is not an Azure error. */
int azml_azure_error_format(const char *body, char *out, size_t n);

#endif

/*
 * bootdiag.h - a VM's boot diagnostics: why node-init failed on it, read
 * from its serial console log (what ResumeFailProgram puts in the node's
 * reason when the VM never registered).
 *
 * The log comes from a URL Azure chooses (retrieveBootDiagnosticsData's
 * serialConsoleLogBlobUri, a SAS URL): it is fetched only where
 * azml_bootdiag_url_ok() allows, and everything here is pure and bounded
 * (the parser is fuzzed: tests/fuzz/bootdiag-fuzz.c).
 */
#ifndef AZML_BOOTDIAG_H
#define AZML_BOOTDIAG_H

#include <stddef.h>

#define AZML_BOOTDIAG_REASON_MAX 240	/* characters of a node reason */

/*
 * The last line of LOG (LEN bytes, any bytes) of the form
 *   [prefix]node-init: STEP: failed: MESSAGE
 * (node-init's console lines; the prefix may be a console or syslog one,
 * "node-init[PID]:" is accepted too) as "azureml: node-init: STEP: MESSAGE"
 * in REASON (N bytes), control and non-ASCII bytes dropped, cut at
 * AZML_BOOTDIAG_REASON_MAX characters.  Returns 1 when found, 0 when not
 * (REASON is then untouched).
 */
int azml_bootdiag_reason(const char *log, size_t len, char *reason, size_t n);

/*
 * retrieveBootDiagnosticsData's answer
 * {"consoleScreenshotBlobUri": "...", "serialConsoleLogBlobUri": "..."}:
 * the serial log's URL into URI (N bytes).  Returns 0, or -1 when BODY has
 * none (or it does not fit).
 */
int azml_bootdiag_parse_uris(const char *body, char *uri, size_t n);

/*
 * Whether URL may be fetched (without a token) as a VM's serial log: https
 * on the default port to a host under an Azure Storage blob domain
 * (*.blob.core.windows.net, *.blob.storage.azure.net, and the US Government
 * and China clouds' *.blob.core.usgovcloudapi.net,
 * *.blob.core.chinacloudapi.cn); or, when ARM_ENDPOINT is plain http to
 * loopback (the emulator), ARM_ENDPOINT's own scheme, host and port.
 * Returns 0, or -1 with why in WHY (the URL's query, a SAS token, is never
 * repeated).
 */
int azml_bootdiag_url_ok(const char *url, const char *arm_endpoint, char *why,
			 size_t n);

#endif

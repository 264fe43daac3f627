/*
 * bootdiag.c - node-init's failure from a VM's serial console log, and
 * which log URLs may be fetched (see bootdiag.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "bootdiag.h"
#include "http.h"
#include "url.h"

#define TAG "node-init"

/* Whether LINE (LEN bytes) is node-init's failure; its step and message. */
static bool _failure(const char *line, size_t len, const char **step,
		     size_t *slen, const char **msg, size_t *mlen)
{
	const char *end = line + len;

	for (const char *s = line; (size_t) (end - s) > sizeof(TAG);
	     s++) {
		const char *p = s + sizeof(TAG) - 1, *st;

		if (memcmp(s, TAG, sizeof(TAG) - 1) ||
		    (s > line && (isalnum((unsigned char) s[-1]) ||
				  s[-1] == '-')))
			continue;
		if (*p == '[') {		/* syslog's node-init[PID]: */
			for (p++; p < end && isdigit((unsigned char) *p); p++)
				;
			if (p >= end || *p != ']')
				continue;
			p++;
		}
		if (end - p < 2 || p[0] != ':' || p[1] != ' ')
			continue;
		st = p += 2;
		/* step names have spaces: "Key Vault", "GPU check" */
		while (p < end && (isalnum((unsigned char) *p) || *p == ' ' ||
				   *p == '-' || *p == '_' || *p == '.'))
			p++;
		if (p == st || p - st > 64 || end - p < 10 ||
		    memcmp(p, ": failed: ", 10))
			continue;
		*step = st;
		*slen = p - st;
		*msg = p + 10;
		*mlen = end - *msg;
		return true;
	}
	return false;
}

/* Append S (LEN bytes) to OUT at *AT, printable ASCII only, up to MAX. */
static void _append(char *out, size_t *at, size_t max, const char *s,
		    size_t len)
{
	for (size_t i = 0; i < len && *at < max; i++) {
		unsigned char c = s[i];

		if (c == '\t')
			c = ' ';
		if (c < 0x20 || c >= 0x7f)
			continue;
		out[(*at)++] = c;
	}
}

int azml_bootdiag_reason(const char *log, size_t len, char *reason, size_t n)
{
	const char *step = NULL, *msg = NULL, *line_end = log + len;
	size_t slen = 0, mlen = 0, at = 0, max;

	if (!log || !reason || n < 2)
		return 0;
	/* From the end: the last failure is the one that stopped the boot. */
	while (line_end > log) {
		const char *start = line_end;

		while (start > log && start[-1] != '\n')
			start--;
		if (_failure(start, line_end - start, &step, &slen, &msg,
			     &mlen))
			break;
		line_end = start > log ? start - 1 : log;
		step = NULL;
	}
	if (!step)
		return 0;
	max = n - 1 < AZML_BOOTDIAG_REASON_MAX ? n - 1 :
	      AZML_BOOTDIAG_REASON_MAX;
	_append(reason, &at, max, "azureml: node-init: ", 20);
	_append(reason, &at, max, step, slen);
	_append(reason, &at, max, ": ", 2);
	_append(reason, &at, max, msg, mlen);
	while (at > 0 && reason[at - 1] == ' ')
		at--;
	reason[at] = '\0';
	return 1;
}

int azml_bootdiag_parse_uris(const char *body, char *uri, size_t n)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(j,
		"serialConsoleLogBlobUri");
	int rc = -1;

	if (cJSON_IsString(u) && u->valuestring[0] &&
	    strlen(u->valuestring) < n) {
		memcpy(uri, u->valuestring, strlen(u->valuestring) + 1);
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

static bool _ends_with(const char *host, const char *suffix)
{
	size_t hl = strlen(host), sl = strlen(suffix);

	/* a label before the suffix: "x.blob.core.windows.net", not the
	 * suffix alone nor "evilblob.core.windows.net" */
	return hl > sl && !strcasecmp(host + hl - sl, suffix) &&
	       host[hl - sl - 1] != '.';
}

int azml_bootdiag_url_ok(const char *url, const char *arm_endpoint, char *why,
			 size_t n)
{
	static const char *const domains[] = {
		".blob.core.windows.net", ".blob.storage.azure.net",
		".blob.core.usgovcloudapi.net", ".blob.core.chinacloudapi.cn",
	};
	azml_url_origin_t o, arm;
	char err[256];

	if (!url || azml_http_url_origin(url, &o, err, sizeof(err))) {
		snprintf(why, n, "not a URL this program fetches (%s)",
			 url ? err : "none");
		return -1;
	}
	if (arm_endpoint &&
	    !azml_http_url_origin(arm_endpoint, &arm, NULL, 0) &&
	    azml_host_is_loopback(arm.host)) {	/* the emulator, http or https */
		if (azml_http_same_origin(&o, &arm))
			return 0;
		snprintf(why, n, "%s://%s:%d is not ArmEndpoint's origin "
			 "(%s://%s:%d), the only one allowed with a loopback "
			 "ArmEndpoint", o.scheme, o.host, o.port, arm.scheme,
			 arm.host, arm.port);
		return -1;
	}
	if (!strcmp(o.scheme, "https") && o.port == 443)
		for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++)
			if (_ends_with(o.host, domains[i]))
				return 0;
	snprintf(why, n, "%s://%s:%d is not https to an Azure Storage blob "
		 "host (*.blob.core.windows.net, *.blob.storage.azure.net, or "
		 "a sovereign cloud's)", o.scheme, o.host, o.port);
	return -1;
}

/*
 * azerror.c - Azure's {"error":{"code","message"}} answers (see azerror.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "azerror.h"

/* S into OUT (N bytes) on one line: a remote party's newlines and escapes
 * would otherwise split or colour a console or log line. */
static void _oneline(char *out, size_t n, const char *s)
{
	size_t i = 0;

	if (!n)
		return;
	for (; s && *s && i + 1 < n; s++)
		out[i++] = ((unsigned char) *s < 0x20 || *s == 0x7f) ? ' ' : *s;
	out[i] = '\0';
}

int azml_azure_error_of(const cJSON *j, char *code, size_t cn, char *msg,
			size_t mn)
{
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	const char *c, *m, *ic;
	char mb[1024], ib[128];

	if (!cJSON_IsObject(e))
		return -1;
	c = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
	if (!c || !*c)
		return -1;
	m = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
	ic = cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(e, "innererror"), "code"));
	_oneline(mb, sizeof(mb), m && *m ? m : "(no message)");
	_oneline(ib, sizeof(ib), ic ? ic : "");
	_oneline(code, cn, c);
	if (mn)
		snprintf(msg, mn, "%s%s%s%s", mb, ib[0] ? " (" : "", ib,
			 ib[0] ? ")" : "");
	return 0;
}

int azml_azure_error_parse(const char *body, char *code, size_t cn, char *msg,
			   size_t mn)
{
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	int rc = azml_azure_error_of(j, code, cn, msg, mn);

	cJSON_Delete(j);
	return rc;
}

int azml_azure_error_format(const char *body, char *out, size_t n)
{
	char code[128], msg[1024];

	if (azml_azure_error_parse(body, code, sizeof(code), msg, sizeof(msg)))
		return -1;
	snprintf(out, n, "%s: %s", code, msg);
	return 0;
}

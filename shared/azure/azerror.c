/*
 * azerror.c - Azure's {"error":{"code","message"}} answers (see azerror.h).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "azerror.h"

int azml_azure_error_of(const cJSON *j, char *code, size_t cn, char *msg,
			size_t mn)
{
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	const char *c, *m, *ic;

	if (!cJSON_IsObject(e))
		return -1;
	c = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
	if (!c || !*c)
		return -1;
	m = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
	ic = cJSON_GetStringValue(cJSON_GetObjectItem(
		cJSON_GetObjectItem(e, "innererror"), "code"));
	if (cn)
		snprintf(code, cn, "%s", c);
	if (mn)
		snprintf(msg, mn, "%s%s%s%s", m && *m ? m : "(no message)",
			 ic && *ic ? " (" : "", ic && *ic ? ic : "",
			 ic && *ic ? ")" : "");
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

/*
 * keyvault.c - one secret from Azure Key Vault (see keyvault.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "http.h"
#include "keyvault.h"

/* Copy S into OUT on one line: control characters (a remote party's
 * newlines) become spaces, so that a console line stays one line. */
static void _oneline(char *out, size_t n, const char *s)
{
	size_t i = 0;

	if (!n)
		return;
	for (; s && *s && i + 1 < n; s++)
		out[i++] = ((unsigned char) *s < 0x20 || *s == 0x7f) ? ' ' : *s;
	out[i] = '\0';
}

int azml_keyvault_parse_secret(int status, const char *body, size_t len,
			       char **value, char *err, size_t n)
{
	cJSON *j = NULL;
	const cJSON *v, *e, *inner;
	const char *code = NULL, *msg = NULL, *icode = NULL;
	char c[80], m[400], ic[80];
	int rc = -1;

	if (body && len && len <= AZML_KEYVAULT_MAX_BODY)
		j = cJSON_ParseWithLength(body, len);
	if (status == 200) {
		v = cJSON_GetObjectItem(j, "value");
		if (!j)
			snprintf(err, n, "Key Vault's answer is not JSON");
		else if (!cJSON_IsString(v))
			snprintf(err, n, "Key Vault's answer has no secret "
				 "value");
		else if (!(*value = strdup(v->valuestring)))
			snprintf(err, n, "out of memory");
		else
			rc = 0;
		if (cJSON_IsString(v))
			explicit_bzero(v->valuestring, strlen(v->valuestring));
		goto out;
	}
	e = cJSON_GetObjectItem(j, "error");
	code = cJSON_GetStringValue(cJSON_GetObjectItem(e, "code"));
	msg = cJSON_GetStringValue(cJSON_GetObjectItem(e, "message"));
	inner = cJSON_GetObjectItem(e, "innererror");
	icode = cJSON_GetStringValue(cJSON_GetObjectItem(inner, "code"));
	if (code && *code) {
		_oneline(c, sizeof(c), code);
		_oneline(m, sizeof(m), msg ? msg : "");
		_oneline(ic, sizeof(ic), icode ? icode : "");
		snprintf(err, n, "%s: %s%s%s%s", c, m[0] ? m : "(no message)",
			 ic[0] ? " (" : "", ic, ic[0] ? ")" : "");
	} else if (status == 0) {
		snprintf(err, n, "no answer from Key Vault");
	} else {
		snprintf(err, n, "Key Vault answered HTTP %d", status);
	}
out:
	cJSON_Delete(j);
	return rc;
}

typedef struct {
	int status;
	char *body;
	size_t len;
	char error[256];
} kv_got_t;

static void _got(void *arg, const azml_http_resp_t *r)
{
	kv_got_t *g = arg;

	g->status = r->status;
	g->len = r->body ? r->len : 0;
	g->body = r->body ? malloc(r->len + 1) : NULL;
	if (g->body) {
		memcpy(g->body, r->body, r->len);
		g->body[r->len] = '\0';
	} else {
		g->len = 0;
	}
	snprintf(g->error, sizeof(g->error), "%s", r->error);
}

int azml_keyvault_get_secret(const char *url, const char *token,
			     const char *ca_bundle, char **value, char *err,
			     size_t n)
{
	azml_http_opts_t o = { .max_in_flight = 1, .ca_bundle = ca_bundle,
			       .timeout = 20, .retry_for = 40,
			       .max_body = AZML_HTTP_BODY_TOKEN };
	azml_http_t *h = NULL;
	kv_got_t g = { 0 };
	char full[2300], *auth = NULL;
	const char *hdr[2] = { NULL, NULL };
	int rc = -1;

	if (!url || strchr(url, '?') || strlen(url) > 2048) {
		snprintf(err, n, "not a Key Vault secret URL");
		return -1;
	}
	snprintf(full, sizeof(full), "%s?api-version=" AZML_KEYVAULT_API, url);
	if (asprintf(&auth, "Authorization: Bearer %s", token) < 0) {
		auth = NULL;
		snprintf(err, n, "out of memory");
		goto out;
	}
	hdr[0] = auth;
	if (!(h = azml_http_create(&o))) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	if (azml_http_submit(h, "GET", full, hdr, NULL, 0, _got, &g, err, n))
		goto out;
	azml_http_run(h);
	if (g.status == 0 && !g.body) {
		snprintf(err, n, "couldn't reach Key Vault: %s",
			 g.error[0] ? g.error : "no answer");
		goto out;
	}
	rc = azml_keyvault_parse_secret(g.status, g.body, g.len, value, err, n);
out:
	if (g.body) {
		explicit_bzero(g.body, g.len);
		free(g.body);
	}
	if (auth) {
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	azml_http_destroy(h);
	return rc;
}

/*
 * keyvault.c - one secret from Azure Key Vault (see keyvault.h).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "auth.h"
#include "azerror.h"
#include "http.h"
#include "keyvault.h"
#include "log.h"

int azml_keyvault_parse_secret(int status, const char *body, size_t len,
			       char **value, char *err, size_t n)
{
	cJSON *j = NULL;
	const cJSON *v;
	char c[80], m[480];
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
	if (!azml_azure_error_of(j, c, sizeof(c), m, sizeof(m))) {
		snprintf(err, n, "%s: %s", c, m);
		azml_oneline(err);	/* a console line (node-init) */
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

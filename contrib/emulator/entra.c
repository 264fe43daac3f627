/*
 * entra.c - the Azure emulator's Entra ID: the token endpoint and the
 * bearer tokens it hands out.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

struct emu_auth_state emu_auth_st;

static bool _token_expired(const token_t *t, double now)
{
	return t->at + TOKEN_LIFETIME + TOKEN_GRACE < now;
}

/* The index of identity ID (lower-cased) in emu_auth_st.idents, added if new; -1
 * for "" or when IDENTS_MAX are known or out of memory. */
int emu_intern(const char *id)
{
	char *l;

	if (!id || !*id)
		return -1;
	for (size_t i = 0; i < emu_auth_st.nidents; i++)
		if (!strcasecmp(emu_auth_st.idents[i], id))
			return (int) i;
	if (emu_auth_st.nidents == IDENTS_MAX || !(l = strdup(id)))
		return -1;
	emu_lower(l);
	emu_auth_st.idents[emu_auth_st.nidents] = l;
	return (int) emu_auth_st.nidents++;
}

/* Keep TOK, issued at AT for audience AUD and identity IDENT (-1: none);
 * forget tokens expired for TOKEN_FORGET, and the oldest when TOKENS_MAX
 * are kept.  Returns the kept token, or NULL (out of memory). */
token_t *emu_add_token(const char *tok, double at, const char *aud,
			   int ident)
{
	double now = emu_now();
	size_t j = 0;

	for (size_t i = 0; i < emu_auth_st.nissued; i++)
		if (!_token_expired(&emu_auth_st.issued[i], now - TOKEN_FORGET))
			emu_auth_st.issued[j++] = emu_auth_st.issued[i];
	emu_auth_st.nissued = j;
	if (emu_auth_st.nissued == TOKENS_MAX) {
		memmove(emu_auth_st.issued, emu_auth_st.issued + 1, --emu_auth_st.nissued * sizeof(*emu_auth_st.issued));
	} else if (emu_auth_st.nissued == emu_auth_st.capissued) {
		size_t cap = emu_auth_st.capissued ? emu_auth_st.capissued * 2 : 64;
		token_t *t = realloc(emu_auth_st.issued, cap * sizeof(*t));

		if (!t)
			return NULL;
		emu_auth_st.issued = t;
		emu_auth_st.capissued = cap;
	}
	snprintf(emu_auth_st.issued[emu_auth_st.nissued].tok, sizeof(emu_auth_st.issued[0].tok), "%s", tok);
	emu_auth_st.issued[emu_auth_st.nissued].at = at;
	snprintf(emu_auth_st.issued[emu_auth_st.nissued].aud, sizeof(emu_auth_st.issued[0].aud), "%s",
		 aud ? aud : "");
	emu_auth_st.issued[emu_auth_st.nissued].ident = ident;
	return &emu_auth_st.issued[emu_auth_st.nissued++];
}

/* The state of the request's bearer token; *T (when not NULL) is set to
 * the token (owned by emu_auth_st.issued) when it is known. */
token_state_t emu_token_find(struct MHD_Connection *c, const token_t **t)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Authorization");

	if (!h)
		return TOKEN_MISSING;
	if (strncasecmp(h, "Bearer ", 7))
		return TOKEN_UNKNOWN;
	for (size_t i = 0; i < emu_auth_st.nissued; i++)
		if (!strcmp(emu_auth_st.issued[i].tok, h + 7)) {
			if (t)
				*t = &emu_auth_st.issued[i];
			return _token_expired(&emu_auth_st.issued[i], emu_now()) ?
			       TOKEN_EXPIRED : TOKEN_OK;
		}
	return TOKEN_UNKNOWN;
}

token_state_t emu_token_state(struct MHD_Connection *c)
{
	return emu_token_find(c, NULL);
}

/* A new token for audience AUD and identity IDENT (-1: none), owned by
 * emu_auth_st.issued, or NULL when out of memory. */
const char *emu_issue_token(const char *aud, int ident)
{
	char id[40], tok[64];
	token_t *t;

	emu_uuid(id);
	snprintf(tok, sizeof(tok), "emu.%s", id);
	if (!(t = emu_add_token(tok, emu_now(), aud, ident)))
		return NULL;
	emu_journal_token(t);
	return t->tok;
}

/* ---------------------------------------------------------------------- */
/* Tokens and IMDS */

void emu_token_v2(struct MHD_Connection *c, const char *body, reply_t *r)
{
	/* form body: grant_type=client_credentials&client_id=..&client_secret=..&scope=.. */
	char *copy = strdup(body ? body : ""), *save = NULL;
	const char *grant = NULL, *id = NULL, *secret = NULL, *scope = NULL;
	const char *tok;
	char aud[128] = "";
	cJSON *o;

	for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			continue;
		*eq = '\0';
		MHD_http_unescape(eq + 1);
		if (!strcmp(kv, "grant_type")) grant = eq + 1;
		else if (!strcmp(kv, "client_id")) id = eq + 1;
		else if (!strcmp(kv, "client_secret")) secret = eq + 1;
		else if (!strcmp(kv, "scope")) scope = eq + 1;
	}
	/* the token's audience: the scope without "/.default" */
	if (scope) {
		size_t n = strlen(scope);

		if (n > 9 && !strcmp(scope + n - 9, "/.default"))
			n -= 9;
		snprintf(aud, sizeof(aud), "%.*s", (int) n, scope);
	}
	if (!grant || strcmp(grant, "client_credentials") || !id || !scope) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "invalid_request");
		cJSON_AddStringToObject(o, "error_description", "AADSTS900144: "
			"The request body must contain grant_type=client_credentials, "
			"client_id and scope.");
		emu_json(r, 400, o);
	} else if (!secret || !*secret ||
		   (emu_auth_st.client_secret && strcmp(secret, emu_auth_st.client_secret)) ||
		   (!emu_auth_st.client_secret && !r->trusted)) {
		/* without --client-secret, nothing but the peer's user
		 * guards this endpoint */
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "invalid_client");
		cJSON_AddStringToObject(o, "error_description", "AADSTS7000215: "
			"Invalid client secret provided.");
		emu_json(r, 401, o);
	} else if (!(tok = emu_issue_token(aud, -1))) {
		emu_error(r, 500, "InternalServerError", "out of memory");
	} else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token_type", "Bearer");
		cJSON_AddNumberToObject(o, "expires_in", TOKEN_LIFETIME);
		cJSON_AddNumberToObject(o, "ext_expires_in", TOKEN_LIFETIME);
		cJSON_AddStringToObject(o, "access_token", tok);
		emu_json(r, 200, o);
	}
	free(copy);
}

/*
 * GET /{tenant}/v2.0/.well-known/openid-configuration: Entra ID's OpenID
 * Connect discovery document, with the emulator's own origin where Entra
 * names login.microsoftonline.com.  PATH is the request's (cut here); the
 * tenant must be one path segment of a tenant's characters.
 */
void emu_openid(char *path, reply_t *r)
{
	char *seg[8], base[192], url[400], tenant[80];
	cJSON *o;
	static const char *const modes[] = { "query", "fragment", "form_post" };
	static const char *const auth[] = { "client_secret_post",
		"private_key_jwt", "client_secret_basic" };
	static const char *const types[] = { "code", "id_token", "code id_token",
		"id_token token" };
	static const char *const scopes[] = { "openid", "profile", "email",
		"offline_access" };
	static const char *const claims[] = { "sub", "iss", "cloud_instance_name",
		"cloud_instance_host_name", "cloud_graph_host_name",
		"msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce",
		"preferred_username", "name", "tid", "ver", "at_hash", "c_hash",
		"email" };
	static const char *const pairwise[] = { "pairwise" };
	static const char *const rs256[] = { "RS256" };

	if (emu_segments(path, seg, 8) != 4 ||
	    !emu_chars_ok(seg[0], 64, "-.")) {
		emu_error(r, 400, "invalid_tenant", "AADSTS90002: Tenant "
			  "not found.");
		return;
	}
	snprintf(tenant, sizeof(tenant), "%s", seg[0]);
	snprintf(base, sizeof(base), "%s/%s", emu_net_st.base_url, tenant);
	o = cJSON_CreateObject();
#define URL(k, fmt) \
	snprintf(url, sizeof(url), fmt, base); \
	cJSON_AddStringToObject(o, k, url)
	URL("token_endpoint", "%s/oauth2/v2.0/token");
	cJSON_AddItemToObject(o, "token_endpoint_auth_methods_supported",
			      cJSON_CreateStringArray(auth, 3));
	URL("jwks_uri", "%s/discovery/v2.0/keys");
	cJSON_AddItemToObject(o, "response_modes_supported",
			      cJSON_CreateStringArray(modes, 3));
	cJSON_AddItemToObject(o, "subject_types_supported",
			      cJSON_CreateStringArray(pairwise, 1));
	cJSON_AddItemToObject(o, "id_token_signing_alg_values_supported",
			      cJSON_CreateStringArray(rs256, 1));
	cJSON_AddItemToObject(o, "response_types_supported",
			      cJSON_CreateStringArray(types, 4));
	cJSON_AddItemToObject(o, "scopes_supported",
			      cJSON_CreateStringArray(scopes, 4));
	URL("issuer", "%s/v2.0");
	cJSON_AddBoolToObject(o, "request_uri_parameter_supported", false);
	cJSON_AddStringToObject(o, "userinfo_endpoint",
				"https://graph.microsoft.com/oidc/userinfo");
	URL("authorization_endpoint", "%s/oauth2/v2.0/authorize");
	URL("device_authorization_endpoint", "%s/oauth2/v2.0/devicecode");
	cJSON_AddBoolToObject(o, "http_logout_supported", true);
	cJSON_AddBoolToObject(o, "frontchannel_logout_supported", true);
	URL("end_session_endpoint", "%s/oauth2/v2.0/logout");
	cJSON_AddItemToObject(o, "claims_supported", cJSON_CreateStringArray(
		claims, sizeof(claims) / sizeof(claims[0])));
	URL("kerberos_endpoint", "%s/kerberos");
#undef URL
	cJSON_AddNullToObject(o, "tenant_region_scope");
	cJSON_AddStringToObject(o, "cloud_instance_name", "microsoftonline.com");
	cJSON_AddStringToObject(o, "cloud_graph_host_name", "graph.windows.net");
	cJSON_AddStringToObject(o, "msgraph_host", "graph.microsoft.com");
	cJSON_AddStringToObject(o, "rbac_url", "https://pas.windows.net");
	emu_json(r, 200, o);
}

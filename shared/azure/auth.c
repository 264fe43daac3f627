/*
 * auth.c - managed identity and client-secret tokens (see auth.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth.h"
#include "azerror.h"
#include "cloud.h"
#include "http.h"
#include "safefile.h"

#define EARLY 300		/* refresh this many seconds before expiry */
/* Token lifetimes we believe: what the answer says, within these bounds;
 * an answer without a usable one (missing, not a number, not positive)
 * gets the default (a revoked or expired token still gets one fresh try
 * after a 401). */
#define LIFETIME_MIN 60
#define LIFETIME_MAX 86400
#define LIFETIME_DEFAULT 600

struct azml_auth {
	azml_cred_t kind;
	char *tenant, *client_id, *secret;
	char *authority, *imds, *ca_bundle;
	const char *audience;	/* ARM's, of Cloud= (cloud.h) */
	char *token;
	double refresh;		/* fetch a new token after this */
};

void azml_secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

char *azml_secret_read(const char *path, char *err, size_t n)
{
	struct stat st;
	char buf[2048], why[400];
	ssize_t len;
	/* never blocks (a FIFO), never follows a link (safefile.h) */
	int fd = azml_open_safe(path, 0, sizeof(buf) - 2, &st, why,
				sizeof(why));
	char *out;

	if (fd < 0) {
		snprintf(err, n, "couldn't use secret file '%s': %s", path,
			 errno == EINVAL && strstr(why, "larger") ? "too long" :
			 why);
		return NULL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, n, "refusing secret file '%s': it is accessible by "
			 "group or others (mode %04o); chmod 600 it", path,
			 (unsigned) (st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len < 0) {
		snprintf(err, n, "couldn't read secret file '%s': %s", path,
			 strerror(errno));
		return NULL;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' ||
			   buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (len == 0 || (size_t) len >= sizeof(buf) - 2) {
		snprintf(err, n, "secret file '%s' is %s", path,
			 len ? "too long" : "empty");
		explicit_bzero(buf, sizeof(buf));
		return NULL;
	}
	out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	return out;
}

static char *_dup(const char *s)
{
	return s ? strdup(s) : NULL;
}

const char *azml_auth_arm_audience(const char *cloud)
{
	const azml_cloud_t *c = azml_cloud_find(cloud);

	return (c ? c : azml_cloud_find(AZML_CLOUD_DEFAULT))->arm_audience;
}

azml_auth_t *azml_auth_create(const azml_conf_t *conf, char *err, size_t n)
{
	azml_auth_t *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	a->kind = conf->credential;
	a->authority = _dup(conf->authority_host);
	a->imds = _dup(conf->imds_endpoint);
	a->ca_bundle = _dup(conf->ca_bundle);
	a->audience = azml_auth_arm_audience(conf->cloud);
	switch (a->kind) {
	case AZML_CRED_MANAGED_IDENTITY:
		break;
	case AZML_CRED_CLIENT_SECRET:
		if (!azml_conf_tenant_ok(conf->tenant_id)) {
			snprintf(err, n, "TenantId is not a tenant ID or domain");
			goto fail;
		}
		a->tenant = _dup(conf->tenant_id);
		a->client_id = _dup(conf->client_id);
		if (!(a->secret = azml_secret_read(conf->secret_file, err, n)))
			goto fail;
		break;
	case AZML_CRED_ENV: {
		const char *t = getenv("AZURE_TENANT_ID");
		const char *c = getenv("AZURE_CLIENT_ID");
		const char *s = getenv("AZURE_CLIENT_SECRET");

		if (!t || !*t || !c || !*c || !s || !*s) {
			snprintf(err, n, "Credential=env needs AZURE_TENANT_ID, "
				 "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET in the "
				 "environment");
			goto fail;
		}
		/* it goes into the token URL's path */
		if (!azml_conf_tenant_ok(t)) {
			snprintf(err, n, "AZURE_TENANT_ID is not a tenant ID (a "
				 "GUID) or a tenant domain (contoso.onmicrosoft."
				 "com)");
			goto fail;
		}
		a->tenant = strdup(t);
		a->client_id = strdup(c);
		a->secret = strdup(s);
		break;
	}
	}
	return a;
fail:
	azml_auth_destroy(a);
	return NULL;
}

void azml_auth_destroy(azml_auth_t *a)
{
	if (!a)
		return;
	azml_secret_free(a->secret);
	azml_secret_free(a->token);
	free(a->tenant);
	free(a->client_id);
	free(a->authority);
	free(a->imds);
	free(a->ca_bundle);
	free(a);
}

void azml_auth_invalidate(azml_auth_t *a)
{
	azml_secret_free(a->token);
	a->token = NULL;
	a->refresh = 0;
}

typedef struct {
	int status;
	char *body;
	char error[256];
} sync_t;

static void _done(void *arg, const azml_http_resp_t *r)
{
	sync_t *s = arg;

	s->status = r->status;
	s->body = r->body ? strdup(r->body) : NULL;
	snprintf(s->error, sizeof(s->error), "%s", r->error);
}

void azml_auth_describe(int status, const char *transport_error,
			const char *body, const char *what, char *err, size_t n)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	const cJSON *d = cJSON_GetObjectItem(j, "error_description");
	char code[65], msg[301];

	if (!status)
		snprintf(err, n, "couldn't reach %s: %s", what,
			 transport_error ? transport_error : "no answer");
	else if (cJSON_IsString(e))
		snprintf(err, n, "%s refused the token request (HTTP %d): %.64s%s%.300s",
			 what, status, e->valuestring,
			 cJSON_IsString(d) ? ": " : "",
			 cJSON_IsString(d) ? d->valuestring : "");
	else if (!azml_azure_error_of(j, code, sizeof(code), msg, sizeof(msg)))
		snprintf(err, n, "%s refused the token request (HTTP %d): %s: %s",
			 what, status, code, msg);
	else
		snprintf(err, n, "%s answered HTTP %d to the token request", what,
			 status);
	cJSON_Delete(j);
}

/* Seconds a token lives, from the answer's expires_in (seconds; a number or
 * digits in a string, as IMDS writes it) or else expires_on (epoch seconds):
 * LIFETIME_DEFAULT when neither is a positive number, clamped to
 * LIFETIME_MIN..LIFETIME_MAX. */
static double _lifetime(const cJSON *j)
{
	const cJSON *in = cJSON_GetObjectItem(j, "expires_in");
	const cJSON *on = cJSON_GetObjectItem(j, "expires_on");
	double v = -1;

	for (int i = 0; i < 2 && v <= 0; i++) {
		const cJSON *e = i ? on : in;
		const char *s = cJSON_GetStringValue(e);

		if (cJSON_IsNumber(e))
			v = e->valuedouble;
		else if (s && *s && strlen(s) < 16 &&
			 strspn(s, "0123456789") == strlen(s))
			v = atof(s);
		else
			continue;
		if (i == 1)
			v -= azml_now();
		if (!(v > 0))	/* NaN too */
			v = -1;
	}
	if (v <= 0)
		return LIFETIME_DEFAULT;
	return v < LIFETIME_MIN ? LIFETIME_MIN : v > LIFETIME_MAX ? LIFETIME_MAX : v;
}

static int _fetch(azml_auth_t *a, char *err, size_t n)
{
	azml_http_opts_t o = { .max_in_flight = 1, .ca_bundle = a->ca_bundle,
			       .timeout = 20, .retry_for = 30,
			       .max_body = AZML_HTTP_BODY_TOKEN };
	azml_http_t *h = azml_http_create(&o);
	sync_t s = { 0 };
	char url[2048], *body = NULL, *aud;
	const char *what;
	char *tok;
	double life;
	size_t al;
	int rc = -1;

	if (!h) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if (a->kind == AZML_CRED_MANAGED_IDENTITY) {
		static const char *hdr[] = { "Metadata: true", NULL };

		what = "the instance metadata service";
		if (!(aud = curl_easy_escape(NULL, a->audience, 0))) {
			snprintf(err, n, "out of memory");
			goto out;
		}
		snprintf(url, sizeof(url), "%s/metadata/identity/oauth2/token?"
			 "api-version=2018-02-01&resource=%s", a->imds, aud);
		curl_free(aud);
		if (azml_http_submit(h, "GET", url, hdr, NULL, 0, _done, &s, err, n))
			goto out;
	} else {
		static const char *hdr[] = {
			"Content-Type: application/x-www-form-urlencoded", NULL };
		char *id = curl_easy_escape(NULL, a->client_id, 0);
		char *sec = curl_easy_escape(NULL, a->secret, 0);

		what = "Entra ID";
		al = strlen(a->authority);
		while (al && a->authority[al - 1] == '/')
			al--;
		snprintf(url, sizeof(url), "%.*s/%s/oauth2/v2.0/token", (int) al,
			 a->authority, a->tenant);
		aud = curl_easy_escape(NULL, a->audience, 0);
		/* v2.0: the scope is the resource's, then ".default" */
		if (!aud || asprintf(&body, "grant_type=client_credentials&"
				     "client_id=%s&client_secret=%s&scope=%s"
				     ".default", id, sec, aud) < 0)
			body = NULL;
		curl_free(aud);
		explicit_bzero(sec, strlen(sec));
		curl_free(id);
		curl_free(sec);
		if (!body || azml_http_submit(h, "POST", url, hdr, body, 0, _done,
					      &s, err, n))
			goto out;
	}
	azml_http_run(h);
	if (s.status != 200) {
		azml_auth_describe(s.status, s.error, s.body, what, err, n);
		goto out;
	}
	if (azml_auth_parse_token(s.body, &tok, &life)) {
		snprintf(err, n, "%s answered without an access_token", what);
		goto out;
	}
	/* Refresh EARLY before expiry, or half-way for short-lived tokens,
	 * so that a token is never fetched again for every request. */
	a->refresh = azml_now() + life - (life / 2 < EARLY ? life / 2 : EARLY);
	azml_secret_free(a->token);
	a->token = tok;
	rc = 0;
out:
	if (s.body) {
		explicit_bzero(s.body, strlen(s.body));
		free(s.body);
	}
	if (body) {
		explicit_bzero(body, strlen(body));
		free(body);
	}
	azml_http_destroy(h);
	return rc;
}

int azml_auth_parse_token(const char *body, char **token, double *lifetime)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *tok = cJSON_GetObjectItem(j, "access_token");
	int rc = -1;

	if (cJSON_IsString(tok) && *tok->valuestring) {
		if ((*token = strdup(tok->valuestring))) {
			*lifetime = _lifetime(j);
			rc = 0;
		}
		explicit_bzero(tok->valuestring, strlen(tok->valuestring));
	}
	cJSON_Delete(j);
	return rc;
}

/* ---- IMDS as a VM sees it ------------------------------------------- */

const char *azml_imds_default(void)
{
	const char *e = getenv("AZURE_EMULATOR_IMDS");

	return e && *e ? e : AZML_IMDS_ADDRESS;
}

int azml_imds_url(const char *imds, const char *path_query, const char *vm,
		  const char *fallback_vm, char *url, size_t n, char *err,
		  size_t errlen)
{
	azml_url_origin_t o;
	size_t il = strlen(imds);
	char *esc = NULL;
	int len;

	if (azml_http_url_origin(imds, &o, err, errlen))
		return -1;
	while (il && imds[il - 1] == '/')
		il--;
	if (!strcmp(o.host, "169.254.169.254")) {
		len = snprintf(url, n, "%.*s%s", (int) il, imds, path_query);
	} else {
		if (!vm || !*vm)
			vm = getenv("AZURE_EMULATOR_VM");
		if (!vm || !*vm)
			vm = fallback_vm;
		if (!vm || !*vm) {
			snprintf(err, errlen, "IMDS endpoint %.200s is not "
				 "Azure's: name the VM ($AZURE_EMULATOR_VM)",
				 imds);
			return -1;
		}
		if (!(esc = curl_easy_escape(NULL, vm, 0))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		len = snprintf(url, n, "%.*s%s&vm=%s", (int) il, imds,
			       path_query, esc);
		curl_free(esc);
	}
	if (len < 0 || (size_t) len >= n) {
		snprintf(err, errlen, "IMDS URL too long");
		return -1;
	}
	return 0;
}

typedef struct {
	int status;
	char *body;
	size_t len;
	char error[256];
} imds_got_t;

static void _imds_got(void *arg, const azml_http_resp_t *r)
{
	imds_got_t *g = arg;

	g->status = r->status;
	snprintf(g->error, sizeof(g->error), "%s", r->error);
	if (r->body && (g->body = malloc(r->len + 1))) {
		memcpy(g->body, r->body, r->len);
		g->body[r->len] = '\0';
		g->len = r->len;
	}
}

int azml_imds_get(const char *url, char **body, size_t *len, char *err,
		  size_t n)
{
	static const char *hdr[] = { "Metadata: true", NULL };
	azml_http_opts_t o = { .max_in_flight = 1, .timeout = 10,
			       .retry_for = 30, .max_retry_after = 10,
			       .max_body = AZML_HTTP_BODY_IMDS };
	azml_http_t *h = azml_http_create(&o);
	imds_got_t g = { 0 };

	if (!h) {
		snprintf(err, n, "out of memory");
		return 0;
	}
	if (azml_http_submit(h, "GET", url, hdr, NULL, 0, _imds_got, &g, err,
			     n)) {
		azml_http_destroy(h);
		return 0;
	}
	azml_http_run(h);
	azml_http_destroy(h);
	if (!g.status)
		snprintf(err, n, "couldn't reach IMDS: %s",
			 g.error[0] ? g.error : "no answer");
	if (!g.body && g.status && (g.body = strdup("")))
		g.len = 0;
	if (!g.body && g.status) {
		snprintf(err, n, "out of memory");
		return 0;
	}
	*body = g.body;
	*len = g.len;
	return g.status;
}

int azml_imds_token(const char *imds, const char *vm, const char *resource,
		    const char *msi_res_id, char **token, char *err, size_t n)
{
	char pq[3072], url[4096];
	char *res = curl_easy_escape(NULL, resource, 0);
	char *id = msi_res_id ? curl_easy_escape(NULL, msi_res_id, 0) : NULL;
	char *body = NULL;
	size_t len = 0;
	double life;
	int status, rc = -1, w;

	if (!res || (msi_res_id && !id)) {
		snprintf(err, n, "out of memory");
		goto out;
	}
	w = snprintf(pq, sizeof(pq), "/metadata/identity/oauth2/token?"
		     "api-version=2018-02-01&resource=%s%s%s", res,
		     id ? "&msi_res_id=" : "", id ? id : "");
	if (w < 0 || (size_t) w >= sizeof(pq)) {
		snprintf(err, n, "identity resource ID too long");
		goto out;
	}
	if (azml_imds_url(imds, pq, vm, NULL, url, sizeof(url), err, n))
		goto out;
	status = azml_imds_get(url, &body, &len, err, n);
	if (!status)
		goto out;
	if (status != 200) {
		azml_auth_describe(status, NULL, body, "IMDS", err, n);
		goto out;
	}
	if (azml_auth_parse_token(body, token, &life)) {
		snprintf(err, n, "IMDS answered without an access_token");
		goto out;
	}
	rc = 0;
out:
	if (body) {
		explicit_bzero(body, len);
		free(body);
	}
	curl_free(res);
	curl_free(id);
	return rc;
}

int azml_auth_token(azml_auth_t *a, const char **token, char *err, size_t n)
{
	if (!a->token || azml_now() > a->refresh)
		if (_fetch(a, err, n))
			return -1;
	*token = a->token;
	return 0;
}

/*
 * http.c - the libcurl multi engine (see http.h).
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <curl/curl.h>

#include "http.h"
#include "log.h"
#include "url.h"

typedef struct req {
	char *method, *url, *body;
	struct curl_slist *headers;
	double not_before;	/* earliest send time */
	double give_up;		/* no retry after this */
	bool write;
	int attempts;
	int max_retry_after;
	size_t max_body;	/* bytes of the answer's body */
	bool too_big;		/* the answer passed it: stopped */
	azml_http_cb cb;
	void *arg;
	CURL *easy;
	azml_http_resp_t resp;
	size_t cap;
	char curl_err[CURL_ERROR_SIZE];	/* libcurl's words on a failure */
	struct req *next;	/* in the wait queue */
} req_t;

struct azml_http {
	CURLM *multi;
	azml_http_opts_t o;
	req_t *queue;		/* not yet sent, any order */
	int in_flight, writes_in_flight;
	long writes_left;	/* last seen, -1 unknown */
	double writes_paused_until;
	azml_http_stats_t stats;
	CURL **idle;		/* easy handles kept for reuse */
	int nidle;
	void (*tick)(void *arg);	/* called at least every tick_every s */
	void *tick_arg;
	double tick_every, tick_next;
};

double azml_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double _mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Plain http may go to these only: nothing leaves the machine (loopback),
 * or it is the link-local IMDS address that Azure serves over http only. */
static bool _plain_http_ok(const char *host)
{
	return azml_host_is_loopback(host) ||
	       !strcmp(host, "169.254.169.254");	/* IMDS */
}

/* Parse URL; on success *U holds it (caller cleans up). */
static int _parse(const char *url, CURLU **u, azml_url_origin_t *o, char *err,
		  size_t errlen)
{
	char *part = NULL;
	CURLUcode rc;
	int ret = -1;

	*u = curl_url();
	if (!*u) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(o, 0, sizeof(*o));
	if ((rc = curl_url_set(*u, CURLUPART_URL, url, 0))) {
		snprintf(err, errlen, "not a URL (%s)", curl_url_strerror(rc));
		goto out;
	}
	if (curl_url_get(*u, CURLUPART_SCHEME, &part, 0) ||
	    (strcmp(part, "https") && strcmp(part, "http"))) {
		snprintf(err, errlen, "not an http(s) URL");
		goto out;
	}
	snprintf(o->scheme, sizeof(o->scheme), "%s", part);
	curl_free(part);
	part = NULL;
	if (curl_url_get(*u, CURLUPART_HOST, &part, 0) || !*part ||
	    strlen(part) >= sizeof(o->host)) {
		snprintf(err, errlen, "no usable host in the URL");
		goto out;
	}
	snprintf(o->host, sizeof(o->host), "%s", part);
	curl_free(part);
	part = NULL;
	/* user:password@ has no business in an Azure URL, and it is how a
	 * URL points somewhere else than it seems to (localhost:1@evil). */
	if (curl_url_get(*u, CURLUPART_USER, &part, 0) != CURLUE_NO_USER ||
	    curl_url_get(*u, CURLUPART_PASSWORD, &part, 0) != CURLUE_NO_PASSWORD ||
	    curl_url_get(*u, CURLUPART_OPTIONS, &part, 0) != CURLUE_NO_OPTIONS) {
		snprintf(err, errlen, "refusing a URL with userinfo (host '%s')",
			 o->host);
		goto out;
	}
	if (curl_url_get(*u, CURLUPART_ZONEID, &part, 0) != CURLUE_NO_ZONEID) {
		snprintf(err, errlen, "refusing a URL with an IPv6 zone (host "
			 "'%s')", o->host);
		goto out;
	}
	if (curl_url_get(*u, CURLUPART_PORT, &part, CURLU_DEFAULT_PORT)) {
		snprintf(err, errlen, "no port for host '%s'", o->host);
		goto out;
	}
	o->port = atoi(part);
	if (!strcmp(o->scheme, "http") && !_plain_http_ok(o->host)) {
		snprintf(err, errlen, "refusing plain http to '%s', which is not "
			 "loopback; use https", o->host);
		goto out;
	}
	ret = 0;
out:
	curl_free(part);
	return ret;
}

int azml_http_url_origin(const char *url, azml_url_origin_t *o, char *err,
			 size_t errlen)
{
	azml_url_origin_t tmp;
	CURLU *u = NULL;
	int rc = _parse(url ? url : "", &u, &tmp, err, errlen);

	curl_url_cleanup(u);
	if (!rc && o)
		*o = tmp;
	return rc;
}

bool azml_http_url_allowed(const char *url)
{
	char err[256];

	return azml_http_url_origin(url, NULL, err, sizeof(err)) == 0;
}

bool azml_http_same_origin(const azml_url_origin_t *a,
			   const azml_url_origin_t *b)
{
	return !strcmp(a->scheme, b->scheme) && !strcasecmp(a->host, b->host) &&
	       a->port == b->port;
}

int azml_http_retry_after(const char *v, int cap)
{
	size_t digits;
	time_t when;

	if (!v)
		return -1;
	while (isspace((unsigned char) *v))
		v++;
	digits = strspn(v, "0123456789");
	if (digits) {
		const char *e = v + digits;

		while (isspace((unsigned char) *e))
			e++;
		if (*e)
			return -1;
		if (digits > 9)		/* more than cap in any case */
			return cap;
		return atoi(v) > cap ? cap : atoi(v);
	}
	if (!isalpha((unsigned char) *v))	/* "-5", "+3", "" */
		return -1;
	if ((when = curl_getdate(v, NULL)) == -1)
		return -1;
	when -= time(NULL);
	return when < 0 ? 0 : when > cap ? cap : (int) when;
}

azml_http_t *azml_http_create(const azml_http_opts_t *opts)
{
	azml_http_t *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	if (opts)
		h->o = *opts;
	if (h->o.max_in_flight <= 0)
		h->o.max_in_flight = 64;
	if (h->o.timeout <= 0)
		h->o.timeout = 30;
	if (h->o.retry_for <= 0)
		h->o.retry_for = 120;
	if (h->o.max_retry_after <= 0)
		h->o.max_retry_after = AZML_HTTP_MAX_RETRY_AFTER;
	if (!h->o.max_body)
		h->o.max_body = AZML_HTTP_BODY_PAGE;
	h->writes_left = -1;
	h->multi = curl_multi_init();
	h->idle = calloc(h->o.max_in_flight, sizeof(CURL *));
	if (!h->multi || !h->idle) {
		azml_http_destroy(h);
		return NULL;
	}
	/* Reuse connections: keep as many open as may be in flight. */
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long) h->o.max_in_flight);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
			  (long) h->o.max_in_flight);
	return h;
}

/* Answers may carry tokens and secrets (IMDS, Entra ID, Key Vault). */
static void _wipe_body(req_t *r)
{
	if (r->resp.body) {
		explicit_bzero(r->resp.body, r->cap);
		free(r->resp.body);
	}
	r->resp.body = NULL;
	r->cap = 0;
}

static void _req_free(req_t *r)
{
	free(r->method);
	free(r->url);
	if (r->body) {
		explicit_bzero(r->body, strlen(r->body));	/* may hold a secret */
		free(r->body);
	}
	for (struct curl_slist *l = r->headers; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));	/* bearer tokens */
	curl_slist_free_all(r->headers);
	_wipe_body(r);
	free(r);
}

void azml_http_destroy(azml_http_t *h)
{
	if (!h)
		return;
	while (h->queue) {
		req_t *r = h->queue;

		h->queue = r->next;
		_req_free(r);
	}
	for (int i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	free(h->idle);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	free(h);
}

const azml_http_stats_t *azml_http_stats(const azml_http_t *h)
{
	return &h->stats;
}

int azml_http_submit(azml_http_t *h, const char *method, const char *url,
		     const char *const *headers, const char *body, double delay,
		     azml_http_cb cb, void *arg, char *err, size_t errlen)
{
	return azml_http_submit_max(h, method, url, headers, body, delay, 0, cb,
				    arg, err, errlen);
}

int azml_http_submit_max(azml_http_t *h, const char *method, const char *url,
			 const char *const *headers, const char *body,
			 double delay, size_t max_body, azml_http_cb cb,
			 void *arg, char *err, size_t errlen)
{
	azml_url_origin_t o;
	char why[256], *norm = NULL;
	CURLU *u = NULL;
	req_t *r;

	/* One parser: the URL sent is the one libcurl's URL API checked. */
	if (_parse(url, &u, &o, why, sizeof(why)) ||
	    curl_url_get(u, CURLUPART_URL, &norm, 0)) {
		snprintf(err, errlen, "%s", norm ? "out of memory" : why);
		curl_url_cleanup(u);
		return -1;
	}
	curl_url_cleanup(u);
	r = calloc(1, sizeof(*r));
	if (!r) {
		curl_free(norm);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->method = strdup(method);
	r->url = strdup(norm);
	curl_free(norm);
	r->body = body ? strdup(body) : NULL;
	bool typed = false;

	for (int i = 0; headers && headers[i]; i++) {
		r->headers = curl_slist_append(r->headers, headers[i]);
		typed |= !strncasecmp(headers[i], "Content-Type:", 13);
	}
	if (body && !typed)
		r->headers = curl_slist_append(r->headers,
					       "Content-Type: application/json");
	r->write = strcmp(method, "GET") && strcmp(method, "HEAD");
	/* a bodiless write is sent with an empty body (POSTFIELDS ""), for
	 * which libcurl would add a form Content-Type the specs refuse
	 * (oav: INVALID_CONTENT_TYPE): none at all */
	if (!body && !typed && r->write)
		r->headers = curl_slist_append(r->headers, "Content-Type:");
	r->not_before = _mono() + delay;
	r->give_up = _mono() + delay + h->o.retry_for;
	r->max_retry_after = h->o.max_retry_after;
	r->max_body = max_body ? max_body : h->o.max_body;
	r->cb = cb;
	r->arg = arg;
	r->next = h->queue;
	h->queue = r;
	return 0;
}

static size_t _on_body(char *data, size_t size, size_t n, void *arg)
{
	req_t *r = arg;
	size_t len = size * n;

	if (len > r->max_body - r->resp.len) {
		r->too_big = true;	/* resp.len <= max_body always */
		return 0;		/* aborts the transfer */
	}
	if (r->resp.len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < r->resp.len + len + 1)
			cap *= 2;
		if (cap > r->max_body + 1)	/* room for no more */
			cap = r->max_body + 1;
		/* not realloc: the old block may hold a token, wipe it */
		if (!(b = malloc(cap)))
			return 0;	/* aborts the transfer */
		if (r->resp.body)
			memcpy(b, r->resp.body, r->resp.len + 1);
		_wipe_body(r);
		r->resp.body = b;
		r->cap = cap;
	}
	memcpy(r->resp.body + r->resp.len, data, len);
	r->resp.len += len;
	r->resp.body[r->resp.len] = '\0';
	return len;
}

static void _header_value(const char *line, size_t len, char *out, size_t n)
{
	const char *v = memchr(line, ':', len);
	size_t l;

	if (!v)
		return;
	for (v++; v < line + len && isspace((unsigned char) *v); v++)
		;
	l = line + len - v;
	while (l && isspace((unsigned char) v[l - 1]))
		l--;
	if (l >= n)
		l = n - 1;
	memcpy(out, v, l);
	out[l] = '\0';
}

static size_t _on_header(char *line, size_t size, size_t n, void *arg)
{
	req_t *r = arg;
	size_t len = size * n;
	char v[64];

#define IS(h) (len > sizeof(h) && !strncasecmp(line, h ":", sizeof(h)))
	if (IS("Location"))
		_header_value(line, len, r->resp.location, sizeof(r->resp.location));
	else if (IS("Azure-AsyncOperation"))
		_header_value(line, len, r->resp.async_op, sizeof(r->resp.async_op));
	else if (IS("Retry-After")) {
		_header_value(line, len, v, sizeof(v));
		r->resp.retry_after = azml_http_retry_after(v, r->max_retry_after);
	} else if (IS("x-ms-ratelimit-remaining-subscription-writes")) {
		_header_value(line, len, v, sizeof(v));
		r->resp.writes_left = strspn(v, "0123456789") == strlen(v) && *v ?
				      (strlen(v) > 9 ? 999999999 : atol(v)) : -1;
	}
#undef IS
	return len;
}

static void _reset_resp(req_t *r)
{
	_wipe_body(r);
	memset(&r->resp, 0, sizeof(r->resp));
	r->resp.retry_after = -1;
	r->resp.writes_left = -1;
}

static void _start(azml_http_t *h, req_t *r)
{
	CURL *e = h->nidle ? h->idle[--h->nidle] : curl_easy_init();

	_reset_resp(r);
	r->too_big = false;
	r->attempts++;
	r->easy = e;
	curl_easy_reset(e);
	curl_easy_setopt(e, CURLOPT_URL, r->url);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
	if (r->body)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
	else if (r->write)
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, _on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, _on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	/* a Content-Length over the limit: refused before the body comes */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t) r->max_body);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long) (h->o.timeout * 1000));
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (h->o.ca_bundle)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->o.ca_bundle);
	r->curl_err[0] = '\0';
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->curl_err);
	curl_multi_add_handle(h->multi, e);
	h->in_flight++;
	if (r->write)
		h->writes_in_flight++;
	h->stats.requests++;
}

/* Backoff for attempt N: Retry-After (already capped), else (and for
 * "Retry-After: 0", which would make a hot loop) 0.5 * 2^(n-1) s, jittered,
 * capped at 30 s. */
static double _backoff(const req_t *r)
{
	unsigned short rnd = 0;
	double base;

	if (r->resp.retry_after > 0)
		return r->resp.retry_after;
	base = 0.5 * pow(2, r->attempts - 1);
	if (base > 30)
		base = 30;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = 32768;
	return base * (0.5 + rnd / 65535.0);	/* 50% .. 150% */
}

/* URL's path, without its query or fragment, for a message. */
static void _url_path(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	size_t l;

	p = p ? strchr(p + 3, '/') : NULL;
	if (!p)
		p = "/";
	l = strcspn(p, "?#");
	if (l >= n) {	/* cut, and said to be */
		snprintf(out, n, "%.*s...", (int) (n - 4), p);
		return;
	}
	snprintf(out, n, "%.*s", (int) l, p);
}

/* URL's host, for a message ("" when it has none). */
static void _url_host(const char *url, char *out, size_t n)
{
	CURLU *u = curl_url();
	char *host = NULL;

	*out = '\0';
	if (u && !curl_url_set(u, CURLUPART_URL, url, 0) &&
	    !curl_url_get(u, CURLUPART_HOST, &host, 0))
		snprintf(out, n, "%s", host);
	curl_free(host);
	curl_url_cleanup(u);
}

/*
 * Whether CC (with VERIFY, CURLINFO_SSL_VERIFYRESULT: OpenSSL's X509_V_*
 * code) is a refused certificate; if so, R's error says which refusal, in
 * words an admin acts on: not trusted (by CaBundle= or the system's
 * store), expired (or not yet valid), or issued for another name.  No
 * request was sent in any of these cases.
 */
static bool _tls_refusal(const azml_http_t *h, req_t *r, CURLcode cc,
			 long verify)
{
	char host[256], store[120];
	const char *why = r->curl_err;

	if (cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CACERT &&
	    cc != CURLE_SSL_CACERT_BADFILE)
		return false;
	_url_host(r->url, host, sizeof(host));
	if (h->o.ca_bundle)
		snprintf(store, sizeof(store), "CaBundle=%.100s",
			 h->o.ca_bundle);
	else
		snprintf(store, sizeof(store), "the system's CA store");
	if (cc == CURLE_SSL_CACERT_BADFILE)
		snprintf(r->resp.error, sizeof(r->resp.error),
			 "couldn't read the CA certificates of %s (%.60s)",
			 store, why);
	else if (verify == 10 || strstr(why, "expired"))  /* CERT_HAS_EXPIRED */
		snprintf(r->resp.error, sizeof(r->resp.error),
			 "the certificate of %.180s expired; no request sent", host);
	else if (verify == 9 || strstr(why, "not yet valid"))
		snprintf(r->resp.error, sizeof(r->resp.error),
			 "the certificate of %.120s is not yet valid (check this "
			 "machine's clock); no request sent", host);
	else if (verify == 62 ||	/* X509_V_ERR_HOSTNAME_MISMATCH */
		 strstr(why, "subject name") || strstr(why, "host name"))
		/* libcurl's own check of the name, after the chain's */
		snprintf(r->resp.error, sizeof(r->resp.error),
			 "the certificate name does not match %.180s; no request "
			 "sent", host);
	else
		snprintf(r->resp.error, sizeof(r->resp.error),
			 "the certificate of %.60s is not trusted (%s); no "
			 "request sent", host, store);
	return true;
}

static void _finish(azml_http_t *h, req_t *r, CURLcode cc)
{
	long status = 0, verify = 0;
	double wait;
	bool retry;

	curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(r->easy, CURLINFO_SSL_VERIFYRESULT, &verify);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, NULL);
	if (h->nidle < h->o.max_in_flight)
		h->idle[h->nidle++] = r->easy;
	else
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
	h->in_flight--;
	if (r->write)
		h->writes_in_flight--;
	r->resp.status = cc == CURLE_OK ? (int) status : 0;
	r->resp.attempts = r->attempts;
	if (r->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		/* no retry: the next answer would be as large; nothing of
		 * this one is handed on */
		char path[160];

		_url_path(r->url, path, sizeof(path));
		_wipe_body(r);
		r->resp.len = 0;
		r->resp.status = 0;
		snprintf(r->resp.error, sizeof(r->resp.error), "the answer to "
			 "%s is larger than the limit of %zu bytes", path,
			 r->max_body);
		h->stats.transport_errors++;
		r->cb(r->arg, &r->resp);
		_req_free(r);
		return;
	}
	if (cc != CURLE_OK) {
		if (!_tls_refusal(h, r, cc, verify))
			snprintf(r->resp.error, sizeof(r->resp.error), "%s",
				 curl_easy_strerror(cc));
		h->stats.transport_errors++;
	}
	if (r->resp.writes_left >= 0)
		h->writes_left = r->resp.writes_left;
	wait = _backoff(r);
	if (r->resp.status == 429) {
		h->stats.throttled++;
		if (r->write)
			h->writes_paused_until = _mono() + wait;
	} else if (r->resp.status >= 500) {
		h->stats.server_errors++;
	}
	retry = r->resp.status == 429 || r->resp.status >= 500 ||
		(cc != CURLE_OK && cc != CURLE_SSL_CACERT &&
		 cc != CURLE_PEER_FAILED_VERIFICATION &&
		 cc != CURLE_SSL_CACERT_BADFILE);
	if (retry && _mono() + wait < r->give_up) {
		h->stats.retries++;
		r->not_before = _mono() + wait;
		r->next = h->queue;
		h->queue = r;
		return;
	}
	r->cb(r->arg, &r->resp);
	_req_free(r);
}

/* May a write go now?  Not while ARM asked us to wait, nor when its budget
 * would not cover the writes already in flight. */
static bool _write_ok(const azml_http_t *h, double now)
{
	if (now < h->writes_paused_until)
		return false;
	return h->writes_left < 0 || h->writes_in_flight < h->writes_left ||
	       h->writes_in_flight == 0;
}

/* Send what may be sent; returns seconds until the next queued request is
 * due (or 1 when none waits). */
static double _dispatch(azml_http_t *h)
{
	double now = _mono(), next = 1;
	req_t **p = &h->queue;

	while (*p && h->in_flight < h->o.max_in_flight) {
		req_t *r = *p;

		if (r->not_before > now || (r->write && !_write_ok(h, now))) {
			double wait = r->not_before > now ? r->not_before - now :
				      h->writes_paused_until > now ?
				      h->writes_paused_until - now : 0.05;

			if (wait < next)
				next = wait;
			p = &r->next;
			continue;
		}
		*p = r->next;
		_start(h, r);
	}
	return next;
}

void azml_http_set_tick(azml_http_t *h, void (*fn)(void *arg), void *arg,
			double every)
{
	h->tick = fn;
	h->tick_arg = arg;
	h->tick_every = every > 0.01 ? every : 0.01;
	h->tick_next = _mono() + h->tick_every;
}

int azml_http_run(azml_http_t *h)
{
	while (h->queue || h->in_flight) {
		double wait, now;
		int running, msgs, done = 0;
		CURLMsg *m;

		if (h->tick && (now = _mono()) >= h->tick_next) {
			h->tick_next = now + h->tick_every;
			h->tick(h->tick_arg);	/* may queue work */
		}
		wait = _dispatch(h);
		if (h->tick && wait > h->tick_next - _mono())
			wait = h->tick_next - _mono();
		if (wait < 0)
			wait = 0;

		curl_multi_perform(h->multi, &running);
		while ((m = curl_multi_info_read(h->multi, &msgs))) {
			req_t *r;

			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &r);
			_finish(h, r, m->data.result);
			done++;
		}
		if (done)
			continue;	/* callbacks may have queued work due now */
		if (h->queue && !h->in_flight && wait > 0)
			curl_multi_poll(h->multi, NULL, 0, (int) (wait * 1000) + 1, NULL);
		else if (h->in_flight)
			curl_multi_poll(h->multi, NULL, 0,
					(int) (wait * 1000) + 1 < 100 ?
					(int) (wait * 1000) + 1 : 100, NULL);
	}
	return 0;
}

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

#include <curl/curl.h>

#include "http.h"
#include "log.h"

typedef struct req {
	char *method, *url, *body;
	struct curl_slist *headers;
	double not_before;	/* earliest send time */
	double give_up;		/* no retry after this */
	bool write;
	int attempts;
	azml_http_cb cb;
	void *arg;
	CURL *easy;
	azml_http_resp_t resp;
	size_t cap;
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

bool azml_http_url_allowed(const char *url)
{
	const char *h;
	size_t n;

	if (!strncasecmp(url, "https://", 8))
		return true;
	if (strncasecmp(url, "http://", 7))
		return false;
	h = url + 7;
	n = strcspn(h, ":/?#");
	if ((n == 9 && !strncasecmp(h, "localhost", 9)) ||
	    (n == 15 && !strncmp(h, "169.254.169.254", 15)))
		return true;
	if (n >= 7 && !strncmp(h, "127.", 4) && strspn(h, "0123456789.") == n)
		return true;
	return !strncmp(h, "[::1]", 5) && strchr(":/", h[5] ? h[5] : '/');
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
	free(r->resp.body);
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
	req_t *r;

	if (!azml_http_url_allowed(url)) {
		snprintf(err, errlen, "refusing plain http to a host that is "
			 "not loopback: %.200s", url);
		return -1;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->method = strdup(method);
	r->url = strdup(url);
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
	r->not_before = _mono() + delay;
	r->give_up = _mono() + delay + h->o.retry_for;
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

	if (r->resp.len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		char *b;

		while (cap < r->resp.len + len + 1)
			cap *= 2;
		if (cap > 64 << 20 || !(b = realloc(r->resp.body, cap)))
			return 0;	/* aborts the transfer */
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
	char v[32];

#define IS(h) (len > sizeof(h) && !strncasecmp(line, h ":", sizeof(h)))
	if (IS("Location"))
		_header_value(line, len, r->resp.location, sizeof(r->resp.location));
	else if (IS("Azure-AsyncOperation"))
		_header_value(line, len, r->resp.async_op, sizeof(r->resp.async_op));
	else if (IS("Retry-After")) {
		_header_value(line, len, v, sizeof(v));
		r->resp.retry_after = isdigit((unsigned char) v[0]) ? atoi(v) : -1;
	} else if (IS("x-ms-ratelimit-remaining-subscription-writes")) {
		_header_value(line, len, v, sizeof(v));
		r->resp.writes_left = isdigit((unsigned char) v[0]) ? atol(v) : -1;
	}
#undef IS
	return len;
}

static void _reset_resp(req_t *r)
{
	free(r->resp.body);
	memset(&r->resp, 0, sizeof(r->resp));
	r->cap = 0;
	r->resp.retry_after = -1;
	r->resp.writes_left = -1;
}

static void _start(azml_http_t *h, req_t *r)
{
	CURL *e = h->nidle ? h->idle[--h->nidle] : curl_easy_init();

	_reset_resp(r);
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
	curl_multi_add_handle(h->multi, e);
	h->in_flight++;
	if (r->write)
		h->writes_in_flight++;
	h->stats.requests++;
}

/* Backoff for attempt N: Retry-After, else 0.5 * 2^(n-1) s, jittered,
 * capped at 30 s. */
static double _backoff(const req_t *r)
{
	unsigned short rnd = 0;
	double base;

	if (r->resp.retry_after >= 0)
		return r->resp.retry_after;
	base = 0.5 * pow(2, r->attempts - 1);
	if (base > 30)
		base = 30;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = 32768;
	return base * (0.5 + rnd / 65535.0);	/* 50% .. 150% */
}

static void _finish(azml_http_t *h, req_t *r, CURLcode cc)
{
	long status = 0;
	bool retry;

	curl_multi_remove_handle(h->multi, r->easy);
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
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
	if (cc != CURLE_OK) {
		snprintf(r->resp.error, sizeof(r->resp.error), "%s",
			 curl_easy_strerror(cc));
		h->stats.transport_errors++;
	}
	if (r->resp.writes_left >= 0)
		h->writes_left = r->resp.writes_left;
	if (r->resp.status == 429) {
		h->stats.throttled++;
		if (r->write)
			h->writes_paused_until = _mono() + _backoff(r);
	} else if (r->resp.status >= 500) {
		h->stats.server_errors++;
	}
	retry = r->resp.status == 429 || r->resp.status >= 500 ||
		(cc != CURLE_OK && cc != CURLE_SSL_CACERT &&
		 cc != CURLE_PEER_FAILED_VERIFICATION);
	if (retry && _mono() + _backoff(r) < r->give_up) {
		h->stats.retries++;
		r->not_before = _mono() + _backoff(r);
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

int azml_http_run(azml_http_t *h)
{
	while (h->queue || h->in_flight) {
		double wait = _dispatch(h);
		int running, msgs, done = 0;
		CURLMsg *m;

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

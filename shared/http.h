/*
 * http.h - many HTTP requests at once over one libcurl multi handle.
 *
 * Requests are queued with a callback and run by azml_http_run(): a bounded
 * number in flight, connections kept alive and reused, 429 and 5xx (and
 * transport errors) retried after Retry-After or an exponential backoff with
 * jitter until the request's deadline.  Writes (PUT, POST, DELETE) are paced
 * by ARM's x-ms-ratelimit-remaining-subscription-writes so that the sender
 * slows down before it is throttled.
 *
 * TLS is always verified; plain http is refused except for loopback and the
 * IMDS link-local address.  Not thread-safe: one handle per thread.
 */
#ifndef AZML_HTTP_H
#define AZML_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef struct azml_http azml_http_t;

typedef struct {
	int status;		/* HTTP status; 0 when no response came */
	char *body;		/* NUL-terminated; owned by the library */
	size_t len;
	char location[1024];	/* Location header, or "" */
	char async_op[1024];	/* Azure-AsyncOperation header, or "" */
	int retry_after;	/* seconds, -1 when absent */
	long writes_left;	/* x-ms-ratelimit-remaining-subscription-writes, -1 */
	char error[256];	/* why there is no response (status 0) */
	int attempts;
} azml_http_resp_t;

/* Called once per request with its final response; RESP is valid only
 * during the call.  The callback may queue more requests. */
typedef void (*azml_http_cb)(void *arg, const azml_http_resp_t *resp);

typedef struct {
	int max_in_flight;	/* default 64 */
	const char *ca_bundle;	/* NULL: the system's */
	double timeout;		/* seconds per attempt, default 30 */
	double retry_for;	/* seconds a request may be retried, default 120 */
} azml_http_opts_t;

typedef struct {
	unsigned long requests;	/* attempts sent */
	unsigned long throttled;	/* 429 answers */
	unsigned long server_errors;	/* 5xx answers */
	unsigned long transport_errors;
	unsigned long retries;
} azml_http_stats_t;

azml_http_t *azml_http_create(const azml_http_opts_t *opts);
void azml_http_destroy(azml_http_t *h);

/*
 * Queue a request.  HEADERS is a NULL-terminated list of "Name: value"
 * strings (copied); BODY may be NULL (copied).  DELAY: seconds to wait
 * before sending.  Returns 0, or -1 when the URL is refused (message in
 * ERR).
 */
int azml_http_submit(azml_http_t *h, const char *method, const char *url,
		     const char *const *headers, const char *body, double delay,
		     azml_http_cb cb, void *arg, char *err, size_t errlen);

/* Run until no request is left.  Returns 0. */
int azml_http_run(azml_http_t *h);

const azml_http_stats_t *azml_http_stats(const azml_http_t *h);

/* Whether URL may be used: https, or http to loopback / 169.254.169.254. */
bool azml_http_url_allowed(const char *url);

/* Seconds since the epoch, as a double. */
double azml_now(void);

#endif

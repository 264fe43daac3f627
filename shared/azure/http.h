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
 * URLs are parsed by libcurl's URL API only (azml_http_url_origin), and the
 * request is sent to the URL that parser normalised.  The core library, which
 * must not link libcurl (it is loaded into slurmctld, sbatch and srun), has
 * the project's one hand-written parser, azml_url_split() (url.h), for the
 * URLs it checks in azureml.conf and userData; it accepts a subset of what
 * libcurl accepts and names the same host and port (tests/unit/url-test.c
 * feeds both the same URLs).  TLS is always verified; URLs with userinfo
 * are refused, and plain http is refused except for loopback
 * (azml_host_is_loopback(), url.h) and the IMDS link-local address.  A server's Retry-After is
 * honoured up to max_retry_after seconds (default AZML_HTTP_MAX_RETRY_AFTER),
 * so one answer cannot stall a request, nor every queued write, longer than
 * that.  Response bodies are wiped before they are freed (token answers).
 * Not thread-safe: one handle per thread.
 *
 * Every answer's body is bounded (max_body, or per request): a larger one is
 * stopped while it arrives (a Content-Length over the limit before any of
 * it), is not retried, and ends as a response without a status whose error
 * names the URL's path (never its query) and the limit, so that a party
 * that answers too much costs neither memory nor the parser's time.
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
	int retry_after;	/* seconds, 0..max_retry_after; -1 when absent
				 * or not a number of seconds nor an HTTP date */
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
	int max_retry_after;	/* cap on Retry-After, default 60 s */
	size_t max_body;	/* bytes of a body, default AZML_HTTP_BODY_PAGE */
} azml_http_opts_t;

#define AZML_HTTP_MAX_RETRY_AFTER 60

/* Body limits, by what is asked (an answer is JSON: parsed, a body of N
 * bytes may cost a few times N in cJSON's nodes). */
#define AZML_HTTP_BODY_TOKEN	(64 << 10)	/* a token (Entra ID, IMDS), an
						 * operation's status, a Key
						 * Vault secret: a few KB */
#define AZML_HTTP_BODY_IMDS	(128 << 10)	/* IMDS: userData (64 KB,
						 * base64), events, a token */
#define AZML_HTTP_BODY_PAGE	(8 << 20)	/* a VM, a page of a listing
						 * (VMs, sizes, usages, prices):
						 * a few MB; the default */
#define AZML_HTTP_BODY_LOG	(16 << 20)	/* a serial console log blob
						 * (its end is kept) */

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

/* The same, with the answer's body bounded by MAX_BODY bytes (0: the
 * handle's max_body). */
int azml_http_submit_max(azml_http_t *h, const char *method, const char *url,
			 const char *const *headers, const char *body,
			 double delay, size_t max_body, azml_http_cb cb,
			 void *arg, char *err, size_t errlen);

/* Run until no request is left.  Returns 0. */
int azml_http_run(azml_http_t *h);

const azml_http_stats_t *azml_http_stats(const azml_http_t *h);

/* Where a URL sends its requests: scheme ("http" or "https", lower case),
 * host (as written, IPv6 in brackets; compare without case) and port (the
 * scheme's default when the URL has none). */
typedef struct {
	char scheme[8];
	char host[256];
	int port;
} azml_url_origin_t;

/*
 * Parse URL with libcurl's URL API.  Returns 0 and fills *O (may be NULL),
 * or -1 with a reason in ERR (which never repeats userinfo) when URL is not
 * an absolute http(s) URL, carries userinfo (user:password@) or an IPv6 zone,
 * or is plain http to a host other than loopback (localhost, 127.0.0.0/8,
 * [::1]) and the IMDS address 169.254.169.254.
 */
int azml_http_url_origin(const char *url, azml_url_origin_t *o, char *err,
			 size_t errlen);

/* Whether URL may be used (azml_http_url_origin() accepts it). */
bool azml_http_url_allowed(const char *url);

/* Whether A and B are the same scheme, host (without case) and port. */
bool azml_http_same_origin(const azml_url_origin_t *a,
			   const azml_url_origin_t *b);

/* A Retry-After header's VALUE in seconds: delta-seconds or an HTTP date,
 * clamped to 0..CAP; -1 when it is neither (negative, garbage). */
int azml_http_retry_after(const char *value, int cap);

/* Seconds since the epoch, as a double. */
double azml_now(void);

/* Call FN(ARG) at least every EVERY seconds while azml_http_run() works
 * (FN may submit requests); FN NULL: never. */
void azml_http_set_tick(azml_http_t *h, void (*fn)(void *arg), void *arg,
			double every);

#endif

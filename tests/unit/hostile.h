/*
 * hostile.h - a tiny HTTP server on loopback whose answers a test scripts,
 * to see how the ARM client copes with what a remote party controls
 * (foreign URLs, endless operations, huge Retry-After, looping nextLinks,
 * odd token answers).
 *
 * The handler runs on the server's own thread, once per request, after the
 * request body has been read (and dropped).
 */
#ifndef AZML_HOSTILE_H
#define AZML_HOSTILE_H

typedef struct {
	const char *method;
	const char *path;		/* without the query */
	const char *authorization;	/* the header, or NULL */
	const char *metadata;		/* the Metadata header, or NULL */
	void *conn;			/* the MHD connection: query arguments
					 * through MHD_lookup_connection_value */
} hs_req_t;

typedef struct {
	int status;		/* default 200 */
	char headers[4096];	/* "Name: value\n" lines */
	char body[8192];
	/* BIG > 0: the body is instead BIG bytes of "[{},{},...", made as they
	 * are sent (never held), chunked, or with a Content-Length when
	 * BIG_LENGTH; how many were made is added to *BIG_SENT (not NULL) */
	size_t big;
	int big_length;
	size_t *big_sent;
} hs_reply_t;

typedef void (*hs_handler_t)(void *arg, const hs_req_t *req, hs_reply_t *out);

typedef struct hs hs_t;

/* Listen on 127.0.0.1 at a free port (in *PORT).  Aborts the test on
 * failure. */
hs_t *hs_start(hs_handler_t handler, void *arg, int *port);
void hs_stop(hs_t *s);

#endif

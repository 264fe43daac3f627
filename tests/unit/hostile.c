/*
 * hostile.c - the scripted HTTP server of the ARM client's tests (see
 * hostile.h), on libmicrohttpd.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "hostile.h"

struct hs {
	struct MHD_Daemon *d;
	hs_handler_t handler;
	void *arg;
};

typedef struct {
	size_t size;
	size_t *sent;
} big_t;

/* "[{},{},..." from POS, as much as fits */
static ssize_t _big_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	big_t *b = cls;
	size_t n = 0;

	if (pos >= b->size)
		return MHD_CONTENT_READER_END_OF_STREAM;
	for (; n < max && pos + n < b->size; n++)
		buf[n] = pos + n == 0 ? '[' : "{},"[(pos + n - 1) % 3];
	if (b->sent)
		__atomic_add_fetch(b->sent, n, __ATOMIC_SEQ_CST);
	return (ssize_t) n;
}

static enum MHD_Result _answer(void *cls, struct MHD_Connection *conn,
			       const char *url, const char *method,
			       const char *version, const char *upload,
			       size_t *upload_size, void **state)
{
	static int started;
	hs_t *s = cls;
	hs_reply_t *out;
	hs_req_t req;
	struct MHD_Response *resp;
	enum MHD_Result rc;

	if (!*state) {		/* headers only so far */
		*state = &started;
		return MHD_YES;
	}
	if (*upload_size) {	/* the body: not looked at */
		*upload_size = 0;
		return MHD_YES;
	}
	out = calloc(1, sizeof(*out));
	if (!out)
		return MHD_NO;
	out->status = 200;
	req.method = method;
	req.path = url;
	req.authorization = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							"Authorization");
	req.metadata = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						   "Metadata");
	req.conn = conn;
	s->handler(s->arg, &req, out);
	if (out->big) {
		big_t *b = calloc(1, sizeof(*b));

		ck_assert_ptr_nonnull(b);
		b->size = out->big;
		b->sent = out->big_sent;
		resp = MHD_create_response_from_callback(out->big_length ?
			out->big : MHD_SIZE_UNKNOWN, 64 * 1024, _big_read, b,
			free);
	} else {
		resp = MHD_create_response_from_buffer(strlen(out->body),
						       out->body,
						       MHD_RESPMEM_MUST_COPY);
	}
	for (char *save = NULL, *line = strtok_r(out->headers, "\n", &save);
	     line; line = strtok_r(NULL, "\n", &save)) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		MHD_add_response_header(resp, line, colon + 1 +
					strspn(colon + 1, " "));
	}
	rc = MHD_queue_response(conn, out->status, resp);
	MHD_destroy_response(resp);
	free(out);
	return rc;
}

hs_t *hs_start(hs_handler_t handler, void *arg, int *port)
{
	hs_t *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	const union MHD_DaemonInfo *info;

	ck_assert_ptr_nonnull(s);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->handler = handler;
	s->arg = arg;
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
				_answer, s, MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_END);
	ck_assert_msg(s->d != NULL, "couldn't start the test HTTP server");
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	ck_assert_ptr_nonnull(info);
	*port = info->port;
	return s;
}

void hs_stop(hs_t *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->d);
	free(s);
}

/*
 * record.c - --record DIR: every exchange the emulator answers, written as
 * one JSON file in oav's live-traffic layout
 * ({"liveRequest":{method,url,headers,body},
 *   "liveResponse":{statusCode,headers,body}}), so that Microsoft's
 * validator can check both sides against Microsoft's specs
 * (tests/oav-check.sh).
 *
 * Secrets never reach the files: the Authorization header, token request
 * bodies, tokens, passwords, SAS signatures and Key Vault secret values are
 * written as "REDACTED".  File names are the emulator's own counter
 * (NNNNNNNN.json), never anything the request chose; a restart on the same
 * folder goes on after the files already there.  The admin API
 * (/emulator/...) is the tests' own, not Azure's: not recorded.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "emu.h"

#define RECORD_TRIES 1000000	/* existing files skipped at most */

static char *record_dir;	/* --record DIR, NULL: off */
static unsigned long record_seq;
static pthread_mutex_t record_lock = PTHREAD_MUTEX_INITIALIZER;

int emu_record_set_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "azure-emulator: --record %s: %s\n", dir,
			strerror(errno));
		return -1;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "azure-emulator: --record %s: not a folder\n",
			dir);
		return -1;
	}
	free(record_dir);
	record_dir = strdup(dir);
	return record_dir ? 0 : -1;
}

bool emu_recording(void)
{
	return record_dir != NULL;
}

static bool _secret_key(const char *k)
{
	static const char *const keys[] = {
		"access_token", "refresh_token", "id_token", "client_secret",
		"adminPassword", "password", "client_assertion",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcasecmp(k, keys[i]))
			return true;
	return false;
}

/* Blank every secret inside O (bounded by cJSON's own nesting limit). */
static void _redact(cJSON *o, int depth)
{
	cJSON *it;

	if (depth > 64)
		return;
	cJSON_ArrayForEach(it, o) {
		if (it->string && _secret_key(it->string) &&
		    cJSON_IsString(it)) {
			cJSON_SetValuestring(it, "REDACTED");
		} else if (cJSON_IsString(it) && it->valuestring &&
			   strstr(it->valuestring, "sig=")) {
			/* a SAS URL: its signature is a credential */
			char *s = strdup(it->valuestring), *p;

			if (s && (p = strstr(s, "sig="))) {
				char *end = strchr(p, '&');
				char *n = NULL;

				if (asprintf(&n, "%.*ssig=REDACTED%s",
					     (int) (p - s), s,
					     end ? end : "") >= 0) {
					cJSON_SetValuestring(it, n);
					free(n);
				}
			}
			free(s);
		} else if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			_redact(it, depth + 1);
		}
	}
}

/* A body as oav reads it: JSON when it parses, else a string. */
static cJSON *_body(const char *body, size_t len, bool form_secret,
		    bool secret_value)
{
	cJSON *j;

	if (!body || !len)
		return NULL;
	if (form_secret)
		return cJSON_CreateString("REDACTED");
	j = cJSON_ParseWithLength(body, len);
	if (!j)
		return cJSON_CreateString(memchr(body, '\0', len) ? "" : body);
	if (secret_value && cJSON_IsObject(j) &&
	    cJSON_IsString(cJSON_GetObjectItem(j, "value")))
		cJSON_SetValuestring(cJSON_GetObjectItem(j, "value"),
				     "REDACTED");
	_redact(j, 0);
	return j;
}

static enum MHD_Result _add_header(void *cls, enum MHD_ValueKind kind,
				   const char *k, const char *v)
{
	cJSON *h = cls;

	(void) kind;
	if (!k)
		return MHD_YES;
	if (!strcasecmp(k, "Authorization") || !strcasecmp(k, "Cookie"))
		v = "REDACTED";
	if (!cJSON_GetObjectItem(h, k))
		cJSON_AddStringToObject(h, k, v ? v : "");
	return MHD_YES;
}

struct query {
	char *s;
	size_t len, cap;
	bool oom;
};

static void _put(struct query *q, const char *s, size_t n)
{
	if (q->oom)
		return;
	if (q->len + n + 1 > q->cap) {
		size_t cap = (q->len + n + 1) * 2;
		char *ns = realloc(q->s, cap);

		if (!ns) {
			q->oom = true;
			return;
		}
		q->s = ns;
		q->cap = cap;
	}
	memcpy(q->s + q->len, s, n);
	q->len += n;
	q->s[q->len] = '\0';
}

/* Percent-encode S into Q as a query string's key or value. */
static void _put_encoded(struct query *q, const char *s)
{
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char) *s;
		char hex[4];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~$", ch)) {
			_put(q, s, 1);
		} else {
			snprintf(hex, sizeof(hex), "%%%02X", ch);
			_put(q, hex, 3);
		}
	}
}

static enum MHD_Result _add_arg(void *cls, enum MHD_ValueKind kind,
				const char *k, const char *v)
{
	struct query *q = cls;

	(void) kind;
	if (!k)
		return MHD_YES;
	_put(q, q->len ? "&" : "?", 1);
	_put_encoded(q, k);
	if (v) {
		_put(q, "=", 1);
		/* a SAS signature is a credential */
		_put_encoded(q, !strcmp(k, "sig") ? "REDACTED" : v);
	}
	return MHD_YES;
}

/* Write J as the next NNNNNNNN.json of the folder (0/-1). */
static int _write(const cJSON *j)
{
	char path[4200], *text = cJSON_Print(j);
	int fd = -1, rv = -1;
	size_t len;

	if (!text)
		return -1;
	len = strlen(text);
	pthread_mutex_lock(&record_lock);
	for (int i = 0; i < RECORD_TRIES; i++) {
		snprintf(path, sizeof(path), "%s/%08lu.json", record_dir,
			 ++record_seq);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC |
			  O_NOFOLLOW, 0600);
		if (fd >= 0 || errno != EEXIST)
			break;
	}
	pthread_mutex_unlock(&record_lock);
	if (fd >= 0) {
		rv = write(fd, text, len) == (ssize_t) len ? 0 : -1;
		if (close(fd))
			rv = -1;
	}
	if (rv)
		fprintf(stderr, "azure-emulator: --record: couldn't write %s: "
			"%s\n", path, strerror(errno));
	cJSON_free(text);
	return rv;
}

void emu_record(struct MHD_Connection *c, const char *url,
		const char *method, const char *body, const reply_t *r,
		const char *reqid)
{
	cJSON *o, *req, *resp, *h, *b;
	struct query q = { 0 };
	char *full = NULL;
	bool token_req;

	if (!record_dir || !strncmp(url, "/emulator/", 10))
		return;
	token_req = strstr(url, "/oauth2/") && !strcmp(method, "POST");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, _add_arg, &q);
	if (q.oom || asprintf(&full, "%s%s%s", emu_net_st.base_url, url,
			      q.s ? q.s : "") < 0) {
		free(q.s);
		return;
	}
	free(q.s);
	o = cJSON_CreateObject();
	req = cJSON_AddObjectToObject(o, "liveRequest");
	cJSON_AddStringToObject(req, "method", method);
	cJSON_AddStringToObject(req, "url", full);
	free(full);
	h = cJSON_AddObjectToObject(req, "headers");
	MHD_get_connection_values(c, MHD_HEADER_KIND, _add_header, h);
	if ((b = _body(body, body ? strlen(body) : 0, token_req, false)))
		cJSON_AddItemToObject(req, "body", b);

	resp = cJSON_AddObjectToObject(o, "liveResponse");
	cJSON_AddStringToObject(resp, "statusCode", "");
	{
		char st[8];

		snprintf(st, sizeof(st), "%d", r->status ? r->status : 500);
		cJSON_SetValuestring(cJSON_GetObjectItem(resp, "statusCode"),
				     st);
	}
	h = cJSON_AddObjectToObject(resp, "headers");
	if (r->body)
		cJSON_AddStringToObject(h, "Content-Type", r->ctype ? r->ctype :
					"application/json; charset=utf-8");
	cJSON_AddStringToObject(h, "x-ms-request-id", reqid);
	for (int i = 0; i < r->nheaders; i++)
		if (!cJSON_GetObjectItem(h, r->headers[i][0]))
			cJSON_AddStringToObject(h, r->headers[i][0],
						r->headers[i][1]);
	/* JSON parsed, text as a string, anything else (a blob) left out */
	if (r->ctype && strncmp(r->ctype, "text/", 5) &&
	    !strstr(r->ctype, "json"))
		b = NULL;
	else if (r->ctype && !strstr(r->ctype, "json"))
		b = r->body && !r->len ? cJSON_CreateString(r->body) : NULL;
	else
		b = _body(r->body, r->len ? r->len : r->body ?
			  strlen(r->body) : 0, false, r->wipe);
	if (b)
		cJSON_AddItemToObject(resp, "body", b);
	_write(o);
	cJSON_Delete(o);
}

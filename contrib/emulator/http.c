/*
 * http.c - the Azure emulator's HTTP glue: libmicrohttpd's callbacks,
 * request bodies, replies, Azure's error bodies and who the peer is.
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
#include <sys/socket.h>
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
#include "tcprow.h"

pthread_mutex_t emu_lock = PTHREAD_MUTEX_INITIALIZER;
struct emu_net_state emu_net_st;

void emu_header(reply_t *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nheaders == 8)
		return;
	va_start(ap, fmt);
	vsnprintf(r->hbuf[r->nheaders], sizeof(r->hbuf[0]), fmt, ap);
	va_end(ap);
	r->headers[r->nheaders][0] = name;
	r->headers[r->nheaders][1] = r->hbuf[r->nheaders];
	r->nheaders++;
}

void emu_json(reply_t *r, int status, cJSON *body)
{
	r->status = status;
	free(r->body);
	r->body = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
}

void emu_error(reply_t *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	emu_json(r, status, o);
}

const char *emu_arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

/*
 * Whether C came in on --imds-listen's port: told by the socket's own local
 * port.  Note that libmicrohttpd 1.0 (Debian 13, forky) answers every
 * MHD_get_connection_info() of a connection in one shared union: a caller
 * copies what it needs before the next call (see _peer_uid).
 */
bool emu_on_imds_listener(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (!emu_net_st.imds_daemon)
		return false;
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *) &sin,
			       &len) || sin.sin_family != AF_INET)
		return false;
	return ntohs(sin.sin_port) == emu_net_st.imds_port;
}

/*
 * Who is at the other end of loopback connection C: the owner of the
 * client's socket, read from /proc/net/tcp (the row whose local address is
 * the client's and whose remote address is ours, as identd does).  Only a
 * live row counts (tcprow.h: ESTABLISHED, with an inode): a client that
 * sent its request and closed leaves a row of uid 0, which is nobody's.
 * Two live rows for one address pair cannot be told apart: refused.
 * /proc/net/tcp is read a page at a time, and a table that changes between
 * pages (a busy machine's other connections) may skip or repeat a row: the
 * scan is tried up to three times before the peer counts as unknown.
 * Returns 0 and fills *UID, or -1 when the socket is not found.
 */
static int _peer_uid(struct MHD_Connection *c, uid_t *uid)
{
	/* the port the client reached: --imds-listen's or --listen's */
	unsigned port = (unsigned) (emu_on_imds_listener(c) ?
				    emu_net_st.imds_port : emu_net_st.port);
	const union MHD_ConnectionInfo *ci;
	struct sockaddr_in sin;
	char line[512];
	FILE *fp;
	int found = 0;
	uid_t u = 0;

	/* copied at once: libmicrohttpd 1.0 answers every
	 * MHD_get_connection_info() of a connection in the same storage, so
	 * the next call (emu_on_imds_listener's) overwrites this one */
	ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
		return -1;
	memcpy(&sin, ci->client_addr, sizeof(sin));
	for (int tries = 0; tries < 3 && found != 1; tries++) {
		if (!(fp = fopen("/proc/net/tcp", "r")))
			return -1;
		found = 0;
		while (fgets(line, sizeof(line), fp))
			found += emu_tcp_row(line, sin.sin_addr.s_addr,
					     ntohs(sin.sin_port),
					     emu_net_st.listen_addr.s_addr,
					     port, &u);
		fclose(fp);
	}
	if (found != 1)
		return -1;
	*uid = u;
	return 0;
}

/*
 * Whether the peer may have what only this machine's owner may: tokens
 * from the Entra endpoint when no --client-secret guards it, and the admin
 * API.  Root, the emulator's own user and --allow-user users may.  (IMDS
 * answers everyone, as Azure's does: _imds_request_ok.)
 */
static bool _peer_trusted(struct MHD_Connection *c)
{
	uid_t uid;

	if (_peer_uid(c, &uid))
		return false;
	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < emu_net_st.nallowed; i++)
		if (emu_net_st.allowed[i] == uid)
			return true;
	return false;
}

/* Split PATH into segments (in place).  Returns the count. */
int emu_segments(char *path, char **seg, int max)
{
	int n = 0;

	for (char *s = strtok(path, "/"); s && n < max; s = strtok(NULL, "/"))
		seg[n++] = s;
	return n;
}

/* ---------------------------------------------------------------------- */

/* An ARM write, as the subscription's write limit counts them. */
static bool _arm_write(const char *url, const char *method)
{
	return !strncmp(url, "/subscriptions/", 15) &&
	       (!strcmp(method, "PUT") || !strcmp(method, "POST") ||
		!strcmp(method, "DELETE") || !strcmp(method, "PATCH"));
}

/* Count an ARM write by its resource type: .../providers/NS/TYPE/... */
static void _count_write(const char *url)
{
	char buf[1024], *seg[16];
	int n;

	if (strlen(url) >= sizeof(buf)) {
		emu_stats.writes_other++;
		return;
	}
	strcpy(buf, url);
	n = emu_segments(buf, seg, 16);
	if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
	    !strcasecmp(seg[4], "providers") &&
	    !strcasecmp(seg[5], "Microsoft.Compute") &&
	    !strcasecmp(seg[6], "virtualMachines"))
		emu_stats.writes_vm++;
	else if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
		 !strcasecmp(seg[4], "providers") &&
		 !strcasecmp(seg[5], "Microsoft.Compute") &&
		 !strcasecmp(seg[6], "virtualMachineScaleSets"))
		emu_stats.writes_vmss++;
	else
		emu_stats.writes_other++;
}

/* A VM's create (or update): PUT .../virtualMachines/NAME. */
static bool _vm_put_url(const char *url, const char *method)
{
	char buf[1024], *seg[16];
	int n;

	if (strcmp(method, "PUT") || strlen(url) >= sizeof(buf))
		return false;
	strcpy(buf, url);
	n = emu_segments(buf, seg, 16);
	return n == 8 && !strcasecmp(seg[2], "resourceGroups") &&
	       !strcasecmp(seg[4], "providers") &&
	       !strcasecmp(seg[5], "Microsoft.Compute") &&
	       !strcasecmp(seg[6], "virtualMachines");
}

/*
 * Key Vault by its host: a request whose Host is VAULT.vault.azure.net (or
 * a sovereign cloud's vault suffix), on any https listener, is VAULT's;
 * --vault-listen's port serves nothing else.  Returns whether R holds the
 * answer.
 */
static bool _vault_request(struct MHD_Connection *c, const char *url,
			   const char *method, reply_t *r)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);
	bool vault_port = emu_net_st.vault_daemon && ci &&
			  ci->daemon == emu_net_st.vault_daemon;
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							 "Host");
	char vault[32], *path;

	if (!emu_vault_of_host(host, vault, sizeof(vault)) ||
	    (!emu_net_st.tls && !vault_port)) {
		if (vault_port)
			emu_error(r, 404, "NotFound", "azure-emulator serves "
				  "Key Vault here, as https://VAULT.vault."
				  "azure.net/secrets/NAME");
		return vault_port;
	}
	if (asprintf(&path, "/keyvault/%s%s", vault, url) < 0) {
		emu_error(r, 500, "InternalServerError", "out of memory");
		return true;
	}
	emu_keyvault(c, method, path, host, r);
	free(path);
	return true;
}

enum MHD_Result emu_handler(void *cls, struct MHD_Connection *c,
				const char *url, const char *method,
				const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	upload_t *up = *con_cls;
	reply_t r = { 0 };
	struct MHD_Response *resp;
	char *path;
	enum MHD_Result ret;
	char reqid[40];

	if (!up) {
		*con_cls = up = calloc(1, sizeof(*up));
		return up ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		char *nb = NULL;

		/* past MAX_BODY the rest is read and dropped: 413 at the end */
		if (up->too_big || up->len + *upload_size > MAX_BODY ||
		    !(nb = realloc(up->body, up->len + *upload_size + 1))) {
			up->too_big = true;
		} else {
			up->body = nb;
			memcpy(up->body + up->len, upload, *upload_size);
			up->len += *upload_size;
			up->body[up->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}

	path = strdup(url);
	/* outside the lock: it reads /proc */
	if (!strncmp(url, "/metadata/", 10) || !strncmp(url, "/emulator/", 10) ||
	    (!emu_auth_st.client_secret && strstr(url, "/oauth2/")))
		r.trusted = _peer_trusted(c);
	if (emu_faults.latency_ms > 0 && strncmp(url, "/emulator/", 10))
		usleep(emu_faults.latency_ms * 1000);
	pthread_mutex_lock(&emu_lock);
	emu_stats.requests++;
	/* every write the client sent counts, refused or not */
	if (_arm_write(url, method)) {
		emu_stats.writes++;
		_count_write(url);
	}
	emu_tick();
	if (up->too_big)
		emu_error(&r, 413, "RequestEntityTooLarge", "The request content "
		       "size exceeds the maximum of %d bytes.", MAX_BODY);
	else if (_vault_request(c, url, method, &r))
		;
	else if (emu_net_st.imds_daemon &&
		 emu_on_imds_listener(c) != !strncmp(url, "/metadata/", 10))
		/* IMDS on its own plain-http port, as on Azure, and only
		 * there; everything else on --listen's */
		emu_error(&r, 404, "NotFound", "azure-emulator serves "
			  "/metadata/... at %s and the rest at %s",
			  emu_net_st.imds_url, emu_net_st.base_url);
	else
		emu_route(c, url, method, path, up->body, &r);
	if ((!r.status || r.status >= 400) && _vm_put_url(url, method))
		emu_stats.creates_refused++;
	pthread_mutex_unlock(&emu_lock);
	free(path);
	emu_uuid(reqid);
	if (emu_recording())
		emu_record(c, url, method, up->body, &r, reqid);

	resp = MHD_create_response_from_buffer(r.len ? r.len : r.body ?
					       strlen(r.body) : 0,
					       r.body ? r.body : "",
					       MHD_RESPMEM_MUST_COPY);
	if (r.body)
		MHD_add_response_header(resp, "Content-Type", r.ctype ? r.ctype :
					"application/json; charset=utf-8");
	MHD_add_response_header(resp, "x-ms-request-id", reqid);
	for (int i = 0; i < r.nheaders; i++)
		MHD_add_response_header(resp, r.headers[i][0], r.headers[i][1]);
	ret = MHD_queue_response(c, r.status ? r.status : 500, resp);
	MHD_destroy_response(resp);
	if (r.wipe && r.body)
		explicit_bzero(r.body, strlen(r.body));
	free(r.body);
	return ret;
}

void emu_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		       enum MHD_RequestTerminationCode toe)
{
	upload_t *up = *con_cls;

	if (up) {
		free(up->body);
		free(up);
	}
	*con_cls = NULL;
}


/*
 * arm.c - the Azure Resource Manager client (see arm.h).
 */
#include "config.h"

#include <ctype.h>
#include <time.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm_version.h>	/* macros only: no libslurm here */

#include "arm.h"
#include "arm_int.h"
#include "auth.h"
#include "bootdiag.h"
#include "log.h"
#include "safefile.h"

static void _on_answer(void *arg, const azml_http_resp_t *resp);

/* ---------------------------------------------------------------------- */
/* Engine */

azml_arm_t *azml_arm_create(const azml_conf_t *conf, const azml_http_opts_t *o,
			    char *err, size_t n)
{
	azml_arm_t *arm = calloc(1, sizeof(*arm));
	azml_http_opts_t opts = { 0 };
	size_t l;

	if (!arm) {
		snprintf(err, n, "out of memory");
		return NULL;
	}
	if (o)
		opts = *o;
	if (!opts.ca_bundle)
		opts.ca_bundle = conf->ca_bundle;
	arm->conf = conf;
	arm->op_timeout = AZML_ARM_OPERATION_TIMEOUT;
	if (azml_http_url_origin(conf->arm_endpoint, &arm->origin, err, n)) {
		char why[256];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, n, "ArmEndpoint: %s", why);
		free(arm);
		return NULL;
	}
	snprintf(arm->base, sizeof(arm->base), "%s", conf->arm_endpoint);
	l = strlen(arm->base);
	while (l && arm->base[l - 1] == '/')
		arm->base[--l] = '\0';
	snprintf(arm->base + l, sizeof(arm->base) - l, "/subscriptions/%s",
		 conf->subscription_id);
	arm->http = azml_http_create(&opts);
	arm->auth = azml_auth_create(conf, err, n);
	if (!arm->http || !arm->auth) {
		if (!arm->http)
			snprintf(err, n, "out of memory");
		azml_arm_destroy(arm);
		return NULL;
	}
	return arm;
}

void azml_arm_destroy(azml_arm_t *arm)
{
	if (!arm)
		return;
	azml_http_destroy(arm->http);
	azml_auth_destroy(arm->auth);
	free(arm->ctld_host);
	free(arm->ctld_cluster);
	free(arm->ctld_version);
	free(arm);
}

void azml_arm_set_ctld_info(azml_arm_t *arm, const azml_ctld_info_t *info)
{
	bool oom = false;

	free(arm->ctld_host);
	free(arm->ctld_cluster);
	free(arm->ctld_version);
	arm->ctld_host = azml_arm_dup(info ? info->slurmctld_host : NULL, &oom);
	arm->ctld_cluster = azml_arm_dup(info ? info->slurm_cluster : NULL,
					 &oom);
	arm->ctld_version = azml_arm_dup(info ? info->slurm_version : NULL,
					 &oom);
	if (oom)	/* a VM created now says so: no SlurmctldHost */
		azml_log_error("azureml: couldn't keep slurmctld's address: "
			       "out of memory");
	arm->ctld.slurmctld_host = arm->ctld_host;
	arm->ctld.slurm_cluster = arm->ctld_cluster;
	arm->ctld.slurm_version = arm->ctld_version;
}

void azml_arm_set_operation_timeout(azml_arm_t *arm, double seconds)
{
	arm->op_timeout = seconds > 0 ? seconds : AZML_ARM_OPERATION_TIMEOUT;
}

void azml_arm_set_tick(azml_arm_t *arm, void (*fn)(void *arg), void *arg,
		       double every)
{
	azml_http_set_tick(arm->http, fn, arg, every);
}

int azml_arm_run(azml_arm_t *arm)
{
	return azml_http_run(arm->http);
}

const azml_http_stats_t *azml_arm_stats(const azml_arm_t *arm)
{
	return azml_http_stats(arm->http);
}

static void _done(call_t *c)
{
	call_t copy;

	if (c->oom) {	/* the spare: a callback may need it again */
		copy = *c;
		c = &copy;
	}
	switch (c->kind) {
	case K_LIST:
		c->list_cb(c->arg, c->vms, c->nvms, c->r.ok ? NULL : &c->r);
		free(c->vms);
		break;
	case K_USAGES:
	case K_SIZES:
		if (!c->r.ok) {
			if (c->kind == K_USAGES)
				c->usage_cb(c->arg, NULL, 0, &c->r);
			else
				c->sizes_cb(c->arg, NULL, 0, &c->r);
		}
		break;
	case K_BOOTLOG:
		c->boot_cb(c->arg, c->r.ok ? c->log : NULL,
			   c->r.ok ? c->loglen : 0, c->r.ok ? NULL : &c->r);
		break;
	default:
		c->cb(c->arg, &c->r);
	}
	free(c->body);
	free(c->seen);
	if (!c->oom)
		free(c);
}

void azml_arm_fail(call_t *c, int status, const char *code, const char *fmt,
		   ...)
{
	va_list ap;

	c->r.ok = false;
	c->r.http_status = status;
	azml_arm_copy(c->r.code, sizeof(c->r.code), code);
	va_start(ap, fmt);
	vsnprintf(c->r.message, sizeof(c->r.message), fmt, ap);
	va_end(ap);
	_done(c);
}

/* Send METHOD URL (BODY) for C, with a fresh bearer token. */
int azml_arm_send(call_t *c, const char *method, const char *url,
		  const char *body, double delay)
{
	const char *tok;
	char err[512], auth[8192];
	const char *hdr[] = { auth, c->hdr[0] ? c->hdr : NULL, NULL };
	int rc;

	if (c->oom) {
		azml_arm_fail(c, 0, "OutOfMemory", "out of memory");
		return -1;
	}
	if (azml_auth_token(c->arm->auth, &tok, err, sizeof(err))) {
		azml_arm_fail(c, 0, "AuthenticationFailed", "%s", err);
		return -1;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	/* re-sends pass c->url and c->method themselves: copy only news */
	if (url != c->url)
		azml_arm_copy(c->url, sizeof(c->url), url);
	if (method != c->method)
		azml_arm_copy(c->method, sizeof(c->method), method);
	if (body != c->body) {
		free(c->body);
		c->body = body ? strdup(body) : NULL;
	}
	/* an operation's status is a few KB; a VM or a page a few MB */
	rc = azml_http_submit_max(c->arm->http, method, url, hdr, c->body,
				  delay, c->phase == PH_POLL_ASYNC ?
				  AZML_HTTP_BODY_TOKEN : 0, _on_answer, c, err,
				  sizeof(err));
	explicit_bzero(auth, sizeof(auth));
	if (rc) {
		azml_arm_fail(c, 0, "InvalidEndpoint", "%s", err);
		return -1;
	}
	return 0;
}

void azml_arm_vm_url(const azml_arm_t *arm, const char *name,
		     const char *suffix, const char *query, char *url, size_t n)
{
	snprintf(url, n, "%s/resourceGroups/%s/providers/Microsoft.Compute/"
		 "virtualMachines/%s%s?api-version=" AZML_API_COMPUTE "%s",
		 arm->base, arm->conf->resource_group, name, suffix,
		 query ? query : "");
}

call_t *azml_arm_call(azml_arm_t *arm, kind_t kind, const char *name,
		      azml_vm_cb cb, void *arg)
{
	static __thread call_t spare;
	call_t *c = calloc(1, sizeof(*c));

	if (!c) {
		/* Out of memory (log.h): the call fails through its callback
		 * like any other (arm.h's contract), from this spare, at
		 * azml_arm_send() or an earlier azml_arm_fail(). */
		memset(&spare, 0, sizeof(spare));
		c = &spare;
		c->oom = true;
	}
	c->arm = arm;
	c->kind = kind;
	c->cb = cb;
	c->arg = arg;
	c->deadline = azml_now() + arm->op_timeout;
	azml_arm_copy(c->r.name, sizeof(c->r.name), name);
	return c;
}

/* Send a GET to URL that came from the server (WHAT names the header or
 * field), only where ArmEndpoint is and while the call has time left. */
static void _follow(call_t *c, const char *what, const char *url, double delay)
{
	azml_url_origin_t o;
	char why[256];
	double left;

	if (azml_http_url_origin(url, &o, why, sizeof(why))) {
		azml_arm_fail(c, 0, "UntrustedUrl",
			      "refusing to follow the %s URL: %s", what, why);
		return;
	}
	if (!azml_http_same_origin(&o, &c->arm->origin)) {
		azml_arm_fail(c, 0, "UntrustedUrl",
			      "refusing to follow the %s URL to "
			      "%s://%s:%d: expected %s://%s:%d (ArmEndpoint)",
			      what, o.scheme, o.host, o.port,
			      c->arm->origin.scheme, c->arm->origin.host,
			      c->arm->origin.port);
		return;
	}
	left = c->deadline - azml_now();
	if (left <= 0) {
		azml_arm_fail(c, 0, "OperationTimedOut",
			      "%s%s%s not done after %.0f s; "
			      "gave up waiting (Azure may still complete it)",
			      c->r.op_id[0] ? "operation '" : "the operation",
			      c->r.op_id, c->r.op_id[0] ? "'" : "",
			      c->arm->op_timeout);
		return;
	}
	/* one last look at the deadline rather than giving up early */
	azml_arm_send(c, "GET", url, NULL, delay < left ? delay : left);
}

/* Seconds until the next poll: Retry-After (capped by http.c), else 1. */
static double _poll_delay(const azml_http_resp_t *resp)
{
	return resp->retry_after > 0 ? resp->retry_after : 1;
}

/* Poll the long-running operation RESP points at, or finish. */
static void _poll(call_t *c, const azml_http_resp_t *resp)
{
	bool async = resp->async_op[0];
	const char *url = async ? resp->async_op : resp->location;

	if (!c->r.op_id[0])
		azml_arm_op_id(url, c->r.op_id, sizeof(c->r.op_id));
	c->phase = async ? PH_POLL_ASYNC : PH_POLL_LOCATION;
	/* Later polls of the same operation keep its URL. */
	_follow(c, async ? "Azure-AsyncOperation" : "Location", url,
		_poll_delay(resp));
}

/* FNV-1a, to recognise a nextLink seen before without keeping it. */
static uint64_t _hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char) *s) * 1099511628211ULL;
	return h;
}

/* Follow a listing's nextLink, at most AZML_ARM_MAX_PAGES pages, never the
 * same link twice.  Returns 0 when sent (or failed: C is gone either way). */
static void _next_page(call_t *c, const char *next)
{
	uint64_t h = _hash(next), *seen;

	for (size_t i = 0; i < c->pages; i++)
		if (c->seen[i] == h) {
			azml_arm_fail(
				c, 0, "RepeatedNextLink",
				"the listing's nextLink "
				"repeats an earlier page (after %zu pages)",
				c->pages + 1);
			return;
		}
	if (c->pages + 1 >= AZML_ARM_MAX_PAGES) {
		azml_arm_fail(c, 0, "TooManyPages",
			      "the listing has more than %d pages; "
			      "gave up",
			      AZML_ARM_MAX_PAGES);
		return;
	}
	if (!(seen = realloc(c->seen, (c->pages + 1) * sizeof(*seen)))) {
		azml_arm_fail(c, 0, "OutOfMemory",
			      "out of memory after %zu pages", c->pages + 1);
		return;
	}
	c->seen = seen;
	c->seen[c->pages++] = h;
	_follow(c, "nextLink", next, 0);
}

static void _after_success(call_t *c)
{
	char url[2048];

	if (c->kind == K_CREATE && c->phase != PH_VM_NIC) {
		/* The private IP is on the NIC created with the VM, which
		 * the VM names in networkProfile.networkInterfaces: the VM
		 * as it is now, then that NIC */
		c->phase = PH_VM_NIC;
		c->r.nic[0] = '\0';
		azml_arm_vm_url(c->arm, c->r.name, "", NULL, url, sizeof(url));
		azml_arm_send(c, "GET", url, NULL, 0);
		return;
	}
	if (c->kind == K_CREATE) {
		if (!c->r.nic[0]) {
			azml_arm_fail(c, 0, "InvalidResponse", "VM '%s' "
				      "names no network interface in "
				      "networkProfile.networkInterfaces",
				      c->r.name);
			return;
		}
		c->phase = PH_NIC;
		snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
			 "Microsoft.Network/networkInterfaces/%s?"
			 "api-version=" AZML_API_NETWORK, c->arm->base,
			 c->arm->conf->resource_group, c->r.nic);
		azml_arm_send(c, "GET", url, NULL, 0);
		return;
	}
	c->r.ok = true;
	_done(c);
}

/*
 * An answer that is no answer (no connection), a 401 to retry once with a
 * fresh token, or an HTTP error.  Returns true when it was one of those and
 * C has been dealt with (re-sent or done), false to read the answer.
 */
static bool _answer_failed(call_t *c, const azml_http_resp_t *resp)
{
	char code[64] = "", msg[512] = "";

	if (resp->status == 0) {
		azml_arm_fail(c, 0, "NetworkError", "no answer from %s: %s",
			      c->arm->conf->arm_endpoint, resp->error);
		return true;
	}
	if (resp->status == 401 && !c->retried_auth) {
		/* a token revoked or expired early: one fresh try */
		c->retried_auth = true;
		azml_auth_invalidate(c->arm->auth);
		azml_arm_send(c, c->method, c->url, c->body, 0);
		return true;
	}
	if (resp->status < 400)
		return false;
	if (azml_arm_parse_error(resp->body, code, sizeof(code), msg,
				 sizeof(msg)))
		snprintf(msg, sizeof(msg), "HTTP %d from %s", resp->status,
			 c->arm->conf->arm_endpoint);
	if (resp->status == 404 && c->kind == K_DELETE) {
		c->r.ok = true;	/* already gone */
		_done(c);
		return true;
	}
	azml_arm_fail(c, resp->status, code[0] ? code : "HttpError", "%s", msg);
	return true;
}

/* A poll of an Azure-AsyncOperation: on until it has a final status. */
static void _answer_async_poll(call_t *c, const azml_http_resp_t *resp)
{
	char code[64] = "", msg[512] = "", status[32] = "";

	if (azml_arm_parse_operation(resp->body, status, sizeof(status),
				     code, sizeof(code), msg, sizeof(msg))) {
		azml_arm_fail(c, resp->status, "InvalidResponse",
			      "the operation "
			      "status has no 'status'");
		return;
	}
	if (!strcasecmp(status, "InProgress") ||
	    !strcasecmp(status, "Accepted") ||
	    !strcasecmp(status, "Running")) {
		_follow(c, "Azure-AsyncOperation", c->url, _poll_delay(resp));
		return;
	}
	if (strcasecmp(status, "Succeeded")) {
		/* Failed or Canceled, with Azure's error when given */
		azml_arm_fail(c, resp->status, code[0] ? code : status, "%s",
			      msg[0] ? msg : status);
		return;
	}
	_after_success(c);
}

/* The first answer to a create, delete or power action: done, or an
 * operation to poll. */
static void _answer_write(call_t *c, const azml_http_resp_t *resp)
{
	char asked[sizeof(c->r.name)], node[sizeof(c->r.node)];

	/* the name asked for stays (the NIC's URL is made from it) */
	memcpy(asked, c->r.name, sizeof(asked));
	memcpy(node, c->r.node, sizeof(node));
	if (resp->body && resp->len) {
		cJSON *j = cJSON_Parse(resp->body);

		if (j)
			azml_arm_parse_vm(j, &c->r);
		cJSON_Delete(j);
	}
	if (c->kind == K_CREATE && c->r.name[0] &&
	    strcasecmp(c->r.name, asked)) {
		char got[200];

		azml_escape(c->r.name, got, sizeof(got));
		memcpy(c->r.name, asked, sizeof(asked));
		memcpy(c->r.node, node, sizeof(node));
		azml_arm_fail(c, resp->status, "InvalidResponse",
			      "the answer to "
			      "creating VM '%s' describes VM '%s'",
			      asked, got);
		return;
	}
	memcpy(c->r.name, asked, sizeof(asked));
	if (c->kind == K_CREATE)
		memcpy(c->r.node, node, sizeof(node));
	if (resp->async_op[0] || resp->location[0]) {
		_poll(c, resp);
		return;
	}
	_after_success(c);
}

static void _answer_get(call_t *c, const azml_http_resp_t *resp)
{
	cJSON *j = cJSON_Parse(resp->body ? resp->body : "");
	char asked[sizeof(c->r.name)];

	memcpy(asked, c->r.name, sizeof(asked));
	azml_arm_parse_vm(j, &c->r);
	cJSON_Delete(j);
	if (c->kind == K_GET && c->r.name[0] &&
	    strcasecmp(c->r.name, asked)) {
		char got[200];

		azml_escape(c->r.name, got, sizeof(got));
		memcpy(c->r.name, asked, sizeof(asked));
		azml_arm_fail(c, resp->status, "InvalidResponse",
			      "the answer to "
			      "reading VM '%s' describes VM '%s'",
			      asked, got);
		return;
	}
	memcpy(c->r.name, asked, sizeof(asked));
	c->r.ok = true;
	_done(c);
}

/* Add the VMs of this cluster in page J to C's listing.  Returns 0, or -1
 * after failing C (too many VMs, out of memory). */
static int _list_add_page(call_t *c, const cJSON *j)
{
	cJSON *it;
	char rg[300];

	snprintf(rg, sizeof(rg), "/resourceGroups/%s/providers/",
		 c->arm->conf->resource_group);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "value")) {
		azml_vm_result_t v = { 0 }, *vms;

		azml_arm_parse_vm(it, &v);
		if (c->status_pass) {
			/* ListAll's statusOnly=true: the power state of VMs
			 * the first pass listed, in our resource group only */
			const char *id = azml_arm_str(it, "id");

			if (!id || !strcasestr(id, rg))
				continue;
			for (size_t i = 0; i < c->nvms; i++)
				if (!strcasecmp(c->vms[i].name, v.name)) {
					azml_arm_copy(c->vms[i].power,
						      sizeof(c->vms[i].power),
						      v.power);
					break;
				}
			continue;
		}
		if (!c->set_list && strcmp(v.cluster, c->arm->conf->cluster_name))
			continue;
		if (c->nvms >= AZML_ARM_MAX_VMS) {
			azml_arm_fail(c, 0, "TooManyVMs",
				      "the listing has more than "
				      "%d VMs of this cluster; gave up",
				      AZML_ARM_MAX_VMS);
			return -1;
		}
		if (c->nvms == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;

			if (!(vms = realloc(c->vms, cap * sizeof(v)))) {
				azml_arm_fail(c, 0, "OutOfMemory",
					      "out of memory "
					      "listing VMs (%zu so far)",
					      c->nvms);
				return -1;
			}
			c->vms = vms;
			c->cap = cap;
		}
		c->vms[c->nvms++] = v;
	}
	return 0;
}

/* One page of a VM listing: its VMs kept, then the next page or done. */
static void _answer_list(call_t *c, const azml_http_resp_t *resp)
{
	cJSON *j = cJSON_Parse(resp->body ? resp->body : "");
	const char *next = azml_arm_str(j, "nextLink");
	char url[2048];

	if (_list_add_page(c, j) < 0) {
		cJSON_Delete(j);
		return;
	}
	if (next && *next) {
		if (strlen(next) >= sizeof(url)) {
			cJSON_Delete(j);
			azml_arm_fail(c, 0, "InvalidResponse",
				      "the listing's "
				      "nextLink is longer than %zu bytes",
				      sizeof(url) - 1);
			return;
		}
		azml_arm_copy(url, sizeof(url), next);
		cJSON_Delete(j);
		_next_page(c, url);
		return;
	}
	cJSON_Delete(j);
	if (!c->set_list && !c->status_pass && c->nvms) {
		/* The model lists no power state, and $expand=instanceView
		 * needs a $filter (the spec): Azure's way to the states of a
		 * listing is ListAll with statusOnly=true. */
		c->status_pass = true;
		free(c->seen);
		c->seen = NULL;
		c->pages = 0;
		snprintf(url, sizeof(url), "%s/providers/Microsoft.Compute/"
			 "virtualMachines?api-version=" AZML_API_COMPUTE
			 "&statusOnly=true", c->arm->base);
		_follow(c, "statusOnly listing", url, 0);
		return;
	}
	c->r.ok = true;
	_done(c);
}

static void _answer_usages(call_t *c, const azml_http_resp_t *resp)
{
	azml_usage_t *u;
	size_t n = azml_arm_parse_usages(resp->body, &u);

	c->usage_cb(c->arg, u, n, NULL);
	free(u);
	c->r.ok = true;
	_done(c);
}

static void _answer_sizes(call_t *c, const azml_http_resp_t *resp)
{
	azml_vm_size_t *s;
	size_t n = azml_arm_parse_vm_sizes(resp->body, &s);

	c->sizes_cb(c->arg, s, n, NULL);
	free(s);
	c->r.ok = true;
	_done(c);
}

/* The serial log's blob: its last AZML_BOOTDIAG_MAX bytes.  Azure Storage
 * takes only "bytes=START-[END]" ranges (no suffix range), and its size is
 * not known before: the whole blob comes (http.c bounds a body), its end is
 * kept. */
static void _on_blob(void *arg, const azml_http_resp_t *resp)
{
	call_t *c = arg;

	c->r.http_status = resp->status;
	if (resp->status != 200 && resp->status != 206) {
		azml_arm_fail(c, resp->status,
			      resp->status ? "HttpError" : "NetworkError",
			      "couldn't read the serial console log: %s",
			      resp->status ?
				      "the storage answered an HTTP error" :
				      resp->error);
		return;
	}
	c->log = resp->body ? resp->body : "";
	c->loglen = resp->body ? resp->len : 0;
	if (c->loglen > AZML_BOOTDIAG_MAX) {
		c->log += c->loglen - AZML_BOOTDIAG_MAX;
		c->loglen = AZML_BOOTDIAG_MAX;
	}
	c->r.ok = true;
	_done(c);
}

/* retrieveBootDiagnosticsData's answer: fetch the serial log, without the
 * bearer token, only from a blob host (or the emulator's origin). */
static void _answer_bootdiag(call_t *c, const azml_http_resp_t *resp)
{
	char uri[4096], why[512], err[512];

	if (azml_bootdiag_parse_uris(resp->body, uri, sizeof(uri))) {
		azml_arm_fail(c, resp->status, "InvalidResponse",
			      "the boot diagnostics "
			      "answer has no serialConsoleLogBlobUri (is boot "
			      "diagnostics on?)");
		return;
	}
	if (azml_bootdiag_url_ok(uri, c->arm->conf->arm_endpoint, why,
				 sizeof(why))) {
		azml_arm_fail(c, 0, "UntrustedUrl",
			      "refusing to fetch the serial "
			      "console log: %s",
			      why);
		return;
	}
	if (azml_now() > c->deadline) {
		azml_arm_fail(c, 0, "OperationTimedOut",
			      "no time left to read the "
			      "serial console log");
		return;
	}
	if (azml_http_submit_max(c->arm->http, "GET", uri, NULL, NULL, 0,
				 AZML_HTTP_BODY_LOG, _on_blob, c, err,
				 sizeof(err)))
		azml_arm_fail(c, 0, "UntrustedUrl",
			      "refusing to fetch the serial "
			      "console log: %s",
			      err);
}

/* Every answer of every call comes here: errors first, then by the call's
 * phase (NIC, polls) and kind. */
static void _on_answer(void *arg, const azml_http_resp_t *resp)
{
	call_t *c = arg;

	c->r.http_status = resp->status;
	if (_answer_failed(c, resp))
		return;
	switch (c->phase) {
	case PH_VM_NIC: {
		cJSON *j = cJSON_Parse(resp->body ? resp->body : "");
		azml_vm_result_t v = { 0 };

		if (j)
			azml_arm_parse_vm(j, &v);
		cJSON_Delete(j);
		azml_arm_copy(c->r.nic, sizeof(c->r.nic), v.nic);
		/* what was made, as the VM says now (a mix: the real size) */
		if (v.size[0])
			azml_arm_copy(c->r.size, sizeof(c->r.size), v.size);
		if (v.vm_id[0])
			azml_arm_copy(c->r.vm_id, sizeof(c->r.vm_id), v.vm_id);
		_after_success(c);
		return;
	}
	case PH_NIC:
		azml_arm_parse_nic_ip(resp->body, c->r.ip, sizeof(c->r.ip));
		c->r.ok = true;
		_done(c);
		return;
	case PH_POLL_LOCATION:
		/* Location semantics: 202 until done, then 200 or 204 */
		if (resp->status == 202)
			_follow(c, "Location", c->url, _poll_delay(resp));
		else
			_after_success(c);
		return;
	case PH_POLL_ASYNC:
		_answer_async_poll(c, resp);
		return;
	case PH_MAIN:
		break;
	}
	switch (c->kind) {
	case K_CREATE:
	case K_DELETE:
	case K_POWER:
	case K_SS_WRITE:
		_answer_write(c, resp);
		return;
	case K_GET:
	case K_SS_GET:
		_answer_get(c, resp);
		return;
	case K_NIC:
		azml_arm_parse_nic_ip(resp->body, c->r.ip, sizeof(c->r.ip));
		c->r.ok = true;
		_done(c);
		return;
	case K_LIST:
		_answer_list(c, resp);
		return;
	case K_USAGES:
		_answer_usages(c, resp);
		return;
	case K_SIZES:
		_answer_sizes(c, resp);
		return;
	case K_BOOTLOG:
		_answer_bootdiag(c, resp);
		return;
	}
}

int azml_arm_usages(azml_arm_t *arm, azml_usage_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_USAGES, "", NULL, arg);
	char url[2048];

	c->usage_cb = cb;
	snprintf(url, sizeof(url), "%s/providers/Microsoft.Compute/locations/%s/"
		 "usages?api-version=" AZML_API_COMPUTE, arm->base,
		 arm->conf->location);
	return azml_arm_send(c, "GET", url, NULL, 0);
}

typedef struct {
	bool answered;
	azml_usage_t *u;
	size_t n;
	azml_vm_result_t err;
} usages_now_t;

static void _usages_now(void *arg, const azml_usage_t *u, size_t n,
			const azml_vm_result_t *err)
{
	usages_now_t *w = arg;

	w->answered = true;
	if (err) {
		w->err = *err;
		return;
	}
	if (!(w->u = calloc(n + 1, sizeof(*u)))) {
		snprintf(w->err.code, sizeof(w->err.code), "OutOfMemory");
		snprintf(w->err.message, sizeof(w->err.message), "couldn't "
			 "keep %zu usages", n);
		return;
	}
	if (n)
		memcpy(w->u, u, n * sizeof(*u));
	w->n = n;
}

int azml_arm_usages_now(azml_arm_t *arm, azml_usage_t **u, size_t *n,
			azml_vm_result_t *err)
{
	usages_now_t w = { 0 };

	*u = NULL;
	*n = 0;
	if (azml_arm_usages(arm, _usages_now, &w) == 0)
		azml_arm_run(arm);
	if (!w.answered && !w.err.code[0]) {
		snprintf(w.err.code, sizeof(w.err.code), "NoAnswer");
		snprintf(w.err.message, sizeof(w.err.message), "the usages "
			 "request was never answered");
	}
	if (!w.u) {
		*err = w.err;
		return -1;
	}
	*u = w.u;
	*n = w.n;
	return 0;
}

int azml_arm_vm_sizes(azml_arm_t *arm, azml_sizes_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_SIZES, "", NULL, arg);
	char url[2048];

	c->sizes_cb = cb;
	snprintf(url, sizeof(url), "%s/providers/Microsoft.Compute/locations/%s/"
		 "vmSizes?api-version=" AZML_API_COMPUTE, arm->base,
		 arm->conf->location);
	return azml_arm_send(c, "GET", url, NULL, 0);
}

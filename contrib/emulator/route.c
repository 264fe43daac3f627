/*
 * route.c - the Azure emulator's routing: which handler answers which
 * method and path.
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
#include "cloud.h"
#include "emu.h"

/* A request as the routes' handlers see it. */
typedef struct {
	struct MHD_Connection *c;
	const char *url, *method;
	char *path;		/* a copy of the URL's path, theirs to cut */
	const char *body;	/* NULL: none */
	char **seg;		/* an ARM path's segments, and their count */
	int n;
} req_t;

typedef void (*handler_t)(const req_t *q, reply_t *r);

/* Microsoft.Compute's api-versions (virtual machines, scale sets, usages,
 * sizes, SKUs, operations): what Microsoft's specs and clients use.  The
 * emulator answers each with the 2024-07-01 shapes. */
static const char *const compute_versions[] = {
	"2017-03-30", "2017-09-01", "2017-12-01", "2018-04-01", "2018-06-01",
	"2018-10-01", "2019-03-01", "2019-04-01", "2019-07-01", "2019-12-01",
	"2020-06-01", "2020-12-01", "2021-03-01", "2021-04-01", "2021-07-01",
	"2021-11-01", "2022-03-01", "2022-08-01", "2022-11-01", "2023-03-01",
	"2023-07-01", "2023-09-01", "2024-03-01", "2024-07-01", "2024-11-01",
};

/* The api-version of the ARM request being answered (checked), for the
 * URLs the answer names; "" outside one.  Under emu_lock. */
static char cur_api_version[20];

const char *emu_api_version(void)
{
	return *cur_api_version ? cur_api_version : "2024-07-01";
}

/* An api-version's form: YYYY-MM-DD, optionally "-preview". */
static bool _api_version_form(const char *v)
{
	size_t n = strlen(v);

	if (n != 10 && !(n == 18 && !strcmp(v + 10, "-preview")))
		return false;
	for (int i = 0; i < 10; i++)
		if (i == 4 || i == 7 ? v[i] != '-' : !isdigit((unsigned char) v[i]))
			return false;
	return true;
}

/*
 * ARM's answers to an api-version it does not know: a malformed one is
 * InvalidApiVersionParameter; a well-formed one that Microsoft.Compute
 * does not register, NoRegisteredProviderFound (the shapes ARM answers,
 * doc/NOTES 10.4).  Other providers (Network, the subscription) take any
 * well-formed version.  Returns whether V passed (if not, R has the answer).
 */
static bool _api_version_ok(const char *v, char **seg, int n,
			    const char *body, reply_t *r)
{
	char list[512] = "", type[160] = "", loc[72] = "";
	int ns = -1;
	bool compute;

	for (int i = 2; i + 1 < n; i++)
		if (!strcasecmp(seg[i], "providers")) {
			ns = i + 1;
			break;
		}
	compute = ns > 0 && !strcasecmp(seg[ns], "Microsoft.Compute");
	for (size_t i = 0; i < sizeof(compute_versions) /
	     sizeof(compute_versions[0]); i++) {
		if (compute && !strcmp(v, compute_versions[i]))
			return true;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", compute_versions[i]);
	}
	if (!_api_version_form(v)) {
		emu_error(r, 400, "InvalidApiVersionParameter", "The api-version "
			  "'%.40s' is invalid. The supported versions are "
			  "'%s'.", v, list);
		return false;
	}
	if (!compute)
		return true;
	/* the resource type: virtualMachines, locations/usages, ... */
	if (ns + 1 < n)
		snprintf(type, sizeof(type), "%.64s", seg[ns + 1]);
	if (ns + 3 < n && !strcasecmp(seg[ns + 1], "locations")) {
		snprintf(type, sizeof(type), "locations/%.64s", seg[ns + 3]);
		snprintf(loc, sizeof(loc), "%.64s", seg[ns + 2]);
	}
	if (!*loc && body) {
		cJSON *j = cJSON_Parse(body);

		if (cJSON_IsString(cJSON_GetObjectItem(j, "location")) &&
		    emu_chars_ok(cJSON_GetObjectItem(j, "location")->valuestring,
				 64, " "))
			snprintf(loc, sizeof(loc), "%s",
				 cJSON_GetObjectItem(j, "location")->valuestring);
		cJSON_Delete(j);
	}
	emu_error(r, 400, "NoRegisteredProviderFound", "No registered resource "
		  "provider found for location '%s' and API version '%.40s' "
		  "for type '%s'. The supported api-versions are '%s'.",
		  *loc ? loc : "*", v, type, list);
	return false;
}

/*
 * Whether AUD ("": a journal's token from before audiences were kept) is
 * one ARM of the emulator's cloud (--cloud) takes, a final '/' aside: its
 * endpoint, or the classic management.core one.  If not, R gets ARM's 401
 * InvalidAuthenticationTokenAudience, worded as ARM words it.
 */
static bool _arm_audience_ok(const char *aud, reply_t *r)
{
	static const struct {
		const char *cloud, *core;
	} cores[] = {
		{ "AzurePublic", "https://management.core.windows.net/" },
		{ "AzureUSGovernment", "https://management.core.usgovcloudapi.net/" },
		{ "AzureChina", "https://management.core.chinacloudapi.cn/" },
	};
	const azml_cloud_t *cl = azml_cloud_find(emu_net_st.cloud ?
						 emu_net_st.cloud :
						 AZML_CLOUD_DEFAULT);
	const char *ok[2] = { cl->arm_audience, NULL };
	size_t al = strlen(aud);

	for (size_t i = 0; i < sizeof(cores) / sizeof(cores[0]); i++)
		if (!strcmp(cores[i].cloud, cl->name))
			ok[1] = cores[i].core;
	if (al && aud[al - 1] == '/')
		al--;
	if (!al && !*aud)
		return true;
	for (size_t i = 0; i < 2 && ok[i]; i++) {
		size_t ol = strlen(ok[i]) - 1;	/* without its '/' */

		if (al == ol && !strncasecmp(aud, ok[i], ol))
			return true;
	}
	emu_error(r, 401, "InvalidAuthenticationTokenAudience", "The access "
		  "token has been obtained for wrong audience or resource "
		  "'%.128s'. It should exactly match with one of the allowed "
		  "audiences '%s','%.*s','%s','%.*s'.", aud, ok[1],
		  (int) strlen(ok[1]) - 1, ok[1], ok[0],
		  (int) strlen(ok[0]) - 1, ok[0]);
	return false;
}

/*
 * What every ARM request must pass before its route: a known bearer token,
 * an api-version, the injected errors (--error-rate), and the subscription,
 * resource group and location names Azure's rules allow.  Returns whether
 * it passed (if not, R has the answer).
 */
static bool _arm_checks(struct MHD_Connection *c, char **seg, int n,
			const char *body, reply_t *r)
{
	const token_t *t = NULL;
	token_state_t ts = emu_token_find(c, &t);

	if (ts != TOKEN_OK) {
		if (ts == TOKEN_MISSING)
			emu_error(r, 401, "AuthenticationFailed", "Authentication "
			       "failed. The 'Authorization' header is missing.");
		else if (ts == TOKEN_EXPIRED)
			emu_error(r, 401, "ExpiredAuthenticationToken", "The access "
			       "token expiry UTC time is earlier than current "
			       "UTC time.");
		else
			emu_error(r, 401, "InvalidAuthenticationToken", "The access "
			       "token is invalid.");
		emu_header(r, "WWW-Authenticate", "Bearer authorization_uri="
			"\"%s/common\"", emu_net_st.base_url);
		return false;
	}
	if (!_arm_audience_ok(t->aud, r))
		return false;
	if (!emu_arg(c, "api-version")) {
		emu_error(r, 400, "MissingApiVersionParameter", "The api-version "
		       "query parameter (?api-version=) is required for all "
		       "requests.");
		return false;
	}
	if (!_api_version_ok(emu_arg(c, "api-version"), seg, n, body, r))
		return false;
	snprintf(cur_api_version, sizeof(cur_api_version), "%s",
		 emu_arg(c, "api-version"));
	if (emu_faults.error_rate > 0 &&
	    rand_r(&emu_seed) / (double) RAND_MAX < emu_faults.error_rate) {
		emu_stats.errors_injected++;
		if (rand_r(&emu_seed) % 2) {
			emu_error(r, 503, "ServerBusy", "The server is currently "
			       "unable to handle the request.");
			emu_header(r, "Retry-After", "1");
		} else {
			emu_error(r, 500, "InternalServerError", "An internal server "
			       "error occurred.");
		}
		return false;
	}
	/* names become keys, ids and headers: Azure's rules bound them */
	if ((n < 2 && n != 1) || (n >= 2 && !emu_chars_ok(seg[1], 64, "-"))) {
		emu_error(r, 400, "InvalidSubscriptionId", "The provided subscription "
		       "identifier '%.64s' is malformed or invalid.",
		       n < 2 ? "" : seg[1]);
		return false;
	}
	if (n >= 4 && !strcasecmp(seg[2], "resourceGroups") && !emu_rg_ok(seg[3])) {
		emu_error(r, 400, "InvalidResourceGroupName", "Resource group names "
		       "only allow up to 90 characters and alphanumeric "
		       "characters, periods, underscores, hyphens and "
		       "parenthesis and cannot end in a period.");
		return false;
	}
	if (n >= 6 && !strcasecmp(seg[4], "locations") &&
	    !emu_chars_ok(seg[5], 64, "")) {
		emu_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute'.", seg[5]);
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* ARM: /subscriptions/..., by the path's segments */

static void _usages(const req_t *q, reply_t *r)
{
	emu_usages(q->seg[5], r);
}

static void _vm_sizes(const req_t *q, reply_t *r)
{
	(void) q;
	emu_vm_sizes(r);
}

static void _skus(const req_t *q, reply_t *r)
{
	emu_skus(emu_arg(q->c, "$filter"), r);
}

static void _subscriptions(const req_t *q, reply_t *r)
{
	emu_subscriptions(q->n == 2 ? q->seg[1] : NULL, r);
}

static void _operation(const req_t *q, reply_t *r)
{
	emu_operation(q->seg[7], false, r);
}

static void _operation_result(const req_t *q, reply_t *r)
{
	emu_operation(q->seg[7], true, r);
}

static void _vm_list(const req_t *q, reply_t *r)
{
	if (emu_compute_take(r, CP_LIST))
		emu_vm_list(q->seg[1], q->seg[3], q->c, r);
}

/* VirtualMachines_ListAll: the subscription's VMs */
static void _vm_list_all(const req_t *q, reply_t *r)
{
	if (emu_compute_take(r, CP_LIST))
		emu_vm_list(q->seg[1], NULL, q->c, r);
}

static void _vm_put(const req_t *q, reply_t *r)
{
	if (emu_take_write_token(r) && emu_compute_take(r, CP_PUT_VM))
		emu_vm_put(q->c, q->seg[1], q->seg[3], q->seg[7], q->body, r);
}

static void _vm_patch(const req_t *q, reply_t *r)
{
	emu_vm_patch(q->seg[1], q->seg[3], q->seg[7], q->body, r);
}

static void _vm_action(const req_t *q, reply_t *r)
{
	emu_vm_action(q->method, q->seg[1], q->seg[3], q->seg[7],
		      q->n == 9 ? q->seg[8] : NULL, q->c, r);
}

static void _vmss(const req_t *q, reply_t *r)
{
	emu_vmss(q->c, q->method, q->seg[1], q->seg[3],
		 q->n >= 8 ? q->seg[7] : NULL, q->n == 9 ? q->seg[8] : NULL,
		 q->body, r);
}

static void _nic_get(const req_t *q, reply_t *r)
{
	emu_nic_get(q->seg[1], q->seg[3], q->seg[7], r);
}

static void _arm_not_served(const req_t *q, reply_t *r)
{
	emu_error(r, 404, "InvalidResourceType", "azure-emulator does not serve "
		  "%s on this path.", q->method);
}

#define VMS "subscriptions/*/resourceGroups/*/providers/Microsoft.Compute/" \
	"virtualMachines"
#define VMSS "subscriptions/*/resourceGroups/*/providers/Microsoft.Compute/" \
	"virtualMachineScaleSets"
#define LOCATION "subscriptions/*/providers/Microsoft.Compute/locations/*"

/*
 * ARM's routes, the first that matches answers.  A pattern's segments
 * match case aside; "*" is any segment; "{name}" is a resource's name,
 * answered 400 InvalidResourceName when Azure would not take it; a final
 * "**" is one or more segments.  METHOD NULL: any.
 */
static const struct {
	const char *method;
	const char *pattern;
	handler_t fn;
} arm_routes[] = {
	{ "GET", LOCATION "/usages", _usages },
	{ "GET", LOCATION "/vmSizes", _vm_sizes },
	{ "GET", "subscriptions/*/providers/Microsoft.Compute/skus", _skus },
	{ "GET", "subscriptions", _subscriptions },
	{ "GET", "subscriptions/*", _subscriptions },
	{ NULL, LOCATION "/operations/*", _operation },
	{ NULL, LOCATION "/operationResults/*", _operation_result },
	{ "GET", VMS, _vm_list },
	{ "GET", "subscriptions/*/providers/Microsoft.Compute/virtualMachines",
	  _vm_list_all },
	{ "PUT", VMS "/{name}", _vm_put },
	{ "PATCH", VMS "/{name}", _vm_patch },
	{ NULL, VMS "/{name}", _vm_action },
	{ NULL, VMS "/{name}/*", _vm_action },
	{ NULL, VMS "/{name}/**", _arm_not_served },
	{ NULL, VMSS, _vmss },
	{ NULL, VMSS "/{name}", _vmss },
	{ NULL, VMSS "/{name}/*", _vmss },
	{ "GET", "subscriptions/*/resourceGroups/*/providers/Microsoft.Network/"
	  "networkInterfaces/*", _nic_get },
};

/*
 * Whether SEG (N of them) match PATTERN; *NAME_AT gets the index of the
 * segment "{name}" matched (-1: none).
 */
static bool _pattern_match(const char *pattern, char **seg, int n,
			   int *name_at)
{
	const char *p = pattern;
	int i = 0;

	*name_at = -1;
	while (*p) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t) (slash - p) : strlen(p);

		if (len == 2 && !strncmp(p, "**", 2))
			return i < n;
		if (i == n)
			return false;
		if (len == 6 && !strncmp(p, "{name}", 6))
			*name_at = i;
		else if (!(len == 1 && *p == '*') &&
			 (strlen(seg[i]) != len || strncasecmp(seg[i], p, len)))
			return false;
		i++;
		p += len + (slash ? 1 : 0);
	}
	return i == n;
}

/* /subscriptions/... */
static void _arm(const req_t *q, reply_t *r)
{
	char *seg[16];
	req_t arm = *q;
	int name_at;

	arm.seg = seg;
	arm.n = emu_segments(q->path, seg, 16);
	*cur_api_version = '\0';
	if (!_arm_checks(q->c, seg, arm.n, q->body, r))
		return;
	for (size_t i = 0; i < sizeof(arm_routes) / sizeof(arm_routes[0]); i++) {
		if ((arm_routes[i].method &&
		     strcmp(arm_routes[i].method, q->method)) ||
		    !_pattern_match(arm_routes[i].pattern, seg, arm.n, &name_at))
			continue;
		/* names become keys, ids and headers: Azure's rules bound them */
		if (name_at >= 0 && !emu_name_ok(seg[name_at])) {
			emu_error(r, 400, "InvalidResourceName", "The "
				  "resource name '%.64s' is invalid.",
				  seg[name_at]);
			return;
		}
		arm_routes[i].fn(&arm, r);
		return;
	}
	_arm_not_served(q, r);
}

/* ---------------------------------------------------------------------- */
/* Every service, by the URL's path */

static void _imds_token(const req_t *q, reply_t *r)
{
	emu_imds_token(q->c, r);
}

static void _scheduled_events(const req_t *q, reply_t *r)
{
	emu_scheduled_events(q->c, q->method, q->body, r);
}

static void _imds_instance(const req_t *q, reply_t *r)
{
	emu_imds_instance(q->c, q->url, r);
}

static void _keyvault(const req_t *q, reply_t *r)
{
	emu_keyvault(q->c, q->method, q->path, NULL, r);
}

static void _retail_prices(const req_t *q, reply_t *r)
{
	emu_retail_prices(q->c, q->method, r);
}

static void _blob(const req_t *q, reply_t *r)
{
	emu_blob(q->method, q->path, q->c, r);
}

static void _admin(const req_t *q, reply_t *r)
{
	emu_admin(q->c, q->method, q->path, q->body, r);
}

static void _openid(const req_t *q, reply_t *r)
{
	emu_openid(q->path, r);
}

static void _token_v2(const req_t *q, reply_t *r)
{
	emu_token_v2(q->c, q->body, r);
}

typedef enum { M_EXACT, M_PREFIX, M_CONTAINS } match_t;

/* The services' routes, the first that matches answers.  METHOD NULL: any. */
static const struct {
	match_t match;
	const char *path;
	const char *method;
	handler_t fn;
} routes[] = {
	{ M_PREFIX, "/subscriptions/", NULL, _arm },
	{ M_EXACT, "/subscriptions", "GET", _arm },
	{ M_CONTAINS, "/v2.0/.well-known/openid-configuration", "GET",
	  _openid },
	{ M_EXACT, "/metadata/identity/oauth2/token", "GET", _imds_token },
	{ M_EXACT, "/metadata/scheduledevents", NULL, _scheduled_events },
	{ M_EXACT, "/metadata/instance", "GET", _imds_instance },
	{ M_EXACT, "/metadata/instance/compute", "GET", _imds_instance },
	{ M_EXACT, "/metadata/instance/compute/userData", "GET",
	  _imds_instance },
	{ M_PREFIX, "/keyvault/", NULL, _keyvault },
	{ M_EXACT, "/api/retail/prices", NULL, _retail_prices },
	{ M_PREFIX, "/emulator-blob/", NULL, _blob },
	{ M_PREFIX, "/emulator/", NULL, _admin },
	{ M_CONTAINS, "/oauth2/v2.0/token", "POST", _token_v2 },
};

static bool _path_match(match_t m, const char *path, const char *url)
{
	switch (m) {
	case M_EXACT:
		return !strcmp(url, path);
	case M_PREFIX:
		return !strncmp(url, path, strlen(path));
	case M_CONTAINS:
		return strstr(url, path) != NULL;
	}
	return false;
}

void emu_route(struct MHD_Connection *c, const char *url, const char *method,
	       char *path, const char *body, reply_t *r)
{
	req_t q = { .c = c, .url = url, .method = method, .path = path,
		    .body = body };

	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (_path_match(routes[i].match, routes[i].path, url) &&
		    (!routes[i].method || !strcmp(routes[i].method, method))) {
			routes[i].fn(&q, r);
			return;
		}
	emu_error(r, 404, "NotFound", "azure-emulator serves /subscriptions/..., "
		  "/{tenant}/oauth2/v2.0/token, /metadata/..., /keyvault/..., "
		  "/emulator-blob/... and /emulator/...");
}

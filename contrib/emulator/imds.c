/*
 * imds.c - the Azure emulator's IMDS: managed identity tokens, the
 * instance metadata, userData and Scheduled Events.
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
#include "emu.h"

/* VM V's Scheduled Event is over: it leaves the document. */
static void _event_clear(vm_t *v)
{
	v->ev = EV_NONE;
	v->event_started = false;
	v->incarnation++;
}

/*
 * Start VM V's Scheduled Event when NotBefore has come (or a StartRequests
 * brought it forward), and end it when its effect is over: Freeze stops
 * the VM's processes for DurationInSeconds; Reboot and Redeploy halt it
 * and boot it again a moment later; Preempt (Spot eviction policy Delete)
 * and Terminate delete it.  Under lock; V may be freed.
 */
void emu_tick_events(vm_t *v, double now)
{
	if (v->ev != EV_NONE && !v->event_started && v->ev_at <= now) {
		v->event_started = true;
		v->incarnation++;
		switch (v->ev) {
		case EV_FREEZE:
			emu_freeze(v, true);
			v->thaw_at = now + (v->ev_duration > 0 ? v->ev_duration : 0);
			break;
		case EV_REBOOT:
		case EV_REDEPLOY:
			emu_halt(v);
			/* after the old one's SIGKILL: its ports are free */
			v->boot_at = now + 1.5;
			emu_journal_vm(v);
			break;
		case EV_PREEMPT:
		case EV_TERMINATE:
			emu_vm_destroy(v);
			return;
		default:
			break;
		}
	}
	if (v->thaw_at > 0 && v->thaw_at <= now) {
		v->thaw_at = 0;
		emu_freeze(v, false);
		_event_clear(v);
	}
	if (v->boot_at > 0 && v->boot_at <= now) {
		v->boot_at = 0;
		if (!strcmp(v->power, "running"))
			emu_boot(v);
		emu_journal_vm(v);
		_event_clear(v);
	}
}

/* IMDS's error bodies: the identity endpoint answers OAuth's shape, the
 * other categories {"error": "..."}. */
static void _imds_error(reply_t *r, int status, bool identity,
			const char *code, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	char msg[256];

	if (identity) {
		cJSON_AddStringToObject(o, "error", code);
		cJSON_AddStringToObject(o, "error_description", text);
	} else {
		snprintf(msg, sizeof(msg), "Bad request. %s", text);
		cJSON_AddStringToObject(o, "error", status == 400 ? msg : text);
	}
	emu_json(r, status, o);
}

/*
 * What IMDS demands of every request (Microsoft's "Security and
 * authentication"): the header Metadata: true, in lower case, and no
 * X-Forwarded-For.  Returns true, or false with the answer in R.
 *
 * Who the caller is does not matter: on Azure, IMDS answers every process
 * of the VM, root or not, and so does the emulator (every local user).
 * Keeping jobs away from it is the VM's business (node-init's packet
 * filter), as it is on Azure.
 */
static bool _imds_request_ok(struct MHD_Connection *c, bool identity,
			     reply_t *r)
{
	const char *m = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata");

	if (!m || strcmp(m, "true")) {
		_imds_error(r, 400, identity, "bad_request_102",
			    "Required metadata header not specified");
		return false;
	}
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For")) {
		_imds_error(r, 400, identity, "invalid_request",
			    "Requests with an X-Forwarded-For header are "
			    "rejected");
		return false;
	}
	return true;
}

/*
 * The VM an IMDS request names with vm=NAME (the emulator's convention:
 * every emulated VM shares 127.0.0.1), or NULL with a 404 in R.
 */
static vm_t *_imds_vm(struct MHD_Connection *c, reply_t *r)
{
	const char *name = emu_arg(c, "vm");
	vm_t *v = name && emu_name_ok(name) ? emu_vm_by_name(name) : NULL;

	if (!v)
		emu_error(r, 404, "NotFound", "azure-emulator: name the VM with "
		       "?vm=NAME (no VM '%.64s')", name ? name : "");
	return v;
}

/*
 * A managed identity token.  Without vm=NAME, the host's own identity (as
 * before: no user-assigned identity).  With it, an identity of that VM:
 * the one msi_res_id (or mi_res_id), client_id or object_id names, else
 * its system-assigned one, else its only user-assigned one.
 *
 * What IMDS answers when the VM does not have the identity asked for, or
 * has none: 400 {"error":"invalid_request","error_description":"Identity
 * not found"}.  Microsoft's "How to use managed identities for Azure
 * resources on an Azure VM to acquire an access token" lists 4xx as
 * "one or more of the request parameters was incorrect" with
 * invalid_request in its error table, and the Azure SDKs' IMDS credentials
 * (azure-identity's ImdsCredential, Azure.Identity's
 * ImdsManagedIdentitySource) read a 400 as "the requested identity has not
 * been assigned to this resource" / "no identity has been assigned to this
 * resource".  Several user-assigned identities and none named: 400
 * invalid_request, as IMDS words it.
 */
void emu_imds_token(struct MHD_Connection *c, reply_t *r)
{
	const char *resource = emu_arg(c, "resource"), *tok;
	const char *res_id = emu_arg(c, "msi_res_id"), *client = emu_arg(c, "client_id");
	const char *object = emu_arg(c, "object_id");
	const char *client_id = "00000000-0000-0000-0000-000000000000";
	char buf[40], cid[40];
	long now = (long) emu_now();
	int ident = -1;
	cJSON *o;

	if (!_imds_request_ok(c, true, r))
		return;
	if (!res_id)
		res_id = emu_arg(c, "mi_res_id");
	if (!emu_arg(c, "api-version") || !resource || !*resource) {
		_imds_error(r, 400, true, "invalid_request",
			    "Required query variable 'resource' is missing");
		return;
	}
	if (strlen(resource) >= sizeof(((token_t *) 0)->aud)) {
		_imds_error(r, 400, true, "invalid_resource", "AADSTS50001: The "
			    "resource is too long for azure-emulator.");
		return;
	}
	if (!!res_id + !!client + !!object > 1) {
		_imds_error(r, 400, true, "invalid_request", "Only one of "
			    "client_id, object_id and msi_res_id may be given.");
		return;
	}
	if (emu_arg(c, "vm")) {
		vm_t *v = _imds_vm(c, r);
		const cJSON *id, *ua, *it, *pick = NULL;
		int n = 0;

		if (!v)
			return;
		id = cJSON_GetObjectItem(v->resource, "identity");
		ua = cJSON_GetObjectItem(id, "userAssignedIdentities");
		cJSON_ArrayForEach(it, ua) {
			n++;
			if ((res_id && !strcasecmp(it->string, res_id)) ||
			    (client && !strcasecmp(emu_jstr(it, "clientId"), client)) ||
			    (object && !strcasecmp(emu_jstr(it, "principalId"), object)))
				pick = it;
		}
		if (!res_id && !client && !object) {
			if (*emu_jstr(id, "principalId"))
				pick = NULL;	/* the system-assigned one */
			else if (n == 1)
				pick = ua->child;
			else if (n > 1) {
				_imds_error(r, 400, true, "invalid_request",
					    "Multiple user assigned identities "
					    "exist, please specify the clientId / "
					    "resourceId of the identity in the "
					    "token request");
				return;
			}
		}
		if ((!pick && (res_id || client || object)) ||
		    (!pick && !*emu_jstr(id, "principalId"))) {
			_imds_error(r, 400, true, "invalid_request",
				    "Identity not found");
			return;
		}
		if (pick) {
			if ((ident = emu_intern(pick->string)) < 0) {
				_imds_error(r, 500, true, "unknown", "azure-"
					    "emulator: too many identities");
				return;
			}
			snprintf(cid, sizeof(cid), "%s", emu_jstr(pick, "clientId"));
		} else {
			emu_guid_of("system-client:", emu_jstr(v->resource, "id"), cid);
		}
		client_id = cid;
	}
	if (!(tok = emu_issue_token(resource, ident))) {
		emu_error(r, 500, "InternalServerError", "out of memory");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "access_token", tok);
	cJSON_AddStringToObject(o, "refresh_token", "");
	snprintf(buf, sizeof(buf), "%d", TOKEN_LIFETIME);
	cJSON_AddStringToObject(o, "expires_in", buf);
	snprintf(buf, sizeof(buf), "%ld", now + TOKEN_LIFETIME);
	cJSON_AddStringToObject(o, "expires_on", buf);
	snprintf(buf, sizeof(buf), "%ld", now);
	cJSON_AddStringToObject(o, "not_before", buf);
	cJSON_AddStringToObject(o, "resource", resource);
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	cJSON_AddStringToObject(o, "client_id", client_id);
	emu_json(r, 200, o);
}

/* IMDS's answer to a request without api-version. */
static bool _imds_version_ok(struct MHD_Connection *c, reply_t *r)
{
	cJSON *o, *a;

	if (emu_arg(c, "api-version"))
		return true;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", "Bad request. api-version was not "
				"specified in the request. For more information "
				"refer to aka.ms/azureimds");
	a = cJSON_AddArrayToObject(o, "newest-versions");
	cJSON_AddItemToArray(a, cJSON_CreateString("2021-02-01"));
	cJSON_AddItemToArray(a, cJSON_CreateString("2021-01-01"));
	cJSON_AddItemToArray(a, cJSON_CreateString("2020-12-01"));
	emu_json(r, 400, o);
	return false;
}

/* The compute category of IMDS's instance document (a documented subset). */
static cJSON *_imds_compute(const vm_t *v)
{
	const cJSON *props = cJSON_GetObjectItem(v->resource, "properties");
	const cJSON *tags = cJSON_GetObjectItem(v->resource, "tags"), *t;
	cJSON *o = cJSON_CreateObject(), *os, *tl;

	const cJSON *sp = cJSON_GetObjectItem(props, "storageProfile");
	const cJSON *img = cJSON_GetObjectItem(sp, "imageReference");
	const cJSON *disk = cJSON_GetObjectItem(sp, "osDisk");
	const cJSON *keys = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetObjectItem(props, "osProfile"),
		"linuxConfiguration"), "ssh"), "publicKeys"), *k;
	cJSON *x, *pk;
	char *tagstr = NULL;
	size_t tlen = 0;

	/* the fields of imds.json 2021-02-01's Compute, all strings, as
	 * Microsoft's IMDS page shows them ("" where a VM has none) */
	cJSON_AddStringToObject(o, "azEnvironment", "AzurePublicCloud");
	cJSON_AddStringToObject(o, "evictionPolicy",
				emu_jstr(props, "evictionPolicy"));
	cJSON_AddStringToObject(o, "isHostCompatibilityLayerVm", "false");
	cJSON_AddStringToObject(o, "licenseType", "");
	cJSON_AddStringToObject(o, "offer", emu_jstr(img, "offer"));
	cJSON_AddStringToObject(o, "placementGroupId", "");
	x = cJSON_AddObjectToObject(o, "plan");
	cJSON_AddStringToObject(x, "name", "");
	cJSON_AddStringToObject(x, "product", "");
	cJSON_AddStringToObject(x, "publisher", "");
	cJSON_AddStringToObject(o, "platformFaultDomain", "0");
	cJSON_AddStringToObject(o, "platformUpdateDomain", "0");
	cJSON_AddStringToObject(o, "provider", "Microsoft.Compute");
	pk = cJSON_AddArrayToObject(o, "publicKeys");
	cJSON_ArrayForEach(k, keys) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "keyData", emu_jstr(k, "keyData"));
		cJSON_AddStringToObject(e, "path", emu_jstr(k, "path"));
		cJSON_AddItemToArray(pk, e);
	}
	cJSON_AddStringToObject(o, "publisher", emu_jstr(img, "publisher"));
	x = cJSON_AddObjectToObject(o, "securityProfile");
	cJSON_AddStringToObject(x, "secureBootEnabled", "false");
	cJSON_AddStringToObject(x, "virtualTpmEnabled", "false");
	cJSON_AddStringToObject(o, "sku", emu_jstr(img, "sku"));
	{
		cJSON *st = cJSON_AddObjectToObject(o, "storageProfile");
		cJSON *ir = cJSON_AddObjectToObject(st, "imageReference");
		cJSON *od, *md;

		cJSON_AddArrayToObject(st, "dataDisks");
		cJSON_AddStringToObject(ir, "id", emu_jstr(img, "id"));
		cJSON_AddStringToObject(ir, "offer", emu_jstr(img, "offer"));
		cJSON_AddStringToObject(ir, "publisher",
					emu_jstr(img, "publisher"));
		cJSON_AddStringToObject(ir, "sku", emu_jstr(img, "sku"));
		cJSON_AddStringToObject(ir, "version", emu_jstr(img, "version"));
		od = cJSON_AddObjectToObject(st, "osDisk");
		cJSON_AddStringToObject(od, "caching", emu_jstr(disk, "caching"));
		cJSON_AddStringToObject(od, "createOption",
					emu_jstr(disk, "createOption"));
		cJSON_AddStringToObject(cJSON_AddObjectToObject(od,
			"diffDiskSettings"), "option", "");
		cJSON_AddStringToObject(od, "diskSizeGB", "30");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(od,
			"encryptionSettings"), "enabled", "false");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(od, "image"),
					"uri", "");
		md = cJSON_AddObjectToObject(od, "managedDisk");
		cJSON_AddStringToObject(md, "id", emu_jstr(cJSON_GetObjectItem(
			disk, "managedDisk"), "id"));
		cJSON_AddStringToObject(md, "storageAccountType", emu_jstr(
			cJSON_GetObjectItem(disk, "managedDisk"),
			"storageAccountType"));
		cJSON_AddStringToObject(od, "name", emu_jstr(disk, "name"));
		cJSON_AddStringToObject(od, "osType", "Linux");
		cJSON_AddStringToObject(cJSON_AddObjectToObject(od, "vhd"),
					"uri", "");
		cJSON_AddStringToObject(od, "writeAcceleratorEnabled", "false");
	}
	/* tags as "name:value;name:value" */
	cJSON_ArrayForEach(t, tags) {
		const char *val = cJSON_IsString(t) ? t->valuestring : "";
		size_t add = strlen(t->string) + strlen(val) + 2;
		char *n = realloc(tagstr, tlen + add + 1);

		if (!n)
			break;
		tagstr = n;
		tlen += snprintf(tagstr + tlen, add + 1, "%s%s:%s",
				 tlen ? ";" : "", t->string, val);
	}
	cJSON_AddStringToObject(o, "tags", tagstr ? tagstr : "");
	free(tagstr);
	cJSON_AddStringToObject(o, "location", v->location ? v->location : "");
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddStringToObject(o, "osType", "Linux");
	os = cJSON_AddObjectToObject(o, "osProfile");
	cJSON_AddStringToObject(os, "adminUsername",
		emu_jstr(cJSON_GetObjectItem(props, "osProfile"), "adminUsername"));
	cJSON_AddStringToObject(os, "computerName",
				v->computer ? v->computer : v->name);
	cJSON_AddStringToObject(os, "disablePasswordAuthentication", "true");
	cJSON_AddStringToObject(o, "priority", *emu_jstr(props, "priority") ?
				emu_jstr(props, "priority") : "Regular");
	cJSON_AddStringToObject(o, "resourceGroupName", v->rg);
	cJSON_AddStringToObject(o, "resourceId", emu_jstr(v->resource, "id"));
	cJSON_AddStringToObject(o, "subscriptionId", v->sub);
	tl = cJSON_AddArrayToObject(o, "tagsList");
	cJSON_ArrayForEach(t, tags) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", t->string);
		cJSON_AddStringToObject(e, "value", cJSON_IsString(t) ?
					t->valuestring : "");
		cJSON_AddItemToArray(tl, e);
	}
	cJSON_AddStringToObject(o, "userData", emu_jstr(props, "userData"));
	cJSON_AddStringToObject(o, "vmId", emu_jstr(props, "vmId"));
	cJSON_AddStringToObject(o, "vmSize", v->size);
	cJSON_AddStringToObject(o, "vmScaleSetName", v->vmss ? v->vmss : "");
	cJSON_AddStringToObject(o, "version", emu_jstr(img, "version"));
	cJSON_AddStringToObject(o, "zone", emu_vm_zone(v));
	return o;
}

/*
 * GET /metadata/instance[/compute[/userData]]?vm=NAME: the instance
 * document, its compute category, or the VM's userData (base64, as
 * stored; text/plain).
 */
void emu_imds_instance(struct MHD_Connection *c, const char *url,
			   reply_t *r)
{
	const char *fmt = emu_arg(c, "format");
	vm_t *v;

	if (!_imds_request_ok(c, false, r) || !_imds_version_ok(c, r) ||
	    !(v = _imds_vm(c, r)))
		return;
	if (!strcmp(url, "/metadata/instance/compute/userData")) {
		if (fmt && strcmp(fmt, "text")) {
			_imds_error(r, 400, false, "", "Bad request. Query "
				    "parameter format=json is not supported for "
				    "leaf nodes, use format=text");
			return;
		}
		r->status = 200;
		r->ctype = "text/plain; charset=utf-8";
		free(r->body);
		r->body = strdup(emu_jstr(cJSON_GetObjectItem(v->resource,
					"properties"), "userData"));
		return;
	}
	if (fmt && strcmp(fmt, "json")) {
		_imds_error(r, 400, false, "", "Bad request. Query parameter "
			    "format=text is only supported for leaf nodes");
		return;
	}
	if (!strcmp(url, "/metadata/instance/compute")) {
		emu_json(r, 200, _imds_compute(v));
	} else {
		cJSON *o = cJSON_CreateObject(), *net, *ifs, *i, *ip, *a;

		cJSON_AddItemToObject(o, "compute", _imds_compute(v));
		net = cJSON_AddObjectToObject(o, "network");
		ifs = cJSON_AddArrayToObject(net, "interface");
		i = cJSON_CreateObject();
		ip = cJSON_AddObjectToObject(i, "ipv4");
		a = cJSON_AddArrayToObject(ip, "ipAddress");
		cJSON_AddItemToArray(a, cJSON_CreateObject());
		cJSON_AddStringToObject(a->child, "privateIpAddress", "127.0.0.1");
		cJSON_AddStringToObject(a->child, "publicIpAddress", "");
		a = cJSON_AddArrayToObject(ip, "subnet");
		cJSON_AddItemToArray(a, cJSON_CreateObject());
		cJSON_AddStringToObject(a->child, "address", "127.0.0.0");
		cJSON_AddStringToObject(a->child, "prefix", "8");
		cJSON_AddArrayToObject(cJSON_AddObjectToObject(i, "ipv6"),
				       "ipAddress");
		cJSON_AddStringToObject(i, "macAddress", "000D3A000000");
		cJSON_AddItemToArray(ifs, i);
		emu_json(r, 200, o);
	}
}

const char *const emu_ev_names[] = { "", "Freeze", "Reboot", "Redeploy",
					"Preempt", "Terminate" };

void emu_scheduled_events(struct MHD_Connection *c, const char *method,
			      const char *body, reply_t *r)
{
	vm_t *v;
	cJSON *o, *events;

	if (!_imds_request_ok(c, false, r) || !(v = _imds_vm(c, r)))
		return;
	if (!strcmp(method, "POST")) {
		/* {"StartRequests":[{"EventId":...}]}: start the event now */
		cJSON *req = cJSON_Parse(body ? body : "");
		cJSON *sr = cJSON_GetObjectItem(req, "StartRequests"), *it;
		int n = 0;

		cJSON_ArrayForEach(it, sr) {
			if (++n > 100)
				break;
			if (v->ev != EV_NONE && !v->event_started &&
			    !strcmp(emu_jstr(it, "EventId"), v->event_id))
				v->ev_at = emu_now();	/* emu_tick starts it */
		}
		cJSON_Delete(req);
		r->status = 200;
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "DocumentIncarnation", v->incarnation);
	events = cJSON_AddArrayToObject(o, "Events");
	if (v->ev != EV_NONE) {
		static const char *const desc[] = { "",
			"Virtual machine is being paused because of a "
			"memory-preserving Live Migration operation.",
			"Virtual machine is going to be restarted as requested by "
			"authorized user.",
			"Virtual machine is being moved to another host.",
			"Spot virtual machine is being deleted.",
			"Virtual machine is being deleted." };
		cJSON *e = cJSON_CreateObject(), *res = cJSON_CreateArray();
		char when[64] = "";
		time_t t = (time_t) v->ev_at;
		struct tm tm;

		if (!v->event_started) {
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		}
		cJSON_AddStringToObject(e, "EventId", v->event_id);
		cJSON_AddStringToObject(e, "EventType", emu_ev_names[v->ev]);
		cJSON_AddStringToObject(e, "ResourceType", "VirtualMachine");
		cJSON_AddItemToArray(res, cJSON_CreateString(v->name));
		cJSON_AddItemToObject(e, "Resources", res);
		cJSON_AddStringToObject(e, "EventStatus",
					v->event_started ? "Started" : "Scheduled");
		cJSON_AddStringToObject(e, "NotBefore", when);
		cJSON_AddStringToObject(e, "Description", desc[v->ev]);
		cJSON_AddStringToObject(e, "EventSource", v->ev == EV_REBOOT ||
					v->ev == EV_TERMINATE ? "User" : "Platform");
		cJSON_AddNumberToObject(e, "DurationInSeconds", v->ev_duration);
		cJSON_AddItemToArray(events, e);
	}
	emu_json(r, 200, o);
}


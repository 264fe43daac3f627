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
#include "auth.h"
#include "bootdiag.h"
#include "log.h"
#include "safefile.h"

struct azml_arm {
	const azml_conf_t *conf;
	azml_http_t *http;
	azml_auth_t *auth;
	char base[512];	/* {ArmEndpoint}/subscriptions/{sub} */
	azml_url_origin_t origin;	/* ArmEndpoint's: where tokens may go */
	double op_timeout;
	/* azml_arm_set_ctld_info's copies, and the view of them */
	char *ctld_host, *ctld_cluster, *ctld_version;
	azml_ctld_info_t ctld;
};

typedef enum { K_CREATE, K_DELETE, K_GET, K_POWER, K_LIST, K_USAGES,
	       K_SIZES, K_BOOTLOG, K_NIC, K_SS_GET, K_SS_WRITE } kind_t;

/* One operation in progress. */
typedef struct {
	azml_arm_t *arm;
	kind_t kind;
	azml_vm_cb cb;
	azml_vm_list_cb list_cb;
	azml_usage_cb usage_cb;
	azml_sizes_cb sizes_cb;
	azml_boot_log_cb boot_cb;
	const char *log;	/* K_BOOTLOG: the log's end, during _done */
	size_t loglen;
	void *arg;
	azml_vm_result_t r;
	enum { PH_MAIN, PH_POLL_ASYNC, PH_POLL_LOCATION, PH_NIC } phase;
	bool retried_auth;
	bool set_list;		/* K_LIST of one scale set: no tag filter */
	char hdr[160];		/* one more header (If-Match), or "" */
	char url[2048];		/* what to re-send after a 401 */
	char method[8];
	char *body;
	double deadline;	/* azml_now() after which it fails */
	/* list paging */
	azml_vm_result_t *vms;
	size_t nvms, cap;
	uint64_t *seen;		/* hashes of the nextLinks followed */
	size_t pages;
} call_t;

static void _on_answer(void *arg, const azml_http_resp_t *resp);

/* ---------------------------------------------------------------------- */
/* Pure helpers */

bool azml_arm_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && s[i] != '-')
			return false;
	return true;
}

bool azml_arm_resource_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

static const char *_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItem(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void _copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

int azml_arm_parse_error(const char *body, char *code, size_t cn, char *msg,
			 size_t mn)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	int rc = -1;

	if (cJSON_IsObject(e) && _str(e, "code")) {
		_copy(code, cn, _str(e, "code"));
		_copy(msg, mn, _str(e, "message"));
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

void azml_arm_parse_instance_view(const cJSON *iv, azml_vm_result_t *out)
{
	const cJSON *st;

	cJSON_ArrayForEach(st, cJSON_GetObjectItem(iv, "statuses")) {
		const char *c = _str(st, "code");

		if (c && !strncmp(c, "PowerState/", 11))
			_copy(out->power, sizeof(out->power), c + 11);
		else if (c && !strncmp(c, "ProvisioningState/", 18) &&
			 !out->provisioning[0])
			_copy(out->provisioning, sizeof(out->provisioning), c + 18);
	}
}

void azml_arm_parse_vm(const cJSON *vm, azml_vm_result_t *out)
{
	const cJSON *props = cJSON_GetObjectItem(vm, "properties");
	const cJSON *tags = cJSON_GetObjectItem(vm, "tags");
	const char *prio = _str(props, "priority");

	_copy(out->name, sizeof(out->name), _str(vm, "name"));
	_copy(out->node, sizeof(out->node), _str(tags, "slurm-node"));
	_copy(out->cluster, sizeof(out->cluster), _str(tags, "slurm-cluster"));
	if (_str(tags, "slurm-cluster") &&
	    strlen(_str(tags, "slurm-cluster")) >= sizeof(out->cluster))
		_copy(out->cluster, sizeof(out->cluster), "?");	/* no prefix */
	_copy(out->size, sizeof(out->size),
	      _str(cJSON_GetObjectItem(props, "hardwareProfile"), "vmSize"));
	_copy(out->provisioning, sizeof(out->provisioning),
	      _str(props, "provisioningState"));
	out->spot = prio && (!strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low"));
	azml_arm_parse_instance_view(cJSON_GetObjectItem(props, "instanceView"), out);
	_copy(out->computer, sizeof(out->computer),
	      _str(cJSON_GetObjectItem(props, "osProfile"), "computerName"));
	_copy(out->etag, sizeof(out->etag), _str(vm, "etag"));
	out->identities = cJSON_GetArraySize(cJSON_GetObjectItem(
		cJSON_GetObjectItem(vm, "identity"), "userAssignedIdentities"));
	{
		const char *id = _str(props, "vmId");
		const char *zone = cJSON_GetStringValue(cJSON_GetArrayItem(
				cJSON_GetObjectItem(vm, "zones"), 0));
		long t = azml_iso8601_time(_str(props, "timeCreated"));

		/* into the journal: a GUID's characters, a zone's digit */
		if (id && strlen(id) < sizeof(out->vm_id) &&
		    strspn(id, "0123456789abcdefABCDEF-") == strlen(id) && *id)
			_copy(out->vm_id, sizeof(out->vm_id), id);
		if (zone && strlen(zone) == 1 && zone[0] >= '1' && zone[0] <= '9')
			_copy(out->zone, sizeof(out->zone), zone);
		out->created = t > 0 ? t : 0;
	}
	{
		const cJSON *cap = cJSON_GetObjectItem(cJSON_GetObjectItem(vm,
						       "sku"), "capacity");
		const char *set = _str(cJSON_GetObjectItem(props,
				       "virtualMachineScaleSet"), "id");
		const cJSON *nics = cJSON_GetObjectItem(cJSON_GetObjectItem(
				props, "networkProfile"), "networkInterfaces");
		const char *nic = _str(cJSON_GetArrayItem(nics, 0), "id");

		out->capacity = cJSON_IsNumber(cap) && cap->valuedouble >= 0 &&
				cap->valuedouble <= 1e6 ?
				(long) cap->valuedouble : -1;
		if (set && *set)	/* whole, or a mark that matches nothing */
			_copy(out->set_id, sizeof(out->set_id),
			      strlen(set) < sizeof(out->set_id) ? set : "?");
		/* only the last segment, and only a name: never a path */
		set = set ? strrchr(set, '/') : NULL;
		if (set && azml_arm_resource_name_ok(set + 1))
			_copy(out->scale_set, sizeof(out->scale_set), set + 1);
		nic = nic && strstr(nic, "/networkInterfaces/") ?
		      strrchr(nic, '/') : NULL;
		if (nic && azml_arm_resource_name_ok(nic + 1))
			_copy(out->nic, sizeof(out->nic), nic + 1);
	}
}

char *azml_arm_vmss_id(const azml_conf_t *conf, const char *set, char *id,
		       size_t n)
{
	snprintf(id, n, "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachineScaleSets/%s",
		 conf->subscription_id, conf->resource_group, set ? set : "");
	return id;
}

bool azml_arm_vm_ours(const azml_conf_t *conf, const azml_vm_result_t *vm,
		      const char *set, char *why, size_t n)
{
	char name[200], got[400], want[300];

	azml_escape(vm->name, name, sizeof(name));
	if (strcmp(vm->cluster, conf->cluster_name)) {
		snprintf(why, n, "VM '%s' is not tagged slurm-cluster=%s "
			 "(%s%s%s)", name, conf->cluster_name, vm->cluster[0] ?
			 "its tag says '" : "it has no such tag",
			 azml_escape(vm->cluster, got, sizeof(got)),
			 vm->cluster[0] ? "'" : "");
		return false;
	}
	azml_escape(vm->set_id, got, sizeof(got));
	if (!set) {
		if (!vm->set_id[0])
			return true;
		snprintf(why, n, "VM '%s' is in scale set %s, not a VM of its "
			 "own", name, got);
		return false;
	}
	azml_arm_vmss_id(conf, set, want, sizeof(want));
	if (!vm->set_id[0]) {
		snprintf(why, n, "VM '%s' is in no scale set, not in %s", name,
			 want);
		return false;
	}
	if (strcasecmp(vm->set_id, want)) {
		snprintf(why, n, "VM '%s' is in scale set %s, not in %s", name,
			 got, want);
		return false;
	}
	return true;
}

int azml_arm_parse_operation(const char *body, char *status, size_t sn,
			     char *code, size_t cn, char *msg, size_t mn)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *e = cJSON_GetObjectItem(j, "error");
	int rc = -1;

	if (_str(j, "status")) {
		_copy(status, sn, _str(j, "status"));
		if (cJSON_IsObject(e)) {
			_copy(code, cn, _str(e, "code"));
			_copy(msg, mn, _str(e, "message"));
		}
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

int azml_arm_parse_nic_ip(const char *body, char *ip, size_t n)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *c, *first = NULL;
	int rc = -1;

	cJSON_ArrayForEach(c, cJSON_GetObjectItem(cJSON_GetObjectItem(j,
			   "properties"), "ipConfigurations")) {
		const cJSON *p = cJSON_GetObjectItem(c, "properties");

		if (!first || cJSON_IsTrue(cJSON_GetObjectItem(p, "primary")))
			first = p;
	}
	if (_str(first, "privateIPAddress")) {
		_copy(ip, n, _str(first, "privateIPAddress"));
		rc = 0;
	}
	cJSON_Delete(j);
	return rc;
}

/* A JSON number as an integer, saturated as cJSON saturates valueint: a
 * cast of a double out of range is undefined ("limit": 1e300). */
static long _saturate(double d, long lo, long hi)
{
	if (d != d)
		return 0;
	if (d >= (double) hi)
		return hi;
	if (d <= (double) lo)
		return lo;
	return (long) d;
}

size_t azml_arm_parse_usages(const char *body, azml_usage_t **out)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *v = cJSON_GetObjectItem(j, "value"), *it;
	size_t n = 0, cap = cJSON_GetArraySize(v);

	*out = calloc(cap + 1, sizeof(azml_usage_t));
	cJSON_ArrayForEach(it, v) {
		const cJSON *name = cJSON_GetObjectItem(it, "name");
		const cJSON *cur = cJSON_GetObjectItem(it, "currentValue");
		const cJSON *lim = cJSON_GetObjectItem(it, "limit");
		const char *nv = cJSON_IsString(name) ? name->valuestring :
				 _str(name, "value");

		if (!nv || !cJSON_IsNumber(lim) || !*out)
			continue;
		_copy((*out)[n].name, sizeof((*out)[n].name), nv);
		(*out)[n].current = cJSON_IsNumber(cur) ?
				    _saturate(cur->valuedouble, LONG_MIN, LONG_MAX) : 0;
		(*out)[n].limit = _saturate(lim->valuedouble, LONG_MIN, LONG_MAX);
		n++;
	}
	cJSON_Delete(j);
	return n;
}

size_t azml_arm_parse_vm_sizes(const char *body, azml_vm_size_t **out)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *v = cJSON_GetObjectItem(j, "value"), *it;
	size_t n = 0;

	*out = calloc(cJSON_GetArraySize(v) + 1, sizeof(azml_vm_size_t));
	cJSON_ArrayForEach(it, v) {
		const cJSON *cores = cJSON_GetObjectItem(it, "numberOfCores");
		const cJSON *mem = cJSON_GetObjectItem(it, "memoryInMB");
		const cJSON *gpus = cJSON_GetObjectItem(it, "gpus");
		azml_vm_size_t *s;

		if (!_str(it, "name") || !*out)
			continue;
		s = &(*out)[n++];
		_copy(s->name, sizeof(s->name), _str(it, "name"));
		if (!cores)	/* Machine Learning's shape */
			cores = cJSON_GetObjectItem(it, "vCPUs");
		s->vcpus = cJSON_IsNumber(cores) ? cores->valueint : 0;
		if (cJSON_IsNumber(mem))
			s->memory_mib = mem->valueint;
		else if (cJSON_IsNumber(mem = cJSON_GetObjectItem(it, "memoryGB")))
			s->memory_mib = (int) _saturate(mem->valuedouble * 1024,
							 INT_MIN, INT_MAX);
		s->gpus = cJSON_IsNumber(gpus) ? gpus->valueint : -1;
	}
	cJSON_Delete(j);
	return n;
}

void azml_arm_op_id(const char *url, char *id, size_t n)
{
	const char *q = url + strcspn(url, "?&"), *s = q;

	while (s > url && s[-1] != '/')
		s--;
	snprintf(id, n, "%.*s", (int) (q - s), s);
}

azml_event_type_t azml_event_type(const char *name)
{
	static const struct {
		const char *name;
		azml_event_type_t type;
	} types[] = {
		{ "Preempt", AZML_EVENT_PREEMPT },
		{ "Terminate", AZML_EVENT_TERMINATE },
		{ "Reboot", AZML_EVENT_REBOOT },
		{ "Redeploy", AZML_EVENT_REDEPLOY },
		{ "Freeze", AZML_EVENT_FREEZE },
	};

	for (size_t i = 0; name && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(name, types[i].name))
			return types[i].type;
	return AZML_EVENT_OTHER;
}

/* An EventId we may put into a reason and a POST body. */
static bool _event_id_ok(const char *id, size_t max)
{
	size_t n = id ? strlen(id) : 0;

	return n > 0 && n < max &&
	       strspn(id, "0123456789abcdefABCDEFghijklmnopqrstuvwxyz"
		      "GHIJKLMNOPQRSTUVWXYZ-") == n;
}

int azml_parse_scheduled_events(const char *body, const char *vm,
				azml_sched_event_t *ev, size_t max)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *events = cJSON_GetObjectItem(j, "Events"), *e;
	int rc = cJSON_IsArray(events) ? 0 : -1;
	size_t n = 0;

	if (rc < 0)
		events = NULL;
	cJSON_ArrayForEach(e, events) {
		const cJSON *r;
		const char *type = _str(e, "EventType"), *id = _str(e, "EventId");
		bool mine = false;
		azml_sched_event_t *out;

		if (n >= max)
			break;
		if (!type || !_event_id_ok(id, sizeof(ev->id)))
			continue;
		cJSON_ArrayForEach(r, cJSON_GetObjectItem(e, "Resources"))
			if (cJSON_IsString(r) && vm &&
			    !strcasecmp(r->valuestring, vm))
				mine = true;
		if (!mine)
			continue;
		out = &ev[n++];
		memset(out, 0, sizeof(*out));
		out->type = azml_event_type(type);
		_copy(out->type_name, sizeof(out->type_name), type);
		_copy(out->id, sizeof(out->id), id);
		_copy(out->status, sizeof(out->status), _str(e, "EventStatus"));
		_copy(out->not_before, sizeof(out->not_before),
		      _str(e, "NotBefore"));
	}
	if (rc == 0)
		rc = (int) n;
	cJSON_Delete(j);
	return rc;
}

long azml_iso8601_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	long t, off = 0;

	if (!s || !(p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) ||
	    tm.tm_year < 70 || tm.tm_year > 1100)
		return -1;
	if (*p == '.') {
		size_t d = strspn(p + 1, "0123456789");

		if (!d || d > 9)
			return -1;
		p += 1 + d;
	}
	if (*p == '+' || *p == '-') {
		int h, m;
		char sign = *p;

		if (strlen(p) != 6 || !isdigit((unsigned char) p[1]) ||
		    !isdigit((unsigned char) p[2]) || p[3] != ':' ||
		    !isdigit((unsigned char) p[4]) ||
		    !isdigit((unsigned char) p[5]))
			return -1;
		h = (p[1] - '0') * 10 + p[2] - '0';
		m = (p[4] - '0') * 10 + p[5] - '0';
		if (h > 14 || m > 59)
			return -1;
		off = (h * 3600L + m * 60L) * (sign == '+' ? 1 : -1);
	} else if (strcmp(p, "Z") && *p) {
		return -1;
	}
	t = (long) timegm(&tm);
	return t < 0 ? -1 : t - off;
}

long azml_iso8601_seconds(const char *s)
{
	long total = 0, num = -1;
	int rank = 0, r;	/* D, H, M, S: each once, in that order */
	bool t = false;

	if (!s || *s++ != 'P' || !*s)
		return -1;
	for (; *s; s++) {
		if (isdigit((unsigned char) *s)) {
			num = (num < 0 ? 0 : num) * 10 + (*s - '0');
			if (num > 100000000)
				return -1;
			continue;
		}
		if (*s == 'T' && !t && num < 0) {
			t = true;
			continue;
		}
		if (num < 0)
			return -1;
		if (!t && *s == 'D')
			total += num * 86400, r = 1;
		else if (t && *s == 'H')
			total += num * 3600, r = 2;
		else if (t && *s == 'M')
			total += num * 60, r = 3;
		else if (t && *s == 'S')
			total += num, r = 4;
		else
			return -1;
		/* "P1D1D..." is not ISO 8601, and a million of them overflowed */
		if (r <= rank)
			return -1;
		rank = r;
		num = -1;
	}
	return num < 0 ? total : -1;
}

/* Tags "k:v,k:v" of the target, then ours (which win). */
static void _tags(cJSON *tags, const azml_conf_t *conf, const azml_target_t *t,
		  const char *node)
{
	const char *s = t->tags;

	while (s && *s) {
		size_t kl = strcspn(s, ":"), vl;
		char k[600], v[300];

		if (!s[kl])
			break;
		vl = strcspn(s + kl + 1, ",");
		snprintf(k, sizeof(k), "%.*s", (int) kl, s);
		snprintf(v, sizeof(v), "%.*s", (int) vl, s + kl + 1);
		cJSON_AddStringToObject(tags, k, v);
		s += kl + 1 + vl;
		if (*s == ',')
			s++;
	}
	cJSON_AddStringToObject(tags, "slurm-cluster", conf->cluster_name);
	cJSON_AddStringToObject(tags, "slurm-node", node);
	cJSON_AddStringToObject(tags, "slurm-target", t->name);
}

static char *_dup(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();	/* out of memory */
	return d;
}

int azml_arm_userdata(const azml_conf_t *conf, const azml_target_t *t,
		      const char *node, const azml_ctld_info_t *ctld,
		      azml_userdata_t *u, char *err, size_t n)
{
	const char *host = t ? t->slurmctld_host : NULL;
	char first[96];

	if (!t || t->kind == AZML_ATTACHED) {
		snprintf(err, n, "%s%s%s has no VMs (attached compute is not "
			 "created by slurm-azureml)", t ? "'" : "no target",
			 t ? t->name : "", t ? "'" : "");
		return -1;
	}
	if (!node) {
		snprintf(first, sizeof(first), t->kind == AZML_CLUSTER ?
			 "%s-1" : "%s", t->name);
		node = first;
	}
	if (azml_conf_target_of_node(conf, node) != t) {
		snprintf(err, n, "'%.80s' is not a node of '%s' (its nodes: %s)",
			 node, t->name, t->nodes);
		return -1;
	}
	if (!host && ctld)
		host = ctld->slurmctld_host;
	if (!host) {
		snprintf(err, n, "no SlurmctldHost for '%s': set SlurmctldHost= "
			 "in azureml.conf, or run where slurm.conf (its "
			 "SlurmctldHost) can be read", t->name);
		return -1;
	}
	memset(u, 0, sizeof(*u));
	u->version = AZML_USERDATA_VERSION;
	u->cluster = _dup(conf->cluster_name);
	u->slurm_cluster = _dup(ctld ? ctld->slurm_cluster : NULL);
	u->target = _dup(t->name);
	u->node = _dup(node);
	u->vm_size = _dup(t->vm_size);
	u->slurmctld_host = _dup(host);
	u->munge_key_secret = _dup(t->munge_key_secret);
	u->identity = _dup(t->identity);
	u->job_identity = _dup(t->job_identity);
	u->setup_script = _dup(t->node_setup_script);
	u->low_priority = t->kind == AZML_CLUSTER &&
			  t->priority == AZML_LOW_PRIORITY;
	u->gpus = t->gpus;
	u->gpu_type = _dup(t->gpu_type);
	u->gpu_arch = _dup(t->gpu_arch ? t->gpu_arch->arch : NULL);
	if (ctld && ctld->slurm_version) {
		u->slurm_version = _dup(ctld->slurm_version);
	} else if (asprintf(&u->slurm_version, "%d.%02d.%d",
			    SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER),
			    SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER),
			    SLURM_VERSION_MICRO(SLURM_VERSION_NUMBER)) < 0) {
		abort();	/* out of memory */
	}
	return 0;
}

/* properties.userData of NODE's VM; 0, or -1 with ERR. */
static int _add_userdata(cJSON *p, const azml_conf_t *conf,
			 const azml_target_t *t, const char *node,
			 const azml_ctld_info_t *ctld, char *err, size_t n)
{
	azml_userdata_t u;
	char *b64;
	int rc = -1;

	if (azml_arm_userdata(conf, t, node, ctld, &u, err, n))
		return -1;
	b64 = azml_userdata_encode(&u);
	if (!b64)
		snprintf(err, n, "out of memory");
	else if (strlen(b64) > AZML_USERDATA_MAX)
		snprintf(err, n, "the userData of '%s' is %zu bytes of base64, "
			 "over Azure's %d", node, strlen(b64), AZML_USERDATA_MAX);
	else if (cJSON_AddStringToObject(p, "userData", b64))
		rc = 0;
	free(b64);
	azml_userdata_free(&u);
	return rc;
}

cJSON *azml_arm_vm_body(const azml_conf_t *conf, const azml_target_t *t,
			const char *node, const azml_ctld_info_t *ctld,
			char *err, size_t n)
{
	cJSON *b = cJSON_CreateObject(), *p, *sp, *img, *os, *osp, *np, *nic,
	      *nicp, *ipc, *ip, *ipp;
	char nicname[96];

	if (!azml_arm_name_ok(node)) {
		snprintf(err, n, "'%.80s' is not a valid VM name", node);
		cJSON_Delete(b);
		return NULL;
	}
	cJSON_AddStringToObject(b, "location", conf->location);
	if (t->identity) {
		/* node-init reads the munge key with it (msi_res_id=) */
		cJSON *id = cJSON_AddObjectToObject(b, "identity"), *ua;

		cJSON_AddStringToObject(id, "type", "UserAssigned");
		ua = cJSON_AddObjectToObject(id, "userAssignedIdentities");
		cJSON_AddObjectToObject(ua, t->identity);
		/* JobIdentity=: the jobs' one, left alone once the controller
		 * takes the node's away (reconcile) */
		if (t->job_identity)
			cJSON_AddObjectToObject(ua, t->job_identity);
	}
	_tags(cJSON_AddObjectToObject(b, "tags"), conf, t, node);
	if (t->zone) {
		cJSON *z = cJSON_AddArrayToObject(b, "zones");

		cJSON_AddItemToArray(z, cJSON_CreateString(t->zone));
	}
	p = cJSON_AddObjectToObject(b, "properties");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(p, "hardwareProfile"),
				"vmSize", t->vm_size);
	sp = cJSON_AddObjectToObject(p, "storageProfile");
	img = cJSON_AddObjectToObject(sp, "imageReference");
	if (t->image && t->image[0] == '/') {
		cJSON_AddStringToObject(img, "id", t->image);
	} else {
		char parts[4][128] = { "Canonical", "0001-com-ubuntu-server-jammy",
				       "22_04-lts-gen2", "latest" };

		if (t->image)
			sscanf(t->image, "%127[^:]:%127[^:]:%127[^:]:%127s",
			       parts[0], parts[1], parts[2], parts[3]);
		cJSON_AddStringToObject(img, "publisher", parts[0]);
		cJSON_AddStringToObject(img, "offer", parts[1]);
		cJSON_AddStringToObject(img, "sku", parts[2]);
		cJSON_AddStringToObject(img, "version", parts[3]);
	}
	os = cJSON_AddObjectToObject(sp, "osDisk");
	snprintf(nicname, sizeof(nicname), "%s-osdisk", node);
	cJSON_AddStringToObject(os, "name", nicname);
	cJSON_AddStringToObject(os, "caching", "ReadWrite");
	cJSON_AddStringToObject(os, "createOption", "FromImage");
	cJSON_AddStringToObject(os, "deleteOption", "Delete");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(os, "managedDisk"),
				"storageAccountType", "Premium_LRS");
	osp = cJSON_AddObjectToObject(p, "osProfile");
	cJSON_AddStringToObject(osp, "computerName", node);
	cJSON_AddStringToObject(osp, "adminUsername",
				t->admin_user ? t->admin_user : "azureml");
	{
		cJSON *lc = cJSON_AddObjectToObject(osp, "linuxConfiguration");

		cJSON_AddBoolToObject(lc, "disablePasswordAuthentication", true);
		if (t->ssh_public_key) {
			/* the admin key of every VM: only root or SlurmUser
			 * may have written it (safefile.h) */
			char *key = NULL, path[256], why[400] = "";
			cJSON *pk, *k;

			if (azml_read_safe(t->ssh_public_key, AZML_SAFE_OWNER,
					   16384, &key, NULL, why, sizeof(why)) ||
			    strncmp(key, "ssh-", 4)) {
				snprintf(err, n, "couldn't read an ssh public key "
					 "from SshPublicKey=%s: %s",
					 t->ssh_public_key, why[0] ? why :
					 "it does not begin with 'ssh-'");
				free(key);
				cJSON_Delete(b);
				return NULL;
			}
			key[strcspn(key, "\r\n")] = '\0';
			pk = cJSON_AddArrayToObject(cJSON_AddObjectToObject(lc,
						    "ssh"), "publicKeys");
			k = cJSON_CreateObject();
			snprintf(path, sizeof(path), "/home/%s/.ssh/authorized_keys",
				 t->admin_user ? t->admin_user : "azureml");
			cJSON_AddStringToObject(k, "path", path);
			cJSON_AddStringToObject(k, "keyData", key);
			free(key);
			cJSON_AddItemToArray(pk, k);
		}
	}
	/* The NIC is created and deleted with the VM. */
	np = cJSON_AddObjectToObject(p, "networkProfile");
	cJSON_AddStringToObject(np, "networkApiVersion", "2020-11-01");
	nic = cJSON_CreateObject();
	snprintf(nicname, sizeof(nicname), "%s-nic", node);
	cJSON_AddStringToObject(nic, "name", nicname);
	nicp = cJSON_AddObjectToObject(nic, "properties");
	cJSON_AddBoolToObject(nicp, "primary", true);
	cJSON_AddStringToObject(nicp, "deleteOption", "Delete");
	ipc = cJSON_AddArrayToObject(nicp, "ipConfigurations");
	ip = cJSON_CreateObject();
	cJSON_AddStringToObject(ip, "name", "ipconfig1");
	ipp = cJSON_AddObjectToObject(ip, "properties");
	if (t->subnet)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(ipp, "subnet"),
					"id", t->subnet);
	cJSON_AddItemToArray(ipc, ip);
	cJSON_AddItemToArray(cJSON_AddArrayToObject(np,
			     "networkInterfaceConfigurations"), nic);
	/* The serial console log, where ResumeFailProgram reads why
	 * node-init failed (retrieveBootDiagnosticsData): managed storage,
	 * so no storageUri. */
	cJSON_AddBoolToObject(cJSON_AddObjectToObject(cJSON_AddObjectToObject(p,
			      "diagnosticsProfile"), "bootDiagnostics"),
			      "enabled", true);
	/* Bootstrap settings, for node-init; none when no slurmctld is known
	 * (then nothing on the VM could join: e.g. an emulator's
	 * --boot-command starts slurmd itself). */
	if ((t->slurmctld_host || (ctld && ctld->slurmctld_host)) &&
	    _add_userdata(p, conf, t, node, ctld, err, n)) {
		cJSON_Delete(b);
		return NULL;
	}
	if (t->ppg)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p,
			"proximityPlacementGroup"), "id", t->ppg);
	if (t->avset)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p,
			"availabilitySet"), "id", t->avset);
	if (t->kind == AZML_CLUSTER && t->priority == AZML_LOW_PRIORITY) {
		/* Azure ML's low priority is a Spot VM, deleted on eviction. */
		cJSON_AddStringToObject(p, "priority", "Spot");
		cJSON_AddStringToObject(p, "evictionPolicy", "Delete");
		cJSON_AddNumberToObject(cJSON_AddObjectToObject(p, "billingProfile"),
					"maxPrice", -1);
	}
	return b;
}

/* Move KEY from FROM to TO (when there). */
static void _move(cJSON *from, cJSON *to, const char *key)
{
	cJSON *it = cJSON_DetachItemFromObjectCaseSensitive(from, key);

	if (it)
		cJSON_AddItemToObject(to, key, it);
}

cJSON *azml_arm_vmss_body(const azml_conf_t *conf, const azml_target_t *t,
			  long capacity, const azml_ctld_info_t *ctld,
			  char *err, size_t n)
{
	char first[96];
	cJSON *vm, *b, *p, *vp, *sku, *vmp, *os, *nic;

	/* one VM's body, made into the set's model: no node in it */
	snprintf(first, sizeof(first), "%s-1", t->name);
	if (!(vm = azml_arm_vm_body(conf, t, first, ctld, err, n)))
		return NULL;
	vp = cJSON_GetObjectItem(vm, "properties");
	cJSON_DeleteItemFromObject(vp, "userData");
	cJSON_DeleteItemFromObject(vp, "hardwareProfile");
	cJSON_DeleteItemFromObject(vp, "proximityPlacementGroup");
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(vm, "tags"),
				   "slurm-node");
	os = cJSON_GetObjectItem(cJSON_GetObjectItem(vp, "storageProfile"),
				 "osDisk");
	cJSON_DeleteItemFromObject(os, "name");	/* Azure names each disk */
	vmp = cJSON_GetObjectItem(vp, "osProfile");
	cJSON_DeleteItemFromObject(vmp, "computerName");
	snprintf(first, sizeof(first), "%s-", t->name);
	cJSON_AddStringToObject(vmp, "computerNamePrefix", first);
	nic = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(vp,
		"networkProfile"), "networkInterfaceConfigurations"), 0);
	cJSON_ReplaceItemInObject(nic, "name", cJSON_CreateString("nic"));
	if ((t->slurmctld_host || (ctld && ctld->slurmctld_host))) {
		azml_userdata_t u;
		char *b64;

		if (azml_arm_userdata(conf, t, NULL, ctld, &u, err, n)) {
			cJSON_Delete(vm);
			return NULL;
		}
		free(u.node);	/* each VM learns its node from slurmctld */
		u.node = NULL;
		b64 = azml_userdata_encode(&u);
		azml_userdata_free(&u);
		if (!b64 || strlen(b64) > AZML_USERDATA_MAX) {
			snprintf(err, n, "the scale set's userData is %s",
				 b64 ? "over Azure's limit" : "out of memory");
			free(b64);
			cJSON_Delete(vm);
			return NULL;
		}
		cJSON_AddStringToObject(vp, "userData", b64);
		free(b64);
	}

	b = cJSON_CreateObject();
	_move(vm, b, "location");
	_move(vm, b, "identity");
	_move(vm, b, "tags");
	_move(vm, b, "zones");
	sku = cJSON_AddObjectToObject(b, "sku");
	cJSON_AddStringToObject(sku, "name", t->vm_size);
	cJSON_AddStringToObject(sku, "tier", "Standard");
	cJSON_AddNumberToObject(sku, "capacity", (double) capacity);
	p = cJSON_AddObjectToObject(b, "properties");
	cJSON_AddStringToObject(p, "orchestrationMode", "Flexible");
	cJSON_AddNumberToObject(p, "platformFaultDomainCount", 1);
	if (t->ppg)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(p,
			"proximityPlacementGroup"), "id", t->ppg);
	cJSON_AddItemToObject(p, "virtualMachineProfile",
			      cJSON_DetachItemFromObject(vm, "properties"));
	cJSON_Delete(vm);
	return b;
}

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
	free(arm->ctld_host);
	free(arm->ctld_cluster);
	free(arm->ctld_version);
	arm->ctld_host = _dup(info ? info->slurmctld_host : NULL);
	arm->ctld_cluster = _dup(info ? info->slurm_cluster : NULL);
	arm->ctld_version = _dup(info ? info->slurm_version : NULL);
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
	free(c);
}

static void _fail(call_t *c, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void _fail(call_t *c, int status, const char *code, const char *fmt, ...)
{
	va_list ap;

	c->r.ok = false;
	c->r.http_status = status;
	_copy(c->r.code, sizeof(c->r.code), code);
	va_start(ap, fmt);
	vsnprintf(c->r.message, sizeof(c->r.message), fmt, ap);
	va_end(ap);
	_done(c);
}

/* Send METHOD URL (BODY) for C, with a fresh bearer token. */
static int _send(call_t *c, const char *method, const char *url,
		 const char *body, double delay)
{
	const char *tok;
	char err[512], auth[8192];
	const char *hdr[] = { auth, c->hdr[0] ? c->hdr : NULL, NULL };
	int rc;

	if (azml_auth_token(c->arm->auth, &tok, err, sizeof(err))) {
		_fail(c, 0, "AuthenticationFailed", "%s", err);
		return -1;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tok);
	/* re-sends pass c->url and c->method themselves: copy only news */
	if (url != c->url)
		_copy(c->url, sizeof(c->url), url);
	if (method != c->method)
		_copy(c->method, sizeof(c->method), method);
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
		_fail(c, 0, "InvalidEndpoint", "%s", err);
		return -1;
	}
	return 0;
}

static void _vm_url(const azml_arm_t *arm, const char *name, const char *suffix,
		    const char *query, char *url, size_t n)
{
	snprintf(url, n, "%s/resourceGroups/%s/providers/Microsoft.Compute/"
		 "virtualMachines/%s%s?api-version=" AZML_API_COMPUTE "%s",
		 arm->base, arm->conf->resource_group, name, suffix,
		 query ? query : "");
}

static call_t *_call(azml_arm_t *arm, kind_t kind, const char *name,
		     azml_vm_cb cb, void *arg)
{
	call_t *c = calloc(1, sizeof(*c));

	if (!c)
		abort();
	c->arm = arm;
	c->kind = kind;
	c->cb = cb;
	c->arg = arg;
	c->deadline = azml_now() + arm->op_timeout;
	_copy(c->r.name, sizeof(c->r.name), name);
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
		_fail(c, 0, "UntrustedUrl", "refusing to follow the %s URL: %s",
		      what, why);
		return;
	}
	if (!azml_http_same_origin(&o, &c->arm->origin)) {
		_fail(c, 0, "UntrustedUrl", "refusing to follow the %s URL to "
		      "%s://%s:%d: expected %s://%s:%d (ArmEndpoint)", what,
		      o.scheme, o.host, o.port, c->arm->origin.scheme,
		      c->arm->origin.host, c->arm->origin.port);
		return;
	}
	left = c->deadline - azml_now();
	if (left <= 0) {
		_fail(c, 0, "OperationTimedOut", "%s%s%s not done after %.0f s; "
		      "gave up waiting (Azure may still complete it)",
		      c->r.op_id[0] ? "operation '" : "the operation",
		      c->r.op_id, c->r.op_id[0] ? "'" : "",
		      c->arm->op_timeout);
		return;
	}
	/* one last look at the deadline rather than giving up early */
	_send(c, "GET", url, NULL, delay < left ? delay : left);
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
			_fail(c, 0, "RepeatedNextLink", "the listing's nextLink "
			      "repeats an earlier page (after %zu pages)",
			      c->pages + 1);
			return;
		}
	if (c->pages + 1 >= AZML_ARM_MAX_PAGES) {
		_fail(c, 0, "TooManyPages", "the listing has more than %d pages; "
		      "gave up", AZML_ARM_MAX_PAGES);
		return;
	}
	if (!(seen = realloc(c->seen, (c->pages + 1) * sizeof(*seen)))) {
		_fail(c, 0, "OutOfMemory", "out of memory after %zu pages",
		      c->pages + 1);
		return;
	}
	c->seen = seen;
	c->seen[c->pages++] = h;
	_follow(c, "nextLink", next, 0);
}

static void _after_success(call_t *c)
{
	char url[2048];

	if (c->kind == K_CREATE) {
		/* The private IP is on the NIC created with the VM. */
		c->phase = PH_NIC;
		snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
			 "Microsoft.Network/networkInterfaces/%s-nic?"
			 "api-version=" AZML_API_NETWORK, c->arm->base,
			 c->arm->conf->resource_group, c->r.name);
		_send(c, "GET", url, NULL, 0);
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
		_fail(c, 0, "NetworkError", "no answer from %s: %s",
		      c->arm->conf->arm_endpoint, resp->error);
		return true;
	}
	if (resp->status == 401 && !c->retried_auth) {
		/* a token revoked or expired early: one fresh try */
		c->retried_auth = true;
		azml_auth_invalidate(c->arm->auth);
		_send(c, c->method, c->url, c->body, 0);
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
	_fail(c, resp->status, code[0] ? code : "HttpError", "%s", msg);
	return true;
}

/* A poll of an Azure-AsyncOperation: on until it has a final status. */
static void _answer_async_poll(call_t *c, const azml_http_resp_t *resp)
{
	char code[64] = "", msg[512] = "", status[32] = "";

	if (azml_arm_parse_operation(resp->body, status, sizeof(status),
				     code, sizeof(code), msg, sizeof(msg))) {
		_fail(c, resp->status, "InvalidResponse", "the operation "
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
		_fail(c, resp->status, code[0] ? code : status, "%s",
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
		_fail(c, resp->status, "InvalidResponse", "the answer to "
		      "creating VM '%s' describes VM '%s'", asked, got);
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
		_fail(c, resp->status, "InvalidResponse", "the answer to "
		      "reading VM '%s' describes VM '%s'", asked, got);
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

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "value")) {
		azml_vm_result_t v = { 0 }, *vms;

		azml_arm_parse_vm(it, &v);
		if (!c->set_list && strcmp(v.cluster, c->arm->conf->cluster_name))
			continue;
		if (c->nvms >= AZML_ARM_MAX_VMS) {
			_fail(c, 0, "TooManyVMs", "the listing has more than "
			      "%d VMs of this cluster; gave up",
			      AZML_ARM_MAX_VMS);
			return -1;
		}
		if (c->nvms == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;

			if (!(vms = realloc(c->vms, cap * sizeof(v)))) {
				_fail(c, 0, "OutOfMemory", "out of memory "
				      "listing VMs (%zu so far)", c->nvms);
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
	const char *next = _str(j, "nextLink");
	char url[2048];

	if (_list_add_page(c, j) < 0) {
		cJSON_Delete(j);
		return;
	}
	if (next && *next) {
		if (strlen(next) >= sizeof(url)) {
			cJSON_Delete(j);
			_fail(c, 0, "InvalidResponse", "the listing's "
			      "nextLink is longer than %zu bytes",
			      sizeof(url) - 1);
			return;
		}
		_copy(url, sizeof(url), next);
		cJSON_Delete(j);
		_next_page(c, url);
		return;
	}
	cJSON_Delete(j);
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
		_fail(c, resp->status, resp->status ? "HttpError" :
		      "NetworkError", "couldn't read the serial console log: %s",
		      resp->status ? "the storage answered an HTTP error" :
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
		_fail(c, resp->status, "InvalidResponse", "the boot diagnostics "
		      "answer has no serialConsoleLogBlobUri (is boot "
		      "diagnostics on?)");
		return;
	}
	if (azml_bootdiag_url_ok(uri, c->arm->conf->arm_endpoint, why,
				 sizeof(why))) {
		_fail(c, 0, "UntrustedUrl", "refusing to fetch the serial "
		      "console log: %s", why);
		return;
	}
	if (azml_now() > c->deadline) {
		_fail(c, 0, "OperationTimedOut", "no time left to read the "
		      "serial console log");
		return;
	}
	if (azml_http_submit_max(c->arm->http, "GET", uri, NULL, NULL, 0,
				 AZML_HTTP_BODY_LOG, _on_blob, c, err,
				 sizeof(err)))
		_fail(c, 0, "UntrustedUrl", "refusing to fetch the serial "
		      "console log: %s", err);
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

/* A VM's name: ours (the node's: letters, digits, '-') or one a scale set
 * made ("SET_1a2b3c4d"). */
static int _bad_name(call_t *c, const char *name)
{
	if (azml_arm_resource_name_ok(name))
		return 0;
	_fail(c, 0, "InvalidResourceName", "'%.80s' is not a valid VM name "
	      "(1-64 letters, digits, '-', '_' and '.')", name ? name : "");
	return -1;
}

int azml_arm_vm_create(azml_arm_t *arm, const azml_target_t *t,
		       const char *node, azml_vm_cb cb, void *arg)
{
	call_t *c = _call(arm, K_CREATE, node, cb, arg);
	char url[2048], err[512];
	cJSON *body;
	char *s;
	int rc;

	if (!azml_arm_name_ok(node)) {	/* also its computerName */
		_fail(c, 0, "InvalidResourceName", "'%.80s' is not a valid VM "
		      "name (1-64 letters, digits and '-')", node ? node : "");
		return -1;
	}
	_copy(c->r.node, sizeof(c->r.node), node);
	_copy(c->r.size, sizeof(c->r.size), t->vm_size);
	if (!(body = azml_arm_vm_body(arm->conf, t, node, &arm->ctld, err,
				      sizeof(err)))) {
		_fail(c, 0, "InvalidParameter", "%s", err);
		return -1;
	}
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	_vm_url(arm, node, "", NULL, url, sizeof(url));
	rc = _send(c, "PUT", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vm_delete(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		       void *arg)
{
	call_t *c = _call(arm, K_DELETE, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	_vm_url(arm, name, "", "&forceDeletion=true", url, sizeof(url));
	return _send(c, "DELETE", url, NULL, 0);
}

/* azml_arm_vm_delete_ours(): the GET's answer decides. */
typedef struct {
	azml_arm_t *arm;
	azml_vm_cb cb;
	void *arg;
	bool in_set;
	char set[80];
} ours_t;

static void _ours_got(void *arg, const azml_vm_result_t *r)
{
	ours_t *o = arg;
	azml_vm_result_t res = *r;

	if (!r->ok && r->http_status == 404) {	/* gone: deleted */
		res.ok = true;
		res.code[0] = res.message[0] = '\0';
		o->cb(o->arg, &res);
	} else if (!r->ok) {
		o->cb(o->arg, r);
	} else if (!azml_arm_vm_ours(o->arm->conf, r, o->in_set ? o->set :
				     NULL, res.message, sizeof(res.message))) {
		res.ok = false;
		res.http_status = 0;
		_copy(res.code, sizeof(res.code), "NotOurVM");
		o->cb(o->arg, &res);
	} else {
		azml_arm_vm_delete(o->arm, r->name, o->cb, o->arg);
	}
	free(o);
}

int azml_arm_vm_delete_ours(azml_arm_t *arm, const char *name,
			    const char *set, azml_vm_cb cb, void *arg)
{
	ours_t *o = calloc(1, sizeof(*o));

	if (!o)
		abort();
	o->arm = arm;
	o->cb = cb;
	o->arg = arg;
	o->in_set = set != NULL;
	_copy(o->set, sizeof(o->set), set);
	return azml_arm_vm_get(arm, name, _ours_got, o);
}

int azml_arm_vm_get(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		    void *arg)
{
	call_t *c = _call(arm, K_GET, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	_vm_url(arm, name, "", "&$expand=instanceView", url, sizeof(url));
	return _send(c, "GET", url, NULL, 0);
}

int azml_arm_vm_power(azml_arm_t *arm, const char *name, bool start,
		      azml_vm_cb cb, void *arg)
{
	call_t *c = _call(arm, K_POWER, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	_vm_url(arm, name, start ? "/start" : "/deallocate", NULL, url, sizeof(url));
	return _send(c, "POST", url, NULL, 0);
}

int azml_arm_vm_keep_identity(azml_arm_t *arm, const char *name,
			      const char *drop, const char *keep,
			      azml_vm_cb cb, void *arg)
{
	call_t *c = _call(arm, K_POWER, name, cb, arg);
	cJSON *b, *ua;
	char url[2048], *body;
	int rc;

	if (_bad_name(c, name))
		return -1;
	/* ARM's PATCH of a VM's identities: null removes one, {} keeps it */
	b = cJSON_CreateObject();
	ua = cJSON_AddObjectToObject(b, "identity");
	cJSON_AddStringToObject(ua, "type", "UserAssigned");
	ua = cJSON_AddObjectToObject(ua, "userAssignedIdentities");
	cJSON_AddNullToObject(ua, drop);
	cJSON_AddObjectToObject(ua, keep);
	body = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	_vm_url(arm, name, "", NULL, url, sizeof(url));
	rc = _send(c, "PATCH", url, body, 0);
	cJSON_free(body);
	return rc;
}

int azml_arm_vm_boot_log(azml_arm_t *arm, const char *name,
			 azml_boot_log_cb cb, void *arg)
{
	call_t *c = _call(arm, K_BOOTLOG, name, NULL, arg);
	char url[2048];

	c->boot_cb = cb;
	c->deadline = azml_now() + AZML_BOOTDIAG_TIMEOUT;
	if (_bad_name(c, name))
		return -1;
	_vm_url(arm, name, "/retrieveBootDiagnosticsData", NULL, url,
		sizeof(url));
	return _send(c, "POST", url, NULL, 0);
}

int azml_arm_vm_list(azml_arm_t *arm, azml_vm_list_cb cb, void *arg)
{
	call_t *c = _call(arm, K_LIST, "", NULL, arg);
	char url[2048];

	c->list_cb = cb;
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines?api-version="
		 AZML_API_COMPUTE "&$expand=instanceView", arm->base,
		 arm->conf->resource_group);
	return _send(c, "GET", url, NULL, 0);
}

int azml_arm_usages(azml_arm_t *arm, azml_usage_cb cb, void *arg)
{
	call_t *c = _call(arm, K_USAGES, "", NULL, arg);
	char url[2048];

	c->usage_cb = cb;
	snprintf(url, sizeof(url), "%s/providers/Microsoft.Compute/locations/%s/"
		 "usages?api-version=" AZML_API_COMPUTE, arm->base,
		 arm->conf->location);
	return _send(c, "GET", url, NULL, 0);
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
	call_t *c = _call(arm, K_SIZES, "", NULL, arg);
	char url[2048];

	c->sizes_cb = cb;
	snprintf(url, sizeof(url), "%s/providers/Microsoft.Compute/locations/%s/"
		 "vmSizes?api-version=" AZML_API_COMPUTE, arm->base,
		 arm->conf->location);
	return _send(c, "GET", url, NULL, 0);
}

int azml_arm_nic_ip(azml_arm_t *arm, const char *name, const char *nic,
		    azml_vm_cb cb, void *arg)
{
	call_t *c = _call(arm, K_NIC, name, cb, arg);
	char url[2048];

	if (!azml_arm_resource_name_ok(nic)) {
		_fail(c, 0, "InvalidResourceName", "'%.96s' is not a NIC name",
		      nic ? nic : "");
		return -1;
	}
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Network/networkInterfaces/%s?api-version="
		 AZML_API_NETWORK, arm->base, arm->conf->resource_group, nic);
	return _send(c, "GET", url, NULL, 0);
}

/* ---- scale sets ---- */

static call_t *_set_call(azml_arm_t *arm, kind_t kind, const char *set,
			 azml_vm_cb cb, void *arg)
{
	call_t *c = _call(arm, kind, set, cb, arg);

	c->r.capacity = -1;
	if (!azml_arm_resource_name_ok(set)) {
		_fail(c, 0, "InvalidResourceName", "'%.80s' is not a valid scale "
		      "set name", set ? set : "");
		return NULL;
	}
	_copy(c->r.scale_set, sizeof(c->r.scale_set), set);
	return c;
}

static void _set_url(const azml_arm_t *arm, const char *set,
		     const char *suffix, const char *query, char *url, size_t n)
{
	snprintf(url, n, "%s/resourceGroups/%s/providers/Microsoft.Compute/"
		 "virtualMachineScaleSets/%s%s?api-version=" AZML_API_COMPUTE
		 "%s", arm->base, arm->conf->resource_group, set, suffix,
		 query ? query : "");
}

/* An etag is sent back as it came, inside a header: printable, no quote
 * games beyond Azure's own W/"..." form. */
static bool _etag_ok(const char *e)
{
	size_t n = e ? strlen(e) : 0;

	if (n < 1 || n > 60)
		return false;
	for (size_t i = 0; i < n; i++)
		if (e[i] < 0x21 || e[i] > 0x7e)
			return false;
	return true;
}

int azml_arm_vmss_get(azml_arm_t *arm, const char *set, azml_vm_cb cb,
		      void *arg)
{
	call_t *c = _set_call(arm, K_SS_GET, set, cb, arg);
	char url[2048];

	if (!c)
		return -1;
	_set_url(arm, set, "", NULL, url, sizeof(url));
	return _send(c, "GET", url, NULL, 0);
}

int azml_arm_vmss_create(azml_arm_t *arm, const azml_target_t *t,
			 const char *set, long capacity, azml_vm_cb cb,
			 void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048], err[512];
	cJSON *body;
	char *s;
	int rc;

	if (!c)
		return -1;
	_copy(c->r.size, sizeof(c->r.size), t->vm_size);
	if (!(body = azml_arm_vmss_body(arm->conf, t, capacity, &arm->ctld,
					err, sizeof(err)))) {
		_fail(c, 0, "InvalidParameter", "%s", err);
		return -1;
	}
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	snprintf(c->hdr, sizeof(c->hdr), "If-None-Match: *");
	_set_url(arm, set, "", NULL, url, sizeof(url));
	rc = _send(c, "PUT", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vmss_scale(azml_arm_t *arm, const char *set, long capacity,
			const char *etag, azml_vm_cb cb, void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048], body[96];

	if (!c)
		return -1;
	if (!_etag_ok(etag)) {
		_fail(c, 0, "InvalidResponse", "the scale set's etag is not "
		      "one Azure would give");
		return -1;
	}
	snprintf(c->hdr, sizeof(c->hdr), "If-Match: %s", etag);
	snprintf(body, sizeof(body), "{\"sku\":{\"capacity\":%ld}}", capacity);
	_set_url(arm, set, "", NULL, url, sizeof(url));
	return _send(c, "PATCH", url, body, 0);
}

int azml_arm_vmss_delete_vms(azml_arm_t *arm, const char *set,
			     const char *const *vms, size_t n, azml_vm_cb cb,
			     void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	cJSON *b, *ids;
	char url[2048], *s;
	int rc;

	if (!c)
		return -1;
	if (!n || n > AZML_ARM_VMSS_BATCH) {
		_fail(c, 0, "InvalidParameter", "%zu VMs to delete in one "
		      "request: 1 to %d", n, AZML_ARM_VMSS_BATCH);
		return -1;
	}
	b = cJSON_CreateObject();
	ids = cJSON_AddArrayToObject(b, "instanceIds");
	for (size_t i = 0; i < n; i++) {
		if (!azml_arm_resource_name_ok(vms[i])) {
			cJSON_Delete(b);
			_fail(c, 0, "InvalidResourceName", "'%.80s' is not a VM "
			      "name", vms[i] ? vms[i] : "");
			return -1;
		}
		cJSON_AddItemToArray(ids, cJSON_CreateString(vms[i]));
	}
	s = cJSON_PrintUnformatted(b);
	cJSON_Delete(b);
	_set_url(arm, set, "/delete", "&forceDeletion=true", url, sizeof(url));
	rc = _send(c, "POST", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vmss_delete(azml_arm_t *arm, const char *set, azml_vm_cb cb,
			 void *arg)
{
	call_t *c = _set_call(arm, K_SS_WRITE, set, cb, arg);
	char url[2048];

	if (!c)
		return -1;
	c->kind = K_DELETE;	/* a set already gone is deleted */
	_set_url(arm, set, "", "&forceDeletion=true", url, sizeof(url));
	return _send(c, "DELETE", url, NULL, 0);
}

int azml_arm_vmss_vms(azml_arm_t *arm, const char *set, azml_vm_list_cb cb,
		      void *arg)
{
	call_t *c = _call(arm, K_LIST, set, NULL, arg);
	char url[2048];

	c->list_cb = cb;
	c->set_list = true;
	if (!azml_arm_resource_name_ok(set)) {
		_fail(c, 0, "InvalidResourceName", "'%.80s' is not a valid scale "
		      "set name", set ? set : "");
		return -1;
	}
	/* 'virtualMachineScaleSet/id' eq '/subscriptions/.../NAME', escaped */
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines?api-version="
		 AZML_API_COMPUTE "&$expand=instanceView&$filter="
		 "%%27virtualMachineScaleSet%%2Fid%%27%%20eq%%20%%27"
		 "%%2Fsubscriptions%%2F%s%%2FresourceGroups%%2F%s%%2Fproviders"
		 "%%2FMicrosoft.Compute%%2FvirtualMachineScaleSets%%2F%s%%27",
		 arm->base, arm->conf->resource_group,
		 arm->conf->subscription_id, arm->conf->resource_group, set);
	return _send(c, "GET", url, NULL, 0);
}

/*
 * vmss.c - the Azure emulator's virtual machine scale sets (Flexible
 * orchestration only): PUT, PATCH, GET, list, DELETE and delete of instances.
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
#include "vmss_int.h"

struct emu_vmss_state emu_vmss_st;

vmss_t *emu_vmss_find(const char *key)
{
	for (vmss_t *s = emu_vmss_st.sets; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

/* The set VM V belongs to, or NULL. */
vmss_t *emu_vmss_of(const vm_t *v)
{
	char key[400];

	if (!v->vmss)
		return NULL;
	emu_key_of(key, v->sub, v->rg, v->vmss);
	return emu_vmss_find(key);
}

void emu_vmss_free(vmss_t *s)
{
	if (!s)
		return;
	free(s->sub); free(s->rg); free(s->name);
	cJSON_Delete(s->spec);
	cJSON_Delete(s->identity);
	free(s);
}

/* Add S last (the list's order is the order of creation). */
void emu_vmss_insert(vmss_t *s)
{
	vmss_t **p = &emu_vmss_st.sets;

	while (*p)
		p = &(*p)->next;
	s->next = NULL;
	*p = s;
	emu_vmss_st.nsets++;
}

void emu_vmss_unlink(vmss_t *s)
{
	for (vmss_t **p = &emu_vmss_st.sets; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			emu_vmss_st.nsets--;
			return;
		}
}

/* Whether V is a member of SET that counts in its capacity. */
static bool _vmss_member(const vmss_t *set, const vm_t *v)
{
	return v->vmss && !strcasecmp(v->vmss, set->name) &&
	       !strcasecmp(v->sub, set->sub) && !strcasecmp(v->rg, set->rg);
}

/* The set's VMs, those being deleted aside: its sku.capacity. */
static int _vmss_count(const vmss_t *set)
{
	int n = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			n += _vmss_member(set, v) &&
			     strcmp(v->provisioning, "Deleting");
	return n;
}

void emu_journal_vmss(const vmss_t *set)
{
	cJSON *o;

	if (!emu_journaling())
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "vmss");
	cJSON_AddStringToObject(o, "sub", set->sub);
	cJSON_AddStringToObject(o, "rg", set->rg);
	cJSON_AddStringToObject(o, "name", set->name);
	cJSON_AddItemToObject(o, "spec", cJSON_Duplicate(set->spec, 1));
	if (set->identity)
		cJSON_AddItemToObject(o, "identity",
				      cJSON_Duplicate(set->identity, 1));
	cJSON_AddStringToObject(o, "uniqueId", set->unique_id);
	cJSON_AddStringToObject(o, "timeCreated", set->created);
	cJSON_AddNumberToObject(o, "etag", set->etag);
	cJSON_AddStringToObject(o, "provisioning", set->provisioning);
	emu_journal(o);
}

void emu_journal_vmss_gone(const vmss_t *set)
{
	cJSON *o;

	if (!emu_journaling())
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "vmss-gone");
	cJSON_AddStringToObject(o, "key", set->key);
	emu_journal(o);
}

/* SET changed (a write, or its VM count): a new etag, journaled. */
void emu_vmss_touch(vmss_t *set)
{
	if (!set)
		return;
	set->etag++;
	emu_journal_vmss(set);
}

/* Whether an operation of KIND on the set KEY is under way but OP. */
static bool _vmss_busy(const char *key, const op_t *op, op_kind_t kind)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (const op_t *o = emu_op_st.ops[b]; o; o = o->next)
			if (o != op && o->kind == kind && !o->finished &&
			    !strcmp(o->vmkey, key))
				return true;
	return false;
}

/* A set's operation OP has finished: the set is Succeeded or Failed (an
 * update), or gone (a delete).  Its VMs' own operations finish with it. */
void emu_vmss_op_done(op_t *op)
{
	vmss_t *set = emu_vmss_find(op->vmkey);

	if (!set)
		return;
	if (op->kind == OP_VMSS_DELETE) {
		emu_vmss_unlink(set);
		emu_journal_vmss_gone(set);
		emu_vmss_free(set);
		return;
	}
	if (!strcmp(set->provisioning, "Deleting") ||
	    _vmss_busy(set->key, op, OP_VMSS))
		return;		/* the last one says */
	snprintf(set->provisioning, sizeof(set->provisioning), "%s",
		 op->err_code ? "Failed" : "Succeeded");
	emu_journal_vmss(set);
}

/* ---------------------------------------------------------------------- */
/* Virtual machine scale sets, Flexible orchestration mode */

/* N random bytes in B. */
static void _random(unsigned char *b, size_t n)
{
	if (getrandom(b, n, 0) != (ssize_t) n)
		for (size_t i = 0; i < n; i++)
			b[i] = rand_r(&emu_seed);
}

/* The set as GET shows it: sku.capacity its VM count, its etag, and
 * Azure's fields; its userData only when USERDATA. */
static cJSON *_vmss_view(const vmss_t *set, bool userdata)
{
	cJSON *o = cJSON_CreateObject(), *sku, *props;
	const cJSON *spec = set->spec, *it;
	char id[1024], etag[32];

	emu_vmss_id(id, sizeof(id), set->sub, set->rg, set->name);
	cJSON_AddStringToObject(o, "name", set->name);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type",
				"Microsoft.Compute/virtualMachineScaleSets");
	cJSON_AddStringToObject(o, "location", emu_jstr(spec, "location"));
	if (cJSON_IsObject(it = cJSON_GetObjectItem(spec, "tags")))
		cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(it, 1));
	if (cJSON_IsArray(it = cJSON_GetObjectItem(spec, "zones")))
		cJSON_AddItemToObject(o, "zones", cJSON_Duplicate(it, 1));
	if (set->identity)
		cJSON_AddItemToObject(o, "identity",
				      cJSON_Duplicate(set->identity, 1));
	it = cJSON_GetObjectItem(spec, "sku");
	sku = cJSON_IsObject(it) ? cJSON_Duplicate(it, 1) : cJSON_CreateObject();
	if (!cJSON_GetObjectItem(sku, "tier"))
		cJSON_AddStringToObject(sku, "tier", "Standard");
	cJSON_DeleteItemFromObject(sku, "capacity");
	cJSON_AddNumberToObject(sku, "capacity", _vmss_count(set));
	cJSON_AddItemToObject(o, "sku", sku);
	snprintf(etag, sizeof(etag), "\"%lu\"", set->etag);
	cJSON_AddStringToObject(o, "etag", etag);
	it = cJSON_GetObjectItem(spec, "properties");
	props = cJSON_IsObject(it) ? cJSON_Duplicate(it, 1) : cJSON_CreateObject();
	if (!userdata)
		cJSON_DeleteItemFromObject(cJSON_GetObjectItem(props,
				"virtualMachineProfile"), "userData");
	cJSON_DeleteItemFromObject(props, "orchestrationMode");
	cJSON_DeleteItemFromObject(props, "provisioningState");
	cJSON_DeleteItemFromObject(props, "uniqueId");
	cJSON_DeleteItemFromObject(props, "timeCreated");
	cJSON_AddStringToObject(props, "orchestrationMode", "Flexible");
	cJSON_AddStringToObject(props, "provisioningState", set->provisioning);
	cJSON_AddStringToObject(props, "uniqueId", set->unique_id);
	cJSON_AddStringToObject(props, "timeCreated", set->created);
	cJSON_AddItemToObject(o, "properties", props);
	return o;
}

/* Replace (or add) O's item K with V. */
static void _set_item(cJSON *o, const char *k, cJSON *v)
{
	cJSON_DeleteItemFromObject(o, k);
	cJSON_AddItemToObject(o, k, v);
}

/*
 * A new VM of SET from S, of SIZE (one of S's), in ZONE ("": none): named
 * {set}_{8 hex digits},
 * computerName the prefix and 6 random characters, its NIC {vm}-nic, the
 * set's tags, identity and profile, properties.virtualMachineScaleSet.id
 * the set's id; Creating, with a create operation of its own that ends
 * with the set's.  Returns it, or NULL (no free name).
 */
static vm_t *_vmss_vm_new(vmss_t *set, const vmss_spec_t *s,
			  const char *size, const char *zone)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char name[80], key[400], id[1024], vmid[40], nic[96], computer[72];
	char stamp[64], set_id[1024];
	unsigned char rnd[8];
	time_t t = time(NULL);
	struct tm tm;
	cJSON *props, *os, *np, *ni, *e;
	vm_t *v;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		_random(rnd, 4);
		snprintf(name, sizeof(name), "%s_%02x%02x%02x%02x", set->name,
			 rnd[0], rnd[1], rnd[2], rnd[3]);
		emu_key_of(key, set->sub, set->rg, name);
		if (!emu_vm_find(key))
			break;
	}
	if (tries == 16)
		return NULL;
	_random(rnd, 6);
	snprintf(computer, sizeof(computer), "%s", s->prefix);
	for (int i = 0; i < 6; i++)
		computer[strlen(s->prefix) + i] = alnum[rnd[i] % 36];
	computer[strlen(s->prefix) + 6] = '\0';
	snprintf(nic, sizeof(nic), "%s-nic", name);
	v = emu_vm_new(set->sub, set->rg, name);
	v->location = strdup(s->location);
	emu_set_size(v, size);
	v->spot = s->spot;
	v->computer = strdup(computer);
	v->incarnation = 1;
	v->vmss = strdup(set->name);
	v->seq = ++emu_vm_st.vm_seq;
	v->nic = strdup(nic);
	snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines/%s", set->sub, set->rg, name);
	emu_vmss_id(set_id, sizeof(set_id), set->sub, set->rg, set->name);
	emu_uuid(vmid);
	v->resource = cJSON_CreateObject();
	cJSON_AddStringToObject(v->resource, "name", name);
	cJSON_AddStringToObject(v->resource, "id", id);
	cJSON_AddStringToObject(v->resource, "type",
				"Microsoft.Compute/virtualMachines");
	cJSON_AddStringToObject(v->resource, "location", s->location);
	if (*zone) {
		e = cJSON_AddArrayToObject(v->resource, "zones");
		cJSON_AddItemToArray(e, cJSON_CreateString(zone));
	}
	if (cJSON_IsObject(s->tags))
		cJSON_AddItemToObject(v->resource, "tags",
				      cJSON_Duplicate(s->tags, 1));
	/* the set's identity (the request's has moved to the set by now) */
	if (set->identity && !emu_faults.identity_missing) {
		cJSON *ident = cJSON_Duplicate(set->identity, 1);

		if (cJSON_GetObjectItem(ident, "principalId")) {
			char guid[40];

			emu_guid_of("system:", id, guid);
			_set_item(ident, "principalId", cJSON_CreateString(guid));
		}
		cJSON_AddItemToObject(v->resource, "identity", ident);
	}
	props = s->profile ? cJSON_Duplicate(s->profile, 1) : cJSON_CreateObject();
	if (!cJSON_IsObject(os = cJSON_GetObjectItem(props, "osProfile")))
		_set_item(props, "osProfile", os = cJSON_CreateObject());
	cJSON_DeleteItemFromObject(os, "computerNamePrefix");
	_set_item(os, "computerName", cJSON_CreateString(computer));
	_set_item(props, "hardwareProfile", e = cJSON_CreateObject());
	cJSON_AddStringToObject(e, "vmSize", size);
	if (!cJSON_IsObject(np = cJSON_GetObjectItem(props, "networkProfile")))
		_set_item(props, "networkProfile", np = cJSON_CreateObject());
	_set_item(np, "networkInterfaces", ni = cJSON_CreateArray());
	e = cJSON_CreateObject();
	snprintf(key, sizeof(key), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Network/networkInterfaces/", set->sub, set->rg);
	snprintf(id, sizeof(id), "%s%s", key, nic);
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddItemToObject(e, "properties", os = cJSON_CreateObject());
	cJSON_AddBoolToObject(os, "primary", true);
	cJSON_AddStringToObject(os, "deleteOption", "Delete");
	cJSON_AddItemToArray(ni, e);
	_set_item(props, "virtualMachineScaleSet", e = cJSON_CreateObject());
	cJSON_AddStringToObject(e, "id", set_id);
	_set_item(props, "vmId", cJSON_CreateString(vmid));
	_set_item(props, "provisioningState", cJSON_CreateString("Creating"));
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	_set_item(props, "timeCreated", cJSON_CreateString(stamp));
	cJSON_AddItemToObject(v->resource, "properties", props);
	snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
	snprintf(v->power, sizeof(v->power), "starting");
	emu_vm_insert(v);
	emu_stats.creates++;
	emu_op_new(OP_CREATE, v);
	emu_journal_vm(v);
	return v;
}

static int _by_seq_desc(const void *a, const void *b)
{
	const vm_t *x = *(vm_t *const *) a, *y = *(vm_t *const *) b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Start deleting N of SET's VMs, the newest first (Azure's choice). */
static void _vmss_scale_in(vmss_t *set, int n)
{
	vm_t **m = malloc((emu_vm_st.nvms + 1) * sizeof(*m));
	size_t k = 0;

	if (!m)
		return;
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			if (_vmss_member(set, v) && strcmp(v->provisioning,
							   "Deleting"))
				m[k++] = v;
	qsort(m, k, sizeof(*m), _by_seq_desc);
	for (size_t i = 0; i < k && (int) i < n; i++)
		emu_vm_mark_deleting(m[i]);
	free(m);
}

/* A set's operation headers: both Location and Azure-AsyncOperation. */
static void _vmss_op_headers(reply_t *r, const vmss_t *set, const op_t *op)
{
	emu_op_headers_at(r, set->sub, emu_jstr(set->spec, "location"), op, true,
		       true);
}

/* Of ZONES (NZ of them; ZC their VM counts), the one with the fewest
 * VMs: a set spreads over its zones.  Returns its index. */
static int _zone_pick(const int *zc, int nz)
{
	int best = 0;

	for (int i = 1; i < nz; i++)
		if (zc[i] < zc[best])
			best = i;
	return best;
}

/* A VM a scale-out will make: its size (an index in the spec's sizes) and
 * zone (an index in the set's zones). */
typedef struct {
	unsigned char size, zone;
} vmss_plan_t;

/* Of the N planned VMs of PLAN, those of size SI (in zone ZI; -1: any). */
static int _planned(const vmss_plan_t *plan, int n, int si, int zi)
{
	int k = 0;

	for (int i = 0; i < n; i++)
		k += plan[i].size == si && (zi < 0 || plan[i].zone == zi);
	return k;
}

/*
 * The size the next VM of a scale-out gets in ZONE (ZI its index; "":
 * none), after the N VMs of PLAN: the first of S's sizes, in the order the
 * strategy tries them, that no capacity fault refuses.  Returns its index,
 * or -1 with the fault in *FAULT: the first size's that would fail the
 * operation, else (every size refused at once) the first size's.
 */
static int _size_pick(const vmss_spec_t *s, const char *zone, int zi,
		      const vmss_plan_t *plan, int n, int *fault)
{
	int at_once = -1, later = -1;

	for (int k = 0; k < s->nsizes; k++) {
		int f = emu_capacity_fault_n(s->info[k].name, zone,
					     _planned(plan, n, k, zi),
					     _planned(plan, n, k, -1));

		if (f < 0)
			return k;
		if (emu_capacity_codes[f].at_once && at_once < 0)
			at_once = f;
		else if (!emu_capacity_codes[f].at_once && later < 0)
			later = f;
	}
	*fault = later >= 0 ? later : at_once;
	return -1;
}

/*
 * Whether the scale-out of PLAN (N VMs; MORE after them that no size could
 * take, counted at the first size) fits every quota.  Returns true, or
 * false with Azure's 409 in R.
 */
static bool _vmss_quota_ok(const vmss_spec_t *s, const vmss_plan_t *plan,
			   int n, int more, reply_t *r)
{
	const char *fam[VMSS_MIX_MAX];
	int need[VMSS_MIX_MAX] = { 0 }, nf = 0;

	for (int k = 0; k < s->nsizes; k++) {
		const char *f = azml_series_quota_family(s->info[k].series);
		int c = _planned(plan, n, k, -1) + (k ? 0 : more), j;

		for (j = 0; j < nf && strcmp(fam[j], f); j++)
			;
		if (j == nf)
			fam[nf++] = f;
		need[j] += c * s->info[k].vcpus;
	}
	return emu_quota_mix_ok(fam, need, nf, n + more, s->spot,
				s->location, r);
}

/*
 * Write the set SET (NULL: create it as SUB/RG/NAME) from REQ (a PUT's
 * body, or a PATCH merged into the set; owned here), whose sku.capacity
 * the client gave when GIVEN.  An increase first chooses each new VM's
 * zone (the set's with the fewest VMs) and size (the first of the set's
 * sizes, in its strategy's order, that has capacity there: a size under a
 * capacity fault, or past its ":N", leaves the rest to the next); quota is
 * checked up front for the whole increase, and SkuNotAvailable on every
 * size for the first VM refuses it (nothing changes).  Then the VMs chosen
 * are made; when no size had capacity for the rest, the write's one
 * operation fails with the fault, and the VMs made stay (Azure's partial
 * scale-out).  A decrease deletes the newest VMs.  Answers 201 (created) or
 * 200 with the set and ETag.
 */
static void _vmss_write(vmss_t *set, const char *sub, const char *rg,
			const char *name, cJSON *req, bool given, reply_t *r)
{
	vmss_spec_t s;
	const char *zone[3] = { "" };
	int cur, target, fault = -1, zc[3] = { 0 }, nz = 0, i, n = 0;
	bool created = !set;
	char id[1024], msg[512] = "", names[VMSS_MIX_MAX * 66] = "";
	const cJSON *z;
	vmss_plan_t *plan = NULL;
	op_t *op;

	if (!emu_vmss_check(req, name, &s, r))
		goto out;
	if (set && strcasecmp(s.location, emu_jstr(set->spec, "location"))) {
		emu_error(r, 400, "InvalidParameter", "Changing property "
		       "'location' is not allowed.");
		goto out;
	}
	cur = set ? _vmss_count(set) : 0;
	target = given && s.capacity >= 0 ? (int) s.capacity : cur;
	cJSON_ArrayForEach(z, (cJSON_IsArray(s.zones) ? s.zones : NULL))
		if (nz < 3)
			zone[nz++] = z->valuestring;
	for (size_t b = 0; set && nz && b < NBUCKETS; b++)
		for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
			for (i = 0; i < nz; i++)
				if (_vmss_member(set, v) &&
				    strcmp(v->provisioning, "Deleting") &&
				    !strcmp(emu_vm_zone(v), zone[i]))
					zc[i]++;
	for (i = 0; i < s.nsizes; i++)
		snprintf(names + strlen(names), sizeof(names) - strlen(names),
			 "%s%.64s", i ? "," : "", s.size[i]);
	if (target > cur) {
		if (!(plan = calloc(target - cur, sizeof(*plan)))) {
			emu_error(r, 500, "InternalServerError", "out of memory");
			goto out;
		}
		for (i = cur; i < target; i++) {
			int zi = nz ? _zone_pick(zc, nz) : 0;
			int k = _size_pick(&s, nz ? zone[zi] : "", zi, plan, n,
					   &fault);

			if (k < 0)
				break;	/* no hardware for the rest */
			plan[n].size = k;
			plan[n++].zone = zi;
			zc[zi]++;
		}
		if (!n && fault >= 0 && emu_capacity_codes[fault].at_once) {
			emu_error(r, 409, emu_capacity_codes[fault].code, "The requested "
			       "VM size for resource 'Following SKUs have failed "
			       "for Capacity Restrictions: %s' is currently not "
			       "available in location '%s'. Please try another "
			       "size or deploy to a different location or zones.",
			       names, s.location);
			goto out;
		}
		if (!_vmss_quota_ok(&s, plan, n, target - cur - n, r))
			goto out;
	}
	if (created) {
		time_t t = time(NULL);
		struct tm tm;

		if (emu_vmss_st.nsets >= VMSS_MAX || !(set = calloc(1, sizeof(*set)))) {
			emu_error(r, 409, "OperationNotAllowed", "azure-emulator "
			       "keeps at most %d scale sets.", VMSS_MAX);
			goto out;
		}
		emu_key_of(set->key, sub, rg, name);
		set->sub = strdup(sub);
		set->rg = strdup(rg);
		set->name = strdup(name);
		emu_uuid(set->unique_id);
		gmtime_r(&t, &tm);
		strftime(set->created, sizeof(set->created),
			 "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		emu_vmss_insert(set);
	}
	cJSON_Delete(set->spec);
	set->spec = req;
	req = NULL;
	cJSON_Delete(set->identity);
	set->identity = s.ident;
	s.ident = NULL;
	if (set->identity && cJSON_GetObjectItem(set->identity, "principalId")) {
		char guid[40];

		emu_vmss_id(id, sizeof(id), set->sub, set->rg, set->name);
		emu_guid_of("system:", id, guid);
		_set_item(set->identity, "principalId", cJSON_CreateString(guid));
	}
	for (i = 0; i < n; i++)
		if (!_vmss_vm_new(set, &s, s.size[plan[i].size],
				  nz ? zone[plan[i].zone] : "")) {
			fault = -1;	/* no free name: the rest is not made */
			break;
		}
	if (fault >= 0 && !emu_capacity_codes[fault].message)
		snprintf(msg, sizeof(msg), "The requested VM size for resource "
			 "'Following SKUs have failed for Capacity Restrictions: "
			 "%.200s' is currently not available in location '%.64s'. "
			 "Please try another size or deploy to a different "
			 "location or zones.", names, s.location);
	if (target < cur)
		_vmss_scale_in(set, cur - target);
	snprintf(set->provisioning, sizeof(set->provisioning), "Updating");
	op = emu_op_new_key(OP_VMSS, set->key);
	if (fault >= 0) {
		op->err_code = strdup(emu_capacity_codes[fault].code);
		op->err_msg = strdup(emu_capacity_codes[fault].message ?
				     emu_capacity_codes[fault].message : msg);
		emu_journal_op(op);
	}
	emu_vmss_touch(set);
	emu_json(r, created ? 201 : 200, _vmss_view(set, false));
	emu_header(r, "ETag", "\"%lu\"", set->etag);
	_vmss_op_headers(r, set, op);
out:
	free(plan);
	cJSON_Delete(s.ident);
	cJSON_Delete(req);
}

/* Whether the entity tag E (as a header gives it: "3", 3, W/"3") is
 * SET's. */
static bool _etag_is(const char *e, size_t len, const vmss_t *set)
{
	char want[32];

	while (len && *e == ' ')
		e++, len--;
	while (len && e[len - 1] == ' ')
		len--;
	if (len >= 2 && !strncmp(e, "W/", 2))
		e += 2, len -= 2;
	if (len >= 2 && e[0] == '"' && e[len - 1] == '"')
		e++, len -= 2;
	snprintf(want, sizeof(want), "%lu", set->etag);
	return len == strlen(want) && !strncmp(e, want, len);
}

/* Whether header H (a list of tags, or *) names SET (NULL: none). */
static bool _etag_match(const char *h, const vmss_t *set)
{
	int n = 0;

	if (!set)
		return false;
	while (*h && n++ < 64) {
		size_t len = strcspn(h, ",");
		const char *t = h;

		while (*t == ' ')
			t++;
		if (*t == '*' || _etag_is(h, len, set))
			return true;
		h += len + (h[len] == ',');
	}
	return false;
}

/*
 * The request's If-Match (the set's etag, or *, for an existing set) and
 * If-None-Match (* or the etag: the set must not be so).  Returns true,
 * or false with Azure's 412 PreconditionFailed in R.
 */
static bool _vmss_precondition(struct MHD_Connection *c, const vmss_t *set,
			       reply_t *r)
{
	const char *im = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     "If-Match");
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "If-None-Match");

	if ((im && !_etag_match(im, set)) || (inm && _etag_match(inm, set))) {
		emu_error(r, 412, "PreconditionFailed", "The condition specified "
		       "using HTTP conditional header(s) is not met.");
		return false;
	}
	return true;
}

/* RFC 7386 JSON merge patch: PATCH into TARGET, an object (keys compared
 * case aside, as ARM reads them); null removes a key. */
static void _merge_patch(cJSON *target, const cJSON *patch)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, patch) {
		cJSON *t = cJSON_GetObjectItem(target, p->string);

		if (cJSON_IsNull(p))
			cJSON_DeleteItemFromObject(target, p->string);
		else if (cJSON_IsObject(p) && cJSON_IsObject(t))
			_merge_patch(t, p);
		else if (t)
			cJSON_ReplaceItemViaPointer(target, t,
						    cJSON_Duplicate(p, 1));
		else
			cJSON_AddItemToObject(target, p->string,
					      cJSON_Duplicate(p, 1));
	}
}

/*
 * POST .../virtualMachineScaleSets/{name}/delete {"instanceIds":[...]}:
 * delete exactly those VMs of the set (all or none: an id that is not one
 * of its VMs is 400 InvalidParameter), one operation for the batch.
 */
static void _vmss_delete_instances(vmss_t *set, const char *body, reply_t *r)
{
	cJSON *req = cJSON_Parse(body ? body : "");
	const cJSON *ids = cJSON_GetObjectItem(req, "instanceIds"), *it;
	vm_t **vms = NULL;
	int n = 0, k = 0;
	op_t *op;

	if (!cJSON_IsArray(ids) || !(n = cJSON_GetArraySize(ids))) {
		emu_error(r, 400, "InvalidParameter", "Required parameter "
		       "'instanceIds' is missing or empty.");
		goto out;
	}
	if (n > VMSS_IDS_MAX) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'instanceIds' is invalid: at most %d instance ids a "
		       "request.", VMSS_IDS_MAX);
		goto out;
	}
	if (!(vms = calloc(n, sizeof(*vms)))) {
		emu_error(r, 500, "InternalServerError", "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(it, ids) {
		char key[400];
		vm_t *v = NULL;

		if (cJSON_IsString(it) && emu_name_ok(it->valuestring)) {
			emu_key_of(key, set->sub, set->rg, it->valuestring);
			v = emu_vm_find(key);
		}
		if (!v || !_vmss_member(set, v)) {
			emu_error(r, 400, "InvalidParameter", "The value '%.80s' of "
			       "parameter 'instanceIds' is invalid: it is not a "
			       "virtual machine of scale set '%s'.",
			       cJSON_IsString(it) ? it->valuestring : "",
			       set->name);
			goto out;
		}
		vms[k++] = v;
	}
	/* twice named, or already going: deleted once */
	for (int i = 0; i < k; i++)
		if (strcmp(vms[i]->provisioning, "Deleting"))
			emu_vm_mark_deleting(vms[i]);
	snprintf(set->provisioning, sizeof(set->provisioning), "Updating");
	op = emu_op_new_key(OP_VMSS, set->key);
	emu_vmss_touch(set);
	r->status = 202;
	_vmss_op_headers(r, set, op);
out:
	free(vms);
	cJSON_Delete(req);
}

/* DELETE .../virtualMachineScaleSets/{name}: the set and all its VMs. */
static void _vmss_delete(vmss_t *set, reply_t *r)
{
	op_t *op = NULL;

	if (strcmp(set->provisioning, "Deleting")) {
		for (size_t b = 0; b < NBUCKETS; b++)
			for (vm_t *v = emu_vm_st.vms[b]; v; v = v->next)
				if (_vmss_member(set, v) &&
				    strcmp(v->provisioning, "Deleting"))
					emu_vm_mark_deleting(v);
		snprintf(set->provisioning, sizeof(set->provisioning),
			 "Deleting");
		emu_vmss_touch(set);
	} else {	/* a second delete joins the first */
		for (size_t b = 0; b < NBUCKETS && !op; b++)
			for (op_t *o = emu_op_st.ops[b]; o; o = o->next)
				if (o->kind == OP_VMSS_DELETE && !o->finished &&
				    !strcmp(o->vmkey, set->key))
					op = o;
	}
	if (!op)
		op = emu_op_new_key(OP_VMSS_DELETE, set->key);
	r->status = 202;
	_vmss_op_headers(r, set, op);
}

static void _vmss_list(const char *sub, const char *rg,
		       struct MHD_Connection *c, reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");
	const char *skip_s = emu_arg(c, "$skiptoken");
	long skip = skip_s ? atol(skip_s) : 0, seen = 0, added = 0;
	char prefix[400];

	snprintf(prefix, sizeof(prefix), "%s/%s/", sub, rg);
	emu_lower(prefix);
	for (vmss_t *set = emu_vmss_st.sets; set; set = set->next) {
		if (strncmp(set->key, prefix, strlen(prefix)) || seen++ < skip)
			continue;
		if (added == emu_faults.page_size) {
			char next[1024];

			snprintf(next, sizeof(next), "%s/subscriptions/"
				 "%s/resourceGroups/%s/providers/Microsoft.Compute/"
				 "virtualMachineScaleSets?api-version=2024-07-01&"
				 "$skiptoken=%ld", emu_net_st.base_url, sub, rg,
				 skip + added);
			cJSON_AddStringToObject(o, "nextLink", next);
			break;
		}
		cJSON_AddItemToArray(arr, _vmss_view(set, false));
		added++;
	}
	emu_json(r, 200, o);
}

/*
 * .../virtualMachineScaleSets[/{name}[/delete]]: list, GET, PUT, PATCH,
 * DELETE and the batched delete.  Writes take a token of the ARM write
 * bucket, then of Compute's policy.
 */
void emu_vmss(struct MHD_Connection *c, const char *method,
		  const char *sub, const char *rg, const char *name,
		  const char *action, const char *body, reply_t *r)
{
	char key[400];
	vmss_t *set;
	bool put = !strcmp(method, "PUT"), patch = !strcmp(method, "PATCH");

	if (!name) {
		if (strcmp(method, "GET")) {
			emu_error(r, 405, "MethodNotAllowed", "azure-emulator lists "
			       "scale sets with GET.");
			return;
		}
		if (emu_compute_take(r, CP_LIST))
			_vmss_list(sub, rg, c, r);
		return;
	}
	emu_key_of(key, sub, rg, name);
	set = emu_vmss_find(key);
	if (!action && !strcmp(method, "GET")) {
		const char *expand = emu_arg(c, "$expand");

		if (!emu_compute_take(r, CP_GET_VMSS))
			return;
		if (!set) {
			emu_error(r, 404, "ResourceNotFound", "The Resource "
			       "'Microsoft.Compute/virtualMachineScaleSets/%s' "
			       "under resource group '%s' was not found.", name, rg);
			return;
		}
		emu_json(r, 200, _vmss_view(set, expand &&
					 !strcasecmp(expand, "userData")));
		emu_header(r, "ETag", "\"%lu\"", set->etag);
		return;
	}
	if (!action && !strcmp(method, "DELETE") && !set) {
		r->status = 204;	/* already gone: as Azure answers */
		return;
	}
	if (!(!action && (put || patch || !strcmp(method, "DELETE"))) &&
	    !(action && !strcmp(action, "delete") && !strcmp(method, "POST"))) {
		emu_error(r, 400, "InvalidRequestUri", "azure-emulator does not "
		       "serve %s %s on a scale set", method, action ? action : "");
		return;
	}
	if (!emu_take_write_token(r) ||
	    !emu_compute_take(r, put || patch ? CP_PUT_VMSS : action ?
			   CP_VMSS_ACTIONS : CP_DELETE_VMSS))
		return;
	if (!set && !put) {
		emu_error(r, 404, "ResourceNotFound", "The Resource "
		       "'Microsoft.Compute/virtualMachineScaleSets/%s' under "
		       "resource group '%s' was not found.", name, rg);
		return;
	}
	if (put && strlen(name) > VMSS_NAME_MAX) {
		emu_error(r, 400, "InvalidParameter", "azure-emulator: a scale set's "
		       "name is at most %d characters, so that its VMs' names "
		       "{name}_{8 hex digits} and their NICs' fit in 64.",
		       VMSS_NAME_MAX);
		return;
	}
	if (!_vmss_precondition(c, set, r))
		return;
	/* a second DELETE joins the first */
	if (set && !strcmp(set->provisioning, "Deleting") &&
	    (action || strcmp(method, "DELETE"))) {
		emu_error(r, 409, "OperationNotAllowed", "Operation '%s' is not "
		       "allowed on scale set '%s' since it is marked for "
		       "deletion.", method, set->name);
		return;
	}
	if (emu_faults.locked && !put && !patch) {
		emu_error(r, 409, "ScopeLocked", "The scope '/subscriptions/%s/"
		       "resourceGroups/%s/providers/Microsoft.Compute/"
		       "virtualMachineScaleSets/%s' cannot perform delete "
		       "operation because following scope(s) are locked: "
		       "'/subscriptions/%s/resourceGroups/%s'. Please remove the "
		       "lock and try again.", sub, rg, name, sub, rg);
		return;
	}
	if (action) {
		_vmss_delete_instances(set, body, r);
	} else if (!strcmp(method, "DELETE")) {
		_vmss_delete(set, r);
	} else {
		cJSON *req = cJSON_Parse(body ? body : ""), *merged = req;
		bool given = cJSON_IsNumber(cJSON_GetObjectItem(
			cJSON_GetObjectItem(req, "sku"), "capacity"));

		if (patch) {
			if (!cJSON_IsObject(req)) {
				cJSON_Delete(req);
				emu_error(r, 400, "InvalidRequestContent", "The "
				       "request content was invalid and could "
				       "not be deserialized.");
				return;
			}
			merged = cJSON_Duplicate(set->spec, 1);
			_merge_patch(merged, req);
			cJSON_Delete(req);
		}
		_vmss_write(set, sub, rg, name, merged, given, r);
	}
}

/* Forget every scale set (POST /emulator/reset). */
void emu_vmss_reset(void)
{
	while (emu_vmss_st.sets) {
		vmss_t *set = emu_vmss_st.sets;

		emu_vmss_unlink(set);
		emu_journal_vmss_gone(set);
		emu_vmss_free(set);
	}
}

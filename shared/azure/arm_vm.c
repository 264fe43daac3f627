/*
 * arm_vm.c - VMs through ARM: the body of a VM (tags, userData), create,
 * get, delete, power, list, boot log, NIC address (see arm.h; the engine
 * is arm.c).
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

char *azml_arm_dup(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*oom = true;
	return d;
}

int azml_arm_userdata(const azml_conf_t *conf, const azml_target_t *t,
		      const char *node, const azml_ctld_info_t *ctld,
		      azml_userdata_t *u, char *err, size_t n)
{
	const char *host = t ? t->slurmctld_host : NULL;
	char first[96];
	bool oom = false;

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
	u->cluster = azml_arm_dup(conf->cluster_name, &oom);
	u->slurm_cluster = azml_arm_dup(ctld ? ctld->slurm_cluster : NULL,
					&oom);
	u->target = azml_arm_dup(t->name, &oom);
	u->node = azml_arm_dup(node, &oom);
	u->vm_size = azml_arm_dup(t->vm_size, &oom);
	u->slurmctld_host = azml_arm_dup(host, &oom);
	u->munge_key_secret = azml_arm_dup(t->munge_key_secret, &oom);
	u->identity = azml_arm_dup(t->identity, &oom);
	u->job_identity = azml_arm_dup(t->job_identity, &oom);
	u->setup_script = azml_arm_dup(t->node_setup_script, &oom);
	u->low_priority = t->kind == AZML_CLUSTER &&
			  t->priority == AZML_LOW_PRIORITY;
	u->gpus = t->gpus;
	u->gpu_type = azml_arm_dup(t->gpu_type, &oom);
	u->gpu_arch = azml_arm_dup(t->gpu_arch ? t->gpu_arch->arch : NULL,
				   &oom);
	if (ctld && ctld->slurm_version) {
		u->slurm_version = azml_arm_dup(ctld->slurm_version, &oom);
	} else if (asprintf(&u->slurm_version, "%d.%02d.%d",
			    SLURM_VERSION_MAJOR(SLURM_VERSION_NUMBER),
			    SLURM_VERSION_MINOR(SLURM_VERSION_NUMBER),
			    SLURM_VERSION_MICRO(SLURM_VERSION_NUMBER)) < 0) {
		u->slurm_version = NULL;
		oom = true;
	}
	if (oom) {
		azml_userdata_free(u);
		snprintf(err, n, "out of memory");
		return -1;
	}
	return 0;
}

/* properties.userData of NODE's VM; 0, or -1 with ERR. */
static int _add_userdata(cJSON *p, const azml_conf_t *conf,
			 const azml_target_t *t, const char *node,
			 const char *size, const azml_ctld_info_t *ctld,
			 char *err, size_t n)
{
	azml_userdata_t u;
	char *b64;
	int rc = -1;

	if (azml_arm_userdata(conf, t, node, ctld, &u, err, n))
		return -1;
	if (size && u.vm_size && strcmp(size, u.vm_size)) {
		/* a mix's VM: the size it is created at */
		char *s = strdup(size);

		if (!s) {
			azml_userdata_free(&u);
			snprintf(err, n, "out of memory");
			return -1;
		}
		free(u.vm_size);
		u.vm_size = s;
	}
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
	return azml_arm_vm_body_size(conf, t, node, NULL, ctld, err, n);
}

cJSON *azml_arm_vm_body_size(const azml_conf_t *conf, const azml_target_t *t,
			     const char *node, const char *size,
			     const azml_ctld_info_t *ctld, char *err, size_t n)
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
				"vmSize", size ? size : t->vm_size);
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
	    _add_userdata(p, conf, t, node, size, ctld, err, n)) {
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
/* A VM's name: ours (the node's: letters, digits, '-') or one a scale set
 * made ("SET_1a2b3c4d"). */
static int _bad_name(call_t *c, const char *name)
{
	if (azml_arm_resource_name_ok(name))
		return 0;
	azml_arm_fail(c, 0, "InvalidResourceName",
		      "'%.80s' is not a valid VM name "
		      "(1-64 letters, digits, '-', '_' and '.')",
		      name ? name : "");
	return -1;
}

int azml_arm_vm_create(azml_arm_t *arm, const azml_target_t *t,
		       const char *node, azml_vm_cb cb, void *arg)
{
	return azml_arm_vm_create_size(arm, t, node, NULL, cb, arg);
}

int azml_arm_vm_create_size(azml_arm_t *arm, const azml_target_t *t,
			    const char *node, const char *size, azml_vm_cb cb,
			    void *arg)
{
	call_t *c = azml_arm_call(arm, K_CREATE, node, cb, arg);
	char url[2048], err[512];
	cJSON *body;
	char *s;
	int rc;

	if (!azml_arm_name_ok(node)) {	/* also its computerName */
		azml_arm_fail(c, 0, "InvalidResourceName",
			      "'%.80s' is not a valid VM name (1-63 "
			      "letters, digits and '-', not first or last)",
			      node ? node : "");
		return -1;
	}
	azml_arm_copy(c->r.node, sizeof(c->r.node), node);
	azml_arm_copy(c->r.size, sizeof(c->r.size), size ? size : t->vm_size);
	if (!(body = azml_arm_vm_body_size(arm->conf, t, node, size,
					   &arm->ctld, err, sizeof(err)))) {
		azml_arm_fail(c, 0, "InvalidParameter", "%s", err);
		return -1;
	}
	s = cJSON_PrintUnformatted(body);
	cJSON_Delete(body);
	azml_arm_vm_url(arm, node, "", NULL, url, sizeof(url));
	rc = azml_arm_send(c, "PUT", url, s, 0);
	cJSON_free(s);
	return rc;
}

int azml_arm_vm_delete(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		       void *arg)
{
	call_t *c = azml_arm_call(arm, K_DELETE, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	azml_arm_vm_url(arm, name, "", "&forceDeletion=true", url, sizeof(url));
	return azml_arm_send(c, "DELETE", url, NULL, 0);
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
		azml_arm_copy(res.code, sizeof(res.code), "NotOurVM");
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

	if (!o) {	/* out of memory: the callback is told, as arm.h says */
		azml_vm_result_t res = { 0 };

		azml_arm_copy(res.name, sizeof(res.name), name);
		azml_arm_copy(res.code, sizeof(res.code), "OutOfMemory");
		azml_arm_copy(res.message, sizeof(res.message),
			      "out of memory");
		cb(arg, &res);
		return -1;
	}
	o->arm = arm;
	o->cb = cb;
	o->arg = arg;
	o->in_set = set != NULL;
	azml_arm_copy(o->set, sizeof(o->set), set);
	return azml_arm_vm_get(arm, name, _ours_got, o);
}

int azml_arm_vm_get(azml_arm_t *arm, const char *name, azml_vm_cb cb,
		    void *arg)
{
	call_t *c = azml_arm_call(arm, K_GET, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	azml_arm_vm_url(arm, name, "", "&$expand=instanceView", url,
			sizeof(url));
	return azml_arm_send(c, "GET", url, NULL, 0);
}

int azml_arm_vm_power(azml_arm_t *arm, const char *name, bool start,
		      azml_vm_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_POWER, name, cb, arg);
	char url[2048];

	if (_bad_name(c, name))
		return -1;
	azml_arm_vm_url(arm, name, start ? "/start" : "/deallocate", NULL, url,
			sizeof(url));
	return azml_arm_send(c, "POST", url, NULL, 0);
}

int azml_arm_vm_keep_identity(azml_arm_t *arm, const char *name,
			      const char *drop, const char *keep,
			      azml_vm_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_POWER, name, cb, arg);
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
	azml_arm_vm_url(arm, name, "", NULL, url, sizeof(url));
	rc = azml_arm_send(c, "PATCH", url, body, 0);
	cJSON_free(body);
	return rc;
}

int azml_arm_vm_boot_log(azml_arm_t *arm, const char *name,
			 azml_boot_log_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_BOOTLOG, name, NULL, arg);
	char url[2048];

	c->boot_cb = cb;
	c->deadline = azml_now() + AZML_BOOTDIAG_TIMEOUT;
	if (_bad_name(c, name))
		return -1;
	azml_arm_vm_url(arm, name, "/retrieveBootDiagnosticsData", NULL, url,
			sizeof(url));
	return azml_arm_send(c, "POST", url, NULL, 0);
}

int azml_arm_vm_list(azml_arm_t *arm, azml_vm_list_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_LIST, "", NULL, arg);
	char url[2048];

	c->list_cb = cb;
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines?api-version="
		 AZML_API_COMPUTE, arm->base, arm->conf->resource_group);
	return azml_arm_send(c, "GET", url, NULL, 0);
}

int azml_arm_nic_ip(azml_arm_t *arm, const char *name, const char *nic,
		    azml_vm_cb cb, void *arg)
{
	call_t *c = azml_arm_call(arm, K_NIC, name, cb, arg);
	char url[2048];

	if (!azml_arm_resource_name_ok(nic)) {
		azml_arm_fail(c, 0, "InvalidResourceName",
			      "'%.96s' is not a NIC name", nic ? nic : "");
		return -1;
	}
	snprintf(url, sizeof(url), "%s/resourceGroups/%s/providers/"
		 "Microsoft.Network/networkInterfaces/%s?api-version="
		 AZML_API_NETWORK, arm->base, arm->conf->resource_group, nic);
	return azml_arm_send(c, "GET", url, NULL, 0);
}

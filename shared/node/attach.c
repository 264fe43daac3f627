/*
 * attach.c - the report of an on-prem node, sealed with munge (attach.h).
 */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <munge.h>

#include "attach.h"
#include "generate.h"
#include "log.h"
#include "names.h"

#define REPORT_VERSION 1
#define MAX_PAYLOAD (256 * 1024)

cJSON *azml_attach_report(const char *name, const char *hostname,
			  const char *address, const azml_inventory_t *inv,
			  cJSON *check)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "version", REPORT_VERSION);
	cJSON_AddStringToObject(o, "node", name);
	cJSON_AddStringToObject(o, "hostname", hostname);
	cJSON_AddStringToObject(o, "address", address);
	cJSON_AddNumberToObject(o, "cpus", inv->pus);
	cJSON_AddNumberToObject(o, "sockets", inv->sockets);
	cJSON_AddNumberToObject(o, "cores", inv->cores);
	cJSON_AddNumberToObject(o, "threads_per_core",
				inv->cores ? inv->pus / inv->cores : 1);
	cJSON_AddNumberToObject(o, "memory_mib", (double) inv->memory_mib);
	cJSON_AddItemToObject(o, "check", check);
	return o;
}

static munge_ctx_t _ctx(const char *socket, char *err, size_t errlen)
{
	munge_ctx_t ctx = munge_ctx_create();

	if (!ctx) {
		azml_errf(err, errlen, "munge: out of memory");
		return NULL;
	}
	if (socket && munge_ctx_set(ctx, MUNGE_OPT_SOCKET, socket) != EMUNGE_SUCCESS) {
		azml_errf(err, errlen, "munge: cannot use socket %s: %s",
			  socket, munge_ctx_strerror(ctx));
		munge_ctx_destroy(ctx);
		return NULL;
	}
	return ctx;
}

char *azml_attach_seal(const char *socket, int ttl, const cJSON *report,
		       char *err, size_t errlen)
{
	munge_ctx_t ctx = _ctx(socket, err, errlen);
	char *payload = NULL, *cred = NULL, *out = NULL;
	munge_err_t e;

	if (!ctx)
		return NULL;
	if (ttl > 0 && munge_ctx_set(ctx, MUNGE_OPT_TTL, ttl) != EMUNGE_SUCCESS) {
		azml_errf(err, errlen, "munge: cannot set a TTL of %d s", ttl);
		goto out;
	}
	if (!(payload = cJSON_PrintUnformatted(report))) {
		azml_errf(err, errlen, "out of memory");
		goto out;
	}
	e = munge_encode(&cred, ctx, payload, (int) strlen(payload));
	if (e != EMUNGE_SUCCESS) {
		azml_errf(err, errlen, "munge: cannot make a credential: %s",
			  munge_ctx_strerror(ctx) ? munge_ctx_strerror(ctx) :
						    munge_strerror(e));
		goto out;
	}
	out = strdup(cred);
	if (!out)
		azml_errf(err, errlen, "out of memory");
out:
	free(cred);
	cJSON_free(payload);
	munge_ctx_destroy(ctx);
	return out;
}

/* What each refusal means to the admin who reads it. */
static const char *_why(munge_err_t e)
{
	switch (e) {
	case EMUNGE_CRED_INVALID:
		return "it was not made with this cluster's munge key, or it "
		       "was altered";
	case EMUNGE_CRED_EXPIRED:
		return "it has expired (run attach on the node again)";
	case EMUNGE_CRED_REWOUND:
		return "it was made in the future (check the clocks)";
	case EMUNGE_CRED_REPLAYED:
		return "it was already used once (replayed)";
	case EMUNGE_BAD_CRED: case EMUNGE_BAD_VERSION: case EMUNGE_BAD_CIPHER:
	case EMUNGE_BAD_MAC: case EMUNGE_BAD_ZIP: case EMUNGE_BAD_LENGTH:
		return "it is not a whole munge credential (truncated or "
		       "damaged)";
	case EMUNGE_SOCKET:
		return "munged cannot be reached";
	case EMUNGE_CRED_UNAUTHORIZED:
		return "this user may not open it";
	default:
		return "munge refused it";
	}
}

cJSON *azml_attach_open(const char *socket, const char *cred, uid_t slurm_uid,
			char *err, size_t errlen)
{
	munge_ctx_t ctx = _ctx(socket, err, errlen);
	void *buf = NULL;
	int len = 0;
	uid_t uid = (uid_t) -1;
	gid_t gid = (gid_t) -1;
	munge_err_t e;
	cJSON *report = NULL;
	const cJSON *v;

	if (!ctx)
		return NULL;
	e = munge_decode(cred, ctx, &buf, &len, &uid, &gid);
	if (e != EMUNGE_SUCCESS) {
		azml_errf(err, errlen, "credential refused: %s (munge: %s)",
			  _why(e),
			  munge_ctx_strerror(ctx) ? munge_ctx_strerror(ctx) :
						    munge_strerror(e));
		goto out;
	}
	if (uid != 0 && uid != slurm_uid) {
		azml_errf(err, errlen,
			  "credential refused: made by uid %u, not by "
			  "root or SlurmUser (uid %u)",
			  (unsigned) uid, (unsigned) slurm_uid);
		goto out;
	}
	if (!buf || len <= 0 || len > MAX_PAYLOAD ||
	    memchr(buf, '\0', (size_t) len)) {
		azml_errf(err, errlen,
			  "credential refused: it carries no report");
		goto out;
	}
	report = cJSON_ParseWithLength(buf, (size_t) len);
	v = report ? cJSON_GetObjectItemCaseSensitive(report, "version") : NULL;
	if (!cJSON_IsObject(report) || !cJSON_IsNumber(v) ||
	    v->valueint != REPORT_VERSION) {
		azml_errf(err, errlen,
			  "credential refused: its report is not a "
			  "version %d slurm-azureml node report",
			  REPORT_VERSION);
		cJSON_Delete(report);
		report = NULL;
	}
out:
	free(buf);
	munge_ctx_destroy(ctx);
	return report;
}


static const char *_str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double _num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

bool azml_attach_judge(const azml_conf_t *conf, const cJSON *report,
		       const azml_target_t **target, cJSON *reasons)
{
	const char *node = _str(report, "node"), *addr = _str(report, "address");
	const char *host = _str(report, "hostname");
	const cJSON *check = cJSON_GetObjectItemCaseSensitive(report, "check");
	const cJSON *r;
	const azml_target_t *t;
	azml_inventory_t *inv = NULL;
	azml_check_req_t req = { 0 };
	cJSON *verdict = NULL;
	char err[256];
	double cpus = _num(report, "cpus"), mem = _num(report, "memory_mib");
	int before = cJSON_GetArraySize(reasons);
	bool ok;

	*target = NULL;
	if (!azml_node_name_ok(node, 0)) {
		azml_reason_add(reasons, "the report names no valid node");
		return false;
	}
	if (!azml_node_name_ok(addr, AZML_NAME_ADDRESS) ||
	    !azml_node_name_ok(host, 0))
		azml_reason_add(reasons, "the report's address or hostname is not valid");
	t = azml_conf_target_of_node(conf, node);
	if (!t || t->kind != AZML_ATTACHED) {
		azml_reason_add(reasons, "node %s is not in an AttachedCompute target "
			"of %s", node, conf->path ? conf->path : "azureml.conf");
		return false;
	}
	*target = t;
	if (!cJSON_IsObject(check)) {
		azml_reason_add(reasons, "the report has no node-check result");
		return false;
	}
	if (!(inv = calloc(1, sizeof(*inv)))) {
		azml_reason_add(reasons, "out of memory");
		return false;
	}
	if (azml_gpus_from_json(cJSON_GetObjectItemCaseSensitive(check, "gpus"),
				inv, err, sizeof(err)) < 0) {
		azml_reason_add(reasons, "the report's GPUs: %s", err);
		goto out;
	}
	/* Judged here against the target, whatever the node concluded. */
	req.declared = t->gres ? t->gres : "gpu:0";
	req.cuda = t->cuda;
	verdict = azml_node_check(inv, &req, &ok);
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(verdict, "reasons"))
		azml_reason_add(reasons, "%s (target %s)", r->valuestring, t->name);
	/* What only the node could see: its devices, NVML. */
	cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(check, "reasons"))
		if (cJSON_IsString(r))
			azml_reason_add(reasons, "on the node: %s", r->valuestring);
	if (t->cpus > 0 && cpus < t->cpus)
		azml_reason_add(reasons, "%s declares CPUs=%d, the node has %.0f",
			t->name, t->cpus, cpus < 0 ? 0 : cpus);
	if (t->real_memory > 0 && mem < t->real_memory)
		azml_reason_add(reasons, "%s declares RealMemory=%d MiB, the node has "
			"%.0f MiB", t->name, t->real_memory, mem < 0 ? 0 : mem);
out:
	cJSON_Delete(verdict);
	free(inv);
	return cJSON_GetArraySize(reasons) == before;
}

azml_attach_way_t azml_attach_way(bool known, const char *version)
{
	if (known)
		return AZML_ATTACH_UPDATE;
	return azml_slurm_dynamic_attach(version) ? AZML_ATTACH_CREATE :
						    AZML_ATTACH_NO_NODE;
}

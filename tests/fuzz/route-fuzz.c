/*
 * route-fuzz.c - libFuzzer target: job_submit's routing decision
 * (azml_route) and SPANK's option check (azml_route_check_option) for a
 * fuzzed job against a fixed azureml.conf.
 *
 * The input is a job's --azure-* options and job fields, one per line, as
 * job_submit_azureml reads them from spank_job_env and job_desc:
 *	azure_compute=NAME	azure_vm_size=SIZE	azure_priority=P
 *	azure_cuda=X.Y		azure_isolated[=...]	partition=LIST
 *	gpu			(the job asks for GPUs)
 * A later line replaces an earlier one; other lines are ignored.  The
 * decision is also taken into a buffer as small as the input's length
 * modulo 64, plus one.
 *
 * Checks beyond "no crash, no UB": OUT is always NUL-terminated, a refusal
 * starts with "azureml: ", and an accepted job gets a list of partitions
 * that all exist, each once, and pass its --partition list or are the
 * Fallback= of one listed before; a job without --azure-* options gets its
 * own --partition list back first, as it was.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "route.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every kind of target: GPU and CPU clusters, both priorities, an isolated
 * size, a restricted series, an instance mix, an instance, attached nodes with and without
 * GPUs and Cuda=, fallbacks of each kind (one defined later, a cycle). */
static const char conf_text[] =
	"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
	"ResourceGroup=rg\nLocation=eastus\n"
	"ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MaxNodes=8 QuotaApproved=yes "
	"Fallback=gpu-v100-low,a100,cpu,dev-box\n"
	"ComputeCluster=gpu-v100-low VmSize=Standard_NC6s_v3 MaxNodes=8 "
	"Priority=LowPriority QuotaApproved=yes\n"
	"ComputeCluster=gpu-k80 VmSize=Standard_NC6 MaxNodes=2\n"
	"ComputeCluster=iso VmSize=Standard_NC24rs_v3 MaxNodes=2 QuotaApproved=yes "
	"Fallback=gpu-v100\n"
	"ComputeCluster=a100 VmSize=Standard_ND96asr_v4 MaxNodes=2 QuotaApproved=yes\n"
	"ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=64 Priority=LowPriority "
	"Fallback=cpu\n"
	"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4 Fallback=cpu-spot\n"
	"ComputeCluster=mix VmSize=Standard_D4_v3,Standard_D4s_v3,Standard_F8s_v2 "
	"MaxNodes=4 Fallback=cpu,gpu-k80\n"
	"ComputeInstance=dev-box VmSize=Standard_DS3_v2\n"
	"AttachedCompute=lab-a100 Nodes=lab[01-04] Gres=gpu:a100:4 Cuda=12.2\n"
	"AttachedCompute=lab-cpu Nodes=cpu[1-2]\n";

static azml_router_t *router;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_conf_t *c;

	azml_log_init(AZML_LOG_STDERR, "route-fuzz", AZML_LOG_ERROR);
	c = azml_conf_load_string(conf_text, "route-fuzz.conf");
	if (!c || c->nerrors) {
		fprintf(stderr, "route-fuzz: the fixed configuration has "
			"errors: %s\n", c && c->nerrors ? c->errors[0] : "ENOMEM");
		exit(1);
	}
	router = azml_router_create(c);
	if (!router)
		exit(1);
	return 0;
}

/* Is WORD (LEN bytes) in the comma-separated LIST, case-insensitively? */
static int _listed(const char *list, const char *word, size_t len)
{
	for (const char *s = list; *s; ) {
		size_t l = strcspn(s, ",");

		if (l == len && !strncasecmp(s, word, len))
			return 1;
		s += l + (s[l] == ',');
	}
	return 0;
}

/* The target named by the LEN bytes at S: as it spells it, or in any case
 * (NOCASE: a user's --partition). */
static const azml_target_t *_target(const char *s, size_t len, int nocase)
{
	const azml_conf_t *c = azml_router_conf(router);

	for (size_t i = 0; i < c->ntargets; i++)
		if (strlen(c->targets[i].name) == len &&
		    !(nocase ? strncasecmp : strncmp)(c->targets[i].name, s, len))
			return &c->targets[i];
	return NULL;
}

/* Is T a Fallback= of a target of LIST (up to END)? */
static int _fallback_of(const char *list, const char *end,
			const azml_target_t *t)
{
	for (const char *s = list; s < end; ) {
		size_t l = strcspn(s, ",");
		const azml_target_t *o = _target(s, l, 1);

		for (size_t k = 0; o && k < o->nfallback; k++)
			if (!strcmp(o->fallback[k], t->name))
				return 1;
		s += l + (s[l] == ',');
	}
	return 0;
}

static void _check(azml_route_rc_t rc, const azml_route_req_t *req,
		   const char *out, size_t outlen, int full)
{
	const char *part = req->partition && *req->partition ?
			   req->partition : NULL;
	const char *s = out;
	int plain = !req->compute && !req->vm_size && !req->priority &&
		    !req->cuda && !req->isolated;

	if (!memchr(out, '\0', outlen))
		abort();
	if (rc == AZML_ROUTE_ERROR && outlen > 9 &&
	    strncmp(out, "azureml: ", 9))
		abort();
	if (rc == AZML_ROUTE_NONE && (!plain || *out))
		abort();
	if (rc != AZML_ROUTE_OK || !full)
		return;
	/* A plain job: its own list first, as it was, then fallbacks only. */
	if (plain) {
		size_t l = part ? strlen(part) : 0;

		if (!part || strncmp(out, part, l) || out[l] != ',')
			abort();
		s = out + l + 1;
	}
	/* Each partition is a target, listed once, that passes --partition
	 * or is a fallback of one before it. */
	while (*s) {
		size_t l = strcspn(s, ",");
		const azml_target_t *t = _target(s, l, 0);

		if (!t || _listed(s + l + (s[l] == ','), s, l))
			abort();
		if (plain ? _listed(part, s, l) || !_fallback_of(part,
					part + strlen(part), t) :
		    part && !_listed(part, s, l) && !_fallback_of(out, s, t))
			abort();
		s += l + (s[l] == ',');
	}
}

/* The constraint of --azure-vm-size beside the job's FEATURES: the size
 * alone, or X&SIZE or (X)&SIZE; never cut short. */
static void _check_features(const azml_route_req_t *req, const char *features,
			    size_t outlen)
{
	char out[8192];
	azml_route_rc_t rc;
	size_t len, fl = features ? strlen(features) : 0;

	if (outlen > sizeof(out))
		outlen = sizeof(out);
	rc = azml_route_features(router, req, features, out, outlen);
	if (!memchr(out, '\0', outlen))
		abort();
	if (rc == AZML_ROUTE_ERROR && outlen > 9 &&
	    strncmp(out, "azureml: ", 9))
		abort();
	if (rc == AZML_ROUTE_NONE && *out)
		abort();
	if (rc != AZML_ROUTE_OK)
		return;
	if (!req->vm_size)
		abort();
	len = strlen(out);
	if (len < strlen(req->vm_size) ||
	    strcasecmp(out + len - strlen(req->vm_size), req->vm_size))
		abort();
	if (fl &&
	    (len < fl + 1 + strlen(req->vm_size) || !strstr(out, features)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		const char *key, *opt;
		size_t off;
	} keys[] = {
		{ "azure_compute", "azure-compute",
		  offsetof(azml_route_req_t, compute) },
		{ "azure_vm_size", "azure-vm-size",
		  offsetof(azml_route_req_t, vm_size) },
		{ "azure_priority", "azure-priority",
		  offsetof(azml_route_req_t, priority) },
		{ "azure_cuda", "azure-cuda", offsetof(azml_route_req_t, cuda) },
		{ "partition", NULL, offsetof(azml_route_req_t, partition) },
	};
	azml_route_req_t req = { 0 };
	const char *features = NULL;
	char *text = malloc(size + 1), *line, *save = NULL;
	char out[8192], small[64], msg[512];
	size_t smalllen = size % sizeof(small) + 1;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		size_t klen = eq ? (size_t) (eq - line) : strlen(line);

		if (klen == 3 && !strncmp(line, "gpu", 3))
			req.wants_gpu = true;
		if (klen == 14 && !strncmp(line, "azure_isolated", 14)) {
			req.isolated = true;
			azml_route_check_option("azure-isolated",
						eq ? eq + 1 : NULL, msg,
						sizeof(msg));
		}
		if (!eq)
			continue;
		if (klen == 8 && !strncmp(line, "features", 8))
			features = eq + 1;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (strlen(keys[i].key) != klen ||
			    strncmp(line, keys[i].key, klen))
				continue;
			*(const char **) ((char *) &req + keys[i].off) = eq + 1;
			if (keys[i].opt)
				azml_route_check_option(keys[i].opt, eq + 1,
							msg, sizeof(msg));
		}
		/* An option SPANK does not know. */
		if (!strncmp(line, "azure_", 6)) {
			*eq = '\0';
			azml_route_check_option(line, eq + 1, msg, sizeof(msg));
			*eq = '=';
		}
	}
	_check(azml_route(router, &req, out, sizeof(out)), &req, out,
	       sizeof(out), 1);
	_check(azml_route(router, &req, small, smalllen), &req, small,
	       smalllen, 0);
	_check_features(&req, features, sizeof(out));
	_check_features(&req, features, smalllen);
	free(text);
	return 0;
}

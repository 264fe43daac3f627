/*
 * arm-fuzz.c - libFuzzer target: every parser of what ARM and IMDS answer
 * (shared/arm.h), fed the same bytes.
 *
 * The input is one HTTP answer body.  When it is one of Microsoft's example
 * files (an object with "responses": {"200": {"body": ...}}, as in
 * ../shared/azure-rest-examples), each response body is parsed too, so those
 * files make good seeds as they are.
 *
 * Checks beyond "no crash, no UB": every string the parsers copy out is
 * NUL-terminated inside its buffer, and every count matches the array.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "arm.h"
#include "auth.h"
#include "http.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERMINATED(buf) (memchr((buf), '\0', sizeof(buf)) != NULL)

static void _check_vm(const azml_vm_result_t *r)
{
	if (!TERMINATED(r->name) || !TERMINATED(r->node) ||
	    !TERMINATED(r->cluster) || !TERMINATED(r->size) ||
	    !TERMINATED(r->provisioning) || !TERMINATED(r->power) ||
	    !TERMINATED(r->scale_set) || !TERMINATED(r->computer) ||
	    !TERMINATED(r->nic) || !TERMINATED(r->etag))
		abort();
	/* a scale set's or NIC's name is a name, never a path or a URL */
	if ((r->scale_set[0] && !azml_arm_resource_name_ok(r->scale_set)) ||
	    (r->nic[0] && !azml_arm_resource_name_ok(r->nic)))
		abort();
	if (r->capacity < -1 || r->capacity > 1000000)
		abort();
}

/* Every parser that takes a body (a string) or a parsed object. */
static void _parse_all(const char *body)
{
	char code[64], msg[512], st[32], ip[16], id[64];
	azml_usage_t *u = NULL;
	azml_vm_size_t *s = NULL;
	azml_vm_result_t r = { 0 };
	cJSON *j;
	const cJSON *it;
	size_t n;

	char *tok = NULL;
	double life = 0;

	azml_arm_parse_error(body, code, sizeof(code), msg, sizeof(msg));
	/* token answers (Entra ID, IMDS): a token and a bounded lifetime */
	if (azml_auth_parse_token(body, &tok, &life) == 0) {
		if (!tok || !*tok || !(life >= 60 && life <= 86400))
			abort();
		azml_secret_free(tok);
	}
	azml_auth_describe(400, NULL, body, "Entra ID", msg, sizeof(msg));
	if (!TERMINATED(msg))
		abort();
	if (azml_arm_parse_operation(body, st, sizeof(st), code, sizeof(code),
				     msg, sizeof(msg)) == 0 && !TERMINATED(st))
		abort();
	if (azml_arm_parse_nic_ip(body, ip, sizeof(ip)) == 0 && !TERMINATED(ip))
		abort();

	n = azml_arm_parse_usages(body, &u);
	for (size_t i = 0; i < n; i++)
		if (!TERMINATED(u[i].name))
			abort();
	free(u);

	n = azml_arm_parse_vm_sizes(body, &s);
	for (size_t i = 0; i < n; i++)
		if (!TERMINATED(s[i].name))
			abort();
	free(s);

	/* Scheduled Events: for a VM named as the fuzzer likes; ids only of
	 * the characters a reason and a POST body may carry. */
	{
		azml_sched_event_t ev[AZML_SCHED_EVENTS_MAX];
		int ne = azml_parse_scheduled_events(body, "myspotvm_0", ev,
						     AZML_SCHED_EVENTS_MAX);

		if (ne > AZML_SCHED_EVENTS_MAX)
			abort();
		for (int i = 0; i < ne; i++)
			if (!TERMINATED(ev[i].id) || !TERMINATED(ev[i].not_before) ||
			    !TERMINATED(ev[i].type_name) ||
			    !TERMINATED(ev[i].status) || !ev[i].id[0] ||
			    strspn(ev[i].id, "0123456789abcdefghijklmnopqrstuvwxyz"
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ-") !=
			    strlen(ev[i].id))
				abort();
	}

	/* A VM (GET), a VM list (value[]), an instanceView. */
	j = cJSON_Parse(body);
	azml_arm_parse_vm(j, &r);
	_check_vm(&r);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "value")) {
		memset(&r, 0, sizeof(r));
		azml_arm_parse_vm(it, &r);
		_check_vm(&r);
	}
	memset(&r, 0, sizeof(r));
	azml_arm_parse_instance_view(j, &r);
	_check_vm(&r);
	/* Strings that become URLs or durations: nextLink, Retry-After-like
	 * durations in operation bodies. */
	cJSON_ArrayForEach(it, j) {
		if (!cJSON_IsString(it))
			continue;
		azml_arm_op_id(it->valuestring, id, sizeof(id));
		if (!TERMINATED(id))
			abort();
		azml_http_url_allowed(it->valuestring);
		azml_iso8601_seconds(it->valuestring);
		azml_arm_name_ok(it->valuestring);
	}
	cJSON_Delete(j);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_log_init(AZML_LOG_STDERR, "arm-fuzz", AZML_LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	cJSON *ex;
	const cJSON *resp;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	_parse_all(body);

	/* The same string through the non-JSON helpers. */
	{
		char id[64];

		azml_arm_op_id(body, id, sizeof(id));
		azml_iso8601_seconds(body);
		azml_arm_name_ok(body);
		azml_http_url_allowed(body);
	}

	/* A Microsoft example file: each response body as an answer. */
	ex = cJSON_Parse(body);
	cJSON_ArrayForEach(resp, cJSON_GetObjectItem(ex, "responses")) {
		char *b = cJSON_PrintUnformatted(cJSON_GetObjectItem(resp, "body"));

		if (b) {
			_parse_all(b);
			cJSON_free(b);
		}
	}
	cJSON_Delete(ex);
	free(body);
	return 0;
}

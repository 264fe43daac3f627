/*
 * emulator-test.c - the ARM client against azure-emulator over real HTTP on
 * loopback: each operation, each fault, each error shape, and the
 * emulator's answers against Microsoft's examples.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "arm.h"
#include "auth.h"
#include "testutil.h"

#define SECRET "s3cret-for-tests"

static char dir[64];
static int port;
static pid_t emu;

static void _write(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fp = fopen(path, "w");
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

static void _start_emulator(void)
{
	char state[256], boot[512], log[256];
	const char *args[] = { "--state", state, "--client-secret", SECRET,
			       "--boot-command", boot, "--async-ms", "200",
			       "--seed", "7", "--boot-log", log, NULL };

	snprintf(state, sizeof(state), "%s/emulator.state", dir);
	snprintf(log, sizeof(log), "%s/boot.log", dir);
	snprintf(boot, sizeof(boot), "echo {vm} {node} {ip} > %s/{vm}.boot; "
		 "exec sleep 600", dir);
	emu = tu_emulator_start(&port, args);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/azml-emu-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	_write("secret", SECRET "\n", 0600);
	_write("secret-open", SECRET "\n", 0644);
	_write("wrong", "not-the-secret\n", 0600);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	_start_emulator();
}

static void teardown(void)
{
	char cmd[128];

	tu_emulator_stop(emu, port);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* A configuration pointing at the emulator; CRED is a Credential= value. */
static azml_conf_t *_conf(const char *cred)
{
	char *text;
	azml_conf_t *c;

	ck_assert_int_gt(asprintf(&text,
		"ClusterName=emutest\nSubscriptionId=00000000-0000-0000-0000-000000000001\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"ArmEndpoint=http://127.0.0.1:%d\nAuthorityHost=http://127.0.0.1:%d\n"
		"ImdsEndpoint=http://127.0.0.1:%d\n"
		"Credential=%s\nTenantId=11111111-1111-1111-1111-111111111111\n"
		"ClientId=22222222-2222-2222-2222-222222222222\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=100\n"
		"ComputeCluster=spot VmSize=Standard_D2s_v3 MaxNodes=10 Priority=LowPriority\n"
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=4 QuotaApproved=yes\n",
		port, port, port, cred), 0);
	c = azml_conf_load_string(text, "emu.conf");
	free(text);
	ck_assert_int_eq(c->nerrors, 0);
	return c;
}

static azml_conf_t *conf;
static azml_arm_t *arm;

static azml_arm_t *_arm(const char *cred)
{
	char err[512], c[300];
	azml_arm_t *a;

	snprintf(c, sizeof(c), "client-secret:%s/%s", dir, cred);
	conf = _conf(c);
	a = azml_arm_create(conf, NULL, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

static void _faults(const char *json)
{
	ck_assert_int_eq(tu_http("POST", port, "/emulator/faults", json, NULL, NULL), 200);
}

/* Results collected by callbacks. */
#define MAXR 256
static azml_vm_result_t res[MAXR];
static int nres;

static void _collect(void *arg, const azml_vm_result_t *r)
{
	if (nres < MAXR)
		res[nres++] = *r;
}

static azml_vm_result_t listed[MAXR];
static int nlisted;

static void _listed(void *arg, const azml_vm_result_t *v, size_t n,
		    const azml_vm_result_t *err)
{
	ck_assert_msg(err == NULL, "list: %s: %s", err ? err->code : "",
		      err ? err->message : "");
	nlisted = 0;
	for (size_t i = 0; i < n && i < MAXR; i++)
		listed[nlisted++] = v[i];
}

static void _create(const char *target, int first, int count)
{
	char node[64];

	for (int i = first; i < first + count; i++) {
		snprintf(node, sizeof(node), "%s-%d", target, i);
		azml_arm_vm_create(arm, azml_conf_find_target(conf, target), node,
				   _collect, NULL);
	}
}

static int _ok_count(void)
{
	int ok = 0;

	for (int i = 0; i < nres; i++)
		ok += res[i].ok;
	return ok;
}

static void _cleanup_arm(void)
{
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	arm = NULL;
	conf = NULL;
	nres = 0;
}

START_TEST(create_get_list_delete)
{
	char path[256], line[256];
	FILE *fp;

	arm = _arm("secret");
	_create("cpu", 1, 1);
	azml_arm_run(arm);
	ck_assert_int_eq(nres, 1);
	ck_assert_msg(res[0].ok, "%s: %s", res[0].code, res[0].message);
	ck_assert_str_eq(res[0].ip, "127.0.0.1");
	ck_assert(res[0].op_id[0]);
	/* it booted: the boot command ran with {vm} {node} {ip} */
	snprintf(path, sizeof(path), "%s/cpu-1.boot", dir);
	for (int i = 0; i < 50 && access(path, F_OK); i++)
		usleep(20000);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), fp));
	fclose(fp);
	ck_assert_str_eq(line, "cpu-1 cpu-1 127.0.0.1\n");

	nres = 0;
	azml_arm_vm_get(arm, "cpu-1", _collect, NULL);
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert(res[0].ok);
	ck_assert_str_eq(res[0].power, "running");
	ck_assert_str_eq(res[0].provisioning, "Succeeded");
	ck_assert_str_eq(res[0].node, "cpu-1");
	ck_assert_str_eq(res[0].cluster, "emutest");
	ck_assert_int_eq(nlisted, 1);
	ck_assert_str_eq(listed[0].name, "cpu-1");

	nres = 0;
	azml_arm_vm_delete(arm, "cpu-1", _collect, NULL);
	azml_arm_run(arm);
	ck_assert_msg(res[0].ok, "%s", res[0].message);
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(nlisted, 0);
	/* deleting what is gone is not an error */
	nres = 0;
	azml_arm_vm_delete(arm, "cpu-1", _collect, NULL);
	azml_arm_run(arm);
	ck_assert(res[0].ok);
	_cleanup_arm();
}
END_TEST

START_TEST(many_at_once_and_paging)
{
	const azml_http_stats_t *st;

	_faults("{\"latency_ms\":20,\"page_size\":7}");
	arm = _arm("secret");
	_create("cpu", 1, 40);
	azml_arm_run(arm);
	ck_assert_int_eq(nres, 40);
	ck_assert_int_eq(_ok_count(), 40);
	st = azml_arm_stats(arm);
	/* PUT, one poll (async 200 ms < Retry-After), NIC: 3 a VM */
	ck_assert_int_le(st->requests, 40 * 3 + 2);
	azml_arm_vm_list(arm, _listed, NULL);	/* 40 VMs, pages of 7 */
	azml_arm_run(arm);
	ck_assert_int_eq(nlisted, 40);
	_cleanup_arm();
}
END_TEST

/* An operation still InProgress is polled again, after Retry-After. */
START_TEST(slow_operations_polled_again)
{
	_faults("{\"async_ms\":2500}");
	arm = _arm("secret");
	_create("cpu", 1, 3);
	azml_arm_run(arm);
	for (int i = 0; i < nres; i++)
		ck_assert_msg(res[i].ok, "%s: %s: %s", res[i].name, res[i].code,
			      res[i].message);
	ck_assert_int_eq(nres, 3);
	/* PUT, two or more polls, NIC */
	ck_assert_int_ge(azml_arm_stats(arm)->requests, 3 * 4);
	nres = 0;
	for (int i = 1; i <= 3; i++) {
		char n[16];

		snprintf(n, sizeof(n), "cpu-%d", i);
		azml_arm_vm_delete(arm, n, _collect, NULL);
	}
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 3);
	_cleanup_arm();
}
END_TEST

START_TEST(quota_exceeded)
{
	arm = _arm("secret");
	_faults("{\"quota\":{\"standardDSv3Family\":8}}");
	_create("cpu", 1, 3);	/* 4 vCPUs each */
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 2);
	for (int i = 0; i < nres; i++)
		if (!res[i].ok) {
			ck_assert_str_eq(res[i].code, "QuotaExceeded");
			ck_assert_int_eq(res[i].http_status, 409);
			ck_assert_ptr_nonnull(strstr(res[i].message, "standardDSv3Family"));
			ck_assert_ptr_nonnull(strstr(res[i].message, "Current Limit: 8"));
		}
	_cleanup_arm();
}
END_TEST

START_TEST(capacity_errors)
{
	arm = _arm("secret");
	_faults("{\"capacity\":{\"Standard_NC6s_v3\":\"AllocationFailed:1\","
		"\"Standard_D2s_v3\":\"SkuNotAvailable\"}}");
	_create("gpu", 1, 3);
	_create("spot", 1, 1);
	azml_arm_run(arm);
	ck_assert_int_eq(nres, 4);
	ck_assert_int_eq(_ok_count(), 1);	/* the first NC6s_v3 only */
	for (int i = 0; i < nres; i++) {
		if (res[i].ok)
			continue;
		if (!strncmp(res[i].name, "spot", 4))
			ck_assert_str_eq(res[i].code, "SkuNotAvailable");
		else {
			ck_assert_str_eq(res[i].code, "AllocationFailed");
			ck_assert(res[i].op_id[0]);	/* failed in the operation */
		}
	}
	_cleanup_arm();
}
END_TEST

START_TEST(throttled_writes_complete)
{
	const azml_http_stats_t *st;

	_faults("{\"write_burst\":5,\"write_rate\":10}");
	arm = _arm("secret");
	_create("cpu", 1, 25);
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 25);
	st = azml_arm_stats(arm);
	/* the pacing kept 429s rare; every VM was created exactly once */
	ck_assert_int_le(st->throttled, 25);
	{
		char *out = NULL;
		cJSON *j;

		tu_http("GET", port, "/emulator/stats", NULL, NULL, &out);
		j = cJSON_Parse(out);
		ck_assert_int_eq(cJSON_GetObjectItem(j, "creates")->valueint, 25);
		cJSON_Delete(j);
		free(out);
	}
	_cleanup_arm();
}
END_TEST

START_TEST(server_errors_retried)
{
	const azml_http_stats_t *st;

	_faults("{\"error_rate\":0.3}");
	arm = _arm("secret");
	_create("cpu", 1, 15);
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 15);
	st = azml_arm_stats(arm);
	ck_assert_int_gt(st->server_errors, 0);
	ck_assert_int_gt(st->retries, 0);
	nres = 0;
	for (int i = 1; i <= 15; i++) {
		char n[16];

		snprintf(n, sizeof(n), "cpu-%d", i);
		azml_arm_vm_delete(arm, n, _collect, NULL);
	}
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 15);
	_cleanup_arm();
}
END_TEST

START_TEST(credentials)
{
	char err[512];
	azml_conf_t *c;
	azml_arm_t *a;
	char path[300];

	/* a secret readable by others is refused, naming the file */
	snprintf(path, sizeof(path), "client-secret:%s/secret-open", dir);
	c = _conf(path);
	ck_assert_ptr_null(azml_arm_create(c, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "refusing secret file"));
	ck_assert_ptr_nonnull(strstr(err, "secret-open"));
	ck_assert_ptr_nonnull(strstr(err, "0644"));
	ck_assert_ptr_null(strstr(err, SECRET));
	azml_conf_destroy(c);

	/* a wrong secret: Entra ID's refusal, without the secret */
	arm = _arm("wrong");
	_create("cpu", 1, 1);
	azml_arm_run(arm);
	ck_assert(!res[0].ok);
	ck_assert_str_eq(res[0].code, "AuthenticationFailed");
	ck_assert_ptr_nonnull(strstr(res[0].message, "invalid_client"));
	ck_assert_ptr_null(strstr(res[0].message, "not-the-secret"));
	_cleanup_arm();

	/* managed identity through IMDS */
	c = _conf("managed-identity");
	a = azml_arm_create(c, NULL, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	conf = c;
	arm = a;
	_create("cpu", 1, 1);
	azml_arm_run(arm);
	ck_assert_msg(res[0].ok, "%s", res[0].message);
	_cleanup_arm();

	/* env */
	setenv("AZURE_TENANT_ID", "t", 1);
	setenv("AZURE_CLIENT_ID", "c", 1);
	unsetenv("AZURE_CLIENT_SECRET");
	c = _conf("env");
	ck_assert_ptr_null(azml_arm_create(c, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "AZURE_CLIENT_SECRET"));
	azml_conf_destroy(c);
}
END_TEST

START_TEST(error_shapes)
{
	char *out = NULL, tokhdr[256];
	cJSON *j;
	const char *hdr[] = { tokhdr, NULL };
	const char *vm = "/subscriptions/s/resourceGroups/rg/providers/"
			 "Microsoft.Compute/virtualMachines/";
	char path[512];

	/* 401 without a token */
	snprintf(path, sizeof(path), "%sx?api-version=2024-07-01", vm);
	ck_assert_int_eq(tu_http("GET", port, path, NULL, NULL, &out), 401);
	j = cJSON_Parse(out);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"),
					     "code")->valuestring, "AuthenticationFailed");
	cJSON_Delete(j);
	free(out);
	/* a token from the Entra endpoint */
	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=" SECRET
		"&scope=https%3A%2F%2Fmanagement.azure.com%2F.default", NULL, &out), 200);
	j = cJSON_Parse(out);
	snprintf(tokhdr, sizeof(tokhdr), "Authorization: Bearer %s",
		 cJSON_GetObjectItem(j, "access_token")->valuestring);
	cJSON_Delete(j);
	free(out);
	/* 404 */
	ck_assert_int_eq(tu_http("GET", port, path, NULL, hdr, &out), 404);
	ck_assert_ptr_nonnull(strstr(out, "\"code\":\"ResourceNotFound\""));
	free(out);
	/* 400: bad JSON, no vmSize, unknown size, bad name, no api-version */
	ck_assert_int_eq(tu_http("PUT", port, path, "{not json", hdr, &out), 400);
	ck_assert_ptr_nonnull(strstr(out, "InvalidRequestContent"));
	free(out);
	ck_assert_int_eq(tu_http("PUT", port, path, "{\"location\":\"eastus\","
		"\"properties\":{}}", hdr, &out), 400);
	ck_assert_ptr_nonnull(strstr(out, "\"code\":\"InvalidParameter\""));
	free(out);
	ck_assert_int_eq(tu_http("PUT", port, path, "{\"location\":\"eastus\","
		"\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_Q9\"}}}",
		hdr, &out), 400);
	free(out);
	snprintf(path, sizeof(path), "%sa%%3Fb?api-version=2024-07-01", vm);
	ck_assert_int_eq(tu_http("GET", port, path, NULL, hdr, NULL), 400);
	snprintf(path, sizeof(path), "%sx", vm);
	ck_assert_int_eq(tu_http("GET", port, path, NULL, hdr, &out), 400);
	ck_assert_ptr_nonnull(strstr(out, "MissingApiVersionParameter"));
	free(out);
	/* 409: a create while the VM is being deleted */
	_faults("{\"async_ms\":3000}");
	snprintf(path, sizeof(path), "%sy?api-version=2024-07-01", vm);
	const char *body = "{\"location\":\"eastus\",\"properties\":"
			   "{\"hardwareProfile\":{\"vmSize\":\"Standard_D2s_v3\"}}}";
	ck_assert_int_eq(tu_http("PUT", port, path, body, hdr, NULL), 201);
	ck_assert_int_eq(tu_http("DELETE", port, path, NULL, hdr, NULL), 202);
	ck_assert_int_eq(tu_http("PUT", port, path, body, hdr, &out), 409);
	ck_assert_ptr_nonnull(strstr(out, "OperationNotAllowed"));
	free(out);
	/* IMDS without Metadata: true */
	ck_assert_int_eq(tu_http("GET", port, "/metadata/identity/oauth2/token?"
		"api-version=2018-02-01&resource=x", NULL, NULL, NULL), 400);
	/* a wrong client secret */
	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=nope"
		"&scope=x", NULL, &out), 401);
	ck_assert_ptr_nonnull(strstr(out, "invalid_client"));
	free(out);
}
END_TEST

START_TEST(deallocate_and_start)
{
	arm = _arm("secret");
	_create("cpu", 1, 1);
	azml_arm_run(arm);
	ck_assert(res[0].ok);
	nres = 0;
	azml_arm_vm_power(arm, "cpu-1", false, _collect, NULL);
	azml_arm_run(arm);
	ck_assert_msg(res[0].ok, "%s", res[0].message);
	azml_arm_vm_get(arm, "cpu-1", _collect, NULL);
	azml_arm_run(arm);
	ck_assert_str_eq(res[1].power, "deallocated");
	nres = 0;
	azml_arm_vm_power(arm, "cpu-1", true, _collect, NULL);
	azml_arm_run(arm);
	ck_assert(res[0].ok);
	azml_arm_vm_get(arm, "cpu-1", _collect, NULL);
	azml_arm_run(arm);
	ck_assert_str_eq(res[1].power, "running");
	_cleanup_arm();
}
END_TEST

static void _token_header(char *hdr, size_t n);
static int _put_vm(const char *hdr, const char *name, const char *tags,
		   char **out);
static char *_code(const char *out);

static azml_usage_t usage[64];
static size_t nusage;

static void _usages(void *arg, const azml_usage_t *u, size_t n,
		    const azml_vm_result_t *err)
{
	ck_assert_ptr_null(err);
	nusage = n < 64 ? n : 64;
	memcpy(usage, u, nusage * sizeof(*u));
}

static size_t nsizes;

static void _sizes(void *arg, const azml_vm_size_t *s, size_t n,
		   const azml_vm_result_t *err)
{
	ck_assert_ptr_null(err);
	nsizes = n;
}

static const azml_usage_t *_usage_named(const char *name)
{
	for (size_t i = 0; i < nusage; i++)
		if (!strcmp(usage[i].name, name))
			return &usage[i];
	return NULL;
}

START_TEST(usages_and_sizes)
{
	const azml_usage_t *u;
	size_t families = 0;

	_faults("{\"quota\":{\"standardDSv3Family\":100,\"standardNCSv3Family\":24}}");
	arm = _arm("secret");
	_create("cpu", 1, 2);
	_create("spot", 1, 1);
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 3);
	azml_arm_usages(arm, _usages, NULL);
	azml_arm_vm_sizes(arm, _sizes, NULL);
	azml_arm_run(arm);
	/* every family of the catalog, as Azure lists them all */
	for (size_t i = 0; i < azml_catalog_series_count(); i++) {
		const char *f = azml_series_quota_family(azml_catalog_series_at(i));

		if (!f)
			continue;
		u = _usage_named(f);
		ck_assert_msg(u != NULL, "no usage for %s", f);
		ck_assert_int_gt(u->limit, 0);
		families++;
	}
	ck_assert_int_ge(families, 20);
	u = _usage_named("standardDSv3Family");	/* two D4s_v3; Spot apart */
	ck_assert_int_eq(u->current, 8);
	ck_assert_int_eq(u->limit, 100);
	ck_assert_int_eq(_usage_named("standardNCSv3Family")->limit, 24);
	ck_assert_int_eq(_usage_named("standardNCSv3Family")->current, 0);
	ck_assert_int_eq(_usage_named("cores")->current, 8);
	ck_assert_int_eq(_usage_named("lowPriorityCores")->current, 2);
	ck_assert_int_eq(_usage_named("virtualMachines")->current, 3);
	ck_assert_int_eq(nsizes, azml_catalog_size_count());
	_cleanup_arm();
}
END_TEST

/* The usages answer in Azure's shape, with no quota fault set; regional
 * quota bites like a family's. */
START_TEST(usages_shape_and_regional_quota)
{
	char hdr[256], *out = NULL, missing[64] = "";
	const char *h[] = { hdr, NULL };
	cJSON *j, *ex, *it;
	bool cores = false;

	_token_header(hdr, sizeof(hdr));
	ck_assert_int_eq(tu_http("GET", port, "/subscriptions/s/providers/"
		"Microsoft.Compute/locations/eastus/usages?api-version=2024-07-01",
		NULL, h, &out), 200);
	j = cJSON_Parse(out);
	free(out);
	ex = tu_example("compute/Usage_List_MaximumSet_Gen.json");
	ck_assert_int_gt(cJSON_GetArraySize(cJSON_GetObjectItem(j, "value")), 20);
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(j, "value")) {
		const cJSON *name = cJSON_GetObjectItem(it, "name");

		ck_assert_msg(!tu_same_keys(cJSON_GetArrayItem(cJSON_GetObjectItem(
			tu_response_body(ex, "200"), "value"), 0), it, missing,
			sizeof(missing)), "missing %s", missing);
		if (!strcmp(cJSON_GetObjectItem(name, "value")->valuestring,
			    "cores")) {
			ck_assert_str_eq(cJSON_GetObjectItem(name,
				"localizedValue")->valuestring,
				"Total Regional vCPUs");
			cores = true;
		}
	}
	ck_assert(cores);
	out = cJSON_PrintUnformatted(j);
	ck_assert_ptr_nonnull(strstr(out, "\"localizedValue\":"
				     "\"Standard NCSv3 Family vCPUs\""));
	cJSON_free(out);
	cJSON_Delete(j);
	cJSON_Delete(ex);

	_faults("{\"quota\":{\"cores\":6}}");
	ck_assert_int_eq(_put_vm(hdr, "q1", "{}", NULL), 201);	/* 2 vCPUs */
	ck_assert_int_eq(_put_vm(hdr, "q2", "{}", NULL), 201);
	ck_assert_int_eq(_put_vm(hdr, "q3", "{}", NULL), 201);
	ck_assert_int_eq(_put_vm(hdr, "q4", "{}", &out), 409);
	ck_assert_str_eq(_code(out), "QuotaExceeded");
	ck_assert_ptr_nonnull(strstr(out, "Total Regional Cores"));
	free(out);
	_faults("{\"quota\":{\"virtualMachines\":3}}");
	ck_assert_int_eq(_put_vm(hdr, "q4", "{}", &out), 409);
	free(out);
}
END_TEST

/* The emulator restarts in the middle of operations: nothing is lost. */
START_TEST(emulator_restart)
{
	char state[256], boot[300], listen[64];
	pid_t helper;

	_faults("{\"async_ms\":1500}");
	arm = _arm("secret");
	_create("cpu", 1, 5);
	snprintf(state, sizeof(state), "%s/emulator.state", dir);
	snprintf(boot, sizeof(boot), "exec sleep 600");
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", port);
	helper = fork();
	if (helper == 0) {
		usleep(500000);
		kill(emu, SIGTERM);
		usleep(500000);
		freopen("/dev/null", "w", stderr);
		freopen("/dev/null", "w", stdout);
		execl(AZML_BUILD_DIR "/contrib/emulator/azure-emulator",
		      "azure-emulator", "--listen", listen, "--state", state,
		      "--client-secret", SECRET, "--boot-command", boot,
		      "--async-ms", "1500", (char *) NULL);
		_exit(127);
	}
	azml_arm_run(arm);
	ck_assert_int_eq(nres, 5);
	for (int i = 0; i < nres; i++)
		ck_assert_msg(res[i].ok, "%s: %s: %s", res[i].name, res[i].code,
			      res[i].message);
	ck_assert_int_gt(azml_arm_stats(arm)->transport_errors, 0);
	waitpid(emu, NULL, 0);
	emu = helper;
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(nlisted, 5);
	_cleanup_arm();
}
END_TEST

/* A low-priority VM is evicted: Scheduled Events announce it, then it is
 * gone. */
START_TEST(eviction)
{
	char *out = NULL, missing[64] = "";
	cJSON *j, *ex;
	const char *md[] = { "Metadata: true", NULL };

	arm = _arm("secret");
	_create("spot", 1, 1);
	_create("cpu", 1, 1);
	azml_arm_run(arm);
	ck_assert_int_eq(_ok_count(), 2);
	ck_assert_int_eq(tu_http("POST", port, "/emulator/evict/cpu-1?in=1", NULL,
				 NULL, NULL), 409);	/* not a Spot VM */
	ck_assert_int_eq(tu_http("POST", port, "/emulator/evict/spot-1?in=1", NULL,
				 NULL, NULL), 202);
	ck_assert_int_eq(tu_http("GET", port, "/metadata/scheduledevents?"
		"api-version=2020-07-01&vm=spot-1", NULL, md, &out), 200);
	j = cJSON_Parse(out);
	free(out);
	ex = tu_example("imds/scheduledevents-preempt.json");
	ck_assert_msg(!tu_same_keys(ex, j, missing, sizeof(missing)), "missing %s", missing);
	ck_assert_msg(!tu_same_keys(cJSON_GetArrayItem(cJSON_GetObjectItem(ex, "Events"), 0),
				    cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Events"), 0),
				    missing, sizeof(missing)), "missing %s", missing);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
		"Events"), 0), "EventType")->valuestring, "Preempt");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
		cJSON_GetObjectItem(j, "Events"), 0), "Resources"), 0)->valuestring, "spot-1");
	cJSON_Delete(j);
	cJSON_Delete(ex);
	/* the other VM has no event */
	ck_assert_int_eq(tu_http("GET", port, "/metadata/scheduledevents?"
		"api-version=2020-07-01&vm=cpu-1", NULL, md, &out), 200);
	ck_assert_ptr_nonnull(strstr(out, "\"Events\":[]"));
	free(out);
	sleep(2);
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(nlisted, 1);
	ck_assert_str_eq(listed[0].name, "cpu-1");
	_cleanup_arm();
}
END_TEST

/* An Entra ID token for raw requests: "Authorization: Bearer ..." in HDR. */
static void _token_header(char *hdr, size_t n)
{
	char *out = NULL;
	cJSON *j;

	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=" SECRET
		"&scope=x", NULL, &out), 200);
	j = cJSON_Parse(out);
	snprintf(hdr, n, "Authorization: Bearer %s",
		 cJSON_GetObjectItem(j, "access_token")->valuestring);
	cJSON_Delete(j);
	free(out);
}

static const char *vm_path = "/subscriptions/s/resourceGroups/rg/providers/"
			     "Microsoft.Compute/virtualMachines/";

/* PUT VM NAME with TAGS (a JSON object text); returns the status. */
static int _put_vm(const char *hdr, const char *name, const char *tags,
		   char **out)
{
	const char *h[] = { hdr, NULL };
	char path[512], *body;
	int st;

	snprintf(path, sizeof(path), "%s%s?api-version=2024-07-01", vm_path, name);
	ck_assert_int_gt(asprintf(&body, "{\"location\":\"eastus\",\"tags\":%s,"
		"\"properties\":{\"hardwareProfile\":{\"vmSize\":"
		"\"Standard_D2s_v3\"}}}", tags), 0);
	st = tu_http("PUT", port, path, body, h, out);
	free(body);
	return st;
}

static char *_code(const char *out)
{
	static char code[128];
	cJSON *j = cJSON_Parse(out ? out : "");

	snprintf(code, sizeof(code), "%s", cJSON_GetStringValue(
		cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"), "code")));
	cJSON_Delete(j);
	return code;
}

/* The slurm-node tag is request content: it never becomes shell text. */
START_TEST(boot_command_injection)
{
	char hdr[256], *out = NULL, tags[512], pwned[256], path[256];
	static const char *bad[][2] = { { "x; id > ", "; #" },
		{ "$(id > ", ")" }, { "`id > ", "`" }, { "x\\nid > ", "" },
		{ "-x ", "" }, { "a b", "" } };

	snprintf(pwned, sizeof(pwned), "%s/pwned", dir);
	_token_header(hdr, sizeof(hdr));
	/* a tag that is not a node name: 400 InvalidParameter, no VM */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char node[300];

		snprintf(node, sizeof(node), "%s%s%s", bad[i][0], pwned,
			 bad[i][1]);
		snprintf(tags, sizeof(tags), "{\"slurm-node\":\"%s\"}", node);
		ck_assert_int_eq(_put_vm(hdr, "inj", tags, &out), 400);
		ck_assert_str_eq(_code(out), "InvalidParameter");
		free(out);
	}
	/* nor a VM name that is not one */
	snprintf(path, sizeof(path), "%sx%%3Bid?api-version=2024-07-01", vm_path);
	ck_assert_int_eq(tu_http("PUT", port, path, "{}", (const char *[]) { hdr,
				 NULL }, &out), 400);
	free(out);
	ck_assert_int_eq(_put_vm(hdr, "-x", "{}", NULL), 400);
	ck_assert_int_eq(_put_vm(hdr, "x.", "{}", NULL), 400);
	/* a valid one boots, and {node} reaches the command as an argument */
	ck_assert_int_eq(_put_vm(hdr, "ok-1", "{\"slurm-node\":\"n_1.a-b\"}",
				 NULL), 201);
	snprintf(path, sizeof(path), "%s/ok-1.boot", dir);
	for (int i = 0; i < 100 && access(path, F_OK); i++)
		usleep(20000);
	ck_assert_int_eq(access(path, F_OK), 0);
	usleep(200000);
	ck_assert_int_ne(access(pwned, F_OK), 0);
	/* the VMs' consoles are the emulator's user's alone */
	{
		struct stat sb;

		snprintf(path, sizeof(path), "%s/boot.log", dir);
		ck_assert_int_eq(stat(path, &sb), 0);
		ck_assert_int_eq(sb.st_mode & 077, 0);
	}
}
END_TEST

/* Azure's tag limits, and no overflow from a huge tag. */
START_TEST(tag_limits)
{
	char hdr[256], *out = NULL, *big, *tags;
	size_t n = 20000;

	_token_header(hdr, sizeof(hdr));
	big = malloc(n + 1);
	memset(big, 'a', n);
	big[n] = '\0';
	/* a 20 KB slurm-node tag (once a stack overflow in the boot command) */
	ck_assert_int_gt(asprintf(&tags, "{\"slurm-node\":\"%s\"}", big), 0);
	ck_assert_int_eq(_put_vm(hdr, "t1", tags, &out), 400);
	ck_assert_str_eq(_code(out), "InvalidTagValueLength");
	free(out);
	free(tags);
	/* 257 characters: too long; 256 (two bytes each): fine */
	big[257] = '\0';
	ck_assert_int_gt(asprintf(&tags, "{\"note\":\"%s\"}", big), 0);
	ck_assert_int_eq(_put_vm(hdr, "t1", tags, &out), 400);
	ck_assert_str_eq(_code(out), "InvalidTagValueLength");
	free(out);
	free(tags);
	tags = malloc(2 * 256 + 32);
	strcpy(tags, "{\"note\":\"");
	for (int i = 0; i < 256; i++)
		strcat(tags, "\xc3\xa9");
	strcat(tags, "\"}");
	ck_assert_int_eq(_put_vm(hdr, "t1", tags, NULL), 201);
	free(tags);
	/* a name of 513 characters */
	big[513] = '\0';
	memset(big, 'k', 513);
	ck_assert_int_gt(asprintf(&tags, "{\"%s\":\"v\"}", big), 0);
	ck_assert_int_eq(_put_vm(hdr, "t2", tags, &out), 400);
	ck_assert_str_eq(_code(out), "InvalidTagName");
	free(out);
	free(tags);
	/* reserved characters in a name; a value that is not a string */
	ck_assert_int_eq(_put_vm(hdr, "t2", "{\"a/b\":\"v\"}", &out), 400);
	ck_assert_str_eq(_code(out), "InvalidTagNameCharacters");
	free(out);
	ck_assert_int_eq(_put_vm(hdr, "t2", "{\"a\":7}", &out), 400);
	ck_assert_str_eq(_code(out), "InvalidRequestContent");
	free(out);
	/* 51 tags */
	{
		char *p = tags = malloc(51 * 16 + 8);

		p += sprintf(p, "{");
		for (int i = 0; i < 51; i++)
			p += sprintf(p, "%s\"k%d\":\"v\"", i ? "," : "", i);
		sprintf(p, "}");
		ck_assert_int_eq(_put_vm(hdr, "t2", tags, &out), 400);
		ck_assert_str_eq(_code(out), "InvalidTags");
		free(out);
		/* 50 are allowed */
		strcpy(strstr(tags, ",\"k50\""), "}");
		ck_assert_int_eq(_put_vm(hdr, "t2", tags, NULL), 201);
		free(tags);
	}
	free(big);
}
END_TEST

/* The status of METHOD PATH asked by 'nobody' (uid 65534), or -1. */
static int _http_as_nobody(const char *method, int p, const char *path,
			   const char *body, const char *const *hdr)
{
	int fd[2], st = -1;
	pid_t pid;

	ck_assert_int_eq(pipe(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fd[0]);
		if (setgid(65534) || setuid(65534))
			_exit(1);
		st = tu_http(method, p, path, body, hdr, NULL);
		_exit(write(fd[1], &st, sizeof(st)) == sizeof(st) ? 0 : 1);
	}
	close(fd[1]);
	if (read(fd[0], &st, sizeof(st)) != sizeof(st))
		st = -1;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	return st;
}

/* IMDS as Microsoft documents it: Metadata: true (lower case), no
 * X-Forwarded-For; and only for those inside the "VMs". */
START_TEST(imds_guards)
{
	const char *tok = "/metadata/identity/oauth2/token?api-version="
			  "2018-02-01&resource=https%3A%2F%2Fvault.azure.net";
	const char *ev = "/metadata/scheduledevents?api-version=2020-07-01&vm=x";
	const char *md[] = { "Metadata: true", NULL };
	const char *upper[] = { "Metadata: True", NULL };
	const char *xff[] = { "Metadata: true", "X-Forwarded-For: 192.0.2.1",
			      NULL };
	char *out = NULL;
	cJSON *j;
	struct stat sb;
	char state[256];

	ck_assert_int_eq(tu_http("GET", port, tok, NULL, NULL, &out), 400);
	j = cJSON_Parse(out);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
			 "bad_request_102");
	ck_assert_str_eq(cJSON_GetObjectItem(j, "error_description")->valuestring,
			 "Required metadata header not specified");
	ck_assert_ptr_null(cJSON_GetObjectItem(j, "access_token"));
	cJSON_Delete(j);
	free(out);
	ck_assert_int_eq(tu_http("GET", port, tok, NULL, upper, NULL), 400);
	ck_assert_int_eq(tu_http("GET", port, tok, NULL, xff, &out), 400);
	ck_assert_ptr_null(strstr(out, "access_token"));
	free(out);
	ck_assert_int_eq(tu_http("GET", port, ev, NULL, NULL, &out), 400);
	j = cJSON_Parse(out);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "error")->valuestring,
			 "Bad request. Required metadata header not specified");
	cJSON_Delete(j);
	free(out);
	ck_assert_int_eq(tu_http("GET", port, ev, NULL, xff, NULL), 400);
	ck_assert_int_eq(tu_http("GET", port, tok, NULL, md, NULL), 200);

	/* the journal holds tokens: no one else reads it */
	snprintf(state, sizeof(state), "%s/emulator.state", dir);
	ck_assert_int_eq(stat(state, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 077, 0);

	/* another local user gets no token and no admin API */
	if (geteuid() != 0) {
		fprintf(stderr, "imds_guards: not root, other users not tried\n");
		return;
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(_http_as_nobody("GET", port, tok, NULL, md), 401);
	ck_assert_int_eq(_http_as_nobody("GET", port, ev, NULL, md), 403);
	ck_assert_int_eq(_http_as_nobody("GET", port, "/emulator/stats", NULL,
					 NULL), 403);
	ck_assert_int_eq(_http_as_nobody("POST", port, "/emulator/reset", NULL,
					 NULL), 403);
	/* with the client secret, Entra ID answers anyone who knows it */
	ck_assert_int_eq(_http_as_nobody("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=" SECRET
		"&scope=x", NULL), 200);
	/* without one, only our own user and root get tokens */
	{
		const char *args[] = { NULL };
		int p2;
		pid_t e2 = tu_emulator_start(&p2, args);
		const char *form = "grant_type=client_credentials&client_id=c&"
				   "client_secret=any&scope=x";

		ck_assert_int_eq(_http_as_nobody("POST", p2, "/t/oauth2/v2.0/token",
						 form, NULL), 401);
		ck_assert_int_eq(tu_http("POST", p2, "/t/oauth2/v2.0/token", form,
					 NULL, NULL), 200);
		tu_emulator_stop(e2, p2);
	}
}
END_TEST

/* Everything a request names is bounded, with Azure's errors. */
START_TEST(input_bounds)
{
	char hdr[256], *out = NULL, path[1024], *body;
	const char *h[] = { hdr, NULL };
	char rg[301];
	size_t big = (1 << 20) + 1;

	_token_header(hdr, sizeof(hdr));
	/* a body over 1 MiB */
	body = malloc(big + 1);
	memset(body, ' ', big);
	body[big] = '\0';
	body[0] = '{';
	snprintf(path, sizeof(path), "%sbig?api-version=2024-07-01", vm_path);
	ck_assert_int_eq(tu_http("PUT", port, path, body, h, &out), 413);
	ck_assert_str_eq(_code(out), "RequestEntityTooLarge");
	free(out);
	free(body);
	/* a resource group of 300 characters; one ending in '.' */
	memset(rg, 'g', 300);
	rg[300] = '\0';
	snprintf(path, sizeof(path), "/subscriptions/s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines?api-version=2024-07-01", rg);
	ck_assert_int_eq(tu_http("GET", port, path, NULL, h, &out), 400);
	ck_assert_str_eq(_code(out), "InvalidResourceGroupName");
	free(out);
	ck_assert_int_eq(tu_http("GET", port, "/subscriptions/s/resourceGroups/"
		"rg./providers/Microsoft.Compute/virtualMachines?api-version="
		"2024-07-01", NULL, h, NULL), 400);
	/* a subscription that is not one */
	ck_assert_int_eq(tu_http("GET", port, "/subscriptions/a%3Bb/providers/"
		"Microsoft.Compute/locations/eastus/usages?api-version=2024-07-01",
		NULL, h, &out), 400);
	ck_assert_str_eq(_code(out), "InvalidSubscriptionId");
	free(out);
	/* a location of 100 characters */
	memset(rg, 'l', 100);
	rg[100] = '\0';
	ck_assert_int_gt(asprintf(&body, "{\"location\":\"%s\",\"properties\":"
		"{\"hardwareProfile\":{\"vmSize\":\"Standard_D2s_v3\"}}}", rg), 0);
	snprintf(path, sizeof(path), "%sloc?api-version=2024-07-01", vm_path);
	ck_assert_int_eq(tu_http("PUT", port, path, body, h, &out), 400);
	ck_assert_str_eq(_code(out), "LocationNotAvailableForResourceType");
	free(out);
	free(body);
}
END_TEST

/* Tokens expire and finished operations are forgotten: neither list grows
 * without end. */
START_TEST(tokens_and_operations_expire)
{
	char state[256], *out = NULL;
	const char *args[] = { "--state", state, NULL };
	const char *old[] = { "Authorization: Bearer emu.old", NULL };
	const char *fresh[] = { "Authorization: Bearer emu.fresh", NULL };
	const char *vm = "/subscriptions/s/resourceGroups/rg/providers/"
			 "Microsoft.Compute/virtualMachines/none?api-version="
			 "2024-07-01";
	const char *op_old = "/subscriptions/s/providers/Microsoft.Compute/"
			     "locations/eastus/operations/op-old?api-version="
			     "2024-07-01";
	const char *op_new = "/subscriptions/s/providers/Microsoft.Compute/"
			     "locations/eastus/operations/op-new?api-version="
			     "2024-07-01";
	FILE *fp;
	int p2;
	pid_t e2;

	snprintf(state, sizeof(state), "%s/old.state", dir);
	fp = fopen(state, "w");
	fprintf(fp, "{\"op\":\"token\",\"token\":\"emu.old\",\"at\":%ld}\n"
		"{\"op\":\"token\",\"token\":\"emu.fresh\",\"at\":%ld}\n"
		"{\"op\":\"operation\",\"id\":\"op-old\",\"kind\":0,\"vmkey\":\"x\","
		"\"start\":1000,\"done_at\":1000,\"finished\":true}\n"
		"{\"op\":\"operation\",\"id\":\"op-new\",\"kind\":0,\"vmkey\":\"x\","
		"\"start\":%ld,\"done_at\":%ld,\"finished\":true}\n"
		"{\"op\":\"operation\",\"id\":\"op-bad\"}\n"
		"{\"op\":\"operation\",\"kind\":\n",
		(long) time(NULL) - 5 * 3600, (long) time(NULL),
		(long) time(NULL), (long) time(NULL));
	fclose(fp);
	e2 = tu_emulator_start(&p2, args);
	ck_assert_int_eq(tu_http("GET", p2, vm, NULL, old, &out), 401);
	ck_assert_str_eq(_code(out), "ExpiredAuthenticationToken");
	free(out);
	ck_assert_int_eq(tu_http("GET", p2, vm, NULL, fresh, NULL), 404);
	ck_assert_int_eq(tu_http("GET", p2, op_old, NULL, fresh, NULL), 404);
	ck_assert_int_eq(tu_http("GET", p2, op_new, NULL, fresh, NULL), 200);
	tu_emulator_stop(e2, p2);
}
END_TEST

/* Token answers carry the fields of the documented samples. */
START_TEST(token_shapes)
{
	char *out = NULL, missing[64] = "";
	const char *md[] = { "Metadata: true", NULL };
	cJSON *j, *ex;

	ck_assert_int_eq(tu_http("GET", port, "/metadata/identity/oauth2/token?"
		"api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com%2F",
		NULL, md, &out), 200);
	j = cJSON_Parse(out);
	ex = tu_example("imds/identity-token.json");
	ck_assert_msg(!tu_same_keys(ex, j, missing, sizeof(missing)), "missing %s", missing);
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(j, "expires_on")));
	cJSON_Delete(j);
	cJSON_Delete(ex);
	free(out);
	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=" SECRET
		"&scope=x", NULL, &out), 200);
	j = cJSON_Parse(out);
	ex = tu_example("imds/aad-token-v2.json");
	ck_assert_msg(!tu_same_keys(ex, j, missing, sizeof(missing)), "missing %s", missing);
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(j, "expires_in")));
	cJSON_Delete(j);
	cJSON_Delete(ex);
	free(out);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("client-emulator");

	tcase_set_timeout(tc, 60);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, create_get_list_delete);
	tcase_add_test(tc, many_at_once_and_paging);
	tcase_add_test(tc, slow_operations_polled_again);
	tcase_add_test(tc, quota_exceeded);
	tcase_add_test(tc, capacity_errors);
	tcase_add_test(tc, throttled_writes_complete);
	tcase_add_test(tc, server_errors_retried);
	tcase_add_test(tc, credentials);
	tcase_add_test(tc, error_shapes);
	tcase_add_test(tc, deallocate_and_start);
	tcase_add_test(tc, usages_and_sizes);
	tu_add_shared_test(tc, usages_shape_and_regional_quota);
	tcase_add_test(tc, emulator_restart);
	tu_add_shared_test(tc, eviction);
	tu_add_shared_test(tc, token_shapes);
	tcase_add_test(tc, boot_command_injection);
	tcase_add_test(tc, tag_limits);
	tcase_add_test(tc, imds_guards);
	tcase_add_test(tc, input_bounds);
	tcase_add_test(tc, tokens_and_operations_expire);
	return tu_run("emulator", tc);
}

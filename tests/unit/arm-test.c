/*
 * arm-test.c - every example in ../shared/azure-rest-examples through the
 * client's parsers and builders.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arm.h"
#include "testutil.h"

static char *_print(const cJSON *j)
{
	return j ? cJSON_PrintUnformatted(j) : strdup("");
}

START_TEST(vm_get)
{
	cJSON *ex = tu_example("compute/VirtualMachine_Get.json");
	char *body = _print(tu_response_body(ex, "200"));
	cJSON *vm = cJSON_Parse(body);
	azml_vm_result_t r = { 0 };

	azml_arm_parse_vm(vm, &r);
	ck_assert_str_eq(r.name, "myVM");
	ck_assert_str_eq(r.provisioning, "Succeeded");
	ck_assert_str_eq(r.size, "Standard_DS3_v2");
	ck_assert(!r.spot);
	cJSON_Delete(vm);
	free(body);
	cJSON_Delete(ex);
}
END_TEST

START_TEST(vm_instance_view)
{
	cJSON *ex = tu_example("compute/VirtualMachine_Get_InstanceView.json");
	azml_vm_result_t r = { 0 };

	azml_arm_parse_instance_view(tu_response_body(ex, "200"), &r);
	ck_assert_str_eq(r.power, "running");
	ck_assert_str_eq(r.provisioning, "succeeded");
	cJSON_Delete(ex);
}
END_TEST

START_TEST(vm_list)
{
	cJSON *ex = tu_example("compute/VirtualMachine_List_MaximumSet_Gen.json");
	const cJSON *body = tu_response_body(ex, "200"), *it;
	int n = 0;

	ck_assert(cJSON_IsString(cJSON_GetObjectItem(body, "nextLink")));
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(body, "value")) {
		azml_vm_result_t r = { 0 };

		azml_arm_parse_vm(it, &r);
		ck_assert(r.name[0]);
		ck_assert(r.provisioning[0]);
		ck_assert(!r.spot);	/* "priority": "Regular" */
		n++;
	}
	ck_assert_int_eq(n, 2);
	cJSON_Delete(ex);
}
END_TEST

/* Our create body has every field the example's request has, in the same
 * places, and the example's 201 answer parses as "Creating". */
START_TEST(vm_create_body)
{
	cJSON *ex = tu_example("compute/VirtualMachine_Create_WithSshAuthentication.json");
	const cJSON *req = cJSON_GetObjectItem(cJSON_GetObjectItem(ex, "parameters"),
					       "parameters");
	azml_conf_t *c;
	cJSON *ours;
	char err[256], missing[128] = "", keyfile[] = "/tmp/azml-key-XXXXXX";
	int fd = mkstemp(keyfile);
	char *text, *body;
	azml_vm_result_t r = { 0 };

	ck_assert(write(fd, "ssh-ed25519 AAAAC3Nza test@host\n", 32) == 32);
	close(fd);
	ck_assert_int_gt(asprintf(&text,
		"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=westus\nAdminUser=azureml\n"
		"SshPublicKey=%s\nSubnet=/subscriptions/x/resourceGroups/rg/providers/"
		"Microsoft.Network/virtualNetworks/v/subnets/s\n"
		"ComputeCluster=cpu VmSize=Standard_D2_v2 MaxNodes=2 Zone=2 "
		"Tags=team:ml\n"
		"ComputeCluster=spot VmSize=Standard_D2_v2 MaxNodes=2 "
		"Priority=LowPriority\n", keyfile), 0);
	c = azml_conf_load_string(text, "t.conf");
	free(text);
	ck_assert_int_eq(c->nerrors, 0);
	ours = azml_arm_vm_body(c, azml_conf_find_target(c, "cpu"), "cpu-1", err,
				sizeof(err));
	ck_assert_ptr_nonnull(ours);
	/* every key of the example request, except the NIC reference: we create
	 * the NIC with the VM (networkInterfaceConfigurations) */
	cJSON *copy = cJSON_Duplicate(req, 1);
	cJSON_DeleteItemFromObject(cJSON_GetObjectItem(copy, "properties"),
				   "networkProfile");
	ck_assert_msg(tu_same_keys(copy, ours, missing, sizeof(missing)) == 0,
		      "our body lacks '%s'", missing);
	cJSON_Delete(copy);
	const cJSON *p = cJSON_GetObjectItem(ours, "properties");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "hardwareProfile"),
					     "vmSize")->valuestring, "Standard_D2_v2");
	const cJSON *tags = cJSON_GetObjectItem(ours, "tags");
	ck_assert_str_eq(cJSON_GetObjectItem(tags, "slurm-cluster")->valuestring, "t");
	ck_assert_str_eq(cJSON_GetObjectItem(tags, "slurm-node")->valuestring, "cpu-1");
	ck_assert_str_eq(cJSON_GetObjectItem(tags, "team")->valuestring, "ml");
	const cJSON *nic = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		p, "networkProfile"), "networkInterfaceConfigurations"), 0);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(nic, "properties"),
					     "deleteOption")->valuestring, "Delete");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		p, "storageProfile"), "osDisk"), "deleteOption")->valuestring, "Delete");
	ck_assert_ptr_null(cJSON_GetObjectItem(p, "priority"));
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(ours, "zones"), 0)->valuestring, "2");
	cJSON_Delete(ours);

	/* Low priority: Spot, as the scale-set example writes it. */
	cJSON *vmss = tu_example("compute/VirtualMachineScaleSet_Create_WithSpotRestorePolicy.json");
	const cJSON *prof = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(vmss, "parameters"), "parameters"), "properties"),
		"virtualMachineProfile");
	ours = azml_arm_vm_body(c, azml_conf_find_target(c, "spot"), "spot-1", err,
				sizeof(err));
	p = cJSON_GetObjectItem(ours, "properties");
	ck_assert_str_eq(cJSON_GetObjectItem(p, "priority")->valuestring,
			 cJSON_GetObjectItem(prof, "priority")->valuestring);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "billingProfile"),
					     "maxPrice")->valueint,
			 cJSON_GetObjectItem(cJSON_GetObjectItem(prof, "billingProfile"),
					     "maxPrice")->valueint);
	/* Azure ML deletes evicted low-priority nodes; the example deallocates */
	ck_assert_str_eq(cJSON_GetObjectItem(p, "evictionPolicy")->valuestring, "Delete");
	ck_assert(cJSON_IsString(cJSON_GetObjectItem(prof, "evictionPolicy")));
	cJSON_Delete(ours);
	cJSON_Delete(vmss);

	/* Names that must never reach a URL. */
	ck_assert_ptr_null(azml_arm_vm_body(c, azml_conf_find_target(c, "cpu"),
					    "../x", err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a valid VM name"));

	body = _print(tu_response_body(ex, "201"));
	cJSON *j = cJSON_Parse(body);
	azml_arm_parse_vm(j, &r);
	ck_assert_str_eq(r.provisioning, "Creating");
	cJSON_Delete(j);
	free(body);
	azml_conf_destroy(c);
	unlink(keyfile);
	cJSON_Delete(ex);
}
END_TEST

START_TEST(long_running_headers)
{
	static const struct { const char *file, *status, *header; } lro[] = {
		{ "compute/VirtualMachine_Delete_Force.json", "202", "Location" },
		{ "compute/VirtualMachine_Deallocate_MinimumSet_Gen.json", "202", "location" },
		{ "compute/VirtualMachine_Start_MinimumSet_Gen.json", "202", "location" },
		{ "machinelearning/createBasicAmlCompute.json", "201", "Azure-AsyncOperation" },
		{ "machinelearning/deleteCompute.json", "202", "Azure-AsyncOperation" },
		{ "machinelearning/patchAmlCompute.json", "200", "Azure-AsyncOperation" },
	};
	char id[128];

	for (size_t i = 0; i < sizeof(lro) / sizeof(lro[0]); i++) {
		cJSON *ex = tu_example(lro[i].file);
		const cJSON *h = cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(cJSON_GetObjectItem(ex, "responses"),
					    lro[i].status), "headers"), lro[i].header);

		ck_assert_msg(cJSON_IsString(h), "%s: no %s", lro[i].file, lro[i].header);
		azml_arm_op_id(h->valuestring, id, sizeof(id));
		ck_assert_msg(id[0], "%s: no operation id", lro[i].file);
		cJSON_Delete(ex);
	}
	azml_arm_op_id("https://management.azure.com/subscriptions/s/providers/"
		       "Microsoft.Compute/locations/westus/operations/{operationId}"
		       "&monitor=true&api-version=2024-11-01", id, sizeof(id));
	ck_assert_str_eq(id, "{operationId}");
	azml_arm_op_id("http://x/operations/abc-1?api-version=1", id, sizeof(id));
	ck_assert_str_eq(id, "abc-1");
}
END_TEST

START_TEST(usages)
{
	static const struct { const char *file; size_t min; } f[] = {
		{ "compute/Usage_List_MaximumSet_Gen.json", 1 },
		{ "machinelearning/ListUsages.json", 4 },
		{ "machinelearning/ListWorkspaceQuotasByVMFamily.json", 2 },
	};

	for (size_t i = 0; i < 3; i++) {
		cJSON *ex = tu_example(f[i].file);
		char *body = _print(tu_response_body(ex, "200"));
		azml_usage_t *u;
		size_t n = azml_arm_parse_usages(body, &u);

		ck_assert_msg(n >= f[i].min, "%s: %zu usages", f[i].file, n);
		ck_assert_int_eq(n, cJSON_GetArraySize(cJSON_GetObjectItem(
			tu_response_body(ex, "200"), "value")));
		for (size_t k = 0; k < n; k++)
			ck_assert(u[k].name[0]);
		if (i == 0) {
			ck_assert_int_eq(u[0].current, 17);
			ck_assert_int_eq(u[0].limit, 19);
		}
		free(u);
		free(body);
		cJSON_Delete(ex);
	}
}
END_TEST

START_TEST(vm_sizes)
{
	cJSON *ex = tu_example("compute/VirtualMachine_ListAvailableVmSizes.json");
	char *body = _print(tu_response_body(ex, "200"));
	azml_vm_size_t *s;
	size_t n = azml_arm_parse_vm_sizes(body, &s);

	ck_assert_int_ge(n, 2);
	ck_assert_str_eq(s[0].name, "Standard_A1_V2");
	ck_assert_int_eq(s[0].vcpus, 1);
	ck_assert_int_eq(s[0].memory_mib, 2048);
	ck_assert_int_eq(s[0].gpus, -1);
	free(s);
	free(body);
	cJSON_Delete(ex);

	ex = tu_example("machinelearning/ListVMSizesResult.json");
	body = _print(tu_response_body(ex, "200"));
	n = azml_arm_parse_vm_sizes(body, &s);
	ck_assert_int_eq(n, 72);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(s[i].name, "Standard_NC24rs_v3")) {
			ck_assert_int_eq(s[i].vcpus, 24);
			ck_assert_int_eq(s[i].gpus, 4);
			ck_assert_int_eq(s[i].memory_mib, 448 * 1024);
		}
	free(s);
	free(body);
	cJSON_Delete(ex);
}
END_TEST

/* Azure ML's own compute cluster documents map onto azureml.conf's terms. */
START_TEST(aml_compute)
{
	/* where each example keeps its AmlCompute properties */
	cJSON *create = tu_example("machinelearning/createBasicAmlCompute.json");
	cJSON *get = tu_example("machinelearning/getAmlCompute.json");
	cJSON *patch = tu_example("machinelearning/patchAmlCompute.json");
	const cJSON *props[3] = {
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(create, "parameters"), "parameters"),
			"properties"), "properties"),
		cJSON_GetObjectItem(cJSON_GetObjectItem(tu_response_body(get, "200"),
			"properties"), "properties"),
		cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(patch,
			"parameters"), "parameters"), "properties"),
	};
	static const int max[3] = { 1, 1, 4 }, min[3] = { 0, 0, 4 };

	for (int i = 0; i < 3; i++) {
		const cJSON *scale = cJSON_GetObjectItem(props[i], "scaleSettings");
		const char *size = cJSON_GetStringValue(cJSON_GetObjectItem(props[i],
								       "vmSize"));
		azml_size_info_t info;

		ck_assert_msg(cJSON_IsObject(scale), "example %d", i);
		ck_assert_int_eq(cJSON_GetObjectItem(scale, "maxNodeCount")->valueint, max[i]);
		ck_assert_int_eq(cJSON_GetObjectItem(scale, "minNodeCount")->valueint, min[i]);
		ck_assert_int_eq(azml_iso8601_seconds(cJSON_GetStringValue(
			cJSON_GetObjectItem(scale, "nodeIdleTimeBeforeScaleDown"))), 300);
		if (size) {	/* "STANDARD_NC6": Azure ML's capitals */
			ck_assert_int_eq(azml_catalog_resolve(size, &info), 0);
			ck_assert_str_eq(info.series->name, "NC");
			ck_assert_str_eq(cJSON_GetStringValue(cJSON_GetObjectItem(
				props[i], "vmPriority")), "Dedicated");
		}
	}
	cJSON_Delete(create);
	cJSON_Delete(get);
	cJSON_Delete(patch);
	ck_assert_int_eq(azml_iso8601_seconds("PT1H30M"), 5400);
	ck_assert_int_eq(azml_iso8601_seconds("P1DT2S"), 86402);
	ck_assert_int_eq(azml_iso8601_seconds("PT"), 0);
	ck_assert_int_eq(azml_iso8601_seconds("5M"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT5"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT5X"), -1);
	ck_assert_int_eq(azml_iso8601_seconds(NULL), -1);
}
END_TEST

START_TEST(errors_and_operations)
{
	char code[64], msg[256], st[32];

	ck_assert_int_eq(azml_arm_parse_error("{\"error\":{\"code\":\"QuotaExceeded\","
		"\"message\":\"Operation could not be completed\"}}", code,
		sizeof(code), msg, sizeof(msg)), 0);
	ck_assert_str_eq(code, "QuotaExceeded");
	ck_assert_str_eq(msg, "Operation could not be completed");
	ck_assert_int_eq(azml_arm_parse_error("<html>bad gateway</html>", code,
		sizeof(code), msg, sizeof(msg)), -1);
	ck_assert_int_eq(azml_arm_parse_error(NULL, code, sizeof(code), msg,
		sizeof(msg)), -1);
	ck_assert_int_eq(azml_arm_parse_error("{\"error\":\"x\"}", code,
		sizeof(code), msg, sizeof(msg)), -1);
	code[0] = '\0';
	ck_assert_int_eq(azml_arm_parse_operation("{\"status\":\"Failed\",\"error\":"
		"{\"code\":\"AllocationFailed\",\"message\":\"no capacity\"}}", st,
		sizeof(st), code, sizeof(code), msg, sizeof(msg)), 0);
	ck_assert_str_eq(st, "Failed");
	ck_assert_str_eq(code, "AllocationFailed");
	ck_assert_int_eq(azml_arm_parse_operation("{}", st, sizeof(st), code,
		sizeof(code), msg, sizeof(msg)), -1);
	ck_assert_int_eq(azml_arm_parse_nic_ip("{\"properties\":{\"ipConfigurations\":"
		"[{\"properties\":{\"privateIPAddress\":\"10.0.0.4\",\"primary\":true}}]}}",
		msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "10.0.0.4");
	ck_assert_int_eq(azml_arm_parse_nic_ip("{\"properties\":{}}", msg, sizeof(msg)), -1);
	ck_assert(azml_arm_name_ok("gpu-v100-3"));
	ck_assert(!azml_arm_name_ok("gpu/../3"));
	ck_assert(!azml_arm_name_ok("-x"));
	ck_assert(!azml_arm_name_ok(""));
	ck_assert(!azml_arm_name_ok("a?b"));
	ck_assert(azml_http_url_allowed("https://management.azure.com"));
	ck_assert(azml_http_url_allowed("http://127.0.0.1:8443/x"));
	ck_assert(azml_http_url_allowed("http://169.254.169.254/metadata"));
	ck_assert(!azml_http_url_allowed("http://management.azure.com"));
	ck_assert(!azml_http_url_allowed("http://127.0.0.1.evil.com/"));
	ck_assert(!azml_http_url_allowed("ftp://127.0.0.1/"));
}
END_TEST

START_TEST(scheduled_events)
{
	cJSON *ex = tu_example("imds/scheduledevents-preempt.json");
	char *body = cJSON_PrintUnformatted(ex), id[64], nb[64];

	ck_assert_int_eq(azml_parse_scheduled_events(body, "myspotvm_0", id,
		sizeof(id), nb, sizeof(nb)), 1);
	ck_assert_str_eq(id, "00000000-0000-0000-0000-000000000001");
	ck_assert_str_eq(nb, "Mon, 19 Sep 2016 18:29:47 GMT");
	ck_assert_int_eq(azml_parse_scheduled_events(body, "othervm", id,
		sizeof(id), nb, sizeof(nb)), 0);
	ck_assert_int_eq(azml_parse_scheduled_events("{\"DocumentIncarnation\":1,"
		"\"Events\":[]}", "x", id, sizeof(id), nb, sizeof(nb)), 0);
	ck_assert_int_eq(azml_parse_scheduled_events("<html>", "x", id,
		sizeof(id), nb, sizeof(nb)), -1);
	cJSON_free(body);
	cJSON_Delete(ex);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("arm");

	tcase_add_test(tc, vm_get);
	tcase_add_test(tc, vm_instance_view);
	tcase_add_test(tc, vm_list);
	tcase_add_test(tc, vm_create_body);
	tcase_add_test(tc, long_running_headers);
	tcase_add_test(tc, usages);
	tcase_add_test(tc, vm_sizes);
	tcase_add_test(tc, aml_compute);
	tcase_add_test(tc, errors_and_operations);
	tcase_add_test(tc, scheduled_events);
	return tu_run("arm", tc);
}

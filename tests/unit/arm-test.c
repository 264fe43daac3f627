/*
 * arm-test.c - every example in ../shared/azure-rest-examples through the
 * client's parsers and builders; then the client against a hostile server
 * (hostile.h): foreign URLs, endless operations and listings, huge
 * Retry-After, odd token answers.
 */
#include "config.h"

#include <check.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arm.h"
#include "auth.h"
#include "bootdiag.h"
#include "hostile.h"
#include "log.h"
#include "testutil.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define __SANITIZE_ADDRESS__ 1
#endif
#endif

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
	/* for the lifecycle journal: "2021-06-27T01:02:38.3138469+00:00" */
	ck_assert_str_eq(r.vm_id, "0f47b100-583c-48e3-a4c0-aefc2c9bbcc1");
	ck_assert_int_eq(r.created, 1624755758L);
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
	ours = azml_arm_vm_body(c, azml_conf_find_target(c, "cpu"), "cpu-1", NULL, err,
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
	ours = azml_arm_vm_body(c, azml_conf_find_target(c, "spot"), "spot-1", NULL, err,
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
					    "../x", NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "not a valid VM name"));

	body = _print(tu_response_body(ex, "201"));
	cJSON *j = cJSON_Parse(body);
	azml_arm_parse_vm(j, &r);
	ck_assert_str_eq(r.provisioning, "Creating");
	cJSON_Delete(j);
	free(body);
	/* a key file others may write, or a FIFO, is never the VMs' admin
	 * key (issue 25, item 2): refused with the file and the reason */
	ck_assert_int_eq(chmod(keyfile, 0666), 0);
	ck_assert_ptr_null(azml_arm_vm_body(c, azml_conf_find_target(c, "cpu"),
					    "cpu-1", NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "SshPublicKey=") && strstr(err, "is writable "
		      "by its group or by others (mode 0666); refused"), "%s",
		      err);
	ck_assert_int_eq(chmod(keyfile, 0644), 0);
	if (geteuid() == 0) {
		ck_assert_int_eq(chown(keyfile, 12345, 12345), 0);
		ck_assert_ptr_null(azml_arm_vm_body(c, azml_conf_find_target(c,
						    "cpu"), "cpu-1", NULL, err,
						    sizeof(err)));
		ck_assert_msg(strstr(err, "is owned by uid 12345, not by root "
				     "or SlurmUser"), "%s", err);
	}
	ck_assert_int_eq(unlink(keyfile), 0);
	ck_assert_int_eq(mkfifo(keyfile, 0644), 0);
	ck_assert_ptr_null(azml_arm_vm_body(c, azml_conf_find_target(c, "cpu"),
					    "cpu-1", NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "is a FIFO; refused"), "%s", err);
	azml_conf_destroy(c);
	unlink(keyfile);
	cJSON_Delete(ex);
}
END_TEST

#define SECRET "https://myvault.vault.azure.net/secrets/munge"
#define IDENTITY "/subscriptions/00000000-0000-0000-0000-000000000000/" \
	"resourceGroups/rg/providers/Microsoft.ManagedIdentity/" \
	"userAssignedIdentities/nodes"

/* The create body's userData decodes to the node's bootstrap settings
 * (never a secret), with the identity and boot diagnostics. */
START_TEST(vm_create_userdata)
{
	azml_conf_t *c = azml_conf_load_string("ClusterName=t\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=westus\n"
		"MungeKeySecret=" SECRET " Identity=" IDENTITY "\n"
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 "
		"QuotaApproved=yes NodeSetupScript=/opt/site/setup.sh "
		"Priority=LowPriority\n"
		"ComputeInstance=dev VmSize=Standard_D2_v2 "
		"SlurmctldHost=ctl.example.com:7000\n"
		"AttachedCompute=lab Nodes=lab1\n", "t.conf");
	azml_ctld_info_t ctld = { "10.0.0.4:6817", "prod", "22.05.8" };
	azml_userdata_t u;
	char err[512], *json, *text;
	cJSON *b, *id, *j;
	const cJSON *p, *ud;

	ck_assert_int_eq(c->nerrors, 0);
	b = azml_arm_vm_body(c, azml_conf_find_target(c, "gpu"), "gpu-2", &ctld,
			     err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	p = cJSON_GetObjectItem(b, "properties");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "osProfile"),
					     "computerName")->valuestring, "gpu-2");
	ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(p, "diagnosticsProfile"), "bootDiagnostics"),
		"enabled")));
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(p, "diagnosticsProfile"), "bootDiagnostics"),
		"storageUri"));
	id = cJSON_GetObjectItem(b, "identity");
	ck_assert_str_eq(cJSON_GetObjectItem(id, "type")->valuestring,
			 "UserAssigned");
	ck_assert(cJSON_IsObject(cJSON_GetObjectItem(cJSON_GetObjectItem(id,
		"userAssignedIdentities"), IDENTITY)));
	ud = cJSON_GetObjectItem(p, "userData");
	ck_assert(cJSON_IsString(ud));
	ck_assert_int_eq(azml_userdata_parse(ud->valuestring,
					     strlen(ud->valuestring), &u, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(u.cluster, "t");
	ck_assert_str_eq(u.slurm_cluster, "prod");
	ck_assert_str_eq(u.target, "gpu");
	ck_assert_str_eq(u.node, "gpu-2");
	ck_assert_str_eq(u.vm_size, "Standard_NC6s_v3");
	ck_assert_str_eq(u.slurmctld_host, "10.0.0.4:6817");	/* slurm.conf's */
	ck_assert_str_eq(u.munge_key_secret, SECRET);
	ck_assert_str_eq(u.identity, IDENTITY);
	ck_assert_str_eq(u.setup_script, "/opt/site/setup.sh");
	ck_assert(u.low_priority);
	ck_assert_int_eq(u.gpus, 1);
	ck_assert_str_eq(u.gpu_type, "v100");
	ck_assert_str_eq(u.gpu_arch, "Volta");
	ck_assert_str_eq(u.slurm_version, "22.05.8");
	azml_userdata_free(&u);
	/* The exact JSON, and no secret anywhere in the body: the key stays in
	 * Key Vault, the body names only where it is. */
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "gpu"),
					   "gpu-2", &ctld, &u, err,
					   sizeof(err)), 0);
	json = azml_userdata_json(&u);
	j = cJSON_Parse(json);
	ck_assert_str_eq(cJSON_GetObjectItem(j, "priority")->valuestring, "low");
	ck_assert_int_eq(cJSON_GetObjectItem(j, "version")->valueint, 1);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "gpus"),
					     "count")->valueint, 1);
	cJSON_Delete(j);
	free(json);
	azml_userdata_free(&u);
	text = cJSON_PrintUnformatted(b);
	ck_assert_ptr_null(strstr(text, "munge.key"));
	ck_assert_ptr_null(strstr(text, "\"value\""));
	ck_assert_ptr_null(strstr(text, "PRIVATE KEY"));
	cJSON_free(text);
	cJSON_Delete(b);

	/* The target's own SlurmctldHost wins; its first node by default. */
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "dev"),
					   NULL, &ctld, &u, err,
					   sizeof(err)), 0);
	ck_assert_str_eq(u.slurmctld_host, "ctl.example.com:7000");
	ck_assert_str_eq(u.node, "dev");
	ck_assert(!u.low_priority);
	ck_assert_int_eq(u.gpus, 0);
	azml_userdata_free(&u);
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "gpu"),
					   NULL, &ctld, &u, err,
					   sizeof(err)), 0);
	ck_assert_str_eq(u.node, "gpu-1");
	azml_userdata_free(&u);

	/* Refusals that say what exists. */
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "gpu"),
					   "gpu-3", &ctld, &u, err,
					   sizeof(err)), -1);
	ck_assert_str_eq(err, "'gpu-3' is not a node of 'gpu' (its nodes: "
			 "gpu-[1-2])");
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "lab"),
					   NULL, &ctld, &u, err,
					   sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "'lab' has no VMs"));
	ck_assert_int_eq(azml_arm_userdata(c, azml_conf_find_target(c, "gpu"),
					   NULL, NULL, &u, err,
					   sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "no SlurmctldHost for 'gpu'"));
	/* No slurmctld known: a body without userData, as before. */
	b = azml_arm_vm_body(c, azml_conf_find_target(c, "gpu"), "gpu-1", NULL,
			     err, sizeof(err));
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(b,
		"properties"), "userData"));
	cJSON_Delete(b);
	azml_conf_destroy(c);
}
END_TEST

/* node-init's failure from a serial console log. */
/* A ScaleSet cluster's set: Flexible, one fault domain, one VM model
 * without a node in it. */
START_TEST(vmss_body)
{
	azml_conf_t *c = azml_conf_load_string("ClusterName=T\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=westus\n"
		"MungeKeySecret=" SECRET " Identity=" IDENTITY "\n"
		"ComputeCluster=ss VmSize=Standard_D2s_v3 MaxNodes=8 Zone=2 "
		"Provisioning=ScaleSet Priority=LowPriority "
		"ProximityPlacementGroup=/subscriptions/s/resourceGroups/rg/"
		"providers/Microsoft.Compute/proximityPlacementGroups/p\n", "t.conf");
	azml_ctld_info_t ctld = { "10.0.0.4:6817", "prod", "22.05.8" };
	azml_userdata_t u;
	char err[512], set[80], *text;
	cJSON *b;
	const cJSON *p, *vp;
	size_t len;

	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_str_eq(azml_conf_scale_set_name(c, &c->targets[0], set,
						  sizeof(set)), "t-ss");
	b = azml_arm_vmss_body(c, &c->targets[0], 3, &ctld, err, sizeof(err));
	ck_assert_msg(b != NULL, "%s", err);
	ck_assert_int_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "sku"),
					     "capacity")->valueint, 3);
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "sku"),
					     "name")->valuestring, "Standard_D2s_v3");
	ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(b, "zones"),
					    0)->valuestring, "2");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(b, "identity"));
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "tags"),
					       "slurm-node"));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "tags"),
			 "slurm-target")->valuestring, "ss");
	p = cJSON_GetObjectItem(b, "properties");
	ck_assert_str_eq(cJSON_GetObjectItem(p, "orchestrationMode")->valuestring,
			 "Flexible");
	ck_assert_int_eq(cJSON_GetObjectItem(p,
			 "platformFaultDomainCount")->valueint, 1);
	/* one size: no skuProfile */
	ck_assert_ptr_null(cJSON_GetObjectItem(p, "skuProfile"));
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "sku"),
					     "tier")->valuestring, "Standard");
	ck_assert_ptr_nonnull(cJSON_GetObjectItem(p, "proximityPlacementGroup"));
	vp = cJSON_GetObjectItem(p, "virtualMachineProfile");
	ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(vp, "osProfile"),
			 "computerNamePrefix")->valuestring, "ss-");
	ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(vp,
			   "osProfile"), "computerName"));
	ck_assert_ptr_null(cJSON_GetObjectItem(vp, "hardwareProfile"));
	ck_assert_str_eq(cJSON_GetObjectItem(vp, "priority")->valuestring, "Spot");
	text = cJSON_GetObjectItem(vp, "userData")->valuestring;
	len = strlen(text);
	ck_assert_int_eq(azml_userdata_parse(text, len, &u, err, sizeof(err)), 0);
	ck_assert_ptr_null(u.node);	/* each VM asks slurmctld */
	ck_assert_str_eq(u.target, "ss");
	azml_userdata_free(&u);
	cJSON_Delete(b);
	azml_conf_destroy(c);
}
END_TEST

/* A mix's set: sku "Mix" with the count, the sizes and the strategy in
 * skuProfile (2024-07-01); the model names no size. */
START_TEST(vmss_body_mix)
{
	static const char *const strat[][2] = {
		{ "", "LowestPrice" },
		{ " AllocationStrategy=LowestPrice", "LowestPrice" },
		{ " AllocationStrategy=CapacityOptimized",
		  "CapacityOptimized" },
	};

	for (size_t k = 0; k < sizeof(strat) / sizeof(strat[0]); k++) {
		char text[1024], err[512];
		azml_conf_t *c;
		const cJSON *sku, *sp, *sizes;
		cJSON *b;

		snprintf(text, sizeof(text), "ClusterName=T\n"
			 "SubscriptionId=00000000-0000-0000-0000-000000000000\n"
			 "ResourceGroup=rg\nLocation=westus\n"
			 "ComputeCluster=mx VmSize=Standard_D4s_v3,"
			 "Standard_D8s_v3,standard_d4_v3 MaxNodes=8 "
			 "Provisioning=ScaleSet%s\n", strat[k][0]);
		c = azml_conf_load_string(text, "t.conf");
		ck_assert_int_eq(c->nerrors, 0);
		ck_assert_int_eq(c->targets[0].nmix, 3);
		b = azml_arm_vmss_body(c, &c->targets[0], 5, NULL, err,
				       sizeof(err));
		ck_assert_msg(b != NULL, "%s", err);
		sku = cJSON_GetObjectItem(b, "sku");
		ck_assert_str_eq(cJSON_GetObjectItem(sku, "name")->valuestring,
				 "Mix");
		ck_assert_int_eq(cJSON_GetObjectItem(sku, "capacity")->valueint,
				 5);
		ck_assert_ptr_null(cJSON_GetObjectItem(sku, "tier"));
		sp = cJSON_GetObjectItem(cJSON_GetObjectItem(b, "properties"),
					 "skuProfile");
		ck_assert_ptr_nonnull(sp);
		sizes = cJSON_GetObjectItem(sp, "vmSizes");
		ck_assert_int_eq(cJSON_GetArraySize(sizes), 3);
		/* canonical names, in the order written */
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(sizes,
				 0), "name")->valuestring, "Standard_D4s_v3");
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(sizes,
				 1), "name")->valuestring, "Standard_D8s_v3");
		ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(sizes,
				 2), "name")->valuestring, "Standard_D4_v3");
		ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetArrayItem(sizes,
				   0), "rank"));
		ck_assert_str_eq(cJSON_GetObjectItem(sp,
				 "allocationStrategy")->valuestring,
				 strat[k][1]);
		ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(
			cJSON_GetObjectItem(b, "properties"),
			"virtualMachineProfile"), "hardwareProfile"));
		cJSON_Delete(b);
		azml_conf_destroy(c);
	}
}
END_TEST

START_TEST(boot_log_reason)
{
	char reason[300], small[16];
	const char *log =
		"[    0.000000] Linux version 6.1.0\r\n"
		"node-init: userdata: ok\n"
		"node-init: munge-key: failed: first try\n"
		"Jan  2 03:04:05 gpu-1 node-init[812]: munge-key: failed: Key "
		"Vault answered 403 Forbidden\x1b[0m\x01 for https://v.vault."
		"azure.net/secrets/m  \r\n"
		"[  OK  ] Started something.\n"
		"node-init: gpu-check: ok\n"
		"xnode-init: slurmd: failed: not ours\n"
		"node-init: slurmd: failed:\n"	/* not the form */
		"cloud-init[1]: node-init: munged; failed: no\n";

	ck_assert_int_eq(azml_bootdiag_reason(log, strlen(log), reason,
					      sizeof(reason)), 1);
	ck_assert_str_eq(reason, "azureml: node-init: munge-key: Key Vault "
			 "answered 403 Forbidden[0m for "
			 "https://v.vault.azure.net/secrets/m");
	/* the last failure wins; a prefix is allowed; no final newline */
	log = "node-init: a: failed: one\n<6>[ 9.1] node-init: b-2: failed: two";
	ck_assert_int_eq(azml_bootdiag_reason(log, strlen(log), reason,
					      sizeof(reason)), 1);
	ck_assert_str_eq(reason, "azureml: node-init: b-2: two");
	ck_assert_int_eq(azml_bootdiag_reason(log, strlen(log), small,
					      sizeof(small)), 1);
	ck_assert_str_eq(small, "azureml: node-i");
	/* node-init's step names have spaces */
	log = "node-init: identity: ok (token)\nnode-init: Key Vault: failed: "
	      "SecretNotFound: A secret with (name/id) munge was not found\n";
	ck_assert_int_eq(azml_bootdiag_reason(log, strlen(log), reason,
					      sizeof(reason)), 1);
	ck_assert_str_eq(reason, "azureml: node-init: Key Vault: SecretNotFound: "
			 "A secret with (name/id) munge was not found");
	/* none: REASON untouched */
	strcpy(reason, "kept");
	ck_assert_int_eq(azml_bootdiag_reason("node-init: x: ok\n", 17, reason,
					      sizeof(reason)), 0);
	ck_assert_int_eq(azml_bootdiag_reason("", 0, reason, sizeof(reason)), 0);
	ck_assert_str_eq(reason, "kept");
	/* a long message is cut */
	{
		char big[4096];

		memset(big, 'x', sizeof(big));
		memcpy(big, "node-init: s: failed: ", 22);
		ck_assert_int_eq(azml_bootdiag_reason(big, sizeof(big), reason,
						      sizeof(reason)), 1);
		ck_assert_int_eq(strlen(reason), AZML_BOOTDIAG_REASON_MAX);
	}
}
END_TEST

/* Which serial log URLs may be fetched without a token. */
START_TEST(boot_log_urls)
{
	char why[512], uri[256];
	const char *arm = "https://management.azure.com";

	ck_assert_int_eq(azml_bootdiag_url_ok("https://md-abc.blob.core.windows"
		".net/c/vm.serialconsole.log?sv=1&sig=SECRETSIG", arm, why,
		sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://md-x.z9.blob.storage."
		"azure.net/c/l?sig=1", arm, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://a.blob.core.usgovcloudapi"
		".net/l", arm, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://a.blob.core.chinacloudapi"
		".cn/l", arm, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://evil.example/l?sig=SECRETSIG",
					      arm, why, sizeof(why)), -1);
	ck_assert_ptr_null(strstr(why, "SECRETSIG"));
	ck_assert_ptr_nonnull(strstr(why, "https://evil.example:443 is not "
				     "https to an Azure Storage blob host"));
	ck_assert_int_eq(azml_bootdiag_url_ok("https://blob.core.windows.net.evil"
		".example/l", arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://xblob.core.windows.net/l",
					      arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://.blob.core.windows.net/l",
					      arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok("http://a.blob.core.windows.net/l",
					      arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://a.blob.core.windows.net:"
		"8443/l", arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok("https://u:p@a.blob.core.windows."
		"net/l", arm, why, sizeof(why)), -1);
	ck_assert_int_eq(azml_bootdiag_url_ok(NULL, arm, why, sizeof(why)), -1);
	/* the emulator: its own origin only */
	arm = "http://127.0.0.1:8443";
	ck_assert_int_eq(azml_bootdiag_url_ok("http://127.0.0.1:8443/bootdiag/x"
		"?sig=1", arm, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("http://127.0.0.1:8444/x", arm,
					      why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not ArmEndpoint's origin"));
	ck_assert_int_eq(azml_bootdiag_url_ok("https://a.blob.core.windows.net/l",
					      arm, why, sizeof(why)), -1);
	/* the emulator over https (issue 26): the same, its scheme too */
	arm = "https://127.0.0.1:8443";
	ck_assert_int_eq(azml_bootdiag_url_ok("https://127.0.0.1:8443/x?sig=1",
					      arm, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_bootdiag_url_ok("http://127.0.0.1:8443/x", arm,
					      why, sizeof(why)), -1);
	/* the answer's shape (Azure's example) */
	ck_assert_int_eq(azml_bootdiag_parse_uris("{\"consoleScreenshotBlobUri\":"
		"\"https://storageuri/vmname.vmid.screenshot.bmp?{sasKey}\","
		"\"serialConsoleLogBlobUri\":\"https://storageuri/vmname.vmid."
		"serialconsole.log?{sasKey}\"}", uri, sizeof(uri)), 0);
	ck_assert_str_eq(uri, "https://storageuri/vmname.vmid.serialconsole.log"
			 "?{sasKey}");
	ck_assert_int_eq(azml_bootdiag_parse_uris("{}", uri, sizeof(uri)), -1);
	ck_assert_int_eq(azml_bootdiag_parse_uris("{\"serialConsoleLogBlobUri\":"
		"3}", uri, sizeof(uri)), -1);
	ck_assert_int_eq(azml_bootdiag_parse_uris(NULL, uri, sizeof(uri)), -1);
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

/* Numbers no integer holds saturate (casting them was undefined; found by
 * tests/fuzz).  Inline bodies: no ../shared needed. */
START_TEST(huge_numbers)
{
	azml_usage_t *u;
	azml_vm_size_t *s;

	ck_assert_int_eq(azml_arm_parse_usages("{\"value\":["
		"{\"name\":{\"value\":\"a\"},\"currentValue\":1e300,\"limit\":1e19},"
		"{\"name\":\"b\",\"currentValue\":-1e300,\"limit\":-1e999},"
		"{\"name\":\"c\",\"currentValue\":3,\"limit\":9.22e18}]}", &u), 3);
	ck_assert(u[0].current == LONG_MAX && u[0].limit == LONG_MAX);
	ck_assert(u[1].current == LONG_MIN && u[1].limit == LONG_MIN);
	ck_assert(u[2].current == 3 && u[2].limit == 9220000000000000000L);
	free(u);
	ck_assert_int_eq(azml_arm_parse_vm_sizes("{\"value\":["
		"{\"name\":\"big\",\"vCPUs\":1e300,\"memoryGB\":1e300,\"gpus\":-1e300},"
		"{\"name\":\"neg\",\"vCPUs\":2,\"memoryGB\":-3e6},"
		"{\"name\":\"edge\",\"vCPUs\":2,\"memoryGB\":2097151.999}]}", &s), 3);
	ck_assert_int_eq(s[0].vcpus, INT_MAX);
	ck_assert_int_eq(s[0].memory_mib, INT_MAX);
	ck_assert_int_eq(s[0].gpus, INT_MIN);
	ck_assert_int_eq(s[1].memory_mib, INT_MIN);
	ck_assert_int_eq(s[2].memory_mib, 2147483646);
	free(s);
}
END_TEST

/* What once crashed tests/fuzz's arm target goes through every parser. */
static void _parse_regress(const char *body, size_t len, const char *path)
{
	char a[64], b[512], c[64];
	azml_usage_t *u;
	azml_vm_size_t *s;
	azml_vm_result_t r = { 0 };
	cJSON *j = cJSON_Parse(body);

	azml_arm_parse_error(body, a, sizeof(a), b, sizeof(b));
	azml_arm_parse_operation(body, c, sizeof(c), a, sizeof(a), b, sizeof(b));
	azml_arm_parse_nic_ip(body, a, sizeof(a));
	azml_arm_parse_usages(body, &u);
	free(u);
	azml_arm_parse_vm_sizes(body, &s);
	free(s);
	{
		azml_sched_event_t ev[AZML_SCHED_EVENTS_MAX];

		azml_parse_scheduled_events(body, "myspotvm_0", ev,
					    AZML_SCHED_EVENTS_MAX);
	}
	azml_arm_parse_vm(j, &r);
	azml_arm_parse_instance_view(j, &r);
	cJSON_Delete(j);
	azml_arm_op_id(body, a, sizeof(a));
	azml_iso8601_seconds(body);
}

START_TEST(fuzz_regressions)
{
	ck_assert_int_gt(tu_fuzz_regress("arm", _parse_regress), 0);
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
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16Z"), 1796024296L);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16"), 1796024296L);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T08:38:16.5+01:00"), 1796024296L);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T06:38:16-01:00"), 1796024296L);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16ZZ"), -1);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16.Z"), -1);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16+1:00"), -1);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30T07:38:16+15:00"), -1);
	ck_assert_int_eq(azml_iso8601_time("2026-11-30 07:38:16"), -1);
	ck_assert_int_eq(azml_iso8601_time("yesterday"), -1);
	ck_assert_int_eq(azml_iso8601_time(NULL), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT1H30M"), 5400);
	ck_assert_int_eq(azml_iso8601_seconds("P1DT2S"), 86402);
	ck_assert_int_eq(azml_iso8601_seconds("PT"), 0);
	ck_assert_int_eq(azml_iso8601_seconds("5M"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT5"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT5X"), -1);
	ck_assert_int_eq(azml_iso8601_seconds(NULL), -1);
	/* Each designator once, in order: repeats summed past LONG_MAX. */
	ck_assert_int_eq(azml_iso8601_seconds("P1D1D"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("PT1M1H"), -1);
	ck_assert_int_eq(azml_iso8601_seconds("P99999999DT99999999H99999999M"
					      "99999999S"), 9006099909939L);
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

/* One URL parser (libcurl's): userinfo refused, plain http only to
 * loopback and IMDS. */
START_TEST(url_rules)
{
	azml_url_origin_t a, b;
	char err[256];

	ck_assert(!azml_http_url_allowed("http://localhost:1@192.0.2.2:18444/op"));
	ck_assert_int_eq(azml_http_url_origin("http://localhost:1@192.0.2.2:18444/op",
					      &a, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "userinfo"));
	ck_assert_ptr_nonnull(strstr(err, "192.0.2.2"));
	ck_assert_ptr_null(strstr(err, "localhost:1"));	/* a password, maybe */
	ck_assert(!azml_http_url_allowed("https://user:pw@management.azure.com/"));
	ck_assert(!azml_http_url_allowed("https://user@management.azure.com/"));
	ck_assert(!azml_http_url_allowed("http://127.0.0.1\\@192.0.2.2/"));
	ck_assert(!azml_http_url_allowed("http://[fe80::1%25eth0]/"));
	ck_assert(!azml_http_url_allowed("http://169.254.169.253/"));
	ck_assert(!azml_http_url_allowed("http://10.0.0.1/"));
	ck_assert(!azml_http_url_allowed("/subscriptions/x"));
	ck_assert(!azml_http_url_allowed(""));
	ck_assert(!azml_http_url_allowed("https://host:99999/"));
	ck_assert(azml_http_url_allowed("HTTP://127.0.0.1/x"));
	ck_assert(azml_http_url_allowed("http://127.9.8.7:1/x"));
	ck_assert(azml_http_url_allowed("http://[::1]:8/x?a=b"));
	ck_assert(azml_http_url_allowed("http://localhost:8/"));

	ck_assert_int_eq(azml_http_url_origin("https://Management.Azure.com/x",
					      &a, err, sizeof(err)), 0);
	ck_assert_str_eq(a.scheme, "https");
	ck_assert_int_eq(a.port, 443);
	ck_assert_int_eq(azml_http_url_origin("https://management.azure.com:443"
		"/subscriptions?api-version=1", &b, err, sizeof(err)), 0);
	ck_assert(azml_http_same_origin(&a, &b));
	azml_http_url_origin("https://management.azure.com:444/", &b, err,
			     sizeof(err));
	ck_assert(!azml_http_same_origin(&a, &b));
	azml_http_url_origin("http://127.0.0.1:443/", &b, err, sizeof(err));
	ck_assert(!azml_http_same_origin(&a, &b));
	azml_http_url_origin("https://management.azure.com.evil.example/", &b,
			     err, sizeof(err));
	ck_assert(!azml_http_same_origin(&a, &b));
}
END_TEST

START_TEST(retry_after_values)
{
	ck_assert_int_eq(AZML_HTTP_MAX_RETRY_AFTER, 60);
	ck_assert_int_eq(azml_http_retry_after("3", 60), 3);
	ck_assert_int_eq(azml_http_retry_after(" 0 ", 60), 0);
	ck_assert_int_eq(azml_http_retry_after("2147483647", 60), 60);
	ck_assert_int_eq(azml_http_retry_after("99999999999999999999999", 60), 60);
	ck_assert_int_eq(azml_http_retry_after("61", 60), 60);
	ck_assert_int_eq(azml_http_retry_after("-5", 60), -1);
	ck_assert_int_eq(azml_http_retry_after("abc", 60), -1);
	ck_assert_int_eq(azml_http_retry_after("3x", 60), -1);
	ck_assert_int_eq(azml_http_retry_after("", 60), -1);
	ck_assert_int_eq(azml_http_retry_after(NULL, 60), -1);
	/* an HTTP date: in the past is now, far ahead is the cap */
	ck_assert_int_eq(azml_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 60), 0);
	ck_assert_int_eq(azml_http_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 60), 60);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* The client against a hostile server */

#define TOKEN "hostile-test-token-0123456789"
#define WIPE_MARKER "{\"azml-wipe-marker\":1,"

enum { M_ASYNC_URL, M_LOCATION_URL, M_NEXT_URL, M_INPROGRESS, M_LOCATION_202,
       M_THROTTLE, M_NEXT_SELF, M_NEXT_ENDLESS, M_MANY_VMS, M_PLAIN };

/* What the server does and saw.  Written on the server's thread, read
 * after azml_arm_run() returns. */
static struct {
	int mode;
	char url[512];		/* the URL it hands out */
	char token_json[512];	/* its token answer */
	char token_path[256];
	int port;
	int tokens, arm, polls, writes, evil;
} S;

static void _serve(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	int n;

	if (strstr(q->path, "/oauth2/")) {
		__atomic_add_fetch(&S.tokens, 1, __ATOMIC_SEQ_CST);
		snprintf(S.token_path, sizeof(S.token_path), "%s", q->path);
		snprintf(o->body, sizeof(o->body), "%s", S.token_json[0] ?
			 S.token_json : "{\"access_token\":\"" TOKEN "\","
			 "\"expires_in\":\"3600\"}");
		return;
	}
	n = __atomic_add_fetch(&S.arm, 1, __ATOMIC_SEQ_CST);
	if (!q->authorization || strcmp(q->authorization, "Bearer " TOKEN)) {
		o->status = 401;
		snprintf(o->body, sizeof(o->body), "{\"error\":{\"code\":"
			 "\"AuthenticationFailed\",\"message\":\"no\"}}");
		return;
	}
	switch (S.mode) {
	case M_ASYNC_URL:
		o->status = 202;
		snprintf(o->headers, sizeof(o->headers),
			 "Azure-AsyncOperation: %s\nRetry-After: 0\n", S.url);
		return;
	case M_LOCATION_URL:
		o->status = 202;
		snprintf(o->headers, sizeof(o->headers), "Location: %s\n", S.url);
		return;
	case M_NEXT_URL:
		snprintf(o->body, sizeof(o->body), "{\"value\":[],\"nextLink\":"
			 "\"%s\"}", S.url);
		return;
	case M_INPROGRESS:
		if (strncmp(q->path, "/op/", 4)) {
			o->status = 202;
			snprintf(o->headers, sizeof(o->headers),
				 "Azure-AsyncOperation: http://127.0.0.1:%d/op/"
				 "1?api-version=1\n", S.port);
			return;
		}
		__atomic_add_fetch(&S.polls, 1, __ATOMIC_SEQ_CST);
		snprintf(o->headers, sizeof(o->headers), "Retry-After: 2147483647\n");
		snprintf(o->body, sizeof(o->body), "{\"status\":\"InProgress\"}");
		return;
	case M_LOCATION_202:
		o->status = 202;
		if (strncmp(q->path, "/loc/", 5)) {
			snprintf(o->headers, sizeof(o->headers), "Location: "
				 "http://127.0.0.1:%d/loc/1\n", S.port);
			return;
		}
		__atomic_add_fetch(&S.polls, 1, __ATOMIC_SEQ_CST);
		snprintf(o->headers, sizeof(o->headers),
			 "Retry-After: 99999999999999999999\n");
		return;
	case M_THROTTLE:
		if (__atomic_add_fetch(&S.writes, 1, __ATOMIC_SEQ_CST) == 1) {
			o->status = 429;
			snprintf(o->headers, sizeof(o->headers),
				 "Retry-After: 2147483647\n");
		}
		return;
	case M_NEXT_SELF:
		snprintf(o->body, sizeof(o->body), "{\"value\":[],\"nextLink\":"
			 "\"http://127.0.0.1:%d/self?api-version=1\"}", S.port);
		return;
	case M_MANY_VMS: {
		size_t len = snprintf(o->body, sizeof(o->body), "{\"value\":[");

		for (int i = 0; i < 150; i++)
			len += snprintf(o->body + len, sizeof(o->body) - len,
					"%s{\"name\":\"v%d\",\"tags\":{\"slurm-"
					"cluster\":\"t\"}}", i ? "," : "", i);
		snprintf(o->body + len, sizeof(o->body) - len, "],\"nextLink\":"
			 "\"http://127.0.0.1:%d/page/%d?api-version=1\"}",
			 S.port, n);
		return;
	}
	case M_NEXT_ENDLESS:
		snprintf(o->body, sizeof(o->body), "{\"value\":[],\"nextLink\":"
			 "\"http://127.0.0.1:%d/page/%d?api-version=1\"}",
			 S.port, n);
		return;
	default:
		snprintf(o->body, sizeof(o->body), "{\"name\":\"cpu-1\","
			 "\"properties\":{\"provisioningState\":\"Succeeded\"}}");
		return;
	}
}

/* Another host, where no request, and so no token, may ever arrive. */
static void _serve_evil(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	__atomic_add_fetch(&S.evil, 1, __ATOMIC_SEQ_CST);
	snprintf(o->body, sizeof(o->body), "{\"status\":\"Succeeded\"}");
}

static azml_conf_t *conf;
static azml_vm_result_t R;
static int answers;

static void _got(void *arg, const azml_vm_result_t *r)
{
	R = *r;
	answers++;
}

static void _listed(void *arg, const azml_vm_result_t *vms, size_t n,
		    const azml_vm_result_t *err)
{
	memset(&R, 0, sizeof(R));
	if (err)
		R = *err;
	else
		R.ok = true;
	answers++;
}

/* A client of the server on PORT (ARM and IMDS), EXTRA appended to the
 * configuration. */
static azml_arm_t *_client(const azml_http_opts_t *o, const char *extra)
{
	char *text, err[512];
	azml_arm_t *arm;

	ck_assert_int_gt(asprintf(&text, "ClusterName=t\nSubscriptionId="
		"00000000-0000-0000-0000-000000000000\nResourceGroup=rg\n"
		"Location=eastus\nArmEndpoint=http://127.0.0.1:%d\n"
		"ImdsEndpoint=http://127.0.0.1:%d\n%s\n", S.port, S.port,
		extra ? extra : "Credential=managed-identity"), 0);
	conf = azml_conf_load_string(text, "t.conf");
	free(text);
	for (size_t i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	ck_assert_int_eq(conf->nerrors, 0);
	arm = azml_arm_create(conf, o, err, sizeof(err));
	ck_assert_msg(arm != NULL, "%s", err);
	answers = 0;
	return arm;
}

static void _end(azml_arm_t *arm, hs_t *s)
{
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
	conf = NULL;
	hs_stop(s);
}

/* Run MODE with URL handed out; the call must fail as UntrustedUrl with
 * WANT in its message, and nothing may reach the other host. */
static void _refused(int mode, const char *url, const char *want)
{
	hs_t *s = hs_start(_serve, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 5 };
	azml_arm_t *arm = _client(&o, NULL);

	S.mode = mode;
	snprintf(S.url, sizeof(S.url), "%s", url);
	if (mode == M_ASYNC_URL)
		azml_arm_vm_power(arm, "cpu-1", false, _got, NULL);
	else if (mode == M_LOCATION_URL)
		azml_arm_vm_delete(arm, "cpu-1", _got, NULL);
	else
		azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(answers, 1);
	ck_assert_msg(!R.ok && !strcmp(R.code, "UntrustedUrl"), "%s: %s: %s",
		      url, R.code, R.message);
	ck_assert_msg(strstr(R.message, want), "%s: '%s' lacks '%s'", url,
		      R.message, want);
	ck_assert_ptr_null(strstr(R.message, TOKEN));
	ck_assert_int_eq(S.evil, 0);
	_end(arm, s);
}

START_TEST(untrusted_urls)
{
	int evil_port;
	hs_t *evil = hs_start(_serve_evil, NULL, &evil_port);
	char url[256], want[256];

	_refused(M_ASYNC_URL, "http://localhost:1@192.0.2.2:18444/op",
		 "Azure-AsyncOperation URL: refusing a URL with userinfo "
		 "(host '192.0.2.2')");
	_refused(M_ASYNC_URL, "https://evil.example/op?api-version=1",
		 "to https://evil.example:443: expected http://127.0.0.1:");
	_refused(M_ASYNC_URL, "http://192.0.2.2/op", "plain http to '192.0.2.2'");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/op", evil_port);
	snprintf(want, sizeof(want), "Azure-AsyncOperation URL to "
		 "http://127.0.0.1:%d: expected http://127.0.0.1:", evil_port);
	_refused(M_ASYNC_URL, url, want);
	snprintf(url, sizeof(url), "http://localhost:%d/loc", evil_port);
	snprintf(want, sizeof(want), "Location URL to http://localhost:%d",
		 evil_port);
	_refused(M_LOCATION_URL, url, want);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/page2", evil_port);
	snprintf(want, sizeof(want), "nextLink URL to http://127.0.0.1:%d",
		 evil_port);
	_refused(M_NEXT_URL, url, want);
	_refused(M_NEXT_URL, "https://a:b@management.azure.com/x", "userinfo");
	hs_stop(evil);
}
END_TEST

/* An operation that never ends is given up at the deadline, however long
 * the server says to wait. */
/* retrieveBootDiagnosticsData, then the blob: without the bearer token,
 * and only from a URL that is allowed. */
static struct {
	int port, blob_gets, blob_with_token;
	char blob_url[256];
} B;
static char boot_log[512];
static int boot_answers;

static void _serve_boot(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	if (strstr(q->path, "/oauth2/")) {
		snprintf(o->body, sizeof(o->body), "{\"access_token\":\"" TOKEN
			 "\",\"expires_in\":\"3600\"}");
		return;
	}
	if (strstr(q->path, "/retrieveBootDiagnosticsData")) {
		if (!q->authorization || strcmp(q->method, "POST")) {
			o->status = 401;
			return;
		}
		snprintf(o->body, sizeof(o->body), "{\"consoleScreenshotBlobUri\":"
			 "\"%s.bmp\",\"serialConsoleLogBlobUri\":\"%s\"}",
			 B.blob_url, B.blob_url);
		return;
	}
	if (!strcmp(q->path, "/blob/vm.serialconsole.log")) {
		__atomic_add_fetch(&B.blob_gets, 1, __ATOMIC_SEQ_CST);
		if (q->authorization)
			__atomic_add_fetch(&B.blob_with_token, 1,
					   __ATOMIC_SEQ_CST);
		snprintf(o->body, sizeof(o->body), "boot\nnode-init: munge-key: "
			 "failed: Key Vault answered 404 SecretNotFound\n");
		return;
	}
	o->status = 404;
}

static void _boot_got(void *arg, const char *log, size_t len,
		      const azml_vm_result_t *err)
{
	boot_answers++;
	boot_log[0] = '\0';
	memset(&R, 0, sizeof(R));
	if (err)
		R = *err;
	else
		snprintf(boot_log, sizeof(boot_log), "%.*s", (int) len, log);
}

START_TEST(boot_log_fetch)
{
	hs_t *s = hs_start(_serve_boot, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 5 };
	azml_arm_t *arm = _client(&o, NULL);
	char reason[300];

	snprintf(B.blob_url, sizeof(B.blob_url), "http://127.0.0.1:%d/blob/"
		 "vm.serialconsole.log?sig=x", S.port);
	boot_answers = 0;
	azml_arm_vm_boot_log(arm, "cpu-1", _boot_got, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(boot_answers, 1);
	ck_assert_msg(!R.code[0], "%s: %s", R.code, R.message);
	ck_assert_int_eq(B.blob_gets, 1);
	ck_assert_int_eq(B.blob_with_token, 0);	/* a SAS URL: no token */
	ck_assert_int_eq(azml_bootdiag_reason(boot_log, strlen(boot_log),
					      reason, sizeof(reason)), 1);
	ck_assert_str_eq(reason, "azureml: node-init: munge-key: Key Vault "
			 "answered 404 SecretNotFound");

	/* a URL elsewhere is refused, and nothing is fetched */
	snprintf(B.blob_url, sizeof(B.blob_url), "https://evil.example/blob/"
		 "vm.serialconsole.log");
	azml_arm_vm_boot_log(arm, "cpu-1", _boot_got, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(boot_answers, 2);
	ck_assert_str_eq(R.code, "UntrustedUrl");
	ck_assert_ptr_nonnull(strstr(R.message, "refusing to fetch the serial "
				     "console log"));
	ck_assert_int_eq(B.blob_gets, 1);
	_end(arm, s);
}
END_TEST

START_TEST(operation_deadline)
{
	for (int m = 0; m < 2; m++) {
		hs_t *s = hs_start(_serve, NULL, &S.port);
		azml_http_opts_t o = { .max_retry_after = 1 };
		azml_arm_t *arm = _client(&o, NULL);
		double t0 = azml_now();

		S.mode = m ? M_LOCATION_202 : M_INPROGRESS;
		S.polls = 0;
		azml_arm_set_operation_timeout(arm, 3);
		if (m)
			azml_arm_vm_delete(arm, "cpu-1", _got, NULL);
		else
			azml_arm_vm_power(arm, "cpu-1", true, _got, NULL);
		azml_arm_run(arm);
		ck_assert_int_eq(answers, 1);
		ck_assert_msg(!R.ok && !strcmp(R.code, "OperationTimedOut"),
			      "%s: %s", R.code, R.message);
		ck_assert_ptr_nonnull(strstr(R.message, "after 3 s"));
		ck_assert_int_ge(S.polls, 1);
		ck_assert_double_lt(azml_now() - t0, 8);
		_end(arm, s);
	}
}
END_TEST

/* A 429 with a huge Retry-After delays the writes behind it by the cap,
 * not forever. */
START_TEST(throttle_capped)
{
	hs_t *s = hs_start(_serve, NULL, &S.port);
	azml_http_opts_t o = { .max_retry_after = 1, .retry_for = 30 };
	azml_arm_t *arm = _client(&o, NULL);
	double t0 = azml_now();
	int ok = 0;

	S.mode = M_THROTTLE;
	azml_arm_vm_power(arm, "cpu-1", false, _got, NULL);
	azml_arm_run(arm);
	ok += R.ok;
	azml_arm_vm_power(arm, "cpu-2", false, _got, NULL);
	azml_arm_vm_power(arm, "cpu-3", false, _got, NULL);
	azml_arm_run(arm);
	ok += R.ok;
	ck_assert_int_eq(answers, 3);
	ck_assert_int_ge(ok, 2);
	ck_assert_int_eq(S.writes, 4);
	ck_assert_double_lt(azml_now() - t0, 6);
	ck_assert_int_eq(azml_arm_stats(arm)->throttled, 1);
	_end(arm, s);
}
END_TEST

START_TEST(next_link_loops)
{
	hs_t *s = hs_start(_serve, NULL, &S.port);
	azml_arm_t *arm = _client(NULL, NULL);

	S.mode = M_NEXT_SELF;
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_msg(!R.ok && !strcmp(R.code, "RepeatedNextLink"), "%s: %s",
		      R.code, R.message);
	ck_assert_int_eq(S.arm, 2);
	_end(arm, s);

	s = hs_start(_serve, NULL, &S.port);
	arm = _client(NULL, NULL);
	S.mode = M_NEXT_ENDLESS;
	S.arm = 0;
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_msg(!R.ok && !strcmp(R.code, "TooManyPages"), "%s: %s",
		      R.code, R.message);
	ck_assert_int_eq(S.arm, AZML_ARM_MAX_PAGES);
	_end(arm, s);

	s = hs_start(_serve, NULL, &S.port);
	arm = _client(NULL, NULL);
	S.mode = M_MANY_VMS;
	S.arm = 0;
	azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_msg(!R.ok && !strcmp(R.code, "TooManyVMs"), "%s: %s",
		      R.code, R.message);
	ck_assert_int_eq(S.arm, AZML_ARM_MAX_VMS / 150 + 1);
	_end(arm, s);
}
END_TEST

/* However odd the token answer's lifetime, the token is not fetched again
 * for every request. */
START_TEST(token_lifetime)
{
	static const char *expiry[] = {
		",\"expires_in\":\"abc\"", ",\"expires_in\":\"-5\"",
		",\"expires_in\":-5", ",\"expires_in\":0",
		",\"expires_in\":1e300", ",\"expires_in\":\"99999999999999999999\"",
		",\"expires_in\":\"30\"", ",\"expires_on\":\"12\"",
		",\"expires_in\":null", "",
	};

	for (size_t i = 0; i < sizeof(expiry) / sizeof(expiry[0]); i++) {
		hs_t *s = hs_start(_serve, NULL, &S.port);
		azml_arm_t *arm = _client(NULL, NULL);

		S.mode = M_PLAIN;
		S.tokens = 0;
		snprintf(S.token_json, sizeof(S.token_json),
			 "{\"access_token\":\"" TOKEN "\"%s}", expiry[i]);
		for (int k = 0; k < 3; k++) {
			azml_arm_vm_get(arm, "cpu-1", _got, NULL);
			azml_arm_run(arm);
			ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
		}
		ck_assert_msg(S.tokens == 1, "'%s': %d token requests", expiry[i],
			      S.tokens);
		_end(arm, s);
	}
}
END_TEST

/* Freed blocks that still start with the token answer (watched on this
 * thread only: the server's own copies are not the client's).  Not under
 * AddressSanitizer, whose allocator glibc's free cannot release. */
#if !defined(__SANITIZE_ADDRESS__)
extern void __libc_free(void *p);
static volatile int watch_frees, unwiped;
static pthread_t watcher;

void free(void *p)
{
	if (p && watch_frees && pthread_equal(pthread_self(), watcher) &&
	    malloc_usable_size(p) >= sizeof(WIPE_MARKER) &&
	    !memcmp(p, WIPE_MARKER, sizeof(WIPE_MARKER) - 1))
		unwiped++;
	__libc_free(p);
}
#endif

START_TEST(token_answer_wiped)
{
#if defined(__SANITIZE_ADDRESS__)
	fprintf(stderr, "token_answer_wiped: skipped under AddressSanitizer, "
		"which owns free()\n");
#else
	hs_t *s = hs_start(_serve, NULL, &S.port);
	azml_arm_t *arm = _client(NULL, NULL);

	S.mode = M_PLAIN;
	snprintf(S.token_json, sizeof(S.token_json), WIPE_MARKER
		 "\"access_token\":\"" TOKEN "\",\"expires_in\":3600}");
	watcher = pthread_self();
	watch_frees = 1;
	azml_arm_vm_get(arm, "cpu-1", _got, NULL);
	azml_arm_run(arm);
	watch_frees = 0;
	ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
	ck_assert_int_eq(S.tokens, 1);
	ck_assert_int_eq(unwiped, 0);
	_end(arm, s);
#endif
}
END_TEST

/* Client secret with a tenant domain: the token URL names the domain. */
START_TEST(tenant_domain)
{
	char secret[] = "/tmp/azml-secret-XXXXXX", *extra;
	int fd = mkstemp(secret);
	hs_t *s;
	azml_arm_t *arm;
	char err[512];

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "s3cret\n", 7), 7);
	close(fd);
	s = hs_start(_serve, NULL, &S.port);
	ck_assert_int_gt(asprintf(&extra, "Credential=client-secret:%s\n"
		"TenantId=contoso.onmicrosoft.com ClientId=aaaaaaaa-bbbb-cccc-"
		"dddd-eeeeeeeeeeee\nAuthorityHost=http://127.0.0.1:%d/", secret,
		S.port), 0);
	arm = _client(NULL, extra);
	free(extra);
	S.mode = M_PLAIN;
	azml_arm_vm_get(arm, "cpu-1", _got, NULL);
	azml_arm_run(arm);
	ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
	ck_assert_str_eq(S.token_path, "/contoso.onmicrosoft.com/oauth2/v2.0/token");
	_end(arm, s);
	unlink(secret);

	/* AZURE_TENANT_ID goes into the URL's path: checked as TenantId is */
	setenv("AZURE_CLIENT_ID", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee", 1);
	setenv("AZURE_CLIENT_SECRET", "s3cret", 1);
	setenv("AZURE_TENANT_ID", "contoso.com/../../evil?x=", 1);
	conf = azml_conf_load_string("ClusterName=t\nSubscriptionId=00000000-"
		"0000-0000-0000-000000000000\nResourceGroup=rg\nLocation=eastus\n"
		"Credential=env\n", "t.conf");
	ck_assert_int_eq(conf->nerrors, 0);
	ck_assert_ptr_null(azml_arm_create(conf, NULL, err, sizeof(err)));
	ck_assert_ptr_nonnull(strstr(err, "AZURE_TENANT_ID"));
	setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com", 1);
	arm = azml_arm_create(conf, NULL, err, sizeof(err));
	ck_assert_msg(arm != NULL, "%s", err);
	azml_arm_destroy(arm);
	azml_conf_destroy(conf);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* What may be deleted: a VM's own answer decides, never a listing */

#define SUB "/subscriptions/00000000-0000-0000-0000-000000000000"
#define SET_ID(rg, set) SUB "/resourceGroups/" rg "/providers/" \
	"Microsoft.Compute/virtualMachineScaleSets/" set

static struct {
	int deletes, gets, nic_gets;
	char deleted[256], nic_path[256];
} D;

/* A VM's model: NAME, tagged slurm-cluster=CLUSTER (NULL: no tag), in
 * scale set SET_ID (NULL: none). */
static void _vm_json(char *out, size_t n, const char *name,
		     const char *cluster, const char *set_id)
{
	snprintf(out, n, "{\"name\":\"%s\",\"tags\":{%s%s%s},\"properties\":{"
		 "\"provisioningState\":\"Succeeded\"%s%s%s}}", name,
		 cluster ? "\"slurm-cluster\":\"" : "", cluster ? cluster : "",
		 cluster ? "\"" : "", set_id ? ",\"virtualMachineScaleSet\":"
		 "{\"id\":\"" : "", set_id ? set_id : "", set_id ? "\"}" : "");
}

static void _serve_vms(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	const char *vm = strstr(q->path, "/virtualMachines/");
	const char *name = vm ? vm + strlen("/virtualMachines/") : NULL;
	size_t len;

	if (strstr(q->path, "/oauth2/")) {
		snprintf(o->body, sizeof(o->body), "{\"access_token\":\"" TOKEN
			 "\",\"expires_in\":\"3600\"}");
		return;
	}
	if (strstr(q->path, "/networkInterfaces/")) {
		__atomic_add_fetch(&D.nic_gets, 1, __ATOMIC_SEQ_CST);
		snprintf(D.nic_path, sizeof(D.nic_path), "%s", q->path);
		snprintf(o->body, sizeof(o->body), "{\"properties\":{"
			 "\"ipConfigurations\":[{\"properties\":{"
			 "\"privateIPAddress\":\"10.0.0.4\"}}]}}");
		return;
	}
	if (!strcmp(q->method, "DELETE")) {
		__atomic_add_fetch(&D.deletes, 1, __ATOMIC_SEQ_CST);
		snprintf(D.deleted, sizeof(D.deleted), "%s", name ? name : "");
		return;
	}
	if (!strcmp(q->method, "PUT")) {	/* a create, answered for another */
		_vm_json(o->body, sizeof(o->body), "evil-1", "t", NULL);
		return;
	}
	if (!name) {	/* a scale set's listing, hostile */
		len = snprintf(o->body, sizeof(o->body), "{\"value\":[");
		_vm_json(o->body + len, sizeof(o->body) - len, "t-cpu_aaaa1111",
			 "t", SET_ID("RG", "T-CPU"));
		len = strlen(o->body);
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		_vm_json(o->body + len, sizeof(o->body) - len, "prod-db-1",
			 "prod", NULL);
		len = strlen(o->body);
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		_vm_json(o->body + len, sizeof(o->body) - len, "t-cpu_bbbb2222",
			 "t", SET_ID("other-rg", "t-cpu"));
		len = strlen(o->body);
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		_vm_json(o->body + len, sizeof(o->body) - len, "web_cccc3333",
			 "t", SET_ID("rg", "web"));
		len = strlen(o->body);
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		_vm_json(o->body + len, sizeof(o->body) - len, "t-cpu_dddd4444",
			 NULL, SET_ID("rg", "t-cpu"));
		len = strlen(o->body);
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		_vm_json(o->body + len, sizeof(o->body) - len, "t-cpu_eeee5555",
			 "t\033[2J", SET_ID("rg", "t-cpu"));
		len = strlen(o->body);
		snprintf(o->body + len, sizeof(o->body) - len, "]}");
		return;
	}
	__atomic_add_fetch(&D.gets, 1, __ATOMIC_SEQ_CST);
	if (!strcmp(name, "cpu-1"))
		_vm_json(o->body, sizeof(o->body), name, "t", NULL);
	else if (!strcmp(name, "prod-db-1"))
		_vm_json(o->body, sizeof(o->body), name, "prod", NULL);
	else if (!strcmp(name, "cpu-3"))	/* ours by tag, yet in a set */
		_vm_json(o->body, sizeof(o->body), name, "t",
			 SET_ID("rg", "t-cpu"));
	else if (!strcmp(name, "cpu-4"))	/* the answer of another VM */
		_vm_json(o->body, sizeof(o->body), "cpu-1", "t", NULL);
	else if (!strcmp(name, "t-cpu_aaaa1111"))
		_vm_json(o->body, sizeof(o->body), name, "t",
			 SET_ID("rg", "t-cpu"));
	else if (!strcmp(name, "t-cpu_bbbb2222"))
		_vm_json(o->body, sizeof(o->body), name, "t",
			 SET_ID("other-rg", "t-cpu"));
	else {
		o->status = 404;
		snprintf(o->body, sizeof(o->body), "{\"error\":{\"code\":"
			 "\"ResourceNotFound\",\"message\":\"not found\"}}");
	}
}

/* Delete NAME (SET: its scale set, or NULL) through azml_arm_vm_delete_ours;
 * the answer is in R. */
static void _delete_ours(azml_arm_t *arm, const char *name, const char *set)
{
	answers = 0;
	memset(&R, 0, sizeof(R));
	azml_arm_vm_delete_ours(arm, name, set, _got, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(answers, 1);
}

/* Before a delete by name, a GET: a VM without our cluster tag, in another
 * set or resource group, in a set when it should be on its own, or whose
 * answer is another VM's, is left alone with why; nothing is deleted. */
START_TEST(delete_only_ours)
{
	hs_t *s = hs_start(_serve_vms, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 5 };
	azml_arm_t *arm = _client(&o, NULL);
	static const struct {
		const char *name, *set, *why;
	} refused[] = {
		{ "prod-db-1", NULL, "VM 'prod-db-1' is not tagged "
		  "slurm-cluster=t (its tag says 'prod')" },
		{ "cpu-3", NULL, "VM 'cpu-3' is in scale set " SET_ID("rg",
		  "t-cpu") ", not a VM of its own" },
		{ "cpu-1", "t-cpu", "VM 'cpu-1' is in no scale set, not in "
		  SET_ID("rg", "t-cpu") },
		{ "t-cpu_bbbb2222", "t-cpu", "VM 't-cpu_bbbb2222' is in scale "
		  "set " SET_ID("other-rg", "t-cpu") ", not in "
		  SET_ID("rg", "t-cpu") },
		{ "t-cpu_aaaa1111", "web", "VM 't-cpu_aaaa1111' is in scale "
		  "set " SET_ID("rg", "t-cpu") ", not in " SET_ID("rg", "web") },
	};

	memset(&D, 0, sizeof(D));
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		_delete_ours(arm, refused[i].name, refused[i].set);
		ck_assert_msg(!R.ok, "%s was deleted", refused[i].name);
		ck_assert_str_eq(R.code, "NotOurVM");
		ck_assert_str_eq(R.message, refused[i].why);
		ck_assert_str_eq(R.name, refused[i].name);
	}
	/* an answer about another VM is no answer */
	_delete_ours(arm, "cpu-4", NULL);
	ck_assert(!R.ok);
	ck_assert_str_eq(R.code, "InvalidResponse");
	ck_assert_str_eq(R.message, "the answer to reading VM 'cpu-4' "
			 "describes VM 'cpu-1'");
	ck_assert_int_eq(D.deletes, 0);
	ck_assert_int_eq(D.gets, 6);

	/* ours: one GET, one DELETE; gone already: deleted, no DELETE */
	_delete_ours(arm, "cpu-1", NULL);
	ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
	ck_assert_int_eq(D.deletes, 1);
	ck_assert_str_eq(D.deleted, "cpu-1");
	_delete_ours(arm, "t-cpu_aaaa1111", "T-Cpu");	/* ids without case */
	ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
	ck_assert_int_eq(D.deletes, 2);
	_delete_ours(arm, "cpu-2", NULL);
	ck_assert_msg(R.ok, "%s: %s", R.code, R.message);
	ck_assert_int_eq(D.deletes, 2);
	_end(arm, s);
}
END_TEST

static azml_vm_result_t *listed_vms;
static size_t nlisted;

static void _keep_listing(void *arg, const azml_vm_result_t *vms, size_t n,
			  const azml_vm_result_t *err)
{
	ck_assert_ptr_null(err);
	listed_vms = malloc((n + 1) * sizeof(*vms));
	memcpy(listed_vms, vms, n * sizeof(*vms));
	nlisted = n;
}

/* A scale set's listing that holds VMs of no set, of another set, of the
 * same set in another resource group, and without our cluster tag (one
 * with a terminal escape in it): only the set's own VM is ours, and each
 * other says why, printable. */
START_TEST(hostile_set_listing)
{
	hs_t *s = hs_start(_serve_vms, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 5 };
	azml_arm_t *arm = _client(&o, NULL);
	static const char *why[] = {
		NULL,
		"VM 'prod-db-1' is not tagged slurm-cluster=t (its tag says "
		"'prod')",
		"VM 't-cpu_bbbb2222' is in scale set " SET_ID("other-rg",
		"t-cpu") ", not in " SET_ID("rg", "t-cpu"),
		"VM 'web_cccc3333' is in scale set " SET_ID("rg", "web")
		", not in " SET_ID("rg", "t-cpu"),
		"VM 't-cpu_dddd4444' is not tagged slurm-cluster=t (it has no "
		"such tag)",
		"VM 't-cpu_eeee5555' is not tagged slurm-cluster=t (its tag "
		"says 't\\x1b[2J')",
	};
	char msg[512];

	azml_arm_vmss_vms(arm, "t-cpu", _keep_listing, NULL);
	azml_arm_run(arm);
	ck_assert_uint_eq(nlisted, 6);
	for (size_t i = 0; i < nlisted; i++) {
		bool ours = azml_arm_vm_ours(conf, &listed_vms[i], "t-cpu", msg,
					     sizeof(msg));

		ck_assert_msg(ours == !why[i], "%s", listed_vms[i].name);
		if (why[i])
			ck_assert_str_eq(msg, why[i]);
	}
	free(listed_vms);
	_end(arm, s);
}
END_TEST

/* A create's answer that names another VM: the requested name stays (the
 * NIC asked for is the requested VM's), and the answer is an error. */
START_TEST(create_keeps_name)
{
	hs_t *s = hs_start(_serve_vms, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 5 };
	azml_arm_t *arm = _client(&o, "Credential=managed-identity\n"
		"AdminUser=azureml\nSubnet=/subscriptions/x/resourceGroups/rg/"
		"providers/Microsoft.Network/virtualNetworks/v/subnets/s\n"
		"ComputeCluster=cpu VmSize=Standard_D2_v2 MaxNodes=2");

	memset(&D, 0, sizeof(D));
	answers = 0;
	azml_arm_vm_create(arm, azml_conf_find_target(conf, "cpu"), "cpu-1",
			   _got, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(answers, 1);
	ck_assert(!R.ok);
	ck_assert_str_eq(R.code, "InvalidResponse");
	ck_assert_str_eq(R.message, "the answer to creating VM 'cpu-1' "
			 "describes VM 'evil-1'");
	ck_assert_str_eq(R.name, "cpu-1");
	ck_assert_str_eq(R.node, "cpu-1");
	ck_assert_int_eq(D.nic_gets, 0);	/* no NIC of 'evil-1' asked */
	_end(arm, s);
}
END_TEST

START_TEST(vm_set_id)
{
	cJSON *j = cJSON_Parse("{\"name\":\"a\",\"tags\":{\"slurm-cluster\":"
		"\"t\"},\"properties\":{\"virtualMachineScaleSet\":{\"id\":"
		"\"" SET_ID("rg", "t-cpu") "/\"}}}");
	azml_vm_result_t r = { 0 };
	char why[512], out[32];

	/* a trailing '/': no set name, yet in a set, and not ours */
	azml_arm_parse_vm(j, &r);
	ck_assert_str_eq(r.scale_set, "");
	ck_assert_str_eq(r.set_id, SET_ID("rg", "t-cpu") "/");
	ck_assert_ptr_nonnull(conf = azml_conf_load_string("ClusterName=t\n"
		"SubscriptionId=00000000-0000-0000-0000-000000000000\n"
		"ResourceGroup=rg\nLocation=eastus\n", "t.conf"));
	ck_assert(!azml_arm_vm_ours(conf, &r, NULL, why, sizeof(why)));
	ck_assert(!azml_arm_vm_ours(conf, &r, "t-cpu", why, sizeof(why)));
	cJSON_Delete(j);
	azml_conf_destroy(conf);
	conf = NULL;
	ck_assert_str_eq(azml_escape("a\\b\n\xc3\xa9", out, sizeof(out)),
			 "a\\\\b\\x0a\\xc3\\xa9");
	ck_assert_str_eq(azml_escape("\n\n\n", out, 9), "\\x0a\\x0a");
	ck_assert_str_eq(azml_escape(NULL, out, sizeof(out)), "");
}
END_TEST

START_TEST(scheduled_events)
{
	cJSON *ex = tu_example("imds/scheduledevents-preempt.json");
	char *body = cJSON_PrintUnformatted(ex);
	azml_sched_event_t ev[AZML_SCHED_EVENTS_MAX];

	ck_assert_int_eq(azml_parse_scheduled_events(body, "myspotvm_0", ev,
		AZML_SCHED_EVENTS_MAX), 1);
	ck_assert_int_eq(ev[0].type, AZML_EVENT_PREEMPT);
	ck_assert_str_eq(ev[0].type_name, "Preempt");
	ck_assert_str_eq(ev[0].id, "00000000-0000-0000-0000-000000000001");
	ck_assert_str_eq(ev[0].not_before, "Mon, 19 Sep 2016 18:29:47 GMT");
	ck_assert_int_eq(azml_parse_scheduled_events(body, "othervm", ev,
		AZML_SCHED_EVENTS_MAX), 0);
	ck_assert_int_eq(azml_parse_scheduled_events("{\"DocumentIncarnation\":1,"
		"\"Events\":[]}", "x", ev, AZML_SCHED_EVENTS_MAX), 0);
	ck_assert_int_eq(azml_parse_scheduled_events("<html>", "x", ev,
		AZML_SCHED_EVENTS_MAX), -1);
	cJSON_free(body);
	cJSON_Delete(ex);
}
END_TEST

/* Every type, every event of the VM in order, none of another VM's, and
 * ids that could not go into a reason or a POST body skipped. */
START_TEST(scheduled_events_types)
{
	static const char doc[] = "{\"DocumentIncarnation\":5,\"Events\":["
		"{\"EventId\":\"A-1\",\"EventType\":\"Reboot\",\"ResourceType\":"
		"\"VirtualMachine\",\"Resources\":[\"vm1\",\"vm2\"],\"EventStatus\":"
		"\"Scheduled\",\"NotBefore\":\"Mon, 19 Sep 2016 18:29:47 GMT\"},"
		"{\"EventId\":\"B-2\",\"EventType\":\"Redeploy\",\"Resources\":"
		"[\"VM1\"],\"EventStatus\":\"Started\",\"NotBefore\":\"\"},"
		"{\"EventId\":\"C-3\",\"EventType\":\"Freeze\",\"Resources\":"
		"[\"vm2\"]},"
		"{\"EventId\":\"D-4\",\"EventType\":\"Freeze\",\"Resources\":"
		"[\"vm1\"]},"
		"{\"EventId\":\"bad id\\\"\",\"EventType\":\"Terminate\","
		"\"Resources\":[\"vm1\"]},"
		"{\"EventType\":\"Terminate\",\"Resources\":[\"vm1\"]},"
		"{\"EventId\":\"E-5\",\"EventType\":\"Terminate\",\"Resources\":"
		"[\"vm1\"]},"
		"{\"EventId\":\"F-6\",\"EventType\":\"Preempt\",\"Resources\":"
		"[\"vm1\"]},"
		"{\"EventId\":\"G-7\",\"EventType\":\"SomethingNew\","
		"\"Resources\":[\"vm1\"]}]}";
	azml_sched_event_t ev[AZML_SCHED_EVENTS_MAX];

	ck_assert_int_eq(azml_parse_scheduled_events(doc, "vm1", ev,
		AZML_SCHED_EVENTS_MAX), 6);
	ck_assert_int_eq(ev[0].type, AZML_EVENT_REBOOT);
	ck_assert_str_eq(ev[0].id, "A-1");
	ck_assert_str_eq(ev[0].status, "Scheduled");
	ck_assert_int_eq(ev[1].type, AZML_EVENT_REDEPLOY);
	ck_assert_str_eq(ev[1].status, "Started");
	ck_assert_str_eq(ev[1].not_before, "");
	ck_assert_int_eq(ev[2].type, AZML_EVENT_FREEZE);
	ck_assert_str_eq(ev[2].id, "D-4");
	ck_assert_int_eq(ev[3].type, AZML_EVENT_TERMINATE);
	ck_assert_str_eq(ev[3].id, "E-5");
	ck_assert_int_eq(ev[4].type, AZML_EVENT_PREEMPT);
	ck_assert_int_eq(ev[5].type, AZML_EVENT_OTHER);
	ck_assert_str_eq(ev[5].type_name, "SomethingNew");
	/* bounded by MAX */
	ck_assert_int_eq(azml_parse_scheduled_events(doc, "vm1", ev, 2), 2);
	ck_assert_int_eq(azml_parse_scheduled_events(doc, "vm2", ev,
		AZML_SCHED_EVENTS_MAX), 2);
	ck_assert_str_eq(ev[1].id, "C-3");
	ck_assert_int_eq(azml_parse_scheduled_events("{\"Events\":{}}", "vm1",
		ev, AZML_SCHED_EVENTS_MAX), -1);
	ck_assert_int_eq(azml_event_type("Reboot"), AZML_EVENT_REBOOT);
	ck_assert_int_eq(azml_event_type("reboot"), AZML_EVENT_OTHER);
	ck_assert_int_eq(azml_event_type(NULL), AZML_EVENT_OTHER);
}
END_TEST

/* Answers larger than their limit (http.h): stopped while they arrive,
 * chunked or announced, not retried, nothing parsed, and the message
 * names the path and the limit, never the query or the token. */
enum { W_ARM, W_TOKEN, W_POLL };
static struct {
	int where, length, arm, tokens, port;
	size_t size, sent;
} BIG;

static void _serve_big(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	bool tok = strstr(q->path, "/oauth2/") != NULL;

	if (tok)
		__atomic_add_fetch(&BIG.tokens, 1, __ATOMIC_SEQ_CST);
	else
		__atomic_add_fetch(&BIG.arm, 1, __ATOMIC_SEQ_CST);
	if ((tok && BIG.where == W_TOKEN) || (!tok && BIG.where == W_ARM) ||
	    (BIG.where == W_POLL && !strncmp(q->path, "/op/", 4))) {
		o->big = BIG.size;
		o->big_length = BIG.length;
		o->big_sent = &BIG.sent;
		return;
	}
	if (tok) {
		snprintf(o->body, sizeof(o->body), "{\"access_token\":\"" TOKEN
			 "\",\"expires_in\":\"3600\"}");
		return;
	}
	o->status = 202;	/* W_POLL: an operation to poll */
	snprintf(o->headers, sizeof(o->headers), "Azure-AsyncOperation: "
		 "http://127.0.0.1:%d/op/1?api-version=1&secret=q\n"
		 "Retry-After: 0\n", BIG.port);
}

static long _maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void _too_large(int where, int length, size_t size, const char *path,
		       const char *limit)
{
	hs_t *s = hs_start(_serve_big, NULL, &S.port);
	azml_http_opts_t o = { .retry_for = 30 };
	azml_arm_t *arm = _client(&o, NULL);
	long rss = _maxrss_kb();

	memset(&BIG, 0, sizeof(BIG));
	BIG.where = where;
	BIG.length = length;
	BIG.size = size;
	BIG.port = S.port;
	if (where == W_POLL)
		azml_arm_vm_power(arm, "cpu-1", false, _got, NULL);
	else
		azml_arm_vm_list(arm, _listed, NULL);
	azml_arm_run(arm);
	ck_assert_int_eq(answers, 1);
	ck_assert_msg(!R.ok, "an answer of %zu bytes was taken", size);
	ck_assert_msg(strstr(R.message, path) && strstr(R.message, limit),
		      "'%s' lacks '%s' or '%s'", R.message, path, limit);
	ck_assert_ptr_null(strstr(R.message, "api-version"));
	ck_assert_ptr_null(strstr(R.message, "secret"));
	ck_assert_ptr_null(strstr(R.message, TOKEN));
	/* asked once: not retried */
	ck_assert_int_eq(where == W_TOKEN ? BIG.tokens : where == W_POLL ?
			 BIG.arm - 1 : BIG.arm, 1);
	/* stopped on the way: far less made than the whole, and far less
	 * memory than it */
	ck_assert_msg(BIG.sent < size / 2, "%zu of %zu bytes sent", BIG.sent,
		      size);
	ck_assert_msg(_maxrss_kb() - rss < 40 * 1024, "grew %ld KB",
		      _maxrss_kb() - rss);
	_end(arm, s);
}

START_TEST(answer_too_large)
{
	char err[512], url[128], *tok = NULL;
	hs_t *s;

	/* a 60 MiB listing page of {},{},... over 8 MiB: chunked, then with
	 * its Content-Length (refused before it comes) */
	_too_large(W_ARM, 0, 60 << 20, "/subscriptions/00000000-0000-0000-"
		   "0000-000000000000/resourceGroups/rg/providers/"
		   "Microsoft.Compute/virtualMachines", "limit of 8388608 bytes");
	_too_large(W_ARM, 1, 60 << 20, "/providers/Microsoft.Compute/"
		   "virtualMachines", "limit of 8388608 bytes");
	/* the token answer (managed identity, IMDS) over 64 KiB */
	_too_large(W_TOKEN, 0, 60 << 20, "/metadata/identity/oauth2/token",
		   "limit of 65536 bytes");
	/* an operation's status over 64 KiB, however small for a page */
	_too_large(W_POLL, 0, 60 << 20, "/op/1", "limit of 65536 bytes");
	/* node-init's IMDS token (128 KiB for IMDS) */
	s = hs_start(_serve_big, NULL, &S.port);
	memset(&BIG, 0, sizeof(BIG));
	BIG.where = W_TOKEN;
	BIG.size = 60 << 20;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", S.port);
	ck_assert_int_eq(azml_imds_token(url, "vm1", "https://vault.azure.net",
					 NULL, &tok, err, sizeof(err)), -1);
	ck_assert_ptr_null(tok);
	ck_assert_msg(strstr(err, "/metadata/identity/oauth2/token is larger "
			     "than the limit of 131072 bytes") &&
		      !strstr(err, "vault"), "%s", err);
	ck_assert_int_eq(BIG.tokens, 1);
	ck_assert_uint_lt(BIG.sent, 30 << 20);
	hs_stop(s);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("arm");

	tu_add_shared_test(tc, vm_get);
	tu_add_shared_test(tc, vm_instance_view);
	tu_add_shared_test(tc, vm_list);
	tu_add_shared_test(tc, vm_create_body);
	tu_add_shared_test(tc, long_running_headers);
	tu_add_shared_test(tc, usages);
	tu_add_shared_test(tc, vm_sizes);
	tcase_add_test(tc, huge_numbers);
	tcase_add_test(tc, fuzz_regressions);
	tu_add_shared_test(tc, aml_compute);
	tcase_add_test(tc, errors_and_operations);
	tu_add_shared_test(tc, scheduled_events);
	tcase_add_test(tc, scheduled_events_types);
	tcase_add_test(tc, url_rules);
	tcase_add_test(tc, retry_after_values);
	tcase_add_test(tc, untrusted_urls);
	tcase_add_test(tc, vm_create_userdata);
	tcase_add_test(tc, boot_log_reason);
	tcase_add_test(tc, boot_log_urls);
	tcase_add_test(tc, boot_log_fetch);
	tcase_add_test(tc, operation_deadline);
	tcase_add_test(tc, throttle_capped);
	tcase_add_test(tc, next_link_loops);
	tcase_add_test(tc, token_lifetime);
	tcase_add_test(tc, token_answer_wiped);
	tcase_add_test(tc, tenant_domain);
	tcase_add_test(tc, vmss_body);
	tcase_add_test(tc, vmss_body_mix);
	tcase_add_test(tc, answer_too_large);
	tcase_add_test(tc, delete_only_ours);
	tcase_add_test(tc, hostile_set_listing);
	tcase_add_test(tc, create_keeps_name);
	tcase_add_test(tc, vm_set_id);
	tcase_set_timeout(tc, 60);
	return tu_run("arm", tc);
}

/*
 * conf-test.c - the azureml.conf parser: a good file, a table of bad inputs
 * (each with the message it must give, at FILE:LINE), Include, lookups, and
 * arbitrary bytes.
 */
#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "testutil.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Four global lines: the bad line under test is line 5. */
#define HEAD "ClusterName=t\n" \
	"SubscriptionId=00000000-0000-0000-0000-000000000000\n" \
	"ResourceGroup=rg\nLocation=eastus\n"

START_TEST(good_config)
{
	azml_conf_t *c = azml_conf_load_string(HEAD
		"ArmEndpoint=http://127.0.0.1:8443   # the emulator\n"
		"credential=client-secret:/etc/slurm/azureml.secret\n"
		"TenantId=11111111-2222-3333-4444-555555555555 "
		"ClientId=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\n"
		"AdminUser=azureml\n"
		"ComputeCluster=gpu-v100 VmSize=standard_nc6s_v3 MinNodes=1 \\\n"
		"   MaxNodes=8 IdleSecondsBeforeScaledown=300 QuotaApproved=yes\n"
		"ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=64 "
		"Priority=lowpriority Tags=\"team:ml,cost center:42\"\n"
		"ComputeInstance=dev-box VmSize=Standard_DS3_v2 AdminUser=me\n"
		"AttachedCompute=lab-a100 Nodes=lab[01-04] Gres=gpu:a100:4 Cuda=12.2\n",
		"test.conf");

	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->ntargets, 4);
	ck_assert_str_eq(c->arm_endpoint, "http://127.0.0.1:8443");
	ck_assert_int_eq(c->credential, AZML_CRED_CLIENT_SECRET);
	ck_assert_str_eq(c->secret_file, "/etc/slurm/azureml.secret");
	ck_assert_str_eq(c->authority_host, "https://login.microsoftonline.com");

	const azml_target_t *t = azml_conf_find_target(c, "GPU-V100");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(t->kind, AZML_CLUSTER);
	ck_assert_str_eq(t->vm_size, "Standard_NC6s_v3");	/* canonical */
	ck_assert_int_eq(t->min_nodes, 1);
	ck_assert_int_eq(t->max_nodes, 8);
	ck_assert_int_eq(t->idle_seconds, 300);
	ck_assert_str_eq(t->nodes, "gpu-v100-[1-8]");
	ck_assert_str_eq(t->gres, "gpu:v100:1");
	ck_assert_int_eq(t->cpus, 6);
	ck_assert_str_eq(t->admin_user, "azureml");	/* inherited */
	ck_assert_int_eq(t->line, 9);

	t = azml_conf_find_target(c, "cpu-spot");
	ck_assert_int_eq(t->priority, AZML_LOW_PRIORITY);
	ck_assert_int_eq(t->idle_seconds, 120);		/* default */
	ck_assert_str_eq(t->tags, "team:ml,cost center:42");
	ck_assert_ptr_null(t->gres);

	t = azml_conf_find_target(c, "dev-box");
	ck_assert_int_eq(t->kind, AZML_INSTANCE);
	ck_assert_str_eq(t->nodes, "dev-box");
	ck_assert_str_eq(t->admin_user, "me");

	t = azml_conf_find_target(c, "lab-a100");
	ck_assert_int_eq(t->kind, AZML_ATTACHED);
	ck_assert_int_eq(t->node_count, 4);
	ck_assert_str_eq(t->cuda, "12.2");

	ck_assert_str_eq(azml_conf_target_of_node(c, "gpu-v100-8")->name, "gpu-v100");
	ck_assert_ptr_null(azml_conf_target_of_node(c, "gpu-v100-9"));
	ck_assert_ptr_null(azml_conf_target_of_node(c, "gpu-v100-0"));
	ck_assert_ptr_null(azml_conf_target_of_node(c, "gpu-v100-01"));
	ck_assert_ptr_null(azml_conf_target_of_node(c, "gpu-v100-"));
	ck_assert_str_eq(azml_conf_target_of_node(c, "lab03")->name, "lab-a100");
	ck_assert_ptr_null(azml_conf_target_of_node(c, "lab05"));
	ck_assert_str_eq(azml_conf_target_of_node(c, "dev-box")->name, "dev-box");
	ck_assert_ptr_null(azml_conf_target_of_node(c, "nope"));
	azml_conf_destroy(c);
}
END_TEST

/* Bad inputs: line 5 of HEAD + LINE gives MESSAGE. */
static const struct {
	const char *line, *message;
} bad[] = {
	{ "Foo=bar", "test.conf:5: unknown key 'Foo'" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Colour=red",
	  "test.conf:5: unknown key 'Colour' for ComputeCluster 'c1'" },
	{ "MaxNodes=3", "test.conf:5: unknown key 'MaxNodes' on a global line" },
	{ "ComputeInstance=i1 VmSize=Standard_D4s_v3 MaxNodes=3",
	  "test.conf:5: unknown key 'MaxNodes' for ComputeInstance 'i1'" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2\n"
	  "ComputeCluster=C1 VmSize=Standard_D4s_v3 MaxNodes=2",
	  "test.conf:6: duplicate compute target 'C1' (first defined at test.conf:5)" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=ten",
	  "test.conf:5: MaxNodes='ten': expected a whole number from 1 to 10000" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=-1",
	  "test.conf:5: MaxNodes='-1': expected a whole number" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=99999999999999999999",
	  "test.conf:5: MaxNodes='99999999999999999999': expected a whole number" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=0",
	  "test.conf:5: MaxNodes='0': expected a whole number from 1" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 MinNodes=5",
	  "test.conf:5: MinNodes=5 is more than MaxNodes=4" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3",
	  "test.conf:5: ComputeCluster 'c1' needs MaxNodes=" },
	{ "ComputeCluster=c1 MaxNodes=4",
	  "test.conf:5: ComputeCluster 'c1' needs VmSize=" },
	{ "ComputeCluster=c1 VmSize=Standard_ND96amsr_A100_v4 MaxNodes=4",
	  "test.conf:5: unknown VM size 'Standard_ND96amsr_A100_v4'" },
	{ "ComputeCluster=c1 VmSize=Standard_Q4 MaxNodes=4",
	  "test.conf:5: unknown VM size 'Standard_Q4'" },
	{ "ComputeCluster=c1 VmSize=Standard_E8as_v4 MaxNodes=4",
	  "test.conf:5: VM size 'Standard_E8as_v4' (series EAv4) is not in the "
	  "catalog's size table" },
	{ "ComputeCluster=c1 VmSize=Standard_NC6s_v3 MaxNodes=4",
	  "test.conf:5: VM size 'Standard_NC6s_v3' is series NCv3, which needs a "
	  "quota approval from Azure support; once granted, add QuotaApproved=yes" },
	{ "ComputeCluster=c1 VmSize=Standard_HB120rs_v2 MaxNodes=4 QuotaApproved=no",
	  "test.conf:5: VM size 'Standard_HB120rs_v2' is series HBv2, which needs a quota approval" },
	{ "ComputeInstance=i1 VmSize=Standard_FX4mds QuotaApproved=yes",
	  "test.conf:5: VM size 'Standard_FX4mds' is series FX, which Azure ML "
	  "supports on compute clusters only, not on instances" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 QuotaApproved=maybe",
	  "test.conf:5: QuotaApproved='maybe': expected yes or no" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 Priority=Spot",
	  "test.conf:5: Priority='Spot': expected Dedicated or LowPriority" },
	{ "ComputeInstance=i1 VmSize=Standard_D4s_v3 Priority=LowPriority",
	  "test.conf:5: unknown key 'Priority' for ComputeInstance 'i1'" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 MaxNodes=5",
	  "test.conf:5: MaxNodes given twice for 'c1'" },
	{ "ComputeCluster=1abc VmSize=Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: ComputeCluster='1abc': a compute target name has 2-16" },
	{ "ComputeCluster=a_b VmSize=Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: ComputeCluster='a_b': a compute target name" },
	{ "ComputeCluster=averyveryverylongname VmSize=Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: ComputeCluster='averyveryverylongname': a compute target" },
	{ "ComputeCluster= VmSize=Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: ComputeCluster='': a compute target name" },
	{ "ComputeCluster=../../x VmSize=Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: ComputeCluster='../../x': a compute target name" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3/x MaxNodes=4",
	  "test.conf:5: VmSize='Standard_D4s_v3/x': only letters, digits" },
	{ "AttachedCompute=lab Gres=gpu:a100:4",
	  "test.conf:5: AttachedCompute 'lab' needs Nodes=" },
	{ "AttachedCompute=lab Nodes=lab[01-", "test.conf:5: Nodes='lab[01-': expected a Slurm hostlist" },
	{ "AttachedCompute=lab Nodes=lab;rm",
	  "test.conf:5: Nodes='lab;rm': expected a Slurm hostlist" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:x",
	  "test.conf:5: Gres='gpu:a100:x': expected NAME[:TYPE]:COUNT" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:0",
	  "test.conf:5: Gres='gpu:a100:0'" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=",
	  "test.conf:5: Gres='': expected NAME[:TYPE]:COUNT" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:4 Cuda=twelve",
	  "test.conf:5: Cuda='twelve': expected a CUDA version like 12.0" },
	{ "AttachedCompute=lab Nodes=lab1 Gres=gpu:k80:4 Cuda=12.0",
	  "test.conf:5: Cuda=12.0: the k80 GPUs of Gres=gpu:k80:4 are Kepler, "
	  "which runs CUDA 9.0 to 11.8" },
	{ "ComputeCluster=cc VmSize=Standard_NC6s_v3 MaxNodes=1 QuotaApproved=yes Cuda=12.0",
	  "test.conf:5: unknown key 'Cuda' for ComputeCluster 'cc'" },
	{ "ComputeInstance=dev VmSize=Standard_D4s_v3\n"
	  "AttachedCompute=lab Nodes=dev,lab1",
	  "test.conf:6: node 'dev' of 'lab' is also a node of 'dev' (test.conf:5)" },
	{ "ComputeCluster=gpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
	  "ComputeInstance=gpu-3 VmSize=Standard_D4s_v3",
	  "test.conf:6: node 'gpu-3' of 'gpu-3' is also a node of 'gpu' (test.conf:5)" },
	{ "ArmEndpoint=http://management.azure.com",
	  "test.conf:5: ArmEndpoint='http://management.azure.com': plain http is "
	  "accepted only for loopback" },
	{ "ArmEndpoint=http://127.0.0.1.example.com:80",
	  "test.conf:5: ArmEndpoint='http://127.0.0.1.example.com:80': plain http" },
	{ "ArmEndpoint=ftp://x", "test.conf:5: ArmEndpoint='ftp://x': expected a URL" },
	{ "ArmEndpoint=https://a b", "test.conf:5: 'b': expected Key=Value" },
	{ "ArmEndpoint=https://host:99999",
	  "test.conf:5: ArmEndpoint='https://host:99999': expected a URL" },
	/* ten digits overflowed an int (undefined behaviour, caught by the
	 * UBSan build and by tests/fuzz) */
	{ "ArmEndpoint=http://127.0.0.1:8555555555",
	  "test.conf:5: ArmEndpoint='http://127.0.0.1:8555555555': expected a URL" },
	{ "AuthorityHost=https://[::1]:99999999999999999999/",
	  "test.conf:5: AuthorityHost='https://[::1]:99999999999999999999/': "
	  "expected a URL" },
	{ "ImdsEndpoint=http://10.0.0.1",
	  "test.conf:5: ImdsEndpoint='http://10.0.0.1': plain http is accepted only" },
	{ "Credential=password:hunter2",
	  "test.conf:5: Credential='password:hunter2': expected managed-identity, "
	  "client-secret:/PATH or env" },
	{ "Credential=client-secret:relative/file",
	  "test.conf:5: Credential='client-secret:relative/file': the secret file: "
	  "expected an absolute path" },
	{ "Credential=client-secret:/etc/x",
	  "test.conf: Credential=client-secret:... needs TenantId= and ClientId=" },
	{ "TenantId=contoso", "test.conf:5: TenantId='contoso': expected a tenant "
	  "ID (a GUID" },
	{ "TenantId=contoso.com/../x", "test.conf:5: TenantId='contoso.com/../x': "
	  "expected a tenant ID" },
	{ "TenantId=contoso..com", "test.conf:5: TenantId='contoso..com': expected" },
	{ "TenantId=-contoso.com", "test.conf:5: TenantId='-contoso.com': expected" },
	{ "TenantId=contoso-.com", "test.conf:5: TenantId='contoso-.com': expected" },
	{ "TenantId=a@contoso.com", "test.conf:5: TenantId='a@contoso.com': expected" },
	{ "TenantId=contoso.com.", "test.conf:5: TenantId='contoso.com.': expected" },
	{ "ClusterName=again", "test.conf:5: ClusterName is set twice" },
	{ "Location=East US", "test.conf:5: 'US': expected Key=Value" },
	{ "Location=East_US", "test.conf:5: Location='East_US': expected an Azure region" },
	{ "Image=ubuntu", "test.conf:5: Image='ubuntu': expected Publisher:Offer:Sku:Version" },
	{ "Subnet=default", "test.conf:5: Subnet='default': expected a subnet resource id" },
	{ "AdminUser=root", "test.conf:5: AdminUser='root': 'root' is reserved by Azure" },
	{ "AdminUser=Bob!", "test.conf:5: AdminUser='Bob!': expected a Linux user name" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 Zone=4",
	  "test.conf:5: Zone='4': expected an availability zone" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 Tags=novalue",
	  "test.conf:5: Tags='novalue': expected name:value" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 Tags=slurm-node:x",
	  "test.conf:5: Tags='slurm-node:x': tag names starting with 'slurm-' are reserved" },
	{ "LogFile=relative.log", "test.conf:5: LogFile='relative.log': expected an absolute path" },
	{ "ComputeCluster=c1 VmSize=\"Standard_D4s_v3 MaxNodes=4",
	  "test.conf:5: unterminated quote" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 justaword",
	  "test.conf:5: 'justaword': expected Key=Value" },
	{ "ClusterName\xc3\xa9=x", "test.conf:5: invalid byte 0xc3: azureml.conf is ASCII text" },
	{ "Location=east\x01us", "test.conf:5: invalid byte 0x01" },
	{ "Include /nonexistent/azureml-extra.conf",
	  "test.conf:5: cannot read '/nonexistent/azureml-extra.conf': No such file or directory" },
	{ "Include a b", "test.conf:5: Include takes one file name" },
	/* Node bootstrap keys: the validators of userdata.h, FILE:LINE. */
	{ "SlurmctldHost=ctl:0", "test.conf:5: SlurmctldHost='ctl:0': " },
	{ "SlurmctldHost=a/b", "test.conf:5: SlurmctldHost='a/b': " },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 SlurmctldHost=x:70000",
	  "test.conf:5: SlurmctldHost='x:70000': " },
	{ "MungeKeySecret=http://vault.example.com/secrets/munge",
	  "test.conf:5: MungeKeySecret='http://vault.example.com/secrets/munge': " },
	{ "MungeKeySecret=https://myvault.vault.azure.net/keys/munge",
	  "test.conf:5: MungeKeySecret='https://myvault.vault.azure.net/keys/munge': " },
	{ "Identity=/subscriptions/x/resourceGroups/r",
	  "test.conf:5: Identity='/subscriptions/x/resourceGroups/r': " },
	{ "NodeSetupScript=setup.sh",
	  "test.conf:5: NodeSetupScript='setup.sh': expected an absolute path" },
	{ "SlurmctldHost=ctl\nSlurmctldHost=ctl2", "test.conf:6: SlurmctldHost is set twice" },
	{ "AttachedCompute=lab Nodes=lab1 MungeKeySecret=https://myvault.vault.azure.net/secrets/m",
	  "test.conf:5: unknown key 'MungeKeySecret' for AttachedCompute 'lab'" },
	{ "AttachedCompute=lab Nodes=lab1 SlurmctldHost=ctl",
	  "test.conf:5: unknown key 'SlurmctldHost' for AttachedCompute 'lab'" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=4 "
	  "MungeKeySecret=https://myvault.vault.azure.net/secrets/munge",
	  "test.conf:5: ComputeCluster 'c1' has MungeKeySecret= but no Identity=: "
	  "its VMs would have no identity to read the secret with; add Identity=" },
	/* a global secret is inherited, and so is the rule */
	{ "MungeKeySecret=https://myvault.vault.azure.net/secrets/munge\n"
	  "ComputeInstance=dev VmSize=Standard_D4s_v3",
	  "test.conf:6: ComputeInstance 'dev' has MungeKeySecret= but no Identity=" },
	/* a known key on the wrong line: where it belongs */
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 ClusterName=x",
	  "test.conf:5: unknown key 'ClusterName' for ComputeCluster 'c1' (it "
	  "belongs on global lines)" },
	{ "MaxNodes=3", "test.conf:5: unknown key 'MaxNodes' on a global line "
	  "(it belongs on ComputeCluster lines)" },
	{ "AttachedCompute=lab Nodes=lab1 Image=a:b:c:d",
	  "test.conf:5: unknown key 'Image' for AttachedCompute 'lab' (it "
	  "belongs on global, ComputeCluster and ComputeInstance lines)" },
	{ "ComputeInstance=i1 VmSize=Standard_D4s_v3 Nodes=x",
	  "test.conf:5: unknown key 'Nodes' for ComputeInstance 'i1' (it "
	  "belongs on AttachedCompute lines)" },
	/* Fallback=: other clusters or instances, by name, once each; the
	 * names are resolved at the end, the problem said at its line. */
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=nope\n"
	  "ComputeInstance=dev VmSize=Standard_D4s_v3\n"
	  "AttachedCompute=lab Nodes=lab1",
	  "test.conf:5: ComputeCluster 'c1' has Fallback=nope, but no "
	  "ComputeCluster or ComputeInstance is named 'nope'; configured: dev" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=nope",
	  "test.conf:5: ComputeCluster 'c1' has Fallback=nope, but no "
	  "ComputeCluster or ComputeInstance is named 'nope'; configured: none" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=C1",
	  "test.conf:5: ComputeCluster 'c1' has Fallback=C1: a cluster cannot "
	  "fall back to itself; list other clusters or instances" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=lab\n"
	  "AttachedCompute=lab Nodes=lab1",
	  "test.conf:5: ComputeCluster 'c1' has Fallback=lab: 'lab' is "
	  "AttachedCompute (test.conf:6), whose nodes slurm-azureml does not "
	  "create; list a ComputeCluster or ComputeInstance" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=dev,DEV\n"
	  "ComputeInstance=dev VmSize=Standard_D4s_v3",
	  "test.conf:5: Fallback='dev,DEV': 'DEV' is named twice" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=c2,,c3",
	  "test.conf:5: Fallback='c2,,c3': '' is not a target name: a compute "
	  "target name has 2-16" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=",
	  "test.conf:5: Fallback='': '' is not a target name" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 "
	  "Fallback=averyveryverylongname",
	  "test.conf:5: Fallback='averyveryverylongname': 'averyveryverylong...' "
	  "is not a target name" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 "
	  "Fallback=a1,a2,a3,a4,a5,a6,a7,a8,a9,b1,b2,b3,b4,b5,b6,b7,b8",
	  "test.conf:5: Fallback='a1,a2,a3,a4,a5,a6,a7,a8,a9,b1,b2,b3,b4,b5,b6,"
	  "b7,b8': at most 16 targets" },
	{ "ComputeInstance=i1 VmSize=Standard_D4s_v3 Fallback=c1",
	  "test.conf:5: unknown key 'Fallback' for ComputeInstance 'i1' (it "
	  "belongs on ComputeCluster lines)" },
	{ "AttachedCompute=lab Nodes=lab1 Fallback=c1",
	  "test.conf:5: unknown key 'Fallback' for AttachedCompute 'lab' (it "
	  "belongs on ComputeCluster lines)" },
	{ "Fallback=c1", "test.conf:5: unknown key 'Fallback' on a global line "
	  "(it belongs on ComputeCluster lines)" },
	/* CapacityBackoff=: seconds, 0 (no hold) to a day */
	{ "CapacityBackoff=abc",
	  "test.conf:5: CapacityBackoff='abc': expected a whole number from 0 to 86400" },
	{ "CapacityBackoff=86401",
	  "test.conf:5: CapacityBackoff='86401': expected a whole number from 0 to 86400" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 CapacityBackoff=-5",
	  "test.conf:5: CapacityBackoff='-5': expected a whole number from 0 to 86400" },
	{ "CapacityBackoff=60\nCapacityBackoff=60",
	  "test.conf:6: CapacityBackoff is set twice" },
	{ "AttachedCompute=lab Nodes=lab1 CapacityBackoff=60",
	  "test.conf:5: unknown key 'CapacityBackoff' for AttachedCompute 'lab' "
	  "(it belongs on global, ComputeCluster and ComputeInstance lines)" },
	/* Provisioning= and placement (Azure's documented limits) */
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Provisioning=Batch",
	  "test.conf:5: Provisioning='Batch': expected VirtualMachines or ScaleSet" },
	{ "ComputeInstance=i1 VmSize=Standard_D4s_v3 Provisioning=ScaleSet",
	  "test.conf:5: unknown key 'Provisioning' for ComputeInstance 'i1'" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=1001 Provisioning=ScaleSet",
	  "test.conf:5: ComputeCluster 'c1': MaxNodes=1001, but a scale set "
	  "(Provisioning=ScaleSet, Flexible, one fault domain) holds at most 1000 VMs" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=201 AvailabilitySet="
	  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/a",
	  "test.conf:5: ComputeCluster 'c1': MaxNodes=201, but an availability "
	  "set holds at most 200 VMs" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Provisioning=ScaleSet "
	  "AvailabilitySet=/subscriptions/s/resourceGroups/rg/providers/"
	  "Microsoft.Compute/availabilitySets/a",
	  "test.conf:5: ComputeCluster 'c1': AvailabilitySet= needs "
	  "Provisioning=VirtualMachines" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 Zone=1 AvailabilitySet="
	  "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/a",
	  "test.conf:5: ComputeCluster 'c1': AvailabilitySet= and Zone= cannot go together" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 AvailabilitySet=/tmp/x",
	  "test.conf:5: AvailabilitySet" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2 ProximityPlacementGroup=ppg1",
	  "test.conf:5: ProximityPlacementGroup" },
	/* An instance mix (VmSize=A,B,...): its syntax, then the rules its
	 * sizes must follow, each naming the sizes and the difference */
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,,Standard_D2_v3 MaxNodes=2",
	  "test.conf:5: VmSize='Standard_D2s_v3,,Standard_D2_v3': an empty size "
	  "in the list" },
	{ "ComputeCluster=c1 VmSize=,Standard_D2s_v3 MaxNodes=2",
	  "test.conf:5: VmSize=',Standard_D2s_v3': an empty size in the list" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3, MaxNodes=2",
	  "test.conf:5: VmSize='Standard_D2s_v3,': an empty size in the list" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,Standard_D2_v3,"
	  "Standard_DS2_v2,Standard_D2ds_v4,Standard_D4s_v3,Standard_D4_v3 "
	  "MaxNodes=2",
	  "test.conf:5: VmSize='Standard_D2s_v3,Standard_D2_v3,Standard_DS2_v2,"
	  "Standard_D2ds_v4,...': 6 sizes; Azure's instance mix takes at most "
	  "5" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,standard_d2S_V3 MaxNodes=2",
	  "test.conf:5: VmSize= names 'Standard_D2s_v3' twice" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,Standard_Q2 MaxNodes=2",
	  "test.conf:5: unknown VM size 'Standard_Q2'" },
	{ "ComputeInstance=i1 VmSize=Standard_D2s_v3,Standard_D2_v3",
	  "test.conf:5: ComputeInstance 'i1': VmSize= names one size" },
	{ "ComputeInstance=i1 VmSize=Standard_D2s_v3 AllocationStrategy=LowestPrice",
	  "test.conf:5: unknown key 'AllocationStrategy' for ComputeInstance 'i1'" },
	{ "AttachedCompute=a1 Nodes=lab[1-2] AllocationStrategy=Prioritized",
	  "test.conf:5: unknown key 'AllocationStrategy' for AttachedCompute 'a1'" },
	{ "AttachedCompute=a1 Nodes=lab[1-2] VmSize=Standard_D2s_v3,Standard_D2_v3",
	  "test.conf:5: unknown key 'VmSize' for AttachedCompute 'a1'" },
	{ "AttachedCompute=a1 Nodes=lab[1-2] JobScaling=BestEffort",
	  "test.conf:5: unknown key 'JobScaling' for AttachedCompute 'a1'" },
	{ "AllocationStrategy=LowestPrice",
	  "test.conf:5: unknown key 'AllocationStrategy' on a global line" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,Standard_D2_v3 MaxNodes=2 "
	  "AllocationStrategy=Cheapest",
	  "test.conf:5: AllocationStrategy='Cheapest': expected LowestPrice, "
	  "CapacityOptimized or Prioritized" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3 MaxNodes=2 JobScaling=Some",
	  "test.conf:5: JobScaling='Some': expected AllOrNothing or BestEffort" },
	{ "ComputeCluster=c1 VmSize=Standard_NC6s_v3,Standard_D4s_v3 MaxNodes=2 "
	  "QuotaApproved=yes",
	  "test.conf:5: VmSize=Standard_NC6s_v3,Standard_D4s_v3: Standard_NC6s_v3 "
	  "has 1 V100 GPU, Standard_D4s_v3 none; a mix's sizes must have the "
	  "same GPUs" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3,Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes",
	  "test.conf:5: VmSize=Standard_D4s_v3,Standard_NC6s_v3: Standard_D4s_v3 "
	  "has no GPU, Standard_NC6s_v3 1 V100 GPU; a mix's sizes must have the "
	  "same GPUs" },
	{ "ComputeCluster=c1 VmSize=Standard_NC6s_v3,Standard_NC12s_v3 "
	  "MaxNodes=2 QuotaApproved=yes",
	  "test.conf:5: VmSize=Standard_NC6s_v3,Standard_NC12s_v3: "
	  "Standard_NC6s_v3 has 1 V100 GPU, Standard_NC12s_v3 2 V100 GPUs; a "
	  "mix's sizes must have the same GPUs" },
	{ "ComputeCluster=c1 VmSize=Standard_NC6s_v3,Standard_NC6s_v2 MaxNodes=2 "
	  "QuotaApproved=yes",
	  "test.conf:5: VmSize=Standard_NC6s_v3,Standard_NC6s_v2: "
	  "Standard_NC6s_v3 has 1 V100 GPU, Standard_NC6s_v2 1 P100 GPU; a mix's "
	  "sizes must have the same GPUs" },
	{ "ComputeCluster=c1 VmSize=Standard_H16,Standard_H16r MaxNodes=2",
	  "test.conf:5: VmSize=Standard_H16,Standard_H16r: Standard_H16r has RDMA "
	  "(InfiniBand), Standard_H16 not; a mix's sizes must all have it or "
	  "none" },
	{ "ComputeCluster=c1 VmSize=Standard_F64s_v2,Standard_F72s_v2 MaxNodes=2",
	  "test.conf:5: VmSize=Standard_F64s_v2,Standard_F72s_v2: "
	  "Standard_F72s_v2 is an isolated size, Standard_F64s_v2 not; a mix's "
	  "sizes must all be isolated or none" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3,Standard_D2s_v3,"
	  "Standard_D8s_v3 MaxNodes=2",
	  "test.conf:5: VmSize=Standard_D4s_v3,Standard_D2s_v3,Standard_D8s_v3: "
	  "Standard_D8s_v3 has 8 vCPUs, more than twice the 2 of Standard_D2s_v3; "
	  "the nodes get the smallest, which wastes more than half of "
	  "Standard_D8s_v3" },
	{ "ComputeCluster=c1 VmSize=Standard_D4s_v3,Standard_E8_v3 MaxNodes=2",
	  "test.conf:5: VmSize=Standard_D4s_v3,Standard_E8_v3: Standard_E8_v3 has "
	  "65536 MiB of memory, more than twice the 16384 MiB of Standard_D4s_v3; "
	  "the nodes get the smallest, which wastes more than half of "
	  "Standard_E8_v3" },
	{ "ComputeCluster=c1 VmSize=Standard_D2s_v3,Standard_D2_v3 MaxNodes=2 "
	  "Provisioning=ScaleSet AllocationStrategy=Prioritized",
	  "test.conf:5: ComputeCluster 'c1': AllocationStrategy=Prioritized "
	  "cannot go with Provisioning=ScaleSet: a scale set's instance mix "
	  "(skuProfile) at the api-version slurm-azureml uses (2024-07-01) takes "
	  "LowestPrice or CapacityOptimized" },
};

START_TEST(bad_input)
{
	char *text;
	azml_conf_t *c;
	bool found = false;

	ck_assert_int_gt(asprintf(&text, HEAD "%s\n", bad[_i].line), 0);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; i < c->nerrors; i++)
		if (!strncmp(c->errors[i], bad[_i].message, strlen(bad[_i].message)))
			found = true;
	if (!found) {
		fprintf(stderr, "input: %s\nwanted: %s\ngot:\n", bad[_i].line,
			bad[_i].message);
		for (size_t i = 0; i < c->nerrors; i++)
			fprintf(stderr, "  %s\n", c->errors[i]);
	}
	ck_assert(found);
	azml_conf_destroy(c);
	free(text);
}
END_TEST

/* The warnings of C other than the bootstrap's (no MungeKeySecret=, which
 * these tests do not set), printed. */
static size_t _mix_warnings(const azml_conf_t *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nwarnings; i++)
		if (!strstr(c->warnings[i], "has no MungeKeySecret=")) {
			fprintf(stderr, "%s\n", c->warnings[i]);
			n++;
		}
	return n;
}

/* A good mix: its sizes canonical in the order written, the node the
 * smallest vCPUs and the smallest memory (here of two different sizes), the
 * strategy and scaling as written; defaults on a single size. */
START_TEST(good_mix)
{
	azml_conf_t *c = azml_conf_load_string(HEAD
		"ComputeCluster=mx VmSize=standard_f8s_v2,Standard_E4_v3,"
		"STANDARD_D4S_V3 MaxNodes=4 AllocationStrategy=prioritized "
		"JobScaling=besteffort Provisioning=VirtualMachines\n"
		"ComputeCluster=ss VmSize=Standard_D2s_v3,Standard_D2_v3 "
		"MaxNodes=4 Provisioning=ScaleSet "
		"AllocationStrategy=CapacityOptimized\n"
		"ComputeCluster=one VmSize=Standard_D2s_v3 MaxNodes=2\n"
		"ComputeInstance=box VmSize=Standard_DS3_v2\n"
		"AttachedCompute=lab Nodes=lab[1-2]\n", "test.conf");
	const azml_target_t *t;

	ck_assert_ptr_nonnull(c);
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(_mix_warnings(c), 0);

	t = azml_conf_find_target(c, "mx");
	ck_assert_int_eq(t->nmix, 3);
	ck_assert_str_eq(t->mix[0], "Standard_F8s_v2");
	ck_assert_str_eq(t->mix[1], "Standard_E4_v3");
	ck_assert_str_eq(t->mix[2], "Standard_D4s_v3");
	ck_assert_str_eq(t->vm_size, "Standard_F8s_v2");
	ck_assert_str_eq(t->size.name, "Standard_F8s_v2");
	ck_assert_str_eq(t->mix_size[2].name, "Standard_D4s_v3");
	ck_assert_int_eq(t->cpus, 4);			/* E4_v3's and D4s_v3's */
	ck_assert_int_eq(t->real_memory, 16384);	/* F8s_v2's and D4s_v3's */
	ck_assert_int_eq(t->alloc, AZML_ALLOC_PRIORITIZED);
	ck_assert_int_eq(t->job_scaling, AZML_SCALING_BEST_EFFORT);

	t = azml_conf_find_target(c, "ss");
	ck_assert_int_eq(t->nmix, 2);
	ck_assert_int_eq(t->alloc, AZML_ALLOC_CAPACITY_OPTIMIZED);
	ck_assert_int_eq(t->job_scaling, AZML_SCALING_ALL_OR_NOTHING);

	t = azml_conf_find_target(c, "one");
	ck_assert_int_eq(t->nmix, 1);
	ck_assert_str_eq(t->mix[0], "Standard_D2s_v3");
	ck_assert_int_eq(t->alloc, AZML_ALLOC_LOWEST_PRICE);	/* Azure's */
	ck_assert_int_eq(t->job_scaling, AZML_SCALING_ALL_OR_NOTHING);
	ck_assert_int_eq(azml_conf_find_target(c, "box")->nmix, 1);
	ck_assert_int_eq(azml_conf_find_target(c, "lab")->nmix, 0);

	/* what `targets --json` shows of each */
	static const struct {
		const char *name, *json;
	} js[] = {
		{ "mx", "{\"vm_sizes\":[\"Standard_F8s_v2\",\"Standard_E4_v3\","
			"\"Standard_D4s_v3\"],\"allocation_strategy\":"
			"\"Prioritized\",\"job_scaling\":\"BestEffort\"}" },
		{ "ss", "{\"vm_sizes\":[\"Standard_D2s_v3\",\"Standard_D2_v3\"],"
			"\"allocation_strategy\":\"CapacityOptimized\","
			"\"job_scaling\":\"AllOrNothing\"}" },
		{ "one", "{\"vm_sizes\":[\"Standard_D2s_v3\"],"
			 "\"allocation_strategy\":\"LowestPrice\","
			 "\"job_scaling\":\"AllOrNothing\"}" },
		{ "box", "{\"vm_sizes\":[\"Standard_DS3_v2\"],"
			 "\"allocation_strategy\":null,\"job_scaling\":null}" },
		{ "lab", "{\"vm_sizes\":[],\"allocation_strategy\":null,"
			 "\"job_scaling\":null}" },
	};
	for (size_t i = 0; i < N(js); i++) {
		cJSON *o = cJSON_CreateObject();
		char *text;

		ck_assert_int_eq(azml_target_mix_json(
			o, azml_conf_find_target(c, js[i].name)), 0);
		text = cJSON_PrintUnformatted(o);
		ck_assert_str_eq(text, js[i].json);
		cJSON_free(text);
		cJSON_Delete(o);
	}
	azml_conf_destroy(c);

	/* exactly twice the smallest is allowed (half wasted, not more) */
	c = azml_conf_load_string(HEAD "ComputeCluster=c2 VmSize=Standard_D4s_v3,"
				  "Standard_D8s_v3,Standard_E4_v3 MaxNodes=2\n",
				  "test.conf");
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	azml_conf_destroy(c);
}
END_TEST

/* AllocationStrategy= on a single size orders nothing: a warning, and the
 * cluster stays usable. */
START_TEST(mix_strategy_one_size)
{
	azml_conf_t *c = azml_conf_load_string(HEAD
		"ComputeCluster=one VmSize=Standard_D2s_v3 MaxNodes=2 "
		"AllocationStrategy=Prioritized Provisioning=ScaleSet\n",
		"test.conf");

	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->ntargets, 1);
	ck_assert_int_eq(_mix_warnings(c), 1);
	ck_assert_str_eq(c->warnings[0],
			 "test.conf:5: warning: ComputeCluster 'one': "
			 "AllocationStrategy= orders the sizes of a mix "
			 "(VmSize=A,B,...), and VmSize=Standard_D2s_v3 is one "
			 "size: it has no effect");
	azml_conf_destroy(c);
}
END_TEST

/* The rules one mix's sizes follow, on sizes the catalog resolves and on an
 * Arm64 size (no catalog series is Arm-based yet: Azure's 'p' letter). */
START_TEST(mix_conflicts)
{
	azml_size_info_t a, b;
	char why[512];

	ck_assert_int_eq(azml_catalog_resolve("Standard_D2s_v3", &a), 0);
	ck_assert_int_eq(azml_catalog_resolve("standard_d2_v3", &b), 0);
	ck_assert_str_eq(a.cpu_arch, "x64");
	ck_assert(!azml_catalog_mix_conflict(&a, &b, why, sizeof(why)));
	b.cpu_arch = "Arm64";
	snprintf(b.name, sizeof(b.name), "Standard_D2ps_v5");
	ck_assert(azml_catalog_mix_conflict(&a, &b, why, sizeof(why)));
	ck_assert_str_eq(why, "Standard_D2s_v3 is x64, Standard_D2ps_v5 Arm64; "
			 "a mix's sizes must have the same CPU architecture "
			 "(Azure's rule for an instance mix; one image cannot "
			 "boot both)");
	ck_assert_int_eq(azml_catalog_resolve("Standard_NC24rs_v3", &a), 0);
	ck_assert_int_eq(azml_catalog_resolve("Standard_NC24s_v3", &b), 0);
	ck_assert(azml_catalog_mix_conflict(&a, &b, why, sizeof(why)));
	ck_assert_msg(strstr(why, "Standard_NC24rs_v3 has RDMA (InfiniBand), "
			     "Standard_NC24s_v3 not") == why, "%s", why);
}
END_TEST

/* Entra ID and the Azure SDKs take a tenant's domain as well as its ID. */
#define SECRET "https://myvault.vault.azure.net/secrets/munge/" \
	"0123456789abcdef0123456789ABCDEF"
#define IDENTITY "/subscriptions/00000000-0000-0000-0000-000000000000/" \
	"resourceGroups/rg/providers/Microsoft.ManagedIdentity/" \
	"userAssignedIdentities/nodes"

/* Bootstrap keys: global defaults, per-target overrides, warnings. */
START_TEST(bootstrap_keys)
{
	azml_conf_t *c = azml_conf_load_string(HEAD
		"SlurmctldHost=10.0.0.4:6817 MungeKeySecret=" SECRET "\n"
		"Identity=" IDENTITY " NodeSetupScript=/opt/site/setup.sh\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4 "
		"slurmctldhost=[fd00::4]:6817 NodeSetupScript=/opt/cpu.sh\n"
		"ComputeInstance=dev VmSize=Standard_D4s_v3\n"
		"AttachedCompute=lab Nodes=lab1\n", "test.conf");
	const azml_target_t *t;

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->nwarnings, 0);
	ck_assert_str_eq(c->slurmctld_host, "10.0.0.4:6817");
	t = azml_conf_find_target(c, "cpu");
	ck_assert_str_eq(t->slurmctld_host, "[fd00::4]:6817");
	ck_assert_str_eq(t->node_setup_script, "/opt/cpu.sh");
	ck_assert_str_eq(t->munge_key_secret, SECRET);	/* inherited */
	ck_assert_str_eq(t->identity, IDENTITY);
	t = azml_conf_find_target(c, "dev");
	ck_assert_str_eq(t->slurmctld_host, "10.0.0.4:6817");
	ck_assert_str_eq(t->node_setup_script, "/opt/site/setup.sh");
	t = azml_conf_find_target(c, "lab");	/* no VM: nothing inherited */
	ck_assert_ptr_null(t->slurmctld_host);
	ck_assert_ptr_null(t->munge_key_secret);
	azml_conf_destroy(c);

	/* No secret: usable, one warning per VM target at its line; unset
	 * SlurmctldHost stays NULL (slurm.conf's, at create). */
	c = azml_conf_load_string(HEAD
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
		"ComputeInstance=dev VmSize=Standard_D4s_v3 MungeKeySecret="
		SECRET " Identity=" IDENTITY "\n"
		"AttachedCompute=lab Nodes=lab1\n", "test.conf");
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->nwarnings, 1);
	ck_assert_msg(!strncmp(c->warnings[0], "test.conf:5: warning: "
			       "ComputeCluster 'cpu' has no MungeKeySecret=: "
			       "node-init cannot set up munge, so its VMs will "
			       "not join", 99), "%s", c->warnings[0]);
	ck_assert_ptr_null(azml_conf_find_target(c, "cpu")->slurmctld_host);
	azml_conf_destroy(c);

	/* A secret without a version: usable, a warning per VM target that
	 * names it; the emulator's loopback URLs are not warned about (and
	 * are taken with an emulator's ArmEndpoint only: tls-test.c). */
	c = azml_conf_load_string(HEAD
		"MungeKeySecret=https://myvault.vault.azure.net/secrets/munge "
		"Identity=" IDENTITY " ArmEndpoint=http://127.0.0.1:8080\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
		"ComputeInstance=dev VmSize=Standard_D4s_v3 MungeKeySecret="
		"http://127.0.0.1:8080/keyvault/kv1/secrets/munge\n",
		"test.conf");
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->nwarnings, 1);
	ck_assert_msg(!strcmp(c->warnings[0], "test.conf:6: warning: "
			      "ComputeCluster 'cpu': MungeKeySecret=https://"
			      "myvault.vault.azure.net/secrets/munge names no "
			      "version: its VMs take whatever version is "
			      "current, set by anyone who may write the secret; "
			      "name one (.../secrets/NAME/VERSION, 'az keyvault "
			      "secret show --query id')"), "%s", c->warnings[0]);
	azml_conf_destroy(c);

	/* a version is 32 hex digits */
	c = azml_conf_load_string(HEAD
		"MungeKeySecret=https://myvault.vault.azure.net/secrets/munge/"
		"v1 Identity=" IDENTITY "\n", "test.conf");
	ck_assert_int_eq(c->nerrors, 1);
	ck_assert_msg(strstr(c->errors[0], "secret version 'v1': 32 hex "
			     "digits"), "%s", c->errors[0]);
	azml_conf_destroy(c);
}
END_TEST

#define JOBS "/subscriptions/00000000-0000-0000-0000-000000000000/" \
	"resourceGroups/rg/providers/Microsoft.ManagedIdentity/" \
	"userAssignedIdentities/jobs"

/* JobIdentity=: inherited by clusters made VM by VM; refused where the
 * node identity cannot be taken away or would be the jobs' own. */
START_TEST(job_identity)
{
	azml_conf_t *c = azml_conf_load_string(HEAD
		"MungeKeySecret=" SECRET " Identity=" IDENTITY
		" JobIdentity=" JOBS "\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n",
		"test.conf");

	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_str_eq(azml_conf_find_target(c, "cpu")->job_identity, JOBS);
	azml_conf_destroy(c);
	c = azml_conf_load_string(HEAD
		"MungeKeySecret=" SECRET " Identity=" IDENTITY "\n"
		"ComputeCluster=aa VmSize=Standard_D4s_v3 MaxNodes=4 "
		"JobIdentity=" IDENTITY "\n"
		"ComputeCluster=bb VmSize=Standard_D4s_v3 MaxNodes=4 "
		"Provisioning=ScaleSet JobIdentity=" JOBS "\n"
		"ComputeInstance=dd VmSize=Standard_D4s_v3 JobIdentity=" JOBS "\n",
		"test.conf");
	ck_assert_int_eq(c->nerrors, 3);
	ck_assert_msg(strstr(c->errors[0], "test.conf:6: ComputeCluster 'aa': "
			     "JobIdentity= is Identity=: jobs would get the "
			     "identity that reads the munge key"), "%s",
		      c->errors[0]);
	ck_assert_msg(strstr(c->errors[1], "test.conf:7: ComputeCluster 'bb': "
			     "JobIdentity= needs Provisioning=VirtualMachines"),
		      "%s", c->errors[1]);
	ck_assert_msg(strstr(c->errors[2], "test.conf:8: ComputeInstance 'dd': "
			     "JobIdentity= is for compute clusters only"), "%s",
		      c->errors[2]);
	azml_conf_destroy(c);
}
END_TEST

/* HEAD and bootstrap keys (no warning of their own): targets start at
 * line 6. */
#define QUIET HEAD "MungeKeySecret=" SECRET " Identity=" IDENTITY "\n"

static azml_conf_t *_load_quiet(const char *targets)
{
	azml_conf_t *c = tu_conf("test.conf", QUIET "%s", targets);

	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	return c;
}

/* IdleSecondsBeforeScaledown=auto: learnt by reconcile, 300 until then;
 * Prices= and PricesEndpoint=. */
START_TEST(idle_auto_and_prices)
{
	azml_conf_t *c = _load_quiet(
		"ComputeCluster=aa VmSize=Standard_D2s_v3 MaxNodes=2 "
		"IdleSecondsBeforeScaledown=auto\n"
		"ComputeCluster=bb VmSize=Standard_D2s_v3 MaxNodes=2 "
		"IdleSecondsBeforeScaledown=90\n");

	ck_assert(azml_conf_find_target(c, "aa")->idle_auto);
	ck_assert_int_eq(azml_conf_find_target(c, "aa")->idle_seconds, 300);
	ck_assert(!azml_conf_find_target(c, "bb")->idle_auto);
	ck_assert_int_eq(azml_conf_find_target(c, "bb")->idle_seconds, 90);
	ck_assert_ptr_null(c->prices);		/* retail */
	ck_assert_str_eq(c->prices_endpoint, "https://prices.azure.com");
	azml_conf_destroy(c);
	c = tu_conf("test.conf", QUIET "Prices=/etc/slurm/prices\n"
		    "ComputeCluster=aa VmSize=Standard_D2s_v3 MaxNodes=2 "
		    "IdleSecondsBeforeScaledown=soon\n"
		    "ComputeCluster=bb VmSize=Standard_D2s_v3 MaxNodes=2 "
		    "CapacityBackoff=auto\n");
	ck_assert_str_eq(c->prices, "/etc/slurm/prices");
	ck_assert_int_eq(c->nerrors, 2);
	ck_assert_msg(strstr(c->errors[0], "IdleSecondsBeforeScaledown='soon': "
			     "expected a whole number from 1 to 2592000, or auto"),
		      "%s", c->errors[0]);
	ck_assert_msg(!strstr(c->errors[1], "or auto"), "%s", c->errors[1]);
	azml_conf_destroy(c);
	c = tu_conf("test.conf", QUIET "Prices=cheap\n");
	ck_assert_int_eq(c->nerrors, 1);
	ck_assert_msg(strstr(c->errors[0], "Prices='cheap': expected 'retail' "
			     "(the Azure Retail Prices API) or the absolute path "
			     "of a file of prices"), "%s", c->errors[0]);
	azml_conf_destroy(c);
}
END_TEST

/* Fallback=: resolved after the whole file, to the targets' own names. */
START_TEST(fallback_keys)
{
	azml_conf_t *c = _load_quiet(
		"ComputeCluster=cpu1 VmSize=Standard_D4s_v3 MaxNodes=2 "
		"Fallback=CPU3,Dev\n"
		"ComputeInstance=dev VmSize=Standard_D4s_v3\n"
		"ComputeCluster=cpu3 VmSize=Standard_D2s_v3 MaxNodes=2 "
		"fallback=cpu1\n");
	const azml_target_t *t = azml_conf_find_target(c, "cpu1");

	ck_assert_int_eq(c->nwarnings, 0);
	ck_assert_uint_eq(t->nfallback, 2);
	ck_assert_str_eq(t->fallback[0], "cpu3");
	ck_assert_str_eq(t->fallback[1], "dev");
	ck_assert_ptr_null(t->fallback[2]);
	t = azml_conf_find_target(c, "cpu3");	/* a cycle is allowed */
	ck_assert_uint_eq(t->nfallback, 1);
	ck_assert_str_eq(t->fallback[0], "cpu1");
	t = azml_conf_find_target(c, "dev");
	ck_assert_uint_eq(t->nfallback, 0);
	ck_assert_ptr_null(t->fallback);
	azml_conf_destroy(c);
}
END_TEST

/* CapacityBackoff=: the target's, else the global one, else 600; 0 is
 * "no hold", kept as set, globally or per target. */
START_TEST(capacity_backoff)
{
	azml_conf_t *c = _load_quiet(
		"CapacityBackoff=900\n"
		"ComputeCluster=own VmSize=Standard_D4s_v3 MaxNodes=2 "
		"CapacityBackoff=1\n"
		"ComputeCluster=inh VmSize=Standard_D4s_v3 MaxNodes=2\n"
		"ComputeInstance=dev VmSize=Standard_D4s_v3 capacitybackoff=86400\n"
		"AttachedCompute=lab Nodes=lab1\n");

	ck_assert_int_eq(c->capacity_backoff, 900);
	ck_assert_int_eq(azml_conf_find_target(c, "own")->capacity_backoff, 1);
	ck_assert_int_eq(azml_conf_find_target(c, "inh")->capacity_backoff, 900);
	ck_assert_int_eq(azml_conf_find_target(c, "dev")->capacity_backoff, 86400);
	ck_assert_int_eq(azml_conf_find_target(c, "lab")->capacity_backoff, 0);
	azml_conf_destroy(c);

	c = _load_quiet("ComputeCluster=inh VmSize=Standard_D4s_v3 MaxNodes=2\n");
	ck_assert_int_eq(c->capacity_backoff, 600);
	ck_assert_int_eq(azml_conf_find_target(c, "inh")->capacity_backoff, 600);
	azml_conf_destroy(c);

	c = _load_quiet("CapacityBackoff=0\n"
			"ComputeCluster=inh VmSize=Standard_D4s_v3 MaxNodes=2\n"
			"ComputeCluster=own VmSize=Standard_D4s_v3 MaxNodes=2 "
			"CapacityBackoff=30\n");
	ck_assert_int_eq(c->capacity_backoff, 0);
	ck_assert_int_eq(azml_conf_find_target(c, "inh")->capacity_backoff, 0);
	ck_assert_int_eq(azml_conf_find_target(c, "own")->capacity_backoff, 30);
	azml_conf_destroy(c);
	c = _load_quiet("ComputeCluster=off VmSize=Standard_D4s_v3 MaxNodes=2 "
			"CapacityBackoff=0\n");
	ck_assert_int_eq(azml_conf_find_target(c, "off")->capacity_backoff, 0);
	azml_conf_destroy(c);
}
END_TEST

/* A fallback that can never take some of its cluster's jobs: usable, one
 * warning each, at the cluster's line. */
static const struct {
	const char *targets, *warning;
} fallback_warn[] = {
	{ "ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=cpu\n"
	  "ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=2\n",
	  "test.conf:6: warning: ComputeCluster 'gpu' has Fallback=cpu, but "
	  "'cpu' (Standard_D4s_v3) has no GPU: jobs that ask for GPUs or CUDA "
	  "never fall back to it; list a target with GPUs in Fallback=" },
	{ "ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=gpu-low\n"
	  "ComputeCluster=gpu-low VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes Priority=LowPriority\n",
	  "test.conf:6: warning: ComputeCluster 'gpu' is dedicated and its "
	  "Fallback=gpu-low is low priority: jobs with --azure-priority="
	  "dedicated never fall back to it; list a target of the same "
	  "Priority= in Fallback=" },
	{ "ComputeCluster=cpu-low VmSize=Standard_D4s_v3 MaxNodes=2 "
	  "Priority=LowPriority Fallback=dev\n"
	  "ComputeInstance=dev VmSize=Standard_D4s_v3\n",
	  "test.conf:6: warning: ComputeCluster 'cpu-low' is low priority and "
	  "its Fallback=dev is an instance (dedicated): jobs with "
	  "--azure-priority=low never fall back to it; list a target of the "
	  "same Priority= in Fallback=" },
	{ "ComputeCluster=iso VmSize=Standard_NC24rs_v3 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=gpu\n"
	  "ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes\n",
	  "test.conf:6: warning: ComputeCluster 'iso' (Standard_NC24rs_v3) is "
	  "an isolated VM size and its Fallback=gpu (Standard_NC6s_v3) is not: "
	  "jobs with --azure-isolated never fall back to it; list an isolated "
	  "size in Fallback=" },
	/* Ampere runs CUDA 11.0 and later, Kepler 9.0 to 11.8 */
	{ "ComputeCluster=a100 VmSize=Standard_ND96asr_v4 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=k80\n"
	  "ComputeCluster=k80 VmSize=Standard_NC6 MaxNodes=2\n",
	  "test.conf:6: warning: ComputeCluster 'a100' has Fallback=k80, but "
	  "the Kepler GPUs of 'k80' run CUDA 9.0 to 11.8 and the Ampere GPUs "
	  "of 'a100' CUDA 11.0 and later: jobs with --azure-cuda above 11.8 "
	  "never fall back to it; list a target whose GPUs run every CUDA "
	  "version that 'a100' runs" },
	/* Volta runs CUDA 9.0 and later, Turing 10.0 and later */
	{ "ComputeCluster=v100 VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=t4\n"
	  "ComputeCluster=t4 VmSize=Standard_NC4as_T4_v3 MaxNodes=2 "
	  "QuotaApproved=yes\n",
	  "test.conf:6: warning: ComputeCluster 'v100' has Fallback=t4, but "
	  "the Turing GPUs of 't4' run CUDA 10.0 and later and the Volta GPUs "
	  "of 'v100' CUDA 9.0 and later: jobs with --azure-cuda below 10.0 "
	  "never fall back to it; list a target whose GPUs run every CUDA "
	  "version that 'v100' runs" },
	/* Kepler's range is inside Volta's: no CUDA job is lost; nor are
	 * any between clusters alike, nor CPU jobs on a GPU fallback. */
	{ "ComputeCluster=k80 VmSize=Standard_NC6 MaxNodes=2 Fallback=v100\n"
	  "ComputeCluster=v100 VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes Fallback=v100b\n"
	  "ComputeCluster=v100b VmSize=Standard_NC6s_v3 MaxNodes=2 "
	  "QuotaApproved=yes\n"
	  "ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=2 Fallback=v100\n",
	  NULL },
};

START_TEST(fallback_warnings)
{
	azml_conf_t *c = _load_quiet(fallback_warn[_i].targets);

	/* RDMA sizes warn of their InfiniBand placement too: not here */
	for (size_t i = 0; i < c->nwarnings; i++)
		if (strstr(c->warnings[i], "is an RDMA size")) {
			free(c->warnings[i]);
			c->warnings[i--] = c->warnings[--c->nwarnings];
		}
	for (size_t i = 0; c->nwarnings != !!fallback_warn[_i].warning &&
			   i < c->nwarnings; i++)
		fprintf(stderr, "%s\n", c->warnings[i]);
	if (!fallback_warn[_i].warning) {
		ck_assert_int_eq(c->nwarnings, 0);
	} else {
		ck_assert_int_eq(c->nwarnings, 1);
		ck_assert_str_eq(c->warnings[0], fallback_warn[_i].warning);
	}
	azml_conf_destroy(c);
}
END_TEST

START_TEST(tenant_domain)
{
	static const char *ok[] = {
		"contoso.onmicrosoft.com", "Contoso.COM", "my-org.example.co.uk",
		"11111111-2222-3333-4444-555555555555", "x1.y2",
	};

	for (size_t i = 0; i < N(ok); i++) {
		char *text;
		azml_conf_t *c;

		ck_assert_int_gt(asprintf(&text, HEAD "Credential=client-secret:"
			"/etc/x TenantId=%s ClientId=aaaaaaaa-bbbb-cccc-dddd-"
			"eeeeeeeeeeee\n", ok[i]), 0);
		c = azml_conf_load_string(text, "test.conf");
		for (size_t k = 0; k < c->nerrors; k++)
			fprintf(stderr, "%s\n", c->errors[k]);
		ck_assert_int_eq(c->nerrors, 0);
		ck_assert_str_eq(c->tenant_id, ok[i]);
		ck_assert(azml_conf_tenant_ok(ok[i]));
		azml_conf_destroy(c);
		free(text);
	}
	ck_assert(!azml_conf_tenant_ok(NULL));
	ck_assert(!azml_conf_tenant_ok(""));
	ck_assert(!azml_conf_tenant_ok("contoso.com/x"));
	ck_assert(!azml_conf_tenant_ok("contoso.com?x=1"));
}
END_TEST

START_TEST(missing_globals)
{
	azml_conf_t *c = azml_conf_load_string(
		"ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2\n", "m.conf");

	ck_assert_int_eq(c->nerrors, 4);
	ck_assert_str_eq(c->errors[0], "m.conf: missing ClusterName=");
	ck_assert_str_eq(c->errors[3], "m.conf: missing Location=");
	azml_conf_destroy(c);
}
END_TEST

static char tmpdir[64];

static void _write(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

START_TEST(include_relative_and_loops)
{
	char path[256];
	azml_conf_t *c;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/azml-conf-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	_write("azureml.conf", HEAD "Include targets.conf\n");
	_write("targets.conf", "# the clusters\n"
	       "ComputeCluster=c1 VmSize=Standard_D4s_v3 MaxNodes=2\n");
	snprintf(path, sizeof(path), "%s/azureml.conf", tmpdir);
	c = azml_conf_load(path);
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(c->ntargets, 1);
	ck_assert_int_eq(c->targets[0].line, 2);
	ck_assert_ptr_nonnull(strstr(c->targets[0].file, "targets.conf"));
	azml_conf_destroy(c);

	_write("targets.conf", "Include=azureml.conf\n");
	c = azml_conf_load(path);
	ck_assert_int_ge(c->nerrors, 1);
	ck_assert_ptr_nonnull(strstr(c->errors[0], "targets.conf:1: Include of"));
	ck_assert_ptr_nonnull(strstr(c->errors[0], "loops back"));
	azml_conf_destroy(c);

	/* AZUREML_CONF names the file. */
	setenv("AZUREML_CONF", path, 1);
	char *d = azml_conf_default_path();
	ck_assert_str_eq(d, path);
	free(d);
	unsetenv("AZUREML_CONF");
	setenv("SLURM_CONF", "/opt/x/slurm.conf", 1);
	d = azml_conf_default_path();
	ck_assert_str_eq(d, "/opt/x/azureml.conf");
	free(d);

	c = azml_conf_load("/nonexistent/azureml.conf");
	ck_assert_int_eq(c->nerrors, 1);
	ck_assert_str_eq(c->errors[0], "/nonexistent/azureml.conf: cannot read: "
			 "No such file or directory");
	azml_conf_destroy(c);
}
END_TEST

START_TEST(long_lines_and_nul)
{
	char *big = malloc(20000), path[256];
	azml_conf_t *c;
	FILE *fp;

	memset(big, 'a', 19999);
	big[19999] = '\0';
	memcpy(big, "Location=", 9);
	c = azml_conf_load_string(big, "big.conf");
	ck_assert_int_ge(c->nerrors, 1);
	ck_assert_str_eq(c->errors[0], "big.conf:1: line longer than 8192 bytes");
	azml_conf_destroy(c);
	free(big);

	snprintf(path, sizeof(path), "/tmp/azml-nul-%d.conf", (int) getpid());
	fp = fopen(path, "w");
	fwrite(HEAD "Image=a\0b\n", 1, sizeof(HEAD "Image=a\0b\n") - 1, fp);
	fclose(fp);
	c = azml_conf_load(path);
	ck_assert_int_ge(c->nerrors, 1);
	ck_assert_ptr_nonnull(strstr(c->errors[0], ":5: NUL byte"));
	azml_conf_destroy(c);
	unlink(path);
}
END_TEST

/* Arbitrary bytes never crash the parser (run under ASan in CI). */
START_TEST(random_bytes)
{
	static const char *alphabet[] = {
		"=", " ", "\n", "\"", "#", "\\\n", "ComputeCluster=", "VmSize=",
		"Standard_NC6s_v3", "MaxNodes=", "MinNodes=", "9", "AttachedCompute=",
		"Nodes=", "x[1-", "]", ",", "Gres=gpu:", "Include ", "\xff", "\t",
		"ComputeInstance=", "Tags=", ":", "ArmEndpoint=http://", "[::1]",
	};
	unsigned seed = 12345;

	for (int round = 0; round < 3000; round++) {
		char buf[512] = HEAD;
		size_t len = strlen(buf);
		int pieces = rand_r(&seed) % 40;

		for (int i = 0; i < pieces; i++) {
			const char *p = alphabet[rand_r(&seed) % N(alphabet)];

			if (len + strlen(p) + 1 >= sizeof(buf))
				break;
			strcpy(buf + len, p);
			len += strlen(p);
		}
		azml_conf_t *c = azml_conf_load_string(buf, "fuzz.conf");
		ck_assert_ptr_nonnull(c);
		for (size_t i = 0; i < c->nerrors; i++)
			ck_assert(!strncmp(c->errors[i], "fuzz.conf", 9));
		azml_conf_destroy(c);
	}
}
END_TEST

/* What once crashed tests/fuzz's conf target loads without crashing. */
static void _load_regress(const char *data, size_t len, const char *path)
{
	azml_conf_t *c = memchr(data, '\0', len) ? azml_conf_load(path) :
			 azml_conf_load_string(data, path);

	ck_assert_ptr_nonnull(c);
	azml_conf_destroy(c);
}

START_TEST(fuzz_regressions)
{
	ck_assert_int_gt(tu_fuzz_regress("conf", _load_regress), 0);
}
END_TEST

static bool _has(char **list, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(list[i], a) && (!b || strstr(list[i], b)))
			return true;
	return false;
}

static void _dump(const azml_conf_t *c)
{
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "E %s\n", c->errors[i]);
	for (size_t i = 0; i < c->nwarnings; i++)
		fprintf(stderr, "W %s\n", c->warnings[i]);
}

/* check-config's judgment of the files root trusts (issue 25, items 1-4):
 * FILE:LINE, the file, the reason; nothing is changed. */
START_TEST(file_checks)
{
	char d[] = "/tmp/azml-conf-files.XXXXXX", text[4096], p[256];
	azml_conf_t *c;
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_int_eq(chmod(d, 0755), 0);
	snprintf(p, sizeof(p), "%s/state", d);
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(chmod(p, 0777), 0);
	snprintf(p, sizeof(p), "%s/prices", d);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	snprintf(tmpdir, sizeof(tmpdir), "%s", d);
	_write("key.pub", "ssh-rsa AAAA k\n");
	_write("other.pub", "ssh-rsa AAAA o\n");
	_write("good.pub", "ssh-rsa AAAA g\n");
	snprintf(p, sizeof(p), "%s/key.pub", d);
	ck_assert_int_eq(chmod(p, 0666), 0);
	snprintf(p, sizeof(p), "%s/other.pub", d);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(p, 12345, 12345), 0);
	snprintf(p, sizeof(p), "%s/log", d);
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	snprintf(text, sizeof(text), HEAD
		 "StateDir=%s/state\n"				/* 5 */
		 "Prices=%s/prices\n"				/* 6 */
		 "SshPublicKey=%s/key.pub\n"			/* 7 */
		 "LogFile=%s/log\n"				/* 8 */
		 "ComputeCluster=ca VmSize=Standard_D4s_v3 MaxNodes=2 "
		 "SshPublicKey=%s/other.pub\n"			/* 9 */
		 "ComputeCluster=cb VmSize=Standard_D4s_v3 MaxNodes=2 "
		 "SshPublicKey=%s/good.pub\n"			/* 10 */
		 "Subnet=/subscriptions/s/resourceGroups/rg/providers/"
		 "Microsoft.Network/virtualNetworks/v/subnets/default\n",
		 d, d, d, d, d, d);
	c = azml_conf_load_string(text, "test.conf");
	_dump(c);
	ck_assert_uint_eq(c->nerrors, 0);
	ck_assert_uint_eq(azml_conf_check_files(c), geteuid() == 0 ? 5 : 4);
	_dump(c);
	ck_assert(_has(c->errors, c->nerrors, "test.conf:5: StateDir=",
		       "writable by its group or by others (mode 0777)"));
	ck_assert(_has(c->errors, c->nerrors, "test.conf:6: Prices=",
		       "is a FIFO; refused"));
	ck_assert(_has(c->errors, c->nerrors, "test.conf:7: SshPublicKey=",
		       "key.pub is writable by its group or by others"));
	ck_assert(_has(c->errors, c->nerrors, "test.conf:8: LogFile=",
		       "symbolic link"));
	if (geteuid() == 0)
		ck_assert(_has(c->errors, c->nerrors,
			       "test.conf:9: SshPublicKey=", "other.pub is "
			       "owned by uid 12345, not by root or SlurmUser"));
	ck_assert(!_has(c->errors, c->nerrors, "good.pub", NULL));
	azml_conf_destroy(c);
	/* nothing changed */
	snprintf(p, sizeof(p), "%s/state", d);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0777);
	snprintf(p, sizeof(p), "%s/key.pub", d);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0666);

	/* mended, with a LogFile in a folder others may write: a warning */
	snprintf(p, sizeof(p), "%s/state", d);
	ck_assert_int_eq(chmod(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/open", d);
	ck_assert_int_eq(mkdir(p, 0777), 0);
	ck_assert_int_eq(chmod(p, 01777), 0);
	snprintf(text, sizeof(text), HEAD "StateDir=%s/state\n"
		 "LogFile=%s/open/azureml.log\n"
		 "SshPublicKey=%s/good.pub\n", d, d, d);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(azml_conf_check_files(c), 0);
	_dump(c);
	ck_assert(_has(c->warnings, c->nwarnings, "test.conf:6: warning: "
		       "LogFile=", "is writable by others (mode 1777)"));
	azml_conf_destroy(c);
	snprintf(p, sizeof(p), "%s/open/azureml.log", d);
	ck_assert_int_ne(lstat(p, &st), 0);	/* not created */
	snprintf(text, sizeof(text), "rm -rf '%s'", d);
	ck_assert_int_eq(system(text), 0);
}
END_TEST

/* check-config: a VM target needs SshPublicKey= (Azure refuses a Linux
 * VM with password login off and no key) and, unless ArmEndpoint is the
 * local emulator, Subnet=; FILE:LINE of the target names them. */
START_TEST(vm_access_checks)
{
	char d[] = "/tmp/azml-conf-access.XXXXXX", text[2048];
	azml_conf_t *c;

	ck_assert_ptr_nonnull(mkdtemp(d));
	ck_assert_int_eq(chmod(d, 0755), 0);
	snprintf(tmpdir, sizeof(tmpdir), "%s", d);
	_write("k.pub", "ssh-ed25519 AAAA k\n");
	snprintf(text, sizeof(text), HEAD "StateDir=%s\n"	/* 5 */
		 "ComputeCluster=ca VmSize=Standard_D4s_v3 MaxNodes=2\n"
		 "ComputeInstance=box VmSize=Standard_D4s_v3 "
		 "SshPublicKey=%s/k.pub\n"
		 "AttachedCompute=lab Nodes=lab1 Gres=gpu:a100:1\n", d, d);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(c->nerrors, 0);
	ck_assert_uint_eq(azml_conf_check_files(c), 3);
	_dump(c);
	ck_assert(_has(c->errors, c->nerrors, "test.conf:6: ComputeCluster "
		       "'ca' has no SshPublicKey=", "Authentication using "
		       "either SSH or by user name and password must be "
		       "enabled in Linux profile."));
	ck_assert(_has(c->errors, c->nerrors, "test.conf:6: ComputeCluster "
		       "'ca' has no Subnet=", "add Subnet=/subscriptions/"));
	ck_assert(_has(c->errors, c->nerrors, "test.conf:7: ComputeInstance "
		       "'box' has no Subnet=", NULL));
	azml_conf_destroy(c);
	/* the local emulator: the key still, no subnet needed here */
	snprintf(text, sizeof(text), HEAD "StateDir=%s\n"
		 "ArmEndpoint=http://127.0.0.1:8443\n"
		 "ComputeCluster=ca VmSize=Standard_D4s_v3 MaxNodes=2\n", d);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(azml_conf_check_files(c), 1);
	ck_assert(_has(c->errors, c->nerrors, "test.conf:7: ComputeCluster "
		       "'ca' has no SshPublicKey=", NULL));
	azml_conf_destroy(c);
	snprintf(text, sizeof(text), "rm -rf '%s'", d);
	ck_assert_int_eq(system(text), 0);
}
END_TEST

/* LogFile= as the programs open it (issue 25, item 3): never through a
 * link, never another user's or a writable-by-others file, never a FIFO;
 * the target is left as it was. */
START_TEST(log_file_refusals)
{
	char d[] = "/tmp/azml-conf-log.XXXXXX", p[256], why[600], t[300];
	struct stat st;

	ck_assert_ptr_nonnull(mkdtemp(d));
	snprintf(tmpdir, sizeof(tmpdir), "%s", d);
	_write("target", "untouched\n");
	snprintf(t, sizeof(t), "%s/target", d);
	snprintf(p, sizeof(p), "%s/link", d);
	ck_assert_int_eq(symlink(t, p), 0);
	ck_assert_int_eq(azml_log_add_file(p, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "it is a symbolic link; refused"), "%s", why);
	ck_assert_int_eq(chmod(t, 0666), 0);
	ck_assert_int_eq(azml_log_add_file(t, why, sizeof(why)), -1);
	ck_assert_msg(strstr(why, "writable by its group or by others"), "%s",
		      why);
	if (geteuid() == 0) {
		ck_assert_int_eq(chmod(t, 0644), 0);
		ck_assert_int_eq(chown(t, 12345, 12345), 0);
		ck_assert_int_eq(azml_log_add_file(t, why, sizeof(why)), -1);
		ck_assert_msg(strstr(why, "owned by uid 12345"), "%s", why);
	}
	snprintf(p, sizeof(p), "%s/fifo", d);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(azml_log_add_file(p, why, sizeof(why)), -1);
	azml_log_error("not written anywhere but stderr");
	azml_log_fini();
	ck_assert_int_eq(stat(t, &st), 0);
	ck_assert_int_eq(st.st_size, 10);	/* "untouched\n" */
	snprintf(p, sizeof(p), "%s/new.log", d);
	ck_assert_int_eq(azml_log_add_file(p, why, sizeof(why)), 0);
	azml_log_fini();
	snprintf(p, sizeof(p), "rm -rf '%s'", d);
	ck_assert_int_eq(system(p), 0);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("conf");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, good_config);
	tcase_add_loop_test(tc, bad_input, 0, N(bad));
	tcase_add_test(tc, good_mix);
	tcase_add_test(tc, mix_strategy_one_size);
	tcase_add_test(tc, mix_conflicts);
	tcase_add_test(tc, bootstrap_keys);
	tcase_add_test(tc, job_identity);
	tcase_add_test(tc, fallback_keys);
	tcase_add_test(tc, idle_auto_and_prices);
	tcase_add_test(tc, capacity_backoff);
	tcase_add_loop_test(tc, fallback_warnings, 0, N(fallback_warn));
	tcase_add_test(tc, tenant_domain);
	tcase_add_test(tc, missing_globals);
	tcase_add_test(tc, include_relative_and_loops);
	tcase_add_test(tc, long_lines_and_nul);
	tcase_add_test(tc, random_bytes);
	tcase_add_test(tc, fuzz_regressions);
	tcase_add_test(tc, file_checks);
	tcase_add_test(tc, vm_access_checks);
	tcase_add_test(tc, log_file_refusals);
	return tu_run("conf", tc);
}

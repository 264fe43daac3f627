/*
 * userdata-test.c - a VM's bootstrap settings (shared/userdata.h): base64,
 * the validators azureml.conf shares, and userData built, parsed and
 * refused with a message that names the field.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "testutil.h"
#include "userdata.h"

#define ID "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/" \
	"rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/nodes"

START_TEST(base64_roundtrip)
{
	/* RFC 4648's test vectors */
	static const char *const plain[] = { "", "f", "fo", "foo", "foob",
					     "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v",
					   "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	unsigned char bin[256], *d;
	size_t n;
	char *e;

	for (size_t i = 0; i < 7; i++) {
		e = azml_base64_encode(plain[i], strlen(plain[i]));
		ck_assert_str_eq(e, enc[i]);
		d = azml_base64_decode(e, strlen(e), &n);
		ck_assert_ptr_nonnull(d);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_mem_eq(d, plain[i], n);
		free(d);
		free(e);
	}
	for (int i = 0; i < 256; i++)
		bin[i] = (unsigned char) (255 - i);
	e = azml_base64_encode(bin, sizeof(bin));
	d = azml_base64_decode(e, strlen(e), &n);
	ck_assert_uint_eq(n, sizeof(bin));
	ck_assert_mem_eq(d, bin, n);
	free(d);
	free(e);
	/* white space (as IMDS and files have it) is skipped */
	d = azml_base64_decode(" Zm9v\nYmFy\n", 11, &n);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq((char *) d, "foobar");
	free(d);
	/* not base64: a bad character, a short group, data after padding */
	ck_assert_ptr_null(azml_base64_decode("Zm9*", 4, &n));
	ck_assert_ptr_null(azml_base64_decode("Zm9", 3, &n));
	ck_assert_ptr_null(azml_base64_decode("Zg==Zg==", 8, &n));
	ck_assert_ptr_null(azml_base64_decode("Z===", 4, &n));
}
END_TEST

START_TEST(validators)
{
	char why[256];

	ck_assert_int_eq(azml_ctld_host_ok("ctl", why, sizeof(why)), 0);
	ck_assert_int_eq(azml_ctld_host_ok("10.0.0.4:6817", why, sizeof(why)), 0);
	ck_assert_int_eq(azml_ctld_host_ok("head-1.example.com:6817", why, sizeof(why)), 0);
	ck_assert_int_eq(azml_ctld_host_ok("[fd00::4]:6817", why, sizeof(why)), 0);
	ck_assert_int_eq(azml_ctld_host_ok("fd00::4", why, sizeof(why)), 0);
	ck_assert_int_eq(azml_ctld_host_ok("ctl:0", why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "port '0'"));
	ck_assert_int_eq(azml_ctld_host_ok("ctl:70000", why, sizeof(why)), -1);
	ck_assert_int_eq(azml_ctld_host_ok("ctl;rm -rf", why, sizeof(why)), -1);
	ck_assert_int_eq(azml_ctld_host_ok("-ctl", why, sizeof(why)), -1);
	ck_assert_int_eq(azml_ctld_host_ok("", why, sizeof(why)), -1);

	ck_assert_int_eq(azml_secret_url_ok("https://kv-1.vault.azure.net/secrets/munge",
					    why, sizeof(why)), 0);
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.usgovcloudapi.net/secrets/m-1",
					    why, sizeof(why)), 0);
	ck_assert_int_eq(azml_secret_url_ok("http://127.0.0.1:8080/keyvault/kv1/secrets/munge",
					    why, sizeof(why)), 0);
	ck_assert_int_eq(azml_secret_url_ok("http://kv1.vault.azure.net/secrets/munge",
					    why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "plain http only to loopback"));
	ck_assert_int_eq(azml_secret_url_ok("https://evil.example.com/secrets/munge",
					    why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not a Key Vault host"));
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.azure.net/secrets/munge?x=1",
					    why, sizeof(why)), -1);
	ck_assert_int_eq(azml_secret_url_ok("https://a@kv1.vault.azure.net/secrets/m",
					    why, sizeof(why)), -1);
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.azure.net:444/secrets/m",
					    why, sizeof(why)), -1);
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.azure.net/keys/m",
					    why, sizeof(why)), -1);
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.azure.net/secrets/a/b",
					    why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "secret version 'b': 32 hex digits"));
	ck_assert_int_eq(azml_secret_url_ok("https://kv1.vault.azure.net/secrets/"
					    "m/0123456789abcdef0123456789abcdef",
					    why, sizeof(why)), 0);
	ck_assert(azml_secret_url_versioned("https://kv1.vault.azure.net/"
		  "secrets/m/0123456789abcdef0123456789abcdef"));
	ck_assert(!azml_secret_url_versioned("https://kv1.vault.azure.net/"
		  "secrets/m"));
	ck_assert_int_eq(azml_secret_url_ok("https://kv.vault.azure.net/secrets/m",
					    why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "vault name"));

	ck_assert_int_eq(azml_identity_id_ok(ID, why, sizeof(why)), 0);
	ck_assert_int_eq(azml_identity_id_ok("/subscriptions/0/resourceGroups/rg/"
		"providers/Microsoft.Compute/virtualMachines/x", why, sizeof(why)), -1);
	ck_assert_int_eq(azml_identity_id_ok(ID "/extra", why, sizeof(why)), -1);
	ck_assert_int_eq(azml_identity_id_ok("nodes", why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "userAssignedIdentities/NAME"));
}
END_TEST

static azml_userdata_t _sample(void)
{
	azml_userdata_t u = {
		.cluster = "demo", .slurm_cluster = "demo", .target = "gpu",
		.node = "gpu-1", .vm_size = "Standard_NC6s_v3",
		.slurmctld_host = "10.0.0.4:6817",
		.munge_key_secret = "https://kv1.vault.azure.net/secrets/munge",
		.identity = ID, .setup_script = "/opt/site/setup.sh",
		.gpus = 1, .gpu_type = "v100", .gpu_arch = "Volta",
		.slurm_version = "22.05.8",
	};
	return u;
}

START_TEST(build_and_parse)
{
	azml_userdata_t u = _sample(), p;
	char err[256], *json = azml_userdata_json(&u), *b64;

	ck_assert_ptr_nonnull(strstr(json, "\"node\":\"gpu-1\""));
	ck_assert_ptr_nonnull(strstr(json, "\"priority\":\"dedicated\""));
	ck_assert_ptr_nonnull(strstr(json, "\"gpus\":{\"count\":1,\"type\":\"v100\",\"arch\":\"Volta\"}"));
	free(json);
	b64 = azml_userdata_encode(&u);
	ck_assert_int_eq(azml_userdata_parse(b64, strlen(b64), &p, err, sizeof(err)), 0);
	ck_assert_str_eq(p.node, "gpu-1");
	ck_assert_str_eq(p.slurmctld_host, "10.0.0.4:6817");
	ck_assert_str_eq(p.identity, ID);
	ck_assert_str_eq(p.setup_script, "/opt/site/setup.sh");
	ck_assert_str_eq(p.gpu_arch, "Volta");
	ck_assert_int_eq(p.gpus, 1);
	ck_assert(!p.low_priority);
	ck_assert_str_eq(p.slurm_version, "22.05.8");
	azml_userdata_free(&p);
	ck_assert_ptr_null(p.node);
	free(b64);

	/* a scale set's shared userData: no node, no GPUs, low priority */
	u.node = NULL;
	u.gpus = 0;
	u.setup_script = NULL;
	u.low_priority = true;
	b64 = azml_userdata_encode(&u);
	ck_assert_int_eq(azml_userdata_parse(b64, strlen(b64), &p, err, sizeof(err)), 0);
	ck_assert_ptr_null(p.node);
	ck_assert_ptr_null(p.setup_script);
	ck_assert_int_eq(p.gpus, 0);
	ck_assert(p.low_priority);
	azml_userdata_free(&p);
	free(b64);
}
END_TEST

/* The sample's JSON with FIELD set to VALUE (raw JSON; NULL: left out),
 * base64'd, must be refused with a message containing WANT. */
static void _refused(const char *field, const char *value, const char *want)
{
	azml_userdata_t u = _sample(), p;
	char err[256], *json = azml_userdata_json(&u), *text, *b64;
	cJSON *o = cJSON_Parse(json);

	cJSON_DeleteItemFromObjectCaseSensitive(o, field);
	if (value)
		cJSON_AddItemToObject(o, field, cJSON_Parse(value));
	text = cJSON_PrintUnformatted(o);
	b64 = azml_base64_encode(text, strlen(text));
	ck_assert_msg(azml_userdata_parse(b64, strlen(b64), &p, err,
					  sizeof(err)) == -1, "accepted: %s", text);
	ck_assert_msg(strstr(err, want), "'%s' lacks '%s' (%s)", err, want, text);
	ck_assert_ptr_null(p.cluster);
	free(b64);
	free(text);
	cJSON_Delete(o);
	free(json);
}

START_TEST(bad_userdata)
{
	azml_userdata_t p;
	char err[256];

	ck_assert_int_eq(azml_userdata_parse("", 0, &p, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "empty"));
	ck_assert_int_eq(azml_userdata_parse("not base64!", 11, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "userData: not base64");
	/* "[1]" */
	ck_assert_int_eq(azml_userdata_parse("WzFd", 4, &p, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "userData: not a JSON object");

	_refused("version", "2", "field 'version' must be 1");
	_refused("version", NULL, "field 'version' must be 1");
	_refused("cluster", NULL, "field 'cluster' is missing");
	_refused("node", "7", "field 'node' must be a string");
	_refused("node", "\"a b\"", "field 'node': 'a b' is not a node name");
	_refused("slurmctld_host", "\"ctl:99999\"", "field 'slurmctld_host': port");
	_refused("munge_key_secret", "\"http://10.0.0.9/keyvault/kv1/secrets/m\"",
		 "plain http only to loopback");
	_refused("munge_key_secret", NULL, "field 'munge_key_secret' is missing");
	_refused("identity", "\"/subscriptions/x\"", "field 'identity'");
	_refused("setup_script", "\"setup.sh\"", "not an absolute path");
	_refused("setup_script", "\"/opt/../etc/x\"", "not an absolute path");
	_refused("priority", "\"spot\"", "'priority' must be 'dedicated' or 'low'");
	_refused("gpus", "{\"count\":0}", "'count' of 1 to 64");
	_refused("gpus", "{\"count\":1.5}", "'count' of 1 to 64");
	_refused("gpus", "4", "field 'gpus' must be an object");
	_refused("slurm_version", "\"22.05\"", "not a Slurm version");
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("userdata");

	tcase_add_test(tc, base64_roundtrip);
	tcase_add_test(tc, validators);
	tcase_add_test(tc, build_and_parse);
	tcase_add_test(tc, bad_userdata);
	return tu_run("userdata", tc);
}

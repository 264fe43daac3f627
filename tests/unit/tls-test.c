/*
 * tls-test.c - TLS end to end (issue 26, item 3): azure-emulator serving
 * https with certificates that tests/tls-certs.sh makes, and the product's
 * HTTP client verifying them against CaBundle= (or the system's store).
 * A wrong CA, a wrong name and an expired certificate each get their own
 * message, and no request reaches the emulator.  check-config judges
 * CaBundle= with FILE:LINE.  Clouds (item 5): Cloud='s endpoints and
 * audiences, MungeKeySecret='s vault per cloud, and the emulator's
 * refusal of a token presented to the wrong service.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "auth.h"
#include "cloud.h"
#include "conf.h"
#include "keyvault.h"
#include "testutil.h"

static char dir[64];		/* the certificates */

static void _certs(void)
{
	char cmd[300];

	snprintf(dir, sizeof(dir), "/tmp/azml-tls-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "bash " AZML_TOP_SRCDIR
		 "/tests/tls-certs.sh %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void _certs_gone(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int _free_port(void)
{
	return 20000 + (getpid() * 7 + rand()) % 6000;
}

/* GET https://127.0.0.1:PORT/emulator/stats without verifying (the
 * certificate may be a bad one on purpose): its "requests", or -1. */
static long _requests(int port)
{
	CURL *e = curl_easy_init();
	FILE *mem;
	char *buf = NULL, url[96];
	size_t len = 0;
	long n = -1;
	cJSON *j;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/emulator/stats",
		 port);
	mem = open_memstream(&buf, &len);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, mem);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 5L);
	if (curl_easy_perform(e) == CURLE_OK) {
		fclose(mem);
		mem = NULL;
		if ((j = cJSON_Parse(buf))) {
			n = (long) cJSON_GetNumberValue(
				cJSON_GetObjectItem(j, "requests"));
			cJSON_Delete(j);
		}
	}
	if (mem)
		fclose(mem);
	free(buf);
	curl_easy_cleanup(e);
	return n;
}

/* The emulator over https with certificate NAME.pem and its key. */
static pid_t _emulator(const char *name, int *port)
{
	char listen[32], cert[128], key[128];
	pid_t pid;

	*port = _free_port();
	snprintf(listen, sizeof(listen), "127.0.0.1:%d", *port);
	snprintf(cert, sizeof(cert), "%s/%s.pem", dir, name);
	snprintf(key, sizeof(key), "%s/%s.key", dir, name);
	if ((pid = fork()) == 0) {
		if (!getenv("AZML_TEST_VERBOSE"))
			freopen("/dev/null", "w", stderr);
		execl(AZML_BUILD_DIR "/contrib/emulator/azure-emulator",
		      "azure-emulator", "--listen", listen, "--tls-cert", cert,
		      "--tls-key", key, (char *) NULL);
		_exit(127);
	}
	TU_WAIT(_requests(*port) >= 0, 10);
	ck_assert_int_ge(_requests(*port), 0);
	return pid;
}

static void _stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* A Key Vault read from the emulator serving certificate NAME, trusting
 * CA (NULL: the system's store): its error in ERR; asserts whether a
 * request reached the emulator. */
static int _read(const char *name, const char *ca, bool reaches, char *err,
		 size_t n)
{
	char url[128], *value = NULL;
	int port, rc;
	long before;
	pid_t pid = _emulator(name, &port);

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/keyvault/kv1/secrets/"
		 "munge", port);
	before = _requests(port);
	rc = azml_keyvault_get_secret(url, "not-a-token", ca, &value, err, n);
	/* the stats request itself counts one */
	ck_assert_int_eq(_requests(port), before + 1 + (reaches ? 1 : 0));
	_stop(pid);
	ck_assert_ptr_null(value);
	return rc;
}

START_TEST(tls_good_certificate)
{
	char err[512], ca[128];

	_certs();
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	/* TLS passed: Key Vault itself answered (401: no real token) */
	ck_assert_int_eq(_read("server", ca, true, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "Unauthorized"), "%s", err);
	_certs_gone();
}
END_TEST

START_TEST(tls_refusals)
{
	char err[512], ca[128], missing[128];

	_certs();
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	ck_assert_int_eq(_read("wrongca", ca, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "the certificate of 127.0.0.1 is not "
			     "trusted (CaBundle=") &&
		      strstr(err, "/ca.pem); no request sent"), "%s", err);
	ck_assert_int_eq(_read("wrongname", ca, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "the certificate name does not match "
			     "127.0.0.1; no request sent"), "%s", err);
	ck_assert_int_eq(_read("expired", ca, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "the certificate of 127.0.0.1 expired; no "
			     "request sent"), "%s", err);
	/* the test CA is in no system store */
	ck_assert_int_eq(_read("server", NULL, false, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "is not trusted (the system's CA store)"),
		      "%s", err);
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	ck_assert_int_eq(_read("server", missing, false, err, sizeof(err)),
			 -1);
	ck_assert_msg(strstr(err, "couldn't read the CA certificates of "
			     "CaBundle="), "%s", err);
	_certs_gone();
}
END_TEST

/* The emulator refuses a key its group or others may read. */
START_TEST(tls_unsafe_key)
{
	char key[128];
	int st;
	pid_t pid;

	_certs();
	snprintf(key, sizeof(key), "%s/server.key", dir);
	ck_assert_int_eq(chmod(key, 0640), 0);
	if ((pid = fork()) == 0) {
		char cert[128];

		freopen("/dev/null", "w", stderr);
		snprintf(cert, sizeof(cert), "%s/server.pem", dir);
		execl(AZML_BUILD_DIR "/contrib/emulator/azure-emulator",
		      "azure-emulator", "--listen", "127.0.0.1:1", "--tls-cert",
		      cert, "--tls-key", key, (char *) NULL);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 2);
	_certs_gone();
}
END_TEST

static bool _has(char **list, size_t n, const char *a, const char *b)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(list[i], a) && strstr(list[i], b))
			return true;
	return false;
}

/* check-config: CaBundle= must be a readable PEM file, FILE:LINE. */
START_TEST(tls_ca_bundle_checked)
{
	char text[1024], p[160];
	azml_conf_t *c;
	FILE *fp;

	_certs();
	snprintf(text, sizeof(text), "ClusterName=c\n"
		 "CaBundle=%s/absent.pem\n", dir);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(azml_conf_check_files(c), 1);
	ck_assert(_has(c->errors, c->nerrors, "test.conf:2: CaBundle=",
		       "absent.pem"));
	azml_conf_destroy(c);
	snprintf(p, sizeof(p), "%s/notpem.pem", dir);
	fp = fopen(p, "w");
	fputs("hello\n", fp);
	fclose(fp);
	snprintf(text, sizeof(text), "ClusterName=c\n\nCaBundle=%s\n", p);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(azml_conf_check_files(c), 1);
	ck_assert(_has(c->errors, c->nerrors, "test.conf:3: CaBundle=",
		       "no PEM certificate"));
	azml_conf_destroy(c);
	snprintf(text, sizeof(text), "ClusterName=c\nCaBundle=%s/ca.pem\n",
		 dir);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert_uint_eq(azml_conf_check_files(c), 0);
	azml_conf_destroy(c);
	_certs_gone();
}
END_TEST

/* Cloud=: each cloud's endpoints and audiences (doc/NOTES, "Clouds"). */
START_TEST(cloud_endpoints)
{
	const azml_cloud_t *c = azml_cloud_find("azurepublic");
	azml_conf_t *conf;

	ck_assert_str_eq(c->arm_endpoint, "https://management.azure.com");
	ck_assert_str_eq(c->authority, "https://login.microsoftonline.com");
	ck_assert_str_eq(c->arm_audience, "https://management.azure.com/");
	ck_assert_str_eq(c->vault_audience, "https://vault.azure.net");
	c = azml_cloud_find("AzureUSGovernment");
	ck_assert_str_eq(c->arm_endpoint, "https://management.usgovcloudapi.net");
	ck_assert_str_eq(c->authority, "https://login.microsoftonline.us");
	ck_assert_str_eq(c->arm_audience, "https://management.usgovcloudapi.net/");
	ck_assert_str_eq(c->vault_suffix, ".vault.usgovcloudapi.net");
	ck_assert_str_eq(c->vault_audience, "https://vault.usgovcloudapi.net");
	c = azml_cloud_find("AzureChina");
	ck_assert_str_eq(c->arm_endpoint, "https://management.chinacloudapi.cn");
	ck_assert_str_eq(c->authority, "https://login.chinacloudapi.cn");
	ck_assert_str_eq(c->arm_audience, "https://management.chinacloudapi.cn/");
	ck_assert_str_eq(c->vault_suffix, ".vault.azure.cn");
	ck_assert_str_eq(c->vault_audience, "https://vault.azure.cn");
	ck_assert_ptr_null(azml_cloud_find("AzureGermany"));
	/* a node's Key Vault token follows its vault's cloud */
	ck_assert_str_eq(azml_cloud_vault_audience("https://kv.vault.azure.cn/"
		"secrets/m"), "https://vault.azure.cn");
	ck_assert_str_eq(azml_cloud_vault_audience("https://kv.vault."
		"usgovcloudapi.net/secrets/m"), "https://vault.usgovcloudapi.net");
	ck_assert_str_eq(azml_cloud_vault_audience("http://127.0.0.1:1/keyvault/"
		"kv/secrets/m"), "https://vault.azure.net");
	/* ARM's token audience follows Cloud=, not ArmEndpoint= */
	ck_assert_str_eq(azml_auth_arm_audience(NULL),
			 "https://management.azure.com/");
	ck_assert_str_eq(azml_auth_arm_audience("AzureChina"),
			 "https://management.chinacloudapi.cn/");
	/* the defaults follow Cloud=; ArmEndpoint= overrides */
	conf = azml_conf_load_string("ClusterName=c\nSubscriptionId="
		"00000000-0000-0000-0000-000000000001\nResourceGroup=rg\n"
		"Location=usgovvirginia\nCloud=AzureUSGovernment\n",
		"test.conf");
	ck_assert_uint_eq(conf->nerrors, 0);
	ck_assert_str_eq(conf->arm_endpoint,
			 "https://management.usgovcloudapi.net");
	ck_assert_str_eq(conf->authority_host,
			 "https://login.microsoftonline.us");
	azml_conf_destroy(conf);
	conf = azml_conf_load_string("ClusterName=c\nSubscriptionId="
		"00000000-0000-0000-0000-000000000001\nResourceGroup=rg\n"
		"Location=chinaeast2\nCloud=AzureChina\n"
		"ArmEndpoint=https://127.0.0.1:8443\n", "test.conf");
	ck_assert_str_eq(conf->arm_endpoint, "https://127.0.0.1:8443");
	ck_assert_str_eq(conf->authority_host, "https://login.chinacloudapi.cn");
	azml_conf_destroy(conf);
	conf = azml_conf_load_string("ClusterName=c\nCloud=Mars\n",
				     "test.conf");
	ck_assert(_has(conf->errors, conf->nerrors, "test.conf:2: Cloud=",
		       "AzurePublic, AzureUSGovernment, AzureChina"));
	azml_conf_destroy(conf);
}
END_TEST

/* MungeKeySecret= is a vault of Cloud=; the emulator's path style only
 * with an emulator's ArmEndpoint=. */
START_TEST(cloud_vault_urls)
{
	static const char head[] = "ClusterName=c\nSubscriptionId="
		"00000000-0000-0000-0000-000000000001\nResourceGroup=rg\n"
		"Location=eastus\nIdentity=/subscriptions/s/resourceGroups/rg/"
		"providers/Microsoft.ManagedIdentity/userAssignedIdentities/n\n";
	char text[1024];
	azml_conf_t *c;

	snprintf(text, sizeof(text), "%sCloud=AzureChina\nComputeCluster=ca "
		 "VmSize=Standard_D2s_v3 MaxNodes=1 MungeKeySecret=https://kv1."
		 "vault.azure.net/secrets/munge\n", head);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert(_has(c->errors, c->nerrors, "test.conf:7: ComputeCluster 'ca'"
		       ": MungeKeySecret=https://kv1.vault.azure.net/secrets/"
		       "munge is not a vault of Cloud=AzureChina", "https://"
		       "VAULT.vault.azure.cn/secrets/NAME[/VERSION]; this one "
		       "is AzurePublic"));
	azml_conf_destroy(c);
	snprintf(text, sizeof(text), "%sComputeCluster=ca VmSize=Standard_D2s_v3"
		 " MaxNodes=1 MungeKeySecret=http://127.0.0.1:9/keyvault/kv1/"
		 "secrets/munge\n", head);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert(_has(c->errors, c->nerrors, "test.conf:6: ComputeCluster 'ca'"
		       ": MungeKeySecret=http://127.0.0.1:9/keyvault/kv1/secrets/"
		       "munge is the emulator's path style", "https://VAULT."
		       "vault.azure.net/secrets/NAME[/VERSION] (Cloud="
		       "AzurePublic)"));
	azml_conf_destroy(c);
	snprintf(text, sizeof(text), "%sArmEndpoint=https://127.0.0.1:9\n"
		 "ComputeCluster=ca VmSize=Standard_D2s_v3 MaxNodes=1 "
		 "MungeKeySecret=http://127.0.0.1:9/keyvault/kv1/secrets/munge\n"
		 "ComputeCluster=cb VmSize=Standard_D2s_v3 MaxNodes=1 "
		 "MungeKeySecret=https://kv1.vault.azure.net/secrets/munge\n",
		 head);
	c = azml_conf_load_string(text, "test.conf");
	ck_assert(!_has(c->errors, c->nerrors, "MungeKeySecret", ""));
	azml_conf_destroy(c);
}
END_TEST

/* The emulator's ARM refuses a token of another audience as ARM does;
 * its Key Vault a token that is not Key Vault's. */
START_TEST(token_audience_refused)
{
	const char *args[] = { "--client-secret", "s", NULL };
	char *out = NULL, hdr[200];
	const char *h[] = { hdr, NULL };
	int port;
	pid_t pid = tu_emulator_start(&port, args);
	cJSON *j;

	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=s&"
		"scope=https%3A%2F%2Fvault.azure.net%2F.default", NULL, &out),
		200);
	j = cJSON_Parse(out);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
		 cJSON_GetObjectItem(j, "access_token")->valuestring);
	cJSON_Delete(j);
	free(out);
	ck_assert_int_eq(tu_http("GET", port, "/subscriptions/s/resourceGroups/"
		"rg/providers/Microsoft.Compute/virtualMachines?api-version="
		"2024-07-01", NULL, h, &out), 401);
	ck_assert_msg(strstr(out, "\"code\":\"InvalidAuthenticationTokenAudience"
		"\",\"message\":\"The access token has been obtained for wrong "
		"audience or resource 'https://vault.azure.net'. It should "
		"exactly match with one of the allowed audiences 'https://"
		"management.core.windows.net/','https://management.core.windows."
		"net','https://management.azure.com/','https://management.azure."
		"com'.\""), "%s", out);
	free(out);
	/* an ARM token at Key Vault: Key Vault's 401 */
	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret=s&"
		"scope=https%3A%2F%2Fmanagement.azure.com%2F.default", NULL,
		&out), 200);
	j = cJSON_Parse(out);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
		 cJSON_GetObjectItem(j, "access_token")->valuestring);
	cJSON_Delete(j);
	free(out);
	ck_assert_int_eq(tu_http("GET", port, "/subscriptions/s/resourceGroups/"
		"rg/providers/Microsoft.Compute/virtualMachines?api-version="
		"2024-07-01", NULL, h, &out), 200);
	free(out);
	ck_assert_int_eq(tu_http("GET", port, "/keyvault/kv1/secrets/munge?"
		"api-version=7.4", NULL, h, &out), 401);
	ck_assert_msg(strstr(out, "AKV10022: Invalid audience. Expected "
		"https://vault.azure.net, found: https://management.azure.com"),
		"%s", out);
	free(out);
	tu_emulator_stop(pid, port);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("tls");
	TCase *tc = tcase_create("tls");
	SRunner *sr;
	int failed;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	srand((unsigned) getpid());
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, tls_good_certificate);
	tcase_add_test(tc, tls_refusals);
	tcase_add_test(tc, tls_unsafe_key);
	tcase_add_test(tc, tls_ca_bundle_checked);
	tcase_add_test(tc, cloud_endpoints);
	tcase_add_test(tc, cloud_vault_urls);
	tcase_add_test(tc, token_audience_refused);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/*
 * url-test.c - the core's hand-written URL parser (url.h) against libcurl's
 * URL API, the parser the azure library sends requests with: the same URLs,
 * good and hostile, to both; wherever ours accepts, libcurl must accept too
 * and name the same host and port.  Also the one loopback rule.
 */
#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "testutil.h"
#include "url.h"

static const struct {
	const char *url;
	int ok;			/* whether azml_url_split accepts it */
} urls[] = {
	{ "https://management.azure.com", 1 },
	{ "https://management.azure.com/", 1 },
	{ "https://Management.Azure.COM/subscriptions?api-version=1", 1 },
	{ "HTTPS://login.microsoftonline.com/tenant/oauth2/v2.0/token", 1 },
	{ "http://127.0.0.1:18444/arm", 1 },
	{ "http://localhost:8/", 1 },
	{ "http://169.254.169.254/metadata/instance", 1 },
	{ "https://kv-1.vault.azure.net/secrets/munge", 1 },
	{ "https://host:443/x", 1 },
	{ "https://host:1/x", 1 },
	{ "https://host:65535/x", 1 },
	{ "https://host:080/x", 1 },
	{ "http://[::1]:8/x?a=b", 1 },
	{ "http://[fd00::4]/", 1 },
	{ "http://[0:0:0:0:0:0:0:1]:9/", 1 },
	{ "http://127.0.0.1.evil.com/", 1 },
	{ "http://a-b.c-d.e/p%20q", 1 },
	{ "https://x.y/?q=%41", 1 },
	{ "https://prices.azure.com?x=1", 1 },
	/* refused by ours (libcurl may take some) */
	{ "", 0 },
	{ "ftp://host/", 0 },
	{ "file:///etc/passwd", 0 },
	{ "//host/x", 0 },
	{ "host/x", 0 },
	{ "https://", 0 },
	{ "https:///x", 0 },
	{ "https://user@host/", 0 },
	{ "https://user:pw@host/", 0 },
	{ "http://localhost:1@192.0.2.2:18444/op", 0 },
	{ "http://127.0.0.1\\@192.0.2.2/", 0 },
	{ "https://host/#frag", 0 },
	{ "https://host#frag", 0 },
	{ "https://host:0/", 0 },
	{ "https://host:65536/", 0 },
	{ "https://host:99999/", 0 },
	{ "http://127.0.0.1:8555555555/", 0 },
	{ "https://[::1]:99999999999999999999/", 0 },
	{ "https://host:/", 0 },
	{ "https://host:-1/", 0 },
	{ "https://host:+80/", 0 },
	{ "https://host:8a/", 0 },
	{ "http://[fe80::1%25eth0]/", 0 },
	{ "http://[::1/", 0 },
	{ "http://[::1]x/", 0 },
	{ "http://[127.0.0.1]/", 0 },
	{ "http://::1/", 0 },
	{ "http://%6cocalhost/", 0 },
	{ "http://127.1/", 0 },
	{ "http://0x7f.1/", 0 },
	{ "http://2130706433/", 0 },
	{ "http://127.000.000.001/", 0 },
	{ "http://1.2.3.4.5/", 0 },
	{ "http://-host/", 0 },
	{ "http://host-/", 0 },
	{ "http://a..b/", 0 },
	{ "http://host./", 0 },
	{ "http://ho_st/", 0 },
	{ "http://ho st/", 0 },
	{ "http://host/a b", 0 },
	{ "http://host/\x01", 0 },
	{ "http://h\xc3\xa9st/", 0 },
};

/* Whether hosts A (ours) and B (libcurl's) are the same: names without
 * case, IPv6 addresses by value (libcurl may rewrite them). */
static int _same_host(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	char s[64], t[64];
	size_t la = strlen(a), lb = strlen(b);

	if (a[0] == '[' && b[0] == '[' && la < sizeof(s) && lb < sizeof(t)) {
		memcpy(s, a + 1, la - 2);
		s[la - 2] = '\0';
		memcpy(t, b + 1, lb - 2);
		t[lb - 2] = '\0';
		return inet_pton(AF_INET6, s, x) == 1 &&
		       inet_pton(AF_INET6, t, y) == 1 && !memcmp(x, y, 16);
	}
	return !strcasecmp(a, b);
}

START_TEST(agrees_with_libcurl)
{
	azml_url_t u;
	char err[256];
	const char *url = urls[_i].url;
	int rc = azml_url_split(url, &u, err, sizeof(err));
	CURLU *h;
	char *host = NULL, *port = NULL;

	ck_assert_msg((rc == 0) == urls[_i].ok, "%s: ours %s (%s)", url,
		      rc ? "refused" : "accepted", rc ? err : "");
	if (rc) {
		ck_assert_msg(err[0], "%s: refused without a reason", url);
		return;
	}
	h = curl_url();
	ck_assert_ptr_nonnull(h);
	ck_assert_msg(curl_url_set(h, CURLUPART_URL, url, 0) == CURLUE_OK,
		      "%s: ours accepts, libcurl refuses", url);
	ck_assert(curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK);
	ck_assert(curl_url_get(h, CURLUPART_PORT, &port,
			       CURLU_DEFAULT_PORT) == CURLUE_OK);
	ck_assert_msg(_same_host(u.host, host), "%s: host '%s', libcurl '%s'",
		      url, u.host, host);
	ck_assert_msg(u.port == atoi(port), "%s: port %d, libcurl %s", url,
		      u.port, port);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(h);
}
END_TEST

START_TEST(parts)
{
	azml_url_t u;
	char err[256];

	ck_assert_int_eq(azml_url_split("HTTPS://Kv.vault.azure.net/secrets/m",
					&u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.scheme, "https");
	ck_assert_str_eq(u.host, "Kv.vault.azure.net");
	ck_assert_int_eq(u.port, 443);
	ck_assert(!u.port_given);
	ck_assert_str_eq(u.path, "/secrets/m");
	ck_assert_int_eq(azml_url_split("http://[::1]:8?x", &u, err,
					sizeof(err)), 0);
	ck_assert_str_eq(u.host, "[::1]");
	ck_assert_int_eq(u.port, 8);
	ck_assert(u.port_given);
	ck_assert_str_eq(u.path, "?x");
	ck_assert_int_eq(azml_url_split("http://h", &u, err, sizeof(err)), 0);
	ck_assert_str_eq(u.path, "");
	ck_assert_int_eq(u.port, 80);
	ck_assert_int_eq(azml_url_split("https://u:secret@h/", &u, err,
					sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "userinfo"));
	ck_assert_ptr_null(strstr(err, "secret"));
}
END_TEST

START_TEST(hostport)
{
	char host[64], err[128];
	int port = -1;

	ck_assert_int_eq(azml_hostport_split("ctl", 3, host, sizeof(host),
					     &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "ctl");
	ck_assert_int_eq(port, 0);
	ck_assert_int_eq(azml_hostport_split("[fd00::4]:6817", 14, host,
					     sizeof(host), &port, err,
					     sizeof(err)), 0);
	ck_assert_str_eq(host, "[fd00::4]");
	ck_assert_int_eq(port, 6817);
	ck_assert_int_eq(azml_hostport_split("ctl:0", 5, host, sizeof(host),
					     &port, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "port '0'"));
	ck_assert_int_eq(azml_hostport_split("ctl:6817", 3, host, sizeof(host),
					     &port, err, sizeof(err)), 0);
	ck_assert_str_eq(host, "ctl");	/* LEN bytes only */
}
END_TEST

START_TEST(loopback)
{
	ck_assert(azml_host_is_loopback("localhost"));
	ck_assert(azml_host_is_loopback("LocalHost"));
	ck_assert(azml_host_is_loopback("127.0.0.1"));
	ck_assert(azml_host_is_loopback("127.9.8.7"));
	ck_assert(azml_host_is_loopback("[::1]"));
	ck_assert(azml_host_is_loopback("::1"));
	ck_assert(azml_host_is_loopback("[0:0:0:0:0:0:0:1]"));
	ck_assert(!azml_host_is_loopback("127.0.0.1.evil.com"));
	ck_assert(!azml_host_is_loopback("127.1"));
	ck_assert(!azml_host_is_loopback("128.0.0.1"));
	ck_assert(!azml_host_is_loopback("169.254.169.254"));
	ck_assert(!azml_host_is_loopback("localhost.evil.com"));
	ck_assert(!azml_host_is_loopback("[::2]"));
	ck_assert(!azml_host_is_loopback("[::1"));
	ck_assert(!azml_host_is_loopback(""));
	ck_assert(!azml_host_is_loopback(NULL));
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("url");

	curl_global_init(CURL_GLOBAL_DEFAULT);
	tcase_add_loop_test(tc, agrees_with_libcurl, 0,
			    sizeof(urls) / sizeof(urls[0]));
	tcase_add_test(tc, parts);
	tcase_add_test(tc, hostport);
	tcase_add_test(tc, loopback);
	return tu_run("url", tc);
}

/*
 * prices-test.c - what a VM costs: the Retail Prices API's pages (the
 * meter chosen for a Linux VM, a Spot VM and the OS disk; NextPageLink's
 * host never followed), Prices=FILE with its errors, StateDir's text, and
 * the fetch against azure-emulator over HTTP (paging, a failing API), and
 * when StateDir's retail prices are read again (retail.h).
 */
#include "config.h"

#include <check.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <curl/curl.h>

#include "prices.h"
#include "retail.h"
#include "state.h"
#include "testutil.h"

/* An item as the API writes them. */
#define ITEM(arm, sku, product, price, unit, service, meter)		\
	"{\"currencyCode\":\"USD\",\"tierMinimumUnits\":0.0,"		\
	"\"retailPrice\":" price ",\"unitPrice\":" price ","		\
	"\"armRegionName\":\"eastus\",\"location\":\"US East\","	\
	"\"effectiveStartDate\":\"2024-04-01T00:00:00Z\","		\
	"\"meterId\":\"0a1b\",\"meterName\":\"" meter "\","		\
	"\"productId\":\"DZH318Z0BQ4L\",\"skuId\":\"DZH318Z0BQ4L/00TG\","	\
	"\"productName\":\"" product "\",\"skuName\":\"" sku "\","	\
	"\"serviceName\":\"" service "\",\"serviceId\":\"DZH313Z7MMC8\","	\
	"\"serviceFamily\":\"Compute\",\"unitOfMeasure\":\"" unit "\","	\
	"\"type\":\"Consumption\",\"isPrimaryMeterRegion\":true,"	\
	"\"armSkuName\":\"" arm "\"}"

START_TEST(page_meters)
{
	const char *page = "{\"BillingCurrency\":\"USD\",\"CustomerEntityId\":"
		"\"Default\",\"CustomerEntityType\":\"Retail\",\"Items\":["
		ITEM("Standard_D4s_v3", "D4s v3", "Virtual Machines DSv3 Series",
		     "0.192", "1 Hour", "Virtual Machines", "D4s v3") ","
		ITEM("Standard_D4s_v3", "D4s v3 Spot", "Virtual Machines DSv3 Series",
		     "0.023", "1 Hour", "Virtual Machines", "D4s v3 Spot") ","
		ITEM("Standard_D4s_v3", "D4s v3 Low Priority",
		     "Virtual Machines DSv3 Series", "0.0384", "1 Hour",
		     "Virtual Machines", "D4s v3 Low Priority") ","
		ITEM("Standard_D4s_v3", "D4s v3", "Virtual Machines DSv3 Series "
		     "Windows", "0.376", "1 Hour", "Virtual Machines", "D4s v3") ","
		ITEM("", "P4 LRS", "Premium SSD Managed Disks", "5.28", "1/Month",
		     "Storage", "P4 LRS Disk") ","
		ITEM("", "P4 LRS", "Premium SSD Managed Disks", "1.0", "1/Month",
		     "Storage", "P4 LRS Disk Mount")
		"],\"NextPageLink\":\"https://elsewhere.example:443/api/retail/"
		"prices?$filter=x&$skip=1000\",\"Count\":6}";
	azml_prices_t ps = { 0 };
	char err[256];
	long skip;

	ck_assert_int_eq(azml_prices_parse_page(page, &ps, &skip, err,
						sizeof(err)), 0);
	/* Linux dedicated, Spot, the disk: the Windows and Low Priority hours
	 * and the disk's mount meter are not ours */
	ck_assert_uint_eq(ps.n, 3);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", false) - 0.192) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", true) - 0.023) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "disk", false) - 5.28 / 730) < 1e-12);
	ck_assert(azml_prices_hourly(&ps, "Standard_D2s_v3", false) < 0);
	ck_assert_str_eq(ps.p[0].since, "2024-04-01");
	ck_assert_str_eq(ps.p[0].currency, "USD");
	/* the next page: its number only, whatever host the link names */
	ck_assert_int_eq(skip, 1000);
	azml_prices_free(&ps);
	/* the last page */
	ck_assert_int_eq(azml_prices_parse_page("{\"Items\":[],\"NextPageLink\":"
		"null,\"Count\":0}", &ps, &skip, err, sizeof(err)), 0);
	ck_assert_int_eq(skip, -1);
	/* what is not a page */
	{
		const char *bad[] = {
			"", "<html>Service Unavailable</html>", "[]", "{}",
			"{\"Items\":{}}",
			"{\"Items\":[],\"NextPageLink\":\"https://prices.azure.com/"
			"api/retail/prices\"}",
			"{\"Items\":[],\"NextPageLink\":\"x?$skip=-5\"}",
			"{\"Items\":[],\"NextPageLink\":\"x?$skip=5x\"}",
			"{\"Items\":[],\"NextPageLink\":7}",
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
			ck_assert_msg(azml_prices_parse_page(bad[i], &ps, &skip,
					err, sizeof(err)) == -1, "taken: %s", bad[i]);
		ck_assert_str_eq(err, "NextPageLink is neither a link nor null");
	}
	/* items with bad figures are skipped, not taken */
	ck_assert_int_eq(azml_prices_parse_page("{\"Items\":["
		ITEM("Standard_D2s_v3", "D2s v3", "Virtual Machines", "-1",
		     "1 Hour", "Virtual Machines", "D2s v3") ","
		ITEM("../etc", "D2s v3", "Virtual Machines", "1", "1 Hour",
		     "Virtual Machines", "D2s v3") ","
		ITEM("Standard_D2s_v3", "D2s v3", "Virtual Machines", "\"1\"",
		     "1 Hour", "Virtual Machines", "D2s v3") ","
		ITEM("Standard_D2s_v3", "D2s v3", "Virtual Machines", "1",
		     "100 Hours", "Virtual Machines", "D2s v3")
		"],\"NextPageLink\":null}", &ps, &skip, err, sizeof(err)), 0);
	ck_assert_uint_eq(ps.n, 0);
	azml_prices_free(&ps);
}
END_TEST

START_TEST(negotiated_file)
{
	azml_prices_t ps = { 0 };
	char err[256];

	ck_assert_int_eq(azml_prices_parse_file(
		"# our agreement, 2026\n"
		"Standard_D4s_v3 dedicated 0.150\n"
		"Standard_D4s_v3 spot 0.020 USD   # a comment\n"
		"\n"
		"disk 3.65\n", "/etc/slurm/prices", &ps, err, sizeof(err)), 0);
	ck_assert_uint_eq(ps.n, 3);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", false) - 0.15) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", true) - 0.02) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "disk", true) - 3.65 / 730) < 1e-12);
	ck_assert_str_eq(ps.source, "/etc/slurm/prices");
	azml_prices_free(&ps);
	{
		static const struct { const char *text, *msg; } bad[] = {
			{ "Standard_D4s_v3 dedicated\n",
			  "/p:1: expected 'SIZE dedicated|spot PRICE_PER_HOUR "
			  "[CURRENCY]' or 'disk PRICE_PER_MONTH'" },
			{ "\nStandard_D4s_v3 cheap 0.1\n",
			  "/p:2: 'cheap': expected dedicated or spot" },
			{ "Standard_D4s_v3 spot abc\n", "/p:1: 'abc' is not a price" },
			{ "Standard_D4s_v3 spot -1\n", "/p:1: '-1' is not a price" },
			{ "Standard_D4s_v3 spot nan\n", "/p:1: 'nan' is not a price" },
			{ "Standard_D4s_v3 spot 1 dollars\n", "/p:1: 'dollars' is "
			  "not a currency code (three capitals, like USD)" },
			{ "Standard/D4s spot 1\n", "/p:1: 'Standard/D4s' is not a "
			  "VM size" },
			{ "disk\n", "/p:1: expected 'disk PRICE_PER_MONTH [CURRENCY]'" },
			{ "# nothing\n", "/p: no prices in it" },
		};

		for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
			memset(&ps, 0, sizeof(ps));
			ck_assert_int_eq(azml_prices_parse_file(bad[i].text, "/p",
						&ps, err, sizeof(err)), -1);
			ck_assert_str_eq(err, bad[i].msg);
			azml_prices_free(&ps);
		}
	}
}
END_TEST

START_TEST(state_text)
{
	azml_prices_t ps = { 0 }, back;
	char err[256], *text;

	ck_assert_int_eq(azml_prices_parse_file("Standard_D2s_v3 dedicated "
		"0.096\nStandard_D2s_v3 spot 0.0115\ndisk 5.28\n", "/p", &ps,
		err, sizeof(err)), 0);
	ps.fetched = 1796024296;
	snprintf(ps.source, sizeof(ps.source), "retail");
	text = azml_prices_to_text(&ps);
	ck_assert_int_eq(azml_prices_from_text(text, &back), 0);
	ck_assert_int_eq(back.fetched, 1796024296);
	ck_assert_uint_eq(back.n, 3);
	ck_assert(fabs(azml_prices_hourly(&back, "Standard_D2s_v3", true) - 0.0115) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&back, "disk", false) - 5.28 / 730) < 1e-9);
	azml_prices_free(&back);
	free(text);
	azml_prices_free(&ps);
	ck_assert_int_eq(azml_prices_from_text("fetched 0 retail\n", &back), -1);
	ck_assert_int_eq(azml_prices_from_text("fetched 5 retail\nx y z\n", &back), -1);
	ck_assert_int_eq(azml_prices_from_text("garbage", &back), -1);
}
END_TEST

START_TEST(fetch_from_the_emulator)
{
	int port;
	pid_t emu = tu_emulator_start(&port, NULL);
	azml_conf_t *c = tu_conf("prices.conf",
		"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000001\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"PricesEndpoint=http://127.0.0.1:%d\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4\n"
		"ComputeCluster=spot VmSize=Standard_D2s_v3 MaxNodes=4 "
		"Priority=LowPriority\n"
		"ComputeCluster=cpu2 VmSize=Standard_D4s_v3 MaxNodes=4\n"
		"ComputeCluster=odd VmSize=Standard_F72s_v2 MaxNodes=1\n"
		"ComputeCluster=mix VmSize=Standard_D2s_v3,Standard_F2s_v2 "
		"MaxNodes=2\n", port);
	azml_prices_t ps;
	char err[256];

	curl_global_init(CURL_GLOBAL_DEFAULT);
	/* pages of 2: each size's 4 meters take 2 pages, followed by $skip
	 * (the link names prices.azure.com; it is never asked) */
	ck_assert_int_eq(tu_http("POST", port, "/emulator/faults",
				 "{\"page_size\":2}", NULL, NULL), 200);
	ck_assert_msg(azml_prices_fetch(c, &ps, err, sizeof(err)) == 0, "%s", err);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", false) - 0.192) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D4s_v3", true) - 0.023) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D2s_v3", true) - 0.0115) < 1e-9);
	/* every size of a mix, not only its first */
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_F2s_v2", false) - 0.0846) < 1e-9);
	ck_assert(fabs(azml_prices_hourly(&ps, "disk", false) - 5.28 / 730) < 1e-9);
	/* a size the API has no meter for: none, and it is said by the caller */
	ck_assert(azml_prices_hourly(&ps, "Standard_F72s_v2", false) < 0);
	ck_assert_str_eq(ps.source, "retail");
	ck_assert_int_gt(ps.fetched, 0);
	azml_prices_free(&ps);
	/* the API refusing: an error that says so, and nothing half-filled
	 * (a 5xx is retried for 15 s first) */
	ck_assert_int_eq(tu_http("POST", port, "/emulator/faults",
				 "{\"prices_status\":404}", NULL, NULL), 200);
	ck_assert_int_eq(azml_prices_fetch(c, &ps, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "answered HTTP 404"), "%s", err);
	ck_assert_uint_eq(ps.n, 0);
	azml_conf_destroy(c);
	tu_emulator_stop(emu, port);
}
END_TEST

/* Keep in C's StateDir retail prices read AGE seconds before NOW: D2s_v3
 * at 1.0 an hour, and F2s_v2 at 2.0 when WHOLE (made-up figures, so that
 * what was kept is told from what the API says). */
static void _keep(const azml_conf_t *c, long now, long age, bool whole)
{
	azml_price_t p[2] = { { .size = "Standard_D2s_v3", .hourly = 1.0,
				.currency = "USD" },
			      { .size = "Standard_F2s_v2", .hourly = 2.0,
				.currency = "USD" } };
	azml_prices_t ps = { .p = p, .n = whole ? 2 : 1, .fetched = now - age,
			     .source = "retail" };
	char *text = azml_prices_to_text(&ps);

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(azml_state_prices_save(c, text), 0);
	free(text);
}

static double _kept_d2s(const azml_conf_t *c)
{
	char *text = azml_state_prices_load(c);
	azml_prices_t ps;
	double h;

	ck_assert_ptr_nonnull(text);
	ck_assert_int_eq(azml_prices_from_text(text, &ps), 0);
	free(text);
	h = azml_prices_hourly(&ps, "Standard_D2s_v3", false);
	azml_prices_free(&ps);
	return h;
}

START_TEST(retail_kept_or_read)
{
	char dir[64] = "/tmp/azml-prices-test.XXXXXX", err[256], cmd[128];
	int port;
	pid_t emu = tu_emulator_start(&port, NULL);
	long now = (long) time(NULL);
	azml_conf_t *c;
	azml_prices_t ps;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	c = tu_conf("retail.conf",
		"ClusterName=t\nSubscriptionId=00000000-0000-0000-0000-000000000001\n"
		"ResourceGroup=rg\nLocation=eastus\nStateDir=%s\n"
		"PricesEndpoint=http://127.0.0.1:%d\n"
		"ComputeCluster=mix VmSize=Standard_D2s_v3,Standard_F2s_v2 "
		"MaxNodes=2\n", dir, port);
	ck_assert_int_eq(azml_state_init(c, err, sizeof(err)), 0);
	curl_global_init(CURL_GLOBAL_DEFAULT);

	/* young and whole: kept, the API not asked */
	_keep(c, now, 7200, true);
	ck_assert_int_eq(azml_retail_prices(c, now, false, &ps, err, sizeof(err)),
			 AZML_RETAIL_KEPT);
	ck_assert(azml_prices_hourly(&ps, "Standard_D2s_v3", false) == 1.0);
	azml_prices_free(&ps);
	/* a size of the file missing: kept within the hour, then read */
	_keep(c, now, 100, false);
	ck_assert_int_eq(azml_retail_prices(c, now, false, &ps, err, sizeof(err)),
			 AZML_RETAIL_KEPT);
	azml_prices_free(&ps);
	_keep(c, now, 7200, false);
	ck_assert_int_eq(azml_retail_prices(c, now, false, &ps, err, sizeof(err)),
			 AZML_RETAIL_READ);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_F2s_v2", false) - 0.0846) < 1e-9);
	azml_prices_free(&ps);
	ck_assert(fabs(_kept_d2s(c) - 0.096) < 1e-9);	/* and kept */
	/* a day old: read; a dry run keeps nothing */
	_keep(c, now, AZML_RETAIL_REFRESH + 1, true);
	ck_assert_int_eq(azml_retail_prices(c, now, true, &ps, err, sizeof(err)),
			 AZML_RETAIL_READ);
	ck_assert(fabs(azml_prices_hourly(&ps, "Standard_D2s_v3", false) - 0.096) < 1e-9);
	azml_prices_free(&ps);
	ck_assert(_kept_d2s(c) == 1.0);
	/* the API refusing: what was kept, and why */
	ck_assert_int_eq(tu_http("POST", port, "/emulator/faults",
				 "{\"prices_status\":404}", NULL, NULL), 200);
	ck_assert_int_eq(azml_retail_prices(c, now, false, &ps, err, sizeof(err)),
			 AZML_RETAIL_OLD);
	ck_assert(azml_prices_hourly(&ps, "Standard_D2s_v3", false) == 1.0);
	ck_assert_msg(strstr(err, "answered HTTP 404"), "%s", err);
	azml_prices_free(&ps);
	/* nothing kept either: none */
	snprintf(cmd, sizeof(cmd), "rm -f %s/prices/retail", dir);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(azml_retail_prices(c, now, false, &ps, err, sizeof(err)),
			 AZML_RETAIL_NONE);
	ck_assert_uint_eq(ps.n, 0);

	azml_conf_destroy(c);
	tu_emulator_stop(emu, port);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("prices");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, page_meters);
	tcase_add_test(tc, negotiated_file);
	tcase_add_test(tc, state_text);
	tcase_add_test(tc, fetch_from_the_emulator);
	tcase_add_test(tc, retail_kept_or_read);
	return tu_run("prices", tc);
}

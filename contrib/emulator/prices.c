/*
 * prices.c - the Azure emulator's Retail Prices API.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

/* ---- the Retail Prices API (prices.azure.com/api/retail/prices) ---- */

/*
 * A few meters of the kind the API lists for eastus (USD): each size's
 * Linux, Spot, Low Priority and Windows hours, and the P4 OS disk's month.
 * For tests and the demo, not a price list: a real cluster reads the API.
 */
static const struct {
	const char *arm;	/* armSkuName; NULL: the disk */
	const char *sku;	/* skuName without " Spot" / " Low Priority" */
	const char *product;	/* productName, Linux */
	double linux_hour, spot_hour, low_hour, windows_hour;
} retail[] = {
	{ "Standard_D2s_v3", "D2s v3", "Virtual Machines DSv3 Series",
	  0.096, 0.0115, 0.0192, 0.188 },
	{ "Standard_D4s_v3", "D4s v3", "Virtual Machines DSv3 Series",
	  0.192, 0.023, 0.0384, 0.376 },
	{ "Standard_D8s_v3", "D8s v3", "Virtual Machines DSv3 Series",
	  0.384, 0.046, 0.0768, 0.752 },
	{ "Standard_F2s_v2", "F2s v2", "Virtual Machines FSv2 Series",
	  0.0846, 0.0102, 0.0169, 0.1766 },
	{ "Standard_DS3_v2", "DS3 v2", "Virtual Machines DSv2 Series",
	  0.229, 0.0275, 0.0458, 0.385 },
	{ "Standard_NC6s_v3", "NC6s v3", "Virtual Machines NCSv3 Series",
	  3.06, 0.3672, 0.612, 3.24 },
	{ "Standard_NC24ads_A100_v4", "NC24ads A100 v4",
	  "Virtual Machines NCads A100 v4 Series", 3.673, 0.4408, 0.7346, 4.041 },
	{ "Standard_HB120rs_v3", "HB120rs v3", "Virtual Machines HBrsv3 Series",
	  3.6, 0.432, 0.72, 3.96 },
	{ NULL, "P4 LRS", "Premium SSD Managed Disks", 5.28, 0, 0, 0 },
};

double emu_price_hour(const char *size, bool spot)
{
	for (size_t i = 0; i < sizeof(retail) / sizeof(*retail); i++)
		if (retail[i].arm && !strcasecmp(retail[i].arm, size))
			return spot ? retail[i].spot_hour : retail[i].linux_hour;
	return -1;
}

static bool _retail_match(const cJSON *item, char (*field)[64],
			  char (*value)[128], int nclauses)
{
	for (int i = 0; i < nclauses; i++) {
		/* the filter's priceType is the item's "type" */
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(item,
			!strcmp(field[i], "priceType") ? "type" : field[i]));

		/* values are case-sensitive since 2023-01-01-preview */
		if (!v || strcmp(v, value[i]))
			return false;
	}
	return true;
}

static cJSON *_retail_item(const char *region, const char *arm,
			   const char *sku, const char *product, double price,
			   const char *unit, const char *service,
			   const char *meter)
{
	cJSON *o = cJSON_CreateObject();
	char id[40];

	cJSON_AddStringToObject(o, "currencyCode", "USD");
	cJSON_AddNumberToObject(o, "tierMinimumUnits", 0);
	cJSON_AddNumberToObject(o, "retailPrice", price);
	cJSON_AddNumberToObject(o, "unitPrice", price);
	cJSON_AddStringToObject(o, "armRegionName", region);
	cJSON_AddStringToObject(o, "location", "US East");
	cJSON_AddStringToObject(o, "effectiveStartDate", "2024-04-01T00:00:00Z");
	emu_uuid(id);
	cJSON_AddStringToObject(o, "meterId", id);
	cJSON_AddStringToObject(o, "meterName", meter);
	cJSON_AddStringToObject(o, "productId", "DZH318Z0BQ4L");
	cJSON_AddStringToObject(o, "skuId", "DZH318Z0BQ4L/00TG");
	cJSON_AddStringToObject(o, "productName", product);
	cJSON_AddStringToObject(o, "skuName", sku);
	cJSON_AddStringToObject(o, "serviceName", service);
	cJSON_AddStringToObject(o, "serviceId", "DZH313Z7MMC8");
	cJSON_AddStringToObject(o, "serviceFamily", arm ? "Compute" : "Storage");
	cJSON_AddStringToObject(o, "unitOfMeasure", unit);
	cJSON_AddStringToObject(o, "type", "Consumption");
	cJSON_AddBoolToObject(o, "isPrimaryMeterRegion", true);
	cJSON_AddStringToObject(o, "armSkuName", arm ? arm : "");
	return o;
}

/* GET /api/retail/prices?$filter=F eq 'V' and ...&$skip=N: no sign-in,
 * pages with NextPageLink pointing at prices.azure.com, as the real one. */
void emu_retail_prices(struct MHD_Connection *c, const char *method,
			   reply_t *r)
{
	const char *filter = emu_arg(c, "$filter"), *skip_s = emu_arg(c, "$skip");
	char field[8][64], value[8][128];
	int nclauses = 0, page = emu_faults.page_size > 0 ? emu_faults.page_size : 1000;
	long skip = 0, count = 0, at = 0;
	cJSON *o, *items, *all;

	if (strcmp(method, "GET")) {
		emu_error(r, 405, "MethodNotAllowed", "only GET");
		return;
	}
	if (emu_faults.prices_status && emu_faults.prices_status != 200) {
		emu_error(r, emu_faults.prices_status, "ServiceUnavailable",
		       "the Retail Prices API is unavailable (a fault)");
		return;
	}
	if (skip_s) {
		char *end;

		skip = strtol(skip_s, &end, 10);
		if (*end || skip < 0 || skip > 10000000) {
			emu_error(r, 400, "BadRequest", "$skip must be a number");
			return;
		}
	}
	/* F eq 'V' [and F eq 'V']... */
	for (const char *p = filter; p && *p; ) {
		int used = 0;

		if (nclauses == 8 ||
		    sscanf(p, " %63[A-Za-z] eq '%127[^']'%n", field[nclauses],
			   value[nclauses], &used) != 2 || !used) {
			emu_error(r, 400, "BadRequest", "Invalid OData $filter: "
			       "expected FIELD eq 'VALUE' joined by 'and'");
			return;
		}
		nclauses++;
		p += used;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (strncmp(p, "and ", 4)) {
			emu_error(r, 400, "BadRequest", "Invalid OData $filter: "
			       "expected 'and' between clauses");
			return;
		}
		p += 4;
	}
	all = cJSON_CreateArray();
	for (size_t i = 0; i < sizeof(retail) / sizeof(*retail); i++) {
		const char *region = "eastus";
		char sku[96], meter[96], prod[160];

		if (!retail[i].arm) {
			snprintf(meter, sizeof(meter), "%s Disk", retail[i].sku);
			cJSON_AddItemToArray(all, _retail_item(region, NULL,
				retail[i].sku, retail[i].product,
				retail[i].linux_hour, "1/Month", "Storage", meter));
			continue;
		}
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm,
			retail[i].sku, retail[i].product, retail[i].linux_hour,
			"1 Hour", "Virtual Machines", retail[i].sku));
		snprintf(sku, sizeof(sku), "%s Spot", retail[i].sku);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm, sku,
			retail[i].product, retail[i].spot_hour, "1 Hour",
			"Virtual Machines", sku));
		snprintf(sku, sizeof(sku), "%s Low Priority", retail[i].sku);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm, sku,
			retail[i].product, retail[i].low_hour, "1 Hour",
			"Virtual Machines", sku));
		snprintf(prod, sizeof(prod), "%s Windows", retail[i].product);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm,
			retail[i].sku, prod, retail[i].windows_hour, "1 Hour",
			"Virtual Machines", retail[i].sku));
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "BillingCurrency", "USD");
	cJSON_AddStringToObject(o, "CustomerEntityId", "Default");
	cJSON_AddStringToObject(o, "CustomerEntityType", "Retail");
	items = cJSON_AddArrayToObject(o, "Items");
	{
		cJSON *it;

		cJSON_ArrayForEach(it, all) {
			if (!_retail_match(it, field, value, nclauses))
				continue;
			if (at++ < skip || count >= page)
				continue;
			cJSON_AddItemReferenceToArray(items, it);
			count++;
		}
	}
	if (skip + count < at) {
		char *next = NULL;

		if (asprintf(&next, "https://prices.azure.com:443/api/retail/"
			     "prices?$filter=%s&$skip=%ld", filter ? filter : "",
			     skip + count) > 0) {
			cJSON_AddStringToObject(o, "NextPageLink", next);
			free(next);
		}
	} else {
		cJSON_AddNullToObject(o, "NextPageLink");
	}
	cJSON_AddNumberToObject(o, "Count", count);
	{
		char *text = cJSON_PrintUnformatted(o);

		cJSON_Delete(o);	/* the references first, */
		cJSON_Delete(all);	/* then what they point at */
		r->status = 200;
		r->body = text;
	}
}


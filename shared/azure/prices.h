/*
 * prices.h - what a VM and its disk cost, from the Azure Retail Prices API
 * (https://prices.azure.com/api/retail/prices, no sign-in) or from an
 * admin's file of negotiated prices (Prices=FILE).  This file owns the
 * parsing of the API's pages and of that file, the choice of the meter
 * that bills a VM, and the fetch; StateDir keeps the answer (state.h).
 *
 * A VM of SIZE in the Location is billed by the "Virtual Machines" meter
 * whose armSkuName is SIZE, priceType "Consumption", unit "1 Hour", Linux
 * (productName without "Windows"), and skuName ending in " Spot" for a
 * low-priority target (Azure ML's low priority is a Spot VM) or in neither
 * " Spot" nor " Low Priority" for a dedicated one.  Its OS disk (Premium
 * SSD, the image's 30 GiB: tier P4) is billed by the "P4 LRS" meter of
 * "Premium SSD Managed Disks", unit "1/Month", counted as 730 hours, as
 * Azure's calculator does.
 */
#ifndef AZML_PRICES_H
#define AZML_PRICES_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

#define AZML_PRICES_HOURS_A_MONTH 730.0
#define AZML_PRICES_DISK_SKU "P4 LRS"	/* a 30 GiB Premium SSD OS disk */
#define AZML_PRICES_PAGES_MAX 50	/* pages of one query followed */

/* One price: a VM size's hour (dedicated or spot), or the OS disk's. */
typedef struct {
	char size[64];		/* "Standard_D4s_v3"; "disk" for the OS disk */
	bool spot;
	double hourly;		/* per hour (the disk's monthly / 730) */
	char currency[8];	/* "USD" */
	char since[16];		/* the meter's effectiveStartDate, YYYY-MM-DD */
} azml_price_t;

typedef struct {
	azml_price_t *p;
	size_t n;
	long fetched;		/* when they were read (epoch s), 0: unknown */
	char source[300];	/* "retail" or the file's path */
} azml_prices_t;

/* A page of the API's answer: its items that can bill a VM or the OS disk
 * (the chosen meters only) appended to *OUT; *SKIP receives the $skip of
 * NextPageLink (-1: no next page).  Only the number is taken from
 * NextPageLink: the next URL is ours, never the answer's.  0, or -1 with
 * ERR when BODY is not such a page. */
int azml_prices_parse_page(const char *body, azml_prices_t *out, long *skip,
			   char *err, size_t n);

/* Prices=FILE: lines "SIZE dedicated|spot PRICE_PER_HOUR [CURRENCY]" and
 * "disk PRICE_PER_MONTH [CURRENCY]"; '#' begins a comment.  0, or -1 with
 * ERR naming FILE:LINE and what was wrong. */
int azml_prices_parse_file(const char *text, const char *file,
			   azml_prices_t *out, char *err, size_t n);

/* The hourly price of SIZE (disk: "disk"), or -1 when none is known. */
double azml_prices_hourly(const azml_prices_t *ps, const char *size, bool spot);

/* Read each size of CONF's targets (dedicated and spot) and the OS disk
 * from the API at ENDPOINT (PricesEndpoint=, default
 * https://prices.azure.com) for CONF's Location.  0 with *OUT filled, or
 * -1 with ERR (what failed, Azure's status). */
int azml_prices_fetch(const azml_conf_t *conf, azml_prices_t *out, char *err,
		      size_t n);

/* Text form for StateDir (first line "fetched EPOCH SOURCE"), and back. */
char *azml_prices_to_text(const azml_prices_t *ps);
int azml_prices_from_text(const char *text, azml_prices_t *out);

void azml_prices_free(azml_prices_t *ps);

#endif

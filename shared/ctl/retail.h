/*
 * retail.h - the Azure Retail Prices API's prices kept in StateDir
 * (StateDir/prices/retail), read again when a day old or when they lack a
 * size azureml.conf now names.  'slurm-azureml cost' and reconcile (for
 * AllocationStrategy=LowestPrice, whose resume program never fetches)
 * keep them; this file owns that rule, prices.c the API and the text.
 */
#ifndef AZML_RETAIL_H
#define AZML_RETAIL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"
#include "prices.h"

#define AZML_RETAIL_REFRESH 86400	/* older than this: read again */
#define AZML_RETAIL_MISSING 3600	/* a size missing: read again after */
#define AZML_RETAIL_STALE (7 * 86400)	/* older than this: said stale */

typedef enum {
	AZML_RETAIL_NONE = -1,	/* none kept, none read: ERR says why */
	AZML_RETAIL_KEPT,	/* StateDir's, young and whole enough */
	AZML_RETAIL_READ,	/* read from the API now (kept unless DRY) */
	AZML_RETAIL_OLD,	/* the API failed: StateDir's, ERR says why */
} azml_retail_t;

/* Whether the size SIZE of CONF (dedicated) is in PS. */
bool azml_retail_has(const azml_prices_t *ps, const char *size);

/* CONF's retail prices at NOW into *OUT (to be freed): StateDir's when
 * younger than a day and holding every size of CONF, or younger than an
 * hour (a size the API has no meter for is not asked again at once); else
 * the API's, kept in StateDir unless DRY; else StateDir's however old. */
azml_retail_t azml_retail_prices(const azml_conf_t *conf, long now, bool dry,
				 azml_prices_t *out, char *err, size_t n);

#endif

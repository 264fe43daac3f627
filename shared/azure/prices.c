/*
 * prices.c - the Retail Prices API's pages, Prices=FILE, and the fetch
 * (see prices.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "azerror.h"
#include "http.h"
#include "log.h"
#include "prices.h"

#define ENDPOINT_DEFAULT "https://prices.azure.com"
#define API_VERSION "2023-01-01-preview"

static const char *_str(const cJSON *o, const char *k)
{
	return cJSON_GetStringValue(cJSON_GetObjectItem(o, k));
}

static bool _ends_with(const char *s, const char *tail)
{
	size_t a = strlen(s), b = strlen(tail);

	return a >= b && !strcmp(s + a - b, tail);
}

static bool _size_ok(const char *s)
{
	size_t len = s ? strlen(s) : 0;

	return len && len < 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == len;
}

static bool _currency_ok(const char *s)
{
	return s && strlen(s) == 3 && isupper((unsigned char) s[0]) &&
	       isupper((unsigned char) s[1]) && isupper((unsigned char) s[2]);
}

static int _add(azml_prices_t *out, const azml_price_t *p)
{
	azml_price_t *m;

	/* the same meter twice (pages that overlap): the later wins */
	for (size_t i = 0; i < out->n; i++)
		if (!strcmp(out->p[i].size, p->size) && out->p[i].spot == p->spot) {
			out->p[i] = *p;
			return 0;
		}
	if (!(m = realloc(out->p, (out->n + 1) * sizeof(*m))))
		return -1;
	out->p = m;
	out->p[out->n++] = *p;
	return 0;
}

/* An item of a page: the meter of a Linux VM size (dedicated or Spot), or
 * the OS disk's; false for any other. */
static bool _item(const cJSON *it, azml_price_t *p)
{
	const char *service = _str(it, "serviceName"), *type = _str(it, "type");
	const char *sku = _str(it, "skuName"), *arm = _str(it, "armSkuName");
	const char *product = _str(it, "productName");
	const char *meter = _str(it, "meterName"), *unit = _str(it, "unitOfMeasure");
	const char *cur = _str(it, "currencyCode"), *since = _str(it, "effectiveStartDate");
	const cJSON *price = cJSON_GetObjectItem(it, "retailPrice");

	memset(p, 0, sizeof(*p));
	if (!service || !type || !sku || !product || !unit ||
	    !cJSON_IsNumber(price) || !isfinite(price->valuedouble) ||
	    price->valuedouble < 0 || price->valuedouble > 1e6 ||
	    !_currency_ok(cur) || strcmp(type, "Consumption"))
		return false;
	snprintf(p->currency, sizeof(p->currency), "%s", cur);
	if (since && strlen(since) >= 10 && since[4] == '-' && since[7] == '-' &&
	    strspn(since, "0123456789") == 4)
		snprintf(p->since, sizeof(p->since), "%.10s", since);
	if (!strcmp(service, "Virtual Machines")) {
		if (!_size_ok(arm) || strcmp(unit, "1 Hour") ||
		    strstr(product, "Windows") || _ends_with(sku, " Low Priority"))
			return false;
		snprintf(p->size, sizeof(p->size), "%s", arm);
		p->spot = _ends_with(sku, " Spot");
		p->hourly = price->valuedouble;
		return true;
	}
	if (!strcmp(service, "Storage") && !strcmp(sku, AZML_PRICES_DISK_SKU) &&
	    meter && !strcmp(meter, AZML_PRICES_DISK_SKU " Disk") &&
	    strstr(product, "Premium SSD Managed Disks") &&
	    !strcmp(unit, "1/Month")) {
		snprintf(p->size, sizeof(p->size), "disk");
		p->hourly = price->valuedouble / AZML_PRICES_HOURS_A_MONTH;
		return true;
	}
	return false;
}

int azml_prices_parse_page(const char *body, azml_prices_t *out, long *skip,
			   char *err, size_t n)
{
	cJSON *j = cJSON_Parse(body ? body : "");
	const cJSON *items = cJSON_GetObjectItem(j, "Items"), *it;
	const cJSON *next = cJSON_GetObjectItem(j, "NextPageLink");
	int rc = -1;

	*skip = -1;
	if (!cJSON_IsObject(j) || !cJSON_IsArray(items)) {
		azml_errf(err, n,
			  "the answer is not a page of retail prices (no "
			  "\"Items\" list)");
		goto out;
	}
	cJSON_ArrayForEach(it, items) {
		azml_price_t p;

		if (_item(it, &p) && _add(out, &p)) {
			azml_errf(err, n, "out of memory");
			goto out;
		}
	}
	if (cJSON_IsString(next) && next->valuestring[0]) {
		/* only "$skip=N" is taken; the URL is ours */
		const char *s = strstr(next->valuestring, "$skip=");
		char *end;
		long v;

		errno = 0;
		v = s ? strtol(s + 6, &end, 10) : -1;
		if (!s || errno || end == s + 6 || (*end && *end != '&') ||
		    v <= 0 || v > 10000000) {
			azml_errf(err, n, "NextPageLink has no usable $skip");
			goto out;
		}
		*skip = v;
	} else if (next && !cJSON_IsNull(next) && !cJSON_IsString(next)) {
		azml_errf(err, n, "NextPageLink is neither a link nor null");
		goto out;
	}
	rc = 0;
out:
	cJSON_Delete(j);
	return rc;
}

int azml_prices_parse_file(const char *text, const char *file,
			   azml_prices_t *out, char *err, size_t n)
{
	const char *line = text;
	int lineno = 0;

	for (; line && *line; ) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t) (nl - line) : strlen(line);
		char buf[512], w[4][128], extra[2];
		azml_price_t p = { 0 };
		int k;
		char *end, *hash;
		double v;

		lineno++;
		if (len >= sizeof(buf)) {
			azml_errf(err, n, "%s:%d: line too long", file, lineno);
			return -1;
		}
		memcpy(buf, line, len);
		buf[len] = '\0';
		line = nl ? nl + 1 : NULL;
		if ((hash = strchr(buf, '#')))
			*hash = '\0';
		k = sscanf(buf, "%127s %127s %127s %127s %1s", w[0], w[1], w[2],
			   w[3], extra);
		if (k <= 0)
			continue;
		if (!strcmp(w[0], "disk")) {
			if (k < 2 || k > 3) {
				azml_errf(
					err, n,
					"%s:%d: expected 'disk PRICE_PER_MONTH "
					"[CURRENCY]'",
					file, lineno);
				return -1;
			}
			snprintf(p.size, sizeof(p.size), "disk");
			errno = 0;
			v = strtod(w[1], &end);
			if (errno || *end || !isfinite(v) || v < 0 || v > 1e6) {
				azml_errf(err, n,
					  "%s:%d: '%.40s' is not a price", file,
					  lineno, w[1]);
				return -1;
			}
			p.hourly = v / AZML_PRICES_HOURS_A_MONTH;
			snprintf(p.currency, sizeof(p.currency), "%.7s",
				 k == 3 ? w[2] : "USD");
		} else {
			if (k < 3 || k > 4) {
				azml_errf(
					err, n,
					"%s:%d: expected 'SIZE dedicated|spot "
					"PRICE_PER_HOUR [CURRENCY]' or 'disk "
					"PRICE_PER_MONTH'",
					file, lineno);
				return -1;
			}
			if (!_size_ok(w[0])) {
				azml_errf(err, n,
					  "%s:%d: '%.64s' is not a VM size",
					  file, lineno, w[0]);
				return -1;
			}
			if (strcmp(w[1], "dedicated") && strcmp(w[1], "spot")) {
				azml_errf(
					err, n,
					"%s:%d: '%.40s': expected dedicated or "
					"spot",
					file, lineno, w[1]);
				return -1;
			}
			snprintf(p.size, sizeof(p.size), "%s", w[0]);
			p.spot = !strcmp(w[1], "spot");
			errno = 0;
			v = strtod(w[2], &end);
			if (errno || *end || !isfinite(v) || v < 0 || v > 1e6) {
				azml_errf(err, n,
					  "%s:%d: '%.40s' is not a price", file,
					  lineno, w[2]);
				return -1;
			}
			p.hourly = v;
			snprintf(p.currency, sizeof(p.currency), "%.7s",
				 k == 4 ? w[3] : "USD");
		}
		if (!_currency_ok(p.currency)) {
			azml_errf(
				err, n,
				"%s:%d: '%.40s' is not a currency code (three "
				"capitals, like USD)",
				file, lineno, p.currency);
			return -1;
		}
		if (_add(out, &p)) {
			azml_errf(err, n, "out of memory");
			return -1;
		}
	}
	if (!out->n) {
		azml_errf(err, n, "%s: no prices in it", file);
		return -1;
	}
	snprintf(out->source, sizeof(out->source), "%s", file);
	return 0;
}

double azml_prices_hourly(const azml_prices_t *ps, const char *size, bool spot)
{
	for (size_t i = 0; ps && i < ps->n; i++)
		if (!strcasecmp(ps->p[i].size, size) &&
		    (ps->p[i].spot == spot || !strcmp(size, "disk")))
			return ps->p[i].hourly;
	return -1;
}

/* ---- the fetch ---- */

typedef struct {
	azml_http_t *h;
	azml_prices_t *out;
	const char *endpoint;
	char *filter;		/* escaped $filter value */
	int pages;
	bool failed;
	char *err;
	size_t errlen;
} query_t;

static void _page(void *arg, const azml_http_resp_t *r);

static int _send(query_t *q, long skip)
{
	char url[2048];
	int len = snprintf(url, sizeof(url), "%s/api/retail/prices?api-version="
			   API_VERSION "&$filter=%s", q->endpoint, q->filter);

	if (skip > 0 && len > 0 && (size_t) len < sizeof(url))
		len += snprintf(url + len, sizeof(url) - len, "&$skip=%ld", skip);
	if (len < 0 || (size_t) len >= sizeof(url)) {
		azml_errf(q->err, q->errlen, "the prices URL is too long");
		return -1;
	}
	q->pages++;
	return azml_http_submit(q->h, "GET", url, NULL, NULL, 0, _page, q,
				q->err, q->errlen);
}

static void _page(void *arg, const azml_http_resp_t *r)
{
	query_t *q = arg;
	char e[300];
	long skip;

	if (r->status != 200) {
		q->failed = true;
		if (r->status && !azml_azure_error_format(r->body, e,
							  sizeof(e)))
			azml_errf(q->err, q->errlen, "%s answered HTTP %d: %s",
				  q->endpoint, r->status, e);
		else if (r->status)
			azml_errf(q->err, q->errlen, "%s answered HTTP %d",
				  q->endpoint, r->status);
		else
			azml_errf(q->err, q->errlen, "%s did not answer: %s",
				  q->endpoint, r->error);
		return;
	}
	if (azml_prices_parse_page(r->body, q->out, &skip, e, sizeof(e))) {
		q->failed = true;
		azml_errf(q->err, q->errlen, "%s: %s", q->endpoint, e);
		return;
	}
	if (skip < 0)
		return;
	if (q->pages >= AZML_PRICES_PAGES_MAX) {
		q->failed = true;
		azml_errf(q->err, q->errlen,
			  "%s: more than %d pages for one query", q->endpoint,
			  AZML_PRICES_PAGES_MAX);
		return;
	}
	if (_send(q, skip))
		q->failed = true;
}

static int _query(query_t *q, const char *filter)
{
	CURL *c = curl_easy_init();

	if (!c || !(q->filter = curl_easy_escape(c, filter, 0))) {
		if (c)
			curl_easy_cleanup(c);
		azml_errf(q->err, q->errlen, "out of memory");
		return -1;
	}
	curl_easy_cleanup(c);
	q->pages = 0;
	if (_send(q, 0))
		q->failed = true;
	azml_http_run(q->h);
	curl_free(q->filter);
	q->filter = NULL;
	return q->failed ? -1 : 0;
}

/* Whether the size mix[m] of target i came earlier, in it or before it. */
static bool _size_seen(const azml_conf_t *conf, size_t i, size_t m)
{
	const char *size = conf->targets[i].mix[m];

	for (size_t k = 0; k <= i; k++)
		for (size_t j = 0; j < (k < i ? conf->targets[k].nmix : m); j++)
			if (!strcmp(conf->targets[k].mix[j], size))
				return true;
	return false;
}

int azml_prices_fetch(const azml_conf_t *conf, azml_prices_t *out, char *err,
		      size_t n)
{
	azml_http_opts_t o = { .ca_bundle = conf->ca_bundle, .timeout = 30,
			       .retry_for = 15 };
	query_t q = { .out = out, .err = err, .errlen = n,
		      .endpoint = conf->prices_endpoint ? conf->prices_endpoint :
				  ENDPOINT_DEFAULT };
	char filter[512];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!(q.h = azml_http_create(&o))) {
		azml_errf(err, n, "out of memory");
		return -1;
	}
	/* every size of every target, each once: a mix is priced at the size
	 * each of its VMs got (cost), and LowestPrice orders by them */
	for (size_t i = 0; i < conf->ntargets && !rc; i++)
		for (size_t m = 0; m < conf->targets[i].nmix && !rc; m++) {
			const char *size = conf->targets[i].mix[m];

			if (_size_seen(conf, i, m))
				continue;
			snprintf(filter, sizeof(filter), "serviceName eq "
				 "'Virtual Machines' and armRegionName eq "
				 "'%s' and armSkuName eq '%s' and priceType "
				 "eq 'Consumption'", conf->location, size);
			rc = _query(&q, filter);
		}
	if (!rc) {
		snprintf(filter, sizeof(filter), "serviceName eq 'Storage' and "
			 "armRegionName eq '%s' and skuName eq '"
			 AZML_PRICES_DISK_SKU "' and priceType eq 'Consumption'",
			 conf->location);
		rc = _query(&q, filter);
	}
	azml_http_destroy(q.h);
	if (rc) {
		azml_prices_free(out);
		return -1;
	}
	out->fetched = (long) time(NULL);
	snprintf(out->source, sizeof(out->source), "retail");
	return 0;
}

/* ---- StateDir's text ---- */

char *azml_prices_to_text(const azml_prices_t *ps)
{
	size_t cap = 400 + ps->n * 160, len;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	len = (size_t) snprintf(t, cap, "fetched %ld %s\n", ps->fetched,
				ps->source[0] ? ps->source : "retail");
	for (size_t i = 0; i < ps->n && len < cap; i++)
		len += (size_t) snprintf(t + len, cap - len, "%s %s %.10f %s %s\n",
					 ps->p[i].size, ps->p[i].spot ? "spot" :
					 "dedicated", ps->p[i].hourly,
					 ps->p[i].currency, ps->p[i].since[0] ?
					 ps->p[i].since : "-");
	return t;
}

int azml_prices_from_text(const char *text, azml_prices_t *out)
{
	const char *line = text, *nl;
	char src[300];

	memset(out, 0, sizeof(*out));
	if (!text || sscanf(text, "fetched %ld %299s", &out->fetched, src) != 2 ||
	    out->fetched <= 0)
		return -1;
	snprintf(out->source, sizeof(out->source), "%s", src);
	while ((nl = strchr(line, '\n')) && *(line = nl + 1)) {
		azml_price_t p = { 0 };
		char size[64], prio[16], cur[8], since[16];

		if (sscanf(line, "%63s %15s %lf %7s %15s", size, prio, &p.hourly,
			   cur, since) != 5 || (strcmp(size, "disk") &&
						!_size_ok(size)) ||
		    (strcmp(prio, "spot") && strcmp(prio, "dedicated")) ||
		    !isfinite(p.hourly) || p.hourly < 0 || !_currency_ok(cur)) {
			azml_prices_free(out);
			return -1;
		}
		snprintf(p.size, sizeof(p.size), "%s", size);
		p.spot = !strcmp(prio, "spot");
		snprintf(p.currency, sizeof(p.currency), "%s", cur);
		if (strcmp(since, "-"))
			snprintf(p.since, sizeof(p.since), "%s", since);
		if (_add(out, &p)) {
			azml_prices_free(out);
			return -1;
		}
	}
	return 0;
}

void azml_prices_free(azml_prices_t *ps)
{
	free(ps->p);
	ps->p = NULL;
	ps->n = 0;
}

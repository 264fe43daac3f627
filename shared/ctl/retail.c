/*
 * retail.c - the retail prices StateDir keeps, and when they are read
 * again (retail.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "retail.h"
#include "state.h"

bool azml_retail_has(const azml_prices_t *ps, const char *size)
{
	for (size_t i = 0; i < ps->n; i++)
		if (!ps->p[i].spot && !strcmp(ps->p[i].size, size))
			return true;
	return false;
}

/* Whether PS prices every size of every target of CONF. */
static bool _whole(const azml_prices_t *ps, const azml_conf_t *conf)
{
	for (size_t i = 0; i < conf->ntargets; i++)
		for (size_t m = 0; m < conf->targets[i].nmix; m++)
			if (!azml_retail_has(ps, conf->targets[i].mix[m]))
				return false;
	return true;
}

azml_retail_t azml_retail_prices(const azml_conf_t *conf, long now, bool dry,
				 azml_prices_t *out, char *err, size_t n)
{
	char *text = azml_state_prices_load(conf);
	azml_prices_t kept = { 0 };
	bool have = text && !azml_prices_from_text(text, &kept);
	long age = now - kept.fetched;

	free(text);
	if (have && age < AZML_RETAIL_REFRESH &&
	    (age < AZML_RETAIL_MISSING || _whole(&kept, conf))) {
		*out = kept;
		return AZML_RETAIL_KEPT;
	}
	if (!azml_prices_fetch(conf, out, err, n)) {
		if (!dry) {
			char *t = azml_prices_to_text(out);

			if (t)
				azml_state_prices_save(conf, t);
			free(t);
		}
		azml_prices_free(&kept);
		return AZML_RETAIL_READ;
	}
	if (have) {
		*out = kept;
		return AZML_RETAIL_OLD;
	}
	memset(out, 0, sizeof(*out));
	return AZML_RETAIL_NONE;
}

/*
 * cost-fuzz.c - libFuzzer target: what the cost report reads from outside,
 * shared/prices.h and shared/journal.h.
 *
 * The input's first byte picks the reader: a Retail Prices API page, a
 * Prices= file, StateDir's prices text, or a line of the lifecycle journal;
 * the rest is its text.  Checks beyond "no crash, no UB": every price taken
 * is finite, not negative, of a size that is a name and a currency of three
 * capitals; $skip is -1 or positive; a journal line that parses formats
 * back to itself.
 */
#include "config.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "log.h"
#include "prices.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_log_init(AZML_LOG_STDERR, "cost-fuzz", AZML_LOG_ERROR);
	return 0;
}

static void _check(const azml_prices_t *ps)
{
	for (size_t i = 0; i < ps->n; i++) {
		const azml_price_t *p = &ps->p[i];
		size_t len = strnlen(p->size, sizeof(p->size));

		if (len == sizeof(p->size) || !len ||
		    !isfinite(p->hourly) || p->hourly < 0 ||
		    strnlen(p->currency, sizeof(p->currency)) != 3 ||
		    strnlen(p->since, sizeof(p->since)) == sizeof(p->since))
			abort();
		for (size_t k = 0; k < 3; k++)
			if (!isupper((unsigned char) p->currency[k]))
				abort();
		for (size_t k = 0; k < len; k++)
			if (!isalnum((unsigned char) p->size[k]) &&
			    !strchr("_-", p->size[k]))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	azml_prices_t ps = { 0 };
	char err[300], *text;
	long skip;

	if (size < 1)
		return 0;
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		if (azml_prices_parse_page(text, &ps, &skip, err, sizeof(err)) == 0 &&
		    (skip == 0 || skip < -1))
			abort();
		_check(&ps);
		break;
	case 1:
		azml_prices_parse_file(text, "/fuzz", &ps, err, sizeof(err));
		_check(&ps);
		break;
	case 2:
		if (azml_prices_from_text(text, &ps) == 0)
			_check(&ps);
		break;
	default: {
		azml_jrec_t r;
		char line[AZML_JLINE];

		if (azml_jrec_parse(text, &r) == 0) {
			size_t len = azml_jrec_format(&r, line, sizeof(line));

			/* what was taken is written back the same */
			if (!len || line[len - 1] != '\n')
				abort();
			line[len - 1] = '\0';
			if (strcmp(line, text))
				abort();
		}
	}
	}
	azml_prices_free(&ps);
	free(text);
	return 0;
}

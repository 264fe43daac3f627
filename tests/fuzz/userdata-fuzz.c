/*
 * userdata-fuzz.c - libFuzzer target: a VM's userData as node-init reads
 * it from IMDS (azml_userdata_parse), and base64 on its own.
 *
 * The input is read three ways: as the userData text itself; as JSON that
 * is base64-encoded first (so the mutator reaches the JSON checks); and as
 * base64 to decode.
 *
 * Checks beyond "no crash, no UB": what parses is encoded again
 * (azml_userdata_encode) and parses to the same fields; what decodes is
 * encoded again to text that decodes to the same bytes; the validators
 * never accept a secret URL with a query or user name, or a non-loopback
 * plain http host.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "userdata.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	azml_log_init(AZML_LOG_STDERR, "userdata-fuzz", AZML_LOG_ERROR);
	return 0;
}

static int _same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static void _roundtrip(const azml_userdata_t *u)
{
	azml_userdata_t again;
	char err[256], *enc = azml_userdata_encode(u);

	if (!enc)
		return;
	if (azml_userdata_parse(enc, strlen(enc), &again, err, sizeof(err)))
		abort();
	if (!_same(u->cluster, again.cluster) || !_same(u->node, again.node) ||
	    !_same(u->target, again.target) ||
	    !_same(u->slurmctld_host, again.slurmctld_host) ||
	    !_same(u->munge_key_secret, again.munge_key_secret) ||
	    !_same(u->identity, again.identity) ||
	    !_same(u->setup_script, again.setup_script) ||
	    !_same(u->gpu_arch, again.gpu_arch) || u->gpus != again.gpus ||
	    u->low_priority != again.low_priority)
		abort();
	azml_userdata_free(&again);
	free(enc);
}

static void _parse(const char *text, size_t len)
{
	azml_userdata_t u;
	char err[256];

	if (azml_userdata_parse(text, len, &u, err, sizeof(err))) {
		if (strncmp(err, "userData: ", 10))
			abort();
		return;
	}
	if (!u.cluster || !u.target || !u.munge_key_secret ||
	    strpbrk(u.munge_key_secret, "?#@") ||
	    (!strncmp(u.munge_key_secret, "http://", 7) &&
	     strncmp(u.munge_key_secret, "http://127.", 11) &&
	     strncmp(u.munge_key_secret, "http://localhost", 16) &&
	     strncmp(u.munge_key_secret, "http://LOCALHOST", 16) &&
	     strncmp(u.munge_key_secret, "http://[::1]", 12)))
		abort();
	_roundtrip(&u);
	azml_userdata_free(&u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n;
	unsigned char *raw;
	char *b64;

	_parse((const char *) data, size);
	if ((b64 = azml_base64_encode(data, size))) {
		_parse(b64, strlen(b64));
		free(b64);
	}
	if ((raw = azml_base64_decode((const char *) data, size, &n))) {
		char *again = azml_base64_encode(raw, n);
		unsigned char *raw2;
		size_t n2;

		if (!again || !(raw2 = azml_base64_decode(again, strlen(again), &n2)) ||
		    n2 != n || memcmp(raw, raw2, n))
			abort();
		free(raw2);
		free(again);
		free(raw);
	}
	return 0;
}

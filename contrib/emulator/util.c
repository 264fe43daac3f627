/*
 * util.c - the Azure emulator's small helpers: time, ids, names as Azure
 * takes them, base64, and its random source (--seed).
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

unsigned emu_seed;

double emu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint32_t emu_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char) tolower((unsigned char) *s);
		h *= 16777619u;
	}
	return h;
}

void emu_uuid(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		for (int i = 0; i < 16; i++)
			b[i] = rand_r(&emu_seed);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void emu_lower(char *s)
{
	for (; *s; s++)
		*s = tolower((unsigned char) *s);
}

/*
 * A resource name as Azure allows it for a Linux VM (and a NIC): 1 to 64
 * letters, digits, '-', '_' and '.', beginning with a letter or digit and
 * ending with a letter, digit or '_'.  Nothing a shell reads specially.
 */
bool emu_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]) ||
	    (!isalnum((unsigned char) s[n - 1]) && s[n - 1] != '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/*
 * A Slurm node name that is also a computerName: 1 to 64 letters, digits,
 * '-', '_' and '.', beginning with a letter or digit.
 */
bool emu_node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* Whether every character of S (1 to MAX of them) is alphanumeric or in
 * EXTRA. */
bool emu_chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* Resource group names as Azure allows them (ASCII only): 1 to 90 letters,
 * digits, '_', '(', ')', '-', '.', not ending in '.'. */
bool emu_rg_ok(const char *s)
{
	return emu_chars_ok(s, 90, "_()-.") && s[strlen(s) - 1] != '.';
}

/* Characters of a UTF-8 string (Azure's tag limits count characters). */
size_t emu_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char) *s & 0xc0) != 0x80;
	return n;
}

/* A Linux computerName as this emulator takes it: 1 to 64 letters,
 * digits and '-' (it becomes the sandbox's hostname). */
bool emu_computer_name_ok(const char *s)
{
	return emu_chars_ok(s, 64, "-");
}

/* Whether S (LEN characters) is base64 as Azure takes it: the alphabet
 * A-Z a-z 0-9 + /, a length a multiple of 4, '=' only as padding. */
bool emu_base64_ok(const char *s, size_t len)
{
	size_t pad = 0;

	if (len % 4)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '=') {
			if (i + 2 < len || ++pad > 2)
				return false;
		} else if (pad || (!isalnum(c) && c != '+' && c != '/')) {
			return false;
		}
	}
	return true;
}

/* The base64 of N bytes of IN: a malloc'd string, or NULL. */
char *emu_base64(const unsigned char *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/*
 * A user-assigned identity's resource id as ARM takes it:
 * /subscriptions/S/resourceGroups/RG/providers/
 * Microsoft.ManagedIdentity/userAssignedIdentities/NAME (case aside), with
 * a valid subscription, resource group and a NAME of 3 to 128 letters,
 * digits, '-' and '_' beginning with a letter or digit.
 */
bool emu_identity_id_ok(const char *id)
{
	char buf[512], *seg[10], *save = NULL;
	int n = 0;

	if (strlen(id) >= sizeof(buf) || id[0] != '/')
		return false;
	snprintf(buf, sizeof(buf), "%s", id);
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 10)
			return false;
		seg[n++] = t;
	}
	return n == 8 && !strcasecmp(seg[0], "subscriptions") &&
	       emu_chars_ok(seg[1], 64, "-") &&
	       !strcasecmp(seg[2], "resourceGroups") &&
	       emu_chars_ok(seg[3], 90, "_()-.") && seg[3][strlen(seg[3]) - 1] != '.' &&
	       !strcasecmp(seg[4], "providers") &&
	       !strcasecmp(seg[5], "Microsoft.ManagedIdentity") &&
	       !strcasecmp(seg[6], "userAssignedIdentities") &&
	       strlen(seg[7]) >= 3 && isalnum((unsigned char) seg[7][0]) &&
	       emu_chars_ok(seg[7], 128, "-_");
}

/* A GUID derived from SALT and S (case aside): stable across restarts, as
 * an identity's clientId and principalId are.  OUT holds 37 bytes. */
void emu_guid_of(const char *salt, const char *s, char *out)
{
	uint64_t h[2] = { 14695981039346656037ull, 1099511628211ull * 31 };
	unsigned char b[16];

	for (int k = 0; k < 2; k++) {
		for (const char *p = salt; *p; p++)
			h[k] = (h[k] ^ (unsigned char) *p) * 1099511628211ull;
		for (const char *p = s; *p; p++)
			h[k] = (h[k] ^ (unsigned char) tolower((unsigned char) *p)) *
			       1099511628211ull;
		for (int i = 0; i < 8; i++)
			b[k * 8 + i] = h[k] >> (i * 8);
	}
	b[6] = (b[6] & 0x0f) | 0x50;	/* name-based */
	b[8] = (b[8] & 0x3f) | 0x80;
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* Lower-case "SUB/RG/NAME" in OUT (400 bytes). */
void emu_key_of(char *out, const char *sub, const char *rg, const char *name)
{
	snprintf(out, 400, "%s/%s/%s", sub, rg, name);
	emu_lower(out);
}


/*
 * userdata.c - a VM's bootstrap settings: build (the resume program) and
 * parse (node-init on the VM).  See userdata.h for the JSON fields.
 *
 * The parser reads what IMDS hands the VM, which the controller wrote but
 * anyone with write access to the VM resource could change: every field is
 * checked with the same rules azureml.conf applies, and a problem is named
 * ("userData: field 'node': …").
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "names.h"
#include "url.h"
#include "userdata.h"

/* ---------------------------------------------------------------------- */
/* base64 */

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *azml_base64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out, *o;

	if (len > (((size_t) -1) / 4) * 3 - 3)
		return NULL;
	if (!(o = out = malloc((len + 2) / 3 * 4 + 1)))
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned) p[i] << 16;

		if (i + 1 < len)
			v |= (unsigned) p[i + 1] << 8;
		if (i + 2 < len)
			v |= p[i + 2];
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static int _b64_value(int c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int) (p - b64) : -1;
}

unsigned char *azml_base64_decode(const char *text, size_t len,
				  size_t *outlen)
{
	unsigned char *out;
	size_t n = 0, pad = 0, chars = 0;
	unsigned v = 0;

	if (!(out = malloc(len / 4 * 3 + 4)))
		return NULL;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char) text[i], d;

		if (isspace(c))
			continue;
		if (c == '=') {
			pad++;
			chars++;
			continue;
		}
		/* data after padding, or a character outside the alphabet */
		if (pad || (d = _b64_value(c)) < 0)
			goto bad;
		v = v << 6 | (unsigned) d;
		if (++chars % 4 == 0) {
			out[n++] = (unsigned char) (v >> 16);
			out[n++] = (unsigned char) (v >> 8);
			out[n++] = (unsigned char) v;
			v = 0;
		}
	}
	if (chars % 4 || pad > 2)
		goto bad;
	if (pad) {
		/* the last group: 4 - pad characters carry 3 - pad bytes */
		v <<= 6 * pad;
		out[n++] = (unsigned char) (v >> 16);
		if (pad == 1)
			out[n++] = (unsigned char) (v >> 8);
	}
	out[n] = '\0';
	*outlen = n;
	return out;
bad:
	free(out);
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* Validators */

int azml_ctld_host_ok(const char *v, char *why, size_t n)
{
	char host[256];
	int port;
	unsigned char addr[16];

	if (!v || !*v)
		return azml_errf(why, n, "empty; want HOST[:PORT]");
	if (*v != '[' && strchr(v, ':') && strchr(strchr(v, ':') + 1, ':')) {
		/* a bare IPv6 address, without a port */
		if (inet_pton(AF_INET6, v, addr) != 1)
			return azml_errf(why, n,
					 "'%s': put an IPv6 address "
					 "in [...] to add a port",
					 v);
		return 0;
	}
	return azml_hostport_split(v, strlen(v), host, sizeof(host), &port,
				   why, n);
}

static bool _chars(const char *s, size_t len, size_t min, size_t max,
		   const char *extra)
{
	if (len < min || len > max)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* Key Vault's DNS suffixes: public, China, US Government. */
static const char *const vault_suffixes[] = {
	".vault.azure.net", ".vault.azure.cn", ".vault.usgovcloudapi.net",
};

int azml_secret_url_ok(const char *v, char *why, size_t n)
{
	const char *host, *path, *name;
	size_t hl;
	bool https;
	azml_url_t u;
	char reason[200];

	if (!v || !*v)
		return azml_errf(why, n,
				 "empty; want https://VAULT.vault.azure.net/"
				 "secrets/NAME");
	if (strlen(v) > 2048)
		return azml_errf(why, n, "URL too long");
	if (strpbrk(v, "?#@"))
		return azml_errf(why, n,
				 "'%s': no user name, query or fragment "
				 "belongs in a secret's URL",
				 v);
	if (azml_url_split(v, &u, reason, sizeof(reason)))
		return azml_errf(why, n, "'%s': %s", v, reason);
	https = !strcmp(u.scheme, "https");
	host = u.host;
	path = u.path;
	if (*path != '/')
		return azml_errf(why, n,
				 "'%s' names no secret; want "
				 "https://VAULT.vault.azure.net/secrets/NAME",
				 v);
	hl = strlen(host);
	if (https) {
		size_t i, sl = 0;

		if (u.port_given)
			return azml_errf(why, n,
					 "'%s': Key Vault listens on 443; "
					 "leave the port out",
					 v);
		for (i = 0; i < sizeof(vault_suffixes) / sizeof(*vault_suffixes); i++) {
			sl = strlen(vault_suffixes[i]);
			if (hl > sl && !strncasecmp(host + hl - sl,
						    vault_suffixes[i], sl))
				break;
		}
		if (i == sizeof(vault_suffixes) / sizeof(*vault_suffixes))
			return azml_errf(why, n,
					 "'%.*s' is not a Key Vault host "
					 "(VAULT.vault.azure.net)",
					 (int) hl, host);
		if (!_chars(host, hl - sl, 3, 24, "-"))
			return azml_errf(why, n,
					 "vault name '%.*s': 3-24 letters, "
					 "digits or '-'",
					 (int) (hl - sl), host);
		if (strncmp(path, "/secrets/", 9))
			return azml_errf(why, n,
					 "'%s': the path must be "
					 "/secrets/NAME",
					 v);
		name = path + 9;
	} else {
		const char *vault;

		if (!azml_host_is_loopback(host))
			return azml_errf(why, n,
					 "'%s': plain http only to loopback "
					 "(the emulator); use https",
					 v);
		if (strncmp(path, "/keyvault/", 10))
			return azml_errf(why, n,
					 "'%s': the emulator's path is "
					 "/keyvault/VAULT/secrets/NAME",
					 v);
		vault = path + 10;
		if (!(name = strstr(vault, "/secrets/")) ||
		    !_chars(vault, (size_t) (name - vault), 3, 24, "-"))
			return azml_errf(
				why, n,
				"'%s': the emulator's path is "
				"/keyvault/VAULT/secrets/NAME, VAULT 3-24 "
				"letters, digits or '-'",
				v);
		name += 9;
	}
	{
		const char *ver = strchr(name, '/');
		size_t nl = ver ? (size_t) (ver - name) : strlen(name);

		if (!_chars(name, nl, 1, 127, "-"))
			return azml_errf(why, n,
					 "secret name '%.*s': 1-127 letters, "
					 "digits or '-'",
					 (int) nl, name);
		if (ver && (strlen(ver + 1) != 32 ||
			    strspn(ver + 1, "0123456789abcdefABCDEF") != 32))
			return azml_errf(why, n,
					 "secret version '%.64s': 32 hex "
					 "digits, as Key Vault names them",
					 ver + 1);
	}
	return 0;
}

bool azml_secret_url_versioned(const char *v)
{
	const char *s = v ? strstr(v, "/secrets/") : NULL;

	return s && strchr(s + 9, '/');
}

int azml_identity_id_ok(const char *v, char *why, size_t n)
{
	static const char *const want[] = {
		"subscriptions", NULL, "resourceGroups", NULL, "providers",
		"Microsoft.ManagedIdentity", "userAssignedIdentities", NULL
	};
	const char *p = v;

	if (!v || *v != '/')
		goto bad;
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		const char *seg = ++p, *end = strchr(seg, '/');
		size_t len = end ? (size_t) (end - seg) : strlen(seg);

		if (!len || (i + 1 < sizeof(want) / sizeof(*want)) != !!end)
			goto bad;
		if (want[i] ? (len != strlen(want[i]) ||
			       strncasecmp(seg, want[i], len))
			    : !_chars(seg, len, 1, 128, "-_.()"))
			goto bad;
		p = seg + len;
	}
	return 0;
bad:
	return azml_errf(
		why, n,
		"'%s' is not a user-assigned identity's resource "
		"id (/subscriptions/SUB/resourceGroups/RG/providers/"
		"Microsoft.ManagedIdentity/userAssignedIdentities/NAME)",
		v ? v : "");
}

/* ---------------------------------------------------------------------- */
/* Build */

static void _add(cJSON *o, const char *k, const char *v)
{
	if (v)
		cJSON_AddStringToObject(o, k, v);
}

char *azml_userdata_json(const azml_userdata_t *u)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	if (!o)
		return NULL;
	cJSON_AddNumberToObject(o, "version", AZML_USERDATA_VERSION);
	_add(o, "cluster", u->cluster);
	_add(o, "slurm_cluster", u->slurm_cluster);
	_add(o, "target", u->target);
	_add(o, "node", u->node);
	_add(o, "vm_size", u->vm_size);
	_add(o, "slurmctld_host", u->slurmctld_host);
	_add(o, "munge_key_secret", u->munge_key_secret);
	_add(o, "identity", u->identity);
	_add(o, "job_identity", u->job_identity);
	_add(o, "setup_script", u->setup_script);
	cJSON_AddStringToObject(o, "priority", u->low_priority ?
				"low" : "dedicated");
	if (u->gpus > 0) {
		cJSON *g = cJSON_AddObjectToObject(o, "gpus");

		cJSON_AddNumberToObject(g, "count", u->gpus);
		_add(g, "type", u->gpu_type);
		_add(g, "arch", u->gpu_arch);
	}
	_add(o, "slurm_version", u->slurm_version);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *azml_userdata_encode(const azml_userdata_t *u)
{
	char *json = azml_userdata_json(u), *out;

	if (!json)
		return NULL;
	out = azml_base64_encode(json, strlen(json));
	free(json);
	return out;
}

/* ---------------------------------------------------------------------- */
/* Parse */

typedef int (*check_t)(const char *v, char *why, size_t n);

static int _node_name_ok(const char *v, char *why, size_t n)
{
	if (!azml_node_name_ok(v, 0))
		return azml_errf(
			why, n,
			"'%s' is not a node name (1-63 letters, "
			"digits, '-', '_' or '.', first and last a letter "
			"or digit)",
			v);
	return 0;
}

static int _word_ok(const char *v, char *why, size_t n)
{
	if (!_chars(v, strlen(v), 1, 128, "-_."))
		return azml_errf(why, n,
				 "'%s': want 1-128 letters, digits, '-', "
				 "'_' or '.'",
				 v);
	return 0;
}

static int _path_ok(const char *v, char *why, size_t n)
{
	if (*v != '/' || strlen(v) > 4096 || strstr(v, "/../") ||
	    (strlen(v) >= 3 && !strcmp(v + strlen(v) - 3, "/..")))
		return azml_errf(why, n,
				 "'%s' is not an absolute path without "
				 "'..'",
				 v);
	for (const char *c = v; *c; c++)
		if (iscntrl((unsigned char) *c))
			return azml_errf(why, n, "control character in path");
	return 0;
}

static int _version_ok(const char *v, char *why, size_t n)
{
	int a, b, c, end = 0;

	if (sscanf(v, "%3d.%2d.%3d%n", &a, &b, &c, &end) != 3 || v[end] ||
	    a < 0 || b < 0 || c < 0)
		return azml_errf(why, n, "'%s' is not a Slurm version (N.N.N)",
				 v);
	return 0;
}

/* Field K of O, a string checked by CHECK: 0 with *OUT set (NULL when
 * absent and optional), or -1 with the message in ERR. */
static int _str(const cJSON *o, const char *k, bool required, check_t check,
		char **out, char *err, size_t n)
{
	const cJSON *j = cJSON_GetObjectItemCaseSensitive(o, k);
	char why[256];

	*out = NULL;
	if (!j) {
		if (required)
			return azml_errf(err, n,
					 "userData: field '%s' is missing", k);
		return 0;
	}
	if (!cJSON_IsString(j) || !j->valuestring)
		return azml_errf(err, n,
				 "userData: field '%s' must be a string", k);
	if (check && check(j->valuestring, why, sizeof(why)))
		return azml_errf(err, n, "userData: field '%s': %s", k, why);
	if (!(*out = strdup(j->valuestring)))
		return azml_errf(err, n, "userData: out of memory");
	return 0;
}

int azml_userdata_parse(const char *text, size_t len, azml_userdata_t *out,
			char *err, size_t n)
{
	unsigned char *raw;
	size_t rawlen;
	cJSON *o = NULL;
	const cJSON *j, *g;
	char *prio = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!text || !len)
		return azml_errf(err, n,
				 "userData: empty (the VM was created "
				 "without userData)");
	if (len > AZML_USERDATA_MAX)
		return azml_errf(err, n,
				 "userData: %zu bytes, more than Azure's "
				 "%d",
				 len, AZML_USERDATA_MAX);
	if (!(raw = azml_base64_decode(text, len, &rawlen)))
		return azml_errf(err, n, "userData: not base64");
	if (memchr(raw, '\0', rawlen) ||
	    !(o = cJSON_ParseWithLength((const char *) raw, rawlen)) ||
	    !cJSON_IsObject(o)) {
		azml_errf(err, n, "userData: not a JSON object");
		goto out;
	}
	j = cJSON_GetObjectItemCaseSensitive(o, "version");
	if (!cJSON_IsNumber(j) || j->valuedouble != AZML_USERDATA_VERSION) {
		azml_errf(err, n, "userData: field 'version' must be %d",
			  AZML_USERDATA_VERSION);
		goto out;
	}
	out->version = AZML_USERDATA_VERSION;
	if (_str(o, "cluster", true, _word_ok, &out->cluster, err, n) ||
	    _str(o, "slurm_cluster", false, _word_ok, &out->slurm_cluster, err, n) ||
	    _str(o, "target", true, _word_ok, &out->target, err, n) ||
	    _str(o, "node", false, _node_name_ok, &out->node, err, n) ||
	    _str(o, "vm_size", true, _word_ok, &out->vm_size, err, n) ||
	    _str(o, "slurmctld_host", true, azml_ctld_host_ok,
		 &out->slurmctld_host, err, n) ||
	    _str(o, "munge_key_secret", true, azml_secret_url_ok,
		 &out->munge_key_secret, err, n) ||
	    _str(o, "identity", true, azml_identity_id_ok, &out->identity,
		 err, n) ||
	    _str(o, "job_identity", false, azml_identity_id_ok,
		 &out->job_identity, err, n) ||
	    _str(o, "setup_script", false, _path_ok, &out->setup_script,
		 err, n) ||
	    _str(o, "slurm_version", true, _version_ok, &out->slurm_version,
		 err, n) ||
	    _str(o, "priority", true, NULL, &prio, err, n))
		goto out;
	if (!strcmp(prio, "low"))
		out->low_priority = true;
	else if (strcmp(prio, "dedicated")) {
		azml_errf(err, n,
			  "userData: field 'priority' must be 'dedicated' "
			  "or 'low'");
		goto out;
	}
	if ((g = cJSON_GetObjectItemCaseSensitive(o, "gpus"))) {
		j = cJSON_GetObjectItemCaseSensitive(g, "count");
		if (!cJSON_IsObject(g) || !cJSON_IsNumber(j) ||
		    j->valuedouble < 1 || j->valuedouble > 64 ||
		    j->valuedouble != (int) j->valuedouble) {
			azml_errf(err, n,
				  "userData: field 'gpus' must be an object "
				  "with a whole 'count' of 1 to 64");
			goto out;
		}
		out->gpus = (int) j->valuedouble;
		if (_str(g, "type", false, _word_ok, &out->gpu_type, err, n) ||
		    _str(g, "arch", false, _word_ok, &out->gpu_arch, err, n))
			goto out;
	}
	rc = 0;
out:
	if (rc)
		azml_userdata_free(out);
	free(prio);
	cJSON_Delete(o);
	free(raw);
	return rc;
}

void azml_userdata_free(azml_userdata_t *u)
{
	free(u->cluster);
	free(u->slurm_cluster);
	free(u->target);
	free(u->node);
	free(u->vm_size);
	free(u->slurmctld_host);
	free(u->munge_key_secret);
	free(u->identity);
	free(u->job_identity);
	free(u->setup_script);
	free(u->gpu_type);
	free(u->gpu_arch);
	free(u->slurm_version);
	memset(u, 0, sizeof(*u));
}

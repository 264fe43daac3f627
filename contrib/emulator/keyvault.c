/*
 * keyvault.c - the Azure emulator's Key Vault: secrets preloaded with
 * --secret, read by --vault-reader identities.
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
#include "cloud.h"
#include "emu.h"

/* ---------------------------------------------------------------------- */
/* Key Vault: GET /keyvault/{vault}/secrets/{name}[/{version}] */

/* The secrets (--secret) and who may read them (--vault-reader). */
static struct {
	secret_t *secrets;
	size_t nsecrets;
	char *readers[READERS_MAX];	/* --vault-reader ids, lower case */
	size_t nreaders;
} V;

/* The audience Key Vault's tokens must have: the cloud's of the vault's
 * host (cloud.h), AzurePublic's for the path style.  Set per request
 * (under emu_lock). */
static const char *vault_audience = "https://vault.azure.net";

/* Key Vault's error shape, with its innererror when INNER is not NULL. */
static void _kv_error(reply_t *r, int status, const char *code,
		      const char *inner, const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	if (inner)
		cJSON_AddStringToObject(cJSON_AddObjectToObject(e, "innererror"),
					"code", inner);
	emu_json(r, status, o);
}

/* 401 as Key Vault answers it, with its challenge. */
static void _kv_unauthorized(reply_t *r, const char *msg)
{
	_kv_error(r, 401, "Unauthorized", NULL, msg);
	emu_header(r, "WWW-Authenticate", "Bearer authorization=\"%s/"
		"%s\", resource=\"%s\"", emu_net_st.base_url, EMU_TENANT,
		vault_audience);
}

/* Whether identity IDENT (an index in emu_auth_st.idents) may read secrets: any
 * user-assigned identity, or only the --vault-reader ones. */
static bool _kv_reader(int ident)
{
	if (ident < 0)
		return false;
	if (!V.nreaders)
		return true;
	for (size_t i = 0; i < V.nreaders; i++)
		if (!strcmp(V.readers[i], emu_auth_st.idents[ident]))
			return true;
	return false;
}

/* Key Vault's DNS suffixes: public, US Government, China. */
static const char *const vault_suffixes[] = {
	".vault.azure.net", ".vault.usgovcloudapi.net", ".vault.azure.cn",
};

bool emu_vault_of_host(const char *host, char *out, size_t n)
{
	size_t hl;

	if (!host)
		return false;
	hl = strcspn(host, ":");
	for (size_t i = 0; i < sizeof(vault_suffixes) / sizeof(*vault_suffixes);
	     i++) {
		size_t sl = strlen(vault_suffixes[i]);

		if (hl > sl && hl - sl < n &&
		    !strncasecmp(host + hl - sl, vault_suffixes[i], sl)) {
			snprintf(out, n, "%.*s", (int) (hl - sl), host);
			return emu_chars_ok(out, 24, "-") && strlen(out) >= 3;
		}
	}
	return false;
}

/*
 * GET /keyvault/{vault}/secrets/... (PATH: path style, the emulator's own
 * for clients that cannot name a vault host), or, with VAULT_HOST (the
 * request's Host, VAULT.vault.azure.net), PATH "/keyvault/VAULT/secrets/..."
 * made from Key Vault's own https://VAULT.vault.azure.net/secrets/... .
 */
void emu_keyvault(struct MHD_Connection *c, const char *method, char *path,
		      const char *vault_host, reply_t *r)
{
	char *seg[8], msg[512], id[1024];
	int n = emu_segments(path, seg, 8);
	const char *api = emu_arg(c, "api-version");
	const token_t *t = NULL;
	token_state_t ts;
	const secret_t *sec = NULL;
	size_t alen;
	cJSON *o, *a;

	vault_audience = azml_cloud_vault_audience(NULL);
	if (vault_host && azml_cloud_of_vault_host(vault_host))
		vault_audience =
			azml_cloud_of_vault_host(vault_host)->vault_audience;
	/* keyvault VAULT secrets NAME [VERSION] */
	if (n < 4 || n > 5 || strcmp(seg[2], "secrets") ||
	    !emu_chars_ok(seg[1], 24, "-") || strlen(seg[1]) < 3) {
		_kv_error(r, 404, "NotFound", NULL, "azure-emulator serves GET "
			  "/keyvault/{vault}/secrets/{name}[/{version}]");
		return;
	}
	if (strcmp(method, "GET")) {
		_kv_error(r, 405, "MethodNotAllowed", NULL, "azure-emulator: "
			  "its Key Vault only reads secrets (--secret)");
		return;
	}
	if (!api || strncmp(api, "7.", 2)) {
		_kv_error(r, 400, "BadParameter", NULL, "The request URI contains "
			  "an invalid or missing api-version; azure-emulator "
			  "serves 7.x.");
		return;
	}
	ts = emu_token_find(c, &t);
	if (ts == TOKEN_MISSING) {
		_kv_unauthorized(r, "Request is missing a Bearer or PoP token.");
		return;
	}
	if (ts == TOKEN_UNKNOWN) {
		_kv_unauthorized(r, "AKV10032: Invalid issuer. The token was not "
				 "issued by this tenant.");
		return;
	}
	if (ts == TOKEN_EXPIRED) {
		_kv_unauthorized(r, "AKV10013: Token expired.");
		return;
	}
	alen = strlen(t->aud);
	if (alen && t->aud[alen - 1] == '/')
		alen--;
	if (alen != strlen(vault_audience) ||
	    strncasecmp(t->aud, vault_audience, alen)) {
		snprintf(msg, sizeof(msg), "AKV10022: Invalid audience. Expected "
			 "%s, found: %.128s.", vault_audience, t->aud);
		_kv_unauthorized(r, msg);
		return;
	}
	if (!_kv_reader(t->ident)) {
		snprintf(msg, sizeof(msg), "The user, group or application "
			 "'appid=%s;iss=https://sts.windows.net/" EMU_TENANT "/' "
			 "does not have secrets get permission on key vault "
			 "'%s;location=eastus'. For help resolving this issue, "
			 "please see https://go.microsoft.com/fwlink/?linkid="
			 "2125287", t->ident < 0 ? "another-identity" :
			 emu_auth_st.idents[t->ident], seg[1]);
		_kv_error(r, 403, "Forbidden", "AccessDenied", msg);
		return;
	}
	if (emu_chars_ok(seg[3], 127, "-"))
		for (size_t i = 0; i < V.nsecrets && !sec; i++)
			if (!strcasecmp(V.secrets[i].name, seg[3]) &&
			    (n == 4 || !strcasecmp(V.secrets[i].version, seg[4])))
				sec = &V.secrets[i];
	if (!sec) {
		snprintf(msg, sizeof(msg), "A secret with (name/id) %.127s%s%.64s "
			 "was not found in this key vault. If you recently "
			 "deleted this secret you may be able to recover it "
			 "using the correct recovery command. For help "
			 "resolving this issue, please see https://go.microsoft."
			 "com/fwlink/?linkid=2125182", seg[3], n == 5 ? "/" : "",
			 n == 5 ? seg[4] : "");
		_kv_error(r, 404, "SecretNotFound", NULL, msg);
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "value", sec->value);
	if (vault_host)
		snprintf(id, sizeof(id), "https://%.*s/secrets/%s/%s",
			 (int) strcspn(vault_host, ":"), vault_host, sec->name,
			 sec->version);
	else
		snprintf(id, sizeof(id), "%s/keyvault/%s/secrets/%s/%s",
			 emu_net_st.base_url, seg[1], sec->name, sec->version);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "contentType", "application/octet-stream");
	a = cJSON_AddObjectToObject(o, "attributes");
	cJSON_AddBoolToObject(a, "enabled", true);
	cJSON_AddNumberToObject(a, "created", (long) sec->created);
	cJSON_AddNumberToObject(a, "updated", (long) sec->created);
	cJSON_AddStringToObject(a, "recoveryLevel", "Recoverable+Purgeable");
	cJSON_AddNumberToObject(a, "recoverableDays", 90);
	emu_json(r, 200, o);
	r->wipe = true;		/* the body holds the secret */
}

/*
 * --secret NAME=FILE: read FILE now and keep its base64 as secret NAME,
 * as "az keyvault secret set --encoding base64 --file FILE" stores it.
 * Returns 0, or -1 with a message on stderr.
 */
int emu_secret_load(char *arg)
{
	char *eq = strchr(arg, '='), ver[40];
	unsigned char *buf = NULL;
	size_t n = 0, max = SECRET_MAX / 4 * 3;
	secret_t *ns;
	struct stat sb;
	int fd = -1, rc = -1;
	ssize_t got;

	if (!eq || !emu_chars_ok((*eq = '\0', arg), 127, "-")) {
		fprintf(stderr, "azure-emulator: --secret expects NAME=FILE with "
			"a NAME of 1 to 127 letters, digits and '-'\n");
		return -1;
	}
	for (size_t i = 0; i < V.nsecrets; i++)
		if (!strcasecmp(V.secrets[i].name, arg)) {
			fprintf(stderr, "azure-emulator: --secret %s given twice\n",
				arg);
			return -1;
		}
	if ((fd = open(eq + 1, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &sb) ||
	    !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "azure-emulator: --secret %s: couldn't read %s: "
			"%s\n", arg, eq + 1, fd < 0 ? strerror(errno) :
			"not a regular file");
		goto out;
	}
	if (!(buf = malloc(max + 1)))
		goto out;
	while (n <= max && (got = read(fd, buf + n, max + 1 - n)) > 0)
		n += got;
	if (n == 0 || n > max) {
		fprintf(stderr, "azure-emulator: --secret %s: %s is %s; Key Vault "
			"keeps a secret value of at most %d bytes, that is a file "
			"of 1 to %zu bytes in base64\n", arg, eq + 1,
			n ? "too big" : "empty", SECRET_MAX, max);
		goto out;
	}
	if (!(ns = realloc(V.secrets, (V.nsecrets + 1) * sizeof(*ns))))
		goto out;
	V.secrets = ns;
	ns = &V.secrets[V.nsecrets];
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->name, sizeof(ns->name), "%s", arg);
	emu_uuid(ver);
	for (char *p = ver, *q = ns->version; *p; p++)	/* 32 hex digits */
		if (*p != '-')
			*q++ = *p;
	ns->created = emu_now();
	if (!(ns->value = emu_base64(buf, n)))
		goto out;
	V.nsecrets++;
	rc = 0;
out:
	if (buf) {
		explicit_bzero(buf, max + 1);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

/* --vault-reader ID: identity ID may read secrets.  Returns 0, or -1 with
 * what is wrong on stderr. */
int emu_vault_reader_add(const char *id)
{
	if (!emu_identity_id_ok(id)) {
		fprintf(stderr, "azure-emulator: --vault-reader: "
			"'%s' is not a user-assigned identity's "
			"resource id (/subscriptions/S/resourceGroups/"
			"RG/providers/Microsoft.ManagedIdentity/"
			"userAssignedIdentities/NAME)\n", id);
		return -1;
	}
	if (V.nreaders == READERS_MAX) {
		fprintf(stderr, "azure-emulator: at most %d "
			"--vault-reader\n", READERS_MAX);
		return -1;
	}
	V.readers[V.nreaders] = strdup(id);
	emu_lower(V.readers[V.nreaders++]);
	return 0;
}

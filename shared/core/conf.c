/*
 * conf.c - the azureml.conf parser (see conf.h).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <slurm/slurm.h>

#include "conf.h"
#include "gres.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "userdata.h"

#define MAX_LINE	8192
#define MAX_ERRORS	200
#define MAX_INCLUDE	8
#define MAX_NODES	10000	/* per target */
#define MAX_FALLBACK	16	/* names in one Fallback= */
#define MAX_LISTED	12	/* target names in one message */
#define CAPACITY_BACKOFF 600	/* seconds, when CapacityBackoff= is not set */

/* Where a key may appear. */
#define W_GLOBAL	0x1
#define W_CLUSTER	0x2
#define W_INSTANCE	0x4
#define W_ATTACHED	0x8
#define W_VM		(W_CLUSTER | W_INSTANCE)

/* K_NAMES: comma-separated target names, stored NULL-terminated. */
typedef enum { K_STR, K_INT, K_BOOL, K_PRIO, K_CRED, K_NAMES, K_PROV } ktype_t;

typedef int (*check_fn)(const char *v, char *why, size_t n);

typedef struct {
	const char *name;
	int where;
	ktype_t type;
	size_t goff;		/* offset in azml_conf_t, or NO */
	size_t toff;		/* offset in azml_target_t, or NO */
	check_fn check;
	int lo, hi;		/* K_INT range */
} keydef_t;

static int _check_guid(const char *v, char *why, size_t n);
static int _check_tenant(const char *v, char *why, size_t n);
static int _check_rg(const char *v, char *why, size_t n);
static int _check_location(const char *v, char *why, size_t n);
static int _check_url(const char *v, char *why, size_t n);
static int _check_imds_url(const char *v, char *why, size_t n);
static int _check_abs_path(const char *v, char *why, size_t n);
static int _check_cluster_name(const char *v, char *why, size_t n);
static int _check_image(const char *v, char *why, size_t n);
static int _check_subnet(const char *v, char *why, size_t n);
static int _check_admin_user(const char *v, char *why, size_t n);
static int _check_zone(const char *v, char *why, size_t n);
static int _check_tags(const char *v, char *why, size_t n);
static int _check_gres(const char *v, char *why, size_t n);
static int _check_cuda(const char *v, char *why, size_t n);
static int _check_word(const char *v, char *why, size_t n);
static int _check_names(const char *v, char *why, size_t n);
static int _check_ppg(const char *v, char *why, size_t n);
static int _check_avset(const char *v, char *why, size_t n);
static int _check_prices(const char *v, char *why, size_t n);

#define G(f) offsetof(azml_conf_t, f)
#define T(f) offsetof(azml_target_t, f)
#define NO ((size_t) -1)

static const keydef_t key_tab[] = {
	{ "ClusterName", W_GLOBAL, K_STR, G(cluster_name), NO, _check_cluster_name },
	{ "SubscriptionId", W_GLOBAL, K_STR, G(subscription_id), NO, _check_guid },
	{ "ResourceGroup", W_GLOBAL, K_STR, G(resource_group), NO, _check_rg },
	{ "Location", W_GLOBAL, K_STR, G(location), NO, _check_location },
	{ "ArmEndpoint", W_GLOBAL, K_STR, G(arm_endpoint), NO, _check_url },
	{ "AuthorityHost", W_GLOBAL, K_STR, G(authority_host), NO, _check_url },
	{ "ImdsEndpoint", W_GLOBAL, K_STR, G(imds_endpoint), NO, _check_imds_url },
	{ "Credential", W_GLOBAL, K_CRED, NO, NO, NULL },
	{ "TenantId", W_GLOBAL, K_STR, G(tenant_id), NO, _check_tenant },
	{ "ClientId", W_GLOBAL, K_STR, G(client_id), NO, _check_guid },
	{ "CaBundle", W_GLOBAL, K_STR, G(ca_bundle), NO, _check_abs_path },
	{ "LogFile", W_GLOBAL, K_STR, G(log_file), NO, _check_abs_path },
	{ "StateDir", W_GLOBAL, K_STR, G(state_dir), NO, _check_abs_path },
	{ "Prices", W_GLOBAL, K_STR, G(prices), NO, _check_prices },
	{ "PricesEndpoint", W_GLOBAL, K_STR, G(prices_endpoint), NO, _check_url },
	{ "Image", W_GLOBAL | W_VM, K_STR, G(image), T(image), _check_image },
	{ "Subnet", W_GLOBAL | W_VM, K_STR, G(subnet), T(subnet), _check_subnet },
	{ "AdminUser", W_GLOBAL | W_VM, K_STR, G(admin_user), T(admin_user), _check_admin_user },
	{ "SshPublicKey", W_GLOBAL | W_VM, K_STR, G(ssh_public_key), T(ssh_public_key), _check_abs_path },
	{ "VmSize", W_VM, K_STR, NO, T(vm_size), _check_word },
	{ "MinNodes", W_CLUSTER, K_INT, NO, T(min_nodes), NULL, 0, MAX_NODES },
	{ "MaxNodes", W_CLUSTER, K_INT, NO, T(max_nodes), NULL, 1, MAX_NODES },
	{ "IdleSecondsBeforeScaledown", W_CLUSTER, K_INT, NO, T(idle_seconds), NULL, 1, 2592000 },
	{ "Priority", W_CLUSTER, K_PRIO, NO, T(priority), NULL },
	{ "Provisioning", W_CLUSTER, K_PROV, NO, T(provisioning), NULL },
	{ "ProximityPlacementGroup", W_VM, K_STR, NO, T(ppg), _check_ppg },
	{ "AvailabilitySet", W_CLUSTER, K_STR, NO, T(avset), _check_avset },
	{ "Fallback", W_CLUSTER, K_NAMES, NO, T(fallback), _check_names },
	{ "CapacityBackoff", W_GLOBAL | W_VM, K_INT, G(capacity_backoff), T(capacity_backoff), NULL, 0, 86400 },
	{ "QuotaApproved", W_VM, K_BOOL, NO, T(quota_approved), NULL },
	{ "Zone", W_VM, K_STR, NO, T(zone), _check_zone },
	{ "Tags", W_VM, K_STR, NO, T(tags), _check_tags },
	{ "Nodes", W_ATTACHED, K_STR, NO, T(nodes), NULL },
	{ "Gres", W_ATTACHED, K_STR, NO, T(gres), _check_gres },
	{ "CPUs", W_ATTACHED, K_INT, NO, T(cpus), NULL, 1, 65536 },
	{ "RealMemory", W_ATTACHED, K_INT, NO, T(real_memory), NULL, 1, INT_MAX },
	{ "Cuda", W_ATTACHED, K_STR, NO, T(cuda), _check_cuda },
	/* Node bootstrap: what a VM's userData carries (userdata.h), checked
	 * by the same validators node-init uses. */
	{ "SlurmctldHost", W_GLOBAL | W_VM, K_STR, G(slurmctld_host), T(slurmctld_host), azml_ctld_host_ok },
	{ "MungeKeySecret", W_GLOBAL | W_VM, K_STR, G(munge_key_secret), T(munge_key_secret), azml_secret_url_ok },
	{ "Identity", W_GLOBAL | W_VM, K_STR, G(identity), T(identity), azml_identity_id_ok },
	{ "JobIdentity", W_GLOBAL | W_VM, K_STR, G(job_identity), T(job_identity), azml_identity_id_ok },
	{ "NodeSetupScript", W_GLOBAL | W_VM, K_STR, G(node_setup_script), T(node_setup_script), _check_abs_path },
};

typedef struct {
	azml_conf_t *conf;
	int depth;
	const char *include_stack[MAX_INCLUDE + 1];
	/* Which global keys were set, to refuse duplicates: bit i = key_tab[i]. */
	unsigned long long gset;
} parser_t;

/* ---------------------------------------------------------------------- */

static char *_xstrdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();	/* out of memory: nothing sane left to do */
	return d;
}

static void _err(parser_t *p, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void _err(parser_t *p, const char *file, int line, const char *fmt, ...)
{
	azml_conf_t *c = p->conf;
	char msg[1024], *full;
	va_list ap;
	int n;

	if (c->nerrors >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		n = asprintf(&full, "%s:%d: %s", file, line, msg);
	else
		n = asprintf(&full, "%s: %s", file, msg);
	if (n < 0)
		abort();
	c->errors = realloc(c->errors, (c->nerrors + 1) * sizeof(char *));
	if (!c->errors)
		abort();
	c->errors[c->nerrors++] = full;
}

/* A warning: the configuration stays usable (check-config prints it). */
static void _warn(parser_t *p, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void _warn(parser_t *p, const char *file, int line, const char *fmt, ...)
{
	azml_conf_t *c = p->conf;
	char msg[1024], *full, **more;
	va_list ap;

	if (c->nwarnings >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s:%d: warning: %s", file, line, msg) < 0)
		abort();
	if (!(more = realloc(c->warnings, (c->nwarnings + 1) * sizeof(*more))))
		abort();
	c->warnings = more;
	c->warnings[c->nwarnings++] = full;
}

/* Copy V for a message: printable ASCII only, at most 64 bytes. */
static const char *_show(const char *v, char *buf, size_t n)
{
	size_t i, j;

	for (i = 0, j = 0; v[i] && j + 5 < n; i++) {
		unsigned char ch = v[i];

		if (i == 64) {
			memcpy(buf + j, "...", 3);
			j += 3;
			break;
		}
		if (isprint(ch))
			buf[j++] = ch;
		else
			j += snprintf(buf + j, n - j, "\\x%02x", ch);
	}
	buf[j] = '\0';
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Value checks: return 0, or -1 with a reason in WHY. */

static bool _is_guid(const char *v)
{
	static const int groups[] = { 8, 4, 4, 4, 12 };
	const char *s = v;

	for (int g = 0; g < 5; g++) {
		for (int i = 0; i < groups[g]; i++, s++)
			if (!isxdigit((unsigned char) *s))
				return false;
		if (g < 4 && *s++ != '-')
			return false;
	}
	return *s == '\0';
}

static int _check_guid(const char *v, char *why, size_t n)
{
	if (_is_guid(v))
		return 0;
	snprintf(why, n, "expected a GUID like 00000000-0000-0000-0000-000000000000");
	return -1;
}

/* A DNS name: dot-separated labels of 1-63 letters, digits and '-' (not
 * at either end), at least two labels, 253 characters at most. */
static bool _is_dns_name(const char *v)
{
	size_t len = strlen(v), label = 0, labels = 1;

	if (len < 3 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (v[i] == '.') {
			if (!label || v[i - 1] == '-')
				return false;
			label = 0;
			labels++;
		} else if (isalnum((unsigned char) v[i]) ||
			   (v[i] == '-' && label)) {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return label && v[len - 1] != '-' && labels >= 2;
}

bool azml_conf_tenant_ok(const char *v)
{
	return v && (_is_guid(v) || _is_dns_name(v));
}

static int _check_tenant(const char *v, char *why, size_t n)
{
	if (azml_conf_tenant_ok(v))
		return 0;
	snprintf(why, n, "expected a tenant ID (a GUID like "
		 "00000000-0000-0000-0000-000000000000) or a tenant domain "
		 "(contoso.onmicrosoft.com)");
	return -1;
}

static int _check_rg(const char *v, char *why, size_t n)
{
	size_t len = strlen(v);

	/* Azure: 1-90 characters, letters, digits, _ - . ( ), not ending in '.' */
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) v[i]) && !strchr("_-.()", v[i]))
			goto bad;
	if (len >= 1 && len <= 90 && v[len - 1] != '.')
		return 0;
bad:
	snprintf(why, n, "a resource group name has 1-90 letters, digits, "
		 "'_', '-', '.', '(', ')' and does not end in '.'");
	return -1;
}

static int _check_location(const char *v, char *why, size_t n)
{
	size_t len = strlen(v);

	for (size_t i = 0; i < len; i++)
		if (!islower((unsigned char) v[i]) && !isdigit((unsigned char) v[i]))
			goto bad;
	if (len >= 2 && len <= 32)
		return 0;
bad:
	snprintf(why, n, "expected an Azure region name like eastus or westeurope");
	return -1;
}

/* Host part of an http(s) URL: letters, digits, '.', '-', or [v6]; port. */
static int _url_host(const char *v, const char **host, size_t *hlen)
{
	const char *s = strstr(v, "://");
	const char *end;

	if (!s)
		return -1;
	s += 3;
	end = s + strcspn(s, "/");
	*host = s;
	if (*s == '[') {
		const char *close = memchr(s, ']', end - s);

		if (!close)
			return -1;
		for (const char *c = s + 1; c < close; c++)
			if (!isxdigit((unsigned char) *c) && *c != ':')
				return -1;
		*hlen = close + 1 - s;
		s = close + 1;
	} else {
		while (s < end && (isalnum((unsigned char) *s) || *s == '.' || *s == '-'))
			s++;
		*hlen = s - *host;
	}
	if (*hlen == 0)
		return -1;
	if (s < end && *s == ':') {
		int port = 0, digits = 0;

		/* More than 5 digits is refused below: stop adding before
		 * an int could overflow (":8555555555"). */
		for (s++; s < end && isdigit((unsigned char) *s); s++, digits++)
			if (digits < 5)
				port = port * 10 + (*s - '0');
		if (!digits || digits > 5 || port < 1 || port > 65535)
			return -1;
	}
	if (s != end)
		return -1;
	for (; *s; s++)
		if (!isgraph((unsigned char) *s))
			return -1;
	return 0;
}

static bool _is_loopback(const char *host, size_t hlen)
{
	if ((hlen == 9 && !strncasecmp(host, "localhost", 9)) ||
	    (hlen == 5 && !strncmp(host, "[::1]", 5)))
		return true;
	if (hlen < 7 || strncmp(host, "127.", 4))
		return false;
	for (size_t i = 0; i < hlen; i++)	/* 127.0.0.1.example.com is not */
		if (!isdigit((unsigned char) host[i]) && host[i] != '.')
			return false;
	return true;
}

/* Prices=retail, or the absolute path of a file of prices. */
static int _check_prices(const char *v, char *why, size_t n)
{
	if (!strcmp(v, "retail"))
		return 0;
	if (v[0] != '/') {
		snprintf(why, n, "expected 'retail' (the Azure Retail Prices API) "
			 "or the absolute path of a file of prices");
		return -1;
	}
	return _check_abs_path(v, why, n);
}

static int _check_url_common(const char *v, char *why, size_t n, bool imds)
{
	const char *host;
	size_t hlen;

	if (!strncasecmp(v, "https://", 8) && !_url_host(v, &host, &hlen))
		return 0;
	if (!strncasecmp(v, "http://", 7) && !_url_host(v, &host, &hlen)) {
		if (_is_loopback(host, hlen))
			return 0;
		if (imds && hlen == 15 && !strncmp(host, "169.254.169.254", 15))
			return 0;
		snprintf(why, n, "plain http is accepted only for loopback "
			 "(127.0.0.1, localhost, [::1])%s; use https",
			 imds ? " and 169.254.169.254" : "");
		return -1;
	}
	snprintf(why, n, "expected a URL like https://host[:port][/path]");
	return -1;
}

static int _check_url(const char *v, char *why, size_t n)
{
	return _check_url_common(v, why, n, false);
}

static int _check_imds_url(const char *v, char *why, size_t n)
{
	return _check_url_common(v, why, n, true);
}

static int _check_abs_path(const char *v, char *why, size_t n)
{
	if (v[0] == '/' && strlen(v) < PATH_MAX)
		return 0;
	snprintf(why, n, "expected an absolute path");
	return -1;
}

static int _check_cluster_name(const char *v, char *why, size_t n)
{
	size_t len = strlen(v);

	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) v[i]) && v[i] != '-' && v[i] != '_')
			goto bad;
	if (len >= 1 && len <= 40)
		return 0;
bad:
	snprintf(why, n, "expected 1-40 letters, digits, '-' or '_'");
	return -1;
}

static int _check_image(const char *v, char *why, size_t n)
{
	int parts = 1;

	if (!strncasecmp(v, "/subscriptions/", 15) && !strchr(v, ' '))
		return 0;
	for (const char *s = v; *s; s++) {
		if (*s == ':') {
			if (s == v || s[1] == ':' || s[1] == '\0')
				goto bad;
			parts++;
		} else if (!isalnum((unsigned char) *s) && !strchr("-_.", *s)) {
			goto bad;
		}
	}
	if (parts == 4)
		return 0;
bad:
	snprintf(why, n, "expected Publisher:Offer:Sku:Version or an image "
		 "resource id (/subscriptions/...)");
	return -1;
}

/* A resource id of Microsoft.Compute/TYPE (WHAT, for the message), whole:
 * no blank, query or fragment. */
static int _check_compute_id(const char *v, const char *type,
			     const char *what, char *why, size_t n)
{
	char part[96];

	snprintf(part, sizeof(part), "/providers/Microsoft.Compute/%s/", type);
	if (!strncasecmp(v, "/subscriptions/", 15) && strcasestr(v, part) &&
	    !strchr(v, ' ') && !strchr(v, '?') && !strchr(v, '#') &&
	    strlen(v) < 512)
		return 0;
	snprintf(why, n, "expected %s resource id: /subscriptions/SUB/"
		 "resourceGroups/RG/providers/Microsoft.Compute/%s/NAME",
		 what, type);
	return -1;
}

static int _check_ppg(const char *v, char *why, size_t n)
{
	return _check_compute_id(v, "proximityPlacementGroups",
				 "a proximity placement group", why, n);
}

static int _check_avset(const char *v, char *why, size_t n)
{
	return _check_compute_id(v, "availabilitySets", "an availability set",
				 why, n);
}

static int _check_subnet(const char *v, char *why, size_t n)
{
	if (!strncasecmp(v, "/subscriptions/", 15) && strstr(v, "/subnets/") &&
	    !strchr(v, ' ') && !strchr(v, '?') && !strchr(v, '#'))
		return 0;
	snprintf(why, n, "expected a subnet resource id: /subscriptions/.../"
		 "virtualNetworks/VNET/subnets/NAME");
	return -1;
}

static int _check_admin_user(const char *v, char *why, size_t n)
{
	static const char *reserved[] = { "root", "admin", "administrator",
					  "guest", "user", "test", NULL };
	size_t len = strlen(v);

	for (int i = 0; reserved[i]; i++)
		if (!strcasecmp(v, reserved[i])) {
			snprintf(why, n, "'%s' is reserved by Azure", v);
			return -1;
		}
	if (len < 1 || len > 32 || !(islower((unsigned char) v[0]) || v[0] == '_'))
		goto bad;
	for (size_t i = 1; i < len; i++)
		if (!islower((unsigned char) v[i]) &&
		    !isdigit((unsigned char) v[i]) && !strchr("_-", v[i]))
			goto bad;
	return 0;
bad:
	snprintf(why, n, "expected a Linux user name: 1-32 of a-z, 0-9, '_', '-'");
	return -1;
}

static int _check_zone(const char *v, char *why, size_t n)
{
	if ((v[0] == '1' || v[0] == '2' || v[0] == '3') && v[1] == '\0')
		return 0;
	snprintf(why, n, "expected an availability zone: 1, 2 or 3");
	return -1;
}

static int _check_tags(const char *v, char *why, size_t n)
{
	const char *s = v;
	int count = 0;

	while (*s) {
		size_t klen = strcspn(s, ":,"), vlen;

		if (klen == 0 || klen > 512 || s[klen] != ':')
			goto bad;
		for (size_t i = 0; i < klen; i++)
			if (strchr("<>%&\\?/", s[i]) || !isprint((unsigned char) s[i]))
				goto bad;
		if (!strncasecmp(s, "slurm-", 6)) {
			snprintf(why, n, "tag names starting with 'slurm-' are "
				 "reserved for slurm-azureml");
			return -1;
		}
		s += klen + 1;
		vlen = strcspn(s, ",");
		if (vlen > 256)
			goto bad;
		for (size_t i = 0; i < vlen; i++)
			if (!isprint((unsigned char) s[i]))
				goto bad;
		s += vlen;
		if (*s == ',')
			s++;
		if (++count > 40)
			goto bad;
	}
	if (count)
		return 0;
bad:
	snprintf(why, n, "expected name:value[,name:value...] (at most 40 tags; "
		 "names without < > %% & \\ ? /)");
	return -1;
}

static int _check_cuda(const char *v, char *why, size_t n)
{
	int ma, mi;

	if (azml_cuda_parse(v, &ma, &mi) == 0)
		return 0;
	snprintf(why, n, "expected a CUDA version like 12.0");
	return -1;
}

static int _check_gres(const char *v, char *why, size_t n)
{
	azml_gres_t g;
	char reason[256];

	if (azml_gres_parse(v, &g, reason, sizeof(reason)) < 0) {
		snprintf(why, n, "expected NAME[:TYPE]:COUNT[,...] like "
			 "gpu:a100:4: %s", reason);
		return -1;
	}
	if (azml_gres_check_node(&g, why, n) < 0)
		return -1;
	return 0;
}

/* NAME[RANGES]... with balanced brackets holding digits, '-' and ','. */
static bool _hostlist_syntax(const char *v)
{
	bool in = false;

	if (!*v || strlen(v) > 4096)
		return false;
	for (const char *s = v; *s; s++) {
		if (*s == '[') {
			if (in || s[1] == ']')
				return false;
			in = true;
		} else if (*s == ']') {
			if (!in || !isdigit((unsigned char) s[-1]))
				return false;
			in = false;
		} else if (in) {
			if (!isdigit((unsigned char) *s) && *s != '-' && *s != ',')
				return false;
		} else if (!isalnum((unsigned char) *s) && !strchr("-_.,", *s)) {
			return false;
		}
	}
	return !in;
}

static int _check_word(const char *v, char *why, size_t n)
{
	for (const char *s = v; *s; s++)
		if (!isalnum((unsigned char) *s) && !strchr("_-.", *s)) {
			snprintf(why, n, "only letters, digits, '_', '-' and '.' "
				 "are allowed");
			return -1;
		}
	return 0;
}

static int _check_target_name(const char *v, char *why, size_t n)
{
	size_t len = strlen(v);

	/* Azure ML: 2-16 characters, letters, digits and '-', starting with a
	 * letter; it also names Slurm partitions, nodes and Azure VMs. */
	if (len < 2 || len > 16 || !isalpha((unsigned char) v[0]) ||
	    v[len - 1] == '-')
		goto bad;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char) v[i]) && v[i] != '-')
			goto bad;
	return 0;
bad:
	snprintf(why, n, "a compute target name has 2-16 letters, digits and "
		 "'-', starts with a letter and does not end with '-'");
	return -1;
}

/* NAME[,NAME...]: at most MAX_FALLBACK target names, none twice (names are
 * case-insensitive).  Whether they exist is known only at the end. */
static int _check_names(const char *v, char *why, size_t n)
{
	const char *item[MAX_FALLBACK];
	size_t len[MAX_FALLBACK];

	for (int count = 0;; count++) {
		const char *s = count ? item[count - 1] + len[count - 1] + 1 : v;
		char name[20], inner[200];

		if (count == MAX_FALLBACK) {
			snprintf(why, n, "at most %d targets", MAX_FALLBACK);
			return -1;
		}
		item[count] = s;
		len[count] = strcspn(s, ",");
		/* 17 bytes are enough to tell a name that is too long */
		snprintf(name, sizeof(name), "%.*s",
			 (int) (len[count] > 17 ? 17 : len[count]), s);
		if (_check_target_name(name, inner, sizeof(inner))) {
			snprintf(why, n, "'%s%s' is not a target name: %s", name,
				 len[count] > 17 ? "..." : "", inner);
			return -1;
		}
		for (int i = 0; i < count; i++)
			if (len[i] == len[count] &&
			    !strncasecmp(item[i], s, len[count])) {
				snprintf(why, n, "'%s' is named twice", name);
				return -1;
			}
		if (s[len[count]] == '\0')
			return 0;
	}
}

/* ---------------------------------------------------------------------- */

static const keydef_t *_find_key(const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < sizeof(key_tab) / sizeof(key_tab[0]); i++)
		if (strlen(key_tab[i].name) == len &&
		    !strncasecmp(key_tab[i].name, name, len)) {
			*idx = i;
			return &key_tab[i];
		}
	return NULL;
}

static const char *_where_name(int where)
{
	switch (where) {
	case W_CLUSTER: return "ComputeCluster";
	case W_INSTANCE: return "ComputeInstance";
	case W_ATTACHED: return "AttachedCompute";
	default: return "a global line";
	}
}

/*
 * A key that is unknown (K NULL) or belongs on other lines than the one it
 * is on: KLEN bytes of WORD name it, ON says where it was ("on a global
 * line").  The message says where a known key belongs.
 */
static void _bad_key(parser_t *p, const keydef_t *k, const char *word,
		     size_t klen, const char *on, const char *file, int line)
{
	static const struct { int bit; const char *name; } lines[] = {
		{ W_GLOBAL, "global" }, { W_CLUSTER, "ComputeCluster" },
		{ W_INSTANCE, "ComputeInstance" }, { W_ATTACHED, "AttachedCompute" },
	};
	char key[80], shown[300], hint[160] = "";
	size_t len = 0, left = 0;

	snprintf(key, sizeof(key), "%.*s", (int) (klen > 64 ? 64 : klen), word);
	for (size_t i = 0; k && i < sizeof(lines) / sizeof(lines[0]); i++)
		left += !!(k->where & lines[i].bit);
	for (size_t i = 0; k && i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!(k->where & lines[i].bit))
			continue;
		len += snprintf(hint + len, sizeof(hint) - len, "%s%s",
				!len ? " (it belongs on " :
				left == 1 ? " and " : ", ", lines[i].name);
		left--;
	}
	if (len)
		snprintf(hint + len, sizeof(hint) - len, " lines)");
	_err(p, file, line, "unknown key '%s' %s%s",
	     _show(key, shown, sizeof(shown)), on, hint);
}

/* Split LINE into words in place; double quotes group, '#' starts a comment.
 * Returns the number of words, -1 on an unterminated quote, -2 when more
 * than MAX. */
static int _split(char *line, char **words, int max)
{
	int n = 0;
	char *s = line, *d;

	for (;;) {
		bool quoted = false;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '#')
			return n;
		if (n == max)
			return -2;
		words[n++] = d = s;
		while (*s && (quoted || (*s != ' ' && *s != '\t' && *s != '#'))) {
			if (*s == '"')
				quoted = !quoted;
			else
				*d++ = *s;
			s++;
		}
		if (quoted)
			return -1;
		if (*s == '#') {
			*d = '\0';
			return n;
		}
		if (*s)
			s++;
		*d = '\0';
	}
}

static void _parse_file(parser_t *p, const char *path, const char *from_file,
			int from_line);

static void _free_names(char **names)
{
	for (size_t i = 0; names && names[i]; i++)
		free(names[i]);
	free(names);
}

/* A checked NAME[,NAME...] as a NULL-terminated array. */
static char **_split_names(const char *v)
{
	size_t count = 1, i = 0;
	char **names;

	for (const char *s = v; *s; s++)
		count += *s == ',';
	if (!(names = calloc(count + 1, sizeof(*names))))
		abort();
	for (const char *s = v;; s++) {
		size_t len = strcspn(s, ",");

		if (!(names[i++] = strndup(s, len)))
			abort();
		s += len;
		if (!*s)
			return names;
	}
}

static int _set_value(parser_t *p, const keydef_t *k, void *base, size_t off,
		      const char *val, const char *file, int line)
{
	char why[256], shown[300];

	if (k->check && k->check(val, why, sizeof(why))) {
		_err(p, file, line, "%s='%s': %s", k->name,
		     _show(val, shown, sizeof(shown)), why);
		return -1;
	}
	switch (k->type) {
	case K_STR: {
		char **slot = (char **) ((char *) base + off);

		free(*slot);
		*slot = _xstrdup(val);
		return 0;
	}
	case K_NAMES: {
		char ***slot = (char ***) ((char *) base + off);

		_free_names(*slot);
		*slot = _split_names(val);
		return 0;
	}
	case K_INT: {
		char *end;
		long v;

		/* IdleSecondsBeforeScaledown=auto: reconcile learns it (cost.h);
		 * until it has, AZML_IDLE_AUTO_START */
		bool idle = !strcmp(k->name, "IdleSecondsBeforeScaledown");

		if (idle && !strcmp(val, "auto")) {
			((azml_target_t *) base)->idle_auto = true;
			*(int *) ((char *) base + off) = AZML_IDLE_AUTO_START;
			return 0;
		}
		errno = 0;
		v = strtol(val, &end, 10);
		if (!isdigit((unsigned char) val[0]) || *end || errno ||
		    v < k->lo || v > k->hi) {
			_err(p, file, line, "%s='%s': expected a whole number "
			     "from %d to %d%s", k->name,
			     _show(val, shown, sizeof(shown)), k->lo, k->hi,
			     idle ? ", or auto" : "");
			return -1;
		}
		if (idle)
			((azml_target_t *) base)->idle_auto = false;
		*(int *) ((char *) base + off) = (int) v;
		return 0;
	}
	case K_BOOL: {
		bool *slot = (bool *) ((char *) base + off);

		if (!strcasecmp(val, "yes") || !strcasecmp(val, "true") ||
		    !strcmp(val, "1"))
			*slot = true;
		else if (!strcasecmp(val, "no") || !strcasecmp(val, "false") ||
			 !strcmp(val, "0"))
			*slot = false;
		else {
			_err(p, file, line, "%s='%s': expected yes or no",
			     k->name, _show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_PRIO: {
		azml_priority_t *slot = (azml_priority_t *) ((char *) base + off);

		if (!strcasecmp(val, "Dedicated"))
			*slot = AZML_DEDICATED;
		else if (!strcasecmp(val, "LowPriority"))
			*slot = AZML_LOW_PRIORITY;
		else {
			_err(p, file, line, "Priority='%s': expected Dedicated "
			     "or LowPriority", _show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_PROV: {
		azml_provisioning_t *slot = (azml_provisioning_t *)
					    ((char *) base + off);

		if (!strcasecmp(val, "VirtualMachines"))
			*slot = AZML_PROV_VMS;
		else if (!strcasecmp(val, "ScaleSet"))
			*slot = AZML_PROV_SCALE_SET;
		else {
			_err(p, file, line, "Provisioning='%s': expected "
			     "VirtualMachines or ScaleSet",
			     _show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	case K_CRED: {
		azml_conf_t *c = p->conf;

		if (!strcasecmp(val, "managed-identity")) {
			c->credential = AZML_CRED_MANAGED_IDENTITY;
		} else if (!strcasecmp(val, "env")) {
			c->credential = AZML_CRED_ENV;
		} else if (!strncasecmp(val, "client-secret:", 14)) {
			if (_check_abs_path(val + 14, why, sizeof(why))) {
				_err(p, file, line, "Credential='%s': the secret "
				     "file: %s", _show(val, shown, sizeof(shown)),
				     why);
				return -1;
			}
			c->credential = AZML_CRED_CLIENT_SECRET;
			free(c->secret_file);
			c->secret_file = _xstrdup(val + 14);
		} else {
			_err(p, file, line, "Credential='%s': expected "
			     "managed-identity, client-secret:/PATH or env",
			     _show(val, shown, sizeof(shown)));
			return -1;
		}
		return 0;
	}
	}
	return -1;
}

static void _target_free(azml_target_t *t)
{
	free(t->name); free(t->vm_size); free(t->nodes);
	free(t->gres); free(t->gpu_type); free(t->cuda);
	free(t->image); free(t->subnet);
	free(t->admin_user); free(t->ssh_public_key);
	free(t->zone); free(t->tags); free(t->file); free(t->ppg); free(t->avset);
	free(t->slurmctld_host); free(t->munge_key_secret);
	free(t->job_identity);
	free(t->identity); free(t->node_setup_script);
	_free_names(t->fallback);
}

/* The VM size of a cluster or instance: known, allowed for this kind. */
static bool _check_vm_size(parser_t *p, azml_target_t *t, const char *file,
			   int line)
{
	char shown[300];
	const azml_series_t *s;

	if (!t->vm_size) {
		_err(p, file, line, "%s '%s' needs VmSize=",
		     t->kind == AZML_CLUSTER ? "ComputeCluster" :
		     "ComputeInstance", t->name);
		return false;
	}
	if (azml_catalog_resolve(t->vm_size, &t->size)) {
		_err(p, file, line, "unknown VM size '%s' (see 'slurm-azureml "
		     "catalog' for the supported series)",
		     _show(t->vm_size, shown, sizeof(shown)));
		return false;
	}
	if (!t->size.size) {
		_err(p, file, line, "VM size '%s' (series %s) is not in the "
		     "catalog's size table, so its CPUs and memory are unknown",
		     t->vm_size, t->size.series->name);
		return false;
	}
	s = t->size.series;
	free(t->vm_size);
	t->vm_size = _xstrdup(t->size.name);
	t->cpus = t->size.size->vcpus;
	t->real_memory = t->size.size->memory_mib;
	if (s->approval_required && !t->quota_approved) {
		_err(p, file, line, "VM size '%s' is series %s, which needs a "
		     "quota approval from Azure support; once granted, add "
		     "QuotaApproved=yes", t->vm_size, s->name);
		return false;
	}
	if (t->kind == AZML_INSTANCE && !s->compute_instance) {
		_err(p, file, line, "VM size '%s' is series %s, which Azure ML "
		     "supports on compute clusters only, not on instances",
		     t->vm_size, s->name);
		return false;
	}
	return true;
}

/*
 * The GPUs of T: its Gres= (attached) or its VM size's, through the one gres
 * parser.  Sets gres, gpus, gpu_type and gpu_arch, and refuses a Cuda= that
 * the declared GPU types cannot run.
 */
static bool _target_gpus(parser_t *p, azml_target_t *t, const char *file,
			 int line)
{
	azml_gres_t g;
	char why[256];
	const char *type;
	bool one_arch = true, cuda;
	int ma = 0, mi = 0;

	if (t->kind != AZML_ATTACHED && t->size.size && t->size.size->gpus) {
		char model[16];
		size_t i;

		for (i = 0; t->size.size->gpu_model &&
			    t->size.size->gpu_model[i] && i < sizeof(model) - 1;
		     i++)
			model[i] = tolower((unsigned char)
					   t->size.size->gpu_model[i]);
		model[i] = '\0';
		free(t->gres);
		if (asprintf(&t->gres, "gpu:%s:%d", model,
			     t->size.size->gpus) < 0)
			abort();
	}
	if (!t->gres)
		return true;
	if (azml_gres_parse(t->gres, &g, why, sizeof(why)) < 0) {
		/* Gres= was checked when read: only a catalog entry gets here */
		_err(p, file, line, "the gres of '%s' ('%s'): %s", t->name,
		     t->gres, why);
		return false;
	}
	t->gpus = (int) g.gpus;
	type = azml_gres_gpu_type(&g);
	t->gpu_type = type ? _xstrdup(type) : NULL;
	if (t->kind != AZML_ATTACHED) {
		t->gpu_arch = t->size.arch;
		return true;
	}
	/* Attached: the architecture every GPU type names, if one (a bad
	 * Cuda= is reported by its own check). */
	cuda = t->cuda && !azml_cuda_parse(t->cuda, &ma, &mi);
	for (size_t i = 0; i < g.n; i++) {
		const azml_gres_ent_t *e = &g.ent[i];
		const azml_gpu_arch_t *a;

		if (!azml_gres_is_gpu(e))
			continue;
		a = e->type[0] ? azml_catalog_arch_of_model(e->type) : NULL;
		if (!a || (t->gpu_arch && t->gpu_arch != a))
			one_arch = false;
		else if (one_arch)
			t->gpu_arch = a;
		if (a && cuda && !azml_arch_supports_cuda(a, ma, mi)) {
			_err(p, file, line, "Cuda=%s: the %s GPUs of Gres=%s "
			     "are %s, which runs CUDA %s%s%s", t->cuda,
			     e->type, t->gres, a->arch, a->min_cuda,
			     a->max_cuda ? " to " : " and later",
			     a->max_cuda ? a->max_cuda : "");
			return false;
		}
	}
	if (!one_arch)
		t->gpu_arch = NULL;
	return true;
}

/* The kind of target a line starts with (KEY is KLEN long); returns the
 * W_* mask of the keys allowed on it. */
static int _target_kind(azml_target_t *t, const char *key, size_t klen)
{
	if (klen == 14 && !strncasecmp(key, "ComputeCluster", 14)) {
		t->kind = AZML_CLUSTER;
		return W_CLUSTER;
	}
	if (klen == 15 && !strncasecmp(key, "ComputeInstance", 15)) {
		t->kind = AZML_INSTANCE;
		t->max_nodes = 1;
		return W_INSTANCE;
	}
	t->kind = AZML_ATTACHED;
	return W_ATTACHED;
}

/* NAME is valid and no other target's.  Returns 0, or -1 after saying why. */
static int _target_name(parser_t *p, int where, const char *name,
			const char *file, int line)
{
	azml_conf_t *c = p->conf;
	char why[256], shown[300];

	if (_check_target_name(name, why, sizeof(why))) {
		_err(p, file, line, "%s='%s': %s", _where_name(where),
		     _show(name, shown, sizeof(shown)), why);
		return -1;
	}
	for (size_t i = 0; i < c->ntargets; i++)
		if (!strcasecmp(c->targets[i].name, name)) {
			_err(p, file, line, "duplicate compute target '%s' "
			     "(first defined at %s:%d)", name,
			     c->targets[i].file, c->targets[i].line);
			return -1;
		}
	return 0;
}

/*
 * The Key=Value words of a target line after its first; SEEN gets a bit per
 * key given.  Returns false when any word is bad (each said), true otherwise.
 */
static bool _target_words(parser_t *p, azml_target_t *t, int where,
			  char **words, int nwords, unsigned long long *seen,
			  const char *file, int line)
{
	char shown[300];
	bool ok = true;

	for (int w = 1; w < nwords; w++) {
		const char *weq = strchr(words[w], '=');
		const keydef_t *k;
		size_t idx;

		if (!weq || weq == words[w]) {
			_err(p, file, line, "'%s': expected Key=Value",
			     _show(words[w], shown, sizeof(shown)));
			ok = false;
			continue;
		}
		k = _find_key(words[w], weq - words[w], &idx);
		if (!k || !(k->where & where)) {
			char on[80];

			snprintf(on, sizeof(on), "for %s '%s'",
				 _where_name(where), t->name);
			_bad_key(p, k, words[w], weq - words[w], on, file,
				 line);
			ok = false;
			continue;
		}
		if (*seen & (1ULL << idx)) {
			_err(p, file, line, "%s given twice for '%s'", k->name,
			     t->name);
			ok = false;
			continue;
		}
		*seen |= 1ULL << idx;
		if (_set_value(p, k, t, k->toff, weq + 1, file, line))
			ok = false;
	}
	return ok;
}

/* A cluster's MaxNodes= given (SEEN: the keys given), MinNodes not above it. */
static bool _check_cluster_size(parser_t *p, const azml_target_t *t,
				unsigned long long seen, const char *file,
				int line)
{
	size_t maxidx = 0;

	_find_key("MaxNodes", 8, &maxidx);
	if (!(seen & (1ULL << maxidx))) {
		_err(p, file, line, "ComputeCluster '%s' needs MaxNodes=",
		     t->name);
		return false;
	}
	if (t->max_nodes && t->min_nodes > t->max_nodes) {
		_err(p, file, line, "MinNodes=%d is more than MaxNodes=%d",
		     t->min_nodes, t->max_nodes);
		return false;
	}
	return true;
}

/* An attached target's Nodes=: a hostlist of 1 to MAX_NODES nodes. */
static bool _attached_nodes(parser_t *p, azml_target_t *t, const char *file,
			    int line)
{
	azml_hostlist_t hl = NULL;
	char shown[300];
	bool ok = false;

	if (!t->nodes) {
		_err(p, file, line, "AttachedCompute '%s' needs Nodes=",
		     t->name);
		return false;
	}
	if (_hostlist_syntax(t->nodes))
		hl = slurm_hostlist_create(t->nodes);
	if (!hl || slurm_hostlist_count(hl) < 1 ||
	    slurm_hostlist_count(hl) > MAX_NODES) {
		_err(p, file, line, "Nodes='%s': expected a Slurm hostlist "
		     "like lab[01-04] (at most %d nodes)",
		     _show(t->nodes, shown, sizeof(shown)), MAX_NODES);
	} else {
		t->node_count = slurm_hostlist_count(hl);
		ok = true;
	}
	if (hl)
		slurm_hostlist_destroy(hl);
	return ok;
}

/* The nodes of T: Nodes= checked (attached), else named after T. */
static bool _target_nodes(parser_t *p, azml_target_t *t, const char *file,
			  int line)
{
	if (t->kind == AZML_ATTACHED)
		return _attached_nodes(p, t, file, line);
	if (t->kind == AZML_CLUSTER && t->max_nodes > 0) {
		int n = t->max_nodes == 1 ?
			asprintf(&t->nodes, "%s-1", t->name) :
			asprintf(&t->nodes, "%s-[1-%d]", t->name, t->max_nodes);
		if (n < 0)
			abort();
		t->node_count = t->max_nodes;
	} else if (t->kind == AZML_INSTANCE) {
		t->nodes = _xstrdup(t->name);
		t->node_count = 1;
	}
	return true;
}

/*
 * A ComputeCluster=, ComputeInstance= or AttachedCompute= line: its kind,
 * its name, its words, then the rules on the whole target.  A good target is
 * added to the configuration; a bad one is dropped, each problem said.
 */
static void _target_line(parser_t *p, char **words, int nwords,
			 const char *file, int line)
{
	azml_conf_t *c = p->conf;
	azml_target_t t;
	const char *eq = strchr(words[0], '=');
	unsigned long long seen = 0;
	bool bad = false;
	int where;

	memset(&t, 0, sizeof(t));
	t.idle_seconds = 120;
	t.capacity_backoff = -1;	/* not set */
	where = _target_kind(&t, words[0], eq - words[0]);
	if (_target_name(p, where, eq + 1, file, line))
		return;
	t.name = _xstrdup(eq + 1);
	t.file = _xstrdup(file);
	t.line = line;

	if (!_target_words(p, &t, where, words, nwords, &seen, file, line))
		bad = true;
	/* Whole-target rules. */
	if (t.kind != AZML_ATTACHED && !_check_vm_size(p, &t, file, line))
		bad = true;
	if (t.kind == AZML_CLUSTER &&
	    !_check_cluster_size(p, &t, seen, file, line))
		bad = true;
	if (!_target_nodes(p, &t, file, line))
		bad = true;
	if (!bad && !_target_gpus(p, &t, file, line))
		bad = true;
	if (bad) {
		_target_free(&t);
		return;
	}
	c->targets = realloc(c->targets, (c->ntargets + 1) * sizeof(t));
	if (!c->targets)
		abort();
	c->targets[c->ntargets++] = t;
}

/* Remember where a global file key was set (azml_conf_check_files). */
static void _where(azml_conf_t *c, size_t off, const char *file, int line)
{
	char **slot = off == G(state_dir) ? &c->state_dir_at :
		      off == G(log_file) ? &c->log_file_at :
		      off == G(prices) ? &c->prices_at :
		      off == G(ssh_public_key) ? &c->ssh_public_key_at : NULL;

	if (!slot)
		return;
	free(*slot);
	if (asprintf(slot, "%s:%d", file, line) < 0)
		abort();
}

static void _global_line(parser_t *p, char **words, int nwords,
			 const char *file, int line)
{
	char shown[300];

	for (int w = 0; w < nwords; w++) {
		const char *weq = strchr(words[w], '=');
		const keydef_t *k;
		size_t idx;

		if (!weq || weq == words[w]) {
			_err(p, file, line, "'%s': expected Key=Value",
			     _show(words[w], shown, sizeof(shown)));
			continue;
		}
		if (weq - words[w] == 7 && !strncasecmp(words[w], "Include", 7)) {
			_parse_file(p, weq + 1, file, line);
			continue;
		}
		k = _find_key(words[w], weq - words[w], &idx);
		if (!k || !(k->where & W_GLOBAL)) {
			_bad_key(p, k, words[w], weq - words[w],
				 "on a global line", file, line);
			continue;
		}
		/* A bad value is reported as such; a good one set twice too. */
		if (_set_value(p, k, p->conf, k->goff, weq + 1, file, line) == 0 &&
		    (p->gset & (1ULL << idx)))
			_err(p, file, line, "%s is set twice", k->name);
		_where(p->conf, k->goff, file, line);
		p->gset |= 1ULL << idx;
	}
}

static void _parse_line(parser_t *p, char *buf, const char *file, int line)
{
	char *words[128];
	int n;

	for (unsigned char *s = (unsigned char *) buf; *s; s++)
		if ((*s < 0x20 && *s != '\t') || *s >= 0x7f) {
			_err(p, file, line, "invalid byte 0x%02x: azureml.conf "
			     "is ASCII text", *s);
			return;
		}
	/* "Include FILE", as in slurm.conf */
	if (!strncasecmp(buf, "Include", 7) && (buf[7] == ' ' || buf[7] == '\t')) {
		n = _split(buf + 8, words, 2);
		if (n != 1) {
			_err(p, file, line, "Include takes one file name");
			return;
		}
		_parse_file(p, words[0], file, line);
		return;
	}
	n = _split(buf, words, 128);
	if (n == -1) {
		_err(p, file, line, "unterminated quote");
		return;
	}
	if (n == -2) {
		_err(p, file, line, "too many words on one line");
		return;
	}
	if (n == 0)
		return;
	if (!strncasecmp(words[0], "ComputeCluster=", 15) ||
	    !strncasecmp(words[0], "ComputeInstance=", 16) ||
	    !strncasecmp(words[0], "AttachedCompute=", 16))
		_target_line(p, words, n, file, line);
	else
		_global_line(p, words, n, file, line);
}

static void _parse_stream(parser_t *p, FILE *fp, const char *file)
{
	char *buf = NULL, *acc = NULL;
	size_t cap = 0, acclen = 0;
	ssize_t len;
	int line = 0, start = 0;

	while ((len = getline(&buf, &cap, fp)) >= 0) {
		line++;
		if (memchr(buf, '\0', len)) {
			_err(p, file, line, "NUL byte: azureml.conf is ASCII text");
			acclen = 0;
			continue;
		}
		while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
			buf[--len] = '\0';
		if (acclen + len > MAX_LINE) {
			_err(p, file, start ? start : line,
			     "line longer than %d bytes", MAX_LINE);
			acclen = 0;
			start = 0;
			continue;
		}
		if (!acclen)
			start = line;
		acc = realloc(acc, acclen + len + 2);
		if (!acc)
			abort();
		memcpy(acc + acclen, buf, len + 1);
		acclen += len;
		/* A trailing backslash continues the line. */
		if (acclen && acc[acclen - 1] == '\\') {
			acc[acclen - 1] = ' ';
			continue;
		}
		_parse_line(p, acc, file, start);
		acclen = 0;
	}
	if (acclen)
		_parse_line(p, acc, file, start);
	free(acc);
	free(buf);
}

/* Remember PATH among the files this configuration comes from. */
static void _note_file(azml_conf_t *c, const char *path)
{
	char **more;

	for (size_t i = 0; i < c->nfiles; i++)
		if (!strcmp(c->files[i], path))
			return;
	if (!(more = realloc(c->files, (c->nfiles + 1) * sizeof(*more))))
		abort();
	c->files = more;
	c->files[c->nfiles++] = _xstrdup(path);
}

static void _parse_file(parser_t *p, const char *path, const char *from_file,
			int from_line)
{
	char *full = NULL, *dir, *tmp;
	FILE *fp;

	if (from_file && path[0] != '/') {
		tmp = _xstrdup(from_file);
		dir = dirname(tmp);
		if (asprintf(&full, "%s/%s", dir, path) < 0)
			abort();
		free(tmp);
	} else {
		full = _xstrdup(path);
	}
	if (p->depth >= MAX_INCLUDE) {
		_err(p, from_file, from_line, "Include nested more than %d deep",
		     MAX_INCLUDE);
		goto out;
	}
	for (int i = 0; i < p->depth; i++)
		if (!strcmp(p->include_stack[i], full)) {
			_err(p, from_file, from_line, "Include of '%s' loops "
			     "back to a file being read", full);
			goto out;
		}
	_note_file(p->conf, full);
	fp = fopen(full, "r");
	if (!fp) {
		if (from_file)
			_err(p, from_file, from_line, "cannot read '%s': %s",
			     full, strerror(errno));
		else
			_err(p, full, 0, "cannot read: %s", strerror(errno));
		goto out;
	}
	p->include_stack[p->depth++] = full;
	_parse_stream(p, fp, full);
	p->depth--;
	fclose(fp);
out:
	free(full);
}

static bool _node_in_target(const azml_target_t *t, const char *node)
{
	size_t len = strlen(t->name);

	switch (t->kind) {
	case AZML_CLUSTER: {
		const char *s = node + len + 1;
		long n = 0;

		if (strncmp(node, t->name, len) || node[len] != '-' ||
		    !isdigit((unsigned char) *s) || *s == '0')
			return false;
		for (; isdigit((unsigned char) *s) && n <= MAX_NODES; s++)
			n = n * 10 + (*s - '0');
		return !*s && n >= 1 && n <= t->max_nodes;
	}
	case AZML_INSTANCE:
		return !strcmp(node, t->name);
	case AZML_ATTACHED: {
		azml_hostlist_t hl = slurm_hostlist_create(t->nodes);
		int found = hl ? slurm_hostlist_find(hl, node) : -1;

		if (hl)
			slurm_hostlist_destroy(hl);
		return found >= 0;
	}
	}
	return false;
}

/* Nodes named twice (an instance or attached node that is also another
 * target's node).  Cluster nodes are NAME-N and target names are unique, so
 * two clusters never share a node. */
static void _check_overlaps(parser_t *p)
{
	azml_conf_t *c = p->conf;

	for (size_t i = 0; i < c->ntargets; i++) {
		const azml_target_t *t = &c->targets[i];
		azml_hostlist_t hl;
		char *host;

		if (t->kind == AZML_CLUSTER)
			continue;
		hl = slurm_hostlist_create(t->nodes);
		while (hl && (host = slurm_hostlist_shift(hl))) {
			for (size_t j = 0; j < c->ntargets; j++) {
				const azml_target_t *o = &c->targets[j];

				/* a pair of non-clusters is reported once, at
				 * the later line */
				if (j == i || (o->kind != AZML_CLUSTER && j > i))
					continue;
				if (_node_in_target(o, host))
					_err(p, t->file, t->line, "node '%s' of "
					     "'%s' is also a node of '%s' (%s:%d)",
					     host, t->name, o->name, o->file,
					     o->line);
			}
			free(host);
		}
		if (hl)
			slurm_hostlist_destroy(hl);
	}
}

/*
 * A VM target's bootstrap settings, once inherited: a VM reads the munge
 * key with its managed identity, so MungeKeySecret= without Identity= can
 * never work (an error); without MungeKeySecret=, node-init cannot start
 * munge, so the VMs will not join by themselves (a warning: a site may
 * bake the key into its image, or boot VMs some other way).
 */
/*
 * Where a cluster's VMs are put (Azure's documented limits).  A Flexible
 * scale set with one fault domain holds at most AZML_SCALE_SET_MAX VMs and
 * has no InfiniBand; RDMA sizes reach each other over InfiniBand only in
 * one availability set (at most AZML_AVAILABILITY_SET_MAX VMs, no zones)
 * or a Uniform scale set.  A proximity placement group brings VMs close,
 * not onto one fabric.
 */
static void _check_placement(parser_t *p, const azml_target_t *t)
{
	bool sets = t->kind == AZML_CLUSTER &&
		    t->provisioning == AZML_PROV_SCALE_SET;

	if (t->kind != AZML_CLUSTER)
		return;
	if (sets && t->max_nodes > AZML_SCALE_SET_MAX)
		_err(p, t->file, t->line, "ComputeCluster '%s': MaxNodes=%d, but "
		     "a scale set (Provisioning=ScaleSet, Flexible, one fault "
		     "domain) holds at most %d VMs; split it into clusters of "
		     "%d or fewer", t->name, t->max_nodes, AZML_SCALE_SET_MAX,
		     AZML_SCALE_SET_MAX);
	if (t->avset && sets)
		_err(p, t->file, t->line, "ComputeCluster '%s': AvailabilitySet= "
		     "needs Provisioning=VirtualMachines (a VM is in a scale "
		     "set or an availability set, not both)", t->name);
	if (t->avset && t->zone)
		_err(p, t->file, t->line, "ComputeCluster '%s': AvailabilitySet= "
		     "and Zone= cannot go together (an availability set does "
		     "not span or pin zones)", t->name);
	if (t->avset && t->max_nodes > AZML_AVAILABILITY_SET_MAX)
		_err(p, t->file, t->line, "ComputeCluster '%s': MaxNodes=%d, but "
		     "an availability set holds at most %d VMs; set MaxNodes=%d "
		     "or less, or split the cluster", t->name, t->max_nodes,
		     AZML_AVAILABILITY_SET_MAX, AZML_AVAILABILITY_SET_MAX);
	if (!t->size.rdma || t->max_nodes < 2 || t->avset)
		return;
	_warn(p, t->file, t->line, "ComputeCluster '%s': %s is an RDMA size, "
	      "but %s share no InfiniBand fabric; for MPI over InfiniBand use "
	      "Provisioning=VirtualMachines with AvailabilitySet=ID (at most "
	      "%d nodes)", t->name, t->vm_size, sets ? "the VMs of a Flexible "
	      "scale set" : "VMs made one by one without an availability set",
	      AZML_AVAILABILITY_SET_MAX);
}

static void _check_bootstrap(parser_t *p, const azml_target_t *t)
{
	if (t->munge_key_secret && !t->identity)
		_err(p, t->file, t->line, "%s '%s' has MungeKeySecret= but no "
		     "Identity=: its VMs would have no identity to read the "
		     "secret with; add Identity=/subscriptions/.../"
		     "userAssignedIdentities/NAME (a user-assigned identity "
		     "allowed to get secrets of that vault), on this line or "
		     "a global one", _where_name(t->kind == AZML_CLUSTER ?
		     W_CLUSTER : W_INSTANCE), t->name);
	else if (!t->munge_key_secret)
		_warn(p, t->file, t->line, "%s '%s' has no MungeKeySecret=: "
		      "node-init cannot set up munge, so its VMs will not join "
		      "the cluster by themselves unless the image has the munge "
		      "key; set MungeKeySecret=https://VAULT.vault.azure.net/"
		      "secrets/NAME and Identity=", _where_name(t->kind ==
		      AZML_CLUSTER ? W_CLUSTER : W_INSTANCE), t->name);
	/* JobIdentity=: a second identity for jobs; the controller takes the
	 * node identity from each VM once its node registered (reconcile),
	 * which needs VMs made one by one and deleted at suspend. */
	if (t->job_identity) {
		const char *what = _where_name(t->kind == AZML_CLUSTER ?
					       W_CLUSTER : W_INSTANCE);

		if (!t->identity)
			_err(p, t->file, t->line, "%s '%s' has JobIdentity= but "
			     "no Identity=: JobIdentity is a second identity, "
			     "beside the node's", what, t->name);
		else if (!strcasecmp(t->identity, t->job_identity))
			_err(p, t->file, t->line, "%s '%s': JobIdentity= is "
			     "Identity=: jobs would get the identity that reads "
			     "the munge key; give jobs an identity of their own "
			     "with no access to it", what, t->name);
		if (t->kind != AZML_CLUSTER)
			_err(p, t->file, t->line, "ComputeInstance '%s': "
			     "JobIdentity= is for compute clusters only: an "
			     "instance started again needs its node identity "
			     "back to read the munge key", t->name);
		else if (t->provisioning == AZML_PROV_SCALE_SET)
			_err(p, t->file, t->line, "ComputeCluster '%s': "
			     "JobIdentity= needs Provisioning=VirtualMachines "
			     "(the node identity is taken from each VM by "
			     "itself; a scale set's VMs share the set's)",
			     t->name);
	}
	/* Least privilege: a VM should read the one key version the admin
	 * chose; without one, whoever may write the secret chooses the key
	 * of every new VM.  Key Vault's https URLs only: the emulator's
	 * loopback URLs are the tests'. */
	if (t->munge_key_secret && !strncmp(t->munge_key_secret, "https://", 8) &&
	    !azml_secret_url_versioned(t->munge_key_secret))
		_warn(p, t->file, t->line, "%s '%s': MungeKeySecret=%s names no "
		      "version: its VMs take whatever version is current, "
		      "set by anyone who may write the secret; name one "
		      "(.../secrets/NAME/VERSION, 'az keyvault secret show "
		      "--query id')", _where_name(t->kind == AZML_CLUSTER ?
		      W_CLUSTER : W_INSTANCE), t->name, t->munge_key_secret);
}

/* CUDA version V as one number that compares; NONE when V is NULL. */
static int _cuda_rank(const char *v, int none)
{
	int ma, mi;

	if (!v || azml_cuda_parse(v, &ma, &mi))
		return none;
	return ma * 1000 + mi;
}

/* "CUDA 9.0 to 11.8" / "CUDA 11.0 and later" of ARCH, into BUF. */
static const char *_cuda_range(const azml_gpu_arch_t *a, char *buf, size_t n)
{
	snprintf(buf, n, "CUDA %s%s%s", a->min_cuda,
		 a->max_cuda ? " to " : " and later",
		 a->max_cuda ? a->max_cuda : "");
	return buf;
}

/*
 * Jobs of cluster T that its fallback F can never take, as warnings at T's
 * line: routing leaves a fallback out of a job's partitions when it fails
 * the job's own --azure-* filters (route.c), so such a fallback only serves
 * some of T's jobs.
 */
static void _check_fallback(parser_t *p, const azml_target_t *t,
			    const azml_target_t *f)
{
	bool tlow = t->priority == AZML_LOW_PRIORITY;
	bool flow = f->kind == AZML_CLUSTER && f->priority == AZML_LOW_PRIORITY;

	if (t->gpus > 0 && f->gpus == 0)
		_warn(p, t->file, t->line, "ComputeCluster '%s' has Fallback=%s, "
		      "but '%s' (%s) has no GPU: jobs that ask for GPUs or CUDA "
		      "never fall back to it; list a target with GPUs in "
		      "Fallback=", t->name, f->name, f->name, f->vm_size);
	if (tlow != flow)
		_warn(p, t->file, t->line, "ComputeCluster '%s' is %s and its "
		      "Fallback=%s is %s: jobs with --azure-priority=%s never "
		      "fall back to it; list a target of the same Priority= in "
		      "Fallback=", t->name, tlow ? "low priority" : "dedicated",
		      f->name, flow ? "low priority" : f->kind == AZML_INSTANCE ?
		      "an instance (dedicated)" : "dedicated",
		      tlow ? "low" : "dedicated");
	if (t->size.isolated && !f->size.isolated)
		_warn(p, t->file, t->line, "ComputeCluster '%s' (%s) is an "
		      "isolated VM size and its Fallback=%s (%s) is not: jobs "
		      "with --azure-isolated never fall back to it; list an "
		      "isolated size in Fallback=", t->name, t->vm_size,
		      f->name, f->vm_size);
	if (t->gpus > 0 && f->gpus > 0 && t->gpu_arch && f->gpu_arch) {
		const azml_gpu_arch_t *ta = t->gpu_arch, *fa = f->gpu_arch;
		bool below = _cuda_rank(fa->min_cuda, 0) >
			     _cuda_rank(ta->min_cuda, 0);
		bool above = _cuda_rank(fa->max_cuda, INT_MAX) <
			     _cuda_rank(ta->max_cuda, INT_MAX);
		char tr[64], fr[64];

		if (below || above)
			_warn(p, t->file, t->line, "ComputeCluster '%s' has "
			      "Fallback=%s, but the %s GPUs of '%s' run %s and "
			      "the %s GPUs of '%s' %s: jobs with --azure-cuda "
			      "%s%s%s%s%s never fall back to it; list a target "
			      "whose GPUs run every CUDA version that '%s' runs",
			      t->name, f->name, fa->arch, f->name,
			      _cuda_range(fa, fr, sizeof(fr)), ta->arch,
			      t->name, _cuda_range(ta, tr, sizeof(tr)),
			      below ? "below " : "", below ? fa->min_cuda : "",
			      below && above ? " or " : "",
			      above ? "above " : "", above ? fa->max_cuda : "",
			      t->name);
	}
}

/* The clusters and instances other than T, for a message: "a, b and 3
 * more", or "none". */
static const char *_other_vm_targets(const azml_conf_t *c,
				     const azml_target_t *t, char *buf,
				     size_t n)
{
	size_t len = 0, listed = 0, more = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < c->ntargets; i++) {
		const azml_target_t *o = &c->targets[i];

		if (o == t || o->kind == AZML_ATTACHED)
			continue;
		if (listed == MAX_LISTED) {
			more++;
			continue;
		}
		len += snprintf(buf + len, n - len, "%s%s", listed ? ", " : "",
				o->name);
		if (len >= n)
			return buf;
		listed++;
	}
	if (more)
		snprintf(buf + len, n - len, " and %zu more", more);
	else if (!listed)
		snprintf(buf, n, "none");
	return buf;
}

/*
 * Fallback= names, once every target is read (a fallback may come later in
 * the file): each must be another cluster or an instance.  A good name is
 * set to the target's own spelling; each problem is said at T's line.
 */
static void _resolve_fallbacks(parser_t *p, azml_target_t *t)
{
	azml_conf_t *c = p->conf;
	char others[MAX_LISTED * 20 + 32];

	for (t->nfallback = 0; t->fallback && t->fallback[t->nfallback];
	     t->nfallback++) {
		char **name = &t->fallback[t->nfallback];
		const azml_target_t *f = azml_conf_find_target(c, *name);

		if (f == t) {
			_err(p, t->file, t->line, "ComputeCluster '%s' has "
			     "Fallback=%s: a cluster cannot fall back to "
			     "itself; list other clusters or instances",
			     t->name, *name);
		} else if (f && f->kind == AZML_ATTACHED) {
			_err(p, t->file, t->line, "ComputeCluster '%s' has "
			     "Fallback=%s: '%s' is AttachedCompute (%s:%d), "
			     "whose nodes slurm-azureml does not create; list a "
			     "ComputeCluster or ComputeInstance", t->name, *name,
			     f->name, f->file, f->line);
		} else if (!f) {
			_err(p, t->file, t->line, "ComputeCluster '%s' has "
			     "Fallback=%s, but no ComputeCluster or "
			     "ComputeInstance is named '%s'; configured: %s",
			     t->name, *name, *name,
			     _other_vm_targets(c, t, others, sizeof(others)));
		} else {
			free(*name);
			*name = _xstrdup(f->name);
			_check_fallback(p, t, f);
		}
	}
}

static void _finish(parser_t *p, const char *file)
{
	azml_conf_t *c = p->conf;
	static const struct { const char *key; size_t off; } required[] = {
		{ "ClusterName", G(cluster_name) },
		{ "SubscriptionId", G(subscription_id) },
		{ "ResourceGroup", G(resource_group) },
		{ "Location", G(location) },
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!*(char **) ((char *) c + required[i].off))
			_err(p, file, 0, "missing %s=", required[i].key);
	if (c->credential == AZML_CRED_CLIENT_SECRET &&
	    (!c->tenant_id || !c->client_id))
		_err(p, file, 0, "Credential=client-secret:... needs TenantId= "
		     "and ClientId=");
	if (!c->arm_endpoint)
		c->arm_endpoint = _xstrdup("https://management.azure.com");
	if (!c->authority_host)
		c->authority_host = _xstrdup("https://login.microsoftonline.com");
	if (!c->imds_endpoint)
		c->imds_endpoint = _xstrdup("http://169.254.169.254");
	if (!c->state_dir)
		c->state_dir = _xstrdup("/var/lib/slurm-azureml");
	if (c->prices && !strcmp(c->prices, "retail")) {
		free(c->prices);
		c->prices = NULL;
	}
	if (!c->prices_endpoint)
		c->prices_endpoint = _xstrdup("https://prices.azure.com");
	if (c->capacity_backoff < 0)		/* not set (0 is "no hold") */
		c->capacity_backoff = CAPACITY_BACKOFF;
	for (size_t i = 0; i < c->ntargets; i++) {
		azml_target_t *t = &c->targets[i];

		if (t->kind == AZML_ATTACHED) {
			t->capacity_backoff = 0;	/* no VM to hold */
			continue;
		}
		if (t->capacity_backoff < 0)
			t->capacity_backoff = c->capacity_backoff;
		_resolve_fallbacks(p, t);
#define INHERIT(f) if (!t->f && c->f) t->f = _xstrdup(c->f)
		INHERIT(image);
		INHERIT(subnet);
		INHERIT(admin_user);
		INHERIT(ssh_public_key);
		INHERIT(slurmctld_host);
		INHERIT(munge_key_secret);
		INHERIT(identity);
		INHERIT(job_identity);
		INHERIT(node_setup_script);
#undef INHERIT
		_check_bootstrap(p, t);
		_check_placement(p, t);
	}
	_check_overlaps(p);
}

static azml_conf_t *_new(const char *path)
{
	azml_conf_t *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->path = _xstrdup(path);
	c->capacity_backoff = -1;	/* not set */
	return c;
}

char *azml_conf_default_path(void)
{
	const char *env = getenv("AZUREML_CONF");
	const char *slurm_conf = getenv("SLURM_CONF");
	char *tmp, *out;

	if (env && *env)
		return _xstrdup(env);
	if (!slurm_conf || !*slurm_conf)
		return _xstrdup("/etc/slurm/azureml.conf");
	tmp = _xstrdup(slurm_conf);
	if (asprintf(&out, "%s/azureml.conf", dirname(tmp)) < 0)
		abort();
	free(tmp);
	return out;
}

azml_conf_t *azml_conf_load(const char *path)
{
	char *dflt = path ? NULL : azml_conf_default_path();
	azml_conf_t *c = _new(path ? path : dflt);
	parser_t p = { .conf = c };

	if (c) {
		size_t before = c->nerrors;

		_parse_file(&p, c->path, NULL, 0);
		/* An unreadable file says so once, not once per missing key. */
		if (c->nerrors == before || c->ntargets || p.gset)
			_finish(&p, c->path);
	}
	free(dflt);
	return c;
}

azml_conf_t *azml_conf_load_string(const char *text, const char *name)
{
	azml_conf_t *c = _new(name);
	parser_t p = { .conf = c };
	FILE *fp;

	if (!c)
		return NULL;
	fp = fmemopen((void *) text, strlen(text), "r");
	if (!fp) {
		azml_conf_destroy(c);
		return NULL;
	}
	p.include_stack[p.depth++] = name;
	_parse_stream(&p, fp, name);
	fclose(fp);
	_finish(&p, name);
	return c;
}

void azml_conf_destroy(azml_conf_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->ntargets; i++)
		_target_free(&c->targets[i]);
	free(c->targets);
	for (size_t i = 0; i < c->nerrors; i++)
		free(c->errors[i]);
	free(c->errors);
	for (size_t i = 0; i < c->nwarnings; i++)
		free(c->warnings[i]);
	free(c->warnings);
	for (size_t i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->path); free(c->cluster_name); free(c->subscription_id);
	free(c->resource_group); free(c->location); free(c->arm_endpoint);
	free(c->authority_host); free(c->imds_endpoint); free(c->secret_file);
	free(c->tenant_id); free(c->client_id); free(c->ca_bundle);
	free(c->state_dir_at); free(c->log_file_at);
	free(c->prices_at); free(c->ssh_public_key_at);
	free(c->log_file); free(c->state_dir); free(c->image);
	free(c->prices); free(c->prices_endpoint);
	free(c->subnet); free(c->admin_user); free(c->ssh_public_key);
	free(c->slurmctld_host); free(c->munge_key_secret);
	free(c->job_identity);
	free(c->identity); free(c->node_setup_script);
	free(c);
}

const azml_target_t *azml_conf_find_target(const azml_conf_t *c,
					   const char *name)
{
	for (size_t i = 0; c && name && i < c->ntargets; i++)
		if (!strcasecmp(c->targets[i].name, name))
			return &c->targets[i];
	return NULL;
}

const azml_target_t *azml_conf_target_of_node(const azml_conf_t *c,
					      const char *node)
{
	for (size_t i = 0; c && node && i < c->ntargets; i++)
		if (_node_in_target(&c->targets[i], node))
			return &c->targets[i];
	return NULL;
}

const char *azml_kind_name(azml_kind_t kind)
{
	switch (kind) {
	case AZML_CLUSTER: return "cluster";
	case AZML_INSTANCE: return "instance";
	case AZML_ATTACHED: return "attached";
	}
	return "unknown";
}

const char *azml_provisioning_name(azml_provisioning_t pv)
{
	return pv == AZML_PROV_SCALE_SET ? "ScaleSet" : "VirtualMachines";
}

char *azml_conf_scale_set_name(const azml_conf_t *conf,
			       const azml_target_t *t, char *buf, size_t n)
{
	snprintf(buf, n, "%s-%s", conf->cluster_name ? conf->cluster_name :
		 "slurm", t->name);
	for (char *s = buf; *s; s++)
		*s = tolower((unsigned char) *s);
	return buf;
}

const char *azml_priority_name(azml_priority_t prio)
{
	return prio == AZML_LOW_PRIORITY ? "LowPriority" : "Dedicated";
}

/* ---- the files the controller trusts (azml_conf_check_files) ---- */

static void _file_msg(azml_conf_t *c, bool warn, const char *at,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void _file_msg(azml_conf_t *c, bool warn, const char *at,
		      const char *fmt, ...)
{
	char msg[1024], *full, ***list = warn ? &c->warnings : &c->errors;
	size_t *count = warn ? &c->nwarnings : &c->nerrors;
	va_list ap;

	if (*count >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s: %s%s", at, warn ? "warning: " : "", msg) < 0)
		abort();
	if (!(*list = realloc(*list, (*count + 1) * sizeof(char *))))
		abort();
	(*list)[(*count)++] = full;
}

/* A regular file root may trust: KEY=PATH at AT. */
static void _check_trusted_file(azml_conf_t *c, const char *key,
				const char *path, const char *at)
{
	char why[600];
	int fd = azml_open_safe(path, AZML_SAFE_OWNER, 0, NULL, why,
				sizeof(why));

	if (fd < 0)
		_file_msg(c, false, at, "%s=%s: %s", key, path, why);
	else
		close(fd);
}

static void _check_log_file(azml_conf_t *c, const char *at)
{
	char why[600], dir[PATH_MAX], *slash;
	struct stat st;

	if (!lstat(c->log_file, &st)) {
		if (S_ISLNK(st.st_mode))
			_file_msg(c, false, at, "LogFile=%s: it is a symbolic "
				  "link; refused (it is opened without "
				  "following links)", c->log_file);
		else if (!S_ISREG(st.st_mode))
			_file_msg(c, false, at, "LogFile=%s: not a regular "
				  "file", c->log_file);
		else if (azml_stat_safe(c->log_file, &st, AZML_SAFE_OWNER, why,
					sizeof(why)))
			_file_msg(c, false, at, "LogFile=%s: %s", c->log_file,
				  why);
	}
	/* others who may write the folder may put their file (or a link)
	 * in its place: the log is then refused, or could be lost */
	snprintf(dir, sizeof(dir), "%s", c->log_file);
	if ((slash = strrchr(dir, '/')))
		slash[slash == dir ? 1 : 0] = '\0';	/* "/x": "/" */
	if (!stat(dir, &st) && (st.st_mode & (S_IWGRP | S_IWOTH)))
		_file_msg(c, true, at, "LogFile=%s: its folder %s is writable by "
			  "%s (mode %04o): another user may put a file or a "
			  "link there first, and the log is then refused; "
			  "keep it in a folder only root writes "
			  "(/var/log/slurm)", c->log_file, dir,
			  st.st_mode & S_IWOTH ? "others" : "its group",
			  (unsigned) (st.st_mode & 07777));
}

size_t azml_conf_check_files(azml_conf_t *c)
{
	size_t before = c->nerrors;
	char why[600], at[PATH_MAX + 32];

	snprintf(at, sizeof(at), "%s", c->state_dir_at ? c->state_dir_at :
		 c->path ? c->path : "azureml.conf");
	if (c->state_dir &&
	    azml_dir_safe(c->state_dir, AZML_SAFE_OWNER | AZML_SAFE_PARENTS,
			  NULL, why, sizeof(why)))
		_file_msg(c, false, at, "StateDir=%s%s: %s", c->state_dir,
			  c->state_dir_at ? "" : " (the default)", why);
	if (c->prices)
		_check_trusted_file(c, "Prices", c->prices, c->prices_at ?
				    c->prices_at : c->path);
	if (c->ssh_public_key)
		_check_trusted_file(c, "SshPublicKey", c->ssh_public_key,
				    c->ssh_public_key_at ? c->ssh_public_key_at :
				    c->path);
	for (size_t i = 0; i < c->ntargets; i++) {
		azml_target_t *t = &c->targets[i];

		if (!t->ssh_public_key || (c->ssh_public_key &&
		    !strcmp(t->ssh_public_key, c->ssh_public_key)))
			continue;	/* the global one, judged above */
		snprintf(at, sizeof(at), "%s:%d", t->file, t->line);
		_check_trusted_file(c, "SshPublicKey", t->ssh_public_key, at);
	}
	if (c->log_file)
		_check_log_file(c, c->log_file_at ? c->log_file_at : c->path);
	return c->nerrors - before;
}

/*
 * conf_keys.c - azureml.conf's keys: the key table and the checks of each
 * value (see conf.h; the parser is conf.c).
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

#include "cloud.h"
#include "conf.h"
#include "conf_int.h"
#include "gres.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "url.h"
#include "userdata.h"

static int _check_guid(const char *v, char *why, size_t n);
static int _check_tenant(const char *v, char *why, size_t n);
static int _check_rg(const char *v, char *why, size_t n);
static int _check_location(const char *v, char *why, size_t n);
static int _check_url(const char *v, char *why, size_t n);
static int _check_imds_url(const char *v, char *why, size_t n);
static int _check_cluster_name(const char *v, char *why, size_t n);
static int _check_image(const char *v, char *why, size_t n);
static int _check_subnet(const char *v, char *why, size_t n);
static int _check_admin_user(const char *v, char *why, size_t n);
static int _check_zone(const char *v, char *why, size_t n);
static int _check_tags(const char *v, char *why, size_t n);
static int _check_gres(const char *v, char *why, size_t n);
static int _check_cuda(const char *v, char *why, size_t n);
static int _check_sizes(const char *v, char *why, size_t n);
static int _check_names(const char *v, char *why, size_t n);
static int _check_ppg(const char *v, char *why, size_t n);
static int _check_avset(const char *v, char *why, size_t n);
static int _check_prices(const char *v, char *why, size_t n);
static int _check_cloud(const char *v, char *why, size_t n);
static int _check_health_checks(const char *v, char *why, size_t n);

static const keydef_t key_tab[] = {
	{ "ClusterName", W_GLOBAL, K_STR, G(cluster_name), NO,
	  _check_cluster_name },
	{ "SubscriptionId", W_GLOBAL, K_STR, G(subscription_id), NO,
	  _check_guid },
	{ "ResourceGroup", W_GLOBAL, K_STR, G(resource_group), NO, _check_rg },
	{ "Location", W_GLOBAL, K_STR, G(location), NO, _check_location },
	{ "ArmEndpoint", W_GLOBAL, K_STR, G(arm_endpoint), NO, _check_url },
	{ "AuthorityHost", W_GLOBAL, K_STR, G(authority_host), NO, _check_url },
	{ "ImdsEndpoint", W_GLOBAL, K_STR, G(imds_endpoint), NO,
	  _check_imds_url },
	{ "Credential", W_GLOBAL, K_CRED, NO, NO, NULL },
	{ "TenantId", W_GLOBAL, K_STR, G(tenant_id), NO, _check_tenant },
	{ "ClientId", W_GLOBAL, K_STR, G(client_id), NO, _check_guid },
	{ "Cloud", W_GLOBAL, K_STR, G(cloud), NO, _check_cloud },
	{ "CaBundle", W_GLOBAL, K_STR, G(ca_bundle), NO,
	  azml_conf_check_abs_path },
	{ "LogFile", W_GLOBAL, K_STR, G(log_file), NO,
	  azml_conf_check_abs_path },
	{ "StateDir", W_GLOBAL, K_STR, G(state_dir), NO,
	  azml_conf_check_abs_path },
	{ "Prices", W_GLOBAL, K_STR, G(prices), NO, _check_prices },
	{ "PricesEndpoint", W_GLOBAL, K_STR, G(prices_endpoint), NO,
	  _check_url },
	{ "Image", W_GLOBAL | W_VM, K_STR, G(image), T(image), _check_image },
	{ "Subnet", W_GLOBAL | W_VM, K_STR, G(subnet), T(subnet),
	  _check_subnet },
	{ "AdminUser", W_GLOBAL | W_VM, K_STR, G(admin_user), T(admin_user),
	  _check_admin_user },
	{ "SshPublicKey", W_GLOBAL | W_VM, K_STR, G(ssh_public_key),
	  T(ssh_public_key), azml_conf_check_abs_path },
	{ "VmSize", W_VM, K_STR, NO, T(vm_size), _check_sizes },
	{ "AllocationStrategy", W_CLUSTER, K_ALLOC, NO, T(alloc), NULL },
	{ "JobScaling", W_CLUSTER, K_SCALING, NO, T(job_scaling), NULL },
	{ "MinNodes", W_CLUSTER, K_INT, NO, T(min_nodes), NULL, 0, MAX_NODES },
	{ "MaxNodes", W_CLUSTER, K_INT, NO, T(max_nodes), NULL, 1, MAX_NODES },
	{ "IdleSecondsBeforeScaledown", W_CLUSTER, K_INT, NO, T(idle_seconds),
	  NULL, 1, 2592000 },
	{ "Priority", W_CLUSTER, K_PRIO, NO, T(priority), NULL },
	{ "Provisioning", W_CLUSTER, K_PROV, NO, T(provisioning), NULL },
	{ "ProximityPlacementGroup", W_VM, K_STR, NO, T(ppg), _check_ppg },
	{ "AvailabilitySet", W_CLUSTER, K_STR, NO, T(avset), _check_avset },
	{ "Fallback", W_CLUSTER, K_NAMES, NO, T(fallback), _check_names },
	{ "CapacityBackoff", W_GLOBAL | W_VM, K_INT, G(capacity_backoff),
	  T(capacity_backoff), NULL, 0, 86400 },
	{ "QuotaApproved", W_VM, K_BOOL, NO, T(quota_approved), NULL },
	{ "Zone", W_VM, K_STR, NO, T(zone), _check_zone },
	{ "Tags", W_VM, K_STR, NO, T(tags), _check_tags },
	{ "Nodes", W_ATTACHED, K_STR, NO, T(nodes), NULL },
	{ "Gres", W_ATTACHED, K_STR, NO, T(gres), _check_gres },
	{ "CPUs", W_ATTACHED, K_INT, NO, T(cpus), NULL, 1, 65536 },
	{ "RealMemory", W_ATTACHED, K_INT, NO, T(real_memory), NULL, 1,
	  INT_MAX },
	{ "Cuda", W_ATTACHED, K_STR, NO, T(cuda), _check_cuda },
	/* Node bootstrap: what a VM's userData carries (userdata.h), checked
	 * by the same validators node-init uses. */
	{ "SlurmctldHost", W_GLOBAL | W_VM, K_STR, G(slurmctld_host),
	  T(slurmctld_host), azml_ctld_host_ok },
	{ "MungeKeySecret", W_GLOBAL | W_VM, K_STR, G(munge_key_secret),
	  T(munge_key_secret), azml_secret_url_ok },
	{ "Identity", W_GLOBAL | W_VM, K_STR, G(identity), T(identity),
	  azml_identity_id_ok },
	{ "JobIdentity", W_GLOBAL | W_VM, K_STR, G(job_identity),
	  T(job_identity), azml_identity_id_ok },
	{ "NodeSetupScript", W_GLOBAL | W_VM, K_STR, G(node_setup_script),
	  T(node_setup_script), azml_conf_check_abs_path },
	/* Health checks (the node's HealthCheckProgram) and replacement. */
	{ "HealthChecks", W_GLOBAL | W_VM | W_ATTACHED, K_STR,
	  G(health_checks), T(health_checks), _check_health_checks },
	{ "HealthCheckScript", W_GLOBAL | W_VM | W_ATTACHED, K_STR,
	  G(health_check_script), T(health_check_script),
	  azml_conf_check_abs_path },
	{ "HealthCheckInterval", W_GLOBAL, K_INT, G(health_check_interval), NO,
	  NULL, 0, 86400 },
	{ "ReplaceLimit", W_GLOBAL | W_VM, K_INT, G(replace_limit),
	  T(replace_limit), NULL, 0, 1000 },
	{ "MetricsDir", W_GLOBAL, K_STR, G(metrics_dir), NO,
	  azml_conf_check_abs_path },
};

/* ---------------------------------------------------------------------- */
/* Value checks: return 0, or -1 with a reason in WHY. */

static int _check_cloud(const char *v, char *why, size_t n)
{
	if (azml_cloud_find(v))
		return 0;
	snprintf(why, n, "not a cloud; one of %s", azml_cloud_names());
	return -1;
}

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
	return azml_conf_check_abs_path(v, why, n);
}

static int _check_url_common(const char *v, char *why, size_t n, bool imds)
{
	azml_url_t u;
	char reason[200];

	if (azml_url_split(v, &u, reason, sizeof(reason))) {
		snprintf(why, n, "expected a URL like https://host[:port][/path] "
			 "(%s)", reason);
		return -1;
	}
	if (!strcmp(u.scheme, "https") || azml_host_is_loopback(u.host) ||
	    (imds && !strcmp(u.host, "169.254.169.254")))
		return 0;
	snprintf(why, n, "plain http is accepted only for loopback "
		 "(127.0.0.1, localhost, [::1])%s; use https",
		 imds ? " and 169.254.169.254" : "");
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

int azml_conf_check_abs_path(const char *v, char *why, size_t n)
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
bool azml_conf_hostlist_syntax(const char *v)
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

/* VmSize=: one size, or a mix A,B,C of at most AZML_MIX_MAX */
static int _check_sizes(const char *v, char *why, size_t n)
{
	size_t count = 1;

	for (const char *s = v; *s; s++) {
		if (*s == ',') {
			if (s == v || !s[1] || s[1] == ',') {
				snprintf(why, n, "an empty size in the list");
				return -1;
			}
			count++;
		} else if (!isalnum((unsigned char) *s) && !strchr("_-.", *s)) {
			snprintf(why, n, "only letters, digits, '_', '-', '.' "
				 "and ',' between sizes are allowed");
			return -1;
		}
	}
	if (count > AZML_MIX_MAX) {
		snprintf(why, n, "%zu sizes; Azure's instance mix takes at "
			 "most %d", count, AZML_MIX_MAX);
		return -1;
	}
	return 0;
}

int azml_conf_check_target_name(const char *v, char *why, size_t n)
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
		if (azml_conf_check_target_name(name, inner, sizeof(inner))) {
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

const keydef_t *azml_conf_find_key(const char *name, size_t len, size_t *idx)
{
	for (size_t i = 0; i < sizeof(key_tab) / sizeof(key_tab[0]); i++)
		if (strlen(key_tab[i].name) == len &&
		    !strncasecmp(key_tab[i].name, name, len)) {
			*idx = i;
			return &key_tab[i];
		}
	return NULL;
}

/* ---- HealthChecks= ---------------------------------------------------- */

static const char *const health_names[AZML_HC_N] = {
	"gpu", "ecc", "xid", "ib", "memory", "disk", "script",
};

const char *azml_health_check_name(azml_hc_t c)
{
	return (unsigned) c < AZML_HC_N ? health_names[c] : "?";
}

bool azml_health_check_hardware(azml_hc_t c)
{
	return c == AZML_HC_GPU || c == AZML_HC_ECC || c == AZML_HC_XID ||
	       c == AZML_HC_IB || c == AZML_HC_MEMORY;
}

int azml_health_check_find(const char *name, size_t len)
{
	for (int i = 0; i < AZML_HC_N; i++)
		if (strlen(health_names[i]) == len &&
		    !strncasecmp(health_names[i], name, len))
			return i;
	return -1;
}

int azml_health_checks_parse(const char *v, unsigned int *mask, char *why,
			     size_t n)
{
	unsigned int m = 0;
	const char *s = v ? v : "all";

	if (!*s)
		goto bad;
	while (*s) {
		size_t len = strcspn(s, ",");
		bool minus = *s == '-';
		const char *w = s + minus;
		size_t wl = len - minus;
		int c;

		if (wl == 3 && !strncasecmp(w, "all", 3))
			m = minus ? 0 : AZML_HC_ALL;
		else if (wl == 4 && !strncasecmp(w, "none", 4) && !minus)
			m = 0;
		else if ((c = azml_health_check_find(w, wl)) >= 0)
			m = minus ? m & ~(1u << c) : m | (1u << c);
		else
			goto bad;
		s += len;
		if (*s == ',' && *++s == '\0')
			goto bad;
	}
	*mask = m;
	return 0;
bad:
	snprintf(why, n, "expected a comma-separated list of checks (all, "
		 "none, gpu, ecc, xid, ib, memory, disk, script; '-' before "
		 "one turns it off: all,-xid)");
	return -1;
}

int azml_health_reason_check(const char *reason)
{
	size_t pl = strlen(AZML_HEALTH_REASON);

	if (!reason || strncmp(reason, AZML_HEALTH_REASON, pl))
		return -1;
	reason += pl;
	if (!strchr(reason, ':'))
		return -1;
	return azml_health_check_find(reason, strcspn(reason, ":"));
}

static int _check_health_checks(const char *v, char *why, size_t n)
{
	unsigned int m;

	return azml_health_checks_parse(v, &m, why, n);
}

/*
 * conf_check.c - the checks across targets once every line is read
 * (overlaps, placement, bootstrap, fallbacks, defaults) and the check of the
 * files the controller trusts (azml_conf_check_files); see conf.h.
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
#include "url.h"
#include "gres.h"
#include "safefile.h"
#include "slurm_compat.h"
#include "userdata.h"

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
				if (azml_conf_node_in_target(o, host))
					azml_conf_err(
						p, t->file, t->line,
						"node '%s' of "
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
		azml_conf_err(
			p, t->file, t->line,
			"ComputeCluster '%s': MaxNodes=%d, but "
			"a scale set (Provisioning=ScaleSet, Flexible, one fault "
			"domain) holds at most %d VMs; split it into clusters of "
			"%d or fewer",
			t->name, t->max_nodes, AZML_SCALE_SET_MAX,
			AZML_SCALE_SET_MAX);
	if (t->avset && sets)
		azml_conf_err(
			p, t->file, t->line,
			"ComputeCluster '%s': AvailabilitySet= "
			"needs Provisioning=VirtualMachines (a VM is in a scale "
			"set or an availability set, not both)",
			t->name);
	if (t->avset && t->zone)
		azml_conf_err(
			p, t->file, t->line,
			"ComputeCluster '%s': AvailabilitySet= "
			"and Zone= cannot go together (an availability set does "
			"not span or pin zones)",
			t->name);
	if (t->avset && t->max_nodes > AZML_AVAILABILITY_SET_MAX)
		azml_conf_err(
			p, t->file, t->line,
			"ComputeCluster '%s': MaxNodes=%d, but "
			"an availability set holds at most %d VMs; set MaxNodes=%d "
			"or less, or split the cluster",
			t->name, t->max_nodes, AZML_AVAILABILITY_SET_MAX,
			AZML_AVAILABILITY_SET_MAX);
	if (!t->size.rdma || t->max_nodes < 2 || t->avset)
		return;
	azml_conf_warn(
		p, t->file, t->line,
		"ComputeCluster '%s': %s is an RDMA size, "
		"but %s share no InfiniBand fabric; for MPI over InfiniBand use "
		"Provisioning=VirtualMachines with AvailabilitySet=ID (at most "
		"%d nodes)",
		t->name, t->vm_size,
		sets ? "the VMs of a Flexible "
		       "scale set" :
		       "VMs made one by one without an availability set",
		AZML_AVAILABILITY_SET_MAX);
}

/*
 * MungeKeySecret= is Key Vault's own URL, https://VAULT.SUFFIX/secrets/NAME
 * [/VERSION], SUFFIX the vault suffix of Cloud= (cloud.h).  The emulator's
 * path style (http://127.0.0.1:PORT/keyvault/VAULT/...) is taken only
 * when ArmEndpoint= is loopback too: the emulator, never a real cloud.
 */
static void _check_secret_cloud(parser_t *p, const azml_target_t *t)
{
	const azml_conf_t *c = p->conf;
	const azml_cloud_t *want = azml_cloud_find(c->cloud), *got;
	const char *what = azml_conf_where_name(
		t->kind == AZML_CLUSTER ? W_CLUSTER : W_INSTANCE);
	azml_url_t u, arm;
	char why[200];

	if (!want || azml_url_split(t->munge_key_secret, &u, why, sizeof(why)))
		return;		/* the key's own check said why */
	if (!strcmp(u.scheme, "http")) {
		if (!c->arm_endpoint ||
		    azml_url_split(c->arm_endpoint, &arm, why, sizeof(why)) ||
		    !azml_host_is_loopback(arm.host))
			azml_conf_err(
				p, t->file, t->line,
				"%s '%s': MungeKeySecret=%s is the emulator's "
				"path style, for an emulator's ArmEndpoint= "
				"only; Key Vault's own URL is https://VAULT%s/"
				"secrets/NAME[/VERSION] (Cloud=%s)",
				what, t->name, t->munge_key_secret,
				want->vault_suffix, want->name);
		return;
	}
	got = azml_cloud_of_vault_host(u.host);
	if (got != want)
		azml_conf_err(
			p, t->file, t->line,
			"%s '%s': MungeKeySecret=%s is not a vault of Cloud=%s: "
			"its vaults are https://VAULT%s/secrets/NAME[/VERSION]%s%s",
			what, t->name, t->munge_key_secret, want->name,
			want->vault_suffix, got ? "; this one is " : "",
			got ? got->name : "");
}

static void _check_bootstrap(parser_t *p, const azml_target_t *t)
{
	if (t->munge_key_secret)
		_check_secret_cloud(p, t);
	if (t->munge_key_secret && !t->identity)
		azml_conf_err(
			p, t->file, t->line,
			"%s '%s' has MungeKeySecret= but no "
			"Identity=: its VMs would have no identity to read the "
			"secret with; add Identity=/subscriptions/.../"
			"userAssignedIdentities/NAME (a user-assigned identity "
			"allowed to get secrets of that vault), on this line or "
			"a global one",
			azml_conf_where_name(t->kind == AZML_CLUSTER ?
						     W_CLUSTER :
						     W_INSTANCE),
			t->name);
	else if (!t->munge_key_secret)
		azml_conf_warn(
			p, t->file, t->line,
			"%s '%s' has no MungeKeySecret=: "
			"node-init cannot set up munge, so its VMs will not join "
			"the cluster by themselves unless the image has the munge "
			"key; set MungeKeySecret=https://VAULT.vault.azure.net/"
			"secrets/NAME and Identity=",
			azml_conf_where_name(t->kind == AZML_CLUSTER ?
						     W_CLUSTER :
						     W_INSTANCE),
			t->name);
	/* JobIdentity=: a second identity for jobs; the controller takes the
	 * node identity from each VM once its node registered (reconcile),
	 * which needs VMs made one by one and deleted at suspend. */
	if (t->job_identity) {
		const char *what = azml_conf_where_name(
			t->kind == AZML_CLUSTER ? W_CLUSTER : W_INSTANCE);

		if (!t->identity)
			azml_conf_err(
				p, t->file, t->line,
				"%s '%s' has JobIdentity= but "
				"no Identity=: JobIdentity is a second identity, "
				"beside the node's",
				what, t->name);
		else if (!strcasecmp(t->identity, t->job_identity))
			azml_conf_err(
				p, t->file, t->line,
				"%s '%s': JobIdentity= is "
				"Identity=: jobs would get the identity that reads "
				"the munge key; give jobs an identity of their own "
				"with no access to it",
				what, t->name);
		if (t->kind != AZML_CLUSTER)
			azml_conf_err(
				p, t->file, t->line,
				"ComputeInstance '%s': "
				"JobIdentity= is for compute clusters only: an "
				"instance started again needs its node identity "
				"back to read the munge key",
				t->name);
		else if (t->provisioning == AZML_PROV_SCALE_SET)
			azml_conf_err(
				p, t->file, t->line,
				"ComputeCluster '%s': "
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
		azml_conf_warn(
			p, t->file, t->line,
			"%s '%s': MungeKeySecret=%s names no "
			"version: its VMs take whatever version is current, "
			"set by anyone who may write the secret; name one "
			"(.../secrets/NAME/VERSION, 'az keyvault secret show "
			"--query id')",
			azml_conf_where_name(t->kind == AZML_CLUSTER ?
						     W_CLUSTER :
						     W_INSTANCE),
			t->name, t->munge_key_secret);
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
		azml_conf_warn(
			p, t->file, t->line,
			"ComputeCluster '%s' has Fallback=%s, "
			"but '%s' (%s) has no GPU: jobs that ask for GPUs or CUDA "
			"never fall back to it; list a target with GPUs in "
			"Fallback=",
			t->name, f->name, f->name, f->vm_size);
	if (tlow != flow)
		azml_conf_warn(
			p, t->file, t->line,
			"ComputeCluster '%s' is %s and its "
			"Fallback=%s is %s: jobs with --azure-priority=%s never "
			"fall back to it; list a target of the same Priority= in "
			"Fallback=",
			t->name, tlow ? "low priority" : "dedicated", f->name,
			flow			 ? "low priority" :
			f->kind == AZML_INSTANCE ? "an instance (dedicated)" :
						   "dedicated",
			tlow ? "low" : "dedicated");
	if (t->size.isolated && !f->size.isolated)
		azml_conf_warn(
			p, t->file, t->line,
			"ComputeCluster '%s' (%s) is an "
			"isolated VM size and its Fallback=%s (%s) is not: jobs "
			"with --azure-isolated never fall back to it; list an "
			"isolated size in Fallback=",
			t->name, t->vm_size, f->name, f->vm_size);
	if (t->gpus > 0 && f->gpus > 0 && t->gpu_arch && f->gpu_arch) {
		const azml_gpu_arch_t *ta = t->gpu_arch, *fa = f->gpu_arch;
		bool below = _cuda_rank(fa->min_cuda, 0) >
			     _cuda_rank(ta->min_cuda, 0);
		bool above = _cuda_rank(fa->max_cuda, INT_MAX) <
			     _cuda_rank(ta->max_cuda, INT_MAX);
		char tr[64], fr[64];

		if (below || above)
			azml_conf_warn(
				p, t->file, t->line,
				"ComputeCluster '%s' has "
				"Fallback=%s, but the %s GPUs of '%s' run %s and "
				"the %s GPUs of '%s' %s: jobs with --azure-cuda "
				"%s%s%s%s%s never fall back to it; list a target "
				"whose GPUs run every CUDA version that '%s' runs",
				t->name, f->name, fa->arch, f->name,
				_cuda_range(fa, fr, sizeof(fr)), ta->arch,
				t->name, _cuda_range(ta, tr, sizeof(tr)),
				below ? "below " : "",
				below ? fa->min_cuda : "",
				below && above ? " or " : "",
				above ? "above " : "",
				above ? fa->max_cuda : "", t->name);
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
			azml_conf_err(
				p, t->file, t->line,
				"ComputeCluster '%s' has "
				"Fallback=%s: a cluster cannot fall back to "
				"itself; list other clusters or instances",
				t->name, *name);
		} else if (f && f->kind == AZML_ATTACHED) {
			azml_conf_err(
				p, t->file, t->line,
				"ComputeCluster '%s' has "
				"Fallback=%s: '%s' is AttachedCompute (%s:%d), "
				"whose nodes slurm-azureml does not create; list a "
				"ComputeCluster or ComputeInstance",
				t->name, *name, f->name, f->file, f->line);
		} else if (!f) {
			azml_conf_err(
				p, t->file, t->line,
				"ComputeCluster '%s' has "
				"Fallback=%s, but no ComputeCluster or "
				"ComputeInstance is named '%s'; configured: %s",
				t->name, *name, *name,
				_other_vm_targets(c, t, others,
						  sizeof(others)));
		} else {
			free(*name);
			*name = azml_conf_strdup(c, f->name);
			_check_fallback(p, t, f);
		}
	}
}

void azml_conf_finish(parser_t *p, const char *file)
{
	azml_conf_t *c = p->conf;
	const azml_cloud_t *cloud;
	static const struct { const char *key; size_t off; } required[] = {
		{ "ClusterName", G(cluster_name) },
		{ "SubscriptionId", G(subscription_id) },
		{ "ResourceGroup", G(resource_group) },
		{ "Location", G(location) },
	};

	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!*(char **) ((char *) c + required[i].off))
			azml_conf_err(p, file, 0,
				      "missing %s=", required[i].key);
	if (c->credential == AZML_CRED_CLIENT_SECRET &&
	    (!c->tenant_id || !c->client_id))
		azml_conf_err(p, file, 0,
			      "Credential=client-secret:... needs TenantId= "
			      "and ClientId=");
	if (!c->cloud)
		c->cloud = azml_conf_strdup(c, AZML_CLOUD_DEFAULT);
	if (!(cloud = azml_cloud_find(c->cloud)))
		cloud = azml_cloud_find(AZML_CLOUD_DEFAULT);
	if (!c->arm_endpoint)
		c->arm_endpoint = azml_conf_strdup(c, cloud->arm_endpoint);
	if (!c->authority_host)
		c->authority_host = azml_conf_strdup(c, cloud->authority);
	if (!c->imds_endpoint)
		c->imds_endpoint = azml_conf_strdup(c, "http://169.254.169.254");
	if (!c->state_dir)
		c->state_dir = azml_conf_strdup(c, "/var/lib/slurm-azureml");
	if (c->prices && !strcmp(c->prices, "retail")) {
		free(c->prices);
		c->prices = NULL;
	}
	if (!c->prices_endpoint)
		c->prices_endpoint =
			azml_conf_strdup(c, "https://prices.azure.com");
	if (c->capacity_backoff < 0)		/* not set (0 is "no hold") */
		c->capacity_backoff = CAPACITY_BACKOFF;
	if (c->health_check_interval < 0)
		c->health_check_interval = 300;
	if (c->replace_limit < 0)
		c->replace_limit = 3;
	if (!c->metrics_dir)
		c->metrics_dir =
			azml_conf_strdup(c, "/var/lib/prometheus/node-exporter");
	for (size_t i = 0; i < c->ntargets; i++) {
		azml_target_t *t = &c->targets[i];

		if (!t->health_checks && c->health_checks)
			t->health_checks = azml_conf_strdup(c, c->health_checks);
		if (!t->health_check_script && c->health_check_script)
			t->health_check_script =
				azml_conf_strdup(c, c->health_check_script);
		if (t->replace_limit < 0)
			t->replace_limit = c->replace_limit;
		if (t->kind == AZML_ATTACHED) {
			t->capacity_backoff = 0;	/* no VM to hold */
			continue;
		}
		if (t->capacity_backoff < 0)
			t->capacity_backoff = c->capacity_backoff;
		_resolve_fallbacks(p, t);
#define INHERIT(f) \
	if (!t->f && c->f) \
	t->f = azml_conf_strdup(c, c->f)
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

/* ---- the files the controller trusts (azml_conf_check_files) ---- */

static void _file_msg(azml_conf_t *c, bool warn, const char *at,
		      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void _file_msg(azml_conf_t *c, bool warn, const char *at,
		      const char *fmt, ...)
{
	char msg[1024], *full, **more;
	char ***list = warn ? &c->warnings : &c->errors;
	size_t *count = warn ? &c->nwarnings : &c->nerrors;
	va_list ap;

	if (*count >= MAX_ERRORS)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (asprintf(&full, "%s: %s%s", at, warn ? "warning: " : "", msg) < 0) {
		c->oom = true;
		return;
	}
	if (!(more = realloc(*list, (*count + 1) * sizeof(char *)))) {
		free(full);
		c->oom = true;
		return;
	}
	*list = more;
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

/* CaBundle=: a file root may trust (whoever may write it may add a CA
 * and read every request) that holds PEM certificates. */
static void _check_ca_bundle(azml_conf_t *c, const char *at)
{
	char why[600], *text = NULL;

	if (azml_read_safe(c->ca_bundle, AZML_SAFE_OWNER, 16 << 20, &text,
			   NULL, why, sizeof(why))) {
		_file_msg(c, false, at, "CaBundle=%s: %s", c->ca_bundle, why);
		return;
	}
	if (!strstr(text, "-----BEGIN CERTIFICATE-----"))
		_file_msg(c, false, at, "CaBundle=%s: no PEM certificate in "
			  "it (-----BEGIN CERTIFICATE-----)", c->ca_bundle);
	free(text);
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

/* Whether ArmEndpoint URL is the local emulator: plain http to loopback
 * (Azure's endpoints are https on public names). */
static bool _local_emulator(const char *url)
{
	azml_url_t u;
	char err[128];

	return url && !azml_url_split(url, &u, err, sizeof(err)) &&
	       !strcmp(u.scheme, "http") && azml_host_is_loopback(u.host);
}

/*
 * What Azure needs to create a VM target T's Linux VMs: an SSH key (the
 * product turns password login off, and Azure refuses a Linux VM nobody
 * can log in to) and, on Azure, a subnet for its NIC (with the local
 * emulator, EMULATOR, Subnet= may be left out here; the emulator refuses
 * the create all the same, as Azure does).  check-config's: the plugins
 * inside slurmctld load a file without these.
 */
static void _check_vm_access(azml_conf_t *c, const azml_target_t *t,
			     bool emulator)
{
	const char *kind = azml_conf_where_name(t->kind == AZML_CLUSTER ?
						W_CLUSTER : W_INSTANCE);
	char at[300];

	snprintf(at, sizeof(at), "%s:%d", t->file, t->line);
	if (!t->ssh_public_key)
		_file_msg(
			c, false, at,
			"%s '%s' has no SshPublicKey=: Azure refuses a Linux "
			"VM with password login off and no SSH key (400 "
			"InvalidParameter, \"Authentication using either SSH "
			"or by user name and password must be enabled in "
			"Linux profile.\"); add SshPublicKey=FILE (an OpenSSH "
			"public key, e.g. made by ssh-keygen) on this line or "
			"a global one", kind, t->name);
	if (!t->subnet && !emulator)
		_file_msg(
			c, false, at,
			"%s '%s' has no Subnet=: on Azure each VM's network "
			"interface needs a subnet; add Subnet=/subscriptions/"
			"SUB/resourceGroups/RG/providers/Microsoft.Network/"
			"virtualNetworks/VNET/subnets/NAME on this line or a "
			"global one", kind, t->name);
}

size_t azml_conf_check_files(azml_conf_t *c)
{
	size_t before = c->nerrors;
	bool oom = c->oom;
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
	for (size_t i = 0; i < c->ntargets; i++)
		if (c->targets[i].kind != AZML_ATTACHED)
			_check_vm_access(c, &c->targets[i],
					 _local_emulator(c->arm_endpoint));
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
	if (c->ca_bundle)
		_check_ca_bundle(c, c->ca_bundle_at ? c->ca_bundle_at :
				 c->path);
	return c->nerrors - before + (c->oom && !oom);
}

/*
 * job_submit_azureml.c - route jobs to compute targets inside slurmctld.
 *
 * The SPANK plugin's --azure-* options reach slurmctld in the job's
 * spank_job_env as _SLURM_SPANK_OPTION_azureml_<option>=VALUE.  This plugin
 * turns them into the job's partition list with the pure routing code of the
 * core library, or refuses the job with a message that names what exists.
 * The list ends with the Fallback= targets of the clusters chosen; a job
 * without options keeps its own -p list, with the fallbacks of the clusters
 * it names added (route.h), or is left alone when there are none.  A job
 * with --azure-vm-size=A gets the constraint A (ANDed with its own -C), so
 * that on a cluster whose VmSize= is a mix it runs only on nodes of size A.
 *
 * It runs under slurmctld's locks: no network, no disk, no sleeping on the
 * submit path.  azureml.conf is loaded at init and by a watcher thread that
 * notices a changed file (after an edit and `scontrol reconfigure`, or on
 * its own within a few seconds); a file with errors is logged and the last
 * good configuration stays in use (on Slurm 23.11 and later, whose
 * reconfigure starts a new slurmctld, by failing that new one's init).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "conf.h"
#include "log.h"
#include "route.h"

const char plugin_name[] = "Azure ML compute targets job_submit plugin";
const char plugin_type[] = "job_submit/azureml";
const uint32_t plugin_version = SLURM_VERSION_NUMBER;

/* slurmctld's allocator: strings we hand it must come from it. */
extern char *slurm_xstrdup(const char *str);
extern void slurm_xfree(void **item);

#define OPT_PREFIX "_SLURM_SPANK_OPTION_azureml_"
#define WATCH_SECONDS 2

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;
static azml_router_t *router;		/* under lock */
static char *conf_path;
static bool stopping;
static pthread_t watcher;
static bool watcher_started;

/* What azureml.conf was read from: the file and every Include, each with
 * what stat() said when it was read.  Only the loading thread (init, then
 * the watcher) touches these. */
typedef struct {
	char *path;
	bool present;
	struct stat st;
} watched_t;
static watched_t *watched;
static size_t nwatched;

static bool _same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec;
}

static void _forget_files(void)
{
	for (size_t i = 0; i < nwatched; i++)
		free(watched[i].path);
	free(watched);
	watched = NULL;
	nwatched = 0;
}

/* Watch every file CONF came from (or, without CONF, the main file). */
static void _watch_files(const azml_conf_t *conf)
{
	size_t n = conf && conf->nfiles ? conf->nfiles : 1;

	_forget_files();
	if (!(watched = calloc(n, sizeof(*watched))))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *path = conf && conf->nfiles ? conf->files[i] : conf_path;

		if (!(watched[i].path = strdup(path)))
			break;
		watched[i].present = stat(path, &watched[i].st) == 0;
		nwatched++;
	}
}

static bool _files_changed(void)
{
	for (size_t i = 0; i < nwatched; i++) {
		struct stat st;
		bool present = stat(watched[i].path, &st) == 0;

		if (present != watched[i].present ||
		    (present && !_same_file(&st, &watched[i].st)))
			return true;
	}
	return false;
}

/* Read azureml.conf; install it when it is good.  Not under lock. */
static void _load(void)
{
	azml_conf_t *conf;
	azml_router_t *r, *old;

	conf = azml_conf_load(conf_path);
	_watch_files(conf);
	if (!conf)
		return;
	if (conf->nerrors) {
		for (size_t i = 0; i < conf->nerrors; i++)
			azml_log_error("%s", conf->errors[i]);
		azml_log_error("%s has %zu error%s; %s", conf_path,
			       conf->nerrors, conf->nerrors == 1 ? "" : "s",
			       router ? "keeping the last good configuration" :
			       "jobs with --azure-* options are refused");
		azml_conf_destroy(conf);
		return;
	}
	r = azml_router_create(conf);
	if (!r) {
		azml_conf_destroy(conf);
		return;
	}
	pthread_mutex_lock(&lock);
	old = router;
	router = r;
	pthread_mutex_unlock(&lock);
	azml_router_destroy(old);
	azml_log_info("loaded %s: %zu compute targets", conf_path,
		      azml_router_conf(r)->ntargets);
}

static void *_watch(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += WATCH_SECONDS;
		pthread_cond_timedwait(&wake, &lock, &ts);
		if (stopping)
			break;
		pthread_mutex_unlock(&lock);
		if (_files_changed())
			_load();
		pthread_mutex_lock(&lock);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

extern int init(void)
{
	azml_log_init(AZML_LOG_SLURM, "job_submit/azureml", AZML_LOG_INFO);
	conf_path = azml_conf_default_path();
	_load();
	/*
	 * Slurm 23.11 and later (seen on 24.11) reconfigure by starting a new
	 * slurmctld, with SLURMCTLD_RECONF in its environment, and keep the
	 * old one running if the new one fails to start.  Refusing to start
	 * without a usable azureml.conf keeps the last good configuration in
	 * the old one, as the watcher does on 22.05 (whose reconfigure does
	 * not re-init job_submit plugins).  A first start goes on and refuses
	 * --azure-* jobs instead.
	 */
	if (!router && getenv("SLURMCTLD_RECONF")) {
		azml_log_error("no usable %s: failing this reconfigure, so that "
			       "slurmctld keeps the last good configuration",
			       conf_path);
		free(conf_path);
		conf_path = NULL;
		return SLURM_ERROR;
	}
	stopping = false;
	if (pthread_create(&watcher, NULL, _watch, NULL) == 0)
		watcher_started = true;
	else
		azml_log_error("couldn't start the azureml.conf watcher: changes "
			       "need a slurmctld restart");
	return SLURM_SUCCESS;
}

extern int fini(void)
{
	if (watcher_started) {
		pthread_mutex_lock(&lock);
		stopping = true;
		pthread_cond_signal(&wake);
		pthread_mutex_unlock(&lock);
		pthread_join(watcher, NULL);
		watcher_started = false;
	}
	azml_router_destroy(router);
	_forget_files();
	router = NULL;
	free(conf_path);
	conf_path = NULL;
	return SLURM_SUCCESS;
}

/* The value of --azure-OPT in the job's SPANK environment, or NULL. */
static const char *_opt(const job_desc_msg_t *jd, const char *opt)
{
	size_t plen = sizeof(OPT_PREFIX) - 1, olen = strlen(opt);

	for (uint32_t i = 0; jd->spank_job_env && i < jd->spank_job_env_size; i++) {
		const char *e = jd->spank_job_env[i];

		if (e && !strncmp(e, OPT_PREFIX, plen) &&
		    !strncmp(e + plen, opt, olen) && e[plen + olen] == '=')
			return e + plen + olen + 1;
	}
	return NULL;
}

static bool _gpu_tres(const char *tres)
{
	return tres && (strstr(tres, "gres:gpu") || strstr(tres, "gres/gpu"));
}

/* Route JD; at submission (SUBMIT) also add the constraint of its
 * --azure-vm-size (an update's features replace the job's: left alone). */
static int _apply(job_desc_msg_t *jd, bool submit, char **err_msg)
{
	azml_route_req_t req = {
		.compute = _opt(jd, "azure_compute"),
		.vm_size = _opt(jd, "azure_vm_size"),
		.priority = _opt(jd, "azure_priority"),
		.cuda = _opt(jd, "azure_cuda"),
		.isolated = _opt(jd, "azure_isolated") != NULL,
		.partition = jd->partition,
		.wants_gpu = _gpu_tres(jd->tres_per_node) ||
			     _gpu_tres(jd->tres_per_job) ||
			     _gpu_tres(jd->tres_per_socket) ||
			     _gpu_tres(jd->tres_per_task),
	};
	char out[8192], feat[4096];
	azml_route_rc_t rc, frc = AZML_ROUTE_NONE;

	pthread_mutex_lock(&lock);
	if (!router) {
		pthread_mutex_unlock(&lock);
		if (!req.compute && !req.vm_size && !req.priority && !req.cuda &&
		    !req.isolated)
			return SLURM_SUCCESS;
		*err_msg = slurm_xstrdup("azureml: no usable azureml.conf on "
					 "the controller; ask your administrator "
					 "(slurmctld's log says why)");
		return SLURM_ERROR;
	}
	rc = azml_route(router, &req, out, sizeof(out));
	if (rc == AZML_ROUTE_OK && submit)
		frc = azml_route_features(router, &req, jd->features, feat,
					  sizeof(feat));
	pthread_mutex_unlock(&lock);

	if (frc == AZML_ROUTE_ERROR) {
		rc = frc;
		memcpy(out, feat, sizeof(feat));
	}
	switch (rc) {
	case AZML_ROUTE_NONE:
		return SLURM_SUCCESS;
	case AZML_ROUTE_ERROR:
		azml_log_info("refused a job of uid %u: %s", jd->user_id, out);
		*err_msg = slurm_xstrdup(out);
		return SLURM_ERROR;
	case AZML_ROUTE_OK:
		break;
	}
	if (jd->partition)
		slurm_xfree((void **) &jd->partition);
	jd->partition = slurm_xstrdup(out);
	if (frc == AZML_ROUTE_OK) {
		if (jd->features)
			slurm_xfree((void **) &jd->features);
		jd->features = slurm_xstrdup(feat);
	}
	return SLURM_SUCCESS;
}

extern int job_submit(job_desc_msg_t *job_desc, uint32_t submit_uid,
		      char **err_msg)
{
	return _apply(job_desc, true, err_msg);
}

/* scontrol update carries no SPANK options; a job that is updated with them
 * (through the API) is routed again by the same rules. */
extern int job_modify(job_desc_msg_t *job_desc, void *job_ptr,
		      uint32_t submit_uid, char **err_msg)
{
	return _apply(job_desc, false, err_msg);
}

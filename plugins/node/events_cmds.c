/*
 * events_cmds.c - watch-events, on every VM: the Scheduled Events watcher
 * (IMDS /metadata/scheduledevents).  node-init becomes it at its end; it
 * needs no azureml.conf (there is none on a VM): libslurm finds slurm.conf
 * the configless way (/run/slurm/conf/slurm.conf that slurmd wrote, or
 * $SLURM_CONF).
 *
 * Preempt (Spot eviction) and Terminate (deletion): the node's jobs are
 * requeued while slurmd still runs here, the node is handed back with
 * power_down_force (its VM is going away; the node is idle~ for the next
 * one), and the event is acknowledged so that it goes ahead at once.
 * Reboot, Redeploy, Freeze (platform maintenance): the node is drained
 * before the event, and the event acknowledged only once the node has no
 * job (or when NotBefore has passed: Azure goes ahead then anyway).  After
 * it (the event gone from the document, or at the next boot), the node is
 * resumed if its drain reason is still ours.
 */
#include "config.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "admin.h"
#include "arm.h"
#include "auth.h"
#include "conf.h"
#include "http.h"
#include "log.h"
#include "node.h"
#include "nodes.h"

#define EVENTS_QUERY "/metadata/scheduledevents?api-version=2020-07-01"
/* How long to wait for a node to empty when an event has no NotBefore we
 * can read (Azure gives Reboot and Freeze 15 min, Redeploy 10 min). */
#define EMPTY_WAIT_DEFAULT 600
#define MAX_BODY (256 * 1024)

void azml_short_hostname(char *out, size_t n)
{
	char host[256] = "";

	gethostname(host, sizeof(host) - 1);
	host[strcspn(host, ".")] = '\0';
	snprintf(out, n, "%s", host);
}

/* What slurmctld says about NODE: whether a job is on it, and its reason.
 * 0, or -1 when slurmctld does not answer. */
static int _node_info(const char *node, bool *busy, bool *powering_down,
		      char *reason, size_t n)
{
	node_info_msg_t *m = NULL;
	node_info_t *ni;
	uint32_t base;

	if (slurm_load_node_single(&m, (char *) node, SHOW_ALL) !=
	    SLURM_SUCCESS || !m || m->record_count < 1) {
		if (m)
			slurm_free_node_info_msg(m);
		return -1;
	}
	ni = &m->node_array[0];
	base = ni->node_state & NODE_STATE_BASE;
	*busy = base == NODE_STATE_ALLOCATED || base == NODE_STATE_MIXED ||
		(ni->node_state & NODE_STATE_COMPLETING);
	*powering_down = ni->node_state & (NODE_STATE_POWERING_DOWN |
					   NODE_STATE_POWER_DOWN |
					   NODE_STATE_POWERED_DOWN);
	snprintf(reason, n, "%s", ni->reason ? ni->reason : "");
	slurm_free_node_info_msg(m);
	return 0;
}

/* NotBefore ("Mon, 19 Sep 2016 18:29:47 GMT") in epoch seconds; 0 when
 * empty or not such a date. */
static time_t _not_before(const char *s)
{
	struct tm tm = { 0 };
	const char *end;

	if (!s || !*s)
		return 0;
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return 0;
	return timegm(&tm);
}

typedef struct {
	int status;
	char *body;
} got_t;

static void _got(void *arg, const azml_http_resp_t *r)
{
	got_t *g = arg;

	g->status = r->status;
	free(g->body);
	g->body = r->body && r->len <= MAX_BODY ? strdup(r->body) : NULL;
}

/* GET (BODY NULL) or POST the document.  Returns the status; *OUT the
 * body (malloc'd) when asked. */
static int _imds(const char *url, const char *body, char **out)
{
	static const char *hdr[] = { "Metadata: true",
				     "Content-Type: application/json", NULL };
	azml_http_opts_t ho = { .max_in_flight = 1, .timeout = 10,
				.retry_for = 5, .max_retry_after = 5 };
	azml_http_t *h = azml_http_create(&ho);
	got_t g = { 0 };
	char err[256];

	if (!h)
		return 0;
	if (!azml_http_submit(h, body ? "POST" : "GET", url, hdr, body, 0, _got,
			      &g, err, sizeof(err)))
		azml_http_run(h);
	azml_http_destroy(h);
	if (out)
		*out = g.body;
	else
		free(g.body);
	return g.status;
}

static void _ack(const char *url, const azml_sched_event_t *e)
{
	char body[160];
	int st;

	snprintf(body, sizeof(body), "{\"StartRequests\":[{\"EventId\":"
		 "\"%s\"}]}", e->id);
	st = _imds(url, body, NULL);
	azml_log_info("acknowledged %s %s (HTTP %d)", e->type_name, e->id, st);
}

/* Preempt, Terminate: the VM goes away. */
static void _evicted(const azml_watch_opts_t *o, const char *url,
		     const azml_sched_event_t *e)
{
	char reason[300], cur[256];
	bool busy = false, down = false;
	int n;

	if (e->type == AZML_EVENT_PREEMPT)
		snprintf(reason, sizeof(reason), "azureml: Preempt: Spot VM %s "
			 "is being evicted (Scheduled Events %s, not before "
			 "%s)", o->vm, e->id, e->not_before[0] ?
			 e->not_before : "now");
	else
		snprintf(reason, sizeof(reason), "azureml: Terminate: VM %s is "
			 "being deleted (Scheduled Events %s, not before %s)",
			 o->vm, e->id, e->not_before[0] ? e->not_before : "now");
	azml_log_info("node %s: %s", o->node, reason);
	/* A node that Slurm itself is powering down (its SuspendProgram
	 * deletes the VM) needs nothing more than the acknowledgement. */
	if (e->type == AZML_EVENT_TERMINATE &&
	    !_node_info(o->node, &busy, &down, cur, sizeof(cur)) && down) {
		_ack(url, e);
		return;
	}
	/* Requeue while slurmd still runs here, so the jobs end cleanly; then
	 * hand the node back (as a failed resume is): the VM is deleted, the
	 * node is idle~ for the next VM. */
	n = azml_nodes_requeue_jobs(o->node);
	azml_log_info("node %s: requeued %d job%s", o->node, n,
		      n == 1 ? "" : "s");
	for (int w = 0; w < 20 && azml_nodes_requeue_jobs(o->node) > 0; w++)
		usleep(250000);
	sleep(1);
	azml_nodes_power_down_force(o->node, reason);
	/* Acknowledge: let the eviction go ahead now. */
	_ack(url, e);
}

/* A maintenance event being handled. */
typedef struct {
	char id[64];
	time_t deadline;	/* stop waiting for the node to empty */
	bool acked;
	bool seen;		/* in this poll's document */
} maint_t;

/* Resume the node if it is still drained with our reason. */
static void _resume_if_ours(const char *node)
{
	char reason[256];
	bool busy, down;

	if (_node_info(node, &busy, &down, reason, sizeof(reason)))
		return;
	if (strncmp(reason, AZML_MAINT_REASON, strlen(AZML_MAINT_REASON)))
		return;
	if (!azml_nodes_resume(node))
		azml_log_info("node %s: maintenance over; resumed (was: %s)",
			      node, reason);
}

#define IDENTITY_POLL 5		/* s between asking IMDS about it */
#define IDENTITY_WAIT 1800		/* s the controller has to remove it */

/* A console line (node-init's stdout: the VM's serial log) and syslog. */
static void _console(bool error, const char *line)
{
	printf("%s\n", line);
	fflush(stdout);
	if (error)
		azml_log_error("%s", line);
	else
		azml_log_info("%s", line);
}

/*
 * JobIdentity=: whether the node identity is gone from this VM; then the
 * IMDS filter goes.  Returns true once done with it (removed, or given up
 * after the wait: the filter stays).
 */
static bool _identity_check(const azml_watch_opts_t *o, time_t start)
{
	char err[600], line[800], *tok = NULL;
	int removed = 0, wait = o->identity_wait > 0 ? o->identity_wait :
				IDENTITY_WAIT;

	if (!azml_imds_token(o->imds, o->vm, "https://vault.azure.net",
			     o->node_identity, &tok, err, sizeof(err))) {
		azml_secret_free(tok);
		if (time(NULL) - start < wait)
			return false;
		snprintf(line, sizeof(line), "node-init: IMDS filter: kept (the "
			 "node identity is still on the VM after %d s; jobs get "
			 "no IMDS, JobIdentity= neither)", wait);
		_console(true, line);
		return true;
	}
	if (!strstr(err, "Identity not found")) {
		if (time(NULL) - start < wait)
			return false;	/* IMDS down: ask again */
		snprintf(line, sizeof(line), "node-init: IMDS filter: kept "
			 "(IMDS did not say the node identity is gone after %d "
			 "s: %s)", wait, err);
		_console(true, line);
		return true;
	}
	if (azml_imds_filter_remove(o->imds, o->filter_tool, &removed, err,
				    sizeof(err))) {
		snprintf(line, sizeof(line), "node-init: IMDS filter: kept "
			 "(couldn't remove it: %s)", err);
		_console(true, line);
		return true;
	}
	snprintf(line, sizeof(line), "node-init: IMDS filter: removed (%d "
		 "rule%s; the node identity is gone from the VM: jobs may use "
		 "IMDS with JobIdentity)", removed, removed == 1 ? "" : "s");
	_console(false, line);
	return true;
}

int azml_events_watch(const azml_watch_opts_t *o)
{
	time_t id_start = time(NULL), id_next = 0;
	bool id_done = !o->node_identity;
	maint_t m[AZML_SCHED_EVENTS_MAX];
	size_t nm = 0;
	char url[2048], err[256];
	bool first = true;
	unsigned long failures = 0;

	if (azml_imds_url(o->imds, EVENTS_QUERY, o->vm, o->node, url,
			  sizeof(url), err, sizeof(err))) {
		azml_log_error("watch-events: %s", err);
		return 1;
	}
	azml_nodes_init();
	azml_log_info("watching Scheduled Events of VM %s (node %s)", o->vm,
		      o->node);
	for (;;) {
		azml_sched_event_t ev[AZML_SCHED_EVENTS_MAX];
		char *body = NULL;
		int st = _imds(url, NULL, &body), ne;
		bool maint = false;

		if (!id_done && time(NULL) >= id_next) {
			id_done = _identity_check(o, id_start);
			id_next = time(NULL) + IDENTITY_POLL;
		}
		ne = st == 200 ? azml_parse_scheduled_events(body, o->vm, ev,
							     AZML_SCHED_EVENTS_MAX)
			       : -1;
		free(body);
		if (ne < 0) {
			/* log the 1st, 10th, 100th ... failure in a row */
			if (++failures == 1 || failures % 100 == 0 ||
			    failures == 10)
				azml_log_error("Scheduled Events: %s (HTTP %d; "
					       "%lu in a row)", st == 200 ?
					       "not a Scheduled Events document"
					       : "no answer", st, failures);
			goto next;
		}
		failures = 0;
		for (size_t i = 0; i < nm; i++)
			m[i].seen = false;
		for (int i = 0; i < ne; i++) {
			azml_sched_event_t *e = &ev[i];
			maint_t *t = NULL;
			char reason[300], cur[256];
			bool busy = true, down;

			if (e->type == AZML_EVENT_PREEMPT ||
			    e->type == AZML_EVENT_TERMINATE) {
				_evicted(o, url, e);
				return 0;
			}
			if (e->type == AZML_EVENT_OTHER)
				continue;
			maint = true;
			for (size_t k = 0; k < nm; k++)
				if (!strcmp(m[k].id, e->id))
					t = &m[k];
			if (!t) {
				if (nm >= AZML_SCHED_EVENTS_MAX)
					continue;
				t = &m[nm++];
				memset(t, 0, sizeof(*t));
				snprintf(t->id, sizeof(t->id), "%s", e->id);
				t->deadline = _not_before(e->not_before);
				if (!t->deadline)
					t->deadline = time(NULL) +
						      EMPTY_WAIT_DEFAULT;
				snprintf(reason, sizeof(reason),
					 AZML_MAINT_REASON "%s %s not before %s",
					 e->type_name, e->id, e->not_before[0] ?
					 e->not_before : "now");
				azml_log_info("node %s: %s: draining", o->node,
					      reason);
				azml_nodes_drain(o->node, reason);
			}
			t->seen = true;
			if (t->acked)
				continue;
			if (!strcmp(e->status, "Started")) {
				t->acked = true;	/* under way */
				continue;
			}
			if (!_node_info(o->node, &busy, &down, cur,
					sizeof(cur)) && !busy) {
				azml_log_info("node %s: no job left; %s %s may "
					      "start", o->node, e->type_name,
					      e->id);
				_ack(url, e);
				t->acked = true;
			} else if (time(NULL) >= t->deadline) {
				azml_log_info("node %s: %s %s: NotBefore passed "
					      "with jobs still running",
					      o->node, e->type_name, e->id);
				t->acked = true;
			}
		}
		/* Events over: forget them; once none is left, back to
		 * service (also at the first poll: after a reboot). */
		{
			size_t k = 0, before = nm;

			for (size_t i = 0; i < nm; i++)
				if (m[i].seen)
					m[k++] = m[i];
			nm = k;
			if (!maint && (first || before > 0))
				_resume_if_ours(o->node);
		}
		first = false;
next:
		usleep((useconds_t) (o->interval * 1e6));
	}
}

int azml_cmd_watch_events(const azml_cmd_t *cmd, int argc, char **argv)
{
	azml_watch_opts_t o = { .interval = 1 };
	const char *file = NULL, *imds = NULL, *env;
	char host[256];
	azml_conf_t *conf = NULL;
	int c, rc;

	optind = 0;
	while ((c = azml_cmd_getopt(cmd, argc, argv, &rc)) != -1) {
		switch (c) {
		case AZML_OPT_EXIT:
			return rc;
		case 'f':
			file = optarg;
			break;
		case 'I':
			imds = optarg;
			break;
		case 'n':
			o.node = optarg;
			break;
		case 'v':
			o.vm = optarg;
			break;
		case 'i':
			o.interval = atof(optarg) > 0.1 ? atof(optarg) : 1;
			break;
		}
	}
	if (azml_cmd_args(cmd, argc, argv, 0, 0))
		return 2;
	if (!o.node) {
		azml_short_hostname(host, sizeof(host));
		o.node = host;
	}
	env = getenv("AZURE_EMULATOR_VM");
	if (!o.vm)
		o.vm = env && *env ? env : o.node;
	if (!azml_arm_name_ok(o.node) || !azml_arm_name_ok(o.vm))
		return azml_cmd_usage_error(cmd, "'%.64s' is not a valid %s "
					    "name", azml_arm_name_ok(o.node) ?
					    o.vm : o.node,
					    azml_arm_name_ok(o.node) ? "VM" :
					    "node");
	/* azureml.conf only when named (there is none on a VM): its
	 * ImdsEndpoint and LogFile. */
	if (file && azml_cmd_conf(cmd, file, AZML_CONF_LOG, &conf))
		return 1;
	o.imds = imds ? imds : conf ? conf->imds_endpoint : azml_imds_default();
	if (!azml_http_url_allowed(o.imds)) {
		azml_conf_destroy(conf);
		return azml_cmd_usage_error(cmd, "'%.200s' is not a usable "
					    "IMDS endpoint", o.imds);
	}
	azml_log_init(AZML_LOG_SYSLOG, "slurm-azureml-watch", AZML_LOG_INFO);
	azml_log_also_stderr(1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = azml_events_watch(&o);
	azml_conf_destroy(conf);
	return rc;
}

/*
 * nodes.c - slurmctld's view of nodes through libslurm (see nodes.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>

#include "log.h"
#include "nodes.h"
#include "slurm_compat.h"

static void _slurm_init(void)
{
	slurm_init(NULL);
}

void azml_nodes_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	/* Slurm 24.11's API exits ("No hash plugins loaded") when any RPC
	 * comes before slurm_init(); once is enough. */
	pthread_once(&once, _slurm_init);
}

static int _update(update_node_msg_t *m, const char *what)
{
	if (slurm_update_node(m) == SLURM_SUCCESS)
		return 0;
	azml_log_error("couldn't %s %s: %s", what, m->node_names,
		       slurm_strerror(errno));
	return -1;
}

int azml_nodes_set_addr(const char *nodes, const char *addr, const char *host)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) nodes;
	m.node_addr = (char *) addr;
	m.node_hostname = (char *) host;
	return _update(&m, "set the address of");
}

/*
 * NODE runs VM VM_ID ("" or NULL: unknown) of SIZE: its ActiveFeatures
 * become FEATURES (NULL: left alone), and on Slurm >= 23.02 its
 * InstanceType SIZE and InstanceId VM_ID (slurmdbd keeps them).
 */
int azml_node_set_instance(const char *node, const char *features,
			   const char *size, const char *vm_id)
{
	update_node_msg_t m;

#if SLURM_VERSION_NUMBER < SLURM_VERSION_NUM(23, 2, 0)
	if (!features)
		return 0;	/* no InstanceType before 23.02 */
#endif
	slurm_init_update_node_msg(&m);
	m.node_names = (char *) node;
	m.features_act = (char *) features;
#if SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(23, 2, 0)
	m.instance_type = size && size[0] ? (char *) size : NULL;
	m.instance_id = vm_id && vm_id[0] ? (char *) vm_id : NULL;
#endif
	return _update(&m, "set the VM size and active features of");
}

/* ---- addresses in batches --------------------------------------------- */

#define ADDR_BATCH 512

typedef struct {
	char node[96], addr[64], host[96];
} addr_ent_t;

struct azml_addr_queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	addr_ent_t *q;
	size_t n, cap;
	bool done;
	int failed;
	pthread_t th;
};

/* Whether slurmctld was not there to answer (restarting, say). */
static bool _unreachable(int err)
{
	return err == SLURM_COMMUNICATIONS_CONNECTION_ERROR ||
	       err == SLURM_COMMUNICATIONS_SEND_ERROR ||
	       err == SLURM_COMMUNICATIONS_RECEIVE_ERROR ||
	       err == SLURM_COMMUNICATIONS_SHUTDOWN_ERROR ||
	       err == SLURMCTLD_COMMUNICATIONS_CONNECTION_ERROR ||
	       err == SLURMCTLD_COMMUNICATIONS_SEND_ERROR ||
	       err == SLURMCTLD_COMMUNICATIONS_RECEIVE_ERROR ||
	       err == SLURMCTLD_COMMUNICATIONS_SHUTDOWN_ERROR ||
	       err == SLURM_PROTOCOL_SOCKET_IMPL_TIMEOUT ||
	       err == ESLURM_IN_STANDBY_MODE;
}

/* An address that slurmctld misses while it restarts would leave a VM's
 * node unreachable: keep trying for a minute. */
static int _set_addr_patient(const char *names, const char *addrs,
			     const char *hosts)
{
	update_node_msg_t m;
	int err = 0;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) names;
	m.node_addr = (char *) addrs;
	m.node_hostname = (char *) hosts;
	for (int i = 0; i < 60; i++) {
		if (slurm_update_node(&m) == SLURM_SUCCESS) {
			if (i)
				azml_log_info("slurmctld took the addresses "
					      "after %d s", i);
			return 0;
		}
		err = errno;
		if (!_unreachable(err))
			break;
		if (!i)
			azml_log_info("slurmctld does not answer (%s); trying "
				      "again for a minute", slurm_strerror(err));
		sleep(1);
	}
	azml_log_error("couldn't set the address of %.200s: %s", names,
		       slurm_strerror(err));
	return -1;
}

/* NAMES, ADDRS, HOSTS as comma lists in one RPC; Slurm pairs them in order. */
static int _send_batch(const addr_ent_t *e, size_t n)
{
	char *names = NULL, *addrs = NULL, *hosts = NULL;
	size_t ln, la, lh;
	FILE *fn = open_memstream(&names, &ln), *fa = open_memstream(&addrs, &la);
	FILE *fh = open_memstream(&hosts, &lh);
	int failed = 0;

	for (size_t i = 0; fn && fa && fh && i < n; i++) {
		fprintf(fn, "%s%s", i ? "," : "", e[i].node);
		fprintf(fa, "%s%s", i ? "," : "", e[i].addr);
		fprintf(fh, "%s%s", i ? "," : "", e[i].host);
	}
	if (fn)
		fclose(fn);
	if (fa)
		fclose(fa);
	if (fh)
		fclose(fh);
	if (!names || !addrs || !hosts || _set_addr_patient(names, addrs, hosts) < 0) {
		/* one unknown node fails the whole batch: do them one by one */
		for (size_t i = 0; n > 1 && i < n; i++)
			failed += azml_nodes_set_addr(e[i].node, e[i].addr,
						      e[i].host) < 0;
		if (n == 1)
			failed = 1;
	}
	free(names);
	free(addrs);
	free(hosts);
	return failed;
}

static void *_addr_thread(void *arg)
{
	azml_addr_queue_t *q = arg;

	for (;;) {
		addr_ent_t *batch;
		size_t n;

		pthread_mutex_lock(&q->mu);
		while (!q->n && !q->done)
			pthread_cond_wait(&q->cv, &q->mu);
		if (!q->n) {
			pthread_mutex_unlock(&q->mu);
			return NULL;
		}
		batch = q->q;
		n = q->n;
		q->q = NULL;
		q->n = q->cap = 0;
		pthread_mutex_unlock(&q->mu);
		for (size_t i = 0; i < n; i += ADDR_BATCH) {
			int f = _send_batch(batch + i, n - i < ADDR_BATCH ?
					    n - i : ADDR_BATCH);

			pthread_mutex_lock(&q->mu);
			q->failed += f;
			pthread_mutex_unlock(&q->mu);
		}
		free(batch);
	}
}

azml_addr_queue_t *azml_addr_queue_start(void)
{
	azml_addr_queue_t *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->cv, NULL);
	if (pthread_create(&q->th, NULL, _addr_thread, q)) {
		free(q);
		return NULL;
	}
	return q;
}

void azml_addr_queue_push(azml_addr_queue_t *q, const char *node,
			  const char *addr, const char *host)
{
	addr_ent_t e;

	snprintf(e.node, sizeof(e.node), "%s", node);
	snprintf(e.addr, sizeof(e.addr), "%s", addr);
	snprintf(e.host, sizeof(e.host), "%s", host);
	if (!q) {	/* no thread: at once */
		azml_nodes_set_addr(e.node, e.addr, e.host);
		return;
	}
	pthread_mutex_lock(&q->mu);
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 64;
		addr_ent_t *nq = realloc(q->q, cap * sizeof(*nq));

		if (!nq) {
			pthread_mutex_unlock(&q->mu);
			azml_nodes_set_addr(e.node, e.addr, e.host);
			return;
		}
		q->q = nq;
		q->cap = cap;
	}
	q->q[q->n++] = e;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
}

int azml_addr_queue_finish(azml_addr_queue_t *q)
{
	int failed;

	if (!q)
		return 0;
	pthread_mutex_lock(&q->mu);
	q->done = true;
	pthread_cond_signal(&q->cv);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL);
	failed = q->failed;
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->cv);
	free(q->q);
	free(q);
	return failed;
}

static int _state(const char *nodes, uint32_t state, const char *reason,
		  const char *what)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) nodes;
	m.node_state = state;
	m.reason = (char *) reason;
	return _update(&m, what);
}

int azml_nodes_power_down_force(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_POWER_DOWN | NODE_STATE_POWERED_DOWN,
		      reason, "power down");
}

int azml_nodes_power_down(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_POWER_DOWN, reason, "power down");
}

int azml_nodes_power_down_asap(const char *nodes, const char *reason)
{
	/* scontrol's POWER_DOWN_ASAP */
	return _state(nodes, NODE_STATE_POWER_DOWN | NODE_STATE_POWER_DRAIN,
		      reason, "power down when idle");
}

int azml_nodes_down(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_DOWN, reason, "set DOWN");
}

int azml_nodes_resume(const char *nodes)
{
	return _state(nodes, NODE_RESUME, NULL, "resume");
}

int azml_nodes_power_up(const char *nodes)
{
	return _state(nodes, NODE_STATE_POWER_UP, NULL, "power up");
}

int azml_nodes_drain(const char *nodes, const char *reason)
{
	return _state(nodes, NODE_STATE_DRAIN, reason, "drain");
}

bool azml_node_powered_down(const azml_node_t *n)
{
	return (n->state & NODE_STATE_POWERED_DOWN) &&
	       !(n->state & NODE_STATE_POWERING_UP);
}

bool azml_node_powering_up(const azml_node_t *n)
{
	return n->state & NODE_STATE_POWERING_UP;
}

static void _state_str(azml_node_t *n)
{
	const char *base;
	uint32_t s = n->state;

	switch (s & NODE_STATE_BASE) {
	case NODE_STATE_DOWN: base = "down"; break;
	case NODE_STATE_IDLE: base = "idle"; break;
	case NODE_STATE_ALLOCATED: base = "alloc"; break;
	case NODE_STATE_MIXED: base = "mix"; break;
	case NODE_STATE_FUTURE: base = "future"; break;
	default: base = "unknown"; break;
	}
	snprintf(n->state_str, sizeof(n->state_str), "%s%s%s%s", base,
		 (s & NODE_STATE_DRAIN) ? "+drain" : "",
		 (s & NODE_STATE_POWERING_UP) ? "#" :
		 (s & NODE_STATE_POWERING_DOWN) ? "%" :
		 (s & NODE_STATE_POWERED_DOWN) ? "~" : "",
		 (s & NODE_STATE_NO_RESPOND) ? "*" : "");
}

int azml_nodes_known(const char *node, uint32_t *state)
{
	node_info_msg_t *info = NULL;
	int rc = 0;

	if (slurm_load_node_single(&info, (char *) node,
				   SHOW_ALL | SHOW_FUTURE) != SLURM_SUCCESS) {
		if (errno == ESLURM_INVALID_NODE_NAME)
			return 0;
		azml_log_error("couldn't read node %s from slurmctld: %s",
			       node, slurm_strerror(errno));
		return -1;
	}
	for (uint32_t i = 0; i < info->record_count; i++)
		if (info->node_array[i].name &&
		    !strcmp(info->node_array[i].name, node)) {
			if (state)
				*state = info->node_array[i].node_state;
			rc = 1;
		}
	slurm_free_node_info_msg(info);
	return rc;
}

char *azml_job_features(uint32_t job_id)
{
	job_info_msg_t *msg = NULL;
	char *f = NULL;

	if (azml_slurm_load_job(&msg, job_id, SHOW_ALL) != SLURM_SUCCESS)
		return NULL;
	if (msg->record_count && msg->job_array[0].features &&
	    msg->job_array[0].features[0])
		f = strdup(msg->job_array[0].features);
	slurm_free_job_info_msg(msg);
	return f;
}

int azml_nodes_features_reset(const char *node)
{
	node_info_msg_t *info = NULL;
	update_node_msg_t m;
	int rc = -1;

	if (slurm_load_node_single(&info, (char *) node, SHOW_ALL) !=
	    SLURM_SUCCESS) {
		azml_log_error("couldn't read node %s from slurmctld: %s",
			       node, slurm_strerror(errno));
		return -1;
	}
	for (uint32_t i = 0; i < info->record_count; i++) {
		node_info_t *ni = &info->node_array[i];

		if (!ni->name || strcmp(ni->name, node) || !ni->features)
			continue;
		slurm_init_update_node_msg(&m);
		m.node_names = (char *) node;
		m.features_act = ni->features;
		rc = _update(&m, "reset the active features of");
		break;
	}
	slurm_free_node_info_msg(info);
	return rc;
}

int azml_nodes_create(const char *line)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.extra = (char *) line;	/* how scontrol create sends it */
	if (slurm_create_node(&m) == SLURM_SUCCESS)
		return 0;
	azml_log_error("couldn't create node '%s': %s", line,
		       slurm_strerror(errno));
	return -1;
}

int azml_nodes_delete(const char *node)
{
	update_node_msg_t m;

	slurm_init_update_node_msg(&m);
	m.node_names = (char *) node;
	if (slurm_delete_node(&m) == SLURM_SUCCESS)
		return 0;
	azml_log_error("couldn't delete node %s: %s", node,
		       slurm_strerror(errno));
	return -1;
}

int azml_nodes_load(azml_node_t **out)
{
	node_info_msg_t *info = NULL;
	int n = 0;

	if (slurm_load_node(0, &info, SHOW_ALL) != SLURM_SUCCESS) {
		azml_log_error("couldn't read the nodes from slurmctld: %s",
			       slurm_strerror(errno));
		return -1;
	}
	*out = calloc(info->record_count + 1, sizeof(azml_node_t));
	for (uint32_t i = 0; *out && i < info->record_count; i++) {
		node_info_t *ni = &info->node_array[i];
		azml_node_t *a = &(*out)[n];

		if (!ni->name)
			continue;
		snprintf(a->name, sizeof(a->name), "%s", ni->name);
		a->state = ni->node_state;
		snprintf(a->reason, sizeof(a->reason), "%s",
			 ni->reason ? ni->reason : "");
		a->slurmd_start = (long) ni->slurmd_start_time;
		a->last_busy = (long) ni->last_busy;
		a->reason_time = (long) ni->reason_time;
		a->cpus = ni->cpus;
		_state_str(a);
		n++;
	}
	slurm_free_node_info_msg(info);
	return n;
}

#define ADMIN_COMMENT_MAX 1000	/* what we keep of a job's AdminComment */

int azml_job_reschedule(uint32_t job_id, bool now, const char *note)
{
	job_info_msg_t *msg = NULL;
	slurm_job_info_t *j;
	job_desc_msg_t d;
	char comment[ADMIN_COMMENT_MAX + 1];
	const char *old;
	size_t olen, nlen = note ? strlen(note) : 0;
	int rc;

	if (azml_slurm_load_job(&msg, job_id, SHOW_ALL) != SLURM_SUCCESS) {
		rc = errno == ESLURM_INVALID_JOB_ID ? -1 : 0;
		goto out;
	}
	if (msg->record_count < 1) {
		rc = -1;
		goto out;
	}
	j = &msg->job_array[0];
	if ((j->job_state & JOB_STATE_BASE) != JOB_PENDING ||
	    (j->job_state & (JOB_COMPLETING | JOB_REQUEUE | JOB_CONFIGURING))) {
		/* still being requeued, or done with */
		rc = (j->job_state & JOB_STATE_BASE) > JOB_SUSPENDED ? -1 : 0;
		goto out;
	}
	slurm_init_job_desc_msg(&d);
	azml_job_desc_set_job(&d, job_id);
	if (now && (j->state_reason == WAIT_TIME ||
		    j->start_time > time(NULL)))
		d.begin_time = time(NULL);
	/* the job's history: our notes after the admin's, the oldest dropped */
	old = j->admin_comment ? j->admin_comment : "";
	if (nlen > ADMIN_COMMENT_MAX / 2)
		nlen = ADMIN_COMMENT_MAX / 2;
	olen = strlen(old);
	if (olen + nlen + 2 > ADMIN_COMMENT_MAX) {
		old += olen + nlen + 2 - ADMIN_COMMENT_MAX;
		olen = strlen(old);
	}
	snprintf(comment, sizeof(comment), "%s%s%.*s", old, olen && nlen ?
		 "; " : "", (int) nlen, note ? note : "");
	if (nlen)
		d.admin_comment = comment;
	if (!nlen && !d.begin_time) {
		rc = 1;
		goto out;
	}
	if (slurm_update_job(&d) != SLURM_SUCCESS) {
		azml_log_error("couldn't update job %u: %s", job_id,
			       slurm_strerror(errno));
		rc = -1;
		goto out;
	}
	rc = 1;
out:
	if (msg)
		slurm_free_job_info_msg(msg);
	return rc;
}

int azml_nodes_requeue_jobs(const char *node)
{
	job_info_msg_t *jobs = NULL;
	int n = 0;

	if (slurm_load_jobs(0, &jobs, SHOW_ALL) != SLURM_SUCCESS)
		return -1;
	for (uint32_t i = 0; i < jobs->record_count; i++) {
		slurm_job_info_t *j = &jobs->job_array[i];
		azml_hostlist_t hl;

		if (j->job_state != JOB_RUNNING || !j->nodes)
			continue;
		hl = slurm_hostlist_create(j->nodes);
		if (hl && slurm_hostlist_find(hl, node) >= 0) {
			if (azml_slurm_requeue(j->job_id, 0) == SLURM_SUCCESS)
				n++;
			else
				azml_log_error("couldn't requeue job %u: %s",
					       j->job_id,
					       slurm_strerror(errno));
		}
		if (hl)
			slurm_hostlist_destroy(hl);
	}
	slurm_free_job_info_msg(jobs);
	return n;
}

/* ---- which node this machine is ---------------------------------------- */

/* Whether A and B are the same address: as IPv4 or IPv6 when both parse
 * (so "fd00::5" is "fd00:0::5"), else as text. */
static bool _same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	static const int af[] = { AF_INET, AF_INET6 };

	for (size_t i = 0; i < sizeof(af) / sizeof(af[0]); i++)
		if (inet_pton(af[i], a, x) == 1 && inet_pton(af[i], b, y) == 1)
			return !memcmp(x, y, af[i] == AF_INET ? 4 : 16);
	return !strcmp(a, b);
}

static bool _host_match(const azml_node_addr_t *nd, const char *host)
{
	if (!nd->hostname || !host || !*host || strcasecmp(nd->hostname, host))
		return false;
	/* NodeHostname left at its default (the node's name) was never
	 * paired: it is this machine only under that very name */
	return strcmp(nd->hostname, nd->name) || !strcasecmp(host, nd->name);
}

static bool _addr_match(const azml_node_addr_t *nd, const char *const *addrs,
			size_t naddrs)
{
	if (!nd->addr || !*nd->addr)
		return false;
	for (size_t i = 0; i < naddrs; i++)
		if (addrs[i] && *addrs[i] && _same_addr(nd->addr, addrs[i]))
			return true;
	return false;
}

/* The nodes that match (pass 0: by NodeHostname, 1: by NodeAddr): how
 * many, the first's index in *FIRST, their names in NAMES. */
static size_t _matches(const azml_node_addr_t *nodes, size_t n, int pass,
		       const char *host, const char *const *addrs,
		       size_t naddrs, size_t *first, char *names, size_t nn)
{
	size_t count = 0, at = 0;

	if (nn)
		names[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!nodes[i].name || !*nodes[i].name)
			continue;
		if (pass == 0 ? !_host_match(&nodes[i], host) :
				!_addr_match(&nodes[i], addrs, naddrs))
			continue;
		if (!count++)
			*first = i;
		if (at < nn) {
			int w = snprintf(names + at, nn - at, "%s%s",
					 count > 1 ? ", " : "", nodes[i].name);

			at = w < 0 ? nn : at + (size_t) w;
		}
	}
	return count;
}

int azml_nodes_match_self(const azml_node_addr_t *nodes, size_t n,
			  const char *host, const char *const *addrs,
			  size_t naddrs, bool *by_addr, char *why, size_t wn)
{
	char names[512];
	size_t first = 0, count;

	for (int pass = 0; pass < 2; pass++) {
		count = _matches(nodes, n, pass, host, addrs, naddrs, &first,
				 names, sizeof(names));
		if (count == 1) {
			if (by_addr)
				*by_addr = pass == 1;
			return (int) first;
		}
		if (count > 1) {
			if (pass == 0)
				snprintf(why, wn, "%zu nodes have NodeHostname="
					 "%s: %s", count, host, names);
			else
				snprintf(why, wn, "%zu nodes have a NodeAddr of "
					 "this machine: %s", count, names);
			return -2;
		}
	}
	return -1;
}

int azml_nodes_find_self(const char *host, const char *const *addrs,
			 size_t naddrs, azml_node_self_t *out, char *err,
			 size_t en)
{
	node_info_msg_t *info = NULL;
	azml_node_addr_t *v = NULL;
	const azml_node_addr_t *m;
	size_t n = 0;
	bool by_addr = false;
	char why[600];
	int i, rc = -1;

	if (slurm_load_node(0, &info, SHOW_ALL) != SLURM_SUCCESS) {
		int e = errno;

		snprintf(err, en, "couldn't read the nodes from slurmctld: %s",
			 slurm_strerror(e));
		return _unreachable(e) ? 0 : -1;
	}
	if (!(v = calloc(info->record_count + 1, sizeof(*v)))) {
		snprintf(err, en, "out of memory");
		goto out;
	}
	for (uint32_t k = 0; k < info->record_count; k++) {
		node_info_t *ni = &info->node_array[k];

		if (!ni->name)
			continue;
		v[n].name = ni->name;
		v[n].hostname = ni->node_hostname;
		v[n].addr = ni->node_addr;
		n++;
	}
	i = azml_nodes_match_self(v, n, host, addrs, naddrs, &by_addr, why,
				  sizeof(why));
	if (i == -2) {
		snprintf(err, en, "%s", why);
		goto out;
	}
	if (i < 0) {
		if (en)
			err[0] = '\0';
		rc = 0;
		goto out;
	}
	m = &v[i];
	if (strlen(m->name) >= sizeof(out->name)) {
		snprintf(err, en, "node name '%.100s...' is too long", m->name);
		goto out;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", m->name);
	snprintf(out->hostname, sizeof(out->hostname), "%s",
		 m->hostname ? m->hostname : "");
	snprintf(out->addr, sizeof(out->addr), "%s", m->addr ? m->addr : "");
	out->by_addr = by_addr;
	rc = 1;
out:
	free(v);
	slurm_free_node_info_msg(info);
	return rc;
}


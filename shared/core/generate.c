/*
 * generate.c - turn azureml.conf into slurm.conf and gres.conf lines.
 *
 * Compute clusters become partitions of State=CLOUD nodes that Slurm's power
 * saving creates and deletes through our programs; the partition SuspendTime
 * is the target's IdleSecondsBeforeScaledown, MinNodes becomes the ":N" form
 * of SuspendExcNodes.  Instances and attached nodes are excluded from
 * suspend (SuspendExcParts).  Attached nodes start as State=FUTURE: defined,
 * not resolved or used until 'slurm-azureml attach --accept' admits them;
 * with dynamic_attach (24.11 and later) accept creates them, and their
 * partition is a NodeSet by feature.
 */
#include "config.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <slurm/slurm_version.h>

#include "generate.h"
#include "gres.h"

int azml_usable_memory_mib(int mib)
{
	/* The hypervisor and kernel keep some of a VM's memory: report 95% so
	 * that a booted VM never registers with less than Slurm expects. */
	return (int) ((long long) mib * 95 / 100);
}

static void _features(FILE *fp, const azml_target_t *t)
{
	fprintf(fp, " Feature=azureml,%s", t->name);
	if (t->kind == AZML_ATTACHED) {
		fprintf(fp, ",attached");
		return;
	}
	/* A mix (VmSize=A,B,...): a feature for each size, so that a job can
	 * ask for one (-C A, or --azure-vm-size=A), then each series once.
	 * Its sizes share GPUs and isolation (check-config). */
	if (!t->nmix) {
		fprintf(fp, ",%s,%s", t->vm_size, t->size.series->name);
	} else {
		for (size_t i = 0; i < t->nmix; i++)
			fprintf(fp, ",%s", t->mix[i]);
		for (size_t i = 0; i < t->nmix; i++) {
			size_t j = 0;

			while (j < i &&
			       t->mix_size[j].series != t->mix_size[i].series)
				j++;
			if (j == i)
				fprintf(fp, ",%s", t->mix_size[i].series->name);
		}
	}
	if (t->size.arch)
		fprintf(fp, ",%s", t->size.arch->arch);
	if (t->size.isolated)
		fprintf(fp, ",isolated");
	fprintf(fp, ",%s", t->kind == AZML_INSTANCE ? "instance" :
		t->priority == AZML_LOW_PRIORITY ? "lowpriority" : "dedicated");
}

/* A "Key=a,b,c" line of the targets that PICK selects, or nothing. */
static void _list_line(FILE *fp, const azml_conf_t *conf, const char *key,
		       bool (*pick)(const azml_target_t *),
		       void (*item)(FILE *, const azml_target_t *))
{
	bool sep = false;

	for (size_t i = 0; i < conf->ntargets; i++) {
		if (!pick(&conf->targets[i]))
			continue;
		fprintf(fp, "%s", sep ? "," : key);
		item(fp, &conf->targets[i]);
		sep = true;
	}
	if (sep)
		fputc('\n', fp);
}

static bool _not_cluster(const azml_target_t *t)
{
	return t->kind != AZML_CLUSTER;
}

static bool _has_min_nodes(const azml_target_t *t)
{
	return t->kind == AZML_CLUSTER && t->min_nodes > 0;
}

static void _name_item(FILE *fp, const azml_target_t *t)
{
	fputs(t->name, fp);
}

static void _min_nodes_item(FILE *fp, const azml_target_t *t)
{
	fprintf(fp, "%s:%d", t->nodes, t->min_nodes);
}

/* GresTypes= naming every gres name of every target once, gpu first (mps
 * and shard build on it); or nothing. */
static void _gres_types(FILE *fp, const azml_conf_t *conf)
{
	char seen[64][32];	/* more names: no real cluster */
	size_t nseen = 0;

	for (size_t i = 0; i < conf->ntargets && !nseen; i++)
		if (conf->targets[i].gpus > 0) {
			snprintf(seen[nseen++], sizeof(seen[0]), "gpu");
			fprintf(fp, "GresTypes=gpu");
		}

	for (size_t i = 0; i < conf->ntargets; i++) {
		azml_gres_t g;

		if (!conf->targets[i].gres ||
		    azml_gres_parse(conf->targets[i].gres, &g, NULL, 0) < 0)
			continue;
		for (size_t e = 0; e < g.n; e++) {
			size_t k;

			for (k = 0; k < nseen; k++)
				if (!strcmp(seen[k], g.ent[e].name))
					break;
			if (k < nseen || nseen == sizeof(seen) / sizeof(seen[0]))
				continue;
			snprintf(seen[nseen], sizeof(seen[0]), "%s",
				 g.ent[e].name);
			fprintf(fp, "%s%s", nseen ? "," : "GresTypes=",
				seen[nseen]);
			nseen++;
		}
	}
	if (nseen)
		fputc('\n', fp);
}

/* " Gres=..." as gres.h writes it back, or nothing. */
static void _gres(FILE *fp, const azml_target_t *t)
{
	azml_gres_t g;
	char *s;

	if (!t->gres || azml_gres_parse(t->gres, &g, NULL, 0) < 0)
		return;
	if ((s = azml_gres_string(&g)) && *s)
		fprintf(fp, " Gres=%s", s);
	free(s);
}

/* Dynamic nodes need room: MaxNodeCount counts every node slurmctld may
 * hold, those of slurm.conf and the attached ones to come. */
static void _max_node_count(FILE *fp, const azml_conf_t *conf,
			    const azml_generate_opts_t *opts)
{
	long n = 0;
	bool attached = false;

	if (!opts || !opts->dynamic_attach)
		return;
	for (size_t i = 0; i < conf->ntargets; i++) {
		n += conf->targets[i].node_count;
		attached |= conf->targets[i].kind == AZML_ATTACHED;
	}
	if (!attached)
		return;
	fprintf(fp, "# Attached nodes are dynamic nodes: add the count of "
		"slurm.conf's own nodes\n# to MaxNodeCount if it has any "
		"(slurm.conf(5)).\nMaxNodeCount=%ld\n", n);
}

bool azml_slurm_dynamic_attach(const char *version)
{
	int major, minor;

	if (!version || sscanf(version, "%d.%d", &major, &minor) != 2 ||
	    major < 0 || minor < 0)
		return false;
	return major > 24 || (major == 24 && minor >= 11);
}

char *azml_generate_attached_node(const azml_target_t *t, const char *node,
				  const char *addr, const char *host)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (!fp)
		return NULL;
	fprintf(fp, "NodeName=%s NodeAddr=%s NodeHostname=%s", node, addr,
		host ? host : addr);
	if (t->cpus)
		fprintf(fp, " CPUs=%d", t->cpus);
	if (t->real_memory)
		fprintf(fp, " RealMemory=%d", t->real_memory);
	_gres(fp, t);
	_features(fp, t);
	/* scontrol create takes only FUTURE or CLOUD; CLOUD would be powered
	 * up through ResumeProgram. */
	fprintf(fp, " State=FUTURE");
	if (fclose(fp)) {
		free(buf);
		return NULL;
	}
	return buf;
}

const char *azml_slurm_conf_path(void)
{
	const char *env = getenv("SLURM_CONF");

	return env && *env ? env : "/etc/slurm/slurm.conf";
}

int azml_slurm_conf_param(const char *path, const char *key, char **value,
			  int *line)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0, klen = strlen(key);
	int n = 0, rc = 0;

	if (!fp)
		return -1;
	/* slurm.conf is one Key=Value word after another: look at each word
	 * of each line up to a '#' (a line or a file of any length). */
	while (getline(&buf, &cap, fp) >= 0 && !rc && ++n < 1000000) {
		char *save = NULL, *w;

		buf[strcspn(buf, "#\r\n")] = '\0';
		for (w = strtok_r(buf, " \t", &save); w;
		     w = strtok_r(NULL, " \t", &save)) {
			if (strncasecmp(w, key, klen) || w[klen] != '=')
				continue;
			w += klen + 1;
			if (*w == '"') {	/* Key="a,b" */
				w++;
				w[strcspn(w, "\"")] = '\0';
			}
			if (!(*value = strdup(w))) {
				rc = -1;	/* out of memory */
				break;
			}
			*line = n;
			rc = 1;
			break;
		}
	}
	free(buf);
	fclose(fp);
	return rc;
}

/* Whether the comma-separated list V has WORD (any case). */
static bool _has_param(const char *v, const char *word)
{
	size_t len = strlen(word);

	for (const char *s = v; s && *s; s = strchr(s, ',')) {
		if (*s == ',')
			s++;
		if (!strncasecmp(s, word, len) && (s[len] == ',' || !s[len]))
			return true;
	}
	return false;
}

char *azml_configless_advice(const char *slurm_conf)
{
	char *value = NULL, *msg = NULL;
	int line = 0;

	if (azml_slurm_conf_param(slurm_conf, "SlurmctldParameters", &value,
				  &line) != 1)
		return NULL;
	if (!_has_param(value, "enable_configless") &&
	    asprintf(&msg, "%s:%d: warning: SlurmctldParameters=%.200s lacks "
		     "enable_configless, which VMs need to fetch their "
		     "configuration (slurmd --conf-server); Slurm keeps only the "
		     "last SlurmctldParameters line it reads, so 'slurm-azureml "
		     "generate' does not add one: add enable_configless to this "
		     "line", slurm_conf, line, value) < 0)
		msg = NULL;	/* out of memory: no advice */
	free(value);
	return msg;
}

/*
 * SlurmctldParameters=enable_configless, unless slurm.conf has a line of
 * its own: Slurm 22.05 keeps the last SlurmctldParameters line it reads
 * (read_config, s_p_parse: "SlurmctldParameters 1 specified more than once,
 * latest value used" in the daemons' log), with no merge, so a second line
 * here would drop the admin's parameters or be dropped by them.
 */
static void _configless(FILE *fp, const azml_generate_opts_t *opts)
{
	char *value = NULL;
	int line = 0, found = opts && opts->slurm_conf ?
		azml_slurm_conf_param(opts->slurm_conf, "SlurmctldParameters",
				      &value, &line) : 0;

	if (found != 1) {
		fprintf(fp, "# VMs join by themselves with configless slurmd.  "
			"Slurm keeps only the last\n# SlurmctldParameters line "
			"it reads: if slurm.conf has one, delete this line\n"
			"# and add enable_configless to that one.\n"
			"SlurmctldParameters=enable_configless\n");
	} else if (_has_param(value, "enable_configless")) {
		fprintf(fp, "# SlurmctldParameters: %s:%d has enable_configless "
			"(configless slurmd on VMs).\n", opts->slurm_conf, line);
	} else {
		fprintf(fp, "# NOT SET HERE: %s:%d has its own "
			"SlurmctldParameters, and Slurm keeps\n# only the last "
			"such line: add enable_configless to it (VMs fetch their\n"
			"# configuration with slurmd --conf-server).\n",
			opts->slurm_conf, line);
	}
	free(value);
}

char *azml_generate_slurm_conf(const azml_conf_t *conf,
			       const azml_generate_opts_t *opts)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	const char *dir = opts && opts->program_dir ? opts->program_dir :
			  AZML_PROGRAM_DIR;
	int port = opts ? opts->port_base : 0;

	if (!fp)
		return NULL;
	fprintf(fp, "# slurm.conf lines for the compute targets of %s.\n"
		"# Generated by 'slurm-azureml generate': edit azureml.conf "
		"and regenerate.\n", conf->path);
	fprintf(fp, "ResumeProgram=%s/slurm-azureml-resume\n", dir);
	fprintf(fp, "SuspendProgram=%s/slurm-azureml-suspend\n", dir);
	fprintf(fp, "ResumeFailProgram=%s/slurm-azureml-resume-fail\n", dir);
	/* Busy nodes too (a GPU lost under a job), spread over the
	 * interval rather than all nodes at once. */
	if (conf->health_check_interval > 0)
		fprintf(fp, "HealthCheckProgram=%s/slurm-azureml-health-check\n"
			"HealthCheckInterval=%d\n"
			"HealthCheckNodeState=ANY,CYCLE\n", dir,
			conf->health_check_interval);
	fprintf(fp, "ResumeTimeout=600\nSuspendTimeout=120\n"
		"ResumeRate=0\nSuspendRate=0\n"
		"TreeWidth=65533\nPrivateData=cloud\n");
	_configless(fp, opts);
#if AZML_SLURM_VERSION_NUMBER >= SLURM_VERSION_NUM(24, 5, 0)
	/* SlurmctldParameters is one line, the admin's: a hint, not a value. */
	fprintf(fp, "# Slurm 24.05 and later: add power_save_interval=1 to "
		"SlurmctldParameters,\n# or a power-up may wait 10 s "
		"(README: Slurm versions).\n");
#endif
	_gres_types(fp, conf);
	_max_node_count(fp, conf, opts);
	_list_line(fp, conf, "SuspendExcParts=", _not_cluster, _name_item);
	_list_line(fp, conf, "SuspendExcNodes=", _has_min_nodes,
		   _min_nodes_item);

	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];

		fprintf(fp, "\n# %s %s (%s:%d)", azml_kind_name(t->kind),
			t->name, t->file, t->line);
		if (t->kind != AZML_ATTACHED)
			fprintf(fp, ": %s, series %s, %s", t->vm_size,
				t->size.series->name,
				azml_priority_name(t->priority));
		if (t->kind == AZML_ATTACHED && opts && opts->dynamic_attach) {
			/* Nodes made by 'attach --accept': their partition
			 * takes them by their feature (the target's name). */
			fprintf(fp, "\nNodeSet=%s-nodes Feature=%s\n"
				"PartitionName=%s Nodes=%s-nodes "
				"SuspendTime=INFINITE MaxTime=INFINITE "
				"State=UP\n", t->name, t->name, t->name,
				t->name);
			continue;
		}
		fprintf(fp, "\nNodeName=%s", t->nodes);
		if (port > 0 && t->kind != AZML_ATTACHED) {
			if (t->node_count > 1)
				fprintf(fp, " NodeAddr=127.0.0.1 Port=[%d-%d]", port,
					port + t->node_count - 1);
			else
				fprintf(fp, " NodeAddr=127.0.0.1 Port=%d", port);
			port += t->node_count;
		}
		if (t->cpus)
			fprintf(fp, " CPUs=%d", t->cpus);
		if (t->real_memory)
			fprintf(fp, " RealMemory=%d", t->kind == AZML_ATTACHED ?
				t->real_memory :
				azml_usable_memory_mib(t->real_memory));
		_gres(fp, t);
		_features(fp, t);
		fprintf(fp, " State=%s\n",
			t->kind == AZML_ATTACHED ? "FUTURE" : "CLOUD");
		fprintf(fp, "PartitionName=%s Nodes=%s", t->name, t->nodes);
		/* auto: reconcile powers its idle nodes down at the learnt
		 * time (Slurm takes no partition SuspendTime at run time);
		 * Slurm's own, the longest auto may choose, is the backstop */
		if (t->kind == AZML_CLUSTER)
			fprintf(fp, " SuspendTime=%d", t->idle_auto ?
				AZML_IDLE_AUTO_MAX : t->idle_seconds);
		else
			fprintf(fp, " SuspendTime=INFINITE");
		fprintf(fp, " MaxTime=INFINITE State=UP\n");
	}
	if (fclose(fp)) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *azml_generate_gres_conf(const azml_conf_t *conf)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (!fp)
		return NULL;
	fprintf(fp, "# gres.conf lines for the compute targets of %s.\n"
		"# Generated by 'slurm-azureml generate --gres'.\n", conf->path);
	for (size_t i = 0; i < conf->ntargets; i++) {
		const azml_target_t *t = &conf->targets[i];
		azml_gres_t g;
		int dev = 0;

		/* gres_parse cannot fail on a loaded target's gres */
		if (!t->gres || azml_gres_parse(t->gres, &g, NULL, 0) < 0)
			continue;
		for (size_t e = 0; e < g.n; e++) {
			const azml_gres_ent_t *ent = &g.ent[e];

			fprintf(fp, "NodeName=%s Name=%s", t->nodes, ent->name);
			if (ent->type[0])
				fprintf(fp, " Type=%s", ent->type);
			/* One device per GPU, numbered on across the types
			 * (a100 nvidia[0-3], then t4 nvidia[4-5]); a count
			 * is at most AZML_GRES_MAX_GPUS here. */
			if (azml_gres_is_gpu(ent) && ent->count > 1)
				fprintf(fp, " File=/dev/nvidia[%d-%d]\n", dev,
					dev + (int) ent->count - 1);
			else if (azml_gres_is_gpu(ent) && ent->count == 1)
				fprintf(fp, " File=/dev/nvidia%d\n", dev);
			else
				fprintf(fp, " Count=%" PRIu64 "\n", ent->count);
			if (azml_gres_is_gpu(ent))
				dev += (int) ent->count;
		}
	}
	if (fclose(fp)) {
		free(buf);
		return NULL;
	}
	return buf;
}

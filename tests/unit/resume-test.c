/*
 * resume-test.c - the power-save engine (power.h) against azure-emulator:
 * what it decides for each node, seen in what it tells slurmctld (a
 * recording azml_slurm_ops_t) and in what Azure received (the emulator's
 * counters).  A fake clock makes its waits take no time.
 */
#include "config.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <microhttpd.h>

#include "hostile.h"
#include "power.h"
#include "power_int.h"	/* azml_pw_active_features */
#include "state.h"
#include "testutil.h"

#define SECRET "s3cret-for-tests"
#define SUB "00000000-0000-0000-0000-000000000001"

static char dir[64], state_dir[128];
static int port;
static pid_t emu;

/* ---- what slurmctld was told ---- */

#define MAXCALLS 64
typedef struct {
	char calls[MAXCALLS][512];	/* "OP NODES: ARGS" */
	int n;
} rec_t;

static void _rec(rec_t *r, const char *fmt, ...)
{
	va_list ap;

	ck_assert_int_lt(r->n, MAXCALLS);
	va_start(ap, fmt);
	vsnprintf(r->calls[r->n++], sizeof(r->calls[0]), fmt, ap);
	va_end(ap);
}

static int _pdf(void *arg, const char *nodes, const char *reason)
{
	_rec(arg, "power_down_force %s: %s", nodes, reason);
	return 0;
}

static int _down(void *arg, const char *nodes, const char *reason)
{
	_rec(arg, "down %s: %s", nodes, reason);
	return 0;
}

static int _drain(void *arg, const char *nodes, const char *reason)
{
	_rec(arg, "drain %s: %s", nodes, reason);
	return 0;
}

static int _resume(void *arg, const char *nodes)
{
	_rec(arg, "resume %s", nodes);
	return 0;
}

static void _set_addr(void *arg, const char *node, const char *addr,
		      const char *host)
{
	_rec(arg, "set_addr %s: %s %s", node, addr, host);
}

static int _resched(void *arg, uint32_t id, bool now, const char *note)
{
	_rec(arg, "reschedule %u: %s %s", id, now ? "now" : "later", note);
	return 1;
}

static int _set_inst(void *arg, const char *node, const char *features,
		     const char *size, const char *vm_id)
{
	_rec(arg, "set_instance %s: %s %s %s", node, features ? features :
	     "-", size, vm_id[0] ? "id" : "noid");
	return 0;
}

static int _reset_feat(void *arg, const char *node)
{
	_rec(arg, "reset_features %s", node);
	return 0;
}

static int _load(void *arg, azml_node_t **out)
{
	*out = NULL;
	return 0;	/* slurmctld knows no node */
}

/* How many calls start with PREFIX; the last one in *LAST. */
static int _calls(const rec_t *r, const char *prefix, const char **last)
{
	int n = 0;

	for (int i = 0; i < r->n; i++)
		if (!strncmp(r->calls[i], prefix, strlen(prefix))) {
			n++;
			if (last)
				*last = r->calls[i];
		}
	return n;
}

/* ---- the clock: each pause moves it on, and may do a scripted step ---- */

typedef struct {
	long offset;
	int sleeps;
	void (*step)(void *ctx, int sleeps);	/* NULL: none */
	void *ctx;
} clk_t;

static time_t _now(void *arg)
{
	return time(NULL) + ((clk_t *) arg)->offset;
}

static void _sleep(void *arg, int ms)
{
	clk_t *c = arg;

	c->offset += ms / 1000 + 1;
	c->sleeps++;
	if (c->step)
		c->step(c->ctx, c->sleeps);
	usleep(20 * 1000);
}

/* ---- the emulator and the configuration ---- */

static void _write(const char *name, const char *text, mode_t mode)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ck_assert_ptr_nonnull(fp = fopen(path, "w"));
	fputs(text, fp);
	fclose(fp);
	chmod(path, mode);
}

static void setup(void)
{
	char boot[256], cons[128];
	const char *args[] = { "--client-secret", SECRET, "--async-ms", "50",
			       "--node-init", boot, "--console-dir", cons,
			       NULL };

	snprintf(dir, sizeof(dir), "/tmp/azml-resume-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chmod(dir, 0755), 0);
	snprintf(state_dir, sizeof(state_dir), "%s/state", dir);
	ck_assert_int_eq(mkdir(state_dir, 0755), 0);
	_write("secret", SECRET "\n", 0600);
	_write("prices", "", 0644);
	tu_ssh_key(dir);
	snprintf(cons, sizeof(cons), "%s/console", dir);
	ck_assert_int_eq(mkdir(cons, 0700), 0);
	/* each VM boots in a sandbox, and its console says node-init failed
	 * (resume-fail reads it) */
	snprintf(boot, sizeof(boot), "echo 'node-init: slurmd: failed: "
		 "slurmctld did not answer'; exec sleep 600");
	curl_global_init(CURL_GLOBAL_DEFAULT);
	emu = tu_emulator_start(&port, args);
}

static void teardown(void)
{
	char cmd[128];

	tu_emulator_stop(emu, port);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static azml_conf_t *_conf(void)
{
	return tu_conf("azureml.conf",
		"ClusterName=rtest\nSubscriptionId=" SUB "\n"
		"ResourceGroup=rg\nLocation=eastus\nStateDir=%s\n"
		"ArmEndpoint=http://127.0.0.1:%d\nAuthorityHost=http://127.0.0.1:%d\n"
		"ImdsEndpoint=http://127.0.0.1:%d\n"
		"Credential=client-secret:%s/secret\n"
		"TenantId=11111111-1111-1111-1111-111111111111\n"
		"ClientId=22222222-2222-2222-2222-222222222222\n"
		"SlurmctldHost=10.0.0.4\n"
		"SshPublicKey=%s/id.pub\nSubnet=" TU_SUBNET "\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=8\n"
		"ComputeCluster=nohold VmSize=Standard_D2s_v3 MaxNodes=4 "
		"CapacityBackoff=0\n"
		"ComputeCluster=ss VmSize=Standard_D2s_v3 MaxNodes=8 "
		"Provisioning=ScaleSet\n"
		"ComputeCluster=sbe VmSize=Standard_D2s_v3 MaxNodes=8 "
		"Provisioning=ScaleSet JobScaling=BestEffort\n"
		"ComputeCluster=mx VmSize=Standard_D2s_v3,Standard_D4s_v3 "
		"MaxNodes=4 Provisioning=ScaleSet "
		"AllocationStrategy=CapacityOptimized\n"
		"ComputeCluster=mix VmSize=Standard_D2s_v3,Standard_D4s_v3 "
		"AllocationStrategy=Prioritized MaxNodes=4\n"
		"ComputeCluster=cheap VmSize=Standard_D2s_v3,Standard_D4s_v3 "
		"MaxNodes=4\n"
		"ComputeCluster=best VmSize=Standard_D2s_v3 MaxNodes=4 "
		"JobScaling=BestEffort\n"
		"ComputeCluster=co VmSize=Standard_D2s_v3,Standard_D4s_v3 "
		"AllocationStrategy=CapacityOptimized MaxNodes=4\n"
		"Prices=%s/prices\n",
		state_dir, port, port, port, dir, dir, dir);
}

static void _faults(const char *json)
{
	ck_assert_int_eq(tu_http("POST", port, "/emulator/faults", json, NULL,
				 NULL), 200);
}

/* The emulator's counter NAME (in writes_by_type when TYPE). */
static int _stat(const char *type, const char *name)
{
	char *out = NULL;
	cJSON *j, *o;
	int v;

	ck_assert_int_eq(tu_http("GET", port, "/emulator/stats", NULL, NULL,
				 &out), 200);
	ck_assert_ptr_nonnull(j = cJSON_Parse(out));
	o = type ? cJSON_GetObjectItem(j, type) : j;
	ck_assert(cJSON_IsNumber(cJSON_GetObjectItem(o, name)));
	v = cJSON_GetObjectItem(o, name)->valueint;
	cJSON_Delete(j);
	free(out);
	return v;
}

static rec_t rec;
static clk_t clk;
static azml_slurm_ops_t ops = {
	.arg = &rec, .power_down_force = _pdf, .down = _down, .drain = _drain,
	.resume = _resume, .set_addr = _set_addr, .job_reschedule = _resched,
	.load = _load, .set_instance = _set_inst,
	.reset_features = _reset_feat,
};
static azml_clock_t clock_ops = { &clk, _now, _sleep };

/* One run of MODE for HOSTLIST, in the foreground; its return value. */
static int _run(const azml_conf_t *c, azml_power_mode_t mode,
		const char *hostlist, const char *resume_file,
		azml_power_report_t *rep)
{
	static const azml_ctld_info_t ctld = { "10.0.0.4:6817", "rtest",
					       "22.05.8" };
	azml_power_env_t env = { .resume_file = resume_file, .slurm = &ops,
				 .clock = &clock_ops, .ctld = &ctld };
	int rc;

	memset(&rec, 0, sizeof(rec));
	rc = azml_power_run(c, mode, hostlist, &env, rep);
	ck_assert(!rep->parent);
	return rc;
}

/* ---- the cases ---- */

START_TEST(resume_creates_one_vm_a_node)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;

	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-[1-3]", NULL, &rep), 0);
	ck_assert_int_eq(rep.nodes, 3);
	ck_assert_int_eq(rep.done, 3);
	ck_assert_int_eq(_stat(NULL, "creates"), 3);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 3);
	/* each node's address, nothing handed back */
	ck_assert_int_eq(_calls(&rec, "set_addr cpu-", NULL), 3);
	ck_assert_int_eq(_calls(&rec, "set_addr cpu-2: ", &last), 1);
	ck_assert_str_eq(last, "set_addr cpu-2: 127.0.0.1 cpu-2");
	ck_assert_int_eq(_calls(&rec, "power_down_force", NULL), 0);
	/* its intent was recorded, and ended */
	for (int i = 1; i <= 3; i++) {
		char node[16];

		snprintf(node, sizeof(node), "cpu-%d", i);
		ck_assert(!azml_state_intent_active(c, node));
	}
	/* a node of no target: nothing done at all */
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-4,other-1", NULL,
			      &rep), -1);
	ck_assert_int_eq(_stat(NULL, "creates"), 3);
	ck_assert_int_eq(rec.n, 0);
	azml_conf_destroy(c);
}
END_TEST

/* Another program's operation on the node: it is "in flight" while a
 * child of ours lives and owns the intent; the clock's step ends it. */
typedef struct {
	const azml_conf_t *c;
	const char *node;
	azml_op_t op;
	pid_t pid;
	int ended_at;
} other_t;

static void _end_other(void *ctx, int sleeps)
{
	other_t *o = ctx;
	char err[256];

	if (o->ended_at)
		return;
	o->ended_at = sleeps;
	ck_assert_int_eq(azml_state_intent_end(o->c, o->node, o->op, o->pid,
					       true, NULL, err, sizeof(err)), 0);
}

static pid_t _other_program(const azml_conf_t *c, const char *node,
			    azml_op_t op)
{
	azml_turn_info_t info;
	char err[256];
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		pause();
		_exit(0);
	}
	ck_assert_int_eq(azml_state_intent_begin(c, node, op, pid, &info, err,
						 sizeof(err)), AZML_TURN_RUN);
	return pid;
}

START_TEST(overlap_waits_and_joins)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char err[256];
	other_t o = { .c = c, .node = "cpu-1", .op = AZML_OP_DELETE };

	ck_assert_int_eq(azml_state_init(c, err, sizeof(err)), 0);
	/* a delete in flight: the resume waits for it, then creates */
	o.pid = _other_program(c, "cpu-1", AZML_OP_DELETE);
	clk = (clk_t) { .step = _end_other, .ctx = &o };
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-1", NULL, &rep), 0);
	ck_assert_int_ge(o.ended_at, 1);
	ck_assert_int_eq(rep.done, 1);
	ck_assert_int_eq(rep.joined, 0);
	ck_assert_int_eq(_stat(NULL, "creates"), 1);
	ck_assert_int_eq(_calls(&rec, "set_addr cpu-1: ", NULL), 1);
	kill(o.pid, SIGKILL);
	waitpid(o.pid, NULL, 0);

	/* the same resume in flight: this one joins it, and writes nothing */
	o = (other_t) { .c = c, .node = "cpu-2", .op = AZML_OP_CREATE };
	o.pid = _other_program(c, "cpu-2", AZML_OP_CREATE);
	clk = (clk_t) { .step = _end_other, .ctx = &o };
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-2", NULL, &rep), 0);
	ck_assert_int_eq(rep.joined, 1);
	ck_assert_int_eq(_stat(NULL, "creates"), 1);
	ck_assert_int_eq(rec.n, 0);	/* its program told slurmctld */
	kill(o.pid, SIGKILL);
	waitpid(o.pid, NULL, 0);
	clk = (clk_t) { 0 };
	azml_conf_destroy(c);
}
END_TEST

START_TEST(capacity_error_hands_back_and_holds)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;
	azml_hold_t h;

	_faults("{\"capacity\":{\"Standard_D4s_v3\":\"AllocationFailed\","
		"\"Standard_D2s_v3\":\"SkuNotAvailable\"}}");
	/* a target with a back-off: held at once, the node handed back and
	 * drained with the hold's reason */
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-1", NULL, &rep), -1);
	ck_assert_int_eq(rep.failed, 1);
	ck_assert_int_eq(_calls(&rec, "power_down_force cpu-1: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, "capacity: AllocationFailed"));
	ck_assert_int_eq(_calls(&rec, "drain cpu-1: ", NULL), 1);
	ck_assert_int_eq(azml_state_hold_get(c, azml_conf_find_target(c, "cpu"),
					     &h), 1);
	ck_assert_str_eq(h.code, "AllocationFailed");
	/* while held, no write at all: handed back again */
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 1);
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-2", NULL, &rep), -1);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 1);
	ck_assert_int_eq(_calls(&rec, "power_down_force cpu-2: ", NULL), 1);

	/* CapacityBackoff=0: handed back with Azure's code each time, held
	 * DOWN after AZML_HOLD_AFTER failures in a row */
	for (int i = 1; i <= AZML_HOLD_AFTER; i++) {
		ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "nohold-1", NULL,
				      &rep), -1);
		ck_assert_int_eq(_calls(&rec, "power_down_force nohold-1: "
					"azureml: SkuNotAvailable: ", NULL), 1);
		ck_assert_int_eq(_calls(&rec, "down nohold-1: ", &last),
				 i == AZML_HOLD_AFTER);
	}
	ck_assert_ptr_nonnull(strstr(last, "SkuNotAvailable"));
	azml_conf_destroy(c);
}
END_TEST

START_TEST(quota_refuses_before_any_write)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char rf[256];
	const char *last = NULL;

	/* job 7 wants two 4-vCPU nodes; 6 vCPUs are left */
	snprintf(rf, sizeof(rf), "%s/resume.json", dir);
	_write("resume.json", "{\"jobs\":[{\"job_id\":7,\"nodes\":\"cpu-[1-2]\"}],"
	       "\"all_nodes\":\"cpu-[1-2]\"}", 0644);
	_faults("{\"quota\":{\"cores\":6}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-[1-2]", rf, &rep), -1);
	ck_assert_int_eq(rep.failed, 2);
	ck_assert_int_eq(_stat(NULL, "writes"), 0);
	ck_assert_int_eq(_calls(&rec, "power_down_force cpu-", &last), 2);
	ck_assert_ptr_nonnull(strstr(last, "azureml: QuotaExceeded: "));
	ck_assert_int_eq(_calls(&rec, "reschedule 7: later ", &last), 1);
	ck_assert_int_eq(_calls(&rec, "set_addr", NULL), 0);
	azml_conf_destroy(c);
}
END_TEST

/* StateDir's journal, as text. */
static char *_journal(void)
{
	char path[256], *buf = calloc(1, 1 << 16);
	FILE *fp;

	snprintf(path, sizeof(path), "%s/journal/current", state_dir);
	ck_assert_ptr_nonnull(buf);
	if ((fp = fopen(path, "r"))) {
		size_t n = fread(buf, 1, (1 << 16) - 1, fp);

		buf[n] = '\0';
		fclose(fp);
	}
	return buf;
}

/* How often NEEDLE is in HAY. */
static int _count_in(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* A mix [D2s, D4s] with D2s out of capacity: a 3-node job gets D4s in the
 * same run, with no hold, no hand back; the node told its real size. */
START_TEST(mix_next_size_in_the_same_run)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	azml_hold_t h;
	char rf[256], *jr;
	const char *last = NULL;

	snprintf(rf, sizeof(rf), "%s/resume.json", dir);
	_write("resume.json", "{\"jobs\":[{\"job_id\":5,\"nodes\":\"mix-[1-3]\"}],"
	       "\"all_nodes\":\"mix-[1-3]\"}", 0644);
	_write("prices", "", 0644);
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mix-[1-3]", rf, &rep), 0);
	ck_assert_int_eq(rep.done, 3);
	ck_assert_int_eq(rep.failed, 0);
	/* two tries a node: D2s refused, D4s made */
	ck_assert_int_eq(_stat(NULL, "creates"), 6);
	ck_assert_int_eq(_stat(NULL, "deletes"), 3);	/* the Failed ones */
	ck_assert_int_eq(_stat(NULL, "vms"), 3);
	ck_assert_int_eq(_calls(&rec, "power_down_force", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "reschedule", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "drain", NULL), 0);
	ck_assert_int_eq(azml_state_hold_get(c, azml_conf_find_target(c, "mix"),
					     &h), 0);
	ck_assert_int_eq(_calls(&rec, "set_addr mix-", NULL), 3);
	ck_assert_int_eq(_calls(&rec, "set_instance mix-2: ", &last), 1);
	ck_assert_str_eq(last, "set_instance mix-2: azureml,mix,"
			 "Standard_D4s_v3,DSv3,dedicated Standard_D4s_v3 id");
	/* the journal has the real size */
	jr = _journal();
	ck_assert_int_eq(_count_in(jr, "Standard_D4s_v3"), 6);
	ck_assert_int_eq(_count_in(jr, "Standard_D2s_v3"), 0);
	free(jr);
	/* powered down: every size's features again */
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "mix-[1-3]", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "reset_features mix-1", NULL), 1);
	azml_conf_destroy(c);
}
END_TEST

/* A job whose constraint names D2s gets D2s or nothing: out of capacity,
 * it is handed back and the target held, as for a single size. */
START_TEST(mix_constraint_limits_the_sizes)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	azml_hold_t h;
	char rf[256];
	const char *last = NULL;

	snprintf(rf, sizeof(rf), "%s/resume.json", dir);
	_write("resume.json", "{\"jobs\":[{\"job_id\":6,\"nodes\":\"mix-1\","
	       "\"features\":\"standard_d2s_v3\"}],\"all_nodes\":\"mix-1\"}",
	       0644);
	_write("prices", "", 0644);
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mix-1", rf, &rep), -1);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 1);
	ck_assert_int_eq(_stat(NULL, "vms"), 1);	/* Failed: its delete is
							 * SuspendProgram's */
	ck_assert_int_eq(_calls(&rec, "power_down_force mix-1: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, "AllocationFailed"));
	ck_assert_int_eq(_calls(&rec, "reschedule 6: now", NULL), 1);
	ck_assert_int_eq(azml_state_hold_get(c, azml_conf_find_target(c, "mix"),
					     &h), 1);
	azml_conf_destroy(c);
}
END_TEST

/* LowestPrice: the cheaper size first (Prices=); Prioritized: as
 * written, whatever the prices. */
START_TEST(mix_lowest_price_and_prioritized)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;

	_write("prices", "Standard_D2s_v3 dedicated 0.50\n"
	       "Standard_D4s_v3 dedicated 0.20\n", 0644);
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cheap-1", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance cheap-1: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D4s_v3 id"));
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mix-1", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance mix-1: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D2s_v3 id"));
	/* no price known: as written */
	_write("prices", "Standard_D8s_v3 dedicated 0.10\n", 0644);
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cheap-2", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance cheap-2: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D2s_v3 id"));
	azml_conf_destroy(c);
}
END_TEST

/* CapacityOptimized: the order written, but a size that just met a
 * capacity error goes last (StateDir/misses), in the next runs too. */
START_TEST(mix_capacity_optimized_remembers)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;

	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "co-1", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance co-1: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D2s_v3 id"));
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "co-2", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance co-2: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D4s_v3 id"));
	ck_assert_int_gt(azml_state_size_missed(c, "Standard_D2s_v3"), 0);
	/* capacity is back, but D2s_v3 failed within CapacityBackoff: D4s_v3
	 * first, one write */
	_faults("{\"capacity\":{}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "co-3", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance co-3: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D4s_v3 id"));
	/* Prioritized ignores it */
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mix-4", NULL, &rep), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance mix-4: ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, " Standard_D2s_v3 id"));
	azml_conf_destroy(c);
}
END_TEST

/* JobScaling=AllOrNothing (the default): 2 of a job's 3 VMs can be had,
 * so none stays; the job is requeued now; the journal shows them created
 * and deleted.  BestEffort keeps the 2. */
START_TEST(all_or_nothing_deletes_what_was_made)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char rf[256], *jr;
	const char *last = NULL;

	_write("prices", "", 0644);
	snprintf(rf, sizeof(rf), "%s/resume.json", dir);
	_write("resume.json", "{\"jobs\":[{\"job_id\":8,\"nodes\":\"nohold-[1-3]\"},"
	       "{\"job_id\":9,\"nodes\":\"best-[1-3]\"}],"
	       "\"all_nodes\":\"nohold-[1-3],best-[1-3]\"}", 0644);
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed:2\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "nohold-[1-3]", rf, &rep),
			 -1);
	ck_assert_int_eq(rep.done, 0);
	ck_assert_int_eq(rep.failed, 3);
	ck_assert_int_eq(_stat(NULL, "vms"), 1);	/* the Failed one */
	ck_assert_int_eq(_stat(NULL, "deletes"), 2);
	ck_assert_int_eq(_calls(&rec, "set_addr", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "power_down_force nohold-", NULL), 3);
	ck_assert_int_eq(_calls(&rec, "power_down_force nohold-", &last), 3);
	ck_assert_int_eq(_calls(&rec, "reschedule 8: now", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, "AllocationFailed"));
	/* only the node that got no VM counts a failure */
	ck_assert_int_eq(_calls(&rec, "down ", NULL), 0);
	jr = _journal();
	ck_assert_int_eq(_count_in(jr, "created"), 2);
	ck_assert_int_eq(_count_in(jr, "deleted"), 2);
	free(jr);

	/* BestEffort: what was made stays (the Failed VM above counts: 2
	 * more) */
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed:3\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "best-[1-3]", rf, &rep), -1);
	ck_assert_int_eq(rep.done, 2);
	ck_assert_int_eq(rep.failed, 1);
	ck_assert_int_eq(_stat(NULL, "vms"), 4);	/* 2, and 2 Failed */
	ck_assert_int_eq(_calls(&rec, "set_addr best-", NULL), 2);
	ck_assert_int_eq(_calls(&rec, "power_down_force best-", NULL), 1);
	azml_conf_destroy(c);
}
END_TEST

START_TEST(scale_set_one_write_each_way)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;

	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "ss-[1-4]", NULL, &rep), 0);
	ck_assert_int_eq(rep.done, 4);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 1);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 0);
	ck_assert_int_eq(_calls(&rec, "set_addr ss-", NULL), 4);
	ck_assert_int_eq(_stat(NULL, "vms"), 4);

	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "ss-[1-4]", NULL, &rep), 0);
	ck_assert_int_eq(rep.done, 4);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 2);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 0);
	ck_assert_int_eq(_stat(NULL, "vms"), 0);
	/* back to their own names */
	ck_assert_int_eq(_calls(&rec, "set_addr ss-3: ss-3 ss-3", NULL), 1);
	azml_conf_destroy(c);
}
END_TEST

/* The nodes NODES of job 9, in SLURM_RESUME_FILE; its path in RF. */
static void _job9(const char *nodes, char *rf, size_t n)
{
	char text[256];

	snprintf(rf, n, "%s/resume.json", dir);
	snprintf(text, sizeof(text), "{\"jobs\":[{\"job_id\":9,\"nodes\":"
		 "\"%s\"}],\"all_nodes\":\"%s\"}", nodes, nodes);
	_write("resume.json", text, 0644);
}

/* JobScaling=AllOrNothing (the default): 2 of a job's 3 VMs made, then
 * AllocationFailed: the 2 go in one batched delete, every node is handed
 * back, the job rescheduled now, the target held. */
START_TEST(scale_set_all_or_nothing)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;
	char rf[256];

	_job9("ss-[1-3]", rf, sizeof(rf));
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed:2\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "ss-[1-3]", rf, &rep), -1);
	ck_assert_int_eq(rep.failed, 3);
	ck_assert_int_eq(rep.done, 0);
	ck_assert_int_eq(_stat(NULL, "vms"), 0);
	/* the scale-out, then ONE batched delete */
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 2);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachines"), 0);
	ck_assert_int_eq(_calls(&rec, "set_addr", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "set_instance", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "power_down_force ss-", &last), 3);
	ck_assert_ptr_nonnull(strstr(last, "AllocationFailed"));
	ck_assert_int_eq(_calls(&rec, "reschedule 9: now ", &last), 1);
	ck_assert_ptr_nonnull(strstr(last, "AllocationFailed"));
	/* no node keeps a VM in StateDir */
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "ss-[1-3]", NULL, &rep), 0);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 2);
	azml_conf_destroy(c);
}
END_TEST

/* BestEffort, and nodes without a job: the VMs made stay and run. */
START_TEST(scale_set_best_effort_keeps_what_was_made)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char rf[256];

	_job9("sbe-[1-3]", rf, sizeof(rf));
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed:2\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "sbe-[1-3]", rf, &rep), -1);
	ck_assert_int_eq(rep.done, 2);
	ck_assert_int_eq(rep.failed, 1);
	ck_assert_int_eq(_stat(NULL, "vms"), 2);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 1);
	ck_assert_int_eq(_calls(&rec, "set_addr sbe-", NULL), 2);
	/* the real size and vmId reach the node (one size: no features) */
	ck_assert_int_eq(_calls(&rec, "set_instance sbe-", NULL), 2);
	ck_assert_int_eq(_calls(&rec, "set_instance sbe-1: - Standard_D2s_v3 "
				"id", NULL), 1);
	ck_assert_int_eq(_calls(&rec, "power_down_force sbe-", NULL), 1);

	/* AllOrNothing, nodes without a job: best effort too */
	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed:3\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "ss-[1-3]", NULL, &rep), -1);
	ck_assert_int_eq(rep.done, 1);
	ck_assert_int_eq(rep.failed, 2);
	ck_assert_int_eq(_stat(NULL, "vms"), 3);
	azml_conf_destroy(c);
}
END_TEST

/* A mix with its first size out of capacity: one write, every node on
 * the second size, told so (ActiveFeatures, InstanceType), no hold; then
 * the second size short too (2 made): AllOrNothing deletes the 2 in one
 * request. */
START_TEST(scale_set_mix)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char rf[256];

	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed\"}}");
	_job9("mx-[1-3]", rf, sizeof(rf));
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mx-[1-3]", rf, &rep), 0);
	ck_assert_int_eq(rep.done, 3);
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 1);
	ck_assert_int_eq(_calls(&rec, "set_instance mx-", NULL), 3);
	ck_assert_int_eq(_calls(&rec, "set_instance mx-2: azureml,mx,"
				"Standard_D4s_v3,DSv3,dedicated Standard_D4s_v3 "
				"id", NULL), 1);
	ck_assert_int_eq(_calls(&rec, "power_down_force", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "drain", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "reschedule", NULL), 0);
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "mx-[1-3]", NULL, &rep), 0);
	ck_assert_int_eq(_stat(NULL, "vms"), 0);

	_faults("{\"capacity\":{\"Standard_D2s_v3\":\"AllocationFailed\","
		"\"Standard_D4s_v3\":\"AllocationFailed:2\"}}");
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "mx-[1-3]", rf, &rep), -1);
	ck_assert_int_eq(rep.failed, 3);
	ck_assert_int_eq(_stat(NULL, "vms"), 0);
	/* create, delete; then the scale-out and ONE batched delete */
	ck_assert_int_eq(_stat("writes_by_type", "virtualMachineScaleSets"), 4);
	ck_assert_int_eq(_calls(&rec, "set_instance", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "power_down_force mx-", NULL), 3);
	ck_assert_int_eq(_calls(&rec, "reschedule 9: now ", NULL), 1);
	azml_conf_destroy(c);
}
END_TEST

/* A node's ActiveFeatures at its VM's real size: the mix's other sizes,
 * and what only they bring, left out. */
START_TEST(active_features_of_a_mix)
{
	azml_conf_t *c = azml_conf_load_string("ClusterName=T\n"
		"SubscriptionId=" SUB "\nResourceGroup=rg\nLocation=eastus\n"
		"ComputeCluster=mx VmSize=Standard_D2s_v3,Standard_F4s_v2 "
		"MaxNodes=4 Priority=LowPriority\n", "t.conf");
	char f[256];

	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(azml_pw_active_features(&c->targets[0],
		"standard_f4s_v2", f, sizeof(f)), 0);
	ck_assert_str_eq(f, "azureml,mx,Standard_F4s_v2,FSv2,lowpriority");
	ck_assert_int_eq(azml_pw_active_features(&c->targets[0],
		"Standard_D2s_v3", f, sizeof(f)), 0);
	ck_assert_str_eq(f, "azureml,mx,Standard_D2s_v3,DSv3,lowpriority");
	/* not a size of the mix; too small a buffer */
	ck_assert_int_eq(azml_pw_active_features(&c->targets[0],
		"Standard_E4_v3", f, sizeof(f)), -1);
	ck_assert_str_eq(f, "");
	ck_assert_int_eq(azml_pw_active_features(&c->targets[0],
		"Standard_D2s_v3", f, 8), -1);
	azml_conf_destroy(c);
}
END_TEST

/* A token from the emulator, as an Authorization header. */
static void _token_header(char *hdr, size_t n)
{
	char *out = NULL;
	cJSON *j;

	ck_assert_int_eq(tu_http("POST", port, "/t/oauth2/v2.0/token",
		"grant_type=client_credentials&client_id=c&client_secret="
		SECRET "&scope=https%3A%2F%2Fmanagement.azure.com%2F.default", NULL,
		&out), 200);
	ck_assert_ptr_nonnull(j = cJSON_Parse(out));
	snprintf(hdr, n, "Authorization: Bearer %s",
		 cJSON_GetObjectItem(j, "access_token")->valuestring);
	cJSON_Delete(j);
	free(out);
}

START_TEST(suspend_deletes_only_ours)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	char hdr[4096], path[512];
	const char *h[] = { hdr, NULL };

	/* cpu-5 exists, made by another cluster */
	_token_header(hdr, sizeof(hdr));
	snprintf(path, sizeof(path), "/subscriptions/" SUB "/resourceGroups/rg/"
		 "providers/Microsoft.Compute/virtualMachines/cpu-5"
		 "?api-version=2024-07-01");
	ck_assert_int_lt(tu_http("PUT", port, path, "{\"location\":\"eastus\","
		"\"tags\":{\"slurm-cluster\":\"someone-else\"},\"properties\":"
		"{\"hardwareProfile\":{\"vmSize\":\"Standard_D4s_v3\"}}}", h,
		NULL), 300);
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "cpu-5", NULL, &rep), -1);
	ck_assert_int_eq(rep.failed, 1);
	ck_assert_int_eq(_stat(NULL, "deletes"), 0);
	ck_assert_int_eq(_stat(NULL, "vms"), 1);
	ck_assert_int_eq(rec.n, 0);	/* slurmctld told nothing */

	/* ours: deleted, the node back to its own name */
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-6", NULL, &rep), 0);
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "cpu-6", NULL, &rep), 0);
	ck_assert_int_eq(_stat(NULL, "deletes"), 1);
	ck_assert_int_eq(_calls(&rec, "set_addr cpu-6: cpu-6 cpu-6", NULL), 1);
	azml_conf_destroy(c);
}
END_TEST

/* Whether VM's console has WHAT. */
static bool _console_says(const char *vm, const char *what)
{
	char path[256], buf[4096] = "";
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "%s/console/%s.log", dir, vm);
	if (!(fp = fopen(path, "r")))
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return strstr(buf, what) != NULL;
}

START_TEST(resume_fail_reads_the_boot_log)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;

	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-7", NULL, &rep), 0);
	/* its console has node-init's failure once it booted */
	TU_WAIT(_console_says("cpu-7", "failed"), 10);
	ck_assert(_console_says("cpu-7", "failed"));
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME_FAIL, "cpu-7", NULL, &rep),
			 0);
	ck_assert_int_eq(_calls(&rec, "down cpu-7: ", &last), 1);
	ck_assert_str_eq(last, "down cpu-7: azureml: node-init: slurmd: "
			 "slurmctld did not answer");
	ck_assert_int_eq(_stat(NULL, "deletes"), 1);
	azml_conf_destroy(c);
}
END_TEST

/* StateDir that others could have planted in: 0777, another user's, under
 * a folder others can write.  Resume, suspend and resume-fail each refuse:
 * resume hands the node back with a reason naming the folder, none of the
 * three writes to Azure, and our VM stays. */
START_TEST(unsafe_state_dir_refused)
{
	azml_conf_t *c = _conf();
	azml_power_report_t rep;
	const char *last = NULL;
	char want[512];
	static const struct {
		azml_power_mode_t mode;
		const char *node;
	} modes[] = {
		{ AZML_POWER_RESUME, "cpu-2" },
		{ AZML_POWER_SUSPEND, "cpu-1" },
		{ AZML_POWER_RESUME_FAIL, "cpu-1" },
	};

	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "cpu-1", NULL, &rep), 0);
	ck_assert_int_eq(_stat(NULL, "vms"), 1);
	for (int k = 0; k < 3; k++) {
		switch (k) {
		case 0:	/* others may write it */
			ck_assert_int_eq(chmod(state_dir, 0777), 0);
			snprintf(want, sizeof(want), "StateDir %s is refused, "
				 "nothing done: %s is writable by its group or "
				 "by others (mode 0777)", state_dir, state_dir);
			break;
		case 1:	/* another user's */
			ck_assert_int_eq(chmod(state_dir, 0755), 0);
			ck_assert_int_eq(chown(state_dir, 65534, 65534), 0);
			snprintf(want, sizeof(want), "StateDir %s is refused, "
				 "nothing done: %s is owned by uid 65534",
				 state_dir, state_dir);
			break;
		default:	/* its parent others may write */
			ck_assert_int_eq(chown(state_dir, 0, 0), 0);
			ck_assert_int_eq(chmod(dir, 0777), 0);
			snprintf(want, sizeof(want), "StateDir %s is refused, "
				 "nothing done: folder %s is writable by its "
				 "group or by others (mode 0777)", state_dir,
				 dir);
			break;
		}
		for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
			ck_assert_int_eq(_run(c, modes[m].mode, modes[m].node,
					      NULL, &rep), -1);
			ck_assert_int_eq(rep.failed, 1);
			ck_assert_int_eq(rep.done, 0);
			ck_assert_int_eq(_calls(&rec, "set_addr", NULL), 0);
			if (modes[m].mode == AZML_POWER_RESUME) {
				ck_assert_int_eq(_calls(&rec,
					"power_down_force cpu-2: azureml: "
					"StateDir: ", &last), 1);
				ck_assert_msg(strstr(last, want), "%s", last);
			} else {
				ck_assert_int_eq(rec.n, 0);
			}
			/* Azure: nothing created or deleted, cpu-1 stays */
			ck_assert_int_eq(_stat(NULL, "creates"), 1);
			ck_assert_int_eq(_stat(NULL, "deletes"), 0);
			ck_assert_int_eq(_stat(NULL, "vms"), 1);
		}
	}
	ck_assert_int_eq(chmod(dir, 0755), 0);
	/* safe again: suspend deletes it */
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "cpu-1", NULL, &rep), 0);
	ck_assert_int_eq(_stat(NULL, "deletes"), 1);
	azml_conf_destroy(c);
}
END_TEST

/* ---- scale set t-ss against a hostile ARM (hostile.h) ---- */

#define SET_ID(rg, set) "/subscriptions/" SUB "/resourceGroups/" rg \
	"/providers/Microsoft.Compute/virtualMachineScaleSets/" set

static struct {
	int patches, posts, deletes, nic_gets;
	char nic[256];
} H;

/* A VM's model: NAME, tagged slurm-cluster=CLUSTER (NULL: none), in set
 * SET_ID (NULL: none), computerName COMPUTER (NULL: none). */
static size_t _h_vm(char *o, size_t n, const char *name, const char *cluster,
		    const char *set_id, const char *computer)
{
	return snprintf(o, n, "{\"name\":\"%s\",\"tags\":{%s%s%s},"
		"\"properties\":{\"provisioningState\":\"Succeeded\"%s%s%s"
		"%s%s%s}}", name,
		cluster ? "\"slurm-cluster\":\"" : "", cluster ? cluster : "",
		cluster ? "\"" : "",
		set_id ? ",\"virtualMachineScaleSet\":{\"id\":\"" : "",
		set_id ? set_id : "", set_id ? "\"}" : "",
		computer ? ",\"osProfile\":{\"computerName\":\"" : "",
		computer ? computer : "", computer ? "\"}" : "");
}

/*
 * Set t-ss's listing holds, in this order: a VM of set 'web', one of a set
 * t-ss in another resource group, one without our cluster tag, one whose
 * computerName is no host name, and one that is ours.  t-ss_ffff6666 is
 * not listed; read alone it is another resource group's.
 */
static void _h_serve(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	const char *filter = MHD_lookup_connection_value(q->conn,
		MHD_GET_ARGUMENT_KIND, "$filter");
	const char *vm = strstr(q->path, "/virtualMachines/");
	size_t len;

	if (strstr(q->path, "/oauth2/") || strstr(q->path, "/identity/")) {
		snprintf(o->body, sizeof(o->body), "{\"access_token\":"
			 "\"resume-test-token-0123456789\",\"expires_in\":"
			 "\"3600\"}");
		return;
	}
	if (strstr(q->path, "/networkInterfaces/")) {
		__atomic_add_fetch(&H.nic_gets, 1, __ATOMIC_SEQ_CST);
		snprintf(H.nic, sizeof(H.nic), "%s", q->path);
		snprintf(o->body, sizeof(o->body), "{\"properties\":{"
			 "\"ipConfigurations\":[{\"properties\":{"
			 "\"privateIPAddress\":\"10.0.0.5\"}}]}}");
		return;
	}
	if (!strcmp(q->method, "DELETE")) {
		__atomic_add_fetch(&H.deletes, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if (!strcmp(q->method, "POST") && strstr(q->path, "/delete")) {
		__atomic_add_fetch(&H.posts, 1, __ATOMIC_SEQ_CST);
		return;
	}
	if (vm) {
		vm += strlen("/virtualMachines/");
		if (!strcmp(vm, "t-ss_ffff6666")) {
			_h_vm(o->body, sizeof(o->body), vm, "t",
			      SET_ID("other-rg", "t-ss"), NULL);
			return;
		}
		o->status = 404;
		snprintf(o->body, sizeof(o->body), "{\"error\":{\"code\":"
			 "\"ResourceNotFound\",\"message\":\"not found\"}}");
		return;
	}
	if (strstr(q->path, "/virtualMachines") && filter) {
		len = snprintf(o->body, sizeof(o->body), "{\"value\":[");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "web_cccc3333", "t", SET_ID("rg", "web"), "web1");
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "t-ss_bbbb2222", "t", SET_ID("other-rg", "t-ss"),
			     "other1");
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "t-ss_dddd4444", NULL, SET_ID("rg", "t-ss"),
			     "untagged1");
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "t-ss_eeee5555", "t", SET_ID("rg", "t-ss"),
			     "bad/host");
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "t-ss_aaaa1111", "t", SET_ID("rg", "t-ss"),
			     "t-ss000001");
		snprintf(o->body + len, sizeof(o->body) - len, "]}");
		return;
	}
	if (strstr(q->path, "/virtualMachineScaleSets/t-ss")) {
		if (!strcmp(q->method, "PATCH"))
			__atomic_add_fetch(&H.patches, 1, __ATOMIC_SEQ_CST);
		snprintf(o->body, sizeof(o->body), "{\"name\":\"t-ss\","
			 "\"etag\":\"\\\"3\\\"\",\"sku\":{\"name\":"
			 "\"Standard_D2s_v3\",\"capacity\":3},\"properties\":{"
			 "\"provisioningState\":\"Succeeded\"}}");
		return;
	}
	o->status = 404;
	snprintf(o->body, sizeof(o->body), "{\"error\":{\"code\":"
		 "\"ResourceNotFound\",\"message\":\"not found\"}}");
}

typedef struct {
	const char *vm[4], *node[4];
} plant_t;

/* Pairings of set t-ss, as StateDir holds them: into P, or PLANT's added */
static int _pairs(void *arg, azml_pair_t **p, size_t *n)
{
	plant_t *w = arg;

	if (!w->vm[0]) {	/* read: every pairing into W */
		for (size_t k = 0; k < *n && k < 4; k++) {
			w->vm[k] = strdup((*p)[k].vm);
			w->node[k] = strdup((*p)[k].node);
		}
		return 0;
	}
	for (int k = 0; k < 4 && w->vm[k]; k++) {
		*p = realloc(*p, (*n + 1) * sizeof(**p));
		memset(&(*p)[*n], 0, sizeof(**p));
		snprintf((*p)[*n].vm, sizeof((*p)[*n].vm), "%s", w->vm[k]);
		snprintf((*p)[*n].node, sizeof((*p)[*n].node), "%s",
			 w->node[k]);
		(*n)++;
	}
	return 1;
}

/* A scale set's listing with foreign VMs: resume claims none of them, the
 * node whose VM has a computerName that is no host name fails (never
 * reported done), the other gets the set's own VM; suspend deletes no VM
 * that is not ours, whether the listing shows it or a GET does. */
START_TEST(scale_set_foreign_vms)
{
	int hport;
	hs_t *hs = (memset(&H, 0, sizeof(H)), hs_start(_h_serve, NULL, &hport));
	azml_conf_t *c = tu_conf("azureml.conf",
		"ClusterName=t\nSubscriptionId=" SUB "\n"
		"ResourceGroup=rg\nLocation=eastus\nStateDir=%s\n"
		"ArmEndpoint=http://127.0.0.1:%d\n"
		"ImdsEndpoint=http://127.0.0.1:%d\n"
		"Credential=managed-identity\nSlurmctldHost=10.0.0.4\n"
		"SshPublicKey=%s/id.pub\nSubnet=" TU_SUBNET "\n"
		"ComputeCluster=ss VmSize=Standard_D2s_v3 MaxNodes=8 "
		"Provisioning=ScaleSet\n", state_dir, hport, hport, dir);
	azml_power_report_t rep;
	const char *last = NULL;
	plant_t got = { { NULL } }, plant = {
		{ "t-ss_dddd4444", "t-ss_ffff6666", NULL },
		{ "ss-3", "ss-4", NULL } };

	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_int_eq(_run(c, AZML_POWER_RESUME, "ss-[1-2]", NULL, &rep),
			 -1);
	ck_assert_int_eq(H.patches, 1);
	ck_assert_int_eq(rep.done, 1);
	ck_assert_int_eq(rep.failed, 1);
	/* ss-1 would have had t-ss_eeee5555: it fails, with why */
	ck_assert_int_eq(_calls(&rec, "set_addr ss-1", NULL), 0);
	ck_assert_int_eq(_calls(&rec, "power_down_force ss-1: ", &last), 1);
	ck_assert_msg(strstr(last, "azureml: InvalidResponse: Azure gave VM "
			     "'t-ss_eeee5555' of scale set t-ss the "
			     "computerName 'bad/host', which is not a host "
			     "name"), "%s", last);
	/* ss-2 has the set's own VM */
	ck_assert_int_eq(_calls(&rec, "set_addr ss-2: ", &last), 1);
	ck_assert_str_eq(last, "set_addr ss-2: 10.0.0.5 t-ss000001");
	ck_assert_int_eq(H.nic_gets, 1);
	ck_assert_ptr_nonnull(strstr(H.nic, "/t-ss_aaaa1111-nic"));
	/* the one pairing recorded is ss-2's */
	ck_assert_int_eq(azml_state_pairs(c, "t-ss", _pairs, &got), 0);
	ck_assert_str_eq(got.vm[0], "t-ss_aaaa1111");
	ck_assert_str_eq(got.node[0], "ss-2");
	ck_assert_ptr_null(got.vm[1]);
	free((char *) got.vm[0]);
	free((char *) got.node[0]);

	/* pairings planted for a VM without our tag (listed) and one of
	 * another resource group (not listed, read alone): neither is
	 * deleted, in a batch or alone */
	ck_assert_int_eq(azml_state_pairs(c, "t-ss", _pairs, &plant), 0);
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "ss-[3-4]", NULL, &rep),
			 -1);
	ck_assert_int_eq(rep.failed, 2);
	ck_assert_int_eq(H.posts, 0);
	ck_assert_int_eq(H.deletes, 0);
	ck_assert_int_eq(_calls(&rec, "set_addr", NULL), 0);
	/* ours goes, in one batched delete */
	ck_assert_int_eq(_run(c, AZML_POWER_SUSPEND, "ss-2", NULL, &rep), 0);
	ck_assert_int_eq(rep.done, 1);
	ck_assert_int_eq(H.posts, 1);
	ck_assert_int_eq(H.deletes, 0);
	azml_conf_destroy(c);
	hs_stop(hs);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("power");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, resume_creates_one_vm_a_node);
	tcase_add_test(tc, overlap_waits_and_joins);
	tcase_add_test(tc, capacity_error_hands_back_and_holds);
	tcase_add_test(tc, quota_refuses_before_any_write);
	tcase_add_test(tc, scale_set_one_write_each_way);
	tcase_add_test(tc, scale_set_all_or_nothing);
	tcase_add_test(tc, scale_set_best_effort_keeps_what_was_made);
	tcase_add_test(tc, active_features_of_a_mix);
	tcase_add_test(tc, scale_set_mix);
	tcase_add_test(tc, suspend_deletes_only_ours);
	tcase_add_test(tc, resume_fail_reads_the_boot_log);
	tcase_add_test(tc, mix_next_size_in_the_same_run);
	tcase_add_test(tc, mix_constraint_limits_the_sizes);
	tcase_add_test(tc, mix_lowest_price_and_prioritized);
	tcase_add_test(tc, all_or_nothing_deletes_what_was_made);
	tcase_add_test(tc, mix_capacity_optimized_remembers);
	tcase_add_test(tc, unsafe_state_dir_refused);
	tcase_add_test(tc, scale_set_foreign_vms);
	return tu_run("resume", tc);
}

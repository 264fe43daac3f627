/*
 * reconcile-test.c - reconcile as plan -> apply (shared/ctl/reconcile.h):
 * the decide step against hand-built inputs (nodes, VMs, pairings, journal
 * records, holds, jobs, now), idle auto's two functions (idle.h), and the
 * apply step against a recording ops table and a temporary StateDir.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <check.h>
#include <microhttpd.h>
#include <slurm/slurm.h>

#include "arm.h"
#include "generate.h"
#include "hostile.h"
#include "idle.h"
#include "reconcile.h"
#include "state.h"
#include "testutil.h"

#define NOW 1700000000L

#define SUB "00000000-0000-0000-0000-000000000000"
#define IDENTITY "/subscriptions/" SUB "/resourceGroups/rg/providers/" \
	"Microsoft.ManagedIdentity/userAssignedIdentities/nodes"
#define JOBS "/subscriptions/" SUB "/resourceGroups/rg/providers/" \
	"Microsoft.ManagedIdentity/userAssignedIdentities/jobs"

static azml_conf_t *conf;
static azml_rc_input_t in;

/* cpu: VM by VM with JobIdentity; ss: a scale set; mn: MinNodes=1;
 * au: idle auto; lab: attached. */
static void _setup(void)
{
	conf = tu_conf("test.conf", "ClusterName=t\nSubscriptionId=" SUB "\n"
		"ResourceGroup=rg\nLocation=eastus\n"
		"MungeKeySecret=https://myvault.vault.azure.net/secrets/munge\n"
		"Identity=" IDENTITY "\n"
		"ComputeCluster=cpu VmSize=Standard_D4s_v3 MaxNodes=4 "
		"JobIdentity=" JOBS "\n"
		"ComputeCluster=ss VmSize=Standard_D4s_v3 MaxNodes=4 "
		"Provisioning=ScaleSet\n"
		"ComputeCluster=mn VmSize=Standard_D4s_v3 MaxNodes=2 MinNodes=1\n"
		"ComputeCluster=au VmSize=Standard_D4s_v3 MaxNodes=3 "
		"IdleSecondsBeforeScaledown=auto\n"
		"AttachedCompute=lab Nodes=lab[1-2] Gres=gpu:a100:4\n");
	for (size_t i = 0; i < conf->nerrors; i++)
		fprintf(stderr, "%s\n", conf->errors[i]);
	ck_assert_int_eq(conf->nerrors, 0);
	memset(&in, 0, sizeof(in));
	in.conf = conf;
	in.vm_targets = true;
	in.journal_read = true;
	in.hold_rc = calloc(conf->ntargets, sizeof(int));
	in.holds = calloc(conf->ntargets, sizeof(azml_hold_t));
	in.idle_learnt = calloc(conf->ntargets, sizeof(long));
	in.sets = calloc(1, sizeof(*in.sets));
	for (size_t i = 0; i < conf->ntargets; i++)
		in.hold_rc[i] = -1;	/* no hold read */
	in.sets[0].t = azml_conf_find_target(conf, "ss");
	azml_conf_scale_set_name(conf, in.sets[0].t, in.sets[0].name,
				 sizeof(in.sets[0].name));
	in.sets[0].answered = true;
	in.sets[0].got.ok = true;
	in.sets[0].got.capacity = -1;
	in.nsets = 1;
	snprintf(in.jobs_why, sizeof(in.jobs_why), "slurmdbd: none here");
}

static void _teardown(void)
{
	azml_rc_input_free(&in);
	azml_conf_destroy(conf);
}

#define GROW(arr, n) \
	((arr) = realloc((arr), ((n) + 1) * sizeof(*(arr))), \
	 memset(&(arr)[n], 0, sizeof(*(arr))), &(arr)[(n)++])

static azml_node_t *_node(const char *name, uint32_t state)
{
	azml_node_t *n;

	in.nodes = realloc(in.nodes, (in.nn + 1) * sizeof(*in.nodes));
	n = &in.nodes[in.nn++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->state = state;
	return n;
}

/* A VM of ours named NAME (tagged for cluster t), in no scale set. */
static azml_vm_result_t *_vm(const char *name)
{
	azml_vm_result_t *v = GROW(in.vms, in.nvms);

	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->cluster, sizeof(v->cluster), "t");
	snprintf(v->power, sizeof(v->power), "running");
	snprintf(v->provisioning, sizeof(v->provisioning), "Succeeded");
	v->capacity = -1;
	return v;
}

/* A VM of scale set ss (its set id as Azure writes it). */
static azml_vm_result_t *_set_vm(const char *name)
{
	azml_vm_result_t *v = _vm(name);

	snprintf(v->scale_set, sizeof(v->scale_set), "%s", in.sets[0].name);
	azml_arm_vmss_id(conf, in.sets[0].name, v->set_id, sizeof(v->set_id));
	in.sets[0].listed++;
	return v;
}

static void _pair(const char *vm, const char *node)
{
	azml_pair_t *p = GROW(in.pairs, in.npairs);

	in.pair_set = realloc(in.pair_set, in.npairs * sizeof(*in.pair_set));
	snprintf(in.pair_set[in.npairs - 1], 80, "%s", in.sets[0].name);
	snprintf(p->vm, sizeof(p->vm), "%s", vm);
	snprintf(p->node, sizeof(p->node), "%s", node);
}

static void _active(const char *node)
{
	in.active = realloc(in.active, (in.nactive + 1) * sizeof(*in.active));
	snprintf(in.active[in.nactive++], 96, "%s", node);
}

static void _jrec(azml_jkind_t k, long at, const char *vm, const char *id,
		  const char *node, const char *target)
{
	azml_jrec_t *r = GROW(in.jrec, in.njrec);

	ck_assert_int_eq(azml_jrec_make(r, k, at, vm, id, node, target,
					"Standard_D4s_v3", false, NULL), 0);
}

static long _t(const char *name)
{
	return azml_conf_find_target(conf, name) - conf->targets;
}

/* The actions of KIND whose text has S (NULL: any). */
static int _count(const azml_rc_plan_t *p, azml_rc_kind_t kind, const char *s)
{
	int n = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->a[i].kind == kind && (!s || strstr(p->a[i].text, s)))
			n++;
	return n;
}

static const azml_rc_action_t *_get(const azml_rc_plan_t *p,
				    azml_rc_kind_t kind, const char *s)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->a[i].kind == kind && (!s || strstr(p->a[i].text, s)))
			return &p->a[i];
	ck_abort_msg("no action of kind %d says '%s'", kind, s ? s : "");
	return NULL;
}

static void _dump(const azml_rc_plan_t *p)
{
	for (size_t i = 0; i < p->n; i++)
		fprintf(stderr, "  [%d] %s\n", p->a[i].kind, p->a[i].text);
}

static void _decide(azml_rc_plan_t *p)
{
	ck_assert_int_eq(azml_rc_decide(&in, NOW, p), 0);
	if (getenv("RECONCILE_TEST_VERBOSE"))
		_dump(p);
}

/* ---------------------------------------------------------------------- */
/* decide */

#define IDLE NODE_STATE_IDLE
#define PDOWN (NODE_STATE_IDLE | NODE_STATE_POWERED_DOWN)

/* A VM with no node is deleted; another cluster's, an untagged one, one of
 * another set or resource group are left alone, each with its reason. */
START_TEST(orphans)
{
	azml_rc_plan_t p;
	azml_vm_result_t *v;

	_node("cpu-1", PDOWN);
	_node("cpu-2", IDLE);
	_node("cpu-3", IDLE | NODE_STATE_POWERING_DOWN);
	_vm("cpu-1");			/* its node is powered down */
	_vm("cpu-2");			/* in use */
	_vm("cpu-3");			/* powering down: still in use */
	_vm("cpu-4");			/* slurmctld does not know cpu-4 */
	_vm("gpu-9");			/* no target of ours */
	v = _vm("other-1");		/* another cluster's */
	snprintf(v->cluster, sizeof(v->cluster), "prod");
	v = _vm("untagged-1");
	v->cluster[0] = '\0';
	v = _vm("cpu-1x");		/* in another resource group's set */
	snprintf(v->set_id, sizeof(v->set_id), "/subscriptions/" SUB
		 "/resourceGroups/other/providers/Microsoft.Compute/"
		 "virtualMachineScaleSets/x");
	_vm("lab1");			/* an attached node has no VM */
	_vm("cpu-9");			/* a program works on it */
	_active("cpu-9");
	in.journal_read = false;	/* the journal's own test below */
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, NULL), 4);
	ck_assert(_get(&p, AZML_RC_DELETE_VM, "orphan VM cpu-1 (node cpu-1): "
		       "its node is powered down; deleting it")->claim);
	ck_assert(_get(&p, AZML_RC_DELETE_VM, "orphan VM cpu-4 (node cpu-4): "
		       "slurmctld does not know its node"));
	ck_assert(!_get(&p, AZML_RC_DELETE_VM, "orphan VM gpu-9 (node "
			"gpu-9): its node is not in azureml.conf")->claim);
	ck_assert(!_get(&p, AZML_RC_DELETE_VM, "orphan VM lab1")->claim);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, "cpu-2"), 0);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, "cpu-3"), 0);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, "cpu-9"), 0);
	ck_assert(_get(&p, AZML_RC_NOTE, "VM other-1: left alone: VM "
		       "'other-1' is not tagged slurm-cluster=t (its tag says "
		       "'prod')"));
	ck_assert(_get(&p, AZML_RC_NOTE, "VM untagged-1: left alone: VM "
		       "'untagged-1' is not tagged slurm-cluster=t (it has no "
		       "such tag)"));
	ck_assert(_get(&p, AZML_RC_NOTE, "VM cpu-1x: left alone: VM 'cpu-1x' "
		       "is in scale set /subscriptions/" SUB "/resourceGroups/"
		       "other/"));
	/* counted: the deletes, not the notes */
	ck_assert_int_eq(p.actions, 4);
	/* a node up in Slurm without its VM */
	ck_assert_int_eq(_count(&p, AZML_RC_NO_VM, NULL), 0);
	azml_rc_plan_free(&p);

	in.nvms = 0;
	in.dry = true;
	_decide(&p);
	ck_assert(_get(&p, AZML_RC_NO_VM, "node cpu-2 is up in Slurm but has "
		       "no VM; would power it down"));
	ck_assert_int_eq(_count(&p, AZML_RC_NO_VM, "cpu-3"), 0);
	ck_assert_str_eq(_get(&p, AZML_RC_NO_VM, "cpu-2")->reason,
			 "azureml: VMNotFound: its VM no longer exists");
	azml_rc_plan_free(&p);
}
END_TEST

/* Scale sets: a set's VM no node has is deleted unless a program works on
 * the set's nodes or Azure still creates it; a VM of another set is left
 * alone; a pairing whose VM is gone is forgotten; an empty set is deleted
 * only with --prune-scale-sets. */
START_TEST(scale_sets)
{
	azml_rc_plan_t p;
	azml_vm_result_t *v;
	char name[200], other[300];

	_node("ss-1", IDLE);
	_node("ss-2", IDLE);
	_node("ss-3", PDOWN);
	snprintf(name, 72, "%.60s_aaaa", in.sets[0].name);
	_set_vm(name);
	_pair(name, "ss-1");
	snprintf(name, 72, "%.60s_bbbb", in.sets[0].name);
	_set_vm(name);			/* no node: an orphan */
	snprintf(name, 72, "%.60s_cccc", in.sets[0].name);
	v = _set_vm(name);		/* Azure still creates it */
	snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
	snprintf(name, 72, "%.60s_gone", in.sets[0].name);
	_pair(name, "ss-2");		/* its VM is gone */
	v = _vm("ss-x");		/* of another set */
	snprintf(v->scale_set, sizeof(v->scale_set), "%s", in.sets[0].name);
	azml_arm_vmss_id(conf, "other-set", other, sizeof(other));
	snprintf(v->set_id, sizeof(v->set_id), "%.280s", other);
	in.sets[0].got.capacity = 5;
	in.journal_read = false;
	_decide(&p);
	ck_assert(_get(&p, AZML_RC_DELETE_VM, "_bbbb (node none): no node "
		       "has this VM of its scale set"));
	ck_assert_str_eq(_get(&p, AZML_RC_DELETE_VM, "_bbbb")->node, "");
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, NULL), 1);
	ck_assert(_get(&p, AZML_RC_NOTE, "_cccc of scale set"));
	ck_assert(_get(&p, AZML_RC_NOTE, "left alone (Azure is still "
		       "creating it)"));
	ck_assert(_get(&p, AZML_RC_NOTE, "VM ss-x: left alone: VM 'ss-x' is "
		       "in scale set"));
	ck_assert(_get(&p, AZML_RC_FORGET_PAIR, "node ss-2: its VM"));
	ck_assert(_get(&p, AZML_RC_FORGET_PAIR, "is gone; forgetting the "
		       "pairing"));
	ck_assert(_get(&p, AZML_RC_NOTE, "capacity 5, but 3 VMs listed and 1 "
		       "paired"));
	/* ss-2 lost its VM: up in Slurm without one */
	ck_assert(_get(&p, AZML_RC_NO_VM, "node ss-2 is up"));
	ck_assert_int_eq(_count(&p, AZML_RC_NO_VM, "ss-1"), 0);
	azml_rc_plan_free(&p);

	/* a program works on ss-3: the set's target is busy */
	_active("ss-3");
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_VM, NULL), 0);
	ck_assert(_get(&p, AZML_RC_NOTE, "_bbbb of scale set"));
	ck_assert(_get(&p, AZML_RC_NOTE, "no node has it yet; left alone (a "
		       "program works on its target's nodes)"));
	azml_rc_plan_free(&p);

	/* empty: deleted with --prune-scale-sets, once nothing works on it */
	in.nvms = in.npairs = in.nactive = 0;
	in.sets[0].listed = 0;
	in.sets[0].got.capacity = 0;
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_DELETE_SET, NULL), 0);
	azml_rc_plan_free(&p);
	in.prune = true;
	_decide(&p);
	ck_assert_str_eq(_get(&p, AZML_RC_DELETE_SET, "is empty; deleting it "
			      "(--prune-scale-sets)")->set, in.sets[0].name);
	azml_rc_plan_free(&p);
}
END_TEST

/* The journal: a cut line is repaired once, and the VM it was about is
 * recorded once (from Azure's listing); a VM Azure shows that the journal
 * missed is recorded at Azure's timeCreated; one Azure no longer has is
 * deleted now, or evicted when its node says Preempt; a registration and
 * a deallocation it missed are recorded. */
START_TEST(journal)
{
	azml_rc_plan_t p;
	azml_vm_result_t *v;
	const azml_rc_action_t *a;
	azml_node_t *n;

	in.journal_cut = 40;	/* the cut line was cpu-3's "created" */
	_jrec(AZML_J_CREATED, NOW - 600, "cpu-1", "id-1", "cpu-1", "cpu");
	_jrec(AZML_J_CREATED, NOW - 900, "cpu-2", "id-2", "cpu-2", "cpu");
	_jrec(AZML_J_CREATED, NOW - 900, "mn-2", "id-m2", "mn-2", "mn");
	_jrec(AZML_J_CREATED, NOW - 800, "mn-1", "id-m1", "mn-1", "mn");
	n = _node("cpu-1", IDLE);
	n->slurmd_start = NOW - 500;
	_node("cpu-2", IDLE);
	_node("cpu-3", IDLE);
	_node("mn-1", PDOWN);
	snprintf(_node("mn-2", PDOWN)->reason, 256, "azureml: Preempted ...");
	v = _vm("cpu-1");
	snprintf(v->vm_id, sizeof(v->vm_id), "id-1");
	v = _vm("cpu-2");
	snprintf(v->vm_id, sizeof(v->vm_id), "id-2");
	snprintf(v->power, sizeof(v->power), "deallocated");
	v = _vm("cpu-3");
	snprintf(v->vm_id, sizeof(v->vm_id), "id-3");
	v->created = NOW - 100;
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_JOURNAL_REPAIR, NULL), 1);
	ck_assert(_get(&p, AZML_RC_JOURNAL_REPAIR, "its last line was cut (40 "
		       "bytes"));
	/* cpu-3: once */
	ck_assert_int_eq(_count(&p, AZML_RC_JOURNAL_ADD, "VM cpu-3"), 1);
	a = _get(&p, AZML_RC_JOURNAL_ADD, "VM cpu-3: Azure has it (node cpu-3)"
		 ", the journal does not: created at Azure's timeCreated");
	ck_assert_int_eq(a->rec.kind, AZML_J_CREATED);
	ck_assert_int_eq(a->rec.at, NOW - 100);
	ck_assert_str_eq(a->rec.id, "id-3");
	ck_assert_str_eq(a->rec.target, "cpu");
	/* the repair comes before any record is added */
	ck_assert_int_eq(p.a[0].kind, AZML_RC_JOURNAL_REPAIR);
	a = _get(&p, AZML_RC_JOURNAL_ADD, "VM cpu-1: its slurmd registered");
	ck_assert_int_eq(a->rec.kind, AZML_J_REGISTERED);
	ck_assert_int_eq(a->rec.at, NOW - 500);
	a = _get(&p, AZML_RC_JOURNAL_ADD, "VM cpu-2: deallocated, which the "
		 "journal missed");
	ck_assert_int_eq(a->rec.kind, AZML_J_DEALLOCATED);
	ck_assert_int_eq(a->rec.at, NOW);
	a = _get(&p, AZML_RC_JOURNAL_ADD, "VM mn-1: the journal has it, Azure "
		 "does not: deleted now");
	ck_assert_int_eq(a->rec.kind, AZML_J_DELETED);
	ck_assert_int_eq(a->rec.at, NOW);
	ck_assert_str_eq(a->rec.id, "id-m1");
	a = _get(&p, AZML_RC_JOURNAL_ADD, "VM mn-2: the journal has it, Azure "
		 "does not: evicted now");
	ck_assert_int_eq(a->rec.kind, AZML_J_EVICTED);
	ck_assert_int_eq(_count(&p, AZML_RC_JOURNAL_ADD, NULL), 5);
	azml_rc_plan_free(&p);

	/* what was recorded is not recorded again; a node a program works
	 * on is its program's */
	_jrec(AZML_J_CREATED, NOW - 100, "cpu-3", "id-3", "cpu-3", "cpu");
	_jrec(AZML_J_REGISTERED, NOW - 500, "cpu-1", "id-1", "cpu-1", "cpu");
	_jrec(AZML_J_DEALLOCATED, NOW - 1, "cpu-2", "id-2", "cpu-2", "cpu");
	_jrec(AZML_J_DELETED, NOW - 1, "mn-1", "id-m1", "mn-1", "mn");
	_active("mn-2");
	in.journal_cut = 0;
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_JOURNAL_ADD, NULL), 0);
	ck_assert_int_eq(_count(&p, AZML_RC_JOURNAL_REPAIR, NULL), 0);
	azml_rc_plan_free(&p);
}
END_TEST

/* Capacity holds are lifted once over (at NOW, a parameter); nodes held
 * after repeated failures are released after the back-off. */
START_TEST(holds)
{
	azml_rc_plan_t p;
	const azml_rc_action_t *a;
	long cpu = _t("cpu"), mn = _t("mn");

	snprintf(_node("cpu-1", PDOWN | NODE_STATE_DRAIN)->reason, 256,
		 AZML_CAPACITY_PREFIX "ZonalAllocationFailed; retry after x");
	snprintf(_node("cpu-2", PDOWN | NODE_STATE_DRAIN)->reason, 256,
		 AZML_CAPACITY_PREFIX "ZonalAllocationFailed; retry after x");
	_node("cpu-3", PDOWN);
	snprintf(_node("mn-1", PDOWN | NODE_STATE_DRAIN)->reason, 256,
		 AZML_CAPACITY_PREFIX "SkuNotAvailable; retry after x");
	in.hold_rc[cpu] = 0;
	in.holds[cpu].since = NOW - 1000;
	in.holds[cpu].until = NOW - 1;
	snprintf(in.holds[cpu].code, sizeof(in.holds[cpu].code),
		 "ZonalAllocationFailed");
	in.hold_rc[mn] = 0;
	in.holds[mn].since = NOW - 100;
	in.holds[mn].until = NOW + 500;	/* in force at NOW */
	_decide(&p);
	a = _get(&p, AZML_RC_LIFT_HOLD, "target cpu: the capacity hold "
		 "(ZonalAllocationFailed) is over; resuming cpu-[1-2]");
	ck_assert_str_eq(a->list, "cpu-[1-2]");
	ck_assert(a->recorded);
	ck_assert_int_eq(_count(&p, AZML_RC_LIFT_HOLD, NULL), 1);
	azml_rc_plan_free(&p);
	/* at NOW + 500 mn's is over too */
	ck_assert_int_eq(azml_rc_decide(&in, NOW + 500, &p), 0);
	ck_assert(_get(&p, AZML_RC_LIFT_HOLD, "target mn:"));
	azml_rc_plan_free(&p);

	/* held after repeated failures */
	in.failures = calloc(3, sizeof(*in.failures));
	snprintf(in.failures[0].node, 96, "cpu-3");
	in.failures[0].failed_at = NOW - AZML_BACKOFF;
	snprintf(in.failures[1].node, 96, "mn-2");
	in.failures[1].failed_at = NOW - 10;
	snprintf(in.failures[2].node, 96, "au-1");
	in.failures[2].failed_at = 0;	/* no record: let go */
	in.nfailures = 3;
	_decide(&p);
	ck_assert(_get(&p, AZML_RC_RELEASE_HELD, "node cpu-3 was held after "
		       "repeated failures; releasing it"));
	ck_assert(_get(&p, AZML_RC_RELEASE_HELD, "node au-1"));
	ck_assert_int_eq(_count(&p, AZML_RC_RELEASE_HELD, NULL), 2);
	azml_rc_plan_free(&p);
}
END_TEST

/* MinNodes: the first powered-down node that is not DOWN is powered up,
 * until MinNodes are. */
START_TEST(min_nodes)
{
	azml_rc_plan_t p;

	_node("mn-1", NODE_STATE_DOWN | NODE_STATE_POWERED_DOWN);
	_node("mn-2", PDOWN);
	_decide(&p);
	ck_assert_str_eq(_get(&p, AZML_RC_POWER_UP, "cluster mn has fewer "
			      "than MinNodes=1 powered; powering up mn-2")->node,
			 "mn-2");
	ck_assert_int_eq(_count(&p, AZML_RC_POWER_UP, NULL), 1);
	azml_rc_plan_free(&p);
	in.nodes[1].state = IDLE;
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_POWER_UP, NULL), 0);
	azml_rc_plan_free(&p);
}
END_TEST

/* JobIdentity: once the node registered (up, no program on it), the VM
 * keeps only JobIdentity; once it has one identity, nothing more. */
START_TEST(job_identity)
{
	azml_rc_plan_t p;

	_node("cpu-1", IDLE);
	_node("cpu-2", PDOWN | NODE_STATE_POWERING_UP);
	_node("mn-1", IDLE);
	_vm("cpu-1")->identities = 2;
	_vm("cpu-2")->identities = 2;	/* its node is still booting */
	_vm("mn-1")->identities = 2;	/* no JobIdentity there */
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_NODE_IDENTITY, NULL), 1);
	ck_assert_str_eq(_get(&p, AZML_RC_NODE_IDENTITY, "VM cpu-1 (node "
			      "cpu-1): its node registered; taking away the "
			      "node identity, keeping JobIdentity")->vm,
			 "cpu-1");
	azml_rc_plan_free(&p);
	in.vms[0].identities = 1;	/* done: only once */
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_NODE_IDENTITY, NULL), 0);
	azml_rc_plan_free(&p);
	in.vms[0].identities = 2;
	_active("cpu-1");		/* a program works on it */
	_decide(&p);
	ck_assert_int_eq(_count(&p, AZML_RC_NODE_IDENTITY, NULL), 0);
	azml_rc_plan_free(&p);
}
END_TEST

/* Idle auto: T learnt from the gaps; nodes idle T or longer go; T stays
 * within what generate gives the partition as SuspendTime (the backstop). */
START_TEST(idle_auto)
{
	const azml_target_t *au = azml_conf_find_target(conf, "au");
	azml_idle_learnt_t l;
	azml_rc_plan_t p;
	azml_cost_job_t *j;
	int *pick, np;
	char *text, want[64];
	azml_generate_opts_t opts = { 0 };

	/* no job records: the configured 300 s */
	_node("au-1", IDLE)->last_busy = NOW - 400;
	_node("au-2", IDLE)->last_busy = NOW - 100;
	_node("au-3", NODE_STATE_ALLOCATED)->last_busy = NOW - 4000;
	_decide(&p);
	ck_assert(_get(&p, AZML_RC_NOTE, "cluster au: IdleSecondsBefore"
		       "Scaledown=auto keeps 300 s: no job records to learn "
		       "from (slurmdbd: none here)"));
	ck_assert(_get(&p, AZML_RC_IDLE_DOWN, "cluster au: node au-1 idle "
		       "400 s >= 300 s; powering it down"));
	ck_assert_int_eq(_count(&p, AZML_RC_IDLE_DOWN, NULL), 1);
	ck_assert_str_eq(_get(&p, AZML_RC_IDLE_DOWN, "au-1")->reason,
			 "azureml: idle 300 s (IdleSecondsBeforeScaledown=auto)");
	azml_rc_plan_free(&p);

	/* gaps of 40 s between short jobs on au-1: a short T pays */
	in.have_jobs = true;
	for (int k = 0; k < 50; k++) {
		j = GROW(in.jobs, in.njobs);
		j->id = (uint32_t) k + 1;
		snprintf(j->node, sizeof(j->node), "au-1");
		j->cpus = 1;
		j->start = NOW - 86400 + k * 100;
		j->end = j->start + 60;
	}
	azml_idle_learn(conf, au, true, in.jobs, in.njobs, NULL, 0, 0, NOW, &l);
	ck_assert_int_eq(l.how, AZML_IDLE_CHANGED);
	ck_assert_int_eq(l.was, 300);
	ck_assert_int_ge(l.ngaps, 49);
	ck_assert_int_ge(l.seconds, 40);
	ck_assert_int_lt(l.seconds, 300);
	ck_assert_int_eq(l.nboots, 0);	/* the assumed boot */
	ck_assert(l.boot == AZML_IDLE_AUTO_BOOT);
	/* the same T learnt before: unchanged */
	azml_idle_learn(conf, au, true, in.jobs, in.njobs, NULL, 0, l.seconds,
			NOW, &l);
	ck_assert_int_eq(l.how, AZML_IDLE_UNCHANGED);
	/* never past the partition's SuspendTime, generate's backstop */
	ck_assert_int_le(l.seconds, AZML_IDLE_AUTO_MAX);
	ck_assert_ptr_nonnull(text = azml_generate_slurm_conf(conf, &opts));
	snprintf(want, sizeof(want), "SuspendTime=%d", AZML_IDLE_AUTO_MAX);
	ck_assert_msg(strstr(strstr(text, "PartitionName=au"), want), "%s",
		      text);
	free(text);

	/* which nodes go, given T and now */
	np = azml_idle_pick(au, in.nodes, in.nn, 100, NOW, &pick);
	ck_assert_int_eq(np, 2);
	ck_assert_str_eq(in.nodes[pick[0]].name, "au-1");
	ck_assert_str_eq(in.nodes[pick[1]].name, "au-2");
	free(pick);
	in.nodes[1].state |= NODE_STATE_DRAIN;
	np = azml_idle_pick(au, in.nodes, in.nn, 100, NOW, &pick);
	ck_assert_int_eq(np, 1);
	free(pick);
	ck_assert_int_eq(azml_idle_pick(au, in.nodes, in.nn, 100, NOW + 0 -
					4000, &pick), 0);
	ck_assert_ptr_null(pick);

	/* the plan: T taken, and the nodes idle that long go */
	_decide(&p);
	ck_assert_int_eq(_get(&p, AZML_RC_IDLE_SET, "cluster au: IdleSeconds"
			      "BeforeScaledown=auto: taking")->value,
			 l.seconds);
	ck_assert(_get(&p, AZML_RC_IDLE_DOWN, "node au-1 idle 400 s"));
	azml_rc_plan_free(&p);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* apply: a recording ops table and a temporary StateDir */

static struct {
	char calls[64][160];
	int n;
	azml_node_t *load;	/* what load() answers */
	int nload;
} R;

static void _rec(const char *fmt, ...)
{
	va_list ap;

	if (R.n >= 64)
		return;
	va_start(ap, fmt);
	vsnprintf(R.calls[R.n++], sizeof(R.calls[0]), fmt, ap);
	va_end(ap);
}

static int _r_load(azml_node_t **out)
{
	if (R.nload < 0)
		return -1;
	*out = malloc((R.nload + 1) * sizeof(**out));
	memcpy(*out, R.load, R.nload * sizeof(**out));
	return R.nload;
}

static int _r_up(const char *n)
{
	_rec("power_up %s", n);
	return 0;
}

static int _r_down(const char *n, const char *why)
{
	_rec("power_down %s %s", n, why);
	return 0;
}

static int _r_force(const char *n, const char *why)
{
	_rec("power_down_force %s %s", n, why);
	return 0;
}

static int _r_resume(const char *n)
{
	_rec("resume %s", n);
	return 0;
}

static int _r_addr(const char *n, const char *a, const char *h)
{
	_rec("set_addr %s %s %s", n, a, h);
	return 0;
}

static const azml_rc_ops_t rops = { _r_load, _r_up, _r_down, _r_force,
				    _r_resume, _r_addr };

static int _called(const char *s)
{
	int n = 0;

	for (int i = 0; i < R.n; i++)
		n += !strcmp(R.calls[i], s);
	return n;
}

static char top[PATH_MAX];

/* StateDir: root's (or ours) 0755 under a 0755 mkdtemp folder. */
static azml_conf_t *_state_conf(const char *targets)
{
	azml_conf_t *c;
	char err[512], sd[PATH_MAX + 8];

	snprintf(top, sizeof(top), "/tmp/azml-reconcile-test.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(top));
	ck_assert_int_eq(chmod(top, 0755), 0);
	snprintf(sd, sizeof(sd), "%s/state", top);
	ck_assert_int_eq(mkdir(sd, 0755), 0);
	c = tu_conf("test.conf", "ClusterName=t\nSubscriptionId=" SUB "\n"
		    "ResourceGroup=rg\nLocation=eastus\nStateDir=%s\n%s", sd,
		    targets);
	for (size_t i = 0; i < c->nerrors; i++)
		fprintf(stderr, "%s\n", c->errors[i]);
	ck_assert_int_eq(c->nerrors, 0);
	ck_assert_msg(azml_state_check(c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_msg(azml_state_init(c, err, sizeof(err)) == 0, "%s", err);
	memset(&R, 0, sizeof(R));
	return c;
}

static void _state_done(azml_conf_t *c)
{
	char cmd[PATH_MAX + 16];

	azml_conf_destroy(c);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	ck_assert_int_eq(system(cmd), 0);
}

/* The journal's records now, and its bad lines. */
static size_t _journal(const azml_conf_t *c, azml_jrec_t **r, size_t *bad)
{
	size_t n = 0;

	*bad = 0;
	ck_assert_int_eq(azml_state_journal_read(c, 0, r, &n, bad), 0);
	return n;
}

/* A plan applied: what slurmctld is told goes through the ops table, the
 * journal is repaired before it is written, a learnt T is kept; dry, the
 * plan is only printed. */
START_TEST(apply_state)
{
	azml_conf_t *c = _state_conf(
		"ComputeCluster=au VmSize=Standard_D4s_v3 MaxNodes=3 "
		"IdleSecondsBeforeScaledown=auto\n");
	azml_rc_input_t i2 = { 0 };
	azml_rc_plan_t p = { 0 };
	azml_jrec_t x, *r = NULL;
	size_t bad, n;
	char path[PATH_MAX + 64], *out = NULL;
	size_t outn = 0;
	FILE *fp, *mem;
	long t[3] = { 0 };
	int h[3] = { -1, -1, -1 };
	azml_hold_t hs[3];

	/* a journal whose last line a crash cut */
	ck_assert_int_eq(azml_jrec_make(&x, AZML_J_CREATED, NOW, "au-1", "id1",
					"au-1", "au", "Standard_D4s_v3", false,
					NULL), 0);
	ck_assert_int_eq(azml_state_journal_add(c, &x, 1), 0);
	snprintf(path, sizeof(path), "%s/state/journal/current", top);
	ck_assert_ptr_nonnull(fp = fopen(path, "a"));
	fputs("1700000001 created vm=au-2 id=i", fp);
	fclose(fp);
	ck_assert_int_eq(azml_state_journal_cut(c), 31);

	/* the input: au-2's VM, which the cut line was about */
	memset(hs, 0, sizeof(hs));
	i2.conf = c;
	i2.vm_targets = true;
	i2.journal_read = true;
	i2.journal_cut = azml_state_journal_cut(c);
	i2.hold_rc = h;
	i2.holds = hs;
	i2.idle_learnt = t;
	i2.jrec = &x;
	i2.njrec = 1;
	R.load = calloc(3, sizeof(azml_node_t));
	snprintf(R.load[0].name, 96, "au-1");
	R.load[0].state = IDLE;
	R.load[0].last_busy = NOW - 1000;
	snprintf(R.load[1].name, 96, "au-2");
	R.load[1].state = IDLE;
	R.load[1].last_busy = NOW - 10;
	R.nload = 2;
	i2.nodes = R.load;
	i2.nn = 2;
	i2.vms = calloc(2, sizeof(azml_vm_result_t));
	snprintf(i2.vms[0].name, 80, "au-1");
	snprintf(i2.vms[0].vm_id, 40, "id1");
	snprintf(i2.vms[1].name, 80, "au-2");
	snprintf(i2.vms[1].vm_id, 40, "id2");
	i2.vms[1].created = NOW - 5;
	for (int k = 0; k < 2; k++) {
		snprintf(i2.vms[k].cluster, 80, "t");
		snprintf(i2.vms[k].power, 32, "running");
	}
	i2.nvms = 2;

	/* dry: printed, nothing done */
	i2.dry = true;
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_int_eq(azml_rc_apply(c, NULL, &rops, &p, true, mem), 0);
	fclose(mem);
	ck_assert_msg(strstr(out, "journal: its last line was cut (31 bytes, "
			     "a program that died while writing); would remove "
			     "it\n"), "%s", out);
	ck_assert_msg(strstr(out, "journal: VM au-2: Azure has it (node au-2)"
			     ", the journal does not: created at Azure's "
			     "timeCreated; would record it\n"), "%s", out);
	ck_assert_msg(strstr(out, "cluster au: node au-1 idle 1000 s >= 300 s"
			     "; would power it down\n"), "%s", out);
	free(out);
	ck_assert_int_eq(R.n, 0);
	ck_assert_int_eq(azml_state_journal_cut(c), 31);
	azml_rc_plan_free(&p);

	/* done */
	i2.dry = false;
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_int_eq(azml_rc_apply(c, NULL, &rops, &p, false, mem), 0);
	fclose(mem);
	ck_assert_msg(strstr(out, "journal: its last line was cut (31 bytes, "
			     "a program that died while writing); removed\n"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(azml_state_journal_cut(c), 0);
	n = _journal(c, &r, &bad);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(n, 2);		/* au-1's, au-2's: once each */
	ck_assert_str_eq(r[1].vm, "au-2");
	ck_assert_int_eq(r[1].at, NOW - 5);
	free(r);
	ck_assert_int_eq(_called("power_down au-1 azureml: idle 300 s "
				 "(IdleSecondsBeforeScaledown=auto)"), 1);
	ck_assert_int_eq(R.n, 1);
	azml_rc_plan_free(&p);

	/* the next pass finds nothing to do */
	ck_assert_int_eq(_journal(c, &r, &bad), 2);
	i2.jrec = r;
	i2.njrec = 2;
	i2.journal_cut = 0;
	R.load[0].last_busy = NOW - 10;	/* a job came */
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	ck_assert_int_eq(p.actions, 0);
	azml_rc_plan_free(&p);
	free(r);
	free(i2.vms);
	free(R.load);
	_state_done(c);
}
END_TEST

/* power_up is repeated while Slurm has not taken it, at most 5 times. */
START_TEST(apply_power_up)
{
	azml_rc_plan_t p = { 0 };
	azml_rc_action_t a = { .kind = AZML_RC_POWER_UP };
	FILE *null = fopen("/dev/null", "w");

	memset(&R, 0, sizeof(R));
	snprintf(a.node, sizeof(a.node), "mn-1");
	snprintf(a.text, sizeof(a.text), "power up mn-1");
	p.a = &a;
	p.n = 1;
	R.load = calloc(1, sizeof(azml_node_t));
	snprintf(R.load[0].name, 96, "mn-1");
	R.load[0].state = PDOWN | NODE_STATE_POWER_UP;	/* waiting */
	R.nload = 1;
	ck_assert_int_eq(azml_rc_apply(conf, NULL, &rops, &p, false, null), 0);
	ck_assert_int_eq(_called("power_up mn-1"), 6);
	/* taken at once: asked once */
	R.n = 0;
	R.load[0].state = IDLE | NODE_STATE_POWERING_UP;
	ck_assert_int_eq(azml_rc_apply(conf, NULL, &rops, &p, false, null), 0);
	ck_assert_int_eq(_called("power_up mn-1"), 1);
	free(R.load);
	fclose(null);
}
END_TEST

/* Gather and apply against StateDir: an attached node slurmctld forgot
 * (a FUTURE slot again) is given its address and resumed. */
START_TEST(apply_attached)
{
	azml_conf_t *c = _state_conf("AttachedCompute=lab Nodes=lab[1-2] "
				     "Gres=gpu:a100:4\n");
	azml_rc_input_t i2;
	azml_rc_plan_t p;
	cJSON *rep = cJSON_Parse("{\"address\":\"10.0.0.7\","
				 "\"hostname\":\"lab1.example\"}");
	char err[512], *out = NULL;
	size_t outn = 0;
	FILE *mem;

	ck_assert_int_eq(azml_state_attached_save(c, "lab1", rep, err,
						  sizeof(err)), 0);
	cJSON_Delete(rep);
	R.load = calloc(1, sizeof(azml_node_t));
	snprintf(R.load[0].name, 96, "lab2");
	R.nload = 1;
	ck_assert_msg(azml_rc_gather(c, NULL, &rops, false, false, stderr, &i2,
				     err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	ck_assert_int_eq(p.actions, 1);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_int_eq(azml_rc_apply(c, NULL, &rops, &p, false, mem), 0);
	fclose(mem);
	ck_assert_msg(strstr(out, "attached node lab1 is a FUTURE slot again "
			     "(slurmctld restarted); restoring it at "
			     "10.0.0.7\n"), "%s", out);
	free(out);
	ck_assert_int_eq(_called("set_addr lab1 10.0.0.7 lab1.example"), 1);
	ck_assert_int_eq(_called("resume lab1"), 1);
	azml_rc_plan_free(&p);
	azml_rc_input_free(&i2);
	/* slurmctld not answering: nothing */
	R.nload = -1;
	ck_assert_int_eq(azml_rc_gather(c, NULL, &rops, false, false, stderr,
					&i2, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "slurmctld is not answering; nothing done");
	azml_rc_input_free(&i2);
	free(R.load);
	_state_done(c);
}
END_TEST

static int _r_asap(const char *n, const char *why)
{
	_rec("power_down_asap %s %s", n, why);
	return 0;
}

static int _r_drain(const char *n, const char *why)
{
	_rec("drain %s %.40s", n, why);
	return 0;
}

static const azml_rc_ops_t hops = { _r_load, _r_up, _r_down, _r_force,
				    _r_resume, _r_addr, _r_asap, _r_drain };

#define XID79 "azureml: health: xid: GPU 0000:07:00: XID 79 (GPU has " \
	"fallen off the bus)"

/* A node a health check drained: journaled once; a cluster node drained
 * for hardware is powered down when its jobs end (replaced); one for disk
 * space, an attached node, are only journaled; past ReplaceLimit the
 * target is held and its powered-down nodes drained. */
START_TEST(health_replace)
{
	azml_conf_t *c = _state_conf(
		"ReplaceLimit=1\n"
		"ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=4 "
		"QuotaApproved=yes\n"
		"AttachedCompute=lab Nodes=lab[1-2] Gres=gpu:a100:4\n");
	azml_rc_input_t i2 = { 0 };
	azml_rc_plan_t p = { 0 };
	azml_jrec_t x[3], *r = NULL;
	azml_node_t nodes[5];
	azml_vm_result_t vms[3];
	int h[2] = { 0, 0 };
	azml_hold_t hs[2], hold;
	long t[2] = { 0 };
	size_t n, bad;
	char *out = NULL;
	size_t outn = 0;
	FILE *mem;
	int un = 0, rep = 0;

	for (int i = 0; i < 3; i++) {
		char vm[16], id[16], node[16];

		snprintf(vm, sizeof(vm), "gpu-%d", i + 1);
		snprintf(id, sizeof(id), "id%d", i + 1);
		snprintf(node, sizeof(node), "gpu-%d", i + 1);
		ck_assert_int_eq(azml_jrec_make(&x[i], AZML_J_CREATED, NOW - 900,
						vm, id, node, "gpu",
						"Standard_NC6s_v3", false,
						NULL), 0);
	}
	ck_assert_int_eq(azml_state_journal_add(c, x, 3), 0);
	memset(nodes, 0, sizeof(nodes));
	memset(vms, 0, sizeof(vms));
	memset(hs, 0, sizeof(hs));
	snprintf(nodes[0].name, 96, "gpu-1");
	nodes[0].state = NODE_STATE_ALLOCATED | NODE_STATE_DRAIN;
	snprintf(nodes[0].reason, 256, XID79);
	nodes[0].reason_time = NOW - 10;
	snprintf(nodes[1].name, 96, "gpu-2");
	nodes[1].state = IDLE | NODE_STATE_DRAIN;
	snprintf(nodes[1].reason, 256, "azureml: health: disk: /tmp has 3 "
		 "MiB free of 900 MiB (needs 45)");
	nodes[1].reason_time = NOW - 10;
	snprintf(nodes[2].name, 96, "gpu-3");
	nodes[2].state = IDLE | NODE_STATE_DRAIN;
	snprintf(nodes[2].reason, 256, "azureml: health: ecc: GPU "
		 "0000:34:00.0: 2 uncorrectable ECC errors");
	nodes[2].reason_time = NOW - 5;
	snprintf(nodes[3].name, 96, "gpu-4");
	nodes[3].state = PDOWN;
	snprintf(nodes[4].name, 96, "lab1");
	nodes[4].state = IDLE | NODE_STATE_DRAIN;
	snprintf(nodes[4].reason, 256, "azureml: health: memory: 1024 MiB "
		 "seen, lab needs 2048 MiB");
	nodes[4].reason_time = NOW - 10;
	i2.conf = c;
	i2.vm_targets = true;
	i2.journal_read = true;
	i2.hold_rc = h;
	i2.holds = hs;
	i2.idle_learnt = t;
	i2.jrec = x;
	i2.njrec = 3;
	i2.nodes = nodes;
	i2.nn = 5;
	for (int i = 0; i < 3; i++) {	/* Azure has their VMs */
		snprintf(vms[i].name, sizeof(vms[i].name), "gpu-%d", i + 1);
		snprintf(vms[i].vm_id, sizeof(vms[i].vm_id), "id%d", i + 1);
		snprintf(vms[i].cluster, sizeof(vms[i].cluster), "t");
		snprintf(vms[i].power, sizeof(vms[i].power), "running");
		snprintf(vms[i].provisioning, sizeof(vms[i].provisioning),
			 "Succeeded");
		snprintf(vms[i].size, sizeof(vms[i].size), "Standard_NC6s_v3");
		vms[i].capacity = -1;
	}
	i2.vms = vms;
	i2.nvms = 3;
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_int_eq(azml_rc_apply(c, NULL, &hops, &p, false, mem), 0);
	fclose(mem);
	ck_assert_msg(strstr(out, "health: node gpu-1: " XID79 "; powering it "
			     "down for a new VM when its jobs end\n"), "%s", out);
	ck_assert_msg(strstr(out, "health: gpu: 1 VMs of Standard_NC6s_v3 "
			     "replaced in the last hour (ReplaceLimit=1): node "
			     "gpu-3 stays drained; holding the target\n"),
		      "%s", out);
	free(out);
	ck_assert_int_eq(_called("power_down_asap gpu-1 " XID79), 1);
	ck_assert_int_eq(_called("drain gpu-4 azureml: capacity: ReplaceLimit; "
				 "retry a"), 1);
	ck_assert_int_eq(R.n, 2);	/* not gpu-2 (disk), not lab1 */
	ck_assert_int_eq(azml_state_hold_get(c, &c->targets[0], &hold), 1);
	ck_assert_str_eq(hold.code, "ReplaceLimit");
	/* the journal: each drain once, the replacement with its check */
	n = _journal(c, &r, &bad);
	for (size_t i = 0; i < n; i++) {
		un += r[i].kind == AZML_J_UNHEALTHY;
		if (r[i].kind == AZML_J_REPLACED) {
			rep++;
			ck_assert_str_eq(r[i].node, "gpu-1");
			ck_assert_str_eq(r[i].id, "id1");
			ck_assert_str_eq(r[i].reason, "xid");
		}
		if (r[i].kind == AZML_J_UNHEALTHY && !strcmp(r[i].node, "lab1"))
			ck_assert_str_eq(r[i].reason, "memory");
	}
	ck_assert_int_eq(un, 4);
	ck_assert_int_eq(rep, 1);
	azml_rc_plan_free(&p);
	/* the next pass: gpu-1 powering down, gpu held, all journaled */
	nodes[0].state |= NODE_STATE_POWER_DRAIN;
	h[0] = 1;
	i2.jrec = r;
	i2.njrec = n;
	ck_assert_int_eq(azml_rc_decide(&i2, NOW + 60, &p), 0);
	ck_assert_int_eq(p.actions, 0);
	azml_rc_plan_free(&p);
	free(r);
	_state_done(c);
}
END_TEST

/* ---------------------------------------------------------------------- */
/* gather against a hostile ARM (hostile.h) */

#define SET_ID(set) "/subscriptions/" SUB "/resourceGroups/rg/providers/" \
	"Microsoft.Compute/virtualMachineScaleSets/" set

static struct {
	int deletes, set_lists, tag_lists;
	char deleted[8][128];
} H;

/* A VM's model, tagged slurm-cluster=t, in scale set SET_ID (NULL: no
 * virtualMachineScaleSet at all), after ",". */
static size_t _h_vm(char *o, size_t n, const char *name, const char *set_id)
{
	return snprintf(o, n, "{\"name\":\"%s\",\"tags\":{\"slurm-cluster\":"
			"\"t\"},\"properties\":{\"provisioningState\":"
			"\"Succeeded\"%s%s%s}}", name, set_id ?
			",\"virtualMachineScaleSet\":{\"id\":\"" : "",
			set_id ? set_id : "", set_id ? "\"}" : "");
}

/* The tag listing is empty; scale set t-ss's listing holds its own VM and
 * 'lone-1', tagged ours yet in no set; a VM's GET answers its model. */
static void _h_serve(void *arg, const hs_req_t *q, hs_reply_t *o)
{
	const char *filter = MHD_lookup_connection_value(q->conn,
		MHD_GET_ARGUMENT_KIND, "$filter");
	const char *vm = strstr(q->path, "/virtualMachines/");
	size_t len;

	if (strstr(q->path, "/oauth2/")) {
		snprintf(o->body, sizeof(o->body), "{\"access_token\":"
			 "\"reconcile-test-token-0123456789\",\"expires_in\":"
			 "\"3600\"}");
		return;
	}
	if (!strcmp(q->method, "DELETE")) {
		int i = __atomic_fetch_add(&H.deletes, 1, __ATOMIC_SEQ_CST);

		if (i < 8)
			snprintf(H.deleted[i], sizeof(H.deleted[i]), "%s",
				 q->path);
		o->status = 200;
		return;
	}
	if (vm) {
		vm += strlen("/virtualMachines/");
		if (!strcmp(vm, "lone-1"))
			_h_vm(o->body, sizeof(o->body), vm, NULL);
		else
			_h_vm(o->body, sizeof(o->body), vm, SET_ID("t-ss"));
		return;
	}
	if (strstr(q->path, "/virtualMachines") && filter) {
		__atomic_add_fetch(&H.set_lists, 1, __ATOMIC_SEQ_CST);
		len = snprintf(o->body, sizeof(o->body), "{\"value\":[");
		len += _h_vm(o->body + len, sizeof(o->body) - len,
			     "t-ss_aaaa1111", SET_ID("t-ss"));
		len += snprintf(o->body + len, sizeof(o->body) - len, ",");
		len += _h_vm(o->body + len, sizeof(o->body) - len, "lone-1",
			     NULL);
		snprintf(o->body + len, sizeof(o->body) - len, "]}");
		return;
	}
	if (strstr(q->path, "/virtualMachines")) {
		__atomic_add_fetch(&H.tag_lists, 1, __ATOMIC_SEQ_CST);
		snprintf(o->body, sizeof(o->body), "{\"value\":[]}");
		return;
	}
	if (strstr(q->path, "/virtualMachineScaleSets/t-ss")) {
		snprintf(o->body, sizeof(o->body), "{\"name\":\"t-ss\","
			 "\"id\":\"%s\",\"sku\":{\"name\":\"Standard_D4s_v3\","
			 "\"capacity\":1},\"properties\":{"
			 "\"provisioningState\":\"Succeeded\"}}",
			 SET_ID("t-ss"));
		return;
	}
	o->status = 404;
	snprintf(o->body, sizeof(o->body), "{\"error\":{\"code\":"
		 "\"ResourceNotFound\",\"message\":\"not found\"}}");
}

/* A scale set's listing that holds a VM with our cluster tag and no
 * virtualMachineScaleSet: gather leaves it out and says so, decide and
 * apply never delete it. */
START_TEST(gather_hostile_set_listing)
{
	hs_t *s;
	int hport;
	azml_conf_t *c;
	azml_arm_t *arm;
	azml_http_opts_t o = { .retry_for = 5 };
	azml_rc_input_t i2;
	azml_rc_plan_t p;
	char err[512], *out = NULL, more[256];
	size_t outn = 0;
	FILE *mem;

	memset(&H, 0, sizeof(H));
	s = hs_start(_h_serve, NULL, &hport);
	snprintf(more, sizeof(more), "ArmEndpoint=http://127.0.0.1:%d\n"
		 "ImdsEndpoint=http://127.0.0.1:%d\n"
		 "Credential=managed-identity\n"
		 "ComputeCluster=ss VmSize=Standard_D4s_v3 MaxNodes=4 "
		 "Provisioning=ScaleSet\n", hport, hport);
	c = _state_conf(more);
	ck_assert_ptr_nonnull(arm = azml_arm_create(c, &o, err, sizeof(err)));
	R.load = calloc(1, sizeof(azml_node_t));
	R.nload = 0;

	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_msg(azml_rc_gather(c, arm, &rops, false, false, mem, &i2,
				     err, sizeof(err)) == 0, "%s", err);
	fclose(mem);
	ck_assert_int_eq(H.tag_lists, 1);
	ck_assert_int_eq(H.set_lists, 1);
	ck_assert_msg(strstr(out, "scale set t-ss: a VM its listing holds is "
			     "left alone: VM 'lone-1' is in no scale set, not "
			     "in " SET_ID("t-ss") "\n"), "%s", out);
	free(out);
	out = NULL;
	/* only the set's own VM is a member */
	ck_assert_uint_eq(i2.nvms, 1);
	ck_assert_str_eq(i2.vms[0].name, "t-ss_aaaa1111");
	ck_assert_str_eq(i2.vms[0].scale_set, "t-ss");
	ck_assert_uint_eq(i2.nsets, 1);
	ck_assert_uint_eq(i2.sets[0].listed, 1);

	/* decided and applied: whatever is done, never to lone-1 */
	ck_assert_int_eq(azml_rc_decide(&i2, NOW, &p), 0);
	for (size_t k = 0; k < p.n; k++)
		ck_assert_msg(!strstr(p.a[k].text, "lone-1"), "%s",
			      p.a[k].text);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &outn));
	ck_assert_int_eq(azml_rc_apply(c, arm, &rops, &p, false, mem), 0);
	fclose(mem);
	ck_assert_msg(!strstr(out, "lone-1"), "%s", out);
	for (int k = 0; k < H.deletes && k < 8; k++)
		ck_assert_msg(!strstr(H.deleted[k], "lone-1"), "%s",
			      H.deleted[k]);
	if (getenv("RECONCILE_TEST_VERBOSE"))
		fprintf(stderr, "%s(%d deletes)\n", out, H.deletes);
	free(out);
	azml_rc_plan_free(&p);
	azml_rc_input_free(&i2);
	azml_arm_destroy(arm);
	free(R.load);
	_state_done(c);
	hs_stop(s);
}
END_TEST

int main(void)
{
	TCase *tc = tcase_create("reconcile");

	tcase_add_checked_fixture(tc, _setup, _teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, orphans);
	tcase_add_test(tc, scale_sets);
	tcase_add_test(tc, journal);
	tcase_add_test(tc, holds);
	tcase_add_test(tc, min_nodes);
	tcase_add_test(tc, job_identity);
	tcase_add_test(tc, idle_auto);
	tcase_add_test(tc, apply_state);
	tcase_add_test(tc, apply_power_up);
	tcase_add_test(tc, apply_attached);
	tcase_add_test(tc, health_replace);
	tcase_add_test(tc, gather_hostile_set_listing);
	return tu_run("reconcile", tc);
}

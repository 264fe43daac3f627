/*
 * azure-emulator.c - Azure on loopback: the Entra ID token endpoint, IMDS
 * (managed identity, Scheduled Events) and the Resource Manager paths for
 * virtual machines, network interfaces, operations, usages and VM sizes.
 *
 * It is slurm-azureml's embedded default, as Azurite is Azure Storage's: its
 * answers follow Microsoft's REST examples (status codes, headers, bodies,
 * error shapes).  A VM "boots" by running --boot-command with {vm}, {node}
 * and {ip} filled in, and is "deleted" by stopping that process group.
 *
 * Virtual machine scale sets are emulated in Flexible orchestration mode
 * only: a set's VMs are ordinary VMs that name their set.
 *
 * Conventions of its own (documented in azure-emulator(8)):
 *   - IMDS requests name their VM with the query parameter vm=NAME, since
 *     every emulated VM shares 127.0.0.1;
 *   - /emulator/... is an admin API: faults, stats, VMs, evictions.
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

#define NBUCKETS 4096
#define MAX_BODY (1 << 20)
#define TOKEN_LIFETIME 3599
#define TOKEN_GRACE 300
#define TOKEN_FORGET 86400	/* an expired token is known as such this long */
#define TOKENS_MAX 100000	/* tokens kept; the oldest go first */
#define OP_KEEP 3600		/* seconds a finished operation is kept */
#define VMSS_MAX 2500		/* scale sets kept (Azure's per-region limit) */
#define VMSS_VMS_MAX 1000	/* VMs of a Flexible set: sku.capacity's bound */
#define VMSS_NAME_MAX 51	/* "{set}_{8 hex}-nic" fits a 64-character name */
#define VMSS_PROFILE_MAX (128 * 1024)	/* virtualMachineProfile as JSON */
#define VMSS_IDS_MAX 1000	/* instanceIds of one batched delete */

/* ---------------------------------------------------------------------- */
/* State */

typedef enum { EV_NONE, EV_FREEZE, EV_REBOOT, EV_REDEPLOY, EV_PREEMPT,
	       EV_TERMINATE } ev_kind_t;

typedef struct vm {
	char key[400];		/* lower-case "sub/rg/name" */
	char *sub, *rg, *name, *location;
	char *node;		/* slurm-node tag */
	char *size;
	const char *family;	/* quota family */
	int vcpus;
	bool spot;
	char *nic;		/* NIC name */
	cJSON *resource;	/* what GET returns (without instanceView) */
	char provisioning[16];	/* Creating, Succeeded, Failed, Deleting, Updating */
	char power[16];		/* starting, running, deallocating, deallocated */
	pid_t pgid;		/* boot command or sandbox, 0: none */
	char *computer;		/* validated computerName: the sandbox's hostname */
	char *vmss;		/* the Flexible scale set it belongs to (its
				 * name, same sub and rg), NULL: none */
	unsigned long seq;	/* creation order: a set scales in newest first */
	/* Its one Scheduled Event (EV_NONE: none), as IMDS lists it */
	ev_kind_t ev;
	double ev_at;		/* NotBefore */
	int ev_duration;	/* DurationInSeconds, -1: none */
	char event_id[40];
	bool event_started;
	double thaw_at;		/* a started Freeze ends then (0: none) */
	double boot_at;		/* a started Reboot/Redeploy boots again then */
	unsigned incarnation;	/* DocumentIncarnation */
	/* SAS signatures handed out for its serial log, newest last */
	struct {
		char sig[40];
		double until;
	} sas[4];
	struct vm *next;
} vm_t;

/*
 * A virtual machine scale set in Flexible orchestration mode.  Its VMs are
 * ordinary VMs whose vmss names it; its sku.capacity is their count (those
 * being deleted aside).
 */
typedef struct vmss {
	char key[400];		/* lower-case "sub/rg/name" */
	char *sub, *rg, *name;
	cJSON *spec;		/* the set as last written, validated: location,
				 * tags, zones, sku, identity, properties */
	cJSON *identity;	/* as GET shows it, NULL: none */
	char unique_id[40];
	char created[40];	/* timeCreated */
	unsigned long etag;	/* grows with every write and every change of
				 * its VMs */
	char provisioning[16];	/* Updating, Succeeded, Failed, Deleting */
	struct vmss *next;
} vmss_t;

/* Appended only: the journal keeps these numbers. */
typedef enum { OP_CREATE, OP_DELETE, OP_DEALLOCATE, OP_START, OP_VMSS,
	       OP_VMSS_DELETE } op_kind_t;

typedef struct op {
	char id[40];
	op_kind_t kind;
	char vmkey[400];
	double start, done_at;
	bool finished;
	char *err_code, *err_msg;	/* set when Failed */
	struct op *next;
} op_t;

/* A bearer token handed out, valid until TOKEN_LIFETIME (plus a grace for
 * clocks) after AT. */
typedef struct {
	char tok[48];
	double at;
	char aud[128];		/* its resource (audience); "": unknown, an old journal's */
	int ident;		/* its user-assigned identity, an index in S.idents; -1: none */
} token_t;

#define SECRET_MAX 25600	/* Key Vault: a secret value is at most 25 KB */
#define READERS_MAX 64
#define IDENTS_MAX 4096		/* distinct identities that tokens name */

/* A Key Vault secret preloaded with --secret NAME=FILE. */
typedef struct {
	char name[128];
	char version[33];
	char *value;		/* base64 of FILE; wiped at exit */
	double created;
} secret_t;

typedef struct {
	int latency_ms;
	int async_ms;
	double write_burst;	/* 0: unlimited */
	double write_rate;	/* tokens per second */
	double error_rate;	/* fraction of ARM requests answered 5xx */
	int page_size;
	cJSON *quota;		/* {"standardNCSv3Family": 24, ...} vCPUs */
	cJSON *capacity;	/* {"Standard_NC6s_v3[@ZONE]": "CODE[:N]"}, see
				 * capacity_codes; keys canonical */
	bool locked;		/* a delete lock on the resource group */
	/* A hostile or broken Azure, to test what clients trust: */
	char nic_ip[64];	/* the NICs' privateIPAddress ("": 127.0.0.1) */
	char node_tag[128];	/* the slurm-node tag VMs are shown with ("": theirs) */
	bool identity_missing;	/* VMs are made without their identities */
	bool compute_limits;	/* --compute-limits: 429 past a policy */
	int prices_status;	/* the Retail Prices API answers this (0: 200) */
} faults_t;

/*
 * Microsoft.Compute's throttling policies, as the header
 * x-ms-ratelimit-remaining-resource names them (see azure-emulator(8) for
 * where the names come from): a token bucket each, CAP requests a WINDOW
 * of seconds.  Requests come in groups of two policies, 2g and 2g + 1.
 */
static const struct {
	const char *name;
	double cap, window;
} cpol[] = {
	{ "PutVM3Min", 240, 180 }, { "PutVM30Min", 1200, 1800 },
	{ "DeleteVM3Min", 240, 180 }, { "DeleteVM30Min", 1200, 1800 },
	{ "LowCostGet3Min", 4000, 180 }, { "LowCostGet30Min", 32000, 1800 },
	{ "HighCostGet3Min", 160, 180 }, { "HighCostGet30Min", 800, 1800 },
	{ "GetVMScaleSet3Min", 200, 180 }, { "GetVMScaleSet30Min", 1300, 1800 },
	{ "CreateVMScaleSet3Min", 60, 180 },
	{ "CreateVMScaleSet30Min", 300, 1800 },
	{ "DeleteVMScaleSet3Min", 60, 180 },
	{ "DeleteVMScaleSet30Min", 300, 1800 },
	{ "VMScaleSetActions3Min", 120, 180 },
	{ "VMScaleSetActions30Min", 600, 1800 },
};
#define NCPOL (sizeof(cpol) / sizeof(cpol[0]))
enum { CP_PUT_VM, CP_DELETE_VM, CP_GET, CP_LIST, CP_GET_VMSS, CP_PUT_VMSS,
       CP_DELETE_VMSS, CP_VMSS_ACTIONS };

static struct {
	pthread_mutex_t lock;
	vm_t *vms[NBUCKETS];
	op_t *ops[NBUCKETS];
	size_t nvms;
	vmss_t *sets;		/* oldest first: a stable order for paging */
	size_t nsets;
	unsigned long vm_seq;	/* the newest VM's seq */
	struct {
		double tokens, at;
	} cp[NCPOL];		/* Compute's policies' buckets */
	faults_t f;
	double tokens;		/* write bucket */
	double tokens_at;
	unsigned seed;
	token_t *issued;	/* bearer tokens handed out, oldest first */
	size_t nissued, capissued;
	char *client_secret;	/* NULL: any non-empty secret */
	char *boot_command;
	char *boot_log;
	char *node_init;	/* --node-init: boot in a sandbox */
	char *console_dir;	/* the VMs' serial logs */
	char self_exe[4096];	/* this binary: the sandbox's init */
	char unshare[64];	/* util-linux unshare(1) */
	char *idents[IDENTS_MAX];	/* lower-case identity ids tokens name */
	size_t nidents;
	secret_t *secrets;
	size_t nsecrets;
	char *readers[READERS_MAX];	/* --vault-reader ids, lower case */
	size_t nreaders;
	char *state_path;
	FILE *journal;
	char listen_host[64];
	int port;
	struct in_addr listen_addr;
	uid_t allowed[16];	/* besides root and our own user: --allow-user */
	size_t nallowed;
	/* counters */
	unsigned long requests, writes, throttled, errors_injected, creates,
		creates_refused, deletes, compute_throttled;
	unsigned long writes_vm, writes_vmss, writes_other;	/* by type */
} S = { .lock = PTHREAD_MUTEX_INITIALIZER };

static volatile sig_atomic_t stop_flag;

static double _now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t _hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char) tolower((unsigned char) *s);
		h *= 16777619u;
	}
	return h;
}

static void _uuid(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		for (int i = 0; i < 16; i++)
			b[i] = rand_r(&S.seed);
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

static void _lower(char *s)
{
	for (; *s; s++)
		*s = tolower((unsigned char) *s);
}

/*
 * A resource name as Azure allows it for a Linux VM (and a NIC): 1 to 64
 * letters, digits, '-', '_' and '.', beginning with a letter or digit and
 * ending with a letter, digit or '_'.  Nothing a shell reads specially.
 */
static bool _name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]) ||
	    (!isalnum((unsigned char) s[n - 1]) && s[n - 1] != '_'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/*
 * A Slurm node name that is also a computerName: 1 to 64 letters, digits,
 * '-', '_' and '.', beginning with a letter or digit.
 */
static bool _node_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n < 1 || n > 64 || !isalnum((unsigned char) s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr("-_.", s[i]))
			return false;
	return true;
}

/* Whether every character of S (1 to MAX of them) is alphanumeric or in
 * EXTRA. */
static bool _chars_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char) s[i]) && !strchr(extra, s[i]))
			return false;
	return true;
}

/* Resource group names as Azure allows them (ASCII only): 1 to 90 letters,
 * digits, '_', '(', ')', '-', '.', not ending in '.'. */
static bool _rg_ok(const char *s)
{
	return _chars_ok(s, 90, "_()-.") && s[strlen(s) - 1] != '.';
}

/* Characters of a UTF-8 string (Azure's tag limits count characters). */
static size_t _utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		n += ((unsigned char) *s & 0xc0) != 0x80;
	return n;
}

/* A Linux computerName as this emulator takes it: 1 to 64 letters,
 * digits and '-' (it becomes the sandbox's hostname). */
static bool _computer_name_ok(const char *s)
{
	return _chars_ok(s, 64, "-");
}

/* Whether S (LEN characters) is base64 as Azure takes it: the alphabet
 * A-Z a-z 0-9 + /, a length a multiple of 4, '=' only as padding. */
static bool _base64_ok(const char *s, size_t len)
{
	size_t pad = 0;

	if (len % 4)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '=') {
			if (i + 2 < len || ++pad > 2)
				return false;
		} else if (pad || (!isalnum(c) && c != '+' && c != '/')) {
			return false;
		}
	}
	return true;
}

/* The base64 of N bytes of IN: a malloc'd string, or NULL. */
static char *_base64(const unsigned char *in, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789+/";
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = in[i] << 16 | (i + 1 < n ? in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

/*
 * A user-assigned identity's resource id as ARM takes it:
 * /subscriptions/S/resourceGroups/RG/providers/
 * Microsoft.ManagedIdentity/userAssignedIdentities/NAME (case aside), with
 * a valid subscription, resource group and a NAME of 3 to 128 letters,
 * digits, '-' and '_' beginning with a letter or digit.
 */
static bool _identity_id_ok(const char *id)
{
	char buf[512], *seg[10], *save = NULL;
	int n = 0;

	if (strlen(id) >= sizeof(buf) || id[0] != '/')
		return false;
	snprintf(buf, sizeof(buf), "%s", id);
	for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == 10)
			return false;
		seg[n++] = t;
	}
	return n == 8 && !strcasecmp(seg[0], "subscriptions") &&
	       _chars_ok(seg[1], 64, "-") &&
	       !strcasecmp(seg[2], "resourceGroups") &&
	       _chars_ok(seg[3], 90, "_()-.") && seg[3][strlen(seg[3]) - 1] != '.' &&
	       !strcasecmp(seg[4], "providers") &&
	       !strcasecmp(seg[5], "Microsoft.ManagedIdentity") &&
	       !strcasecmp(seg[6], "userAssignedIdentities") &&
	       strlen(seg[7]) >= 3 && isalnum((unsigned char) seg[7][0]) &&
	       _chars_ok(seg[7], 128, "-_");
}

/* A GUID derived from SALT and S (case aside): stable across restarts, as
 * an identity's clientId and principalId are.  OUT holds 37 bytes. */
static void _guid_of(const char *salt, const char *s, char *out)
{
	uint64_t h[2] = { 14695981039346656037ull, 1099511628211ull * 31 };
	unsigned char b[16];

	for (int k = 0; k < 2; k++) {
		for (const char *p = salt; *p; p++)
			h[k] = (h[k] ^ (unsigned char) *p) * 1099511628211ull;
		for (const char *p = s; *p; p++)
			h[k] = (h[k] ^ (unsigned char) tolower((unsigned char) *p)) *
			       1099511628211ull;
		for (int i = 0; i < 8; i++)
			b[k * 8 + i] = h[k] >> (i * 8);
	}
	b[6] = (b[6] & 0x0f) | 0x50;	/* name-based */
	b[8] = (b[8] & 0x3f) | 0x80;
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		"%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3], b[4], b[5],
		b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The tenant of every identity the emulator shows. */
#define EMU_TENANT "72f988bf-0000-4000-8000-00000000e0e0"

static vm_t *_vm_find(const char *key)
{
	for (vm_t *v = S.vms[_hash(key) % NBUCKETS]; v; v = v->next)
		if (!strcmp(v->key, key))
			return v;
	return NULL;
}

static void _vm_unlink(vm_t *vm)
{
	vm_t **p = &S.vms[_hash(vm->key) % NBUCKETS];

	for (; *p; p = &(*p)->next)
		if (*p == vm) {
			*p = vm->next;
			S.nvms--;
			return;
		}
}

static void _vm_free(vm_t *v)
{
	free(v->sub); free(v->rg); free(v->name); free(v->location);
	free(v->node); free(v->size); free(v->nic); free(v->computer);
	free(v->vmss);
	cJSON_Delete(v->resource);
	free(v);
}

static op_t *_op_find(const char *id)
{
	for (op_t *o = S.ops[_hash(id) % NBUCKETS]; o; o = o->next)
		if (!strcmp(o->id, id))
			return o;
	return NULL;
}

/* ---------------------------------------------------------------------- */
/* The journal: one JSON object a line, replayed at start, so that a
 * restarted emulator keeps its VMs, operations' outcomes and tokens. */

static void _journal(cJSON *rec)
{
	char *s;

	if (!S.journal) {
		cJSON_Delete(rec);
		return;
	}
	s = cJSON_PrintUnformatted(rec);
	cJSON_Delete(rec);
	if (s) {
		fprintf(S.journal, "%s\n", s);
		fflush(S.journal);
		cJSON_free(s);
	}
}

static cJSON *_vm_record(const vm_t *v)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", "vm");
	cJSON_AddStringToObject(o, "sub", v->sub);
	cJSON_AddStringToObject(o, "rg", v->rg);
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddStringToObject(o, "location", v->location);
	cJSON_AddStringToObject(o, "node", v->node ? v->node : "");
	cJSON_AddStringToObject(o, "size", v->size);
	cJSON_AddStringToObject(o, "nic", v->nic ? v->nic : "");
	cJSON_AddBoolToObject(o, "spot", v->spot);
	cJSON_AddStringToObject(o, "provisioning", v->provisioning);
	cJSON_AddStringToObject(o, "power", v->power);
	cJSON_AddNumberToObject(o, "pgid", v->pgid);
	cJSON_AddItemToObject(o, "resource", cJSON_Duplicate(v->resource, 1));
	if (v->vmss)
		cJSON_AddStringToObject(o, "vmss", v->vmss);
	cJSON_AddNumberToObject(o, "seq", v->seq);
	return o;
}

static void _journal_vm(const vm_t *v)
{
	if (S.journal)
		_journal(_vm_record(v));
}

static void _journal_gone(const vm_t *v)
{
	cJSON *o;

	if (!S.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "gone");
	cJSON_AddStringToObject(o, "key", v->key);
	_journal(o);
}

static void _journal_op(const op_t *op)
{
	cJSON *o;

	if (!S.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "operation");
	cJSON_AddStringToObject(o, "id", op->id);
	cJSON_AddNumberToObject(o, "kind", op->kind);
	cJSON_AddStringToObject(o, "vmkey", op->vmkey);
	cJSON_AddNumberToObject(o, "start", op->start);
	cJSON_AddNumberToObject(o, "done_at", op->done_at);
	cJSON_AddBoolToObject(o, "finished", op->finished);
	if (op->err_code) {
		cJSON_AddStringToObject(o, "code", op->err_code);
		cJSON_AddStringToObject(o, "message", op->err_msg);
	}
	_journal(o);
}

static void _journal_token(const token_t *t)
{
	cJSON *o;

	if (!S.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "token");
	cJSON_AddStringToObject(o, "token", t->tok);
	cJSON_AddNumberToObject(o, "at", t->at);
	cJSON_AddStringToObject(o, "aud", t->aud);
	if (t->ident >= 0)
		cJSON_AddStringToObject(o, "identity", S.idents[t->ident]);
	_journal(o);
}

/* Lower-case "SUB/RG/NAME" in OUT (400 bytes). */
static void _key_of(char *out, const char *sub, const char *rg, const char *name)
{
	snprintf(out, 400, "%s/%s/%s", sub, rg, name);
	_lower(out);
}

static vmss_t *_vmss_find(const char *key)
{
	for (vmss_t *s = S.sets; s; s = s->next)
		if (!strcmp(s->key, key))
			return s;
	return NULL;
}

/* The set VM V belongs to, or NULL. */
static vmss_t *_vmss_of(const vm_t *v)
{
	char key[400];

	if (!v->vmss)
		return NULL;
	_key_of(key, v->sub, v->rg, v->vmss);
	return _vmss_find(key);
}

static void _vmss_free(vmss_t *s)
{
	if (!s)
		return;
	free(s->sub); free(s->rg); free(s->name);
	cJSON_Delete(s->spec);
	cJSON_Delete(s->identity);
	free(s);
}

/* Add S last (the list's order is the order of creation). */
static void _vmss_insert(vmss_t *s)
{
	vmss_t **p = &S.sets;

	while (*p)
		p = &(*p)->next;
	s->next = NULL;
	*p = s;
	S.nsets++;
}

static void _vmss_unlink(vmss_t *s)
{
	for (vmss_t **p = &S.sets; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			S.nsets--;
			return;
		}
}

/* Whether V is a member of SET that counts in its capacity. */
static bool _vmss_member(const vmss_t *set, const vm_t *v)
{
	return v->vmss && !strcasecmp(v->vmss, set->name) &&
	       !strcasecmp(v->sub, set->sub) && !strcasecmp(v->rg, set->rg);
}

/* The set's VMs, those being deleted aside: its sku.capacity. */
static int _vmss_count(const vmss_t *set)
{
	int n = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next)
			n += _vmss_member(set, v) &&
			     strcmp(v->provisioning, "Deleting");
	return n;
}

static void _journal_vmss(const vmss_t *set)
{
	cJSON *o;

	if (!S.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "vmss");
	cJSON_AddStringToObject(o, "sub", set->sub);
	cJSON_AddStringToObject(o, "rg", set->rg);
	cJSON_AddStringToObject(o, "name", set->name);
	cJSON_AddItemToObject(o, "spec", cJSON_Duplicate(set->spec, 1));
	if (set->identity)
		cJSON_AddItemToObject(o, "identity",
				      cJSON_Duplicate(set->identity, 1));
	cJSON_AddStringToObject(o, "uniqueId", set->unique_id);
	cJSON_AddStringToObject(o, "timeCreated", set->created);
	cJSON_AddNumberToObject(o, "etag", set->etag);
	cJSON_AddStringToObject(o, "provisioning", set->provisioning);
	_journal(o);
}

static void _journal_vmss_gone(const vmss_t *set)
{
	cJSON *o;

	if (!S.journal)
		return;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "op", "vmss-gone");
	cJSON_AddStringToObject(o, "key", set->key);
	_journal(o);
}

/* SET changed (a write, or its VM count): a new etag, journaled. */
static void _vmss_touch(vmss_t *set)
{
	if (!set)
		return;
	set->etag++;
	_journal_vmss(set);
}

static const char *_jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double _jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static bool _token_expired(const token_t *t, double now)
{
	return t->at + TOKEN_LIFETIME + TOKEN_GRACE < now;
}

/* The index of identity ID (lower-cased) in S.idents, added if new; -1
 * for "" or when IDENTS_MAX are known or out of memory. */
static int _intern(const char *id)
{
	char *l;

	if (!id || !*id)
		return -1;
	for (size_t i = 0; i < S.nidents; i++)
		if (!strcasecmp(S.idents[i], id))
			return (int) i;
	if (S.nidents == IDENTS_MAX || !(l = strdup(id)))
		return -1;
	_lower(l);
	S.idents[S.nidents] = l;
	return (int) S.nidents++;
}

/* Keep TOK, issued at AT for audience AUD and identity IDENT (-1: none);
 * forget tokens expired for TOKEN_FORGET, and the oldest when TOKENS_MAX
 * are kept.  Returns the kept token, or NULL (out of memory). */
static token_t *_add_token(const char *tok, double at, const char *aud,
			   int ident)
{
	double now = _now();
	size_t j = 0;

	for (size_t i = 0; i < S.nissued; i++)
		if (!_token_expired(&S.issued[i], now - TOKEN_FORGET))
			S.issued[j++] = S.issued[i];
	S.nissued = j;
	if (S.nissued == TOKENS_MAX) {
		memmove(S.issued, S.issued + 1, --S.nissued * sizeof(*S.issued));
	} else if (S.nissued == S.capissued) {
		size_t cap = S.capissued ? S.capissued * 2 : 64;
		token_t *t = realloc(S.issued, cap * sizeof(*t));

		if (!t)
			return NULL;
		S.issued = t;
		S.capissued = cap;
	}
	snprintf(S.issued[S.nissued].tok, sizeof(S.issued[0].tok), "%s", tok);
	S.issued[S.nissued].at = at;
	snprintf(S.issued[S.nissued].aud, sizeof(S.issued[0].aud), "%s",
		 aud ? aud : "");
	S.issued[S.nissued].ident = ident;
	return &S.issued[S.nissued++];
}

static vm_t *_vm_new(const char *sub, const char *rg, const char *name)
{
	vm_t *v = calloc(1, sizeof(*v));

	snprintf(v->key, sizeof(v->key), "%s/%s/%s", sub, rg, name);
	_lower(v->key);
	v->sub = strdup(sub);
	v->rg = strdup(rg);
	v->name = strdup(name);
	return v;
}

static void _vm_insert(vm_t *v)
{
	uint32_t b = _hash(v->key) % NBUCKETS;

	v->next = S.vms[b];
	S.vms[b] = v;
	S.nvms++;
}

static void _set_size(vm_t *v, const char *size)
{
	azml_size_info_t info;

	free(v->size);
	v->size = strdup(size);
	v->family = "standardUnknownFamily";
	v->vcpus = 1;
	if (!azml_catalog_resolve(size, &info)) {
		v->family = azml_series_quota_family(info.series);
		v->vcpus = info.vcpus;
	}
}

/* The VM's availability zone ("1"), or "" when it has none. */
static const char *_vm_zone(const vm_t *v)
{
	const cJSON *zones = cJSON_GetObjectItem(v->resource, "zones");

	return cJSON_IsArray(zones) && cJSON_IsString(zones->child) ?
	       zones->child->valuestring : "";
}

static void _replay(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;

	if (!fp)
		return;
	while (getline(&line, &cap, fp) > 0) {
		cJSON *o = cJSON_Parse(line);
		const char *what = _jstr(o, "op");

		if (!strcmp(what, "vm")) {
			vm_t *v = _vm_new(_jstr(o, "sub"), _jstr(o, "rg"),
					  _jstr(o, "name"));
			vm_t *old = _vm_find(v->key);

			if (old) {
				_vm_unlink(old);
				_vm_free(old);
			}
			v->location = strdup(_jstr(o, "location"));
			/* names reach the boot command: only valid ones */
			v->node = _node_name_ok(_jstr(o, "node")) ?
				  strdup(_jstr(o, "node")) : NULL;
			v->nic = _name_ok(_jstr(o, "nic")) ?
				 strdup(_jstr(o, "nic")) : NULL;
			_set_size(v, _jstr(o, "size"));
			v->spot = cJSON_IsTrue(cJSON_GetObjectItem(o, "spot"));
			snprintf(v->provisioning, sizeof(v->provisioning), "%s",
				 _jstr(o, "provisioning"));
			snprintf(v->power, sizeof(v->power), "%s", _jstr(o, "power"));
			v->pgid = (pid_t) _jnum(o, "pgid");
			v->resource = cJSON_DetachItemFromObject(o, "resource");
			{
				/* the hostname comes from the journaled
				 * resource: valid ones only */
				const char *cn = _jstr(cJSON_GetObjectItem(
					cJSON_GetObjectItem(v->resource,
						"properties"), "osProfile"),
					"computerName");

				if (!*cn)
					cn = v->name;
				v->computer = _computer_name_ok(cn) ?
					      strdup(cn) : NULL;
			}
			/* a set's name makes VM and NIC names: valid
			 * ones only */
			if (*_jstr(o, "vmss") && _name_ok(_jstr(o, "vmss")) &&
			    strlen(_jstr(o, "vmss")) <= VMSS_NAME_MAX)
				v->vmss = strdup(_jstr(o, "vmss"));
			v->seq = (unsigned long) _jnum(o, "seq");
			if (v->seq > S.vm_seq)
				S.vm_seq = v->seq;
			v->incarnation = 1;
			_vm_insert(v);
		} else if (!strcmp(what, "vmss")) {
			char key[400];
			vmss_t *set;
			cJSON *spec = cJSON_GetObjectItem(o, "spec");

			/* names make ids, keys and VM names: valid ones */
			if (!_name_ok(_jstr(o, "name")) ||
			    strlen(_jstr(o, "name")) > VMSS_NAME_MAX ||
			    !_chars_ok(_jstr(o, "sub"), 64, "-") ||
			    !_rg_ok(_jstr(o, "rg")) || !cJSON_IsObject(spec)) {
				cJSON_Delete(o);
				continue;
			}
			_key_of(key, _jstr(o, "sub"), _jstr(o, "rg"),
				_jstr(o, "name"));
			if (!(set = _vmss_find(key))) {
				if (S.nsets == VMSS_MAX ||
				    !(set = calloc(1, sizeof(*set)))) {
					cJSON_Delete(o);
					continue;
				}
				snprintf(set->key, sizeof(set->key), "%s", key);
				set->sub = strdup(_jstr(o, "sub"));
				set->rg = strdup(_jstr(o, "rg"));
				set->name = strdup(_jstr(o, "name"));
				_vmss_insert(set);
			}
			cJSON_Delete(set->spec);
			cJSON_Delete(set->identity);
			set->spec = cJSON_DetachItemFromObject(o, "spec");
			set->identity = cJSON_DetachItemFromObject(o, "identity");
			if (set->identity && !cJSON_IsObject(set->identity)) {
				cJSON_Delete(set->identity);
				set->identity = NULL;
			}
			snprintf(set->unique_id, sizeof(set->unique_id), "%s",
				 _jstr(o, "uniqueId"));
			snprintf(set->created, sizeof(set->created), "%s",
				 _jstr(o, "timeCreated"));
			set->etag = (unsigned long) _jnum(o, "etag");
			snprintf(set->provisioning, sizeof(set->provisioning),
				 "%s", _jstr(o, "provisioning"));
		} else if (!strcmp(what, "vmss-gone")) {
			vmss_t *set = _vmss_find(_jstr(o, "key"));

			if (set) {
				_vmss_unlink(set);
				_vmss_free(set);
			}
		} else if (!strcmp(what, "gone")) {
			vm_t *v = _vm_find(_jstr(o, "key"));

			if (v) {
				_vm_unlink(v);
				_vm_free(v);
			}
		} else if (!strcmp(what, "operation")) {
			op_t *op = _op_find(_jstr(o, "id"));

			if (!op) {
				op = calloc(1, sizeof(*op));
				snprintf(op->id, sizeof(op->id), "%s", _jstr(o, "id"));
				op->next = S.ops[_hash(op->id) % NBUCKETS];
				S.ops[_hash(op->id) % NBUCKETS] = op;
			}
			op->kind = (op_kind_t) _jnum(o, "kind");
			snprintf(op->vmkey, sizeof(op->vmkey), "%s", _jstr(o, "vmkey"));
			op->start = _jnum(o, "start");
			op->done_at = _jnum(o, "done_at");
			op->finished = cJSON_IsTrue(cJSON_GetObjectItem(o, "finished"));
			if (*_jstr(o, "code")) {
				free(op->err_code);
				free(op->err_msg);
				op->err_code = strdup(_jstr(o, "code"));
				op->err_msg = strdup(_jstr(o, "message"));
			}
		} else if (!strcmp(what, "token")) {
			const cJSON *at = cJSON_GetObjectItem(o, "at");

			/* lines of old journals have no aud nor identity */
			_add_token(_jstr(o, "token"), cJSON_IsNumber(at) ?
				   at->valuedouble : _now(), _jstr(o, "aud"),
				   _intern(_jstr(o, "identity")));
		}
		cJSON_Delete(o);
	}
	free(line);
	fclose(fp);
}

/* Rewrite the journal with the live state only. */
static void _compact(const char *path)
{
	char tmp[4096];
	FILE *fp = NULL;
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* it holds bearer tokens: for our eyes only */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0 && fchmod(fd, 0600) == 0)
		fp = fdopen(fd, "w");
	if (!fp) {
		fprintf(stderr, "azure-emulator: cannot write %s: %s\n", tmp,
			strerror(errno));
		exit(1);
	}
	S.journal = fp;
	for (vmss_t *set = S.sets; set; set = set->next)
		_journal_vmss(set);
	for (size_t b = 0; b < NBUCKETS; b++) {
		for (vm_t *v = S.vms[b]; v; v = v->next)
			_journal_vm(v);
		for (op_t *o = S.ops[b]; o; o = o->next)
			_journal_op(o);
	}
	for (size_t i = 0; i < S.nissued; i++)
		_journal_token(&S.issued[i]);
	fclose(fp);
	if (rename(tmp, path)) {
		fprintf(stderr, "azure-emulator: cannot rename %s: %s\n", tmp,
			strerror(errno));
		exit(1);
	}
	S.journal = fopen(path, "ae");
}

/* ---------------------------------------------------------------------- */
/* VMs that boot: the boot command in a process group of its own. */

/*
 * The boot command with its placeholders turned into quoted positional
 * parameters ({vm} -> "$1", {node} -> "$2", {ip} -> "$3"): what a request
 * chose reaches sh as an argument, never as shell text.  Returns a malloc'd
 * string, or NULL when out of memory.
 */
static char *_boot_script(const char *t)
{
	static const struct {
		const char *ph, *param;
	} subst[] = { { "{vm}", "\"$1\"" }, { "{node}", "\"$2\"" },
		      { "{ip}", "\"$3\"" } };
	size_t cap = strlen(t) + 1, n = 0;
	char *cmd;

	/* each placeholder is at least as long as its replacement */
	if (!(cmd = malloc(cap)))
		return NULL;
	while (*t) {
		size_t i;

		for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++)
			if (!strncmp(t, subst[i].ph, strlen(subst[i].ph)))
				break;
		if (i < sizeof(subst) / sizeof(subst[0])) {
			memcpy(cmd + n, subst[i].param, strlen(subst[i].param));
			n += strlen(subst[i].param);
			t += strlen(subst[i].ph);
		} else {
			cmd[n++] = *t++;
		}
	}
	cmd[n] = '\0';
	return cmd;
}

/* The serial log of VM V under --console-dir: OUT (N bytes) gets
 * DIR/name.log, the validated name in lower case.  Returns 0, or -1 when
 * there is none (no --node-init, a name that is not one). */
static int _console_path(const vm_t *v, char *out, size_t n)
{
	if (!S.node_init || !S.console_dir || !_name_ok(v->name) ||
	    (size_t) snprintf(out, n, "%s/%s.log", S.console_dir, v->name) >= n)
		return -1;
	_lower(out + strlen(S.console_dir) + 1);
	return 0;
}

/* The boot command's environment: the emulator's own for --boot-command;
 * for --node-init, a clean one that names the VM's IMDS (see
 * azure-emulator(8)).  BUF holds the strings. */
static char **_boot_env(const vm_t *v, char buf[3][512], char **envp)
{
	if (!S.node_init)
		return environ;
	snprintf(buf[0], 512, "AZURE_EMULATOR_IMDS=http://%s:%d", S.listen_host,
		 S.port);
	snprintf(buf[1], 512, "AZURE_EMULATOR_VM=%s", v->name);
	envp[0] = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		  "/sbin:/bin";
	envp[1] = "HOME=/root";
	envp[2] = buf[0];
	envp[3] = buf[1];
	envp[4] = NULL;
	return envp;
}

/*
 * Boot VM V: run the boot command in a process group of its own, or, with
 * --node-init, unshare(1) with new UTS, mount, PID and time namespaces
 * running this binary's --sandbox-init (a reaping init, PID 1 of the
 * namespace) that runs the command.  The time namespace's boot time is
 * now, as a fresh VM's is (Slurm checks it for CLOUD nodes).
 */
static void _boot(vm_t *v)
{
	const char *tmpl = S.node_init ? S.node_init : S.boot_command;
	char *cmd, console[4096], boottime[64], envbuf[3][512], *envp[5];
	/* a set's VMs have no slurm-node tag: {node} is "" */
	const char *node = v->vmss ? "" : v->node ? v->node : v->name;
	pid_t pid;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_t fa;
	double up = 0;
	FILE *fp;
	int rc;

	if (!tmpl || v->pgid > 0)
		return;
	if (S.node_init && (!v->computer || _console_path(v, console,
							  sizeof(console))))
		return;		/* a journal's VM whose names are not valid */
	if (!(cmd = _boot_script(tmpl)))
		return;
	if ((fp = fopen("/proc/uptime", "re"))) {
		if (fscanf(fp, "%lf", &up) != 1)
			up = 0;
		fclose(fp);
	}
	snprintf(boottime, sizeof(boottime), "--boottime=-%ld", (long) up);
	/* posix_spawn, not fork: forking this many-threaded process copies
	 * its page tables, which under the lock stalls every request while a
	 * thousand VMs boot. */
	posix_spawnattr_init(&attr);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
	posix_spawn_file_actions_init(&fa);
	/* the VM's console: not the emulator's own streams; a link planted
	 * in its place is refused */
	posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO,
		S.node_init ? console : S.boot_log ? S.boot_log : "/dev/null",
		O_WRONLY | O_APPEND | O_CREAT | (S.node_init ? O_NOFOLLOW : 0),
		0600);
	posix_spawn_file_actions_adddup2(&fa, STDOUT_FILENO, STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null",
					 O_RDONLY, 0);
	if (S.node_init)
		rc = posix_spawn(&pid, S.unshare, &fa, &attr, (char *const[]) {
			"unshare", "--uts", "--mount", "--propagation", "unchanged",
			"--pid", "--fork", "--kill-child", "--mount-proc", "--time",
			boottime, S.self_exe, "--sandbox-init", v->computer, "--",
			"/bin/sh", "-c", cmd, "sh", v->name, (char *) node,
			"127.0.0.1", NULL }, _boot_env(v, envbuf, envp));
	else
		rc = posix_spawn(&pid, "/bin/sh", &fa, &attr,
			(char *const[]) { "sh", "-c", cmd, "sh", v->name,
					  (char *) node, "127.0.0.1", NULL },
			environ);
	if (rc == 0)
		v->pgid = pid;
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	free(cmd);
}

/*
 * Boot V once its create or start has finished.  A --node-init sandbox's
 * boot time must not look older than the power-up request, which came
 * before NOW, or slurmctld keeps waiting for a boot ("Still waiting for boot
 * of node") until ResumeTimeout.  slurmd reports whole seconds: boot time =
 * time(NULL) - sysinfo()'s uptime, which the kernel rounds up, so it can be
 * up to 2 s before the real boot; and the time namespace's offset is whole
 * seconds too, so the sandbox's uptime starts at the fraction of the host's.
 * So the sandbox starts when the host's uptime is 0.02 s past a whole
 * second (its uptime starts at 0.02 s), at least 2 s after the last whole
 * second of NOW: a boot delay of 2-3 s, as a VM has one.  A boot command
 * waits of its own accord (the tests' "sleep 2").
 */
static void _boot_soon(vm_t *v, double now)
{
	double up = 0, k;
	FILE *fp;

	if (!S.node_init) {
		_boot(v);
		return;
	}
	if ((fp = fopen("/proc/uptime", "re"))) {
		if (fscanf(fp, "%lf", &up) != 1)
			up = 0;
		fclose(fp);
	}
	k = ceil(2 - (now - floor(now)) + (up - floor(up)));
	v->boot_at = now + k - (up - floor(up)) + 0.02;
}

/* The host pid of a sandbox's init: the one child of unshare (PGID). */
static pid_t _sandbox_pid1(pid_t pgid)
{
	char path[64];
	long pid = 0;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int) pgid,
		 (int) pgid);
	if (!(fp = fopen(path, "re")))
		return 0;
	if (fscanf(fp, "%ld", &pid) != 1)
		pid = 0;
	fclose(fp);
	return (pid_t) pid;
}

/* Freeze (ON) or thaw VM V's processes: a sandbox's init stops or
 * continues every process of its namespace (daemons that left the process
 * group included); a boot command's process group is stopped. */
static void _freeze(vm_t *v, bool on)
{
	pid_t p1;

	if (v->pgid <= 0)
		return;
	if (S.node_init && (p1 = _sandbox_pid1(v->pgid)) > 0)
		kill(p1, on ? SIGUSR1 : SIGUSR2);
	else
		kill(-v->pgid, on ? SIGSTOP : SIGCONT);
}

/* Process groups to SIGKILL once their time comes (under lock). */
static struct {
	pid_t pg;
	double at;
} *kills;
static size_t nkills, capkills;

static void _halt(vm_t *v)
{
	if (v->pgid > 0) {
		kill(-v->pgid, SIGTERM);
		kill(-v->pgid, SIGCONT);	/* a frozen one too */
		/* whatever ignores SIGTERM is gone a second later */
		if (nkills == capkills) {
			size_t cap = capkills ? capkills * 2 : 16;
			void *nk = realloc(kills, cap * sizeof(*kills));

			if (nk) {
				kills = nk;
				capkills = cap;
			}
		}
		if (nkills < capkills) {
			kills[nkills].pg = v->pgid;
			kills[nkills++].at = _now() + 1;
		}
	}
	v->pgid = 0;
}

static void _reap_kills(double now)
{
	size_t j = 0;

	for (size_t i = 0; i < nkills; i++) {
		if (kills[i].at <= now)
			kill(-kills[i].pg, SIGKILL);
		else
			kills[j++] = kills[i];
	}
	nkills = j;
}

static void _set_instance_state(vm_t *v, const char *prov, const char *power)
{
	cJSON *props = cJSON_GetObjectItem(v->resource, "properties");

	snprintf(v->provisioning, sizeof(v->provisioning), "%s", prov);
	snprintf(v->power, sizeof(v->power), "%s", power);
	if (props)
		cJSON_ReplaceItemInObject(props, "provisioningState",
					  cJSON_CreateString(prov));
}

/* Halt VM V, forget it and its serial log, and free it.  A set it
 * counted in has one VM less: a new etag. */
static void _vm_destroy(vm_t *v)
{
	char console[4096];
	vmss_t *set = strcmp(v->provisioning, "Deleting") ? _vmss_of(v) : NULL;

	_halt(v);
	if (!_console_path(v, console, sizeof(console)))
		unlink(console);
	_vm_unlink(v);
	_journal_gone(v);
	_vm_free(v);
	_vmss_touch(set);
}

/* Whether an operation of KIND on the set KEY is under way but OP. */
static bool _vmss_busy(const char *key, const op_t *op, op_kind_t kind)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (const op_t *o = S.ops[b]; o; o = o->next)
			if (o != op && o->kind == kind && !o->finished &&
			    !strcmp(o->vmkey, key))
				return true;
	return false;
}

/* A set's operation OP has finished: the set is Succeeded or Failed (an
 * update), or gone (a delete).  Its VMs' own operations finish with it. */
static void _vmss_op_done(op_t *op)
{
	vmss_t *set = _vmss_find(op->vmkey);

	if (!set)
		return;
	if (op->kind == OP_VMSS_DELETE) {
		_vmss_unlink(set);
		_journal_vmss_gone(set);
		_vmss_free(set);
		return;
	}
	if (!strcmp(set->provisioning, "Deleting") ||
	    _vmss_busy(set->key, op, OP_VMSS))
		return;		/* the last one says */
	snprintf(set->provisioning, sizeof(set->provisioning), "%s",
		 op->err_code ? "Failed" : "Succeeded");
	_journal_vmss(set);
}

/* VM V's Scheduled Event is over: it leaves the document. */
static void _event_clear(vm_t *v)
{
	v->ev = EV_NONE;
	v->event_started = false;
	v->incarnation++;
}

/*
 * Start VM V's Scheduled Event when NotBefore has come (or a StartRequests
 * brought it forward), and end it when its effect is over: Freeze stops
 * the VM's processes for DurationInSeconds; Reboot and Redeploy halt it
 * and boot it again a moment later; Preempt (Spot eviction policy Delete)
 * and Terminate delete it.  Under lock; V may be freed.
 */
static void _tick_events(vm_t *v, double now)
{
	if (v->ev != EV_NONE && !v->event_started && v->ev_at <= now) {
		v->event_started = true;
		v->incarnation++;
		switch (v->ev) {
		case EV_FREEZE:
			_freeze(v, true);
			v->thaw_at = now + (v->ev_duration > 0 ? v->ev_duration : 0);
			break;
		case EV_REBOOT:
		case EV_REDEPLOY:
			_halt(v);
			/* after the old one's SIGKILL: its ports are free */
			v->boot_at = now + 1.5;
			_journal_vm(v);
			break;
		case EV_PREEMPT:
		case EV_TERMINATE:
			_vm_destroy(v);
			return;
		default:
			break;
		}
	}
	if (v->thaw_at > 0 && v->thaw_at <= now) {
		v->thaw_at = 0;
		_freeze(v, false);
		_event_clear(v);
	}
	if (v->boot_at > 0 && v->boot_at <= now) {
		v->boot_at = 0;
		if (!strcmp(v->power, "running"))
			_boot(v);
		_journal_vm(v);
		_event_clear(v);
	}
}

/* Drive operations and evictions whose time has come.  Under lock. */
static void _tick(void)
{
	double now = _now();

	_reap_kills(now);
	for (size_t b = 0; b < NBUCKETS; b++) {
		/* finished operations are answered for OP_KEEP, then forgotten */
		for (op_t **p = &S.ops[b], *op; (op = *p);) {
			if (op->finished && op->done_at + OP_KEEP < now) {
				*p = op->next;
				free(op->err_code);
				free(op->err_msg);
				free(op);
			} else {
				p = &op->next;
			}
		}
		for (op_t *op = S.ops[b]; op; op = op->next) {
			vm_t *v;

			if (op->finished || op->done_at > now)
				continue;
			op->finished = true;
			if (op->kind == OP_VMSS || op->kind == OP_VMSS_DELETE) {
				_vmss_op_done(op);
				_journal_op(op);
				continue;
			}
			v = _vm_find(op->vmkey);
			if (!v) {
				_journal_op(op);
				continue;
			}
			switch (op->kind) {
			case OP_CREATE:
				if (op->err_code) {
					_set_instance_state(v, "Failed", "stopped");
				} else {
					_set_instance_state(v, "Succeeded", "running");
					_boot_soon(v, now);
				}
				_journal_vm(v);
				break;
			case OP_START:
				_set_instance_state(v, "Succeeded", "running");
				_boot_soon(v, now);
				_journal_vm(v);
				break;
			case OP_DEALLOCATE:
				_halt(v);
				_set_instance_state(v, "Succeeded", "deallocated");
				_journal_vm(v);
				break;
			case OP_DELETE:
				_vm_destroy(v);
				break;
			default:
				break;
			}
			_journal_op(op);
		}
		for (vm_t *v = S.vms[b], *next; v; v = next) {
			next = v->next;
			_tick_events(v, now);
		}
	}
}

/* ---------------------------------------------------------------------- */
/* HTTP plumbing */

typedef struct {
	char *body;
	size_t len;
	bool too_big;
} upload_t;

typedef struct {
	int status;
	char *body;		/* owned */
	size_t len;		/* of body when it is not a string (0: strlen) */
	const char *ctype;	/* NULL: JSON */
	bool wipe;		/* the body holds a secret */
	const char *headers[8][2];
	char hbuf[8][512];
	int nheaders;
	bool trusted;		/* the peer passed _peer_trusted() */
} reply_t;

static void _header(reply_t *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void _header(reply_t *r, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (r->nheaders == 8)
		return;
	va_start(ap, fmt);
	vsnprintf(r->hbuf[r->nheaders], sizeof(r->hbuf[0]), fmt, ap);
	va_end(ap);
	r->headers[r->nheaders][0] = name;
	r->headers[r->nheaders][1] = r->hbuf[r->nheaders];
	r->nheaders++;
}

static void _json(reply_t *r, int status, cJSON *body)
{
	r->status = status;
	free(r->body);
	r->body = body ? cJSON_PrintUnformatted(body) : NULL;
	cJSON_Delete(body);
}

/* Azure's error shape: {"error":{"code":..., "message":...}} */
static void _error(reply_t *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void _error(reply_t *r, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	cJSON *o = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(o, "error");

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	_json(r, status, o);
}

static const char *_arg(struct MHD_Connection *c, const char *k)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, k);
}

typedef enum { TOKEN_OK, TOKEN_MISSING, TOKEN_UNKNOWN, TOKEN_EXPIRED } token_state_t;

/* The state of the request's bearer token; *T (when not NULL) is set to
 * the token (owned by S.issued) when it is known. */
static token_state_t _token_find(struct MHD_Connection *c, const token_t **t)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    "Authorization");

	if (!h)
		return TOKEN_MISSING;
	if (strncasecmp(h, "Bearer ", 7))
		return TOKEN_UNKNOWN;
	for (size_t i = 0; i < S.nissued; i++)
		if (!strcmp(S.issued[i].tok, h + 7)) {
			if (t)
				*t = &S.issued[i];
			return _token_expired(&S.issued[i], _now()) ?
			       TOKEN_EXPIRED : TOKEN_OK;
		}
	return TOKEN_UNKNOWN;
}

static token_state_t _token_state(struct MHD_Connection *c)
{
	return _token_find(c, NULL);
}

/* A new token for audience AUD and identity IDENT (-1: none), owned by
 * S.issued, or NULL when out of memory. */
static const char *_issue_token(const char *aud, int ident)
{
	char id[40], tok[64];
	token_t *t;

	_uuid(id);
	snprintf(tok, sizeof(tok), "emu.%s", id);
	if (!(t = _add_token(tok, _now(), aud, ident)))
		return NULL;
	_journal_token(t);
	return t->tok;
}

/*
 * Who is at the other end of loopback connection C: the owner of the
 * client's socket, read from /proc/net/tcp (the row whose local address is
 * the client's and whose remote address is ours, as identd does).
 * Returns 0 and fills *UID, or -1 when the socket is not found.
 */
static int _peer_uid(struct MHD_Connection *c, uid_t *uid)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr_in *sin;
	char line[512];
	FILE *fp;
	int rc = -1;

	if (!ci || !ci->client_addr || ci->client_addr->sa_family != AF_INET)
		return -1;
	sin = (const struct sockaddr_in *) ci->client_addr;
	if (!(fp = fopen("/proc/net/tcp", "r")))
		return -1;
	while (rc && fgets(line, sizeof(line), fp)) {
		unsigned int la, lp, ra, rp;
		unsigned long u;

		/* sl: local rem st tx:rx tr:when retrnsmt uid */
		if (sscanf(line, " %*u: %8X:%4X %8X:%4X %*X %*X:%*X %*X:%*X "
			   "%*X %lu", &la, &lp, &ra, &rp, &u) != 5)
			continue;
		if (la == sin->sin_addr.s_addr && lp == ntohs(sin->sin_port) &&
		    ra == S.listen_addr.s_addr && rp == (unsigned) S.port) {
			*uid = (uid_t) u;
			rc = 0;
		}
	}
	fclose(fp);
	return rc;
}

/*
 * Whether the peer may have what only this machine's owner may: tokens
 * from IMDS (the VM boundary, which loopback does not have), tokens from
 * the Entra endpoint when no --client-secret guards it, and the admin API.
 * Root, the emulator's own user and --allow-user users may.
 */
static bool _peer_trusted(struct MHD_Connection *c)
{
	uid_t uid;

	if (_peer_uid(c, &uid))
		return false;
	if (uid == 0 || uid == geteuid())
		return true;
	for (size_t i = 0; i < S.nallowed; i++)
		if (S.allowed[i] == uid)
			return true;
	return false;
}

/* Split PATH into segments (in place).  Returns the count. */
static int _segments(char *path, char **seg, int max)
{
	int n = 0;

	for (char *s = strtok(path, "/"); s && n < max; s = strtok(NULL, "/"))
		seg[n++] = s;
	return n;
}

#define TAGS_MAX 50
#define TAG_NAME_MAX 512
#define TAG_VALUE_MAX 256

/*
 * Check a resource's tags against Azure's limits (50 tags, names of at most
 * 512 characters without <>%&\?/ or control characters, string values of
 * at most 256 characters) and the slurm-node tag against node-name rules.
 * Returns true, or false with Azure's 400 answer in R.
 */
static bool _tags_ok(const cJSON *tags, reply_t *r)
{
	const cJSON *t;
	int n = 0;

	if (!tags)
		return true;
	if (!cJSON_IsObject(tags)) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: 'tags' must be "
		       "an object.");
		return false;
	}
	cJSON_ArrayForEach(t, tags)
		n++;
	if (n > TAGS_MAX) {
		_error(r, 400, "InvalidTags", "Too many tags specified. Requested "
		       "tag count - '%d'. Maximum number of tags allowed - "
		       "'%d'.", n, TAGS_MAX);
		return false;
	}
	cJSON_ArrayForEach(t, tags) {
		const char *k = t->string;

		if (!k || !*k) {
			_error(r, 400, "InvalidTagName", "The tag name must be "
			       "non-null, non-empty and non-whitespace only. "
			       "Please provide an actual value.");
			return false;
		}
		if (_utf8_len(k) > TAG_NAME_MAX) {
			_error(r, 400, "InvalidTagName", "Tag key too large. "
			       "Following tag name '%.64s...' exceeded the maximum "
			       "length. Maximum allowed length for tag name - "
			       "'%d' characters.", k, TAG_NAME_MAX);
			return false;
		}
		for (const char *c = k; *c; c++)
			if (strchr("<>%&\\?/", *c) || iscntrl((unsigned char) *c)) {
				_error(r, 400, "InvalidTagNameCharacters", "The tag "
				       "names '%.64s' have reserved characters "
				       "'<,>,%%,&,\\,?,/' or control characters.", k);
				return false;
			}
		if (!cJSON_IsString(t)) {
			_error(r, 400, "InvalidRequestContent", "The request "
			       "content was invalid and could not be "
			       "deserialized: the value of tag '%.64s' must be a "
			       "string.", k);
			return false;
		}
		if (_utf8_len(t->valuestring) > TAG_VALUE_MAX) {
			_error(r, 400, "InvalidTagValueLength", "Tag value too "
			       "large. Following tag value '%.64s...' exceeded the "
			       "maximum length. Maximum allowed length for tag "
			       "value - '%d' characters.", t->valuestring,
			       TAG_VALUE_MAX);
			return false;
		}
	}
	t = cJSON_GetObjectItemCaseSensitive(tags, "slurm-node");
	if (t && !_node_name_ok(t->valuestring)) {
		_error(r, 400, "InvalidParameter", "The value of tag 'slurm-node' "
		       "is not a valid node name: 1 to 64 letters, digits, '-', "
		       "'_' or '.', beginning with a letter or digit.");
		return false;
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* Tokens and IMDS */

static void _token_v2(struct MHD_Connection *c, const char *body, reply_t *r)
{
	/* form body: grant_type=client_credentials&client_id=..&client_secret=..&scope=.. */
	char *copy = strdup(body ? body : ""), *save = NULL;
	const char *grant = NULL, *id = NULL, *secret = NULL, *scope = NULL;
	const char *tok;
	char aud[128] = "";
	cJSON *o;

	for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq)
			continue;
		*eq = '\0';
		MHD_http_unescape(eq + 1);
		if (!strcmp(kv, "grant_type")) grant = eq + 1;
		else if (!strcmp(kv, "client_id")) id = eq + 1;
		else if (!strcmp(kv, "client_secret")) secret = eq + 1;
		else if (!strcmp(kv, "scope")) scope = eq + 1;
	}
	/* the token's audience: the scope without "/.default" */
	if (scope) {
		size_t n = strlen(scope);

		if (n > 9 && !strcmp(scope + n - 9, "/.default"))
			n -= 9;
		snprintf(aud, sizeof(aud), "%.*s", (int) n, scope);
	}
	if (!grant || strcmp(grant, "client_credentials") || !id || !scope) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "invalid_request");
		cJSON_AddStringToObject(o, "error_description", "AADSTS900144: "
			"The request body must contain grant_type=client_credentials, "
			"client_id and scope.");
		_json(r, 400, o);
	} else if (!secret || !*secret ||
		   (S.client_secret && strcmp(secret, S.client_secret)) ||
		   (!S.client_secret && !r->trusted)) {
		/* without --client-secret, nothing but the peer's user
		 * guards this endpoint */
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "error", "invalid_client");
		cJSON_AddStringToObject(o, "error_description", "AADSTS7000215: "
			"Invalid client secret provided.");
		_json(r, 401, o);
	} else if (!(tok = _issue_token(aud, -1))) {
		_error(r, 500, "InternalServerError", "out of memory");
	} else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token_type", "Bearer");
		cJSON_AddNumberToObject(o, "expires_in", TOKEN_LIFETIME);
		cJSON_AddNumberToObject(o, "ext_expires_in", TOKEN_LIFETIME);
		cJSON_AddStringToObject(o, "access_token", tok);
		_json(r, 200, o);
	}
	free(copy);
}

/* IMDS's error bodies: the identity endpoint answers OAuth's shape, the
 * other categories {"error": "..."}. */
static void _imds_error(reply_t *r, int status, bool identity,
			const char *code, const char *text)
{
	cJSON *o = cJSON_CreateObject();
	char msg[256];

	if (identity) {
		cJSON_AddStringToObject(o, "error", code);
		cJSON_AddStringToObject(o, "error_description", text);
	} else {
		snprintf(msg, sizeof(msg), "Bad request. %s", text);
		cJSON_AddStringToObject(o, "error", status == 400 ? msg : text);
	}
	_json(r, status, o);
}

/*
 * What IMDS demands of every request (Microsoft's "Security and
 * authentication"): the header Metadata: true, in lower case, and no
 * X-Forwarded-For; and what loopback demands in place of the VM boundary:
 * a peer of our own user or root.  Returns true, or false with the answer
 * in R.
 */
static bool _imds_request_ok(struct MHD_Connection *c, bool identity,
			     reply_t *r)
{
	const char *m = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Metadata");

	if (!m || strcmp(m, "true")) {
		_imds_error(r, 400, identity, "bad_request_102",
			    "Required metadata header not specified");
		return false;
	}
	if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Forwarded-For")) {
		_imds_error(r, 400, identity, "invalid_request",
			    "Requests with an X-Forwarded-For header are "
			    "rejected");
		return false;
	}
	if (!r->trusted) {
		if (identity)
			_imds_error(r, 401, true, "unauthorized_client",
				    "The client is not authorized to request an "
				    "access token using this method. (azure-"
				    "emulator: only root, its own user and "
				    "--allow-user users are inside its VMs)");
		else
			_imds_error(r, 403, false, "", "Forbidden. azure-emulator: "
				    "only root, its own user and --allow-user "
				    "users are inside its VMs");
		return false;
	}
	return true;
}

static vm_t *_vm_by_name(const char *name)
{
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next)
			if (!strcasecmp(v->name, name))
				return v;
	return NULL;
}

/*
 * The VM an IMDS request names with vm=NAME (the emulator's convention:
 * every emulated VM shares 127.0.0.1), or NULL with a 404 in R.
 */
static vm_t *_imds_vm(struct MHD_Connection *c, reply_t *r)
{
	const char *name = _arg(c, "vm");
	vm_t *v = name && _name_ok(name) ? _vm_by_name(name) : NULL;

	if (!v)
		_error(r, 404, "NotFound", "azure-emulator: name the VM with "
		       "?vm=NAME (no VM '%.64s')", name ? name : "");
	return v;
}

/*
 * A managed identity token.  Without vm=NAME, the host's own identity (as
 * before: no user-assigned identity).  With it, an identity of that VM:
 * the one msi_res_id (or mi_res_id), client_id or object_id names, else
 * its system-assigned one, else its only user-assigned one.
 *
 * What IMDS answers when the VM does not have the identity asked for, or
 * has none: 400 {"error":"invalid_request","error_description":"Identity
 * not found"}.  Microsoft's "How to use managed identities for Azure
 * resources on an Azure VM to acquire an access token" lists 4xx as
 * "one or more of the request parameters was incorrect" with
 * invalid_request in its error table, and the Azure SDKs' IMDS credentials
 * (azure-identity's ImdsCredential, Azure.Identity's
 * ImdsManagedIdentitySource) read a 400 as "the requested identity has not
 * been assigned to this resource" / "no identity has been assigned to this
 * resource".  Several user-assigned identities and none named: 400
 * invalid_request, as IMDS words it.
 */
static void _imds_token(struct MHD_Connection *c, reply_t *r)
{
	const char *resource = _arg(c, "resource"), *tok;
	const char *res_id = _arg(c, "msi_res_id"), *client = _arg(c, "client_id");
	const char *object = _arg(c, "object_id");
	const char *client_id = "00000000-0000-0000-0000-000000000000";
	char buf[40], cid[40];
	long now = (long) _now();
	int ident = -1;
	cJSON *o;

	if (!_imds_request_ok(c, true, r))
		return;
	if (!res_id)
		res_id = _arg(c, "mi_res_id");
	if (!_arg(c, "api-version") || !resource || !*resource) {
		_imds_error(r, 400, true, "invalid_request",
			    "Required query variable 'resource' is missing");
		return;
	}
	if (strlen(resource) >= sizeof(((token_t *) 0)->aud)) {
		_imds_error(r, 400, true, "invalid_resource", "AADSTS50001: The "
			    "resource is too long for azure-emulator.");
		return;
	}
	if (!!res_id + !!client + !!object > 1) {
		_imds_error(r, 400, true, "invalid_request", "Only one of "
			    "client_id, object_id and msi_res_id may be given.");
		return;
	}
	if (_arg(c, "vm")) {
		vm_t *v = _imds_vm(c, r);
		const cJSON *id, *ua, *it, *pick = NULL;
		int n = 0;

		if (!v)
			return;
		id = cJSON_GetObjectItem(v->resource, "identity");
		ua = cJSON_GetObjectItem(id, "userAssignedIdentities");
		cJSON_ArrayForEach(it, ua) {
			n++;
			if ((res_id && !strcasecmp(it->string, res_id)) ||
			    (client && !strcasecmp(_jstr(it, "clientId"), client)) ||
			    (object && !strcasecmp(_jstr(it, "principalId"), object)))
				pick = it;
		}
		if (!res_id && !client && !object) {
			if (*_jstr(id, "principalId"))
				pick = NULL;	/* the system-assigned one */
			else if (n == 1)
				pick = ua->child;
			else if (n > 1) {
				_imds_error(r, 400, true, "invalid_request",
					    "Multiple user assigned identities "
					    "exist, please specify the clientId / "
					    "resourceId of the identity in the "
					    "token request");
				return;
			}
		}
		if ((!pick && (res_id || client || object)) ||
		    (!pick && !*_jstr(id, "principalId"))) {
			_imds_error(r, 400, true, "invalid_request",
				    "Identity not found");
			return;
		}
		if (pick) {
			if ((ident = _intern(pick->string)) < 0) {
				_imds_error(r, 500, true, "unknown", "azure-"
					    "emulator: too many identities");
				return;
			}
			snprintf(cid, sizeof(cid), "%s", _jstr(pick, "clientId"));
		} else {
			_guid_of("system-client:", _jstr(v->resource, "id"), cid);
		}
		client_id = cid;
	}
	if (!(tok = _issue_token(resource, ident))) {
		_error(r, 500, "InternalServerError", "out of memory");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "access_token", tok);
	cJSON_AddStringToObject(o, "refresh_token", "");
	snprintf(buf, sizeof(buf), "%d", TOKEN_LIFETIME);
	cJSON_AddStringToObject(o, "expires_in", buf);
	snprintf(buf, sizeof(buf), "%ld", now + TOKEN_LIFETIME);
	cJSON_AddStringToObject(o, "expires_on", buf);
	snprintf(buf, sizeof(buf), "%ld", now);
	cJSON_AddStringToObject(o, "not_before", buf);
	cJSON_AddStringToObject(o, "resource", resource);
	cJSON_AddStringToObject(o, "token_type", "Bearer");
	cJSON_AddStringToObject(o, "client_id", client_id);
	_json(r, 200, o);
}

/* IMDS's answer to a request without api-version. */
static bool _imds_version_ok(struct MHD_Connection *c, reply_t *r)
{
	cJSON *o, *a;

	if (_arg(c, "api-version"))
		return true;
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "error", "Bad request. api-version was not "
				"specified in the request. For more information "
				"refer to aka.ms/azureimds");
	a = cJSON_AddArrayToObject(o, "newest-versions");
	cJSON_AddItemToArray(a, cJSON_CreateString("2021-02-01"));
	cJSON_AddItemToArray(a, cJSON_CreateString("2021-01-01"));
	cJSON_AddItemToArray(a, cJSON_CreateString("2020-12-01"));
	_json(r, 400, o);
	return false;
}

/* The compute category of IMDS's instance document (a documented subset). */
static cJSON *_imds_compute(const vm_t *v)
{
	const cJSON *props = cJSON_GetObjectItem(v->resource, "properties");
	const cJSON *tags = cJSON_GetObjectItem(v->resource, "tags"), *t;
	cJSON *o = cJSON_CreateObject(), *os, *tl;

	cJSON_AddStringToObject(o, "azEnvironment", "AzurePublicCloud");
	cJSON_AddStringToObject(o, "location", v->location ? v->location : "");
	cJSON_AddStringToObject(o, "name", v->name);
	cJSON_AddStringToObject(o, "osType", "Linux");
	os = cJSON_AddObjectToObject(o, "osProfile");
	cJSON_AddStringToObject(os, "adminUsername",
		_jstr(cJSON_GetObjectItem(props, "osProfile"), "adminUsername"));
	cJSON_AddStringToObject(os, "computerName",
				v->computer ? v->computer : v->name);
	cJSON_AddStringToObject(os, "disablePasswordAuthentication", "true");
	cJSON_AddStringToObject(o, "priority", *_jstr(props, "priority") ?
				_jstr(props, "priority") : "Regular");
	cJSON_AddStringToObject(o, "resourceGroupName", v->rg);
	cJSON_AddStringToObject(o, "resourceId", _jstr(v->resource, "id"));
	cJSON_AddStringToObject(o, "subscriptionId", v->sub);
	tl = cJSON_AddArrayToObject(o, "tagsList");
	cJSON_ArrayForEach(t, tags) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", t->string);
		cJSON_AddStringToObject(e, "value", cJSON_IsString(t) ?
					t->valuestring : "");
		cJSON_AddItemToArray(tl, e);
	}
	cJSON_AddStringToObject(o, "userData", _jstr(props, "userData"));
	cJSON_AddStringToObject(o, "vmId", _jstr(props, "vmId"));
	cJSON_AddStringToObject(o, "vmSize", v->size);
	if (v->vmss)
		cJSON_AddStringToObject(o, "vmScaleSetName", v->vmss);
	cJSON_AddStringToObject(o, "zone", _vm_zone(v));
	return o;
}

/*
 * GET /metadata/instance[/compute[/userData]]?vm=NAME: the instance
 * document, its compute category, or the VM's userData (base64, as
 * stored; text/plain).
 */
static void _imds_instance(struct MHD_Connection *c, const char *url,
			   reply_t *r)
{
	const char *fmt = _arg(c, "format");
	vm_t *v;

	if (!_imds_request_ok(c, false, r) || !_imds_version_ok(c, r) ||
	    !(v = _imds_vm(c, r)))
		return;
	if (!strcmp(url, "/metadata/instance/compute/userData")) {
		if (fmt && strcmp(fmt, "text")) {
			_imds_error(r, 400, false, "", "Bad request. Query "
				    "parameter format=json is not supported for "
				    "leaf nodes, use format=text");
			return;
		}
		r->status = 200;
		r->ctype = "text/plain; charset=utf-8";
		free(r->body);
		r->body = strdup(_jstr(cJSON_GetObjectItem(v->resource,
					"properties"), "userData"));
		return;
	}
	if (fmt && strcmp(fmt, "json")) {
		_imds_error(r, 400, false, "", "Bad request. Query parameter "
			    "format=text is only supported for leaf nodes");
		return;
	}
	if (!strcmp(url, "/metadata/instance/compute")) {
		_json(r, 200, _imds_compute(v));
	} else {
		cJSON *o = cJSON_CreateObject(), *net, *ifs, *i, *ip, *a;

		cJSON_AddItemToObject(o, "compute", _imds_compute(v));
		net = cJSON_AddObjectToObject(o, "network");
		ifs = cJSON_AddArrayToObject(net, "interface");
		i = cJSON_CreateObject();
		ip = cJSON_AddObjectToObject(i, "ipv4");
		a = cJSON_AddArrayToObject(ip, "ipAddress");
		cJSON_AddItemToArray(a, cJSON_CreateObject());
		cJSON_AddStringToObject(a->child, "privateIpAddress", "127.0.0.1");
		cJSON_AddStringToObject(a->child, "publicIpAddress", "");
		cJSON_AddStringToObject(i, "macAddress", "000D3A000000");
		cJSON_AddItemToArray(ifs, i);
		_json(r, 200, o);
	}
}

static const char *const ev_names[] = { "", "Freeze", "Reboot", "Redeploy",
					"Preempt", "Terminate" };

static void _scheduled_events(struct MHD_Connection *c, const char *method,
			      const char *body, reply_t *r)
{
	vm_t *v;
	cJSON *o, *events;

	if (!_imds_request_ok(c, false, r) || !(v = _imds_vm(c, r)))
		return;
	if (!strcmp(method, "POST")) {
		/* {"StartRequests":[{"EventId":...}]}: start the event now */
		cJSON *req = cJSON_Parse(body ? body : "");
		cJSON *sr = cJSON_GetObjectItem(req, "StartRequests"), *it;
		int n = 0;

		cJSON_ArrayForEach(it, sr) {
			if (++n > 100)
				break;
			if (v->ev != EV_NONE && !v->event_started &&
			    !strcmp(_jstr(it, "EventId"), v->event_id))
				v->ev_at = _now();	/* _tick starts it */
		}
		cJSON_Delete(req);
		r->status = 200;
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "DocumentIncarnation", v->incarnation);
	events = cJSON_AddArrayToObject(o, "Events");
	if (v->ev != EV_NONE) {
		static const char *const desc[] = { "",
			"Virtual machine is being paused because of a "
			"memory-preserving Live Migration operation.",
			"Virtual machine is going to be restarted as requested by "
			"authorized user.",
			"Virtual machine is being moved to another host.",
			"Spot virtual machine is being deleted.",
			"Virtual machine is being deleted." };
		cJSON *e = cJSON_CreateObject(), *res = cJSON_CreateArray();
		char when[64] = "";
		time_t t = (time_t) v->ev_at;
		struct tm tm;

		if (!v->event_started) {
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		}
		cJSON_AddStringToObject(e, "EventId", v->event_id);
		cJSON_AddStringToObject(e, "EventType", ev_names[v->ev]);
		cJSON_AddStringToObject(e, "ResourceType", "VirtualMachine");
		cJSON_AddItemToArray(res, cJSON_CreateString(v->name));
		cJSON_AddItemToObject(e, "Resources", res);
		cJSON_AddStringToObject(e, "EventStatus",
					v->event_started ? "Started" : "Scheduled");
		cJSON_AddStringToObject(e, "NotBefore", when);
		cJSON_AddStringToObject(e, "Description", desc[v->ev]);
		cJSON_AddStringToObject(e, "EventSource", v->ev == EV_REBOOT ||
					v->ev == EV_TERMINATE ? "User" : "Platform");
		cJSON_AddNumberToObject(e, "DurationInSeconds", v->ev_duration);
		cJSON_AddItemToArray(events, e);
	}
	_json(r, 200, o);
}

/* ---------------------------------------------------------------------- */
/* Key Vault: GET /keyvault/{vault}/secrets/{name}[/{version}] */

#define VAULT_AUDIENCE "https://vault.azure.net"

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
	_json(r, status, o);
}

/* 401 as Key Vault answers it, with its challenge. */
static void _kv_unauthorized(reply_t *r, const char *msg)
{
	_kv_error(r, 401, "Unauthorized", NULL, msg);
	_header(r, "WWW-Authenticate", "Bearer authorization=\"http://%s:%d/"
		"%s\", resource=\"" VAULT_AUDIENCE "\"", S.listen_host, S.port,
		EMU_TENANT);
}

/* Whether identity IDENT (an index in S.idents) may read secrets: any
 * user-assigned identity, or only the --vault-reader ones. */
static bool _kv_reader(int ident)
{
	if (ident < 0)
		return false;
	if (!S.nreaders)
		return true;
	for (size_t i = 0; i < S.nreaders; i++)
		if (!strcmp(S.readers[i], S.idents[ident]))
			return true;
	return false;
}

static void _keyvault(struct MHD_Connection *c, const char *method, char *path,
		      reply_t *r)
{
	char *seg[8], msg[512], id[1024];
	int n = _segments(path, seg, 8);
	const char *api = _arg(c, "api-version");
	const token_t *t = NULL;
	token_state_t ts;
	const secret_t *sec = NULL;
	size_t alen;
	cJSON *o, *a;

	/* keyvault VAULT secrets NAME [VERSION] */
	if (n < 4 || n > 5 || strcmp(seg[2], "secrets") ||
	    !_chars_ok(seg[1], 24, "-") || strlen(seg[1]) < 3) {
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
	ts = _token_find(c, &t);
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
	if (alen != strlen(VAULT_AUDIENCE) ||
	    strncasecmp(t->aud, VAULT_AUDIENCE, alen)) {
		snprintf(msg, sizeof(msg), "AKV10022: Invalid audience. Expected "
			 VAULT_AUDIENCE ", found: %.128s.", t->aud);
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
			 S.idents[t->ident], seg[1]);
		_kv_error(r, 403, "Forbidden", "AccessDenied", msg);
		return;
	}
	if (_chars_ok(seg[3], 127, "-"))
		for (size_t i = 0; i < S.nsecrets && !sec; i++)
			if (!strcasecmp(S.secrets[i].name, seg[3]) &&
			    (n == 4 || !strcasecmp(S.secrets[i].version, seg[4])))
				sec = &S.secrets[i];
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
	snprintf(id, sizeof(id), "http://%s:%d/keyvault/%s/secrets/%s/%s",
		 S.listen_host, S.port, seg[1], sec->name, sec->version);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "contentType", "application/octet-stream");
	a = cJSON_AddObjectToObject(o, "attributes");
	cJSON_AddBoolToObject(a, "enabled", true);
	cJSON_AddNumberToObject(a, "created", (long) sec->created);
	cJSON_AddNumberToObject(a, "updated", (long) sec->created);
	cJSON_AddStringToObject(a, "recoveryLevel", "Recoverable+Purgeable");
	cJSON_AddNumberToObject(a, "recoverableDays", 90);
	_json(r, 200, o);
	r->wipe = true;		/* the body holds the secret */
}

/*
 * --secret NAME=FILE: read FILE now and keep its base64 as secret NAME,
 * as "az keyvault secret set --encoding base64 --file FILE" stores it.
 * Returns 0, or -1 with a message on stderr.
 */
static int _secret_load(char *arg)
{
	char *eq = strchr(arg, '='), ver[40];
	unsigned char *buf = NULL;
	size_t n = 0, max = SECRET_MAX / 4 * 3;
	secret_t *ns;
	struct stat sb;
	int fd = -1, rc = -1;
	ssize_t got;

	if (!eq || !_chars_ok((*eq = '\0', arg), 127, "-")) {
		fprintf(stderr, "azure-emulator: --secret expects NAME=FILE with "
			"a NAME of 1 to 127 letters, digits and '-'\n");
		return -1;
	}
	for (size_t i = 0; i < S.nsecrets; i++)
		if (!strcasecmp(S.secrets[i].name, arg)) {
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
	if (!(ns = realloc(S.secrets, (S.nsecrets + 1) * sizeof(*ns))))
		goto out;
	S.secrets = ns;
	ns = &S.secrets[S.nsecrets];
	memset(ns, 0, sizeof(*ns));
	snprintf(ns->name, sizeof(ns->name), "%s", arg);
	_uuid(ver);
	for (char *p = ver, *q = ns->version; *p; p++)	/* 32 hex digits */
		if (*p != '-')
			*q++ = *p;
	ns->created = _now();
	if (!(ns->value = _base64(buf, n)))
		goto out;
	S.nsecrets++;
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

/* ---------------------------------------------------------------------- */
/* Resource Manager */

static bool _take_write_token(reply_t *r)
{
	double now = _now();

	if (S.f.write_burst <= 0)
		return true;
	S.tokens += (now - S.tokens_at) * S.f.write_rate;
	if (S.tokens > S.f.write_burst)
		S.tokens = S.f.write_burst;
	S.tokens_at = now;
	if (S.tokens < 1) {
		int wait = S.f.write_rate > 0 ?
			   (int) ceil((1 - S.tokens) / S.f.write_rate) : 60;

		S.throttled++;
		_error(r, 429, "TooManyRequests", "The request is being throttled "
		       "as the limit has been reached for operation type - Write. "
		       "Retry after %d seconds.", wait);
		_header(r, "Retry-After", "%d", wait < 1 ? 1 : wait);
		_header(r, "x-ms-ratelimit-remaining-subscription-writes", "0");
		return false;
	}
	S.tokens -= 1;
	_header(r, "x-ms-ratelimit-remaining-subscription-writes", "%d",
		(int) S.tokens);
	return true;
}

/*
 * Microsoft.Compute's own throttling: one token from each policy of GROUP
 * (cpol[2 * GROUP] and cpol[2 * GROUP + 1]) and the header
 * x-ms-ratelimit-remaining-resource with what is left, always.  With
 * --compute-limits, a policy without a token refuses the request as Azure
 * does: 429 OperationNotAllowed, details TooManyRequests naming the
 * policy, Retry-After.  Returns true, or false with that answer in R.
 */
static bool _compute_take(reply_t *r, int group)
{
	double now = _now();
	int p[2] = { 2 * group, 2 * group + 1 }, empty = -1;

	for (int i = 0; i < 2; i++) {
		double rate = cpol[p[i]].cap / cpol[p[i]].window;

		if (S.cp[p[i]].at <= 0)		/* first use: a full bucket */
			S.cp[p[i]].tokens = cpol[p[i]].cap;
		else
			S.cp[p[i]].tokens += (now - S.cp[p[i]].at) * rate;
		if (S.cp[p[i]].tokens > cpol[p[i]].cap)
			S.cp[p[i]].tokens = cpol[p[i]].cap;
		S.cp[p[i]].at = now;
		if (S.cp[p[i]].tokens < 1 && empty < 0)
			empty = p[i];
	}
	if (empty >= 0 && S.f.compute_limits) {
		double rate = cpol[empty].cap / cpol[empty].window;
		int wait = (int) ceil((1 - S.cp[empty].tokens) / rate);
		cJSON *o = cJSON_CreateObject(), *e, *d, *det;
		char msg[512], t0[40], t1[40];
		time_t t = (time_t) now;
		struct tm tm;

		S.compute_throttled++;
		gmtime_r(&t, &tm);
		strftime(t0, sizeof(t0), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		t += wait < 1 ? 1 : wait;
		gmtime_r(&t, &tm);
		strftime(t1, sizeof(t1), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		snprintf(msg, sizeof(msg), "{\"operationGroup\":\"%s\","
			 "\"startTime\":\"%s\",\"endTime\":\"%s\","
			 "\"allowedRequestCount\":%d}", cpol[empty].name, t0, t1,
			 (int) cpol[empty].cap);
		e = cJSON_AddObjectToObject(o, "error");
		cJSON_AddStringToObject(e, "code", "OperationNotAllowed");
		cJSON_AddStringToObject(e, "message", "The server rejected the "
					"request because too many requests have "
					"been received for this subscription.");
		det = cJSON_AddArrayToObject(e, "details");
		d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "code", "TooManyRequests");
		cJSON_AddStringToObject(d, "target", cpol[empty].name);
		cJSON_AddStringToObject(d, "message", msg);
		cJSON_AddItemToArray(det, d);
		_json(r, 429, o);
		_header(r, "Retry-After", "%d", wait < 1 ? 1 : wait);
	} else {
		for (int i = 0; i < 2; i++)
			if ((S.cp[p[i]].tokens -= 1) < 0)
				S.cp[p[i]].tokens = 0;	/* not enforced */
	}
	_header(r, "x-ms-ratelimit-remaining-resource", "Microsoft.Compute/%s;%d,"
		"Microsoft.Compute/%s;%d", cpol[p[0]].name,
		(int) S.cp[p[0]].tokens, cpol[p[1]].name, (int) S.cp[p[1]].tokens);
	return empty < 0 || !S.f.compute_limits;
}

/* A new operation of KIND on the VM or set of KEY. */
static op_t *_op_new_key(op_kind_t kind, const char *key)
{
	op_t *op = calloc(1, sizeof(*op));
	uint32_t b;

	_uuid(op->id);
	op->kind = kind;
	snprintf(op->vmkey, sizeof(op->vmkey), "%s", key);
	op->start = _now();
	op->done_at = op->start + S.f.async_ms / 1000.0;
	b = _hash(op->id) % NBUCKETS;
	op->next = S.ops[b];
	S.ops[b] = op;
	_journal_op(op);
	return op;
}

static op_t *_op_new(op_kind_t kind, const vm_t *v)
{
	return _op_new_key(kind, v->key);
}

static void _op_headers_at(reply_t *r, const char *sub, const char *loc,
			   const op_t *op, bool location, bool async);

static void _op_headers(reply_t *r, const vm_t *v, const op_t *op, bool location)
{
	_op_headers_at(r, v->sub, v->location, op, location, !location);
}

/* An operation's headers: Location (LOCATION), Azure-AsyncOperation
 * (ASYNC), and Retry-After. */
static void _op_headers_at(reply_t *r, const char *sub, const char *loc,
			   const op_t *op, bool location, bool async)
{
	char base[1024];

	snprintf(base, sizeof(base), "http://%s:%d/subscriptions/%s/providers/"
		 "Microsoft.Compute/locations/%s", S.listen_host, S.port, sub,
		 loc ? loc : "eastus");
	if (location)
		_header(r, "Location", "%s/operationResults/%s?api-version="
			"2024-07-01", base, op->id);
	if (async)
		_header(r, "Azure-AsyncOperation", "%s/operations/%s?api-version="
			"2024-07-01", base, op->id);
	_header(r, "Retry-After", "%d", S.f.async_ms >= 2000 ? 2 : 1);
}

/*
 * Quota, as the usages API names it: "cores" (Total Regional vCPUs of
 * regular VMs), "lowPriorityCores" (Spot), "virtualMachines" (a count) and
 * one vCPU limit per family ("standardDSv3Family", regular VMs only).
 * Deallocated VMs use no vCPUs.  Defaults are generous, so that only a
 * --quota fault makes a limit bite.
 */
#define QUOTA_FAMILY_DEFAULT 10000
#define QUOTA_CORES_DEFAULT 100000
#define QUOTA_VMS_DEFAULT 25000

static int _usage_of(const char *name)
{
	bool cores = !strcmp(name, "cores");
	bool spot = !strcmp(name, "lowPriorityCores");
	bool vms = !strcmp(name, "virtualMachines");
	int used = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next) {
			if (vms) {
				used++;
				continue;
			}
			if (!strcmp(v->power, "deallocated") || v->spot != spot)
				continue;
			if (cores || spot ||
			    (v->family && !strcmp(v->family, name)))
				used += v->vcpus;
		}
	return used;
}

static int _limit_of(const char *name)
{
	const cJSON *q = cJSON_GetObjectItem(S.f.quota, name);

	if (cJSON_IsNumber(q))
		return q->valueint;
	if (!strcmp(name, "cores") || !strcmp(name, "lowPriorityCores"))
		return QUOTA_CORES_DEFAULT;
	if (!strcmp(name, "virtualMachines"))
		return QUOTA_VMS_DEFAULT;
	return QUOTA_FAMILY_DEFAULT;
}

/*
 * Whether COUNT VMs of VCPUS each in FAMILY (SPOT or not) fit every quota
 * they count against.  Returns true, or false with Azure's 409
 * QuotaExceeded in R.
 */
static bool _quota_n_ok(const char *family, int vcpus, bool spot,
			const char *location, int count, reply_t *r)
{
	char fam[128];
	const struct {
		const char *name, *words;
		int need;
	} q[] = {
		{ "virtualMachines", "Virtual Machines", count },
		{ spot ? "lowPriorityCores" : "cores",
		  spot ? "Low Priority Cores" : "Total Regional Cores",
		  vcpus * count },
		{ spot ? NULL : family, fam, vcpus * count },
	};

	snprintf(fam, sizeof(fam), "%s Cores", family ? family : "");
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
		int used, limit;

		if (!q[i].name)
			continue;
		used = _usage_of(q[i].name);
		limit = _limit_of(q[i].name);
		if (used + q[i].need <= limit)
			continue;
		_error(r, 409, "QuotaExceeded", "Operation could not be "
		       "completed as it results in exceeding approved %s "
		       "quota. Additional details - Deployment Model: Resource "
		       "Manager, Location: %s, Current Limit: %d, Current Usage: "
		       "%d, Additional Required: %d, (Minimum) New Limit "
		       "Required: %d.", q[i].words, location, limit, used,
		       q[i].need, used + q[i].need);
		return false;
	}
	return true;
}

static bool _quota_ok(const char *family, int vcpus, bool spot,
		      const char *location, reply_t *r)
{
	return _quota_n_ok(family, vcpus, spot, location, 1, r);
}

/*
 * Capacity faults: SIZE or SIZE@ZONE = CODE[:N] (--capacity, "capacity" of
 * /emulator/faults).  A create of that size (in that zone: its body says
 * "zones":["ZONE"]) gets CODE; a zonal key wins over the plain one.  With
 * :N, only creates past the first N VMs of that size (in that zone) fail.
 * SkuNotAvailable refuses the create at once (409); the others accept it
 * (201) and fail its operation, as Azure does when it finds no hardware.
 * The messages are Azure's.
 */
#define ALLOCATION_FAILED_MSG "Allocation failed. We do not have sufficient " \
	"capacity for the requested VM size in this region. Read more about " \
	"improving likelihood of allocation success at " \
	"https://aka.ms/allocation-guidance"
#define OVERCONSTRAINED_MSG "Allocation failed. VM(s) with the following " \
	"constraints cannot be allocated, because the condition is too " \
	"restrictive. Please remove some constraints and try again. " \
	"Constraints applied are:\n"

static const struct {
	const char *code;
	bool at_once;		/* 409 to the PUT, not a failed operation */
	const char *message;	/* NULL: SkuNotAvailable's, made per request */
} capacity_codes[] = {
	{ "SkuNotAvailable", true, NULL },
	{ "AllocationFailed", false, ALLOCATION_FAILED_MSG },
	{ "ZonalAllocationFailed", false, ALLOCATION_FAILED_MSG },
	{ "OverconstrainedAllocationRequest", false,
	  OVERCONSTRAINED_MSG "  - VM Size\n" },
	{ "OverconstrainedZonalAllocationRequest", false,
	  OVERCONSTRAINED_MSG "  - Availability Zone\n  - VM Size\n" },
};
#define NCAPACITY_CODES (sizeof(capacity_codes) / sizeof(capacity_codes[0]))

/* An availability zone as a key or a VM may name it: 1 to 8 letters and
 * digits (Azure's are "1", "2", "3"). */
static bool _zone_ok(const char *z)
{
	return _chars_ok(z, 8, "");
}

/* "CODE[:N]": the index of CODE in capacity_codes and N (-1: none), or -1
 * when VAL is not that. */
static int _capacity_parse(const char *val, long *after)
{
	size_t len = strcspn(val, ":");
	char *end;

	*after = -1;
	if (val[len] == ':') {
		*after = strtol(val + len + 1, &end, 10);
		if (!isdigit((unsigned char) val[len + 1]) || *end ||
		    *after > 1000000)
			return -1;
	}
	for (size_t i = 0; i < NCAPACITY_CODES; i++)
		if (strlen(capacity_codes[i].code) == len &&
		    !strncmp(capacity_codes[i].code, val, len))
			return (int) i;
	return -1;
}

/*
 * Add the fault KEY = VAL to MAP, its key canonical ("Standard_D2s_v3@1").
 * Returns 0, or -1 with what is wrong in ERR: a size the catalog does not
 * know, a bad zone, a value that is not a known CODE[:N].
 */
static int _capacity_add(cJSON *map, const char *key, const cJSON *val,
			 char *err, size_t n)
{
	char size[128], canon[160];
	const char *at = strchr(key, '@');
	size_t len = at ? (size_t) (at - key) : strlen(key), used;
	azml_size_info_t info;
	long after;

	snprintf(size, sizeof(size), "%.*s", (int) (len < 127 ? len : 127), key);
	if (len >= sizeof(size) || azml_catalog_resolve(size, &info)) {
		snprintf(err, n, "capacity: '%.80s' is not a VM size the "
			 "emulator knows (keys are SIZE or SIZE@ZONE, e.g. "
			 "Standard_D2s_v3@1)", size);
		return -1;
	}
	if (at && !_zone_ok(at + 1)) {
		snprintf(err, n, "capacity: '%.80s': the zone after '@' must be "
			 "1 to 8 letters or digits, e.g. 1", key);
		return -1;
	}
	if (!cJSON_IsString(val) || _capacity_parse(val->valuestring,
						     &after) < 0) {
		used = snprintf(err, n, "capacity: '%.80s': '%.80s' is not "
				"CODE[:N]; the codes are", key,
				cJSON_IsString(val) ? val->valuestring :
				"(not a string)");
		for (size_t i = 0; i < NCAPACITY_CODES && used < n; i++)
			used += snprintf(err + used, n - used, "%s %s",
					 i ? "," : "", capacity_codes[i].code);
		return -1;
	}
	snprintf(canon, sizeof(canon), "%s%s%s", info.name, at ? "@" : "",
		 at ? at + 1 : "");
	cJSON_DeleteItemFromObjectCaseSensitive(map, canon);
	cJSON_AddItemToObject(map, canon, cJSON_CreateString(val->valuestring));
	return 0;
}

/* Every fault of MAP, canonical, in a new map; NULL with ERR if one is
 * refused. */
static cJSON *_capacity_map(const cJSON *map, char *err, size_t n)
{
	cJSON *out = cJSON_CreateObject();
	const cJSON *it;

	cJSON_ArrayForEach(it, map)
		if (_capacity_add(out, it->string, it, err, n) < 0) {
			cJSON_Delete(out);
			return NULL;
		}
	return out;
}

/* VMs of SIZE (its catalog name), in ZONE unless it is NULL. */
static int _size_count(const char *size, const char *zone)
{
	int n = 0;

	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next)
			if (!strcasecmp(v->size, size) &&
			    (!zone || !strcmp(_vm_zone(v), zone)))
				n++;
	return n;
}

/*
 * The capacity fault that a create of SIZE (its catalog name, the info.name
 * of azml_catalog_resolve) in ZONE ("": none) gets now: an index in
 * capacity_codes, or -1 for none.  Call it before the new VM is added.
 */
static int _capacity_fault(const char *size, const char *zone)
{
	char key[160];
	const cJSON *f = NULL;
	long after;
	int code;

	if (*zone) {
		snprintf(key, sizeof(key), "%s@%s", size, zone);
		f = cJSON_GetObjectItemCaseSensitive(S.f.capacity, key);
	}
	if (!f) {
		zone = NULL;
		f = cJSON_GetObjectItemCaseSensitive(S.f.capacity, size);
	}
	if (!cJSON_IsString(f) || (code = _capacity_parse(f->valuestring,
							  &after)) < 0)
		return -1;
	return after < 0 || _size_count(size, zone) >= after ? code : -1;
}

static cJSON *_instance_view(const vm_t *v)
{
	cJSON *iv = cJSON_CreateObject(), *st = cJSON_AddArrayToObject(iv, "statuses");
	cJSON *a = cJSON_CreateObject(), *b = cJSON_CreateObject();
	char code[64], lower[16];

	snprintf(lower, sizeof(lower), "%s", v->provisioning);
	_lower(lower);
	snprintf(code, sizeof(code), "ProvisioningState/%s", lower);
	cJSON_AddStringToObject(a, "code", code);
	cJSON_AddStringToObject(a, "level", "Info");
	cJSON_AddStringToObject(a, "displayStatus", v->provisioning);
	cJSON_AddItemToArray(st, a);
	snprintf(code, sizeof(code), "PowerState/%s", v->power);
	cJSON_AddStringToObject(b, "code", code);
	cJSON_AddStringToObject(b, "level", "Info");
	snprintf(code, sizeof(code), "VM %s", v->power);
	cJSON_AddStringToObject(b, "displayStatus", code);
	cJSON_AddItemToArray(st, b);
	cJSON_AddStringToObject(iv, "computerName", v->computer ? v->computer : v->name);
	return iv;
}

/* The VM as GET shows it: with its instance view when EXPAND, its
 * userData only when USERDATA ($expand=userData), as Azure does. */
static cJSON *_vm_view(const vm_t *v, bool expand, bool userdata)
{
	cJSON *o = cJSON_Duplicate(v->resource, 1);

	if (!userdata)
		cJSON_DeleteItemFromObject(cJSON_GetObjectItem(o, "properties"),
					   "userData");
	if (S.f.node_tag[0]) {
		cJSON *tags = cJSON_GetObjectItem(o, "tags");

		if (cJSON_IsObject(tags))
			cJSON_ReplaceItemInObject(tags, "slurm-node",
				cJSON_CreateString(S.f.node_tag));
	}
	if (expand)
		cJSON_AddItemToObject(cJSON_GetObjectItem(o, "properties"),
				      "instanceView", _instance_view(v));
	return o;
}

#define IDENTITIES_MAX 64
#define USERDATA_MAX 87380	/* base64 characters: 64 KB of user data */

/*
 * The identity a VM is shown with, from the request's IN (NULL: none):
 * type None, SystemAssigned, UserAssigned or "SystemAssigned, UserAssigned",
 * user-assigned ids that are well formed and map to {} or null.  Sets *OUT
 * (owned by the caller; NULL for none) and returns true, or returns false
 * with Azure's 400 in R.
 */
static bool _identity_build(const cJSON *in, cJSON **out, reply_t *r)
{
	const cJSON *type = cJSON_GetObjectItem(in, "type"), *ua, *it;
	bool sys = false, user = false;
	cJSON *o, *m;
	char guid[40];
	int n = 0;

	*out = NULL;
	if (!in || cJSON_IsNull(in))
		return true;
	if (!cJSON_IsObject(in) || !cJSON_IsString(type)) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: 'identity' must "
		       "be an object with a 'type'.");
		return false;
	}
	if (!strcasecmp(type->valuestring, "SystemAssigned"))
		sys = true;
	else if (!strcasecmp(type->valuestring, "UserAssigned"))
		user = true;
	else if (!strcasecmp(type->valuestring, "SystemAssigned, UserAssigned") ||
		 !strcasecmp(type->valuestring, "SystemAssigned,UserAssigned"))
		sys = user = true;
	else if (strcasecmp(type->valuestring, "None")) {
		_error(r, 400, "InvalidParameter", "The value '%.64s' of "
		       "parameter 'identity.type' is invalid. Allowed values: "
		       "'None', 'SystemAssigned', 'UserAssigned', "
		       "'SystemAssigned, UserAssigned'.", type->valuestring);
		return false;
	}
	ua = cJSON_GetObjectItem(in, "userAssignedIdentities");
	if (ua && !cJSON_IsNull(ua) && !cJSON_IsObject(ua)) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'identity.userAssignedIdentities' must be an object.");
		return false;
	}
	cJSON_ArrayForEach(it, ua) {
		if (++n > IDENTITIES_MAX) {
			_error(r, 400, "InvalidParameter", "At most %d "
			       "user-assigned identities may be attached to a "
			       "virtual machine.", IDENTITIES_MAX);
			return false;
		}
		if (!it->string || !_identity_id_ok(it->string)) {
			_error(r, 400, "LinkedInvalidPropertyId", "Property id "
			       "'%.200s' at path 'identity.userAssignedIdentities' "
			       "is invalid. Expect fully qualified resource Id that "
			       "start with '/subscriptions/{subscriptionId}' or "
			       "'/providers/{resourceProviderNamespace}/'.",
			       it->string ? it->string : "");
			return false;
		}
		if (!cJSON_IsNull(it) && !(cJSON_IsObject(it) && !it->child)) {
			_error(r, 400, "InvalidIdentityValues", "Invalid value for "
			       "the identities '%.200s'. The 'UserAssignedIdentities' "
			       "property keys should only be empty json objects, null "
			       "or the resource exisiting property.", it->string);
			return false;
		}
	}
	if (user != (n > 0)) {
		_error(r, 400, "InvalidParameter", user ? "The identity type "
		       "'UserAssigned' needs at least one entry in "
		       "'identity.userAssignedIdentities'." : "The property "
		       "'identity.userAssignedIdentities' is allowed only when "
		       "the identity type is 'UserAssigned' or 'SystemAssigned, "
		       "UserAssigned'.");
		return false;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", sys && user ? "SystemAssigned, UserAssigned" :
				sys ? "SystemAssigned" : user ? "UserAssigned" : "None");
	*out = o;
	if (sys) {
		/* filled in by the caller, who knows the VM's id */
		cJSON_AddStringToObject(o, "principalId", "");
		cJSON_AddStringToObject(o, "tenantId", EMU_TENANT);
	}
	if (!user)
		return true;
	m = cJSON_AddObjectToObject(o, "userAssignedIdentities");
	cJSON_ArrayForEach(it, ua) {
		cJSON *e = cJSON_CreateObject();

		_guid_of("principal:", it->string, guid);
		cJSON_AddStringToObject(e, "principalId", guid);
		_guid_of("client:", it->string, guid);
		cJSON_AddStringToObject(e, "clientId", guid);
		cJSON_AddItemToObject(m, it->string, e);
	}
	return true;
}

/*
 * Check the parts of a VM's properties that reach the VM itself: userData
 * (base64, at most USERDATA_MAX characters), osProfile.computerName (else
 * the VM's NAME: a hostname) and bootDiagnostics.  Returns the computer
 * name (in PROPS or NAME), or NULL with Azure's 400 in R.
 */
static const char *_vm_props_ok(const cJSON *props, const char *name,
				reply_t *r)
{
	const cJSON *ud = cJSON_GetObjectItem(props, "userData");
	const cJSON *os = cJSON_GetObjectItem(props, "osProfile");
	const cJSON *cn = cJSON_GetObjectItem(os, "computerName");
	const cJSON *bd = cJSON_GetObjectItem(cJSON_GetObjectItem(props,
				"diagnosticsProfile"), "bootDiagnostics");
	const char *computer = cJSON_IsString(cn) ? cn->valuestring : name;

	/* Azure documents 64 KB of user data, base64-encoded; its wording
	 * for the same limit on customData is "must be in Base64 encoding
	 * and with a maximum length of 87380 characters" */
	if (ud && !cJSON_IsNull(ud) &&
	    (!cJSON_IsString(ud) || strlen(ud->valuestring) > USERDATA_MAX ||
	     !_base64_ok(ud->valuestring, strlen(ud->valuestring)))) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "userData is invalid: user data must be in Base64 "
		       "encoding and with a maximum length of %d characters.",
		       USERDATA_MAX);
		return NULL;
	}
	if ((cn && !cJSON_IsString(cn)) || !_computer_name_ok(computer)) {
		_error(r, 400, "InvalidParameter", "Linux host name cannot "
		       "exceed 64 characters in length or contain the following "
		       "characters: ` ~ ! @ # $ %% ^ & * ( ) = + _ [ ] { } \\ | ; "
		       ": ' \" , < > / ?.");
		return NULL;
	}
	if (bd && (!cJSON_IsObject(bd) ||
		   (cJSON_GetObjectItem(bd, "enabled") &&
		    !cJSON_IsBool(cJSON_GetObjectItem(bd, "enabled"))))) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'diagnosticsProfile.bootDiagnostics.enabled' must be a "
		       "boolean.");
		return NULL;
	}
	return computer;
}

static void _vm_put(struct MHD_Connection *c, const char *sub, const char *rg,
		    const char *name, const char *body, reply_t *r)
{
	char key[400], id[1024], vmid[40];
	cJSON *req = cJSON_Parse(body ? body : ""), *props, *hw, *tags, *nics;
	cJSON *ident = NULL, *zones;
	const char *size, *location, *prio, *computer, *zone = "";
	azml_size_info_t info;
	int fault;
	vm_t *v;

	snprintf(key, sizeof(key), "%s/%s/%s", sub, rg, name);
	_lower(key);
	props = cJSON_GetObjectItem(req, "properties");
	hw = cJSON_GetObjectItem(props, "hardwareProfile");
	size = _jstr(hw, "vmSize");
	location = _jstr(req, "location");
	if (!req || !cJSON_IsObject(props)) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized.");
		goto out;
	}
	if (!*location) {
		_error(r, 400, "LocationRequired", "The location property is "
		       "required for this definition.");
		goto out;
	}
	if (!_chars_ok(location, 64, " ")) {
		_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute/virtualMachines'.", location);
		goto out;
	}
	if (!*size) {
		_error(r, 400, "InvalidParameter", "Required parameter "
		       "'hardwareProfile.vmSize' is missing (null).");
		goto out;
	}
	if (azml_catalog_resolve(size, &info)) {
		_error(r, 400, "InvalidParameter", "The value %s provided for the "
		       "VM size is not valid. The valid sizes in the current "
		       "region are listed by the vmSizes API.", size);
		goto out;
	}
	zones = cJSON_GetObjectItem(req, "zones");
	if (zones && (!cJSON_IsArray(zones) || cJSON_GetArraySize(zones) > 1 ||
		      (zones->child && (!cJSON_IsString(zones->child) ||
					!_zone_ok(zones->child->valuestring))))) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'zones' is invalid: a virtual machine is in at most one "
		       "availability zone, such as [\"1\"].");
		goto out;
	}
	if (zones && zones->child)
		zone = zones->child->valuestring;
	tags = cJSON_GetObjectItem(req, "tags");
	if (!_tags_ok(tags, r))
		goto out;
	if (!(computer = _vm_props_ok(props, name, r)) ||
	    !_identity_build(cJSON_GetObjectItem(req, "identity"), &ident, r))
		goto out;
	if ((v = _vm_find(key))) {
		if (!strcmp(v->provisioning, "Deleting")) {
			_error(r, 409, "OperationNotAllowed", "Operation "
			       "'CreateOrUpdate' is not allowed on VM '%s' since "
			       "the VM is marked for deletion.", name);
			goto out;
		}
		/* An update of an existing VM: idempotent, nothing new. */
		_json(r, 200, _vm_view(v, false, false));
		goto out;
	}
	fault = _capacity_fault(info.name, zone);
	if (fault >= 0 && capacity_codes[fault].at_once) {
		_error(r, 409, capacity_codes[fault].code, "The requested VM "
		       "size for resource 'Following SKUs have failed for Capacity "
		       "Restrictions: %s' is currently not available in location "
		       "'%s'. Please try another size or deploy to a different "
		       "location or zones.", size, location);
		goto out;
	}
	prio = _jstr(props, "priority");
	if (!_quota_ok(azml_series_quota_family(info.series), info.vcpus,
		       !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low"),
		       location, r))
		goto out;
	v = _vm_new(sub, rg, name);
	v->location = strdup(location);
	_set_size(v, size);
	v->spot = !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low");
	v->computer = strdup(computer);
	v->incarnation = 1;
	if (*_jstr(tags, "slurm-node"))
		v->node = strdup(_jstr(tags, "slurm-node"));
	nics = cJSON_GetObjectItem(cJSON_GetObjectItem(props, "networkProfile"),
				   "networkInterfaceConfigurations");
	if (cJSON_GetArraySize(nics) > 0 &&
	    _name_ok(_jstr(cJSON_GetArrayItem(nics, 0), "name")))
		v->nic = strdup(_jstr(cJSON_GetArrayItem(nics, 0), "name"));
	/* The resource as GET shows it: the request, plus Azure's fields. */
	snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines/%s", sub, rg, name);
	_uuid(vmid);
	v->resource = cJSON_CreateObject();
	cJSON_AddStringToObject(v->resource, "name", name);
	cJSON_AddStringToObject(v->resource, "id", id);
	cJSON_AddStringToObject(v->resource, "type",
				"Microsoft.Compute/virtualMachines");
	cJSON_AddStringToObject(v->resource, "location", location);
	if (zones)
		cJSON_AddItemToObject(v->resource, "zones",
				      cJSON_Duplicate(zones, 1));
	if (tags)
		cJSON_AddItemToObject(v->resource, "tags", cJSON_Duplicate(tags, 1));
	if (ident) {
		if (cJSON_GetObjectItem(ident, "principalId")) {
			char guid[40];

			_guid_of("system:", id, guid);
			cJSON_ReplaceItemInObject(ident, "principalId",
						  cJSON_CreateString(guid));
		}
		/* fault: the VM ends up without the identities asked for */
		if (!S.f.identity_missing)
			cJSON_AddItemToObject(v->resource, "identity", ident);
		else
			cJSON_Delete(ident);
		ident = NULL;
	}
	props = cJSON_Duplicate(props, 1);
	cJSON_AddStringToObject(props, "vmId", vmid);
	cJSON_AddStringToObject(props, "provisioningState", "Creating");
	{
		char stamp[64];
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		cJSON_AddStringToObject(props, "timeCreated", stamp);
	}
	cJSON_AddItemToObject(v->resource, "properties", props);
	snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
	snprintf(v->power, sizeof(v->power), "starting");
	_vm_insert(v);
	S.creates++;
	{
		op_t *op = _op_new(OP_CREATE, v);

		if (fault >= 0) {	/* found no hardware: the operation fails */
			op->err_code = strdup(capacity_codes[fault].code);
			op->err_msg = strdup(capacity_codes[fault].message);
			_journal_op(op);
		}
		_journal_vm(v);
		_json(r, 201, _vm_view(v, false, false));
		_op_headers(r, v, op, false);
	}
out:
	cJSON_Delete(ident);
	cJSON_Delete(req);
}

/*
 * The set id of a VM list's $filter, "virtualMachineScaleSet/id eq 'ID'"
 * (the quotes optional, the words in any case; Azure documents the field
 * quoted, "'virtualMachineScaleSet/id' eq 'ID'"), in OUT (N bytes).
 * Returns 0, or -1 when F is not that.
 */
static int _filter_set_id(const char *f, char *out, size_t n)
{
	static const char field[] = "virtualMachineScaleSet/id";
	size_t len;

	bool quoted;

	while (*f == ' ')
		f++;
	if ((quoted = *f == '\''))
		f++;
	if (strncasecmp(f, field, sizeof(field) - 1))
		return -1;
	f += sizeof(field) - 1;
	if (quoted && *f++ != '\'')
		return -1;
	if (*f != ' ')
		return -1;
	for (; *f == ' '; f++)
		;
	if (strncasecmp(f, "eq ", 3))
		return -1;
	for (f += 3; *f == ' '; f++)
		;
	if (*f == '\'') {
		const char *end = strchr(++f, '\'');

		if (!end)
			return -1;
		len = end - f;
		end++;
		while (*end == ' ')
			end++;
		if (*end)
			return -1;
	} else {
		len = strcspn(f, " ");
		for (const char *e = f + len; *e; e++)
			if (*e != ' ')
				return -1;
	}
	if (len < 1 || len >= n)
		return -1;
	memcpy(out, f, len);
	out[len] = '\0';
	return 0;
}

/* S percent-encoded into OUT (N bytes, at least 3 * strlen(S) + 1). */
static void _urlencode(const char *s, char *out, size_t n)
{
	size_t o = 0;

	for (; *s && o + 4 <= n; s++) {
		unsigned char ch = *s;

		if (isalnum(ch) || strchr("-_.~", ch))
			out[o++] = ch;
		else
			o += snprintf(out + o, n - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

/* The resource id of the set NAME. */
static void _vmss_id(char *out, size_t n, const char *sub, const char *rg,
		     const char *name)
{
	snprintf(out, n, "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachineScaleSets/%s", sub, rg, name);
}

#define FILTER_MAX 1024

/*
 * GET .../virtualMachines[?$filter=virtualMachineScaleSet/id eq 'ID']:
 * the resource group's VMs, or only the members of the set ID (compared
 * case aside), paged with nextLink.
 */
static void _vm_list(const char *sub, const char *rg, struct MHD_Connection *c,
		     reply_t *r)
{
	cJSON *o, *arr;
	const char *skip_s = _arg(c, "$skiptoken"), *filter = _arg(c, "$filter");
	long skip = skip_s ? atol(skip_s) : 0, seen = 0, added = 0;
	char prefix[400], set_id[FILTER_MAX], id[1024];

	if (filter && (strlen(filter) >= FILTER_MAX ||
		       _filter_set_id(filter, set_id, sizeof(set_id)))) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'$filter' is invalid: '%.200s'. azure-emulator filters "
		       "VMs by \"virtualMachineScaleSet/id eq '{id}'\" only.",
		       filter);
		return;
	}
	o = cJSON_CreateObject();
	arr = cJSON_AddArrayToObject(o, "value");
	snprintf(prefix, sizeof(prefix), "%s/%s/", sub, rg);
	_lower(prefix);
	/* A stable order for paging: by bucket, then chain. */
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next) {
			if (strncmp(v->key, prefix, strlen(prefix)))
				continue;
			if (filter) {
				if (!v->vmss)
					continue;
				_vmss_id(id, sizeof(id), v->sub, v->rg, v->vmss);
				if (strcasecmp(id, set_id))
					continue;
			}
			if (seen++ < skip)
				continue;
			if (added == S.f.page_size) {
				char next[1024 + 3 * FILTER_MAX], enc[3 * FILTER_MAX];

				snprintf(next, sizeof(next), "http://%s:%d/subscriptions/"
					 "%s/resourceGroups/%s/providers/Microsoft."
					 "Compute/virtualMachines?api-version="
					 "2024-07-01&$skiptoken=%ld", S.listen_host,
					 S.port, sub, rg, skip + added);
				if (filter) {
					_urlencode(filter, enc, sizeof(enc));
					snprintf(next + strlen(next), sizeof(next) -
						 strlen(next), "&$filter=%s", enc);
				}
				cJSON_AddStringToObject(o, "nextLink", next);
				goto done;
			}
			cJSON_AddItemToArray(arr, _vm_view(v, true, false));
			added++;
		}
done:
	_json(r, 200, o);
}

#define SERIAL_MAX (1 << 20)	/* the blob serves the log's last 1 MiB */

/*
 * POST .../retrieveBootDiagnosticsData[?sasUriExpirationTimeInMinutes=N]:
 * SAS URLs of the VM's screenshot and serial log, served by this emulator
 * under /emulator-blob/; each answer signs with a new random sig, valid
 * for N minutes (1 to 1440, default 120).
 */
static void _boot_diagnostics(vm_t *v, struct MHD_Connection *c, reply_t *r)
{
	const char *m = _arg(c, "sasUriExpirationTimeInMinutes");
	const cJSON *bd = cJSON_GetObjectItem(cJSON_GetObjectItem(
		cJSON_GetObjectItem(v->resource, "properties"),
		"diagnosticsProfile"), "bootDiagnostics");
	char se[40], url[1024], *end = NULL;
	long mins = m ? strtol(m, &end, 10) : 120;
	time_t t;
	struct tm tm;
	cJSON *o;

	if (m && (*end || mins < 1 || mins > 1440)) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "sasUriExpirationTimeInMinutes is invalid: it must be "
		       "between 1 and 1440.");
		return;
	}
	if (!cJSON_IsTrue(cJSON_GetObjectItem(bd, "enabled"))) {
		_error(r, 409, "OperationNotAllowed", "Operation "
		       "'retrieveBootDiagnosticsData' is not allowed on VM '%s' "
		       "since boot diagnostics is not enabled on it.", v->name);
		return;
	}
	memmove(&v->sas[0], &v->sas[1], sizeof(v->sas) - sizeof(v->sas[0]));
	_uuid(url);
	for (char *p = url, *q = v->sas[3].sig; *p; p++)
		if (*p != '-')
			*q++ = *p, *q = '\0';
	v->sas[3].until = t = time(NULL) + mins * 60;
	gmtime_r(&t, &tm);
	strftime(se, sizeof(se), "%Y-%m-%dT%H%%3A%M%%3A%SZ", &tm);
	o = cJSON_CreateObject();
	snprintf(url, sizeof(url), "http://%s:%d/emulator-blob/bootdiagnostics/"
		 "%s/screenshot.bmp?sv=2021-12-02&sr=b&sp=r&se=%s&sig=%s",
		 S.listen_host, S.port, v->name, se, v->sas[3].sig);
	cJSON_AddStringToObject(o, "consoleScreenshotBlobUri", url);
	snprintf(url, sizeof(url), "http://%s:%d/emulator-blob/bootdiagnostics/"
		 "%s/serialconsole.log?sv=2021-12-02&sr=b&sp=r&se=%s&sig=%s",
		 S.listen_host, S.port, v->name, se, v->sas[3].sig);
	cJSON_AddStringToObject(o, "serialConsoleLogBlobUri", url);
	_json(r, 200, o);
}

/* Azure Storage's XML error. */
static void _blob_error(reply_t *r, int status, const char *code,
			const char *msg, const char *detail)
{
	char id[40], when[64], *b;
	time_t t = time(NULL);
	struct tm tm;

	_uuid(id);
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S.0000000Z", &tm);
	if (asprintf(&b, "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>"
		     "<Error><Code>%s</Code><Message>%s\nRequestId:%s\nTime:%s"
		     "</Message>%s%s%s</Error>", code, msg, id, when,
		     detail ? "<AuthenticationErrorDetail>" : "",
		     detail ? detail : "",
		     detail ? "</AuthenticationErrorDetail>" : "") < 0)
		b = NULL;
	r->status = status;
	free(r->body);
	r->body = b;
	r->ctype = "application/xml";
}

/*
 * GET /emulator-blob/bootdiagnostics/{vm}/serialconsole.log?...&sig=SIG:
 * the VM's serial log (its last SERIAL_MAX bytes), only with a sig that
 * retrieveBootDiagnosticsData handed out and that has not expired.
 */
static void _blob(const char *method, char *path, struct MHD_Connection *c,
		  reply_t *r)
{
	char *seg[6], console[4096];
	int n = _segments(path, seg, 6);
	const char *sig = _arg(c, "sig");
	double now = _now();
	vm_t *v = n == 4 && _name_ok(seg[2]) ? _vm_by_name(seg[2]) : NULL;
	bool ok = false, expired = false;
	struct stat sb;
	int fd;

	for (int i = 0; v && sig && i < 4; i++)
		if (v->sas[i].sig[0] && !strcmp(v->sas[i].sig, sig)) {
			ok = v->sas[i].until >= now;
			expired = !ok;
		}
	if (!ok || strcmp(method, "GET") || strcmp(seg[1], "bootdiagnostics")) {
		_blob_error(r, 403, "AuthenticationFailed", "Server failed to "
			    "authenticate the request. Make sure the value of "
			    "Authorization header is formed correctly including "
			    "the signature.", expired ? "Signed expiry time has "
			    "passed" : "Signature did not match");
		return;
	}
	if (strcmp(seg[3], "serialconsole.log")) {
		_blob_error(r, 404, "BlobNotFound", "The specified blob does not "
			    "exist.", NULL);
		return;
	}
	r->status = 200;
	r->ctype = "text/plain; charset=utf-8";
	if (_console_path(v, console, sizeof(console)) ||
	    (fd = open(console, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return;		/* nothing on its console yet */
	if (!fstat(fd, &sb) && S_ISREG(sb.st_mode)) {
		off_t from = sb.st_size > SERIAL_MAX ? sb.st_size - SERIAL_MAX : 0;
		size_t want = sb.st_size - from;
		ssize_t got;

		if ((r->body = malloc(want + 1)) &&
		    (got = pread(fd, r->body, want, from)) >= 0) {
			r->body[got] = '\0';
			r->len = got;
		}
	}
	close(fd);
}

/* Start deleting VM V: Deleting, and its operation. */
static op_t *_vm_mark_deleting(vm_t *v)
{
	op_t *op;

	_set_instance_state(v, "Deleting", v->power);
	op = _op_new(OP_DELETE, v);
	S.deletes++;
	_journal_vm(v);
	return op;
}

static void _vm_action(const char *method, const char *sub, const char *rg,
		       const char *name, const char *action,
		       struct MHD_Connection *c, reply_t *r)
{
	char key[400];
	vm_t *v;
	op_t *op;

	snprintf(key, sizeof(key), "%s/%s/%s", sub, rg, name);
	_lower(key);
	v = _vm_find(key);
	if (!strcmp(method, "GET") && !_compute_take(r, CP_GET))
		return;
	if (!strcmp(method, "DELETE") && !action) {
		if (!v) {
			r->status = 204;	/* already gone: as Azure answers */
			return;
		}
		if (!_take_write_token(r) || !_compute_take(r, CP_DELETE_VM))
			return;
		if (S.f.locked) {	/* a CanNotDelete lock, as Azure words it */
			_error(r, 409, "ScopeLocked", "The scope '/subscriptions/"
			       "%s/resourceGroups/%s/providers/Microsoft.Compute/"
			       "virtualMachines/%s' cannot perform delete "
			       "operation because following scope(s) are locked: "
			       "'/subscriptions/%s/resourceGroups/%s'. Please remove "
			       "the lock and try again.", sub, rg, name, sub, rg);
			return;
		}
		if (strcmp(v->provisioning, "Deleting")) {
			vmss_t *set = _vmss_of(v);

			op = _vm_mark_deleting(v);
			_vmss_touch(set);	/* one VM less */
		} else {
			op = NULL;	/* a second delete joins the first */
			for (size_t b = 0; b < NBUCKETS && !op; b++)
				for (op_t *o = S.ops[b]; o; o = o->next)
					if (o->kind == OP_DELETE && !o->finished &&
					    !strcmp(o->vmkey, v->key))
						op = o;
			if (!op)
				op = _op_new(OP_DELETE, v);
		}
		r->status = 202;
		_op_headers(r, v, op, true);
		return;
	}
	if (!v) {
		_error(r, 404, "ResourceNotFound", "The Resource "
		       "'Microsoft.Compute/virtualMachines/%s' under resource group "
		       "'%s' was not found.", name, rg);
		return;
	}
	if (!strcmp(method, "GET") && !action) {
		const char *expand = _arg(c, "$expand");

		/* $expand=instanceView or userData (one of them, as Azure) */
		_json(r, 200, _vm_view(v, expand && !strcasecmp(expand, "instanceView"),
				       expand && !strcasecmp(expand, "userData")));
		return;
	}
	if (!strcmp(method, "POST") && action &&
	    !strcmp(action, "retrieveBootDiagnosticsData")) {
		_boot_diagnostics(v, c, r);
		return;
	}
	if (!strcmp(method, "GET") && action && !strcmp(action, "instanceView")) {
		_json(r, 200, _instance_view(v));
		return;
	}
	if (!strcmp(method, "POST") && action && (!strcmp(action, "deallocate") ||
					 !strcmp(action, "start"))) {
		bool start = !strcmp(action, "start");

		if (!_take_write_token(r))
			return;
		if (!strcmp(v->provisioning, "Deleting") ||
		    !strcmp(v->provisioning, "Creating")) {
			_error(r, 409, "OperationNotAllowed", "Operation '%s' is "
			       "not allowed on VM '%s' while it is %s.", action,
			       name, v->provisioning);
			return;
		}
		_set_instance_state(v, "Updating", start ? "starting" : "deallocating");
		op = _op_new(start ? OP_START : OP_DEALLOCATE, v);
		_journal_vm(v);
		r->status = 202;
		_op_headers(r, v, op, true);
		return;
	}
	_error(r, 400, "InvalidRequestUri", "azure-emulator does not serve %s "
	       "%s on a VM", method, action ? action : "");
}

static void _operation(const char *id, bool location, reply_t *r)
{
	op_t *op = _op_find(id);
	cJSON *o;

	if (!op) {
		_error(r, 404, "ResourceNotFound", "The operation '%s' was not "
		       "found.", id);
		return;
	}
	if (location) {
		if (!op->finished) {
			r->status = 202;
			_header(r, "Retry-After", "1");
		} else if (op->err_code) {
			_error(r, 409, op->err_code, "%s", op->err_msg);
		} else {
			r->status = op->kind == OP_DELETE ? 204 : 200;
		}
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", op->id);
	cJSON_AddStringToObject(o, "status", !op->finished ? "InProgress" :
				op->err_code ? "Failed" : "Succeeded");
	if (op->finished && op->err_code) {
		cJSON *e = cJSON_AddObjectToObject(o, "error");

		cJSON_AddStringToObject(e, "code", op->err_code);
		cJSON_AddStringToObject(e, "message", op->err_msg);
	}
	_json(r, 200, o);
	if (!op->finished)
		_header(r, "Retry-After", "1");
}

static void _nic_get(const char *sub, const char *rg, const char *name, reply_t *r)
{
	char prefix[400];

	snprintf(prefix, sizeof(prefix), "%s/%s/", sub, rg);
	_lower(prefix);
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next) {
			cJSON *o, *props, *ipc, *ip, *ipp, *vmref;
			char id[1024];

			if (!v->nic || strcasecmp(v->nic, name) ||
			    strncmp(v->key, prefix, strlen(prefix)))
				continue;
			o = cJSON_CreateObject();
			snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/"
				 "providers/Microsoft.Network/networkInterfaces/%s",
				 sub, rg, name);
			cJSON_AddStringToObject(o, "name", name);
			cJSON_AddStringToObject(o, "id", id);
			cJSON_AddStringToObject(o, "type",
						"Microsoft.Network/networkInterfaces");
			props = cJSON_AddObjectToObject(o, "properties");
			cJSON_AddStringToObject(props, "provisioningState", "Succeeded");
			ipc = cJSON_AddArrayToObject(props, "ipConfigurations");
			ip = cJSON_CreateObject();
			cJSON_AddStringToObject(ip, "name", "ipconfig1");
			ipp = cJSON_AddObjectToObject(ip, "properties");
			cJSON_AddStringToObject(ipp, "privateIPAddress",
				S.f.nic_ip[0] ? S.f.nic_ip : "127.0.0.1");
			cJSON_AddStringToObject(ipp, "privateIPAllocationMethod", "Dynamic");
			cJSON_AddBoolToObject(ipp, "primary", true);
			cJSON_AddItemToArray(ipc, ip);
			vmref = cJSON_AddObjectToObject(props, "virtualMachine");
			cJSON_AddStringToObject(vmref, "id",
				_jstr(v->resource, "id"));
			_json(r, 200, o);
			return;
		}
	_error(r, 404, "ResourceNotFound", "The Resource "
	       "'Microsoft.Network/networkInterfaces/%s' under resource group "
	       "'%s' was not found.", name, rg);
}

static void _usage_add(cJSON *arr, const char *name, const char *words)
{
	cJSON *u = cJSON_CreateObject(), *n = cJSON_CreateObject();

	cJSON_AddStringToObject(u, "unit", "Count");
	cJSON_AddNumberToObject(u, "currentValue", _usage_of(name));
	cJSON_AddNumberToObject(u, "limit", _limit_of(name));
	cJSON_AddStringToObject(n, "value", name);
	cJSON_AddStringToObject(n, "localizedValue", words);
	cJSON_AddItemToObject(u, "name", n);
	cJSON_AddItemToArray(arr, u);
}

/* Every quota, as Azure lists them: the regional ones, then one per VM
 * family of the catalog ("standardNCSv3Family", "Standard NCSv3 Family
 * vCPUs"). */
static void _usages(const char *location, reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");

	_usage_add(arr, "cores", "Total Regional vCPUs");
	_usage_add(arr, "virtualMachines", "Virtual Machines");
	_usage_add(arr, "lowPriorityCores", "Total Regional Low-priority vCPUs");
	for (size_t i = 0; i < azml_catalog_series_count(); i++) {
		const char *f = azml_series_quota_family(azml_catalog_series_at(i));
		char words[128];
		size_t len;
		bool seen = false;

		if (!f)
			continue;
		for (size_t j = 0; j < i && !seen; j++) {
			const char *g = azml_series_quota_family(
				azml_catalog_series_at(j));

			seen = g && !strcmp(f, g);
		}
		len = strlen(f);
		if (seen || len < 15 || strncmp(f, "standard", 8))
			continue;
		/* standardNCSv3Family -> Standard NCSv3 Family vCPUs */
		snprintf(words, sizeof(words), "Standard %.*s Family vCPUs",
			 (int) (len - 14), f + 8);
		_usage_add(arr, f, words);
	}
	(void) location;
	_json(r, 200, o);
}

static void _vm_sizes(reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");

	for (size_t i = 0; i < azml_catalog_size_count(); i++) {
		const azml_size_t *s = azml_catalog_size_at(i);
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "name", s->name);
		cJSON_AddNumberToObject(e, "numberOfCores", s->vcpus);
		cJSON_AddNumberToObject(e, "osDiskSizeInMB", 1047552);
		cJSON_AddNumberToObject(e, "resourceDiskSizeInMB", 0);
		cJSON_AddNumberToObject(e, "memoryInMB", s->memory_mib);
		cJSON_AddNumberToObject(e, "maxDataDiskCount", 32);
		cJSON_AddItemToArray(arr, e);
	}
	_json(r, 200, o);
}

/* ---------------------------------------------------------------------- */
/* Virtual machine scale sets, Flexible orchestration mode */

/* What a set's validated body says; the pointers are into the body. */
typedef struct {
	const char *location, *size, *prefix;
	azml_size_info_t info;
	long capacity;		/* -1: not given */
	const cJSON *zones, *tags, *profile;
	cJSON *ident;		/* built by _identity_build, owned */
	bool spot;
} vmss_spec_t;

/* N random bytes in B. */
static void _random(unsigned char *b, size_t n)
{
	if (getrandom(b, n, 0) != (ssize_t) n)
		for (size_t i = 0; i < n; i++)
			b[i] = rand_r(&S.seed);
}

/*
 * Check a set's body REQ (a PUT's, or a PATCH merged into the set) as the
 * VM PUT checks a VM's: location, size (sku.name, by the catalog),
 * sku.capacity (0 to VMSS_VMS_MAX), zones, tags, identity, Flexible mode
 * with its platformFaultDomainCount, and the virtualMachineProfile a VM is
 * made from (its computerNamePrefix, userData, Spot, bounded in size).
 * Fills *S and returns true, or returns false with Azure's 400 in R.
 */
static bool _vmss_check(const cJSON *req, const char *name, vmss_spec_t *s,
			reply_t *r)
{
	const cJSON *props = cJSON_GetObjectItem(req, "properties");
	const cJSON *sku = cJSON_GetObjectItem(req, "sku"), *it, *cap, *fd, *x;
	const cJSON *mode = cJSON_GetObjectItem(props, "orchestrationMode");
	char check[80];

	memset(s, 0, sizeof(*s));
	s->capacity = -1;
	if (!cJSON_IsObject(req) || !cJSON_IsObject(props)) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized.");
		return false;
	}
	s->location = _jstr(req, "location");
	if (!*s->location) {
		_error(r, 400, "LocationRequired", "The location property is "
		       "required for this definition.");
		return false;
	}
	if (!_chars_ok(s->location, 64, " ")) {
		_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute/virtualMachineScaleSets'.",
		       s->location);
		return false;
	}
	if (!cJSON_IsString(mode) || strcasecmp(mode->valuestring, "Flexible")) {
		_error(r, 400, "InvalidParameter", "The value '%.64s' of parameter "
		       "'properties.orchestrationMode' is not supported: "
		       "azure-emulator emulates only scale sets in Flexible "
		       "orchestration mode.", cJSON_IsString(mode) ?
		       mode->valuestring : "(none: Uniform)");
		return false;
	}
	fd = cJSON_GetObjectItem(props, "platformFaultDomainCount");
	if (!cJSON_IsNumber(fd) || fd->valuedouble != floor(fd->valuedouble) ||
	    fd->valuedouble < 1 || fd->valuedouble > 3) {
		_error(r, 400, "InvalidParameter", "Required parameter "
		       "'platformFaultDomainCount' is missing or invalid: a "
		       "scale set in Flexible orchestration mode needs 1, 2 or "
		       "3.");
		return false;
	}
	if (((x = cJSON_GetObjectItem(props, "singlePlacementGroup")) &&
	     !cJSON_IsBool(x) && !cJSON_IsNull(x)) ||
	    ((x = cJSON_GetObjectItem(props, "proximityPlacementGroup")) &&
	     !cJSON_IsNull(x) && (!cJSON_IsObject(x) ||
	      !cJSON_IsString(cJSON_GetObjectItem(x, "id")) ||
	      strlen(_jstr(x, "id")) > 1024))) {
		_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'singlePlacementGroup' must be a boolean and "
		       "'proximityPlacementGroup' an object with an 'id'.");
		return false;
	}
	if (!cJSON_IsObject(sku) || !cJSON_IsString(cJSON_GetObjectItem(sku,
								"name"))) {
		_error(r, 400, "InvalidParameter", "Required parameter "
		       "'sku.name' is missing (null).");
		return false;
	}
	s->size = _jstr(sku, "name");
	if (azml_catalog_resolve(s->size, &s->info)) {
		_error(r, 400, "InvalidParameter", "The value %.64s provided for "
		       "the VM size is not valid. The valid sizes in the current "
		       "region are listed by the vmSizes API.", s->size);
		return false;
	}
	if ((x = cJSON_GetObjectItem(sku, "tier")) && !cJSON_IsNull(x) &&
	    (!cJSON_IsString(x) || !_chars_ok(x->valuestring, 64, ""))) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'sku.tier' is invalid.");
		return false;
	}
	if ((cap = cJSON_GetObjectItem(sku, "capacity"))) {
		if (!cJSON_IsNumber(cap) || cap->valuedouble < 0 ||
		    cap->valuedouble > VMSS_VMS_MAX ||
		    cap->valuedouble != floor(cap->valuedouble)) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'sku.capacity' is invalid: a scale set "
			       "in Flexible orchestration mode has 0 to %d "
			       "virtual machines.", VMSS_VMS_MAX);
			return false;
		}
		s->capacity = (long) cap->valuedouble;
	}
	s->zones = cJSON_GetObjectItem(req, "zones");
	if (s->zones) {
		int nz = 0;

		if (!cJSON_IsArray(s->zones) || cJSON_GetArraySize(s->zones) > 3)
			nz = -1;
		cJSON_ArrayForEach(it, (nz < 0 ? NULL : s->zones)) {
			if (!cJSON_IsString(it) || !_zone_ok(it->valuestring)) {
				nz = -1;
				break;
			}
			for (const cJSON *p = s->zones->child; p != it; p = p->next)
				if (!strcmp(p->valuestring, it->valuestring))
					nz = -1;
		}
		if (nz < 0) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'zones' is invalid: at most three "
			       "distinct availability zones, such as "
			       "[\"1\",\"2\",\"3\"].");
			return false;
		}
	}
	s->tags = cJSON_GetObjectItem(req, "tags");
	if (!_tags_ok(s->tags, r))
		return false;
	s->profile = cJSON_GetObjectItem(props, "virtualMachineProfile");
	if (cJSON_IsNull(s->profile))
		s->profile = NULL;
	if (s->profile) {
		const cJSON *os = cJSON_GetObjectItem(s->profile, "osProfile");
		const cJSON *pre = cJSON_GetObjectItem(os, "computerNamePrefix");
		const char *prio = _jstr(s->profile, "priority");
		const cJSON *ev = cJSON_GetObjectItem(s->profile, "evictionPolicy");
		const cJSON *bp = cJSON_GetObjectItem(s->profile, "billingProfile");
		const cJSON *np = cJSON_GetObjectItem(s->profile,
						      "networkProfile");
		const cJSON *nics = cJSON_GetObjectItem(np,
			"networkInterfaceConfigurations");
		char *printed;
		size_t plen;

		if (!cJSON_IsObject(s->profile)) {
			_error(r, 400, "InvalidRequestContent", "The request "
			       "content was invalid and could not be "
			       "deserialized: 'virtualMachineProfile' must be an "
			       "object.");
			return false;
		}
		/* every VM of the set gets a copy */
		printed = cJSON_PrintUnformatted(s->profile);
		plen = printed ? strlen(printed) : SIZE_MAX;
		cJSON_free(printed);
		if (plen > VMSS_PROFILE_MAX) {
			_error(r, 400, "InvalidParameter", "The "
			       "virtualMachineProfile is too large for "
			       "azure-emulator: at most %d bytes of JSON.",
			       VMSS_PROFILE_MAX);
			return false;
		}
		if (pre && !cJSON_IsString(pre)) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'computerNamePrefix' is invalid.");
			return false;
		}
		s->prefix = pre ? pre->valuestring : name;
		if (!_computer_name_ok(s->prefix) || strlen(s->prefix) > 58) {
			_error(r, 400, "InvalidParameter", "The value '%.64s' of "
			       "parameter 'computerNamePrefix' is invalid: 1 to 58 "
			       "letters, digits and '-' (6 characters are "
			       "added to make a Linux host name of at most 64).",
			       s->prefix);
			return false;
		}
		snprintf(check, sizeof(check), "%sabcdef", s->prefix);
		if (!_vm_props_ok(s->profile, check, r))
			return false;
		if ((cJSON_GetObjectItem(s->profile, "priority") &&
		     !*prio) || (*prio && strcasecmp(prio, "Regular") &&
				 strcasecmp(prio, "Low") &&
				 strcasecmp(prio, "Spot"))) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'priority' is invalid: Regular, Low or "
			       "Spot.");
			return false;
		}
		s->spot = !strcasecmp(prio, "Spot") || !strcasecmp(prio, "Low");
		if (ev && !cJSON_IsNull(ev) && (!s->spot || !cJSON_IsString(ev) ||
		    (strcasecmp(ev->valuestring, "Delete") &&
		     strcasecmp(ev->valuestring, "Deallocate")))) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'evictionPolicy' is invalid: Delete or "
			       "Deallocate, for Spot virtual machines only.");
			return false;
		}
		if (bp && !cJSON_IsNull(bp) && (!cJSON_IsObject(bp) ||
		    (cJSON_GetObjectItem(bp, "maxPrice") &&
		     (!cJSON_IsNumber(cJSON_GetObjectItem(bp, "maxPrice")) ||
		      _jnum(bp, "maxPrice") < -1)))) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'billingProfile.maxPrice' is invalid: "
			       "-1 or a price.");
			return false;
		}
		if ((np && !cJSON_IsObject(np)) || (nics &&
		    (!cJSON_IsArray(nics) || cJSON_GetArraySize(nics) > 8))) {
			_error(r, 400, "InvalidParameter", "The value of "
			       "parameter 'networkInterfaceConfigurations' is "
			       "invalid: at most 8 of them.");
			return false;
		}
	} else if (s->capacity > 0) {
		_error(r, 400, "InvalidParameter", "A scale set without "
		       "'virtualMachineProfile' has no virtual machines of its "
		       "own: 'sku.capacity' must be 0.");
		return false;
	}
	return _identity_build(cJSON_GetObjectItem(req, "identity"), &s->ident,
			       r);
}

/* The set as GET shows it: sku.capacity its VM count, its etag, and
 * Azure's fields; its userData only when USERDATA. */
static cJSON *_vmss_view(const vmss_t *set, bool userdata)
{
	cJSON *o = cJSON_CreateObject(), *sku, *props;
	const cJSON *spec = set->spec, *it;
	char id[1024], etag[32];

	_vmss_id(id, sizeof(id), set->sub, set->rg, set->name);
	cJSON_AddStringToObject(o, "name", set->name);
	cJSON_AddStringToObject(o, "id", id);
	cJSON_AddStringToObject(o, "type",
				"Microsoft.Compute/virtualMachineScaleSets");
	cJSON_AddStringToObject(o, "location", _jstr(spec, "location"));
	if (cJSON_IsObject(it = cJSON_GetObjectItem(spec, "tags")))
		cJSON_AddItemToObject(o, "tags", cJSON_Duplicate(it, 1));
	if (cJSON_IsArray(it = cJSON_GetObjectItem(spec, "zones")))
		cJSON_AddItemToObject(o, "zones", cJSON_Duplicate(it, 1));
	if (set->identity)
		cJSON_AddItemToObject(o, "identity",
				      cJSON_Duplicate(set->identity, 1));
	it = cJSON_GetObjectItem(spec, "sku");
	sku = cJSON_IsObject(it) ? cJSON_Duplicate(it, 1) : cJSON_CreateObject();
	if (!cJSON_GetObjectItem(sku, "tier"))
		cJSON_AddStringToObject(sku, "tier", "Standard");
	cJSON_DeleteItemFromObject(sku, "capacity");
	cJSON_AddNumberToObject(sku, "capacity", _vmss_count(set));
	cJSON_AddItemToObject(o, "sku", sku);
	snprintf(etag, sizeof(etag), "\"%lu\"", set->etag);
	cJSON_AddStringToObject(o, "etag", etag);
	it = cJSON_GetObjectItem(spec, "properties");
	props = cJSON_IsObject(it) ? cJSON_Duplicate(it, 1) : cJSON_CreateObject();
	if (!userdata)
		cJSON_DeleteItemFromObject(cJSON_GetObjectItem(props,
				"virtualMachineProfile"), "userData");
	cJSON_DeleteItemFromObject(props, "orchestrationMode");
	cJSON_DeleteItemFromObject(props, "provisioningState");
	cJSON_DeleteItemFromObject(props, "uniqueId");
	cJSON_DeleteItemFromObject(props, "timeCreated");
	cJSON_AddStringToObject(props, "orchestrationMode", "Flexible");
	cJSON_AddStringToObject(props, "provisioningState", set->provisioning);
	cJSON_AddStringToObject(props, "uniqueId", set->unique_id);
	cJSON_AddStringToObject(props, "timeCreated", set->created);
	cJSON_AddItemToObject(o, "properties", props);
	return o;
}

/* Replace (or add) O's item K with V. */
static void _set_item(cJSON *o, const char *k, cJSON *v)
{
	cJSON_DeleteItemFromObject(o, k);
	cJSON_AddItemToObject(o, k, v);
}

/*
 * A new VM of SET from S in ZONE ("": none): named {set}_{8 hex digits},
 * computerName the prefix and 6 random characters, its NIC {vm}-nic, the
 * set's tags, identity and profile, properties.virtualMachineScaleSet.id
 * the set's id; Creating, with a create operation of its own that ends
 * with the set's.  Returns it, or NULL (no free name).
 */
static vm_t *_vmss_vm_new(vmss_t *set, const vmss_spec_t *s, const char *zone)
{
	static const char alnum[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	char name[80], key[400], id[1024], vmid[40], nic[96], computer[72];
	char stamp[64], set_id[1024];
	unsigned char rnd[8];
	time_t t = time(NULL);
	struct tm tm;
	cJSON *props, *os, *np, *ni, *e;
	vm_t *v;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		_random(rnd, 4);
		snprintf(name, sizeof(name), "%s_%02x%02x%02x%02x", set->name,
			 rnd[0], rnd[1], rnd[2], rnd[3]);
		_key_of(key, set->sub, set->rg, name);
		if (!_vm_find(key))
			break;
	}
	if (tries == 16)
		return NULL;
	_random(rnd, 6);
	snprintf(computer, sizeof(computer), "%s", s->prefix);
	for (int i = 0; i < 6; i++)
		computer[strlen(s->prefix) + i] = alnum[rnd[i] % 36];
	computer[strlen(s->prefix) + 6] = '\0';
	snprintf(nic, sizeof(nic), "%s-nic", name);
	v = _vm_new(set->sub, set->rg, name);
	v->location = strdup(s->location);
	_set_size(v, s->size);
	v->spot = s->spot;
	v->computer = strdup(computer);
	v->incarnation = 1;
	v->vmss = strdup(set->name);
	v->seq = ++S.vm_seq;
	v->nic = strdup(nic);
	snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Compute/virtualMachines/%s", set->sub, set->rg, name);
	_vmss_id(set_id, sizeof(set_id), set->sub, set->rg, set->name);
	_uuid(vmid);
	v->resource = cJSON_CreateObject();
	cJSON_AddStringToObject(v->resource, "name", name);
	cJSON_AddStringToObject(v->resource, "id", id);
	cJSON_AddStringToObject(v->resource, "type",
				"Microsoft.Compute/virtualMachines");
	cJSON_AddStringToObject(v->resource, "location", s->location);
	if (*zone) {
		e = cJSON_AddArrayToObject(v->resource, "zones");
		cJSON_AddItemToArray(e, cJSON_CreateString(zone));
	}
	if (cJSON_IsObject(s->tags))
		cJSON_AddItemToObject(v->resource, "tags",
				      cJSON_Duplicate(s->tags, 1));
	/* the set's identity (the request's has moved to the set by now) */
	if (set->identity && !S.f.identity_missing) {
		cJSON *ident = cJSON_Duplicate(set->identity, 1);

		if (cJSON_GetObjectItem(ident, "principalId")) {
			char guid[40];

			_guid_of("system:", id, guid);
			_set_item(ident, "principalId", cJSON_CreateString(guid));
		}
		cJSON_AddItemToObject(v->resource, "identity", ident);
	}
	props = s->profile ? cJSON_Duplicate(s->profile, 1) : cJSON_CreateObject();
	if (!cJSON_IsObject(os = cJSON_GetObjectItem(props, "osProfile")))
		_set_item(props, "osProfile", os = cJSON_CreateObject());
	cJSON_DeleteItemFromObject(os, "computerNamePrefix");
	_set_item(os, "computerName", cJSON_CreateString(computer));
	_set_item(props, "hardwareProfile", e = cJSON_CreateObject());
	cJSON_AddStringToObject(e, "vmSize", s->size);
	if (!cJSON_IsObject(np = cJSON_GetObjectItem(props, "networkProfile")))
		_set_item(props, "networkProfile", np = cJSON_CreateObject());
	_set_item(np, "networkInterfaces", ni = cJSON_CreateArray());
	e = cJSON_CreateObject();
	snprintf(key, sizeof(key), "/subscriptions/%s/resourceGroups/%s/providers/"
		 "Microsoft.Network/networkInterfaces/", set->sub, set->rg);
	snprintf(id, sizeof(id), "%s%s", key, nic);
	cJSON_AddStringToObject(e, "id", id);
	cJSON_AddItemToObject(e, "properties", os = cJSON_CreateObject());
	cJSON_AddBoolToObject(os, "primary", true);
	cJSON_AddStringToObject(os, "deleteOption", "Delete");
	cJSON_AddItemToArray(ni, e);
	_set_item(props, "virtualMachineScaleSet", e = cJSON_CreateObject());
	cJSON_AddStringToObject(e, "id", set_id);
	_set_item(props, "vmId", cJSON_CreateString(vmid));
	_set_item(props, "provisioningState", cJSON_CreateString("Creating"));
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	_set_item(props, "timeCreated", cJSON_CreateString(stamp));
	cJSON_AddItemToObject(v->resource, "properties", props);
	snprintf(v->provisioning, sizeof(v->provisioning), "Creating");
	snprintf(v->power, sizeof(v->power), "starting");
	_vm_insert(v);
	S.creates++;
	_op_new(OP_CREATE, v);
	_journal_vm(v);
	return v;
}

static int _by_seq_desc(const void *a, const void *b)
{
	const vm_t *x = *(vm_t *const *) a, *y = *(vm_t *const *) b;

	return x->seq < y->seq ? 1 : x->seq > y->seq ? -1 : 0;
}

/* Start deleting N of SET's VMs, the newest first (Azure's choice). */
static void _vmss_scale_in(vmss_t *set, int n)
{
	vm_t **m = malloc((S.nvms + 1) * sizeof(*m));
	size_t k = 0;

	if (!m)
		return;
	for (size_t b = 0; b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next)
			if (_vmss_member(set, v) && strcmp(v->provisioning,
							   "Deleting"))
				m[k++] = v;
	qsort(m, k, sizeof(*m), _by_seq_desc);
	for (size_t i = 0; i < k && (int) i < n; i++)
		_vm_mark_deleting(m[i]);
	free(m);
}

/* A set's operation headers: both Location and Azure-AsyncOperation. */
static void _vmss_op_headers(reply_t *r, const vmss_t *set, const op_t *op)
{
	_op_headers_at(r, set->sub, _jstr(set->spec, "location"), op, true,
		       true);
}

/* Of ZONES (NZ of them; ZC their VM counts), the one with the fewest
 * VMs: a set spreads over its zones.  Returns its index. */
static int _zone_pick(const int *zc, int nz)
{
	int best = 0;

	for (int i = 1; i < nz; i++)
		if (zc[i] < zc[best])
			best = i;
	return best;
}

/*
 * Write the set SET (NULL: create it as SUB/RG/NAME) from REQ (a PUT's
 * body, or a PATCH merged into the set; owned here), whose sku.capacity
 * the client gave when GIVEN.  Quota and SkuNotAvailable are checked up
 * front for the whole increase (nothing changes when they refuse); then
 * the VMs are made one by one until a capacity fault stops them, and the
 * one operation of the write fails with that fault.  A decrease deletes
 * the newest VMs.  Answers 201 (created) or 200 with the set and ETag.
 */
static void _vmss_write(vmss_t *set, const char *sub, const char *rg,
			const char *name, cJSON *req, bool given, reply_t *r)
{
	vmss_spec_t s;
	const char *zone[3] = { "" };
	int cur, target, fault = -1, zc[3] = { 0 }, nz = 0, i;
	bool created = !set;
	char id[1024], msg[512] = "";
	const cJSON *z;
	op_t *op;

	if (!_vmss_check(req, name, &s, r))
		goto out;
	if (set && strcasecmp(s.location, _jstr(set->spec, "location"))) {
		_error(r, 400, "InvalidParameter", "Changing property "
		       "'location' is not allowed.");
		goto out;
	}
	cur = set ? _vmss_count(set) : 0;
	target = given && s.capacity >= 0 ? (int) s.capacity : cur;
	cJSON_ArrayForEach(z, (cJSON_IsArray(s.zones) ? s.zones : NULL))
		if (nz < 3)
			zone[nz++] = z->valuestring;
	for (size_t b = 0; set && nz && b < NBUCKETS; b++)
		for (vm_t *v = S.vms[b]; v; v = v->next)
			for (i = 0; i < nz; i++)
				if (_vmss_member(set, v) &&
				    strcmp(v->provisioning, "Deleting") &&
				    !strcmp(_vm_zone(v), zone[i]))
					zc[i]++;
	if (target > cur) {
		const char *zn = nz ? zone[_zone_pick(zc, nz)] : "";

		fault = _capacity_fault(s.info.name, zn);
		if (fault >= 0 && capacity_codes[fault].at_once) {
			_error(r, 409, capacity_codes[fault].code, "The requested "
			       "VM size for resource 'Following SKUs have failed "
			       "for Capacity Restrictions: %s' is currently not "
			       "available in location '%s'. Please try another "
			       "size or deploy to a different location or zones.",
			       s.size, s.location);
			goto out;
		}
		if (!_quota_n_ok(azml_series_quota_family(s.info.series),
				 s.info.vcpus, s.spot, s.location, target - cur, r))
			goto out;
	}
	if (created) {
		time_t t = time(NULL);
		struct tm tm;

		if (S.nsets >= VMSS_MAX || !(set = calloc(1, sizeof(*set)))) {
			_error(r, 409, "OperationNotAllowed", "azure-emulator "
			       "keeps at most %d scale sets.", VMSS_MAX);
			goto out;
		}
		_key_of(set->key, sub, rg, name);
		set->sub = strdup(sub);
		set->rg = strdup(rg);
		set->name = strdup(name);
		_uuid(set->unique_id);
		gmtime_r(&t, &tm);
		strftime(set->created, sizeof(set->created),
			 "%Y-%m-%dT%H:%M:%S+00:00", &tm);
		_vmss_insert(set);
	}
	cJSON_Delete(set->spec);
	set->spec = req;
	req = NULL;
	cJSON_Delete(set->identity);
	set->identity = s.ident;
	s.ident = NULL;
	if (set->identity && cJSON_GetObjectItem(set->identity, "principalId")) {
		char guid[40];

		_vmss_id(id, sizeof(id), set->sub, set->rg, set->name);
		_guid_of("system:", id, guid);
		_set_item(set->identity, "principalId", cJSON_CreateString(guid));
	}
	fault = -1;
	for (i = cur; i < target; i++) {
		int zi = nz ? _zone_pick(zc, nz) : 0;

		fault = _capacity_fault(s.info.name, nz ? zone[zi] : "");
		if (fault >= 0)
			break;		/* no hardware for the rest */
		if (!_vmss_vm_new(set, &s, nz ? zone[zi] : ""))
			break;
		zc[zi]++;
	}
	if (fault >= 0 && !capacity_codes[fault].message)
		snprintf(msg, sizeof(msg), "The requested VM size for resource "
			 "'Following SKUs have failed for Capacity Restrictions: "
			 "%.64s' is currently not available in location '%.64s'. "
			 "Please try another size or deploy to a different "
			 "location or zones.", s.size, s.location);
	if (target < cur)
		_vmss_scale_in(set, cur - target);
	snprintf(set->provisioning, sizeof(set->provisioning), "Updating");
	op = _op_new_key(OP_VMSS, set->key);
	if (fault >= 0) {
		op->err_code = strdup(capacity_codes[fault].code);
		op->err_msg = strdup(capacity_codes[fault].message ?
				     capacity_codes[fault].message : msg);
		_journal_op(op);
	}
	_vmss_touch(set);
	_json(r, created ? 201 : 200, _vmss_view(set, false));
	_header(r, "ETag", "\"%lu\"", set->etag);
	_vmss_op_headers(r, set, op);
out:
	cJSON_Delete(s.ident);
	cJSON_Delete(req);
}

/* Whether the entity tag E (as a header gives it: "3", 3, W/"3") is
 * SET's. */
static bool _etag_is(const char *e, size_t len, const vmss_t *set)
{
	char want[32];

	while (len && *e == ' ')
		e++, len--;
	while (len && e[len - 1] == ' ')
		len--;
	if (len >= 2 && !strncmp(e, "W/", 2))
		e += 2, len -= 2;
	if (len >= 2 && e[0] == '"' && e[len - 1] == '"')
		e++, len -= 2;
	snprintf(want, sizeof(want), "%lu", set->etag);
	return len == strlen(want) && !strncmp(e, want, len);
}

/* Whether header H (a list of tags, or *) names SET (NULL: none). */
static bool _etag_match(const char *h, const vmss_t *set)
{
	int n = 0;

	if (!set)
		return false;
	while (*h && n++ < 64) {
		size_t len = strcspn(h, ",");
		const char *t = h;

		while (*t == ' ')
			t++;
		if (*t == '*' || _etag_is(h, len, set))
			return true;
		h += len + (h[len] == ',');
	}
	return false;
}

/*
 * The request's If-Match (the set's etag, or *, for an existing set) and
 * If-None-Match (* or the etag: the set must not be so).  Returns true,
 * or false with Azure's 412 PreconditionFailed in R.
 */
static bool _vmss_precondition(struct MHD_Connection *c, const vmss_t *set,
			       reply_t *r)
{
	const char *im = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     "If-Match");
	const char *inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						      "If-None-Match");

	if ((im && !_etag_match(im, set)) || (inm && _etag_match(inm, set))) {
		_error(r, 412, "PreconditionFailed", "The condition specified "
		       "using HTTP conditional header(s) is not met.");
		return false;
	}
	return true;
}

/* RFC 7386 JSON merge patch: PATCH into TARGET, an object (keys compared
 * case aside, as ARM reads them); null removes a key. */
static void _merge_patch(cJSON *target, const cJSON *patch)
{
	const cJSON *p;

	cJSON_ArrayForEach(p, patch) {
		cJSON *t = cJSON_GetObjectItem(target, p->string);

		if (cJSON_IsNull(p))
			cJSON_DeleteItemFromObject(target, p->string);
		else if (cJSON_IsObject(p) && cJSON_IsObject(t))
			_merge_patch(t, p);
		else if (t)
			cJSON_ReplaceItemViaPointer(target, t,
						    cJSON_Duplicate(p, 1));
		else
			cJSON_AddItemToObject(target, p->string,
					      cJSON_Duplicate(p, 1));
	}
}

/*
 * POST .../virtualMachineScaleSets/{name}/delete {"instanceIds":[...]}:
 * delete exactly those VMs of the set (all or none: an id that is not one
 * of its VMs is 400 InvalidParameter), one operation for the batch.
 */
static void _vmss_delete_instances(vmss_t *set, const char *body, reply_t *r)
{
	cJSON *req = cJSON_Parse(body ? body : "");
	const cJSON *ids = cJSON_GetObjectItem(req, "instanceIds"), *it;
	vm_t **vms = NULL;
	int n = 0, k = 0;
	op_t *op;

	if (!cJSON_IsArray(ids) || !(n = cJSON_GetArraySize(ids))) {
		_error(r, 400, "InvalidParameter", "Required parameter "
		       "'instanceIds' is missing or empty.");
		goto out;
	}
	if (n > VMSS_IDS_MAX) {
		_error(r, 400, "InvalidParameter", "The value of parameter "
		       "'instanceIds' is invalid: at most %d instance ids a "
		       "request.", VMSS_IDS_MAX);
		goto out;
	}
	if (!(vms = calloc(n, sizeof(*vms)))) {
		_error(r, 500, "InternalServerError", "out of memory");
		goto out;
	}
	cJSON_ArrayForEach(it, ids) {
		char key[400];
		vm_t *v = NULL;

		if (cJSON_IsString(it) && _name_ok(it->valuestring)) {
			_key_of(key, set->sub, set->rg, it->valuestring);
			v = _vm_find(key);
		}
		if (!v || !_vmss_member(set, v)) {
			_error(r, 400, "InvalidParameter", "The value '%.80s' of "
			       "parameter 'instanceIds' is invalid: it is not a "
			       "virtual machine of scale set '%s'.",
			       cJSON_IsString(it) ? it->valuestring : "",
			       set->name);
			goto out;
		}
		vms[k++] = v;
	}
	/* twice named, or already going: deleted once */
	for (int i = 0; i < k; i++)
		if (strcmp(vms[i]->provisioning, "Deleting"))
			_vm_mark_deleting(vms[i]);
	snprintf(set->provisioning, sizeof(set->provisioning), "Updating");
	op = _op_new_key(OP_VMSS, set->key);
	_vmss_touch(set);
	r->status = 202;
	_vmss_op_headers(r, set, op);
out:
	free(vms);
	cJSON_Delete(req);
}

/* DELETE .../virtualMachineScaleSets/{name}: the set and all its VMs. */
static void _vmss_delete(vmss_t *set, reply_t *r)
{
	op_t *op = NULL;

	if (strcmp(set->provisioning, "Deleting")) {
		for (size_t b = 0; b < NBUCKETS; b++)
			for (vm_t *v = S.vms[b]; v; v = v->next)
				if (_vmss_member(set, v) &&
				    strcmp(v->provisioning, "Deleting"))
					_vm_mark_deleting(v);
		snprintf(set->provisioning, sizeof(set->provisioning),
			 "Deleting");
		_vmss_touch(set);
	} else {	/* a second delete joins the first */
		for (size_t b = 0; b < NBUCKETS && !op; b++)
			for (op_t *o = S.ops[b]; o; o = o->next)
				if (o->kind == OP_VMSS_DELETE && !o->finished &&
				    !strcmp(o->vmkey, set->key))
					op = o;
	}
	if (!op)
		op = _op_new_key(OP_VMSS_DELETE, set->key);
	r->status = 202;
	_vmss_op_headers(r, set, op);
}

static void _vmss_list(const char *sub, const char *rg,
		       struct MHD_Connection *c, reply_t *r)
{
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "value");
	const char *skip_s = _arg(c, "$skiptoken");
	long skip = skip_s ? atol(skip_s) : 0, seen = 0, added = 0;
	char prefix[400];

	snprintf(prefix, sizeof(prefix), "%s/%s/", sub, rg);
	_lower(prefix);
	for (vmss_t *set = S.sets; set; set = set->next) {
		if (strncmp(set->key, prefix, strlen(prefix)) || seen++ < skip)
			continue;
		if (added == S.f.page_size) {
			char next[1024];

			snprintf(next, sizeof(next), "http://%s:%d/subscriptions/"
				 "%s/resourceGroups/%s/providers/Microsoft.Compute/"
				 "virtualMachineScaleSets?api-version=2024-07-01&"
				 "$skiptoken=%ld", S.listen_host, S.port, sub, rg,
				 skip + added);
			cJSON_AddStringToObject(o, "nextLink", next);
			break;
		}
		cJSON_AddItemToArray(arr, _vmss_view(set, false));
		added++;
	}
	_json(r, 200, o);
}

/*
 * .../virtualMachineScaleSets[/{name}[/delete]]: list, GET, PUT, PATCH,
 * DELETE and the batched delete.  Writes take a token of the ARM write
 * bucket, then of Compute's policy.
 */
static void _vmss(struct MHD_Connection *c, const char *method,
		  const char *sub, const char *rg, const char *name,
		  const char *action, const char *body, reply_t *r)
{
	char key[400];
	vmss_t *set;
	bool put = !strcmp(method, "PUT"), patch = !strcmp(method, "PATCH");

	if (!name) {
		if (strcmp(method, "GET")) {
			_error(r, 405, "MethodNotAllowed", "azure-emulator lists "
			       "scale sets with GET.");
			return;
		}
		if (_compute_take(r, CP_LIST))
			_vmss_list(sub, rg, c, r);
		return;
	}
	_key_of(key, sub, rg, name);
	set = _vmss_find(key);
	if (!action && !strcmp(method, "GET")) {
		const char *expand = _arg(c, "$expand");

		if (!_compute_take(r, CP_GET_VMSS))
			return;
		if (!set) {
			_error(r, 404, "ResourceNotFound", "The Resource "
			       "'Microsoft.Compute/virtualMachineScaleSets/%s' "
			       "under resource group '%s' was not found.", name, rg);
			return;
		}
		_json(r, 200, _vmss_view(set, expand &&
					 !strcasecmp(expand, "userData")));
		_header(r, "ETag", "\"%lu\"", set->etag);
		return;
	}
	if (!action && !strcmp(method, "DELETE") && !set) {
		r->status = 204;	/* already gone: as Azure answers */
		return;
	}
	if (!(!action && (put || patch || !strcmp(method, "DELETE"))) &&
	    !(action && !strcmp(action, "delete") && !strcmp(method, "POST"))) {
		_error(r, 400, "InvalidRequestUri", "azure-emulator does not "
		       "serve %s %s on a scale set", method, action ? action : "");
		return;
	}
	if (!_take_write_token(r) ||
	    !_compute_take(r, put || patch ? CP_PUT_VMSS : action ?
			   CP_VMSS_ACTIONS : CP_DELETE_VMSS))
		return;
	if (!set && !put) {
		_error(r, 404, "ResourceNotFound", "The Resource "
		       "'Microsoft.Compute/virtualMachineScaleSets/%s' under "
		       "resource group '%s' was not found.", name, rg);
		return;
	}
	if (put && strlen(name) > VMSS_NAME_MAX) {
		_error(r, 400, "InvalidParameter", "azure-emulator: a scale set's "
		       "name is at most %d characters, so that its VMs' names "
		       "{name}_{8 hex digits} and their NICs' fit in 64.",
		       VMSS_NAME_MAX);
		return;
	}
	if (!_vmss_precondition(c, set, r))
		return;
	/* a second DELETE joins the first */
	if (set && !strcmp(set->provisioning, "Deleting") &&
	    (action || strcmp(method, "DELETE"))) {
		_error(r, 409, "OperationNotAllowed", "Operation '%s' is not "
		       "allowed on scale set '%s' since it is marked for "
		       "deletion.", method, set->name);
		return;
	}
	if (S.f.locked && !put && !patch) {
		_error(r, 409, "ScopeLocked", "The scope '/subscriptions/%s/"
		       "resourceGroups/%s/providers/Microsoft.Compute/"
		       "virtualMachineScaleSets/%s' cannot perform delete "
		       "operation because following scope(s) are locked: "
		       "'/subscriptions/%s/resourceGroups/%s'. Please remove the "
		       "lock and try again.", sub, rg, name, sub, rg);
		return;
	}
	if (action) {
		_vmss_delete_instances(set, body, r);
	} else if (!strcmp(method, "DELETE")) {
		_vmss_delete(set, r);
	} else {
		cJSON *req = cJSON_Parse(body ? body : ""), *merged = req;
		bool given = cJSON_IsNumber(cJSON_GetObjectItem(
			cJSON_GetObjectItem(req, "sku"), "capacity"));

		if (patch) {
			if (!cJSON_IsObject(req)) {
				cJSON_Delete(req);
				_error(r, 400, "InvalidRequestContent", "The "
				       "request content was invalid and could "
				       "not be deserialized.");
				return;
			}
			merged = cJSON_Duplicate(set->spec, 1);
			_merge_patch(merged, req);
			cJSON_Delete(req);
		}
		_vmss_write(set, sub, rg, name, merged, given, r);
	}
}

/* /subscriptions/... */
static void _arm(struct MHD_Connection *c, const char *method, char *path,
		 const char *body, reply_t *r)
{
	char *seg[16];
	int n = _segments(path, seg, 16);

	token_state_t ts = _token_state(c);

	if (ts != TOKEN_OK) {
		if (ts == TOKEN_MISSING)
			_error(r, 401, "AuthenticationFailed", "Authentication "
			       "failed. The 'Authorization' header is missing.");
		else if (ts == TOKEN_EXPIRED)
			_error(r, 401, "ExpiredAuthenticationToken", "The access "
			       "token expiry UTC time is earlier than current "
			       "UTC time.");
		else
			_error(r, 401, "InvalidAuthenticationToken", "The access "
			       "token is invalid.");
		_header(r, "WWW-Authenticate", "Bearer authorization_uri="
			"\"http://%s:%d/common\"", S.listen_host, S.port);
		return;
	}
	if (!_arg(c, "api-version")) {
		_error(r, 400, "MissingApiVersionParameter", "The api-version "
		       "query parameter (?api-version=) is required for all "
		       "requests.");
		return;
	}
	if (S.f.error_rate > 0 &&
	    rand_r(&S.seed) / (double) RAND_MAX < S.f.error_rate) {
		S.errors_injected++;
		if (rand_r(&S.seed) % 2) {
			_error(r, 503, "ServerBusy", "The server is currently "
			       "unable to handle the request.");
			_header(r, "Retry-After", "1");
		} else {
			_error(r, 500, "InternalServerError", "An internal server "
			       "error occurred.");
		}
		return;
	}
	/* names become keys, ids and headers: Azure's rules bound them */
	if (n < 2 || !_chars_ok(seg[1], 64, "-")) {
		_error(r, 400, "InvalidSubscriptionId", "The provided subscription "
		       "identifier '%.64s' is malformed or invalid.",
		       n < 2 ? "" : seg[1]);
		return;
	}
	if (n >= 4 && !strcasecmp(seg[2], "resourceGroups") && !_rg_ok(seg[3])) {
		_error(r, 400, "InvalidResourceGroupName", "Resource group names "
		       "only allow up to 90 characters and alphanumeric "
		       "characters, periods, underscores, hyphens and "
		       "parenthesis and cannot end in a period.");
		return;
	}
	if (n >= 6 && !strcasecmp(seg[4], "locations") &&
	    !_chars_ok(seg[5], 64, "")) {
		_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute'.", seg[5]);
		return;
	}
	/* subscriptions/S/providers/Microsoft.Compute/locations/L/{usages,vmSizes,operations/ID,operationResults/ID} */
	if (n >= 6 && !strcasecmp(seg[2], "providers") &&
	    !strcasecmp(seg[3], "Microsoft.Compute") &&
	    !strcasecmp(seg[4], "locations")) {
		if (n == 7 && !strcasecmp(seg[6], "usages") && !strcmp(method, "GET"))
			return _usages(seg[5], r);
		if (n == 7 && !strcasecmp(seg[6], "vmSizes") && !strcmp(method, "GET"))
			return _vm_sizes(r);
		if (n == 8 && !strcasecmp(seg[6], "operations"))
			return _operation(seg[7], false, r);
		if (n == 8 && !strcasecmp(seg[6], "operationResults"))
			return _operation(seg[7], true, r);
	}
	/* subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines[/NAME[/ACTION]] */
	if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
	    !strcasecmp(seg[4], "providers")) {
		if (!strcasecmp(seg[5], "Microsoft.Compute") &&
		    !strcasecmp(seg[6], "virtualMachines")) {
			if (n == 7 && !strcmp(method, "GET")) {
				if (_compute_take(r, CP_LIST))
					_vm_list(seg[1], seg[3], c, r);
				return;
			}
			if (n >= 8 && !_name_ok(seg[7])) {
				_error(r, 400, "InvalidResourceName", "The "
				       "resource name '%.64s' is invalid.", seg[7]);
				return;
			}
			if (n == 8 && !strcmp(method, "PUT")) {
				if (_take_write_token(r) &&
				    _compute_take(r, CP_PUT_VM))
					_vm_put(c, seg[1], seg[3], seg[7], body, r);
				return;
			}
			if (n == 8 || n == 9)
				return _vm_action(method, seg[1], seg[3], seg[7],
						  n == 9 ? seg[8] : NULL, c, r);
		}
		/* .../virtualMachineScaleSets[/NAME[/delete]] */
		if (!strcasecmp(seg[5], "Microsoft.Compute") &&
		    !strcasecmp(seg[6], "virtualMachineScaleSets") && n <= 9) {
			if (n >= 8 && !_name_ok(seg[7])) {
				_error(r, 400, "InvalidResourceName", "The "
				       "resource name '%.64s' is invalid.", seg[7]);
				return;
			}
			return _vmss(c, method, seg[1], seg[3], n >= 8 ? seg[7] :
				     NULL, n == 9 ? seg[8] : NULL, body, r);
		}
		if (n == 8 && !strcasecmp(seg[5], "Microsoft.Network") &&
		    !strcasecmp(seg[6], "networkInterfaces") &&
		    !strcmp(method, "GET"))
			return _nic_get(seg[1], seg[3], seg[7], r);
	}
	_error(r, 404, "InvalidResourceType", "azure-emulator does not serve %s "
	       "on this path.", method);
}

/* ---------------------------------------------------------------------- */
/* Admin API: /emulator/... */

/*
 * Apply the faults of J.  Returns 0, or -1 with what is wrong in ERR and
 * nothing changed (a capacity map with an unknown size or code).
 */
static int _faults_apply(const cJSON *j, char *err, size_t n)
{
	const cJSON *v;
	cJSON *capacity = NULL;

	if ((v = cJSON_GetObjectItem(j, "capacity")) && cJSON_IsObject(v) &&
	    !(capacity = _capacity_map(v, err, n)))
		return -1;

	if ((v = cJSON_GetObjectItem(j, "latency_ms")) && cJSON_IsNumber(v))
		S.f.latency_ms = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "async_ms")) && cJSON_IsNumber(v))
		S.f.async_ms = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "write_burst")) && cJSON_IsNumber(v)) {
		S.f.write_burst = v->valuedouble;
		S.tokens = v->valuedouble;
		S.tokens_at = _now();
	}
	if ((v = cJSON_GetObjectItem(j, "write_rate")) && cJSON_IsNumber(v))
		S.f.write_rate = v->valuedouble;
	if ((v = cJSON_GetObjectItem(j, "error_rate")) && cJSON_IsNumber(v))
		S.f.error_rate = v->valuedouble;
	if ((v = cJSON_GetObjectItem(j, "page_size")) && cJSON_IsNumber(v) &&
	    v->valueint > 0)
		S.f.page_size = v->valueint;
	if ((v = cJSON_GetObjectItem(j, "quota")) && cJSON_IsObject(v)) {
		cJSON_Delete(S.f.quota);
		S.f.quota = cJSON_Duplicate(v, 1);
	}
	if (capacity) {
		cJSON_Delete(S.f.capacity);
		S.f.capacity = capacity;
	}
	if ((v = cJSON_GetObjectItem(j, "locked")) && cJSON_IsBool(v))
		S.f.locked = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "nic_ip")) && cJSON_IsString(v))
		snprintf(S.f.nic_ip, sizeof(S.f.nic_ip), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItem(j, "node_tag")) && cJSON_IsString(v))
		snprintf(S.f.node_tag, sizeof(S.f.node_tag), "%s", v->valuestring);
	if ((v = cJSON_GetObjectItem(j, "identity_missing")) && cJSON_IsBool(v))
		S.f.identity_missing = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "compute_limits")) && cJSON_IsBool(v))
		S.f.compute_limits = cJSON_IsTrue(v);
	if ((v = cJSON_GetObjectItem(j, "prices_status")) && cJSON_IsNumber(v) &&
	    (v->valueint == 0 || (v->valueint >= 200 && v->valueint <= 599)))
		S.f.prices_status = v->valueint;
	return 0;
}

static cJSON *_faults_json(void)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "latency_ms", S.f.latency_ms);
	cJSON_AddNumberToObject(o, "async_ms", S.f.async_ms);
	cJSON_AddNumberToObject(o, "write_burst", S.f.write_burst);
	cJSON_AddNumberToObject(o, "write_rate", S.f.write_rate);
	cJSON_AddNumberToObject(o, "error_rate", S.f.error_rate);
	cJSON_AddNumberToObject(o, "page_size", S.f.page_size);
	cJSON_AddItemToObject(o, "quota", cJSON_Duplicate(S.f.quota, 1));
	cJSON_AddItemToObject(o, "capacity", cJSON_Duplicate(S.f.capacity, 1));
	cJSON_AddBoolToObject(o, "locked", S.f.locked);
	cJSON_AddStringToObject(o, "nic_ip", S.f.nic_ip);
	cJSON_AddStringToObject(o, "node_tag", S.f.node_tag);
	cJSON_AddNumberToObject(o, "prices_status", S.f.prices_status);
	cJSON_AddBoolToObject(o, "identity_missing", S.f.identity_missing);
	cJSON_AddBoolToObject(o, "compute_limits", S.f.compute_limits);
	return o;
}

static void _admin(struct MHD_Connection *c, const char *method, char *path,
		   const char *body, reply_t *r)
{
	char *seg[8];
	int n = _segments(path, seg, 8);

	if (!r->trusted) {
		_error(r, 403, "AuthorizationFailed", "azure-emulator: its admin "
		       "API answers only root, its own user and --allow-user "
		       "users.");
		return;
	}
	if (n == 2 && !strcmp(seg[1], "faults")) {
		if (!strcmp(method, "POST") || !strcmp(method, "PUT")) {
			cJSON *j = cJSON_Parse(body ? body : "");
			char err[512];

			if (!cJSON_IsObject(j)) {
				cJSON_Delete(j);
				_error(r, 400, "InvalidRequestContent",
				       "expected a JSON object of faults");
				return;
			}
			if (_faults_apply(j, err, sizeof(err)) < 0) {
				cJSON_Delete(j);
				_error(r, 400, "InvalidFault", "azure-emulator: "
				       "%s; no fault changed", err);
				return;
			}
			cJSON_Delete(j);
		}
		_json(r, 200, _faults_json());
		return;
	}
	if (n == 2 && !strcmp(seg[1], "stats")) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "requests", S.requests);
		cJSON_AddNumberToObject(o, "writes", S.writes);
		cJSON_AddNumberToObject(o, "throttled", S.throttled);
		cJSON_AddNumberToObject(o, "errors_injected", S.errors_injected);
		cJSON_AddNumberToObject(o, "creates", S.creates);
		cJSON_AddNumberToObject(o, "creates_refused", S.creates_refused);
		cJSON_AddNumberToObject(o, "deletes", S.deletes);
		cJSON_AddNumberToObject(o, "vms", S.nvms);
		cJSON_AddNumberToObject(o, "vmss", S.nsets);
		cJSON_AddNumberToObject(o, "compute_throttled",
					S.compute_throttled);
		{
			cJSON *w = cJSON_AddObjectToObject(o, "writes_by_type");

			cJSON_AddNumberToObject(w, "virtualMachines", S.writes_vm);
			cJSON_AddNumberToObject(w, "virtualMachineScaleSets",
						S.writes_vmss);
			cJSON_AddNumberToObject(w, "other", S.writes_other);
		}
		_json(r, 200, o);
		return;
	}
	if (n == 2 && !strcmp(seg[1], "vms")) {
		cJSON *arr = cJSON_CreateArray();

		for (size_t b = 0; b < NBUCKETS; b++)
			for (vm_t *v = S.vms[b]; v; v = v->next) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddStringToObject(o, "name", v->name);
				cJSON_AddStringToObject(o, "node", v->node ? v->node : "");
				cJSON_AddStringToObject(o, "size", v->size);
				cJSON_AddStringToObject(o, "provisioningState", v->provisioning);
				cJSON_AddStringToObject(o, "powerState", v->power);
				cJSON_AddBoolToObject(o, "spot", v->spot);
				cJSON_AddNumberToObject(o, "pid", v->pgid);
				cJSON_AddStringToObject(o, "computerName",
					v->computer ? v->computer : "");
				{
					cJSON *ids = cJSON_AddArrayToObject(o, "identities"), *it;
					char console[4096];

					cJSON_ArrayForEach(it, cJSON_GetObjectItem(
						cJSON_GetObjectItem(v->resource, "identity"),
						"userAssignedIdentities"))
						cJSON_AddItemToArray(ids,
							cJSON_CreateString(it->string));
					cJSON_AddStringToObject(o, "console",
						!_console_path(v, console, sizeof(console)) ?
						console : S.boot_log ? S.boot_log : "");
				}
				cJSON_AddBoolToObject(o, "booted", v->pgid > 0);
				if (v->vmss)
					cJSON_AddStringToObject(o, "vmss", v->vmss);
				cJSON_AddItemToArray(arr, o);
			}
		_json(r, 200, arr);
		return;
	}
	if (n == 2 && !strcmp(seg[1], "reset") && !strcmp(method, "POST")) {
		/* stop every VM and forget everything but the tokens */
		while (S.sets) {
			vmss_t *set = S.sets;

			_vmss_unlink(set);
			_journal_vmss_gone(set);
			_vmss_free(set);
		}
		for (size_t b = 0; b < NBUCKETS; b++) {
			while (S.vms[b])
				_vm_destroy(S.vms[b]);
			while (S.ops[b]) {
				op_t *o = S.ops[b];

				S.ops[b] = o->next;
				free(o->err_code);
				free(o->err_msg);
				free(o);
			}
		}
		r->status = 204;
		return;
	}
	if (n == 3 && (!strcmp(seg[1], "evict") || !strcmp(seg[1], "events")) &&
	    !strcmp(method, "POST")) {
		vm_t *v = _name_ok(seg[2]) ? _vm_by_name(seg[2]) : NULL;
		const char *in = _arg(c, "in"), *dur = _arg(c, "duration");
		const char *type = !strcmp(seg[1], "evict") ? "Preempt" :
				   _arg(c, "type");
		ev_kind_t k = EV_NONE;
		double secs = in ? strtod(in, NULL) : 30;

		for (int i = EV_FREEZE; i <= EV_TERMINATE; i++)
			if (type && !strcasecmp(type, ev_names[i]))
				k = (ev_kind_t) i;
		if (k == EV_NONE) {
			_error(r, 400, "InvalidParameter", "type must be Freeze, "
			       "Reboot, Redeploy, Preempt or Terminate");
			return;
		}
		if (!v) {
			_error(r, 404, "ResourceNotFound", "no VM '%.64s'", seg[2]);
			return;
		}
		if (k == EV_PREEMPT && !v->spot) {
			_error(r, 409, "OperationNotAllowed", "VM '%s' is not a "
			       "Spot VM; only Spot VMs are evicted", v->name);
			return;
		}
		if (v->ev != EV_NONE && v->event_started) {
			_error(r, 409, "OperationNotAllowed", "VM '%s' has a %s "
			       "event under way", v->name, ev_names[v->ev]);
			return;
		}
		_uuid(v->event_id);
		_lower(v->event_id);
		/* NaN and the absurd become "at once" or a day */
		if (!(secs >= 0))
			secs = 0;
		v->ev = k;
		v->ev_at = _now() + (secs > 86400 ? 86400 : secs);
		v->ev_duration = -1;
		if (k == EV_FREEZE) {
			double d = dur ? strtod(dur, NULL) : 5;

			v->ev_duration = d >= 0 ? (d > 3600 ? 3600 : (int) d) : 5;
		}
		v->event_started = false;
		v->incarnation++;
		r->status = 202;
		return;
	}
	_error(r, 404, "NotFound", "azure-emulator admin: GET|POST /emulator/"
	       "faults, GET /emulator/stats, GET /emulator/vms, POST "
	       "/emulator/evict/VM?in=SECONDS, POST /emulator/events/VM?type="
	       "TYPE&in=SECONDS[&duration=SECONDS], POST /emulator/reset");
}

/* ---------------------------------------------------------------------- */

/* An ARM write, as the subscription's write limit counts them. */
static bool _arm_write(const char *url, const char *method)
{
	return !strncmp(url, "/subscriptions/", 15) &&
	       (!strcmp(method, "PUT") || !strcmp(method, "POST") ||
		!strcmp(method, "DELETE") || !strcmp(method, "PATCH"));
}

/* Count an ARM write by its resource type: .../providers/NS/TYPE/... */
static void _count_write(const char *url)
{
	char buf[1024], *seg[16];
	int n;

	if (strlen(url) >= sizeof(buf)) {
		S.writes_other++;
		return;
	}
	strcpy(buf, url);
	n = _segments(buf, seg, 16);
	if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
	    !strcasecmp(seg[4], "providers") &&
	    !strcasecmp(seg[5], "Microsoft.Compute") &&
	    !strcasecmp(seg[6], "virtualMachines"))
		S.writes_vm++;
	else if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
		 !strcasecmp(seg[4], "providers") &&
		 !strcasecmp(seg[5], "Microsoft.Compute") &&
		 !strcasecmp(seg[6], "virtualMachineScaleSets"))
		S.writes_vmss++;
	else
		S.writes_other++;
}

/* A VM's create (or update): PUT .../virtualMachines/NAME. */
static bool _vm_put_url(const char *url, const char *method)
{
	char buf[1024], *seg[16];
	int n;

	if (strcmp(method, "PUT") || strlen(url) >= sizeof(buf))
		return false;
	strcpy(buf, url);
	n = _segments(buf, seg, 16);
	return n == 8 && !strcasecmp(seg[2], "resourceGroups") &&
	       !strcasecmp(seg[4], "providers") &&
	       !strcasecmp(seg[5], "Microsoft.Compute") &&
	       !strcasecmp(seg[6], "virtualMachines");
}

static void _retail_prices(struct MHD_Connection *c, const char *method,
			   reply_t *r);

static enum MHD_Result _handler(void *cls, struct MHD_Connection *c,
				const char *url, const char *method,
				const char *version, const char *upload,
				size_t *upload_size, void **con_cls)
{
	upload_t *up = *con_cls;
	reply_t r = { 0 };
	struct MHD_Response *resp;
	char *path;
	enum MHD_Result ret;
	char reqid[40];

	if (!up) {
		*con_cls = up = calloc(1, sizeof(*up));
		return up ? MHD_YES : MHD_NO;
	}
	if (*upload_size) {
		char *nb = NULL;

		/* past MAX_BODY the rest is read and dropped: 413 at the end */
		if (up->too_big || up->len + *upload_size > MAX_BODY ||
		    !(nb = realloc(up->body, up->len + *upload_size + 1))) {
			up->too_big = true;
		} else {
			up->body = nb;
			memcpy(up->body + up->len, upload, *upload_size);
			up->len += *upload_size;
			up->body[up->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}

	path = strdup(url);
	/* outside the lock: it reads /proc */
	if (!strncmp(url, "/metadata/", 10) || !strncmp(url, "/emulator/", 10) ||
	    (!S.client_secret && strstr(url, "/oauth2/")))
		r.trusted = _peer_trusted(c);
	if (S.f.latency_ms > 0 && strncmp(url, "/emulator/", 10))
		usleep(S.f.latency_ms * 1000);
	pthread_mutex_lock(&S.lock);
	S.requests++;
	/* every write the client sent counts, refused or not */
	if (_arm_write(url, method)) {
		S.writes++;
		_count_write(url);
	}
	_tick();
	if (up->too_big)
		_error(&r, 413, "RequestEntityTooLarge", "The request content "
		       "size exceeds the maximum of %d bytes.", MAX_BODY);
	else if (!strncmp(url, "/subscriptions/", 15))
		_arm(c, method, path, up->body, &r);
	else if (!strcmp(url, "/metadata/identity/oauth2/token") &&
		 !strcmp(method, "GET"))
		_imds_token(c, &r);
	else if (!strcmp(url, "/metadata/scheduledevents"))
		_scheduled_events(c, method, up->body, &r);
	else if ((!strcmp(url, "/metadata/instance") ||
		  !strcmp(url, "/metadata/instance/compute") ||
		  !strcmp(url, "/metadata/instance/compute/userData")) &&
		 !strcmp(method, "GET"))
		_imds_instance(c, url, &r);
	else if (!strncmp(url, "/keyvault/", 10))
		_keyvault(c, method, path, &r);
	else if (!strcmp(url, "/api/retail/prices"))
		_retail_prices(c, method, &r);
	else if (!strncmp(url, "/emulator-blob/", 15))
		_blob(method, path, c, &r);
	else if (!strncmp(url, "/emulator/", 10))
		_admin(c, method, path, up->body, &r);
	else if (strstr(url, "/oauth2/v2.0/token") && !strcmp(method, "POST"))
		_token_v2(c, up->body, &r);
	else
		_error(&r, 404, "NotFound", "azure-emulator serves /subscriptions/..., "
		       "/{tenant}/oauth2/v2.0/token, /metadata/..., /keyvault/..., "
		       "/emulator-blob/... and /emulator/...");
	if ((!r.status || r.status >= 400) && _vm_put_url(url, method))
		S.creates_refused++;
	pthread_mutex_unlock(&S.lock);
	free(path);

	resp = MHD_create_response_from_buffer(r.len ? r.len : r.body ?
					       strlen(r.body) : 0,
					       r.body ? r.body : "",
					       MHD_RESPMEM_MUST_COPY);
	if (r.body)
		MHD_add_response_header(resp, "Content-Type", r.ctype ? r.ctype :
					"application/json; charset=utf-8");
	_uuid(reqid);
	MHD_add_response_header(resp, "x-ms-request-id", reqid);
	for (int i = 0; i < r.nheaders; i++)
		MHD_add_response_header(resp, r.headers[i][0], r.headers[i][1]);
	ret = MHD_queue_response(c, r.status ? r.status : 500, resp);
	MHD_destroy_response(resp);
	if (r.wipe && r.body)
		explicit_bzero(r.body, strlen(r.body));
	free(r.body);
	return ret;
}

/* ---- the Retail Prices API (prices.azure.com/api/retail/prices) ---- */

/*
 * A few meters of the kind the API lists for eastus (USD): each size's
 * Linux, Spot, Low Priority and Windows hours, and the P4 OS disk's month.
 * For tests and the demo, not a price list: a real cluster reads the API.
 */
static const struct {
	const char *arm;	/* armSkuName; NULL: the disk */
	const char *sku;	/* skuName without " Spot" / " Low Priority" */
	const char *product;	/* productName, Linux */
	double linux_hour, spot_hour, low_hour, windows_hour;
} retail[] = {
	{ "Standard_D2s_v3", "D2s v3", "Virtual Machines DSv3 Series",
	  0.096, 0.0115, 0.0192, 0.188 },
	{ "Standard_D4s_v3", "D4s v3", "Virtual Machines DSv3 Series",
	  0.192, 0.023, 0.0384, 0.376 },
	{ "Standard_D8s_v3", "D8s v3", "Virtual Machines DSv3 Series",
	  0.384, 0.046, 0.0768, 0.752 },
	{ "Standard_F2s_v2", "F2s v2", "Virtual Machines FSv2 Series",
	  0.0846, 0.0102, 0.0169, 0.1766 },
	{ "Standard_DS3_v2", "DS3 v2", "Virtual Machines DSv2 Series",
	  0.229, 0.0275, 0.0458, 0.385 },
	{ "Standard_NC6s_v3", "NC6s v3", "Virtual Machines NCSv3 Series",
	  3.06, 0.3672, 0.612, 3.24 },
	{ "Standard_NC24ads_A100_v4", "NC24ads A100 v4",
	  "Virtual Machines NCads A100 v4 Series", 3.673, 0.4408, 0.7346, 4.041 },
	{ "Standard_HB120rs_v3", "HB120rs v3", "Virtual Machines HBrsv3 Series",
	  3.6, 0.432, 0.72, 3.96 },
	{ NULL, "P4 LRS", "Premium SSD Managed Disks", 5.28, 0, 0, 0 },
};

static bool _retail_match(const cJSON *item, char (*field)[64],
			  char (*value)[128], int nclauses)
{
	for (int i = 0; i < nclauses; i++) {
		/* the filter's priceType is the item's "type" */
		const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(item,
			!strcmp(field[i], "priceType") ? "type" : field[i]));

		/* values are case-sensitive since 2023-01-01-preview */
		if (!v || strcmp(v, value[i]))
			return false;
	}
	return true;
}

static cJSON *_retail_item(const char *region, const char *arm,
			   const char *sku, const char *product, double price,
			   const char *unit, const char *service,
			   const char *meter)
{
	cJSON *o = cJSON_CreateObject();
	char id[40];

	cJSON_AddStringToObject(o, "currencyCode", "USD");
	cJSON_AddNumberToObject(o, "tierMinimumUnits", 0);
	cJSON_AddNumberToObject(o, "retailPrice", price);
	cJSON_AddNumberToObject(o, "unitPrice", price);
	cJSON_AddStringToObject(o, "armRegionName", region);
	cJSON_AddStringToObject(o, "location", "US East");
	cJSON_AddStringToObject(o, "effectiveStartDate", "2024-04-01T00:00:00Z");
	_uuid(id);
	cJSON_AddStringToObject(o, "meterId", id);
	cJSON_AddStringToObject(o, "meterName", meter);
	cJSON_AddStringToObject(o, "productId", "DZH318Z0BQ4L");
	cJSON_AddStringToObject(o, "skuId", "DZH318Z0BQ4L/00TG");
	cJSON_AddStringToObject(o, "productName", product);
	cJSON_AddStringToObject(o, "skuName", sku);
	cJSON_AddStringToObject(o, "serviceName", service);
	cJSON_AddStringToObject(o, "serviceId", "DZH313Z7MMC8");
	cJSON_AddStringToObject(o, "serviceFamily", arm ? "Compute" : "Storage");
	cJSON_AddStringToObject(o, "unitOfMeasure", unit);
	cJSON_AddStringToObject(o, "type", "Consumption");
	cJSON_AddBoolToObject(o, "isPrimaryMeterRegion", true);
	cJSON_AddStringToObject(o, "armSkuName", arm ? arm : "");
	return o;
}

/* GET /api/retail/prices?$filter=F eq 'V' and ...&$skip=N: no sign-in,
 * pages with NextPageLink pointing at prices.azure.com, as the real one. */
static void _retail_prices(struct MHD_Connection *c, const char *method,
			   reply_t *r)
{
	const char *filter = _arg(c, "$filter"), *skip_s = _arg(c, "$skip");
	char field[8][64], value[8][128];
	int nclauses = 0, page = S.f.page_size > 0 ? S.f.page_size : 1000;
	long skip = 0, count = 0, at = 0;
	cJSON *o, *items, *all;

	if (strcmp(method, "GET")) {
		_error(r, 405, "MethodNotAllowed", "only GET");
		return;
	}
	if (S.f.prices_status && S.f.prices_status != 200) {
		_error(r, S.f.prices_status, "ServiceUnavailable",
		       "the Retail Prices API is unavailable (a fault)");
		return;
	}
	if (skip_s) {
		char *end;

		skip = strtol(skip_s, &end, 10);
		if (*end || skip < 0 || skip > 10000000) {
			_error(r, 400, "BadRequest", "$skip must be a number");
			return;
		}
	}
	/* F eq 'V' [and F eq 'V']... */
	for (const char *p = filter; p && *p; ) {
		int used = 0;

		if (nclauses == 8 ||
		    sscanf(p, " %63[A-Za-z] eq '%127[^']'%n", field[nclauses],
			   value[nclauses], &used) != 2 || !used) {
			_error(r, 400, "BadRequest", "Invalid OData $filter: "
			       "expected FIELD eq 'VALUE' joined by 'and'");
			return;
		}
		nclauses++;
		p += used;
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (strncmp(p, "and ", 4)) {
			_error(r, 400, "BadRequest", "Invalid OData $filter: "
			       "expected 'and' between clauses");
			return;
		}
		p += 4;
	}
	all = cJSON_CreateArray();
	for (size_t i = 0; i < sizeof(retail) / sizeof(*retail); i++) {
		const char *region = "eastus";
		char sku[96], meter[96], prod[160];

		if (!retail[i].arm) {
			snprintf(meter, sizeof(meter), "%s Disk", retail[i].sku);
			cJSON_AddItemToArray(all, _retail_item(region, NULL,
				retail[i].sku, retail[i].product,
				retail[i].linux_hour, "1/Month", "Storage", meter));
			continue;
		}
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm,
			retail[i].sku, retail[i].product, retail[i].linux_hour,
			"1 Hour", "Virtual Machines", retail[i].sku));
		snprintf(sku, sizeof(sku), "%s Spot", retail[i].sku);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm, sku,
			retail[i].product, retail[i].spot_hour, "1 Hour",
			"Virtual Machines", sku));
		snprintf(sku, sizeof(sku), "%s Low Priority", retail[i].sku);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm, sku,
			retail[i].product, retail[i].low_hour, "1 Hour",
			"Virtual Machines", sku));
		snprintf(prod, sizeof(prod), "%s Windows", retail[i].product);
		cJSON_AddItemToArray(all, _retail_item(region, retail[i].arm,
			retail[i].sku, prod, retail[i].windows_hour, "1 Hour",
			"Virtual Machines", retail[i].sku));
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "BillingCurrency", "USD");
	cJSON_AddStringToObject(o, "CustomerEntityId", "Default");
	cJSON_AddStringToObject(o, "CustomerEntityType", "Retail");
	items = cJSON_AddArrayToObject(o, "Items");
	{
		cJSON *it;

		cJSON_ArrayForEach(it, all) {
			if (!_retail_match(it, field, value, nclauses))
				continue;
			if (at++ < skip || count >= page)
				continue;
			cJSON_AddItemReferenceToArray(items, it);
			count++;
		}
	}
	if (skip + count < at) {
		char *next = NULL;

		if (asprintf(&next, "https://prices.azure.com:443/api/retail/"
			     "prices?$filter=%s&$skip=%ld", filter ? filter : "",
			     skip + count) > 0) {
			cJSON_AddStringToObject(o, "NextPageLink", next);
			free(next);
		}
	} else {
		cJSON_AddNullToObject(o, "NextPageLink");
	}
	cJSON_AddNumberToObject(o, "Count", count);
	{
		char *text = cJSON_PrintUnformatted(o);

		cJSON_Delete(o);	/* the references first, */
		cJSON_Delete(all);	/* then what they point at */
		r->status = 200;
		r->body = text;
	}
}

static void _completed(void *cls, struct MHD_Connection *c, void **con_cls,
		       enum MHD_RequestTerminationCode toe)
{
	upload_t *up = *con_cls;

	if (up) {
		free(up->body);
		free(up);
	}
	*con_cls = NULL;
}

static void _on_signal(int sig)
{
	stop_flag = 1;
}

static void _no_op(int sig)
{
	(void) sig;
}

/* The private directories of each sandbox (a tmpfs each): its own munged
 * and key, and a slurmd that finds no slurm.conf (configless). */
static const char *const sandbox_dirs[] = {
	"/etc/munge", "/run/munge", "/var/lib/munge", "/var/log/munge",
	"/run/slurm", "/var/spool/slurmd", "/etc/slurm",
};

static int _mkdir_p(const char *path)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			if (mkdir(buf, 0755) && errno != EEXIST)
				return -1;
			*p = '/';
		}
	return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

/*
 * azure-emulator --sandbox-init HOSTNAME -- COMMAND...: PID 1 of a VM's
 * PID namespace (internal; _boot runs it under unshare).  It names the
 * host, mounts the private tmpfs, runs COMMAND, and then reaps every
 * orphan for as long as the VM lives (slurmd as PID 1 would not, and its
 * nodes drain with "JOB NOT ENDING WITH SIGNALS").  The command exiting
 * does not end the VM: the daemons it started live on.  SIGTERM (the VM
 * halts) is forwarded to every process of the namespace, SIGKILL follows a
 * second later, and then it exits, which makes the kernel kill whatever
 * is left, daemons that called setsid included.  SIGUSR1 and SIGUSR2
 * stop and continue every other process (a Freeze event).
 */
/*
 * What --node-init needs, checked before anything starts: not
 * --boot-command too, root (namespaces and mounts), util-linux unshare,
 * time namespaces, and a console directory of our own (mode 0700).
 * Returns 0, or -1 with a message on stderr.
 */
static int _node_init_setup(void)
{
	static char dflt[4096];
	const char *paths[] = { "/usr/bin/unshare", "/bin/unshare" };
	ssize_t n;
	struct stat sb;

	if (S.boot_command) {
		fprintf(stderr, "azure-emulator: --node-init and --boot-command "
			"are two ways to boot a VM: give one of them\n");
		return -1;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "azure-emulator: --node-init boots VMs in "
			"namespaces of their own and mounts their private "
			"directories: it needs root\n");
		return -1;
	}
	for (size_t i = 0; i < 2 && !S.unshare[0]; i++)
		if (!access(paths[i], X_OK))
			snprintf(S.unshare, sizeof(S.unshare), "%s", paths[i]);
	if (!S.unshare[0]) {
		fprintf(stderr, "azure-emulator: --node-init needs util-linux's "
			"unshare(1) (/usr/bin/unshare): install util-linux\n");
		return -1;
	}
	if (access("/proc/self/ns/time", F_OK)) {
		fprintf(stderr, "azure-emulator: --node-init needs time "
			"namespaces (Linux 5.6 or later)\n");
		return -1;
	}
	if ((n = readlink("/proc/self/exe", S.self_exe,
			  sizeof(S.self_exe) - 1)) <= 0) {
		fprintf(stderr, "azure-emulator: couldn't find its own binary: "
			"%s\n", strerror(errno));
		return -1;
	}
	S.self_exe[n] = '\0';
	if (!S.console_dir) {
		if (S.state_path)
			snprintf(dflt, sizeof(dflt), "%s.consoles", S.state_path);
		else if (!mkdtemp(strcpy(dflt, "/tmp/azure-emulator-consoles."
						"XXXXXX"))) {
			fprintf(stderr, "azure-emulator: couldn't make a console "
				"directory: %s\n", strerror(errno));
			return -1;
		}
		S.console_dir = dflt;
	}
	if ((mkdir(S.console_dir, 0700) && errno != EEXIST) ||
	    lstat(S.console_dir, &sb) || !S_ISDIR(sb.st_mode) ||
	    sb.st_uid != geteuid() || chmod(S.console_dir, 0700)) {
		fprintf(stderr, "azure-emulator: --console-dir %s: not a "
			"directory of root's own that it can make mode 0700\n",
			S.console_dir);
		return -1;
	}
	return 0;
}

/* Whether /proc/self/mountinfo shows a mount in a shared peer group. */
static bool _shared_mounts(void)
{
	char line[4096];
	bool shared = false;
	FILE *fp = fopen("/proc/self/mountinfo", "re");

	if (!fp)
		return true;
	while (!shared && fgets(line, sizeof(line), fp)) {
		char *sep = strstr(line, " - ");

		/* the optional fields come before " - " */
		if (sep)
			*sep = '\0';
		shared = strstr(line, " shared:") != NULL;
	}
	fclose(fp);
	return shared;
}

static int _sandbox_init(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = _no_op };
	const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD, SIGUSR1, SIGUSR2 };
	sigset_t set, old;
	pid_t pid;

	if (argc < 5 || strcmp(argv[3], "--") || !_computer_name_ok(argv[2])) {
		fprintf(stderr, "azure-emulator: --sandbox-init HOSTNAME -- "
			"COMMAND... is for azure-emulator's own use\n");
		return 2;
	}
	if (getpid() != 1) {
		fprintf(stderr, "azure-emulator: --sandbox-init must be PID 1 of "
			"a PID namespace\n");
		return 2;
	}
	/* every signal it handles waits for sigwaitinfo: blocked signals
	 * reach a namespace's init, which ignores those it has no handler
	 * for */
	sigemptyset(&set);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigaction(sigs[i], &sa, NULL);
		sigaddset(&set, sigs[i]);
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	if (sethostname(argv[2], strlen(argv[2]))) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't set hostname "
			"'%s': %s\n", argv[2], strerror(errno));
		return 1;
	}
	/* Nothing mounted here may show in another namespace.  In a chroot,
	 * "/" is no mount point (EINVAL; unshare's own --propagation private
	 * fails there): go on only when no mount we can see is shared (a
	 * chroot entered through "unshare --propagation slave", as
	 * tests/chroot.sh does). */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) &&
	    (errno != EINVAL || _shared_mounts())) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't make the "
			"mounts private (%s)\n", errno == EINVAL ?
			"a chroot with shared mounts" : strerror(errno));
		return 1;
	}
	for (size_t i = 0; i < sizeof(sandbox_dirs) / sizeof(sandbox_dirs[0]); i++)
		if (_mkdir_p(sandbox_dirs[i]) ||
		    mount("tmpfs", sandbox_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV,
			  "mode=0755")) {
			fprintf(stderr, "azure-emulator: sandbox: couldn't mount "
				"a tmpfs on %s: %s\n", sandbox_dirs[i],
				strerror(errno));
			return 1;
		}
	if ((pid = fork()) < 0) {
		fprintf(stderr, "azure-emulator: sandbox: couldn't fork: %s\n",
			strerror(errno));
		return 1;
	}
	if (pid == 0) {
		signal(SIGCHLD, SIG_DFL);
		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			signal(sigs[i], SIG_DFL);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execv(argv[4], argv + 4);
		fprintf(stderr, "azure-emulator: sandbox: couldn't run %s: %s\n",
			argv[4], strerror(errno));
		_exit(127);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&set, &si);

		if (sig == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
		} else if (sig == SIGUSR1) {
			kill(-1, SIGSTOP);
		} else if (sig == SIGUSR2) {
			kill(-1, SIGCONT);
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
			struct timespec t0, t;

			kill(-1, SIGCONT);
			kill(-1, SIGTERM);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			do {
				while (waitpid(-1, NULL, WNOHANG) > 0)
					;
				if (kill(-1, 0) && errno == ESRCH)
					return 0;	/* all gone */
				usleep(20000);
				clock_gettime(CLOCK_MONOTONIC, &t);
			} while ((t.tv_sec - t0.tv_sec) * 1000 +
				 (t.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
			kill(-1, SIGKILL);
			return 0;
		}
	}
}

static void _usage(FILE *fp)
{
	fprintf(fp,
"usage: azure-emulator --listen 127.0.0.1:PORT [--state FILE]\n"
"                      [--boot-command 'CMD {vm} {node} {ip}'] [--boot-log FILE]\n"
"                      [--latency-ms N] [--async-ms N] [--error-rate P]\n"
"                      [--write-burst N --write-rate R] [--page-size N]\n"
"                      [--quota FAMILY=VCPUS]...\n"
"                      [--capacity SIZE[@ZONE]=CODE[:N]]...\n"
"                      [--client-secret SECRET] [--seed N] [--allow-user USER]...\n"
"                      [--node-init 'CMD {vm} {node} {ip}'] [--console-dir DIR]\n"
"                      [--secret NAME=FILE]... [--vault-reader IDENTITY_ID]...\n"
"                      [--compute-limits]\n"
"See azure-emulator(8).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "state", required_argument, NULL, 's' },
		{ "boot-command", required_argument, NULL, 'b' },
		{ "boot-log", required_argument, NULL, 'g' },
		{ "latency-ms", required_argument, NULL, 'L' },
		{ "async-ms", required_argument, NULL, 'A' },
		{ "error-rate", required_argument, NULL, 'E' },
		{ "write-burst", required_argument, NULL, 'W' },
		{ "write-rate", required_argument, NULL, 'R' },
		{ "page-size", required_argument, NULL, 'P' },
		{ "quota", required_argument, NULL, 'q' },
		{ "capacity", required_argument, NULL, 'c' },
		{ "client-secret", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'r' },
		{ "allow-user", required_argument, NULL, 'u' },
		{ "node-init", required_argument, NULL, 'N' },
		{ "console-dir", required_argument, NULL, 'C' },
		{ "secret", required_argument, NULL, 'K' },
		{ "vault-reader", required_argument, NULL, 'V' },
		{ "compute-limits", no_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct MHD_Daemon *d;
	struct sigaction sa = { 0 };
	char *colon, *end;
	const char *listen_arg = NULL;
	int c;
	struct sockaddr_in addr = { .sin_family = AF_INET };

	if (argc > 1 && !strcmp(argv[1], "--sandbox-init"))
		return _sandbox_init(argc, argv);
	S.f.async_ms = 500;
	S.f.page_size = 100;
	S.f.quota = cJSON_CreateObject();
	S.f.capacity = cJSON_CreateObject();
	S.seed = (unsigned) time(NULL);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		char *eq;

		switch (c) {
		case 'l': listen_arg = optarg; break;
		case 's': S.state_path = optarg; break;
		case 'b': S.boot_command = optarg; break;
		case 'g': S.boot_log = optarg; break;
		case 'L': S.f.latency_ms = atoi(optarg); break;
		case 'A': S.f.async_ms = atoi(optarg); break;
		case 'E': S.f.error_rate = atof(optarg); break;
		case 'W': S.f.write_burst = S.tokens = atof(optarg); break;
		case 'R': S.f.write_rate = atof(optarg); break;
		case 'P': S.f.page_size = atoi(optarg) > 0 ? atoi(optarg) : 100; break;
		case 'S': S.client_secret = optarg; break;
		case 'r': S.seed = (unsigned) atoi(optarg); break;
		case 'N': S.node_init = optarg; break;
		case 'C': S.console_dir = optarg; break;
		case 'T': S.f.compute_limits = true; break;
		case 'K':
			if (_secret_load(optarg))
				return 2;
			break;
		case 'V':
			if (!_identity_id_ok(optarg)) {
				fprintf(stderr, "azure-emulator: --vault-reader: "
					"'%s' is not a user-assigned identity's "
					"resource id (/subscriptions/S/resourceGroups/"
					"RG/providers/Microsoft.ManagedIdentity/"
					"userAssignedIdentities/NAME)\n", optarg);
				return 2;
			}
			if (S.nreaders == READERS_MAX) {
				fprintf(stderr, "azure-emulator: at most %d "
					"--vault-reader\n", READERS_MAX);
				return 2;
			}
			S.readers[S.nreaders] = strdup(optarg);
			_lower(S.readers[S.nreaders++]);
			break;
		case 'u': {
			struct passwd *pw = getpwnam(optarg);
			char *e;
			unsigned long u = strtoul(optarg, &e, 10);

			if (!pw && (*e || e == optarg)) {
				fprintf(stderr, "azure-emulator: --allow-user: no "
					"user '%s'\n", optarg);
				return 2;
			}
			if (S.nallowed == sizeof(S.allowed) / sizeof(S.allowed[0])) {
				fprintf(stderr, "azure-emulator: at most %zu "
					"--allow-user\n", S.nallowed);
				return 2;
			}
			S.allowed[S.nallowed++] = pw ? pw->pw_uid : (uid_t) u;
			break;
		}
		case 'q':
		case 'c':
			if (!(eq = strchr(optarg, '=')) || eq == optarg) {
				fprintf(stderr, "azure-emulator: --%s expects "
					"NAME=VALUE, got '%s'\n",
					c == 'q' ? "quota" : "capacity", optarg);
				return 2;
			}
			*eq = '\0';
			if (c == 'q') {
				cJSON_AddNumberToObject(S.f.quota, optarg,
							atoi(eq + 1));
			} else {
				cJSON *val = cJSON_CreateString(eq + 1);
				char err[512];
				int bad = _capacity_add(S.f.capacity, optarg,
							val, err, sizeof(err));

				cJSON_Delete(val);
				if (bad) {
					fprintf(stderr, "azure-emulator: --%s\n",
						err);
					return 2;
				}
			}
			break;
		case 'h':
			_usage(stdout);
			return 0;
		default:
			_usage(stderr);
			return 2;
		}
	}
	if (!listen_arg || !(colon = strrchr(listen_arg, ':'))) {
		fprintf(stderr, "azure-emulator: --listen 127.0.0.1:PORT is required\n");
		return 2;
	}
	snprintf(S.listen_host, sizeof(S.listen_host), "%.*s",
		 (int) (colon - listen_arg), listen_arg);
	S.port = (int) strtol(colon + 1, &end, 10);
	if (*end || S.port < 1 || S.port > 65535 ||
	    inet_pton(AF_INET, S.listen_host, &addr.sin_addr) != 1 ||
	    (ntohl(addr.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "azure-emulator: --listen must be a loopback "
			"address and port, like 127.0.0.1:8443\n");
		return 2;
	}
	addr.sin_port = htons(S.port);
	S.listen_addr = addr.sin_addr;
	if (S.node_init && _node_init_setup())
		return 2;
	S.tokens_at = _now();
	if (S.state_path) {
		_replay(S.state_path);
		_compact(S.state_path);
	}
	/* Boot commands are reaped by the kernel. */
	sa.sa_handler = SIG_DFL;
	sa.sa_flags = SA_NOCLDWAIT;
	sigaction(SIGCHLD, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	sa.sa_handler = _on_signal;
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
			     MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
			     S.port, NULL, NULL, _handler, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
			     MHD_OPTION_NOTIFY_COMPLETED, _completed, NULL,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 120,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned) 4096,
			     MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "azure-emulator: cannot listen on %s: %s\n",
			listen_arg, strerror(errno));
		return 1;
	}
	fprintf(stderr, "azure-emulator: listening on http://%s:%d/\n",
		S.listen_host, S.port);
	while (!stop_flag) {
		usleep(100000);
		pthread_mutex_lock(&S.lock);
		_tick();
		pthread_mutex_unlock(&S.lock);
	}
	MHD_stop_daemon(d);
	if (S.journal)
		fclose(S.journal);
	return 0;
}

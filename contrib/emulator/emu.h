/*
 * emu.h - what the files of the Azure emulator share: its resources' types,
 * each service's state (owned by the file named beside it: only that file
 * writes it, others call that file's emu_ functions or read it under the
 * lock), and the functions one file offers the others.
 *
 * Every request is answered under emu_lock (http.c), as is the daemon's
 * tick (main.c), so the state below is read and written under that lock.
 */
#ifndef AZURE_EMULATOR_EMU_H
#define AZURE_EMULATOR_EMU_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <netinet/in.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

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
#define VMSS_MIX_MAX 5		/* sizes of an instance mix (skuProfile) */

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
	int ident;		/* its user-assigned identity, an index in emu_auth_st.idents; -1: none */
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
				 * emu_capacity_codes; keys canonical */
	bool locked;		/* a delete lock on the resource group */
	/* A hostile or broken Azure, to test what clients trust: */
	char nic_ip[64];	/* the NICs' privateIPAddress ("": 127.0.0.1) */
	char node_tag[128];	/* the slurm-node tag VMs are shown with ("": theirs) */
	bool identity_missing;	/* VMs are made without their identities */
	bool compute_limits;	/* --compute-limits: 429 past a policy */
	int prices_status;	/* the Retail Prices API answers this (0: 200) */
} faults_t;

/* Microsoft.Compute's throttling policies in groups of two (faults.c). */
enum { CP_PUT_VM, CP_DELETE_VM, CP_GET, CP_LIST, CP_GET_VMSS, CP_PUT_VMSS,
       CP_DELETE_VMSS, CP_VMSS_ACTIONS };

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

/* The tenant of every identity the emulator shows. */
#define EMU_TENANT "72f988bf-0000-4000-8000-00000000e0e0"

/* Capacity faults' codes (faults.c), as --capacity names them. */
struct emu_capacity_code {
	const char *code;
	bool at_once;		/* 409 to the PUT, not a failed operation */
	const char *message;	/* NULL: SkuNotAvailable's, made per request */
};
extern const struct emu_capacity_code emu_capacity_codes[];

/* Scheduled Events' names by ev_kind_t (imds.c). */
extern const char *const emu_ev_names[];

typedef enum { TOKEN_OK, TOKEN_MISSING, TOKEN_UNKNOWN, TOKEN_EXPIRED } token_state_t;

/* ---------------------------------------------------------------------- */
/* Each service's state, defined in (and written only by) the file named. */

extern pthread_mutex_t emu_lock;	/* http.c: held for every request */

/* vm.c: the VMs, hashed by key */
struct emu_vm_state {
	vm_t *vms[NBUCKETS];
	size_t nvms;
	unsigned long vm_seq;	/* the newest VM's seq */
};
extern struct emu_vm_state emu_vm_st;

/* vmss.c: the scale sets */
struct emu_vmss_state {
	vmss_t *sets;		/* oldest first: a stable order for paging */
	size_t nsets;
};
extern struct emu_vmss_state emu_vmss_st;

/* operations.c: long-running operations, hashed by id */
struct emu_op_state {
	op_t *ops[NBUCKETS];
};
extern struct emu_op_state emu_op_st;

/* faults.c: the faults in force (--options and POST /emulator/faults) */
extern faults_t emu_faults;
/* Fill the write bucket to write_burst, as of now. */
void emu_write_bucket_reset(void);

/* util.c: the random source (--seed) */
extern unsigned emu_seed;

/* entra.c: the bearer tokens handed out and the identities they name */
struct emu_auth_state {
	token_t *issued;	/* oldest first */
	size_t nissued, capissued;
	char *client_secret;	/* NULL: any non-empty secret */
	char *idents[IDENTS_MAX];	/* lower-case identity ids tokens name */
	size_t nidents;
};
extern struct emu_auth_state emu_auth_st;

/* sandbox.c: how VMs boot */
struct emu_boot_state {
	char *boot_command;
	char *boot_log;
	char *node_init;	/* --node-init: boot in a sandbox */
	char *console_dir;	/* the VMs' serial logs */
	char *layer_dir;	/* --image-layers: each VM's disk layer */
	char self_exe[4096];	/* this binary: the sandbox's init */
	char unshare[64];	/* util-linux unshare(1) */
	char *vault_hosts[16];	/* --vault-host: names a sandbox's /etc/hosts
				 * gives --vault-listen's address */
	size_t nvault_hosts;
	char *sandbox_ca;	/* --sandbox-ca: added to a sandbox's CA store */
	char hosts_file[4200];	/* made at setup: the sandbox's /etc/hosts */
	char ca_file[4200];	/* and its ca-certificates.crt ("": none) */
};
extern struct emu_boot_state emu_boot_st;

/* http.c: where the emulator listens and whom it trusts */
struct emu_net_state {
	char listen_host[64];
	int port;
	struct in_addr listen_addr;
	bool tls;		/* --tls-cert: --listen serves https */
	const char *cloud;	/* --cloud: whose ARM audiences ARM takes */
	char base_url[96];	/* "https://127.0.0.1:PORT" (http:// without
				 * TLS): the scheme and host of URLs we hand out */
	char imds_url[96];	/* where IMDS answers: --imds-listen's plain
				 * http URL, else base_url */
	int imds_port;		/* --imds-listen's port; 0: none (IMDS is
				 * served on --listen's) */
	struct MHD_Daemon *imds_daemon;	/* --imds-listen's, or NULL */
	struct in_addr vault_addr;	/* --vault-listen's address */
	int vault_port;			/* and port; 0: no such listener */
	struct MHD_Daemon *vault_daemon;	/* --vault-listen's, or NULL */
	uid_t allowed[16];	/* besides root and our own user: --allow-user */
	size_t nallowed;
};
extern struct emu_net_state emu_net_st;

/* admin.c: the counters GET /emulator/stats shows */
struct emu_stats {
	unsigned long requests, writes, throttled, errors_injected, creates,
		creates_refused, deletes, compute_throttled;
	unsigned long writes_vm, writes_vmss, writes_other;	/* by type */
};
extern struct emu_stats emu_stats;

/* ---------------------------------------------------------------------- */
/* Functions */

/* util.c */
double emu_now(void);
uint32_t emu_hash(const char *s);
void emu_uuid(char *out);
void emu_lower(char *s);
bool emu_name_ok(const char *s);
bool emu_node_name_ok(const char *s);
bool emu_chars_ok(const char *s, size_t max, const char *extra);
bool emu_rg_ok(const char *s);
size_t emu_utf8_len(const char *s);
bool emu_computer_name_ok(const char *s);
bool emu_base64_ok(const char *s, size_t len);
char *emu_base64(const unsigned char *in, size_t n);
bool emu_identity_id_ok(const char *id);
void emu_guid_of(const char *salt, const char *s, char *out);
void emu_key_of(char *out, const char *sub, const char *rg, const char *name);

/* vm.c */
void emu_vm_reset(void);
vm_t *emu_vm_find(const char *key);
void emu_vm_unlink(vm_t *vm);
void emu_vm_free(vm_t *v);
vm_t *emu_vm_new(const char *sub, const char *rg, const char *name);
void emu_vm_insert(vm_t *v);
void emu_set_size(vm_t *v, const char *size);
const char *emu_vm_zone(const vm_t *v);
void emu_set_instance_state(vm_t *v, const char *prov, const char *power);
void emu_vm_destroy(vm_t *v);
bool emu_tags_ok(const cJSON *tags, reply_t *r);
vm_t *emu_vm_by_name(const char *name);
bool emu_identity_build(const cJSON *in, cJSON **out, reply_t *r);
const char *emu_vm_props_ok(const cJSON *props, const char *name,
				reply_t *r);
/* vm_check.c: the spec's required properties and enums of a VM's PROPS,
 * beyond emu_vm_props_ok; false with Azure's 400 in R. */
bool emu_vm_spec_ok(const cJSON *props, reply_t *r);
void emu_vm_put(struct MHD_Connection *c, const char *sub, const char *rg,
		    const char *name, const char *body, reply_t *r);
void emu_vmss_id(char *out, size_t n, const char *sub, const char *rg,
		     const char *name);
void emu_vm_list(const char *sub, const char *rg, struct MHD_Connection *c,
		     reply_t *r);
op_t *emu_vm_mark_deleting(vm_t *v);
void emu_vm_patch(const char *sub, const char *rg, const char *name,
		  const char *body, reply_t *r);
void emu_vm_action(const char *method, const char *sub, const char *rg,
		       const char *name, const char *action,
		       struct MHD_Connection *c, reply_t *r);
void emu_nic_get(const char *sub, const char *rg, const char *name, reply_t *r);

/* operations.c */
void emu_ops_reset(void);
op_t *emu_op_find(const char *id);
void emu_tick(void);
op_t *emu_op_new_key(op_kind_t kind, const char *key);
op_t *emu_op_new(op_kind_t kind, const vm_t *v);
void emu_op_headers(reply_t *r, const vm_t *v, const op_t *op, bool location);
void emu_op_headers_at(reply_t *r, const char *sub, const char *loc,
			   const op_t *op, bool location, bool async);
void emu_operation(const char *id, bool location, reply_t *r);

/* state.c: --state FILE (not copied: it must outlive the emulator's run),
 * whether a journal is open, and its close at exit */
void emu_state_set_path(const char *path);
const char *emu_state_path(void);
bool emu_journaling(void);
void emu_state_close(void);
void emu_journal(cJSON *rec);
void emu_journal_vm(const vm_t *v);
void emu_journal_gone(const vm_t *v);
void emu_journal_op(const op_t *op);
void emu_journal_token(const token_t *t);
const char *emu_jstr(const cJSON *o, const char *k);
double emu_jnum(const cJSON *o, const char *k);
void emu_replay(const char *path);
void emu_compact(const char *path);

/* vmss.c */
void emu_vmss_reset(void);
vmss_t *emu_vmss_find(const char *key);
vmss_t *emu_vmss_of(const vm_t *v);
void emu_vmss_free(vmss_t *s);
void emu_vmss_insert(vmss_t *s);
void emu_vmss_unlink(vmss_t *s);
void emu_journal_vmss(const vmss_t *set);
void emu_journal_vmss_gone(const vmss_t *set);
void emu_vmss_touch(vmss_t *set);
void emu_vmss_op_done(op_t *op);
void emu_vmss(struct MHD_Connection *c, const char *method,
		  const char *sub, const char *rg, const char *name,
		  const char *action, const char *body, reply_t *r);

/* entra.c */
int emu_intern(const char *id);
token_t *emu_add_token(const char *tok, double at, const char *aud,
			   int ident);
token_state_t emu_token_find(struct MHD_Connection *c, const token_t **t);
token_state_t emu_token_state(struct MHD_Connection *c);
const char *emu_issue_token(const char *aud, int ident);
void emu_token_v2(struct MHD_Connection *c, const char *body, reply_t *r);
void emu_openid(char *path, reply_t *r);

/* sandbox.c */
int emu_console_path(const vm_t *v, char *out, size_t n);
void emu_boot(vm_t *v);
void emu_layer_delete(const vm_t *v);
void emu_boot_soon(vm_t *v, double now);
void emu_freeze(vm_t *v, bool on);
void emu_halt(vm_t *v);
void emu_reap_kills(double now);
void emu_boot_diagnostics(vm_t *v, struct MHD_Connection *c, reply_t *r);
void emu_blob(const char *method, char *path, struct MHD_Connection *c,
		  reply_t *r);
int emu_node_init_setup(void);
int emu_sandbox_init(int argc, char **argv);

/* imds.c */
void emu_tick_events(vm_t *v, double now);
void emu_imds_token(struct MHD_Connection *c, reply_t *r);
void emu_imds_instance(struct MHD_Connection *c, const char *url,
			   reply_t *r);
void emu_scheduled_events(struct MHD_Connection *c, const char *method,
			      const char *body, reply_t *r);

/* route.c: the api-version of the ARM request being answered (checked),
 * else 2024-07-01 */
const char *emu_api_version(void);

/* record.c: --record DIR (tests/oav-check.sh reads it) */
int emu_record_set_dir(const char *dir);
bool emu_recording(void);
/* Write one exchange (request C, URL, METHOD, BODY; reply R) to the folder;
 * a no-op without --record and for the admin API. */
void emu_record(struct MHD_Connection *c, const char *url,
		const char *method, const char *body, const reply_t *r,
		const char *reqid);

/* http.c */
void emu_header(reply_t *r, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void emu_json(reply_t *r, int status, cJSON *body);
/* Azure's error shape: {"error":{"code":..., "message":...}} */
void emu_error(reply_t *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *emu_arg(struct MHD_Connection *c, const char *k);
/* Whether C came in through --imds-listen's port. */
bool emu_on_imds_listener(struct MHD_Connection *c);
int emu_segments(char *path, char **seg, int max);
enum MHD_Result emu_handler(void *cls, struct MHD_Connection *c,
				const char *url, const char *method,
				const char *version, const char *upload,
				size_t *upload_size, void **con_cls);
void emu_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		       enum MHD_RequestTerminationCode toe);

/* keyvault.c */
int emu_vault_reader_add(const char *id);
void emu_keyvault(struct MHD_Connection *c, const char *method, char *path,
		      const char *vault_host, reply_t *r);
/* The vault a Host header names (VAULT.vault.azure.net, or a sovereign
 * cloud's suffix; a port aside): VAULT in OUT (N bytes), or false. */
bool emu_vault_of_host(const char *host, char *out, size_t n);
int emu_secret_load(char *arg);

/* faults.c */
bool emu_take_write_token(reply_t *r);
bool emu_compute_take(reply_t *r, int group);
bool emu_zone_ok(const char *z);
int emu_capacity_add(cJSON *map, const char *key, const cJSON *val,
			 char *err, size_t n);
int emu_capacity_fault(const char *size, const char *zone);
int emu_capacity_fault_n(const char *size, const char *zone, int add_zone,
			 int add_all);
int emu_faults_apply(const cJSON *j, char *err, size_t n);
cJSON *emu_faults_json(void);

/* usages.c */
bool emu_quota_n_ok(const char *family, int vcpus, bool spot,
			const char *location, int count, reply_t *r);
bool emu_quota_ok(const char *family, int vcpus, bool spot,
		      const char *location, reply_t *r);
bool emu_quota_mix_ok(const char *const *family, const int *need, int nf,
		      int vms, bool spot, const char *location, reply_t *r);
void emu_usages(const char *location, reply_t *r);
void emu_vm_sizes(reply_t *r);
void emu_skus(const char *filter, reply_t *r);
void emu_subscriptions(const char *sub, reply_t *r);

/* route.c */
/* Answer the request for URL (PATH: a copy of it that handlers may cut;
 * BODY: NULL or the body read) in R. */
void emu_route(struct MHD_Connection *c, const char *url, const char *method,
	       char *path, const char *body, reply_t *r);

/* admin.c */
void emu_admin(struct MHD_Connection *c, const char *method, char *path,
		   const char *body, reply_t *r);

/* prices.c */
void emu_retail_prices(struct MHD_Connection *c, const char *method,
			   reply_t *r);
/* The hourly Linux price (Spot's when SPOT) of SIZE (its catalog name, any
 * case) as the Retail Prices API lists it, or -1 when it lists none. */
double emu_price_hour(const char *size, bool spot);

#endif

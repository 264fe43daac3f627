/*
 * arm_int.h - what the ARM client's files (arm*.c) share: the client's
 * state, one operation in progress, and the engine's calls (arm.c) that the
 * VM and scale-set requests use.  Internal to the azure library.
 */
#ifndef AZML_ARM_INT_H
#define AZML_ARM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "arm.h"
#include "auth.h"
#include "http.h"

struct azml_arm {
	const azml_conf_t *conf;
	azml_http_t *http;
	azml_auth_t *auth;
	char base[512];	/* {ArmEndpoint}/subscriptions/{sub} */
	azml_url_origin_t origin;	/* ArmEndpoint's: where tokens may go */
	double op_timeout;
	/* azml_arm_set_ctld_info's copies, and the view of them */
	char *ctld_host, *ctld_cluster, *ctld_version;
	azml_ctld_info_t ctld;
};

typedef enum { K_CREATE, K_DELETE, K_GET, K_POWER, K_LIST, K_USAGES,
	       K_SIZES, K_BOOTLOG, K_NIC, K_SS_GET, K_SS_WRITE } kind_t;

/* One operation in progress. */
typedef struct {
	azml_arm_t *arm;
	kind_t kind;
	azml_vm_cb cb;
	azml_vm_list_cb list_cb;
	azml_usage_cb usage_cb;
	azml_sizes_cb sizes_cb;
	azml_boot_log_cb boot_cb;
	const char *log;	/* K_BOOTLOG: the log's end, during _done */
	size_t loglen;
	void *arg;
	azml_vm_result_t r;
	enum { PH_MAIN, PH_POLL_ASYNC, PH_POLL_LOCATION, PH_VM_NIC,
	       PH_NIC } phase;
	bool retried_auth;
	bool set_list;		/* K_LIST of one scale set: no tag filter */
	bool status_pass;	/* K_LIST: the power states' pass (ListAll
				 * with statusOnly=true) */
	bool oom;		/* the spare call of azml_arm_call(): never
				 * sent, never freed */
	char hdr[160];		/* one more header (If-Match), or "" */
	char url[2048];		/* what to re-send after a 401 */
	char method[8];
	char *body;
	double deadline;	/* azml_now() after which it fails */
	/* list paging */
	azml_vm_result_t *vms;
	size_t nvms, cap;
	uint64_t *seen;		/* hashes of the nextLinks followed */
	size_t pages;
} call_t;

/* arm.c: the engine */
void azml_arm_fail(call_t *c, int status, const char *code, const char *fmt,
		   ...)
	__attribute__((format(printf, 4, 5)));
int azml_arm_send(call_t *c, const char *method, const char *url,
		  const char *body, double delay);
void azml_arm_vm_url(const azml_arm_t *arm, const char *name,
		     const char *suffix, const char *query, char *url, size_t n);
call_t *azml_arm_call(azml_arm_t *arm, kind_t kind, const char *name,
		      azml_vm_cb cb, void *arg);
/* arm_parse.c */
const char *azml_arm_str(const cJSON *o, const char *k);
void azml_arm_copy(char *dst, size_t n, const char *src);
/* arm_vm.c */
/* strdup(S); NULL when S is NULL, or out of memory: then *OOM is set. */
char *azml_arm_dup(const char *s, bool *oom);

#endif /* AZML_ARM_INT_H */

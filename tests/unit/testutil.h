/*
 * testutil.h - helpers shared by the unit tests: read Microsoft's examples
 * from ../shared, start the emulator, talk to its admin API.
 */
#ifndef AZML_TESTUTIL_H
#define AZML_TESTUTIL_H

#include <check.h>
#include <cjson/cJSON.h>
#include <sys/types.h>
#include <unistd.h>

#include "conf.h"

/* Run test case TC in a suite named NAME (Check prints its summary line).
 * Returns the process exit status: 0 when every test passed, 77 (automake's
 * "skipped") when every test needed ../shared and it is absent. */
int tu_run(const char *name, TCase *tc);

/* ../shared (Microsoft's examples, hwloc exports): $AZML_SHARED, else the
 * folder beside the source tree; NULL when it is absent. */
const char *tu_shared_dir(void);

/* Add test TF to TC when ../shared is there; else say it is skipped. */
#define tu_add_shared_test(tc, tf)					\
	do {								\
		if (tu_shared_dir())					\
			tcase_add_test(tc, tf);				\
		else							\
			tu_skipped(#tf);				\
	} while (0)
void tu_skipped(const char *test);

/* azureml.conf text made from FMT, loaded as if it were the file NAME;
 * never NULL (the test fails).  Free it with azml_conf_destroy(). */
azml_conf_t *tu_conf(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Parse ../shared/azure-rest-examples/REL (aborts the test when missing). */
cJSON *tu_example(const char *rel);

/* The body of response STATUS of an example, or NULL. */
const cJSON *tu_response_body(const cJSON *ex, const char *status);

/* Poll COND every 20 ms until it holds or SECONDS have passed: for what
 * a daemon does on its own clock, so that a slow machine only waits longer. */
#define TU_WAIT(cond, seconds)						\
	do {								\
		for (int tu_i_ = 0; tu_i_ < (seconds) * 50 && !(cond); tu_i_++) \
			usleep(20000);					\
	} while (0)

/* A fresh ed25519 key pair made by ssh-keygen as DIR/id (no passphrase):
 * a Linux VM needs SshPublicKey= (DIR/id.pub).  Fails the test when
 * ssh-keygen (openssh-client) is missing. */
void tu_ssh_key(const char *dir);
/* The subnet id the tests' VMs are created in (Subnet=). */
#define TU_SUBNET "/subscriptions/00000000-0000-0000-0000-000000000001/" \
	"resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/vnet/" \
	"subnets/default"

/* Start build/contrib/emulator/azure-emulator on a free port with ARGS
 * (NULL-terminated).  Returns its pid; *PORT receives the port. */
pid_t tu_emulator_start(int *port, const char *const *args);
void tu_emulator_stop(pid_t pid, int port);

/* METHOD http://127.0.0.1:PORT/PATH with BODY; returns the status and the
 * answer in *OUT (malloc'd, may be NULL). */
int tu_http(const char *method, int port, const char *path, const char *body,
	    const char *const *headers, char **out);
/* tu_http with the answer's headers too, in *HOUT (malloc'd, NULL when
 * none came). */
int tu_http_h(const char *method, int port, const char *path,
	      const char *body, const char *const *headers, char **out,
	      char **hout);

/* Call FN on each file of tests/fuzz/regress/TARGET (inputs that once
 * crashed a fuzz target), its bytes NUL-terminated, and its path.  Returns
 * how many there were. */
size_t tu_fuzz_regress(const char *target,
		       void (*fn)(const char *data, size_t len,
				  const char *path));

/* Every key of A (recursively for objects) is in B. */
int tu_same_keys(const cJSON *a, const cJSON *b, char *missing, size_t n);

#endif

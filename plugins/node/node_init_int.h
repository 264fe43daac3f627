/*
 * node_init_int.h - what node-init's files (node_init*.c) share: the run's
 * context, its limits, the console and slurmctld helpers of node_init.c and
 * the steps each file holds.  Internal to the program.
 */
#ifndef AZML_NODE_INIT_INT_H
#define AZML_NODE_INIT_INT_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "cloud.h"
#include "node.h"
#include "userdata.h"

#define USERDATA_QUERY \
	"/metadata/instance/compute/userData?api-version=2021-01-01&format=text"
/* the token audience: the vault's cloud's (cloud.h) */
#define VAULT_RESOURCE azml_cloud_vault_audience(c->ud.munge_key_secret)
#define MUNGE_KEY_MIN 32		/* munged refuses shorter keys */
#define MUNGE_KEY_MAX (1024 * 1024)
#define MUNGE_WAIT 10			/* s until "munge works" */
#define SETUP_TIMEOUT 1800		/* s a setup script may run */
#define SLURMD_WAIT 30			/* s for slurmd to settle */
#define SLURMD_ALIVE 2			/* s it must stay up at least */
#define NODE_WAIT 300			/* s a scale set's VM waits for its node */
#define NODE_POLL 2			/* s between asking slurmctld */
#define MAX_ADDRS 16			/* this machine's addresses matched */

typedef struct {
	const azml_node_init_opts_t *o;
	FILE *con;
	const char *imds;
	char host[256];		/* this machine's short host name */
	char vm[256];		/* the emulator's vm= */
	const char *node;	/* Slurm node name (NULL: not known yet) */
	char self[96];		/* a scale set VM's node, from slurmctld */
	azml_userdata_t ud;
	char *token;		/* Key Vault token */
	char *secret;		/* the munge key, base64 */
	bool munge_works;
	/* From IMDS's compute document, for slurmd >= 23.02's --instance-id
	 * and --instance-type (slurmdbd keeps them): "" when unknown. */
	char vm_id[40];
	char vm_size[64];
} ctx_t;

#define STEP(s) azml_step_names[s]

/* node_init.c: console lines, slurmctld, helpers */
void azml_init_say(ctx_t *c, bool error, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int azml_init_with_slurmctld(ctx_t *c, int (*fn)(ctx_t *c, void *arg),
			     void *arg);
int azml_init_fail(ctx_t *c, azml_step_t s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool azml_init_run_ok(char *const argv[], int timeout);
bool azml_init_systemd(void);
void azml_init_status_words(int st, char *out, size_t n);
int azml_init_write_atomic(const char *path, const void *data, size_t len,
			   mode_t mode, uid_t uid, gid_t gid, char *err,
			   size_t n);
bool azml_init_same_file(const char *path, const void *data, size_t len);
/* node_init_steps.c */
int azml_init_userdata(ctx_t *c);
int azml_init_filter(ctx_t *c);
int azml_init_identity(ctx_t *c);
int azml_init_keyvault(ctx_t *c);
int azml_init_munge(ctx_t *c);
int azml_init_node_name(ctx_t *c);
int azml_init_setup(ctx_t *c);
int azml_init_gpu(ctx_t *c);
/* node_init_slurmd.c */
int azml_init_slurmd(ctx_t *c);

#endif /* AZML_NODE_INIT_INT_H */

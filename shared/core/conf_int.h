/*
 * conf_int.h - what the azureml.conf parser's files (conf*.c) share: the
 * key table's types, the parser's state and its message helpers.  Internal
 * to the core library; nothing outside shared/core/conf*.c includes it.
 */
#ifndef AZML_CONF_INT_H
#define AZML_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

#define MAX_LINE	8192
#define MAX_ERRORS	200
#define MAX_INCLUDE	8
#define MAX_NODES	10000	/* per target */
#define MAX_FALLBACK	16	/* names in one Fallback= */
#define MAX_LISTED	12	/* target names in one message */
#define CAPACITY_BACKOFF 600	/* seconds, when CapacityBackoff= is not set */

/* Where a key may appear. */
#define W_GLOBAL	0x1
#define W_CLUSTER	0x2
#define W_INSTANCE	0x4
#define W_ATTACHED	0x8
#define W_VM		(W_CLUSTER | W_INSTANCE)

/* K_NAMES: comma-separated target names, stored NULL-terminated. */
typedef enum { K_STR, K_INT, K_BOOL, K_PRIO, K_CRED, K_NAMES, K_PROV,
	       K_ALLOC, K_SCALING } ktype_t;

typedef int (*check_fn)(const char *v, char *why, size_t n);

typedef struct {
	const char *name;
	int where;
	ktype_t type;
	size_t goff;		/* offset in azml_conf_t, or NO */
	size_t toff;		/* offset in azml_target_t, or NO */
	check_fn check;
	int lo, hi;		/* K_INT range */
} keydef_t;

#define G(f) offsetof(azml_conf_t, f)
#define T(f) offsetof(azml_target_t, f)
#define NO ((size_t) -1)

typedef struct {
	azml_conf_t *conf;
	int depth;
	const char *include_stack[MAX_INCLUDE + 1];
	/* Which global keys were set, to refuse duplicates: bit i = key_tab[i]. */
	unsigned long long gset;
} parser_t;

/* strdup(S), or NULL (S NULL, or out of memory: then C->oom is set). */
char *azml_conf_strdup(azml_conf_t *c, const char *s);
void azml_conf_err(parser_t *p, const char *file, int line,
		   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void azml_conf_warn(parser_t *p, const char *file, int line,
		    const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *azml_conf_where_name(int where);
int azml_conf_check_abs_path(const char *v, char *why, size_t n);
bool azml_conf_hostlist_syntax(const char *v);
int azml_conf_check_target_name(const char *v, char *why, size_t n);
/* conf_keys.c: the key table */
const keydef_t *azml_conf_find_key(const char *name, size_t len, size_t *idx);
void azml_conf_finish(parser_t *p, const char *file);
bool azml_conf_node_in_target(const azml_target_t *t, const char *node);
/* V copied for a message into BUF: printable ASCII only, at most 64
 * bytes. */
const char *azml_conf_show(const char *v, char *buf, size_t n);
/* conf_target.c: T's VmSize= (a size or a mix: vm_size, mix[], cpus,
 * real_memory) and its GPUs; false after saying what is wrong. */
bool azml_conf_target_sizes(parser_t *p, azml_target_t *t, const char *file,
			    int line);
bool azml_conf_target_gpus(parser_t *p, azml_target_t *t, const char *file,
			   int line);
/* A cluster's mix: its sizes alike, AllocationStrategy= fitting; SEEN: the
 * keys its line set (bit i = key_tab[i]). */
bool azml_conf_target_mix(parser_t *p, const azml_target_t *t,
			  unsigned long long seen, const char *file, int line);

#endif /* AZML_CONF_INT_H */

/*
 * gres.h - Slurm's generic resources: the one parser of a Gres=
 * specification (azureml.conf's Gres=, node-check --gres, the gres a VM size
 * implies), and the reader of gres.conf's File= devices.
 *
 * Core library: cJSON and libslurm's hostlists only, no I/O but gres.conf.
 *
 * A specification is a comma-separated list of entries, as slurm.conf(5)
 * writes a node's Gres=:
 *
 *	NAME[:TYPE][:no_consume][:COUNT][(S:SOCKETS)]
 *
 * NAME	  lower-case letters, digits and '_', starting with a letter
 *	  ("gpu", "mps", "shard", "nic", "bandwidth").  Names are case-sensitive
 *	  in Slurm, so "GPU" is refused rather than taken for another gres.
 * TYPE	  letters, digits, '_', '-', '.', starting with a letter or digit
 *	  ("a100", "tesla_v100", "3g.20gb").  Types compare case-insensitively,
 *	  as Slurm matches them against device names.
 * COUNT  digits with an optional K, M, G, T or P suffix (x1024 each, as
 *	  Slurm's); 1 when absent.  A second field that reads as a count is
 *	  the count ("gpu:4"), otherwise it is the type ("gpu:a100",
 *	  "gpu:3g.20gb"); "gpu:1g" is a count of 1073741824 and is refused as
 *	  too many GPUs.
 * (S:..) the socket binding scontrol shows ("gpu:8(S:0-1)"), accepted and
 *	  ignored; commas inside the parentheses do not split entries.
 *
 * Entries of the same name and type are added up ("gpu:v100:8,gpu:V100:8"
 * is 16 V100s).  The GPUs of a specification are its "gpu" entries, every
 * type summed; other names (mps, shard, nic ...) are kept but count for
 * nothing GPU.  Empty entries (",,", a trailing ','), blanks, more than
 * AZML_GRES_MAX_ENTRIES distinct entries, more than AZML_GRES_MAX_GPUS GPUs
 * and a specification longer than AZML_GRES_MAX_LEN are errors.
 *
 * Which parsed specifications slurmctld takes on a NodeName line is a
 * separate question (azml_gres_check_node): no count of 0, no typed and
 * untyped entries of one name together, no socket binding.
 */
#ifndef AZML_GRES_H
#define AZML_GRES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AZML_GRES_MAX_LEN	1024	/* characters of a specification */
#define AZML_GRES_MAX_ENTRIES	16	/* distinct NAME:TYPE entries */
#define AZML_GRES_MAX_GPUS	1024	/* GPUs of one node */
#define AZML_GRES_MAX_FILES	1024	/* gres.conf devices of one node */
#define AZML_GRES_MAX_NODES	65536	/* names of a gres.conf NodeName= */

typedef struct {
	char name[32];		/* "gpu" */
	char type[64];		/* "a100"; "" when untyped */
	uint64_t count;		/* summed over repeats; 1 when not given */
	bool no_consume;
	bool sockets;		/* had a "(S:...)" binding */
} azml_gres_ent_t;

typedef struct {
	azml_gres_ent_t ent[AZML_GRES_MAX_ENTRIES];	/* in order */
	size_t n;
	long gpus;		/* GPUs: the counts of the "gpu" entries */
	size_t gpu_types;	/* distinct types among the "gpu" entries */
	bool gpu_untyped;	/* a "gpu" entry without a type */
} azml_gres_t;

/*
 * Parse SPEC, a NUL-terminated string (NULL: no gres).  Returns 0 and fills
 * *G, or -1 with the reason in ERR ("'x' is not a count"; the caller names
 * the specification) and *G untouched.  No allocation: safe for a fuzzer to
 * call on any string.
 */
int azml_gres_parse(const char *spec, azml_gres_t *g, char *err,
		    size_t errlen);

/*
 * Whether slurmctld takes parsed G on a NodeName line.  Returns 0, or -1
 * with the reason in WHY.
 */
int azml_gres_check_node(const azml_gres_t *g, char *why, size_t n);

/* The one GPU type of G ("a100"), or NULL when it has no GPU, untyped GPUs
 * or GPUs of several types.  Points into G. */
const char *azml_gres_gpu_type(const azml_gres_t *g);

/* Whether ENT is a GPU entry. */
bool azml_gres_is_gpu(const azml_gres_ent_t *ent);

/*
 * G written back as slurm.conf's Gres= value (entries of one name and type
 * merged, counts in digits, no socket binding).  Returns a malloc'd string
 * (the caller frees it), "" for no entries; NULL when out of memory.
 */
char *azml_gres_string(const azml_gres_t *g);

/*
 * The gres.conf File= devices of Name=gpu lines that apply to NODE (lines
 * without NodeName= apply to all), expanded ("/dev/nvidia[0-3]").  Returns
 * the count and a malloc'd array of malloc'd paths in *FILES (free with
 * azml_strv_free), or -1 with "PATH:LINE: message" in ERR.  Lines longer
 * than 4095 bytes, and more than AZML_GRES_MAX_FILES devices for a line or
 * for the node, are errors (checked before anything is expanded).  File=
 * is checked as a hostlist is written before libslurm reads it: brackets
 * balanced, not nested, holding N or N-M (N <= M <= INT_MAX) separated by
 * commas; a NodeName= that is not, or stands for more than
 * AZML_GRES_MAX_NODES names, matches no node.
 */
int azml_gres_conf_files(const char *path, const char *node, char ***files,
			 char *err, size_t errlen);

/* Free V, an array of N malloc'd strings.  NULL is a no-op. */
void azml_strv_free(char **v, size_t n);

#endif

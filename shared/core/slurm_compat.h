/*
 * slurm_compat.h - one spelling for what differs between Slurm versions.
 *
 * configure tests Slurm's headers (m4/azml_check_slurm.m4) and defines
 * AZML_* for each difference; the rest of the code uses the names here.
 *
 * - azml_hostlist_t: a handle from slurm_hostlist_create(), freed with
 *   slurm_hostlist_destroy().  Up to 23.02 hostlist_t is the pointer;
 *   from 23.11 on, the struct (used as hostlist_t *).
 * - Errors of Slurm API calls: read errno.  slurm_get_errno() only ever
 *   returned errno, and 24.11 removed it.
 */
#ifndef AZML_SLURM_COMPAT_H
#define AZML_SLURM_COMPAT_H

#include <slurm/slurm.h>

#ifdef AZML_HOSTLIST_T_IS_STRUCT
typedef hostlist_t *azml_hostlist_t;
#else
typedef hostlist_t azml_hostlist_t;
#endif

#endif /* AZML_SLURM_COMPAT_H */

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
 * - azml_slurm_load_job(), azml_slurm_requeue(): by job id.  From 26.05
 *   Slurm's take a slurm_step_id_t (job id and SLUID), before a uint32_t.
 * - azml_job_desc_set_job(): the job an update names; 26.05's
 *   job_desc_msg_t has step_id where earlier ones have job_id.
 * - azml_slurm_free_ctl_conf(): frees slurm_load_ctl_conf()'s answer
 *   (26.05: slurm_free_conf(), before: slurm_free_ctl_conf()).
 */
#ifndef AZML_SLURM_COMPAT_H
#define AZML_SLURM_COMPAT_H

#include <slurm/slurm.h>

#ifdef AZML_HOSTLIST_T_IS_STRUCT
typedef hostlist_t *azml_hostlist_t;
#else
typedef hostlist_t azml_hostlist_t;
#endif

#ifdef AZML_JOB_CALLS_TAKE_STEP_ID
static inline slurm_step_id_t azml_job_step_id(uint32_t job_id)
{
	slurm_step_id_t id = { .job_id = job_id, .step_het_comp = NO_VAL,
			       .step_id = NO_VAL };

	return id;
}

static inline int azml_slurm_load_job(job_info_msg_t **resp, uint32_t job_id,
				      uint16_t show_flags)
{
	return slurm_load_job(resp, azml_job_step_id(job_id), show_flags);
}

static inline int azml_slurm_requeue(uint32_t job_id, uint32_t flags)
{
	return slurm_requeue(azml_job_step_id(job_id), flags);
}
#else
static inline int azml_slurm_load_job(job_info_msg_t **resp, uint32_t job_id,
				      uint16_t show_flags)
{
	return slurm_load_job(resp, job_id, show_flags);
}

static inline int azml_slurm_requeue(uint32_t job_id, uint32_t flags)
{
	return slurm_requeue(job_id, flags);
}
#endif

/* d: initialised by slurm_init_job_desc_msg() */
static inline void azml_job_desc_set_job(job_desc_msg_t *d, uint32_t job_id)
{
#ifdef AZML_JOB_DESC_HAS_STEP_ID
	d->step_id.sluid = 0;
	d->step_id.job_id = job_id;
	d->step_id.step_het_comp = NO_VAL;
	d->step_id.step_id = NO_VAL;
#else
	d->job_id = job_id;
#endif
}

static inline void azml_slurm_free_ctl_conf(slurm_conf_t *conf)
{
#ifdef AZML_SLURM_FREE_CONF
	slurm_free_conf(conf);
#else
	slurm_free_ctl_conf(conf);
#endif
}

#endif /* AZML_SLURM_COMPAT_H */

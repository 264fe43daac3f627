# AZML_CHECK_SLURM
# Find Slurm's public headers and libslurm; record SLURM_VERSION_NUMBER, which
# plugins must match exactly, and Slurm's own plugin directory.  Where Slurm's
# API differs between versions, test the headers (not the version number) and
# define AZML_* for shared/core/slurm_compat.h.
AC_DEFUN([AZML_CHECK_SLURM], [
  AC_ARG_WITH([slurm],
    [AS_HELP_STRING([--with-slurm=PREFIX], [Slurm installation prefix (default /usr)])],
    [azml_slurm_prefix=$withval], [azml_slurm_prefix=/usr])
  SLURM_CPPFLAGS=
  AS_IF([test "x$azml_slurm_prefix" != x/usr],
    [SLURM_CPPFLAGS="-I$azml_slurm_prefix/include"
     SLURM_LDFLAGS="-L$azml_slurm_prefix/lib"])
  azml_save_CPPFLAGS=$CPPFLAGS
  CPPFLAGS="$CPPFLAGS $SLURM_CPPFLAGS"
  AC_CHECK_HEADERS([slurm/slurm.h slurm/spank.h slurm/slurm_version.h], [],
    [AC_MSG_ERROR([Slurm headers not found: install the Debian package libslurm-dev])])
  AC_MSG_CHECKING([for SLURM_VERSION_NUMBER])
  AC_COMPUTE_INT([azml_slurm_vn], [SLURM_VERSION_NUMBER],
    [#include <slurm/slurm_version.h>],
    [AC_MSG_ERROR([cannot read SLURM_VERSION_NUMBER from slurm/slurm_version.h])])
  AZML_SLURM_VERSION="$(( azml_slurm_vn >> 16 )).$(( (azml_slurm_vn >> 8) & 255 )).$(( azml_slurm_vn & 255 ))"
  AC_MSG_RESULT([$azml_slurm_vn ($AZML_SLURM_VERSION)])
  AC_DEFINE_UNQUOTED([AZML_SLURM_VERSION_NUMBER], [$azml_slurm_vn],
    [SLURM_VERSION_NUMBER of the Slurm the plugins are built against])
  # Slurm 23.11 and later have hostlist_t as the (incomplete) struct, used as
  # 'hostlist_t *'; 23.02 and before, the pointer.  A variable of the type
  # compiles only where it is the pointer (a mismatched pointer assignment
  # would be a mere warning with some compilers).
  AC_CACHE_CHECK([whether hostlist_t is a struct type (used as hostlist_t *)],
    [azml_cv_hostlist_t_struct],
    [AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <stddef.h>
#include <slurm/slurm.h>]],
      [[hostlist_t hl = NULL; slurm_hostlist_destroy(hl);]])],
      [azml_cv_hostlist_t_struct=no], [azml_cv_hostlist_t_struct=yes])])
  AS_IF([test "x$azml_cv_hostlist_t_struct" = xyes],
    [AC_DEFINE([AZML_HOSTLIST_T_IS_STRUCT], [1],
      [Define if Slurm's hostlist_t is a struct type, used as hostlist_t *])])
  # Slurm 26.05 names a job by slurm_step_id_t (job id and SLUID) in
  # slurm_load_job() and slurm_requeue(), where earlier releases take the
  # uint32_t job id: passing the struct compiles only where it is the type.
  AC_CACHE_CHECK([whether slurm_load_job and slurm_requeue take slurm_step_id_t],
    [azml_cv_job_calls_step_id],
    [AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <stddef.h>
#include <slurm/slurm.h>]],
      [[slurm_step_id_t id = { 0 }; job_info_msg_t *m = NULL;
        (void) slurm_load_job(&m, id, 0); (void) slurm_requeue(id, 0);]])],
      [azml_cv_job_calls_step_id=yes], [azml_cv_job_calls_step_id=no])])
  AS_IF([test "x$azml_cv_job_calls_step_id" = xyes],
    [AC_DEFINE([AZML_JOB_CALLS_TAKE_STEP_ID], [1],
      [Define if slurm_load_job and slurm_requeue take a slurm_step_id_t])])
  # Slurm 26.05's job_desc_msg_t has no job_id: the job to update is its
  # step_id (a slurm_step_id_t).
  AC_CACHE_CHECK([whether job_desc_msg_t has job_id],
    [azml_cv_job_desc_job_id],
    [AC_COMPILE_IFELSE([AC_LANG_PROGRAM([[#include <stddef.h>
#include <slurm/slurm.h>]],
      [[job_desc_msg_t d; d.job_id = 1; (void) d;]])],
      [azml_cv_job_desc_job_id=yes], [azml_cv_job_desc_job_id=no])])
  AS_IF([test "x$azml_cv_job_desc_job_id" = xno],
    [AC_DEFINE([AZML_JOB_DESC_HAS_STEP_ID], [1],
      [Define if job_desc_msg_t names its job by step_id, not job_id])])
  # Slurm 26.05 renamed slurm_free_ctl_conf() slurm_free_conf().
  AC_CHECK_DECL([slurm_free_ctl_conf], [],
    [AC_DEFINE([AZML_SLURM_FREE_CONF], [1],
      [Define if Slurm frees slurm_load_ctl_conf's answer with slurm_free_conf])],
    [[#include <stddef.h>
#include <slurm/slurm.h>]])
  CPPFLAGS=$azml_save_CPPFLAGS
  azml_save_LDFLAGS=$LDFLAGS
  LDFLAGS="$LDFLAGS $SLURM_LDFLAGS"
  AC_CHECK_LIB([slurm], [slurm_hostlist_create], [SLURM_LIBS=-lslurm],
    [AC_MSG_ERROR([libslurm not found: install the Debian package libslurm-dev])])
  LDFLAGS=$azml_save_LDFLAGS
  AC_MSG_CHECKING([for Slurm's plugin directory])
  SLURM_PLUGIN_DIR=
  for d in $azml_slurm_prefix/lib/x86_64-linux-gnu/slurm-wlm $azml_slurm_prefix/lib/slurm-wlm \
           $azml_slurm_prefix/lib64/slurm $azml_slurm_prefix/lib/slurm; do
    AS_IF([test -f "$d/job_submit_lua.so" -o -f "$d/auth_munge.so"],
      [SLURM_PLUGIN_DIR=$d; break])
  done
  AC_MSG_RESULT([${SLURM_PLUGIN_DIR:-not found}])
  AC_ARG_WITH([slurm-plugindir],
    [AS_HELP_STRING([--with-slurm-plugindir=DIR], [where to install the Slurm plugins])],
    [azml_plugindir=$withval],
    [azml_plugindir=${SLURM_PLUGIN_DIR:-'${libdir}/slurm'}])
  AC_SUBST([SLURM_CPPFLAGS])
  AC_SUBST([SLURM_LDFLAGS])
  AC_SUBST([SLURM_LIBS])
  AC_SUBST([SLURM_PLUGIN_DIR])
  AC_SUBST([AZML_SLURM_VERSION])
  AC_SUBST([slurmplugindir], [$azml_plugindir])
])

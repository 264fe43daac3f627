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

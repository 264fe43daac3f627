# AZML_REQUIRE_PKG(VARIABLE, PKG-CONFIG-NAME, DEBIAN-PACKAGE)
# Find a library through pkg-config; stop configure naming the Debian package.
AC_DEFUN([AZML_REQUIRE_PKG], [
  PKG_CHECK_MODULES([$1], [$2], [],
    [AC_MSG_ERROR([$2 not found: install the Debian package $3 (apt-get install $3)])])
])

/*
 * sandbox.h - the fuzz targets' stand-in for fopen (see sandbox.c).
 */
#ifndef AZML_FUZZ_SANDBOX_H
#define AZML_FUZZ_SANDBOX_H

#include <stdio.h>

/* Allow reading the files under DIR (nothing before this is called). */
void azml_fuzz_sandbox(const char *dir);

FILE *azml_fuzz_fopen(const char *path, const char *mode);

#endif

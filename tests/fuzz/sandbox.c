/*
 * sandbox.c - what the parsers under fuzzing may open.
 *
 * conf.c follows "Include FILE" wherever it points.  Under fuzzing that
 * would read /dev/zero or /dev/stdin, so the run script compiles conf.c
 * with -Dfopen=azml_fuzz_fopen: only files of the target's scratch
 * directory (azml_fuzz_sandbox), named without "..", may be opened, to read.
 * Nothing else of the process is affected (libFuzzer keeps the real fopen).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sandbox.h"

static char root[4096];

void azml_fuzz_sandbox(const char *dir)
{
	snprintf(root, sizeof(root), "%s/", dir);
}

FILE *azml_fuzz_fopen(const char *path, const char *mode)
{
	size_t rl = strlen(root);

	if (!rl || strncmp(path, root, rl) || strstr(path, "..") ||
	    strchr(mode, 'w') || strchr(mode, 'a') || strchr(mode, '+')) {
		errno = EACCES;
		return NULL;
	}
	return fopen(path, mode);
}

/*
 * vmss_int.h - what vmss.c and vmss_check.c share: a scale set's body once
 * checked.
 */
#ifndef EMU_VMSS_INT_H
#define EMU_VMSS_INT_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "emu.h"

/* What a set's validated body says; the pointers are into the body. */
typedef struct {
	const char *location, *prefix;
	/* The sizes its VMs are made of, in the order a new VM tries them:
	 * sku.name alone, or an instance mix's skuProfile.vmSizes, cheapest
	 * first for LowestPrice (no price last, ties as written), as written
	 * for CapacityOptimized. */
	const char *size[VMSS_MIX_MAX];
	azml_size_info_t info[VMSS_MIX_MAX];
	int nsizes;
	bool mix;		/* sku.name "Mix" with a skuProfile */
	long capacity;		/* -1: not given */
	const cJSON *zones, *tags, *profile;
	cJSON *ident;		/* built by emu_identity_build, owned */
	bool spot;
} vmss_spec_t;

/*
 * Check a set's body REQ (a PUT's, or a PATCH merged into the set) as the
 * VM PUT checks a VM's; NAME is the set's.  Fills *S (its pointers into
 * REQ; S->ident is the caller's to free) and returns true, or returns false
 * with Azure's 400 in R.
 */
bool emu_vmss_check(const cJSON *req, const char *name, vmss_spec_t *s,
		    reply_t *r);

#endif

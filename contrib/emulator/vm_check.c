/*
 * vm_check.c - the Azure emulator's checks of what a VM PUT (or a scale
 * set's virtualMachineProfile) carries, as Azure and the 2024-07-01 spec
 * refuse it: tags, identity, the VM's properties, and the spec's required
 * properties and enums.  Each refusal is Azure's 400 with its code.
 */
#include "config.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

#define TAGS_MAX 50
#define TAG_NAME_MAX 512
#define TAG_VALUE_MAX 256
#define IDENTITIES_MAX 64
#define USERDATA_MAX 87380	/* base64 characters: 64 KB of user data */

/*
 * Check a resource's tags against Azure's limits (50 tags, names of at most
 * 512 characters without <>%&\?/ or control characters, string values of
 * at most 256 characters) and the slurm-node tag against node-name rules.
 * Returns true, or false with Azure's 400 answer in R.
 */
bool emu_tags_ok(const cJSON *tags, reply_t *r)
{
	const cJSON *t;
	int n = 0;

	if (!tags)
		return true;
	if (!cJSON_IsObject(tags)) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: 'tags' must be "
		       "an object.");
		return false;
	}
	cJSON_ArrayForEach(t, tags)
		n++;
	if (n > TAGS_MAX) {
		emu_error(r, 400, "InvalidTags", "Too many tags specified. Requested "
		       "tag count - '%d'. Maximum number of tags allowed - "
		       "'%d'.", n, TAGS_MAX);
		return false;
	}
	cJSON_ArrayForEach(t, tags) {
		const char *k = t->string;

		if (!k || !*k) {
			emu_error(r, 400, "InvalidTagName", "The tag name must be "
			       "non-null, non-empty and non-whitespace only. "
			       "Please provide an actual value.");
			return false;
		}
		if (emu_utf8_len(k) > TAG_NAME_MAX) {
			emu_error(r, 400, "InvalidTagName", "Tag key too large. "
			       "Following tag name '%.64s...' exceeded the maximum "
			       "length. Maximum allowed length for tag name - "
			       "'%d' characters.", k, TAG_NAME_MAX);
			return false;
		}
		for (const char *c = k; *c; c++)
			if (strchr("<>%&\\?/", *c) || iscntrl((unsigned char) *c)) {
				emu_error(r, 400, "InvalidTagNameCharacters", "The tag "
				       "names '%.64s' have reserved characters "
				       "'<,>,%%,&,\\,?,/' or control characters.", k);
				return false;
			}
		if (!cJSON_IsString(t)) {
			emu_error(r, 400, "InvalidRequestContent", "The request "
			       "content was invalid and could not be "
			       "deserialized: the value of tag '%.64s' must be a "
			       "string.", k);
			return false;
		}
		if (emu_utf8_len(t->valuestring) > TAG_VALUE_MAX) {
			emu_error(r, 400, "InvalidTagValueLength", "Tag value too "
			       "large. Following tag value '%.64s...' exceeded the "
			       "maximum length. Maximum allowed length for tag "
			       "value - '%d' characters.", t->valuestring,
			       TAG_VALUE_MAX);
			return false;
		}
	}
	t = cJSON_GetObjectItemCaseSensitive(tags, "slurm-node");
	if (t && !emu_node_name_ok(t->valuestring)) {
		emu_error(r, 400, "InvalidParameter", "The value of tag 'slurm-node' "
		       "is not a valid node name: 1 to 64 letters, digits, '-', "
		       "'_' or '.', beginning with a letter or digit.");
		return false;
	}
	return true;
}

/*
 * The identity a VM is shown with, from the request's IN (NULL: none):
 * type None, SystemAssigned, UserAssigned or "SystemAssigned, UserAssigned",
 * user-assigned ids that are well formed and map to {} or null.  Sets *OUT
 * (owned by the caller; NULL for none) and returns true, or returns false
 * with Azure's 400 in R.
 */
bool emu_identity_build(const cJSON *in, cJSON **out, reply_t *r)
{
	const cJSON *type = cJSON_GetObjectItem(in, "type"), *ua, *it;
	bool sys = false, user = false;
	cJSON *o, *m;
	char guid[40];
	int n = 0;

	*out = NULL;
	if (!in || cJSON_IsNull(in))
		return true;
	if (!cJSON_IsObject(in) || !cJSON_IsString(type)) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: 'identity' must "
		       "be an object with a 'type'.");
		return false;
	}
	if (!strcasecmp(type->valuestring, "SystemAssigned"))
		sys = true;
	else if (!strcasecmp(type->valuestring, "UserAssigned"))
		user = true;
	else if (!strcasecmp(type->valuestring, "SystemAssigned, UserAssigned") ||
		 !strcasecmp(type->valuestring, "SystemAssigned,UserAssigned"))
		sys = user = true;
	else if (strcasecmp(type->valuestring, "None")) {
		emu_error(r, 400, "InvalidParameter", "The value '%.64s' of "
		       "parameter 'identity.type' is invalid. Allowed values: "
		       "'None', 'SystemAssigned', 'UserAssigned', "
		       "'SystemAssigned, UserAssigned'.", type->valuestring);
		return false;
	}
	ua = cJSON_GetObjectItem(in, "userAssignedIdentities");
	if (ua && !cJSON_IsNull(ua) && !cJSON_IsObject(ua)) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'identity.userAssignedIdentities' must be an object.");
		return false;
	}
	cJSON_ArrayForEach(it, ua) {
		if (++n > IDENTITIES_MAX) {
			emu_error(r, 400, "InvalidParameter", "At most %d "
			       "user-assigned identities may be attached to a "
			       "virtual machine.", IDENTITIES_MAX);
			return false;
		}
		if (!it->string || !emu_identity_id_ok(it->string)) {
			emu_error(r, 400, "LinkedInvalidPropertyId", "Property id "
			       "'%.200s' at path 'identity.userAssignedIdentities' "
			       "is invalid. Expect fully qualified resource Id that "
			       "start with '/subscriptions/{subscriptionId}' or "
			       "'/providers/{resourceProviderNamespace}/'.",
			       it->string ? it->string : "");
			return false;
		}
		if (!cJSON_IsNull(it) && !(cJSON_IsObject(it) && !it->child)) {
			emu_error(r, 400, "InvalidIdentityValues", "Invalid value for "
			       "the identities '%.200s'. The 'UserAssignedIdentities' "
			       "property keys should only be empty json objects, null "
			       "or the resource exisiting property.", it->string);
			return false;
		}
	}
	if (user != (n > 0)) {
		emu_error(r, 400, "InvalidParameter", user ? "The identity type "
		       "'UserAssigned' needs at least one entry in "
		       "'identity.userAssignedIdentities'." : "The property "
		       "'identity.userAssignedIdentities' is allowed only when "
		       "the identity type is 'UserAssigned' or 'SystemAssigned, "
		       "UserAssigned'.");
		return false;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", sys && user ? "SystemAssigned, UserAssigned" :
				sys ? "SystemAssigned" : user ? "UserAssigned" : "None");
	*out = o;
	if (sys) {
		/* filled in by the caller, who knows the VM's id */
		cJSON_AddStringToObject(o, "principalId", "");
		cJSON_AddStringToObject(o, "tenantId", EMU_TENANT);
	}
	if (!user)
		return true;
	m = cJSON_AddObjectToObject(o, "userAssignedIdentities");
	cJSON_ArrayForEach(it, ua) {
		cJSON *e = cJSON_CreateObject();

		emu_guid_of("principal:", it->string, guid);
		cJSON_AddStringToObject(e, "principalId", guid);
		emu_guid_of("client:", it->string, guid);
		cJSON_AddStringToObject(e, "clientId", guid);
		cJSON_AddItemToObject(m, it->string, e);
	}
	return true;
}

/*
 * Check the parts of a VM's properties that reach the VM itself: userData
 * (base64, at most USERDATA_MAX characters), osProfile.computerName (else
 * the VM's NAME: a hostname) and bootDiagnostics.  Returns the computer
 * name (in PROPS or NAME), or NULL with Azure's 400 in R.
 */
const char *emu_vm_props_ok(const cJSON *props, const char *name,
				reply_t *r)
{
	const cJSON *ud = cJSON_GetObjectItem(props, "userData");
	const cJSON *os = cJSON_GetObjectItem(props, "osProfile");
	const cJSON *cn = cJSON_GetObjectItem(os, "computerName");
	const cJSON *bd = cJSON_GetObjectItem(cJSON_GetObjectItem(props,
				"diagnosticsProfile"), "bootDiagnostics");
	const char *computer = cJSON_IsString(cn) ? cn->valuestring : name;

	/* Azure documents 64 KB of user data, base64-encoded; its wording
	 * for the same limit on customData is "must be in Base64 encoding
	 * and with a maximum length of 87380 characters" */
	if (ud && !cJSON_IsNull(ud) &&
	    (!cJSON_IsString(ud) || strlen(ud->valuestring) > USERDATA_MAX ||
	     !emu_base64_ok(ud->valuestring, strlen(ud->valuestring)))) {
		emu_error(r, 400, "InvalidParameter", "The value of parameter "
		       "userData is invalid: user data must be in Base64 "
		       "encoding and with a maximum length of %d characters.",
		       USERDATA_MAX);
		return NULL;
	}
	if ((cn && !cJSON_IsString(cn)) || !emu_computer_name_ok(computer)) {
		emu_error(r, 400, "InvalidParameter", "Linux host name cannot "
		       "exceed 64 characters in length or contain the following "
		       "characters: ` ~ ! @ # $ %% ^ & * ( ) = + _ [ ] { } \\ | ; "
		       ": ' \" , < > / ?.");
		return NULL;
	}
	if (bd && (!cJSON_IsObject(bd) ||
		   (cJSON_GetObjectItem(bd, "enabled") &&
		    !cJSON_IsBool(cJSON_GetObjectItem(bd, "enabled"))))) {
		emu_error(r, 400, "InvalidRequestContent", "The request content was "
		       "invalid and could not be deserialized: "
		       "'diagnosticsProfile.bootDiagnostics.enabled' must be a "
		       "boolean.");
		return NULL;
	}
	return computer;
}

/* Whether S (NULL: absent, allowed) is one of the NULL-ended VALUES, case
 * aside; if not, Azure's 400 for the enum PARAM in R. */
static bool _enum_ok(const cJSON *o, const char *k, const char *param,
		     const char *const *values, reply_t *r)
{
	const cJSON *it = cJSON_GetObjectItem(o, k);
	char allowed[256] = "";

	if (!it || cJSON_IsNull(it))
		return true;
	for (int i = 0; values[i]; i++) {
		if (cJSON_IsString(it) && !strcasecmp(it->valuestring, values[i]))
			return true;
		snprintf(allowed + strlen(allowed), sizeof(allowed) -
			 strlen(allowed), "%s'%s'", i ? ", " : "", values[i]);
	}
	emu_error(r, 400, "InvalidParameter", "The value '%.64s' of parameter "
		  "'%s' is invalid. Allowed values: %s.", cJSON_IsString(it) ?
		  it->valuestring : "(not a string)", param, allowed);
	return false;
}

static bool _missing(const cJSON *o, const char *k, const char *param,
		     reply_t *r)
{
	const cJSON *it = cJSON_GetObjectItem(o, k);

	if (it && !cJSON_IsNull(it) &&
	    (!cJSON_IsString(it) || *it->valuestring))
		return false;
	emu_error(r, 400, "InvalidParameter", "Required parameter '%s' is "
		  "missing (null).", param);
	return true;
}

/*
 * What the spec and Azure refuse in a VM's PROPS beyond emu_vm_props_ok:
 * the required properties (osDisk.createOption, a NIC configuration's
 * name, ipConfigurations and subnet), the enums the product sends, and
 * the Linux rule that SSH keys or a password must let someone in.
 * Returns true, or false with Azure's 400 in R.
 */
bool emu_vm_spec_ok(const cJSON *props, reply_t *r)
{
	static const char *const prio[] = { "Regular", "Low", "Spot", NULL };
	static const char *const evict[] = { "Deallocate", "Delete", NULL };
	static const char *const caching[] = { "None", "ReadOnly", "ReadWrite",
					       NULL };
	static const char *const create[] = { "FromImage", "Empty", "Attach",
					      "Copy", "Restore", NULL };
	static const char *const del[] = { "Delete", "Detach", NULL };
	static const char *const sat[] = { "Standard_LRS", "Premium_LRS",
		"StandardSSD_LRS", "UltraSSD_LRS", "Premium_ZRS",
		"StandardSSD_ZRS", "PremiumV2_LRS", NULL };
	const cJSON *os = cJSON_GetObjectItem(props, "osProfile");
	const cJSON *lin = cJSON_GetObjectItem(os, "linuxConfiguration");
	const cJSON *disk = cJSON_GetObjectItem(cJSON_GetObjectItem(props,
				"storageProfile"), "osDisk");
	const cJSON *net = cJSON_GetObjectItem(props, "networkProfile");
	const cJSON *nic;
	int i = 0;

	if (!_enum_ok(props, "priority", "priority", prio, r) ||
	    !_enum_ok(props, "evictionPolicy", "evictionPolicy", evict, r))
		return false;
	if (disk && (_missing(disk, "createOption", "osDisk.createOption", r) ||
		     !_enum_ok(disk, "createOption", "osDisk.createOption",
			       create, r) ||
		     !_enum_ok(disk, "caching", "osDisk.caching", caching, r) ||
		     !_enum_ok(disk, "deleteOption", "osDisk.deleteOption", del,
			       r) ||
		     !_enum_ok(cJSON_GetObjectItem(disk, "managedDisk"),
			       "storageAccountType",
			       "osDisk.managedDisk.storageAccountType", sat, r)))
		return false;
	if (cJSON_IsTrue(cJSON_GetObjectItem(lin, "disablePasswordAuthentication")) &&
	    cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(lin,
				"ssh"), "publicKeys")) == 0) {
		emu_error(r, 400, "InvalidParameter", "Authentication using "
			  "either SSH or by user name and password must be "
			  "enabled in Linux profile.");
		return false;
	}
	cJSON_ArrayForEach(nic, cJSON_GetObjectItem(net,
			   "networkInterfaceConfigurations")) {
		const cJSON *np = cJSON_GetObjectItem(nic, "properties"), *ip;
		char param[200];
		int j = 0;

		snprintf(param, sizeof(param), "networkProfile."
			 "networkInterfaceConfigurations[%d].name", i);
		if (_missing(nic, "name", param, r))
			return false;
		if (cJSON_GetArraySize(cJSON_GetObjectItem(np,
				       "ipConfigurations")) == 0) {
			snprintf(param, sizeof(param), "networkProfile."
				 "networkInterfaceConfigurations[%d]."
				 "properties.ipConfigurations", i);
			emu_error(r, 400, "InvalidParameter", "Required "
				  "parameter '%s' is missing (null).", param);
			return false;
		}
		cJSON_ArrayForEach(ip, cJSON_GetObjectItem(np,
				   "ipConfigurations")) {
			snprintf(param, sizeof(param), "networkProfile."
				 "networkInterfaceConfigurations[%d]."
				 "properties.ipConfigurations[%d].name", i, j);
			if (_missing(ip, "name", param, r))
				return false;
			snprintf(param, sizeof(param), "networkProfile."
				 "networkInterfaceConfigurations[%d]."
				 "properties.ipConfigurations[%d].properties."
				 "subnet.id", i, j);
			if (_missing(cJSON_GetObjectItem(cJSON_GetObjectItem(
				     ip, "properties"), "subnet"), "id", param,
				     r))
				return false;
			j++;
		}
		i++;
	}
	return true;
}

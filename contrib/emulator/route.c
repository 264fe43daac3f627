/*
 * route.c - the Azure emulator's routing: which handler answers which
 * method and path.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>

#include "catalog.h"
#include "emu.h"

/* /subscriptions/... */
void emu_arm(struct MHD_Connection *c, const char *method, char *path,
		 const char *body, reply_t *r)
{
	char *seg[16];
	int n = emu_segments(path, seg, 16);

	token_state_t ts = emu_token_state(c);

	if (ts != TOKEN_OK) {
		if (ts == TOKEN_MISSING)
			emu_error(r, 401, "AuthenticationFailed", "Authentication "
			       "failed. The 'Authorization' header is missing.");
		else if (ts == TOKEN_EXPIRED)
			emu_error(r, 401, "ExpiredAuthenticationToken", "The access "
			       "token expiry UTC time is earlier than current "
			       "UTC time.");
		else
			emu_error(r, 401, "InvalidAuthenticationToken", "The access "
			       "token is invalid.");
		emu_header(r, "WWW-Authenticate", "Bearer authorization_uri="
			"\"http://%s:%d/common\"", emu_net_st.listen_host, emu_net_st.port);
		return;
	}
	if (!emu_arg(c, "api-version")) {
		emu_error(r, 400, "MissingApiVersionParameter", "The api-version "
		       "query parameter (?api-version=) is required for all "
		       "requests.");
		return;
	}
	if (emu_faults.error_rate > 0 &&
	    rand_r(&emu_seed) / (double) RAND_MAX < emu_faults.error_rate) {
		emu_stats.errors_injected++;
		if (rand_r(&emu_seed) % 2) {
			emu_error(r, 503, "ServerBusy", "The server is currently "
			       "unable to handle the request.");
			emu_header(r, "Retry-After", "1");
		} else {
			emu_error(r, 500, "InternalServerError", "An internal server "
			       "error occurred.");
		}
		return;
	}
	/* names become keys, ids and headers: Azure's rules bound them */
	if (n < 2 || !emu_chars_ok(seg[1], 64, "-")) {
		emu_error(r, 400, "InvalidSubscriptionId", "The provided subscription "
		       "identifier '%.64s' is malformed or invalid.",
		       n < 2 ? "" : seg[1]);
		return;
	}
	if (n >= 4 && !strcasecmp(seg[2], "resourceGroups") && !emu_rg_ok(seg[3])) {
		emu_error(r, 400, "InvalidResourceGroupName", "Resource group names "
		       "only allow up to 90 characters and alphanumeric "
		       "characters, periods, underscores, hyphens and "
		       "parenthesis and cannot end in a period.");
		return;
	}
	if (n >= 6 && !strcasecmp(seg[4], "locations") &&
	    !emu_chars_ok(seg[5], 64, "")) {
		emu_error(r, 400, "LocationNotAvailableForResourceType", "The "
		       "provided location '%.64s' is not available for resource "
		       "type 'Microsoft.Compute'.", seg[5]);
		return;
	}
	/* subscriptions/S/providers/Microsoft.Compute/locations/L/{usages,vmSizes,operations/ID,operationResults/ID} */
	if (n >= 6 && !strcasecmp(seg[2], "providers") &&
	    !strcasecmp(seg[3], "Microsoft.Compute") &&
	    !strcasecmp(seg[4], "locations")) {
		if (n == 7 && !strcasecmp(seg[6], "usages") && !strcmp(method, "GET"))
			return emu_usages(seg[5], r);
		if (n == 7 && !strcasecmp(seg[6], "vmSizes") && !strcmp(method, "GET"))
			return emu_vm_sizes(r);
		if (n == 8 && !strcasecmp(seg[6], "operations"))
			return emu_operation(seg[7], false, r);
		if (n == 8 && !strcasecmp(seg[6], "operationResults"))
			return emu_operation(seg[7], true, r);
	}
	/* subscriptions/S/resourceGroups/RG/providers/Microsoft.Compute/virtualMachines[/NAME[/ACTION]] */
	if (n >= 7 && !strcasecmp(seg[2], "resourceGroups") &&
	    !strcasecmp(seg[4], "providers")) {
		if (!strcasecmp(seg[5], "Microsoft.Compute") &&
		    !strcasecmp(seg[6], "virtualMachines")) {
			if (n == 7 && !strcmp(method, "GET")) {
				if (emu_compute_take(r, CP_LIST))
					emu_vm_list(seg[1], seg[3], c, r);
				return;
			}
			if (n >= 8 && !emu_name_ok(seg[7])) {
				emu_error(r, 400, "InvalidResourceName", "The "
				       "resource name '%.64s' is invalid.", seg[7]);
				return;
			}
			if (n == 8 && !strcmp(method, "PUT")) {
				if (emu_take_write_token(r) &&
				    emu_compute_take(r, CP_PUT_VM))
					emu_vm_put(c, seg[1], seg[3], seg[7], body, r);
				return;
			}
			if (n == 8 || n == 9)
				return emu_vm_action(method, seg[1], seg[3], seg[7],
						  n == 9 ? seg[8] : NULL, c, r);
		}
		/* .../virtualMachineScaleSets[/NAME[/delete]] */
		if (!strcasecmp(seg[5], "Microsoft.Compute") &&
		    !strcasecmp(seg[6], "virtualMachineScaleSets") && n <= 9) {
			if (n >= 8 && !emu_name_ok(seg[7])) {
				emu_error(r, 400, "InvalidResourceName", "The "
				       "resource name '%.64s' is invalid.", seg[7]);
				return;
			}
			return emu_vmss(c, method, seg[1], seg[3], n >= 8 ? seg[7] :
				     NULL, n == 9 ? seg[8] : NULL, body, r);
		}
		if (n == 8 && !strcasecmp(seg[5], "Microsoft.Network") &&
		    !strcasecmp(seg[6], "networkInterfaces") &&
		    !strcmp(method, "GET"))
			return emu_nic_get(seg[1], seg[3], seg[7], r);
	}
	emu_error(r, 404, "InvalidResourceType", "azure-emulator does not serve %s "
	       "on this path.", method);
}


#!/bin/bash
# tests/system/azure-sdk.sh - Microsoft's own clients against the emulator:
# the same answers the product's ARM client reads, read by the Azure SDK
# for Python (Debian's python3-azure) and by azure-cli (Debian's azure-cli),
# which were written by other hands and assume the real Azure.
#
# The emulator serves https with a test CA (tests/tls-certs.sh) and IMDS
# on its own plain-http port, as on Azure.  The Python cases are in
# azure-sdk.py beside this file; the az cases below.  Each check prints
# "ok - ..." or "FAIL: ..."; every case runs, and the test fails if any did.
# Exit 77 when python3-azure is missing.
set -u
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3	# Debian's Python: python3-azure is installed for it

"$PY" -c 'import azure.mgmt.compute, azure.identity, azure.keyvault.secrets' \
	2> /dev/null || {
	echo "SKIP: Debian's python3-azure is not installed for $PY (tests/packages.sh installs it)"
	exit 77
}
[ -x "$AZML_BUILD/contrib/emulator/azure-emulator" ] ||
	azml_fail "$AZML_BUILD/contrib/emulator/azure-emulator is not built"

T=$(mktemp -d /tmp/azml-azure-sdk.XXXXXX)
chmod 755 "$T"
trap azml_stop EXIT
bash "$AZML_TOP/tests/tls-certs.sh" "$T/tls" || azml_fail "tests/tls-certs.sh"
CA=$T/tls/ca.pem

# The emulator over https, IMDS over http on the next port.
port=$(azml_free_ports 2) || azml_fail "no free ports"
EMU_PORT=$port
EMU_URL=https://127.0.0.1:$port
IMDS_URL=http://127.0.0.1:$((port + 1))
printf 'emulator-secret\n' > "$T/secret"
chmod 600 "$T/secret"
head -c 1024 /dev/urandom > "$T/munge.key"
# Not recorded for tests/oav-check.sh (AZML_RECORD_DIR): the SDK speaks
# compute 2022-08-01 and network 2022-07-01, which ../shared's spec set
# (the product's versions) does not hold, and some cases send what Azure
# refuses on purpose.
"$AZML_BUILD/contrib/emulator/azure-emulator" --listen "127.0.0.1:$port" \
	--imds-listen "127.0.0.1:$((port + 1))" \
	--tls-cert "$T/tls/server.pem" --tls-key "$T/tls/server.key" \
	--state "$T/emulator.state" --client-secret emulator-secret \
	--secret "munge=$T/munge.key" --async-ms 300 --page-size 2 \
	--boot-log "$T/boot.log" --boot-command 'exit 0' \
	>> "$T/emulator.log" 2>&1 &
echo $! > "$T/emulator.pidfile"
up=
for _ in $(seq 1 100); do
	curl -sf --cacert "$CA" "$EMU_URL/emulator/stats" > /dev/null && { up=1; break; }
	sleep 0.1
done
[ -n "$up" ] || azml_fail "the emulator did not start over https"
azml_pass "the emulator serves https ($EMU_URL) and IMDS over http ($IMDS_URL)"

failed=0
export REQUESTS_CA_BUNDLE=$CA SSL_CERT_FILE=$CA
export AZURE_EMULATOR_URL=$EMU_URL AZURE_EMULATOR_IMDS=$IMDS_URL
export AZURE_EMULATOR_MUNGE_KEY=$T/munge.key
"$PY" "$AZML_TOP/tests/system/azure-sdk.py" || failed=1

# az (azure-cli 2.45): a cloud of its own pointing at the emulator, in a
# private configuration folder; az makes no other connection for these.
if ! command -v az > /dev/null; then
	echo "SKIP: azure-cli is not installed (tests/packages.sh installs it): its cases not run"
else
	export AZURE_CONFIG_DIR=$T/az AZURE_CORE_COLLECT_TELEMETRY=no
	export AZURE_CORE_NO_COLOR=1 AZURE_CORE_ONLY_SHOW_ERRORS=1
	mkdir -p "$AZURE_CONFIG_DIR" "$T/az-site"
	# az 2.45 gives MSAL no way to skip instance discovery, which asks
	# login.microsoftonline.com whether an authority is Microsoft's (and,
	# for a known one, its aliases): MSAL's own instance_discovery=False
	# is made its default, in az's process only (sitecustomize from
	# PYTHONPATH).  Nothing else of az is changed.
	cat > "$T/az-site/sitecustomize.py" <<'PY'
import functools
import msal.application
_init = msal.application.ClientApplication.__init__
@functools.wraps(_init)
def _no_discovery(self, *args, **kwargs):
    kwargs.setdefault("instance_discovery", False)
    _init(self, *args, **kwargs)
msal.application.ClientApplication.__init__ = _no_discovery
PY
	export PYTHONPATH=$T/az-site
	printf '[core]\ncollect_telemetry = no\nfirst_run = no\n' > "$AZURE_CONFIG_DIR/config"
	sub=00000000-0000-0000-0000-000000000001
	azfail() { echo "FAIL: az: $*" >&2; failed=1; }
	azrun() {	# azrun WHAT ARGS...: az ARGS, its stderr shown on failure
		local what=$1
		shift
		az "$@" > "$T/az.out" 2> "$T/az.err" && return 0
		azgap "$what" ||
			azfail "$what: az $* -> $(tail -n 5 "$T/az.err" | tr '\n' ' ')"
		return 1
	}
	azcheck() {	# azcheck WHAT PATTERN ARGS...: az ARGS prints PATTERN
		local what=$1 pat=$2
		shift 2
		azrun "$what" "$@" || return 1
		grep -qF -- "$pat" "$T/az.out" ||
			{ azfail "$what: no $pat in: $(head -c 300 "$T/az.out")"; return 1; }
		azml_pass "az $what"
	}
	# Should the profile above ever be lost: Debian's packaging gap (not
	# the emulator's) is said, not failed.
	azgap() {	# azgap WHAT: whether $T/az.err shows that gap
		grep -q 'v2022_11_01\|does not have operation group' "$T/az.err" ||
			return 1
		echo "SKIP: az $1: Debian's azure-cli asks for an API version Debian's python3-azure lacks: $(grep -m 1 'v2022_11_01\|operation group' "$T/az.err" | cut -c1-160)"
	}
	# Debian's azure-cli 2.45 asks for compute 2022-11-01 in its "latest"
	# API profile, which Debian's azure-mgmt-compute 29.0 does not have
	# (ModuleNotFoundError): the cloud takes the 2020-09-01-hybrid profile
	# (compute 2020-06-01, resource SKUs 2019-04-01, network 2018-11-01,
	# subscriptions 2016-06-01), which it has.  The emulator must accept
	# these published versions too.
	if azrun "cloud register" cloud register -n Emulator \
		--endpoint-resource-manager "$EMU_URL/" \
		--endpoint-active-directory "$EMU_URL" \
		--endpoint-active-directory-resource-id "https://management.core.windows.net/" \
		--endpoint-active-directory-graph-resource-id "https://graph.windows.net/" \
		--endpoint-management "https://management.core.windows.net/" \
		--suffix-keyvault-dns .vault.azure.net \
		--profile 2020-09-01-hybrid &&
	   azrun "cloud set" cloud set -n Emulator; then
		azml_pass "az cloud register/set a cloud whose endpoints are the emulator's (profile 2020-09-01-hybrid)"
	fi
	# MSAL reads the tenant's OpenID discovery document first; az then
	# lists the subscriptions (GET /subscriptions).
	if az login --service-principal \
		-u 22222222-2222-2222-2222-222222222222 -p emulator-secret \
		--tenant 11111111-1111-1111-1111-111111111111 \
		> "$T/az.out" 2> "$T/az.err"; then
		grep -q "$sub" "$T/az.out" &&
			azml_pass "az login --service-principal against the emulator's Entra ID lists $sub" ||
			azfail "login: subscription $sub not listed: $(cat "$T/az.out")"
		az_cases=1
	else
		azfail "login: $(tail -n 5 "$T/az.err" | tr '\n' ' ')"
	fi
	if [ -n "${az_cases:-}" ]; then
		azcheck "vm list -g rg: the VM azure-sdk.py left" '"name": "sdk-kept"' \
			vm list -g rg -o json
		azcheck "vm list -d: its NIC's private IP (networkProfile)" \
			'"privateIps": "127.0.0.1"' vm list -d -g rg -o json
		azcheck "vm list-usage -l eastus names standardDSv3Family" \
			standardDSv3Family vm list-usage -l eastus -o json
		azcheck "vm list-sizes -l eastus lists Standard_D2s_v3" \
			'"name": "Standard_D2s_v3"' vm list-sizes -l eastus -o json
		azcheck "vm list-skus -l eastus --size Standard_D2s_v3" \
			'"name": "Standard_D2s_v3"' vm list-skus -l eastus \
			--size Standard_D2s_v3 -o json
		azcheck "vm get-instance-view: PowerState/running" \
			PowerState/running vm get-instance-view -g rg -n sdk-kept -o json
		if az vm show -g rg -n az-missing -o json > "$T/az.out" 2> "$T/az.err"; then
			azfail "vm show of a VM that does not exist succeeded"
		elif grep -q ResourceNotFound "$T/az.err"; then
			azml_pass "az vm show of a missing VM: ResourceNotFound"
		elif ! azgap "vm show"; then
			azfail "vm show of a missing VM: $(tail -n 3 "$T/az.err" | tr '\n' ' ')"
		fi
		azrun "vmss list -g rg" vmss list -g rg -o json &&
			azml_pass "az vmss list -g rg (none left: az prints nothing)"
		azcheck "account get-access-token" accessToken \
			account get-access-token -o json
	fi
fi
[ "$failed" -eq 0 ] || azml_fail "some cases failed (see FAIL lines above)"
echo "${AZML_PASSED:-0} passed (the shell's), 0 failed"

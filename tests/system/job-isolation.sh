#!/bin/bash
# A job cannot become root on the cluster through IMDS.  Azure's IMDS (and
# so the emulator's) answers every process of a VM, root or not; without a
# guard an unprivileged job could (1) read the VM's userData, which names
# the identity and the vault, (2) ask IMDS for a Key Vault token of that
# identity, (3) read the munge key from Key Vault, and forge munge
# credentials.  node-init keeps every user but root away from the IMDS
# endpoint with a packet-filter rule, installed before it asks for a token.
#
# On a VM booted through node-init (sandboxed, as node-init.sh boots them),
# a job drops to 'nobody' (setpriv) and tries each step, and reads the
# munge key files; each fails.  Root in the same job still gets its token.
# A control shows the hole is real: with the rule gone, 'nobody' gets a
# token.  Then JobIdentity=: the node identity taken from the VM by
# reconcile, the rule lifted by node-init's watcher, a job's token is
# JobIdentity's, and the key stays out of reach.
set -u
. "$(dirname "$0")/lib.sh"

AZML_NODE_INIT=1
azml_cluster_init job-isolation
azml_emulator_start --vault-reader "$AZML_IDENTITY"
export EMU_URL EMU_IMDS_URL
export -f azml_emulator_vms job_state

JOB_ID=${AZML_IDENTITY%/*}/slurm-jobs
azml_emulator_cluster 60 <<CONF
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=1 IdleSecondsBeforeScaledown=300
ComputeCluster=jobid VmSize=Standard_D2s_v3 MaxNodes=1 IdleSecondsBeforeScaledown=300 JobIdentity=$JOB_ID
CONF

command -v nft > /dev/null || command -v iptables > /dev/null ||
	azml_fail "neither nft nor iptables: install nftables (tests/packages.sh)"

RES_ID=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$AZML_IDENTITY")
TOKEN_Q="metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&msi_res_id=$RES_ID"
UD_Q="metadata/instance/compute/userData?api-version=2021-01-01&format=text"

# The job: each attack as nobody, then root's own token.  One line a try:
# "NAME: rc=RC out=FIRST-300-CHARS".
cat > "$T/attack.sh" <<EOF
#!/bin/bash
# the VM's own CA store (the test CA is in it), not the submitter's
unset CURL_CA_BUNDLE
U=$EMU_IMDS_URL
try() {
	local name=\$1 out rc
	shift
	out=\$("\$@" 2>&1)
	rc=\$?
	printf '%s: rc=%s out=%s\n' "\$name" "\$rc" "\$(printf %s "\$out" | tr '\n' ' ' | head -c 300)"
}
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "\$@"; }
VM=\$(hostname)
echo "uid \$(id -u) on \$VM"
try nobody-uid nobody id -u
try nobody-userdata nobody curl -sf -m 10 -H Metadata:true "\$U/$UD_Q&vm=\$VM"
try nobody-token nobody curl -sf -m 10 -H Metadata:true "\$U/$TOKEN_Q&vm=\$VM"
try nobody-keyvault nobody curl -sf -m 10 "https://kv1.vault.azure.net/secrets/munge?api-version=7.4"
try nobody-vm-key nobody cat /etc/munge/munge.key
try nobody-ctld-key nobody cat $AZML_MUNGE_KEY
try root-token curl -sf -m 10 -H Metadata:true "\$U/$TOKEN_Q&vm=\$VM"
EOF
chmod 755 "$T/attack.sh"

# 1. A VM through node-init; its filter rule is there.
id=$(sbatch --parsable -p cpu -N1 -o "$T/attack.out" "$T/attack.sh") || azml_fail sbatch
azml_wait 120 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
grep -q "node-init: IMDS filter: ok (only root reaches 127.0.0.1:$EMU_IMDS_PORT" "$T/consoles/cpu-1.log" ||
	azml_fail "cpu-1's console has no IMDS filter line: $(grep node-init "$T/consoles/cpu-1.log")"
grep "node-init:" "$T/consoles/cpu-1.log" | sed -n 2p | grep -q "IMDS filter: ok" ||
	azml_fail "the IMDS filter is not node-init's second step: $(grep node-init "$T/consoles/cpu-1.log" | head -3)"
if command -v nft > /dev/null; then
	nft list chain inet azureml imds | grep -F "comment \"azureml-imds 127.0.0.1:$EMU_IMDS_PORT\"" |
		grep -q "ip daddr 127.0.0.1 tcp dport $EMU_IMDS_PORT meta skuid != 0 reject" ||
		azml_fail "no nftables rule for port $EMU_IMDS_PORT: $(nft list table inet azureml 2>&1)"
fi
sed 's/^/    /' "$T/attack.out"
azml_pass "node-init installs the IMDS rule (only uid 0 reaches 127.0.0.1:$EMU_IMDS_PORT) before it asks for a token"

line() { grep "^$1: " "$T/attack.out"; }
for t in nobody-uid nobody-userdata nobody-token nobody-keyvault nobody-vm-key nobody-ctld-key root-token; do
	[ "$(line $t | wc -l)" = 1 ] || azml_fail "no one '$t' line in the job's output: $(cat "$T/attack.out")"
done
failed() {	# the try NAME failed and showed nothing secret
	local l
	l=$(line "$1")
	case "$l" in *" rc=0 "*) azml_fail "as nobody, $1 succeeded: $l" ;; esac
	case "$l" in *access_token*|*eyJ*|*'"value"'*) azml_fail "as nobody, $1 showed: $l" ;; esac
}
grep -q "^uid 0 on cpu-1$" "$T/attack.out" || azml_fail "the job did not run as root on cpu-1: $(head -1 "$T/attack.out")"
[ "$(line nobody-uid)" = "nobody-uid: rc=0 out=65534" ] || azml_fail "setpriv: $(line nobody-uid)"

failed nobody-userdata
azml_pass "a job as nobody cannot read the VM's userData (identity and vault names)"
failed nobody-token
azml_pass "a job as nobody gets no IMDS token for Key Vault of the node identity"
failed nobody-keyvault
# curl's 22 (HTTP 401): the VM resolved kv1.vault.azure.net and trusted its
# certificate; Key Vault itself refused (no token)
case "$(line nobody-keyvault)" in
*" rc=22 "*) ;;
*) azml_fail "nobody-keyvault did not reach Key Vault over https: $(line nobody-keyvault)" ;;
esac
azml_pass "a job as nobody gets nothing from Key Vault directly (https://kv1.vault.azure.net: 401)"
failed nobody-vm-key
failed nobody-ctld-key
azml_pass "a job as nobody cannot read the munge key files (the VM's /etc/munge/munge.key, the controller's)"
case "$(line root-token)" in
*" rc=0 "*access_token*) ;;
*) azml_fail "root on cpu-1 got no token: $(line root-token)" ;;
esac
azml_pass "root on the same VM still gets its token"

# 2. The control: without the rule, the same request as nobody gets the
# node identity's token (what the rule closes is open).
azml_imds_filter_clear
if command -v nft > /dev/null; then
	nft list chain inet azureml imds 2> /dev/null | grep -qF "azureml-imds 127.0.0.1:$EMU_IMDS_PORT\"" &&
		azml_fail "azml_imds_filter_clear left the rule for $EMU_IMDS_PORT"
fi
out=$(setpriv --reuid=65534 --regid=65534 --clear-groups -- curl -sf -m 10 -H Metadata:true "$EMU_IMDS_URL/$TOKEN_Q&vm=cpu-1") ||
	azml_fail "without the rule, nobody got no answer from IMDS"
case "$out" in *access_token*) ;; *) azml_fail "without the rule, IMDS answered nobody: $out" ;; esac
azml_pass "control: without the rule, nobody gets the node identity's token from IMDS (the emulator answers every user, as Azure does)"

# 3. JobIdentity=: the VM is made with both identities; once its node
# registered, reconcile takes the node identity away, node-init's watcher
# sees IMDS refuse it and lifts the rule: a job (as nobody) gets a token of
# JobIdentity, none of the node identity, and still no key.  The VM
# sandboxes share one network namespace, so cpu-1 (whose rule is the same
# rule) goes first.
scontrol update nodename=cpu-1 state=power_down_force reason=test || azml_fail "power down cpu-1"
azml_wait 60 bash -c "! azml_emulator_vms | grep -qw cpu-1" || azml_fail "cpu-1 not deleted: $(azml_emulator_vms)"
id=$(sbatch --parsable -p jobid -N1 --wrap true) || azml_fail "sbatch -p jobid"
azml_wait 120 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
grep -q "node-init: IMDS filter: ok" "$T/consoles/jobid-1.log" || azml_fail "jobid-1 has no IMDS filter"
idents() {
	curl -sf "$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/$1?api-version=2024-07-01" \
		-H "Authorization: Bearer $(azml_emulator_token)" |
		python3 -c 'import json, sys; print(" ".join(sorted(k.rsplit("/", 1)[1] for k in json.load(sys.stdin)["identity"]["userAssignedIdentities"])))'
}
[ "$(idents jobid-1)" = "slurm-jobs slurm-nodes" ] || azml_fail "jobid-1's identities: $(idents jobid-1)"
azml_pass "with JobIdentity=, the VM is made with the node identity and the jobs' one"
out=$("$AZML_BIN" reconcile -f "$T/azureml.conf" 2>&1) || azml_fail "reconcile: $out"
echo "$out" | grep -q "VM jobid-1 (node jobid-1): its node registered; taking away the node identity" ||
	azml_fail "reconcile did not take the node identity: $out"
[ "$(idents jobid-1)" = "slurm-jobs" ] || azml_fail "jobid-1's identities after reconcile: $(idents jobid-1)"
out=$("$AZML_BIN" reconcile -f "$T/azureml.conf" 2>&1) || azml_fail "reconcile again: $out"
echo "$out" | grep -q "taking away" && azml_fail "reconcile patched jobid-1 twice: $out"
azml_pass "reconcile takes the node identity from the VM once its node registered (once)"
azml_wait 30 grep -q "node-init: IMDS filter: removed" "$T/consoles/jobid-1.log" ||
	azml_fail "node-init did not lift the filter: $(grep 'IMDS filter' "$T/consoles/jobid-1.log")"
nft list chain inet azureml imds 2> /dev/null | grep -qF "azureml-imds 127.0.0.1:$EMU_IMDS_PORT\"" &&
	azml_fail "the rule for $EMU_IMDS_PORT is still there"
azml_pass "node-init's watcher lifts the IMDS rule once IMDS no longer gives the node identity"

JOB_RES=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$JOB_ID")
cat > "$T/jobid.sh" <<JOB
#!/bin/bash
unset CURL_CA_BUNDLE	# the VM's own CA store, not the submitter's
U=$EMU_IMDS_URL
nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "\$@"; }
TQ="metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net&vm=\$(hostname)"
echo "job-token: \$(nobody curl -s -m 10 -H Metadata:true "\$U/\$TQ&msi_res_id=$JOB_RES" | tr -d '\n' | cut -c1-60)"
echo "node-token: \$(nobody curl -s -m 10 -H Metadata:true "\$U/\$TQ&msi_res_id=$RES_ID" | tr -d '\n')"
tok=\$(nobody curl -s -m 10 -H Metadata:true "\$U/\$TQ&msi_res_id=$JOB_RES" | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')
echo "keyvault: \$(nobody curl -s -m 10 -w ' http=%{http_code}' -H "Authorization: Bearer \$tok" "https://kv1.vault.azure.net/secrets/munge?api-version=7.4" | tr -d '\n')"
echo "vm-key: \$(nobody cat /etc/munge/munge.key 2>&1 | head -c 100 | tr -d '\n')"
JOB
chmod 755 "$T/jobid.sh"
id=$(sbatch --parsable -p jobid -N1 -o "$T/jobid.out" "$T/jobid.sh") || azml_fail "sbatch jobid.sh"
azml_wait 60 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
sed 's/^/    /' "$T/jobid.out"
grep -q '^job-token: {"access_token":' "$T/jobid.out" || azml_fail "no JobIdentity token: $(cat "$T/jobid.out")"
azml_pass "a job as nobody gets a token of JobIdentity from IMDS"
grep -q '^node-token: .*"invalid_request".*Identity not found' "$T/jobid.out" ||
	azml_fail "the node identity was not refused: $(grep node-token "$T/jobid.out")"
azml_pass "IMDS refuses the node identity, which the VM no longer has (400 invalid_request, Identity not found)"
grep -q '^keyvault: .*"Forbidden".* http=403$' "$T/jobid.out" ||
	azml_fail "Key Vault with JobIdentity: $(grep keyvault "$T/jobid.out")"
grep -q '^vm-key: cat: /etc/munge/munge.key: Permission denied$' "$T/jobid.out" ||
	azml_fail "munge.key: $(grep vm-key "$T/jobid.out")"
azml_pass "with JobIdentity's token a job still cannot read the munge key (Key Vault 403, the file unreadable)"

echo "$AZML_PASSED passed, 0 failed"

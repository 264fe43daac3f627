#!/bin/bash
# A created VM joins the cluster by itself: each emulated VM boots in a
# sandbox of its own (UTS, mount, PID and time namespaces; private munge and
# Slurm directories) and runs the real `slurm-azureml node-init`, which reads
# its userData from IMDS, fetches the munge key from the emulator's Key Vault
# with the VM's user-assigned identity, starts its own munged and a
# configless slurmd.  The controller's munged serves the default socket and
# slurm.conf has no AuthInfo, as on a real controller.
#
# Then every way node-init can fail, at once: a missing secret and a token
# Key Vault refuses (before munge works: the reason comes from the VM's
# serial log at ResumeTimeout), wrong GPUs, a failing setup script and an
# incompatible slurmd (after munge works: the node reports itself at once).
# Then a maintenance event on a busy node, and a compute instance stopped
# and started.
set -u
. "$(dirname "$0")/lib.sh"

AZML_NODE_INIT=1
azml_cluster_init node-init
OTHER_ID=${AZML_IDENTITY%/*}/not-a-vault-reader
azml_emulator_start --vault-reader "$AZML_IDENTITY"
export EMU_URL
export -f azml_emulator_vms job_state

cat > "$T/setup-fails.sh" <<'EOF'
#!/bin/sh
echo "site setup: mounting /shared"
exit 3
EOF
chmod 755 "$T/setup-fails.sh"
# The image of the "newslurmd" VMs carries a slurmd newer than the
# controller (a stand-in for the image's binary: it answers -V only).
cat > "$T/slurmd-99" <<'EOF'
#!/bin/sh
[ "$1" = -V ] && { echo "slurm 99.05.0"; exit 0; }
exit 1
EOF
chmod 755 "$T/slurmd-99"
echo "NODE_INIT_ARGS=\"--slurmd $T/slurmd-99\"" > "$T/node-init.newslurmd-1"

azml_emulator_cluster 40 <<CONF
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=10
ComputeCluster=nosecret VmSize=Standard_D2s_v3 MaxNodes=1 MungeKeySecret=https://kv1.vault.azure.net/secrets/no-such-secret
ComputeCluster=forbidden VmSize=Standard_D2s_v3 MaxNodes=1 Identity=$OTHER_ID
ComputeCluster=noident VmSize=Standard_D2s_v3 MaxNodes=1
ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=1 QuotaApproved=yes
ComputeCluster=setup VmSize=Standard_D2s_v3 MaxNodes=1 NodeSetupScript=$T/setup-fails.sh
ComputeCluster=newslurmd VmSize=Standard_D2s_v3 MaxNodes=1
ComputeInstance=box VmSize=Standard_D2s_v3
CONF
grep -q '^SlurmctldParameters=.*enable_configless' "$T/nodes.conf" ||
	azml_fail "generate did not enable configless: $(grep SlurmctldParameters "$T/nodes.conf")"

vm_json() { curl -sf "$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/$1?api-version=2024-07-01&\$expand=userData" -H "Authorization: Bearer $(azml_emulator_token)"; }

# 1. Two nodes from zero, through node-init.
t0=$SECONDS
id=$(sbatch --parsable -p cpu -N2 -o "$T/hostnames.out" --wrap 'srun hostname | sort') || azml_fail sbatch
azml_wait 120 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
echo "  job $id: sbatch to COMPLETED in $((SECONDS - t0)) s"
[ "$(cat "$T/hostnames.out")" = "$(printf 'cpu-1\ncpu-2')" ] ||
	azml_fail "srun hostname printed: $(cat "$T/hostnames.out")"
for n in cpu-1 cpu-2; do
	grep -q "node-init: Key Vault: ok" "$T/consoles/$n.log" ||
		azml_fail "$n's console has no Key Vault line"
	grep -q "node-init: slurmd: ok" "$T/consoles/$n.log" ||
		azml_fail "$n's console has no slurmd line"
done
sed -n 's/^/    cpu-1 console: /p' "$T/consoles/cpu-1.log" | grep node-init | head -9
azml_pass "a 2-node job from zero runs on sandboxed VMs that fetched the munge key from Key Vault; srun hostname prints the node names"

# 2. userData holds no secret; the VM carries the identity.
vm_json cpu-1 > "$T/cpu-1.json" || azml_fail "GET VM cpu-1"
python3 - "$T/cpu-1.json" "$AZML_MUNGE_KEY" "$AZML_IDENTITY" <<'PY' || azml_fail "userData/identity of cpu-1"
import base64, json, sys
vm = json.load(open(sys.argv[1]))
key = open(sys.argv[2], "rb").read()
ud = base64.b64decode(vm["properties"]["userData"])
d = json.loads(ud)
assert d["node"] == "cpu-1" and d["munge_key_secret"].endswith("/secrets/munge"), d
for needle in (key, base64.b64encode(key), key[:16], base64.b64encode(key)[:24]):
    assert needle not in ud, "key material in userData"
assert "secret" not in json.dumps({k: v for k, v in d.items() if k != "munge_key_secret"}).lower()
ids = vm["identity"]["userAssignedIdentities"]
assert vm["identity"]["type"] == "UserAssigned" and sys.argv[3] in ids, vm["identity"]
print("    userData:", ud.decode())
PY
azml_pass "userData holds the bootstrap settings and no secret; the VM carries the user-assigned identity"

azml_wait 90 bash -c "[ -z \"\$(azml_emulator_vms)\" ]" ||
	azml_fail "VMs left after the idle time: $(azml_emulator_vms)"
azml_wait 30 bash -c "[ \"\$(sinfo -h -p cpu -o %t)\" = 'idle~' ]" ||
	azml_fail "cpu is $(sinfo -h -p cpu -o %t)"
azml_pass "back to zero VMs after the idle time"

# 3. Every failure at once.  The noident VM is made while the emulator
# drops the identities VMs ask for (as when the identity was removed).
declare -A job want
curl -sf -X POST -d '{"identity_missing":true}' "$EMU_URL/emulator/faults" > /dev/null
job[noident]=$(sbatch --parsable -p noident -N1 --wrap true) || azml_fail "sbatch -p noident"
azml_wait 30 bash -c "azml_emulator_vms | grep -qw noident-1" || azml_fail "no VM for noident-1"
curl -sf -X POST -d '{"identity_missing":false}' "$EMU_URL/emulator/faults" > /dev/null
for p in nosecret forbidden gpu setup newslurmd; do
	job[$p]=$(sbatch --parsable -p $p -N1 --wrap true) || azml_fail "sbatch -p $p"
done
want[gpu]="azureml: node-init: GPU check: "
want[setup]="azureml: node-init: setup script: "
want[newslurmd]="azureml: node-init: slurmd: slurmd 99.05.0 is newer than slurmctld"
want[nosecret]="azureml: node-init: Key Vault: SecretNotFound"
want[forbidden]="azureml: node-init: Key Vault: Forbidden"
want[noident]="azureml: node-init: identity: "
reason() { scontrol -o show node "$1" | grep -o 'Reason=[^[]*' | sed 's/^Reason=//; s/ *$//'; }
t0=$SECONDS
for p in gpu setup newslurmd; do
	azml_wait 40 bash -c "scontrol -o show node $p-1 | grep -qF 'Reason=${want[$p]}'" ||
		azml_fail "$p-1's reason is '$(reason $p-1)', not '${want[$p]}…'"
	echo "  $p-1 after $((SECONDS - t0)) s: $(reason $p-1)"
done
[ $((SECONDS - t0)) -lt 55 ] || azml_fail "the node-reported failures took $((SECONDS - t0)) s"
azml_pass "after munge works, wrong GPUs, a failing setup script and a newer slurmd: the node reports the step at once"
for p in nosecret forbidden noident; do
	azml_wait 120 bash -c "scontrol -o show node $p-1 | grep -qF 'Reason=${want[$p]}'" ||
		azml_fail "$p-1's reason is '$(reason $p-1)', not '${want[$p]}…'"
	echo "  $p-1 after $((SECONDS - t0)) s: $(reason $p-1)"
done
azml_pass "before munge works, a missing secret, a refused token and a VM without its identity: the step reaches the reason through the serial log at ResumeTimeout"
# A requeued job shows Reason=None until the scheduler's next pass.
waits_with_reason() {
	scontrol -o show job "$1" | grep -q 'JobState=PENDING Reason=[A-Za-z]' &&
		! scontrol -o show job "$1" | grep -q ' Reason=None '
}
export -f waits_with_reason
for p in nosecret forbidden noident gpu setup newslurmd; do
	azml_wait 30 waits_with_reason "${job[$p]}" ||
		azml_fail "job ${job[$p]} on $p: $(scontrol -o show job "${job[$p]}" | grep -o 'JobState=[^ ]* Reason=[^ ]*')"
done
azml_wait 60 bash -c "! azml_emulator_vms | grep -q ." ||
	azml_fail "VMs left after the failures: $(azml_emulator_vms)"
azml_pass "no VM is left, and each job waits with a reason users can read ($(squeue -h -j "${job[gpu]}" -o %r))"
scancel "${job[@]}"

# 4. A maintenance event on a busy node: drained before it, back after.
id=$(sbatch --parsable -p cpu -N1 -w cpu-1 --wrap 'sleep 25') || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(job_state $id)\" = RUNNING ]" || azml_fail "job $id: $(job_state "$id")"
curl -sf -X POST "$EMU_URL/emulator/events/cpu-1?type=Freeze&in=60&duration=5" > /dev/null ||
	azml_fail "schedule Freeze"
azml_wait 20 bash -c "scontrol -o show node cpu-1 | grep -q 'Reason=azureml: maintenance: Freeze'" ||
	azml_fail "cpu-1 not drained for the Freeze: $(reason cpu-1)"
id2=$(sbatch --parsable -p cpu -N1 -w cpu-1 --wrap true) || azml_fail sbatch
sleep 3
[ "$(job_state "$id2")" = PENDING ] || azml_fail "job $id2 is $(job_state "$id2") on a node drained for maintenance"
[ "$(job_state "$id")" = RUNNING ] || azml_fail "the running job $id was disturbed: $(job_state "$id")"
azml_pass "Freeze on a busy node: drained with the event in the reason, no new job starts there"
azml_wait 90 bash -c "[ \"\$(job_state $id2)\" = COMPLETED ]" ||
	azml_fail "job $id2 after the Freeze: $(job_state "$id2"), cpu-1: $(sinfo -h -n cpu-1 -o %t) $(reason cpu-1)"
[ "$(job_state "$id")" = COMPLETED ] || azml_fail "job $id: $(job_state "$id")"
azml_pass "the event starts once the node is empty, and the node returns after it"

# 5. A compute instance stopped and started: node-init runs again.
scontrol update nodename=box state=power_up || azml_fail "power_up box"
azml_wait 60 bash -c "[ \"\$(sinfo -h -n box -o %t)\" = idle ]" ||
	azml_fail "box did not come up: $(sinfo -h -n box -o %t)"
"$AZML_BIN" instance stop box > /dev/null || azml_fail "instance stop box"
"$AZML_BIN" instance start box > /dev/null || azml_fail "instance start box"
azml_wait 60 bash -c "[ \"\$(sinfo -h -n box -o %t)\" = idle ]" ||
	azml_fail "box is $(sinfo -h -n box -o %t) after start"
# node-init says "slurmd: ok" once slurmd has run a few seconds with its
# configuration: that may come after the node registered.
second_boot_ok() {
	awk '/node-init: userData: ok/ { n++ } n >= 2 && /node-init: slurmd: ok/ { ok = 1 } END { exit !ok }' "$1"
}
export -f second_boot_ok
azml_wait 20 second_boot_ok "$T/consoles/box.log" ||
	azml_fail "node-init did not run again on box: $(grep node-init "$T/consoles/box.log")"
id=$(sbatch --parsable -p box --wrap hostname -o "$T/box.out") || azml_fail sbatch
azml_wait 30 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" || azml_fail "job on box: $(job_state "$id")"
[ "$(cat "$T/box.out")" = box ] || azml_fail "box printed $(cat "$T/box.out")"
azml_pass "a compute instance stopped and started runs node-init again and comes back"
echo "$AZML_PASSED passed, 0 failed"

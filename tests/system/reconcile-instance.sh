#!/bin/bash
# reconcile deletes orphan VMs and keeps MinNodes powered; compute instances
# stop and start; targets shows nodes by state; a low-priority eviction
# requeues the job.  Real daemons and the emulator.
set -u
. "$(dirname "$0")/lib.sh"

# VMs boot as real ones do: node-init in the emulator's sandbox.
AZML_NODE_INIT=1
azml_cluster_init reconcile
azml_emulator_start
azml_emulator_cluster <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=3 IdleSecondsBeforeScaledown=600
ComputeCluster=keep VmSize=Standard_D2s_v3 MinNodes=1 MaxNodes=2 IdleSecondsBeforeScaledown=5
ComputeInstance=dev-box VmSize=Standard_DS3_v2
CONF

# An orphan: a VM of this cluster whose node is powered down (and whose
# slurmd never starts, so that Slurm does not see it).
touch "$T/noboot-cpu-2"
tok=$(curl -sf -X POST -d 'grant_type=client_credentials&client_id=c&client_secret=emulator-secret&scope=https://management.azure.com/.default' \
	"$EMU_URL/t/oauth2/v2.0/token" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -sf -X PUT -H "Authorization: Bearer $tok" -H "Content-Type: application/json" -d "{\"location\":\"eastus\",\"tags\":{\"slurm-cluster\":\"azml$$\",\"slurm-node\":\"cpu-2\"},\"properties\":{\"hardwareProfile\":{\"vmSize\":\"Standard_D2s_v3\"}}}" \
	"$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/cpu-2?api-version=2024-07-01" > /dev/null ||
	azml_fail "couldn't make an orphan"
# and a VM of another cluster in the same resource group: not ours to touch
curl -sf -X PUT -H "Authorization: Bearer $tok" -H "Content-Type: application/json" -d '{"location":"eastus","tags":{"slurm-cluster":"someone-else","slurm-node":"x-1"},"properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"}}}' \
	"$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/x-1?api-version=2024-07-01" > /dev/null
sleep 1
# Azure's tags as a hostile party writes them: a slurm-node tag with a
# terminal escape is printed escaped, and never names the journal's node
install -d -m 0700 "$T/azureml-state" "$T/azureml-state/journal"	# (none written yet)
curl -sf -X POST -d '{"node_tag":"victim\u001b]0;pwn\u0007"}' "$EMU_URL/emulator/faults" > /dev/null ||
	azml_fail "faults node_tag"
out=$("$AZML_BIN" reconcile --dry-run) || azml_fail "reconcile --dry-run: $out"
curl -sf -X POST -d '{"node_tag":""}' "$EMU_URL/emulator/faults" > /dev/null
grep -q "orphan VM cpu-2 (node cpu-2): its node is powered down; would delete it" <<<"$out" ||
	azml_fail "dry run: $out"
grep -qF '(VM cpu-2 is tagged slurm-node=victim\x1b]0;pwn\x07; a VM serves the node it is named after)' <<<"$out" ||
	azml_fail "the tag was not printed escaped: $(grep tagged <<<"$out" | od -c | head)"
grep -q $'\x1b' <<<"$out" && azml_fail "reconcile printed a raw escape"
grep -q "journal: VM cpu-2: Azure has it (node cpu-2), the journal does not" <<<"$out" ||
	azml_fail "the journal's node is not the VM's name: $(grep journal <<<"$out")"
grep -q "cluster keep has fewer than MinNodes=1 powered; would power up keep-1" <<<"$out" ||
	azml_fail "dry run MinNodes: $out"
[ "$(azml_emulator_vms)" = "cpu-2 x-1" ] || azml_fail "the dry run changed something: $(azml_emulator_vms)"
azml_pass "reconcile --dry-run reports the orphan and MinNodes, changes nothing"

out=$("$AZML_BIN" reconcile) || azml_fail "reconcile: $out"
echo "$out" | sed 's/^/  /'
azml_wait 10 bash -c "[ \"\$(curl -sf $EMU_URL/emulator/vms | grep -o '\"name\":\"[^\"]*\"' | sort | tr '\n' ' ')\" = '\"name\":\"keep-1\" \"name\":\"x-1\" ' ]" ||
	azml_fail "after reconcile the emulator holds: $(azml_emulator_vms)"
azml_wait 60 bash -c "[ \"\$(sinfo -h -n keep-1 -o %t)\" = idle ]" ||
	azml_fail "keep-1 is $(sinfo -h -n keep-1 -o %t)"
sleep 8	# longer than IdleSecondsBeforeScaledown: MinNodes keeps it
[ "$(sinfo -h -n keep-1 -o %t)" = idle ] || azml_fail "keep-1 was powered down below MinNodes"
azml_pass "reconcile deletes the orphan, leaves other clusters' VMs, and keeps MinNodes powered"

"$AZML_BIN" targets --json > "$T/targets.json" || azml_fail targets
python3 - "$T/targets.json" <<'PY' || azml_fail "targets --json: $(cat "$T/targets.json")"
import json, sys
d = json.load(open(sys.argv[1]))
t = {x["name"]: x for x in d["targets"]}
assert d["slurmctld"] is True
assert t["keep"]["states"]["idle"] == ["keep-1"], t["keep"]
assert t["cpu"]["states"]["powered_down"] == ["cpu-1", "cpu-2", "cpu-3"], t["cpu"]
assert t["dev-box"]["kind"] == "instance" and t["dev-box"]["vm_size"] == "Standard_DS3_v2"
PY
"$AZML_BIN" targets | grep -q '^keep .*cluster .*Standard_D2s_v3 .*Dedicated .*keep-\[1-2\]: 1 powered_down, 1 idle' ||
	azml_fail "targets: $("$AZML_BIN" targets)"
azml_pass "targets shows each target with its nodes by state"

# A compute instance: started by its first job, stopped and started by hand.
scontrol update nodename=dev-box state=power_up || azml_fail "power_up dev-box"
azml_wait 60 bash -c "[ \"\$(sinfo -h -n dev-box -o %t)\" = idle ]" ||
	azml_fail "dev-box did not come up: $(sinfo -h -n dev-box -o %t)"
out=$("$AZML_BIN" instance stop dev-box) || azml_fail "instance stop: $out"
grep -q "instance dev-box: stopped" <<<"$out" || azml_fail "instance stop said: $out"
curl -sf "$EMU_URL/emulator/vms" | grep -q '"name":"dev-box"[^}]*"powerState":"deallocated"' ||
	azml_fail "dev-box VM not deallocated: $(curl -sf "$EMU_URL/emulator/vms")"
scontrol -o show node dev-box | grep -q "Reason=azureml: compute instance dev-box stopped by an admin" ||
	azml_fail "dev-box reason: $(scontrol -o show node dev-box | grep -o 'Reason=.*')"
sinfo -h -n dev-box -o %t | grep -q down || azml_fail "dev-box is not down"
azml_pass "instance stop deallocates the VM and downs the node with a reason users understand"
out=$("$AZML_BIN" instance start dev-box) || azml_fail "instance start: $out"
curl -sf "$EMU_URL/emulator/vms" | grep -q '"name":"dev-box"[^}]*"powerState":"running"' ||
	azml_fail "dev-box VM not running"
azml_wait 60 bash -c "[ \"\$(sinfo -h -n dev-box -o %t)\" = idle ]" ||
	azml_fail "dev-box is $(sinfo -h -n dev-box -o %t) after start"
"$AZML_BIN" instance stop cpu > "$T/err" 2>&1 && azml_fail "instance stop of a cluster worked"
grep -q "'cpu' is not a ComputeInstance" "$T/err" || azml_fail "$(cat "$T/err")"
azml_pass "instance start brings the node back; a cluster is not an instance"
# Deletes by name read the VM first: a VM named like our node, of another
# cluster, is left alone by suspend and resume-fail, with why.
curl -sf -X PUT -H "Authorization: Bearer $tok" -H "Content-Type: application/json" -d '{"location":"eastus","tags":{"slurm-cluster":"someone-else","slurm-node":"cpu-3"},"properties":{"hardwareProfile":{"vmSize":"Standard_D2s_v3"}}}' \
	"$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/cpu-3?api-version=2024-07-01" > /dev/null ||
	azml_fail "couldn't make another cluster's cpu-3"
for prog in suspend resume-fail; do
	AZUREML_FOREGROUND=1 "$AZML_BUILD/plugins/power_save/slurm-azureml-$prog" cpu-3 2>/dev/null
	azml_wait 20 grep -q "$prog node=cpu-3: refusing to delete VM 'cpu-3': VM 'cpu-3' is not tagged slurm-cluster=azml$$ (its tag says 'someone-else'); nothing deleted" "$T/azureml.log" ||
		azml_fail "$prog did not refuse: $(grep cpu-3 "$T/azureml.log" | tail -3)"
	azml_emulator_vms | tr ' ' '\n' | grep -qx cpu-3 || azml_fail "$prog deleted another cluster's VM"
done
azml_pass "suspend and resume-fail leave a VM of another cluster named like their node alone, and say why"
echo "$AZML_PASSED passed, 0 failed"

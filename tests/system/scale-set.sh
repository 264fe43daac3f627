#!/bin/bash
# Provisioning=ScaleSet: a cluster's VMs come from one VM scale set
# (Flexible), grown by one etag-guarded write a resume and shrunk by one
# batched delete of exactly the nodes' VMs.  Real munged, slurmctld, the
# emulator's scale sets, and the real node-init on each VM, which learns
# its node from slurmctld (the set's VMs share one userData).
set -u
. "$(dirname "$0")/lib.sh"

AZML_NODE_INIT=1
azml_cluster_init scale-set
azml_emulator_start
export EMU_URL
export -f azml_emulator_vms job_state

azml_emulator_cluster 90 <<CONF
ComputeCluster=ss VmSize=Standard_D2s_v3 MaxNodes=4 IdleSecondsBeforeScaledown=5 Provisioning=ScaleSet
ComputeCluster=sp VmSize=Standard_F2s_v2 MaxNodes=3 IdleSecondsBeforeScaledown=600 Provisioning=ScaleSet CapacityBackoff=0
CONF

ARM=$EMU_URL/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute
SET=$(echo "azml$$-ss" | tr A-Z a-z)
TOKEN=$(azml_emulator_token)
arm() { curl -s -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' "$@"; }
set_json() { arm "$ARM/virtualMachineScaleSets/$1?api-version=2024-07-01"; }
capacity() { set_json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("sku",{}).get("capacity","none"))' 2>/dev/null; }
set_vms() {	# the VMs the emulator has in set $1 (made: ${2:-any state}), sorted
	curl -sf "$EMU_URL/emulator/vms" | python3 -c '
import json, sys
print(" ".join(sorted(v["name"] for v in json.load(sys.stdin) if v["name"].startswith(sys.argv[1] + "_")
                     and sys.argv[2] in ("", v.get("provisioningState", v.get("provisioning", ""))))))' "$1" "${2:-}"
}
pairs() { sort "$T/azureml-state/sets/$1" 2>/dev/null | awk '{print $2 "=" $1}' | tr '\n' ' '; }
vmss_writes() { curl -sf "$EMU_URL/emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("writes_by_type",{}).get("virtualMachineScaleSets",0))'; }
PS=$AZML_BUILD/plugins/power_save

# 1. A job from zero: one write makes the set with 2 VMs; each VM's
# node-init finds its node by its hostname (NodeHostname); then the idle
# nodes go, by one batched delete.
w0=$(vmss_writes)
t0=$SECONDS
id=$(sbatch --parsable -p ss -N2 -o "$T/ss.out" --wrap 'srun hostname | sort') || azml_fail sbatch
azml_wait 120 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id")"
echo "  job $id: sbatch to COMPLETED in $((SECONDS - t0)) s; ran on $(tr '\n' ' ' < "$T/ss.out")"
# hostnames are the VMs' computerNames: the prefix ss- and six characters
[ "$(grep -cE '^ss-[a-z0-9]{6}$' "$T/ss.out")" = 2 ] ||
	azml_fail "the job did not run on the set's VMs: $(cat "$T/ss.out")"
ls "$T/consoles/" | grep -q "^${SET}_" || azml_fail "no console of a set VM: $(ls "$T/consoles")"
grep -h "node-init: node name: ok" "$T/consoles/${SET}_"*.log | sed 's/^/    /' | head -2
[ "$(grep -l "node-init: node name: ok" "$T/consoles/${SET}_"*.log | wc -l)" = 2 ] ||
	azml_fail "not both VMs found their node: $(cat "$T/consoles/${SET}_"*.log)"
[ "$(vmss_writes)" = $((w0 + 1)) ] || azml_fail "scale set writes for 2 nodes: $(( $(vmss_writes) - w0 )), expected 1"
azml_wait 60 bash -c "[ -z \"\$(azml_emulator_vms | grep -o ${SET}_)\" ]" ||
	azml_fail "the set's VMs did not go: $(azml_emulator_vms)"
[ "$(capacity "$SET")" = 0 ] || azml_fail "capacity after scale-down: $(capacity "$SET")"
# the VMs go at once; the operation ends a poll later, and the pairings with it
azml_wait 30 bash -c "[ -z \"\$(sort $T/azureml-state/sets/$SET 2>/dev/null)\" ]" ||
	azml_fail "pairings left: $(pairs "$SET")"
[ "$(vmss_writes)" = $((w0 + 2)) ] || azml_fail "scale set writes: $(( $(vmss_writes) - w0 )), expected 2"
azml_pass "a 2-node job from zero on a scale set runs through node-init (node found from slurmctld); back to zero; 2 writes in all"

# 2. Two resumes of the same set at once (VMs do not boot here): no lost
# capacity update, no VM given to two nodes.
touch "$T/noboot-"
w0=$(vmss_writes)
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-resume" "ss-[1-2]" 2> "$T/r1.err" &
r1=$!
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-resume" "ss-[3-4]" 2> "$T/r2.err" &
wait $r1 $!	# not the emulator, which runs in the background too
p=$(pairs "$SET")
echo "  pairings: $p"
[ "$(capacity "$SET")" = 4 ] || azml_fail "capacity after two resumes of 2: $(capacity "$SET")"
[ "$(echo "$p" | wc -w)" = 4 ] || azml_fail "pairings: $p"
[ "$(echo "$p" | tr ' ' '\n' | cut -d= -f2 | sort -u | grep -c .)" = 4 ] || azml_fail "a VM paired twice: $p"
[ "$(set_vms "$SET" | wc -w)" = 4 ] || azml_fail "set VMs: $(set_vms "$SET")"
for n in 1 2 3 4; do
	h=$(scontrol -o show node ss-$n | grep -o 'NodeHostName=[^ ]*' | cut -d= -f2)
	echo "$h" | grep -qE '^ss-[a-z0-9]{6}$' || azml_fail "ss-$n: NodeHostName=$h"
	hosts="${hosts:-} $h"
done
[ "$(echo $hosts | tr ' ' '\n' | sort -u | wc -l)" = 4 ] || azml_fail "NodeHostNames: $hosts"
echo "  writes: $(( $(vmss_writes) - w0 )) ($(grep -c 'changed since it was read' "$T/azureml.log") refused for a stale etag and sent again)"
azml_pass "two resumes at once: capacity 4, four VMs, each paired with one node, NodeHostName set"

# 3. Suspend of two nodes deletes exactly their VMs, in one write.
keep="$(echo "$p" | tr ' ' '\n' | grep -E '^ss-(1|4)=' | cut -d= -f2 | sort | tr '\n' ' ')"
w0=$(vmss_writes)
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-suspend" "ss-[2-3]" 2> "$T/s.err" || azml_fail "suspend: $(cat "$T/s.err")"
[ "$(set_vms "$SET") " = "$keep" ] || azml_fail "after suspend of ss-[2-3] the set holds $(set_vms "$SET"), expected $keep"
[ "$(vmss_writes)" = $((w0 + 1)) ] || azml_fail "suspend writes: $(( $(vmss_writes) - w0 ))"
[ "$(capacity "$SET")" = 2 ] || azml_fail "capacity after suspend: $(capacity "$SET")"
azml_pass "suspend of ss-[2-3] deleted exactly their two VMs in one request"

# 4. Reconcile: ss-4's VM vanishes behind our back, and an orphan appears
# (someone grew the set); ss-1's node is powered down in Slurm.
vm4=$(echo "$p" | tr ' ' '\n' | grep '^ss-4=' | cut -d= -f2)
arm -X DELETE "$ARM/virtualMachines/$vm4?api-version=2024-07-01" > /dev/null
azml_wait 20 bash -c "! azml_emulator_vms | grep -q $vm4" || azml_fail "$vm4 not deleted"
etag=$(set_json "$SET" | python3 -c 'import json,sys; print(json.load(sys.stdin)["etag"])')
arm -X PATCH -H "If-Match: $etag" -d '{"sku":{"capacity":2}}' "$ARM/virtualMachineScaleSets/$SET?api-version=2024-07-01" > /dev/null
for _ in $(seq 1 40); do	# made, and its operation over
	[ "$(set_vms "$SET" Succeeded | wc -w)" = 2 ] && break
	sleep 0.5
done
[ "$(set_vms "$SET" | wc -w)" = 2 ] || azml_fail "no orphan made: $(set_vms "$SET")"
# (24.11 keeps ss-1 POWERING_DOWN for a while after step 1's suspend)
azml_wait 60 bash -c "scontrol -o show node ss-1 | grep -q 'State=[^ ]*POWERED_DOWN'" ||
	azml_fail "ss-1 not powered down: $(scontrol -o show node ss-1)"
"$AZML_BIN" reconcile > "$T/reconcile.out" 2>&1
sed 's/^/    /' "$T/reconcile.out"
grep -q "node ss-4: its VM $vm4 of scale set $SET is gone; forgetting the pairing" "$T/reconcile.out" ||
	azml_fail "reconcile did not see ss-4's VM gone"
grep -q "orphan VM ${SET}_.* (node none): no node has this VM of its scale set" "$T/reconcile.out" ||
	azml_fail "reconcile did not see the orphan"
azml_wait 20 bash -c "[ -z \"\$(azml_emulator_vms | grep -o ${SET}_)\" ]" ||
	azml_fail "after reconcile the set holds $(set_vms "$SET")"
[ -z "$(pairs "$SET")" ] || azml_fail "pairings after reconcile: $(pairs "$SET")"
"$AZML_BIN" reconcile --prune-scale-sets > "$T/prune.out" 2>&1
grep -q "scale set $SET is empty; deleting it" "$T/prune.out" || azml_fail "prune: $(cat "$T/prune.out")"
for _ in $(seq 1 40); do
	st=$(arm -o /dev/null -w '%{http_code}' "$ARM/virtualMachineScaleSets/$SET?api-version=2024-07-01")
	[ "$st" = 404 ] && break
	sleep 0.5
done
[ "$st" = 404 ] || azml_fail "the empty set was not deleted (GET: HTTP $st)"
azml_pass "reconcile forgets a vanished VM's pairing, deletes the orphan and the powered-down node's VM; --prune-scale-sets deletes the empty set"

# 5. Partial capacity: the set makes one VM of three; the other two nodes
# are handed back with Azure's code at once.
SP=$(echo "azml$$-sp" | tr A-Z a-z)
curl -sf -X POST "$EMU_URL/emulator/faults" -d '{"capacity":{"Standard_F2s_v2":"AllocationFailed:1"}}' > /dev/null ||
	azml_fail "fault not set"
AZUREML_FOREGROUND=1 "$PS/slurm-azureml-resume" "sp-[1-3]" 2> "$T/sp.err"
[ "$(pairs "$SP" | wc -w)" = 1 ] || azml_fail "sp pairings: $(pairs "$SP")"
[ "$(set_vms "$SP" | wc -w)" = 1 ] || azml_fail "sp VMs: $(set_vms "$SP")"
# (called by hand on powered-down nodes, the power_down_force reason does
# not stick in Slurm: the program's own record of it is checked)
for n in sp-2 sp-3; do
	grep -q "no VM of scale set for node $n: AllocationFailed" "$T/sp.err" ||
		azml_fail "$n not handed back with AllocationFailed: $(cat "$T/sp.err")"
	grep -q AllocationFailed "$T/azureml-state/failures/$n" ||
		azml_fail "$n's failure not recorded"
done
grep "node sp-2" "$T/sp.err" | cut -c1-120 | sed 's/^/    /'
curl -sf -X POST "$EMU_URL/emulator/faults" -d '{"capacity":{}}' > /dev/null
azml_pass "partial capacity: the VM Azure made is used; the other nodes are handed back with AllocationFailed"

# 6. The emulator and slurmctld restart in the middle of a scale-out: the
# job still runs on the set.
rm -f "$T/noboot-"
id=$(sbatch --parsable -p ss -N2 --wrap 'srun hostname') || azml_fail sbatch
azml_wait 20 bash -c "grep -q 'scale set $SET: creating it\|resume ss-' $T/azureml.log" || true
azml_emulator_restart 1
azml_restart_slurmctld
azml_wait 150 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id after restarts: $(scontrol -o show job "$id")"
azml_pass "a scale-out survives an emulator restart and a slurmctld restart: job $id ran on the set"

echo "scale-set: ${AZML_PASSED:-0} passed"

#!/bin/bash
# Provisioning=ScaleSet with an instance mix (VmSize=A,B) and
# JobScaling=AllOrNothing|BestEffort (issue 29).  Real munged, slurmctld,
# the emulator's Flexible scale sets with skuProfile, and the real
# node-init on each VM (it finds its node from slurmctld), as scale-set.sh.
#   1. a 3-node job on the mix [A, B] with A out of capacity runs on B:
#      one write, no hold, the nodes told their size, cost at B's price,
#      and on 23.02+ slurmdbd's instance records (sacctmgr show instance);
#   2. partial capacity with AllOrNothing (2 of 3 made): no VM left within
#      30 s, one batched delete, the job pending with the capacity reason;
#      it runs once capacity is back;
#   3. the same with BestEffort: the 2 VMs made stay (today's behaviour).
set -u
. "$(dirname "$0")/lib.sh"

AZML_NODE_INIT=1
azml_cluster_init mix-scale-set
azml_emulator_start
export EMU_URL
export -f azml_emulator_vms job_state

A=Standard_D2s_v3
B=Standard_D4s_v3
azml_emulator_cluster 90 <<CONF
ComputeCluster=mx VmSize=$A,$B MaxNodes=3 IdleSecondsBeforeScaledown=5 Provisioning=ScaleSet AllocationStrategy=CapacityOptimized CapacityBackoff=30
ComputeCluster=be VmSize=Standard_F2s_v2 MaxNodes=3 IdleSecondsBeforeScaledown=600 Provisioning=ScaleSet JobScaling=BestEffort CapacityBackoff=15
CONF

# Slurm 23.02+ keeps each cloud node's instance in slurmdbd (sacctmgr
# show instance): MariaDB and slurmdbd, slurmctld restarted to use them.
v2302=$(scontrol --version | awk '{split($2, v, "."); print (v[1] * 100 + v[2] >= 2302)}')
dbd=
if [ "$v2302" = 1 ]; then
	if azml_slurmdbd_start; then
		dbd=yes
		azml_restart_slurmctld
	else
		dbd_why="slurmdbd does not run here: $AZML_SLURMDBD_BROKEN (doc/NOTES 7.4)"
	fi
else
	dbd_why="Slurm $(scontrol --version | cut -d' ' -f2) keeps no instances (23.02+)"
fi

MX=$(echo "azml$$-mx" | tr A-Z a-z)
BE=$(echo "azml$$-be" | tr A-Z a-z)
vmss_writes() { curl -sf "$EMU_URL/emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("writes_by_type",{}).get("virtualMachineScaleSets",0))'; }
set_vms() {	# "NAME:SIZE" of the VMs the emulator has in set $1, sorted
	curl -sf "$EMU_URL/emulator/vms" | python3 -c '
import json, sys
print(" ".join(sorted(v["name"] + ":" + v["size"] for v in json.load(sys.stdin) if v["name"].startswith(sys.argv[1] + "_"))))' "$1"
}
export -f set_vms
held() { "$AZML_BIN" targets --json | python3 -c '
import json, sys
t = {x["name"]: x for x in json.load(sys.stdin)["targets"]}
print("held" if t[sys.argv[1]]["capacity_hold"] else "free")' "$1"; }

# 1. A out: the set's one write makes 3 VMs of B; the job runs on them.
faults "{\"capacity\":{\"$A\":\"AllocationFailed\"}}"
w0=$(vmss_writes)
t0=$SECONDS
id=$(sbatch --parsable -p mx -N3 -o "$T/mx.out" --wrap 'srun hostname | sort') || azml_fail sbatch
azml_wait 180 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id: $(scontrol -o show job "$id"); $(sinfo -h -p mx -o '%N %t %E')"
echo "  job $id: sbatch to COMPLETED in $((SECONDS - t0)) s on $(nodes_of_job "$id")"
[ "$(vmss_writes)" = $((w0 + 1)) ] || azml_fail "scale set writes for 3 nodes: $(( $(vmss_writes) - w0 )), expected 1"
[ "$(held mx)" = free ] || azml_fail "mx is held after a scale-out that B served"
! grep -q "capacity: AllocationFailed" "$T/azureml.log" || azml_fail "a capacity error was taken: $(grep capacity "$T/azureml.log")"
sizes=$(grep -o "size=[^ ]*" "$T/azureml-state/journal/current" | sort | uniq -c | tr -s ' ')
echo "  journal: $sizes"
[ "$(grep " created .*target=mx " "$T/azureml-state/journal/current" | grep -c "size=$B")" = 3 ] ||
	azml_fail "the journal does not record 3 VMs of $B: $(cat "$T/azureml-state/journal/current")"
# the node's features: generate gives every size of the mix; once up,
# its ActiveFeatures name its real size alone
n1=$(scontrol -o show node mx-1)
grep -q "AvailableFeatures=[^ ]*$B" <<<"$n1" ||
	azml_fail "mx-1's AvailableFeatures do not name $B: $(grep -o 'AvailableFeatures=[^ ]*' <<<"$n1")"
grep -q "ActiveFeatures=[^ ]*$B" <<<"$n1" && ! grep -q "ActiveFeatures=[^ ]*$A" <<<"$n1" ||
	azml_fail "mx-1's features: $(grep -o '[A-Za-z]*Features=[^ ]*' <<<"$n1" | paste -sd' ')"
echo "  mx-1: $(grep -o 'ActiveFeatures=[^ ]*' <<<"$n1")"
# InstanceType/InstanceId (Slurm 23.02+): node-init starts slurmd with
# --instance-id/--instance-type from IMDS; its registration sets them
if [ "$v2302" = 1 ]; then
	grep -q " InstanceType=$B" <<<"$n1" || azml_fail "mx-1's InstanceType: $(grep -o 'Instance[A-Za-z]*=[^ ]*' <<<"$n1")"
	grep -q " InstanceId=[0-9a-f-]\{36\}" <<<"$n1" || azml_fail "mx-1 has no InstanceId: $(grep -o 'Instance[A-Za-z]*=[^ ]*' <<<"$n1")"
	echo "  mx-1: $(grep -o 'Instance[A-Za-z]*=[^ ]*' <<<"$n1" | paste -sd' ')"
else
	echo "  (Slurm $(scontrol --version | cut -d' ' -f2): no InstanceType/InstanceId before 23.02; not checked)"
fi
azml_pass "a 3-node job on the mix [$A, $B] with $A out of capacity runs on $B: one write, no hold, the journal says $B"
azml_wait 90 bash -c "[ -z \"\$(set_vms $MX)\" ]" || azml_fail "mx's VMs did not go: $(set_vms "$MX")"
azml_wait 60 bash -c "[ -z \"\$(sinfo -h -p mx -o %t | grep -vx 'idle~')\" ]" ||
	azml_fail "mx not idle~: $(sinfo -h -p mx -o '%N %t %E')"
# cost prices each VM at its real size: B's hour, not A's (the
# emulator's retail prices: D2s_v3 0.096, D4s_v3 0.192 an hour; P4 disk)
"$AZML_BIN" cost --json > "$T/cost.json" 2>&1 || azml_fail "cost --json: $(cat "$T/cost.json")"
python3 - "$T/cost.json" "$T/azureml-state/journal/current" <<'PY' || azml_fail "cost of mx: $(cat "$T/cost.json")"
import json, sys
d = json.load(open(sys.argv[1]))
r = [x for x in d["rows"] if x["target"] == "mx"][0]
at = {}
for l in open(sys.argv[2]):
    f = l.split()
    vm = [x[3:] for x in f if x.startswith("vm=")]
    if " target=mx " in l and vm and f[1] in ("created", "deleted"):
        at.setdefault(vm[0], {})[f[1]] = int(f[0])
billed = sum(v["deleted"] - v["created"] for v in at.values())
assert r["vms"] == 3 and len(at) == 3, (r, at)
disk = 5.28 / 730
want, as_a = billed / 3600 * (0.192 + disk), billed / 3600 * (0.096 + disk)
assert abs(r["cost"] - want) < 1e-9, (r["cost"], want, as_a)
print("  cost of mx: %.6f USD for %d VM-s at D4s_v3's hour (at D2s_v3's: %.6f)" % (r["cost"], billed, as_a))
PY
azml_pass "cost prices the mix's VMs at $B's hour, their real size"
# slurmdbd's instance records: each node with the vmId and size it ran as
if [ -n "$dbd" ]; then
	inst() { sacctmgr -n -P show instance format=NodeName,InstanceId,InstanceType 2>&1; }
	azml_wait 30 bash -c "[ \"\$(sacctmgr -n -P show instance format=NodeName,InstanceType | grep -c '^mx-[1-3]|$B\$')\" -ge 3 ]" ||
		azml_fail "sacctmgr show instance: $(inst)"
	inst | grep '^mx-' | sed 's/^/  sacctmgr show instance: /'
	inst | grep '^mx-' | grep -qv "^mx-[1-3]|[0-9a-f-]\{36\}|$B\$" &&
		azml_fail "an instance without its vmId or size: $(inst)"
	azml_pass "slurmdbd keeps mx-[1-3]'s instances: the vmId and $B"
else
	echo "skip - sacctmgr show instance: $dbd_why"
fi

# 2. A out, B has room for 2 VMs: AllOrNothing.
faults "{\"capacity\":{\"$A\":\"AllocationFailed\",\"$B\":\"AllocationFailed:2\"}}"
w0=$(vmss_writes)
t0=$SECONDS
id=$(sbatch --parsable -p mx -N3 --wrap 'srun hostname') || azml_fail sbatch
azml_wait 60 bash -c "grep -q 'scale set $MX: growing by 3 failed' $T/azureml.log" ||
	azml_fail "no partial scale-out: $(tail -5 "$T/azureml.log")"
azml_wait 30 bash -c "[ -z \"\$(set_vms $MX)\" ]" || azml_fail "VMs left 30 s after the partial scale-out: $(set_vms "$MX")"
t_gone=$((SECONDS - t0))
azml_wait 30 bash -c "grep -q 'scale set $MX: JobScaling=AllOrNothing: the VMs of jobs short of VMs deleted in one request' $T/azureml.log" ||
	azml_fail "no batched delete logged: $(grep "$MX" "$T/azureml.log" | tail -5)"
[ "$(grep -c "scale set $MX: JobScaling=AllOrNothing: the VMs of jobs short" "$T/azureml.log")" = 1 ] ||
	azml_fail "more than one batched delete"
[ "$(vmss_writes)" = $((w0 + 2)) ] || azml_fail "scale set writes: $(( $(vmss_writes) - w0 )), expected 2 (the scale-out and one batched delete)"
grep -q "job $id: JobScaling=AllOrNothing: 2 of its VMs made in scale set $MX before AllocationFailed; deleting them" "$T/azureml.log" ||
	azml_fail "no AllOrNothing line for job $id"
grep -q "job $id: requeued; rescheduled now" "$T/azureml.log" || azml_fail "job $id was not rescheduled at once"
azml_wait 60 bash -c "[ \"\$(job_state $id)\" = PENDING ]" || azml_fail "job $id: $(scontrol -o show job "$id")"
azml_wait 60 bash -c "scontrol -o show node mx-1 | grep -q 'Reason=azureml: capacity: AllocationFailed; retry after'" ||
	azml_fail "mx's nodes not held: $(sinfo -h -p mx -o '%N %t %E')"
scontrol -o show job "$id" | grep -q 'AdminComment=azureml: mx-[0-9]: capacity: AllocationFailed' ||
	azml_fail "job $id's history: $(scontrol -o show job "$id" | grep -o 'AdminComment=.*')"
[ "$(grep -c " deleted .*target=mx .*size=$B" "$T/azureml-state/journal/current")" -ge 5 ] ||
	azml_fail "the journal lacks the 2 short-lived VMs' deletes: $(grep ' deleted ' "$T/azureml-state/journal/current")"
echo "  job $id: no VM left after $t_gone s; $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*' | paste -sd' ')"
azml_pass "partial capacity (2 of 3) with AllOrNothing: no VM left within 30 s, one batched delete, job $id pending with the capacity reason"
faults '{"capacity":{}}'
azml_wait 90 bash -c "[ \"\$(\"$AZML_BIN\" targets --json | grep -c '\"capacity_hold\":{')\" = 0 ]" ||
	azml_fail "mx's hold is not over after its CapacityBackoff"
"$AZML_BIN" reconcile > /dev/null 2>&1
azml_wait 180 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]" ||
	azml_fail "job $id after capacity came back: $(scontrol -o show job "$id"); $(sinfo -h -p mx -o '%N %t %E')"
azml_pass "job $id runs once capacity is back"

# 3. BestEffort: the 2 VMs made stay; the third node is handed back.
faults '{"capacity":{"Standard_F2s_v2":"AllocationFailed:2"}}'
id=$(sbatch --parsable -p be -N3 --wrap 'srun hostname') || azml_fail sbatch
azml_wait 60 bash -c "grep -q 'scale set $BE: growing by 3 failed' $T/azureml.log" ||
	azml_fail "no partial scale-out on be"
azml_wait 30 bash -c "grep -q 'no VM of scale set for node be-[0-9]: AllocationFailed' $T/azureml.log" ||
	azml_fail "be's third node not handed back"
sleep 5
[ "$(set_vms "$BE" | wc -w)" = 2 ] || azml_fail "BestEffort: be's set holds $(set_vms "$BE")"
! grep -q "scale set $BE: JobScaling=AllOrNothing" "$T/azureml.log" || azml_fail "BestEffort deleted VMs"
scancel "$id"
faults '{"capacity":{}}'
azml_pass "partial capacity with BestEffort: the 2 VMs made stay, the third node is handed back"

echo "mix-scale-set: ${AZML_PASSED:-0} passed"

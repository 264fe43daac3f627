#!/bin/bash
# Scale from zero when things go wrong: a capacity error for some nodes of
# a multi-node job, 429 storms and 5xx during a resume, the emulator and
# slurmctld restarting in the middle of one, a delete that fails.  After
# every scenario: the job ran, no VM is left, every node is back to idle~.
# Real munged, slurmctld, slurmds booted by the emulator.
set -u
. "$(dirname "$0")/lib.sh"

# VMs boot as real ones do: node-init in the emulator's sandbox.
AZML_NODE_INIT=1
azml_cluster_init faults
azml_emulator_start
# ResumeTimeout 120: under the 429/5xx storm of scenario 2 a create may
# take over a minute (seen: 70 s on 24.11), which is Azure's pace, not a fault.
azml_emulator_cluster 120 <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=3 IdleSecondsBeforeScaledown=5 CapacityBackoff=5
CONF

stat() { curl -sf "$EMU_URL/emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
# Wait until the emulator has begun creating N VMs in all.
creates_reach() {
	azml_wait 30 bash -c "[ \$(curl -sf $EMU_URL/emulator/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"creates\"])') -ge $1 ]" ||
		azml_fail "no VM creation began"
}
# Done; a requeued job waits 120 s (BeginTime) in Slurm: not ours to wait.
completed() {
	local line
	line=$(scontrol -o show job "$1")
	grep -q 'JobState=COMPLETED' <<<"$line" && return 0
	grep -q 'JobState=PENDING.*Reason=BeginTime' <<<"$line" &&
		scontrol update jobid="$1" StartTime=now
	return 1
}
# After a scenario: its jobs completed, no VM left, every node idle~.
settled() {
	local what=$1 id
	shift
	for id in "$@"; do
		azml_wait 180 completed "$id" ||
			azml_fail "$what: job $id: $(scontrol -o show job "$id" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*' | tr '\n' ' ')"
	done
	azml_wait 90 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o '\"name\"')\" ]" ||
		azml_fail "$what: VMs left: $(azml_emulator_vms)"
	azml_wait 60 bash -c "[ -z \"\$(sinfo -h -p cpu -o %t | grep -vx 'idle~')\" ]" ||
		azml_fail "$what: nodes not back to idle~: $(sinfo -h -p cpu -o '%N %t %E')"
}

# 1. Capacity for one VM of the size, with the default JobScaling=
# AllOrNothing (BestEffort, where the VM made stays, is mix.sh's): a
# two-node job gets one VM of two, that VM is deleted at once, the job is
# requeued and the cluster held (CapacityBackoff=5) with Azure's code.  No
# VM is left to run a power-save program after the hold, so it is lifted by
# reconcile, run here as its timer does; then the job runs.
faults '{"capacity":{"Standard_D2s_v3":"AllocationFailed:1"}}'
id=$(sbatch --parsable -p cpu -N2 --wrap 'srun hostname') || azml_fail sbatch
azml_wait 30 bash -c "scontrol -o show node | grep -q 'Reason=azureml: capacity: AllocationFailed; retry after'" ||
	azml_fail "no AllocationFailed reason: $(sinfo -h -p cpu -o '%N %t %E')"
[ "$(job_state "$id")" = RUNNING ] && azml_fail "job $id runs on one of its two nodes"
grep -q "couldn't create VM 'cpu-[0-9]' for node cpu-[0-9] (op=[^)]*): AllocationFailed" "$T/azureml.log" ||
	azml_fail "no AllocationFailed line in the log"
azml_wait 30 grep -q "job $id: node cpu-[0-9] got no VM (AllocationFailed); JobScaling=AllOrNothing" "$T/azureml.log" ||
	azml_fail "AllOrNothing did not act: $(tail -5 "$T/azureml.log")"
azml_wait 30 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o '\"name\"')\" ]" ||
	azml_fail "capacity: the VM made for job $id stays: $(azml_emulator_vms)"
faults '{"capacity":{}}'
azml_wait 30 bash -c "! \"$AZML_BIN\" targets --json | grep -q '\"capacity_hold\":{\"code\":\"AllocationFailed'" ||
	azml_fail "the hold is not over after CapacityBackoff"
"$AZML_BIN" reconcile > "$T/reconcile.out" 2>&1 || { cat "$T/reconcile.out"; azml_fail "reconcile failed"; }
grep -q "target cpu: the capacity hold (AllocationFailed) is over; resuming cpu-" "$T/reconcile.out" ||
	azml_fail "reconcile lifted no hold: $(cat "$T/reconcile.out")"
settled "capacity" "$id"
azml_pass "AllocationFailed for one node of a two-node job: its VM deleted, held, lifted by reconcile, the job runs, nothing left"

# 2. ARM's write throttle nearly empty, and 30% of requests answered 5xx.
faults '{"write_burst":1,"write_rate":0.5,"error_rate":0.3}'
id=$(sbatch --parsable -p cpu -N3 --wrap 'srun hostname') || azml_fail sbatch
azml_wait 150 completed "$id" || azml_fail "job $id under 429/5xx: $(scontrol -o show job "$id")"
throttled=$(stat throttled) errors=$(stat errors_injected)
[ "$throttled" -gt 0 ] && [ "$errors" -gt 0 ] ||
	azml_fail "no storm happened: throttled=$throttled errors=$errors"
faults '{"write_burst":0,"error_rate":0}'
settled "429/5xx" "$id"
echo "  resume and suspend of 3 VMs through $throttled 429s and $errors 5xx"
azml_pass "a three-node job runs through 429 storms and 5xx; nothing left"

# 3. The emulator (Azure) goes away for 3 s while the VMs are being made.
faults '{"async_ms":4000}'
before=$(stat creates)
id=$(sbatch --parsable -p cpu -N2 --wrap 'srun hostname') || azml_fail sbatch
creates_reach $((before + 2))
azml_emulator_restart 3
settled "emulator restart" "$id"
azml_pass "the emulator restarted in the middle of a resume: the job runs, nothing left"

# 4. slurmctld restarts while its nodes' VMs are being made.
faults '{"async_ms":3000}'
before=$(stat creates)
id=$(sbatch --parsable -p cpu -N1 --wrap 'hostname') || azml_fail sbatch
creates_reach $((before + 1))
azml_restart_slurmctld
faults '{"async_ms":300}'
settled "slurmctld restart" "$id"
azml_pass "slurmctld restarted in the middle of a resume: the job runs, nothing left"

# 5. A delete that fails (a lock on the resource group): the node is
# powered down, its VM stays; reconcile deletes it once the lock is gone.
id=$(sbatch --parsable -p cpu -N1 --wrap 'hostname') || azml_fail sbatch
azml_wait 120 completed "$id" || azml_fail "job $id: $(scontrol -o show job "$id")"
node=$(scontrol -o show job "$id" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)
faults '{"locked":true}'
azml_wait 60 grep -q "couldn't delete VM '$node' (op=[^)]*): ScopeLocked: The scope" "$T/azureml.log" ||
	azml_fail "no failed delete in the log"
azml_wait 30 bash -c "[ \"\$(sinfo -h -n $node -o %t)\" = 'idle~' ]" || azml_fail "$node is $(sinfo -h -n "$node" -o %t)"
[ "$(azml_emulator_vms)" = "$node" ] || azml_fail "the VM of $node is not left: $(azml_emulator_vms)"
out=$("$AZML_BIN" reconcile 2>&1) && azml_fail "reconcile under the lock said ok: $out"
grep -q "ScopeLocked" <<<"$out" || azml_fail "reconcile under the lock: $out"
faults '{"locked":false}'
out=$("$AZML_BIN" reconcile 2>&1) || azml_fail "reconcile: $out"
grep -q "orphan VM $node (node $node): its node is powered down; deleting it" <<<"$out" &&
	grep -q "delete VM $node: done" <<<"$out" || azml_fail "reconcile: $out"
settled "failed delete" "$id"
azml_pass "a delete refused by Azure leaves an orphan that reconcile deletes"

echo "resume-faults: $AZML_PASSED checks passed"

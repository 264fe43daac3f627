#!/bin/bash
# capacity-bench.sh - a capacity outage and a short quota, printed, not
# asserted, in one run of real slurmctld/slurmds and the emulator:
#   direct     sbatch -p cb: sbatch -> RUNNING on a cluster with capacity
#              (Slurm's own boot floor included), R runs;
#   fallback   cluster ca out of capacity, Fallback=cb: sbatch
#              --azure-compute=ca -> RUNNING on cb, and the creates sent to
#              ca, R runs (each after the last hold is over, CapacityBackoff=20);
#   baseline   the same outage on ca0 with CapacityBackoff=0 (no hold: what
#              Slurm does alone with -p ca0,cb0), watched for LIMIT seconds;
#   quota      a 2-node job over the family quota: writes sent, and seconds
#              from sbatch to the QuotaExceeded reason, R runs;
#   mix        (issue 29) scale sets: a 3-node job on the mix [A, B] with A
#              out of capacity -> RUNNING, against a direct 3-node job on a
#              set of B alone, and the scale set writes each sent, R runs;
#   partial    2 of a 3-node job's VMs made (AllocationFailed:2): the
#              billed VM-seconds of those 2 (lifecycle journal: created to
#              deleted) with JobScaling=AllOrNothing against BestEffort
#              (where they stay until idle, IdleSecondsBeforeScaledown=IDLE).
# VMs boot through node-init (a scale set's VMs learn their node from
# slurmctld): run under flock /tmp/azml-nodeinit.lock, as the system tests.
#   R=3 LIMIT=300 IDLE=60 flock /tmp/azml-nodeinit.lock tests/bench/capacity-bench.sh
set -u
R=${R:-3}
LIMIT=${LIMIT:-300}
IDLE=${IDLE:-60}
. "$(dirname "$0")/../system/lib.sh"

AZML_NODE_INIT=1
azml_cluster_init capacitybench
azml_use_plugins
export -f job_state
azml_emulator_start
azml_emulator_cluster 90 <<CONF
ComputeCluster=ca VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3 Fallback=cb CapacityBackoff=20
ComputeCluster=cb VmSize=Standard_D2_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3
ComputeCluster=ca0 VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3 CapacityBackoff=0
ComputeCluster=cb0 VmSize=Standard_D2_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3
ComputeCluster=mx VmSize=Standard_D2s_v3,Standard_D4s_v3 MaxNodes=3 IdleSecondsBeforeScaledown=3 Provisioning=ScaleSet AllocationStrategy=CapacityOptimized
ComputeCluster=sb VmSize=Standard_D4s_v3 MaxNodes=3 IdleSecondsBeforeScaledown=3 Provisioning=ScaleSet
ComputeCluster=pa VmSize=Standard_F2s_v2 MaxNodes=3 IdleSecondsBeforeScaledown=$IDLE Provisioning=ScaleSet CapacityBackoff=600
ComputeCluster=pb VmSize=Standard_E2_v3 MaxNodes=3 IdleSecondsBeforeScaledown=$IDLE Provisioning=ScaleSet CapacityBackoff=600 JobScaling=BestEffort
CONF

faults() { curl -sf -X POST -d "$1" "$EMU_URL/emulator/faults" > /dev/null; }
stat() { curl -sf "$EMU_URL/emulator/stats" | python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }
creates_of() { grep -c "resume node=$1-[0-9]* vm=.*: ok\|couldn't create VM '$1-[0-9]*'" "$T/azureml.log"; }
ms() { echo $(( $(date +%s%N) / 1000000 )); }
idle_all() { [ -z "$(sinfo -h -p "$1" -o %t | grep -vx 'idle~')" ]; }
# running_after LIMIT SBATCH-ARGS...: ms from sbatch to RUNNING, "-" past
# LIMIT s; the job id in $T/job.
running_after() {
	local limit=$1 t0 JOB
	shift
	t0=$(ms)
	JOB=$(sbatch --parsable "$@" --wrap 'sleep 1') || return 1
	echo "$JOB" > "$T/job"
	while [ $(( $(ms) - t0 )) -lt $((limit * 1000)) ]; do
		case $(job_state "$JOB") in
		RUNNING|COMPLETING|COMPLETED) echo $(( $(ms) - t0 )); return 0;;
		esac
		sleep 0.2
	done
	echo -
}
settle() {	# every VM gone, every node idle~ (no hold left)
	azml_wait 120 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o '\"name\"')\" ]"
	"$AZML_BIN" reconcile > /dev/null 2>&1
	for p in ca cb ca0 cb0 mx sb; do azml_wait 60 idle_all $p; done
}
stats() {	# stats LABEL VALUES(ms)...: median and max, in seconds
	python3 - "$@" <<'PY'
import statistics, sys
label, v = sys.argv[1], [int(x) for x in sys.argv[2:] if x != "-"]
if not v:
	print(f"{label:<34} no run reached RUNNING")
else:
	print(f"{label:<34} median {statistics.median(v)/1000:6.1f} s   max {max(v)/1000:6.1f} s   ({len(v)} runs)")
PY
}

direct=() fallback=() writes_a=()
for i in $(seq 1 "$R"); do
	settle
	direct+=("$(running_after 120 -p cb -N1)")
	settle
	sleep 21	# the last hold on ca is over
	"$AZML_BIN" reconcile > /dev/null 2>&1
	faults '{"capacity":{"Standard_D2s_v3":"AllocationFailed"}}'
	before=$(creates_of ca)
	fallback+=("$(running_after 120 --azure-compute=ca -N1)")
	writes_a+=($(( $(creates_of ca) - before )))
	faults '{"capacity":{}}'
done
settle
faults '{"capacity":{"Standard_D2s_v3":"AllocationFailed"}}'
before=$(creates_of ca0)
base=$(running_after "$LIMIT" -p ca0,cb0 -N1)
base_writes=$(( $(creates_of ca0) - before ))
base_state=$(scontrol -o show job "$(cat "$T/job")" | grep -o 'JobState=[^ ]*\|Reason=[^ ]*' | paste -sd' ')
scancel "$(cat "$T/job")"
faults '{"capacity":{}}'

settle
faults '{"quota":{"standardDSv3Family":2}}'
quota=() quota_writes=()
for i in $(seq 1 "$R"); do
	w=$(stat writes)
	t0=$(ms)
	id=$(sbatch --parsable -p ca -N2 --wrap true)
	azml_wait 30 bash -c "scontrol -o show node | grep -q 'Reason=azureml: QuotaExceeded: standardDSv3Family has 2 of 2 vCPUs free in eastus; job $id needs 4'"
	quota+=($(( $(ms) - t0 )))
	quota_writes+=($(( $(stat writes) - w )))
	scancel "$id"
	azml_wait 30 idle_all ca
	scontrol update nodename=ca-[1-2] state=resume 2>/dev/null
done

faults '{"quota":{}}'
# mix: A (Standard_D2s_v3) out; the set's VMs come from B
vmss_writes() { curl -sf "$EMU_URL/emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("writes_by_type",{}).get("virtualMachineScaleSets",0))'; }
mixed=() setb=() writes_mx=() writes_sb=()
for i in $(seq 1 "$R"); do
	settle
	w=$(vmss_writes)
	setb+=("$(running_after 180 -p sb -N3)")
	writes_sb+=($(( $(vmss_writes) - w )))
	settle
	faults '{"capacity":{"Standard_D2s_v3":"AllocationFailed"}}'
	w=$(vmss_writes)
	mixed+=("$(running_after 180 -p mx -N3)")
	writes_mx+=($(( $(vmss_writes) - w )))
	faults '{"capacity":{}}'
done
# partial: 2 of 3 made; AllOrNothing (pa) and BestEffort (pb) at once
settle
faults '{"capacity":{"Standard_F2s_v2":"AllocationFailed:2","Standard_E2_v3":"AllocationFailed:2"}}'
t_part=$(date +%s)
pa_id=$(sbatch --parsable -p pa -N3 --wrap true)
pb_id=$(sbatch --parsable -p pb -N3 --wrap true)
# gone T: no VM of T's scale set left (names from the emulator's JSON)
gone() { ! azml_emulator_vms | tr ' ' '\n' | grep -q -- "-$1_"; }
# made T: the 2 VMs of T's job are in the journal (before that, T's set
# may list none yet, which 'gone' would take for the end)
made() { [ "$(grep -c " created .* target=$1 " "$T/azureml-state/journal/current" 2>/dev/null)" -ge 2 ] 2>/dev/null; }
export -f gone made azml_emulator_vms
export EMU_URL
export T
azml_wait 120 bash -c "made pa && made pb" || echo "capacity-bench: the 2 VMs of pa and pb were not both made" >&2
azml_wait $((IDLE + 240)) bash -c "gone pa && gone pb"
sleep 5	# the suspend's journal records: written as it ends
scancel "$pa_id" "$pb_id"
faults '{"capacity":{}}'
# billed VM-seconds: each VM of T made since t_part, created to deleted
billed() {
	python3 - "$T/azureml-state/journal/current" "$1" "$t_part" <<'PY'
import sys, time
path, target, since = sys.argv[1], sys.argv[2], int(sys.argv[3])
made, gone = {}, {}
for line in open(path):
	f = line.split()
	if len(f) < 3 or int(f[0]) < since:
		continue
	kv = dict(x.split("=", 1) for x in f[2:] if "=" in x)
	if kv.get("target") != target and not (f[1] == "deleted" and kv.get("vm") in made):
		continue
	if f[1] == "created":
		made[kv["vm"]] = int(f[0])
	elif f[1] == "deleted" and kv.get("vm") in made:
		gone[kv["vm"]] = int(f[0])
now = int(time.time())
print(len(made), sum(gone.get(v, now) - t for v, t in made.items()))
PY
}
read -r pa_vms pa_s <<<"$(billed pa)"
read -r pb_vms pb_s <<<"$(billed pb)"

echo "capacity-bench: R=$R, LIMIT=$LIMIT s, IDLE=$IDLE s, $(nproc) CPUs, Slurm $(scontrol --version | cut -d' ' -f2)"
stats "direct job on cb (baseline floor)" "${direct[@]}"
stats "ca out of capacity, Fallback=cb" "${fallback[@]}"
echo "  creates sent to ca per run:       ${writes_a[*]}"
python3 -c "
import statistics, sys
d=[int(x) for x in '${direct[*]}'.split() if x!='-']; f=[int(x) for x in '${fallback[*]}'.split() if x!='-']
if d and f: print(f'  fallback - direct (medians):      {(statistics.median(f)-statistics.median(d))/1000:+.1f} s')"
if [ "$base" = - ]; then
	echo "Slurm alone, -p ca0,cb0 (no hold):   not RUNNING after $LIMIT s ($base_state); $base_writes creates sent to ca0"
else
	echo "Slurm alone, -p ca0,cb0 (no hold):   RUNNING after $((base / 1000)) s; $base_writes creates sent to ca0"
fi
stats "quota-refused job: reason after" "${quota[@]}"
echo "  writes sent per quota-refused job: ${quota_writes[*]}"
stats "mix [A,B] scale set, A out (3 nodes)" "${mixed[@]}"
stats "direct on a set of B alone (3 nodes)" "${setb[@]}"
echo "  scale set writes per mix run:      ${writes_mx[*]} (a set of B alone: ${writes_sb[*]})"
python3 -c "
import statistics
m=[int(x) for x in '${mixed[*]}'.split() if x!='-']; d=[int(x) for x in '${setb[*]}'.split() if x!='-']; f=[int(x) for x in '${fallback[*]}'.split() if x!='-']
if m and d: print(f'  mix - direct on B (medians):      {(statistics.median(m)-statistics.median(d))/1000:+.1f} s')
if m and f: print(f'  mix - Fallback= (medians):        {(statistics.median(m)-statistics.median(f))/1000:+.1f} s (Fallback: 1 node, single VMs)')"
echo "partial capacity, 2 of 3 VMs made:   AllOrNothing $pa_s VM-s billed ($pa_vms VMs), BestEffort $pb_s VM-s billed ($pb_vms VMs, idle scale-down after $IDLE s)"

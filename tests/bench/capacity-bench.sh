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
#              from sbatch to the QuotaExceeded reason, R runs.
#   R=3 LIMIT=300 tests/bench/capacity-bench.sh
set -u
R=${R:-3}
LIMIT=${LIMIT:-300}
. "$(dirname "$0")/../system/lib.sh"

azml_cluster_init capacitybench
azml_use_plugins
export -f job_state
azml_emulator_start
azml_emulator_cluster 60 <<'CONF'
ComputeCluster=ca VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3 Fallback=cb CapacityBackoff=20
ComputeCluster=cb VmSize=Standard_D2_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3
ComputeCluster=ca0 VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3 CapacityBackoff=0
ComputeCluster=cb0 VmSize=Standard_D2_v3 MaxNodes=2 IdleSecondsBeforeScaledown=3
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
	for p in ca cb ca0 cb0; do azml_wait 60 idle_all $p; done
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

echo "capacity-bench: R=$R, LIMIT=$LIMIT s, $(nproc) CPUs, Slurm $(scontrol --version | cut -d' ' -f2)"
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

#!/bin/bash
# trace-replay.sh - what scale to zero costs and saves on a real workload:
# a window of the NASA Ames iPSC/860 log (Parallel Workloads Archive, 128
# nodes, 1993) replayed, time-compressed, against real slurmctld, slurmdbd,
# our power-save programs and the emulator, under three idle policies fed
# the same jobs at once:
#   p300   IdleSecondsBeforeScaledown=300 (CycleCloud's default)
#   p120   IdleSecondsBeforeScaledown=120 (Azure ML's default)
#   pauto  IdleSecondsBeforeScaledown=auto (learnt by reconcile as it goes)
# and a fourth partition of always-up static nodes, "base", whose waits are
# the replay's own (queueing on the scaled-down machine, Slurm's scheduling):
# the wait a cold start adds to a job is its wait under a policy minus its
# wait on base.  Figures are printed, not asserted; a table and an SVG plot
# are written to OUTDIR, and the same policies are run over the whole log
# in a model that takes the replay's cold-start wait.
#
#   tests/bench/trace-replay.sh [-c COMPRESSION] [-k NODE_DIVISOR] [-b BOOT_S]
#                               [-d 'YYYY-MM-DD HH:MM'] [-l LEARN_MIN]
#                               [-m MEASURE_MIN] [-o OUTDIR] [TRACE]
#
# Defaults, and why:
#  -c 4   time runs 4 times faster.  The policies' idle times stay well above
#         Slurm's own clocks (power save looks each second; 22.05 starts a
#         job on nodes it powered up at its 30 s periodic check): 300 s and
#         120 s become 75 s and 30 s.  auto's shortest, 30 s, is then 120
#         trace seconds: auto chooses in the same range as the policies.
#  -k 4   node counts divided by 4, rounded up: 32 VMs a policy at most,
#         96 slurmds and 32 static ones on one machine.
#  -b 120 a VM's boot, create to slurmd (trace seconds; 30 s here).
#  -d '1993-10-19 09:20'  a Tuesday morning, trace time (US/Pacific); the
#         measured 2 h hold 42 jobs, the weekdays' median count, and a
#         scaled load of 0.47, the whole log's.
#  -l 40  minutes (trace) before the measured window, for auto to learn in:
#         it starts at 300 s and learns from slurmdbd's jobs as they end.
#  -m 120 minutes (trace) measured.
# Wall time: (LEARN + MEASURE) / COMPRESSION, plus the last VMs' scale-down.
# Needs root, Slurm 22.05 with slurmdbd and MariaDB (tests/packages.sh).
set -u
C=4 K=4 BOOT=120 FROM='1993-10-19 09:20' LEARN=40 MEASURE=120 OUT=
while getopts c:k:b:d:l:m:o: o; do
	case $o in
	c) C=$OPTARG ;; k) K=$OPTARG ;; b) BOOT=$OPTARG ;; d) FROM=$OPTARG ;;
	l) LEARN=$OPTARG ;; m) MEASURE=$OPTARG ;; o) OUT=$OPTARG ;;
	*) sed -n '17,19p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
HERE=$(cd "$(dirname "$0")" && pwd)
TRACE=${1:-$HERE/../../../shared/traces/NASA-iPSC-1993-3.1-cln.swf.gz}
if [ ! -r "$TRACE" ]; then
	echo "trace-replay: SKIP: cannot read the trace $TRACE" >&2
	exit 77
fi
for v in "$C" "$K" "$BOOT" "$LEARN" "$MEASURE"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "trace-replay: '$v' is not a positive whole number" >&2; exit 2; }
done
OUT=${OUT:-$PWD/trace-replay.out}
mkdir -p "$OUT" || exit 1
OUT=$(cd "$OUT" && pwd)
REPORT="python3 $HERE/trace-replay.py"

$REPORT window "$TRACE" "$FROM" "$LEARN" "$MEASURE" "$C" "$K" > "$OUT/window.txt" || exit 2
N=$((128 / K))
njobs=$(grep -vc '^#' "$OUT/window.txt")
grep '^#' "$OUT/window.txt"

. "$HERE/../system/lib.sh"
SLURMD=$(command -v slurmd) || { echo "no slurmd" >&2; exit 1; }
azml_cluster_init tracereplay
bootwall=$(python3 -c "print($BOOT / $C)")
azml_emulator_start --boot-command "sleep $bootwall; exec unshare --time --boottime=-\$(cut -d. -f1 /proc/uptime) $SLURMD -D -N {node} -f $SLURM_CONF"
azml_slurmdbd_start || { echo "trace-replay: slurmdbd cannot run here: $AZML_SLURMDBD_BROKEN" >&2; exit 1; }
# the nodes' ports: free now that the emulator and slurmdbd listen, and
# clear of the cluster's own (AZML_PORT and the 40 after it)
for _ in $(seq 1 20); do
	NPORT=$(azml_free_ports $((4 * N))) || azml_fail "no free ports"
	[ $((NPORT + 4 * N)) -le "$AZML_PORT" ] || [ "$NPORT" -ge $((AZML_PORT + 40)) ] && break
done
{
	azml_emulator_conf
	cat <<CONF
ComputeCluster=p300 VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=$((300 / C))
ComputeCluster=p120 VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=$((120 / C))
ComputeCluster=pauto VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=auto
CONF
} > "$T/azureml.conf"
"$AZML_BIN" generate --program-dir "$AZML_BUILD/plugins/power_save" \
	--port-base "$NPORT" > "$T/nodes.conf" || azml_fail generate
cat >> "$SLURM_CONF" <<CONF
Include $T/nodes.conf
SlurmdParameters=config_overrides
ResumeTimeout=300
SuspendTimeout=5
NodeName=base-[1-$N] NodeAddr=127.0.0.1 Port=[$((NPORT + 3 * N))-$((NPORT + 4 * N - 1))] CPUs=2 RealMemory=7782 State=UNKNOWN
PartitionName=base Nodes=base-[1-$N] MaxTime=INFINITE State=UP
CONF
sed -i 's/^SlurmctldDebug=.*/SlurmctldDebug=info/' "$SLURM_CONF"
azml_start_slurmctld
for i in $(seq 1 "$N"); do
	"$SLURMD" -N "base-$i" -f "$SLURM_CONF" || azml_fail "slurmd base-$i"
done
base_up() { [ "$(sinfo -h -p base -t idle -o %D)" = "$N" ]; }
azml_wait 60 base_up || azml_fail "base: $(sinfo -h -p base)"

# auto learns in reconcile, every 5 s (its timer runs it each minute on a
# real controller: a minute is 15 s at -c 4)
"$AZML_BIN" reconcile --every 5 > "$T/reconcile.out" 2>&1 &

# The VMs that are up, every 2 s (the plot's lines; its busy nodes come
# from slurmdbd's job times).
(
	while :; do
		now=$(date +%s.%N)
		vms=$(curl -sf "$EMU_URL/emulator/vms" | python3 -c '
import collections, json, sys
n = collections.Counter(v["name"].rsplit("-", 1)[0] for v in json.load(sys.stdin))
print("".join(" %s=%d" % kv for kv in sorted(n.items())))')
		echo "$now vms$vms"
		sleep 2
	done
) > "$OUT/samples.txt" 2>/dev/null &
SAMPLER=$!

echo "replaying $njobs jobs on 4 partitions of $N nodes: $(( (LEARN + MEASURE) * 60 / C )) s of wall time, then the scale-down"
T0=$(( $(date +%s) + 2 ))
L=$((T0 + LEARN * 60 / C))
WEND=$((T0 + (LEARN + MEASURE) * 60 / C))
echo "T0 $T0 L $L WEND $WEND C $C K $K BOOT $BOOT N $N" > "$OUT/run.txt"
: > "$OUT/jobs.txt"
grep -v '^#' "$OUT/window.txt" | while read -r idx off nodes run limit; do
	at=$(python3 -c "print(int(($T0 + $off) * 1000))")
	now=$(($(date +%s%N) / 1000000))
	[ "$at" -gt "$now" ] && sleep "$(python3 -c "print(($at - $now) / 1000)")"
	for p in p300 p120 pauto base; do
		id=$(sbatch --parsable -p "$p" -N "$nodes" --exclusive -t "$limit" \
			-J "tr$idx" -o /dev/null --wrap "sleep $run") ||
			{ echo "sbatch of trace job $idx to $p failed" >&2; continue; }
		echo "$idx $p $id" >> "$OUT/jobs.txt"
	done
done
now=$(date +%s)
[ "$now" -lt "$WEND" ] && sleep $((WEND - now))

# The last jobs end by the window's end (their run times are cut there);
# then each policy scales down.  auto's learnt time may be long: wait up to
# 15 min, and say what was still up.
drained() {
	[ -z "$(squeue -h -p p300,p120,pauto -o %i)" ] &&
	[ -z "$(azml_emulator_vms)" ]
}
azml_wait 900 drained || echo "not drained after 15 min: VMs $(azml_emulator_vms)"
E=$(date +%s)
kill "$SAMPLER" 2>/dev/null
echo "E $E" >> "$OUT/run.txt"
cp "$T/reconcile.out" "$OUT/reconcile.txt"
cat "$T/azureml-state/idle/pauto" > "$OUT/auto-learnt.txt" 2>/dev/null

# Figures: our cost command over the measured window, and each job's wait
# from slurmdbd.
"$AZML_BIN" cost --since @"$L" --until @"$E" --by target --json > "$OUT/cost.json" ||
	azml_fail "cost: $(cat "$OUT/cost.json")"
"$AZML_BIN" cost --since @"$L" --until @"$E" --by target > "$OUT/cost.txt"
sleep 2
ids=$(awk '{ printf "%s%s", sep, $3; sep = "," }' "$OUT/jobs.txt")
SLURM_TIME_FORMAT=%s sacct -n -X -P -j "$ids" -o JobID,Partition,Submit,Start,End,State \
	> "$OUT/sacct.txt" || azml_fail sacct
echo "$TRACE" > "$OUT/trace.txt"
$REPORT report "$OUT" | tee "$OUT/report.txt"

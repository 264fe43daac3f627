#!/bin/bash
# resume-bench.sh - two figures for scale from zero, printed, not asserted.
#  1. Resume of N nodes (default 1000) through slurm-azureml-resume and the
#     emulator (VMs that boot a no-op): time until every VM is requested and
#     every NodeAddr is set; ARM requests per node.
#  2. sbatch -> RUNNING on a powered-down cluster, 1 node and M nodes
#     (default 64), through our programs and the emulator, against a
#     baseline ResumeProgram in the same run that starts the slurmds itself
#     with the same boot (2 s delay, slurmd in a fresh time namespace).
#     Slurm 22.05 adds up to ~30 s of its own to both; the difference is
#     what slurm-azureml costs.
#   tests/bench/resume-bench.sh [N] [M]
set -u
N=${1:-1000}
M=${2:-64}
. "$(dirname "$0")/../system/lib.sh"
SLURMD=$(command -v slurmd) || { echo "no slurmd" >&2; exit 1; }

azml_cluster_init resumebench
# One boot for both: no watcher (the job cluster is dedicated), same delay.
BOOT="[ -e $T/noboot-{node} ] && exit 0; sleep 2; exec unshare --time --boottime=-\$(cut -d. -f1 /proc/uptime) $SLURMD -D -N {node} -f $SLURM_CONF"
azml_emulator_start --boot-command "$BOOT"
azml_emulator_cluster 120 <<CONF
ComputeCluster=job VmSize=Standard_D2s_v3 MaxNodes=$M IdleSecondsBeforeScaledown=600
ComputeCluster=big VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=600
CONF

# 1. N nodes at once; 'big' VMs boot a no-op (their noboot marker).
for i in $(seq 1 "$N"); do touch "$T/noboot-big-$i"; done
t0=$(date +%s.%N)
AZUREML_FOREGROUND=1 SLURM_CONF=$SLURM_CONF \
	"$AZML_BUILD/plugins/power_save/slurm-azureml-resume" "big-[1-$N]" 2> "$T/resume.err"
t1=$(date +%s.%N)
set_addr=$(scontrol -o show node | grep -c 'NodeName=big-.* NodeAddr=127.0.0.1 ')
reqs=$(grep -o "resume big-\[1-$N\]: [0-9]* done, [0-9]* failed, [0-9]* requests" "$T/azureml.log")
echo "resume of $N nodes: $(python3 -c "print('%.2f' % ($t1 - $t0))") s until every VM was created and every NodeAddr set"
echo "  $reqs ($(python3 -c "
import re; m = re.search(r'(\d+) requests', '''$reqs'''); print('%.2f' % (int(m.group(1)) / $N))") ARM requests a node, token included)"
echo "  nodes with their NodeAddr set: $set_addr of $N; emulator: $(curl -sf "$EMU_URL/emulator/stats")"
scontrol update nodename="big-[1-$N]" state=power_down_force 2>/dev/null
azml_wait 120 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o big-)\" ]"

# 2. sbatch -> RUNNING, ours vs. a baseline ResumeProgram.  Two figures a
# job: until every node's slurmd has registered (where our programs act),
# and until RUNNING (Slurm's own periodic check adds 0-30 s to both).
ms() { echo $(( $(date +%s%N) / 1000000 )); }
running_after() {	# running_after NODES: "registered RUNNING" seconds
	local id t0 s nodes reg="" run=""
	t0=$(ms)
	id=$(sbatch --parsable -p job -N "$1" --wrap 'sleep 1') || return 1
	while [ -z "$run" ]; do
		s=$(scontrol -o show job "$id")
		nodes=$(grep -o ' NodeList=[^ ]*' <<<"$s" | cut -d= -f2)
		if [ -z "$reg" ] && [ -n "$nodes" ] && [ "$nodes" != "(null)" ] &&
		   ! sinfo -h -n "$nodes" -o %t | grep -q '[#~]'; then
			reg=$(( $(ms) - t0 ))
		fi
		grep -q 'JobState=RUNNING\|JobState=COMPLETED' <<<"$s" && run=$(( $(ms) - t0 ))
		[ $(( $(ms) - t0 )) -gt 300000 ] && { echo "job $id never ran" >&2; return 1; }
		sleep 0.2
	done
	[ -z "$reg" ] && reg=$run
	printf '%d.%d %d.%d\n' $((reg / 1000)) $((reg % 1000 / 100)) $((run / 1000)) $((run % 1000 / 100))
	azml_wait 120 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]"
}
power_all_down() {
	scontrol update nodename="job-[1-$M]" state=power_down_force 2>/dev/null
	azml_wait 120 bash -c "[ -z \"\$(sinfo -h -p job -o %t | grep -v '~')\" ]"
	azml_wait 120 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o job-)\" ]"
	azml_wait 60 bash -c "! pgrep -f 'slurmd -D -N job-' > /dev/null"
	sleep 2
}
rounds() {	# rounds LABEL: R one-node jobs, then one M-node job
	local i
	for i in $(seq 1 "$R"); do
		echo "$1 1 $(running_after 1)" >> "$T/figures"; power_all_down
	done
	echo "$1 $M $(running_after "$M")" >> "$T/figures"; power_all_down
}
R=${R:-3}
: > "$T/figures"
rounds ours

cat > "$T/baseline-resume" <<SH
#!/bin/bash
# A trivial ResumeProgram: the same boot as the emulator's VMs, at once.
for n in \$(/usr/bin/scontrol show hostnames "\$1"); do
	/usr/bin/scontrol update nodename=\$n nodeaddr=127.0.0.1
	/usr/bin/setsid /bin/sh -c '$(sed "s/{node}/'\$n'/g" <<<"$BOOT")' > /dev/null 2>&1 < /dev/null &
done
SH
cat > "$T/baseline-suspend" <<SH
#!/bin/bash
for n in \$(/usr/bin/scontrol show hostnames "\$1"); do /usr/bin/pkill -f "slurmd -D -N \$n -f"; done
SH
chmod 755 "$T/baseline-resume" "$T/baseline-suspend"
sed -i "s|^ResumeProgram=.*|ResumeProgram=$T/baseline-resume|; s|^SuspendProgram=.*|SuspendProgram=$T/baseline-suspend|" "$T/nodes.conf"
azml_restart_slurmctld
rounds baseline
python3 - "$T/figures" "$M" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
def med(who, n, col):
    v = [float(r[col]) for r in rows if r[0] == who and r[1] == n]
    return statistics.median(v), len(v), v
print("sbatch -> nodes registered / RUNNING on a powered-down cluster, seconds (median of runs):")
for n in ("1", sys.argv[2]):
    for col, what in ((2, "registered"), (3, "RUNNING")):
        o, k, ov = med("ours", n, col)
        b, _, bv = med("baseline", n, col)
        print(f"  {n:>3} node(s), {what:10}: slurm-azureml + emulator {o:5.1f}, "
              f"baseline {b:5.1f}, extra {o - b:+5.1f}   (runs: ours {ov}, baseline {bv})")
PY

#!/bin/bash
# resume-bench.sh - two figures for scale from zero, printed, not asserted.
#  1. Resume of N nodes (default 1000) through slurm-azureml-resume and the
#     emulator (VMs that boot a no-op): time until every VM is requested and
#     every NodeAddr is set; ARM requests per node.
#  2. sbatch -> RUNNING on a powered-down cluster, 1 node and 8 nodes,
#     through our programs and the emulator vs. a baseline ResumeProgram
#     that starts the slurmds itself with the same boot delay (Slurm 22.05
#     adds up to ~30 s of its own to both).
#   tests/bench/resume-bench.sh [N]
set -u
N=${1:-1000}
. "$(dirname "$0")/../system/lib.sh"

azml_cluster_init resumebench
azml_emulator_start
azml_emulator_cluster 120 <<CONF
ComputeCluster=big VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=600
ComputeCluster=job VmSize=Standard_D2s_v3 MaxNodes=8 IdleSecondsBeforeScaledown=600
CONF

# 1. N nodes at once.  The VMs' boot command is the emulator's; 'big' nodes
# carry a noboot marker so that no slurmd starts for them.
for i in $(seq 1 "$N"); do touch "$T/noboot-big-$i"; done
t0=$(date +%s.%N)
AZUREML_FOREGROUND=1 SLURM_CONF=$SLURM_CONF \
	"$AZML_BUILD/plugins/power_save/slurm-azureml-resume" "big-[1-$N]" 2> "$T/resume.err"
t1=$(date +%s.%N)
set_addr=$(scontrol -o show node | grep -c 'NodeName=big-.* NodeAddr=127.0.0.1 ')
reqs=$(grep -o "resume big-\[1-$N\]: [0-9]* done, [0-9]* failed, [0-9]* requests" "$T/azureml.log")
vms=$(curl -sf "$EMU_URL/emulator/stats")
echo "resume of $N nodes: $(python3 -c "print('%.2f' % ($t1 - $t0))") s until every VM was created and every NodeAddr set"
echo "  $reqs ($(python3 -c "
import re; m = re.search(r'(\d+) requests', '''$reqs'''); print('%.2f' % (int(m.group(1)) / $N))") ARM requests a node, token included)"
echo "  nodes with their NodeAddr set: $set_addr of $N; emulator: $vms"

# 2. sbatch -> RUNNING, ours vs. a baseline ResumeProgram.
running_after() {	# running_after NODES: seconds from sbatch to RUNNING
	local id t0 s
	t0=$(date +%s.%N)
	id=$(sbatch --parsable -p job -N "$1" --wrap 'sleep 1') || return 1
	while :; do
		s=$(scontrol -o show job "$id" | grep -o 'JobState=[A-Z]*')
		[ "$s" = JobState=RUNNING ] || [ "$s" = JobState=COMPLETED ] && break
		sleep 0.2
	done
	python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))"
	azml_wait 60 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]"
}
power_all_down() {
	scontrol update nodename="job-[1-8]" state=power_down_force 2>/dev/null
	azml_wait 60 bash -c "[ -z \"\$(sinfo -h -p job -o %t | grep -v '~')\" ]"
	azml_wait 30 bash -c "[ -z \"\$(curl -sf $EMU_URL/emulator/vms | grep -o job-)\" ]"
	sleep 2
}
ours1=$(running_after 1); power_all_down
ours8=$(running_after 8); power_all_down
cat > "$T/baseline-resume" <<SH
#!/bin/bash
# A trivial ResumeProgram: slurmd for each node, same boot delay as a VM.
for n in \$(/usr/bin/scontrol show hostnames "\$1"); do
	/usr/bin/scontrol update nodename=\$n nodeaddr=127.0.0.1
	setsid bash -c "sleep 2; exec unshare --time --boottime=-\\\$(cut -d. -f1 /proc/uptime) slurmd -D -N \$n -f $SLURM_CONF" > /dev/null 2>&1 < /dev/null &
done
SH
cat > "$T/baseline-suspend" <<SH
#!/bin/bash
for n in \$(/usr/bin/scontrol show hostnames "\$1"); do pkill -f "slurmd -D -N \$n -f"; done
SH
chmod 755 "$T/baseline-resume" "$T/baseline-suspend"
sed -i "s|^ResumeProgram=.*|ResumeProgram=$T/baseline-resume|; s|^SuspendProgram=.*|SuspendProgram=$T/baseline-suspend|" "$T/nodes.conf"
azml_restart_slurmctld
base1=$(running_after 1)
scontrol update nodename="job-[1-8]" state=power_down_force 2>/dev/null
azml_wait 60 bash -c "[ -z \"\$(sinfo -h -p job -o %t | grep -v '~')\" ]"; sleep 2
base8=$(running_after 8)
echo "sbatch -> RUNNING on a powered-down cluster (seconds; Slurm's own check adds up to ~30 s to both):"
echo "  1 node : slurm-azureml + emulator $ours1, baseline $base1, extra $(python3 -c "print('%.1f' % ($ours1 - $base1))")"
echo "  8 nodes: slurm-azureml + emulator $ours8, baseline $base8, extra $(python3 -c "print('%.1f' % ($ours8 - $base8))")"

#!/bin/bash
# vmss-bench.sh - Provisioning=VirtualMachines against ScaleSet, printed,
# not asserted.  Under the emulator's ARM write bucket (200, +10 a second),
# 100 ms a request and 2 s an operation: resume of N nodes (default 1000)
# through slurm-azureml-resume until every NodeAddr is set, and suspend of
# them until every VM is deleted, with the writes each sent.  Then S nodes
# (default 5000) as ScaleSet clusters of 1000 (a Flexible set's limit).
#   tests/bench/vmss-bench.sh [N] [S]
set -u
N=${1:-1000}
S=${2:-5000}
. "$(dirname "$0")/../system/lib.sh"

azml_cluster_init vmssbench
# VMs boot nothing: the programs' own time is measured
azml_emulator_start --boot-command "exit 0" --write-burst 200 --write-rate 10 \
	--latency-ms 100 --async-ms 2000 --quota standardDSv3Family=1000000 \
	--quota cores=1000000
SETS=$(( (S + 999) / 1000 ))
{
	echo "ComputeCluster=vm VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=3600"
	echo "ComputeCluster=ss VmSize=Standard_D2s_v3 MaxNodes=$N IdleSecondsBeforeScaledown=3600 Provisioning=ScaleSet"
	for k in $(seq 1 "$SETS"); do
		echo "ComputeCluster=big$k VmSize=Standard_D2s_v3 MaxNodes=1000 IdleSecondsBeforeScaledown=3600 Provisioning=ScaleSet"
	done
} | azml_emulator_cluster 600
PS=$AZML_BUILD/plugins/power_save
writes() { curl -sf "$EMU_URL/emulator/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["writes"])'; }
now() { date +%s.%N; }
secs() { python3 -c "print('%.1f' % ($2 - $1))"; }

# run PROGRAM HOSTLIST: seconds and writes, "S W"
run() {
	local prog=$1 t0 t1 w0
	shift
	w0=$(writes)
	t0=$(now)
	AZUREML_FOREGROUND=1 "$PS/slurm-azureml-$prog" "$1" 2>> "$T/bench.err"
	t1=$(now)
	echo "$(secs "$t0" "$t1") $(( $(writes) - w0 ))"
}
addr_set() { scontrol -o show node | grep -c "NodeName=$1-[0-9]* .*NodeAddr=127.0.0.1 "; }

echo "vmss-bench: N=$N, S=$S; emulator: write bucket 200 +10/s, 100 ms a request, 2 s an operation; $(nproc) CPUs, Slurm $(scontrol -V | cut -d' ' -f2)"
printf '%-34s %10s %8s %12s\n' "" "seconds" "writes" "NodeAddr set"
read -r vs vw <<<"$(run resume "vm-[1-$N]")"
printf '%-34s %10s %8s %12s\n' "resume, VirtualMachines, $N" "$vs" "$vw" "$(addr_set vm)"
sleep 20	# the write bucket fills again
read -r ss sw <<<"$(run resume "ss-[1-$N]")"
printf '%-34s %10s %8s %12s\n' "resume, ScaleSet, $N" "$ss" "$sw" "$(addr_set ss)"
sleep 20
read -r vds vdw <<<"$(run suspend "vm-[1-$N]")"
printf '%-34s %10s %8s\n' "suspend, VirtualMachines, $N" "$vds" "$vdw"
sleep 20
read -r sds sdw <<<"$(run suspend "ss-[1-$N]")"
printf '%-34s %10s %8s\n' "suspend, ScaleSet, $N" "$sds" "$sdw"
echo "  ScaleSet vs VirtualMachines: resume $(python3 -c "print('%.1f' % ($vs / $ss))")x faster, suspend $(python3 -c "print('%.1f' % ($vds / $sds))")x faster"
sleep 20
hl=()
for k in $(seq 1 "$SETS"); do hl+=("big$k-[1-1000]"); done
all=$(IFS=,; echo "${hl[*]}")	# one program, as Slurm runs it
read -r bs bw <<<"$(run resume "$all")"
printf '%-34s %10s %8s %12s\n' "resume, ScaleSet, $S ($SETS sets)" "$bs" "$bw" "$(addr_set 'big[0-9]*')"
sleep 20
read -r bds bdw <<<"$(run suspend "$all")"
printf '%-34s %10s %8s\n' "suspend, ScaleSet, $S ($SETS sets)" "$bds" "$bdw"
echo "  VirtualMachines at $S: not run; the write bucket alone needs ($S - 200) / 10 = $(( (S - 200) / 10 )) s"
grep -c "error" "$T/bench.err" | sed 's/^/  error lines from the programs: /'

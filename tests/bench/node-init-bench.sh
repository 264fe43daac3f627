#!/bin/bash
# node-init-bench.sh - what node-init costs a VM's boot, printed, not
# asserted: sbatch -> every slurmd registered on a powered-down cluster, for
# 1 node (R runs) and M nodes (default 8), through our programs and the
# emulator, in one run with two kinds of VM boot:
#   node-init     the emulator's --node-init sandbox running the real
#                 `slurm-azureml node-init` (IMDS userData, identity token,
#                 Key Vault, its own munged, checks, configless slurmd);
#   baked         the same sandbox, booting an image with everything baked
#                 in: the munge key copied in place, munged, then slurmd
#                 configless at once.
# The difference, per node, is what node-init adds.
#   tests/bench/node-init-bench.sh [M]
set -u
M=${1:-8}
R=${R:-3}
. "$(dirname "$0")/../system/lib.sh"
SLURMD=$(command -v slurmd) || { echo "no slurmd" >&2; exit 1; }

AZML_NODE_INIT=1
azml_cluster_init nodeinitbench
export -f job_state azml_emulator_vms
azml_emulator_start
export EMU_URL
azml_emulator_cluster 120 <<CONF
ComputeCluster=job VmSize=Standard_D2s_v3 MaxNodes=$M IdleSecondsBeforeScaledown=600
CONF

ms() { echo $(( $(date +%s%N) / 1000000 )); }
registered_after() {	# registered_after NODES: seconds until all registered
	local id t0 s nodes
	t0=$(ms)
	id=$(sbatch --parsable -p job -N "$1" --wrap 'true') || return 1
	while :; do
		s=$(scontrol -o show job "$id")
		nodes=$(grep -o ' NodeList=[^ ]*' <<<"$s" | cut -d= -f2)
		if [ -n "$nodes" ] && [ "$nodes" != "(null)" ] &&
		   ! sinfo -h -n "$nodes" -o %t | grep -q '[#~]'; then
			break
		fi
		[ $(( $(ms) - t0 )) -gt 300000 ] && { echo "job $id: nodes never registered" >&2; return 1; }
		sleep 0.1
	done
	t0=$(( $(ms) - t0 ))
	printf '%d.%02d\n' $((t0 / 1000)) $((t0 % 1000 / 10))
	azml_wait 120 bash -c "[ \"\$(job_state $id)\" = COMPLETED ]"
}
power_all_down() {
	scontrol update nodename="job-[1-$M]" state=power_down_force 2>/dev/null
	azml_wait 120 bash -c "[ -z \"\$(sinfo -h -p job -o %t | grep -v '~')\" ]"
	azml_wait 120 bash -c "[ -z \"\$(azml_emulator_vms)\" ]"
	sleep 2
}
rounds() {	# rounds LABEL
	local i
	for i in $(seq 1 "$R"); do
		echo "$1 1 $(registered_after 1)" >> "$T/figures"; power_all_down
	done
	echo "$1 $M $(registered_after "$M")" >> "$T/figures"; power_all_down
}
: > "$T/figures"
rounds node-init

# The same sandbox without node-init: what an image with the key baked in
# and slurmd enabled would do.
ctld=127.0.0.1:$AZML_PORT
AZML_EMU_ARGS=()
azml_emulator_stop
"$AZML_BUILD/contrib/emulator/azure-emulator" --listen "127.0.0.1:$EMU_PORT" \
	--state "$T/emulator.state" --client-secret emulator-secret --async-ms 300 \
	--console-dir "$T/consoles-baseline" \
	--node-init "install -o munge -g munge -m 0400 $AZML_MUNGE_KEY /etc/munge/munge.key && install -d -o munge -g munge /run/munge /var/lib/munge /var/log/munge && runuser -u munge -- munged && exec $SLURMD -D --conf-server $ctld" \
	>> "$T/emulator.log" 2>&1 &
echo $! > "$T/emulator.pidfile"
azml_wait 10 curl -sf "$EMU_URL/emulator/stats" > /dev/null || azml_fail "emulator"
rounds baked

python3 - "$T/figures" "$M" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
print("sbatch -> slurmd registered on a powered-down cluster, seconds (median of runs):")
for n in ("1", sys.argv[2]):
    a = [float(r[2]) for r in rows if r[0] == "node-init" and r[1] == n]
    b = [float(r[2]) for r in rows if r[0] == "baked" and r[1] == n]
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"  {n:>3} node(s): node-init {ma:6.2f}, baked {mb:6.2f}, "
          f"node-init adds {ma - mb:+5.2f} s ({(ma - mb) / int(n):+5.2f} s a node)"
          f"   (runs: {a} / {b})")
PY

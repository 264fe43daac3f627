#!/bin/bash
# Health checks as HealthCheckProgram, replacement and metrics, with real
# munged, slurmctld, slurmds the emulator boots, and Debian's prometheus
# and prometheus-node-exporter:
# - a busy cluster node whose (fake) GPU logs XID 79 is drained with that
#   reason, its job runs on, reconcile has it powered down when the job
#   ends (its VM deleted), and the next job gets a new VM (a new vmId);
# - a second replacement within the hour (ReplaceLimit=1) holds the target;
# - 'metrics' passes promtool, node_exporter's textfile collector serves
#   it, Prometheus scrapes it, and a query answers the node and VM counts
#   sinfo and the emulator show.
# Each node's kernel log, /proc and /tmp are a tree of its own
# (AZML_HEALTH_ROOT), its NVML the test-built fake library.
set -u
. "$(dirname "$0")/lib.sh"

HAVE_PROM=1
for p in promtool prometheus prometheus-node-exporter; do
	command -v $p > /dev/null || { echo "  ($p not installed (tests/packages.sh): the metrics part is skipped)"; HAVE_PROM=; }
done
NVML=$AZML_BUILD/tests/unit/nvml/libnvidia-ml.so.1
[ -e "$NVML" ] || azml_fail "$NVML not built (make check TESTS=)"

azml_cluster_init health
azml_emulator_start

# A node's machine as the checks see it: 120 GiB, a kernel log of its boot.
new_boot() {	# NODE: a new VM's view (a new boot id, a clean log)
	local r=$T/root/$1
	rm -rf "$r"
	mkdir -p "$r/proc/sys/kernel/random" "$r/dev" "$r/tmp" "$r/run"
	echo "MemTotal:       125829120 kB" > "$r/proc/meminfo"
	cat /proc/sys/kernel/random/uuid > "$r/proc/sys/kernel/random/boot_id"
	echo "6,1,100,-;Linux version 6.1 (booted as $1)" > "$r/dev/kmsg"
}
for n in 1 2; do new_boot gpu-$n; done
cat > "$T/health-check" <<WRAP
#!/bin/sh
export SLURM_CONF=$SLURM_CONF AZUREML_CONF=$T/azureml.conf
export AZML_NVML_LIBRARY=$NVML FAKE_NVML_BUSIDS=00000000:07:00.0
export AZML_HEALTH_ROOT=$T/root/\$SLURMD_NODENAME
exec $AZML_BIN node-check --health-check
WRAP
chmod 755 "$T/health-check"

azml_emulator_cluster <<'CONF'
HealthCheckInterval=5
ReplaceLimit=1
ComputeCluster=gpu VmSize=Standard_NC6s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=300 QuotaApproved=yes
CONF
grep -q "^HealthCheckProgram=.*/slurm-azureml-health-check$" "$T/nodes.conf" ||
	azml_fail "generate wrote no HealthCheckProgram: $(grep HealthCheck "$T/nodes.conf")"
# the generated program, with the test's environment around it; each
# VM's one GPU a device file slurmd can open
echo "HealthCheckProgram=$T/health-check" >> "$SLURM_CONF"
echo "NodeName=gpu-[1-2] Name=gpu Type=v100 File=/dev/null" > "$T/gres.conf"
azml_restart_slurmctld
J=$T/azureml-state/journal/current
job_state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z]*' | cut -d= -f2; }
reason() { scontrol -o show node "$1" | grep -o 'Reason=.*' | sed 's/ \[.*//; s/^Reason=//'; }
vmid() { grep " created .*node=$1 " "$J" | tail -1 | grep -o ' id=[^ ]*' | cut -d= -f2; }

# 1. A busy node's GPU falls off the bus.
id=$(sbatch --parsable -p gpu -w gpu-1 --wrap 'sleep 25; echo done') || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=RUNNING ]" ||
	azml_fail "job $id did not start: $(scontrol -o show job "$id")"
vm1=$(vmid gpu-1)
[ -n "$vm1" ] || azml_fail "no created record for gpu-1 in the journal"
[ -z "$(reason gpu-1)" ] || azml_fail "gpu-1 drained before any fault: $(reason gpu-1)"
echo "4,2,200,-;NVRM: Xid (PCI:0000:07:00): 79, pid=4242, name=python, GPU has fallen off the bus." >> "$T/root/gpu-1/dev/kmsg"
azml_wait 30 bash -c "scontrol -o show node gpu-1 | grep -q 'Reason=azureml: health: xid: GPU 0000:07:00: XID 79 (GPU has fallen off the bus)'" ||
	azml_fail "gpu-1 not drained for the XID: $(scontrol -o show node gpu-1)"
[ "$(job_state "$id")" = RUNNING ] || azml_fail "job $id is $(job_state "$id") after the drain"
azml_pass "XID 79 on a busy node: drained with the XID as reason, its job runs on"

out=$("$AZML_BIN" reconcile -f "$T/azureml.conf" 2>&1) || azml_fail "reconcile: $out"
echo "$out" | grep -q "health: node gpu-1: azureml: health: xid: .*; powering it down for a new VM when its jobs end" ||
	azml_fail "reconcile did not replace gpu-1: $out"
grep -q " replaced vm=.* id=$vm1 node=gpu-1 .* reason=xid$" "$J" || azml_fail "no replaced record: $(cat "$J")"
grep -q " unhealthy vm=.* id=$vm1 node=gpu-1 .* reason=xid$" "$J" || azml_fail "no unhealthy record"
[ "$(job_state "$id")" = RUNNING ] || azml_fail "job $id is $(job_state "$id") after reconcile"
azml_wait 60 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "job $id did not complete: $(scontrol -o show job "$id")"
grep -q done "$T/slurm-$id.out" || azml_fail "job $id's output: $(cat "$T/slurm-$id.out")"
azml_wait 60 bash -c "! curl -sf $EMU_URL/emulator/vms | grep -q '\"gpu-1\"'" ||
	azml_fail "gpu-1's VM is still there: $(azml_emulator_vms)"
azml_wait 30 grep -q " deleted vm=.* id=$vm1 " "$J" || azml_fail "no deleted record for $vm1"
azml_pass "reconcile powers the node down when its job ends: the job completed, its VM deleted"

# 2. The next job gets a new VM.
new_boot gpu-1		# what a new VM's kernel would show
azml_wait 30 bash -c "sinfo -h -n gpu-1 -o %t | grep -qx 'idle~'" ||
	azml_fail "gpu-1 is $(sinfo -h -n gpu-1 -o %t) after its power-down, not idle~"
id=$(sbatch --parsable -p gpu -w gpu-1 --wrap 'sleep 30') || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(scontrol -o show job $id | grep -o 'JobState=[A-Z]*')\" = JobState=RUNNING ]" ||
	azml_fail "job $id did not start on a new VM: $(scontrol -o show job "$id"; scontrol -o show node gpu-1)"
vm2=$(vmid gpu-1)
[ -n "$vm2" ] && [ "$vm2" != "$vm1" ] || azml_fail "no new vmId for gpu-1 ($vm1, then '$vm2')"
azml_pass "the next job on gpu-1 runs on a new VM ($vm1 -> $vm2)"

# 3. Metrics, end to end, while that job runs.
if [ -n "$HAVE_PROM" ]; then
	P=$(azml_free_ports 2) || azml_fail "no free ports"
	mkdir -p "$T/textfile" "$T/prometheus"
	"$AZML_BIN" metrics -f "$T/azureml.conf" --no-azure --output "$T/textfile/slurm-azureml.prom" ||
		azml_fail "metrics"
	promtool check metrics < "$T/textfile/slurm-azureml.prom" || azml_fail "promtool refused the metrics"
	azml_pass "promtool check metrics accepts the output"
	prometheus-node-exporter --web.listen-address=127.0.0.1:$P \
		--collector.disable-defaults --collector.textfile \
		--collector.textfile.directory="$T/textfile" > "$T/node-exporter.log" 2>&1 &
	echo $! > "$T/node-exporter.pid"
	trap 'kill $(cat "$T/prometheus.pid" "$T/node-exporter.pid" 2>/dev/null) 2>/dev/null; azml_stop' EXIT
	cat > "$T/prometheus.yml" <<-YML
	global:
	  scrape_interval: 1s
	scrape_configs:
	  - job_name: node
	    static_configs:
	      - targets: ['127.0.0.1:$P']
	YML
	prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prometheus" \
		--web.listen-address=127.0.0.1:$((P + 1)) > "$T/prometheus.log" 2>&1 &
	echo $! > "$T/prometheus.pid"
	query() {
		curl -sf "http://127.0.0.1:$((P + 1))/api/v1/query" --data-urlencode "query=$1" |
			/usr/bin/python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")'
	}
	azml_wait 60 bash -c "[ -n \"\$(curl -sf 'http://127.0.0.1:$((P + 1))/api/v1/query?query=azureml_vms' | grep -o azureml_vms)\" ]" ||
		azml_fail "Prometheus has no azureml_vms: $(tail -5 "$T/prometheus.log")"
	alloc=$(sinfo -h -p gpu -t alloc -o %D | head -1)
	vms=$(curl -sf "$EMU_URL/emulator/vms" | grep -o '"name"' | wc -l)
	q_alloc=$(query 'sum(azureml_nodes{target="gpu",state="allocated"})')
	q_down=$(query 'sum(azureml_nodes{target="gpu",state="powered_down"})')
	q_vms=$(query 'sum(azureml_vms{target="gpu"})')
	down=$(sinfo -h -p gpu -o '%D %t' | awk '$2 ~ /~$/ && $2 !~ /#/ {n += $1} END {print n + 0}')
	echo "  sinfo: ${alloc:-0} allocated, $down powered down; emulator: $vms VMs; Prometheus: $q_alloc, $q_down, $q_vms"
	[ "$q_alloc" = "${alloc:-0}" ] && [ "$q_vms" = "$vms" ] && [ "$q_down" = "$down" ] ||
		azml_fail "Prometheus answered $q_alloc allocated, $q_down powered down, $q_vms VMs; sinfo/emulator say ${alloc:-0}, $down, $vms"
	azml_pass "Prometheus, scraping node_exporter's textfile collector, answers the counts sinfo and the emulator show"
	kill "$(cat "$T/prometheus.pid")" "$(cat "$T/node-exporter.pid")" 2>/dev/null

fi
# 4. A second replacement within the hour holds the target.
echo "4,2,200,-;NVRM: Xid (PCI:0000:07:00): 48, pid=1, DBE" >> "$T/root/gpu-1/dev/kmsg"
azml_wait 30 bash -c "scontrol -o show node gpu-1 | grep -q 'Reason=azureml: health: xid: GPU 0000:07:00: XID 48'" ||
	azml_fail "gpu-1 not drained for XID 48: $(scontrol -o show node gpu-1)"
out=$("$AZML_BIN" reconcile -f "$T/azureml.conf" 2>&1) || azml_fail "reconcile: $out"
echo "$out" | grep -q "health: gpu: 1 VMs of Standard_NC6s_v3 replaced in the last hour (ReplaceLimit=1): node gpu-1 stays drained; holding the target" ||
	azml_fail "reconcile did not hold gpu: $out"
azml_wait 10 bash -c "scontrol -o show node gpu-2 | grep -q 'Reason=azureml: capacity: ReplaceLimit; retry after'" ||
	azml_fail "gpu-2 not held: $(scontrol -o show node gpu-2)"
scontrol -o show node gpu-1 | grep -q POWER_DRAIN && azml_fail "gpu-1 is being replaced past the limit"
"$AZML_BIN" metrics -f "$T/azureml.conf" --no-azure | grep -qx 'azureml_capacity_hold{target="gpu"} 1' ||
	azml_fail "metrics do not show the hold"
azml_pass "a second replacement within the hour holds the target (ReplaceLimit), the node stays drained"
scancel "$id"
echo "$AZML_PASSED passed"

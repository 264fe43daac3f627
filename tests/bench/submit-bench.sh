#!/bin/bash
# submit-bench.sh - sbatch submissions per second on a local slurmctld with
# spank_azureml and job_submit/azureml loaded, against the same slurmctld
# without them, in the same run.  Prints figures; asserts nothing.
#   tests/bench/submit-bench.sh [JOBS]   (default 300)
set -u
N=${1:-300}
. "$(dirname "$0")/../system/lib.sh"

azml_cluster_init bench
cat > "$T/azureml.conf" <<'CONF'
ClusterName=bench
SubscriptionId=00000000-0000-0000-0000-000000000000
ResourceGroup=rg
Location=eastus
ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=64 Priority=LowPriority
ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MaxNodes=8 QuotaApproved=yes
CONF
mkdir -p "$T/bin"
for p in resume suspend resume-fail; do
	printf '#!/bin/sh\nexit 0\n' > "$T/bin/slurm-azureml-$p"
	chmod 755 "$T/bin/slurm-azureml-$p"
done
"$AZML_BIN" generate --program-dir "$T/bin" > "$T/nodes.conf"
sed -i 's/^SlurmctldDebug=.*/SlurmctldDebug=info/' "$SLURM_CONF"
cat >> "$SLURM_CONF" <<CONF
Include $T/nodes.conf
MaxJobCount=100000
CONF
cp "$SLURM_CONF" "$T/slurm.conf.base"
echo "required $AZML_BUILD/plugins/spank/.libs/spank_azureml.so conf=$T/azureml.conf" \
	> "$T/plugstack.conf"

run() {	# run LABEL SBATCH-ARGS... : prints submissions/s
	local t0 t1
	shift
	t0=$(date +%s.%N)
	for _ in $(seq 1 "$N"); do
		sbatch -H --parsable "$@" --wrap=true > /dev/null || exit 1
	done
	t1=$(date +%s.%N)
	python3 -c "print('%.1f' % ($N / ($t1 - $t0)))"
}

without() {
	cp "$T/slurm.conf.base" "$SLURM_CONF"
	echo "PlugStackConfig=/dev/null" >> "$SLURM_CONF"
}
with() {
	cp "$T/slurm.conf.base" "$SLURM_CONF"
	cat >> "$SLURM_CONF" <<CONF
JobSubmitPlugins=azureml
PluginDir=$SLURM_PLUGIN_DIR_SYS:$AZML_BUILD/plugins/job_submit/.libs
PlugStackConfig=$T/plugstack.conf
CONF
	sed -i '0,/^PluginDir=/{/^PluginDir=/d}' "$SLURM_CONF"
}

# Alternate the two setups, ROUNDS times each, one slurmctld restart apart,
# so that drift on the machine hits both alike.
ROUNDS=${ROUNDS:-3}
base=() comp=() size=()
without
azml_start_slurmctld
for r in $(seq 1 "$ROUNDS"); do
	without; azml_restart_slurmctld
	base+=("$(run base -p cpu-spot)"); scancel -u root
	with; azml_restart_slurmctld
	comp+=("$(run plugins --azure-compute=cpu-spot)"); scancel -u root
	size+=("$(run plugins --azure-vm-size=Standard_NC6s_v3 --azure-priority=dedicated)")
	scancel -u root
done

echo "sbatch submissions per second ($N held jobs a round, $ROUNDS rounds, one client)"
python3 - "${base[*]}" "${comp[*]}" "${size[*]}" <<'PY'
import statistics, sys
b, c, s = ([float(x) for x in a.split()] for a in sys.argv[1:4])
med = statistics.median
print("  without plugins:                 rounds %s  median %.1f" % (b, med(b)))
print("  with, --azure-compute:           rounds %s  median %.1f" % (c, med(c)))
print("  with, --azure-vm-size --priority: rounds %s  median %.1f" % (s, med(s)))
print("  ratio with/without (medians): %.3f (--azure-compute), %.3f (--azure-vm-size)"
      % (med(c) / med(b), med(s) / med(b)))
PY

#!/bin/bash
# A fragment from 'slurm-azureml generate' boots a real slurmctld with the
# partitions and CLOUD nodes it describes.
set -u
. "$(dirname "$0")/lib.sh"

azml_cluster_init generate
cp "$AZML_TOP/etc/azureml.conf.example" "$T/azureml.conf"
# This test is about the configuration, not the programs: they only log.
mkdir -p "$T/bin"
for p in resume suspend resume-fail; do
	printf '#!/bin/sh\necho "$0 $*" >> %s/power.log\n' "$T" > "$T/bin/slurm-azureml-$p"
	chmod 755 "$T/bin/slurm-azureml-$p"
done
"$AZML_BIN" generate --program-dir "$T/bin" > "$T/azureml-nodes.conf" ||
	azml_fail "generate failed"
"$AZML_BIN" generate --gres > "$T/gres.conf" || azml_fail "generate --gres failed"
echo "Include $T/azureml-nodes.conf" >> "$SLURM_CONF"
azml_start_slurmctld

# Partitions with their SuspendTime.
for p in gpu-v100:120 cpu-spot:120 dev-box:INFINITE lab-a100:INFINITE; do
	name=${p%%:*} want=${p#*:}
	line=$(scontrol -o show partition "$name") ||
		azml_fail "partition $name is missing"
	got=$(grep -o 'SuspendTime=[^ ]*' <<<"$line")
	[ "$got" = "SuspendTime=$want" ] ||
		azml_fail "partition $name: $got, expected SuspendTime=$want"
done
azml_pass "four partitions with the SuspendTime of each target"

# CLOUD nodes, powered down, with what the catalog says.
n=$(sinfo -h -N -p gpu-v100 -o '%N' | wc -l)
[ "$n" = 8 ] || azml_fail "gpu-v100 has $n nodes, expected 8"
state=$(sinfo -h -n gpu-v100-3 -o '%t')
[ "$state" = "idle~" ] || azml_fail "gpu-v100-3 is '$state', expected idle~"
line=$(scontrol -o show node gpu-v100-3)
grep -q 'CPUTot=6 ' <<<"$line" || azml_fail "gpu-v100-3 CPUs: $line"
grep -q 'Gres=gpu:v100:1' <<<"$line" || azml_fail "gpu-v100-3 Gres: $line"
grep -q 'CLOUD' <<<"$line" || azml_fail "gpu-v100-3 is not CLOUD: $line"
grep -q 'AvailableFeatures=azureml,gpu-v100,Standard_NC6s_v3,NCv3,Volta,dedicated' <<<"$line" ||
	azml_fail "gpu-v100-3 features: $line"
n=$(sinfo -h -N -p cpu-spot -o '%N' | wc -l)
[ "$n" = 64 ] || azml_fail "cpu-spot has $n nodes, expected 64"
azml_pass "CLOUD nodes with CPUs, Gres and Features from the catalog"

scontrol show config | grep -q "ResumeProgram *= */.*/slurm-azureml-resume" ||
	azml_fail "ResumeProgram not set"
scontrol show config | grep -q "SuspendExcParts *= *dev-box,lab-a100" ||
	azml_fail "SuspendExcParts not set"
grep -q 'power_save module disabled' "$T/slurmctld.log" &&
	azml_fail "slurmctld disabled power saving"
azml_pass "power-save programs and exclusions in the running config"

# MinNodes as the :N form of SuspendExcNodes.
cat >> "$T/azureml.conf" <<'CONF'
ComputeCluster=cpu-min VmSize=Standard_D2s_v3 MinNodes=2 MaxNodes=6
CONF
"$AZML_BIN" generate --program-dir "$T/bin" > "$T/azureml-nodes.conf" ||
	azml_fail "generate failed"
azml_restart_slurmctld
scontrol show config | grep -q 'SuspendExcNodes *= *cpu-min-\[1-6\]:2' ||
	azml_fail "SuspendExcNodes: $(scontrol show config | grep SuspendExcNodes)"
scontrol -o show partition cpu-min | grep -q 'TotalNodes=6' ||
	azml_fail "partition cpu-min after restart"
azml_pass "MinNodes becomes SuspendExcNodes=NODES:N"
echo "$AZML_PASSED passed, 0 failed"

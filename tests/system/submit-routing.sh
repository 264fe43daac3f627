#!/bin/bash
# sbatch/salloc/srun --azure-* on a real slurmctld with spank_azureml and
# job_submit/azureml loaded from the build folder.
set -u
. "$(dirname "$0")/lib.sh"

azml_cluster_init routing
cat > "$T/azureml.conf" <<'CONF'
ClusterName=routing
SubscriptionId=00000000-0000-0000-0000-000000000000
ResourceGroup=rg
Location=eastus
ComputeCluster=gpu-v100 VmSize=Standard_NC6s_v3 MaxNodes=4 QuotaApproved=yes
ComputeCluster=gpu-v100-low VmSize=Standard_NC6s_v3 MaxNodes=4 Priority=LowPriority QuotaApproved=yes
ComputeCluster=gpu-k80 VmSize=Standard_NC6 MaxNodes=2
ComputeCluster=iso VmSize=Standard_F72s_v2 MaxNodes=2
ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=8 Priority=LowPriority
ComputeCluster=mix VmSize=Standard_D2s_v3,Standard_D2_v3 MaxNodes=2
ComputeInstance=dev-box VmSize=Standard_DS3_v2
AttachedCompute=lab-mps Nodes=lab[1-2] Gres=mps:100,gpu:a100:4
CONF
mkdir -p "$T/bin"
for p in resume suspend resume-fail; do	# jobs here are held: never called
	printf '#!/bin/sh\necho "$0 $*" >> %s/power.log\n' "$T" > "$T/bin/slurm-azureml-$p"
	chmod 755 "$T/bin/slurm-azureml-$p"
done
"$AZML_BIN" generate --program-dir "$T/bin" > "$T/nodes.conf" || azml_fail generate
# dev-box is a real slurmd on this machine, so that jobs really run there.
sed -i "s|^NodeName=dev-box .*|NodeName=dev-box NodeAddr=127.0.0.1 Port=$((AZML_PORT + 2)) CPUs=1 State=UNKNOWN|" "$T/nodes.conf"
cat >> "$SLURM_CONF" <<CONF
Include $T/nodes.conf
SlurmdParameters=config_overrides
CONF
azml_use_plugins
azml_start_slurmctld
slurmd -N dev-box -f "$SLURM_CONF" || azml_fail "slurmd did not start"
for _ in $(seq 1 100); do
	sinfo -h -n dev-box -o %t | grep -q idle && break
	sleep 0.2
done
grep -q 'job_submit/azureml: loaded' "$T/slurmctld.log" ||
	azml_fail "job_submit/azureml did not load azureml.conf"

sbatch --help | grep -q -- '--azure-vm-size=SIZE' || azml_fail "no --azure-vm-size in sbatch --help"
azml_pass "sbatch --help lists the --azure-* options"

# submit FLAGS... : held batch job; prints its partition
submit() {
	local id
	id=$(sbatch -H --parsable "$@" --wrap=true 2>"$T/err") || return 1
	scontrol -o show job "$id" | grep -o 'Partition=[^ ]*' | cut -d= -f2
	scancel "$id"
}
expect_part() {	# expect_part WANT FLAGS...
	local want=$1 got
	shift
	got=$(submit "$@") || azml_fail "sbatch $* failed: $(cat "$T/err")"
	[ "$got" = "$want" ] || azml_fail "sbatch $*: partition '$got', expected '$want'"
}
expect_part gpu-v100,gpu-v100-low --azure-vm-size=Standard_NC6s_v3
expect_part gpu-v100-low --azure-vm-size=standard_nc6s_v3 --azure-priority=low
expect_part cpu-spot --azure-compute=cpu-spot
expect_part gpu-v100-low,cpu-spot --azure-priority=low
expect_part gpu-v100,gpu-v100-low,lab-mps --azure-cuda=12.0
expect_part iso --azure-isolated
expect_part gpu-v100 --azure-vm-size=Standard_NC6s_v3 -p gpu-v100,debug
expect_part gpu-v100-low --azure-priority=low --gres=gpu:1
expect_part gpu-k80 --azure-compute=gpu-k80 --azure-cuda=11.8
# Gres with mps before gpu: the target has GPUs (issue 12)
expect_part lab-mps --azure-compute=lab-mps --gpus=1
expect_part lab-mps --azure-compute=lab-mps --azure-cuda=12.0
azml_pass "each flag routes the job to the partitions of its targets"

# An instance mix: a job that asks for one of its sizes goes to it and
# carries the size as its constraint (ANDed with its own -C); a job for the
# mix itself carries none.
features() {	# features FLAGS... : a held job's Features
	local id
	id=$(sbatch -H --parsable "$@" --wrap=true 2>"$T/err") || return 1
	scontrol -o show job "$id" | grep -o ' Features=[^ ]*' | cut -d= -f2-
	scancel "$id"
}
expect_part mix --azure-vm-size=standard_d2_v3
expect_part mix --azure-vm-size=Standard_D2s_v3
f=$(features --azure-vm-size=standard_d2_v3) || azml_fail "sbatch: $(cat "$T/err")"
[ "$f" = Standard_D2_v3 ] || azml_fail "--azure-vm-size=standard_d2_v3: Features=$f"
f=$(features --azure-vm-size=Standard_D2_v3 -C 'DSv3|Dv3') || azml_fail "sbatch -C: $(cat "$T/err")"
[ "$f" = '(DSv3|Dv3)&Standard_D2_v3' ] || azml_fail "-C 'DSv3|Dv3': Features=$f"
f=$(features --azure-compute=mix) || azml_fail "sbatch: $(cat "$T/err")"
[ "$f" = '(null)' ] || azml_fail "--azure-compute=mix: Features=$f"
azml_pass "a size of a mix routes to the mix, and the job carries that size as its constraint"

# A job without azure flags is left alone.
id=$(sbatch -H --parsable -p cpu-spot --wrap=true) || azml_fail "plain sbatch"
scontrol -o show job "$id" | grep -q 'Partition=cpu-spot ' || azml_fail "plain job changed"
scancel "$id"
azml_pass "a job without --azure-* keeps its partition"

jobs_before=$(squeue -h | wc -l)
refuse() {	# refuse MESSAGE FLAGS...
	local want=$1
	shift
	if sbatch -H "$@" --wrap=true > "$T/out" 2> "$T/err"; then
		azml_fail "sbatch $* was accepted: $(cat "$T/out")"
	fi
	grep -qF -- "$want" "$T/err" || azml_fail "sbatch $*: expected '$want', got: $(cat "$T/err")"
}
refuse "sbatch: error: azureml: no compute target offers VM size 'Standard_ND96asr_v4'; available: gpu-v100 (Standard_NC6s_v3), gpu-v100-low (Standard_NC6s_v3, low priority), gpu-k80 (Standard_NC6), iso (Standard_F72s_v2), cpu-spot (Standard_D4s_v3, low priority)" \
	--azure-vm-size=Standard_ND96asr_v4
refuse "azureml: no compute target 'nope'; available: gpu-v100" --azure-compute=nope
refuse "azureml: compute target 'gpu-k80' has Kepler GPUs, which support CUDA 9.0 to 11.8, not 12.2" \
	--azure-compute=gpu-k80 --azure-cuda=12.2
refuse "azureml: compute target 'cpu-spot' (Standard_D4s_v3) has no GPU, but the job asks for GPUs" \
	--azure-compute=cpu-spot --gpus=1
refuse "azureml: --azure-compute=gpu-v100 selects 'gpu-v100', which conflicts with --partition=cpu-spot" \
	--azure-compute=gpu-v100 -p cpu-spot
refuse "azureml: compute target 'cpu-spot' is low priority, not dedicated" \
	--azure-compute=cpu-spot --azure-priority=dedicated
refuse "azureml: no compute target matches --azure-priority=low --azure-isolated" \
	--azure-priority=low --azure-isolated
azml_pass "impossible requests are refused at submission, naming what exists"

# Bad values: refused by the SPANK plugin before anything is sent.
refuse "azureml: --azure-priority: expected dedicated or low, got 'x'" --azure-priority=x
refuse "azureml: --azure-cuda: expected a CUDA version like 11.8, got '11.x'" --azure-cuda=11.x
refuse "azureml: --azure-compute: expected a compute target name (letters, digits, '-'), got ''" --azure-compute=
refuse "got 'a,b'" --azure-compute=a,b
refuse "got 'a/b'" --azure-vm-size=a/b
refuse "got 'k=v'" --azure-compute=k=v
refuse "got 'a b'" "--azure-compute=a b"
refuse "got 'caf\\xc3\\xa9'" --azure-compute=café
refuse "...'" --azure-compute=$(head -c 5000 /dev/zero | tr '\0' a)
refuse "azureml: --azure-compute given twice with different values ('gpu-v100' and 'cpu-spot')" \
	--azure-compute=gpu-v100 --azure-compute=cpu-spot
[ "$(squeue -h | wc -l)" = "$jobs_before" ] || azml_fail "a refused job exists"
scontrol ping | grep -q 'is UP' || azml_fail "slurmctld died"
azml_pass "bad values get a clear error, no job is created, slurmctld keeps running"

# salloc and srun: the same options, the same errors; a job really runs.
out=$(salloc --azure-compute=nope true 2>&1) && azml_fail "salloc accepted a bad target"
grep -q "salloc: error: azureml: no compute target 'nope'" <<<"$out" || azml_fail "salloc: $out"
out=$(srun --azure-priority=sometimes true 2>&1) && azml_fail "srun accepted a bad priority"
grep -q "azureml: --azure-priority: expected dedicated or low, got 'sometimes'" <<<"$out" ||
	azml_fail "srun: $out"
out=$(timeout 60 srun --azure-compute=dev-box env 2>&1) || azml_fail "srun on dev-box: $out"
grep -q '^AZUREML_COMPUTE_TARGET=dev-box$' <<<"$out" || azml_fail "no AZUREML_COMPUTE_TARGET: $out"
grep -q '^AZUREML_VM_SIZE=Standard_DS3_v2$' <<<"$out" || azml_fail "no AZUREML_VM_SIZE: $out"
out=$(timeout 60 salloc --azure-compute=dev-box srun hostname 2>&1) || azml_fail "salloc: $out"
azml_pass "salloc and srun take the options; the job sees AZUREML_* on its node"

# A broken azureml.conf keeps the last good one; a fixed one is reloaded.
cp "$T/azureml.conf" "$T/azureml.conf.good"
echo "ComputeCluster=broken VmSize=Nope MaxNodes=1" >> "$T/azureml.conf"
scontrol reconfigure
sleep 3
grep -q "azureml.conf:13: unknown VM size 'Nope'" "$T/slurmctld.log" ||
	azml_fail "the broken file was not reported"
expect_part cpu-spot --azure-compute=cpu-spot
scontrol ping | grep -q 'is UP' || azml_fail "slurmctld died on a broken azureml.conf"
sed -i '$d' "$T/azureml.conf"
sed -i 's/^ComputeCluster=cpu-spot .*/ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=8/' "$T/azureml.conf"
scontrol reconfigure
sleep 3
expect_part gpu-v100,gpu-k80,iso,cpu-spot,mix,dev-box,lab-mps --azure-priority=dedicated
azml_pass "a broken azureml.conf is logged and the last good one kept; a fixed one is reloaded"

# A file pulled in by Include is watched too: editing only it reloads.
echo 'ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=8' > "$T/spot.conf"
sed -i 's/^ComputeCluster=cpu-spot .*/Include spot.conf/' "$T/azureml.conf"
sleep 3
expect_part gpu-v100,gpu-k80,iso,cpu-spot,mix,dev-box,lab-mps --azure-priority=dedicated
echo 'ComputeCluster=cpu-spot VmSize=Standard_D4s_v3 MaxNodes=8 Priority=LowPriority' > "$T/spot.conf"
sleep 3
expect_part gpu-v100,gpu-k80,iso,mix,dev-box,lab-mps --azure-priority=dedicated
azml_pass "an edit of a file pulled in by Include is reloaded"
echo "$AZML_PASSED passed, 0 failed"

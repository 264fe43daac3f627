#!/bin/bash
# Attach on-prem nodes: a slurmd on this machine is admitted through a munge
# credential and runs a --azure-compute job; a node whose GPUs do not match
# its target, a credential from another key and a replayed one are refused
# and change nothing; HealthCheckProgram drains and resumes; detach.
# Slurm 22.05: attached nodes are FUTURE slots of slurm.conf, given back by
# detach.  24.11 and later: attach --accept creates a dynamic node with the
# target's Gres and Feature, its slurmd starts with -Z, detach deletes it,
# and slurm.conf has no FUTURE slot.
set -u
. "$(dirname "$0")/lib.sh"
TOPO=${AZML_SHARED:-$AZML_TOP/../shared}/hwloc-topologies
if [ ! -d "$TOPO" ]; then
	echo "SKIP: attach-node needs $TOPO (../shared), which is absent"
	exit 77
fi

azml_cluster_init attach
cat > "$T/azureml.conf" <<CONF
ClusterName=attach
SubscriptionId=00000000-0000-0000-0000-000000000000
ResourceGroup=rg
Location=eastus
StateDir=$T/azureml-state
LogFile=$T/azureml.log
AttachedCompute=lab Nodes=lab-[1-2] CPUs=1
AttachedCompute=gpulab Nodes=gpulab-1 Gres=gpu:v100:16 CPUs=1
CONF
export AZUREML_CONF=$T/azureml.conf
"$AZML_BIN" generate > "$T/nodes.conf" || azml_fail generate
cat > "$T/health-check" <<SH
#!/bin/sh
# slurmd gives HealthCheckProgram only SLURMD_NODENAME; a site's files are
# in /etc/slurm, this test's in $T.
SLURM_CONF=$SLURM_CONF AZUREML_CONF=$T/azureml.conf exec $AZML_BUILD/plugins/admin/slurm-azureml-health-check
SH
chmod 755 "$T/health-check"
cat >> "$SLURM_CONF" <<CONF
Include $T/nodes.conf
SlurmdParameters=config_overrides
HealthCheckProgram=$T/health-check
HealthCheckInterval=2
HealthCheckNodeState=ANY
CONF
azml_use_plugins
azml_start_slurmctld

# 24.11 and later: dynamic nodes (slurm-azureml asks the running slurmctld).
ver=$(scontrol --version | awk '{print $2}')
dyn=0
case $ver in
2[5-9].* | 24.1[1-9]* | [3-9][0-9].*) dyn=1 ;;
esac
echo "attach-node: Slurm $ver, $([ $dyn = 1 ] && echo dynamic nodes || echo FUTURE slots)"
if [ $dyn = 1 ]; then
	# "future" here: not attached, that is no node at all.
	future() { ! scontrol -o show node "$1" > /dev/null 2>&1; }
	grep -q FUTURE "$T/nodes.conf" && azml_fail "FUTURE slots generated on $ver: $(grep FUTURE "$T/nodes.conf")"
	grep -q '^NodeSet=lab-nodes Feature=lab$' "$T/nodes.conf" &&
		grep -q '^PartitionName=lab Nodes=lab-nodes ' "$T/nodes.conf" &&
		grep -q '^MaxNodeCount=3$' "$T/nodes.conf" ||
		azml_fail "nodes.conf on $ver: $(cat "$T/nodes.conf")"
	azml_pass "Slurm $ver: no FUTURE slots; the partitions take attached nodes by feature"
else
	future() { scontrol --future -o show node "$1" 2>/dev/null | grep -q 'State=FUTURE'; }
fi
# Dynamic nodes register with slurmd -Z (dynamic_nodes.html).
attached_slurmd() {
	if [ $dyn = 1 ]; then
		slurmd -Z -N "$1" -f "$SLURM_CONF"
	else
		slurmd -N "$1" -f "$SLURM_CONF"
	fi
}
future lab-1 && future gpulab-1 || azml_fail "attached nodes are there at first"

# On the node: its report, sealed with the cluster's key.
"$AZML_BIN" attach --node lab-1 --address 127.0.0.1 --output "$T/lab-1.cred" \
	2> "$T/attach.err" || azml_fail "attach on lab-1: $(cat "$T/attach.err")"
grep -q "lab-1 (127.0.0.1): 0 GPUs" "$T/attach.err" || azml_fail "attach said: $(cat "$T/attach.err")"

# A credential made with another munge key: refused, nothing changes.
mkdir -p "$T/other"
dd if=/dev/urandom of="$T/other/key" bs=1024 count=1 status=none
chmod 600 "$T/other/key"
munged --force --socket="$T/other/sock" --key-file="$T/other/key" \
	--log-file="$T/other/log" --pid-file="$T/other/pid" --seed-file="$T/other/seed" ||
	azml_fail "second munged"
"$AZML_BIN" attach --node lab-1 --address 127.0.0.1 --munge-socket "$T/other/sock" \
	--output "$T/forged.cred" 2> /dev/null || azml_fail "attach with the other key"
kill "$(cat "$T/other/pid")"
out=$("$AZML_BIN" attach --accept "$T/forged.cred" 2>&1) && azml_fail "forged credential accepted: $out"
grep -q "credential refused: it was not made with this cluster's munge key" <<<"$out" ||
	azml_fail "forged: $out"
future lab-1 || azml_fail "a forged credential changed lab-1"
# A truncated one.
head -c 60 "$T/lab-1.cred" > "$T/short.cred"
out=$("$AZML_BIN" attach --accept "$T/short.cred" 2>&1) && azml_fail "truncated accepted"
grep -q "not a whole munge credential" <<<"$out" || azml_fail "truncated: $out"
azml_pass "credentials from another key or truncated are refused; lab-1 stays unattached"

# The real one, on the controller.
out=$("$AZML_BIN" attach --accept "$T/lab-1.cred" 2> "$T/accept.err") ||
	azml_fail "accept: $(cat "$T/accept.err")"
[ "$out" = "attached lab-1 (127.0.0.1) to lab" ] || azml_fail "accept said: $out"
scontrol -o show node lab-1 | grep -q 'NodeAddr=127.0.0.1' || azml_fail "lab-1 address: $(scontrol -o show node lab-1)"
if [ $dyn = 1 ]; then
	scontrol -o show node lab-1 | grep -q 'State=[A-Z+]*DYNAMIC_NORM' &&
		scontrol -o show node lab-1 | grep -q 'AvailableFeatures=azureml,lab,attached ' ||
		azml_fail "lab-1 is not the dynamic node of lab: $(scontrol -o show node lab-1)"
	azml_pass "accept created lab-1 as a dynamic node with lab's features"
fi
[ -f "$T/azureml-state/attached/lab-1.json" ] || azml_fail "no record of lab-1"
out=$("$AZML_BIN" attach --accept "$T/lab-1.cred" 2>&1) && azml_fail "replayed credential accepted"
grep -q "it was already used once (replayed)" <<<"$out" || azml_fail "replay: $out"
attached_slurmd lab-1 || azml_fail "slurmd lab-1"
azml_wait 30 bash -c '[ "$(sinfo -h -n lab-1 -o %t)" = idle ]' ||
	azml_fail "lab-1 never came up: $(sinfo -h -n lab-1 -o %t)"
# Attached again (a new credential) while up: the address only.
"$AZML_BIN" attach --node lab-1 --address 127.0.0.1 --output "$T/lab-1b.cred" 2> /dev/null ||
	azml_fail "second attach on lab-1"
out=$("$AZML_BIN" attach --accept "$T/lab-1b.cred" 2>&1) || azml_fail "re-attach of an up node: $out"
[ "$(sinfo -h -n lab-1 -o %t)" = idle ] || azml_fail "re-attach changed lab-1: $(sinfo -h -n lab-1 -o %t)"
states=$("$AZML_BIN" targets --json | python3 -c '
import json, sys
for t in json.load(sys.stdin)["targets"]:
    if t["name"] == "lab":
        print(t["states"]["idle"], t["states"]["not_attached"])')
[ "$states" = "['lab-1'] ['lab-2']" ] || azml_fail "targets --json for lab: $states"
azml_pass "lab-1 attached by its credential (a replay refused) and its slurmd is idle"

job=$(sbatch --parsable --azure-compute=lab -o "$T/job.out" --wrap 'echo ran on $SLURMD_NODENAME') ||
	azml_fail "sbatch --azure-compute=lab"
azml_wait 30 bash -c "[ \"\$(scontrol -o show job $job | grep -o 'JobState=[A-Z]*')\" = JobState=COMPLETED ]" ||
	azml_fail "job $job: $(scontrol -o show job "$job")"
grep -q "ran on lab-1" "$T/job.out" || azml_fail "job output: $(cat "$T/job.out")"
azml_pass "a --azure-compute=lab job ran on the attached node"

# slurmctld restarts: Slurm turns lab-1 back into a FUTURE slot; reconcile
# restores what attach --accept admitted.  A dynamic node is kept in
# slurmctld's state: nothing to restore.
azml_restart_slurmctld
if [ $dyn = 1 ]; then
	azml_wait 30 bash -c '[ "$(sinfo -h -n lab-1 -o %t)" = idle ]' ||
		azml_fail "lab-1 after a restart: $(scontrol -o show node lab-1)"
	out=$("$AZML_BIN" reconcile 2>&1)
	grep -q "reconcile: 0 actions" <<<"$out" || azml_fail "reconcile after a restart: $out"
	azml_pass "after a slurmctld restart the dynamic node lab-1 is still there"
else
future lab-1 || azml_fail "after a restart lab-1 is $(scontrol -o show node lab-1)"
out=$("$AZML_BIN" reconcile --dry-run 2>&1) || azml_fail "reconcile --dry-run: $out"
grep -q "attached node lab-1 is a FUTURE slot again (slurmctld restarted); would restore it at 127.0.0.1" <<<"$out" ||
	azml_fail "reconcile --dry-run: $out"
future lab-1 || azml_fail "a dry run changed lab-1"
out=$("$AZML_BIN" reconcile 2>&1) || azml_fail "reconcile: $out"
grep -q "restoring it at 127.0.0.1" <<<"$out" || azml_fail "reconcile: $out"
azml_wait 30 bash -c '[ "$(sinfo -h -n lab-1 -o %t)" = idle ]' ||
	azml_fail "lab-1 after reconcile: $(sinfo -h -n lab-1 -o %t)"
out=$("$AZML_BIN" reconcile 2>&1)
grep -q "reconcile: 0 actions" <<<"$out" || azml_fail "second reconcile: $out"
azml_pass "after a slurmctld restart, reconcile restores the attached node"
fi

# gpulab-1 says gpu:v100:16; a machine with 3 NVIDIA and 1 AMD GPU is refused.
"$AZML_BIN" attach --node gpulab-1 --address 127.0.0.1 --topology "$TOPO/32em64t-2n8c2t-pci-normalio.xml" \
	--output "$T/gpulab.cred" 2> "$T/attach2.err"
[ $? = 1 ] && [ -s "$T/gpulab.cred" ] &&
	grep -q "warning: gres/gpu declared 16, found 4" "$T/attach2.err" &&
	grep -q "(it will be refused)" "$T/attach2.err" ||
	azml_fail "attach of the wrong machine on the node: $(cat "$T/attach2.err")"
out=$("$AZML_BIN" attach --accept < "$T/gpulab.cred" 2>&1) && azml_fail "wrong GPUs accepted: $out"
grep -q "refused gpulab-1; nothing changed" <<<"$out" &&
	grep -q "gres/gpu declared 16, found 4 (target gpulab)" <<<"$out" &&
	grep -q "gres/gpu:v100 declared 16, found 0 (target gpulab)" <<<"$out" ||
	azml_fail "refusal: $out"
future gpulab-1 || azml_fail "a refused node changed: $(scontrol -o show node gpulab-1)"
[ -f "$T/azureml-state/attached/gpulab-1.json" ] && azml_fail "a refused node was recorded"
azml_pass "a node whose GPUs do not match its target is refused with the reasons"

# The DGX-2 it should be is admitted, then detached back to a FUTURE slot.
"$AZML_BIN" attach --node gpulab-1 --address 127.0.0.1 --topology "$TOPO/nvidiaDGX2.xml" \
	--output "$T/gpulab.cred" 2> /dev/null || azml_fail "attach gpulab-1 (DGX-2)"
out=$("$AZML_BIN" attach --accept "$T/gpulab.cred" 2>&1) || azml_fail "DGX-2 refused: $out"
future gpulab-1 && azml_fail "gpulab-1 still FUTURE after accept"
if [ $dyn = 1 ]; then
	scontrol -o show node gpulab-1 | grep -q 'Gres=gpu:v100:16 ' &&
		scontrol -o show node gpulab-1 | grep -q 'AvailableFeatures=azureml,gpulab,attached ' ||
		azml_fail "gpulab-1 was not created with its Gres: $(scontrol -o show node gpulab-1)"
fi
out=$("$AZML_BIN" detach --wait 10 gpulab-1 2>&1) || azml_fail "detach: $out"
future gpulab-1 || azml_fail "gpulab-1 after detach: $(scontrol -o show node gpulab-1)"
[ -f "$T/azureml-state/attached/gpulab-1.json" ] && azml_fail "detach left the record"
out=$("$AZML_BIN" detach nosuch-1 2>&1) && azml_fail "detach of an unknown node"
grep -q "'nosuch-1' is not a node of an AttachedCompute target" <<<"$out" || azml_fail "detach: $out"
if [ $dyn = 1 ]; then
	scontrol --future -o show node | grep -q 'State=FUTURE' &&
		azml_fail "a FUTURE slot on $ver: $(scontrol --future -o show node | grep FUTURE)"
	azml_pass "the right GPUs are admitted with their Gres; detach deletes the node"
else
	azml_pass "the right GPUs are admitted; detach returns the slot"
fi

# HealthCheckProgram: azureml.conf now says lab has a GPU it does not have.
sed -i 's/^AttachedCompute=lab Nodes=lab-\[1-2\] CPUs=1$/& Gres=gpu:1/' "$T/azureml.conf"
azml_wait 20 bash -c "scontrol -o show node lab-1 | grep -q 'Reason=azureml: gres/gpu declared 1, found 0'" ||
	azml_fail "health check did not drain lab-1: $(scontrol -o show node lab-1)"
sinfo -h -n lab-1 -o %t | grep -q 'drain' || azml_fail "lab-1 is $(sinfo -h -n lab-1 -o %t)"
sed -i 's/ Gres=gpu:1$//' "$T/azureml.conf"
azml_wait 20 bash -c '[ "$(sinfo -h -n lab-1 -o %t)" = idle ]' ||
	azml_fail "health check did not resume lab-1: $(scontrol -o show node lab-1)"
# A drain that is not ours stays.
scontrol update nodename=lab-1 state=drain reason="admin: disk swap"
sleep 5
sinfo -h -n lab-1 -o %t | grep -q 'drain' || azml_fail "health check resumed an admin's drain"
scontrol update nodename=lab-1 state=resume
azml_pass "HealthCheckProgram drains on a mismatch and resumes only what it drained"

echo "attach-node: $AZML_PASSED checks passed"

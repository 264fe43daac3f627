#!/bin/bash
# A compute cluster grows and shrinks without a slurmctld restart:
# 'slurm-azureml generate --apply' rewrites the Include'd fragment and has
# slurmctld re-read it (Slurm 23.11 and later re-read slurm.conf in a new
# slurmctld, doc/NOTES 4.5).  It refuses, naming why, to drop a node with a
# VM or a job; on 22.05, which adds nodes only when slurmctld starts (NOTES
# 1.1), it refuses any change of the node set and says to restart.
set -u
. "$(dirname "$0")/lib.sh"

azml_cluster_init resize
azml_emulator_start
azml_emulator_cluster <<'CONF'
ComputeCluster=cpu VmSize=Standard_D2s_v3 MaxNodes=2 IdleSecondsBeforeScaledown=5
CONF

apply() {	# apply: generate --apply with what azml_emulator_cluster used
	"$AZML_BIN" generate --program-dir "$AZML_BUILD/plugins/power_save" \
		--port-base $((AZML_PORT + 10)) --apply "$T/nodes.conf" \
		> "$T/apply.out" 2> "$T/apply.err"
}
maxnodes() { sed -i "s/MaxNodes=[0-9]*/MaxNodes=$1/" "$T/azureml.conf"; }
export -f job_state	# for the azml_wait conditions

vn=$(sed -n 's/^#define SLURM_VERSION_NUMBER //p' /usr/include/slurm/slurm_version.h)
if [ $((vn)) -lt $(((23 << 16) | (11 << 8))) ]; then
	cp "$T/nodes.conf" "$T/nodes.before"
	maxnodes 4
	apply && azml_fail "--apply grew the cluster on Slurm 22.05: $(cat "$T/apply.out")"
	grep -q "couldn't apply to $T/nodes.conf: it adds 2 and removes 0 nodes, and Slurm .* adds or removes nodes only when slurmctld starts: .*restart slurmctld" "$T/apply.err" ||
		azml_fail "the refusal: $(cat "$T/apply.err")"
	cmp -s "$T/nodes.before" "$T/nodes.conf" || azml_fail "the refused --apply changed nodes.conf"
	azml_pass "22.05: --apply refuses to add nodes and says to restart slurmctld"
	echo "SKIP: Slurm 22.05 adds nodes only when slurmctld starts (doc/NOTES 1.1): growing and shrinking at run time needs 23.11 or later"
	echo "$AZML_PASSED passed, 0 failed"
	exit 77
fi

# A job runs on node 1 while the cluster grows from 2 to 4 nodes.
id=$(sbatch --parsable -p cpu -N1 -w cpu-1 --wrap 'sleep 600') || azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(job_state $id)\" = RUNNING ]" ||
	azml_fail "job $id did not start: $(scontrol -o show job "$id")"
maxnodes 4
apply || azml_fail "--apply 2 -> 4: $(cat "$T/apply.err")"
grep -q "written (2 nodes added, 0 removed); slurmctld reconfigured" "$T/apply.out" ||
	azml_fail "--apply said: $(cat "$T/apply.out")"
azml_wait 30 bash -c '[ "$(sinfo -h -N -p cpu -o %N | sort -u | wc -l)" = 4 ]' ||
	azml_fail "cpu has $(sinfo -h -N -p cpu -o %N | sort -u | wc -l) nodes, expected 4"
[ "$(job_state "$id")" = RUNNING ] ||
	azml_fail "job $id after the reconfigure: $(scontrol -o show job "$id")"
azml_pass "generate --apply 2 -> 4: four nodes, the running job still runs"

# A three-node job beside it, on the two new nodes and cpu-2.
id2=$(sbatch --parsable -p cpu -N3 -x cpu-1 --wrap 'srun hostname; sleep 20') ||
	azml_fail sbatch
azml_wait 90 bash -c "[ \"\$(job_state $id2)\" = RUNNING ]" ||
	azml_fail "job $id2 did not start on the new nodes: $(scontrol -o show job "$id2")"
scontrol -o show job "$id2" | grep -q ' NodeList=cpu-\[2-4\]' ||
	azml_fail "job $id2: $(scontrol -o show job "$id2" | grep -o ' NodeList=[^ ]*')"
azml_pass "a job runs on the nodes --apply added"

# Shrinking 4 -> 2 while a node that would go has a job: refused, named.
cp "$T/nodes.conf" "$T/nodes.before"
maxnodes 2
apply && azml_fail "--apply removed nodes with a job: $(cat "$T/apply.out")"
grep -q "couldn't apply to $T/nodes.conf: it removes node cpu-3, and it has a job" "$T/apply.err" ||
	azml_fail "the refusal: $(cat "$T/apply.err")"
cmp -s "$T/nodes.before" "$T/nodes.conf" || azml_fail "the refused --apply changed nodes.conf"
azml_pass "--apply refuses to remove a node with a job, naming it"

# Once cpu-3 and cpu-4 are idle and powered down (their VMs deleted), the
# shrink goes through; the job on cpu-1 still runs.
azml_wait 120 bash -c "[ \"\$(job_state $id2)\" = COMPLETED ] && [ \"\$(sinfo -h -n cpu-3,cpu-4 -o %t | sort -u)\" = 'idle~' ]" ||
	azml_fail "job $id2 $(job_state "$id2"); cpu-3,4: $(sinfo -h -n cpu-3,cpu-4 -o '%N %t')"
apply || azml_fail "--apply 4 -> 2: $(cat "$T/apply.err")"
grep -q "written (0 nodes added, 2 removed); slurmctld reconfigured" "$T/apply.out" ||
	azml_fail "--apply said: $(cat "$T/apply.out")"
azml_wait 30 bash -c '[ "$(sinfo -h -N -p cpu -o %N | sort -u | tr "\n" " ")" = "cpu-1 cpu-2 " ]' ||
	azml_fail "cpu has $(sinfo -h -N -p cpu -o %N | sort -u | tr '\n' ' ')"
[ "$(job_state "$id")" = RUNNING ] ||
	azml_fail "job $id after the shrink: $(scontrol -o show job "$id")"
azml_pass "generate --apply 4 -> 2 once they are powered down; the job on cpu-1 still runs"
scancel "$id"
echo "$AZML_PASSED passed, 0 failed"
